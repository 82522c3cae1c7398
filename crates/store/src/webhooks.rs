//! Webhook endpoints, their deliveries and attempts; the dispatcher that turns feed
//! events into deliveries, and the claim that hands due deliveries to one worker each.

use chrono::{DateTime, Utc};
use rapport_domain::event::{Actor, ActorKind, EventType};
use rapport_domain::webhook::{Endpoint, EventFacts};
use rapport_domain::{DeliveryId, EventId, WebhookId, WorkspaceId};
use sea_orm::sea_query::{Expr, ExprTrait, OnConflict};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, DatabaseBackend, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
};
use serde_json::Value;

use crate::entity::{
    dispatch_cursor as dc, event, webhook_attempt as wa, webhook_delivery as wd, webhook_endpoint as we,
};
use crate::error::StoreError;
use crate::outbox::StoredEvent;
use crate::page::Page;

impl TryFrom<we::Model> for Endpoint {
    type Error = StoreError;

    fn try_from(m: we::Model) -> Result<Self, StoreError> {
        let strings = |v: Value, what: &str| {
            serde_json::from_value::<Vec<String>>(v).map_err(|e| StoreError::corrupt(format!("{what}: {e}")))
        };
        Ok(Endpoint {
            id: WebhookId::from_uuid(m.id),
            url: m.url,
            description: m.description,
            event_types: strings(m.event_types, "event_types")?,
            fields: m.fields.map(|f| strings(f, "fields")).transpose()?,
            skip_own: m.skip_own,
            owner: Actor {
                kind: ActorKind::parse(&m.owner_type).ok_or_else(|| StoreError::corrupt(&m.owner_type))?,
                id: m.owner_id,
            },
            enabled: m.enabled,
            disabled_reason: m.disabled_reason,
            secret: m.secret,
            previous_secret: m.previous_secret,
            previous_until: m.previous_until,
            start_position: m.start_position,
            version: m.version,
            created_at: m.created_at,
            updated_at: m.updated_at,
        })
    }
}

fn row(ws: WorkspaceId, e: &Endpoint) -> we::ActiveModel {
    we::ActiveModel {
        workspace_id: Set(ws.uuid()),
        id: Set(e.id.uuid()),
        url: Set(e.url.clone()),
        description: Set(e.description.clone()),
        event_types: Set(serde_json::json!(e.event_types)),
        fields: Set(e.fields.as_ref().map(|f| serde_json::json!(f))),
        skip_own: Set(e.skip_own),
        owner_type: Set(e.owner.kind.as_str().to_owned()),
        owner_id: Set(e.owner.id.clone()),
        enabled: Set(e.enabled),
        disabled_reason: Set(e.disabled_reason.clone()),
        secret: Set(e.secret.clone()),
        previous_secret: Set(e.previous_secret.clone()),
        previous_until: Set(e.previous_until),
        start_position: Set(e.start_position),
        version: Set(e.version),
        created_at: Set(e.created_at),
        updated_at: Set(e.updated_at),
    }
}

/// The highest feed position given so far (new endpoints start after it).
pub async fn feed_head(db: &impl ConnectionTrait) -> Result<i64, StoreError> {
    let max: Option<Option<i64>> = event::Entity::find()
        .select_only()
        .column_as(event::Column::Position.max(), "m")
        .into_tuple()
        .one(db)
        .await?;
    Ok(max.flatten().unwrap_or(0))
}

/// Inserts an endpoint.
pub async fn insert(db: &impl ConnectionTrait, ws: WorkspaceId, e: &Endpoint) -> Result<(), StoreError> {
    we::Entity::insert(row(ws, e)).exec_without_returning(db).await?;
    Ok(())
}

/// One endpoint of the workspace.
/// # Errors
/// `NotFound`.
pub async fn get(db: &impl ConnectionTrait, ws: WorkspaceId, id: WebhookId) -> Result<Endpoint, StoreError> {
    we::Entity::find_by_id((ws.uuid(), id.uuid()))
        .one(db)
        .await?
        .ok_or(StoreError::NotFound)?
        .try_into()
}

/// The workspace's endpoints, oldest first.
pub async fn list(db: &impl ConnectionTrait, ws: WorkspaceId) -> Result<Vec<Endpoint>, StoreError> {
    we::Entity::find()
        .filter(we::Column::WorkspaceId.eq(ws.uuid()))
        .order_by_asc(we::Column::Id)
        .all(db)
        .await?
        .into_iter()
        .map(Endpoint::try_from)
        .collect()
}

