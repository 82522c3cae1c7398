//! Consent as the rest of the API reaches it: consents recorded along with contact
//! writes (and a pending grant's confirmation reissued), contacts read with
//! `include=consents`, the bulk check, the `consent.updated` events, the consent scopes,
//! tenant isolation and GraphQL. The ledger's own rules are in `consent.rs`.

// Test bodies run through `on_both!`, outside `#[test]` fns, where a failed unwrap is the
// intended test failure.
#![allow(clippy::unwrap_used)]

use rapport_tests::consent::{ConsentCalls, PURPOSES, consent, rec, rows, verdict};
use rapport_tests::{Api, NOWHERE, Reply, Server, on_both, pick};
use reqwest::Method;
use serde_json::{Value, json};

const CHECK: &str = "/v1/consent/check";

async fn a_bulk_check_answers_every_item_in_input_order(s: Server) {
    let api = Api::admin(&s).await;
    let ann = api.contact("a@example.com").await;
    api.recorded(&ann, consent("analytics", "granted")).await;
    let ben = api.contact("b@example.com").await;
    api.recorded(&ben, consent("analytics", "withdrawn")).await;
    let cat = api.contact("c@example.com").await;
    let other = Api(&s, s.other_workspace().await.1);
    let dan = other.contact("d@example.com").await;
    other.recorded(&dan, consent("analytics", "granted")).await;
    let check = |list: &str, items: Value| api.post(CHECK, json!({"purpose": "analytics", list: items}));
    let summary = |r: &Reply| {
        let answer = (r.status.as_u16(), &r.body["purpose"]);
        assert_eq!(answer, (200, &json!("analytics")), "{}", r.body);
        let results = r.body["results"].as_array().unwrap().clone();
        let found: Vec<Value> = results.iter().filter(|x| x["found"] == true).cloned().collect();
        (rows(&results, "found allowed status"), rows(&found, "contact_id"))
    };
    let by_id = check("contact_ids", json!([ben, NOWHERE, ann, dan, cat])).await;
    let expected = "true/false/withdrawn false/false/none true/true/granted false/false/none true/false/none";
    assert_eq!(summary(&by_id), (expected.to_owned(), format!("{ben} {ann} {cat}")));
    let emails = json!(["c@example.com", "d@example.com", "a@example.com", "nobody@example.com"]);
    let by_email = check("emails", emails).await;
    let expected = "true/false/none false/false/none true/true/granted false/false/none";
    assert_eq!(summary(&by_email), (expected.to_owned(), format!("{cat} {ann}")));

    let ids = |n: usize| json!(vec![NOWHERE; n]);
    let full = check("contact_ids", ids(1000)).await;
    let answered = full.body["results"].as_array().map(Vec::len);
    assert_eq!(answered, Some(1000), "{}", full.status);
    let cases = [
        (
            json!({"purpose": "analytics", "contact_ids": ids(1001)}),
            "/contact_ids",
        ),
        (
            json!({"purpose": "analytics", "emails": vec!["x@example.com"; 1001]}),
            "/emails",
        ),
        (json!({"purpose": "analytics", "contact_ids": []}), "/contact_ids"),
        (
            json!({"purpose": "analytics", "contact_ids": [ann], "emails": ["a@example.com"]}),
            "",
        ),
        (json!({"purpose": "analytics"}), ""),
    ];
    for (body, pointer) in cases {
        let r = api.post(CHECK, body).await;
        r.problem(422, "validation_failed");
        if !pointer.is_empty() {
            assert_eq!(r.pointers(), [pointer], "{}", r.body);
        }
    }
}

