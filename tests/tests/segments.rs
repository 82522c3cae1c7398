//! Segments over REST: dynamic segments that follow every contact write, snapshots that
//! never change, static lists changed only by hand; the rule language's semantics and
//! the pointers of its errors; preview and contact search; membership history and its
//! events; refresh (on demand and periodic); tenant isolation and scopes.

// Test bodies run through `on_both!`, outside `#[test]` fns, where a failed unwrap is the
// intended test failure.
#![allow(clippy::unwrap_used)]

use std::time::Duration;

use chrono::{DateTime, SecondsFormat, TimeDelta, Utc};
use rapport_tests::{Api, NOWHERE, Reply, Server, TestDb, id_of, on_both, on_both_dbs, pick};
use reqwest::Method;
use serde_json::{Value, json};

const SEGMENTS: &str = "/v1/segments";
const PREVIEW: &str = "/v1/segments/preview";
const SEARCH: &str = "/v1/contacts/search";

/// The calls these tests make beyond plain requests.
trait SegmentCalls {
    /// Creates a contact; returns its id.
    async fn contact(&self, body: Value) -> String;
    /// Creates a segment, which must succeed; returns its representation.
    async fn segment(&self, body: Value) -> Value;
    /// Creates a dynamic segment with this rule; returns its id.
    async fn dynamic(&self, name: &str, rules: Value) -> String;
    /// Creates an empty static segment; returns its id.
    async fn list(&self, name: &str) -> String;
    /// Every member of a segment, walking its pages two at a time.
    async fn members(&self, id: &str) -> Vec<String>;
    /// `GET /v1/segments/{id}/count`.
    async fn count(&self, id: &str) -> u64;
    /// The pages of a contact search, `limit` at a time, each page's ids.
    async fn search_pages(&self, rules: &Value, limit: u64) -> Vec<Vec<String>>;
    /// Every contact a rule selects (searching two at a time).
    async fn matching(&self, rules: Value) -> Vec<String>;
    /// `GET /v1/contacts/{id}/segments`, which must succeed.
    async fn spans(&self, contact: &str) -> Vec<Value>;
    /// A request with `If-Match`.
    async fn send_if(&self, method: Method, path: &str, body: Option<Value>, tag: &str) -> Reply;
    /// `POST /v1/segments/{id}/members` (or `/members/remove`) with these ids.
    async fn change(&self, id: &str, add: bool, ids: &[&str]) -> Reply;
    /// The ids of a list at `path` (one page, which must succeed).
    async fn ids(&self, path: &str) -> Vec<String>;
}

impl SegmentCalls for Api<'_> {
    async fn contact(&self, body: Value) -> String {
        let r = self.post("/v1/contacts", body).await;
        assert_eq!(r.status, 201, "{}", r.body);
        id_of(&r.body)
    }

    async fn segment(&self, body: Value) -> Value {
        let r = self.post(SEGMENTS, body.clone()).await;
        assert_eq!(r.status, 201, "{body}: {}", r.body);
        r.body
    }

    async fn dynamic(&self, name: &str, rules: Value) -> String {
        id_of(&self.segment(json!({"name": name, "rules": rules})).await)
    }

    async fn list(&self, name: &str) -> String {
        id_of(&self.segment(json!({"name": name, "kind": "static"})).await)
    }

    async fn members(&self, id: &str) -> Vec<String> {
        let (mut seen, mut after) = (Vec::new(), String::new());
        for _ in 0..50 {
            let r = self.get(&format!("{}/members?limit=2{after}", seg(id))).await;
            assert_eq!(r.status, 200, "{}", r.body);
            seen.extend(r.body["data"].as_array().unwrap().iter().map(id_of));
            if r.body["page"]["has_more"] == false {
                return seen;
            }
            after = format!("&after={}", r.body["page"]["next_cursor"].as_str().unwrap());
        }
        panic!("the members of {id} never ended");
    }

    async fn count(&self, id: &str) -> u64 {
        let r = self.get(&format!("{}/count", seg(id))).await;
        assert_eq!(r.status, 200, "{}", r.body);
        r.body["count"].as_u64().unwrap()
    }

    async fn search_pages(&self, rules: &Value, limit: u64) -> Vec<Vec<String>> {
        let mut pages = Vec::new();
        let mut body = json!({"rules": rules, "limit": limit});
        for _ in 0..100 {
            let r = self.post(SEARCH, body.clone()).await;
            assert_eq!(r.status, 200, "{rules}: {}", r.body);
            pages.push(r.body["data"].as_array().unwrap().iter().map(id_of).collect());
            if r.body["page"]["has_more"] == false {
                assert!(r.body["page"]["next_cursor"].is_null(), "{}", r.body);
                return pages;
            }
            body["after"] = r.body["page"]["next_cursor"].clone();
        }
        panic!("the search {rules} never ended");
    }

    async fn matching(&self, rules: Value) -> Vec<String> {
        self.search_pages(&rules, 2).await.concat()
    }

    async fn spans(&self, contact: &str) -> Vec<Value> {
        let r = self.get(&format!("/v1/contacts/{contact}/segments")).await;
        assert_eq!(r.status, 200, "{}", r.body);
        r.body["data"].as_array().unwrap().clone()
    }

    async fn send_if(&self, method: Method, path: &str, body: Option<Value>, tag: &str) -> Reply {
        let mut r = self.0.req(method, path, &self.1).header("if-match", tag);
        if let Some(b) = body {
            r = r.json(&b);
        }
        Reply::from(r.send().await.unwrap()).await
    }

    async fn change(&self, id: &str, add: bool, ids: &[&str]) -> Reply {
        let path = if add {
            format!("{}/members", seg(id))
        } else {
            format!("{}/members/remove", seg(id))
        };
        self.post(&path, json!({ "contact_ids": ids })).await
    }

    async fn ids(&self, path: &str) -> Vec<String> {
        let r = self.get(path).await;
        assert_eq!(r.status, 200, "{path}: {}", r.body);
        r.body["data"].as_array().unwrap().iter().map(id_of).collect()
    }
}

fn seg(id: &str) -> String {
    format!("{SEGMENTS}/{id}")
}

/// Ids in the order lists give them (id order).
fn sorted<S: AsRef<str>>(ids: &[S]) -> Vec<String> {
    let mut v: Vec<String> = ids.iter().map(|s| s.as_ref().to_owned()).collect();
    v.sort();
    v
}

fn tagged(tag: &str) -> Value {
    json!({"field": "tags", "op": "contains", "value": tag})
}

fn at(v: &Value) -> DateTime<Utc> {
    v.as_str()
        .unwrap_or_else(|| panic!("not a timestamp: {v}"))
        .parse()
        .unwrap()
}

/// The `object` of each `kind` event (`segment.entered`/`segment.exited`) about the
/// segment `id`, oldest first.
async fn moves_of(s: &Server, kind: &str, id: &str) -> Vec<Value> {
    let all = s.events(kind).await;
    all.into_iter()
        .map(|(_, d)| d["object"].clone())
        .filter(|o| o["segment"]["id"] == id)
        .collect()
}

/// The contacts of each `kind` event about the segment `id`, oldest first.
async fn moves(s: &Server, kind: &str, id: &str) -> Vec<String> {
    let objects = moves_of(s, kind, id).await;
    objects
        .iter()
        .map(|o| o["contact_id"].as_str().unwrap().to_owned())
        .collect()
}

/// A contact's memberships as "segment-id:current|past", in the order given.
fn summary(spans: &[Value]) -> Vec<String> {
    spans
        .iter()
        .map(|m| {
            let state = if m["exited_at"].is_null() { "current" } else { "past" };
            format!("{}:{state}", m["segment"]["id"].as_str().unwrap())
        })
        .collect()
}

// ---------------------------------------------------------------------------------------
// Definitions

async fn a_dynamic_segment_is_filled_at_once_without_entry_events(s: Server) {
    let api = Api::admin(&s).await;
    let ada = api.contact(json!({"email": "ada@example.com", "tags": ["vip"]})).await;
    api.contact(json!({"email": "bob@example.com"})).await;
    let cy = api
        .contact(json!({"email": "cy@example.com", "tags": ["news", "VIP"]}))
        .await;
    let rules = tagged("vip");
    let r = api.post(SEGMENTS, json!({"name": "VIPs", "rules": rules})).await;
    assert_eq!(r.status, 201, "{}", r.body);
    let id = id_of(&r.body);
    assert_eq!(r.header("location"), Some(seg(&id).as_str()));
    assert_eq!(r.header("etag"), Some("\"1\""));
    let expected = json!({"name": "VIPs", "description": null, "kind": "dynamic", "rules": rules,
        "member_count": 2, "version": 1});
    assert_eq!(pick(&r.body, &expected), expected);
    assert!(at(&r.body["created_at"]) <= at(&r.body["updated_at"]), "{}", r.body);
    let read = api.get(&seg(&id)).await;
    assert_eq!((read.status.as_u16(), read.header("etag")), (200, Some("\"1\"")));
    assert_eq!(read.body, r.body);
    assert_eq!(api.get(&format!("{}/count", seg(&id))).await.body, json!({"count": 2}));
    assert_eq!(api.members(&id).await, sorted(&[&ada, &cy]));
    // Members are contacts, as the contact endpoints show them.
    let page = api.get(&format!("{}/members", seg(&id))).await;
    let first = &page.body["data"][0];
    assert_eq!(*first, api.get(&format!("/v1/contacts/{}", id_of(first))).await.body);
    assert!(
        moves(&s, "segment.entered", &id).await.is_empty(),
        "the initial fill wrote entry events"
    );
    api.get(&seg(NOWHERE)).await.problem(404, "not_found");
    api.get(&format!("{}/count", seg(NOWHERE)))
        .await
        .problem(404, "not_found");
    api.get(&format!("{}/members", seg(NOWHERE)))
        .await
        .problem(404, "not_found");
}

async fn each_kind_starts_as_documented_and_takes_rules_only_when_it_follows_them(s: Server) {
    let api = Api::admin(&s).await;
    let ada = api.contact(json!({"email": "ada@example.com", "tags": ["vip"]})).await;
    api.contact(json!({"email": "bob@example.com"})).await;
    let snap = api
        .segment(json!({"name": "VIPs today", "kind": "snapshot", "rules": tagged("vip")}))
        .await;
    let expected = json!({"kind": "snapshot", "member_count": 1, "rules": tagged("vip")});
    assert_eq!(pick(&snap, &expected), expected);
    assert_eq!(api.members(&id_of(&snap)).await, [ada.as_str()]);
    let list = api
        .segment(json!({"name": "Hand-picked", "kind": "static", "description": "Chosen"}))
        .await;
    let expected = json!({"kind": "static", "rules": null, "member_count": 0, "description": "Chosen"});
    assert_eq!(pick(&list, &expected), expected);
    assert!(api.members(&id_of(&list)).await.is_empty());

    let refused = json!([
        [{"name": "x", "kind": "static", "rules": tagged("vip")}, "/rules", "not_allowed"],
        [{"name": "x"}, "/rules", "required"],
        [{"name": "x", "kind": "dynamic", "rules": null}, "/rules", "required"],
        [{"name": "x", "kind": "snapshot"}, "/rules", "required"],
        [{"name": "x", "kind": "frozen", "rules": tagged("vip")}, "/kind", null],
        [{"name": "   ", "rules": tagged("vip")}, "/name", null],
    ]);
    for case in refused.as_array().unwrap() {
        let r = api.post(SEGMENTS, case[0].clone()).await;
        r.problem(422, "validation_failed");
        assert_eq!(r.pointers(), [case[1].as_str().unwrap()], "{}: {}", case[0], r.body);
        if let Some(code) = case[2].as_str() {
            assert_eq!(r.body["errors"][0]["code"], code, "{}: {}", case[0], r.body);
        }
    }
    assert_eq!(api.ids(SEGMENTS).await, [id_of(&snap), id_of(&list)]);
}

