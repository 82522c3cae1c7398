//! The measured operations: how each is sent to Rapport, and the same statements the
//! server issues for it, as a pgbench script (the database's own limit).

use std::sync::Arc;

use reqwest::Method;
use serde_json::json;

use crate::load::{MakeRequest, Request, Rng};

/// What the operations need to know about the seeded data.
#[derive(Clone)]
pub struct Data {
    pub workspace: String,
    /// Seeded contact n has the id `{id_prefix}{n:012x}` and the email `c{n}@seed.example`.
    pub id_prefix: String,
    pub contacts: u64,
    pub client_id: String,
    pub client_secret: String,
}

/// One operation of the benchmark.
pub struct Op {
    pub name: &'static str,
    /// Records each request carries (1000 for a batch).
    pub items: u64,
    pub make: MakeRequest,
    /// The pgbench script, when there is a fair one.
    pub pgbench: Option<String>,
}

const CONTACT_COLUMNS: &str = "workspace_id, id, email, email_key, search_text, phone, first_name, last_name, locale, \
    country, company_id, external_ids, tags, attributes, lifecycle_stage, highest_stage, stage_entered_at, lead_score, \
    owner_id, version, created_at, updated_at";
const COMPANY_COLUMNS: &str =
    "workspace_id, id, name, name_key, domain, industry, size, attributes, version, created_at, updated_at";
const DEFINITION_COLUMNS: &str =
    "workspace_id, id, entity, key, label, description, kind, options, version, created_at, updated_at";
/// The size of a typical `contact.*` event payload.
const EVENT_DATA: &str = r#"{"object": {"id": "00000000-0000-7000-8000-000000000000", "email": "load@example.com", "phone": null, "first_name": "Load", "last_name": "Test", "locale": null, "country": null, "company_id": null, "external_ids": {}, "tags": ["bench"], "attributes": {"tier": "gold"}, "lifecycle_stage": "subscriber", "highest_stage": "subscriber", "stage_entered_at": {"subscriber": "2026-01-01T00:00:00Z"}, "lead_score": 0, "owner_id": null, "version": 1, "created_at": "2026-01-01T00:00:00Z", "updated_at": "2026-01-01T00:00:00Z"}, "changed_fields": ["first_name"], "previous": {"first_name": "Ada"}}"#;
const STAGES: [&str; 9] = [
    "subscriber",
    "lead",
    "qualified",
    "opportunity",
    "customer",
    "repeat_customer",
    "advocate",
    "churned",
    "disqualified",
];

fn id(d: &Data, n: u64) -> String {
    format!("{}{n:012x}", d.id_prefix)
}

fn json_body(v: &serde_json::Value) -> (&'static str, Vec<u8>) {
    ("application/json", serde_json::to_vec(v).unwrap_or_default())
}

fn get(path: String) -> Request {
    Request {
        method: Method::GET,
        path,
        body: None,
        headers: Vec::new(),
    }
}

fn post(path: String, body: &serde_json::Value) -> Request {
    Request {
        method: Method::POST,
        path,
        body: Some(json_body(body)),
        headers: Vec::new(),
    }
}

/// The pgbench expression for seeded contact `:n`'s id.
fn pg_id(d: &Data) -> String {
    format!("('{}' || lpad(to_hex((:n)::bigint), 12, '0'))::uuid", d.id_prefix)
}

fn event_insert(d: &Data, rows: usize) -> String {
    let row = format!(
        "('{}', gen_random_uuid(), 'contact.updated', now(), 'api_client', 'bench', '{}'::jsonb, 1)",
        d.workspace,
        EVENT_DATA.replace('\'', "''")
    );
    format!(
        "INSERT INTO events (workspace_id, id, type, occurred_at, actor_type, actor_id, data, data_version) VALUES {};",
        vec![row; rows].join(", ")
    )
}

fn definitions(d: &Data) -> String {
    format!(
        "SELECT {DEFINITION_COLUMNS} FROM attribute_definitions WHERE workspace_id = '{}' AND entity = 'contact' ORDER BY entity, key;",
        d.workspace
    )
}

