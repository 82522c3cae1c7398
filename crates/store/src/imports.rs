//! Import jobs and their per-row errors.

use chrono::{DateTime, Utc};
use rapport_domain::import::{Counts, CsvOptions, Format, Import, Kind, RowError, Spec, Status};
use rapport_domain::{ImportId, WorkspaceId};
use sea_orm::ActiveValue::Set;
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
use serde_json::{Value, json};

use crate::entity::{import as im, import_error as ie};
use crate::error::StoreError;
use crate::page::Page;

fn options_json(spec: &Spec) -> Value {
    match &spec.csv {
        Some(c) => json!({
            "mapping": c.mapping,
            "delimiter": char::from(c.delimiter).to_string(),
            "list_separator": c.list_separator.to_string(),
        }),
        None => json!({}),
    }
}

fn spec_of(kind: &str, format: &str, options: &Value) -> Result<Spec, StoreError> {
    let kind = Kind::parse(kind).ok_or_else(|| StoreError::corrupt(format!("import kind {kind}")))?;
    let format = Format::parse(format).ok_or_else(|| StoreError::corrupt(format!("import format {format}")))?;
    let csv = match format {
        Format::Ndjson => None,
        Format::Csv => {
            let mapping = serde_json::from_value(options.get("mapping").cloned().unwrap_or_default())
                .map_err(|e| StoreError::corrupt(format!("import mapping: {e}")))?;
            let ch = |k: &str, d: char| {
                options
                    .get(k)
                    .and_then(Value::as_str)
                    .and_then(|s| s.chars().next())
                    .unwrap_or(d)
            };
            Some(CsvOptions {
                mapping,
                delimiter: u8::try_from(ch("delimiter", ',')).unwrap_or(b','),
                list_separator: ch("list_separator", ';'),
            })
        }
    };
    Ok(Spec { kind, format, csv })
}

impl TryFrom<im::Model> for Import {
    type Error = StoreError;

    fn try_from(m: im::Model) -> Result<Self, StoreError> {
        Ok(Import {
            id: ImportId::from_uuid(m.id),
            workspace_id: WorkspaceId::from_uuid(m.workspace_id),
            spec: spec_of(&m.kind, &m.format, &m.options)?,
            status: Status::parse(&m.status)
                .ok_or_else(|| StoreError::corrupt(format!("import status {}", m.status)))?,
            caller: m.caller,
            file_bytes: m.file_bytes,
            counts: Counts {
                read: m.rows_read,
                created: m.rows_created,
                updated: m.rows_updated,
                unchanged: m.rows_unchanged,
                failed: m.rows_failed,
            },
            error: m.error,
            cancel_requested: m.cancel_requested,
            created_at: m.created_at,
            started_at: m.started_at,
            finished_at: m.finished_at,
        })
    }
}

/// Records a new import.
pub async fn insert(db: &impl ConnectionTrait, i: &Import) -> Result<(), StoreError> {
    im::Entity::insert(im::ActiveModel {
        workspace_id: Set(i.workspace_id.uuid()),
        id: Set(i.id.uuid()),
        kind: Set(i.spec.kind.as_str().to_owned()),
        format: Set(i.spec.format.as_str().to_owned()),
        status: Set(i.status.as_str().to_owned()),
        options: Set(options_json(&i.spec)),
        caller: Set(i.caller.clone()),
        file_bytes: Set(i.file_bytes),
        rows_read: Set(i.counts.read),
        rows_created: Set(i.counts.created),
        rows_updated: Set(i.counts.updated),
        rows_unchanged: Set(i.counts.unchanged),
        rows_failed: Set(i.counts.failed),
        error: Set(i.error.clone()),
        cancel_requested: Set(i.cancel_requested),
        created_at: Set(i.created_at),
        started_at: Set(i.started_at),
        finished_at: Set(i.finished_at),
        heartbeat_at: Set(None),
    })
    .exec_without_returning(db)
    .await?;
    Ok(())
}

