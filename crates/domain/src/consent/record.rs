//! Recording a decision: the input a caller sends and its validation.

use chrono::{DateTime, Duration, Utc};
use serde::Serialize;

use super::purpose::legal_basis;
use super::{Channel, ConsentEvent, OptInLevel, Purpose, Status};
use crate::email::Email;
use crate::error::{DomainError, Errors, FieldError};
use crate::event::Actor;
use crate::ids::{ConsentEventId, ContactId};
use crate::{phone, text};

/// How far in the future a `captured_at` may lie: clocks of shops and ERPs drift.
pub const CLOCK_SKEW: Duration = Duration::minutes(5);
/// Longest proof text (the wording shown to the person), in characters.
const MAX_PROOF_TEXT_CHARS: usize = 10_000;
/// Longest other proof value (user agent, form, page URL), in characters.
const MAX_PROOF_CHARS: usize = 2_000;

/// What shows the person made the decision.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Proof {
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    /// The version of the privacy policy or terms shown.
    pub policy_version: Option<String>,
    /// The wording the person agreed to.
    pub text: Option<String>,
    /// The form the decision was made in.
    pub form: Option<String>,
    /// The page (URL) the form was on.
    pub page: Option<String>,
}

/// A decision as a caller sends it; enumerations are still text so that a bad value is
/// answered with a pointer to it.
#[derive(Clone, Debug, Default)]
pub struct RecordInput {
    pub purpose: String,
    pub status: String,
    pub legal_basis: Option<String>,
    pub opt_in_level: Option<String>,
    pub contact_point: Option<String>,
    pub source: Option<String>,
    pub captured_at: Option<DateTime<Utc>>,
    pub expires_at: Option<DateTime<Utc>>,
    pub proof: Proof,
}

/// Whether a time lies in the years both databases and every client handle.
fn in_range(t: DateTime<Utc>) -> bool {
    use chrono::Datelike;
    (1970..=9999).contains(&t.year())
}

/// Normalises a contact point for a channel: an email address for email, a phone
/// number for SMS and phone, either for the others. Emails are compared
/// case-insensitively, so they are kept lowercased.
/// # Errors
/// `invalid_format` at `/contact_point`.
pub fn contact_point(raw: &str, channel: Channel) -> Result<String, FieldError> {
    const P: &str = "/contact_point";
    let email = || Email::parse(raw, P).map(|e| e.key());
    match channel {
        Channel::Email => email(),
        Channel::Sms | Channel::Phone => phone::normalise(raw, P),
        Channel::Postal | Channel::Push | Channel::Any => {
            if raw.contains('@') {
                email()
            } else {
                phone::normalise(raw, P)
            }
        }
    }
}

fn source(raw: Option<&str>) -> Result<String, FieldError> {
    const P: &str = "/source";
    let raw =
        raw.ok_or_else(|| FieldError::new(P, "required", "name where the decision was captured, e.g. checkout"))?;
    let valid = !raw.is_empty()
        && raw.len() <= 64
        && raw.starts_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit())
        && raw
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '_' | '.' | '-'));
    if valid {
        Ok(raw.to_owned())
    } else {
        Err(FieldError::new(
            P,
            "invalid_format",
            "must be 1 to 64 lowercase letters, digits, _ . or -, e.g. checkout, form, import, erp",
        ))
    }
}

fn status(raw: &str) -> Result<Status, FieldError> {
    match Status::parse(raw) {
        Some(s @ (Status::Granted | Status::Denied | Status::Withdrawn)) => Ok(s),
        _ => Err(FieldError::new(
            "/status",
            "invalid_value",
            "must be one of granted, denied, withdrawn",
        )),
    }
}

fn opt_in_level(raw: Option<&str>) -> Result<OptInLevel, FieldError> {
    raw.map_or(Ok(OptInLevel::Unknown), |r| {
        OptInLevel::parse(r).ok_or_else(|| {
            FieldError::new(
                "/opt_in_level",
                "invalid_value",
                format!("must be one of {}", OptInLevel::names()),
            )
        })
    })
}

