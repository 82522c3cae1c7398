//! The event feed and the event catalogue.

use chrono::{DateTime, Utc};
use rapport_domain::event::EventType;
use rapport_store::outbox::StoredEvent;
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

use super::contacts::ActorDto;

/// One event, as the feed (and, later, webhooks) deliver it.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct EventDto {
    pub id: Uuid,
    /// See `GET /v1/event-types`, e.g. `contact.updated`.
    #[serde(rename = "type")]
    pub kind: String,
    /// Commit order within the feed; pass the last one read as `after`.
    pub position: i64,
    pub occurred_at: DateTime<Utc>,
    pub actor: ActorDto,
    /// `object` (the record's API representation) and type-specific members.
    #[schema(value_type = Object)]
    pub data: serde_json::Value,
    /// The version of the `data` shape.
    pub data_version: i32,
}

impl From<&StoredEvent> for EventDto {
    fn from(e: &StoredEvent) -> Self {
        Self {
            id: e.id.uuid(),
            kind: e.kind.clone(),
            position: e.position.unwrap_or_default(),
            occurred_at: e.occurred_at,
            actor: ActorDto {
                kind: e.actor_type.clone(),
                id: e.actor_id.clone(),
            },
            data: e.data.clone(),
            data_version: e.data_version,
        }
    }
}

crate::list_type!(EventList, EventDto);

/// One entry of the event catalogue.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct EventTypeDto {
    /// The type name, e.g. `contact.updated`.
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub description: &'static str,
    /// The version of its `data` shape.
    pub data_version: i32,
    /// Where its `data` is described in the OpenAPI document.
    pub data_schema: &'static str,
}

impl From<EventType> for EventTypeDto {
    fn from(t: EventType) -> Self {
        Self {
            kind: t.as_str(),
            description: t.description(),
            data_version: 1,
            data_schema: data_schema(t),
        }
    }
}

/// The event catalogue.
#[derive(Debug, Serialize, ToSchema)]
pub struct EventTypeList {
    pub data: Vec<EventTypeDto>,
}

/// The `data` of each event type, for the catalogue: `object` is always the record's
/// API representation as it is after the change (or was, for deletions).
pub mod payloads {
    use chrono::{DateTime, Utc};
    use serde::Serialize;
    use utoipa::ToSchema;
    use uuid::Uuid;

    use crate::dto::companies::CompanyDto;
    use crate::dto::consent::{ConsentEventDto, ConsentStateDto, ErasureDto};
    use crate::dto::contacts::{ContactDto, TransitionDto};
    use crate::dto::webhooks::WebhookDto;

    /// `contact.created`, `contact.deleted`.
    #[derive(Serialize, ToSchema)]
    pub struct ContactEventData {
        pub object: ContactDto,
    }

    /// `contact.updated`.
    #[derive(Serialize, ToSchema)]
    pub struct ContactUpdatedData {
        pub object: ContactDto,
        /// The top-level fields that changed.
        pub changed_fields: Vec<String>,
        /// Their values before the change.
        #[schema(value_type = Object)]
        pub previous: serde_json::Value,
    }

    /// `contact.stage_changed`.
    #[derive(Serialize, ToSchema)]
    pub struct StageChangedData {
        pub object: ContactDto,
        pub transition: TransitionDto,
    }

    /// The erased contact, in `contact.erased`.
    #[derive(Serialize, ToSchema)]
    pub struct ErasedContact {
        pub id: Uuid,
        pub erased_at: DateTime<Utc>,
    }

    /// `contact.erased`.
    #[derive(Serialize, ToSchema)]
    pub struct ContactErasedData {
        pub object: ErasedContact,
        pub erasure: ErasureDto,
    }

    /// `contact.merged`.
    #[derive(Serialize, ToSchema)]
    pub struct ContactMergedData {
        /// The surviving contact after the merge.
        pub object: ContactDto,
        pub merged_ids: Vec<Uuid>,
        pub dropped_external_ids: Vec<crate::dto::contacts::DroppedExternalId>,
    }

