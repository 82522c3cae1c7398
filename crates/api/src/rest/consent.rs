//! Consent over REST: purposes, the ledger of a contact, the check endpoints and
//! double opt-in confirmation.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, delete, get, patch, post, web};
use rapport_domain::ContactId;
use serde::Deserialize;
use utoipa::IntoParams;
use uuid::Uuid;

use super::{MergedContact, ReadErrors, WriteErrors, created, with_etag};
use crate::app::App;
use crate::auth::Caller;
use crate::dto::PageInfo;
use crate::dto::consent::{
    CheckRequest, CheckResponse, CheckResultDto, ConfirmRequest, ConfirmationDto, ConsentEventDto, ConsentEventList,
    ConsentRecordDto, ConsentRecorded, ConsentStateDto, ConsentStateList, DecisionDto, NewPurposeDto, PurposeDto,
    PurposeList, PurposePatchDto,
};
use crate::error::ApiError;
use crate::http::etag;
use crate::http::json::Json;
use crate::service::{self, consent::Recorded};

/// Which purposes to list.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct PurposeQuery {
    /// Also list archived purposes.
    pub include_archived: Option<bool>,
}

/// Lists the workspace's consent purposes, by key.
#[utoipa::path(get, path = "/v1/consent-purposes", tag = "consent", params(PurposeQuery),
    responses((status = 200, body = PurposeList), ReadErrors), security(("bearer" = ["consent:read"])))]
#[get("/v1/consent-purposes")]
pub async fn list_purposes(
    app: web::Data<App>,
    who: Caller,
    query: web::Query<PurposeQuery>,
) -> Result<HttpResponse, ApiError> {
    let ps = service::consent::purposes(&app, &who, query.include_archived.unwrap_or(false)).await?;
    Ok(HttpResponse::Ok().json(PurposeList {
        data: ps.iter().map(PurposeDto::from).collect(),
        page: PageInfo {
            next_cursor: None,
            has_more: false,
        },
    }))
}

/// Reads a purpose (archived ones too).
#[utoipa::path(get, path = "/v1/consent-purposes/{key}", tag = "consent", params(("key" = String, Path)),
    responses((status = 200, body = PurposeDto, headers(("ETag" = String))), ReadErrors), security(("bearer" = ["consent:read"])))]
#[get("/v1/consent-purposes/{key}")]
pub async fn get_purpose(app: web::Data<App>, who: Caller, key: web::Path<String>) -> Result<HttpResponse, ApiError> {
    let p = service::consent::purpose(&app, &who, &key).await?;
    Ok(with_etag(StatusCode::OK, p.version, &PurposeDto::from(&p)))
}

/// Declares a purpose.
#[utoipa::path(post, path = "/v1/consent-purposes", tag = "consent", request_body = NewPurposeDto,
    responses((status = 201, body = PurposeDto, headers(("ETag" = String), ("Location" = String))), WriteErrors),
    security(("bearer" = ["consent:manage"])))]
#[post("/v1/consent-purposes")]
pub async fn create_purpose(
    app: web::Data<App>,
    who: Caller,
    body: Json<NewPurposeDto>,
) -> Result<HttpResponse, ApiError> {
    let p = service::consent::create_purpose(&app, &who, body.into_inner().into()).await?;
    Ok(created(
        format!("/v1/consent-purposes/{}", p.key),
        p.version,
        &PurposeDto::from(&p),
    ))
}

/// Changes a purpose (merge patch); `archived: true` archives it (no new grants),
/// `false` restores it. The key never changes.
#[utoipa::path(patch, path = "/v1/consent-purposes/{key}", tag = "consent", request_body = PurposePatchDto,
    params(("key" = String, Path), ("If-Match" = Option<String>, Header)),
    responses((status = 200, body = PurposeDto, headers(("ETag" = String))), WriteErrors),
    security(("bearer" = ["consent:manage"])))]
#[patch("/v1/consent-purposes/{key}")]
pub async fn update_purpose(
    app: web::Data<App>,
    who: Caller,
    key: web::Path<String>,
    req: HttpRequest,
    body: Json<PurposePatchDto>,
) -> Result<HttpResponse, ApiError> {
    let p = service::consent::update_purpose(&app, &who, &key, body.into_inner().into(), etag::if_match(&req)?).await?;
    Ok(with_etag(StatusCode::OK, p.version, &PurposeDto::from(&p)))
}

