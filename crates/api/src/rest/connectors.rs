//! `/v1/connectors` (registering shops and ERP systems) and `/v1/ingest/{id}` (their
//! signed pushes).

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, delete, get, patch, post, web};
use uuid::Uuid;

use super::{ReadErrors, WriteErrors, created, with_etag};
use crate::app::App;
use crate::auth::Caller;
use crate::dto::PageInfo;
use crate::dto::connectors::{ConnectorDto, ConnectorList, ConnectorPatch, IngestBatch, IngestResult, NewConnector};
use crate::error::ApiError;
use crate::http::json::{BodyLimit, Json};
use crate::service;

/// Registers a connector. The answer carries its signing secret (`whsec_…`), shown this
/// once, and the path it pushes to.
#[utoipa::path(post, path = "/v1/connectors", tag = "ingestion", request_body = NewConnector,
    responses((status = 201, body = ConnectorDto), WriteErrors), security(("bearer" = ["connectors:manage"])))]
#[post("/v1/connectors")]
pub async fn create(app: web::Data<App>, who: Caller, body: Json<NewConnector>) -> Result<HttpResponse, ApiError> {
    let (c, secret) = service::connectors::create(&app, &who, &body.into_inner().name).await?;
    let mut dto = ConnectorDto::from(&c);
    dto.secret = Some(secret);
    Ok(created(format!("/v1/connectors/{}", c.id), c.version, &dto))
}

/// Lists the workspace's connectors.
#[utoipa::path(get, path = "/v1/connectors", tag = "ingestion",
    responses((status = 200, body = ConnectorList), ReadErrors), security(("bearer" = ["connectors:manage"])))]
#[get("/v1/connectors")]
pub async fn list(app: web::Data<App>, who: Caller) -> Result<HttpResponse, ApiError> {
    let all = service::connectors::list(&app, &who).await?;
    Ok(HttpResponse::Ok().json(ConnectorList {
        data: all.iter().map(ConnectorDto::from).collect(),
        page: PageInfo {
            next_cursor: None,
            has_more: false,
        },
    }))
}

/// Reads a connector (without its secret).
#[utoipa::path(get, path = "/v1/connectors/{id}", tag = "ingestion", params(("id" = Uuid, Path)),
    responses((status = 200, body = ConnectorDto), ReadErrors), security(("bearer" = ["connectors:manage"])))]
#[get("/v1/connectors/{id}")]
pub async fn get(app: web::Data<App>, who: Caller, id: web::Path<Uuid>) -> Result<HttpResponse, ApiError> {
    let c = service::connectors::get(&app, &who, *id).await?;
    Ok(with_etag(StatusCode::OK, c.version, &ConnectorDto::from(&c)))
}

/// Enables or disables a connector; a disabled connector's pushes are refused.
#[utoipa::path(patch, path = "/v1/connectors/{id}", tag = "ingestion", request_body = ConnectorPatch, params(("id" = Uuid, Path)),
    responses((status = 200, body = ConnectorDto), WriteErrors), security(("bearer" = ["connectors:manage"])))]
#[patch("/v1/connectors/{id}")]
pub async fn update(
    app: web::Data<App>,
    who: Caller,
    id: web::Path<Uuid>,
    body: Json<ConnectorPatch>,
) -> Result<HttpResponse, ApiError> {
    let c = match body.into_inner().enabled {
        Some(en) => service::connectors::set_enabled(&app, &who, *id, en).await?,
        None => service::connectors::get(&app, &who, *id).await?,
    };
    Ok(with_etag(StatusCode::OK, c.version, &ConnectorDto::from(&c)))
}

/// Replaces the signing secret; the previous one is accepted for a day more.
#[utoipa::path(post, path = "/v1/connectors/{id}/rotate-secret", tag = "ingestion", params(("id" = Uuid, Path)),
    responses((status = 200, body = ConnectorDto), WriteErrors), security(("bearer" = ["connectors:manage"])))]
#[post("/v1/connectors/{id}/rotate-secret")]
pub async fn rotate(app: web::Data<App>, who: Caller, id: web::Path<Uuid>) -> Result<HttpResponse, ApiError> {
    let (c, secret) = service::connectors::rotate(&app, &who, *id).await?;
    let mut dto = ConnectorDto::from(&c);
    dto.secret = Some(secret);
    Ok(HttpResponse::Ok().json(dto))
}

/// Removes a connector.
#[utoipa::path(delete, path = "/v1/connectors/{id}", tag = "ingestion", params(("id" = Uuid, Path)),
    responses((status = 204, description = "Deleted"), WriteErrors), security(("bearer" = ["connectors:manage"])))]
#[delete("/v1/connectors/{id}")]
pub async fn remove(app: web::Data<App>, who: Caller, id: web::Path<Uuid>) -> Result<HttpResponse, ApiError> {
    service::connectors::delete(&app, &who, *id).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// A connector's push: up to 1000 commands (`contact.upsert`, `company.upsert`,
/// `consent.record`), applied in order through the same rules as the REST API, each
/// answered. Authenticated by the Standard Webhooks signature (`webhook-id`,
/// `webhook-timestamp` within 5 minutes, `webhook-signature`), not by a token; a repeated
/// `webhook-id` answers the first result and applies nothing.
#[utoipa::path(post, path = "/v1/ingest/{id}", tag = "ingestion", request_body = IngestBatch,
    params(("id" = Uuid, Path), ("webhook-id" = String, Header), ("webhook-timestamp" = String, Header), ("webhook-signature" = String, Header)),
    responses((status = 200, body = IngestResult), WriteErrors), security(("webhook_signature" = [])))]
pub async fn ingest(
    app: web::Data<App>,
    id: web::Path<Uuid>,
    req: HttpRequest,
    mut payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let limit = req.app_data::<BodyLimit>().map_or(1 << 20, |l| l.0);
    let body = crate::http::json::read_body(&req, &mut payload, limit).await?;
    let header = |n: &str| req.headers().get(n).and_then(|v| v.to_str().ok());
    let signed = service::ingest::Signed {
        id: header("webhook-id"),
        timestamp: header("webhook-timestamp"),
        signature: header("webhook-signature"),
    };
    let (status, bytes, replayed) = service::ingest::push(&app, *id, &signed, &body).await?;
    let mut res = HttpResponse::build(StatusCode::from_u16(status).unwrap_or(StatusCode::OK));
    res.content_type("application/json");
    if replayed {
        res.insert_header(("idempotent-replayed", "true"));
    }
    Ok(res.body(bytes))
}

/// The ingest route, with the batch body limit.
pub fn ingest_scope(limit: usize) -> actix_web::Resource {
    web::resource("/v1/ingest/{id}")
        .app_data(BodyLimit(limit))
        .route(web::post().to(ingest))
}
