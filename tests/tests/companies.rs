//! Companies over REST: validation and normalisation, merge patches with preconditions,
//! lists, the link to contacts (and what deleting a company does to them), events and
//! scopes.

// Test bodies run through `on_both!`, outside `#[test]` fns, where a failed unwrap is the
// intended test failure.
#![allow(clippy::unwrap_used)]

use rapport_tests::{Api, NOWHERE, Reply, Server, events_about, id_of, on_both, pick};
use reqwest::Method;
use serde_json::{Value, json};

/// The calls these tests make beyond plain requests.
trait CompanyCalls {
    /// A PATCH sent as `application/merge-patch+json`, with `If-Match` when given.
    async fn merge(&self, path: &str, body: &Value, if_match: Option<&str>) -> Reply;
    /// Creates a company; returns its representation.
    async fn company(&self, body: Value) -> Value;
    /// Creates a contact; returns its id.
    async fn contact(&self, body: Value) -> String;
    /// The ids of the companies whose name contains `q`.
    async fn search(&self, q: &str) -> Vec<String>;
    /// The ids listed at `path` (one page).
    async fn ids(&self, path: &str) -> Vec<String>;
}

impl CompanyCalls for Api<'_> {
    async fn merge(&self, path: &str, body: &Value, if_match: Option<&str>) -> Reply {
        let mut r = self.0.req(Method::PATCH, path, &self.1);
        if let Some(tag) = if_match {
            r = r.header("if-match", tag);
        }
        r = r.header("content-type", "application/merge-patch+json");
        Reply::from(r.body(body.to_string()).send().await.unwrap()).await
    }

    async fn company(&self, body: Value) -> Value {
        let r = self.post("/v1/companies", body).await;
        assert_eq!(r.status, 201, "{}", r.body);
        r.body
    }

    async fn contact(&self, body: Value) -> String {
        let r = self.post("/v1/contacts", body).await;
        assert_eq!(r.status, 201, "{}", r.body);
        id_of(&r.body)
    }

    async fn search(&self, q: &str) -> Vec<String> {
        let r = self.0.req(Method::GET, "/v1/companies", &self.1).query(&[("q", q)]);
        let r = Reply::from(r.send().await.unwrap()).await;
        assert_eq!(r.status, 200, "{}", r.body);
        r.body["data"].as_array().unwrap().iter().map(id_of).collect()
    }

    async fn ids(&self, path: &str) -> Vec<String> {
        let r = self.get(path).await;
        assert_eq!(r.status, 200, "{path}: {}", r.body);
        r.body["data"].as_array().unwrap().iter().map(id_of).collect()
    }
}

fn company(id: &str) -> String {
    format!("/v1/companies/{id}")
}

fn contact(id: &str) -> String {
    format!("/v1/contacts/{id}")
}

async fn a_new_company_gets_a_normalised_domain_location_and_etag(s: Server) {
    let api = Api::admin(&s).await;
    let body =
        json!({"name": " Acme Ltd ", "domain": "https://www.Acme.example/about", "industry": "Retail", "size": 40});
    let r = api.post("/v1/companies", body).await;
    assert_eq!(r.status, 201, "{}", r.body);
    let id = id_of(&r.body);
    assert_eq!(r.header("location"), Some(company(&id).as_str()));
    assert_eq!(r.header("etag"), Some("\"1\""));
    let expected =
        json!({"name": "Acme Ltd", "domain": "acme.example", "industry": "Retail", "size": 40, "version": 1});
    assert_eq!(pick(&r.body, &expected), expected);
    let read = api.get(&company(&id)).await;
    assert_eq!((read.status.as_u16(), read.header("etag")), (200, Some("\"1\"")));
    assert_eq!(read.body, r.body);
    api.get(&company(NOWHERE)).await.problem(404, "not_found");
}

async fn a_company_needs_a_name_a_valid_domain_and_a_sensible_size(s: Server) {
    let api = Api::admin(&s).await;
    let invalid = json!([
        [{"domain": "acme.example"}, "/name"],
        [{"name": "   "}, "/name"],
        [{"name": null}, "/name"],
        [{"name": "Acme", "size": -1}, "/size"],
        [{"name": "Acme", "domain": "not a domain"}, "/domain"],
    ]);
    for case in invalid.as_array().unwrap() {
        let r = api.post("/v1/companies", case[0].clone()).await;
        r.problem(422, "validation_failed");
        assert_eq!(r.pointers(), [case[1].as_str().unwrap()], "{}", r.body);
    }
    assert!(api.ids("/v1/companies").await.is_empty());
}

