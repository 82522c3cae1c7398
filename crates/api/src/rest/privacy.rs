//! Data-subject rights over REST: export and erasure.

use actix_web::{HttpResponse, get, post, web};
use rapport_domain::ContactId;
use uuid::Uuid;

use super::{MergedContact, ReadErrors, WriteErrors};
use crate::app::App;
use crate::auth::Caller;
use crate::dto::consent::{ContactExport, ErasureDto, ErasureRequest};
use crate::error::ApiError;
use crate::http::json::Json;
use crate::service;

/// Everything held about the person, as one JSON document (right of access and
/// portability): profile, company, lifecycle history, consent states and events, and the
/// erasure if there was one. `format_version` changes only when a field is removed or
/// its meaning changes; sections are added as new resources refer to contacts.
#[utoipa::path(get, path = "/v1/contacts/{id}/export", tag = "privacy", params(("id" = Uuid, Path)),
    responses((status = 200, body = ContactExport), ReadErrors, MergedContact), security(("bearer" = ["contacts:read", "consent:read"])))]
#[get("/v1/contacts/{id}/export")]
pub async fn export(app: web::Data<App>, who: Caller, id: web::Path<Uuid>) -> Result<HttpResponse, ApiError> {
    let doc = service::privacy::export(&app, &who, ContactId::from_uuid(*id)).await?;
    Ok(HttpResponse::Ok()
        .insert_header((
            actix_web::http::header::CONTENT_DISPOSITION,
            format!("attachment; filename=\"contact-{}.json\"", *id),
        ))
        .json(doc))
}

/// Erases the person's data (right to be forgotten), in one transaction: the contact
/// becomes a tombstone with the same id and `erased_at` (stage, history, tags, lead score
/// and non-text attributes stay for aggregates); its email and external ids are released,
/// so a later upsert with the same email creates a new contact; the consent ledger keeps
/// its decisions without contact points, ip or user agent; stored events about the person
/// are redacted; the request is recorded and `contact.erased` written. Idempotent: a
/// repeat answers the first erasure.
#[utoipa::path(post, path = "/v1/contacts/{id}/erasure", tag = "privacy", request_body = ErasureRequest,
    params(("id" = Uuid, Path), ("Idempotency-Key" = Option<String>, Header)),
    responses((status = 200, body = ErasureDto), WriteErrors, MergedContact), security(("bearer" = ["privacy:erase"])))]
#[post("/v1/contacts/{id}/erasure")]
pub async fn erase(
    app: web::Data<App>,
    who: Caller,
    id: web::Path<Uuid>,
    body: Json<ErasureRequest>,
) -> Result<HttpResponse, ApiError> {
    let e = service::privacy::erase(&app, &who, ContactId::from_uuid(*id), &body.into_inner().reason).await?;
    Ok(HttpResponse::Ok().json(ErasureDto::from(&e)))
}
