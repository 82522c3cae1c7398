//! `/v1/imports`: bulk import jobs.

use actix_web::http::header;
use actix_web::{HttpResponse, get, post, put, web};
use futures_util::{StreamExt, stream};
use rapport_domain::ImportId;
use rapport_domain::import::{Format, Import, column_of};
use serde::Deserialize;
use utoipa::IntoParams;
use uuid::Uuid;

use super::exports::{ExportFormat, cell};
use super::{ReadErrors, WriteErrors};
use crate::app::App;
use crate::auth::Caller;
use crate::dto::PageInfo;
use crate::dto::imports::{ImportCreate, ImportDto, ImportList, ImportRowError};
use crate::error::ApiError;
use crate::http::cursor;
use crate::http::json::Json;
use crate::service;

const LIST: &str = "imports";
/// Row problems read per step of the report's stream.
const ERRORS_PAGE: u64 = 1000;

/// Defines an import: what it creates or updates and how its file is written. Then
/// `PUT` the file to `upload_url` and follow `GET /v1/imports/{id}`.
#[utoipa::path(post, path = "/v1/imports", tag = "imports", request_body = ImportCreate,
    responses((status = 201, description = "Created, awaiting its file", body = ImportDto, headers(("Location" = String))), WriteErrors),
    security(("bearer" = ["contacts:write", "companies:write", "orders:write"])))]
#[post("/v1/imports")]
pub async fn create(app: web::Data<App>, who: Caller, body: Json<ImportCreate>) -> Result<HttpResponse, ApiError> {
    let i = service::imports::create(&app, &who, body.into_inner().into()).await?;
    Ok(HttpResponse::Created()
        .insert_header((header::LOCATION, format!("/v1/imports/{}", i.id)))
        .json(ImportDto::from(&i)))
}

/// Uploads an import's file (any size up to `RAPPORT_IMPORT_MAX_BYTES`, streamed to
/// disk) and starts the job: 202 with the import `queued`. One file per import.
#[utoipa::path(put, path = "/v1/imports/{id}/file", tag = "imports", params(("id" = Uuid, Path)),
    request_body(content = String, description = "The CSV or NDJSON file", content_type = "application/octet-stream"),
    responses((status = 202, description = "Received; the job runs", body = ImportDto), WriteErrors),
    security(("bearer" = ["contacts:write", "companies:write", "orders:write"])))]
#[put("/v1/imports/{id}/file")]
pub async fn upload(
    app: web::Data<App>,
    who: Caller,
    id: web::Path<Uuid>,
    body: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let i = service::imports::upload(app.into_inner(), &who, ImportId::from_uuid(*id), body).await?;
    Ok(HttpResponse::Accepted().json(ImportDto::from(&i)))
}

/// An import: its status and progress (`rows`), updated after every batch of 1000.
#[utoipa::path(get, path = "/v1/imports/{id}", tag = "imports", params(("id" = Uuid, Path)),
    responses((status = 200, body = ImportDto), ReadErrors),
    security(("bearer" = ["contacts:read", "companies:read", "orders:read"])))]
#[get("/v1/imports/{id}")]
pub async fn get(app: web::Data<App>, who: Caller, id: web::Path<Uuid>) -> Result<HttpResponse, ApiError> {
    let i = service::imports::get(&app, &who, ImportId::from_uuid(*id)).await?;
    Ok(HttpResponse::Ok().json(ImportDto::from(&i)))
}

/// Paging through imports.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ImportQuery {
    /// Page size, 1 to 500 (default 50).
    pub limit: Option<u64>,
    /// `page.next_cursor` of the previous page.
    pub after: Option<String>,
}

/// The workspace's imports, newest first.
#[utoipa::path(get, path = "/v1/imports", tag = "imports", params(ImportQuery),
    responses((status = 200, body = ImportList), ReadErrors),
    security(("bearer" = ["contacts:read", "companies:read", "orders:read"])))]
#[get("/v1/imports")]
pub async fn list(app: web::Data<App>, who: Caller, query: web::Query<ImportQuery>) -> Result<HttpResponse, ApiError> {
    let before = cursor::decode_id(query.after.as_deref(), LIST)?;
    let limit = service::page_size(query.limit)?;
    let page = service::imports::list(&app, &who, before, limit).await?;
    let next_cursor = page
        .has_more
        .then(|| page.items.last().map(|i| cursor::encode_id(LIST, i.id.uuid())))
        .flatten();
    Ok(HttpResponse::Ok().json(ImportList {
        data: page.items.iter().map(ImportDto::from).collect(),
        page: PageInfo {
            next_cursor,
            has_more: page.has_more,
        },
    }))
}