async fn consents_are_recorded_with_contact_writes(s: Server) {
    let api = Api::admin(&s).await;
    let put = |email: &str, body: Value| {
        let (api, path) = (&api, format!("/v1/contacts/by-email/{email}"));
        async move { api.send(Method::PUT, &path, Some(body)).await }
    };
    let grant = json!([rec("analytics", "granted", &json!({"source": "checkout"}))]);
    let r = put("ada@example.com", json!({ "consents": grant })).await;
    assert_eq!(r.status, 201, "{}", r.body);
    let ada = r.body["id"].as_str().unwrap().to_owned();
    let states = api.states(&ada).await;
    let expected = "analytics/true/granted/checkout";
    assert_eq!(rows(&states, "purpose allowed status source"), expected);
    assert_eq!(api.history(&ada).await[0]["contact_id"], ada.as_str());

    let denied = json!({"email": "bob@example.com", "consents": [consent("personalization", "denied")]});
    let r = api.post("/v1/contacts", denied).await;
    assert_eq!(r.status, 201, "{}", r.body);
    let bob = r.body["id"].as_str().unwrap().to_owned();
    let change = json!({"first_name": "Bob", "consents": [consent("personalization", "granted")]});
    let bob_path = format!("/v1/contacts/{bob}");
    let r = api.send(Method::PATCH, &bob_path, Some(change)).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(api.verdict(&bob, "personalization").await, "true/granted");

    let items = json!({"items": [
        {"email": "cleo@example.com", "consents": [consent("analytics", "granted")]},
        {"email": "dan@example.com", "consents": [consent("nope", "granted")]},
    ]});
    let r = api.post("/v1/contacts/batch", items).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let results = r.body["results"].as_array().unwrap();
    assert_eq!(rows(results, "status"), "created failed", "{}", r.body);
    let cleo = results[0]["contact"]["id"].as_str().unwrap();
    assert_eq!(api.verdict(cleo, "analytics").await, "true/granted");
    let pointer = &results[1]["error"]["errors"][0]["pointer"];
    assert_eq!(pointer, "/items/1/consents/0/purpose", "{}", r.body);
    api.missing("/v1/contacts/by-email/dan@example.com").await;

    let bad = json!({"first_name": "Eve", "consents": [consent("nope", "granted")]});
    let r = put("eve@example.com", bad).await;
    r.problem(422, "validation_failed");
    assert_eq!(r.pointers(), ["/consents/0/purpose"]);
    api.missing("/v1/contacts/by-email/eve@example.com").await;
    let half = json!([consent("personalization", "granted"), consent("analytics", "maybe")]);
    let r = put("ada@example.com", json!({"first_name": "Augusta", "consents": half})).await;
    r.problem(422, "validation_failed");
    assert_eq!(r.pointers(), ["/consents/1/status"]);
    let ada_now = api.get(&format!("/v1/contacts/{ada}")).await.body;
    assert_eq!(ada_now["first_name"], Value::Null, "{ada_now}");
    let recorded = api.history(&ada).await.len();
    assert_eq!(recorded, 1, "nothing of the failed write was recorded");

    let writer = Api::with(&s, "contacts:read contacts:write").await;
    let path = "/v1/contacts/by-email/fay@example.com";
    let r = writer.send(Method::PUT, path, Some(json!({ "consents": grant }))).await;
    r.problem(403, "insufficient_scope");
    api.missing(path).await;
}

async fn a_grant_sent_inline_waits_and_its_confirmation_can_be_reissued(s: Server) {
    let api = Api::admin(&s).await;
    let body = json!({"email": "ida@example.com", "consents": [rec("email_marketing", "granted", &json!({"opt_in_level": "single"}))]});
    let r = api
        .send(Method::PUT, "/v1/contacts/by-email/ida@example.com", Some(body))
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let id = r.body["id"].as_str().unwrap().to_owned();
    assert_eq!(api.verdict(&id, "email_marketing").await, "false/pending_confirmation");

    let path = format!("/v1/contacts/{id}/consent/email_marketing/confirmation");
    let first = api.post(&path, json!({})).await;
    assert_eq!(first.status, 201, "{}", first.body);
    let second = api.post(&path, json!({})).await;
    assert_eq!(second.status, 201, "{}", second.body);
    assert_ne!(first.body["token"], second.body["token"]);
    assert!(first.body["token"].as_str().unwrap().starts_with("rct_"));
    // Either token confirms the one pending grant; the other is then superseded.
    let done = api.confirm(&second.body["token"]).await;
    assert_eq!(done.status, 200, "{}", done.body);
    assert_eq!(api.verdict(&id, "email_marketing").await, "true/granted");
    api.confirm(&first.body["token"])
        .await
        .problem(409, "confirmation_superseded");
    // Nothing is pending any more.
    api.post(&path, json!({})).await.problem(404, "not_found");
    api.post(
        &format!("/v1/contacts/{NOWHERE}/consent/email_marketing/confirmation"),
        json!({}),
    )
    .await
    .problem(404, "not_found");
}

