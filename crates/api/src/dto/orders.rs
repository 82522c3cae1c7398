//! Order and purchase-metrics representations.

use chrono::{DateTime, Utc};
use rapport_domain::ContactId;
use rapport_domain::order::{
    CurrencyMetrics, CustomerInput, Order, OrderInput, OrderLineInput, OrderStatus, PurchaseMetrics,
};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::list_type;

/// Where an order stands. `cancelled` and `refunded` orders are not purchases: they
/// count in no metric and move no one's lifecycle.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema, async_graphql::Enum)]
#[serde(rename_all = "snake_case")]
#[graphql(name = "OrderStatus")]
#[schema(as = OrderStatus)]
pub enum OrderStatusDto {
    Placed,
    Paid,
    Fulfilled,
    Cancelled,
    Refunded,
    PartiallyRefunded,
}

impl From<OrderStatus> for OrderStatusDto {
    fn from(s: OrderStatus) -> Self {
        match s {
            OrderStatus::Placed => Self::Placed,
            OrderStatus::Paid => Self::Paid,
            OrderStatus::Fulfilled => Self::Fulfilled,
            OrderStatus::Cancelled => Self::Cancelled,
            OrderStatus::Refunded => Self::Refunded,
            OrderStatus::PartiallyRefunded => Self::PartiallyRefunded,
        }
    }
}

impl From<OrderStatusDto> for OrderStatus {
    fn from(s: OrderStatusDto) -> Self {
        match s {
            OrderStatusDto::Placed => Self::Placed,
            OrderStatusDto::Paid => Self::Paid,
            OrderStatusDto::Fulfilled => Self::Fulfilled,
            OrderStatusDto::Cancelled => Self::Cancelled,
            OrderStatusDto::Refunded => Self::Refunded,
            OrderStatusDto::PartiallyRefunded => Self::PartiallyRefunded,
        }
    }
}

/// Who placed an order: any of `contact_id`, `external_id` (the contact's id in the
/// order's `source`) and `email`, tried in that order; when none matches, a contact is
/// created from these fields. Only read when the order is new.
#[derive(Clone, Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CustomerWrite {
    pub contact_id: Option<Uuid>,
    #[schema(example = "c-77")]
    pub external_id: Option<String>,
    #[schema(format = Email, example = "ana@example.com")]
    pub email: Option<String>,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub phone: Option<String>,
}

/// One order line as sent.
#[derive(Clone, Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OrderLineWrite {
    #[schema(example = "TSHIRT-M")]
    pub sku: Option<String>,
    #[schema(example = "T-shirt, size M")]
    pub name: Option<String>,
    /// 1 to 1,000,000.
    #[schema(example = 2)]
    pub quantity: Option<i64>,
    /// In the currency's minor unit (cents), ≥ 0.
    #[schema(example = 1999)]
    pub unit_price: Option<i64>,
}

/// An order as a shop sends it. Amounts are integers in the currency's minor unit.
/// `subtotal` and `total` may be left out (they are computed); when given they must add
/// up: subtotal = Σ quantity × unit_price, total = subtotal − discount_total + tax +
/// shipping.
#[derive(Clone, Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OrderWrite {
    /// The system the order comes from (`shopify`, `erp` …).
    #[schema(example = "shopify")]
    pub source: Option<String>,
    /// The order's id in that system; with `source`, its identity here.
    #[schema(example = "1001")]
    pub external_id: Option<String>,
    pub customer: Option<CustomerWrite>,
    /// `placed`, `paid`, `fulfilled`, `cancelled`, `refunded` or `partially_refunded`.
    #[schema(example = "paid")]
    pub status: Option<String>,
    /// ISO 4217.
    #[schema(example = "EUR")]
    pub currency: Option<String>,
    pub placed_at: Option<DateTime<Utc>>,
    /// 1 to 500 lines.
    pub lines: Option<Vec<OrderLineWrite>>,
    pub subtotal: Option<i64>,
    /// Stored upper-case, without duplicates.
    pub discount_codes: Option<Vec<String>>,
    pub discount_total: Option<i64>,
    pub tax: Option<i64>,
    pub shipping: Option<i64>,
    pub total: Option<i64>,
    /// Required for `partially_refunded` (between 0 and the total, exclusive); the total
    /// for `refunded`; 0 otherwise.
    pub refunded_total: Option<i64>,
}

impl From<OrderWrite> for OrderInput {
    fn from(w: OrderWrite) -> Self {
        Self {
            source: w.source,
            external_id: w.external_id,
            customer: w.customer.map(|c| CustomerInput {
                contact_id: c.contact_id.map(ContactId::from_uuid),
                external_id: c.external_id,
                email: c.email,
                first_name: c.first_name,
                last_name: c.last_name,
                phone: c.phone,
            }),
            status: w.status,
            currency: w.currency,
            placed_at: w.placed_at,
            lines: w.lines.map(|ls| {
                ls.into_iter()
                    .map(|l| OrderLineInput {
                        sku: l.sku,
                        name: l.name,
                        quantity: l.quantity,
                        unit_price: l.unit_price,
                    })
                    .collect()
            }),
            subtotal: w.subtotal,
            discount_codes: w.discount_codes,
            discount_total: w.discount_total,
            tax: w.tax,
            shipping: w.shipping,
            total: w.total,
            refunded_total: w.refunded_total,
        }
    }
}

