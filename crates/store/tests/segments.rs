//! Segments on SQLite and PostgreSQL: the SQL evaluator and the in-memory evaluator
//! agree on random contacts (with consents, companies and orders) and random rules;
//! refresh reconciles membership.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Duration, Utc};
use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::TestRunner;
use rapport_domain::attributes::{AttributeDefinition, AttributeEntity, AttributeSchema, AttributeType};
use rapport_domain::company::Company;
use rapport_domain::consent::{Channel, ConsentEvent, LegalBasis, OptInLevel, Proof, Status};
use rapport_domain::contact::Contact;
use rapport_domain::email::Email;
use rapport_domain::event::Actor;
use rapport_domain::lifecycle::{Stage, StageState};
use rapport_domain::order::{Currency, Order, OrderContent, OrderStatus, PurchaseMetrics};
use rapport_domain::segment::{Registry, Rule, Subject};
use rapport_domain::{AttributeDefinitionId, CompanyId, ConsentEventId, ContactId, SegmentId, WorkspaceId};
use rapport_store::segments::members;
use rapport_store::{Db, attributes, companies, consent, contacts, metrics, orders};
use serde_json::{Value, json};

use rapport_store::on_both_databases as on_both;
use rapport_store::testing::workspace;

const NAMES: &[&str] = &[
    "Ada", "ada", "ADA", "Émile", "émile", "Zoë", "O'Brien", "50%_off", "a\\b",
];
const TAGS: &[&str] = &["vip", "b2b", "new", "churn-risk"];
const TIERS: &[&str] = &["gold", "silver", "bronze"];
const DOMAINS: &[&str] = &["example.com", "Example.COM", "shop.io", "mail.example.com"];
const INDUSTRIES: &[&str] = &["Retail", "retail", "Software", "Énergie"];
const STAGES: &[&str] = &["subscriber", "lead", "customer", "repeat_customer", "churned"];
const STATUSES: &[&str] = &["granted", "denied", "withdrawn", "pending_confirmation"];

fn definition(entity: AttributeEntity, key: &str, kind: AttributeType, options: &[&str]) -> AttributeDefinition {
    AttributeDefinition {
        id: AttributeDefinitionId::new(),
        entity,
        key: key.into(),
        label: key.into(),
        description: None,
        kind,
        options: options.iter().map(|o| (*o).to_owned()).collect(),
        version: 1,
        created_at: rapport_store::now(),
        updated_at: rapport_store::now(),
    }
}

fn contact_definitions() -> Vec<AttributeDefinition> {
    let c = AttributeEntity::Contact;
    vec![
        definition(c, "tier", AttributeType::Enum, TIERS),
        definition(c, "spend", AttributeType::Number, &[]),
        definition(c, "nickname", AttributeType::String, &[]),
        definition(c, "birthday", AttributeType::Date, &[]),
        definition(c, "vip", AttributeType::Boolean, &[]),
    ]
}

fn company_definitions() -> Vec<AttributeDefinition> {
    vec![definition(
        AttributeEntity::Company,
        "region",
        AttributeType::String,
        &[],
    )]
}

fn registry() -> Registry {
    Registry::new(
        AttributeSchema::new(contact_definitions()),
        AttributeSchema::new(company_definitions()),
        [
            ("email_marketing".to_owned(), Channel::Email),
            ("sms_marketing".to_owned(), Channel::Sms),
            ("analytics".to_owned(), Channel::Any),
        ],
    )
}

/// Offsets from `now`, in seconds, that sit on and around the window boundaries the
/// rules use (one day, 30 days).
fn offset() -> impl Strategy<Value = i64> {
    prop_oneof![
        Just(0),
        Just(-86_400),
        Just(-86_401),
        Just(-86_399),
        Just(-30 * 86_400),
        Just(3600),
        -40_000_000i64..40_000_000,
    ]
}

#[derive(Clone, Debug)]
struct Person {
    email: Option<String>,
    phone: Option<String>,
    first: Option<String>,
    last: Option<String>,
    tags: Vec<String>,
    stage: String,
    score: i64,
    created: i64,
    company: Option<usize>,
    attributes: Vec<(String, Value)>,
    consents: Vec<(String, bool, String, i64, Option<i64>)>,
    /// Orders: status, currency, total, placed (offset from now).
    orders: Vec<(String, String, i64, i64)>,
}

