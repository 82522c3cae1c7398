//! Whatever an integrator sends — broken JSON, wrong types, unknown fields, huge or
//! non-JSON bodies, bad query parameters, ids that are not ids, bad tokens — the API
//! answers a precise 4xx problem document with a request id, never a 500 or a dropped
//! connection.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use rapport_tests::{Backend, Reply, Server, TestDb, on_both};
use reqwest::Method;
use serde_json::{Value, json};

/// An endpoint that reads a JSON body.
struct Endpoint {
    method: Method,
    path: String,
    /// A body the endpoint accepts.
    valid: Value,
    /// A body with one field of the wrong JSON type …
    wrong: Value,
    /// … and the pointer of that field.
    pointer: String,
}

impl Endpoint {
    /// `[method, path, valid body, wrong body, pointer]`.
    fn from_row(row: &Value) -> Self {
        let text = |i: usize| row[i].as_str().unwrap().to_owned();
        let method = Method::from_bytes(text(0).as_bytes()).unwrap();
        let (path, valid, wrong, pointer) = (text(1), row[2].clone(), row[3].clone(), text(4));
        Self {
            method,
            path,
            valid,
            wrong,
            pointer,
        }
    }

    fn post(path: &str) -> Self {
        Self::from_row(&json!(["POST", path, null, null, ""]))
    }

    fn name(&self) -> String {
        format!("{} {}", self.method, self.path)
    }
}

/// Creates a record and returns its id.
async fn create(s: &Server, token: &str, path: &str, body: Value) -> String {
    let r = s.call(Method::POST, path, token, Some(body)).await;
    assert_eq!(r.status, 201, "{path}: {}", r.body);
    r.body["id"].as_str().unwrap().to_owned()
}

/// Creates a contact, a company and an attribute definition, and lists every endpoint
/// that takes a JSON body, aimed at them.
async fn endpoints(s: &Server, token: &str) -> Vec<Endpoint> {
    let contact = create(s, token, "/v1/contacts", json!({"email": "fixture@example.com"})).await;
    let company = create(s, token, "/v1/companies", json!({"name": "Fixture Ltd"})).await;
    let tier = json!({"key": "tier", "label": "Tier", "type": "string"});
    let definition = create(s, token, "/v1/attribute-definitions", tier).await;
    let (contact, company) = (format!("/v1/contacts/{contact}"), format!("/v1/companies/{company}"));
    let table = json!([
        ["POST", "/v1/contacts", {"email": "new@example.com"}, {"email": 42}, "/email"],
        ["PATCH", contact, {"first_name": "Ada"}, {"tags": "vip"}, "/tags"],
        ["PUT", "/v1/contacts/by-email/ada@example.com", {"first_name": "A"}, {"lead_score": "1"}, "/lead_score"],
        ["PUT", "/v1/contacts/by-external-id/shop/1001", {"first_name": "A"}, {"external_ids": []}, "/external_ids"],
        ["POST", "/v1/contacts/batch", {"items": [{"email": "b@example.com"}]}, {"items": {}}, "/items"],
        ["POST", format!("{contact}/tags"), {"add": ["vip"]}, {"add": "vip"}, "/add"],
        ["POST", format!("{contact}/lifecycle"), {"stage": "lead"}, {"stage": "lead", "reason": 5}, "/reason"],
        ["POST", "/v1/companies", {"name": "Acme"}, {"name": "Acme", "size": "big"}, "/size"],
        ["PATCH", company, {"industry": "Retail"}, {"domain": 5}, "/domain"],
        ["POST", "/v1/attribute-definitions", {"key": "size", "label": "Size", "type": "string"},
            {"key": "size", "label": 7, "type": "string"}, "/label"],
        ["PATCH", format!("/v1/attribute-definitions/{definition}"), {"label": "L"}, {"options": "a"}, "/options"],
        ["POST", "/v1/api-clients", {"name": "ci", "scopes": "contacts:read"}, {"name": "ci", "scopes": []}, "/scopes"],
        ["POST", "/graphql", {"query": "{ __typename }"}, {"query": 5}, "/query"],
    ]);
    table.as_array().unwrap().iter().map(Endpoint::from_row).collect()
}