async fn contacts_include_their_consents_only_when_asked(s: Server) {
    let api = Api::admin(&s).await;
    let ada = api.contact("ada@example.com").await;
    api.recorded(&ada, consent("analytics", "granted")).await;
    api.recorded(&ada, consent("personalization", "withdrawn")).await;
    let bob = api.contact("bob@example.com").await;
    let like = json!({"allowed": 0, "status": 0, "since": 0, "legal_basis": 0, "opt_in_level": 0, "expires_at": 0});
    let answer = |s: &Value| (s["purpose"].as_str().unwrap().to_owned(), pick(s, &like));
    let states = api.states(&ada).await;
    let summary = Value::Object(states.iter().map(answer).collect());
    assert_eq!(summary.as_object().map(serde_json::Map::len), Some(2));
    let plain = api.get(&format!("/v1/contacts/{ada}")).await;
    assert!(plain.body.get("consents").is_none(), "{}", plain.body);
    let full = api.get(&format!("/v1/contacts/{ada}?include=consents")).await;
    assert_eq!(full.status, 200, "{}", full.body);
    assert_eq!(full.body["consents"], summary);
    let list = api.data("/v1/contacts").await;
    assert!(list.iter().all(|c| c.get("consents").is_none()), "{list:?}");
    let list = api.data("/v1/contacts?include=consents").await;
    let of = |id: &str| list.iter().find(|c| c["id"] == id).unwrap()["consents"].clone();
    assert_eq!(of(&ada), summary);
    assert_eq!(of(&bob), json!({}));
}

async fn each_recorded_consent_writes_a_consent_updated_event(s: Server) {
    let api = Api::admin(&s).await;
    let id = api.contact("ada@example.com").await;
    let first = api.recorded(&id, consent("analytics", "granted")).await;
    let single = rec("email_marketing", "granted", &json!({"opt_in_level": "single"}));
    let pending = api.recorded(&id, single).await;
    let confirmed = api.confirm(&pending["confirmation"]["token"]).await;
    assert_eq!(confirmed.status, 200, "{}", confirmed.body);
    let refused = api.record(&id, consent("nope", "granted")).await;
    refused.problem(422, "validation_failed");
    let events = s.events("consent.updated").await;
    assert_eq!(events.len(), 3, "{events:?}");
    for ((ws, data), answer) in events.iter().zip([&first, &pending, &confirmed.body]) {
        assert_eq!(ws, &s.admin.workspace_id);
        assert_eq!(data["contact_id"], id.as_str());
        assert_eq!(data["object"], answer["event"]);
        assert_eq!(data["effective"], answer["effective"]);
    }
    let objects: Vec<Value> = events.iter().map(|(_, d)| d["object"].clone()).collect();
    assert_eq!(rows(&objects, "purpose"), "analytics email_marketing email_marketing");
}

async fn consent_routes_need_the_consent_scopes(s: Server) {
    let admin = Api::admin(&s).await;
    let id = admin.contact("ada@example.com").await;
    admin.recorded(&id, consent("analytics", "granted")).await;
    let consents = format!("/v1/contacts/{id}/consents");
    let purpose = json!({"key": "vip_news", "name": "VIP", "channel": "email"});
    let forbidden = |r: Reply| {
        r.problem(403, "insufficient_scope");
    };
    let contacts_only = Api::with(&s, "contacts:read").await;
    forbidden(contacts_only.record(&id, consent("analytics", "withdrawn")).await);
    forbidden(contacts_only.get(&consents).await);
    forbidden(contacts_only.get(PURPOSES).await);
    let reader = Api::with(&s, "consent:read").await;
    let decision = format!("/v1/contacts/{id}/consent/analytics");
    for path in [consents.clone(), format!("{consents}/history"), decision] {
        let r = reader.get(&path).await;
        assert_eq!(r.status, 200, "{path}: {}", r.body);
    }
    assert_eq!(reader.data(PURPOSES).await.len(), 6);
    let one = json!({"purpose": "analytics", "contact_ids": [id]});
    let check = reader.post(CHECK, one).await;
    assert_eq!(check.body["results"][0]["allowed"], true, "{}", check.body);
    forbidden(reader.record(&id, consent("analytics", "withdrawn")).await);
    forbidden(reader.confirm(&json!("t")).await);
    forbidden(reader.post(PURPOSES, purpose.clone()).await);
    let writer = Api::with(&s, "consent:write").await;
    writer.recorded(&id, consent("analytics", "withdrawn")).await;
    forbidden(writer.post(PURPOSES, purpose.clone()).await);
    let manager = Api::with(&s, "consent:manage").await;
    assert_eq!(manager.post(PURPOSES, purpose).await.status, 201);
    assert_eq!(admin.history(&id).await.len(), 2);
}

