//! `rapport seed --demo`: a small coffee roaster's shop as a new user would find it after
//! two years of business. People from ten countries (some working for cafés, hotels and
//! offices that buy by the kilo) found the shop, some subscribed to the newsletter, many
//! bought once, some came back regularly, some stopped; they decided about marketing
//! email at checkout or in forms, and some withdrew later.
//!
//! Everything goes through the use cases the API calls: companies one by one, contacts
//! in batches with their consent decisions, orders in batches in the order they were
//! placed, then the churn rule once (over every workspace, as its periodic job runs), a
//! few hand-made moves to `advocate`, and segments.
//! So purchase metrics, lifecycle transitions (cause `order`, `rule`, `api`), events and
//! segment memberships are exactly what real traffic would have left. The data come from
//! a seeded generator: two demos of one size are alike but for their dates, which are
//! relative to now.
//!
//! A workspace holds one demo: a run that finds the first demo contact (external id
//! `demo` 1) writes nothing and says so.

mod people;
mod shop;
mod world;

use std::collections::{BTreeMap, HashSet};
use std::time::Instant;

use fastrand::Rng;
use rapport_domain::company::CompanyInput;
use rapport_domain::event::{Actor, ActorKind};
use rapport_domain::lifecycle::Stage;
use rapport_domain::patch::Patch;
use rapport_domain::scope::{Scope, ScopeSet};
use rapport_domain::segment::{MAX_MEMBER_CHANGE, SegmentInput};
use rapport_domain::{CompanyId, ContactId, WorkspaceId};
use serde_json::json;

use self::people::Person;
use self::world::CompanyPlan;
use crate::app::App;
use crate::auth::Caller;
use crate::error::ApiError;
use crate::http::etag::Precondition;

/// Contacts of a demo when no number is asked for.
pub const DEFAULT_CONTACTS: usize = 3000;
/// One company per this many contacts when no number is asked for.
pub const CONTACTS_PER_COMPANY: usize = 20;
/// The generator's seed.
const SEED: u64 = 0x5EED_DE30;

/// What a demo run did.
#[derive(Debug, Default)]
pub struct Demo {
    /// False when the workspace already held a demo: nothing was written.
    pub created: bool,
    pub contacts: usize,
    pub companies: usize,
    pub orders: usize,
    /// Consent decisions recorded.
    pub consents: usize,
    pub segments: usize,
    /// Customers the churn rule moved to `churned` (in every workspace; it runs over all).
    pub churned: u64,
    /// The workspace's contacts per lifecycle stage afterwards (stages with any).
    pub stages: BTreeMap<&'static str, u64>,
    pub seconds: f64,
}

/// `true` with a chance of `p` in 100.
fn percent(rng: &mut Rng, p: u32) -> bool {
    rng.u32(..100) < p
}

/// One of `choices`, each as likely as its weight.
fn weighted<T: Copy>(rng: &mut Rng, choices: &[(T, u32)]) -> T {
    let total: u32 = choices.iter().map(|c| c.1).sum();
    let mut roll = rng.u32(..total.max(1));
    for &(choice, weight) in choices {
        if roll < weight {
            return choice;
        }
        roll -= weight;
    }
    choices[choices.len() - 1].0
}

/// Fills `ws` with a demo shop of `contacts` contacts and `companies` companies, unless
/// it holds one already.
/// # Errors
/// When a write fails (the first failing item's problem, located under `/items/{i}`).
pub async fn run(app: &App, ws: WorkspaceId, contacts: usize, companies: usize) -> Result<Demo, ApiError> {
    let started = Instant::now();
    let actor = Actor {
        kind: ActorKind::System,
        id: Some("demo".to_owned()),
    };
    let who = Caller::new(ws, ScopeSet::from_scopes([Scope::Admin]), actor);
    let mut demo = Demo::default();
    if rapport_store::contacts::find_by_external_id(app.db.read(), ws, shop::SOURCE, "1")
        .await?
        .is_some()
    {
        demo.seconds = started.elapsed().as_secs_f64();
        return Ok(demo);
    }
    super::seed::declare_attributes(&app.db, ws).await?;
    let now = rapport_store::now();
    let mut rng = Rng::with_seed(SEED);
    let company_plans = world::companies(&mut rng, companies);
    let mut emails = HashSet::new();
    let people: Vec<Person> = (0..contacts)
        .map(|_| people::person(&mut rng, &company_plans, &mut emails, now))
        .collect();
    let company_ids = create_companies(app, &who, &company_plans).await?;
    let contact_ids = create_contacts(app, &who, &people, &company_ids).await?;
    demo.orders = place_orders(app, &who, &people, &contact_ids).await?;
    demo.churned = super::orders::churn(app).await;
    promote(app, &who, &people, &contact_ids).await?;
    demo.segments = create_segments(app, &who, &people, &contact_ids).await?;
    demo.stages = stages(app, &who).await?;
    demo.created = true;
    demo.contacts = contact_ids.len();
    demo.companies = company_ids.len();
    demo.consents = people.iter().map(|p| p.consents.len()).sum();
    demo.seconds = started.elapsed().as_secs_f64();
    Ok(demo)
}

async fn create_companies(app: &App, who: &Caller, plans: &[CompanyPlan]) -> Result<Vec<CompanyId>, ApiError> {
    let mut ids = Vec::with_capacity(plans.len());
    for c in plans {
        let input = CompanyInput {
            name: Patch::Set(c.name.clone()),
            domain: Patch::Set(c.domain.clone()),
            industry: Patch::Set(c.industry.to_owned()),
            size: Patch::Set(c.size),
            attributes: Patch::Absent,
        };
        ids.push(super::companies::create(app, who, input).await?.id);
    }
    tracing::info!(companies = ids.len(), "demo: companies created");
    Ok(ids)
}

