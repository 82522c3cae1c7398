//! `Idempotency-Key` on POST: a retry replays the first answer instead of acting twice,
//! a key cannot be reused for another request, keys belong to the client that sent them,
//! and concurrent retries never create duplicates.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use rapport_tests::{Reply, Server, on_both};
use reqwest::Method;
use serde_json::{Value, json};

const CONTACTS: &str = "/v1/contacts";

/// POSTs `body` to `path`, with `key` as `Idempotency-Key` when given.
async fn post(s: &Server, path: &str, token: &str, key: Option<&str>, body: &Value) -> Reply {
    let mut r = s.req(Method::POST, path, token).json(body);
    if let Some(k) = key {
        r = r.header("idempotency-key", k);
    }
    Reply::from(r.send().await.expect("request")).await
}

/// How many contacts have this email.
async fn contacts_with(s: &Server, token: &str, email: &str) -> usize {
    let path = format!("{CONTACTS}?email={email}");
    let r = s.call(Method::GET, &path, token, None).await;
    assert_eq!(r.status, 200, "{}", r.body);
    r.body["data"].as_array().unwrap().len()
}

/// A token of the bootstrap client carrying only `scope`.
async fn narrowed_token(s: &Server, scope: &str) -> String {
    let (id, secret) = (s.admin.client_id.as_str(), s.admin.client_secret.as_str());
    let form = [
        ("grant_type", "client_credentials"),
        ("client_id", id),
        ("client_secret", secret),
        ("scope", scope),
    ];
    let request = s.http.post(format!("{}/v1/auth/token", s.base)).form(&form);
    let r = Reply::from(request.send().await.unwrap()).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["scope"], scope);
    r.body["access_token"].as_str().unwrap().to_owned()
}

/// Asserts that `again` replays `first`: same status, body, Location and ETag, marked
/// as replayed (and `first` not).
#[track_caller]
fn assert_replayed(first: &Reply, again: &Reply) {
    assert_eq!(
        first.header("idempotent-replayed"),
        None,
        "the first answer is no replay"
    );
    assert_eq!(again.header("idempotent-replayed"), Some("true"), "{:?}", again.headers);
    assert_eq!(again.status, first.status, "{}", again.body);
    assert_eq!(again.body, first.body);
    assert_eq!(again.header("location"), first.header("location"));
    assert_eq!(again.header("etag"), first.header("etag"));
    assert_eq!(again.header("content-type"), first.header("content-type"));
}

async fn a_retried_post_with_the_same_key_creates_one_contact_and_replays_the_answer(s: Server) {
    let token = s.admin_token().await;
    let body = json!({"email": "retry@example.com", "first_name": "Ada"});
    let first = post(&s, CONTACTS, &token, Some("order-1001"), &body).await;
    assert_eq!(first.status, 201, "{}", first.body);
    assert!(first.header("location").is_some() && first.header("etag").is_some());
    let again = post(&s, CONTACTS, &token, Some("order-1001"), &body).await;
    assert_replayed(&first, &again);
    // A third retry is replayed too, and only one contact (and one event) exists.
    let third = post(&s, CONTACTS, &token, Some("order-1001"), &body).await;
    assert_replayed(&first, &third);
    assert_eq!(contacts_with(&s, &token, "retry@example.com").await, 1);
    assert_eq!(s.events("contact.created").await.len(), 1);
}

async fn the_same_key_with_another_body_is_refused_and_changes_nothing(s: Server) {
    let token = s.admin_token().await;
    let (one, two) = (json!({"email": "one@example.com"}), json!({"email": "two@example.com"}));
    let first = post(&s, CONTACTS, &token, Some("k-1"), &one).await;
    assert_eq!(first.status, 201, "{}", first.body);
    let other = post(&s, CONTACTS, &token, Some("k-1"), &two).await;
    other.problem(422, "idempotency_key_reused");
    assert_eq!(other.header("idempotent-replayed"), None);
    assert_eq!(contacts_with(&s, &token, "two@example.com").await, 0);
    // The same key on another path is another request too.
    let company = post(&s, "/v1/companies", &token, Some("k-1"), &json!({"name": "One"})).await;
    company.problem(422, "idempotency_key_reused");
    // The original is still replayed.
    let again = post(&s, CONTACTS, &token, Some("k-1"), &one).await;
    assert_replayed(&first, &again);
}

