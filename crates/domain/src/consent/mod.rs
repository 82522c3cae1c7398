//! Consent: workspace-defined purposes and an append-only ledger of the decisions people
//! made about them (DESIGN §4 "Consent").
//!
//! The ledger is the proof; the effective state of a purpose is derived from it: the
//! event with the latest `captured_at` wins, ties going to the later arrival, so an old
//! decision that arrives late never overrides a newer one. [`decide`] answers "may I
//! contact this person for this purpose now?", the strictest applicable record winning.

mod purpose;
mod record;
mod state;
#[cfg(test)]
mod tests;

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::event::Actor;
use crate::ids::{ConsentEventId, ContactId};

pub use purpose::{NewPurpose, Purpose, PurposePatch, defaults};
pub use record::{CLOCK_SKEW, Proof, RecordInput, contact_point, proof};
pub use state::{Answer, ConsentState, Decision, decide, effective};

crate::wire_enum!(
    /// The medium a purpose reaches people through.
    Channel {
        Email = "email",
        Sms = "sms",
        Phone = "phone",
        Postal = "postal",
        Push = "push",
        Any = "any",
    }
);

crate::wire_enum!(
    /// The lawful basis of processing (GDPR art. 6(1)).
    LegalBasis {
        Consent = "consent",
        Contract = "contract",
        LegalObligation = "legal_obligation",
        VitalInterests = "vital_interests",
        PublicTask = "public_task",
        LegitimateInterests = "legitimate_interests",
    }
);

crate::wire_enum!(
    /// What a person decided. `PendingConfirmation` is never sent by callers: it is what a
    /// grant becomes for a purpose that needs double opt-in until the person confirms.
    Status {
        Granted = "granted",
        Denied = "denied",
        Withdrawn = "withdrawn",
        PendingConfirmation = "pending_confirmation",
    }
);

crate::wire_enum!(
    /// How the grant was obtained: a single action, confirmed through a second channel
    /// (double opt-in), or not known (imported records).
    OptInLevel {
        Single = "single",
        Confirmed = "confirmed",
        Unknown = "unknown",
    }
);

/// One recorded decision. Never updated or deleted, except that erasure removes the
/// personal data in it (contact point, ip, user agent).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ConsentEvent {
    pub id: ConsentEventId,
    pub contact_id: ContactId,
    pub purpose: String,
    pub status: Status,
    pub legal_basis: LegalBasis,
    pub opt_in_level: OptInLevel,
    /// The one address or number the decision is about, when narrower than the contact.
    pub contact_point: Option<String>,
    pub source: String,
    /// When the person decided.
    pub captured_at: DateTime<Utc>,
    /// When Rapport learnt of it.
    pub recorded_at: DateTime<Utc>,
    pub expires_at: Option<DateTime<Utc>>,
    pub proof: Proof,
    pub actor: Actor,
}

impl ConsentEvent {
    /// Whether this event, arriving after the one captured at `other_captured_at`,
    /// decides its purpose and contact point instead: it was captured later or at the
    /// same instant (then the later arrival wins).
    pub fn supersedes(&self, other_captured_at: DateTime<Utc>) -> bool {
        self.captured_at >= other_captured_at
    }

    /// A grant that would wait for double opt-in is a plain grant when the person has
    /// already confirmed this purpose and contact point and that grant still holds: a
    /// customer ticking the newsletter box at every checkout is not asked again.
    #[must_use]
    pub fn settled(mut self, current: Option<&ConsentState>, now: DateTime<Utc>) -> Self {
        let confirmed = current.is_some_and(|c| {
            c.status == Status::Granted && c.opt_in_level == OptInLevel::Confirmed && c.answer(now) == Answer::Granted
        });
        if self.status == Status::PendingConfirmation && confirmed {
            self.status = Status::Granted;
        }
        self
    }

    /// The event without the personal data erasure removes.
    #[must_use]
    pub fn erased(mut self) -> Self {
        self.contact_point = None;
        self.proof.ip = None;
        self.proof.user_agent = None;
        self
    }
}
