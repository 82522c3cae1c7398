//! Tenant isolation: records of one workspace are invisible to another on every route —
//! reads, writes, deletes, lookups and lists — and unique values are unique per
//! workspace only.

// Test bodies run through `on_both!`, outside `#[test]` fns, where a failed unwrap is the
// intended test failure.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use rapport_tests::{Reply, Server, on_both};
use reqwest::Method;
use serde_json::{Value, json};

const EMAIL: &str = "ada@example.com";

/// Records created in workspace A, and an admin token of each workspace.
struct Fixture {
    a: String,
    b: String,
    contact: String,
    company: String,
    attribute: String,
    client: String,
}

#[track_caller]
fn created(r: &Reply, id_field: &str) -> String {
    assert_eq!(r.status, 201, "{}", r.body);
    r.body[id_field].as_str().unwrap().to_owned()
}

async fn post(s: &Server, token: &str, path: &str, body: Value) -> Reply {
    s.call(Method::POST, path, token, Some(body)).await
}

async fn fixture(s: &Server) -> Fixture {
    let a = s.admin_token().await;
    let company = created(
        &post(
            s,
            &a,
            "/v1/companies",
            json!({"name": "Acme", "domain": "acme.example"}),
        )
        .await,
        "id",
    );
    let contact_body = json!({"email": EMAIL, "first_name": "Ada", "external_ids": {"shop": "c-1"}, "company_id": company, "tags": ["vip"]});
    let contact = created(&post(s, &a, "/v1/contacts", contact_body).await, "id");
    let attribute = created(
        &post(
            s,
            &a,
            "/v1/attribute-definitions",
            json!({"key": "tier", "label": "Tier", "type": "string"}),
        )
        .await,
        "id",
    );
    let client = created(
        &post(
            s,
            &a,
            "/v1/api-clients",
            json!({"name": "Storefront", "scopes": "contacts:read"}),
        )
        .await,
        "client_id",
    );
    let (_, b) = s.other_workspace().await;
    Fixture {
        a,
        b,
        contact,
        company,
        attribute,
        client,
    }
}

/// The `data` of a list response.
async fn list(s: &Server, token: &str, path: &str) -> Vec<Value> {
    let r = s.call(Method::GET, path, token, None).await;
    assert_eq!(r.status, 200, "{path}: {}", r.body);
    r.body["data"].as_array().unwrap().clone()
}

fn ids(items: &[Value], field: &str) -> Vec<String> {
    items
        .iter()
        .filter_map(|i| i[field].as_str().map(str::to_owned))
        .collect()
}