/// One import of the workspace.
/// # Errors
/// `NotFound`.
pub async fn get(db: &impl ConnectionTrait, ws: WorkspaceId, id: ImportId) -> Result<Import, StoreError> {
    im::Entity::find_by_id((ws.uuid(), id.uuid()))
        .one(db)
        .await?
        .ok_or(StoreError::NotFound)?
        .try_into()
}

/// The workspace's imports of some kinds, newest first.
pub async fn list(
    db: &impl ConnectionTrait,
    ws: WorkspaceId,
    kinds: &[Kind],
    before: Option<uuid::Uuid>,
    limit: u64,
) -> Result<Page<Import>, StoreError> {
    let mut q = im::Entity::find()
        .filter(im::Column::WorkspaceId.eq(ws.uuid()))
        .filter(im::Column::Kind.is_in(kinds.iter().map(|k| k.as_str())));
    if let Some(b) = before {
        q = q.filter(im::Column::Id.lt(b));
    }
    let rows = q
        .order_by_desc(im::Column::Id)
        .limit(limit + 1)
        .all(db)
        .await?
        .into_iter()
        .map(Import::try_from)
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Page::from_rows(rows, limit))
}

fn one_import(ws: WorkspaceId, id: ImportId) -> sea_orm::UpdateMany<im::Entity> {
    im::Entity::update_many()
        .filter(im::Column::WorkspaceId.eq(ws.uuid()))
        .filter(im::Column::Id.eq(id.uuid()))
}

/// Marks the file received: `awaiting_file` → `queued`. False when it was not awaiting one.
pub async fn file_received(
    db: &impl ConnectionTrait,
    ws: WorkspaceId,
    id: ImportId,
    bytes: i64,
    now: DateTime<Utc>,
) -> Result<bool, StoreError> {
    let res = one_import(ws, id)
        .col_expr(im::Column::Status, Expr::value(Status::Queued.as_str()))
        .col_expr(im::Column::FileBytes, Expr::value(bytes))
        .col_expr(im::Column::HeartbeatAt, Expr::value(now))
        .filter(im::Column::Status.eq(Status::AwaitingFile.as_str()))
        .exec(db)
        .await?;
    Ok(res.rows_affected == 1)
}

/// `queued` → `running`. False when it is no longer queued (cancelled meanwhile).
pub async fn start(
    db: &impl ConnectionTrait,
    ws: WorkspaceId,
    id: ImportId,
    now: DateTime<Utc>,
) -> Result<bool, StoreError> {
    let res = one_import(ws, id)
        .col_expr(im::Column::Status, Expr::value(Status::Running.as_str()))
        .col_expr(im::Column::StartedAt, Expr::value(now))
        .col_expr(im::Column::HeartbeatAt, Expr::value(now))
        .filter(im::Column::Status.eq(Status::Queued.as_str()))
        .filter(im::Column::CancelRequested.eq(false))
        .exec(db)
        .await?;
    Ok(res.rows_affected == 1)
}

/// Stores the counts so far; answers whether a cancellation was asked for.
pub async fn progress(
    db: &impl ConnectionTrait,
    ws: WorkspaceId,
    id: ImportId,
    c: Counts,
    now: DateTime<Utc>,
) -> Result<bool, StoreError> {
    one_import(ws, id)
        .col_expr(im::Column::RowsRead, Expr::value(c.read))
        .col_expr(im::Column::RowsCreated, Expr::value(c.created))
        .col_expr(im::Column::RowsUpdated, Expr::value(c.updated))
        .col_expr(im::Column::RowsUnchanged, Expr::value(c.unchanged))
        .col_expr(im::Column::RowsFailed, Expr::value(c.failed))
        .col_expr(im::Column::HeartbeatAt, Expr::value(now))
        .exec(db)
        .await?;
    Ok(get(db, ws, id).await?.cancel_requested)
}

