//! Authentication: the client-credentials token endpoint, bearer-token verification
//! (forged, expired, wrong issuer/audience/algorithm), API client management and
//! tokens from an external identity provider (HS256, RS256, EdDSA).

// Test bodies run through `on_both!`, outside `#[test]` fns, where a failed unwrap is the
// intended test failure.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::process::Command;

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use rapport_tests::{Backend, Credentials, Reply, Server, TestDb, on_both, on_both_dbs};
use reqwest::Method;
use serde_json::{Value, json};
use sqlx::Connection;

const LOCAL_SECRET: &str = "a-test-signing-secret-of-enough-length-0123456789";
const IDP_ISSUER: &str = "https://idp.example";
const IDP_AUDIENCE: &str = "rapport-api";
const IDP_SECRET: &str = "the-identity-providers-shared-secret-0123456789";

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

// ---- helpers -------------------------------------------------------------------

const GRANT: &[(&str, &str)] = &[("grant_type", "client_credentials")];

/// `POST /v1/auth/token` with a form body, optionally authenticating with HTTP Basic.
async fn token_request(s: &Server, basic: Option<(&str, &str)>, fields: &[(&str, &str)]) -> Reply {
    let mut r = s.http.post(format!("{}/v1/auth/token", s.base)).form(fields);
    if let Some((id, secret)) = basic {
        r = r.basic_auth(id, Some(secret));
    }
    Reply::from(r.send().await.unwrap()).await
}

async fn token_for(s: &Server, c: &Credentials, scope: Option<&str>) -> Reply {
    let mut fields = vec![
        GRANT[0],
        ("client_id", &c.client_id),
        ("client_secret", &c.client_secret),
    ];
    fields.extend(scope.map(|scope| ("scope", scope)));
    token_request(s, None, &fields).await
}

/// Asserts an OAuth2 refusal: a problem document that also carries `error`.
#[track_caller]
fn oauth_error(r: &Reply, status: u16, error: &str) {
    r.problem(status, error);
    assert_eq!(r.body["error"], error, "{}", r.body);
    assert!(r.body["error_description"].is_string(), "{}", r.body);
}

fn challenge(r: &Reply) -> &str {
    r.header("www-authenticate").unwrap_or_default()
}

/// A request that needs `contacts:read`.
async fn list_contacts(s: &Server, token: &str) -> Reply {
    s.call(Method::GET, "/v1/contacts", token, None).await
}

/// Asserts that `token` is accepted.
async fn accepted(s: &Server, token: &str) {
    let r = list_contacts(s, token).await;
    assert_eq!(r.status, 200, "{}", r.body);
}

/// Asserts that `token` is refused as `invalid_token`, with a Bearer challenge naming it.
async fn refused(s: &Server, token: &str) {
    let r = list_contacts(s, token).await;
    r.problem(401, "invalid_token");
    let c = challenge(&r);
    assert!(c.starts_with("Bearer") && c.contains("error=\"invalid_token\""), "{c}");
}

async fn create_contact(s: &Server, token: &str, email: &str) -> Reply {
    let body = json!({ "email": email });
    s.call(Method::POST, "/v1/contacts", token, Some(body)).await
}

fn sign(alg: Algorithm, kid: Option<&str>, claims: &Value, key: &EncodingKey) -> String {
    let mut header = Header::new(alg);
    header.kid = kid.map(str::to_owned);
    jsonwebtoken::encode(&header, claims, key).unwrap()
}

fn hmac(secret: &str) -> EncodingKey {
    EncodingKey::from_secret(secret.as_bytes())
}

/// Claims of a token this server would issue to its admin client, with `changes` merged in.
fn local_claims(s: &Server, changes: &Value) -> Value {
    let t = now();
    let mut claims = json!({
        "sub": s.admin.client_id, "ws": s.admin.workspace_id, "scope": "admin",
        "iss": "rapport", "aud": "rapport", "iat": t, "nbf": t, "exp": t + 600,
    });
    for (k, v) in changes.as_object().unwrap() {
        claims[k] = v.clone();
    }
    claims
}

