//! Account identifiers: [`Username`] and [`Email`], parsed at the edge.

use std::fmt;

/// Why a username was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "a username is 2 to 42 characters: letters, digits, `-`, `_` or `.`, starting with a letter or digit"
)]
pub struct UsernameError;

/// A handle: 2–42 ASCII letters, digits, `-`, `_`, `.`; starts with a letter or digit.
/// Compared case-sensitively, like huggingface.co's.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Username(String);

impl Username {
    /// Parses a handle.
    pub fn parse(s: &str) -> Result<Self, UsernameError> {
        let ok = (2..=42).contains(&s.len())
            && s.starts_with(|c: char| c.is_ascii_alphanumeric())
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
        if ok {
            Ok(Self(s.to_owned()))
        } else {
            Err(UsernameError)
        }
    }

    /// The handle.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Username {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Why an email address was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is not an email address like name@example.org")]
pub struct EmailError(String);

/// An email address: one `@`, a local part and a dotted domain, no white space or control
/// characters, at most 254 bytes. Stored with its domain lowercased.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Email(String);

impl Email {
    /// Parses an address.
    pub fn parse(s: &str) -> Result<Self, EmailError> {
        let s = s.trim();
        let err = || EmailError(s.chars().take(64).collect());
        if s.len() > 254 || s.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(err());
        }
        let (local, domain) = s.rsplit_once('@').ok_or_else(err)?;
        let domain_ok = domain.contains('.')
            && !domain.starts_with('.')
            && !domain.ends_with('.')
            && !domain.contains("..")
            && domain
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.'));
        let local_ok = !local.is_empty()
            && local.len() <= 64
            && !local.contains('@')
            && !local.contains(['<', '>', '"', ',', ';', ':', '\\', '(', ')', '[', ']']);
        if domain_ok && local_ok {
            Ok(Self(format!("{local}@{}", domain.to_ascii_lowercase())))
        } else {
            Err(err())
        }
    }

    /// The address.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn usernames_follow_the_rules() {
        assert!(Username::parse("akhaliq").is_ok());
        assert!(Username::parse("Some-User_1.x").is_ok());
        for bad in ["a", "", "-lead", "has space", "x<script>", &"a".repeat(43)] {
            assert!(Username::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn emails_are_checked_and_their_domain_lowercased() {
        assert_eq!(
            Email::parse(" Ada@Example.ORG ").expect("valid").as_str(),
            "Ada@example.org"
        );
        for bad in [
            "",
            "no-at.example.org",
            "a@b",
            "a@.b.org",
            "a b@example.org",
            "a@example.org\r\nBcc: x@y.org",
            "\"a\"@example.org",
            "a@exa_mple.org",
        ] {
            assert!(Email::parse(bad).is_err(), "{bad:?}");
        }
    }

    proptest! {
        #[test]
        fn no_accepted_email_can_carry_a_header_break(s in "\\PC{0,40}") {
            if let Ok(e) = Email::parse(&s) {
                prop_assert!(!e.as_str().contains(['\r', '\n']));
            }
        }
    }
}
