//! Connector use cases: registering the shops and ERP systems that push changes in.

use rapport_domain::scope::Scope;
use rapport_store::connectors::{self as store, Connector};
use uuid::Uuid;

use crate::app::App;
use crate::auth::Caller;
use crate::error::{ApiError, OrNotFound};
use crate::webhooks::sign;

/// Registers a connector; the answer carries its secret, shown this once.
/// # Errors
/// 403 without `connectors:manage`; 422 for a bad name; 409 for a taken one.
pub async fn create(app: &App, who: &Caller, name: &str) -> Result<(Connector, String), ApiError> {
    who.require(Scope::ConnectorsManage)?;
    let name = rapport_domain::text::key(name, "/name", true)?;
    let secret = sign::new_secret().map_err(|e| ApiError::Internal(e.to_string()))?;
    let now = rapport_store::now();
    let c = Connector {
        workspace_id: who.workspace(),
        id: Uuid::now_v7(),
        name,
        secret: secret.clone(),
        previous_secret: None,
        previous_until: None,
        enabled: true,
        version: 1,
        created_at: now,
        updated_at: now,
    };
    let tx = app.db.begin().await?;
    store::insert(&tx, &c).await?;
    super::commit(tx).await?;
    Ok((c, secret))
}

/// The workspace's connectors.
/// # Errors
/// 403.
pub async fn list(app: &App, who: &Caller) -> Result<Vec<Connector>, ApiError> {
    who.require(Scope::ConnectorsManage)?;
    Ok(store::list(app.db.read(), who.workspace()).await?)
}

/// One connector.
/// # Errors
/// 403; 404.
pub async fn get(app: &App, who: &Caller, id: Uuid) -> Result<Connector, ApiError> {
    who.require(Scope::ConnectorsManage)?;
    store::get(app.db.read(), who.workspace(), id)
        .await
        .or_not_found("connector")
}

/// Enables or disables a connector (a disabled one's pushes are refused).
/// # Errors
/// 403; 404.
pub async fn set_enabled(app: &App, who: &Caller, id: Uuid, enabled: bool) -> Result<Connector, ApiError> {
    who.require(Scope::ConnectorsManage)?;
    let tx = app.db.begin().await?;
    let before = store::get(&tx, who.workspace(), id).await.or_not_found("connector")?;
    if before.enabled == enabled {
        return Ok(before);
    }
    let mut after = before.clone();
    after.enabled = enabled;
    after.version += 1;
    after.updated_at = rapport_store::now();
    store::update(&tx, &before, &after).await?;
    super::commit(tx).await?;
    Ok(after)
}

/// A new secret; the previous one is accepted for a day more.
/// # Errors
/// 403; 404.
pub async fn rotate(app: &App, who: &Caller, id: Uuid) -> Result<(Connector, String), ApiError> {
    who.require(Scope::ConnectorsManage)?;
    let secret = sign::new_secret().map_err(|e| ApiError::Internal(e.to_string()))?;
    let now = rapport_store::now();
    let tx = app.db.begin().await?;
    let before = store::get(&tx, who.workspace(), id).await.or_not_found("connector")?;
    let mut after = before.clone();
    after.previous_secret = Some(before.secret.clone());
    after.previous_until = Some(now + chrono::Duration::days(1));
    after.secret = secret.clone();
    after.version += 1;
    after.updated_at = now;
    store::update(&tx, &before, &after).await?;
    super::commit(tx).await?;
    Ok((after, secret))
}

/// Removes a connector.
/// # Errors
/// 403; 404.
pub async fn delete(app: &App, who: &Caller, id: Uuid) -> Result<(), ApiError> {
    who.require(Scope::ConnectorsManage)?;
    let tx = app.db.begin().await?;
    store::delete(&tx, who.workspace(), id)
        .await
        .or_not_found("connector")?;
    super::commit(tx).await
}
