//! Custom attributes, typed by workspace-declared definitions.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::error::{Errors, FieldError, pointer_token};
use crate::ids::AttributeDefinitionId;
use crate::text;

/// Longest string attribute value, in characters.
pub const MAX_STRING_CHARS: usize = 2000;
/// Most options an enum attribute may declare.
pub const MAX_OPTIONS: usize = 500;
/// Most definitions a workspace may declare per entity.
pub const MAX_DEFINITIONS: usize = 500;

/// The value type of an attribute.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AttributeType {
    String,
    Number,
    Boolean,
    /// A calendar date, `YYYY-MM-DD`.
    Date,
    /// One of the declared options.
    Enum,
}

impl AttributeType {
    pub fn as_str(self) -> &'static str {
        match self {
            AttributeType::String => "string",
            AttributeType::Number => "number",
            AttributeType::Boolean => "boolean",
            AttributeType::Date => "date",
            AttributeType::Enum => "enum",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [Self::String, Self::Number, Self::Boolean, Self::Date, Self::Enum]
            .into_iter()
            .find(|t| t.as_str() == s)
    }
}

/// Which kind of record an attribute belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AttributeEntity {
    Contact,
    Company,
}

impl AttributeEntity {
    pub fn as_str(self) -> &'static str {
        match self {
            AttributeEntity::Contact => "contact",
            AttributeEntity::Company => "company",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [Self::Contact, Self::Company].into_iter().find(|t| t.as_str() == s)
    }
}

/// A declared attribute.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct AttributeDefinition {
    pub id: AttributeDefinitionId,
    pub entity: AttributeEntity,
    pub key: String,
    pub label: String,
    pub description: Option<String>,
    pub kind: AttributeType,
    /// The allowed values of an `enum` attribute; empty for other types.
    pub options: Vec<String>,
    pub version: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A new definition as a caller sends it, before validation.
#[derive(Clone, Debug, Default)]
pub struct NewDefinitionInput {
    pub entity: Option<String>,
    pub key: String,
    pub label: String,
    pub description: Option<String>,
    pub kind: String,
    pub options: Option<Vec<String>>,
}

/// Changes to a definition: the key, entity and type never change (stored values
/// depend on them), the rest may.
#[derive(Clone, Debug, Default)]
pub struct DefinitionChanges {
    pub label: Option<String>,
    pub description: crate::patch::Patch<String>,
    pub options: Option<Vec<String>>,
}

fn options(raw: &[String], pointer: &str, errors: &mut Errors) -> Vec<String> {
    let mut seen = BTreeSet::new();
    let mut out = Vec::with_capacity(raw.len());
    for (i, o) in raw.iter().enumerate() {
        let p = format!("{pointer}/{i}");
        if let Some(o) = errors.take(text::required_text(o, &p, text::MAX_NAME_CHARS)) {
            if seen.insert(o.clone()) {
                out.push(o);
            } else {
                errors.push(FieldError::new(p, "duplicate", "options must be unique"));
            }
        }
    }
    if out.is_empty() || raw.len() > MAX_OPTIONS {
        errors.push(FieldError::new(
            pointer,
            "invalid_length",
            format!("an enum needs 1 to {MAX_OPTIONS} options"),
        ));
    }
    out
}

impl NewDefinitionInput {
    /// Validates a new definition.
    pub fn validate(self, now: DateTime<Utc>) -> Result<AttributeDefinition, crate::DomainError> {
        let mut errors = Errors::default();
        let entity = match self.entity.as_deref() {
            None => Some(AttributeEntity::Contact),
            Some(e) => errors.take(
                AttributeEntity::parse(e)
                    .ok_or_else(|| FieldError::new("/entity", "invalid_value", "must be contact or company")),
            ),
        };
        let key = errors.take(text::key(&self.key, "/key", false));
        let label = errors.take(text::required_text(&self.label, "/label", text::MAX_NAME_CHARS));
        let description = self
            .description
            .as_deref()
            .and_then(|d| errors.take(text::optional_text(d, "/description", MAX_STRING_CHARS)))
            .flatten();
        let kind = errors.take(AttributeType::parse(&self.kind).ok_or_else(|| {
            FieldError::new(
                "/type",
                "invalid_value",
                "must be one of string, number, boolean, date, enum",
            )
        }));
        let opts = match (kind, &self.options) {
            (Some(AttributeType::Enum), Some(o)) => options(o, "/options", &mut errors),
            (Some(AttributeType::Enum), None) => {
                errors.push(FieldError::new(
                    "/options",
                    "required",
                    "an enum attribute needs options",
                ));
                Vec::new()
            }
            (Some(_), Some(_)) => {
                errors.push(FieldError::new(
                    "/options",
                    "not_allowed",
                    "only enum attributes have options",
                ));
                Vec::new()
            }
            (_, _) => Vec::new(),
        };
        errors.finish()?;
        match (entity, key, label, kind) {
            (Some(entity), Some(key), Some(label), Some(kind)) => Ok(AttributeDefinition {
                id: AttributeDefinitionId::new(),
                entity,
                key,
                label,
                description,
                kind,
                options: opts,
                version: 1,
                created_at: now,
                updated_at: now,
            }),
            _ => Err(crate::DomainError::field("", "invalid", "invalid definition")),
        }
    }
}

