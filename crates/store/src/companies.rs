//! Companies repository.

use rapport_domain::company::Company;
use rapport_domain::{CompanyId, WorkspaceId};
use sea_orm::{
    ActiveValue::{NotSet, Set},
    ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QuerySelect,
};
use serde_json::Value;

use crate::entity::company;
use crate::error::StoreError;
use crate::page::{After, Order, Page, contains_pattern, keyset};

/// Filters for listing companies.
#[derive(Clone, Debug, Default)]
pub struct CompanyFilter {
    pub domain: Option<String>,
    /// Matches names containing this text, case-insensitively.
    pub q: Option<String>,
    pub updated_since: Option<chrono::DateTime<chrono::Utc>>,
}

impl TryFrom<company::Model> for Company {
    type Error = StoreError;

    fn try_from(m: company::Model) -> Result<Self, StoreError> {
        Ok(Company {
            id: CompanyId::from_uuid(m.id),
            workspace_id: WorkspaceId::from_uuid(m.workspace_id),
            name: m.name,
            domain: m.domain,
            industry: m.industry,
            size: m.size,
            attributes: serde_json::from_value(m.attributes).map_err(StoreError::corrupt)?,
            version: m.version,
            created_at: m.created_at,
            updated_at: m.updated_at,
        })
    }
}

fn active(c: &Company) -> company::ActiveModel {
    company::ActiveModel {
        workspace_id: Set(c.workspace_id.uuid()),
        id: Set(c.id.uuid()),
        name: Set(c.name.clone()),
        name_key: Set(c.name.to_lowercase()),
        domain: Set(c.domain.clone()),
        industry: Set(c.industry.clone()),
        size: Set(c.size),
        attributes: Set(Value::Object(c.attributes.clone())),
        version: Set(c.version),
        created_at: Set(c.created_at),
        updated_at: Set(c.updated_at),
    }
}

fn by_ws(ws: WorkspaceId) -> sea_orm::Select<company::Entity> {
    company::Entity::find().filter(company::Column::WorkspaceId.eq(ws.uuid()))
}

/// One company.
/// # Errors
/// `NotFound` when it does not exist in `ws`.
pub async fn get(db: &impl ConnectionTrait, ws: WorkspaceId, id: CompanyId) -> Result<Company, StoreError> {
    by_ws(ws)
        .filter(company::Column::Id.eq(id.uuid()))
        .one(db)
        .await?
        .ok_or(StoreError::NotFound)?
        .try_into()
}

/// One company, locked for the rest of the transaction.
/// # Errors
/// `NotFound` when it does not exist in `ws`.
pub async fn get_for_update(db: &impl ConnectionTrait, ws: WorkspaceId, id: CompanyId) -> Result<Company, StoreError> {
    by_ws(ws)
        .filter(company::Column::Id.eq(id.uuid()))
        .lock_exclusive()
        .one(db)
        .await?
        .ok_or(StoreError::NotFound)?
        .try_into()
}

/// Whether a company exists in the workspace (checked before a contact links to it).
pub async fn exists(db: &impl ConnectionTrait, ws: WorkspaceId, id: CompanyId) -> Result<bool, StoreError> {
    Ok(by_ws(ws)
        .select_only()
        .column(company::Column::Id)
        .filter(company::Column::Id.eq(id.uuid()))
        .into_tuple::<uuid::Uuid>()
        .one(db)
        .await?
        .is_some())
}

/// Which of these companies exist in the workspace.
pub async fn existing(
    db: &impl ConnectionTrait,
    ws: WorkspaceId,
    ids: &[CompanyId],
) -> Result<std::collections::HashSet<CompanyId>, StoreError> {
    let mut out = std::collections::HashSet::new();
    for chunk in ids.chunks(500) {
        let found = by_ws(ws)
            .select_only()
            .column(company::Column::Id)
            .filter(company::Column::Id.is_in(chunk.iter().map(|i| i.uuid())))
            .into_tuple::<uuid::Uuid>()
            .all(db)
            .await?;
        out.extend(found.into_iter().map(CompanyId::from_uuid));
    }
    Ok(out)
}

