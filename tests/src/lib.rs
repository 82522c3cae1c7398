//! Black-box test harness: starts the real `rapport` binary on a fresh database
//! (SQLite in a temporary directory, or a new PostgreSQL database when
//! `RAPPORT_TEST_POSTGRES_URL` is set), obtains tokens the way a user would, and speaks
//! HTTP and GraphQL to it.

// Test support: a failed expectation here is a failed test, with its message.
#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::io::{BufRead, BufReader, Read};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use reqwest::{Method, RequestBuilder, StatusCode};
use serde_json::{Value, json};
use sqlx::Connection;

pub mod bench;
pub mod ceiling;
pub mod receiver;
pub mod webhooks;

/// Runs an async test body once per database backend: always on SQLite, and on
/// PostgreSQL when `RAPPORT_TEST_POSTGRES_URL` is set (an unreachable server then fails
/// the test rather than skipping it).
#[macro_export]
macro_rules! on_both {
    ($($name:ident),* $(,)?) => {
        $(
            mod $name {
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn sqlite() {
                    super::$name($crate::Server::start($crate::Backend::Sqlite).await).await;
                }
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn postgres() {
                    if let Some(s) = $crate::Server::start_postgres().await {
                        super::$name(s).await;
                    }
                }
            }
        )*
    };
}

/// Runs `async fn name(db: TestDb)` on a fresh SQLite database and, when configured, a
/// fresh PostgreSQL one: for tests that start the server with their own settings, or
/// use no server at all.
#[macro_export]
macro_rules! on_both_dbs {
    ($($name:ident),* $(,)?) => {
        $(
            mod $name {
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn sqlite() {
                    super::$name($crate::TestDb::sqlite()).await;
                }
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn postgres() {
                    if let Some(db) = $crate::TestDb::postgres().await {
                        super::$name(db).await;
                    }
                }
            }
        )*
    };
}

/// Which database a server runs on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// The PostgreSQL admin URL for tests, if configured.
pub fn postgres_url() -> Option<String> {
    std::env::var("RAPPORT_TEST_POSTGRES_URL")
        .ok()
        .filter(|u| !u.trim().is_empty())
}

/// A fresh database, removed when dropped.
pub struct TestDb {
    pub url: String,
    pub backend: Backend,
    dir: tempfile::TempDir,
    pg: Option<(String, String)>,
}

fn with_database(url: &str, name: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (url, None),
    };
    let root = match base.rfind('/') {
        Some(i) if base[..i].contains("://") && i > base.find("://").unwrap_or(0) + 2 => &base[..i],
        _ => base,
    };
    match query {
        Some(q) => format!("{root}/{name}?{q}"),
        None => format!("{root}/{name}"),
    }
}

impl TestDb {
    /// A new SQLite file in a temporary directory.
    pub fn sqlite() -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let url = format!("sqlite://{}?mode=rwc", dir.path().join("rapport.db").display());
        Self {
            url,
            backend: Backend::Sqlite,
            dir,
            pg: None,
        }
    }

    /// A new PostgreSQL database, or `None` when no server is configured.
    /// # Panics
    /// When the server is configured but unreachable.
    pub async fn postgres() -> Option<Self> {
        let admin = postgres_url()?;
        let name = format!("rapport_t_{}", uuid::Uuid::now_v7().simple());
        let mut conn = sqlx::PgConnection::connect(&admin)
            .await
            .unwrap_or_else(|e| panic!("RAPPORT_TEST_POSTGRES_URL is set but unreachable ({admin}): {e}"));
        sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE \"{name}\"")))
            .execute(&mut conn)
            .await
            .expect("create database");
        let _ = conn.close().await;
        Some(Self {
            url: with_database(&admin, &name),
            backend: Backend::Postgres,
            dir: tempfile::tempdir().expect("temp dir"),
            pg: Some((admin, name)),
        })
    }

    /// A scratch directory that lives as long as the database.
    pub fn dir(&self) -> PathBuf {
        self.dir.path().to_path_buf()
    }

    /// The same database for a second server: its own scratch directory (for that
    /// server's log), while the database stays owned, and is removed, by `self`.
    #[must_use]
    pub fn share(&self) -> Self {
        Self {
            url: self.url.clone(),
            backend: self.backend,
            dir: tempfile::tempdir().expect("temp dir"),
            pg: None,
        }
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if let Some((admin, name)) = self.pg.take() {
            // Dropping runs outside any runtime the test may still hold.
            let _ = std::thread::spawn(move || {
                let Ok(rt) = tokio::runtime::Builder::new_current_thread().enable_all().build() else {
                    return;
                };
                rt.block_on(async {
                    if let Ok(mut c) = sqlx::PgConnection::connect(&admin).await {
                        let _ = sqlx::query(sqlx::AssertSqlSafe(format!(
                            "DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"
                        )))
                        .execute(&mut c)
                        .await;
                        let _ = c.close().await;
                    }
                });
            })
            .join();
        }
    }
}

