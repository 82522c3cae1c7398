//! Attribute definitions repository.

use rapport_domain::attributes::{AttributeDefinition, AttributeEntity, AttributeSchema, AttributeType};
use rapport_domain::{AttributeDefinitionId, WorkspaceId};
use sea_orm::sea_query::{Alias, Expr, ExprTrait, Query};
use sea_orm::{
    ActiveValue::{NotSet, Set},
    ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder,
};
use serde_json::Value;

use crate::entity::attribute_definition as def;
use crate::error::StoreError;

impl TryFrom<def::Model> for AttributeDefinition {
    type Error = StoreError;

    fn try_from(m: def::Model) -> Result<Self, StoreError> {
        Ok(AttributeDefinition {
            id: AttributeDefinitionId::from_uuid(m.id),
            entity: AttributeEntity::parse(&m.entity).ok_or_else(|| StoreError::corrupt(&m.entity))?,
            key: m.key,
            label: m.label,
            description: m.description,
            kind: AttributeType::parse(&m.kind).ok_or_else(|| StoreError::corrupt(&m.kind))?,
            options: serde_json::from_value(m.options).map_err(StoreError::corrupt)?,
            version: m.version,
            created_at: m.created_at,
            updated_at: m.updated_at,
        })
    }
}

fn active(ws: WorkspaceId, d: &AttributeDefinition) -> def::ActiveModel {
    def::ActiveModel {
        workspace_id: Set(ws.uuid()),
        id: Set(d.id.uuid()),
        entity: Set(d.entity.as_str().to_owned()),
        key: Set(d.key.clone()),
        label: Set(d.label.clone()),
        description: Set(d.description.clone()),
        kind: Set(d.kind.as_str().to_owned()),
        options: Set(Value::from(d.options.clone())),
        version: Set(d.version),
        created_at: Set(d.created_at),
        updated_at: Set(d.updated_at),
    }
}

/// Every definition of the workspace, optionally of one entity, ordered by entity and key.
pub async fn list(
    db: &impl ConnectionTrait,
    ws: WorkspaceId,
    entity: Option<AttributeEntity>,
) -> Result<Vec<AttributeDefinition>, StoreError> {
    let mut q = def::Entity::find().filter(def::Column::WorkspaceId.eq(ws.uuid()));
    if let Some(e) = entity {
        q = q.filter(def::Column::Entity.eq(e.as_str()));
    }
    q.order_by_asc(def::Column::Entity)
        .order_by_asc(def::Column::Key)
        .all(db)
        .await?
        .into_iter()
        .map(AttributeDefinition::try_from)
        .collect()
}

/// The schema writes of `entity` records are validated against.
pub async fn schema(
    db: &impl ConnectionTrait,
    ws: WorkspaceId,
    entity: AttributeEntity,
) -> Result<AttributeSchema, StoreError> {
    Ok(AttributeSchema::new(list(db, ws, Some(entity)).await?))
}

/// One definition.
/// # Errors
/// `NotFound` when it does not exist in `ws`.
pub async fn get(
    db: &impl ConnectionTrait,
    ws: WorkspaceId,
    id: AttributeDefinitionId,
) -> Result<AttributeDefinition, StoreError> {
    def::Entity::find_by_id((ws.uuid(), id.uuid()))
        .one(db)
        .await?
        .ok_or(StoreError::NotFound)?
        .try_into()
}

/// Counts the definitions of one entity (to enforce the per-workspace limit).
pub async fn count(db: &impl ConnectionTrait, ws: WorkspaceId, entity: AttributeEntity) -> Result<u64, StoreError> {
    use sea_orm::PaginatorTrait;
    Ok(def::Entity::find()
        .filter(def::Column::WorkspaceId.eq(ws.uuid()))
        .filter(def::Column::Entity.eq(entity.as_str()))
        .count(db)
        .await?)
}

/// Inserts a definition.
/// # Errors
/// `Conflict` naming the existing definition when the key is taken for that entity.
pub async fn insert(db: &impl ConnectionTrait, ws: WorkspaceId, d: &AttributeDefinition) -> Result<(), StoreError> {
    let existing = def::Entity::find()
        .filter(def::Column::WorkspaceId.eq(ws.uuid()))
        .filter(def::Column::Entity.eq(d.entity.as_str()))
        .filter(def::Column::Key.eq(d.key.clone()))
        .one(db)
        .await?;
    if let Some(e) = existing {
        return Err(StoreError::Conflict {
            field: "key",
            existing: Some(e.id),
        });
    }
    def::Entity::insert(active(ws, d)).exec_without_returning(db).await?;
    crate::workspaces::bump_rules(db, ws).await
}

/// Writes a changed definition, provided it is still at `expected_version`.
/// # Errors
/// `Stale` when it changed meanwhile.
pub async fn update(
    db: &impl ConnectionTrait,
    ws: WorkspaceId,
    d: &AttributeDefinition,
    expected_version: i64,
) -> Result<(), StoreError> {
    let mut am = active(ws, d);
    am.workspace_id = NotSet;
    am.id = NotSet;
    let res = def::Entity::update_many()
        .set(am)
        .filter(def::Column::WorkspaceId.eq(ws.uuid()))
        .filter(def::Column::Id.eq(d.id.uuid()))
        .filter(def::Column::Version.eq(expected_version))
        .exec(db)
        .await?;
    if res.rows_affected == 0 {
        return Err(StoreError::Stale);
    }
    crate::workspaces::bump_rules(db, ws).await
}

/// Deletes a definition.
/// # Errors
/// `NotFound` when it does not exist in `ws`.
pub async fn delete(db: &impl ConnectionTrait, ws: WorkspaceId, id: AttributeDefinitionId) -> Result<(), StoreError> {
    let res = def::Entity::delete_by_id((ws.uuid(), id.uuid())).exec(db).await?;
    if res.rows_affected == 0 {
        return Err(StoreError::NotFound);
    }
    crate::workspaces::bump_rules(db, ws).await
}

/// The SQL expression reading one attribute as text. `key` has been validated to
/// `[a-z][a-z0-9_]*`, so it is safe inside the JSON path.
fn attribute_text(backend: sea_orm::DbBackend, key: &str) -> String {
    match backend {
        sea_orm::DbBackend::Postgres => format!("attributes ->> '{key}'"),
        _ => format!("json_extract(attributes, '$.{key}')"),
    }
}

/// Whether any record of `entity` holds attribute `key` (with one of `values`, when
/// given). Definitions in use cannot be deleted, nor enum options in use dropped.
pub async fn in_use(
    db: &impl ConnectionTrait,
    ws: WorkspaceId,
    entity: AttributeEntity,
    key: &str,
    values: Option<&[String]>,
) -> Result<bool, StoreError> {
    let table = match entity {
        AttributeEntity::Contact => "contacts",
        AttributeEntity::Company => "companies",
    };
    let backend = db.get_database_backend();
    let expr = attribute_text(backend, key);
    let mut q = Query::select();
    q.expr(Expr::val(1))
        .from(Alias::new(table))
        .and_where(Expr::col(Alias::new("workspace_id")).eq(ws.uuid()))
        .and_where(Expr::cust(expr.clone()).is_not_null())
        .limit(1);
    if let Some(v) = values {
        q.and_where(Expr::cust(expr).is_in(v.iter().cloned()));
    }
    Ok(db.query_one(&q).await?.is_some())
}
