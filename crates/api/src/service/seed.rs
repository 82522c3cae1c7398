//! Demo data: realistic contacts, companies, tags, typed attributes and lifecycle
//! stages, written through the store's bulk path with their lifecycle entries and
//! `contact.created` events, as an import would be.
//!
//! Seeded contacts are numbered: contact `n` has the id `{id_prefix}{n:012x}` (a valid,
//! time-ordered UUIDv7) and the email `c{n}@seed.example`, so benchmarks and scripts
//! can address any of them without reading them back.

use std::time::Instant;

use futures_util::StreamExt;

use rapport_domain::attributes::{AttributeEntity, NewDefinitionInput};
use rapport_domain::company::{Company, CompanyInput};
use rapport_domain::contact::{Contact, ContactInput};
use rapport_domain::event::{Actor, EventType};
use rapport_domain::lifecycle::{Cause, Stage};
use rapport_domain::patch::Patch;
use rapport_domain::scope::{Scope, ScopeSet};
use rapport_domain::{CompanyId, ContactId, WorkspaceId};
use rapport_store::{Db, attributes, companies, contacts, outbox};
use serde_json::json;

use super::effects::Effects;
use crate::auth::Caller;
use crate::dto::companies::CompanyDto;
use crate::error::ApiError;

const FIRST: [&str; 24] = [
    "Ada",
    "Alan",
    "Grace",
    "Linus",
    "Margaret",
    "Ken",
    "Barbara",
    "Dennis",
    "Frances",
    "Edsger",
    "Hedy",
    "Tim",
    "Radia",
    "Donald",
    "Katherine",
    "John",
    "Sophie",
    "Niklaus",
    "Mary",
    "Guido",
    "Annie",
    "Bjarne",
    "Karen",
    "Whitfield",
];
const LAST: [&str; 24] = [
    "Lovelace",
    "Turing",
    "Hopper",
    "Torvalds",
    "Hamilton",
    "Thompson",
    "Liskov",
    "Ritchie",
    "Allen",
    "Dijkstra",
    "Lamarr",
    "Berners-Lee",
    "Perlman",
    "Knuth",
    "Johnson",
    "McCarthy",
    "Wilson",
    "Wirth",
    "Keller",
    "van Rossum",
    "Easley",
    "Stroustrup",
    "Jones",
    "Diffie",
];
const INDUSTRIES: [&str; 8] = [
    "Retail",
    "Software",
    "Manufacturing",
    "Logistics",
    "Healthcare",
    "Education",
    "Finance",
    "Hospitality",
];
const WORDS: [&str; 16] = [
    "Acme",
    "Globex",
    "Initech",
    "Umbrella",
    "Stark",
    "Wayne",
    "Tyrell",
    "Cyberdyne",
    "Soylent",
    "Hooli",
    "Vandelay",
    "Wonka",
    "Gringotts",
    "Oceanic",
    "Aperture",
    "Monarch",
];
const TAGS: [&str; 6] = ["vip", "newsletter", "b2b", "wholesale", "returning", "event-2026"];
const COUNTRIES: [&str; 8] = ["DE", "FR", "GB", "US", "NL", "ES", "IT", "SE"];
/// Stage distribution of seeded contacts, in per mille.
const STAGES: [(Stage, u64); 9] = [
    (Stage::Subscriber, 300),
    (Stage::Lead, 200),
    (Stage::Qualified, 80),
    (Stage::Opportunity, 50),
    (Stage::Customer, 200),
    (Stage::RepeatCustomer, 80),
    (Stage::Advocate, 20),
    (Stage::Churned, 50),
    (Stage::Disqualified, 20),
];

/// Contacts per transaction.
const CHUNK: usize = 5_000;

/// A small deterministic generator (xorshift64*), so two seeds of one size are alike.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: usize) -> usize {
        usize::try_from(self.next() % n as u64).unwrap_or(0)
    }

    fn pick<'a>(&mut self, xs: &[&'a str]) -> &'a str {
        xs[self.below(xs.len())]
    }
}

/// What a seed created.
pub struct Seeded {
    pub contacts: usize,
    pub companies: usize,
    pub id_prefix: String,
    pub seconds: f64,
}

impl Seeded {
    /// Contacts written per second.
    #[allow(clippy::cast_precision_loss)] // a rate; exact to far more digits than shown
    pub fn rate(&self) -> f64 {
        (self.contacts as f64 / self.seconds).round()
    }
}

/// The id of seeded contact `n` under `prefix`.
pub fn contact_id(prefix: &str, n: u64) -> String {
    format!("{prefix}{n:012x}")
}

fn define(key: &str, kind: &str, options: Option<&[&str]>) -> NewDefinitionInput {
    NewDefinitionInput {
        entity: None,
        key: key.into(),
        label: key.replace('_', " "),
        description: None,
        kind: kind.into(),
        options: options.map(|o| o.iter().map(|s| (*s).to_owned()).collect()),
    }
}

/// Declares the seed's contact attributes when they are missing.
pub(super) async fn declare_attributes(db: &Db, ws: WorkspaceId) -> Result<(), ApiError> {
    let tx = db.begin().await?;
    let have = attributes::schema(&tx, ws, AttributeEntity::Contact).await?;
    for d in [
        define("tier", "enum", Some(&["bronze", "silver", "gold"])),
        define("lifetime_value", "number", None),
        define("newsletter_opt_in", "boolean", None),
        define("birthday", "date", None),
    ] {
        if have.get(&d.key).is_none() {
            attributes::insert(&tx, ws, &d.validate(rapport_store::now())?).await?;
        }
    }
    super::commit(tx).await
}

