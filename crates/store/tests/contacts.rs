//! The contacts repository on SQLite and PostgreSQL.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;

use chrono::Duration;
use rapport_domain::attributes::AttributeSchema;
use rapport_domain::contact::{Contact, ContactInput};
use rapport_domain::lifecycle::{Authority, Stage};
use rapport_domain::patch::Patch;
use rapport_domain::{ContactId, WorkspaceId};
use rapport_store::contacts::{self, ContactFilter};
use rapport_store::page::{After, Order, Sort};
use rapport_store::{Db, StoreError};
use serde_json::json;

use rapport_store::on_both_databases as on_both;
use rapport_store::testing::workspace;

fn contact(ws: WorkspaceId, email: &str, first: &str, last: &str) -> Contact {
    let changes = ContactInput {
        email: Patch::Set(email.into()),
        first_name: Patch::Set(first.into()),
        last_name: Patch::Set(last.into()),
        ..Default::default()
    }
    .validate(&AttributeSchema::default())
    .unwrap();
    Contact::create(ContactId::new(), ws, changes, rapport_store::now()).unwrap()
}

async fn insert(db: &Db, c: &Contact) {
    let tx = db.begin().await.unwrap();
    contacts::insert(&tx, c).await.unwrap();
    tx.commit().await.unwrap();
}

async fn every_field_survives_a_round_trip(db: Db) {
    let ws = workspace(&db).await;
    let mut c = contact(ws, "Ada.L@Example.com", "Ada", "Lovelace");
    c.phone = Some("+442079460000".into());
    c.locale = Some("en-GB".into());
    c.country = Some("GB".into());
    c.external_ids = BTreeMap::from([("shopify".into(), "7001".into()), ("erp".into(), "C-9".into())]);
    c.tags = vec!["b2b".into(), "vip".into()];
    c.attributes = serde_json::from_value(json!({"tier": "gold", "score": 4.5, "vip": true})).unwrap();
    c.stage = c.stage.moved_to(Stage::Customer, rapport_store::now());
    c.lead_score = -12;
    c.owner_id = Some("user-7".into());
    insert(&db, &c).await;
    let back = contacts::get(db.read(), ws, c.id).await.unwrap();
    assert_eq!(back, c);
}

async fn another_workspace_cannot_see_a_contact(db: Db) {
    let ws = workspace(&db).await;
    let other = workspace(&db).await;
    let c = contact(ws, "a@x.io", "A", "B");
    insert(&db, &c).await;
    assert!(matches!(
        contacts::get(db.read(), other, c.id).await,
        Err(StoreError::NotFound)
    ));
    assert!(contacts::get_many(db.read(), other, &[c.id]).await.unwrap().is_empty());
    let page = contacts::list(db.read(), other, &ContactFilter::default(), Order::default(), None, 10)
        .await
        .unwrap();
    assert!(page.items.is_empty());
    // The same email is free in another workspace.
    insert(&db, &contact(other, "a@x.io", "A", "B")).await;
}

async fn emails_are_unique_per_workspace_regardless_of_case(db: Db) {
    let ws = workspace(&db).await;
    let first = contact(ws, "ada@example.com", "Ada", "L");
    insert(&db, &first).await;
    let tx = db.begin().await.unwrap();
    let err = contacts::insert(&tx, &contact(ws, "ADA@example.com", "Other", "One"))
        .await
        .unwrap_err();
    assert!(
        matches!(err, StoreError::Conflict { field: "email", existing: Some(id) } if id == first.id.uuid()),
        "{err:?}"
    );
}

async fn an_external_id_belongs_to_one_contact(db: Db) {
    let ws = workspace(&db).await;
    let mut a = contact(ws, "a@x.io", "A", "A");
    a.external_ids.insert("shopify".into(), "1".into());
    insert(&db, &a).await;
    let mut b = contact(ws, "b@x.io", "B", "B");
    b.external_ids.insert("shopify".into(), "1".into());
    let tx = db.begin().await.unwrap();
    let err = contacts::insert(&tx, &b).await.unwrap_err();
    assert!(matches!(err, StoreError::Conflict { field: "external_ids", existing: Some(id) } if id == a.id.uuid()));
    drop(tx);
    let found = contacts::id_by_external_id(db.read(), ws, "shopify", "1")
        .await
        .unwrap();
    assert_eq!(found, Some(a.id));
}

