//! Outgoing webhooks, managed and delivered: an endpoint's secret shown once, each later
//! change sent signed (checked by an independent Standard Webhooks verifier) exactly as
//! the feed shows it, what an endpoint's patterns and filters let through, secret
//! rotation, test deliveries, the addresses refused, workspace isolation and bad input.
//! Retries, failures, replays and several processes are in `webhooks_delivery.rs`.

// Test bodies run through `on_both_dbs!`, outside `#[test]` fns, where a failed unwrap is
// the intended test failure.
#![allow(clippy::unwrap_used)]

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use chrono::{SecondsFormat, TimeDelta, Utc};
use rapport_tests::receiver::{Received, Receiver, unix_now};
use rapport_tests::webhooks::{EVENT_KEYS, LOCAL, QUIET, SOON, WEBHOOK_KEYS, WEBHOOKS, WebhookCalls, keys, to_path};
use rapport_tests::{Api, NOWHERE, Reply, Server, TestDb, id_of, on_both_dbs, pick};
use reqwest::Method;
use serde_json::{Value, json};

async fn a_new_endpoint_shows_its_secret_once_and_gets_each_later_change_signed_as_the_feed_shows_it(db: TestDb) {
    let s = Server::start_on(db, &LOCAL).await;
    let rx = Receiver::start().await;
    let api = Api::admin(&s).await;
    api.new_contact("early@example.com").await;
    let url = rx.url("/hooks/crm");
    let body = json!({"url": url, "event_types": ["contact.*"], "description": "CRM sync"});
    let created = api.post(WEBHOOKS, body).await;
    assert_eq!(created.status, 201, "{}", created.body);
    let secret = created.body["secret"].as_str().unwrap().to_owned();
    let key = STANDARD.decode(secret.strip_prefix("whsec_").unwrap()).unwrap();
    assert!(key.len() >= 16, "a {}-byte key", key.len());
    let expected = json!({"url": url, "description": "CRM sync", "event_types": ["contact.*"], "fields": null,
        "skip_own": false, "enabled": true, "disabled_reason": null});
    assert_eq!(pick(&created.body, &expected), expected);
    let hook = id_of(&created.body);

    // Never shown again.
    let shown = api.hook(&hook).await;
    assert_eq!(keys(&shown), WEBHOOK_KEYS);
    let mut without_secret = created.body.clone();
    without_secret.as_object_mut().unwrap().remove("secret");
    assert_eq!(shown, without_secret);
    let list = api.get(WEBHOOKS).await;
    assert_eq!(list.status, 200, "{}", list.body);
    assert_eq!(list.body["data"], json!([shown]));
    assert_eq!(list.body["page"]["has_more"], false);

    let contact = api.new_contact("ada@example.com").await;
    let got = rx.wait_for(1, SOON).await;
    let r = &got[0];
    assert_eq!((r.method.as_str(), r.path.as_str()), ("POST", "/hooks/crm"));
    assert_eq!(r.header("content-type"), Some("application/json"));
    assert_eq!(r.signatures().len(), 1, "{:?}", r.headers);
    assert_eq!(r.verify(&secret), Ok(0));
    let at: i64 = r.header("webhook-timestamp").unwrap().parse().unwrap();
    assert!((unix_now() - at).abs() <= 60, "signed at {at}");
    let event = r.json();
    assert_eq!(keys(&event), EVENT_KEYS);
    assert_eq!(event["type"], "contact.created");
    assert_eq!(event["data"]["object"]["id"], contact.as_str());
    assert_eq!(r.id(), event["id"].as_str().unwrap());
    assert_eq!(event, api.feed_event(r.id()).await);
    // The contact created before the endpoint is never sent.
    assert_eq!(rx.settle(QUIET).await.len(), 1);

    let delivery = api
        .delivery_when(&hook, "succeeded", |d| d["status"] == "succeeded")
        .await;
    let expected = json!({"event_id": r.id(), "event_type": "contact.created", "attempts": 1,
        "last_status": 200, "last_error": null, "next_attempt_at": null});
    assert_eq!(pick(&delivery, &expected), expected);
    let attempts = api.attempts(&hook, &id_of(&delivery)).await;
    assert_eq!(attempts.len(), 1, "{attempts:?}");
    assert_eq!(attempts[0]["status_code"], 200);
    assert_eq!(attempts[0]["error"], Value::Null);
    assert!(attempts[0]["latency_ms"].is_u64(), "{}", attempts[0]);
    assert_eq!(api.deliveries(&hook).await.len(), 1);
}

