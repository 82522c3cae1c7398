//! Bulk imports, black box: a job is created as JSON, its file uploaded, and it is polled
//! until it ends. NDJSON and CSV (mapping, quoting, delimiters, list separators, typed
//! attributes, external ids) for contacts, companies and orders (one CSV row per order
//! line); bad rows fail alone and are reported with rows, pointers, columns and codes in
//! NDJSON and CSV; re-runs change nothing; job-level failures; creation validation;
//! uploads, size limit, cancellation, lists, tenancy, scopes, GraphQL, events and a
//! larger file whose progress never goes back.

// Test bodies run through `on_both!`, outside `#[test]` fns, where a failed unwrap is the
// intended test failure.
#![allow(clippy::unwrap_used)]

use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use rapport_tests::{Api, NOWHERE, Reply, Server, TestDb, events_about, id_of, on_both, on_both_dbs, pick};
use reqwest::Method;
use serde_json::{Value, json};

const IMPORTS: &str = "/v1/imports";
const NDJSON: &str = "application/x-ndjson";
const CSV: &str = "text/csv";
/// The header of the CSV error report.
const REPORT_HEADER: [&str; 5] = ["row", "pointer", "column", "code", "message"];
/// The fields GraphQL gives of an import.
const GQL_FIELDS: &str = "id kind format status rowsRead rowsCreated rowsUpdated rowsUnchanged rowsFailed \
    fileBytes error createdAt startedAt finishedAt";

fn import_path(id: &str) -> String {
    format!("{IMPORTS}/{id}")
}

/// One expected problem of the error report: row, pointer, CSV column, and the code
/// (`None`: any code, where the spec names none).
type Expected = (u64, String, Option<String>, Option<String>);

/// The calls these tests make beyond plain requests.
trait ImportCalls {
    /// `POST /v1/imports`.
    async fn create(&self, body: &Value) -> Reply;
    /// A creation that must succeed: 201, `Location`, `awaiting_file`; returns the id.
    async fn created(&self, body: &Value) -> String;
    /// `PUT /v1/imports/{id}/file` with this raw body and content type.
    async fn upload(&self, id: &str, file: &[u8], content_type: &str) -> Reply;
    /// An upload that must be accepted: 202 with the import, past `awaiting_file` (the
    /// answer's exact status is checked where a file is first received).
    async fn uploaded(&self, id: &str, file: &[u8], content_type: &str);
    /// Polls the import every 100 ms (up to 60 s) until it is completed, failed or
    /// cancelled; checks that its progress never goes back; returns the last state and
    /// every state seen.
    async fn watch(&self, id: &str) -> (Value, Vec<Value>);
    /// The import once it has ended.
    async fn finish(&self, id: &str) -> Value;
    /// Creates an import, uploads `file` and waits for its end; returns the import.
    async fn run(&self, body: &Value, file: &[u8], content_type: &str) -> Value;
    /// `POST /v1/imports/{id}/cancel`.
    async fn cancel(&self, id: &str) -> Reply;
    /// The raw error report (`query` such as `?format=csv`), which must be readable.
    async fn report_text(&self, id: &str, query: &str) -> String;
    /// The NDJSON error report, one problem per line.
    async fn report(&self, id: &str) -> Vec<Value>;
    /// A JSON document at `path`, which must be readable.
    async fn read(&self, path: &str) -> Value;
    /// Creates a contact; returns its id.
    async fn contact(&self, body: Value) -> String;
    /// Declares an attribute.
    async fn define(&self, body: Value);
    /// Every live contact of the workspace, as the export gives them.
    async fn exported(&self) -> Vec<Value>;
}

impl ImportCalls for Api<'_> {
    async fn create(&self, body: &Value) -> Reply {
        self.post(IMPORTS, body.clone()).await
    }

    async fn created(&self, body: &Value) -> String {
        let r = self.create(body).await;
        assert_eq!(r.status, 201, "{body}: {}", r.body);
        let id = id_of(&r.body);
        assert!(uuid::Uuid::parse_str(&id).is_ok(), "{}", r.body);
        assert_eq!(r.header("location"), Some(import_path(&id).as_str()), "{}", r.body);
        assert_eq!(r.body["status"], "awaiting_file", "{}", r.body);
        assert_eq!(
            pick(&r.body, &json!({"kind": 0, "format": 0})),
            pick(body, &json!({"kind": 0, "format": 0}))
        );
        id
    }

    async fn upload(&self, id: &str, file: &[u8], content_type: &str) -> Reply {
        let r = self
            .0
            .req(Method::PUT, &format!("{}/file", import_path(id)), &self.1)
            .header("content-type", content_type)
            .body(file.to_vec());
        Reply::from(r.send().await.unwrap()).await
    }

    async fn uploaded(&self, id: &str, file: &[u8], content_type: &str) {
        let r = self.upload(id, file, content_type).await;
        assert_eq!(r.status, 202, "{}", r.body);
        assert_eq!(id_of(&r.body), id);
        assert!(rank(&r.body) >= 1, "{}", r.body);
    }

    async fn watch(&self, id: &str) -> (Value, Vec<Value>) {
        let deadline = Instant::now() + Duration::from_secs(60);
        let mut seen: Vec<Value> = Vec::new();
        loop {
            let r = self.get(&import_path(id)).await;
            assert_eq!(r.status, 200, "{}", r.body);
            let now = r.body;
            if let Some(before) = seen.last() {
                assert!(rank(before) <= rank(&now), "the status went back: {before} then {now}");
                for k in ["read", "created", "updated", "unchanged", "failed"] {
                    let (b, n) = (before["rows"][k].as_u64(), now["rows"][k].as_u64());
                    assert!(b <= n, "rows.{k} went back: {before} then {now}");
                }
            }
            let r = rows(&now);
            assert!(r[1] + r[2] + r[3] + r[4] <= r[0], "more processed than read: {now}");
            let done = matches!(now["status"].as_str(), Some("completed" | "failed" | "cancelled"));
            seen.push(now.clone());
            if done {
                return (now, seen);
            }
            assert!(Instant::now() < deadline, "import {id} did not end within 60 s: {now}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    async fn finish(&self, id: &str) -> Value {
        self.watch(id).await.0
    }

    async fn run(&self, body: &Value, file: &[u8], content_type: &str) -> Value {
        let id = self.created(body).await;
        self.uploaded(&id, file, content_type).await;
        let done = self.finish(&id).await;
        assert_eq!(done["file_bytes"], json!(file.len()), "{done}");
        assert_eq!(
            pick(&done, &json!({"kind": 0, "format": 0})),
            pick(body, &json!({"kind": 0, "format": 0}))
        );
        done
    }

    async fn cancel(&self, id: &str) -> Reply {
        self.send(Method::POST, &format!("{}/cancel", import_path(id)), None)
            .await
    }

    async fn report_text(&self, id: &str, query: &str) -> String {
        let path = format!("{}/errors{query}", import_path(id));
        let r = self.0.req(Method::GET, &path, &self.1).send().await.unwrap();
        assert_eq!(r.status(), 200, "{path}");
        r.text().await.unwrap()
    }

    async fn report(&self, id: &str) -> Vec<Value> {
        let text = self.report_text(id, "").await;
        let lines = text.lines().filter(|l| !l.trim().is_empty());
        lines
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l:?}")))
            .collect()
    }

    async fn read(&self, path: &str) -> Value {
        let r = self.get(path).await;
        assert_eq!(r.status, 200, "{path}: {}", r.body);
        r.body
    }

    async fn contact(&self, body: Value) -> String {
        let r = self.post("/v1/contacts", body).await;
        assert_eq!(r.status, 201, "{}", r.body);
        id_of(&r.body)
    }

    async fn define(&self, body: Value) {
        let r = self.post("/v1/attribute-definitions", body).await;
        assert_eq!(r.status, 201, "{}", r.body);
    }

    async fn exported(&self) -> Vec<Value> {
        let r = self
            .0
            .req(Method::GET, "/v1/exports/contacts", &self.1)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        let text = r.text().await.unwrap();
        text.lines().map(|l| serde_json::from_str(l).unwrap()).collect()
    }
}

/// The place of a status in the order an import goes through.
fn rank(import: &Value) -> u8 {
    match import["status"].as_str() {
        Some("awaiting_file") => 0,
        Some("queued") => 1,
        Some("running") => 2,
        Some("completed" | "failed" | "cancelled") => 3,
        _ => panic!("unknown status: {import}"),
    }
}

/// `rows` as `[read, created, updated, unchanged, failed]`.
fn rows(import: &Value) -> [u64; 5] {
    ["read", "created", "updated", "unchanged", "failed"].map(|k| {
        import["rows"][k]
            .as_u64()
            .unwrap_or_else(|| panic!("rows.{k} is not a count: {import}"))
    })
}

fn at(v: &Value) -> DateTime<Utc> {
    v.as_str()
        .unwrap_or_else(|| panic!("not a timestamp: {v}"))
        .parse()
        .unwrap()
}

