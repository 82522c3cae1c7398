//! The right to erasure and to a copy: an export gathers everything held about a
//! contact; an erasure leaves a tombstone without personal data, happens once, refuses
//! later writes, frees the email, and leaves no trace of the person in any table.

// Test bodies run through `on_both!`, outside `#[test]` fns, where a failed unwrap is the
// intended test failure.
#![allow(clippy::unwrap_used)]

use chrono::{DateTime, Utc};
use rapport_tests::{Api, Backend, NOWHERE, Reply, Server, events_about, id_of, on_both, pick};
use reqwest::Method;
use serde_json::{Value, json};
use sqlx::Connection;

const REASON: &str = "Erasure request under GDPR Art. 17, ticket 4711";

/// The calls these tests make beyond plain requests.
trait ErasureCalls {
    /// A POST with an `Idempotency-Key`, which must succeed.
    async fn post_once(&self, path: &str, key: &str, body: &Value) -> Value;
    /// Creates a contact; returns its id.
    async fn contact(&self, body: Value) -> String;
    /// A read that must succeed.
    async fn read(&self, path: &str) -> Value;
    /// `POST /v1/contacts/{id}/consents`.
    async fn record(&self, id: &str, body: Value) -> Reply;
    /// `POST /v1/contacts/{id}/erasure` with this reason.
    async fn erase(&self, id: &str, reason: &str) -> Reply;
    /// An erasure that must succeed; returns the Erasure.
    async fn erased(&self, id: &str) -> Value;
}

impl ErasureCalls for Api<'_> {
    async fn post_once(&self, path: &str, key: &str, body: &Value) -> Value {
        let r = self.0.req(Method::POST, path, &self.1).header("idempotency-key", key);
        let r = Reply::from(r.json(body).send().await.unwrap()).await;
        assert_eq!(r.status, 201, "{path}: {}", r.body);
        r.body
    }

    async fn contact(&self, body: Value) -> String {
        let r = self.post("/v1/contacts", body).await;
        assert_eq!(r.status, 201, "{}", r.body);
        id_of(&r.body)
    }

    async fn read(&self, path: &str) -> Value {
        let r = self.get(path).await;
        assert_eq!(r.status, 200, "{path}: {}", r.body);
        r.body
    }

    async fn record(&self, id: &str, body: Value) -> Reply {
        self.post(&format!("/v1/contacts/{id}/consents"), body).await
    }

    async fn erase(&self, id: &str, reason: &str) -> Reply {
        self.post(&format!("/v1/contacts/{id}/erasure"), json!({ "reason": reason }))
            .await
    }

    async fn erased(&self, id: &str) -> Value {
        let r = self.erase(id, REASON).await;
        assert_eq!(r.status, 200, "{}", r.body);
        r.body
    }
}

fn at(v: &Value) -> DateTime<Utc> {
    v.as_str()
        .unwrap_or_else(|| panic!("not a timestamp: {v}"))
        .parse()
        .unwrap()
}

fn consent(purpose: &str, status: &str) -> Value {
    json!({"purpose": purpose, "status": status, "source": "api"})
}

async fn an_erasure_needs_the_privacy_scope_and_a_reason(s: Server) {
    let api = Api::admin(&s).await;
    let id = api.contact(json!({"email": "ada@example.com"})).await;
    let everything_else = "contacts:read contacts:write consent:read consent:write consent:manage lifecycle:override";
    let refused = Api::with(&s, everything_else).await.erase(&id, REASON).await;
    refused.problem(403, "insufficient_scope");
    let intact = api.read(&format!("/v1/contacts/{id}")).await;
    assert_eq!(intact["email"], "ada@example.com");
    assert_eq!(intact["erased_at"], Value::Null);

    let c = s.client(Some(s.admin.workspace_id.as_str()), "privacy:erase");
    let eraser = Api(&s, s.token(&c).await);
    let path = format!("/v1/contacts/{id}/erasure");
    for body in [json!({}), json!({"reason": ""}), json!({"reason": "x".repeat(1001)})] {
        let r = eraser.post(&path, body).await;
        r.problem(422, "validation_failed");
        assert_eq!(r.pointers(), ["/reason"], "{}", r.body);
    }
    eraser.erase(NOWHERE, REASON).await.problem(404, "not_found");
    assert!(s.events("contact.erased").await.is_empty());
    let erasure = eraser.erased(&id).await;
    let expected = json!({"contact_id": id, "reason": REASON, "actor": {"type": "api_client", "id": c.client_id}});
    assert_eq!(pick(&erasure, &expected), expected);
    assert!(erasure["id"].is_string(), "{erasure}");
    assert!(at(&erasure["requested_at"]) <= at(&erasure["erased_at"]), "{erasure}");
}

