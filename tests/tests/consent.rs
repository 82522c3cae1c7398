//! Consent itself: purposes, the append-only ledger and the effective state it yields
//! whatever order events arrive in, the strictest-wins question, double opt-in, and the
//! input the ledger refuses. How the rest of the API reaches consents is in
//! `consent_surfaces.rs`.

// Test bodies run through `on_both!`, outside `#[test]` fns, where a failed unwrap is the
// intended test failure.
#![allow(clippy::unwrap_used)]

use chrono::{DateTime, SecondsFormat, TimeDelta, Utc};
use rapport_tests::consent::{ConsentCalls, PURPOSES, consent, rec, rows, text, verdict};
use rapport_tests::{Api, NOWHERE, Reply, Server, TestDb, on_both, on_both_dbs, pick};
use reqwest::Method;
use serde_json::{Value, json};

/// The purpose calls these tests make beyond plain requests.
trait PurposeCalls {
    /// A PATCH of a purpose, with `If-Match` when given.
    async fn patch_purpose(&self, key: &str, body: &Value, if_match: Option<&str>) -> Reply;
}

impl PurposeCalls for Api<'_> {
    async fn patch_purpose(&self, key: &str, body: &Value, if_match: Option<&str>) -> Reply {
        let mut r = self.0.req(Method::PATCH, &format!("{PURPOSES}/{key}"), &self.1);
        if let Some(tag) = if_match {
            r = r.header("if-match", tag);
        }
        Reply::from(r.json(body).send().await.unwrap()).await
    }
}

/// A fixed past instant plus `hours`, as RFC 3339.
fn t(hours: i64) -> String {
    let base: DateTime<Utc> = "2024-03-01T00:00:00Z".parse().unwrap();
    (base + TimeDelta::hours(hours)).to_rfc3339_opts(SecondsFormat::Secs, true)
}

fn at(v: &Value) -> DateTime<Utc> {
    let text = v.as_str().unwrap_or_else(|| panic!("not a timestamp: {v}"));
    text.parse().unwrap()
}

async fn a_new_workspace_starts_with_the_six_default_purposes(s: Server) {
    let api = Api::with(&s, "consent:read").await;
    let r = api.get(PURPOSES).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["page"], json!({"next_cursor": null, "has_more": false}));
    let data = r.body["data"].as_array().unwrap();
    let expected = "analytics/any/false/consent/false email_marketing/email/true/consent/false \
                    personalization/any/false/consent/false phone_marketing/phone/false/consent/false \
                    sms_marketing/sms/true/consent/false third_party_sharing/any/false/consent/false";
    let summary = rows(data, "key channel double_opt_in default_legal_basis archived");
    assert_eq!(summary, expected);
    let keys: Vec<&String> = data[1].as_object().unwrap().keys().collect();
    let documented = "archived archived_at channel created_at default_legal_basis description double_opt_in key name \
                      updated_at version";
    assert_eq!(keys, documented.split(' ').collect::<Vec<_>>());
    assert!(data.iter().all(|p| p["archived_at"].is_null() && p["name"].is_string()));
    assert_eq!(api.get(&format!("{PURPOSES}/email_marketing")).await.body, data[1]);
    api.missing(&format!("{PURPOSES}/nope")).await;
}