async fn a_taken_domain_conflicts_and_names_the_company_holding_it(s: Server) {
    let api = Api::admin(&s).await;
    let acme = id_of(&api.company(json!({"name": "Acme", "domain": "acme.example"})).await);
    let r = api
        .post(
            "/v1/companies",
            json!({"name": "Again", "domain": "http://ACME.example:8080/"}),
        )
        .await;
    r.problem(409, "conflict");
    assert_eq!(r.body["existing_id"], acme.as_str());
    let beta = id_of(&api.company(json!({"name": "Beta", "domain": "beta.example"})).await);
    let r = api
        .merge(&company(&beta), &json!({"domain": "www.acme.example"}), None)
        .await;
    r.problem(409, "conflict");
    assert_eq!(r.body["existing_id"], acme.as_str());
    assert_eq!(api.get(&company(&beta)).await.body["domain"], "beta.example");
    assert_eq!(api.ids("/v1/companies").await, [acme, beta]);
}

async fn a_company_patch_merges_fields_and_honours_preconditions(s: Server) {
    let api = Api::admin(&s).await;
    let id = id_of(
        &api.company(json!({"name": "Acme", "domain": "acme.example", "size": 40}))
            .await,
    );
    let path = company(&id);
    let r = api
        .merge(&path, &json!({"industry": "Retail", "size": null}), Some("\"1\""))
        .await;
    assert_eq!(
        (r.status.as_u16(), r.header("etag")),
        (200, Some("\"2\"")),
        "{}",
        r.body
    );
    let expected = json!({"name": "Acme", "domain": "acme.example", "industry": "Retail", "size": null, "version": 2});
    assert_eq!(pick(&r.body, &expected), expected);
    let stale = api.merge(&path, &json!({"name": "Acme Corp"}), Some("\"1\"")).await;
    stale.problem(412, "precondition_failed");
    assert_eq!(stale.body["current_version"], 2);
    let nameless = api.merge(&path, &json!({"name": null}), None).await;
    nameless.problem(422, "validation_failed");
    assert_eq!(nameless.pointers(), ["/name"]);
    let same = api
        .merge(&path, &json!({"name": "Acme", "industry": "Retail"}), None)
        .await;
    assert_eq!((same.status.as_u16(), &same.body["version"]), (200, &json!(2)));
    let conditional = api.0.req(Method::GET, &path, &api.1).header("if-none-match", "\"2\"");
    assert_eq!(conditional.send().await.unwrap().status(), 304);
    assert_eq!(pick(&api.get(&path).await.body, &expected), expected);
}

async fn companies_are_filtered_by_name_and_domain_and_paged(s: Server) {
    let api = Api::admin(&s).await;
    let mut all = Vec::new();
    for (name, domain) in [
        ("Acme Corp", "acme"),
        ("Beta", "beta"),
        ("acme labs", "labs"),
        ("Gamma ACME", "gamma"),
    ] {
        let body = json!({"name": name, "domain": format!("{domain}.example")});
        all.push(id_of(&api.company(body).await));
    }
    let nth = |order: &[usize]| order.iter().map(|&i| all[i].clone()).collect::<Vec<_>>();
    assert_eq!(api.search("acme").await, nth(&[0, 2, 3]));
    assert_eq!(api.search("ACME L").await, nth(&[2]));
    assert!(api.search("_").await.is_empty());
    assert_eq!(api.ids("/v1/companies?domain=beta.example").await, nth(&[1]));
    assert_eq!(api.ids("/v1/companies?domain=BETA.example").await, nth(&[1]));
    // The filter is normalised like stored domains.
    assert_eq!(
        api.ids("/v1/companies?domain=https://www.beta.example/about").await,
        nth(&[1])
    );
    api.get("/v1/companies?domain=not%20a%20domain")
        .await
        .problem(400, "invalid_query");
    assert!(api.ids("/v1/companies?domain=delta.example").await.is_empty());
    for (sort, expected) in [("created_at", nth(&[0, 1, 2, 3])), ("-created_at", nth(&[3, 2, 1, 0]))] {
        let (mut seen, mut after) = (Vec::new(), String::new());
        for expect_more in [true, false] {
            let r = api.get(&format!("/v1/companies?limit=3&sort={sort}{after}")).await;
            assert_eq!(r.body["page"]["has_more"], expect_more, "{}", r.body);
            seen.extend(r.body["data"].as_array().unwrap().iter().map(id_of));
            after = format!("&after={}", r.body["page"]["next_cursor"].as_str().unwrap_or_default());
        }
        assert_eq!(seen, expected, "{sort}");
    }
    api.get("/v1/companies?limit=0").await.problem(400, "invalid_query");
    api.get("/v1/companies?name=acme").await.problem(400, "invalid_query");
    api.get("/v1/companies?after=garbage")
        .await
        .problem(400, "invalid_cursor");
}