/// A token signed with [`LOCAL_SECRET`] the way this server signs its own.
fn forge(s: &Server, alg: Algorithm, changes: &Value) -> String {
    sign(alg, Some("rapport"), &local_claims(s, changes), &hmac(LOCAL_SECRET))
}

async fn start_with_local_secret(db: TestDb) -> Server {
    Server::start_on(db, &[("RAPPORT_TOKEN_SECRET", LOCAL_SECRET)]).await
}

/// Claims of an identity provider's token for a person in the admin workspace.
fn idp_claims(s: &Server, audience: &str) -> Value {
    let t = now();
    json!({
        "sub": "user-42", "ws": s.admin.workspace_id, "scope": "contacts:read contacts:write",
        "iss": IDP_ISSUER, "aud": audience, "iat": t, "exp": t + 600,
    })
}

/// An identity provider's token (no `kid`).
fn idp_token(s: &Server, alg: Algorithm, audience: &str, key: &EncodingKey) -> String {
    sign(alg, None, &idp_claims(s, audience), key)
}

async fn start_with_idp(db: TestDb, key: (&str, &str)) -> Server {
    let issuer = ("RAPPORT_EXTERNAL_JWT_ISSUER", IDP_ISSUER);
    Server::start_on(db, &[key, issuer, ("RAPPORT_EXTERNAL_JWT_AUDIENCE", IDP_AUDIENCE)]).await
}

/// Starts a server trusting the public key in `file`.
async fn start_with_idp_key(db: TestDb, file: &Path) -> Server {
    start_with_idp(db, ("RAPPORT_EXTERNAL_JWT_PUBLIC_KEY_FILE", file.to_str().unwrap())).await
}

fn openssl(args: &[&str]) {
    let out = Command::new("openssl").args(args).output().expect("openssl");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "openssl {args:?}: {err}");
}

/// Generates a key pair with `openssl` in `dir`: (private key PEM, public key file).
fn key_pair(dir: &Path, name: &str, genpkey: &[&str]) -> (Vec<u8>, PathBuf) {
    let private = dir.join(format!("{name}.key"));
    let public = dir.join(format!("{name}.pub.pem"));
    let (private_path, public_path) = (private.to_str().unwrap(), public.to_str().unwrap());
    openssl(&[&["genpkey"], genpkey, &["-out", private_path]].concat());
    openssl(&["pkey", "-in", private_path, "-pubout", "-out", public_path]);
    (std::fs::read(&private).unwrap(), public)
}

fn rsa_pair(dir: &Path, name: &str) -> (EncodingKey, PathBuf) {
    let (pem, public) = key_pair(dir, name, &["-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048"]);
    (EncodingKey::from_rsa_pem(&pem).unwrap(), public)
}

fn ed_pair(dir: &Path, name: &str) -> (EncodingKey, PathBuf) {
    let (pem, public) = key_pair(dir, name, &["-algorithm", "ed25519"]);
    (EncodingKey::from_ed_pem(&pem).unwrap(), public)
}

/// The actor columns of the outbox's events of `kind`, oldest first.
async fn event_actors(s: &Server, kind: &str) -> Vec<(String, Option<String>)> {
    let sql = "SELECT actor_type, actor_id FROM events WHERE type = $1 ORDER BY id";
    match s.db.backend {
        Backend::Sqlite => {
            let mut c = sqlx::SqliteConnection::connect(&s.db.url).await.unwrap();
            sqlx::query_as(sql).bind(kind).fetch_all(&mut c).await.unwrap()
        }
        Backend::Postgres => {
            let mut c = sqlx::PgConnection::connect(&s.db.url).await.unwrap();
            sqlx::query_as(sql).bind(kind).fetch_all(&mut c).await.unwrap()
        }
    }
}

