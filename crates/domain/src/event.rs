//! Domain events: every state change is recorded as one, in the same transaction.

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::{Map, Value, json};

use crate::ids::{EventId, WorkspaceId};

/// The kinds of event Rapport records.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum EventType {
    #[serde(rename = "contact.created")]
    ContactCreated,
    #[serde(rename = "contact.updated")]
    ContactUpdated,
    #[serde(rename = "contact.deleted")]
    ContactDeleted,
    #[serde(rename = "contact.stage_changed")]
    ContactStageChanged,
    #[serde(rename = "contact.erased")]
    ContactErased,
    #[serde(rename = "contact.merged")]
    ContactMerged,
    #[serde(rename = "consent.updated")]
    ConsentUpdated,
    #[serde(rename = "company.created")]
    CompanyCreated,
    #[serde(rename = "company.updated")]
    CompanyUpdated,
    #[serde(rename = "company.deleted")]
    CompanyDeleted,
    #[serde(rename = "webhook.disabled")]
    WebhookDisabled,
    #[serde(rename = "consent_purpose.created")]
    ConsentPurposeCreated,
    #[serde(rename = "consent_purpose.updated")]
    ConsentPurposeUpdated,
    #[serde(rename = "consent_purpose.deleted")]
    ConsentPurposeDeleted,
    #[serde(rename = "segment.entered")]
    SegmentEntered,
    #[serde(rename = "segment.exited")]
    SegmentExited,
    #[serde(rename = "order.created")]
    OrderCreated,
    #[serde(rename = "order.updated")]
    OrderUpdated,
}

impl EventType {
    pub const ALL: [EventType; 18] = [
        EventType::ContactCreated,
        EventType::ContactUpdated,
        EventType::ContactDeleted,
        EventType::ContactStageChanged,
        EventType::ContactErased,
        EventType::ContactMerged,
        EventType::ConsentUpdated,
        EventType::CompanyCreated,
        EventType::CompanyUpdated,
        EventType::CompanyDeleted,
        EventType::WebhookDisabled,
        EventType::ConsentPurposeCreated,
        EventType::ConsentPurposeUpdated,
        EventType::ConsentPurposeDeleted,
        EventType::SegmentEntered,
        EventType::SegmentExited,
        EventType::OrderCreated,
        EventType::OrderUpdated,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            EventType::ContactCreated => "contact.created",
            EventType::ContactUpdated => "contact.updated",
            EventType::ContactDeleted => "contact.deleted",
            EventType::ContactStageChanged => "contact.stage_changed",
            EventType::ContactErased => "contact.erased",
            EventType::ContactMerged => "contact.merged",
            EventType::ConsentUpdated => "consent.updated",
            EventType::CompanyCreated => "company.created",
            EventType::CompanyUpdated => "company.updated",
            EventType::CompanyDeleted => "company.deleted",
            EventType::WebhookDisabled => "webhook.disabled",
            EventType::ConsentPurposeCreated => "consent_purpose.created",
            EventType::ConsentPurposeUpdated => "consent_purpose.updated",
            EventType::ConsentPurposeDeleted => "consent_purpose.deleted",
            EventType::SegmentEntered => "segment.entered",
            EventType::SegmentExited => "segment.exited",
            EventType::OrderCreated => "order.created",
            EventType::OrderUpdated => "order.updated",
        }
    }
}

impl EventType {
    /// Parses a type name.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.as_str() == s)
    }

    /// What the event means, for the published catalogue.
    pub fn description(self) -> &'static str {
        match self {
            EventType::ContactCreated => "A contact was created. `object`: the contact.",
            EventType::ContactUpdated => {
                "A contact changed. `object`: the contact after; `changed_fields` and `previous` (the values before)."
            }
            EventType::ContactDeleted => "A contact was deleted. `object`: the contact as it was.",
            EventType::ContactStageChanged => {
                "A contact moved to another lifecycle stage. `object`: the contact; `transition`: from, to, direction, cause, reason."
            }
            EventType::ContactErased => {
                "A contact's personal data was erased. `object`: `{id, erased_at}`; `erasure`: who asked, why and when."
            }
            EventType::ContactMerged => {
                "Duplicate contacts were merged into one. `object`: the surviving contact; `merged_ids`: the contacts merged into it (their ids now redirect to it); `dropped_external_ids`: external ids no contact keeps."
            }
            EventType::ConsentUpdated => {
                "A consent decision was recorded. `object`: the ledger event; `effective`: the purpose's state after it; `contact_id`."
            }
            EventType::CompanyCreated => "A company was created. `object`: the company.",
            EventType::CompanyUpdated => {
                "A company changed. `object`: the company after; `changed_fields` and `previous`."
            }
            EventType::CompanyDeleted => "A company was deleted. `object`: the company as it was.",
            EventType::ConsentPurposeCreated => "A consent purpose was declared. `object`: the purpose.",
            EventType::ConsentPurposeUpdated => {
                "A consent purpose changed (or was archived). `object`: the purpose after; `changed_fields` and `previous`."
            }
            EventType::ConsentPurposeDeleted => {
                "An unused consent purpose was deleted. `object`: the purpose as it was."
            }
            EventType::SegmentEntered => {
                "A contact entered a segment. `object`: the membership (segment id and name, contact id, entered_at)."
            }
            EventType::SegmentExited => {
                "A contact left a segment. `object`: the membership (segment id and name, contact id, entered_at, exited_at)."
            }
            EventType::OrderCreated => "An order was received for the first time. `object`: the order.",
            EventType::OrderUpdated => {
                "A re-sent order changed (status, lines, amounts …). `object`: the order after; `changed_fields` and `previous`."
            }
            EventType::WebhookDisabled => {
                "A webhook endpoint was disabled after failing persistently or answering 410. `object`: the endpoint; `reason`."
            }
        }
    }
}

