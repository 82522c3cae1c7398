//! The demo's people: who they are, when and how they found the shop, what they bought
//! (see `shop`), what they decided about marketing, and the tags and attributes a shop
//! would keep about them.

use std::collections::{BTreeMap, HashSet};

use chrono::{DateTime, Datelike, TimeDelta, Utc};
use fastrand::Rng;
use rapport_domain::CompanyId;
use rapport_domain::consent::{Proof, RecordInput};
use rapport_domain::contact::ContactInput;
use rapport_domain::lifecycle::Stage;
use rapport_domain::patch::Patch;
use serde_json::{Map, Value, json};

use super::shop::{self, Order};
use super::world::{CompanyPlan, Country, any_country, ascii};
use super::{percent, weighted};

/// Two years, in seconds: how far back the shop's history goes.
const HISTORY: i64 = 730 * 86_400;
/// Private addresses live under reserved domains: no demo email ever reaches anyone.
const MAIL_DOMAINS: [&str; 5] = [
    "example.com",
    "example.net",
    "example.org",
    "mail.example",
    "post.example",
];

/// A contact to create, with its history.
pub(super) struct Person {
    pub first: &'static str,
    pub last: &'static str,
    pub email: String,
    pub phone: Option<String>,
    pub country: &'static Country,
    /// An index into the planned companies.
    pub company: Option<usize>,
    /// The stage before any purchase: purchases move it on.
    pub stage: Stage,
    pub lead_score: i64,
    pub tags: Vec<&'static str>,
    pub attributes: Map<String, Value>,
    pub consents: Vec<RecordInput>,
    pub orders: Vec<Order>,
    /// Joins the ambassador programme once the orders are in (moved to `advocate`).
    pub advocate: bool,
}

/// A person; about one in six works for one of `companies` and writes from its domain.
/// `emails` holds the addresses already taken.
pub(super) fn person(
    rng: &mut Rng,
    companies: &[CompanyPlan],
    emails: &mut HashSet<String>,
    now: DateTime<Utc>,
) -> Person {
    let company = (!companies.is_empty() && percent(rng, 18)).then(|| rng.usize(..companies.len()));
    let work = company.map(|c| &companies[c]);
    let country = match work {
        Some(c) if percent(rng, 80) => c.country,
        _ => any_country(rng),
    };
    let first = country.first_name(rng);
    let last = country.last_name(rng);
    let email = email(rng, first, last, work.map(|c| c.domain.as_str()), emails);
    let phone = percent(rng, 80).then(|| country.phone(rng));
    // When they found the shop: more people lately, as the shop grows.
    let joined = now - TimeDelta::seconds(rng.i64(0..HISTORY).min(rng.i64(0..HISTORY)));
    let b2b = company.is_some();
    let buys = percent(rng, if b2b { 45 } else { 58 });
    let (stage, orders) = if buys {
        let first_order = (joined + TimeDelta::seconds(rng.i64(0..10 * 86_400))).min(now);
        let orders = shop::history(rng, first_order, now, country.vat, b2b);
        (weighted(rng, &[(Stage::Subscriber, 30), (Stage::Lead, 70)]), orders)
    } else if b2b {
        use Stage::{Disqualified, Lead, Opportunity, Qualified};
        let stage = weighted(
            rng,
            &[(Lead, 25), (Qualified, 30), (Opportunity, 25), (Disqualified, 20)],
        );
        (stage, Vec::new())
    } else {
        (weighted(rng, &[(Stage::Subscriber, 60), (Stage::Lead, 40)]), Vec::new())
    };
    let lead_score = match (buys, stage) {
        (true, _) => rng.i64(30..=70),
        (false, Stage::Subscriber) => rng.i64(0..=15),
        (false, Stage::Qualified) => rng.i64(50..=75),
        (false, Stage::Opportunity) => rng.i64(70..=95),
        (false, Stage::Disqualified) => rng.i64(0..=20),
        (false, _) => rng.i64(10..=45),
    };
    let checkout = orders.first().map(|o| o.placed_at);
    let consents = consents(rng, stage == Stage::Subscriber, checkout, joined, now, phone.is_some());
    let mut p = Person {
        first,
        last,
        email,
        phone,
        country,
        company,
        stage,
        lead_score,
        tags: Vec::new(),
        attributes: Map::new(),
        consents,
        orders,
        advocate: false,
    };
    p.describe(rng, now);
    p
}

/// A unique address: at the employer's domain for business contacts, else at one of
/// the reserved mail domains.
fn email(rng: &mut Rng, first: &str, last: &str, work: Option<&str>, taken: &mut HashSet<String>) -> String {
    let (f, l) = (ascii(first), ascii(last));
    let (local, domain) = match work {
        Some(domain) => (format!("{f}.{l}"), domain),
        None => {
            let domain = MAIL_DOMAINS[rng.usize(..MAIL_DOMAINS.len())];
            let local = match rng.u8(..4) {
                0 => format!("{f}.{l}"),
                1 => format!("{f}{l}{}", rng.u8(60..100)),
                2 => format!("{}{l}", f.chars().next().unwrap_or('x')),
                _ => format!("{f}_{l}"),
            };
            (local, domain)
        }
    };
    let mut address = format!("{local}@{domain}");
    let mut n = 1;
    while !taken.insert(address.clone()) {
        n += 1;
        address = format!("{local}{n}@{domain}");
    }
    address
}

