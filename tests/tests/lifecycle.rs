//! Lifecycle stages: which moves are allowed, who may move a contact backward, what the
//! history records and which events each move writes.

// Test bodies run through `on_both!`, outside `#[test]` fns, where a failed unwrap is the
// intended test failure.
#![allow(clippy::unwrap_used)]

use rapport_tests::{Api, Reply, Server, events_about, on_both};
use reqwest::Method;
use serde_json::{Value, json};

/// The calls these tests make beyond plain requests.
trait LifecycleCalls {
    /// Creates a contact; returns its id.
    async fn contact(&self, body: Value) -> String;
    /// Creates the contact ada@example.com; returns its id.
    async fn ada(&self) -> String;
    /// A contact, which must be readable.
    async fn read(&self, id: &str) -> Value;
    /// `PATCH /v1/contacts/{id}` with this JSON body.
    async fn patch_contact(&self, id: &str, body: Value) -> Reply;
    /// `POST /v1/contacts/{id}/lifecycle` with this JSON body.
    async fn post_move(&self, id: &str, body: Value) -> Reply;
    /// A move to `stage`, with a reason when given.
    async fn move_to(&self, id: &str, stage: &str, reason: Option<&str>) -> Reply;
    /// A move without a reason that must succeed; returns the contact.
    async fn moved(&self, id: &str, stage: &str) -> Value;
    /// A move the rules refuse.
    async fn refused(&self, id: &str, stage: &str, reason: Option<&str>);
    /// One page of a contact's history, with this query string.
    async fn history_page(&self, id: &str, query: &str) -> Reply;
    /// A contact's whole history (it fits one default page).
    async fn history(&self, id: &str) -> Vec<Value>;
}

impl LifecycleCalls for Api<'_> {
    async fn contact(&self, body: Value) -> String {
        let r = self.send(Method::POST, "/v1/contacts", Some(body)).await;
        assert_eq!(r.status, 201, "{}", r.body);
        r.body["id"].as_str().unwrap().to_owned()
    }

    async fn ada(&self) -> String {
        self.contact(json!({"email": "ada@example.com"})).await
    }

    async fn read(&self, id: &str) -> Value {
        let r = self.send(Method::GET, &format!("/v1/contacts/{id}"), None).await;
        assert_eq!(r.status, 200, "{}", r.body);
        r.body
    }

    async fn patch_contact(&self, id: &str, body: Value) -> Reply {
        self.send(Method::PATCH, &format!("/v1/contacts/{id}"), Some(body))
            .await
    }

    async fn post_move(&self, id: &str, body: Value) -> Reply {
        let path = format!("/v1/contacts/{id}/lifecycle");
        self.send(Method::POST, &path, Some(body)).await
    }

    async fn move_to(&self, id: &str, stage: &str, reason: Option<&str>) -> Reply {
        let mut body = json!({"stage": stage});
        if let Some(r) = reason {
            body["reason"] = json!(r);
        }
        self.post_move(id, body).await
    }

    async fn moved(&self, id: &str, stage: &str) -> Value {
        let r = self.move_to(id, stage, None).await;
        assert_eq!(r.status, 200, "{stage}: {}", r.body);
        assert_eq!(r.body["lifecycle_stage"], stage);
        r.body
    }

    async fn refused(&self, id: &str, stage: &str, reason: Option<&str>) {
        let r = self.move_to(id, stage, reason).await;
        r.problem(422, "stage_transition_not_allowed");
    }

    async fn history_page(&self, id: &str, query: &str) -> Reply {
        let path = format!("/v1/contacts/{id}/lifecycle{query}");
        self.send(Method::GET, &path, None).await
    }

    async fn history(&self, id: &str) -> Vec<Value> {
        let r = self.history_page(id, "").await;
        assert_eq!(r.status, 200, "{}", r.body);
        assert_eq!(r.body["page"]["has_more"], false);
        r.body["data"].as_array().unwrap().clone()
    }
}

