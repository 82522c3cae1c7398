use chrono::{DateTime, Duration, TimeZone, Utc};
use proptest::prelude::*;

use super::*;
use crate::event::Actor;

fn t(minute: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).single().unwrap() + Duration::minutes(minute)
}

fn purpose(key: &str, double_opt_in: bool) -> Purpose {
    let mut p = defaults(t(0)).remove(0);
    p.key = key.to_owned();
    p.double_opt_in = double_opt_in;
    p
}

fn input(status: &str, captured: i64) -> RecordInput {
    RecordInput {
        purpose: "news".into(),
        status: status.into(),
        source: Some("checkout".into()),
        captured_at: Some(t(captured)),
        ..Default::default()
    }
}

fn record(i: RecordInput, p: &Purpose) -> ConsentEvent {
    i.validate(Some(p), crate::ContactId::new(), Actor::system(), t(1_000))
        .unwrap()
}

fn pointers(e: &crate::DomainError) -> Vec<String> {
    match e {
        crate::DomainError::Invalid(v) => v.iter().map(|f| f.pointer.clone()).collect(),
        other => panic!("not a validation error: {other:?}"),
    }
}

#[test]
fn a_late_older_grant_never_overrides_a_newer_withdrawal() {
    let p = purpose("news", false);
    let withdrawn = record(input("withdrawn", 20), &p);
    let granted = record(input("granted", 10), &p);
    let states = effective([&withdrawn, &granted]);
    assert_eq!(states.len(), 1);
    assert_eq!(states[0].status, Status::Withdrawn);
    assert!(!decide("news", &states, None, t(30)).allowed);
}

#[test]
fn events_captured_at_the_same_instant_are_decided_by_arrival() {
    let p = purpose("news", false);
    let granted = record(input("granted", 10), &p);
    let denied = record(input("denied", 10), &p);
    assert_eq!(effective([&granted, &denied])[0].status, Status::Denied);
    assert_eq!(effective([&denied, &granted])[0].status, Status::Granted);
}

#[test]
fn a_confirmed_subscriber_granting_again_is_not_asked_to_confirm_again() {
    let p = purpose("news", true);
    let confirmed = record(
        RecordInput {
            opt_in_level: Some("confirmed".into()),
            ..input("granted", 1)
        },
        &p,
    );
    let state = ConsentState::from(&confirmed);
    let again = record(input("granted", 2), &p);
    assert_eq!(again.status, Status::PendingConfirmation);
    assert_eq!(again.clone().settled(Some(&state), t(3)).status, Status::Granted);
    // Without a confirmed grant in force, it still waits.
    let withdrawn = ConsentState::from(&record(input("withdrawn", 1), &p));
    assert_eq!(
        again.clone().settled(Some(&withdrawn), t(3)).status,
        Status::PendingConfirmation
    );
    assert_eq!(again.settled(None, t(3)).status, Status::PendingConfirmation);
}

#[test]
fn times_outside_1970_to_9999_are_refused() {
    let p = purpose("news", false);
    let old = RecordInput {
        captured_at: Some(Utc.with_ymd_and_hms(1900, 1, 1, 0, 0, 0).single().unwrap()),
        ..input("granted", 0)
    };
    let e = old
        .validate(Some(&p), crate::ContactId::new(), Actor::system(), t(1_000))
        .unwrap_err();
    assert_eq!(pointers(&e), ["/captured_at"]);
}

#[test]
fn a_grant_for_a_double_opt_in_purpose_waits_for_confirmation_unless_confirmed() {
    let p = purpose("news", true);
    assert_eq!(record(input("granted", 1), &p).status, Status::PendingConfirmation);
    let confirmed = RecordInput {
        opt_in_level: Some("confirmed".into()),
        ..input("granted", 1)
    };
    assert_eq!(record(confirmed, &p).status, Status::Granted);
    assert_eq!(record(input("withdrawn", 1), &p).status, Status::Withdrawn);
}

#[test]
fn the_strictest_applicable_record_decides() {
    let p = purpose("news", false);
    let wide = record(input("granted", 1), &p);
    let narrow = record(
        RecordInput {
            contact_point: Some("Ada@Example.com".into()),
            ..input("withdrawn", 0)
        },
        &p,
    );
    assert_eq!(narrow.contact_point.as_deref(), Some("ada@example.com"));
    let states = effective([&wide, &narrow]);
    let d = decide("news", &states, Some("ada@example.com"), t(2));
    assert!(!d.allowed);
    assert_eq!(d.status, Answer::Withdrawn);
    assert_eq!(d.contact_point.as_deref(), Some("ada@example.com"));
    // Another address is not covered by the narrow withdrawal.
    assert!(decide("news", &states, Some("other@example.com"), t(2)).allowed);
}

#[test]
fn an_expired_grant_does_not_allow_and_no_record_answers_none() {
    let p = purpose("news", false);
    let granted = record(
        RecordInput {
            expires_at: Some(t(5)),
            ..input("granted", 1)
        },
        &p,
    );
    let states = effective([&granted]);
    assert!(decide("news", &states, None, t(4)).allowed);
    let d = decide("news", &states, None, t(5));
    assert_eq!((d.allowed, d.status), (false, Answer::Expired));
    let none = decide("other", &states, None, t(5));
    assert_eq!((none.allowed, none.status, none.since), (false, Answer::None, None));
}

