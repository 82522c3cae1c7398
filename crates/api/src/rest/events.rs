//! `/v1/events`: the durable, commit-ordered feed of a workspace's events, and the
//! catalogue of event types.

use actix_web::{HttpResponse, get, web};
use rapport_domain::event::EventType;
use serde::Deserialize;
use utoipa::IntoParams;

use super::ReadErrors;
use crate::app::App;
use crate::auth::Caller;
use crate::dto::PageInfo;
use crate::dto::events::{EventDto, EventList, EventTypeDto, EventTypeList};
use crate::error::ApiError;
use crate::service;

/// What to read from the feed.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct FeedQuery {
    /// The `position` of the last event already read (`page.next_cursor`); from the
    /// oldest kept event when absent.
    pub after: Option<String>,
    /// Comma-separated types or families: `contact.*,consent.updated`; `*` or absent for
    /// every type.
    pub types: Option<String>,
    /// Page size, 1 to 500 (default 50).
    pub limit: Option<u64>,
}

/// The workspace's events in commit order. A connector stores the last `position` it
/// processed and passes it as `after`, so after any outage it resumes exactly where it
/// stopped (events are kept for `RAPPORT_EVENT_RETENTION_DAYS`, 30 by default). An event
/// appears here within moments of its commit.
#[utoipa::path(get, path = "/v1/events", tag = "events", params(FeedQuery),
    responses((status = 200, body = EventList), ReadErrors), security(("bearer" = ["events:read"])))]
#[get("/v1/events")]
pub async fn feed(app: web::Data<App>, who: Caller, query: web::Query<FeedQuery>) -> Result<HttpResponse, ApiError> {
    let after = service::events::cursor(query.after.as_deref())?;
    let limit = service::page_size(query.limit)?;
    let patterns: Vec<String> = query
        .types
        .as_deref()
        .unwrap_or_default()
        .split(',')
        .map(str::to_owned)
        .collect();
    let page = service::events::feed(&app, &who, &patterns, after, limit).await?;
    let last = page.events.last().and_then(|e| e.position).or(after);
    Ok(HttpResponse::Ok().json(EventList {
        data: page.events.iter().map(EventDto::from).collect(),
        page: PageInfo {
            // Always given: a reader that is up to date polls again from here.
            next_cursor: last.map(|p| p.to_string()),
            has_more: page.has_more,
        },
    }))
}

/// The catalogue of event types, with what each one's `data` holds.
#[utoipa::path(get, path = "/v1/event-types", tag = "events",
    responses((status = 200, body = EventTypeList), ReadErrors), security(("bearer" = [])))]
#[get("/v1/event-types")]
pub async fn types(_who: Caller) -> HttpResponse {
    HttpResponse::Ok().json(EventTypeList {
        data: EventType::ALL.into_iter().map(EventTypeDto::from).collect(),
    })
}