/// Checks and trims proof values (pointers under `/proof`).
/// # Errors
/// The field errors, one per bad value.
pub fn proof(p: Proof) -> Result<Proof, Vec<FieldError>> {
    let mut errors = Errors::default();
    let mut field = |v: Option<String>, name: &str, max: usize| {
        v.and_then(|v| {
            errors
                .take(text::optional_text(&v, &format!("/proof/{name}"), max))
                .flatten()
        })
    };
    let out = Proof {
        ip: field(p.ip, "ip", 64),
        user_agent: field(p.user_agent, "user_agent", MAX_PROOF_CHARS),
        policy_version: field(p.policy_version, "policy_version", 200),
        text: field(p.text, "text", MAX_PROOF_TEXT_CHARS),
        form: field(p.form, "form", MAX_PROOF_CHARS),
        page: field(p.page, "page", MAX_PROOF_CHARS),
    };
    if errors.is_empty() {
        Ok(out)
    } else {
        Err(errors.into_inner())
    }
}

impl RecordInput {
    /// The event this input records for `contact`, checked against its purpose (`None`
    /// when the workspace has no purpose with that key). A grant for a purpose that needs
    /// double opt-in, not already confirmed, is recorded as `pending_confirmation`.
    /// # Errors
    /// `validation_failed` naming every bad field (pointers relative to the input);
    /// `purpose_archived` for a grant of an archived purpose.
    pub fn validate(
        self,
        purpose: Option<&Purpose>,
        contact_id: ContactId,
        actor: Actor,
        now: DateTime<Utc>,
    ) -> Result<ConsentEvent, DomainError> {
        let mut errors = Errors::default();
        if purpose.is_none() {
            errors.push(FieldError::new(
                "/purpose",
                "unknown_purpose",
                format!("no consent purpose '{}' in this workspace", self.purpose),
            ));
        }
        let status = errors.take(status(&self.status));
        let basis = match (&self.legal_basis, purpose) {
            (Some(b), _) => errors.take(legal_basis(b, "/legal_basis")),
            (None, Some(p)) => Some(p.default_legal_basis),
            (None, None) => None,
        };
        let level = errors.take(opt_in_level(self.opt_in_level.as_deref()));
        let point = match (self.contact_point.as_deref().map(str::trim), purpose) {
            (None | Some(""), _) => Some(None),
            (Some(raw), Some(p)) => errors.take(contact_point(raw, p.channel)).map(Some),
            (Some(_), None) => None,
        };
        let source = errors.take(source(self.source.as_deref()));
        let captured_at = crate::truncate_to_micros(self.captured_at.unwrap_or(now));
        if !in_range(captured_at) {
            errors.push(FieldError::new(
                "/captured_at",
                "out_of_range",
                "must lie between 1970 and 9999",
            ));
        } else if captured_at > now + CLOCK_SKEW {
            errors.push(FieldError::new(
                "/captured_at",
                "in_future",
                "lies in the future: captured_at is when the person decided",
            ));
        }
        let expires_at = self.expires_at.map(crate::truncate_to_micros);
        if expires_at.is_some_and(|e| !in_range(e)) {
            errors.push(FieldError::new(
                "/expires_at",
                "out_of_range",
                "must lie between 1970 and 9999",
            ));
        } else if expires_at.is_some_and(|e| e <= captured_at) {
            errors.push(FieldError::new(
                "/expires_at",
                "invalid_value",
                "must be after captured_at",
            ));
        }
        let proof = match proof(self.proof) {
            Ok(p) => Some(p),
            Err(e) => {
                errors.extend(e);
                None
            }
        };
        errors.finish()?;
        // Every `None` above recorded an error, so `finish` has returned already.
        let (
            Some(purpose),
            Some(mut status),
            Some(legal_basis),
            Some(opt_in_level),
            Some(contact_point),
            Some(source),
            Some(proof),
        ) = (purpose, status, basis, level, point, source, proof)
        else {
            return Err(DomainError::Invalid(Vec::new()));
        };
        if status == Status::Granted && purpose.is_archived() {
            return Err(DomainError::PurposeArchived(purpose.key.clone()));
        }
        if status == Status::Granted && purpose.double_opt_in && opt_in_level != OptInLevel::Confirmed {
            status = Status::PendingConfirmation;
        }
        Ok(ConsentEvent {
            id: ConsentEventId::new(),
            contact_id,
            purpose: purpose.key.clone(),
            status,
            legal_basis,
            opt_in_level,
            contact_point,
            source,
            captured_at,
            recorded_at: now,
            expires_at,
            proof,
            actor,
        })
    }
}
