//! `/v1/api-clients` (scope `admin`).

use actix_web::{HttpResponse, delete, get, post, web};
use rapport_domain::ApiClientId;
use uuid::Uuid;

use super::{ReadErrors, WriteErrors};
use crate::app::App;
use crate::auth::Caller;
use crate::dto::api_clients::{ApiClientDto, ApiClientList, CreatedApiClient, NewApiClient};
use crate::error::ApiError;
use crate::http::json::Json;
use crate::service;

/// Creates an API client. Its secret is in this response only.
#[utoipa::path(post, path = "/v1/api-clients", tag = "auth", request_body = NewApiClient,
    responses((status = 201, body = CreatedApiClient), WriteErrors), security(("bearer" = ["admin"])))]
#[post("/v1/api-clients")]
pub async fn create(app: web::Data<App>, who: Caller, body: Json<NewApiClient>) -> Result<HttpResponse, ApiError> {
    let b = body.into_inner();
    let (client, secret) = service::api_clients::create(&app, &who, &b.name, &b.scopes).await?;
    Ok(HttpResponse::Created()
        .insert_header((
            actix_web::http::header::LOCATION,
            format!("/v1/api-clients/{}", client.id),
        ))
        .insert_header((actix_web::http::header::CACHE_CONTROL, "no-store"))
        .json(CreatedApiClient {
            client: ApiClientDto::from(&client),
            client_secret: secret,
        }))
}

/// Lists the workspace's API clients.
#[utoipa::path(get, path = "/v1/api-clients", tag = "auth", responses((status = 200, body = ApiClientList), ReadErrors), security(("bearer" = ["admin"])))]
#[get("/v1/api-clients")]
pub async fn list(app: web::Data<App>, who: Caller) -> Result<HttpResponse, ApiError> {
    let clients = service::api_clients::list(&app, &who).await?;
    Ok(HttpResponse::Ok().json(ApiClientList {
        data: clients.iter().map(ApiClientDto::from).collect(),
    }))
}

/// Reads one API client.
#[utoipa::path(get, path = "/v1/api-clients/{id}", tag = "auth", params(("id" = Uuid, Path)),
    responses((status = 200, body = ApiClientDto), ReadErrors), security(("bearer" = ["admin"])))]
#[get("/v1/api-clients/{id}")]
pub async fn get(app: web::Data<App>, who: Caller, id: web::Path<Uuid>) -> Result<HttpResponse, ApiError> {
    let c = service::api_clients::get(&app, &who, ApiClientId::from_uuid(*id)).await?;
    Ok(HttpResponse::Ok().json(ApiClientDto::from(&c)))
}

/// Revokes an API client: its secret and its tokens stop working.
#[utoipa::path(delete, path = "/v1/api-clients/{id}", tag = "auth", params(("id" = Uuid, Path)),
    responses((status = 200, body = ApiClientDto), WriteErrors), security(("bearer" = ["admin"])))]
#[delete("/v1/api-clients/{id}")]
pub async fn revoke(app: web::Data<App>, who: Caller, id: web::Path<Uuid>) -> Result<HttpResponse, ApiError> {
    let c = service::api_clients::revoke(&app, &who, ApiClientId::from_uuid(*id)).await?;
    Ok(HttpResponse::Ok().json(ApiClientDto::from(&c)))
}
