//! Contact use cases: create, read, update, delete, list, upsert (by email, by external
//! id, in batches) and tags.

use rapport_domain::ContactId;
use rapport_domain::attributes::{AttributeEntity, AttributeSchema};
use rapport_domain::contact::{Contact, ContactChanges, ContactInput};
use rapport_domain::email::Email;
use rapport_domain::event::EventType;
use rapport_domain::lifecycle::{Authority, Cause};
use rapport_domain::patch::Patch;
use rapport_domain::scope::Scope;
use rapport_store::contacts::{self, ContactFilter};
use rapport_store::page::{After, Order, Page};
use rapport_store::{Conn, Tx, attributes, companies, outbox};

use super::effects::Effects;
use super::{Outcome, event};
use crate::app::App;
use crate::auth::Caller;
use crate::dto::contacts::ContactDto;
use crate::error::{ApiError, OrNotFound};
use crate::http::etag::Precondition;

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
    let mut effects = Effects::default();
    effects.created(who, contact, cause);
    Ok(effects.write(tx, who).await?)
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
    let mut effects = Effects::default();
    effects.changed(who, before, &after, applied.moved, cause, reason);
    effects.write(tx, who).await?;
    Ok((after, Outcome::Updated))
}

/// Creates `found` from changes, or applies them to it; a stage move is recorded with
/// `cause`.
pub(crate) async fn create_or_apply(
    tx: &Tx,
    who: &Caller,
    found: Option<Contact>,
    changes: ContactChanges,
    precondition: Precondition,
    cause: Cause,
) -> Result<(Contact, Outcome), ApiError> {
    check_company(tx, who, &changes).await?;
    let now = rapport_store::now();
    match found {
        Some(before) => {
            precondition.check(before.version)?;
            let applied = before.apply(changes, Authority::default(), now)?;
            write_change(tx, who, &before, applied, cause, None).await
        }
        None => {
            if precondition != Precondition::None {
                return Err(ApiError::PreconditionFailed { current: 0 });
            }
            let contact = Contact::create(ContactId::new(), who.workspace(), changes, now)?;
            insert_new(tx, who, &contact, cause).await?;
            Ok((contact, Outcome::Created))
        }
    }
}

/// A contact locked for the rest of the transaction, checked against `If-Match`.
/// # Errors
/// 404 when it is not in the caller's workspace; 412 when the precondition fails.
pub(crate) async fn locked(
    tx: &Tx,
    who: &Caller,
    id: ContactId,
    precondition: Precondition,
) -> Result<Contact, ApiError> {
    let contact = contacts::get_for_update(tx, who.workspace(), id)
        .await
        .or_not_found("contact")?;
    if contact.is_erased() {
        return Err(ApiError::erased());
    }
    precondition.check(contact.version)?;
    Ok(contact)
}

/// Creates a contact.
/// # Errors
/// 403 without `contacts:write`; 422 for invalid input; 409 when the email or an
/// external id belongs to another contact.
pub async fn create(app: &App, who: &Caller, mut input: ContactInput) -> Result<Contact, ApiError> {
    who.require(Scope::ContactsWrite)?;
    let consents = std::mem::take(&mut input.consents);
    let changes = input.validate(&schema(app, who).await?)?;
    let consents = super::consent::prepare(app.db.read(), who, consents, rapport_store::now()).await?;
    let tx = app.db.begin().await?;
    let (contact, _) = create_or_apply(&tx, who, None, changes, Precondition::None, Cause::Api).await?;
    super::consent::record_for(&tx, app, who, &contact, consents).await?;
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
    mut input: ContactInput,
    precondition: Precondition,
) -> Result<Contact, ApiError> {
    who.require(Scope::ContactsWrite)?;
    let consents = std::mem::take(&mut input.consents);
    let changes = input.validate(&schema(app, who).await?)?;
    let consents = super::consent::prepare(app.db.read(), who, consents, rapport_store::now()).await?;
    let tx = app.db.begin().await?;
    let before = locked(&tx, who, id, Precondition::None).await?;
    let (contact, _) = create_or_apply(&tx, who, Some(before), changes, precondition, Cause::Api).await?;
    super::consent::record_for(&tx, app, who, &contact, consents).await?;
    super::commit(tx).await?;
    Ok(contact)
}

/// Deletes a contact, with its tags, external ids and lifecycle history. A contact with
/// orders is not deleted: orders are accounting records (erasure removes the person's
/// data and keeps them).
/// # Errors
/// 403, 404, 412; 409 `in_use` when the contact has orders.
pub async fn delete(app: &App, who: &Caller, id: ContactId, precondition: Precondition) -> Result<(), ApiError> {
    who.require(Scope::ContactsWrite)?;
    let tx = app.db.begin().await?;
    // A tombstone stays: it holds the record of the erasure and the consent ledger.
    let before = locked(&tx, who, id, precondition).await?;
    if rapport_store::orders::any_of(&tx, who.workspace(), id).await? {
        return Err(ApiError::InUse(
            "the contact has orders, which are kept as accounting records; erase the contact instead (POST /v1/contacts/{id}/erasure)"
                .into(),
        ));
    }
    // Memberships go with the contact; subscribers hear that it left.
    super::membership::leave_all(&tx, who, id).await?;
    contacts::delete(&tx, who.workspace(), id).await?;
    let e = event(
        EventType::ContactDeleted,
        who,
        rapport_store::now(),
        super::object(&ContactDto::from(&before)),
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
    let before = locked(&tx, who, id, precondition).await?;
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
