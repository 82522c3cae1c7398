//! The OAuth2 client-credentials grant.

use rapport_domain::ApiClientId;
use rapport_domain::scope::ScopeSet;
use rapport_store::api_clients;

use crate::app::App;
use crate::auth::secret;
use crate::auth::tokens::Issued;
use crate::error::ApiError;

/// A token request, from whichever place the client put its credentials.
pub struct Grant<'a> {
    pub grant_type: Option<&'a str>,
    pub client_id: Option<&'a str>,
    pub client_secret: Option<&'a str>,
    pub scope: Option<&'a str>,
}

/// The OAuth2 error of a refused grant (RFC 6749 §5.2).
#[derive(Debug)]
pub struct GrantError {
    pub error: &'static str,
    pub description: String,
}

fn refuse(error: &'static str, description: impl Into<String>) -> GrantError {
    GrantError {
        error,
        description: description.into(),
    }
}

/// Issues a token for valid client credentials. The requested scope must be a subset
/// of the client's; without one the token gets all of them.
/// # Errors
/// `unsupported_grant_type`, `invalid_request`, `invalid_client`, `invalid_scope`.
pub async fn token(app: &App, g: Grant<'_>) -> Result<Result<Issued, GrantError>, ApiError> {
    match g.grant_type {
        Some("client_credentials") => {}
        Some(other) => {
            return Ok(Err(refuse(
                "unsupported_grant_type",
                format!("grant_type '{other}' is not supported; use client_credentials"),
            )));
        }
        None => {
            return Ok(Err(refuse(
                "invalid_request",
                "grant_type is required (client_credentials)",
            )));
        }
    }
    let (Some(id), Some(secret)) = (g.client_id, g.client_secret) else {
        return Ok(Err(refuse(
            "invalid_request",
            "client_id and client_secret are required",
        )));
    };
    let bad_client = || refuse("invalid_client", "unknown client or wrong secret");
    let Ok(id) = id.trim().parse::<ApiClientId>() else {
        return Ok(Err(bad_client()));
    };
    let Some((client, hash)) = api_clients::find_for_authentication(app.db.read(), id).await? else {
        return Ok(Err(bad_client()));
    };
    if !secret::verify(secret, &hash) {
        return Ok(Err(bad_client()));
    }
    if client.revoked_at.is_some() {
        return Ok(Err(refuse("invalid_client", "this client was revoked")));
    }
    let scope = match g.scope.map(str::trim).filter(|s| !s.is_empty()) {
        None => client.scopes.clone(),
        Some(requested) => {
            let Ok(requested) = ScopeSet::parse_strict(requested) else {
                return Ok(Err(refuse(
                    "invalid_scope",
                    "the requested scope names an unknown scope",
                )));
            };
            if !client.scopes.covers(&requested) {
                return Ok(Err(refuse(
                    "invalid_scope",
                    format!("the client may only request: {}", client.scopes),
                )));
            }
            requested
        }
    };
    Ok(Ok(app.tokens.issue(client.id, client.workspace_id, scope)?))
}
