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
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use rapport_tests::receiver::Receiver;
use serde_json::{Value, json};
use sqlx::Connection;

fn env(name: &str, default: &str) -> String {
    std::env::var(name)
        .ok()
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| default.to_owned())
}

#[tokio::main]
async fn main() {
    let kind = env("BENCH_DB", "postgres");
    let events: usize = env("BENCH_EVENTS", "10000").parse().expect("BENCH_EVENTS");
    let dir = tempfile::tempdir().expect("temp dir");
    let (url, pg) = if kind == "sqlite" {
        (
            format!("sqlite://{}?mode=rwc", dir.path().join("bench.db").display()),
            None,
        )
    } else {
        let admin = env(
            "BENCH_POSTGRES_URL",
            &env("RAPPORT_TEST_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432/test"),
        );
        let name = format!("rapport_bench_wh_{}", chrono::Utc::now().format("%Y%m%d%H%M%S"));
        let mut c = sqlx::PgConnection::connect(&admin).await.expect("PostgreSQL reachable");
        sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE \"{name}\"")))
            .execute(&mut c)
            .await
            .expect("create database");
        let root = admin.split('?').next().unwrap_or(&admin).to_owned();
        let root = root[..root.rfind('/').unwrap_or(root.len())].to_owned();
        (format!("{root}/{name}?sslmode=disable"), Some((admin, name)))
    };

    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("port");
    let exe = std::env::current_exe().expect("own path").with_file_name("rapport");
    let mut child = Command::new(exe)
        .arg("serve")
        .current_dir(dir.path())
        .env("DATABASE_URL", &url)
        .env("RAPPORT_LISTEN", format!("127.0.0.1:{port}"))
        .env("RAPPORT_LOG", "warn")
        .env("RAPPORT_CONFIG", "")
        .env("RAPPORT_WEBHOOK_ALLOW_PRIVATE", "true")
        .env("RAPPORT_WEBHOOK_ALLOW_HTTP", "true")
        .stdout(Stdio::piped())
        .spawn()
        .expect("start rapport");
    let mut first = String::new();
    BufReader::new(child.stdout.take().expect("stdout"))
        .read_line(&mut first)
        .expect("bootstrap line");
    let boot: Value = serde_json::from_str(&first).expect("bootstrap JSON");
    let base = format!("http://127.0.0.1:{port}");
    let http = reqwest::Client::new();
    // The credentials are printed before the server listens: wait until it is ready.
    for _ in 0..300 {
        if http
            .get(format!("{base}/readyz"))
            .send()
            .await
            .is_ok_and(|r| r.status().is_success())
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let token: Value = http
        .post(format!("{base}/v1/auth/token"))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", boot["bootstrap"]["client_id"].as_str().unwrap()),
            ("client_secret", boot["bootstrap"]["client_secret"].as_str().unwrap()),
        ])
        .send()
        .await
        .expect("token")
        .json()
        .await
        .expect("token JSON");
    let token = token["access_token"].as_str().expect("access_token").to_owned();

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
    let _ = child.kill();
    let _ = child.wait();
    if let Some((admin, name)) = pg
        && let Ok(mut c) = sqlx::PgConnection::connect(&admin).await
    {
        let _ = sqlx::query(sqlx::AssertSqlSafe(format!(
            "DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"
        )))
        .execute(&mut c)
        .await;
    }
}
