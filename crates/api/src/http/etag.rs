//! ETags and preconditions. A record's ETag is its version: `"7"`.

use actix_web::HttpRequest;
use actix_web::http::header;

use crate::error::ApiError;

/// The ETag of a record at `version`.
pub fn of(version: i64) -> String {
    format!("\"{version}\"")
}

/// What `If-Match` asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Precondition {
    /// No `If-Match` header.
    None,
    /// `If-Match: *`: the record must exist.
    Exists,
    /// `If-Match: "7"`: the record must be at this version.
    Version(i64),
}

impl Precondition {
    /// Checks the current version against the precondition.
    /// # Errors
    /// 412 `precondition_failed` with the current version.
    pub fn check(self, current: i64) -> Result<(), ApiError> {
        match self {
            Precondition::Version(v) if v != current => Err(ApiError::PreconditionFailed { current }),
            _ => Ok(()),
        }
    }

    /// For GraphQL's `ifVersion` argument.
    pub fn from_version(v: Option<i64>) -> Self {
        v.map_or(Precondition::None, Precondition::Version)
    }
}

/// Reads `If-Match`. Weak and strong forms of a version tag are both accepted.
/// # Errors
/// 400 `invalid_request` when the header is not a version tag or `*`.
pub fn if_match(req: &HttpRequest) -> Result<Precondition, ApiError> {
    let Some(v) = req.headers().get(header::IF_MATCH) else {
        return Ok(Precondition::None);
    };
    let v = v.to_str().unwrap_or_default().trim();
    if v == "*" {
        return Ok(Precondition::Exists);
    }
    v.trim_start_matches("W/")
        .trim_matches('"')
        .parse::<i64>()
        .map(Precondition::Version)
        .map_err(|_| {
            ApiError::bad_request(
                "invalid_request",
                "If-Match must be an ETag from this API, such as \"3\", or *",
            )
        })
}

/// Whether `If-None-Match` already names this version (the caller's copy is current).
pub fn not_modified(req: &HttpRequest, version: i64) -> bool {
    let tag = of(version);
    req.headers()
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.split(',')
                .any(|t| t.trim().trim_start_matches("W/") == tag || t.trim() == "*")
        })
}