/// Deletes a purpose no decision was ever recorded for; otherwise 409 `in_use`
/// (archive it: the ledger keeps its records).
#[utoipa::path(delete, path = "/v1/consent-purposes/{key}", tag = "consent",
    params(("key" = String, Path), ("If-Match" = Option<String>, Header)),
    responses((status = 204, description = "Deleted"), WriteErrors), security(("bearer" = ["consent:manage"])))]
#[delete("/v1/consent-purposes/{key}")]
pub async fn delete_purpose(
    app: web::Data<App>,
    who: Caller,
    key: web::Path<String>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    service::consent::delete_purpose(&app, &who, &key, etag::if_match(&req)?).await?;
    Ok(HttpResponse::NoContent().finish())
}

fn recorded(r: &Recorded) -> ConsentRecorded {
    ConsentRecorded {
        event: ConsentEventDto::from(&r.event),
        effective: ConsentStateDto::new(&r.effective, r.event.recorded_at),
        confirmation: r.confirmation.clone(),
    }
}

/// Records a consent decision in the contact's ledger (append-only). The latest
/// `captured_at` decides, so an older decision sent late changes the history, not the
/// state. A grant for a double opt-in purpose is recorded as `pending_confirmation` and
/// answers a `confirmation` token to send to the person.
#[utoipa::path(post, path = "/v1/contacts/{id}/consents", tag = "consent", request_body = ConsentRecordDto,
    params(("id" = Uuid, Path), ("Idempotency-Key" = Option<String>, Header)),
    responses((status = 201, body = ConsentRecorded), (status = 410, description = "The contact was erased (`contact_erased`) or merged into another (`contact_merged`: `merged_into` and `Location` name the survivor)", body = crate::error::Problem, content_type = "application/problem+json"), WriteErrors),
    security(("bearer" = ["consent:write"])))]
#[post("/v1/contacts/{id}/consents")]
pub async fn record(
    app: web::Data<App>,
    who: Caller,
    id: web::Path<Uuid>,
    body: Json<ConsentRecordDto>,
) -> Result<HttpResponse, ApiError> {
    let r = service::consent::record(&app, &who, ContactId::from_uuid(*id), body.into_inner().into()).await?;
    Ok(HttpResponse::Created().json(recorded(&r)))
}

/// The contact's effective consent: one state per purpose and contact point that has
/// records, with whether it allows contact now.
#[utoipa::path(get, path = "/v1/contacts/{id}/consents", tag = "consent", params(("id" = Uuid, Path)),
    responses((status = 200, body = ConsentStateList), ReadErrors, MergedContact), security(("bearer" = ["consent:read"])))]
#[get("/v1/contacts/{id}/consents")]
pub async fn states(app: web::Data<App>, who: Caller, id: web::Path<Uuid>) -> Result<HttpResponse, ApiError> {
    let states = service::consent::states(&app, &who, ContactId::from_uuid(*id)).await?;
    let now = rapport_store::now();
    Ok(HttpResponse::Ok().json(ConsentStateList {
        data: states.iter().map(|s| ConsentStateDto::new(s, now)).collect(),
    }))
}

/// Paging and filtering of a contact's consent history.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct HistoryQuery {
    /// Only events of this purpose.
    pub purpose: Option<String>,
    /// Page size, 1 to 500 (default 50).
    pub limit: Option<u64>,
    /// `page.next_cursor` of the previous page.
    pub after: Option<String>,
}

/// The contact's consent events in arrival order: the proof of every decision.
#[utoipa::path(get, path = "/v1/contacts/{id}/consents/history", tag = "consent", params(("id" = Uuid, Path), HistoryQuery),
    responses((status = 200, body = ConsentEventList), ReadErrors, MergedContact), security(("bearer" = ["consent:read"])))]
#[get("/v1/contacts/{id}/consents/history")]
pub async fn history(
    app: web::Data<App>,
    who: Caller,
    id: web::Path<Uuid>,
    query: web::Query<HistoryQuery>,
) -> Result<HttpResponse, ApiError> {
    let after = crate::http::cursor::decode_id(query.after.as_deref(), "consent")?;
    let limit = service::page_size(query.limit)?;
    let page = service::consent::history(
        &app,
        &who,
        ContactId::from_uuid(*id),
        query.purpose.as_deref(),
        after,
        limit,
    )
    .await?;
    Ok(HttpResponse::Ok().json(ConsentEventList {
        data: page.items.iter().map(ConsentEventDto::from).collect(),
        page: super::id_page_info(&page, "consent", |e| e.id.uuid()),
    }))
}

/// The contact point a check is about.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct DecisionQuery {
    /// The address or number about to be used; default: the contact's email for email
    /// purposes, its phone for SMS and phone purposes.
    pub contact_point: Option<String>,
}

