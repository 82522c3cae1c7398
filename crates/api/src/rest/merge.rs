//! `/v1/contacts/duplicates` and `/v1/contacts/{id}/merge`.

use std::collections::BTreeMap;

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, get, post, web};
use rapport_domain::ContactId;
use rapport_store::duplicates::{Group, Reason};
use serde::Deserialize;
use utoipa::IntoParams;
use uuid::Uuid;

use super::{ReadErrors, WriteErrors, with_etag};
use crate::app::App;
use crate::auth::Caller;
use crate::dto::PageInfo;
use crate::dto::contacts::{ContactDto, DroppedExternalId, DuplicateGroup, DuplicateList, MergeRequest, MergeResult};
use crate::error::ApiError;
use crate::http::json::Json;
use crate::http::{cursor, etag};
use crate::service;

const LIST: &str = "duplicates";

/// Which duplicates to list.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct DuplicateQuery {
    /// `email`, `phone` or `name_company`; all three (in that order) when absent.
    pub reason: Option<String>,
    /// Groups per page, 1 to 500 (default 50).
    pub limit: Option<u64>,
    /// `page.next_cursor` of the previous page.
    pub after: Option<String>,
}

/// The position a duplicates cursor names.
/// # Errors
/// 400 `invalid_cursor`.
pub(crate) fn position(after: Option<&str>) -> Result<Option<(Reason, Vec<String>)>, ApiError> {
    let Some(c) = after else { return Ok(None) };
    let mut key = cursor::decode_key(c, LIST)?;
    let r = (!key.is_empty())
        .then(|| Reason::parse(&key.remove(0)))
        .flatten()
        .ok_or_else(|| ApiError::bad_request("invalid_cursor", "the cursor names no position in this list"))?;
    Ok(Some((r, key)))
}

/// The cursor after a group.
pub(crate) fn cursor_after(g: &Group) -> String {
    let mut key = vec![g.reason.as_str().to_owned()];
    key.extend(g.key.iter().cloned());
    cursor::encode_key(LIST, key)
}

/// Parses a `reason`.
/// # Errors
/// 400 `invalid_query`.
pub(crate) fn reason(s: &str) -> Result<Reason, ApiError> {
    Reason::parse(s).ok_or_else(|| {
        ApiError::bad_request(
            "invalid_query",
            format!("reason: unknown '{s}'; known: email, phone, name_company"),
        )
    })
}

/// Suggests likely duplicates: live contacts sharing an email (ignoring case, a
/// `+suffix` and Gmail's dots), an E.164 phone, or a first and last name within one
/// company. Merge them with `POST /v1/contacts/{id}/merge`.
#[utoipa::path(get, path = "/v1/contacts/duplicates", tag = "contacts", params(DuplicateQuery),
    responses((status = 200, body = DuplicateList), ReadErrors), security(("bearer" = ["contacts:read"])))]
#[get("/v1/contacts/duplicates")]
pub async fn duplicates(
    app: web::Data<App>,
    who: Caller,
    query: web::Query<DuplicateQuery>,
) -> Result<HttpResponse, ApiError> {
    let only = query.reason.as_deref().map(reason).transpose()?;
    let after = position(query.after.as_deref())?;
    let limit = service::page_size(query.limit)?;
    let (groups, more) = service::merge::duplicates(&app, &who, only, after, limit).await?;
    let next_cursor = groups.last().filter(|_| more).map(cursor_after);
    Ok(HttpResponse::Ok().json(DuplicateList {
        data: groups.iter().map(DuplicateGroup::from).collect(),
        page: PageInfo {
            next_cursor,
            has_more: more,
        },
    }))
}

/// Merges contacts into this one, in one transaction. The survivor's values win
/// conflicts (values it lacks come from the merged contacts, in the order given) unless
/// `prefer` names the contact whose value wins; tags are joined. The survivor keeps
/// every order (metrics recomputed, lifecycle rules applied), lifecycle transition,
/// consent event (the effective consent recomputed from the whole ledger), static list
/// and segment history. Merged ids then answer `GET` with 301 and every other request
/// with 410 (`contact_merged`, `merged_into`, `Location`). Records `contact.merged`.
#[utoipa::path(post, path = "/v1/contacts/{id}/merge", tag = "contacts", request_body = MergeRequest,
    params(("id" = Uuid, Path, description = "The survivor"), ("If-Match" = Option<String>, Header, description = "ETag of the survivor's version")),
    responses((status = 200, body = MergeResult, headers(("ETag" = String))),
        (status = 410, description = "The survivor was erased (`contact_erased`) or merged (`contact_merged`)", body = crate::error::Problem, content_type = "application/problem+json"),
        WriteErrors),
    security(("bearer" = ["contacts:write"])))]
#[post("/v1/contacts/{id}/merge")]
pub async fn merge(
    app: web::Data<App>,
    who: Caller,
    id: web::Path<Uuid>,
    req: HttpRequest,
    body: Json<MergeRequest>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner();
    let prefer: BTreeMap<String, ContactId> = body
        .prefer
        .into_iter()
        .map(|(k, v)| (k, ContactId::from_uuid(v)))
        .collect();
    let done = service::merge::merge(
        &app,
        &who,
        ContactId::from_uuid(*id),
        body.from.into_iter().map(ContactId::from_uuid).collect(),
        &prefer,
        etag::if_match(&req)?,
    )
    .await?;
    Ok(with_etag(
        StatusCode::OK,
        done.contact.version,
        &MergeResult {
            contact: ContactDto::from(&done.contact),
            merged_ids: done.merged_ids.iter().map(|m| m.uuid()).collect(),
            dropped_external_ids: done.dropped.iter().map(DroppedExternalId::from).collect(),
        },
    ))
}
