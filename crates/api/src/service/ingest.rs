//! Inbound pushes from connectors: a batch of typed commands signed with the Standard
//! Webhooks scheme, applied through the same use cases as the REST API, each answered,
//! and idempotent by `webhook-id` (a repeat answers the first result, applying nothing).

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use rapport_domain::event::{Actor, ActorKind};
use rapport_domain::scope::{Scope, ScopeSet};
use rapport_store::connectors::{self, Connector};
use rapport_store::idempotency::{self, StoredResponse};
use serde::Deserialize;
use serde_json::Value;
use uuid::Uuid;

use crate::app::App;
use crate::auth::{Caller, secret};
use crate::dto::connectors::{CommandResult, IngestBatch, IngestResult};
use crate::dto::consent::ConsentRecordDto;
use crate::error::ApiError;
use crate::service::Outcome;

/// Most commands in one push.
pub const MAX_COMMANDS: usize = 1000;
/// How far a push's timestamp may be from now (Standard Webhooks).
pub const TOLERANCE_SECONDS: i64 = 300;

/// The signature headers of a push.
#[derive(Debug, Default)]
pub struct Signed<'a> {
    pub id: Option<&'a str>,
    pub timestamp: Option<&'a str>,
    pub signature: Option<&'a str>,
}

fn refused(code: &'static str, detail: &str) -> ApiError {
    ApiError::unauthorized(code, detail)
}

