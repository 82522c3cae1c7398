//! REST endpoints under `/v1`. Handlers extract, call one use case and map the result;
//! the rules live in `service`.

pub mod api_clients;
pub mod attributes;
pub mod auth;
pub mod companies;
pub mod connectors;
pub mod consent;
pub mod contacts;
pub mod events;
pub mod exports;
pub mod imports;
pub mod lifecycle;
pub mod merge;
mod methods;
pub mod ops;
pub mod orders;
pub mod privacy;
pub mod segments;
pub mod webhooks;

use actix_web::http::StatusCode;
use actix_web::http::header;
use actix_web::{HttpResponse, web};
use chrono::{DateTime, Utc};
use rapport_store::page::{Order, Page};
use serde::Serialize;
use utoipa::IntoResponses;
use uuid::Uuid;

use crate::dto::PageInfo;
use crate::error::{ApiError, Problem};
use crate::http::{cursor, etag};

/// Error responses every authenticated endpoint may give.
#[derive(IntoResponses)]
#[allow(dead_code)]
pub enum ReadErrors {
    /// Malformed query parameters or cursor (`invalid_query`, `invalid_cursor`).
    #[response(status = 400, content_type = "application/problem+json")]
    BadRequest(Problem),
    /// Missing, malformed, forged, expired or revoked token.
    #[response(status = 401, content_type = "application/problem+json")]
    Unauthorized(Problem),
    /// The token lacks the needed scope (`insufficient_scope`).
    #[response(status = 403, content_type = "application/problem+json")]
    Forbidden(Problem),
    /// No such record in the caller's workspace.
    #[response(status = 404, content_type = "application/problem+json")]
    NotFound(Problem),
}

/// Error responses of endpoints that write.
#[derive(IntoResponses)]
#[allow(dead_code)]
pub enum WriteErrors {
    /// Malformed JSON (`malformed_json`) or bad headers.
    #[response(status = 400, content_type = "application/problem+json")]
    BadRequest(Problem),
    /// Missing, malformed, forged, expired or revoked token.
    #[response(status = 401, content_type = "application/problem+json")]
    Unauthorized(Problem),
    /// The token lacks the needed scope (`insufficient_scope`).
    #[response(status = 403, content_type = "application/problem+json")]
    Forbidden(Problem),
    /// No such record in the caller's workspace.
    #[response(status = 404, content_type = "application/problem+json")]
    NotFound(Problem),
    /// A unique value is taken (`conflict`, with `existing_id`), a concurrent change, or
    /// an Idempotency-Key still in progress.
    #[response(status = 409, content_type = "application/problem+json")]
    Conflict(Problem),
    /// `If-Match` does not match the current version (`precondition_failed`).
    #[response(status = 412, content_type = "application/problem+json")]
    PreconditionFailed(Problem),
    /// The body is larger than allowed.
    #[response(status = 413, content_type = "application/problem+json")]
    TooLarge(Problem),
    /// The body is not JSON.
    #[response(status = 415, content_type = "application/problem+json")]
    UnsupportedMediaType(Problem),
    /// Invalid fields (`validation_failed` with pointers), a forbidden stage move
    /// (`stage_transition_not_allowed`) or a reused Idempotency-Key.
    #[response(status = 422, content_type = "application/problem+json")]
    Unprocessable(Problem),
}

/// The answer of a contact route (other than reading the contact, a 301) to the id of a
/// contact merged into another.
#[derive(IntoResponses)]
#[allow(dead_code)]
pub enum MergedContact {
    /// The contact was merged into another (`contact_merged`): `merged_into` and
    /// `Location` name the survivor.
    #[response(status = 410, content_type = "application/problem+json")]
    Gone(Problem),
}

