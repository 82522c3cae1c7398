//! Segments over GraphQL: the same definitions, members, preview, search, static member
//! changes, refresh and membership history as REST, with REST's error codes in
//! `extensions`, and nothing of another workspace.

// Test bodies run through `on_both!`, outside `#[test]` fns, where a failed unwrap is the
// intended test failure.
#![allow(clippy::unwrap_used)]

use rapport_tests::{Api, Server, id_of, on_both, pick};
use serde_json::{Value, json};

/// Every scalar field of a segment.
const SEGMENT: &str = "id name description kind rules memberCount version createdAt updatedAt refreshedAt";

/// A GraphQL caller holding one token.
struct Client<'a> {
    s: &'a Server,
    token: String,
}

impl<'a> Client<'a> {
    async fn admin(s: &'a Server) -> Self {
        Self {
            s,
            token: s.admin_token().await,
        }
    }

    async fn with(s: &'a Server, scopes: &str) -> Self {
        Self {
            s,
            token: s.token_with(scopes).await,
        }
    }

    /// The same caller over REST.
    fn rest(&self) -> Api<'a> {
        Api(self.s, self.token.clone())
    }

    /// Runs an operation that must succeed; returns the value of its (first) root field.
    async fn ok(&self, query: &str, vars: Value) -> Value {
        let doc = self.s.gql(&self.token, query, vars).await;
        assert!(doc.get("errors").is_none(), "{query}: {doc}");
        doc["data"].as_object().unwrap().values().next().cloned().unwrap()
    }

    /// Runs an operation that must fail; returns its first error.
    async fn error(&self, query: &str, vars: Value) -> Value {
        let doc = self.s.gql(&self.token, query, vars).await;
        let first = doc["errors"][0].clone();
        assert!(first.is_object(), "{query} did not fail: {doc}");
        first
    }

    /// The `extensions.code` of the error an operation fails with.
    async fn code(&self, query: &str, vars: Value) -> String {
        let e = self.error(query, vars).await;
        e["extensions"]["code"].as_str().unwrap_or_default().to_owned()
    }

    async fn create(&self, input: Value) -> Value {
        let q = format!("mutation($i: NewSegmentGql!) {{ createSegment(input: $i) {{ {SEGMENT} }} }}");
        self.ok(&q, json!({ "i": input })).await
    }

    /// Creates a contact over REST; returns its id.
    async fn contact(&self, body: Value) -> String {
        let r = self.rest().post("/v1/contacts", body).await;
        assert_eq!(r.status, 201, "{}", r.body);
        id_of(&r.body)
    }

    /// Every member of a segment, `first` at a time.
    async fn members(&self, id: &str, first: i32) -> Vec<String> {
        let q = "query($id: ID!, $n: Int, $a: String) { segment(id: $id) { members(first: $n, after: $a) {
            edges { cursor node { id } } pageInfo { hasNextPage endCursor } } } }";
        self.walk(q, json!({"id": id, "n": first}), "/members").await
    }

    /// Walks a connection at `at` in the root field, following `endCursor`; returns the
    /// node ids of each page, concatenated.
    async fn walk(&self, q: &str, mut vars: Value, at: &str) -> Vec<String> {
        let mut seen = Vec::new();
        for _ in 0..20 {
            let root = self.ok(q, vars.clone()).await;
            let conn = root.pointer(at).unwrap_or_else(|| panic!("no {at} in {root}"));
            let edges = conn["edges"].as_array().unwrap();
            seen.extend(edges.iter().map(|e| e["node"]["id"].as_str().unwrap().to_owned()));
            if conn["pageInfo"]["hasNextPage"] != true {
                return seen;
            }
            assert_eq!(conn["pageInfo"]["endCursor"], edges.last().unwrap()["cursor"]);
            vars["a"] = conn["pageInfo"]["endCursor"].clone();
        }
        panic!("the walk of {q} did not end");
    }
}

fn tagged(tag: &str) -> Value {
    json!({"field": "tags", "op": "contains", "value": tag})
}

fn sorted<S: AsRef<str>>(ids: &[S]) -> Vec<String> {
    let mut v: Vec<String> = ids.iter().map(|s| s.as_ref().to_owned()).collect();
    v.sort();
    v
}

fn id(v: &Value) -> String {
    v["id"].as_str().unwrap().to_owned()
}

const UPDATE: &str = "mutation($id: ID!, $i: SegmentPatchGql!, $v: Int) {
    updateSegment(id: $id, input: $i, ifVersion: $v) { id name description rules memberCount version } }";
