//! Import definitions and CSV records.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use chrono::Utc;
use serde_json::json;

use super::*;
use crate::attributes::NewDefinitionInput;

fn csv(kind: &str, mapping: &[(&str, &str)]) -> SpecInput {
    SpecInput {
        kind: kind.into(),
        format: "csv".into(),
        mapping: Some(
            mapping
                .iter()
                .map(|(h, p)| ((*h).to_owned(), (*p).to_owned()))
                .collect(),
        ),
        ..Default::default()
    }
}

fn pointers(e: DomainError) -> Vec<(String, &'static str)> {
    let DomainError::Invalid(errors) = e else {
        panic!("not a validation error")
    };
    errors.into_iter().map(|e| (e.pointer, e.code)).collect()
}

#[test]
fn definitions_are_checked_with_pointers() {
    let bad = SpecInput {
        kind: "people".into(),
        format: "xml".into(),
        ..Default::default()
    };
    assert_eq!(
        pointers(bad.validate().unwrap_err()),
        vec![("/kind".into(), "invalid_value"), ("/format".into(), "invalid_value")]
    );
    let no_mapping = SpecInput {
        kind: "contacts".into(),
        format: "csv".into(),
        ..Default::default()
    };
    assert_eq!(
        pointers(no_mapping.validate().unwrap_err()),
        vec![("/mapping".into(), "required")]
    );
    let mut ndjson = csv("contacts", &[("E", "email")]);
    ndjson.format = "ndjson".into();
    assert_eq!(
        pointers(ndjson.validate().unwrap_err()),
        vec![("/mapping".into(), "not_allowed")]
    );
    let mut wrong = csv(
        "contacts",
        &[
            ("E", "email"),
            ("Mail", "email"),
            ("S", "size"),
            ("A", "attributes."),
            ("T/x", "attributes.a.b"),
        ],
    );
    wrong.delimiter = Some(",,".into());
    assert_eq!(
        pointers(wrong.validate().unwrap_err()),
        vec![
            ("/delimiter".into(), "invalid_value"),
            ("/mapping/A".into(), "unknown_field"),
            ("/mapping".into(), "invalid_value"),
            ("/mapping/S".into(), "unknown_field"),
            ("/mapping/T~1x".into(), "unknown_field"),
        ]
    );
    let ok = csv(
        "orders",
        &[
            ("Order", "external_id"),
            ("SKU", "lines.sku"),
            ("Mail", "customer.email"),
        ],
    );
    assert_eq!(ok.validate().unwrap().kind, Kind::Orders);
}

fn schema() -> AttributeSchema {
    let def = |key: &str, kind: &str| {
        NewDefinitionInput {
            entity: Some("contact".into()),
            key: key.into(),
            label: key.into(),
            description: None,
            kind: kind.into(),
            options: None,
        }
        .validate(Utc::now())
        .unwrap()
    };
    AttributeSchema::new([def("visits", "number"), def("vip", "boolean"), def("tier", "string")])
}

#[test]
fn a_record_becomes_the_object_an_api_request_would_carry() {
    let spec = csv(
        "contacts",
        &[
            ("E-mail", "email"),
            ("Score", "lead_score"),
            ("Tags", "tags"),
            ("Visits", "attributes.visits"),
            ("VIP", "attributes.vip"),
            ("Tier", "attributes.tier"),
            ("Shop id", "external_ids.shop"),
        ],
    )
    .validate()
    .unwrap();
    let header = ["Shop id", "E-mail", "ignored", "Score", "Tags", "Visits", "VIP", "Tier"];
    let r = CsvReader::new(Kind::Contacts, spec.csv.as_ref().unwrap(), &header, schema()).unwrap();
    let row = r
        .object(&["7", " ada@example.com ", "x", "12", "a; b ;;c", "2.5", "yes", "007"])
        .unwrap();
    assert_eq!(
        Value::Object(row),
        json!({"email": "ada@example.com", "lead_score": 12, "tags": ["a", "b", "c"],
               "attributes": {"visits": 2.5, "vip": true, "tier": "007"}, "external_ids": {"shop": "7"}})
    );
    let row = r.object(&["", "", "", "", "", "3", "", ""]).unwrap();
    assert_eq!(Value::Object(row), json!({"attributes": {"visits": 3}}));
    let errors = r
        .object(&["", "a@b.c", "", "twelve", "", "many", "perhaps", ""])
        .unwrap_err();
    let mapping = &spec.csv.as_ref().unwrap().mapping;
    let got: Vec<(&str, Option<&str>)> = errors
        .iter()
        .map(|e| (e.pointer.as_str(), column_of(mapping, &e.pointer)))
        .collect();
    assert_eq!(
        got,
        vec![
            ("/lead_score", Some("Score")),
            ("/attributes/visits", Some("Visits")),
            ("/attributes/vip", Some("VIP")),
        ]
    );
}

#[test]
fn missing_headers_are_named() {
    let spec = csv("contacts", &[("E-mail", "email"), ("Name", "first_name")])
        .validate()
        .unwrap();
    let err = CsvReader::new(
        Kind::Contacts,
        spec.csv.as_ref().unwrap(),
        &["E-mail"],
        AttributeSchema::default(),
    )
    .unwrap_err();
    assert_eq!(err, vec!["Name".to_owned()]);
}

#[test]
fn order_rows_build_one_line_each_and_join() {
    let spec = csv(
        "orders",
        &[
            ("Order", "external_id"),
            ("Src", "source"),
            ("SKU", "lines.sku"),
            ("Qty", "lines.quantity"),
            ("Mail", "customer.email"),
        ],
    )
    .validate()
    .unwrap();
    let header = ["Order", "Src", "SKU", "Qty", "Mail"];
    let r = CsvReader::new(
        Kind::Orders,
        spec.csv.as_ref().unwrap(),
        &header,
        AttributeSchema::default(),
    )
    .unwrap();
    let (row1, row2) = (
        ["1001", "shop", "A", "2", "ada@example.com"],
        ["1001", "shop", "B", "1", ""],
    );
    let key = Some(("shop".to_owned(), "1001".to_owned()));
    assert_eq!((r.raw_order_key(&row1), r.raw_order_key(&row2)), (key.clone(), key));
    assert_eq!(
        r.raw_order_key(&["1002", "shop", "A", "2", ""]),
        Some(("shop".to_owned(), "1002".to_owned()))
    );
    assert_eq!(
        r.raw_order_key(&["", "shop", "A", "2", ""]),
        None,
        "no key without an external id"
    );
    let mut first = r.object(&row1).unwrap();
    let second = r.object(&row2).unwrap();
    join_order_lines(&mut first, second);
    assert_eq!(
        Value::Object(first),
        json!({"external_id": "1001", "source": "shop", "customer": {"email": "ada@example.com"},
               "lines": [{"sku": "A", "quantity": 2}, {"sku": "B", "quantity": 1}]})
    );
    let mapping = &spec.csv.as_ref().unwrap().mapping;
    assert_eq!(column_of(mapping, "/lines/1/quantity"), Some("Qty"));
    assert_eq!(column_of(mapping, "/customer/email"), Some("Mail"));
    assert_eq!(column_of(mapping, "/total"), None);
}
