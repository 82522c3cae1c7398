//! Bulk batch upserts must do exactly what item-by-item upserts do: same outcome per
//! item, same errors, same stored contacts. Random batches over a small pool of emails
//! and external ids make duplicates, updates, conflicts and invalid items common.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use proptest::prelude::*;
use rapport_api::app::App;
use rapport_api::auth::Caller;
use rapport_api::config::Settings;
use rapport_api::dto::contacts::ContactWrite;
use rapport_api::error::ApiError;
use rapport_api::service::{self, Outcome};
use rapport_domain::event::{Actor, ActorKind};
use rapport_domain::scope::{Scope, ScopeSet};
use rapport_store::contacts::ContactFilter;
use rapport_store::page::Order;
use rapport_store::testing::{TestDb, workspace};
use serde_json::{Value, json};

fn item() -> impl Strategy<Value = Value> {
    let email = prop_oneof![
        Just(None),
        proptest::sample::select(vec!["a@x.io", "A@X.io", "b@x.io", "c@x.io", "not-an-email"]).prop_map(Some),
    ];
    let shop = prop_oneof![Just(None), (1..4u8).prop_map(Some)];
    let name = prop_oneof![
        Just(None),
        proptest::sample::select(vec!["Ann", "Bob", ""]).prop_map(Some)
    ];
    let tags = prop_oneof![
        Just(None),
        proptest::collection::vec(proptest::sample::select(vec!["vip", "b2b"]), 0..3).prop_map(Some)
    ];
    (email, shop, name, tags).prop_map(|(email, shop, name, tags)| {
        let mut v = json!({});
        if let Some(e) = email {
            v["email"] = json!(e);
        }
        if let Some(n) = shop {
            v["external_ids"] = json!({"shop": n.to_string()});
        }
        if let Some(n) = name {
            v["first_name"] = json!(n);
        }
        if let Some(t) = tags {
            v["tags"] = json!(t);
        }
        v
    })
}

fn inputs(items: &[Value]) -> Vec<Result<rapport_domain::contact::ContactInput, ApiError>> {
    items
        .iter()
        .map(|v| Ok(serde_json::from_value::<ContactWrite>(v.clone()).unwrap().into()))
        .collect()
}

fn caller(ws: rapport_domain::WorkspaceId) -> Caller {
    let actor = Actor {
        kind: ActorKind::ApiClient,
        id: Some("test".into()),
    };
    Caller::new(ws, ScopeSet::from_scopes([Scope::Admin]), actor)
}

/// What a batch did, without the ids and times that differ between two runs.
fn summary(results: &[service::upserts::ItemResult]) -> Vec<String> {
    results
        .iter()
        .map(|r| match r {
            Ok((c, o)) => format!(
                "{} {:?} v{}",
                match o {
                    Outcome::Created => "created",
                    Outcome::Updated => "updated",
                    Outcome::Unchanged => "unchanged",
                },
                c.email.as_ref().map(|e| e.as_str().to_owned()),
                c.version
            ),
            Err(e) => {
                let p = e.problem();
                let pointers: Vec<String> = p.errors.iter().map(|f| f.pointer.clone()).collect();
                format!("{} {pointers:?}", p.code)
            }
        })
        .collect()
}

/// The stored contacts of a workspace, comparable across workspaces.
async fn stored(app: &App, who: &Caller) -> Vec<String> {
    let page = service::contacts::list(app, who, &ContactFilter::default(), Order::default(), None, 500)
        .await
        .unwrap();
    let mut rows: Vec<String> = page
        .items
        .iter()
        .map(|c| {
            format!(
                "{:?} {:?} {:?} {:?} v{}",
                c.email.as_ref().map(|e| e.as_str().to_owned()),
                c.external_ids,
                c.first_name,
                c.tags,
                c.version
            )
        })
        .collect();
    rows.sort();
    rows
}

async fn agree(app: &App, setup: &[Value], batch: &[Value]) -> Result<(), TestCaseError> {
    let bulk = caller(workspace(&app.db).await);
    let careful = caller(workspace(&app.db).await);
    for who in [&bulk, &careful] {
        service::upserts::batch_upsert(app, who, inputs(setup)).await.unwrap();
    }
    let a = service::upserts::batch_upsert(app, &bulk, inputs(batch)).await.unwrap();
    let b = service::upserts::batch_upsert_one_by_one(app, &careful, inputs(batch))
        .await
        .unwrap();
    prop_assert_eq!(summary(&a), summary(&b));
    prop_assert_eq!(stored(app, &bulk).await, stored(app, &careful).await);
    Ok(())
}

fn run(db: &TestDb, cases: u32) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let app = rt
        .block_on(App::build(
            Settings::with_database("sqlite::memory:").unwrap(),
            db.db.clone(),
        ))
        .unwrap();
    let config = ProptestConfig {
        cases,
        ..ProptestConfig::default()
    };
    proptest!(config, |(setup in proptest::collection::vec(item(), 0..6), batch in proptest::collection::vec(item(), 1..14))| {
        rt.block_on(agree(&app, &setup, &batch))?;
    });
}

#[test]
fn bulk_and_item_by_item_batches_agree_on_sqlite() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let db = rt.block_on(TestDb::sqlite());
    run(&db, 64);
}

#[test]
fn bulk_and_item_by_item_batches_agree_on_postgres() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    if let Some(db) = rt.block_on(TestDb::postgres()) {
        run(&db, 24);
    }
}
