//! Workspaces: the tenants.

use chrono::{DateTime, Utc};
use rapport_domain::WorkspaceId;
use sea_orm::{ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder};

use crate::entity::workspace;
use crate::error::StoreError;

/// A workspace.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Workspace {
    pub id: WorkspaceId,
    pub name: String,
    pub created_at: DateTime<Utc>,
    /// Days without a purchase after which a customer counts as churned.
    pub churn_after_days: u32,
}

/// The churn window of a new workspace, in days.
pub const DEFAULT_CHURN_AFTER_DAYS: u32 = 180;

impl From<workspace::Model> for Workspace {
    fn from(m: workspace::Model) -> Self {
        Self {
            id: WorkspaceId::from_uuid(m.id),
            name: m.name,
            created_at: m.created_at,
            churn_after_days: u32::try_from(m.churn_after_days).unwrap_or(DEFAULT_CHURN_AFTER_DAYS),
        }
    }
}

/// Creates a workspace.
pub async fn create(db: &impl ConnectionTrait, name: &str) -> Result<Workspace, StoreError> {
    let w = Workspace {
        id: WorkspaceId::new(),
        name: name.to_owned(),
        created_at: crate::now(),
        churn_after_days: DEFAULT_CHURN_AFTER_DAYS,
    };
    workspace::Entity::insert(workspace::ActiveModel {
        id: Set(w.id.uuid()),
        name: Set(w.name.clone()),
        created_at: Set(w.created_at),
        churn_after_days: Set(i32::try_from(w.churn_after_days).unwrap_or(i32::MAX)),
        rules_rev: Set(0),
    })
    .exec_without_returning(db)
    .await?;
    crate::consent::create_defaults(db, w.id, w.created_at).await?;
    Ok(w)
}

/// One workspace.
/// # Errors
/// `NotFound` when there is none with this id.
pub async fn get(db: &impl ConnectionTrait, id: WorkspaceId) -> Result<Workspace, StoreError> {
    workspace::Entity::find_by_id(id.uuid())
        .one(db)
        .await?
        .map(Workspace::from)
        .ok_or(StoreError::NotFound)
}

/// The oldest workspace, if any.
pub async fn first(db: &impl ConnectionTrait) -> Result<Option<Workspace>, StoreError> {
    Ok(workspace::Entity::find()
        .order_by_asc(workspace::Column::CreatedAt)
        .order_by_asc(workspace::Column::Id)
        .one(db)
        .await?
        .map(Workspace::from))
}

/// Sets a workspace's churn window.
/// # Errors
/// `NotFound` when there is no such workspace.
pub async fn set_churn_after_days(
    db: &impl ConnectionTrait,
    id: WorkspaceId,
    days: u32,
) -> Result<Workspace, StoreError> {
    let r = workspace::Entity::update_many()
        .col_expr(
            workspace::Column::ChurnAfterDays,
            sea_orm::sea_query::Expr::value(i32::try_from(days).unwrap_or(i32::MAX)),
        )
        .filter(workspace::Column::Id.eq(id.uuid()))
        .exec(db)
        .await?;
    if r.rows_affected == 0 {
        return Err(StoreError::NotFound);
    }
    get(db, id).await
}

/// Every workspace with its churn window (for the periodic churn check).
pub async fn all(db: &impl ConnectionTrait) -> Result<Vec<Workspace>, StoreError> {
    Ok(workspace::Entity::find()
        .order_by_asc(workspace::Column::Id)
        .all(db)
        .await?
        .into_iter()
        .map(Workspace::from)
        .collect())
}

/// Counts a change to what segment rules depend on (segments, attribute definitions,
/// consent purposes), in the changing transaction. The row lock this takes orders the
/// changes of one workspace, so the revision a reader sees always names the state it
/// reads (unlike timestamps, which commit out of order).
pub async fn bump_rules(db: &impl ConnectionTrait, ws: WorkspaceId) -> Result<(), StoreError> {
    workspace::Entity::update_many()
        .col_expr(
            workspace::Column::RulesRev,
            sea_orm::sea_query::ExprTrait::add(sea_orm::sea_query::Expr::col(workspace::Column::RulesRev), 1),
        )
        .filter(workspace::Column::Id.eq(ws.uuid()))
        .exec(db)
        .await?;
    Ok(())
}

/// The workspace's rules revision (see [`bump_rules`]); 0 for an unknown workspace.
pub async fn rules_rev(db: &impl ConnectionTrait, ws: WorkspaceId) -> Result<i64, StoreError> {
    use sea_orm::QuerySelect;
    Ok(workspace::Entity::find()
        .select_only()
        .column(workspace::Column::RulesRev)
        .filter(workspace::Column::Id.eq(ws.uuid()))
        .into_tuple::<i64>()
        .one(db)
        .await?
        .unwrap_or(0))
}
