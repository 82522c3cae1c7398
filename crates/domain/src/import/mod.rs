//! Bulk imports: what an import is (kind, format, CSV mapping) and how a CSV record
//! becomes the same JSON object an API request would carry, so every row goes through
//! the API's own validation and upserts.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use crate::attributes::{AttributeSchema, AttributeType};
use crate::error::{DomainError, FieldError, pointer_token};

/// What an import creates or updates.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Contacts,
    Companies,
    Orders,
}

impl Kind {
    pub const ALL: [Kind; 3] = [Kind::Contacts, Kind::Companies, Kind::Orders];

    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Contacts => "contacts",
            Kind::Companies => "companies",
            Kind::Orders => "orders",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

/// How the file is written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// One JSON object per line.
    Ndjson,
    /// RFC 4180 with a header row, read through a column mapping.
    Csv,
}

impl Format {
    pub fn as_str(self) -> &'static str {
        match self {
            Format::Ndjson => "ndjson",
            Format::Csv => "csv",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [Format::Ndjson, Format::Csv].into_iter().find(|f| f.as_str() == s)
    }
}

/// Where an import is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    AwaitingFile,
    Queued,
    Running,
    Completed,
    Failed,
    Cancelled,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::AwaitingFile => "awaiting_file",
            Status::Queued => "queued",
            Status::Running => "running",
            Status::Completed => "completed",
            Status::Failed => "failed",
            Status::Cancelled => "cancelled",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [
            Status::AwaitingFile,
            Status::Queued,
            Status::Running,
            Status::Completed,
            Status::Failed,
            Status::Cancelled,
        ]
        .into_iter()
        .find(|x| x.as_str() == s)
    }

    /// Whether the import ended (nothing more happens to it).
    pub fn is_final(self) -> bool {
        matches!(self, Status::Completed | Status::Failed | Status::Cancelled)
    }
}

/// Rows processed so far.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counts {
    /// Data rows read from the file.
    pub read: i64,
    pub created: i64,
    pub updated: i64,
    pub unchanged: i64,
    pub failed: i64,
}

/// An import job.
#[derive(Clone, Debug, PartialEq)]
pub struct Import {
    pub id: crate::ImportId,
    pub workspace_id: crate::WorkspaceId,
    pub spec: Spec,
    pub status: Status,
    /// Who started it (workspace, scopes and actor), so the job acts as them.
    pub caller: Value,
    pub file_bytes: Option<i64>,
    pub counts: Counts,
    /// The problem that ended a failed job.
    pub error: Option<Value>,
    pub cancel_requested: bool,
    pub created_at: chrono::DateTime<chrono::Utc>,
    pub started_at: Option<chrono::DateTime<chrono::Utc>>,
    pub finished_at: Option<chrono::DateTime<chrono::Utc>>,
}

/// One problem of one failed row.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RowError {
    /// 1-based data row (CSV: after the header; NDJSON: the line).
    pub row: i64,
    pub pointer: String,
    pub code: String,
    pub message: String,
}

/// Most row problems kept per import (counts stay exact past it).
pub const MAX_ROW_ERRORS: i64 = 10_000;

/// How a cell becomes a JSON value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Cell {
    Text,
    Integer,
    List,
    /// Typed by the attribute's declaration (text when undeclared: validation refuses it).
    Attribute,
}

