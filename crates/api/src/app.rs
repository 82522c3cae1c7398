//! The application state shared by every request.

use rapport_store::{Db, StoreError, db_options};
use secrecy::ExposeSecret;

use crate::auth::tokens::{self, Tokens};
use crate::config::Settings;
use crate::http::metrics::Metrics;

/// Everything a request handler needs: passed explicitly, never global.
pub struct App {
    pub db: Db,
    pub settings: Settings,
    pub tokens: Tokens,
    pub metrics: Metrics,
    /// Turns for batch upserts (`batch_concurrency`): a burst of large batches queues here
    /// instead of holding every pooled connection and starving single-record requests.
    pub batches: tokio::sync::Semaphore,
    /// The client webhooks are delivered with.
    pub webhooks: reqwest::Client,
}

/// Why the application could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("database: {0}")]
    Db(#[from] StoreError),
    #[error("{0}")]
    Other(String),
}

/// Connects to the database and applies migrations.
/// # Errors
/// When the database is unreachable or a migration fails.
pub async fn connect(settings: &Settings) -> Result<Db, StartError> {
    let db = Db::connect(&settings.database_url, &db_options(settings.db_max_connections)).await?;
    db.migrate().await?;
    Ok(db)
}

impl App {
    /// Builds the state on a migrated database.
    /// # Errors
    /// When the token keys cannot be set up.
    pub async fn build(settings: Settings, mut db: Db) -> Result<Self, StartError> {
        let metrics = Metrics::new().map_err(|e| StartError::Other(e.to_string()))?;
        let m = metrics.clone();
        db.observe_queries(move |elapsed, failed| m.observe_query(elapsed, failed));
        let secret = match &settings.token_secret {
            Some(s) => s.expose_secret().as_bytes().to_vec(),
            None => {
                let generated = tokens::new_signing_key().map_err(|e| StartError::Other(e.to_string()))?;
                rapport_store::secrets::get_or_create(db.read(), "token_signing_key", || generated)
                    .await?
                    .into_bytes()
            }
        };
        let tokens = Tokens::new(&settings, &secret).map_err(StartError::Other)?;
        let webhooks = crate::webhooks::client(&settings).map_err(StartError::Other)?;
        Ok(Self {
            db,
            webhooks,
            batches: tokio::sync::Semaphore::new(settings.batch_concurrency),
            settings,
            tokens,
            metrics,
        })
    }
}
