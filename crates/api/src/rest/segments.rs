//! `/v1/segments`, `POST /v1/contacts/search` and `GET /v1/contacts/{id}/segments`.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, delete, get, patch, post, web};
use rapport_domain::segment::SegmentKind;
use rapport_domain::{ContactId, SegmentId};
use serde::Deserialize;
use utoipa::IntoParams;
use uuid::Uuid;

use super::contacts::{IncludeQuery, dtos};
use super::{MergedContact, ReadErrors, WriteErrors, created, id_page_info, with_etag};
use crate::app::App;
use crate::auth::Caller;
use crate::dto::contacts::ContactList;
use crate::dto::segments::{
    MemberChange, MemberChangeResult, MembershipDto, MembershipList, NewSegment, Preview, RefreshResult, RuleQuery,
    SegmentCount, SegmentDto, SegmentFieldDto, SegmentFieldList, SegmentList, SegmentPatch,
};
use crate::error::ApiError;
use crate::http::json::Json;
use crate::http::{cursor, etag};
use crate::service;
use crate::service::segments::Counted;

const LIST: &str = "segments";
const MEMBERS: &str = "segment-members";
const SEARCH: &str = "contact-search";

fn one(status: StatusCode, c: &Counted) -> HttpResponse {
    with_etag(status, c.segment.version, &SegmentDto::new(&c.segment, c.members))
}

/// Paging of a segment list.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct SegmentQuery {
    /// Page size, 1 to 500 (default 50).
    pub limit: Option<u64>,
    /// `page.next_cursor` of the previous page.
    pub after: Option<String>,
    /// Only segments of this kind: `dynamic`, `snapshot` or `static`.
    pub kind: Option<String>,
}

/// Paging of a member list.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct MemberQuery {
    /// Page size, 1 to 500 (default 50).
    pub limit: Option<u64>,
    /// `page.next_cursor` of the previous page.
    pub after: Option<String>,
    /// `consents`: add each contact's answer per consent purpose (needs `consent:read`).
    pub include: Option<String>,
}

/// Creates a segment. A dynamic segment's members follow its rule from now on; a
/// snapshot holds the contacts matching it now; a static segment starts empty.
#[utoipa::path(post, path = "/v1/segments", tag = "segments", request_body = NewSegment,
    responses((status = 201, body = SegmentDto, headers(("ETag" = String), ("Location" = String))), WriteErrors),
    security(("bearer" = ["segments:write"])))]
#[post("/v1/segments")]
pub async fn create(app: web::Data<App>, who: Caller, body: Json<NewSegment>) -> Result<HttpResponse, ApiError> {
    let c = service::segments::create(&app, &who, body.into_inner().into()).await?;
    Ok(created(
        format!("/v1/segments/{}", c.segment.id),
        c.segment.version,
        &SegmentDto::new(&c.segment, c.members),
    ))
}

/// Lists segments in creation order, with their member counts.
#[utoipa::path(get, path = "/v1/segments", tag = "segments", params(SegmentQuery),
    responses((status = 200, body = SegmentList), ReadErrors), security(("bearer" = ["segments:read"])))]
#[get("/v1/segments")]
pub async fn list(app: web::Data<App>, who: Caller, query: web::Query<SegmentQuery>) -> Result<HttpResponse, ApiError> {
    let kind = query
        .kind
        .as_deref()
        .map(|k| {
            SegmentKind::parse(k)
                .ok_or_else(|| ApiError::bad_request("invalid_query", format!("kind: one of {}", SegmentKind::names())))
        })
        .transpose()?;
    let after = cursor::decode_id(query.after.as_deref(), LIST)?;
    let limit = service::page_size(query.limit)?;
    let page = service::segments::list(&app, &who, kind, after, limit).await?;
    Ok(HttpResponse::Ok().json(SegmentList {
        page: id_page_info(&page, LIST, |c| c.segment.id.uuid()),
        data: page
            .items
            .iter()
            .map(|c| SegmentDto::new(&c.segment, c.members))
            .collect(),
    }))
}

/// The fields rules may test in this workspace, with their types and operators.
#[utoipa::path(get, path = "/v1/segments/fields", tag = "segments",
    responses((status = 200, body = SegmentFieldList), ReadErrors), security(("bearer" = ["segments:read"])))]
#[get("/v1/segments/fields")]
pub async fn fields(app: web::Data<App>, who: Caller) -> Result<HttpResponse, ApiError> {
    let all = service::segments::fields(&app, &who).await?;
    Ok(HttpResponse::Ok().json(SegmentFieldList {
        data: all
            .into_iter()
            .map(|f| SegmentFieldDto {
                name: f.name,
                kind: f.kind.to_owned(),
                operators: f.operators.into_iter().map(str::to_owned).collect(),
                options: f.options,
            })
            .collect(),
    }))
}

