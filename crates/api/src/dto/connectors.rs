//! Connectors and the commands they push.

use chrono::{DateTime, Utc};
use rapport_store::connectors::Connector;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

/// A connector: a shop or ERP system pushing signed changes to
/// `POST /v1/ingest/{id}`.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct ConnectorDto {
    pub id: Uuid,
    pub name: String,
    pub enabled: bool,
    /// Where it pushes: `/v1/ingest/{id}`.
    pub ingest_path: String,
    pub version: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// The signing secret: only in the answer that created or rotated it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secret: Option<String>,
}

impl From<&Connector> for ConnectorDto {
    fn from(c: &Connector) -> Self {
        Self {
            id: c.id,
            name: c.name.clone(),
            enabled: c.enabled,
            ingest_path: format!("/v1/ingest/{}", c.id),
            version: c.version,
            created_at: c.created_at,
            updated_at: c.updated_at,
            secret: None,
        }
    }
}

crate::list_type!(ConnectorList, ConnectorDto);

/// A new connector.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewConnector {
    /// Unique in the workspace, e.g. `shopify` or `sap`.
    pub name: String,
}

/// Changes to a connector.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ConnectorPatch {
    #[serde(default)]
    pub enabled: Option<bool>,
}

/// A signed push: up to 1000 commands, applied in order, each answered.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct IngestBatch {
    /// `{type: "contact.upsert" | "company.upsert" | "consent.record", data: {...}}`.
    #[schema(value_type = Vec<Object>)]
    pub commands: Vec<serde_json::Value>,
}

/// One command's outcome.
#[derive(Debug, Serialize, ToSchema)]
pub struct CommandResult {
    pub index: usize,
    /// The command's type as sent.
    #[serde(rename = "type")]
    pub kind: Option<String>,
    /// `created`, `updated`, `unchanged`, `recorded` or `failed`.
    pub status: &'static str,
    /// The record written (contact, company, or consent event).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<Uuid>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<crate::error::Problem>,
}

/// The outcome of a push, one result per command in order.
#[derive(Debug, Serialize, ToSchema)]
pub struct IngestResult {
    pub results: Vec<CommandResult>,
    pub applied: usize,
    pub failed: usize,
}
