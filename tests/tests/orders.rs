//! Orders over REST: upserts keyed by source and external id, with computed totals and
//! the `Rapport-Outcome` header; idempotent resends; customer resolution (contact id,
//! external id of the order's source, email); every validation rule and its pointer;
//! batches; reads and their pages; purchase metrics per currency; the lifecycle moves
//! orders cause and the periodic churn check with its per-workspace window; events;
//! tenant isolation, scopes and hostile input; segments over purchase metrics and
//! windowed order aggregates; GraphQL.

// Test bodies run through `on_both!`, outside `#[test]` fns, where a failed unwrap is the
// intended test failure.
#![allow(clippy::unwrap_used)]

use std::time::{Duration, Instant};

use chrono::{DateTime, SecondsFormat, TimeDelta, Utc};
use rapport_tests::{Api, NOWHERE, Reply, Server, TestDb, events_about, id_of, on_both, on_both_dbs, pick};
use reqwest::Method;
use serde_json::{Value, json};

const ORDERS: &str = "/v1/orders";
const BATCH: &str = "/v1/orders/batch";
const SOURCE: &str = "shopify";
/// The largest amount an order may carry (10^13 minor units).
const MAX_AMOUNT: i64 = 10_000_000_000_000;

/// The calls these tests make beyond plain requests.
trait OrderCalls {
    /// Creates a contact; returns its id.
    async fn contact(&self, body: Value) -> String;
    /// A contact, which must be readable (`query` such as `?include=metrics`).
    async fn read_contact(&self, id: &str, query: &str) -> Value;
    /// Every contact of the workspace (one page).
    async fn contacts(&self, query: &str) -> Vec<Value>;
    /// `POST /v1/orders`.
    async fn upsert(&self, body: &Value) -> Reply;
    /// An upsert that must create the order; returns it.
    async fn created(&self, body: &Value) -> Value;
    /// An upsert of a known order that must answer 200 with this outcome; returns it.
    async fn resent(&self, body: &Value, outcome: &str) -> Value;
    /// `POST /v1/orders/batch` with these items, asking for `return=minimal` when told.
    async fn batch(&self, items: &[Value], minimal: bool) -> Reply;
    /// A JSON document at `path`, which must be readable.
    async fn read(&self, path: &str) -> Value;
    /// The ids of each page of the list at `path`, `limit` at a time.
    async fn pages(&self, path: &str, limit: u32) -> Vec<Vec<String>>;
    /// Every id of the list at `path`, walking its pages two at a time.
    async fn listed(&self, path: &str) -> Vec<String>;
    /// `GET /v1/contacts/{id}/metrics`, which must succeed.
    async fn metrics(&self, contact: &str) -> Value;
    /// A contact's current lifecycle stage.
    async fn stage(&self, contact: &str) -> String;
    /// A contact's whole lifecycle history, oldest first.
    async fn history(&self, contact: &str) -> Vec<Value>;
    /// A lifecycle move through the API that must succeed.
    async fn move_to(&self, contact: &str, stage: &str);
}

impl OrderCalls for Api<'_> {
    async fn contact(&self, body: Value) -> String {
        let r = self.post("/v1/contacts", body).await;
        assert_eq!(r.status, 201, "{}", r.body);
        id_of(&r.body)
    }

    async fn read_contact(&self, id: &str, query: &str) -> Value {
        self.read(&format!("/v1/contacts/{id}{query}")).await
    }

    async fn contacts(&self, query: &str) -> Vec<Value> {
        let r = self.get(&format!("/v1/contacts?limit=100{query}")).await;
        assert_eq!(r.status, 200, "{}", r.body);
        r.body["data"].as_array().unwrap().clone()
    }

    async fn upsert(&self, body: &Value) -> Reply {
        self.post(ORDERS, body.clone()).await
    }

    async fn created(&self, body: &Value) -> Value {
        let r = self.upsert(body).await;
        assert_eq!(r.status, 201, "{body}: {}", r.body);
        assert_eq!(r.header("rapport-outcome"), Some("created"), "{body}");
        r.body
    }

    async fn resent(&self, body: &Value, outcome: &str) -> Value {
        let r = self.upsert(body).await;
        assert_eq!(r.status, 200, "{body}: {}", r.body);
        assert_eq!(r.header("rapport-outcome"), Some(outcome), "{body}: {}", r.body);
        r.body
    }

    async fn batch(&self, items: &[Value], minimal: bool) -> Reply {
        let mut r = self.0.req(Method::POST, BATCH, &self.1);
        if minimal {
            r = r.header("prefer", "return=minimal");
        }
        let r = r.json(&json!({ "items": items }));
        Reply::from(r.send().await.unwrap()).await
    }

    async fn read(&self, path: &str) -> Value {
        let r = self.get(path).await;
        assert_eq!(r.status, 200, "{path}: {}", r.body);
        r.body
    }

    async fn pages(&self, path: &str, limit: u32) -> Vec<Vec<String>> {
        let sep = if path.contains('?') { '&' } else { '?' };
        let (mut pages, mut next) = (Vec::new(), String::new());
        for _ in 0..100 {
            let r = self.read(&format!("{path}{sep}limit={limit}{next}")).await;
            pages.push(r["data"].as_array().unwrap().iter().map(id_of).collect());
            // The house page shape (`page.next_cursor`, sent back as `after`, as for
            // contacts), or the spec's literal one (a top-level `next_cursor`, sent back
            // as `cursor`).
            let (cursor, param) = match r.get("page") {
                Some(page) => {
                    let more = page["has_more"].as_bool();
                    let cursor = &page["next_cursor"];
                    assert!(more.is_none_or(|m| m == cursor.is_string()), "{r}");
                    (cursor.clone(), "after")
                }
                None => (r["next_cursor"].clone(), "cursor"),
            };
            match cursor.as_str() {
                Some(c) => next = format!("&{param}={c}"),
                None => {
                    assert!(cursor.is_null(), "{r}");
                    return pages;
                }
            }
        }
        panic!("the pages of {path} never ended");
    }

    async fn listed(&self, path: &str) -> Vec<String> {
        self.pages(path, 2).await.concat()
    }

    async fn metrics(&self, contact: &str) -> Value {
        self.read(&format!("/v1/contacts/{contact}/metrics")).await
    }

    async fn stage(&self, contact: &str) -> String {
        let c = self.read_contact(contact, "").await;
        c["lifecycle_stage"].as_str().unwrap().to_owned()
    }

    async fn history(&self, contact: &str) -> Vec<Value> {
        let r = self.read(&format!("/v1/contacts/{contact}/lifecycle?limit=100")).await;
        assert_eq!(r["page"]["has_more"], false, "{r}");
        r["data"].as_array().unwrap().clone()
    }

    async fn move_to(&self, contact: &str, stage: &str) {
        let path = format!("/v1/contacts/{contact}/lifecycle");
        let r = self.post(&path, json!({ "stage": stage })).await;
        assert_eq!(r.status, 200, "{stage}: {}", r.body);
        assert_eq!(r.body["lifecycle_stage"], stage);
    }
}

fn order_path(id: &str) -> String {
    format!("{ORDERS}/{id}")
}

fn by_external_id(source: &str, external_id: &str) -> String {
    format!("{ORDERS}/by-external-id/{source}/{external_id}")
}

/// A timestamp `days` days before now, to the second.
fn days_ago(days: i64) -> String {
    (Utc::now() - TimeDelta::days(days)).to_rfc3339_opts(SecondsFormat::Secs, true)
}

fn at(v: &Value) -> DateTime<Utc> {
    v.as_str()
        .unwrap_or_else(|| panic!("not a timestamp: {v}"))
        .parse()
        .unwrap()
}

/// A copy of `base` with the members of `changes` set (a `null` removes one).
fn with(base: &Value, changes: &Value) -> Value {
    let mut body = base.clone();
    for (k, v) in changes.as_object().unwrap() {
        if v.is_null() {
            body.as_object_mut().unwrap().remove(k);
        } else {
            body[k] = v.clone();
        }
    }
    body
}

/// One line of `quantity` × `unit_price`.
fn line(name: &str, quantity: i64, unit_price: i64) -> Value {
    json!({"name": name, "quantity": quantity, "unit_price": unit_price})
}

/// A paid EUR order of one line (1 × 1000) placed a day ago, of source `shopify`, for
/// `customer`, with `changes` (a `null` removes a member). Its `placed_at` is taken
/// now: resend a clone to resend the same order.
fn order(external_id: &str, customer: Value, changes: &Value) -> Value {
    let mut base = json!({"source": SOURCE, "external_id": external_id,
        "status": "paid", "currency": "EUR", "placed_at": days_ago(1), "lines": [line("Mug", 1, 1000)]});
    base["customer"] = customer;
    with(&base, changes)
}

fn email(address: &str) -> Value {
    json!({ "email": address })
}

fn contact_id(id: &str) -> Value {
    json!({ "contact_id": id })
}

/// The errors of a validation problem as "pointer code", sorted.
fn field_errors(problem: &Value) -> Vec<String> {
    let text = |e: &Value, key: &str| e[key].as_str().unwrap_or("?").to_owned();
    let errors = problem["errors"].as_array().unwrap().iter();
    let mut v: Vec<String> = errors.map(|e| text(e, "pointer") + " " + &text(e, "code")).collect();
    v.sort();
    v
}

