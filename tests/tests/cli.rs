//! The command-line contract: every command prints exactly one JSON object on stdout,
//! and failures print `{"error": …}` with a non-zero exit status.

// Test bodies run through `on_both!`, outside `#[test]` fns, where a failed unwrap is the
// intended test failure.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::process::Command;

use rapport_tests::{Api, Backend, Credentials, Reply, Server, TestDb, on_both, on_both_dbs};
use reqwest::Method;
use serde_json::{Value, json};

/// What a command did: whether it succeeded and the one JSON object it printed.
struct Outcome {
    ok: bool,
    json: Value,
}

/// Runs `rapport <args>` against `db` (in its scratch directory, with a clean
/// environment) and checks that stdout is exactly one JSON object on one line.
fn rapport(db: &TestDb, args: &[&str]) -> Outcome {
    rapport_in(db, &db.dir(), args)
}

fn rapport_in(db: &TestDb, cwd: &Path, args: &[&str]) -> Outcome {
    let out = Command::new(rapport_tests::binary())
        .args(args)
        .current_dir(cwd)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("DATABASE_URL", &db.url)
        .env("RAPPORT_LOG", "warn")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let lines: Vec<&str> = stdout.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(
        lines.len(),
        1,
        "rapport {args:?} must print one line, printed {stdout:?}; stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let json: Value =
        serde_json::from_str(lines[0]).unwrap_or_else(|e| panic!("rapport {args:?}: not JSON ({e}): {stdout:?}"));
    assert!(json.is_object(), "rapport {args:?}: {json}");
    Outcome {
        ok: out.status.success(),
        json,
    }
}

#[track_caller]
fn succeeded(o: &Outcome) -> &Value {
    assert!(o.ok, "command failed: {}", o.json);
    assert!(o.json.get("error").is_none(), "{}", o.json);
    &o.json
}

/// Asserts a failure printed as `{"error": …}` and returns the message.
#[track_caller]
fn failed(o: &Outcome) -> String {
    assert!(!o.ok, "command should have failed: {}", o.json);
    let message = o.json["error"]
        .as_str()
        .unwrap_or_else(|| panic!("no error message: {}", o.json));
    assert!(!message.is_empty());
    message.to_owned()
}

#[track_caller]
fn uuid_of(v: &Value) -> String {
    let s = v.as_str().unwrap_or_else(|| panic!("not a string: {v}"));
    uuid::Uuid::parse_str(s).unwrap_or_else(|e| panic!("not a uuid ({e}): {s}"));
    s.to_owned()
}

fn client_create(db: &TestDb, scopes: &str, workspace: Option<&str>) -> Outcome {
    let mut args = vec!["client", "create", "--name", "Storefront", "--scopes", scopes];
    if let Some(ws) = workspace {
        args.extend(["--workspace", ws]);
    }
    rapport(db, &args)
}

fn credentials(v: &Value) -> Credentials {
    Credentials {
        client_id: uuid_of(&v["client_id"]),
        client_secret: v["client_secret"].as_str().unwrap().to_owned(),
        workspace_id: uuid_of(&v["workspace_id"]),
    }
}

/// The token response for `c`'s credentials.
async fn token_response(s: &Server, c: &Credentials) -> Reply {
    let form = [
        ("grant_type", "client_credentials"),
        ("client_id", c.client_id.as_str()),
        ("client_secret", c.client_secret.as_str()),
    ];
    Reply::from(
        s.http
            .post(format!("{}/v1/auth/token", s.base))
            .form(&form)
            .send()
            .await
            .unwrap(),
    )
    .await
}

async fn migrate_reports_the_migrated_database(db: TestDb) {
    let backend = if db.backend == Backend::Sqlite {
        "sqlite"
    } else {
        "postgres"
    };
    let first = rapport(&db, &["migrate"]);
    assert_eq!(succeeded(&first), &json!({"migrated": true, "database": backend}));
    // Migrating an up-to-date database is a no-op that succeeds.
    assert_eq!(succeeded(&rapport(&db, &["migrate"]))["migrated"], true);
}

async fn workspace_create_prints_the_new_workspace(db: TestDb) {
    let a = rapport(&db, &["workspace", "create", "--name", "Europe"]);
    let a = succeeded(&a);
    assert_eq!(a["name"], "Europe");
    let b = rapport(&db, &["workspace", "create", "--name", "Americas"]);
    assert_eq!(succeeded(&b)["name"], "Americas");
    assert_ne!(uuid_of(&a["id"]), uuid_of(&b.json["id"]));
    failed(&rapport(&db, &["workspace", "create", "--name", "  "]));
}

async fn client_create_prints_credentials_that_work_with_exactly_those_scopes(s: Server) {
    let ws = s.admin.workspace_id.clone();
    let out = client_create(&s.db, "contacts:read contacts:write", Some(&ws));
    let v = succeeded(&out);
    assert_eq!(v["workspace_id"], ws.as_str());
    assert_eq!(v["scopes"], json!(["contacts:read", "contacts:write"]));
    assert!(v["client_secret"].as_str().unwrap().starts_with("rsk_"), "{v}");
    let c = credentials(v);

    let issued = token_response(&s, &c).await;
    assert_eq!(issued.status, 200, "{}", issued.body);
    assert_eq!(issued.body["scope"], "contacts:read contacts:write");
    let token = issued.body["access_token"].as_str().unwrap();
    assert_eq!(s.call(Method::GET, "/v1/contacts", token, None).await.status, 200);
    let created = s
        .call(
            Method::POST,
            "/v1/contacts",
            token,
            Some(json!({"email": "cli@example.com"})),
        )
        .await;
    assert_eq!(created.status, 201, "{}", created.body);
    s.call(Method::GET, "/v1/companies", token, None)
        .await
        .problem(403, "insufficient_scope");
    s.call(Method::GET, "/v1/api-clients", token, None)
        .await
        .problem(403, "insufficient_scope");

    // A secret only works with its own client id.
    let other = client_create(&s.db, "contacts:read", Some(&ws));
    let mixed = Credentials {
        client_id: uuid_of(&succeeded(&other)["client_id"]),
        ..c
    };
    token_response(&s, &mixed).await.problem(401, "invalid_client");
}

async fn client_create_without_a_workspace_uses_the_first_one(s: Server) {
    let (second, _) = s.other_workspace().await;
    assert_ne!(second, s.admin.workspace_id);
    let out = client_create(&s.db, "contacts:write", None);
    let c = credentials(succeeded(&out));
    assert_eq!(c.workspace_id, s.admin.workspace_id);
    let token = s.token(&c).await;
    let created = s
        .call(
            Method::POST,
            "/v1/contacts",
            &token,
            Some(json!({"email": "first@example.com"})),
        )
        .await;
    assert_eq!(created.status, 201, "{}", created.body);
    let events = s.events("contact.created").await;
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(events[0].0, s.admin.workspace_id);
}

async fn client_create_on_an_empty_database_creates_the_first_workspace(db: TestDb) {
    let first = client_create(&db, "admin", None);
    let ws = uuid_of(&succeeded(&first)["workspace_id"]);
    assert_eq!(first.json["scopes"], json!(["admin"]));
    // The workspace was kept: later clients without --workspace join it.
    let other = rapport(&db, &["workspace", "create", "--name", "Later"]);
    assert_ne!(uuid_of(&succeeded(&other)["id"]), ws);
    let second = client_create(&db, "contacts:read", None);
    assert_eq!(succeeded(&second)["workspace_id"], ws.as_str());
    assert_ne!(second.json["client_id"], first.json["client_id"]);
}

async fn client_create_refuses_unknown_scopes_and_workspaces(db: TestDb) {
    let unknown = failed(&client_create(&db, "contacts:read contacts:eat", None));
    assert!(unknown.contains("contacts:eat"), "{unknown}");
    failed(&client_create(&db, "", None));
    let missing = uuid::Uuid::now_v7().to_string();
    let no_ws = failed(&client_create(&db, "contacts:read", Some(&missing)));
    assert!(no_ws.contains(&missing), "{no_ws}");
}

async fn malformed_arguments_are_reported_as_an_error_object(db: TestDb) {
    let no_scopes = failed(&rapport(&db, &["client", "create", "--name", "Storefront"]));
    assert!(no_scopes.contains("--scopes"), "{no_scopes}");
    let bad_id = failed(&client_create(&db, "contacts:read", Some("not-a-uuid")));
    assert!(bad_id.contains("not-a-uuid"), "{bad_id}");
}

async fn export_schema_writes_the_schema_files_the_server_serves(s: Server) {
    let out = tempfile::tempdir().unwrap();
    let dir = out.path().to_str().unwrap();
    let printed = rapport_in(&s.db, out.path(), &["export-schema", "--out", dir]);
    succeeded(&printed);
    let graphql_path = out.path().join("schema").join("schema.graphql");
    let openapi_path = out.path().join("openapi").join("openapi.json");
    assert_eq!(printed.json["graphql"], graphql_path.to_str().unwrap());
    assert_eq!(printed.json["openapi"], openapi_path.to_str().unwrap());

    let sdl = std::fs::read_to_string(&graphql_path).unwrap();
    assert!(
        sdl.contains("type Query") && sdl.contains("type Mutation") && sdl.contains("LifecycleStage"),
        "{sdl}"
    );
    let exported: Value = serde_json::from_str(&std::fs::read_to_string(&openapi_path).unwrap()).unwrap();
    assert!(exported["openapi"].as_str().unwrap().starts_with("3.1"));
    assert!(exported["paths"]["/v1/contacts"].is_object());
    let served = Reply::from(s.http.get(format!("{}/openapi.json", s.base)).send().await.unwrap()).await;
    assert_eq!(
        served.body, exported,
        "the exported document differs from the served one"
    );
}

/// The `data` of a list or search answered with 200.
#[track_caller]
fn listed(reply: &Reply, what: &str) -> Vec<Value> {
    assert_eq!(reply.status, 200, "{what}: {}", reply.body);
    reply.body["data"].as_array().unwrap().clone()
}

async fn seed_demo_fills_a_workspace_with_a_living_shop_once(s: Server) {
    let out = rapport(&s.db, &["seed", "--demo", "--contacts", "300"]);
    let v = succeeded(&out).clone();
    assert_eq!(v["workspace_id"], s.admin.workspace_id.as_str());
    assert_eq!(
        (v["demo"].clone(), v["contacts"].clone(), v["companies"].clone()),
        (json!(true), json!(300), json!(15))
    );
    assert_eq!(v["segments"], 4, "{v}");
    assert!(v["orders"].as_u64().unwrap() > 200, "{v}");
    assert!(v["consents"].as_u64().unwrap() > 100, "{v}");
    for stage in ["lead", "customer", "repeat_customer", "churned"] {
        assert!(v["stages"][stage].as_u64().unwrap_or(0) > 0, "no {stage}: {v}");
    }
    let api = Api::admin(&s).await;

    let orders = listed(&api.get("/v1/orders?limit=50").await, "orders");
    assert_eq!(orders.len(), 50);
    assert!(orders.iter().all(|o| o["currency"] == "EUR" && o["source"] == "demo"));
    assert!(orders.iter().all(|o| o["lines"][0]["sku"].is_string()), "{orders:?}");
    assert!(orders.iter().any(|o| o["status"] == "fulfilled"), "{orders:?}");

    // Stages follow from the orders: a repeat customer has two or more purchases, in
    // metrics kept by the order path, and got there through order-caused transitions.
    for stage in ["customer", "repeat_customer", "churned"] {
        let found = listed(&api.get(&format!("/v1/contacts?stage={stage}&limit=5")).await, stage);
        assert!(!found.is_empty(), "no {stage}");
    }
    let repeat = listed(&api.get("/v1/contacts?stage=repeat_customer&limit=1").await, "repeat");
    let id = repeat[0]["id"].as_str().unwrap();
    let m = api.get(&format!("/v1/contacts/{id}/metrics")).await;
    assert_eq!(m.status, 200, "{}", m.body);
    assert!(m.body["order_count"].as_i64().unwrap() >= 2, "{}", m.body);
    assert_eq!(m.body["by_currency"][0]["currency"], "EUR");
    assert!(
        m.body["by_currency"][0]["total_spent"].as_i64().unwrap() > 0,
        "{}",
        m.body
    );
    let history = listed(&api.get(&format!("/v1/contacts/{id}/lifecycle")).await, "lifecycle");
    let moves: Vec<String> = history
        .iter()
        .map(|t| format!("{}/{}", t["to"].as_str().unwrap(), t["cause"].as_str().unwrap()))
        .collect();
    assert_eq!(moves[1..], ["customer/order", "repeat_customer/order"], "{moves:?}");

    // Consent: granted to a good share, with when and where it was captured.
    let granted = json!({"rules": {"field": "consent.email_marketing", "op": "eq", "value": "granted"}, "limit": 500});
    let audience = listed(&api.post("/v1/contacts/search", granted).await, "search");
    assert!(audience.len() > 50, "{}", audience.len());
    let id = audience[0]["id"].as_str().unwrap();
    let states = listed(&api.get(&format!("/v1/contacts/{id}/consents")).await, "consents");
    let email = states.iter().find(|c| c["purpose"] == "email_marketing").unwrap();
    assert_eq!(email["status"], "granted", "{email}");
    assert!(
        ["form", "checkout"].contains(&email["source"].as_str().unwrap()),
        "{email}"
    );
    let withdrawn = json!({"rules": {"field": "consent.email_marketing", "op": "eq", "value": "withdrawn"}});
    assert!(!listed(&api.post("/v1/contacts/search", withdrawn).await, "search").is_empty());

    // Segments, with members.
    let segments = listed(&api.get("/v1/segments").await, "segments");
    let counts: Vec<(String, u64)> = segments
        .iter()
        .map(|s| {
            (
                s["name"].as_str().unwrap().to_owned(),
                s["member_count"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(counts.len(), 4, "{counts:?}");
    for (name, members) in &counts {
        assert!(*members > 0, "{name} has no members: {counts:?}");
    }

    // A second run finds the demo and adds nothing.
    let again = rapport(&s.db, &["seed", "--demo", "--contacts", "300"]);
    let w = succeeded(&again);
    assert!(w["skipped"].as_str().unwrap().contains("already holds the demo"), "{w}");
    assert_eq!((w["contacts"].clone(), w["orders"].clone()), (json!(0), json!(0)));
    let after = listed(&api.get("/v1/segments").await, "segments");
    assert_eq!(after, segments);
}

on_both_dbs!(
    migrate_reports_the_migrated_database,
    workspace_create_prints_the_new_workspace,
    client_create_on_an_empty_database_creates_the_first_workspace,
    client_create_refuses_unknown_scopes_and_workspaces,
    malformed_arguments_are_reported_as_an_error_object,
);

on_both!(
    client_create_prints_credentials_that_work_with_exactly_those_scopes,
    client_create_without_a_workspace_uses_the_first_one,
    export_schema_writes_the_schema_files_the_server_serves,
    seed_demo_fills_a_workspace_with_a_living_shop_once,
);
