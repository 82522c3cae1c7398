//! The delivery worker of each `rapport serve`: turns new feed events into deliveries,
//! claims due ones (each goes to one worker among all processes) and sends them, at most
//! [`PER_ENDPOINT`] at a time per endpoint, recording every attempt.

use std::collections::BTreeMap;
use std::time::Duration;

use actix_web::web;
use futures_util::future::join_all;
use rapport_store::webhooks::{self, Attempt, Claimed, Outcome};

use super::Sent;
use crate::app::App;
use crate::dto::events::EventDto;

/// How often the worker looks for work while there is some.
const EVERY: Duration = Duration::from_millis(250);
/// The longest it waits when idle (and so the latest a due retry starts).
const IDLE: Duration = Duration::from_secs(1);
/// Deliveries claimed at once by one process.
const CLAIM: u64 = 64;
/// Deliveries in flight at once to one endpoint from one process.
const PER_ENDPOINT: usize = 4;
/// Events turned into deliveries per dispatcher transaction.
const DISPATCH: u64 = 500;

/// Runs until aborted.
pub async fn run(app: web::Data<App>) {
    let mut wait = EVERY;
    loop {
        tokio::time::sleep(wait).await;
        let mut worked = false;
        loop {
            match webhooks::dispatch(&app.db, DISPATCH).await {
                Ok(n) if n as u64 >= DISPATCH => worked = true,
                Ok(n) => {
                    worked |= n > 0;
                    break;
                }
                Err(e) => {
                    tracing::warn!(error = %e, "webhook dispatch failed");
                    break;
                }
            }
        }
        loop {
            let lease = chrono::Duration::seconds(app.settings.webhook_lease_seconds);
            let claimed = match webhooks::claim(&app.db, rapport_store::now(), lease, CLAIM).await {
                Ok(c) => c,
                Err(e) => {
                    tracing::warn!(error = %e, "webhook claim failed");
                    break;
                }
            };
            let full = claimed.len() as u64 >= CLAIM;
            worked |= !claimed.is_empty();
            // Claims not sent before their lease ends are left to whoever claims them
            // next, so a slow endpoint never gets the same delivery from two workers.
            let margin = Duration::from_secs(app.settings.webhook_timeout_seconds + 1);
            let lease = Duration::from_secs(app.settings.webhook_lease_seconds.unsigned_abs());
            let budget = lease.checked_sub(margin).filter(|b| !b.is_zero()).unwrap_or(lease / 2);
            let deadline = std::time::Instant::now() + budget;
            deliver_all(&app, claimed, deadline).await;
            if !full {
                break;
            }
        }
        wait = crate::jobs::backoff(wait, worked, EVERY, IDLE);
    }
}

/// Sends a claimed batch: endpoints in parallel, each at most [`PER_ENDPOINT`] at once.
async fn deliver_all(app: &App, claimed: Vec<Claimed>, deadline: std::time::Instant) {
    let mut by_endpoint: BTreeMap<uuid::Uuid, Vec<Claimed>> = BTreeMap::new();
    for c in claimed {
        by_endpoint.entry(c.endpoint.id.uuid()).or_default().push(c);
    }
    join_all(by_endpoint.into_values().map(|batch| async move {
        for group in batch.chunks(PER_ENDPOINT) {
            if std::time::Instant::now() >= deadline {
                return;
            }
            join_all(group.iter().map(|c| deliver(app, c))).await;
        }
    }))
    .await;
}

async fn finish(app: &App, c: &Claimed, outcome: &Outcome) -> Result<(), rapport_store::StoreError> {
    let tx = app.db.begin().await?;
    webhooks::finish(&tx, c.workspace, c.delivery.id, outcome).await?;
    tx.commit().await?;
    Ok(())
}

fn jitter() -> f64 {
    let b = crate::auth::secret::random_bytes::<2>().unwrap_or([128, 0]);
    f64::from(u16::from_le_bytes(b)) / f64::from(u16::MAX)
}

/// Sends one delivery and records what happened.
async fn deliver(app: &App, c: &Claimed) {
    let sent = match &c.event {
        None => Sent {
            at: rapport_store::now(),
            status: None,
            latency_ms: 0,
            body: None,
            error: Some("the event is past its retention".into()),
            retry_after: None,
        },
        Some(ev) => {
            let body = serde_json::to_vec(&EventDto::from(ev)).unwrap_or_default();
            super::send(&app.webhooks, &app.settings, &c.endpoint, &ev.id.to_string(), body).await
        }
    };
    let attempt = Attempt {
        attempted_at: sent.at,
        status_code: sent.status.map(i32::from),
        latency_ms: sent.latency_ms,
        response_body: sent.body.clone(),
        error: sent.error.clone(),
    };
    let attempts = usize::try_from(c.delivery.attempts).unwrap_or(0) + 1;
    let (status, next, disable) = if sent.ok() {
        ("succeeded", None, None)
    } else if sent.status == Some(410) {
        ("failed", None, Some("the endpoint answered 410 Gone".to_owned()))
    } else if c.event.is_none() {
        ("failed", None, None)
    } else {
        let retry_after = sent.retry_after.map(chrono::Duration::seconds);
        match rapport_domain::webhook::next_attempt(
            &app.settings.webhook_retry_schedule,
            attempts,
            sent.at,
            retry_after,
            jitter(),
        ) {
            Some(at) => ("pending", Some(at), None),
            None => (
                "failed",
                None,
                Some(format!("every one of {attempts} attempts to deliver an event failed")),
            ),
        }
    };
    let outcome = Outcome {
        attempt,
        status,
        next_attempt_at: next,
    };
    if let Err(e) = finish(app, c, &outcome).await {
        tracing::warn!(error = %e, delivery = %c.delivery.id, "recording a webhook attempt failed");
    }
    if let Some(reason) = disable
        && let Err(e) = crate::service::webhooks::disable(app, c.workspace, c.endpoint.id, &reason).await
    {
        tracing::warn!(error = %e, endpoint = %c.endpoint.id, "disabling a webhook endpoint failed");
    }
}
