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
}

impl From<EventType> for EventTypeDto {
    fn from(t: EventType) -> Self {
        Self {
            kind: t.as_str(),
            description: t.description(),
            data_version: 1,
        }
    }
}

/// The event catalogue.
#[derive(Debug, Serialize, ToSchema)]
pub struct EventTypeList {
    pub data: Vec<EventTypeDto>,
}
