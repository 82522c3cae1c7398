//! Webhook delivery when things go wrong: a receiver that is down, fails, goes away,
//! redirects or asks for patience; deliveries retried by hand and replayed; several server
//! processes sharing the work; a server killed in the middle of a delivery. Every request
//! goes to a real HTTP receiver and is verified there.

// Test bodies run through `on_both_dbs!`, outside `#[test]` fns, where a failed unwrap is
// the intended test failure.
#![allow(clippy::unwrap_used)]

use std::collections::BTreeSet;
use std::time::Duration;

use chrono::{SecondsFormat, Utc};
use rapport_tests::receiver::{Answer, Received, Receiver};
use rapport_tests::webhooks::{LOCAL, QUIET, SOON, WEBHOOKS, WebhookCalls, count_by_id, ids, local_retrying};
use rapport_tests::{Api, Server, TestDb, id_of, on_both_dbs, pick};
use reqwest::Method;
use serde_json::{Value, json};

/// The attempts of a delivery, oldest first.
async fn attempts_in_order(api: &Api<'_>, hook: &str, delivery: &str) -> Vec<Value> {
    let mut attempts = api.attempts(hook, delivery).await;
    attempts.sort_by_key(|a| {
        a["attempted_at"]
            .as_str()
            .unwrap()
            .parse::<chrono::DateTime<Utc>>()
            .unwrap()
    });
    attempts
}

fn now() -> String {
    Utc::now().to_rfc3339_opts(SecondsFormat::Secs, true)
}

async fn a_receiver_that_was_down_gets_the_event_on_a_retry_and_the_attempts_show_both(db: TestDb) {
    let s = Server::start_on(db, &local_retrying("0,1,1,1,1,1")).await;
    let mut rx = Receiver::start().await;
    let api = Api::admin(&s).await;
    let (hook, secret) = api.hook_to(&rx.url("/h"), &["contact.*"]).await;
    rx.stop().await;
    api.new_contact("ada@example.com").await;
    let failed = api
        .delivery_when(&hook, "attempted", |d| d["attempts"].as_u64() >= Some(1))
        .await;
    assert_ne!(failed["status"], "succeeded", "{failed}");
    assert!(failed["last_error"].is_string(), "{failed}");
    rx.restart().await;

    let got = rx.wait_for(1, SOON).await;
    assert_eq!(got[0].verify(&secret), Ok(0));
    assert_eq!(got[0].id(), failed["event_id"].as_str().unwrap());
    let done = api
        .delivery_when(&hook, "succeeded", |d| d["status"] == "succeeded")
        .await;
    assert_eq!(id_of(&done), id_of(&failed));
    assert!(done["attempts"].as_u64().unwrap() >= 2, "{done}");
    let expected = json!({"last_status": 200, "last_error": null, "next_attempt_at": null});
    assert_eq!(pick(&done, &expected), expected);
    let attempts = attempts_in_order(&api, &hook, &id_of(&done)).await;
    assert_eq!(done["attempts"], attempts.len(), "{attempts:#?}");
    let first = &attempts[0];
    assert_eq!(first["status_code"], Value::Null, "{first}");
    assert!(first["error"].as_str().is_some_and(|e| !e.is_empty()), "{first}");
    let last = attempts.last().unwrap();
    assert_eq!(
        (&last["status_code"], &last["error"]),
        (&json!(200), &Value::Null),
        "{last}"
    );
    assert_eq!(rx.settle(QUIET).await.len(), 1, "nothing is sent after a success");
    assert_eq!(api.deliveries(&hook).await.len(), 1);
}

