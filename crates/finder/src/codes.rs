//! SAMHSA treatment-locator service codes (FindTreatment.gov / National
//! Directory), the finder's attribute vocabulary. Unknown codes are kept and
//! shown raw; a facility is never dropped because of one.

/// A known code: (code, category, plain-English label).
pub const CODES: &[(&str, &str, &str)] = &[
    // Type of care
    ("SA", "type_of_care", "Substance use treatment"),
    ("MH", "type_of_care", "Mental health treatment"),
    (
        "DT",
        "type_of_care",
        "Detoxification (withdrawal management)",
    ),
    (
        "HH",
        "type_of_care",
        "Transitional housing, halfway house or sober home",
    ),
    (
        "SUMH",
        "type_of_care",
        "Treatment for co-occurring substance use and serious mental illness",
    ),
    // Service setting
    ("HI", "setting", "Hospital inpatient"),
    ("OP", "setting", "Outpatient"),
    ("RES", "setting", "Residential"),
    ("HID", "setting", "Hospital inpatient detox"),
    ("HIT", "setting", "Hospital inpatient treatment"),
    ("OD", "setting", "Outpatient detox"),
    (
        "ODT",
        "setting",
        "Outpatient day treatment or partial hospitalization",
    ),
    ("OIT", "setting", "Intensive outpatient"),
    (
        "OMB",
        "setting",
        "Outpatient methadone, buprenorphine or naltrexone",
    ),
    ("ORT", "setting", "Regular outpatient"),
    ("RD", "setting", "Residential detox"),
    ("RL", "setting", "Long-term residential"),
    ("RS", "setting", "Short-term residential"),
    // Medications
    ("MU", "medication", "Methadone"),
    ("METH", "medication", "Methadone"),
    ("BU", "medication", "Buprenorphine"),
    ("NU", "medication", "Naltrexone"),
    ("BWN", "medication", "Buprenorphine with naloxone"),
    ("BWON", "medication", "Buprenorphine without naloxone"),
    (
        "BERI",
        "medication",
        "Extended-release injectable buprenorphine",
    ),
    ("BSDM", "medication", "Buprenorphine implant"),
    ("NXN", "medication", "Oral naltrexone"),
    (
        "VTRL",
        "medication",
        "Extended-release injectable naltrexone",
    ),
    ("LFXD", "medication", "Lofexidine"),
    ("CLND", "medication", "Clonidine"),
    (
        "OTP",
        "medication",
        "Federally certified opioid treatment program",
    ),
    ("MM", "medication", "Methadone maintenance"),
    (
        "MMW",
        "medication",
        "Methadone maintenance for a set period",
    ),
    ("BUM", "medication", "Buprenorphine maintenance"),
    (
        "BMW",
        "medication",
        "Buprenorphine maintenance for a set period",
    ),
    ("DM", "medication", "Methadone detox"),
    ("DB", "medication", "Buprenorphine detox"),
    ("UB", "medication", "Prescribes buprenorphine"),
    ("UN", "medication", "Prescribes naltrexone"),
    (
        "MOA",
        "medication",
        "Accepts clients on medication prescribed elsewhere",
    ),
    // Payment
    ("NP", "payment", "Free (no payment accepted)"),
    ("MD", "payment", "Medicaid"),
    ("MC", "payment", "Medicare"),
    ("PI", "payment", "Private health insurance"),
    ("SF", "payment", "Cash or self-payment"),
    ("SI", "payment", "State-financed health insurance"),
    ("MI", "payment", "Military insurance (TRICARE)"),
    ("ITU", "payment", "IHS, tribal or urban Indian funds"),
    (
        "FSA",
        "payment",
        "Government funding for substance use programs",
    ),
    ("SAMF", "payment", "SAMHSA funding or block grants"),
    ("PA", "payment", "Payment assistance"),
    ("SS", "payment", "Sliding fee scale"),
    // Populations
    ("AD", "population", "Adolescents"),
    ("TAY", "population", "Young adults"),
    ("WN", "population", "Adult women"),
    ("PW", "population", "Pregnant or postpartum women"),
    ("MN", "population", "Adult men"),
    ("SE", "population", "Seniors"),
    ("GL", "population", "LGBTQ people"),
    ("VET", "population", "Veterans"),
    ("ADM", "population", "Active-duty military"),
    ("MF", "population", "Military families"),
    (
        "CJ",
        "population",
        "People involved with the criminal justice system",
    ),
    (
        "CO",
        "population",
        "Co-occurring mental and substance use disorders",
    ),
    ("HV", "population", "People with HIV or AIDS"),
    ("TRMA", "population", "People who have experienced trauma"),
    ("XA", "population", "Survivors of sexual abuse"),
    (
        "DV",
        "population",
        "People who have experienced intimate-partner violence",
    ),
    // Ages and gender
    ("CHLD", "age", "Children and adolescents"),
    ("YAD", "age", "Young adults"),
    ("ADLT", "age", "Adults"),
    ("SNR", "age", "Seniors"),
    ("FEM", "gender", "Women"),
    ("MALE", "gender", "Men"),
    // Languages
    ("SP", "language", "Spanish"),
    ("AH", "language", "Sign language"),
    (
        "NX",
        "language",
        "American Indian or Alaska Native languages",
    ),
    ("FX", "language", "Other languages"),
    // Ancillary and transitional
    ("NOE", "ancillary", "Naloxone and overdose education"),
    ("ACC", "ancillary", "Aftercare and continuing care"),
    ("DP", "ancillary", "Discharge planning"),
    ("OFD", "ancillary", "Follow-up after discharge"),
    ("CM", "ancillary", "Case management"),
    ("MHS", "ancillary", "Mental health services"),
    ("HS", "ancillary", "Housing services"),
    ("PEER", "ancillary", "Peer support"),
    ("TA", "ancillary", "Help with transportation"),
    ("CCC", "ancillary", "Child care"),
    ("CMI", "approach", "Contingency management"),
    ("CBT", "approach", "Cognitive behavioral therapy"),
    ("TELE", "approach", "Telehealth therapy"),
];

/// The category and label of a code, if known.
pub fn describe(code: &str) -> Option<(&'static str, &'static str)> {
    CODES.iter().find(|c| c.0 == code).map(|c| (c.1, c.2))
}

/// Normalize a code as written in a file: trim, uppercase.
pub fn normalize(code: &str) -> Option<String> {
    let c = code.trim().to_uppercase();
    (!c.is_empty() && c.len() <= 12 && c.chars().all(|ch| ch.is_ascii_alphanumeric())).then_some(c)
}
