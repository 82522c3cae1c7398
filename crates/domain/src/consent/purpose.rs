//! Consent purposes: what a workspace asks people to agree to.

use chrono::{DateTime, Utc};

use super::{Channel, LegalBasis};
use crate::error::{DomainError, Errors, FieldError};
use crate::patch::Patch;
use crate::text;

/// Longest purpose description, in characters.
const MAX_DESCRIPTION_CHARS: usize = 2000;

/// A purpose. Its key is its identity: events name it, so it never changes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Purpose {
    pub key: String,
    pub name: String,
    pub description: Option<String>,
    pub channel: Channel,
    /// Whether a grant needs the person's confirmation through a second step.
    pub double_opt_in: bool,
    pub default_legal_basis: LegalBasis,
    /// Archived purposes take no new grants; their records stay.
    pub archived_at: Option<DateTime<Utc>>,
    pub version: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// The purposes every new workspace starts with (DESIGN §4).
pub fn defaults(now: DateTime<Utc>) -> Vec<Purpose> {
    let p = |key: &str, name: &str, description: &str, channel, double_opt_in| Purpose {
        key: key.to_owned(),
        name: name.to_owned(),
        description: Some(description.to_owned()),
        channel,
        double_opt_in,
        default_legal_basis: LegalBasis::Consent,
        archived_at: None,
        version: 1,
        created_at: now,
        updated_at: now,
    };
    vec![
        p(
            "email_marketing",
            "Email marketing",
            "Newsletters and offers by email.",
            Channel::Email,
            true,
        ),
        p(
            "sms_marketing",
            "SMS marketing",
            "Offers and reminders by text message.",
            Channel::Sms,
            true,
        ),
        p(
            "phone_marketing",
            "Phone marketing",
            "Sales and offer calls.",
            Channel::Phone,
            false,
        ),
        p(
            "personalization",
            "Personalization",
            "Tailoring content and recommendations to the person.",
            Channel::Any,
            false,
        ),
        p(
            "analytics",
            "Analytics",
            "Measuring how the person uses the shop and its messages.",
            Channel::Any,
            false,
        ),
        p(
            "third_party_sharing",
            "Third-party sharing",
            "Sharing the person's data with partners.",
            Channel::Any,
            false,
        ),
    ]
}

/// A purpose as a caller creates it.
#[derive(Clone, Debug, Default)]
pub struct NewPurpose {
    pub key: String,
    pub name: String,
    pub description: Option<String>,
    pub channel: String,
    pub double_opt_in: Option<bool>,
    pub default_legal_basis: Option<String>,
}

/// Changes to a purpose (merge patch). The key cannot change.
#[derive(Clone, Debug, Default)]
pub struct PurposePatch {
    pub name: Option<String>,
    pub description: Patch<String>,
    pub channel: Option<String>,
    pub double_opt_in: Option<bool>,
    pub default_legal_basis: Option<String>,
    pub archived: Option<bool>,
}

fn channel(raw: &str) -> Result<Channel, FieldError> {
    Channel::parse(raw).ok_or_else(|| {
        FieldError::new(
            "/channel",
            "invalid_value",
            format!("must be one of {}", Channel::names()),
        )
    })
}

/// Parses a legal basis located at `pointer`.
pub(super) fn legal_basis(raw: &str, pointer: &str) -> Result<LegalBasis, FieldError> {
    LegalBasis::parse(raw).ok_or_else(|| {
        FieldError::new(
            pointer,
            "invalid_value",
            format!("must be one of {}", LegalBasis::names()),
        )
    })
}

fn key(raw: &str) -> Result<String, FieldError> {
    let valid = !raw.is_empty()
        && raw.len() <= 64
        && raw.starts_with(|c: char| c.is_ascii_lowercase())
        && raw
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    if valid {
        Ok(raw.to_owned())
    } else {
        Err(FieldError::new(
            "/key",
            "invalid_format",
            "must be 1 to 64 characters: a lowercase letter, then lowercase letters, digits or _",
        ))
    }
}

impl NewPurpose {
    /// A new purpose.
    /// # Errors
    /// `validation_failed` naming every bad field.
    pub fn validate(self, now: DateTime<Utc>) -> Result<Purpose, DomainError> {
        let mut errors = Errors::default();
        let key = errors.take(key(&self.key));
        let name = errors.take(text::required_text(&self.name, "/name", text::MAX_NAME_CHARS));
        let description = errors.take(self.description.as_deref().map_or(Ok(None), |d| {
            text::optional_text(d, "/description", MAX_DESCRIPTION_CHARS)
        }));
        let channel = errors.take(channel(&self.channel));
        let basis = errors.take(
            self.default_legal_basis
                .as_deref()
                .map_or(Ok(LegalBasis::Consent), |b| legal_basis(b, "/default_legal_basis")),
        );
        errors.finish()?;
        match (key, name, description, channel, basis) {
            (Some(key), Some(name), Some(description), Some(channel), Some(default_legal_basis)) => Ok(Purpose {
                key,
                name,
                description,
                channel,
                double_opt_in: self.double_opt_in.unwrap_or(false),
                default_legal_basis,
                archived_at: None,
                version: 1,
                created_at: now,
                updated_at: now,
            }),
            _ => Err(DomainError::Invalid(Vec::new())),
        }
    }
}

impl Purpose {
    /// The purpose after `patch`; `None` when nothing changes.
    /// # Errors
    /// `validation_failed` naming every bad field.
    pub fn apply(&self, patch: PurposePatch, now: DateTime<Utc>) -> Result<Option<Purpose>, DomainError> {
        let mut errors = Errors::default();
        let mut next = self.clone();
        if let Some(n) = patch.name
            && let Some(n) = errors.take(text::required_text(&n, "/name", text::MAX_NAME_CHARS))
        {
            next.name = n;
        }
        let description = patch
            .description
            .try_map(|d| text::optional_text(&d, "/description", MAX_DESCRIPTION_CHARS));
        if let Some(d) = errors.take(description) {
            next.description = d.apply(next.description);
        }
        if let Some(c) = patch.channel
            && let Some(c) = errors.take(channel(&c))
        {
            next.channel = c;
        }
        if let Some(b) = patch.default_legal_basis
            && let Some(b) = errors.take(legal_basis(&b, "/default_legal_basis"))
        {
            next.default_legal_basis = b;
        }
        if let Some(d) = patch.double_opt_in {
            next.double_opt_in = d;
        }
        match patch.archived {
            Some(true) if next.archived_at.is_none() => next.archived_at = Some(now),
            Some(false) => next.archived_at = None,
            _ => {}
        }
        errors.finish()?;
        if next == *self {
            return Ok(None);
        }
        next.version = self.version + 1;
        next.updated_at = now;
        Ok(Some(next))
    }

    pub fn is_archived(&self) -> bool {
        self.archived_at.is_some()
    }
}
