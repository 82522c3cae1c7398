//! Orders, identified in their workspace by `(source, external_id)`.

use rapport_domain::order::{Currency, Order, OrderContent, OrderLine, OrderStatus};
use rapport_domain::{ContactId, OrderId, WorkspaceId};
use sea_orm::{ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QuerySelect};
use serde_json::Value;

use crate::entity::order;
use crate::error::StoreError;
use crate::page::{After, Order as ListOrder, Page, Sort, keyset};

impl TryFrom<order::Model> for Order {
    type Error = StoreError;

    fn try_from(m: order::Model) -> Result<Self, StoreError> {
        let status =
            OrderStatus::parse(&m.status).ok_or_else(|| StoreError::corrupt(format!("order status {}", m.status)))?;
        let currency =
            Currency::known(&m.currency).ok_or_else(|| StoreError::corrupt(format!("currency {}", m.currency)))?;
        let lines: Vec<OrderLine> =
            serde_json::from_value(m.lines).map_err(|e| StoreError::corrupt(format!("order lines: {e}")))?;
        let discount_codes: Vec<String> = serde_json::from_value(m.discount_codes)
            .map_err(|e| StoreError::corrupt(format!("discount codes: {e}")))?;
        Ok(Order {
            id: OrderId::from_uuid(m.id),
            workspace_id: WorkspaceId::from_uuid(m.workspace_id),
            contact_id: ContactId::from_uuid(m.contact_id),
            source: m.source,
            external_id: m.external_id,
            content: OrderContent {
                status,
                currency,
                placed_at: m.placed_at,
                lines,
                subtotal: m.subtotal,
                discount_codes,
                discount_total: m.discount_total,
                tax: m.tax,
                shipping: m.shipping,
                total: m.total,
                refunded_total: m.refunded_total,
            },
            version: m.version,
            created_at: m.created_at,
            updated_at: m.updated_at,
        })
    }
}

fn row(o: &Order) -> order::ActiveModel {
    let c = &o.content;
    order::ActiveModel {
        workspace_id: Set(o.workspace_id.uuid()),
        id: Set(o.id.uuid()),
        contact_id: Set(o.contact_id.uuid()),
        source: Set(o.source.clone()),
        external_id: Set(o.external_id.clone()),
        status: Set(c.status.as_str().to_owned()),
        currency: Set(c.currency.code().to_owned()),
        placed_at: Set(c.placed_at),
        lines: Set(serde_json::to_value(&c.lines).unwrap_or(Value::Null)),
        subtotal: Set(c.subtotal),
        discount_codes: Set(Value::from(c.discount_codes.clone())),
        discount_total: Set(c.discount_total),
        tax: Set(c.tax),
        shipping: Set(c.shipping),
        total: Set(c.total),
        refunded_total: Set(c.refunded_total),
        version: Set(o.version),
        created_at: Set(o.created_at),
        updated_at: Set(o.updated_at),
    }
}

fn by_ws(ws: WorkspaceId) -> sea_orm::Select<order::Entity> {
    order::Entity::find().filter(order::Column::WorkspaceId.eq(ws.uuid()))
}

fn convert(rows: Vec<order::Model>) -> Result<Vec<Order>, StoreError> {
    rows.into_iter().map(Order::try_from).collect()
}

/// One order of the workspace.
/// # Errors
/// `NotFound` when it does not exist in `ws`.
pub async fn get(db: &impl ConnectionTrait, ws: WorkspaceId, id: OrderId) -> Result<Order, StoreError> {
    by_ws(ws)
        .filter(order::Column::Id.eq(id.uuid()))
        .one(db)
        .await?
        .ok_or(StoreError::NotFound)?
        .try_into()
}

/// The order a source knows by `external_id`, locked for the rest of the transaction
/// when `lock` (PostgreSQL `FOR UPDATE`; SQLite's write transaction excludes other
/// writers anyway).
pub async fn find_by_external_id(
    db: &impl ConnectionTrait,
    ws: WorkspaceId,
    source: &str,
    external_id: &str,
    lock: bool,
) -> Result<Option<Order>, StoreError> {
    let mut q = by_ws(ws)
        .filter(order::Column::Source.eq(source))
        .filter(order::Column::ExternalId.eq(external_id));
    if lock {
        q = q.lock_exclusive();
    }
    q.one(db).await?.map(Order::try_from).transpose()
}

/// Inserts a new order.
/// # Errors
/// `Conflict` when the source already has an order with this external id.
pub async fn insert(db: &impl ConnectionTrait, o: &Order) -> Result<(), StoreError> {
    order::Entity::insert(row(o)).exec_without_returning(db).await?;
    Ok(())
}

/// Writes a changed order (optimistic: the stored version must still be `before`'s).
/// # Errors
/// `Stale` when it changed since it was read.
pub async fn update(db: &impl ConnectionTrait, before: &Order, after: &Order) -> Result<(), StoreError> {
    let r = order::Entity::update_many()
        .set(row(after))
        .filter(order::Column::WorkspaceId.eq(before.workspace_id.uuid()))
        .filter(order::Column::Id.eq(before.id.uuid()))
        .filter(order::Column::Version.eq(before.version))
        .exec(db)
        .await?;
    if r.rows_affected == 0 {
        return Err(StoreError::Stale);
    }
    Ok(())
}

/// What to list.
#[derive(Clone, Debug, Default)]
pub struct OrderFilter {
    pub contact_id: Option<ContactId>,
    pub status: Option<OrderStatus>,
    pub source: Option<String>,
}

/// One page of orders, newest `placed_at` first, after `after` (`at` = placed_at).
pub async fn list(
    db: &impl ConnectionTrait,
    ws: WorkspaceId,
    filter: &OrderFilter,
    after: Option<&After>,
    limit: u64,
) -> Result<Page<Order>, StoreError> {
    use order::Column as C;
    let mut q = by_ws(ws);
    if let Some(c) = filter.contact_id {
        q = q.filter(C::ContactId.eq(c.uuid()));
    }
    if let Some(s) = filter.status {
        q = q.filter(C::Status.eq(s.as_str()));
    }
    if let Some(s) = &filter.source {
        q = q.filter(C::Source.eq(s.clone()));
    }
    let order = ListOrder {
        by: Sort::Updated,
        descending: true,
    };
    let rows = keyset(q, C::Id, C::PlacedAt, order, after)
        .limit(limit + 1)
        .all(db)
        .await?;
    Ok(Page::from_rows(convert(rows)?, limit))
}

/// Every order of these contacts (for rebuilding their metrics and for exports).
pub async fn of_contacts(
    db: &impl ConnectionTrait,
    ws: WorkspaceId,
    ids: &[ContactId],
) -> Result<Vec<Order>, StoreError> {
    let mut out = Vec::new();
    for chunk in ids.chunks(500) {
        let rows = by_ws(ws)
            .filter(order::Column::ContactId.is_in(chunk.iter().map(|c| c.uuid())))
            .all(db)
            .await?;
        out.extend(convert(rows)?);
    }
    Ok(out)
}

/// Whether the contact has any order.
pub async fn any_of(db: &impl ConnectionTrait, ws: WorkspaceId, contact: ContactId) -> Result<bool, StoreError> {
    Ok(by_ws(ws)
        .select_only()
        .column(order::Column::Id)
        .filter(order::Column::ContactId.eq(contact.uuid()))
        .limit(1)
        .into_tuple::<uuid::Uuid>()
        .one(db)
        .await?
        .is_some())
}
