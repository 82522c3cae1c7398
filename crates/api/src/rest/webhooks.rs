//! `/v1/webhooks`: outgoing webhook endpoints, their secrets, test pings, delivery
//! history, retries and replays.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, delete, get, patch, post, web};
use rapport_domain::{DeliveryId, WebhookId};
use serde::Deserialize;
use utoipa::IntoParams;
use uuid::Uuid;

use super::{ReadErrors, WriteErrors, created, with_etag};
use crate::app::App;
use crate::auth::Caller;
use crate::dto::PageInfo;
use crate::dto::webhooks::{
    AttemptDto, AttemptList, DeliveryDto, DeliveryList, NewWebhook, Replay, ReplayResult, RotateSecret, RotatedSecret,
    TestResult, WebhookDto, WebhookList, WebhookPatch,
};
use crate::error::ApiError;
use crate::http::etag;
use crate::http::json::Json;
use crate::service;

/// Subscribes an endpoint to event types. The answer carries the signing secret
/// (`whsec_…`), shown this once; every delivery is signed with it per the Standard
/// Webhooks spec. Only events after the endpoint's creation are delivered.
#[utoipa::path(post, path = "/v1/webhooks", tag = "webhooks", request_body = NewWebhook,
    responses((status = 201, body = WebhookDto, headers(("ETag" = String), ("Location" = String))), WriteErrors),
    security(("bearer" = ["webhooks:manage"])))]
#[post("/v1/webhooks")]
pub async fn create(app: web::Data<App>, who: Caller, body: Json<NewWebhook>) -> Result<HttpResponse, ApiError> {
    let (e, secret) = service::webhooks::create(&app, &who, body.into_inner()).await?;
    let mut dto = WebhookDto::from(&e);
    dto.secret = Some(secret);
    Ok(created(format!("/v1/webhooks/{}", e.id), e.version, &dto))
}

/// Lists the workspace's endpoints.
#[utoipa::path(get, path = "/v1/webhooks", tag = "webhooks",
    responses((status = 200, body = WebhookList), ReadErrors), security(("bearer" = ["webhooks:manage"])))]
#[get("/v1/webhooks")]
pub async fn list(app: web::Data<App>, who: Caller) -> Result<HttpResponse, ApiError> {
    let all = service::webhooks::list(&app, &who).await?;
    Ok(HttpResponse::Ok().json(WebhookList {
        data: all.iter().map(WebhookDto::from).collect(),
        page: PageInfo {
            next_cursor: None,
            has_more: false,
        },
    }))
}

/// Reads an endpoint (without its secret).
#[utoipa::path(get, path = "/v1/webhooks/{id}", tag = "webhooks", params(("id" = Uuid, Path)),
    responses((status = 200, body = WebhookDto, headers(("ETag" = String))), ReadErrors), security(("bearer" = ["webhooks:manage"])))]
#[get("/v1/webhooks/{id}")]
pub async fn get(app: web::Data<App>, who: Caller, id: web::Path<Uuid>) -> Result<HttpResponse, ApiError> {
    let e = service::webhooks::get(&app, &who, WebhookId::from_uuid(*id)).await?;
    Ok(with_etag(StatusCode::OK, e.version, &WebhookDto::from(&e)))
}

/// Changes an endpoint (merge patch); `enabled: true` re-enables a disabled one.
#[utoipa::path(patch, path = "/v1/webhooks/{id}", tag = "webhooks", request_body = WebhookPatch,
    params(("id" = Uuid, Path), ("If-Match" = Option<String>, Header)),
    responses((status = 200, body = WebhookDto, headers(("ETag" = String))), WriteErrors), security(("bearer" = ["webhooks:manage"])))]
#[patch("/v1/webhooks/{id}")]
pub async fn update(
    app: web::Data<App>,
    who: Caller,
    id: web::Path<Uuid>,
    req: HttpRequest,
    body: Json<WebhookPatch>,
) -> Result<HttpResponse, ApiError> {
    let id = WebhookId::from_uuid(*id);
    let e = service::webhooks::update(&app, &who, id, body.into_inner(), etag::if_match(&req)?).await?;
    Ok(with_etag(StatusCode::OK, e.version, &WebhookDto::from(&e)))
}

/// Deletes an endpoint and its delivery history.
#[utoipa::path(delete, path = "/v1/webhooks/{id}", tag = "webhooks", params(("id" = Uuid, Path), ("If-Match" = Option<String>, Header)),
    responses((status = 204, description = "Deleted"), WriteErrors), security(("bearer" = ["webhooks:manage"])))]
#[delete("/v1/webhooks/{id}")]
pub async fn remove(
    app: web::Data<App>,
    who: Caller,
    id: web::Path<Uuid>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    service::webhooks::delete(&app, &who, WebhookId::from_uuid(*id), etag::if_match(&req)?).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Replaces the signing secret. For `overlap_seconds` (default a day) deliveries carry
/// signatures by both secrets, so receivers can switch without losing messages.
#[utoipa::path(post, path = "/v1/webhooks/{id}/rotate-secret", tag = "webhooks", request_body = RotateSecret, params(("id" = Uuid, Path)),
    responses((status = 200, body = RotatedSecret), WriteErrors), security(("bearer" = ["webhooks:manage"])))]
