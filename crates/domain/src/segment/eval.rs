//! The in-memory evaluator: does one contact match a rule now? It must answer exactly as
//! the SQL compilation of the same rule does (a property test holds them together).

use std::cmp::Ordering;

use chrono::{DateTime, Utc};
use serde_json::{Map, Value};

use super::field::{CompanyField, ContactField, Field, Metric, OrderMeasure};
use super::rule::{Condition, Op, Operand, Rule, Scalar, fold};
use crate::attributes::AttributeType;
use crate::company::Company;
use crate::consent::{Channel, ConsentState, decide};
use crate::contact::Contact;
use crate::order::{OrderContent, PurchaseMetrics};

/// Everything a rule can read about one contact.
#[derive(Clone, Copy, Debug)]
pub struct Subject<'a> {
    pub contact: &'a Contact,
    pub company: Option<&'a Company>,
    /// The contact's effective consent states.
    pub consent: &'a [ConsentState],
    /// The contact's kept purchase metrics (read by `metrics.*`).
    pub metrics: &'a PurchaseMetrics,
    /// The contact's orders (read by `orders.*`; only needed when a rule reads them).
    pub orders: &'a [OrderContent],
}

/// A field's value for one subject.
enum Datum<'a> {
    Null,
    One(Scalar),
    Tags(&'a [String]),
}

impl Rule {
    /// Whether `subject` matches at `now`. An erased contact (a tombstone) matches
    /// nothing.
    pub fn matches(&self, subject: &Subject<'_>, now: DateTime<Utc>) -> bool {
        !subject.contact.is_erased() && self.holds(subject, now)
    }

    fn holds(&self, s: &Subject<'_>, now: DateTime<Utc>) -> bool {
        match self {
            Rule::All(children) => children.iter().all(|c| c.holds(s, now)),
            Rule::Any(children) => children.iter().any(|c| c.holds(s, now)),
            Rule::Not(inner) => !inner.holds(s, now),
            Rule::Test(c) => c.holds(s, now),
        }
    }
}

impl Condition {
    fn holds(&self, s: &Subject<'_>, now: DateTime<Utc>) -> bool {
        let datum = value(&self.field, s, now);
        match datum {
            Datum::Tags(tags) => tags_hold(tags, self.op, &self.operand),
            Datum::Null => match (self.op, &self.operand) {
                (Op::Exists, Operand::Present(want)) => !want,
                (Op::Ne | Op::NotIn, _) => true,
                _ => false,
            },
            Datum::One(v) => scalar_holds(&v, self.op, &self.operand, now),
        }
    }
}

fn tags_hold(tags: &[String], op: Op, operand: &Operand) -> bool {
    let has = |t: &Scalar| matches!(t, Scalar::Text(t) if tags.iter().any(|x| x == t));
    match (op, operand) {
        (Op::Exists, Operand::Present(want)) => tags.is_empty() != *want,
        (Op::Contains, Operand::One(t)) => has(t),
        (Op::In, Operand::Many(ts)) => ts.iter().any(has),
        (Op::NotIn, Operand::Many(ts)) => !ts.iter().any(has),
        _ => false,
    }
}

fn scalar_holds(v: &Scalar, op: Op, operand: &Operand, now: DateTime<Utc>) -> bool {
    let cmp = |x: &Scalar| v.partial_cmp_same(x);
    let is = |x: &Scalar, want: &[Ordering]| cmp(x).is_some_and(|o| want.contains(&o));
    let text = |f: &dyn Fn(&str, &str) -> bool, x: &Scalar| match (v, x) {
        (Scalar::Text(a), Scalar::Text(b)) => f(a, b),
        _ => false,
    };
    match (op, operand) {
        (Op::Exists, Operand::Present(want)) => *want,
        (Op::Eq, Operand::One(x)) => is(x, &[Ordering::Equal]),
        (Op::Ne, Operand::One(x)) => !is(x, &[Ordering::Equal]),
        (Op::In, Operand::Many(xs)) => xs.iter().any(|x| is(x, &[Ordering::Equal])),
        (Op::NotIn, Operand::Many(xs)) => !xs.iter().any(|x| is(x, &[Ordering::Equal])),
        (Op::Gt | Op::After, Operand::One(x)) => is(x, &[Ordering::Greater]),
        (Op::Gte, Operand::One(x)) => is(x, &[Ordering::Greater, Ordering::Equal]),
        (Op::Lt | Op::Before, Operand::One(x)) => is(x, &[Ordering::Less]),
        (Op::Lte, Operand::One(x)) => is(x, &[Ordering::Less, Ordering::Equal]),
        (Op::Between, Operand::Range(lo, hi)) => {
            is(lo, &[Ordering::Greater, Ordering::Equal]) && is(hi, &[Ordering::Less, Ordering::Equal])
        }
        (Op::Contains, Operand::One(x)) => text(&|a, b| a.contains(b), x),
        (Op::StartsWith, Operand::One(x)) => text(&|a, b| a.starts_with(b), x),
        (Op::EndsWith, Operand::One(x)) => text(&|a, b| a.ends_with(b), x),
        (Op::WithinLast, Operand::Span(d)) => {
            let (from, to) = window(v, d.before(now), now);
            is(&from, &[Ordering::Greater, Ordering::Equal]) && is(&to, &[Ordering::Less, Ordering::Equal])
        }
        _ => false,
    }
}

/// The bounds of a `within_last` window, in the type of `v` (dates compare by day).
pub fn window(v: &Scalar, from: DateTime<Utc>, to: DateTime<Utc>) -> (Scalar, Scalar) {
    match v {
        Scalar::Day(_) => (
            Scalar::Day(from.format("%Y-%m-%d").to_string()),
            Scalar::Day(to.format("%Y-%m-%d").to_string()),
        ),
        _ => (Scalar::Time(from), Scalar::Time(to)),
    }
}

