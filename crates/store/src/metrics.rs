//! Purchase metrics per contact and currency (`contact_metrics`), kept in the
//! transaction of every order change by [`recompute`] from the contact's orders.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use rapport_domain::order::{Currency, CurrencyMetrics, OrderStatus, PurchaseMetrics};
use rapport_domain::{ContactId, WorkspaceId};
use sea_orm::sea_query::{Alias, Expr, ExprTrait, Query};
use sea_orm::{ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter};
use uuid::Uuid;

use crate::entity::contact_metric as cm;
use crate::error::StoreError;

/// Contacts per statement.
const CHUNK: usize = 500;

fn push(out: &mut HashMap<ContactId, PurchaseMetrics>, contact: ContactId, m: CurrencyMetrics) {
    let entry = out.entry(contact).or_default();
    entry.by_currency.push(m);
    entry.by_currency.sort_by_key(|m| m.currency);
}

/// Recomputes the metrics of `contacts` from their orders and stores them, in the
/// caller's transaction (after the orders were written). Returns the new metrics of
/// every contact given (empty for one without purchases).
pub async fn recompute(
    db: &impl ConnectionTrait,
    ws: WorkspaceId,
    contacts: &[ContactId],
) -> Result<HashMap<ContactId, PurchaseMetrics>, StoreError> {
    let mut out: HashMap<ContactId, PurchaseMetrics> =
        contacts.iter().map(|c| (*c, PurchaseMetrics::default())).collect();
    let col = |c: &str| Expr::col(Alias::new(c));
    let not_counting: Vec<&str> = OrderStatus::ALL
        .into_iter()
        .filter(|s| !s.counts())
        .map(OrderStatus::as_str)
        .collect();
    for chunk in contacts.chunks(CHUNK) {
        let ids = chunk.iter().map(|c| c.uuid());
        let mut q = Query::select();
        q.column(Alias::new("contact_id"))
            .column(Alias::new("currency"))
            .expr_as(Expr::cust("COUNT(*)"), Alias::new("n"))
            .expr_as(
                Expr::cust("CAST(SUM(total - refunded_total) AS BIGINT)"),
                Alias::new("spent"),
            )
            .expr_as(Expr::cust("MIN(placed_at)"), Alias::new("first_at"))
            .expr_as(Expr::cust("MAX(placed_at)"), Alias::new("last_at"))
            .from(Alias::new("orders"))
            .and_where(col("workspace_id").eq(ws.uuid()))
            .and_where(col("contact_id").is_in(ids.clone()))
            .and_where(col("status").is_not_in(not_counting.clone()))
            .group_by_col(Alias::new("contact_id"))
            .group_by_col(Alias::new("currency"));
        let mut rows = Vec::new();
        for r in db.query_all(&q).await? {
            let contact = ContactId::from_uuid(r.try_get::<Uuid>("", "contact_id")?);
            let code: String = r.try_get("", "currency")?;
            let currency = Currency::known(&code).ok_or_else(|| StoreError::corrupt(format!("currency {code}")))?;
            let m = CurrencyMetrics {
                currency,
                order_count: r.try_get("", "n")?,
                total_spent: r.try_get("", "spent")?,
                first_order_at: r.try_get::<DateTime<Utc>>("", "first_at")?,
                last_order_at: r.try_get::<DateTime<Utc>>("", "last_at")?,
            };
            rows.push(row(ws, contact, &m));
            push(&mut out, contact, m);
        }
        cm::Entity::delete_many()
            .filter(cm::Column::WorkspaceId.eq(ws.uuid()))
            .filter(cm::Column::ContactId.is_in(ids))
            .exec(db)
            .await?;
        if !rows.is_empty() {
            cm::Entity::insert_many(rows).exec_without_returning(db).await?;
        }
    }
    Ok(out)
}

fn row(ws: WorkspaceId, contact: ContactId, m: &CurrencyMetrics) -> cm::ActiveModel {
    cm::ActiveModel {
        workspace_id: Set(ws.uuid()),
        contact_id: Set(contact.uuid()),
        currency: Set(m.currency.code().to_owned()),
        order_count: Set(m.order_count),
        total_spent: Set(m.total_spent),
        first_order_at: Set(m.first_order_at),
        last_order_at: Set(m.last_order_at),
    }
}

