//! `rapport-bench-imports`: bulk import and export throughput on PostgreSQL.
//!
//! 1. Import: `BENCH_IMPORT_CONTACTS` (200,000) new contacts (email, names, phone,
//!    country, locale, two tags, a typed attribute, an external id) as NDJSON through
//!    `POST /v1/imports` + `PUT …/file`; the time from the start of the upload until the
//!    job reports `completed`, and the job's own `started_at` → `finished_at`.
//! 2. The same file again (every row unchanged: the idempotent re-run).
//! 3. The same contacts as a mapped CSV file (updates: other names).
//!    Then the database's own ceiling for that import: PostgreSQL writes the same rows
//!    again into copies of the tables the import wrote (`rapport_tests::ceiling`), with
//!    no client; per table, in all, and the import's rate as a share of it.
//! 4. Export: `GET /v1/exports/contacts` of all of them as NDJSON and as CSV, read to
//!    the end; rows per second, and the server's resident memory before and after.
//!
//! Settings (environment): `BENCH_POSTGRES_URL` (default `RAPPORT_TEST_POSTGRES_URL`, else
//! `postgres://postgres@127.0.0.1:5432/test`), `BENCH_IMPORT_CONTACTS`.

#![allow(
    clippy::expect_used,
    clippy::unwrap_used,
    clippy::cast_precision_loss,
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss,
    clippy::too_many_lines,
    clippy::many_single_char_names,
    // Counting the lines of an export as it streams in; no dependency for that.
    clippy::naive_bytecount
)]

use std::fmt::Write as _;
use std::time::{Duration, Instant};

use rapport_tests::bench::{BenchDatabase, Rapport, env};
use rapport_tests::ceiling::{self, Counts};
use reqwest::Method;
use serde_json::{Value, json};
use sqlx::Connection;

const COUNTRIES: [&str; 5] = ["GB", "FR", "DE", "ES", "US"];
const LOCALES: [&str; 5] = ["en-GB", "fr-FR", "de-DE", "es-ES", "en-US"];
const TAGS: [&str; 3] = ["vip", "b2b", "newsletter"];
const TIERS: [&str; 3] = ["gold", "silver", "bronze"];

fn ndjson(n: usize, first: &str) -> String {
    let mut out = String::with_capacity(n * 260);
    for i in 0..n {
        let (country, locale, tag, tier) = (COUNTRIES[i % 5], LOCALES[i % 5], TAGS[i % 3], TIERS[i % 3]);
        let row = json!({
            "email": format!("buyer{i}@example.com"),
            "first_name": format!("{first}{}", i % 5003),
            "last_name": format!("Last{}", i % 7919),
            "phone": format!("+4420{:08}", i),
            "country": country,
            "locale": locale,
            "tags": ["import", tag],
            "attributes": {"tier": tier},
            "external_ids": {"shop": format!("S{i}")},
        });
        out.push_str(&row.to_string());
        out.push('\n');
    }
    out
}

fn csv(n: usize, first: &str) -> String {
    let mut out = String::with_capacity(n * 120);
    out.push_str("Email,First,Last,Phone,Country,Tags,Tier,Shop id\n");
    for i in 0..n {
        let _ = writeln!(
            out,
            "buyer{i}@example.com,{first}{},Last{},+4420{:08},{},import;{},{},S{i}",
            i % 5003,
            i % 7919,
            i,
            ["GB", "FR", "DE", "ES", "US"][i % 5],
            ["vip", "b2b", "newsletter"][i % 3],
            ["gold", "silver", "bronze"][i % 3],
        );
    }
    out
}

/// Runs one import to its end; the wall time from upload to completion and the import.
async fn import(r: &Rapport, token: &str, spec: Value, file: String) -> (f64, Value) {
    let (s, created) = r.send(Method::POST, "/v1/imports", token, Some(&spec)).await;
    assert_eq!(s, 201, "{created}");
    let id = created["id"].as_str().unwrap().to_owned();
    let t = Instant::now();
    let up = r
        .http
        .put(format!("{}/v1/imports/{id}/file", r.base))
        .bearer_auth(token)
        .body(file)
        .send()
        .await
        .unwrap();
    assert_eq!(up.status().as_u16(), 202);
    loop {
        let (_, i) = r.send(Method::GET, &format!("/v1/imports/{id}"), token, None).await;
        match i["status"].as_str() {
            Some("completed") => return (t.elapsed().as_secs_f64(), i),
            Some("queued" | "running") => tokio::time::sleep(Duration::from_millis(50)).await,
            _ => panic!("import ended badly: {i}"),
        }
    }
}

fn job_seconds(i: &Value) -> f64 {
    let at = |k: &str| i[k].as_str().unwrap().parse::<chrono::DateTime<chrono::Utc>>().unwrap();
    (at("finished_at") - at("started_at")).num_microseconds().unwrap() as f64 / 1e6
}

fn report(label: &str, n: usize, wall: f64, i: &Value) {
    let job = job_seconds(i);
    println!(
        "| {label} | {n} | {wall:.2} | {:.0} | {job:.2} | {:.0} | {} |",
        n as f64 / wall,
        n as f64 / job,
        i["rows"]
    );
}