/// `v` with every string member named `…_at` rewritten to one canonical form, so that
/// instants compare whatever precision the server writes them with.
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

/// The transitions as "from>to:direction/cause" separated by spaces, "-" naming none.
fn steps(history: &[Value]) -> String {
    let name = |v: &Value| v.as_str().unwrap_or("-").to_owned();
    let step = |t: &Value| {
        format!(
            "{}>{}:{}/{}",
            name(&t["from"]),
            name(&t["to"]),
            name(&t["direction"]),
            name(&t["cause"])
        )
    };
    history.iter().map(step).collect::<Vec<_>>().join(" ")
}

/// The metrics of a contact without any counting order.
fn no_metrics() -> Value {
    json!({"order_count": 0, "first_order_at": null, "last_order_at": null, "by_currency": []})
}

// ---------------------------------------------------------------------------------------
// Upserts

async fn an_order_is_created_with_computed_totals_and_its_customer(s: Server) {
    let api = Api::admin(&s).await;
    let placed_at = "2026-11-01T10:00:00Z";
    let customer = json!({"external_id": "c-77", "email": "ana@example.com", "first_name": "Ana",
        "last_name": "Lopez", "phone": "+44 20 7946 0000"});
    let body = json!({"source": SOURCE, "external_id": "1001", "customer": customer, "status": "paid",
        "currency": "eur", "placed_at": placed_at,
        "lines": [{"sku": "TSHIRT-M", "name": "T-shirt M", "quantity": 2, "unit_price": 1999},
                  line("Socks", 3, 450)],
        "discount_codes": [" spring ", "Spring", "WELCOME10", "welcome10"],
        "discount_total": 400, "tax": 684, "shipping": 495});
    let r = api.upsert(&body).await;
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(r.header("rapport-outcome"), Some("created"));
    let created = r.body;
    let expected = json!({"source": SOURCE, "external_id": "1001", "status": "paid", "currency": "EUR",
        "lines": [{"sku": "TSHIRT-M", "name": "T-shirt M", "quantity": 2, "unit_price": 1999, "total": 3998},
                  {"sku": null, "name": "Socks", "quantity": 3, "unit_price": 450, "total": 1350}],
        "subtotal": 5348, "discount_codes": ["SPRING", "WELCOME10"], "discount_total": 400, "tax": 684,
        "shipping": 495, "total": 6127, "refunded_total": 0, "net_total": 6127, "counts_as_purchase": true,
        "version": 1});
    assert_eq!(pick(&created, &expected), expected);
    assert!(uuid::Uuid::parse_str(&id_of(&created)).is_ok(), "{created}");
    assert_eq!(at(&created["placed_at"]), at(&json!(placed_at)));
    assert!(at(&created["created_at"]) <= at(&created["updated_at"]), "{created}");
    assert_eq!(api.read(&order_path(&id_of(&created))).await, created);

    // The customer was created from the customer block.
    let ana = created["contact_id"].as_str().unwrap().to_owned();
    let contact = api.read_contact(&ana, "").await;
    let expected = json!({"email": "ana@example.com", "first_name": "Ana", "last_name": "Lopez",
        "phone": "+442079460000", "external_ids": {"shopify": "c-77"}});
    assert_eq!(pick(&contact, &expected), expected);
    assert_eq!(api.contacts("").await.len(), 1);

    // Totals given are kept when they agree; each status decides what counts.
    let table = json!([
        ["placed", {}, 0, true],
        ["fulfilled", {}, 0, true],
        ["partially_refunded", {"refunded_total": 1000}, 1000, true],
        ["cancelled", {}, 0, false],
        ["refunded", {}, 6127, false],
        ["refunded", {"refunded_total": 6127}, 6127, false],
    ]);
    for (i, row) in table.as_array().unwrap().iter().enumerate() {
        let mut changes = row[1].clone();
        changes["status"] = row[0].clone();
        changes["external_id"] = json!(format!("10{i}0"));
        changes["customer"] = json!({"external_id": "c-77"});
        changes["subtotal"] = json!(5348);
        changes["total"] = json!(6127);
        let o = api.created(&with(&body, &changes)).await;
        let refunded = row[2].as_i64().unwrap();
        let expected = json!({"status": row[0], "contact_id": ana, "subtotal": 5348, "total": 6127,
            "refunded_total": refunded, "net_total": 6127 - refunded, "counts_as_purchase": row[3]});
        assert_eq!(pick(&o, &expected), expected, "{row}");
    }
    assert_eq!(
        api.contacts("").await.len(),
        1,
        "every order found Ana by her external id"
    );
}

async fn a_resent_order_changes_nothing_and_a_changed_one_is_updated_once(s: Server) {
    let api = Api::admin(&s).await;
    let body = order("2001", email("ana@example.com"), &json!({}));
    let first = api.created(&body).await;
    let id = id_of(&first);
    assert_eq!(api.resent(&body, "unchanged").await, first);
    // The same order said another way: defaults and computed totals spelled out.
    let same = with(
        &body,
        &json!({"currency": "eur", "subtotal": 1000, "total": 1000, "tax": 0, "shipping": 0,
            "discount_total": 0, "discount_codes": [], "refunded_total": 0}),
    );
    assert_eq!(api.resent(&same, "unchanged").await, first);
    // The customer block only matters while the order is new.
    let other = with(&body, &json!({"customer": email("zed@example.com")}));
    assert_eq!(api.resent(&other, "unchanged").await, first);
    assert_eq!(api.contacts("").await.len(), 1);
    assert_eq!(events_about(&s, "order.created", &id).await.len(), 1);
    assert!(events_about(&s, "order.updated", &id).await.is_empty());

    tokio::time::sleep(Duration::from_millis(20)).await;
    let fulfilled = with(
        &body,
        &json!({"status": "fulfilled", "customer": email("zed@example.com")}),
    );
    let updated = api.resent(&fulfilled, "updated").await;
    let expected = json!({"id": id, "status": "fulfilled", "version": 2, "contact_id": first["contact_id"],
        "created_at": first["created_at"], "total": 1000});
    assert_eq!(pick(&updated, &expected), expected);
    assert!(at(&updated["updated_at"]) > at(&first["updated_at"]), "{updated}");
    assert_eq!(api.resent(&fulfilled, "unchanged").await, updated);
    assert_eq!(api.read(&order_path(&id)).await, updated);
    let events = events_about(&s, "order.updated", &id).await;
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(events[0]["object"], updated);
    assert_eq!(events[0]["changed_fields"], json!(["status"]), "{}", events[0]);
    assert_eq!(events[0]["previous"], json!({"status": "paid"}), "{}", events[0]);
    assert_eq!(events_about(&s, "order.created", &id).await.len(), 1);
    assert_eq!(api.contacts("").await.len(), 1, "zed@example.com was never a customer");
}

async fn the_customer_is_found_by_id_then_external_id_of_the_source_then_email(s: Server) {
    let api = Api::admin(&s).await;
    let ada = api.contact(email("ada@example.com")).await;
    let r = api
        .put("/v1/contacts/by-external-id/shopify/c-2", email("bob@example.com"))
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let bob = id_of(&r.body);
    let cy = api.contact(email("Cy@Example.com")).await;
    let r = api
        .put("/v1/contacts/by-external-id/woo/c-4", email("dee@example.com"))
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let dee = id_of(&r.body);
    let eve_body = json!({"email": "eve@example.com", "external_ids": {"shopify": "c-5"}});
    let eve = api.contact(eve_body).await;
    let owner = |o: &Value| o["contact_id"].as_str().unwrap().to_owned();

    // The contact id wins over the email of another contact.
    let customer = json!({"contact_id": ada, "external_id": "c-2", "email": "bob@example.com"});
    assert_eq!(owner(&api.created(&order("r1", customer, &json!({}))).await), ada);
    // The external id of the order's source wins over the email of another contact.
    let customer = json!({"external_id": "c-2", "email": "ada@example.com"});
    assert_eq!(owner(&api.created(&order("r2", customer, &json!({}))).await), bob);
    // An email in another case finds Cy, who then carries the external id.
    let customer = json!({"external_id": "c-3", "email": "cy@EXAMPLE.com"});
    assert_eq!(owner(&api.created(&order("r3", customer, &json!({}))).await), cy);
    assert_eq!(
        api.read_contact(&cy, "").await["external_ids"],
        json!({"shopify": "c-3"})
    );
    let found = api.read("/v1/contacts/by-external-id/shopify/c-3").await;
    assert_eq!(id_of(&found), cy);
    // An email finds Eve, whose external id for the source stays hers.
    let customer = json!({"external_id": "c-99", "email": "EVE@example.com"});
    assert_eq!(owner(&api.created(&order("r5", customer, &json!({}))).await), eve);
    assert_eq!(
        api.read_contact(&eve, "").await["external_ids"],
        json!({"shopify": "c-5"})
    );
    // Dee's id belongs to another source: a new contact holds it for this one.
    let customer = json!({"external_id": "c-4"});
    let fresh = owner(&api.created(&order("r4", customer, &json!({}))).await);
    assert!(![&ada, &bob, &cy, &dee, &eve].contains(&&fresh), "{fresh}");
    let expected = json!({"email": null, "external_ids": {"shopify": "c-4"}});
    assert_eq!(pick(&api.read_contact(&fresh, "").await, &expected), expected);
    assert_eq!(api.read_contact(&dee, "").await["external_ids"], json!({"woo": "c-4"}));
    assert_eq!(api.contacts("").await.len(), 6);

    // A known order keeps its contact whatever customer it is sent with.
    let again = order("r1", contact_id(&bob), &json!({}));
    let kept = api.upsert(&again).await;
    assert_eq!(kept.status, 200, "{}", kept.body);
    assert_eq!(owner(&kept.body), ada);
    let read = api.read(&by_external_id(SOURCE, "r1")).await;
    assert_eq!(owner(&read), ada);
}

