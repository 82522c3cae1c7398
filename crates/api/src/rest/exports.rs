//! `GET /v1/exports/contacts`: every contact as NDJSON or CSV, streamed.

use actix_web::{HttpResponse, get, web};
use futures_util::{StreamExt, stream};
use rapport_domain::SegmentId;
use rapport_domain::contact::Contact;
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::ReadErrors;
use crate::app::App;
use crate::auth::Caller;
use crate::dto::contacts::ContactDto;
use crate::error::ApiError;
use crate::service;

/// How an export is written.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum ExportFormat {
    /// One contact representation (as `GET /v1/contacts/{id}` returns it) per line.
    #[default]
    Ndjson,
    /// A header row, then one row per contact; tags, external ids and attributes as JSON.
    Csv,
}

/// What to export.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ExportQuery {
    /// `ndjson` (default) or `csv`.
    pub format: Option<ExportFormat>,
    /// Only the current members of this segment (needs `segments:read`).
    pub segment_id: Option<Uuid>,
}

/// The CSV columns, in order.
const COLUMNS: [&str; 18] = [
    "id",
    "email",
    "phone",
    "first_name",
    "last_name",
    "locale",
    "country",
    "company_id",
    "lifecycle_stage",
    "highest_stage",
    "lead_score",
    "owner_id",
    "tags",
    "external_ids",
    "attributes",
    "version",
    "created_at",
    "updated_at",
];

/// One CSV cell (RFC 4180): quoted when it holds a comma, quote, line break or edge
/// spaces, quotes doubled. Free text starting with `=`, `+`, `-`, `@`, tab or carriage
/// return is prefixed with `'` so a spreadsheet does not run it as a formula.
pub(crate) fn cell(out: &mut String, value: &str, free_text: bool) {
    let guarded;
    let value = if free_text && value.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        guarded = format!("'{value}");
        guarded.as_str()
    } else {
        value
    };
    if value.contains([',', '"', '\n', '\r']) || value.starts_with(' ') || value.ends_with(' ') {
        out.push('"');
        out.push_str(&value.replace('"', "\"\""));
        out.push('"');
    } else {
        out.push_str(value);
    }
}

fn csv_row(c: &Contact, out: &mut String) {
    let d = ContactDto::from(c);
    let text = |v: &Option<String>| v.clone().unwrap_or_default();
    let cells: [(String, bool); 18] = [
        (d.id.to_string(), false),
        (text(&d.email), true),
        (text(&d.phone), false),
        (text(&d.first_name), true),
        (text(&d.last_name), true),
        (text(&d.locale), false),
        (text(&d.country), false),
        (d.company_id.map(|i| i.to_string()).unwrap_or_default(), false),
        (c.stage.stage.as_str().to_owned(), false),
        (c.stage.highest.as_str().to_owned(), false),
        (d.lead_score.to_string(), false),
        (text(&d.owner_id), true),
        (json(&d.tags), false),
        (json(&d.external_ids), false),
        (json(&d.attributes), false),
        (d.version.to_string(), false),
        (d.created_at.to_rfc3339(), false),
        (d.updated_at.to_rfc3339(), false),
    ];
    for (i, (value, free_text)) in cells.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        cell(out, value, *free_text);
    }
    out.push_str("\r\n");
}

/// The JSON text of a structured cell.
fn json(v: &impl serde::Serialize) -> String {
    serde_json::to_string(v).unwrap_or_default()
}

/// A page of contacts in the export's format.
fn render(format: ExportFormat, page: &[Contact]) -> String {
    let mut out = String::with_capacity(page.len() * 512);
    for c in page {
        match format {
            ExportFormat::Ndjson => {
                out.push_str(&serde_json::to_string(&ContactDto::from(c)).unwrap_or_default());
                out.push('\n');
            }
            ExportFormat::Csv => csv_row(c, &mut out),
        }
    }
    out
}

/// Every live contact of the workspace, or the members of one segment, in id order, as
/// NDJSON (one contact per line, as `GET /v1/contacts/{id}` returns it) or CSV (RFC 4180
/// with a header row; tags, external ids and attributes as JSON). Streamed: contacts are
/// read 500 at a time as the client reads, so memory stays flat. A failure after the
/// first bytes ends the response early.
#[utoipa::path(get, path = "/v1/exports/contacts", tag = "contacts", params(ExportQuery),
    responses((status = 200, description = "The contacts", content((String = "application/x-ndjson"), (String = "text/csv"))), ReadErrors),
    security(("bearer" = ["contacts:read"])))]
#[get("/v1/exports/contacts")]
pub async fn contacts(
    app: web::Data<App>,
    who: Caller,
    query: web::Query<ExportQuery>,
) -> Result<HttpResponse, ApiError> {
    let format = query.format.unwrap_or_default();
    let pages = service::exports::contact_pages(app, who, query.segment_id.map(SegmentId::from_uuid)).await?;
    let header = match format {
        ExportFormat::Csv => format!("{}\r\n", COLUMNS.join(",")),
        ExportFormat::Ndjson => String::new(),
    };
    let body = stream::once(async move { Ok::<_, ApiError>(web::Bytes::from(header)) })
        .chain(pages.map(move |page| page.map(|page| web::Bytes::from(render(format, &page)))));
    let (content_type, file) = match format {
        ExportFormat::Ndjson => ("application/x-ndjson", "contacts.ndjson"),
        ExportFormat::Csv => ("text/csv; charset=utf-8", "contacts.csv"),
    };
    Ok(HttpResponse::Ok()
        .content_type(content_type)
        .insert_header((
            actix_web::http::header::CONTENT_DISPOSITION,
            format!("attachment; filename=\"{file}\""),
        ))
        .streaming(body))
}

#[cfg(test)]
mod tests {
    use super::cell;

    fn one(v: &str, free_text: bool) -> String {
        let mut s = String::new();
        cell(&mut s, v, free_text);
        s
    }

    #[test]
    fn cells_are_quoted_only_when_needed_and_formulas_are_defused() {
        assert_eq!(one("Ada", true), "Ada");
        assert_eq!(one("O'Brien, Jr.", true), "\"O'Brien, Jr.\"");
        assert_eq!(one("say \"hi\"", true), "\"say \"\"hi\"\"\"");
        assert_eq!(one("two\nlines", true), "\"two\nlines\"");
        assert_eq!(one(" padded", true), "\" padded\"");
        assert_eq!(one("=SUM(A1)", true), "'=SUM(A1)");
        assert_eq!(one("@cmd", true), "'@cmd");
        assert_eq!(one("+441234", false), "+441234");
        assert_eq!(one("", true), "");
    }
}
