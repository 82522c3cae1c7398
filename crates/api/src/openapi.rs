//! The OpenAPI 3.1 document, derived from the handlers' own types.

use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use crate::rest;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .description(Some("An access token from POST /v1/auth/token (or from the configured identity provider). The scopes listed on each operation are those it needs."))
                    .build(),
            ),
        );
        components.add_security_scheme(
            "webhook_signature",
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::with_description(
                "webhook-signature",
                "Connector pushes are signed per Standard Webhooks: `webhook-signature: v1,<base64 HMAC-SHA256 of \"{webhook-id}.{webhook-timestamp}.{body}\">` with the connector's secret, plus the `webhook-id` and `webhook-timestamp` headers.",
            ))),
        );
    }
}

/// Adds the rule language's schemas (one definition, shared with
/// `schema/segment-rules.schema.json`).
struct SegmentRules;

impl Modify for SegmentRules {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        for (name, schema) in crate::dto::segments::rule_schemas("#/components/schemas/") {
            match serde_json::from_value::<utoipa::openapi::RefOr<utoipa::openapi::schema::Schema>>(schema) {
                Ok(s) => {
                    components.schemas.insert(name.to_owned(), s);
                }
                Err(e) => tracing::error!(schema = name, error = %e, "segment rule schema not representable"),
            }
        }
    }
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Rapport",
        description = "Rapport is a headless CRM: contacts, companies, orders and purchase metrics, customer lifecycle stages, segments and a consent ledger over REST and GraphQL (`/graphql`).\n\nConventions: errors are RFC 9457 problem documents with a stable `code`; lists are cursor-paginated (`limit`, `after` → `page.next_cursor`); unknown query parameters and JSON fields are refused; POST accepts `Idempotency-Key`; records carry `version`, sent as `ETag` and checked through `If-Match`.",
        license(name = "Apache-2.0")
    ),
    modifiers(&BearerAuth, &SegmentRules),
    components(schemas(
        crate::dto::events::payloads::ContactEventData,
        crate::dto::events::payloads::ContactUpdatedData,
        crate::dto::events::payloads::StageChangedData,
        crate::dto::events::payloads::ContactErasedData,
        crate::dto::events::payloads::ContactMergedData,
        crate::dto::events::payloads::ConsentUpdatedData,
        crate::dto::events::payloads::CompanyEventData,
        crate::dto::events::payloads::CompanyUpdatedData,
        crate::dto::events::payloads::WebhookDisabledData,
        crate::dto::events::payloads::PurposeEventData,
        crate::dto::events::payloads::PurposeUpdatedData,
        crate::dto::events::payloads::SegmentMembershipData,
        crate::dto::events::payloads::OrderEventData,
        crate::dto::events::payloads::OrderUpdatedData,
    )),
    paths(
        rest::auth::token,
        rest::contacts::create,
        rest::contacts::list,
        rest::contacts::get,
        rest::contacts::get_by_email,
        rest::contacts::upsert_by_email,
        rest::contacts::get_by_external_id,
        rest::contacts::upsert_by_external_id,
        rest::contacts::update,
        rest::contacts::delete,
        rest::contacts::retag,
        rest::contacts::batch_upsert,
        rest::merge::duplicates,
        rest::merge::merge,
        rest::exports::contacts,
        rest::imports::create,
        rest::imports::upload,
        rest::imports::get,
        rest::imports::list,
        rest::imports::cancel,
        rest::imports::errors,
        rest::lifecycle::change_stage,
        rest::lifecycle::history,
        rest::consent::list_purposes,
        rest::consent::get_purpose,
        rest::consent::create_purpose,
        rest::consent::update_purpose,
        rest::consent::delete_purpose,
        rest::consent::record,
        rest::consent::states,
        rest::consent::history,
        rest::consent::decision,
        rest::consent::check,
        rest::consent::confirm,
        rest::consent::reissue,
        rest::privacy::export,
        rest::privacy::erase,
        rest::events::feed,
        rest::events::types,
        rest::webhooks::create,
        rest::webhooks::list,
        rest::webhooks::get,
        rest::webhooks::update,
        rest::webhooks::remove,
        rest::webhooks::rotate,
        rest::webhooks::test,
        rest::webhooks::deliveries,
        rest::webhooks::attempts,
        rest::webhooks::retry,
        rest::webhooks::replay,
        rest::connectors::create,
        rest::connectors::list,
        rest::connectors::get,
        rest::connectors::update,
        rest::connectors::rotate,
        rest::connectors::remove,
        rest::connectors::ingest,
        rest::segments::create,
        rest::segments::list,
        rest::segments::fields,
        rest::segments::preview,
        rest::segments::get,
        rest::segments::update,
        rest::segments::remove,
        rest::segments::members,
        rest::segments::member_count,
        rest::segments::add,
        rest::segments::remove_members,
        rest::segments::refresh,
        rest::segments::search,
        rest::segments::of_contact,
        rest::orders::upsert,
        rest::orders::upsert_batch,
        rest::orders::get,
        rest::orders::get_by_external_id,
        rest::orders::list,
        rest::orders::of_contact,
        rest::orders::metrics,
        rest::orders::workspace,
        rest::orders::update_workspace,
        rest::companies::create,
        rest::companies::list,
        rest::companies::get,
        rest::companies::update,
        rest::companies::delete,
        rest::companies::contacts,
        rest::attributes::create,
        rest::attributes::list,
        rest::attributes::get,
        rest::attributes::update,
        rest::attributes::delete,
        rest::api_clients::create,
        rest::api_clients::list,
        rest::api_clients::get,
        rest::api_clients::revoke,
        rest::ops::healthz,
        rest::ops::readyz,
        rest::ops::metrics,
    ),
    tags(
        (name = "auth", description = "Tokens and API clients"),
        (name = "contacts", description = "People the business knows"),
        (name = "lifecycle", description = "Lifecycle stages: subscriber → lead → qualified → opportunity → customer → repeat_customer → advocate; churned and disqualified off the path"),
        (name = "consent", description = "Consent purposes and the append-only ledger of people's decisions; double opt-in; the check endpoints"),
        (name = "privacy", description = "Data-subject rights: export and erasure"),
        (name = "events", description = "The commit-ordered feed of every change, and the catalogue of event types"),
        (name = "ingestion", description = "Connectors (shops, ERP systems) and their signed pushes"),
        (name = "webhooks", description = "Signed outgoing webhooks (Standard Webhooks): endpoints, deliveries, retries and replays"),
        (name = "segments", description = "Audiences: dynamic segments kept current by a rule, snapshots frozen at creation, static lists; the rule language also searches contacts"),
        (name = "orders", description = "Orders from shops and ERPs, upserted by (source, external_id); the purchase metrics they add up to; the lifecycle moves they cause"),
        (name = "imports", description = "Bulk imports of contacts, companies and orders from NDJSON or mapped CSV files: asynchronous jobs with progress and a per-row error report"),
        (name = "workspace", description = "The caller's workspace and its settings"),
        (name = "companies", description = "Accounts contacts belong to"),
        (name = "attributes", description = "Typed custom attributes"),
        (name = "operations", description = "Health, readiness and metrics"),
    )
)]
pub struct ApiDoc;

/// The document served at `/openapi.json` and written to `openapi/openapi.json`.
pub fn document() -> utoipa::openapi::OpenApi {
    ApiDoc::openapi()
}

/// The document as pretty JSON, with a trailing newline.
pub fn json() -> String {
    let mut s = document().to_pretty_json().unwrap_or_default();
    s.push('\n');
    s
}
