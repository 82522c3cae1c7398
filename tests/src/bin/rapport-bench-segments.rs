//! `rapport-bench-segments`: the cost of segments on PostgreSQL.
//!
//! 1. Counting: `BENCH_CONTACTS` (1,000,000) contacts with realistic attributes, tags and
//!    consent are loaded into one workspace; a 5-condition rule (stage, lead score, an
//!    enum attribute, a tag, consent) is counted by Rapport's SQL compilation and by the
//!    best hand-written SQL for the same question. Prints the median of `BENCH_RUNS` (5)
//!    runs of each, their ratio, and checks both count the same contacts.
//! 2. Upkeep: in a second workspace of `BENCH_UPKEEP_CONTACTS` (10,000) contacts, the
//!    latency of `PATCH /v1/contacts/{id}` over loopback without dynamic segments, then
//!    with 100 dynamic segments whose memberships each PATCH re-decides. The difference is
//!    the cost of re-evaluating one contact against all 100 segments (each PATCH changes
//!    the lead score and tags the rules read, moving about 28 memberships). Last, PATCHes
//!    of a field no rule reads: the cost when nothing moves.
//!
//! Settings (environment): `BENCH_POSTGRES_URL` (default `RAPPORT_TEST_POSTGRES_URL`, else
//! `postgres://postgres@127.0.0.1:5432/test`), `BENCH_CONTACTS`, `BENCH_RUNS`,
//! `BENCH_UPKEEP_CONTACTS`.

#![allow(
    clippy::expect_used,
    clippy::unwrap_used,
    clippy::cast_precision_loss,
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss,
    clippy::too_many_lines,
    clippy::many_single_char_names
)]

use std::time::Instant;

use rapport_domain::WorkspaceId;
use rapport_domain::attributes::AttributeEntity;
use rapport_domain::segment::{Registry, Rule};
use rapport_store::segments::members;
use rapport_store::{Db, DbOptions, attributes, consent};
use rapport_tests::bench::{BenchDatabase, Rapport, env, median, pct};
use serde_json::{Value, json};
use sqlx::{Connection, Executor};

/// Loads `n` contacts into `ws` with SQL, in chunks: realistic spreads of stage, lead
/// score, tier, spend, tags (10 % vip) and email consent (80 % recorded).
async fn load(pg: &mut sqlx::PgConnection, ws: uuid::Uuid, n: i64) {
    let chunk = 100_000;
    let mut from = 1;
    while from <= n {
        let to = (from + chunk - 1).min(n);
        let contacts = format!(
            "INSERT INTO contacts (workspace_id, id, email, email_key, search_text, phone, first_name, last_name, \
               locale, country, company_id, external_ids, tags, attributes, lifecycle_stage, highest_stage, \
               stage_entered_at, lead_score, owner_id, version, created_at, updated_at, erased_at) \
             SELECT '{ws}', md5('c' || i)::uuid, 'user' || i || '@example.com', 'user' || i || '@example.com', \
               'first' || i, '+4420' || lpad(i::text, 8, '0'), 'First' || (i % 5003), 'Last' || (i % 7919), \
               (ARRAY['en-GB','fr-FR','de-DE','es-ES'])[1 + (hashtext('l' || i) & 2147483647) % 4], \
               (ARRAY['GB','FR','DE','ES','US'])[1 + (hashtext('c' || i) & 2147483647) % 5], NULL, '{{}}'::jsonb, \
               CASE WHEN (hashtext('v' || i) & 2147483647) % 10 = 0 THEN '[\"vip\"]'::jsonb \
                    WHEN (hashtext('b' || i) & 2147483647) % 7 = 0 THEN '[\"b2b\", \"newsletter\"]'::jsonb ELSE '[]'::jsonb END, \
               jsonb_build_object('tier', (ARRAY['gold','silver','bronze'])[1 + (hashtext('t' || i) & 2147483647) % 3], \
                                  'spend', ((hashtext('s' || i) & 2147483647) % 100000) / 100.0, \
                                  'newsletter', (hashtext('n' || i) & 2147483647) % 2 = 0), \
               s.stage, s.stage, '{{}}'::jsonb, (hashtext('score' || i) & 2147483647) % 100, NULL, 1, \
               now() - ((hashtext('d' || i) & 2147483647) % 730) * interval '1 day', now(), NULL \
             FROM generate_series({from}, {to}) AS i, \
               LATERAL (SELECT (ARRAY['subscriber','lead','qualified','opportunity','customer','repeat_customer', \
                                      'advocate','churned','disqualified'])[1 + (hashtext('g' || i) & 2147483647) % 9] AS stage) s"
        );
        pg.execute(sqlx::AssertSqlSafe(contacts)).await.expect("contacts");
        let tags = format!(
            "INSERT INTO contact_tags (workspace_id, tag, contact_id) \
             SELECT '{ws}', t.tag, c.id FROM contacts c, jsonb_array_elements_text(c.tags) AS t(tag) \
             WHERE c.workspace_id = '{ws}' AND c.id IN (SELECT md5('c' || i)::uuid FROM generate_series({from}, {to}) i)"
        );
        pg.execute(sqlx::AssertSqlSafe(tags)).await.expect("tags");
        let consent = format!(
            "INSERT INTO consent_states (workspace_id, contact_id, purpose, contact_point, event_id, status, \
               legal_basis, opt_in_level, source, since, expires_at) \
             SELECT '{ws}', md5('c' || i)::uuid, 'email_marketing', '', gen_random_uuid(), \
               (ARRAY['granted','granted','granted','withdrawn','denied'])[1 + (hashtext('k' || i) & 2147483647) % 5], \
               'consent', 'single', 'import', now() - interval '10 days', \
               CASE WHEN (hashtext('e' || i) & 2147483647) % 20 = 0 THEN now() - interval '1 day' END \
             FROM generate_series({from}, {to}) AS i WHERE (hashtext('r' || i) & 2147483647) % 5 <> 0"
        );
        pg.execute(sqlx::AssertSqlSafe(consent)).await.expect("consent");
        println!("  loaded {to} contacts");
        from = to + 1;
    }
    pg.execute("ANALYZE").await.expect("analyze");
}

