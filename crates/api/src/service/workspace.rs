//! The caller's workspace and its settings.

use rapport_domain::scope::Scope;
use rapport_store::workspaces::{self, Workspace};

use crate::app::App;
use crate::auth::Caller;
use crate::error::ApiError;

/// The longest churn window, in days (ten years).
pub const MAX_CHURN_AFTER_DAYS: i64 = 3650;

/// The caller's workspace.
/// # Errors
/// When the database fails.
pub async fn get(app: &App, who: &Caller) -> Result<Workspace, ApiError> {
    Ok(workspaces::get(app.db.read(), who.workspace()).await?)
}

/// Changes the workspace's settings.
/// # Errors
/// 403 without `admin`; 422 `out_of_range` for a churn window outside 1..=3650 days.
pub async fn update(app: &App, who: &Caller, churn_after_days: Option<i64>) -> Result<Workspace, ApiError> {
    who.require(Scope::Admin)?;
    let Some(days) = churn_after_days else {
        return get(app, who).await;
    };
    let days = u32::try_from(days)
        .ok()
        .filter(|d| (1..=MAX_CHURN_AFTER_DAYS).contains(&i64::from(*d)))
        .ok_or_else(|| {
            ApiError::invalid(
                "/churn_after_days",
                "out_of_range",
                format!("must be a whole number of days from 1 to {MAX_CHURN_AFTER_DAYS}"),
            )
        })?;
    let tx = app.db.begin().await?;
    let w = workspaces::set_churn_after_days(&tx, who.workspace(), days).await?;
    super::commit(tx).await?;
    Ok(w)
}