/// The transitions as "from>to:direction" separated by spaces, "-" naming no stage.
fn steps(history: &[Value]) -> String {
    let name = |v: &Value| v.as_str().unwrap_or("-").to_owned();
    let step = |t: &Value| format!("{}>{}:{}", name(&t["from"]), name(&t["to"]), name(&t["direction"]));
    history.iter().map(step).collect::<Vec<_>>().join(" ")
}

/// A new API client with these scopes in the first workspace: its id and a caller.
async fn client<'a>(s: &'a Server, scopes: &str) -> (String, Api<'a>) {
    let c = s.client(Some(s.admin.workspace_id.as_str()), scopes);
    let token = s.token(&c).await;
    (c.client_id, Api(s, token))
}

async fn forward_moves_succeed_without_a_reason_even_when_they_skip_stages(s: Server) {
    let api = Api::admin(&s).await;
    let id = api.ada().await;
    let r = api.move_to(&id, "lead", None).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.header("etag"), Some("\"2\""));
    api.moved(&id, "opportunity").await;
    let contact = api.moved(&id, "advocate").await;
    assert_eq!(contact["highest_stage"], "advocate");
    assert_eq!(contact["version"], 4);
    let entered: Vec<&String> = contact["stage_entered_at"].as_object().unwrap().keys().collect();
    assert_eq!(entered, ["advocate", "lead", "opportunity", "subscriber"]);
    let expected = "->subscriber:forward subscriber>lead:forward lead>opportunity:forward opportunity>advocate:forward";
    assert_eq!(steps(&api.history(&id).await), expected);
}

async fn a_backward_move_needs_the_override_scope_and_a_reason(s: Server) {
    let api = Api::admin(&s).await;
    let id = api.ada().await;
    api.moved(&id, "customer").await;
    api.refused(&id, "lead", None).await;
    api.refused(&id, "lead", Some("   ")).await;
    let writer = Api::with(&s, "contacts:read contacts:write").await;
    writer.refused(&id, "lead", Some("never paid")).await;
    let (overrider_id, overrider) = client(&s, "contacts:read contacts:write lifecycle:override").await;
    overrider.refused(&id, "lead", None).await;
    let unchanged = api.read(&id).await;
    assert_eq!(
        (&unchanged["lifecycle_stage"], &unchanged["version"]),
        (&json!("customer"), &json!(2))
    );
    let r = overrider.move_to(&id, "lead", Some("never paid")).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["lifecycle_stage"], "lead");
    assert_eq!(r.body["highest_stage"], "customer");
    let history = api.history(&id).await;
    assert_eq!(steps(&history[2..]), "customer>lead:backward");
    let last = &history[2];
    assert_eq!((&last["reason"], &last["cause"]), (&json!("never paid"), &json!("api")));
    assert_eq!(last["actor"], json!({"type": "api_client", "id": overrider_id}));
}

async fn customers_churn_and_come_back_without_a_reason(s: Server) {
    let api = Api::admin(&s).await;
    let writer = Api::with(&s, "contacts:read contacts:write").await;
    let id = api.ada().await;
    writer.moved(&id, "customer").await;
    let churned = writer.moved(&id, "churned").await;
    assert_eq!(churned["highest_stage"], "customer");
    let back = writer.moved(&id, "customer").await;
    assert_eq!(
        (&back["highest_stage"], &back["version"]),
        (&json!("customer"), &json!(4))
    );
    let history = api.history(&id).await;
    assert_eq!(
        steps(&history[2..]),
        "customer>churned:exit churned>customer:reactivation"
    );
    assert!(history.iter().all(|t| t["reason"].is_null()));
}