const DELETE: &str = "mutation($id: ID!, $v: Int) { deleteSegment(id: $id, ifVersion: $v) }";
const ADD: &str = "mutation($id: ID!, $c: [ID!]!) { addSegmentMembers(id: $id, contactIds: $c) {
    entered exited memberCount } }";
const REMOVE: &str = "mutation($id: ID!, $c: [ID!]!) { removeSegmentMembers(id: $id, contactIds: $c) {
    entered exited memberCount } }";
const REFRESH: &str = "mutation($id: ID!) { refreshSegment(id: $id) { entered exited memberCount } }";
const READ: &str = "query($id: ID!) { segment(id: $id) { id name memberCount } }";

async fn segments_are_created_read_listed_changed_and_deleted_over_graphql(s: Server) {
    let g = Client::admin(&s).await;
    let ada = g.contact(json!({"email": "ada@example.com", "tags": ["vip"]})).await;
    let bob = g
        .contact(json!({"email": "bob@example.com", "tags": ["vip", "gold"]}))
        .await;
    let cy = g.contact(json!({"email": "cy@example.com", "tags": ["vip"]})).await;
    let vip = g.create(json!({"name": "VIPs", "rules": tagged("vip")})).await;
    let expected = json!({"name": "VIPs", "description": null, "kind": "dynamic", "rules": tagged("vip"),
        "memberCount": 3, "version": 1});
    assert_eq!(pick(&vip, &expected), expected);
    let vip_id = id(&vip);
    let rest = g.rest().get(&format!("/v1/segments/{vip_id}")).await.body;
    let same = json!({"id": vip_id, "name": "VIPs", "kind": "dynamic", "rules": tagged("vip"), "member_count": 3,
        "version": 1, "created_at": rest["created_at"], "updated_at": rest["updated_at"]});
    assert_eq!(pick(&rest, &same), same);
    assert_eq!(g.members(&vip_id, 2).await, sorted(&[&ada, &bob, &cy]));
    assert_eq!(g.members(&vip_id, 50).await, sorted(&[&ada, &bob, &cy]));
    let picked = g
        .create(json!({"name": "Picked", "kind": "static", "description": "By hand"}))
        .await;
    let expected = json!({"kind": "static", "rules": null, "memberCount": 0, "description": "By hand"});
    assert_eq!(pick(&picked, &expected), expected);

    let list = "query($k: String, $n: Int, $a: String) { segments(kind: $k, first: $n, after: $a) {
        edges { cursor node { id memberCount } } pageInfo { hasNextPage endCursor } } }";
    let all = g.walk(list, json!({"n": 1}), "").await;
    assert_eq!(all, [vip_id.clone(), id(&picked)]);
    assert_eq!(g.walk(list, json!({"k": "static"}), "").await, [id(&picked)]);
    assert_eq!(g.code(list, json!({"k": "frozen"})).await, "invalid_query");

    let change = json!({"name": "Gold", "description": "Top tier", "rules": tagged("gold")});
    let r = g.ok(UPDATE, json!({"id": vip_id, "i": change, "v": 1})).await;
    let expected = json!({"name": "Gold", "description": "Top tier", "rules": tagged("gold"), "memberCount": 1,
        "version": 2});
    assert_eq!(pick(&r, &expected), expected);
    assert_eq!(g.members(&vip_id, 2).await, [bob]);
    let stale = json!({"id": vip_id, "i": {"name": "Again"}, "v": 1});
    assert_eq!(g.code(UPDATE, stale).await, "precondition_failed");
    let cleared = g.ok(UPDATE, json!({"id": vip_id, "i": {"description": null}})).await;
    assert_eq!(
        (&cleared["description"], &cleared["version"]),
        (&Value::Null, &json!(3))
    );
    let frozen = json!({"id": id(&picked), "i": {"rules": {"all": []}}});
    assert_eq!(g.code(UPDATE, frozen).await, "validation_failed");

    assert_eq!(
        g.code(DELETE, json!({"id": vip_id, "v": 2})).await,
        "precondition_failed"
    );
    assert_eq!(g.ok(DELETE, json!({"id": vip_id, "v": 3})).await, json!(vip_id));
    assert!(g.ok(READ, json!({ "id": vip_id })).await.is_null());
    assert_eq!(g.code(DELETE, json!({ "id": vip_id })).await, "not_found");
    assert_eq!(g.walk(list, json!({}), "").await, [id(&picked)]);
    let fields = g
        .ok("{ segmentFields { name kind operators options } }", json!({}))
        .await;
    let find = |name: &str| {
        let all = fields.as_array().unwrap();
        all.iter()
            .find(|f| f["name"] == name)
            .cloned()
            .unwrap_or_else(|| panic!("no {name}"))
    };
    assert_eq!(find("email")["kind"], "text");
    assert!(
        find("tags")["operators"]
            .as_array()
            .unwrap()
            .contains(&json!("contains"))
    );
    let options = find("consent.email_marketing")["options"].clone();
    assert!(
        options.as_array().unwrap().contains(&json!("pending_confirmation")),
        "{options}"
    );
    let rest = g.rest().get("/v1/segments/fields").await.body;
    assert_eq!(fields.as_array().unwrap().len(), rest["data"].as_array().unwrap().len());
}

