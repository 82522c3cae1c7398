//! Segments: audiences defined by a rule (dynamic, or frozen as a snapshot) or by an
//! explicit list of contacts (static).

use chrono::{DateTime, Utc};
use serde_json::Value;

use crate::error::{DomainError, Errors, FieldError};
use crate::ids::{SegmentId, WorkspaceId};
use crate::patch::Patch;
use crate::text;

mod duration;
mod eval;
mod field;
mod rule;

pub use duration::IsoDuration;
pub use eval::{Subject, default_point, window};
pub use field::{CompanyField, ContactField, Field, FieldInfo, Kind, Metric, OrderMeasure, Registry};
pub use rule::{
    Condition, MAX_DEPTH, MAX_LIST, MAX_NODES, MAX_TEXT, MAX_VALUES, Op, Operand, Rule, Scalar, fold, operators,
};

/// Most contact ids one call may add to or remove from a static segment.
pub const MAX_MEMBER_CHANGE: usize = 1000;
/// Longest description, in characters.
pub const MAX_DESCRIPTION_CHARS: usize = 2000;

crate::wire_enum!(
    /// How a segment's members are decided.
    SegmentKind {
        /// Members are the contacts matching the rule, kept current on every change.
        Dynamic = "dynamic",
        /// The contacts matching the rule when the segment was created, frozen.
        Snapshot = "snapshot",
        /// Members are added and removed explicitly.
        Static = "static",
    }
);

/// A segment.
#[derive(Clone, Debug, PartialEq)]
pub struct Segment {
    pub id: SegmentId,
    pub workspace_id: WorkspaceId,
    pub name: String,
    pub description: Option<String>,
    pub kind: SegmentKind,
    /// The rule as written (validated); `None` for static segments.
    pub rules: Option<Value>,
    pub version: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// When the membership was last reconciled with the rule in full.
    pub refreshed_at: Option<DateTime<Utc>>,
}

/// A new segment as a caller sends it.
#[derive(Clone, Debug, Default)]
pub struct SegmentInput {
    pub name: String,
    pub description: Option<String>,
    pub kind: Option<String>,
    pub rules: Option<Value>,
}

/// Changes to a segment; its kind never changes.
#[derive(Clone, Debug, Default)]
pub struct SegmentChanges {
    pub name: Option<String>,
    pub description: Patch<String>,
    pub rules: Option<Value>,
}

fn description(raw: Option<&str>, errors: &mut Errors) -> Option<String> {
    raw.and_then(|d| {
        errors
            .take(text::optional_text(d, "/description", MAX_DESCRIPTION_CHARS))
            .flatten()
    })
}

fn rules(raw: &Value, registry: &Registry, errors: &mut Errors) -> Option<Rule> {
    match Rule::parse(raw, registry) {
        Ok(r) => Some(r),
        Err(DomainError::Invalid(e)) => {
            errors.extend(e.into_iter().map(|e| e.under("/rules")));
            None
        }
        Err(other) => {
            errors.push(FieldError::new("/rules", "invalid_rule", other.to_string()));
            None
        }
    }
}

impl SegmentInput {
    /// Validates a new segment; its rule is checked against the workspace's fields.
    /// # Errors
    /// `validation_failed` with a pointer per problem (`/rules/all/2/value`).
    pub fn validate(
        self,
        id: SegmentId,
        ws: WorkspaceId,
        registry: &Registry,
        now: DateTime<Utc>,
    ) -> Result<(Segment, Option<Rule>), DomainError> {
        let mut errors = Errors::default();
        let name = errors.take(text::required_text(&self.name, "/name", text::MAX_NAME_CHARS));
        let description = description(self.description.as_deref(), &mut errors);
        let kind = match self.kind.as_deref() {
            None => Some(SegmentKind::Dynamic),
            Some(k) => errors.take(SegmentKind::parse(k).ok_or_else(|| {
                FieldError::new(
                    "/kind",
                    "invalid_value",
                    format!("must be one of {}", SegmentKind::names()),
                )
            })),
        };
        let rule = match (kind, &self.rules) {
            (Some(SegmentKind::Static), Some(_)) => {
                errors.push(FieldError::new(
                    "/rules",
                    "not_allowed",
                    "a static segment has explicit members, not rules",
                ));
                None
            }
            (Some(SegmentKind::Dynamic | SegmentKind::Snapshot), None) => {
                errors.push(FieldError::new(
                    "/rules",
                    "required",
                    "a dynamic or snapshot segment needs rules",
                ));
                None
            }
            (_, Some(raw)) => rules(raw, registry, &mut errors),
            (_, None) => None,
        };
        errors.finish()?;
        let (Some(name), Some(kind)) = (name, kind) else {
            return Err(DomainError::field("", "invalid_segment", "the segment is not valid"));
        };
        let segment = Segment {
            id,
            workspace_id: ws,
            name,
            description,
            kind,
            rules: rule.is_some().then_some(self.rules).flatten(),
            version: 1,
            created_at: now,
            updated_at: now,
            refreshed_at: None,
        };
        Ok((segment, rule))
    }
}

impl Segment {
    /// The segment after `changes`; `None` when nothing changed. The rule of a dynamic
    /// segment may change; a snapshot's is frozen and a static segment has none.
    /// # Errors
    /// `validation_failed` with pointers.
    pub fn apply(
        &self,
        changes: SegmentChanges,
        registry: &Registry,
        now: DateTime<Utc>,
    ) -> Result<Option<(Segment, Option<Rule>)>, DomainError> {
        let mut errors = Errors::default();
        let mut next = self.clone();
        if let Some(n) = changes.name {
            if let Some(n) = errors.take(text::required_text(&n, "/name", text::MAX_NAME_CHARS)) {
                next.name = n;
            }
        }
        match changes.description {
            Patch::Absent => {}
            Patch::Clear => next.description = None,
            Patch::Set(d) => next.description = description(Some(&d), &mut errors),
        }
        let mut rule = None;
        if let Some(raw) = changes.rules {
            match self.kind {
                SegmentKind::Dynamic => {
                    rule = rules(&raw, registry, &mut errors);
                    next.rules = Some(raw);
                }
                SegmentKind::Snapshot => errors.push(FieldError::new(
                    "/rules",
                    "not_allowed",
                    "a snapshot's rule is frozen; create a new snapshot instead",
                )),
                SegmentKind::Static => errors.push(FieldError::new(
                    "/rules",
                    "not_allowed",
                    "a static segment has explicit members, not rules",
                )),
            }
        }
        errors.finish()?;
        if next == *self {
            return Ok(None);
        }
        next.version += 1;
        next.updated_at = now;
        Ok(Some((next, rule)))
    }
}

#[cfg(test)]
mod tests;
