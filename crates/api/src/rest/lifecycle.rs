//! `/v1/contacts/{id}/lifecycle`: stage moves and their history.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, get, post, web};
use rapport_domain::ContactId;
use serde::Deserialize;
use utoipa::IntoParams;
use uuid::Uuid;

use super::{MergedContact, ReadErrors, WriteErrors, with_etag};
use crate::app::App;
use crate::auth::Caller;
use crate::dto::contacts::{ChangeStage, ContactDto, TransitionDto, TransitionList};
use crate::error::ApiError;
use crate::http::etag;
use crate::http::json::Json;
use crate::service;

/// Paging for a contact's lifecycle history.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct HistoryQuery {
    /// Page size, 1 to 500 (default 50).
    pub limit: Option<u64>,
    /// `page.next_cursor` of the previous page.
    pub after: Option<String>,
}

/// Moves a contact to another stage. Forward moves (skipping stages is fine), exits
/// (customer → churned, prospect → disqualified) and reactivations (churned → customer)
/// are always allowed; a backward move needs the `lifecycle:override` scope and a
/// `reason`, else it fails with `stage_transition_not_allowed`.
#[utoipa::path(post, path = "/v1/contacts/{id}/lifecycle", tag = "lifecycle", request_body = ChangeStage,
    params(("id" = Uuid, Path), ("If-Match" = Option<String>, Header)),
    responses((status = 200, body = ContactDto, headers(("ETag" = String))), WriteErrors, MergedContact),
    security(("bearer" = ["contacts:write", "lifecycle:override"])))]
#[post("/v1/contacts/{id}/lifecycle")]
pub async fn change_stage(
    app: web::Data<App>,
    who: Caller,
    id: web::Path<Uuid>,
    req: HttpRequest,
    body: Json<ChangeStage>,
) -> Result<HttpResponse, ApiError> {
    let b = body.into_inner();
    let c = service::lifecycle::change_stage(
        &app,
        &who,
        ContactId::from_uuid(*id),
        b.stage.into(),
        b.reason.as_deref(),
        etag::if_match(&req)?,
    )
    .await?;
    Ok(with_etag(StatusCode::OK, c.version, &ContactDto::from(&c)))
}

/// Lists a contact's stage transitions, oldest first: from, to, when, cause, actor and
/// reason.
#[utoipa::path(get, path = "/v1/contacts/{id}/lifecycle", tag = "lifecycle", params(("id" = Uuid, Path), HistoryQuery),
    responses((status = 200, body = TransitionList), ReadErrors, MergedContact), security(("bearer" = ["contacts:read"])))]
#[get("/v1/contacts/{id}/lifecycle")]
pub async fn history(
    app: web::Data<App>,
    who: Caller,
    id: web::Path<Uuid>,
    query: web::Query<HistoryQuery>,
) -> Result<HttpResponse, ApiError> {
    let after = crate::http::cursor::decode_id(query.after.as_deref(), "lifecycle")?;
    let limit = service::page_size(query.limit)?;
    let page = service::lifecycle::history(&app, &who, ContactId::from_uuid(*id), after, limit).await?;
    Ok(HttpResponse::Ok().json(TransitionList {
        data: page.items.iter().map(TransitionDto::from).collect(),
        page: super::id_page_info(&page, "lifecycle", |t| t.id.uuid()),
    }))
}
