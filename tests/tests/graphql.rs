//! GraphQL at `/graphql`: the same records and rules as REST, Relay connections,
//! errors with REST's codes in `extensions`, depth and complexity limits, and company
//! lookups batched per page.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashMap;

use chrono::{DateTime, FixedOffset};
use rapport_tests::{Reply, Server, on_both};
use reqwest::Method;
use serde_json::{Value, json};

/// Every scalar field of a contact.
const CONTACT: &str = "id email phone firstName lastName fullName locale country companyId externalIds tags \
                       attributes lifecycleStage highestStage stageEnteredAt { stage at } leadScore ownerId version \
                       createdAt updatedAt";

/// A GraphQL caller holding one token.
struct Client<'a> {
    s: &'a Server,
    token: String,
}

impl Client<'_> {
    /// Runs an operation that must succeed; returns the value of its (first) root field.
    async fn ok(&self, query: &str, vars: Value) -> Value {
        let doc = self.s.gql(&self.token, query, vars).await;
        assert!(doc.get("errors").is_none(), "{query}: {doc}");
        let data = doc["data"].as_object().unwrap();
        data.values().next().cloned().unwrap()
    }

    /// Runs an operation that must fail without data; returns its first error.
    async fn refused(&self, query: &str, vars: Value) -> Value {
        let doc = self.s.gql(&self.token, query, vars).await;
        assert!(doc["data"].is_null(), "{query} answered data: {doc}");
        doc["errors"][0].clone()
    }

    /// The `extensions.code` of the error an operation fails with.
    async fn code(&self, query: &str, vars: Value) -> String {
        let e = self.refused(query, vars).await;
        e["extensions"]["code"].as_str().unwrap_or_default().to_owned()
    }

    async fn create_contact(&self, input: Value) -> Value {
        let q = format!("mutation($i: ContactInputGql!) {{ createContact(input: $i) {{ {CONTACT} }} }}");
        self.ok(&q, json!({ "i": input })).await
    }

    async fn read_contact(&self, id: &Value) -> Value {
        let q = format!("query($id: ID!) {{ contact(id: $id) {{ {CONTACT} }} }}");
        self.ok(&q, json!({ "id": id })).await
    }

    async fn rest_post(&self, path: &str, body: Value) -> Value {
        let r = self.s.call(Method::POST, path, &self.token, Some(body)).await;
        assert!(r.status.is_success(), "{path}: {}", r.body);
        r.body
    }

    async fn rest_get(&self, path: &str) -> Reply {
        self.s.call(Method::GET, path, &self.token, None).await
    }
}

/// A client with the bootstrap admin's token.
async fn admin(s: &Server) -> Client<'_> {
    let token = s.admin_token().await;
    Client { s, token }
}

/// A client with a token of exactly these scopes.
async fn with_scopes<'a>(s: &'a Server, scopes: &str) -> Client<'a> {
    let token = s.token_with(scopes).await;
    Client { s, token }
}

/// An admin client of a second workspace.
async fn elsewhere(s: &Server) -> Client<'_> {
    let token = s.other_workspace().await.1;
    Client { s, token }
}

/// The value at `pointer` in each item of an array, as an array.
fn each(items: &Value, pointer: &str) -> Value {
    let list = items.as_array().unwrap();
    let at = |i: &Value| i.pointer(pointer).cloned().unwrap_or_default();
    list.iter().map(at).collect()
}

/// `company { contacts { edges { node { … } } } }` nested `levels` times around `leaf`.
fn nested(levels: usize, leaf: &str) -> String {
    let level = |q: String, _| format!("company {{ contacts(first: 1) {{ edges {{ node {{ {q} }} }} }} }}");
    (0..levels).fold(leaf.to_owned(), level)
}