async fn records_of_another_workspace_answer_not_found_on_every_route(s: Server) {
    let f = fixture(&s).await;
    let contact = format!("/v1/contacts/{}", f.contact);
    let company = format!("/v1/companies/{}", f.company);
    let attribute = format!("/v1/attribute-definitions/{}", f.attribute);
    let client = format!("/v1/api-clients/{}", f.client);
    let routes: Vec<(Method, String, Option<Value>)> = vec![
        (Method::GET, contact.clone(), None),
        (Method::PATCH, contact.clone(), Some(json!({"first_name": "Eve"}))),
        (
            Method::POST,
            format!("{contact}/lifecycle"),
            Some(json!({"stage": "lead"})),
        ),
        (Method::GET, format!("{contact}/lifecycle"), None),
        (
            Method::POST,
            format!("{contact}/tags"),
            Some(json!({"add": ["stolen"], "remove": ["vip"]})),
        ),
        (Method::GET, format!("/v1/contacts/by-email/{EMAIL}"), None),
        (Method::GET, "/v1/contacts/by-external-id/shop/c-1".to_owned(), None),
        (Method::DELETE, contact.clone(), None),
        (Method::GET, company.clone(), None),
        (Method::PATCH, company.clone(), Some(json!({"name": "Evil Corp"}))),
        (Method::GET, format!("{company}/contacts"), None),
        (Method::DELETE, company.clone(), None),
        (Method::GET, attribute.clone(), None),
        (Method::PATCH, attribute.clone(), Some(json!({"label": "Stolen"}))),
        (Method::DELETE, attribute.clone(), None),
        (Method::GET, client.clone(), None),
        (Method::DELETE, client.clone(), None),
    ];
    for (method, path, body) in routes {
        let r = s.call(method.clone(), &path, &f.b, body).await;
        assert_eq!(
            r.status, 404,
            "{method} {path} from another workspace answered {}: {}",
            r.status, r.body
        );
        r.problem(404, "not_found");
    }

    // Nothing in workspace A changed.
    let c = s.call(Method::GET, &contact, &f.a, None).await;
    assert_eq!(c.status, 200, "{}", c.body);
    assert_eq!(
        (&c.body["first_name"], &c.body["lifecycle_stage"], &c.body["version"]),
        (&json!("Ada"), &json!("subscriber"), &json!(1))
    );
    assert_eq!(c.body["tags"], json!(["vip"]));
    assert_eq!(c.body["company_id"], f.company.as_str());
    let co = s.call(Method::GET, &company, &f.a, None).await;
    assert_eq!((co.status.as_u16(), &co.body["name"]), (200, &json!("Acme")));
    let at = s.call(Method::GET, &attribute, &f.a, None).await;
    assert_eq!((at.status.as_u16(), &at.body["label"]), (200, &json!("Tier")));
    let cl = s.call(Method::GET, &client, &f.a, None).await;
    assert_eq!((cl.status.as_u16(), &cl.body["revoked_at"]), (200, &Value::Null));
    assert_eq!(s.events("contact.updated").await.len(), 0);
    assert_eq!(s.events("contact.deleted").await.len(), 0);
    assert_eq!(s.events("company.deleted").await.len(), 0);
}

async fn lists_in_another_workspace_do_not_show_its_records(s: Server) {
    let f = fixture(&s).await;
    assert_eq!(ids(&list(&s, &f.a, "/v1/contacts").await, "id"), [f.contact.as_str()]);
    assert!(list(&s, &f.b, "/v1/contacts").await.is_empty());
    assert!(list(&s, &f.b, &format!("/v1/contacts?email={EMAIL}")).await.is_empty());
    assert!(list(&s, &f.b, "/v1/contacts?tag=vip").await.is_empty());
    assert!(list(&s, &f.b, "/v1/contacts?q=ada").await.is_empty());
    assert!(
        list(&s, &f.b, &format!("/v1/contacts?company_id={}", f.company))
            .await
            .is_empty()
    );
    assert!(list(&s, &f.b, "/v1/companies").await.is_empty());
    assert!(list(&s, &f.b, "/v1/companies?domain=acme.example").await.is_empty());
    assert!(list(&s, &f.b, "/v1/attribute-definitions").await.is_empty());
    let clients = ids(&list(&s, &f.b, "/v1/api-clients").await, "client_id");
    assert_eq!(clients.len(), 1, "only B's own admin client: {clients:?}");
    assert!(
        !clients.contains(&f.client) && !clients.contains(&s.admin.client_id),
        "{clients:?}"
    );
}