// ---------------------------------------------------------------------------------------
// Validation

/// A body refused with exactly one error: the changes to a valid order, the pointer of
/// the error and its code ("" when the contract names none).
type Refused = (Value, &'static str, &'static str);

/// The rows of the contract's table of validation errors.
fn table_cases() -> Vec<Refused> {
    let refund = |status: &str, amount: i64| json!({"status": status, "refunded_total": amount});
    vec![
        (
            json!({"lines": [line("Mug", -1, 1000)]}),
            "/lines/0/quantity",
            "out_of_range",
        ),
        (
            json!({"lines": [line("Mug", 0, 1000)]}),
            "/lines/0/quantity",
            "out_of_range",
        ),
        (
            json!({"lines": [line("Mug", 1_000_001, 1)]}),
            "/lines/0/quantity",
            "out_of_range",
        ),
        (
            json!({"lines": [line("Mug", 1, 1000), line("Cup", 0, 0)]}),
            "/lines/1/quantity",
            "out_of_range",
        ),
        (
            json!({"lines": [line("Mug", 1, -5)]}),
            "/lines/0/unit_price",
            "out_of_range",
        ),
        (json!({"currency": "XYZ"}), "/currency", "unknown_currency"),
        (json!({"subtotal": 999}), "/subtotal", "total_mismatch"),
        (json!({"total": 999}), "/total", "total_mismatch"),
        (json!({"tax": 100, "total": 1000}), "/total", "total_mismatch"),
        (
            json!({"shipping": 5, "discount_total": 10, "total": 1000}),
            "/total",
            "total_mismatch",
        ),
        (json!({"discount_total": 1001}), "/discount_total", "out_of_range"),
        (json!({"status": "lost"}), "/status", "invalid_value"),
        (json!({"lines": []}), "/lines", "invalid_length"),
        (json!({"lines": null}), "/lines", "required"),
        (
            json!({"lines": vec![line("Pin", 1, 0); 501]}),
            "/lines",
            "invalid_length",
        ),
        (json!({"customer": {}}), "/customer", "required"),
        (json!({"customer": null}), "/customer", "required"),
        (json!({"customer": {"first_name": "Ana"}}), "/customer", "required"),
        (
            json!({"customer": {"contact_id": NOWHERE}}),
            "/customer/contact_id",
            "not_found",
        ),
        (json!({"status": "partially_refunded"}), "/refunded_total", "required"),
        (refund("partially_refunded", 1000), "/refunded_total", "out_of_range"),
        (refund("partially_refunded", 1001), "/refunded_total", "out_of_range"),
        (refund("partially_refunded", 0), "/refunded_total", "out_of_range"),
        (refund("paid", 5), "/refunded_total", "out_of_range"),
        (refund("cancelled", 5), "/refunded_total", "out_of_range"),
        (refund("placed", 1), "/refunded_total", "out_of_range"),
        (json!({"placed_at": null}), "/placed_at", "required"),
        (json!({"source": null}), "/source", "required"),
        (json!({"external_id": null}), "/external_id", "required"),
        (json!({"currency": null}), "/currency", "required"),
        (json!({"status": null}), "/status", "required"),
        (
            json!({"lines": [{"quantity": 1, "unit_price": 1000}]}),
            "/lines/0/name",
            "required",
        ),
    ]
}

/// The other rules of the contract, whose codes it does not name.
fn other_cases() -> Vec<Refused> {
    let long = |n: usize| "a".repeat(n);
    let sku = json!([{"sku": long(256), "name": "Mug", "quantity": 1, "unit_price": 1000}]);
    let codes: Vec<String> = (0..51).map(|i| format!("C{i}")).collect();
    vec![
        (json!({"currency": "EU"}), "/currency", ""),
        (
            json!({"status": "refunded", "refunded_total": 500}),
            "/refunded_total",
            "",
        ),
        (json!({"placed_at": "yesterday"}), "/placed_at", ""),
        (json!({"source": "shop ify"}), "/source", ""),
        (json!({"source": ""}), "/source", ""),
        (json!({"source": long(65)}), "/source", ""),
        (json!({"external_id": ""}), "/external_id", ""),
        (json!({"external_id": long(256)}), "/external_id", ""),
        (json!({"external_id": "a\u{7}b"}), "/external_id", ""),
        (json!({"lines": [line("", 1, 1000)]}), "/lines/0/name", ""),
        (json!({"lines": [line(&long(501), 1, 1000)]}), "/lines/0/name", ""),
        (json!({"lines": sku}), "/lines/0/sku", ""),
        (json!({"tax": -1}), "/tax", ""),
        (json!({"shipping": -1}), "/shipping", ""),
        (json!({"discount_total": -1}), "/discount_total", ""),
        (json!({"discount_codes": codes}), "/discount_codes", ""),
        (json!({"customer": {"email": "not-an-email"}}), "/customer/email", ""),
    ]
}

async fn each_invalid_order_is_refused_at_its_pointer_and_writes_nothing(s: Server) {
    let api = Api::admin(&s).await;
    let base = order("v-1", email("val@example.com"), &json!({}));
    for (changes, pointer, code) in table_cases().into_iter().chain(other_cases()) {
        let r = api.upsert(&with(&base, &changes)).await;
        r.problem(422, "validation_failed");
        assert_eq!(r.pointers(), [pointer], "{changes}: {}", r.body);
        if !code.is_empty() {
            assert_eq!(r.body["errors"][0]["code"], code, "{changes}: {}", r.body);
        }
    }
    // Each amount over 10^13 is refused (whatever else its size upsets).
    let over = MAX_AMOUNT + 1;
    for (changes, pointer) in [
        (json!({"lines": [line("Gem", 1, over)]}), "/lines/0/unit_price"),
        (json!({"tax": over}), "/tax"),
        (json!({"shipping": over}), "/shipping"),
        (
            json!({"lines": [line("Gem", 1, over)], "discount_total": over}),
            "/discount_total",
        ),
    ] {
        let r = api.upsert(&with(&base, &changes)).await;
        r.problem(422, "validation_failed");
        assert!(r.pointers().iter().any(|p| p == pointer), "{changes}: {}", r.body);
    }
    // Several problems are reported together.
    let changes = json!({"currency": "XYZ", "status": "lost", "lines": [line("Mug", 0, 1000)], "placed_at": null});
    let r = api.upsert(&with(&base, &changes)).await;
    r.problem(422, "validation_failed");
    let expected = [
        "/currency unknown_currency",
        "/lines/0/quantity out_of_range",
        "/placed_at required",
        "/status invalid_value",
    ];
    assert_eq!(field_errors(&r.body), expected);
    // Nothing was written: no order, no contact.
    assert!(api.listed(ORDERS).await.is_empty());
    assert!(api.contacts("").await.is_empty());
    api.get(&by_external_id(SOURCE, "v-1")).await.problem(404, "not_found");
    api.get("/v1/contacts/by-email/val@example.com")
        .await
        .problem(404, "not_found");
    // The base itself is fine, and so are amounts at the limit and zero prices.
    api.created(&base).await;
    let at_limit = json!({"lines": [line("Gem", 1, MAX_AMOUNT), line("Gift", 2, 0)]});
    let o = api
        .created(&with(&base, &with(&at_limit, &json!({"external_id": "v-2"}))))
        .await;
    assert_eq!((&o["subtotal"], &o["total"]), (&json!(MAX_AMOUNT), &json!(MAX_AMOUNT)));
    assert_eq!(api.contacts("").await.len(), 1);
}

// ---------------------------------------------------------------------------------------
// Batches

