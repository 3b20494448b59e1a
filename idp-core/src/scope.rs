//! Scope sets (RFC 6749 §3.3).

use std::collections::BTreeSet;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::Error;

/// A set of scope tokens: parsed from and written as a space-delimited string, order-
/// insensitive and without duplicates.
///
/// ```
/// use idp_core::Scope;
/// let a: Scope = "openid email openid profile".parse().unwrap();
/// let b: Scope = "profile email openid".parse().unwrap();
/// assert_eq!(a, b);
/// assert_eq!(a.to_string(), "email openid profile");
/// assert!("email".parse::<Scope>().unwrap().is_subset(&a));
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Scope(BTreeSet<String>);

fn valid_token(t: &str) -> bool {
    !t.is_empty()
        && t.bytes()
            .all(|b| b == 0x21 || (0x23..=0x5B).contains(&b) || (0x5D..=0x7E).contains(&b))
}

impl Scope {
    /// The empty set.
    pub fn new() -> Self {
        Self::default()
    }

    /// Parses a space-delimited scope string; empty tokens (repeated spaces) are ignored.
    pub fn parse(s: &str) -> Result<Self, Error> {
        let mut set = BTreeSet::new();
        for t in s.split(' ').filter(|t| !t.is_empty()) {
            if !valid_token(t) {
                return Err(Error::InvalidScope(
                    "scope tokens may contain only printable ASCII except '\"' and '\\'".into(),
                ));
            }
            set.insert(t.to_owned());
        }
        Ok(Self(set))
    }

    /// Builds a scope from tokens, validating each.
    pub fn from_tokens<I, S>(tokens: I) -> Result<Self, Error>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let mut set = BTreeSet::new();
        for t in tokens {
            for part in t.as_ref().split(' ').filter(|p| !p.is_empty()) {
                if !valid_token(part) {
                    return Err(Error::InvalidScope(format!("bad scope token {part:?}")));
                }
                set.insert(part.to_owned());
            }
        }
        Ok(Self(set))
    }

    /// Whether the set holds `token`.
    pub fn contains(&self, token: &str) -> bool {
        self.0.contains(token)
    }

    /// Whether every token of `self` is in `other`.
    pub fn is_subset(&self, other: &Scope) -> bool {
        self.0.is_subset(&other.0)
    }

    /// The tokens in both sets.
    pub fn intersection(&self, other: &Scope) -> Scope {
        Scope(self.0.intersection(&other.0).cloned().collect())
    }

    /// The tokens of `self` that are not in `other`.
    pub fn difference(&self, other: &Scope) -> Scope {
        Scope(self.0.difference(&other.0).cloned().collect())
    }

    /// Adds a token (not validated; use for server-chosen constants).
    pub fn insert(&mut self, token: impl Into<String>) {
        self.0.insert(token.into());
    }

    /// Whether the set is empty.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Number of tokens.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// The tokens, sorted.
    pub fn iter(&self) -> impl Iterator<Item = &str> {
        self.0.iter().map(String::as_str)
    }
}

impl FromStr for Scope {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self, Error> {
        Self::parse(s)
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut first = true;
        for t in &self.0 {
            if !first {
                f.write_str(" ")?;
            }
            first = false;
            f.write_str(t)?;
        }
        Ok(())
    }
}

impl Serialize for Scope {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Scope {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Scope::parse(&s).map_err(serde::de::Error::custom)
    }
}

impl<'a> IntoIterator for &'a Scope {
    type Item = &'a String;
    type IntoIter = std::collections::btree_set::Iter<'a, String>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.iter()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dedups_and_sorts() {
        let s = Scope::parse("b a  b c").unwrap();
        assert_eq!(s.len(), 3);
        assert_eq!(s.to_string(), "a b c");
    }

    #[test]
    fn rejects_bad_characters() {
        assert!(Scope::parse("a\"b").is_err());
        assert!(Scope::parse("a\\b").is_err());
        assert!(Scope::parse("a\tb").is_err());
        assert!(Scope::parse("é").is_err());
    }

    #[test]
    fn set_operations() {
        let all = Scope::parse("read write admin").unwrap();
        let req = Scope::parse("read admin").unwrap();
        assert!(req.is_subset(&all));
        assert!(!all.is_subset(&req));
        assert_eq!(all.difference(&req).to_string(), "write");
        assert_eq!(all.intersection(&req).to_string(), "admin read");
    }

    #[test]
    fn serde_as_string() {
        let s: Scope = serde_json::from_str("\"x y\"").unwrap();
        assert_eq!(serde_json::to_value(&s).unwrap(), "x y");
    }
}
