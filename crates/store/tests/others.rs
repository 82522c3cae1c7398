//! Companies, attributes, lifecycle history, the outbox, idempotency records and
//! instance secrets on SQLite and PostgreSQL.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use rapport_domain::attributes::{AttributeEntity, AttributeSchema, NewDefinitionInput};
use rapport_domain::company::{Company, CompanyInput};
use rapport_domain::contact::{Contact, ContactInput};
use rapport_domain::event::{Actor, ActorKind, Event, EventType};
use rapport_domain::lifecycle::{Cause, Direction, Stage, Transition};
use rapport_domain::patch::Patch;
use rapport_domain::{CompanyId, ContactId, TransitionId, WorkspaceId};
use rapport_store::companies::{self, CompanyFilter};
use rapport_store::idempotency::{self, StoredResponse};
use rapport_store::page::Order;
use rapport_store::{Db, StoreError, attributes, contacts, lifecycle, outbox, secrets};
use serde_json::json;

use rapport_store::on_both_databases as on_both;
use rapport_store::testing::workspace;

fn company(ws: WorkspaceId, name: &str, domain: Option<&str>) -> Company {
    let changes = CompanyInput {
        name: Patch::Set(name.into()),
        domain: domain.map_or(Patch::Absent, |d| Patch::Set(d.into())),
        ..Default::default()
    }
    .validate(&AttributeSchema::default(), true)
    .unwrap();
    Company::create(CompanyId::new(), ws, changes, rapport_store::now())
}

async fn a_company_domain_is_unique_in_its_workspace(db: Db) {
    let ws = workspace(&db).await;
    let acme = company(ws, "Acme", Some("acme.example"));
    let tx = db.begin().await.unwrap();
    companies::insert(&tx, &acme).await.unwrap();
    let err = companies::insert(&tx, &company(ws, "Acme 2", Some("acme.example")))
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Conflict { field: "domain", existing: Some(id) } if id == acme.id.uuid()));
    companies::insert(&tx, &company(ws, "Acme Labs", None)).await.unwrap();
    companies::insert(&tx, &company(ws, "No Domain", None)).await.unwrap();
    tx.commit().await.unwrap();
    let f = CompanyFilter {
        q: Some("acme".into()),
        ..Default::default()
    };
    let p = companies::list(db.read(), ws, &f, Order::default(), None, 10)
        .await
        .unwrap();
    assert_eq!(p.items.len(), 2);
    assert_eq!(companies::get(db.read(), ws, acme.id).await.unwrap(), acme);
    assert!(
        !companies::exists(db.read(), workspace(&db).await, acme.id)
            .await
            .unwrap()
    );
}

async fn attribute_use_is_detected_in_json_on_both_databases(db: Db) {
    let ws = workspace(&db).await;
    let def = |key: &str, kind: &str, options: Option<Vec<String>>| {
        NewDefinitionInput {
            key: key.into(),
            label: key.into(),
            kind: kind.into(),
            options,
            ..Default::default()
        }
        .validate(rapport_store::now())
        .unwrap()
    };
    let tier = def("tier", "enum", Some(vec!["gold".into(), "silver".into()]));
    let score = def("score", "number", None);
    let tx = db.begin().await.unwrap();
    attributes::insert(&tx, ws, &tier).await.unwrap();
    attributes::insert(&tx, ws, &score).await.unwrap();
    assert!(matches!(
        attributes::insert(&tx, ws, &tier).await,
        Err(StoreError::Conflict { .. })
    ));
    let schema = attributes::schema(&tx, ws, AttributeEntity::Contact).await.unwrap();
    let changes = ContactInput {
        email: Patch::Set("a@x.io".into()),
        attributes: Patch::Set(serde_json::from_value(json!({"tier": "gold", "score": 3})).unwrap()),
        ..Default::default()
    }
    .validate(&schema)
    .unwrap();
    let c = Contact::create(ContactId::new(), ws, changes, rapport_store::now()).unwrap();
    contacts::insert(&tx, &c).await.unwrap();
    tx.commit().await.unwrap();
    let used = |key: &'static str, values: Option<Vec<String>>| {
        let db = db.clone();
        async move {
            attributes::in_use(db.read(), ws, AttributeEntity::Contact, key, values.as_deref())
                .await
                .unwrap()
        }
    };
    assert!(used("tier", None).await);
    assert!(used("score", None).await);
    assert!(used("tier", Some(vec!["gold".into()])).await);
    assert!(!used("tier", Some(vec!["silver".into()])).await);
    assert!(!used("nickname", None).await);
    assert!(
        !attributes::in_use(db.read(), ws, AttributeEntity::Company, "tier", None)
            .await
            .unwrap()
    );
    let listed = attributes::list(db.read(), ws, None).await.unwrap();
    assert_eq!(
        listed.iter().map(|d| d.key.as_str()).collect::<Vec<_>>(),
        vec!["score", "tier"]
    );
    assert_eq!(attributes::get(db.read(), ws, tier.id).await.unwrap(), tier);
}