// ---- the token endpoint --------------------------------------------------------

async fn a_client_gets_a_token_with_a_form_body_a_json_body_or_basic_credentials(s: Server) {
    let c = s.admin.clone();
    let form = token_for(&s, &c, None).await;
    let body = json!({"grant_type": "client_credentials", "client_id": c.client_id, "client_secret": c.client_secret});
    let sent = s.http.post(format!("{}/v1/auth/token", s.base)).json(&body).send();
    let json_body = Reply::from(sent.await.unwrap()).await;
    let basic = token_request(&s, Some((&c.client_id, &c.client_secret)), GRANT).await;
    for r in [form, json_body, basic] {
        assert_eq!(r.status, 200, "{}", r.body);
        assert_eq!(r.header("cache-control"), Some("no-store"));
        assert_eq!(r.body["token_type"], "Bearer");
        assert_eq!(r.body["expires_in"], 3600);
        assert_eq!(r.body["scope"], "admin");
        accepted(&s, r.body["access_token"].as_str().unwrap()).await;
    }
}

async fn a_wrong_secret_or_unknown_client_is_refused_as_invalid_client(s: Server) {
    let mut wrong = s.admin.clone();
    wrong.client_secret = "rsk_not-the-secret".into();
    oauth_error(&token_for(&s, &wrong, None).await, 401, "invalid_client");
    let mut unknown = s.admin.clone();
    unknown.client_id = uuid::Uuid::now_v7().to_string();
    oauth_error(&token_for(&s, &unknown, None).await, 401, "invalid_client");
    let basic = token_request(&s, Some((&s.admin.client_id, "rsk_not-the-secret")), GRANT).await;
    oauth_error(&basic, 401, "invalid_client");
    assert!(challenge(&basic).starts_with("Basic"), "{:?}", basic.headers);
}

async fn an_unknown_grant_type_is_refused(s: Server) {
    let c = &s.admin;
    let creds = [("client_id", c.client_id.as_str()), ("client_secret", &c.client_secret)];
    let password = [&[("grant_type", "password")], &creds[..]].concat();
    oauth_error(&token_request(&s, None, &password).await, 400, "unsupported_grant_type");
    oauth_error(&token_request(&s, None, &creds).await, 400, "invalid_request");
}

async fn a_token_narrowed_to_one_scope_cannot_write(s: Server) {
    let c = s.client(None, "contacts:read contacts:write");
    let r = token_for(&s, &c, Some("contacts:read")).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["scope"], "contacts:read");
    let token = r.body["access_token"].as_str().unwrap();
    accepted(&s, token).await;
    let write = create_contact(&s, token, "narrow@example.com").await;
    write.problem(403, "insufficient_scope");
    let detail = write.body["detail"].as_str().unwrap();
    assert!(detail.contains("contacts:write"), "{detail}");
}

async fn asking_for_a_scope_the_client_lacks_is_refused_as_invalid_scope(s: Server) {
    let c = s.client(None, "contacts:read");
    for scope in ["contacts:read contacts:write", "admin", "contacts:eat"] {
        oauth_error(&token_for(&s, &c, Some(scope)).await, 400, "invalid_scope");
    }
}

// ---- bearer tokens ---------------------------------------------------------------

async fn a_request_without_a_token_is_unauthorized_with_a_bearer_challenge(s: Server) {
    let url = format!("{}/v1/contacts", s.base);
    let r = Reply::from(s.http.get(&url).send().await.unwrap()).await;
    r.problem(401, "unauthorized");
    assert!(challenge(&r).starts_with("Bearer "), "{:?}", r.headers);
    let basic = s.http.get(&url).basic_auth("a", Some("b")).send().await;
    Reply::from(basic.unwrap()).await.problem(401, "unauthorized");
}

