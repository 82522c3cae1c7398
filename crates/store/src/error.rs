//! The store's error type.

use sea_orm::{DbErr, SqlErr};
use uuid::Uuid;

/// What went wrong in the store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The record does not exist in the caller's workspace.
    #[error("not found")]
    NotFound,
    /// A uniqueness rule would be broken; `existing` is the record holding the value.
    #[error("conflict on {field}")]
    Conflict {
        field: &'static str,
        existing: Option<Uuid>,
    },
    /// The record changed since it was read (optimistic concurrency).
    #[error("the record was modified concurrently")]
    Stale,
    /// A stored value could not be read back as a domain value.
    #[error("corrupt stored value: {0}")]
    Corrupt(String),
    /// Any other database failure.
    #[error(transparent)]
    Db(DbErr),
}

impl From<DbErr> for StoreError {
    fn from(e: DbErr) -> Self {
        match e.sql_err() {
            Some(SqlErr::UniqueConstraintViolation(_)) => StoreError::Conflict {
                field: "unique key",
                existing: None,
            },
            _ => StoreError::Db(e),
        }
    }
}

impl StoreError {
    pub(crate) fn corrupt(what: impl std::fmt::Display) -> Self {
        StoreError::Corrupt(what.to_string())
    }
}