/// The `rapport` binary under test.
pub fn binary() -> PathBuf {
    if let Ok(p) = std::env::var("RAPPORT_BIN") {
        return PathBuf::from(p);
    }
    let exe = std::env::current_exe().expect("test executable path");
    // target/<profile>/deps/<test> → target/<profile>/rapport
    let dir = exe.parent().and_then(|d| d.parent()).expect("target dir");
    let bin = dir.join(format!("rapport{}", std::env::consts::EXE_SUFFIX));
    assert!(
        bin.exists(),
        "{} is missing: build it first (cargo build -p rapport-api), as `make test` does",
        bin.display()
    );
    bin
}

/// Client credentials.
#[derive(Clone, Debug)]
pub struct Credentials {
    pub client_id: String,
    pub client_secret: String,
    pub workspace_id: String,
}

/// A running `rapport serve`.
pub struct Server {
    pub base: String,
    pub http: reqwest::Client,
    /// The credentials printed on first start.
    pub admin: Credentials,
    child: Option<Child>,
    log: PathBuf,
    pub db: TestDb,
}

impl Server {
    /// Starts a server on a fresh database of `backend`.
    /// # Panics
    /// When the server does not become ready.
    pub async fn start(backend: Backend) -> Self {
        match backend {
            Backend::Sqlite => Self::start_on(TestDb::sqlite(), &[]).await,
            Backend::Postgres => Self::start_postgres()
                .await
                .expect("RAPPORT_TEST_POSTGRES_URL is not set"),
        }
    }

    /// Starts a server on a fresh PostgreSQL database, when one is configured.
    pub async fn start_postgres() -> Option<Self> {
        let db = TestDb::postgres().await?;
        Some(Self::start_on(db, &[]).await)
    }

    /// Starts a server on `db` with extra environment variables.
    /// # Panics
    /// When the server does not become ready within 30 s.
    pub async fn start_on(db: TestDb, env: &[(&str, &str)]) -> Self {
        Self::spawn(db, env, None).await
    }

    /// Starts another server on this server's database (which has been bootstrapped, so
    /// the new one prints no credentials and shares this one's), with its own settings.
    /// This server may still run (several processes on one PostgreSQL database) or have
    /// stopped (a restart). The database stays owned by `self`: drop the new server first.
    /// # Panics
    /// When the server does not become ready within 30 s.
    pub async fn start_sharing(&self, env: &[(&str, &str)]) -> Self {
        Self::spawn(self.db.share(), env, Some(self.admin.clone())).await
    }

