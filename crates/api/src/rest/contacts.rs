//! `/v1/contacts`: create, read, update, delete, list, upsert and tags.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, delete, get, patch, post, put, web};
use chrono::{DateTime, Utc};
use rapport_domain::ContactId;
use rapport_domain::contact::Contact;
use rapport_domain::lifecycle::Stage;
use rapport_store::contacts::ContactFilter;
use serde::Deserialize;
use utoipa::IntoParams;
use uuid::Uuid;

use super::{MergedContact, ReadErrors, WriteErrors, created, page_info, with_etag};
use crate::app::App;
use crate::auth::Caller;
use crate::dto::contacts::{
    BatchItemResult, BatchResult, BatchUpsert, ContactDto, ContactList, ContactWrite, LifecycleStage, TagChange,
};
use crate::error::ApiError;
use crate::http::json::{BodyLimit, Json};
use crate::http::{cursor, etag};
use crate::service::{self, Outcome};

/// The name of contact lists in cursors.
pub const LIST: &str = "contacts";

/// Filters and paging for contact lists.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ContactQuery {
    /// Page size, 1 to 500 (default 50).
    pub limit: Option<u64>,
    /// `page.next_cursor` of the previous page.
    pub after: Option<String>,
    /// `created_at` (default), `-created_at`, `updated_at` or `-updated_at`.
    pub sort: Option<String>,
    /// Only contacts in this stage.
    pub stage: Option<LifecycleStage>,
    /// Only contacts with this tag.
    pub tag: Option<String>,
    /// Only the contact with this email (case-insensitive).
    pub email: Option<String>,
    /// Only contacts of this company.
    pub company_id: Option<Uuid>,
    /// Only contacts changed at or after this time (RFC 3339).
    pub updated_since: Option<DateTime<Utc>>,
    /// Search: every word must appear in the first name, last name or email.
    pub q: Option<String>,
    /// `consents`: add each contact's answer per consent purpose (needs `consent:read`);
    /// `metrics`: add each contact's purchase metrics; both: `consents,metrics`.
    pub include: Option<String>,
}

/// Optional parts of a contact representation.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct IncludeQuery {
    /// `consents`: add the answer per consent purpose (needs `consent:read`);
    /// `metrics`: add the purchase metrics; both: `consents,metrics`.
    pub include: Option<String>,
}

/// The optional parts `include` asks for.
#[derive(Clone, Copy, Debug, Default)]
struct Parts {
    consents: bool,
    metrics: bool,
}

/// Reads `include` (`consents`, `metrics`, comma-separated).
/// # Errors
/// 400 `invalid_query` for anything else.
fn parts(include: Option<&str>) -> Result<Parts, ApiError> {
    let mut parts = Parts::default();
    for part in include
        .unwrap_or_default()
        .split(',')
        .map(str::trim)
        .filter(|p| !p.is_empty())
    {
        match part {
            "consents" => parts.consents = true,
            "metrics" => parts.metrics = true,
            other => {
                return Err(ApiError::bad_request(
                    "invalid_query",
                    format!("include: unknown part '{other}'; known: consents, metrics"),
                ));
            }
        }
    }
    Ok(parts)
}

/// Contact representations, with their consent answers and purchase metrics when asked
/// for.
pub(crate) async fn dtos(
    app: &App,
    who: &Caller,
    contacts: &[Contact],
    include: Option<&str>,
) -> Result<Vec<ContactDto>, ApiError> {
    let parts = parts(include)?;
    let mut out: Vec<ContactDto> = contacts.iter().map(ContactDto::from).collect();
    if parts.consents {
        let mut all = service::consent::summaries(app, who, contacts).await?;
        for (dto, c) in out.iter_mut().zip(contacts) {
            let map = all.remove(&c.id).unwrap_or_default();
            dto.consents = Some(map.iter().map(|(k, d)| (k.clone(), d.into())).collect());
        }
    }
    if parts.metrics {
        let ids: Vec<ContactId> = contacts.iter().map(|c| c.id).collect();
        let mut all = service::orders::metrics_of_many(app, who, &ids).await?;
        for (dto, c) in out.iter_mut().zip(contacts) {
            let m = all.remove(&c.id).unwrap_or_default();
            dto.metrics = Some(crate::dto::orders::PurchaseMetricsDto::from(&m));
        }
    }
    Ok(out)
}

impl ContactQuery {
    pub(crate) fn filter(&self) -> ContactFilter {
        ContactFilter {
            stage: self.stage.map(Stage::from),
            tag: self.tag.as_deref().map(|t| t.trim().to_lowercase()),
            email: self.email.as_deref().map(|e| e.trim().to_lowercase()),
            company_id: self.company_id.map(rapport_domain::CompanyId::from_uuid),
            updated_since: self.updated_since,
            q: self.q.clone().filter(|q| !q.trim().is_empty()),
        }
    }
}

