//! Query strings: endpoints that declare parameters refuse unknown ones through their
//! typed extractors; every other `/v1` endpoint takes none, and refuses any, so a
//! misplaced filter is an error instead of being silently ignored. Which routes take
//! parameters is read from the OpenAPI document, so the two cannot disagree.

use std::collections::HashSet;
use std::sync::OnceLock;

use actix_web::Error;
use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::Method;
use actix_web::middleware::Next;
use actix_web::{HttpResponse, ResponseError};

use crate::error::ApiError;

/// `(method, route)` pairs whose documented parameters include query parameters.
fn with_parameters() -> &'static HashSet<(Method, String)> {
    use utoipa::openapi::path::{Operation, ParameterIn};
    static ROUTES: OnceLock<HashSet<(Method, String)>> = OnceLock::new();
    let takes = |op: &Option<Operation>| {
        op.as_ref()
            .and_then(|op| op.parameters.as_ref())
            .is_some_and(|ps| ps.iter().any(|p| matches!(p.parameter_in, ParameterIn::Query)))
    };
    ROUTES.get_or_init(|| {
        let mut set = HashSet::new();
        for (path, item) in &crate::openapi::document().paths.paths {
            for (method, op) in [
                (Method::GET, &item.get),
                (Method::POST, &item.post),
                (Method::PUT, &item.put),
                (Method::PATCH, &item.patch),
                (Method::DELETE, &item.delete),
            ] {
                if takes(op) {
                    set.insert((method, path.clone()));
                }
            }
        }
        set
    })
}

fn takes_parameters(method: &Method, pattern: Option<&str>) -> bool {
    pattern.is_some_and(|p| with_parameters().contains(&(method.clone(), p.to_owned())))
}

/// Middleware: refuses a query string on `/v1` endpoints that take no parameters.
pub async fn middleware(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, Error> {
    if req.path().starts_with("/v1/")
        && !req.query_string().is_empty()
        && !takes_parameters(req.method(), req.match_pattern().as_deref())
        // The matched pattern ignores methods: `POST /v1/contacts/search` matches
        // `/v1/contacts/{id}` (registered for GET) first, so a literal path is looked up too.
        && !takes_parameters(req.method(), Some(req.path()))
    {
        let e = ApiError::bad_request("invalid_query", "this endpoint takes no query parameters");
        let res: HttpResponse = e.error_response();
        return Ok(req.into_response(res));
    }
    Ok(next.call(req).await?.map_into_boxed_body())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_with_documented_query_parameters_take_them_and_others_do_not() {
        for p in [
            "/v1/contacts",
            "/v1/contacts/{id}",
            "/v1/consent-purposes",
            "/v1/contacts/{id}/consents/history",
        ] {
            assert!(takes_parameters(&Method::GET, Some(p)), "{p}");
        }
        assert!(takes_parameters(
            &Method::POST,
            Some("/v1/contacts/{id}/consent/{purpose}/confirmation")
        ));
        assert!(!takes_parameters(&Method::GET, Some("/v1/contacts/{id}/consents")));
        assert!(!takes_parameters(&Method::POST, Some("/v1/contacts")));
    }
}