async fn event_types_fields_and_skip_own_choose_what_an_endpoint_gets(db: TestDb) {
    let s = Server::start_on(db, &LOCAL).await;
    let rx = Receiver::start().await;
    let api = Api::admin(&s).await;
    api.hook_to(&rx.url("/contacts"), &["contact.*"]).await;
    let email_only = json!({"url": rx.url("/email"), "event_types": ["contact.updated"], "fields": ["email"]});
    assert_eq!(api.webhook(email_only).await["fields"], json!(["email"]));
    let others = json!({"url": rx.url("/others"), "event_types": ["*"], "skip_own": true});
    assert_eq!(api.webhook(others).await["skip_own"], true);

    // The admin client, which created the endpoints.
    let id = api.new_contact("ada@example.com").await;
    let path = format!("/v1/contacts/{id}");
    assert_eq!(api.patch(&path, json!({"first_name": "Ada"})).await.status, 200);
    let consent = json!({"purpose": "analytics", "status": "granted", "source": "api"});
    assert_eq!(api.post(&format!("{path}/consents"), consent).await.status, 201);
    assert_eq!(api.patch(&path, json!({"email": "ada@example.org"})).await.status, 200);
    // Another client.
    let other = s.client(Some(&s.admin.workspace_id), "contacts:write");
    let theirs = Api(&s, s.token(&other).await);
    let their_contact = theirs.new_contact("bob@example.com").await;

    let done = |r: &[Received]| {
        to_path(r, "/contacts").len() >= 4 && !to_path(r, "/email").is_empty() && !to_path(r, "/others").is_empty()
    };
    rx.wait_until("every expected delivery", SOON, done).await;
    let got = rx.settle(QUIET).await;
    let summary = |path: &str| {
        let mut rows: Vec<String> = to_path(&got, path)
            .iter()
            .map(|r| {
                let e = r.json();
                format!("{} {}", e["type"].as_str().unwrap(), e["data"]["changed_fields"])
            })
            .collect();
        rows.sort();
        rows
    };
    assert_eq!(
        summary("/contacts"),
        [
            "contact.created null",
            "contact.created null",
            "contact.updated [\"email\"]",
            "contact.updated [\"first_name\"]"
        ]
    );
    assert_eq!(summary("/email"), ["contact.updated [\"email\"]"]);
    assert_eq!(summary("/others"), ["contact.created null"]);
    let theirs_delivered = to_path(&got, "/others")[0].json();
    assert_eq!(
        theirs_delivered["actor"],
        json!({"type": "api_client", "id": other.client_id})
    );
    assert_eq!(theirs_delivered["data"]["object"]["id"], their_contact.as_str());
    assert_eq!(got.len(), 6, "nothing else arrives");
}

async fn a_rotated_secret_signs_beside_the_old_one_during_the_overlap(db: TestDb) {
    let s = Server::start_on(db, &LOCAL).await;
    let rx = Receiver::start().await;
    let api = Api::admin(&s).await;
    let (hook, old) = api.hook_to(&rx.url("/r"), &["contact.*"]).await;
    let rotated = api.post(&format!("{WEBHOOKS}/{hook}/rotate-secret"), json!({})).await;
    assert_eq!(rotated.status, 200, "{}", rotated.body);
    let new = rotated.body["secret"].as_str().unwrap().to_owned();
    assert!(new.starts_with("whsec_") && new != old, "{new}");
    assert!(api.hook(&hook).await.get("secret").is_none());

    api.new_contact("ada@example.com").await;
    let got = rx.wait_for(1, SOON).await;
    assert_eq!(got[0].signatures().len(), 2, "{:?}", got[0].headers);
    assert_eq!(got[0].verify(&new), Ok(0), "the new secret signs first");
    assert_eq!(got[0].verify(&old), Ok(1));

    // Without an overlap the previous secret stops signing at once.
    let body = json!({"overlap_seconds": 0});
    let rotated = api.post(&format!("{WEBHOOKS}/{hook}/rotate-secret"), body).await;
    assert_eq!(rotated.status, 200, "{}", rotated.body);
    let newest = rotated.body["secret"].as_str().unwrap().to_owned();
    api.new_contact("bob@example.com").await;
    let got = rx.wait_for(2, SOON).await;
    assert_eq!(got[1].signatures().len(), 1, "{:?}", got[1].headers);
    assert_eq!(got[1].verify(&newest), Ok(0));
    assert!(got[1].verify(&new).is_err());
    assert!(got[1].verify(&old).is_err());
}

