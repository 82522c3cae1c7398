//! Request ids: taken from `X-Request-Id` when the caller sends a sane one, generated
//! otherwise; echoed in the response, attached to every log line of the request (a
//! tracing span) and to every problem document.

use actix_web::Error;
use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::middleware::Next;
use tracing::Instrument;

tokio::task_local! {
    static REQUEST_ID: String;
}

/// The header carrying the id.
pub const HEADER: &str = "x-request-id";

/// The id of the request being handled, if any.
pub fn current() -> Option<String> {
    REQUEST_ID.try_with(Clone::clone).ok()
}

fn acceptable(id: &str) -> bool {
    (1..=128).contains(&id.len())
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | ':'))
}

/// Middleware: assigns the id, opens the span, logs one line per request.
pub async fn middleware(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, Error> {
    let id = req
        .headers()
        .get(HEADER)
        .and_then(|v| v.to_str().ok())
        .filter(|v| acceptable(v))
        .map_or_else(|| uuid::Uuid::now_v7().simple().to_string(), str::to_owned);
    let span = tracing::info_span!("request", request_id = %id, method = %req.method(), path = %req.path());
    let started = std::time::Instant::now();
    let res = REQUEST_ID
        .scope(id.clone(), next.call(req).instrument(span.clone()))
        .await;
    let _enter = span.enter();
    match res {
        Ok(mut res) => {
            let status = res.status().as_u16();
            tracing::info!(status, elapsed_ms = started.elapsed().as_secs_f64() * 1e3, "handled");
            if let Ok(v) = HeaderValue::from_str(&id) {
                res.headers_mut().insert(HeaderName::from_static(HEADER), v);
            }
            Ok(res)
        }
        Err(e) => {
            tracing::warn!(error = %e, "failed");
            Err(e)
        }
    }
}

/// Runs `f` with the request id set (for work handed to another task).
pub async fn scope<F: Future>(id: Option<String>, f: F) -> F::Output {
    match id {
        Some(id) => REQUEST_ID.scope(id, f).await,
        None => f.await,
    }
}
