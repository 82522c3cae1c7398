//! Bulk import representations.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use rapport_domain::import::{Import, RowError, SpecInput};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::list_type;

/// `POST /v1/imports`: what to import and how the file is written.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ImportCreate {
    /// `contacts`, `companies` or `orders`.
    pub kind: String,
    /// `ndjson` (one API request body per line) or `csv` (with `mapping`).
    pub format: String,
    /// CSV only: header → field path (`email`, `attributes.tier`, `external_ids.shop`,
    /// `customer.email`, `lines.sku` …).
    pub mapping: Option<BTreeMap<String, String>>,
    /// CSV only: the field delimiter (default `,`).
    pub delimiter: Option<String>,
    /// CSV only: what separates the items of `tags` and `discount_codes` cells (default `;`).
    pub list_separator: Option<String>,
}

impl From<ImportCreate> for SpecInput {
    fn from(b: ImportCreate) -> Self {
        Self {
            kind: b.kind,
            format: b.format,
            mapping: b.mapping,
            delimiter: b.delimiter,
            list_separator: b.list_separator,
        }
    }
}

/// Rows processed so far.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct ImportRows {
    /// Data rows read from the file (the CSV header excluded).
    pub read: i64,
    pub created: i64,
    pub updated: i64,
    /// Records that were already as the file says (a re-run of a file).
    pub unchanged: i64,
    /// Records refused; their problems are in `GET /v1/imports/{id}/errors`.
    pub failed: i64,
}

/// An import job.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct ImportDto {
    pub id: Uuid,
    pub kind: String,
    pub format: String,
    /// `awaiting_file`, `queued`, `running`, `completed`, `failed` or `cancelled`.
    pub status: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mapping: Option<BTreeMap<String, String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub delimiter: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub list_separator: Option<String>,
    /// The size of the uploaded file.
    pub file_bytes: Option<i64>,
    pub rows: ImportRows,
    /// Set when cancellation was asked for and the job has not stopped yet.
    pub cancel_requested: bool,
    /// Why the job failed (a problem document), when it did.
    #[schema(value_type = Option<Object>)]
    pub error: Option<serde_json::Value>,
    /// Where to `PUT` the file.
    pub upload_url: String,
    /// Where the row problems are.
    pub errors_url: String,
    pub created_at: DateTime<Utc>,
    pub started_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
}

impl From<&Import> for ImportDto {
    fn from(i: &Import) -> Self {
        let csv = i.spec.csv.as_ref();
        Self {
            id: i.id.uuid(),
            kind: i.spec.kind.as_str().to_owned(),
            format: i.spec.format.as_str().to_owned(),
            status: i.status.as_str().to_owned(),
            mapping: csv.map(|c| c.mapping.clone()),
            delimiter: csv.map(|c| char::from(c.delimiter).to_string()),
            list_separator: csv.map(|c| c.list_separator.to_string()),
            file_bytes: i.file_bytes,
            rows: ImportRows {
                read: i.counts.read,
                created: i.counts.created,
                updated: i.counts.updated,
                unchanged: i.counts.unchanged,
                failed: i.counts.failed,
            },
            cancel_requested: i.cancel_requested && !i.status.is_final(),
            error: i.error.clone(),
            upload_url: format!("/v1/imports/{}/file", i.id),
            errors_url: format!("/v1/imports/{}/errors", i.id),
            created_at: i.created_at,
            started_at: i.started_at,
            finished_at: i.finished_at,
        }
    }
}

list_type!(ImportList, ImportDto);

/// One problem of one failed row.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct ImportRowError {
    /// 1-based: the data row of a CSV file (the header is not counted; for orders, the
    /// order's first row), the line of an NDJSON file.
    pub row: i64,
    /// JSON pointer into the row's record; empty for the whole row.
    pub pointer: String,
    /// The CSV header the pointer comes from.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub column: Option<String>,
    pub code: String,
    pub message: String,
}

impl ImportRowError {
    pub fn new(e: RowError, column: Option<String>) -> Self {
        Self {
            row: e.row,
            pointer: e.pointer,
            column,
            code: e.code,
            message: e.message,
        }
    }
}
