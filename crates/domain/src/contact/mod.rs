//! Contacts: the people a business knows.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde_json::{Map, Value};

use crate::attributes::{self, AttributeSchema, AttributeType};
use crate::email::Email;
use crate::error::DomainError;
use crate::ids::{CompanyId, ContactId, WorkspaceId};
use crate::lifecycle::{Authority, Direction, Stage, StageState};
use crate::patch::Patch;
use crate::text;

/// Lead score bounds (scores may be negative: some signals count against a lead).
pub const LEAD_SCORE_RANGE: std::ops::RangeInclusive<i64> = -1_000_000..=1_000_000;
/// Most external ids one contact may carry.
pub const MAX_EXTERNAL_IDS: usize = 50;

mod input;
pub mod merge;
pub use input::{ContactChanges, ContactInput, external_id};

/// A contact.
#[derive(Clone, Debug, PartialEq)]
pub struct Contact {
    pub id: ContactId,
    pub workspace_id: WorkspaceId,
    pub email: Option<Email>,
    pub phone: Option<String>,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub locale: Option<String>,
    pub country: Option<String>,
    pub company_id: Option<CompanyId>,
    /// Ids of this person in other systems, by source (`shopify` → `7001`).
    pub external_ids: BTreeMap<String, String>,
    /// Sorted, lowercase, unique.
    pub tags: Vec<String>,
    pub attributes: Map<String, Value>,
    pub stage: StageState,
    pub lead_score: i64,
    pub owner_id: Option<String>,
    pub version: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// Set when the person's data was erased: the contact is a tombstone from then on.
    pub erased_at: Option<DateTime<Utc>>,
}

/// The result of applying changes to a contact.
#[derive(Clone, Debug)]
pub struct Applied {
    pub contact: Contact,
    /// The stage move, when the stage changed.
    pub moved: Option<(Stage, Direction)>,
    /// Whether anything changed at all (an unchanged upsert writes and emits nothing).
    pub changed: bool,
}

impl Contact {
    /// A new contact from validated changes. It starts at `subscriber` unless a stage is
    /// given.
    /// # Errors
    /// `validation_failed` when the contact would have nothing to identify it by.
    pub fn create(
        id: ContactId,
        workspace_id: WorkspaceId,
        changes: ContactChanges,
        now: DateTime<Utc>,
    ) -> Result<Self, DomainError> {
        let stage = changes.stage.unwrap_or(Stage::Subscriber);
        let blank = Self {
            id,
            workspace_id,
            email: None,
            phone: None,
            first_name: None,
            last_name: None,
            locale: None,
            country: None,
            company_id: None,
            external_ids: BTreeMap::new(),
            tags: Vec::new(),
            attributes: Map::new(),
            stage: StageState::start(stage, now),
            lead_score: 0,
            owner_id: None,
            version: 1,
            created_at: now,
            updated_at: now,
            erased_at: None,
        };
        let contact = blank.with_fields(ContactChanges { stage: None, ..changes });
        contact.check_identity()?;
        Ok(contact)
    }

    /// The contact after `changes`, with the stage move checked against the lifecycle
    /// rules. Version and `updated_at` advance only when something changed.
    /// # Errors
    /// `stage_transition_not_allowed` for a forbidden move; `validation_failed` when the
    /// contact would be left with nothing to identify it by.
    pub fn apply(
        &self,
        changes: ContactChanges,
        authority: Authority<'_>,
        now: DateTime<Utc>,
    ) -> Result<Applied, DomainError> {
        let target = changes.stage;
        let mut next = self.clone().with_fields(changes);
        let mut moved = None;
        if let Some(to) = target
            && let Some(direction) = self.stage.stage.check(to, authority)?
        {
            next.stage = self.stage.moved_to(to, now);
            moved = Some((to, direction));
        }
        let differs = next != *self;
        if differs {
            next.check_identity()?;
            next.version = self.version + 1;
            next.updated_at = now;
        }
        Ok(Applied {
            contact: next,
            moved,
            changed: differs,
        })
    }