async fn purposes_are_created_archived_restored_and_deleted(s: Server) {
    let api = Api::with(&s, "consent:read consent:manage").await;
    let body = json!({"key": "vip_news", "name": "VIP news", "channel": "email"});
    let created = api.post(PURPOSES, body.clone()).await;
    assert_eq!(created.status, 201, "{}", created.body);
    assert_eq!(created.header("location"), Some("/v1/consent-purposes/vip_news"));
    let expected = json!({"key": "vip_news", "name": "VIP news", "description": null, "channel": "email",
        "double_opt_in": false, "default_legal_basis": "consent", "archived": false, "archived_at": null});
    assert_eq!(pick(&created.body, &expected), expected);
    let first_tag = created.header("etag").unwrap().to_owned();
    api.post(PURPOSES, body).await.problem(409, "conflict");
    let taken = json!({"key": "email_marketing", "name": "Again", "channel": "email"});
    api.post(PURPOSES, taken).await.problem(409, "conflict");
    let bad = json!([
        [{"key": "VIP News", "name": "x", "channel": "email"}, "/key"],
        [{"key": "fax", "name": "x", "channel": "fax"}, "/channel"],
        [{"key": "x1", "name": "x", "channel": "any", "default_legal_basis": "whim"}, "/default_legal_basis"],
    ]);
    for case in bad.as_array().unwrap() {
        let r = api.post(PURPOSES, case[0].clone()).await;
        r.problem(422, "validation_failed");
        assert_eq!(r.pointers(), [case[1].as_str().unwrap()], "{}", r.body);
    }

    let archived = api.patch_purpose("vip_news", &json!({"archived": true}), None).await;
    assert_eq!(archived.status, 200, "{}", archived.body);
    assert_eq!(archived.body["archived"], true);
    at(&archived.body["archived_at"]);
    assert_ne!(archived.header("etag"), Some(first_tag.as_str()));
    let listed = |v: Vec<Value>| v.iter().any(|p| p["key"] == "vip_news");
    assert!(!listed(api.data(PURPOSES).await), "archived purposes are hidden");
    assert!(listed(api.data(&format!("{PURPOSES}?include_archived=true")).await));
    assert_eq!(api.get(&format!("{PURPOSES}/vip_news")).await.body, archived.body);

    let restore = json!({"archived": false, "description": "For the few"});
    let stale = api.patch_purpose("vip_news", &restore, Some(&first_tag)).await;
    stale.problem(412, "precondition_failed");
    let restored = api.patch_purpose("vip_news", &restore, archived.header("etag")).await;
    assert_eq!(restored.status, 200, "{}", restored.body);
    let expected = json!({"archived": false, "archived_at": null, "description": "For the few", "name": "VIP news"});
    assert_eq!(pick(&restored.body, &expected), expected);
    assert!(listed(api.data(PURPOSES).await));
    let rekey = api.patch_purpose("vip_news", &json!({"key": "vip"}), None).await;
    assert_eq!(rekey.status, 422, "the key is immutable: {}", rekey.body);

    let path = format!("{PURPOSES}/vip_news");
    assert_eq!(api.send(Method::DELETE, &path, None).await.status, 204);
    api.missing(&path).await;
    let again = api.send(Method::DELETE, &path, None).await;
    again.problem(404, "not_found");

    // Each change is an event, in the transaction that made it.
    let about = |kind: &'static str| {
        let s = &s;
        async move {
            let all = s.events(kind).await;
            all.into_iter()
                .map(|(_, d)| d)
                .filter(|d| d["object"]["key"] == "vip_news")
                .collect::<Vec<Value>>()
        }
    };
    assert_eq!(about("consent_purpose.created").await.len(), 1);
    let updates = about("consent_purpose.updated").await;
    assert_eq!(updates.len(), 2, "archived, then restored");
    assert!(
        updates[0]["changed_fields"]
            .as_array()
            .unwrap()
            .contains(&json!("archived"))
    );
    assert_eq!(updates[1]["previous"]["description"], Value::Null);
    assert_eq!(about("consent_purpose.deleted").await.len(), 1);
}

async fn a_purpose_in_use_is_archived_rather_than_deleted(s: Server) {
    let api = Api::admin(&s).await;
    let loyalty = json!({"key": "loyalty", "name": "Loyalty", "channel": "any"});
    assert_eq!(api.post(PURPOSES, loyalty).await.status, 201);
    let id = api.contact("ada@example.com").await;
    api.recorded(&id, consent("loyalty", "granted")).await;
    let path = format!("{PURPOSES}/loyalty");
    let delete = api.send(Method::DELETE, &path, None).await;
    delete.problem(409, "in_use");
    assert_eq!(api.get(&path).await.status, 200);
    let r = api.patch_purpose("loyalty", &json!({"archived": true}), None).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let refused = api.record(&id, consent("loyalty", "granted")).await;
    assert_eq!(refused.status, 422, "{}", refused.body);
    let codes = [&refused.body["code"], &refused.body["errors"][0]["code"]];
    assert!(codes.contains(&&json!("purpose_archived")), "{}", refused.body);
    api.recorded(&id, consent("loyalty", "withdrawn")).await;
    assert_eq!(rows(&api.history(&id).await, "status"), "granted withdrawn");
}