async fn segments_are_listed_in_creation_order_by_kind_and_paged(s: Server) {
    let api = Api::admin(&s).await;
    api.contact(json!({"email": "ada@example.com"})).await;
    let everyone = json!({"all": []});
    let d1 = api.dynamic("d1", everyone.clone()).await;
    let s1 = api.list("s1").await;
    let d2 = api.dynamic("d2", json!({"any": []})).await;
    let n1 = id_of(
        &api.segment(json!({"name": "n1", "kind": "snapshot", "rules": everyone}))
            .await,
    );
    let s2 = api.list("s2").await;
    let (mut seen, mut counts, mut after) = (Vec::new(), Vec::new(), String::new());
    for expect_more in [true, true, false] {
        let r = api.get(&format!("{SEGMENTS}?limit=2{after}")).await;
        assert_eq!(r.status, 200, "{}", r.body);
        assert_eq!(r.body["page"]["has_more"], expect_more, "{}", r.body);
        for item in r.body["data"].as_array().unwrap() {
            seen.push(id_of(item));
            counts.push(item["member_count"].as_u64().unwrap());
        }
        after = format!("&after={}", r.body["page"]["next_cursor"].as_str().unwrap_or_default());
    }
    assert_eq!(seen, [d1.as_str(), &s1, &d2, &n1, &s2]);
    assert_eq!(counts, [1, 0, 0, 1, 0]);
    assert_eq!(api.ids(&format!("{SEGMENTS}?kind=static")).await, [s1.as_str(), &s2]);
    assert_eq!(api.ids(&format!("{SEGMENTS}?kind=dynamic")).await, [d1.as_str(), &d2]);
    assert_eq!(api.ids(&format!("{SEGMENTS}?kind=snapshot")).await, [n1.as_str()]);
    for q in ["kind=frozen", "limit=0", "colour=red"] {
        let r = api.get(&format!("{SEGMENTS}?{q}")).await;
        r.problem(400, "invalid_query");
    }
    let r = api.get(&format!("{SEGMENTS}?after=garbage")).await;
    r.problem(400, "invalid_cursor");
}

async fn a_segment_is_renamed_and_described_under_preconditions_then_deleted(s: Server) {
    let api = Api::admin(&s).await;
    let ada = api.contact(json!({"email": "ada@example.com"})).await;
    let body = json!({"name": "Everyone", "description": "All of them", "rules": {"all": []}});
    let id = id_of(&api.segment(body).await);
    let path = seg(&id);
    let change = json!({"name": "Everybody", "description": null});
    let r = api.send_if(Method::PATCH, &path, Some(change), "\"1\"").await;
    assert_eq!(
        (r.status.as_u16(), r.header("etag")),
        (200, Some("\"2\"")),
        "{}",
        r.body
    );
    let expected = json!({"name": "Everybody", "description": null, "version": 2, "member_count": 1,
        "rules": {"all": []}});
    assert_eq!(pick(&r.body, &expected), expected);
    assert!(at(&r.body["updated_at"]) >= at(&r.body["created_at"]));
    let stale = json!({"description": "Again"});
    let r = api.send_if(Method::PATCH, &path, Some(stale), "\"1\"").await;
    r.problem(412, "precondition_failed");
    let r = api.patch(&path, json!({"name": "  "})).await;
    r.problem(422, "validation_failed");
    assert_eq!(r.pointers(), ["/name"]);
    let r = api.patch(&path, json!({"description": "Every contact"})).await;
    assert_eq!(
        (r.status.as_u16(), &r.body["description"]),
        (200, &json!("Every contact"))
    );
    assert_eq!(
        pick(&api.get(&path).await.body, &json!({"version": 3})),
        json!({"version": 3})
    );
    assert_eq!(summary(&api.spans(&ada).await), [format!("{id}:current")]);

    api.send_if(Method::DELETE, &path, None, "\"2\"")
        .await
        .problem(412, "precondition_failed");
    let r = api.send_if(Method::DELETE, &path, None, "\"3\"").await;
    assert_eq!(r.status, 204, "{}", r.body);
    api.get(&path).await.problem(404, "not_found");
    api.delete(&path).await.problem(404, "not_found");
    api.patch(&path, json!({"name": "Back"}))
        .await
        .problem(404, "not_found");
    assert!(api.ids(SEGMENTS).await.is_empty());
    assert!(
        api.spans(&ada).await.is_empty(),
        "a deleted segment's memberships remain"
    );
}

async fn a_new_rule_moves_the_members_of_a_dynamic_segment_with_events(s: Server) {
    let api = Api::admin(&s).await;
    let ada = api.contact(json!({"email": "ada@example.com", "tags": ["vip"]})).await;
    let bob = api
        .contact(json!({"email": "bob@example.com", "tags": ["vip", "gold"]}))
        .await;
    let cy = api.contact(json!({"email": "cy@example.com", "tags": ["gold"]})).await;
    let id = api.dynamic("Best", tagged("vip")).await;
    assert_eq!(api.members(&id).await, sorted(&[&ada, &bob]));
    let r = api.patch(&seg(&id), json!({"rules": tagged("gold")})).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let expected = json!({"rules": tagged("gold"), "member_count": 2, "version": 2});
    assert_eq!(pick(&r.body, &expected), expected);
    assert_eq!(api.members(&id).await, sorted(&[&bob, &cy]));
    assert_eq!(moves(&s, "segment.entered", &id).await, [cy.as_str()]);
    assert_eq!(moves(&s, "segment.exited", &id).await, [ada.as_str()]);
    let left = &moves_of(&s, "segment.exited", &id).await[0];
    let expected = json!({"segment": {"id": id, "name": "Best", "kind": "dynamic"}, "contact_id": ada});
    assert_eq!(pick(left, &expected), expected);
    assert!(at(&left["entered_at"]) <= at(&left["exited_at"]), "{left}");
    let ada_spans = api.spans(&ada).await;
    assert_eq!(summary(&ada_spans), [format!("{id}:past")]);
    assert_eq!(
        ada_spans[0]["segment"],
        json!({"id": id, "name": "Best", "kind": "dynamic"})
    );
    assert_eq!(at(&ada_spans[0]["exited_at"]), at(&left["exited_at"]));
    assert_eq!(summary(&api.spans(&cy).await), [format!("{id}:current")]);

    // A rule that does not parse changes nothing.
    let bad = json!({"field": "shoe_size", "op": "eq", "value": 42});
    let r = api.patch(&seg(&id), json!({"rules": bad})).await;
    r.problem(422, "validation_failed");
    assert_eq!(r.pointers(), ["/rules/field"]);
    assert_eq!(api.get(&seg(&id)).await.body["rules"], tagged("gold"));
    assert_eq!(api.members(&id).await, sorted(&[&bob, &cy]));
}

async fn the_rule_of_a_snapshot_or_static_segment_cannot_change(s: Server) {
    let api = Api::admin(&s).await;
    let ada = api.contact(json!({"email": "ada@example.com", "tags": ["vip"]})).await;
    let snap = id_of(
        &api.segment(json!({"name": "Then", "kind": "snapshot", "rules": tagged("vip")}))
            .await,
    );
    let list = api.list("Picked").await;
    for id in [&snap, &list] {
        let r = api.patch(&seg(id), json!({"rules": {"all": []}})).await;
        r.problem(422, "validation_failed");
        assert_eq!(r.pointers(), ["/rules"], "{}", r.body);
        assert_eq!(r.body["errors"][0]["code"], "not_allowed", "{}", r.body);
        let renamed = api.patch(&seg(id), json!({"name": "Renamed"})).await;
        assert_eq!(renamed.status, 200, "{}", renamed.body);
        assert_eq!(renamed.body["name"], "Renamed");
    }
    let read = api.get(&seg(&snap)).await.body;
    assert_eq!((&read["rules"], &read["member_count"]), (&tagged("vip"), &json!(1)));
    assert!(api.get(&seg(&list)).await.body["rules"].is_null());
    assert_eq!(api.members(&snap).await, [ada]);
}

// ---------------------------------------------------------------------------------------
// Membership upkeep

async fn dynamic_membership_follows_each_contact_write(s: Server) {
    let api = Api::admin(&s).await;
    let rules = json!({"all": [
        {"field": "email", "op": "ends_with", "value": "@example.com"},
        {"field": "lead_score", "op": "gte", "value": 10},
    ]});
    let id = api.dynamic("Warm", rules).await;
    let ada = api.contact(json!({"email": "ada@example.com", "lead_score": 20})).await;
    api.contact(json!({"email": "bob@elsewhere.test", "lead_score": 50}))
        .await;
    assert_eq!(api.members(&id).await, [ada.as_str()]);
    assert_eq!(moves(&s, "segment.entered", &id).await, [ada.as_str()]);
    let contact = format!("/v1/contacts/{ada}");
    assert_eq!(api.patch(&contact, json!({"lead_score": 5})).await.status, 200);
    assert!(api.members(&id).await.is_empty());
    assert_eq!(moves(&s, "segment.exited", &id).await, [ada.as_str()]);
    assert_eq!(api.patch(&contact, json!({"lead_score": 15})).await.status, 200);
    assert_eq!(api.members(&id).await, [ada.as_str()]);
    assert_eq!(moves(&s, "segment.entered", &id).await, [ada.as_str(), ada.as_str()]);
    // Current span first, then the past one.
    let spans = api.spans(&ada).await;
    assert_eq!(summary(&spans), [format!("{id}:current"), format!("{id}:past")]);
    assert!(at(&spans[1]["exited_at"]) <= at(&spans[0]["entered_at"]), "{spans:?}");
    // An upsert that creates; the bound of `gte` is included.
    let r = api
        .put("/v1/contacts/by-email/cy@example.com", json!({"lead_score": 10}))
        .await;
    assert!(r.status.is_success(), "{}", r.body);
    let cy = id_of(&r.body);
    assert_eq!(api.members(&id).await, sorted(&[&ada, &cy]));
    assert_eq!(api.count(&id).await, 2);
    // A deleted contact is no member, and subscribers hear that it left.
    assert_eq!(api.delete(&format!("/v1/contacts/{cy}")).await.status, 204);
    assert_eq!(api.members(&id).await, [ada.as_str()]);
    assert_eq!(api.count(&id).await, 1);
    assert_eq!(moves(&s, "segment.exited", &id).await, [ada.as_str(), cy.as_str()]);
}

async fn tags_stages_and_batch_upserts_keep_membership_current(s: Server) {
    let api = Api::admin(&s).await;
    let vip = api.dynamic("VIP", tagged("vip")).await;
    let stage = json!({"field": "lifecycle_stage", "op": "eq", "value": "customer"});
    let customers = api.dynamic("Customers", stage).await;
    let scored = api
        .dynamic("Scored", json!({"field": "lead_score", "op": "gte", "value": 50}))
        .await;
    let ada = api.contact(json!({"email": "ada@example.com"})).await;
    let tags = format!("/v1/contacts/{ada}/tags");
    let r = api.post(&tags, json!({"add": ["VIP"]})).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(api.members(&vip).await, [ada.as_str()]);
    let r = api.post(&tags, json!({"remove": ["vip"]})).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(api.members(&vip).await.is_empty());
    let r = api
        .post(&format!("/v1/contacts/{ada}/lifecycle"), json!({"stage": "customer"}))
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(api.members(&customers).await, [ada.as_str()]);
    let batch = json!({"items": [
        {"email": "ada@example.com", "lead_score": 60},
        {"email": "bob@example.com", "lead_score": 70, "tags": ["vip"]},
        {"email": "cy@example.com", "lead_score": 10},
    ]});
    let r = api.post("/v1/contacts/batch", batch).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["failed"], 0, "{}", r.body);
    let bob = r.body["results"][1]["id"].as_str().unwrap().to_owned();
    assert_eq!(api.members(&scored).await, sorted(&[&ada, &bob]));
    assert_eq!(api.members(&vip).await, [bob.as_str()]);
    assert_eq!(moves(&s, "segment.entered", &vip).await, [ada.as_str(), bob.as_str()]);
    assert_eq!(moves(&s, "segment.exited", &vip).await, [ada.as_str()]);
    assert_eq!(moves(&s, "segment.entered", &customers).await, [ada.as_str()]);
    assert_eq!(moves(&s, "segment.entered", &scored).await, sorted(&[&ada, &bob]));
    let mut current = summary(&api.spans(&ada).await);
    current.sort();
    let mut expected = vec![
        format!("{customers}:current"),
        format!("{scored}:current"),
        format!("{vip}:past"),
    ];
    expected.sort();
    // Whatever their order among themselves, current spans come before past ones.
    assert_eq!(current, expected);
    assert!(summary(&api.spans(&ada).await)[2].ends_with(":past"));
}