    /// Starts `rapport serve`; reads the bootstrap credentials from its stdout unless
    /// `admin` is given (the database was bootstrapped before).
    async fn spawn(db: TestDb, env: &[(&str, &str)], admin: Option<Credentials>) -> Self {
        let log = db.dir().join("server.log");
        let log_file = std::fs::File::create(&log).expect("log file");
        let mut cmd = Command::new(binary());
        cmd.arg("serve")
            .current_dir(db.dir())
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("DATABASE_URL", &db.url)
            // The server picks a free port and logs it: a port chosen here and released
            // before the server binds it could be taken by another test's server first.
            .env("RAPPORT_LISTEN", "127.0.0.1:0")
            .env("RAPPORT_LOG", "info")
            .env("RAPPORT_DB_MAX_CONNECTIONS", "4")
            .env("RAPPORT_WORKERS", "2")
            .env("RAPPORT_SHUTDOWN_TIMEOUT_SECONDS", "5");
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = cmd
            .stdout(Stdio::piped())
            .stderr(log_file)
            .spawn()
            .expect("start rapport");
        let stdout = child.stdout.take().expect("stdout");
        let admin = match admin {
            Some(admin) => {
                // Nothing to read: keep draining so the server never blocks on a full pipe.
                std::thread::spawn(move || {
                    let mut sink = Vec::new();
                    let _ = BufReader::new(stdout).read_to_end(&mut sink);
                });
                admin
            }
            None => Self::bootstrap_credentials(stdout, &log).await,
        };
        let base = Self::bound_address(&mut child, &log).await;
        let server = Self {
            base,
            http: reqwest::Client::new(),
            admin,
            child: Some(child),
            log,
            db,
        };
        server.wait_ready().await;
        server
    }