async fn preview_and_search_answer_as_rest_does(s: Server) {
    let g = Client::admin(&s).await;
    let mut news = Vec::new();
    for i in 0..5 {
        let tags = if i % 2 == 0 { json!(["news"]) } else { json!([]) };
        let id = g
            .contact(json!({"email": format!("c{i}@example.com"), "tags": tags}))
            .await;
        if i % 2 == 0 {
            news.push(id);
        }
    }
    let other = g.contact(json!({"email": "dan@example.org", "tags": ["news"]})).await;
    let preview = "query($r: JSON!, $n: Int) { segmentPreview(rules: $r, first: $n) { count contacts { id email } } }";
    let r = g.ok(preview, json!({"r": tagged("news"), "n": 2})).await;
    assert_eq!(r["count"], 4, "{r}");
    let first: Vec<String> = r["contacts"].as_array().unwrap().iter().map(id).collect();
    let all_news = sorted(&[&news[0], &news[1], &news[2], &other]);
    assert_eq!(first, all_news[..2]);
    let search = "query($r: JSON!, $n: Int, $a: String) { searchContacts(rules: $r, first: $n, after: $a) {
        edges { cursor node { id } } pageInfo { hasNextPage endCursor } } }";
    assert_eq!(g.walk(search, json!({"r": tagged("news"), "n": 2}), "").await, all_news);
    let rule = json!({"all": [tagged("news"), {"field": "email", "op": "ends_with", "value": "@EXAMPLE.com"}]});
    let found = g.walk(search, json!({"r": rule, "n": 2}), "").await;
    assert_eq!(found, sorted(&news));
    let rest = g
        .rest()
        .post("/v1/contacts/search", json!({"rules": rule, "limit": 50}))
        .await;
    let rest_ids: Vec<String> = rest.body["data"].as_array().unwrap().iter().map(id_of).collect();
    assert_eq!(found, rest_ids);
    let r = g.ok(preview, json!({"r": {"any": []}})).await;
    assert_eq!(r, json!({"count": 0, "contacts": []}));
    // Nothing was saved.
    let list = "{ segments { edges { node { id } } } }";
    assert_eq!(g.ok(list, json!({})).await["edges"], json!([]));
}

async fn static_members_and_refresh_over_graphql(s: Server) {
    let g = Client::admin(&s).await;
    let ann = g.contact(json!({"email": "a@example.com"})).await;
    let ben = g.contact(json!({"email": "b@example.com"})).await;
    let list = id(&g.create(json!({"name": "Picked", "kind": "static"})).await);
    let dynamic = id(&g.create(json!({"name": "Everyone", "rules": {"all": []}})).await);
    let change = |q: &'static str, ids: &[&str]| (q, json!({"id": list, "c": ids}));
    let (q, vars) = change(ADD, &[&ann, &ben]);
    assert_eq!(
        g.ok(q, vars).await,
        json!({"entered": 2, "exited": 0, "memberCount": 2})
    );
    let (q, vars) = change(ADD, &[&ben]);
    assert_eq!(
        g.ok(q, vars).await,
        json!({"entered": 0, "exited": 0, "memberCount": 2})
    );
    let (q, vars) = change(REMOVE, &[&ann]);
    assert_eq!(
        g.ok(q, vars).await,
        json!({"entered": 0, "exited": 1, "memberCount": 1})
    );
    assert_eq!(g.members(&list, 10).await, [ben.as_str()]);

    let (q, vars) = change(ADD, &[&ann, "0190a000-0000-7000-8000-000000000000"]);
    let err = g.error(q, vars).await;
    assert_eq!(err["extensions"]["code"], "validation_failed", "{err}");
    assert_eq!(err["extensions"]["errors"][0]["pointer"], "/contact_ids/1", "{err}");
    assert_eq!(err["extensions"]["errors"][0]["code"], "not_found", "{err}");
    let (q, vars) = change(ADD, &["not-a-uuid"]);
    assert_eq!(g.code(q, vars).await, "validation_failed");
    let (q, vars) = change(ADD, &[]);
    let err = g.error(q, vars).await;
    assert_eq!(err["extensions"]["errors"][0]["code"], "invalid_length", "{err}");
    assert_eq!(
        g.members(&list, 10).await,
        [ben.as_str()],
        "a refused add changed the list"
    );

    let to_dynamic = json!({"id": dynamic, "c": [ann]});
    assert_eq!(g.code(ADD, to_dynamic.clone()).await, "segment_not_static");
    assert_eq!(g.code(REMOVE, to_dynamic).await, "segment_not_static");
    assert_eq!(g.code(REFRESH, json!({ "id": list })).await, "segment_not_dynamic");
    let done = g.ok(REFRESH, json!({ "id": dynamic })).await;
    assert_eq!(done, json!({"entered": 0, "exited": 0, "memberCount": 2}));
    let q = "query($id: ID!) { segment(id: $id) { refreshedAt } }";
    assert!(g.ok(q, json!({ "id": dynamic })).await["refreshedAt"].is_string());
}