async fn a_batch_reports_each_item_with_pointers_into_the_request_and_commits_the_valid_ones(s: Server) {
    let api = Api::admin(&s).await;
    let x = order("x", email("ana@example.com"), &json!({}));
    let y = order("y", email("ana@example.com"), &json!({}));
    let (x_id, y_id) = (id_of(&api.created(&x).await), id_of(&api.created(&y).await));
    let items = [
        order("b0", email("new@example.com"), &json!({})),
        order(
            "b1",
            email("fail1@example.com"),
            &json!({"lines": [line("Mug", 0, 1000)]}),
        ),
        order("b2", email("ana@example.com"), &json!({})),
        x.clone(),
        with(&y, &json!({"status": "fulfilled"})),
        order(
            "b5",
            email("fail5@example.com"),
            &json!({"currency": "XYZ", "status": "lost"}),
        ),
    ];
    let r = api.batch(&items, false).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let results = r.body["results"].as_array().unwrap();
    let statuses: Vec<&str> = results.iter().map(|x| x["status"].as_str().unwrap()).collect();
    assert_eq!(
        statuses,
        ["created", "failed", "created", "unchanged", "updated", "failed"]
    );
    assert!(results.iter().enumerate().all(|(i, x)| x["index"] == i), "{}", r.body);
    let counts = ["created", "updated", "unchanged", "failed"].map(|k| r.body[k].as_u64().unwrap());
    assert_eq!(counts, [2, 1, 1, 2]);
    for (i, version) in [(0, 1), (2, 1), (3, 1), (4, 2)] {
        let item = &results[i];
        assert_eq!(item["order"]["external_id"], items[i]["external_id"], "{item}");
        assert_eq!(
            (&item["id"], &item["version"]),
            (&item["order"]["id"], &json!(version)),
            "{item}"
        );
        assert!(item["error"].is_null(), "{item}");
    }
    assert_eq!((&results[3]["id"], &results[4]["id"]), (&json!(x_id), &json!(y_id)));
    assert_eq!(results[4]["order"]["status"], "fulfilled");
    assert_eq!(
        results[2]["order"]["contact_id"],
        api.read(&order_path(&x_id)).await["contact_id"]
    );
    for (i, errors) in [
        (1, vec!["/items/1/lines/0/quantity out_of_range"]),
        (
            5,
            vec!["/items/5/currency unknown_currency", "/items/5/status invalid_value"],
        ),
    ] {
        let item = &results[i];
        assert_eq!(item["error"]["code"], "validation_failed", "{item}");
        assert_eq!(field_errors(&item["error"]), errors, "{item}");
        assert!(item["order"].is_null(), "{item}");
    }
    for ext in ["b0", "b2"] {
        assert_eq!(api.read(&by_external_id(SOURCE, ext)).await["external_id"], ext);
    }
    for ext in ["b1", "b5"] {
        api.get(&by_external_id(SOURCE, ext)).await.problem(404, "not_found");
    }
    for address in ["fail1@example.com", "fail5@example.com"] {
        let r = api.get(&format!("/v1/contacts/by-email/{address}")).await;
        r.problem(404, "not_found");
    }
    assert_eq!(api.read(&order_path(&y_id)).await["version"], 2);
    assert_eq!(events_about(&s, "order.created", &x_id).await.len(), 1);
    assert!(events_about(&s, "order.updated", &x_id).await.is_empty());
    assert_eq!(api.listed(ORDERS).await.len(), 4);
}

async fn a_batch_holds_one_to_a_thousand_items_and_can_answer_minimally(s: Server) {
    let api = Api::admin(&s).await;
    let items = [
        order("m0", email("ana@example.com"), &json!({})),
        order("m1", email("ana@example.com"), &json!({"status": "lost"})),
    ];
    let r = api.batch(&items, true).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let first = &r.body["results"][0];
    assert_eq!((&first["status"], &first["version"]), (&json!("created"), &json!(1)));
    assert!(first["id"].is_string() && first.get("order").is_none(), "{first}");
    let failed = &r.body["results"][1];
    assert_eq!(failed["error"]["code"], "validation_failed", "{failed}");
    assert!(failed.get("order").is_none_or(Value::is_null), "{failed}");
    let full = api.batch(&items[..1], false).await;
    assert_eq!(full.body["results"][0]["status"], "unchanged", "{}", full.body);
    assert_eq!(full.body["results"][0]["order"]["id"], first["id"]);

    let many: Vec<Value> = (0..1001)
        .map(|i| order(&format!("n{i}"), email("many@example.com"), &json!({})))
        .collect();
    for items in [&many[..0], &many[..]] {
        let r = api.batch(items, false).await;
        r.problem(422, "validation_failed");
        assert_eq!(
            field_errors(&r.body),
            ["/items invalid_length"],
            "{} items",
            items.len()
        );
    }
    assert_eq!(api.listed(ORDERS).await.len(), 1);
    api.get("/v1/contacts/by-email/many@example.com")
        .await
        .problem(404, "not_found");
    let r = api.batch(&many[..1000], true).await;
    assert_eq!(
        (r.status.as_u16(), &r.body["created"]),
        (200, &json!(1000)),
        "{}",
        r.body
    );
}

// ---------------------------------------------------------------------------------------
// Reads

async fn orders_are_read_by_id_and_external_id_and_listed_newest_first(s: Server) {
    let api = Api::admin(&s).await;
    let ana = api.contact(email("ana@example.com")).await;
    let bob = api.contact(email("bob@example.com")).await;
    // Created in another order than they were placed in.
    let plan = [
        ("o1", &ana, 5, "paid", SOURCE),
        ("o2", &ana, 3, "fulfilled", SOURCE),
        ("o3", &bob, 4, "paid", SOURCE),
        ("o4", &ana, 1, "cancelled", SOURCE),
        ("o5", &bob, 2, "paid", "woo"),
    ];
    let mut ids = std::collections::BTreeMap::new();
    for (ext, who, days, status, source) in plan {
        let changes = json!({"placed_at": days_ago(days), "status": status, "source": source});
        let o = api.created(&order(ext, contact_id(who), &changes)).await;
        assert_eq!(api.read(&order_path(&id_of(&o))).await, o);
        assert_eq!(api.read(&by_external_id(source, ext)).await, o);
        ids.insert(ext, id_of(&o));
    }
    let these = |names: &str| -> Vec<String> { names.split(' ').map(|n| ids[n].clone()).collect() };
    assert_eq!(
        api.pages(ORDERS, 2).await.iter().map(Vec::len).collect::<Vec<_>>(),
        [2, 2, 1]
    );
    assert_eq!(api.listed(ORDERS).await, these("o4 o5 o2 o3 o1"));
    assert_eq!(api.pages(ORDERS, 100).await, [these("o4 o5 o2 o3 o1")]);
    let filtered = [
        (format!("contact_id={ana}"), "o4 o2 o1"),
        (format!("contact_id={bob}"), "o5 o3"),
        ("status=paid".to_owned(), "o5 o3 o1"),
        ("source=woo".to_owned(), "o5"),
        (format!("contact_id={ana}&status=cancelled"), "o4"),
    ];
    for (query, expected) in filtered {
        assert_eq!(
            api.listed(&format!("{ORDERS}?{query}")).await,
            these(expected),
            "{query}"
        );
    }
    assert!(api.listed(&format!("{ORDERS}?status=refunded")).await.is_empty());
    let mine = format!("/v1/contacts/{ana}/orders");
    assert_eq!(api.listed(&mine).await, these("o4 o2 o1"));
    assert_eq!(api.pages(&mine, 1).await.concat(), these("o4 o2 o1"));
    let carol = api.contact(email("carol@example.com")).await;
    assert!(api.listed(&format!("/v1/contacts/{carol}/orders")).await.is_empty());

    for path in [
        order_path(NOWHERE),
        by_external_id("woo", "o1"),
        by_external_id(SOURCE, "o9"),
        format!("/v1/contacts/{NOWHERE}/orders"),
        format!("/v1/contacts/{NOWHERE}/metrics"),
    ] {
        let r = api.get(&path).await;
        assert_eq!(r.status, 404, "{path}: {}", r.body);
        r.problem(404, "not_found");
    }
}

// ---------------------------------------------------------------------------------------
// Purchase metrics

/// Asserts a contact's metrics, instants compared as instants.
async fn expect_metrics(api: &Api<'_>, contact: &str, expected: Value) {
    assert_eq!(canon(&api.metrics(contact).await), canon(&expected));
}

/// A contact's metrics by currency: `[currency, count, spent, average, first, last]`.
fn metrics_of(count: u64, first: &str, last: &str, currencies: &Value) -> Value {
    let by_currency: Vec<Value> = currencies
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            json!({"currency": c[0], "order_count": c[1], "total_spent": c[2], "average_order_value": c[3],
                "first_order_at": c[4], "last_order_at": c[5]})
        })
        .collect();
    json!({"order_count": count, "first_order_at": first, "last_order_at": last, "by_currency": by_currency})
}

