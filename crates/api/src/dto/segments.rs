//! Segment representations, and the JSON Schema of the rule language.

use chrono::{DateTime, Utc};
use rapport_domain::patch::Patch;
use rapport_domain::segment::{MAX_DEPTH, MAX_LIST, MAX_NODES, Op, Segment, SegmentChanges, SegmentInput};
use rapport_store::segments::Membership;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use utoipa::ToSchema;
use uuid::Uuid;

use super::PageInfo;
use super::contacts::ContactDto;
use crate::list_type;

/// The OpenAPI reference to the rule schema.
fn rule_ref() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
    utoipa::openapi::Ref::from_schema_name("SegmentRule").into()
}

/// A segment: an audience defined by a rule (`dynamic`, or frozen as a `snapshot`) or
/// by explicit members (`static`).
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct SegmentDto {
    pub id: Uuid,
    pub name: String,
    pub description: Option<String>,
    /// `dynamic`, `snapshot` or `static`.
    pub kind: String,
    /// The rule (dynamic and snapshot segments).
    #[schema(schema_with = rule_ref)]
    pub rules: Option<Value>,
    /// How many contacts are members now.
    pub member_count: u64,
    pub version: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// When the membership was last reconciled with the rule in full.
    pub refreshed_at: Option<DateTime<Utc>>,
}

impl SegmentDto {
    pub fn new(s: &Segment, member_count: u64) -> Self {
        Self {
            id: s.id.uuid(),
            name: s.name.clone(),
            description: s.description.clone(),
            kind: s.kind.as_str().to_owned(),
            rules: s.rules.clone(),
            member_count,
            version: s.version,
            created_at: s.created_at,
            updated_at: s.updated_at,
            refreshed_at: s.refreshed_at,
        }
    }
}

list_type!(SegmentList, SegmentDto);

/// A new segment.
#[derive(Clone, Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewSegment {
    #[schema(example = "Gold customers who agreed to email")]
    pub name: String,
    pub description: Option<String>,
    /// `dynamic` (default), `snapshot` or `static`.
    pub kind: Option<String>,
    /// The rule; required for dynamic and snapshot segments, refused for static ones.
    #[schema(schema_with = rule_ref)]
    pub rules: Option<Value>,
}

impl From<NewSegment> for SegmentInput {
    fn from(n: NewSegment) -> Self {
        SegmentInput {
            name: n.name,
            description: n.description,
            kind: n.kind,
            rules: n.rules,
        }
    }
}

/// Changes to a segment (absent fields stay; `description: null` clears). Only a
/// dynamic segment's rule may change.
#[derive(Clone, Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SegmentPatch {
    pub name: Option<String>,
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub description: Patch<String>,
    #[schema(schema_with = rule_ref)]
    pub rules: Option<Value>,
}

impl From<SegmentPatch> for SegmentChanges {
    fn from(p: SegmentPatch) -> Self {
        SegmentChanges {
            name: p.name,
            description: p.description,
            rules: p.rules,
        }
    }
}

/// Contacts to add to or remove from a static segment.
#[derive(Clone, Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MemberChange {
    /// 1 to 1000 contact ids of the workspace.
    pub contact_ids: Vec<Uuid>,
}

/// What a member change did.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct MemberChangeResult {
    /// Contacts added (or removed) by this call; those already in (or out) are not counted.
    pub changed: u64,
    pub member_count: u64,
}

/// How many contacts are members of a segment now.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct SegmentCount {
    pub count: u64,
}

/// A rule to try, or to search contacts with.
#[derive(Clone, Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RuleQuery {
    #[schema(schema_with = rule_ref)]
    pub rules: Value,
    /// Page size, 1 to 500 (default 50).
    pub limit: Option<u64>,
    /// `page.next_cursor` of the previous page (search only).
    pub after: Option<String>,
}

/// How many contacts a rule selects now, and the first of them.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct Preview {
    pub count: u64,
    pub data: Vec<ContactDto>,
    pub page: PageInfo,
}

/// What a refresh changed.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct RefreshResult {
    pub entered: u64,
    pub exited: u64,
    pub member_count: u64,
    pub refreshed_at: DateTime<Utc>,
}

/// The segment a membership is of.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct SegmentRef {
    pub id: Uuid,
    pub name: String,
    pub kind: String,
}

/// One span of a contact's membership in a segment.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct MembershipDto {
    pub segment: SegmentRef,
    pub entered_at: DateTime<Utc>,
    /// `null` while the contact is a member.
    pub exited_at: Option<DateTime<Utc>>,
}