async fn an_erased_contact_becomes_a_tombstone_once(s: Server) {
    let api = Api::admin(&s).await;
    for (key, kind) in [("tier", "string"), ("score", "number")] {
        let definition = json!({"key": key, "label": key, "type": kind});
        assert_eq!(api.post("/v1/attribute-definitions", definition).await.status, 201);
    }
    let body = json!({"email": "ada@example.com", "phone": "+44 20 7946 0000", "first_name": "Ada",
        "last_name": "Lovelace", "locale": "en-GB", "owner_id": "owner-1", "external_ids": {"shop": "a-1"},
        "attributes": {"tier": "gold", "score": 3}});
    let id = api.contact(body).await;
    let path = format!("/v1/contacts/{id}");
    let lifecycle = format!("{path}/lifecycle");
    let moved = api.post(&lifecycle, json!({"stage": "customer"})).await;
    assert_eq!(moved.status, 200, "{}", moved.body);
    let history = api.read(&format!("{path}/lifecycle")).await["data"].clone();

    let erasure = api.erased(&id).await;
    let again = api.erase(&id, "asked twice").await;
    assert_eq!(again.status, 200, "{}", again.body);
    assert_eq!(again.body, erasure, "the second call answers the first erasure");
    let events = events_about(&s, "contact.erased", &id).await;
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(events[0]["erasure"], erasure);
    assert_eq!(at(&events[0]["object"]["erased_at"]), at(&erasure["erased_at"]));

    let tombstone = api.read(&path).await;
    assert_eq!(tombstone["id"], id.as_str());
    assert_eq!(at(&tombstone["erased_at"]), at(&erasure["erased_at"]));
    let expected = json!({"email": null, "phone": null, "first_name": null, "last_name": null, "locale": null,
        "owner_id": null, "external_ids": {}, "attributes": {"score": 3}, "lifecycle_stage": "customer",
        "highest_stage": "customer"});
    assert_eq!(pick(&tombstone, &expected), expected);
    assert_eq!(api.read(&format!("{path}/lifecycle")).await["data"], history);
    let listed = api.read("/v1/contacts").await;
    let ids: Vec<String> = listed["data"].as_array().unwrap().iter().map(id_of).collect();
    assert!(!ids.contains(&id), "{listed}");
    for lookup in ["by-email/ada@example.com", "by-external-id/shop/a-1"] {
        let r = api.get(&format!("/v1/contacts/{lookup}")).await;
        r.problem(404, "not_found");
    }

    let writes = [
        (Method::PATCH, path.clone(), json!({"first_name": "Eve"})),
        (Method::POST, format!("{path}/tags"), json!({"add": ["back"]})),
        (Method::POST, format!("{path}/lifecycle"), json!({"stage": "advocate"})),
        (
            Method::POST,
            format!("{path}/consents"),
            consent("analytics", "granted"),
        ),
    ];
    for (method, p, body) in writes {
        let r = api.send(method.clone(), &p, Some(body)).await;
        assert_eq!(r.status, 410, "{method} {p}: {}", r.body);
        r.problem(410, "contact_erased");
    }
    assert_eq!(api.read(&path).await, tombstone, "the refused writes changed nothing");

    let again = api.contact(json!({"email": "ada@example.com"})).await;
    assert_ne!(again, id);
    assert_eq!(id_of(&api.read("/v1/contacts/by-email/ada@example.com").await), again);
    let by_external_id = "/v1/contacts/by-external-id/shop/a-1";
    let r = api
        .send(Method::PUT, by_external_id, Some(json!({"last_name": "L"})))
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    assert!(id_of(&r.body) != id && id_of(&r.body) != again);
}