async fn a_recorded_consent_answers_its_event_and_effect(s: Server) {
    let api = Api::admin(&s).await;
    let id = api.contact("ada@example.com").await;
    let before = Utc::now();
    let proof = json!({"ip": "203.0.113.9", "user_agent": "Mozilla/5.0", "policy_version": "2024-01",
        "text": "I agree", "form": "checkout", "page": "https://shop.example/checkout"});
    let body = rec("analytics", "granted", &json!({"source": "checkout", "proof": proof}));
    let r = api.recorded(&id, body).await;
    let event = &r["event"];
    let expected = json!({"contact_id": id, "purpose": "analytics", "status": "granted", "legal_basis": "consent",
        "opt_in_level": "unknown", "contact_point": null, "source": "checkout", "expires_at": null, "proof": proof,
        "actor": {"type": "api_client", "id": s.admin.client_id}});
    assert_eq!(pick(event, &expected), expected);
    let captured = at(&event["captured_at"]);
    let slack = TimeDelta::seconds(5);
    assert!(before - slack <= captured && captured <= Utc::now() + slack, "{event}");
    at(&event["recorded_at"]);
    assert_eq!(r["confirmation"], Value::Null);
    let state = json!({"purpose": "analytics", "contact_point": null, "status": "granted", "allowed": true,
        "legal_basis": "consent", "opt_in_level": "unknown", "expires_at": null, "source": "checkout",
        "event_id": event["id"]});
    assert_eq!(pick(&r["effective"], &state), state);
    assert_eq!(at(&r["effective"]["since"]), captured);
    assert_eq!(api.states(&id).await, [r["effective"].clone()]);
    assert_eq!(api.history(&id).await, std::slice::from_ref(event));
    let d = api.decision(&id, "analytics", None).await;
    let answer = json!({"purpose": "analytics", "allowed": true, "status": "granted", "legal_basis": "consent",
        "opt_in_level": "unknown", "contact_point": null, "expires_at": null});
    assert_eq!(pick(&d, &answer), answer);
    assert_eq!(at(&d["since"]), captured);

    // Explicit fields are kept and contact points normalised.
    let extra = json!({"legal_basis": "legitimate_interests", "opt_in_level": "confirmed",
        "contact_point": "Ada@EXAMPLE.com", "captured_at": t(1)});
    let e = api.recorded(&id, rec("personalization", "granted", &extra)).await["event"].clone();
    let expected = json!({"legal_basis": "legitimate_interests", "opt_in_level": "confirmed",
        "contact_point": "ada@example.com"});
    assert_eq!(pick(&e, &expected), expected);
    assert_eq!(at(&e["captured_at"]), at(&json!(t(1))));
    let sms = rec(
        "sms_marketing",
        "denied",
        &json!({"contact_point": "+1 (415) 555-0100"}),
    );
    let e = api.recorded(&id, sms).await["event"].clone();
    assert_eq!(e["contact_point"], "+14155550100");
    let pairs = rows(&api.states(&id).await, "purpose contact_point");
    let expected = "analytics/- personalization/ada@example.com sms_marketing/+14155550100";
    assert_eq!(pairs, expected);
}