/// The fields a CSV column may fill, per kind, and how their cells are read. Paths with
/// a trailing `.` take a key (`attributes.tier`, `external_ids.shop`).
fn targets(kind: Kind) -> &'static [(&'static str, Cell)] {
    match kind {
        Kind::Contacts => &[
            ("email", Cell::Text),
            ("phone", Cell::Text),
            ("first_name", Cell::Text),
            ("last_name", Cell::Text),
            ("locale", Cell::Text),
            ("country", Cell::Text),
            ("company_id", Cell::Text),
            ("owner_id", Cell::Text),
            ("lead_score", Cell::Integer),
            ("lifecycle_stage", Cell::Text),
            ("tags", Cell::List),
            ("attributes.", Cell::Attribute),
            ("external_ids.", Cell::Text),
        ],
        Kind::Companies => &[
            ("name", Cell::Text),
            ("domain", Cell::Text),
            ("industry", Cell::Text),
            ("size", Cell::Integer),
            ("attributes.", Cell::Attribute),
        ],
        Kind::Orders => &[
            ("source", Cell::Text),
            ("external_id", Cell::Text),
            ("status", Cell::Text),
            ("currency", Cell::Text),
            ("placed_at", Cell::Text),
            ("subtotal", Cell::Integer),
            ("discount_total", Cell::Integer),
            ("tax", Cell::Integer),
            ("shipping", Cell::Integer),
            ("total", Cell::Integer),
            ("refunded_total", Cell::Integer),
            ("discount_codes", Cell::List),
            ("customer.email", Cell::Text),
            ("customer.external_id", Cell::Text),
            ("customer.contact_id", Cell::Text),
            ("customer.first_name", Cell::Text),
            ("customer.last_name", Cell::Text),
            ("customer.phone", Cell::Text),
            ("lines.sku", Cell::Text),
            ("lines.name", Cell::Text),
            ("lines.quantity", Cell::Integer),
            ("lines.unit_price", Cell::Integer),
        ],
    }
}

fn cell_kind(kind: Kind, path: &str) -> Option<Cell> {
    targets(kind).iter().find_map(|(t, c)| {
        let fits = if t.ends_with('.') {
            path.strip_prefix(*t).is_some_and(|k| !k.is_empty() && !k.contains('.'))
        } else {
            path == *t
        };
        fits.then_some(*c)
    })
}

/// CSV reading options.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CsvOptions {
    /// Header → field path.
    pub mapping: BTreeMap<String, String>,
    pub delimiter: u8,
    pub list_separator: char,
}

/// A checked import definition.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Spec {
    pub kind: Kind,
    pub format: Format,
    /// Present exactly for CSV.
    pub csv: Option<CsvOptions>,
}

/// An import definition as requested.
#[derive(Clone, Debug, Default)]
pub struct SpecInput {
    pub kind: String,
    pub format: String,
    pub mapping: Option<BTreeMap<String, String>>,
    pub delimiter: Option<String>,
    pub list_separator: Option<String>,
}

fn one_char(s: Option<&str>, default: char, pointer: &str, errors: &mut Vec<FieldError>) -> char {
    let Some(s) = s else { return default };
    let mut chars = s.chars();
    match (chars.next(), chars.next()) {
        (Some(c), None) if c.is_ascii() && c != '"' && c != '\n' && c != '\r' => c,
        _ => {
            errors.push(FieldError::new(
                pointer,
                "invalid_value",
                "one ASCII character other than a quote or a line break",
            ));
            default
        }
    }
}

impl SpecInput {
    /// Checks the definition.
    /// # Errors
    /// `Invalid` with every problem, located by pointer.
    pub fn validate(self) -> Result<Spec, DomainError> {
        let mut errors = Vec::new();
        let kind = Kind::parse(&self.kind);
        if kind.is_none() {
            errors.push(FieldError::new(
                "/kind",
                "invalid_value",
                "one of contacts, companies, orders",
            ));
        }
        let format = Format::parse(&self.format);
        if format.is_none() {
            errors.push(FieldError::new("/format", "invalid_value", "one of ndjson, csv"));
        }
        let mut csv = None;
        match (format, self.mapping) {
            (Some(Format::Csv), None) => {
                errors.push(FieldError::new(
                    "/mapping",
                    "required",
                    "a CSV import maps its headers to fields",
                ));
            }
            (Some(Format::Ndjson), Some(_)) => {
                errors.push(FieldError::new(
                    "/mapping",
                    "not_allowed",
                    "NDJSON rows name their fields themselves",
                ));
            }
            (Some(Format::Csv), Some(mapping)) => {
                let delimiter = one_char(self.delimiter.as_deref(), ',', "/delimiter", &mut errors);
                let list_separator = one_char(self.list_separator.as_deref(), ';', "/list_separator", &mut errors);
                if let Some(kind) = kind {
                    check_mapping(kind, &mapping, &mut errors);
                }
                csv = Some(CsvOptions {
                    mapping,
                    delimiter: u8::try_from(delimiter).unwrap_or(b','),
                    list_separator,
                });
            }
            _ => {}
        }
        if format == Some(Format::Ndjson) {
            for (field, given) in [
                ("/delimiter", &self.delimiter),
                ("/list_separator", &self.list_separator),
            ] {
                if given.is_some() {
                    errors.push(FieldError::new(field, "not_allowed", "a CSV option"));
                }
            }
        }
        match (kind, format) {
            (Some(kind), Some(format)) if errors.is_empty() => Ok(Spec { kind, format, csv }),
            _ => Err(DomainError::Invalid(errors)),
        }
    }
}

