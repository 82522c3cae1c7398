//! The checked-in GraphQL schema and OpenAPI document must be what the code exports.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;

fn checked_in(rel: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..").join(rel);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[test]
fn schema_graphql_matches_the_code() {
    assert!(
        checked_in("schema/schema.graphql") == rapport_api::graphql::sdl(),
        "schema/schema.graphql is stale: run `make schema` and commit the result"
    );
}

#[test]
fn openapi_json_matches_the_code() {
    assert!(
        checked_in("openapi/openapi.json") == rapport_api::openapi::json(),
        "openapi/openapi.json is stale: run `make schema` and commit the result"
    );
}

#[test]
fn every_documented_operation_names_its_errors_and_security() {
    let doc: serde_json::Value = serde_json::from_str(&rapport_api::openapi::json()).unwrap();
    assert_eq!(doc["openapi"], "3.1.0");
    assert!(doc["components"]["securitySchemes"]["bearer"].is_object());
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            let responses = op["responses"].as_object().unwrap();
            let public = path.starts_with("/healthz")
                || path.starts_with("/readyz")
                || path.starts_with("/metrics")
                || path == "/v1/auth/token";
            if public {
                continue;
            }
            assert!(op["security"].is_array(), "{method} {path} has no security requirement");
            for status in ["401", "403"] {
                assert!(
                    responses.contains_key(status),
                    "{method} {path} does not document {status}"
                );
            }
        }
    }
}

#[test]
fn segment_rules_schema_matches_the_code_and_the_openapi_document() {
    let written = serde_json::to_string_pretty(&rapport_api::dto::segments::rule_schema_document()).unwrap() + "\n";
    assert!(
        checked_in("schema/segment-rules.schema.json") == written,
        "schema/segment-rules.schema.json is stale: run `make schema` and commit the result"
    );
    let doc: serde_json::Value = serde_json::from_str(&rapport_api::openapi::json()).unwrap();
    for name in [
        "SegmentRule",
        "SegmentAll",
        "SegmentAny",
        "SegmentNot",
        "SegmentCondition",
    ] {
        assert!(
            doc["components"]["schemas"][name].is_object(),
            "the OpenAPI document lacks {name}"
        );
    }
    let rules = &doc["components"]["schemas"]["NewSegment"]["properties"]["rules"];
    assert!(
        rules.to_string().contains("#/components/schemas/SegmentRule"),
        "{rules}"
    );
}
