//! `/v1/companies`.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, delete, get, patch, post, web};
use chrono::{DateTime, Utc};
use rapport_domain::CompanyId;
use rapport_domain::company::Company;
use rapport_store::companies::CompanyFilter;
use rapport_store::contacts::ContactFilter;
use serde::Deserialize;
use utoipa::IntoParams;
use uuid::Uuid;

use super::contacts::{ContactQuery, list_response};
use super::{ReadErrors, WriteErrors, created, page_info, with_etag};
use crate::app::App;
use crate::auth::Caller;
use crate::dto::companies::{CompanyDto, CompanyList, CompanyWrite};
use crate::dto::contacts::ContactList;
use crate::error::ApiError;
use crate::http::json::Json;
use crate::http::{cursor, etag};
use crate::service;

const LIST: &str = "companies";

/// Filters and paging for company lists.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct CompanyQuery {
    /// Page size, 1 to 500 (default 50).
    pub limit: Option<u64>,
    /// `page.next_cursor` of the previous page.
    pub after: Option<String>,
    /// `created_at` (default), `-created_at`, `updated_at` or `-updated_at`.
    pub sort: Option<String>,
    /// Only the company with this domain.
    pub domain: Option<String>,
    /// Only companies whose name contains this text.
    pub q: Option<String>,
    /// Only companies changed at or after this time.
    pub updated_since: Option<DateTime<Utc>>,
}

/// Creates a company.
#[utoipa::path(post, path = "/v1/companies", tag = "companies", request_body = CompanyWrite,
    params(("Idempotency-Key" = Option<String>, Header)),
    responses((status = 201, body = CompanyDto, headers(("ETag" = String), ("Location" = String))), WriteErrors),
    security(("bearer" = ["companies:write"])))]
#[post("/v1/companies")]
pub async fn create(app: web::Data<App>, who: Caller, body: Json<CompanyWrite>) -> Result<HttpResponse, ApiError> {
    let c = service::companies::create(&app, &who, body.into_inner().into()).await?;
    Ok(created(
        format!("/v1/companies/{}", c.id),
        c.version,
        &CompanyDto::from(&c),
    ))
}

/// Lists companies.
#[utoipa::path(get, path = "/v1/companies", tag = "companies", params(CompanyQuery),
    responses((status = 200, body = CompanyList), ReadErrors), security(("bearer" = ["companies:read"])))]
#[get("/v1/companies")]
pub async fn list(app: web::Data<App>, who: Caller, query: web::Query<CompanyQuery>) -> Result<HttpResponse, ApiError> {
    let order = cursor::parse_sort(query.sort.as_deref())?;
    let after = query
        .after
        .as_deref()
        .map(|c| cursor::decode(c, LIST, order))
        .transpose()?;
    let limit = service::page_size(query.limit)?;
    let filter = CompanyFilter {
        domain: query.domain.clone(),
        q: query.q.clone().filter(|q| !q.trim().is_empty()),
        updated_since: query.updated_since,
    };
    let page = service::companies::list(&app, &who, &filter, order, after.as_ref(), limit).await?;
    let info = page_info(&page, LIST, order, |c: &Company| (c.updated_at, c.id.uuid()));
    Ok(HttpResponse::Ok().json(CompanyList {
        data: page.items.iter().map(CompanyDto::from).collect(),
        page: info,
    }))
}

/// Reads a company.
#[utoipa::path(get, path = "/v1/companies/{id}", tag = "companies", params(("id" = Uuid, Path)),
    responses((status = 200, body = CompanyDto, headers(("ETag" = String))), ReadErrors), security(("bearer" = ["companies:read"])))]
#[get("/v1/companies/{id}")]
pub async fn get(
    app: web::Data<App>,
    who: Caller,
    id: web::Path<Uuid>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let c = service::companies::get(&app, &who, CompanyId::from_uuid(*id)).await?;
    if etag::not_modified(&req, c.version) {
        return Ok(HttpResponse::NotModified()
            .insert_header((actix_web::http::header::ETAG, etag::of(c.version)))
            .finish());
    }
    Ok(with_etag(StatusCode::OK, c.version, &CompanyDto::from(&c)))
}

/// Updates a company with a JSON merge patch.
#[utoipa::path(patch, path = "/v1/companies/{id}", tag = "companies", request_body(content = CompanyWrite, content_type = "application/merge-patch+json"),
    params(("id" = Uuid, Path), ("If-Match" = Option<String>, Header)),
    responses((status = 200, body = CompanyDto, headers(("ETag" = String))), WriteErrors), security(("bearer" = ["companies:write"])))]
#[patch("/v1/companies/{id}")]
pub async fn update(
    app: web::Data<App>,
    who: Caller,
    id: web::Path<Uuid>,
    req: HttpRequest,
    body: Json<CompanyWrite>,
) -> Result<HttpResponse, ApiError> {
    let c = service::companies::update(
        &app,
        &who,
        CompanyId::from_uuid(*id),
        body.into_inner().into(),
        etag::if_match(&req)?,
    )
    .await?;
    Ok(with_etag(StatusCode::OK, c.version, &CompanyDto::from(&c)))
}

/// Deletes a company; its contacts stay and are unlinked.
#[utoipa::path(delete, path = "/v1/companies/{id}", tag = "companies", params(("id" = Uuid, Path), ("If-Match" = Option<String>, Header)),
    responses((status = 204, description = "Deleted"), WriteErrors), security(("bearer" = ["companies:write"])))]
#[delete("/v1/companies/{id}")]
pub async fn delete(
    app: web::Data<App>,
    who: Caller,
    id: web::Path<Uuid>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    service::companies::delete(&app, &who, CompanyId::from_uuid(*id), etag::if_match(&req)?).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Lists the company's contacts (same filters as `GET /v1/contacts`).
#[utoipa::path(get, path = "/v1/companies/{id}/contacts", tag = "companies", params(("id" = Uuid, Path), ContactQuery),
    responses((status = 200, body = ContactList), ReadErrors), security(("bearer" = ["contacts:read", "companies:read"])))]
#[get("/v1/companies/{id}/contacts")]
pub async fn contacts(
    app: web::Data<App>,
    who: Caller,
    id: web::Path<Uuid>,
    query: web::Query<ContactQuery>,
) -> Result<HttpResponse, ApiError> {
    let company = service::companies::get(&app, &who, CompanyId::from_uuid(*id)).await?;
    let base = ContactFilter {
        company_id: Some(company.id),
        ..Default::default()
    };
    list_response(&app, &who, &query, base).await
}