impl AttributeDefinition {
    /// The definition after `changes`; `Ok(None)` when nothing changed. Options that are
    /// dropped are returned so the caller can check no record still uses them.
    pub fn changed(
        &self,
        changes: DefinitionChanges,
        now: DateTime<Utc>,
    ) -> Result<Option<(Self, Vec<String>)>, crate::DomainError> {
        let mut errors = Errors::default();
        let mut next = self.clone();
        if let Some(l) = changes.label
            && let Some(l) = errors.take(text::required_text(&l, "/label", text::MAX_NAME_CHARS))
        {
            next.label = l;
        }
        if let Some(d) = errors.take(
            changes
                .description
                .try_map(|d| text::optional_text(&d, "/description", MAX_STRING_CHARS)),
        ) {
            next.description = d.apply(next.description.take());
        }
        let mut dropped = Vec::new();
        if let Some(o) = changes.options {
            if self.kind == AttributeType::Enum {
                next.options = options(&o, "/options", &mut errors);
                dropped = self
                    .options
                    .iter()
                    .filter(|old| !next.options.contains(old))
                    .cloned()
                    .collect();
            } else {
                errors.push(FieldError::new(
                    "/options",
                    "not_allowed",
                    "only enum attributes have options",
                ));
            }
        }
        errors.finish()?;
        if next == *self {
            return Ok(None);
        }
        next.version += 1;
        next.updated_at = now;
        Ok(Some((next, dropped)))
    }

    /// Checks and normalises one value for this attribute.
    pub fn check(&self, value: &Value, pointer: &str) -> Result<Value, FieldError> {
        let wrong = |expected: &str| {
            FieldError::new(
                pointer,
                "wrong_type",
                format!(
                    "attribute '{}' is a {}: expected {expected}",
                    self.key,
                    self.kind.as_str()
                ),
            )
        };
        match self.kind {
            AttributeType::String => {
                let s = value.as_str().ok_or_else(|| wrong("a string"))?;
                let t = text::optional_text(s, pointer, MAX_STRING_CHARS)?;
                Ok(t.map_or(Value::Null, Value::String))
            }
            AttributeType::Number => match value {
                Value::Number(n) if n.as_f64().is_some_and(f64::is_finite) => Ok(value.clone()),
                _ => Err(wrong("a number")),
            },
            AttributeType::Boolean => match value {
                Value::Bool(_) => Ok(value.clone()),
                _ => Err(wrong("true or false")),
            },
            AttributeType::Date => {
                let s = value.as_str().ok_or_else(|| wrong("a date string YYYY-MM-DD"))?;
                NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d")
                    .map(|d| Value::String(d.format("%Y-%m-%d").to_string()))
                    .map_err(|_| FieldError::new(pointer, "invalid_format", "must be a date, YYYY-MM-DD"))
            }
            AttributeType::Enum => {
                let s = value.as_str().ok_or_else(|| wrong("one of the options"))?;
                if self.options.iter().any(|o| o == s) {
                    Ok(value.clone())
                } else {
                    Err(FieldError::new(
                        pointer,
                        "not_an_option",
                        format!("must be one of: {}", self.options.join(", ")),
                    ))
                }
            }
        }
    }
}

/// The definitions of one entity in one workspace, by key.
#[derive(Clone, Debug, Default)]
pub struct AttributeSchema(BTreeMap<String, AttributeDefinition>);

impl AttributeSchema {
    pub fn new(defs: impl IntoIterator<Item = AttributeDefinition>) -> Self {
        Self(defs.into_iter().map(|d| (d.key.clone(), d)).collect())
    }

    pub fn get(&self, key: &str) -> Option<&AttributeDefinition> {
        self.0.get(key)
    }

    /// Every definition, by key.
    pub fn definitions(&self) -> impl Iterator<Item = &AttributeDefinition> {
        self.0.values()
    }

