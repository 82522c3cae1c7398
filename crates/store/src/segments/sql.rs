//! The SQL evaluator: a rule compiled with sea-query into one condition over
//! `contacts` (with `companies` joined when the rule reads them), for PostgreSQL and
//! SQLite. It answers exactly as the in-memory evaluator in `rapport-domain` does:
//! every condition is two-valued (a missing value is never SQL `NULL` in the result),
//! text is folded for the letters A-Z only, and clock-relative bounds are computed once
//! in Rust and bound as values.

use chrono::{DateTime, Utc};
use rapport_domain::WorkspaceId;
use rapport_domain::attributes::AttributeType;
use rapport_domain::consent::Channel;
use rapport_domain::order::OrderStatus;
use rapport_domain::segment::{
    CompanyField, ContactField, Field, Metric, Op, Operand, OrderMeasure, Rule, Scalar, window,
};
use sea_orm::DbBackend;
use sea_orm::sea_query::{Alias, Condition, Expr, ExprTrait, JoinType, LikeExpr, Query, SelectStatement, Value};

const CONTACTS: &str = "contacts";
const COMPANIES: &str = "companies";

/// Compiles rules for one backend at one instant.
pub(crate) struct Compiler {
    pg: bool,
    now: DateTime<Utc>,
}

fn col(table: &str, column: &str) -> Expr {
    Expr::col((Alias::new(table), Alias::new(column)))
}

fn value(s: &Scalar) -> Value {
    match s {
        Scalar::Text(t) | Scalar::Day(t) => t.clone().into(),
        Scalar::Number(n) => (*n).into(),
        Scalar::Bool(b) => (*b).into(),
        Scalar::Time(t) => (*t).into(),
    }
}

/// Whether a field can be missing (NOT NULL columns, the consent answer, counts and
/// spending cannot).
fn is_nullable(field: &Field) -> bool {
    !matches!(
        field,
        Field::Contact(
            ContactField::LifecycleStage
                | ContactField::HighestStage
                | ContactField::LeadScore
                | ContactField::CreatedAt
                | ContactField::UpdatedAt
        ) | Field::Consent { .. }
            | Field::Metric(Metric::OrderCount | Metric::TotalSpent(_))
            | Field::Orders { .. }
    )
}

/// A LIKE pattern with the wildcards of `text` escaped (`\`).
fn like(prefix: &str, text: &str, suffix: &str) -> LikeExpr {
    let mut p = String::from(prefix);
    for ch in text.chars() {
        if matches!(ch, '%' | '_' | '\\') {
            p.push('\\');
        }
        p.push(ch);
    }
    p.push_str(suffix);
    LikeExpr::new(p).escape('\\')
}

impl Compiler {
    pub(crate) fn new(backend: DbBackend, now: DateTime<Utc>) -> Self {
        Self {
            pg: backend == DbBackend::Postgres,
            now,
        }
    }

    /// `SELECT contacts.id FROM contacts [LEFT JOIN companies] WHERE <workspace, not
    /// erased, rule>`.
    pub(crate) fn matching(&self, ws: WorkspaceId, rule: &Rule) -> SelectStatement {
        let mut q = Query::select();
        q.column((Alias::new(CONTACTS), Alias::new("id")))
            .from(Alias::new(CONTACTS));
        self.scope(&mut q, ws, rule);
        q
    }

    /// Adds the workspace, the tombstone filter, the company join when needed and the
    /// rule's condition to a query over `contacts`.
    pub(crate) fn scope(&self, q: &mut SelectStatement, ws: WorkspaceId, rule: &Rule) {
        if rule.reads_company() {
            q.join(
                JoinType::LeftJoin,
                Alias::new(COMPANIES),
                Condition::all()
                    .add(col(COMPANIES, "workspace_id").equals((Alias::new(CONTACTS), Alias::new("workspace_id"))))
                    .add(col(COMPANIES, "id").equals((Alias::new(CONTACTS), Alias::new("company_id")))),
            );
        }
        q.and_where(col(CONTACTS, "workspace_id").eq(ws.uuid()))
            .and_where(col(CONTACTS, "erased_at").is_null())
            .cond_where(self.condition(rule));
    }

    /// The rule as one condition.
    pub(crate) fn condition(&self, rule: &Rule) -> Condition {
        self.node(rule, false)
    }

