//! Password policy, after NIST SP 800-63B § 5.1.1.2 (memorized secrets): a
//! minimum length of 12 (above the 8 the guideline requires, as these accounts
//! reach addiction-treatment records), a generous maximum, no composition rules,
//! and refusal of passwords that are common, repetitive or contain the username.

use crate::FieldError;

pub const MIN_LEN: usize = 12;
pub const MAX_LEN: usize = 128;

/// A short list of the most common passwords and clinic-flavoured guesses.
/// (SP 800-63B asks verifiers to compare against known-compromised values.)
const COMMON: &[&str] = &[
    "password1234",
    "password12345",
    "123456789012",
    "qwertyuiopas",
    "letmein12345",
    "welcome12345",
    "iloveyou1234",
    "carepath1234",
    "methadone123",
    "administrator",
    "changeme1234",
    "passwordpassword",
];

/// Check a proposed password; `username` may not appear in it.
pub fn check(password: &str, username: &str) -> Result<(), FieldError> {
    let n = password.chars().count();
    if n < MIN_LEN {
        return Err(FieldError::new(
            "password",
            format!(
                "must be at least {MIN_LEN} characters (a passphrase of a few words works well)"
            ),
        ));
    }
    if n > MAX_LEN {
        return Err(FieldError::new(
            "password",
            format!("must be at most {MAX_LEN} characters"),
        ));
    }
    let lower = password.to_lowercase();
    if COMMON.contains(&lower.as_str()) {
        return Err(FieldError::new("password", "is too common; choose another"));
    }
    let distinct: std::collections::HashSet<char> = password.chars().collect();
    if distinct.len() < 5 {
        return Err(FieldError::new(
            "password",
            "is too repetitive; use at least 5 different characters",
        ));
    }
    if !username.is_empty() && lower.contains(&username.to_lowercase()) {
        return Err(FieldError::new("password", "may not contain the username"));
    }
    Ok(())
}

/// Validate a username: 3–64 characters of lowercase letters, digits, `.`, `_`, `-`.
pub fn check_username(username: &str) -> Result<(), FieldError> {
    let ok_len = (3..=64).contains(&username.len());
    let ok_chars = username
        .chars()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '.' | '_' | '-'));
    if ok_len && ok_chars {
        Ok(())
    } else {
        Err(FieldError::new(
            "username",
            "must be 3–64 characters: lowercase letters, digits, '.', '_' or '-'",
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn policy() {
        assert!(check("correct horse battery", "nurse.kim").is_ok());
        assert_eq!(check("short", "x").unwrap_err().field, "password");
        assert!(check("Password1234", "x").is_err());
        assert!(check("aaaaaaaaaaaaaaaa", "x").is_err());
        assert!(check("nurse.kim-is-great", "nurse.kim").is_err());
        assert!(check(&"ab1cd".repeat(30), "x").is_err());
    }

    #[test]
    fn usernames() {
        assert!(check_username("dr.patel").is_ok());
        assert!(check_username("Dr Patel").is_err());
        assert!(check_username("ab").is_err());
    }
}
