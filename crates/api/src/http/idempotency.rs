//! `Idempotency-Key` on POST: the first response (2xx or 4xx) to a key is stored for
//! 24 hours and replayed to retries with `Idempotent-Replayed: true`; the same key with a
//! different request is refused (422); a retry while the first request still runs gets
//! 409. Keys are scoped to the caller. Server errors release the key so a retry runs.

use actix_web::body::{self, BoxBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::http::{Method, StatusCode};
use actix_web::middleware::Next;
use actix_web::{Error, HttpResponse, ResponseError, web};
use rapport_store::idempotency::{self, StoredResponse};
use sha2::{Digest, Sha256};

use crate::app::App;
use crate::error::ApiError;

/// The request header.
pub const HEADER: &str = "idempotency-key";
/// How long a response is kept.
const TTL_HOURS: i64 = 24;
/// Response headers worth replaying.
const REPLAYED: [&str; 3] = ["location", "etag", "content-type"];

fn applies(req: &ServiceRequest) -> bool {
    req.method() == Method::POST && req.path().starts_with("/v1/") && req.path() != "/v1/auth/token"
}

fn fail(req: ServiceRequest, e: &ApiError) -> ServiceResponse<BoxBody> {
    req.into_response(e.error_response())
}

/// Middleware implementing the behaviour described in the module docs.
pub async fn middleware(mut req: ServiceRequest, next: Next<BoxBody>) -> Result<ServiceResponse<BoxBody>, Error> {
    let Some(key) = req.headers().get(HEADER).cloned() else {
        return next.call(req).await;
    };
    if !applies(&req) {
        return next.call(req).await;
    }
    let Ok(key) = key.to_str().map(str::to_owned) else {
        return Ok(fail(req, &ApiError::bad_request("invalid_idempotency_key", "Idempotency-Key must be printable ASCII")));
    };
    if key.is_empty() || key.len() > 255 {
        return Ok(fail(req, &ApiError::bad_request("invalid_idempotency_key", "Idempotency-Key must be 1 to 255 characters")));
    }
    let Some(app) = req.app_data::<web::Data<App>>().cloned() else {
        return next.call(req).await;
    };
    // Unauthenticated requests go on to be refused by the handler.
    let Ok(who) = crate::auth::authenticate(&app, req.request()).await else {
        return next.call(req).await;
    };
    let limit = app.settings.max_batch_body_bytes;
    let bytes = {
        let (http_req, payload) = req.parts_mut();
        match crate::http::json::read_body(http_req, payload, limit).await {
            Ok(b) => b,
            Err(e) => return Ok(fail(req, &e)),
        }
    };
    let mut hasher = Sha256::new();
    hasher.update(req.method().as_str());
    hasher.update(b" ");
    hasher.update(req.uri().to_string());
    hasher.update(b"\n");
    hasher.update(&bytes);
    let hash: String = hasher.finalize().iter().map(|b| format!("{b:02x}")).collect();
    req.set_payload(actix_web::dev::Payload::from(bytes));

    let ws = who.workspace();
    let principal = who.principal();
    let now = rapport_store::now();
    let db = app.db.clone();
    match idempotency::get(db.read(), ws, &principal, &key, now).await {
        Err(e) => return Ok(fail(req, &e.into())),
        Ok(Some(rec)) => {
            if rec.request_hash != hash {
                return Ok(fail(req, &ApiError::IdempotencyKeyReused));
            }
            return Ok(match rec.response {
                None => fail(req, &ApiError::IdempotencyInProgress),
                Some(stored) => req.into_response(replay(&stored)),
            });
        }
        Ok(None) => {}
    }
    let claimed = async {
        let tx = db.begin().await?;
        idempotency::claim(&tx, ws, &principal, &key, &hash, now, chrono::Duration::hours(TTL_HOURS)).await?;
        tx.commit().await.map_err(rapport_store::StoreError::from)
    }
    .await;
    match claimed {
        Ok(()) => {}
        Err(rapport_store::StoreError::Conflict { .. }) => return Ok(fail(req, &ApiError::IdempotencyInProgress)),
        Err(e) => return Ok(fail(req, &e.into())),
    }

    let res = next.call(req).await;
    let res = match res {
        Ok(r) => r,
        Err(e) => {
            let _ = idempotency::release(db.read(), ws, &principal, &key).await;
            return Err(e);
        }
    };
    if res.status().is_server_error() {
        let _ = idempotency::release(db.read(), ws, &principal, &key).await;
        return Ok(res);
    }
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
    let saved = async {
        let tx = db.begin().await?;
        idempotency::complete(&tx, ws, &principal, &key, &stored).await?;
        tx.commit().await.map_err(rapport_store::StoreError::from)
    }
    .await;
    if let Err(e) = saved {
        tracing::warn!(error = %e, "idempotency response not stored");
        let _ = idempotency::release(db.read(), ws, &principal, &key).await;
    }
    let response = head.set_body(BoxBody::new(bytes));
    Ok(ServiceResponse::new(http_req, response))
}

fn replay(stored: &StoredResponse) -> HttpResponse {
    let mut res = HttpResponse::build(StatusCode::from_u16(stored.status).unwrap_or(StatusCode::OK));
    for (name, value) in &stored.headers {
        if let (Ok(n), Ok(v)) = (HeaderName::try_from(name.as_str()), HeaderValue::from_str(value)) {
            res.insert_header((n, v));
        }
    }
    res.insert_header((HeaderName::from_static("idempotent-replayed"), HeaderValue::from_static("true")));
    res.body(stored.body.clone())
}
