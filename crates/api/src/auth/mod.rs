//! Who is calling, and what they may do.

pub mod secret;
pub mod tokens;

use std::pin::Pin;

use actix_web::dev::Payload;
use actix_web::http::header;
use actix_web::{FromRequest, HttpRequest, web};
use rapport_domain::WorkspaceId;
use rapport_domain::event::Actor;
use rapport_domain::scope::{Scope, ScopeSet};

use crate::app::App;
use crate::error::ApiError;

/// The authenticated caller: its workspace, its scopes and its identity.
#[derive(Clone, Debug)]
pub struct Caller {
    workspace: WorkspaceId,
    scopes: ScopeSet,
    actor: Actor,
}

impl Caller {
    pub fn new(workspace: WorkspaceId, scopes: ScopeSet, actor: Actor) -> Self {
        Self {
            workspace,
            scopes,
            actor,
        }
    }

    /// The workspace every query of this caller is confined to.
    pub fn workspace(&self) -> WorkspaceId {
        self.workspace
    }

    pub fn actor(&self) -> &Actor {
        &self.actor
    }

    pub fn scopes(&self) -> &ScopeSet {
        &self.scopes
    }

    /// Whether the caller holds `scope`.
    pub fn has(&self, scope: Scope) -> bool {
        self.scopes.grants(scope)
    }

    /// Requires `scope`.
    /// # Errors
    /// 403 `insufficient_scope` naming the scope.
    pub fn require(&self, scope: Scope) -> Result<(), ApiError> {
        if self.has(scope) {
            Ok(())
        } else {
            Err(ApiError::Forbidden(scope.as_str()))
        }
    }

    /// A stable name of the caller (`api_client:<id>`, `user:<sub>`), used to scope
    /// idempotency keys.
    pub fn principal(&self) -> String {
        format!(
            "{}:{}",
            self.actor.kind.as_str(),
            self.actor.id.as_deref().unwrap_or_default()
        )
    }
}

/// The bearer token of a request, if it has one.
/// # Errors
/// 401 `unauthorized` when the header is missing or not a bearer token.
pub fn bearer(req: &HttpRequest) -> Result<&str, ApiError> {
    let value = req
        .headers()
        .get(header::AUTHORIZATION)
        .ok_or_else(|| {
            ApiError::unauthorized(
                "unauthorized",
                "an Authorization: Bearer <token> header is required; get a token from POST /v1/auth/token",
            )
        })?
        .to_str()
        .unwrap_or_default();
    match value.split_once(' ') {
        Some((scheme, token)) if scheme.eq_ignore_ascii_case("bearer") && !token.trim().is_empty() => Ok(token.trim()),
        _ => Err(ApiError::unauthorized(
            "unauthorized",
            "the Authorization header must be 'Bearer <token>'",
        )),
    }
}

/// Authenticates a request.
/// # Errors
/// 401 for a missing, malformed, forged, expired or revoked token.
pub async fn authenticate(app: &App, req: &HttpRequest) -> Result<Caller, ApiError> {
    let token = bearer(req)?;
    app.tokens.verify(&app.db, token).await
}

impl FromRequest for Caller {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, ApiError>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move {
            let app = req
                .app_data::<web::Data<App>>()
                .ok_or_else(|| ApiError::Internal("application state missing".into()))?;
            authenticate(app, &req).await
        })
    }
}