    /// Validates an attribute patch (merge-patch object: `null` removes a key) located at
    /// `pointer`. Unknown keys and values of the wrong type are refused.
    pub fn check_patch(&self, patch: Map<String, Value>, pointer: &str) -> Result<Map<String, Value>, Vec<FieldError>> {
        let mut out = Map::new();
        let mut errors = Vec::new();
        for (key, value) in patch {
            let p = format!("{pointer}/{}", pointer_token(&key));
            let Some(def) = self.0.get(&key) else {
                errors.push(FieldError::new(
                    p,
                    "unknown_attribute",
                    format!("no attribute '{key}' is defined; declare it under /v1/attribute-definitions first"),
                ));
                continue;
            };
            if value.is_null() {
                out.insert(key, Value::Null);
                continue;
            }
            match def.check(&value, &p) {
                Ok(v) => {
                    out.insert(key, v);
                }
                Err(e) => errors.push(e),
            }
        }
        if errors.is_empty() { Ok(out) } else { Err(errors) }
    }
}

/// Applies a checked attribute patch to current values: `null` removes, others set.
pub fn merge(current: &Map<String, Value>, patch: &Map<String, Value>) -> Map<String, Value> {
    let mut out = current.clone();
    for (k, v) in patch {
        if v.is_null() {
            out.remove(k);
        } else {
            out.insert(k.clone(), v.clone());
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn def(key: &str, kind: &str, options: Option<Vec<&str>>) -> AttributeDefinition {
        NewDefinitionInput {
            entity: None,
            key: key.into(),
            label: key.into(),
            description: None,
            kind: kind.into(),
            options: options.map(|o| o.into_iter().map(String::from).collect()),
        }
        .validate(Utc::now())
        .unwrap()
    }

    fn schema() -> AttributeSchema {
        AttributeSchema::new([
            def("tier", "enum", Some(vec!["gold", "silver"])),
            def("score", "number", None),
            def("vip", "boolean", None),
            def("birthday", "date", None),
            def("nickname", "string", None),
        ])
    }

    #[test]
    fn values_of_the_declared_type_pass_and_are_normalised() {
        let p = schema()
            .check_patch(
                json!({"tier": "gold", "score": 4.5, "vip": true, "birthday": "1990-02-03", "nickname": " Ada "})
                    .as_object()
                    .unwrap()
                    .clone(),
                "/attributes",
            )
            .unwrap();
        assert_eq!(p["nickname"], "Ada");
    }

    #[test]
    fn every_wrong_value_is_reported_at_its_own_pointer() {
        let errs = schema()
            .check_patch(
                json!({"tier": "bronze", "score": "high", "vip": 1, "birthday": "1990-02-30", "unknown": 1})
                    .as_object()
                    .unwrap()
                    .clone(),
                "/attributes",
            )
            .unwrap_err();
        let mut got: Vec<(String, &str)> = errs.iter().map(|e| (e.pointer.clone(), e.code)).collect();
        got.sort();
        assert_eq!(
            got,
            vec![
                ("/attributes/birthday".into(), "invalid_format"),
                ("/attributes/score".into(), "wrong_type"),
                ("/attributes/tier".into(), "not_an_option"),
                ("/attributes/unknown".into(), "unknown_attribute"),
                ("/attributes/vip".into(), "wrong_type"),
            ]
        );
    }

    #[test]
    fn null_removes_an_attribute() {
        let current = json!({"tier": "gold", "vip": true}).as_object().unwrap().clone();
        let patch = schema()
            .check_patch(json!({"tier": null}).as_object().unwrap().clone(), "/attributes")
            .unwrap();
        assert_eq!(Value::Object(merge(&current, &patch)), json!({"vip": true}));
    }

    #[test]
    fn an_enum_definition_needs_unique_options_and_others_refuse_options() {
        let bad = NewDefinitionInput {
            key: "tier".into(),
            label: "Tier".into(),
            kind: "enum".into(),
            options: Some(vec!["a".into(), "a".into()]),
            ..Default::default()
        }
        .validate(Utc::now());
        assert!(bad.is_err());
        let bad = NewDefinitionInput {
            key: "n".into(),
            label: "N".into(),
            kind: "number".into(),
            options: Some(vec!["a".into()]),
            ..Default::default()
        }
        .validate(Utc::now());
        assert!(bad.is_err());
    }

    #[test]
    fn dropping_an_option_is_reported_so_its_use_can_be_checked() {
        let d = def("tier", "enum", Some(vec!["gold", "silver"]));
        let (next, dropped) = d
            .changed(
                DefinitionChanges {
                    options: Some(vec!["gold".into(), "platinum".into()]),
                    ..Default::default()
                },
                Utc::now(),
            )
            .unwrap()
            .unwrap();
        assert_eq!(next.version, 2);
        assert_eq!(dropped, vec!["silver"]);
        assert!(d.changed(DefinitionChanges::default(), Utc::now()).unwrap().is_none());
    }
}
