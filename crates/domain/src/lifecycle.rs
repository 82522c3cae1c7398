//! Lifecycle stages: the CRM cycle of reach, acquire, convert, retain, make loyal.
//!
//! The main path is ordered: `subscriber` → `lead` → `qualified` → `opportunity` →
//! `customer` → `repeat_customer` → `advocate`. Two stages lie off it: `churned` (a
//! customer who left) and `disqualified` (a prospect who will not buy). [`Stage::check`]
//! decides every move; nothing else in the system does.

use std::collections::BTreeMap;
use std::fmt;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::error::{DomainError, FieldError};
use crate::event::Actor;
use crate::ids::{ContactId, TransitionId};

/// A lifecycle stage.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Stage {
    Subscriber,
    Lead,
    Qualified,
    Opportunity,
    Customer,
    RepeatCustomer,
    Advocate,
    Churned,
    Disqualified,
}

impl Stage {
    /// Every stage, main path first.
    pub const ALL: [Stage; 9] = [
        Stage::Subscriber,
        Stage::Lead,
        Stage::Qualified,
        Stage::Opportunity,
        Stage::Customer,
        Stage::RepeatCustomer,
        Stage::Advocate,
        Stage::Churned,
        Stage::Disqualified,
    ];

    /// The stage's wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Stage::Subscriber => "subscriber",
            Stage::Lead => "lead",
            Stage::Qualified => "qualified",
            Stage::Opportunity => "opportunity",
            Stage::Customer => "customer",
            Stage::RepeatCustomer => "repeat_customer",
            Stage::Advocate => "advocate",
            Stage::Churned => "churned",
            Stage::Disqualified => "disqualified",
        }
    }

    /// Parses a wire name.
    pub fn parse(s: &str) -> Option<Stage> {
        Stage::ALL.into_iter().find(|st| st.as_str() == s)
    }

    /// Position on the main path (0 = subscriber … 6 = advocate); `None` off it.
    pub fn rank(self) -> Option<u8> {
        match self {
            Stage::Subscriber => Some(0),
            Stage::Lead => Some(1),
            Stage::Qualified => Some(2),
            Stage::Opportunity => Some(3),
            Stage::Customer => Some(4),
            Stage::RepeatCustomer => Some(5),
            Stage::Advocate => Some(6),
            Stage::Churned | Stage::Disqualified => None,
        }
    }

    /// Whether this stage means the person has bought (customer or beyond on the path).
    pub fn is_customer(self) -> bool {
        self.rank().is_some_and(|r| r >= 4)
    }

    /// The furthest main-path stage that being in this stage implies was reached: a
    /// churned contact was a customer, a disqualified one was at least a lead.
    #[must_use]
    pub fn implied_reach(self) -> Stage {
        match self {
            Stage::Churned => Stage::Customer,
            Stage::Disqualified => Stage::Lead,
            s => s,
        }
    }

    /// Classifies a move from `self` to `to`, without deciding whether it is allowed.
    pub fn direction(self, to: Stage) -> Direction {
        use Stage::{Churned, Disqualified};
        if self == to {
            return Direction::Same;
        }
        match (self.rank(), to) {
            (Some(_), Churned) if self.is_customer() => Direction::Exit,
            (Some(_), Disqualified) if !self.is_customer() => Direction::Exit,
            (Some(from), _) => match to.rank() {
                Some(r) if r > from => Direction::Forward,
                _ => Direction::Backward,
            },
            (None, _) if self == Churned && to.is_customer() => Direction::Reactivation,
            (None, _) if self == Disqualified && to.is_customer() => Direction::Forward,
            (None, _) => Direction::Backward,
        }
    }

    /// Decides a move. Forward moves (skipping is fine), exits (a customer churns, a
    /// prospect is disqualified) and reactivations (a churned customer buys again) are
    /// always allowed. Anything else is a backward move: it needs the caller's override
    /// permission and a reason.
    ///
    /// Answers `Ok(None)` when `to` is the current stage: nothing to record.
    /// # Errors
    /// `stage_transition_not_allowed` for a backward move without both.
    pub fn check(self, to: Stage, authority: Authority<'_>) -> Result<Option<Direction>, DomainError> {
        let direction = self.direction(to);
        match direction {
            Direction::Same => Ok(None),
            Direction::Forward | Direction::Exit | Direction::Reactivation => Ok(Some(direction)),
            Direction::Backward => {
                if !authority.may_override {
                    Err(DomainError::StageTransitionNotAllowed {
                        from: self,
                        to,
                        why: "a backward move needs the lifecycle:override scope and a reason",
                    })
                } else if authority.reason.is_none() {
                    Err(DomainError::StageTransitionNotAllowed {
                        from: self,
                        to,
                        why: "a backward move needs a reason",
                    })
                } else {
                    Ok(Some(direction))
                }
            }
        }
    }
}