async fn a_test_delivery_is_signed_sent_at_once_and_reports_how_the_receiver_answered(db: TestDb) {
    let s = Server::start_on(db, &LOCAL).await;
    let mut rx = Receiver::start().await;
    let api = Api::admin(&s).await;
    let (hook, secret) = api.hook_to(&rx.url("/t"), &["contact.*"]).await;
    let test = format!("{WEBHOOKS}/{hook}/test");
    let r = api.send(Method::POST, &test, None).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let expected = json!({"ok": true, "status_code": 200, "error": null});
    assert_eq!(pick(&r.body, &expected), expected);
    assert!(r.body["latency_ms"].is_u64(), "{}", r.body);
    let got = rx.wait_for(1, SOON).await;
    assert_eq!(got[0].verify(&secret), Ok(0));
    let event = got[0].json();
    assert_eq!(event["type"], "webhook.test");
    assert_eq!(got[0].id(), event["id"].as_str().unwrap());
    // Not in the feed, not a delivery.
    assert!(api.feed().await.iter().all(|e| e["type"] != "webhook.test"));
    assert_eq!(api.deliveries(&hook).await, Vec::<Value>::new());

    // A failure is reported, not retried.
    rx.respond(500);
    let r = api.send(Method::POST, &test, None).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        (&r.body["ok"], &r.body["status_code"]),
        (&json!(false), &json!(500)),
        "{}",
        r.body
    );
    rx.stop().await;
    let r = api.send(Method::POST, &test, None).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        (&r.body["ok"], &r.body["status_code"]),
        (&json!(false), &Value::Null),
        "{}",
        r.body
    );
    assert!(r.body["error"].as_str().is_some_and(|e| !e.is_empty()), "{}", r.body);
    rx.restart().await;
    assert_eq!(rx.settle(QUIET).await.len(), 2);
    api.missing_hook(&format!("{WEBHOOKS}/{NOWHERE}/test")).await;
}

/// Asserts that `POST path` (with an empty object) is a 404.
trait Missing {
    async fn missing_hook(&self, path: &str);
}

impl Missing for Api<'_> {
    async fn missing_hook(&self, path: &str) {
        self.post(path, json!({})).await.problem(404, "not_found");
    }
}

