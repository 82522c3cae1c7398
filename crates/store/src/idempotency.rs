//! Idempotency keys: the first response to a keyed POST is kept and replayed.

use chrono::{DateTime, Utc};
use rapport_domain::WorkspaceId;
use sea_orm::{ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter};
use serde_json::Value;

use crate::entity::idempotency_key as ik;
use crate::error::StoreError;

/// A stored response.
#[derive(Clone, Debug, PartialEq)]
pub struct Recorded {
    pub request_hash: String,
    /// `None` while the first request is still being processed.
    pub response: Option<StoredResponse>,
}

/// The parts of a response needed to replay it.
#[derive(Clone, Debug, PartialEq)]
pub struct StoredResponse {
    pub status: u16,
    /// Header name → value, for the headers worth replaying.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

/// The key's record, unless it expired.
pub async fn get(
    db: &impl ConnectionTrait,
    ws: WorkspaceId,
    principal: &str,
    key: &str,
    now: DateTime<Utc>,
) -> Result<Option<Recorded>, StoreError> {
    let row = ik::Entity::find_by_id((ws.uuid(), principal.to_owned(), key.to_owned()))
        .one(db)
        .await?;
    let Some(row) = row.filter(|r| r.expires_at > now) else {
        return Ok(None);
    };
    let response = match (row.response_status, row.response_body) {
        (Some(status), Some(body)) => Some(StoredResponse {
            status: u16::try_from(status).map_err(StoreError::corrupt)?,
            headers: serde_json::from_value(row.response_headers).map_err(StoreError::corrupt)?,
            body,
        }),
        _ => None,
    };
    Ok(Some(Recorded {
        request_hash: row.request_hash,
        response,
    }))
}

/// Claims a key for a request being processed.
/// # Errors
/// `Conflict` when the key is already claimed (and not expired).
pub async fn claim(
    db: &impl ConnectionTrait,
    ws: WorkspaceId,
    principal: &str,
    key: &str,
    request_hash: &str,
    now: DateTime<Utc>,
    ttl: chrono::Duration,
) -> Result<(), StoreError> {
    // An expired record of the same key is replaced.
    ik::Entity::delete_many()
        .filter(ik::Column::WorkspaceId.eq(ws.uuid()))
        .filter(ik::Column::Principal.eq(principal))
        .filter(ik::Column::Key.eq(key))
        .filter(ik::Column::ExpiresAt.lte(now))
        .exec(db)
        .await?;
    ik::Entity::insert(ik::ActiveModel {
        workspace_id: Set(ws.uuid()),
        principal: Set(principal.to_owned()),
        key: Set(key.to_owned()),
        request_hash: Set(request_hash.to_owned()),
        response_status: Set(None),
        response_headers: Set(Value::Array(Vec::new())),
        response_body: Set(None),
        created_at: Set(now),
        expires_at: Set(now + ttl),
    })
    .exec_without_returning(db)
    .await
    .map_err(|e| match StoreError::from(e) {
        StoreError::Conflict { .. } => StoreError::Conflict {
            field: "idempotency_key",
            existing: None,
        },
        other => other,
    })?;
    Ok(())
}

/// Stores the response of a claimed key, kept (and replayed) until `keep_until`. A
/// claim is short-lived until then, so a request cut off by a crash does not block its
/// key for long.
pub async fn complete(
    db: &impl ConnectionTrait,
    ws: WorkspaceId,
    principal: &str,
    key: &str,
    response: &StoredResponse,
    keep_until: DateTime<Utc>,
) -> Result<(), StoreError> {
    ik::Entity::update_many()
        .set(ik::ActiveModel {
            response_status: Set(Some(i32::from(response.status))),
            response_headers: Set(serde_json::to_value(&response.headers).unwrap_or(Value::Null)),
            response_body: Set(Some(response.body.clone())),
            expires_at: Set(keep_until),
            ..Default::default()
        })
        .filter(ik::Column::WorkspaceId.eq(ws.uuid()))
        .filter(ik::Column::Principal.eq(principal))
        .filter(ik::Column::Key.eq(key))
        .exec(db)
        .await?;
    Ok(())
}

/// Releases a claimed key whose request failed, so a retry can run.
pub async fn release(db: &impl ConnectionTrait, ws: WorkspaceId, principal: &str, key: &str) -> Result<(), StoreError> {
    ik::Entity::delete_by_id((ws.uuid(), principal.to_owned(), key.to_owned()))
        .exec(db)
        .await?;
    Ok(())
}

/// Removes expired records; returns how many.
pub async fn purge_expired(db: &impl ConnectionTrait, now: DateTime<Utc>) -> Result<u64, StoreError> {
    Ok(ik::Entity::delete_many()
        .filter(ik::Column::ExpiresAt.lte(now))
        .exec(db)
        .await?
        .rows_affected)
}