async fn a_company_search_ignores_case_beyond_ascii(s: Server) {
    let api = Api::admin(&s).await;
    let id = id_of(&api.company(json!({"name": "Électricité Ørsted"})).await);
    for q in ["Électricité", "électricité", "ÉLECTRICITÉ", "ørsted", "ØRSTED"] {
        assert_eq!(api.search(q).await, [id.as_str()], "q={q}");
    }
}

async fn a_company_lists_only_its_own_contacts(s: Server) {
    let api = Api::admin(&s).await;
    let acme = id_of(&api.company(json!({"name": "Acme"})).await);
    let beta = id_of(&api.company(json!({"name": "Beta"})).await);
    let ada = api
        .contact(json!({"email": "ada@example.com", "company_id": acme}))
        .await;
    let bob = api
        .contact(json!({"email": "bob@example.com", "company_id": beta}))
        .await;
    let cy = api.contact(json!({"email": "cy@example.com"})).await;
    let linked = api.merge(&contact(&cy), &json!({"company_id": acme}), None).await;
    assert_eq!(linked.body["company_id"], acme.as_str());
    let contacts_of = |id: &str, query: &str| format!("/v1/companies/{id}/contacts{query}");
    assert_eq!(api.ids(&contacts_of(&acme, "")).await, [ada.clone(), cy.clone()]);
    assert_eq!(api.ids(&contacts_of(&beta, "")).await, [bob]);
    let widened = api.ids(&contacts_of(&acme, &format!("?company_id={beta}"))).await;
    assert_eq!(widened, [ada, cy.clone()]);
    assert_eq!(api.ids(&contacts_of(&acme, "?q=cy")).await, [cy]);
    api.get(&contacts_of(NOWHERE, "")).await.problem(404, "not_found");
}

async fn a_contact_cannot_be_linked_to_a_company_that_does_not_exist(s: Server) {
    let api = Api::admin(&s).await;
    let r = api
        .post(
            "/v1/contacts",
            json!({"email": "ada@example.com", "company_id": NOWHERE}),
        )
        .await;
    r.problem(422, "validation_failed");
    assert_eq!(r.pointers(), ["/company_id"]);
    let (_, other_token) = s.other_workspace().await;
    let elsewhere = Api(&s, other_token).company(json!({"name": "Elsewhere"})).await;
    let ada = api.contact(json!({"email": "ada@example.com"})).await;
    let r = api
        .merge(&contact(&ada), &json!({"company_id": id_of(&elsewhere)}), None)
        .await;
    r.problem(422, "validation_failed");
    assert_eq!(r.pointers(), ["/company_id"]);
    let expected = json!({"company_id": null, "version": 1});
    assert_eq!(pick(&api.get(&contact(&ada)).await.body, &expected), expected);
}