async fn an_export_holds_the_profile_lifecycle_and_consent_ledger(s: Server) {
    let api = Api::admin(&s).await;
    let company = api.post("/v1/companies", json!({"name": "Acme"})).await;
    assert_eq!(company.status, 201, "{}", company.body);
    let body = json!({"email": "ada@example.com", "first_name": "Ada", "company_id": company.body["id"]});
    let id = api.contact(body).await;
    let path = format!("/v1/contacts/{id}");
    let lifecycle = format!("{path}/lifecycle");
    assert_eq!(api.post(&lifecycle, json!({"stage": "lead"})).await.status, 200);
    let proof = json!({"ip": "203.0.113.7", "user_agent": "Mozilla/5.0"});
    let cp = json!({"purpose": "personalization", "status": "withdrawn", "source": "form",
        "contact_point": "ada@example.com", "proof": proof});
    for body in [consent("analytics", "granted"), cp] {
        assert_eq!(api.record(&id, body).await.status, 201);
    }

    for (n, placed_at) in [(1, "2026-10-01T10:00:00Z"), (2, "2026-11-01T10:00:00Z")] {
        let order = json!({"source": "shop", "external_id": format!("o{n}"), "customer": {"contact_id": id},
            "status": "paid", "currency": "EUR", "placed_at": placed_at,
            "lines": [{"sku": "A", "name": "A", "quantity": n, "unit_price": 1000}]});
        let r = api.post("/v1/orders", order).await;
        assert_eq!(r.status, 201, "{}", r.body);
    }

    let export = api.read(&format!("{path}/export")).await;
    let orders = api.read(&format!("{path}/orders")).await["data"].clone();
    assert_eq!(orders.as_array().map(Vec::len), Some(2));
    assert_eq!(export["orders"], orders);
    assert_eq!(export["orders"][0]["external_id"], "o2", "newest first");
    assert_eq!(export["metrics"], api.read(&format!("{path}/metrics")).await);
    assert_eq!(export["metrics"]["by_currency"][0]["total_spent"], 3000);
    let keys: Vec<&String> = export.as_object().unwrap().keys().collect();
    let documented = "company consent contact erasure exported_at external_id_aliases format format_version lifecycle metrics orders";
    assert_eq!(keys, documented.split(' ').collect::<Vec<_>>());
    let header =
        json!({"format": "rapport.contact-export", "format_version": 2, "erasure": null, "external_id_aliases": []});
    assert_eq!(pick(&export, &header), header);
    at(&export["exported_at"]);
    assert_eq!(export["contact"], api.read(&path).await);
    let company_path = format!("/v1/companies/{}", company.body["id"].as_str().unwrap());
    assert_eq!(export["company"], api.read(&company_path).await);
    assert_eq!(export["lifecycle"], api.read(&lifecycle).await["data"]);
    let states = api.read(&format!("{path}/consents")).await["data"].clone();
    let events = api.read(&format!("{path}/consents/history")).await["data"].clone();
    assert_eq!(events.as_array().map(Vec::len), Some(2));
    assert_eq!(export["consent"], json!({"states": states, "events": events}));

    for scopes in ["contacts:read", "consent:read"] {
        let r = Api::with(&s, scopes).await.get(&format!("{path}/export")).await;
        r.problem(403, "insufficient_scope");
    }
    let both = Api::with(&s, "contacts:read consent:read").await;
    assert_eq!(both.get(&format!("{path}/export")).await.status, 200);
    let nobody = api.get(&format!("/v1/contacts/{NOWHERE}/export")).await;
    nobody.problem(404, "not_found");

    // After an erasure the export names it, and the ledger keeps its events without
    // the contact point, address and browser.
    let erasure = api.erased(&id).await;
    let after = api.read(&format!("{path}/export")).await;
    assert_eq!(after["erasure"], erasure);
    assert_eq!(after["contact"]["email"], Value::Null);
    let kept = after["consent"]["events"].as_array().unwrap();
    assert_eq!(kept.len(), 2, "{after}");
    for e in kept {
        let personal = [&e["contact_point"], &e["proof"]["ip"], &e["proof"]["user_agent"]];
        assert!(personal.iter().all(|v| v.is_null()), "{e}");
    }
    let purposes: Vec<&Value> = kept.iter().map(|e| &e["purpose"]).collect();
    assert_eq!(purposes, [&json!("analytics"), &json!("personalization")]);
}

