//! Rapport's domain: the rules of the CRM as plain types and functions.
//!
//! Nothing here performs IO, knows about HTTP or SQL, or reads the clock: callers pass
//! `now` in, so every rule is deterministic and testable on its own.

pub mod attributes;
pub mod company;
pub mod consent;
pub mod contact;
pub mod email;
pub mod error;
pub mod event;
pub mod ids;
pub mod import;
pub mod lifecycle;
pub mod order;
pub mod patch;
pub mod phone;
pub mod privacy;
pub mod scope;
pub mod segment;
pub mod text;
pub mod webhook;
mod wire;

pub use error::{DomainError, FieldError};
pub use ids::{
    ApiClientId, AttributeDefinitionId, CompanyId, ConsentEventId, ContactId, DeliveryId, ErasureId, EventId, ImportId,
    OrderId, SegmentId, TransitionId, WebhookId, WorkspaceId,
};

/// Timestamps are kept to the microsecond: both PostgreSQL and SQLite store that
/// precision, so a value read back equals the value written.
pub fn truncate_to_micros(t: chrono::DateTime<chrono::Utc>) -> chrono::DateTime<chrono::Utc> {
    use chrono::{SubsecRound, Timelike};
    let micros = t.nanosecond() / 1_000 * 1_000;
    t.with_nanosecond(micros).unwrap_or_else(|| t.trunc_subsecs(6))
}
