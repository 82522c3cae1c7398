//! Orders as callers send them, and their validation into [`OrderContent`].

use chrono::{DateTime, Utc};

use super::{Currency, OrderContent, OrderLine, OrderStatus};
use crate::email::Email;
use crate::error::{DomainError, Errors, FieldError};
use crate::ids::ContactId;
use crate::{phone, text};

/// Most lines one order may have.
pub const MAX_LINES: usize = 500;
/// Largest quantity on one line.
pub const MAX_QUANTITY: i64 = 1_000_000;
/// Largest amount (in minor units) any price, total or line total may reach: 10^13, a
/// hundred billion in a two-decimal currency. A contact's sums stay far inside 64 bits
/// (it would take 900,000 orders at the cap in one currency to leave them).
pub const MAX_AMOUNT: i64 = 10_000_000_000_000;
/// Most discount codes on one order.
const MAX_DISCOUNT_CODES: usize = 50;
/// Longest discount code, SKU and line name.
const MAX_CODE_CHARS: usize = 64;
const MAX_SKU_CHARS: usize = 255;
const MAX_LINE_NAME_CHARS: usize = 500;

/// An order line as sent.
#[derive(Clone, Debug, Default)]
pub struct OrderLineInput {
    pub sku: Option<String>,
    pub name: Option<String>,
    pub quantity: Option<i64>,
    pub unit_price: Option<i64>,
}

/// Who placed the order, as sent: any of a contact id, the contact's external id for the
/// order's source, an email; names and phone fill a contact created for the order.
#[derive(Clone, Debug, Default)]
pub struct CustomerInput {
    pub contact_id: Option<ContactId>,
    pub external_id: Option<String>,
    pub email: Option<String>,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub phone: Option<String>,
}

/// An order as sent (REST and GraphQL build this, so both validate alike).
#[derive(Clone, Debug, Default)]
pub struct OrderInput {
    pub source: Option<String>,
    pub external_id: Option<String>,
    pub customer: Option<CustomerInput>,
    pub status: Option<String>,
    pub currency: Option<String>,
    pub placed_at: Option<DateTime<Utc>>,
    pub lines: Option<Vec<OrderLineInput>>,
    pub subtotal: Option<i64>,
    pub discount_codes: Option<Vec<String>>,
    pub discount_total: Option<i64>,
    pub tax: Option<i64>,
    pub shipping: Option<i64>,
    pub total: Option<i64>,
    pub refunded_total: Option<i64>,
}

/// The validated customer reference.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CustomerRef {
    pub contact_id: Option<ContactId>,
    pub external_id: Option<String>,
    pub email: Option<Email>,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub phone: Option<String>,
}

/// A validated order: its identity, its customer and its content.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ValidOrder {
    pub source: String,
    pub external_id: String,
    pub customer: CustomerRef,
    pub content: OrderContent,
}

fn required<T>(v: Option<T>, pointer: &str, errors: &mut Errors) -> Option<T> {
    if v.is_none() {
        errors.push(FieldError::new(pointer, "required", "is required"));
    }
    v
}

fn amount(v: i64, pointer: &str, errors: &mut Errors) -> Option<i64> {
    if (0..=MAX_AMOUNT).contains(&v) {
        Some(v)
    } else {
        errors.push(FieldError::new(
            pointer,
            "out_of_range",
            format!("must be a whole number of minor units from 0 to {MAX_AMOUNT}"),
        ));
        None
    }
}

fn line(i: usize, l: OrderLineInput, errors: &mut Errors) -> Option<OrderLine> {
    let p = |f: &str| format!("/lines/{i}/{f}");
    let sku = l
        .sku
        .and_then(|s| errors.take(text::optional_text(&s, &p("sku"), MAX_SKU_CHARS)))
        .flatten();
    let name = required(l.name, &p("name"), errors)
        .and_then(|n| errors.take(text::required_text(&n, &p("name"), MAX_LINE_NAME_CHARS)));
    let quantity = required(l.quantity, &p("quantity"), errors).and_then(|q| {
        if (1..=MAX_QUANTITY).contains(&q) {
            Some(q)
        } else {
            errors.push(FieldError::new(
                p("quantity"),
                "out_of_range",
                format!("must be a whole number from 1 to {MAX_QUANTITY}"),
            ));
            None
        }
    });
    let unit_price = required(l.unit_price, &p("unit_price"), errors).and_then(|v| amount(v, &p("unit_price"), errors));
    let (name, quantity, unit_price) = (name?, quantity?, unit_price?);
    let total = i128::from(quantity) * i128::from(unit_price);
    match i64::try_from(total) {
        Ok(total) if total <= MAX_AMOUNT => Some(OrderLine {
            sku,
            name,
            quantity,
            unit_price,
            total,
        }),
        _ => {
            errors.push(FieldError::new(
                format!("/lines/{i}"),
                "out_of_range",
                format!("quantity × unit_price exceeds {MAX_AMOUNT}"),
            ));
            None
        }
    }
}

