//! Contact representations.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use rapport_domain::contact::{Contact, ContactInput};
use rapport_domain::lifecycle::{Stage, Transition};
use rapport_domain::patch::Patch;
use rapport_domain::{CompanyId, ContactId};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::list_type;

/// A lifecycle stage: `subscriber` → `lead` → `qualified` → `opportunity` → `customer`
/// → `repeat_customer` → `advocate`; off the path: `churned`, `disqualified`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema, async_graphql::Enum)]
#[serde(rename_all = "snake_case")]
#[graphql(name = "LifecycleStage")]
pub enum LifecycleStage {
    Subscriber,
    Lead,
    Qualified,
    Opportunity,
    Customer,
    RepeatCustomer,
    Advocate,
    Churned,
    Disqualified,
}

impl From<Stage> for LifecycleStage {
    fn from(s: Stage) -> Self {
        match s {
            Stage::Subscriber => Self::Subscriber,
            Stage::Lead => Self::Lead,
            Stage::Qualified => Self::Qualified,
            Stage::Opportunity => Self::Opportunity,
            Stage::Customer => Self::Customer,
            Stage::RepeatCustomer => Self::RepeatCustomer,
            Stage::Advocate => Self::Advocate,
            Stage::Churned => Self::Churned,
            Stage::Disqualified => Self::Disqualified,
        }
    }
}

impl From<LifecycleStage> for Stage {
    fn from(s: LifecycleStage) -> Self {
        match s {
            LifecycleStage::Subscriber => Self::Subscriber,
            LifecycleStage::Lead => Self::Lead,
            LifecycleStage::Qualified => Self::Qualified,
            LifecycleStage::Opportunity => Self::Opportunity,
            LifecycleStage::Customer => Self::Customer,
            LifecycleStage::RepeatCustomer => Self::RepeatCustomer,
            LifecycleStage::Advocate => Self::Advocate,
            LifecycleStage::Churned => Self::Churned,
            LifecycleStage::Disqualified => Self::Disqualified,
        }
    }
}

/// A contact.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct ContactDto {
    pub id: Uuid,
    pub email: Option<String>,
    /// E.164 when the number had a country prefix.
    pub phone: Option<String>,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    /// BCP 47 language tag.
    pub locale: Option<String>,
    /// ISO 3166-1 alpha-2.
    pub country: Option<String>,
    pub company_id: Option<Uuid>,
    /// Ids of this person in other systems, by source.
    pub external_ids: BTreeMap<String, String>,
    pub tags: Vec<String>,
    /// Custom attributes, typed by `/v1/attribute-definitions`.
    #[schema(value_type = Object)]
    pub attributes: Map<String, Value>,
    pub lifecycle_stage: LifecycleStage,
    /// The furthest main-path stage ever reached.
    pub highest_stage: LifecycleStage,
    /// When each stage was first entered.
    pub stage_entered_at: BTreeMap<String, DateTime<Utc>>,
    pub lead_score: i64,
    pub owner_id: Option<String>,
    /// Increases with every change; the ETag is this number in quotes.
    pub version: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// Set when the person's data was erased: the contact is a tombstone.
    pub erased_at: Option<DateTime<Utc>>,
    /// With `?include=consents`: the answer for each purpose that has records.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub consents: Option<BTreeMap<String, super::consent::ConsentSummary>>,
    /// With `?include=metrics`: what the contact's purchases add up to.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub metrics: Option<super::orders::PurchaseMetricsDto>,
}

impl From<&Contact> for ContactDto {
    fn from(c: &Contact) -> Self {
        Self {
            id: c.id.uuid(),
            email: c.email.as_ref().map(|e| e.as_str().to_owned()),
            phone: c.phone.clone(),
            first_name: c.first_name.clone(),
            last_name: c.last_name.clone(),
            locale: c.locale.clone(),
            country: c.country.clone(),
            company_id: c.company_id.map(CompanyId::uuid),
            external_ids: c.external_ids.clone(),
            tags: c.tags.clone(),
            attributes: c.attributes.clone(),
            lifecycle_stage: c.stage.stage.into(),
            highest_stage: c.stage.highest.into(),
            stage_entered_at: c
                .stage
                .entered_at
                .iter()
                .map(|(s, t)| (s.as_str().to_owned(), *t))
                .collect(),
            lead_score: c.lead_score,
            owner_id: c.owner_id.clone(),
            version: c.version,
            created_at: c.created_at,
            updated_at: c.updated_at,
            erased_at: c.erased_at,
            consents: None,
            metrics: None,
        }
    }
}