impl fmt::Display for Stage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What kind of move a transition is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    Same,
    /// Further along the main path.
    Forward,
    /// Leaving the path: a customer churns, a prospect is disqualified.
    Exit,
    /// A churned customer becomes a customer again.
    Reactivation,
    /// Any other move; needs an override and a reason.
    Backward,
}

/// What the caller may do, as far as lifecycle rules care.
#[derive(Clone, Copy, Debug, Default)]
pub struct Authority<'a> {
    /// The caller holds `lifecycle:override`.
    pub may_override: bool,
    /// The reason given for the move, already validated by [`reason`].
    pub reason: Option<&'a str>,
}

/// What caused a transition.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Cause {
    /// A caller asked for it through the API.
    Api,
    /// An automatic rule (e.g. no order for N days).
    Rule,
    /// An order (first order, repeat order, reactivation).
    Order,
    /// A bulk import.
    Import,
}

impl Cause {
    pub fn as_str(self) -> &'static str {
        match self {
            Cause::Api => "api",
            Cause::Rule => "rule",
            Cause::Order => "order",
            Cause::Import => "import",
        }
    }

    pub fn parse(s: &str) -> Option<Cause> {
        [Cause::Api, Cause::Rule, Cause::Order, Cause::Import]
            .into_iter()
            .find(|c| c.as_str() == s)
    }
}

/// Where a new purchase moves a contact, if anywhere: with `purchases` orders counting
/// (this one included), the first makes a `customer`, the second a `repeat_customer`;
/// a `churned` contact becomes a `customer` again (a reactivation) when the purchase is
/// `recent` (placed within the churn window: an old order imported late brings no one
/// back). Never backward: an advocate stays an advocate.
pub fn after_purchase(stage: Stage, purchases: i64, recent: bool) -> Option<(Stage, Direction)> {
    let target = match purchases {
        i64::MIN..=0 => return None,
        1 => Stage::Customer,
        _ => Stage::RepeatCustomer,
    };
    if stage == Stage::Churned {
        return recent.then_some((Stage::Customer, Direction::Reactivation));
    }
    match stage.direction(target) {
        Direction::Forward => Some((target, Direction::Forward)),
        _ => None,
    }
}

/// Whether a customer whose latest purchase was at `last_purchase` has churned at `now`:
/// a customer stage (customer, repeat customer, advocate) and no purchase for `days`.
pub fn has_churned(stage: Stage, last_purchase: DateTime<Utc>, days: u32, now: DateTime<Utc>) -> bool {
    stage.is_customer() && last_purchase < now - chrono::TimeDelta::days(i64::from(days))
}

/// Longest transition reason, in characters.
pub const MAX_REASON_CHARS: usize = 1000;

/// A transition reason: trimmed, non-empty, at most [`MAX_REASON_CHARS`]; blank means none.
pub fn reason(raw: Option<&str>, pointer: &str) -> Result<Option<String>, FieldError> {
    match raw {
        None => Ok(None),
        Some(r) => crate::text::optional_text(r, pointer, MAX_REASON_CHARS),
    }
}

/// Where a contact stands in its lifecycle, with the history funnel analytics need.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StageState {
    /// The current stage.
    pub stage: Stage,
    /// The furthest main-path stage ever reached.
    pub highest: Stage,
    /// When each stage was first entered.
    pub entered_at: BTreeMap<Stage, DateTime<Utc>>,
}

impl StageState {
    /// The state of a new contact starting in `stage`.
    pub fn start(stage: Stage, now: DateTime<Utc>) -> Self {
        Self {
            stage,
            highest: stage.implied_reach(),
            entered_at: BTreeMap::from([(stage, now)]),
        }
    }