    /// A node; `negated` when a `not` lies above it, where every condition must be
    /// exactly true or false (SQL's `NOT NULL` is `NULL`, which would drop the row where
    /// the in-memory evaluator keeps it). Elsewhere `NULL` acts as false, as it does in
    /// memory, so conditions stay plain comparisons the planner can estimate and use.
    fn node(&self, rule: &Rule, negated: bool) -> Condition {
        match rule {
            Rule::All(children) => children
                .iter()
                .fold(Condition::all(), |c, r| c.add(self.node(r, negated))),
            Rule::Any(children) => children
                .iter()
                .fold(Condition::any(), |c, r| c.add(self.node(r, negated))),
            Rule::Not(inner) => self.node(inner, true).not(),
            Rule::Test(c) => Condition::all().add(self.test(&c.field, c.op, &c.operand, negated)),
        }
    }

    /// `COALESCE(e, fallback)`: the answer when the field is missing.
    fn otherwise(&self, e: Expr, fallback: bool) -> Expr {
        let sql = match (self.pg, fallback) {
            (true, true) => "COALESCE($1, TRUE)",
            (true, false) => "COALESCE($1, FALSE)",
            (false, true) => "COALESCE(?, TRUE)",
            (false, false) => "COALESCE(?, FALSE)",
        };
        Expr::cust_with_exprs(sql, [e])
    }

    fn test(&self, field: &Field, op: Op, operand: &Operand, negated: bool) -> Expr {
        if let Field::Contact(ContactField::Tags) = field {
            return Self::tags(op, operand);
        }
        if let Field::Consent { purpose, channel } = field
            && let Some(e) = self.consent_test(purpose, *channel, op, operand)
        {
            return e;
        }
        let x = self.field(field);
        let nullable = is_nullable(field);
        let present = || x.clone().is_not_null();
        // A positive test: false (not NULL) for a missing value, where that matters.
        let known = |e: Expr| {
            if nullable && negated {
                self.otherwise(e, false)
            } else {
                e
            }
        };
        // A negative test (`ne`, `not_in`): true for a missing value.
        let unless = |e: Expr| if nullable { self.otherwise(e, true) } else { e };
        let v = |s: &Scalar| Self::bound(field, s);
        match (op, operand) {
            (Op::Exists, Operand::Present(true)) => present(),
            (Op::Exists, Operand::Present(false)) => x.is_null(),
            (Op::Eq, Operand::One(s)) => known(x.clone().eq(v(s))),
            (Op::Ne, Operand::One(s)) => unless(x.clone().ne(v(s))),
            (Op::In, Operand::Many(vs)) => known(x.clone().is_in(vs.iter().map(v))),
            (Op::NotIn, Operand::Many(vs)) => unless(x.clone().is_not_in(vs.iter().map(v))),
            (Op::Gt | Op::After, Operand::One(s)) => known(x.clone().gt(v(s))),
            (Op::Gte, Operand::One(s)) => known(x.clone().gte(v(s))),
            (Op::Lt | Op::Before, Operand::One(s)) => known(x.clone().lt(v(s))),
            (Op::Lte, Operand::One(s)) => known(x.clone().lte(v(s))),
            (Op::Between, Operand::Range(lo, hi)) => known(x.clone().between(v(lo), v(hi))),
            (Op::Contains, Operand::One(Scalar::Text(t))) => known(x.clone().like(like("%", t, "%"))),
            (Op::StartsWith, Operand::One(Scalar::Text(t))) => known(x.clone().like(like("", t, "%"))),
            (Op::EndsWith, Operand::One(Scalar::Text(t))) => known(x.clone().like(like("%", t, ""))),
            (Op::WithinLast, Operand::Span(d)) => {
                let sample = match field.kind() {
                    rapport_domain::segment::Kind::Date => Scalar::Day(String::new()),
                    _ => Scalar::Time(self.now),
                };
                let (from, to) = window(&sample, d.before(self.now), self.now);
                known(x.clone().gte(value(&from)).and(x.clone().lte(value(&to))))
            }
            // Parsing never pairs an operator with another operand shape.
            _ => Expr::cust("1 = 0"),
        }
    }

