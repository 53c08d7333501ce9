//! TEDS code lists used at intake and discharge (SAMHSA Treatment Episode Data
//! Set, public-use-file codebook, 2020-era: SUB1–3, ROUTE1–3, FREQ1–3, REASON;
//! OMB 0930-0335 Attachment A1). Carepath stores the canonical facts (actual
//! age at first use, actual dates) and these codes; state extracts map from them.

/// SUB1–SUB3: substance problem.
pub const SUBSTANCES: [(u8, &str); 19] = [
    (1, "None"),
    (2, "Alcohol"),
    (3, "Cocaine/crack"),
    (4, "Marijuana/hashish"),
    (5, "Heroin"),
    (6, "Non-prescription methadone"),
    (7, "Other opiates and synthetics (incl. fentanyl)"),
    (8, "PCP"),
    (9, "Hallucinogens"),
    (10, "Methamphetamine/speed"),
    (11, "Other amphetamines"),
    (12, "Other stimulants"),
    (13, "Benzodiazepines"),
    (14, "Other tranquilizers"),
    (15, "Barbiturates"),
    (16, "Other sedatives or hypnotics"),
    (17, "Inhalants"),
    (18, "Over-the-counter medications"),
    (19, "Other drugs"),
];

/// ROUTE1–ROUTE3: usual route of administration.
pub const ROUTES: [(u8, &str); 5] = [
    (1, "Oral"),
    (2, "Smoking"),
    (3, "Inhalation"),
    (4, "Injection (IV, IM, intradermal or subcutaneous)"),
    (5, "Other"),
];

/// FREQ1–FREQ3: frequency of use in the past month.
pub const FREQUENCIES: [(u8, &str); 3] = [
    (1, "No use in the past month"),
    (2, "Some use"),
    (3, "Daily use"),
];

/// REASON: reason for discharge.
pub const DISCHARGE_REASONS: [(u8, &str); 7] = [
    (1, "Treatment completed"),
    (2, "Left against advice (dropped out)"),
    (3, "Terminated by facility"),
    (4, "Transferred to another program or facility"),
    (5, "Incarcerated"),
    (6, "Died"),
    (7, "Other"),
];

/// Carepath's stored key for each REASON code (the episode's `discharge_reason`).
pub const DISCHARGE_KEYS: [(u8, &str); 7] = [
    (1, "completed"),
    (2, "left_against_advice"),
    (3, "terminated_by_facility"),
    (4, "transferred"),
    (5, "incarcerated"),
    (6, "died"),
    (7, "other"),
];

