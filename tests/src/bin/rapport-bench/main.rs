//! `rapport-bench`: seeds a fresh database, starts `rapport serve` on it, drives each
//! operation at 1 and 32 connections over loopback, runs pgbench with the same
//! statements against the same database for the database's own limit, and prints one
//! table (also written to `target/bench/summary.json`).
//!
//! Settings (environment): `BENCH_DB` (`postgres` or `sqlite`), `BENCH_POSTGRES_URL`
//! (default `RAPPORT_TEST_POSTGRES_URL`, else `postgres://postgres@127.0.0.1:5432/test`),
//! `BENCH_CONTACTS` (100000), `BENCH_DURATION` (10 s), `BENCH_WARMUP` (3 s),
//! `BENCH_CONNECTIONS` (`1,32`), `BENCH_OPS` (comma-separated names; all by default).

#![allow(clippy::expect_used, clippy::unwrap_used, clippy::cast_precision_loss)]

mod http;
mod load;
mod ops;
mod sys;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use sqlx::Connection;

fn env(name: &str, default: &str) -> String {
    std::env::var(name)
        .ok()
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| default.to_owned())
}

fn binary() -> PathBuf {
    let exe = std::env::current_exe().expect("own path");
    exe.with_file_name(format!("rapport{}", std::env::consts::EXE_SUFFIX))
}

/// Runs a `rapport` command on the database; returns its JSON output.
fn rapport(url: &str, args: &[&str]) -> Value {
    let out = Command::new(binary())
        .args(args)
        .env("DATABASE_URL", url)
        .env("RAPPORT_LOG", "warn")
        .env("RAPPORT_CONFIG", "")
        .output()
        .expect("run rapport");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "rapport {args:?} failed: {text} {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_str(text.trim()).expect("JSON output")
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("port")
}

/// Starts `rapport serve`; returns the process (the caller stops it), its base URL and
/// the time to ready.
#[allow(clippy::zombie_processes)]
async fn start(url: &str, bootstrap: bool) -> (Child, String, Duration) {
    let port = free_port();
    let started = Instant::now();
    let child = Command::new(binary())
        .arg("serve")
        .env("DATABASE_URL", url)
        .env("RAPPORT_LISTEN", format!("127.0.0.1:{port}"))
        .env("RAPPORT_LOG", "warn")
        .env("RAPPORT_CONFIG", "")
        .env("RAPPORT_BOOTSTRAP", bootstrap.to_string())
        .stdout(Stdio::null())
        .spawn()
        .expect("start rapport");
    let base = format!("http://127.0.0.1:{port}");
    let http = reqwest::Client::new();
    loop {
        if let Ok(r) = http.get(format!("{base}/readyz")).send().await
            && r.status().is_success()
        {
            return (child, base, started.elapsed());
        }
        assert!(started.elapsed() < Duration::from_secs(30), "server not ready");
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
}

fn stop(mut child: Child) {
    let _ = Command::new("kill").arg("-TERM").arg(child.id().to_string()).status();
    let _ = child.wait();
}

/// A fresh database: (url, the admin url and name to drop it by, a scratch dir).
async fn fresh_database(kind: &str, dir: &Path) -> (String, Option<(String, String)>) {
    if kind == "sqlite" {
        return (format!("sqlite://{}?mode=rwc", dir.join("bench.db").display()), None);
    }
    let admin = env(
        "BENCH_POSTGRES_URL",
        &env("RAPPORT_TEST_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432/test"),
    );
    let name = format!("rapport_bench_{}", chrono::Utc::now().format("%Y%m%d%H%M%S"));
    let mut c = sqlx::PgConnection::connect(&admin).await.expect("PostgreSQL reachable");
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE \"{name}\"")))
        .execute(&mut c)
        .await
        .expect("create");
    let root = admin.split('?').next().unwrap_or(&admin);
    let root = &root[..root.rfind('/').unwrap_or(root.len())];
    // Plain TCP on loopback for both Rapport and pgbench: encryption would only measure
    // the two TLS stacks.
    (format!("{root}/{name}?sslmode=disable"), Some((admin, name)))
}

async fn drop_database(admin: &str, name: &str) {
    if let Ok(mut c) = sqlx::PgConnection::connect(admin).await {
        let _ = sqlx::query(sqlx::AssertSqlSafe(format!(
            "DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"
        )))
        .execute(&mut c)
        .await;
    }
}

struct Row {
    op: &'static str,
    connections: usize,
    stats: load::Stats,
    items: u64,
    cpu_per_1k: f64,
    pgbench: Option<f64>,
}

