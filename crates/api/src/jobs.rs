//! Background work of `rapport serve`: numbering committed events for the feed, and
//! periodic refresh of dynamic segments whose rules depend on the clock, the churn
//! check (customers without a recent purchase move to `churned`), and hourly
//! maintenance (expired idempotency keys, events past their retention).

use std::time::Duration;

use crate::app::App;

/// How often the sequencer looks for new events while they keep coming: the feed's
/// delay after a commit.
const SEQUENCE_EVERY: Duration = Duration::from_millis(100);
/// The longest it waits when idle: it backs off so an idle server barely queries.
const SEQUENCE_IDLE: Duration = Duration::from_secs(1);
/// How often maintenance runs.
const MAINTAIN_EVERY: Duration = Duration::from_secs(3600);

/// Starts the jobs; they stop when the returned handles are aborted.
pub fn spawn(app: &actix_web::web::Data<App>) -> Vec<tokio::task::JoinHandle<()>> {
    let seq = app.clone();
    let maint = app.clone();
    let seg = app.clone();
    let churn = app.clone();
    vec![
        tokio::spawn(async move {
            let mut wait = SEQUENCE_EVERY;
            loop {
                tokio::time::sleep(wait).await;
                let mut numbered = 0;
                // A full batch means more may be waiting: go on without sleeping.
                loop {
                    match rapport_store::outbox::sequence(&seq.db).await {
                        Ok(n) => {
                            numbered += n;
                            if n < 1000 {
                                break;
                            }
                        }
                        Err(e) => {
                            tracing::warn!(error = %e, "event sequencing failed");
                            break;
                        }
                    }
                }
                wait = backoff(wait, numbered > 0, SEQUENCE_EVERY, SEQUENCE_IDLE);
            }
        }),
        tokio::spawn(async move {
            let mut every = tokio::time::interval(Duration::from_secs(seg.settings.segment_refresh_seconds));
            every.tick().await;
            loop {
                every.tick().await;
                crate::service::segments::refresh_time_relative(&seg).await;
            }
        }),
        tokio::spawn(async move {
            let mut every = tokio::time::interval(Duration::from_secs(churn.settings.churn_check_seconds));
            loop {
                every.tick().await;
                crate::service::orders::churn(&churn).await;
            }
        }),
        tokio::spawn(async move {
            let mut every = tokio::time::interval(MAINTAIN_EVERY);
            loop {
                every.tick().await;
                maintain(&maint).await;
            }
        }),
    ]
}

/// The next wait of a polling loop: back to `busy` after work, else doubled up to `idle`.
pub(crate) fn backoff(wait: Duration, worked: bool, busy: Duration, idle: Duration) -> Duration {
    if worked { busy } else { (wait * 2).min(idle) }
}

/// Removes expired idempotency keys and events older than the retention period.
async fn maintain(app: &App) {
    crate::service::imports::fail_abandoned(app).await;
    let now = rapport_store::now();
    match rapport_store::idempotency::purge_expired(app.db.read(), now).await {
        Ok(n) if n > 0 => tracing::info!(removed = n, "expired idempotency keys removed"),
        Ok(_) => {}
        Err(e) => tracing::warn!(error = %e, "idempotency purge failed"),
    }
    let cut = now - chrono::Duration::days(app.settings.event_retention_days);
    match rapport_store::outbox::purge_before(app.db.read(), cut).await {
        Ok(n) if n > 0 => tracing::info!(removed = n, "events past their retention removed"),
        Ok(_) => {}
        Err(e) => tracing::warn!(error = %e, "event purge failed"),
    }
}