/// Counts the contacts a rule selects now and shows the first page; nothing is saved.
#[utoipa::path(post, path = "/v1/segments/preview", tag = "segments", request_body = RuleQuery,
    responses((status = 200, body = Preview), WriteErrors), security(("bearer" = ["segments:read", "contacts:read"])))]
#[post("/v1/segments/preview")]
pub async fn preview(app: web::Data<App>, who: Caller, body: Json<RuleQuery>) -> Result<HttpResponse, ApiError> {
    let q = body.into_inner();
    if q.after.is_some() {
        return Err(ApiError::invalid(
            "/after",
            "not_allowed",
            "a preview shows the first page only; use POST /v1/contacts/search to page",
        ));
    }
    let limit = service::page_size(q.limit)?;
    let (count, page) = service::segments::preview(&app, &who, &q.rules, limit).await?;
    Ok(HttpResponse::Ok().json(Preview {
        count,
        page: id_page_info(&page, SEARCH, |c| c.id.uuid()),
        data: dtos(&app, &who, &page.items, None).await?,
    }))
}

/// Reads a segment with its member count.
#[utoipa::path(get, path = "/v1/segments/{id}", tag = "segments", params(("id" = Uuid, Path)),
    responses((status = 200, body = SegmentDto, headers(("ETag" = String))), ReadErrors), security(("bearer" = ["segments:read"])))]
#[get("/v1/segments/{id}")]
pub async fn get(app: web::Data<App>, who: Caller, id: web::Path<Uuid>) -> Result<HttpResponse, ApiError> {
    let c = service::segments::get(&app, &who, SegmentId::from_uuid(*id)).await?;
    Ok(one(StatusCode::OK, &c))
}

/// Renames a segment, changes its description or (dynamic segments) its rule; a new
/// rule takes effect at once, with `segment.entered`/`segment.exited` events.
#[utoipa::path(patch, path = "/v1/segments/{id}", tag = "segments", request_body = SegmentPatch,
    params(("id" = Uuid, Path), ("If-Match" = Option<String>, Header)),
    responses((status = 200, body = SegmentDto, headers(("ETag" = String))), WriteErrors), security(("bearer" = ["segments:write"])))]
#[patch("/v1/segments/{id}")]
pub async fn update(
    app: web::Data<App>,
    who: Caller,
    id: web::Path<Uuid>,
    req: HttpRequest,
    body: Json<SegmentPatch>,
) -> Result<HttpResponse, ApiError> {
    let id = SegmentId::from_uuid(*id);
    let c = service::segments::update(&app, &who, id, body.into_inner().into(), etag::if_match(&req)?).await?;
    Ok(one(StatusCode::OK, &c))
}

/// Deletes a segment with its membership history.
#[utoipa::path(delete, path = "/v1/segments/{id}", tag = "segments", params(("id" = Uuid, Path), ("If-Match" = Option<String>, Header)),
    responses((status = 204, description = "Deleted"), WriteErrors), security(("bearer" = ["segments:write"])))]
#[delete("/v1/segments/{id}")]
pub async fn remove(
    app: web::Data<App>,
    who: Caller,
    id: web::Path<Uuid>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    service::segments::delete(&app, &who, SegmentId::from_uuid(*id), etag::if_match(&req)?).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// The segment's current members, in id order, cursor-paginated.
#[utoipa::path(get, path = "/v1/segments/{id}/members", tag = "segments", params(("id" = Uuid, Path), MemberQuery),
    responses((status = 200, body = ContactList), ReadErrors), security(("bearer" = ["segments:read", "contacts:read"])))]
#[get("/v1/segments/{id}/members")]
pub async fn members(
    app: web::Data<App>,
    who: Caller,
    id: web::Path<Uuid>,
    query: web::Query<MemberQuery>,
) -> Result<HttpResponse, ApiError> {
    let after = cursor::decode_id(query.after.as_deref(), MEMBERS)?;
    let limit = service::page_size(query.limit)?;
    let page = service::segments::members(&app, &who, SegmentId::from_uuid(*id), after, limit).await?;
    Ok(HttpResponse::Ok().json(ContactList {
        page: id_page_info(&page, MEMBERS, |c| c.id.uuid()),
        data: dtos(&app, &who, &page.items, query.include.as_deref()).await?,
    }))
}

/// How many contacts are members now.
#[utoipa::path(get, path = "/v1/segments/{id}/count", tag = "segments", params(("id" = Uuid, Path)),
    responses((status = 200, body = SegmentCount), ReadErrors), security(("bearer" = ["segments:read"])))]
#[get("/v1/segments/{id}/count")]
pub async fn member_count(app: web::Data<App>, who: Caller, id: web::Path<Uuid>) -> Result<HttpResponse, ApiError> {
    let c = service::segments::get(&app, &who, SegmentId::from_uuid(*id)).await?;
    Ok(HttpResponse::Ok().json(SegmentCount { count: c.members }))
}

