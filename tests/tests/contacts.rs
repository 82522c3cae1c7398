//! Contacts over REST: create, read, merge-patch, delete, upserts, batches, tags, custom
//! attributes, list filters and pagination, and the events every change writes.

// Test bodies run through `on_both!`, outside `#[test]` fns, where a failed unwrap is the
// intended test failure.
#![allow(clippy::unwrap_used)]

use rapport_tests::{Api, Backend, NOWHERE, Reply, Server, TestDb, events_about, id_of, on_both, on_both_dbs, pick};
use reqwest::Method;
use serde_json::{Value, json};
use sqlx::Connection;

/// The calls these tests make beyond plain requests.
trait ContactCalls {
    /// A PATCH sent as `application/merge-patch+json`, with `If-Match` when given.
    async fn merge(&self, id: &str, body: &Value, if_match: Option<&str>) -> Reply;
    /// A conditional GET of a contact.
    async fn get_unless(&self, id: &str, etag: &str) -> Reply;
    /// Creates a contact; returns its id.
    async fn contact(&self, body: Value) -> String;
    /// One page of `GET /v1/contacts` with this query string.
    async fn list_page(&self, query: &str) -> Reply;
    /// The ids of one page of `GET /v1/contacts`.
    async fn list(&self, query: &str) -> Vec<String>;
    /// The ids found by the search `q`.
    async fn search(&self, q: &str) -> Vec<String>;
    /// Walks every page in `sort` order, three at a time; returns the ids.
    async fn walk(&self, sort: &str) -> Vec<String>;
    /// Declares a contact attribute.
    async fn define(&self, key: &str, kind: &str, options: &[&str]) -> Reply;
}

impl ContactCalls for Api<'_> {
    async fn merge(&self, id: &str, body: &Value, if_match: Option<&str>) -> Reply {
        let mut r = self.0.req(Method::PATCH, &path(id), &self.1);
        if let Some(tag) = if_match {
            r = r.header("if-match", tag);
        }
        r = r.header("content-type", "application/merge-patch+json");
        Reply::from(r.body(body.to_string()).send().await.unwrap()).await
    }

    async fn get_unless(&self, id: &str, etag: &str) -> Reply {
        let r = self.0.req(Method::GET, &path(id), &self.1);
        Reply::from(r.header("if-none-match", etag).send().await.unwrap()).await
    }

    async fn contact(&self, body: Value) -> String {
        let r = self.post("/v1/contacts", body).await;
        assert_eq!(r.status, 201, "{}", r.body);
        id_of(&r.body)
    }

    async fn list_page(&self, query: &str) -> Reply {
        self.get(&format!("/v1/contacts?{query}")).await
    }

    async fn list(&self, query: &str) -> Vec<String> {
        let r = self.list_page(query).await;
        assert_eq!(r.status, 200, "{}", r.body);
        r.body["data"].as_array().unwrap().iter().map(id_of).collect()
    }

    async fn search(&self, q: &str) -> Vec<String> {
        let r = self.0.req(Method::GET, "/v1/contacts", &self.1).query(&[("q", q)]);
        let r = Reply::from(r.send().await.unwrap()).await;
        assert_eq!(r.status, 200, "{}", r.body);
        r.body["data"].as_array().unwrap().iter().map(id_of).collect()
    }

    async fn walk(&self, sort: &str) -> Vec<String> {
        let (mut seen, mut after) = (Vec::new(), String::new());
        for _ in 0..10 {
            let r = self.list_page(&format!("limit=3&sort={sort}{after}")).await;
            seen.extend(r.body["data"].as_array().unwrap().iter().map(id_of));
            if r.body["page"]["has_more"] == false {
                assert!(r.body["page"]["next_cursor"].is_null(), "{}", r.body);
                return seen;
            }
            after = format!("&after={}", r.body["page"]["next_cursor"].as_str().unwrap());
        }
        panic!("pagination did not end");
    }

    async fn define(&self, key: &str, kind: &str, options: &[&str]) -> Reply {
        let mut body = json!({"key": key, "label": key, "type": kind});
        if !options.is_empty() {
            body["options"] = json!(options);
        }
        self.post("/v1/attribute-definitions", body).await
    }
}

fn path(id: &str) -> String {
    format!("/v1/contacts/{id}")
}

