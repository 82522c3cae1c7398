//! The API's one error type and its RFC 9457 problem-details rendering. REST answers
//! `application/problem+json`; GraphQL carries the same `code` in `extensions`.

use actix_web::http::{StatusCode, header};
use actix_web::{HttpResponse, ResponseError};
use rapport_domain::{DomainError, FieldError};
use rapport_store::StoreError;
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

/// Why a request failed. Each variant's doc names its status and `code`.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// 400 with the given code (`malformed_json`, `invalid_query`, `invalid_cursor`,
    /// `invalid_idempotency_key`, `invalid_request` …).
    #[error("{detail}")]
    BadRequest { code: &'static str, detail: String },
    /// 422 `validation_failed` or a domain rule's code.
    #[error(transparent)]
    Domain(#[from] DomainError),
    /// 404 `not_found`.
    #[error("{0} not found")]
    NotFound(&'static str),
    /// 405 `method_not_allowed`: the path exists; the methods it accepts.
    #[error("this resource allows {0}")]
    MethodNotAllowed(String),
    /// 409 `conflict`: a unique value is taken; names the record holding it.
    #[error("{detail}")]
    Conflict { detail: String, existing_id: Option<Uuid> },
    /// 409 `concurrent_modification`: the record changed while this request ran.
    #[error("the record was modified concurrently; retry")]
    Stale,
    /// 409 `in_use`: the record is referenced and cannot be removed or changed so.
    #[error("{0}")]
    InUse(String),
    /// 409 with the given code (`confirmation_token_used`, `confirmation_superseded`):
    /// the request conflicts with the state the record is in.
    #[error("{detail}")]
    Refused { code: &'static str, detail: String },
    /// 410 with the given code (`contact_erased`, `confirmation_token_expired`): the
    /// record exists but what was asked of it is gone for good.
    #[error("{detail}")]
    Gone { code: &'static str, detail: String },
    /// 410 `contact_merged`: the contact was merged into `into`, which holds everything
    /// it had (a plain read of the contact answers 301 instead).
    #[error("the contact was merged into {into}")]
    Merged { into: Uuid },
    /// 412 `precondition_failed`: `If-Match` does not match the current version.
    #[error("If-Match does not match the current version {current}")]
    PreconditionFailed { current: i64 },
    /// 401 `unauthorized`, `invalid_token` or `token_expired`.
    #[error("{detail}")]
    Unauthorized { code: &'static str, detail: String },
    /// 403 `insufficient_scope`.
    #[error("this needs the scope {0}")]
    Forbidden(&'static str),
    /// 413 `payload_too_large`.
    #[error("the request body exceeds {limit} bytes")]
    PayloadTooLarge { limit: usize },
    /// 415 `unsupported_media_type`.
    #[error("{0}")]
    UnsupportedMediaType(String),
    /// 422 `idempotency_key_reused`: same key, different request.
    #[error("this Idempotency-Key was used with a different request")]
    IdempotencyKeyReused,
    /// 409 `idempotency_request_in_progress`: the first request with this key is still running.
    #[error("a request with this Idempotency-Key is still being processed")]
    IdempotencyInProgress,
    /// 503 `unavailable`: the database cannot be reached.
    #[error("the service is temporarily unavailable")]
    Unavailable,
    /// 500 `internal_error`: logged in full, answered with a generic detail.
    #[error("internal error: {0}")]
    Internal(String),
}

/// An RFC 9457 problem document.
#[derive(Debug, Serialize, ToSchema)]
pub struct Problem {
    /// A URI reference naming the problem type: `/problems/{code}`.
    #[serde(rename = "type")]
    pub kind: String,
    pub title: &'static str,
    pub status: u16,
    pub detail: String,
    /// Stable machine-readable code.
    pub code: &'static str,
    /// The id of the request, also sent as the `X-Request-Id` header.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
    /// One entry per invalid field, located by JSON pointer.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<ProblemField>,
    /// For a conflict: the record holding the value.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub existing_id: Option<Uuid>,
    /// For a failed precondition: the current version.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub current_version: Option<i64>,
    /// For a merged contact: the contact it was merged into.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub merged_into: Option<Uuid>,
}

/// One invalid field.
#[derive(Debug, Serialize, ToSchema)]
pub struct ProblemField {
    /// JSON pointer (RFC 6901) into the request body; empty for the whole body.
    pub pointer: String,
    pub code: &'static str,
    pub message: String,
}

impl From<&FieldError> for ProblemField {
    fn from(e: &FieldError) -> Self {
        Self {
            pointer: e.pointer.clone(),
            code: e.code,
            message: e.message.clone(),
        }
    }
}

impl ApiError {
    /// The stable machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            Self::BadRequest { code, .. }
            | Self::Unauthorized { code, .. }
            | Self::Refused { code, .. }
            | Self::Gone { code, .. } => code,
            Self::Domain(e) => e.code(),
            Self::NotFound(_) => "not_found",
            Self::Merged { .. } => "contact_merged",
            Self::MethodNotAllowed(_) => "method_not_allowed",
            Self::Conflict { .. } => "conflict",
            Self::Stale => "concurrent_modification",
            Self::InUse(_) => "in_use",
            Self::PreconditionFailed { .. } => "precondition_failed",
            Self::Forbidden(_) => "insufficient_scope",
            Self::PayloadTooLarge { .. } => "payload_too_large",
            Self::UnsupportedMediaType(_) => "unsupported_media_type",
            Self::IdempotencyKeyReused => "idempotency_key_reused",
            Self::IdempotencyInProgress => "idempotency_request_in_progress",
            Self::Unavailable => "unavailable",
            Self::Internal(_) => "internal_error",
        }
    }

    fn title(&self) -> &'static str {
        match self {
            Self::BadRequest { .. } => "Bad request",
            Self::Domain(DomainError::Invalid(_)) => "Validation failed",
            Self::Domain(DomainError::StageTransitionNotAllowed { .. }) => "Stage transition not allowed",
            Self::Domain(DomainError::PurposeArchived(_)) => "Purpose archived",
            Self::Gone { .. } | Self::Merged { .. } => "Gone",
            Self::NotFound(_) => "Not found",
            Self::MethodNotAllowed(_) => "Method not allowed",
            Self::Conflict { .. } | Self::Refused { .. } => "Conflict",
            Self::Stale => "Concurrent modification",
            Self::InUse(_) => "In use",
            Self::PreconditionFailed { .. } => "Precondition failed",
            Self::Unauthorized { .. } => "Unauthorized",
            Self::Forbidden(_) => "Forbidden",
            Self::PayloadTooLarge { .. } => "Payload too large",
            Self::UnsupportedMediaType(_) => "Unsupported media type",
            Self::IdempotencyKeyReused => "Idempotency key reused",
            Self::IdempotencyInProgress => "Request in progress",
            Self::Unavailable => "Service unavailable",
            Self::Internal(_) => "Internal server error",
        }
    }

    /// A 400 with `code`.
    pub fn bad_request(code: &'static str, detail: impl Into<String>) -> Self {
        Self::BadRequest {
            code,
            detail: detail.into(),
        }
    }

    /// A 422 `validation_failed` for one field.
    pub fn invalid(pointer: impl Into<String>, code: &'static str, message: impl Into<String>) -> Self {
        Self::Domain(DomainError::field(pointer, code, message))
    }

    /// A 410 `contact_erased`: writes to an erased contact's tombstone are refused.
    pub fn erased() -> Self {
        Self::Gone {
            code: "contact_erased",
            detail: "the contact's personal data was erased; create a new contact instead".to_owned(),
        }
    }

    /// A 401 with `code`.
    pub fn unauthorized(code: &'static str, detail: impl Into<String>) -> Self {
        Self::Unauthorized {
            code,
            detail: detail.into(),
        }
    }

    /// The problem document for this error.
    pub fn problem(&self) -> Problem {
        let status = self.status_code();
        let detail = match self {
            Self::Internal(_) => "an unexpected error occurred; it has been logged with this request id".to_owned(),
            Self::Domain(DomainError::Invalid(errs)) => {
                let first = errs.first().map(ToString::to_string).unwrap_or_default();
                if errs.len() > 1 {
                    format!("{first} (and {} more)", errs.len() - 1)
                } else {
                    first
                }
            }
            other => other.to_string(),
        };
        Problem {
            kind: format!("/problems/{}", self.code()),
            title: self.title(),
            status: status.as_u16(),
            detail,
            code: self.code(),
            request_id: crate::http::request_id::current(),
            errors: match self {
                Self::Domain(DomainError::Invalid(errs)) => errs.iter().map(ProblemField::from).collect(),
                _ => Vec::new(),
            },
            existing_id: match self {
                Self::Conflict { existing_id, .. } => *existing_id,
                _ => None,
            },
            current_version: match self {
                Self::PreconditionFailed { current } => Some(*current),
                _ => None,
            },
            merged_into: match self {
                Self::Merged { into } => Some(*into),
                _ => None,
            },
        }
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        match self {
            Self::BadRequest { .. } => StatusCode::BAD_REQUEST,
            Self::Domain(_) | Self::IdempotencyKeyReused => StatusCode::UNPROCESSABLE_ENTITY,
            Self::NotFound(_) => StatusCode::NOT_FOUND,
            Self::MethodNotAllowed(_) => StatusCode::METHOD_NOT_ALLOWED,
            Self::Conflict { .. }
            | Self::Stale
            | Self::InUse(_)
            | Self::Refused { .. }
            | Self::IdempotencyInProgress => StatusCode::CONFLICT,
            Self::Gone { .. } | Self::Merged { .. } => StatusCode::GONE,
            Self::PreconditionFailed { .. } => StatusCode::PRECONDITION_FAILED,
            Self::Unauthorized { .. } => StatusCode::UNAUTHORIZED,
            Self::Forbidden(_) => StatusCode::FORBIDDEN,
            Self::PayloadTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            Self::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        if let Self::Internal(cause) = self {
            tracing::error!(error = %cause, "request failed");
        }
        let mut res = HttpResponse::build(self.status_code());
        res.content_type("application/problem+json");
        if let Self::Unauthorized { code, .. } = self {
            let challenge = match *code {
                "unauthorized" => "Bearer realm=\"rapport\"".to_owned(),
                other => format!(
                    "Bearer realm=\"rapport\", error=\"{}\"",
                    if other == "token_expired" {
                        "invalid_token"
                    } else {
                        other
                    }
                ),
            };
            res.insert_header((header::WWW_AUTHENTICATE, challenge));
        }
        if let Self::MethodNotAllowed(allow) = self {
            res.insert_header((header::ALLOW, allow.as_str()));
        }
        if let Self::Merged { into } = self {
            res.insert_header((header::LOCATION, format!("/v1/contacts/{into}")));
        }
        res.json(self.problem())
    }
}

impl From<FieldError> for ApiError {
    fn from(e: FieldError) -> Self {
        ApiError::Domain(DomainError::Invalid(vec![e]))
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound => ApiError::NotFound("record"),
            StoreError::Merged(into) => ApiError::Merged { into },
            StoreError::Conflict { field, existing } => ApiError::Conflict {
                detail: match existing {
                    Some(id) => format!("the {field} is already used by record {id}"),
                    None => format!("the {field} is already in use"),
                },
                existing_id: existing,
            },
            StoreError::Stale => ApiError::Stale,
            StoreError::Retry(why) => {
                tracing::warn!(error = %why, "transaction aborted by a concurrent one");
                ApiError::Stale
            }
            StoreError::Corrupt(what) => ApiError::Internal(format!("corrupt stored value: {what}")),
            StoreError::Db(e) => db_error(&e),
        }
    }
}

fn db_error(e: &rapport_store::DbErr) -> ApiError {
    let text = e.to_string();
    if text.contains("pool timed out") || text.contains("Connection refused") || text.contains("connection closed") {
        tracing::error!(error = %text, "database unavailable");
        ApiError::Unavailable
    } else {
        ApiError::Internal(text)
    }
}

/// Maps a store "not found" to a 404 naming what was looked for.
pub trait OrNotFound<T> {
    fn or_not_found(self, what: &'static str) -> Result<T, ApiError>;
}

impl<T> OrNotFound<T> for Result<T, StoreError> {
    fn or_not_found(self, what: &'static str) -> Result<T, ApiError> {
        self.map_err(|e| match e {
            StoreError::NotFound => ApiError::NotFound(what),
            other => other.into(),
        })
    }
}

impl async_graphql::ErrorExtensions for ApiError {
    fn extend(&self) -> async_graphql::Error {
        let p = self.problem();
        let message = p.detail.clone();
        async_graphql::Error::new(message).extend_with(|_, ext| {
            ext.set("code", p.code);
            ext.set("status", p.status);
            if let Some(id) = &p.request_id {
                ext.set("request_id", id.as_str());
            }
            if let Some(id) = p.existing_id {
                ext.set("existing_id", id.to_string());
            }
            if let Some(id) = p.merged_into {
                ext.set("merged_into", id.to_string());
            }
            if let Some(v) = p.current_version {
                ext.set("current_version", v);
            }
            if !p.errors.is_empty() {
                let errors: Vec<async_graphql::Value> = p
                    .errors
                    .iter()
                    .map(|e| {
                        let mut m = async_graphql::indexmap::IndexMap::new();
                        m.insert(
                            async_graphql::Name::new("pointer"),
                            async_graphql::Value::from(e.pointer.as_str()),
                        );
                        m.insert(async_graphql::Name::new("code"), async_graphql::Value::from(e.code));
                        m.insert(
                            async_graphql::Name::new("message"),
                            async_graphql::Value::from(e.message.as_str()),
                        );
                        async_graphql::Value::Object(m)
                    })
                    .collect();
                ext.set("errors", errors);
            }
        })
    }
}
