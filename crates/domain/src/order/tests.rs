use chrono::{DateTime, TimeDelta, Utc};
use proptest::prelude::*;

use super::*;
use crate::DomainError;

fn at(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

fn line(q: i64, p: i64) -> OrderLineInput {
    OrderLineInput {
        sku: Some("SKU-1".into()),
        name: Some("Shirt".into()),
        quantity: Some(q),
        unit_price: Some(p),
    }
}

fn input() -> OrderInput {
    OrderInput {
        source: Some("shop".into()),
        external_id: Some("1001".into()),
        customer: Some(CustomerInput {
            email: Some(" Ana@Example.COM ".into()),
            ..Default::default()
        }),
        status: Some("paid".into()),
        currency: Some("eur".into()),
        placed_at: Some(at("2026-03-01T10:00:00.123456789Z")),
        lines: Some(vec![line(2, 1999), line(1, 500)]),
        ..Default::default()
    }
}

/// The `(pointer, code)` pairs of a validation failure.
fn errors(r: Result<ValidOrder, DomainError>) -> Vec<(String, &'static str)> {
    match r {
        Err(DomainError::Invalid(e)) => e.into_iter().map(|e| (e.pointer, e.code)).collect(),
        other => panic!("expected a validation failure, got {other:?}"),
    }
}

#[test]
fn left_out_totals_are_computed_and_text_is_normalised() {
    let o = OrderInput {
        discount_codes: Some(vec!["welcome10".into(), " WELCOME10 ".into(), "vip".into()]),
        discount_total: Some(498),
        tax: Some(700),
        shipping: Some(495),
        ..input()
    }
    .validate()
    .unwrap();
    let c = &o.content;
    assert_eq!((o.source.as_str(), o.external_id.as_str()), ("shop", "1001"));
    assert_eq!(
        o.customer.email.as_ref().map(crate::email::Email::as_str),
        Some("Ana@example.com")
    );
    assert_eq!(c.currency.code(), "EUR");
    assert_eq!(c.lines.iter().map(|l| l.total).collect::<Vec<_>>(), [3998, 500]);
    assert_eq!(c.subtotal, 4498);
    assert_eq!(c.total, 4498 - 498 + 700 + 495);
    assert_eq!((c.refunded_total, c.net_total()), (0, c.total));
    assert_eq!(c.discount_codes, ["WELCOME10", "VIP"]);
    assert_eq!(c.placed_at, at("2026-03-01T10:00:00.123456Z"));
}

#[test]
fn given_totals_must_agree_with_the_lines() {
    let ok = OrderInput {
        subtotal: Some(4498),
        total: Some(4498),
        ..input()
    };
    assert!(ok.validate().is_ok());
    let bad = OrderInput {
        subtotal: Some(4000),
        ..input()
    };
    assert_eq!(errors(bad.validate()), [("/subtotal".into(), "total_mismatch")]);
    let bad = OrderInput {
        tax: Some(100),
        total: Some(4498),
        ..input()
    };
    assert_eq!(errors(bad.validate()), [("/total".into(), "total_mismatch")]);
}

#[test]
fn every_problem_is_reported_at_once_with_its_pointer() {
    let bad = OrderInput {
        source: None,
        customer: Some(CustomerInput::default()),
        status: Some("lost".into()),
        currency: Some("XYZ".into()),
        placed_at: None,
        lines: Some(vec![line(-1, 100), line(1, -5), OrderLineInput::default()]),
        discount_codes: Some(vec![String::new()]),
        tax: Some(-1),
        ..input()
    };
    let mut got = errors(bad.validate());
    got.sort();
    let mut want: Vec<(String, &str)> = vec![
        ("/source".into(), "required"),
        ("/customer".into(), "required"),
        ("/status".into(), "invalid_value"),
        ("/currency".into(), "unknown_currency"),
        ("/placed_at".into(), "required"),
        ("/lines/0/quantity".into(), "out_of_range"),
        ("/lines/1/unit_price".into(), "out_of_range"),
        ("/lines/2/name".into(), "required"),
        ("/lines/2/quantity".into(), "required"),
        ("/lines/2/unit_price".into(), "required"),
        ("/discount_codes/0".into(), "required"),
        ("/tax".into(), "out_of_range"),
    ];
    want.sort();
    assert_eq!(got, want);
}

#[test]
fn lines_are_required_and_bounded() {
    assert_eq!(
        errors(OrderInput { lines: None, ..input() }.validate()),
        [("/lines".into(), "required")]
    );
    assert_eq!(
        errors(
            OrderInput {
                lines: Some(vec![]),
                ..input()
            }
            .validate()
        ),
        [("/lines".into(), "invalid_length")]
    );
    let many = (0..=MAX_LINES).map(|_| line(1, 1)).collect();
    assert_eq!(
        errors(
            OrderInput {
                lines: Some(many),
                ..input()
            }
            .validate()
        ),
        [("/lines".into(), "invalid_length")]
    );
    let huge = OrderInput {
        lines: Some(vec![line(MAX_QUANTITY, MAX_AMOUNT)]),
        ..input()
    };
    assert_eq!(errors(huge.validate()), [("/lines/0".into(), "out_of_range")]);
    let over = OrderInput {
        lines: Some(vec![line(1, MAX_AMOUNT), line(1, MAX_AMOUNT)]),
        ..input()
    };
    assert_eq!(errors(over.validate()), [("/lines".into(), "out_of_range")]);
}

#[test]
fn discounts_cannot_exceed_the_subtotal() {
    let bad = OrderInput {
        discount_total: Some(4499),
        ..input()
    };
    assert_eq!(errors(bad.validate()), [("/discount_total".into(), "out_of_range")]);
}

#[test]
fn refunds_follow_the_status() {
    let with = |status: &str, refunded: Option<i64>| {
        OrderInput {
            status: Some(status.into()),
            refunded_total: refunded,
            ..input()
        }
        .validate()
    };
    assert_eq!(with("refunded", None).unwrap().content.refunded_total, 4498);
    assert_eq!(with("refunded", None).unwrap().content.net_total(), 0);
    assert_eq!(with("refunded", Some(4498)).unwrap().content.refunded_total, 4498);
    assert_eq!(with("partially_refunded", Some(498)).unwrap().content.net_total(), 4000);
    assert_eq!(
        errors(with("refunded", Some(1))),
        [("/refunded_total".into(), "out_of_range")]
    );
    assert_eq!(
        errors(with("partially_refunded", None)),
        [("/refunded_total".into(), "required")]
    );
    for r in [0, 4498, 5000] {
        assert_eq!(
            errors(with("partially_refunded", Some(r))),
            [("/refunded_total".into(), "out_of_range")],
            "{r}"
        );
    }
    assert_eq!(
        errors(with("paid", Some(10))),
        [("/refunded_total".into(), "out_of_range")]
    );
    assert_eq!(with("paid", Some(0)).unwrap().content.refunded_total, 0);
}

#[test]
fn a_customer_needs_something_to_be_found_by() {
    let only_names = OrderInput {
        customer: Some(CustomerInput {
            first_name: Some("Ana".into()),
            email: Some("  ".into()),
            ..Default::default()
        }),
        ..input()
    };
    assert_eq!(errors(only_names.validate()), [("/customer".into(), "required")]);
    let bad_email = OrderInput {
        customer: Some(CustomerInput {
            email: Some("nope".into()),
            ..Default::default()
        }),
        ..input()
    };
    assert_eq!(
        errors(bad_email.validate()),
        [("/customer/email".into(), "invalid_format")]
    );
    let by_external_id = OrderInput {
        customer: Some(CustomerInput {
            external_id: Some("c-1".into()),
            phone: Some("+34 600 00 00 00".into()),
            ..Default::default()
        }),
        ..input()
    };
    let c = by_external_id.validate().unwrap().customer;
    assert_eq!(
        (c.external_id.as_deref(), c.phone.as_deref()),
        (Some("c-1"), Some("+34600000000"))
    );
}

#[test]
fn a_resend_with_the_same_content_changes_nothing() {
    let v = input().validate().unwrap();
    let now = at("2026-03-02T00:00:00Z");
    let o = Order::create(
        crate::WorkspaceId::new(),
        crate::ContactId::new(),
        v.source,
        v.external_id,
        v.content.clone(),
        now,
    );
    assert!(o.replaced(v.content.clone(), now + TimeDelta::hours(1)).is_none());
    let fulfilled = OrderContent {
        status: OrderStatus::Fulfilled,
        ..v.content
    };
    let next = o.replaced(fulfilled, now + TimeDelta::hours(1)).unwrap();
    assert_eq!((next.version, next.id, next.created_at), (2, o.id, o.created_at));
    assert_eq!(next.updated_at, now + TimeDelta::hours(1));
}

#[test]
fn averages_round_half_away_from_zero() {
    assert_eq!(average(10, 4), 3); // 2.5
    assert_eq!(average(9, 4), 2); // 2.25
    assert_eq!(average(11, 4), 3); // 2.75
    assert_eq!(average(7, 2), 4); // 3.5
    assert_eq!(average(-7, 2), -4);
    assert_eq!(average(100, 0), 0);
    assert_eq!(average(i64::MAX, 1), i64::MAX);
}

fn content(status: OrderStatus, currency: &str, total: i64, refunded: i64, day: i64) -> OrderContent {
    OrderContent {
        status,
        currency: Currency::known(currency).unwrap(),
        placed_at: at("2026-01-01T00:00:00Z") + TimeDelta::days(day),
        lines: vec![],
        subtotal: total,
        discount_codes: vec![],
        discount_total: 0,
        tax: 0,
        shipping: 0,
        total,
        refunded_total: refunded,
    }
}

#[test]
fn metrics_count_purchases_per_currency_net_of_refunds() {
    use OrderStatus::*;
    let orders = [
        content(Paid, "EUR", 1000, 0, 5),
        content(PartiallyRefunded, "EUR", 3000, 1000, 1),
        content(Cancelled, "EUR", 9999, 0, 0),
        content(Refunded, "USD", 500, 500, 9),
        content(Fulfilled, "USD", 700, 0, 3),
    ];
    let m = PurchaseMetrics::from_orders(&orders);
    assert_eq!(m.by_currency.len(), 2);
    let eur = &m.by_currency[0];
    assert_eq!(
        (eur.currency.code(), eur.order_count, eur.total_spent),
        ("EUR", 2, 3000)
    );
    assert_eq!(eur.average_order_value(), 1500);
    assert_eq!(
        (eur.first_order_at, eur.last_order_at),
        (orders[1].placed_at, orders[0].placed_at)
    );
    let usd = &m.by_currency[1];
    assert_eq!((usd.currency.code(), usd.order_count, usd.total_spent), ("USD", 1, 700));
    assert_eq!(m.order_count(), 3);
    assert_eq!(m.first_order_at(), Some(orders[1].placed_at));
    assert_eq!(m.last_order_at(), Some(orders[0].placed_at));
    assert_eq!(PurchaseMetrics::from_orders(&orders[2..4]), PurchaseMetrics::default());
    assert_eq!(PurchaseMetrics::default().first_order_at(), None);
}

proptest! {
    /// Whatever amounts are sent, a valid order's numbers add up and stay in range.
    #[test]
    fn valid_orders_add_up(
        lines in prop::collection::vec((1i64..1000, 0i64..100_000), 1..20),
        discount in 0i64..10_000,
        tax in 0i64..10_000,
        shipping in 0i64..10_000,
    ) {
        let input = OrderInput {
            lines: Some(lines.iter().map(|&(q, p)| line(q, p)).collect()),
            discount_total: Some(discount),
            tax: Some(tax),
            shipping: Some(shipping),
            ..input()
        };
        let subtotal: i64 = lines.iter().map(|(q, p)| q * p).sum();
        match input.validate() {
            Ok(v) => {
                prop_assert!(discount <= subtotal);
                prop_assert_eq!(v.content.subtotal, subtotal);
                prop_assert_eq!(v.content.total, subtotal - discount + tax + shipping);
            }
            Err(e) => {
                prop_assert!(discount > subtotal);
                prop_assert_eq!(errors(Err(e)), vec![("/discount_total".to_owned(), "out_of_range")]);
            }
        }
    }
}