/// Asserts a completed import without a job error, its clock in order.
#[track_caller]
fn completed(import: &Value) {
    assert_eq!(import["status"], "completed", "{import}");
    assert!(import["error"].is_null(), "{import}");
    let (created, started, finished) = (
        at(&import["created_at"]),
        at(&import["started_at"]),
        at(&import["finished_at"]),
    );
    assert!(created <= started && started <= finished, "{import}");
}

/// Asserts a job that failed as a whole with this code.
#[track_caller]
fn failed_with(import: &Value, code: &str) {
    assert_eq!(import["status"], "failed", "{import}");
    assert!(import["error"].is_object(), "a problem document: {import}");
    assert_eq!(import["error"]["code"], code, "{import}");
    assert!(import["finished_at"].is_string(), "{import}");
}

/// NDJSON of these lines (an empty string is a blank line), each ended by a line break.
fn ndjson(lines: &[String]) -> Vec<u8> {
    let mut text = lines.join("\n");
    text.push('\n');
    text.into_bytes()
}

/// Each value as one NDJSON line.
fn lines_of(values: &[Value]) -> Vec<String> {
    values.iter().map(Value::to_string).collect()
}

/// `v` with every number as a float, so that `3` and `3.0` compare equal.
fn norm(v: &Value) -> Value {
    match v {
        Value::Number(n) => json!(n.as_f64().unwrap()),
        Value::Object(m) => m.iter().map(|(k, x)| (k.clone(), norm(x))).collect(),
        Value::Array(a) => a.iter().map(norm).collect(),
        other => other.clone(),
    }
}

/// The (pointer, code) of each error of a problem, `prefix` taken off the pointers.
fn problem_errors(problem: &Value, prefix: &str) -> Vec<(String, String)> {
    let errors = problem["errors"]
        .as_array()
        .unwrap_or_else(|| panic!("no errors: {problem}"));
    errors
        .iter()
        .map(|e| {
            let p = e["pointer"].as_str().unwrap();
            let p = p.strip_prefix(prefix).unwrap_or_else(|| panic!("{p} outside {prefix}"));
            (p.to_owned(), e["code"].as_str().unwrap().to_owned())
        })
        .collect()
}

/// The errors the API answers for this contact (a batch item), which it refuses.
async fn contact_errors(api: &Api<'_>, item: &Value) -> Vec<(String, String)> {
    let r = api.post("/v1/contacts/batch", json!({ "items": [item] })).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let result = &r.body["results"][0];
    assert_eq!(result["status"], "failed", "{item} is meant to be refused: {result}");
    problem_errors(&result["error"], "/items/0")
}

/// The errors the API answers for this order, which it refuses.
async fn order_errors(api: &Api<'_>, body: &Value) -> Vec<(String, String)> {
    let r = api.post("/v1/orders", body.clone()).await;
    r.problem(422, "validation_failed");
    problem_errors(&r.body, "")
}

/// The errors the API answers for this company, which it refuses.
async fn company_errors(api: &Api<'_>, body: &Value) -> Vec<(String, String)> {
    let r = api.post("/v1/companies", body.clone()).await;
    r.problem(422, "validation_failed");
    problem_errors(&r.body, "")
}

/// The API's errors for one row as expected report lines.
fn at_row(row: u64, column: Option<&str>, errors: Vec<(String, String)>) -> Vec<Expected> {
    assert!(!errors.is_empty());
    errors
        .into_iter()
        .map(|(p, c)| (row, p, column.map(str::to_owned), Some(c)))
        .collect()
}

/// Asserts the NDJSON error report: these problems (sorted by row, then pointer), in row
/// order, each with a message; `column` absent when none is expected.
#[track_caller]
fn assert_report(report: &[Value], expected: &[Expected]) {
    let rows: Vec<u64> = report.iter().map(|e| e["row"].as_u64().unwrap()).collect();
    assert!(rows.windows(2).all(|w| w[0] <= w[1]), "not in row order: {report:?}");
    let mut got: Vec<&Value> = report.iter().collect();
    got.sort_by_key(|e| (e["row"].as_u64(), e["pointer"].as_str().map(str::to_owned)));
    let mut want = expected.to_vec();
    want.sort_by(|a, b| (a.0, &a.1).cmp(&(b.0, &b.1)));
    let seen: Vec<(u64, String)> = got
        .iter()
        .map(|e| {
            (
                e["row"].as_u64().unwrap(),
                e["pointer"].as_str().unwrap_or("?").to_owned(),
            )
        })
        .collect();
    let wanted: Vec<(u64, String)> = want.iter().map(|w| (w.0, w.1.clone())).collect();
    assert_eq!(seen, wanted, "rows and pointers of {report:?}");
    for (e, (_, _, column, code)) in got.iter().zip(&want) {
        match column {
            Some(c) => assert_eq!(e["column"], c.as_str(), "{e}"),
            None => assert!(e.get("column").is_none(), "no column for NDJSON: {e}"),
        }
        match code {
            Some(c) => assert_eq!(e["code"], c.as_str(), "{e}"),
            None => assert!(e["code"].as_str().is_some_and(|c| !c.is_empty()), "{e}"),
        }
        assert!(e["message"].as_str().is_some_and(|m| !m.is_empty()), "{e}");
    }
}

/// Asserts that the CSV report says what the NDJSON one says.
#[track_caller]
fn assert_same_report(ndjson: &[Value], csv: &[Vec<String>]) {
    assert_eq!(
        csv.first().map(Vec::as_slice),
        Some(&REPORT_HEADER.map(str::to_owned)[..]),
        "{csv:?}"
    );
    assert_eq!(csv.len(), ndjson.len() + 1, "{csv:?}");
    for (e, row) in ndjson.iter().zip(&csv[1..]) {
        let text = |k: &str| e[k].as_str().unwrap_or("").to_owned();
        let want = [
            e["row"].to_string(),
            text("pointer"),
            text("column"),
            text("code"),
            text("message"),
        ];
        assert_eq!(row.as_slice(), &want[..], "{e}");
    }
}

/// Parses RFC 4180 CSV (quoted cells with doubled quotes and line breaks).
fn parse_csv(text: &str) -> Vec<Vec<String>> {
    let mut rows = Vec::new();
    let mut row = Vec::new();
    let mut cell = String::new();
    let mut quoted = false;
    let mut chars = text.chars().peekable();
    while let Some(ch) = chars.next() {
        match (quoted, ch) {
            (true, '"') if chars.peek() == Some(&'"') => {
                cell.push('"');
                chars.next();
            }
            (true, '"') => quoted = false,
            (false, '"') => quoted = true,
            (false, ',') => row.push(std::mem::take(&mut cell)),
            (false, '\r') => {}
            (false, '\n') => {
                row.push(std::mem::take(&mut cell));
                rows.push(std::mem::take(&mut row));
            }
            (_, c) => cell.push(c),
        }
    }
    if !cell.is_empty() || !row.is_empty() {
        row.push(cell);
        rows.push(row);
    }
    rows
}

fn ndjson_of(kind: &str) -> Value {
    json!({"kind": kind, "format": "ndjson"})
}

async fn contacts_by_email(api: &Api<'_>, email: &str) -> Value {
    api.read(&format!("/v1/contacts/by-email/{email}")).await
}

async fn missing(api: &Api<'_>, path: &str) {
    api.get(path).await.problem(404, "not_found");
}

// ---------------------------------------------------------------------------------------
// Contacts

