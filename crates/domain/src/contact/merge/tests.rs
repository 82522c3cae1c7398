//! Merge rules.

// `s` is the survivor, `a`, `b` the contacts merged into it, `m` the merge.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::many_single_char_names)]

use std::collections::BTreeMap;

use chrono::{Duration, TimeZone, Utc};
use serde_json::json;

use super::*;
use crate::email::Email;
use crate::ids::WorkspaceId;
use crate::lifecycle::{Stage, StageState};

fn person(email: Option<&str>, first: Option<&str>) -> Contact {
    let at = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();
    Contact {
        id: ContactId::new(),
        workspace_id: WorkspaceId::new(),
        email: email.map(|e| Email::from_trusted(e.into())),
        phone: None,
        first_name: first.map(Into::into),
        last_name: None,
        locale: None,
        country: None,
        company_id: None,
        external_ids: BTreeMap::new(),
        tags: Vec::new(),
        attributes: serde_json::Map::new(),
        stage: StageState::start(Stage::Lead, at),
        lead_score: 0,
        owner_id: None,
        version: 3,
        created_at: at,
        updated_at: at,
        erased_at: None,
    }
}

fn plan(s: &Contact, from: &[&Contact], prefer: &[(&str, &Contact)]) -> Plan {
    let prefer: BTreeMap<String, ContactId> = prefer.iter().map(|(k, c)| ((*k).to_owned(), c.id)).collect();
    Plan::new(s.id, from.iter().map(|c| c.id).collect(), &prefer).unwrap()
}

#[test]
fn the_survivor_wins_and_fills_its_gaps_from_the_others_in_order() {
    let mut s = person(None, Some("Ada"));
    s.tags = vec!["vip".into()];
    s.attributes = json!({"tier": "gold"}).as_object().unwrap().clone();
    let mut a = person(Some("ada@a.example"), Some("Augusta"));
    a.phone = Some("+441234".into());
    a.tags = vec!["newsletter".into(), "vip".into()];
    a.attributes = json!({"tier": "silver", "size": 3}).as_object().unwrap().clone();
    let mut b = person(Some("ada@b.example"), None);
    b.phone = Some("+449999".into());
    b.country = Some("GB".into());
    let now = Utc::now();
    let m = merge(&s, &[a.clone(), b.clone()], &plan(&s, &[&a, &b], &[]), now);
    let c = m.contact;
    assert_eq!(c.id, s.id);
    assert_eq!(c.first_name.as_deref(), Some("Ada"));
    assert_eq!(c.email.unwrap().as_str(), "ada@a.example");
    assert_eq!(c.phone.as_deref(), Some("+441234"));
    assert_eq!(c.country.as_deref(), Some("GB"));
    assert_eq!(c.tags, vec!["newsletter".to_owned(), "vip".to_owned()]);
    assert_eq!(
        serde_json::Value::Object(c.attributes),
        json!({"tier": "gold", "size": 3})
    );
    assert_eq!(c.version, 4);
    assert_eq!(c.updated_at, now);
    assert!(m.dropped.is_empty());
}

#[test]
fn a_preferred_contact_wins_its_field_even_with_nothing_there() {
    let mut s = person(Some("s@example.com"), Some("Ada"));
    s.phone = Some("+1".into());
    s.attributes = json!({"tier": "gold"}).as_object().unwrap().clone();
    let mut a = person(Some("a@example.com"), None);
    a.attributes = json!({"tier": "silver"}).as_object().unwrap().clone();
    let p = plan(
        &s,
        &[&a],
        &[
            ("email", &a),
            ("phone", &a),
            ("attributes.tier", &a),
            ("first_name", &a),
        ],
    );
    let c = merge(&s, &[a.clone()], &p, Utc::now()).contact;
    assert_eq!(c.email.unwrap().as_str(), "a@example.com");
    assert_eq!(c.phone, None);
    assert_eq!(c.first_name, None);
    assert_eq!(c.attributes["tier"], json!("silver"));
}

