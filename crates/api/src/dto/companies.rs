//! Company representations.

use chrono::{DateTime, Utc};
use rapport_domain::company::{Company, CompanyInput};
use rapport_domain::patch::Patch;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::list_type;

/// A company (account).
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct CompanyDto {
    pub id: Uuid,
    pub name: String,
    /// Normalised web domain, unique in the workspace.
    pub domain: Option<String>,
    pub industry: Option<String>,
    /// Headcount.
    pub size: Option<i64>,
    #[schema(value_type = Object)]
    pub attributes: Map<String, Value>,
    pub version: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<&Company> for CompanyDto {
    fn from(c: &Company) -> Self {
        Self {
            id: c.id.uuid(),
            name: c.name.clone(),
            domain: c.domain.clone(),
            industry: c.industry.clone(),
            size: c.size,
            attributes: c.attributes.clone(),
            version: c.version,
            created_at: c.created_at,
            updated_at: c.updated_at,
        }
    }
}

list_type!(CompanyList, CompanyDto);

/// Company fields to write (`name` is required on create; on update absent fields are
/// left alone and `null` clears).
#[derive(Clone, Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CompanyWrite {
    #[serde(default)]
    #[schema(value_type = Option<String>, example = "Acme Ltd")]
    pub name: Patch<String>,
    #[serde(default)]
    #[schema(value_type = Option<String>, example = "acme.example")]
    pub domain: Patch<String>,
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub industry: Patch<String>,
    #[serde(default)]
    #[schema(value_type = Option<i64>)]
    pub size: Patch<i64>,
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub attributes: Patch<Map<String, Value>>,
}

impl From<CompanyWrite> for CompanyInput {
    fn from(w: CompanyWrite) -> Self {
        CompanyInput {
            name: w.name,
            domain: w.domain,
            industry: w.industry,
            size: w.size,
            attributes: w.attributes,
        }
    }
}