    /// The state after moving to `to` at `now` (the move was already checked).
    #[must_use]
    pub fn moved_to(&self, to: Stage, now: DateTime<Utc>) -> Self {
        let reach = to.implied_reach();
        let highest = if reach.rank() > self.highest.rank() {
            reach
        } else {
            self.highest
        };
        let mut entered_at = self.entered_at.clone();
        entered_at.entry(to).or_insert(now);
        Self {
            stage: to,
            highest,
            entered_at,
        }
    }
}

/// A recorded stage change: from (none for a contact's first stage), to, when, why
/// and by whom.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Transition {
    pub id: TransitionId,
    pub contact_id: ContactId,
    pub from: Option<Stage>,
    pub to: Stage,
    pub direction: Direction,
    pub cause: Cause,
    pub actor: Actor,
    pub reason: Option<String>,
    pub at: DateTime<Utc>,
}

impl Direction {
    pub fn as_str(self) -> &'static str {
        match self {
            Direction::Same => "same",
            Direction::Forward => "forward",
            Direction::Exit => "exit",
            Direction::Reactivation => "reactivation",
            Direction::Backward => "backward",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [
            Self::Same,
            Self::Forward,
            Self::Exit,
            Self::Reactivation,
            Self::Backward,
        ]
        .into_iter()
        .find(|d| d.as_str() == s)
    }
}

#[cfg(test)]
mod tests {
    use super::Direction::{Backward as B, Exit as X, Forward as F, Reactivation as R, Same as S};
    use super::*;
    use proptest::prelude::*;

    /// The rule table, written out by hand from the design: row = from, column = to, in
    /// the order of `Stage::ALL`.
    const TABLE: [[Direction; 9]; 9] = [
        //  sub lead qual opp cust rep adv churn disq
        [S, F, F, F, F, F, F, B, X], // subscriber
        [B, S, F, F, F, F, F, B, X], // lead
        [B, B, S, F, F, F, F, B, X], // qualified
        [B, B, B, S, F, F, F, B, X], // opportunity
        [B, B, B, B, S, F, F, X, B], // customer
        [B, B, B, B, B, S, F, X, B], // repeat_customer
        [B, B, B, B, B, B, S, X, B], // advocate
        [B, B, B, B, R, R, R, S, B], // churned
        [B, B, B, B, F, F, F, B, S], // disqualified
    ];

    #[test]
    fn purchases_move_contacts_forward_only() {
        use Stage::*;
        type Case = (Stage, i64, bool, Option<(Stage, Direction)>);
        // (stage, purchases, recent) → expected
        let cases: [Case; 16] = [
            (Subscriber, 1, true, Some((Customer, F))),
            (Lead, 1, false, Some((Customer, F))),
            (Opportunity, 2, true, Some((RepeatCustomer, F))),
            (Disqualified, 1, true, Some((Customer, F))),
            (Customer, 1, true, None),
            (Customer, 2, false, Some((RepeatCustomer, F))),
            (RepeatCustomer, 5, true, None),
            (Advocate, 1, true, None),
            (Advocate, 9, true, None),
            (Churned, 1, true, Some((Customer, R))),
            (Churned, 7, true, Some((Customer, R))),
            (Churned, 3, false, None),
            (Subscriber, 0, true, None),
            (Customer, 0, true, None),
            (Churned, 0, true, None),
            (Qualified, -1, true, None),
        ];
        for (stage, n, recent, expected) in cases {
            assert_eq!(after_purchase(stage, n, recent), expected, "{stage} {n} {recent}");
        }
    }

