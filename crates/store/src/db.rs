//! Connections and transactions.

use std::time::Duration;

use sea_orm::sqlx::sqlite::{SqliteJournalMode, SqliteSynchronous};
use sea_orm::{
    ConnectOptions, ConnectionTrait, Database, DatabaseConnection, DatabaseTransaction, DbBackend,
    SqliteTransactionMode, Statement, TransactionOptions, TransactionTrait,
};
use sea_orm_migration::MigratorTrait;

use crate::error::StoreError;
use crate::migration::Migrator;

/// A write transaction. Dropping it without [`Tx::commit`] rolls it back.
pub type Tx = DatabaseTransaction;

/// Which database is behind a [`Db`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// The database: a pool for reads and a way to begin write transactions.
///
/// SQLite allows one writer at a time. Its writes go through a pool of one connection,
/// so concurrent writers queue in order instead of failing with `SQLITE_BUSY`, and each
/// write transaction begins `IMMEDIATE`. Readers use the main pool and, in WAL mode,
/// never wait for the writer. PostgreSQL uses one pool for both.
#[derive(Clone, Debug)]
pub struct Db {
    read: DatabaseConnection,
    write: DatabaseConnection,
    backend: Backend,
}

/// How to connect.
#[derive(Clone, Debug)]
pub struct DbOptions {
    pub max_connections: u32,
    pub acquire_timeout: Duration,
}

impl Default for DbOptions {
    fn default() -> Self {
        Self {
            max_connections: 16,
            acquire_timeout: Duration::from_secs(10),
        }
    }
}

/// Connection options with `max_connections` and the default acquire timeout.
pub fn db_options(max_connections: u32) -> DbOptions {
    DbOptions {
        max_connections,
        ..DbOptions::default()
    }
}

fn options(url: &str, max: u32, o: &DbOptions) -> ConnectOptions {
    let mut opt = ConnectOptions::new(url.to_owned());
    opt.max_connections(max)
        .min_connections(1)
        .acquire_timeout(o.acquire_timeout)
        // sqlx pings a connection on every checkout by default: a second round trip per
        // request. Only a connection idle long enough to have been dropped by the server
        // or a proxy is pinged; sqlx still checks every connection when it is released.
        .test_before_acquire_if_idle_for(Duration::from_secs(30))
        .sqlx_logging(false);
    // Waiting for a connection under load is expected (requests queue for the pool);
    // only a wait close to the timeout is worth a warning.
    opt.map_sqlx_postgres_pool_opts({
        let slow = o.acquire_timeout / 2;
        move |p| p.acquire_slow_threshold(slow)
    });
    opt.map_sqlx_sqlite_pool_opts({
        let slow = o.acquire_timeout / 2;
        move |p| p.acquire_slow_threshold(slow)
    });
    opt.map_sqlx_sqlite_opts(|s| {
        s.journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(Duration::from_secs(10))
            .foreign_keys(true)
    });
    opt
}

impl Db {
    /// Connects to `url` (`sqlite://…` or `postgres://…`).
    /// # Errors
    /// When the URL is not a supported database or the database cannot be reached.
    pub async fn connect(url: &str, o: &DbOptions) -> Result<Self, StoreError> {
        let backend = if url.starts_with("sqlite:") {
            Backend::Sqlite
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Backend::Postgres
        } else {
            return Err(StoreError::Db(sea_orm::DbErr::Custom(format!(
                "unsupported database URL scheme in '{}': use sqlite:// or postgres://",
                url.split(':').next().unwrap_or_default()
            ))));
        };
        let read = Box::pin(Database::connect(options(url, o.max_connections.max(1), o))).await?;
        let write = match backend {
            Backend::Sqlite => Box::pin(Database::connect(options(url, 1, o))).await?,
            Backend::Postgres => read.clone(),
        };
        Ok(Self { read, write, backend })
    }