async fn another_workspace_reaches_neither_consents_nor_purposes(s: Server) {
    let api = Api::admin(&s).await;
    let id = api.contact("ada@example.com").await;
    let token = api.pending(&id).await;
    let other = Api(&s, s.other_workspace().await.1);
    let c = format!("/v1/contacts/{id}");
    let routes = [
        (Method::POST, "/consents", Some(consent("analytics", "granted"))),
        (Method::GET, "/consents", None),
        (Method::GET, "/consents/history", None),
        (Method::GET, "/consent/analytics", None),
        (Method::GET, "/export", None),
        (Method::POST, "/erasure", Some(json!({"reason": "not yours"}))),
    ];
    for (method, tail, body) in routes {
        let r = other.send(method.clone(), &format!("{c}{tail}"), body).await;
        assert_eq!(r.status, 404, "{method} {c}{tail}: {}", r.body);
        r.problem(404, "not_found");
    }
    other.confirm(&token).await.problem(404, "not_found");

    let vip = json!({"key": "vip_news", "name": "VIP", "channel": "email"});
    assert_eq!(api.post(PURPOSES, vip.clone()).await.status, 201);
    other.missing(&format!("{PURPOSES}/vip_news")).await;
    assert_eq!(other.data(&format!("{PURPOSES}?include_archived=true")).await.len(), 6);
    let theirs = other.post(PURPOSES, vip).await;
    assert_eq!(theirs.status, 201, "keys are unique per workspace: {}", theirs.body);

    // Nothing happened in the first workspace: the token still works there.
    assert_eq!(api.history(&id).await.len(), 1);
    assert!(api.get(&c).await.body["erased_at"].is_null());
    assert_eq!(api.confirm(&token).await.status, 200);
}

/// Runs a GraphQL operation; returns its first root field, or its first error.
async fn gql(s: &Server, token: &str, query: &str, vars: Value) -> Result<Value, Value> {
    let doc = s.gql(token, query, vars).await;
    match doc.get("errors") {
        Some(errors) => Err(errors[0].clone()),
        None => Ok(doc["data"].as_object().unwrap().values().next().cloned().unwrap()),
    }
}

