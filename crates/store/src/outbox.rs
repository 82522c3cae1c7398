//! The transactional outbox: every state change writes its event here in the same
//! transaction, so an event exists exactly when its change was committed.
//!
//! Readers page by `position`, not by id: ids are taken when a transaction writes, so a
//! slow transaction may commit an older id after a reader has moved past it. [`sequence`]
//! numbers committed events in the order they became visible, one sequencer at a time,
//! and the feed only shows numbered events, so nothing is skipped or read twice.

use chrono::{DateTime, Utc};
use rapport_domain::event::{Event, EventType};
use rapport_domain::{EventId, WorkspaceId};
use sea_orm::{
    ActiveValue::{NotSet, Set},
    ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect, Statement,
};

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
    /// Commit order; `None` until sequenced.
    pub position: Option<i64>,
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
        position: NotSet,
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

pub(crate) fn stored(m: event::Model) -> StoredEvent {
    StoredEvent {
        id: EventId::from_uuid(m.id),
        kind: m.kind,
        occurred_at: m.occurred_at,
        actor_type: m.actor_type,
        actor_id: m.actor_id,
        data: m.data,
        data_version: m.data_version,
        position: m.position,
    }
}

/// Most events one [`sequence`] call numbers.
const SEQUENCE_BATCH: u32 = 1000;

/// Numbers the committed, unnumbered events (up to a batch) in id order, after the
/// highest position given so far. One sequencer runs at a time: on PostgreSQL a
/// transaction-scoped advisory lock (another process holding it makes this call return
/// 0), on SQLite the single write transaction. Returns how many were numbered.
pub async fn sequence(db: &crate::Db) -> Result<u64, StoreError> {
    let tx = db.begin().await?;
    if !crate::db::only_one(&tx, 7_291_473_116).await? {
        return Ok(0);
    }
    let backend = tx.get_database_backend();
    let sql = format!(
        "UPDATE events SET position = n.pos FROM (\
           SELECT workspace_id, id, (SELECT COALESCE(MAX(position), 0) FROM events) \
                  + ROW_NUMBER() OVER (ORDER BY id) AS pos \
           FROM events WHERE position IS NULL ORDER BY id LIMIT {SEQUENCE_BATCH}) AS n \
         WHERE events.workspace_id = n.workspace_id AND events.id = n.id"
    );
    let n = tx
        .execute_raw(Statement::from_string(backend, sql))
        .await?
        .rows_affected();
    tx.commit().await?;
    Ok(n)
}

/// Which events a reader wants: all, or those matching any of some type patterns.
#[derive(Clone, Debug, Default)]
pub struct TypeFilter(pub Option<Vec<EventType>>);

/// The workspace's sequenced events after `after` (a position) in commit order.
pub async fn feed(
    db: &impl ConnectionTrait,
    ws: WorkspaceId,
    types: &TypeFilter,
    after: Option<i64>,
    limit: u64,
) -> Result<Vec<StoredEvent>, StoreError> {
    let mut q = event::Entity::find()
        .filter(event::Column::WorkspaceId.eq(ws.uuid()))
        .filter(event::Column::Position.is_not_null());
    if let Some(kinds) = &types.0 {
        q = q.filter(event::Column::Kind.is_in(kinds.iter().map(|k| k.as_str())));
    }
    if let Some(a) = after {
        q = q.filter(event::Column::Position.gt(a));
    }
    Ok(q.order_by_asc(event::Column::Position)
        .limit(limit)
        .all(db)
        .await?
        .into_iter()
        .map(stored)
        .collect())
}

/// The workspace's events of one type in id order, sequenced or not (tests and tools).
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
        .map(stored)
        .collect())
}

/// One event of the workspace.
pub async fn get(db: &impl ConnectionTrait, ws: WorkspaceId, id: EventId) -> Result<Option<StoredEvent>, StoreError> {
    Ok(event::Entity::find_by_id((ws.uuid(), id.uuid()))
        .one(db)
        .await?
        .map(stored))
}

/// The workspace's sequenced events that occurred in `[since, until)`, in feed order
/// (replays), at most `limit`.
pub async fn between(
    db: &impl ConnectionTrait,
    ws: WorkspaceId,
    since: DateTime<Utc>,
    until: DateTime<Utc>,
    limit: u64,
) -> Result<Vec<StoredEvent>, StoreError> {
    Ok(event::Entity::find()
        .filter(event::Column::WorkspaceId.eq(ws.uuid()))
        .filter(event::Column::Position.is_not_null())
        .filter(event::Column::OccurredAt.gte(since))
        .filter(event::Column::OccurredAt.lt(until))
        .order_by_asc(event::Column::Position)
        .limit(limit)
        .all(db)
        .await?
        .into_iter()
        .map(stored)
        .collect())
}

/// Deletes events that occurred before `before` (the retention period). Returns how
/// many went.
pub async fn purge_before(db: &impl ConnectionTrait, before: DateTime<Utc>) -> Result<u64, StoreError> {
    Ok(event::Entity::delete_many()
        .filter(event::Column::OccurredAt.lt(before))
        .filter(event::Column::Position.is_not_null())
        .exec(db)
        .await?
        .rows_affected)
}