/// Whether `provided` (the `webhook-signature` header) holds a valid signature by one of
/// the connector's secrets, compared in constant time.
fn verified(
    c: &Connector,
    id: &str,
    timestamp: i64,
    body: &[u8],
    provided: &str,
    now: chrono::DateTime<chrono::Utc>,
) -> bool {
    let expected: Vec<Vec<u8>> = c
        .secrets(now)
        .iter()
        .map(|s| crate::webhooks::sign::header(&[s], id, timestamp, body))
        .filter_map(|h| STANDARD.decode(h.strip_prefix("v1,")?).ok())
        .collect();
    provided
        .split_whitespace()
        .filter_map(|p| p.strip_prefix("v1,"))
        .filter_map(|b| STANDARD.decode(b).ok())
        .any(|sig| expected.iter().any(|e| constant_time_eq(e, &sig)))
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Authenticates a push: the connector exists and is enabled, the timestamp is within
/// tolerance, and the signature is right.
/// # Errors
/// 401 `invalid_signature`, `timestamp_out_of_tolerance` or `connector_disabled`.
async fn authenticate(
    app: &App,
    connector: Uuid,
    h: &Signed<'_>,
    body: &[u8],
) -> Result<(Connector, String), ApiError> {
    let bad = || refused("invalid_signature", "the push is not signed by this connector's secret");
    let (Some(id), Some(ts), Some(sig)) = (h.id, h.timestamp, h.signature) else {
        return Err(refused(
            "invalid_signature",
            "webhook-id, webhook-timestamp and webhook-signature are required",
        ));
    };
    if id.is_empty() || id.len() > 255 {
        return Err(bad());
    }
    let now = rapport_store::now();
    let timestamp: i64 = ts.trim().parse().map_err(|_| bad())?;
    if (now.timestamp() - timestamp).abs() > TOLERANCE_SECONDS {
        return Err(refused(
            "timestamp_out_of_tolerance",
            "webhook-timestamp is more than 5 minutes from now",
        ));
    }
    let c = connectors::find(app.db.read(), connector).await?.ok_or_else(bad)?;
    if !verified(&c, id, timestamp, body, sig, now) {
        return Err(bad());
    }
    if !c.enabled {
        return Err(refused("connector_disabled", "this connector is disabled"));
    }
    Ok((c, id.to_owned()))
}

/// Handles a push; answers `(status, body, replayed)`.
/// # Errors
/// 401 for a bad signature; 400/422 for a malformed batch; 409 while the same
/// `webhook-id` is being applied; 422 `idempotency_key_reused` for the same id with
/// another body.
pub async fn push(app: &App, connector: Uuid, h: &Signed<'_>, body: &[u8]) -> Result<(u16, Vec<u8>, bool), ApiError> {
    let (c, id) = authenticate(app, connector, h, body).await?;
    let ws = c.workspace_id;
    let principal = format!("connector:{}", c.id);
    let hash = secret::sha256_hex(body);
    let now = rapport_store::now();
    match idempotency::get(app.db.read(), ws, &principal, &id, now).await? {
        Some(rec) if rec.request_hash != hash => return Err(ApiError::IdempotencyKeyReused),
        Some(rec) => {
            return match rec.response {
                None => Err(ApiError::IdempotencyInProgress),
                Some(r) => Ok((r.status, r.body, true)),
            };
        }
        None => {}
    }
    let tx = app.db.begin().await?;
    // Claimed for a few minutes while applying (a crash must not block the id for long),
    // kept a day once answered.
    match idempotency::claim(&tx, ws, &principal, &id, &hash, now, chrono::Duration::minutes(5)).await {
        Ok(()) => {}
        Err(rapport_store::StoreError::Conflict { .. }) => return Err(ApiError::IdempotencyInProgress),
        Err(e) => return Err(e.into()),
    }
    super::commit(tx).await?;
    let applied = apply(app, &c, body).await;
    let tx = app.db.begin().await?;
    match applied {
        Ok(result) => {
            let bytes = serde_json::to_vec(&result).map_err(|e| ApiError::Internal(e.to_string()))?;
            let stored = StoredResponse {
                status: 200,
                headers: vec![("content-type".into(), "application/json".into())],
                body: bytes.clone(),
            };
            let keep = rapport_store::now() + chrono::Duration::hours(24);
            idempotency::complete(&tx, ws, &principal, &id, &stored, keep).await?;
            super::commit(tx).await?;
            Ok((200, bytes, false))
        }
        Err(e) => {
            // A batch that could not be read applied nothing: the same id may be sent again.
            idempotency::release(&tx, ws, &principal, &id).await?;
            super::commit(tx).await?;
            Err(e)
        }
    }
}

/// Who a connector's commands act as: its workspace, the scopes of its commands, and
/// itself as the actor (so webhooks with `skip_own` can leave its changes out).
fn caller(c: &Connector) -> Caller {
    Caller::new(
        c.workspace_id,
        ScopeSet::from_scopes([
            Scope::ContactsRead,
            Scope::ContactsWrite,
            Scope::CompaniesRead,
            Scope::CompaniesWrite,
            Scope::ConsentRead,
            Scope::ConsentWrite,
        ]),
        Actor {
            kind: ActorKind::Connector,
            id: Some(c.id.to_string()),
        },
    )
}

/// One command as sent.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Command {
    #[serde(rename = "type")]
    kind: String,
    data: Value,
}

/// Which contact a `consent.record` is about.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ContactRef {
    #[serde(default)]
    id: Option<Uuid>,
    #[serde(default)]
    email: Option<String>,
    #[serde(default)]
    external_id: Option<ExternalRef>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ExternalRef {
    source: String,
    id: String,
}

/// A `consent.record` command's data.
#[derive(Debug, Deserialize)]
struct ConsentCommand {
    contact: ContactRef,
    #[serde(flatten)]
    record: Value,
}

