//! Upserts: by email, by external id, and in batches of up to [`MAX_BATCH`].

use rapport_domain::consent::ConsentEvent;
use rapport_domain::contact::{Contact, ContactChanges, ContactInput};
use rapport_domain::email::Email;
use rapport_domain::lifecycle::Cause;
use rapport_domain::patch::Patch;
use rapport_domain::scope::Scope;
use rapport_store::{Tx, contacts};

use super::Outcome;
use super::contacts::{create_or_apply, schema};
use crate::app::App;
use crate::auth::Caller;
use crate::error::ApiError;
use crate::http::etag::Precondition;

/// Most items in one batch.
pub const MAX_BATCH: usize = 1000;

/// Creates or updates the contact with this email.
/// # Errors
/// As [`update`]; 422 when the body names another email.
pub async fn upsert_by_email(
    app: &App,
    who: &Caller,
    email: &str,
    mut input: ContactInput,
    precondition: Precondition,
) -> Result<(Contact, Outcome), ApiError> {
    who.require(Scope::ContactsWrite)?;
    let email = Email::parse(email, "/email")?;
    if let Patch::Set(body) = &input.email
        && Email::parse(body, "/email")?.key() != email.key()
    {
        return Err(ApiError::invalid(
            "/email",
            "mismatch",
            "must match the email in the path, or be left out",
        ));
    }
    input.email = Patch::Set(email.as_str().to_owned());
    let consents = std::mem::take(&mut input.consents);
    let changes = input.validate(&schema(app, who).await?)?;
    let consents = super::consent::prepare(app.db.read(), who, consents, rapport_store::now()).await?;
    upsert(app, who, Natural::Email, changes, consents, precondition).await
}

/// Resolves and writes an upsert. Two concurrent upserts of one new contact may both
/// try to create it; the loser of that race retries once and updates instead.
async fn upsert(
    app: &App,
    who: &Caller,
    key: Natural,
    changes: ContactChanges,
    consents: Vec<ConsentEvent>,
    precondition: Precondition,
) -> Result<(Contact, Outcome), ApiError> {
    let mut attempts = 0;
    loop {
        attempts += 1;
        let tx = app.db.begin().await?;
        let found = resolve(&tx, who, key, &changes).await?;
        let creating = found.is_none();
        let changes = keep_held_keys(&tx, who, found.as_ref(), changes.clone()).await?;
        match create_or_apply(&tx, who, found, changes, precondition, Cause::Api).await {
            Ok(result) => {
                super::consent::record_for(&tx, app, who, &result.0, consents.clone()).await?;
                super::commit(tx).await?;
                return Ok(result);
            }
            Err(ApiError::Conflict { .. }) if creating && attempts < 2 => {}
            Err(e) => return Err(e),
        }
    }
}

/// Creates or updates the contact with this external id. An unknown external id is
/// attached to the contact with the body's email when there is one, so a shop's first
/// sync does not duplicate people the CRM already knows.
/// # Errors
/// As [`update`]; 422 when the body gives another id for the same source.
pub async fn upsert_by_external_id(
    app: &App,
    who: &Caller,
    source: &str,
    id: &str,
    mut input: ContactInput,
    precondition: Precondition,
) -> Result<(Contact, Outcome), ApiError> {
    who.require(Scope::ContactsWrite)?;
    let (source, id) = rapport_domain::contact::external_id(source, id, "/external_ids")?;
    let mut ids = match std::mem::take(&mut input.external_ids) {
        Patch::Set(ids) => ids,
        Patch::Absent => std::collections::BTreeMap::new(),
        Patch::Clear => {
            return Err(ApiError::invalid(
                "/external_ids",
                "not_allowed",
                "cannot be null when upserting by external id",
            ));
        }
    };
    match ids.get(&source) {
        Some(Some(other)) if *other != id => {
            return Err(ApiError::invalid(
                format!("/external_ids/{}", rapport_domain::error::pointer_token(&source)),
                "mismatch",
                "must match the external id in the path, or be left out",
            ));
        }
        _ => {
            ids.insert(source.clone(), Some(id.clone()));
        }
    }
    input.external_ids = Patch::Set(ids);
    let consents = std::mem::take(&mut input.consents);
    let changes = input.validate(&schema(app, who).await?)?;
    let consents = super::consent::prepare(app.db.read(), who, consents, rapport_store::now()).await?;
    upsert(app, who, Natural::ExternalIds, changes, consents, precondition).await
}

/// Which natural key an upsert matches on first.
#[derive(Clone, Copy, Debug)]
enum Natural {
    /// The email only (`PUT /v1/contacts/by-email/{email}`).
    Email,
    /// Any of the external ids, then the email (by external id, and batches).
    ExternalIds,
}