const RULE: &str = r#"{"all": [
  {"field": "lifecycle_stage", "op": "in", "value": ["customer", "repeat_customer"]},
  {"field": "lead_score", "op": "gte", "value": 50},
  {"field": "attributes.tier", "op": "eq", "value": "gold"},
  {"field": "tags", "op": "contains", "value": "vip"},
  {"field": "consent.email_marketing", "op": "eq", "value": "granted"}
]}"#;

/// The same question written by hand: granted is the answer when an unexpired grant
/// applies and nothing stricter does (purpose-wide or for the contact's email).
fn hand_written(ws: uuid::Uuid) -> String {
    format!(
        "SELECT count(*) FROM contacts c \
         WHERE c.workspace_id = '{ws}' AND c.erased_at IS NULL \
           AND c.lifecycle_stage IN ('customer', 'repeat_customer') \
           AND c.lead_score >= 50 \
           AND c.attributes ->> 'tier' = 'gold' \
           AND EXISTS (SELECT 1 FROM contact_tags t WHERE t.workspace_id = c.workspace_id \
                       AND t.contact_id = c.id AND t.tag = 'vip') \
           AND EXISTS (SELECT 1 FROM consent_states s WHERE s.workspace_id = c.workspace_id \
                       AND s.contact_id = c.id AND s.purpose = 'email_marketing' \
                       AND (s.contact_point = '' OR s.contact_point = c.email_key) \
                       AND s.status = 'granted' AND (s.expires_at IS NULL OR s.expires_at > now())) \
           AND NOT EXISTS (SELECT 1 FROM consent_states s WHERE s.workspace_id = c.workspace_id \
                       AND s.contact_id = c.id AND s.purpose = 'email_marketing' \
                       AND (s.contact_point = '' OR s.contact_point = c.email_key) \
                       AND (s.status IN ('withdrawn', 'denied', 'pending_confirmation') \
                            OR (s.status = 'granted' AND s.expires_at <= now())))"
    )
}

async fn counting(url: &str, pg: &mut sqlx::PgConnection, ws: uuid::Uuid, n: i64, runs: usize) {
    let started = Instant::now();
    load(pg, ws, n).await;
    println!("  load took {:.1} s", started.elapsed().as_secs_f64());
    let db = Db::connect(url, &DbOptions::default()).await.expect("store");
    let w = WorkspaceId::from_uuid(ws);
    let registry = Registry::new(
        attributes::schema(db.read(), w, AttributeEntity::Contact)
            .await
            .unwrap(),
        attributes::schema(db.read(), w, AttributeEntity::Company)
            .await
            .unwrap(),
        consent::purposes(db.read(), w, true)
            .await
            .unwrap()
            .into_iter()
            .map(|p| (p.key, p.channel)),
    );
    let rule = Rule::parse(&serde_json::from_str(RULE).unwrap(), &registry).expect("rule");
    let sql = hand_written(ws);
    let mut ours = Vec::new();
    let mut theirs = Vec::new();
    let mut counts = (0, 0);
    for i in 0..=runs {
        let t = Instant::now();
        counts.0 = members::count_matching(db.read(), w, &rule, rapport_store::now())
            .await
            .unwrap();
        let a = t.elapsed().as_secs_f64() * 1000.0;
        let t = Instant::now();
        let (c,): (i64,) = sqlx::query_as(sqlx::AssertSqlSafe(sql.clone()))
            .fetch_one(&mut *pg)
            .await
            .unwrap();
        let b = t.elapsed().as_secs_f64() * 1000.0;
        counts.1 = c as u64;
        // The first run of each warms the cache.
        if i > 0 {
            ours.push(a);
            theirs.push(b);
        }
    }
    assert_eq!(
        counts.0, counts.1,
        "the compiled rule and the hand-written SQL disagree"
    );
    let (a, b) = (median(ours), median(theirs));
    println!("  5-condition rule over {n} contacts: {} match", counts.0);
    println!("  Rapport's compiled SQL   median {a:>8.1} ms ({runs} runs)");
    println!("  hand-written SQL         median {b:>8.1} ms ({runs} runs)");
    println!("  ratio                           {:>8.2}x", a / b);
    db.close().await;
}

