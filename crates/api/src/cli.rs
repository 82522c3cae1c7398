//! The `rapport` command line. Every command but `serve` prints one JSON object on
//! stdout (scripts rely on it); failures print `{"error": …}` and exit with status 1.

use std::path::PathBuf;

use clap::{Parser, Subcommand};
use serde_json::{Value, json};

use crate::app::{self, App};
use crate::config::Settings;
use crate::error::ApiError;
use crate::service;

/// Rapport, a headless CRM.
#[derive(Debug, Parser)]
#[command(
    name = "rapport",
    version,
    about = "Rapport, a headless CRM: contacts, companies and lifecycle stages over REST and GraphQL."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Start the HTTP server (the default). Migrates the database first.
    Serve,
    /// Apply database migrations and exit.
    Migrate,
    /// Manage workspaces.
    Workspace {
        #[command(subcommand)]
        command: WorkspaceCommand,
    },
    /// Manage API clients.
    Client {
        #[command(subcommand)]
        command: ClientCommand,
    },
    /// Fill a workspace with realistic demo data (contacts, companies, tags, attributes,
    /// lifecycle stages). Seeded contact n has the id {id_prefix}{n as 12 hex digits} and
    /// the email c{n}@seed.example.
    Seed {
        /// The workspace; the first one (created if none exists) when absent.
        #[arg(long)]
        workspace: Option<uuid::Uuid>,
        /// Defaults to 1000 (3000 with --demo).
        #[arg(long)]
        contacts: Option<usize>,
        /// Defaults to one company per 50 contacts (per 20 with --demo).
        #[arg(long)]
        companies: Option<usize>,
        /// A living demo shop instead, written through the API's use cases: two years of
        /// orders with purchase metrics and lifecycle moves, consent decisions, segments.
        /// A workspace holds one demo: a second run adds nothing.
        #[arg(long)]
        demo: bool,
    },
    /// Check that the server at RAPPORT_LISTEN is ready (for container health checks).
    Healthcheck,
    /// Write schema/schema.graphql, schema/segment-rules.schema.json and openapi/openapi.json.
    ExportSchema {
        /// The directory holding schema/ and openapi/.
        #[arg(long, default_value = ".")]
        out: PathBuf,
    },
}