async fn contacts_are_read_by_id_and_email_and_never_across_workspaces(s: Server) {
    let g = admin(&s).await;
    let input = json!({"email": "ada@example.com", "firstName": "Ada", "lastName": "Lovelace"});
    let ada = g.create_contact(input).await;
    assert_eq!(ada["fullName"], "Ada Lovelace");
    assert_eq!(ada["lifecycleStage"], "SUBSCRIBER");
    assert_eq!(g.read_contact(&ada["id"]).await, ada);

    let by_email = "query($e: String!) { contactByEmail(email: $e) { id } }";
    let found = g.ok(by_email, json!({"e": "ADA@Example.COM"})).await;
    assert_eq!(found["id"], ada["id"], "emails match whatever their case");
    for missing in ["nobody@example.com", "not an email"] {
        assert!(g.ok(by_email, json!({ "e": missing })).await.is_null());
    }
    for id in ["not-a-uuid".to_owned(), uuid::Uuid::now_v7().to_string()] {
        assert!(g.read_contact(&json!(id)).await.is_null());
    }
    let other = elsewhere(&s).await;
    assert!(other.read_contact(&ada["id"]).await.is_null(), "seen elsewhere");
    assert!(other.ok(by_email, json!({"e": "ada@example.com"})).await.is_null());
}

/// Walks `contacts` page by page; returns the emails of each page.
async fn walk(g: &Client<'_>, filter: &Value, sort: &str, first: i32) -> Vec<Vec<Value>> {
    let q = "query($f: ContactFilterInput, $s: ContactSort!, $n: Int, $a: String) {
        contacts(filter: $f, sort: $s, first: $n, after: $a) {
            edges { cursor node { email } } pageInfo { hasNextPage endCursor } } }";
    let (mut pages, mut after) = (Vec::new(), Value::Null);
    loop {
        let page = g.ok(q, json!({"f": filter, "s": sort, "n": first, "a": after})).await;
        pages.push(each(&page["edges"], "/node/email").as_array().unwrap().clone());
        if page["pageInfo"]["hasNextPage"] != true {
            return pages;
        }
        let cursors = each(&page["edges"], "/cursor");
        after = cursors.as_array().unwrap().last().unwrap().clone();
        assert_eq!(page["pageInfo"]["endCursor"], after);
        assert!(pages.len() < 20, "the walk does not end");
    }
}

async fn the_contacts_connection_filters_sorts_and_walks_every_page(s: Server) {
    let g = admin(&s).await;
    let mut vip = Vec::new();
    for i in 0..10 {
        let (email, tag) = (format!("p{i}@example.com"), if i % 4 == 0 { "other" } else { "vip" });
        let body = json!({"email": email, "tags": [tag]});
        g.rest_post("/v1/contacts", body).await;
        if tag == "vip" {
            vip.push(json!(email));
        }
    }
    let pages = walk(&g, &json!({"tag": "vip"}), "CREATED_AT", 3).await;
    assert_eq!(pages.iter().map(Vec::len).collect::<Vec<_>>(), [3, 3, 1]);
    assert_eq!(pages.concat(), vip);
    let newest_first = walk(&g, &json!({"tag": "vip"}), "CREATED_AT_DESC", 4).await.concat();
    assert_eq!(newest_first, vip.iter().rev().cloned().collect::<Vec<_>>());

    // A cursor only works for the order that made it; page sizes are bounded.
    let q = "query($s: ContactSort!, $a: String, $n: Int) {
        contacts(sort: $s, first: $n, after: $a) { edges { cursor } } }";
    let page = g.ok(q, json!({"s": "CREATED_AT_DESC", "n": 1})).await;
    for after in [&page["edges"][0]["cursor"], &json!("garbage")] {
        let code = g.code(q, json!({"s": "CREATED_AT", "a": after, "n": 1})).await;
        assert_eq!(code, "invalid_cursor");
    }
    for first in [0, 501] {
        assert_eq!(g.code(q, json!({"s": "CREATED_AT", "n": first})).await, "invalid_query");
    }
}

