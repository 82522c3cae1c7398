//! Inbound pushes from connectors: Standard Webhooks signatures checked (secret,
//! timestamp tolerance), each command answered, the same `webhook-id` applied once,
//! changes attributed to the connector, and everything confined to its workspace.

// Test bodies run through `on_both!`, outside `#[test]` fns, where a failed unwrap is the
// intended test failure.
#![allow(clippy::unwrap_used)]

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};
use rapport_tests::{Api, Reply, Server, on_both};
use reqwest::Method;
use serde_json::{Value, json};
use sha2::Sha256;

/// A connector as its owner sees it: id and secret.
struct Connector {
    id: String,
    secret: String,
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        .try_into()
        .unwrap()
}

fn signature(secret: &str, id: &str, ts: i64, body: &[u8]) -> String {
    let key = STANDARD.decode(secret.strip_prefix("whsec_").unwrap()).unwrap();
    let mut mac = Hmac::<Sha256>::new_from_slice(&key).unwrap();
    mac.update(format!("{id}.{ts}.").as_bytes());
    mac.update(body);
    format!("v1,{}", STANDARD.encode(mac.finalize().into_bytes()))
}

async fn connector(api: &Api<'_>, name: &str) -> Connector {
    let r = api.post("/v1/connectors", json!({ "name": name })).await;
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(
        r.body["ingest_path"],
        format!("/v1/ingest/{}", r.body["id"].as_str().unwrap())
    );
    Connector {
        id: r.body["id"].as_str().unwrap().to_owned(),
        secret: r.body["secret"].as_str().unwrap().to_owned(),
    }
}

/// Sends a push signed with `secret` at `ts`.
async fn push_as(s: &Server, c: &Connector, secret: &str, id: &str, ts: i64, body: &Value) -> Reply {
    let bytes = serde_json::to_vec(body).unwrap();
    let r = s
        .http
        .post(format!("{}/v1/ingest/{}", s.base, c.id))
        .header("content-type", "application/json")
        .header("webhook-id", id)
        .header("webhook-timestamp", ts.to_string())
        .header("webhook-signature", signature(secret, id, ts, &bytes))
        .body(bytes)
        .send()
        .await
        .unwrap();
    Reply::from(r).await
}

async fn push(s: &Server, c: &Connector, id: &str, body: &Value) -> Reply {
    push_as(s, c, &c.secret, id, now(), body).await
}

