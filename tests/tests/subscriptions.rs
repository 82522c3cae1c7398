//! GraphQL subscriptions over WebSocket (`graphql-transport-ws`): `events` streams the
//! workspace's events as they are committed, with the same token, scopes and tenancy as
//! every other operation.

// Test bodies run through `on_both!`, outside `#[test]` fns, where a failed unwrap is the
// intended test failure.
#![allow(clippy::unwrap_used)]

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use rapport_tests::{Api, Server, on_both};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

type Socket = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// Opens a `graphql-transport-ws` connection and sends `connection_init` with `init`.
async fn open(s: &Server, init: Value) -> Socket {
    let url = format!("{}/graphql", s.base.replace("http://", "ws://"));
    let mut req = url.into_client_request().unwrap();
    req.headers_mut()
        .insert("sec-websocket-protocol", "graphql-transport-ws".parse().unwrap());
    let (mut ws, response) = tokio_tungstenite::connect_async(req).await.unwrap();
    assert_eq!(
        response
            .headers()
            .get("sec-websocket-protocol")
            .map(|v| v.to_str().unwrap()),
        Some("graphql-transport-ws")
    );
    let hello = json!({"type": "connection_init", "payload": init});
    ws.send(Message::Text(hello.to_string().into())).await.unwrap();
    ws
}

/// The next protocol message (pings skipped), or `None` when the socket closes or
/// nothing comes within `wait`.
async fn next(ws: &mut Socket, wait: Duration) -> Option<Value> {
    loop {
        let msg = tokio::time::timeout(wait, ws.next()).await.ok()??.ok()?;
        match msg {
            Message::Text(t) => {
                let v: Value = serde_json::from_str(&t).unwrap();
                if v["type"] != "ping" && v["type"] != "pong" {
                    return Some(v);
                }
            }
            Message::Close(_) => return None,
            _ => {}
        }
    }
}

async fn subscribe(ws: &mut Socket, id: &str, query: &str) {
    let msg = json!({"id": id, "type": "subscribe", "payload": {"query": query}});
    ws.send(Message::Text(msg.to_string().into())).await.unwrap();
}

const CONTACT_EVENTS: &str = "subscription { events(types: [\"contact.*\"]) { type position data } }";

async fn a_subscriber_receives_the_workspaces_events_as_they_are_committed(s: Server) {
    let api = Api::admin(&s).await;
    let mut ws = open(&s, json!({"Authorization": format!("Bearer {}", api.1)})).await;
    assert_eq!(
        next(&mut ws, Duration::from_secs(5)).await.unwrap()["type"],
        "connection_ack"
    );
    subscribe(&mut ws, "1", CONTACT_EVENTS).await;
    // A change made before the subscription started is not replayed.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let r = api.post("/v1/contacts", json!({"email": "live@example.com"})).await;
    let id = r.body["id"].as_str().unwrap().to_owned();
    let consent = json!({"purpose": "analytics", "status": "granted", "source": "api"});
    api.post(&format!("/v1/contacts/{id}/consents"), consent).await;
    api.send(
        reqwest::Method::PATCH,
        &format!("/v1/contacts/{id}"),
        Some(json!({"first_name": "Liv"})),
    )
    .await;
    let first = next(&mut ws, Duration::from_secs(10)).await.unwrap();
    assert_eq!(first["type"], "next", "{first}");
    assert_eq!(first["id"], "1");
    let event = &first["payload"]["data"]["events"];
    assert_eq!(event["type"], "contact.created");
    assert_eq!(event["data"]["object"]["id"], id.as_str());
    let second = next(&mut ws, Duration::from_secs(10)).await.unwrap();
    let event2 = &second["payload"]["data"]["events"];
    // The consent event is filtered out; the update follows in commit order.
    assert_eq!(event2["type"], "contact.updated", "{second}");
    assert!(event2["position"].as_i64() > event["position"].as_i64());
}

async fn subscriptions_need_a_token_the_scope_and_stay_in_their_workspace(s: Server) {
    // No token: the connection is refused.
    let mut anonymous = open(&s, json!({})).await;
    let answer = next(&mut anonymous, Duration::from_secs(5)).await;
    assert!(
        answer.as_ref().is_none_or(|m| m["type"] != "connection_ack"),
        "{answer:?}"
    );

    // A token without events:read: the subscription is refused with the REST code.
    let reader = Api::with(&s, "contacts:read").await;
    let mut ws = open(&s, json!({"token": reader.1})).await;
    assert_eq!(
        next(&mut ws, Duration::from_secs(5)).await.unwrap()["type"],
        "connection_ack"
    );
    subscribe(&mut ws, "a", CONTACT_EVENTS).await;
    let refused = next(&mut ws, Duration::from_secs(5)).await.unwrap();
    // A resolver error, as GraphQL reports it: no data, the error with its code.
    assert_eq!(refused["payload"]["data"], Value::Null, "{refused}");
    assert_eq!(
        refused["payload"]["errors"][0]["extensions"]["code"],
        "insufficient_scope"
    );

    // Another workspace's subscriber sees nothing of this one.
    let (_, other) = s.other_workspace().await;
    let mut theirs = open(&s, json!({"Authorization": format!("Bearer {other}")})).await;
    assert_eq!(
        next(&mut theirs, Duration::from_secs(5)).await.unwrap()["type"],
        "connection_ack"
    );
    subscribe(&mut theirs, "t", CONTACT_EVENTS).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let api = Api::admin(&s).await;
    api.post("/v1/contacts", json!({"email": "mine@example.com"})).await;
    assert!(next(&mut theirs, Duration::from_secs(2)).await.is_none());
}

on_both!(
    a_subscriber_receives_the_workspaces_events_as_they_are_committed,
    subscriptions_need_a_token_the_scope_and_stay_in_their_workspace,
);