async fn companies_are_listed_changed_and_deleted_with_their_contacts(s: Server) {
    let g = admin(&s).await;
    let create = "mutation($i: CompanyInputGql!) { createCompany(input: $i) { id name domain } }";
    let acme = json!({"i": {"name": "Acme", "domain": "acme.example", "industry": "Tools"}});
    let acme = g.ok(create, acme).await;
    let globex = g.ok(create, json!({"i": {"name": "Globex"}})).await;
    for (email, company) in [("a1", &acme), ("a2", &acme), ("g1", &globex)] {
        let input = json!({"email": format!("{email}@example.com"), "companyId": company["id"]});
        g.create_contact(input).await;
    }
    let one = "query($id: ID!) { company(id: $id) { name contacts(first: 10) {
        edges { node { email company { id } } } } } }";
    let acme_read = g.ok(one, json!({"id": acme["id"]})).await;
    let edges = &acme_read["contacts"]["edges"];
    assert_eq!(acme_read["name"], "Acme");
    assert_eq!(each(edges, "/node/email"), json!(["a1@example.com", "a2@example.com"]));
    assert_eq!(each(edges, "/node/company/id"), json!([acme["id"], acme["id"]]));
    assert!(elsewhere(&s).await.ok(one, json!({"id": acme["id"]})).await.is_null());

    let all = "query($f: CompanyFilterInput, $n: Int) {
        companies(filter: $f, first: $n) { edges { node { name } } pageInfo { hasNextPage } } }";
    let list = g.ok(all, json!({})).await;
    assert_eq!(each(&list["edges"], "/node/name"), json!(["Acme", "Globex"]));
    let filtered = g.ok(all, json!({"f": {"domain": "acme.example"}})).await;
    assert_eq!(each(&filtered["edges"], "/node/name"), json!(["Acme"]));
    assert_eq!(g.ok(all, json!({"n": 1})).await["pageInfo"]["hasNextPage"], true);

    let update = "mutation($id: ID!, $i: CompanyInputGql!, $v: Int) {
        updateCompany(id: $id, input: $i, ifVersion: $v) { name industry size version } }";
    let change = json!({"id": acme["id"], "i": {"industry": null, "size": 50}, "v": 1});
    let expected = json!({"name": "Acme", "industry": null, "size": 50, "version": 2});
    assert_eq!(g.ok(update, change).await, expected);
    let stale = json!({"id": acme["id"], "i": {"size": 1}, "v": 1});
    assert_eq!(g.code(update, stale).await, "precondition_failed");
    let copy = json!({"i": {"name": "Copy", "domain": "acme.example"}});
    assert_eq!(g.code(create, copy).await, "conflict");

    let delete = "mutation($id: ID!) { deleteCompany(id: $id) }";
    assert_eq!(g.ok(delete, json!({"id": acme["id"]})).await, acme["id"]);
    assert!(g.ok(one, json!({"id": acme["id"]})).await.is_null());
    let a1 = "{ contactByEmail(email: \"a1@example.com\") { company { id } } }";
    assert!(g.ok(a1, json!({})).await["company"].is_null(), "contacts are unlinked");
}

async fn contact_mutations_update_tag_and_delete(s: Server) {
    let g = admin(&s).await;
    let input = json!({"email": "u@example.com", "firstName": "Ada", "lastName": "Lovelace", "tags": ["a", "b"]});
    let c = g.create_contact(input).await;
    let update = format!(
        "mutation($id: ID!, $i: ContactInputGql!, $v: Int) {{
            updateContact(id: $id, input: $i, ifVersion: $v) {{ {CONTACT} }} }}"
    );
    let clear = json!({"id": c["id"], "i": {"firstName": null, "phone": "+442079460000"}, "v": 1});
    let cleared = g.ok(&update, clear).await;
    assert!(cleared["firstName"].is_null(), "null clears");
    assert_eq!(cleared["lastName"], "Lovelace", "absent fields stay");
    assert_eq!(cleared["version"], 2);
    let stale = json!({"id": c["id"], "i": {"lastName": "Byron"}, "v": 1});
    let stale = g.refused(&update, stale).await;
    assert_eq!(stale["extensions"]["code"], "precondition_failed", "{stale}");
    assert_eq!(stale["extensions"]["current_version"], 2);
    assert_eq!(g.read_contact(&c["id"]).await["lastName"], "Lovelace");

    let tag = "mutation($id: ID!, $add: [String!]!, $rm: [String!]!) {
        tagContact(id: $id, add: $add, remove: $rm) { tags version } }";
    let tagged = g.ok(tag, json!({"id": c["id"], "add": ["c"], "rm": ["a"]})).await;
    assert_eq!(tagged, json!({"tags": ["b", "c"], "version": 3}));
    let by_tag = "{ contacts(filter: {tag: \"c\"}) { edges { node { id } } } }";
    let by_tag = g.ok(by_tag, json!({})).await;
    assert_eq!(each(&by_tag["edges"], "/node/id"), json!([c["id"]]));

    let delete = "mutation($id: ID!, $v: Int) { deleteContact(id: $id, ifVersion: $v) }";
    let stale = g.code(delete, json!({"id": c["id"], "v": 1})).await;
    assert_eq!(stale, "precondition_failed");
    assert_eq!(g.ok(delete, json!({"id": c["id"], "v": 3})).await, c["id"]);
    assert!(g.read_contact(&c["id"]).await.is_null());
    for m in [update.as_str(), delete] {
        assert_eq!(g.code(m, json!({"id": c["id"], "i": {}})).await, "not_found");
    }
}