    /// A bound value. A whole number compared with an integer column is bound as an
    /// integer (the same comparison, without a cast of every row).
    fn bound(field: &Field, s: &Scalar) -> Value {
        let integer = matches!(
            field,
            Field::Contact(ContactField::LeadScore) | Field::Company(CompanyField::Size)
        );
        match s {
            #[allow(clippy::cast_possible_truncation)]
            Scalar::Number(n) if integer && n.fract() == 0.0 && n.abs() < 9.0e15 => (*n as i64).into(),
            other => value(other),
        }
    }

    /// Tag tests read the `contact_tags` index.
    fn tags(op: Op, operand: &Operand) -> Expr {
        let any_tag = |values: Option<Vec<Value>>| {
            let mut q = Query::select();
            q.expr(Expr::val(1))
                .from(Alias::new("contact_tags"))
                .and_where(
                    col("contact_tags", "workspace_id").equals((Alias::new(CONTACTS), Alias::new("workspace_id"))),
                )
                .and_where(col("contact_tags", "contact_id").equals((Alias::new(CONTACTS), Alias::new("id"))));
            if let Some(v) = values {
                q.and_where(col("contact_tags", "tag").is_in(v));
            }
            Expr::exists(q)
        };
        let tags = |vs: &[Scalar]| Some(vs.iter().map(value).collect());
        match (op, operand) {
            (Op::Exists, Operand::Present(true)) => any_tag(None),
            (Op::Exists, Operand::Present(false)) => any_tag(None).not(),
            (Op::Contains, Operand::One(t)) => any_tag(tags(std::slice::from_ref(t))),
            (Op::In, Operand::Many(ts)) => any_tag(tags(ts)),
            (Op::NotIn, Operand::Many(ts)) => any_tag(tags(ts)).not(),
            _ => Expr::cust("1 = 0"),
        }
    }

    /// The SQL expression of a field's value (`NULL` when missing).
    fn field(&self, field: &Field) -> Expr {
        match field {
            Field::Contact(f) => {
                let text = |c: &str| self.fold(col(CONTACTS, c));
                match f {
                    // The key is already lowercase.
                    ContactField::Email => col(CONTACTS, "email_key"),
                    ContactField::Phone => text("phone"),
                    ContactField::FirstName => text("first_name"),
                    ContactField::LastName => text("last_name"),
                    ContactField::Locale => text("locale"),
                    ContactField::Country => text("country"),
                    ContactField::OwnerId => text("owner_id"),
                    ContactField::LifecycleStage => col(CONTACTS, "lifecycle_stage"),
                    ContactField::HighestStage => col(CONTACTS, "highest_stage"),
                    ContactField::LeadScore => col(CONTACTS, "lead_score"),
                    ContactField::CreatedAt => col(CONTACTS, "created_at"),
                    ContactField::UpdatedAt => col(CONTACTS, "updated_at"),
                    ContactField::Tags => Expr::cust("NULL"),
                }
            }
            Field::Attribute { key, kind } => self.attribute(CONTACTS, key, *kind),
            Field::Company(f) => match f {
                CompanyField::Name => self.fold(col(COMPANIES, "name")),
                CompanyField::Domain => self.fold(col(COMPANIES, "domain")),
                CompanyField::Industry => self.fold(col(COMPANIES, "industry")),
                CompanyField::Size => col(COMPANIES, "size"),
            },
            Field::CompanyAttribute { key, kind } => self.attribute(COMPANIES, key, *kind),
            Field::Consent { purpose, channel } => self.consent(purpose, *channel),
            Field::Metric(m) => self.metric(*m),
            Field::Orders { measure, within } => self.orders(*measure, within.map(|d| d.before(self.now))),
        }
    }

    /// `CAST(e AS <double>)`: numbers compare as doubles, as they do in memory.
    fn double(&self, e: &str) -> String {
        if self.pg {
            format!("CAST({e} AS DOUBLE PRECISION)")
        } else {
            format!("CAST({e} AS REAL)")
        }
    }

