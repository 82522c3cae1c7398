//! Connectors: the shops and ERP systems that push signed changes in.

use chrono::{DateTime, Utc};
use rapport_domain::WorkspaceId;
use sea_orm::{ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder};
use uuid::Uuid;

use crate::entity::connector as cn;
use crate::error::StoreError;

/// A registered connector.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Connector {
    pub workspace_id: WorkspaceId,
    pub id: Uuid,
    pub name: String,
    /// `whsec_…`: pushes are signed with it.
    pub secret: String,
    pub previous_secret: Option<String>,
    pub previous_until: Option<DateTime<Utc>>,
    pub enabled: bool,
    pub version: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl Connector {
    /// The secrets a push may be signed with at `now`.
    pub fn secrets(&self, now: DateTime<Utc>) -> Vec<&str> {
        rapport_domain::webhook::secrets_in_force(
            &self.secret,
            self.previous_secret.as_deref(),
            self.previous_until,
            now,
        )
    }
}

impl From<cn::Model> for Connector {
    fn from(m: cn::Model) -> Self {
        Self {
            workspace_id: WorkspaceId::from_uuid(m.workspace_id),
            id: m.id,
            name: m.name,
            secret: m.secret,
            previous_secret: m.previous_secret,
            previous_until: m.previous_until,
            enabled: m.enabled,
            version: m.version,
            created_at: m.created_at,
            updated_at: m.updated_at,
        }
    }
}

fn row(c: &Connector) -> cn::ActiveModel {
    cn::ActiveModel {
        workspace_id: Set(c.workspace_id.uuid()),
        id: Set(c.id),
        name: Set(c.name.clone()),
        secret: Set(c.secret.clone()),
        previous_secret: Set(c.previous_secret.clone()),
        previous_until: Set(c.previous_until),
        enabled: Set(c.enabled),
        version: Set(c.version),
        created_at: Set(c.created_at),
        updated_at: Set(c.updated_at),
    }
}

/// Inserts a connector.
/// # Errors
/// `Conflict` when the name is taken in the workspace.
pub async fn insert(db: &impl ConnectionTrait, c: &Connector) -> Result<(), StoreError> {
    cn::Entity::insert(row(c))
        .exec_without_returning(db)
        .await
        .map_err(|e| match StoreError::from(e) {
            StoreError::Conflict { existing, .. } => StoreError::Conflict {
                field: "name",
                existing,
            },
            other => other,
        })?;
    Ok(())
}

/// One connector of the workspace.
/// # Errors
/// `NotFound`.
pub async fn get(db: &impl ConnectionTrait, ws: WorkspaceId, id: Uuid) -> Result<Connector, StoreError> {
    cn::Entity::find_by_id((ws.uuid(), id))
        .one(db)
        .await?
        .map(Connector::from)
        .ok_or(StoreError::NotFound)
}

/// The connector with this id in whichever workspace: a push names only the connector,
/// and its signature proves it.
pub async fn find(db: &impl ConnectionTrait, id: Uuid) -> Result<Option<Connector>, StoreError> {
    Ok(cn::Entity::find()
        .filter(cn::Column::Id.eq(id))
        .one(db)
        .await?
        .map(Connector::from))
}

/// The workspace's connectors by name.
pub async fn list(db: &impl ConnectionTrait, ws: WorkspaceId) -> Result<Vec<Connector>, StoreError> {
    Ok(cn::Entity::find()
        .filter(cn::Column::WorkspaceId.eq(ws.uuid()))
        .order_by_asc(cn::Column::Name)
        .all(db)
        .await?
        .into_iter()
        .map(Connector::from)
        .collect())
}

/// Writes `after` over `before` unless it changed in between.
/// # Errors
/// `Stale`.
pub async fn update(db: &impl ConnectionTrait, before: &Connector, after: &Connector) -> Result<(), StoreError> {
    let res = cn::Entity::update_many()
        .set(row(after))
        .filter(cn::Column::WorkspaceId.eq(before.workspace_id.uuid()))
        .filter(cn::Column::Id.eq(before.id))
        .filter(cn::Column::Version.eq(before.version))
        .exec(db)
        .await?;
    if res.rows_affected == 0 {
        return Err(StoreError::Stale);
    }
    Ok(())
}

/// Deletes a connector.
/// # Errors
/// `NotFound`.
pub async fn delete(db: &impl ConnectionTrait, ws: WorkspaceId, id: Uuid) -> Result<(), StoreError> {
    let res = cn::Entity::delete_by_id((ws.uuid(), id)).exec(db).await?;
    if res.rows_affected == 0 {
        return Err(StoreError::NotFound);
    }
    Ok(())
}
