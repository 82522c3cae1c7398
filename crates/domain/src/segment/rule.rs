//! The rule language: `all`, `any` and `not` nodes over conditions
//! `{field, op, value}`, parsed against a [`Registry`] into a typed tree.

use chrono::{DateTime, NaiveDate, Utc};
use serde_json::{Map, Value};

use super::duration::IsoDuration;
use super::field::{Field, Kind, Registry};
use crate::error::{DomainError, Errors, FieldError, pointer_token};
use crate::text;

/// Deepest nesting of `all`/`any`/`not` a rule may have.
pub const MAX_DEPTH: usize = 8;
/// Most nodes (groups and conditions) in one rule.
pub const MAX_NODES: usize = 200;
/// Most values in one `in`/`not_in` list.
pub const MAX_LIST: usize = 1000;
/// Longest text value, in characters.
pub const MAX_TEXT: usize = 500;
/// Most values all the `in`/`not_in` lists of one rule hold together (each is a bound
/// parameter of the compiled statement).
pub const MAX_VALUES: usize = 5000;

crate::wire_enum!(
    /// A condition's operator.
    Op {
        Eq = "eq",
        Ne = "ne",
        In = "in",
        NotIn = "not_in",
        Gt = "gt",
        Gte = "gte",
        Lt = "lt",
        Lte = "lte",
        Between = "between",
        Contains = "contains",
        StartsWith = "starts_with",
        EndsWith = "ends_with",
        Exists = "exists",
        WithinLast = "within_last",
        Before = "before",
        After = "after",
    }
);

/// The operators a field type takes.
pub fn operators(kind: &Kind) -> &'static [Op] {
    use Op::{
        After, Before, Between, Contains, EndsWith, Eq, Exists, Gt, Gte, In, Lt, Lte, Ne, NotIn, StartsWith, WithinLast,
    };
    match kind {
        Kind::Text => &[Eq, Ne, In, NotIn, Contains, StartsWith, EndsWith, Exists],
        Kind::Choice => &[Eq, Ne, In, NotIn, Exists],
        Kind::Number => &[Eq, Ne, In, NotIn, Gt, Gte, Lt, Lte, Between, Exists],
        Kind::Boolean => &[Eq, Ne, Exists],
        Kind::Date => &[Eq, Ne, Before, After, Between, WithinLast, Exists],
        Kind::Timestamp => &[Before, After, Between, WithinLast, Exists],
        Kind::Tags => &[Contains, In, NotIn, Exists],
    }
}

/// One value of a condition, of the field's type. Text is kept case-folded (A-Z only)
/// for text fields; tags are normalised as contact tags are.
#[derive(Clone, Debug, PartialEq)]
pub enum Scalar {
    Text(String),
    Number(f64),
    Bool(bool),
    /// A date as `YYYY-MM-DD`, which orders as text.
    Day(String),
    Time(DateTime<Utc>),
}

/// What a condition compares against.
#[derive(Clone, Debug, PartialEq)]
pub enum Operand {
    /// `exists`: whether the field must have a value.
    Present(bool),
    One(Scalar),
    Many(Vec<Scalar>),
    /// `between`, both ends included.
    Range(Scalar, Scalar),
    /// `within_last`.
    Span(IsoDuration),
}

/// One test of one field.
#[derive(Clone, Debug, PartialEq)]
pub struct Condition {
    pub field: Field,
    pub op: Op,
    pub operand: Operand,
}

/// A parsed rule tree.
#[derive(Clone, Debug, PartialEq)]
pub enum Rule {
    /// Every child matches (an empty `all` matches every contact).
    All(Vec<Rule>),
    /// At least one child matches (an empty `any` matches none).
    Any(Vec<Rule>),
    Not(Box<Rule>),
    Test(Condition),
}

impl Rule {
    /// Parses and validates a rule: unknown fields, operators that do not fit the
    /// field's type and values of the wrong type are refused, each with a JSON pointer
    /// to the bad node (`/all/2/value`).
    /// # Errors
    /// `validation_failed` listing every problem.
    pub fn parse(raw: &Value, registry: &Registry) -> Result<Rule, DomainError> {
        let mut p = Parser {
            registry,
            errors: Errors::default(),
            nodes: 0,
            values: std::cell::Cell::new(0),
            strict: true,
        };
        let rule = p.node(raw, "", 1);
        p.errors.finish()?;
        rule.ok_or_else(|| DomainError::field("", "invalid_rule", "the rule is not valid"))
    }