async fn moving_to_the_current_stage_records_nothing(s: Server) {
    let api = Api::admin(&s).await;
    let id = api.ada().await;
    assert_eq!(api.moved(&id, "subscriber").await["version"], 1);
    assert_eq!(api.history(&id).await.len(), 1);
    api.moved(&id, "lead").await;
    let again = api.move_to(&id, "lead", Some("still a lead")).await;
    assert_eq!((again.status.as_u16(), again.header("etag")), (200, Some("\"2\"")));
    assert_eq!(again.body["version"], 2);
    assert_eq!(api.history(&id).await.len(), 2);
    assert_eq!(events_about(&s, "contact.stage_changed", &id).await.len(), 1);
    assert_eq!(events_about(&s, "contact.updated", &id).await.len(), 1);
}

async fn stage_entry_times_keep_the_first_entry_and_the_highest_stage_never_drops(s: Server) {
    let api = Api::admin(&s).await;
    let id = api.ada().await;
    let created = api.read(&id).await;
    let first = api.moved(&id, "customer").await;
    let customer_at = first["stage_entered_at"]["customer"].clone();
    assert_eq!(customer_at, first["updated_at"]);
    tokio::time::sleep(std::time::Duration::from_millis(15)).await;
    let churned = api.moved(&id, "churned").await;
    assert_eq!(churned["highest_stage"], "customer");
    tokio::time::sleep(std::time::Duration::from_millis(15)).await;
    let back = api.moved(&id, "customer").await;
    assert_ne!(back["updated_at"], customer_at);
    let entered = &back["stage_entered_at"];
    assert_eq!(entered["customer"], customer_at);
    assert_eq!(entered["churned"], churned["updated_at"]);
    assert_eq!(entered["subscriber"], created["created_at"]);
    assert_eq!(api.read(&id).await["stage_entered_at"], *entered);
}

async fn a_contact_created_in_a_later_stage_starts_there(s: Server) {
    let api = Api::admin(&s).await;
    let id = api
        .contact(json!({"email": "ada@example.com", "lifecycle_stage": "customer"}))
        .await;
    let contact = api.read(&id).await;
    assert_eq!(contact["lifecycle_stage"], "customer");
    assert_eq!(contact["highest_stage"], "customer");
    assert_eq!(contact["stage_entered_at"], json!({"customer": contact["created_at"]}));
    assert_eq!(steps(&api.history(&id).await), "->customer:forward");
    let churned = api
        .contact(json!({"email": "bob@example.com", "lifecycle_stage": "churned"}))
        .await;
    assert_eq!(api.read(&churned).await["highest_stage"], "customer");
}

async fn the_history_lists_transitions_oldest_first_and_pages_through_them(s: Server) {
    let api = Api::admin(&s).await;
    let id = api.ada().await;
    for stage in ["lead", "customer", "churned", "customer"] {
        api.moved(&id, stage).await;
    }
    let history = api.history(&id).await;
    assert_eq!(
        steps(&history[..3]),
        "->subscriber:forward subscriber>lead:forward lead>customer:forward"
    );
    assert_eq!(
        steps(&history[3..]),
        "customer>churned:exit churned>customer:reactivation"
    );
    let common = json!({"contact_id": id, "cause": "api", "reason": null,
        "actor": {"type": "api_client", "id": s.admin.client_id}});
    for t in &history {
        let fields: Value = common
            .as_object()
            .unwrap()
            .keys()
            .map(|k| (k.clone(), t[k].clone()))
            .collect();
        assert_eq!(fields, common);
    }
    let at = |t: &Value| {
        t["at"]
            .as_str()
            .unwrap()
            .parse::<chrono::DateTime<chrono::Utc>>()
            .unwrap()
    };
    assert!(history.windows(2).all(|w| at(&w[0]) <= at(&w[1])));
    let (mut paged, mut query) = (Vec::new(), "?limit=2".to_owned());
    for expect_more in [true, true, false] {
        let r = api.history_page(&id, &query).await;
        assert_eq!(r.body["page"]["has_more"], expect_more, "{}", r.body);
        paged.extend(r.body["data"].as_array().unwrap().iter().cloned());
        query = format!(
            "?limit=2&after={}",
            r.body["page"]["next_cursor"].as_str().unwrap_or_default()
        );
    }
    assert_eq!(paged, history);
    api.history_page(&id, "?limit=0").await.problem(400, "invalid_query");
    api.history_page(&id, "?after=nonsense")
        .await
        .problem(400, "invalid_cursor");
    let nobody = api.history_page("0190a000-0000-7000-8000-000000000000", "").await;
    nobody.problem(404, "not_found");
}

