//! Webhook endpoints: what they subscribe to, which events reach them, and when a failed
//! delivery is tried again (the Standard Webhooks schedule).

use chrono::{DateTime, Duration, Utc};

use crate::error::{DomainError, Errors, FieldError};
use crate::event::{ActorKind, EventPattern, EventType};
use crate::text;

/// Most patterns one endpoint subscribes to.
pub const MAX_PATTERNS: usize = 50;
/// Most fields in a field filter.
pub const MAX_FIELDS: usize = 50;

/// Retry delays after each failed attempt, in seconds (Standard Webhooks): attempt 1
/// at once, then 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 14 h, 20 h and 24 h later.
pub const STANDARD_SCHEDULE: [u64; 10] = [0, 5, 300, 1800, 7200, 18_000, 36_000, 50_400, 72_000, 86_400];

/// A webhook endpoint.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Endpoint {
    pub id: crate::ids::WebhookId,
    pub url: String,
    pub description: Option<String>,
    /// The patterns as given (`contact.*`).
    pub event_types: Vec<String>,
    pub fields: Option<Vec<String>>,
    pub skip_own: bool,
    /// Who created it.
    pub owner: crate::event::Actor,
    pub enabled: bool,
    pub disabled_reason: Option<String>,
    /// `whsec_…`: signs deliveries.
    pub secret: String,
    /// The secret before the last rotation, still signing until `previous_until`.
    pub previous_secret: Option<String>,
    pub previous_until: Option<DateTime<Utc>>,
    /// Only events after this feed position are delivered (replays aside).
    pub start_position: i64,
    pub version: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl Endpoint {
    /// What it subscribes to, parsed (stored patterns were checked when written).
    pub fn subscription(&self) -> Subscription {
        Subscription {
            patterns: self
                .event_types
                .iter()
                .filter_map(|p| EventPattern::parse(p).ok())
                .collect(),
            fields: self.fields.clone(),
            skip_own: self.skip_own,
            owner: self.owner.id.clone().map(|id| (self.owner.kind, id)),
        }
    }

    /// The secrets that sign a delivery at `now`.
    pub fn signing_secrets(&self, now: DateTime<Utc>) -> Vec<&str> {
        secrets_in_force(&self.secret, self.previous_secret.as_deref(), self.previous_until, now)
    }
}

/// The secrets in force at `now` after rotations: the current one, and the previous one
/// until its overlap ends (webhook endpoints sign with them, connectors' pushes are
/// checked against them).
pub fn secrets_in_force<'a>(
    current: &'a str,
    previous: Option<&'a str>,
    until: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> Vec<&'a str> {
    let mut s = vec![current];
    if let (Some(p), Some(until)) = (previous, until)
        && until > now
    {
        s.push(p);
    }
    s
}

/// What an endpoint receives.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Subscription {
    pub patterns: Vec<EventPattern>,
    /// For `*.updated` events: only those changing one of these fields.
    pub fields: Option<Vec<String>>,
    /// Skip events caused by the endpoint's owner (two-way sync without echoes).
    pub skip_own: bool,
    /// Who created the endpoint.
    pub owner: Option<(ActorKind, String)>,
}

/// An event as far as matching needs it.
#[derive(Clone, Copy, Debug)]
pub struct EventFacts<'a> {
    pub kind: EventType,
    pub actor_kind: ActorKind,
    pub actor_id: Option<&'a str>,
    pub changed_fields: Option<&'a [serde_json::Value]>,
}

impl Subscription {
    /// Whether the event goes to this endpoint.
    pub fn wants(&self, e: &EventFacts<'_>) -> bool {
        if !self.patterns.iter().any(|p| p.matches(e.kind)) {
            return false;
        }
        if self.skip_own
            && let (Some((kind, id)), Some(actor)) = (&self.owner, e.actor_id)
            && *kind == e.actor_kind
            && id == actor
        {
            return false;
        }
        match (&self.fields, e.changed_fields) {
            (Some(fields), Some(changed)) if e.kind.as_str().ends_with(".updated") => changed
                .iter()
                .filter_map(serde_json::Value::as_str)
                .any(|c| fields.iter().any(|f| f == c)),
            _ => true,
        }
    }
}

/// Parses event type patterns at `/event_types`.
/// # Errors
/// `validation_failed` naming each unknown pattern.
pub fn patterns(raw: &[String]) -> Result<Vec<EventPattern>, DomainError> {
    let mut errors = Errors::default();
    if raw.is_empty() || raw.len() > MAX_PATTERNS {
        errors.push(FieldError::new(
            "/event_types",
            "invalid_length",
            format!("must list 1 to {MAX_PATTERNS} patterns"),
        ));
    }
    let mut out = Vec::new();
    for (i, p) in raw.iter().enumerate() {
        match EventPattern::parse(p) {
            Ok(p) => out.push(p),
            Err(bad) => errors.push(FieldError::new(
                format!("/event_types/{i}"),
                "unknown_event_type",
                format!("'{bad}' is no event type or family: see /v1/event-types"),
            )),
        }
    }
    errors.finish()?;
    Ok(out)
}

