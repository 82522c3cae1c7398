//! Workspaces: the tenants.

use chrono::{DateTime, Utc};
use rapport_domain::WorkspaceId;
use sea_orm::{ActiveValue::Set, ConnectionTrait, EntityTrait, QueryOrder};

use crate::entity::workspace;
use crate::error::StoreError;

/// A workspace.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Workspace {
    pub id: WorkspaceId,
    pub name: String,
    pub created_at: DateTime<Utc>,
}

impl From<workspace::Model> for Workspace {
    fn from(m: workspace::Model) -> Self {
        Self {
            id: WorkspaceId::from_uuid(m.id),
            name: m.name,
            created_at: m.created_at,
        }
    }
}

/// Creates a workspace.
pub async fn create(db: &impl ConnectionTrait, name: &str) -> Result<Workspace, StoreError> {
    let w = Workspace {
        id: WorkspaceId::new(),
        name: name.to_owned(),
        created_at: crate::now(),
    };
    workspace::Entity::insert(workspace::ActiveModel {
        id: Set(w.id.uuid()),
        name: Set(w.name.clone()),
        created_at: Set(w.created_at),
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
