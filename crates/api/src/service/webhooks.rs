//! Webhook use cases: endpoints, secrets, test pings, delivery history, retries,
//! replays, and disabling an endpoint that keeps failing.

use chrono::{DateTime, Duration, Utc};
use rapport_domain::error::Errors;
use rapport_domain::event::{Event, EventType};
use rapport_domain::patch::Patch;
use rapport_domain::scope::Scope;
use rapport_domain::webhook::{self, Endpoint};
use rapport_domain::{DeliveryId, DomainError, WebhookId, WorkspaceId, text};
use rapport_store::page::Page;
use rapport_store::webhooks::{self as store, Attempt, Delivery};
use rapport_store::{outbox, webhooks::feed_head};

use crate::app::App;
use crate::auth::Caller;
use crate::dto::webhooks::{NewWebhook, TestResult, WebhookDto, WebhookPatch};
use crate::error::{ApiError, OrNotFound};
use crate::http::etag::Precondition;
use crate::webhooks::{guard, sign};

/// Most events one replay schedules.
pub const MAX_REPLAY: u64 = 10_000;

fn internal(e: impl std::fmt::Display) -> ApiError {
    ApiError::Internal(e.to_string())
}

/// Checks a URL's form and address.
async fn url(app: &App, raw: &str) -> Result<String, ApiError> {
    let u = guard::parse(raw, app.settings.webhook_allow_http)?;
    guard::check(&u, app.settings.webhook_allow_private).await?;
    Ok(u.to_string())
}

fn description(raw: Option<&str>, errors: &mut Errors) -> Option<String> {
    raw.and_then(|d| errors.take(text::optional_text(d, "/description", 500)).flatten())
}

/// Creates an endpoint; the answer carries its secret, shown this once.
/// # Errors
/// 403 without `webhooks:manage`; 422 for a refused URL, unknown patterns or fields.
pub async fn create(app: &App, who: &Caller, input: NewWebhook) -> Result<(Endpoint, String), ApiError> {
    who.require(Scope::WebhooksManage)?;
    let mut errors = Errors::default();
    let patterns = webhook::patterns(&input.event_types)
        .map_err(|e| errors.extend(invalid(e)))
        .ok();
    let fields = match input.fields.as_deref().map(webhook::fields) {
        Some(Ok(f)) => Some(f),
        Some(Err(e)) => {
            errors.extend(invalid(e));
            None
        }
        None => None,
    };
    let description = description(input.description.as_deref(), &mut errors);
    errors.finish()?;
    let url = url(app, &input.url).await?;
    let secret = sign::new_secret().map_err(internal)?;
    let now = rapport_store::now();
    let tx = app.db.begin().await?;
    let e = Endpoint {
        id: WebhookId::new(),
        url,
        description,
        event_types: patterns.map_or_else(Vec::new, |_| {
            input.event_types.iter().map(|p| p.trim().to_owned()).collect()
        }),
        fields,
        skip_own: input.skip_own.unwrap_or(false),
        owner: who.actor().clone(),
        enabled: input.enabled.unwrap_or(true),
        disabled_reason: None,
        secret: secret.clone(),
        previous_secret: None,
        previous_until: None,
        start_position: feed_head(&tx).await?,
        version: 1,
        created_at: now,
        updated_at: now,
    };
    store::insert(&tx, who.workspace(), &e).await?;
    super::commit(tx).await?;
    Ok((e, secret))
}

fn invalid(e: DomainError) -> Vec<rapport_domain::FieldError> {
    match e {
        DomainError::Invalid(v) => v,
        other => vec![rapport_domain::FieldError::new("", "invalid", other.to_string())],
    }
}

/// One endpoint.
/// # Errors
/// 403; 404.
pub async fn get(app: &App, who: &Caller, id: WebhookId) -> Result<Endpoint, ApiError> {
    who.require(Scope::WebhooksManage)?;
    store::get(app.db.read(), who.workspace(), id)
        .await
        .or_not_found("webhook")
}

/// Every endpoint of the workspace.
/// # Errors
/// 403.
pub async fn list(app: &App, who: &Caller) -> Result<Vec<Endpoint>, ApiError> {
    who.require(Scope::WebhooksManage)?;
    Ok(store::list(app.db.read(), who.workspace()).await?)
}

