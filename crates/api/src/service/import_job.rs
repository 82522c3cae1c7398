//! Running an import: a blocking reader parses the file into records (CSV through the
//! mapping, NDJSON line by line) and hands them over in batches; each batch goes through
//! the API's own upserts, and the job's counts and row problems are stored after it.
//! The file is read as a stream: memory holds a batch or two, whatever the file's size,
//! and one record (an NDJSON line, a CSV row) may be as large as a request body
//! (`max_body_bytes`), no larger.

use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rapport_domain::attributes::{AttributeEntity, AttributeSchema};
use rapport_domain::import::{self, Counts, CsvReader, Format, Import, Kind, MAX_ROW_ERRORS, RowError, Status};
use rapport_domain::{ImportId, WorkspaceId};
use rapport_store::{attributes, imports};
use serde_json::{Map, Value, json};
use tokio::sync::mpsc;

use super::Outcome;
use crate::app::App;
use crate::auth::Caller;
use crate::dto::companies::CompanyWrite;
use crate::dto::contacts::ContactWrite;
use crate::dto::orders::OrderWrite;
use crate::error::ApiError;

/// Records per batch (the API's batch size).
const BATCH: usize = 1000;

/// One record read from the file: where it starts, and its object or why it has none.
struct Record {
    row: i64,
    object: Result<Map<String, Value>, Vec<RowError>>,
}