/// Every field error of a problem as "pointer code", sorted.
fn field_errors(problem: &Value) -> Vec<String> {
    let text = |e: &Value, key: &str| e[key].as_str().unwrap().to_owned();
    let errors = problem["errors"].as_array().unwrap().iter();
    let mut v: Vec<String> = errors.map(|e| text(e, "pointer") + " " + &text(e, "code")).collect();
    v.sort();
    v
}

/// The actor columns of every event in the outbox, oldest first.
async fn actors(s: &Server) -> Vec<(String, String)> {
    const SQL: &str = "SELECT actor_type, COALESCE(actor_id, '') FROM events ORDER BY id";
    match s.db.backend {
        Backend::Sqlite => {
            let mut c = sqlx::SqliteConnection::connect(&s.db.url).await.unwrap();
            sqlx::query_as(SQL).fetch_all(&mut c).await.unwrap()
        }
        Backend::Postgres => {
            let mut c = sqlx::PgConnection::connect(&s.db.url).await.unwrap();
            sqlx::query_as(SQL).fetch_all(&mut c).await.unwrap()
        }
    }
}

async fn a_new_contact_is_normalised_and_one_without_any_identity_is_refused(s: Server) {
    let api = Api::admin(&s).await;
    let body = json!({"email": " Ada@Example.COM ", "phone": "+49 (30) 1234-5678", "first_name": "Ada",
        "tags": ["VIP", "vip", " Newsletter "], "country": "de", "locale": "en_gb"});
    let r = api.post("/v1/contacts", body).await;
    assert_eq!(r.status, 201, "{}", r.body);
    let id = id_of(&r.body);
    assert_eq!(r.header("location"), Some(path(&id).as_str()));
    assert_eq!(r.header("etag"), Some("\"1\""));
    let expected = json!({"email": "Ada@example.com", "phone": "+493012345678", "tags": ["newsletter", "vip"],
        "country": "DE", "locale": "en-GB", "lifecycle_stage": "subscriber", "highest_stage": "subscriber", "version": 1});
    assert_eq!(pick(&r.body, &expected), expected);
    assert_eq!(api.get(&path(&id)).await.body, r.body);
    let bodies = json!([{}, {"country": "DE", "tags": ["x"]}, {"email": " ", "first_name": ""}]);
    for body in bodies.as_array().unwrap() {
        let r = api.post("/v1/contacts", body.clone()).await;
        r.problem(422, "validation_failed");
        assert_eq!(field_errors(&r.body), [" identity_required"]);
    }
    assert_eq!(api.list("").await, [id]);
}

async fn a_merge_patch_keeps_absent_fields_clears_nulls_and_raises_the_version(s: Server) {
    let api = Api::admin(&s).await;
    let body = json!({"email": "ada@example.com", "first_name": "Ada", "last_name": "Byron"});
    let id = api.contact(body).await;
    let change = json!({"first_name": "Augusta", "last_name": null, "phone": "+44 20 7946 0000"});
    let r = api.merge(&id, &change, None).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.header("etag"), Some("\"2\""));
    let expected = json!({"email": "ada@example.com", "first_name": "Augusta", "last_name": null,
        "phone": "+442079460000", "version": 2});
    assert_eq!(pick(&r.body, &expected), expected);
    let r = api.patch(&path(&id), json!({"last_name": "King", "phone": null})).await;
    assert_eq!(r.header("etag"), Some("\"3\""));
    let expected = json!({"first_name": "Augusta", "last_name": "King", "phone": null, "version": 3});
    assert_eq!(pick(&r.body, &expected), expected);
    assert_eq!(api.get(&path(&id)).await.body, r.body);
}

async fn null_for_a_whole_map_removes_every_entry(s: Server) {
    let api = Api::admin(&s).await;
    assert_eq!(api.define("tier", "string", &[]).await.status, 201);
    let body =
        json!({"email": "ada@example.com", "external_ids": {"shop": "1", "erp": "2"}, "attributes": {"tier": "a"}});
    let id = api.contact(body).await;
    let r = api
        .merge(&id, &json!({"external_ids": null, "attributes": null}), None)
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        (&r.body["external_ids"], &r.body["attributes"]),
        (&json!({}), &json!({}))
    );
    api.get("/v1/contacts/by-external-id/shop/1")
        .await
        .problem(404, "not_found");
}