async fn keys_belong_to_the_api_client_that_sent_them(s: Server) {
    let admin = s.admin_token().await;
    let other_client = s.token_with("contacts:read contacts:write").await;
    let (body_a, body_b) = (json!({"email": "a@example.com"}), json!({"email": "b@example.com"}));
    let key = Some("shared-key");
    let a = post(&s, CONTACTS, &admin, key, &body_a).await;
    assert_eq!(a.status, 201, "{}", a.body);
    // Another client's identical key is its own: its request runs, unaffected.
    let b = post(&s, CONTACTS, &other_client, key, &body_b).await;
    assert_eq!(b.status, 201, "{}", b.body);
    assert_eq!(b.header("idempotent-replayed"), None);
    assert_ne!(a.body["id"], b.body["id"]);
    // Each client's retry replays its own answer.
    assert_replayed(&b, &post(&s, CONTACTS, &other_client, key, &body_b).await);
    // Another token of the same client (narrowed to two scopes) is the same caller.
    let admin_again = narrowed_token(&s, "contacts:read contacts:write").await;
    assert_ne!(admin, admin_again);
    assert_replayed(&a, &post(&s, CONTACTS, &admin_again, key, &body_a).await);
    // A client of another workspace is independent as well.
    let (_, elsewhere) = s.other_workspace().await;
    let c = post(&s, CONTACTS, &elsewhere, key, &body_a).await;
    assert_eq!(c.status, 201, "{}", c.body);
    assert_eq!(c.header("idempotent-replayed"), None);
}

async fn a_request_refused_by_validation_is_replayed_as_the_same_422(s: Server) {
    let token = s.admin_token().await;
    let bad = json!({"email": "not an email"});
    let first = post(&s, CONTACTS, &token, Some("bad-1"), &bad).await;
    first.problem(422, "validation_failed");
    assert_eq!(first.pointers(), vec!["/email".to_owned()]);
    let again = post(&s, CONTACTS, &token, Some("bad-1"), &bad).await;
    assert_replayed(&first, &again);
    // The key stays bound to the refused request: a corrected body needs a new key.
    let fixed = json!({"email": "fixed@example.com"});
    let reused = post(&s, CONTACTS, &token, Some("bad-1"), &fixed).await;
    reused.problem(422, "idempotency_key_reused");
    let fresh = post(&s, CONTACTS, &token, Some("bad-2"), &fixed).await;
    assert_eq!(fresh.status, 201, "{}", fresh.body);
}

async fn without_a_key_every_post_acts(s: Server) {
    let token = s.admin_token().await;
    let (x1, x2) = (json!({"email": "x1@example.com"}), json!({"email": "x2@example.com"}));
    let one = post(&s, CONTACTS, &token, None, &x1).await;
    let two = post(&s, CONTACTS, &token, None, &x2).await;
    for r in [&one, &two] {
        assert_eq!(r.status, 201, "{}", r.body);
        assert_eq!(r.header("idempotent-replayed"), None);
    }
    assert_ne!(one.body["id"], two.body["id"]);
    // The same body twice without a key is a second attempt, which conflicts.
    let dup = post(&s, CONTACTS, &token, None, &x1).await;
    dup.problem(409, "conflict");
    assert_eq!(dup.body["existing_id"], one.body["id"]);
}

async fn empty_or_overlong_keys_are_refused(s: Server) {
    let token = s.admin_token().await;
    let body = json!({"email": "keys@example.com"});
    for key in [String::new(), "k".repeat(256), "k".repeat(1000)] {
        let r = post(&s, CONTACTS, &token, Some(&key), &body).await;
        r.problem(400, "invalid_idempotency_key");
    }
    // Non-ASCII bytes cannot be read as a key.
    let non_ascii = reqwest::header::HeaderValue::from_bytes(b"cl\xc3\xa9").unwrap();
    let request = s.req(Method::POST, CONTACTS, &token).json(&body);
    let r = request.header("idempotency-key", non_ascii).send().await.unwrap();
    Reply::from(r).await.problem(400, "invalid_idempotency_key");
    let stored = contacts_with(&s, &token, "keys@example.com").await;
    assert_eq!(stored, 0, "refused keys must not act");
    // 1 and 255 characters are fine.
    for (key, email) in [("k".to_owned(), "k1@example.com"), ("k".repeat(255), "k2@example.com")] {
        let body = json!({ "email": email });
        let r = post(&s, CONTACTS, &token, Some(&key), &body).await;
        assert_eq!(r.status, 201, "{}", r.body);
        assert_replayed(&r, &post(&s, CONTACTS, &token, Some(&key), &body).await);
    }
}