async fn consent_records_keep_consent_rules_current(s: Server) {
    let api = Api::admin(&s).await;
    let rule = |status: &str| json!({"field": "consent.email_marketing", "op": "eq", "value": status});
    let granted = api.dynamic("Granted", rule("granted")).await;
    let none = api.dynamic("Never asked", rule("none")).await;
    let pending = api.dynamic("Pending", rule("pending_confirmation")).await;
    let ada = api.contact(json!({"email": "ada@example.com"})).await;
    let bob = api.contact(json!({"email": "bob@example.com"})).await;
    assert_eq!(api.members(&none).await, sorted(&[&ada, &bob]));
    assert!(api.members(&granted).await.is_empty());
    let record = |id: &str, status: &str, level: &str| {
        let body = json!({"purpose": "email_marketing", "status": status, "source": "api", "opt_in_level": level});
        let path = format!("/v1/contacts/{id}/consents");
        let api = &api;
        async move {
            let r = api.post(&path, body).await;
            assert_eq!(r.status, 201, "{}", r.body);
        }
    };
    record(&ada, "granted", "confirmed").await;
    assert_eq!(api.members(&granted).await, [ada.as_str()]);
    assert_eq!(api.members(&none).await, [bob.as_str()]);
    record(&bob, "granted", "single").await;
    assert_eq!(api.members(&pending).await, [bob.as_str()]);
    assert!(api.members(&none).await.is_empty());
    record(&ada, "withdrawn", "confirmed").await;
    assert!(api.members(&granted).await.is_empty());
    assert_eq!(moves(&s, "segment.entered", &granted).await, [ada.as_str()]);
    assert_eq!(moves(&s, "segment.exited", &granted).await, [ada.as_str()]);
    assert_eq!(moves(&s, "segment.exited", &none).await, [ada.as_str(), bob.as_str()]);
    let mut spans = summary(&api.spans(&ada).await);
    spans.sort();
    let mut expected = [format!("{granted}:past"), format!("{none}:past")];
    expected.sort();
    assert_eq!(spans, expected);
}

async fn company_changes_move_the_contacts_of_the_company(s: Server) {
    let api = Api::admin(&s).await;
    let r = api
        .post("/v1/companies", json!({"name": "Acme", "industry": "Software"}))
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let acme = id_of(&r.body);
    let ada = api
        .contact(json!({"email": "ada@example.com", "company_id": acme}))
        .await;
    let bob = api.contact(json!({"email": "bob@example.com"})).await;
    let id = api
        .dynamic(
            "Retail",
            json!({"field": "company.industry", "op": "eq", "value": "retail"}),
        )
        .await;
    assert!(api.members(&id).await.is_empty());
    let company = format!("/v1/companies/{acme}");
    assert_eq!(api.patch(&company, json!({"industry": "RETAIL"})).await.status, 200);
    assert_eq!(api.members(&id).await, [ada.as_str()]);
    assert_eq!(moves(&s, "segment.entered", &id).await, [ada.as_str()]);
    let r = api
        .patch(&format!("/v1/contacts/{bob}"), json!({"company_id": acme}))
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(api.members(&id).await, sorted(&[&ada, &bob]));
    assert_eq!(api.patch(&company, json!({"industry": "Food"})).await.status, 200);
    assert!(api.members(&id).await.is_empty());
    let mut exited = moves(&s, "segment.exited", &id).await;
    exited.sort();
    assert_eq!(exited, sorted(&[&ada, &bob]));
    // Company size too, and a contact whose company is deleted leaves.
    let big = api
        .dynamic("Big", json!({"field": "company.size", "op": "gte", "value": 100}))
        .await;
    assert_eq!(api.patch(&company, json!({"size": 250})).await.status, 200);
    assert_eq!(api.members(&big).await, sorted(&[&ada, &bob]));
    assert_eq!(api.delete(&company).await.status, 204);
    assert!(api.members(&big).await.is_empty());
}

/// Signs and sends a push to a connector's ingest endpoint (Standard Webhooks).
async fn push(s: &Server, connector: &Value, message: &str, body: &Value) -> Reply {
    use base64::Engine;
    use base64::engine::general_purpose::STANDARD;
    use hmac::{Hmac, Mac};
    let secret = connector["secret"].as_str().unwrap();
    let key = STANDARD.decode(secret.strip_prefix("whsec_").unwrap()).unwrap();
    let bytes = serde_json::to_vec(body).unwrap();
    let ts = Utc::now().timestamp();
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(&key).unwrap();
    mac.update(format!("{message}.{ts}.").as_bytes());
    mac.update(&bytes);
    let signature = format!("v1,{}", STANDARD.encode(mac.finalize().into_bytes()));
    let r = s
        .http
        .post(format!("{}/v1/ingest/{}", s.base, connector["id"].as_str().unwrap()))
        .header("content-type", "application/json")
        .header("webhook-id", message)
        .header("webhook-timestamp", ts.to_string())
        .header("webhook-signature", signature)
        .body(bytes)
        .send()
        .await
        .unwrap();
    Reply::from(r).await
}

async fn pushes_confirmations_and_company_attributes_keep_membership_current(s: Server) {
    let api = Api::admin(&s).await;
    let rank = json!({"key": "rank", "label": "Rank", "type": "number", "entity": "company"});
    assert_eq!(api.post("/v1/attribute-definitions", rank).await.status, 201);
    let vip = api.dynamic("VIP", tagged("vip")).await;
    let granted = api
        .dynamic(
            "Granted",
            json!({"field": "consent.email_marketing", "op": "eq", "value": "granted"}),
        )
        .await;
    let retail = api
        .dynamic(
            "Retail",
            json!({"field": "company.industry", "op": "eq", "value": "retail"}),
        )
        .await;
    let ranked = api
        .dynamic(
            "Ranked",
            json!({"field": "company.attributes.rank", "op": "gte", "value": 2}),
        )
        .await;
    let acme = api
        .post("/v1/companies", json!({"name": "Acme", "domain": "acme.example"}))
        .await;
    let acme = id_of(&acme.body);
    let ada = api
        .contact(json!({"email": "ada@example.com", "company_id": acme}))
        .await;
    let shop = api.post("/v1/connectors", json!({"name": "shop"})).await;
    assert_eq!(shop.status, 201, "{}", shop.body);
    let batch = json!({"commands": [
        {"type": "company.upsert", "data": {"name": "Acme", "domain": "acme.example", "industry": "Retail"}},
        {"type": "contact.upsert", "data": {"email": "bob@example.com", "tags": ["vip"]}},
        {"type": "consent.record", "data": {"contact": {"email": "ada@example.com"}, "purpose": "email_marketing",
            "status": "granted", "source": "shop", "opt_in_level": "confirmed"}},
    ]});
    let r = push(&s, &shop.body, "msg_1", &batch).await;
    assert_eq!((r.status.as_u16(), &r.body["failed"]), (200, &json!(0)), "{}", r.body);
    let bob = r.body["results"][1]["id"].as_str().unwrap().to_owned();
    assert_eq!(api.members(&retail).await, [ada.as_str()], "a pushed company update");
    assert_eq!(api.members(&vip).await, [bob.as_str()], "a pushed contact upsert");
    assert_eq!(api.members(&granted).await, [ada.as_str()], "a pushed consent record");
    // A double opt-in grant counts once confirmed.
    let single = json!({"purpose": "email_marketing", "status": "granted", "source": "api", "opt_in_level": "single"});
    let r = api.post(&format!("/v1/contacts/{bob}/consents"), single).await;
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(api.members(&granted).await, [ada.as_str()]);
    let token = r.body["confirmation"]["token"].clone();
    let r = api.post("/v1/consent/confirm", json!({ "token": token })).await;
    assert!(r.status.is_success(), "{}", r.body);
    assert_eq!(api.members(&granted).await, sorted(&[&ada, &bob]), "a confirmation");
    assert_eq!(moves(&s, "segment.entered", &granted).await, [ada.clone(), bob]);
    // Company attributes are company fields too.
    let r = api
        .patch(&format!("/v1/companies/{acme}"), json!({"attributes": {"rank": 5}}))
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(api.members(&ranked).await, [ada.as_str()]);
    let r = api
        .patch(&format!("/v1/companies/{acme}"), json!({"attributes": {"rank": 1}}))
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(api.members(&ranked).await.is_empty());
    assert_eq!(moves(&s, "segment.exited", &ranked).await, [ada]);
}

async fn member_and_search_pages_carry_consents_when_asked(s: Server) {
    let api = Api::admin(&s).await;
    let ada = api.contact(json!({"email": "ada@example.com", "tags": ["vip"]})).await;
    let grant = json!({"purpose": "analytics", "status": "granted", "source": "api"});
    assert_eq!(
        api.post(&format!("/v1/contacts/{ada}/consents"), grant).await.status,
        201
    );
    let id = api.dynamic("VIP", tagged("vip")).await;
    let single = api.get(&format!("/v1/contacts/{ada}?include=consents")).await.body;
    assert_eq!(single["consents"]["analytics"]["allowed"], true, "{single}");
    let members = api.get(&format!("{}/members?include=consents", seg(&id))).await;
    assert_eq!(members.status, 200, "{}", members.body);
    assert_eq!(members.body["data"][0], single);
    let plain = api.get(&format!("{}/members", seg(&id))).await;
    assert!(plain.body["data"][0].get("consents").is_none(), "{}", plain.body);
    // Asking for consents needs consent:read.
    let no_consent = Api::with(&s, "segments:read contacts:read").await;
    let r = no_consent.get(&format!("{}/members?include=consents", seg(&id))).await;
    r.problem(403, "insufficient_scope");
    for q in ["limit=0", "limit=501", "colour=red"] {
        let r = api.get(&format!("{}/members?{q}", seg(&id))).await;
        r.problem(400, "invalid_query");
    }
    let r = api.get(&format!("{}/members?after=garbage", seg(&id))).await;
    r.problem(400, "invalid_cursor");
    let r = api.patch(&seg(&id), json!({"kind": "static"})).await;
    r.problem(422, "validation_failed");
    assert_eq!(r.pointers(), ["/kind"]);
    assert_eq!(api.get(&seg(&id)).await.body["kind"], "dynamic");
    api.get(&format!("/v1/contacts/{NOWHERE}/segments"))
        .await
        .problem(404, "not_found");
    let found = api
        .post(&format!("{SEARCH}?include=consents"), json!({"rules": tagged("vip")}))
        .await;
    assert_eq!(found.status, 200, "{}", found.body);
    assert_eq!(found.body["data"][0], single);
}

