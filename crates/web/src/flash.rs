//! One-time notices carried across a redirect ("Order saved", "3 bottles
//! handed out", a form's problems on the chart) in the query string, signed
//! so that a link cannot put words on a Carepath page: a notice shows only
//! with a valid HMAC-SHA256 of its text under this process's random key
//! (a notice outlives a restart only as plain text that is no longer shown).

use hmac::{Hmac, Mac};
use sha2::Sha256;
use std::sync::OnceLock;

fn key() -> &'static [u8; 32] {
    static K: OnceLock<[u8; 32]> = OnceLock::new();
    K.get_or_init(rand::random)
}

fn mac(text: &str) -> Hmac<Sha256> {
    let mut m = Hmac::<Sha256>::new_from_slice(key()).expect("any key length");
    m.update(text.as_bytes());
    m
}

/// The signature to send with `text`.
fn sign(text: &str) -> String {
    hex::encode(mac(text).finalize().into_bytes())
}

/// `KEY=text&sig=…`, URL-encoded: a notice to append to a redirect's query.
pub fn query(key: &str, text: &str) -> String {
    serde_urlencoded::to_string([(key, text), ("sig", sign(text).as_str())]).unwrap_or_default()
}

/// `text` when `sig` is its signature (and it is not empty), cut to 300
/// characters; otherwise nothing.
pub fn read(text: &str, sig: &str) -> Option<String> {
    if text.is_empty() {
        return None;
    }
    let sig = hex::decode(sig).ok()?;
    mac(text).verify_slice(&sig).ok()?;
    Some(text.chars().take(300).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_signed_notices_show() {
        let s = sign("Order saved");
        assert_eq!(read("Order saved", &s).as_deref(), Some("Order saved"));
        assert_eq!(read("Call 555-0100 for your dose", &s), None);
        assert_eq!(read("Order saved", ""), None);
        assert_eq!(read("Order saved", "zz"), None);
        assert_eq!(read("", &sign("")), None);
    }
}
