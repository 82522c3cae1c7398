//! Contact input as callers send it, and its validation into [`ContactChanges`].

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use super::{LEAD_SCORE_RANGE, MAX_EXTERNAL_IDS};
use crate::attributes::AttributeSchema;
use crate::email::Email;
use crate::error::{DomainError, Errors, FieldError, pointer_token};
use crate::ids::CompanyId;
use crate::lifecycle::Stage;
use crate::patch::Patch;
use crate::{phone, text};

/// Contact fields as a caller sends them (create, upsert or merge patch), before
/// validation. REST and GraphQL both build this, so both validate the same way.
#[derive(Clone, Debug, Default)]
pub struct ContactInput {
    pub email: Patch<String>,
    pub phone: Patch<String>,
    pub first_name: Patch<String>,
    pub last_name: Patch<String>,
    pub locale: Patch<String>,
    pub country: Patch<String>,
    pub company_id: Patch<CompanyId>,
    /// `null` for a source removes that external id.
    pub external_ids: Patch<BTreeMap<String, Option<String>>>,
    pub tags: Patch<Vec<String>>,
    /// Merge patch: `null` for a key removes it.
    pub attributes: Patch<Map<String, Value>>,
    pub lifecycle_stage: Patch<Stage>,
    pub lead_score: Patch<i64>,
    pub owner_id: Patch<String>,
    /// Consent decisions to record with the write, through the same ledger and in the
    /// same transaction; not a contact field, so [`ContactInput::validate`] leaves them.
    pub consents: Vec<crate::consent::RecordInput>,
}

/// Validated contact changes.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ContactChanges {
    pub email: Patch<Email>,
    pub phone: Patch<String>,
    pub first_name: Patch<String>,
    pub last_name: Patch<String>,
    pub locale: Patch<String>,
    pub country: Patch<String>,
    pub company_id: Patch<CompanyId>,
    /// `Clear` removes every external id; `Set` merges by source.
    pub external_ids: Patch<BTreeMap<String, Option<String>>>,
    pub tags: Option<Vec<String>>,
    /// `Clear` removes every attribute; `Set` merges by key.
    pub attributes: Patch<Map<String, Value>>,
    pub stage: Option<Stage>,
    pub lead_score: Option<i64>,
    pub owner_id: Patch<String>,
}

fn name(p: Patch<String>, pointer: &str, errors: &mut Errors) -> Patch<String> {
    errors
        .take(p.try_map(|v| text::optional_text(&v, pointer, text::MAX_NAME_CHARS)))
        .unwrap_or_default()
}

/// Validates an external id source and value.
pub fn external_id(source: &str, id: &str, pointer: &str) -> Result<(String, String), FieldError> {
    let p = format!("{pointer}/{}", pointer_token(source));
    let source = text::key(source, &p, true)?;
    let id = text::required_text(id, &p, text::MAX_EXTERNAL_ID_CHARS)?;
    Ok((source, id))
}

fn external_ids(
    raw: Patch<BTreeMap<String, Option<String>>>,
    errors: &mut Errors,
) -> Patch<BTreeMap<String, Option<String>>> {
    let ids = match raw {
        Patch::Set(ids) => ids,
        Patch::Clear => return Patch::Clear,
        Patch::Absent => return Patch::Absent,
    };
    let mut out = BTreeMap::new();
    if ids.len() > MAX_EXTERNAL_IDS {
        errors.push(FieldError::new(
            "/external_ids",
            "too_many",
            format!("at most {MAX_EXTERNAL_IDS} external ids"),
        ));
    }
    for (source, id) in ids {
        match id {
            None => {
                let p = format!("/external_ids/{}", pointer_token(&source));
                if let Some(s) = errors.take(text::key(&source, &p, true)) {
                    out.insert(s, None);
                }
            }
            Some(id) => {
                if let Some((s, id)) = errors.take(external_id(&source, &id, "/external_ids")) {
                    out.insert(s, Some(id));
                }
            }
        }
    }
    Patch::Set(out)
}

fn tags(raw: Patch<Vec<String>>, errors: &mut Errors) -> Option<Vec<String>> {
    match raw {
        Patch::Absent => None,
        Patch::Clear => Some(Vec::new()),
        Patch::Set(t) => match text::tags(t.iter().map(String::as_str), "/tags") {
            Ok(t) => Some(t),
            Err(e) => {
                errors.extend(e);
                None
            }
        },
    }
}

fn lead_score(raw: &Patch<i64>, errors: &mut Errors) -> Option<i64> {
    match *raw {
        Patch::Absent => None,
        Patch::Clear => Some(0),
        Patch::Set(s) if LEAD_SCORE_RANGE.contains(&s) => Some(s),
        Patch::Set(_) => {
            errors.push(FieldError::new(
                "/lead_score",
                "out_of_range",
                format!(
                    "must be between {} and {}",
                    LEAD_SCORE_RANGE.start(),
                    LEAD_SCORE_RANGE.end()
                ),
            ));
            None
        }
    }
}

impl ContactInput {
    /// Validates every field, reporting all problems at once.
    pub fn validate(self, schema: &AttributeSchema) -> Result<ContactChanges, DomainError> {
        let mut errors = Errors::default();
        let email = errors
            .take(self.email.try_map(|e| {
                if e.trim().is_empty() {
                    Ok(None)
                } else {
                    Email::parse(&e, "/email").map(Some)
                }
            }))
            .unwrap_or_default();
        let phone = errors
            .take(self.phone.try_map(|p| {
                if p.trim().is_empty() {
                    Ok(None)
                } else {
                    phone::normalise(&p, "/phone").map(Some)
                }
            }))
            .unwrap_or_default();
        let first_name = name(self.first_name, "/first_name", &mut errors);
        let last_name = name(self.last_name, "/last_name", &mut errors);
        let locale = errors
            .take(self.locale.try_map(|l| text::locale(&l, "/locale").map(Some)))
            .unwrap_or_default();
        let country = errors
            .take(self.country.try_map(|c| text::country(&c, "/country").map(Some)))
            .unwrap_or_default();
        let owner_id = errors
            .take(self.owner_id.try_map(|o| text::optional_text(&o, "/owner_id", 255)))
            .unwrap_or_default();
        let external_ids = external_ids(self.external_ids, &mut errors);
        let tags = tags(self.tags, &mut errors);
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
        let stage = match self.lifecycle_stage {
            Patch::Absent => None,
            Patch::Clear => {
                errors.push(FieldError::new(
                    "/lifecycle_stage",
                    "required",
                    "a contact always has a stage",
                ));
                None
            }
            Patch::Set(s) => Some(s),
        };
        let lead_score = lead_score(&self.lead_score, &mut errors);
        errors.finish()?;
        Ok(ContactChanges {
            email,
            phone,
            first_name,
            last_name,
            locale,
            country,
            company_id: self.company_id,
            external_ids,
            tags,
            attributes,
            stage,
            lead_score,
            owner_id,
        })
    }
}