/// Adds up to 1000 contacts to a static segment (all must exist in this workspace).
#[utoipa::path(post, path = "/v1/segments/{id}/members", tag = "segments", request_body = MemberChange, params(("id" = Uuid, Path)),
    responses((status = 200, body = MemberChangeResult), WriteErrors), security(("bearer" = ["segments:write"])))]
#[post("/v1/segments/{id}/members")]
pub async fn add(
    app: web::Data<App>,
    who: Caller,
    id: web::Path<Uuid>,
    body: Json<MemberChange>,
) -> Result<HttpResponse, ApiError> {
    let id = SegmentId::from_uuid(*id);
    let changed = service::segments::add_members(&app, &who, id, &body.into_inner().contact_ids).await?;
    member_change(&app, &who, id, changed).await
}

/// Removes up to 1000 contacts from a static segment.
#[utoipa::path(post, path = "/v1/segments/{id}/members/remove", tag = "segments", request_body = MemberChange, params(("id" = Uuid, Path)),
    responses((status = 200, body = MemberChangeResult), WriteErrors), security(("bearer" = ["segments:write"])))]
#[post("/v1/segments/{id}/members/remove")]
pub async fn remove_members(
    app: web::Data<App>,
    who: Caller,
    id: web::Path<Uuid>,
    body: Json<MemberChange>,
) -> Result<HttpResponse, ApiError> {
    let id = SegmentId::from_uuid(*id);
    let changed = service::segments::remove_members(&app, &who, id, &body.into_inner().contact_ids).await?;
    member_change(&app, &who, id, changed).await
}

async fn member_change(app: &App, who: &Caller, id: SegmentId, changed: u64) -> Result<HttpResponse, ApiError> {
    let c = service::segments::counted(app, who, id).await?;
    Ok(HttpResponse::Ok().json(MemberChangeResult {
        changed,
        member_count: c.members,
    }))
}

/// Reconciles a dynamic segment with its rule now (rules with `within_last` or consent
/// also refresh periodically on their own).
#[utoipa::path(post, path = "/v1/segments/{id}/refresh", tag = "segments", params(("id" = Uuid, Path)),
    responses((status = 200, body = RefreshResult), WriteErrors), security(("bearer" = ["segments:write"])))]
#[post("/v1/segments/{id}/refresh")]
pub async fn refresh(app: web::Data<App>, who: Caller, id: web::Path<Uuid>) -> Result<HttpResponse, ApiError> {
    let id = SegmentId::from_uuid(*id);
    let done = service::segments::refresh(&app, &who, id).await?;
    let c = service::segments::counted(&app, &who, id).await?;
    Ok(HttpResponse::Ok().json(RefreshResult {
        entered: done.entered.len() as u64,
        exited: done.exited.len() as u64,
        member_count: c.members,
        refreshed_at: c.segment.refreshed_at.unwrap_or(c.segment.updated_at),
    }))
}

/// Finds contacts with the segment rule language, in id order, cursor-paginated.
#[utoipa::path(post, path = "/v1/contacts/search", tag = "contacts", request_body = RuleQuery, params(IncludeQuery),
    responses((status = 200, body = ContactList), WriteErrors), security(("bearer" = ["contacts:read"])))]
#[post("/v1/contacts/search")]
pub async fn search(
    app: web::Data<App>,
    who: Caller,
    query: web::Query<IncludeQuery>,
    body: Json<RuleQuery>,
) -> Result<HttpResponse, ApiError> {
    let q = body.into_inner();
    let after = cursor::decode_id(q.after.as_deref(), SEARCH)?;
    let limit = service::page_size(q.limit)?;
    let page = service::segments::search(&app, &who, &q.rules, after, limit).await?;
    Ok(HttpResponse::Ok().json(ContactList {
        page: id_page_info(&page, SEARCH, |c| c.id.uuid()),
        data: dtos(&app, &who, &page.items, query.include.as_deref()).await?,
    }))
}

/// The contact's segment memberships: current ones (`exited_at: null`) first, then past
/// spans, newest first.
#[utoipa::path(get, path = "/v1/contacts/{id}/segments", tag = "segments", params(("id" = Uuid, Path)),
    responses((status = 200, body = MembershipList), ReadErrors, MergedContact), security(("bearer" = ["segments:read"])))]
#[get("/v1/contacts/{id}/segments")]
pub async fn of_contact(app: web::Data<App>, who: Caller, id: web::Path<Uuid>) -> Result<HttpResponse, ApiError> {
    let spans = service::segments::of_contact(&app, &who, ContactId::from_uuid(*id)).await?;
    Ok(HttpResponse::Ok().json(MembershipList {
        data: spans.iter().map(|(m, s)| MembershipDto::new(m, s)).collect(),
    }))
}