async fn a_stale_if_match_fails_and_a_current_if_none_match_answers_not_modified(s: Server) {
    let api = Api::admin(&s).await;
    let id = api.contact(json!({"email": "ada@example.com"})).await;
    let r = api.get_unless(&id, "\"1\"").await;
    assert_eq!((r.status.as_u16(), r.header("etag")), (304, Some("\"1\"")));
    assert!(r.body.is_null());
    let ok = api.merge(&id, &json!({"first_name": "Ada"}), Some("\"1\"")).await;
    assert_eq!(ok.status, 200, "{}", ok.body);
    let stale = api.merge(&id, &json!({"first_name": "Eve"}), Some("\"1\"")).await;
    stale.problem(412, "precondition_failed");
    assert_eq!(stale.body["current_version"], 2);
    let r = api.get_unless(&id, "\"1\"").await;
    assert_eq!((r.status.as_u16(), &r.body["first_name"]), (200, &json!("Ada")));
    assert_eq!(api.get_unless(&id, "\"2\"").await.status, 304);
}

async fn a_patch_that_changes_nothing_keeps_the_version_and_emits_nothing(s: Server) {
    let api = Api::admin(&s).await;
    let body = json!({"email": "ada@example.com", "first_name": "Ada", "tags": ["vip"]});
    let id = api.contact(body).await;
    let same = json!({"email": "ada@EXAMPLE.com", "first_name": " Ada ", "tags": ["VIP"], "last_name": null});
    let r = api.merge(&id, &same, None).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!((r.header("etag"), &r.body["version"]), (Some("\"1\""), &json!(1)));
    assert!(events_about(&s, "contact.updated", &id).await.is_empty());
}

async fn a_deleted_contact_is_gone_and_frees_its_email_and_external_ids(s: Server) {
    let api = Api::admin(&s).await;
    let body = json!({"email": "ada@example.com", "external_ids": {"shop": "1"}, "tags": ["vip"]});
    let id = api.contact(body.clone()).await;
    assert_eq!(api.delete(&path(&id)).await.status, 204);
    api.get(&path(&id)).await.problem(404, "not_found");
    api.delete(&path(&id)).await.problem(404, "not_found");
    let deleted = events_about(&s, "contact.deleted", &id).await;
    assert_eq!(deleted.len(), 1);
    assert_eq!(deleted[0]["object"]["email"], "ada@example.com");
    assert!(api.list("tag=vip").await.is_empty());
    let again = api.contact(body).await;
    let found = api.get("/v1/contacts/by-external-id/shop/1").await;
    assert_eq!(id_of(&found.body), again);
}

async fn a_taken_email_or_external_id_conflicts_and_names_the_holder(s: Server) {
    let api = Api::admin(&s).await;
    let body = json!({"email": "ada@example.com", "external_ids": {"shop": "7"}});
    let ada = api.contact(body).await;
    let bob = api.contact(json!({"email": "bob@example.com"})).await;
    let attempts = [
        api.post("/v1/contacts", json!({"email": "ADA@example.com"})).await,
        api.post("/v1/contacts", json!({"external_ids": {"shop": "7"}})).await,
        api.patch(&path(&bob), json!({"email": "Ada@Example.com"})).await,
        api.patch(&path(&bob), json!({"external_ids": {"shop": "7"}})).await,
    ];
    for r in attempts {
        r.problem(409, "conflict");
        assert_eq!(r.body["existing_id"], ada.as_str());
    }
    assert_eq!(api.list("").await, [ada, bob.clone()]);
    assert_eq!(api.get(&path(&bob)).await.body["version"], 1);
}

async fn an_upsert_by_email_creates_once_then_updates_the_same_contact(s: Server) {
    let api = Api::admin(&s).await;
    let lower = "/v1/contacts/by-email/ada@example.com";
    let upper = "/v1/contacts/by-email/ada@EXAMPLE.com";
    let first = api.put(lower, json!({"first_name": "Ada"})).await;
    assert_eq!(first.status, 201, "{}", first.body);
    let id = id_of(&first.body);
    assert_eq!(first.header("location"), Some(path(&id).as_str()));
    let second = api.put(upper, json!({"last_name": "Lovelace"})).await;
    assert_eq!(second.status, 200, "{}", second.body);
    // The stored address keeps its case: a sync sending another case changes nothing.
    let expected =
        json!({"id": id, "email": "ada@example.com", "first_name": "Ada", "last_name": "Lovelace", "version": 2});
    assert_eq!(pick(&second.body, &expected), expected);
    let again = api.put(upper, json!({"last_name": "Lovelace"})).await;
    assert_eq!((again.status.as_u16(), again.body), (200, second.body));
    assert_eq!(events_about(&s, "contact.updated", &id).await.len(), 1);
    let r = api.put(lower, json!({"email": "eve@example.com"})).await;
    r.problem(422, "validation_failed");
    assert_eq!(r.pointers(), ["/email"]);
    assert_eq!(api.list("").await, [id]);
}

