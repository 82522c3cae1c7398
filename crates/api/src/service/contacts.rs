//! Contact use cases: create, read, update, delete, list, upsert (by email, by external
//! id, in batches) and tags.

use rapport_domain::attributes::{AttributeEntity, AttributeSchema};
use rapport_domain::contact::{Contact, ContactChanges, ContactInput};
use rapport_domain::email::Email;
use rapport_domain::event::EventType;
use rapport_domain::lifecycle::{Authority, Cause, Direction, Transition};
use rapport_domain::patch::Patch;
use rapport_domain::scope::Scope;
use rapport_domain::{ContactId, DomainError, TransitionId};
use rapport_store::contacts::{self, ContactFilter};
use rapport_store::page::{After, Order, Page};
use rapport_store::{Conn, Tx, attributes, companies, lifecycle, outbox};
use serde_json::json;

use super::{Outcome, event};
use crate::app::App;
use crate::auth::Caller;
use crate::dto::contacts::ContactDto;
use crate::error::{ApiError, OrNotFound};
use crate::http::etag::Precondition;

/// Most items in one batch.
pub const MAX_BATCH: usize = 1000;

/// The attribute schema writes are checked against.
pub(crate) async fn schema(app: &App, who: &Caller) -> Result<AttributeSchema, ApiError> {
    Ok(attributes::schema(app.db.read(), who.workspace(), AttributeEntity::Contact).await?)
}

/// Refuses a link to a company that is not in the caller's workspace.
async fn check_company(db: &impl Conn, who: &Caller, changes: &ContactChanges) -> Result<(), ApiError> {
    if let Patch::Set(id) = changes.company_id
        && !companies::exists(db, who.workspace(), id).await?
    {
        return Err(ApiError::invalid(
            "/company_id",
            "not_found",
            format!("no company {id} in this workspace"),
        ));
    }
    Ok(())
}

/// Inserts a new contact with its first lifecycle entry and `contact.created`.
pub(crate) async fn insert_new(tx: &Tx, who: &Caller, contact: &Contact, cause: Cause) -> Result<(), ApiError> {
    contacts::insert(tx, contact).await?;
    let first = Transition {
        id: TransitionId::new(),
        contact_id: contact.id,
        from: None,
        to: contact.stage.stage,
        direction: Direction::Forward,
        cause,
        actor: who.actor().clone(),
        reason: None,
        at: contact.created_at,
    };
    lifecycle::record(tx, who.workspace(), &first).await?;
    let e = event(
        EventType::ContactCreated,
        who,
        contact.created_at,
        &ContactDto::from(contact),
        None,
    );
    outbox::push(tx, &[e]).await?;
    Ok(())
}

/// Writes an applied change: the row, the transition when the stage moved, and the
/// events (`contact.updated` with changed fields, `contact.stage_changed`). Writes
/// nothing when nothing changed.
pub(crate) async fn write_change(
    tx: &Tx,
    who: &Caller,
    before: &Contact,
    applied: rapport_domain::contact::Applied,
    cause: Cause,
    reason: Option<String>,
) -> Result<(Contact, Outcome), ApiError> {
    if !applied.changed {
        return Ok((applied.contact, Outcome::Unchanged));
    }
    let after = applied.contact;
    contacts::update(tx, before, &after).await?;
    let old = serde_json::to_value(ContactDto::from(before)).unwrap_or_default();
    let new = ContactDto::from(&after);
    let new_json = serde_json::to_value(&new).unwrap_or_default();
    let mut events = vec![event(
        EventType::ContactUpdated,
        who,
        after.updated_at,
        &new,
        Some(rapport_domain::event::changes(&old, &new_json)),
    )];
    if let Some((to, direction)) = applied.moved {
        let t = Transition {
            id: TransitionId::new(),
            contact_id: after.id,
            from: Some(before.stage.stage),
            to,
            direction,
            cause,
            actor: who.actor().clone(),
            reason,
            at: after.updated_at,
        };
        lifecycle::record(tx, who.workspace(), &t).await?;
        let transition = crate::dto::contacts::TransitionDto::from(&t);
        events.push(event(
            EventType::ContactStageChanged,
            who,
            after.updated_at,
            &new,
            Some(json!({ "transition": transition })),
        ));
    }
    outbox::push(tx, &events).await?;
    Ok((after, Outcome::Updated))
}