fn quoted(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// Every value of every column of every table, as text: `(table.column, values)`.
async fn every_column(s: &Server) -> Vec<(String, Vec<String>)> {
    let mut out = Vec::new();
    match s.db.backend {
        Backend::Sqlite => {
            let mut c = sqlx::SqliteConnection::connect(&s.db.url).await.unwrap();
            let tables: Vec<String> =
                sqlx::query_scalar("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
                    .fetch_all(&mut c)
                    .await
                    .unwrap();
            for table in tables {
                let columns: Vec<String> = sqlx::query_scalar("SELECT name FROM pragma_table_info(?)")
                    .bind(&table)
                    .fetch_all(&mut c)
                    .await
                    .unwrap();
                for column in columns {
                    // As bytes: SQLite keeps ids and some documents as BLOBs.
                    let sql = format!("SELECT CAST({} AS BLOB) FROM {}", quoted(&column), quoted(&table));
                    let values: Vec<Option<Vec<u8>>> = sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
                        .fetch_all(&mut c)
                        .await
                        .unwrap_or_else(|e| panic!("{table}.{column}: {e}"));
                    let text = values.iter().flatten().map(|b| String::from_utf8_lossy(b).into_owned());
                    out.push((format!("{table}.{column}"), text.collect()));
                }
            }
        }
        Backend::Postgres => {
            let mut c = sqlx::PgConnection::connect(&s.db.url).await.unwrap();
            let columns: Vec<(String, String, String)> = sqlx::query_as(
                "SELECT table_name::text, column_name::text, data_type::text FROM information_schema.columns \
                 WHERE table_schema = 'public' ORDER BY table_name, ordinal_position",
            )
            .fetch_all(&mut c)
            .await
            .unwrap();
            for (table, column, kind) in columns {
                let expr = if kind == "bytea" {
                    format!("encode({}, 'escape')", quoted(&column))
                } else {
                    format!("{}::text", quoted(&column))
                };
                let sql = format!("SELECT {expr} FROM {}", quoted(&table));
                let values: Vec<Option<String>> = sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
                    .fetch_all(&mut c)
                    .await
                    .unwrap_or_else(|e| panic!("{table}.{column}: {e}"));
                out.push((format!("{table}.{column}"), values.into_iter().flatten().collect()));
            }
        }
    }
    out
}

/// `table.column: needle` for every column holding one of `needles`, ignoring case.
async fn traces(s: &Server, needles: &[&str]) -> Vec<String> {
    let mut found = Vec::new();
    let columns = every_column(s).await;
    assert!(columns.len() > 10, "the scan saw too few columns: {}", columns.len());
    for (column, values) in columns {
        for needle in needles {
            let needle = needle.to_lowercase();
            if values.iter().any(|v| v.to_lowercase().contains(&needle)) {
                found.push(format!("{column}: {needle}"));
            }
        }
    }
    found
}

async fn an_erasure_leaves_no_trace_of_the_person_in_any_table(s: Server) {
    const EMAIL: &str = "Zelda.Quartermain@example.org";
    const PHONE: &str = "+14155550199";
    let needles = [EMAIL, "Quartermain", "Zelda", "4155550199"];
    let api = Api::admin(&s).await;
    let nickname = json!({"key": "nickname", "label": "Nickname", "type": "string"});
    assert_eq!(api.post("/v1/attribute-definitions", nickname).await.status, 201);
    let body = json!({"email": EMAIL, "first_name": "Zelda", "last_name": "Quartermain", "phone": "+1 415 555 0199",
        "external_ids": {"shop": "quartermain-77"}, "attributes": {"nickname": "Zelda Q"}, "tags": ["vip"]});
    let id = id_of(&api.post_once("/v1/contacts", "signup-4711", &body).await);
    let path = format!("/v1/contacts/{id}");

    // Changes whose events carry the old and new values.
    for change in [
        json!({"first_name": "Zelda-May", "last_name": "Quartermain-Smith"}),
        json!({"first_name": "Zelda", "last_name": "Quartermain", "locale": "en-US"}),
    ] {
        let r = api.send(Method::PATCH, &path, Some(change)).await;
        assert_eq!(r.status, 200, "{}", r.body);
    }
    let upsert = json!({"owner_id": "owner-7"});
    let r = api
        .send(Method::PUT, &format!("/v1/contacts/by-email/{EMAIL}"), Some(upsert))
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let r = api
        .post(&format!("{path}/lifecycle"), json!({"stage": "customer"}))
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    // Staff write free text into a backward move's reason.
    let back = json!({"stage": "lead", "reason": "Zelda Quartermain asked to be treated as a prospect"});
    let r = api.post(&format!("{path}/lifecycle"), back).await;
    assert_eq!(r.status, 200, "{}", r.body);

    // Consents at the address and the number, with the browser that gave them.
    let proof = json!({"ip": "203.0.113.7", "user_agent": "ZeldaPhone/1.0 (Quartermain)", "form": "signup",
        "page": format!("https://shop.example/confirm?email={EMAIL}"), "text": "Yes, send me offers"});
    let email_grant = json!({"purpose": "email_marketing", "status": "granted", "opt_in_level": "single",
        "source": "form", "contact_point": EMAIL, "proof": proof});
    let pending = api
        .post_once(&format!("{path}/consents"), "consent-4711", &email_grant)
        .await;
    let confirm = json!({"token": pending["confirmation"]["token"], "proof": proof});
    let r = api.post("/v1/consent/confirm", confirm).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let sms = json!({"purpose": "sms_marketing", "status": "denied", "source": "form", "contact_point": PHONE,
        "proof": proof});
    let wide = json!({"purpose": "analytics", "status": "granted", "source": "form", "proof": proof});
    for body in [sms, wide] {
        let r = api.record(&id, body).await;
        assert_eq!(r.status, 201, "{}", r.body);
    }

    // The scan finds the person before the erasure …
    let before = traces(&s, &needles).await;
    assert!(before.iter().any(|t| t.starts_with("events.")), "{before:?}");
    let tables: std::collections::BTreeSet<&str> = before.iter().filter_map(|t| t.split('.').next()).collect();
    assert!(tables.len() >= 3, "the scan misses stored values: {before:?}");

    // … and nowhere after it.
    api.erased(&id).await;
    let after = traces(&s, &needles).await;
    assert!(after.is_empty(), "personal data left after the erasure in: {after:#?}");
    let tombstone = api.read(&path).await;
    assert_eq!(tombstone["id"], id.as_str());
    assert_eq!(tombstone["lifecycle_stage"], "lead");
    // The ledger keeps the decisions and the non-personal proof.
    let events = api.read(&format!("{path}/consents/history")).await;
    let first = &events["data"][0];
    assert_eq!(
        (first["status"].as_str(), first["proof"]["text"].as_str()),
        (Some("pending_confirmation"), Some("Yes, send me offers"))
    );
    assert_eq!(first["proof"]["page"], Value::Null);
    // What remains allows nothing, and the tombstone itself cannot be deleted.
    let answer = api.read(&format!("{path}/consent/analytics")).await;
    assert_eq!(
        (answer["allowed"].as_bool(), answer["status"].as_str()),
        (Some(false), Some("none"))
    );
    api.send(Method::DELETE, &path, None)
        .await
        .problem(410, "contact_erased");
}

/// Runs a GraphQL operation that must succeed; returns its first root field.
async fn gql_ok(s: &Server, token: &str, query: &str, vars: Value) -> Value {
    let doc = s.gql(token, query, vars).await;
    assert!(doc.get("errors").is_none(), "{query}: {doc}");
    doc["data"].as_object().unwrap().values().next().cloned().unwrap()
}

/// The `extensions.code` of the first error of an operation that must fail.
async fn gql_code(s: &Server, token: &str, query: &str, vars: Value) -> String {
    let doc = s.gql(token, query, vars).await;
    assert!(doc["errors"].is_array(), "{query}: {doc}");
    doc["errors"][0]["extensions"]["code"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

async fn graphql_erases_a_contact_and_maps_its_errors(s: Server) {
    let api = Api::admin(&s).await;
    let token = api.1.as_str();
    let gia = json!({"email": "gia@example.com", "first_name": "Gia"});
    let id = api.contact(gia).await;
    let erase = |id: &str| {
        format!("mutation($r: String!) {{ eraseContact(id: \"{id}\", reason: $r) {{ id contactId reason erasedAt }} }}")
    };
    let reason = json!({ "r": REASON });
    let writer = s.token_with("contacts:read contacts:write consent:write").await;
    let refused = gql_code(&s, &writer, &erase(&id), reason.clone()).await;
    assert_eq!(refused, "insufficient_scope");
    assert_eq!(gql_code(&s, token, &erase(NOWHERE), reason.clone()).await, "not_found");
    let other = s.other_workspace().await.1;
    assert_eq!(gql_code(&s, &other, &erase(&id), reason.clone()).await, "not_found");
    let empty = gql_code(&s, token, &erase(&id), json!({"r": ""})).await;
    assert_eq!(empty, "validation_failed");
    let erased = s.events("contact.erased").await;
    assert!(erased.is_empty(), "the refused calls erased nothing: {erased:?}");

    let erasure = gql_ok(&s, token, &erase(&id), reason.clone()).await;
    assert_eq!(erasure["contactId"], id.as_str());
    assert_eq!(erasure["reason"], REASON);
    assert_eq!(gql_ok(&s, token, &erase(&id), reason).await, erasure, "idempotent");
    let read = format!("{{ contact(id: \"{id}\") {{ id email firstName erasedAt }} }}");
    let tombstone = gql_ok(&s, token, &read, json!({})).await;
    assert!(
        tombstone["email"].is_null() && tombstone["firstName"].is_null(),
        "{tombstone}"
    );
    assert_eq!(at(&tombstone["erasedAt"]), at(&erasure["erasedAt"]));
    let rest = api.read(&format!("/v1/contacts/{id}")).await;
    assert_eq!(at(&rest["erased_at"]), at(&erasure["erasedAt"]));

    let update = format!("mutation {{ updateContact(id: \"{id}\", input: {{firstName: \"Eve\"}}) {{ id }} }}");
    assert_eq!(gql_code(&s, token, &update, json!({})).await, "contact_erased");
    let record = format!(
        "mutation {{ recordConsent(contactId: \"{id}\", input: {{purpose: \"analytics\", status: GRANTED, \
         source: \"api\"}}) {{ event {{ id }} }} }}"
    );
    assert_eq!(gql_code(&s, token, &record, json!({})).await, "contact_erased");
}

on_both!(
    an_erasure_needs_the_privacy_scope_and_a_reason,
    an_erased_contact_becomes_a_tombstone_once,
    an_export_holds_the_profile_lifecycle_and_consent_ledger,
    an_erasure_leaves_no_trace_of_the_person_in_any_table,
    graphql_erases_a_contact_and_maps_its_errors,
);