/// One decision as the shop records it: grants are confirmed (double opt-in done),
/// with the form, the policy version shown and a documentation-range IP as proof.
fn decision(rng: &mut Rng, purpose: &str, status: &str, source: &str, form: &str, at: DateTime<Utc>) -> RecordInput {
    RecordInput {
        purpose: purpose.to_owned(),
        status: status.to_owned(),
        opt_in_level: (status == "granted").then(|| "confirmed".to_owned()),
        source: Some(source.to_owned()),
        captured_at: Some(at),
        proof: Proof {
            ip: Some(format!("203.0.113.{}", rng.u8(1..255))),
            policy_version: Some(format!("privacy-{}", at.year())),
            form: Some(form.to_owned()),
            ..Proof::default()
        },
        ..RecordInput::default()
    }
}

/// Marketing decisions: subscribers signed up through the newsletter form; buyers
/// answered the checkout box (or left it); others answered a download form, or never
/// did. Some grants are withdrawn later; some buyers also allow text messages.
fn consents(
    rng: &mut Rng,
    subscribed: bool,
    checkout: Option<DateTime<Utc>>,
    joined: DateTime<Utc>,
    now: DateTime<Utc>,
    has_phone: bool,
) -> Vec<RecordInput> {
    let mut out = Vec::new();
    let email = if subscribed {
        Some(("granted", "form", "newsletter-signup", joined))
    } else if let Some(at) = checkout {
        weighted(rng, &[(Some("granted"), 55), (Some("denied"), 30), (None, 15)])
            .map(|s| (s, "checkout", "checkout", at))
    } else {
        weighted(rng, &[(Some("granted"), 35), (Some("denied"), 15), (None, 50)])
            .map(|s| (s, "form", "brewing-guide", joined))
    };
    if let Some((status, source, form, at)) = email {
        out.push(decision(rng, "email_marketing", status, source, form, at));
        let open = (now - at).num_seconds();
        if status == "granted" && open > 86_400 && percent(rng, 12) {
            let later = at + TimeDelta::seconds(rng.i64(3_600..open));
            let (source, form) = weighted(
                rng,
                &[
                    (("unsubscribe-link", "newsletter-footer"), 70),
                    (("preference-center", "account-settings"), 30),
                ],
            );
            out.push(decision(rng, "email_marketing", "withdrawn", source, form, later));
        }
    }
    if let Some(at) = checkout
        && has_phone
        && percent(rng, 12)
    {
        out.push(decision(rng, "sms_marketing", "granted", "checkout", "checkout", at));
    }
    out
}

impl Person {
    /// The contact as the shop would send it, number `n` of the demo (its external id),
    /// with its consent decisions.
    pub fn input(&self, n: usize, companies: &[CompanyId]) -> ContactInput {
        ContactInput {
            email: Patch::Set(self.email.clone()),
            phone: self.phone.clone().map_or(Patch::Absent, Patch::Set),
            first_name: Patch::Set(self.first.to_owned()),
            last_name: Patch::Set(self.last.to_owned()),
            locale: Patch::Set(self.country.locale.to_owned()),
            country: Patch::Set(self.country.code.to_owned()),
            company_id: self
                .company
                .and_then(|c| companies.get(c).copied())
                .map_or(Patch::Absent, Patch::Set),
            external_ids: Patch::Set(BTreeMap::from([(shop::SOURCE.to_owned(), Some(n.to_string()))])),
            tags: Patch::Set(self.tags.iter().map(|t| (*t).to_owned()).collect()),
            attributes: Patch::Set(self.attributes.clone()),
            lifecycle_stage: Patch::Set(self.stage),
            lead_score: Patch::Set(self.lead_score),
            owner_id: Patch::Absent,
            consents: self.consents.clone(),
        }
    }

    /// Whether the person's latest email marketing decision is a grant.
    pub fn newsletter(&self) -> bool {
        self.consents
            .iter()
            .rfind(|c| c.purpose == "email_marketing")
            .is_some_and(|c| c.status == "granted")
    }

    /// Tags and the seed's typed attributes, from what the person did.
    fn describe(&mut self, rng: &mut Rng, now: DateTime<Utc>) {
        let spent: i64 = self.orders.iter().map(Order::net).sum();
        let counting: Vec<&Order> = self.orders.iter().filter(|o| o.status.counts()).collect();
        let bought = |sku: &str| self.orders.iter().any(|o| o.lines.iter().any(|(p, _)| p.sku == sku));
        let mut tags = Vec::new();
        if self.newsletter() {
            tags.push("newsletter");
        }
        if bought(shop::CLUB_SKU) {
            tags.push("coffee-club");
        }
        if bought(shop::GIFT_SKU) {
            tags.push("gift-buyer");
        }
        if self.company.is_some() {
            tags.push("b2b");
            if self.orders.is_empty() {
                if percent(rng, 35) {
                    tags.push("trade-fair");
                }
            } else {
                tags.push("wholesale");
            }
        }
        if spent >= 100_000 {
            tags.push("vip");
        }
        let recent = counting
            .last()
            .is_some_and(|o| o.placed_at > now - TimeDelta::days(120));
        self.advocate = counting.len() >= 6 && recent && percent(rng, 35);
        if self.advocate {
            tags.push("ambassador");
        }
        self.tags = tags;
        let mut a = Map::new();
        if spent > 0 {
            let tier = match spent {
                60_000.. => "gold",
                20_000.. => "silver",
                _ => "bronze",
            };
            a.insert("tier".into(), json!(tier));
            a.insert(
                "lifetime_value".into(),
                json!(f64::from(i32::try_from(spent).unwrap_or(i32::MAX)) / 100.0),
            );
        }
        if self.consents.iter().any(|c| c.purpose == "email_marketing") {
            a.insert("newsletter_opt_in".into(), json!(self.newsletter()));
        }
        if percent(rng, 50) {
            let birthday = format!("{}-{:02}-{:02}", rng.i32(1950..2006), rng.u8(1..=12), rng.u8(1..=28));
            a.insert("birthday".into(), json!(birthday));
        }
        self.attributes = a;
    }
}