async fn a_contacts_segments_show_current_and_past_memberships(s: Server) {
    let g = Client::admin(&s).await;
    let vip = id(&g.create(json!({"name": "VIP", "rules": tagged("vip")})).await);
    let list = id(&g.create(json!({"name": "Picked", "kind": "static"})).await);
    let ada = g.contact(json!({"email": "ada@example.com", "tags": ["vip"]})).await;
    let tags = format!("/v1/contacts/{ada}/tags");
    assert_eq!(g.rest().post(&tags, json!({"remove": ["vip"]})).await.status, 200);
    assert_eq!(g.rest().post(&tags, json!({"add": ["vip"]})).await.status, 200);
    g.ok(ADD, json!({"id": list, "c": [ada]})).await;
    g.ok(REMOVE, json!({"id": list, "c": [ada]})).await;
    let q = "query($id: ID!) { contact(id: $id) {
        now: segments { segment { id name kind } enteredAt exitedAt }
        ever: segments(includePast: true) { segment { id name kind } enteredAt exitedAt } } }";
    let doc = g.ok(q, json!({ "id": ada })).await;
    let now = doc["now"].as_array().unwrap();
    assert_eq!(now.len(), 1, "{doc}");
    assert_eq!(now[0]["segment"], json!({"id": vip, "name": "VIP", "kind": "dynamic"}));
    assert!(now[0]["exitedAt"].is_null() && now[0]["enteredAt"].is_string(), "{doc}");
    let ever = doc["ever"].as_array().unwrap();
    let spans: Vec<(String, bool)> = ever
        .iter()
        .map(|m| (m["segment"]["id"].as_str().unwrap().to_owned(), m["exitedAt"].is_null()))
        .collect();
    assert_eq!(spans.len(), 3, "{doc}");
    assert_eq!(spans[0], (vip.clone(), true), "current first: {doc}");
    let mut past: Vec<(String, bool)> = spans[1..].to_vec();
    past.sort();
    let mut expected = vec![(vip.clone(), false), (list.clone(), false)];
    expected.sort();
    assert_eq!(past, expected, "{doc}");
    // REST tells the same.
    let rest = g.rest().get(&format!("/v1/contacts/{ada}/segments")).await;
    assert_eq!(rest.body["data"].as_array().unwrap().len(), 3, "{}", rest.body);
    assert_eq!(rest.body["data"][0]["segment"]["id"], vip.as_str());
}

