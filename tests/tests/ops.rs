//! Operations: health and readiness, metrics, the API description and its viewers,
//! problem documents for unknown routes, request ids, CORS, graceful shutdown and JSON
//! logs.

// Test bodies run through `on_both!`, outside `#[test]` fns, where a failed unwrap is the
// intended test failure.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use rapport_tests::{Reply, Server, TestDb, on_both, on_both_dbs};
use reqwest::Method;
use serde_json::Value;

const SHOP: &str = "https://shop.example";

/// An unauthenticated request with extra headers.
async fn get(s: &Server, method: Method, path: &str, headers: &[(&str, &str)]) -> Reply {
    let mut r = s.http.request(method, format!("{}{path}", s.base));
    for (k, v) in headers {
        r = r.header(*k, *v);
    }
    Reply::from(r.send().await.unwrap()).await
}

fn text(r: &Reply) -> &str {
    r.body.as_str().unwrap_or_default()
}

/// A CORS preflight for `POST /v1/contacts` from `origin`.
async fn preflight(s: &Server, origin: &str) -> Reply {
    let headers = [
        ("origin", origin),
        ("access-control-request-method", "POST"),
        ("access-control-request-headers", "authorization, content-type"),
    ];
    get(s, Method::OPTIONS, "/v1/contacts", &headers).await
}

#[track_caller]
fn never_credentialed(r: &Reply) {
    assert_ne!(
        r.header("access-control-allow-credentials"),
        Some("true"),
        "{:?}",
        r.headers
    );
}

async fn health_and_readiness_answer_ok(s: Server) {
    let h = get(&s, Method::GET, "/healthz", &[]).await;
    assert_eq!((h.status.as_u16(), &h.body["status"]), (200, &Value::from("ok")));
    let r = get(&s, Method::GET, "/readyz", &[]).await;
    assert_eq!((r.status.as_u16(), &r.body["status"]), (200, &Value::from("ready")));
}

async fn metrics_count_requests_by_route_pattern(s: Server) {
    let token = s.admin_token().await;
    let missing = uuid::Uuid::now_v7();
    s.call(Method::GET, &format!("/v1/contacts/{missing}"), &token, None)
        .await
        .problem(404, "not_found");
    let m = get(&s, Method::GET, "/metrics", &[]).await;
    assert_eq!(m.status, 200);
    assert!(
        m.header("content-type").unwrap_or_default().starts_with("text/plain"),
        "{:?}",
        m.headers
    );
    let body = text(&m);
    assert!(body.contains("# TYPE rapport_http_requests_total counter"), "{body}");
    let series = body
        .lines()
        .find(|l| l.starts_with("rapport_http_requests_total{") && l.contains("route=\"/v1/contacts/{id}\""))
        .unwrap_or_else(|| panic!("no series for the contact route:\n{body}"));
    assert!(
        series.contains("method=\"GET\"") && series.contains("status=\"404\""),
        "{series}"
    );
    assert!(series.ends_with(" 1"), "{series}");
    assert!(
        !body.contains(&missing.to_string()),
        "a concrete path became a label:\n{body}"
    );
    let before = s.metric("rapport_http_requests_total").await;
    get(&s, Method::GET, "/healthz", &[]).await;
    assert!(s.metric("rapport_http_requests_total").await > before);
}

async fn the_openapi_document_describes_the_api_and_its_bearer_scheme(s: Server) {
    let r = get(&s, Method::GET, "/openapi.json", &[]).await;
    assert_eq!(r.status, 200);
    assert!(
        r.body["openapi"].as_str().unwrap().starts_with("3.1"),
        "{}",
        r.body["openapi"]
    );
    let contacts = &r.body["paths"]["/v1/contacts"];
    assert!(
        contacts["get"].is_object() && contacts["post"].is_object(),
        "{contacts}"
    );
    let schemes = r.body["components"]["securitySchemes"].as_object().unwrap();
    assert!(
        schemes.values().any(|v| v["type"] == "http" && v["scheme"] == "bearer"),
        "no bearer scheme: {schemes:?}"
    );
}

async fn swagger_ui_and_graphiql_are_served_as_html(s: Server) {
    let docs = get(&s, Method::GET, "/docs/", &[]).await;
    assert_eq!(docs.status, 200);
    assert!(
        docs.header("content-type").unwrap_or_default().starts_with("text/html"),
        "{:?}",
        docs.headers
    );
    assert!(text(&docs).to_lowercase().contains("swagger-ui"), "{}", text(&docs));
    let gql = get(&s, Method::GET, "/graphql", &[]).await;
    assert_eq!(gql.status, 200);
    assert!(
        gql.header("content-type").unwrap_or_default().starts_with("text/html"),
        "{:?}",
        gql.headers
    );
    assert!(text(&gql).to_lowercase().contains("graphiql"), "{}", text(&gql));
}