/// Every operation, in the order they are measured.
#[allow(clippy::too_many_lines)]
pub fn all(d: &Data) -> Vec<Op> {
    let ws = d.workspace.clone();
    let n_max = d.contacts;
    let mut ops = Vec::new();

    let (cid, secret) = (d.client_id.clone(), d.client_secret.clone());
    ops.push(Op {
        name: "token",
        items: 1,
        make: Arc::new(move |_| Request {
            method: Method::POST,
            path: "/v1/auth/token".into(),
            body: Some((
                "application/x-www-form-urlencoded",
                format!("grant_type=client_credentials&client_id={cid}&client_secret={secret}").into_bytes(),
            )),
            headers: Vec::new(),
        }),
        pgbench: Some(format!(
            "SELECT workspace_id, id, name, secret_hash, scopes, created_at, revoked_at FROM api_clients WHERE id = '{}' LIMIT 1;\n",
            d.client_id
        )),
    });

    let data = d.clone();
    ops.push(Op {
        name: "get contact",
        items: 1,
        make: Arc::new(move |r: &mut Rng| get(format!("/v1/contacts/{}", id(&data, r.upto(n_max))))),
        pgbench: Some(format!(
            "\\set n random(1, {n_max})\nSELECT {CONTACT_COLUMNS} FROM contacts WHERE workspace_id = '{ws}' AND id = {} LIMIT 1;\n",
            pg_id(d)
        )),
    });

    let data = d.clone();
    let query = "query($id: ID!) { contact(id: $id) { id email firstName lastName lifecycleStage company { id name domain } } }";
    ops.push(Op {
        name: "graphql contact+company",
        items: 1,
        make: Arc::new(move |r: &mut Rng| {
            post("/graphql".into(), &json!({"query": query, "variables": {"id": id(&data, r.upto(n_max))}}))
        }),
        pgbench: Some(format!(
            "\\set n random(1, {n_max})\n\
             SELECT {CONTACT_COLUMNS} FROM contacts WHERE workspace_id = '{ws}' AND id = {id} LIMIT 1;\n\
             SELECT {COMPANY_COLUMNS} FROM companies WHERE workspace_id = '{ws}' AND id IN (SELECT company_id FROM contacts WHERE workspace_id = '{ws}' AND id = {id});\n",
            id = pg_id(d)
        )),
    });

    ops.push(Op {
        name: "list 50 by stage",
        items: 1,
        make: Arc::new(|_| get("/v1/contacts?stage=customer&sort=-updated_at&limit=50".into())),
        pgbench: Some(format!(
            "SELECT {CONTACT_COLUMNS} FROM contacts WHERE workspace_id = '{ws}' AND lifecycle_stage = 'customer' ORDER BY updated_at DESC, id DESC LIMIT 51;\n"
        )),
    });

    ops.push(Op {
        name: "create contact",
        items: 1,
        make: Arc::new(|r: &mut Rng| {
            let body = json!({"email": format!("b{}-{}@load.example", r.next(), r.next()), "first_name": "Load",
                "last_name": "Test", "tags": ["bench"], "attributes": {"tier": "gold"}});
            post("/v1/contacts".into(), &body)
        }),
        pgbench: Some(format!(
            "\\set r random(1, 2000000000)\n{defs}\nBEGIN;\n\
             SELECT {CONTACT_COLUMNS} FROM contacts WHERE workspace_id = '{ws}' AND email_key = 'pg' || (:r)::text || '-' || (:client_id)::text || '@load.example' LIMIT 1;\n\
             INSERT INTO contacts ({CONTACT_COLUMNS}) VALUES ('{ws}', {cid}, 'pg' || (:r)::text || '-' || (:client_id)::text || '@load.example', 'pg' || (:r)::text || '-' || (:client_id)::text || '@load.example', 'load test pg@load.example', NULL, 'Load', 'Test', NULL, NULL, NULL, '{{}}'::jsonb, '[\"bench\"]'::jsonb, '{{\"tier\": \"gold\"}}'::jsonb, 'subscriber', 'subscriber', '{{\"subscriber\": \"2026-01-01T00:00:00Z\"}}'::jsonb, 0, NULL, 1, now(), now());\n\
             INSERT INTO contact_tags (workspace_id, tag, contact_id) VALUES ('{ws}', 'bench', {cid});\n\
             INSERT INTO lifecycle_transitions (workspace_id, id, contact_id, from_stage, to_stage, direction, cause, actor_type, actor_id, reason, occurred_at) VALUES ('{ws}', gen_random_uuid(), {cid}, NULL, 'subscriber', 'forward', 'api', 'api_client', 'bench', NULL, now());\n\
             {event}\nCOMMIT;\n",
            defs = definitions(d),
            cid = "(lpad(to_hex((:client_id)::bigint), 8, '0') || '-0000-7000-9000-' || lpad(to_hex((:r)::bigint), 12, '0'))::uuid",
            event = event_insert(d, 1)
        )),
    });

    ops.push(Op {
        name: "upsert by email",
        items: 1,
        make: Arc::new(move |r: &mut Rng| {
            let n = r.upto(n_max);
            let body = json!({"first_name": "Bench", "attributes": {"lifetime_value": r.next() % 100_000}});
            Request {
                method: Method::PUT,
                path: format!("/v1/contacts/by-email/c{n}@seed.example"),
                body: Some(json_body(&body)),
                headers: Vec::new(),
            }
        }),
        pgbench: Some(format!(
            "\\set n random(1, {n_max})\n\\set v random(1, 100000)\n{defs}\nBEGIN;\n\
             SELECT {CONTACT_COLUMNS} FROM contacts WHERE workspace_id = '{ws}' AND email_key = 'c' || (:n)::text || '@seed.example' LIMIT 1 FOR UPDATE;\n\
             UPDATE contacts SET first_name = 'Bench', attributes = jsonb_set(attributes, '{{lifetime_value}}', to_jsonb((:v)::bigint)), version = version + 1, updated_at = now() WHERE workspace_id = '{ws}' AND id = {id};\n\
             {event}\nCOMMIT;\n",
            defs = definitions(d),
            id = pg_id(d),
            event = event_insert(d, 1)
        )),
    });

    let data = d.clone();
    ops.push(Op {
        name: "stage change",
        items: 1,
        make: Arc::new(move |r: &mut Rng| {
            let stage = STAGES[usize::try_from(r.next() % 9).unwrap_or(0)];
            let path = format!("/v1/contacts/{}/lifecycle", id(&data, r.upto(n_max)));
            post(path, &json!({"stage": stage, "reason": "bench"}))
        }),
        pgbench: Some(format!(
            "\\set n random(1, {n_max})\nBEGIN;\n\
             SELECT {CONTACT_COLUMNS} FROM contacts WHERE workspace_id = '{ws}' AND id = {id} LIMIT 1 FOR UPDATE;\n\
             UPDATE contacts SET lifecycle_stage = 'customer', version = version + 1, updated_at = now() WHERE workspace_id = '{ws}' AND id = {id};\n\
             INSERT INTO lifecycle_transitions (workspace_id, id, contact_id, from_stage, to_stage, direction, cause, actor_type, actor_id, reason, occurred_at) VALUES ('{ws}', gen_random_uuid(), {id}, 'lead', 'customer', 'forward', 'api', 'api_client', 'bench', 'bench', now());\n\
             {event}\nCOMMIT;\n",
            id = pg_id(d),
            event = event_insert(d, 2)
        )),
    });

    for (name, prefer) in [
        ("batch upsert 1000", None),
        ("batch 1000 return=minimal", Some("return=minimal")),
    ] {
        ops.push(Op {
            name,
            items: 1000,
            make: Arc::new(move |r: &mut Rng| {
                let items: Vec<serde_json::Value> = (0..1000)
                    .map(|i| {
                        if i % 2 == 0 {
                            json!({"email": format!("c{}@seed.example", r.upto(n_max)), "first_name": "Batch",
                                "attributes": {"lifetime_value": r.next() % 100_000}})
                        } else {
                            json!({"email": format!("n{}-{}@batch.example", r.next(), i), "first_name": "New",
                                "tags": ["bench"], "external_ids": {"erp": format!("E{}", r.next())}})
                        }
                    })
                    .collect();
                let mut req = post("/v1/contacts/batch".into(), &json!({ "items": items }));
                req.headers.extend(prefer.map(|p| ("prefer", p)));
                req
            }),
            pgbench: None,
        });
    }
    ops
}
