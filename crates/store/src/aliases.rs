//! External ids a merge dropped, still resolving to the contact that survived it (see
//! `migration::m0009_external_id_aliases`). An alias answers only for an id no contact
//! holds, and goes when a contact is given the id (`release`).

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use rapport_domain::{ContactId, WorkspaceId};
use sea_orm::ConnectionTrait;
use sea_orm::sea_query::{Alias, Condition, Expr, ExprTrait, OnConflict, Query};
use uuid::Uuid;

use crate::error::StoreError;

const TABLE: &str = "contact_external_id_aliases";
/// Ids per look-up statement.
const CHUNK: usize = 500;

/// Makes `(source, external id)` pairs resolve to `to`; an alias a pair already had
/// moves to `to`.
pub async fn record(
    db: &impl ConnectionTrait,
    ws: WorkspaceId,
    to: ContactId,
    pairs: &[(String, String)],
    at: DateTime<Utc>,
) -> Result<(), StoreError> {
    if pairs.is_empty() {
        return Ok(());
    }
    let mut q = Query::insert();
    q.into_table(Alias::new(TABLE))
        .columns(["workspace_id", "source", "external_id", "contact_id", "created_at"].map(Alias::new));
    for (source, id) in pairs {
        q.values_panic([
            ws.uuid().into(),
            source.clone().into(),
            id.clone().into(),
            to.uuid().into(),
            at.into(),
        ]);
    }
    q.on_conflict(
        OnConflict::columns(["workspace_id", "source", "external_id"].map(Alias::new))
            .update_columns(["contact_id", "created_at"].map(Alias::new))
            .to_owned(),
    );
    db.execute(&q).await?;
    Ok(())
}

/// The contacts these pairs are aliases of (pairs without an alias are left out). One
/// statement per source and 500 ids: a range of the primary key.
pub async fn resolve(
    db: &impl ConnectionTrait,
    ws: WorkspaceId,
    pairs: &[(String, String)],
) -> Result<Vec<((String, String), ContactId)>, StoreError> {
    let mut out = Vec::new();
    for (source, ids) in by_source(pairs) {
        for chunk in ids.chunks(CHUNK) {
            let mut q = Query::select();
            q.columns(["external_id", "contact_id"].map(Alias::new))
                .from(Alias::new(TABLE))
                .cond_where(keys(ws, source, chunk));
            for row in db.query_all(&q).await? {
                let id: String = row.try_get("", "external_id")?;
                let contact: Uuid = row.try_get("", "contact_id")?;
                out.push(((source.to_owned(), id), ContactId::from_uuid(contact)));
            }
        }
    }
    Ok(out)
}

/// `(source, external id)` pairs grouped by source: look-ups by external id run one
/// statement per source, a range of a `(workspace, source, external id)` key.
pub(crate) fn by_source(pairs: &[(String, String)]) -> BTreeMap<&str, Vec<&str>> {
    let mut grouped: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for (s, i) in pairs {
        grouped.entry(s.as_str()).or_default().push(i.as_str());
    }
    grouped
}

/// The aliases of some external ids of one source: a range of the primary key.
fn keys(ws: WorkspaceId, source: &str, ids: &[&str]) -> Condition {
    Condition::all()
        .add(Expr::col(Alias::new("workspace_id")).eq(ws.uuid()))
        .add(Expr::col(Alias::new("source")).eq(source))
        .add(Expr::col(Alias::new("external_id")).is_in(ids.iter().copied()))
}

/// Removes the aliases of pairs a contact has just been given: the holder owns the id
/// from then on, and letting it go later does not hand it back to a merge survivor.
pub async fn release(db: &impl ConnectionTrait, ws: WorkspaceId, pairs: &[(String, String)]) -> Result<(), StoreError> {
    for (source, ids) in by_source(pairs) {
        for chunk in ids.chunks(CHUNK) {
            let mut q = Query::delete();
            q.from_table(Alias::new(TABLE)).cond_where(keys(ws, source, chunk));
            db.execute(&q).await?;
        }
    }
    Ok(())
}

/// The aliases of one contact, as `(source, external id)` pairs.
pub async fn of_contact(
    db: &impl ConnectionTrait,
    ws: WorkspaceId,
    id: ContactId,
) -> Result<Vec<(String, String)>, StoreError> {
    let mut q = Query::select();
    q.columns(["source", "external_id"].map(Alias::new))
        .from(Alias::new(TABLE))
        .and_where(Expr::col(Alias::new("workspace_id")).eq(ws.uuid()))
        .and_where(Expr::col(Alias::new("contact_id")).eq(id.uuid()))
        .order_by(Alias::new("source"), sea_orm::sea_query::Order::Asc)
        .order_by(Alias::new("external_id"), sea_orm::sea_query::Order::Asc);
    db.query_all(&q)
        .await?
        .into_iter()
        .map(|row| Ok((row.try_get("", "source")?, row.try_get("", "external_id")?)))
        .collect()
}

/// Removes every alias of a contact (its erasure: the ids identify the person).
pub async fn forget(db: &impl ConnectionTrait, ws: WorkspaceId, id: ContactId) -> Result<(), StoreError> {
    let mut q = Query::delete();
    q.from_table(Alias::new(TABLE))
        .and_where(Expr::col(Alias::new("workspace_id")).eq(ws.uuid()))
        .and_where(Expr::col(Alias::new("contact_id")).eq(id.uuid()));
    db.execute(&q).await?;
    Ok(())
}