/// Answers a contact list for `query`, restricted further by `base` (e.g. a company).
pub(crate) async fn list_response(
    app: &App,
    who: &Caller,
    query: &ContactQuery,
    base: ContactFilter,
) -> Result<HttpResponse, ApiError> {
    let order = cursor::parse_sort(query.sort.as_deref())?;
    let after = query
        .after
        .as_deref()
        .map(|c| cursor::decode(c, LIST, order))
        .transpose()?;
    let limit = service::page_size(query.limit)?;
    let mut filter = query.filter();
    if base.company_id.is_some() {
        filter.company_id = base.company_id;
    }
    let page = service::contacts::list(app, who, &filter, order, after.as_ref(), limit).await?;
    let info = page_info(&page, LIST, order, |c: &Contact| (c.updated_at, c.id.uuid()));
    Ok(HttpResponse::Ok().json(ContactList {
        data: dtos(app, who, &page.items, query.include.as_deref()).await?,
        page: info,
    }))
}

fn location(c: &Contact) -> String {
    format!("/v1/contacts/{}", c.id)
}

/// Creates a contact. New contacts start at `subscriber` unless a stage is given.
#[utoipa::path(post, path = "/v1/contacts", tag = "contacts", request_body = ContactWrite,
    params(("Idempotency-Key" = Option<String>, Header, description = "Replays the first response for 24 h")),
    responses((status = 201, description = "Created", body = ContactDto, headers(("ETag" = String), ("Location" = String))), WriteErrors),
    security(("bearer" = ["contacts:write"])))]
#[post("/v1/contacts")]
pub async fn create(app: web::Data<App>, who: Caller, body: Json<ContactWrite>) -> Result<HttpResponse, ApiError> {
    let c = service::contacts::create(&app, &who, body.into_inner().into()).await?;
    Ok(created(location(&c), c.version, &ContactDto::from(&c)))
}

/// Lists contacts, filtered and cursor-paginated.
#[utoipa::path(get, path = "/v1/contacts", tag = "contacts", params(ContactQuery),
    responses((status = 200, body = ContactList), ReadErrors), security(("bearer" = ["contacts:read"])))]
#[get("/v1/contacts")]
pub async fn list(app: web::Data<App>, who: Caller, query: web::Query<ContactQuery>) -> Result<HttpResponse, ApiError> {
    list_response(&app, &who, &query, ContactFilter::default()).await
}

fn one(req: &HttpRequest, c: &Contact) -> HttpResponse {
    if etag::not_modified(req, c.version) {
        return HttpResponse::NotModified()
            .insert_header((actix_web::http::header::ETAG, etag::of(c.version)))
            .finish();
    }
    with_etag(StatusCode::OK, c.version, &ContactDto::from(c))
}

/// A plain read of a merged contact: 301 to the contact it was merged into, with the
/// problem document saying so (clients that follow redirects read the survivor).
fn moved(e: &ApiError) -> HttpResponse {
    let mut p = e.problem();
    p.status = StatusCode::MOVED_PERMANENTLY.as_u16();
    p.title = "Moved permanently";
    HttpResponse::MovedPermanently()
        .content_type("application/problem+json")
        .insert_header((
            actix_web::http::header::LOCATION,
            p.merged_into.map(|m| format!("/v1/contacts/{m}")).unwrap_or_default(),
        ))
        .json(p)
}

/// Reads a contact. Answers 301 (`contact_merged`, `Location` the survivor) for a
/// contact merged into another. Answers 304 when `If-None-Match` names its current ETag.
#[utoipa::path(get, path = "/v1/contacts/{id}", tag = "contacts", params(("id" = Uuid, Path), IncludeQuery),
    responses((status = 200, body = ContactDto, headers(("ETag" = String))),
        (status = 301, description = "Merged into another contact (`contact_merged`): `Location` names it", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 304, description = "Not modified"), ReadErrors),
    security(("bearer" = ["contacts:read"])))]
#[get("/v1/contacts/{id}")]
pub async fn get(
    app: web::Data<App>,
    who: Caller,
    id: web::Path<Uuid>,
    query: web::Query<IncludeQuery>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let c = match service::contacts::get(&app, &who, ContactId::from_uuid(*id)).await {
        Err(e @ ApiError::Merged { .. }) => return Ok(moved(&e)),
        other => other?,
    };
    if query.include.is_none() {
        return Ok(one(&req, &c));
    }
    let dto = dtos(&app, &who, std::slice::from_ref(&c), query.include.as_deref())
        .await?
        .pop()
        .ok_or(ApiError::NotFound("contact"))?;
    Ok(with_etag(StatusCode::OK, c.version, &dto))
}

