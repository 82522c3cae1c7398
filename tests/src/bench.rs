//! What the benchmark binaries share: a fresh PostgreSQL database, the release server
//! started on it (it bootstraps a workspace and an admin client), tokens, and figures.

#![allow(clippy::expect_used, clippy::unwrap_used, clippy::missing_panics_doc)]

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::Value;
use sqlx::{Connection, Executor};

/// An environment setting, or its default.
pub fn env(name: &str, default: &str) -> String {
    std::env::var(name)
        .ok()
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| default.to_owned())
}

/// The median of some measurements.
pub fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// The `p`th percentile of some measurements.
pub fn pct(v: &[f64], p: usize) -> f64 {
    let mut v = v.to_vec();
    v.sort_by(f64::total_cmp);
    v[(v.len() - 1) * p / 100]
}

/// The database a benchmark runs on: a new PostgreSQL database, dropped by [`Self::remove`].
pub struct BenchDatabase {
    pub url: String,
    /// The server's URL and the database's name, to drop it afterwards.
    admin: String,
    name: String,
}

impl BenchDatabase {
    /// Creates a database named `{prefix}_{timestamp}` on the benchmark's PostgreSQL
    /// (`BENCH_POSTGRES_URL`, else `RAPPORT_TEST_POSTGRES_URL`, else the local one).
    pub async fn create(prefix: &str) -> Self {
        let admin = env(
            "BENCH_POSTGRES_URL",
            &env("RAPPORT_TEST_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432/test"),
        );
        let name = format!("{prefix}_{}", chrono::Utc::now().format("%Y%m%d%H%M%S"));
        let mut c = sqlx::PgConnection::connect(&admin).await.expect("PostgreSQL reachable");
        c.execute(sqlx::AssertSqlSafe(format!("CREATE DATABASE \"{name}\"")))
            .await
            .expect("create database");
        let root = admin.split('?').next().unwrap_or(&admin).to_owned();
        let root = root[..root.rfind('/').unwrap_or(root.len())].to_owned();
        Self {
            url: format!("{root}/{name}?sslmode=disable"),
            admin,
            name,
        }
    }

    /// Drops the database (after the server using it stopped).
    pub async fn remove(self) {
        if let Ok(mut c) = sqlx::PgConnection::connect(&self.admin).await {
            let sql = format!("DROP DATABASE IF EXISTS \"{}\" WITH (FORCE)", self.name);
            let _ = c.execute(sqlx::AssertSqlSafe(sql)).await;
        }
    }
}

/// The `rapport` server next to the benchmark binary, serving one database.
pub struct Rapport {
    pub child: Child,
    /// The database it serves.
    pub url: String,
    pub base: String,
    pub http: reqwest::Client,
    /// The bootstrap line: workspace and admin client.
    pub boot: Value,
    pub dir: tempfile::TempDir,
}

impl Rapport {
    /// Starts the server on `url` with extra environment, and waits until it is ready.
    pub async fn start(url: &str, extra: &[(&str, &str)]) -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .expect("port");
        let dir = tempfile::tempdir().expect("temp dir");
        let exe = std::env::current_exe().expect("own path").with_file_name("rapport");
        let mut cmd = Command::new(exe);
        cmd.arg("serve")
            .current_dir(dir.path())
            .env("DATABASE_URL", url)
            .env("RAPPORT_LISTEN", format!("127.0.0.1:{port}"))
            .env("RAPPORT_LOG", "warn")
            .env("RAPPORT_CONFIG", "")
            .stdout(Stdio::piped());
        for (k, v) in extra {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().expect("start rapport");
        let mut first = String::new();
        BufReader::new(child.stdout.take().expect("stdout"))
            .read_line(&mut first)
            .expect("bootstrap line");
        let boot: Value = serde_json::from_str(&first).expect("bootstrap JSON");
        let base = format!("http://127.0.0.1:{port}");
        let http = reqwest::Client::new();
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
        Self {
            child,
            url: url.to_owned(),
            base,
            http,
            boot,
            dir,
        }
    }

    /// Runs a `rapport` subcommand on the same database; its JSON output.
    pub fn cli(&self, args: &[&str]) -> Value {
        let exe = std::env::current_exe().unwrap().with_file_name("rapport");
        let out = Command::new(exe)
            .args(args)
            .current_dir(self.dir.path())
            .env("DATABASE_URL", &self.url)
            .env("RAPPORT_CONFIG", "")
            .env("RAPPORT_LOG", "warn")
            .output()
            .expect("rapport cli");
        serde_json::from_slice(&out.stdout).unwrap_or_else(|_| panic!("{}", String::from_utf8_lossy(&out.stderr)))
    }

    /// A token of an API client.
    pub async fn token(&self, id: &str, secret: &str) -> String {
        let t: Value = self
            .http
            .post(format!("{}/v1/auth/token", self.base))
            .form(&[
                ("grant_type", "client_credentials"),
                ("client_id", id),
                ("client_secret", secret),
            ])
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        t["access_token"].as_str().expect("token").to_owned()
    }

    /// A token of the bootstrap admin client.
    pub async fn admin_token(&self) -> String {
        let b = &self.boot["bootstrap"];
        self.token(
            b["client_id"].as_str().expect("client id"),
            b["client_secret"].as_str().expect("secret"),
        )
        .await
    }

    /// Sends a JSON request; the status and the JSON answer.
    pub async fn send(&self, method: reqwest::Method, path: &str, token: &str, body: Option<&Value>) -> (u16, Value) {
        let mut r = self
            .http
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(token);
        if let Some(b) = body {
            r = r.json(b);
        }
        let r = r.send().await.unwrap();
        let status = r.status().as_u16();
        (status, r.json().await.unwrap_or(Value::Null))
    }

    /// The server's peak resident memory so far, in MiB (Linux `VmHWM`).
    pub fn peak_rss_mib(&self) -> f64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).unwrap_or_default();
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmHWM:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
            .map_or(0.0, |kb| kb / 1024.0)
    }

    /// The server's resident memory now, in MiB (Linux `VmRSS`).
    pub fn rss_mib(&self) -> f64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).unwrap_or_default();
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
            .map_or(0.0, |kb| kb / 1024.0)
    }
}

impl Drop for Rapport {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