async fn a_garbage_token_or_one_signed_with_another_key_is_an_invalid_token(s: Server) {
    refused(&s, "garbage").await;
    refused(&s, "eyJhbGciOiJIUzI1NiJ9.e30.c2ln").await;
    let claims = local_claims(&s, &json!({}));
    let other_key = hmac("not-the-servers-key");
    refused(&s, &sign(Algorithm::HS256, Some("rapport"), &claims, &other_key)).await;
    // Without a kid it would have to come from an identity provider, and none is set up.
    refused(&s, &sign(Algorithm::HS256, None, &claims, &other_key)).await;
}

async fn a_token_signed_with_the_configured_secret_works_until_it_expires(db: TestDb) {
    let s = start_with_local_secret(db).await;
    accepted(&s, &forge(&s, Algorithm::HS256, &json!({}))).await;
    let t = now();
    let past = json!({"iat": t - 7200, "nbf": t - 7200, "exp": t - 3600});
    let expired = forge(&s, Algorithm::HS256, &past);
    let r = list_contacts(&s, &expired).await;
    r.problem(401, "token_expired");
    assert!(challenge(&r).contains("error=\"invalid_token\""), "{:?}", r.headers);
}

async fn a_token_for_another_issuer_or_audience_signed_with_hs384_or_not_yet_valid_is_invalid(db: TestDb) {
    let s = start_with_local_secret(db).await;
    refused(&s, &forge(&s, Algorithm::HS256, &json!({"iss": "someone-else"}))).await;
    refused(&s, &forge(&s, Algorithm::HS256, &json!({"aud": "another-api"}))).await;
    refused(&s, &forge(&s, Algorithm::HS384, &json!({}))).await;
    let t = now();
    let not_yet = json!({"nbf": t + 600, "exp": t + 1200});
    refused(&s, &forge(&s, Algorithm::HS256, &not_yet)).await;
}

// ---- API clients over the API ------------------------------------------------------

async fn create_api_client(s: &Server, token: &str, scopes: &str) -> Reply {
    let body = json!({"name": "Storefront", "scopes": scopes});
    s.call(Method::POST, "/v1/api-clients", token, Some(body)).await
}

fn credentials_of(created: &Reply) -> Credentials {
    let field = |name: &str| created.body[name].as_str().unwrap().to_owned();
    let (client_id, client_secret) = (field("client_id"), field("client_secret"));
    let workspace_id = field("workspace_id");
    Credentials {
        client_id,
        client_secret,
        workspace_id,
    }
}

async fn an_api_client_created_over_the_api_shows_its_secret_only_once(s: Server) {
    let admin = s.admin_token().await;
    let created = create_api_client(&s, &admin, "contacts:read contacts:write").await;
    assert_eq!(created.status, 201, "{}", created.body);
    let id = created.body["client_id"].as_str().unwrap().to_owned();
    let path = format!("/v1/api-clients/{id}");
    assert_eq!(created.header("location"), Some(path.as_str()));
    assert!(created.body["client_secret"].as_str().unwrap().starts_with("rsk_"));
    assert_eq!(created.body["workspace_id"], s.admin.workspace_id.as_str());
    assert_eq!(created.body["scopes"], json!(["contacts:read", "contacts:write"]));
    assert_eq!(created.body["revoked_at"], Value::Null);

    let list = s.call(Method::GET, "/v1/api-clients", &admin, None).await;
    let data = list.body["data"].as_array().unwrap();
    assert!(data.iter().any(|c| c["client_id"] == id.as_str()), "{}", list.body);
    assert!(data.iter().all(|c| c.get("client_secret").is_none()), "{}", list.body);
    let one = s.call(Method::GET, &path, &admin, None).await;
    assert_eq!(one.body["name"], "Storefront", "{}", one.body);
    assert!(one.body.get("client_secret").is_none(), "{}", one.body);

    let issued = token_for(&s, &credentials_of(&created), None).await;
    assert_eq!(issued.status, 200, "{}", issued.body);
    assert_eq!(issued.body["scope"], "contacts:read contacts:write");

    let bad = create_api_client(&s, &admin, "contacts:read contacts:eat").await;
    bad.problem(422, "validation_failed");
    assert_eq!(bad.pointers(), ["/scopes"]);
}