/// Creates `found` from changes, or applies them to it.
async fn create_or_apply(
    tx: &Tx,
    who: &Caller,
    found: Option<Contact>,
    changes: ContactChanges,
    precondition: Precondition,
) -> Result<(Contact, Outcome), ApiError> {
    check_company(tx, who, &changes).await?;
    let now = rapport_store::now();
    match found {
        Some(before) => {
            precondition.check(before.version)?;
            let applied = before.apply(changes, Authority::default(), now)?;
            write_change(tx, who, &before, applied, Cause::Api, None).await
        }
        None => {
            if precondition != Precondition::None {
                return Err(ApiError::PreconditionFailed { current: 0 });
            }
            let contact = Contact::create(ContactId::new(), who.workspace(), changes, now)?;
            insert_new(tx, who, &contact, Cause::Api).await?;
            Ok((contact, Outcome::Created))
        }
    }
}

/// Creates a contact.
/// # Errors
/// 403 without `contacts:write`; 422 for invalid input; 409 when the email or an
/// external id belongs to another contact.
pub async fn create(app: &App, who: &Caller, input: ContactInput) -> Result<Contact, ApiError> {
    who.require(Scope::ContactsWrite)?;
    let changes = input.validate(&schema(app, who).await?)?;
    let tx = app.db.begin().await?;
    let (contact, _) = create_or_apply(&tx, who, None, changes, Precondition::None).await?;
    super::commit(tx).await?;
    Ok(contact)
}

/// One contact.
/// # Errors
/// 403 without `contacts:read`; 404 when it is not in the caller's workspace.
pub async fn get(app: &App, who: &Caller, id: ContactId) -> Result<Contact, ApiError> {
    who.require(Scope::ContactsRead)?;
    contacts::get(app.db.read(), who.workspace(), id)
        .await
        .or_not_found("contact")
}

/// One contact by email.
/// # Errors
/// 403 without `contacts:read`; 404 when no contact has it.
pub async fn get_by_email(app: &App, who: &Caller, email: &str) -> Result<Contact, ApiError> {
    who.require(Scope::ContactsRead)?;
    let email = Email::parse(email, "/email").map_err(|_| ApiError::NotFound("contact"))?;
    let page = contacts::list(
        app.db.read(),
        who.workspace(),
        &ContactFilter {
            email: Some(email.key()),
            ..Default::default()
        },
        Order::default(),
        None,
        1,
    )
    .await?;
    page.items.into_iter().next().ok_or(ApiError::NotFound("contact"))
}

/// One contact by external id.
/// # Errors
/// 403 without `contacts:read`; 404 when no contact has it.
pub async fn get_by_external_id(app: &App, who: &Caller, source: &str, id: &str) -> Result<Contact, ApiError> {
    who.require(Scope::ContactsRead)?;
    let cid = contacts::id_by_external_id(app.db.read(), who.workspace(), source, id)
        .await?
        .ok_or(ApiError::NotFound("contact"))?;
    contacts::get(app.db.read(), who.workspace(), cid)
        .await
        .or_not_found("contact")
}

/// Applies a merge patch to a contact.
/// # Errors
/// As [`create`], plus 404, 412 for a stale `If-Match` and 422
/// `stage_transition_not_allowed` for a backward stage move.
pub async fn update(
    app: &App,
    who: &Caller,
    id: ContactId,
    input: ContactInput,
    precondition: Precondition,
) -> Result<Contact, ApiError> {
    who.require(Scope::ContactsWrite)?;
    let changes = input.validate(&schema(app, who).await?)?;
    let tx = app.db.begin().await?;
    let before = contacts::get_for_update(&tx, who.workspace(), id)
        .await
        .or_not_found("contact")?;
    let (contact, _) = create_or_apply(&tx, who, Some(before), changes, precondition).await?;
    super::commit(tx).await?;
    Ok(contact)
}

/// Deletes a contact, with its tags, external ids and lifecycle history.
/// # Errors
/// 403, 404, 412.
pub async fn delete(app: &App, who: &Caller, id: ContactId, precondition: Precondition) -> Result<(), ApiError> {
    who.require(Scope::ContactsWrite)?;
    let tx = app.db.begin().await?;
    let before = contacts::get_for_update(&tx, who.workspace(), id)
        .await
        .or_not_found("contact")?;
    precondition.check(before.version)?;
    contacts::delete(&tx, who.workspace(), id).await?;
    let e = event(
        EventType::ContactDeleted,
        who,
        rapport_store::now(),
        &ContactDto::from(&before),
        None,
    );
    outbox::push(&tx, &[e]).await?;
    super::commit(tx).await?;
    Ok(())
}

/// A page of contacts.
/// # Errors
/// 403 without `contacts:read`.
pub async fn list(
    app: &App,
    who: &Caller,
    filter: &ContactFilter,
    order: Order,
    after: Option<&After>,
    limit: u64,
) -> Result<Page<Contact>, ApiError> {
    who.require(Scope::ContactsRead)?;
    Ok(contacts::list(app.db.read(), who.workspace(), filter, order, after, limit).await?)
}

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
    let changes = input.validate(&schema(app, who).await?)?;
    upsert(app, who, Natural::Email, changes, precondition).await
}

