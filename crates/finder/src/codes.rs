//! SAMHSA treatment-locator service codes (FindTreatment.gov / National
//! Directory), the finder's attribute vocabulary. Unknown codes are kept and
//! shown raw; a facility is never dropped because of one.

/// A known code: (code, category, plain-English label, Spanish label).
pub const CODES: &[(&str, &str, &str, &str)] = &[
    // Type of care
    (
        "SA",
        "type_of_care",
        "Substance use treatment",
        "Tratamiento para el uso de sustancias",
    ),
    (
        "MH",
        "type_of_care",
        "Mental health treatment",
        "Tratamiento de salud mental",
    ),
    (
        "DT",
        "type_of_care",
        "Detoxification (withdrawal management)",
        "Desintoxicación (manejo de la abstinencia)",
    ),
    (
        "HH",
        "type_of_care",
        "Transitional housing, halfway house or sober home",
        "Vivienda de transición, casa de medio camino o vivienda sobria",
    ),
    (
        "SUMH",
        "type_of_care",
        "Treatment for co-occurring substance use and serious mental illness",
        "Tratamiento de uso de sustancias junto con enfermedad mental grave",
    ),
    // Service setting
    ("HI", "setting", "Hospital inpatient", "Hospitalización"),
    ("OP", "setting", "Outpatient", "Ambulatorio"),
    ("RES", "setting", "Residential", "Residencial"),
    (
        "HID",
        "setting",
        "Hospital inpatient detox",
        "Desintoxicación en hospital",
    ),
    (
        "HIT",
        "setting",
        "Hospital inpatient treatment",
        "Tratamiento en hospital",
    ),
    (
        "OD",
        "setting",
        "Outpatient detox",
        "Desintoxicación ambulatoria",
    ),
    (
        "ODT",
        "setting",
        "Outpatient day treatment or partial hospitalization",
        "Tratamiento de día u hospitalización parcial",
    ),
    (
        "OIT",
        "setting",
        "Intensive outpatient",
        "Ambulatorio intensivo",
    ),
    (
        "OMB",
        "setting",
        "Outpatient methadone, buprenorphine or naltrexone",
        "Metadona, buprenorfina o naltrexona ambulatoria",
    ),
    (
        "ORT",
        "setting",
        "Regular outpatient",
        "Ambulatorio regular",
    ),
    (
        "RD",
        "setting",
        "Residential detox",
        "Desintoxicación residencial",
    ),
    (
        "RL",
        "setting",
        "Long-term residential",
        "Residencial de largo plazo",
    ),
    (
        "RS",
        "setting",
        "Short-term residential",
        "Residencial de corto plazo",
    ),
    // Medications
    ("MU", "medication", "Methadone", "Metadona"),
    ("METH", "medication", "Methadone", "Metadona"),
    ("BU", "medication", "Buprenorphine", "Buprenorfina"),
    ("NU", "medication", "Naltrexone", "Naltrexona"),
    (
        "BWN",
        "medication",
        "Buprenorphine with naloxone",
        "Buprenorfina con naloxona",
    ),
    (
        "BWON",
        "medication",
        "Buprenorphine without naloxone",
        "Buprenorfina sin naloxona",
    ),
    (
        "BERI",
        "medication",
        "Extended-release injectable buprenorphine",
        "Buprenorfina inyectable de liberación prolongada",
    ),
    (
        "BSDM",
        "medication",
        "Buprenorphine implant",
        "Implante de buprenorfina",
    ),
    ("NXN", "medication", "Oral naltrexone", "Naltrexona oral"),
    (
        "VTRL",
        "medication",
        "Extended-release injectable naltrexone",
        "Naltrexona inyectable de liberación prolongada",
    ),
    ("LFXD", "medication", "Lofexidine", "Lofexidina"),
    ("CLND", "medication", "Clonidine", "Clonidina"),
    (
        "OTP",
        "medication",
        "Federally certified opioid treatment program",
        "Programa de tratamiento de opioides certificado",
    ),
    (
        "MM",
        "medication",
        "Methadone maintenance",
        "Mantenimiento con metadona",
    ),
    (
        "MMW",
        "medication",
        "Methadone maintenance for a set period",
        "Mantenimiento con metadona por un tiempo fijo",
    ),
    (
        "BUM",
        "medication",
        "Buprenorphine maintenance",
        "Mantenimiento con buprenorfina",
    ),
    (
        "BMW",
        "medication",
        "Buprenorphine maintenance for a set period",
        "Mantenimiento con buprenorfina por un tiempo fijo",
    ),
    (
        "DM",
        "medication",
        "Methadone detox",
        "Desintoxicación con metadona",
    ),
    (
        "DB",
        "medication",
        "Buprenorphine detox",
        "Desintoxicación con buprenorfina",
    ),
    (
        "UB",
        "medication",
        "Prescribes buprenorphine",
        "Receta buprenorfina",
    ),
    (
        "UN",
        "medication",
        "Prescribes naltrexone",
        "Receta naltrexona",
    ),
    (
        "MOA",
        "medication",
        "Accepts clients on medication prescribed elsewhere",
        "Acepta pacientes con medicamentos recetados en otro lugar",
    ),
    // Payment
    (
        "NP",
        "payment",
        "Free (no payment accepted)",
        "Gratis (no se cobra)",
    ),
    ("MD", "payment", "Medicaid", "Medicaid"),
    ("MC", "payment", "Medicare", "Medicare"),
    (
        "PI",
        "payment",
        "Private health insurance",
        "Seguro médico privado",
    ),
    (
        "SF",
        "payment",
        "Cash or self-payment",
        "Pago en efectivo o por cuenta propia",
    ),
    (
        "SI",
        "payment",
        "State-financed health insurance",
        "Seguro médico financiado por el estado",
    ),
    (
        "MI",
        "payment",
        "Military insurance (TRICARE)",
        "Seguro militar (TRICARE)",
    ),
    (
        "ITU",
        "payment",
        "IHS, tribal or urban Indian funds",
        "Fondos del IHS, tribales o indígenas urbanos",
    ),
    (
        "FSA",
        "payment",
        "Government funding for substance use programs",
        "Fondos del gobierno para programas de uso de sustancias",
    ),
    (
        "SAMF",
        "payment",
        "SAMHSA funding or block grants",
        "Fondos o subvenciones de SAMHSA",
    ),
    ("PA", "payment", "Payment assistance", "Ayuda para pagar"),
    (
        "SS",
        "payment",
        "Sliding fee scale",
        "Tarifa según ingresos",
    ),
    // Populations
    ("AD", "population", "Adolescents", "Adolescentes"),
    ("TAY", "population", "Young adults", "Adultos jóvenes"),
    ("WN", "population", "Adult women", "Mujeres adultas"),
    (
        "PW",
        "population",
        "Pregnant or postpartum women",
        "Mujeres embarazadas o en posparto",
    ),
    ("MN", "population", "Adult men", "Hombres adultos"),
    ("SE", "population", "Seniors", "Personas mayores"),
    ("GL", "population", "LGBTQ people", "Personas LGBTQ"),
    ("VET", "population", "Veterans", "Veteranos"),
    (
        "ADM",
        "population",
        "Active-duty military",
        "Militares en servicio activo",
    ),
    (
        "MF",
        "population",
        "Military families",
        "Familias de militares",
    ),
    (
        "CJ",
        "population",
        "People involved with the criminal justice system",
        "Personas en el sistema de justicia penal",
    ),
    (
        "CO",
        "population",
        "Co-occurring mental and substance use disorders",
        "Trastornos de salud mental y de uso de sustancias a la vez",
    ),
    (
        "HV",
        "population",
        "People with HIV or AIDS",
        "Personas con VIH o SIDA",
    ),
    (
        "TRMA",
        "population",
        "People who have experienced trauma",
        "Personas que han vivido traumas",
    ),
    (
        "XA",
        "population",
        "Survivors of sexual abuse",
        "Sobrevivientes de abuso sexual",
    ),
    (
        "DV",
        "population",
        "People who have experienced intimate-partner violence",
        "Personas que han sufrido violencia de pareja",
    ),
    // Ages and gender
    (
        "CHLD",
        "age",
        "Children and adolescents",
        "Niños y adolescentes",
    ),
    ("YAD", "age", "Young adults", "Adultos jóvenes"),
    ("ADLT", "age", "Adults", "Adultos"),
    ("SNR", "age", "Seniors", "Personas mayores"),
    ("FEM", "gender", "Women", "Mujeres"),
    ("MALE", "gender", "Men", "Hombres"),
    // Languages
    ("SP", "language", "Spanish", "Español"),
    ("AH", "language", "Sign language", "Lengua de señas"),
    (
        "NX",
        "language",
        "American Indian or Alaska Native languages",
        "Idiomas de pueblos indígenas de EE. UU. y Alaska",
    ),
    ("FX", "language", "Other languages", "Otros idiomas"),
    // Ancillary and transitional
    (
        "NOE",
        "ancillary",
        "Naloxone and overdose education",
        "Naloxona y educación sobre sobredosis",
    ),
    (
        "ACC",
        "ancillary",
        "Aftercare and continuing care",
        "Atención continua después del tratamiento",
    ),
    (
        "DP",
        "ancillary",
        "Discharge planning",
        "Planificación del alta",
    ),
    (
        "OFD",
        "ancillary",
        "Follow-up after discharge",
        "Seguimiento después del alta",
    ),
    ("CM", "ancillary", "Case management", "Manejo de casos"),
    (
        "MHS",
        "ancillary",
        "Mental health services",
        "Servicios de salud mental",
    ),
    (
        "HS",
        "ancillary",
        "Housing services",
        "Servicios de vivienda",
    ),
    ("PEER", "ancillary", "Peer support", "Apoyo de pares"),
    (
        "TA",
        "ancillary",
        "Help with transportation",
        "Ayuda con el transporte",
    ),
    ("CCC", "ancillary", "Child care", "Cuidado de niños"),
    (
        "CMI",
        "approach",
        "Contingency management",
        "Manejo de contingencias (incentivos)",
    ),
    (
        "CBT",
        "approach",
        "Cognitive behavioral therapy",
        "Terapia cognitivo-conductual",
    ),
    (
        "TELE",
        "approach",
        "Telehealth therapy",
        "Terapia por telesalud",
    ),
];

