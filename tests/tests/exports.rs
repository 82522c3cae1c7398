//! Contact exports: every contact exactly once, in id order, as NDJSON or RFC 4180 CSV,
//! streamed across pages; a segment's members only; scopes, tenancy and bad queries.

// Test bodies run through `on_both!`, outside `#[test]` fns, where a failed unwrap is the
// intended test failure.
#![allow(clippy::unwrap_used)]

use rapport_tests::{Api, Server, id_of, on_both};
use reqwest::Method;
use serde_json::{Value, json};

const EXPORT: &str = "/v1/exports/contacts";

/// The raw body of an export, which must succeed with this content type.
async fn export(s: &Server, token: &str, query: &str, content_type: &str) -> String {
    let r = s
        .req(Method::GET, &format!("{EXPORT}{query}"), token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "{query}");
    let ct = r.headers()["content-type"].to_str().unwrap().to_owned();
    assert!(ct.starts_with(content_type), "{ct}");
    let disposition = r.headers()["content-disposition"].to_str().unwrap().to_owned();
    assert!(disposition.starts_with("attachment; filename="), "{disposition}");
    r.text().await.unwrap()
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
    assert!(cell.is_empty() && row.is_empty(), "the CSV ends with a line break");
    rows
}

/// Creates `n` contacts in batches of up to 1000; returns their ids, sorted.
async fn many(api: &Api<'_>, n: usize) -> Vec<String> {
    let mut ids = Vec::new();
    for start in (0..n).step_by(1000) {
        let items: Vec<Value> = (start..(start + 1000).min(n))
            .map(|i| json!({"email": format!("p{i}@example.com"), "first_name": format!("P{i}"), "tags": ["bulk"]}))
            .collect();
        let r = api.post("/v1/contacts/batch", json!({"items": items})).await;
        assert_eq!(r.status, 200, "{}", r.body);
        ids.extend(r.body["results"].as_array().unwrap().iter().map(id_of));
    }
    ids.sort();
    ids
}

async fn every_contact_is_exported_once_in_id_order_as_ndjson(s: Server) {
    let api = Api::admin(&s).await;
    let token = s.admin_token().await;
    let mut ids = many(&api, 1203).await;
    let erased = api.post("/v1/contacts", json!({"email": "gone@example.com"})).await;
    let erased = id_of(&erased.body);
    let r = api
        .post(&format!("/v1/contacts/{erased}/erasure"), json!({"reason": "asked"}))
        .await;
    assert!(r.status.is_success(), "{}", r.body);
    let text = export(&s, &token, "", "application/x-ndjson").await;
    let lines: Vec<Value> = text.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert!(text.ends_with('\n'));
    let exported: Vec<String> = lines.iter().map(id_of).collect();
    assert_eq!(exported, ids, "every live contact once, in id order, across 3 pages");
    // Each line is the contact as a GET returns it.
    let one = api.get(&format!("/v1/contacts/{}", ids[7])).await;
    assert_eq!(lines[7], one.body);
    assert_eq!(text, export(&s, &token, "?format=ndjson", "application/x-ndjson").await);
    ids.clear();
}

