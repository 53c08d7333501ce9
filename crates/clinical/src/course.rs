//! The expected course of withdrawal after the last opioid, and what follows
//! from it: when COWS checks are due and when buprenorphine may safely start.
//!
//! Windows (hours after last use), from the clinical reference §7.3 (SAMHSA
//! TIP 45; Medscape-derived ranges; product brief): heroin/short-acting onset
//! 6–12 h, peak 24–72 h, acute phase over by 5–7 days (up to 10); methadone
//! onset 30–72 h, peak 72–96 h, 10–14+ days. Fentanyl and buprenorphine
//! windows are not verified in a primary source: they are defaults that a
//! program can override (`windows` in the input).
//! Buprenorphine waits: label ≥4 h short-acting / ≥24 h long-acting; common
//! guidance ≥12 h short-acting, ≥24 h (often more) fentanyl, ≥72 h methadone
//! (clinical reference §5.1, PARTIAL) — defaults, configurable.

use crate::{InputError, Result};
use jiff::{SignedDuration, Timestamp};
use serde::{Deserialize, Serialize};

pub const CITATION: &str = "SAMHSA TIP 45 (withdrawal timelines); buprenorphine label and ASAM 2020 focused update (induction timing)";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Opioid {
    Heroin,
    ShortActing,
    Fentanyl,
    Methadone,
    Buprenorphine,
}

/// Expected windows in hours after last use.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Windows {
    pub onset_from_h: u32,
    pub onset_to_h: u32,
    pub peak_from_h: u32,
    pub peak_to_h: u32,
    pub resolved_from_h: u32,
    pub resolved_to_h: u32,
    /// Minimum hours after last use before a first buprenorphine dose (absent for buprenorphine itself).
    pub buprenorphine_wait_h: Option<u32>,
    /// Whether these windows are verified in a primary source.
    pub verified: bool,
}