const ORDER_STATUSES: &[&str] = &["placed", "paid", "cancelled", "refunded", "partially_refunded"];
const CURRENCIES: &[&str] = &["EUR", "USD", "JPY"];
/// Totals that make equal sums and averages with halves likely.
const TOTALS: &[i64] = &[1000, 2501, 4000, 1];

fn order() -> impl Strategy<Value = (String, String, i64, i64)> {
    (
        prop::sample::select(ORDER_STATUSES),
        prop::sample::select(CURRENCIES),
        prop::sample::select(TOTALS),
        offset(),
    )
        .prop_map(|(s, c, t, o)| (s.to_owned(), c.to_owned(), t, o))
}

fn attribute_value() -> impl Strategy<Value = (String, Value)> {
    prop_oneof![
        prop::sample::select(TIERS).prop_map(|t| ("tier".to_owned(), json!(t))),
        prop_oneof![Just(0.0), Just(99.5), Just(100.0), -1000.0f64..1000.0]
            .prop_map(|n| ("spend".to_owned(), json!(n))),
        // Beyond 2^53 an integer reads as the nearest float, in memory and in SQL alike.
        Just(("spend".to_owned(), json!(9_007_199_254_740_993_i64))),
        prop::sample::select(NAMES).prop_map(|n| ("nickname".to_owned(), json!(n))),
        offset().prop_map(|o| ("birthday".to_owned(), json!(day(o)))),
        any::<bool>().prop_map(|b| ("vip".to_owned(), json!(b))),
    ]
}

fn person() -> impl Strategy<Value = Person> {
    (
        (
            prop::option::of(prop::sample::select(NAMES)),
            prop::option::of(prop::sample::select(DOMAINS)),
            prop::option::of(prop::sample::select(&["+4420794600", "+3361234567"][..])),
            prop::option::of(prop::sample::select(NAMES)),
            prop::option::of(prop::sample::select(NAMES)),
        ),
        prop::sample::subsequence(TAGS, 0..=3),
        prop::sample::select(STAGES),
        -3i64..120,
        offset(),
        prop::option::of(0usize..3),
        prop::collection::vec(attribute_value(), 0..4),
        prop::collection::vec(
            (
                prop::sample::select(&["email_marketing", "sms_marketing", "analytics"][..]),
                any::<bool>(),
                prop::sample::select(STATUSES),
                offset(),
                prop::option::of(offset()),
            ),
            0..4,
        ),
        prop::collection::vec(order(), 0..4),
    )
        .prop_map(
            |(
                (local, domain, phone, first, last),
                tags,
                stage,
                score,
                created,
                company,
                attributes,
                consents,
                orders,
            )| {
                Person {
                    email: local.zip(domain).map(|(l, d)| {
                        let l: String = l.chars().filter(char::is_ascii_alphanumeric).collect();
                        format!("{}{}@{d}", if l.is_empty() { "x" } else { &l }, score)
                    }),
                    phone: phone.map(|p| format!("{p}{}", score.rem_euclid(10))),
                    first: first.map(str::to_owned),
                    last: last.map(str::to_owned),
                    tags: tags.into_iter().map(str::to_owned).collect(),
                    stage: stage.to_owned(),
                    score,
                    created,
                    company,
                    attributes,
                    consents: consents
                        .into_iter()
                        .map(|(p, narrow, s, at, exp)| (p.to_owned(), narrow, s.to_owned(), at, exp))
                        .collect(),
                    orders,
                }
            },
        )
}

fn day(offset: i64) -> String {
    (fixed_now() + Duration::seconds(offset)).format("%Y-%m-%d").to_string()
}

/// A fixed instant (micro precision), so windows fall where the offsets put them.
fn fixed_now() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-06-15T12:00:00.250000Z")
        .unwrap()
        .with_timezone(&Utc)
}