async fn an_upsert_by_external_id_creates_or_attaches_to_the_contact_with_that_email(s: Server) {
    let api = Api::admin(&s).await;
    let first = "/v1/contacts/by-external-id/shop/1";
    let second = "/v1/contacts/by-external-id/shop/2";
    let r = api.put(first, json!({"email": "ada@example.com"})).await;
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(r.body["external_ids"], json!({"shop": "1"}));
    let body = json!({"email": "bob@example.com", "first_name": "Bob"});
    let bob = api.contact(body).await;
    let r = api.put(second, json!({"email": "bob@example.com"})).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let expected = json!({"id": bob, "first_name": "Bob", "external_ids": {"shop": "2"}, "version": 2});
    assert_eq!(pick(&r.body, &expected), expected);
    assert_eq!(api.list("").await.len(), 2);
    let r = api.put(second, json!({"external_ids": {"shop": "9"}})).await;
    r.problem(422, "validation_failed");
    assert_eq!(r.pointers(), ["/external_ids/shop"]);
}

async fn contacts_are_found_by_email_in_any_case_and_by_external_id(s: Server) {
    let api = Api::admin(&s).await;
    let body = json!({"email": "Ada+crm@example.com", "external_ids": {"erp": "A-1"}});
    let id = api.contact(body).await;
    for p in "by-email/ada+crm@EXAMPLE.COM by-email/ADA+CRM@example.com by-external-id/erp/A-1".split(' ') {
        let r = api.get(&format!("/v1/contacts/{p}")).await;
        assert_eq!(r.status, 200, "{p}: {}", r.body);
        assert_eq!((id_of(&r.body), r.header("etag")), (id.clone(), Some("\"1\"")));
    }
    for p in "by-email/ada@example.com by-external-id/erp/A-2 by-external-id/crm/A-1".split(' ') {
        api.get(&format!("/v1/contacts/{p}")).await.problem(404, "not_found");
    }
}

async fn a_batch_reports_every_item_in_order_and_commits_the_valid_ones(s: Server) {
    let api = Api::admin(&s).await;
    let body = json!({"email": "alice@example.com", "first_name": "Alice"});
    let alice = api.contact(body).await;
    let body = json!({"first_name": "Bob", "external_ids": {"erp": "B1"}});
    let bob = api.contact(body).await;
    let items = json!([
        {"email": "new@example.com", "first_name": "New"},
        {"email": "ALICE@example.com", "last_name": "Liddell"},
        {"external_ids": {"erp": "B1"}, "first_name": "Bob"},
        {"email": "not-an-email"},
        {"email": 5},
        {"email": "x@example.com", "nickname": "x"},
        {"external_ids": {"erp": "B1"}, "phone": "+44 20 7946 0000"},
        {"external_ids": {"erp": "B1"}, "email": "alice@example.com"},
        {"email": "new@example.com", "first_name": "New"},
        {"email": "z@example.com", "company_id": NOWHERE},
    ]);
    let r = api.post("/v1/contacts/batch", json!({"items": items})).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let results = r.body["results"].as_array().unwrap();
    let statuses: Vec<&str> = results.iter().map(|x| x["status"].as_str().unwrap()).collect();
    let expected = "created updated unchanged failed failed failed updated failed unchanged failed";
    assert_eq!(statuses, expected.split(' ').collect::<Vec<_>>());
    assert!(results.iter().enumerate().all(|(i, x)| x["index"] == i));
    let counts = ["created", "updated", "unchanged", "failed"].map(|k| r.body[k].as_u64().unwrap());
    assert_eq!(counts, [1, 2, 2, 5]);
    let invalid = "3/email invalid_format,4/email wrong_type,5/nickname unknown_field,9/company_id not_found";
    for error in invalid.split(',') {
        let x = &results[error[..1].parse::<usize>().unwrap()];
        assert_eq!(x["error"]["code"], "validation_failed", "{x}");
        assert_eq!(field_errors(&x["error"]), [format!("/items/{error}")]);
        assert!(x["contact"].is_null());
    }
    assert_eq!(results[7]["error"]["code"], "conflict");
    assert_eq!(results[7]["error"]["existing_id"], alice.as_str());
    assert_eq!(results[6]["contact"]["id"], bob.as_str());
    assert_eq!(results[8]["contact"]["id"], results[0]["contact"]["id"]);
    let new = api.get("/v1/contacts/by-email/new@example.com").await;
    assert_eq!(new.body["first_name"], "New");
    assert_eq!(api.get(&path(&alice)).await.body["last_name"], "Liddell");
    let expected = json!({"phone": "+442079460000", "email": null, "version": 2});
    assert_eq!(pick(&api.get(&path(&bob)).await.body, &expected), expected);
    assert_eq!(api.list("").await.len(), 3);
}

