//! Segment rules: validation with pointers and the in-memory evaluator's semantics.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::needless_pass_by_value)]

use std::collections::BTreeMap;

use chrono::{DateTime, TimeZone, Utc};
use serde_json::{Value, json};

use super::*;
use crate::attributes::{AttributeDefinition, AttributeEntity, AttributeSchema, AttributeType};
use crate::consent::Channel;
use crate::contact::Contact;
use crate::email::Email;
use crate::ids::{AttributeDefinitionId, ContactId};
use crate::lifecycle::{Stage, StageState};

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 6, 15, 12, 0, 0).unwrap()
}

fn def(key: &str, kind: AttributeType, options: &[&str]) -> AttributeDefinition {
    AttributeDefinition {
        id: AttributeDefinitionId::new(),
        entity: AttributeEntity::Contact,
        key: key.into(),
        label: key.into(),
        description: None,
        kind,
        options: options.iter().map(|o| (*o).to_owned()).collect(),
        version: 1,
        created_at: now(),
        updated_at: now(),
    }
}

fn registry() -> Registry {
    Registry::new(
        AttributeSchema::new([
            def("tier", AttributeType::Enum, &["gold", "silver"]),
            def("spend", AttributeType::Number, &[]),
            def("nickname", AttributeType::String, &[]),
            def("birthday", AttributeType::Date, &[]),
            def("vip", AttributeType::Boolean, &[]),
        ]),
        AttributeSchema::default(),
        [("email_marketing".to_owned(), Channel::Email)],
    )
}

fn contact() -> Contact {
    Contact {
        id: ContactId::new(),
        workspace_id: WorkspaceId::new(),
        email: Some(Email::parse("Ada@Example.COM", "").unwrap()),
        phone: None,
        first_name: Some("Ada".into()),
        last_name: None,
        locale: None,
        country: None,
        company_id: None,
        external_ids: BTreeMap::new(),
        tags: vec!["vip".into()],
        attributes: json!({"tier": "gold", "spend": 120.5, "nickname": "Countess", "birthday": "1990-06-01"})
            .as_object()
            .cloned()
            .unwrap(),
        stage: StageState::start(Stage::Customer, now()),
        lead_score: 40,
        owner_id: None,
        version: 1,
        created_at: Utc.with_ymd_and_hms(2026, 3, 1, 0, 0, 0).unwrap(),
        updated_at: now(),
        erased_at: None,
    }
}

fn matches(rule: Value, c: &Contact) -> bool {
    let r = Rule::parse(&rule, &registry()).unwrap();
    r.matches(
        &Subject {
            contact: c,
            company: None,
            consent: &[],
            metrics: &crate::order::PurchaseMetrics::default(),
            orders: &[],
        },
        now(),
    )
}

/// Whether a contact with these orders matches.
fn buyer_matches(rule: Value, orders: &[crate::order::OrderContent]) -> bool {
    let r = Rule::parse(&rule, &registry()).unwrap();
    let metrics = crate::order::PurchaseMetrics::from_orders(orders);
    r.matches(
        &Subject {
            contact: &contact(),
            company: None,
            consent: &[],
            metrics: &metrics,
            orders,
        },
        now(),
    )
}