fn leaf() -> impl Strategy<Value = Value> {
    let text_field = prop::sample::select(
        &[
            "first_name",
            "last_name",
            "attributes.nickname",
            "company.industry",
            "company.domain",
            "company.attributes.region",
            "email",
            "phone",
        ][..],
    );
    let name = prop::sample::select(NAMES);
    prop_oneof![
        (text_field.clone(), prop::sample::select(&["eq", "ne", "contains", "starts_with", "ends_with"][..]), prop_oneof![name.clone(), prop::sample::select(INDUSTRIES), prop::sample::select(DOMAINS), Just("a"), Just("%"), Just("_")])
            .prop_map(|(f, o, v)| json!({"field": f, "op": o, "value": v})),
        (text_field.clone(), prop::sample::select(&["in", "not_in"][..]), prop::collection::vec(prop_oneof![name, prop::sample::select(INDUSTRIES)], 1..3))
            .prop_map(|(f, o, v)| json!({"field": f, "op": o, "value": v})),
        (text_field, any::<bool>()).prop_map(|(f, b)| json!({"field": f, "op": "exists", "value": b})),
        (prop::sample::select(&["tags"][..]), prop::sample::select(TAGS), prop::sample::select(&["contains", "in", "not_in", "exists"][..]))
            .prop_map(|(f, t, o)| match o {
                "contains" => json!({"field": f, "op": o, "value": t}),
                "exists" => json!({"field": f, "op": o, "value": t.len() > 3}),
                _ => json!({"field": f, "op": o, "value": [t, "new"]}),
            }),
        (prop::sample::select(&["lifecycle_stage", "highest_stage"][..]), prop::sample::subsequence(STAGES, 1..3), any::<bool>())
            .prop_map(|(f, s, neg)| json!({"field": f, "op": if neg {"not_in"} else {"in"}, "value": s})),
        (prop::sample::select(&["lead_score", "attributes.spend", "company.size"][..]), prop::sample::select(&["eq", "ne", "gt", "gte", "lt", "lte"][..]), prop_oneof![Just(0.0), Just(50.0), Just(99.5), Just(9_007_199_254_740_992.0), -100.0f64..200.0])
            .prop_map(|(f, o, v)| json!({"field": f, "op": o, "value": v})),
        (prop::sample::select(&["lead_score", "attributes.spend"][..]), -50i64..50, 0i64..100)
            .prop_map(|(f, lo, w)| json!({"field": f, "op": "between", "value": [lo, lo + w]})),
        (prop::sample::select(&["created_at", "attributes.birthday"][..]), prop::sample::select(&["P1D", "P30D", "PT12H", "P1Y", "P2M"][..]))
            .prop_map(|(f, d)| json!({"field": f, "op": "within_last", "value": d})),
        (offset(), prop::sample::select(&["before", "after"][..])).prop_map(|(o, op)| json!({"field": "created_at", "op": op, "value": (fixed_now() + Duration::seconds(o)).to_rfc3339()})),
        (offset(), prop::sample::select(&["before", "after", "eq", "ne"][..])).prop_map(|(o, op)| json!({"field": "attributes.birthday", "op": op, "value": day(o)})),
        (prop::sample::select(TIERS), prop::sample::select(&["eq", "ne"][..])).prop_map(|(t, op)| json!({"field": "attributes.tier", "op": op, "value": t})),
        any::<bool>().prop_map(|b| json!({"field": "attributes.vip", "op": "eq", "value": b})),
        // Averages of two totals of different parity end in .5: these bounds tell
        // rounding half away from zero from any other rounding.
        (prop::sample::select(&["metrics.average_order_value.EUR", "metrics.average_order_value.USD"][..]), prop::sample::select(&["eq", "gte", "lt"][..]), prop::sample::select(&[500.5, 501.0, 1750.5, 1751.0, 2000.5, 2001.0, 3250.5, 3251.0][..]))
            .prop_map(|(f, o, v)| json!({"field": f, "op": o, "value": v})),
        (prop::sample::select(&["metrics.order_count", "metrics.total_spent.EUR", "metrics.total_spent.usd", "metrics.average_order_value.EUR", "metrics.average_order_value.JPY"][..]), prop::sample::select(&["eq", "ne", "gt", "gte", "lt", "lte", "exists"][..]), prop_oneof![Just(0.0), Just(1.0), Just(2.0), Just(1000.0), Just(1751.0), Just(2501.0), Just(3501.0), 0.0f64..6000.0])
            .prop_map(|(f, o, v)| if o == "exists" { json!({"field": f, "op": o, "value": v > 1.0}) } else { json!({"field": f, "op": o, "value": v}) }),
        (prop::sample::select(&["orders.count", "orders.total.EUR", "orders.total.JPY"][..]), prop::sample::select(&["eq", "ne", "gte", "lt"][..]), prop_oneof![Just(0.0), Just(1.0), Just(2.0), Just(1000.0), Just(3501.0)], prop::option::of(prop::sample::select(&["P1D", "P30D", "PT12H", "P1Y"][..])))
            .prop_map(|(f, o, v, w)| match w {
                Some(w) => json!({"field": f, "op": o, "value": v, "within": w}),
                None => json!({"field": f, "op": o, "value": v}),
            }),
        (prop::sample::select(&["metrics.first_order_at", "metrics.last_order_at"][..]), prop::sample::select(&["P1D", "P30D", "P1Y"][..]))
            .prop_map(|(f, d)| json!({"field": f, "op": "within_last", "value": d})),
        (prop::sample::select(&["metrics.first_order_at", "metrics.last_order_at"][..]), offset(), prop::sample::select(&["before", "after"][..]))
            .prop_map(|(f, o, op)| json!({"field": f, "op": op, "value": (fixed_now() + Duration::seconds(o)).to_rfc3339()})),
        (prop::sample::select(&["consent.email_marketing", "consent.sms_marketing", "consent.analytics"][..]), prop::sample::select(&["granted", "denied", "withdrawn", "pending_confirmation", "expired", "none"][..]), any::<bool>())
            .prop_map(|(f, s, neg)| json!({"field": f, "op": if neg {"ne"} else {"eq"}, "value": s})),
    ]
}