async fn ndjson_contacts_are_created_and_updated_with_every_field(s: Server) {
    let api = Api::admin(&s).await;
    api.define(json!({"key": "tier", "label": "Tier", "type": "string"}))
        .await;
    let pre = api
        .contact(json!({"email": "pre@example.com", "first_name": "Pre"}))
        .await;
    let lines = vec![
        json!({"email": "ada@example.com", "first_name": "Ada", "last_name": "Lovelace",
            "tags": ["VIP", "newsletter"], "external_ids": {"shop": "A-1"}, "attributes": {"tier": "gold"},
            "lead_score": 10, "lifecycle_stage": "lead"})
        .to_string(),
        String::new(),
        json!({"email": "bob@example.com", "phone": "+44 20 7946 0000", "country": "gb"}).to_string(),
        json!({"external_ids": {"shop": "C-3"}, "first_name": "Cy"}).to_string(),
        // Ada again, found by her external id.
        json!({"external_ids": {"shop": "A-1"}, "last_name": "Byron"}).to_string(),
        // What is already stored.
        json!({"email": "pre@example.com", "first_name": "Pre"}).to_string(),
    ];
    let import = api.run(&ndjson_of("contacts"), &ndjson(&lines), NDJSON).await;
    completed(&import);
    assert_eq!(rows(&import), [5, 3, 1, 1, 0], "the blank line is not a row: {import}");
    assert!(api.report(&id_of(&import)).await.is_empty());

    let ada = contacts_by_email(&api, "ada@example.com").await;
    let expected = json!({"first_name": "Ada", "last_name": "Byron", "tags": ["newsletter", "vip"],
        "external_ids": {"shop": "A-1"}, "attributes": {"tier": "gold"}, "lead_score": 10,
        "lifecycle_stage": "lead"});
    assert_eq!(pick(&ada, &expected), expected);
    let bob = contacts_by_email(&api, "bob@example.com").await;
    let expected = json!({"phone": "+442079460000", "country": "GB", "first_name": null, "tags": [],
        "lifecycle_stage": "subscriber"});
    assert_eq!(pick(&bob, &expected), expected);
    let cy = api.read("/v1/contacts/by-external-id/shop/C-3").await;
    let expected = json!({"first_name": "Cy", "email": null, "external_ids": {"shop": "C-3"}});
    assert_eq!(pick(&cy, &expected), expected);
    let unchanged = api.read(&format!("/v1/contacts/{pre}")).await;
    assert_eq!(unchanged["version"], 1, "{unchanged}");
    assert_eq!(api.exported().await.len(), 4);

    // Each imported contact has its `contact.created` event, with it as its object.
    for c in [&ada, &bob, &cy] {
        let created = events_about(&s, "contact.created", &id_of(c)).await;
        assert_eq!(created.len(), 1, "{c}");
        assert_eq!(created[0]["object"]["id"], c["id"]);
    }
    assert_eq!(s.events("contact.created").await.len(), 4);
    assert!(events_about(&s, "contact.updated", &pre).await.is_empty());
    assert!(!events_about(&s, "contact.updated", &id_of(&ada)).await.is_empty());
}

async fn csv_contacts_follow_the_mapping_quoting_separators_and_attribute_types(s: Server) {
    let api = Api::admin(&s).await;
    api.define(json!({"key": "score", "label": "Score", "type": "number"}))
        .await;
    api.define(json!({"key": "vip", "label": "VIP", "type": "boolean"}))
        .await;
    api.define(json!({"key": "since", "label": "Since", "type": "date"}))
        .await;
    let keeper = api
        .contact(json!({"first_name": "Old", "last_name": "Keep", "external_ids": {"shop": "S-9"}}))
        .await;
    let mapping = json!({"E-mail": "email", "Given name": "first_name", "Family name": "last_name",
        "Labels": "tags", "Score": "attributes.score", "VIP": "attributes.vip", "Since": "attributes.since",
        "Shop id": "external_ids.shop", "Lead": "lead_score", "Stage": "lifecycle_stage"});
    let body = json!({"kind": "contacts", "format": "csv", "mapping": mapping, "list_separator": ";"});
    // Columns in another order than the mapping's, one unmapped ("Notes") holding quoted
    // commas, doubled quotes and a line break.
    let file = concat!(
        "Notes,E-mail,Given name,Family name,Labels,Score,VIP,Since,Shop id,Lead,Stage\n",
        "\"first, with \"\"quotes\"\"\nand a second line\",ada@example.com,Ada,\"Lovelace, Countess\",",
        "VIP; Newsletter ,12.5,yes,2024-03-01,S-1,40,lead\n",
        ",bob@example.com,Bob,,b2b,3,no,,S-2,,\n",
        "x,cy@example.com,Cy,Young,,0,1,,,7,customer\n",
        "y,dee@example.com,Dee,,,-2,0,,S-4,,\n",
        "z,eve@example.com,Eve,,,,true,,,,\n",
        "w,fay@example.com,Fay,,,,false,,,,\n",
        ",,Keeper,,,,,,S-9,,\n",
    );
    let import = api.run(&body, file.as_bytes(), CSV).await;
    completed(&import);
    assert_eq!(rows(&import), [7, 6, 1, 0, 0], "{import}");
    assert_eq!(import["mapping"], mapping);
    assert_eq!(import["list_separator"], ";");
    assert!(api.report(&id_of(&import)).await.is_empty());
    let rows_csv = parse_csv(&api.report_text(&id_of(&import), "?format=csv").await);
    assert_same_report(&[], &rows_csv);

    let table = [
        (
            "ada",
            json!({"first_name": "Ada", "last_name": "Lovelace, Countess", "tags": ["newsletter", "vip"],
                "external_ids": {"shop": "S-1"}, "lead_score": 40, "lifecycle_stage": "lead"}),
            json!({"score": 12.5, "vip": true, "since": "2024-03-01"}),
        ),
        (
            "bob",
            json!({"first_name": "Bob", "last_name": null, "tags": ["b2b"], "external_ids": {"shop": "S-2"},
                "lead_score": 0, "lifecycle_stage": "subscriber"}),
            json!({"score": 3, "vip": false}),
        ),
        (
            "cy",
            json!({"first_name": "Cy", "last_name": "Young", "tags": [], "external_ids": {}, "lead_score": 7,
                "lifecycle_stage": "customer"}),
            json!({"score": 0, "vip": true}),
        ),
        (
            "dee",
            json!({"external_ids": {"shop": "S-4"}}),
            json!({"score": -2, "vip": false}),
        ),
        ("eve", json!({"first_name": "Eve"}), json!({"vip": true})),
        ("fay", json!({"first_name": "Fay"}), json!({"vip": false})),
    ];
    for (name, fields, attributes) in table {
        let c = contacts_by_email(&api, &format!("{name}@example.com")).await;
        assert_eq!(pick(&c, &fields), fields, "{name}");
        assert_eq!(norm(&c["attributes"]), norm(&attributes), "{name}: {c}");
        assert_eq!(events_about(&s, "contact.created", &id_of(&c)).await.len(), 1, "{name}");
    }
    // Found by its external id; the empty cells left its other fields as they were.
    let kept = api.read(&format!("/v1/contacts/{keeper}")).await;
    let expected = json!({"first_name": "Keeper", "last_name": "Keep", "email": null,
        "external_ids": {"shop": "S-9"}, "version": 2});
    assert_eq!(pick(&kept, &expected), expected);
    assert_eq!(events_about(&s, "contact.updated", &keeper).await.len(), 1);
    assert_eq!(api.exported().await.len(), 7);
}

async fn csv_contacts_with_a_custom_delimiter(s: Server) {
    let api = Api::admin(&s).await;
    let mapping = json!({"Mail": "email", "Name": "first_name", "Tags": "tags", "Id": "external_ids.crm"});
    let body = json!({"kind": "contacts", "format": "csv", "mapping": mapping, "delimiter": ";",
        "list_separator": "|"});
    let file = concat!(
        "Mail;Name;Tags;Id;Notes\r\n",
        "dia@example.com;Dia, the first;a|b| c ;D-1;x\r\n",
        "\"eve@example.com\";\"Eve; Evening\";x;E-2;\"two\r\nlines\"\r\n",
    );
    let import = api.run(&body, file.as_bytes(), "text/csv; charset=utf-8").await;
    completed(&import);
    assert_eq!(rows(&import), [2, 2, 0, 0, 0], "{import}");
    assert_eq!(
        pick(&import, &json!({"mapping": 0, "delimiter": 0, "list_separator": 0})),
        json!({"mapping": mapping, "delimiter": ";", "list_separator": "|"})
    );
    let dia = contacts_by_email(&api, "dia@example.com").await;
    let expected = json!({"first_name": "Dia, the first", "tags": ["a", "b", "c"], "external_ids": {"crm": "D-1"}});
    assert_eq!(pick(&dia, &expected), expected);
    let eve = contacts_by_email(&api, "eve@example.com").await;
    let expected = json!({"first_name": "Eve; Evening", "tags": ["x"], "external_ids": {"crm": "E-2"}});
    assert_eq!(pick(&eve, &expected), expected);
}

async fn bad_ndjson_rows_fail_alone_and_are_reported(s: Server) {
    let api = Api::admin(&s).await;
    let bad_email = json!({"email": "not-an-email"});
    let bad_stage = json!({"email": "x@example.com", "lifecycle_stage": "nope"});
    let bad_score = json!({"email": "y@example.com", "lead_score": "ten"});
    let lines = vec![
        json!({"email": "good1@example.com", "first_name": "One"}).to_string(),
        bad_email.to_string(),
        bad_stage.to_string(),
        r#"{"email": "broken@example.com""#.to_owned(),
        String::new(),
        bad_score.to_string(),
        json!({"email": "good2@example.com"}).to_string(),
    ];
    let import = api.run(&ndjson_of("contacts"), &ndjson(&lines), NDJSON).await;
    completed(&import);
    assert_eq!(rows(&import), [6, 2, 0, 0, 4], "{import}");
    let id = id_of(&import);
    let mut expected = at_row(2, None, contact_errors(&api, &bad_email).await);
    expected.extend(at_row(3, None, contact_errors(&api, &bad_stage).await));
    expected.push((4, String::new(), None, Some("malformed_json".to_owned())));
    expected.extend(at_row(6, None, contact_errors(&api, &bad_score).await));
    let report = api.report(&id).await;
    assert_report(&report, &expected);
    assert_eq!(
        api.report_text(&id, "?format=ndjson").await,
        api.report_text(&id, "").await
    );
    assert_same_report(&report, &parse_csv(&api.report_text(&id, "?format=csv").await));

    assert_eq!(contacts_by_email(&api, "good1@example.com").await["first_name"], "One");
    contacts_by_email(&api, "good2@example.com").await;
    for email in ["x@example.com", "y@example.com", "broken@example.com"] {
        missing(&api, &format!("/v1/contacts/by-email/{email}")).await;
    }
    assert_eq!(api.exported().await.len(), 2);
}