fn rule_for(i: usize) -> Value {
    let stages = ["lead", "qualified", "customer", "repeat_customer", "churned"];
    let tiers = ["gold", "silver", "bronze"];
    let tags = ["vip", "b2b", "newsletter"];
    let mut conditions = vec![json!({"field": "lead_score", "op": "gte", "value": (i * 7) % 100})];
    if i % 2 == 0 {
        conditions.push(json!({"field": "lifecycle_stage", "op": "in", "value": [stages[i % 5], stages[(i + 2) % 5]]}));
    }
    if i % 3 == 0 {
        conditions.push(json!({"field": "attributes.tier", "op": "eq", "value": tiers[i % 3]}));
    }
    if i % 4 == 1 {
        conditions.push(json!({"field": "tags", "op": "contains", "value": tags[i % 3]}));
    }
    if i % 5 == 2 {
        conditions.push(json!({"field": "consent.email_marketing", "op": "eq", "value": "granted"}));
    }
    if i % 6 == 3 {
        conditions.push(json!({"field": "created_at", "op": "within_last", "value": "P30D"}));
    }
    if i % 7 == 4 {
        conditions.push(json!({"not": {"field": "email", "op": "ends_with", "value": "@example.org"}}));
    }
    if i % 2 == 1 {
        json!({"any": [{"all": conditions}, {"field": "tags", "op": "contains", "value": "vip"}]})
    } else {
        json!({"all": conditions})
    }
}

/// `rounds` PATCHes from round `from` on: later phases start where earlier ones ended, so
/// no PATCH repeats one that left nothing to change. With `moving`, each changes the lead
/// score and the tags the rules read; without, only the first name, which no rule reads.
async fn patch_latencies(
    r: &Rapport,
    token: &str,
    ids: &[String],
    from: usize,
    rounds: usize,
    moving: bool,
) -> Vec<f64> {
    let mut out = Vec::new();
    for i in from..from + rounds {
        let id = &ids[(i * 7919) % ids.len()];
        let body = if moving {
            json!({"lead_score": (i * 37) % 100, "tags": if i % 3 == 0 { json!(["vip"]) } else { json!(["b2b"]) }})
        } else {
            json!({"first_name": format!("Renamed {i}")})
        };
        let t = Instant::now();
        let (status, _) = r
            .send(
                reqwest::Method::PATCH,
                &format!("/v1/contacts/{id}"),
                token,
                Some(&body),
            )
            .await;
        out.push(t.elapsed().as_secs_f64() * 1000.0);
        assert_eq!(status, 200, "PATCH refused");
    }
    out
}