async fn an_erasure_takes_the_contact_out_of_every_segment(s: Server) {
    let api = Api::admin(&s).await;
    let ada = api.contact(json!({"email": "ada@example.com", "tags": ["vip"]})).await;
    let bob = api.contact(json!({"email": "bob@example.com", "tags": ["vip"]})).await;
    let dynamic = api.dynamic("VIP", tagged("vip")).await;
    let snap = id_of(
        &api.segment(json!({"name": "Then", "kind": "snapshot", "rules": tagged("vip")}))
            .await,
    );
    let list = api.list("Picked").await;
    let r = api.change(&list, true, &[&ada, &bob]).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let r = api
        .post(
            &format!("/v1/contacts/{ada}/erasure"),
            json!({"reason": "customer request"}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    for id in [&dynamic, &snap, &list] {
        assert_eq!(api.members(id).await, [bob.as_str()], "segment {id}");
        assert_eq!(api.count(id).await, 1, "segment {id}");
        assert_eq!(api.get(&seg(id)).await.body["member_count"], 1);
    }
    assert_eq!(moves(&s, "segment.exited", &dynamic).await, [ada.as_str()]);
    // An erased contact never matches, and cannot be added.
    assert_eq!(api.matching(json!({"all": []})).await, [bob.as_str()]);
    let r = api.post(PREVIEW, json!({"rules": tagged("vip")})).await;
    assert_eq!(r.body["count"], 1, "{}", r.body);
    let r = api.change(&list, true, &[&ada]).await;
    r.problem(422, "validation_failed");
    assert_eq!(r.pointers(), ["/contact_ids/0"]);
    assert_eq!(r.body["errors"][0]["code"], "not_found");
    let r = api.post(&format!("{}/refresh", seg(&dynamic)), json!({})).await;
    assert_eq!(
        (r.status.as_u16(), &r.body["member_count"]),
        (200, &json!(1)),
        "{}",
        r.body
    );
    assert_eq!(api.members(&dynamic).await, [bob]);
}

async fn a_snapshot_keeps_its_members_and_only_dynamic_segments_refresh(s: Server) {
    let api = Api::admin(&s).await;
    let ada = api.contact(json!({"email": "ada@example.com", "tags": ["vip"]})).await;
    let bob = api.contact(json!({"email": "bob@example.com", "tags": ["vip"]})).await;
    let cy = api.contact(json!({"email": "cy@example.com"})).await;
    let snap = id_of(
        &api.segment(json!({"name": "Then", "kind": "snapshot", "rules": tagged("vip")}))
            .await,
    );
    let dynamic = api.dynamic("Now", tagged("vip")).await;
    let list = api.list("Picked").await;
    api.post(&format!("/v1/contacts/{ada}/tags"), json!({"remove": ["vip"]}))
        .await;
    api.post(&format!("/v1/contacts/{cy}/tags"), json!({"add": ["vip"]}))
        .await;
    let dan = api.contact(json!({"email": "dan@example.com", "tags": ["vip"]})).await;
    api.patch(&format!("/v1/contacts/{bob}"), json!({"tags": []})).await;
    assert_eq!(api.members(&snap).await, sorted(&[&ada, &bob]));
    assert_eq!(api.count(&snap).await, 2);
    assert_eq!(api.members(&dynamic).await, sorted(&[&cy, &dan]));
    assert!(moves(&s, "segment.entered", &snap).await.is_empty());
    assert!(moves(&s, "segment.exited", &snap).await.is_empty());
    for id in [&snap, &list] {
        let r = api.post(&format!("{}/refresh", seg(id)), json!({})).await;
        r.problem(409, "segment_not_dynamic");
    }
    assert_eq!(api.members(&snap).await, sorted(&[&ada, &bob]));
    let before = Utc::now() - TimeDelta::seconds(5);
    let r = api.post(&format!("{}/refresh", seg(&dynamic)), json!({})).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let expected = json!({"entered": 0, "exited": 0, "member_count": 2});
    assert_eq!(pick(&r.body, &expected), expected);
    assert!(at(&r.body["refreshed_at"]) >= before, "{}", r.body);
    let read = api.get(&seg(&dynamic)).await.body;
    assert_eq!(at(&read["refreshed_at"]), at(&r.body["refreshed_at"]));
    api.post(&format!("{}/refresh", seg(NOWHERE)), json!({}))
        .await
        .problem(404, "not_found");
}

async fn within_last_selects_by_age_and_a_refresh_lets_the_old_go(s: Server) {
    let api = Api::admin(&s).await;
    let ada = api.contact(json!({"email": "ada@example.com"})).await;
    let recent = json!({"field": "created_at", "op": "within_last", "value": "PT2S"});
    let id = api.dynamic("Just arrived", recent.clone()).await;
    assert_eq!(api.matching(recent.clone()).await, [ada.as_str()]);
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let bob = api.contact(json!({"email": "bob@example.com"})).await;
    assert_eq!(api.matching(recent.clone()).await, [bob.as_str()]);
    let r = api.post(PREVIEW, json!({"rules": recent})).await;
    assert_eq!(r.body["count"], 1, "{}", r.body);
    let quarter = json!({"field": "created_at", "op": "within_last", "value": "P3M"});
    assert_eq!(api.matching(quarter).await, sorted(&[&ada, &bob]));
    let older = json!({"not": {"field": "created_at", "op": "within_last", "value": "PT2S"}});
    assert_eq!(api.matching(older).await, [ada.as_str()]);
    // Nothing wrote to the contacts since; the refresh finds that Ada has aged out.
    let r = api.post(&format!("{}/refresh", seg(&id)), json!({})).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let expected = json!({"entered": 0, "exited": 1, "member_count": 1});
    assert_eq!(pick(&r.body, &expected), expected);
    assert_eq!(api.members(&id).await, [bob.as_str()]);
    assert_eq!(moves(&s, "segment.exited", &id).await, [ada]);
    assert_eq!(moves(&s, "segment.entered", &id).await, [bob]);
}

async fn timestamp_bounds_hold_to_the_microsecond(s: Server) {
    let api = Api::admin(&s).await;
    let r = api.post("/v1/contacts", json!({"email": "ada@example.com"})).await;
    let (ada, t) = (id_of(&r.body), r.body["created_at"].as_str().unwrap().to_owned());
    let bob = api.contact(json!({"email": "bob@example.com"})).await;
    let on = |op: &str, value: Value| json!({"field": "created_at", "op": op, "value": value});
    let micro = TimeDelta::microseconds(1);
    let shifted = |d: TimeDelta| (at(&json!(t)) + d).to_rfc3339_opts(SecondsFormat::Micros, true);
    let cases = [
        (on("between", json!([t, t])), vec![&ada]),
        (on("before", json!(t)), vec![]),
        (on("after", json!(t)), vec![&bob]),
        (on("before", json!(shifted(micro))), vec![&ada]),
        (on("after", json!(shifted(-micro))), vec![&ada, &bob]),
        (on("between", json!([shifted(-micro), shifted(micro)])), vec![&ada]),
    ];
    let mut segments = Vec::new();
    for (rule, expected) in &cases {
        assert_eq!(
            api.matching(rule.clone()).await,
            sorted(expected),
            "{rule} (created at {t})"
        );
        segments.push(api.dynamic("Bounds", rule.clone()).await);
    }
    // Rewriting the contacts re-decides in memory; the answer stays.
    for id in [&ada, &bob] {
        let r = api
            .patch(&format!("/v1/contacts/{id}"), json!({"first_name": "X"}))
            .await;
        assert_eq!(r.status, 200, "{}", r.body);
    }
    for ((rule, expected), id) in cases.iter().zip(&segments) {
        assert_eq!(api.members(id).await, sorted(expected), "{rule} (created at {t})");
        assert!(moves(&s, "segment.exited", id).await.is_empty(), "{rule}");
    }
}

async fn concurrent_writes_and_refreshes_keep_one_membership_per_contact(s: Server) {
    let api = Api::admin(&s).await;
    let id = api.dynamic("VIP", tagged("vip")).await;
    let mut people = Vec::new();
    for i in 0..12 {
        people.push(api.contact(json!({"email": format!("p{i}@example.com")})).await);
    }
    let refresh = format!("{}/refresh", seg(&id));
    for change in [json!({"add": ["vip"]}), json!({"remove": ["vip"]})] {
        let paths: Vec<String> = people.iter().map(|p| format!("/v1/contacts/{p}/tags")).collect();
        let mut calls: Vec<_> = paths
            .iter()
            .map(|p| api.send(Method::POST, p, Some(change.clone())))
            .collect();
        for _ in 0..3 {
            calls.push(api.send(Method::POST, &refresh, Some(json!({}))));
        }
        let answers = futures_util::future::join_all(calls).await;
        for r in &answers {
            assert_eq!(r.status, 200, "{}", r.body);
        }
        let in_now = change["add"].is_array();
        let expected = if in_now { sorted(&people) } else { Vec::new() };
        assert_eq!(api.members(&id).await, expected);
        assert_eq!(api.count(&id).await, expected.len() as u64);
    }
    for kind in ["segment.entered", "segment.exited"] {
        let mut moved = moves(&s, kind, &id).await;
        moved.sort();
        assert_eq!(moved, sorted(&people), "{kind}: one event per contact");
    }
    for p in &people {
        assert_eq!(summary(&api.spans(p).await), [format!("{id}:past")]);
    }

    let list = api.list("Picked").await;
    let ids: Vec<&str> = people.iter().map(String::as_str).collect();
    let adds: Vec<_> = (0..4).map(|_| api.change(&list, true, &ids)).collect();
    let answers = futures_util::future::join_all(adds).await;
    let mut changed = 0;
    for r in &answers {
        assert_eq!(r.status, 200, "{}", r.body);
        changed += r.body["changed"].as_u64().unwrap();
    }
    assert_eq!(changed, 12, "each contact is added once: {answers:?}");
    assert_eq!(api.count(&list).await, 12);
}

// ---------------------------------------------------------------------------------------
// Static lists

async fn static_members_change_only_by_explicit_adds_and_removes(s: Server) {
    let api = Api::admin(&s).await;
    let mut c = Vec::new();
    for name in ["a", "b", "c", "d"] {
        c.push(api.contact(json!({"email": format!("{name}@example.com")})).await);
    }
    let list = api.list("Picked").await;
    let result = |r: &Reply| {
        assert_eq!(r.status, 200, "{}", r.body);
        (
            r.body["changed"].as_u64().unwrap(),
            r.body["member_count"].as_u64().unwrap(),
        )
    };
    assert_eq!(result(&api.change(&list, true, &[&c[0], &c[1]]).await), (2, 2));
    assert_eq!(result(&api.change(&list, true, &[&c[1], &c[2]]).await), (1, 3));
    assert_eq!(result(&api.change(&list, true, &[&c[0]]).await), (0, 3));
    assert_eq!(result(&api.change(&list, false, &[&c[0], &c[3]]).await), (1, 2));
    assert_eq!(result(&api.change(&list, false, &[&c[0]]).await), (0, 2));
    assert_eq!(api.members(&list).await, sorted(&[&c[1], &c[2]]));
    // Contact writes do not touch a static segment.
    api.patch(&format!("/v1/contacts/{}", c[1]), json!({"tags": ["gone"]}))
        .await;
    api.contact(json!({"email": "e@example.com"})).await;
    assert_eq!(api.members(&list).await, sorted(&[&c[1], &c[2]]));
    assert_eq!(api.get(&seg(&list)).await.body["member_count"], 2);
    let spans = api.spans(&c[0]).await;
    assert_eq!(summary(&spans), [format!("{list}:past")]);
    assert_eq!(spans[0]["segment"]["kind"], "static");
    assert_eq!(summary(&api.spans(&c[2]).await), [format!("{list}:current")]);
    assert!(api.spans(&c[3]).await.is_empty());
    // A deleted contact is listed and counted nowhere, static lists and snapshots alike.
    let snap = json!({"name": "Then", "kind": "snapshot", "rules": {"all": []}});
    let snap = id_of(&api.segment(snap).await);
    assert_eq!(api.count(&snap).await, 5);
    assert_eq!(api.delete(&format!("/v1/contacts/{}", c[1])).await.status, 204);
    for id in [&list, &snap] {
        let members = api.members(id).await;
        assert!(!members.contains(&c[1]), "{members:?}");
        assert_eq!(api.count(id).await, members.len() as u64, "segment {id}");
        assert_eq!(api.get(&seg(id)).await.body["member_count"], members.len());
    }
    assert_eq!(api.members(&list).await, [c[2].as_str()]);
}

async fn static_member_changes_check_every_id_all_or_nothing(s: Server) {
    let api = Api::admin(&s).await;
    let a = api.contact(json!({"email": "a@example.com"})).await;
    let b = api.contact(json!({"email": "b@example.com"})).await;
    let (_, other) = s.other_workspace().await;
    let theirs = Api(&s, other).contact(json!({"email": "a@example.com"})).await;
    let list = api.list("Picked").await;
    let many: Vec<String> = (0..1001).map(|i| format!("0190a000-0000-7000-8000-{i:012x}")).collect();
    let many: Vec<&str> = many.iter().map(String::as_str).collect();
    for add in [true, false] {
        for ids in [&[][..], &many[..]] {
            let r = api.change(&list, add, ids).await;
            r.problem(422, "validation_failed");
            assert_eq!(r.pointers(), ["/contact_ids"], "{}", r.body);
            assert_eq!(r.body["errors"][0]["code"], "invalid_length");
        }
    }
    let refused = [
        (vec![a.as_str(), NOWHERE, b.as_str()], "/contact_ids/1"),
        (vec![theirs.as_str()], "/contact_ids/0"),
        (vec![a.as_str(), b.as_str(), theirs.as_str()], "/contact_ids/2"),
    ];
    for (ids, pointer) in &refused {
        let r = api.change(&list, true, ids).await;
        r.problem(422, "validation_failed");
        assert_eq!(r.pointers(), [*pointer], "{}", r.body);
        assert_eq!(r.body["errors"][0]["code"], "not_found");
        assert_eq!(api.count(&list).await, 0, "a refused add added some");
    }
    let r = api.change(&list, true, &[&a, &b]).await;
    assert_eq!(r.body["member_count"], 2, "{}", r.body);
    let r = api.change(&list, false, &[&a, &theirs]).await;
    r.problem(422, "validation_failed");
    assert_eq!(r.pointers(), ["/contact_ids/1"]);
    assert_eq!(api.members(&list).await, sorted(&[&a, &b]));
    // Only static segments take members by hand.
    let dynamic = api.dynamic("Everyone", json!({"all": []})).await;
    let snap = id_of(
        &api.segment(json!({"name": "Then", "kind": "snapshot", "rules": {"all": []}}))
            .await,
    );
    for id in [&dynamic, &snap] {
        for add in [true, false] {
            api.change(id, add, &[&a]).await.problem(409, "segment_not_static");
        }
    }
    assert_eq!(api.members(&snap).await, sorted(&[&a, &b]));
    api.change(NOWHERE, true, &[&a]).await.problem(404, "not_found");
}

// ---------------------------------------------------------------------------------------
// Preview and search

async fn a_search_pages_through_every_match_exactly_once(s: Server) {
    let api = Api::admin(&s).await;
    let mut news = Vec::new();
    let mut all = Vec::new();
    for i in 0..9 {
        let tags = if i % 3 == 0 { json!([]) } else { json!(["news"]) };
        let id = api
            .contact(json!({"email": format!("c{i}@example.com"), "tags": tags}))
            .await;
        if i % 3 != 0 {
            news.push(id.clone());
        }
        all.push(id);
    }
    let pages = api.search_pages(&tagged("news"), 2).await;
    assert_eq!(pages.iter().map(Vec::len).collect::<Vec<_>>(), [2, 2, 2], "{pages:?}");
    assert_eq!(pages.concat(), sorted(&news), "every match once, in id order");
    let pages = api.search_pages(&json!({"all": []}), 4).await;
    assert_eq!(pages.iter().map(Vec::len).collect::<Vec<_>>(), [4, 4, 1]);
    assert_eq!(pages.concat(), sorted(&all));
    assert!(api.matching(json!({"any": []})).await.is_empty());
    let one = api.post(SEARCH, json!({"rules": tagged("news")})).await;
    assert_eq!(
        one.body["data"].as_array().unwrap().len(),
        6,
        "default page: {}",
        one.body
    );
    assert_eq!(
        one.body["data"][0],
        api.get(&format!("/v1/contacts/{}", sorted(&news)[0])).await.body
    );

    let r = api.post(PREVIEW, json!({"rules": tagged("news"), "limit": 2})).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["count"], 6);
    let first: Vec<String> = r.body["data"].as_array().unwrap().iter().map(id_of).collect();
    assert_eq!(first, sorted(&news)[..2]);
    assert_eq!(r.body["page"]["has_more"], true, "{}", r.body);
    let r = api.post(PREVIEW, json!({"rules": {"not": tagged("news")}})).await;
    assert_eq!(r.body["count"], 3, "{}", r.body);
    // A preview saves nothing and moves nobody.
    assert!(api.ids(SEGMENTS).await.is_empty());
    assert!(s.events("segment.entered").await.is_empty());

    api.post(SEARCH, json!({"rules": {"all": []}, "limit": 0}))
        .await
        .problem(400, "invalid_query");
    api.post(SEARCH, json!({"rules": {"all": []}, "after": "garbage"}))
        .await
        .problem(400, "invalid_cursor");
}

async fn text_conditions_ignore_the_case_of_ascii_letters_only(s: Server) {
    let api = Api::admin(&s).await;
    let ada = api
        .contact(json!({"email": "ada@example.com", "first_name": "Élodie", "last_name": "McAdams"}))
        .await;
    let bob = api
        .contact(json!({"email": "bob@example.org", "first_name": "élodie", "last_name": "ADAMS"}))
        .await;
    let cy = api
        .contact(json!({"email": "cy@example.com.test", "first_name": "Cy", "last_name": "Smith_Jones"}))
        .await;
    let dan = api
        .contact(json!({"email": "dan@example.net", "first_name": "Dan", "last_name": "Smith%Jones"}))
        .await;
    let text = |field: &str, op: &str, value: Value| json!({"field": field, "op": op, "value": value});
    let cases = [
        (text("email", "ends_with", json!("@EXAMPLE.com")), vec![&ada]),
        (text("email", "contains", json!("EXAMPLE.COM")), vec![&ada, &cy]),
        (text("email", "starts_with", json!("BOB@")), vec![&bob]),
        (text("last_name", "contains", json!("ADAM")), vec![&ada, &bob]),
        (text("last_name", "starts_with", json!("adam")), vec![&bob]),
        (text("last_name", "eq", json!("mcadams")), vec![&ada]),
        (
            text("last_name", "in", json!(["SMITH_JONES", "adams"])),
            vec![&bob, &cy],
        ),
        (text("last_name", "contains", json!("_")), vec![&cy]),
        (text("last_name", "contains", json!("%")), vec![&dan]),
        (text("last_name", "ends_with", json!("h_jones")), vec![&cy]),
        // Only A-Z fold: É and é differ.
        (text("first_name", "eq", json!("élodie")), vec![&bob]),
        (text("first_name", "eq", json!("ÉLODIE")), vec![&ada]),
        (text("first_name", "starts_with", json!("É")), vec![&ada]),
        (text("first_name", "contains", json!("LODIE")), vec![&ada, &bob]),
        (text("first_name", "ne", json!("ÉLODIE")), vec![&bob, &cy, &dan]),
    ];
    for (rule, expected) in cases {
        assert_eq!(api.matching(rule.clone()).await, sorted(&expected), "{rule}");
        let r = api.post(PREVIEW, json!({ "rules": rule })).await;
        assert_eq!(r.body["count"], expected.len(), "preview {rule}: {}", r.body);
    }
}

async fn a_missing_value_fails_every_test_except_ne_not_in_and_exists_false(s: Server) {
    let api = Api::admin(&s).await;
    let define = json!({"key": "score", "label": "Score", "type": "number"});
    assert_eq!(api.post("/v1/attribute-definitions", define).await.status, 201);
    let define = json!({"key": "tier", "label": "Tier", "type": "enum", "options": ["gold", "silver"]});
    assert_eq!(api.post("/v1/attribute-definitions", define).await.status, 201);
    let ada = api
        .contact(json!({"email": "ada@example.com", "first_name": "Ada", "attributes": {"score": 10, "tier": "gold"}}))
        .await;
    let bob = api
        .contact(json!({"email": "bob@example.com", "first_name": "Bob", "attributes": {"score": 20}}))
        .await;
    let cy = api.contact(json!({"email": "cy@example.com"})).await;
    let c = |field: &str, op: &str, value: Value| json!({"field": field, "op": op, "value": value});
    let cases = [
        (c("first_name", "ne", json!("Ada")), vec![&bob, &cy]),
        (c("first_name", "not_in", json!(["Ada"])), vec![&bob, &cy]),
        (c("first_name", "exists", json!(false)), vec![&cy]),
        (c("first_name", "exists", json!(true)), vec![&ada, &bob]),
        (json!({"field": "first_name", "op": "exists"}), vec![&ada, &bob]),
        (c("first_name", "eq", json!("Ada")), vec![&ada]),
        (c("first_name", "in", json!(["ada", "bob"])), vec![&ada, &bob]),
        (c("first_name", "contains", json!("a")), vec![&ada]),
        (json!({"not": c("first_name", "eq", json!("Ada"))}), vec![&bob, &cy]),
        (json!({"not": c("first_name", "ne", json!("Ada"))}), vec![&ada]),
        (c("attributes.score", "lt", json!(100)), vec![&ada, &bob]),
        (c("attributes.score", "gte", json!(0)), vec![&ada, &bob]),
        (c("attributes.score", "between", json!([10, 20])), vec![&ada, &bob]),
        (c("attributes.score", "between", json!([11, 20])), vec![&bob]),
        (c("attributes.score", "ne", json!(10)), vec![&bob, &cy]),
        (c("attributes.score", "not_in", json!([10, 20])), vec![&cy]),
        (json!({"not": c("attributes.score", "gte", json!(15))}), vec![&ada, &cy]),
        (c("attributes.tier", "ne", json!("gold")), vec![&bob, &cy]),
        (c("attributes.tier", "in", json!(["gold", "silver"])), vec![&ada]),
        (c("attributes.tier", "exists", json!(false)), vec![&bob, &cy]),
        (c("company.industry", "ne", json!("retail")), vec![&ada, &bob, &cy]),
        (c("company.industry", "eq", json!("retail")), vec![]),
        (c("tags", "not_in", json!(["vip"])), vec![&ada, &bob, &cy]),
        (c("tags", "exists", json!(false)), vec![&ada, &bob, &cy]),
    ];
    for (rule, expected) in cases {
        assert_eq!(api.matching(rule.clone()).await, sorted(&expected), "{rule}");
    }
    // A dynamic segment agrees with the search, and keeps agreeing as values appear.
    let id = api.dynamic("Not gold", c("attributes.tier", "ne", json!("gold"))).await;
    assert_eq!(api.members(&id).await, sorted(&[&bob, &cy]));
    let r = api
        .patch(&format!("/v1/contacts/{cy}"), json!({"attributes": {"tier": "gold"}}))
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(api.members(&id).await, [bob.as_str()]);
    assert_eq!(moves(&s, "segment.exited", &id).await, [cy]);
}

/// Rules over every type of field, each with the contacts it selects in the workspace
/// `agreement` builds (by index; contact 4 is erased).
fn rules_and_their_matches(recent_day: &str) -> Vec<(Value, Vec<usize>)> {
    let c = |field: &str, op: &str, value: Value| json!({"field": field, "op": op, "value": value});
    let exists = |field: &str, present: bool| c(field, "exists", json!(present));
    vec![
        (c("email", "ends_with", json!("@EXAMPLE.COM")), vec![0]),
        (c("email", "eq", json!("ada@example.com")), vec![0]),
        (c("email", "contains", json!("example")), vec![0, 1]),
        (c("email", "ne", json!("ada@example.com")), vec![1, 2, 3]),
        (exists("email", false), vec![3]),
        (c("phone", "starts_with", json!("+1415")), vec![3]),
        (c("first_name", "eq", json!("ÉLODIE")), vec![0]),
        (c("first_name", "contains", json!("LODIE")), vec![0, 1]),
        (c("first_name", "in", json!(["élodie"])), vec![1]),
        (c("last_name", "contains", json!("_")), vec![0]),
        (c("last_name", "ends_with", json!("%")), vec![1]),
        (c("last_name", "not_in", json!(["adams%"])), vec![0, 2, 3]),
        (c("country", "eq", json!("gb")), vec![0]),
        (c("locale", "starts_with", json!("FR")), vec![3]),
        (c("owner_id", "in", json!(["owner-1", "owner-3"])), vec![0]),
        (c("lifecycle_stage", "in", json!(["customer", "lead"])), vec![0, 1]),
        (c("lifecycle_stage", "ne", json!("subscriber")), vec![0, 1]),
        (c("highest_stage", "eq", json!("customer")), vec![0]),
        (c("lead_score", "gt", json!(0)), vec![0]),
        (c("lead_score", "between", json!([0, 30])), vec![0, 1, 2, 3]),
        (c("lead_score", "not_in", json!([0])), vec![0]),
        (c("tags", "contains", json!("VIP")), vec![0]),
        (c("tags", "in", json!(["news", "x"])), vec![0, 1]),
        (c("tags", "not_in", json!(["vip"])), vec![1, 2, 3]),
        (c("created_at", "within_last", json!("P1D")), vec![0, 1, 2, 3]),
        (
            c("updated_at", "after", json!("2000-01-01T00:00:00Z")),
            vec![0, 1, 2, 3],
        ),
        (c("created_at", "before", json!("2000-01-01T00:00:00Z")), vec![]),
        (c("attributes.nick", "eq", json!("ada")), vec![0]),
        (c("attributes.score", "gte", json!(4.5)), vec![0, 1]),
        (c("attributes.score", "lt", json!(5)), vec![0]),
        (c("attributes.vip", "eq", json!(false)), vec![1]),
        (c("attributes.vip", "ne", json!(true)), vec![1, 2, 3]),
        (c("attributes.since", "within_last", json!("P30D")), vec![0]),
        (c("attributes.since", "eq", json!(recent_day)), vec![0]),
        (c("attributes.since", "before", json!("2021-01-01")), vec![1]),
        (
            c("attributes.since", "between", json!(["2019-12-31", "2020-01-01"])),
            vec![1],
        ),
        (c("attributes.tier", "in", json!(["gold", "bronze"])), vec![0]),
        (c("attributes.tier", "ne", json!("silver")), vec![0, 2, 3]),
        (c("company.name", "starts_with", json!("beta")), vec![1]),
        (c("company.domain", "eq", json!("ACME.example")), vec![0]),
        (exists("company.industry", false), vec![1, 2, 3]),
        (c("company.size", "gte", json!(50)), vec![0]),
        (c("company.size", "ne", json!(50)), vec![1, 2, 3]),
        (c("company.attributes.rank", "eq", json!(3)), vec![0]),
        (exists("company.attributes.rank", false), vec![1, 2, 3]),
        (c("consent.email_marketing", "eq", json!("granted")), vec![0]),
        (c("consent.email_marketing", "ne", json!("granted")), vec![1, 2, 3]),
        (
            c("consent.email_marketing", "in", json!(["withdrawn", "none"])),
            vec![1, 2, 3],
        ),
        (c("consent.sms_marketing", "eq", json!("granted")), vec![3]),
        (
            json!({"not": {"any": [c("tags", "contains", json!("vip")), c("company.size", "gt", json!(10))]}}),
            vec![1, 2, 3],
        ),
        (
            json!({"all": [exists("email", true), {"not": exists("first_name", true)}]}),
            vec![2],
        ),
        (json!({"all": []}), vec![0, 1, 2, 3]),
        (json!({"any": []}), vec![]),
    ]
}

/// Declares the attributes the rules of `rules_and_their_matches` read.
async fn declare_attributes(api: &Api<'_>) {
    for body in [
        json!({"key": "nick", "label": "Nick", "type": "string"}),
        json!({"key": "score", "label": "Score", "type": "number"}),
        json!({"key": "vip", "label": "VIP", "type": "boolean"}),
        json!({"key": "since", "label": "Since", "type": "date"}),
        json!({"key": "tier", "label": "Tier", "type": "enum", "options": ["gold", "silver", "bronze"]}),
        json!({"key": "rank", "label": "Rank", "type": "number", "entity": "company"}),
    ] {
        let r = api.post("/v1/attribute-definitions", body).await;
        assert_eq!(r.status, 201, "{}", r.body);
    }
}

/// Creates the companies and contacts 0 to 4 those rules select from, with consents,
/// and erases contact 4; returns the contact ids.
async fn agreement_workspace(api: &Api<'_>, recent_day: &str) -> Vec<String> {
    let acme = json!({"name": "Acme", "domain": "acme.example", "industry": "Retail", "size": 50,
        "attributes": {"rank": 3}});
    let acme = api.post("/v1/companies", acme).await;
    assert_eq!(acme.status, 201, "{}", acme.body);
    let beta = api.post("/v1/companies", json!({"name": "Beta GmbH"})).await;
    assert_eq!(beta.status, 201, "{}", beta.body);
    let mut ids = Vec::new();
    for body in [
        json!({"email": "Ada@Example.COM", "first_name": "Élodie", "last_name": "Mc_Adams", "country": "gb",
            "locale": "en_gb", "owner_id": "owner-1", "tags": ["VIP", "news"], "lead_score": 30,
            "lifecycle_stage": "customer", "company_id": id_of(&acme.body),
            "attributes": {"nick": "ADA", "score": 4.5, "vip": true, "since": recent_day, "tier": "gold"}}),
        json!({"email": "bob@Example.org", "first_name": "élodie", "last_name": "Adams%", "tags": ["news"],
            "lead_score": 0, "lifecycle_stage": "lead", "company_id": id_of(&beta.body),
            "attributes": {"score": 10, "vip": false, "since": "2020-01-01", "tier": "silver"}}),
        json!({"email": "cy@other.test"}),
        json!({"phone": "+1 415 555 0100", "locale": "fr_FR", "owner_id": "owner-2"}),
        json!({"email": "eve@example.com", "first_name": "Eve", "tags": ["vip"], "lead_score": 99}),
    ] {
        ids.push(api.contact(body).await);
    }
    let record = |id: &str, body: Value| {
        let path = format!("/v1/contacts/{id}/consents");
        async move {
            let r = api.post(&path, body).await;
            assert_eq!(r.status, 201, "{}", r.body);
        }
    };
    let consent = |purpose: &str, status: &str, point: Option<&str>| {
        json!({"purpose": purpose, "status": status, "source": "api", "opt_in_level": "confirmed",
            "contact_point": point})
    };
    record(&ids[0], consent("email_marketing", "granted", None)).await;
    record(
        &ids[0],
        consent("email_marketing", "withdrawn", Some("other@example.com")),
    )
    .await;
    record(&ids[1], consent("email_marketing", "granted", None)).await;
    record(
        &ids[1],
        consent("email_marketing", "withdrawn", Some("BOB@example.org")),
    )
    .await;
    record(&ids[3], consent("sms_marketing", "granted", Some("+1 415 555 0100"))).await;
    record(&ids[4], consent("email_marketing", "granted", None)).await;
    let r = api
        .post(&format!("/v1/contacts/{}/erasure", ids[4]), json!({"reason": "asked"}))
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    ids
}

async fn kept_membership_search_and_refresh_agree_on_every_kind_of_field(s: Server) {
    let api = Api::admin(&s).await;
    let recent_day = (Utc::now().date_naive() - TimeDelta::days(10))
        .format("%Y-%m-%d")
        .to_string();
    let cases = rules_and_their_matches(&recent_day);
    declare_attributes(&api).await;
    // The segments exist before the contacts, so every write below keeps them.
    let mut segments = Vec::new();
    for (i, (rule, _)) in cases.iter().enumerate() {
        segments.push(api.dynamic(&format!("rule {i}"), rule.clone()).await);
    }
    let ids = agreement_workspace(&api, &recent_day).await;
    // The rule language decides consent as the consent check does.
    for (i, purpose, status) in [
        (0, "email_marketing", "granted"),
        (1, "email_marketing", "withdrawn"),
        (2, "email_marketing", "none"),
        (3, "sms_marketing", "granted"),
    ] {
        let r = api.get(&format!("/v1/contacts/{}/consent/{purpose}", ids[i])).await;
        assert_eq!(r.body["status"], status, "contact {i}: {}", r.body);
    }
    let name = |v: &[String]| -> Vec<usize> {
        let mut n: Vec<usize> = v.iter().map(|x| ids.iter().position(|i| i == x).unwrap()).collect();
        n.sort_unstable();
        n
    };
    let check = |rule: &Value, expected: &[usize], id: &str| {
        let expected = sorted(&expected.iter().map(|&i| ids[i].as_str()).collect::<Vec<_>>());
        let (api, name, rule, id) = (&api, &name, rule.clone(), id.to_owned());
        async move {
            let mut wrong = Vec::new();
            // Whole lists in one page each (paging is tested elsewhere).
            let kept = api.ids(&format!("{}/members?limit=500", seg(&id))).await;
            let found = api.search_pages(&rule, 500).await.concat();
            let counted = api.post(PREVIEW, json!({ "rules": rule })).await.body["count"].clone();
            if kept != expected || found != expected || counted != expected.len() {
                let (e, k, f) = (name(&expected), name(&kept), name(&found));
                wrong.push(format!(
                    "{rule}: expected {e:?}, kept {k:?}, searched {f:?}, counted {counted}"
                ));
            }
            let r = api.post(&format!("{}/refresh", seg(&id)), json!({})).await;
            let (entered, exited) = (&r.body["entered"], &r.body["exited"]);
            if r.status != 200 || *entered != 0 || *exited != 0 {
                wrong.push(format!(
                    "{rule}: a refresh after upkeep moved {entered} in and {exited} out: {}",
                    r.body
                ));
            }
            wrong
        }
    };
    let checks = cases
        .iter()
        .zip(&segments)
        .map(|((rule, expected), id)| check(rule, expected, id));
    let wrong = futures_util::future::join_all(checks).await.concat();
    assert!(wrong.is_empty(), "{} disagreements:\n{}", wrong.len(), wrong.join("\n"));
}

// ---------------------------------------------------------------------------------------
// Rule validation

/// Rule errors as `[rules, pointer, code]`; a pointer ending in `*` is a prefix.
fn bad_rules() -> Value {
    let cond = |field: &str, op: &str, value: Value| json!({"field": field, "op": op, "value": value});
    let ok = cond("email", "eq", json!("a@example.com"));
    // Nine levels: eight groups around a condition.
    let mut deep = ok.clone();
    for _ in 0..8 {
        deep = json!({ "all": [deep] });
    }
    let wide = json!({"any": vec![ok.clone(); 200]});
    let long_list: Vec<String> = (0..1001).map(|i| format!("{i}@example.com")).collect();
    json!([
        [cond("shoe_size", "eq", json!(42)), "/rules/field", "unknown_field"],
        [{"all": [ok, cond("attributes.nope", "eq", json!("x"))]}, "/rules/all/1/field", "unknown_field"],
        [cond("consent.nope", "eq", json!("granted")), "/rules/field", "unknown_field"],
        [{"any": [cond("email", "like", json!("x"))]}, "/rules/any/0/op", "unknown_operator"],
        [cond("lead_score", "contains", json!(1)), "/rules/op", "operator_not_allowed"],
        [cond("created_at", "eq", json!("2024-01-01T00:00:00Z")), "/rules/op", "operator_not_allowed"],
        [cond("lifecycle_stage", "gt", json!("lead")), "/rules/op", "operator_not_allowed"],
        [cond("lead_score", "gt", json!("ten")), "/rules/value", "invalid_value"],
        [cond("email", "in", json!("a@example.com")), "/rules/value", "invalid_value"],
        [cond("created_at", "before", json!("yesterday")), "/rules/value", "invalid_value"],
        [cond("email", "exists", json!("yes")), "/rules/value", "invalid_value"],
        [cond("email", "eq", json!("x".repeat(501))), "/rules/value", "invalid_value"],
        [cond("lifecycle_stage", "eq", json!("vip")), "/rules/value", "unknown_option"],
        [cond("consent.email_marketing", "in", json!(["granted", "maybe"])), "/rules/value/1", "unknown_option"],
        [cond("created_at", "within_last", json!("90 days")), "/rules/value", "invalid_duration"],
        [cond("updated_at", "within_last", json!("P")), "/rules/value", "invalid_duration"],
        [cond("lead_score", "between", json!([10, 1])), "/rules/value", "invalid_range"],
        [cond("created_at", "between", json!(["2024-02-01T00:00:00Z", "2024-01-01T00:00:00Z"])),
            "/rules/value", "invalid_range"],
        [cond("email", "in", json!([])), "/rules/value", "invalid_length"],
        [cond("email", "not_in", json!(long_list)), "/rules/value", "invalid_length"],
        [{"field": "email", "op": "eq", "value": "a", "negate": true}, "/rules/negate", "unknown_key"],
        [{"not": {"field": "email", "op": "exists", "colour": "red"}}, "/rules/not/colour", "unknown_key"],
        [{"field": "email", "op": "eq"}, "/rules/value", "required"],
        [deep, "/rules/*", "too_deep"],
        [wide, "/rules/*", "too_large"],
        [{"all": [cond("email", "exists", json!(true)), 5]}, "/rules/all/1", "invalid_node"],
        [{"any": "everyone"}, "/rules/any", "invalid_node"],
        ["everyone", "/rules", "invalid_node"],
    ])
}

#[track_caller]
fn assert_rule_error(r: &Reply, case: &Value, what: &str) {
    r.problem(422, "validation_failed");
    let (pointer, code) = (case[1].as_str().unwrap(), case[2].as_str().unwrap());
    let errors = r.body["errors"].as_array().unwrap();
    assert_eq!(errors.len(), 1, "{what} {}: {}", case[0], r.body);
    let got = errors[0]["pointer"].as_str().unwrap();
    match pointer.strip_suffix('*') {
        Some(prefix) => assert!(got.starts_with(prefix), "{what} {}: {}", case[0], r.body),
        None => assert_eq!(got, pointer, "{what} {}: {}", case[0], r.body),
    }
    assert_eq!(errors[0]["code"], code, "{what} {}: {}", case[0], r.body);
}

async fn rule_errors_point_into_the_rules(s: Server) {
    let api = Api::admin(&s).await;
    api.contact(json!({"email": "ada@example.com"})).await;
    for case in bad_rules().as_array().unwrap() {
        let rules = &case[0];
        let r = api.post(SEGMENTS, json!({"name": "Bad", "rules": rules})).await;
        assert_rule_error(&r, case, "create");
        let r = api.post(PREVIEW, json!({ "rules": rules })).await;
        assert_rule_error(&r, case, "preview");
        let r = api.post(SEARCH, json!({ "rules": rules })).await;
        assert_rule_error(&r, case, "search");
    }
    assert!(api.ids(SEGMENTS).await.is_empty());
    // Every problem of a rule is named at once.
    let two = json!({"all": [
        {"field": "shoe_size", "op": "eq", "value": 1},
        {"any": [{"field": "lead_score", "op": "gt", "value": "x"}]},
    ]});
    let r = api.post(PREVIEW, json!({ "rules": two })).await;
    r.problem(422, "validation_failed");
    assert_eq!(r.pointers(), ["/rules/all/0/field", "/rules/all/1/any/0/value"]);
}

async fn rules_at_their_limits_are_accepted(s: Server) {
    let api = Api::admin(&s).await;
    let ada = api.contact(json!({"email": "ada@example.com"})).await;
    let ok = json!({"field": "email", "op": "eq", "value": "ada@example.com"});
    // Eight levels: seven groups around a condition (an even number of them `not`).
    let mut deep = ok.clone();
    for i in 0..7 {
        deep = if i < 2 {
            json!({ "not": deep })
        } else {
            json!({ "any": [deep] })
        };
    }
    let wide = json!({"any": vec![ok.clone(); 199]});
    let mut list: Vec<String> = (0..999).map(|i| format!("{i}@example.com")).collect();
    list.push("ADA@example.com".to_owned());
    let long = format!("{}@example.com", "a".repeat(488));
    let cases = [
        (deep, vec![&ada]),
        (wide, vec![&ada]),
        (json!({"field": "email", "op": "in", "value": list}), vec![&ada]),
        (json!({"field": "email", "op": "eq", "value": long}), vec![]),
        (
            json!({"field": "lead_score", "op": "between", "value": [0, 0]}),
            vec![&ada],
        ),
    ];
    for (rule, expected) in cases {
        let r = api.post(PREVIEW, json!({ "rules": rule })).await;
        assert_eq!(r.status, 200, "{rule}: {}", r.body);
        assert_eq!(r.body["count"], expected.len(), "{rule}: {}", r.body);
        assert_eq!(api.matching(rule).await, sorted(&expected));
    }
}

async fn malformed_and_unexpected_bodies_are_refused(s: Server) {
    let api = Api::admin(&s).await;
    let a = api.contact(json!({"email": "a@example.com"})).await;
    let list = api.list("Picked").await;
    let dynamic = api.dynamic("Everyone", json!({"all": []})).await;
    let bodies: [(Method, String, Value); 6] = [
        (
            Method::POST,
            SEGMENTS.to_owned(),
            json!({"name": "x", "rules": {"all": []}}),
        ),
        (Method::PATCH, seg(&dynamic), json!({"name": "y"})),
        (Method::POST, PREVIEW.to_owned(), json!({"rules": {"all": []}})),
        (Method::POST, SEARCH.to_owned(), json!({"rules": {"all": []}})),
        (
            Method::POST,
            format!("{}/members", seg(&list)),
            json!({"contact_ids": [a]}),
        ),
        (
            Method::POST,
            format!("{}/members/remove", seg(&list)),
            json!({"contact_ids": [a]}),
        ),
    ];
    for (method, path, valid) in &bodies {
        for broken in ["{\"name\": ", "[", "{'rules': 1}", ""] {
            let r = api
                .0
                .req(method.clone(), path, &api.1)
                .header("content-type", "application/json");
            let r = Reply::from(r.body(broken).send().await.unwrap()).await;
            assert_eq!(r.status, 400, "{method} {path} {broken:?}: {}", r.body);
            r.problem(400, "malformed_json");
        }
        let mut extra = valid.clone();
        extra["colour"] = json!("red");
        let r = api.send(method.clone(), path, Some(extra)).await;
        r.problem(422, "validation_failed");
        assert_eq!(r.pointers(), ["/colour"], "{method} {path}: {}", r.body);
        assert_eq!(r.body["errors"][0]["code"], "unknown_field");
    }
    for path in [PREVIEW, SEARCH] {
        let r = api.post(path, json!({"limit": 5})).await;
        r.problem(422, "validation_failed");
        assert_eq!(r.pointers(), ["/rules"], "{path}: {}", r.body);
    }
    let r = api.change(&list, true, &["not-a-uuid"]).await;
    r.problem(422, "validation_failed");
    assert!(r.pointers()[0].starts_with("/contact_ids"), "{}", r.body);
    assert_eq!(api.ids(SEGMENTS).await, [list.clone(), dynamic]);
    assert_eq!(api.count(&list).await, 0);
}

async fn the_fields_catalogue_names_every_field_with_its_operators(s: Server) {
    let api = Api::admin(&s).await;
    let tier = json!({"key": "tier", "label": "Tier", "type": "enum", "options": ["gold", "silver"]});
    assert_eq!(api.post("/v1/attribute-definitions", tier).await.status, 201);
    let since = json!({"key": "since", "label": "Since", "type": "date", "entity": "company"});
    assert_eq!(api.post("/v1/attribute-definitions", since).await.status, 201);
    let purpose = json!({"key": "vip_news", "name": "VIP news", "channel": "email"});
    assert_eq!(api.post("/v1/consent-purposes", purpose).await.status, 201);
    let r = api.get("/v1/segments/fields").await;
    assert_eq!(r.status, 200, "{}", r.body);
    let fields = r.body["data"].as_array().unwrap();
    let find = |name: &str| {
        fields
            .iter()
            .find(|f| f["name"] == name)
            .unwrap_or_else(|| panic!("no field {name}: {fields:?}"))
            .clone()
    };
    let set = |v: &Value| {
        let mut s: Vec<String> = v
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x.as_str().unwrap().to_owned())
            .collect();
        s.sort();
        s.join(" ")
    };
    let cases = [
        ("email", "text", "contains ends_with eq exists in ne not_in starts_with"),
        ("lead_score", "number", "between eq exists gt gte in lt lte ne not_in"),
        ("tags", "tags", "contains exists in not_in"),
        ("created_at", "timestamp", "after before between exists within_last"),
        ("lifecycle_stage", "choice", "eq exists in ne not_in"),
        ("attributes.tier", "choice", "eq exists in ne not_in"),
        (
            "company.attributes.since",
            "date",
            "after before between eq exists ne within_last",
        ),
        (
            "company.industry",
            "text",
            "contains ends_with eq exists in ne not_in starts_with",
        ),
        ("company.size", "number", "between eq exists gt gte in lt lte ne not_in"),
        ("consent.vip_news", "choice", "eq exists in ne not_in"),
        ("consent.email_marketing", "choice", "eq exists in ne not_in"),
    ];
    for (name, kind, operators) in cases {
        let f = find(name);
        assert_eq!(f["kind"], kind, "{f}");
        assert_eq!(set(&f["operators"]), operators, "{f}");
    }
    assert_eq!(set(&find("attributes.tier")["options"]), "gold silver");
    assert_eq!(
        set(&find("consent.vip_news")["options"]),
        "denied expired granted none pending_confirmation withdrawn"
    );
    let stages = "advocate churned customer disqualified lead opportunity qualified repeat_customer subscriber";
    assert_eq!(set(&find("lifecycle_stage")["options"]), stages);
    let (_, other) = s.other_workspace().await;
    let theirs = Api(&s, other).get("/v1/segments/fields").await;
    let names: Vec<&str> = theirs.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["name"].as_str().unwrap())
        .collect();
    assert!(
        names.contains(&"email") && names.contains(&"consent.email_marketing"),
        "{names:?}"
    );
    assert!(
        !names.contains(&"attributes.tier") && !names.contains(&"consent.vip_news"),
        "{names:?}"
    );
}

