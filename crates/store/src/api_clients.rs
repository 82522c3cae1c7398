//! API clients: OAuth2 client-credentials identities, with hashed secrets.

use chrono::{DateTime, Utc};
use rapport_domain::scope::ScopeSet;
use rapport_domain::{ApiClientId, WorkspaceId};
use sea_orm::{ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder};

use crate::entity::api_client;
use crate::error::StoreError;

/// An API client (its secret is never read back, only its hash).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApiClient {
    pub id: ApiClientId,
    pub workspace_id: WorkspaceId,
    pub name: String,
    pub scopes: ScopeSet,
    pub created_at: DateTime<Utc>,
    pub revoked_at: Option<DateTime<Utc>>,
}

impl From<&api_client::Model> for ApiClient {
    fn from(m: &api_client::Model) -> Self {
        Self {
            id: ApiClientId::from_uuid(m.id),
            workspace_id: WorkspaceId::from_uuid(m.workspace_id),
            name: m.name.clone(),
            scopes: ScopeSet::parse_lenient(&m.scopes),
            created_at: m.created_at,
            revoked_at: m.revoked_at,
        }
    }
}

/// Stores a new client with the hash of its secret.
pub async fn insert(db: &impl ConnectionTrait, c: &ApiClient, secret_hash: &str) -> Result<(), StoreError> {
    api_client::Entity::insert(api_client::ActiveModel {
        workspace_id: Set(c.workspace_id.uuid()),
        id: Set(c.id.uuid()),
        name: Set(c.name.clone()),
        secret_hash: Set(secret_hash.to_owned()),
        scopes: Set(c.scopes.to_string()),
        created_at: Set(c.created_at),
        revoked_at: Set(c.revoked_at),
    })
    .exec_without_returning(db)
    .await?;
    Ok(())
}

/// A client and its secret hash, looked up by client id alone: the token endpoint is
/// where a caller proves which workspace it belongs to.
pub async fn find_for_authentication(
    db: &impl ConnectionTrait,
    id: ApiClientId,
) -> Result<Option<(ApiClient, String)>, StoreError> {
    Ok(api_client::Entity::find()
        .filter(api_client::Column::Id.eq(id.uuid()))
        .one(db)
        .await?
        .map(|m| (ApiClient::from(&m), m.secret_hash)))
}

/// Every client of the workspace, oldest first.
pub async fn list(db: &impl ConnectionTrait, ws: WorkspaceId) -> Result<Vec<ApiClient>, StoreError> {
    Ok(api_client::Entity::find()
        .filter(api_client::Column::WorkspaceId.eq(ws.uuid()))
        .order_by_asc(api_client::Column::Id)
        .all(db)
        .await?
        .iter()
        .map(ApiClient::from)
        .collect())
}

/// One client of the workspace.
/// # Errors
/// `NotFound` when it does not exist in `ws`.
pub async fn get(db: &impl ConnectionTrait, ws: WorkspaceId, id: ApiClientId) -> Result<ApiClient, StoreError> {
    api_client::Entity::find_by_id((ws.uuid(), id.uuid()))
        .one(db)
        .await?
        .as_ref()
        .map(ApiClient::from)
        .ok_or(StoreError::NotFound)
}

/// Revokes a client: its secret stops working and its tokens are refused.
/// # Errors
/// `NotFound` when it does not exist in `ws`.
pub async fn revoke(
    db: &impl ConnectionTrait,
    ws: WorkspaceId,
    id: ApiClientId,
    now: DateTime<Utc>,
) -> Result<ApiClient, StoreError> {
    let current = get(db, ws, id).await?;
    if current.revoked_at.is_some() {
        return Ok(current);
    }
    api_client::Entity::update_many()
        .set(api_client::ActiveModel {
            revoked_at: Set(Some(now)),
            ..Default::default()
        })
        .filter(api_client::Column::WorkspaceId.eq(ws.uuid()))
        .filter(api_client::Column::Id.eq(id.uuid()))
        .exec(db)
        .await?;
    Ok(ApiClient {
        revoked_at: Some(now),
        ..current
    })
}