/// What the reader hands over.
enum Read {
    /// Records, and the data rows read so far.
    Batch(Vec<Record>, i64),
    /// The file cannot be read on: the job fails with this code and detail.
    Fatal(&'static str, String),
}

/// Runs an import to its end and removes its file.
pub async fn run(app: Arc<App>, ws: WorkspaceId, id: ImportId, path: PathBuf) {
    let outcome = execute(&app, ws, id, &path).await;
    let now = rapport_store::now();
    let (status, error) = match outcome {
        Ok(status) => (status, None),
        Err(Failure::File(code, detail)) => (
            Status::Failed,
            Some(json!({ "type": format!("/problems/{code}"), "code": code, "detail": detail })),
        ),
        Err(Failure::Api(e)) => {
            tracing::error!(import = %id, error = %e, "import failed");
            (
                Status::Failed,
                Some(serde_json::to_value(e.problem()).unwrap_or_default()),
            )
        }
    };
    let finished = async {
        let tx = app.db.begin().await?;
        imports::finish(&tx, ws, id, status, error, now).await?;
        tx.commit().await.map_err(rapport_store::StoreError::from)
    }
    .await;
    if let Err(e) = finished {
        tracing::error!(import = %id, error = %e, "could not record the end of an import");
    }
    if let Err(e) = tokio::fs::remove_file(&path).await {
        tracing::warn!(import = %id, error = %e, "could not remove an import file");
    }
}

enum Failure {
    File(&'static str, String),
    Api(ApiError),
}

impl<E: Into<ApiError>> From<E> for Failure {
    fn from(e: E) -> Self {
        Failure::Api(e.into())
    }
}

async fn execute(app: &App, ws: WorkspaceId, id: ImportId, path: &Path) -> Result<Status, Failure> {
    let tx = app.db.begin().await?;
    let started = imports::start(&tx, ws, id, rapport_store::now()).await?;
    super::commit(tx).await?;
    if !started {
        return Ok(Status::Cancelled);
    }
    let import = imports::get(app.db.read(), ws, id).await?;
    let who = super::imports::caller_of(&import);
    let entity = match import.spec.kind {
        Kind::Companies => AttributeEntity::Company,
        _ => AttributeEntity::Contact,
    };
    let schema = attributes::schema(app.db.read(), ws, entity).await?;
    let (tx, mut rx) = mpsc::channel::<Read>(2);
    let reader = {
        let import = import.clone();
        let path = path.to_owned();
        let limit = app.settings.max_body_bytes;
        tokio::task::spawn_blocking(move || read_file(&import, &path, schema, limit, &tx))
    };
    let mut counts = Counts::default();
    let mut stored_errors: i64 = 0;
    let mut status = Status::Completed;
    let mut batches: u64 = 0;
    while let Some(msg) = rx.recv().await {
        match msg {
            Read::Fatal(code, detail) => return Err(Failure::File(code, detail)),
            Read::Batch(records, read) => {
                counts.read = read;
                let problems = apply(app, &who, import.spec.kind, records, &mut counts).await?;
                batches += 1;
                // The tables grow by orders of magnitude: statistics after batches 1, 2,
                // 4, 8 … keep the plans of the next batches' look-ups right.
                if batches.is_power_of_two()
                    && let Err(e) = app.db.analyze(looked_up_tables(import.spec.kind)).await
                {
                    tracing::warn!(import = %id, error = %e, "could not refresh table statistics");
                }
                let keep = usize::try_from((MAX_ROW_ERRORS - stored_errors).max(0)).unwrap_or(0);
                let kept: Vec<RowError> = problems.into_iter().take(keep).collect();
                let tx = app.db.begin().await?;
                imports::add_errors(&tx, ws, id, stored_errors + 1, &kept).await?;
                let cancel = imports::progress(&tx, ws, id, counts, rapport_store::now()).await?;
                super::commit(tx).await?;
                stored_errors += i64::try_from(kept.len()).unwrap_or(0);
                if cancel {
                    status = Status::Cancelled;
                    break;
                }
            }
        }
    }
    drop(rx);
    if let Err(e) = reader.await {
        // The reader stopped early (a panic): what it had not read was not applied.
        return Err(Failure::Api(ApiError::Internal(format!(
            "the import file reader failed: {e}"
        ))));
    }
    Ok(status)
}

/// The tables whose look-ups the next batches of an import of `kind` plan: those the
/// batches read records by (the tables only written to, such as `events`, need no fresh
/// statistics).
fn looked_up_tables(kind: Kind) -> &'static [&'static str] {
    match kind {
        Kind::Contacts => &["contacts", "contact_external_ids", "contact_external_id_aliases"],
        Kind::Companies => &["companies"],
        Kind::Orders => &[
            "orders",
            "contacts",
            "contact_external_ids",
            "contact_external_id_aliases",
            "contact_metrics",
        ],
    }
}

/// Applies one batch; counts what happened and returns the problems of failed rows.
async fn apply(
    app: &App,
    who: &Caller,
    kind: Kind,
    records: Vec<Record>,
    counts: &mut Counts,
) -> Result<Vec<RowError>, ApiError> {
    let rows: Vec<i64> = records.iter().map(|r| r.row).collect();
    let mut problems = Vec::new();
    let objects: Vec<Result<Map<String, Value>, Vec<RowError>>> = records.into_iter().map(|r| r.object).collect();
    // Rows that could not even be read fail here; the others go through the API's path.
    let mut pending = Vec::new();
    for (row, o) in rows.iter().zip(objects) {
        match o {
            Ok(m) => pending.push((*row, m)),
            Err(errors) => {
                counts.failed += 1;
                problems.extend(errors);
            }
        }
    }
    let mut count = |row: i64, r: Result<Outcome, ApiError>, problems: &mut Vec<RowError>| match r {
        Ok(Outcome::Created) => counts.created += 1,
        Ok(Outcome::Updated) => counts.updated += 1,
        Ok(Outcome::Unchanged) => counts.unchanged += 1,
        Err(e) => {
            counts.failed += 1;
            problems.extend(row_errors(row, &e));
        }
    };
    match kind {
        Kind::Contacts if !pending.is_empty() => {
            let inputs = pending
                .iter()
                .map(|(_, m)| crate::http::json::from_value::<ContactWrite>(Value::Object(m.clone())).map(Into::into))
                .collect();
            let results =
                super::upserts::batch_upsert_as(app, who, inputs, rapport_domain::lifecycle::Cause::Import).await?;
            for ((row, _), r) in pending.iter().zip(results) {
                count(*row, r.map(|(_, o)| o), &mut problems);
            }
        }
        Kind::Orders if !pending.is_empty() => {
            let inputs = pending
                .iter()
                .map(|(_, m)| crate::http::json::from_value::<OrderWrite>(Value::Object(m.clone())).map(Into::into))
                .collect();
            let results = super::orders::upsert_batch(app, who, inputs).await?;
            for ((row, _), r) in pending.iter().zip(results) {
                count(*row, r.map(|(_, o)| o), &mut problems);
            }
        }
        // A batch whose every row was unreadable.
        Kind::Contacts | Kind::Orders => {}
        Kind::Companies => {
            for (row, m) in &pending {
                let r = match crate::http::json::from_value::<CompanyWrite>(Value::Object(m.clone())) {
                    Ok(input) => super::companies::upsert_by_domain(app, who, input.into())
                        .await
                        .map(|(_, o)| o),
                    Err(e) => Err(e),
                };
                count(*row, r, &mut problems);
            }
        }
    }
    problems.sort_by_key(|p| p.row);
    Ok(problems)
}

/// The problems of a failed row, pointers relative to the row.
fn row_errors(row: i64, e: &ApiError) -> Vec<RowError> {
    let p = e.problem();
    let strip = |pointer: &str| match pointer.strip_prefix("/items/") {
        Some(rest) => rest.find('/').map_or(String::new(), |i| rest[i..].to_owned()),
        None => pointer.to_owned(),
    };
    if p.errors.is_empty() {
        return vec![RowError {
            row,
            pointer: String::new(),
            code: p.code.to_owned(),
            message: p.detail,
        }];
    }
    p.errors
        .into_iter()
        .map(|f| RowError {
            row,
            pointer: strip(&f.pointer),
            code: f.code.to_owned(),
            message: f.message,
        })
        .collect()
}

/// Reads the whole file (on a blocking thread), sending batches as they fill; `limit` is
/// the size of the largest record read.
fn read_file(import: &Import, path: &Path, schema: AttributeSchema, limit: usize, out: &mpsc::Sender<Read>) {
    let file = match std::fs::File::open(path) {
        Ok(f) => f,
        Err(e) => {
            let _ = out.blocking_send(Read::Fatal(
                "import_file_missing",
                format!("the uploaded file is gone: {e}"),
            ));
            return;
        }
    };
    let mut batch = Batcher::new(out);
    let result = match (&import.spec.format, &import.spec.csv) {
        (Format::Csv, Some(options)) => read_csv(import.spec.kind, options, schema, file, limit, &mut batch),
        _ => read_ndjson(file, limit, &mut batch),
    };
    match result {
        Ok(()) => batch.flush(),
        Err((code, detail)) => {
            // What was read before the fault is applied; then the job fails.
            batch.flush();
            let _ = out.blocking_send(Read::Fatal(code, detail));
        }
    }
}

/// Collects records into batches; `false` from `push` when the job stopped listening.
struct Batcher<'a> {
    out: &'a mpsc::Sender<Read>,
    records: Vec<Record>,
    read: i64,
    open: bool,
}