fn check_mapping(kind: Kind, mapping: &BTreeMap<String, String>, errors: &mut Vec<FieldError>) {
    if mapping.is_empty() {
        errors.push(FieldError::new("/mapping", "required", "map at least one header"));
    }
    let mut seen = BTreeMap::new();
    for (header, path) in mapping {
        let at = format!("/mapping/{}", pointer_token(header));
        if cell_kind(kind, path).is_none() {
            errors.push(FieldError::new(
                at.clone(),
                "unknown_field",
                format!("'{path}' is not a field of {}", kind.as_str()),
            ));
        }
        if let Some(other) = seen.insert(path.clone(), header.clone()) {
            errors.push(FieldError::new(
                "/mapping",
                "invalid_value",
                format!("the headers '{other}' and '{header}' both map to '{path}'"),
            ));
        }
    }
}

/// Reads CSV records of one import: knows where each mapped header is and turns a record
/// into the JSON object of the field paths.
#[derive(Clone, Debug)]
pub struct CsvReader {
    kind: Kind,
    /// (column index, field path, header).
    columns: Vec<(usize, String, String)>,
    list_separator: char,
    attributes: AttributeSchema,
}

impl CsvReader {
    /// Locates the mapped headers in the file's header row.
    /// # Errors
    /// The mapped headers missing from the file.
    pub fn new(
        kind: Kind,
        options: &CsvOptions,
        header: &[&str],
        attributes: AttributeSchema,
    ) -> Result<Self, Vec<String>> {
        let mut columns = Vec::new();
        let mut missing = Vec::new();
        for (h, path) in &options.mapping {
            match header.iter().position(|x| x.trim() == h.trim()) {
                Some(i) => columns.push((i, path.clone(), h.clone())),
                None => missing.push(h.clone()),
            }
        }
        if missing.is_empty() {
            columns.sort();
            Ok(Self {
                kind,
                columns,
                list_separator: options.list_separator,
                attributes,
            })
        } else {
            Err(missing)
        }
    }

    /// The JSON object of one record. Empty cells are left out. Cells that do not read as
    /// their field's type are errors located at the field (`/lead_score`).
    /// # Errors
    /// Every cell that could not be read.
    pub fn object(&self, record: &[&str]) -> Result<Map<String, Value>, Vec<FieldError>> {
        let mut out = Map::new();
        let mut errors = Vec::new();
        for (i, path, _) in &self.columns {
            let raw = record.get(*i).map_or("", |s| s.trim());
            if raw.is_empty() {
                continue;
            }
            let pointer = format!("/{}", path.split('.').map(pointer_token).collect::<Vec<_>>().join("/"));
            match self.value(path, raw, &pointer) {
                Ok(v) => insert(&mut out, path, v),
                Err(e) => errors.push(e),
            }
        }
        if errors.is_empty() { Ok(out) } else { Err(errors) }
    }