async fn apply(app: &App, c: &Connector, body: &[u8]) -> Result<IngestResult, ApiError> {
    let batch: IngestBatch = crate::http::json::parse(body)?;
    if batch.commands.len() > MAX_COMMANDS {
        return Err(ApiError::invalid(
            "/commands",
            "too_many",
            format!("at most {MAX_COMMANDS} commands per push; got {}", batch.commands.len()),
        ));
    }
    let who = caller(c);
    let mut results = Vec::with_capacity(batch.commands.len());
    for (i, raw) in batch.commands.into_iter().enumerate() {
        let kind = raw.get("type").and_then(Value::as_str).map(str::to_owned);
        let done = run(app, &who, raw).await;
        results.push(match done {
            Ok((status, id)) => CommandResult {
                index: i,
                kind,
                status,
                id,
                error: None,
            },
            Err(e) => CommandResult {
                index: i,
                kind,
                status: "failed",
                id: None,
                error: Some(super::upserts::under(e, &format!("/commands/{i}")).problem()),
            },
        });
    }
    let failed = results.iter().filter(|r| r.status == "failed").count();
    Ok(IngestResult {
        applied: results.len() - failed,
        failed,
        results,
    })
}

fn outcome(o: Outcome) -> &'static str {
    match o {
        Outcome::Created => "created",
        Outcome::Updated => "updated",
        Outcome::Unchanged => "unchanged",
    }
}

/// Applies one command; errors are located relative to the command.
async fn run(app: &App, who: &Caller, raw: Value) -> Result<(&'static str, Option<Uuid>), ApiError> {
    let cmd: Command = crate::http::json::from_value(raw)?;
    let at_data = |e: ApiError| super::upserts::under(e, "/data");
    match cmd.kind.as_str() {
        "contact.upsert" => {
            let write: crate::dto::contacts::ContactWrite = crate::http::json::from_value(cmd.data).map_err(at_data)?;
            if write.email.as_set().is_none()
                && write
                    .external_ids
                    .as_set()
                    .is_none_or(std::collections::BTreeMap::is_empty)
            {
                return Err(ApiError::invalid(
                    "/data",
                    "identity_required",
                    "an upsert matches contacts by external_ids or email: give one",
                ));
            }
            let mut r = super::upserts::batch_upsert(app, who, vec![Ok(write.into())]).await?;
            let (contact, o) = r
                .pop()
                .ok_or_else(|| ApiError::Internal("no result".into()))?
                .map_err(|e| {
                    // Batch errors are located under /items/0.
                    match e {
                        ApiError::Domain(rapport_domain::DomainError::Invalid(errs)) => {
                            ApiError::Domain(rapport_domain::DomainError::Invalid(
                                errs.into_iter()
                                    .map(|mut f| {
                                        f.pointer = f.pointer.replacen("/items/0", "/data", 1);
                                        f
                                    })
                                    .collect(),
                            ))
                        }
                        other => other,
                    }
                })?;
            Ok((outcome(o), Some(contact.id.uuid())))
        }
        "company.upsert" => {
            let write: crate::dto::companies::CompanyWrite =
                crate::http::json::from_value(cmd.data).map_err(at_data)?;
            let (company, o) = super::companies::upsert_by_domain(app, who, write.into())
                .await
                .map_err(at_data)?;
            Ok((outcome(o), Some(company.id.uuid())))
        }
        "consent.record" => {
            let cc: ConsentCommand = crate::http::json::from_value(cmd.data).map_err(at_data)?;
            let record: ConsentRecordDto = crate::http::json::from_value(cc.record).map_err(at_data)?;
            let contact = match cc.contact {
                ContactRef { id: Some(id), .. } => rapport_domain::ContactId::from_uuid(id),
                ContactRef { email: Some(e), .. } => super::contacts::get_by_email(app, who, &e).await?.id,
                ContactRef {
                    external_id: Some(x), ..
                } => {
                    super::contacts::get_by_external_id(app, who, &x.source, &x.id)
                        .await?
                        .id
                }
                _ => {
                    return Err(ApiError::invalid(
                        "/data/contact",
                        "required",
                        "name the contact by id, email or external_id",
                    ));
                }
            };
            let r = super::consent::record(app, who, contact, record.into())
                .await
                .map_err(at_data)?;
            Ok(("recorded", Some(r.event.id.uuid())))
        }
        other => Err(ApiError::invalid(
            "/type",
            "unknown_command",
            format!("'{other}' is not contact.upsert, company.upsert or consent.record"),
        )),
    }
}
