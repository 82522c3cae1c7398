//! What the webhook suites share: the settings that let a server deliver to a
//! [`Receiver`](crate::receiver::Receiver) on this machine, the calls they make, and how
//! long they wait.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use reqwest::Method;
use serde_json::{Value, json};

use crate::receiver::Received;
use crate::{Api, Reply, id_of};

/// The webhooks collection.
pub const WEBHOOKS: &str = "/v1/webhooks";

/// The fields of a webhook endpoint, sorted.
pub const WEBHOOK_KEYS: &str =
    "created_at description disabled_reason enabled event_types fields id skip_own updated_at url version";

/// The fields of a delivered event, sorted.
pub const EVENT_KEYS: &str = "actor data data_version id occurred_at position type";

/// Lets the server deliver to plain HTTP on 127.0.0.1, where the receiver listens.
pub const LOCAL: [(&str, &str); 2] = [
    ("RAPPORT_WEBHOOK_ALLOW_PRIVATE", "true"),
    ("RAPPORT_WEBHOOK_ALLOW_HTTP", "true"),
];

/// [`LOCAL`] with a retry schedule (seconds, comma-separated).
pub fn local_retrying(schedule: &'static str) -> Vec<(&'static str, &'static str)> {
    let mut env = LOCAL.to_vec();
    env.push(("RAPPORT_WEBHOOK_RETRY_SCHEDULE", schedule));
    env
}

/// How long a delivery that is due may take to arrive (events are picked up within about
/// a second of their commit; a retry schedule of a few seconds may come on top).
pub const SOON: Duration = Duration::from_secs(20);

/// How long to keep listening before concluding that nothing more comes.
pub const QUIET: Duration = Duration::from_secs(2);

/// The sorted keys of a JSON object, space-separated.
pub fn keys(v: &Value) -> String {
    let object = v.as_object().unwrap_or_else(|| panic!("not an object: {v}"));
    object.keys().map(String::as_str).collect::<Vec<_>>().join(" ")
}

/// The `webhook-id` of each request, in arrival order.
pub fn ids(received: &[Received]) -> Vec<String> {
    received.iter().map(|r| r.id().to_owned()).collect()
}

/// How many requests carried each `webhook-id`.
pub fn count_by_id(received: &[Received]) -> BTreeMap<String, usize> {
    let mut counts = BTreeMap::new();
    for id in ids(received) {
        *counts.entry(id).or_insert(0) += 1;
    }
    counts
}

/// The requests sent to `path`.
pub fn to_path<'a>(received: &'a [Received], path: &str) -> Vec<&'a Received> {
    received.iter().filter(|r| r.path == path).collect()
}

/// The webhook calls of a caller.
// Test bodies await these directly; no caller needs the futures to be `Send`.
#[allow(async_fn_in_trait)]
pub trait WebhookCalls {
    /// Creates an endpoint, which must succeed; returns the answer (with its secret).
    async fn webhook(&self, body: Value) -> Value;
    /// Creates an endpoint for `url` and these patterns; returns its id and secret.
    async fn hook_to(&self, url: &str, event_types: &[&str]) -> (String, String);
    /// `GET /v1/webhooks/{id}`, which must succeed.
    async fn hook(&self, id: &str) -> Value;
    /// A PATCH of an endpoint, with `If-Match` when given.
    async fn patch_hook(&self, id: &str, body: &Value, if_match: Option<&str>) -> Reply;
    /// The deliveries of an endpoint, which must be listed.
    async fn deliveries(&self, hook: &str) -> Vec<Value>;
    /// The attempts of a delivery, which must be listed.
    async fn attempts(&self, hook: &str, delivery: &str) -> Vec<Value>;
    /// Polls the deliveries of an endpoint until one satisfies `done`; returns it.
    async fn delivery_when(&self, hook: &str, what: &str, done: impl Fn(&Value) -> bool) -> Value;
    /// Polls an endpoint until it satisfies `done`; returns it.
    async fn hook_when(&self, hook: &str, what: &str, done: impl Fn(&Value) -> bool) -> Value;
    /// Creates a contact with this email; returns its id.
    async fn new_contact(&self, email: &str) -> String;
    /// The whole event feed, oldest first.
    async fn feed(&self) -> Vec<Value>;
    /// The event with this id as the feed shows it, waiting for it to appear.
    async fn feed_event(&self, id: &str) -> Value;
}

