//! Company use cases.

use rapport_domain::CompanyId;
use rapport_domain::attributes::AttributeEntity;
use rapport_domain::company::{Company, CompanyInput};
use rapport_domain::contact::Applied;
use rapport_domain::event::EventType;
use rapport_domain::lifecycle::Cause;
use rapport_domain::scope::Scope;
use rapport_store::companies::{self, CompanyFilter};
use rapport_store::page::{After, Order, Page};
use rapport_store::{attributes, outbox};

use super::event;
use crate::app::App;
use crate::auth::Caller;
use crate::dto::companies::CompanyDto;
use crate::error::{ApiError, OrNotFound};
use crate::http::etag::Precondition;

/// Creates a company.
/// # Errors
/// 403 without `companies:write`; 422; 409 when the domain belongs to another company.
pub async fn create(app: &App, who: &Caller, input: CompanyInput) -> Result<Company, ApiError> {
    who.require(Scope::CompaniesWrite)?;
    let schema = attributes::schema(app.db.read(), who.workspace(), AttributeEntity::Company).await?;
    let changes = input.validate(&schema, true)?;
    let company = Company::create(CompanyId::new(), who.workspace(), changes, rapport_store::now());
    let tx = app.db.begin().await?;
    companies::insert(&tx, &company).await?;
    let e = event(
        EventType::CompanyCreated,
        who,
        company.created_at,
        super::object(&CompanyDto::from(&company)),
        None,
    );
    outbox::push(&tx, &[e]).await?;
    super::commit(tx).await?;
    Ok(company)
}

/// Creates or updates the company with the input's domain (connectors' `company.upsert`).
/// # Errors
/// As [`create`] and [`update`]; 422 without a domain.
pub async fn upsert_by_domain(
    app: &App,
    who: &Caller,
    input: CompanyInput,
) -> Result<(Company, super::Outcome), ApiError> {
    who.require(Scope::CompaniesWrite)?;
    let rapport_domain::patch::Patch::Set(raw) = &input.domain else {
        return Err(ApiError::invalid(
            "/domain",
            "required",
            "an upsert matches companies by domain",
        ));
    };
    let domain = rapport_domain::company::domain(raw, "/domain")?;
    let filter = CompanyFilter {
        domain: Some(domain),
        ..Default::default()
    };
    let found = companies::list(app.db.read(), who.workspace(), &filter, Order::default(), None, 1).await?;
    match found.items.first() {
        Some(c) => {
            let before = c.version;
            let after = update(app, who, c.id, input, Precondition::None).await?;
            let outcome = if after.version == before {
                super::Outcome::Unchanged
            } else {
                super::Outcome::Updated
            };
            Ok((after, outcome))
        }
        None => Ok((create(app, who, input).await?, super::Outcome::Created)),
    }
}

/// One company.
/// # Errors
/// 403 without `companies:read`; 404.
pub async fn get(app: &App, who: &Caller, id: CompanyId) -> Result<Company, ApiError> {
    who.require(Scope::CompaniesRead)?;
    companies::get(app.db.read(), who.workspace(), id)
        .await
        .or_not_found("company")
}

/// Several companies by id, for batched loading (GraphQL).
/// # Errors
/// 403 without `companies:read`.
pub async fn get_many(app: &App, who: &Caller, ids: &[CompanyId]) -> Result<Vec<Company>, ApiError> {
    who.require(Scope::CompaniesRead)?;
    Ok(companies::get_many(app.db.read(), who.workspace(), ids).await?)
}

/// Applies a merge patch to a company.
/// # Errors
/// 403, 404, 412, 422, 409 for a taken domain.
pub async fn update(
    app: &App,
    who: &Caller,
    id: CompanyId,
    input: CompanyInput,
    precondition: Precondition,
) -> Result<Company, ApiError> {
    who.require(Scope::CompaniesWrite)?;
    let schema = attributes::schema(app.db.read(), who.workspace(), AttributeEntity::Company).await?;
    let changes = input.validate(&schema, false)?;
    let tx = app.db.begin().await?;
    let before = companies::get_for_update(&tx, who.workspace(), id)
        .await
        .or_not_found("company")?;
    precondition.check(before.version)?;
    let Some(after) = before.updated(changes, rapport_store::now()) else {
        return Ok(before);
    };
    companies::update(&tx, &after, before.version).await?;
    let old = super::object(&CompanyDto::from(&before));
    let new = super::object(&CompanyDto::from(&after));
    let changes = rapport_domain::event::changes(&old, &new);
    let e = event(EventType::CompanyUpdated, who, after.updated_at, new, Some(changes));
    outbox::push(&tx, &[e]).await?;
    super::membership::upkeep_company(&tx, who, id).await?;
    super::commit(tx).await?;
    Ok(after)
}

/// Deletes a company. Its contacts stay and are unlinked in the same transaction, each
/// with a `contact.updated` event.
/// # Errors
/// 403 without `companies:write` (and `contacts:write` when contacts must be
/// unlinked); 404; 412.
pub async fn delete(app: &App, who: &Caller, id: CompanyId, precondition: Precondition) -> Result<(), ApiError> {
    who.require(Scope::CompaniesWrite)?;
    let tx = app.db.begin().await?;
    let before = companies::get_for_update(&tx, who.workspace(), id)
        .await
        .or_not_found("company")?;
    precondition.check(before.version)?;
    let now = rapport_store::now();
    let linked = rapport_store::contacts::linked_to_company(&tx, who.workspace(), id).await?;
    if !linked.is_empty() {
        who.require(Scope::ContactsWrite)?;
    }
    for contact in linked {
        let mut after = contact.clone();
        after.company_id = None;
        after.version += 1;
        after.updated_at = now;
        let applied = Applied {
            contact: after,
            moved: None,
            changed: true,
        };
        super::contacts::write_change(&tx, who, &contact, applied, Cause::Api, None).await?;
    }
    companies::delete(&tx, who.workspace(), id).await?;
    outbox::push(
        &tx,
        &[event(
            EventType::CompanyDeleted,
            who,
            now,
            super::object(&CompanyDto::from(&before)),
            None,
        )],
    )
    .await?;
    super::commit(tx).await?;
    Ok(())
}

/// A page of companies. A `domain` filter is normalised as stored domains are, so
/// `https://www.acme.example` finds `acme.example`.
/// # Errors
/// 403 without `companies:read`; 400 `invalid_query` for a domain filter that is not a
/// domain.
pub async fn list(
    app: &App,
    who: &Caller,
    filter: &CompanyFilter,
    order: Order,
    after: Option<&After>,
    limit: u64,
) -> Result<Page<Company>, ApiError> {
    who.require(Scope::CompaniesRead)?;
    let mut filter = filter.clone();
    if let Some(d) = filter.domain.take() {
        let normalised = rapport_domain::company::domain(&d, "domain")
            .map_err(|e| ApiError::bad_request("invalid_query", format!("domain {}", e.message)))?;
        filter.domain = Some(normalised);
    }
    Ok(companies::list(app.db.read(), who.workspace(), &filter, order, after, limit).await?)
}
