//! `rapport-bench-webhooks`: webhook delivery throughput from commit to receiver
//! acknowledgement. Starts `rapport serve` (release build) on a fresh database, a local
//! receiver answering 200 at once, one endpoint subscribed to `contact.*`, then writes
//! `BENCH_EVENTS` contacts in batches of 1000 and waits until every event was received.
//! Prints events/s (first commit to last acknowledgement) and the commit-to-receipt
//! latency (median and p99, from each event's `occurred_at`).
//!
//! Settings (environment): `BENCH_DB` (`postgres` or `sqlite`), `BENCH_POSTGRES_URL`
//! (default `RAPPORT_TEST_POSTGRES_URL`, else `postgres://postgres@127.0.0.1:5432/test`),
//! `BENCH_EVENTS` (10000).

#![allow(
    clippy::expect_used,
    clippy::unwrap_used,
    clippy::cast_precision_loss,
    clippy::too_many_lines
)]

use std::collections::HashSet;
use std::time::{Duration, Instant};

use rapport_tests::bench::{BenchDatabase, Rapport, env};
use rapport_tests::receiver::Receiver;
use serde_json::{Value, json};

#[tokio::main]
async fn main() {
    let kind = env("BENCH_DB", "postgres");
    let events: usize = env("BENCH_EVENTS", "10000").parse().expect("BENCH_EVENTS");
    let dir = tempfile::tempdir().expect("temp dir");
    let db = if kind == "sqlite" {
        None
    } else {
        Some(BenchDatabase::create("rapport_bench_wh").await)
    };
    let url = db.as_ref().map_or_else(
        || format!("sqlite://{}?mode=rwc", dir.path().join("bench.db").display()),
        |d| d.url.clone(),
    );
    let server = Rapport::start(
        &url,
        &[
            ("RAPPORT_WEBHOOK_ALLOW_PRIVATE", "true"),
            ("RAPPORT_WEBHOOK_ALLOW_HTTP", "true"),
        ],
    )
    .await;
    let (base, http) = (server.base.clone(), server.http.clone());
    let token = server.admin_token().await;

    let rx = Receiver::start().await;
    let endpoint = json!({"url": rx.url("/bench"), "event_types": ["contact.*"]});
    let r = http
        .post(format!("{base}/v1/webhooks"))
        .bearer_auth(&token)
        .json(&endpoint)
        .send()
        .await
        .expect("endpoint");
    assert_eq!(r.status(), 201, "endpoint refused");

    let started = Instant::now();
    let mut n = 0;
    while n < events {
        let items: Vec<Value> = (n..(n + 1000).min(events))
            .map(|i| json!({"email": format!("bench{i}@example.com")}))
            .collect();
        n += items.len();
        let r = http
            .post(format!("{base}/v1/contacts/batch"))
            .bearer_auth(&token)
            .header("prefer", "return=minimal")
            .json(&json!({ "items": items }))
            .send()
            .await
            .expect("batch");
        assert_eq!(r.status(), 200, "batch refused");
    }
    let written = started.elapsed();
    let got = rx.wait_for(events, Duration::from_secs(600)).await;
    let done = started.elapsed();
    let ids: HashSet<&str> = got.iter().map(rapport_tests::receiver::Received::id).collect();
    let mut latency: Vec<f64> = got
        .iter()
        .filter_map(|r| {
            let occurred: chrono::DateTime<chrono::Utc> = r.json()["occurred_at"].as_str()?.parse().ok()?;
            Some((r.received_at - occurred).num_microseconds()? as f64 / 1000.0)
        })
        .collect();
    latency.sort_by(f64::total_cmp);
    let pct = |p: usize| latency[(latency.len() - 1) * p / 100];
    println!("webhook delivery ({kind}): {events} contact.created events to one endpoint");
    println!(
        "  written in            {:>8.2} s ({:.0} events/s)",
        written.as_secs_f64(),
        events as f64 / written.as_secs_f64()
    );
    println!("  all acknowledged in   {:>8.2} s", done.as_secs_f64());
    println!(
        "  delivery throughput   {:>8.0} events/s (first commit to last acknowledgement)",
        events as f64 / done.as_secs_f64()
    );
    println!("  commit to receipt     p50 {:.0} ms, p99 {:.0} ms", pct(50), pct(99));
    println!("  distinct webhook-ids  {} of {} requests", ids.len(), got.len());
    drop(server);
    if let Some(db) = db {
        db.remove().await;
    }
}
