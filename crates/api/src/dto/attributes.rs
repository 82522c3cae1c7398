//! Attribute definition representations.

use chrono::{DateTime, Utc};
use rapport_domain::attributes::{AttributeDefinition, DefinitionChanges, NewDefinitionInput};
use rapport_domain::patch::Patch;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

/// A declared custom attribute.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct AttributeDefinitionDto {
    pub id: Uuid,
    /// `contact` or `company`.
    pub entity: String,
    pub key: String,
    pub label: String,
    pub description: Option<String>,
    /// `string`, `number`, `boolean`, `date` or `enum`.
    #[serde(rename = "type")]
    pub kind: String,
    pub options: Vec<String>,
    pub version: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<&AttributeDefinition> for AttributeDefinitionDto {
    fn from(d: &AttributeDefinition) -> Self {
        Self {
            id: d.id.uuid(),
            entity: d.entity.as_str().to_owned(),
            key: d.key.clone(),
            label: d.label.clone(),
            description: d.description.clone(),
            kind: d.kind.as_str().to_owned(),
            options: d.options.clone(),
            version: d.version,
            created_at: d.created_at,
            updated_at: d.updated_at,
        }
    }
}

/// All definitions.
#[derive(Debug, Serialize, ToSchema)]
pub struct AttributeDefinitionList {
    pub data: Vec<AttributeDefinitionDto>,
}

/// A new attribute definition.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewAttributeDefinition {
    /// `contact` (default) or `company`.
    #[serde(default)]
    pub entity: Option<String>,
    /// Lowercase letters, digits and `_`, starting with a letter.
    #[schema(example = "tier")]
    pub key: String,
    #[schema(example = "Loyalty tier")]
    pub label: String,
    #[serde(default)]
    pub description: Option<String>,
    /// `string`, `number`, `boolean`, `date` or `enum`.
    #[serde(rename = "type")]
    #[schema(example = "enum")]
    pub kind: String,
    /// Required for `enum`, refused otherwise.
    #[serde(default)]
    pub options: Option<Vec<String>>,
}

impl From<NewAttributeDefinition> for NewDefinitionInput {
    fn from(n: NewAttributeDefinition) -> Self {
        Self {
            entity: n.entity,
            key: n.key,
            label: n.label,
            description: n.description,
            kind: n.kind,
            options: n.options,
        }
    }
}

/// Changes to a definition. The key, entity and type cannot change.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AttributeDefinitionPatch {
    #[serde(default)]
    pub label: Option<String>,
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub description: Patch<String>,
    /// The full new option list; dropping an option still in use is refused.
    #[serde(default)]
    pub options: Option<Vec<String>>,
}

impl From<AttributeDefinitionPatch> for DefinitionChanges {
    fn from(p: AttributeDefinitionPatch) -> Self {
        Self {
            label: p.label,
            description: p.description,
            options: p.options,
        }
    }
}
