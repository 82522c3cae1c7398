//! Orders from shops and ERPs, and the purchase metrics they add up to.
//!
//! An order is identified in its workspace by `(source, external_id)`: the shop's own
//! id. Re-sending an order replaces its content; re-sending it unchanged is a no-op.
//! Money is an integer count of the currency's minor unit. Whether an order counts as a
//! purchase depends on its status only ([`OrderStatus::counts`]); purchase metrics and
//! lifecycle rules read nothing else.

mod currency;
mod input;
mod metrics;
#[cfg(test)]
mod tests;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

pub use currency::Currency;
pub use input::{
    CustomerInput, CustomerRef, MAX_AMOUNT, MAX_LINES, MAX_QUANTITY, OrderInput, OrderLineInput, ValidOrder,
};
pub use metrics::{CurrencyMetrics, PurchaseMetrics, average};

use crate::ids::{ContactId, OrderId, WorkspaceId};

/// Where an order stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OrderStatus {
    Placed,
    Paid,
    Fulfilled,
    Cancelled,
    Refunded,
    PartiallyRefunded,
}

impl OrderStatus {
    pub const ALL: [OrderStatus; 6] = [
        OrderStatus::Placed,
        OrderStatus::Paid,
        OrderStatus::Fulfilled,
        OrderStatus::Cancelled,
        OrderStatus::Refunded,
        OrderStatus::PartiallyRefunded,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            OrderStatus::Placed => "placed",
            OrderStatus::Paid => "paid",
            OrderStatus::Fulfilled => "fulfilled",
            OrderStatus::Cancelled => "cancelled",
            OrderStatus::Refunded => "refunded",
            OrderStatus::PartiallyRefunded => "partially_refunded",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|st| st.as_str() == s)
    }

    /// Whether an order in this status is a purchase: counted in metrics and by the
    /// lifecycle rules. A cancelled or fully refunded order is not.
    pub fn counts(self) -> bool {
        !matches!(self, OrderStatus::Cancelled | OrderStatus::Refunded)
    }

    /// The wire names, for error messages.
    pub fn names() -> String {
        Self::ALL.map(Self::as_str).join(", ")
    }
}

/// One order line. `total` is `quantity × unit_price`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderLine {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sku: Option<String>,
    pub name: String,
    pub quantity: i64,
    pub unit_price: i64,
    pub total: i64,
}

/// What an order says: everything a re-send may change. Two equal contents mean an
/// unchanged order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OrderContent {
    pub status: OrderStatus,
    pub currency: Currency,
    pub placed_at: DateTime<Utc>,
    pub lines: Vec<OrderLine>,
    pub subtotal: i64,
    /// Upper-case, unique, in the order given.
    pub discount_codes: Vec<String>,
    pub discount_total: i64,
    pub tax: i64,
    pub shipping: i64,
    pub total: i64,
    pub refunded_total: i64,
}

impl OrderContent {
    /// What the customer paid and kept paid: the total less refunds.
    pub fn net_total(&self) -> i64 {
        self.total - self.refunded_total
    }

    /// Whether this order counts as a purchase.
    pub fn counts(&self) -> bool {
        self.status.counts()
    }
}

/// A stored order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Order {
    pub id: OrderId,
    pub workspace_id: WorkspaceId,
    pub contact_id: ContactId,
    pub source: String,
    pub external_id: String,
    pub content: OrderContent,
    pub version: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl Order {
    /// A new order of `contact`.
    pub fn create(
        workspace_id: WorkspaceId,
        contact_id: ContactId,
        source: String,
        external_id: String,
        content: OrderContent,
        now: DateTime<Utc>,
    ) -> Self {
        Self {
            id: OrderId::new(),
            workspace_id,
            contact_id,
            source,
            external_id,
            content,
            version: 1,
            created_at: now,
            updated_at: now,
        }
    }

    /// The order with `content`, or `None` when it already says exactly that.
    #[must_use]
    pub fn replaced(&self, content: OrderContent, now: DateTime<Utc>) -> Option<Self> {
        (content != self.content).then(|| Self {
            content,
            version: self.version + 1,
            updated_at: now,
            ..self.clone()
        })
    }
}