async fn bad_csv_rows_fail_alone_and_are_reported_with_their_column(s: Server) {
    let api = Api::admin(&s).await;
    api.define(json!({"key": "score", "label": "Score", "type": "number"}))
        .await;
    api.define(json!({"key": "vip", "label": "VIP", "type": "boolean"}))
        .await;
    let mapping = json!({"E-mail": "email", "Stage": "lifecycle_stage", "Lead": "lead_score",
        "Score": "attributes.score", "VIP": "attributes.vip"});
    let body = json!({"kind": "contacts", "format": "csv", "mapping": mapping});
    // Row 1 spans three lines: rows are counted as data rows, not lines.
    let file = concat!(
        "E-mail,Notes,Stage,Lead,Score,VIP\n",
        "good1@example.com,\"a note\nover three\nlines\",lead,5,1.5,yes\n",
        "not-an-email,,,,,\n",
        "b@example.com,,nope,,,\n",
        "c@example.com,,,ten,,\n",
        "d@example.com,,,,abc,\n",
        "e@example.com,,,,,maybe\n",
        "good2@example.com,,,,,\n",
    );
    let import = api.run(&body, file.as_bytes(), CSV).await;
    completed(&import);
    assert_eq!(rows(&import), [7, 2, 0, 0, 5], "{import}");
    let id = id_of(&import);
    let email = contact_errors(&api, &json!({"email": "not-an-email"})).await;
    let stage = contact_errors(&api, &json!({"email": "b@example.com", "lifecycle_stage": "nope"})).await;
    let mut expected = at_row(2, Some("E-mail"), email);
    expected.extend(at_row(3, Some("Stage"), stage));
    for (row, pointer, column) in [
        (4, "/lead_score", "Lead"),
        (5, "/attributes/score", "Score"),
        (6, "/attributes/vip", "VIP"),
    ] {
        expected.push((row, pointer.to_owned(), Some(column.to_owned()), None));
    }
    let report = api.report(&id).await;
    assert_report(&report, &expected);
    assert_same_report(&report, &parse_csv(&api.report_text(&id, "?format=csv").await));

    let good = contacts_by_email(&api, "good1@example.com").await;
    let fields = json!({"lifecycle_stage": "lead", "lead_score": 5});
    assert_eq!(pick(&good, &fields), fields);
    assert_eq!(norm(&good["attributes"]), norm(&json!({"score": 1.5, "vip": true})));
    contacts_by_email(&api, "good2@example.com").await;
    for name in ["b", "c", "d", "e"] {
        missing(&api, &format!("/v1/contacts/by-email/{name}@example.com")).await;
    }
    assert_eq!(api.exported().await.len(), 2);
}

async fn running_the_same_file_again_changes_nothing(s: Server) {
    let api = Api::admin(&s).await;
    api.contact(json!({"email": "old@example.com", "first_name": "Old"}))
        .await;
    let body = json!({"kind": "contacts", "format": "csv", "list_separator": "|",
        "mapping": {"Email": "email", "First": "first_name", "Tags": "tags"}});
    let file = concat!(
        "Email,First,Tags\n",
        "a@example.com,A,x|y\n",
        "b@example.com,B,\n",
        "old@example.com,Older,\n",
        "bad-email,Bad,\n",
        "c@example.com,,z\n",
    );
    let first = api.run(&body, file.as_bytes(), CSV).await;
    completed(&first);
    assert_eq!(rows(&first), [5, 3, 1, 0, 1], "{first}");
    let contacts = api.exported().await;
    let events = (
        s.events("contact.created").await.len(),
        s.events("contact.updated").await.len(),
    );
    let again = api.run(&body, file.as_bytes(), CSV).await;
    completed(&again);
    assert_ne!(id_of(&again), id_of(&first), "a new import");
    assert_eq!(rows(&again), [5, 0, 0, 4, 1], "{again}");
    assert_eq!(api.exported().await, contacts, "every contact as it was");
    let after = (
        s.events("contact.created").await.len(),
        s.events("contact.updated").await.len(),
    );
    assert_eq!(after, events, "no event");
    let report = api.report(&id_of(&again)).await;
    assert_eq!(report.len(), 1, "{report:?}");
    assert_eq!(
        (&report[0]["row"], &report[0]["pointer"]),
        (&json!(4), &json!("/email"))
    );

    // The same holds for NDJSON.
    let lines = lines_of(&[
        json!({"email": "n@example.com", "tags": ["t"]}),
        json!({"email": "a@example.com"}),
    ]);
    let first = api.run(&ndjson_of("contacts"), &ndjson(&lines), NDJSON).await;
    assert_eq!(rows(&first), [2, 1, 0, 1, 0], "{first}");
    let again = api.run(&ndjson_of("contacts"), &ndjson(&lines), NDJSON).await;
    assert_eq!(rows(&again), [2, 0, 0, 2, 0], "{again}");
}

// ---------------------------------------------------------------------------------------
// Companies

async fn companies_are_upserted_by_domain(s: Server) {
    let api = Api::admin(&s).await;
    api.define(json!({"entity": "company", "key": "tier", "label": "Tier", "type": "string"}))
        .await;
    let beta = api
        .post("/v1/companies", json!({"name": "Beta", "domain": "beta.example"}))
        .await;
    assert_eq!(beta.status, 201, "{}", beta.body);
    let beta = id_of(&beta.body);
    let gamma = api
        .post("/v1/companies", json!({"name": "Gamma", "domain": "gamma.example"}))
        .await;
    let gamma = id_of(&gamma.body);
    let bad = json!({"name": "Bad", "domain": "not a domain"});
    let lines = lines_of(&[
        json!({"name": "Acme", "domain": "https://www.Acme.example/about", "industry": "Retail", "size": 40}),
        json!({"name": "Beta Ltd", "domain": "BETA.example", "industry": "Software"}),
        json!({"name": "Gamma", "domain": "gamma.example"}),
        bad.clone(),
    ]);
    let import = api.run(&ndjson_of("companies"), &ndjson(&lines), NDJSON).await;
    completed(&import);
    assert_eq!(rows(&import), [4, 1, 1, 1, 1], "{import}");
    assert_report(
        &api.report(&id_of(&import)).await,
        &at_row(4, None, company_errors(&api, &bad).await),
    );

    let acme = api.read("/v1/companies?domain=acme.example").await;
    let acme = acme["data"].as_array().unwrap();
    assert_eq!(acme.len(), 1, "{acme:?}");
    let expected = json!({"name": "Acme", "domain": "acme.example", "industry": "Retail", "size": 40, "version": 1});
    assert_eq!(pick(&acme[0], &expected), expected);
    let acme_id = id_of(&acme[0]);
    assert_eq!(events_about(&s, "company.created", &acme_id).await.len(), 1);
    let b = api.read(&format!("/v1/companies/{beta}")).await;
    let expected = json!({"name": "Beta Ltd", "domain": "beta.example", "industry": "Software", "version": 2});
    assert_eq!(pick(&b, &expected), expected);
    assert_eq!(api.read(&format!("/v1/companies/{gamma}")).await["version"], 1);
    assert!(events_about(&s, "company.updated", &gamma).await.is_empty());

    // CSV, with a company attribute and an empty cell that leaves the size as it was.
    let mapping = json!({"Company": "name", "Website": "domain", "Employees": "size", "Tier": "attributes.tier"});
    let body = json!({"kind": "companies", "format": "csv", "mapping": mapping});
    let file = concat!(
        "Company,Website,Employees,Tier\n",
        "Delta,delta.example,12,gold\n",
        "Acme Corp,acme.example,,\n",
        "Epsilon,epsilon.example,many,\n",
    );
    let import = api.run(&body, file.as_bytes(), CSV).await;
    completed(&import);
    assert_eq!(rows(&import), [3, 1, 1, 0, 1], "{import}");
    let expected = vec![(3, "/size".to_owned(), Some("Employees".to_owned()), None)];
    assert_report(&api.report(&id_of(&import)).await, &expected);
    let delta = api.read("/v1/companies?domain=delta.example").await;
    let expected = json!({"name": "Delta", "size": 12, "attributes": {"tier": "gold"}});
    assert_eq!(pick(&delta["data"][0], &expected), expected);
    let acme = api.read(&format!("/v1/companies/{acme_id}")).await;
    let expected = json!({"name": "Acme Corp", "size": 40, "industry": "Retail", "version": 2});
    assert_eq!(pick(&acme, &expected), expected);
    assert_eq!(
        api.read("/v1/companies?domain=epsilon.example").await["data"],
        json!([])
    );
}