/// Runs `mutation` once per set of variables; returns the answers.
async fn runs(g: &Client<'_>, mutation: &str, vars: Vec<Value>) -> Value {
    let mut answers = Vec::new();
    for v in vars {
        answers.push(g.ok(mutation, v).await);
    }
    Value::Array(answers)
}

async fn upserts_report_created_then_unchanged_then_updated(s: Server) {
    let g = admin(&s).await;
    let by_email = "mutation($e: String!, $i: ContactInputGql!) {
        upsertContactByEmail(email: $e, input: $i) { outcome contact { id firstName version } } }";
    let vars = ["Up", "Up", "Upper"].map(|name| json!({"e": "up@example.com", "i": {"firstName": name}}));
    let done = runs(&g, by_email, vars.to_vec()).await;
    assert_eq!(each(&done, "/outcome"), json!(["CREATED", "UNCHANGED", "UPDATED"]));
    assert_eq!(done[1]["contact"], done[0]["contact"], "not even the version changed");
    assert_eq!(done[2]["contact"]["id"], done[0]["contact"]["id"]);
    assert_eq!(done[2]["contact"]["version"], 2);
    let mismatch = json!({"e": "up@example.com", "i": {"email": "other@example.com"}});
    assert_eq!(g.code(by_email, mismatch).await, "validation_failed");

    let by_ext = "mutation($s: String!, $x: String!, $i: ContactInputGql!) {
        upsertContactByExternalId(source: $s, externalId: $x, input: $i) { outcome contact { id externalIds } } }";
    let ids = [("shop", "77"), ("shop", "77"), ("crm", "c-1")];
    let vars = ids.map(|(s, x)| json!({"s": s, "x": x, "i": {"email": "ext@example.com"}}));
    let done = runs(&g, by_ext, vars.to_vec()).await;
    // The third call names a new source with a known email: it attaches to that contact.
    assert_eq!(each(&done, "/outcome"), json!(["CREATED", "UNCHANGED", "UPDATED"]));
    assert_eq!(done[0]["contact"]["externalIds"], json!({"shop": "77"}));
    assert_eq!(done[2]["contact"]["id"], done[0]["contact"]["id"]);
    assert_eq!(done[2]["contact"]["externalIds"], json!({"shop": "77", "crm": "c-1"}));
}

async fn batch_upsert_reports_each_item(s: Server) {
    let g = admin(&s).await;
    let m = "mutation($items: [ContactInputGql!]!) { batchUpsertContacts(items: $items) {
        index status contact { email firstName externalIds } error { code message fields { pointer code } } } }";
    let items = json!([
        {"email": "b1@example.com"},
        {"email": "not an email"},
        {"email": "b1@example.com", "firstName": "Bea"},
        {"externalIds": {"shop": "9"}, "lastName": "Nine"},
    ]);
    let results = g.ok(m, json!({ "items": items })).await;
    let statuses = json!(["CREATED", "FAILED", "UPDATED", "CREATED"]);
    assert_eq!(each(&results, "/status"), statuses);
    assert_eq!(each(&results, "/index"), json!([0, 1, 2, 3]));
    let codes = json!([null, "validation_failed", null, null]);
    assert_eq!(each(&results, "/error/code"), codes);
    assert_eq!(results[1]["error"]["fields"][0]["pointer"], "/items/1/email");
    assert!(results[1]["contact"].is_null());
    assert_eq!(results[2]["contact"]["firstName"], "Bea");
    assert_eq!(results[3]["contact"]["externalIds"], json!({"shop": "9"}));
    let stored = g.rest_get("/v1/contacts").await.body;
    assert_eq!(each(&stored["data"], "/email"), json!(["b1@example.com", null]));
}