    /// Applies every pending migration.
    /// Migrations run in one write transaction (PostgreSQL and SQLite both have
    /// transactional DDL), under an advisory lock on PostgreSQL: replicas starting
    /// together wait for the first one instead of racing it.
    /// # Errors
    /// When a migration fails; nothing of the run is kept.
    pub async fn migrate(&self) -> Result<(), StoreError> {
        let tx = self.begin().await?;
        if self.backend == Backend::Postgres {
            // An arbitrary key, the same in every Rapport process.
            let lock = "SELECT pg_advisory_xact_lock(7291473115)";
            tx.execute_raw(Statement::from_string(DbBackend::Postgres, lock))
                .await?;
        }
        Migrator::up(&tx, None).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Whether every migration has been applied.
    /// # Errors
    /// When the database cannot be queried.
    pub async fn is_migrated(&self) -> Result<bool, StoreError> {
        Ok(Migrator::get_pending_migrations(&self.read).await?.is_empty())
    }

    /// Calls `observe(elapsed, failed)` after every statement (for metrics).
    pub fn observe_queries(&mut self, observe: impl Fn(Duration, bool) + Clone + Send + Sync + 'static) {
        let o = observe.clone();
        self.read.set_metric_callback(move |i| o(i.elapsed, i.failed));
        if self.backend == Backend::Sqlite {
            self.write.set_metric_callback(move |i| observe(i.elapsed, i.failed));
        } else {
            self.write = self.read.clone();
        }
    }

    /// The connection pool for reads outside a transaction.
    pub fn read(&self) -> &DatabaseConnection {
        &self.read
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// Begins a write transaction.
    /// # Errors
    /// When no connection is available in time or the database refuses.
    pub async fn begin(&self) -> Result<Tx, StoreError> {
        let opts = TransactionOptions {
            sqlite_transaction_mode: Some(SqliteTransactionMode::Immediate),
            ..Default::default()
        };
        Ok(self.write.begin_with_options(opts).await?)
    }

    /// Checks that the database answers (for readiness probes).
    /// # Errors
    /// When it does not.
    pub async fn ping(&self) -> Result<(), StoreError> {
        let backend: DbBackend = self.read.get_database_backend();
        self.read
            .execute_raw(Statement::from_string(backend, "SELECT 1"))
            .await?;
        Ok(())
    }

    /// Refreshes the planner's statistics of `tables` after a bulk load (PostgreSQL; a
    /// no-op on SQLite). Plans chosen while a table was nearly empty — and kept with the
    /// pooled connections' prepared statements — can scan the whole table once it holds
    /// hundreds of thousands of rows; autovacuum analyzes eventually (when it is on), a
    /// loader that grows a table by orders of magnitude should not wait for it. The JSON
    /// documents are left out: their statistics cost most of an `ANALYZE` and no plan
    /// depends on them (every column a query filters or sorts by is a scalar); the sample
    /// is small.
    /// # Errors
    /// When the database refuses.
    pub async fn analyze(&self, tables: &[&str]) -> Result<(), StoreError> {
        if self.backend != Backend::Postgres {
            return Ok(());
        }
        let mut targets = Vec::with_capacity(tables.len());
        for table in tables {
            let columns = Statement::from_sql_and_values(
                DbBackend::Postgres,
                "SELECT quote_ident(column_name::text) AS name FROM information_schema.columns \
                 WHERE table_schema = current_schema() AND table_name = $1 \
                   AND data_type NOT IN ('json', 'jsonb') ORDER BY ordinal_position",
                [(*table).into()],
            );
            let names: Vec<String> = self
                .write
                .query_all_raw(columns)
                .await?
                .iter()
                .map(|r| r.try_get::<String>("", "name"))
                .collect::<Result<_, _>>()?;
            if !names.is_empty() {
                targets.push(format!("{table} ({})", names.join(", ")));
            }
        }
        if targets.is_empty() {
            return Ok(());
        }
        // A sample of 3,000 rows (a tenth of the default) tells an index scan from a
        // table scan as well, at a tenth of the sorting; autovacuum's next analysis
        // (when it is on) takes the full sample again.
        let tx = self.write.begin().await?;
        tx.execute_unprepared("SET LOCAL default_statistics_target = 10")
            .await?;
        tx.execute_unprepared(&format!("ANALYZE {}", targets.join(", ")))
            .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Closes both pools, waiting for connections in use to be returned.
    pub async fn close(self) {
        let _ = self.read.close().await;
        if self.backend == Backend::Sqlite {
            let _ = self.write.close().await;
        }
    }
}

/// Makes the caller the only one of its kind for the rest of `tx`: on PostgreSQL a
/// transaction-scoped advisory lock on `key` (false when another transaction holds it);
/// on SQLite the write transaction already is.
pub(crate) async fn only_one(tx: &Tx, key: i64) -> Result<bool, StoreError> {
    if tx.get_database_backend() != DbBackend::Postgres {
        return Ok(true);
    }
    let lock = Statement::from_string(
        DbBackend::Postgres,
        format!("SELECT pg_try_advisory_xact_lock({key}) AS locked"),
    );
    Ok(tx
        .query_one_raw(lock)
        .await?
        .map(|r| r.try_get("", "locked"))
        .transpose()?
        .unwrap_or(false))
}

/// A savepoint inside a transaction: committing it keeps its work in the enclosing
/// transaction, rolling it back undoes only its work.
/// # Errors
/// When the database refuses the savepoint.
pub async fn savepoint(tx: &Tx) -> Result<Tx, StoreError> {
    Ok(tx.begin().await?)
}
