//! Operational endpoints: health, readiness, metrics, the API description and the
//! problem-type documentation that problem `type` URIs point at.

use actix_web::{HttpResponse, get, web};
use serde::Serialize;

use crate::app::App;
use crate::http::metrics::Metrics;

/// The process is up.
#[utoipa::path(get, path = "/healthz", tag = "operations", responses((status = 200, description = "Up")))]
#[get("/healthz")]
pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(serde_json::json!({ "status": "ok" }))
}

/// The process can serve requests: the database answers.
#[utoipa::path(get, path = "/readyz", tag = "operations", responses((status = 200, description = "Ready"), (status = 503, description = "Database unreachable")))]
#[get("/readyz")]
pub async fn readyz(app: web::Data<App>) -> HttpResponse {
    match app.db.ping().await {
        Ok(()) => HttpResponse::Ok().json(serde_json::json!({ "status": "ready" })),
        Err(e) => {
            tracing::warn!(error = %e, "not ready");
            HttpResponse::ServiceUnavailable()
                .json(serde_json::json!({ "status": "unavailable", "reason": "database unreachable" }))
        }
    }
}

/// Prometheus metrics in the text exposition format.
#[utoipa::path(get, path = "/metrics", tag = "operations", responses((status = 200, description = "Prometheus text", content_type = "text/plain")))]
#[get("/metrics")]
pub async fn metrics(m: web::Data<Metrics>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4")
        .body(m.render())
}

/// The OpenAPI document.
#[get("/openapi.json")]
pub async fn openapi() -> HttpResponse {
    HttpResponse::Ok().json(crate::openapi::document())
}

/// One problem type.
#[derive(Serialize, utoipa::ToSchema)]
pub struct ProblemType {
    pub code: &'static str,
    pub status: u16,
    pub description: &'static str,
}

/// Every problem code the API answers with.
pub const PROBLEM_TYPES: &[(&str, u16, &str)] = &[
    (
        "malformed_json",
        400,
        "The body (or, in an import's error report, a row) is not valid JSON.",
    ),
    (
        "cors_rejected",
        400,
        "A browser request from an origin, or with a method or header, that the CORS configuration does not allow.",
    ),
    (
        "invalid_query",
        400,
        "A query parameter is unknown or malformed; unknown parameters are refused rather than ignored.",
    ),
    (
        "invalid_cursor",
        400,
        "The `after` cursor is not one this list issued for the same sort.",
    ),
    ("invalid_request", 400, "A header or form body is malformed."),
    (
        "invalid_idempotency_key",
        400,
        "The Idempotency-Key header is empty, longer than 255 characters or not printable ASCII.",
    ),
    (
        "invalid_scope",
        400,
        "The token request asks for scopes the client does not have.",
    ),
    (
        "unsupported_grant_type",
        400,
        "Only the client_credentials grant is supported.",
    ),
    ("unauthorized", 401, "No bearer token was sent."),
    (
        "invalid_token",
        401,
        "The token is malformed, forged, from an unknown issuer or audience, signed with a refused algorithm, or its client was revoked.",
    ),
    ("token_expired", 401, "The token has expired; request a new one."),
    ("invalid_client", 401, "Unknown client id or wrong secret."),
    (
        "insufficient_scope",
        403,
        "The token lacks the scope named in the detail.",
    ),
    (
        "not_found",
        404,
        "No such record in the caller's workspace (records of other workspaces are never visible).",
    ),
    (
        "method_not_allowed",
        405,
        "The path exists but not with this method; the `Allow` header lists its methods.",
    ),
    (
        "conflict",
        409,
        "A unique value (email, external id, domain, key) belongs to the record named by `existing_id`.",
    ),
    (
        "concurrent_modification",
        409,
        "The record changed while the request ran; retry it.",
    ),
    (
        "confirmation_token_used",
        409,
        "The double opt-in confirmation token was already used.",
    ),
    (
        "confirmation_superseded",
        409,
        "A later decision about the same purpose and contact point was recorded after the pending grant; the token no longer confirms anything.",
    ),
    (
        "in_use",
        409,
        "The record is still referenced, e.g. an attribute definition records still use.",
    ),
    (
        "idempotency_request_in_progress",
        409,
        "The first request with this Idempotency-Key has not finished.",
    ),
    (
        "precondition_failed",
        412,
        "If-Match does not name the current version (`current_version`).",
    ),
    (
        "contact_erased",
        410,
        "The contact's personal data was erased; its tombstone takes no writes. Create a new contact instead.",
    ),
    (
        "contact_merged",
        410,
        "The contact was merged into the contact named by `merged_into` (and `Location`), which holds everything it had; a plain read answers 301 to it.",
    ),
    (
        "import_file_received",
        409,
        "The import has its file already; create another import to run a file again.",
    ),
    (
        "import_finished",
        409,
        "The import has ended; there is nothing to cancel.",
    ),
    (
        "csv_header_missing",
        422,
        "An import job failed: its mapping names a header the file's header row lacks.",
    ),
    (
        "invalid_csv",
        422,
        "An import job failed: the file is not readable CSV at the position given (e.g. an unbalanced quote).",
    ),
    (
        "invalid_encoding",
        422,
        "An import job failed: the file is not UTF-8 at the row given.",
    ),
    (
        "record_too_large",
        422,
        "A record of an import file is larger than a request body may be (`RAPPORT_MAX_BODY_BYTES`): an NDJSON line fails as a row and is skipped; a CSV row fails the job, since where the next row starts cannot be told without reading the whole field.",
    ),
    (
        "import_file_missing",
        500,
        "An import job failed: its uploaded file was no longer on the server's disk (`RAPPORT_IMPORT_DIR`).",
    ),
    (
        "import_interrupted",
        500,
        "An import job failed because the server running it stopped; rows applied so far stay applied, and running the file again in a new import leaves them unchanged.",
    ),
    (
        "confirmation_token_expired",
        410,
        "The double opt-in confirmation token has expired; record the grant again to issue a new one.",
    ),
    ("payload_too_large", 413, "The body exceeds the configured limit."),
    (
        "unsupported_media_type",
        415,
        "The body must be application/json (or application/merge-patch+json).",
    ),
    (
        "validation_failed",
        422,
        "One or more fields are invalid; `errors` lists each with a JSON pointer.",
    ),
    (
        "stage_transition_not_allowed",
        422,
        "A backward lifecycle move without the lifecycle:override scope and a reason.",
    ),
    (
        "purpose_archived",
        422,
        "The consent purpose is archived and takes no new grants (denials and withdrawals are still recorded).",
    ),
    (
        "idempotency_key_reused",
        422,
        "This Idempotency-Key was used with a different request.",
    ),
    (
        "internal_error",
        500,
        "An unexpected error; it was logged with the request id.",
    ),
    ("unavailable", 503, "The database cannot be reached."),
];

/// Documents one problem type (the target of a problem's `type` URI).
#[get("/problems/{code}")]
pub async fn problem_type(code: web::Path<String>) -> HttpResponse {
    match PROBLEM_TYPES.iter().find(|(c, _, _)| *c == code.as_str()) {
        Some((code, status, description)) => HttpResponse::Ok().json(ProblemType {
            code,
            status: *status,
            description,
        }),
        None => actix_web::ResponseError::error_response(&crate::error::ApiError::NotFound("problem type")),
    }
}