    /// A kept purchase metric, read from `contact_metrics` (one row per currency).
    fn metric(&self, m: Metric) -> Expr {
        let rows = "FROM contact_metrics m \
                    WHERE m.workspace_id = \"contacts\".\"workspace_id\" AND m.contact_id = \"contacts\".\"id\"";
        let p = if self.pg { "$1" } else { "?" };
        match m {
            Metric::OrderCount => Expr::cust(format!(
                "COALESCE((SELECT {} {rows}), 0)",
                self.double("SUM(m.order_count)")
            )),
            Metric::FirstOrderAt => Expr::cust(format!("(SELECT MIN(m.first_order_at) {rows})")),
            Metric::LastOrderAt => Expr::cust(format!("(SELECT MAX(m.last_order_at) {rows})")),
            Metric::TotalSpent(c) => Expr::cust_with_values(
                format!(
                    "COALESCE((SELECT {} {rows} AND m.currency = {p}), 0)",
                    self.double("m.total_spent")
                ),
                [c.code()],
            ),
            // Half away from zero, as `rapport_domain::order::average` (spending is never
            // negative): integer division on both databases.
            Metric::AverageOrderValue(c) => Expr::cust_with_values(
                format!(
                    "(SELECT {} {rows} AND m.currency = {p})",
                    self.double("(2 * m.total_spent + m.order_count) / (2 * m.order_count)")
                ),
                [c.code()],
            ),
        }
    }

    /// An aggregate of the contact's purchases placed at or after `since`.
    fn orders(&self, measure: OrderMeasure, since: Option<DateTime<Utc>>) -> Expr {
        let not_counting: Vec<String> = OrderStatus::ALL
            .into_iter()
            .filter(|s| !s.counts())
            .map(|s| format!("'{}'", s.as_str()))
            .collect();
        let mut values: Vec<Value> = Vec::new();
        let mut conditions = vec![
            "o.workspace_id = \"contacts\".\"workspace_id\"".to_owned(),
            "o.contact_id = \"contacts\".\"id\"".to_owned(),
            format!("o.status NOT IN ({})", not_counting.join(", ")),
        ];
        // The placeholder of the value just pushed.
        let last = |values: &[Value]| {
            if self.pg {
                format!("${}", values.len())
            } else {
                "?".to_owned()
            }
        };
        if let OrderMeasure::Total(c) = measure {
            values.push(c.code().into());
            conditions.push(format!("o.currency = {}", last(&values)));
        }
        if let Some(t) = since {
            values.push(t.into());
            conditions.push(format!("o.placed_at >= {}", last(&values)));
        }
        let what = match measure {
            OrderMeasure::Count => self.double("COUNT(*)"),
            OrderMeasure::Total(_) => self.double("SUM(o.total - o.refunded_total)"),
        };
        let select = format!("(SELECT {what} FROM orders o WHERE {})", conditions.join(" AND "));
        let sql = match measure {
            OrderMeasure::Count => select,
            OrderMeasure::Total(_) => format!("COALESCE({select}, 0)"),
        };
        Expr::cust_with_values(sql, values)
    }

    /// Lowercases A-Z only, as `rapport_domain::segment::fold` does (SQLite's `lower`
    /// folds ASCII only; PostgreSQL's would follow the locale).
    fn fold(&self, x: Expr) -> Expr {
        if self.pg {
            Expr::cust_with_exprs(
                "translate($1, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz')",
                [x],
            )
        } else {
            Expr::cust_with_exprs("lower(?)", [x])
        }
    }

    /// A JSON attribute, read only when it holds the declared type. Keys are validated
    /// to `[a-z][a-z0-9_]*`, so they are safe inside the path.
    fn attribute(&self, table: &str, key: &str, kind: AttributeType) -> Expr {
        let sql = if self.pg {
            let a = format!("\"{table}\".\"attributes\"");
            match kind {
                AttributeType::String | AttributeType::Enum | AttributeType::Date => {
                    format!("CASE WHEN jsonb_typeof({a} -> '{key}') = 'string' THEN {a} ->> '{key}' END")
                }
                AttributeType::Number => {
                    format!("CASE WHEN jsonb_typeof({a} -> '{key}') = 'number' THEN ({a} ->> '{key}')::float8 END")
                }
                AttributeType::Boolean => {
                    format!("CASE WHEN jsonb_typeof({a} -> '{key}') = 'boolean' THEN ({a} ->> '{key}')::boolean END")
                }
            }
        } else {
            let a = format!("\"{table}\".\"attributes\"");
            let path = format!("'$.\"{key}\"'");
            match kind {
                AttributeType::String | AttributeType::Enum | AttributeType::Date => {
                    format!("CASE WHEN json_type({a}, {path}) = 'text' THEN json_extract({a}, {path}) END")
                }
                AttributeType::Number => format!(
                    "CASE WHEN json_type({a}, {path}) IN ('integer', 'real') THEN CAST(json_extract({a}, {path}) AS REAL) END"
                ),
                AttributeType::Boolean => {
                    format!("CASE json_type({a}, {path}) WHEN 'true' THEN 1 WHEN 'false' THEN 0 END")
                }
            }
        };
        let x = Expr::cust(sql);
        if kind == AttributeType::String { self.fold(x) } else { x }
    }