async fn another_workspace_may_reuse_emails_external_ids_and_domains(s: Server) {
    let f = fixture(&s).await;
    let by_ext = s
        .call(
            Method::PUT,
            "/v1/contacts/by-external-id/shop/c-1",
            &f.b,
            Some(json!({"first_name": "Bea"})),
        )
        .await;
    let b_contact = created(&by_ext, "id");
    assert_ne!(b_contact, f.contact);
    let by_email = s
        .call(
            Method::PUT,
            &format!("/v1/contacts/by-email/{EMAIL}"),
            &f.b,
            Some(json!({"last_name": "B"})),
        )
        .await;
    assert_eq!(
        by_email.status, 201,
        "an upsert in B must not find A's contact: {}",
        by_email.body
    );
    assert_ne!(by_email.body["id"], f.contact.as_str());
    let company = created(
        &post(
            &s,
            &f.b,
            "/v1/companies",
            json!({"name": "Acme B", "domain": "acme.example"}),
        )
        .await,
        "id",
    );
    assert_ne!(company, f.company);
    created(
        &post(
            &s,
            &f.b,
            "/v1/attribute-definitions",
            json!({"key": "tier", "label": "B tier", "type": "number"}),
        )
        .await,
        "id",
    );

    // Each workspace's lookups find its own record.
    let a_view = s
        .call(Method::GET, &format!("/v1/contacts/by-email/{EMAIL}"), &f.a, None)
        .await;
    assert_eq!(a_view.body["id"], f.contact.as_str());
    assert_eq!(a_view.body["first_name"], "Ada");
    let b_view = s
        .call(Method::GET, "/v1/contacts/by-external-id/shop/c-1", &f.b, None)
        .await;
    assert_eq!(b_view.body["id"], b_contact.as_str());

    let events = s.events("contact.created").await;
    let a_ws = &s.admin.workspace_id;
    let in_a: Vec<&Value> = events
        .iter()
        .filter(|(ws, _)| ws == a_ws)
        .map(|(_, d)| &d["object"]["id"])
        .collect();
    assert_eq!(in_a, [&json!(f.contact)], "{events:?}");
    assert_eq!(events.len(), 3, "{events:?}");
}

async fn a_contact_cannot_be_linked_to_a_company_of_another_workspace(s: Server) {
    let f = fixture(&s).await;
    let link = json!({"email": "bea@example.com", "company_id": f.company});
    let r = post(&s, &f.b, "/v1/contacts", link.clone()).await;
    r.problem(422, "validation_failed");
    assert_eq!(r.pointers(), ["/company_id"]);

    let mine = created(
        &post(&s, &f.b, "/v1/contacts", json!({"email": "bea@example.com"})).await,
        "id",
    );
    let patch = s
        .call(
            Method::PATCH,
            &format!("/v1/contacts/{mine}"),
            &f.b,
            Some(json!({"company_id": f.company})),
        )
        .await;
    patch.problem(422, "validation_failed");
    assert_eq!(patch.pointers(), ["/company_id"]);
    let upsert = s
        .call(
            Method::PUT,
            "/v1/contacts/by-email/cleo@example.com",
            &f.b,
            Some(json!({"company_id": f.company})),
        )
        .await;
    upsert.problem(422, "validation_failed");
    assert_eq!(upsert.pointers(), ["/company_id"]);

    let still = s.call(Method::GET, &format!("/v1/contacts/{mine}"), &f.b, None).await;
    assert_eq!(still.body["company_id"], Value::Null);
    let members = list(&s, &f.a, &format!("/v1/companies/{}/contacts", f.company)).await;
    assert_eq!(ids(&members, "id"), [f.contact.as_str()]);
}

async fn batches_stay_within_their_workspace(s: Server) {
    let f = fixture(&s).await;
    let items = json!({"items": [
        {"email": EMAIL, "external_ids": {"shop": "c-1"}, "first_name": "Bea"},
        {"email": "cleo@example.com", "company_id": f.company},
    ]});
    let r = post(&s, &f.b, "/v1/contacts/batch", items).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let results = &r.body["results"];
    assert_eq!(
        results[0]["status"], "created",
        "A's contact must not match: {}",
        r.body
    );
    assert_ne!(results[0]["contact"]["id"], f.contact.as_str());
    assert_eq!(results[1]["status"], "failed", "{}", r.body);
    assert_eq!(
        results[1]["error"]["errors"][0]["pointer"], "/items/1/company_id",
        "{}",
        r.body
    );
    let a_view = s
        .call(Method::GET, &format!("/v1/contacts/{}", f.contact), &f.a, None)
        .await;
    assert_eq!(
        (&a_view.body["first_name"], &a_view.body["version"]),
        (&json!("Ada"), &json!(1))
    );
}

