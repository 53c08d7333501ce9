//! Typed identifiers. All are UUIDv7 (time-ordered, 74 random bits), so URLs never
//! expose guessable sequential integers and indexes stay append-friendly.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;
use uuid::Uuid;

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(pub Uuid);

        impl $name {
            /// A new time-ordered random identifier.
            pub fn new() -> Self {
                Self(Uuid::now_v7())
            }
        }

        impl Default for $name {
            fn default() -> Self {
                Self::new()
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.hyphenated().fmt(f)
            }
        }

        impl FromStr for $name {
            type Err = uuid::Error;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Uuid::parse_str(s).map(Self)
            }
        }

        /// Stored identifiers are canonical text on both databases; the store
        /// decodes them with this (`#[sqlx(try_from = "String")]`).
        impl TryFrom<String> for $name {
            type Error = uuid::Error;
            fn try_from(s: String) -> Result<Self, Self::Error> {
                s.parse()
            }
        }
    };
}

id_type!(
    /// An organization (the legal entity running one or more programs).
    OrgId
);
id_type!(
    /// A program (site) such as an opioid treatment program or a detox unit.
    ProgramId
);
id_type!(
    /// A staff or portal user account.
    UserId
);
id_type!(
    /// A patient.
    PatientId
);
id_type!(
    /// An episode of care (admission to discharge in one program).
    EpisodeId
);
id_type!(
    /// A break-the-glass emergency access grant.
    GrantId
);
id_type!(
    /// A personal API token.
    TokenId
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_round_trip_and_are_v7() {
        let id = PatientId::new();
        let parsed: PatientId = id.to_string().parse().unwrap();
        assert_eq!(id, parsed);
        assert_eq!(id.0.get_version_num(), 7);
    }
}
