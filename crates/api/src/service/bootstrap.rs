//! First start: an empty database gets a workspace and an admin API client, so a new
//! installation can be used at once.

use rapport_domain::scope::{Scope, ScopeSet};
use rapport_store::Db;
use rapport_store::api_clients::ApiClient;
use rapport_store::workspaces::{self, Workspace};

use crate::error::ApiError;

/// Name of the workspace created on first start.
pub const DEFAULT_WORKSPACE: &str = "Default workspace";

/// Creates the first workspace and an admin client when there is no workspace yet.
/// Returns what was created, with the client's secret (to be shown once).
/// # Errors
/// When the database write fails.
pub async fn first_run(db: &Db) -> Result<Option<(Workspace, ApiClient, String)>, ApiError> {
    let tx = db.begin().await?;
    if workspaces::first(&tx).await?.is_some() {
        return Ok(None);
    }
    let ws = workspaces::create(&tx, DEFAULT_WORKSPACE).await?;
    let (client, secret) =
        super::api_clients::mint(&tx, ws.id, "admin".into(), ScopeSet::from_scopes([Scope::Admin])).await?;
    super::commit(tx).await?;
    Ok(Some((ws, client, secret)))
}

/// The first workspace, created when there is none (for `rapport client create`).
/// # Errors
/// When the database write fails.
pub async fn first_workspace(db: &Db) -> Result<Workspace, ApiError> {
    let tx = db.begin().await?;
    let ws = match workspaces::first(&tx).await? {
        Some(ws) => ws,
        None => workspaces::create(&tx, DEFAULT_WORKSPACE).await?,
    };
    super::commit(tx).await?;
    Ok(ws)
}