async fn an_endpoint_failing_every_attempt_is_disabled_and_announced(db: TestDb) {
    let s = Server::start_on(db, &local_retrying("0,1,1")).await;
    let rx = Receiver::start().await;
    rx.answer(Answer::status(500).body("boom"));
    let api = Api::admin(&s).await;
    let (hook, secret) = api.hook_to(&rx.url("/h"), &["contact.*"]).await;
    api.new_contact("ada@example.com").await;
    let got = rx.wait_for(3, SOON).await;
    assert_eq!(
        count_by_id(&got).len(),
        1,
        "every attempt carries the event's id: {:?}",
        ids(&got)
    );
    assert!(got.iter().all(|r| r.verify(&secret) == Ok(0)));

    let failed = api.delivery_when(&hook, "failed", |d| d["status"] == "failed").await;
    let expected = json!({"attempts": 3, "last_status": 500, "next_attempt_at": null, "event_id": got[0].id()});
    assert_eq!(pick(&failed, &expected), expected);
    let attempts = attempts_in_order(&api, &hook, &id_of(&failed)).await;
    let answers: Vec<(Value, Value)> = attempts
        .iter()
        .map(|a| (a["status_code"].clone(), a["response_body"].clone()))
        .collect();
    assert_eq!(answers, vec![(json!(500), json!("boom")); 3]);

    let disabled = api.hook(&hook).await;
    assert_eq!(disabled["enabled"], false);
    assert!(
        disabled["disabled_reason"].as_str().is_some_and(|r| !r.is_empty()),
        "{disabled}"
    );
    let events = s.events("webhook.disabled").await;
    assert_eq!(events.len(), 1, "{events:?}");
    let (workspace, data) = &events[0];
    assert_eq!(workspace, &s.admin.workspace_id);
    assert_eq!(data["object"]["id"], hook.as_str());
    assert_eq!(data["object"]["enabled"], false);
    assert!(data["reason"].as_str().is_some_and(|r| !r.is_empty()), "{data}");

    // Disabled, it gets nothing; enabled again, it gets later changes.
    api.new_contact("bob@example.com").await;
    assert_eq!(
        rx.settle(QUIET).await.len(),
        3,
        "no 4th attempt, nothing while disabled"
    );
    let on = api.patch_hook(&hook, &json!({"enabled": true}), None).await;
    assert_eq!(
        (&on.body["enabled"], &on.body["disabled_reason"]),
        (&json!(true), &Value::Null)
    );
    rx.respond(200);
    let later = api.new_contact("eve@example.com").await;
    let about_later = |r: &Received| r.json()["data"]["object"]["id"] == later.as_str();
    rx.wait_until("eve's contact", SOON, |rs| rs.iter().any(about_later))
        .await;
}

async fn a_410_disables_the_endpoint_after_one_attempt(db: TestDb) {
    let s = Server::start_on(db, &local_retrying("0,1,1")).await;
    let rx = Receiver::start().await;
    rx.respond(410);
    let api = Api::admin(&s).await;
    let (hook, _) = api.hook_to(&rx.url("/gone"), &["contact.*"]).await;
    api.new_contact("ada@example.com").await;
    rx.wait_for(1, SOON).await;
    let off = api.hook_when(&hook, "disabled", |h| h["enabled"] == false).await;
    assert!(off["disabled_reason"].is_string(), "{off}");
    assert_eq!(
        rx.settle(QUIET + Duration::from_secs(1)).await.len(),
        1,
        "no retry after a 410"
    );
    let deliveries = api.deliveries(&hook).await;
    let expected = json!({"status": "failed", "attempts": 1, "last_status": 410});
    assert_eq!(pick(&deliveries[0], &expected), expected, "{deliveries:?}");
}

async fn a_redirect_is_a_failed_attempt_and_is_not_followed(db: TestDb) {
    let s = Server::start_on(db, &local_retrying("0,1,1")).await;
    let rx = Receiver::start().await;
    rx.answer(Answer::status(302).header("Location", &rx.url("/elsewhere")));
    let api = Api::admin(&s).await;
    let (hook, _) = api.hook_to(&rx.url("/h"), &["contact.*"]).await;
    api.new_contact("ada@example.com").await;
    rx.wait_for(3, SOON).await;
    let failed = api.delivery_when(&hook, "failed", |d| d["status"] == "failed").await;
    assert_eq!(failed["last_status"], 302, "{failed}");
    let got = rx.settle(QUIET).await;
    assert!(
        got.iter().all(|r| r.path == "/h"),
        "{:?}",
        got.iter().map(|r| &r.path).collect::<Vec<_>>()
    );
}