/// An upsert that names the stored email in another letter case does not rewrite it:
/// shops send addresses as customers typed them, and each sync would otherwise make a
/// new version. (An explicit PATCH of the email still changes its case.)
pub(crate) fn keep_stored_email(found: Option<&Contact>, mut changes: ContactChanges) -> ContactChanges {
    if let (Some(found), Patch::Set(email)) = (found, &changes.email)
        && found.email.as_ref().is_some_and(|e| e.key() == email.key())
    {
        changes.email = Patch::Absent;
    }
    changes
}

/// An upsert that names, for a source, an external id a merge dropped from the contact
/// it found (an alias, `rapport_store::aliases`) keeps the id the contact holds for that
/// source: the next sync from the merged record would otherwise swap the two back and
/// forth. `aliased` tells whether a `(source, id)` pair is an alias of `found`.
pub(crate) fn keep_held_external_ids(
    found: Option<&Contact>,
    aliased: impl Fn(&str, &str) -> bool,
    mut changes: ContactChanges,
) -> ContactChanges {
    let (Some(found), Patch::Set(ids)) = (found, &mut changes.external_ids) else {
        return changes;
    };
    let named = ids.len();
    ids.retain(|source, id| match (found.external_ids.get(source), id) {
        (Some(held), Some(id)) if held != id => !aliased(source, id),
        _ => true,
    });
    if ids.is_empty() && named > 0 {
        changes.external_ids = Patch::Absent;
    }
    changes
}

/// [`keep_stored_email`] and [`keep_held_external_ids`] for one upsert, the aliases
/// looked up (only for the sources where `found` holds another id than the one named).
async fn keep_held_keys(
    tx: &Tx,
    who: &Caller,
    found: Option<&Contact>,
    changes: ContactChanges,
) -> Result<ContactChanges, ApiError> {
    let changes = keep_stored_email(found, changes);
    let (Some(c), Patch::Set(ids)) = (found, &changes.external_ids) else {
        return Ok(changes);
    };
    let others: Vec<(String, String)> = ids
        .iter()
        .filter_map(|(s, i)| i.as_ref().map(|i| (s.clone(), i.clone())))
        .filter(|(s, i)| c.external_ids.get(s).is_some_and(|held| held != i))
        .collect();
    if others.is_empty() {
        return Ok(changes);
    }
    let aliases: std::collections::BTreeSet<(String, String)> =
        rapport_store::aliases::resolve(tx, who.workspace(), &others)
            .await?
            .into_iter()
            .filter(|(_, id)| *id == c.id)
            .map(|(pair, _)| pair)
            .collect();
    Ok(keep_held_external_ids(
        found,
        |s, i| aliases.contains(&(s.to_owned(), i.to_owned())),
        changes,
    ))
}

/// Finds the contact an upsert refers to.
async fn resolve(tx: &Tx, who: &Caller, key: Natural, changes: &ContactChanges) -> Result<Option<Contact>, ApiError> {
    if let (Natural::ExternalIds, Patch::Set(ids)) = (key, &changes.external_ids) {
        let pairs: Vec<(String, String)> = ids
            .iter()
            .filter_map(|(s, i)| i.as_ref().map(|i| (s.clone(), i.clone())))
            .collect();
        if let Some(c) = contacts::find_by_external_ids(tx, who.workspace(), &pairs).await? {
            return Ok(Some(c));
        }
    }
    if let Patch::Set(email) = &changes.email {
        return Ok(contacts::find_by_email(tx, who.workspace(), email).await?);
    }
    Ok(None)
}

/// The result of one batch item.
pub type ItemResult = Result<(Contact, Outcome), ApiError>;

/// A batch item ready to write: its contact changes and the consent decisions to
/// record with it.
type Prepared = Result<(ContactChanges, Vec<ConsentEvent>), ApiError>;

/// Checks scope and size, and validates every item (its consents included).
async fn prepare(
    app: &App,
    who: &Caller,
    items: Vec<Result<ContactInput, ApiError>>,
) -> Result<Vec<Prepared>, ApiError> {
    who.require(Scope::ContactsWrite)?;
    check_batch_size(items.len())?;
    let schema = schema(app, who).await?;
    let with_consents = items.iter().any(|i| i.as_ref().is_ok_and(|i| !i.consents.is_empty()));
    let purposes = if with_consents {
        super::consent::purpose_map(app.db.read(), who).await?
    } else {
        std::collections::HashMap::new()
    };
    let now = rapport_store::now();
    Ok(items
        .into_iter()
        .enumerate()
        .map(|(i, item)| {
            item.and_then(|mut input| {
                let consents = std::mem::take(&mut input.consents);
                let changes = input.validate(&schema)?;
                let consents = super::consent::validate_all(&purposes, who, consents, now)?;
                Ok((changes, consents))
            })
            .map_err(|e| under(e, &format!("/items/{i}")))
        })
        .collect())
}

/// Upserts up to [`MAX_BATCH`] contacts in one transaction, in bulk (see
/// `service::bulk`), falling back to [`batch_upsert_one_by_one`] when the database
/// refuses the bulk write. Each item gets its own result; valid items are committed
/// even when others fail. Items that could not even be read arrive as errors and are
/// reported as they are.
/// # Errors
/// 403; 422 for more than [`MAX_BATCH`] items. Item failures are in the results.
pub async fn batch_upsert(
    app: &App,
    who: &Caller,
    items: Vec<Result<ContactInput, ApiError>>,
) -> Result<Vec<ItemResult>, ApiError> {
    batch_upsert_as(app, who, items, Cause::Api).await
}