/// Reads the contact with this email (case-insensitive).
#[utoipa::path(get, path = "/v1/contacts/by-email/{email}", tag = "contacts", params(("email" = String, Path)),
    responses((status = 200, body = ContactDto, headers(("ETag" = String))), ReadErrors), security(("bearer" = ["contacts:read"])))]
#[get("/v1/contacts/by-email/{email}")]
pub async fn get_by_email(
    app: web::Data<App>,
    who: Caller,
    email: web::Path<String>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let c = service::contacts::get_by_email(&app, &who, &email).await?;
    Ok(one(&req, &c))
}

/// Reads the contact with this external id: its holder, else the survivor of the merge
/// that dropped it.
#[utoipa::path(get, path = "/v1/contacts/by-external-id/{source}/{external_id}", tag = "contacts",
    params(("source" = String, Path), ("external_id" = String, Path)),
    responses((status = 200, body = ContactDto, headers(("ETag" = String))), ReadErrors), security(("bearer" = ["contacts:read"])))]
#[get("/v1/contacts/by-external-id/{source}/{external_id}")]
pub async fn get_by_external_id(
    app: web::Data<App>,
    who: Caller,
    path: web::Path<(String, String)>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let (source, id) = path.into_inner();
    let c = service::contacts::get_by_external_id(&app, &who, &source, &id).await?;
    Ok(one(&req, &c))
}

fn upserted(c: &Contact, outcome: Outcome) -> HttpResponse {
    match outcome {
        Outcome::Created => created(location(c), c.version, &ContactDto::from(c)),
        Outcome::Updated | Outcome::Unchanged => with_etag(StatusCode::OK, c.version, &ContactDto::from(c)),
    }
}

/// Creates or updates the contact with this email. Fields given overwrite, fields left
/// out stay; re-sending the same data changes nothing and emits no event.
#[utoipa::path(put, path = "/v1/contacts/by-email/{email}", tag = "contacts", request_body = ContactWrite,
    params(("email" = String, Path), ("If-Match" = Option<String>, Header)),
    responses((status = 200, description = "Updated or unchanged", body = ContactDto), (status = 201, description = "Created", body = ContactDto), WriteErrors),
    security(("bearer" = ["contacts:write"])))]
#[put("/v1/contacts/by-email/{email}")]
pub async fn upsert_by_email(
    app: web::Data<App>,
    who: Caller,
    email: web::Path<String>,
    req: HttpRequest,
    body: Json<ContactWrite>,
) -> Result<HttpResponse, ApiError> {
    let (c, outcome) =
        service::upserts::upsert_by_email(&app, &who, &email, body.into_inner().into(), etag::if_match(&req)?).await?;
    Ok(upserted(&c, outcome))
}

/// Creates or updates the contact with this external id. When no contact has it yet
/// but one has the body's email, the id is attached to that contact.
#[utoipa::path(put, path = "/v1/contacts/by-external-id/{source}/{external_id}", tag = "contacts", request_body = ContactWrite,
    params(("source" = String, Path), ("external_id" = String, Path), ("If-Match" = Option<String>, Header)),
    responses((status = 200, description = "Updated or unchanged", body = ContactDto), (status = 201, description = "Created", body = ContactDto), WriteErrors),
    security(("bearer" = ["contacts:write"])))]
#[put("/v1/contacts/by-external-id/{source}/{external_id}")]
pub async fn upsert_by_external_id(
    app: web::Data<App>,
    who: Caller,
    path: web::Path<(String, String)>,
    req: HttpRequest,
    body: Json<ContactWrite>,
) -> Result<HttpResponse, ApiError> {
    let (source, id) = path.into_inner();
    let (c, outcome) = service::upserts::upsert_by_external_id(
        &app,
        &who,
        &source,
        &id,
        body.into_inner().into(),
        etag::if_match(&req)?,
    )
    .await?;
    Ok(upserted(&c, outcome))
}

/// Updates a contact with a JSON merge patch (`application/merge-patch+json` or
/// `application/json`): absent fields stay, `null` clears.
#[utoipa::path(patch, path = "/v1/contacts/{id}", tag = "contacts", request_body(content = ContactWrite, content_type = "application/merge-patch+json"),
    params(("id" = Uuid, Path), ("If-Match" = Option<String>, Header, description = "ETag of the version being changed")),
    responses((status = 200, body = ContactDto, headers(("ETag" = String))), WriteErrors, MergedContact), security(("bearer" = ["contacts:write"])))]