/// Writes `after` over `before` unless it changed in between.
/// # Errors
/// `Stale`.
pub async fn update(
    db: &impl ConnectionTrait,
    ws: WorkspaceId,
    before: &Endpoint,
    after: &Endpoint,
) -> Result<(), StoreError> {
    let res = we::Entity::update_many()
        .set(row(ws, after))
        .filter(we::Column::WorkspaceId.eq(ws.uuid()))
        .filter(we::Column::Id.eq(before.id.uuid()))
        .filter(we::Column::Version.eq(before.version))
        .exec(db)
        .await?;
    if res.rows_affected == 0 {
        return Err(StoreError::Stale);
    }
    Ok(())
}

/// Deletes an endpoint with its deliveries and attempts.
/// # Errors
/// `NotFound`.
pub async fn delete(db: &impl ConnectionTrait, ws: WorkspaceId, id: WebhookId) -> Result<(), StoreError> {
    let res = we::Entity::delete_by_id((ws.uuid(), id.uuid())).exec(db).await?;
    if res.rows_affected == 0 {
        return Err(StoreError::NotFound);
    }
    Ok(())
}

// ---- deliveries ----

/// Where a delivery stands.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Delivery {
    pub id: DeliveryId,
    pub endpoint_id: WebhookId,
    pub event_id: EventId,
    pub event_type: String,
    /// `pending`, `delivering`, `succeeded` or `failed`.
    pub status: String,
    pub attempts: i32,
    pub next_attempt_at: Option<DateTime<Utc>>,
    pub last_status: Option<i32>,
    pub last_error: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<wd::Model> for Delivery {
    fn from(m: wd::Model) -> Self {
        Self {
            id: DeliveryId::from_uuid(m.id),
            endpoint_id: WebhookId::from_uuid(m.endpoint_id),
            event_id: EventId::from_uuid(m.event_id),
            event_type: m.event_type,
            status: m.status,
            attempts: m.attempts,
            next_attempt_at: m.next_attempt_at,
            last_status: m.last_status,
            last_error: m.last_error,
            created_at: m.created_at,
            updated_at: m.updated_at,
        }
    }
}

/// One attempt.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Attempt {
    pub attempted_at: DateTime<Utc>,
    pub status_code: Option<i32>,
    pub latency_ms: i64,
    pub response_body: Option<String>,
    pub error: Option<String>,
}

fn pending(ws: uuid::Uuid, endpoint: WebhookId, event: &StoredEvent, now: DateTime<Utc>) -> wd::ActiveModel {
    wd::ActiveModel {
        workspace_id: Set(ws),
        id: Set(DeliveryId::new().uuid()),
        endpoint_id: Set(endpoint.uuid()),
        event_id: Set(event.id.uuid()),
        event_type: Set(event.kind.clone()),
        status: Set("pending".into()),
        attempts: Set(0),
        next_attempt_at: Set(Some(now)),
        claimed_until: Set(None),
        last_status: Set(None),
        last_error: Set(None),
        created_at: Set(now),
        updated_at: Set(now),
    }
}

/// Whether an endpoint takes a stored event.
pub fn wants(e: &Endpoint, ev: &StoredEvent) -> bool {
    let Some(kind) = EventType::parse(&ev.kind) else {
        return false;
    };
    let facts = EventFacts {
        kind,
        actor_kind: ActorKind::parse(&ev.actor_type).unwrap_or(ActorKind::System),
        actor_id: ev.actor_id.as_deref(),
        changed_fields: ev
            .data
            .get("changed_fields")
            .and_then(Value::as_array)
            .map(Vec::as_slice),
    };
    e.subscription().wants(&facts)
}

/// Schedules deliveries of `events` to `endpoint`; an existing delivery of the same
/// event is made due again with a fresh schedule. Returns how many.
pub async fn schedule(
    db: &impl ConnectionTrait,
    ws: WorkspaceId,
    endpoint: WebhookId,
    events: &[StoredEvent],
    now: DateTime<Utc>,
) -> Result<u64, StoreError> {
    let rows: Vec<wd::ActiveModel> = events.iter().map(|e| pending(ws.uuid(), endpoint, e, now)).collect();
    let n = rows.len() as u64;
    for chunk in rows.chunks(200) {
        wd::Entity::insert_many(chunk.to_vec())
            .on_conflict(
                OnConflict::columns([wd::Column::WorkspaceId, wd::Column::EndpointId, wd::Column::EventId])
                    .update_columns([
                        wd::Column::Status,
                        wd::Column::Attempts,
                        wd::Column::NextAttemptAt,
                        wd::Column::ClaimedUntil,
                        wd::Column::UpdatedAt,
                    ])
                    .to_owned(),
            )
            .exec_without_returning(db)
            .await?;
    }
    Ok(n)
}

