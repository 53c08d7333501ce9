//! "Know your options": an anonymous self-screen that suggests the kinds of
//! care that fit, in plain words, and the finder filters to search with.
//! Carepath's own guidance (not a diagnosis), drawing on SAMHSA TIP 63
//! (medication for opioid use disorder is the most effective treatment and
//! lowers the risk of death), ACOG Committee Opinion 711 (medication rather
//! than withdrawal in pregnancy) and the withdrawal timeline in TIP 45.
//! Pure: answers in, advice out; nothing is stored.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
pub struct Answers {
    /// heroin_fentanyl, pills, other
    #[serde(default)]
    pub uses: String,
    /// today, days, week, longer
    #[serde(default)]
    pub last_use: String,
    /// none, mild, severe
    #[serde(default)]
    pub withdrawal: String,
    /// yes, no
    #[serde(default)]
    pub pregnant: String,
    /// ok, struggling, suicidal
    #[serde(default)]
    pub mental_health: String,
    /// stable, unstable, homeless
    #[serde(default)]
    pub living: String,
    /// medicaid, medicare, private, none
    #[serde(default)]
    pub insurance: String,
    /// yes, no, unsure
    #[serde(default)]
    pub medication: String,
    /// can_go, must_stay
    #[serde(default)]
    pub residential: String,
}

/// A kind of care that fits, with the finder filter that finds it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    Crisis,
    Medication,
    Detox,
    Residential,
    IntensiveOutpatient,
    Outpatient,
    SoberLiving,
    MentalHealth,
}

impl Kind {
    /// The finder filter key for this kind (see the public page's filters).
    pub fn filter(self) -> Option<&'static str> {
        match self {
            Kind::Medication => Some("methadone"),
            Kind::Detox => Some("detox"),
            Kind::Residential => Some("residential"),
            Kind::IntensiveOutpatient | Kind::Outpatient => Some("outpatient"),
            Kind::MentalHealth => Some("cooccurring"),
            Kind::Crisis | Kind::SoberLiving => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Advice {
    /// Most fitting first.
    pub kinds: Vec<Kind>,
    /// Finder filters to prefill (payment, populations).
    pub filters: Vec<&'static str>,
    /// Whether to say what withdrawal will feel like (recent opioid use).
    pub expect_withdrawal: bool,
}

pub fn advise(a: &Answers) -> Advice {
    let opioids = a.uses != "other";
    let mut kinds = vec![];
    if a.mental_health == "suicidal" {
        kinds.push(Kind::Crisis);
    }
    let open_to_meds = a.medication != "no";
    if opioids && (open_to_meds || a.pregnant == "yes") {
        kinds.push(Kind::Medication);
    }
    let recent = matches!(a.last_use.as_str(), "today" | "days");
    if recent && (a.withdrawal == "severe" || !open_to_meds) {
        kinds.push(Kind::Detox);
    }
    let unstable = matches!(a.living.as_str(), "unstable" | "homeless");
    if unstable && a.residential != "must_stay" {
        kinds.push(Kind::Residential);
    }
    if a.residential == "must_stay" || !unstable {
        kinds.push(Kind::IntensiveOutpatient);
        kinds.push(Kind::Outpatient);
    }
    if unstable {
        kinds.push(Kind::SoberLiving);
    }
    if matches!(a.mental_health.as_str(), "struggling" | "suicidal") {
        kinds.push(Kind::MentalHealth);
    }
    kinds.dedup();
    let mut filters = vec![];
    match a.insurance.as_str() {
        "medicaid" => filters.push("medicaid"),
        "medicare" => filters.push("medicare"),
        "private" => filters.push("insurance"),
        "none" => filters.push("free"),
        _ => {}
    }
    if a.pregnant == "yes" {
        filters.push("pregnant");
    }
    Advice {
        kinds,
        filters,
        expect_withdrawal: opioids && matches!(a.last_use.as_str(), "today" | "days" | "week"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn a(pairs: &[(&str, &str)]) -> Answers {
        let v: serde_json::Map<String, serde_json::Value> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), serde_json::Value::String(v.to_string())))
            .collect();
        serde_json::from_value(serde_json::Value::Object(v)).unwrap()
    }

    #[test]
    fn medication_first_for_opioid_use() {
        let ad = advise(&a(&[
            ("uses", "heroin_fentanyl"),
            ("last_use", "today"),
            ("withdrawal", "mild"),
            ("living", "stable"),
            ("insurance", "medicaid"),
            ("medication", "yes"),
        ]));
        assert_eq!(ad.kinds[0], Kind::Medication);
        assert_eq!(ad.filters, vec!["medicaid"]);
        assert!(ad.expect_withdrawal);
    }

    #[test]
    fn pregnancy_crisis_and_housing() {
        let ad = advise(&a(&[
            ("uses", "pills"),
            ("pregnant", "yes"),
            ("medication", "no"),
            ("mental_health", "suicidal"),
            ("living", "homeless"),
            ("insurance", "none"),
        ]));
        assert_eq!(ad.kinds[0], Kind::Crisis);
        assert!(
            ad.kinds.contains(&Kind::Medication),
            "medication is still offered in pregnancy"
        );
        assert!(ad.kinds.contains(&Kind::Residential) && ad.kinds.contains(&Kind::SoberLiving));
        assert_eq!(ad.filters, vec!["free", "pregnant"]);
        let no_meds = advise(&a(&[
            ("uses", "heroin_fentanyl"),
            ("last_use", "days"),
            ("medication", "no"),
            ("living", "stable"),
            ("residential", "must_stay"),
        ]));
        assert_eq!(no_meds.kinds[0], Kind::Detox);
        assert!(!no_meds.kinds.contains(&Kind::Residential));
    }
}