fn discount_codes(raw: &[String], errors: &mut Errors) -> Vec<String> {
    if raw.len() > MAX_DISCOUNT_CODES {
        errors.push(FieldError::new(
            "/discount_codes",
            "too_many",
            format!("at most {MAX_DISCOUNT_CODES} discount codes"),
        ));
        return Vec::new();
    }
    let mut out: Vec<String> = Vec::with_capacity(raw.len());
    for (i, c) in raw.iter().enumerate() {
        if let Some(c) = errors.take(text::required_text(c, &format!("/discount_codes/{i}"), MAX_CODE_CHARS)) {
            let c = c.to_uppercase();
            if !out.contains(&c) {
                out.push(c);
            }
        }
    }
    out
}

fn customer(raw: Option<CustomerInput>, errors: &mut Errors) -> CustomerRef {
    let Some(c) = raw else {
        errors.push(FieldError::new("/customer", "required", "is required"));
        return CustomerRef::default();
    };
    let blank = |v: &Option<String>| v.as_deref().is_none_or(|s| s.trim().is_empty());
    if c.contact_id.is_none() && blank(&c.external_id) && blank(&c.email) {
        errors.push(FieldError::new(
            "/customer",
            "required",
            "needs a contact_id, an external_id or an email",
        ));
    }
    let text_of = |v: Option<String>, pointer: &str, max: usize, errors: &mut Errors| {
        v.and_then(|s| errors.take(text::optional_text(&s, pointer, max)))
            .flatten()
    };
    CustomerRef {
        contact_id: c.contact_id,
        external_id: text_of(
            c.external_id,
            "/customer/external_id",
            text::MAX_EXTERNAL_ID_CHARS,
            errors,
        ),
        email: c
            .email
            .filter(|e| !e.trim().is_empty())
            .and_then(|e| errors.take(Email::parse(&e, "/customer/email"))),
        first_name: text_of(c.first_name, "/customer/first_name", text::MAX_NAME_CHARS, errors),
        last_name: text_of(c.last_name, "/customer/last_name", text::MAX_NAME_CHARS, errors),
        phone: c
            .phone
            .filter(|p| !p.trim().is_empty())
            .and_then(|p| errors.take(phone::normalise(&p, "/customer/phone"))),
    }
}

/// The amounts of an order, all checked.
struct Totals {
    subtotal: i64,
    discount_total: i64,
    tax: i64,
    shipping: i64,
    total: i64,
}

fn lines(raw: Option<Vec<OrderLineInput>>, errors: &mut Errors) -> Option<Vec<OrderLine>> {
    match raw {
        None => {
            errors.push(FieldError::new("/lines", "required", "is required"));
            None
        }
        Some(l) if l.is_empty() || l.len() > MAX_LINES => {
            errors.push(FieldError::new(
                "/lines",
                "invalid_length",
                format!("an order has 1 to {MAX_LINES} lines"),
            ));
            None
        }
        Some(l) => {
            let n = l.len();
            let valid: Vec<OrderLine> = l
                .into_iter()
                .enumerate()
                .filter_map(|(i, l)| line(i, l, errors))
                .collect();
            (valid.len() == n).then_some(valid)
        }
    }
}

fn status(raw: Option<String>, errors: &mut Errors) -> Option<OrderStatus> {
    let raw = required(raw, "/status", errors)?;
    let st = OrderStatus::parse(raw.trim());
    if st.is_none() {
        errors.push(FieldError::new(
            "/status",
            "invalid_value",
            format!("must be one of {}", OrderStatus::names()),
        ));
    }
    st
}

/// The amounts as sent.
#[derive(Clone, Copy)]
struct Given {
    subtotal: Option<i64>,
    discount_total: Option<i64>,
    tax: Option<i64>,
    shipping: Option<i64>,
    total: Option<i64>,
}

impl Given {
    /// The amounts, with the subtotal and total computed from `lines` (given ones must
    /// agree).
    fn totals(self, lines: Option<&[OrderLine]>, errors: &mut Errors) -> Option<Totals> {
        let discount_total = amount(self.discount_total.unwrap_or(0), "/discount_total", errors);
        let tax = amount(self.tax.unwrap_or(0), "/tax", errors);
        let shipping = amount(self.shipping.unwrap_or(0), "/shipping", errors);
        let given_subtotal = self.subtotal.and_then(|v| amount(v, "/subtotal", errors));
        let given_total = self.total.and_then(|v| amount(v, "/total", errors));
        let sum: i128 = lines?.iter().map(|l| i128::from(l.total)).sum();
        let subtotal = match i64::try_from(sum) {
            Ok(s) if s <= MAX_AMOUNT => s,
            _ => {
                errors.push(FieldError::new(
                    "/lines",
                    "out_of_range",
                    format!("the lines add up to more than {MAX_AMOUNT}"),
                ));
                return None;
            }
        };
        if let Some(given) = given_subtotal
            && given != subtotal
        {
            errors.push(FieldError::new(
                "/subtotal",
                "total_mismatch",
                format!("is {given}, but the lines add up to {subtotal}"),
            ));
            return None;
        }
        let (discount_total, tax, shipping) = (discount_total?, tax?, shipping?);
        if discount_total > subtotal {
            errors.push(FieldError::new(
                "/discount_total",
                "out_of_range",
                format!("{discount_total} exceeds the subtotal {subtotal}"),
            ));
            return None;
        }
        let total = subtotal - discount_total + tax + shipping;
        if let Some(given) = given_total
            && given != total
        {
            errors.push(FieldError::new(
                "/total",
                "total_mismatch",
                format!("is {given}, but subtotal − discount_total + tax + shipping is {total}"),
            ));
            return None;
        }
        if total > MAX_AMOUNT {
            errors.push(FieldError::new(
                "/total",
                "out_of_range",
                format!("exceeds {MAX_AMOUNT}"),
            ));
            return None;
        }
        Some(Totals {
            subtotal,
            discount_total,
            tax,
            shipping,
            total,
        })
    }
}

