//! The first steps a storefront developer takes: start, get a token, create and read a
//! contact.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use rapport_tests::{Server, on_both};
use reqwest::Method;
use serde_json::json;

async fn a_new_install_issues_a_token_and_stores_a_contact(s: Server) {
    let token = s.admin_token().await;
    let created = s
        .call(
            Method::POST,
            "/v1/contacts",
            &token,
            Some(json!({"email": "ada@example.com", "first_name": "Ada"})),
        )
        .await;
    assert_eq!(created.status, 201, "{}", created.body);
    let id = created.body["id"].as_str().unwrap();
    assert_eq!(created.header("location"), Some(format!("/v1/contacts/{id}").as_str()));
    let read = s.call(Method::GET, &format!("/v1/contacts/{id}"), &token, None).await;
    assert_eq!(read.status, 200);
    assert_eq!(read.body["email"], "ada@example.com");
    assert_eq!(read.body["lifecycle_stage"], "subscriber");
    assert_eq!(read.header("etag"), Some("\"1\""));
}

on_both!(a_new_install_issues_a_token_and_stores_a_contact);