async fn managing_api_clients_needs_the_admin_scope(s: Server) {
    let token = s.token_with("contacts:write companies:read companies:write").await;
    let created = create_api_client(&s, &token, "contacts:read").await;
    created.problem(403, "insufficient_scope");
    let one = format!("/v1/api-clients/{}", s.admin.client_id);
    let routes = [
        (Method::GET, "/v1/api-clients"),
        (Method::GET, &one),
        (Method::DELETE, &one),
    ];
    for (method, path) in routes {
        let r = s.call(method, path, &token, None).await;
        r.problem(403, "insufficient_scope");
    }
    // The admin client survived the attempt.
    accepted(&s, &s.admin_token().await).await;
}

async fn a_revoked_client_cannot_get_a_token_and_its_tokens_stop_working(s: Server) {
    let admin = s.admin_token().await;
    let creds = credentials_of(&create_api_client(&s, &admin, "contacts:read").await);
    let token = s.token(&creds).await;
    accepted(&s, &token).await;

    let path = format!("/v1/api-clients/{}", creds.client_id);
    let revoked = s.call(Method::DELETE, &path, &admin, None).await;
    assert_eq!(revoked.status, 200, "{}", revoked.body);
    assert!(revoked.body["revoked_at"].is_string(), "{}", revoked.body);

    oauth_error(&token_for(&s, &creds, None).await, 401, "invalid_client");
    refused(&s, &token).await;
    let read = s.call(Method::GET, &path, &admin, None).await;
    assert!(read.body["revoked_at"].is_string(), "{}", read.body);
}

// ---- external identity providers ----------------------------------------------------

async fn a_token_from_an_external_hs256_provider_acts_as_a_user(db: TestDb) {
    let s = start_with_idp(db, ("RAPPORT_EXTERNAL_JWT_HS256_SECRET", IDP_SECRET)).await;
    let token = idp_token(&s, Algorithm::HS256, IDP_AUDIENCE, &hmac(IDP_SECRET));
    let created = create_contact(&s, &token, "person@example.com").await;
    assert_eq!(created.status, 201, "{}", created.body);
    let id = created.body["id"].as_str().unwrap();

    let events = s.events("contact.created").await;
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(events[0].0, s.admin.workspace_id);
    assert_eq!(events[0].1["object"]["id"], id);
    // The event's data holds the object only; its actor is stored beside it.
    let user = ("user".to_owned(), Some("user-42".to_owned()));
    assert_eq!(event_actors(&s, "contact.created").await, [user]);
    let history_path = format!("/v1/contacts/{id}/lifecycle");
    let history = s.call(Method::GET, &history_path, &token, None).await;
    let actor = &history.body["data"][0]["actor"];
    assert_eq!(actor, &json!({"type": "user", "id": "user-42"}), "{}", history.body);
    // Its scopes are those of the token: no admin rights.
    let clients = s.call(Method::GET, "/v1/api-clients", &token, None).await;
    clients.problem(403, "insufficient_scope");
    // The server's own tokens keep working next to the provider's.
    accepted(&s, &s.admin_token().await).await;
}

async fn an_external_token_for_another_audience_or_issuer_is_refused(db: TestDb) {
    let s = start_with_idp(db, ("RAPPORT_EXTERNAL_JWT_HS256_SECRET", IDP_SECRET)).await;
    let key = hmac(IDP_SECRET);
    refused(&s, &idp_token(&s, Algorithm::HS256, "another-api", &key)).await;
    let mut claims = idp_claims(&s, IDP_AUDIENCE);
    claims["iss"] = json!("https://evil.example");
    refused(&s, &sign(Algorithm::HS256, None, &claims, &key)).await;
    let other_key = hmac("not-the-providers-secret");
    refused(&s, &idp_token(&s, Algorithm::HS256, IDP_AUDIENCE, &other_key)).await;
}

