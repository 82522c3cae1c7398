//! Permissions carried by tokens (OAuth2 scopes).

use std::collections::BTreeSet;
use std::fmt;

/// One permission. `admin` grants every other.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Scope {
    Admin,
    ContactsRead,
    ContactsWrite,
    CompaniesRead,
    CompaniesWrite,
    LifecycleOverride,
    AttributesWrite,
    ConsentRead,
    ConsentWrite,
    ConsentManage,
    PrivacyErase,
    EventsRead,
    WebhooksManage,
    ConnectorsManage,
    SegmentsRead,
    SegmentsWrite,
    OrdersRead,
    OrdersWrite,
}

impl Scope {
    pub const ALL: [Scope; 18] = [
        Scope::Admin,
        Scope::ContactsRead,
        Scope::ContactsWrite,
        Scope::CompaniesRead,
        Scope::CompaniesWrite,
        Scope::LifecycleOverride,
        Scope::AttributesWrite,
        Scope::ConsentRead,
        Scope::ConsentWrite,
        Scope::ConsentManage,
        Scope::PrivacyErase,
        Scope::EventsRead,
        Scope::WebhooksManage,
        Scope::ConnectorsManage,
        Scope::SegmentsRead,
        Scope::SegmentsWrite,
        Scope::OrdersRead,
        Scope::OrdersWrite,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Scope::Admin => "admin",
            Scope::ContactsRead => "contacts:read",
            Scope::ContactsWrite => "contacts:write",
            Scope::CompaniesRead => "companies:read",
            Scope::CompaniesWrite => "companies:write",
            Scope::LifecycleOverride => "lifecycle:override",
            Scope::AttributesWrite => "attributes:write",
            Scope::ConsentRead => "consent:read",
            Scope::ConsentWrite => "consent:write",
            Scope::ConsentManage => "consent:manage",
            Scope::PrivacyErase => "privacy:erase",
            Scope::EventsRead => "events:read",
            Scope::WebhooksManage => "webhooks:manage",
            Scope::ConnectorsManage => "connectors:manage",
            Scope::SegmentsRead => "segments:read",
            Scope::SegmentsWrite => "segments:write",
            Scope::OrdersRead => "orders:read",
            Scope::OrdersWrite => "orders:write",
        }
    }

    pub fn parse(s: &str) -> Option<Scope> {
        Scope::ALL.into_iter().find(|sc| sc.as_str() == s)
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A set of scopes, written on the wire as a space-separated string (RFC 6749 §3.3).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ScopeSet(BTreeSet<Scope>);

impl ScopeSet {
    /// Parses a scope string where every scope must be known (API client creation).
    /// # Errors
    /// The first unknown scope, so the caller can name it.
    pub fn parse_strict(s: &str) -> Result<Self, String> {
        s.split_whitespace()
            .map(|p| Scope::parse(p).ok_or_else(|| p.to_owned()))
            .collect::<Result<BTreeSet<_>, _>>()
            .map(Self)
    }

    /// Parses a scope string, ignoring scopes Rapport does not know (tokens from an
    /// identity provider often carry others, such as `openid`).
    pub fn parse_lenient(s: &str) -> Self {
        Self(s.split_whitespace().filter_map(Scope::parse).collect())
    }

    pub fn from_scopes(scopes: impl IntoIterator<Item = Scope>) -> Self {
        Self(scopes.into_iter().collect())
    }

    /// Whether this set grants `scope` (directly or through `admin`).
    pub fn grants(&self, scope: Scope) -> bool {
        self.0.contains(&Scope::Admin) || self.0.contains(&scope)
    }

    /// Whether every scope of `other` is granted by this set.
    pub fn covers(&self, other: &ScopeSet) -> bool {
        other.0.iter().all(|s| self.grants(*s))
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn iter(&self) -> impl Iterator<Item = Scope> + '_ {
        self.0.iter().copied()
    }

    /// The scopes as wire strings, in a stable order.
    pub fn names(&self) -> Vec<&'static str> {
        self.0.iter().map(|s| s.as_str()).collect()
    }
}

impl fmt::Display for ScopeSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.names().join(" "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn admin_grants_every_scope() {
        let s = ScopeSet::parse_strict("admin").unwrap();
        for sc in Scope::ALL {
            assert!(s.grants(sc));
        }
    }

    #[test]
    fn a_read_scope_does_not_grant_writing() {
        let s = ScopeSet::parse_strict("contacts:read").unwrap();
        assert!(s.grants(Scope::ContactsRead));
        assert!(!s.grants(Scope::ContactsWrite));
    }

    #[test]
    fn unknown_scopes_are_named_when_strict_and_ignored_when_lenient() {
        assert_eq!(
            ScopeSet::parse_strict("contacts:read contacts:eat").unwrap_err(),
            "contacts:eat"
        );
        assert_eq!(
            ScopeSet::parse_lenient("openid contacts:read").to_string(),
            "contacts:read"
        );
    }

    #[test]
    fn covers_compares_whole_sets() {
        let have = ScopeSet::parse_strict("contacts:read contacts:write").unwrap();
        assert!(have.covers(&ScopeSet::parse_strict("contacts:read").unwrap()));
        assert!(!have.covers(&ScopeSet::parse_strict("admin").unwrap()));
    }
}