// ---------------------------------------------------------------------------------------
// Fields in use

async fn fields_named_by_a_rule_cannot_be_removed_until_the_rule_changes(s: Server) {
    let api = Api::admin(&s).await;
    let define = |body: Value| {
        let api = &api;
        async move {
            let r = api.post("/v1/attribute-definitions", body).await;
            assert_eq!(r.status, 201, "{}", r.body);
            format!("/v1/attribute-definitions/{}", id_of(&r.body))
        }
    };
    let tier = define(json!({"key": "tier", "label": "Tier", "type": "string"})).await;
    let company_tier = define(json!({"key": "tier", "label": "Tier", "type": "string", "entity": "company"})).await;
    let region = define(json!({"key": "region", "label": "Region", "type": "string"})).await;
    let purpose = json!({"key": "vip_news", "name": "VIP news", "channel": "email"});
    assert_eq!(api.post("/v1/consent-purposes", purpose).await.status, 201);
    let rules = json!({"all": [
        {"field": "attributes.tier", "op": "eq", "value": "gold"},
        {"not": {"field": "consent.vip_news", "op": "eq", "value": "granted"}},
    ]});
    let id = api.dynamic("Gold", rules).await;
    let snap =
        json!({"name": "EU", "kind": "snapshot", "rules": {"field": "attributes.region", "op": "eq", "value": "eu"}});
    let snap = id_of(&api.segment(snap).await);
    api.delete(&tier).await.problem(409, "in_use");
    api.delete("/v1/consent-purposes/vip_news").await.problem(409, "in_use");
    api.delete(&region).await.problem(409, "in_use");
    // The company attribute of the same key is not what the rule names.
    assert_eq!(api.delete(&company_tier).await.status, 204);
    let r = api
        .patch(&seg(&id), json!({"rules": {"field": "email", "op": "exists"}}))
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(api.delete(&tier).await.status, 204);
    let r = api.delete("/v1/consent-purposes/vip_news").await;
    assert_eq!(r.status, 204, "{}", r.body);
    assert_eq!(api.delete(&seg(&snap)).await.status, 204);
    assert_eq!(api.delete(&region).await.status, 204);
    // Gone from the workspace, they are unknown to rules.
    let r = api
        .post(
            PREVIEW,
            json!({"rules": {"field": "attributes.tier", "op": "eq", "value": "gold"}}),
        )
        .await;
    r.problem(422, "validation_failed");
    assert_eq!(r.pointers(), ["/rules/field"]);
}

