//! Query strings: endpoints that declare parameters refuse unknown ones through their
//! typed extractors; every other `/v1` endpoint takes none, and refuses any, so a
//! misplaced filter is an error instead of being silently ignored.

use actix_web::Error;
use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::Method;
use actix_web::middleware::Next;
use actix_web::{HttpResponse, ResponseError};

use crate::error::ApiError;

/// `GET` routes that take query parameters.
const WITH_PARAMETERS: [&str; 5] = [
    "/v1/contacts",
    "/v1/companies",
    "/v1/companies/{id}/contacts",
    "/v1/contacts/{id}/lifecycle",
    "/v1/attribute-definitions",
];

fn takes_parameters(method: &Method, pattern: Option<&str>) -> bool {
    method == Method::GET && pattern.is_some_and(|p| WITH_PARAMETERS.contains(&p))
}

/// Middleware: refuses a query string on `/v1` endpoints that take no parameters.
pub async fn middleware(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, Error> {
    if req.path().starts_with("/v1/")
        && !req.query_string().is_empty()
        && !takes_parameters(req.method(), req.match_pattern().as_deref())
    {
        let e = ApiError::bad_request("invalid_query", "this endpoint takes no query parameters");
        let res: HttpResponse = e.error_response();
        return Ok(req.into_response(res));
    }
    Ok(next.call(req).await?.map_into_boxed_body())
}