    /// `consent.updated`.
    #[derive(Serialize, ToSchema)]
    pub struct ConsentUpdatedData {
        pub object: ConsentEventDto,
        /// The purpose's effective state after the event.
        pub effective: ConsentStateDto,
        pub contact_id: Uuid,
    }

    /// `company.created`, `company.deleted`.
    #[derive(Serialize, ToSchema)]
    pub struct CompanyEventData {
        pub object: CompanyDto,
    }

    /// `company.updated`.
    #[derive(Serialize, ToSchema)]
    pub struct CompanyUpdatedData {
        pub object: CompanyDto,
        pub changed_fields: Vec<String>,
        #[schema(value_type = Object)]
        pub previous: serde_json::Value,
    }

    /// `consent_purpose.created`, `consent_purpose.deleted`.
    #[derive(Serialize, ToSchema)]
    pub struct PurposeEventData {
        pub object: crate::dto::consent::PurposeDto,
    }

    /// `consent_purpose.updated`.
    #[derive(Serialize, ToSchema)]
    pub struct PurposeUpdatedData {
        pub object: crate::dto::consent::PurposeDto,
        pub changed_fields: Vec<String>,
        #[schema(value_type = Object)]
        pub previous: serde_json::Value,
    }

    /// `segment.entered`, `segment.exited`.
    #[derive(Serialize, ToSchema)]
    pub struct SegmentMembershipData {
        pub object: SegmentMembershipObject,
    }

    /// One contact's membership of one segment.
    #[derive(Serialize, ToSchema)]
    pub struct SegmentMembershipObject {
        pub segment: crate::dto::segments::SegmentRef,
        pub contact_id: uuid::Uuid,
        pub entered_at: chrono::DateTime<chrono::Utc>,
        /// Set on `segment.exited`.
        pub exited_at: Option<chrono::DateTime<chrono::Utc>>,
    }

    /// `order.created`.
    #[derive(Serialize, ToSchema)]
    pub struct OrderEventData {
        pub object: crate::dto::orders::OrderDto,
    }

    /// `order.updated`.
    #[derive(Serialize, ToSchema)]
    pub struct OrderUpdatedData {
        pub object: crate::dto::orders::OrderDto,
        pub changed_fields: Vec<String>,
        #[schema(value_type = Object)]
        pub previous: serde_json::Value,
    }

    /// `webhook.disabled`.
    #[derive(Serialize, ToSchema)]
    pub struct WebhookDisabledData {
        pub object: WebhookDto,
        pub reason: String,
    }
}

/// The schema (in the OpenAPI document's components) of an event type's `data`.
pub fn data_schema(t: EventType) -> &'static str {
    match t {
        EventType::ContactCreated | EventType::ContactDeleted => "#/components/schemas/ContactEventData",
        EventType::ContactUpdated => "#/components/schemas/ContactUpdatedData",
        EventType::ContactStageChanged => "#/components/schemas/StageChangedData",
        EventType::ContactErased => "#/components/schemas/ContactErasedData",
        EventType::ContactMerged => "#/components/schemas/ContactMergedData",
        EventType::ConsentUpdated => "#/components/schemas/ConsentUpdatedData",
        EventType::CompanyCreated | EventType::CompanyDeleted => "#/components/schemas/CompanyEventData",
        EventType::CompanyUpdated => "#/components/schemas/CompanyUpdatedData",
        EventType::WebhookDisabled => "#/components/schemas/WebhookDisabledData",
        EventType::ConsentPurposeCreated | EventType::ConsentPurposeDeleted => "#/components/schemas/PurposeEventData",
        EventType::ConsentPurposeUpdated => "#/components/schemas/PurposeUpdatedData",
        EventType::SegmentEntered | EventType::SegmentExited => "#/components/schemas/SegmentMembershipData",
        EventType::OrderCreated => "#/components/schemas/OrderEventData",
        EventType::OrderUpdated => "#/components/schemas/OrderUpdatedData",
    }
}