async fn a_late_older_event_never_overrides_a_newer_decision(s: Server) {
    let api = Api::admin(&s).await;
    let id = api.contact("ada@example.com").await;
    let at_hour = |status: &str, h: i64| rec("analytics", status, &json!({"captured_at": t(h)}));
    let withdrawn = api.recorded(&id, at_hour("withdrawn", 2)).await;
    let late = api.recorded(&id, at_hour("granted", 1)).await;
    assert_eq!(late["event"]["status"], "granted", "the event itself is stored");
    assert_eq!(verdict(&late["effective"]), "false/withdrawn");
    assert_eq!(late["effective"]["event_id"], withdrawn["event"]["id"]);
    let states = api.states(&id).await;
    assert_eq!(states.len(), 1, "{states:?}");
    assert_eq!(states[0]["event_id"], withdrawn["event"]["id"]);
    assert_eq!(at(&states[0]["since"]), at(&json!(t(2))));
    let d = api.decision(&id, "analytics", None).await;
    assert_eq!(verdict(&d), "false/withdrawn");
    assert_eq!(at(&d["since"]), at(&json!(t(2))));
    let arrival = rows(&api.history(&id).await, "id");
    let expected = format!("{} {}", text(&withdrawn["event"]["id"]), text(&late["event"]["id"]));
    assert_eq!(arrival, expected);

    api.recorded(&id, at_hour("granted", 3)).await;
    assert_eq!(api.verdict(&id, "analytics").await, "true/granted");
    // Equal capture times: the later arrival wins.
    for (status, allowed) in [("denied", false), ("granted", true), ("withdrawn", false)] {
        let r = api.recorded(&id, at_hour(status, 4)).await;
        assert_eq!(verdict(&r["effective"]), format!("{allowed}/{status}"));
    }
    assert_eq!(api.verdict(&id, "analytics").await, "false/withdrawn");
}

async fn the_effective_states_do_not_depend_on_the_order_events_arrive_in(s: Server) {
    let api = Api::admin(&s).await;
    let inbox = json!("inbox@example.org");
    let events = [
        ("analytics", "granted", Value::Null, 1),
        ("analytics", "withdrawn", Value::Null, 3),
        ("analytics", "granted", Value::Null, 2),
        ("personalization", "denied", inbox.clone(), 4),
        ("personalization", "granted", inbox.clone(), 6),
        ("personalization", "withdrawn", Value::Null, 5),
    ]
    .map(|(purpose, status, cp, h)| rec(purpose, status, &json!({"contact_point": cp, "captured_at": t(h)})));
    let n = events.len();
    // Deterministic shuffles: as is, reversed, rotated, interleaved, reversed and rotated.
    let orders: Vec<Vec<usize>> = vec![
        (0..n).collect(),
        (0..n).rev().collect(),
        (0..n).map(|i| (i + 2) % n).collect(),
        (0..n).step_by(2).chain((1..n).step_by(2)).collect(),
        (0..n).map(|i| (n + 3 - i) % n).collect(),
    ];
    let mut seen: Option<Vec<Value>> = None;
    for (k, order) in orders.iter().enumerate() {
        let id = api.contact(&format!("order{k}@example.com")).await;
        let mut ids = vec![Value::Null; n];
        for &i in order {
            ids[i] = api.recorded(&id, events[i].clone()).await["event"]["id"].clone();
        }
        let mut states = api.states(&id).await;
        let winner = |s: &Value| ids.iter().position(|e| *e == s["event_id"]);
        let winners: Vec<Option<usize>> = states.iter().map(winner).collect();
        assert_eq!(winners, [Some(1), Some(5), Some(4)], "order {order:?}: {states:?}");
        let expected = "analytics/-/withdrawn personalization/-/withdrawn personalization/inbox@example.org/granted";
        assert_eq!(rows(&states, "purpose contact_point status"), expected);
        for s in &mut states {
            s.as_object_mut().unwrap().remove("event_id");
        }
        match &seen {
            None => seen = Some(states),
            Some(first) => assert_eq!(&states, first, "order {order:?} gave other states"),
        }
    }
}

