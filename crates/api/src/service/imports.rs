//! Bulk imports: a job defined first, its file uploaded (streamed to disk), then run in
//! the background (see `import_job`) while the caller polls its progress.

use std::path::PathBuf;
use std::sync::Arc;

use actix_web::web::Bytes;
use futures_util::{Stream, StreamExt};
use rapport_domain::ImportId;
use rapport_domain::event::{Actor, ActorKind};
use rapport_domain::import::{Counts, Import, Kind, RowError, SpecInput, Status};
use rapport_domain::scope::{Scope, ScopeSet};
use rapport_store::imports;
use rapport_store::page::Page;
use serde_json::{Value, json};
use tokio::io::AsyncWriteExt;

use crate::app::App;
use crate::auth::Caller;
use crate::error::{ApiError, OrNotFound};

/// The scope that writes records of `kind`.
pub fn write_scope(kind: Kind) -> Scope {
    match kind {
        Kind::Contacts => Scope::ContactsWrite,
        Kind::Companies => Scope::CompaniesWrite,
        Kind::Orders => Scope::OrdersWrite,
    }
}

fn read_scope(kind: Kind) -> Scope {
    match kind {
        Kind::Contacts => Scope::ContactsRead,
        Kind::Companies => Scope::CompaniesRead,
        Kind::Orders => Scope::OrdersRead,
    }
}

/// Who started an import, kept with it so that the job acts as them.
fn caller_json(who: &Caller) -> Value {
    json!({
        "scopes": who.scopes().names().join(" "),
        "actor": { "type": who.actor().kind.as_str(), "id": who.actor().id },
    })
}

/// The caller an import's job acts as.
pub(crate) fn caller_of(i: &Import) -> Caller {
    let c = &i.caller;
    let scopes = ScopeSet::parse_lenient(c["scopes"].as_str().unwrap_or_default());
    let actor = Actor {
        kind: c["actor"]["type"]
            .as_str()
            .and_then(ActorKind::parse)
            .unwrap_or(ActorKind::System),
        id: c["actor"]["id"].as_str().map(str::to_owned),
    };
    Caller::new(i.workspace_id, scopes, actor)
}

/// Defines an import; it waits for its file.
/// # Errors
/// 422 for a bad definition; 403 without the kind's write scope.
pub async fn create(app: &App, who: &Caller, input: SpecInput) -> Result<Import, ApiError> {
    let spec = input.validate()?;
    who.require(write_scope(spec.kind))?;
    let i = Import {
        id: ImportId::new(),
        workspace_id: who.workspace(),
        spec,
        status: Status::AwaitingFile,
        caller: caller_json(who),
        file_bytes: None,
        counts: Counts::default(),
        error: None,
        cancel_requested: false,
        created_at: rapport_store::now(),
        started_at: None,
        finished_at: None,
    };
    let tx = app.db.begin().await?;
    imports::insert(&tx, &i).await?;
    super::commit(tx).await?;
    Ok(i)
}

/// One import, for a caller who may read or write its kind.
/// # Errors
/// 404; 403 without the kind's read or write scope.
pub async fn get(app: &App, who: &Caller, id: ImportId) -> Result<Import, ApiError> {
    let i = imports::get(app.db.read(), who.workspace(), id)
        .await
        .or_not_found("import")?;
    if !who.scopes().grants(read_scope(i.spec.kind)) {
        who.require(write_scope(i.spec.kind))?;
    }
    Ok(i)
}

/// The workspace's imports, newest first (those of kinds the caller may read or write).
/// # Errors
/// 403 when the caller may read no kind at all.
pub async fn list(app: &App, who: &Caller, before: Option<uuid::Uuid>, limit: u64) -> Result<Page<Import>, ApiError> {
    let may = |k: &Kind| who.scopes().grants(read_scope(*k)) || who.scopes().grants(write_scope(*k));
    let kinds: Vec<Kind> = Kind::ALL.into_iter().filter(may).collect();
    if kinds.is_empty() {
        who.require(Scope::ContactsRead)?;
    }
    Ok(imports::list(app.db.read(), who.workspace(), &kinds, before, limit).await?)
}

/// A new file for an upload of `i`, named `{workspace}_{import}_{nonce}`: two uploads
/// at once never share a file, and the sweep reads the import back from the name.
fn file_of(app: &App, i: &Import) -> PathBuf {
    app.settings
        .import_dir
        .join(format!("{}_{}_{}", i.workspace_id, i.id, uuid::Uuid::new_v4().simple()))
}

/// Receives an import's file (streamed to disk) and starts its job.
/// # Errors
/// 404; 403; 409 `import_file_received` when it has one already; 413 past
/// `import_max_bytes`.
pub async fn upload<S, E>(app: Arc<App>, who: &Caller, id: ImportId, mut body: S) -> Result<Import, ApiError>
where
    S: Stream<Item = Result<Bytes, E>> + Unpin,
    E: std::fmt::Display,
{
    let i = imports::get(app.db.read(), who.workspace(), id)
        .await
        .or_not_found("import")?;
    who.require(write_scope(i.spec.kind))?;
    let received = || ApiError::Refused {
        code: "import_file_received",
        detail: "this import has its file already; create another import to run a file again".into(),
    };
    // Cancelled before it got a file: there is nothing to run it for.
    if i.status.is_final() && i.file_bytes.is_none() {
        return Err(ApiError::Refused {
            code: "import_finished",
            detail: format!("the import has ended ({})", i.status.as_str()),
        });
    }
    if i.status != Status::AwaitingFile {
        return Err(received());
    }
    let path = file_of(&app, &i);
    let bytes = spool(&app, &path, &mut body).await.inspect_err(|_| remove(&path))?;
    let bytes = i64::try_from(bytes).unwrap_or(i64::MAX);
    let queued = async {
        let tx = app.db.begin().await?;
        let queued = imports::file_received(&tx, who.workspace(), id, bytes, rapport_store::now()).await?;
        super::commit(tx).await?;
        Ok::<bool, ApiError>(queued)
    }
    .await
    .inspect_err(|_| remove(&path))?;
    if !queued {
        // Another upload of this import got there first; its own file stays.
        remove(&path);
        return Err(received());
    }
    let ws = who.workspace();
    let job = app.clone();
    tokio::spawn(async move { super::import_job::run(job, ws, id, path).await });
    Ok(Import {
        status: Status::Queued,
        file_bytes: Some(bytes),
        ..i
    })
}