/// Sends `body` as is to an endpoint, with this content type (none when empty).
async fn send(s: &Server, token: &str, e: &Endpoint, content_type: &str, body: impl Into<reqwest::Body>) -> Reply {
    let mut r = s.req(e.method.clone(), &e.path, token).body(body);
    if !content_type.is_empty() {
        r = r.header("content-type", content_type);
    }
    let answer = r.send().await;
    Reply::from(answer.unwrap_or_else(|err| panic!("{}: no answer but {err}", e.name()))).await
}

/// Asserts a problem document, naming the request when it is not the expected one.
#[track_caller]
fn expect(r: &Reply, what: &str, status: u16, code: &str) {
    assert_eq!(r.status.as_u16(), status, "{what}: {}", r.body);
    assert_eq!(r.body["code"], code, "{what}: {}", r.body);
    r.problem(status, code);
}

/// A copy of a JSON object with one more member.
fn with(body: &Value, key: &str, value: Value) -> Value {
    let mut b = body.clone();
    b.as_object_mut().expect("object body").insert(key.to_owned(), value);
    b
}

async fn malformed_and_empty_bodies_are_a_400_on_every_endpoint(s: Server) {
    let token = s.admin_token().await;
    for e in endpoints(&s, &token).await {
        for broken in ["{\"ema", "{'email': 1}", "[", "nul", "{,}", "<xml/>", "", "  \n"] {
            let r = send(&s, &token, &e, "application/json", broken).await;
            expect(&r, &format!("{} with {broken:?}", e.name()), 400, "malformed_json");
        }
    }
}

async fn a_body_that_is_not_json_is_a_400_even_when_a_value_before_the_break_is_wrong(s: Server) {
    // None of these documents is JSON, so none can be judged field by field, even
    // though the parser meets a wrong, unknown or missing field before the break.
    let token = s.admin_token().await;
    for (path, broken) in [
        ("/v1/contacts", "{\"email\": 42, \"first_na"),
        ("/v1/companies", "[1, 2,]"),
        ("/v1/contacts/batch", "{} trailing"),
        ("/v1/api-clients", "{\"colour\": \"red\""),
    ] {
        let r = send(&s, &token, &Endpoint::post(path), "application/json", broken).await;
        expect(&r, &format!("POST {path} with {broken:?}"), 400, "malformed_json");
    }
}

async fn a_field_of_the_wrong_type_is_a_422_pointing_at_it(s: Server) {
    let token = s.admin_token().await;
    for e in endpoints(&s, &token).await {
        let r = s.call(e.method.clone(), &e.path, &token, Some(e.wrong.clone())).await;
        expect(&r, &e.name(), 422, "validation_failed");
        assert_eq!(r.body["errors"][0]["pointer"], *e.pointer, "{}: {}", e.name(), r.body);
        assert_eq!(r.body["errors"][0]["code"], "wrong_type", "{}: {}", e.name(), r.body);
    }
}

async fn an_unknown_field_is_a_422_pointing_at_it(s: Server) {
    let token = s.admin_token().await;
    for e in endpoints(&s, &token).await {
        let body = with(&e.valid, "colour", json!("red"));
        let r = s.call(e.method.clone(), &e.path, &token, Some(body)).await;
        expect(&r, &e.name(), 422, "validation_failed");
        assert_eq!(r.pointers(), vec!["/colour".to_owned()], "{}: {}", e.name(), r.body);
        assert_eq!(r.body["errors"][0]["code"], "unknown_field", "{}: {}", e.name(), r.body);
    }
}