#[post("/v1/webhooks/{id}/rotate-secret")]
pub async fn rotate(
    app: web::Data<App>,
    who: Caller,
    id: web::Path<Uuid>,
    body: Json<RotateSecret>,
) -> Result<HttpResponse, ApiError> {
    let (secret, until) =
        service::webhooks::rotate(&app, &who, WebhookId::from_uuid(*id), body.into_inner().overlap_seconds).await?;
    Ok(HttpResponse::Ok().json(RotatedSecret {
        secret,
        previous_valid_until: until,
    }))
}

/// Sends a signed `webhook.test` message now and answers what the endpoint said.
#[utoipa::path(post, path = "/v1/webhooks/{id}/test", tag = "webhooks", params(("id" = Uuid, Path)),
    responses((status = 200, body = TestResult), WriteErrors), security(("bearer" = ["webhooks:manage"])))]
#[post("/v1/webhooks/{id}/test")]
pub async fn test(app: web::Data<App>, who: Caller, id: web::Path<Uuid>) -> Result<HttpResponse, ApiError> {
    let r = service::webhooks::test(&app, &who, WebhookId::from_uuid(*id)).await?;
    Ok(HttpResponse::Ok().json(r))
}

/// Filtering and paging of deliveries.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct DeliveryQuery {
    /// `pending`, `delivering`, `succeeded` or `failed`.
    pub status: Option<String>,
    /// Page size, 1 to 500 (default 50).
    pub limit: Option<u64>,
    /// `page.next_cursor` of the previous page.
    pub after: Option<String>,
}

/// The endpoint's deliveries, newest first.
#[utoipa::path(get, path = "/v1/webhooks/{id}/deliveries", tag = "webhooks", params(("id" = Uuid, Path), DeliveryQuery),
    responses((status = 200, body = DeliveryList), ReadErrors), security(("bearer" = ["webhooks:manage"])))]
#[get("/v1/webhooks/{id}/deliveries")]
pub async fn deliveries(
    app: web::Data<App>,
    who: Caller,
    id: web::Path<Uuid>,
    query: web::Query<DeliveryQuery>,
) -> Result<HttpResponse, ApiError> {
    let before = crate::http::cursor::decode_id(query.after.as_deref(), "deliveries")?;
    let limit = service::page_size(query.limit)?;
    let page = service::webhooks::deliveries(
        &app,
        &who,
        WebhookId::from_uuid(*id),
        query.status.as_deref(),
        before,
        limit,
    )
    .await?;
    Ok(HttpResponse::Ok().json(DeliveryList {
        data: page.items.iter().map(DeliveryDto::from).collect(),
        page: super::id_page_info(&page, "deliveries", |d| d.id.uuid()),
    }))
}

/// Every attempt of a delivery: when, the status or error, latency, the start of the
/// answer.
#[utoipa::path(get, path = "/v1/webhooks/{id}/deliveries/{delivery_id}/attempts", tag = "webhooks",
    params(("id" = Uuid, Path), ("delivery_id" = Uuid, Path)),
    responses((status = 200, body = AttemptList), ReadErrors), security(("bearer" = ["webhooks:manage"])))]
#[get("/v1/webhooks/{id}/deliveries/{delivery_id}/attempts")]
pub async fn attempts(
    app: web::Data<App>,
    who: Caller,
    path: web::Path<(Uuid, Uuid)>,
) -> Result<HttpResponse, ApiError> {
    let (id, d) = path.into_inner();
    let all = service::webhooks::attempts(&app, &who, WebhookId::from_uuid(id), DeliveryId::from_uuid(d)).await?;
    Ok(HttpResponse::Ok().json(AttemptList {
        data: all.iter().map(AttemptDto::from).collect(),
    }))
}

/// Tries a delivery again now.
#[utoipa::path(post, path = "/v1/webhooks/{id}/deliveries/{delivery_id}/retry", tag = "webhooks",
    params(("id" = Uuid, Path), ("delivery_id" = Uuid, Path)),
    responses((status = 202, body = DeliveryDto), WriteErrors), security(("bearer" = ["webhooks:manage"])))]
#[post("/v1/webhooks/{id}/deliveries/{delivery_id}/retry")]
pub async fn retry(app: web::Data<App>, who: Caller, path: web::Path<(Uuid, Uuid)>) -> Result<HttpResponse, ApiError> {
    let (id, d) = path.into_inner();
    let d = service::webhooks::retry(&app, &who, WebhookId::from_uuid(id), DeliveryId::from_uuid(d)).await?;
    Ok(HttpResponse::Accepted().json(DeliveryDto::from(&d)))
}

/// Delivers again every event of a time range that the endpoint takes (at most
/// 10,000), with their original `webhook-id`s.
#[utoipa::path(post, path = "/v1/webhooks/{id}/replay", tag = "webhooks", request_body = Replay, params(("id" = Uuid, Path)),
    responses((status = 202, body = ReplayResult), WriteErrors), security(("bearer" = ["webhooks:manage"])))]
#[post("/v1/webhooks/{id}/replay")]
pub async fn replay(
    app: web::Data<App>,
    who: Caller,
    id: web::Path<Uuid>,
    body: Json<Replay>,
) -> Result<HttpResponse, ApiError> {
    let b = body.into_inner();
    let n = service::webhooks::replay(&app, &who, WebhookId::from_uuid(*id), b.since, b.until).await?;
    Ok(HttpResponse::Accepted().json(ReplayResult { scheduled: n }))
}