async fn the_strictest_applicable_record_decides(s: Server) {
    let api = Api::admin(&s).await;
    let (email, phone) = ("ada@example.com", "+14155550100");
    let r = api.post("/v1/contacts", json!({"email": email, "phone": phone})).await;
    assert_eq!(r.status, 201, "{}", r.body);
    let id = r.body["id"].as_str().unwrap().to_owned();
    let wide = rec("email_marketing", "granted", &json!({"opt_in_level": "confirmed"}));
    api.recorded(&id, wide).await;
    assert_eq!(api.verdict(&id, "email_marketing").await, "true/granted");
    let at_email = rec("email_marketing", "withdrawn", &json!({"contact_point": email}));
    api.recorded(&id, at_email).await;
    let d = api.decision(&id, "email_marketing", None).await;
    assert_eq!(verdict(&d), "false/withdrawn", "the contact's email applies: {d}");
    assert_eq!(d["contact_point"], email);
    let other = api.decision(&id, "email_marketing", Some("other@example.com")).await;
    assert_eq!(verdict(&other), "true/granted", "{other}");

    // Withdrawn beats denied, denied beats expired.
    api.recorded(&id, consent("sms_marketing", "denied")).await;
    let at_phone = rec("sms_marketing", "withdrawn", &json!({"contact_point": phone}));
    api.recorded(&id, at_phone).await;
    assert_eq!(api.verdict(&id, "sms_marketing").await, "false/withdrawn");
    let lapsed = json!({"captured_at": "2024-01-01T00:00:00Z", "expires_at": "2024-02-01T00:00:00Z"});
    api.recorded(&id, rec("phone_marketing", "granted", &lapsed)).await;
    let denied = json!({"contact_point": phone, "captured_at": "2023-06-01T00:00:00Z"});
    api.recorded(&id, rec("phone_marketing", "denied", &denied)).await;
    assert_eq!(api.verdict(&id, "phone_marketing").await, "false/denied");

    // A grant whose expiry has passed.
    let expiring = json!({"captured_at": "2024-01-01T00:00:00Z", "expires_at": "2024-06-01T00:00:00Z"});
    let r = api.recorded(&id, rec("analytics", "granted", &expiring)).await;
    assert_eq!(verdict(&r["effective"]), "false/expired");
    let d = api.decision(&id, "analytics", None).await;
    assert_eq!(verdict(&d), "false/expired");
    assert_eq!(at(&d["expires_at"]), at(&json!("2024-06-01T00:00:00Z")));
    let states = api.states(&id).await;
    let analytics = states.iter().find(|s| s["purpose"] == "analytics").unwrap();
    assert_eq!(verdict(analytics), "false/expired");

    let none = api.decision(&id, "third_party_sharing", None).await;
    let expected = json!({"purpose": "third_party_sharing", "allowed": false, "status": "none", "since": null,
        "legal_basis": null, "opt_in_level": null, "expires_at": null});
    assert_eq!(pick(&none, &expected), expected);
    api.ask(&id, "nope", None).await.problem(404, "not_found");
    api.ask(NOWHERE, "analytics", None).await.problem(404, "not_found");
}

async fn a_double_opt_in_grant_waits_for_its_confirmation(s: Server) {
    let api = Api::admin(&s).await;
    let id = api.contact("ada@example.com").await;
    let single = rec("email_marketing", "granted", &json!({"opt_in_level": "single"}));
    let pending = api.recorded(&id, single).await;
    let expected = json!({"status": "pending_confirmation", "opt_in_level": "single", "purpose": "email_marketing"});
    assert_eq!(pick(&pending["event"], &expected), expected);
    assert_eq!(verdict(&pending["effective"]), "false/pending_confirmation");
    let token = pending["confirmation"]["token"].clone();
    assert!(token.as_str().is_some_and(|t| !t.is_empty()), "{pending}");
    let expires = at(&pending["confirmation"]["expires_at"]) - Utc::now();
    let about_72_hours = expires > TimeDelta::hours(71) && expires < TimeDelta::hours(73);
    assert!(about_72_hours, "{pending}");
    assert_eq!(api.verdict(&id, "email_marketing").await, "false/pending_confirmation");

    let confirm = json!({"token": token, "proof": {"ip": "198.51.100.4"}});
    let r = api.post("/v1/consent/confirm", confirm).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let expected = json!({"contact_id": id, "purpose": "email_marketing", "status": "granted",
        "opt_in_level": "confirmed", "source": "double_opt_in"});
    assert_eq!(pick(&r.body["event"], &expected), expected);
    assert_eq!(r.body["event"]["proof"]["ip"], "198.51.100.4");
    assert_eq!(r.body["confirmation"], Value::Null);
    assert_eq!(verdict(&r.body["effective"]), "true/granted");
    assert_eq!(r.body["effective"]["event_id"], r.body["event"]["id"]);
    assert_eq!(api.verdict(&id, "email_marketing").await, "true/granted");
    let statuses = rows(&api.history(&id).await, "status");
    assert_eq!(statuses, "pending_confirmation granted");
    api.confirm(&token).await.problem(409, "confirmation_token_used");
    api.confirm(&json!("no-such-token")).await.problem(404, "not_found");

    // Without an opt-in level (unknown) a grant waits too; a confirmed one does not.
    let unknown = api.recorded(&id, consent("sms_marketing", "granted")).await;
    assert_eq!(unknown["event"]["status"], "pending_confirmation");
    assert!(unknown["confirmation"]["token"].is_string(), "{unknown}");
    let confirmed = rec("sms_marketing", "granted", &json!({"opt_in_level": "confirmed"}));
    let direct = api.recorded(&id, confirmed).await;
    assert_eq!(direct["event"]["status"], "granted");
    assert_eq!(direct["confirmation"], Value::Null);
}