    /// A consent test as `EXISTS` / `NOT EXISTS` over the applicable states, which the
    /// planner turns into semi- and anti-joins: the answer is `X` when a state answering
    /// `X` applies and none stricter does (`none`: no state applies). Always true or
    /// false. `None` for `exists`, answered by [`Self::consent`].
    fn consent_test(&self, purpose: &str, channel: Channel, op: Op, operand: &Operand) -> Option<Expr> {
        let answers: Vec<&str> = match operand {
            Operand::One(Scalar::Text(a)) => vec![a.as_str()],
            Operand::Many(all) => all
                .iter()
                .filter_map(|s| match s {
                    Scalar::Text(a) => Some(a.as_str()),
                    _ => None,
                })
                .collect(),
            _ => return None,
        };
        let any = answers
            .iter()
            .fold(Condition::any(), |c, a| c.add(self.consent_is(purpose, channel, a)));
        match op {
            Op::Eq | Op::In => Some(Expr::from(any)),
            Op::Ne | Op::NotIn => Some(Expr::from(any.not())),
            _ => None,
        }
    }

    /// Whether the consent answer for `purpose` is `answer`.
    fn consent_is(&self, purpose: &str, channel: Channel, answer: &str) -> Condition {
        // Strictest first: an answer holds when its state applies and no stricter one does.
        const ORDER: [&str; 5] = ["withdrawn", "denied", "expired", "pending_confirmation", "granted"];
        let states = |which: &[&str]| {
            let mut q = Query::select();
            q.expr(Expr::val(1))
                .from_as(Alias::new("consent_states"), Alias::new("s"))
                .and_where(
                    Expr::col((Alias::new("s"), Alias::new("workspace_id")))
                        .equals((Alias::new(CONTACTS), Alias::new("workspace_id"))),
                )
                .and_where(
                    Expr::col((Alias::new("s"), Alias::new("contact_id")))
                        .equals((Alias::new(CONTACTS), Alias::new("id"))),
                )
                .and_where(Expr::col((Alias::new("s"), Alias::new("purpose"))).eq(purpose));
            let point = Expr::col((Alias::new("s"), Alias::new("contact_point")));
            let mut applies = Condition::any().add(point.clone().eq(""));
            match channel {
                Channel::Email => applies = applies.add(point.equals((Alias::new(CONTACTS), Alias::new("email_key")))),
                Channel::Sms | Channel::Phone => {
                    applies = applies.add(point.equals((Alias::new(CONTACTS), Alias::new("phone"))));
                }
                Channel::Postal | Channel::Push | Channel::Any => {}
            }
            q.cond_where(applies);
            q.cond_where(which.iter().fold(Condition::any(), |c, a| c.add(self.state_answers(a))));
            q
        };
        if answer == "none" {
            return Condition::all().add(Expr::exists(states(&ORDER)).not());
        }
        let Some(at) = ORDER.iter().position(|a| *a == answer) else {
            return Condition::all().add(Expr::cust("1 = 0"));
        };
        let mut c = Condition::all().add(Expr::exists(states(&[answer])));
        if at > 0 {
            c = c.add(Expr::exists(states(&ORDER[..at])).not());
        }
        c
    }

    /// Whether a stored state (`s`) answers `answer` now.
    fn state_answers(&self, answer: &str) -> Condition {
        let col = |c: &str| Expr::col((Alias::new("s"), Alias::new(c)));
        let expired = || col("expires_at").is_not_null().and(col("expires_at").lte(self.now));
        let c = Condition::all();
        match answer {
            "expired" => c.add(col("status").eq("granted")).add(expired()),
            "granted" => c.add(col("status").eq("granted")).add(
                Condition::any()
                    .add(col("expires_at").is_null())
                    .add(col("expires_at").gt(self.now)),
            ),
            other => c.add(col("status").eq(other)),
        }
    }

