//! Contact merge and duplicate suggestions: the survivor wins conflicts and the merged
//! contacts fill what it lacks, in the order given, unless `prefer` says otherwise;
//! orders, lifecycle history, the consent ledger and segment memberships move to the
//! survivor and what depends on them is decided again; merged ids redirect reads and
//! refuse everything else, follow later merges and are forgotten with their survivor;
//! every refusal points at its cause and changes nothing; scopes, tenancy, GraphQL; and
//! the duplicate suggestions by email, phone and name with company.

// Test bodies run through `on_both!`, outside `#[test]` fns, where a failed unwrap is the
// intended test failure.
#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::{DateTime, SecondsFormat, Utc};
use rapport_tests::consent::{ConsentCalls, rec, rows};
use rapport_tests::{Api, NOWHERE, Reply, Server, events_about, id_of, on_both, pick};
use reqwest::Method;
use serde_json::{Value, json};

const CONTACTS: &str = "/v1/contacts";
const DUPLICATES: &str = "/v1/contacts/duplicates";
const SEGMENTS: &str = "/v1/segments";

/// The calls these tests make beyond plain requests.
trait MergeCalls {
    /// Creates a contact; returns its id.
    async fn create(&self, body: Value) -> String;
    /// A JSON document at `path`, which must be readable.
    async fn read(&self, path: &str) -> Value;
    /// The ids of one page of the list at `path`, which must succeed.
    async fn ids(&self, path: &str) -> Vec<String>;
    /// `POST /v1/contacts/{id}/merge`.
    async fn merge(&self, id: &str, body: Value) -> Reply;
    /// A merge that must succeed; checks its `ETag` and that its contact is the survivor
    /// as `GET` returns it; returns the answer.
    async fn merged(&self, id: &str, body: Value) -> Value;
    /// A merge with `If-Match`.
    async fn merge_if(&self, id: &str, body: Value, tag: &str) -> Reply;
    /// `GET path` without following redirects.
    async fn unfollowed(&self, path: &str) -> Reply;
    /// Declares a contact attribute.
    async fn define(&self, key: &str, kind: &str);
    /// Creates a company; returns its id.
    async fn company(&self, name: &str) -> String;
    /// A paid order of one line for `contact` (`changes` override members); returns its id.
    async fn order(&self, contact: &str, external_id: &str, changes: Value) -> String;
    /// A lifecycle move that must succeed.
    async fn move_to(&self, id: &str, stage: &str);
    /// A contact's whole lifecycle history.
    async fn transitions(&self, id: &str) -> Vec<Value>;
    /// Creates a segment; returns its id.
    async fn segment(&self, body: Value) -> String;
    /// Adds contacts to a static segment.
    async fn add_members(&self, segment: &str, ids: &[&str]);
    /// Every member of a segment, sorted.
    async fn members(&self, segment: &str) -> Vec<String>;
    /// `GET /v1/contacts/{id}/segments`, which must succeed.
    async fn spans(&self, id: &str) -> Vec<Value>;
    /// Erases a contact.
    async fn erase(&self, id: &str);
    /// The `data` of every page of the duplicate suggestions with these query parameters.
    async fn duplicate_pages(&self, query: &[&str]) -> Vec<Vec<Value>>;
}

impl MergeCalls for Api<'_> {
    async fn create(&self, body: Value) -> String {
        let r = self.post(CONTACTS, body.clone()).await;
        assert_eq!(r.status, 201, "{body}: {}", r.body);
        id_of(&r.body)
    }

    async fn read(&self, path: &str) -> Value {
        let r = self.get(path).await;
        assert_eq!(r.status, 200, "{path}: {}", r.body);
        r.body
    }

    async fn ids(&self, path: &str) -> Vec<String> {
        let r = self.read(path).await;
        r["data"].as_array().unwrap().iter().map(id_of).collect()
    }

    async fn merge(&self, id: &str, body: Value) -> Reply {
        self.post(&merge_path(id), body).await
    }

    async fn merged(&self, id: &str, body: Value) -> Value {
        let r = self.merge(id, body.clone()).await;
        assert_eq!(r.status, 200, "{body}: {}", r.body);
        let contact = &r.body["contact"];
        let tag = format!("\"{}\"", contact["version"]);
        assert_eq!(r.header("etag"), Some(tag.as_str()), "{}", r.body);
        assert_eq!(
            *contact,
            self.read(&path(id)).await,
            "the answer holds the survivor as GET shows it"
        );
        r.body
    }

    async fn merge_if(&self, id: &str, body: Value, tag: &str) -> Reply {
        let r = self
            .0
            .req(Method::POST, &merge_path(id), &self.1)
            .header("if-match", tag);
        Reply::from(r.json(&body).send().await.unwrap()).await
    }

    async fn unfollowed(&self, path: &str) -> Reply {
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        let r = http.get(format!("{}{path}", self.0.base)).bearer_auth(&self.1);
        Reply::from(r.send().await.unwrap()).await
    }

    async fn define(&self, key: &str, kind: &str) {
        let body = json!({"key": key, "label": key, "type": kind});
        let r = self.post("/v1/attribute-definitions", body).await;
        assert_eq!(r.status, 201, "{}", r.body);
    }

    async fn company(&self, name: &str) -> String {
        let r = self.post("/v1/companies", json!({ "name": name })).await;
        assert_eq!(r.status, 201, "{}", r.body);
        id_of(&r.body)
    }

    async fn order(&self, contact: &str, external_id: &str, changes: Value) -> String {
        let mut body = json!({"source": "shop", "external_id": external_id, "customer": {"contact_id": contact},
            "status": "paid", "currency": "EUR", "placed_at": "2026-10-01T10:00:00Z",
            "lines": [{"name": "Mug", "quantity": 1, "unit_price": 1000}]});
        for (k, v) in changes.as_object().unwrap() {
            body[k] = v.clone();
        }
        let r = self.post("/v1/orders", body.clone()).await;
        assert_eq!(r.status, 201, "{body}: {}", r.body);
        id_of(&r.body)
    }

    async fn move_to(&self, id: &str, stage: &str) {
        let r = self
            .post(&format!("{}/lifecycle", path(id)), json!({ "stage": stage }))
            .await;
        assert_eq!(r.status, 200, "{stage}: {}", r.body);
    }

    async fn transitions(&self, id: &str) -> Vec<Value> {
        let r = self.read(&format!("{}/lifecycle?limit=100", path(id))).await;
        assert_eq!(r["page"]["has_more"], false, "{r}");
        r["data"].as_array().unwrap().clone()
    }

    async fn segment(&self, body: Value) -> String {
        let r = self.post(SEGMENTS, body.clone()).await;
        assert_eq!(r.status, 201, "{body}: {}", r.body);
        id_of(&r.body)
    }

    async fn add_members(&self, segment: &str, ids: &[&str]) {
        let r = self
            .post(&format!("{SEGMENTS}/{segment}/members"), json!({ "contact_ids": ids }))
            .await;
        assert_eq!(r.status, 200, "{}", r.body);
    }

    async fn members(&self, segment: &str) -> Vec<String> {
        let mut ids = self.ids(&format!("{SEGMENTS}/{segment}/members?limit=100")).await;
        ids.sort();
        ids
    }

    async fn spans(&self, id: &str) -> Vec<Value> {
        self.read(&format!("{}/segments", path(id))).await["data"]
            .as_array()
            .unwrap()
            .clone()
    }

    async fn erase(&self, id: &str) {
        let r = self
            .post(
                &format!("{}/erasure", path(id)),
                json!({"reason": "asked to be forgotten"}),
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.body);
    }

    async fn duplicate_pages(&self, query: &[&str]) -> Vec<Vec<Value>> {
        let (mut pages, mut after) = (Vec::new(), None::<String>);
        for _ in 0..50 {
            let mut params: Vec<String> = query.iter().map(|q| (*q).to_owned()).collect();
            params.extend(after.iter().map(|c| format!("after={c}")));
            let r = self.read(&format!("{DUPLICATES}?{}", params.join("&"))).await;
            pages.push(r["data"].as_array().unwrap().clone());
            let more = r["page"]["has_more"].as_bool().unwrap();
            assert_eq!(more, r["page"]["next_cursor"].is_string(), "{r}");
            if !more {
                return pages;
            }
            after = r["page"]["next_cursor"].as_str().map(str::to_owned);
        }
        panic!("the duplicate suggestions {query:?} never ended");
    }
}

fn path(id: &str) -> String {
    format!("{CONTACTS}/{id}")
}

fn merge_path(id: &str) -> String {
    format!("{CONTACTS}/{id}/merge")
}

/// A merge body without preferences.
fn from(ids: &[&str]) -> Value {
    json!({ "from": ids })
}

/// A merge body with preferences.
fn preferring(ids: &[&str], prefer: &Value) -> Value {
    json!({ "from": ids, "prefer": prefer })
}

fn sorted<S: AsRef<str>>(ids: &[S]) -> Vec<String> {
    let mut v: Vec<String> = ids.iter().map(|s| s.as_ref().to_owned()).collect();
    v.sort();
    v
}

/// The strings of a JSON array, sorted.
fn sorted_strings(v: &Value) -> Vec<String> {
    let items = v.as_array().unwrap_or_else(|| panic!("not an array: {v}"));
    sorted(&items.iter().map(|s| s.as_str().unwrap()).collect::<Vec<_>>())
}

/// Dropped external ids as "contact source external_id", sorted.
fn dropped(v: &Value) -> Vec<String> {
    let items = v.as_array().unwrap_or_else(|| panic!("not an array: {v}"));
    let text = |d: &Value, k: &str| d[k].as_str().unwrap_or("?").to_owned();
    let rows: Vec<String> = items
        .iter()
        .map(|d| {
            format!(
                "{} {} {}",
                text(d, "contact_id"),
                text(d, "source"),
                text(d, "external_id")
            )
        })
        .collect();
    sorted(&rows)
}