list_type!(ContactList, ContactDto);

/// Contact fields to write. On create every field is optional (but a contact needs an
/// email, phone, name or external id); on update and upsert, absent fields are left
/// alone and `null` clears a field (JSON merge patch, RFC 7396).
#[derive(Clone, Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ContactWrite {
    #[serde(default)]
    #[schema(value_type = Option<String>, format = Email, example = "ada@example.com")]
    pub email: Patch<String>,
    #[serde(default)]
    #[schema(value_type = Option<String>, example = "+44 20 7946 0000")]
    pub phone: Patch<String>,
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub first_name: Patch<String>,
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub last_name: Patch<String>,
    #[serde(default)]
    #[schema(value_type = Option<String>, example = "en-GB")]
    pub locale: Patch<String>,
    #[serde(default)]
    #[schema(value_type = Option<String>, example = "GB")]
    pub country: Patch<String>,
    #[serde(default)]
    #[schema(value_type = Option<Uuid>)]
    pub company_id: Patch<Uuid>,
    /// Merged by source; `null` for a source removes it, `null` for the whole map
    /// removes every external id.
    #[serde(default)]
    #[schema(value_type = Option<BTreeMap<String, Option<String>>>)]
    pub external_ids: Patch<BTreeMap<String, Option<String>>>,
    /// Replaces the whole tag set (use `POST /v1/contacts/{id}/tags` to add or remove).
    #[serde(default)]
    #[schema(value_type = Option<Vec<String>>)]
    pub tags: Patch<Vec<String>>,
    /// Merged by key; `null` for a key removes it, `null` for the whole object removes
    /// every attribute.
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub attributes: Patch<Map<String, Value>>,
    /// On update, moves through the lifecycle rules (a backward move needs
    /// `POST /v1/contacts/{id}/lifecycle` with a reason).
    #[serde(default)]
    #[schema(value_type = Option<LifecycleStage>)]
    pub lifecycle_stage: Patch<LifecycleStage>,
    #[serde(default)]
    #[schema(value_type = Option<i64>)]
    pub lead_score: Patch<i64>,
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub owner_id: Patch<String>,
    /// Consent decisions to record with this write, in the same transaction (needs
    /// `consent:write`); see `POST /v1/contacts/{id}/consents`.
    #[serde(default)]
    pub consents: Option<Vec<super::consent::ConsentRecordDto>>,
}

impl From<ContactWrite> for ContactInput {
    fn from(w: ContactWrite) -> Self {
        ContactInput {
            email: w.email,
            phone: w.phone,
            first_name: w.first_name,
            last_name: w.last_name,
            locale: w.locale,
            country: w.country,
            company_id: w.company_id.map(CompanyId::from_uuid),
            external_ids: w.external_ids,
            tags: w.tags,
            attributes: w.attributes,
            lifecycle_stage: w.lifecycle_stage.map(Stage::from),
            lead_score: w.lead_score,
            owner_id: w.owner_id,
            consents: w.consents.unwrap_or_default().into_iter().map(Into::into).collect(),
        }
    }
}

/// Up to 1000 contacts to upsert. Each item is matched by one of its `external_ids`,
/// then by `email`; unmatched items are created. Items are applied independently: valid
/// items are committed even when others fail.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BatchUpsert {
    #[schema(value_type = Vec<ContactWrite>)]
    pub items: Vec<Value>,
}

/// What happened to one batch item.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, ToSchema, async_graphql::Enum)]
#[serde(rename_all = "snake_case")]
pub enum ItemStatus {
    Created,
    Updated,
    Unchanged,
    Failed,
}

/// The result of one batch item, in request order.
#[derive(Debug, Serialize, ToSchema)]
pub struct BatchItemResult {
    pub index: usize,
    pub status: ItemStatus,
    /// The contact's id (absent for a failed item).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<Uuid>,
    /// The contact's version after the item.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<i64>,
    /// The whole contact, unless the request said `Prefer: return=minimal`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub contact: Option<ContactDto>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<crate::error::Problem>,
}

/// Per-item results of a batch.
#[derive(Debug, Serialize, ToSchema)]
pub struct BatchResult {
    pub results: Vec<BatchItemResult>,
    pub created: usize,
    pub updated: usize,
    pub unchanged: usize,
    pub failed: usize,
}

