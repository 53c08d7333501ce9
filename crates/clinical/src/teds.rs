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
}