async fn metrics_follow_each_order_change_per_currency(s: Server) {
    let api = Api::admin(&s).await;
    let ana = api.contact(email("ana@example.com")).await;
    let bob = api.contact(email("bob@example.com")).await;
    let (sep, oct5, oct20, nov10) = (
        "2026-09-01T10:00:00Z",
        "2026-10-05T12:00:00Z",
        "2026-10-20T08:00:00Z",
        "2026-11-10T09:30:00Z",
    );
    let placed = |ext: &str, currency: &str, at: &str, lines: Value| {
        order(
            ext,
            contact_id(&ana),
            &json!({"currency": currency, "placed_at": at, "lines": lines}),
        )
    };
    let u1 = placed("u1", "usd", oct20, json!([line("Lamp", 1, 2500)]));
    let e1 = placed("e1", "EUR", sep, json!([line("Mug", 1, 1001)]));
    let e2 = placed("e2", "EUR", oct5, json!([line("Cup", 2, 1000)]));
    let e3 = placed("e3", "EUR", nov10, json!([line("Pot", 1, 1000)]));
    for body in [&u1, &e1, &e2] {
        api.created(body).await;
    }
    let check = |expected: Value| expect_metrics(&api, &ana, expected);
    // 3001 / 2 = 1500.5, rounded half away from zero.
    let usd = json!(["USD", 1, 2500, 2500, oct20, oct20]);
    check(metrics_of(
        3,
        sep,
        oct20,
        &json!([["EUR", 2, 3001, 1501, sep, oct5], usd]),
    ))
    .await;
    // 4001 / 3 = 1333.67.
    api.created(&e3).await;
    check(metrics_of(
        4,
        sep,
        nov10,
        &json!([["EUR", 3, 4001, 1334, sep, nov10], usd]),
    ))
    .await;
    // A partial refund lowers what was spent: 3001 / 3 = 1000.33.
    let partial = with(&e2, &json!({"status": "partially_refunded", "refunded_total": 1000}));
    let o = api.resent(&partial, "updated").await;
    assert_eq!(
        (&o["net_total"], &o["counts_as_purchase"]),
        (&json!(1000), &json!(true))
    );
    check(metrics_of(
        4,
        sep,
        nov10,
        &json!([["EUR", 3, 3001, 1000, sep, nov10], usd]),
    ))
    .await;
    // A cancellation removes the order, its date too: 2001 / 2 = 1000.5.
    api.resent(&with(&e3, &json!({"status": "cancelled"})), "updated").await;
    check(metrics_of(
        3,
        sep,
        oct20,
        &json!([["EUR", 2, 2001, 1001, sep, oct5], usd]),
    ))
    .await;
    // A full refund removes the only USD order, and its currency.
    let o = api.resent(&with(&u1, &json!({"status": "refunded"})), "updated").await;
    assert_eq!((&o["refunded_total"], &o["net_total"]), (&json!(2500), &json!(0)));
    let last = metrics_of(2, sep, oct5, &json!([["EUR", 2, 2001, 1001, sep, oct5]]));
    check(last.clone()).await;

    assert_eq!(api.metrics(&bob).await, no_metrics());
    let read = api.read_contact(&ana, "?include=metrics").await;
    assert_eq!(canon(&read["metrics"]), canon(&last));
    assert_eq!(
        api.read_contact(&bob, "?include=metrics").await["metrics"],
        no_metrics()
    );
    assert!(api.read_contact(&ana, "").await["metrics"].is_null());
    let listed = api.contacts("&include=metrics").await;
    let metrics: Vec<(String, Value)> = listed.iter().map(|c| (id_of(c), canon(&c["metrics"]))).collect();
    assert_eq!(metrics, [(ana.clone(), canon(&last)), (bob.clone(), no_metrics())]);
}

// ---------------------------------------------------------------------------------------
// Lifecycle

async fn orders_make_customers_then_repeat_customers_and_cancellations_do_not_count(s: Server) {
    let api = Api::admin(&s).await;
    let ada = api.contact(email("ada@example.com")).await;
    let a1 = order("a1", contact_id(&ada), &json!({}));
    api.created(&a1).await;
    assert_eq!(api.stage(&ada).await, "customer");
    let first = "->subscriber:forward/api subscriber>customer:forward/order";
    assert_eq!(steps(&api.history(&ada).await), first);
    let a2 = order("a2", contact_id(&ada), &json!({"placed_at": days_ago(0)}));
    api.created(&a2).await;
    assert_eq!(api.stage(&ada).await, "repeat_customer");
    let both = format!("{first} customer>repeat_customer:forward/order");
    assert_eq!(steps(&api.history(&ada).await), both);
    // Cancelling both moves her nowhere.
    for body in [&a1, &a2] {
        api.resent(&with(body, &json!({"status": "cancelled"})), "updated")
            .await;
    }
    assert_eq!(api.stage(&ada).await, "repeat_customer");
    assert_eq!(steps(&api.history(&ada).await), both);
    let changed = events_about(&s, "contact.stage_changed", &ada).await;
    let causes: Vec<&Value> = changed.iter().map(|e| &e["transition"]["cause"]).collect();
    assert_eq!(causes, [&json!("order"), &json!("order")]);

    // A cancelled order makes nobody a customer, nor a second customer order a repeat one.
    let bob = api.contact(email("bob@example.com")).await;
    api.created(&order("b1", contact_id(&bob), &json!({"status": "cancelled"})))
        .await;
    assert_eq!(api.stage(&bob).await, "subscriber");
    assert_eq!(api.history(&bob).await.len(), 1);
    api.created(&order("b2", contact_id(&bob), &json!({}))).await;
    api.created(&order("b3", contact_id(&bob), &json!({"status": "refunded"})))
        .await;
    assert_eq!(api.stage(&bob).await, "customer");

    // A contact an order creates becomes a customer by the order.
    let o = api.created(&order("c1", email("cy@example.com"), &json!({}))).await;
    let cy = o["contact_id"].as_str().unwrap().to_owned();
    assert_eq!(api.stage(&cy).await, "customer");
    let history = api.history(&cy).await;
    assert!(
        steps(&history).ends_with(">customer:forward/order"),
        "{}",
        steps(&history)
    );
    // A new contact's first two orders in one batch end at repeat_customer.
    let items = [
        order("d1", email("dee@example.com"), &json!({"placed_at": days_ago(2)})),
        order("d2", email("dee@example.com"), &json!({})),
    ];
    let r = api.batch(&items, false).await;
    assert_eq!(r.body["created"], 2, "{}", r.body);
    let dee = r.body["results"][0]["order"]["contact_id"].as_str().unwrap().to_owned();
    assert_eq!(r.body["results"][1]["order"]["contact_id"], dee.as_str());
    assert_eq!(api.stage(&dee).await, "repeat_customer");
    let history = api.history(&dee).await;
    assert!(
        steps(&history).ends_with(">repeat_customer:forward/order"),
        "{}",
        steps(&history)
    );
}

async fn orders_move_prospects_and_churned_contacts_but_never_backward(s: Server) {
    let api = Api::admin(&s).await;
    let prospect = |address: &str, stage: &str| json!({"email": address, "lifecycle_stage": stage});
    let qualified = api.contact(prospect("q@example.com", "qualified")).await;
    let opportunity = api.contact(prospect("o@example.com", "opportunity")).await;
    let dropped = api.contact(prospect("d@example.com", "lead")).await;
    api.move_to(&dropped, "disqualified").await;
    for (i, who) in [&qualified, &opportunity, &dropped].into_iter().enumerate() {
        api.created(&order(&format!("p{i}"), contact_id(who), &json!({}))).await;
        assert_eq!(api.stage(who).await, "customer");
        let last = api.history(who).await.last().unwrap().clone();
        assert_eq!(
            (&last["to"], &last["cause"]),
            (&json!("customer"), &json!("order")),
            "{last}"
        );
    }

    // An advocate stays one.
    let fan = api.contact(email("fan@example.com")).await;
    api.move_to(&fan, "advocate").await;
    let before = api.history(&fan).await;
    for ext in ["f1", "f2"] {
        api.created(&order(ext, contact_id(&fan), &json!({}))).await;
    }
    assert_eq!(api.stage(&fan).await, "advocate");
    assert_eq!(api.history(&fan).await, before);

    // A churned contact buying again within the window is reactivated by the order …
    let back = churned(&api, "back@example.com").await;
    api.created(&order("r1", contact_id(&back), &json!({"placed_at": days_ago(3)})))
        .await;
    assert_eq!(api.stage(&back).await, "customer");
    let history = api.history(&back).await;
    assert_eq!(
        steps(&history[history.len() - 2..]),
        "customer>churned:exit/api churned>customer:reactivation/order"
    );
    let changed = events_about(&s, "contact.stage_changed", &back).await;
    assert_eq!(changed.last().unwrap()["transition"]["cause"], "order");
    // … but not by an order placed long before the window.
    let gone = churned(&api, "gone@example.com").await;
    let before = api.history(&gone).await;
    api.created(&order("g1", contact_id(&gone), &json!({"placed_at": days_ago(400)})))
        .await;
    assert_eq!(api.stage(&gone).await, "churned");
    assert_eq!(api.history(&gone).await, before);
}

/// Creates the contact `who`@example.com and its orders `(days ago, status)`; returns
/// its id.
async fn buyer(api: &Api<'_>, who: &str, orders: &[(i64, &str)]) -> String {
    let id = api.contact(email(&format!("{who}@example.com"))).await;
    for (i, (days, status)) in orders.iter().enumerate() {
        let changes = json!({"placed_at": days_ago(*days), "status": status});
        api.created(&order(&format!("{who}-{i}"), contact_id(&id), &changes))
            .await;
    }
    id
}

/// Creates a contact that was a customer and churned; returns its id.
async fn churned(api: &Api<'_>, address: &str) -> String {
    let id = api.contact(email(address)).await;
    api.move_to(&id, "customer").await;
    api.move_to(&id, "churned").await;
    id
}