impl<'a> Batcher<'a> {
    fn new(out: &'a mpsc::Sender<Read>) -> Self {
        Self {
            out,
            records: Vec::with_capacity(BATCH),
            read: 0,
            open: true,
        }
    }

    fn push(&mut self, r: Record) -> bool {
        self.records.push(r);
        if self.records.len() >= BATCH {
            self.flush();
        }
        self.open
    }

    fn flush(&mut self) {
        if self.records.is_empty() || !self.open {
            return;
        }
        let records = std::mem::replace(&mut self.records, Vec::with_capacity(BATCH));
        self.open = self.out.blocking_send(Read::Batch(records, self.read)).is_ok();
    }
}

type Fault = (&'static str, String);

/// Reads NDJSON lines; a line longer than `limit` bytes (its line break not counted) fails
/// as a row, and is skipped without being held in memory.
fn read_ndjson(file: std::fs::File, limit: usize, batch: &mut Batcher<'_>) -> Result<(), Fault> {
    let mut reader = std::io::BufReader::with_capacity(1 << 16, file);
    let mut line = Vec::new();
    let mut number: i64 = 0;
    let most = u64::try_from(limit).unwrap_or(u64::MAX).saturating_add(1);
    loop {
        line.clear();
        let at = number + 1;
        let bad_read = move |e: std::io::Error| ("invalid_file", format!("line {at}: {e}"));
        let n = std::io::Read::take(&mut reader, most)
            .read_until(b'\n', &mut line)
            .map_err(bad_read)?;
        if n == 0 {
            return Ok(());
        }
        number += 1;
        if line.len() > limit && line.last() != Some(&b'\n') {
            skip_line(&mut reader).map_err(bad_read)?;
            batch.read += 1;
            let message = format!("the line is longer than {limit} bytes");
            let problem = row_problem(number, "", "record_too_large", &message);
            if !batch.push(Record {
                row: number,
                object: Err(vec![problem]),
            }) {
                return Ok(());
            }
            continue;
        }
        let text = std::str::from_utf8(&line)
            .map_err(|_| ("invalid_encoding", format!("line {number} is not UTF-8")))?
            .trim();
        if text.is_empty() {
            continue;
        }
        batch.read += 1;
        let object = match serde_json::from_str::<Value>(text) {
            Ok(Value::Object(m)) => Ok(m),
            Ok(_) => Err(vec![row_problem(
                number,
                "",
                "malformed_json",
                "each line holds one JSON object",
            )]),
            Err(e) => Err(vec![row_problem(number, "", "malformed_json", &e.to_string())]),
        };
        if !batch.push(Record { row: number, object }) {
            return Ok(());
        }
    }
}

/// Reads on past the next line break (or to the end of the file).
fn skip_line(reader: &mut impl BufRead) -> std::io::Result<()> {
    loop {
        let buf = reader.fill_buf()?;
        if buf.is_empty() {
            return Ok(());
        }
        match buf.iter().position(|b| *b == b'\n') {
            Some(i) => {
                reader.consume(i + 1);
                return Ok(());
            }
            None => {
                let n = buf.len();
                reader.consume(n);
            }
        }
    }
}

fn row_problem(row: i64, pointer: &str, code: &str, message: &str) -> RowError {
    RowError {
        row,
        pointer: pointer.to_owned(),
        code: code.to_owned(),
        message: message.to_owned(),
    }
}

/// A reader that follows the CSV quoting of the bytes passing through, as RFC 4180 has
/// it: a quote opens a quoted field only at the start of a field (`24"` is text), and a
/// doubled quote inside one is a quote. A file that ends inside a quoted field is
/// broken, though the CSV parser takes the end of the file as the end of the field.
/// It also measures records: the bytes of one longer than `limit` are not passed on
/// beyond the limit, the reading stops there with an error, and the reader is marked
/// `oversized`.
struct QuoteState<R> {
    inner: R,
    delimiter: u8,
    state: Quoting,
    limit: usize,
    /// Bytes of the current record so far.
    record: usize,
    oversized: bool,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Quoting {
    /// At the start of a field.
    FieldStart,
    /// Inside an unquoted field.
    Plain,
    /// Inside a quoted field.
    Quoted,
    /// Just after a quote inside a quoted field: its end, or the first of a pair.
    QuoteInQuoted,
}

impl<R> QuoteState<R> {
    fn new(inner: R, delimiter: u8, limit: usize) -> Self {
        Self {
            inner,
            delimiter,
            state: Quoting::FieldStart,
            limit,
            record: 0,
            oversized: false,
        }
    }

    fn step(&mut self, b: u8) {
        let end_of_field = b == self.delimiter || b == b'\n' || b == b'\r';
        self.state = match (self.state, b) {
            (Quoting::Quoted, b'"') => Quoting::QuoteInQuoted,
            (Quoting::FieldStart | Quoting::QuoteInQuoted, b'"') | (Quoting::Quoted, _) => Quoting::Quoted,
            _ if end_of_field => Quoting::FieldStart,
            _ => Quoting::Plain,
        };
    }

    fn inside_quotes(&self) -> bool {
        self.state == Quoting::Quoted
    }

    /// Counts a byte into the current record: whether the record is still within the
    /// limit (its line break not counted).
    fn measure(&mut self, b: u8) -> bool {
        if b == b'\n' && self.state == Quoting::FieldStart {
            self.record = 0;
            return true;
        }
        self.record += 1;
        self.record <= self.limit
    }
}

impl<R: std::io::Read> std::io::Read for QuoteState<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.oversized {
            return Err(too_large());
        }
        let n = self.inner.read(buf)?;
        for (i, b) in buf[..n].iter().enumerate() {
            self.step(*b);
            if !self.measure(*b) {
                // The records before this one are passed on whole; the parser asks for
                // more to finish this one, and the next read fails.
                self.oversized = true;
                return if i == 0 { Err(too_large()) } else { Ok(i) };
            }
        }
        Ok(n)
    }
}