// ---------------------------------------------------------------------------------------
// Isolation and scopes

async fn another_workspaces_segments_are_not_found_on_every_route(s: Server) {
    let api = Api::admin(&s).await;
    let ada = api.contact(json!({"email": "ada@example.com", "tags": ["vip"]})).await;
    let dynamic = api.dynamic("VIP", tagged("vip")).await;
    let list = api.list("Picked").await;
    api.change(&list, true, &[&ada]).await;
    let (_, other) = s.other_workspace().await;
    let theirs = Api(&s, other);
    let bea = theirs.contact(json!({"email": "bea@example.com"})).await;
    let ids = json!({"contact_ids": [bea]});
    let routes: Vec<(Method, String, Option<Value>)> = vec![
        (Method::GET, seg(&dynamic), None),
        (Method::GET, seg(&list), None),
        (Method::PATCH, seg(&dynamic), Some(json!({"name": "Stolen"}))),
        (Method::PATCH, seg(&dynamic), Some(json!({"rules": {"all": []}}))),
        (Method::GET, format!("{}/members", seg(&dynamic)), None),
        (Method::GET, format!("{}/members", seg(&list)), None),
        (Method::GET, format!("{}/count", seg(&list)), None),
        (Method::POST, format!("{}/members", seg(&list)), Some(ids.clone())),
        (Method::POST, format!("{}/members/remove", seg(&list)), Some(ids)),
        (Method::POST, format!("{}/refresh", seg(&dynamic)), Some(json!({}))),
        (Method::DELETE, seg(&dynamic), None),
        (Method::DELETE, seg(&list), None),
        (Method::GET, format!("/v1/contacts/{ada}/segments"), None),
    ];
    for (method, path, body) in routes {
        let r = theirs.send(method.clone(), &path, body).await;
        assert_eq!(r.status, 404, "{method} {path} from another workspace: {}", r.body);
        r.problem(404, "not_found");
    }
    assert!(theirs.ids(SEGMENTS).await.is_empty());
    let read = api.get(&seg(&dynamic)).await.body;
    assert_eq!(
        (&read["name"], &read["version"], &read["rules"]),
        (&json!("VIP"), &json!(1), &tagged("vip"))
    );
    assert_eq!(api.members(&dynamic).await, [ada.as_str()]);
    assert_eq!(api.members(&list).await, [ada]);
}