/// May I contact this person for this purpose now? The purpose-wide record and the
/// record of the contact point apply; the strictest wins (withdrawn, denied, expired,
/// pending, granted); no record answers `none`, which does not allow.
#[utoipa::path(get, path = "/v1/contacts/{id}/consent/{purpose}", tag = "consent",
    params(("id" = Uuid, Path), ("purpose" = String, Path), DecisionQuery),
    responses((status = 200, body = DecisionDto), ReadErrors, MergedContact), security(("bearer" = ["consent:read"])))]
#[get("/v1/contacts/{id}/consent/{purpose}")]
pub async fn decision(
    app: web::Data<App>,
    who: Caller,
    path: web::Path<(Uuid, String)>,
    query: web::Query<DecisionQuery>,
) -> Result<HttpResponse, ApiError> {
    let (id, purpose) = path.into_inner();
    let d = service::consent::decision(
        &app,
        &who,
        ContactId::from_uuid(id),
        &purpose,
        query.contact_point.as_deref(),
    )
    .await?;
    Ok(HttpResponse::Ok().json(DecisionDto::from(&d)))
}

/// The same question for up to 1000 contacts, by id or by email, answered in request
/// order; unknown contacts answer `found: false`.
#[utoipa::path(post, path = "/v1/consent/check", tag = "consent", request_body = CheckRequest,
    responses((status = 200, body = CheckResponse), WriteErrors), security(("bearer" = ["consent:read"])))]
#[post("/v1/consent/check")]
pub async fn check(app: web::Data<App>, who: Caller, body: Json<CheckRequest>) -> Result<HttpResponse, ApiError> {
    let b = body.into_inner();
    let targets = match (b.contact_ids, b.emails) {
        (Some(ids), None) => service::consent::Targets::Ids(ids.into_iter().map(ContactId::from_uuid).collect()),
        (None, Some(emails)) => service::consent::Targets::Emails(emails),
        _ => return Err(ApiError::invalid("", "one_of", "give either contact_ids or emails")),
    };
    let results = service::consent::check(&app, &who, &b.purpose, targets).await?;
    Ok(HttpResponse::Ok().json(CheckResponse {
        purpose: b.purpose,
        results: results
            .into_iter()
            .map(|r| CheckResultDto {
                contact_id: r.contact_id.map(ContactId::uuid),
                email: r.email,
                found: r.found,
                answer: (&r.decision).into(),
            })
            .collect(),
    }))
}

/// Issues a new double opt-in token for a grant still waiting for confirmation (the
/// person lost the email, or the grant came inline with a contact upsert, which answers
/// no token). Earlier tokens stay valid until they expire.
#[utoipa::path(post, path = "/v1/contacts/{id}/consent/{purpose}/confirmation", tag = "consent",
    params(("id" = Uuid, Path), ("purpose" = String, Path), DecisionQuery),
    responses((status = 201, body = ConfirmationDto), WriteErrors, MergedContact), security(("bearer" = ["consent:write"])))]
#[post("/v1/contacts/{id}/consent/{purpose}/confirmation")]
pub async fn reissue(
    app: web::Data<App>,
    who: Caller,
    path: web::Path<(Uuid, String)>,
    query: web::Query<DecisionQuery>,
) -> Result<HttpResponse, ApiError> {
    let (id, purpose) = path.into_inner();
    let c = service::consent::reissue(
        &app,
        &who,
        ContactId::from_uuid(id),
        &purpose,
        query.contact_point.as_deref(),
    )
    .await?;
    Ok(HttpResponse::Created().json(c))
}

/// Confirms a pending double opt-in grant with the token the person received; records
/// a `granted` event with `opt_in_level: confirmed` and the confirmation's proof.
#[utoipa::path(post, path = "/v1/consent/confirm", tag = "consent", request_body = ConfirmRequest,
    responses((status = 200, body = ConsentRecorded),
        (status = 410, description = "The token expired (`confirmation_token_expired`) or the contact was erased", body = crate::error::Problem, content_type = "application/problem+json"),
        WriteErrors),
    security(("bearer" = ["consent:write"])))]
#[post("/v1/consent/confirm")]
pub async fn confirm(app: web::Data<App>, who: Caller, body: Json<ConfirmRequest>) -> Result<HttpResponse, ApiError> {
    let b = body.into_inner();
    let r = service::consent::confirm(&app, &who, &b.token, b.proof.map(Into::into).unwrap_or_default()).await?;
    Ok(HttpResponse::Ok().json(recorded(&r)))
}