/// Several companies by id (missing ids are skipped).
pub async fn get_many(
    db: &impl ConnectionTrait,
    ws: WorkspaceId,
    ids: &[CompanyId],
) -> Result<Vec<Company>, StoreError> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    by_ws(ws)
        .filter(company::Column::Id.is_in(ids.iter().map(|i| i.uuid())))
        .all(db)
        .await?
        .into_iter()
        .map(Company::try_from)
        .collect()
}

async fn check_domain(db: &impl ConnectionTrait, c: &Company) -> Result<(), StoreError> {
    if let Some(d) = &c.domain {
        let holder = by_ws(c.workspace_id)
            .filter(company::Column::Domain.eq(d.clone()))
            .filter(company::Column::Id.ne(c.id.uuid()))
            .one(db)
            .await?;
        if let Some(h) = holder {
            return Err(StoreError::Conflict {
                field: "domain",
                existing: Some(h.id),
            });
        }
    }
    Ok(())
}

/// Inserts a company.
/// # Errors
/// `Conflict` naming the holder when its domain is taken.
pub async fn insert(db: &impl ConnectionTrait, c: &Company) -> Result<(), StoreError> {
    check_domain(db, c).await?;
    company::Entity::insert(active(c)).exec_without_returning(db).await?;
    Ok(())
}

/// Inserts many new companies (domains checked unique by the caller) in multi-row
/// statements.
/// # Errors
/// `Conflict` on a unique violation, `Db` otherwise.
pub async fn insert_many(db: &impl ConnectionTrait, new: &[Company]) -> Result<(), StoreError> {
    let size = |c: &Company| c.name.len() * 2 + c.domain.as_ref().map_or(0, String::len) + 300;
    crate::page::insert_sized(db, new, size, active).await?;
    Ok(())
}

/// Writes `after`, provided the stored version is still `expected_version`.
/// # Errors
/// `Stale` when it changed meanwhile; `Conflict` when the domain is taken.
pub async fn update(db: &impl ConnectionTrait, after: &Company, expected_version: i64) -> Result<(), StoreError> {
    check_domain(db, after).await?;
    let mut am = active(after);
    am.workspace_id = NotSet;
    am.id = NotSet;
    am.created_at = NotSet;
    let res = company::Entity::update_many()
        .set(am)
        .filter(company::Column::WorkspaceId.eq(after.workspace_id.uuid()))
        .filter(company::Column::Id.eq(after.id.uuid()))
        .filter(company::Column::Version.eq(expected_version))
        .exec(db)
        .await?;
    if res.rows_affected == 0 {
        return Err(StoreError::Stale);
    }
    Ok(())
}

/// Deletes a company (its contacts must have been unlinked first).
/// # Errors
/// `NotFound` when it does not exist in `ws`.
pub async fn delete(db: &impl ConnectionTrait, ws: WorkspaceId, id: CompanyId) -> Result<(), StoreError> {
    let res = company::Entity::delete_by_id((ws.uuid(), id.uuid())).exec(db).await?;
    if res.rows_affected == 0 {
        return Err(StoreError::NotFound);
    }
    Ok(())
}

/// One page of companies.
pub async fn list(
    db: &impl ConnectionTrait,
    ws: WorkspaceId,
    filter: &CompanyFilter,
    order: Order,
    after: Option<&After>,
    limit: u64,
) -> Result<Page<Company>, StoreError> {
    use company::Column as C;
    let mut q = by_ws(ws);
    if let Some(d) = &filter.domain {
        q = q.filter(C::Domain.eq(d.to_lowercase()));
    }
    if let Some(text) = &filter.q {
        q = q.filter(C::NameKey.like(contains_pattern(text)));
    }
    if let Some(t) = filter.updated_since {
        q = q.filter(C::UpdatedAt.gte(t));
    }
    q = keyset(q, C::Id, C::UpdatedAt, order, after);
    let rows = q.limit(limit + 1).all(db).await?;
    let rows = rows.into_iter().map(Company::try_from).collect::<Result<Vec<_>, _>>()?;
    Ok(Page::from_rows(rows, limit))
}
