//! CORS for browser front-ends: only the configured origins, never credentials, and a
//! refused request answered with a problem document like every other error.

use actix_cors::{Cors, CorsError};
use actix_web::ResponseError;
use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;

use crate::error::ApiError;

/// The CORS layer: only the configured origins; `*` allows any origin. Credentialed CORS
/// is never enabled (bearer tokens are not cookies), so a wildcard can never be combined
/// with credentials.
pub fn layer(origins: &[String]) -> Cors {
    let mut cors = Cors::default()
        .allowed_methods(["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"])
        .allowed_headers([
            "authorization",
            "content-type",
            "idempotency-key",
            "if-match",
            "if-none-match",
            "x-request-id",
        ])
        .expose_headers(["etag", "location", "x-request-id", "idempotent-replayed"])
        .max_age(3600);
    for o in origins {
        cors = if o == "*" {
            cors.allow_any_origin()
        } else {
            cors.allowed_origin(o)
        };
    }
    cors
}

/// Wraps the CORS layer: its refusals (plain text from the library) become 400
/// `cors_rejected` problems naming what was refused.
pub async fn problems(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody>>, actix_web::Error> {
    let res = next.call(req).await?;
    let refused = res
        .response()
        .error()
        .and_then(|e| e.as_error::<CorsError>())
        .map(ToString::to_string);
    match refused {
        Some(detail) => {
            let problem = ApiError::bad_request("cors_rejected", format!("CORS: {detail}")).error_response();
            Ok(res.into_response(problem).map_into_right_body())
        }
        None => Ok(res.map_into_left_body()),
    }
}