/// One order line.
#[derive(Clone, Debug, Serialize, ToSchema, async_graphql::SimpleObject)]
#[graphql(name = "OrderLine")]
pub struct OrderLineDto {
    pub sku: Option<String>,
    pub name: String,
    pub quantity: i64,
    pub unit_price: i64,
    /// quantity × unit_price.
    pub total: i64,
}

/// An order. Amounts are integers in the currency's minor unit.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct OrderDto {
    pub id: Uuid,
    pub source: String,
    pub external_id: String,
    pub contact_id: Uuid,
    pub status: OrderStatusDto,
    pub currency: String,
    pub placed_at: DateTime<Utc>,
    pub lines: Vec<OrderLineDto>,
    pub subtotal: i64,
    pub discount_codes: Vec<String>,
    pub discount_total: i64,
    pub tax: i64,
    pub shipping: i64,
    pub total: i64,
    pub refunded_total: i64,
    /// total − refunded_total.
    pub net_total: i64,
    /// Whether the order is a purchase (not cancelled, not fully refunded).
    pub counts_as_purchase: bool,
    pub version: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<&Order> for OrderDto {
    fn from(o: &Order) -> Self {
        let c = &o.content;
        Self {
            id: o.id.uuid(),
            source: o.source.clone(),
            external_id: o.external_id.clone(),
            contact_id: o.contact_id.uuid(),
            status: c.status.into(),
            currency: c.currency.code().to_owned(),
            placed_at: c.placed_at,
            lines: c
                .lines
                .iter()
                .map(|l| OrderLineDto {
                    sku: l.sku.clone(),
                    name: l.name.clone(),
                    quantity: l.quantity,
                    unit_price: l.unit_price,
                    total: l.total,
                })
                .collect(),
            subtotal: c.subtotal,
            discount_codes: c.discount_codes.clone(),
            discount_total: c.discount_total,
            tax: c.tax,
            shipping: c.shipping,
            total: c.total,
            refunded_total: c.refunded_total,
            net_total: c.net_total(),
            counts_as_purchase: c.counts(),
            version: o.version,
            created_at: o.created_at,
            updated_at: o.updated_at,
        }
    }
}

list_type!(OrderList, OrderDto);

/// Purchases in one currency.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, ToSchema, async_graphql::SimpleObject)]
#[graphql(name = "CurrencyMetrics")]
pub struct CurrencyMetricsDto {
    /// ISO 4217.
    pub currency: String,
    pub order_count: i64,
    /// The net totals of the purchases, in minor units.
    pub total_spent: i64,
    /// total_spent / order_count, rounded half away from zero.
    pub average_order_value: i64,
    pub first_order_at: DateTime<Utc>,
    pub last_order_at: DateTime<Utc>,
}

impl From<&CurrencyMetrics> for CurrencyMetricsDto {
    fn from(m: &CurrencyMetrics) -> Self {
        Self {
            currency: m.currency.code().to_owned(),
            order_count: m.order_count,
            total_spent: m.total_spent,
            average_order_value: m.average_order_value(),
            first_order_at: m.first_order_at,
            last_order_at: m.last_order_at,
        }
    }
}

/// What a contact's purchases add up to: orders that count as purchases (not cancelled
/// or fully refunded), net of refunds, per currency (sorted by code).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, ToSchema, async_graphql::SimpleObject)]
#[graphql(name = "PurchaseMetrics")]
pub struct PurchaseMetricsDto {
    /// Purchases in every currency.
    pub order_count: i64,
    pub first_order_at: Option<DateTime<Utc>>,
    pub last_order_at: Option<DateTime<Utc>>,
    pub by_currency: Vec<CurrencyMetricsDto>,
}

impl From<&PurchaseMetrics> for PurchaseMetricsDto {
    fn from(m: &PurchaseMetrics) -> Self {
        Self {
            order_count: m.order_count(),
            first_order_at: m.first_order_at(),
            last_order_at: m.last_order_at(),
            by_currency: m.by_currency.iter().map(CurrencyMetricsDto::from).collect(),
        }
    }
}

/// Up to 1000 orders to upsert.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OrderBatch {
    #[schema(value_type = Vec<OrderWrite>)]
    pub items: Vec<serde_json::Value>,
}

/// The result of one batch item, in request order.
#[derive(Debug, Serialize, ToSchema)]
pub struct OrderBatchItem {
    pub index: usize,
    pub status: super::contacts::ItemStatus,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<Uuid>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<i64>,
    /// The whole order, unless the request said `Prefer: return=minimal`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub order: Option<OrderDto>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<crate::error::Problem>,
}

/// Per-item results of an order batch.
#[derive(Debug, Serialize, ToSchema)]
pub struct OrderBatchResult {
    pub results: Vec<OrderBatchItem>,
    pub created: usize,
    pub updated: usize,
    pub unchanged: usize,
    pub failed: usize,
}

/// The caller's workspace and its settings.
#[derive(Debug, Serialize, ToSchema)]
pub struct WorkspaceDto {
    pub id: Uuid,
    pub name: String,
    /// Customers with no purchase for this many days move to `churned`.
    pub churn_after_days: u32,
    pub created_at: DateTime<Utc>,
}

impl From<&rapport_store::workspaces::Workspace> for WorkspaceDto {
    fn from(w: &rapport_store::workspaces::Workspace) -> Self {
        Self {
            id: w.id.uuid(),
            name: w.name.clone(),
            churn_after_days: w.churn_after_days,
            created_at: w.created_at,
        }
    }
}

/// Workspace settings to change.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WorkspacePatch {
    /// 1 to 3650.
    pub churn_after_days: Option<i64>,
}