/// Stops a queued or running import after its current batch (`cancelled`).
#[utoipa::path(post, path = "/v1/imports/{id}/cancel", tag = "imports", params(("id" = Uuid, Path)),
    responses((status = 200, body = ImportDto), WriteErrors),
    security(("bearer" = ["contacts:write", "companies:write", "orders:write"])))]
#[post("/v1/imports/{id}/cancel")]
pub async fn cancel(app: web::Data<App>, who: Caller, id: web::Path<Uuid>) -> Result<HttpResponse, ApiError> {
    let i = service::imports::cancel(&app, &who, ImportId::from_uuid(*id)).await?;
    Ok(HttpResponse::Ok().json(ImportDto::from(&i)))
}

/// How to write the error report.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ErrorsQuery {
    /// `ndjson` (default) or `csv`.
    pub format: Option<ExportFormat>,
}

const ERROR_COLUMNS: [&str; 5] = ["row", "pointer", "column", "code", "message"];

fn render(format: ExportFormat, problems: &[ImportRowError]) -> String {
    let mut out = String::new();
    for e in problems {
        match format {
            ExportFormat::Ndjson => {
                out.push_str(&serde_json::to_string(e).unwrap_or_default());
                out.push('\n');
            }
            ExportFormat::Csv => {
                let cells = [
                    e.row.to_string(),
                    e.pointer.clone(),
                    e.column.clone().unwrap_or_default(),
                    e.code.clone(),
                    e.message.clone(),
                ];
                for (i, c) in cells.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    cell(&mut out, c, i >= 1);
                }
                out.push_str("\r\n");
            }
        }
    }
    out
}

fn row_errors(i: &Import, found: Vec<(i64, rapport_domain::import::RowError)>) -> Vec<ImportRowError> {
    found
        .into_iter()
        .map(|(_, e)| {
            let column = match (&i.spec.format, &i.spec.csv) {
                (Format::Csv, Some(c)) => column_of(&c.mapping, &e.pointer).map(str::to_owned),
                _ => None,
            };
            ImportRowError::new(e, column)
        })
        .collect()
}

/// The problems of the failed rows, in row order, as NDJSON or CSV (streamed; at most
/// 10,000 are kept per import, the counts stay exact).
#[utoipa::path(get, path = "/v1/imports/{id}/errors", tag = "imports", params(("id" = Uuid, Path), ErrorsQuery),
    responses((status = 200, description = "The row problems", content((ImportRowError = "application/x-ndjson"), (String = "text/csv"))), ReadErrors),
    security(("bearer" = ["contacts:read", "companies:read", "orders:read"])))]
#[get("/v1/imports/{id}/errors")]
pub async fn errors(
    app: web::Data<App>,
    who: Caller,
    id: web::Path<Uuid>,
    query: web::Query<ErrorsQuery>,
) -> Result<HttpResponse, ApiError> {
    let id = ImportId::from_uuid(*id);
    let import = service::imports::get(&app, &who, id).await?;
    let format = query.format.unwrap_or_default();
    let header = match format {
        ExportFormat::Csv => format!("{}\r\n", ERROR_COLUMNS.join(",")),
        ExportFormat::Ndjson => String::new(),
    };
    let pages = stream::unfold(Some(0_i64), move |after| {
        let app = app.clone();
        let who = who.clone();
        let import = import.clone();
        async move {
            let after = after?;
            match service::imports::errors(&app, &who, id, after, ERRORS_PAGE).await {
                Ok(page) if page.is_empty() => None,
                Ok(page) => {
                    let last = page.last().map(|(seq, _)| *seq);
                    let full = page.len() as u64 == ERRORS_PAGE;
                    let text = render(format, &row_errors(&import, page));
                    Some((Ok(web::Bytes::from(text)), last.filter(|_| full)))
                }
                Err(e) => Some((Err(e), None)),
            }
        }
    });
    let body = stream::once(async move { Ok::<_, ApiError>(web::Bytes::from(header)) }).chain(pages);
    let (content_type, file) = match format {
        ExportFormat::Ndjson => ("application/x-ndjson", "errors.ndjson"),
        ExportFormat::Csv => ("text/csv; charset=utf-8", "errors.csv"),
    };
    Ok(HttpResponse::Ok()
        .content_type(content_type)
        .insert_header((header::CONTENT_DISPOSITION, format!("attachment; filename=\"{file}\"")))
        .streaming(body))
}