async fn upkeep(r: &Rapport, pg: &mut sqlx::PgConnection, n: usize) {
    let ws = r.cli(&["workspace", "create", "--name", "upkeep"]);
    let ws = ws["id"].as_str().unwrap().to_owned();
    let client = r.cli(&[
        "client",
        "create",
        "--name",
        "bench",
        "--scopes",
        "admin",
        "--workspace",
        &ws,
    ]);
    let token = r
        .token(
            client["client_id"].as_str().unwrap(),
            client["client_secret"].as_str().unwrap(),
        )
        .await;
    let (s, b) = r
        .send(
            reqwest::Method::POST,
            "/v1/attribute-definitions",
            &token,
            Some(&json!({"key": "tier", "label": "Tier", "type": "enum", "options": ["gold", "silver", "bronze"]})),
        )
        .await;
    assert_eq!(s, 201, "{b}");
    let mut ids = Vec::new();
    let stages = ["subscriber", "lead", "qualified", "customer", "repeat_customer"];
    for batch in 0..n.div_ceil(1000) {
        let items: Vec<Value> = (batch * 1000..((batch + 1) * 1000).min(n))
            .map(|i| {
                let tier = ["gold", "silver", "bronze"][i % 3];
                json!({
                    "email": format!("p{i}@example.com"),
                    "first_name": format!("P{i}"),
                    "lifecycle_stage": stages[i % 5],
                    "lead_score": (i * 31) % 100,
                    "tags": if i % 10 == 0 { json!(["vip"]) } else { json!([]) },
                    "attributes": {"tier": tier},
                    "consents": if i % 2 == 0 { json!([{"purpose": "email_marketing", "status": "granted", "source": "bench"}]) } else { json!([]) }
                })
            })
            .collect();
        let (s, b) = r
            .send(
                reqwest::Method::POST,
                "/v1/contacts/batch",
                &token,
                Some(&json!({"items": items})),
            )
            .await;
        assert_eq!(s, 200, "{b}");
        ids.extend(
            b["results"]
                .as_array()
                .unwrap()
                .iter()
                .map(|i| i["id"].as_str().expect("created").to_owned()),
        );
    }
    let rounds = 300;
    patch_latencies(r, &token, &ids, 0, 30, true).await;
    let without = patch_latencies(r, &token, &ids, 30, rounds, true).await;
    for i in 0..100 {
        let (s, b) = r
            .send(
                reqwest::Method::POST,
                "/v1/segments",
                &token,
                Some(&json!({"name": format!("segment {i}"), "rules": rule_for(i)})),
            )
            .await;
        assert_eq!(s, 201, "{b}");
    }
    let q = format!("SELECT count(*) FROM events WHERE workspace_id = '{ws}' AND type LIKE 'segment.%'");
    let (before,): (i64,) = sqlx::query_as(sqlx::AssertSqlSafe(q.clone()))
        .fetch_one(&mut *pg)
        .await
        .unwrap();
    patch_latencies(r, &token, &ids, 30 + rounds, 30, true).await;
    let with = patch_latencies(r, &token, &ids, 60 + rounds, rounds, true).await;
    let (after,): (i64,) = sqlx::query_as(sqlx::AssertSqlSafe(q.clone()))
        .fetch_one(&mut *pg)
        .await
        .unwrap();
    let moved = after - before;
    let still = patch_latencies(r, &token, &ids, 60 + 2 * rounds, rounds, false).await;
    let (last,): (i64,) = sqlx::query_as(sqlx::AssertSqlSafe(q))
        .fetch_one(&mut *pg)
        .await
        .unwrap();
    assert_eq!(last, after, "a first-name change moved a membership");
    println!("  PATCH /v1/contacts/{{id}} over loopback, {rounds} requests, workspace of {n} contacts:");
    println!(
        "    no dynamic segments      p50 {:>6.2} ms  p95 {:>6.2} ms",
        pct(&without, 50),
        pct(&without, 95)
    );
    println!(
        "    100 dynamic segments     p50 {:>6.2} ms  p95 {:>6.2} ms",
        pct(&with, 50),
        pct(&with, 95)
    );
    println!(
        "    re-evaluation cost       p50 {:>6.2} ms per contact change ({moved} segment entries and exits recorded, {:.1} per PATCH)",
        pct(&with, 50) - pct(&without, 50),
        moved as f64 / rounds as f64
    );
    println!(
        "    100 dynamic segments, a change no rule reads (nothing moves): p50 {:>6.2} ms  p95 {:>6.2} ms",
        pct(&still, 50),
        pct(&still, 95)
    );
}

#[tokio::main]
async fn main() {
    let n: i64 = env("BENCH_CONTACTS", "1000000").parse().expect("BENCH_CONTACTS");
    let runs: usize = env("BENCH_RUNS", "5").parse().expect("BENCH_RUNS");
    let upkeep_contacts: usize = env("BENCH_UPKEEP_CONTACTS", "10000")
        .parse()
        .expect("BENCH_UPKEEP_CONTACTS");
    let db = BenchDatabase::create("rapport_bench_seg").await;
    let url = db.url.clone();
    let rapport = Rapport::start(&url, &[]).await;
    let boot = rapport.boot.clone();
    let ws: uuid::Uuid = boot["bootstrap"]["workspace_id"].as_str().unwrap().parse().unwrap();
    let token = rapport.admin_token().await;
    let (s, b) = rapport
        .send(
            reqwest::Method::POST,
            "/v1/attribute-definitions",
            &token,
            Some(&json!({"key": "tier", "label": "Tier", "type": "enum", "options": ["gold", "silver", "bronze"]})),
        )
        .await;
    assert_eq!(s, 201, "{b}");
    let mut pg = sqlx::PgConnection::connect(&url).await.expect("bench database");
    println!("segments (postgres): counting");
    counting(&url, &mut pg, ws, n, runs).await;
    println!("segments (postgres): membership upkeep");
    upkeep(&rapport, &mut pg, upkeep_contacts).await;

    drop(rapport);
    drop(pg);
    db.remove().await;
}
