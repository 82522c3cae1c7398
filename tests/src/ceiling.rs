//! The database's own ceiling for a bulk write: the rows a run of the server left in
//! some tables are written again by PostgreSQL itself, into copies of those tables with
//! the same columns, indexes, checks and foreign keys, in one `INSERT … SELECT` per
//! table and one transaction. No client, no parameters, no round trips: the time it
//! takes is what storing those rows costs on this machine, whatever writes them.
//!
//! A benchmark measures it in the same run as the server's own figure, so the ratio
//! between the two holds while the machine's speed drifts.

#![allow(clippy::expect_used, clippy::missing_panics_doc)]

use std::collections::BTreeMap;
use std::time::Instant;

use sqlx::{Connection, Executor, PgConnection, Row};

/// Row counts of every table of the `public` schema.
pub struct Counts(BTreeMap<String, i64>);

impl Counts {
    /// Counts the rows of every table (exactly: `count(*)`).
    pub async fn read(c: &mut PgConnection) -> Self {
        let tables: Vec<String> =
            sqlx::query_scalar("SELECT tablename::text FROM pg_tables WHERE schemaname = 'public' ORDER BY tablename")
                .fetch_all(&mut *c)
                .await
                .expect("list tables");
        let mut counts = BTreeMap::new();
        for t in tables {
            let sql = format!("SELECT count(*) FROM public.\"{t}\"");
            let n: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
                .fetch_one(&mut *c)
                .await
                .expect("count rows");
            counts.insert(t, n);
        }
        Self(counts)
    }

    /// The tables that gained rows since `before`, with how many.
    #[must_use]
    pub fn grown_since(&self, before: &Self) -> Vec<(String, i64)> {
        self.0
            .iter()
            .filter_map(|(t, n)| {
                let gained = n - before.0.get(t).copied().unwrap_or(0);
                (gained > 0).then(|| (t.clone(), gained))
            })
            .collect()
    }
}

/// How long PostgreSQL took to write one table's rows again.
pub struct Written {
    pub table: String,
    pub rows: i64,
    pub secs: f64,
}

/// Writes every row of `tables` again into copies of them in a schema of their own
/// (`ceiling`, dropped afterwards, then a checkpoint), referenced tables first; returns
/// the time per table and the commit's.
pub async fn rewrite(c: &mut PgConnection, tables: &[String]) -> Vec<Written> {
    c.execute("DROP SCHEMA IF EXISTS ceiling CASCADE; CREATE SCHEMA ceiling")
        .await
        .expect("schema");
    // Each foreign key as PostgreSQL prints it: with the default search path the tables
    // it refers to are unqualified, so under `ceiling, public` they name the copies
    // where a copy exists and the original tables elsewhere.
    let keys = sqlx::query(
        "SELECT src.relname::text, dst.relname::text, pg_get_constraintdef(k.oid)
           FROM pg_constraint k
           JOIN pg_class src ON src.oid = k.conrelid
           JOIN pg_class dst ON dst.oid = k.confrelid
           JOIN pg_namespace n ON n.oid = src.relnamespace
          WHERE k.contype = 'f' AND n.nspname = 'public'",
    )
    .fetch_all(&mut *c)
    .await
    .expect("foreign keys");
    let keys: Vec<(String, String, String)> = keys
        .into_iter()
        .map(|r| (r.get(0), r.get(1), r.get(2)))
        .filter(|(src, _, _): &(String, String, String)| tables.contains(src))
        .collect();
    c.execute("SET search_path = ceiling, public")
        .await
        .expect("search path");
    for t in tables {
        let sql = format!("CREATE TABLE ceiling.\"{t}\" (LIKE public.\"{t}\" INCLUDING ALL)");
        c.execute(sqlx::AssertSqlSafe(sql)).await.expect("copy table");
    }
    for (src, _, def) in &keys {
        let sql = format!("ALTER TABLE ceiling.\"{src}\" ADD {def}");
        c.execute(sqlx::AssertSqlSafe(sql)).await.expect("copy foreign key");
    }
    let order = referenced_first(tables, &keys);
    let mut tx = c.begin().await.expect("begin");
    let mut written = Vec::new();
    for t in order {
        let sql = format!("INSERT INTO ceiling.\"{t}\" SELECT * FROM public.\"{t}\"");
        let started = Instant::now();
        let done = tx.execute(sqlx::AssertSqlSafe(sql)).await.expect("rewrite rows");
        written.push(Written {
            table: t.clone(),
            rows: i64::try_from(done.rows_affected()).unwrap_or(i64::MAX),
            secs: started.elapsed().as_secs_f64(),
        });
    }
    let started = Instant::now();
    tx.commit().await.expect("commit");
    written.push(Written {
        table: "(commit)".into(),
        rows: 0,
        secs: started.elapsed().as_secs_f64(),
    });
    c.execute("SET search_path TO DEFAULT; DROP SCHEMA ceiling CASCADE")
        .await
        .expect("drop the copies");
    // What the import and the copies left in the write-ahead log and in dirty pages is
    // written out now rather than during what the benchmark measures next (a role
    // without the right to checkpoint leaves that to the server's schedule).
    let _ = c.execute("CHECKPOINT").await;
    written
}

/// `tables` ordered so that a table another one refers to comes before it.
fn referenced_first<'a>(tables: &'a [String], keys: &[(String, String, String)]) -> Vec<&'a String> {
    let mut order: Vec<&String> = Vec::new();
    while order.len() < tables.len() {
        let before = order.len();
        for t in tables {
            let ready = keys
                .iter()
                .filter(|(src, dst, _)| src == t && dst != t && tables.contains(dst))
                .all(|(_, dst, _)| order.contains(&dst));
            if ready && !order.contains(&t) {
                order.push(t);
            }
        }
        assert!(order.len() > before, "foreign keys form a cycle among {tables:?}");
    }
    order
}

#[cfg(test)]
mod tests {
    use super::referenced_first;

    #[test]
    fn tables_come_after_those_they_refer_to() {
        let tables: Vec<String> = ["events", "tags", "contacts"].map(String::from).to_vec();
        let key = |s: &str, d: &str| (s.to_owned(), d.to_owned(), String::new());
        let keys = [
            key("tags", "contacts"),
            key("contacts", "workspaces"),
            key("events", "workspaces"),
            key("contacts", "contacts"),
        ];
        let order: Vec<&str> = referenced_first(&tables, &keys)
            .into_iter()
            .map(String::as_str)
            .collect();
        assert_eq!(order, ["events", "contacts", "tags"]);
    }
}
