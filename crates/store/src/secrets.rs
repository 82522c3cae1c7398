//! Instance-wide secrets generated on first start (e.g. the token signing key), so a
//! fresh install needs no configuration and every replica shares them.

use sea_orm::{ActiveValue::Set, ConnectionTrait, EntityTrait, sea_query::OnConflict};

use crate::entity::instance_secret as s;
use crate::error::StoreError;

/// The secret called `name`, created with `generate` if it does not exist yet. Two
/// processes starting at once agree on one value.
pub async fn get_or_create(
    db: &impl ConnectionTrait,
    name: &str,
    generate: impl FnOnce() -> String,
) -> Result<String, StoreError> {
    if let Some(row) = s::Entity::find_by_id(name.to_owned()).one(db).await? {
        return Ok(row.value);
    }
    s::Entity::insert(s::ActiveModel {
        name: Set(name.to_owned()),
        value: Set(generate()),
        created_at: Set(crate::now()),
    })
    .on_conflict(OnConflict::column(s::Column::Name).do_nothing().to_owned())
    .exec_without_returning(db)
    .await?;
    s::Entity::find_by_id(name.to_owned())
        .one(db)
        .await?
        .map(|r| r.value)
        .ok_or(StoreError::NotFound)
}
