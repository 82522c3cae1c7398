//! The demo shop's catalogue and its customers' order histories: a small coffee roaster
//! selling beans, brewing gear, a monthly club box and gift cards, in EUR, with VAT by
//! country, free shipping above a threshold and the odd discount code.

use chrono::{DateTime, Datelike, TimeDelta, Utc};
use fastrand::Rng;
use rapport_domain::ContactId;
use rapport_domain::order::{CustomerInput, OrderInput, OrderLineInput, OrderStatus};

use super::{percent, weighted};

/// One product; prices are net, in cents.
pub(super) struct Product {
    pub sku: &'static str,
    pub name: &'static str,
    pub price: i64,
    /// How often it lands in a basket, relative to the other extras.
    weight: u32,
}

const fn product(sku: &'static str, name: &'static str, price: i64, weight: u32) -> Product {
    Product {
        sku,
        name,
        price,
        weight,
    }
}

/// Beans by the bag: what people come back for.
static BEANS: [Product; 5] = [
    product("BEAN-ETH-250", "Ethiopia Yirgacheffe, whole bean, 250 g", 1290, 0),
    product("BEAN-COL-250", "Colombia Huila, whole bean, 250 g", 1190, 0),
    product("BEAN-DECAF-250", "Decaf Peru, whole bean, 250 g", 1290, 0),
    product("BEAN-BRA-1000", "Brazil Cerrado, whole bean, 1 kg", 2990, 0),
    product("BEAN-ESP-1000", "House espresso blend, 1 kg", 3290, 0),
];

/// Everything else a basket may hold, with how often.
static EXTRAS: [Product; 9] = [
    product("BREW-FILTER-100", "Paper filters, 100 pcs", 590, 30),
    product("TEA-SENCHA-100", "Japanese sencha, 100 g", 990, 12),
    product("MUG-STONE", "Stoneware mug, 300 ml", 1490, 14),
    product("BREW-V60", "Pour-over dripper", 2490, 10),
    product("BREW-FRENCH", "French press, 1 l", 3490, 7),
    product("GIFT-25", "Gift card, EUR 25", 2500, 8),
    product("KETTLE-GOOSE", "Gooseneck kettle, 0.9 l", 5990, 5),
    product("GRIND-HAND", "Hand grinder, ceramic burr", 6990, 5),
    product("GRIND-ELEC", "Electric burr grinder", 17900, 2),
];

/// The monthly subscription box.
static CLUB: Product = product("CLUB-BOX", "Coffee Club box, monthly", 2490, 0);

/// The SKUs whose purchase earns a tag.
pub(super) const CLUB_SKU: &str = "CLUB-BOX";
pub(super) const GIFT_SKU: &str = "GIFT-25";

/// Where the orders come from: the shop's source name, also the contacts' external-id source.
pub(super) const SOURCE: &str = "demo";

/// How a customer buys.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Habit {
    /// One order and never again.
    Once,
    /// Comes back at a steady pace until today.
    Regular,
    /// Comes back for a while, then stops.
    Lapsing,
}

