//! Attribute definition use cases.

use rapport_domain::AttributeDefinitionId;
use rapport_domain::attributes::{
    AttributeDefinition, AttributeEntity, DefinitionChanges, MAX_DEFINITIONS, NewDefinitionInput,
};
use rapport_domain::scope::Scope;
use rapport_store::attributes;

use crate::app::App;
use crate::auth::Caller;
use crate::error::{ApiError, OrNotFound};
use crate::http::etag::Precondition;

fn require_read(who: &Caller) -> Result<(), ApiError> {
    if who.has(Scope::ContactsRead) || who.has(Scope::CompaniesRead) || who.has(Scope::AttributesWrite) {
        Ok(())
    } else {
        Err(ApiError::Forbidden(Scope::ContactsRead.as_str()))
    }
}

/// Every definition, optionally of one entity.
/// # Errors
/// 403 without a read scope.
pub async fn list(
    app: &App,
    who: &Caller,
    entity: Option<AttributeEntity>,
) -> Result<Vec<AttributeDefinition>, ApiError> {
    require_read(who)?;
    Ok(attributes::list(app.db.read(), who.workspace(), entity).await?)
}

/// One definition.
/// # Errors
/// 403; 404.
pub async fn get(app: &App, who: &Caller, id: AttributeDefinitionId) -> Result<AttributeDefinition, ApiError> {
    require_read(who)?;
    attributes::get(app.db.read(), who.workspace(), id)
        .await
        .or_not_found("attribute definition")
}

/// Declares an attribute.
/// # Errors
/// 403 without `attributes:write`; 422; 409 when the key exists for that entity.
pub async fn create(app: &App, who: &Caller, input: NewDefinitionInput) -> Result<AttributeDefinition, ApiError> {
    who.require(Scope::AttributesWrite)?;
    let def = input.validate(rapport_store::now())?;
    let tx = app.db.begin().await?;
    if attributes::count(&tx, who.workspace(), def.entity).await? >= MAX_DEFINITIONS as u64 {
        return Err(ApiError::invalid(
            "",
            "limit_reached",
            format!("at most {MAX_DEFINITIONS} attributes per entity"),
        ));
    }
    attributes::insert(&tx, who.workspace(), &def).await?;
    super::commit(tx).await?;
    Ok(def)
}

/// Changes a definition's label, description or enum options. Dropping an option that
/// records still use is refused.
/// # Errors
/// 403; 404; 412; 422; 409 `in_use`.
pub async fn update(
    app: &App,
    who: &Caller,
    id: AttributeDefinitionId,
    changes: DefinitionChanges,
    precondition: Precondition,
) -> Result<AttributeDefinition, ApiError> {
    who.require(Scope::AttributesWrite)?;
    let tx = app.db.begin().await?;
    let before = attributes::get(&tx, who.workspace(), id)
        .await
        .or_not_found("attribute definition")?;
    precondition.check(before.version)?;
    let Some((after, dropped)) = before.changed(changes, rapport_store::now())? else {
        return Ok(before);
    };
    if !dropped.is_empty()
        && attributes::in_use(&tx, who.workspace(), before.entity, &before.key, Some(&dropped)).await?
    {
        return Err(ApiError::InUse(format!(
            "records still hold a dropped option of '{}' ({}); change them first",
            before.key,
            dropped.join(", ")
        )));
    }
    attributes::update(&tx, who.workspace(), &after, before.version).await?;
    super::commit(tx).await?;
    Ok(after)
}

/// Removes a definition no record uses.
/// # Errors
/// 403; 404; 412; 409 `in_use`.
pub async fn delete(
    app: &App,
    who: &Caller,
    id: AttributeDefinitionId,
    precondition: Precondition,
) -> Result<(), ApiError> {
    who.require(Scope::AttributesWrite)?;
    let tx = app.db.begin().await?;
    let before = attributes::get(&tx, who.workspace(), id)
        .await
        .or_not_found("attribute definition")?;
    precondition.check(before.version)?;
    if attributes::in_use(&tx, who.workspace(), before.entity, &before.key, None).await? {
        return Err(ApiError::InUse(format!(
            "records still hold '{}'; remove it from them first",
            before.key
        )));
    }
    let field = match before.entity {
        AttributeEntity::Contact => format!("attributes.{}", before.key),
        AttributeEntity::Company => format!("company.attributes.{}", before.key),
    };
    super::segments::check_field_unused(&tx, who, &field).await?;
    attributes::delete(&tx, who.workspace(), id).await?;
    super::commit(tx).await?;
    Ok(())
}