#[patch("/v1/contacts/{id}")]
pub async fn update(
    app: web::Data<App>,
    who: Caller,
    id: web::Path<Uuid>,
    req: HttpRequest,
    body: Json<ContactWrite>,
) -> Result<HttpResponse, ApiError> {
    let c = service::contacts::update(
        &app,
        &who,
        ContactId::from_uuid(*id),
        body.into_inner().into(),
        etag::if_match(&req)?,
    )
    .await?;
    Ok(with_etag(StatusCode::OK, c.version, &ContactDto::from(&c)))
}

/// Deletes a contact with its tags, external ids and lifecycle history.
#[utoipa::path(delete, path = "/v1/contacts/{id}", tag = "contacts", params(("id" = Uuid, Path), ("If-Match" = Option<String>, Header)),
    responses((status = 204, description = "Deleted"), WriteErrors, MergedContact), security(("bearer" = ["contacts:write"])))]
#[delete("/v1/contacts/{id}")]
pub async fn delete(
    app: web::Data<App>,
    who: Caller,
    id: web::Path<Uuid>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    service::contacts::delete(&app, &who, ContactId::from_uuid(*id), etag::if_match(&req)?).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Adds and removes tags in one step.
#[utoipa::path(post, path = "/v1/contacts/{id}/tags", tag = "contacts", request_body = TagChange,
    params(("id" = Uuid, Path), ("If-Match" = Option<String>, Header)),
    responses((status = 200, body = ContactDto), WriteErrors, MergedContact), security(("bearer" = ["contacts:write"])))]
#[post("/v1/contacts/{id}/tags")]
pub async fn retag(
    app: web::Data<App>,
    who: Caller,
    id: web::Path<Uuid>,
    req: HttpRequest,
    body: Json<TagChange>,
) -> Result<HttpResponse, ApiError> {
    let b = body.into_inner();
    let c = service::contacts::retag(
        &app,
        &who,
        ContactId::from_uuid(*id),
        &b.add,
        &b.remove,
        etag::if_match(&req)?,
    )
    .await?;
    Ok(with_etag(StatusCode::OK, c.version, &ContactDto::from(&c)))
}

/// Whether the request asked for `Prefer: return=minimal` (RFC 7240).
pub(crate) fn minimal(req: &HttpRequest) -> bool {
    req.headers()
        .get_all("prefer")
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|p| p.trim().eq_ignore_ascii_case("return=minimal"))
}

/// Upserts up to 1000 contacts. Each item is matched by one of its external ids, then
/// by email, else created; every item gets its own result, and valid items are
/// committed even when others fail. With `Prefer: return=minimal`, results carry the id
/// and version of each contact instead of the whole contact.
#[utoipa::path(post, path = "/v1/contacts/batch", tag = "contacts", request_body = BatchUpsert,
    params(("Idempotency-Key" = Option<String>, Header), ("Prefer" = Option<String>, Header, description = "return=minimal")),
    responses((status = 200, body = BatchResult), WriteErrors), security(("bearer" = ["contacts:write"])))]
pub async fn batch_upsert(
    app: web::Data<App>,
    who: Caller,
    req: HttpRequest,
    body: Json<BatchUpsert>,
) -> Result<HttpResponse, ApiError> {
    let minimal = minimal(&req);
    let items = body.into_inner().items;
    service::upserts::check_batch_size(items.len())?;
    let inputs = items
        .into_iter()
        .map(|v| crate::http::json::from_value::<ContactWrite>(v).map(Into::into))
        .collect();
    let results = service::upserts::batch_upsert(&app, &who, inputs).await?;
    let mut tally = super::Tally::default();
    let results = results
        .into_iter()
        .enumerate()
        .map(|(index, r)| match r {
            Ok((c, outcome)) => BatchItemResult {
                index,
                status: tally.record(Some(outcome)),
                id: Some(c.id.uuid()),
                version: Some(c.version),
                contact: (!minimal).then(|| ContactDto::from(&c)),
                error: None,
            },
            Err(e) => BatchItemResult {
                index,
                status: tally.record(None),
                id: None,
                version: None,
                contact: None,
                error: Some(e.problem()),
            },
        })
        .collect();
    let out = BatchResult {
        results,
        created: tally.created,
        updated: tally.updated,
        unchanged: tally.unchanged,
        failed: tally.failed,
    };
    Ok(super::batch_answer(minimal, &out))
}

/// The batch route, with its larger body limit.
pub fn batch_upsert_scope(limit: usize) -> actix_web::Resource {
    web::resource("/v1/contacts/batch")
        .app_data(BodyLimit(limit))
        .route(web::post().to(batch_upsert))
}
