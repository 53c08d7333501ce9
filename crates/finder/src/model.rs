//! A treatment facility.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Facility {
    /// Stable id: derived from the normalized name and address.
    pub id: String,
    pub name: String,
    pub name2: Option<String>,
    pub street: String,
    pub city: String,
    pub state: String,
    pub zip: String,
    pub phone: Option<String>,
    pub latitude: f64,
    pub longitude: f64,
    /// SAMHSA service codes, sorted and unique (unknown codes kept raw).
    pub codes: Vec<String>,
    /// Which files listed it (e.g. `samhsa-csv`, `samhsa-keys`, `otp-directory`).
    pub sources: Vec<String>,
    /// Live information for programs run in this Carepath instance.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub live: Option<Live>,
    /// The day (ISO date) Carepath's copy of the listing was last imported.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub updated: Option<String>,
}

/// What a telephone number is for, as the listing says.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PhoneUse {
    Main,
    Intake,
}

/// One dialable number of a listing: ten digits (North American numbering)
/// and an extension, as the directory gives them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Phone {
    #[serde(rename = "use")]
    pub usage: PhoneUse,
    /// Ten digits, area code first.
    pub digits: String,
    pub ext: Option<String>,
}

impl Phone {
    /// "(212) 555-0100 ext. 12".
    pub fn display(&self) -> String {
        let d = &self.digits;
        let base = format!("({}) {}-{}", &d[..3], &d[3..6], &d[6..]);
        match &self.ext {
            Some(x) => format!("{base} ext. {x}"),
            None => base,
        }
    }

    /// The `tel:` URI (RFC 3966) that dials the number and then its
    /// extension: phone dialers treat the comma as "wait, then send these
    /// digits", which is how an extension is reached from a link.
    pub fn tel(&self) -> String {
        match &self.ext {
            Some(x) => format!("tel:+1{},{x}", self.digits),
            None => format!("tel:+1{}", self.digits),
        }
    }
}

/// Every number in a directory contact field, in order, without repeats.
/// SAMHSA writes `(205)216-0200x12 Intake: (205)216-0201` or `... Intakes:
/// (602)523-9312 (602)258-6797x931`: numbers before a label are the main
/// line, numbers after `Intake:`/`Intakes:` are for intake. A Carepath
/// listing's phone (free text such as `410-555-0100 ext 2`) reads the same
/// way. Anything that is not ten digits (or eleven starting with 1) is left
/// out rather than guessed.
pub fn phones(contact: &str) -> Vec<Phone> {
    let mut out: Vec<Phone> = vec![];
    let mut usage = PhoneUse::Main;
    let chars: Vec<char> = contact.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c.is_ascii_alphabetic() {
            let start = i;
            while i < chars.len() && chars[i].is_ascii_alphabetic() {
                i += 1;
            }
            let word: String = chars[start..i].iter().collect::<String>().to_lowercase();
            if word.starts_with("intake") {
                usage = PhoneUse::Intake;
            } else if word.starts_with("main") || word.starts_with("office") {
                usage = PhoneUse::Main;
            }
            continue;
        }
        if !c.is_ascii_digit() && c != '(' && c != '+' {
            i += 1;
            continue;
        }
        // A number: digits with the usual separators between them.
        let mut digits = String::new();
        while i < chars.len() && digits.len() < 11 {
            let ch = chars[i];
            if ch.is_ascii_digit() {
                digits.push(ch);
            } else if !matches!(ch, '(' | ')' | '-' | '.' | ' ' | '+')
                || (ch == ' ' && (digits.len() == 10 || digits.is_empty()))
            {
                break;
            }
            i += 1;
        }
        if digits.len() == 11 && digits.starts_with('1') {
            digits.remove(0);
        }
        // An extension: `x12`, `ext 12`, `ext. 12`.
        let mut ext = None;
        let rest: String = chars[i..].iter().collect();
        let trimmed = rest.trim_start();
        let lower = trimmed.to_lowercase();
        let after = ["ext.", "ext", "x"]
            .iter()
            .find(|p| lower.starts_with(**p))
            .map(|p| trimmed[p.len()..].trim_start());
        if let Some(a) = after {
            let x: String = a.chars().take_while(char::is_ascii_digit).collect();
            if !x.is_empty() {
                let consumed = rest.len() - a.len() + x.len();
                i += rest[..consumed].chars().count();
                ext = Some(x);
            }
        }
        if digits.len() == 10 && !digits.starts_with('0') && !digits.starts_with('1') {
            let p = Phone { usage, digits, ext };
            if !out.iter().any(|o| o.digits == p.digits && o.ext == p.ext) {
                out.push(p);
            }
        }
    }
    out
}