async fn a_batch_resolves_external_ids_within_their_own_source(s: Server) {
    let api = Api::admin(&s).await;
    let shop = api
        .contact(json!({"email": "shop@example.com", "external_ids": {"shop": "42"}}))
        .await;
    let erp = api
        .contact(json!({"email": "erp@example.com", "external_ids": {"erp": "42", "pos": "7"}}))
        .await;
    let items = json!([
        {"external_ids": {"erp": "42"}, "first_name": "Erp"},
        {"external_ids": {"shop": "42"}, "first_name": "Shop"},
        {"external_ids": {"pos": "42"}, "first_name": "Pos"},
        {"external_ids": {"shop": "7", "pos": "7"}, "last_name": "Seven"},
    ]);
    let r = api.post("/v1/contacts/batch", json!({"items": items})).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let results = r.body["results"].as_array().unwrap();
    let statuses: Vec<&str> = results.iter().map(|x| x["status"].as_str().unwrap()).collect();
    assert_eq!(statuses, ["updated", "updated", "created", "updated"]);
    assert_eq!(results[0]["contact"]["id"], erp.as_str());
    assert_eq!(results[1]["contact"]["id"], shop.as_str());
    assert_eq!(results[3]["contact"]["id"], erp.as_str());
    assert_eq!(api.get(&path(&shop)).await.body["first_name"], "Shop");
    let expected =
        json!({"first_name": "Erp", "last_name": "Seven", "external_ids": {"erp": "42", "pos": "7", "shop": "7"}});
    assert_eq!(pick(&api.get(&path(&erp)).await.body, &expected), expected);
    assert_eq!(api.list("").await.len(), 3);
}

async fn a_batch_can_answer_with_ids_and_versions_only(s: Server) {
    let api = Api::admin(&s).await;
    let body = json!({"items": [{"email": "ada@example.com"}, {"email": "nope"}]});
    let r = api
        .0
        .req(Method::POST, "/v1/contacts/batch", &api.1)
        .header("prefer", "return=minimal")
        .json(&body);
    let r = Reply::from(r.send().await.unwrap()).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.header("preference-applied"), Some("return=minimal"));
    let first = &r.body["results"][0];
    assert_eq!((&first["status"], &first["version"]), (&json!("created"), &json!(1)));
    assert!(first["id"].is_string() && first.get("contact").is_none(), "{first}");
    assert_eq!(r.body["results"][1]["error"]["code"], "validation_failed");
    let full = api
        .post(
            "/v1/contacts/batch",
            json!({"items": [{"email": "ada@example.com", "first_name": "Ada"}]}),
        )
        .await;
    assert_eq!(full.body["results"][0]["contact"]["first_name"], "Ada");
}

async fn batches_beyond_the_allowed_turns_wait_and_all_complete(db: TestDb) {
    let s = Server::start_on(db, &[("RAPPORT_BATCH_CONCURRENCY", "1")]).await;
    let api = Api::admin(&s).await;
    let batch = |k: usize| {
        let items: Vec<Value> = (0..200)
            .map(|i| json!({"email": format!("b{k}-{i}@turns.example"), "tags": [format!("t{k}")]}))
            .collect();
        api.post("/v1/contacts/batch", json!({"items": items}))
    };
    let replies: [Reply; 4] = tokio::join!(batch(0), batch(1), batch(2), batch(3)).into();
    for r in replies {
        assert_eq!(r.status, 200, "{}", r.body);
        assert_eq!((&r.body["created"], &r.body["failed"]), (&json!(200), &json!(0)));
    }
    for k in 0..4 {
        let r = api.list_page(&format!("tag=t{k}&limit=200")).await;
        assert_eq!(r.body["data"].as_array().map(Vec::len), Some(200), "batch {k}");
    }
}