fn rule() -> impl Strategy<Value = Value> {
    leaf().prop_recursive(3, 16, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(|v| json!({"all": v})),
            prop::collection::vec(inner.clone(), 0..4).prop_map(|v| json!({"any": v})),
            inner.prop_map(|v| json!({"not": v})),
        ]
    })
}

fn sample<S: Strategy>(runner: &mut TestRunner, s: &S) -> S::Value {
    s.new_tree(runner).unwrap().current()
}

struct World {
    ws: WorkspaceId,
    contacts: Vec<Contact>,
    companies: BTreeMap<CompanyId, Company>,
}

/// A person's orders, as a shop would have sent them.
async fn insert_orders(
    tx: &rapport_store::Tx,
    ws: WorkspaceId,
    contact: ContactId,
    drawn: &[(String, String, i64, i64)],
    now: DateTime<Utc>,
) {
    for (i, (status, currency, total, at)) in drawn.iter().enumerate() {
        let status = OrderStatus::parse(status).unwrap();
        let refunded_total = match status {
            OrderStatus::Refunded => *total,
            OrderStatus::PartiallyRefunded if *total > 1 => total / 4 + 1,
            _ => 0,
        };
        let content = OrderContent {
            status,
            currency: Currency::known(currency).unwrap(),
            placed_at: now + Duration::seconds(*at),
            lines: vec![],
            subtotal: *total,
            discount_codes: vec![],
            discount_total: 0,
            tax: 0,
            shipping: 0,
            total: *total,
            refunded_total,
        };
        let o = Order::create(ws, contact, "shop".into(), format!("{contact}-{i}"), content, now);
        orders::insert(tx, &o).await.unwrap();
    }
}