async fn rules_only_ever_select_the_callers_own_contacts(s: Server) {
    let api = Api::admin(&s).await;
    let ada = api.contact(json!({"email": "ada@example.com", "tags": ["vip"]})).await;
    let (ws_b, other) = s.other_workspace().await;
    let theirs = Api(&s, other);
    let bea = theirs
        .contact(json!({"email": "ada@example.com", "tags": ["vip"]}))
        .await;
    assert_eq!(api.matching(json!({"all": []})).await, [ada.as_str()]);
    assert_eq!(theirs.matching(json!({"all": []})).await, [bea.as_str()]);
    let r = api.post(PREVIEW, json!({"rules": tagged("vip")})).await;
    assert_eq!(r.body["count"], 1, "{}", r.body);
    let ours = api.dynamic("VIP", tagged("vip")).await;
    let mine = theirs.dynamic("VIP", tagged("vip")).await;
    assert_eq!(api.members(&ours).await, [ada.as_str()]);
    assert_eq!(theirs.members(&mine).await, [bea.as_str()]);
    // Writes in B move only B's segments, and B's events stay in B.
    let bo = theirs
        .contact(json!({"email": "bo@example.com", "tags": ["vip"]}))
        .await;
    let also = api.contact(json!({"email": "al@example.com", "tags": ["vip"]})).await;
    assert_eq!(api.members(&ours).await, sorted(&[&ada, &also]));
    assert_eq!(theirs.members(&mine).await, sorted(&[&bea, &bo]));
    assert_eq!(moves(&s, "segment.entered", &ours).await, [also]);
    let in_b: Vec<(String, Value)> = s
        .events("segment.entered")
        .await
        .into_iter()
        .filter(|(_, d)| d["object"]["segment"]["id"] == mine.as_str())
        .collect();
    assert_eq!(in_b.len(), 1);
    assert_eq!(
        (in_b[0].0.as_str(), &in_b[0].1["object"]["contact_id"]),
        (ws_b.as_str(), &json!(bo))
    );
    let r = api.post(&format!("{}/refresh", seg(&ours)), json!({})).await;
    assert_eq!(r.body["member_count"], 2, "{}", r.body);
}