async fn lifecycle_moves_are_ruled_and_recorded(s: Server) {
    let g = admin(&s).await;
    let contact = g.create_contact(json!({"email": "life@example.com"})).await;
    let change = "mutation($id: ID!, $st: LifecycleStage!, $r: String) {
        changeLifecycleStage(id: $id, stage: $st, reason: $r) { lifecycleStage highestStage } }";
    let to = |stage: &str, reason: Option<&str>| json!({"id": contact["id"], "st": stage, "r": reason});
    let moved = g.ok(change, to("CUSTOMER", None)).await;
    assert_eq!(moved, json!({"lifecycleStage": "CUSTOMER", "highestStage": "CUSTOMER"}));
    assert_eq!(g.code(change, to("LEAD", None)).await, "stage_transition_not_allowed");
    let writer = with_scopes(&s, "contacts:read contacts:write").await;
    let no_override = writer.code(change, to("LEAD", Some("bad import"))).await;
    assert_eq!(no_override, "stage_transition_not_allowed", "without the override");
    let allowed = g.ok(change, to("LEAD", Some("bad import"))).await;
    assert_eq!(allowed, json!({"lifecycleStage": "LEAD", "highestStage": "CUSTOMER"}));

    let history = "query($id: ID!, $n: Int) { contact(id: $id) { lifecycleHistory(first: $n) {
        edges { node { from to direction cause reason actor { kind } } } pageInfo { hasNextPage } } } }";
    let all = g.ok(history, json!({"id": contact["id"], "n": 10})).await;
    let step = |from, to, direction, reason| {
        let actor = json!({"kind": "api_client"});
        json!({"from": from, "to": to, "direction": direction, "cause": "api", "reason": reason, "actor": actor})
    };
    let expected = [
        step(Value::Null, "SUBSCRIBER", "forward", Value::Null),
        step(json!("SUBSCRIBER"), "CUSTOMER", "forward", Value::Null),
        step(json!("CUSTOMER"), "LEAD", "backward", json!("bad import")),
    ];
    assert_eq!(each(&all["lifecycleHistory"]["edges"], "/node"), json!(expected));
    let short = g.ok(history, json!({"id": contact["id"], "n": 2})).await;
    assert_eq!(short["lifecycleHistory"]["pageInfo"]["hasNextPage"], true);
}

async fn invalid_input_carries_validation_codes_and_pointers(s: Server) {
    let g = admin(&s).await;
    let contact = "mutation($i: ContactInputGql!) { createContact(input: $i) { id } }";
    let company = "mutation($i: CompanyInputGql!) { createCompany(input: $i) { id } }";
    let low_score = json!({"email": "a@example.com", "leadScore": -5_000_000});
    let cases = [
        (contact, json!({"email": "nope"}), "/email"),
        (contact, low_score, "/lead_score"),
        (contact, json!({"tags": ["vip"]}), ""),
        (company, json!({"domain": "x.example"}), "/name"),
    ];
    for (query, input, pointer) in cases {
        let e = g.refused(query, json!({ "i": input })).await;
        assert_eq!(e["extensions"]["code"], "validation_failed", "{query}: {e}");
        let pointers = each(&e["extensions"]["errors"], "/pointer");
        assert!(pointers.as_array().unwrap().contains(&json!(pointer)), "{query}: {e}");
    }
    let stored = g.rest_get("/v1/contacts").await.body;
    assert_eq!(stored["data"], json!([]), "nothing was stored");
}

async fn a_read_only_token_cannot_mutate_and_no_token_is_a_401_problem(s: Server) {
    let g = admin(&s).await;
    let c = g.create_contact(json!({"email": "ro@example.com"})).await;
    let reader = with_scopes(&s, "contacts:read").await;
    assert_eq!(reader.read_contact(&c["id"]).await["id"], c["id"]);
    let id = c["id"].as_str().unwrap();
    for m in [
        "mutation { createContact(input: {email: \"new@example.com\"}) { id } }".to_owned(),
        format!("mutation {{ updateContact(id: \"{id}\", input: {{firstName: \"X\"}}) {{ id }} }}"),
        format!("mutation {{ deleteContact(id: \"{id}\") }}"),
        "mutation { createCompany(input: {name: \"Nope\"}) { id } }".to_owned(),
        "{ companies { edges { node { id } } } }".to_owned(),
    ] {
        assert_eq!(reader.code(&m, json!({})).await, "insufficient_scope", "{m}");
    }
    assert_eq!(g.read_contact(&c["id"]).await, c, "nothing changed");

    let body = json!({"query": "{ contacts { edges { node { id } } } }"});
    let anonymous = s.http.post(format!("{}/graphql", s.base)).json(&body).send().await;
    Reply::from(anonymous.unwrap()).await.problem(401, "unauthorized");
    let forged = s.call(Method::POST, "/graphql", "not-a-token", Some(body)).await;
    forged.problem(401, "invalid_token");
}