/// Mounts every REST route. Routes are tried in order, each pattern with parameters
/// costing a regular-expression match, so the busiest come first.
pub fn configure(cfg: &mut web::ServiceConfig, batch_limit: usize) {
    // Before `/v1/contacts/{id}`, whose pattern it also matches.
    cfg.service(merge::duplicates)
        .service(contacts::get)
        .service(contacts::update)
        .service(contacts::delete)
        .service(auth::token)
        .service(contacts::batch_upsert_scope(batch_limit))
        .service(contacts::create)
        .service(contacts::list)
        .service(contacts::get_by_email)
        .service(contacts::upsert_by_email)
        .service(contacts::get_by_external_id)
        .service(contacts::upsert_by_external_id)
        .service(contacts::retag)
        .service(merge::merge)
        .service(exports::contacts)
        .service(imports::create)
        .service(imports::list)
        .service(imports::get)
        .service(imports::upload)
        .service(imports::cancel)
        .service(imports::errors)
        .service(orders::batch_scope(batch_limit))
        .service(orders::upsert)
        .service(orders::list)
        .service(orders::get_by_external_id)
        .service(orders::get)
        .service(orders::of_contact)
        .service(orders::metrics)
        .service(orders::workspace)
        .service(orders::update_workspace)
        .service(segments::search)
        .service(segments::of_contact)
        .service(lifecycle::change_stage)
        .service(lifecycle::history)
        .service(consent::record)
        .service(consent::states)
        .service(consent::history)
        .service(consent::decision)
        .service(consent::check)
        .service(consent::confirm)
        .service(consent::reissue)
        .service(consent::list_purposes)
        .service(consent::get_purpose)
        .service(consent::create_purpose)
        .service(consent::update_purpose)
        .service(consent::delete_purpose)
        .service(privacy::export)
        .service(privacy::erase)
        .service(events::feed)
        .service(events::types)
        .service(webhooks::create)
        .service(webhooks::list)
        .service(webhooks::get)
        .service(webhooks::update)
        .service(webhooks::remove)
        .service(webhooks::rotate)
        .service(webhooks::test)
        .service(webhooks::deliveries)
        .service(webhooks::attempts)
        .service(webhooks::retry)
        .service(webhooks::replay)
        .service(connectors::ingest_scope(batch_limit))
        .service(connectors::create)
        .service(connectors::list)
        .service(connectors::get)
        .service(connectors::update)
        .service(connectors::rotate)
        .service(connectors::remove)
        .service(segments::create)
        .service(segments::list)
        .service(segments::fields)
        .service(segments::preview)
        .service(segments::get)
        .service(segments::update)
        .service(segments::remove)
        .service(segments::members)
        .service(segments::member_count)
        .service(segments::add)
        .service(segments::remove_members)
        .service(segments::refresh)
        .service(companies::create)
        .service(companies::list)
        .service(companies::get)
        .service(companies::update)
        .service(companies::delete)
        .service(companies::contacts)
        .service(attributes::create)
        .service(attributes::list)
        .service(attributes::get)
        .service(attributes::update)
        .service(attributes::delete)
        .service(api_clients::create)
        .service(api_clients::list)
        .service(api_clients::get)
        .service(api_clients::revoke);
}

/// Per-status counts of a batch's results.
#[derive(Debug, Default)]
pub(crate) struct Tally {
    pub created: usize,
    pub updated: usize,
    pub unchanged: usize,
    pub failed: usize,
}

impl Tally {
    /// Counts one item (`None`: it failed) and names its status.
    pub fn record(&mut self, outcome: Option<crate::service::Outcome>) -> crate::dto::contacts::ItemStatus {
        use crate::dto::contacts::ItemStatus;
        use crate::service::Outcome;
        match outcome {
            Some(Outcome::Created) => {
                self.created += 1;
                ItemStatus::Created
            }
            Some(Outcome::Updated) => {
                self.updated += 1;
                ItemStatus::Updated
            }
            Some(Outcome::Unchanged) => {
                self.unchanged += 1;
                ItemStatus::Unchanged
            }
            None => {
                self.failed += 1;
                ItemStatus::Failed
            }
        }
    }
}

