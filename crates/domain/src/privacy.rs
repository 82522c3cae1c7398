//! Data-subject rights: the erasure record and the redaction of stored payloads.

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;

use crate::error::FieldError;
use crate::event::Actor;
use crate::ids::{ContactId, ErasureId};
use crate::text;

/// Longest erasure reason, in characters.
pub const MAX_REASON_CHARS: usize = 1000;

/// A carried-out erasure request: who asked, why and when. It holds no personal data.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Erasure {
    pub id: ErasureId,
    pub contact_id: ContactId,
    pub reason: String,
    pub actor: Actor,
    pub requested_at: DateTime<Utc>,
    pub erased_at: DateTime<Utc>,
}

/// Parses an erasure reason.
/// # Errors
/// `required`, `too_long` or `invalid_format` at `/reason`.
pub fn reason(raw: &str) -> Result<String, FieldError> {
    text::required_text(raw, "/reason", MAX_REASON_CHARS)
}

/// Object keys whose values are personal data wherever they appear in a payload about
/// a person.
const PERSONAL_KEYS: [&str; 11] = [
    "email",
    "phone",
    "first_name",
    "last_name",
    "locale",
    "owner_id",
    "external_ids",
    "attributes",
    "contact_point",
    "ip",
    "user_agent",
];

/// A payload about an erased person with the personal data taken out: values under
/// [`PERSONAL_KEYS`] become `null`, and so does any string equal to one of `values`
/// (case-insensitively) or containing one of `fragments` (the email and phone, which
/// may be embedded in longer text).
pub fn redact(v: &Value, values: &[String], fragments: &[String]) -> Value {
    let values: Vec<String> = values.iter().map(|s| s.to_lowercase()).collect();
    let fragments: Vec<String> = fragments
        .iter()
        .filter(|f| f.len() >= 4)
        .map(|s| s.to_lowercase())
        .collect();
    walk(v, &values, &fragments)
}

/// Keys whose values are names of fields or states, never personal data.
const STRUCTURAL_KEYS: [&str; 3] = ["changed_fields", "type", "lifecycle_stage"];

fn walk(v: &Value, values: &[String], fragments: &[String]) -> Value {
    match v {
        Value::String(s) => {
            let l = s.to_lowercase();
            if values.contains(&l) || fragments.iter().any(|f| l.contains(f.as_str())) {
                Value::Null
            } else {
                v.clone()
            }
        }
        Value::Array(a) => Value::Array(a.iter().map(|x| walk(x, values, fragments)).collect()),
        Value::Object(m) => Value::Object(
            m.iter()
                .map(|(k, x)| {
                    let x = if PERSONAL_KEYS.contains(&k.as_str()) && !x.is_null() {
                        Value::Null
                    } else if STRUCTURAL_KEYS.contains(&k.as_str()) {
                        x.clone()
                    } else if k == "transition" {
                        // Staff write free text into a transition's reason.
                        let mut t = walk(x, values, fragments);
                        if let Some(r) = t.get_mut("reason") {
                            *r = Value::Null;
                        }
                        t
                    } else {
                        walk(x, values, fragments)
                    };
                    (k.clone(), x)
                })
                .collect(),
        ),
        Value::Null | Value::Bool(_) | Value::Number(_) => v.clone(),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn redaction_removes_personal_keys_and_values_wherever_they_are() {
        let payload = json!({
            "object": {"id": "c1", "email": "ada@example.com", "first_name": "Ada", "tags": ["vip", "ada"], "country": "GB"},
            "previous": {"email": "old@example.com"},
            "changed_fields": ["email", "ada"],
            "note": "mail ada@example.com about Canada",
            "transition": {"to": "customer", "reason": "Ada asked"},
        });
        let out = redact(&payload, &["Ada".into()], &["ADA@example.com".into()]);
        assert_eq!(
            out,
            json!({
                "object": {"id": "c1", "email": null, "first_name": null, "tags": ["vip", null], "country": "GB"},
                "previous": {"email": null},
                "changed_fields": ["email", "ada"],
                "note": null,
                "transition": {"to": "customer", "reason": null},
            })
        );
    }
}