async fn a_body_over_one_mebibyte_is_a_413_problem_on_every_endpoint(s: Server) {
    let token = s.admin_token().await;
    let padding = "x".repeat((1 << 20) + 1);
    // The batch endpoint has its own, larger limit (see below).
    let endpoints = endpoints(&s, &token).await;
    for e in endpoints.iter().filter(|e| !e.path.ends_with("/batch")) {
        let body = with(&e.valid, "padding", json!(padding)).to_string();
        let r = send(&s, &token, e, "application/json", body).await;
        expect(&r, &e.name(), 413, "payload_too_large");
    }
    let r = s.call(Method::GET, "/v1/contacts?limit=500", &token, None).await;
    let stored = r.body["data"].as_array().unwrap().len();
    assert_eq!(stored, 1, "nothing but the fixture was stored");
}

/// Sends `size` bytes of a JSON document as a chunked body (no `Content-Length`) over a
/// raw connection and returns the status line and body of the answer.
async fn post_chunked(s: &Server, path: &str, token: &str, size: usize) -> (String, Value) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let addr = s.base.trim_start_matches("http://");
    let head = format!("POST {path} HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {token}\r\n");
    let head = head + "Content-Type: application/json\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n";
    let mut conn = tokio::net::TcpStream::connect(addr).await.expect("connect");
    conn.write_all(head.as_bytes()).await.expect("send head");
    let (mut rx, mut tx) = conn.into_split();
    let writer = tokio::spawn(async move {
        let mut chunks = vec![b"{\"first_name\": \"".to_vec()];
        chunks.extend(std::iter::repeat_n(vec![b'x'; 64 * 1024], size / (64 * 1024) + 1));
        chunks.push(b"\"}".to_vec());
        for c in chunks {
            let framed = [format!("{:x}\r\n", c.len()).into_bytes(), c, b"\r\n".to_vec()].concat();
            // The server may answer and stop reading before the end.
            if tx.write_all(&framed).await.is_err() {
                return;
            }
        }
        let _ = tx.write_all(b"0\r\n\r\n").await;
    });
    let mut answer = Vec::new();
    let read = tokio::time::timeout(std::time::Duration::from_secs(20), rx.read_to_end(&mut answer));
    assert!(read.await.is_ok(), "no answer within 20 s");
    writer.abort();
    let text = String::from_utf8_lossy(&answer).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").expect("an HTTP answer");
    let lower = head.to_ascii_lowercase();
    assert!(lower.contains("content-type: application/problem+json"), "{head}");
    // The body may itself be chunked: keep the JSON object.
    let json = &body[body.find('{').unwrap_or(0)..=body.rfind('}').unwrap_or(0)];
    let status = head.lines().next().unwrap().to_owned();
    (status, serde_json::from_str(json).unwrap_or_default())
}

async fn a_streamed_body_without_a_length_is_cut_off_at_the_limit_with_a_413(s: Server) {
    let token = s.admin_token().await;
    let (status, body) = post_chunked(&s, "/v1/contacts", &token, 2 << 20).await;
    assert!(status.starts_with("HTTP/1.1 413"), "{status}: {body}");
    assert_eq!(body["code"], "payload_too_large", "{body}");
    assert!(body["request_id"].is_string(), "{body}");
}

/// A server on a fresh database of the same backend as `s`.
async fn sibling(s: &Server, env: &[(&str, &str)]) -> Server {
    let db = match s.db.backend {
        Backend::Sqlite => TestDb::sqlite(),
        Backend::Postgres => TestDb::postgres().await.expect("PostgreSQL is configured"),
    };
    Server::start_on(db, env).await
}

async fn the_batch_endpoint_applies_its_own_configured_body_limit(s: Server) {
    let s = sibling(&s, &[("RAPPORT_MAX_BATCH_BODY_BYTES", "2000000")]).await;
    let token = s.admin_token().await;
    let batch = Endpoint::post("/v1/contacts/batch");
    let item = json!({"email": "bulk@example.com", "first_name": "x".repeat(100)});
    let over = json!({"items": vec![item; 3_000_000 / 140]}).to_string();
    assert!(over.len() > 2_000_000);
    let r = send(&s, &token, &batch, "application/json", over).await;
    expect(&r, "a 3 MB batch", 413, "payload_too_large");

    // 1.5 MB is over the general limit but within the batch limit: it is read, and the
    // items are judged one by one.
    let under = json!({"items": [{"email": "kept@example.com"}, {"notes": "x".repeat(1_500_000)}]});
    let r = send(&s, &token, &batch, "application/json", under.to_string()).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["results"][0]["status"], "created", "{}", r.body);
    assert_eq!(r.body["results"][1]["status"], "failed", "{}", r.body);
    let failure = &r.body["results"][1]["error"]["errors"][0];
    assert_eq!(failure["pointer"], "/items/1/notes", "{failure}");
    assert_eq!(failure["code"], "unknown_field", "{failure}");

    // The other endpoints keep the general limit of 1 MiB.
    let big = json!({"first_name": "x".repeat(1_100_000)}).to_string();
    let r = send(&s, &token, &Endpoint::post("/v1/contacts"), "application/json", big).await;
    expect(&r, "POST /v1/contacts on the same server", 413, "payload_too_large");
}

