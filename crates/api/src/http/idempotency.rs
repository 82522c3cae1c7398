//! `Idempotency-Key` on POST: the first response (2xx or 4xx) to a key is stored for
//! 24 hours and replayed to retries with `Idempotent-Replayed: true`; the same key with a
//! different request is refused (422); a retry while the first request still runs gets
//! 409 (for at most five minutes: a request cut off by a crash frees its key). Keys are
//! scoped to the caller. Server errors release the key so a retry runs.

use actix_web::body::{self, BoxBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::http::{Method, StatusCode};
use actix_web::middleware::Next;
use actix_web::{Error, HttpResponse, ResponseError, web};
use rapport_domain::WorkspaceId;
use rapport_store::idempotency::{self, StoredResponse};
use rapport_store::{Db, StoreError};

use crate::app::App;
use crate::error::ApiError;

/// The request header.
pub const HEADER: &str = "idempotency-key";
/// How long a response is kept.
const TTL_HOURS: i64 = 24;
/// How long a key stays claimed while its first request runs: a request cut off by a
/// crash frees its key after this, instead of blocking it for a day.
const IN_PROGRESS_MINUTES: i64 = 5;
/// Response headers worth replaying.
const REPLAYED: [&str; 3] = ["location", "etag", "content-type"];

/// One caller's key.
struct Key {
    ws: WorkspaceId,
    principal: String,
    value: String,
}

impl Key {
    async fn claim(&self, db: &Db, hash: &str) -> Result<(), StoreError> {
        let tx = db.begin().await?;
        let now = rapport_store::now();
        idempotency::claim(
            &tx,
            self.ws,
            &self.principal,
            &self.value,
            hash,
            now,
            chrono::Duration::minutes(IN_PROGRESS_MINUTES),
        )
        .await?;
        tx.commit().await.map_err(StoreError::from)
    }

    async fn complete(&self, db: &Db, response: &StoredResponse) -> Result<(), StoreError> {
        let tx = db.begin().await?;
        let keep = rapport_store::now() + chrono::Duration::hours(TTL_HOURS);
        idempotency::complete(&tx, self.ws, &self.principal, &self.value, response, keep).await?;
        tx.commit().await.map_err(StoreError::from)
    }

    async fn release(&self, db: &Db) {
        if let Err(e) = idempotency::release(db.read(), self.ws, &self.principal, &self.value).await {
            tracing::warn!(error = %e, "idempotency key not released");
        }
    }
}

fn fail(req: ServiceRequest, e: &ApiError) -> ServiceResponse<BoxBody> {
    req.into_response(e.error_response())
}

/// The key header, when it applies to this request.
fn key_of(req: &ServiceRequest) -> Option<Result<String, ApiError>> {
    let value = req.headers().get(HEADER)?;
    if req.method() != Method::POST || !req.path().starts_with("/v1/") || req.path() == "/v1/auth/token" {
        return None;
    }
    Some(match value.to_str() {
        Ok(k) if (1..=255).contains(&k.len()) => Ok(k.to_owned()),
        Ok(_) => Err(ApiError::bad_request(
            "invalid_idempotency_key",
            "Idempotency-Key must be 1 to 255 characters",
        )),
        Err(_) => Err(ApiError::bad_request(
            "invalid_idempotency_key",
            "Idempotency-Key must be printable ASCII",
        )),
    })
}

/// Middleware implementing the behaviour described in the module docs.
pub async fn middleware(mut req: ServiceRequest, next: Next<BoxBody>) -> Result<ServiceResponse<BoxBody>, Error> {
    let key = match key_of(&req) {
        None => return next.call(req).await,
        Some(Err(e)) => return Ok(fail(req, &e)),
        Some(Ok(k)) => k,
    };
    let Some(app) = req.app_data::<web::Data<App>>().cloned() else {
        return next.call(req).await;
    };
    // Unauthenticated requests go on to be refused by the handler.
    let Ok(who) = crate::auth::authenticate(&app, req.request()).await else {
        return next.call(req).await;
    };
    let bytes = {
        let (http_req, payload) = req.parts_mut();
        let limit = if http_req.path() == "/v1/contacts/batch" {
            app.settings.max_batch_body_bytes
        } else {
            app.settings.max_body_bytes
        };
        match crate::http::json::read_body(http_req, payload, limit).await {
            Ok(b) => b,
            Err(e) => return Ok(fail(req, &e)),
        }
    };
    let fingerprint = [
        req.method().as_str().as_bytes(),
        b" ",
        req.uri().to_string().as_bytes(),
        b"\n",
        &bytes,
    ]
    .concat();
    let hash = crate::auth::secret::sha256_hex(&fingerprint);
    req.set_payload(actix_web::dev::Payload::from(bytes));
    let key = Key {
        ws: who.workspace(),
        principal: who.principal(),
        value: key,
    };
    let db = &app.db;
    match idempotency::get(db.read(), key.ws, &key.principal, &key.value, rapport_store::now()).await {
        Err(e) => return Ok(fail(req, &e.into())),
        Ok(Some(rec)) if rec.request_hash != hash => return Ok(fail(req, &ApiError::IdempotencyKeyReused)),
        Ok(Some(rec)) => {
            return Ok(match rec.response {
                None => fail(req, &ApiError::IdempotencyInProgress),
                Some(stored) => req.into_response(replay(&stored)),
            });
        }
        Ok(None) => {}
    }
    match key.claim(db, &hash).await {
        Ok(()) => {}
        Err(StoreError::Conflict { .. }) => return Ok(fail(req, &ApiError::IdempotencyInProgress)),
        Err(e) => return Ok(fail(req, &e.into())),
    }
    let res = match next.call(req).await {
        Ok(r) if !r.status().is_server_error() => r,
        other => {
            key.release(db).await;
            return other;
        }
    };
    Ok(remember(&key, db, res).await)
}

/// Stores a response under its key and hands it on.
async fn remember(key: &Key, db: &Db, res: ServiceResponse<BoxBody>) -> ServiceResponse<BoxBody> {
    let (http_req, response) = res.into_parts();
    let status = response.status();
    let headers: Vec<(String, String)> = response
        .headers()
        .iter()
        .filter(|(n, _)| REPLAYED.contains(&n.as_str()))
        .filter_map(|(n, v)| v.to_str().ok().map(|v| (n.as_str().to_owned(), v.to_owned())))
        .collect();
    let (head, body) = response.into_parts();
    let bytes = body::to_bytes(body).await.unwrap_or_default();
    let stored = StoredResponse {
        status: status.as_u16(),
        headers,
        body: bytes.to_vec(),
    };
    if let Err(e) = key.complete(db, &stored).await {
        tracing::warn!(error = %e, "idempotency response not stored");
        key.release(db).await;
    }
    ServiceResponse::new(http_req, head.set_body(BoxBody::new(bytes)))
}

fn replay(stored: &StoredResponse) -> HttpResponse {
    let mut res = HttpResponse::build(StatusCode::from_u16(stored.status).unwrap_or(StatusCode::OK));
    for (name, value) in &stored.headers {
        if let (Ok(n), Ok(v)) = (HeaderName::try_from(name.as_str()), HeaderValue::from_str(value)) {
            res.insert_header((n, v));
        }
    }
    res.insert_header((
        HeaderName::from_static("idempotent-replayed"),
        HeaderValue::from_static("true"),
    ));
    res.body(stored.body.clone())
}