async fn export(r: &Rapport, token: &str, format: &str) -> (usize, usize, f64) {
    let t = Instant::now();
    let resp = r
        .http
        .get(format!("{}/v1/exports/contacts?format={format}", r.base))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    let mut resp = resp;
    let (mut bytes, mut lines) = (0, 0);
    while let Some(chunk) = resp.chunk().await.unwrap() {
        bytes += chunk.len();
        lines += chunk.iter().filter(|b| **b == b'\n').count();
    }
    (bytes, lines, t.elapsed().as_secs_f64())
}

#[tokio::main]
async fn main() {
    let n: usize = env("BENCH_IMPORT_CONTACTS", "200000")
        .parse()
        .expect("BENCH_IMPORT_CONTACTS");
    let db = BenchDatabase::create("rapport_bench_imp").await;
    let r = Rapport::start(&db.url, &[]).await;
    let token = r.admin_token().await;
    let tier = json!({"key": "tier", "label": "Tier", "type": "enum", "options": ["gold", "silver", "bronze"]});
    let (s, b) = r
        .send(Method::POST, "/v1/attribute-definitions", &token, Some(&tier))
        .await;
    assert_eq!(s, 201, "{b}");
    println!("imports (postgres), {n} contacts; server RSS {:.0} MiB", r.rss_mib());
    println!("| import | rows | wall s | rows/s (wall) | job s | rows/s (job) | rows |");
    println!("|---|---:|---:|---:|---:|---:|---|");
    let mut pg = sqlx::PgConnection::connect(&db.url)
        .await
        .expect("PostgreSQL reachable");
    let before = Counts::read(&mut pg).await;
    let file = ndjson(n, "First");
    let (wall, i) = import(
        &r,
        &token,
        json!({"kind": "contacts", "format": "ndjson"}),
        file.clone(),
    )
    .await;
    assert_eq!(i["rows"]["created"], n, "{i}");
    report("NDJSON, new contacts", n, wall, &i);
    let new_contacts_job = job_seconds(&i);
    // Measured now, while the tables hold exactly what this import left, once the
    // server has numbered its events (so that the two do not share the machine).
    let mut unnumbered: i64 = 1;
    for _ in 0..600 {
        unnumbered = sqlx::query_scalar("SELECT count(*) FROM events WHERE position IS NULL")
            .fetch_one(&mut pg)
            .await
            .expect("count events");
        if unnumbered == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    if unnumbered > 0 {
        println!("({unnumbered} events still unnumbered after 60 s: the ceiling shares the machine with that work)");
    }
    let tables: Vec<String> = Counts::read(&mut pg)
        .await
        .grown_since(&before)
        .into_iter()
        .map(|(t, _)| t)
        .collect();
    let times = ceiling::rewrite(&mut pg, &tables).await;
    let (wall, i) = import(&r, &token, json!({"kind": "contacts", "format": "ndjson"}), file).await;
    assert_eq!(i["rows"]["unchanged"], n, "{i}");
    report("NDJSON, same file again", n, wall, &i);
    let mapping = json!({"Email": "email", "First": "first_name", "Last": "last_name", "Phone": "phone",
        "Country": "country", "Tags": "tags", "Tier": "attributes.tier", "Shop id": "external_ids.shop"});
    let spec = json!({"kind": "contacts", "format": "csv", "mapping": mapping});
    let (wall, i) = import(&r, &token, spec, csv(n, "Renamed")).await;
    assert_eq!(i["rows"]["updated"], n, "{i}");
    report("CSV, every contact changed", n, wall, &i);
    println!("server peak RSS after imports: {:.0} MiB", r.peak_rss_mib());

    println!();
    println!("database ceiling for the new-contact import: its rows written again by PostgreSQL alone");
    println!("| table | rows | s | rows/s |");
    println!("|---|---:|---:|---:|");
    for w in &times {
        let rate = if w.rows > 0 {
            format!("{:.0}", w.rows as f64 / w.secs)
        } else {
            "—".into()
        };
        println!("| {} | {} | {:.2} | {rate} |", w.table, w.rows, w.secs);
    }
    let total: f64 = times.iter().map(|w| w.secs).sum();
    println!(
        "all tables: {total:.2} s, {:.0} contacts/s; the import (job time) ran at {:.0} % of it",
        n as f64 / total,
        100.0 * total / new_contacts_job
    );

    println!();
    println!("| export | rows | MiB | s | rows/s | server RSS after, MiB |");
    println!("|---|---:|---:|---:|---:|---:|");
    for format in ["ndjson", "csv"] {
        let (bytes, lines, secs) = export(&r, &token, format).await;
        let rows = if format == "csv" { lines - 1 } else { lines };
        assert_eq!(rows, n, "{format}");
        println!(
            "| {format} | {rows} | {:.1} | {secs:.2} | {:.0} | {:.0} |",
            bytes as f64 / f64::from(1 << 20),
            rows as f64 / secs,
            r.rss_mib()
        );
    }
    println!("server peak RSS overall: {:.0} MiB", r.peak_rss_mib());
    pg.close().await.expect("close");
    drop(r);
    db.remove().await;
}