/// `POST /v1/contacts` with an Idempotency-Key.
async fn post_once(s: &Server, token: &str, key: &str, email: &str) -> Reply {
    let r = s
        .req(Method::POST, "/v1/contacts", token)
        .header("idempotency-key", key);
    Reply::from(r.json(&json!({ "email": email })).send().await.unwrap()).await
}

async fn an_idempotency_key_of_one_workspace_is_not_replayed_in_another(s: Server) {
    let f = fixture(&s).await;
    let first = post_once(&s, &f.a, "order-1001", "idem@example.com").await;
    let a_id = created(&first, "id");
    // The same key and body in B create B's own contact rather than replaying A's.
    let same = post_once(&s, &f.b, "order-1001", "idem@example.com").await;
    assert_eq!(same.header("idempotent-replayed"), None, "{:?}", same.headers);
    assert_ne!(created(&same, "id"), a_id);
    // The same key with another body in B is not a reuse of A's key.
    post_once(&s, &f.a, "order-1002", "one@example.com").await;
    let other = post_once(&s, &f.b, "order-1002", "two@example.com").await;
    assert_eq!(other.body["email"], "two@example.com", "{}", other.body);
    created(&other, "id");
}

async fn graphql_cannot_reach_records_of_another_workspace(s: Server) {
    let f = fixture(&s).await;
    let read = "query($c: ID!, $co: ID!, $e: String!) { contact(id: $c) { id } company(id: $co) { id } \
                contactByEmail(email: $e) { id } contacts { nodes { id } } companies { nodes { id } } }";
    let vars = json!({"c": f.contact, "co": f.company, "e": EMAIL});
    let reply = s.gql(&f.b, read, vars).await;
    assert!(reply.get("errors").is_none(), "{reply}");
    for field in ["contact", "company", "contactByEmail"] {
        assert_eq!(reply["data"][field], Value::Null, "{reply}");
    }
    for list in ["contacts", "companies"] {
        assert_eq!(reply["data"][list]["nodes"], json!([]), "{reply}");
    }
    let contact_vars = json!({"id": f.contact});
    for mutation in [
        "mutation($id: ID!) { updateContact(id: $id, input: {firstName: \"Eve\"}) { id } }",
        "mutation($id: ID!) { deleteContact(id: $id) }",
        "mutation($id: ID!) { tagContact(id: $id, add: [\"stolen\"]) { id } }",
        "mutation($id: ID!) { changeLifecycleStage(id: $id, stage: LEAD) { id } }",
    ] {
        let reply = s.gql(&f.b, mutation, contact_vars.clone()).await;
        assert_eq!(
            reply["errors"][0]["extensions"]["code"], "not_found",
            "{mutation}: {reply}"
        );
    }
    let delete_company = "mutation($id: ID!) { deleteCompany(id: $id) }";
    let reply = s.gql(&f.b, delete_company, json!({"id": f.company})).await;
    assert_eq!(reply["errors"][0]["extensions"]["code"], "not_found", "{reply}");
    let ada = s
        .call(Method::GET, &format!("/v1/contacts/{}", f.contact), &f.a, None)
        .await;
    assert_eq!(
        (&ada.body["first_name"], &ada.body["version"]),
        (&json!("Ada"), &json!(1)),
        "{}",
        ada.body
    );
}

on_both!(
    records_of_another_workspace_answer_not_found_on_every_route,
    lists_in_another_workspace_do_not_show_its_records,
    another_workspace_may_reuse_emails_external_ids_and_domains,
    a_contact_cannot_be_linked_to_a_company_of_another_workspace,
    batches_stay_within_their_workspace,
    an_idempotency_key_of_one_workspace_is_not_replayed_in_another,
    graphql_cannot_reach_records_of_another_workspace,
);
