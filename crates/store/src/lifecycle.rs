//! Lifecycle transition history.

use rapport_domain::event::{Actor, ActorKind};
use rapport_domain::ids::TransitionId;
use rapport_domain::lifecycle::{Cause, Direction, Stage, Transition};
use rapport_domain::{ContactId, WorkspaceId};
use sea_orm::{ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};

use crate::entity::lifecycle_transition as lt;
use crate::error::StoreError;
use crate::page::Page;

fn parse<T>(v: Option<T>, raw: &str) -> Result<T, StoreError> {
    v.ok_or_else(|| StoreError::corrupt(raw))
}

impl TryFrom<lt::Model> for Transition {
    type Error = StoreError;

    fn try_from(m: lt::Model) -> Result<Self, StoreError> {
        Ok(Transition {
            id: TransitionId::from_uuid(m.id),
            contact_id: ContactId::from_uuid(m.contact_id),
            from: m.from_stage.as_deref().map(|s| parse(Stage::parse(s), s)).transpose()?,
            to: parse(Stage::parse(&m.to_stage), &m.to_stage)?,
            direction: parse(Direction::parse(&m.direction), &m.direction)?,
            cause: parse(Cause::parse(&m.cause), &m.cause)?,
            actor: Actor {
                kind: parse(ActorKind::parse(&m.actor_type), &m.actor_type)?,
                id: m.actor_id,
            },
            reason: m.reason,
            at: m.occurred_at,
        })
    }
}

/// Records a transition.
pub async fn record(db: &impl ConnectionTrait, ws: WorkspaceId, t: &Transition) -> Result<(), StoreError> {
    record_many(db, ws, std::slice::from_ref(t)).await
}

/// Records transitions, in multi-row statements.
pub async fn record_many(db: &impl ConnectionTrait, ws: WorkspaceId, ts: &[Transition]) -> Result<(), StoreError> {
    let size =
        |t: &Transition| 250 + t.reason.as_ref().map_or(0, String::len) + t.actor.id.as_ref().map_or(0, String::len);
    crate::page::insert_sized(db, ts, size, |t| active(ws, t)).await?;
    Ok(())
}

fn active(ws: WorkspaceId, t: &Transition) -> lt::ActiveModel {
    lt::ActiveModel {
        workspace_id: Set(ws.uuid()),
        id: Set(t.id.uuid()),
        contact_id: Set(t.contact_id.uuid()),
        from_stage: Set(t.from.map(|s| s.as_str().to_owned())),
        to_stage: Set(t.to.as_str().to_owned()),
        direction: Set(t.direction.as_str().to_owned()),
        cause: Set(t.cause.as_str().to_owned()),
        actor_type: Set(t.actor.kind.as_str().to_owned()),
        actor_id: Set(t.actor.id.clone()),
        reason: Set(t.reason.clone()),
        occurred_at: Set(t.at),
    }
}

/// A contact's transitions, oldest first, after the transition `after`.
pub async fn list(
    db: &impl ConnectionTrait,
    ws: WorkspaceId,
    contact: ContactId,
    after: Option<uuid::Uuid>,
    limit: u64,
) -> Result<Page<Transition>, StoreError> {
    let mut q = lt::Entity::find()
        .filter(lt::Column::WorkspaceId.eq(ws.uuid()))
        .filter(lt::Column::ContactId.eq(contact.uuid()));
    if let Some(a) = after {
        q = q.filter(lt::Column::Id.gt(a));
    }
    let rows = q
        .order_by_asc(lt::Column::Id)
        .limit(limit + 1)
        .all(db)
        .await?
        .into_iter()
        .map(Transition::try_from)
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Page::from_rows(rows, limit))
}

/// Removes the free-text reasons of a contact's transitions (erasure: staff may have
/// written personal details into them); stages, times and causes stay.
pub async fn erase_reasons(db: &impl ConnectionTrait, ws: WorkspaceId, contact: ContactId) -> Result<(), StoreError> {
    lt::Entity::update_many()
        .col_expr(
            lt::Column::Reason,
            sea_orm::sea_query::Expr::value(Option::<String>::None),
        )
        .filter(lt::Column::WorkspaceId.eq(ws.uuid()))
        .filter(lt::Column::ContactId.eq(contact.uuid()))
        .exec(db)
        .await?;
    Ok(())
}