/// The dispatcher's name in `dispatch_cursors`.
const NAME: &str = "webhooks";

/// The dispatcher: turns events sequenced since its last run into deliveries for every
/// enabled endpoint that wants them, and moves its cursor, in one transaction. One
/// dispatcher runs at a time (advisory lock on PostgreSQL). Returns the events read.
pub async fn dispatch(db: &crate::Db, batch: u64) -> Result<usize, StoreError> {
    let tx = db.begin().await?;
    if !crate::db::only_one(&tx, 7_291_473_117).await? {
        return Ok(0);
    }
    // Endpoints only take events after their creation, so starting from the beginning of
    // the feed schedules nothing old; it only makes the first run read what is kept.
    let cursor = dc::Entity::find_by_id(NAME.to_owned())
        .one(&tx)
        .await?
        .map_or(0, |c| c.position);
    let events: Vec<(uuid::Uuid, StoredEvent)> = event::Entity::find()
        .filter(event::Column::Position.gt(cursor))
        .order_by_asc(event::Column::Position)
        .limit(batch)
        .all(&tx)
        .await?
        .into_iter()
        .map(|m| (m.workspace_id, crate::outbox::stored(m)))
        .collect();
    let Some(last) = events.last().and_then(|(_, e)| e.position) else {
        return Ok(0);
    };
    let mut workspaces: Vec<uuid::Uuid> = events.iter().map(|(w, _)| *w).collect();
    workspaces.sort();
    workspaces.dedup();
    let endpoints: Vec<(uuid::Uuid, Endpoint)> = we::Entity::find()
        .filter(we::Column::WorkspaceId.is_in(workspaces))
        .filter(we::Column::Enabled.eq(true))
        .all(&tx)
        .await?
        .into_iter()
        .map(|m| Ok((m.workspace_id, Endpoint::try_from(m)?)))
        .collect::<Result<_, StoreError>>()?;
    let now = crate::now();
    let mut rows = Vec::new();
    for (ws, ev) in &events {
        for (ews, ep) in &endpoints {
            // Changes made before the endpoint existed are not its business, even when
            // their events were numbered after it was created.
            let after_creation = ev.position.is_some_and(|p| p > ep.start_position) && ev.occurred_at >= ep.created_at;
            if ews == ws && after_creation && wants(ep, ev) {
                rows.push(pending(*ws, ep.id, ev, now));
            }
        }
    }
    for chunk in rows.chunks(200) {
        wd::Entity::insert_many(chunk.to_vec())
            .on_conflict(
                OnConflict::columns([wd::Column::WorkspaceId, wd::Column::EndpointId, wd::Column::EventId])
                    .do_nothing()
                    .to_owned(),
            )
            .exec_without_returning(&tx)
            .await?;
    }
    dc::Entity::insert(dc::ActiveModel {
        name: Set(NAME.to_owned()),
        position: Set(last),
    })
    .on_conflict(
        OnConflict::column(dc::Column::Name)
            .update_column(dc::Column::Position)
            .to_owned(),
    )
    .exec_without_returning(&tx)
    .await?;
    tx.commit().await?;
    Ok(events.len())
}

/// A delivery handed to a worker, with what it needs to send it.
#[derive(Clone, Debug)]
pub struct Claimed {
    pub workspace: WorkspaceId,
    pub delivery: Delivery,
    pub endpoint: Endpoint,
    /// `None` when the event is past its retention.
    pub event: Option<StoredEvent>,
}

