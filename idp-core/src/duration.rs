//! Duration strings such as "30s", "15m", "1h" and "7d".

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::Error;

/// Parses a duration string: a positive whole number followed by one unit, `s` (seconds),
/// `m` (minutes), `h` (hours) or `d` (days), e.g. `"30s"`, `"15m"`, `"1h"`, `"7d"`.
///
/// ```
/// use std::time::Duration;
/// assert_eq!(idp_core::parse_duration("15m").unwrap(), Duration::from_secs(900));
/// assert!(idp_core::parse_duration("15 minutes").is_err());
/// ```
pub fn parse_duration(s: &str) -> Result<Duration, Error> {
    let bad = || Error::InvalidDuration(s.chars().take(32).collect());
    let s_trim = s.trim();
    let split = s_trim.find(|c: char| !c.is_ascii_digit()).ok_or_else(bad)?;
    let (num, unit) = s_trim.split_at(split);
    if num.is_empty() || num.len() > 12 {
        return Err(bad());
    }
    let n: u64 = num.parse().map_err(|_| bad())?;
    let mult = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3_600,
        "d" => 86_400,
        _ => return Err(bad()),
    };
    if n == 0 {
        return Err(bad());
    }
    Ok(Duration::from_secs(n * mult))
}

/// A [`Duration`] written and read as a duration string ("15m", "7d"), for configuration
/// files.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct HumanDuration(Duration);

impl HumanDuration {
    /// Wraps a duration.
    pub const fn new(d: Duration) -> Self {
        Self(d)
    }

    /// A duration of `secs` seconds.
    pub const fn from_secs(secs: u64) -> Self {
        Self(Duration::from_secs(secs))
    }

    /// The wrapped duration.
    pub const fn get(self) -> Duration {
        self.0
    }

    /// Whole seconds.
    pub const fn as_secs(self) -> u64 {
        self.0.as_secs()
    }
}

impl From<Duration> for HumanDuration {
    fn from(d: Duration) -> Self {
        Self(d)
    }
}

impl From<HumanDuration> for Duration {
    fn from(d: HumanDuration) -> Self {
        d.0
    }
}

impl FromStr for HumanDuration {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self, Error> {
        parse_duration(s).map(Self)
    }
}

impl fmt::Display for HumanDuration {
    /// Writes the largest unit that divides the duration exactly.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = self.0.as_secs();
        if s != 0 && s.is_multiple_of(86_400) {
            write!(f, "{}d", s / 86_400)
        } else if s != 0 && s.is_multiple_of(3_600) {
            write!(f, "{}h", s / 3_600)
        } else if s != 0 && s.is_multiple_of(60) {
            write!(f, "{}m", s / 60)
        } else {
            write!(f, "{s}s")
        }
    }
}

impl Serialize for HumanDuration {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for HumanDuration {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_each_unit() {
        assert_eq!(parse_duration("30s").unwrap(), Duration::from_secs(30));
        assert_eq!(parse_duration("15m").unwrap(), Duration::from_secs(900));
        assert_eq!(parse_duration("1h").unwrap(), Duration::from_secs(3600));
        assert_eq!(parse_duration("7d").unwrap(), Duration::from_secs(604_800));
    }

    #[test]
    fn rejects_everything_else() {
        for bad in [
            "",
            "15",
            "m",
            "15x",
            "1.5h",
            "-1h",
            "0s",
            "15 m",
            "15mm",
            "1h30m",
            "99999999999999d",
            "１５m",
        ] {
            let err = parse_duration(bad).unwrap_err();
            assert!(
                err.to_string().contains("duration"),
                "{bad:?} gave unexpected error {err}"
            );
        }
    }

    #[test]
    fn display_round_trips() {
        for s in ["30s", "15m", "1h", "7d", "90s"] {
            let d: HumanDuration = s.parse().unwrap();
            assert_eq!(d.to_string(), s);
        }
        let d: HumanDuration = serde_json::from_str("\"7d\"").unwrap();
        assert_eq!(serde_json::to_string(&d).unwrap(), "\"7d\"");
    }
}