fn print_row(r: &Row) {
    let rps = r.stats.per_second();
    let records = if r.items > 1 {
        format!("{:>9.0}", rps * r.items as f64)
    } else {
        format!("{:>9}", "")
    };
    let (pg, ratio) = match r.pgbench {
        Some(tps) => (format!("{tps:>10.0}"), format!("{:>6.0}%", 100.0 * rps / tps)),
        None => (format!("{:>10}", "—"), format!("{:>7}", "—")),
    };
    println!(
        "{:<24} {:>5} {:>9.0} {records} {:>7.2} {:>7.2} {:>7.2} {:>8.2} {:>6} {:>8.2} {pg} {ratio}",
        r.op,
        r.connections,
        rps,
        r.stats.quantile_ms(0.50),
        r.stats.quantile_ms(0.90),
        r.stats.quantile_ms(0.99),
        r.stats.quantile_ms(1.0),
        r.stats.errors,
        r.cpu_per_1k,
    );
    if let Some(e) = &r.stats.first_error {
        println!("    first error: {e}");
    }
}

/// Writes `target/bench/summary.json`, so two runs can be compared.
#[allow(clippy::too_many_arguments)]
fn write_summary(
    kind: &str,
    contacts: u64,
    seeded: &Value,
    duration: Duration,
    warmup: Duration,
    (idle_rss, peak_rss): (f64, f64),
    (ready, fresh_ready): (Duration, Duration),
    rows: &[Row],
) {
    let summary = json!({
        "date": chrono::Utc::now().to_rfc3339(),
        "database": kind,
        "contacts": contacts,
        "seed_seconds": seeded["seconds"],
        "seed_contacts_per_second": seeded["contacts_per_second"],
        "duration_seconds": duration.as_secs(),
        "warmup_seconds": warmup.as_secs(),
        "cores": std::thread::available_parallelism().map_or(0, std::num::NonZero::get),
        "idle_rss_mib": idle_rss,
        "peak_rss_mib": peak_rss,
        "ready_ms": ready.as_secs_f64() * 1000.0,
        "fresh_sqlite_ready_ms": fresh_ready.as_secs_f64() * 1000.0,
        "operations": rows.iter().map(|r| json!({
            "operation": r.op,
            "connections": r.connections,
            "requests_per_second": r.stats.per_second(),
            "records_per_second": r.stats.per_second() * r.items as f64,
            "p50_ms": r.stats.quantile_ms(0.5),
            "p90_ms": r.stats.quantile_ms(0.9),
            "p99_ms": r.stats.quantile_ms(0.99),
            "max_ms": r.stats.quantile_ms(1.0),
            "errors": r.stats.errors,
            "cpu_seconds_per_1000": r.cpu_per_1k,
            "pgbench_tps": r.pgbench,
            "ratio": r.pgbench.map(|t| r.stats.per_second() / t),
        })).collect::<Vec<_>>(),
    });
    let out = Path::new("target").join("bench");
    let _ = std::fs::create_dir_all(&out);
    let path = out.join("summary.json");
    if std::fs::write(&path, serde_json::to_string_pretty(&summary).unwrap_or_default()).is_ok() {
        println!("summary: {}", path.display());
    }
}

async fn access_token(base: &str, data: &ops::Data) -> String {
    let token: Value = reqwest::Client::new()
        .post(format!("{base}/v1/auth/token"))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", &data.client_id),
            ("client_secret", &data.client_secret),
        ])
        .send()
        .await
        .expect("token")
        .json()
        .await
        .expect("token json");
    token["access_token"].as_str().expect("access_token").to_owned()
}

fn print_header() {
    println!(
        "{:<24} {:>5} {:>9} {:>9} {:>7} {:>7} {:>7} {:>8} {:>6} {:>8} {:>10} {:>7}",
        "operation",
        "conns",
        "req/s",
        "records/s",
        "p50 ms",
        "p90 ms",
        "p99 ms",
        "max ms",
        "errors",
        "cpu s/1k",
        "pgbench/s",
        "ratio"
    );
}

/// What every measurement shares.
struct Run {
    base: String,
    token: String,
    pid: u32,
    url: String,
    kind: String,
    warmup: Duration,
    duration: Duration,
    scratch: PathBuf,
}

/// Measures one operation at one connection count, then pgbench's limit for it.
/// Leaves PostgreSQL as pgbench would find it: the previous run's dead rows vacuumed,
/// statistics fresh and its WAL checkpointed, so no run pays for the one before.
async fn settle(run: &Run) {
    if run.kind != "postgres" {
        return;
    }
    let mut c = sqlx::PgConnection::connect(&run.url)
        .await
        .expect("PostgreSQL reachable");
    for statement in ["VACUUM ANALYZE", "CHECKPOINT"] {
        sqlx::raw_sql(statement).execute(&mut c).await.expect(statement);
    }
}