/// Claims up to `limit` due deliveries for `lease`: each is handed to one worker among
/// all processes (PostgreSQL `FOR UPDATE SKIP LOCKED`; SQLite's single writer), and
/// handed out again if its worker does not finish before the lease ends.
pub async fn claim(
    db: &crate::Db,
    now: DateTime<Utc>,
    lease: chrono::Duration,
    limit: u64,
) -> Result<Vec<Claimed>, StoreError> {
    let tx = db.begin().await?;
    let due = wd::Entity::find()
        .filter(wd::Column::Status.is_in(["pending", "delivering"]))
        .filter(wd::Column::NextAttemptAt.lte(now))
        .filter(
            sea_orm::Condition::any()
                .add(wd::Column::ClaimedUntil.is_null())
                .add(wd::Column::ClaimedUntil.lt(now)),
        )
        .order_by_asc(wd::Column::NextAttemptAt)
        .limit(limit);
    let due = if tx.get_database_backend() == DatabaseBackend::Postgres {
        due.lock_with_behavior(
            sea_orm::sea_query::LockType::Update,
            sea_orm::sea_query::LockBehavior::SkipLocked,
        )
    } else {
        due
    };
    let rows = due.all(&tx).await?;
    if rows.is_empty() {
        return Ok(Vec::new());
    }
    // One statement each: mark the claims, read their endpoints, read their events.
    wd::Entity::update_many()
        .col_expr(wd::Column::Status, Expr::value("delivering"))
        .col_expr(wd::Column::ClaimedUntil, Expr::value(now + lease))
        .filter(
            Expr::tuple([Expr::col(wd::Column::WorkspaceId), Expr::col(wd::Column::Id)])
                .in_tuples(rows.iter().map(|m| (m.workspace_id, m.id))),
        )
        .exec(&tx)
        .await?;
    let mut endpoint_keys: Vec<(uuid::Uuid, uuid::Uuid)> =
        rows.iter().map(|m| (m.workspace_id, m.endpoint_id)).collect();
    endpoint_keys.sort();
    endpoint_keys.dedup();
    let endpoints: std::collections::HashMap<(uuid::Uuid, uuid::Uuid), Endpoint> = we::Entity::find()
        .filter(Expr::tuple([Expr::col(we::Column::WorkspaceId), Expr::col(we::Column::Id)]).in_tuples(endpoint_keys))
        .all(&tx)
        .await?
        .into_iter()
        .map(|m| Ok(((m.workspace_id, m.id), Endpoint::try_from(m)?)))
        .collect::<Result<_, StoreError>>()?;
    let events: std::collections::HashMap<(uuid::Uuid, uuid::Uuid), StoredEvent> = event::Entity::find()
        .filter(
            Expr::tuple([Expr::col(event::Column::WorkspaceId), Expr::col(event::Column::Id)])
                .in_tuples(rows.iter().map(|m| (m.workspace_id, m.event_id))),
        )
        .all(&tx)
        .await?
        .into_iter()
        .map(|m| ((m.workspace_id, m.id), crate::outbox::stored(m)))
        .collect();
    tx.commit().await?;
    let mut out = Vec::with_capacity(rows.len());
    for m in rows {
        let Some(endpoint) = endpoints.get(&(m.workspace_id, m.endpoint_id)).cloned() else {
            continue;
        };
        let event = events.get(&(m.workspace_id, m.event_id)).cloned();
        out.push(Claimed {
            workspace: WorkspaceId::from_uuid(m.workspace_id),
            delivery: m.into(),
            endpoint,
            event,
        });
    }
    Ok(out)
}

/// What an attempt came to, and what happens next.
#[derive(Clone, Debug)]
pub struct Outcome {
    pub attempt: Attempt,
    /// `succeeded`, `pending` (retry at `next_attempt_at`) or `failed`.
    pub status: &'static str,
    pub next_attempt_at: Option<DateTime<Utc>>,
}

/// Records an attempt and the delivery's new state. A delivery made due again while the
/// attempt was in flight (a replay or a manual retry) keeps that new state.
pub async fn finish(
    db: &impl ConnectionTrait,
    ws: WorkspaceId,
    delivery: DeliveryId,
    o: &Outcome,
) -> Result<(), StoreError> {
    wa::Entity::insert(wa::ActiveModel {
        workspace_id: Set(ws.uuid()),
        id: Set(uuid::Uuid::now_v7()),
        delivery_id: Set(delivery.uuid()),
        attempted_at: Set(o.attempt.attempted_at),
        status_code: Set(o.attempt.status_code),
        latency_ms: Set(o.attempt.latency_ms),
        response_body: Set(o.attempt.response_body.clone()),
        error: Set(o.attempt.error.clone()),
    })
    .exec_without_returning(db)
    .await?;
    wd::Entity::update_many()
        .col_expr(wd::Column::Status, Expr::value(o.status))
        .col_expr(wd::Column::Attempts, Expr::col(wd::Column::Attempts).add(1))
        .col_expr(wd::Column::NextAttemptAt, Expr::value(o.next_attempt_at))
        .col_expr(wd::Column::ClaimedUntil, Expr::value(Option::<DateTime<Utc>>::None))
        .col_expr(wd::Column::LastStatus, Expr::value(o.attempt.status_code))
        .col_expr(wd::Column::LastError, Expr::value(o.attempt.error.clone()))
        .col_expr(wd::Column::UpdatedAt, Expr::value(o.attempt.attempted_at))
        .filter(wd::Column::WorkspaceId.eq(ws.uuid()))
        .filter(wd::Column::Id.eq(delivery.uuid()))
        .filter(wd::Column::Status.eq("delivering"))
        .exec(db)
        .await?;
    Ok(())
}

