//! API client and token representations.

use chrono::{DateTime, Utc};
use rapport_store::api_clients::ApiClient;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

/// An API client (its secret is only ever shown at creation).
#[derive(Debug, Serialize, ToSchema)]
pub struct ApiClientDto {
    /// The `client_id` for `POST /v1/auth/token`.
    pub client_id: Uuid,
    pub workspace_id: Uuid,
    pub name: String,
    pub scopes: Vec<String>,
    pub created_at: DateTime<Utc>,
    pub revoked_at: Option<DateTime<Utc>>,
}

impl From<&ApiClient> for ApiClientDto {
    fn from(c: &ApiClient) -> Self {
        Self {
            client_id: c.id.uuid(),
            workspace_id: c.workspace_id.uuid(),
            name: c.name.clone(),
            scopes: c.scopes.names().into_iter().map(str::to_owned).collect(),
            created_at: c.created_at,
            revoked_at: c.revoked_at,
        }
    }
}

/// A new client with its secret, shown this once.
#[derive(Debug, Serialize, ToSchema)]
pub struct CreatedApiClient {
    #[serde(flatten)]
    pub client: ApiClientDto,
    /// Store it now: only its hash is kept.
    pub client_secret: String,
}

/// All clients of the workspace.
#[derive(Debug, Serialize, ToSchema)]
pub struct ApiClientList {
    pub data: Vec<ApiClientDto>,
}

/// A new API client.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewApiClient {
    #[schema(example = "Storefront")]
    pub name: String,
    /// Space-separated scopes, e.g. `contacts:read contacts:write`.
    #[schema(example = "contacts:read contacts:write")]
    pub scopes: String,
}

/// An OAuth2 client-credentials token request (form or JSON body; the client may
/// instead authenticate with HTTP Basic).
#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct TokenRequest {
    /// Must be `client_credentials`.
    pub grant_type: Option<String>,
    pub client_id: Option<String>,
    pub client_secret: Option<String>,
    /// Space-separated subset of the client's scopes; all of them when absent.
    pub scope: Option<String>,
}

/// An access token.
#[derive(Debug, Serialize, ToSchema)]
pub struct TokenResponse {
    pub access_token: String,
    /// Always `Bearer`.
    pub token_type: &'static str,
    /// Seconds until the token expires.
    pub expires_in: u64,
    /// The granted scopes, space-separated.
    pub scope: String,
}