#[test]
fn bad_input_is_answered_with_a_pointer_per_field() {
    let p = purpose("news", false);
    let bad = RecordInput {
        purpose: "news".into(),
        status: "pending_confirmation".into(),
        legal_basis: Some("because".into()),
        opt_in_level: Some("double".into()),
        contact_point: Some("not an address".into()),
        source: None,
        captured_at: Some(t(1_000) + Duration::hours(1)),
        expires_at: Some(t(0)),
        proof: Proof::default(),
    };
    let e = bad
        .validate(Some(&p), crate::ContactId::new(), Actor::system(), t(1_000))
        .unwrap_err();
    assert_eq!(
        pointers(&e),
        [
            "/status",
            "/legal_basis",
            "/opt_in_level",
            "/contact_point",
            "/source",
            "/captured_at",
            "/expires_at"
        ]
    );
    let unknown = input("granted", 1)
        .validate(None, crate::ContactId::new(), Actor::system(), t(1_000))
        .unwrap_err();
    assert_eq!(pointers(&unknown), ["/purpose"]);
}

#[test]
fn a_captured_at_within_the_clock_skew_allowance_is_accepted() {
    let p = purpose("news", false);
    let now = t(1_000);
    let i = RecordInput {
        captured_at: Some(now + CLOCK_SKEW - Duration::seconds(1)),
        ..input("granted", 0)
    };
    assert!(
        i.validate(Some(&p), crate::ContactId::new(), Actor::system(), now)
            .is_ok()
    );
}

#[test]
fn an_archived_purpose_takes_withdrawals_but_no_grants() {
    let mut p = purpose("news", false);
    p.archived_at = Some(t(0));
    let e = input("granted", 1)
        .validate(Some(&p), crate::ContactId::new(), Actor::system(), t(1_000))
        .unwrap_err();
    assert_eq!(e.code(), "purpose_archived");
    assert_eq!(record(input("withdrawn", 1), &p).status, Status::Withdrawn);
}

#[test]
fn purposes_validate_their_key_and_enumerations() {
    let bad = NewPurpose {
        key: "Bad Key".into(),
        name: String::new(),
        channel: "pigeon".into(),
        default_legal_basis: Some("whim".into()),
        ..Default::default()
    };
    assert_eq!(
        pointers(&bad.validate(t(0)).unwrap_err()),
        ["/key", "/name", "/channel", "/default_legal_basis"]
    );
    let p = purpose("news", false);
    assert_eq!(p.apply(PurposePatch::default(), t(1)).unwrap(), None);
    let archived = p
        .apply(
            PurposePatch {
                archived: Some(true),
                ..Default::default()
            },
            t(1),
        )
        .unwrap()
        .unwrap();
    assert_eq!((archived.archived_at, archived.version), (Some(t(1)), p.version + 1));
}

/// A ledger of events with distinct capture times, so their effective state does not
/// depend on arrival.
fn ledger() -> impl Strategy<Value = Vec<ConsentEvent>> {
    let one = (
        0..3usize,
        0..3usize,
        prop::option::of(0..2usize),
        prop::option::of(1..50i64),
    );
    prop::collection::vec(one, 1..24).prop_map(|specs| {
        let keys = ["news", "sms", "profiling"];
        let statuses = ["granted", "denied", "withdrawn"];
        let points = ["a@example.com", "b@example.com"];
        specs
            .into_iter()
            .enumerate()
            .map(|(i, (k, s, cp, exp))| {
                let p = purpose(keys[k], k == 1);
                let minute = i64::try_from(i).unwrap() * 7 % 173;
                let captured = minute * 60 + i64::try_from(i).unwrap();
                let i = RecordInput {
                    purpose: keys[k].into(),
                    contact_point: cp.map(|c| points[c].to_owned()),
                    captured_at: Some(t(0) + Duration::seconds(captured)),
                    expires_at: exp.map(|m| t(0) + Duration::seconds(captured) + Duration::minutes(m)),
                    ..input(statuses[s], 0)
                };
                record(i, &p)
            })
            .collect()
    })
}

proptest! {
    #[test]
    fn the_effective_state_does_not_depend_on_arrival_order(
        events in ledger(),
        seed in any::<u64>(),
        at in 0..400i64,
    ) {
        let reference = effective(&events);
        // Arrival in another order: each event keeps its capture time but gets a new
        // arrival (id), as it would when a shop sends it late.
        let mut shuffled = events.clone();
        let mut s = seed;
        for i in (1..shuffled.len()).rev() {
            s = s.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
            let j = usize::try_from(s >> 33).unwrap() % (i + 1);
            shuffled.swap(i, j);
        }
        for e in &mut shuffled {
            e.id = crate::ConsentEventId::new();
        }
        // Folding one event at a time, as the store does, gives the same states.
        let mut folded: Vec<ConsentState> = Vec::new();
        for e in &shuffled {
            let i = folded.iter().position(|s| s.purpose == e.purpose && s.contact_point == e.contact_point);
            if let Some(next) = ConsentState::after(i.map(|i| &folded[i]), e) {
                match i {
                    Some(i) => folded[i] = next,
                    None => folded.push(next),
                }
            }
        }
        folded.sort_by(|a, b| (&a.purpose, &a.contact_point).cmp(&(&b.purpose, &b.contact_point)));
        let strip = |v: &[ConsentState]| v.iter().map(|s| (s.purpose.clone(), s.contact_point.clone(), s.status, s.since, s.expires_at)).collect::<Vec<_>>();
        prop_assert_eq!(strip(&reference), strip(&effective(&shuffled)));
        prop_assert_eq!(strip(&reference), strip(&folded));
        let now = t(0) + Duration::minutes(at);
        for key in ["news", "sms", "profiling"] {
            for point in [None, Some("a@example.com")] {
                let a = decide(key, &reference, point, now);
                let b = decide(key, &folded, point, now);
                prop_assert_eq!((a.allowed, a.status, a.since), (b.allowed, b.status, b.since));
            }
        }
    }
}