/// The category and label of a code, if known.
pub fn describe(code: &str) -> Option<(&'static str, &'static str)> {
    by_code(code).map(|c| (c.1, c.2))
}

/// The Spanish label of a known code.
pub fn label_es(code: &str) -> Option<&'static str> {
    by_code(code).map(|c| c.3)
}

/// The table's row for a code, by hash (every search result's codes are
/// described on every request: a scan of the table each time cost more
/// than the search itself).
fn by_code(
    code: &str,
) -> Option<&'static (&'static str, &'static str, &'static str, &'static str)> {
    static INDEX: std::sync::OnceLock<std::collections::HashMap<&'static str, usize>> =
        std::sync::OnceLock::new();
    INDEX
        .get_or_init(|| CODES.iter().enumerate().map(|(i, c)| (c.0, i)).collect())
        .get(code)
        .map(|i| &CODES[*i])
}

/// Normalize a code as written in a file: trim, uppercase.
pub fn normalize(code: &str) -> Option<String> {
    let c = code.trim().to_uppercase();
    (!c.is_empty() && c.len() <= 12 && c.chars().all(|ch| ch.is_ascii_alphanumeric())).then_some(c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_has_both_labels_and_is_unique() {
        let mut seen = std::collections::HashSet::new();
        for (code, cat, en, es) in CODES {
            assert!(seen.insert(*code), "{code} twice");
            assert!(
                !cat.is_empty() && !en.is_empty() && !es.is_empty(),
                "{code}"
            );
        }
        assert_eq!(label_es("METH"), Some("Metadona"));
        assert_eq!(normalize(" meth "), Some("METH".into()));
        assert_eq!(normalize("a/b"), None);
    }
}
