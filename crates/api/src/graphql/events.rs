//! The event feed and catalogue in GraphQL.

use async_graphql::connection::{Connection, Edge, EmptyFields};
use async_graphql::{Context, ID, Json, Object, SimpleObject};
use chrono::{DateTime, Utc};
use rapport_domain::event::EventType;

use super::contacts::{Actor, page_size};
use super::{Gql, state};
use crate::service;

/// One event of the feed.
#[derive(SimpleObject)]
#[graphql(name = "Event")]
pub struct EventGql {
    pub id: ID,
    /// e.g. `contact.updated`; see `eventTypes`.
    #[graphql(name = "type")]
    pub kind: String,
    /// Commit order; the edge cursor is this position.
    pub position: i64,
    pub occurred_at: DateTime<Utc>,
    pub actor: Actor,
    pub data: Json<serde_json::Value>,
    pub data_version: i32,
}

/// An event as GraphQL shows it.
pub(crate) fn node(e: rapport_store::outbox::StoredEvent) -> EventGql {
    EventGql {
        id: ID(e.id.to_string()),
        kind: e.kind,
        position: e.position.unwrap_or_default(),
        occurred_at: e.occurred_at,
        actor: Actor {
            kind: e.actor_type,
            id: e.actor_id,
        },
        data: Json(e.data),
        data_version: e.data_version,
    }
}

/// One entry of the event catalogue.
#[derive(SimpleObject)]
pub struct EventTypeInfo {
    #[graphql(name = "type")]
    pub kind: String,
    pub description: String,
    pub data_version: i32,
}

#[derive(Default)]
pub struct EventQuery;

#[Object]
impl EventQuery {
    /// The workspace's events in commit order, after `after` (an edge cursor: the
    /// position of the last event read), optionally of some types or families
    /// (`contact.*`).
    #[graphql(complexity = "first.unwrap_or(50).max(1) as usize * child_complexity")]
    async fn events(
        &self,
        ctx: &Context<'_>,
        types: Option<Vec<String>>,
        first: Option<i32>,
        after: Option<String>,
    ) -> async_graphql::Result<Connection<String, EventGql, EmptyFields, EmptyFields>> {
        let (app, who) = state(ctx)?;
        let limit = page_size(first).gql()?;
        let position = service::events::cursor(after.as_deref()).gql()?;
        let page = service::events::feed(app, who, &types.unwrap_or_default(), position, limit)
            .await
            .gql()?;
        let mut conn = Connection::new(position.is_some(), page.has_more);
        for e in page.events {
            let n = node(e);
            conn.edges.push(Edge::new(n.position.to_string(), n));
        }
        Ok(conn)
    }

    /// The catalogue of event types.
    async fn event_types(&self) -> Vec<EventTypeInfo> {
        EventType::ALL
            .into_iter()
            .map(|t| EventTypeInfo {
                kind: t.as_str().to_owned(),
                description: t.description().to_owned(),
                data_version: 1,
            })
            .collect()
    }
}