// ---------------------------------------------------------------------------------------
// Orders

/// The fields of an order that two workspaces given the same orders agree on.
fn order_fields(o: &Value) -> Value {
    let keys = json!({"source": 0, "external_id": 0, "status": 0, "currency": 0, "placed_at": 0, "lines": 0,
        "subtotal": 0, "discount_codes": 0, "discount_total": 0, "tax": 0, "shipping": 0, "total": 0,
        "refunded_total": 0, "net_total": 0, "counts_as_purchase": 0, "version": 0});
    pick(o, &keys)
}

/// `GET /v1/contacts/{id}/metrics` of this contact.
async fn metrics(api: &Api<'_>, contact: &Value) -> Value {
    api.read(&format!("/v1/contacts/{}/metrics", id_of(contact))).await
}

/// Asserts that an order and a customer read the same in both workspaces.
async fn same_as_reference(api: &Api<'_>, reference: &Api<'_>, order: &str, email: &str) {
    let path = format!("/v1/orders/by-external-id/shop/{order}");
    let (mine, theirs) = (api.read(&path).await, reference.read(&path).await);
    assert_eq!(order_fields(&mine), order_fields(&theirs));
    let (mine, theirs) = (
        contacts_by_email(api, email).await,
        contacts_by_email(reference, email).await,
    );
    assert_eq!(mine["id"], api.read(&path).await["contact_id"], "the order's customer");
    let fields = json!({"first_name": 0, "lifecycle_stage": 0, "highest_stage": 0});
    assert_eq!(pick(&mine, &fields), pick(&theirs, &fields));
    assert_eq!(metrics(api, &mine).await, metrics(reference, &theirs).await, "{email}");
}

async fn ndjson_orders_are_upserted_and_make_the_same_metrics(s: Server) {
    let api = Api::admin(&s).await;
    let (_, other) = s.other_workspace().await;
    let reference = Api(&s, other);
    let one = json!({"source": "shop", "external_id": "o-1", "customer": {"email": "ana@example.com",
        "first_name": "Ana"}, "status": "paid", "currency": "EUR", "placed_at": "2026-11-01T10:00:00Z",
        "lines": [{"sku": "M", "name": "Mug", "quantity": 1, "unit_price": 1250}]});
    let two = json!({"source": "shop", "external_id": "o-2", "customer": {"email": "ana@example.com"},
        "status": "paid", "currency": "EUR", "placed_at": "2026-11-03T10:00:00Z",
        "lines": [{"name": "Tea", "quantity": 2, "unit_price": 450}, {"name": "Pot", "quantity": 1, "unit_price": 3000}],
        "discount_codes": ["welcome10"], "discount_total": 300, "shipping": 495});
    let bad = json!({"source": "shop", "external_id": "o-3", "customer": {"email": "zed@example.com"},
        "status": "paid", "currency": "XYZ", "placed_at": "2026-11-04T10:00:00Z",
        "lines": [{"name": "Mug", "quantity": 1, "unit_price": 1250}]});
    let mut one_fulfilled = one.clone();
    one_fulfilled["status"] = json!("fulfilled");
    let lines = vec![
        one.to_string(),
        String::new(),
        two.to_string(),
        bad.to_string(),
        one_fulfilled.to_string(),
    ];
    let import = api.run(&ndjson_of("orders"), &ndjson(&lines), NDJSON).await;
    completed(&import);
    assert_eq!(rows(&import), [4, 2, 1, 0, 1], "{import}");
    let expected = at_row(4, None, order_errors(&api, &bad).await);
    assert_report(&api.report(&id_of(&import)).await, &expected);
    missing(&api, "/v1/orders/by-external-id/shop/o-3").await;
    missing(&api, "/v1/contacts/by-email/zed@example.com").await;

    for body in [&one, &two, &one_fulfilled] {
        let r = reference.post("/v1/orders", body.clone()).await;
        assert!(r.status.is_success(), "{}", r.body);
    }
    same_as_reference(&api, &reference, "o-1", "ana@example.com").await;
    same_as_reference(&api, &reference, "o-2", "ana@example.com").await;
    let ana = contacts_by_email(&api, "ana@example.com").await;
    let m = metrics(&api, &ana).await;
    assert_eq!(m["order_count"], 2, "{m}");
    let eur = &m["by_currency"][0];
    assert_eq!(
        (&eur["currency"], &eur["total_spent"]),
        (&json!("EUR"), &json!(1250 + 3900 - 300 + 495))
    );
    assert_eq!(ana["lifecycle_stage"], "repeat_customer");
    let o1 = api.read("/v1/orders/by-external-id/shop/o-1").await;
    assert_eq!(events_about(&s, "order.created", &id_of(&o1)).await.len(), 1);
    assert_eq!(events_about(&s, "order.updated", &id_of(&o1)).await.len(), 1);

    // The orders as they now stand, sent again, are unchanged.
    let lines = lines_of(&[two, one_fulfilled, bad]);
    let again = api.run(&ndjson_of("orders"), &ndjson(&lines), NDJSON).await;
    completed(&again);
    assert_eq!(rows(&again), [3, 0, 0, 2, 1], "{again}");
}

async fn csv_orders_group_consecutive_rows_into_lines(s: Server) {
    let api = Api::admin(&s).await;
    let (_, other) = s.other_workspace().await;
    let reference = Api(&s, other);
    let mapping = json!({"Source": "source", "Order": "external_id", "Status": "status", "Currency": "currency",
        "Placed": "placed_at", "Shipping": "shipping", "Codes": "discount_codes", "Email": "customer.email",
        "First": "customer.first_name", "SKU": "lines.sku", "Item": "lines.name", "Qty": "lines.quantity",
        "Price": "lines.unit_price"});
    let body = json!({"kind": "orders", "format": "csv", "mapping": mapping, "list_separator": ";"});
    // Order 1001's second row says other things in the order's columns: only its line
    // counts. Order 1004's second line is invalid: the order fails, at its first row.
    let file = concat!(
        "Source,Order,Status,Currency,Placed,Shipping,Codes,Email,First,SKU,Item,Qty,Price\n",
        "shop,1001,paid,EUR,2026-11-01T10:00:00Z,495,WELCOME10;spring,ana@example.com,Ana,TS-M,T-shirt M,2,1999\n",
        "shop,1001,refunded,USD,2026-01-01T00:00:00Z,0,,zed@example.com,Zed,SOCK,Socks,3,450\n",
        "shop,1002,paid,EUR,2026-11-05T10:00:00Z,,,ana@example.com,,MUG,Mug,1,1250\n",
        "shop,1003,cancelled,EUR,2026-11-06T10:00:00Z,,,bob@example.com,Bob,,Gift card,1,5000\n",
        "shop,1004,paid,EUR,2026-11-07T10:00:00Z,,,cat@example.com,Cat,A,Pen,1,300\n",
        "shop,1004,,,,,,,,B,Ink,0,100\n",
        "shop,1005,fulfilled,GBP,2026-11-08T10:00:00Z,,,ana@example.com,,,Tea,4,250\n",
    );
    let import = api.run(&body, file.as_bytes(), CSV).await;
    completed(&import);
    assert_eq!(rows(&import), [7, 4, 0, 0, 1], "7 rows, 5 orders: {import}");

    let placed = |d: &str| format!("2026-11-{d}T10:00:00Z");
    let equivalent = [
        json!({"source": "shop", "external_id": "1001", "status": "paid", "currency": "EUR", "placed_at": placed("01"),
            "shipping": 495, "discount_codes": ["WELCOME10", "spring"],
            "customer": {"email": "ana@example.com", "first_name": "Ana"},
            "lines": [{"sku": "TS-M", "name": "T-shirt M", "quantity": 2, "unit_price": 1999},
                      {"sku": "SOCK", "name": "Socks", "quantity": 3, "unit_price": 450}]}),
        json!({"source": "shop", "external_id": "1002", "status": "paid", "currency": "EUR", "placed_at": placed("05"),
            "customer": {"email": "ana@example.com"},
            "lines": [{"sku": "MUG", "name": "Mug", "quantity": 1, "unit_price": 1250}]}),
        json!({"source": "shop", "external_id": "1003", "status": "cancelled", "currency": "EUR",
            "placed_at": placed("06"), "customer": {"email": "bob@example.com", "first_name": "Bob"},
            "lines": [{"name": "Gift card", "quantity": 1, "unit_price": 5000}]}),
        json!({"source": "shop", "external_id": "1005", "status": "fulfilled", "currency": "GBP",
            "placed_at": placed("08"), "customer": {"email": "ana@example.com"},
            "lines": [{"name": "Tea", "quantity": 4, "unit_price": 250}]}),
    ];
    for o in &equivalent {
        let r = reference.post("/v1/orders", o.clone()).await;
        assert_eq!(r.status, 201, "{}", r.body);
    }
    let invalid = json!({"source": "shop", "external_id": "1004", "status": "paid", "currency": "EUR",
        "placed_at": placed("07"), "customer": {"email": "cat@example.com", "first_name": "Cat"},
        "lines": [{"sku": "A", "name": "Pen", "quantity": 1, "unit_price": 300},
                  {"sku": "B", "name": "Ink", "quantity": 0, "unit_price": 100}]});
    let expected = at_row(5, Some("Qty"), order_errors(&reference, &invalid).await);
    assert_report(&api.report(&id_of(&import)).await, &expected);

    for (order, email) in [
        ("1001", "ana@example.com"),
        ("1002", "ana@example.com"),
        ("1003", "bob@example.com"),
        ("1005", "ana@example.com"),
    ] {
        same_as_reference(&api, &reference, order, email).await;
    }
    let o = api.read("/v1/orders/by-external-id/shop/1001").await;
    let expected = json!({"status": "paid", "currency": "EUR", "subtotal": 5348, "total": 5843,
        "discount_codes": ["WELCOME10", "SPRING"]});
    assert_eq!(pick(&o, &expected), expected);
    assert_eq!(o["lines"].as_array().unwrap().len(), 2, "{o}");
    let ana = contacts_by_email(&api, "ana@example.com").await;
    let m = metrics(&api, &ana).await;
    assert_eq!(m["order_count"], 3, "{m}");
    let spent: Vec<(Value, Value)> = m["by_currency"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| (c["currency"].clone(), c["total_spent"].clone()))
        .collect();
    assert!(spent.contains(&(json!("EUR"), json!(5843 + 1250))), "{m}");
    assert!(spent.contains(&(json!("GBP"), json!(1000))), "{m}");
    let bob = contacts_by_email(&api, "bob@example.com").await;
    assert_eq!(metrics(&api, &bob).await["order_count"], 0);
    for nobody in ["zed@example.com", "cat@example.com"] {
        missing(&api, &format!("/v1/contacts/by-email/{nobody}")).await;
    }
    missing(&api, "/v1/orders/by-external-id/shop/1004").await;

    let again = api.run(&body, file.as_bytes(), CSV).await;
    completed(&again);
    assert_eq!(rows(&again), [7, 0, 0, 4, 1], "{again}");
    assert_eq!(api.read("/v1/orders/by-external-id/shop/1001").await["version"], 1);
}

