//! Contact merges: moving everything linked to merged contacts onto the survivor, and
//! the redirects their ids answer with afterwards.

use chrono::{DateTime, Utc};
use rapport_domain::{ContactId, WorkspaceId};
use sea_orm::ConnectionTrait;
use sea_orm::sea_query::{Alias, Expr, ExprTrait, OnConflict, Query};
use uuid::Uuid;

use crate::error::StoreError;

fn ids(v: &[ContactId]) -> Vec<Uuid> {
    v.iter().map(|c| c.uuid()).collect()
}

/// The contact a merged id now belongs to, if `id` was merged.
pub async fn redirect(
    db: &impl ConnectionTrait,
    ws: WorkspaceId,
    id: ContactId,
) -> Result<Option<ContactId>, StoreError> {
    let mut q = Query::select();
    q.column(Alias::new("merged_into"))
        .from(Alias::new("contact_merges"))
        .and_where(Expr::col(Alias::new("workspace_id")).eq(ws.uuid()))
        .and_where(Expr::col(Alias::new("contact_id")).eq(id.uuid()));
    match db.query_one(&q).await? {
        Some(row) => Ok(Some(ContactId::from_uuid(row.try_get::<Uuid>("", "merged_into")?))),
        None => Ok(None),
    }
}

/// What a look-up of a missing contact answers: `Merged` when the id was merged,
/// `NotFound` otherwise.
pub async fn missing(db: &impl ConnectionTrait, ws: WorkspaceId, id: ContactId) -> StoreError {
    match redirect(db, ws, id).await {
        Ok(Some(into)) => StoreError::Merged(into.uuid()),
        Ok(None) => StoreError::NotFound,
        Err(e) => e,
    }
}

/// The ids merged into `into`, directly or through earlier survivors (a later merge
/// re-points every older redirect, so one level holds them all).
pub async fn merged_into(
    db: &impl ConnectionTrait,
    ws: WorkspaceId,
    into: ContactId,
) -> Result<Vec<ContactId>, StoreError> {
    let mut q = Query::select();
    q.column(Alias::new("contact_id"))
        .from(Alias::new("contact_merges"))
        .and_where(Expr::col(Alias::new("workspace_id")).eq(ws.uuid()))
        .and_where(Expr::col(Alias::new("merged_into")).eq(into.uuid()))
        .order_by(Alias::new("contact_id"), sea_orm::sea_query::Order::Asc);
    db.query_all(&q)
        .await?
        .into_iter()
        .map(|row| Ok(ContactId::from_uuid(row.try_get::<Uuid>("", "contact_id")?)))
        .collect()
}

/// Moves the orders, lifecycle history, consent ledger, pending confirmations and
/// segment history of `from` to `to`, and points the redirects and external-id aliases
/// of any of `from` at `to`.
/// What is derived (consent states, purchase metrics, memberships) is the caller's to
/// rebuild; what stays with `from` goes when they are deleted.
pub async fn move_links(
    db: &impl ConnectionTrait,
    ws: WorkspaceId,
    from: &[ContactId],
    to: ContactId,
) -> Result<(), StoreError> {
    let from = ids(from);
    for (table, column) in [
        ("orders", "contact_id"),
        ("lifecycle_transitions", "contact_id"),
        ("consent_events", "contact_id"),
        ("consent_confirmations", "contact_id"),
        ("contact_merges", "merged_into"),
        ("contact_external_id_aliases", "contact_id"),
    ] {
        let mut q = Query::update();
        q.table(Alias::new(table))
            .value(Alias::new(column), to.uuid())
            .and_where(Expr::col(Alias::new("workspace_id")).eq(ws.uuid()))
            .and_where(Expr::col(Alias::new(column)).is_in(from.clone()));
        db.execute(&q).await?;
    }
    // Two contacts may have entered a segment in the same refresh: the survivor keeps one
    // span per entry time.
    let cols = ["workspace_id", "segment_id", "contact_id", "entered_at", "exited_at"].map(Alias::new);
    let mut select = Query::select();
    select
        .column(Alias::new("workspace_id"))
        .column(Alias::new("segment_id"))
        .expr(Expr::val(to.uuid()))
        .column(Alias::new("entered_at"))
        .column(Alias::new("exited_at"))
        .from(Alias::new("segment_membership_history"))
        .and_where(Expr::col(Alias::new("workspace_id")).eq(ws.uuid()))
        .and_where(Expr::col(Alias::new("contact_id")).is_in(from));
    let mut q = Query::insert();
    q.into_table(Alias::new("segment_membership_history"))
        .columns(cols)
        .select_from(select)
        .map_err(|e| StoreError::Db(sea_orm::DbErr::Custom(e.to_string())))?
        .on_conflict(OnConflict::new().do_nothing().to_owned());
    db.execute(&q).await?;
    Ok(())
}

/// Records that `merged` now redirect to `into`.
pub async fn record(
    db: &impl ConnectionTrait,
    ws: WorkspaceId,
    merged: &[ContactId],
    into: ContactId,
    at: DateTime<Utc>,
) -> Result<(), StoreError> {
    if merged.is_empty() {
        return Ok(());
    }
    let mut q = Query::insert();
    q.into_table(Alias::new("contact_merges"))
        .columns(["workspace_id", "contact_id", "merged_into", "merged_at"].map(Alias::new));
    for m in merged {
        q.values_panic([ws.uuid().into(), m.uuid().into(), into.uuid().into(), at.into()]);
    }
    db.execute(&q).await?;
    Ok(())
}
