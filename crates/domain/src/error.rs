//! The domain's error type. Each variant has a stable machine `code` that the API
//! layer exposes unchanged (REST problem details and GraphQL `extensions.code`).

use std::fmt;

use serde::Serialize;

use crate::lifecycle::Stage;

/// One problem with one part of an input, located by a JSON pointer (RFC 6901) into
/// the request body, e.g. `/attributes/tier`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct FieldError {
    pub pointer: String,
    pub code: &'static str,
    pub message: String,
}

impl FieldError {
    pub fn new(pointer: impl Into<String>, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            pointer: pointer.into(),
            code,
            message: message.into(),
        }
    }

    /// The same error, located under `prefix` (used when an input is nested, e.g. item 3
    /// of a batch: `/items/3`).
    #[must_use]
    pub fn under(mut self, prefix: &str) -> Self {
        self.pointer = format!("{prefix}{}", self.pointer);
        self
    }
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let at = if self.pointer.is_empty() { "/" } else { &self.pointer };
        write!(f, "{at}: {}", self.message)
    }
}

/// Escapes one JSON pointer reference token (RFC 6901 §3).
pub fn pointer_token(token: &str) -> String {
    token.replace('~', "~0").replace('/', "~1")
}

/// Why a domain rule refused an input.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum DomainError {
    /// 422 `validation_failed`: one or more fields are invalid.
    #[error("{} invalid field(s)", .0.len())]
    Invalid(Vec<FieldError>),
    /// 422 `stage_transition_not_allowed`: a lifecycle move the rules forbid.
    #[error("moving from {from} to {to} is not allowed: {why}")]
    StageTransitionNotAllowed { from: Stage, to: Stage, why: &'static str },
    /// 422 `purpose_archived`: a grant for a consent purpose that takes no new grants.
    #[error("the consent purpose '{0}' is archived and takes no new grants")]
    PurposeArchived(String),
}

impl DomainError {
    /// The stable machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Invalid(_) => "validation_failed",
            Self::StageTransitionNotAllowed { .. } => "stage_transition_not_allowed",
            Self::PurposeArchived(_) => "purpose_archived",
        }
    }

    /// The same error with its field pointers located under `prefix` (an input nested
    /// in a larger body, e.g. `/consents/2`).
    #[must_use]
    pub fn under(self, prefix: &str) -> Self {
        match self {
            Self::Invalid(errors) => Self::Invalid(errors.into_iter().map(|e| e.under(prefix)).collect()),
            other => other,
        }
    }

    /// A single-field validation error.
    pub fn field(pointer: impl Into<String>, code: &'static str, message: impl Into<String>) -> Self {
        Self::Invalid(vec![FieldError::new(pointer, code, message)])
    }
}

/// Collects field errors while a whole input is checked, so a caller learns about
/// every problem at once instead of one per round trip.
#[derive(Debug, Default)]
pub struct Errors(Vec<FieldError>);

impl Errors {
    pub fn push(&mut self, e: FieldError) {
        self.0.push(e);
    }

    /// Keeps the value of `r`, recording its error if any.
    pub fn take<T>(&mut self, r: Result<T, FieldError>) -> Option<T> {
        match r {
            Ok(v) => Some(v),
            Err(e) => {
                self.0.push(e);
                None
            }
        }
    }

    pub fn extend(&mut self, other: impl IntoIterator<Item = FieldError>) {
        self.0.extend(other);
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The recorded errors.
    pub fn into_inner(self) -> Vec<FieldError> {
        self.0
    }

    /// `Ok(())` when nothing was recorded.
    pub fn finish(self) -> Result<(), DomainError> {
        if self.0.is_empty() {
            Ok(())
        } else {
            Err(DomainError::Invalid(self.0))
        }
    }
}