fn too_large() -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::InvalidData, "a record is too large")
}

/// Reads CSV records; one longer than `limit` bytes fails the job (`record_too_large`):
/// where the next record starts cannot be told without reading the whole field.
fn read_csv(
    kind: Kind,
    options: &import::CsvOptions,
    schema: AttributeSchema,
    file: std::fs::File,
    limit: usize,
    batch: &mut Batcher<'_>,
) -> Result<(), Fault> {
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(options.delimiter)
        .flexible(true)
        .buffer_capacity(1 << 16)
        .from_reader(QuoteState::new(file, options.delimiter, limit));
    let fault = |reader: &csv::Reader<QuoteState<std::fs::File>>, e: &csv::Error, row: &str| {
        if reader.get_ref().oversized {
            ("record_too_large", format!("{row} is longer than {limit} bytes"))
        } else {
            ("invalid_csv", e.to_string())
        }
    };
    let header = match reader.byte_headers() {
        Ok(h) => h.clone(),
        Err(e) => return Err(fault(&reader, &e, "the header row")),
    };
    let header = utf8_fields(&header).ok_or(("invalid_encoding", "the header row is not UTF-8".to_owned()))?;
    let columns = CsvReader::new(kind, options, &header, schema).map_err(|missing| {
        (
            "csv_header_missing",
            format!("the file's header row lacks {}", missing.join(", ")),
        )
    })?;
    // Orders: consecutive rows of one order (by their raw source and external id cells)
    // are joined, each adding a line; a row that cannot be read fails its whole order.
    let mut order: Option<(Option<(String, String)>, Record)> = None;
    let mut record = csv::ByteRecord::new();
    let mut number: i64 = 0;
    loop {
        match reader.read_byte_record(&mut record) {
            Ok(true) => {}
            Ok(false) => break,
            Err(e) => return Err(fault(&reader, &e, &format!("row {}", number + 1))),
        }
        number += 1;
        batch.read += 1;
        let fields = utf8_fields(&record).ok_or(("invalid_encoding", format!("row {number} is not UTF-8")))?;
        let object = columns.object(&fields).map_err(|errors| {
            errors
                .into_iter()
                .map(|e| row_problem(number, &e.pointer, e.code, &e.message))
                .collect::<Vec<_>>()
        });
        let done = if kind == Kind::Orders {
            let key = columns.raw_order_key(&fields);
            match order.take() {
                Some((pending, mut o)) if key.is_some() && pending == key => {
                    o.object = match (o.object, object) {
                        (Ok(mut m), Ok(row)) => {
                            import::join_order_lines(&mut m, row);
                            Ok(m)
                        }
                        (Err(mut errors), Err(more)) => {
                            errors.extend(more);
                            Err(errors)
                        }
                        (Err(errors), Ok(_)) | (Ok(_), Err(errors)) => Err(errors),
                    };
                    order = Some((pending, o));
                    None
                }
                previous => {
                    order = Some((key, Record { row: number, object }));
                    previous.map(|(_, o)| o)
                }
            }
        } else {
            Some(Record { row: number, object })
        };
        if let Some(r) = done
            && !batch.push(r)
        {
            return Ok(());
        }
    }
    if let Some((_, o)) = order {
        batch.push(o);
    }
    if reader.get_ref().inside_quotes() {
        return Err((
            "invalid_csv",
            format!("row {number}: a quoted field is not closed before the end of the file"),
        ));
    }
    Ok(())
}

