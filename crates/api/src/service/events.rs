//! The event feed: a workspace's events in commit order, for connectors that poll and
//! for catching up after being offline.

use rapport_domain::event::{EventPattern, EventType};
use rapport_domain::scope::Scope;
use rapport_store::outbox::{self, StoredEvent, TypeFilter};

use crate::app::App;
use crate::auth::Caller;
use crate::error::ApiError;

/// A page of the feed.
#[derive(Debug)]
pub struct FeedPage {
    pub events: Vec<StoredEvent>,
    pub has_more: bool,
}

/// Parses type patterns (`contact.*`, `consent.updated`, `*`); none means every type.
/// # Errors
/// 400 `invalid_query` naming an unknown type or family.
pub fn filter(patterns: &[String]) -> Result<TypeFilter, ApiError> {
    let mut kinds: Vec<EventType> = Vec::new();
    for p in patterns.iter().map(|p| p.trim()).filter(|p| !p.is_empty()) {
        let pattern = EventPattern::parse(p).map_err(|bad| {
            ApiError::bad_request(
                "invalid_query",
                format!("types: '{bad}' is no event type or family (see /v1/event-types)"),
            )
        })?;
        if pattern == EventPattern::All {
            return Ok(TypeFilter(None));
        }
        for k in pattern.types() {
            if !kinds.contains(&k) {
                kinds.push(k);
            }
        }
    }
    Ok(TypeFilter((!kinds.is_empty()).then_some(kinds)))
}

/// Events after `after` (a position), oldest first.
/// # Errors
/// 403 without `events:read`; 400 for bad patterns.
pub async fn feed(
    app: &App,
    who: &Caller,
    patterns: &[String],
    after: Option<i64>,
    limit: u64,
) -> Result<FeedPage, ApiError> {
    who.require(Scope::EventsRead)?;
    let types = filter(patterns)?;
    let mut events = outbox::feed(app.db.read(), who.workspace(), &types, after, limit + 1).await?;
    let has_more = events.len() > usize::try_from(limit).unwrap_or(usize::MAX);
    events.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
    Ok(FeedPage { events, has_more })
}

/// Parses a feed cursor: the `position` of the last event read.
/// # Errors
/// 400 `invalid_cursor`.
pub fn cursor(after: Option<&str>) -> Result<Option<i64>, ApiError> {
    after
        .map(|a| {
            a.trim()
                .parse::<i64>()
                .ok()
                .filter(|p| *p >= 0)
                .ok_or_else(|| ApiError::bad_request("invalid_cursor", "after must be the position of an event"))
        })
        .transpose()
}