/// [`batch_upsert`] with the cause recorded for stage moves (`import` for imports).
/// # Errors
/// As [`batch_upsert`].
pub async fn batch_upsert_as(
    app: &App,
    who: &Caller,
    items: Vec<Result<ContactInput, ApiError>>,
    cause: Cause,
) -> Result<Vec<ItemResult>, ApiError> {
    let _turn = batch_turn(app).await?;
    let parsed = prepare(app, who, items).await?;
    let valid: Vec<Option<ContactChanges>> = parsed.iter().map(|p| p.as_ref().ok().map(|(c, _)| c.clone())).collect();
    // A deadlock with a concurrent writer aborts the whole transaction: run it again.
    for _ in 0..3 {
        let tx = app.db.begin().await?;
        let done = match super::bulk::upsert(&tx, who, &valid, cause).await {
            Ok(Some(done)) => done,
            Ok(None) => break,
            Err(rapport_store::StoreError::Retry(_)) => continue,
            Err(e) => return Err(e.into()),
        };
        for (p, r) in parsed.iter().zip(&done) {
            if let (Ok((_, consents)), Some(Ok((contact, _)))) = (p, r)
                && !consents.is_empty()
            {
                super::consent::record_for(&tx, app, who, contact, consents.clone()).await?;
            }
        }
        match tx.commit().await.map_err(rapport_store::StoreError::from) {
            Ok(()) => {}
            Err(rapport_store::StoreError::Retry(_)) => continue,
            Err(e) => return Err(e.into()),
        }
        return Ok(parsed
            .into_iter()
            .zip(done)
            .map(|(p, r)| match (p, r) {
                (Err(e), _) => Err(e),
                (Ok(_), Some(r)) => r,
                (Ok(_), None) => Err(ApiError::Internal("a valid batch item got no result".into())),
            })
            .collect());
    }
    one_by_one(app, who, parsed, cause).await
}

/// Upserts a batch item by item, each in its own savepoint, so a database refusal
/// affects only that item. Same results as [`batch_upsert`], one statement at a time.
/// # Errors
/// As [`batch_upsert`].
pub async fn batch_upsert_one_by_one(
    app: &App,
    who: &Caller,
    items: Vec<Result<ContactInput, ApiError>>,
) -> Result<Vec<ItemResult>, ApiError> {
    let _turn = batch_turn(app).await?;
    let parsed = prepare(app, who, items).await?;
    one_by_one(app, who, parsed, Cause::Api).await
}

/// Waits for one of the `batch_concurrency` turns.
async fn batch_turn(app: &App) -> Result<tokio::sync::SemaphorePermit<'_>, ApiError> {
    app.batches.acquire().await.map_err(|_| ApiError::Unavailable)
}

async fn one_by_one(app: &App, who: &Caller, parsed: Vec<Prepared>, cause: Cause) -> Result<Vec<ItemResult>, ApiError> {
    let tx = app.db.begin().await?;
    let mut results = Vec::with_capacity(parsed.len());
    for (i, p) in parsed.into_iter().enumerate() {
        let (changes, consents) = match p {
            Ok(c) => c,
            Err(e) => {
                results.push(Err(e));
                continue;
            }
        };
        let sp = rapport_store::savepoint(&tx).await?;
        let r = async {
            let found = resolve(&sp, who, Natural::ExternalIds, &changes).await?;
            let changes = keep_held_keys(&sp, who, found.as_ref(), changes).await?;
            let done = create_or_apply(&sp, who, found, changes, Precondition::None, cause).await?;
            super::consent::record_for(&sp, app, who, &done.0, consents).await?;
            Ok(done)
        }
        .await;
        match r {
            Ok(ok) => {
                super::commit(sp).await?;
                results.push(Ok(ok));
            }
            Err(e) => {
                sp.rollback().await.map_err(rapport_store::StoreError::from)?;
                results.push(Err(under(e, &format!("/items/{i}"))));
            }
        }
    }
    super::commit(tx).await?;
    Ok(results)
}

/// Refuses batches over [`MAX_BATCH`] items.
/// # Errors
/// 422 `validation_failed` at `/items`.
pub fn check_batch_size(n: usize) -> Result<(), ApiError> {
    if n > MAX_BATCH {
        return Err(ApiError::invalid(
            "/items",
            "too_many",
            format!("at most {MAX_BATCH} items per batch; got {n}"),
        ));
    }
    Ok(())
}

/// Re-locates field errors under a batch item.
pub(crate) fn under(e: ApiError, prefix: &str) -> ApiError {
    match e {
        ApiError::Domain(d) => ApiError::Domain(d.under(prefix)),
        other => other,
    }
}