/// Resolves and writes an upsert. Two concurrent upserts of one new contact may both
/// try to create it; the loser of that race retries once and updates instead.
async fn upsert(
    app: &App,
    who: &Caller,
    key: Natural,
    changes: ContactChanges,
    precondition: Precondition,
) -> Result<(Contact, Outcome), ApiError> {
    let mut attempts = 0;
    loop {
        attempts += 1;
        let tx = app.db.begin().await?;
        let found = resolve(&tx, who, key, &changes).await?;
        let creating = found.is_none();
        match create_or_apply(&tx, who, found, changes.clone(), precondition).await {
            Ok(result) => {
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
    let ids = input.external_ids.get_or_insert_with(Default::default);
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
    let changes = input.validate(&schema(app, who).await?)?;
    upsert(app, who, Natural::ExternalIds, changes, precondition).await
}

/// Which natural key an upsert matches on first.
#[derive(Clone, Copy, Debug)]
enum Natural {
    /// The email only (`PUT /v1/contacts/by-email/{email}`).
    Email,
    /// Any of the external ids, then the email (by external id, and batches).
    ExternalIds,
}

/// Finds the contact an upsert refers to.
async fn resolve(tx: &Tx, who: &Caller, key: Natural, changes: &ContactChanges) -> Result<Option<Contact>, ApiError> {
    if let Natural::ExternalIds = key {
        for (source, id) in &changes.external_ids {
            if let Some(id) = id
                && let Some(c) = contacts::find_by_external_id(tx, who.workspace(), source, id).await?
            {
                return Ok(Some(c));
            }
        }
    }
    if let Patch::Set(email) = &changes.email {
        return Ok(contacts::find_by_email(tx, who.workspace(), email).await?);
    }
    Ok(None)
}

/// The result of one batch item.
pub type ItemResult = Result<(Contact, Outcome), ApiError>;

/// Upserts up to [`MAX_BATCH`] contacts in one transaction, each item in its own
/// savepoint: a failing item is rolled back and reported, the others are committed.
/// Items that could not even be read arrive as errors and are reported as they are.
/// # Errors
/// 403; 422 for more than [`MAX_BATCH`] items. Item failures are in the results.
pub async fn batch_upsert(
    app: &App,
    who: &Caller,
    items: Vec<Result<ContactInput, ApiError>>,
) -> Result<Vec<ItemResult>, ApiError> {
    who.require(Scope::ContactsWrite)?;
    check_batch_size(items.len())?;
    let schema = schema(app, who).await?;
    let parsed: Vec<Result<ContactChanges, ApiError>> = items
        .into_iter()
        .enumerate()
        .map(|(i, item)| {
            item.and_then(|input| input.validate(&schema).map_err(ApiError::from))
                .map_err(|e| under(e, &format!("/items/{i}")))
        })
        .collect();
    let tx = app.db.begin().await?;
    let mut results = Vec::with_capacity(parsed.len());
    for (i, p) in parsed.into_iter().enumerate() {
        let changes = match p {
            Ok(c) => c,
            Err(e) => {
                results.push(Err(e));
                continue;
            }
        };
        let sp = rapport_store::savepoint(&tx).await?;
        let r = async {
            let found = resolve(&sp, who, Natural::ExternalIds, &changes).await?;
            create_or_apply(&sp, who, found, changes, Precondition::None).await
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
fn under(e: ApiError, prefix: &str) -> ApiError {
    match e {
        ApiError::Domain(DomainError::Invalid(errs)) => ApiError::Domain(DomainError::Invalid(
            errs.into_iter().map(|f| f.under(prefix)).collect(),
        )),
        other => other,
    }
}

/// Adds and removes tags.
/// # Errors
/// 403, 404, 412, 422 for invalid tags.
pub async fn retag(
    app: &App,
    who: &Caller,
    id: ContactId,
    add: &[String],
    remove: &[String],
    precondition: Precondition,
) -> Result<Contact, ApiError> {
    who.require(Scope::ContactsWrite)?;
    let tx = app.db.begin().await?;
    let before = contacts::get_for_update(&tx, who.workspace(), id)
        .await
        .or_not_found("contact")?;
    precondition.check(before.version)?;
    let Some(after) = before.retagged(add, remove, rapport_store::now())? else {
        return Ok(before);
    };
    let applied = rapport_domain::contact::Applied {
        contact: after,
        moved: None,
        changed: true,
    };
    let (contact, _) = write_change(&tx, who, &before, applied, Cause::Api, None).await?;
    super::commit(tx).await?;
    Ok(contact)
}