async fn retry_after_on_a_429_delays_the_next_attempt(db: TestDb) {
    let s = Server::start_on(db, &local_retrying("0,1,1")).await;
    let rx = Receiver::start().await;
    rx.then(Answer::status(429).retry_after(2));
    let api = Api::admin(&s).await;
    let (hook, secret) = api.hook_to(&rx.url("/h"), &["contact.*"]).await;
    api.new_contact("ada@example.com").await;
    let got = rx.wait_for(2, SOON).await;
    // The schedule alone would retry after about one second.
    let gap = got[1].at.duration_since(got[0].at);
    assert!(
        gap >= Duration::from_millis(1500),
        "retried {gap:?} after a Retry-After of 2 s"
    );
    assert_eq!(got[1].id(), got[0].id());
    assert_eq!(got[1].verify(&secret), Ok(0));
    let done = api
        .delivery_when(&hook, "succeeded", |d| d["status"] == "succeeded")
        .await;
    assert_eq!(done["attempts"], 2, "{done}");
}

async fn a_failed_delivery_retried_by_hand_is_delivered_under_the_same_id(db: TestDb) {
    let s = Server::start_on(db, &local_retrying("0,1,1")).await;
    let rx = Receiver::start().await;
    rx.respond(500);
    let api = Api::admin(&s).await;
    let (hook, secret) = api.hook_to(&rx.url("/h"), &["contact.*"]).await;
    api.new_contact("ada@example.com").await;
    let failed = api.delivery_when(&hook, "failed", |d| d["status"] == "failed").await;
    let delivery = id_of(&failed);
    let on = api.patch_hook(&hook, &json!({"enabled": true}), None).await;
    assert_eq!(on.status, 200, "{}", on.body);
    rx.respond(200);

    let r = api
        .send(
            Method::POST,
            &format!("{WEBHOOKS}/{hook}/deliveries/{delivery}/retry"),
            None,
        )
        .await;
    assert_eq!(r.status, 202, "{}", r.body);
    let expected = json!({"id": delivery, "event_id": failed["event_id"], "status": "pending"});
    assert_eq!(pick(&r.body, &expected), expected);
    assert!(r.body["next_attempt_at"].is_string(), "{}", r.body);

    let got = rx.wait_for(4, SOON).await;
    assert_eq!(got[3].id(), failed["event_id"].as_str().unwrap());
    assert_eq!(got[3].verify(&secret), Ok(0));
    let done = api
        .delivery_when(&hook, "succeeded", |d| d["status"] == "succeeded")
        .await;
    let expected = json!({"id": delivery, "attempts": 4, "last_status": 200});
    assert_eq!(pick(&done, &expected), expected);
    assert_eq!(rx.settle(QUIET).await.len(), 4);
}

async fn a_replay_delivers_the_events_of_a_time_range_again_under_their_ids(db: TestDb) {
    let s = Server::start_on(db, &LOCAL).await;
    let rx = Receiver::start().await;
    let api = Api::admin(&s).await;
    let start = now();
    let early = api.new_contact("early@example.com").await;
    // Whole seconds apart, so the range bounds fall clearly between the events.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let middle = now();
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let (hook, secret) = api.hook_to(&rx.url("/h"), &["contact.*"]).await;
    api.new_contact("ada@example.com").await;
    api.new_contact("bob@example.com").await;
    let first: BTreeSet<String> = ids(&rx.wait_for(2, SOON).await).into_iter().collect();

    let replay = format!("{WEBHOOKS}/{hook}/replay");
    let r = api.post(&replay, json!({ "since": middle })).await;
    assert_eq!((r.status.as_u16(), &r.body), (202, &json!({"scheduled": 2})));
    let got = rx.wait_for(4, SOON).await;
    let again: BTreeSet<String> = ids(&got[2..]).into_iter().collect();
    assert_eq!(again, first);
    assert!(got.iter().all(|r| r.verify(&secret) == Ok(0)));

    // A range before the endpoint existed: those events are sent too.
    let r = api.post(&replay, json!({ "since": start, "until": middle })).await;
    assert_eq!((r.status.as_u16(), &r.body), (202, &json!({"scheduled": 1})));
    let got = rx.wait_for(5, SOON).await;
    let event = got[4].json();
    assert_eq!(event["type"], "contact.created");
    assert_eq!(event["data"]["object"]["id"], early.as_str());
    assert_eq!(event, api.feed_event(got[4].id()).await);
    assert_eq!(rx.settle(QUIET).await.len(), 5);
}