impl MembershipDto {
    pub fn new(m: &Membership, s: &Segment) -> Self {
        Self {
            segment: SegmentRef {
                id: s.id.uuid(),
                name: s.name.clone(),
                kind: s.kind.as_str().to_owned(),
            },
            entered_at: m.entered_at,
            exited_at: m.exited_at,
        }
    }
}

/// A contact's memberships: current ones first, then past spans.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct MembershipList {
    pub data: Vec<MembershipDto>,
}

/// A field rules may test.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct SegmentFieldDto {
    #[schema(example = "attributes.tier")]
    pub name: String,
    /// `text`, `choice`, `number`, `boolean`, `date`, `timestamp` or `tags`.
    pub kind: String,
    pub operators: Vec<String>,
    /// The values a choice field accepts.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub options: Vec<String>,
}

/// The fields of the workspace.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct SegmentFieldList {
    pub data: Vec<SegmentFieldDto>,
}

/// The JSON Schema of the rule language, with its definitions referenced under
/// `prefix` (`#/$defs/` for the standalone file, `#/components/schemas/` in OpenAPI).
pub fn rule_schemas(prefix: &str) -> Vec<(&'static str, Value)> {
    let r = |name: &str| json!({ "$ref": format!("{prefix}{name}") });
    let group = |key: &str, what: &str| {
        json!({
            "type": "object",
            "description": what,
            "properties": { key: { "type": "array", "items": r("SegmentRule"), "maxItems": MAX_NODES } },
            "required": [key],
            "additionalProperties": false
        })
    };
    let ops: Vec<&str> = Op::ALL.iter().map(|o| o.as_str()).collect();
    vec![
        (
            "SegmentRule",
            json!({
                "description": format!(
                    "A segment rule: a group (`all`, `any`, `not`) or a condition. At most {MAX_DEPTH} levels and {MAX_NODES} nodes."
                ),
                "oneOf": [r("SegmentAll"), r("SegmentAny"), r("SegmentNot"), r("SegmentCondition")]
            }),
        ),
        (
            "SegmentAll",
            group("all", "Every child matches (an empty `all` matches every contact)."),
        ),
        (
            "SegmentAny",
            group("any", "At least one child matches (an empty `any` matches none)."),
        ),
        (
            "SegmentNot",
            json!({
                "type": "object",
                "description": "The child does not match.",
                "properties": { "not": r("SegmentRule") },
                "required": ["not"],
                "additionalProperties": false
            }),
        ),
        (
            "SegmentCondition",
            json!({
                "type": "object",
                "description": format!(
                    "One test of one field. Fields: `email`, `phone`, `first_name`, `last_name`, `locale`, `country`, `owner_id` (text); `lifecycle_stage`, `highest_stage` (choice); `lead_score` (number); `tags`; `created_at`, `updated_at` (timestamp); `attributes.<key>` (the declared type); `company.name`, `company.domain`, `company.industry` (text), `company.size` (number), `company.attributes.<key>`; `consent.<purpose>` (choice: granted, denied, withdrawn, pending_confirmation, expired, none); purchase metrics `metrics.order_count` (number, 0 without purchases), `metrics.first_order_at`, `metrics.last_order_at` (timestamp), `metrics.total_spent.<currency>` (number, minor units, 0 without purchases), `metrics.average_order_value.<currency>` (number); purchases within a window `orders.count` and `orders.total.<currency>` (number; with `within`). GET /v1/segments/fields lists a workspace's fields with their operators. Values: `in`/`not_in` take an array of 1 to {MAX_LIST}; `between` takes [low, high] (both included); `within_last` an ISO 8601 duration (`P90D`); `exists` true or false (default true); text compares ignoring the case of A-Z; a missing value fails every test but `ne`, `not_in` and `exists: false`."
                ),
                "properties": {
                    "field": { "type": "string", "description": "The field to test, e.g. `attributes.tier`." },
                    "op": { "type": "string", "enum": ops },
                    "value": {
                        "description": "The value of the field's type (see above); omitted only for `exists`.",
                        "type": ["string", "number", "boolean", "array"]
                    },
                    "within": {
                        "type": "string",
                        "description": "For `orders.count` and `orders.total.<currency>` only: count the purchases placed within this ISO 8601 duration of now (`P90D`); all of them when omitted.",
                        "examples": ["P90D"]
                    }
                },
                "required": ["field", "op"],
                "additionalProperties": false
            }),
        ),
    ]
}

/// The standalone JSON Schema document, as written to `schema/segment-rules.schema.json`.
pub fn rule_schema_document() -> Value {
    let defs: serde_json::Map<String, Value> = rule_schemas("#/$defs/")
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect();
    json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "https://rapport.dev/schema/segment-rules.schema.json",
        "title": "Rapport segment rule",
        "$ref": "#/$defs/SegmentRule",
        "$defs": defs
    })
}
