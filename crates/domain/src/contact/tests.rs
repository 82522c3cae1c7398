//! Contact rules.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;

use chrono::Utc;

use super::*;
use crate::attributes::AttributeSchema;
use crate::patch::Patch;

fn input() -> ContactInput {
    ContactInput {
        email: Patch::Set("Ada@Example.com".into()),
        first_name: Patch::Set("Ada".into()),
        ..Default::default()
    }
}

fn new_contact() -> Contact {
    let changes = input().validate(&AttributeSchema::default()).unwrap();
    Contact::create(ContactId::new(), WorkspaceId::new(), changes, Utc::now()).unwrap()
}

#[test]
fn a_new_contact_starts_as_a_subscriber() {
    let c = new_contact();
    assert_eq!(c.stage.stage, Stage::Subscriber);
    assert_eq!(c.version, 1);
    assert_eq!(c.email.unwrap().as_str(), "Ada@example.com");
}

#[test]
fn a_contact_without_any_identity_is_refused() {
    let changes = ContactInput::default().validate(&AttributeSchema::default()).unwrap();
    let err = Contact::create(ContactId::new(), WorkspaceId::new(), changes, Utc::now()).unwrap_err();
    assert_eq!(err.code(), "validation_failed");
}

#[test]
fn every_invalid_field_is_reported_together() {
    let err = ContactInput {
        email: Patch::Set("nope".into()),
        country: Patch::Set("XX".into()),
        lead_score: Patch::Set(10_000_000),
        tags: Patch::Set(vec![String::new()]),
        external_ids: Patch::Set(BTreeMap::from([("Bad Source".into(), Some("1".into()))])),
        ..Default::default()
    }
    .validate(&AttributeSchema::default())
    .unwrap_err();
    let DomainError::Invalid(errors) = err else { panic!() };
    let pointers: Vec<&str> = errors.iter().map(|e| e.pointer.as_str()).collect();
    assert_eq!(
        pointers,
        vec![
            "/email",
            "/country",
            "/external_ids/Bad Source",
            "/tags/0",
            "/lead_score"
        ]
    );
}

#[test]
fn applying_the_same_values_changes_nothing() {
    let c = new_contact();
    let same = input().validate(&AttributeSchema::default()).unwrap();
    let applied = c.apply(same, Authority::default(), Utc::now()).unwrap();
    assert!(!applied.changed);
    assert_eq!(applied.contact, c);
}

#[test]
fn a_change_bumps_the_version_and_a_stage_move_is_checked() {
    let c = new_contact();
    let later = Utc::now() + chrono::Duration::seconds(5);
    let changes = ContactInput {
        last_name: Patch::Set("Lovelace".into()),
        lifecycle_stage: Patch::Set(Stage::Customer),
        ..Default::default()
    }
    .validate(&AttributeSchema::default())
    .unwrap();
    let applied = c.apply(changes, Authority::default(), later).unwrap();
    assert!(applied.changed);
    assert_eq!(applied.contact.version, 2);
    assert_eq!(applied.contact.updated_at, later);
    assert_eq!(applied.moved, Some((Stage::Customer, Direction::Forward)));
    let back = ContactInput {
        lifecycle_stage: Patch::Set(Stage::Lead),
        ..Default::default()
    }
    .validate(&AttributeSchema::default())
    .unwrap();
    let err = applied.contact.apply(back, Authority::default(), later).unwrap_err();
    assert_eq!(err.code(), "stage_transition_not_allowed");
}

#[test]
fn clearing_the_last_identifier_is_refused() {
    let c = new_contact();
    let changes = ContactInput {
        email: Patch::Clear,
        first_name: Patch::Clear,
        ..Default::default()
    }
    .validate(&AttributeSchema::default())
    .unwrap();
    assert!(c.apply(changes, Authority::default(), Utc::now()).is_err());
}

#[test]
fn external_ids_merge_and_null_removes_one() {
    let c = new_contact();
    let add = ContactInput {
        external_ids: Patch::Set(BTreeMap::from([
            ("shopify".into(), Some("7001".into())),
            ("erp".into(), Some("C-1".into())),
        ])),
        ..Default::default()
    }
    .validate(&AttributeSchema::default())
    .unwrap();
    let c = c.apply(add, Authority::default(), Utc::now()).unwrap().contact;
    let remove = ContactInput {
        external_ids: Patch::Set(BTreeMap::from([("erp".into(), None)])),
        ..Default::default()
    }
    .validate(&AttributeSchema::default())
    .unwrap();
    let c = c.apply(remove, Authority::default(), Utc::now()).unwrap().contact;
    assert_eq!(c.external_ids, BTreeMap::from([("shopify".into(), "7001".into())]));
}

