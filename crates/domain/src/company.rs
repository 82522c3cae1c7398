//! Companies (accounts) contacts belong to.

use chrono::{DateTime, Utc};
use serde_json::{Map, Value};

use crate::attributes::{self, AttributeSchema};
use crate::error::{DomainError, Errors, FieldError};
use crate::ids::{CompanyId, WorkspaceId};
use crate::patch::Patch;
use crate::text;

/// Largest accepted headcount.
pub const MAX_SIZE: i64 = 10_000_000;

/// A company.
#[derive(Clone, Debug, PartialEq)]
pub struct Company {
    pub id: CompanyId,
    pub workspace_id: WorkspaceId,
    pub name: String,
    /// The company's web domain, normalised (`example.com`); unique in a workspace.
    pub domain: Option<String>,
    pub industry: Option<String>,
    /// Headcount (number of employees).
    pub size: Option<i64>,
    pub attributes: Map<String, Value>,
    pub version: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// Company fields as a caller sends them.
#[derive(Clone, Debug, Default)]
pub struct CompanyInput {
    pub name: Patch<String>,
    pub domain: Patch<String>,
    pub industry: Patch<String>,
    pub size: Patch<i64>,
    pub attributes: Patch<Map<String, Value>>,
}

/// Validated company changes.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct CompanyChanges {
    pub name: Option<String>,
    pub domain: Patch<String>,
    pub industry: Patch<String>,
    pub size: Patch<i64>,
    /// `Clear` removes every attribute; `Set` merges by key.
    pub attributes: Patch<Map<String, Value>>,
}

/// Normalises a company domain: scheme, path, port and a leading `www.` are dropped, the
/// rest lowercased, so `https://www.Example.com/about` is `example.com`.
pub fn domain(raw: &str, pointer: &str) -> Result<String, FieldError> {
    let mut d = raw.trim().to_lowercase();
    if let Some(i) = d.find("://") {
        d = d[i + 3..].to_owned();
    }
    if let Some(i) = d.find(['/', '?', '#']) {
        d.truncate(i);
    }
    if let Some(i) = d.rfind(':') {
        d.truncate(i);
    }
    let d = d.strip_prefix("www.").unwrap_or(&d).trim_end_matches('.').to_owned();
    let labels: Vec<&str> = d.split('.').collect();
    let valid = d.len() <= 253
        && labels.len() >= 2
        && labels.iter().all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && !l.starts_with('-')
                && !l.ends_with('-')
                && l.chars().all(|c| c.is_alphanumeric() || c == '-')
        });
    if valid {
        Ok(d)
    } else {
        Err(FieldError::new(
            pointer,
            "invalid_format",
            "must be a domain name such as example.com",
        ))
    }
}

impl CompanyInput {
    /// Validates every field. `creating` makes the name required.
    pub fn validate(self, schema: &AttributeSchema, creating: bool) -> Result<CompanyChanges, DomainError> {
        let mut errors = Errors::default();
        let name = match self.name {
            Patch::Set(n) => errors.take(text::required_text(&n, "/name", text::MAX_NAME_CHARS)),
            Patch::Clear => {
                errors.push(FieldError::new("/name", "required", "a company needs a name"));
                None
            }
            Patch::Absent => {
                if creating {
                    errors.push(FieldError::new("/name", "required", "a company needs a name"));
                }
                None
            }
        };
        let domain = errors
            .take(self.domain.try_map(|d| {
                if d.trim().is_empty() {
                    Ok(None)
                } else {
                    domain(&d, "/domain").map(Some)
                }
            }))
            .unwrap_or_default();
        let industry = errors
            .take(
                self.industry
                    .try_map(|i| text::optional_text(&i, "/industry", text::MAX_NAME_CHARS)),
            )
            .unwrap_or_default();
        let size = match self.size {
            Patch::Set(s) if !(0..=MAX_SIZE).contains(&s) => {
                errors.push(FieldError::new(
                    "/size",
                    "out_of_range",
                    format!("must be between 0 and {MAX_SIZE}"),
                ));
                Patch::Absent
            }
            other => other,
        };
        let attributes = match self.attributes {
            Patch::Set(a) => schema.check_patch(a, "/attributes").map_or_else(
                |e| {
                    errors.extend(e);
                    Patch::Absent
                },
                Patch::Set,
            ),
            other => other,
        };
        errors.finish()?;
        Ok(CompanyChanges {
            name,
            domain,
            industry,
            size,
            attributes,
        })
    }
}

impl Company {
    /// A new company from validated changes (the name was required by validation).
    pub fn create(id: CompanyId, workspace_id: WorkspaceId, changes: CompanyChanges, now: DateTime<Utc>) -> Self {
        let blank = Self {
            id,
            workspace_id,
            name: String::new(),
            domain: None,
            industry: None,
            size: None,
            attributes: Map::new(),
            version: 1,
            created_at: now,
            updated_at: now,
        };
        blank.with(changes)
    }

    /// The company after `changes`, or `None` when nothing changed.
    #[must_use]
    pub fn updated(&self, changes: CompanyChanges, now: DateTime<Utc>) -> Option<Self> {
        let mut next = self.clone().with(changes);
        if next == *self {
            return None;
        }
        next.version += 1;
        next.updated_at = now;
        Some(next)
    }

    fn with(mut self, c: CompanyChanges) -> Self {
        if let Some(n) = c.name {
            self.name = n;
        }
        self.domain = c.domain.apply(self.domain);
        self.industry = c.industry.apply(self.industry);
        self.size = c.size.apply(self.size);
        match c.attributes {
            Patch::Absent => {}
            Patch::Clear => self.attributes.clear(),
            Patch::Set(a) => self.attributes = attributes::merge(&self.attributes, &a),
        }
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn domains_are_normalised_from_urls() {
        assert_eq!(
            domain("https://www.Example.com/about?x=1", "/d").unwrap(),
            "example.com"
        );
        assert_eq!(domain("shop.example.co.uk:443", "/d").unwrap(), "shop.example.co.uk");
        assert!(domain("not a domain", "/d").is_err());
        assert!(domain("localhost", "/d").is_err());
    }

    #[test]
    fn a_company_needs_a_name_only_when_created() {
        let none = CompanyInput::default();
        assert!(none.clone().validate(&AttributeSchema::default(), true).is_err());
        assert!(none.validate(&AttributeSchema::default(), false).is_ok());
    }

    #[test]
    fn an_update_with_the_same_values_changes_nothing() {
        let changes = CompanyInput {
            name: Patch::Set("Acme".into()),
            size: Patch::Set(40),
            ..Default::default()
        }
        .validate(&AttributeSchema::default(), true)
        .unwrap();
        let c = Company::create(CompanyId::new(), WorkspaceId::new(), changes.clone(), Utc::now());
        assert!(c.updated(changes, Utc::now()).is_none());
        let bigger = CompanyChanges {
            size: Patch::Set(41),
            ..Default::default()
        };
        assert_eq!(c.updated(bigger, Utc::now()).unwrap().version, 2);
    }

    #[test]
    fn negative_headcounts_are_refused() {
        let err = CompanyInput {
            name: Patch::Set("Acme".into()),
            size: Patch::Set(-1),
            ..Default::default()
        }
        .validate(&AttributeSchema::default(), true)
        .unwrap_err();
        assert_eq!(err.code(), "validation_failed");
    }
}
