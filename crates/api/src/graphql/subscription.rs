//! GraphQL subscriptions over WebSocket (`graphql-transport-ws`, and the older
//! `graphql-ws`) at `/graphql`: `events` streams the workspace's events as they are
//! committed, with the same token, scopes and tenancy as every other operation.

use std::collections::VecDeque;
use std::time::Duration;

use actix_web::{HttpRequest, HttpResponse, web};
use async_graphql::http::{WebSocket, WebSocketProtocols, WsMessage};
use async_graphql::{Context, Data, Subscription};
use futures_util::{Stream, StreamExt, stream};
use rapport_domain::scope::Scope;

use super::events::EventGql;
use super::{Gql, RapportSchema, state};
use crate::app::App;
use crate::auth::Caller;
use crate::service;

/// How often a subscription looks for new events.
const POLL: Duration = Duration::from_millis(250);

#[derive(Default)]
pub struct SubscriptionRoot;

#[Subscription]
impl SubscriptionRoot {
    /// The workspace's events from now on, as they are committed, optionally of some
    /// types or families (`contact.*`). Needs `events:read`.
    async fn events(
        &self,
        ctx: &Context<'_>,
        types: Option<Vec<String>>,
    ) -> async_graphql::Result<impl Stream<Item = async_graphql::Result<EventGql>> + use<>> {
        let (_, who) = state(ctx)?;
        who.require(Scope::EventsRead).gql()?;
        let patterns = types.unwrap_or_default();
        service::events::filter(&patterns).gql()?;
        let app = ctx.data::<web::Data<App>>()?.clone();
        let who = who.clone();
        let start = rapport_store::webhooks::feed_head(app.db.read())
            .await
            .map_err(crate::error::ApiError::from)
            .gql()?;
        let init = (app, who, patterns, start, VecDeque::<EventGql>::new());
        Ok(stream::unfold(
            init,
            |(app, who, patterns, mut last, mut buffer)| async move {
                loop {
                    if let Some(next) = buffer.pop_front() {
                        return Some((Ok(next), (app, who, patterns, last, buffer)));
                    }
                    tokio::time::sleep(POLL).await;
                    match service::events::feed(&app, &who, &patterns, Some(last), 100).await {
                        Ok(page) => {
                            for e in page.events {
                                last = e.position.unwrap_or(last);
                                buffer.push_back(super::events::node(e));
                            }
                        }
                        Err(e) => return Some((Err(e).gql(), (app, who, patterns, last, buffer))),
                    }
                }
            },
        ))
    }
}

/// The token a client sends in `connection_init`: `{"Authorization": "Bearer …"}` or
/// `{"token": "…"}`.
fn token(payload: &serde_json::Value) -> Option<String> {
    let from = |k: &str| payload.get(k).and_then(serde_json::Value::as_str);
    let raw = from("Authorization")
        .or_else(|| from("authorization"))
        .or_else(|| from("token"))?;
    let t = raw
        .strip_prefix("Bearer ")
        .or_else(|| raw.strip_prefix("bearer "))
        .unwrap_or(raw);
    Some(t.trim().to_owned())
}

/// `GET /graphql` with `Upgrade: websocket`: a subscription connection. The token comes
/// from the upgrade request's `Authorization` header (non-browser clients) or from the
/// `connection_init` payload (browsers cannot set headers on a WebSocket).
pub async fn connect(
    app: web::Data<App>,
    schema: web::Data<RapportSchema>,
    req: HttpRequest,
    body: web::Payload,
) -> actix_web::Result<HttpResponse> {
    let protocol = req
        .headers()
        .get("sec-websocket-protocol")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(',').find_map(|p| p.trim().parse::<WebSocketProtocols>().ok()))
        .unwrap_or(WebSocketProtocols::GraphQLWS);
    let from_header = crate::auth::authenticate(&app, &req).await.ok();
    let (mut response, mut session, mut incoming) = actix_ws::handle(&req, body)?;
    if let Ok(v) = actix_web::http::header::HeaderValue::from_str(protocol.sec_websocket_protocol()) {
        response
            .headers_mut()
            .insert(actix_web::http::header::SEC_WEBSOCKET_PROTOCOL, v);
    }
    let (to_graphql, mut from_client) = tokio::sync::mpsc::channel::<Vec<u8>>(16);
    let mut pinger = session.clone();
    actix_web::rt::spawn(async move {
        while let Some(Ok(msg)) = incoming.recv().await {
            let forwarded = match msg {
                actix_ws::Message::Text(t) => to_graphql.send(t.as_bytes().to_vec()).await,
                actix_ws::Message::Binary(b) => to_graphql.send(b.to_vec()).await,
                actix_ws::Message::Ping(p) => {
                    let _ = pinger.pong(&p).await;
                    Ok(())
                }
                actix_ws::Message::Close(_) => break,
                _ => Ok(()),
            };
            if forwarded.is_err() {
                break;
            }
        }
    });
    let requests = stream::poll_fn(move |cx| from_client.poll_recv(cx));
    let init_app = app.clone();
    let mut ws = WebSocket::new(schema.get_ref().clone(), requests, protocol)
        .on_connection_init(move |payload| async move {
            let who: Caller = match (from_header, token(&payload)) {
                (_, Some(t)) => init_app
                    .tokens
                    .verify(&init_app.db, &t)
                    .await
                    .map_err(|e| async_graphql::Error::new(e.to_string()))?,
                (Some(who), None) => who,
                (None, None) => return Err(async_graphql::Error::new("a bearer token is required")),
            };
            let mut data = Data::default();
            data.insert(init_app.clone());
            data.insert(who);
            Ok(data)
        })
        .keepalive_timeout(Duration::from_secs(60));
    actix_web::rt::spawn(async move {
        while let Some(out) = ws.next().await {
            match out {
                WsMessage::Text(t) => {
                    if session.text(t).await.is_err() {
                        return;
                    }
                }
                WsMessage::Close(code, reason) => {
                    let reason = actix_ws::CloseReason {
                        code: code.into(),
                        description: Some(reason),
                    };
                    let _ = session.close(Some(reason)).await;
                    return;
                }
            }
        }
        let _ = session.close(None).await;
    });
    Ok(response)
}