async fn build(db: &Db, people: &[Person]) -> World {
    let ws = workspace(db).await;
    let now = fixed_now();
    let tx = db.begin().await.unwrap();
    for d in contact_definitions().iter().chain(company_definitions().iter()) {
        attributes::insert(&tx, ws, d).await.unwrap();
    }
    let mut companies_by_index = Vec::new();
    for (i, industry) in INDUSTRIES.iter().take(3).enumerate() {
        let c = Company {
            id: CompanyId::new(),
            workspace_id: ws,
            name: format!("Company {i}"),
            domain: (i != 2).then(|| format!("c{i}.{}", DOMAINS[i].to_lowercase())),
            industry: (i != 1).then(|| (*industry).to_owned()),
            size: (i != 0).then_some(50 * i64::try_from(i).unwrap()),
            attributes: if i == 0 { json!({"region": "EMEA"}) } else { json!({}) }
                .as_object()
                .cloned()
                .unwrap(),
            version: 1,
            created_at: now,
            updated_at: now,
        };
        companies::insert(&tx, &c).await.unwrap();
        companies_by_index.push(c);
    }
    let mut out = Vec::new();
    for p in people {
        let created = now + Duration::seconds(p.created);
        let stage = Stage::parse(&p.stage).unwrap();
        let c = Contact {
            id: ContactId::new(),
            workspace_id: ws,
            email: p.email.as_ref().map(|e| Email::parse(e, "").unwrap()),
            phone: p.phone.clone(),
            first_name: p.first.clone(),
            last_name: p.last.clone(),
            locale: None,
            country: None,
            company_id: p.company.map(|i| companies_by_index[i].id),
            external_ids: BTreeMap::new(),
            tags: p.tags.iter().cloned().collect::<BTreeSet<_>>().into_iter().collect(),
            attributes: p.attributes.iter().cloned().collect(),
            stage: StageState::start(stage, created),
            lead_score: p.score,
            owner_id: None,
            version: 1,
            created_at: created,
            updated_at: created,
            erased_at: None,
        };
        if contacts::insert(&tx, &c).await.is_err() {
            continue; // a duplicate email drawn twice
        }
        for (purpose, narrow, status, at, expires) in &p.consents {
            let point = match (narrow, purpose.as_str()) {
                (true, "email_marketing") => c.email.as_ref().map(Email::key),
                (true, "sms_marketing") => c.phone.clone(),
                _ => None,
            };
            let e = ConsentEvent {
                id: ConsentEventId::new(),
                contact_id: c.id,
                purpose: purpose.clone(),
                status: Status::parse(status).unwrap(),
                legal_basis: LegalBasis::Consent,
                opt_in_level: OptInLevel::Single,
                contact_point: point,
                source: "test".into(),
                captured_at: now + Duration::seconds(*at),
                recorded_at: now,
                expires_at: expires.map(|x| now + Duration::seconds(x)),
                proof: Proof::default(),
                actor: Actor::system(),
            };
            consent::record(&tx, ws, &e).await.unwrap();
        }
        insert_orders(&tx, ws, c.id, &p.orders, now).await;
        out.push(c);
    }
    let ids: Vec<ContactId> = out.iter().map(|c| c.id).collect();
    metrics::recompute(&tx, ws, &ids).await.unwrap();
    tx.commit().await.unwrap();
    World {
        ws,
        contacts: out,
        companies: companies_by_index.into_iter().map(|c| (c.id, c)).collect(),
    }
}

async fn in_memory(db: &Db, world: &World, rule: &Rule) -> Vec<ContactId> {
    let ids: Vec<ContactId> = world.contacts.iter().map(|c| c.id).collect();
    let stored = contacts::get_many(db.read(), world.ws, &ids).await.unwrap();
    let states = consent::states(db.read(), world.ws, &ids, None).await.unwrap();
    let kept = metrics::get_many(db.read(), world.ws, &ids).await.unwrap();
    let all_orders = orders::of_contacts(db.read(), world.ws, &ids).await.unwrap();
    let mut out: Vec<ContactId> = stored
        .iter()
        .filter(|c| {
            let mine: Vec<_> = states
                .iter()
                .filter(|(id, _)| *id == c.id)
                .map(|(_, s)| s.clone())
                .collect();
            let bought: Vec<OrderContent> = all_orders
                .iter()
                .filter(|o| o.contact_id == c.id)
                .map(|o| o.content.clone())
                .collect();
            // The kept metrics are the ones a rebuild from the orders gives.
            assert_eq!(kept[&c.id], PurchaseMetrics::from_orders(&bought));
            rule.matches(
                &Subject {
                    contact: c,
                    company: c.company_id.and_then(|id| world.companies.get(&id)),
                    consent: &mine,
                    metrics: &kept[&c.id],
                    orders: &bought,
                },
                fixed_now(),
            )
        })
        .map(|c| c.id)
        .collect();
    out.sort();
    out
}

async fn both_evaluators_agree_on_random_contacts_and_rules(db: Db) {
    let mut runner = TestRunner::deterministic();
    let registry = registry();
    let mut agreed = 0;
    let mut non_trivial = 0;
    let mut commerce = 0;
    for _world in 0..6 {
        let people = sample(&mut runner, &prop::collection::vec(person(), 30..50));
        let world = build(&db, &people).await;
        for _ in 0..60 {
            let raw = sample(&mut runner, &rule());
            let rule = Rule::parse(&raw, &registry).unwrap_or_else(|e| panic!("{raw}: {e:?}"));
            let mut sql = members::matching_ids(db.read(), world.ws, &rule, fixed_now())
                .await
                .unwrap();
            sql.sort();
            let memory = in_memory(&db, &world, &rule).await;
            assert_eq!(sql, memory, "the evaluators disagree on {raw}");
            let count = members::count_matching(db.read(), world.ws, &rule, fixed_now())
                .await
                .unwrap();
            assert_eq!(count, sql.len() as u64);
            agreed += 1;
            if !sql.is_empty() && sql.len() < world.contacts.len() {
                non_trivial += 1;
                if rule.reads_commerce() {
                    commerce += 1;
                }
            }
        }
    }
    assert_eq!(agreed, 360);
    // The rules must split the contacts often, or agreement proves little.
    assert!(non_trivial > 100, "only {non_trivial} rules split the contacts");
    assert!(commerce > 30, "only {commerce} rules reading orders split the contacts");
}