    /// The consent answer for a purpose, as the consent check decides it: among the
    /// purpose-wide state and the state of the contact point the channel uses, the
    /// strictest (withdrawn, denied, expired, pending, granted); `none` without any.
    fn consent(&self, purpose: &str, channel: Channel) -> Expr {
        let point = match channel {
            Channel::Email => "OR s.contact_point = \"contacts\".\"email_key\"",
            Channel::Sms | Channel::Phone => "OR s.contact_point = \"contacts\".\"phone\"",
            Channel::Postal | Channel::Push | Channel::Any => "",
        };
        let (now, p) = if self.pg { ("$1", "$2") } else { ("?", "?") };
        let sql = format!(
            "COALESCE((SELECT CASE MAX(CASE \
               WHEN s.status = 'withdrawn' THEN 5 \
               WHEN s.status = 'denied' THEN 4 \
               WHEN s.status = 'granted' AND s.expires_at IS NOT NULL AND s.expires_at <= {now} THEN 3 \
               WHEN s.status = 'pending_confirmation' THEN 2 \
               WHEN s.status = 'granted' THEN 1 END) \
             WHEN 5 THEN 'withdrawn' WHEN 4 THEN 'denied' WHEN 3 THEN 'expired' \
             WHEN 2 THEN 'pending_confirmation' WHEN 1 THEN 'granted' END \
             FROM consent_states s \
             WHERE s.workspace_id = \"contacts\".\"workspace_id\" AND s.contact_id = \"contacts\".\"id\" \
               AND s.purpose = {p} AND (s.contact_point = '' {point})), 'none')"
        );
        Expr::cust_with_exprs(sql, [Expr::val(self.now), Expr::val(purpose)])
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use rapport_domain::attributes::{AttributeDefinition, AttributeEntity, AttributeSchema, AttributeType};
    use rapport_domain::segment::Registry;
    use sea_orm::sea_query::PostgresQueryBuilder;

    fn registry() -> Registry {
        let now = chrono::Utc::now();
        let tier = AttributeDefinition {
            id: rapport_domain::AttributeDefinitionId::new(),
            entity: AttributeEntity::Contact,
            key: "tier".into(),
            label: "Tier".into(),
            description: None,
            kind: AttributeType::Enum,
            options: vec!["gold".into(), "silver".into()],
            version: 1,
            created_at: now,
            updated_at: now,
        };
        Registry::new(
            AttributeSchema::new([tier]),
            AttributeSchema::default(),
            [("email_marketing".to_owned(), Channel::Email)],
        )
    }

    fn sql(rule: &serde_json::Value) -> String {
        let rule = Rule::parse(rule, &registry()).unwrap();
        let c = Compiler::new(DbBackend::Postgres, chrono::Utc::now());
        c.matching(WorkspaceId::new(), &rule).to_string(PostgresQueryBuilder)
    }

    #[test]
    fn a_condition_outside_not_reads_its_field_once() {
        let s = sql(&serde_json::json!({"all": [
            {"field": "lifecycle_stage", "op": "in", "value": ["customer", "repeat_customer"]},
            {"field": "lead_score", "op": "gte", "value": 50},
            {"field": "attributes.tier", "op": "eq", "value": "gold"},
            {"field": "tags", "op": "contains", "value": "vip"},
            {"field": "consent.email_marketing", "op": "eq", "value": "granted"}
        ]}));
        println!("{s}");
        assert_eq!(s.matches("jsonb_typeof").count(), 1, "{s}");
        assert!(
            !s.contains("END) IS NOT NULL") && !s.contains("\"lead_score\" IS NOT NULL"),
            "{s}"
        );
        assert!(!s.contains("COALESCE"), "{s}");
        assert_eq!(
            s.matches("NOT EXISTS").count(),
            1,
            "consent: a grant applies and nothing stricter: {s}"
        );
    }

    #[test]
    fn a_condition_under_not_is_two_valued() {
        let s = sql(&serde_json::json!({"not": {"field": "attributes.tier", "op": "eq", "value": "gold"}}));
        assert!(s.contains("COALESCE"), "{s}");
    }
}