fn utf8_fields(r: &csv::ByteRecord) -> Option<Vec<&str>> {
    r.iter().map(|f| std::str::from_utf8(f).ok()).collect()
}

#[cfg(test)]
mod tests {
    use std::io::Read;

    use super::QuoteState;

    fn ends_inside_quotes(text: &str) -> bool {
        let mut r = QuoteState::new(text.as_bytes(), b',', usize::MAX);
        std::io::copy(&mut r.by_ref(), &mut std::io::sink()).unwrap();
        r.inside_quotes()
    }

    /// Whether reading `text` stops at a record over `limit` bytes.
    fn oversized(text: &str, limit: usize) -> bool {
        let mut r = QuoteState::new(text.as_bytes(), b',', limit);
        let failed = std::io::copy(&mut r.by_ref(), &mut std::io::sink()).is_err();
        assert_eq!(failed, r.oversized);
        failed
    }

    #[test]
    fn records_are_measured_without_their_line_breaks_and_across_quoted_ones() {
        assert!(!oversized("abcd\nefgh\n", 4));
        assert!(oversized("abcd\nefghi\n", 4));
        assert!(!oversized("ab\r\nc\n", 3), "a carriage return is part of the record");
        assert!(oversized("ab\r\nc\n", 2));
        assert!(
            oversized("\"a\nb\nc\"\n", 6),
            "a line break inside quotes does not end a record"
        );
        assert!(!oversized("\"a\nb\nc\"\n", 9));
    }

    #[test]
    fn only_a_quote_opening_a_field_starts_quoting() {
        assert!(!ends_inside_quotes("a,\"b,c\"\n"));
        assert!(!ends_inside_quotes("Monitor 24\",x\n"));
        assert!(!ends_inside_quotes("\"say \"\"hi\"\"\",\"two\nlines\"\n"));
        assert!(ends_inside_quotes("ok,1\n\"broken,2\n"));
        assert!(ends_inside_quotes("a,\"b\"\"\n"));
    }
}