async fn an_external_token_for_a_workspace_that_does_not_exist_is_refused(db: TestDb) {
    let s = start_with_idp(db, ("RAPPORT_EXTERNAL_JWT_HS256_SECRET", IDP_SECRET)).await;
    let mut claims = idp_claims(&s, IDP_AUDIENCE);
    claims["ws"] = json!(uuid::Uuid::now_v7().to_string());
    let token = sign(Algorithm::HS256, None, &claims, &hmac(IDP_SECRET));
    let r = create_contact(&s, &token, "ghost@example.com").await;
    r.problem(401, "invalid_token");
}

async fn an_rs256_provider_is_verified_with_its_public_key(db: TestDb) {
    let (key, public) = rsa_pair(&db.dir(), "idp");
    let (other_key, _) = rsa_pair(&db.dir(), "other");
    let s = start_with_idp_key(db, &public).await;
    accepted(&s, &idp_token(&s, Algorithm::RS256, IDP_AUDIENCE, &key)).await;
    refused(&s, &idp_token(&s, Algorithm::RS256, IDP_AUDIENCE, &other_key)).await;
    refused(&s, &idp_token(&s, Algorithm::RS256, "another-api", &key)).await;
}

async fn an_hs256_token_keyed_with_the_rsa_public_key_is_refused(db: TestDb) {
    let (_, public) = rsa_pair(&db.dir(), "idp");
    let confused_key = EncodingKey::from_secret(&std::fs::read(&public).unwrap());
    let s = start_with_idp_key(db, &public).await;
    refused(&s, &idp_token(&s, Algorithm::HS256, IDP_AUDIENCE, &confused_key)).await;
}

async fn an_eddsa_provider_is_verified_with_its_public_key(db: TestDb) {
    let (key, public) = ed_pair(&db.dir(), "idp");
    let (other_key, _) = ed_pair(&db.dir(), "other");
    let s = start_with_idp_key(db, &public).await;
    let token = idp_token(&s, Algorithm::EdDSA, IDP_AUDIENCE, &key);
    let created = create_contact(&s, &token, "ed@example.com").await;
    assert_eq!(created.status, 201, "{}", created.body);
    refused(&s, &idp_token(&s, Algorithm::EdDSA, IDP_AUDIENCE, &other_key)).await;
}

on_both!(
    a_client_gets_a_token_with_a_form_body_a_json_body_or_basic_credentials,
    a_wrong_secret_or_unknown_client_is_refused_as_invalid_client,
    an_unknown_grant_type_is_refused,
    a_token_narrowed_to_one_scope_cannot_write,
    asking_for_a_scope_the_client_lacks_is_refused_as_invalid_scope,
    a_request_without_a_token_is_unauthorized_with_a_bearer_challenge,
    a_garbage_token_or_one_signed_with_another_key_is_an_invalid_token,
    an_api_client_created_over_the_api_shows_its_secret_only_once,
    managing_api_clients_needs_the_admin_scope,
    a_revoked_client_cannot_get_a_token_and_its_tokens_stop_working,
);

on_both_dbs!(
    a_token_signed_with_the_configured_secret_works_until_it_expires,
    a_token_for_another_issuer_or_audience_signed_with_hs384_or_not_yet_valid_is_invalid,
    a_token_from_an_external_hs256_provider_acts_as_a_user,
    an_external_token_for_another_audience_or_issuer_is_refused,
    an_external_token_for_a_workspace_that_does_not_exist_is_refused,
    an_rs256_provider_is_verified_with_its_public_key,
    an_hs256_token_keyed_with_the_rsa_public_key_is_refused,
    an_eddsa_provider_is_verified_with_its_public_key,
);