// ---------------------------------------------------------------------------------------
// Jobs

/// Runs these imports, each of which must fail as a whole with `code`, and cannot be
/// cancelled afterwards.
async fn fails_whole(api: &Api<'_>, cases: &[(Value, &[u8])], code: &str) {
    for (body, file) in cases {
        let import = api.run(body, file, CSV).await;
        failed_with(&import, code);
        api.cancel(&id_of(&import)).await.problem(409, "import_finished");
    }
}

fn csv_contacts(mapping: &Value) -> Value {
    json!({"kind": "contacts", "format": "csv", "mapping": mapping})
}

async fn a_mapped_header_missing_from_the_file_fails_the_job(s: Server) {
    let api = Api::admin(&s).await;
    let body = csv_contacts(&json!({"Email": "email", "Phone": "phone"}));
    let file: &[u8] = b"Email,Name\na@example.com,A\n";
    fails_whole(&api, &[(body, file)], "csv_header_missing").await;
}

async fn unbalanced_quotes_fail_the_job(s: Server) {
    let api = Api::admin(&s).await;
    let body = csv_contacts(&json!({"Email": "email", "Name": "first_name"}));
    let file: &[u8] = b"Email,Name\nok@example.com,Ok\n\"broken@example.com,Broken\n";
    fails_whole(&api, &[(body, file)], "invalid_csv").await;
}

async fn bytes_that_are_not_utf8_fail_the_job(s: Server) {
    let api = Api::admin(&s).await;
    let cases: [(Value, &[u8]); 2] = [
        (
            csv_contacts(&json!({"Email": "email", "Name": "first_name"})),
            b"Email,Name\nlatin@example.com,Jos\xe9\n",
        ),
        (
            ndjson_of("contacts"),
            b"{\"email\": \"l2@example.com\", \"first_name\": \"Jos\xe9\"}\n",
        ),
    ];
    fails_whole(&api, &cases, "invalid_encoding").await;
    for email in ["latin@example.com", "l2@example.com"] {
        missing(&api, &format!("/v1/contacts/by-email/{email}")).await;
    }
}

async fn creation_is_validated_with_pointers(s: Server) {
    let api = Api::admin(&s).await;
    let csv = |mapping: Value| json!({"kind": "contacts", "format": "csv", "mapping": mapping});
    let with = |mut body: Value, k: &str, v: Value| {
        body[k] = v;
        body
    };
    let email = json!({"Email": "email"});
    let cases = [
        (json!({"kind": "deals", "format": "ndjson"}), "/kind invalid_value"),
        (json!({"kind": "contacts", "format": "xml"}), "/format invalid_value"),
        (json!({"kind": "contacts", "format": "csv"}), "/mapping required"),
        (
            with(ndjson_of("contacts"), "mapping", email.clone()),
            "/mapping not_allowed",
        ),
        (
            csv(json!({"Email": "email", "Nick": "nickname"})),
            "/mapping/Nick unknown_field",
        ),
        (
            json!({"kind": "companies", "format": "csv", "mapping": {"Name": "name", "Stage": "lifecycle_stage"}}),
            "/mapping/Stage unknown_field",
        ),
        (
            json!({"kind": "orders", "format": "csv", "mapping": {"Email": "email"}}),
            "/mapping/Email unknown_field",
        ),
        (
            csv(json!({"Email": "email", "Mail": "email"})),
            "/mapping invalid_value",
        ),
        (
            with(csv(email.clone()), "delimiter", json!(";;")),
            "/delimiter invalid_value",
        ),
        (
            with(csv(email.clone()), "delimiter", json!("")),
            "/delimiter invalid_value",
        ),
        (
            with(csv(email.clone()), "delimiter", json!("§")),
            "/delimiter invalid_value",
        ),
    ];
    for (body, error) in cases {
        let r = api.create(&body).await;
        r.problem(422, "validation_failed");
        let errors: Vec<String> = problem_errors(&r.body, "")
            .into_iter()
            .map(|(p, c)| format!("{p} {c}"))
            .collect();
        assert_eq!(errors, [error], "{body}: {}", r.body);
    }
    assert_eq!(api.read(IMPORTS).await["data"], json!([]), "nothing created");

    // Every field path of each kind is a mapping target.
    api.define(json!({"key": "tier", "label": "Tier", "type": "string"}))
        .await;
    api.define(json!({"entity": "company", "key": "region", "label": "Region", "type": "string"}))
        .await;
    let targets = [
        (
            "contacts",
            "email phone first_name last_name locale country company_id owner_id lead_score lifecycle_stage tags \
             attributes.tier external_ids.shop",
        ),
        ("companies", "name domain industry size attributes.region"),
        (
            "orders",
            "source external_id status currency placed_at subtotal discount_total tax shipping total refunded_total \
             discount_codes customer.email customer.external_id customer.contact_id customer.first_name \
             customer.last_name customer.phone lines.sku lines.name lines.quantity lines.unit_price",
        ),
    ];
    for (kind, fields) in targets {
        let mapping: serde_json::Map<String, Value> = fields
            .split_whitespace()
            .map(|f| (format!("Col {f}"), json!(f)))
            .collect();
        let body = json!({"kind": kind, "format": "csv", "mapping": mapping, "delimiter": "\t",
            "list_separator": "|"});
        let id = api.created(&body).await;
        let read = api.read(&import_path(&id)).await;
        let expected = json!({"mapping": mapping, "delimiter": "\t", "list_separator": "|",
            "status": "awaiting_file"});
        assert_eq!(pick(&read, &expected), expected);
    }
}

async fn a_file_is_received_once_and_a_finished_import_cannot_be_cancelled(s: Server) {
    let api = Api::admin(&s).await;
    let id = api.created(&ndjson_of("contacts")).await;
    let first = ndjson(&lines_of(&[
        json!({"email": "one@example.com"}),
        json!({"email": "two@example.com"}),
    ]));
    let second = ndjson(&lines_of(&[json!({"email": "three@example.com"})]));
    let r = api.upload(&id, &first, "application/octet-stream").await;
    assert_eq!(r.status, 202, "{}", r.body);
    assert_eq!(r.body["status"], "queued", "the answer to an upload: {}", r.body);
    api.upload(&id, &second, NDJSON)
        .await
        .problem(409, "import_file_received");
    let done = api.finish(&id).await;
    completed(&done);
    assert_eq!(rows(&done), [2, 2, 0, 0, 0], "{done}");
    assert_eq!(done["file_bytes"], json!(first.len()));
    api.upload(&id, &second, NDJSON)
        .await
        .problem(409, "import_file_received");
    api.cancel(&id).await.problem(409, "import_finished");
    let still = api.read(&import_path(&id)).await;
    assert_eq!(
        pick(&still, &json!({"status": 0, "rows": 0})),
        pick(&done, &json!({"status": 0, "rows": 0}))
    );
    missing(&api, "/v1/contacts/by-email/three@example.com").await;
    missing(&api, &import_path(NOWHERE)).await;
}