async fn csv_rows_hold_every_field_and_survive_awkward_text(s: Server) {
    let api = Api::admin(&s).await;
    let token = s.admin_token().await;
    let awkward = api
        .post(
            "/v1/contacts",
            json!({"email": "ada@example.com", "first_name": "Ada, \"the\" first", "last_name": "=HYPERLINK(\"x\")",
                   "phone": "+44 20 7946 0000", "tags": ["vip", "b2b"], "external_ids": {"shop": "7"},
                   "lead_score": 42}),
        )
        .await;
    assert_eq!(awkward.status, 201, "{}", awkward.body);
    let plain = api.post("/v1/contacts", json!({"email": "bob@example.com"})).await;
    let rows = parse_csv(&export(&s, &token, "?format=csv", "text/csv").await);
    assert_eq!(
        rows[0],
        [
            "id",
            "email",
            "phone",
            "first_name",
            "last_name",
            "locale",
            "country",
            "company_id",
            "lifecycle_stage",
            "highest_stage",
            "lead_score",
            "owner_id",
            "tags",
            "external_ids",
            "attributes",
            "version",
            "created_at",
            "updated_at"
        ]
    );
    assert_eq!(rows.len(), 3, "{rows:?}");
    let ada = &rows[1];
    assert_eq!(ada[0], id_of(&awkward.body));
    assert_eq!(ada[1], "ada@example.com");
    assert_eq!(ada[2], "+442079460000");
    assert_eq!(ada[3], "Ada, \"the\" first");
    assert_eq!(ada[4], "'=HYPERLINK(\"x\")", "a formula is defused");
    assert_eq!((ada[8].as_str(), ada[10].as_str()), ("subscriber", "42"));
    assert_eq!(serde_json::from_str::<Value>(&ada[12]).unwrap(), json!(["b2b", "vip"]));
    assert_eq!(serde_json::from_str::<Value>(&ada[13]).unwrap(), json!({"shop": "7"}));
    assert_eq!(serde_json::from_str::<Value>(&ada[14]).unwrap(), json!({}));
    assert_eq!(rows[2][0], id_of(&plain.body));
    assert_eq!(rows[2][3], "", "a missing name is an empty cell");
}

async fn a_segment_export_holds_its_members_only(s: Server) {
    let api = Api::admin(&s).await;
    let token = s.admin_token().await;
    let ids = many(&api, 30).await;
    let list = api
        .post("/v1/segments", json!({"name": "picked", "kind": "static"}))
        .await;
    assert_eq!(list.status, 201, "{}", list.body);
    let list = id_of(&list.body);
    let picked: Vec<&String> = ids.iter().step_by(3).collect();
    let r = api
        .post(&format!("/v1/segments/{list}/members"), json!({"contact_ids": picked}))
        .await;
    assert!(r.status.is_success(), "{}", r.body);
    let text = export(&s, &token, &format!("?segment_id={list}"), "application/x-ndjson").await;
    let exported: Vec<String> = text.lines().map(|l| id_of(&serde_json::from_str(l).unwrap())).collect();
    let mut want: Vec<String> = picked.into_iter().cloned().collect();
    want.sort();
    assert_eq!(exported, want);
    let empty = api
        .post("/v1/segments", json!({"name": "empty", "kind": "static"}))
        .await;
    let text = export(
        &s,
        &token,
        &format!("?segment_id={}&format=csv", id_of(&empty.body)),
        "text/csv",
    )
    .await;
    assert_eq!(parse_csv(&text).len(), 1, "the header only");
}

async fn exports_check_scopes_tenancy_and_queries(s: Server) {
    let api = Api::admin(&s).await;
    api.post("/v1/contacts", json!({"email": "mine@example.com"})).await;
    let list = api
        .post("/v1/segments", json!({"name": "mine", "kind": "static"}))
        .await;
    let list = id_of(&list.body);
    let (_, other) = s.other_workspace().await;
    let theirs = Api(&s, other.clone());
    let text = export(&s, &other, "", "application/x-ndjson").await;
    assert_eq!(text, "", "another workspace exports none of these contacts");
    theirs
        .get(&format!("{EXPORT}?segment_id={list}"))
        .await
        .problem(404, "not_found");
    let no_contacts = Api::with(&s, "segments:read").await;
    no_contacts.get(EXPORT).await.problem(403, "insufficient_scope");
    let no_segments = Api::with(&s, "contacts:read").await;
    no_segments
        .get(&format!("{EXPORT}?segment_id={list}"))
        .await
        .problem(403, "insufficient_scope");
    assert_eq!(no_segments.get(EXPORT).await.status, 200);
    for bad in ["?format=xml", "?segment_id=nope", "?limit=5"] {
        api.get(&format!("{EXPORT}{bad}")).await.problem(400, "invalid_query");
    }
}

on_both!(
    every_contact_is_exported_once_in_id_order_as_ndjson,
    csv_rows_hold_every_field_and_survive_awkward_text,
    a_segment_export_holds_its_members_only,
    exports_check_scopes_tenancy_and_queries,
);