async fn a_confirmation_after_a_later_decision_is_superseded(s: Server) {
    let api = Api::admin(&s).await;
    let id = api.contact("ada@example.com").await;
    let token = api.pending(&id).await;
    api.recorded(&id, consent("email_marketing", "withdrawn")).await;
    api.confirm(&token).await.problem(409, "confirmation_superseded");
    assert_eq!(api.verdict(&id, "email_marketing").await, "false/withdrawn");
    assert_eq!(api.history(&id).await.len(), 2);
}

async fn an_expired_confirmation_token_is_refused(db: TestDb) {
    let s = Server::start_on(db, &[("RAPPORT_CONSENT_CONFIRMATION_SECONDS", "1")]).await;
    let api = Api::admin(&s).await;
    let id = api.contact("ada@example.com").await;
    let token = api.pending(&id).await;
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    api.confirm(&token).await.problem(410, "confirmation_token_expired");
    assert_eq!(api.verdict(&id, "email_marketing").await, "false/pending_confirmation");
    assert_eq!(api.history(&id).await.len(), 1);
}

async fn bad_consent_input_is_refused_at_its_pointer(s: Server) {
    let api = Api::admin(&s).await;
    let id = api.contact("ada@example.com").await;
    let in_an_hour = (Utc::now() + TimeDelta::hours(1)).to_rfc3339_opts(SecondsFormat::Secs, true);
    let granted = |extra: Value| rec("analytics", "granted", &extra);
    let email = |cp: &str| rec("email_marketing", "denied", &json!({ "contact_point": cp }));
    let cases = [
        (granted(json!({"purpose": "nope"})), "/purpose"),
        (granted(json!({"status": "maybe"})), "/status"),
        (granted(json!({"status": "pending_confirmation"})), "/status"),
        (granted(json!({"legal_basis": "because"})), "/legal_basis"),
        (granted(json!({"opt_in_level": "double"})), "/opt_in_level"),
        (granted(json!({ "captured_at": in_an_hour })), "/captured_at"),
        (
            granted(json!({"captured_at": t(10), "expires_at": t(9)})),
            "/expires_at",
        ),
        (
            granted(json!({"captured_at": t(10), "expires_at": t(10)})),
            "/expires_at",
        ),
        (email("not an email"), "/contact_point"),
        (email("+14155550100"), "/contact_point"),
        (
            rec("sms_marketing", "denied", &json!({"contact_point": "ada@example.com"})),
            "/contact_point",
        ),
        (granted(json!({"source": null})), "/source"),
        (granted(json!({"source": "Check Out!"})), "/source"),
        (granted(json!({"colour": "red"})), "/colour"),
    ];
    for (body, pointer) in cases {
        let r = api.record(&id, body.clone()).await;
        r.problem(422, "validation_failed");
        assert_eq!(r.pointers(), [pointer], "{body}: {}", r.body);
        let code = &r.body["errors"][0]["code"];
        match pointer {
            "/purpose" => assert_eq!(code, "unknown_purpose"),
            "/captured_at" => assert_eq!(code, "in_future"),
            "/colour" => assert_eq!(code, "unknown_field"),
            _ => {}
        }
    }
    assert!(api.history(&id).await.is_empty());
    assert!(api.states(&id).await.is_empty());
    let nobody = api.record(NOWHERE, consent("analytics", "granted")).await;
    nobody.problem(404, "not_found");
}