/// Ends a job with its final status (and the problem that failed it), unless it has
/// ended already (failed by the sweep, say).
pub async fn finish(
    db: &impl ConnectionTrait,
    ws: WorkspaceId,
    id: ImportId,
    status: Status,
    error: Option<Value>,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    one_import(ws, id)
        .col_expr(im::Column::Status, Expr::value(status.as_str()))
        .col_expr(im::Column::Error, Expr::value(error))
        .col_expr(im::Column::FinishedAt, Expr::value(now))
        .filter(im::Column::Status.is_in([Status::Queued.as_str(), Status::Running.as_str()]))
        .exec(db)
        .await?;
    Ok(())
}

/// Asks a job to stop: one still awaiting its file is cancelled at once, a queued or
/// running one stops after its current batch. False when it had already ended.
pub async fn request_cancel(
    db: &impl ConnectionTrait,
    ws: WorkspaceId,
    id: ImportId,
    now: DateTime<Utc>,
) -> Result<bool, StoreError> {
    let waiting = one_import(ws, id)
        .col_expr(im::Column::Status, Expr::value(Status::Cancelled.as_str()))
        .col_expr(im::Column::FinishedAt, Expr::value(now))
        .filter(im::Column::Status.eq(Status::AwaitingFile.as_str()))
        .exec(db)
        .await?;
    if waiting.rows_affected == 1 {
        return Ok(true);
    }
    let res = one_import(ws, id)
        .col_expr(im::Column::CancelRequested, Expr::value(true))
        .filter(im::Column::Status.is_in([Status::Queued.as_str(), Status::Running.as_str()]))
        .exec(db)
        .await?;
    Ok(res.rows_affected == 1)
}

/// Fails the jobs whose process stopped beating (it died mid-import): queued or
/// running with no progress since `before`. Returns how many.
pub async fn fail_abandoned(
    db: &impl ConnectionTrait,
    before: DateTime<Utc>,
    error: &Value,
    now: DateTime<Utc>,
) -> Result<u64, StoreError> {
    let res = im::Entity::update_many()
        .col_expr(im::Column::Status, Expr::value(Status::Failed.as_str()))
        .col_expr(im::Column::Error, Expr::value(error.clone()))
        .col_expr(im::Column::FinishedAt, Expr::value(now))
        .filter(im::Column::Status.is_in([Status::Queued.as_str(), Status::Running.as_str()]))
        .filter(im::Column::HeartbeatAt.lt(before))
        .exec(db)
        .await?;
    Ok(res.rows_affected)
}

/// Stores row problems numbered from `first_seq`.
pub async fn add_errors(
    db: &impl ConnectionTrait,
    ws: WorkspaceId,
    id: ImportId,
    first_seq: i64,
    errors: &[RowError],
) -> Result<(), StoreError> {
    let rows: Vec<(i64, &RowError)> = (first_seq..).zip(errors).collect();
    crate::page::insert_sized(
        db,
        &rows,
        |(_, e)| 120 + e.pointer.len() + e.code.len() + e.message.len(),
        |(seq, e)| ie::ActiveModel {
            workspace_id: Set(ws.uuid()),
            import_id: Set(id.uuid()),
            seq: Set(*seq),
            row: Set(e.row),
            pointer: Set(e.pointer.clone()),
            code: Set(e.code.clone()),
            message: Set(e.message.clone()),
        },
    )
    .await?;
    Ok(())
}

/// Row problems after sequence number `after`, in order.
pub async fn errors(
    db: &impl ConnectionTrait,
    ws: WorkspaceId,
    id: ImportId,
    after: i64,
    limit: u64,
) -> Result<Vec<(i64, RowError)>, StoreError> {
    Ok(ie::Entity::find()
        .filter(ie::Column::WorkspaceId.eq(ws.uuid()))
        .filter(ie::Column::ImportId.eq(id.uuid()))
        .filter(ie::Column::Seq.gt(after))
        .order_by_asc(ie::Column::Seq)
        .limit(limit)
        .all(db)
        .await?
        .into_iter()
        .map(|m| {
            (
                m.seq,
                RowError {
                    row: m.row,
                    pointer: m.pointer,
                    code: m.code,
                    message: m.message,
                },
            )
        })
        .collect())
}