/// Polls until every contact of `ids` is in `stage`, for at most 20 s; returns whether
/// they got there.
async fn all_reach(api: &Api<'_>, ids: &[&str], stage: &str) -> bool {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let mut there = true;
        for id in ids {
            there &= api.stage(id).await == stage;
        }
        if there {
            return true;
        }
        if Instant::now() > deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

async fn the_churn_check_moves_customers_whose_last_order_is_too_old(db: TestDb) {
    let s = Server::start_on(db, &[("RAPPORT_CHURN_CHECK_SECONDS", "1")]).await;
    let api = Api::admin(&s).await;
    let (_, other) = s.other_workspace().await;
    let theirs = Api(&s, other);
    let r = theirs.patch("/v1/workspace", json!({"churn_after_days": 365})).await;
    assert_eq!(
        (r.status.as_u16(), &r.body["churn_after_days"]),
        (200, &json!(365)),
        "{}",
        r.body
    );
    let ada = buyer(&api, "ada", &[(200, "paid")]).await;
    let bob = buyer(&api, "bob", &[(10, "paid")]).await;
    let dee = buyer(&api, "dee", &[(250, "paid"), (200, "fulfilled")]).await;
    // The recent order first: no check can churn Eve between her two orders.
    let eve = buyer(&api, "eve", &[(5, "paid"), (300, "paid")]).await;
    let fay = buyer(&api, "fay", &[(200, "paid"), (3, "cancelled")]).await;
    let gus = buyer(&theirs, "gus", &[(200, "paid")]).await;
    let cy = api.contact(email("cy@example.com")).await;
    api.move_to(&cy, "customer").await;

    let churning = [ada.as_str(), &dee, &fay];
    assert!(
        all_reach(&api, &churning, "churned").await,
        "still not churned after 20 s: {:?}",
        [api.stage(&ada).await, api.stage(&dee).await, api.stage(&fay).await]
    );
    assert_eq!(
        steps(&api.history(&ada).await),
        "->subscriber:forward/api subscriber>customer:forward/order customer>churned:exit/rule"
    );
    // A check may come between Dee's two orders; either way the rule churns her.
    let last = api.history(&dee).await.last().unwrap().clone();
    assert!(
        steps(&[last]).ends_with(">churned:exit/rule"),
        "{:?}",
        api.history(&dee).await
    );
    let changed = events_about(&s, "contact.stage_changed", &ada).await;
    assert_eq!(changed.len(), 2, "{changed:?}");
    assert_eq!(changed[1]["transition"]["cause"], "rule");
    // Several more checks later, the others are where their orders put them.
    tokio::time::sleep(Duration::from_millis(2500)).await;
    for (who, stage) in [(&bob, "customer"), (&eve, "repeat_customer"), (&cy, "customer")] {
        assert_eq!(api.stage(who).await, stage, "{who}");
    }
    assert_eq!(
        theirs.stage(&gus).await,
        "customer",
        "the other workspace keeps 365 days"
    );
    assert_eq!(api.stage(&ada).await, "churned");
    assert_eq!(api.history(&ada).await.len(), 3, "churned once only");
}

async fn the_churn_window_is_a_workspace_setting(s: Server) {
    let api = Api::admin(&s).await;
    let ws = api.read("/v1/workspace").await;
    let expected = json!({"id": s.admin.workspace_id, "churn_after_days": 180});
    assert_eq!(pick(&ws, &expected), expected);
    for (value, code) in [
        (json!(0), "out_of_range"),
        (json!(3651), "out_of_range"),
        (json!(-1), "out_of_range"),
    ] {
        let r = api.patch("/v1/workspace", json!({"churn_after_days": value})).await;
        r.problem(422, "validation_failed");
        assert_eq!(field_errors(&r.body), [format!("/churn_after_days {code}")]);
    }
    let r = api.patch("/v1/workspace", json!({"churn_after_days": "soon"})).await;
    r.problem(422, "validation_failed");
    assert_eq!(r.pointers(), ["/churn_after_days"]);
    let writer = Api::with(&s, "contacts:read contacts:write orders:read orders:write").await;
    let r = writer.patch("/v1/workspace", json!({"churn_after_days": 30})).await;
    r.problem(403, "insufficient_scope");
    assert_eq!(api.read("/v1/workspace").await["churn_after_days"], 180);
    for days in [1, 3650] {
        let r = api.patch("/v1/workspace", json!({"churn_after_days": days})).await;
        assert_eq!(
            (r.status.as_u16(), &r.body["churn_after_days"]),
            (200, &json!(days)),
            "{}",
            r.body
        );
    }

    // The window decides which old orders reactivate a churned contact.
    let r = api.patch("/v1/workspace", json!({"churn_after_days": 180})).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let early = churned(&api, "early@example.com").await;
    api.created(&order("w1", contact_id(&early), &json!({"placed_at": days_ago(200)})))
        .await;
    assert_eq!(api.stage(&early).await, "churned");
    let r = api.patch("/v1/workspace", json!({"churn_after_days": 365})).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(api.read("/v1/workspace").await["churn_after_days"], 365);
    let late = churned(&api, "late@example.com").await;
    api.created(&order("w2", contact_id(&late), &json!({"placed_at": days_ago(200)})))
        .await;
    assert_eq!(api.stage(&late).await, "customer");
    let last = api.history(&late).await.last().unwrap().clone();
    assert_eq!(steps(&[last]), "churned>customer:reactivation/order");
}

// ---------------------------------------------------------------------------------------
// Events

async fn order_events_carry_the_order_and_reach_the_feed(s: Server) {
    let api = Api::admin(&s).await;
    let body = order("e1", email("ana@example.com"), &json!({}));
    let created = api.created(&body).await;
    let id = id_of(&created);
    let events = events_about(&s, "order.created", &id).await;
    assert_eq!(events.len(), 1);
    assert_eq!(events[0]["object"], created);
    let updated = api
        .resent(&with(&body, &json!({"status": "fulfilled"})), "updated")
        .await;
    let events = events_about(&s, "order.updated", &id).await;
    assert_eq!(events.len(), 1);
    assert_eq!(events[0]["object"], updated);
    let mut feed = Value::Null;
    for _ in 0..100 {
        feed = api.read("/v1/events?types=order.*").await;
        if feed["data"].as_array().is_some_and(|d| d.len() >= 2) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let data = feed["data"].as_array().unwrap();
    let types: Vec<&str> = data.iter().map(|e| e["type"].as_str().unwrap()).collect();
    assert_eq!(types, ["order.created", "order.updated"], "{feed}");
    assert_eq!(data[0]["data"]["object"], created);
    assert_eq!(data[1]["data"]["object"], updated);
    let catalogue = api.read("/v1/event-types").await;
    let names: Vec<&str> = catalogue["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["type"].as_str().unwrap())
        .collect();
    assert!(
        names.contains(&"order.created") && names.contains(&"order.updated"),
        "{names:?}"
    );
}

// ---------------------------------------------------------------------------------------
// Isolation and scopes

async fn another_workspace_sees_none_of_the_orders_and_resolves_its_own_customers(s: Server) {
    let api = Api::admin(&s).await;
    let body = order("i1", email("ana@example.com"), &json!({}));
    let mine = api.created(&body).await;
    let (id, ana) = (id_of(&mine), mine["contact_id"].as_str().unwrap().to_owned());
    let (ws_b, other) = s.other_workspace().await;
    let theirs = Api(&s, other);
    for path in [
        order_path(&id),
        by_external_id(SOURCE, "i1"),
        format!("/v1/contacts/{ana}/orders"),
        format!("/v1/contacts/{ana}/metrics"),
    ] {
        let r = theirs.get(&path).await;
        assert_eq!(r.status, 404, "{path} from another workspace: {}", r.body);
        r.problem(404, "not_found");
    }
    assert!(theirs.listed(ORDERS).await.is_empty());
    let r = theirs.upsert(&order("i2", contact_id(&ana), &json!({}))).await;
    r.problem(422, "validation_failed");
    assert_eq!(field_errors(&r.body), ["/customer/contact_id not_found"]);
    // The same order and email in B are B's own: a new order, a new contact.
    let copy = theirs.created(&body).await;
    assert_ne!(id_of(&copy), id);
    let bea = copy["contact_id"].as_str().unwrap().to_owned();
    assert_ne!(bea, ana);
    let contacts = theirs.contacts("").await;
    assert_eq!(contacts.iter().map(id_of).collect::<Vec<_>>(), [bea.as_str()]);
    assert_eq!(contacts[0]["email"], "ana@example.com");
    assert_eq!(theirs.listed(ORDERS).await, [id_of(&copy)]);
    assert_eq!(api.listed(ORDERS).await, [id.as_str()]);
    assert_eq!(api.read(&order_path(&id)).await, mine);
    assert_eq!(api.contacts("").await.len(), 1);
    assert_eq!(api.metrics(&ana).await["order_count"], 1);
    assert_eq!(theirs.metrics(&bea).await["order_count"], 1);
    let in_b: Vec<String> = s
        .events("order.created")
        .await
        .into_iter()
        .filter(|(_, d)| d["object"]["id"] == id_of(&copy).as_str())
        .map(|(ws, _)| ws)
        .collect();
    assert_eq!(in_b, [ws_b]);
}

async fn order_endpoints_need_their_scopes(s: Server) {
    let api = Api::admin(&s).await;
    let existing = api.created(&order("s1", email("ana@example.com"), &json!({}))).await;
    let id = id_of(&existing);
    let reader = Api::with(&s, "orders:read").await;
    for (path, body) in [
        (ORDERS, order("s2", email("bob@example.com"), &json!({}))),
        (
            BATCH,
            json!({"items": [order("s3", email("bob@example.com"), &json!({}))]}),
        ),
    ] {
        let r = reader.post(path, body).await;
        assert_eq!(r.status, 403, "{path}: {}", r.body);
        r.problem(403, "insufficient_scope");
    }
    assert_eq!(reader.listed(ORDERS).await, [id.as_str()]);
    assert_eq!(reader.read(&order_path(&id)).await, existing);
    let contacts_only = Api::with(&s, "contacts:read").await;
    for path in [ORDERS.to_owned(), order_path(&id), by_external_id(SOURCE, "s1")] {
        let r = contacts_only.get(&path).await;
        assert_eq!(r.status, 403, "{path}: {}", r.body);
        r.problem(403, "insufficient_scope");
    }
    // Nothing a refused call asked for happened.
    assert_eq!(api.listed(ORDERS).await, [id]);
    api.get("/v1/contacts/by-email/bob@example.com")
        .await
        .problem(404, "not_found");
    let writer = Api::with(&s, "orders:write").await;
    writer.get(ORDERS).await.problem(403, "insufficient_scope");
    writer.created(&order("s4", email("bob@example.com"), &json!({}))).await;
}

// ---------------------------------------------------------------------------------------
// Hostile input

/// Sends `text` as a JSON body to `path`.
async fn raw(api: &Api<'_>, path: &str, text: &str) -> Reply {
    let r = api
        .0
        .req(Method::POST, path, &api.1)
        .header("content-type", "application/json")
        .body(text.to_owned());
    Reply::from(r.send().await.unwrap()).await
}

async fn bad_input_is_refused_and_never_a_server_error(s: Server) {
    let api = Api::admin(&s).await;
    for path in [ORDERS, BATCH] {
        for broken in ["{\"source\": \"shop", "[", "nul", "{,}", "<xml/>", "", "{} trailing"] {
            let r = raw(&api, path, broken).await;
            assert_eq!(r.status, 400, "{path} with {broken:?}: {}", r.body);
            r.problem(400, "malformed_json");
        }
    }
    let base = order("h1", email("hostile@example.com"), &json!({}));
    let huge = "100000000000000000000";
    let base_text = base.to_string();
    let texts = [
        (
            base_text.replace("\"quantity\":1", "\"quantity\":1e20"),
            "/lines/0/quantity",
        ),
        (
            base_text.replace("\"unit_price\":1000", "\"unit_price\":1e20"),
            "/lines/0/unit_price",
        ),
        (
            base_text.replace("\"unit_price\":1000", &format!("\"unit_price\":{huge}")),
            "/lines/0/unit_price",
        ),
        (
            base_text.replace("\"quantity\":1", "\"quantity\":1.5"),
            "/lines/0/quantity",
        ),
    ];
    for (text, pointer) in texts {
        assert_ne!(text, base_text, "the replacement took no effect");
        let r = raw(&api, ORDERS, &text).await;
        r.problem(422, "validation_failed");
        assert_eq!(r.pointers(), [pointer], "{text}: {}", r.body);
    }
    let long = "x".repeat(10_000);
    let wrong = [
        (
            json!({"lines": [{"name": "Mug", "quantity": "2", "unit_price": 1000}]}),
            "/lines/0/quantity",
        ),
        (
            json!({"lines": [{"name": "Mug", "quantity": 1, "unit_price": "1000"}]}),
            "/lines/0/unit_price",
        ),
        (json!({"total": "1000"}), "/total"),
        (json!({"tax": true}), "/tax"),
        (json!({"placed_at": 1_700_000_000}), "/placed_at"),
        (json!({"lines": {"name": "Mug"}}), "/lines"),
        (json!({"customer": "ana@example.com"}), "/customer"),
        (json!({"discount_codes": "SPRING"}), "/discount_codes"),
        (json!({"total": 1e20}), "/total"),
        (json!({"lines": [line(&long, 1, 1000)]}), "/lines/0/name"),
        (json!({"external_id": long.clone()}), "/external_id"),
    ];
    for (changes, pointer) in wrong {
        let r = api.upsert(&with(&base, &changes)).await;
        r.problem(422, "validation_failed");
        assert_eq!(r.pointers(), [pointer], "{changes}: {}", r.body);
    }
    // Amounts that each fit but whose product does not, and names beyond any limit.
    let overflowing = [
        json!({"lines": [line("Gem", 1_000_000, MAX_AMOUNT)]}),
        json!({"lines": [line("Gem", 1_000_000, 9_000_000_000_000_000_000_i64)]}),
        json!({"lines": [line("Gem", 1, MAX_AMOUNT), line("Gem", 1, MAX_AMOUNT)]}),
        json!({"lines": [line("Gem", 1, MAX_AMOUNT)], "tax": MAX_AMOUNT, "shipping": MAX_AMOUNT}),
        json!({"customer": {"email": "long@example.com", "first_name": long, "last_name": long}}),
    ];
    for changes in overflowing {
        let r = api.upsert(&with(&base, &changes)).await;
        r.problem(422, "validation_failed");
    }
    for body in [json!({"items": {}}), json!({"items": "x"}), json!({})] {
        let r = api.post(BATCH, body.clone()).await;
        r.problem(422, "validation_failed");
        assert_eq!(r.pointers(), ["/items"], "{body}: {}", r.body);
    }
    // A wrong type in one item fails that item only.
    let wrong_item = with(&base, &json!({"external_id": "h2", "lines": "many"}));
    let r = api.batch(&[wrong_item, base.clone()], false).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        (&r.body["failed"], &r.body["created"]),
        (&json!(1), &json!(1)),
        "{}",
        r.body
    );
    assert_eq!(
        r.body["results"][0]["error"]["errors"][0]["pointer"], "/items/0/lines",
        "{}",
        r.body
    );
    assert_eq!(api.listed(ORDERS).await.len(), 1);
    let r = api.get(&format!("{ORDERS}/not-an-id")).await;
    assert!(r.status.is_client_error(), "{}", r.body);
}

// ---------------------------------------------------------------------------------------
// Segments over purchases

/// The member ids of a segment (one page).
async fn members(api: &Api<'_>, segment: &str) -> Vec<String> {
    let r = api.get(&format!("/v1/segments/{segment}/members?limit=500")).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let mut ids: Vec<String> = r.body["data"].as_array().unwrap().iter().map(id_of).collect();
    ids.sort();
    ids
}

async fn dynamic(api: &Api<'_>, name: &str, rules: Value) -> String {
    let r = api.post("/v1/segments", json!({"name": name, "rules": rules})).await;
    assert_eq!(r.status, 201, "{}", r.body);
    id_of(&r.body)
}

async fn segments_follow_purchases_as_orders_change(s: Server) {
    let api = Api::admin(&s).await;
    let ana = order(
        "s1",
        email("ana@example.com"),
        &json!({"lines": [line("Lamp", 1, 6000)]}),
    );
    let ana_id = api.created(&ana).await["contact_id"].as_str().unwrap().to_owned();
    let ben_id = api
        .created(&order(
            "s2",
            email("ben@example.com"),
            &json!({"placed_at": days_ago(200)}),
        ))
        .await["contact_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let idle = api.contact(json!({"email": "idle@example.com"})).await;
    let big = dynamic(
        &api,
        "big spenders",
        json!({"field": "metrics.total_spent.EUR", "op": "gte", "value": 5000}),
    )
    .await;
    let recent = dynamic(
        &api,
        "two purchases in 90 days",
        json!({"field": "orders.count", "op": "gte", "value": 2, "within": "P90D"}),
    )
    .await;
    let never = dynamic(
        &api,
        "never bought",
        json!({"field": "metrics.order_count", "op": "eq", "value": 0}),
    )
    .await;
    let lapsed = dynamic(
        &api,
        "lapsed",
        json!({"all": [
            {"field": "metrics.last_order_at", "op": "before", "value": days_ago(90)},
            {"field": "metrics.average_order_value.EUR", "op": "lt", "value": 5000}
        ]}),
    )
    .await;
    assert_eq!(members(&api, &big).await, [ana_id.as_str()]);
    assert!(members(&api, &recent).await.is_empty());
    assert_eq!(members(&api, &never).await, [idle.as_str()]);
    assert_eq!(members(&api, &lapsed).await, [ben_id.as_str()]);

    // A second recent order brings Ben into "two in 90 days" and out of "lapsed".
    api.created(&order(
        "s3",
        email("ben@example.com"),
        &json!({"placed_at": days_ago(3)}),
    ))
    .await;
    let two = order("s4", email("ben@example.com"), &json!({"placed_at": days_ago(2)}));
    api.created(&two).await;
    assert_eq!(members(&api, &recent).await, [ben_id.as_str()]);
    assert!(members(&api, &lapsed).await.is_empty());
    let entered: Vec<Value> = s.events("segment.entered").await.into_iter().map(|(_, d)| d).collect();
    assert!(
        entered
            .iter()
            .any(|e| e["object"]["segment"]["id"] == json!(recent) && e["object"]["contact_id"] == json!(ben_id)),
        "{entered:?}"
    );
    // Cancelling one takes him out again, in the same request.
    api.resent(&with(&two, &json!({"status": "cancelled"})), "updated")
        .await;
    assert!(members(&api, &recent).await.is_empty());
    // A partial refund lowers Ana's spending below the bound.
    api.resent(
        &with(&ana, &json!({"status": "partially_refunded", "refunded_total": 1500})),
        "updated",
    )
    .await;
    assert!(members(&api, &big).await.is_empty());
    // An order for the idle contact: no longer "never bought".
    api.created(&order("s5", contact_id(&idle), &json!({}))).await;
    assert!(members(&api, &never).await.is_empty());
}

async fn commerce_rules_search_refresh_and_list_like_any_other(s: Server) {
    let api = Api::admin(&s).await;
    let ana = order(
        "s1",
        email("ana@example.com"),
        &json!({"lines": [line("Lamp", 1, 6000)]}),
    );
    let ana_id = api.created(&ana).await["contact_id"].as_str().unwrap().to_owned();
    api.resent(
        &with(&ana, &json!({"status": "partially_refunded", "refunded_total": 1500})),
        "updated",
    )
    .await;
    api.created(&order("s2", email("ben@example.com"), &json!({}))).await;
    let big = dynamic(
        &api,
        "big spenders",
        json!({"field": "metrics.total_spent.EUR", "op": "gte", "value": 4000}),
    )
    .await;
    let recent = dynamic(
        &api,
        "two purchases in 90 days",
        json!({"field": "orders.count", "op": "gte", "value": 1, "within": "P90D"}),
    )
    .await;
    assert_eq!(members(&api, &big).await, [ana_id.as_str()]);
    assert_eq!(members(&api, &recent).await.len(), 2);
    // Search and refresh agree with the kept membership.
    let r = api
        .post(
            "/v1/contacts/search",
            json!({"rules": {"field": "orders.total.EUR", "op": "gte", "value": 2000, "within": "P30D"}}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let found: Vec<String> = r.body["data"].as_array().unwrap().iter().map(id_of).collect();
    assert_eq!(
        found,
        [ana_id.as_str()],
        "Ana's 4500 net in the last 30 days; Ben has 1000"
    );
    for seg in [&big, &recent] {
        let before = members(&api, seg).await;
        let r = api.post(&format!("/v1/segments/{seg}/refresh"), json!({})).await;
        assert_eq!(r.status, 200, "{}", r.body);
        assert_eq!(members(&api, seg).await, before, "refresh of {seg}");
    }

    // The catalogue lists the per-currency fields of the currencies in use.
    let fields = api.read("/v1/segments/fields").await;
    let names: Vec<&str> = fields["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["name"].as_str().unwrap())
        .collect();
    for f in [
        "metrics.order_count",
        "metrics.last_order_at",
        "orders.count",
        "metrics.total_spent.EUR",
        "orders.total.EUR",
    ] {
        assert!(names.contains(&f), "{f} in {names:?}");
    }
    assert!(
        !names.contains(&"metrics.total_spent.USD"),
        "no USD orders yet: {names:?}"
    );
    // Rule errors point at the bad part.
    let r = api
        .post(
            "/v1/segments/preview",
            json!({"rules": {"all": [
                {"field": "orders.count", "op": "gte", "value": 2, "within": "soon"},
                {"field": "metrics.total_spent.XXX", "op": "gte", "value": 1},
                {"field": "lead_score", "op": "gte", "value": 1, "within": "P1D"}
            ]}}),
        )
        .await;
    r.problem(422, "validation_failed");
    assert_eq!(
        field_errors(&r.body),
        [
            "/rules/all/0/within invalid_duration",
            "/rules/all/1/field unknown_field",
            "/rules/all/2/within not_allowed"
        ]
    );
}

async fn a_changed_purchase_reactivates_and_orders_keep_their_customer(s: Server) {
    let api = Api::admin(&s).await;
    // A recent paid order, then the contact is churned by hand: re-sending that order with
    // a new status brings them back, as a new purchase would.
    let sent = order("r1", email("cara@example.com"), &json!({"placed_at": days_ago(5)}));
    let cara = api.created(&sent).await["contact_id"].as_str().unwrap().to_owned();
    assert_eq!(api.stage(&cara).await, "customer");
    api.move_to(&cara, "churned").await;
    api.resent(&with(&sent, &json!({"status": "fulfilled"})), "updated")
        .await;
    assert_eq!(api.stage(&cara).await, "customer");
    let last = api.history(&cara).await.last().cloned().unwrap();
    assert_eq!(
        (&last["direction"], &last["cause"]),
        (&json!("reactivation"), &json!("order")),
        "{last}"
    );
    // A cancellation of it moves nobody.
    api.resent(&with(&sent, &json!({"status": "cancelled"})), "updated")
        .await;
    assert_eq!(api.stage(&cara).await, "customer");
    // A contact with orders is not deleted; its orders stay readable.
    let r = api.delete(&format!("/v1/contacts/{cara}")).await;
    r.problem(409, "in_use");
    assert_eq!(api.listed(&format!("/v1/contacts/{cara}/orders")).await.len(), 1);
    let plain = api.contact(email("plain@example.com")).await;
    assert_eq!(api.delete(&format!("/v1/contacts/{plain}")).await.status, 204);
}

async fn orders_and_metrics_over_graphql(s: Server) {
    let api = Api::admin(&s).await;
    let token = s.admin_token().await;
    let upsert = "mutation($input: OrderInput!) { upsertOrder(input: $input) {
        outcome order { id externalId status currency total netTotal countsAsPurchase contactId
        lines { sku name quantity unitPrice total } contact { email lifecycleStage } } } }";
    let input = json!({"source": "shop", "externalId": "g1", "customer": {"email": "gql@example.com"},
        "status": "PAID", "currency": "eur", "placedAt": days_ago(1),
        "lines": [{"sku": "A", "name": "Mug", "quantity": 2, "unitPrice": 1250}], "shipping": 500});
    let reply = s.gql(&token, upsert, json!({"input": input})).await;
    let up = &reply["data"]["upsertOrder"];
    assert_eq!(up["outcome"], "CREATED", "{reply}");
    let created = &up["order"];
    assert_eq!(
        (
            &created["status"],
            &created["currency"],
            &created["total"],
            &created["netTotal"],
            &created["countsAsPurchase"]
        ),
        (&json!("PAID"), &json!("EUR"), &json!(3000), &json!(3000), &json!(true)),
        "{reply}"
    );
    assert_eq!(
        created["lines"][0],
        json!({"sku": "A", "name": "Mug", "quantity": 2, "unitPrice": 1250, "total": 2500})
    );
    assert_eq!(
        created["contact"],
        json!({"email": "gql@example.com", "lifecycleStage": "CUSTOMER"})
    );
    let again = s.gql(&token, upsert, json!({"input": input})).await;
    assert_eq!(again["data"]["upsertOrder"]["outcome"], "UNCHANGED", "{again}");
    let contact = created["contactId"].as_str().unwrap();
    let q = "query($id: ID!) { contact(id: $id) { metrics { orderCount byCurrency { currency totalSpent averageOrderValue } }
        orders(first: 5) { edges { node { externalId } } } }
        orders(contactId: $id) { edges { node { externalId } } } workspace { churnAfterDays } }";
    let reply = s.gql(&token, q, json!({"id": contact})).await;
    assert_eq!(
        reply["data"]["contact"]["metrics"],
        json!({"orderCount": 1, "byCurrency": [{"currency": "EUR", "totalSpent": 3000, "averageOrderValue": 3000}]}),
        "{reply}"
    );
    assert_eq!(
        reply["data"]["contact"]["orders"]["edges"][0]["node"]["externalId"],
        "g1"
    );
    assert_eq!(reply["data"]["orders"]["edges"][0]["node"]["externalId"], "g1");
    assert_eq!(reply["data"]["workspace"]["churnAfterDays"], 180);
    // Invalid input answers the REST code with pointers, nothing written.
    let bad = json!({"source": "shop", "externalId": "g2", "customer": {"email": "gql@example.com"},
        "status": "PAID", "currency": "XYZ", "placedAt": days_ago(1),
        "lines": [{"name": "Mug", "quantity": -1, "unitPrice": 1}]});
    let reply = s.gql(&token, upsert, json!({"input": bad})).await;
    assert_eq!(reply["errors"][0]["extensions"]["code"], "validation_failed", "{reply}");
    api.get(&by_external_id("shop", "g2")).await.problem(404, "not_found");
    // Another workspace sees nothing.
    let (_, other) = s.other_workspace().await;
    let reply = s
        .gql(
            &other,
            "query($id: ID!) { order(id: $id) { id } }",
            json!({"id": created["id"]}),
        )
        .await;
    assert!(reply["data"]["order"].is_null(), "{reply}");
    let reply = s.gql(&other, "{ orders { edges { node { id } } } }", json!({})).await;
    assert_eq!(reply["data"]["orders"]["edges"], json!([]), "{reply}");
}

on_both!(
    an_order_is_created_with_computed_totals_and_its_customer,
    a_resent_order_changes_nothing_and_a_changed_one_is_updated_once,
    the_customer_is_found_by_id_then_external_id_of_the_source_then_email,
    each_invalid_order_is_refused_at_its_pointer_and_writes_nothing,
    a_batch_reports_each_item_with_pointers_into_the_request_and_commits_the_valid_ones,
    a_batch_holds_one_to_a_thousand_items_and_can_answer_minimally,
    orders_are_read_by_id_and_external_id_and_listed_newest_first,
    metrics_follow_each_order_change_per_currency,
    orders_make_customers_then_repeat_customers_and_cancellations_do_not_count,
    orders_move_prospects_and_churned_contacts_but_never_backward,
    the_churn_window_is_a_workspace_setting,
    order_events_carry_the_order_and_reach_the_feed,
    another_workspace_sees_none_of_the_orders_and_resolves_its_own_customers,
    order_endpoints_need_their_scopes,
    bad_input_is_refused_and_never_a_server_error,
    segments_follow_purchases_as_orders_change,
    commerce_rules_search_refresh_and_list_like_any_other,
    a_changed_purchase_reactivates_and_orders_keep_their_customer,
    orders_and_metrics_over_graphql,
);

on_both_dbs!(the_churn_check_moves_customers_whose_last_order_is_too_old);