/// Creates `count` companies; returns their ids.
async fn seed_companies(db: &Db, who: &Caller, count: usize, rng: &mut Rng) -> Result<Vec<CompanyId>, ApiError> {
    let schema = attributes::schema(db.read(), who.workspace(), AttributeEntity::Company).await?;
    let tx = db.begin().await?;
    let now = rapport_store::now();
    let mut ids = Vec::with_capacity(count);
    let mut events = Vec::with_capacity(count);
    let mut all = Vec::with_capacity(count);
    let run = uuid::Uuid::now_v7().simple().to_string();
    for i in 0..count {
        let name = format!("{} {}", rng.pick(&WORDS), rng.pick(&INDUSTRIES));
        let input = CompanyInput {
            name: Patch::Set(name),
            domain: Patch::Set(format!("co{i}-{}.example", &run[..8])),
            industry: Patch::Set(rng.pick(&INDUSTRIES).to_owned()),
            size: Patch::Set(i64::try_from(10 + rng.below(5_000)).unwrap_or(10)),
            attributes: Patch::Absent,
        };
        let company = Company::create(CompanyId::new(), who.workspace(), input.validate(&schema, true)?, now);
        let dto = CompanyDto::from(&company);
        events.push(super::event(
            EventType::CompanyCreated,
            who,
            now,
            super::object(&dto),
            None,
        ));
        ids.push(company.id);
        all.push(company);
    }
    companies::insert_many(&tx, &all).await?;
    outbox::push(&tx, &events).await?;
    super::commit(tx).await?;
    Ok(ids)
}

fn contact_input(n: u64, rng: &mut Rng, companies: &[CompanyId]) -> ContactInput {
    let mut tags = Vec::new();
    for _ in 0..rng.below(3) {
        tags.push(rng.pick(&TAGS).to_owned());
    }
    let tier = ["bronze", "silver", "gold"][rng.below(3)];
    let attributes = json!({
        "tier": tier,
        "lifetime_value": rng.below(500_000) / 100,
        "newsletter_opt_in": rng.below(2) == 1,
        "birthday": format!("{}-{:02}-{:02}", 1950 + rng.below(55), 1 + rng.below(12), 1 + rng.below(28)),
    });
    let mut roll = rng.next() % 1000;
    let mut stage = Stage::Subscriber;
    for (s, weight) in STAGES {
        if roll < weight {
            stage = s;
            break;
        }
        roll -= weight;
    }
    let company = (rng.below(10) < 6 && !companies.is_empty()).then(|| companies[rng.below(companies.len())]);
    ContactInput {
        email: Patch::Set(format!("c{n}@seed.example")),
        phone: Patch::Set(format!("+4930{:07}", rng.below(10_000_000))),
        first_name: Patch::Set(rng.pick(&FIRST).to_owned()),
        last_name: Patch::Set(rng.pick(&LAST).to_owned()),
        locale: Patch::Set(["de-DE", "fr-FR", "en-GB", "en-US"][rng.below(4)].to_owned()),
        country: Patch::Set(rng.pick(&COUNTRIES).to_owned()),
        company_id: company.map_or(Patch::Absent, Patch::Set),
        external_ids: Patch::Set([("shop".to_owned(), Some(n.to_string()))].into()),
        tags: Patch::Set(tags),
        attributes: Patch::Set(attributes.as_object().cloned().unwrap_or_default()),
        lifecycle_stage: Patch::Set(stage),
        lead_score: Patch::Set(i64::try_from(rng.below(100)).unwrap_or(0)),
        owner_id: Patch::Absent,
        consents: Vec::new(),
    }
}

/// Seeds `contacts` contacts and `companies` companies into `ws`.
/// # Errors
/// When a write fails (e.g. the workspace was seeded before: seeded emails are taken).
pub async fn run(db: &Db, ws: WorkspaceId, contact_count: usize, company_count: usize) -> Result<Seeded, ApiError> {
    let started = Instant::now();
    let who = Caller::new(ws, ScopeSet::from_scopes([Scope::Admin]), Actor::system());
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    declare_attributes(db, ws).await?;
    let company_ids = seed_companies(db, &who, company_count, &mut rng).await?;
    let schema = attributes::schema(db.read(), ws, AttributeEntity::Contact).await?;
    // A UUIDv7 whose counter bits are the contact's number.
    let head = uuid::Uuid::now_v7().to_string();
    let id_prefix = format!("{}-7000-8000-", &head[..13]);
    // Chunks are generated in order (the generator is sequential) and written two at a
    // time, so PostgreSQL can use both cores while the next chunk is built.
    let chunks = (1..=contact_count).step_by(CHUNK).map(|start| {
        let end = (start + CHUNK - 1).min(contact_count);
        let now = rapport_store::now();
        let mut batch = Vec::with_capacity(CHUNK);
        let mut effects = Effects::default();
        for i in (start..=end).map(|i| i as u64) {
            let changes = contact_input(i, &mut rng, &company_ids).validate(&schema)?;
            let id: ContactId = contact_id(&id_prefix, i)
                .parse()
                .map_err(|e| ApiError::Internal(format!("seed id: {e}")))?;
            let contact = Contact::create(id, ws, changes, now)?;
            effects.created(&who, &contact, Cause::Import);
            batch.push(contact);
        }
        Ok::<_, ApiError>((batch, effects))
    });
    let mut writes = futures_util::stream::iter(chunks)
        .map(|chunk| async {
            let (batch, effects) = chunk?;
            let tx = db.begin().await?;
            contacts::insert_many(&tx, &batch).await?;
            effects.write(&tx, &who).await?;
            super::commit(tx).await
        })
        .buffer_unordered(2);
    while let Some(written) = writes.next().await {
        written?;
    }
    drop(writes);
    Ok(Seeded {
        contacts: contact_count,
        companies: company_count,
        id_prefix,
        seconds: started.elapsed().as_secs_f64(),
    })
}