#[derive(Debug, Subcommand)]
pub enum WorkspaceCommand {
    /// Create a workspace.
    Create {
        #[arg(long)]
        name: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum ClientCommand {
    /// Create an API client and print its secret (shown once).
    Create {
        /// The workspace; the first one (created if none exists) when absent.
        #[arg(long)]
        workspace: Option<uuid::Uuid>,
        #[arg(long)]
        name: String,
        /// Space-separated scopes, e.g. "contacts:read contacts:write"; `admin` grants all.
        #[arg(long)]
        scopes: String,
    },
}

/// A command failure, printed as JSON.
#[derive(Debug)]
pub struct Failure(pub String);

impl From<ApiError> for Failure {
    fn from(e: ApiError) -> Self {
        match e {
            ApiError::Domain(rapport_domain::DomainError::Invalid(errs)) => {
                Failure(errs.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "))
            }
            other => Failure(other.to_string()),
        }
    }
}

impl From<app::StartError> for Failure {
    fn from(e: app::StartError) -> Self {
        Failure(e.to_string())
    }
}

impl From<rapport_store::StoreError> for Failure {
    fn from(e: rapport_store::StoreError) -> Self {
        Failure(e.to_string())
    }
}

fn print(v: &Value) {
    println!("{v}");
}

/// Runs a command other than `serve`.
/// # Errors
/// A failure to report.
pub async fn run(settings: Settings, command: Command) -> Result<(), Failure> {
    match command {
        Command::Serve => serve(settings).await,
        Command::Migrate => {
            let db = app::connect(&settings).await?;
            let backend = match db.backend() {
                rapport_store::Backend::Sqlite => "sqlite",
                rapport_store::Backend::Postgres => "postgres",
            };
            db.close().await;
            print(&json!({ "migrated": true, "database": backend }));
            Ok(())
        }
        Command::Workspace {
            command: WorkspaceCommand::Create { name },
        } => {
            let name = rapport_domain::text::required_text(&name, "/name", rapport_domain::text::MAX_NAME_CHARS)
                .map_err(|e| Failure(e.to_string()))?;
            let db = app::connect(&settings).await?;
            let tx = db.begin().await?;
            let ws = rapport_store::workspaces::create(&tx, &name).await?;
            service::commit(tx).await?;
            db.close().await;
            print(&json!({ "id": ws.id, "name": ws.name }));
            Ok(())
        }
        Command::Client {
            command:
                ClientCommand::Create {
                    workspace,
                    name,
                    scopes,
                },
        } => {
            let (name, scopes) = service::api_clients::validate(&name, &scopes)?;
            let db = app::connect(&settings).await?;
            let ws = workspace_or_first(&db, workspace).await?;
            let tx = db.begin().await?;
            let (client, secret) = service::api_clients::mint(&tx, ws.id, name, scopes).await?;
            service::commit(tx).await?;
            db.close().await;
            print(&json!({
                "client_id": client.id,
                "client_secret": secret,
                "workspace_id": client.workspace_id,
                "name": client.name,
                "scopes": client.scopes.names(),
            }));
            Ok(())
        }
        Command::Healthcheck => healthcheck(&settings.listen),
        Command::Seed {
            workspace,
            contacts,
            companies,
            demo,
        } => {
            if demo {
                seed_demo(settings, workspace, contacts, companies).await
            } else {
                seed(settings, workspace, contacts.unwrap_or(1000), companies).await
            }
        }
        Command::ExportSchema { out } => {
            let graphql = out.join("schema").join("schema.graphql");
            let openapi = out.join("openapi").join("openapi.json");
            let rules = out.join("schema").join("segment-rules.schema.json");
            let rules_text = serde_json::to_string_pretty(&crate::dto::segments::rule_schema_document())
                .map_err(|e| Failure(e.to_string()))?
                + "\n";
            for (path, text) in [
                (&graphql, crate::graphql::sdl()),
                (&openapi, crate::openapi::json()),
                (&rules, rules_text),
            ] {
                if let Some(dir) = path.parent() {
                    std::fs::create_dir_all(dir).map_err(|e| Failure(format!("{}: {e}", dir.display())))?;
                }
                std::fs::write(path, text).map_err(|e| Failure(format!("{}: {e}", path.display())))?;
            }
            print(&json!({ "graphql": graphql, "openapi": openapi, "segment_rules": rules }));
            Ok(())
        }
    }
}

/// `seed`: numbered contacts written in bulk, for benchmarks and scripts.
async fn seed(
    settings: Settings,
    workspace: Option<uuid::Uuid>,
    contacts: usize,
    companies: Option<usize>,
) -> Result<(), Failure> {
    let db = app::connect(&settings).await?;
    let ws = workspace_or_first(&db, workspace).await?;
    let companies = companies.unwrap_or(contacts / 50);
    let seeded = service::seed::run(&db, ws.id, contacts, companies).await?;
    db.close().await;
    print(&json!({
        "workspace_id": ws.id,
        "contacts": seeded.contacts,
        "companies": seeded.companies,
        "id_prefix": seeded.id_prefix,
        "seconds": seeded.seconds,
        "contacts_per_second": seeded.rate(),
    }));
    Ok(())
}

/// `seed --demo`: builds the application state as `serve` does, so the demo goes
/// through the same use cases as API calls.
async fn seed_demo(
    settings: Settings,
    workspace: Option<uuid::Uuid>,
    contacts: Option<usize>,
    companies: Option<usize>,
) -> Result<(), Failure> {
    let contacts = contacts.unwrap_or(service::demo::DEFAULT_CONTACTS);
    if contacts == 0 {
        return Err(Failure("--demo needs at least one contact".into()));
    }
    let companies = companies.unwrap_or(contacts / service::demo::CONTACTS_PER_COMPANY);
    let db = app::connect(&settings).await?;
    let ws = workspace_or_first(&db, workspace).await?;
    let app = App::build(settings, db).await?;
    let done = service::demo::run(&app, ws.id, contacts, companies).await;
    app.db.clone().close().await;
    let demo = done?;
    let mut out = json!({
        "workspace_id": ws.id,
        "demo": true,
        "contacts": demo.contacts,
        "companies": demo.companies,
        "orders": demo.orders,
        "consents": demo.consents,
        "segments": demo.segments,
        "seconds": demo.seconds,
    });
    if demo.created {
        out["churned"] = json!(demo.churned);
        out["stages"] = json!(demo.stages);
    } else {
        out["skipped"] = json!(format!(
            "workspace {} already holds the demo shop; nothing was added. For another one: \
             rapport workspace create --name Demo, then rapport seed --demo --workspace <its id>",
            ws.id
        ));
    }
    print(&out);
    Ok(())
}

/// The named workspace, or the first one (created when there is none).
async fn workspace_or_first(
    db: &rapport_store::Db,
    id: Option<uuid::Uuid>,
) -> Result<rapport_store::workspaces::Workspace, Failure> {
    match id {
        Some(id) => rapport_store::workspaces::get(db.read(), rapport_domain::WorkspaceId::from_uuid(id))
            .await
            .map_err(|_| Failure(format!("no workspace {id}"))),
        None => Ok(service::bootstrap::first_workspace(db).await?),
    }
}

/// Asks the local server's `/readyz`, with a short timeout.
fn healthcheck(listen: &str) -> Result<(), Failure> {
    use std::io::{Read, Write};
    use std::net::{SocketAddr, TcpStream};
    use std::time::Duration;
    let mut addr: SocketAddr = listen
        .parse()
        .map_err(|_| Failure(format!("listen address '{listen}' is not ip:port")))?;
    if addr.ip().is_unspecified() {
        addr.set_ip(std::net::Ipv4Addr::LOCALHOST.into());
    }
    let timeout = Duration::from_secs(3);
    let mut stream = TcpStream::connect_timeout(&addr, timeout).map_err(|e| Failure(format!("{addr}: {e}")))?;
    stream.set_read_timeout(Some(timeout)).ok();
    write!(
        stream,
        "GET /readyz HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .map_err(|e| Failure(e.to_string()))?;
    let mut reply = String::new();
    let _ = stream.read_to_string(&mut reply);
    if reply.starts_with("HTTP/1.1 200") {
        print(&json!({ "status": "ready" }));
        Ok(())
    } else {
        Err(Failure(format!(
            "{addr} is not ready: {}",
            reply.lines().next().unwrap_or("no answer")
        )))
    }
}

async fn serve(settings: Settings) -> Result<(), Failure> {
    let started = std::time::Instant::now();
    let db = app::connect(&settings).await?;
    if settings.bootstrap
        && let Some((ws, client, secret)) = service::bootstrap::first_run(&db).await?
    {
        tracing::info!(workspace_id = %ws.id, client_id = %client.id, "first start: created a workspace and an admin API client; its secret is printed on stdout this once");
        print(&json!({
            "bootstrap": {
                "workspace_id": ws.id,
                "client_id": client.id,
                "client_secret": secret,
                "scopes": client.scopes.names(),
            }
        }));
    }
    let app = App::build(settings, db).await?;
    let result = crate::serve(app, |addr| {
        tracing::info!(%addr, startup_ms = started.elapsed().as_millis(), "listening on http://{addr}");
    })
    .await;
    tracing::info!("stopped");
    result.map_err(|e| Failure(format!("server: {e}")))
}
