//! Times and names as people read them.

/// UTC microseconds in the given time zone, e.g. `2026-11-22 06:00 EST`.
pub fn time(us: i64, tz: &jiff::tz::TimeZone) -> String {
    match jiff::Timestamp::from_microsecond(us) {
        Ok(t) => t
            .to_zoned(tz.clone())
            .strftime("%Y-%m-%d %H:%M %Z")
            .to_string(),
        Err(_) => "—".into(),
    }
}

/// UTC microseconds as UTC.
pub fn utc(us: i64) -> String {
    time(us, &jiff::tz::TimeZone::UTC)
}

/// UTC microseconds as RFC 3339.
pub fn rfc3339(us: i64) -> String {
    jiff::Timestamp::from_microsecond(us)
        .map(|t| t.to_string())
        .unwrap_or_default()
}

fn words(s: &str) -> Vec<String> {
    s.split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(|w| w.to_lowercase())
        .collect()
}

/// Whether a contact's name names the same person as a consent's recipient:
/// every word of the contact's name is a whole word of the recipient (so
/// "Ann Smith" matches "Ann Smith (sister)", and "Ann" never matches
/// "Joanne Smith").
pub fn same_person(contact: &str, recipient: &str) -> bool {
    let c = words(contact);
    let r = words(recipient);
    !c.is_empty() && c.iter().all(|w| r.contains(w))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_match_by_whole_words_only() {
        assert!(same_person("Ann Smith", "Ann Smith (sister)"));
        assert!(same_person("ann smith", "Smith, Ann"));
        assert!(!same_person("Ann", "Joanne Smith"));
        assert!(!same_person("", "Ann"));
        assert!(!same_person("Ann Smith", "Ann"));
    }

    #[test]
    fn times_read_in_the_program_zone() {
        let tz = jiff::tz::TimeZone::get("America/Chicago").unwrap();
        // 2026-01-15T12:00Z is 06:00 in Chicago (CST).
        let us = "2026-01-15T12:00:00Z"
            .parse::<jiff::Timestamp>()
            .unwrap()
            .as_microsecond();
        assert_eq!(time(us, &tz), "2026-01-15 06:00 CST");
        assert_eq!(utc(us), "2026-01-15 12:00 UTC");
        assert_eq!(rfc3339(us), "2026-01-15T12:00:00Z");
    }
}