async fn a_batch_of_more_than_a_thousand_items_is_refused_whole(s: Server) {
    let api = Api::admin(&s).await;
    let items: Vec<Value> = (0..1001).map(|i| json!({"email": format!("p{i}@x.io")})).collect();
    let r = api.post("/v1/contacts/batch", json!({"items": items})).await;
    r.problem(422, "validation_failed");
    assert_eq!(r.pointers(), ["/items"]);
    assert!(api.list("").await.is_empty());
}

async fn tags_are_added_and_removed_in_one_step(s: Server) {
    let api = Api::admin(&s).await;
    let body = json!({"email": "ada@example.com", "tags": ["a", "b"]});
    let id = api.contact(body).await;
    let tags = format!("{}/tags", path(&id));
    let r = api.post(&tags, json!({"add": ["D", "c", "d"], "remove": ["A"]})).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let expected = json!({"tags": ["b", "c", "d"], "version": 2});
    assert_eq!(pick(&r.body, &expected), expected);
    let again = api.post(&tags, json!({"add": ["c"], "remove": ["a"]})).await;
    assert_eq!(pick(&again.body, &expected), expected);
    let bad = api.post(&tags, json!({"add": ["  "]})).await;
    bad.problem(422, "validation_failed");
    assert_eq!(bad.pointers(), ["/add/0"]);
    assert_eq!(api.list("tag=d").await, [id.as_str()]);
    assert!(api.list("tag=a").await.is_empty());
}

async fn custom_attributes_are_checked_against_their_definitions(s: Server) {
    let api = Api::admin(&s).await;
    let writer = Api::with(&s, "contacts:read contacts:write").await;
    let refused = writer.define("tier", "string", &[]).await;
    refused.problem(403, "insufficient_scope");
    let definer = Api::with(&s, "attributes:write").await;
    assert_eq!(definer.define("tier", "enum", &["gold", "silver"]).await.status, 201);
    for definition in "score:number vip:boolean since:date nickname:string".split(' ') {
        let (key, kind) = definition.split_once(':').unwrap();
        assert_eq!(api.define(key, kind, &[]).await.status, 201);
    }
    let attributes = json!({"tier": "gold", "score": 4.5, "vip": true, "since": "2024-02-29", "nickname": "Ada"});
    let body = json!({"email": "a@example.com", "attributes": attributes});
    let r = writer.post("/v1/contacts", body).await;
    assert_eq!(r.body["attributes"], attributes, "{}", r.body);
    let id = id_of(&r.body);
    let bad = json!({"tier": "bronze", "score": "high", "vip": 1, "since": "2023-02-29", "colour": "red"});
    let r = writer.patch(&path(&id), json!({"attributes": bad})).await;
    r.problem(422, "validation_failed");
    let codes = "colour unknown_attribute,score wrong_type,since invalid_format,tier not_an_option,vip wrong_type";
    let expected: Vec<String> = codes.split(',').map(|e| format!("/attributes/{e}")).collect();
    assert_eq!(field_errors(&r.body), expected);
    let change = json!({"attributes": {"tier": null, "score": 5}});
    let r = writer.patch(&path(&id), change).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let expected = json!({"score": 5, "vip": true, "since": "2024-02-29", "nickname": "Ada"});
    assert_eq!(r.body["attributes"], expected);
}

async fn definitions_and_enum_options_in_use_cannot_be_removed(s: Server) {
    let api = Api::admin(&s).await;
    let tier = id_of(&api.define("tier", "enum", &["gold", "silver", "bronze"]).await.body);
    let unused = id_of(&api.define("nickname", "string", &[]).await.body);
    let body = json!({"email": "a@example.com", "attributes": {"tier": "gold"}});
    let ada = api.contact(body).await;
    let tier = format!("/v1/attribute-definitions/{tier}");
    api.delete(&tier).await.problem(409, "in_use");
    let r = api.patch(&tier, json!({"options": ["silver", "bronze"]})).await;
    r.problem(409, "in_use");
    let r = api.patch(&tier, json!({"options": ["gold", "silver"]})).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["options"], json!(["gold", "silver"]));
    let r = api.delete(&format!("/v1/attribute-definitions/{unused}")).await;
    assert_eq!(r.status, 204);
    api.patch(&path(&ada), json!({"attributes": {"tier": null}})).await;
    assert_eq!(api.delete(&tier).await.status, 204);
}