async fn queries_too_deep_or_too_complex_are_refused_without_data(s: Server) {
    let g = admin(&s).await;
    // Depth counts fields: contacts, edges and node, then four per level.
    let page = |inner: &str| format!("{{ contacts(first: 1) {{ edges {{ node {{ {inner} }} }} }} }}");
    g.ok(&page(&nested(2, "id")), json!({})).await;
    let too_deep = g.refused(&page(&nested(2, "company { id }")), json!({})).await;
    assert!(too_deep["message"].as_str().unwrap().contains("deep"), "{too_deep}");
    // A mutation nested too deep does not run at all.
    let (email, selection) = ("deep@example.com", nested(3, "id"));
    let deep_write = format!("mutation {{ createContact(input: {{email: \"{email}\"}}) {{ {selection} }} }}");
    g.refused(&deep_write, json!({})).await;
    let stored = g.rest_get(&format!("/v1/contacts?email={email}")).await;
    assert_eq!(stored.body["data"], json!([]), "the refused mutation ran");

    let fields = "id email firstName lastName phone tags";
    let wide = |n: u32| format!("{{ contacts(first: {n}) {{ edges {{ node {{ {fields} }} }} }} }}");
    g.ok(&wide(10), json!({})).await;
    let complex = g.refused(&wide(500), json!({})).await;
    assert!(complex["message"].as_str().unwrap().contains("complex"), "{complex}");
}

/// Asserts that a REST representation and a GraphQL one describe the same contact.
#[track_caller]
fn agree(rest: &Value, gql: &Value) {
    let at = |v: &Value| DateTime::<FixedOffset>::parse_from_rfc3339(v.as_str().unwrap()).unwrap();
    for (field, value) in rest.as_object().unwrap() {
        let theirs = &gql[camel(field)];
        match field.as_str() {
            "lifecycle_stage" | "highest_stage" => assert_eq!(theirs.as_str().unwrap().to_lowercase(), *value),
            "created_at" | "updated_at" => assert_eq!(at(value), at(theirs), "{field}"),
            "stage_entered_at" => {
                let entry = |e: &Value| (e["stage"].as_str().unwrap().to_lowercase(), at(&e["at"]));
                let by_stage: HashMap<_, _> = theirs.as_array().unwrap().iter().map(entry).collect();
                let rest_side = value.as_object().unwrap().iter().map(|(k, v)| (k.clone(), at(v)));
                assert_eq!(by_stage, rest_side.collect());
            }
            _ => assert_eq!(value, theirs, "{field} differs: REST {rest} / GraphQL {gql}"),
        }
    }
}

fn camel(snake: &str) -> String {
    let mut parts = snake.split('_');
    let first = parts.next().unwrap_or_default().to_owned();
    parts.fold(first, |acc, p| acc + &p[..1].to_uppercase() + &p[1..])
}

async fn rest_and_graphql_read_the_same_contact(s: Server) {
    let g = admin(&s).await;
    let tier = json!({"key": "tier", "label": "Tier", "type": "string"});
    g.rest_post("/v1/attribute-definitions", tier).await;
    let company = g.rest_post("/v1/companies", json!({"name": "Both Ways"})).await;
    let full = |email: &str| {
        json!({"email": email, "phone": "+44 20 7946 0000", "first_name": "Ann", "last_name": "Side", "locale": "en-GB",
               "country": "GB", "company_id": company["id"], "external_ids": {"shop": email}, "tags": ["vip", "b2b"],
               "attributes": {"tier": "gold"}, "lead_score": 10, "owner_id": "owner-1", "lifecycle_stage": "lead"})
    };
    let via_rest = g.rest_post("/v1/contacts", full("rest@example.com")).await;
    agree(&via_rest, &g.read_contact(&via_rest["id"]).await);

    let snake = full("gql@example.com").as_object().unwrap().clone();
    let mut input: serde_json::Map<String, Value> = snake.into_iter().map(|(k, v)| (camel(&k), v)).collect();
    input.insert("lifecycleStage".into(), json!("LEAD"));
    let via_gql = g.create_contact(Value::Object(input)).await;
    let path = format!("/v1/contacts/{}", via_gql["id"].as_str().unwrap());
    let read = g.rest_get(&path).await;
    let etag = format!("\"{}\"", via_gql["version"]);
    assert_eq!(read.header("etag"), Some(etag.as_str()));
    agree(&read.body, &via_gql);
    // The same input through either surface is stored the same way.
    for field in ["phone", "first_name", "tags", "attributes", "lifecycle_stage"] {
        assert_eq!(via_rest[field], read.body[field], "{field}");
    }
}