async fn graphql_records_confirms_and_reads_consents(s: Server) {
    let api = Api::admin(&s).await;
    let (s, token) = (&s, api.1.as_str());
    let id = api.contact("gql@example.com").await;
    let ok = |q: String, vars: Value| async move { gql(s, token, &q, vars).await.unwrap() };
    let code = |q: String, vars: Value, token: String| async move {
        let e = gql(s, &token, &q, vars).await.unwrap_err();
        e["extensions"]["code"].as_str().unwrap_or_default().to_owned()
    };
    let purposes = ok("{ consentPurposes { key doubleOptIn } }".into(), json!({})).await;
    assert_eq!(purposes.as_array().map(Vec::len), Some(6), "{purposes}");
    assert_eq!(purposes[1], json!({"key": "email_marketing", "doubleOptIn": true}));
    let one = "{ consentPurpose(key: \"sms_marketing\") { key doubleOptIn defaultLegalBasis } }";
    let expected = json!({"key": "sms_marketing", "doubleOptIn": true, "defaultLegalBasis": "CONSENT"});
    assert_eq!(ok(one.into(), json!({})).await, expected);

    let record = |purpose: &str| {
        format!(
            "mutation {{ recordConsent(contactId: \"{id}\", input: {{purpose: \"{purpose}\", status: GRANTED, \
             optInLevel: SINGLE, source: \"form\"}}) {{ event {{ id status optInLevel }} effective {{ status allowed }} \
             confirmation {{ token expiresAt }} }} }}"
        )
    };
    let pending = ok(record("email_marketing"), json!({})).await;
    let event = rows(std::slice::from_ref(&pending["event"]), "status optInLevel");
    assert_eq!(event, "PENDING_CONFIRMATION/SINGLE");
    assert_eq!(verdict(&pending["effective"]), "false/PENDING_CONFIRMATION");
    let confirm = "mutation($t: String!) { confirmConsent(token: $t) { event { id status optInLevel source } \
                   effective { allowed } confirmation { token } } }";
    let vars = json!({"t": pending["confirmation"]["token"]});
    let done = ok(confirm.into(), vars.clone()).await;
    let event = rows(std::slice::from_ref(&done["event"]), "status optInLevel source");
    assert_eq!(event, "GRANTED/CONFIRMED/double_opt_in");
    assert_eq!(done["confirmation"], Value::Null);
    assert_eq!(done["effective"]["allowed"], true);
    let admin = token.to_owned();
    let used = code(confirm.into(), vars, admin.clone()).await;
    assert_eq!(used, "confirmation_token_used");
    let unknown = json!({"t": "no-such-token"});
    assert_eq!(code(confirm.into(), unknown, admin).await, "not_found");

    let read = format!(
        "{{ contact(id: \"{id}\") {{ consents {{ purpose status allowed }} \
         consent(purpose: \"email_marketing\") {{ allowed status }} \
         consentHistory(first: 10) {{ nodes {{ id status }} }} erasedAt }} }}"
    );
    let contact = ok(read, json!({})).await;
    let states = contact["consents"].as_array().unwrap();
    assert_eq!(rows(states, "purpose status allowed"), "email_marketing/GRANTED/true");
    assert_eq!(verdict(&contact["consent"]), "true/GRANTED");
    assert_eq!(contact["erasedAt"], Value::Null);
    let history = contact["consentHistory"]["nodes"].as_array().unwrap();
    assert_eq!(rows(history, "id"), rows(&api.history(&id).await, "id"));
    assert_eq!(rows(history, "status"), "PENDING_CONFIRMATION GRANTED");

    let check = format!(
        "{{ consentCheck(purpose: \"email_marketing\", contactIds: [\"{id}\", \"{NOWHERE}\"]) \
         {{ contactId found allowed status }} }}"
    );
    let results = ok(check, json!({})).await;
    let results = results.as_array().unwrap();
    let known = rows(&results[..1], "contactId found allowed status");
    assert_eq!(known, format!("{id}/true/true/GRANTED"));
    assert_eq!(rows(&results[1..], "found allowed status"), "false/false/NONE");

    let bad = gql(s, token, &record("nope"), json!({})).await.unwrap_err();
    assert_eq!(bad["extensions"]["code"], "validation_failed", "{bad}");
    let errors = bad["extensions"]["errors"].as_array().unwrap();
    assert_eq!(rows(errors, "pointer"), "/purpose", "{bad}");
    let reader = s.token_with("contacts:read consent:read").await;
    assert_eq!(code(record("analytics"), json!({}), reader).await, "insufficient_scope");
    let recorded = api.history(&id).await.len();
    assert_eq!(recorded, 2, "the refused mutations recorded nothing");
}

on_both!(
    a_bulk_check_answers_every_item_in_input_order,
    consents_are_recorded_with_contact_writes,
    a_grant_sent_inline_waits_and_its_confirmation_can_be_reissued,
    contacts_include_their_consents_only_when_asked,
    each_recorded_consent_writes_a_consent_updated_event,
    consent_routes_need_the_consent_scopes,
    another_workspace_reaches_neither_consents_nor_purposes,
    graphql_records_confirms_and_reads_consents,
);
