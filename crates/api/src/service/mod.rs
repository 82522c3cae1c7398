//! Use cases. REST and GraphQL call these and nothing below them, so both surfaces
//! share one set of rules. Each use case checks scopes, owns its transaction and writes
//! its events in that transaction.

pub mod api_clients;
pub mod attributes;
pub mod auth;
pub mod bootstrap;
mod bulk;
pub mod companies;
pub mod connectors;
pub mod consent;
pub mod contacts;
pub mod demo;
mod effects;
pub mod events;
pub mod exports;
mod import_job;
pub mod imports;
pub mod ingest;
pub mod lifecycle;
mod membership;
pub mod merge;
pub mod orders;
pub mod privacy;
pub mod seed;
pub mod segments;
pub mod upserts;
pub mod webhooks;
pub mod workspace;

use rapport_domain::event::{Event, EventType};
use serde::Serialize;

use crate::auth::Caller;

/// The largest page a list returns.
pub const MAX_PAGE: u64 = 500;
/// The page size when none is asked for.
pub const DEFAULT_PAGE: u64 = 50;

/// Clamps a requested page size.
/// # Errors
/// 400 `invalid_query` outside 1..=500.
pub fn page_size(limit: Option<u64>) -> Result<u64, crate::error::ApiError> {
    match limit {
        None => Ok(DEFAULT_PAGE),
        Some(n) if (1..=MAX_PAGE).contains(&n) => Ok(n),
        Some(n) => Err(crate::error::ApiError::bad_request(
            "invalid_query",
            format!("limit must be between 1 and {MAX_PAGE}; got {n}"),
        )),
    }
}

/// An event about `object` (its API representation) caused by the caller at `at`, with
/// extra data merged in.
pub fn event(
    kind: EventType,
    who: &Caller,
    at: chrono::DateTime<chrono::Utc>,
    object: serde_json::Value,
    extra: Option<serde_json::Value>,
) -> Event {
    let mut data = serde_json::Map::new();
    data.insert("object".into(), object);
    if let Some(serde_json::Value::Object(extra)) = extra {
        data.extend(extra);
    }
    Event::new(
        kind,
        who.workspace(),
        who.actor().clone(),
        at,
        serde_json::Value::Object(data),
    )
}

/// The JSON representation of an API object, for event payloads.
pub fn object(x: &impl Serialize) -> serde_json::Value {
    serde_json::to_value(x).unwrap_or_default()
}

/// Whether an upsert created, updated or left a record as it was.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    Created,
    Updated,
    Unchanged,
}

/// Commits a transaction.
/// # Errors
/// When the commit fails; nothing of the transaction is kept.
pub async fn commit(tx: rapport_store::Tx) -> Result<(), crate::error::ApiError> {
    tx.commit().await.map_err(rapport_store::StoreError::from)?;
    Ok(())
}