async fn a_patch_moves_forward_but_never_backward(s: Server) {
    let api = Api::admin(&s).await;
    let id = api.ada().await;
    let r = api.patch_contact(&id, json!({"lifecycle_stage": "qualified"})).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["lifecycle_stage"], "qualified");
    api.moved(&id, "customer").await;
    let r = api
        .patch_contact(&id, json!({"lifecycle_stage": "lead", "first_name": "Ada"}))
        .await;
    r.problem(422, "stage_transition_not_allowed");
    let r = api.patch_contact(&id, json!({"lifecycle_stage": null})).await;
    r.problem(422, "validation_failed");
    assert_eq!(r.pointers(), ["/lifecycle_stage"]);
    let contact = api.read(&id).await;
    let expected = json!({"lifecycle_stage": "customer", "first_name": null, "version": 3});
    let fields: Value = ["lifecycle_stage", "first_name", "version"]
        .map(|k| (k, contact[k].clone()))
        .into_iter()
        .collect();
    assert_eq!(fields, expected);
    let history = api.history(&id).await;
    assert_eq!(
        steps(&history[1..]),
        "subscriber>qualified:forward qualified>customer:forward"
    );
}

async fn each_move_writes_a_stage_change_and_an_update_event(s: Server) {
    let api = Api::admin(&s).await;
    let id = api.ada().await;
    let r = api.move_to(&id, "lead", Some("asked for a demo")).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let changed = events_about(&s, "contact.stage_changed", &id).await;
    assert_eq!(changed.len(), 1);
    assert_eq!(changed[0]["object"], r.body);
    let recorded = &api.history(&id).await[1];
    assert_eq!(changed[0]["transition"], *recorded);
    assert_eq!(steps(std::slice::from_ref(recorded)), "subscriber>lead:forward");
    assert_eq!(
        (&recorded["reason"], &recorded["cause"]),
        (&json!("asked for a demo"), &json!("api"))
    );
    let updated = events_about(&s, "contact.updated", &id).await;
    assert_eq!(updated.len(), 1);
    let fields = updated[0]["changed_fields"].as_array().unwrap();
    for f in ["lifecycle_stage", "highest_stage", "stage_entered_at"] {
        assert!(fields.contains(&json!(f)), "{f} missing from {fields:?}");
    }
    assert_eq!(updated[0]["previous"]["lifecycle_stage"], "subscriber");
    assert_eq!(updated[0]["object"], r.body);
}

async fn an_unknown_stage_is_refused_at_its_pointer(s: Server) {
    let api = Api::admin(&s).await;
    let id = api.ada().await;
    for body in [
        json!({"stage": "vip"}),
        json!({"stage": "Customer"}),
        json!({"reason": "x"}),
    ] {
        let r = api.post_move(&id, body).await;
        r.problem(422, "validation_failed");
        assert_eq!(r.pointers(), ["/stage"], "{}", r.body);
    }
    assert_eq!(api.read(&id).await["version"], 1);
    assert_eq!(api.history(&id).await.len(), 1);
}

on_both!(
    forward_moves_succeed_without_a_reason_even_when_they_skip_stages,
    a_backward_move_needs_the_override_scope_and_a_reason,
    customers_churn_and_come_back_without_a_reason,
    moving_to_the_current_stage_records_nothing,
    stage_entry_times_keep_the_first_entry_and_the_highest_stage_never_drops,
    a_contact_created_in_a_later_stage_starts_there,
    the_history_lists_transitions_oldest_first_and_pages_through_them,
    a_patch_moves_forward_but_never_backward,
    each_move_writes_a_stage_change_and_an_update_event,
    an_unknown_stage_is_refused_at_its_pointer,
);