    /// The base URL of the address the server logs once it is bound.
    async fn bound_address(child: &mut Child, log: &std::path::Path) -> String {
        const MARK: &str = "listening on http://";
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let logs = std::fs::read_to_string(log).unwrap_or_default();
            if let Some(at) = logs.find(MARK) {
                let rest = &logs[at + MARK.len()..];
                let end = rest
                    .find(|c: char| !(c.is_ascii_digit() || c == '.' || c == ':'))
                    .unwrap_or(rest.len());
                return format!("http://{}", &rest[..end]);
            }
            if let Ok(Some(status)) = child.try_wait() {
                panic!("the server exited ({status}) before listening:\n{logs}");
            }
            if Instant::now() >= deadline {
                let _ = child.kill();
                panic!("the server did not listen in 30 s:\n{logs}");
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// The credentials a first start prints as its first line of stdout.
    async fn bootstrap_credentials(stdout: std::process::ChildStdout, log: &std::path::Path) -> Credentials {
        let first_line = tokio::task::spawn_blocking(move || {
            let mut line = String::new();
            let mut r = BufReader::new(stdout);
            let _ = r.read_line(&mut line);
            // Keep draining so the server never blocks on a full pipe.
            std::thread::spawn(move || {
                let mut sink = Vec::new();
                let _ = r.read_to_end(&mut sink);
            });
            line
        })
        .await
        .expect("read stdout");
        let boot: Value = serde_json::from_str(&first_line).unwrap_or_else(|_| {
            let logs = std::fs::read_to_string(log).unwrap_or_default();
            panic!("no bootstrap credentials on stdout: {first_line:?}\n{logs}")
        });
        let b = &boot["bootstrap"];
        Credentials {
            client_id: b["client_id"].as_str().expect("client_id").to_owned(),
            client_secret: b["client_secret"].as_str().expect("client_secret").to_owned(),
            workspace_id: b["workspace_id"].as_str().expect("workspace_id").to_owned(),
        }
    }

    async fn wait_ready(&self) {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Ok(r) = self.http.get(format!("{}/readyz", self.base)).send().await
                && r.status() == StatusCode::OK
            {
                return;
            }
            assert!(Instant::now() < deadline, "server not ready in 30 s:\n{}", self.logs());
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }

    /// The server's log so far.
    pub fn logs(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Sends SIGTERM and waits for the process; returns its exit status.
    pub fn terminate(&mut self) -> std::process::ExitStatus {
        let mut child = self.child.take().expect("running");
        let _ = Command::new("kill").arg("-TERM").arg(child.id().to_string()).status();
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            if let Ok(Some(status)) = child.try_wait() {
                return status;
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                panic!("server did not stop within 15 s of SIGTERM");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// The process id of the running server.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// Kills the server with SIGKILL (a crash: no shutdown runs) and reaps it.
    pub fn kill(&mut self) -> std::process::ExitStatus {
        let mut child = self.child.take().expect("running");
        let pid = child.id().to_string();
        let killed = Command::new("kill").args(["-9", &pid]).status();
        if !killed.is_ok_and(|s| s.success()) {
            // `Child::kill` is SIGKILL on Unix too.
            let _ = child.kill();
        }
        child.wait().expect("reap the killed server")
    }

    /// Runs a `rapport` subcommand against this server's database; returns its JSON
    /// output and whether it succeeded.
    pub fn cli(&self, args: &[&str]) -> (bool, Value) {
        let out = Command::new(binary())
            .args(args)
            .current_dir(self.db.dir())
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("DATABASE_URL", &self.db.url)
            .env("RAPPORT_LOG", "warn")
            .output()
            .expect("run rapport");
        let text = String::from_utf8_lossy(&out.stdout);
        let v = serde_json::from_str(text.trim()).unwrap_or_else(|_| panic!("not one JSON object: {text:?}"));
        (out.status.success(), v)
    }

    /// Creates an API client through the CLI.
    pub fn client(&self, workspace: Option<&str>, scopes: &str) -> Credentials {
        let mut args = vec!["client", "create", "--name", "test", "--scopes", scopes];
        if let Some(ws) = workspace {
            args.extend(["--workspace", ws]);
        }
        let (ok, v) = self.cli(&args);
        assert!(ok, "client create failed: {v}");
        Credentials {
            client_id: v["client_id"].as_str().expect("client_id").to_owned(),
            client_secret: v["client_secret"].as_str().expect("client_secret").to_owned(),
            workspace_id: v["workspace_id"].as_str().expect("workspace_id").to_owned(),
        }
    }

    /// Obtains a token through `POST /v1/auth/token`.
    pub async fn token(&self, c: &Credentials) -> String {
        let r = self
            .http
            .post(format!("{}/v1/auth/token", self.base))
            .form(&[
                ("grant_type", "client_credentials"),
                ("client_id", &c.client_id),
                ("client_secret", &c.client_secret),
            ])
            .send()
            .await
            .expect("token request");
        assert_eq!(r.status(), StatusCode::OK, "token request refused");
        let v: Value = r.json().await.expect("token json");
        v["access_token"].as_str().expect("access_token").to_owned()
    }

    /// A token of the bootstrap admin client.
    pub async fn admin_token(&self) -> String {
        self.token(&self.admin.clone()).await
    }

    /// A token with exactly these scopes in the first workspace.
    pub async fn token_with(&self, scopes: &str) -> String {
        let c = self.client(Some(&self.admin.workspace_id.clone()), scopes);
        self.token(&c).await
    }

    /// A second workspace with an admin token.
    pub async fn other_workspace(&self) -> (String, String) {
        let (ok, v) = self.cli(&["workspace", "create", "--name", "Other"]);
        assert!(ok, "{v}");
        let ws = v["id"].as_str().expect("id").to_owned();
        let c = self.client(Some(&ws), "admin");
        (ws, self.token(&c).await)
    }

    /// A request with a bearer token.
    pub fn req(&self, method: Method, path: &str, token: &str) -> RequestBuilder {
        self.http
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(token)
    }

    /// Sends a JSON request and returns status, headers and JSON body (Null when empty).
    pub async fn call(&self, method: Method, path: &str, token: &str, body: Option<Value>) -> Reply {
        let mut r = self.req(method, path, token);
        if let Some(b) = body {
            r = r.json(&b);
        }
        Reply::from(r.send().await.expect("request")).await
    }

    /// Runs a GraphQL operation and returns the whole response document.
    pub async fn gql(&self, token: &str, query: &str, variables: Value) -> Value {
        let r = self
            .req(Method::POST, "/graphql", token)
            .json(&json!({ "query": query, "variables": variables }))
            .send()
            .await
            .expect("graphql request");
        assert_eq!(r.status(), StatusCode::OK);
        r.json().await.expect("graphql json")
    }

    /// Reads a metric's value from `/metrics` (summing all its series).
    pub async fn metric(&self, name: &str) -> f64 {
        let text = self
            .http
            .get(format!("{}/metrics", self.base))
            .send()
            .await
            .expect("metrics")
            .text()
            .await
            .expect("text");
        text.lines()
            .filter(|l| l.starts_with(name) && !l.starts_with('#'))
            .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
            .sum()
    }

    /// The events of `kind` in the outbox, oldest first, as `(workspace_id, data)`.
    pub async fn events(&self, kind: &str) -> Vec<(String, Value)> {
        let rows: Vec<(String, String)> = match self.db.backend {
            Backend::Sqlite => {
                let mut c = sqlx::SqliteConnection::connect(&self.db.url).await.expect("sqlite");
                let rows: Vec<(Vec<u8>, String)> =
                    sqlx::query_as("SELECT workspace_id, data FROM events WHERE type = ? ORDER BY id")
                        .bind(kind)
                        .fetch_all(&mut c)
                        .await
                        .expect("events");
                rows.into_iter()
                    .map(|(ws, d)| {
                        (
                            uuid::Uuid::from_slice(&ws).map(|u| u.to_string()).unwrap_or_default(),
                            d,
                        )
                    })
                    .collect()
            }
            Backend::Postgres => {
                let mut c = sqlx::PgConnection::connect(&self.db.url).await.expect("postgres");
                sqlx::query_as("SELECT workspace_id::text, data::text FROM events WHERE type = $1 ORDER BY id")
                    .bind(kind)
                    .fetch_all(&mut c)
                    .await
                    .expect("events")
            }
        };
        rows.into_iter()
            .map(|(ws, d)| (ws, serde_json::from_str(&d).expect("event json")))
            .collect()
    }
}

/// The `data` of the events of `kind` about the record `id`, oldest first.
pub async fn events_about(s: &Server, kind: &str, id: &str) -> Vec<Value> {
    let mut data: Vec<Value> = s.events(kind).await.into_iter().map(|(_, d)| d).collect();
    data.retain(|d| d["object"]["id"] == id);
    data
}

/// The `id` of a JSON representation.
pub fn id_of(v: &Value) -> String {
    v["id"].as_str().expect("an id").to_owned()
}

/// The fields of `v` named in `like`, to compare several fields at once.
pub fn pick(v: &Value, like: &Value) -> Value {
    let keys = like.as_object().expect("an object").keys();
    keys.map(|k| (k.clone(), v[k].clone())).collect()
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        if std::thread::panicking() {
            let logs = self.logs();
            let tail: Vec<&str> = logs.lines().rev().take(40).collect();
            eprintln!("--- server log (last lines) ---");
            for l in tail.into_iter().rev() {
                eprintln!("{l}");
            }
        }
    }
}

/// A response, read whole.
#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub headers: reqwest::header::HeaderMap,
    pub body: Value,
}

impl Reply {
    pub async fn from(r: reqwest::Response) -> Self {
        let status = r.status();
        let headers = r.headers().clone();
        let bytes = r.bytes().await.expect("body");
        let body = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes)
                .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()))
        };
        Self { status, headers, body }
    }

    /// A header as text.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// Asserts a problem document with this status and code.
    #[track_caller]
    pub fn problem(&self, status: u16, code: &str) -> &Self {
        assert_eq!(self.status.as_u16(), status, "unexpected status, body: {}", self.body);
        assert_eq!(
            self.header("content-type"),
            Some("application/problem+json"),
            "body: {}",
            self.body
        );
        assert_eq!(self.body["code"], code, "body: {}", self.body);
        assert_eq!(self.body["status"], status);
        assert!(
            self.body["request_id"].is_string(),
            "problem without request_id: {}",
            self.body
        );
        self
    }

    /// The pointers of a validation problem.
    pub fn pointers(&self) -> Vec<String> {
        self.body["errors"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|e| e["pointer"].as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default()
    }
}

