//! Segments repository: definitions, and (in [`members`]) their membership.

use chrono::{DateTime, Utc};
use rapport_domain::segment::{Segment, SegmentKind};
use rapport_domain::{SegmentId, WorkspaceId};
use sea_orm::{ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
use uuid::Uuid;

use crate::entity::segment;
use crate::error::StoreError;
use crate::page::Page;

pub mod members;
mod sql;

pub use members::{Membership, Refreshed};

impl TryFrom<segment::Model> for Segment {
    type Error = StoreError;

    fn try_from(m: segment::Model) -> Result<Self, StoreError> {
        Ok(Segment {
            id: SegmentId::from_uuid(m.id),
            workspace_id: WorkspaceId::from_uuid(m.workspace_id),
            name: m.name,
            description: m.description,
            kind: SegmentKind::parse(&m.kind).ok_or_else(|| StoreError::corrupt(format!("segment kind {}", m.kind)))?,
            rules: m.rules,
            version: m.version,
            created_at: m.created_at,
            updated_at: m.updated_at,
            refreshed_at: m.refreshed_at,
        })
    }
}

fn active(s: &Segment) -> segment::ActiveModel {
    segment::ActiveModel {
        workspace_id: Set(s.workspace_id.uuid()),
        id: Set(s.id.uuid()),
        name: Set(s.name.clone()),
        description: Set(s.description.clone()),
        kind: Set(s.kind.as_str().to_owned()),
        rules: Set(s.rules.clone()),
        version: Set(s.version),
        created_at: Set(s.created_at),
        updated_at: Set(s.updated_at),
        refreshed_at: Set(s.refreshed_at),
    }
}

fn by_ws(ws: WorkspaceId) -> sea_orm::Select<segment::Entity> {
    segment::Entity::find().filter(segment::Column::WorkspaceId.eq(ws.uuid()))
}

/// Saves a new segment.
pub async fn insert(db: &impl ConnectionTrait, s: &Segment) -> Result<(), StoreError> {
    segment::Entity::insert(active(s)).exec_without_returning(db).await?;
    crate::workspaces::bump_rules(db, s.workspace_id).await
}

/// One segment of the workspace.
/// # Errors
/// `NotFound` when it does not exist in `ws`.
pub async fn get(db: &impl ConnectionTrait, ws: WorkspaceId, id: SegmentId) -> Result<Segment, StoreError> {
    by_ws(ws)
        .filter(segment::Column::Id.eq(id.uuid()))
        .one(db)
        .await?
        .ok_or(StoreError::NotFound)?
        .try_into()
}

/// One segment, locked for the rest of the transaction: membership changes to one
/// segment are serialised by it.
/// # Errors
/// `NotFound` when it does not exist in `ws`.
pub async fn get_for_update(db: &impl ConnectionTrait, ws: WorkspaceId, id: SegmentId) -> Result<Segment, StoreError> {
    by_ws(ws)
        .filter(segment::Column::Id.eq(id.uuid()))
        .lock_exclusive()
        .one(db)
        .await?
        .ok_or(StoreError::NotFound)?
        .try_into()
}

/// Writes a changed segment if its version is still `expected_version`.
/// # Errors
/// `Stale` when another write changed it first.
pub async fn update(db: &impl ConnectionTrait, after: &Segment, expected_version: i64) -> Result<(), StoreError> {
    let mut am = active(after);
    am.workspace_id = sea_orm::ActiveValue::NotSet;
    am.id = sea_orm::ActiveValue::NotSet;
    am.created_at = sea_orm::ActiveValue::NotSet;
    let r = segment::Entity::update_many()
        .set(am)
        .filter(segment::Column::WorkspaceId.eq(after.workspace_id.uuid()))
        .filter(segment::Column::Id.eq(after.id.uuid()))
        .filter(segment::Column::Version.eq(expected_version))
        .exec(db)
        .await?;
    if r.rows_affected == 0 {
        return Err(StoreError::Stale);
    }
    crate::workspaces::bump_rules(db, after.workspace_id).await
}

/// Records when a segment's membership was last reconciled in full.
pub async fn mark_refreshed(
    db: &impl ConnectionTrait,
    ws: WorkspaceId,
    id: SegmentId,
    at: DateTime<Utc>,
) -> Result<(), StoreError> {
    segment::Entity::update_many()
        .col_expr(segment::Column::RefreshedAt, sea_orm::sea_query::Expr::value(at))
        .filter(segment::Column::WorkspaceId.eq(ws.uuid()))
        .filter(segment::Column::Id.eq(id.uuid()))
        .exec(db)
        .await?;
    Ok(())
}

/// Deletes a segment with its membership and history.
/// # Errors
/// `NotFound` when it does not exist in `ws`.
pub async fn delete(db: &impl ConnectionTrait, ws: WorkspaceId, id: SegmentId) -> Result<(), StoreError> {
    let r = segment::Entity::delete_many()
        .filter(segment::Column::WorkspaceId.eq(ws.uuid()))
        .filter(segment::Column::Id.eq(id.uuid()))
        .exec(db)
        .await?;
    if r.rows_affected == 0 {
        return Err(StoreError::NotFound);
    }
    crate::workspaces::bump_rules(db, ws).await
}

/// One page of the workspace's segments in creation order, optionally of one kind.
pub async fn list(
    db: &impl ConnectionTrait,
    ws: WorkspaceId,
    kind: Option<SegmentKind>,
    after: Option<Uuid>,
    limit: u64,
) -> Result<Page<Segment>, StoreError> {
    let mut q = by_ws(ws);
    if let Some(k) = kind {
        q = q.filter(segment::Column::Kind.eq(k.as_str()));
    }
    if let Some(a) = after {
        q = q.filter(segment::Column::Id.gt(a));
    }
    let rows = q.order_by_asc(segment::Column::Id).limit(limit + 1).all(db).await?;
    let rows = rows.into_iter().map(Segment::try_from).collect::<Result<Vec<_>, _>>()?;
    Ok(Page::from_rows(rows, limit))
}

/// Every segment of the workspace of one kind (membership upkeep reads the dynamic ones).
pub async fn all_of_kind(
    db: &impl ConnectionTrait,
    ws: WorkspaceId,
    kind: SegmentKind,
) -> Result<Vec<Segment>, StoreError> {
    by_ws(ws)
        .filter(segment::Column::Kind.eq(kind.as_str()))
        .order_by_asc(segment::Column::Id)
        .all(db)
        .await?
        .into_iter()
        .map(Segment::try_from)
        .collect()
}

/// Dynamic segments of every workspace, for the periodic refresh.
pub async fn all_dynamic(db: &impl ConnectionTrait) -> Result<Vec<Segment>, StoreError> {
    segment::Entity::find()
        .filter(segment::Column::Kind.eq(SegmentKind::Dynamic.as_str()))
        .order_by_asc(segment::Column::WorkspaceId)
        .order_by_asc(segment::Column::Id)
        .all(db)
        .await?
        .into_iter()
        .map(Segment::try_from)
        .collect()
}

/// Segments by id (missing ids skipped).
pub async fn get_many(
    db: &impl ConnectionTrait,
    ws: WorkspaceId,
    ids: &[SegmentId],
) -> Result<Vec<Segment>, StoreError> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    by_ws(ws)
        .filter(segment::Column::Id.is_in(ids.iter().map(|i| i.uuid())))
        .all(db)
        .await?
        .into_iter()
        .map(Segment::try_from)
        .collect()
}

/// The rules of every segment of the workspace that names `field` (for refusing to drop
/// a definition a rule depends on). Rules are small and segments few per workspace.
pub async fn naming_field(db: &impl ConnectionTrait, ws: WorkspaceId, field: &str) -> Result<Vec<Segment>, StoreError> {
    let all = by_ws(ws)
        .filter(segment::Column::Rules.is_not_null())
        .all(db)
        .await?
        .into_iter()
        .map(Segment::try_from)
        .collect::<Result<Vec<_>, _>>()?;
    Ok(all
        .into_iter()
        .filter(|s| s.rules.as_ref().is_some_and(|r| names_field(r, field)))
        .collect())
}

fn names_field(v: &serde_json::Value, field: &str) -> bool {
    match v {
        serde_json::Value::Object(o) => {
            o.get("field").and_then(|f| f.as_str()) == Some(field) || o.values().any(|x| names_field(x, field))
        }
        serde_json::Value::Array(a) => a.iter().any(|x| names_field(x, field)),
        _ => false,
    }
}