async fn a_body_that_is_not_declared_as_json_is_a_415_on_every_endpoint(s: Server) {
    let token = s.admin_token().await;
    for e in endpoints(&s, &token).await {
        for content_type in ["text/plain", "application/x-www-form-urlencoded", ""] {
            let r = send(&s, &token, &e, content_type, e.valid.to_string()).await;
            let what = format!("{} as {content_type:?}", e.name());
            expect(&r, &what, 415, "unsupported_media_type");
        }
    }
}

/// The list endpoints: (path, pages with `limit` and `after`, filters by `updated_since`).
async fn lists(s: &Server, token: &str) -> Vec<(String, bool, bool)> {
    let contact = create(s, token, "/v1/contacts", json!({"email": "l@example.com"})).await;
    let company = create(s, token, "/v1/companies", json!({"name": "List Ltd"})).await;
    vec![
        ("/v1/contacts".to_owned(), true, true),
        ("/v1/companies".to_owned(), true, true),
        (format!("/v1/companies/{company}/contacts"), true, true),
        (format!("/v1/contacts/{contact}/lifecycle"), true, false),
        ("/v1/attribute-definitions".to_owned(), false, false),
        ("/v1/api-clients".to_owned(), false, false),
    ]
}

async fn list_endpoints_refuse_unknown_query_parameters(s: Server) {
    let token = s.admin_token().await;
    for (path, _, _) in lists(&s, &token).await {
        for query in ["colour=red", "Limit=5", "page=2"] {
            let r = s.call(Method::GET, &format!("{path}?{query}"), &token, None).await;
            expect(&r, &format!("{path}?{query}"), 400, "invalid_query");
        }
    }
}

async fn list_endpoints_refuse_malformed_limits_cursors_and_timestamps(s: Server) {
    let token = s.admin_token().await;
    for (path, pages, since) in lists(&s, &token).await {
        let mut bad: Vec<(String, &str)> = Vec::new();
        if pages {
            for limit in ["ten", "-1", "0", "501", "1.5", ""] {
                bad.push((format!("limit={limit}"), "invalid_query"));
            }
            for cursor in ["garbage!", "eyJsIjoiY29udGFjdHMifQ", "bm90IGpzb24", ""] {
                bad.push((format!("after={cursor}"), "invalid_cursor"));
            }
        }
        if since {
            for t in ["yesterday", "2024-13-01T00:00:00Z", "1700000000", "2024-01-01"] {
                bad.push((format!("updated_since={t}"), "invalid_query"));
            }
        }
        for (query, code) in bad {
            let r = s.call(Method::GET, &format!("{path}?{query}"), &token, None).await;
            expect(&r, &format!("{path}?{query}"), 400, code);
        }
    }
    // A cursor is only valid for the list and order that issued it.
    for name in ["A", "B"] {
        create(&s, &token, "/v1/companies", json!({ "name": name })).await;
    }
    let page = s.call(Method::GET, "/v1/companies?limit=1", &token, None).await;
    let cursor = page.body["page"]["next_cursor"].as_str().unwrap().to_owned();
    let other_list = format!("/v1/contacts?after={cursor}");
    let other_order = format!("/v1/companies?sort=-created_at&after={cursor}");
    for path in [other_list, other_order] {
        let r = s.call(Method::GET, &path, &token, None).await;
        expect(&r, &path, 400, "invalid_cursor");
    }
}