/// Default windows per opioid.
pub fn default_windows(o: Opioid) -> Windows {
    match o {
        Opioid::Heroin | Opioid::ShortActing => Windows {
            onset_from_h: 6,
            onset_to_h: 12,
            peak_from_h: 24,
            peak_to_h: 72,
            resolved_from_h: 120,
            resolved_to_h: 240,
            buprenorphine_wait_h: Some(12),
            verified: true,
        },
        // UNVERIFIED: lipophilic, accumulates; slower, longer withdrawal; wait ≥24 h (many wait up to 72 h).
        Opioid::Fentanyl => Windows {
            onset_from_h: 8,
            onset_to_h: 24,
            peak_from_h: 36,
            peak_to_h: 96,
            resolved_from_h: 168,
            resolved_to_h: 336,
            buprenorphine_wait_h: Some(24),
            verified: false,
        },
        Opioid::Methadone => Windows {
            onset_from_h: 30,
            onset_to_h: 72,
            peak_from_h: 72,
            peak_to_h: 96,
            resolved_from_h: 240,
            resolved_to_h: 336,
            buprenorphine_wait_h: Some(72),
            verified: true,
        },
        // UNVERIFIED: partial agonist with a long half-life.
        Opioid::Buprenorphine => Windows {
            onset_from_h: 24,
            onset_to_h: 72,
            peak_from_h: 72,
            peak_to_h: 120,
            resolved_from_h: 240,
            resolved_to_h: 480,
            buprenorphine_wait_h: None,
            verified: false,
        },
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Input {
    pub opioid: Opioid,
    /// RFC 3339 time of last use.
    pub last_use: String,
    /// RFC 3339 "now" (the CLI and API fill it in when absent).
    pub now: Option<String>,
    /// Program-specific windows replacing the defaults.
    pub windows: Option<Windows>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    BeforeOnset,
    Onset,
    Peak,
    Subsiding,
    Resolved,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Output {
    pub hours_since_last_use: f64,
    pub phase: Phase,
    pub onset: [String; 2],
    pub peak: [String; 2],
    pub acute_phase_over: [String; 2],
    /// Suggested hours between COWS checks in this phase (hourly is for
    /// moderately severe scores; see the flowsheet protocol).
    pub cows_check_every_h: u32,
    pub buprenorphine_earliest: Option<String>,
    pub buprenorphine_wait_met: Option<bool>,
    pub windows: Windows,
    pub verified: bool,
    pub citation: String,
}

fn ts(field: &str, s: &str) -> Result<Timestamp> {
    s.parse()
        .map_err(|_| InputError::new(field, "must be an RFC 3339 time, e.g. 2026-11-22T06:00:00Z"))
}

pub fn course(input: &Input) -> Result<Output> {
    let last = ts("last_use", &input.last_use)?;
    let now = ts(
        "now",
        input
            .now
            .as_deref()
            .ok_or_else(|| InputError::new("now", "is required"))?,
    )?;
    if last > now {
        return Err(InputError::new("last_use", "is in the future"));
    }
    let w = input
        .windows
        .unwrap_or_else(|| default_windows(input.opioid));
    if !(w.onset_from_h <= w.onset_to_h
        && w.onset_from_h <= w.peak_from_h
        && w.peak_from_h <= w.peak_to_h
        && w.peak_to_h <= w.resolved_to_h
        && w.resolved_from_h <= w.resolved_to_h)
    {
        return Err(InputError::new(
            "windows",
            "windows must be ordered: onset ≤ peak ≤ resolution",
        ));
    }
    let at = |h: u32| (last + SignedDuration::from_hours(h as i64)).to_string();
    let hours = (now.as_second() - last.as_second()) as f64 / 3600.0;
    let phase = if hours < w.onset_from_h as f64 {
        Phase::BeforeOnset
    } else if hours < w.peak_from_h as f64 {
        Phase::Onset
    } else if hours <= w.peak_to_h as f64 {
        Phase::Peak
    } else if hours < w.resolved_to_h as f64 {
        Phase::Subsiding
    } else {
        Phase::Resolved
    };
    // Check more often as withdrawal builds (TIP 45 practice: serial COWS);
    // the flowsheet tightens to hourly for moderately severe scores.
    let cows_check_every_h = match phase {
        Phase::BeforeOnset => 4,
        Phase::Onset | Phase::Peak => 2,
        Phase::Subsiding => 4,
        Phase::Resolved => 8,
    };
    let bup = w.buprenorphine_wait_h.map(|h| (at(h), hours >= h as f64));
    Ok(Output {
        hours_since_last_use: (hours * 10.0).round() / 10.0,
        phase,
        onset: [at(w.onset_from_h), at(w.onset_to_h)],
        peak: [at(w.peak_from_h), at(w.peak_to_h)],
        acute_phase_over: [at(w.resolved_from_h), at(w.resolved_to_h)],
        cows_check_every_h,
        buprenorphine_earliest: bup.as_ref().map(|b| b.0.clone()),
        buprenorphine_wait_met: bup.map(|b| b.1),
        verified: w.verified,
        windows: w,
        citation: CITATION.into(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn inp(o: Opioid, last: &str, now: &str) -> Input {
        Input {
            opioid: o,
            last_use: last.into(),
            now: Some(now.into()),
            windows: None,
        }
    }

    #[test]
    fn heroin_timeline() {
        let o = course(&inp(
            Opioid::Heroin,
            "2026-11-20T22:00:00Z",
            "2026-11-21T10:00:00Z",
        ))
        .unwrap();
        assert_eq!(o.hours_since_last_use, 12.0);
        assert_eq!(o.phase, Phase::Onset);
        assert_eq!(o.onset[0], "2026-11-21T04:00:00Z");
        assert_eq!(
            o.buprenorphine_earliest.as_deref(),
            Some("2026-11-21T10:00:00Z")
        );
        assert_eq!(o.buprenorphine_wait_met, Some(true));
        let o = course(&inp(
            Opioid::Heroin,
            "2026-11-20T22:00:00Z",
            "2026-11-22T10:00:00Z",
        ))
        .unwrap();
        assert_eq!(o.phase, Phase::Peak);
    }

    #[test]
    fn methadone_waits_longer_for_buprenorphine() {
        let o = course(&inp(
            Opioid::Methadone,
            "2026-11-20T08:00:00Z",
            "2026-11-22T08:00:00Z",
        ))
        .unwrap();
        assert_eq!(o.buprenorphine_wait_met, Some(false));
        assert_eq!(
            o.buprenorphine_earliest.as_deref(),
            Some("2026-11-23T08:00:00Z")
        );
        assert_eq!(o.phase, Phase::Onset);
    }

    #[test]
    fn bad_times_are_named() {
        assert_eq!(
            course(&inp(Opioid::Heroin, "yesterday", "2026-11-22T08:00:00Z"))
                .unwrap_err()
                .field,
            "last_use"
        );
        assert_eq!(
            course(&inp(
                Opioid::Heroin,
                "2026-11-23T08:00:00Z",
                "2026-11-22T08:00:00Z"
            ))
            .unwrap_err()
            .field,
            "last_use"
        );
        let mut i = inp(
            Opioid::Fentanyl,
            "2026-11-20T08:00:00Z",
            "2026-11-22T08:00:00Z",
        );
        i.now = None;
        assert_eq!(course(&i).unwrap_err().field, "now");
        assert!(
            !course(&inp(
                Opioid::Fentanyl,
                "2026-11-20T08:00:00Z",
                "2026-11-22T08:00:00Z"
            ))
            .unwrap()
            .verified
        );
    }
}
