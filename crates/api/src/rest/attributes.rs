//! `/v1/attribute-definitions`: the typed custom attributes of contacts and companies.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, delete, get, patch, post, web};
use rapport_domain::AttributeDefinitionId;
use rapport_domain::attributes::AttributeEntity;
use serde::Deserialize;
use utoipa::IntoParams;
use uuid::Uuid;

use super::{ReadErrors, WriteErrors, created, with_etag};
use crate::app::App;
use crate::auth::Caller;
use crate::dto::attributes::{
    AttributeDefinitionDto, AttributeDefinitionList, AttributeDefinitionPatch, NewAttributeDefinition,
};
use crate::error::ApiError;
use crate::http::etag;
use crate::http::json::Json;
use crate::service;

/// Which definitions to list.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct DefinitionQuery {
    /// `contact` or `company`; both when absent.
    pub entity: Option<String>,
}

/// Declares a custom attribute. Values are validated against it on every write.
#[utoipa::path(post, path = "/v1/attribute-definitions", tag = "attributes", request_body = NewAttributeDefinition,
    responses((status = 201, body = AttributeDefinitionDto), WriteErrors), security(("bearer" = ["attributes:write"])))]
#[post("/v1/attribute-definitions")]
pub async fn create(
    app: web::Data<App>,
    who: Caller,
    body: Json<NewAttributeDefinition>,
) -> Result<HttpResponse, ApiError> {
    let d = service::attributes::create(&app, &who, body.into_inner().into()).await?;
    Ok(created(
        format!("/v1/attribute-definitions/{}", d.id),
        d.version,
        &AttributeDefinitionDto::from(&d),
    ))
}

/// Lists the declared attributes.
#[utoipa::path(get, path = "/v1/attribute-definitions", tag = "attributes", params(DefinitionQuery),
    responses((status = 200, body = AttributeDefinitionList), ReadErrors), security(("bearer" = ["contacts:read"])))]
#[get("/v1/attribute-definitions")]
pub async fn list(
    app: web::Data<App>,
    who: Caller,
    query: web::Query<DefinitionQuery>,
) -> Result<HttpResponse, ApiError> {
    let entity = match query.entity.as_deref() {
        None => None,
        Some(e) => Some(
            AttributeEntity::parse(e)
                .ok_or_else(|| ApiError::bad_request("invalid_query", "entity must be contact or company"))?,
        ),
    };
    let defs = service::attributes::list(&app, &who, entity).await?;
    Ok(HttpResponse::Ok().json(AttributeDefinitionList {
        data: defs.iter().map(AttributeDefinitionDto::from).collect(),
    }))
}

/// Reads one definition.
#[utoipa::path(get, path = "/v1/attribute-definitions/{id}", tag = "attributes", params(("id" = Uuid, Path)),
    responses((status = 200, body = AttributeDefinitionDto), ReadErrors), security(("bearer" = ["contacts:read"])))]
#[get("/v1/attribute-definitions/{id}")]
pub async fn get(app: web::Data<App>, who: Caller, id: web::Path<Uuid>) -> Result<HttpResponse, ApiError> {
    let d = service::attributes::get(&app, &who, AttributeDefinitionId::from_uuid(*id)).await?;
    Ok(with_etag(StatusCode::OK, d.version, &AttributeDefinitionDto::from(&d)))
}

/// Changes a definition's label, description or options.
#[utoipa::path(patch, path = "/v1/attribute-definitions/{id}", tag = "attributes", request_body = AttributeDefinitionPatch,
    params(("id" = Uuid, Path), ("If-Match" = Option<String>, Header)),
    responses((status = 200, body = AttributeDefinitionDto), WriteErrors), security(("bearer" = ["attributes:write"])))]
#[patch("/v1/attribute-definitions/{id}")]
pub async fn update(
    app: web::Data<App>,
    who: Caller,
    id: web::Path<Uuid>,
    req: HttpRequest,
    body: Json<AttributeDefinitionPatch>,
) -> Result<HttpResponse, ApiError> {
    let d = service::attributes::update(
        &app,
        &who,
        AttributeDefinitionId::from_uuid(*id),
        body.into_inner().into(),
        etag::if_match(&req)?,
    )
    .await?;
    Ok(with_etag(StatusCode::OK, d.version, &AttributeDefinitionDto::from(&d)))
}

/// Removes a definition no record uses.
#[utoipa::path(delete, path = "/v1/attribute-definitions/{id}", tag = "attributes", params(("id" = Uuid, Path), ("If-Match" = Option<String>, Header)),
    responses((status = 204, description = "Deleted"), WriteErrors), security(("bearer" = ["attributes:write"])))]
#[delete("/v1/attribute-definitions/{id}")]
pub async fn delete(
    app: web::Data<App>,
    who: Caller,
    id: web::Path<Uuid>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    service::attributes::delete(&app, &who, AttributeDefinitionId::from_uuid(*id), etag::if_match(&req)?).await?;
    Ok(HttpResponse::NoContent().finish())
}
