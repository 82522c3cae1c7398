//! The transactional outbox: every state change writes its event here in the same
//! transaction, so an event exists exactly when its change was committed.

use rapport_domain::event::{Event, EventType};
use rapport_domain::{EventId, WorkspaceId};
use sea_orm::{ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};

use crate::entity::event;
use crate::error::StoreError;

/// A stored event, as read back.
#[derive(Clone, Debug, PartialEq)]
pub struct StoredEvent {
    pub id: EventId,
    pub kind: String,
    pub occurred_at: chrono::DateTime<chrono::Utc>,
    pub actor_type: String,
    pub actor_id: Option<String>,
    pub data: serde_json::Value,
    pub data_version: i32,
}

fn active(e: &Event) -> event::ActiveModel {
    event::ActiveModel {
        workspace_id: Set(e.workspace_id.uuid()),
        id: Set(e.id.uuid()),
        kind: Set(e.kind.as_str().to_owned()),
        occurred_at: Set(e.occurred_at),
        actor_type: Set(e.actor.kind.as_str().to_owned()),
        actor_id: Set(e.actor.id.clone()),
        data: Set(e.data.clone()),
        data_version: Set(e.data_version),
    }
}

/// A JSON value's encoded length (exact unless strings need escaping), without
/// encoding it.
fn json_size(v: &serde_json::Value) -> usize {
    use serde_json::Value;
    match v {
        Value::Null | Value::Bool(_) => 5,
        Value::Number(_) => 24,
        Value::String(s) => s.len() + 2,
        Value::Array(a) => 2 + a.iter().map(|x| json_size(x) + 1).sum::<usize>(),
        Value::Object(m) => 2 + m.iter().map(|(k, x)| k.len() + 4 + json_size(x)).sum::<usize>(),
    }
}

/// Writes events (in the caller's transaction).
pub async fn push(db: &impl ConnectionTrait, events: &[Event]) -> Result<(), StoreError> {
    if events.is_empty() {
        return Ok(());
    }
    let size = |e: &Event| json_size(&e.data) + 200;
    crate::page::insert_sized(db, events, size, active).await?;
    Ok(())
}

/// The workspace's events in order, after `after`, optionally of one type.
pub async fn list(
    db: &impl ConnectionTrait,
    ws: WorkspaceId,
    kind: Option<EventType>,
    after: Option<EventId>,
    limit: u64,
) -> Result<Vec<StoredEvent>, StoreError> {
    let mut q = event::Entity::find().filter(event::Column::WorkspaceId.eq(ws.uuid()));
    if let Some(k) = kind {
        q = q.filter(event::Column::Kind.eq(k.as_str()));
    }
    if let Some(a) = after {
        q = q.filter(event::Column::Id.gt(a.uuid()));
    }
    Ok(q.order_by_asc(event::Column::Id)
        .limit(limit)
        .all(db)
        .await?
        .into_iter()
        .map(|m| StoredEvent {
            id: EventId::from_uuid(m.id),
            kind: m.kind,
            occurred_at: m.occurred_at,
            actor_type: m.actor_type,
            actor_id: m.actor_id,
            data: m.data,
            data_version: m.data_version,
        })
        .collect())
}