async fn lists_filter_by_stage_tag_email_company_and_update_time(s: Server) {
    let api = Api::admin(&s).await;
    let acme = id_of(&api.post("/v1/companies", json!({"name": "Acme"})).await.body);
    let body = json!({"email": "a@example.com", "tags": ["VIP"], "company_id": acme});
    let ada = api.contact(body).await;
    let body = json!({"email": "b@example.com", "lifecycle_stage": "lead"});
    let bob = api.contact(body).await;
    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    let bob_now = api.patch(&path(&bob), json!({"first_name": "Bob"})).await;
    let since = bob_now.body["updated_at"].as_str().unwrap();
    let (ada, bob) = (ada.as_str(), bob.as_str());
    assert_eq!(api.list("stage=lead").await, [bob]);
    assert_eq!(api.list("tag=vip").await, [ada]);
    assert_eq!(api.list("email=A@Example.com").await, [ada]);
    assert_eq!(api.list(&format!("company_id={acme}")).await, [ada]);
    assert_eq!(api.list(&format!("updated_since={since}")).await, [bob]);
    let long_ago = api.list("updated_since=2000-01-01T00:00:00%2B01:00").await;
    assert_eq!(long_ago, [ada, bob]);
    assert!(api.list("stage=customer").await.is_empty());
    assert!(api.list("tag=vip&stage=lead").await.is_empty());
}

async fn a_search_needs_every_word_to_match_a_name_or_the_email(s: Server) {
    let api = Api::admin(&s).await;
    let people = json!([
        {"first_name": "Ada", "last_name": "Lovelace", "email": "al@maths.example"},
        {"first_name": "Ada", "last_name": "Byron", "email": "ab@poets.example"},
        {"first_name": "Charles", "last_name": "Babbage", "email": "cb@maths.example"},
    ]);
    let mut ids = Vec::new();
    for p in people.as_array().unwrap() {
        ids.push(api.contact(p.clone()).await);
    }
    let [lovelace, byron, babbage] = [0, 1, 2].map(|i| ids[i].as_str());
    assert_eq!(api.search("ada").await, [lovelace, byron]);
    assert_eq!(api.search("ADA love").await, [lovelace]);
    assert_eq!(api.search("maths").await, [lovelace, babbage]);
    assert_eq!(api.search("byron POETS").await, [byron]);
    assert_eq!(api.search("bab").await, [babbage]);
    for nothing in ["charles ada", "%", "_", "a%e"] {
        assert!(api.search(nothing).await.is_empty(), "{nothing}");
    }
}

async fn a_search_ignores_case_beyond_ascii(s: Server) {
    let api = Api::admin(&s).await;
    let id = api
        .contact(json!({"first_name": "Élodie", "last_name": "Ørsted"}))
        .await;
    for q in ["Élodie", "élodie", "ÉLODIE", "ørsted", "ØRSTED"] {
        assert_eq!(api.search(q).await, [id.as_str()], "q={q}");
    }
}

async fn pages_walk_every_contact_exactly_once_in_either_order(s: Server) {
    let api = Api::admin(&s).await;
    let acme = id_of(&api.post("/v1/companies", json!({"name": "Acme"})).await.body);
    let mut ids = Vec::new();
    for i in 0..7 {
        let company = if (3..6).contains(&i) { json!(acme) } else { Value::Null };
        let body = json!({"email": format!("p{i}@example.com"), "company_id": company});
        ids.push(api.contact(body).await);
    }
    // Unlinking gives contacts 3, 4 and 5 one shared update time: ties are broken by id.
    assert_eq!(api.delete(&format!("/v1/companies/{acme}")).await.status, 204);
    for i in [2, 0] {
        api.patch(&path(&ids[i]), json!({"first_name": "Moved"})).await;
    }
    let nth = |order: [usize; 7]| order.map(|i| ids[i].clone()).to_vec();
    assert_eq!(api.walk("created_at").await, ids);
    assert_eq!(api.walk("-created_at").await, nth([6, 5, 4, 3, 2, 1, 0]));
    assert_eq!(api.walk("-updated_at").await, nth([0, 2, 5, 4, 3, 6, 1]));
    assert_eq!(api.walk("updated_at").await, nth([1, 6, 3, 4, 5, 2, 0]));
}