async fn keys_work_for_companies_and_batches(s: Server) {
    let token = s.admin_token().await;
    let company = json!({"name": "Acme", "domain": "acme.example"});
    let first = post(&s, "/v1/companies", &token, Some("co-1"), &company).await;
    assert_eq!(first.status, 201, "{}", first.body);
    let again = post(&s, "/v1/companies", &token, Some("co-1"), &company).await;
    assert_replayed(&first, &again);
    let list = s.call(Method::GET, "/v1/companies", &token, None).await;
    assert_eq!(list.body["data"].as_array().unwrap().len(), 1, "{}", list.body);

    let batch = json!({"items": [{"email": "b1@example.com"}, {"email": "b2@example.com", "first_name": "Bo"}]});
    let first = post(&s, "/v1/contacts/batch", &token, Some("batch-1"), &batch).await;
    assert_eq!(first.status, 200, "{}", first.body);
    assert_eq!(first.body["created"], 2, "{}", first.body);
    // Run again, the batch would report "unchanged"; replayed, it reports "created".
    let again = post(&s, "/v1/contacts/batch", &token, Some("batch-1"), &batch).await;
    assert_replayed(&first, &again);
    assert_eq!(again.body["results"][0]["status"], "created");
    let rerun = post(&s, "/v1/contacts/batch", &token, Some("batch-2"), &batch).await;
    assert_eq!(rerun.body["unchanged"], 2, "{}", rerun.body);
    assert_eq!(s.events("contact.created").await.len(), 2);
}

async fn concurrent_requests_with_one_key_create_exactly_one_contact(s: Server) {
    let token = s.admin_token().await;
    let body = json!({"email": "race@example.com", "first_name": "Race"});
    let fire = || post(&s, CONTACTS, &token, Some("race-key"), &body);
    let (r1, r2, r3, r4, r5) = tokio::join!(fire(), fire(), fire(), fire(), fire());
    let answers = [r1, r2, r3, r4, r5];
    let created: Vec<&Reply> = answers.iter().filter(|r| r.status == 201).collect();
    assert!(!created.is_empty(), "nothing created: {:?}", answers.map(|r| r.body));
    for r in &answers {
        if r.status == 201 {
            assert_eq!(r.body, created[0].body, "every success is the one created contact");
        } else {
            r.problem(409, "idempotency_request_in_progress");
        }
    }
    let replayed = |r: &&&Reply| r.header("idempotent-replayed").is_some();
    let originals = created.iter().filter(|r| !replayed(r)).count();
    assert_eq!(originals, 1, "exactly one request ran; the other successes are replays");
    assert_eq!(contacts_with(&s, &token, "race@example.com").await, 1);
    assert_eq!(s.events("contact.created").await.len(), 1);
    // Once the first request is done, a retry replays it.
    let later = post(&s, CONTACTS, &token, Some("race-key"), &body).await;
    assert_eq!(later.header("idempotent-replayed"), Some("true"));
    assert_eq!(later.body, created[0].body);
}

on_both!(
    a_retried_post_with_the_same_key_creates_one_contact_and_replays_the_answer,
    the_same_key_with_another_body_is_refused_and_changes_nothing,
    keys_belong_to_the_api_client_that_sent_them,
    a_request_refused_by_validation_is_replayed_as_the_same_422,
    without_a_key_every_post_acts,
    empty_or_overlong_keys_are_refused,
    keys_work_for_companies_and_batches,
    concurrent_requests_with_one_key_create_exactly_one_contact,
);