/// Writes the people in batches, with their consent decisions; returns their ids in order.
async fn create_contacts(
    app: &App,
    who: &Caller,
    people: &[Person],
    companies: &[CompanyId],
) -> Result<Vec<ContactId>, ApiError> {
    let mut ids = Vec::with_capacity(people.len());
    for chunk in people.chunks(super::upserts::MAX_BATCH) {
        let first = ids.len() + 1;
        let items = chunk
            .iter()
            .enumerate()
            .map(|(i, p)| Ok(p.input(first + i, companies)))
            .collect();
        for written in super::upserts::batch_upsert(app, who, items).await? {
            ids.push(written?.0.id);
        }
        tracing::info!(contacts = ids.len(), "demo: contacts written");
    }
    Ok(ids)
}

/// Sends every order in the order it was placed, in batches, as the shop would have:
/// each one updates its customer's metrics and lifecycle stage. Returns how many.
async fn place_orders(app: &App, who: &Caller, people: &[Person], ids: &[ContactId]) -> Result<usize, ApiError> {
    let mut all: Vec<(&shop::Order, ContactId)> = people
        .iter()
        .zip(ids)
        .flat_map(|(p, id)| p.orders.iter().map(move |o| (o, *id)))
        .collect();
    all.sort_by_key(|(o, _)| o.placed_at);
    for (n, chunk) in all.chunks(super::orders::MAX_BATCH).enumerate() {
        let first = 100_001 + n * super::orders::MAX_BATCH;
        let items = chunk
            .iter()
            .enumerate()
            .map(|(i, (o, id))| Ok(o.input((first + i).to_string(), *id)))
            .collect();
        for placed in super::orders::upsert_batch(app, who, items).await? {
            placed?;
        }
        tracing::info!(
            orders = (n * super::orders::MAX_BATCH + chunk.len()),
            "demo: orders placed"
        );
    }
    Ok(all.len())
}

/// Loyal customers who joined the ambassador programme: moved to `advocate` by hand.
async fn promote(app: &App, who: &Caller, people: &[Person], ids: &[ContactId]) -> Result<(), ApiError> {
    for (_, id) in people.iter().zip(ids).filter(|(p, _)| p.advocate) {
        let reason = Some("joined the ambassador programme");
        super::lifecycle::change_stage(app, who, *id, Stage::Advocate, reason, Precondition::None).await?;
    }
    Ok(())
}

/// Three dynamic segments (big spenders, lapsed customers, the newsletter audience) and
/// a static list of trade-fair leads. Returns how many.
async fn create_segments(app: &App, who: &Caller, people: &[Person], ids: &[ContactId]) -> Result<usize, ApiError> {
    let days = rapport_store::workspaces::get(app.db.read(), who.workspace())
        .await?
        .churn_after_days;
    let dynamic = [
        (
            "VIP customers",
            "Current customers who spent EUR 500 or more, net of refunds.".to_owned(),
            json!({"all": [
                {"field": "lifecycle_stage", "op": "in", "value": ["customer", "repeat_customer", "advocate"]},
                {"field": "metrics.total_spent.EUR", "op": "gte", "value": 50_000},
            ]}),
        ),
        (
            "Lapsed customers",
            format!("Bought before, but nothing in the last {days} days."),
            json!({"all": [
                {"field": "metrics.order_count", "op": "gte", "value": 1},
                {"not": {"field": "metrics.last_order_at", "op": "within_last", "value": format!("P{days}D")}},
            ]}),
        ),
        (
            "Newsletter audience",
            "Everyone who may receive marketing email now.".to_owned(),
            json!({"field": "consent.email_marketing", "op": "eq", "value": "granted"}),
        ),
    ];
    let segment = |name: &str, description: String, rules: Option<serde_json::Value>| SegmentInput {
        name: name.to_owned(),
        description: Some(description),
        kind: Some(if rules.is_some() { "dynamic" } else { "static" }.to_owned()),
        rules,
    };
    let mut made = 0;
    for (name, description, rules) in dynamic {
        super::segments::create(app, who, segment(name, description, Some(rules))).await?;
        made += 1;
    }
    let fair = segment(
        "Trade fair leads",
        "Businesses met at the trade fair, to call back.".to_owned(),
        None,
    );
    let fair = super::segments::create(app, who, fair).await?;
    let members: Vec<uuid::Uuid> = people
        .iter()
        .zip(ids)
        .filter(|(p, _)| p.tags.contains(&"trade-fair"))
        .map(|(_, id)| id.uuid())
        .collect();
    for chunk in members.chunks(MAX_MEMBER_CHANGE) {
        super::segments::add_members(app, who, fair.segment.id, chunk).await?;
    }
    Ok(made + 1)
}

/// The workspace's contacts per lifecycle stage, counted as a segment preview counts.
async fn stages(app: &App, who: &Caller) -> Result<BTreeMap<&'static str, u64>, ApiError> {
    let mut out = BTreeMap::new();
    for stage in Stage::ALL {
        let rule = json!({"field": "lifecycle_stage", "op": "eq", "value": stage.as_str()});
        let (count, _) = super::segments::preview(app, who, &rule, 1).await?;
        if count > 0 {
            out.insert(stage.as_str(), count);
        }
    }
    Ok(out)
}