/// A well-formed record id that no record has.
pub const NOWHERE: &str = "0190a000-0000-7000-8000-000000000000";

/// One caller: a server and a bearer token for it.
pub struct Api<'a>(
    /// The server called.
    pub &'a Server,
    /// The bearer token sent with every request.
    pub String,
);

impl<'a> Api<'a> {
    /// A caller with the bootstrap admin client's token.
    pub async fn admin(s: &'a Server) -> Self {
        Self(s, s.admin_token().await)
    }

    /// A caller with a token of exactly these scopes in the first workspace.
    pub async fn with(s: &'a Server, scopes: &str) -> Self {
        Self(s, s.token_with(scopes).await)
    }

    /// Sends a request, with a JSON body when given.
    pub async fn send(&self, method: Method, path: &str, body: Option<Value>) -> Reply {
        self.0.call(method, path, &self.1, body).await
    }

    /// `GET path`.
    pub async fn get(&self, path: &str) -> Reply {
        self.send(Method::GET, path, None).await
    }

    /// `POST path` with a JSON body.
    pub async fn post(&self, path: &str, body: Value) -> Reply {
        self.send(Method::POST, path, Some(body)).await
    }

    /// `PUT path` with a JSON body.
    pub async fn put(&self, path: &str, body: Value) -> Reply {
        self.send(Method::PUT, path, Some(body)).await
    }