/// Writes the body to `path`; the number of bytes written.
async fn spool<S, E>(app: &App, path: &std::path::Path, body: &mut S) -> Result<u64, ApiError>
where
    S: Stream<Item = Result<Bytes, E>> + Unpin,
    E: std::fmt::Display,
{
    let io = |e: std::io::Error| ApiError::Internal(format!("import file {}: {e}", path.display()));
    // Customer data: readable by the server's user only.
    let mut dir = std::fs::DirBuilder::new();
    dir.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut dir, 0o700);
    dir.create(&app.settings.import_dir).map_err(io)?;
    let mut open = tokio::fs::OpenOptions::new();
    open.write(true).create_new(true);
    #[cfg(unix)]
    open.mode(0o600);
    let mut file = open.open(path).await.map_err(io)?;
    let mut total: u64 = 0;
    while let Some(chunk) = body.next().await {
        let chunk =
            chunk.map_err(|e| ApiError::bad_request("invalid_request", format!("the upload broke off: {e}")))?;
        total += chunk.len() as u64;
        if total > app.settings.import_max_bytes {
            return Err(ApiError::PayloadTooLarge {
                limit: usize::try_from(app.settings.import_max_bytes).unwrap_or(usize::MAX),
            });
        }
        file.write_all(&chunk).await.map_err(io)?;
    }
    file.flush().await.map_err(io)?;
    Ok(total)
}

/// Removes an upload's file, logging a failure (a leftover is swept later).
fn remove(path: &std::path::Path) {
    if let Err(e) = std::fs::remove_file(path)
        && e.kind() != std::io::ErrorKind::NotFound
    {
        tracing::warn!(file = %path.display(), error = %e, "could not remove an import file");
    }
}

/// Asks an import to stop.
/// # Errors
/// 404; 403; 409 `import_finished` when it has ended.
pub async fn cancel(app: &App, who: &Caller, id: ImportId) -> Result<Import, ApiError> {
    let i = imports::get(app.db.read(), who.workspace(), id)
        .await
        .or_not_found("import")?;
    who.require(write_scope(i.spec.kind))?;
    let tx = app.db.begin().await?;
    let asked = imports::request_cancel(&tx, who.workspace(), id, rapport_store::now()).await?;
    super::commit(tx).await?;
    if !asked {
        return Err(ApiError::Refused {
            code: "import_finished",
            detail: format!("the import has ended ({})", i.status.as_str()),
        });
    }
    Ok(imports::get(app.db.read(), who.workspace(), id).await?)
}

/// A page of an import's row problems after sequence number `after`.
/// # Errors
/// As [`get`].
pub async fn errors(
    app: &App,
    who: &Caller,
    id: ImportId,
    after: i64,
    limit: u64,
) -> Result<Vec<(i64, RowError)>, ApiError> {
    get(app, who, id).await?;
    Ok(imports::errors(app.db.read(), who.workspace(), id, after, limit).await?)
}

/// Fails the imports of processes that stopped while running them (no progress for
/// ten minutes); their files are gone with them.
pub async fn fail_abandoned(app: &App) {
    let now = rapport_store::now();
    let error = json!({
        "type": "/problems/import_interrupted",
        "code": "import_interrupted",
        "detail": "the server running this import stopped; rows applied so far stay applied, run the file again in a new import (records already imported come out unchanged)",
    });
    let r = async {
        let tx = app.db.begin().await?;
        let n = imports::fail_abandoned(&tx, now - chrono::Duration::minutes(10), &error, now).await?;
        tx.commit().await.map_err(rapport_store::StoreError::from)?;
        Ok::<u64, rapport_store::StoreError>(n)
    }
    .await;
    match r {
        Ok(0) => {}
        Ok(n) => tracing::warn!(imports = n, "failed imports whose server stopped"),
        Err(e) => tracing::error!(error = %e, "import sweep failed"),
    }
    remove_leftovers(app).await;
}

/// Removes the files in the import directory whose import has ended (a server that
/// stopped mid-import leaves its file behind). Files of imports still waiting, queued
/// or running stay, and so do files of imports this database does not hold.
async fn remove_leftovers(app: &App) {
    let Ok(entries) = std::fs::read_dir(&app.settings.import_dir) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let mut parts = name.to_str().unwrap_or_default().split('_');
        let (Some(ws), Some(id)) = (
            parts.next().and_then(|p| p.parse::<uuid::Uuid>().ok()),
            parts.next().and_then(|p| p.parse::<uuid::Uuid>().ok()),
        ) else {
            continue;
        };
        let ws = rapport_domain::WorkspaceId::from_uuid(ws);
        // A file of an import this database does not know may be another server's
        // (several can share the directory): only files of ended imports go.
        let ended = imports::get(app.db.read(), ws, ImportId::from_uuid(id))
            .await
            .is_ok_and(|i| i.status.is_final());
        if ended {
            remove(&entry.path());
        }
    }
}
