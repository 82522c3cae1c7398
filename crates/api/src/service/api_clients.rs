//! API client use cases (scope `admin`).

use rapport_domain::scope::{Scope, ScopeSet};
use rapport_domain::{ApiClientId, WorkspaceId, text};
use rapport_store::Conn;
use rapport_store::api_clients::{self, ApiClient};

use crate::app::App;
use crate::auth::{Caller, secret};
use crate::error::{ApiError, OrNotFound};

/// Validates a client name and scope string.
/// # Errors
/// 422 naming the unknown scope, or for an empty name or scope list.
pub fn validate(name: &str, scopes: &str) -> Result<(String, ScopeSet), ApiError> {
    let name = text::required_text(name, "/name", text::MAX_NAME_CHARS)
        .map_err(|e| rapport_domain::DomainError::Invalid(vec![e]))?;
    let scopes = ScopeSet::parse_strict(scopes).map_err(|unknown| {
        let known: Vec<&str> = Scope::ALL.iter().map(|s| s.as_str()).collect();
        ApiError::invalid(
            "/scopes",
            "unknown_scope",
            format!("unknown scope '{unknown}'; known scopes: {}", known.join(" ")),
        )
    })?;
    if scopes.is_empty() {
        return Err(ApiError::invalid("/scopes", "required", "at least one scope is needed"));
    }
    Ok((name, scopes))
}

/// Creates a client in `ws` and returns it with its secret (shown once).
/// # Errors
/// When the database write fails.
pub async fn mint(
    db: &impl Conn,
    ws: WorkspaceId,
    name: String,
    scopes: ScopeSet,
) -> Result<(ApiClient, String), ApiError> {
    let secret = secret::generate().map_err(|e| ApiError::Internal(e.to_string()))?;
    let client = ApiClient {
        id: ApiClientId::new(),
        workspace_id: ws,
        name,
        scopes,
        created_at: rapport_store::now(),
        revoked_at: None,
    };
    api_clients::insert(db, &client, &secret::hash(&secret)).await?;
    Ok((client, secret))
}

/// Creates a client in the caller's workspace.
/// # Errors
/// 403 without `admin`; 422.
pub async fn create(app: &App, who: &Caller, name: &str, scopes: &str) -> Result<(ApiClient, String), ApiError> {
    who.require(Scope::Admin)?;
    let (name, scopes) = validate(name, scopes)?;
    let tx = app.db.begin().await?;
    let created = mint(&tx, who.workspace(), name, scopes).await?;
    super::commit(tx).await?;
    Ok(created)
}

/// Every client of the caller's workspace.
/// # Errors
/// 403 without `admin`.
pub async fn list(app: &App, who: &Caller) -> Result<Vec<ApiClient>, ApiError> {
    who.require(Scope::Admin)?;
    Ok(api_clients::list(app.db.read(), who.workspace()).await?)
}

/// One client.
/// # Errors
/// 403; 404.
pub async fn get(app: &App, who: &Caller, id: ApiClientId) -> Result<ApiClient, ApiError> {
    who.require(Scope::Admin)?;
    api_clients::get(app.db.read(), who.workspace(), id)
        .await
        .or_not_found("API client")
}

/// Revokes a client: its secret and every token issued to it stop working.
/// # Errors
/// 403; 404.
pub async fn revoke(app: &App, who: &Caller, id: ApiClientId) -> Result<ApiClient, ApiError> {
    who.require(Scope::Admin)?;
    let tx = app.db.begin().await?;
    let client = api_clients::revoke(&tx, who.workspace(), id, rapport_store::now())
        .await
        .or_not_found("API client")?;
    super::commit(tx).await?;
    app.tokens.remember(id, false);
    Ok(client)
}