    /// `PATCH path` with a plain JSON body (`application/json`).
    pub async fn patch(&self, path: &str, body: Value) -> Reply {
        self.send(Method::PATCH, path, Some(body)).await
    }

    /// `DELETE path`.
    pub async fn delete(&self, path: &str) -> Reply {
        self.send(Method::DELETE, path, None).await
    }
}

/// What the consent suites share: the calls they make and the short text forms their
/// assertions compare.
pub mod consent {
    use reqwest::Method;
    use serde_json::{Value, json};

    use crate::{Api, Reply, id_of};

    /// The consent purposes collection.
    pub const PURPOSES: &str = "/v1/consent-purposes";

    /// The consent calls of a caller.
    // Test bodies await these directly; no caller needs the futures to be `Send`.
    #[allow(async_fn_in_trait)]
    pub trait ConsentCalls {
        /// Asserts that `GET path` is a 404.
        async fn missing(&self, path: &str);
        /// Creates a contact with this email; returns its id.
        async fn contact(&self, email: &str) -> String;
        /// `POST /v1/contacts/{id}/consents`.
        async fn record(&self, id: &str, body: Value) -> Reply;
        /// A record that must succeed; returns `{event, effective, confirmation}`.
        async fn recorded(&self, id: &str, body: Value) -> Value;
        /// The `data` of a list that must succeed.
        async fn data(&self, path: &str) -> Vec<Value>;
        /// A contact's effective consent states.
        async fn states(&self, id: &str) -> Vec<Value>;
        /// A contact's consent events, in arrival order.
        async fn history(&self, id: &str) -> Vec<Value>;
        /// `GET /v1/contacts/{id}/consent/{purpose}`, for a contact point when given.
        async fn ask(&self, id: &str, purpose: &str, contact_point: Option<&str>) -> Reply;
        /// The decision for a purpose, which must be answered.
        async fn decision(&self, id: &str, purpose: &str, contact_point: Option<&str>) -> Value;
        /// The decision for a purpose as "allowed/status".
        async fn verdict(&self, id: &str, purpose: &str) -> String;
        /// `POST /v1/consent/confirm` with this token.
        async fn confirm(&self, token: &Value) -> Reply;
        /// Records a pending double opt-in grant; returns its confirmation token.
        async fn pending(&self, id: &str) -> Value;
    }

    impl ConsentCalls for Api<'_> {
        async fn missing(&self, path: &str) {
            self.get(path).await.problem(404, "not_found");
        }

