//! Purchase metrics: what a contact's orders add up to, per currency (amounts in
//! different currencies are never added together).

use chrono::{DateTime, Utc};

use super::{Currency, OrderContent};

/// A contact's purchases in one currency.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CurrencyMetrics {
    pub currency: Currency,
    /// Orders that count as purchases.
    pub order_count: i64,
    /// The sum of their net totals (total less refunds), in minor units.
    pub total_spent: i64,
    pub first_order_at: DateTime<Utc>,
    pub last_order_at: DateTime<Utc>,
}

impl CurrencyMetrics {
    /// `total_spent / order_count`, rounded half away from zero.
    pub fn average_order_value(&self) -> i64 {
        average(self.total_spent, self.order_count)
    }
}

/// `total / count` rounded to the nearest minor unit, halves away from zero; 0 for no
/// orders.
pub fn average(total: i64, count: i64) -> i64 {
    if count <= 0 {
        return 0;
    }
    let (t, c) = (i128::from(total), i128::from(count));
    let q = (2 * t.abs() + c) / (2 * c);
    let q = if t < 0 { -q } else { q };
    i64::try_from(q).unwrap_or(if t < 0 { i64::MIN } else { i64::MAX })
}

/// A contact's purchase metrics: one entry per currency with at least one purchase,
/// sorted by currency code.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PurchaseMetrics {
    pub by_currency: Vec<CurrencyMetrics>,
}

impl PurchaseMetrics {
    /// Adds up orders from scratch: the definition the kept metrics must always equal.
    pub fn from_orders<'a>(orders: impl IntoIterator<Item = &'a OrderContent>) -> Self {
        let mut by: std::collections::BTreeMap<Currency, CurrencyMetrics> = std::collections::BTreeMap::new();
        for o in orders.into_iter().filter(|o| o.counts()) {
            by.entry(o.currency)
                .and_modify(|m| {
                    m.order_count += 1;
                    m.total_spent += o.net_total();
                    m.first_order_at = m.first_order_at.min(o.placed_at);
                    m.last_order_at = m.last_order_at.max(o.placed_at);
                })
                .or_insert(CurrencyMetrics {
                    currency: o.currency,
                    order_count: 1,
                    total_spent: o.net_total(),
                    first_order_at: o.placed_at,
                    last_order_at: o.placed_at,
                });
        }
        Self {
            by_currency: by.into_values().collect(),
        }
    }

    /// Purchases in every currency.
    pub fn order_count(&self) -> i64 {
        self.by_currency.iter().map(|m| m.order_count).sum()
    }

    pub fn first_order_at(&self) -> Option<DateTime<Utc>> {
        self.by_currency.iter().map(|m| m.first_order_at).min()
    }

    pub fn last_order_at(&self) -> Option<DateTime<Utc>> {
        self.by_currency.iter().map(|m| m.last_order_at).max()
    }
}