async fn measure(run: &Run, op: &ops::Op, c: usize, salt: u64) -> Row {
    settle(run).await;
    let token = if op.name == "token" { "" } else { run.token.as_str() };
    let addr = run.base.trim_start_matches("http://");
    let _ = load::run(addr, token, &op.make, c, run.warmup, salt).await;
    let cpu0 = sys::cpu_seconds(run.pid);
    let stats = load::run(addr, token, &op.make, c, run.duration, salt + 1_000_000).await;
    let cpu = sys::cpu_seconds(run.pid) - cpu0;
    let cpu_per_1k = if stats.requests > 0 {
        cpu * 1000.0 / stats.requests as f64
    } else {
        0.0
    };
    let pgbench = match (&op.pgbench, run.kind.as_str()) {
        (Some(script), "postgres") => sys::pgbench(&run.url, script, c, run.duration.as_secs(), &run.scratch)
            .map_err(|e| eprintln!("{}: {e}", op.name))
            .ok(),
        _ => None,
    };
    Row {
        op: op.name,
        connections: c,
        stats,
        items: op.items,
        cpu_per_1k,
        pgbench,
    }
}

#[tokio::main]
async fn main() {
    let kind = env("BENCH_DB", "postgres");
    let contacts: u64 = env("BENCH_CONTACTS", "100000").parse().expect("BENCH_CONTACTS");
    let duration = Duration::from_secs(env("BENCH_DURATION", "10").parse().expect("BENCH_DURATION"));
    let warmup = Duration::from_secs(env("BENCH_WARMUP", "3").parse().expect("BENCH_WARMUP"));
    let connections: Vec<usize> = env("BENCH_CONNECTIONS", "1,32")
        .split(',')
        .map(|c| c.trim().parse().expect("BENCH_CONNECTIONS"))
        .collect();
    let only = env("BENCH_OPS", "");
    let scratch = tempfile::tempdir().expect("temp dir");

    let (url, drop_by) = fresh_database(&kind, scratch.path()).await;
    rapport(&url, &["migrate"]);
    let seeded = rapport(&url, &["seed", "--contacts", &contacts.to_string()]);
    let ws = seeded["workspace_id"].as_str().expect("workspace").to_owned();
    let client = rapport(
        &url,
        &[
            "client",
            "create",
            "--workspace",
            &ws,
            "--name",
            "bench",
            "--scopes",
            "admin",
        ],
    );
    let data = ops::Data {
        workspace: ws.clone(),
        id_prefix: seeded["id_prefix"].as_str().expect("id_prefix").to_owned(),
        contacts,
        client_id: client["client_id"].as_str().expect("client_id").to_owned(),
        client_secret: client["client_secret"].as_str().expect("secret").to_owned(),
    };

    let (server, base, ready) = start(&url, false).await;
    let pid = server.id();
    tokio::time::sleep(Duration::from_secs(1)).await;
    let (idle_rss, _) = sys::memory_mib(pid);
    let token = access_token(&base, &data).await;
    println!(
        "Rapport benchmark: {kind}, {contacts} contacts seeded in {:.1} s ({} contacts/s), {} s per run after {} s warm-up, {} cores",
        seeded["seconds"].as_f64().unwrap_or(0.0),
        seeded["contacts_per_second"],
        duration.as_secs(),
        warmup.as_secs(),
        std::thread::available_parallelism().map_or(0, std::num::NonZero::get),
    );
    print_header();
    let mut rows = Vec::new();
    // Every run gets its own random streams, so creates never repeat an earlier email.
    let mut salt = 0u64;
    let run = Run {
        base: base.clone(),
        token: token.clone(),
        pid,
        url: url.clone(),
        kind: kind.clone(),
        warmup,
        duration,
        scratch: scratch.path().to_path_buf(),
    };
    for op in ops::all(&data) {
        if !only.is_empty() && !only.split(',').any(|o| op.name.contains(o.trim())) {
            continue;
        }
        for &c in &connections {
            salt += 2_000_000;
            let row = measure(&run, &op, c, salt).await;
            print_row(&row);
            rows.push(row);
        }
    }
    let (_, peak_rss) = sys::memory_mib(pid);
    stop(server);

    // Start-up time on a fresh embedded database as well (migrations and bootstrap included).
    let sqlite_url = format!("sqlite://{}?mode=rwc", scratch.path().join("startup.db").display());
    let (fresh, _, fresh_ready) = start(&sqlite_url, true).await;
    stop(fresh);

    println!("server RSS: idle {idle_rss:.1} MiB, peak {peak_rss:.1} MiB");
    println!(
        "start to /readyz: {:.0} ms on {kind} (seeded), {:.0} ms on a new SQLite file",
        ready.as_secs_f64() * 1000.0,
        fresh_ready.as_secs_f64() * 1000.0
    );

    write_summary(
        &kind,
        contacts,
        &seeded,
        duration,
        warmup,
        (idle_rss, peak_rss),
        (ready, fresh_ready),
        &rows,
    );
    if let Some((admin, name)) = drop_by {
        drop_database(&admin, &name).await;
    }
}