async fn lifecycle_history_is_listed_oldest_first(db: Db) {
    let ws = workspace(&db).await;
    let changes = ContactInput {
        email: Patch::Set("a@x.io".into()),
        ..Default::default()
    }
    .validate(&AttributeSchema::default())
    .unwrap();
    let c = Contact::create(ContactId::new(), ws, changes, rapport_store::now()).unwrap();
    let tx = db.begin().await.unwrap();
    contacts::insert(&tx, &c).await.unwrap();
    let moves = [
        (None, Stage::Subscriber),
        (Some(Stage::Subscriber), Stage::Lead),
        (Some(Stage::Lead), Stage::Customer),
    ];
    for (from, to) in moves {
        let t = Transition {
            id: TransitionId::new(),
            contact_id: c.id,
            from,
            to,
            direction: Direction::Forward,
            cause: Cause::Api,
            actor: Actor {
                kind: ActorKind::ApiClient,
                id: Some("c1".into()),
            },
            reason: Some("because".into()),
            at: rapport_store::now(),
        };
        lifecycle::record(&tx, ws, &t).await.unwrap();
    }
    tx.commit().await.unwrap();
    let first = lifecycle::list(db.read(), ws, c.id, None, 2).await.unwrap();
    assert!(first.has_more);
    let rest = lifecycle::list(db.read(), ws, c.id, Some(first.items[1].id.uuid()), 2)
        .await
        .unwrap();
    assert!(!rest.has_more);
    let all: Vec<Stage> = first.items.iter().chain(&rest.items).map(|t| t.to).collect();
    assert_eq!(all, vec![Stage::Subscriber, Stage::Lead, Stage::Customer]);
    assert_eq!(first.items[0].actor.id.as_deref(), Some("c1"));
    assert!(
        lifecycle::list(db.read(), workspace(&db).await, c.id, None, 10)
            .await
            .unwrap()
            .items
            .is_empty()
    );
}