fn order(status: &str, currency: &str, total: i64, days_ago: i64) -> crate::order::OrderContent {
    use crate::order::{Currency, OrderContent, OrderStatus};
    let refunded = if status == "partially_refunded" {
        total / 2
    } else if status == "refunded" {
        total
    } else {
        0
    };
    OrderContent {
        status: OrderStatus::parse(status).unwrap(),
        currency: Currency::known(currency).unwrap(),
        placed_at: now() - chrono::TimeDelta::days(days_ago),
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
fn commerce_fields_read_purchases_net_of_refunds_per_currency_and_window() {
    let orders = [
        order("paid", "EUR", 30_000, 10),
        order("partially_refunded", "EUR", 40_000, 100),
        order("cancelled", "EUR", 99_000, 5),
        order("fulfilled", "USD", 5_000, 200),
    ];
    let yes = |rule: Value| assert!(buyer_matches(rule.clone(), &orders), "{rule}");
    let no = |rule: Value| assert!(!buyer_matches(rule.clone(), &orders), "{rule}");
    yes(json!({"field": "metrics.order_count", "op": "eq", "value": 3}));
    yes(json!({"field": "metrics.total_spent.EUR", "op": "eq", "value": 50_000}));
    yes(json!({"field": "metrics.total_spent.eur", "op": "gt", "value": 49_999}));
    yes(json!({"field": "metrics.average_order_value.EUR", "op": "eq", "value": 25_000}));
    yes(json!({"field": "metrics.total_spent.GBP", "op": "eq", "value": 0}));
    no(json!({"field": "metrics.average_order_value.GBP", "op": "exists"}));
    yes(json!({"field": "metrics.last_order_at", "op": "within_last", "value": "P30D"}));
    no(json!({"field": "metrics.first_order_at", "op": "within_last", "value": "P100D"}));
    yes(json!({"field": "orders.count", "op": "gte", "value": 3}));
    yes(json!({"field": "orders.count", "op": "eq", "value": 2, "within": "P150D"}));
    yes(json!({"field": "orders.count", "op": "eq", "value": 1, "within": "P30D"}));
    yes(json!({"field": "orders.total.EUR", "op": "eq", "value": 30_000, "within": "P30D"}));
    yes(json!({"field": "orders.total.USD", "op": "eq", "value": 0, "within": "P6M"}));
    // A contact without orders: counts and spending are 0, dates and averages missing.
    assert!(buyer_matches(
        json!({"field": "metrics.order_count", "op": "eq", "value": 0}),
        &[]
    ));
    assert!(buyer_matches(
        json!({"field": "orders.total.EUR", "op": "lt", "value": 1}),
        &[]
    ));
    assert!(buyer_matches(
        json!({"field": "metrics.last_order_at", "op": "exists", "value": false}),
        &[]
    ));
    assert!(!buyer_matches(
        json!({"field": "metrics.last_order_at", "op": "before", "value": "2100-01-01T00:00:00Z"}),
        &[]
    ));
}

#[test]
fn commerce_fields_are_checked_like_any_other() {
    let got = pointers(json!({"all": [
        {"field": "metrics.total_spent.XYZ", "op": "gt", "value": 1},
        {"field": "orders.count", "op": "gte", "value": 2, "within": "90 days"},
        {"field": "lead_score", "op": "gte", "value": 2, "within": "P90D"},
        {"field": "metrics.order_count", "op": "contains", "value": "x"},
        {"field": "orders.total.EUR", "op": "gte", "value": "a lot"}
    ]}));
    assert_eq!(
        got,
        [
            ("/all/0/field".to_owned(), "unknown_field"),
            ("/all/1/within".to_owned(), "invalid_duration"),
            ("/all/2/within".to_owned(), "not_allowed"),
            ("/all/3/op".to_owned(), "operator_not_allowed"),
            ("/all/4/value".to_owned(), "invalid_value"),
        ]
    );
    let r = Rule::parse(
        &json!({"field": "orders.count", "op": "gte", "value": 2, "within": "P90D"}),
        &registry(),
    )
    .unwrap();
    assert!(r.is_time_relative() && r.reads_orders() && r.reads_commerce());
    let r = Rule::parse(
        &json!({"field": "metrics.order_count", "op": "gte", "value": 2}),
        &registry(),
    )
    .unwrap();
    assert!(!r.is_time_relative() && !r.reads_orders() && r.reads_commerce());
}

fn pointers(rule: Value) -> Vec<(String, &'static str)> {
    match Rule::parse(&rule, &registry()).unwrap_err() {
        DomainError::Invalid(e) => e.into_iter().map(|e| (e.pointer, e.code)).collect(),
        other => panic!("{other:?}"),
    }
}

#[test]
fn bad_nodes_are_located_by_pointer() {
    let rule = json!({"all": [
        {"field": "lifecycle_stage", "op": "in", "value": ["customer"]},
        {"field": "nope", "op": "eq", "value": 1},
        {"field": "lead_score", "op": "gte", "value": "high"},
        {"any": [{"field": "tags", "op": "starts_with", "value": "v"}]},
        {"not": {"field": "email", "op": "eq"}},
        {"field": "lifecycle_stage", "op": "eq", "value": "buyer"},
        {"field": "created_at", "op": "within_last", "value": "90 days"},
        {"field": "attributes.spend", "op": "between", "value": [10, 1]},
        {"field": "email", "op": "sounds_like", "value": "x"},
        {"field": "email", "op": "eq", "value": "x", "extra": 1},
        {"field": "attributes.tier", "op": "in", "value": []}
    ]});
    assert_eq!(
        pointers(rule),
        vec![
            ("/all/1/field".into(), "unknown_field"),
            ("/all/2/value".into(), "invalid_value"),
            ("/all/3/any/0/op".into(), "operator_not_allowed"),
            ("/all/4/not/value".into(), "required"),
            ("/all/5/value".into(), "unknown_option"),
            ("/all/6/value".into(), "invalid_duration"),
            ("/all/7/value".into(), "invalid_range"),
            ("/all/8/op".into(), "unknown_operator"),
            ("/all/9/extra".into(), "unknown_key"),
            ("/all/10/value".into(), "invalid_length"),
        ]
    );
}

#[test]
fn depth_and_size_are_bounded() {
    let mut deep = json!({"field": "email", "op": "exists"});
    for _ in 0..MAX_DEPTH {
        deep = json!({ "not": deep });
    }
    assert_eq!(pointers(deep)[0].1, "too_deep");
    let wide: Vec<Value> = (0..=MAX_NODES)
        .map(|_| json!({"field": "email", "op": "exists"}))
        .collect();
    assert!(pointers(json!({ "any": wide })).iter().any(|(_, c)| *c == "too_large"));
    assert_eq!(pointers(json!([1]))[0], (String::new(), "invalid_node"));
}

#[test]
fn text_ignores_the_case_of_ascii_letters_only() {
    let c = contact();
    assert!(matches(
        json!({"field": "email", "op": "ends_with", "value": "@EXAMPLE.com"}),
        &c
    ));
    assert!(matches(
        json!({"field": "attributes.nickname", "op": "eq", "value": "countess"}),
        &c
    ));
    assert!(matches(
        json!({"field": "first_name", "op": "contains", "value": "D"}),
        &c
    ));
    let mut e = contact();
    e.first_name = Some("Émile".into());
    assert!(!matches(
        json!({"field": "first_name", "op": "eq", "value": "émile"}),
        &e
    ));
    assert!(matches(
        json!({"field": "first_name", "op": "eq", "value": "ÉMILE"}),
        &e
    ));
}

#[test]
fn missing_values_fail_every_test_but_ne_not_in_and_not_exists() {
    let c = contact();
    let field = "last_name";
    assert!(!matches(json!({"field": field, "op": "eq", "value": "x"}), &c));
    assert!(matches(json!({"field": field, "op": "ne", "value": "x"}), &c));
    assert!(matches(json!({"field": field, "op": "not_in", "value": ["x"]}), &c));
    assert!(!matches(json!({"field": field, "op": "contains", "value": "x"}), &c));
    assert!(matches(json!({"field": field, "op": "exists", "value": false}), &c));
    assert!(!matches(json!({"field": field, "op": "exists"}), &c));
    assert!(matches(
        json!({"not": {"field": field, "op": "contains", "value": "x"}}),
        &c
    ));
    assert!(!matches(
        json!({"field": "attributes.vip", "op": "eq", "value": false}),
        &c
    ));
}

#[test]
fn numbers_dates_and_windows_include_their_bounds() {
    let c = contact();
    assert!(matches(
        json!({"field": "lead_score", "op": "between", "value": [40, 40]}),
        &c
    ));
    assert!(matches(
        json!({"field": "attributes.spend", "op": "gt", "value": 120}),
        &c
    ));
    assert!(!matches(
        json!({"field": "attributes.spend", "op": "lt", "value": 120.5}),
        &c
    ));
    assert!(matches(
        json!({"field": "attributes.birthday", "op": "before", "value": "1990-06-02"}),
        &c
    ));
    assert!(matches(
        json!({"field": "created_at", "op": "after", "value": "2026-02-28T23:59:59Z"}),
        &c
    ));
    // Created 2026-03-01T00:00Z; now is 2026-06-15T12:00Z: 106.5 days before.
    assert!(!matches(
        json!({"field": "created_at", "op": "within_last", "value": "P106D"}),
        &c
    ));
    assert!(matches(
        json!({"field": "created_at", "op": "within_last", "value": "P106DT12H"}),
        &c
    ));
    assert!(matches(
        json!({"field": "updated_at", "op": "within_last", "value": "PT1S"}),
        &c
    ));
}

#[test]
fn tags_and_choices_and_groups() {
    let c = contact();
    assert!(matches(json!({"field": "tags", "op": "contains", "value": "VIP"}), &c));
    assert!(!matches(
        json!({"field": "tags", "op": "not_in", "value": ["vip", "new"]}),
        &c
    ));
    assert!(matches(json!({"field": "tags", "op": "exists"}), &c));
    assert!(matches(
        json!({"field": "lifecycle_stage", "op": "in", "value": ["customer", "lead"]}),
        &c
    ));
    assert!(matches(json!({"all": []}), &c));
    assert!(!matches(json!({"any": []}), &c));
    assert!(matches(
        json!({"field": "consent.email_marketing", "op": "eq", "value": "none"}),
        &c
    ));
    let mut erased = contact();
    erased.erased_at = Some(now());
    assert!(!matches(json!({"all": []}), &erased));
}

#[test]
fn time_relative_rules_are_recognised() {
    let r = |v: Value| Rule::parse(&v, &registry()).unwrap();
    assert!(r(json!({"field": "created_at", "op": "within_last", "value": "P1D"})).is_time_relative());
    assert!(r(json!({"field": "consent.email_marketing", "op": "eq", "value": "granted"})).is_time_relative());
    assert!(!r(json!({"field": "created_at", "op": "before", "value": "2026-01-01T00:00:00Z"})).is_time_relative());
}

#[test]
fn a_static_segment_takes_no_rules_and_a_dynamic_one_needs_them() {
    let bad = |kind: &str, rules: Option<Value>| {
        let input = SegmentInput {
            name: "x".into(),
            kind: Some(kind.into()),
            rules,
            ..Default::default()
        };
        input
            .validate(SegmentId::new(), WorkspaceId::new(), &registry(), now())
            .unwrap_err()
    };
    assert!(format!("{:?}", bad("static", Some(json!({"all": []})))).contains("not_allowed"));
    assert!(format!("{:?}", bad("dynamic", None)).contains("required"));
    assert!(format!("{:?}", bad("sometimes", None)).contains("/kind"));
}

#[test]
fn emails_compare_as_their_keys_and_hostile_values_are_refused() {
    let mut c = contact();
    c.email = Some(Email::parse("Élise@Example.fr", "").unwrap());
    assert!(matches(
        json!({"field": "email", "op": "eq", "value": "ÉLISE@EXAMPLE.FR"}),
        &c
    ));
    let codes = |v: Value| {
        pointers(v)
            .into_iter()
            .map(|(p, c)| format!("{p} {c}"))
            .collect::<Vec<_>>()
    };
    assert_eq!(
        codes(json!({"field": "first_name", "op": "eq", "value": "a\u{0}"})),
        vec!["/value invalid_value"]
    );
    assert_eq!(
        codes(json!({"field": "created_at", "op": "before", "value": "9999-12-31T23:00:00-02:00"})),
        vec!["/value invalid_value"]
    );
    let list: Vec<String> = (0..MAX_LIST).map(|i| format!("n{i}")).collect();
    let many: Vec<Value> = (0..6)
        .map(|_| json!({"field": "first_name", "op": "in", "value": list}))
        .collect();
    assert!(codes(json!({ "any": many })).contains(&"/any/5/value too_large".to_owned()));
    let wide: Vec<Value> = (0..1000)
        .map(|_| json!({"field": "nope", "op": "eq", "value": 1}))
        .collect();
    assert!(
        pointers(json!({ "any": wide })).len() <= MAX_NODES + 1,
        "parsing stops at the node limit"
    );
}
