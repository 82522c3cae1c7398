//! `POST /v1/auth/token`: the OAuth2 client-credentials grant (RFC 6749 §4.4).

use actix_web::http::{StatusCode, header};
use actix_web::{HttpRequest, HttpResponse, post, web};
use base64::Engine;
use serde::Serialize;

use crate::app::App;
use crate::dto::api_clients::{TokenRequest, TokenResponse};
use crate::error::{ApiError, Problem};
use crate::http::json::{parse, read_body};
use crate::service::auth::{Grant, GrantError};

/// The most a token request body may hold.
const LIMIT: usize = 16 * 1024;

/// An OAuth2 error in a problem document: `error` and `error_description` (RFC 6749
/// §5.2) next to the usual problem members, so OAuth libraries and problem readers both
/// understand it.
#[derive(Serialize, utoipa::ToSchema)]
pub struct OAuthProblem {
    #[serde(flatten)]
    problem: Problem,
    error: &'static str,
    error_description: String,
}

fn refused(e: GrantError, basic: bool) -> HttpResponse {
    let status = if e.error == "invalid_client" {
        StatusCode::UNAUTHORIZED
    } else {
        StatusCode::BAD_REQUEST
    };
    let problem = Problem {
        kind: format!("/problems/{}", e.error),
        title: if status == StatusCode::UNAUTHORIZED {
            "Unauthorized"
        } else {
            "Bad request"
        },
        status: status.as_u16(),
        detail: e.description.clone(),
        code: e.error,
        request_id: crate::http::request_id::current(),
        errors: Vec::new(),
        existing_id: None,
        current_version: None,
        merged_into: None,
    };
    let mut res = HttpResponse::build(status);
    res.content_type("application/problem+json")
        .insert_header((header::CACHE_CONTROL, "no-store"));
    if basic && status == StatusCode::UNAUTHORIZED {
        res.insert_header((header::WWW_AUTHENTICATE, "Basic realm=\"rapport\""));
    }
    res.json(OAuthProblem {
        problem,
        error: e.error,
        error_description: e.description,
    })
}

/// Client credentials from an HTTP Basic header, if present.
fn basic_credentials(req: &HttpRequest) -> Option<(String, String)> {
    let v = req.headers().get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, b64) = v.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = base64::engine::general_purpose::STANDARD.decode(b64.trim()).ok()?;
    let text = String::from_utf8(decoded).ok()?;
    let (id, secret) = text.split_once(':')?;
    Some((id.to_owned(), secret.to_owned()))
}

/// Exchanges client credentials for an access token. Send `grant_type=client_credentials`
/// with `client_id` and `client_secret` as a form or JSON body (or the credentials as
/// HTTP Basic), and optionally `scope` to narrow the token.
#[utoipa::path(post, path = "/v1/auth/token", tag = "auth",
    request_body(content(
        (TokenRequest = "application/x-www-form-urlencoded"),
        (TokenRequest = "application/json"))),
    responses(
        (status = 200, body = TokenResponse, headers(("Cache-Control" = String))),
        (status = 400, description = "invalid_request, invalid_scope or unsupported_grant_type", body = OAuthProblem, content_type = "application/problem+json"),
        (status = 401, description = "invalid_client", body = OAuthProblem, content_type = "application/problem+json")))]
#[post("/v1/auth/token")]
pub async fn token(app: web::Data<App>, req: HttpRequest, mut payload: web::Payload) -> Result<HttpResponse, ApiError> {
    let bytes = read_body(&req, &mut payload, LIMIT).await?;
    let content_type = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|v| v.split(';').next().unwrap_or_default().trim().to_ascii_lowercase())
        .unwrap_or_default();
    let body: TokenRequest = match content_type.as_str() {
        "application/json" => parse(&bytes)?,
        "application/x-www-form-urlencoded" => serde_urlencoded::from_bytes(&bytes)
            .map_err(|e| ApiError::bad_request("invalid_request", format!("the form body could not be read: {e}")))?,
        "" if bytes.is_empty() => TokenRequest::default(),
        other => {
            return Err(ApiError::UnsupportedMediaType(format!(
                "expected application/x-www-form-urlencoded or application/json, got {other}"
            )));
        }
    };
    let basic = basic_credentials(&req);
    let (client_id, client_secret) = match &basic {
        Some(_) if body.client_secret.is_some() => {
            // RFC 6749 §2.3: a client uses one authentication method per request.
            let e = GrantError {
                error: "invalid_request",
                description: "send the client credentials either as HTTP Basic or in the body, not both".into(),
            };
            return Ok(refused(e, false));
        }
        Some((id, secret)) => (Some(id.as_str()), Some(secret.as_str())),
        None => (body.client_id.as_deref(), body.client_secret.as_deref()),
    };
    let grant = Grant {
        grant_type: body.grant_type.as_deref(),
        client_id,
        client_secret,
        scope: body.scope.as_deref(),
    };
    match crate::service::auth::token(&app, grant).await? {
        Ok(issued) => Ok(HttpResponse::Ok()
            .insert_header((header::CACHE_CONTROL, "no-store"))
            .insert_header((header::PRAGMA, "no-cache"))
            .json(TokenResponse {
                access_token: issued.access_token,
                token_type: "Bearer",
                expires_in: issued.expires_in,
                scope: issued.scope.to_string(),
            })),
        Err(e) => Ok(refused(e, basic.is_some())),
    }
}