impl WebhookCalls for Api<'_> {
    async fn webhook(&self, body: Value) -> Value {
        let r = self.post(WEBHOOKS, body).await;
        assert_eq!(r.status, 201, "{}", r.body);
        r.body
    }

    async fn hook_to(&self, url: &str, event_types: &[&str]) -> (String, String) {
        let created = self.webhook(json!({ "url": url, "event_types": event_types })).await;
        let secret = created["secret"]
            .as_str()
            .unwrap_or_else(|| panic!("no secret: {created}"));
        (id_of(&created), secret.to_owned())
    }

    async fn hook(&self, id: &str) -> Value {
        let r = self.get(&format!("{WEBHOOKS}/{id}")).await;
        assert_eq!(r.status, 200, "{}", r.body);
        r.body
    }

    async fn patch_hook(&self, id: &str, body: &Value, if_match: Option<&str>) -> Reply {
        let mut r = self.0.req(Method::PATCH, &format!("{WEBHOOKS}/{id}"), &self.1);
        if let Some(tag) = if_match {
            r = r.header("if-match", tag);
        }
        Reply::from(r.json(body).send().await.expect("request")).await
    }

    async fn deliveries(&self, hook: &str) -> Vec<Value> {
        let r = self.get(&format!("{WEBHOOKS}/{hook}/deliveries")).await;
        assert_eq!(r.status, 200, "{}", r.body);
        r.body["data"].as_array().expect("a data array").clone()
    }

    async fn attempts(&self, hook: &str, delivery: &str) -> Vec<Value> {
        let r = self
            .get(&format!("{WEBHOOKS}/{hook}/deliveries/{delivery}/attempts"))
            .await;
        assert_eq!(r.status, 200, "{}", r.body);
        r.body["data"].as_array().expect("a data array").clone()
    }

    async fn delivery_when(&self, hook: &str, what: &str, done: impl Fn(&Value) -> bool) -> Value {
        let deadline = Instant::now() + SOON;
        loop {
            let list = self.deliveries(hook).await;
            if let Some(d) = list.iter().find(|d| done(d)) {
                return d.clone();
            }
            assert!(
                Instant::now() < deadline,
                "no delivery of {hook} became {what} within {SOON:?}: {list:#?}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    async fn hook_when(&self, hook: &str, what: &str, done: impl Fn(&Value) -> bool) -> Value {
        let deadline = Instant::now() + SOON;
        loop {
            let h = self.hook(hook).await;
            if done(&h) {
                return h;
            }
            assert!(
                Instant::now() < deadline,
                "{hook} did not become {what} within {SOON:?}: {h}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    async fn new_contact(&self, email: &str) -> String {
        let r = self.post("/v1/contacts", json!({ "email": email })).await;
        assert_eq!(r.status, 201, "{}", r.body);
        id_of(&r.body)
    }

    async fn feed(&self) -> Vec<Value> {
        let mut events = Vec::new();
        let mut path = "/v1/events".to_owned();
        loop {
            let r = self.get(&path).await;
            assert_eq!(r.status, 200, "{}", r.body);
            events.extend(r.body["data"].as_array().expect("a data array").iter().cloned());
            if r.body["page"]["has_more"] != true {
                return events;
            }
            let cursor = r.body["page"]["next_cursor"].as_str().expect("a cursor");
            path = format!("/v1/events?after={cursor}");
        }
    }

    async fn feed_event(&self, id: &str) -> Value {
        let deadline = Instant::now() + SOON;
        loop {
            if let Some(e) = self.feed().await.into_iter().find(|e| e["id"] == id) {
                return e;
            }
            assert!(Instant::now() < deadline, "event {id} is not in the feed");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}