fn statuses(r: &Reply) -> String {
    r.body["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["status"].as_str().unwrap())
        .collect::<Vec<_>>()
        .join(" ")
}

async fn a_signed_push_applies_each_command_through_the_api_rules(s: Server) {
    let api = Api::admin(&s).await;
    let shop = connector(&api, "shopify").await;
    let batch = json!({"commands": [
        {"type": "company.upsert", "data": {"name": "Acme", "domain": "acme.example"}},
        {"type": "contact.upsert", "data": {"email": "ada@example.com", "first_name": "Ada", "external_ids": {"shopify": "7001"}}},
        {"type": "consent.record", "data": {"contact": {"external_id": {"source": "shopify", "id": "7001"}},
            "purpose": "analytics", "status": "granted", "source": "checkout"}},
        {"type": "contact.upsert", "data": {"email": "ada@example.com", "first_name": "Ada"}},
        {"type": "company.upsert", "data": {"name": "Acme Inc", "domain": "https://www.acme.example/"}},
    ]});
    let r = push(&s, &shop, "msg_1", &batch).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(statuses(&r), "created created recorded unchanged updated");
    assert_eq!(
        (r.body["applied"].as_u64(), r.body["failed"].as_u64()),
        (Some(5), Some(0))
    );
    let contact = r.body["results"][1]["id"].as_str().unwrap().to_owned();
    let read = api.get(&format!("/v1/contacts/{contact}?include=consents")).await;
    assert_eq!(read.body["external_ids"], json!({"shopify": "7001"}));
    assert_eq!(read.body["consents"]["analytics"]["allowed"], true);
    // Every change names the connector as its actor.
    let created = s.events("contact.created").await;
    let (_, data) = created
        .iter()
        .find(|(_, d)| d["object"]["id"] == contact.as_str())
        .unwrap();
    assert_eq!(data["object"]["email"], "ada@example.com");
    let mut created_by = Value::Null;
    for _ in 0..100 {
        let feed = api.get("/v1/events?types=contact.created").await;
        if let Some(e) = feed.body["data"].as_array().unwrap().first() {
            created_by = e["actor"].clone();
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(created_by, json!({"type": "connector", "id": shop.id}));
}

async fn a_repeated_webhook_id_answers_the_first_result_and_applies_nothing(s: Server) {
    let api = Api::admin(&s).await;
    let shop = connector(&api, "shop").await;
    let batch = json!({"commands": [{"type": "contact.upsert", "data": {"email": "bo@example.com"}}]});
    let first = push(&s, &shop, "msg_once", &batch).await;
    assert_eq!(first.status, 200, "{}", first.body);
    let events = s.events("contact.created").await.len();
    let again = push(&s, &shop, "msg_once", &batch).await;
    assert_eq!(again.status, 200);
    assert_eq!(again.header("idempotent-replayed"), Some("true"));
    assert_eq!(again.body, first.body);
    assert_eq!(s.events("contact.created").await.len(), events, "nothing applied twice");
    let other = json!({"commands": [{"type": "contact.upsert", "data": {"email": "cy@example.com"}}]});
    push(&s, &shop, "msg_once", &other)
        .await
        .problem(422, "idempotency_key_reused");
}

async fn unsigned_forged_stale_and_disabled_pushes_are_refused(s: Server) {
    let api = Api::admin(&s).await;
    let shop = connector(&api, "erp").await;
    let batch = json!({"commands": []});
    let forged = "whsec_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
    push_as(&s, &shop, forged, "m1", now(), &batch)
        .await
        .problem(401, "invalid_signature");
    push_as(&s, &shop, &shop.secret, "m2", now() - 600, &batch)
        .await
        .problem(401, "timestamp_out_of_tolerance");
    push_as(&s, &shop, &shop.secret, "m3", now() + 600, &batch)
        .await
        .problem(401, "timestamp_out_of_tolerance");
    let unsigned = s
        .http
        .post(format!("{}/v1/ingest/{}", s.base, shop.id))
        .json(&batch)
        .send()
        .await
        .unwrap();
    Reply::from(unsigned).await.problem(401, "invalid_signature");
    let nobody = Connector {
        id: "0190a000-0000-7000-8000-000000000000".into(),
        secret: shop.secret.clone(),
    };
    push(&s, &nobody, "m4", &batch).await.problem(401, "invalid_signature");
    // A body changed after signing does not verify.
    let bytes = serde_json::to_vec(&batch).unwrap();
    let ts = now();
    let tampered = s
        .http
        .post(format!("{}/v1/ingest/{}", s.base, shop.id))
        .header("webhook-id", "m5")
        .header("webhook-timestamp", ts.to_string())
        .header("webhook-signature", signature(&shop.secret, "m5", ts, &bytes))
        .body(r#"{"commands": [{"type": "contact.upsert", "data": {"email": "evil@example.com"}}]}"#)
        .send()
        .await
        .unwrap();
    Reply::from(tampered).await.problem(401, "invalid_signature");
    let off = api
        .send(
            Method::PATCH,
            &format!("/v1/connectors/{}", shop.id),
            Some(json!({"enabled": false})),
        )
        .await;
    assert_eq!(off.status, 200, "{}", off.body);
    push(&s, &shop, "m6", &batch).await.problem(401, "connector_disabled");
    // After a rotation both secrets sign for a while.
    api.send(
        Method::PATCH,
        &format!("/v1/connectors/{}", shop.id),
        Some(json!({"enabled": true})),
    )
    .await;
    let rotated = api
        .post(&format!("/v1/connectors/{}/rotate-secret", shop.id), json!({}))
        .await;
    let new_secret = rotated.body["secret"].as_str().unwrap().to_owned();
    assert_ne!(new_secret, shop.secret);
    assert_eq!(push_as(&s, &shop, &new_secret, "m7", now(), &batch).await.status, 200);
    assert_eq!(push(&s, &shop, "m8", &batch).await.status, 200);
}

async fn malformed_commands_fail_one_by_one_and_malformed_batches_whole(s: Server) {
    let api = Api::admin(&s).await;
    let shop = connector(&api, "shop").await;
    let batch = json!({"commands": [
        {"type": "contact.upsert", "data": {"email": "not-an-email"}},
        {"type": "contact.delete", "data": {}},
        {"type": "contact.upsert", "data": {"first_name": "No identity"}},
        {"type": "consent.record", "data": {"contact": {"email": "nobody@example.com"}, "purpose": "analytics",
            "status": "granted", "source": "checkout"}},
        {"type": "contact.upsert", "data": {"email": "ok@example.com"}},
    ]});
    let r = push(&s, &shop, "bad_1", &batch).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(statuses(&r), "failed failed failed failed created");
    let pointer = |i: usize| r.body["results"][i]["error"]["errors"][0]["pointer"].clone();
    assert_eq!(pointer(0), "/commands/0/data/email");
    assert_eq!(pointer(1), "/commands/1/type");
    assert_eq!(pointer(2), "/commands/2/data");
    assert_eq!(r.body["results"][3]["error"]["code"], "not_found");
    let not_json = s
        .http
        .post(format!("{}/v1/ingest/{}", s.base, shop.id))
        .header("webhook-id", "bad_2")
        .header("webhook-timestamp", now().to_string())
        .header("webhook-signature", signature(&shop.secret, "bad_2", now(), b"{nope"))
        .body("{nope")
        .send()
        .await
        .unwrap();
    Reply::from(not_json).await.problem(400, "malformed_json");
    let many: Vec<Value> = (0..1001)
        .map(|_| json!({"type": "contact.upsert", "data": {}}))
        .collect();
    let r = push(&s, &shop, "bad_3", &json!({ "commands": many })).await;
    r.problem(422, "validation_failed");
}

async fn connectors_belong_to_their_workspace(s: Server) {
    let api = Api::admin(&s).await;
    let shop = connector(&api, "shop").await;
    let (_, token) = s.other_workspace().await;
    let theirs = Api(&s, token);
    for path in [format!("/v1/connectors/{}", shop.id)] {
        theirs.get(&path).await.problem(404, "not_found");
    }
    theirs
        .send(Method::DELETE, &format!("/v1/connectors/{}", shop.id), None)
        .await
        .problem(404, "not_found");
    assert_eq!(theirs.get("/v1/connectors").await.body["data"], json!([]));
    // A name is unique per workspace only.
    assert_eq!(theirs.post("/v1/connectors", json!({"name": "shop"})).await.status, 201);
    api.post("/v1/connectors", json!({"name": "shop"}))
        .await
        .problem(409, "conflict");
    // Pushes land in the connector's workspace.
    let batch = json!({"commands": [{"type": "contact.upsert", "data": {"email": "ws@example.com"}}]});
    assert_eq!(push(&s, &shop, "iso_1", &batch).await.status, 200);
    theirs
        .get("/v1/contacts/by-email/ws@example.com")
        .await
        .problem(404, "not_found");
    assert_eq!(api.get("/v1/contacts/by-email/ws@example.com").await.status, 200);
    let reader = Api::with(&s, "contacts:read").await;
    reader.get("/v1/connectors").await.problem(403, "insufficient_scope");
}

on_both!(
    a_signed_push_applies_each_command_through_the_api_rules,
    a_repeated_webhook_id_answers_the_first_result_and_applies_nothing,
    unsigned_forged_stale_and_disabled_pushes_are_refused,
    malformed_commands_fail_one_by_one_and_malformed_batches_whole,
    connectors_belong_to_their_workspace,
);