async fn endpoints_are_listed_patched_with_if_match_disabled_and_deleted(db: TestDb) {
    let s = Server::start_on(db, &LOCAL).await;
    let rx = Receiver::start().await;
    let api = Api::admin(&s).await;
    let (a, _) = api.hook_to(&rx.url("/a"), &["contact.*"]).await;
    let (b, _) = api.hook_to(&rx.url("/b"), &["contact.*", "consent.updated"]).await;
    let list = api.get(WEBHOOKS).await;
    let mut listed: Vec<String> = list.body["data"].as_array().unwrap().iter().map(id_of).collect();
    listed.sort();
    let mut both = vec![a.clone(), b.clone()];
    both.sort();
    assert_eq!(listed, both);

    let before = api.hook(&a).await;
    let version = before["version"].as_i64().unwrap();
    let tag = format!("\"{version}\"");
    let change = json!({"event_types": ["consent.updated"], "description": "Consents", "fields": ["email"]});
    let r = api.patch_hook(&a, &change, Some(&tag)).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let expected = json!({"event_types": ["consent.updated"], "description": "Consents", "fields": ["email"],
        "url": rx.url("/a"), "version": version + 1, "created_at": before["created_at"]});
    assert_eq!(pick(&r.body, &expected), expected);
    assert_eq!(api.hook(&a).await, r.body);
    api.patch_hook(&a, &json!({"description": "x"}), Some(&tag))
        .await
        .problem(412, "precondition_failed");
    let cleared = api
        .patch_hook(&a, &json!({"description": null, "fields": null}), None)
        .await;
    assert_eq!(
        (&cleared.body["description"], &cleared.body["fields"]),
        (&Value::Null, &Value::Null)
    );

    // A disabled endpoint gets nothing; the other one is the witness.
    let back = json!({"event_types": ["contact.*"], "enabled": false});
    let off = api.patch_hook(&a, &back, None).await;
    assert_eq!(off.body["enabled"], false, "{}", off.body);
    api.new_contact("ada@example.com").await;
    rx.wait_until("b's delivery", SOON, |r| !to_path(r, "/b").is_empty())
        .await;
    assert!(to_path(&rx.settle(QUIET).await, "/a").is_empty());
    let on = api.patch_hook(&a, &json!({"enabled": true}), None).await;
    assert_eq!(
        (&on.body["enabled"], &on.body["disabled_reason"]),
        (&json!(true), &Value::Null)
    );

    assert_eq!(api.delete(&format!("{WEBHOOKS}/{a}")).await.status, 204);
    api.get(&format!("{WEBHOOKS}/{a}")).await.problem(404, "not_found");
    api.delete(&format!("{WEBHOOKS}/{a}")).await.problem(404, "not_found");
    let rest = api.get(WEBHOOKS).await;
    assert_eq!(
        rest.body["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(id_of)
            .collect::<Vec<_>>(),
        [b]
    );
    // A deleted endpoint gets nothing more.
    let sent_to_a = to_path(&rx.received(), "/a").len();
    api.new_contact("bob@example.com").await;
    rx.wait_until("b's second delivery", SOON, |r| to_path(r, "/b").len() >= 2)
        .await;
    assert_eq!(to_path(&rx.settle(QUIET).await, "/a").len(), sent_to_a);
}

/// Asserts a 422 at `/url` with code `url_not_allowed`.
#[track_caller]
fn not_allowed(r: &Reply, url: &str) {
    r.problem(422, "validation_failed");
    assert_eq!(r.pointers(), ["/url"], "{url}: {}", r.body);
    assert_eq!(r.body["errors"][0]["code"], "url_not_allowed", "{url}: {}", r.body);
}

async fn private_addresses_and_plain_http_are_refused_unless_allowed(db: TestDb) {
    let mut s = Server::start_on(db, &[]).await;
    let api = Api::admin(&s).await;
    let refused = [
        "https://127.0.0.1/x",
        "https://10.0.0.5/x",
        "https://172.16.3.4/x",
        "https://192.168.1.1/x",
        "https://[::1]/x",
        "https://[fc00::1]/x",
        "https://[fe80::1]/x",
        "https://169.254.169.254/latest/meta-data",
        "https://0.0.0.0/x",
        "https://224.0.0.1/x",
        "https://[::ffff:127.0.0.1]/x",
        "https://localhost/x",
        "http://example.com/",
    ];
    for url in refused {
        let r = api.post(WEBHOOKS, json!({"url": url, "event_types": ["*"]})).await;
        not_allowed(&r, url);
    }
    // A public address is fine, and a change of URL is checked the same way.
    let (hook, _) = api.hook_to("https://1.1.1.1/hook", &["*"]).await;
    let r = api.patch_hook(&hook, &json!({"url": "https://10.0.0.5/x"}), None).await;
    not_allowed(&r, "https://10.0.0.5/x");
    assert_eq!(api.hook(&hook).await["url"], "https://1.1.1.1/hook");
    assert_eq!(api.get(WEBHOOKS).await.body["data"].as_array().unwrap().len(), 1);

    // Plain HTTP allowed does not allow private addresses.
    s.terminate();
    let http = s.start_sharing(&[("RAPPORT_WEBHOOK_ALLOW_HTTP", "true")]).await;
    let api = Api::admin(&http).await;
    for url in ["http://127.0.0.1:8080/x", "http://10.0.0.5/x", "http://localhost/x"] {
        let r = api.post(WEBHOOKS, json!({"url": url, "event_types": ["*"]})).await;
        not_allowed(&r, url);
    }
}

async fn an_address_allowed_at_creation_is_checked_again_at_every_delivery(db: TestDb) {
    let mut s = Server::start_on(db, &LOCAL).await;
    let rx = Receiver::start().await;
    let (hook, _) = Api::admin(&s).await.hook_to(&rx.url("/h"), &["contact.*"]).await;
    s.terminate();
    let env = [
        ("RAPPORT_WEBHOOK_ALLOW_HTTP", "true"),
        ("RAPPORT_WEBHOOK_RETRY_SCHEDULE", "0,1,1"),
    ];
    let strict = s.start_sharing(&env).await;
    let api = Api::admin(&strict).await;
    api.new_contact("ada@example.com").await;
    let d = api
        .delivery_when(&hook, "attempted", |d| d["attempts"].as_u64() >= Some(1))
        .await;
    assert!(d["last_error"].as_str().unwrap().contains("address not allowed"), "{d}");
    assert_eq!(d["last_status"], Value::Null);
    let attempts = api.attempts(&hook, &id_of(&d)).await;
    assert!(
        attempts[0]["error"].as_str().unwrap().contains("address not allowed"),
        "{attempts:?}"
    );
    assert_eq!(attempts[0]["status_code"], Value::Null);
    assert_eq!(rx.settle(QUIET).await.len(), 0);
}

async fn another_workspaces_endpoints_are_not_found_and_never_get_this_workspaces_events(db: TestDb) {
    let s = Server::start_on(db, &LOCAL).await;
    let rx = Receiver::start().await;
    let api = Api::admin(&s).await;
    let (_, other) = s.other_workspace().await;
    let theirs = Api(&s, other);
    let since = (Utc::now() - TimeDelta::seconds(2)).to_rfc3339_opts(SecondsFormat::Secs, true);
    let (mine, _) = api.hook_to(&rx.url("/mine"), &["contact.*"]).await;
    let untouched = api.hook(&mine).await;
    let (their_hook, _) = theirs.hook_to(&rx.url("/theirs"), &["contact.*"]).await;
    let contact = api.new_contact("ada@example.com").await;
    let their_contact = theirs.new_contact("bob@example.com").await;
    let done = |r: &[Received]| !to_path(r, "/mine").is_empty() && !to_path(r, "/theirs").is_empty();
    rx.wait_until("one delivery to each", SOON, done).await;
    let got = rx.settle(QUIET).await;
    let objects = |path: &str| -> Vec<Value> {
        to_path(&got, path)
            .iter()
            .map(|r| r.json()["data"]["object"]["id"].clone())
            .collect()
    };
    assert_eq!(objects("/mine"), [json!(contact)]);
    assert_eq!(objects("/theirs"), [json!(their_contact)]);
    let delivery = id_of(&api.deliveries(&mine).await[0]);

    let base = format!("{WEBHOOKS}/{mine}");
    theirs.get(&base).await.problem(404, "not_found");
    theirs
        .patch(&base, json!({"description": "x"}))
        .await
        .problem(404, "not_found");
    theirs.delete(&base).await.problem(404, "not_found");
    theirs
        .get(&format!("{base}/deliveries"))
        .await
        .problem(404, "not_found");
    theirs
        .get(&format!("{base}/deliveries/{delivery}/attempts"))
        .await
        .problem(404, "not_found");
    for path in ["test", "rotate-secret"] {
        theirs.missing_hook(&format!("{base}/{path}")).await;
    }
    theirs
        .missing_hook(&format!("{base}/deliveries/{delivery}/retry"))
        .await;
    let replay = theirs.post(&format!("{base}/replay"), json!({"since": since})).await;
    replay.problem(404, "not_found");
    // Nor through their own endpoint.
    let through = format!("{WEBHOOKS}/{their_hook}/deliveries/{delivery}");
    theirs
        .get(&format!("{through}/attempts"))
        .await
        .problem(404, "not_found");
    theirs.missing_hook(&format!("{through}/retry")).await;
    let listed = theirs.get(WEBHOOKS).await.body["data"].clone();
    assert_eq!(
        listed.as_array().unwrap().iter().map(id_of).collect::<Vec<_>>(),
        [their_hook]
    );
    // Nothing of theirs reached this endpoint, which is untouched.
    assert_eq!(
        rx.settle(QUIET).await.len(),
        2,
        "no test delivery, retry or replay went out"
    );
    assert_eq!(api.hook(&mine).await, untouched);
    let replay = api.post(&format!("{base}/replay"), json!({"since": since})).await;
    assert_eq!((replay.status.as_u16(), &replay.body), (202, &json!({"scheduled": 1})));
    let again = rx.wait_for(3, SOON).await;
    assert_eq!(again[2].path, "/mine");
    assert_eq!(again[2].json()["data"]["object"]["id"], contact.as_str());
}

async fn bad_webhook_input_is_refused_at_its_pointer_and_managing_needs_its_scope(db: TestDb) {
    let s = Server::start_on(db, &LOCAL).await;
    let api = Api::admin(&s).await;
    let url = "http://127.0.0.1:9/hook";
    let with = |extra: Value| {
        let mut body = json!({"url": url, "event_types": ["contact.*"]});
        for (k, v) in extra.as_object().unwrap() {
            if v.is_null() {
                body.as_object_mut().unwrap().remove(k);
            } else {
                body[k] = v.clone();
            }
        }
        body
    };
    let too_many: Vec<&str> = vec!["contact.*"; 51];
    let cases = [
        (with(json!({"event_types": ["nope.*"]})), "/event_types/0", None),
        (
            with(json!({"event_types": ["contact.*", "contact.create"]})),
            "/event_types/1",
            None,
        ),
        (with(json!({"event_types": []})), "/event_types", None),
        (with(json!({ "event_types": too_many })), "/event_types", None),
        (with(json!({"event_types": null})), "/event_types", Some("required")),
        (with(json!({"url": null})), "/url", Some("required")),
        (with(json!({"url": "not a url"})), "/url", None),
        (with(json!({"fields": ["email", 42]})), "/fields/1", None),
        (with(json!({"skip_own": "yes"})), "/skip_own", Some("wrong_type")),
        (with(json!({"colour": "red"})), "/colour", Some("unknown_field")),
    ];
    for (body, pointer, code) in cases {
        let r = api.post(WEBHOOKS, body.clone()).await;
        r.problem(422, "validation_failed");
        let pointers = r.pointers();
        assert_eq!(pointers.len(), 1, "{body}: {}", r.body);
        // Too many patterns may be pointed at as a whole or at the first one too many.
        assert!(pointers[0].starts_with(pointer), "{body}: {}", r.body);
        if let Some(code) = code {
            assert_eq!(r.body["errors"][0]["code"], code, "{body}: {}", r.body);
        }
    }
    assert_eq!(api.get(WEBHOOKS).await.body["data"], json!([]));

    let (hook, _) = api.hook_to(url, &["contact.*"]).await;
    let replay = format!("{WEBHOOKS}/{hook}/replay");
    for (body, pointer) in [
        (json!({}), "/since"),
        (json!({"since": "yesterday"}), "/since"),
        (json!({"since": "2024-03-01T00:00:00Z", "until": "soon"}), "/until"),
    ] {
        let r = api.post(&replay, body.clone()).await;
        r.problem(422, "validation_failed");
        assert_eq!(r.pointers(), [pointer], "{body}: {}", r.body);
    }
    api.get(&format!("{WEBHOOKS}/{NOWHERE}"))
        .await
        .problem(404, "not_found");
    api.get(&format!("{WEBHOOKS}/{hook}/deliveries/{NOWHERE}/attempts"))
        .await
        .problem(404, "not_found");
    api.missing_hook(&format!("{WEBHOOKS}/{hook}/deliveries/{NOWHERE}/retry"))
        .await;

    let reader = Api::with(&s, "contacts:read").await;
    reader.get(WEBHOOKS).await.problem(403, "insufficient_scope");
    reader
        .get(&format!("{WEBHOOKS}/{hook}"))
        .await
        .problem(403, "insufficient_scope");
    let body = json!({"url": url, "event_types": ["*"]});
    reader
        .post(WEBHOOKS, body.clone())
        .await
        .problem(403, "insufficient_scope");
    let manager = Api::with(&s, "webhooks:manage").await;
    assert_eq!(manager.get(WEBHOOKS).await.body["data"].as_array().unwrap().len(), 1);
    manager.webhook(body).await;
}

on_both_dbs!(
    a_new_endpoint_shows_its_secret_once_and_gets_each_later_change_signed_as_the_feed_shows_it,
    event_types_fields_and_skip_own_choose_what_an_endpoint_gets,
    a_rotated_secret_signs_beside_the_old_one_during_the_overlap,
    a_test_delivery_is_signed_sent_at_once_and_reports_how_the_receiver_answered,
    endpoints_are_listed_patched_with_if_match_disabled_and_deleted,
    private_addresses_and_plain_http_are_refused_unless_allowed,
    an_address_allowed_at_creation_is_checked_again_at_every_delivery,
    another_workspaces_endpoints_are_not_found_and_never_get_this_workspaces_events,
    bad_webhook_input_is_refused_at_its_pointer_and_managing_needs_its_scope,
);
