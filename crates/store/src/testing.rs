//! Test support (feature `testing`): a fresh database per test, SQLite in a temporary
//! directory or a new PostgreSQL database on the server named by
//! `RAPPORT_TEST_POSTGRES_URL`, dropped afterwards.

// A failed expectation here is a failed test, with its message.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::missing_panics_doc)]

use crate::{Db, DbOptions, workspaces};
use rapport_domain::WorkspaceId;
use sqlx::Connection;

/// Runs `async fn name(db: Db)` once on SQLite and once on PostgreSQL (when
/// `RAPPORT_TEST_POSTGRES_URL` is set; an unreachable server fails the test).
#[macro_export]
macro_rules! on_both_databases {
    ($($name:ident),* $(,)?) => {
        $(
            mod $name {
                #[tokio::test]
                async fn sqlite() {
                    let t = $crate::testing::TestDb::sqlite().await;
                    super::$name(t.db.clone()).await;
                }
                #[tokio::test]
                async fn postgres() {
                    if let Some(t) = $crate::testing::TestDb::postgres().await {
                        super::$name(t.db.clone()).await;
                    }
                }
            }
        )*
    };
}

/// A database that exists for one test.
pub struct TestDb {
    pub db: Db,
    _dir: Option<tempfile::TempDir>,
    pg: Option<(String, String)>,
}

impl TestDb {
    /// A new SQLite file in a temporary directory, migrated.
    pub async fn sqlite() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}?mode=rwc", dir.path().join("t.db").display());
        let db = Db::connect(&url, &DbOptions::default()).await.unwrap();
        db.migrate().await.unwrap();
        Self {
            db,
            _dir: Some(dir),
            pg: None,
        }
    }

    /// A new, migrated PostgreSQL database, or `None` when no server is configured.
    /// # Panics
    /// When the server is configured but unreachable: CI must fail, not skip.
    pub async fn postgres() -> Option<Self> {
        let admin = std::env::var("RAPPORT_TEST_POSTGRES_URL")
            .ok()
            .filter(|u| !u.trim().is_empty())?;
        let name = format!("rapport_s_{}", uuid::Uuid::now_v7().simple());
        let mut c = sqlx::PgConnection::connect(&admin)
            .await
            .unwrap_or_else(|e| panic!("RAPPORT_TEST_POSTGRES_URL is set but unreachable: {e}"));
        sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE \"{name}\"")))
            .execute(&mut c)
            .await
            .unwrap();
        let _ = c.close().await;
        let base = admin.split('?').next().unwrap();
        let root = &base[..base.rfind('/').unwrap()];
        let url = format!("{root}/{name}");
        let db = Db::connect(&url, &DbOptions::default()).await.unwrap();
        db.migrate().await.unwrap();
        Some(Self {
            db,
            _dir: None,
            pg: Some((admin, name)),
        })
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if let Some((admin, name)) = self.pg.take() {
            let _ = std::thread::spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .unwrap();
                rt.block_on(async {
                    if let Ok(mut c) = sqlx::PgConnection::connect(&admin).await {
                        let _ = sqlx::query(sqlx::AssertSqlSafe(format!(
                            "DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"
                        )))
                        .execute(&mut c)
                        .await;
                    }
                });
            })
            .join();
        }
    }
}

/// A new workspace.
pub async fn workspace(db: &Db) -> WorkspaceId {
    workspaces::create(db.read(), "test").await.unwrap().id
}