/// Parses a field filter at `/fields`.
/// # Errors
/// `validation_failed` for an empty name or too many.
pub fn fields(raw: &[String]) -> Result<Vec<String>, DomainError> {
    let mut errors = Errors::default();
    if raw.len() > MAX_FIELDS {
        errors.push(FieldError::new(
            "/fields",
            "too_many",
            format!("at most {MAX_FIELDS} fields"),
        ));
    }
    let mut out = Vec::new();
    for (i, f) in raw.iter().enumerate() {
        if let Some(f) = errors.take(text::required_text(f, &format!("/fields/{i}"), 64)) {
            out.push(f);
        }
    }
    errors.finish()?;
    Ok(out)
}

/// When a delivery is tried next after `attempts` failed attempts, by `schedule`
/// (seconds after the previous attempt) with ±10 % jitter from `jitter` (0.0 to 1.0),
/// and no sooner than `retry_after` when the receiver asked for it. `None`: the schedule
/// is used up and the delivery has failed.
pub fn next_attempt(
    schedule: &[u64],
    attempts: usize,
    now: DateTime<Utc>,
    retry_after: Option<Duration>,
    jitter: f64,
) -> Option<DateTime<Utc>> {
    let base = *schedule.get(attempts)?;
    let millis = i64::try_from(base.saturating_mul(1000)).unwrap_or(i64::MAX / 2);
    #[allow(clippy::cast_possible_truncation, clippy::cast_precision_loss)]
    let spread = (millis as f64 * 0.2 * (jitter.clamp(0.0, 1.0) - 0.5)) as i64;
    let delay = Duration::milliseconds(millis + spread);
    let delay = retry_after.map_or(delay, |r| delay.max(r.min(Duration::hours(24))));
    Some(now + delay)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn sub(patterns: &[&str], fields: Option<&[&str]>, skip_own: bool) -> Subscription {
        Subscription {
            patterns: patterns.iter().map(|p| EventPattern::parse(p).unwrap()).collect(),
            fields: fields.map(|f| f.iter().map(|s| (*s).to_owned()).collect()),
            skip_own,
            owner: Some((ActorKind::ApiClient, "me".into())),
        }
    }

    fn ev<'a>(kind: EventType, actor: &'a str, changed: Option<&'a [serde_json::Value]>) -> EventFacts<'a> {
        EventFacts {
            kind,
            actor_kind: ActorKind::ApiClient,
            actor_id: Some(actor),
            changed_fields: changed,
        }
    }

    #[test]
    fn patterns_fields_and_owner_decide_what_an_endpoint_receives() {
        let changed = [json!("first_name")];
        let email = [json!("email")];
        let s = sub(&["contact.*"], Some(&["email"]), true);
        assert!(s.wants(&ev(EventType::ContactCreated, "other", None)));
        assert!(!s.wants(&ev(EventType::ConsentUpdated, "other", None)));
        assert!(!s.wants(&ev(EventType::ContactUpdated, "other", Some(&changed))));
        assert!(s.wants(&ev(EventType::ContactUpdated, "other", Some(&email))));
        assert!(
            !s.wants(&ev(EventType::ContactUpdated, "me", Some(&email))),
            "its own change"
        );
        assert!(sub(&["*"], None, false).wants(&ev(EventType::ContactUpdated, "me", Some(&changed))));
    }

    #[test]
    fn unknown_patterns_are_named_by_their_index() {
        let e = patterns(&["contact.*".into(), "contacts.*".into()]).unwrap_err();
        let DomainError::Invalid(errs) = e else { panic!() };
        assert_eq!(errs[0].pointer, "/event_types/1");
        assert!(patterns(&[]).is_err());
    }

    #[test]
    fn the_schedule_spreads_retries_and_honours_retry_after() {
        let now = chrono::Utc::now();
        let s = STANDARD_SCHEDULE;
        assert_eq!(next_attempt(&s, 0, now, None, 0.5), Some(now));
        assert_eq!(next_attempt(&s, 1, now, None, 0.5), Some(now + Duration::seconds(5)));
        let low = next_attempt(&s, 2, now, None, 0.0).unwrap();
        let high = next_attempt(&s, 2, now, None, 1.0).unwrap();
        assert_eq!(
            (low - now, high - now),
            (Duration::seconds(270), Duration::seconds(330))
        );
        let asked = next_attempt(&s, 1, now, Some(Duration::seconds(60)), 0.5).unwrap();
        assert_eq!(asked - now, Duration::seconds(60));
        assert_eq!(next_attempt(&s, 10, now, None, 0.5), None, "used up");
    }
}