async fn events_are_kept_in_order_per_workspace(db: Db) {
    let ws = workspace(&db).await;
    let other = workspace(&db).await;
    let ev = |ws, kind| Event::new(kind, ws, Actor::system(), rapport_store::now(), json!({"n": 1}));
    let tx = db.begin().await.unwrap();
    outbox::push(
        &tx,
        &[
            ev(ws, EventType::ContactCreated),
            ev(ws, EventType::ContactUpdated),
            ev(other, EventType::ContactCreated),
        ],
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    let mine = outbox::list(db.read(), ws, None, None, 10).await.unwrap();
    assert_eq!(
        mine.iter().map(|e| e.kind.as_str()).collect::<Vec<_>>(),
        vec!["contact.created", "contact.updated"]
    );
    let after = outbox::list(db.read(), ws, None, Some(mine[0].id), 10).await.unwrap();
    assert_eq!(after.len(), 1);
    assert_eq!(after[0].data, json!({"n": 1}));
    // A rolled-back transaction leaves no event behind.
    let tx = db.begin().await.unwrap();
    outbox::push(&tx, &[ev(ws, EventType::ContactDeleted)]).await.unwrap();
    tx.rollback().await.unwrap();
    assert_eq!(
        outbox::list(db.read(), ws, Some(EventType::ContactDeleted), None, 10)
            .await
            .unwrap()
            .len(),
        0
    );
}

async fn the_feed_shows_events_in_commit_order_and_never_skips_a_late_commit(db: Db) {
    use rapport_domain::EventId;
    use rapport_store::outbox::TypeFilter;
    let ws = workspace(&db).await;
    let at = rapport_store::now();
    let ev = |kind| Event::new(kind, ws, Actor::system(), at, json!({}));
    // A slow transaction takes its id first but commits last.
    let slow = ev(EventType::ContactCreated);
    let fast = ev(EventType::ContactUpdated);
    assert!(slow.id < fast.id);
    let tx = db.begin().await.unwrap();
    outbox::push(&tx, std::slice::from_ref(&fast)).await.unwrap();
    tx.commit().await.unwrap();
    // Nothing is visible before the sequencer numbers it.
    let all = TypeFilter::default();
    assert!(outbox::feed(db.read(), ws, &all, None, 10).await.unwrap().is_empty());
    assert_eq!(outbox::sequence(&db).await.unwrap(), 1);
    let first = outbox::feed(db.read(), ws, &all, None, 10).await.unwrap();
    assert_eq!(first.iter().map(|e| e.id).collect::<Vec<EventId>>(), vec![fast.id]);
    let cursor = first[0].position;

    let tx = db.begin().await.unwrap();
    outbox::push(&tx, std::slice::from_ref(&slow)).await.unwrap();
    tx.commit().await.unwrap();
    assert_eq!(outbox::sequence(&db).await.unwrap(), 1);
    assert_eq!(outbox::sequence(&db).await.unwrap(), 0, "numbered once");
    let next = outbox::feed(db.read(), ws, &all, cursor, 10).await.unwrap();
    assert_eq!(next.iter().map(|e| e.id).collect::<Vec<EventId>>(), vec![slow.id]);
    assert!(next[0].position > cursor);

    let only = TypeFilter(Some(vec![EventType::ContactUpdated]));
    let updates = outbox::feed(db.read(), ws, &only, None, 10).await.unwrap();
    assert_eq!(updates.iter().map(|e| e.id).collect::<Vec<EventId>>(), vec![fast.id]);
    let other = workspace(&db).await;
    assert!(outbox::feed(db.read(), other, &all, None, 10).await.unwrap().is_empty());
    // Retention removes what is older than the cut.
    let removed = outbox::purge_before(db.read(), at + chrono::Duration::seconds(1))
        .await
        .unwrap();
    assert_eq!(removed, 2);
}

async fn an_idempotency_key_is_claimed_once_and_replays_its_response(db: Db) {
    let ws = workspace(&db).await;
    let now = rapport_store::now();
    // A claim lasts minutes; an answered key is kept a day.
    let claim_for = chrono::Duration::minutes(5);
    let keep = chrono::Duration::hours(24);
    idempotency::claim(db.read(), ws, "api_client:a", "k", "h1", now, claim_for)
        .await
        .unwrap();
    let again = idempotency::claim(db.read(), ws, "api_client:a", "k", "h1", now, claim_for).await;
    assert!(matches!(again, Err(StoreError::Conflict { .. })));
    // Another principal has its own key space.
    idempotency::claim(db.read(), ws, "api_client:b", "k", "h2", now, claim_for)
        .await
        .unwrap();
    let pending = idempotency::get(db.read(), ws, "api_client:a", "k", now)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(pending.response, None);
    let response = StoredResponse {
        status: 201,
        headers: vec![("location".into(), "/v1/contacts/x".into())],
        body: b"{\"id\":1}".to_vec(),
    };
    idempotency::complete(db.read(), ws, "api_client:a", "k", &response, now + keep)
        .await
        .unwrap();
    let done = idempotency::get(db.read(), ws, "api_client:a", "k", now + claim_for * 2)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(done.request_hash, "h1");
    assert_eq!(done.response, Some(response));
    // A claim never answered (its request was cut off) frees its key after a few minutes.
    let abandoned = now + claim_for + chrono::Duration::seconds(1);
    idempotency::claim(db.read(), ws, "api_client:b", "k", "h2", abandoned, claim_for)
        .await
        .unwrap();
    // Once expired, an answer is gone for readers and the key can be claimed again.
    let later = now + keep + chrono::Duration::seconds(1);
    assert!(
        idempotency::get(db.read(), ws, "api_client:a", "k", later)
            .await
            .unwrap()
            .is_none()
    );
    idempotency::claim(db.read(), ws, "api_client:a", "k", "h3", later, claim_for)
        .await
        .unwrap();
    assert_eq!(
        idempotency::purge_expired(db.read(), later + keep + keep)
            .await
            .unwrap(),
        2
    );
}

async fn an_instance_secret_is_generated_once(db: Db) {
    let a = secrets::get_or_create(db.read(), "k", || "first".into()).await.unwrap();
    let b = secrets::get_or_create(db.read(), "k", || "second".into())
        .await
        .unwrap();
    assert_eq!((a.as_str(), b.as_str()), ("first", "first"));
}

async fn migrating_twice_changes_nothing(db: Db) {
    db.migrate().await.unwrap();
    assert!(db.is_migrated().await.unwrap());
    db.ping().await.unwrap();
}

on_both!(
    a_company_domain_is_unique_in_its_workspace,
    attribute_use_is_detected_in_json_on_both_databases,
    lifecycle_history_is_listed_oldest_first,
    events_are_kept_in_order_per_workspace,
    the_feed_shows_events_in_commit_order_and_never_skips_a_late_commit,
    an_idempotency_key_is_claimed_once_and_replays_its_response,
    an_instance_secret_is_generated_once,
    migrating_twice_changes_nothing,
);