/// Every field error of a problem as "pointer code", sorted.
fn field_errors(problem: &Value) -> Vec<String> {
    let text = |e: &Value, key: &str| e[key].as_str().unwrap_or("?").to_owned();
    let errors = problem["errors"].as_array().map(Vec::as_slice).unwrap_or_default();
    let v: Vec<String> = errors
        .iter()
        .map(|e| text(e, "pointer") + " " + &text(e, "code"))
        .collect();
    sorted(&v)
}

fn at(v: &Value) -> DateTime<Utc> {
    v.as_str()
        .unwrap_or_else(|| panic!("not a timestamp: {v}"))
        .parse()
        .unwrap()
}

/// A contact's `stage_entered_at` as instants.
fn entries(contact: &Value) -> BTreeMap<String, DateTime<Utc>> {
    let map = contact["stage_entered_at"].as_object().unwrap();
    map.iter().map(|(k, v)| (k.clone(), at(v))).collect()
}

/// The earliest entry per stage of all these contacts.
fn earliest(contacts: &[&Value]) -> BTreeMap<String, DateTime<Utc>> {
    let mut all = BTreeMap::new();
    for c in contacts {
        for (stage, t) in entries(c) {
            all.entry(stage)
                .and_modify(|e: &mut DateTime<Utc>| *e = (*e).min(t))
                .or_insert(t);
        }
    }
    all
}

/// A transition as "from>to:direction/cause@instant".
fn step(t: &Value) -> String {
    let name = |v: &Value| v.as_str().unwrap_or("-").to_owned();
    let when = t["at"]
        .as_str()
        .map(|s| {
            s.parse::<DateTime<Utc>>()
                .unwrap()
                .to_rfc3339_opts(SecondsFormat::Micros, true)
        })
        .unwrap_or_default();
    format!(
        "{}>{}:{}/{}@{when}",
        name(&t["from"]),
        name(&t["to"]),
        name(&t["direction"]),
        name(&t["cause"])
    )
}

/// Asserts that `after` holds every transition of `before` and, beyond them, exactly
/// transitions starting with each of `new` ("from>to:").
#[track_caller]
fn holds_every_transition(after: &[Value], before: &[Vec<Value>], new: &[&str]) {
    let mut rest: Vec<String> = after.iter().map(step).collect();
    for t in before.iter().flatten() {
        let s = step(t);
        let i = rest
            .iter()
            .position(|r| *r == s)
            .unwrap_or_else(|| panic!("{s} is missing from the survivor's history {rest:?}"));
        rest.remove(i);
    }
    assert_eq!(rest.len(), new.len(), "transitions beyond the merged ones: {rest:?}");
    for prefix in new {
        assert!(rest.iter().any(|r| r.starts_with(prefix)), "no {prefix} in {rest:?}");
    }
}

/// `v` with every string member named `…_at` rewritten to one canonical form.
fn canon(v: &Value) -> Value {
    match v {
        Value::Object(m) => m
            .iter()
            .map(|(k, x)| {
                let x = match x {
                    Value::String(_) if k.ends_with("_at") => {
                        json!(at(x).to_rfc3339_opts(SecondsFormat::Micros, true))
                    }
                    _ => canon(x),
                };
                (k.clone(), x)
            })
            .collect(),
        Value::Array(a) => a.iter().map(canon).collect(),
        other => other.clone(),
    }
}

/// Asserts that a read of a merged id is the documented redirect to `survivor`.
#[track_caller]
fn is_redirect(r: &Reply, survivor: &str) {
    r.problem(301, "contact_merged");
    assert_eq!(r.header("location"), Some(path(survivor).as_str()), "{}", r.body);
    assert_eq!(r.body["merged_into"], survivor, "{}", r.body);
}

/// Asserts that a request naming a merged id is the documented 410 naming `survivor`.
#[track_caller]
fn is_gone(r: &Reply, survivor: &str, what: &str) {
    assert_eq!(r.status, 410, "{what}: {}", r.body);
    r.problem(410, "contact_merged");
    assert_eq!(r.body["merged_into"], survivor, "{what}: {}", r.body);
    let location = r.header("location").unwrap_or_else(|| panic!("{what}: no Location"));
    assert!(location.contains(survivor), "{what}: Location {location}");
}

/// Reads each contact again and asserts it is exactly as it was.
async fn unchanged(api: &Api<'_>, before: &[Value]) {
    for c in before {
        let now = api.read(&path(&id_of(c))).await;
        assert_eq!(now, *c, "a refused merge changed a contact");
    }
}

/// The `data` of every `kind` event, oldest first.
async fn all_events(s: &Server, kind: &str) -> Vec<Value> {
    s.events(kind).await.into_iter().map(|(_, d)| d).collect()
}

/// The contacts of the `kind` segment events about the segment `id`, oldest first.
async fn moves(s: &Server, kind: &str, id: &str) -> Vec<String> {
    let all = all_events(s, kind).await;
    all.iter()
        .filter(|d| d["object"]["segment"]["id"] == id)
        .map(|d| d["object"]["contact_id"].as_str().unwrap().to_owned())
        .collect()
}

// ---------------------------------------------------------------------------------------
// Field rules

/// Declares the attributes `tier`, `score` and `plan`; creates the companies Acme and
/// Beta and returns their ids.
async fn declare(api: &Api<'_>) -> (String, String) {
    for (key, kind) in [("tier", "string"), ("score", "number"), ("plan", "string")] {
        api.define(key, kind).await;
    }
    (api.company("Acme").await, api.company("Beta").await)
}

/// Three contacts to merge, `n` keeping their addresses and external ids apart from other
/// trios: a survivor lacking most fields (`a`) and two with overlapping ones (`b`, `c`).
async fn trio(api: &Api<'_>, n: u32, acme: &str, beta_co: &str) -> [String; 3] {
    let ada = api
        .create(
            json!({"first_name": "Ada", "country": "GB", "owner_id": "owner-a", "tags": ["a", "shared"],
            "attributes": {"tier": "gold"}, "external_ids": {"shop": format!("A-{n}")}, "lead_score": 10,
            "lifecycle_stage": "lead"}),
        )
        .await;
    let bea = api
        .create(
            json!({"email": format!("bea{n}@example.com"), "phone": format!("+44 20 7946 1{n}01"),
            "first_name": "Bea", "last_name": "Byron", "locale": "fr-FR", "country": "FR", "company_id": acme,
            "owner_id": "owner-b", "tags": ["b", "shared"], "attributes": {"tier": "silver", "score": 5},
            "external_ids": {"shop": format!("B-{n}"), "erp": format!("EB-{n}")}, "lead_score": 50,
            "lifecycle_stage": "qualified"}),
        )
        .await;
    let cy = api
        .create(
            json!({"email": format!("cy{n}@example.com"), "phone": format!("+44 20 7946 2{n}02"),
            "last_name": "Carr", "locale": "de-DE", "company_id": beta_co, "tags": ["c"],
            "attributes": {"score": 7, "plan": "pro"},
            "external_ids": {"erp": format!("EC-{n}"), "crm": format!("C-{n}")}}),
        )
        .await;
    [ada, bea, cy]
}

/// Asserts which contact, if any, the external id `source`/`id` resolves to.
async fn resolves(api: &Api<'_>, source: &str, id: &str, to: Option<&str>) {
    let r = api.get(&format!("{CONTACTS}/by-external-id/{source}/{id}")).await;
    match to {
        Some(owner) => {
            assert_eq!(r.status, 200, "{source}/{id}: {}", r.body);
            assert_eq!(id_of(&r.body), owner, "{source}/{id}");
        }
        None => {
            assert_eq!(r.status, 404, "{source}/{id} still resolves: {}", r.body);
            r.problem(404, "not_found");
        }
    }
}

async fn the_survivor_wins_and_merged_contacts_fill_what_it_lacks_in_the_order_given(s: Server) {
    let api = Api::admin(&s).await;
    let (acme, beta_co) = declare(&api).await;
    let [ada, bea, cy] = trio(&api, 1, &acme, &beta_co).await;
    let before_a = api.read(&path(&ada)).await;
    let r = api.merged(&ada, from(&[&bea, &cy])).await;
    let expected = json!({"id": ada, "email": "bea1@example.com", "phone": "+442079461101", "first_name": "Ada",
        "last_name": "Byron", "locale": "fr-FR", "country": "GB", "company_id": acme, "owner_id": "owner-a",
        "tags": ["a", "b", "c", "shared"], "attributes": {"tier": "gold", "score": 5, "plan": "pro"},
        "external_ids": {"shop": "A-1", "erp": "EB-1", "crm": "C-1"}, "lead_score": 10,
        "lifecycle_stage": "lead", "highest_stage": "qualified"});
    assert_eq!(pick(&r["contact"], &expected), expected);
    assert!(
        r["contact"]["version"].as_i64().unwrap() > before_a["version"].as_i64().unwrap(),
        "{}",
        r["contact"]
    );
    assert_eq!(sorted_strings(&r["merged_ids"]), sorted(&[&bea, &cy]));
    let lost = sorted(&[format!("{bea} shop B-1"), format!("{cy} erp EC-1")]);
    assert_eq!(dropped(&r["dropped_external_ids"]), lost);
    for (source, id, owner) in [
        ("shop", "A-1", Some(ada.as_str())),
        ("erp", "EB-1", Some(ada.as_str())),
        ("crm", "C-1", Some(ada.as_str())),
        // Ids the survivor could not keep (it holds one per source) resolve to it.
        ("shop", "B-1", Some(ada.as_str())),
        ("erp", "EC-1", Some(ada.as_str())),
    ] {
        resolves(&api, source, id, owner).await;
    }

    // The same three the other way round: the first of `from` fills first.
    let [ada2, bea2, cy2] = trio(&api, 2, &acme, &beta_co).await;
    let r2 = api.merged(&ada2, from(&[&cy2, &bea2])).await;
    let expected = json!({"email": "cy2@example.com", "phone": "+442079462202", "first_name": "Ada",
        "last_name": "Carr", "locale": "de-DE", "country": "GB", "company_id": beta_co, "owner_id": "owner-a",
        "tags": ["a", "b", "c", "shared"], "attributes": {"tier": "gold", "score": 7, "plan": "pro"},
        "external_ids": {"shop": "A-2", "erp": "EC-2", "crm": "C-2"}, "lead_score": 10});
    assert_eq!(pick(&r2["contact"], &expected), expected);
    let lost2 = sorted(&[format!("{bea2} shop B-2"), format!("{bea2} erp EB-2")]);
    assert_eq!(dropped(&r2["dropped_external_ids"]), lost2);
    resolves(&api, "erp", "EB-2", Some(ada2.as_str())).await;
    resolves(&api, "erp", "EC-2", Some(ada2.as_str())).await;
}