/// Creates `contacts` contacts spread over `companies` companies.
async fn linked(g: &Client<'_>, contacts: usize, companies: usize) {
    let mut ids = Vec::new();
    for i in 0..companies {
        let company = g.rest_post("/v1/companies", json!({"name": format!("Co {i}")})).await;
        ids.push(company["id"].clone());
    }
    let item = |i: usize| {
        let consents = [json!({"purpose": "analytics", "status": "granted", "source": "import"})];
        json!({"email": format!("c{i}@example.com"), "company_id": ids[i % companies], "consents": consents})
    };
    let items: Vec<Value> = (0..contacts).map(item).collect();
    let r = g.rest_post("/v1/contacts/batch", json!({ "items": items })).await;
    assert_eq!(r["created"], contacts, "{r}");
}

/// The database statements each of `runs` runs of a page of `n` contacts with their
/// companies and consent states costs.
async fn statements_for_page(g: &Client<'_>, n: usize, runs: usize) -> Vec<f64> {
    let q = "{ contacts(first: 100) { edges { node { email company { name } consents { purpose allowed } } } } }";
    g.ok(q, json!({})).await; // warms the token cache
    let mut costs = Vec::new();
    for _ in 0..runs {
        let before = g.s.metric("rapport_db_queries_total").await;
        let page = g.ok(q, json!({})).await;
        costs.push(g.s.metric("rapport_db_queries_total").await - before);
        let names = each(&page["edges"], "/node/company/name");
        assert_eq!(names.as_array().unwrap().len(), n);
        assert!(names.as_array().unwrap().iter().all(Value::is_string), "{page}");
        let allowed = each(&page["edges"], "/node/consents/0/allowed");
        assert!(allowed.as_array().unwrap().iter().all(|a| *a == true), "{page}");
    }
    costs
}

async fn the_companies_and_consents_of_a_page_of_contacts_load_in_a_constant_number_of_statements(s: Server) {
    let (small, large) = (admin(&s).await, elsewhere(&s).await);
    linked(&small, 10, 10).await;
    linked(&large, 100, 50).await;
    // Several runs each; the metric also counts the background jobs' statements (event
    // sequencing, webhook dispatch), which can only add to a run, so the fewest a run
    // cost is the page's own cost.
    let least = |runs: &[f64]| runs.iter().copied().fold(f64::INFINITY, f64::min);
    let for_10 = least(&statements_for_page(&small, 10, 8).await);
    let for_100 = least(&statements_for_page(&large, 100, 8).await);
    assert!(for_10 >= 1.0, "the metric counts statements: {for_10}");
    assert!(
        (for_10 - for_100).abs() < f64::EPSILON,
        "10 contacts cost {for_10}, 100 cost {for_100}"
    );
    assert!(for_100 <= 5.0, "a page costs {for_100} statements");
}

on_both!(
    contacts_are_read_by_id_and_email_and_never_across_workspaces,
    the_contacts_connection_filters_sorts_and_walks_every_page,
    companies_are_listed_changed_and_deleted_with_their_contacts,
    contact_mutations_update_tag_and_delete,
    upserts_report_created_then_unchanged_then_updated,
    batch_upsert_reports_each_item,
    lifecycle_moves_are_ruled_and_recorded,
    invalid_input_carries_validation_codes_and_pointers,
    a_read_only_token_cannot_mutate_and_no_token_is_a_401_problem,
    queries_too_deep_or_too_complex_are_refused_without_data,
    rest_and_graphql_read_the_same_contact,
    the_companies_and_consents_of_a_page_of_contacts_load_in_a_constant_number_of_statements,
);