    #[test]
    fn only_customers_without_a_purchase_for_the_window_churn() {
        let now = DateTime::parse_from_rfc3339("2026-06-01T00:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let days = |d: i64| now - chrono::TimeDelta::days(d);
        assert!(has_churned(Stage::Customer, days(181), 180, now));
        assert!(has_churned(Stage::Advocate, days(400), 180, now));
        assert!(!has_churned(Stage::RepeatCustomer, days(180), 180, now));
        assert!(!has_churned(Stage::Customer, days(10), 180, now));
        assert!(!has_churned(Stage::Lead, days(400), 180, now));
        assert!(!has_churned(Stage::Churned, days(400), 180, now));
    }

    proptest! {
        #[test]
        fn a_purchase_never_moves_anyone_backward(i in 0usize..9, n in 0i64..5, recent: bool) {
            let from = Stage::ALL[i];
            if let Some((to, dir)) = after_purchase(from, n, recent) {
                prop_assert_eq!(from.direction(to), dir);
                prop_assert!(matches!(dir, Direction::Forward | Direction::Reactivation));
                prop_assert!(from.check(to, Authority::default()).is_ok());
            }
        }
    }

    #[test]
    fn every_pair_of_stages_moves_as_the_table_says() {
        for (i, from) in Stage::ALL.into_iter().enumerate() {
            for (j, to) in Stage::ALL.into_iter().enumerate() {
                assert_eq!(from.direction(to), TABLE[i][j], "{from} -> {to}");
            }
        }
    }

    #[test]
    fn backward_moves_need_both_the_override_and_a_reason() {
        for from in Stage::ALL {
            for to in Stage::ALL {
                let plain = from.check(to, Authority::default());
                let no_reason = from.check(
                    to,
                    Authority {
                        may_override: true,
                        reason: None,
                    },
                );
                let no_scope = from.check(
                    to,
                    Authority {
                        may_override: false,
                        reason: Some("moved"),
                    },
                );
                let full = from.check(
                    to,
                    Authority {
                        may_override: true,
                        reason: Some("moved"),
                    },
                );
                if from.direction(to) == Direction::Backward {
                    for r in [&plain, &no_reason, &no_scope] {
                        assert_eq!(r.as_ref().unwrap_err().code(), "stage_transition_not_allowed");
                    }
                    assert_eq!(full.unwrap(), Some(Direction::Backward));
                } else {
                    assert_eq!(plain, full, "{from} -> {to}");
                }
            }
        }
    }

    #[test]
    fn a_customer_cannot_fall_back_to_lead_without_a_reason() {
        let err = Stage::Customer.check(
            Stage::Lead,
            Authority {
                may_override: true,
                reason: None,
            },
        );
        assert!(matches!(err, Err(DomainError::StageTransitionNotAllowed { .. })));
    }

    #[test]
    fn moving_to_the_current_stage_records_nothing() {
        for s in Stage::ALL {
            assert_eq!(s.check(s, Authority::default()).unwrap(), None);
        }
    }

    #[test]
    fn a_churned_customer_is_still_known_to_have_bought() {
        let t0 = Utc::now();
        let s = StageState::start(Stage::Lead, t0)
            .moved_to(Stage::Customer, t0)
            .moved_to(Stage::Churned, t0);
        assert_eq!(s.stage, Stage::Churned);
        assert_eq!(s.highest, Stage::Customer);
        assert_eq!(StageState::start(Stage::Churned, t0).highest, Stage::Customer);
    }

    #[test]
    fn stage_names_round_trip() {
        for s in Stage::ALL {
            assert_eq!(Stage::parse(s.as_str()), Some(s));
            assert_eq!(serde_json::to_value(s).unwrap(), s.as_str());
        }
        assert_eq!(Stage::parse("Customer"), None);
    }

    fn any_stage() -> impl Strategy<Value = Stage> {
        (0..Stage::ALL.len()).prop_map(|i| Stage::ALL[i])
    }

    proptest! {
        /// Whatever sequence of allowed moves happens, the highest stage never goes down,
        /// first-entry times never change, and the current stage is always accounted for.
        #[test]
        fn stage_history_only_grows(start in any_stage(), moves in prop::collection::vec((any_stage(), any::<bool>()), 0..40)) {
            let mut now = Utc::now();
            let mut state = StageState::start(start, now);
            for (to, may_override) in moves {
                now += chrono::Duration::seconds(1);
                let auth = Authority { may_override, reason: Some("because") };
                if let Ok(Some(_)) = state.stage.check(to, auth) {
                    let next = state.moved_to(to, now);
                    prop_assert!(next.highest.rank() >= state.highest.rank());
                    for (stage, at) in &state.entered_at {
                        prop_assert_eq!(next.entered_at.get(stage), Some(at));
                    }
                    prop_assert!(next.entered_at.contains_key(&to));
                    prop_assert!(next.highest.rank() >= to.implied_reach().rank());
                    state = next;
                } else {
                    prop_assert!(!may_override || state.stage == to);
                }
            }
        }
    }
}