    /// Parses a stored rule. Choice values are not checked against the current options
    /// (an option may have been dropped since), so a rule that was valid stays readable.
    /// # Errors
    /// `validation_failed` when a field it names no longer exists.
    pub fn parse_stored(raw: &Value, registry: &Registry) -> Result<Rule, DomainError> {
        let mut p = Parser {
            registry,
            errors: Errors::default(),
            nodes: 0,
            values: std::cell::Cell::new(0),
            strict: false,
        };
        let rule = p.node(raw, "", 1);
        p.errors.finish()?;
        rule.ok_or_else(|| DomainError::field("", "invalid_rule", "the rule is not valid"))
    }

    /// Every condition of the tree.
    pub fn conditions(&self) -> Vec<&Condition> {
        let mut out = Vec::new();
        self.walk(&mut |c| out.push(c));
        out
    }

    fn walk<'a>(&'a self, f: &mut impl FnMut(&'a Condition)) {
        match self {
            Rule::All(children) | Rule::Any(children) => children.iter().for_each(|c| c.walk(f)),
            Rule::Not(inner) => inner.walk(f),
            Rule::Test(c) => f(c),
        }
    }

    /// Whether the rule's answer can change with the clock alone (`within_last`, consent
    /// expiry), so a stored membership needs periodic refreshing.
    pub fn is_time_relative(&self) -> bool {
        self.conditions()
            .iter()
            .any(|c| c.op == Op::WithinLast || c.field.is_time_relative())
    }

    /// Whether the rule reads any field of the contact's company.
    pub fn reads_company(&self) -> bool {
        self.conditions().iter().any(|c| c.field.is_company())
    }

    /// Whether the rule reads purchase metrics or orders.
    pub fn reads_commerce(&self) -> bool {
        self.conditions().iter().any(|c| c.field.is_commerce())
    }

    /// Whether the rule reads the contact's orders themselves (windowed aggregates).
    pub fn reads_orders(&self) -> bool {
        self.conditions()
            .iter()
            .any(|c| matches!(c.field, Field::Orders { .. }))
    }

    /// Whether the rule reads consent.
    pub fn reads_consent(&self) -> bool {
        self.conditions()
            .iter()
            .any(|c| matches!(c.field, Field::Consent { .. }))
    }
}

/// A text value as compared: emails are keyed fully lowercased (as contacts' addresses
/// are), other text is folded for A-Z.
fn text_value(field: &Field, s: &str) -> String {
    match field {
        Field::Contact(super::field::ContactField::Email) => s.to_lowercase(),
        _ => fold(s),
    }
}

/// Folds the letters A-Z to lowercase: the case rule text comparisons follow in memory
/// and in both databases alike.
pub fn fold(s: &str) -> String {
    s.to_ascii_lowercase()
}

struct Parser<'a> {
    registry: &'a Registry,
    errors: Errors,
    nodes: usize,
    /// Values listed so far (checked where lists are read, by shared reference).
    values: std::cell::Cell<usize>,
    strict: bool,
}

