//! Contacts: the people a business knows.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde_json::{Map, Value};

use crate::attributes::{self, AttributeSchema};
use crate::email::Email;
use crate::error::{DomainError, Errors, FieldError, pointer_token};
use crate::ids::{CompanyId, ContactId, WorkspaceId};
use crate::lifecycle::{Authority, Direction, Stage, StageState};
use crate::patch::Patch;
use crate::{phone, text};

/// Lead score bounds (scores may be negative: some signals count against a lead).
pub const LEAD_SCORE_RANGE: std::ops::RangeInclusive<i64> = -1_000_000..=1_000_000;
/// Most external ids one contact may carry.
pub const MAX_EXTERNAL_IDS: usize = 50;

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
}

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
    pub external_ids: Option<BTreeMap<String, Option<String>>>,
    pub tags: Patch<Vec<String>>,
    /// Merge patch: `null` for a key removes it.
    pub attributes: Option<Map<String, Value>>,
    pub lifecycle_stage: Patch<Stage>,
    pub lead_score: Patch<i64>,
    pub owner_id: Patch<String>,
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
    pub external_ids: BTreeMap<String, Option<String>>,
    pub tags: Option<Vec<String>>,
    pub attributes: Map<String, Value>,
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
    raw: Option<BTreeMap<String, Option<String>>>,
    errors: &mut Errors,
) -> BTreeMap<String, Option<String>> {
    let mut out = BTreeMap::new();
    let Some(ids) = raw else { return out };
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
    out
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
            None => Map::new(),
            Some(a) => schema.check_patch(a, "/attributes").unwrap_or_else(|e| {
                errors.extend(e);
                Map::new()
            }),
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
        for (source, id) in c.external_ids {
            match id {
                Some(id) => self.external_ids.insert(source, id),
                None => self.external_ids.remove(&source),
            };
        }
        if let Some(tags) = c.tags {
            self.tags = tags;
        }
        if !c.attributes.is_empty() {
            self.attributes = attributes::merge(&self.attributes, &c.attributes);
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
mod tests {
    use super::*;

    fn input() -> ContactInput {
        ContactInput {
            email: Patch::Set("Ada@Example.com".into()),
            first_name: Patch::Set("Ada".into()),
            ..Default::default()
        }
    }

    fn new_contact() -> Contact {
        let changes = input().validate(&AttributeSchema::default()).unwrap();
        Contact::create(ContactId::new(), WorkspaceId::new(), changes, Utc::now()).unwrap()
    }

    #[test]
    fn a_new_contact_starts_as_a_subscriber() {
        let c = new_contact();
        assert_eq!(c.stage.stage, Stage::Subscriber);
        assert_eq!(c.version, 1);
        assert_eq!(c.email.unwrap().as_str(), "Ada@example.com");
    }

    #[test]
    fn a_contact_without_any_identity_is_refused() {
        let changes = ContactInput::default().validate(&AttributeSchema::default()).unwrap();
        let err = Contact::create(ContactId::new(), WorkspaceId::new(), changes, Utc::now()).unwrap_err();
        assert_eq!(err.code(), "validation_failed");
    }

    #[test]
    fn every_invalid_field_is_reported_together() {
        let err = ContactInput {
            email: Patch::Set("nope".into()),
            country: Patch::Set("XX".into()),
            lead_score: Patch::Set(10_000_000),
            tags: Patch::Set(vec![String::new()]),
            external_ids: Some(BTreeMap::from([("Bad Source".into(), Some("1".into()))])),
            ..Default::default()
        }
        .validate(&AttributeSchema::default())
        .unwrap_err();
        let DomainError::Invalid(errors) = err else { panic!() };
        let pointers: Vec<&str> = errors.iter().map(|e| e.pointer.as_str()).collect();
        assert_eq!(
            pointers,
            vec![
                "/email",
                "/country",
                "/external_ids/Bad Source",
                "/tags/0",
                "/lead_score"
            ]
        );
    }

    #[test]
    fn applying_the_same_values_changes_nothing() {
        let c = new_contact();
        let same = input().validate(&AttributeSchema::default()).unwrap();
        let applied = c.apply(same, Authority::default(), Utc::now()).unwrap();
        assert!(!applied.changed);
        assert_eq!(applied.contact, c);
    }

    #[test]
    fn a_change_bumps_the_version_and_a_stage_move_is_checked() {
        let c = new_contact();
        let later = Utc::now() + chrono::Duration::seconds(5);
        let changes = ContactInput {
            last_name: Patch::Set("Lovelace".into()),
            lifecycle_stage: Patch::Set(Stage::Customer),
            ..Default::default()
        }
        .validate(&AttributeSchema::default())
        .unwrap();
        let applied = c.apply(changes, Authority::default(), later).unwrap();
        assert!(applied.changed);
        assert_eq!(applied.contact.version, 2);
        assert_eq!(applied.contact.updated_at, later);
        assert_eq!(applied.moved, Some((Stage::Customer, Direction::Forward)));
        let back = ContactInput {
            lifecycle_stage: Patch::Set(Stage::Lead),
            ..Default::default()
        }
        .validate(&AttributeSchema::default())
        .unwrap();
        let err = applied.contact.apply(back, Authority::default(), later).unwrap_err();
        assert_eq!(err.code(), "stage_transition_not_allowed");
    }

    #[test]
    fn clearing_the_last_identifier_is_refused() {
        let c = new_contact();
        let changes = ContactInput {
            email: Patch::Clear,
            first_name: Patch::Clear,
            ..Default::default()
        }
        .validate(&AttributeSchema::default())
        .unwrap();
        assert!(c.apply(changes, Authority::default(), Utc::now()).is_err());
    }

    #[test]
    fn external_ids_merge_and_null_removes_one() {
        let c = new_contact();
        let add = ContactInput {
            external_ids: Some(BTreeMap::from([
                ("shopify".into(), Some("7001".into())),
                ("erp".into(), Some("C-1".into())),
            ])),
            ..Default::default()
        }
        .validate(&AttributeSchema::default())
        .unwrap();
        let c = c.apply(add, Authority::default(), Utc::now()).unwrap().contact;
        let remove = ContactInput {
            external_ids: Some(BTreeMap::from([("erp".into(), None)])),
            ..Default::default()
        }
        .validate(&AttributeSchema::default())
        .unwrap();
        let c = c.apply(remove, Authority::default(), Utc::now()).unwrap().contact;
        assert_eq!(c.external_ids, BTreeMap::from([("shopify".into(), "7001".into())]));
    }

    #[test]
    fn retagging_adds_and_removes_case_insensitively() {
        let c = new_contact();
        let c = c
            .retagged(&["VIP".into(), "b2b".into()], &[], Utc::now())
            .unwrap()
            .unwrap();
        assert_eq!(c.tags, vec!["b2b", "vip"]);
        let c2 = c.retagged(&[], &["Vip".into()], Utc::now()).unwrap().unwrap();
        assert_eq!(c2.tags, vec!["b2b"]);
        assert!(c2.retagged(&["b2b".into()], &[], Utc::now()).unwrap().is_none());
    }

    mod properties {
        use super::*;
        use proptest::prelude::*;

        fn text_patch(values: &'static [&'static str]) -> impl Strategy<Value = Patch<String>> {
            prop_oneof![
                Just(Patch::Absent),
                Just(Patch::Clear),
                proptest::sample::select(values).prop_map(|v| Patch::Set(v.to_owned())),
            ]
        }

        fn any_input() -> impl Strategy<Value = ContactInput> {
            (
                text_patch(&["ada@example.com", "Ada@Example.COM", "grace@navy.mil", "not-an-email"]),
                text_patch(&["+44 20 7946 0000", "0301234567", "call me"]),
                text_patch(&["Ada", " Grace ", ""]),
                text_patch(&["de", "en-GB", "??"]),
                proptest::option::of(proptest::collection::btree_map(
                    proptest::sample::select(&["shopify", "erp", "Bad Source"][..]).prop_map(str::to_owned),
                    proptest::option::of(proptest::sample::select(&["1", "2", " "][..]).prop_map(str::to_owned)),
                    0..3,
                )),
                prop_oneof![
                    Just(Patch::Absent),
                    Just(Patch::Clear),
                    proptest::collection::vec(
                        proptest::sample::select(&["VIP", "vip", "b2b", ""][..]).prop_map(str::to_owned),
                        0..4
                    )
                    .prop_map(Patch::Set),
                ],
                prop_oneof![Just(Patch::Absent), (-5i64..5).prop_map(Patch::Set)],
            )
                .prop_map(|(email, phone, first_name, locale, external_ids, tags, lead_score)| {
                    ContactInput {
                        email,
                        phone,
                        first_name,
                        locale,
                        external_ids,
                        tags,
                        lead_score,
                        ..Default::default()
                    }
                })
        }

        proptest! {
            /// An upsert that re-sends what it sent before changes nothing, so shops can
            /// sync repeatedly without producing versions or events.
            #[test]
            fn applying_the_same_changes_twice_changes_nothing_the_second_time(base in any_input(), again in any_input()) {
                let schema = AttributeSchema::default();
                let Ok(start) = base.validate(&schema) else { return Ok(()) };
                let Ok(contact) = Contact::create(ContactId::new(), WorkspaceId::new(), start, Utc::now()) else { return Ok(()) };
                let Ok(changes) = again.validate(&schema) else { return Ok(()) };
                let Ok(first) = contact.apply(changes.clone(), Authority::default(), Utc::now()) else { return Ok(()) };
                let second = first.contact.apply(changes, Authority::default(), Utc::now()).unwrap();
                prop_assert!(!second.changed);
                prop_assert_eq!(second.contact, first.contact);
            }

            /// Fields a patch does not mention keep their values.
            #[test]
            fn a_patch_leaves_unmentioned_fields_alone(base in any_input(), tags in proptest::collection::vec("[a-z]{1,5}", 0..3)) {
                let schema = AttributeSchema::default();
                let Ok(start) = base.validate(&schema) else { return Ok(()) };
                let Ok(contact) = Contact::create(ContactId::new(), WorkspaceId::new(), start, Utc::now()) else { return Ok(()) };
                let only_tags = ContactInput { tags: Patch::Set(tags), ..Default::default() }.validate(&schema).unwrap();
                let next = contact.apply(only_tags, Authority::default(), Utc::now()).unwrap().contact;
                prop_assert_eq!(&next.email, &contact.email);
                prop_assert_eq!(&next.phone, &contact.phone);
                prop_assert_eq!(&next.first_name, &contact.first_name);
                prop_assert_eq!(&next.external_ids, &contact.external_ids);
                prop_assert_eq!(next.lead_score, contact.lead_score);
                prop_assert_eq!(&next.stage, &contact.stage);
            }
        }
    }
}