async fn an_update_from_a_stale_version_is_refused(db: Db) {
    let ws = workspace(&db).await;
    let c = contact(ws, "a@x.io", "A", "A");
    insert(&db, &c).await;
    let changes = ContactInput {
        first_name: Patch::Set("Ann".into()),
        ..Default::default()
    }
    .validate(&AttributeSchema::default())
    .unwrap();
    let next = c
        .apply(changes, Authority::default(), rapport_store::now())
        .unwrap()
        .contact;
    let tx = db.begin().await.unwrap();
    contacts::update(&tx, &c, &next).await.unwrap();
    // Writing over the old version again must fail: someone else already moved it on.
    assert!(matches!(contacts::update(&tx, &c, &next).await, Err(StoreError::Stale)));
}

async fn tag_and_external_id_indexes_follow_every_change(db: Db) {
    let ws = workspace(&db).await;
    let mut c = contact(ws, "a@x.io", "A", "A");
    c.tags = vec!["old".into(), "vip".into()];
    c.external_ids.insert("shop".into(), "1".into());
    insert(&db, &c).await;
    let mut next = c.clone();
    next.tags = vec!["new".into(), "vip".into()];
    next.external_ids = BTreeMap::from([("shop".into(), "2".into())]);
    next.version += 1;
    let tx = db.begin().await.unwrap();
    contacts::update(&tx, &c, &next).await.unwrap();
    tx.commit().await.unwrap();
    let by_tag = |t: &str| ContactFilter {
        tag: Some(t.into()),
        ..Default::default()
    };
    for (t, n) in [("old", 0), ("new", 1), ("vip", 1)] {
        let p = contacts::list(db.read(), ws, &by_tag(t), Order::default(), None, 10)
            .await
            .unwrap();
        assert_eq!(p.items.len(), n, "tag {t}");
    }
    assert_eq!(
        contacts::id_by_external_id(db.read(), ws, "shop", "1").await.unwrap(),
        None
    );
    assert_eq!(
        contacts::id_by_external_id(db.read(), ws, "shop", "2").await.unwrap(),
        Some(c.id)
    );
}

async fn deleting_a_contact_removes_its_index_rows(db: Db) {
    let ws = workspace(&db).await;
    let mut c = contact(ws, "a@x.io", "A", "A");
    c.tags = vec!["vip".into()];
    c.external_ids.insert("shop".into(), "1".into());
    insert(&db, &c).await;
    let tx = db.begin().await.unwrap();
    contacts::delete(&tx, ws, c.id).await.unwrap();
    tx.commit().await.unwrap();
    assert_eq!(
        contacts::id_by_external_id(db.read(), ws, "shop", "1").await.unwrap(),
        None
    );
    // The freed values can be used again.
    insert(&db, &c).await;
    let other = workspace(&db).await;
    let tx = db.begin().await.unwrap();
    assert!(matches!(
        contacts::delete(&tx, other, c.id).await,
        Err(StoreError::NotFound)
    ));
}

async fn search_matches_every_word_and_treats_wildcards_literally(db: Db) {
    let ws = workspace(&db).await;
    for (e, f, l) in [
        ("ada@math.org", "Ada", "Lovelace"),
        ("alan@bletchley.uk", "Alan", "Turing"),
        ("grace@navy.mil", "Grace", "Hopper"),
    ] {
        insert(&db, &contact(ws, e, f, l)).await;
    }
    let q = |text: &str| ContactFilter {
        q: Some(text.into()),
        ..Default::default()
    };
    let names =
        |p: rapport_store::page::Page<Contact>| p.items.into_iter().filter_map(|c| c.first_name).collect::<Vec<_>>();
    let p = contacts::list(db.read(), ws, &q("ada LOVE"), Order::default(), None, 10)
        .await
        .unwrap();
    assert_eq!(names(p), vec!["Ada"]);
    let p = contacts::list(db.read(), ws, &q("navy"), Order::default(), None, 10)
        .await
        .unwrap();
    assert_eq!(names(p), vec!["Grace"]);
    let p = contacts::list(db.read(), ws, &q("%"), Order::default(), None, 10)
        .await
        .unwrap();
    assert!(p.items.is_empty());
    let p = contacts::list(db.read(), ws, &q("a_a"), Order::default(), None, 10)
        .await
        .unwrap();
    assert!(p.items.is_empty());
}

