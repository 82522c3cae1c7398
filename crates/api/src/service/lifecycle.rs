//! Lifecycle use cases: moving a contact between stages and reading its history.

use rapport_domain::ContactId;
use rapport_domain::contact::ContactChanges;
use rapport_domain::lifecycle::{self, Authority, Cause, Stage, Transition};
use rapport_domain::scope::Scope;
use rapport_store::contacts;
use rapport_store::page::Page;

use crate::app::App;
use crate::auth::Caller;
use crate::error::{ApiError, OrNotFound};
use crate::http::etag::Precondition;

/// Moves a contact to `to`. Forward moves, exits and reactivations are always allowed;
/// a backward move needs the `lifecycle:override` scope and a reason. Moving to the
/// current stage records nothing.
/// # Errors
/// 403 without `contacts:write`; 404; 412; 422 `stage_transition_not_allowed`.
pub async fn change_stage(
    app: &App,
    who: &Caller,
    id: ContactId,
    to: Stage,
    reason: Option<&str>,
    precondition: Precondition,
) -> Result<rapport_domain::contact::Contact, ApiError> {
    who.require(Scope::ContactsWrite)?;
    let reason = lifecycle::reason(reason, "/reason")
        .map_err(|e| ApiError::Domain(rapport_domain::DomainError::Invalid(vec![e])))?;
    let tx = app.db.begin().await?;
    let before = super::contacts::locked(&tx, who, id, precondition).await?;
    let authority = Authority {
        may_override: who.has(Scope::LifecycleOverride),
        reason: reason.as_deref(),
    };
    let changes = ContactChanges {
        stage: Some(to),
        ..Default::default()
    };
    let applied = before.apply(changes, authority, rapport_store::now())?;
    let (contact, _) = super::contacts::write_change(&tx, who, &before, applied, Cause::Api, reason).await?;
    super::commit(tx).await?;
    Ok(contact)
}

/// A contact's recorded transitions, oldest first.
/// # Errors
/// 403 without `contacts:read`; 404.
pub async fn history(
    app: &App,
    who: &Caller,
    id: ContactId,
    after: Option<uuid::Uuid>,
    limit: u64,
) -> Result<Page<Transition>, ApiError> {
    who.require(Scope::ContactsRead)?;
    contacts::get(app.db.read(), who.workspace(), id)
        .await
        .or_not_found("contact")?;
    Ok(rapport_store::lifecycle::list(app.db.read(), who.workspace(), id, after, limit).await?)
}