async fn ids_that_are_not_uuids_are_not_found(s: Server) {
    let token = s.admin_token().await;
    let requests = json!([
        ["GET", "/v1/contacts/ID", null],
        ["PATCH", "/v1/contacts/ID", {"first_name": "x"}],
        ["DELETE", "/v1/contacts/ID", null],
        ["POST", "/v1/contacts/ID/tags", {"add": ["x"]}],
        ["POST", "/v1/contacts/ID/lifecycle", {"stage": "lead"}],
        ["GET", "/v1/contacts/ID/lifecycle", null],
        ["GET", "/v1/companies/ID", null],
        ["PATCH", "/v1/companies/ID", {"name": "x"}],
        ["DELETE", "/v1/companies/ID", null],
        ["GET", "/v1/companies/ID/contacts", null],
        ["GET", "/v1/attribute-definitions/ID", null],
        ["PATCH", "/v1/attribute-definitions/ID", {"label": "x"}],
        ["DELETE", "/v1/attribute-definitions/ID", null],
        ["GET", "/v1/api-clients/ID", null],
        ["DELETE", "/v1/api-clients/ID", null],
    ]);
    for id in ["42", "not-a-uuid", "00000000-0000-0000-0000-00000000000g"] {
        for row in requests.as_array().unwrap() {
            let method = Method::from_bytes(row[0].as_str().unwrap().as_bytes()).unwrap();
            let path = row[1].as_str().unwrap().replace("ID", id);
            let body = Some(row[2].clone()).filter(|b| !b.is_null());
            let r = s.call(method.clone(), &path, &token, body).await;
            expect(&r, &format!("{method} {path}"), 404, "not_found");
        }
    }
}

async fn every_list_endpoint_refuses_missing_and_garbage_tokens(s: Server) {
    let admin = s.admin_token().await;
    // The same token with its signature altered.
    let (head, sig) = admin.rsplit_once('.').unwrap();
    let flipped = if sig.starts_with('A') { "B" } else { "A" };
    let forged = format!("{head}.{flipped}{}", &sig[1..]);
    for (path, _, _) in lists(&s, &admin).await {
        let anonymous = s.http.get(format!("{}{path}", s.base)).send().await;
        let r = Reply::from(anonymous.unwrap()).await;
        expect(&r, &format!("{path} without a token"), 401, "unauthorized");
        let challenge = r.header("www-authenticate").unwrap_or_default();
        assert!(challenge.starts_with("Bearer"), "{path}: {challenge}");
        for garbage in ["garbage", "a.b.c", "eyJhbGciOiJub25lIn0.e30.", forged.as_str()] {
            let r = s.call(Method::GET, &path, garbage, None).await;
            expect(&r, &format!("{path} with token {garbage:?}"), 401, "invalid_token");
        }
        // The real token passes, so the refusals above were about the token.
        let ok = s.call(Method::GET, &path, &admin, None).await;
        assert_eq!(ok.status, 200, "{path}: {}", ok.body);
    }
}

on_both!(
    malformed_and_empty_bodies_are_a_400_on_every_endpoint,
    a_body_that_is_not_json_is_a_400_even_when_a_value_before_the_break_is_wrong,
    a_field_of_the_wrong_type_is_a_422_pointing_at_it,
    an_unknown_field_is_a_422_pointing_at_it,
    a_body_over_one_mebibyte_is_a_413_problem_on_every_endpoint,
    a_streamed_body_without_a_length_is_cut_off_at_the_limit_with_a_413,
    the_batch_endpoint_applies_its_own_configured_body_limit,
    a_body_that_is_not_declared_as_json_is_a_415_on_every_endpoint,
    list_endpoints_refuse_unknown_query_parameters,
    list_endpoints_refuse_malformed_limits_cursors_and_timestamps,
    ids_that_are_not_uuids_are_not_found,
    every_list_endpoint_refuses_missing_and_garbage_tokens,
);
