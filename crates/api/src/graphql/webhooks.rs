//! Webhook endpoints in GraphQL: the same use cases as REST.

use async_graphql::connection::{Connection, Edge, EmptyFields};
use async_graphql::{Context, InputObject, MaybeUndefined, Object};
use chrono::{DateTime, Utc};
use rapport_domain::{DeliveryId, WebhookId};

use super::contacts::page_size;
use super::{Gql, found, patch, state};
use crate::dto::webhooks::{AttemptDto, DeliveryDto, NewWebhook, TestResult, WebhookDto, WebhookPatch};
use crate::http::cursor;
use crate::http::etag::Precondition;
use crate::service;

/// A new endpoint.
#[derive(InputObject)]
pub struct WebhookInput {
    pub url: String,
    pub event_types: Vec<String>,
    pub description: Option<String>,
    pub fields: Option<Vec<String>>,
    pub skip_own: Option<bool>,
    pub enabled: Option<bool>,
}

/// Changes to an endpoint: absent fields stay, `null` clears.
#[derive(InputObject)]
pub struct WebhookPatchInput {
    pub url: Option<String>,
    pub event_types: Option<Vec<String>>,
    pub description: MaybeUndefined<String>,
    pub fields: MaybeUndefined<Vec<String>>,
    pub skip_own: Option<bool>,
    pub enabled: Option<bool>,
}

#[derive(Default)]
pub struct WebhookQuery;

#[Object]
impl WebhookQuery {
    /// The workspace's webhook endpoints (needs `webhooks:manage`).
    async fn webhooks(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<WebhookDto>> {
        let (app, who) = state(ctx)?;
        let all = service::webhooks::list(app, who).await.gql()?;
        Ok(all.iter().map(WebhookDto::from).collect())
    }

    /// One endpoint; null when there is none with this id in the workspace.
    async fn webhook(&self, ctx: &Context<'_>, id: uuid::Uuid) -> async_graphql::Result<Option<WebhookDto>> {
        let (app, who) = state(ctx)?;
        Ok(found(service::webhooks::get(app, who, WebhookId::from_uuid(id)).await)?.map(|e| WebhookDto::from(&e)))
    }

    /// An endpoint's deliveries, newest first.
    #[graphql(complexity = "first.unwrap_or(50).max(1) as usize * child_complexity")]
    async fn webhook_deliveries(
        &self,
        ctx: &Context<'_>,
        id: uuid::Uuid,
        status: Option<String>,
        first: Option<i32>,
        after: Option<String>,
    ) -> async_graphql::Result<Connection<String, DeliveryDto, EmptyFields, EmptyFields>> {
        let (app, who) = state(ctx)?;
        let limit = page_size(first).gql()?;
        let before = cursor::decode_id(after.as_deref(), "deliveries").gql()?;
        let page = service::webhooks::deliveries(app, who, WebhookId::from_uuid(id), status.as_deref(), before, limit)
            .await
            .gql()?;
        let mut conn = Connection::new(before.is_some(), page.has_more);
        for d in &page.items {
            conn.edges.push(Edge::new(
                cursor::encode_id("deliveries", d.id.uuid()),
                DeliveryDto::from(d),
            ));
        }
        Ok(conn)
    }

    /// Every attempt of a delivery.
    async fn webhook_attempts(
        &self,
        ctx: &Context<'_>,
        id: uuid::Uuid,
        delivery_id: uuid::Uuid,
    ) -> async_graphql::Result<Vec<AttemptDto>> {
        let (app, who) = state(ctx)?;
        let all = service::webhooks::attempts(app, who, WebhookId::from_uuid(id), DeliveryId::from_uuid(delivery_id))
            .await
            .gql()?;
        Ok(all.iter().map(AttemptDto::from).collect())
    }
}

#[derive(Default)]
pub struct WebhookMutation;

#[Object]
impl WebhookMutation {
    /// Subscribes an endpoint; the answer's `secret` is shown this once.
    async fn create_webhook(&self, ctx: &Context<'_>, input: WebhookInput) -> async_graphql::Result<WebhookDto> {
        let (app, who) = state(ctx)?;
        let new = NewWebhook {
            url: input.url,
            event_types: input.event_types,
            description: input.description,
            fields: input.fields,
            skip_own: input.skip_own,
            enabled: input.enabled,
        };
        let (e, secret) = service::webhooks::create(app, who, new).await.gql()?;
        let mut dto = WebhookDto::from(&e);
        dto.secret = Some(secret);
        Ok(dto)
    }

    async fn update_webhook(
        &self,
        ctx: &Context<'_>,
        id: uuid::Uuid,
        input: WebhookPatchInput,
        if_version: Option<i64>,
    ) -> async_graphql::Result<WebhookDto> {
        let (app, who) = state(ctx)?;
        let p = WebhookPatch {
            url: input.url,
            event_types: input.event_types,
            description: patch(input.description),
            fields: patch(input.fields),
            skip_own: input.skip_own,
            enabled: input.enabled,
        };
        let e = service::webhooks::update(
            app,
            who,
            WebhookId::from_uuid(id),
            p,
            Precondition::from_version(if_version),
        )
        .await
        .gql()?;
        Ok(WebhookDto::from(&e))
    }

    async fn delete_webhook(&self, ctx: &Context<'_>, id: uuid::Uuid) -> async_graphql::Result<bool> {
        let (app, who) = state(ctx)?;
        service::webhooks::delete(app, who, WebhookId::from_uuid(id), Precondition::None)
            .await
            .gql()?;
        Ok(true)
    }

    /// A new signing secret; the previous one signs too for `overlapSeconds` (a day).
    async fn rotate_webhook_secret(
        &self,
        ctx: &Context<'_>,
        id: uuid::Uuid,
        overlap_seconds: Option<i64>,
    ) -> async_graphql::Result<String> {
        let (app, who) = state(ctx)?;
        let (secret, _): (String, DateTime<Utc>) =
            service::webhooks::rotate(app, who, WebhookId::from_uuid(id), overlap_seconds)
                .await
                .gql()?;
        Ok(secret)
    }

    /// Sends a signed `webhook.test` message now.
    async fn test_webhook(&self, ctx: &Context<'_>, id: uuid::Uuid) -> async_graphql::Result<TestResult> {
        let (app, who) = state(ctx)?;
        service::webhooks::test(app, who, WebhookId::from_uuid(id)).await.gql()
    }

    /// Tries a delivery again now.
    async fn retry_webhook_delivery(
        &self,
        ctx: &Context<'_>,
        id: uuid::Uuid,
        delivery_id: uuid::Uuid,
    ) -> async_graphql::Result<DeliveryDto> {
        let (app, who) = state(ctx)?;
        let d = service::webhooks::retry(app, who, WebhookId::from_uuid(id), DeliveryId::from_uuid(delivery_id))
            .await
            .gql()?;
        Ok(DeliveryDto::from(&d))
    }

    /// Delivers again the events of a time range; answers how many.
    async fn replay_webhook(
        &self,
        ctx: &Context<'_>,
        id: uuid::Uuid,
        since: DateTime<Utc>,
        until: Option<DateTime<Utc>>,
    ) -> async_graphql::Result<u64> {
        let (app, who) = state(ctx)?;
        service::webhooks::replay(app, who, WebhookId::from_uuid(id), since, until)
            .await
            .gql()
    }
}