async fn bad_cursors_limits_and_parameters_are_refused(s: Server) {
    let api = Api::admin(&s).await;
    for i in 0..3 {
        api.contact(json!({"email": format!("p{i}@example.com")})).await;
    }
    let first = api.list_page("limit=1&sort=created_at").await;
    let cursor = first.body["page"]["next_cursor"].as_str().unwrap();
    let other_sort = api.list_page(&format!("sort=-updated_at&after={cursor}")).await;
    other_sort.problem(400, "invalid_cursor");
    let garbage = api.list_page("after=garbage!").await;
    garbage.problem(400, "invalid_cursor");
    for query in "limit=0 limit=501 starting_after=x sort=email stage=vip updated_since=yesterday".split(' ') {
        let r = api.get(&format!("/v1/contacts?{query}")).await;
        r.problem(400, "invalid_query");
    }
    assert_eq!(api.list(&format!("limit=500&after={cursor}")).await.len(), 2);
}

async fn events_carry_the_object_its_changes_and_the_acting_client(s: Server) {
    let api = Api::admin(&s).await;
    let body = json!({"email": "a@example.com", "first_name": "Ada", "tags": ["a"]});
    let id = api.contact(body).await;
    let created = events_about(&s, "contact.created", &id).await;
    assert_eq!(created.len(), 1);
    assert_eq!(created[0]["object"], api.get(&path(&id)).await.body);
    let other = s.client(Some(s.admin.workspace_id.as_str()), "contacts:write");
    let other_api = Api(&s, s.token(&other).await);
    let change = json!({"first_name": "Augusta", "tags": ["a", "b"], "last_name": null});
    let r = other_api.patch(&path(&id), change).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let updated = events_about(&s, "contact.updated", &id).await;
    assert_eq!(updated.len(), 1);
    assert_eq!(updated[0]["changed_fields"], json!(["first_name", "tags"]));
    assert_eq!(updated[0]["previous"], json!({"first_name": "Ada", "tags": ["a"]}));
    assert_eq!(updated[0]["object"], r.body);
    let actors = actors(&s).await;
    let admin = ("api_client".to_owned(), s.admin.client_id.clone());
    assert_eq!(actors, [admin, ("api_client".to_owned(), other.client_id)]);
}

on_both!(
    a_batch_resolves_external_ids_within_their_own_source,
    a_batch_can_answer_with_ids_and_versions_only,
    null_for_a_whole_map_removes_every_entry,
    a_new_contact_is_normalised_and_one_without_any_identity_is_refused,
    a_merge_patch_keeps_absent_fields_clears_nulls_and_raises_the_version,
    a_stale_if_match_fails_and_a_current_if_none_match_answers_not_modified,
    a_patch_that_changes_nothing_keeps_the_version_and_emits_nothing,
    a_deleted_contact_is_gone_and_frees_its_email_and_external_ids,
    a_taken_email_or_external_id_conflicts_and_names_the_holder,
    an_upsert_by_email_creates_once_then_updates_the_same_contact,
    an_upsert_by_external_id_creates_or_attaches_to_the_contact_with_that_email,
    contacts_are_found_by_email_in_any_case_and_by_external_id,
    a_batch_reports_every_item_in_order_and_commits_the_valid_ones,
    a_batch_of_more_than_a_thousand_items_is_refused_whole,
    tags_are_added_and_removed_in_one_step,
    custom_attributes_are_checked_against_their_definitions,
    definitions_and_enum_options_in_use_cannot_be_removed,
    lists_filter_by_stage_tag_email_company_and_update_time,
    a_search_needs_every_word_to_match_a_name_or_the_email,
    a_search_ignores_case_beyond_ascii,
    pages_walk_every_contact_exactly_once_in_either_order,
    bad_cursors_limits_and_parameters_are_refused,
    events_carry_the_object_its_changes_and_the_acting_client,
);

on_both_dbs!(batches_beyond_the_allowed_turns_wait_and_all_complete);