/// Changes an endpoint; enabling clears the reason it was disabled for.
/// # Errors
/// 403; 404; 412; 422.
pub async fn update(
    app: &App,
    who: &Caller,
    id: WebhookId,
    patch: WebhookPatch,
    precondition: Precondition,
) -> Result<Endpoint, ApiError> {
    who.require(Scope::WebhooksManage)?;
    let mut errors = Errors::default();
    if let Some(p) = &patch.event_types
        && let Err(e) = webhook::patterns(p)
    {
        errors.extend(invalid(e));
    }
    let fields = match patch.fields {
        Patch::Set(f) => match webhook::fields(&f) {
            Ok(f) => Patch::Set(f),
            Err(e) => {
                errors.extend(invalid(e));
                Patch::Absent
            }
        },
        other => other,
    };
    let description = match patch.description {
        Patch::Set(d) => errors
            .take(text::optional_text(&d, "/description", 500))
            .map_or(Patch::Absent, |d| d.map_or(Patch::Clear, Patch::Set)),
        other => other,
    };
    errors.finish()?;
    let new_url = match &patch.url {
        Some(u) => Some(url(app, u).await?),
        None => None,
    };
    let tx = app.db.begin().await?;
    let before = store::get(&tx, who.workspace(), id).await.or_not_found("webhook")?;
    precondition.check(before.version)?;
    let mut after = before.clone();
    if let Some(u) = new_url {
        after.url = u;
    }
    if let Some(p) = patch.event_types {
        after.event_types = p.iter().map(|p| p.trim().to_owned()).collect();
    }
    after.description = description.apply(after.description);
    after.fields = fields.apply(after.fields);
    if let Some(s) = patch.skip_own {
        after.skip_own = s;
    }
    if let Some(en) = patch.enabled {
        after.enabled = en;
        if en {
            after.disabled_reason = None;
        }
    }
    if after == before {
        return Ok(before);
    }
    after.version += 1;
    after.updated_at = rapport_store::now();
    store::update(&tx, who.workspace(), &before, &after).await?;
    super::commit(tx).await?;
    Ok(after)
}

/// Deletes an endpoint with its delivery history.
/// # Errors
/// 403; 404; 412.
pub async fn delete(app: &App, who: &Caller, id: WebhookId, precondition: Precondition) -> Result<(), ApiError> {
    who.require(Scope::WebhooksManage)?;
    let tx = app.db.begin().await?;
    let e = store::get(&tx, who.workspace(), id).await.or_not_found("webhook")?;
    precondition.check(e.version)?;
    store::delete(&tx, who.workspace(), id).await?;
    super::commit(tx).await
}

/// A new secret; the previous one keeps signing for `overlap` (receivers accept either).
/// # Errors
/// 403; 404; 422 for an overlap outside 0 to 7 days.
pub async fn rotate(
    app: &App,
    who: &Caller,
    id: WebhookId,
    overlap_seconds: Option<i64>,
) -> Result<(String, DateTime<Utc>), ApiError> {
    who.require(Scope::WebhooksManage)?;
    let overlap = overlap_seconds.unwrap_or(86_400);
    if !(0..=7 * 86_400).contains(&overlap) {
        return Err(ApiError::invalid(
            "/overlap_seconds",
            "out_of_range",
            "must be 0 to 604800",
        ));
    }
    let secret = sign::new_secret().map_err(internal)?;
    let now = rapport_store::now();
    let tx = app.db.begin().await?;
    let before = store::get(&tx, who.workspace(), id).await.or_not_found("webhook")?;
    let until = now + Duration::seconds(overlap);
    let mut after = before.clone();
    after.previous_secret = Some(before.secret.clone());
    after.previous_until = Some(until);
    after.secret = secret.clone();
    after.version += 1;
    after.updated_at = now;
    store::update(&tx, who.workspace(), &before, &after).await?;
    super::commit(tx).await?;
    Ok((secret, until))
}

/// Sends a signed `webhook.test` message now (not retried, not in the feed).
/// # Errors
/// 403; 404.
pub async fn test(app: &App, who: &Caller, id: WebhookId) -> Result<TestResult, ApiError> {
    let e = get(app, who, id).await?;
    let now = rapport_store::now();
    let message = uuid::Uuid::now_v7();
    let body = serde_json::json!({
        "id": message,
        "type": "webhook.test",
        "position": 0,
        "occurred_at": now,
        "actor": crate::dto::contacts::ActorDto::from(who.actor()),
        "data": {"object": WebhookDto::from(&e)},
        "data_version": 1,
    });
    let sent = crate::webhooks::send(
        &app.webhooks,
        &app.settings,
        &e,
        &message.to_string(),
        serde_json::to_vec(&body).unwrap_or_default(),
    )
    .await;
    Ok(TestResult {
        ok: sent.ok(),
        status_code: sent.status,
        latency_ms: sent.latency_ms,
        error: sent.error,
    })
}