/// The label of a code in a list, if the code is in it.
pub fn label(list: &[(u8, &'static str)], code: u8) -> Option<&'static str> {
    list.iter().find(|(c, _)| *c == code).map(|(_, l)| *l)
}

/// Whether a TEDS substance code is an opioid (heroin, non-prescription
/// methadone, other opiates and synthetics) — the TEDS HERFLG/METHFLG/OPSYNFLG set.
pub fn is_opioid(code: u8) -> bool {
    matches!(code, 5..=7)
}

// ------------------------------------------------------------- intake (MDS)
//
// The admission elements below the substance history. Codes: the TEDS-A
// public-use-file codebook (2020 edition, SAMHSA CBHSQ), as transcribed in
// DOMAIN-regulatory.md § 5.3 (PSOURCE, DETCRIM, EMPLOY, DETNLF, LIVARAG,
// ARRESTS, FREQ_ATND_SELF_HELP, SERVICES) and, for EDUC, MARSTAT, RACE,
// ETHNIC, PRIMINC, HLTHINS and PRIMPAY, the same codebook's value labels
// (not in the brief's table: re-check against the codebook PDF). A state's
// submission codes may differ; its crosswalk maps from these.

/// The TEDS "missing / unknown / not collected" code. Carepath stores it only
/// as an explicit answer ("unknown" or "declined"), never for a question
/// nobody asked: an element never asked is *missing* and named by the extract.
pub const UNKNOWN: i16 = -9;

/// PSOURCE: principal source of referral.
pub const REFERRAL_SOURCES: [(u8, &str); 7] = [
    (1, "Individual (incl. self-referral)"),
    (2, "Alcohol/drug use care provider"),
    (3, "Other health care provider"),
    (4, "School (educational)"),
    (5, "Employer / EAP"),
    (6, "Other community referral"),
    (7, "Court / criminal justice referral / DUI / DWI"),
];

/// DETCRIM: detailed criminal-justice referral (when PSOURCE is 7).
pub const CRIMINAL_JUSTICE: [(u8, &str); 8] = [
    (1, "State/federal court"),
    (2, "Formal adjudication process"),
    (3, "Probation/parole"),
    (4, "Other recognized legal entity"),
    (5, "Diversionary program"),
    (6, "Prison"),
    (7, "DUI/DWI"),
    (8, "Other"),
];

/// EDUC: education (highest school grade completed).
pub const EDUCATION: [(u8, &str); 5] = [
    (1, "Grade 8 or less (incl. no schooling)"),
    (2, "Grades 9 to 11"),
    (3, "Grade 12 or GED"),
    (4, "1–3 years of college or vocational school"),
    (5, "4 years of college or more"),
];

/// EMPLOY / EMPLOY_D: employment status.
pub const EMPLOYMENT: [(u8, &str); 4] = [
    (1, "Full-time"),
    (2, "Part-time"),
    (3, "Unemployed"),
    (4, "Not in labor force"),
];

/// DETNLF / DETNLF_D: detailed "not in labor force" (when EMPLOY is 4).
pub const NOT_IN_LABOR_FORCE: [(u8, &str); 5] = [
    (1, "Homemaker"),
    (2, "Student"),
    (3, "Retired / disabled"),
    (4, "Resident of an institution"),
    (5, "Other"),
];

/// LIVARAG / LIVARAG_D: living arrangement.
pub const LIVING: [(u8, &str); 3] = [
    (1, "Homeless"),
    (2, "Dependent living"),
    (3, "Independent living"),
];

/// MARSTAT: marital status.
pub const MARITAL: [(u8, &str); 4] = [
    (1, "Never married"),
    (2, "Now married"),
    (3, "Separated"),
    (4, "Divorced or widowed"),
];

/// RACE.
pub const RACE: [(u8, &str); 9] = [
    (1, "Alaska Native (Aleut, Eskimo, Indian)"),
    (2, "American Indian (other than Alaska Native)"),
    (3, "Asian or Pacific Islander"),
    (4, "Black or African American"),
    (5, "White"),
    (6, "Asian"),
    (7, "Other single race"),
    (8, "Two or more races"),
    (9, "Native Hawaiian or Other Pacific Islander"),
];

/// ETHNIC: Hispanic or Latino origin.
pub const ETHNICITY: [(u8, &str); 5] = [
    (1, "Puerto Rican"),
    (2, "Mexican"),
    (3, "Cuban or other specific Hispanic"),
    (4, "Not of Hispanic or Latino origin"),
    (5, "Hispanic, specific origin not specified"),
];

/// PRIMINC: source of income or support.
pub const INCOME: [(u8, &str); 5] = [
    (1, "Wages / salary"),
    (2, "Public assistance"),
    (3, "Retirement / pension, disability"),
    (4, "Other"),
    (5, "None"),
];

/// HLTHINS: health insurance.
pub const INSURANCE: [(u8, &str); 4] = [
    (1, "Private insurance, Blue Cross/Blue Shield, HMO"),
    (2, "Medicaid"),
    (3, "Medicare, other (e.g. TRICARE)"),
    (4, "None"),
];

/// PRIMPAY: expected or actual primary source of payment.
pub const PAYMENT: [(u8, &str); 7] = [
    (1, "Self-pay"),
    (2, "Private insurance"),
    (3, "Medicare"),
    (4, "Medicaid"),
    (5, "Other government payments"),
    (6, "No charge (free, charity, special research, teaching)"),
    (7, "Other"),
];

/// FREQ_ATND_SELF_HELP(_D): self-help group attendance in the past 30 days.
pub const SELF_HELP: [(u8, &str); 5] = [
    (1, "No attendance"),
    (2, "1–3 times in the past month"),
    (3, "4–7 times in the past month"),
    (4, "8–30 times in the past month"),
    (5, "Some attendance, frequency unknown"),
];

/// SERVICES / SERVICES_D: type of treatment service / setting.
pub const SERVICES: [(u8, &str); 8] = [
    (1, "Detox, 24-hour, hospital inpatient"),
    (2, "Detox, 24-hour, free-standing residential"),
    (3, "Rehab/residential, hospital (non-detox)"),
    (4, "Rehab/residential, short term (30 days or fewer)"),
    (5, "Rehab/residential, long term (more than 30 days)"),
    (6, "Ambulatory, intensive outpatient"),
    (7, "Ambulatory, non-intensive outpatient"),
    (8, "Ambulatory, detoxification"),
];

/// Whether `v` answers a coded element: a code of `list`, or [`UNKNOWN`].
pub fn answers(list: &[(u8, &'static str)], v: i16) -> bool {
    v == UNKNOWN || (1..=255).contains(&v) && label(list, v as u8).is_some()
}

/// The admission elements asked at intake beyond the substance history
/// (the Minimum Data Set's social and demographic items). Each is `None`
/// until asked; [`UNKNOWN`] is the explicit "unknown / declined" answer.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct Intake {
    /// The day the person first asked this program for treatment
    /// (`YYYY-MM-DD`): DAYWAIT is counted from it.
    #[serde(default)]
    pub requested_on: Option<String>,
    #[serde(default)]
    pub referral_source: Option<i16>,
    #[serde(default)]
    pub criminal_justice_referral: Option<i16>,
    #[serde(default)]
    pub education: Option<i16>,
    #[serde(default)]
    pub employment: Option<i16>,
    #[serde(default)]
    pub not_in_labor_force: Option<i16>,
    #[serde(default)]
    pub living: Option<i16>,
    #[serde(default)]
    pub marital: Option<i16>,
    #[serde(default)]
    pub race: Option<i16>,
    #[serde(default)]
    pub ethnicity: Option<i16>,
    #[serde(default)]
    pub income: Option<i16>,
    #[serde(default)]
    pub insurance: Option<i16>,
    #[serde(default)]
    pub payment: Option<i16>,
    /// Arrests in the past 30 days (a count; -9 unknown).
    #[serde(default)]
    pub arrests_30d: Option<i16>,
    #[serde(default)]
    pub self_help_30d: Option<i16>,
}

/// The discharge elements (TEDS-D outcome measures): each substance's
/// frequency of use in the past month at discharge (in the order of the
/// admission's substances), employment, living arrangement, arrests and
/// self-help attendance. `None` until asked; -9 the explicit "unknown"
/// (a patient who left without a last interview).
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct Discharge {
    #[serde(default)]
    pub frequencies: Vec<i16>,
    #[serde(default)]
    pub employment: Option<i16>,
    #[serde(default)]
    pub not_in_labor_force: Option<i16>,
    #[serde(default)]
    pub living: Option<i16>,
    #[serde(default)]
    pub arrests_30d: Option<i16>,
    #[serde(default)]
    pub self_help_30d: Option<i16>,
}

/// One invalid answer: (field, message).
pub type Invalid = (String, String);

fn coded(out: &mut Vec<Invalid>, field: &str, list: &[(u8, &'static str)], v: Option<i16>) {
    if let Some(v) = v
        && !answers(list, v)
    {
        out.push((
            field.to_string(),
            format!("unknown code {v} (1–{}, or -9 unknown)", list.len()),
        ));
    }
}

fn count(out: &mut Vec<Invalid>, field: &str, v: Option<i16>) {
    if let Some(v) = v
        && v != UNKNOWN
        && !(0..=99).contains(&v)
    {
        out.push((
            field.to_string(),
            "a count from 0 to 99, or -9 unknown".into(),
        ));
    }
}

impl Intake {
    /// The answers that are not codes of their lists (unanswered is valid).
    pub fn invalid(&self, today: jiff::civil::Date) -> Vec<Invalid> {
        let mut out = vec![];
        if let Some(d) = self
            .requested_on
            .as_deref()
            .filter(|d| !d.trim().is_empty())
        {
            match d.trim().parse::<jiff::civil::Date>() {
                Ok(d) if d > today => {
                    out.push(("requested_on".into(), "may not be in the future".into()))
                }
                Ok(_) => {}
                Err(_) => out.push(("requested_on".into(), "must be a date, YYYY-MM-DD".into())),
            }
        }
        coded(
            &mut out,
            "referral_source",
            &REFERRAL_SOURCES,
            self.referral_source,
        );
        coded(
            &mut out,
            "criminal_justice_referral",
            &CRIMINAL_JUSTICE,
            self.criminal_justice_referral,
        );
        coded(&mut out, "education", &EDUCATION, self.education);
        coded(&mut out, "employment", &EMPLOYMENT, self.employment);
        coded(
            &mut out,
            "not_in_labor_force",
            &NOT_IN_LABOR_FORCE,
            self.not_in_labor_force,
        );
        coded(&mut out, "living", &LIVING, self.living);
        coded(&mut out, "marital", &MARITAL, self.marital);
        coded(&mut out, "race", &RACE, self.race);
        coded(&mut out, "ethnicity", &ETHNICITY, self.ethnicity);
        coded(&mut out, "income", &INCOME, self.income);
        coded(&mut out, "insurance", &INSURANCE, self.insurance);
        coded(&mut out, "payment", &PAYMENT, self.payment);
        count(&mut out, "arrests_30d", self.arrests_30d);
        coded(&mut out, "self_help_30d", &SELF_HELP, self.self_help_30d);
        out
    }
}

impl Discharge {
    /// The answers that are not codes of their lists (unanswered is valid).
    pub fn invalid(&self) -> Vec<Invalid> {
        let mut out = vec![];
        if self.frequencies.len() > 3 {
            out.push((
                "frequencies".into(),
                "at most three substances (primary, secondary, tertiary)".into(),
            ));
        }
        for (k, f) in self.frequencies.iter().enumerate() {
            coded(
                &mut out,
                &format!("frequencies[{k}]"),
                &FREQUENCIES,
                Some(*f),
            );
        }
        coded(&mut out, "employment", &EMPLOYMENT, self.employment);
        coded(
            &mut out,
            "not_in_labor_force",
            &NOT_IN_LABOR_FORCE,
            self.not_in_labor_force,
        );
        coded(&mut out, "living", &LIVING, self.living);
        count(&mut out, "arrests_30d", self.arrests_30d);
        coded(&mut out, "self_help_30d", &SELF_HELP, self.self_help_30d);
        out
    }
}

// ------------------------------------------------------------------ extract

/// ARRESTS(_D) from a count: 0 none, 1 once, 2 two or more (§ 5.3).
pub fn arrests_band(n: i16) -> i16 {
    match n {
        UNKNOWN => UNKNOWN,
        i16::MIN..=0 => 0,
        1 => 1,
        _ => 2,
    }
}

/// SERVICES for a Carepath level of care (a program kind's key). A
/// residential stay is short term (4) when it ended within 30 days, long
/// term (5) otherwise or while it lasts; partial hospitalization is reported
/// as intensive outpatient (6); an OTP's maintenance as non-intensive
/// outpatient (7) with METHUSE 1 (§ 5.3: state practice varies). Sober
/// living is not treatment: no code.
pub fn service_code(level: &str, stay_days: Option<i64>) -> Option<u8> {
    Some(match level {
        "withdrawal_management" => 2,
        "residential" => match stay_days {
            Some(d) if d <= 30 => 4,
            _ => 5,
        },
        "partial_hospitalization" | "intensive_outpatient" => 6,
        "outpatient" | "opioid_treatment_program" => 7,
        _ => return None,
    })
}

/// One element of a record that is missing or invalid.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Problem {
    /// The TEDS element (`EDUC`, `SUB1`…).
    pub element: &'static str,
    pub message: String,
}

/// One admission or discharge record: values in the columns' order, and
/// what is wrong with it (nothing, when it can be submitted).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Row {
    pub case_id: String,
    pub values: Vec<String>,
    pub problems: Vec<Problem>,
}

/// The columns of an admission record (documented in docs/TEDS.md).
pub const ADMISSION_COLUMNS: [&str; 41] = [
    "RECORD_TYPE",
    "PROVIDER",
    "CASEID",
    "CLIENTID",
    "ADMDATE",
    "SERVICES",
    "AGE",
    "GENDER",
    "RACE",
    "ETHNIC",
    "MARSTAT",
    "EDUC",
    "EMPLOY",
    "DETNLF",
    "PREG",
    "VET",
    "LIVARAG",
    "PRIMINC",
    "ARRESTS",
    "PSOURCE",
    "DETCRIM",
    "NOPRIOR",
    "DAYWAIT",
    "SUB1",
    "ROUTE1",
    "FREQ1",
    "FRSTUSE1",
    "SUB2",
    "ROUTE2",
    "FREQ2",
    "FRSTUSE2",
    "SUB3",
    "ROUTE3",
    "FREQ3",
    "FRSTUSE3",
    "METHUSE",
    "PSYPROB",
    "HLTHINS",
    "PRIMPAY",
    "FREQ_ATND_SELF_HELP",
    "DIAGNOSIS",
];

/// The columns of a discharge record.
pub const DISCHARGE_COLUMNS: [&str; 20] = [
    "RECORD_TYPE",
    "PROVIDER",
    "CASEID",
    "CLIENTID",
    "ADMDATE",
    "DISDATE",
    "SERVICES_D",
    "REASON",
    "LOS",
    "SUB1_D",
    "FREQ1_D",
    "SUB2_D",
    "FREQ2_D",
    "SUB3_D",
    "FREQ3_D",
    "EMPLOY_D",
    "DETNLF_D",
    "LIVARAG_D",
    "ARRESTS_D",
    "FREQ_ATND_SELF_HELP_D",
];

/// A substance of the intake history: (SUB, ROUTE, FREQ, age at first use).
pub type Substance = (u8, u8, u8, u8);

/// What the intake assessment recorded, for the extract.
#[derive(Debug, Clone, PartialEq)]
pub struct IntakeFacts {
    pub substances: Vec<Substance>,
    pub prior_episodes: u8,
    /// The assessment's pregnancy key (pregnant, not_pregnant, postpartum,
    /// unknown, not_applicable).
    pub pregnancy: String,
    pub veteran: bool,
    pub co_occurring: bool,
    /// The ICD-10-CM code of the diagnosis, if one was made.
    pub diagnosis: Option<String>,
    pub teds: Intake,
}

/// An episode's admission, for the extract.
#[derive(Debug, Clone, PartialEq)]
pub struct AdmissionFacts {
    pub provider: String,
    pub case_id: String,
    pub client_id: String,
    pub admitted_on: jiff::civil::Date,
    /// The level of care (a program kind key) and the stay's days if ended.
    pub level: String,
    pub stay_days: Option<i64>,
    pub date_of_birth: jiff::civil::Date,
    /// female, male, intersex, unknown.
    pub sex: String,
    /// Medication for OUD planned (an OTP episode, or a methadone,
    /// buprenorphine or naltrexone order in the episode): METHUSE.
    pub moud: bool,
    /// None: no intake assessment in the episode.
    pub intake: Option<IntakeFacts>,
}

/// An episode's discharge, for the extract.
#[derive(Debug, Clone, PartialEq)]
pub struct DischargeFacts {
    pub admission: AdmissionFacts,
    pub discharged_on: jiff::civil::Date,
    /// The REASON code stored on the discharge (None: the episode was
    /// closed without a discharge summary).
    pub reason: Option<u8>,
    /// None: the discharge summary did not record the TEDS outcome items.
    pub teds: Option<Discharge>,
}

fn ymd(d: jiff::civil::Date) -> String {
    format!("{:04}{:02}{:02}", d.year(), d.month(), d.day())
}

struct Builder {
    values: Vec<String>,
    problems: Vec<Problem>,
}

impl Builder {
    fn put(&mut self, v: impl ToString) {
        self.values.push(v.to_string());
    }
    fn missing(&mut self, element: &'static str, why: impl Into<String>) {
        self.values.push(UNKNOWN.to_string());
        self.problems.push(Problem {
            element,
            message: why.into(),
        });
    }
    /// A coded answer: its value, or -9 and a problem when never asked.
    fn answer(&mut self, element: &'static str, v: Option<i16>, asked_where: &str) {
        match v {
            Some(v) => self.put(v),
            None => self.missing(element, format!("not recorded {asked_where}")),
        }
    }
}

/// The admission record of an episode, with every missing or invalid
/// element named. Pure: the same facts give the same record.
pub fn admission_record(f: &AdmissionFacts) -> Row {
    let mut b = Builder {
        values: vec![],
        problems: vec![],
    };
    b.put("A");
    b.put(&f.provider);
    b.put(&f.case_id);
    b.put(&f.client_id);
    b.put(ymd(f.admitted_on));
    match service_code(&f.level, f.stay_days) {
        Some(c) => b.put(c),
        None => b.missing(
            "SERVICES",
            format!(
                "level of care {:?} is not a TEDS treatment service",
                f.level
            ),
        ),
    }
    // AGE at admission, in whole years (state submissions: actual age).
    let age = f
        .date_of_birth
        .until(f.admitted_on)
        .ok()
        .and_then(|s| {
            s.round(
                jiff::SpanRound::new()
                    .smallest(jiff::Unit::Year)
                    .largest(jiff::Unit::Year)
                    .relative(f.date_of_birth)
                    .mode(jiff::RoundMode::Trunc),
            )
            .ok()
        })
        .map(|s| s.get_years() as i64);
    match age {
        Some(a) if a >= 0 => b.put(a),
        _ => b.missing("AGE", "date of birth after the admission"),
    }
    match f.sex.as_str() {
        "male" => b.put(1),
        "female" => b.put(2),
        _ => b.put(UNKNOWN),
    }
    let where_ = "at intake (the assessment's state-report section)";
    let Some(i) = &f.intake else {
        for e in [
            "RACE", "ETHNIC", "MARSTAT", "EDUC", "EMPLOY", "DETNLF", "PREG", "VET", "LIVARAG",
            "PRIMINC", "ARRESTS", "PSOURCE", "DETCRIM", "NOPRIOR", "DAYWAIT", "SUB1", "ROUTE1",
            "FREQ1", "FRSTUSE1",
        ] {
            b.missing(e, "no intake assessment in this episode");
        }
        for _ in 0..8 {
            b.put(UNKNOWN);
        }
        b.put(if f.moud { 1 } else { 2 });
        for e in ["PSYPROB", "HLTHINS", "PRIMPAY", "FREQ_ATND_SELF_HELP"] {
            b.missing(e, "no intake assessment in this episode");
        }
        b.put("");
        return Row {
            case_id: f.case_id.clone(),
            values: b.values,
            problems: b.problems,
        };
    };
    let t = &i.teds;
    b.answer("RACE", t.race, where_);
    b.answer("ETHNIC", t.ethnicity, where_);
    b.answer("MARSTAT", t.marital, where_);
    b.answer("EDUC", t.education, where_);
    b.answer("EMPLOY", t.employment, where_);
    // DETNLF applies only to people not in the labor force.
    if t.employment == Some(4) {
        b.answer("DETNLF", t.not_in_labor_force, where_);
    } else {
        b.put(UNKNOWN);
    }
    // PREG: women only; the assessment's pregnancy status.
    if f.sex == "female" {
        match i.pregnancy.as_str() {
            "pregnant" => b.put(1),
            "not_pregnant" | "postpartum" => b.put(2),
            "unknown" => b.put(UNKNOWN),
            _ => b.missing("PREG", "pregnancy status not recorded for a woman"),
        }
    } else {
        b.put(UNKNOWN);
    }
    b.put(if i.veteran { 1 } else { 2 });
    b.answer("LIVARAG", t.living, where_);
    b.answer("PRIMINC", t.income, where_);
    match t.arrests_30d {
        Some(n) => b.put(arrests_band(n)),
        None => b.missing("ARRESTS", format!("not recorded {where_}")),
    }
    b.answer("PSOURCE", t.referral_source, where_);
    if t.referral_source == Some(7) {
        b.answer("DETCRIM", t.criminal_justice_referral, where_);
    } else {
        b.put(UNKNOWN);
    }
    b.put(i.prior_episodes.min(5));
    match t
        .requested_on
        .as_deref()
        .and_then(|d| d.trim().parse::<jiff::civil::Date>().ok())
    {
        Some(d) if d <= f.admitted_on => b.put(
            d.until(f.admitted_on)
                .map(|s| s.get_days() as i64)
                .unwrap_or(0),
        ),
        Some(_) => b.missing("DAYWAIT", "treatment requested after the admission date"),
        None => b.missing(
            "DAYWAIT",
            format!("the day treatment was first requested is not recorded {where_}"),
        ),
    }
    const SUB: [&str; 3] = ["SUB1", "SUB2", "SUB3"];
    for k in 0..3 {
        match i.substances.get(k) {
            Some((code, route, freq, age)) => {
                b.put(code);
                b.put(route);
                b.put(freq);
                b.put(age);
            }
            None if k == 0 => {
                b.missing(SUB[0], "no primary substance recorded");
                for _ in 0..3 {
                    b.put(UNKNOWN);
                }
            }
            None => {
                // No secondary/tertiary problem: SUB = 1 (none).
                b.put(1);
                for _ in 0..3 {
                    b.put(UNKNOWN);
                }
            }
        }
    }
    b.put(if f.moud { 1 } else { 2 });
    b.put(if i.co_occurring { 1 } else { 2 });
    b.answer("HLTHINS", t.insurance, where_);
    b.answer("PRIMPAY", t.payment, where_);
    b.answer("FREQ_ATND_SELF_HELP", t.self_help_30d, where_);
    b.put(i.diagnosis.clone().unwrap_or_default());
    Row {
        case_id: f.case_id.clone(),
        values: b.values,
        problems: b.problems,
    }
}

/// The discharge record of an episode, with every missing or invalid
/// element named. LOS is the stay's calendar days (a same-day discharge
/// counts 1); state submissions take the actual days, the public-use file
/// bands them (§ 5.3).
pub fn discharge_record(f: &DischargeFacts) -> Row {
    let a = &f.admission;
    let mut b = Builder {
        values: vec![],
        problems: vec![],
    };
    b.put("D");
    b.put(&a.provider);
    b.put(&a.case_id);
    b.put(&a.client_id);
    b.put(ymd(a.admitted_on));
    b.put(ymd(f.discharged_on));
    let los = a
        .admitted_on
        .until(f.discharged_on)
        .map(|s| s.get_days() as i64)
        .unwrap_or(0);
    match service_code(&a.level, Some(los)) {
        Some(c) => b.put(c),
        None => b.missing(
            "SERVICES_D",
            format!(
                "level of care {:?} is not a TEDS treatment service",
                a.level
            ),
        ),
    }
    match f.reason {
        Some(r) if label(&DISCHARGE_REASONS, r).is_some() => b.put(r),
        _ => b.missing(
            "REASON",
            "the episode was closed without a discharge summary",
        ),
    }
    b.put(los.max(1));
    let where_ = "at discharge (the summary's state-report section)";
    let subs = a.intake.as_ref().map(|i| i.substances.as_slice());
    let t = f.teds.as_ref();
    const FREQ: [&str; 3] = ["FREQ1_D", "FREQ2_D", "FREQ3_D"];
    for (k, freq_element) in FREQ.into_iter().enumerate() {
        match subs.map(|s| s.get(k)) {
            None => {
                if k == 0 {
                    b.missing("SUB1_D", "no intake assessment in this episode");
                } else {
                    b.put(UNKNOWN);
                }
                b.put(UNKNOWN);
            }
            Some(None) => {
                b.put(1);
                b.put(UNKNOWN);
            }
            Some(Some((code, ..))) => {
                b.put(code);
                // A death ends the interview: outcome items are not asked.
                if f.reason == Some(6) {
                    b.put(UNKNOWN);
                    continue;
                }
                match t.and_then(|t| t.frequencies.get(k)) {
                    Some(v) => b.put(v),
                    None => b.missing(freq_element, format!("not recorded {where_}")),
                }
            }
        }
    }
    if f.reason == Some(6) {
        for _ in 0..5 {
            b.put(UNKNOWN);
        }
    } else {
        let t = t.cloned().unwrap_or_default();
        b.answer("EMPLOY_D", t.employment, where_);
        if t.employment == Some(4) {
            b.answer("DETNLF_D", t.not_in_labor_force, where_);
        } else {
            b.put(UNKNOWN);
        }
        b.answer("LIVARAG_D", t.living, where_);
        match t.arrests_30d {
            Some(n) => b.put(arrests_band(n)),
            None => b.missing("ARRESTS_D", format!("not recorded {where_}")),
        }
        b.answer("FREQ_ATND_SELF_HELP_D", t.self_help_30d, where_);
    }
    Row {
        case_id: a.case_id.clone(),
        values: b.values,
        problems: b.problems,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_the_codebooks() {
        assert_eq!(label(&SUBSTANCES, 5), Some("Heroin"));
        assert_eq!(label(&ROUTES, 4).map(|s| &s[..9]), Some("Injection"));
        assert_eq!(label(&DISCHARGE_REASONS, 1), Some("Treatment completed"));
        assert_eq!(label(&DISCHARGE_REASONS, 8), None);
        assert!(is_opioid(5) && is_opioid(7) && !is_opioid(2));
        for list in [
            &SUBSTANCES[..],
            &ROUTES[..],
            &FREQUENCIES[..],
            &DISCHARGE_REASONS[..],
        ] {
            for (i, (c, _)) in list.iter().enumerate() {
                assert_eq!(*c as usize, i + 1, "codes are 1..n in order");
            }
        }
    }

    fn d(s: &str) -> jiff::civil::Date {
        s.parse().unwrap()
    }

    fn full_intake() -> IntakeFacts {
        IntakeFacts {
            substances: vec![(5, 4, 3, 19), (13, 1, 2, 22)],
            prior_episodes: 7,
            pregnancy: "not_pregnant".into(),
            veteran: false,
            co_occurring: true,
            diagnosis: Some("F11.20".into()),
            teds: Intake {
                requested_on: Some("2026-08-28".into()),
                referral_source: Some(7),
                criminal_justice_referral: Some(3),
                education: Some(3),
                employment: Some(3),
                not_in_labor_force: None,
                living: Some(1),
                marital: Some(1),
                race: Some(5),
                ethnicity: Some(4),
                income: Some(5),
                insurance: Some(2),
                payment: Some(4),
                arrests_30d: Some(3),
                self_help_30d: Some(1),
            },
        }
    }

    fn admission(intake: Option<IntakeFacts>) -> AdmissionFacts {
        AdmissionFacts {
            provider: "P1".into(),
            case_id: "E1".into(),
            client_id: "MRN1".into(),
            admitted_on: d("2026-09-04"),
            level: "residential".into(),
            stay_days: None,
            date_of_birth: d("1990-09-05"),
            sex: "female".into(),
            moud: true,
            intake,
        }
    }

    fn col(row: &Row, cols: &[&str], name: &str) -> String {
        row.values[cols.iter().position(|c| *c == name).unwrap()].clone()
    }

    #[test]
    fn a_complete_admission_has_no_problems_and_its_codes() {
        let r = admission_record(&admission(Some(full_intake())));
        assert_eq!(r.values.len(), ADMISSION_COLUMNS.len());
        assert!(r.problems.is_empty(), "{:?}", r.problems);
        let c = |n| col(&r, &ADMISSION_COLUMNS, n);
        assert_eq!(c("ADMDATE"), "20260904");
        // The day before her 36th birthday: 35.
        assert_eq!(c("AGE"), "35");
        assert_eq!(c("GENDER"), "2");
        assert_eq!(c("SERVICES"), "5", "an open residential stay is long term");
        assert_eq!(c("DAYWAIT"), "7");
        assert_eq!(c("NOPRIOR"), "5", "five or more");
        assert_eq!(c("ARRESTS"), "2", "three arrests: two or more");
        assert_eq!(c("DETCRIM"), "3");
        assert_eq!(c("DETNLF"), "-9", "only when not in the labor force");
        assert_eq!(c("PREG"), "2");
        assert_eq!(
            (c("SUB1"), c("ROUTE1"), c("FREQ1")),
            ("5".into(), "4".into(), "3".into())
        );
        assert_eq!(c("SUB3"), "1", "no tertiary substance: none");
        assert_eq!((c("METHUSE"), c("PSYPROB")), ("1".into(), "1".into()));
        assert_eq!(c("DIAGNOSIS"), "F11.20");
    }

    #[test]
    fn every_missing_element_is_named() {
        let r = admission_record(&admission(None));
        assert_eq!(r.values.len(), ADMISSION_COLUMNS.len());
        let named: Vec<_> = r.problems.iter().map(|p| p.element).collect();
        for e in ["SUB1", "EDUC", "RACE", "DAYWAIT", "PSOURCE", "PRIMPAY"] {
            assert!(named.contains(&e), "{e} not named: {named:?}");
        }
        let mut i = full_intake();
        i.teds.education = None;
        i.teds.employment = Some(4);
        i.teds.requested_on = Some("2026-09-05".into());
        i.pregnancy = "not_applicable".into();
        let r = admission_record(&admission(Some(i)));
        let named: Vec<_> = r.problems.iter().map(|p| p.element).collect();
        assert_eq!(named, ["EDUC", "DETNLF", "PREG", "DAYWAIT"]);
        // "Unknown" answered is not missing.
        let mut i = full_intake();
        i.teds.race = Some(UNKNOWN);
        i.teds.arrests_30d = Some(UNKNOWN);
        let r = admission_record(&admission(Some(i)));
        assert!(r.problems.is_empty());
        assert_eq!(col(&r, &ADMISSION_COLUMNS, "ARRESTS"), "-9");
    }

    #[test]
    fn discharge_records_length_of_stay_and_outcomes() {
        let mut a = admission(Some(full_intake()));
        a.level = "residential".into();
        let f = DischargeFacts {
            admission: a,
            discharged_on: d("2026-09-30"),
            reason: Some(1),
            teds: Some(Discharge {
                frequencies: vec![1, 1],
                employment: Some(2),
                not_in_labor_force: None,
                living: Some(2),
                arrests_30d: Some(0),
                self_help_30d: Some(3),
            }),
        };
        let r = discharge_record(&f);
        assert_eq!(r.values.len(), DISCHARGE_COLUMNS.len());
        assert!(r.problems.is_empty(), "{:?}", r.problems);
        let c = |n| col(&r, &DISCHARGE_COLUMNS, n);
        assert_eq!(c("LOS"), "26");
        assert_eq!(c("SERVICES_D"), "4", "26 days: short term");
        assert_eq!((c("SUB2_D"), c("FREQ2_D")), ("13".into(), "1".into()));
        assert_eq!((c("SUB3_D"), c("FREQ3_D")), ("1".into(), "-9".into()));
        let mut g = f.clone();
        g.teds = None;
        g.reason = None;
        let named: Vec<_> = discharge_record(&g)
            .problems
            .iter()
            .map(|p| p.element)
            .collect();
        assert_eq!(
            named,
            [
                "REASON",
                "FREQ1_D",
                "FREQ2_D",
                "EMPLOY_D",
                "LIVARAG_D",
                "ARRESTS_D",
                "FREQ_ATND_SELF_HELP_D"
            ]
        );
        // A death: no outcome interview, nothing missing.
        g.reason = Some(6);
        assert!(discharge_record(&g).problems.is_empty());
        // Same-day discharge counts one day.
        g.discharged_on = g.admission.admitted_on;
        assert_eq!(col(&discharge_record(&g), &DISCHARGE_COLUMNS, "LOS"), "1");
    }

    #[test]
    fn codes_and_bands() {
        assert_eq!(
            [
                arrests_band(0),
                arrests_band(1),
                arrests_band(2),
                arrests_band(9),
                arrests_band(UNKNOWN)
            ],
            [0, 1, 2, 2, UNKNOWN]
        );
        assert_eq!(service_code("withdrawal_management", None), Some(2));
        assert_eq!(service_code("residential", Some(30)), Some(4));
        assert_eq!(service_code("residential", Some(31)), Some(5));
        assert_eq!(service_code("opioid_treatment_program", None), Some(7));
        assert_eq!(service_code("sober_living", None), None);
        assert!(answers(&EDUCATION, 5) && answers(&EDUCATION, UNKNOWN));
        assert!(!answers(&EDUCATION, 6) && !answers(&EDUCATION, 0) && !answers(&EDUCATION, -1));
        let bad = Intake {
            education: Some(9),
            arrests_30d: Some(-2),
            requested_on: Some("soon".into()),
            ..Default::default()
        };
        let fields: Vec<_> = bad
            .invalid(d("2026-12-01"))
            .into_iter()
            .map(|(f, _)| f)
            .collect();
        assert_eq!(fields, ["requested_on", "education", "arrests_30d"]);
        assert!(Intake::default().invalid(d("2026-12-01")).is_empty());
        for list in [
            &REFERRAL_SOURCES[..],
            &CRIMINAL_JUSTICE[..],
            &EDUCATION[..],
            &EMPLOYMENT[..],
            &NOT_IN_LABOR_FORCE[..],
            &LIVING[..],
            &MARITAL[..],
            &RACE[..],
            &ETHNICITY[..],
            &INCOME[..],
            &INSURANCE[..],
            &PAYMENT[..],
            &SELF_HELP[..],
            &SERVICES[..],
        ] {
            for (i, (c, _)) in list.iter().enumerate() {
                assert_eq!(*c as usize, i + 1, "codes are 1..n in order");
            }
        }
    }

    proptest::proptest! {
        /// Whatever was (or was not) answered, a record has every column,
        /// and an element is -9 only when it was answered "unknown", does
        /// not apply, or is named as a problem.
        #[test]
        fn records_always_have_every_column(
            answered in proptest::collection::vec(proptest::option::of(-9i16..12), 15),
            subs in 0usize..4,
            sex in 0usize..4,
            reason in proptest::option::of(1u8..8),
            has_intake in proptest::bool::ANY,
        ) {
            let mut i = full_intake();
            i.substances.truncate(subs);
            let a = &answered;
            i.teds = Intake {
                requested_on: a[0].map(|_| "2026-09-01".into()),
                referral_source: a[1], criminal_justice_referral: a[2], education: a[3],
                employment: a[4], not_in_labor_force: a[5], living: a[6], marital: a[7],
                race: a[8], ethnicity: a[9], income: a[10], insurance: a[11], payment: a[12],
                arrests_30d: a[13], self_help_30d: a[14],
            };
            let mut f = admission(has_intake.then_some(i));
            f.sex = ["female", "male", "intersex", "unknown"][sex].into();
            let r = admission_record(&f);
            proptest::prop_assert_eq!(r.values.len(), ADMISSION_COLUMNS.len());
            let named: Vec<_> = r.problems.iter().map(|p| p.element).collect();
            for e in &named {
                proptest::prop_assert!(ADMISSION_COLUMNS.contains(e));
            }
            let d = discharge_record(&DischargeFacts {
                admission: f,
                discharged_on: d("2026-10-01"),
                reason,
                teds: None,
            });
            proptest::prop_assert_eq!(d.values.len(), DISCHARGE_COLUMNS.len());
            for p in &d.problems {
                proptest::prop_assert!(DISCHARGE_COLUMNS.contains(&p.element));
            }
        }
    }
}