async fn consent_events_cannot_be_changed_or_removed(s: Server) {
    let api = Api::admin(&s).await;
    let id = api.contact("ada@example.com").await;
    let event = api.recorded(&id, consent("analytics", "granted")).await["event"].clone();
    let path = format!("/v1/contacts/{id}/consents");
    for method in [Method::PATCH, Method::PUT, Method::DELETE] {
        let body = consent("analytics", "withdrawn");
        let r = api.send(method.clone(), &path, Some(body)).await;
        r.problem(405, "method_not_allowed");
        assert_eq!(r.header("allow"), Some("GET, POST"), "{method}");
    }
    assert_eq!(api.history(&id).await, [event]);
}

async fn double_opt_in_edge_cases_keep_the_ledger_truthful(s: Server) {
    let api = Api::admin(&s).await;
    // A shop whose clock runs two minutes ahead: the confirmation still decides.
    let ahead = (Utc::now() + TimeDelta::minutes(2)).to_rfc3339_opts(SecondsFormat::Micros, true);
    let id = api.contact("ahead@example.com").await;
    let grant = rec(
        "email_marketing",
        "granted",
        &json!({"opt_in_level": "single", "captured_at": ahead}),
    );
    let token = api.recorded(&id, grant).await["confirmation"]["token"].clone();
    // The confirming click's proof is checked like any other.
    let long_ip = json!({"token": token, "proof": {"ip": "1".repeat(100)}});
    let r = api.post("/v1/consent/confirm", long_ip).await;
    r.problem(422, "validation_failed");
    assert_eq!(r.pointers(), ["/proof/ip"]);
    assert_eq!(api.confirm(&token).await.status, 200);
    assert_eq!(api.verdict(&id, "email_marketing").await, "true/granted");
    // A confirmed subscriber ticking the box again is not asked to confirm again.
    let again = api
        .recorded(
            &id,
            rec("email_marketing", "granted", &json!({"opt_in_level": "single"})),
        )
        .await;
    assert_eq!(again["event"]["status"], "granted");
    assert_eq!(again["confirmation"], Value::Null);
    assert_eq!(api.verdict(&id, "email_marketing").await, "true/granted");

    // A token for one address is reissued for that address.
    let other = api.contact("points@example.com").await;
    let at_work = rec(
        "email_marketing",
        "granted",
        &json!({"opt_in_level": "single", "contact_point": "work@example.com"}),
    );
    api.recorded(&other, at_work).await;
    let reissue = format!("/v1/contacts/{other}/consent/email_marketing/confirmation");
    api.post(&reissue, json!({})).await.problem(404, "not_found");
    let r = api
        .post(&format!("{reissue}?contact_point=Work@Example.com"), json!({}))
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    // Once the purpose is archived, nothing more is granted through it.
    let archive = api
        .send(
            Method::PATCH,
            &format!("{PURPOSES}/email_marketing"),
            Some(json!({"archived": true})),
        )
        .await;
    assert_eq!(archive.status, 200, "{}", archive.body);
    api.post(&format!("{reissue}?contact_point=work@example.com"), json!({}))
        .await
        .problem(422, "purpose_archived");
    api.confirm(&r.body["token"]).await.problem(422, "purpose_archived");
    // A purpose's channel is part of what its records mean.
    let sms = api
        .send(
            Method::PATCH,
            &format!("{PURPOSES}/email_marketing"),
            Some(json!({"channel": "sms"})),
        )
        .await;
    sms.problem(409, "in_use");
}

on_both!(
    double_opt_in_edge_cases_keep_the_ledger_truthful,
    a_new_workspace_starts_with_the_six_default_purposes,
    purposes_are_created_archived_restored_and_deleted,
    a_purpose_in_use_is_archived_rather_than_deleted,
    a_recorded_consent_answers_its_event_and_effect,
    a_late_older_event_never_overrides_a_newer_decision,
    the_effective_states_do_not_depend_on_the_order_events_arrive_in,
    the_strictest_applicable_record_decides,
    a_double_opt_in_grant_waits_for_its_confirmation,
    a_confirmation_after_a_later_decision_is_superseded,
    bad_consent_input_is_refused_at_its_pointer,
    consent_events_cannot_be_changed_or_removed,
);

on_both_dbs!(an_expired_confirmation_token_is_refused);