/// A set of event types named by a pattern: `*` (every type), `contact.*` (every type
/// of a family) or one type (`consent.updated`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EventPattern {
    All,
    Family(String),
    One(EventType),
}

impl EventPattern {
    /// Parses a pattern; a family or type must exist, so a typo is refused rather than
    /// silently matching nothing.
    /// # Errors
    /// The pattern, when it names no known type.
    pub fn parse(raw: &str) -> Result<Self, String> {
        let raw = raw.trim();
        if raw == "*" {
            return Ok(Self::All);
        }
        if let Some(family) = raw.strip_suffix(".*")
            && EventType::ALL
                .iter()
                .any(|t| t.as_str().split('.').next() == Some(family))
        {
            return Ok(Self::Family(family.to_owned()));
        }
        EventType::parse(raw).map(Self::One).ok_or_else(|| raw.to_owned())
    }

    /// Whether the pattern takes `kind`.
    pub fn matches(&self, kind: EventType) -> bool {
        match self {
            Self::All => true,
            Self::Family(f) => kind.as_str().split('.').next() == Some(f.as_str()),
            Self::One(t) => *t == kind,
        }
    }

    /// The types the pattern takes.
    pub fn types(&self) -> Vec<EventType> {
        EventType::ALL.into_iter().filter(|t| self.matches(*t)).collect()
    }
}

/// Who caused a change.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ActorKind {
    /// An API client using its client credentials.
    ApiClient,
    /// A shop or ERP connector.
    Connector,
    /// A person, through a token from the identity provider.
    User,
    /// Rapport itself (a rule or a periodic job).
    System,
}

impl ActorKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ActorKind::ApiClient => "api_client",
            ActorKind::Connector => "connector",
            ActorKind::User => "user",
            ActorKind::System => "system",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [Self::ApiClient, Self::Connector, Self::User, Self::System]
            .into_iter()
            .find(|k| k.as_str() == s)
    }
}

/// The actor of a change: its kind and id (a client id or a user's subject).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Actor {
    #[serde(rename = "type")]
    pub kind: ActorKind,
    pub id: Option<String>,
}

impl Actor {
    pub fn system() -> Self {
        Self {
            kind: ActorKind::System,
            id: None,
        }
    }
}

/// An event about to be written to the outbox.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Event {
    pub id: EventId,
    #[serde(rename = "type")]
    pub kind: EventType,
    pub workspace_id: WorkspaceId,
    pub occurred_at: DateTime<Utc>,
    pub actor: Actor,
    pub data: Value,
    /// The version of the `data` shape, raised on incompatible changes.
    pub data_version: i32,
}

impl Event {
    pub fn new(
        kind: EventType,
        workspace_id: WorkspaceId,
        actor: Actor,
        occurred_at: DateTime<Utc>,
        data: Value,
    ) -> Self {
        Self {
            id: EventId::new(),
            kind,
            workspace_id,
            occurred_at,
            actor,
            data,
            data_version: 1,
        }
    }
}

/// Fields that change on every write and say nothing about what changed.
const BOOKKEEPING: [&str; 2] = ["version", "updated_at"];

/// The top-level fields that differ between two representations of one record, with
/// their previous values: `{"changed_fields": [...], "previous": {...}}`. Connectors use
/// it to apply only what changed and to recognise their own writes.
pub fn changes(before: &Value, after: &Value) -> Value {
    let empty = Map::new();
    let b = before.as_object().unwrap_or(&empty);
    let a = after.as_object().unwrap_or(&empty);
    let mut fields = Vec::new();
    let mut previous = Map::new();
    for (k, v) in a {
        if BOOKKEEPING.contains(&k.as_str()) {
            continue;
        }
        let old = b.get(k).unwrap_or(&Value::Null);
        if old != v {
            fields.push(Value::String(k.clone()));
            previous.insert(k.clone(), old.clone());
        }
    }
    json!({ "changed_fields": fields, "previous": previous })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn changes_name_each_changed_field_with_its_previous_value() {
        let before = json!({"email": "a@x.io", "tags": ["a"], "version": 1, "first_name": "Ada"});
        let after = json!({"email": "b@x.io", "tags": ["a"], "version": 2, "first_name": "Ada"});
        assert_eq!(
            changes(&before, &after),
            json!({"changed_fields": ["email"], "previous": {"email": "a@x.io"}})
        );
    }

    #[test]
    fn patterns_name_every_type_a_family_or_one_type_and_refuse_typos() {
        assert_eq!(EventPattern::parse("*").unwrap().types().len(), EventType::ALL.len());
        let contacts = EventPattern::parse("contact.*").unwrap().types();
        assert!(contacts.iter().all(|t| t.as_str().starts_with("contact.")));
        assert_eq!(contacts.len(), 6);
        assert_eq!(
            EventPattern::parse("consent.updated").unwrap().types(),
            vec![EventType::ConsentUpdated]
        );
        for bad in ["contacts.*", "contact.create", "", "contact.", ".*"] {
            assert!(EventPattern::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn event_type_names_match_their_serialised_form() {
        for t in EventType::ALL {
            assert_eq!(serde_json::to_value(t).unwrap(), t.as_str());
        }
    }
}