async fn an_unknown_route_answers_a_not_found_problem(s: Server) {
    get(&s, Method::GET, "/nowhere", &[]).await.problem(404, "not_found");
    let token = s.admin_token().await;
    s.call(Method::GET, "/v1/nowhere", &token, None)
        .await
        .problem(404, "not_found");
    s.call(
        Method::POST,
        "/v1/contacts/not-a-uuid/tags",
        &token,
        Some(serde_json::json!({"add": ["x"]})),
    )
    .await
    .problem(404, "not_found");
}

async fn a_known_path_with_another_method_answers_405_naming_the_allowed_ones(s: Server) {
    let r = get(&s, Method::DELETE, "/v1/auth/token", &[]).await;
    r.problem(405, "method_not_allowed");
    assert_eq!(r.header("allow"), Some("POST"));
    let token = s.admin_token().await;
    let id = uuid::Uuid::now_v7();
    let r = s.call(Method::PUT, &format!("/v1/contacts/{id}"), &token, None).await;
    r.problem(405, "method_not_allowed");
    assert_eq!(r.header("allow"), Some("GET, PATCH, DELETE"));
    assert!(
        r.body["detail"]
            .as_str()
            .unwrap_or_default()
            .contains("GET, PATCH, DELETE")
    );
    let r = s.call(Method::PATCH, "/v1/contacts", &token, None).await;
    r.problem(405, "method_not_allowed");
    assert_eq!(r.header("allow"), Some("GET, POST"));
    let r = s.call(Method::DELETE, "/graphql", &token, None).await;
    r.problem(405, "method_not_allowed");
    assert_eq!(r.header("allow"), Some("GET, POST"));
    s.call(Method::GET, "/v1/contacts/", &token, None)
        .await
        .problem(404, "not_found");
    let r = get(&s, Method::OPTIONS, "/v1/companies", &[]).await;
    assert_eq!(r.status, 204);
    assert_eq!(r.header("allow"), Some("GET, POST, OPTIONS"));
}

async fn every_response_carries_a_request_id_and_a_supplied_one_is_echoed(s: Server) {
    let mut seen = Vec::new();
    for (method, path) in [
        (Method::GET, "/healthz"),
        (Method::GET, "/readyz"),
        (Method::GET, "/metrics"),
        (Method::GET, "/openapi.json"),
        (Method::GET, "/graphql"),
        (Method::GET, "/nowhere"),
        (Method::GET, "/v1/contacts"),
        (Method::POST, "/v1/auth/token"),
    ] {
        let r = get(&s, method.clone(), path, &[]).await;
        let id = r
            .header("x-request-id")
            .unwrap_or_else(|| panic!("{method} {path}: no x-request-id"));
        assert!(
            !id.is_empty() && !seen.contains(&id.to_owned()),
            "{method} {path}: {id}"
        );
        seen.push(id.to_owned());
    }
    let r = get(&s, Method::GET, "/v1/contacts", &[("x-request-id", "checkout-7f3a.1")]).await;
    assert_eq!(r.header("x-request-id"), Some("checkout-7f3a.1"));
    r.problem(401, "unauthorized");
    assert_eq!(r.body["request_id"], "checkout-7f3a.1");
    let ok = get(&s, Method::GET, "/healthz", &[("x-request-id", "health-1")]).await;
    assert_eq!(ok.header("x-request-id"), Some("health-1"));
    // An unusable id is replaced rather than echoed.
    let odd = get(
        &s,
        Method::GET,
        "/healthz",
        &[("x-request-id", "has spaces <and> brackets")],
    )
    .await;
    let replaced = odd.header("x-request-id").unwrap_or_default();
    assert!(
        !replaced.is_empty() && replaced != "has spaces <and> brackets",
        "{replaced}"
    );
}

