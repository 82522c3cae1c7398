//! Webhook endpoints, deliveries and attempts.

use chrono::{DateTime, Utc};
use rapport_domain::webhook::Endpoint;
use rapport_store::webhooks::{Attempt, Delivery};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

/// A webhook endpoint.
#[derive(Clone, Debug, Serialize, ToSchema, async_graphql::SimpleObject)]
#[graphql(name = "Webhook")]
pub struct WebhookDto {
    pub id: Uuid,
    pub url: String,
    pub description: Option<String>,
    /// Patterns: `*`, `contact.*`, `consent.updated` …
    pub event_types: Vec<String>,
    /// For `*.updated` events: only those changing one of these fields.
    pub fields: Option<Vec<String>>,
    /// Skip events caused by the API client that created the endpoint.
    pub skip_own: bool,
    pub enabled: bool,
    pub disabled_reason: Option<String>,
    pub version: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// The signing secret: only in the answer that created or rotated it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secret: Option<String>,
}

impl From<&Endpoint> for WebhookDto {
    fn from(e: &Endpoint) -> Self {
        Self {
            id: e.id.uuid(),
            url: e.url.clone(),
            description: e.description.clone(),
            event_types: e.event_types.clone(),
            fields: e.fields.clone(),
            skip_own: e.skip_own,
            enabled: e.enabled,
            disabled_reason: e.disabled_reason.clone(),
            version: e.version,
            created_at: e.created_at,
            updated_at: e.updated_at,
            secret: None,
        }
    }
}

crate::list_type!(WebhookList, WebhookDto);

/// A new endpoint.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewWebhook {
    /// https (http only with `RAPPORT_WEBHOOK_ALLOW_HTTP`); never a private address.
    pub url: String,
    pub event_types: Vec<String>,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub fields: Option<Vec<String>>,
    #[serde(default)]
    pub skip_own: Option<bool>,
    #[serde(default)]
    pub enabled: Option<bool>,
}

/// Changes to an endpoint (merge patch); `enabled: true` re-enables a disabled one.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WebhookPatch {
    #[serde(default)]
    pub url: Option<String>,
    #[serde(default)]
    pub event_types: Option<Vec<String>>,
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub description: rapport_domain::patch::Patch<String>,
    #[serde(default)]
    #[schema(value_type = Option<Vec<String>>)]
    pub fields: rapport_domain::patch::Patch<Vec<String>>,
    #[serde(default)]
    pub skip_own: Option<bool>,
    #[serde(default)]
    pub enabled: Option<bool>,
}

/// A secret rotation.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RotateSecret {
    /// How long the previous secret keeps signing too (default 86400 s, at most 7 days).
    #[serde(default)]
    pub overlap_seconds: Option<i64>,
}

/// The new secret.
#[derive(Debug, Serialize, ToSchema)]
pub struct RotatedSecret {
    pub secret: String,
    /// Until when the previous secret signs too.
    pub previous_valid_until: DateTime<Utc>,
}

/// One test delivery.
#[derive(Debug, Serialize, ToSchema, async_graphql::SimpleObject)]
#[graphql(name = "WebhookTestResult")]
pub struct TestResult {
    pub ok: bool,
    pub status_code: Option<u16>,
    pub latency_ms: i64,
    pub error: Option<String>,
}

/// One event's delivery to an endpoint.
#[derive(Clone, Debug, Serialize, ToSchema, async_graphql::SimpleObject)]
#[graphql(name = "WebhookDelivery")]
pub struct DeliveryDto {
    pub id: Uuid,
    pub event_id: Uuid,
    pub event_type: String,
    /// `pending`, `delivering`, `succeeded` or `failed`.
    pub status: String,
    pub attempts: i32,
    pub next_attempt_at: Option<DateTime<Utc>>,
    pub last_status: Option<i32>,
    pub last_error: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<&Delivery> for DeliveryDto {
    fn from(d: &Delivery) -> Self {
        Self {
            id: d.id.uuid(),
            event_id: d.event_id.uuid(),
            event_type: d.event_type.clone(),
            status: d.status.clone(),
            attempts: d.attempts,
            next_attempt_at: d.next_attempt_at,
            last_status: d.last_status,
            last_error: d.last_error.clone(),
            created_at: d.created_at,
            updated_at: d.updated_at,
        }
    }
}

crate::list_type!(DeliveryList, DeliveryDto);

/// One attempt.
#[derive(Clone, Debug, Serialize, ToSchema, async_graphql::SimpleObject)]
#[graphql(name = "WebhookAttempt")]
pub struct AttemptDto {
    pub attempted_at: DateTime<Utc>,
    pub status_code: Option<i32>,
    pub latency_ms: i64,
    /// The first KiB of the answer.
    pub response_body: Option<String>,
    pub error: Option<String>,
}

impl From<&Attempt> for AttemptDto {
    fn from(a: &Attempt) -> Self {
        Self {
            attempted_at: a.attempted_at,
            status_code: a.status_code,
            latency_ms: a.latency_ms,
            response_body: a.response_body.clone(),
            error: a.error.clone(),
        }
    }
}

/// A delivery's attempts, oldest first.
#[derive(Debug, Serialize, ToSchema)]
pub struct AttemptList {
    pub data: Vec<AttemptDto>,
}

/// A replay of past events.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Replay {
    pub since: DateTime<Utc>,
    /// Default: now.
    #[serde(default)]
    pub until: Option<DateTime<Utc>>,
}

/// How many deliveries a replay scheduled.
#[derive(Debug, Serialize, ToSchema)]
pub struct ReplayResult {
    pub scheduled: u64,
}