impl Parser<'_> {
    fn fail(&mut self, pointer: &str, code: &'static str, message: impl Into<String>) -> Option<Rule> {
        self.errors.push(FieldError::new(pointer, code, message));
        None
    }

    fn node(&mut self, raw: &Value, at: &str, depth: usize) -> Option<Rule> {
        self.nodes += 1;
        if self.nodes > MAX_NODES {
            if self.nodes == MAX_NODES + 1 {
                return self.fail(at, "too_large", format!("a rule has at most {MAX_NODES} nodes"));
            }
            return None;
        }
        if depth > MAX_DEPTH {
            return self.fail(at, "too_deep", format!("rules nest at most {MAX_DEPTH} levels"));
        }
        let Value::Object(obj) = raw else {
            return self.fail(at, "invalid_node", "a rule node is an object");
        };
        for group in ["all", "any", "not"] {
            if obj.contains_key(group) {
                if obj.len() > 1 {
                    return self.fail(at, "invalid_node", format!("a `{group}` node has no other keys"));
                }
                return self.group(group, &obj[group], &format!("{at}/{group}"), depth);
            }
        }
        self.condition(obj, at)
    }

    fn group(&mut self, name: &str, raw: &Value, at: &str, depth: usize) -> Option<Rule> {
        if name == "not" {
            return self.node(raw, at, depth + 1).map(|r| Rule::Not(Box::new(r)));
        }
        let Value::Array(items) = raw else {
            return self.fail(at, "invalid_node", format!("`{name}` takes an array of rules"));
        };
        let children: Vec<Option<Rule>> = items
            .iter()
            .enumerate()
            .map(|(i, c)| self.node(c, &format!("{at}/{i}"), depth + 1))
            .collect();
        let children: Option<Vec<Rule>> = children.into_iter().collect();
        let children = children?;
        Some(if name == "all" {
            Rule::All(children)
        } else {
            Rule::Any(children)
        })
    }

    fn condition(&mut self, obj: &Map<String, Value>, at: &str) -> Option<Rule> {
        for k in obj.keys() {
            if !matches!(k.as_str(), "field" | "op" | "value" | "within") {
                let at = format!("{at}/{}", pointer_token(k));
                return self.fail(
                    &at,
                    "unknown_key",
                    "a condition has `field`, `op`, `value` (and `within` for `orders.*`); groups are `all`, `any` and `not`",
                );
            }
        }
        let Some(Value::String(name)) = obj.get("field") else {
            return self.fail(
                &format!("{at}/field"),
                "invalid_node",
                "`field` names the field to test",
            );
        };
        let Some(mut field) = self.registry.resolve(name) else {
            return self.fail(
                &format!("{at}/field"),
                "unknown_field",
                format!("no field `{name}` in this workspace"),
            );
        };
        if let Some(raw) = obj.get("within") {
            let within_at = format!("{at}/within");
            let Field::Orders { within, .. } = &mut field else {
                return self.fail(
                    &within_at,
                    "not_allowed",
                    "`within` applies to `orders.count` and `orders.total.<currency>` only",
                );
            };
            match raw.as_str().and_then(IsoDuration::parse) {
                Some(d) => *within = Some(d),
                None => {
                    return self.fail(
                        &within_at,
                        "invalid_duration",
                        "`within` is an ISO 8601 duration such as P90D",
                    );
                }
            }
        }
        let Some(Value::String(op_name)) = obj.get("op") else {
            return self.fail(&format!("{at}/op"), "invalid_node", "`op` names the operator");
        };
        let Some(op) = Op::parse(op_name) else {
            return self.fail(
                &format!("{at}/op"),
                "unknown_operator",
                format!("operators are {}", Op::names()),
            );
        };
        let kind = field.kind();
        if !operators(&kind).contains(&op) {
            let allowed: Vec<&str> = operators(&kind).iter().map(|o| o.as_str()).collect();
            return self.fail(
                &format!("{at}/op"),
                "operator_not_allowed",
                format!(
                    "`{op}` does not apply to {} field `{name}`; use {}",
                    kind.as_str(),
                    allowed.join(", ")
                ),
            );
        }
        let value_at = format!("{at}/value");
        let operand = match (op, obj.get("value")) {
            (Op::Exists, None) => Ok(Operand::Present(true)),
            (Op::Exists, Some(Value::Bool(b))) => Ok(Operand::Present(*b)),
            (Op::Exists, Some(_)) => Err(FieldError::new(
                &value_at,
                "invalid_value",
                "`exists` takes true or false",
            )),
            (_, None) => Err(FieldError::new(&value_at, "required", format!("`{op}` needs a value"))),
            (_, Some(v)) => self.operand(&field, op, v, &value_at),
        };
        let operand = self.errors.take(operand)?;
        Some(Rule::Test(Condition { field, op, operand }))
    }

    fn operand(&self, field: &Field, op: Op, v: &Value, at: &str) -> Result<Operand, FieldError> {
        let kind = field.kind();
        match op {
            Op::In | Op::NotIn => {
                let Value::Array(items) = v else {
                    return Err(FieldError::new(
                        at,
                        "invalid_value",
                        format!("`{op}` takes an array of values"),
                    ));
                };
                if items.is_empty() || items.len() > MAX_LIST {
                    return Err(FieldError::new(
                        at,
                        "invalid_length",
                        format!("`{op}` takes 1 to {MAX_LIST} values"),
                    ));
                }
                let total = self.values.get() + items.len();
                self.values.set(total);
                if total > MAX_VALUES {
                    return Err(FieldError::new(
                        at,
                        "too_large",
                        format!("a rule lists at most {MAX_VALUES} values in all"),
                    ));
                }
                let values = items
                    .iter()
                    .enumerate()
                    .map(|(i, x)| self.scalar(field, &kind, x, &format!("{at}/{i}")))
                    .collect::<Result<Vec<_>, _>>()?;
                Ok(Operand::Many(values))
            }
            Op::Between => {
                let Some([lo, hi]) = v.as_array().and_then(|a| <&[Value; 2]>::try_from(a.as_slice()).ok()) else {
                    return Err(FieldError::new(at, "invalid_value", "`between` takes [low, high]"));
                };
                let lo = self.scalar(field, &kind, lo, &format!("{at}/0"))?;
                let hi = self.scalar(field, &kind, hi, &format!("{at}/1"))?;
                if matches!(lo.partial_cmp_same(&hi), Some(std::cmp::Ordering::Greater)) {
                    return Err(FieldError::new(
                        at,
                        "invalid_range",
                        "the low end is above the high end",
                    ));
                }
                Ok(Operand::Range(lo, hi))
            }
            Op::WithinLast => match v.as_str().and_then(IsoDuration::parse) {
                Some(d) => Ok(Operand::Span(d)),
                None => Err(FieldError::new(
                    at,
                    "invalid_duration",
                    "`within_last` takes an ISO 8601 duration of up to 100 years, e.g. P90D, P6M, PT12H",
                )),
            },
            Op::Contains | Op::StartsWith | Op::EndsWith if kind == Kind::Text => {
                let Some(s) = v
                    .as_str()
                    .filter(|s| !s.is_empty() && s.chars().count() <= MAX_TEXT && !s.chars().any(char::is_control))
                else {
                    return Err(FieldError::new(
                        at,
                        "invalid_value",
                        format!("`{op}` takes text of 1 to {MAX_TEXT} characters, without control characters"),
                    ));
                };
                Ok(Operand::One(Scalar::Text(text_value(field, s))))
            }
            _ => self.scalar(field, &kind, v, at).map(Operand::One),
        }
    }

    fn scalar(&self, field: &Field, kind: &Kind, v: &Value, at: &str) -> Result<Scalar, FieldError> {
        let wrong = |what: &str| FieldError::new(at, "invalid_value", format!("`{}` takes {what}", field.name()));
        match kind {
            Kind::Text => match v.as_str() {
                Some(s) if s.chars().count() <= MAX_TEXT && !s.chars().any(char::is_control) => {
                    Ok(Scalar::Text(text_value(field, s)))
                }
                _ => Err(wrong(&format!(
                    "text of at most {MAX_TEXT} characters, without control characters"
                ))),
            },
            Kind::Choice => {
                let s = v
                    .as_str()
                    .filter(|s| s.chars().count() <= MAX_TEXT && !s.chars().any(char::is_control))
                    .ok_or_else(|| wrong("one of its options, as text"))?;
                let options = self.registry.options(field);
                if self.strict && !options.iter().any(|o| o == s) {
                    return Err(FieldError::new(
                        at,
                        "unknown_option",
                        format!("`{}` is one of {}", field.name(), options.join(", ")),
                    ));
                }
                Ok(Scalar::Text(s.to_owned()))
            }
            Kind::Tags => {
                let s = v.as_str().ok_or_else(|| wrong("a tag"))?;
                text::tag(s, at).map(Scalar::Text)
            }
            Kind::Number => v
                .as_f64()
                .filter(|n| n.is_finite())
                .map(Scalar::Number)
                .ok_or_else(|| wrong("a number")),
            Kind::Boolean => v.as_bool().map(Scalar::Bool).ok_or_else(|| wrong("true or false")),
            Kind::Date => v
                .as_str()
                .and_then(|s| NaiveDate::parse_from_str(s, "%Y-%m-%d").ok())
                .filter(|d| (1..=9999).contains(&chrono::Datelike::year(d)))
                .map(|d| Scalar::Day(d.format("%Y-%m-%d").to_string()))
                .ok_or_else(|| wrong("a date, YYYY-MM-DD")),
            Kind::Timestamp => v
                .as_str()
                .and_then(|s| DateTime::parse_from_rfc3339(s).ok())
                .map(|t| crate::truncate_to_micros(t.with_timezone(&Utc)))
                .filter(|t| (1..=9999).contains(&chrono::Datelike::year(t)))
                .map(Scalar::Time)
                .ok_or_else(|| wrong("an RFC 3339 instant, e.g. 2026-01-31T00:00:00Z")),
        }
    }
}

impl Scalar {
    /// Orders two values of the same type; `None` across types.
    pub fn partial_cmp_same(&self, other: &Scalar) -> Option<std::cmp::Ordering> {
        match (self, other) {
            (Scalar::Text(a), Scalar::Text(b)) | (Scalar::Day(a), Scalar::Day(b)) => Some(a.cmp(b)),
            (Scalar::Number(a), Scalar::Number(b)) => a.partial_cmp(b),
            (Scalar::Bool(a), Scalar::Bool(b)) => Some(a.cmp(b)),
            (Scalar::Time(a), Scalar::Time(b)) => Some(a.cmp(b)),
            _ => None,
        }
    }
}