/// The contacts of the workspace that are not erased, sorted.
async fn live(api: &Api<'_>) -> Vec<String> {
    let mut ids = api.ids(&format!("{CONTACTS}?limit=100")).await;
    ids.sort();
    ids
}

async fn dropped_external_ids_bring_every_later_sync_to_the_survivor(s: Server) {
    let api = Api::admin(&s).await;
    let ada = api
        .create(json!({"email": "ada@example.com", "external_ids": {"shop": "A-1"}}))
        .await;
    let bea = api
        .create(json!({"email": "bea@example.com", "external_ids": {"shop": "B-1", "erp": "E-1"}}))
        .await;
    let r = api.merged(&ada, from(&[&bea])).await;
    assert_eq!(dropped(&r["dropped_external_ids"]), [format!("{bea} shop B-1")]);
    resolves(&api, "shop", "B-1", Some(&ada)).await;
    let export = api.read(&format!("{}/export", path(&ada))).await;
    assert_eq!(
        export["external_id_aliases"],
        json!([{"source": "shop", "external_id": "B-1"}])
    );

    // The shop's record of Bea syncs: by its external id, in a batch, and as an
    // order's customer. Each lands on the survivor, which keeps the shop id it holds.
    let r = api
        .put(
            &format!("{CONTACTS}/by-external-id/shop/B-1"),
            json!({"first_name": "Bea"}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let expected = json!({"id": ada, "first_name": "Bea", "external_ids": {"shop": "A-1", "erp": "E-1"}});
    assert_eq!(pick(&r.body, &expected), expected);
    let items = json!([
        {"external_ids": {"shop": "B-1"}, "last_name": "Byron"},
        {"external_ids": {"shop": "B-1", "crm": "C-9"}, "locale": "fr-FR"},
    ]);
    let r = api.post("/v1/contacts/batch", json!({"items": items})).await;
    assert_eq!(r.status, 200, "{}", r.body);
    for item in r.body["results"].as_array().unwrap() {
        assert_eq!(item["status"], "updated", "{item}");
        assert_eq!(item["contact"]["id"], ada.as_str(), "{item}");
    }
    let expected = json!({"id": ada, "last_name": "Byron", "locale": "fr-FR",
        "external_ids": {"shop": "A-1", "erp": "E-1", "crm": "C-9"}});
    assert_eq!(pick(&api.read(&path(&ada)).await, &expected), expected);
    let order = json!({"source": "shop", "external_id": "O-1", "customer": {"external_id": "B-1",
        "email": "bea.new@example.com"}, "status": "paid", "currency": "EUR",
        "placed_at": "2026-10-01T10:00:00Z", "lines": [{"name": "Mug", "quantity": 1, "unit_price": 1000}]});
    let r = api.post("/v1/orders", order).await;
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(r.body["contact_id"], ada.as_str(), "{}", r.body);
    assert_eq!(live(&api).await, [ada.as_str()]);

    // A later merge takes the alias along; erasing the survivor forgets it.
    let cy = api
        .create(json!({"email": "cy@example.com", "external_ids": {"shop": "C-1"}}))
        .await;
    let r = api.merged(&cy, from(&[&ada])).await;
    assert_eq!(dropped(&r["dropped_external_ids"]), [format!("{ada} shop A-1")]);
    for id in ["A-1", "B-1", "C-1"] {
        resolves(&api, "shop", id, Some(&cy)).await;
    }
    api.erase(&cy).await;
    // The merge into Cy recorded the id it dropped: erasure removes it there too.
    let merged_into_cy: Vec<Value> = all_events(&s, "contact.merged")
        .await
        .into_iter()
        .filter(|e| e["object"]["id"] == cy.as_str())
        .collect();
    assert_eq!(merged_into_cy.len(), 1, "{merged_into_cy:?}");
    assert!(!merged_into_cy[0].to_string().contains("A-1"), "{}", merged_into_cy[0]);
    for id in ["A-1", "B-1"] {
        resolves(&api, "shop", id, None).await;
    }
    let r = api
        .put(
            &format!("{CONTACTS}/by-external-id/shop/B-1"),
            json!({"first_name": "Bea"}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    assert_ne!(id_of(&r.body), cy);
}

async fn erasing_a_survivor_redacts_the_events_about_the_contacts_merged_into_it(s: Server) {
    let api = Api::admin(&s).await;
    let ada = api
        .create(json!({"email": "ada@example.com", "first_name": "Ada"}))
        .await;
    let bea = api
        .create(json!({"email": "bea@example.com", "first_name": "Beatrix", "external_ids": {"shop": "B-9"}}))
        .await;
    let r = api.patch(&path(&bea), json!({"last_name": "Byron"})).await;
    assert_eq!(r.status, 200, "{}", r.body);
    // Ada's email and first name win: Bea's stay only in the events about Bea.
    api.merged(&ada, from(&[&bea])).await;
    let about_bea = || async {
        let mut found = Vec::new();
        for kind in ["contact.created", "contact.updated"] {
            found.extend(events_about(&s, kind, &bea).await);
        }
        found
    };
    let before = about_bea().await;
    assert_eq!(before.len(), 2, "{before:?}");
    assert!(before[0].to_string().contains("bea@example.com"), "{}", before[0]);
    api.erase(&ada).await;
    let after = about_bea().await;
    assert_eq!(after.len(), 2, "{after:?}");
    for e in &after {
        for personal in ["bea@example.com", "Beatrix", "Byron", "B-9"] {
            assert!(!e.to_string().contains(personal), "{personal} in {e}");
        }
    }
}

/// An alias answers only for an id nobody holds; a contact given the id holds it for
/// good (the alias goes), in a single upsert, a batch or a PATCH alike.
async fn a_contact_given_a_dropped_id_holds_it_and_the_alias_goes(s: Server) {
    let api = Api::admin(&s).await;
    let ada = api
        .create(json!({"first_name": "Ada", "external_ids": {"shop": "A-1", "erp": "EA"}}))
        .await;
    let bea = api
        .create(json!({"first_name": "Bea", "external_ids": {"shop": "B-1", "erp": "EB"}}))
        .await;
    api.merged(&ada, from(&[&bea])).await;
    resolves(&api, "erp", "EB", Some(&ada)).await;
    let dan = api
        .create(json!({"first_name": "Dan", "external_ids": {"crm": "C-9"}}))
        .await;
    let eve = api
        .create(json!({"first_name": "Eve", "external_ids": {"shop": "S-5"}}))
        .await;

    // The holder of one named id wins over the survivor another named id is an alias
    // of, whichever comes first.
    let r = api
        .put(
            &format!("{CONTACTS}/by-external-id/shop/S-5"),
            json!({"external_ids": {"erp": "EB"}, "last_name": "Eve"}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let expected = json!({"id": eve, "external_ids": {"shop": "S-5", "erp": "EB"}});
    assert_eq!(pick(&r.body, &expected), expected);
    resolves(&api, "erp", "EB", Some(&eve)).await;
    // A batch behaves as one upsert after another: Dan takes the dropped shop id.
    let items = json!([{"external_ids": {"crm": "C-9", "shop": "B-1"}, "last_name": "Dee"}]);
    let r = api.post("/v1/contacts/batch", json!({"items": items})).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let result = &r.body["results"][0];
    assert_eq!(result["status"], "updated", "{result}");
    assert_eq!(result["contact"]["id"], dan.as_str(), "{result}");
    resolves(&api, "shop", "B-1", Some(&dan)).await;
    // Letting the ids go does not hand them back to the survivor.
    for (id, source) in [(&dan, "shop"), (&eve, "erp")] {
        let r = api.patch(&path(id), json!({"external_ids": {source: null}})).await;
        assert_eq!(r.status, 200, "{}", r.body);
    }
    resolves(&api, "shop", "B-1", None).await;
    resolves(&api, "erp", "EB", None).await;
    let survivor = api.read(&path(&ada)).await;
    assert_eq!(survivor["last_name"], Value::Null, "{survivor}");
    let export = api.read(&format!("{}/export", path(&ada))).await;
    assert_eq!(export["external_id_aliases"], json!([]), "{export}");
}

async fn each_merge_writes_one_contact_merged_event(s: Server) {
    let api = Api::admin(&s).await;
    let ada = api
        .create(json!({"email": "ada@example.com", "external_ids": {"shop": "A-1"}}))
        .await;
    let bea = api
        .create(json!({"email": "bea@example.com", "external_ids": {"shop": "B-1"}}))
        .await;
    let cy = api.create(json!({"email": "cy@example.com"})).await;
    let r = api.merged(&ada, from(&[&bea, &cy])).await;
    let events = all_events(&s, "contact.merged").await;
    assert_eq!(events.len(), 1, "{events:?}");
    let event = &events[0];
    assert_eq!(sorted_strings(&event["merged_ids"]), sorted(&[&bea, &cy]), "{event}");
    assert_eq!(
        dropped(&event["dropped_external_ids"]),
        [format!("{bea} shop B-1")],
        "{event}"
    );
    assert_eq!(event["object"], r["contact"], "{event}");
}

async fn prefer_takes_the_named_contacts_value_even_when_it_has_none(s: Server) {
    let api = Api::admin(&s).await;
    let (acme, beta_co) = declare(&api).await;
    let [ada, bea, cy] = trio(&api, 3, &acme, &beta_co).await;
    let prefer = json!({"email": cy, "phone": cy, "first_name": bea, "last_name": cy, "locale": cy, "country": cy,
        "company_id": cy, "owner_id": cy, "attributes.tier": cy, "attributes.score": cy, "external_ids.shop": bea,
        "external_ids.crm": bea});
    let r = api.merged(&ada, preferring(&[&bea, &cy], &prefer)).await;
    let expected = json!({"email": "cy3@example.com", "phone": "+442079462302", "first_name": "Bea",
        "last_name": "Carr", "locale": "de-DE", "country": null, "company_id": beta_co, "owner_id": null,
        "tags": ["a", "b", "c", "shared"], "attributes": {"score": 7, "plan": "pro"},
        "external_ids": {"shop": "B-3", "erp": "EB-3"}, "lead_score": 10, "lifecycle_stage": "lead"});
    assert_eq!(pick(&r["contact"], &expected), expected);
    let lost = sorted(&[
        format!("{ada} shop A-3"),
        format!("{cy} erp EC-3"),
        format!("{cy} crm C-3"),
    ]);
    assert_eq!(dropped(&r["dropped_external_ids"]), lost);
    for (source, id, owner) in [
        ("shop", "B-3", Some(ada.as_str())),
        ("erp", "EB-3", Some(ada.as_str())),
        // Dropped, and still resolving to the survivor.
        ("shop", "A-3", Some(ada.as_str())),
        ("erp", "EC-3", Some(ada.as_str())),
        ("crm", "C-3", Some(ada.as_str())),
    ] {
        resolves(&api, source, id, owner).await;
    }
    let found = api.read(&format!("{CONTACTS}/by-email/cy3@example.com")).await;
    assert_eq!(id_of(&found), ada);
}

async fn stages_stay_the_survivors_with_the_furthest_highest_and_earliest_entries(s: Server) {
    let api = Api::admin(&s).await;
    let bea = api.create(json!({"email": "bea@example.com", "lead_score": 40})).await;
    api.move_to(&bea, "lead").await;
    api.move_to(&bea, "opportunity").await;
    tokio::time::sleep(Duration::from_millis(20)).await;
    let ada = api.create(json!({"email": "ada@example.com", "lead_score": 3})).await;
    api.move_to(&ada, "lead").await;
    api.move_to(&ada, "qualified").await;
    let (before_a, before_b) = (api.read(&path(&ada)).await, api.read(&path(&bea)).await);
    let histories = [api.transitions(&ada).await, api.transitions(&bea).await];
    let r = api.merged(&ada, from(&[&bea])).await;
    let contact = &r["contact"];
    let expected = json!({"lifecycle_stage": "qualified", "highest_stage": "opportunity", "lead_score": 3});
    assert_eq!(pick(contact, &expected), expected);
    assert_eq!(entries(contact), earliest(&[&before_a, &before_b]));
    // Bea entered subscriber and lead first: her entries are kept, and Ada's qualified.
    assert_eq!(entries(contact)["lead"], entries(&before_b)["lead"]);
    assert_eq!(entries(contact)["qualified"], entries(&before_a)["qualified"]);
    holds_every_transition(&api.transitions(&ada).await, &histories, &[]);
}

// ---------------------------------------------------------------------------------------
// Orders and lifecycle

async fn orders_move_to_the_survivor_and_its_metrics_cover_them_all(s: Server) {
    let api = Api::admin(&s).await;
    let ada = api.create(json!({"email": "ada@example.com"})).await;
    let bea = api.create(json!({"email": "bea@example.com"})).await;
    let (sep, oct, nov) = ("2026-09-01T10:00:00Z", "2026-10-01T10:00:00Z", "2026-11-01T10:00:00Z");
    let a1 = api.order(&ada, "a1", json!({"placed_at": oct})).await;
    let line = |price: i64| json!([{"name": "Lamp", "quantity": 1, "unit_price": price}]);
    let b1 = api
        .order(&bea, "b1", json!({"placed_at": sep, "lines": line(2500)}))
        .await;
    let bea2 = api
        .order(
            &bea,
            "b2",
            json!({"placed_at": nov, "currency": "USD", "lines": line(700)}),
        )
        .await;
    let b3 = api
        .order(
            &bea,
            "b3",
            json!({"placed_at": nov, "status": "cancelled", "lines": line(9999)}),
        )
        .await;
    api.merged(&ada, from(&[&bea])).await;

    let mut listed = api.ids(&format!("{}/orders?limit=100", path(&ada))).await;
    listed.sort();
    assert_eq!(listed, sorted(&[&a1, &b1, &bea2, &b3]));
    for id in [&b1, &bea2, &b3] {
        assert_eq!(api.read(&format!("/v1/orders/{id}")).await["contact_id"], ada.as_str());
    }
    let mut by_contact = api.ids(&format!("/v1/orders?contact_id={ada}&limit=100")).await;
    by_contact.sort();
    assert_eq!(by_contact, listed);
    let expected = json!({"order_count": 3, "first_order_at": sep, "last_order_at": nov, "by_currency": [
        {"currency": "EUR", "order_count": 2, "total_spent": 3500, "average_order_value": 1750,
         "first_order_at": sep, "last_order_at": oct},
        {"currency": "USD", "order_count": 1, "total_spent": 700, "average_order_value": 700,
         "first_order_at": nov, "last_order_at": nov}]});
    let metrics = api.read(&format!("{}/metrics", path(&ada))).await;
    assert_eq!(canon(&metrics), canon(&expected));
    let read = api.read(&format!("{}?include=metrics", path(&ada))).await;
    assert_eq!(canon(&read["metrics"]), canon(&expected));
    // Two counting orders of hers and one of his make ada repeat customer.
    assert_eq!(read["lifecycle_stage"], "repeat_customer");
}

async fn the_automatic_lifecycle_applies_to_the_combined_orders(s: Server) {
    let api = Api::admin(&s).await;
    // A lead without orders and ada customer by one order: ada customer.
    let ada = api
        .create(json!({"email": "ada@example.com", "lifecycle_stage": "lead"}))
        .await;
    let bea = api.create(json!({"email": "bea@example.com"})).await;
    api.order(&bea, "b1", json!({})).await;
    assert_eq!(api.read(&path(&bea)).await["lifecycle_stage"], "customer");
    let histories = [api.transitions(&ada).await, api.transitions(&bea).await];
    let r = api.merged(&ada, from(&[&bea])).await;
    let expected = json!({"lifecycle_stage": "customer", "highest_stage": "customer"});
    assert_eq!(pick(&r["contact"], &expected), expected);
    holds_every_transition(&api.transitions(&ada).await, &histories, &["lead>customer:"]);
    let changed = events_about(&s, "contact.stage_changed", &ada).await;
    let last = &changed.last().unwrap()["transition"];
    assert_eq!(
        (&last["from"], &last["to"]),
        (&json!("lead"), &json!("customer")),
        "{last}"
    );

    // Two customers of one order each: ada repeat customer.
    let cy = api.create(json!({"email": "cy@example.com"})).await;
    let d = api.create(json!({"email": "dee@example.com"})).await;
    api.order(&cy, "c1", json!({})).await;
    api.order(&d, "d1", json!({"placed_at": "2026-10-02T10:00:00Z"})).await;
    let histories = [api.transitions(&cy).await, api.transitions(&d).await];
    let r = api.merged(&cy, from(&[&d])).await;
    let expected = json!({"lifecycle_stage": "repeat_customer", "highest_stage": "repeat_customer"});
    assert_eq!(pick(&r["contact"], &expected), expected);
    holds_every_transition(&api.transitions(&cy).await, &histories, &["customer>repeat_customer:"]);
    let changed = events_about(&s, "contact.stage_changed", &cy).await;
    let last = &changed.last().unwrap()["transition"];
    let moved = (&last["from"], &last["to"]);
    assert_eq!(moved, (&json!("customer"), &json!("repeat_customer")), "{last}");
}

// ---------------------------------------------------------------------------------------
// Consent

/// A consent decision captured at `captured_at`.
fn decided(purpose: &str, status: &str, captured_at: &str) -> Value {
    rec(purpose, status, &json!({ "captured_at": captured_at }))
}

/// Ada and Bea with interleaved ledgers, each pair of decisions arriving in another order
/// than it was decided in, and a pending double opt-in of Bea's; Ada has taken Bea in.
/// Returns Ada's id, the ids of every event of both and Bea's confirmation token.
async fn merged_ledgers(api: &Api<'_>) -> (String, Vec<String>, Value) {
    let ada = api.create(json!({"email": "ada@example.com"})).await;
    let bea = api.create(json!({"email": "bea@example.com"})).await;
    let (jan, feb, mar) = ("2026-01-01T00:00:00Z", "2026-02-01T00:00:00Z", "2026-03-01T00:00:00Z");
    let ledger = [
        (&bea, decided("analytics", "withdrawn", mar)),
        (&ada, decided("analytics", "granted", jan)),
        (&ada, decided("personalization", "withdrawn", "2026-01-02T00:00:00Z")),
        (&bea, decided("personalization", "granted", "2026-03-02T00:00:00Z")),
        // Ties of capture times: the later arrival decides.
        (&ada, decided("third_party_sharing", "withdrawn", feb)),
        (&bea, decided("third_party_sharing", "granted", feb)),
        (&bea, decided("phone_marketing", "granted", "2026-02-02T00:00:00Z")),
        (&ada, decided("phone_marketing", "denied", "2026-02-02T00:00:00Z")),
    ];
    let mut ids = Vec::new();
    for (who, body) in ledger {
        let event = &api.recorded(who, body).await["event"];
        ids.push(event["id"].as_str().unwrap().to_owned());
    }
    let token = api.pending(&bea).await;
    ids.push(
        api.history(&bea).await.last().unwrap()["id"]
            .as_str()
            .unwrap()
            .to_owned(),
    );
    assert_eq!(api.verdict(&ada, "analytics").await, "true/granted");
    assert_eq!(api.verdict(&ada, "personalization").await, "false/withdrawn");
    assert_eq!(api.verdict(&ada, "third_party_sharing").await, "false/withdrawn");
    api.merged(&ada, from(&[&bea])).await;
    (ada, ids, token)
}

async fn effective_consent_is_the_latest_decision_of_both_and_the_later_arrival_on_a_tie(s: Server) {
    let api = Api::admin(&s).await;
    let (ada, _, _) = merged_ledgers(&api).await;
    assert_eq!(api.verdict(&ada, "analytics").await, "false/withdrawn");
    assert_eq!(api.verdict(&ada, "personalization").await, "true/granted");
    assert_eq!(api.verdict(&ada, "phone_marketing").await, "false/denied");
    assert_eq!(api.verdict(&ada, "email_marketing").await, "false/pending_confirmation");
    let expected = "analytics/withdrawn email_marketing/pending_confirmation personalization/granted \
                    phone_marketing/denied third_party_sharing/granted";
    assert_eq!(rows(&api.states(&ada).await, "purpose status"), expected);
    // As in any ledger, of two decisions captured at the same instant the one that
    // arrived later decides.
    assert_eq!(api.verdict(&ada, "third_party_sharing").await, "true/granted");
}

async fn the_survivors_ledger_lists_every_event_of_both_in_arrival_order(s: Server) {
    let api = Api::admin(&s).await;
    let (ada, ids, _) = merged_ledgers(&api).await;
    let history = api.history(&ada).await;
    let listed: Vec<String> = history
        .iter()
        .map(|eve| eve["id"].as_str().unwrap().to_owned())
        .collect();
    // The ledger keeps the order events arrived in, across both contacts.
    assert_eq!(listed, ids, "{history:?}");
}

async fn a_pending_confirmation_of_a_merged_contact_confirms_on_the_survivor(s: Server) {
    let api = Api::admin(&s).await;
    let (ada, _, token) = merged_ledgers(&api).await;
    let r = api.confirm(&token).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["event"]["contact_id"], ada.as_str(), "{}", r.body);
    assert_eq!(api.verdict(&ada, "email_marketing").await, "true/granted");
    let statuses = rows(&api.history(&ada).await, "status");
    assert!(statuses.ends_with("pending_confirmation granted"), "{statuses}");
}

// ---------------------------------------------------------------------------------------
// Segments

async fn memberships_move_to_the_survivor_and_dynamic_ones_are_decided_again(s: Server) {
    let api = Api::admin(&s).await;
    let ada = api.create(json!({"email": "ada@example.com", "tags": ["a"]})).await;
    let bea = api.create(json!({"email": "bea@example.com", "tags": ["b"]})).await;
    let zed = api.create(json!({"email": "zed@example.com"})).await;
    let tagged = |tag: &str| json!({"field": "tags", "op": "contains", "value": tag});
    let everyone = api.segment(json!({"name": "Everyone", "rules": {"all": []}})).await;
    let has_b = api.segment(json!({"name": "B", "rules": tagged("b")})).await;
    let not_b = api
        .segment(json!({"name": "Not B", "rules": {"not": tagged("b")}}))
        .await;
    let bea_rule = json!({"field": "email", "op": "eq", "value": "bea@example.com"});
    let emailed_bea = api.segment(json!({"name": "Bea", "rules": bea_rule})).await;
    let only_b = api.segment(json!({"name": "Only B", "kind": "static"})).await;
    let both = api.segment(json!({"name": "Both", "kind": "static"})).await;
    let only_a = api.segment(json!({"name": "Only A", "kind": "static"})).await;
    api.add_members(&only_b, &[&bea]).await;
    api.add_members(&both, &[&ada, &bea]).await;
    api.add_members(&only_a, &[&ada]).await;
    assert_eq!(api.members(&not_b).await, sorted(&[&ada, &zed]));
    let entered_before = all_events(&s, "segment.entered").await.len();

    api.merged(&ada, from(&[&bea])).await;
    let expected_members = [
        (&everyone, sorted(&[&ada, &zed])),
        (&has_b, vec![ada.clone()]),
        (&not_b, vec![zed.clone()]),
        (&emailed_bea, vec![]),
        (&only_b, vec![ada.clone()]),
        (&both, vec![ada.clone()]),
        (&only_a, vec![ada.clone()]),
    ];
    for (segment, members) in &expected_members {
        assert_eq!(api.members(segment).await, *members, "segment {segment}");
        let read = api.read(&format!("{SEGMENTS}/{segment}")).await;
        assert_eq!(read["member_count"], members.len(), "segment {segment}");
    }
    // Every membership Bea held ended; Ada gained two and lost one.
    for segment in [&everyone, &has_b, &emailed_bea, &only_b, &both] {
        assert_eq!(
            moves(&s, "segment.exited", segment).await,
            [bea.as_str()],
            "segment {segment}"
        );
    }
    assert_eq!(moves(&s, "segment.exited", &not_b).await, [ada.as_str()]);
    let entered = all_events(&s, "segment.entered").await;
    let gained: Vec<String> = entered[entered_before..]
        .iter()
        .map(|d| {
            let o = &d["object"];
            format!(
                "{} {}",
                o["segment"]["id"].as_str().unwrap(),
                o["contact_id"].as_str().unwrap()
            )
        })
        .collect();
    let expected = sorted(&[format!("{has_b} {ada}"), format!("{only_b} {ada}")]);
    assert_eq!(sorted(&gained), expected);
    // Ada's memberships: the current ones, and Bea's past span in ada segment Ada never matched.
    let spans = api.spans(&ada).await;
    let of = |current: bool| {
        let ids: Vec<&str> = spans
            .iter()
            .filter(|m| m["exited_at"].is_null() == current)
            .map(|m| m["segment"]["id"].as_str().unwrap())
            .collect();
        sorted(&ids)
    };
    assert_eq!(
        of(true),
        sorted(&[&everyone, &has_b, &only_b, &both, &only_a]),
        "{spans:?}"
    );
    let past = of(false);
    assert!(past.contains(&emailed_bea) && past.contains(&not_b), "{spans:?}");
}

// ---------------------------------------------------------------------------------------
// Merged ids

async fn a_merged_id_redirects_reads_and_refuses_everything_else(s: Server) {
    let api = Api::admin(&s).await;
    let ada = api.create(json!({"email": "ada@example.com"})).await;
    let bea = api.create(json!({"email": "bea@example.com"})).await;
    let cy = api.create(json!({"email": "cy@example.com"})).await;
    api.merged(&ada, from(&[&bea])).await;
    is_redirect(&api.unfollowed(&path(&bea)).await, &ada);
    is_redirect(&api.unfollowed(&format!("{}?include=metrics", path(&bea))).await, &ada);
    let (survivor, bystander) = (api.read(&path(&ada)).await, api.read(&path(&cy)).await);
    let base = path(&bea);
    let gone: Vec<(Method, String, Option<Value>)> = vec![
        (Method::PATCH, base.clone(), Some(json!({"first_name": "Bo"}))),
        (Method::DELETE, base.clone(), None),
        (Method::GET, format!("{base}/orders"), None),
        (Method::GET, format!("{base}/consents"), None),
        (Method::GET, format!("{base}/consents/history"), None),
        (Method::GET, format!("{base}/consent/analytics"), None),
        (
            Method::POST,
            format!("{base}/consents"),
            Some(rec("analytics", "granted", &json!({}))),
        ),
        (Method::POST, format!("{base}/consent/analytics/confirmation"), None),
        (Method::GET, format!("{base}/lifecycle"), None),
        (
            Method::POST,
            format!("{base}/lifecycle"),
            Some(json!({"stage": "lead"})),
        ),
        (Method::GET, format!("{base}/metrics"), None),
        (Method::GET, format!("{base}/segments"), None),
        (Method::GET, format!("{base}/export"), None),
        (Method::POST, format!("{base}/tags"), Some(json!({"add": ["x"]}))),
        (
            Method::POST,
            format!("{base}/erasure"),
            Some(json!({"reason": "asked"})),
        ),
        (Method::POST, merge_path(&bea), Some(from(&[&cy]))),
    ];
    let openapi = Reply::from(s.http.get(format!("{}/openapi.json", s.base)).send().await.unwrap())
        .await
        .body;
    for (method, route, body) in gone {
        let r = api.send(method.clone(), &route, body).await;
        is_gone(&r, &ada, &format!("{method} {route}"));
        // The same answer is documented for the route.
        let template = route.replacen(&bea, "{id}", 1).replacen("analytics", "{purpose}", 1);
        let op = &openapi["paths"][&template][method.as_str().to_lowercase()];
        let documented = op["responses"]["410"]["description"].as_str().unwrap_or_default();
        assert!(documented.contains("contact_merged"), "{method} {template}: {op}");
    }
    unchanged(&api, &[survivor, bystander]).await;
    assert_eq!(all_events(&s, "contact.merged").await.len(), 1);
}

async fn a_merged_id_reads_as_null_with_an_error_over_graphql(s: Server) {
    let api = Api::admin(&s).await;
    let ada = api.create(json!({"email": "ada@example.com"})).await;
    let bea = api.create(json!({"email": "bea@example.com"})).await;
    api.merged(&ada, from(&[&bea])).await;
    let query = "query($id: ID!) { contact(id: $id) { id } }";
    let doc = s.gql(&api.1, query, json!({ "id": bea })).await;
    assert!(doc["data"]["contact"].is_null(), "{doc}");
    let error = &doc["errors"][0]["extensions"];
    assert_eq!(error["code"], "contact_merged", "{doc}");
    assert_eq!(error["merged_into"], ada.as_str(), "{doc}");
}

async fn a_later_merge_repoints_old_ids_and_deleting_the_survivor_forgets_them(s: Server) {
    let api = Api::admin(&s).await;
    let ada = api.create(json!({"email": "ada@example.com"})).await;
    let bea = api.create(json!({"email": "bea@example.com"})).await;
    let cy = api.create(json!({"email": "cy@example.com"})).await;
    api.merged(&ada, from(&[&bea])).await;
    is_redirect(&api.unfollowed(&path(&bea)).await, &ada);
    api.merged(&cy, from(&[&ada])).await;
    for old in [&ada, &bea] {
        is_redirect(&api.unfollowed(&path(old)).await, &cy);
        let r = api.patch(&path(old), json!({"first_name": "Old"})).await;
        is_gone(&r, &cy, &format!("PATCH {old}"));
    }
    let r = api.delete(&path(&cy)).await;
    assert_eq!(r.status, 204, "{}", r.body);
    for old in [&ada, &bea, &cy] {
        api.unfollowed(&path(old)).await.problem(404, "not_found");
        let r = api.patch(&path(old), json!({"first_name": "Old"})).await;
        r.problem(404, "not_found");
    }
}

async fn merged_contacts_are_never_listed_searched_segmented_or_exported(s: Server) {
    let api = Api::admin(&s).await;
    let ada = api
        .create(json!({"email": "ada@example.com", "first_name": "Ada", "tags": ["a"]}))
        .await;
    let bea = api
        .create(json!({"email": "bea@example.com", "first_name": "Bea", "tags": ["b"]}))
        .await;
    let zed = api
        .create(json!({"email": "zed@example.com", "first_name": "Zed"}))
        .await;
    let everyone = api.segment(json!({"name": "Everyone", "rules": {"all": []}})).await;
    let list = api.segment(json!({"name": "Picked", "kind": "static"})).await;
    api.add_members(&list, &[&bea]).await;
    api.merged(&ada, from(&[&bea])).await;
    let live = sorted(&[&ada, &zed]);

    let mut all = api.ids(&format!("{CONTACTS}?limit=100")).await;
    all.sort();
    assert_eq!(all, live);
    assert_eq!(api.ids(&format!("{CONTACTS}?tag=b")).await, [ada.as_str()]);
    assert!(api.ids(&format!("{CONTACTS}?email=bea@example.com")).await.is_empty());
    assert!(api.ids(&format!("{CONTACTS}?q=bea")).await.is_empty());
    let search = |rules: Value| api.post("/v1/contacts/search", json!({"rules": rules, "limit": 100}));
    let r = search(json!({"all": []})).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let found: Vec<String> = r.body["data"].as_array().unwrap().iter().map(id_of).collect();
    assert_eq!(sorted(&found), live);
    let r = search(json!({"field": "email", "op": "eq", "value": "bea@example.com"})).await;
    assert_eq!(r.body["data"], json!([]), "{}", r.body);
    assert_eq!(api.members(&everyone).await, live);
    assert_eq!(api.read(&format!("{SEGMENTS}/{everyone}/count")).await["count"], 2);
    assert_eq!(api.members(&list).await, [ada.as_str()]);

    let export = |query: String| {
        let r = s.req(Method::GET, &format!("/v1/exports/contacts{query}"), &api.1);
        async move {
            let r = r.send().await.unwrap();
            assert_eq!(r.status(), 200);
            let text = r.text().await.unwrap();
            let ids: Vec<String> = text.lines().map(|l| id_of(&serde_json::from_str(l).unwrap())).collect();
            ids
        }
    };
    assert_eq!(export("?format=ndjson".to_owned()).await, live);
    assert_eq!(
        export(format!("?format=ndjson&segment_id={list}")).await,
        [ada.as_str()]
    );

    let doc = s
        .gql(&api.1, "{ contacts(first: 10) { edges { node { id } } } }", json!({}))
        .await;
    let edges = doc["data"]["contacts"]["edges"].as_array().unwrap();
    let listed: Vec<&str> = edges.iter().map(|eve| eve["node"]["id"].as_str().unwrap()).collect();
    assert_eq!(sorted(&listed), live, "{doc}");
}

// ---------------------------------------------------------------------------------------
// Refusals

/// Creates `n` contacts in one batch; returns their ids.
async fn many(api: &Api<'_>, prefix: &str, n: usize) -> Vec<String> {
    let items: Vec<Value> = (0..n)
        .map(|i| json!({"email": format!("{prefix}{i}@example.com")}))
        .collect();
    let r = api.post("/v1/contacts/batch", json!({ "items": items })).await;
    assert_eq!(r.status, 200, "{}", r.body);
    r.body["results"].as_array().unwrap().iter().map(id_of).collect()
}

async fn bad_from_lists_are_refused_at_the_offending_id_and_change_nothing(s: Server) {
    let api = Api::admin(&s).await;
    let ada = api.create(json!({"email": "ada@example.com"})).await;
    let bea = api.create(json!({"email": "bea@example.com"})).await;
    let gone = api.create(json!({"email": "gone@example.com"})).await;
    let keeper = api.create(json!({"email": "keeper@example.com"})).await;
    api.merged(&keeper, from(&[&gone])).await;
    let (_, other) = s.other_workspace().await;
    let theirs = Api(&s, other).create(json!({"email": "bea@example.com"})).await;
    let eleven = many(&api, "p", 11).await;
    let eleven: Vec<&str> = eleven.iter().map(String::as_str).collect();
    let before = [
        api.read(&path(&ada)).await,
        api.read(&path(&bea)).await,
        api.read(&path(eleven[0])).await,
    ];

    let cases = [
        (from(&[]), "/from invalid_length"),
        (from(&eleven), "/from invalid_length"),
        (from(&[&bea, NOWHERE]), "/from/1 not_found"),
        (from(&[&theirs]), "/from/0 not_found"),
        (from(&[&bea, &gone]), "/from/1 not_found"),
        (from(&[&ada]), "/from/0 duplicate"),
        (from(&[&bea, &bea]), "/from/1 duplicate"),
        (from(&[&bea, &ada]), "/from/1 duplicate"),
    ];
    for (body, error) in cases {
        let r = api.merge(&ada, body.clone()).await;
        assert_eq!(r.status, 422, "{body}: {}", r.body);
        r.problem(422, "validation_failed");
        assert_eq!(field_errors(&r.body), [error], "{body}: {}", r.body);
    }
    api.merge(NOWHERE, from(&[&bea])).await.problem(404, "not_found");
    api.merge(&theirs, from(&[&bea])).await.problem(404, "not_found");
    unchanged(&api, &before).await;
    assert_eq!(all_events(&s, "contact.merged").await.len(), 1);

    // Ten is the most ada merge takes.
    let r = api.merged(&ada, from(&eleven[..10])).await;
    assert_eq!(sorted_strings(&r["merged_ids"]), sorted(&eleven[..10]));
}

async fn bad_preferences_are_refused_at_their_key_and_change_nothing(s: Server) {
    let api = Api::admin(&s).await;
    api.define("tier", "string").await;
    let ada = api.create(json!({"email": "ada@example.com"})).await;
    let bea = api
        .create(json!({"email": "bea@example.com", "phone": "+44 20 7946 0001"}))
        .await;
    let cy = api.create(json!({"email": "cy@example.com"})).await;
    let before = [api.read(&path(&ada)).await, api.read(&path(&bea)).await];
    let cases = [
        (json!({"tags": bea}), "/prefer/tags unknown_field"),
        (json!({"lead_score": bea}), "/prefer/lead_score unknown_field"),
        (json!({"lifecycle_stage": bea}), "/prefer/lifecycle_stage unknown_field"),
        (json!({"nickname": bea}), "/prefer/nickname unknown_field"),
        (json!({"phone": cy}), "/prefer/phone not_in_from"),
        (json!({"phone": ada}), "/prefer/phone not_in_from"),
        (
            json!({"attributes.tier": NOWHERE}),
            "/prefer/attributes.tier not_in_from",
        ),
        (
            json!({"external_ids.shop": cy}),
            "/prefer/external_ids.shop not_in_from",
        ),
    ];
    for (prefer, error) in cases {
        let r = api.merge(&ada, preferring(&[&bea], &prefer)).await;
        assert_eq!(r.status, 422, "{prefer}: {}", r.body);
        r.problem(422, "validation_failed");
        assert_eq!(field_errors(&r.body), [error], "{prefer}: {}", r.body);
    }
    unchanged(&api, &before).await;
    assert!(all_events(&s, "contact.merged").await.is_empty());
}

async fn erased_contacts_are_refused_and_change_nothing(s: Server) {
    let api = Api::admin(&s).await;
    let ada = api.create(json!({"email": "ada@example.com"})).await;
    let bea = api.create(json!({"email": "bea@example.com"})).await;
    let eve = api.create(json!({"email": "eve@example.com"})).await;
    api.erase(&eve).await;
    let before = [
        api.read(&path(&ada)).await,
        api.read(&path(&bea)).await,
        api.read(&path(&eve)).await,
    ];
    let as_survivor = api.merge(&eve, from(&[&bea])).await;
    let as_merged = api.merge(&ada, from(&[&bea, &eve])).await;
    unchanged(&api, &before).await;
    assert!(all_events(&s, "contact.merged").await.is_empty());
    let answers = [&as_survivor, &as_merged].map(|r| (r.status.as_u16(), r.body["code"].clone()));
    let expected = (410, json!("contact_erased"));
    assert_eq!(
        answers,
        [expected.clone(), expected],
        "{} / {}",
        as_survivor.body,
        as_merged.body
    );
    as_survivor.problem(410, "contact_erased");
    as_merged.problem(410, "contact_erased");
}

async fn a_stale_if_match_is_refused_and_a_current_one_merges(s: Server) {
    let api = Api::admin(&s).await;
    let ada = api.create(json!({"email": "ada@example.com"})).await;
    let bea = api.create(json!({"email": "bea@example.com"})).await;
    let before = [api.read(&path(&ada)).await, api.read(&path(&bea)).await];
    let stale = api.merge_if(&ada, from(&[&bea]), "\"7\"").await;
    stale.problem(412, "precondition_failed");
    assert_eq!(stale.body["current_version"], 1, "{}", stale.body);
    unchanged(&api, &before).await;
    assert!(all_events(&s, "contact.merged").await.is_empty());

    let r = api.merge_if(&ada, from(&[&bea]), "\"1\"").await;
    assert_eq!(r.status, 200, "{}", r.body);
    let version = r.body["contact"]["version"].as_i64().unwrap();
    assert!(version > 1, "{}", r.body);
    assert_eq!(r.header("etag"), Some(format!("\"{version}\"").as_str()));
    is_redirect(&api.unfollowed(&path(&bea)).await, &ada);
}

async fn malformed_merge_bodies_are_refused_as_elsewhere(s: Server) {
    let api = Api::admin(&s).await;
    let ada = api.create(json!({"email": "ada@example.com"})).await;
    let bea = api.create(json!({"email": "bea@example.com"})).await;
    let before = [api.read(&path(&ada)).await, api.read(&path(&bea)).await];
    let raw = api
        .0
        .req(Method::POST, &merge_path(&ada), &api.1)
        .header("content-type", "application/json")
        .body(format!("{{\"from\": [\"{bea}\""));
    Reply::from(raw.send().await.unwrap())
        .await
        .problem(400, "malformed_json");
    let cases = [
        (json!({"from": [bea], "colour": "red"}), "/colour unknown_field"),
        (json!({"from": bea}), "/from wrong_type"),
        (json!({"from": [bea], "prefer": "phone"}), "/prefer wrong_type"),
    ];
    for (body, error) in cases {
        let r = api.merge(&ada, body.clone()).await;
        assert_eq!(r.status, 422, "{body}: {}", r.body);
        r.problem(422, "validation_failed");
        assert_eq!(field_errors(&r.body), [error], "{body}: {}", r.body);
    }
    let r = api.merge(&ada, json!({})).await;
    r.problem(422, "validation_failed");
    assert_eq!(r.pointers(), ["/from"], "{}", r.body);
    unchanged(&api, &before).await;
}

async fn merging_needs_contacts_write(s: Server) {
    let api = Api::admin(&s).await;
    let ada = api.create(json!({"email": "ada@example.com"})).await;
    let bea = api.create(json!({"email": "bea@example.com"})).await;
    let before = [api.read(&path(&ada)).await, api.read(&path(&bea)).await];
    let reader = Api::with(&s, "contacts:read").await;
    reader
        .merge(&ada, from(&[&bea]))
        .await
        .problem(403, "insufficient_scope");
    let mutation = "mutation($id: ID!, $from: [ID!]!) { mergeContacts(id: $id, from: $from) { mergedIds } }";
    let doc = s.gql(&reader.1, mutation, json!({"id": ada, "from": [bea]})).await;
    assert_eq!(doc["errors"][0]["extensions"]["code"], "insufficient_scope", "{doc}");
    unchanged(&api, &before).await;
    assert!(all_events(&s, "contact.merged").await.is_empty());

    let writer = Api::with(&s, "contacts:write").await;
    let r = writer.merge(&ada, from(&[&bea])).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["contact"], api.read(&path(&ada)).await);
    is_redirect(&api.unfollowed(&path(&bea)).await, &ada);
}

async fn another_workspace_can_neither_merge_nor_see_our_contacts(s: Server) {
    let api = Api::admin(&s).await;
    let (_, token) = s.other_workspace().await;
    let them = Api(&s, token);
    let ada = api
        .create(json!({"email": "ada@example.com", "external_ids": {"shop": "A-1"}}))
        .await;
    let bea = api
        .create(json!({"email": "bea@example.com", "external_ids": {"shop": "B-1"}}))
        .await;
    let xia = them.create(json!({"email": "ada@example.com"})).await;
    let yan = them.create(json!({"email": "bea@example.com"})).await;
    let before = [api.read(&path(&ada)).await, api.read(&path(&bea)).await];
    them.merge(&ada, from(&[&xia])).await.problem(404, "not_found");
    let r = them.merge(&xia, from(&[&ada])).await;
    r.problem(422, "validation_failed");
    assert_eq!(field_errors(&r.body), ["/from/0 not_found"]);
    unchanged(&api, &before).await;

    api.merged(&ada, from(&[&bea])).await;
    them.merged(&xia, from(&[&yan])).await;
    // A merged id is not found elsewhere, not redirected.
    them.unfollowed(&path(&bea)).await.problem(404, "not_found");
    them.patch(&path(&bea), json!({"first_name": "Eve"}))
        .await
        .problem(404, "not_found");
    api.unfollowed(&path(&yan)).await.problem(404, "not_found");
    // Our merge's dropped id resolves to our survivor here, to nobody there; their
    // sync naming it creates their own contact.
    resolves(&api, "shop", "B-1", Some(&ada)).await;
    resolves(&them, "shop", "B-1", None).await;
    let r = them
        .put(
            &format!("{CONTACTS}/by-external-id/shop/B-1"),
            json!({"first_name": "Zed"}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let zed = id_of(&r.body);
    resolves(&api, "shop", "B-1", Some(&ada)).await;
    assert_eq!(api.read(&path(&ada)).await["first_name"], Value::Null);
    assert_eq!(them.delete(&path(&zed)).await.status, 204);
    assert_eq!(api.ids(CONTACTS).await, [ada.as_str()]);
    assert_eq!(them.ids(CONTACTS).await, [xia.as_str()]);
    let events = s.events("contact.merged").await;
    let ours = events.iter().filter(|(w, _)| *w == s.admin.workspace_id).count();
    assert_eq!((ours, events.len()), (1, 2), "{events:?}");
}

async fn contacts_merge_over_graphql(s: Server) {
    let api = Api::admin(&s).await;
    let ada = api
        .create(json!({"email": "ada@example.com", "external_ids": {"shop": "A-1"}}))
        .await;
    let bea = api
        .create(json!({"email": "bea@example.com", "phone": "+44 20 7946 0001", "external_ids": {"shop": "B-1"}}))
        .await;
    let mutation = "mutation($id: ID!, $from: [ID!]!, $prefer: JSON) {
        mergeContacts(id: $id, from: $from, prefer: $prefer) {
            contact { id phone externalIds version } mergedIds droppedExternalIds { contactId source externalId } } }";
    let doc = s
        .gql(&api.1, mutation, json!({"id": ada, "from": [NOWHERE], "prefer": null}))
        .await;
    let eve = &doc["errors"][0]["extensions"];
    assert_eq!(eve["code"], "validation_failed", "{doc}");
    assert_eq!(eve["errors"][0]["pointer"], "/from/0", "{doc}");
    assert_eq!(eve["errors"][0]["code"], "not_found", "{doc}");

    let vars = json!({"id": ada, "from": [bea], "prefer": {"external_ids.shop": bea}});
    let doc = s.gql(&api.1, mutation, vars).await;
    assert!(doc.get("errors").is_none(), "{doc}");
    let result = &doc["data"]["mergeContacts"];
    let rest = api.read(&path(&ada)).await;
    let expected = json!({"contact": {"id": ada, "phone": "+442079460001", "externalIds": {"shop": "B-1"},
            "version": rest["version"]},
        "mergedIds": [bea], "droppedExternalIds": [{"contactId": ada, "source": "shop", "externalId": "A-1"}]});
    assert_eq!(*result, expected);
    assert_eq!(rest["external_ids"], json!({"shop": "B-1"}));
    is_redirect(&api.unfollowed(&path(&bea)).await, &ada);
    resolves(&api, "shop", "A-1", Some(&ada)).await;
}

// ---------------------------------------------------------------------------------------
// Duplicate suggestions

/// The contacts the duplicate suggestions should group, by group, in creation order.
struct Likely {
    ada: Vec<String>,
    bob: Vec<String>,
    phone: Vec<String>,
    grace: Vec<String>,
}

/// Creates the groups of `Likely` and contacts that resemble them without being
/// duplicates.
async fn likely_duplicates(api: &Api<'_>) -> Likely {
    let acme = api.company("Acme").await;
    let beta_co = api.company("Beta").await;
    let mut made = Vec::new();
    for body in [
        json!({"email": "ada@gmail.com"}),
        json!({"email": "A.da+news@GoogleMail.com"}),
        json!({"email": "a.d.a@gmail.com"}),
        json!({"email": "bob+shop@example.com"}),
        json!({"email": "Bob@Example.com"}),
        json!({"email": "b.ob@example.com"}),
        json!({"email": "p1@example.com", "phone": "+44 20 7946 0000"}),
        json!({"email": "p2@example.com", "phone": "+442079460000"}),
        json!({"email": "p3@example.com", "phone": "+44 20 7946 0009"}),
        json!({"email": "n1@example.com", "first_name": "Grace", "last_name": "Hopper", "company_id": acme}),
        json!({"email": "n2@example.com", "first_name": "grace", "last_name": "HOPPER", "company_id": acme}),
        json!({"email": "n3@example.com", "first_name": "Grace", "last_name": "Hopper", "company_id": beta_co}),
        json!({"email": "n4@example.com", "first_name": "Grace", "company_id": acme}),
        json!({"email": "n5@example.com", "first_name": "Grace", "last_name": "Hopper"}),
    ] {
        made.push(api.create(body).await);
    }
    Likely {
        ada: made[0..3].to_vec(),
        bob: made[3..5].to_vec(),
        phone: made[6..8].to_vec(),
        grace: made[9..11].to_vec(),
    }
}

/// A group as "reason: id,id,…".
fn group(g: &Value) -> String {
    let ids: Vec<String> = g["contacts"].as_array().unwrap().iter().map(id_of).collect();
    format!("{}: {}", g["reason"].as_str().unwrap(), ids.join(","))
}

fn expected_group(reason: &str, ids: &[String]) -> String {
    format!("{reason}: {}", ids.join(","))
}

async fn duplicates_are_grouped_by_email_phone_and_name_with_company(s: Server) {
    let api = Api::admin(&s).await;
    let likely = likely_duplicates(&api).await;
    let pages = api.duplicate_pages(&[]).await;
    assert_eq!(pages.len(), 1);
    let groups = &pages[0];
    let summary: Vec<String> = groups.iter().map(group).collect();
    let expected = [
        expected_group("email", &likely.ada),
        expected_group("email", &likely.bob),
        expected_group("phone", &likely.phone),
        expected_group("name_company", &likely.grace),
    ];
    assert_eq!(summary, expected);
    let keys: Vec<&Value> = groups.iter().map(|g| &g["key"]).collect();
    assert_eq!(
        keys[..3],
        [
            &json!("ada@gmail.com"),
            &json!("bob@example.com"),
            &json!("+442079460000")
        ]
    );
    assert!(keys[3].as_str().is_some_and(|k| !k.is_empty()), "{}", groups[3]);
    // Each group lists its contacts as GET shows them.
    for g in groups {
        for c in g["contacts"].as_array().unwrap() {
            assert_eq!(*c, api.read(&path(&id_of(c))).await);
        }
    }
}

async fn duplicate_groups_page_one_at_a_time_and_filter_by_reason(s: Server) {
    let api = Api::admin(&s).await;
    let likely = likely_duplicates(&api).await;
    let whole: Vec<String> = api.duplicate_pages(&[]).await.concat().iter().map(group).collect();
    assert_eq!(whole.len(), 4, "{whole:?}");
    let pages = api.duplicate_pages(&["limit=1"]).await;
    assert!(pages.iter().all(|p| p.len() == 1), "{pages:?}");
    let walked: Vec<String> = pages.concat().iter().map(group).collect();
    assert_eq!(walked, whole, "every group exactly once, in order");

    for (reason, expected) in [
        (
            "email",
            vec![
                expected_group("email", &likely.ada),
                expected_group("email", &likely.bob),
            ],
        ),
        ("phone", vec![expected_group("phone", &likely.phone)]),
        ("name_company", vec![expected_group("name_company", &likely.grace)]),
    ] {
        let filter = format!("reason={reason}");
        let all: Vec<String> = api
            .duplicate_pages(&[&filter])
            .await
            .concat()
            .iter()
            .map(group)
            .collect();
        assert_eq!(all, expected, "{reason}");
        let one_by_one = api.duplicate_pages(&[&filter, "limit=1"]).await;
        assert_eq!(one_by_one.len(), expected.len(), "{reason}: {one_by_one:?}");
        let listed: Vec<String> = one_by_one.concat().iter().map(group).collect();
        assert_eq!(listed, expected, "{reason}");
    }
    assert_eq!(api.duplicate_pages(&["limit=100"]).await.concat().len(), 4);
}

async fn bad_duplicate_queries_are_refused(s: Server) {
    let api = Api::admin(&s).await;
    likely_duplicates(&api).await;
    let mut answers = Vec::new();
    for query in ["reason=address", "limit=0", "limit=501", "colour=red", "after=garbage!"] {
        let r = api.get(&format!("{DUPLICATES}?{query}")).await;
        answers.push(format!("{query} {} {}", r.status.as_u16(), r.body["code"]));
    }
    let expected = [
        "reason=address 400 \"invalid_query\"",
        "limit=0 400 \"invalid_query\"",
        "limit=501 400 \"invalid_query\"",
        "colour=red 400 \"invalid_query\"",
        "after=garbage! 400 \"invalid_cursor\"",
    ];
    assert_eq!(answers, expected);
}

async fn erased_merged_and_foreign_contacts_are_never_suggested(s: Server) {
    let api = Api::admin(&s).await;
    let ada = api.create(json!({"email": "ada@gmail.com"})).await;
    let ada2 = api.create(json!({"email": "a.da@gmail.com"})).await;
    let erased = api.create(json!({"email": "ad.a@gmail.com"})).await;
    let bob = api.create(json!({"email": "bob@example.com"})).await;
    let bobby = api.create(json!({"email": "bob+news@example.com"})).await;
    let bob3 = api.create(json!({"email": "BOB+shop@example.com"})).await;
    let keeper = api.create(json!({"email": "keeper@example.com"})).await;
    api.create(json!({"email": "lone@example.com"})).await;
    let (_, token) = s.other_workspace().await;
    let them = Api(&s, token);
    let xia = them.create(json!({"email": "ada@gmail.com"})).await;
    let xia2 = them.create(json!({"email": "ada+x@googlemail.com"})).await;
    them.create(json!({"email": "lone+x@example.com"})).await;
    let summary = |pages: Vec<Vec<Value>>| -> Vec<String> { pages.concat().iter().map(group).collect() };
    let before = summary(api.duplicate_pages(&[]).await);
    let all_adas = [ada.clone(), ada2.clone(), erased.clone()];
    let all_bobs = [bob.clone(), bobby.clone(), bob3.clone()];
    assert_eq!(
        before,
        [expected_group("email", &all_adas), expected_group("email", &all_bobs)]
    );

    api.erase(&erased).await;
    api.merged(&keeper, from(&[&bob3])).await;
    let after = summary(api.duplicate_pages(&[]).await);
    let expected = [
        expected_group("email", &[ada, ada2]),
        expected_group("email", &[bob.clone(), bobby.clone()]),
    ];
    assert_eq!(after, expected);
    // Merging one of a pair ends the pair.
    api.merged(&bob, from(&[&bobby])).await;
    assert_eq!(summary(api.duplicate_pages(&[]).await), expected[..1]);
    // Nor across workspaces: their lone+xia and our lone are no pair.
    assert_eq!(
        summary(them.duplicate_pages(&[]).await),
        [expected_group("email", &[xia, xia2])]
    );
}

async fn duplicates_over_graphql(s: Server) {
    let api = Api::admin(&s).await;
    likely_duplicates(&api).await;
    let rest = api.duplicate_pages(&[]).await.concat();
    let query = "query($n: Int, $a: String) { contactDuplicates(first: $n, after: $a) {
        edges { cursor node { reason key contacts { id } } } pageInfo { hasNextPage endCursor } } }";
    let (mut seen, mut after) = (Vec::new(), Value::Null);
    for _ in 0..10 {
        let doc = s.gql(&api.1, query, json!({"n": 1, "a": after})).await;
        assert!(doc.get("errors").is_none(), "{doc}");
        let conn = &doc["data"]["contactDuplicates"];
        let edges = conn["edges"].as_array().unwrap();
        assert_eq!(edges.len(), 1, "{doc}");
        seen.extend(edges.iter().map(|e| e["node"].clone()));
        if conn["pageInfo"]["hasNextPage"] != true {
            break;
        }
        after = conn["pageInfo"]["endCursor"].clone();
    }
    let gql: Vec<Value> = seen
        .iter()
        .map(|n| {
            let ids: Vec<&Value> = n["contacts"].as_array().unwrap().iter().map(|c| &c["id"]).collect();
            json!([n["reason"].as_str().unwrap().to_lowercase(), n["key"], ids])
        })
        .collect();
    let expected: Vec<Value> = rest
        .iter()
        .map(|g| {
            let ids: Vec<&Value> = g["contacts"].as_array().unwrap().iter().map(|c| &c["id"]).collect();
            json!([g["reason"], g["key"], ids])
        })
        .collect();
    assert_eq!(gql, expected);
}

async fn duplicates_need_contacts_read(s: Server) {
    let api = Api::admin(&s).await;
    likely_duplicates(&api).await;
    let reader = Api::with(&s, "contacts:read").await;
    assert_eq!(reader.duplicate_pages(&[]).await.concat().len(), 4);
    for scopes in ["contacts:write", "segments:read"] {
        let other = Api::with(&s, scopes).await;
        other.get(DUPLICATES).await.problem(403, "insufficient_scope");
    }
}

on_both!(
    the_survivor_wins_and_merged_contacts_fill_what_it_lacks_in_the_order_given,
    dropped_external_ids_bring_every_later_sync_to_the_survivor,
    a_contact_given_a_dropped_id_holds_it_and_the_alias_goes,
    erasing_a_survivor_redacts_the_events_about_the_contacts_merged_into_it,
    prefer_takes_the_named_contacts_value_even_when_it_has_none,
    stages_stay_the_survivors_with_the_furthest_highest_and_earliest_entries,
    orders_move_to_the_survivor_and_its_metrics_cover_them_all,
    the_automatic_lifecycle_applies_to_the_combined_orders,
    effective_consent_is_the_latest_decision_of_both_and_the_later_arrival_on_a_tie,
    the_survivors_ledger_lists_every_event_of_both_in_arrival_order,
    a_pending_confirmation_of_a_merged_contact_confirms_on_the_survivor,
    memberships_move_to_the_survivor_and_dynamic_ones_are_decided_again,
    a_merged_id_redirects_reads_and_refuses_everything_else,
    a_merged_id_reads_as_null_with_an_error_over_graphql,
    each_merge_writes_one_contact_merged_event,
    a_later_merge_repoints_old_ids_and_deleting_the_survivor_forgets_them,
    merged_contacts_are_never_listed_searched_segmented_or_exported,
    bad_from_lists_are_refused_at_the_offending_id_and_change_nothing,
    bad_preferences_are_refused_at_their_key_and_change_nothing,
    erased_contacts_are_refused_and_change_nothing,
    a_stale_if_match_is_refused_and_a_current_one_merges,
    malformed_merge_bodies_are_refused_as_elsewhere,
    merging_needs_contacts_write,
    another_workspace_can_neither_merge_nor_see_our_contacts,
    contacts_merge_over_graphql,
    duplicates_are_grouped_by_email_phone_and_name_with_company,
    duplicate_groups_page_one_at_a_time_and_filter_by_reason,
    bad_duplicate_queries_are_refused,
    erased_merged_and_foreign_contacts_are_never_suggested,
    duplicates_over_graphql,
    duplicates_need_contacts_read,
);