/// The kept metrics of these contacts (every contact given has an entry, empty for one
/// without purchases).
pub async fn get_many(
    db: &impl ConnectionTrait,
    ws: WorkspaceId,
    contacts: &[ContactId],
) -> Result<HashMap<ContactId, PurchaseMetrics>, StoreError> {
    let mut out: HashMap<ContactId, PurchaseMetrics> =
        contacts.iter().map(|c| (*c, PurchaseMetrics::default())).collect();
    for chunk in contacts.chunks(CHUNK) {
        let rows = cm::Entity::find()
            .filter(cm::Column::WorkspaceId.eq(ws.uuid()))
            .filter(cm::Column::ContactId.is_in(chunk.iter().map(|c| c.uuid())))
            .all(db)
            .await?;
        for r in rows {
            let currency =
                Currency::known(&r.currency).ok_or_else(|| StoreError::corrupt(format!("currency {}", r.currency)))?;
            push(
                &mut out,
                ContactId::from_uuid(r.contact_id),
                CurrencyMetrics {
                    currency,
                    order_count: r.order_count,
                    total_spent: r.total_spent,
                    first_order_at: r.first_order_at,
                    last_order_at: r.last_order_at,
                },
            );
        }
    }
    Ok(out)
}

/// Contacts of the workspace in a customer stage, with purchases but none placed at or
/// after `cutoff` (any currency), in id order after `after`, at most `limit` of them.
pub async fn lapsed_customers(
    db: &impl ConnectionTrait,
    ws: WorkspaceId,
    cutoff: DateTime<Utc>,
    after: Option<ContactId>,
    limit: u64,
) -> Result<Vec<ContactId>, StoreError> {
    use rapport_domain::lifecycle::Stage;
    let customer_stages: Vec<&str> = Stage::ALL
        .into_iter()
        .filter(|s| s.is_customer())
        .map(Stage::as_str)
        .collect();
    let of_contact = |recent: bool| {
        let mut q = Query::select();
        q.expr(Expr::val(1))
            .from_as(Alias::new("contact_metrics"), Alias::new("m"))
            .and_where(Expr::col((Alias::new("m"), Alias::new("workspace_id"))).eq(ws.uuid()))
            .and_where(
                Expr::col((Alias::new("m"), Alias::new("contact_id")))
                    .equals((Alias::new("contacts"), Alias::new("id"))),
            );
        if recent {
            q.and_where(Expr::col((Alias::new("m"), Alias::new("last_order_at"))).gte(cutoff));
        }
        q
    };
    let mut q = Query::select();
    q.column((Alias::new("contacts"), Alias::new("id")))
        .from(Alias::new("contacts"))
        .and_where(Expr::col((Alias::new("contacts"), Alias::new("workspace_id"))).eq(ws.uuid()))
        .and_where(Expr::col((Alias::new("contacts"), Alias::new("lifecycle_stage"))).is_in(customer_stages))
        .and_where(Expr::col((Alias::new("contacts"), Alias::new("erased_at"))).is_null())
        .and_where(Expr::exists(of_contact(false)))
        .and_where(Expr::exists(of_contact(true)).not())
        .order_by((Alias::new("contacts"), Alias::new("id")), sea_orm::Order::Asc)
        .limit(limit);
    if let Some(a) = after {
        q.and_where(Expr::col((Alias::new("contacts"), Alias::new("id"))).gt(a.uuid()));
    }
    db.query_all(&q)
        .await?
        .iter()
        .map(|r| Ok(ContactId::from_uuid(r.try_get::<Uuid>("", "id")?)))
        .collect()
}

/// The currencies the workspace's purchases were made in.
pub async fn currencies(db: &impl ConnectionTrait, ws: WorkspaceId) -> Result<Vec<Currency>, StoreError> {
    use sea_orm::QuerySelect;
    let codes: Vec<String> = cm::Entity::find()
        .select_only()
        .column(cm::Column::Currency)
        .distinct()
        .filter(cm::Column::WorkspaceId.eq(ws.uuid()))
        .into_tuple()
        .all(db)
        .await?;
    Ok(codes.iter().filter_map(|c| Currency::known(c)).collect())
}