#[test]
fn external_ids_keep_one_per_source_and_report_the_losers() {
    let mut s = person(Some("s@example.com"), None);
    s.external_ids = BTreeMap::from([("shop".into(), "S-1".into())]);
    let mut a = person(None, None);
    a.external_ids = BTreeMap::from([("shop".into(), "A-1".into()), ("erp".into(), "E-1".into())]);
    let mut b = person(None, None);
    b.external_ids = BTreeMap::from([("erp".into(), "E-2".into())]);
    let m = merge(&s, &[a.clone(), b.clone()], &plan(&s, &[&a, &b], &[]), Utc::now());
    assert_eq!(
        m.contact.external_ids,
        BTreeMap::from([("erp".into(), "E-1".into()), ("shop".into(), "S-1".into())])
    );
    let lost: Vec<(ContactId, &str, &str)> = m
        .dropped
        .iter()
        .map(|d| (d.contact_id, d.source.as_str(), d.external_id.as_str()))
        .collect();
    assert_eq!(lost, vec![(b.id, "erp", "E-2"), (a.id, "shop", "A-1")]);

    let p = plan(&s, &[&a, &b], &[("external_ids.shop", &a), ("external_ids.erp", &b)]);
    let m = merge(&s, &[a.clone(), b.clone()], &p, Utc::now());
    assert_eq!(
        m.contact.external_ids,
        BTreeMap::from([("erp".into(), "E-2".into()), ("shop".into(), "A-1".into())])
    );
    let lost: Vec<&str> = m.dropped.iter().map(|d| d.external_id.as_str()).collect();
    assert_eq!(lost, vec!["E-1", "S-1"]);
}

#[test]
fn the_stage_stays_the_survivors_and_history_keeps_the_furthest_and_earliest() {
    let s = person(Some("s@example.com"), None);
    let mut a = person(None, None);
    let early = s.created_at - Duration::days(30);
    a.stage = StageState::start(Stage::Subscriber, early).moved_to(Stage::Customer, s.created_at + Duration::days(1));
    a.stage = a.stage.moved_to(Stage::Churned, s.created_at + Duration::days(200));
    let c = merge(&s, &[a.clone()], &plan(&s, &[&a], &[]), Utc::now()).contact;
    assert_eq!(c.stage.stage, Stage::Lead);
    assert_eq!(c.stage.highest, Stage::Customer);
    assert_eq!(c.stage.entered_at[&Stage::Subscriber], early);
    assert_eq!(c.stage.entered_at[&Stage::Lead], s.created_at);
    assert!(c.stage.entered_at.contains_key(&Stage::Churned));
}

#[test]
fn bad_requests_are_refused_with_every_pointer() {
    let s = ContactId::new();
    let a = ContactId::new();
    let prefer = BTreeMap::from([
        ("nickname".to_owned(), a),
        ("phone".to_owned(), ContactId::new()),
        ("attributes.".to_owned(), a),
    ]);
    let DomainError::Invalid(errors) = Plan::new(s, vec![a, a, s], &prefer).unwrap_err() else {
        panic!("not a validation error")
    };
    let got: Vec<(&str, &str)> = errors.iter().map(|e| (e.pointer.as_str(), e.code)).collect();
    assert_eq!(
        got,
        vec![
            ("/from/1", "duplicate"),
            ("/from/2", "duplicate"),
            ("/prefer/attributes.", "unknown_field"),
            ("/prefer/nickname", "unknown_field"),
            ("/prefer/phone", "not_in_from"),
        ]
    );
    let too_many: Vec<ContactId> = (0..=MAX_MERGED).map(|_| ContactId::new()).collect();
    let err = Plan::new(s, too_many, &BTreeMap::new()).unwrap_err();
    assert!(matches!(err, DomainError::Invalid(e) if e[0].pointer == "/from" && e[0].code == "invalid_length"));
    assert!(Plan::new(s, Vec::new(), &BTreeMap::new()).is_err());
}

#[test]
fn namesakes_meet_under_one_key() {
    let mut a = person(None, Some("  Ada "));
    a.last_name = Some("LOVELACE".into());
    assert_eq!(a.name_key().as_deref(), Some("ada lovelace"));
    a.last_name = Some(" ".into());
    assert_eq!(a.name_key(), None);
}

#[test]
fn a_merge_over_the_limits_of_one_contact_is_refused() {
    let mut s = person(Some("s@example.com"), None);
    s.tags = (0..60).map(|i| format!("s{i:02}")).collect();
    let mut a = person(None, None);
    a.tags = (0..60).map(|i| format!("a{i:02}")).collect();
    let m = merge(&s, &[a.clone()], &plan(&s, &[&a], &[]), Utc::now());
    let DomainError::Invalid(errors) = check_limits(&m.contact).unwrap_err() else {
        panic!("not a validation error")
    };
    assert_eq!((errors[0].pointer.as_str(), errors[0].code), ("/from", "too_many"));
    a.tags.truncate(40);
    let m = merge(&s, &[a.clone()], &plan(&s, &[&a], &[]), Utc::now());
    assert!(check_limits(&m.contact).is_ok());
}