impl OrderInput {
    /// Checks everything at once and computes what was left out: line totals, the
    /// subtotal and the total (given ones must agree), a full refund's amount.
    /// # Errors
    /// `validation_failed` with every problem found.
    pub fn validate(self) -> Result<ValidOrder, DomainError> {
        let mut errors = Errors::default();
        let given = Given {
            subtotal: self.subtotal,
            discount_total: self.discount_total,
            tax: self.tax,
            shipping: self.shipping,
            total: self.total,
        };
        let source =
            required(self.source, "/source", &mut errors).and_then(|s| errors.take(text::key(&s, "/source", true)));
        let external_id = required(self.external_id, "/external_id", &mut errors)
            .and_then(|s| errors.take(text::required_text(&s, "/external_id", text::MAX_EXTERNAL_ID_CHARS)));
        let customer = customer(self.customer, &mut errors);
        let status = status(self.status, &mut errors);
        let currency = required(self.currency, "/currency", &mut errors)
            .and_then(|c| errors.take(Currency::parse(&c, "/currency")));
        let placed_at = required(self.placed_at, "/placed_at", &mut errors).map(crate::truncate_to_micros);
        let lines = lines(self.lines, &mut errors);
        let discount_codes = discount_codes(self.discount_codes.as_deref().unwrap_or_default(), &mut errors);
        let totals = given.totals(lines.as_deref(), &mut errors);
        let refunded = self
            .refunded_total
            .and_then(|v| amount(v, "/refunded_total", &mut errors));
        let refunded_total = match (status, &totals) {
            (Some(st), Some(t)) => refund(st, t.total, refunded, &mut errors),
            _ => None,
        };
        errors.finish()?;
        match (
            source,
            external_id,
            status,
            currency,
            placed_at,
            lines,
            totals,
            refunded_total,
        ) {
            (
                Some(source),
                Some(external_id),
                Some(status),
                Some(currency),
                Some(placed_at),
                Some(lines),
                Some(t),
                Some(refunded_total),
            ) => Ok(ValidOrder {
                source,
                external_id,
                customer,
                content: OrderContent {
                    status,
                    currency,
                    placed_at,
                    lines,
                    subtotal: t.subtotal,
                    discount_codes,
                    discount_total: t.discount_total,
                    tax: t.tax,
                    shipping: t.shipping,
                    total: t.total,
                    refunded_total,
                },
            }),
            // Every `None` above recorded an error, so `finish` returned already.
            _ => Err(DomainError::field("", "invalid_value", "the order is incomplete")),
        }
    }
}

/// The refunded amount for `status`: none unless (partially) refunded; a full refund is
/// the whole total, a partial one strictly between nothing and the total.
fn refund(status: OrderStatus, total: i64, given: Option<i64>, errors: &mut Errors) -> Option<i64> {
    let bad = |errors: &mut Errors, why: String| {
        errors.push(FieldError::new("/refunded_total", "out_of_range", why));
        None
    };
    match (status, given) {
        (OrderStatus::Refunded, None) => Some(total),
        (OrderStatus::Refunded, Some(r)) if r == total => Some(r),
        (OrderStatus::Refunded, Some(r)) => bad(
            errors,
            format!("is {r}, but a refunded order refunds its total {total}"),
        ),
        (OrderStatus::PartiallyRefunded, None) => {
            errors.push(FieldError::new(
                "/refunded_total",
                "required",
                "is required for a partially refunded order",
            ));
            None
        }
        (OrderStatus::PartiallyRefunded, Some(r)) if r > 0 && r < total => Some(r),
        (OrderStatus::PartiallyRefunded, Some(r)) => bad(
            errors,
            format!("is {r}; a partial refund is more than 0 and less than the total {total}"),
        ),
        (_, None | Some(0)) => Some(0),
        (st, Some(r)) => bad(errors, format!("is {r}, but a {} order has no refund", st.as_str())),
    }
}