/// A lifecycle move.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ChangeStage {
    pub stage: LifecycleStage,
    /// Required for a backward move (with the `lifecycle:override` scope).
    #[serde(default)]
    pub reason: Option<String>,
}

/// Tags to add and remove in one step.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TagChange {
    #[serde(default)]
    pub add: Vec<String>,
    #[serde(default)]
    pub remove: Vec<String>,
}

/// Who made a change.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct ActorDto {
    /// `api_client`, `connector`, `user` or `system`.
    #[serde(rename = "type")]
    pub kind: String,
    pub id: Option<String>,
}

impl From<&rapport_domain::event::Actor> for ActorDto {
    fn from(a: &rapport_domain::event::Actor) -> Self {
        Self {
            kind: a.kind.as_str().to_owned(),
            id: a.id.clone(),
        }
    }
}

/// A recorded stage change.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct TransitionDto {
    pub id: Uuid,
    pub contact_id: Uuid,
    /// Absent for the contact's first stage.
    pub from: Option<LifecycleStage>,
    pub to: LifecycleStage,
    /// `forward`, `exit`, `reactivation` or `backward`.
    pub direction: String,
    /// `api`, `rule`, `order` or `import`.
    pub cause: String,
    pub actor: ActorDto,
    pub reason: Option<String>,
    pub at: DateTime<Utc>,
}

impl From<&Transition> for TransitionDto {
    fn from(t: &Transition) -> Self {
        Self {
            id: t.id.uuid(),
            contact_id: t.contact_id.uuid(),
            from: t.from.map(Into::into),
            to: t.to.into(),
            direction: t.direction.as_str().to_owned(),
            cause: t.cause.as_str().to_owned(),
            actor: (&t.actor).into(),
            reason: t.reason.clone(),
            at: t.at,
        }
    }
}

list_type!(TransitionList, TransitionDto);

/// The id of a contact, for responses that only confirm one.
pub fn id(c: ContactId) -> Uuid {
    c.uuid()
}

/// `POST /v1/contacts/{id}/merge`: the contacts merged into `{id}`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MergeRequest {
    /// 1 to 10 other contacts of the workspace; they are deleted and their ids redirect
    /// to the survivor.
    pub from: Vec<Uuid>,
    /// Per field, the contact (one of `from`) whose value wins over the survivor's:
    /// `email`, `phone`, `first_name`, `last_name`, `locale`, `country`, `company_id`,
    /// `owner_id`, `attributes.<key>`, `external_ids.<source>`.
    #[serde(default)]
    pub prefer: BTreeMap<String, Uuid>,
}

/// An external id the survivor of a merge does not hold (it kept another one for the
/// same source). It still resolves to the survivor (look-ups, upserts, orders, imports)
/// until a contact is given it or the survivor is erased.
#[derive(Clone, Debug, Serialize, ToSchema, async_graphql::SimpleObject)]
pub struct DroppedExternalId {
    /// The merged contact that had it.
    pub contact_id: Uuid,
    pub source: String,
    pub external_id: String,
}

impl From<&rapport_domain::contact::merge::Dropped> for DroppedExternalId {
    fn from(d: &rapport_domain::contact::merge::Dropped) -> Self {
        Self {
            contact_id: d.contact_id.uuid(),
            source: d.source.clone(),
            external_id: d.external_id.clone(),
        }
    }
}

/// The answer to a merge.
#[derive(Debug, Serialize, ToSchema)]
pub struct MergeResult {
    /// The survivor after the merge.
    pub contact: ContactDto,
    pub merged_ids: Vec<Uuid>,
    pub dropped_external_ids: Vec<DroppedExternalId>,
}

/// Contacts that are probably one person.
#[derive(Debug, Serialize, ToSchema)]
pub struct DuplicateGroup {
    /// `email` (same address once case, `+suffix` and Gmail dots are ignored), `phone`
    /// (same E.164 number) or `name_company` (same first and last name in one company).
    pub reason: String,
    /// What the contacts share: the email match key, the phone, or `name|company_id`.
    pub key: String,
    /// 2 to 50 contacts, oldest first.
    pub contacts: Vec<ContactDto>,
}

impl From<&rapport_store::duplicates::Group> for DuplicateGroup {
    fn from(g: &rapport_store::duplicates::Group) -> Self {
        Self {
            reason: g.reason.as_str().to_owned(),
            key: g.key.join("|"),
            contacts: g.contacts.iter().map(ContactDto::from).collect(),
        }
    }
}

list_type!(DuplicateList, DuplicateGroup);