async fn a_rule_never_reaches_another_workspace(db: Db) {
    let mut runner = TestRunner::deterministic();
    let people = sample(&mut runner, &prop::collection::vec(person(), 20..21));
    let mine = build(&db, &people).await;
    let theirs = build(&db, &people).await;
    let rule = Rule::parse(&json!({"all": []}), &registry()).unwrap();
    let ids = members::matching_ids(db.read(), mine.ws, &rule, fixed_now())
        .await
        .unwrap();
    let expected: BTreeSet<ContactId> = mine.contacts.iter().map(|c| c.id).collect();
    assert_eq!(ids.iter().copied().collect::<BTreeSet<_>>(), expected);
    assert!(theirs.contacts.iter().all(|c| !ids.contains(&c.id)));
}

async fn refresh_moves_members_in_and_out_and_keeps_history(db: Db) {
    let mut runner = TestRunner::deterministic();
    let people = sample(&mut runner, &prop::collection::vec(person(), 30..31));
    let world = build(&db, &people).await;
    let seg = SegmentId::new();
    let tx = db.begin().await.unwrap();
    let segment = rapport_domain::segment::Segment {
        id: seg,
        workspace_id: world.ws,
        name: "s".into(),
        description: None,
        kind: rapport_domain::segment::SegmentKind::Dynamic,
        rules: None,
        version: 1,
        created_at: fixed_now(),
        updated_at: fixed_now(),
        refreshed_at: None,
    };
    rapport_store::segments::insert(&tx, &segment).await.unwrap();
    let high = Rule::parse(&json!({"field": "lead_score", "op": "gte", "value": 60}), &registry()).unwrap();
    let low = Rule::parse(&json!({"field": "lead_score", "op": "lt", "value": 90}), &registry()).unwrap();
    let first = members::refresh(&tx, world.ws, seg, &high, fixed_now()).await.unwrap();
    let expected_high = members::matching_ids(&tx, world.ws, &high, fixed_now()).await.unwrap();
    assert_eq!(
        first.entered.iter().copied().collect::<BTreeSet<_>>(),
        expected_high.iter().copied().collect()
    );
    assert!(first.exited.is_empty());
    let later = fixed_now() + Duration::seconds(5);
    let second = members::refresh(&tx, world.ws, seg, &low, later).await.unwrap();
    let expected_low: BTreeSet<ContactId> = members::matching_ids(&tx, world.ws, &low, later)
        .await
        .unwrap()
        .into_iter()
        .collect();
    let high_set: BTreeSet<ContactId> = expected_high.into_iter().collect();
    assert_eq!(
        second.entered.iter().copied().collect::<BTreeSet<_>>(),
        &expected_low - &high_set
    );
    assert_eq!(
        second.exited.iter().map(|(c, _)| *c).collect::<BTreeSet<_>>(),
        &high_set - &expected_low
    );
    assert_eq!(
        members::count(&tx, world.ws, seg).await.unwrap(),
        expected_low.len() as u64
    );
    // A third refresh with the same rule changes nothing.
    let third = members::refresh(&tx, world.ws, seg, &low, later).await.unwrap();
    assert!(third.entered.is_empty() && third.exited.is_empty());
    if let Some((gone, entered)) = second.exited.first() {
        let spans = members::of_contact(&tx, world.ws, *gone).await.unwrap();
        assert!(
            spans
                .iter()
                .any(|m| m.segment_id == seg && m.entered_at == *entered && m.exited_at == Some(later))
        );
    }
    tx.commit().await.unwrap();
}

on_both!(
    both_evaluators_agree_on_random_contacts_and_rules,
    a_rule_never_reaches_another_workspace,
    refresh_moves_members_in_and_out_and_keeps_history,
);