async fn a_delivery_cut_off_by_a_crash_is_made_after_the_lease_by_a_restarted_server(db: TestDb) {
    let mut env = local_retrying("0,1,1,1,1");
    env.push(("RAPPORT_WEBHOOK_LEASE_SECONDS", "2"));
    let mut s = Server::start_on(db, &env).await;
    let rx = Receiver::start().await;
    // The first request is held until the server is gone.
    rx.then(Answer::status(200).after(Duration::from_secs(120)));
    let before = Api::admin(&s).await;
    let (hook, secret) = before.hook_to(&rx.url("/h"), &["contact.*"]).await;
    let contact = before.new_contact("ada@example.com").await;
    let held = rx.wait_for(1, SOON).await;
    assert!(s.pid().is_some());
    s.kill();

    let again = s.start_sharing(&env).await;
    let got = rx.wait_for(2, SOON + Duration::from_secs(10)).await;
    assert_eq!(got[1].id(), held[0].id());
    assert_eq!(got[1].verify(&secret), Ok(0));
    assert_eq!(got[1].json()["data"]["object"]["id"], contact.as_str());
    let api = Api::admin(&again).await;
    let done = api
        .delivery_when(&hook, "succeeded", |d| d["status"] == "succeeded")
        .await;
    assert_eq!(done["event_id"], held[0].id());
    assert_eq!(rx.settle(QUIET).await.len(), 2);
}

on_both_dbs!(
    a_receiver_that_was_down_gets_the_event_on_a_retry_and_the_attempts_show_both,
    an_endpoint_failing_every_attempt_is_disabled_and_announced,
    a_410_disables_the_endpoint_after_one_attempt,
    a_redirect_is_a_failed_attempt_and_is_not_followed,
    retry_after_on_a_429_delays_the_next_attempt,
    a_failed_delivery_retried_by_hand_is_delivered_under_the_same_id,
    a_replay_delivers_the_events_of_a_time_range_again_under_their_ids,
    a_delivery_cut_off_by_a_crash_is_made_after_the_lease_by_a_restarted_server,
);

/// Several `rapport serve` processes on one PostgreSQL database share the deliveries:
/// each event reaches the endpoint once, none is lost. PostgreSQL only.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_servers_on_one_postgres_database_deliver_each_event_exactly_once() {
    let Some(db) = TestDb::postgres().await else {
        return;
    };
    let first = Server::start_on(db, &LOCAL).await;
    let second = first.start_sharing(&LOCAL).await;
    let rx = Receiver::start().await;
    let api = Api::admin(&first).await;
    let (hook, secret) = api.hook_to(&rx.url("/h"), &["contact.created"]).await;
    let tokens = [first.admin_token().await, second.admin_token().await];
    let mut burst = tokio::task::JoinSet::new();
    for i in 0..50 {
        let server = if i % 2 == 0 { &first } else { &second };
        let request = server
            .req(Method::POST, "/v1/contacts", &tokens[i % 2])
            .json(&json!({ "email": format!("c{i}@example.com") }));
        burst.spawn(request.send());
    }
    while let Some(sent) = burst.join_next().await {
        assert_eq!(sent.unwrap().unwrap().status(), 201);
    }

    rx.wait_for(50, Duration::from_secs(60)).await;
    let got = rx.settle(QUIET).await;
    let counts = count_by_id(&got);
    let twice: Vec<(&String, &usize)> = counts.iter().filter(|(_, n)| **n > 1).collect();
    assert!(twice.is_empty(), "delivered more than once: {twice:?}");
    let created: BTreeSet<String> = api
        .feed()
        .await
        .iter()
        .filter(|e| e["type"] == "contact.created")
        .map(id_of)
        .collect();
    assert_eq!(created.len(), 50);
    assert_eq!(counts.keys().cloned().collect::<BTreeSet<_>>(), created);
    assert!(got.iter().all(|r| r.verify(&secret) == Ok(0)));
    let deliveries = api.deliveries(&hook).await;
    assert!(
        deliveries
            .iter()
            .all(|d| d["status"] == "succeeded" && d["attempts"] == 1),
        "{deliveries:#?}"
    );
}