async fn uploads_are_limited_by_the_configured_size(db: TestDb) {
    let s = Server::start_on(db, &[("RAPPORT_IMPORT_MAX_BYTES", "64")]).await;
    let api = Api::admin(&s).await;
    // A line of exactly `len` bytes, its line break included.
    let sized = |len: usize| {
        let head = r#"{"email": "a@example.com""#;
        let line = format!("{head}{}}}\n", " ".repeat(len - head.len() - 2));
        assert_eq!(line.len(), len);
        line.into_bytes()
    };
    let too_big = api.created(&ndjson_of("contacts")).await;
    api.upload(&too_big, &sized(65), NDJSON)
        .await
        .problem(413, "payload_too_large");
    let at_limit = api.created(&ndjson_of("contacts")).await;
    api.uploaded(&at_limit, &sized(64), NDJSON).await;
    let done = api.finish(&at_limit).await;
    completed(&done);
    assert_eq!((rows(&done), &done["file_bytes"]), ([1, 1, 0, 0, 0], &json!(64)));
}

async fn a_record_may_be_as_large_as_a_request_body_and_no_larger(db: TestDb) {
    let s = Server::start_on(db, &[("RAPPORT_MAX_BODY_BYTES", "2048")]).await;
    let api = Api::admin(&s).await;
    // A contact line of exactly `len` bytes (padded with blanks), its line break not
    // included.
    let sized = |email: &str, len: usize| {
        let head = format!(r#"{{"email": "{email}""#);
        let line = format!("{head}{}}}", " ".repeat(len - head.len() - 1));
        assert_eq!(line.len(), len);
        line
    };
    let lines = [
        sized("fits@example.com", 2048),
        sized("over@example.com", 2049),
        json!({"email": "after@example.com"}).to_string(),
        sized("huge@example.com", 50_000),
    ];
    let import = api.run(&ndjson_of("contacts"), &ndjson(&lines), NDJSON).await;
    completed(&import);
    assert_eq!(rows(&import), [4, 2, 0, 0, 2], "{import}");
    let too_large = |row| (row, String::new(), None, Some("record_too_large".to_owned()));
    assert_report(&api.report(&id_of(&import)).await, &[too_large(2), too_large(4)]);
    contacts_by_email(&api, "fits@example.com").await;
    contacts_by_email(&api, "after@example.com").await;
    missing(&api, "/v1/contacts/by-email/over@example.com").await;
    // The last line, without a line break, is measured all the same.
    let last = sized("last@example.com", 2049).into_bytes();
    let import = api.run(&ndjson_of("contacts"), &last, NDJSON).await;
    assert_eq!(rows(&import), [1, 0, 0, 0, 1], "{import}");

    // CSV: the rows before an oversized one are applied, then the job fails.
    let body = csv_contacts(&json!({"Email": "email", "Name": "first_name"}));
    let mut file = b"Email,Name\ncsv1@example.com,One\ncsv2@example.com,\"".to_vec();
    file.extend(std::iter::repeat_n(b'y', 3000));
    file.extend(b"\"\ncsv3@example.com,Three\n");
    let import = api.run(&body, &file, CSV).await;
    failed_with(&import, "record_too_large");
    assert!(
        import["error"]["detail"].as_str().is_some_and(|d| d.contains("row 2")),
        "{import}"
    );
    contacts_by_email(&api, "csv1@example.com").await;
    for email in ["csv2@example.com", "csv3@example.com"] {
        missing(&api, &format!("/v1/contacts/by-email/{email}")).await;
    }
}

async fn a_running_import_is_cancelled_after_its_current_batch(s: Server) {
    let api = Api::admin(&s).await;
    let total: u64 = 10_000;
    let lines: Vec<String> = (0..total)
        .map(|i| json!({"email": format!("c{i:05}@example.com"), "first_name": format!("C{i}")}).to_string())
        .collect();
    let id = api.created(&ndjson_of("contacts")).await;
    api.uploaded(&id, &ndjson(&lines), NDJSON).await;
    let r = api.cancel(&id).await;
    let done = api.finish(&id).await;
    if r.status == 409 {
        // It had already ended: only then may a cancellation be refused.
        r.problem(409, "import_finished");
        completed(&done);
        assert_eq!(rows(&done), [total, total, 0, 0, 0]);
        eprintln!("the import ended before it could be cancelled: {done}");
        return;
    }
    assert!(r.status.is_success(), "{}", r.body);
    assert_eq!(done["status"], "cancelled", "{done}");
    assert!(done["finished_at"].is_string(), "{done}");
    let counts = rows(&done);
    assert!(counts[1] < total, "it stopped before the end: {done}");
    assert_eq!(counts[2..], [0, 0, 0], "{done}");
    // Nothing moves afterwards, and what was applied stays applied.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let later = api.read(&import_path(&id)).await;
    assert_eq!(later["status"], "cancelled");
    assert_eq!(rows(&later), counts, "{later}");
    assert_eq!(api.exported().await.len(), usize::try_from(counts[1]).unwrap());
    api.cancel(&id).await.problem(409, "import_finished");
    api.upload(&id, b"{}\n", NDJSON)
        .await
        .problem(409, "import_file_received");
}

async fn imports_are_listed_newest_first_in_pages(s: Server) {
    let api = Api::admin(&s).await;
    let (_, other) = s.other_workspace().await;
    let theirs = Api(&s, other).created(&ndjson_of("contacts")).await;
    let mut ids = Vec::new();
    for kind in ["contacts", "companies", "orders"] {
        ids.push(api.created(&ndjson_of(kind)).await);
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    ids.reverse();
    let page = api.read(&format!("{IMPORTS}?limit=2")).await;
    let first: Vec<String> = page["data"].as_array().unwrap().iter().map(id_of).collect();
    assert_eq!(first, ids[..2], "{page}");
    assert_eq!(page["page"]["has_more"], true, "{page}");
    assert_eq!(page["data"][0]["kind"], "orders");
    let cursor = page["page"]["next_cursor"].as_str().unwrap();
    let page = api.read(&format!("{IMPORTS}?limit=2&after={cursor}")).await;
    let rest: Vec<String> = page["data"].as_array().unwrap().iter().map(id_of).collect();
    assert_eq!(rest, ids[2..], "{page}");
    assert_eq!(page["page"]["has_more"], false, "{page}");
    assert!(page["page"]["next_cursor"].is_null(), "{page}");
    let all = api.read(IMPORTS).await;
    let all: Vec<String> = all["data"].as_array().unwrap().iter().map(id_of).collect();
    assert_eq!(all, ids);
    assert!(!all.contains(&theirs));
}

async fn another_workspace_cannot_reach_an_import(s: Server) {
    let api = Api::admin(&s).await;
    let (_, other) = s.other_workspace().await;
    let them = Api(&s, other.clone());
    let id = api.created(&ndjson_of("contacts")).await;
    let file = ndjson(&lines_of(&[json!({"email": "mine@example.com"})]));
    let probe = async |them: &Api<'_>| {
        missing(them, &import_path(&id)).await;
        missing(them, &format!("{}/errors", import_path(&id))).await;
        missing(them, &format!("{}/errors?format=csv", import_path(&id))).await;
        them.upload(&id, &file, NDJSON).await.problem(404, "not_found");
        them.cancel(&id).await.problem(404, "not_found");
        let listed = them.read(IMPORTS).await;
        assert!(
            listed["data"]
                .as_array()
                .unwrap()
                .iter()
                .all(|i| i["id"] != id.as_str()),
            "{listed}"
        );
        let q = format!("query($id: ID!) {{ import(id: $id) {{ {GQL_FIELDS} }} }}");
        let reply = s.gql(&them.1, &q, json!({"id": id})).await;
        assert!(reply["data"]["import"].is_null(), "{reply}");
    };
    probe(&them).await;
    assert_eq!(
        api.read(&import_path(&id)).await["status"],
        "awaiting_file",
        "their upload took nothing"
    );
    api.uploaded(&id, &file, NDJSON).await;
    completed(&api.finish(&id).await);
    probe(&them).await;
    assert!(Api(&s, other).exported().await.is_empty());
}

async fn imports_need_the_scopes_of_their_kind(s: Server) {
    let api = Api::admin(&s).await;
    let companies_writer = Api::with(&s, "companies:write").await;
    companies_writer
        .create(&ndjson_of("contacts"))
        .await
        .problem(403, "insufficient_scope");
    companies_writer.created(&ndjson_of("companies")).await;
    let contacts_writer = Api::with(&s, "contacts:write").await;
    for kind in ["companies", "orders"] {
        contacts_writer
            .create(&ndjson_of(kind))
            .await
            .problem(403, "insufficient_scope");
    }
    let orders_writer = Api::with(&s, "orders:write").await;
    orders_writer.created(&ndjson_of("orders")).await;
    let reader = Api::with(&s, "contacts:read").await;
    reader
        .create(&ndjson_of("contacts"))
        .await
        .problem(403, "insufficient_scope");

    // Reading needs the kind's read or write scope; uploading, its write scope.
    let id = api.created(&ndjson_of("contacts")).await;
    assert_eq!(reader.read(&import_path(&id)).await["status"], "awaiting_file");
    let file = ndjson(&lines_of(&[json!({"email": "s@example.com"})]));
    reader
        .upload(&id, &file, NDJSON)
        .await
        .problem(403, "insufficient_scope");
    companies_writer
        .get(&import_path(&id))
        .await
        .problem(403, "insufficient_scope");
    contacts_writer.uploaded(&id, &file, NDJSON).await;
    completed(&contacts_writer.finish(&id).await);
    completed(&reader.finish(&id).await);
}

/// Asserts that GraphQL gives an import as REST does.
#[track_caller]
fn same_over_graphql(g: &Value, rest: &Value) {
    assert_eq!(g["id"], rest["id"], "{g}");
    for k in ["kind", "format", "status"] {
        let text = g[k].as_str().unwrap_or_else(|| panic!("{k}: {g}"));
        assert_eq!(json!(text.to_lowercase()), rest[k], "{g}");
    }
    for (field, key) in [
        ("rowsRead", "read"),
        ("rowsCreated", "created"),
        ("rowsUpdated", "updated"),
        ("rowsUnchanged", "unchanged"),
        ("rowsFailed", "failed"),
    ] {
        assert_eq!(g[field], rest["rows"][key], "{field}: {g}");
    }
    assert_eq!(g["fileBytes"], rest["file_bytes"], "{g}");
    for (field, key) in [
        ("createdAt", "created_at"),
        ("startedAt", "started_at"),
        ("finishedAt", "finished_at"),
    ] {
        if rest[key].is_null() {
            assert!(g[field].is_null(), "{field}: {g}");
        } else {
            assert_eq!(at(&g[field]), at(&rest[key]), "{field}: {g}");
        }
    }
    match rest["error"]["code"].as_str() {
        None => assert!(g["error"].is_null(), "{g}"),
        Some(code) => assert_eq!(g["error"]["code"], code, "{g}"),
    }
}

async fn imports_over_graphql(s: Server) {
    let api = Api::admin(&s).await;
    let token = s.admin_token().await;
    let lines = lines_of(&[json!({"email": "g1@example.com"}), json!({"email": "nope"})]);
    let done = api.run(&ndjson_of("contacts"), &ndjson(&lines), NDJSON).await;
    completed(&done);
    let body = json!({"kind": "contacts", "format": "csv", "mapping": {"Email": "email", "Phone": "phone"}});
    let failed = api.run(&body, b"Email\ng2@example.com\n", CSV).await;
    failed_with(&failed, "csv_header_missing");
    let q = format!("query($id: ID!) {{ import(id: $id) {{ {GQL_FIELDS} }} }}");
    for rest in [&done, &failed] {
        let reply = s.gql(&token, &q, json!({"id": rest["id"]})).await;
        assert!(reply["errors"].is_null(), "{reply}");
        same_over_graphql(&reply["data"]["import"], rest);
    }
    let reply = s.gql(&token, &q, json!({"id": NOWHERE})).await;
    assert!(reply["data"]["import"].is_null(), "{reply}");

    let q = format!(
        "query($after: String) {{ imports(first: 1, after: $after) {{ edges {{ node {{ {GQL_FIELDS} }} }} \
         pageInfo {{ hasNextPage endCursor }} }} }}"
    );
    let reply = s.gql(&token, &q, json!({"after": null})).await;
    let page = &reply["data"]["imports"];
    assert_eq!(page["edges"].as_array().map(Vec::len), Some(1), "{reply}");
    same_over_graphql(&page["edges"][0]["node"], &failed);
    assert_eq!(page["pageInfo"]["hasNextPage"], true, "{reply}");
    let reply = s.gql(&token, &q, json!({"after": page["pageInfo"]["endCursor"]})).await;
    let page = &reply["data"]["imports"];
    assert_eq!(page["edges"].as_array().map(Vec::len), Some(1), "{reply}");
    same_over_graphql(&page["edges"][0]["node"], &done);
    assert_eq!(page["pageInfo"]["hasNextPage"], false, "{reply}");
}

async fn a_larger_file_completes_with_exact_counts_and_steady_progress(s: Server) {
    let api = Api::admin(&s).await;
    let total = 5_000;
    let lines: Vec<String> = (0..total)
        .map(|i| {
            json!({"email": format!("bulk{i:05}@example.com"), "first_name": format!("First{i}"),
                "last_name": "Bulkington-Importworth", "external_ids": {"shop": format!("S-{i:05}")},
                "tags": ["bulk", "spring-campaign-2026", format!("cohort-{}", i % 10)],
                "lead_score": i % 100, "country": "DE", "locale": "de-DE"})
            .to_string()
        })
        .collect();
    let file = ndjson(&lines);
    assert!(file.len() > 1 << 20, "larger than the JSON body limit: {}", file.len());
    let id = api.created(&ndjson_of("contacts")).await;
    api.uploaded(&id, &file, NDJSON).await;
    let (done, seen) = api.watch(&id).await;
    completed(&done);
    assert_eq!(rows(&done), [5000, 5000, 0, 0, 0], "{done}");
    assert_eq!(done["file_bytes"], json!(file.len()));
    assert!(!seen.is_empty());
    let contacts = api.exported().await;
    assert_eq!(contacts.len(), 5000);
    let c = contacts_by_email(&api, "bulk04321@example.com").await;
    let expected = json!({"first_name": "First4321", "external_ids": {"shop": "S-04321"}, "lead_score": 21,
        "tags": ["bulk", "cohort-1", "spring-campaign-2026"], "country": "DE"});
    assert_eq!(pick(&c, &expected), expected);
    assert_eq!(s.events("contact.created").await.len(), 5000);
    for email in ["bulk00000@example.com", "bulk04999@example.com"] {
        let c = contacts_by_email(&api, email).await;
        let events = events_about(&s, "contact.created", &id_of(&c)).await;
        assert_eq!(events.len(), 1, "{email}");
        assert_eq!(events[0]["object"]["email"], email);
    }
    assert!(api.report(&id).await.is_empty());
}

async fn stored_errors_are_capped_and_counts_stay_exact(s: Server) {
    let api = Api::admin(&s).await;
    let mut lines: Vec<String> = (0..10_005).map(|i| format!("not json {i}")).collect();
    lines.push(json!({"email": "last@example.com"}).to_string());
    let import = api.run(&ndjson_of("contacts"), &ndjson(&lines), NDJSON).await;
    completed(&import);
    assert_eq!(rows(&import), [10_006, 1, 0, 0, 10_005], "{import}");
    let report = api.report(&id_of(&import)).await;
    assert_eq!(report.len(), 10_000);
    assert!(
        report
            .iter()
            .all(|e| e["code"] == "malformed_json" && e["pointer"] == "")
    );
    let rows: Vec<u64> = report.iter().map(|e| e["row"].as_u64().unwrap()).collect();
    assert!(rows.windows(2).all(|w| w[0] < w[1]), "in row order");
    assert!(rows.iter().all(|r| (1..=10_005).contains(r)));
    contacts_by_email(&api, "last@example.com").await;
}

on_both!(
    ndjson_contacts_are_created_and_updated_with_every_field,
    csv_contacts_follow_the_mapping_quoting_separators_and_attribute_types,
    csv_contacts_with_a_custom_delimiter,
    bad_ndjson_rows_fail_alone_and_are_reported,
    bad_csv_rows_fail_alone_and_are_reported_with_their_column,
    running_the_same_file_again_changes_nothing,
    companies_are_upserted_by_domain,
    ndjson_orders_are_upserted_and_make_the_same_metrics,
    csv_orders_group_consecutive_rows_into_lines,
    a_mapped_header_missing_from_the_file_fails_the_job,
    unbalanced_quotes_fail_the_job,
    bytes_that_are_not_utf8_fail_the_job,
    creation_is_validated_with_pointers,
    a_file_is_received_once_and_a_finished_import_cannot_be_cancelled,
    a_running_import_is_cancelled_after_its_current_batch,
    imports_are_listed_newest_first_in_pages,
    another_workspace_cannot_reach_an_import,
    imports_need_the_scopes_of_their_kind,
    imports_over_graphql,
    a_larger_file_completes_with_exact_counts_and_steady_progress,
    stored_errors_are_capped_and_counts_stay_exact,
);

on_both_dbs!(
    uploads_are_limited_by_the_configured_size,
    a_record_may_be_as_large_as_a_request_body_and_no_larger
);