impl Facility {
    /// The listing's numbers (see [`phones`]).
    pub fn phones(&self) -> Vec<Phone> {
        self.phone.as_deref().map(phones).unwrap_or_default()
    }
}

/// What a program running Carepath publishes about itself, kept current by its staff.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Live {
    pub program_id: String,
    pub accepting_new_patients: bool,
    pub open_beds: Option<i64>,
    pub waitlist_days: Option<i64>,
    pub same_day_medication: bool,
    /// ISO date the information was last verified.
    pub last_verified: String,
    /// Opening hours as the program states them ("Mon–Fri 5:30–13:00,
    /// Sat 7–10"); empty when it has not said.
    #[serde(default)]
    pub hours: String,
}

/// Normalize text for de-duplication: lowercase ASCII letters and digits,
/// single spaces, common street words abbreviated.
pub fn normalize(s: &str) -> String {
    let lowered: String = s
        .chars()
        .map(|c| {
            if c.is_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                ' '
            }
        })
        .collect();
    lowered
        .split_whitespace()
        .map(|w| match w {
            "street" => "st",
            "avenue" => "ave",
            "road" => "rd",
            "boulevard" => "blvd",
            "drive" => "dr",
            "lane" => "ln",
            "court" => "ct",
            "suite" => "ste",
            "highway" => "hwy",
            "north" => "n",
            "south" => "s",
            "east" => "e",
            "west" => "w",
            "and" => "",
            "the" => "",
            "inc" | "llc" => "",
            other => other,
        })
        .filter(|w| !w.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

/// The house number and street of an address ("311 W 43rd St, Floor 2" →
/// "311 w 43rd"), for telling whether two listings are at the same place
/// however the rest is spelled. None without a leading house number.
pub fn house(street: &str) -> Option<String> {
    let n = normalize(street);
    let w: Vec<&str> = n.split_whitespace().collect();
    if !w.first()?.starts_with(|c: char| c.is_ascii_digit()) {
        return None;
    }
    // Number, then any direction words, then the street's first word.
    let mut k = 1;
    while k < w.len() && matches!(w[k], "n" | "s" | "e" | "w" | "ne" | "nw" | "se" | "sw") {
        k += 1;
    }
    Some(w[..(k + 1).min(w.len())].join(" "))
}

/// Words of a name that tell facilities apart (without the words every
/// listing shares: "center", "services", "treatment", ...).
pub fn name_words(name: &str) -> std::collections::BTreeSet<String> {
    const COMMON: &[&str] = &[
        "of",
        "for",
        "at",
        "center",
        "centers",
        "ctr",
        "services",
        "service",
        "treatment",
        "program",
        "programs",
        "clinic",
        "health",
        "behavioral",
        "dba",
        "corp",
        "co",
    ];
    // Initials written with dots or spaces ("M.M.T.P.", "H and H") read
    // as one word ("mmtp", "hh").
    let mut words: Vec<String> = vec![];
    let mut run = String::new();
    for w in normalize(name).split_whitespace() {
        if w.len() == 1 && w.chars().all(|c| c.is_ascii_alphabetic()) {
            run.push_str(w);
            continue;
        }
        if !run.is_empty() {
            words.push(std::mem::take(&mut run));
        }
        words.push(w.to_string());
    }
    if !run.is_empty() {
        words.push(run);
    }
    words
        .into_iter()
        .filter(|w| !COMMON.contains(&w.as_str()))
        .collect()
}

/// The first word of a name that tells it apart ("Saint Barnabas Hospital"
/// → "barnabas", "NYC H+H Bellevue" → "bellevue"): listings of one
/// organization in different files usually agree on it.
pub fn lead_word(name: &str) -> Option<String> {
    const TITLES: &[&str] = &[
        "saint", "the", "nyc", "new", "north", "south", "east", "west",
    ];
    normalize(name)
        .split_whitespace()
        .find(|w| w.len() > 2 && !TITLES.contains(w) && !w.chars().all(|c| c.is_ascii_digit()))
        .map(str::to_string)
}

/// The de-duplication key and the stable id derived from it.
pub fn key(name: &str, street: &str, city: &str, state: &str) -> String {
    format!(
        "{}|{}|{}|{}",
        normalize(name),
        normalize(street),
        normalize(city),
        state.trim().to_uppercase()
    )
}

pub fn id_for(key: &str) -> String {
    use sha2::{Digest, Sha256};
    hex::encode(&Sha256::digest(key.as_bytes())[..8])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalization_merges_spellings() {
        assert_eq!(
            key(
                "A New Beginning, Inc.",
                "122 Helton Court",
                "Florence",
                "al"
            ),
            key("a new beginning", "122 HELTON CT.", "Florence", "AL")
        );
        assert_ne!(
            key("A", "1 Main St", "X", "AL"),
            key("A", "2 Main St", "X", "AL")
        );
        assert_eq!(id_for("x").len(), 16);
    }

    #[test]
    fn directory_contact_fields_become_dialable_numbers() {
        let p = phones("(602)258-6797x931 Intakes: (602)523-9312 (602)258- 6797x0");
        assert_eq!(p.len(), 3);
        assert_eq!(
            (p[0].usage, p[0].digits.as_str()),
            (PhoneUse::Main, "6022586797")
        );
        assert_eq!(p[0].ext.as_deref(), Some("931"));
        assert_eq!(p[0].tel(), "tel:+16022586797,931");
        assert_eq!(p[0].display(), "(602) 258-6797 ext. 931");
        assert_eq!((p[1].usage, p[1].ext.clone()), (PhoneUse::Intake, None));
        assert_eq!(p[1].tel(), "tel:+16025239312");
        assert_eq!(
            (p[2].usage, p[2].ext.as_deref()),
            (PhoneUse::Intake, Some("0"))
        );
        // Free text as a program types it; a repeat is listed once.
        let q = phones("1-410-555-0100 ext. 2, or 410.555.0100 ext 2");
        assert_eq!(q.len(), 1);
        assert_eq!(q[0].tel(), "tel:+14105550100,2");
        // Not a number: nothing rather than a wrong call.
        assert!(phones("call 555-0100").is_empty());
        assert!(phones("").is_empty());
    }

    #[test]
    fn house_numbers_name_the_place() {
        assert_eq!(
            house("311 West 43rd Street, 2nd Floor").as_deref(),
            Some("311 w 43rd")
        );
        assert_eq!(house("311 W. 43rd St").as_deref(), Some("311 w 43rd"));
        assert_eq!(house("PO Box 12"), None);
        assert!(name_words("Harlem East Life Plan (HELP) Treatment Center").contains("help"));
        assert!(!name_words("Harlem East Life Plan Treatment Center").contains("center"));
        assert!(name_words("Bellevue Hospital Center, M.M.T.P.").contains("mmtp"));
        assert!(name_words("NYC H and H/Bellevue Hospital").contains("hh"));
    }
}