    /// Applies every field but the stage.
    fn with_fields(mut self, c: ContactChanges) -> Self {
        self.email = c.email.apply(self.email);
        self.phone = c.phone.apply(self.phone);
        self.first_name = c.first_name.apply(self.first_name);
        self.last_name = c.last_name.apply(self.last_name);
        self.locale = c.locale.apply(self.locale);
        self.country = c.country.apply(self.country);
        self.company_id = c.company_id.apply(self.company_id);
        self.owner_id = c.owner_id.apply(self.owner_id);
        match c.external_ids {
            Patch::Absent => {}
            Patch::Clear => self.external_ids.clear(),
            Patch::Set(ids) => {
                for (source, id) in ids {
                    match id {
                        Some(id) => self.external_ids.insert(source, id),
                        None => self.external_ids.remove(&source),
                    };
                }
            }
        }
        if let Some(tags) = c.tags {
            self.tags = tags;
        }
        match c.attributes {
            Patch::Absent => {}
            Patch::Clear => self.attributes.clear(),
            Patch::Set(a) => self.attributes = attributes::merge(&self.attributes, &a),
        }
        if let Some(score) = c.lead_score {
            self.lead_score = score;
        }
        self
    }

    /// A contact must be findable: it needs an email, a phone, a name or an external id.
    fn check_identity(&self) -> Result<(), DomainError> {
        if self.email.is_some()
            || self.phone.is_some()
            || self.first_name.is_some()
            || self.last_name.is_some()
            || !self.external_ids.is_empty()
        {
            Ok(())
        } else {
            Err(DomainError::field(
                "",
                "identity_required",
                "a contact needs at least one of email, phone, first_name, last_name or external_ids",
            ))
        }
    }

    /// The contact with `add` tags added and `remove` tags removed; `None` if unchanged.
    /// # Errors
    /// `validation_failed` for an invalid tag or too many tags.
    pub fn retagged(&self, add: &[String], remove: &[String], now: DateTime<Utc>) -> Result<Option<Self>, DomainError> {
        let add = text::tags(add.iter().map(String::as_str), "/add").map_err(DomainError::Invalid)?;
        let remove = text::tags(remove.iter().map(String::as_str), "/remove").map_err(DomainError::Invalid)?;
        let mut tags: Vec<String> = self
            .tags
            .iter()
            .filter(|t| !remove.contains(t))
            .cloned()
            .chain(add)
            .collect();
        tags.sort();
        tags.dedup();
        if tags.len() > text::MAX_TAGS {
            return Err(DomainError::field(
                "/add",
                "too_many",
                format!("at most {} tags", text::MAX_TAGS),
            ));
        }
        if tags == self.tags {
            return Ok(None);
        }
        let mut next = self.clone();
        next.tags = tags;
        next.version += 1;
        next.updated_at = now;
        Ok(Some(next))
    }

    /// The tombstone left when the person's data is erased: every field that identifies
    /// or describes the person is removed (email, phone, names, locale, owner, external
    /// ids, and attributes other than numbers, booleans and declared options); the
    /// stage, its history, tags, lead score, company link and the non-personal attributes
    /// stay for the business's aggregates.
    #[must_use]
    pub fn erased(&self, schema: &AttributeSchema, now: DateTime<Utc>) -> Self {
        let mut next = self.clone();
        next.email = None;
        next.phone = None;
        next.first_name = None;
        next.last_name = None;
        next.locale = None;
        next.owner_id = None;
        next.external_ids.clear();
        next.attributes.retain(|k, _| {
            schema.get(k).is_some_and(|d| {
                matches!(
                    d.kind,
                    AttributeType::Number | AttributeType::Boolean | AttributeType::Enum
                )
            })
        });
        next.version = self.version + 1;
        next.updated_at = now;
        next.erased_at = Some(now);
        next
    }

    pub fn is_erased(&self) -> bool {
        self.erased_at.is_some()
    }

    /// First and last name, trimmed and case-folded, when both are given: with the
    /// company, the key under which namesakes are suggested as duplicates.
    pub fn name_key(&self) -> Option<String> {
        Self::name_key_of(self.first_name.as_deref(), self.last_name.as_deref())
    }

    /// [`Contact::name_key`] of a first and last name.
    pub fn name_key_of(first: Option<&str>, last: Option<&str>) -> Option<String> {
        let part = |p: Option<&str>| p.map(str::trim).filter(|p| !p.is_empty()).map(str::to_lowercase);
        Some(format!("{} {}", part(first)?, part(last)?))
    }

    /// A display name: "First Last", or whichever part exists.
    pub fn full_name(&self) -> Option<String> {
        match (&self.first_name, &self.last_name) {
            (Some(f), Some(l)) => Some(format!("{f} {l}")),
            (Some(n), None) | (None, Some(n)) => Some(n.clone()),
            (None, None) => None,
        }
    }
}

#[cfg(test)]
mod tests;