async fn deleting_a_company_keeps_its_contacts_but_unlinks_them(s: Server) {
    let api = Api::admin(&s).await;
    let acme = id_of(&api.company(json!({"name": "Acme", "domain": "acme.example"})).await);
    let beta = id_of(&api.company(json!({"name": "Beta"})).await);
    let mut linked = Vec::new();
    for email in ["ada@example.com", "bob@example.com"] {
        linked.push(api.contact(json!({"email": email, "company_id": acme})).await);
    }
    let other = api
        .contact(json!({"email": "cy@example.com", "company_id": beta}))
        .await;
    assert_eq!(api.delete(&company(&acme)).await.status, 204);
    api.get(&company(&acme)).await.problem(404, "not_found");
    let unlinked = json!({"company_id": null, "version": 2});
    for id in &linked {
        let read = api.get(&contact(id)).await.body;
        assert_eq!(pick(&read, &unlinked), unlinked);
        let updated = events_about(&s, "contact.updated", id).await;
        assert_eq!(updated.len(), 1);
        assert_eq!(updated[0]["changed_fields"], json!(["company_id"]));
        assert_eq!(updated[0]["previous"], json!({"company_id": acme}));
        assert_eq!(updated[0]["object"], read);
    }
    let untouched = json!({"company_id": beta, "version": 1});
    assert_eq!(pick(&api.get(&contact(&other)).await.body, &untouched), untouched);
    assert!(events_about(&s, "contact.updated", &other).await.is_empty());
    let deleted = events_about(&s, "company.deleted", &acme).await;
    assert_eq!(deleted.len(), 1);
    assert_eq!(deleted[0]["object"]["domain"], "acme.example");
    api.company(json!({"name": "New Acme", "domain": "acme.example"})).await;
}

async fn company_events_record_creation_and_each_changed_field(s: Server) {
    let api = Api::admin(&s).await;
    let id = id_of(&api.company(json!({"name": "Acme", "domain": "acme.example"})).await);
    let created = events_about(&s, "company.created", &id).await;
    assert_eq!(created.len(), 1);
    assert_eq!(created[0]["object"], api.get(&company(&id)).await.body);
    let change = json!({"name": "Acme Corp", "size": 12, "domain": "ACME.example"});
    let r = api.merge(&company(&id), &change, None).await;
    assert_eq!(r.status, 200, "{}", r.body);
    api.merge(&company(&id), &json!({"name": "Acme Corp"}), None).await;
    let updated = events_about(&s, "company.updated", &id).await;
    assert_eq!(updated.len(), 1, "an unchanged patch wrote an event");
    assert_eq!(updated[0]["changed_fields"], json!(["name", "size"]));
    assert_eq!(updated[0]["previous"], json!({"name": "Acme", "size": null}));
    assert_eq!(updated[0]["object"], r.body);
}

async fn company_endpoints_need_company_scopes(s: Server) {
    let api = Api::admin(&s).await;
    let acme = id_of(&api.company(json!({"name": "Acme"})).await);
    let path = company(&acme);
    let contacts_only = Api::with(&s, "contacts:read contacts:write").await;
    contacts_only
        .get("/v1/companies")
        .await
        .problem(403, "insufficient_scope");
    contacts_only.get(&path).await.problem(403, "insufficient_scope");
    let r = contacts_only.post("/v1/companies", json!({"name": "Beta"})).await;
    r.problem(403, "insufficient_scope");
    let reader = Api::with(&s, "companies:read").await;
    assert_eq!(reader.ids("/v1/companies").await, [acme.as_str()]);
    reader
        .post("/v1/companies", json!({"name": "Beta"}))
        .await
        .problem(403, "insufficient_scope");
    let r = reader.merge(&path, &json!({"name": "Renamed"}), None).await;
    r.problem(403, "insufficient_scope");
    reader.delete(&path).await.problem(403, "insufficient_scope");
    // Deleting a company with contacts unlinks them, which needs contacts:write as well.
    let writer = Api::with(&s, "companies:read companies:write").await;
    api.contact(json!({"email": "ada@example.com", "company_id": acme}))
        .await;
    writer.delete(&path).await.problem(403, "insufficient_scope");
    assert_eq!(reader.get(&path).await.body["name"], "Acme");
    let empty = id_of(&writer.company(json!({"name": "Beta"})).await);
    assert_eq!(writer.delete(&company(&empty)).await.status, 204);
    assert_eq!(reader.ids("/v1/companies").await, [acme]);
}

on_both!(
    a_new_company_gets_a_normalised_domain_location_and_etag,
    a_company_needs_a_name_a_valid_domain_and_a_sensible_size,
    a_taken_domain_conflicts_and_names_the_company_holding_it,
    a_company_patch_merges_fields_and_honours_preconditions,
    companies_are_filtered_by_name_and_domain_and_paged,
    a_company_search_ignores_case_beyond_ascii,
    a_company_lists_only_its_own_contacts,
    a_contact_cannot_be_linked_to_a_company_that_does_not_exist,
    deleting_a_company_keeps_its_contacts_but_unlinks_them,
    company_events_record_creation_and_each_changed_field,
    company_endpoints_need_company_scopes,
);