#[test]
fn null_for_a_whole_map_clears_it_as_merge_patch_says() {
    let c = new_contact();
    let add = ContactInput {
        external_ids: Patch::Set(BTreeMap::from([("shopify".into(), Some("7001".into()))])),
        ..Default::default()
    }
    .validate(&AttributeSchema::default())
    .unwrap();
    let c = c.apply(add, Authority::default(), Utc::now()).unwrap().contact;
    let clear = ContactInput {
        external_ids: Patch::Clear,
        attributes: Patch::Clear,
        ..Default::default()
    }
    .validate(&AttributeSchema::default())
    .unwrap();
    let cleared = c.apply(clear, Authority::default(), Utc::now()).unwrap();
    assert!(cleared.changed);
    assert!(cleared.contact.external_ids.is_empty());
}

#[test]
fn retagging_adds_and_removes_case_insensitively() {
    let c = new_contact();
    let c = c
        .retagged(&["VIP".into(), "b2b".into()], &[], Utc::now())
        .unwrap()
        .unwrap();
    assert_eq!(c.tags, vec!["b2b", "vip"]);
    let c2 = c.retagged(&[], &["Vip".into()], Utc::now()).unwrap().unwrap();
    assert_eq!(c2.tags, vec!["b2b"]);
    assert!(c2.retagged(&["b2b".into()], &[], Utc::now()).unwrap().is_none());
}

mod properties {
    use super::*;
    use proptest::prelude::*;

    fn text_patch(values: &'static [&'static str]) -> impl Strategy<Value = Patch<String>> {
        prop_oneof![
            Just(Patch::Absent),
            Just(Patch::Clear),
            proptest::sample::select(values).prop_map(|v| Patch::Set(v.to_owned())),
        ]
    }

    fn any_input() -> impl Strategy<Value = ContactInput> {
        (
            text_patch(&["ada@example.com", "Ada@Example.COM", "grace@navy.mil", "not-an-email"]),
            text_patch(&["+44 20 7946 0000", "0301234567", "call me"]),
            text_patch(&["Ada", " Grace ", ""]),
            text_patch(&["de", "en-GB", "??"]),
            proptest::option::of(proptest::collection::btree_map(
                proptest::sample::select(&["shopify", "erp", "Bad Source"][..]).prop_map(str::to_owned),
                proptest::option::of(proptest::sample::select(&["1", "2", " "][..]).prop_map(str::to_owned)),
                0..3,
            )),
            prop_oneof![
                Just(Patch::Absent),
                Just(Patch::Clear),
                proptest::collection::vec(
                    proptest::sample::select(&["VIP", "vip", "b2b", ""][..]).prop_map(str::to_owned),
                    0..4
                )
                .prop_map(Patch::Set),
            ],
            prop_oneof![Just(Patch::Absent), (-5i64..5).prop_map(Patch::Set)],
        )
            .prop_map(
                |(email, phone, first_name, locale, external_ids, tags, lead_score)| ContactInput {
                    email,
                    phone,
                    first_name,
                    locale,
                    external_ids: external_ids.map_or(Patch::Absent, Patch::Set),
                    tags,
                    lead_score,
                    ..Default::default()
                },
            )
    }

    proptest! {
        /// An upsert that re-sends what it sent before changes nothing, so shops can
        /// sync repeatedly without producing versions or events.
        #[test]
        fn applying_the_same_changes_twice_changes_nothing_the_second_time(base in any_input(), again in any_input()) {
            let schema = AttributeSchema::default();
            let Ok(start) = base.validate(&schema) else { return Ok(()) };
            let Ok(contact) = Contact::create(ContactId::new(), WorkspaceId::new(), start, Utc::now()) else { return Ok(()) };
            let Ok(changes) = again.validate(&schema) else { return Ok(()) };
            let Ok(first) = contact.apply(changes.clone(), Authority::default(), Utc::now()) else { return Ok(()) };
            let second = first.contact.apply(changes, Authority::default(), Utc::now()).unwrap();
            prop_assert!(!second.changed);
            prop_assert_eq!(second.contact, first.contact);
        }

        /// Fields a patch does not mention keep their values.
        #[test]
        fn a_patch_leaves_unmentioned_fields_alone(base in any_input(), tags in proptest::collection::vec("[a-z]{1,5}", 0..3)) {
            let schema = AttributeSchema::default();
            let Ok(start) = base.validate(&schema) else { return Ok(()) };
            let Ok(contact) = Contact::create(ContactId::new(), WorkspaceId::new(), start, Utc::now()) else { return Ok(()) };
            let only_tags = ContactInput { tags: Patch::Set(tags), ..Default::default() }.validate(&schema).unwrap();
            let next = contact.apply(only_tags, Authority::default(), Utc::now()).unwrap().contact;
            prop_assert_eq!(&next.email, &contact.email);
            prop_assert_eq!(&next.phone, &contact.phone);
            prop_assert_eq!(&next.first_name, &contact.first_name);
            prop_assert_eq!(&next.external_ids, &contact.external_ids);
            prop_assert_eq!(next.lead_score, contact.lead_score);
            prop_assert_eq!(&next.stage, &contact.stage);
        }
    }
}