async fn segment_endpoints_need_their_scopes(s: Server) {
    let api = Api::admin(&s).await;
    let ada = api.contact(json!({"email": "ada@example.com"})).await;
    let dynamic = api.dynamic("Everyone", json!({"all": []})).await;
    let list = api.list("Picked").await;
    let rules = json!({"rules": {"all": []}});
    let contacts_only = Api::with(&s, "contacts:read contacts:write").await;
    for path in [
        SEGMENTS.to_owned(),
        seg(&dynamic),
        format!("{}/count", seg(&dynamic)),
        format!("{}/members", seg(&dynamic)),
        "/v1/segments/fields".to_owned(),
        format!("/v1/contacts/{ada}/segments"),
    ] {
        contacts_only.get(&path).await.problem(403, "insufficient_scope");
    }
    contacts_only
        .post(PREVIEW, rules.clone())
        .await
        .problem(403, "insufficient_scope");
    let r = contacts_only.post(SEARCH, rules.clone()).await;
    assert_eq!(r.status, 200, "search needs contacts:read only: {}", r.body);

    let reader = Api::with(&s, "segments:read").await;
    assert_eq!(reader.ids(SEGMENTS).await, [dynamic.as_str(), list.as_str()]);
    assert_eq!(reader.count(&dynamic).await, 1);
    assert_eq!(reader.spans(&ada).await.len(), 1);
    for (method, path, body) in [
        (Method::GET, format!("{}/members", seg(&dynamic)), None),
        (Method::POST, PREVIEW.to_owned(), Some(rules.clone())),
        (Method::POST, SEARCH.to_owned(), Some(rules.clone())),
        (
            Method::POST,
            SEGMENTS.to_owned(),
            Some(json!({"name": "x", "kind": "static"})),
        ),
        (Method::PATCH, seg(&dynamic), Some(json!({"name": "Renamed"}))),
        (Method::DELETE, seg(&list), None),
        (
            Method::POST,
            format!("{}/members", seg(&list)),
            Some(json!({"contact_ids": [ada]})),
        ),
        (
            Method::POST,
            format!("{}/members/remove", seg(&list)),
            Some(json!({"contact_ids": [ada]})),
        ),
        (Method::POST, format!("{}/refresh", seg(&dynamic)), Some(json!({}))),
    ] {
        let r = reader.send(method.clone(), &path, body).await;
        assert_eq!(r.status, 403, "{method} {path}: {}", r.body);
        r.problem(403, "insufficient_scope");
    }
    let both = Api::with(&s, "segments:read contacts:read").await;
    assert_eq!(both.members(&dynamic).await, [ada.as_str()]);
    let r = both.post(PREVIEW, rules).await;
    assert_eq!((r.status.as_u16(), &r.body["count"]), (200, &json!(1)), "{}", r.body);
    let writer = Api::with(&s, "segments:write").await;
    writer.get(SEGMENTS).await.problem(403, "insufficient_scope");
    let r = writer
        .post(SEGMENTS, json!({"name": "By writer", "kind": "static"}))
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    // Nothing the refused calls asked for happened.
    let read = api.get(&seg(&dynamic)).await.body;
    assert_eq!(read["name"], "Everyone");
    assert!(api.members(&list).await.is_empty());
    assert_eq!(api.ids(SEGMENTS).await.len(), 3);
    // Writing needs segments:write alone: a write is answered as it is made, never
    // refused after it took effect.
    let added = writer.change(&list, true, &[&ada]).await;
    let described = writer.patch(&seg(&list), json!({"description": "By hand"})).await;
    let refreshed = writer.post(&format!("{}/refresh", seg(&dynamic)), json!({})).await;
    let answers = [&added, &described, &refreshed].map(|r| r.status.as_u16());
    let now = api.get(&seg(&list)).await.body;
    let effect = format!(
        "members now {:?}, description now {}",
        api.members(&list).await,
        now["description"]
    );
    assert_eq!(answers, [200, 200, 200], "{effect}; add answered {}", added.body);
    assert_eq!(added.body["changed"], 1, "{}", added.body);
    assert_eq!(described.body["description"], "By hand", "{}", described.body);
}

// ---------------------------------------------------------------------------------------
// Events

async fn membership_events_reach_the_feed(s: Server) {
    let api = Api::admin(&s).await;
    let id = api.dynamic("VIP", tagged("vip")).await;
    let ada = api.contact(json!({"email": "ada@example.com", "tags": ["vip"]})).await;
    let r = api
        .post(&format!("/v1/contacts/{ada}/tags"), json!({"remove": ["vip"]}))
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let mut feed = Value::Null;
    for _ in 0..100 {
        feed = api.get("/v1/events?types=segment.*").await.body;
        if feed["data"].as_array().is_some_and(|d| d.len() >= 2) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let events = feed["data"].as_array().unwrap();
    let types: Vec<&str> = events.iter().map(|e| e["type"].as_str().unwrap()).collect();
    assert_eq!(types, ["segment.entered", "segment.exited"], "{feed}");
    let (entered, exited) = (&events[0]["data"]["object"], &events[1]["data"]["object"]);
    let about = json!({"segment": {"id": id, "name": "VIP", "kind": "dynamic"}, "contact_id": ada});
    assert_eq!(pick(entered, &about), about);
    assert_eq!(pick(exited, &about), about);
    assert!(entered["exited_at"].is_null(), "{entered}");
    assert_eq!(at(&exited["entered_at"]), at(&entered["entered_at"]));
    assert!(at(&exited["exited_at"]) >= at(&entered["entered_at"]));
    let catalogue = api.get("/v1/event-types").await.body;
    let names: Vec<&str> = catalogue["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["type"].as_str().unwrap())
        .collect();
    assert!(
        names.contains(&"segment.entered") && names.contains(&"segment.exited"),
        "{names:?}"
    );
}

// ---------------------------------------------------------------------------------------
// Periodic refresh

async fn an_expired_consent_grant_leaves_the_segment_on_the_periodic_refresh(db: TestDb) {
    let s = Server::start_on(db, &[("RAPPORT_SEGMENT_REFRESH_SECONDS", "1")]).await;
    let api = Api::admin(&s).await;
    let ada = api.contact(json!({"email": "ada@example.com"})).await;
    let bob = api.contact(json!({"email": "bob@example.com"})).await;
    let deadline = (Utc::now() + TimeDelta::seconds(3)).to_rfc3339_opts(SecondsFormat::Millis, true);
    let grant = |expires_at: Option<&str>| {
        json!({"purpose": "email_marketing", "status": "granted", "source": "api",
            "opt_in_level": "confirmed", "expires_at": expires_at})
    };
    let r = api
        .post(&format!("/v1/contacts/{ada}/consents"), grant(Some(&deadline)))
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let r = api.post(&format!("/v1/contacts/{bob}/consents"), grant(None)).await;
    assert_eq!(r.status, 201, "{}", r.body);
    let rule = |status: &str| json!({"field": "consent.email_marketing", "op": "eq", "value": status});
    let granted = api.segment(json!({"name": "Granted", "rules": rule("granted")})).await;
    assert_eq!(granted["member_count"], 2, "{granted}");
    let granted = id_of(&granted);
    let lapsed = api.dynamic("Expired", rule("expired")).await;
    assert!(api.members(&lapsed).await.is_empty());
    let mut left = false;
    for _ in 0..60 {
        if api.members(&granted).await == [bob.as_str()] {
            left = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(
        left,
        "Ada is still a member after her grant expired: {:?}",
        api.members(&granted).await
    );
    assert_eq!(moves(&s, "segment.exited", &granted).await, [ada.as_str()]);
    assert_eq!(api.members(&lapsed).await, [ada.as_str()]);
    assert_eq!(moves(&s, "segment.entered", &lapsed).await, [ada.as_str()]);
    let spans = api.spans(&ada).await;
    assert_eq!(
        summary(&spans),
        [format!("{lapsed}:current"), format!("{granted}:past")]
    );
    assert_eq!(s.events("segment.exited").await.len(), 1, "only Ada left a segment");
}

on_both!(
    a_dynamic_segment_is_filled_at_once_without_entry_events,
    each_kind_starts_as_documented_and_takes_rules_only_when_it_follows_them,
    segments_are_listed_in_creation_order_by_kind_and_paged,
    a_segment_is_renamed_and_described_under_preconditions_then_deleted,
    a_new_rule_moves_the_members_of_a_dynamic_segment_with_events,
    the_rule_of_a_snapshot_or_static_segment_cannot_change,
    dynamic_membership_follows_each_contact_write,
    tags_stages_and_batch_upserts_keep_membership_current,
    consent_records_keep_consent_rules_current,
    company_changes_move_the_contacts_of_the_company,
    pushes_confirmations_and_company_attributes_keep_membership_current,
    member_and_search_pages_carry_consents_when_asked,
    an_erasure_takes_the_contact_out_of_every_segment,
    a_snapshot_keeps_its_members_and_only_dynamic_segments_refresh,
    within_last_selects_by_age_and_a_refresh_lets_the_old_go,
    timestamp_bounds_hold_to_the_microsecond,
    concurrent_writes_and_refreshes_keep_one_membership_per_contact,
    static_members_change_only_by_explicit_adds_and_removes,
    static_member_changes_check_every_id_all_or_nothing,
    a_search_pages_through_every_match_exactly_once,
    text_conditions_ignore_the_case_of_ascii_letters_only,
    a_missing_value_fails_every_test_except_ne_not_in_and_exists_false,
    kept_membership_search_and_refresh_agree_on_every_kind_of_field,
    rule_errors_point_into_the_rules,
    rules_at_their_limits_are_accepted,
    malformed_and_unexpected_bodies_are_refused,
    the_fields_catalogue_names_every_field_with_its_operators,
    fields_named_by_a_rule_cannot_be_removed_until_the_rule_changes,
    another_workspaces_segments_are_not_found_on_every_route,
    rules_only_ever_select_the_callers_own_contacts,
    segment_endpoints_need_their_scopes,
    membership_events_reach_the_feed,
);

on_both_dbs!(an_expired_consent_grant_leaves_the_segment_on_the_periodic_refresh);
