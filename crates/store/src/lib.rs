//! Rapport's persistence. The only crate that names sea-orm: it exposes domain types,
//! a [`Db`] handle with transactions, and [`StoreError`].
//!
//! Every repository function takes the caller's workspace as a typed argument, so a
//! query without a tenant filter cannot be written by accident.

pub mod aliases;
pub mod api_clients;
pub mod attributes;
pub mod companies;
pub mod connectors;
pub mod consent;
pub mod contacts;
mod db;
pub mod duplicates;
mod entity;
pub mod erasures;
mod error;
pub mod idempotency;
pub mod imports;
pub mod lifecycle;
pub mod merges;
pub mod metrics;
mod migration;
pub mod orders;
pub mod outbox;
pub mod page;
pub mod secrets;
pub mod segments;
#[cfg(feature = "testing")]
pub mod testing;
pub mod webhooks;
pub mod workspaces;

pub use db::{Backend, Db, DbOptions, Tx, db_options, savepoint};
pub use error::StoreError;
pub use sea_orm::ConnectionTrait as Conn;

/// Current time, truncated to what both databases store.
pub fn now() -> chrono::DateTime<chrono::Utc> {
    rapport_domain::truncate_to_micros(chrono::Utc::now())
}
pub use sea_orm::DbErr;