fn text(v: Option<&String>) -> Datum<'static> {
    v.map_or(Datum::Null, |s| Datum::One(Scalar::Text(fold(s))))
}

fn value<'a>(field: &Field, s: &Subject<'a>, now: DateTime<Utc>) -> Datum<'a> {
    let c = s.contact;
    match field {
        Field::Contact(f) => match f {
            ContactField::Email => c
                .email
                .as_ref()
                .map_or(Datum::Null, |e| Datum::One(Scalar::Text(fold(&e.key())))),
            ContactField::Phone => text(c.phone.as_ref()),
            ContactField::FirstName => text(c.first_name.as_ref()),
            ContactField::LastName => text(c.last_name.as_ref()),
            ContactField::Locale => text(c.locale.as_ref()),
            ContactField::Country => text(c.country.as_ref()),
            ContactField::OwnerId => text(c.owner_id.as_ref()),
            ContactField::LifecycleStage => Datum::One(Scalar::Text(c.stage.stage.as_str().to_owned())),
            ContactField::HighestStage => Datum::One(Scalar::Text(c.stage.highest.as_str().to_owned())),
            #[allow(clippy::cast_precision_loss)]
            ContactField::LeadScore => Datum::One(Scalar::Number(c.lead_score as f64)),
            ContactField::Tags => Datum::Tags(&c.tags),
            ContactField::CreatedAt => Datum::One(Scalar::Time(c.created_at)),
            ContactField::UpdatedAt => Datum::One(Scalar::Time(c.updated_at)),
        },
        Field::Attribute { key, kind } => attribute(&c.attributes, key, *kind),
        Field::Company(f) => match (s.company, f) {
            (None, _) => Datum::Null,
            (Some(co), CompanyField::Name) => text(Some(&co.name)),
            (Some(co), CompanyField::Domain) => text(co.domain.as_ref()),
            (Some(co), CompanyField::Industry) => text(co.industry.as_ref()),
            #[allow(clippy::cast_precision_loss)]
            (Some(co), CompanyField::Size) => co.size.map_or(Datum::Null, |n| Datum::One(Scalar::Number(n as f64))),
        },
        Field::CompanyAttribute { key, kind } => match s.company {
            Some(co) => attribute(&co.attributes, key, *kind),
            None => Datum::Null,
        },
        Field::Consent { purpose, channel } => {
            let point = default_point(*channel, c);
            let d = decide(purpose, s.consent, point.as_deref(), now);
            Datum::One(Scalar::Text(d.status.as_str().to_owned()))
        }
        Field::Metric(m) => metric(s.metrics, *m),
        Field::Orders { measure, within } => {
            let since = within.map(|d| d.before(now));
            let counted = s
                .orders
                .iter()
                .filter(|o| o.counts() && since.is_none_or(|t| o.placed_at >= t));
            #[allow(clippy::cast_precision_loss)]
            let n = match measure {
                OrderMeasure::Count => counted.count() as f64,
                OrderMeasure::Total(cur) => counted
                    .filter(|o| o.currency == *cur)
                    .map(|o| i128::from(o.net_total()))
                    .sum::<i128>() as f64,
            };
            Datum::One(Scalar::Number(n))
        }
    }
}

/// A purchase metric: counts and spending are 0 without purchases, dates and averages
/// missing.
#[allow(clippy::cast_precision_loss)]
fn metric(m: &PurchaseMetrics, which: Metric) -> Datum<'static> {
    let of = |cur| m.by_currency.iter().find(|x| x.currency == cur);
    let time = |t: Option<DateTime<Utc>>| t.map_or(Datum::Null, |t| Datum::One(Scalar::Time(t)));
    match which {
        Metric::OrderCount => Datum::One(Scalar::Number(m.order_count() as f64)),
        Metric::FirstOrderAt => time(m.first_order_at()),
        Metric::LastOrderAt => time(m.last_order_at()),
        Metric::TotalSpent(cur) => Datum::One(Scalar::Number(of(cur).map_or(0, |x| x.total_spent) as f64)),
        Metric::AverageOrderValue(cur) => of(cur).map_or(Datum::Null, |x| {
            Datum::One(Scalar::Number(x.average_order_value() as f64))
        }),
    }
}

/// An attribute's value, read only when it has the declared type (anything else reads
/// as missing, as the SQL compilation does).
fn attribute(attrs: &Map<String, Value>, key: &str, kind: AttributeType) -> Datum<'static> {
    let Some(v) = attrs.get(key) else {
        return Datum::Null;
    };
    let scalar = match (kind, v) {
        (AttributeType::String, Value::String(s)) => Some(Scalar::Text(fold(s))),
        (AttributeType::Enum, Value::String(s)) => Some(Scalar::Text(s.clone())),
        (AttributeType::Date, Value::String(s)) => Some(Scalar::Day(s.clone())),
        (AttributeType::Number, Value::Number(n)) => n.as_f64().map(Scalar::Number),
        (AttributeType::Boolean, Value::Bool(b)) => Some(Scalar::Bool(*b)),
        _ => None,
    };
    scalar.map_or(Datum::Null, Datum::One)
}

/// The contact point a purpose's channel reaches the contact at: its email (as its
/// lowercase key) for email, its phone for SMS and calls, none otherwise.
pub fn default_point(channel: Channel, c: &Contact) -> Option<String> {
    match channel {
        Channel::Email => c.email.as_ref().map(crate::email::Email::key),
        Channel::Sms | Channel::Phone => c.phone.clone(),
        Channel::Postal | Channel::Push | Channel::Any => None,
    }
}