async fn filters_combine(db: Db) {
    let ws = workspace(&db).await;
    let mut vip_customer = contact(ws, "a@x.io", "A", "A");
    vip_customer.stage = vip_customer.stage.moved_to(Stage::Customer, vip_customer.created_at);
    vip_customer.tags = vec!["vip".into()];
    let mut vip = contact(ws, "b@x.io", "B", "B");
    vip.tags = vec!["vip".into()];
    let mut stale_customer = contact(ws, "c@x.io", "C", "C");
    stale_customer.stage = stale_customer
        .stage
        .moved_to(Stage::Customer, stale_customer.created_at);
    stale_customer.updated_at = stale_customer.created_at - Duration::days(3);
    for x in [&vip_customer, &vip, &stale_customer] {
        insert(&db, x).await;
    }
    let ids = |filter: ContactFilter| {
        let db = db.clone();
        async move {
            let page = contacts::list(db.read(), ws, &filter, Order::default(), None, 10)
                .await
                .unwrap();
            page.items.iter().map(|c| c.id).collect::<Vec<_>>()
        }
    };
    let customers_tagged_vip = ContactFilter {
        stage: Some(Stage::Customer),
        tag: Some("vip".into()),
        ..Default::default()
    };
    assert_eq!(ids(customers_tagged_vip).await, vec![vip_customer.id]);
    let recent = ContactFilter {
        updated_since: Some(vip_customer.created_at - Duration::days(1)),
        ..Default::default()
    };
    assert_eq!(ids(recent).await, vec![vip_customer.id, vip.id]);
    let by_email = ContactFilter {
        email: Some("B@X.IO".into()),
        ..Default::default()
    };
    assert_eq!(ids(by_email).await, vec![vip.id]);
}

/// Walks a list page by page and checks it yields every contact once, in order, also
/// when many contacts share one `updated_at`.
async fn keyset_pages_cover_the_list_exactly_once(db: Db) {
    let ws = workspace(&db).await;
    let base = rapport_store::now();
    let mut all = Vec::new();
    for i in 0..23 {
        let mut c = contact(ws, &format!("p{i}@x.io"), "P", &i.to_string());
        // Five distinct update times for 23 contacts: lots of ties.
        c.updated_at = base + Duration::seconds(i64::from(i % 5));
        insert(&db, &c).await;
        all.push(c);
    }
    for by in [Sort::Created, Sort::Updated] {
        for descending in [false, true] {
            let order = Order { by, descending };
            let mut expected = all.clone();
            expected.sort_by_key(|c| match by {
                Sort::Created => (base, c.id),
                Sort::Updated => (c.updated_at, c.id),
            });
            if descending {
                expected.reverse();
            }
            let mut seen = Vec::new();
            let mut after: Option<After> = None;
            loop {
                let page = contacts::list(db.read(), ws, &ContactFilter::default(), order, after.as_ref(), 4)
                    .await
                    .unwrap();
                let last = page.items.last().map(|c| After {
                    at: Some(c.updated_at),
                    id: c.id.uuid(),
                });
                seen.extend(page.items.iter().map(|c| c.id));
                if !page.has_more {
                    break;
                }
                after = last;
            }
            assert_eq!(seen, expected.iter().map(|c| c.id).collect::<Vec<_>>(), "{order:?}");
        }
    }
}

on_both!(
    every_field_survives_a_round_trip,
    another_workspace_cannot_see_a_contact,
    emails_are_unique_per_workspace_regardless_of_case,
    an_external_id_belongs_to_one_contact,
    an_update_from_a_stale_version_is_refused,
    tag_and_external_id_indexes_follow_every_change,
    deleting_a_contact_removes_its_index_rows,
    search_matches_every_word_and_treats_wildcards_literally,
    filters_combine,
    keyset_pages_cover_the_list_exactly_once,
);