/// An endpoint's deliveries, newest first.
/// # Errors
/// 403; 404; 400 for an unknown status.
pub async fn deliveries(
    app: &App,
    who: &Caller,
    id: WebhookId,
    status: Option<&str>,
    before: Option<uuid::Uuid>,
    limit: u64,
) -> Result<Page<Delivery>, ApiError> {
    get(app, who, id).await?;
    if let Some(s) = status
        && !["pending", "delivering", "succeeded", "failed"].contains(&s)
    {
        return Err(ApiError::bad_request(
            "invalid_query",
            "status must be pending, delivering, succeeded or failed",
        ));
    }
    Ok(store::deliveries(app.db.read(), who.workspace(), id, status, before, limit).await?)
}

/// A delivery's attempts.
/// # Errors
/// 403; 404.
pub async fn attempts(app: &App, who: &Caller, id: WebhookId, delivery: DeliveryId) -> Result<Vec<Attempt>, ApiError> {
    get(app, who, id).await?;
    store::delivery(app.db.read(), who.workspace(), id, delivery)
        .await
        .or_not_found("delivery")?;
    Ok(store::attempts(app.db.read(), who.workspace(), delivery).await?)
}

/// Makes a delivery due now for one more attempt.
/// # Errors
/// 403; 404.
pub async fn retry(app: &App, who: &Caller, id: WebhookId, delivery: DeliveryId) -> Result<Delivery, ApiError> {
    get(app, who, id).await?;
    let tx = app.db.begin().await?;
    store::delivery(&tx, who.workspace(), id, delivery)
        .await
        .or_not_found("delivery")?;
    store::retry(&tx, who.workspace(), delivery, rapport_store::now()).await?;
    let d = store::delivery(&tx, who.workspace(), id, delivery).await?;
    super::commit(tx).await?;
    Ok(d)
}

/// Delivers again every event of `[since, until)` the endpoint takes.
/// # Errors
/// 403; 404; 422 for an empty range or more than [`MAX_REPLAY`] events.
pub async fn replay(
    app: &App,
    who: &Caller,
    id: WebhookId,
    since: DateTime<Utc>,
    until: Option<DateTime<Utc>>,
) -> Result<u64, ApiError> {
    let e = get(app, who, id).await?;
    let until = until.unwrap_or_else(rapport_store::now);
    if until <= since {
        return Err(ApiError::invalid("/until", "invalid_value", "must be after since"));
    }
    let events = outbox::between(app.db.read(), who.workspace(), since, until, MAX_REPLAY + 1).await?;
    if events.len() as u64 > MAX_REPLAY {
        return Err(ApiError::invalid(
            "/since",
            "too_many",
            format!("the range holds more than {MAX_REPLAY} events; replay a shorter one"),
        ));
    }
    let wanted: Vec<_> = events.into_iter().filter(|ev| store::wants(&e, ev)).collect();
    let tx = app.db.begin().await?;
    let n = store::schedule(&tx, who.workspace(), id, &wanted, rapport_store::now()).await?;
    super::commit(tx).await?;
    Ok(n)
}

/// Disables an endpoint (410 Gone, or every attempt of a delivery failed), cancels its
/// due deliveries and writes `webhook.disabled`.
/// # Errors
/// When the database fails.
pub async fn disable(app: &App, ws: WorkspaceId, id: WebhookId, reason: &str) -> Result<(), ApiError> {
    let tx = app.db.begin().await?;
    let before = store::get(&tx, ws, id).await.or_not_found("webhook")?;
    if !before.enabled {
        return Ok(());
    }
    let now = rapport_store::now();
    let mut after = before.clone();
    after.enabled = false;
    after.disabled_reason = Some(reason.to_owned());
    after.version += 1;
    after.updated_at = now;
    store::update(&tx, ws, &before, &after).await?;
    store::cancel_pending(&tx, ws, id, "the endpoint was disabled").await?;
    let data = serde_json::json!({"object": WebhookDto::from(&after), "reason": reason});
    let event = Event::new(
        EventType::WebhookDisabled,
        ws,
        rapport_domain::event::Actor::system(),
        now,
        data,
    );
    outbox::push(&tx, &[event]).await?;
    super::commit(tx).await?;
    tracing::warn!(endpoint = %id, reason, "webhook endpoint disabled");
    Ok(())
}