async fn bad_rules_foreign_ids_and_missing_scopes_are_refused_over_graphql(s: Server) {
    let g = Client::admin(&s).await;
    let ada = g.contact(json!({"email": "ada@example.com"})).await;
    let create = format!("mutation($i: NewSegmentGql!) {{ createSegment(input: $i) {{ {SEGMENT} }} }}");
    let bad = json!({"all": [{"field": "shoe_size", "op": "eq", "value": 42}]});
    let e = g.error(&create, json!({"i": {"name": "Bad", "rules": bad}})).await;
    assert_eq!(e["extensions"]["code"], "validation_failed", "{e}");
    let first = &e["extensions"]["errors"][0];
    assert_eq!(
        (&first["pointer"], &first["code"]),
        (&json!("/rules/all/0/field"), &json!("unknown_field")),
        "{e}"
    );
    let e = g
        .error(
            &create,
            json!({"i": {"name": "Bad", "kind": "static", "rules": {"all": []}}}),
        )
        .await;
    assert_eq!(e["extensions"]["errors"][0]["pointer"], "/rules", "{e}");
    assert_eq!(e["extensions"]["errors"][0]["code"], "not_allowed", "{e}");
    let preview = "query($r: JSON!) { segmentPreview(rules: $r) { count } }";
    let e = g
        .error(
            preview,
            json!({"r": {"field": "lead_score", "op": "between", "value": [5, 1]}}),
        )
        .await;
    assert_eq!(e["extensions"]["code"], "validation_failed", "{e}");
    assert_eq!(e["extensions"]["errors"][0]["pointer"], "/rules/value", "{e}");
    assert_eq!(e["extensions"]["errors"][0]["code"], "invalid_range", "{e}");
    let list = "{ segments { edges { node { id } } } }";
    assert_eq!(g.ok(list, json!({})).await["edges"], json!([]));

    let everyone = id(&g.create(json!({"name": "Everyone", "rules": {"all": []}})).await);
    let picked = id(&g.create(json!({"name": "Picked", "kind": "static"})).await);
    let (_, other) = s.other_workspace().await;
    let them = Client { s: &s, token: other };
    let bea = them.contact(json!({"email": "bea@example.com"})).await;
    for seg in [&everyone, &picked] {
        assert!(them.ok(READ, json!({ "id": seg })).await.is_null(), "seen elsewhere");
    }
    assert!(g.ok(READ, json!({"id": "not-a-uuid"})).await.is_null());
    let refused = [
        (UPDATE, json!({"id": everyone, "i": {"name": "Stolen"}})),
        (DELETE, json!({ "id": everyone })),
        (ADD, json!({"id": picked, "c": [bea]})),
        (REMOVE, json!({"id": picked, "c": [bea]})),
        (REFRESH, json!({ "id": everyone })),
    ];
    for (q, v) in refused {
        assert_eq!(them.code(q, v).await, "not_found", "{q}");
    }
    assert_eq!(them.ok(list, json!({})).await["edges"], json!([]));
    let search = "query($r: JSON!) { searchContacts(rules: $r) { edges { node { id } } } }";
    let theirs = them.ok(search, json!({"r": {"all": []}})).await;
    assert_eq!(theirs["edges"], json!([{"node": {"id": bea}}]));
    let ours = g.ok(search, json!({"r": {"all": []}})).await;
    assert_eq!(ours["edges"], json!([{"node": {"id": ada}}]));
    let r = g.ok(READ, json!({ "id": everyone })).await;
    assert_eq!((&r["name"], &r["memberCount"]), (&json!("Everyone"), &json!(1)));
    // A foreign contact cannot join a static segment either.
    let e = g.error(ADD, json!({"id": picked, "c": [bea]})).await;
    assert_eq!(e["extensions"]["errors"][0]["pointer"], "/contact_ids/0", "{e}");

    let contacts_only = Client::with(&s, "contacts:read").await;
    assert_eq!(contacts_only.code(list, json!({})).await, "insufficient_scope");
    assert_eq!(
        contacts_only.code(READ, json!({ "id": everyone })).await,
        "insufficient_scope"
    );
    let found = contacts_only.ok(search, json!({"r": {"all": []}})).await;
    assert_eq!(found["edges"].as_array().unwrap().len(), 1);
    let reader = Client::with(&s, "segments:read").await;
    let members = "query($id: ID!) { segment(id: $id) { members { edges { node { id } } } } }";
    assert_eq!(
        reader.code(members, json!({ "id": everyone })).await,
        "insufficient_scope"
    );
    let e = reader
        .code(&create, json!({"i": {"name": "x", "kind": "static"}}))
        .await;
    assert_eq!(e, "insufficient_scope");
    assert_eq!(
        reader.code(REFRESH, json!({ "id": everyone })).await,
        "insufficient_scope"
    );
    // Changing members needs segments:write alone, as creating does.
    let writer = Client::with(&s, "segments:write").await;
    let made = writer
        .ok(&create, json!({"i": {"name": "By writer", "kind": "static"}}))
        .await;
    assert_eq!(made["memberCount"], 0);
    let doc = s.gql(&writer.token, ADD, json!({"id": picked, "c": [ada]})).await;
    let members = g.members(&picked, 10).await;
    assert!(
        doc.get("errors").is_none(),
        "addSegmentMembers refused while the list now holds {members:?}: {doc}"
    );
    assert_eq!(doc["data"]["addSegmentMembers"]["entered"], 1, "{doc}");
}

on_both!(
    segments_are_created_read_listed_changed_and_deleted_over_graphql,
    preview_and_search_answer_as_rest_does,
    static_members_and_refresh_over_graphql,
    a_contacts_segments_show_current_and_past_memberships,
    bad_rules_foreign_ids_and_missing_scopes_are_refused_over_graphql,
);
