//! Email addresses, parsed once at the edge.

use std::fmt;

use serde::{Serialize, Serializer};

use crate::error::FieldError;

/// A syntactically valid email address: trimmed, domain lowercased. Two addresses that
/// differ only in case are the same person ([`Email::key`]), as every mail provider in
/// practice treats them.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Email(String);

impl Email {
    /// Parses an address.
    /// # Errors
    /// `invalid_format` located at `pointer` when it is not an address.
    pub fn parse(raw: &str, pointer: &str) -> Result<Self, FieldError> {
        let bad = |why: &str| {
            FieldError::new(
                pointer,
                "invalid_format",
                format!("is not a valid email address: {why}"),
            )
        };
        let s = raw.trim();
        if s.len() > 254 {
            return Err(bad("longer than 254 characters"));
        }
        let (local, domain) = s.rsplit_once('@').ok_or_else(|| bad("no '@'"))?;
        if local.is_empty() || local.len() > 64 {
            return Err(bad("the part before '@' must be 1 to 64 characters"));
        }
        if local.chars().any(|c| {
            c.is_control()
                || c.is_whitespace()
                || matches!(
                    c,
                    '@' | '<' | '>' | '(' | ')' | '[' | ']' | ',' | ';' | ':' | '\\' | '"'
                )
        }) || local.starts_with('.')
            || local.ends_with('.')
            || local.contains("..")
        {
            return Err(bad("the part before '@' has characters an address cannot have"));
        }
        let domain = domain.to_lowercase();
        let labels: Vec<&str> = domain.split('.').collect();
        if labels.len() < 2 {
            return Err(bad("the domain needs a dot"));
        }
        for label in &labels {
            let ok = !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label.chars().all(|c| c.is_alphanumeric() || c == '-');
            if !ok {
                return Err(bad("the domain is not a host name"));
            }
        }
        Ok(Self(format!("{local}@{domain}")))
    }

    /// The address as stored and shown.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The case-insensitive identity of the address, used for uniqueness and look-ups.
    pub fn key(&self) -> String {
        self.0.to_lowercase()
    }

    /// The key under which addresses that probably reach the same mailbox meet: the
    /// case-insensitive address without a `+suffix` sub-address, and for Gmail without
    /// the dots of the local part (`A.da+shop@GoogleMail.com` and `ada@gmail.com`).
    /// Used to suggest duplicates, never to decide identity.
    pub fn match_key(&self) -> String {
        let key = self.key();
        let Some((local, domain)) = key.rsplit_once('@') else {
            return key;
        };
        let local = local.split_once('+').map_or(local, |(base, _)| base);
        match domain {
            "gmail.com" | "googlemail.com" => format!("{}@gmail.com", local.replace('.', "")),
            _ => format!("{local}@{domain}"),
        }
    }

    /// Rebuilds an address read back from storage, where it was validated on the way in.
    pub fn from_trusted(s: String) -> Self {
        Self(s)
    }
}

impl fmt::Display for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl Serialize for Email {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_address_is_trimmed_and_its_domain_lowercased() {
        let e = Email::parse("  Ada.Lovelace@Example.COM ", "/email").unwrap();
        assert_eq!(e.as_str(), "Ada.Lovelace@example.com");
        assert_eq!(e.key(), "ada.lovelace@example.com");
    }

    #[test]
    fn match_keys_meet_where_mailboxes_probably_do() {
        let key = |s: &str| Email::parse(s, "/email").unwrap().match_key();
        assert_eq!(key("A.da+shop@GoogleMail.com"), "ada@gmail.com");
        assert_eq!(key("ada@gmail.com"), key("a.d.a@gmail.com"));
        assert_eq!(key("Ada.L+news@Example.com"), "ada.l@example.com");
        // Dots matter outside Gmail; a bare `+` leaves an empty sub-address.
        assert_ne!(key("a.da@example.com"), key("ada@example.com"));
        assert_eq!(key("ada+@example.com"), "ada@example.com");
    }

    #[test]
    fn things_that_are_not_addresses_are_refused_at_their_pointer() {
        for bad in [
            "",
            "ada",
            "ada@",
            "@example.com",
            "ada@example",
            "a b@example.com",
            "ada@exa mple.com",
            "ada@-x.com",
            "a..b@x.com",
        ] {
            let e = Email::parse(bad, "/email").unwrap_err();
            assert_eq!(e.pointer, "/email", "{bad}");
            assert_eq!(e.code, "invalid_format");
        }
    }

    #[test]
    fn plus_addressing_and_international_domains_are_accepted() {
        assert!(Email::parse("ada+crm@example.co.uk", "/e").is_ok());
        assert!(Email::parse("jürgen@müller.de", "/e").is_ok());
    }
}