/// A batch's 200 answer, saying so when `Prefer: return=minimal` was honoured.
pub(crate) fn batch_answer(minimal: bool, body: &impl Serialize) -> HttpResponse {
    let mut res = HttpResponse::Ok();
    if minimal {
        res.insert_header(("preference-applied", "return=minimal"));
    }
    res.json(body)
}

/// A JSON response carrying the record's ETag.
pub fn with_etag(status: StatusCode, version: i64, body: &impl Serialize) -> HttpResponse {
    HttpResponse::build(status)
        .insert_header((header::ETAG, etag::of(version)))
        .json(body)
}

/// A `201 Created` with `Location` and ETag.
pub fn created(location: String, version: i64, body: &impl Serialize) -> HttpResponse {
    HttpResponse::Created()
        .insert_header((header::LOCATION, location))
        .insert_header((header::ETAG, etag::of(version)))
        .json(body)
}

/// The `page` part of a list response: the cursor after the last item.
pub fn page_info<T>(page: &Page<T>, list: &str, order: Order, key: impl Fn(&T) -> (DateTime<Utc>, Uuid)) -> PageInfo {
    let next_cursor = if page.has_more {
        page.items.last().map(|last| {
            let (at, id) = key(last);
            cursor::encode(list, order, Some(at), id)
        })
    } else {
        None
    };
    PageInfo {
        next_cursor,
        has_more: page.has_more,
    }
}

/// The `page` part of a list in id order.
pub fn id_page_info<T>(page: &Page<T>, list: &str, id: impl Fn(&T) -> Uuid) -> PageInfo {
    PageInfo {
        next_cursor: page
            .has_more
            .then(|| page.items.last().map(|last| cursor::encode_id(list, id(last))))
            .flatten(),
        has_more: page.has_more,
    }
}

/// Answers unparseable ids in paths as 404: such a record cannot exist.
#[allow(clippy::needless_pass_by_value)] // actix's error-handler signature
pub fn path_error(_: actix_web::error::PathError, _: &actix_web::HttpRequest) -> actix_web::Error {
    ApiError::NotFound("record").into()
}

/// Answers malformed or unknown query parameters as 400 `invalid_query`.
#[allow(clippy::needless_pass_by_value)] // actix's error-handler signature
pub fn query_error(err: actix_web::error::QueryPayloadError, _: &actix_web::HttpRequest) -> actix_web::Error {
    let detail = match &err {
        actix_web::error::QueryPayloadError::Deserialize(e) => e.to_string(),
        other => other.to_string(),
    };
    ApiError::bad_request("invalid_query", format!("invalid query parameters: {detail}")).into()
}

/// Answers form bodies that cannot be read (token endpoint) as 400.
pub fn form_error(err: actix_web::error::UrlencodedError, _: &actix_web::HttpRequest) -> actix_web::Error {
    match err {
        actix_web::error::UrlencodedError::Overflow { limit, .. } => ApiError::PayloadTooLarge { limit }.into(),
        other => ApiError::bad_request("invalid_request", format!("the form body could not be read: {other}")).into(),
    }
}

/// Requests no route took: a known path with another method is 405 with `Allow`, an
/// unknown path 404, both as problem documents.
pub async fn not_found(req: actix_web::HttpRequest) -> Result<HttpResponse, ApiError> {
    let allowed = methods::allowed(req.path());
    if req.method() == actix_web::http::Method::OPTIONS {
        let mut res = HttpResponse::NoContent();
        if let Some(allow) = &allowed {
            res.insert_header((header::ALLOW, format!("{allow}, OPTIONS")));
        }
        return Ok(res.finish());
    }
    match allowed {
        // A method the path does accept reaching here means the path did not really match
        // (a trailing slash, say): that is a 404, not a 405.
        Some(allow) if !allow.split(", ").any(|m| m == req.method().as_str()) => Err(ApiError::MethodNotAllowed(allow)),
        _ => Err(ApiError::NotFound("route")),
    }
}