    /// The `(source, external_id)` cells of a record, as written (an order's rows are
    /// grouped by them even when another of their cells cannot be read).
    pub fn raw_order_key(&self, record: &[&str]) -> Option<(String, String)> {
        let cell = |field: &str| {
            self.columns
                .iter()
                .find(|(_, path, _)| path == field)
                .and_then(|(i, _, _)| record.get(*i))
                .map(|s| s.trim())
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
        };
        Some((cell("source")?, cell("external_id")?))
    }

    fn value(&self, path: &str, raw: &str, pointer: &str) -> Result<Value, FieldError> {
        let kind = cell_kind(self.kind, path).unwrap_or(Cell::Text);
        let bad = |what: &str| FieldError::new(pointer, "invalid_value", format!("'{raw}' is not {what}"));
        match kind {
            Cell::Text => Ok(Value::String(raw.to_owned())),
            Cell::Integer => raw.parse::<i64>().map(Value::from).map_err(|_| bad("an integer")),
            Cell::List => Ok(Value::Array(
                raw.split(self.list_separator)
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(|s| Value::String(s.to_owned()))
                    .collect(),
            )),
            Cell::Attribute => {
                let key = path.split_once('.').map_or("", |(_, k)| k);
                match self.attributes.get(key).map(|d| d.kind) {
                    Some(AttributeType::Number) => raw
                        .parse::<f64>()
                        .ok()
                        .filter(|f| f.is_finite())
                        .and_then(|f| {
                            raw.parse::<i64>()
                                .map(Value::from)
                                .ok()
                                .or_else(|| serde_json::Number::from_f64(f).map(Value::Number))
                        })
                        .ok_or_else(|| bad("a number")),
                    Some(AttributeType::Boolean) => match raw.to_ascii_lowercase().as_str() {
                        "true" | "yes" | "1" => Ok(Value::Bool(true)),
                        "false" | "no" | "0" => Ok(Value::Bool(false)),
                        _ => Err(bad("a boolean (true/false, yes/no, 1/0)")),
                    },
                    _ => Ok(Value::String(raw.to_owned())),
                }
            }
        }
    }
}

/// The CSV header (of `mapping`) that a JSON pointer into a row's record comes from.
pub fn column_of<'a>(mapping: &'a BTreeMap<String, String>, pointer: &str) -> Option<&'a str> {
    let parts: Vec<&str> = pointer
        .trim_start_matches('/')
        .split('/')
        .filter(|p| p.parse::<usize>().is_err())
        .collect();
    mapping
        .iter()
        .find(|(_, path)| {
            let target: Vec<&str> = path.split('.').collect();
            parts.len() >= target.len() && parts[..target.len()] == target[..]
        })
        .map(|(h, _)| h.as_str())
}

/// Puts `v` at a dotted path. `lines.*` fields build the order's single line (rows of
/// one order are joined by [`join_order_lines`]).
fn insert(out: &mut Map<String, Value>, path: &str, v: Value) {
    match path.split_once('.') {
        Some(("lines", field)) => {
            let lines = out
                .entry("lines")
                .or_insert_with(|| Value::Array(vec![Value::Object(Map::new())]));
            if let Some(Value::Object(line)) = lines.as_array_mut().and_then(|a| a.first_mut()) {
                line.insert(field.to_owned(), v);
            }
        }
        Some((parent, key)) => {
            if let Value::Object(m) = out.entry(parent).or_insert_with(|| Value::Object(Map::new())) {
                m.insert(key.to_owned(), v);
            }
        }
        None => {
            out.insert(path.to_owned(), v);
        }
    }
}

/// Adds the line of a further row of the same order to the order read so far.
pub fn join_order_lines(order: &mut Map<String, Value>, mut row: Map<String, Value>) {
    let Some(Value::Array(more)) = row.remove("lines") else {
        return;
    };
    if let Value::Array(lines) = order.entry("lines").or_insert_with(|| Value::Array(Vec::new())) {
        lines.extend(more);
    }
}

#[cfg(test)]
mod tests;