/// A planned order.
pub(super) struct Order {
    pub placed_at: DateTime<Utc>,
    pub status: OrderStatus,
    pub lines: Vec<(&'static Product, i64)>,
    /// The code and its percentage off the goods.
    pub discount: Option<(&'static str, i64)>,
    /// VAT in percent.
    vat: i64,
    b2b: bool,
    /// Share of the total refunded, in percent, for a partial refund.
    refund_percent: i64,
}

/// An order's amounts, computed as order validation computes them.
pub(super) struct Amounts {
    pub discount_total: i64,
    pub tax: i64,
    pub shipping: i64,
    pub total: i64,
    pub refunded_total: i64,
}

impl Order {
    pub fn amounts(&self) -> Amounts {
        let subtotal: i64 = self.lines.iter().map(|(p, q)| p.price * q).sum();
        let discount_total = self.discount.map_or(0, |(_, pct)| subtotal * pct / 100);
        let goods = subtotal - discount_total;
        let tax = (goods * self.vat + 50) / 100;
        let shipping = match (self.b2b, goods) {
            (false, 4900..) | (true, 15_000..) => 0,
            (false, _) => 490,
            (true, _) => 990,
        };
        let total = goods + tax + shipping;
        let refunded_total = match self.status {
            OrderStatus::Refunded => total,
            OrderStatus::PartiallyRefunded => (total * self.refund_percent / 100).clamp(1, (total - 1).max(1)),
            _ => 0,
        };
        Amounts {
            discount_total,
            tax,
            shipping,
            total,
            refunded_total,
        }
    }

    /// What the order adds to the customer's total spent.
    pub fn net(&self) -> i64 {
        if self.status.counts() {
            let a = self.amounts();
            a.total - a.refunded_total
        } else {
            0
        }
    }

    /// The order as the shop would send it.
    pub fn input(&self, external_id: String, contact: ContactId) -> OrderInput {
        let a = self.amounts();
        OrderInput {
            source: Some(SOURCE.to_owned()),
            external_id: Some(external_id),
            customer: Some(CustomerInput {
                contact_id: Some(contact),
                ..Default::default()
            }),
            status: Some(self.status.as_str().to_owned()),
            currency: Some("EUR".to_owned()),
            placed_at: Some(self.placed_at),
            lines: Some(
                self.lines
                    .iter()
                    .map(|(p, q)| OrderLineInput {
                        sku: Some(p.sku.to_owned()),
                        name: Some(p.name.to_owned()),
                        quantity: Some(*q),
                        unit_price: Some(p.price),
                    })
                    .collect(),
            ),
            subtotal: None,
            discount_codes: self.discount.map(|(code, _)| vec![code.to_owned()]),
            discount_total: Some(a.discount_total),
            tax: Some(a.tax),
            shipping: Some(a.shipping),
            // Given, so that a difference from the plan is refused rather than kept.
            total: Some(a.total),
            refunded_total: Some(a.refunded_total),
        }
    }
}

/// A customer's orders, oldest first, from `first` (their first order) until `now`.
pub(super) fn history(rng: &mut Rng, first: DateTime<Utc>, now: DateTime<Utc>, vat: i64, b2b: bool) -> Vec<Order> {
    let habit = weighted(rng, &[(Habit::Once, 45), (Habit::Regular, 40), (Habit::Lapsing, 15)]);
    let mean_gap_days = if b2b { rng.i64(14..45) } else { rng.i64(21..100) };
    // Regular customers who buy about monthly take the club box.
    let club = !b2b && habit == Habit::Regular && mean_gap_days <= 35;
    let favourite = if b2b {
        &BEANS[rng.usize(3..BEANS.len())]
    } else {
        &BEANS[rng.usize(..BEANS.len())]
    };
    let mut orders = Vec::new();
    let mut at = first;
    loop {
        let age_days = (now - at).num_days();
        let status = status(rng, age_days);
        let lines = if b2b {
            trade_basket(rng, favourite)
        } else {
            basket(rng, favourite, club)
        };
        orders.push(Order {
            placed_at: at,
            status,
            discount: discount(rng, orders.len(), at, b2b),
            lines,
            vat,
            b2b,
            refund_percent: rng.i64(10..60),
        });
        let stops = match habit {
            Habit::Once => true,
            Habit::Regular => false,
            Habit::Lapsing => percent(rng, 30),
        };
        if stops || orders.len() >= 40 {
            return orders;
        }
        at += TimeDelta::seconds(rng.i64(mean_gap_days * 43_200..mean_gap_days * 129_600));
        if at > now {
            return orders;
        }
    }
}

/// Recent orders are still open; older ones were mostly fulfilled, a few cancelled or
/// (partly) refunded.
fn status(rng: &mut Rng, age_days: i64) -> OrderStatus {
    use OrderStatus::{Cancelled, Fulfilled, Paid, PartiallyRefunded, Placed, Refunded};
    match age_days {
        ..2 => weighted(rng, &[(Placed, 40), (Paid, 60)]),
        2..7 => weighted(rng, &[(Paid, 50), (Fulfilled, 50)]),
        _ => weighted(
            rng,
            &[(Fulfilled, 85), (Cancelled, 5), (Refunded, 4), (PartiallyRefunded, 6)],
        ),
    }
}

/// A welcome code on some first orders, a loyalty code for regulars, seasonal codes now
/// and then, and a trade discount for businesses.
fn discount(rng: &mut Rng, index: usize, at: DateTime<Utc>, b2b: bool) -> Option<(&'static str, i64)> {
    if b2b {
        return percent(rng, 40).then_some(("TRADE12", 12));
    }
    if index == 0 && percent(rng, 20) {
        return Some(("WELCOME10", 10));
    }
    if index >= 4 && percent(rng, 20) {
        return Some(("LOYAL15", 15));
    }
    percent(rng, 8).then(|| match at.month() {
        3..=5 => ("SPRING15", 15),
        6..=8 => ("SUMMER15", 15),
        9..=11 => ("AUTUMN10", 10),
        _ => ("WINTER20", 20),
    })
}

/// A household's basket: the club box or their favourite beans, and maybe an extra or two.
fn basket(rng: &mut Rng, favourite: &'static Product, club: bool) -> Vec<(&'static Product, i64)> {
    let mut lines = Vec::new();
    if club {
        lines.push((&CLUB, 1));
    }
    if !club || percent(rng, 40) {
        lines.push((favourite, rng.i64(1..=2)));
    }
    let extras = weighted(rng, &[(0, 55), (1, 35), (2, 10)]);
    let weights: Vec<(usize, u32)> = EXTRAS.iter().enumerate().map(|(i, p)| (i, p.weight)).collect();
    for _ in 0..extras {
        let p = &EXTRAS[weighted(rng, &weights)];
        if !lines.iter().any(|(l, _)| l.sku == p.sku) {
            let quantity = if p.price < 1500 { rng.i64(1..=3) } else { 1 };
            lines.push((p, quantity));
        }
    }
    lines
}

/// A café's or office's order: beans by the kilo, sometimes filters and mugs.
fn trade_basket(rng: &mut Rng, favourite: &'static Product) -> Vec<(&'static Product, i64)> {
    let mut lines = vec![(favourite, rng.i64(3..=12))];
    if percent(rng, 30) {
        lines.push((&EXTRAS[0], rng.i64(5..=20)));
    }
    if percent(rng, 10) {
        lines.push((&EXTRAS[2], rng.i64(6..=24)));
    }
    lines
}