        async fn contact(&self, email: &str) -> String {
            let r = self.post("/v1/contacts", json!({ "email": email })).await;
            assert_eq!(r.status, 201, "{}", r.body);
            id_of(&r.body)
        }

        async fn record(&self, id: &str, body: Value) -> Reply {
            self.post(&format!("/v1/contacts/{id}/consents"), body).await
        }

        async fn recorded(&self, id: &str, body: Value) -> Value {
            let r = self.record(id, body).await;
            assert_eq!(r.status, 201, "{}", r.body);
            r.body
        }

        async fn data(&self, path: &str) -> Vec<Value> {
            let r = self.get(path).await;
            assert_eq!(r.status, 200, "{path}: {}", r.body);
            r.body["data"].as_array().expect("a data array").clone()
        }

        async fn states(&self, id: &str) -> Vec<Value> {
            self.data(&format!("/v1/contacts/{id}/consents")).await
        }

        async fn history(&self, id: &str) -> Vec<Value> {
            self.data(&format!("/v1/contacts/{id}/consents/history")).await
        }

        async fn ask(&self, id: &str, purpose: &str, contact_point: Option<&str>) -> Reply {
            let path = format!("/v1/contacts/{id}/consent/{purpose}");
            let mut r = self.0.req(Method::GET, &path, &self.1);
            if let Some(cp) = contact_point {
                r = r.query(&[("contact_point", cp)]);
            }
            Reply::from(r.send().await.expect("request")).await
        }

        async fn decision(&self, id: &str, purpose: &str, contact_point: Option<&str>) -> Value {
            let r = self.ask(id, purpose, contact_point).await;
            assert_eq!(r.status, 200, "{}", r.body);
            r.body
        }

        async fn verdict(&self, id: &str, purpose: &str) -> String {
            verdict(&self.decision(id, purpose, None).await)
        }

        async fn confirm(&self, token: &Value) -> Reply {
            self.post("/v1/consent/confirm", json!({ "token": token })).await
        }

        async fn pending(&self, id: &str) -> Value {
            let single = rec("email_marketing", "granted", &json!({"opt_in_level": "single"}));
            self.recorded(id, single).await["confirmation"]["token"].clone()
        }
    }

    /// A consent record: the required fields and `extra` ones (a `null` removes one).
    pub fn rec(purpose: &str, status: &str, extra: &Value) -> Value {
        let mut body = json!({"purpose": purpose, "status": status, "source": "api"});
        for (k, v) in extra.as_object().expect("extra fields as an object") {
            if v.is_null() {
                body.as_object_mut().expect("an object").remove(k);
            } else {
                body[k] = v.clone();
            }
        }
        body
    }

    /// A consent record with the required fields only.
    pub fn consent(purpose: &str, status: &str) -> Value {
        rec(purpose, status, &json!({}))
    }

    /// A JSON value as short text: strings bare, `null` as "-".
    pub fn text(v: &Value) -> String {
        match v {
            Value::String(s) => s.clone(),
            Value::Null => "-".to_owned(),
            other => other.to_string(),
        }
    }

    /// "allowed/status" of a decision, state or check result.
    pub fn verdict(v: &Value) -> String {
        rows(std::slice::from_ref(v), "allowed status")
    }

    /// The fields `keys` of each item joined by "/", the items by spaces.
    pub fn rows(items: &[Value], keys: &str) -> String {
        let row = |i: &Value| keys.split(' ').map(|k| text(&i[k])).collect::<Vec<_>>().join("/");
        items.iter().map(row).collect::<Vec<_>>().join(" ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn database_names_replace_the_path_of_the_admin_url() {
        assert_eq!(
            with_database("postgres://postgres@127.0.0.1:5432/test", "x"),
            "postgres://postgres@127.0.0.1:5432/x"
        );
        assert_eq!(
            with_database("postgres://u@h/test?sslmode=disable", "x"),
            "postgres://u@h/x?sslmode=disable"
        );
        assert_eq!(with_database("postgres://u@h", "x"), "postgres://u@h/x");
    }
}