/// Cancels the due deliveries of an endpoint (it was disabled).
pub async fn cancel_pending(
    db: &impl ConnectionTrait,
    ws: WorkspaceId,
    endpoint: WebhookId,
    reason: &str,
) -> Result<(), StoreError> {
    wd::Entity::update_many()
        .col_expr(wd::Column::Status, Expr::value("failed"))
        .col_expr(wd::Column::NextAttemptAt, Expr::value(Option::<DateTime<Utc>>::None))
        .col_expr(wd::Column::LastError, Expr::value(reason))
        .filter(wd::Column::WorkspaceId.eq(ws.uuid()))
        .filter(wd::Column::EndpointId.eq(endpoint.uuid()))
        .filter(wd::Column::Status.eq("pending"))
        .exec(db)
        .await?;
    Ok(())
}

/// One delivery of an endpoint.
/// # Errors
/// `NotFound`.
pub async fn delivery(
    db: &impl ConnectionTrait,
    ws: WorkspaceId,
    endpoint: WebhookId,
    id: DeliveryId,
) -> Result<Delivery, StoreError> {
    wd::Entity::find_by_id((ws.uuid(), id.uuid()))
        .filter(wd::Column::EndpointId.eq(endpoint.uuid()))
        .one(db)
        .await?
        .map(Delivery::from)
        .ok_or(StoreError::NotFound)
}

/// An endpoint's deliveries, newest first, optionally in one status.
pub async fn deliveries(
    db: &impl ConnectionTrait,
    ws: WorkspaceId,
    endpoint: WebhookId,
    status: Option<&str>,
    before: Option<uuid::Uuid>,
    limit: u64,
) -> Result<Page<Delivery>, StoreError> {
    let mut q = wd::Entity::find()
        .filter(wd::Column::WorkspaceId.eq(ws.uuid()))
        .filter(wd::Column::EndpointId.eq(endpoint.uuid()));
    if let Some(s) = status {
        q = q.filter(wd::Column::Status.eq(s));
    }
    if let Some(b) = before {
        q = q.filter(wd::Column::Id.lt(b));
    }
    let rows = q.order_by_desc(wd::Column::Id).limit(limit + 1).all(db).await?;
    Ok(Page::from_rows(rows.into_iter().map(Delivery::from).collect(), limit))
}

/// A delivery's attempts, oldest first.
pub async fn attempts(
    db: &impl ConnectionTrait,
    ws: WorkspaceId,
    delivery: DeliveryId,
) -> Result<Vec<Attempt>, StoreError> {
    Ok(wa::Entity::find()
        .filter(wa::Column::WorkspaceId.eq(ws.uuid()))
        .filter(wa::Column::DeliveryId.eq(delivery.uuid()))
        .order_by_asc(wa::Column::Id)
        .all(db)
        .await?
        .into_iter()
        .map(|m| Attempt {
            attempted_at: m.attempted_at,
            status_code: m.status_code,
            latency_ms: m.latency_ms,
            response_body: m.response_body,
            error: m.error,
        })
        .collect())
}

/// Makes a delivery due now for one more attempt.
pub async fn retry(
    db: &impl ConnectionTrait,
    ws: WorkspaceId,
    id: DeliveryId,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    wd::Entity::update_many()
        .col_expr(wd::Column::Status, Expr::value("pending"))
        .col_expr(wd::Column::NextAttemptAt, Expr::value(now))
        .col_expr(wd::Column::ClaimedUntil, Expr::value(Option::<DateTime<Utc>>::None))
        .col_expr(wd::Column::UpdatedAt, Expr::value(now))
        .filter(wd::Column::WorkspaceId.eq(ws.uuid()))
        .filter(wd::Column::Id.eq(id.uuid()))
        .exec(db)
        .await?;
    Ok(())
}

/// Removes deliveries (and their attempts) last touched before `before`.
pub async fn purge_before(db: &impl ConnectionTrait, before: DateTime<Utc>) -> Result<u64, StoreError> {
    Ok(wd::Entity::delete_many()
        .filter(wd::Column::UpdatedAt.lt(before))
        .filter(wd::Column::Status.is_in(["succeeded", "failed"]))
        .exec(db)
        .await?
        .rows_affected)
}
