//! The event feed: every change in commit order, resumable from the last position read,
//! filtered by type or family, confined to the caller's workspace; and the catalogue.

// Test bodies run through `on_both!`, outside `#[test]` fns, where a failed unwrap is the
// intended test failure.
#![allow(clippy::unwrap_used)]

use rapport_tests::{Api, Server, on_both};
use reqwest::Method;
use serde_json::{Value, json};

/// Reads the feed until it holds at least `n` events (events appear within moments of
/// their commit, once sequenced), giving up after ten seconds.
async fn feed_of(api: &Api<'_>, query: &str, n: usize) -> Value {
    for _ in 0..100 {
        let r = api.get(&format!("/v1/events{query}")).await;
        assert_eq!(r.status, 200, "{}", r.body);
        if r.body["data"].as_array().unwrap().len() >= n {
            return r.body;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("the feed never held {n} events for {query}");
}

fn types(feed: &Value) -> Vec<String> {
    feed["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["type"].as_str().unwrap().to_owned())
        .collect()
}

async fn the_feed_lists_changes_in_commit_order_and_resumes_from_a_position(s: Server) {
    let api = Api::admin(&s).await;
    let r = api.post("/v1/contacts", json!({"email": "ada@example.com"})).await;
    let id = r.body["id"].as_str().unwrap().to_owned();
    let contact_path = format!("/v1/contacts/{id}");
    let patch = api
        .send(Method::PATCH, &contact_path, Some(json!({"first_name": "Ada"})))
        .await;
    assert_eq!(patch.status, 200);
    let consent = json!({"purpose": "analytics", "status": "granted", "source": "api"});
    assert_eq!(
        api.post(&format!("/v1/contacts/{id}/consents"), consent).await.status,
        201
    );

    let all = feed_of(&api, "", 3).await;
    assert_eq!(types(&all), ["contact.created", "contact.updated", "consent.updated"]);
    let events = all["data"].as_array().unwrap();
    let positions: Vec<i64> = events.iter().map(|e| e["position"].as_i64().unwrap()).collect();
    assert!(positions.windows(2).all(|w| w[0] < w[1]), "{positions:?}");
    assert_eq!(events[1]["data"]["changed_fields"], json!(["first_name"]));
    assert_eq!(events[0]["actor"]["type"], "api_client");
    assert_eq!(all["page"]["has_more"], false);

    // Paging: one at a time, each page's cursor leads to the next event.
    let first = feed_of(&api, "?limit=1", 1).await;
    assert_eq!(first["page"]["has_more"], true);
    let cursor = first["page"]["next_cursor"].as_str().unwrap().to_owned();
    let rest = feed_of(&api, &format!("?after={cursor}"), 2).await;
    assert_eq!(types(&rest), ["contact.updated", "consent.updated"]);
    // An up-to-date reader keeps its cursor and sees only what comes next.
    let tail = rest["page"]["next_cursor"].as_str().unwrap().to_owned();
    let nothing = api.get(&format!("/v1/events?after={tail}")).await;
    assert_eq!(nothing.body["data"], json!([]));
    assert_eq!(nothing.body["page"]["next_cursor"], tail.as_str());
    assert_eq!(
        api.send(Method::DELETE, &format!("/v1/contacts/{id}"), None)
            .await
            .status,
        204
    );
    assert_eq!(
        types(&feed_of(&api, &format!("?after={tail}"), 1).await),
        ["contact.deleted"]
    );

    // Filters: a family, one type, several.
    let contacts = feed_of(&api, "?types=contact.*", 3).await;
    assert_eq!(
        types(&contacts),
        ["contact.created", "contact.updated", "contact.deleted"]
    );
    let consents = feed_of(&api, "?types=consent.updated", 1).await;
    assert_eq!(types(&consents), ["consent.updated"]);
    let both = feed_of(&api, "?types=contact.created,consent.updated", 2).await;
    assert_eq!(types(&both), ["contact.created", "consent.updated"]);
}

async fn the_feed_is_confined_to_the_workspace_and_needs_its_scope(s: Server) {
    let api = Api::admin(&s).await;
    api.post("/v1/contacts", json!({"email": "ada@example.com"})).await;
    feed_of(&api, "", 1).await;
    let (_, other) = s.other_workspace().await;
    let theirs = Api(&s, other);
    assert_eq!(theirs.get("/v1/events").await.body["data"], json!([]));
    let reader = Api::with(&s, "contacts:read").await;
    reader.get("/v1/events").await.problem(403, "insufficient_scope");
    let allowed = Api::with(&s, "events:read").await;
    assert_eq!(types(&feed_of(&allowed, "", 1).await), ["contact.created"]);
}

async fn bad_feed_queries_are_refused(s: Server) {
    let api = Api::admin(&s).await;
    for q in ["?types=contacts.*", "?types=contact.create", "?limit=0", "?colour=red"] {
        api.get(&format!("/v1/events{q}")).await.problem(400, "invalid_query");
    }
    for q in ["?after=abc", "?after=-1"] {
        api.get(&format!("/v1/events{q}")).await.problem(400, "invalid_cursor");
    }
}

async fn the_catalogue_and_graphql_describe_and_page_the_same_events(s: Server) {
    let api = Api::admin(&s).await;
    let catalogue = api.get("/v1/event-types").await;
    assert_eq!(catalogue.status, 200);
    let names: Vec<&str> = catalogue.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["type"].as_str().unwrap())
        .collect();
    for t in [
        "contact.created",
        "contact.erased",
        "consent.updated",
        "company.deleted",
    ] {
        assert!(names.contains(&t), "{t} in {names:?}");
    }
    api.post("/v1/companies", json!({"name": "Acme"})).await;
    api.post("/v1/contacts", json!({"email": "ada@example.com"})).await;
    let rest = feed_of(&api, "", 2).await;
    let q = "query($after: String) { events(types: [\"company.*\"], first: 10, after: $after) { edges { cursor node { type position data } } pageInfo { hasNextPage } } }";
    let doc = s.gql(&api.1, q, json!({})).await;
    let edges = doc["data"]["events"]["edges"].as_array().unwrap();
    assert_eq!(edges.len(), 1, "{doc}");
    assert_eq!(edges[0]["node"]["type"], "company.created");
    assert_eq!(edges[0]["node"]["position"], rest["data"][0]["position"]);
    assert_eq!(edges[0]["node"]["data"]["object"]["name"], "Acme");
    let after = edges[0]["cursor"].clone();
    let next = s.gql(&api.1, q, json!({"after": after})).await;
    assert_eq!(next["data"]["events"]["edges"], json!([]), "{next}");
    let bad = s
        .gql(&api.1, "{ events(types: [\"nope\"]) { edges { cursor } } }", json!({}))
        .await;
    assert_eq!(bad["errors"][0]["extensions"]["code"], "invalid_query", "{bad}");
}

on_both!(
    the_feed_lists_changes_in_commit_order_and_resumes_from_a_position,
    the_feed_is_confined_to_the_workspace_and_needs_its_scope,
    bad_feed_queries_are_refused,
    the_catalogue_and_graphql_describe_and_page_the_same_events,
);