async fn cors_allows_only_the_configured_origins_and_never_credentials(db: TestDb) {
    let s = Server::start_on(db, &[("RAPPORT_CORS_ORIGINS", SHOP)]).await;
    let allowed = preflight(&s, SHOP).await;
    assert!(allowed.status.is_success(), "{} {:?}", allowed.status, allowed.body);
    assert_eq!(allowed.header("access-control-allow-origin"), Some(SHOP));
    let methods = allowed.header("access-control-allow-methods").unwrap_or_default();
    assert!(methods.contains("POST"), "{methods}");
    let headers = allowed
        .header("access-control-allow-headers")
        .unwrap_or_default()
        .to_lowercase();
    assert!(
        headers.contains("authorization") && headers.contains("content-type"),
        "{headers}"
    );
    never_credentialed(&allowed);

    let refused = preflight(&s, "https://evil.example").await;
    refused.problem(400, "cors_rejected");
    let allow_origin = refused.header("access-control-allow-origin");
    assert_eq!(allow_origin, None, "{:?}", refused.headers);
    assert!(refused.header("x-request-id").is_some(), "{:?}", refused.headers);
    never_credentialed(&refused);

    let token = s.admin_token().await;
    let actual = s
        .req(Method::GET, "/v1/contacts", &token)
        .header("origin", SHOP)
        .send()
        .await
        .unwrap();
    let actual = Reply::from(actual).await;
    assert_eq!(actual.status, 200);
    assert_eq!(actual.header("access-control-allow-origin"), Some(SHOP));
    let exposed = actual
        .header("access-control-expose-headers")
        .unwrap_or_default()
        .to_lowercase();
    assert!(
        exposed.contains("x-request-id") && exposed.contains("etag"),
        "{exposed}"
    );
    never_credentialed(&actual);
}

async fn a_wildcard_cors_origin_still_never_allows_credentials(db: TestDb) {
    let s = Server::start_on(db, &[("RAPPORT_CORS_ORIGINS", "*")]).await;
    let r = preflight(&s, "https://anyone.example").await;
    assert!(r.status.is_success(), "{} {:?}", r.status, r.headers);
    let origin = r.header("access-control-allow-origin").unwrap_or_default();
    assert!(origin == "*" || origin == "https://anyone.example", "{origin}");
    never_credentialed(&r);
}

async fn without_configured_origins_no_cross_origin_request_is_allowed(s: Server) {
    let r = preflight(&s, SHOP).await;
    assert_eq!(
        r.header("access-control-allow-origin"),
        None,
        "{} {:?}",
        r.status,
        r.headers
    );
    never_credentialed(&r);
}

async fn sigterm_stops_the_server_gracefully(mut s: Server) {
    assert_eq!(get(&s, Method::GET, "/healthz", &[]).await.status, 200);
    let status = s.terminate();
    assert!(status.success(), "exit status {status:?}\n{}", s.logs());
    assert!(s.logs().contains("stopped"), "{}", s.logs());
    assert!(
        s.http.get(format!("{}/healthz", s.base)).send().await.is_err(),
        "still answering after SIGTERM"
    );
}

/// Whether `v` (or any object inside it) has `request_id` equal to `id`.
fn mentions_request_id(v: &Value, id: &str) -> bool {
    match v {
        Value::Object(m) => {
            m.get("request_id").and_then(Value::as_str) == Some(id) || m.values().any(|x| mentions_request_id(x, id))
        }
        Value::Array(a) => a.iter().any(|x| mentions_request_id(x, id)),
        _ => false,
    }
}

async fn json_logs_are_json_lines_carrying_the_request_id(db: TestDb) {
    let s = Server::start_on(db, &[("RAPPORT_LOG_FORMAT", "json")]).await;
    let id = "json-log-check-42";
    get(&s, Method::GET, "/v1/contacts", &[("x-request-id", id)])
        .await
        .problem(401, "unauthorized");
    let mut mine = Vec::new();
    for _ in 0..50 {
        let logs = s.logs();
        let lines: Vec<Value> = logs
            .lines()
            .filter(|l| !l.trim().is_empty())
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not a JSON log line ({e}): {l}")))
            .collect();
        assert!(!lines.is_empty());
        mine = lines.into_iter().filter(|l| mentions_request_id(l, id)).collect();
        if !mine.is_empty() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert!(!mine.is_empty(), "no log line carries request_id {id}:\n{}", s.logs());
    assert!(
        mine.iter()
            .all(|l| l["level"].is_string() && l["timestamp"].is_string()),
        "{mine:?}"
    );
}

on_both!(
    health_and_readiness_answer_ok,
    metrics_count_requests_by_route_pattern,
    the_openapi_document_describes_the_api_and_its_bearer_scheme,
    swagger_ui_and_graphiql_are_served_as_html,
    an_unknown_route_answers_a_not_found_problem,
    a_known_path_with_another_method_answers_405_naming_the_allowed_ones,
    every_response_carries_a_request_id_and_a_supplied_one_is_echoed,
    without_configured_origins_no_cross_origin_request_is_allowed,
    sigterm_stops_the_server_gracefully,
);

on_both_dbs!(
    cors_allows_only_the_configured_origins_and_never_credentials,
    a_wildcard_cors_origin_still_never_allows_credentials,
    json_logs_are_json_lines_carrying_the_request_id,
);
