//! The store's error type.

use sea_orm::{DbErr, SqlErr};
use uuid::Uuid;

/// What went wrong in the store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The record does not exist in the caller's workspace.
    #[error("not found")]
    NotFound,
    /// The contact was merged into another one, which holds everything it had.
    #[error("merged into {0}")]
    Merged(Uuid),
    /// A uniqueness rule would be broken; `existing` is the record holding the value.
    #[error("conflict on {field}")]
    Conflict {
        field: &'static str,
        existing: Option<Uuid>,
    },
    /// The record changed since it was read (optimistic concurrency).
    #[error("the record was modified concurrently")]
    Stale,
    /// The database aborted the transaction to break a deadlock or a serialization
    /// conflict; running it again usually succeeds.
    #[error("transaction aborted by a concurrent one: {0}")]
    Retry(String),
    /// A stored value could not be read back as a domain value.
    #[error("corrupt stored value: {0}")]
    Corrupt(String),
    /// Any other database failure.
    #[error(transparent)]
    Db(DbErr),
}

/// The SQLSTATE of a database error, if it has one.
fn sqlstate(e: &DbErr) -> Option<String> {
    use sea_orm::RuntimeErr;
    match e {
        DbErr::Exec(RuntimeErr::SqlxError(x)) | DbErr::Query(RuntimeErr::SqlxError(x)) => match x.as_ref() {
            sea_orm::sqlx::Error::Database(d) => d.code().map(std::borrow::Cow::into_owned),
            _ => None,
        },
        _ => None,
    }
}

impl From<DbErr> for StoreError {
    fn from(e: DbErr) -> Self {
        // 40P01 deadlock_detected, 40001 serialization_failure (PostgreSQL); 5/517 busy (SQLite).
        if matches!(sqlstate(&e).as_deref(), Some("40P01" | "40001" | "5" | "517")) {
            return StoreError::Retry(e.to_string());
        }
        match e.sql_err() {
            Some(SqlErr::UniqueConstraintViolation(_)) => StoreError::Conflict {
                field: "unique key",
                existing: None,
            },
            // A row referred to, or referring, changed under a concurrent transaction
            // (a purpose deleted while a decision about it was recorded): retrying sees
            // the new state and answers it properly.
            Some(SqlErr::ForeignKeyConstraintViolation(_)) => StoreError::Stale,
            _ => StoreError::Db(e),
        }
    }
}

impl StoreError {
    pub(crate) fn corrupt(what: impl std::fmt::Display) -> Self {
        StoreError::Corrupt(what.to_string())
    }
}
