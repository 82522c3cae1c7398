//! The effective state of consent, derived from the ledger, and the answer to "may I
//! contact this person for this purpose now?".

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::{ConsentEvent, LegalBasis, OptInLevel, Status};
use crate::ids::ConsentEventId;

/// The deciding event of one purpose and contact point (`None`: the whole contact).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ConsentState {
    pub purpose: String,
    pub contact_point: Option<String>,
    pub event_id: ConsentEventId,
    pub status: Status,
    pub legal_basis: LegalBasis,
    pub opt_in_level: OptInLevel,
    pub source: String,
    /// When the deciding event was captured.
    pub since: DateTime<Utc>,
    pub expires_at: Option<DateTime<Utc>>,
}

impl From<&ConsentEvent> for ConsentState {
    fn from(e: &ConsentEvent) -> Self {
        Self {
            purpose: e.purpose.clone(),
            contact_point: e.contact_point.clone(),
            event_id: e.id,
            status: e.status,
            legal_basis: e.legal_basis,
            opt_in_level: e.opt_in_level,
            source: e.source.clone(),
            since: e.captured_at,
            expires_at: e.expires_at,
        }
    }
}

impl ConsentState {
    /// The state after `event` arrives (for the same purpose and contact point): the
    /// event decides when it supersedes the current deciding event. `None`: unchanged.
    #[must_use]
    pub fn after(current: Option<&ConsentState>, event: &ConsentEvent) -> Option<ConsentState> {
        match current {
            Some(c) if !event.supersedes(c.since) => None,
            _ => Some(ConsentState::from(event)),
        }
    }

    /// What this state answers at `now`: a grant past its expiry is `expired`.
    pub fn answer(&self, now: DateTime<Utc>) -> Answer {
        match self.status {
            Status::Granted if self.expires_at.is_some_and(|e| e <= now) => Answer::Expired,
            Status::Granted => Answer::Granted,
            Status::Denied => Answer::Denied,
            Status::Withdrawn => Answer::Withdrawn,
            Status::PendingConfirmation => Answer::PendingConfirmation,
        }
    }
}

/// The effective states of a ledger given in arrival order: per purpose and contact
/// point, the event captured last (ties: the later arrival).
pub fn effective<'a>(events: impl IntoIterator<Item = &'a ConsentEvent>) -> Vec<ConsentState> {
    let mut states: BTreeMap<(String, Option<String>), ConsentState> = BTreeMap::new();
    for e in events {
        let k = (e.purpose.clone(), e.contact_point.clone());
        if let Some(next) = ConsentState::after(states.get(&k), e) {
            states.insert(k, next);
        }
    }
    states.into_values().collect()
}

crate::wire_enum!(
    /// The answer for a purpose.
    Answer {
        Granted = "granted",
        Denied = "denied",
        Withdrawn = "withdrawn",
        PendingConfirmation = "pending_confirmation",
        /// A grant whose `expires_at` has passed.
        Expired = "expired",
        /// Nothing was ever recorded.
        None = "none",
    }
);

impl Answer {
    /// How strongly this answer forbids contact; the strictest applicable answer wins.
    fn strictness(self) -> u8 {
        match self {
            Answer::Withdrawn => 5,
            Answer::Denied => 4,
            Answer::Expired => 3,
            Answer::PendingConfirmation => 2,
            Answer::Granted => 1,
            Answer::None => 0,
        }
    }
}

/// Whether a person may be contacted for a purpose, and on what grounds.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Decision {
    pub purpose: String,
    pub allowed: bool,
    pub status: Answer,
    pub since: Option<DateTime<Utc>>,
    pub legal_basis: Option<LegalBasis>,
    pub opt_in_level: Option<OptInLevel>,
    /// The contact point of the deciding record, when it was specific to one.
    pub contact_point: Option<String>,
    pub expires_at: Option<DateTime<Utc>>,
}

/// Decides a purpose from the contact's states: the purpose-wide state and the state of
/// `contact_point` (the address or number about to be used) apply; the strictest of them
/// wins (withdrawn, denied, expired, pending, granted), and only `granted` allows. With
/// no applicable record the answer is `none`, which does not allow.
pub fn decide(purpose: &str, states: &[ConsentState], contact_point: Option<&str>, now: DateTime<Utc>) -> Decision {
    let deciding = states
        .iter()
        .filter(|s| s.purpose == purpose)
        .filter(|s| s.contact_point.is_none() || s.contact_point.as_deref() == contact_point)
        .map(|s| (s.answer(now), s))
        .max_by_key(|(a, s)| (a.strictness(), s.since, s.event_id));
    match deciding {
        Some((answer, s)) => Decision {
            purpose: purpose.to_owned(),
            allowed: answer == Answer::Granted,
            status: answer,
            since: Some(s.since),
            legal_basis: Some(s.legal_basis),
            opt_in_level: Some(s.opt_in_level),
            contact_point: s.contact_point.clone(),
            expires_at: s.expires_at,
        },
        None => Decision {
            purpose: purpose.to_owned(),
            allowed: false,
            status: Answer::None,
            since: None,
            legal_basis: None,
            opt_in_level: None,
            contact_point: None,
            expires_at: None,
        },
    }
}
