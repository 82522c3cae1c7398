//! Erasure requests, and the removal of an erased person's data from stored payloads
//! (outbox events and kept idempotent responses).

use rapport_domain::event::{Actor, ActorKind};
use rapport_domain::privacy::Erasure;
use rapport_domain::{ContactId, ErasureId, WorkspaceId};
use sea_orm::sea_query::{Alias, Expr, ExprTrait, Func};
use sea_orm::{ActiveValue::Set, ColumnTrait, ConnectionTrait, DatabaseBackend, EntityTrait, QueryFilter, QuerySelect};

use crate::entity::{contact_erasure as er, event, idempotency_key as ik};
use crate::error::StoreError;
use crate::page::contains_pattern;

impl TryFrom<er::Model> for Erasure {
    type Error = StoreError;

    fn try_from(m: er::Model) -> Result<Self, StoreError> {
        Ok(Erasure {
            id: ErasureId::from_uuid(m.id),
            contact_id: ContactId::from_uuid(m.contact_id),
            reason: m.reason,
            actor: Actor {
                kind: ActorKind::parse(&m.actor_type).ok_or_else(|| StoreError::corrupt(&m.actor_type))?,
                id: m.actor_id,
            },
            requested_at: m.requested_at,
            erased_at: m.erased_at,
        })
    }
}

/// The erasure of a contact, if it was erased.
pub async fn of_contact(
    db: &impl ConnectionTrait,
    ws: WorkspaceId,
    contact: ContactId,
) -> Result<Option<Erasure>, StoreError> {
    er::Entity::find()
        .filter(er::Column::WorkspaceId.eq(ws.uuid()))
        .filter(er::Column::ContactId.eq(contact.uuid()))
        .one(db)
        .await?
        .map(Erasure::try_from)
        .transpose()
}

/// Records an erasure.
pub async fn insert(db: &impl ConnectionTrait, ws: WorkspaceId, e: &Erasure) -> Result<(), StoreError> {
    er::Entity::insert(er::ActiveModel {
        workspace_id: Set(ws.uuid()),
        id: Set(e.id.uuid()),
        contact_id: Set(e.contact_id.uuid()),
        reason: Set(e.reason.clone()),
        actor_type: Set(e.actor.kind.as_str().to_owned()),
        actor_id: Set(e.actor.id.clone()),
        requested_at: Set(e.requested_at),
        erased_at: Set(e.erased_at),
    })
    .exec_without_returning(db)
    .await?;
    Ok(())
}

/// Rewrites every stored event of the workspace that mentions the contact's id with
/// `redact` applied to its data. Returns how many were rewritten.
pub async fn redact_events(
    db: &impl ConnectionTrait,
    ws: WorkspaceId,
    contact: ContactId,
    redact: impl Fn(&serde_json::Value) -> serde_json::Value,
) -> Result<u64, StoreError> {
    let mentions = Expr::expr(Func::cast_as(Expr::col(event::Column::Data), Alias::new("TEXT")))
        .like(contains_pattern(&contact.to_string()));
    let rows: Vec<(uuid::Uuid, serde_json::Value)> = event::Entity::find()
        .select_only()
        .column(event::Column::Id)
        .column(event::Column::Data)
        .filter(event::Column::WorkspaceId.eq(ws.uuid()))
        .filter(mentions)
        .into_tuple()
        .all(db)
        .await?;
    let mut n = 0;
    for (id, data) in rows {
        let clean = redact(&data);
        if clean != data {
            event::Entity::update_many()
                .col_expr(event::Column::Data, Expr::value(clean))
                .filter(event::Column::WorkspaceId.eq(ws.uuid()))
                .filter(event::Column::Id.eq(id))
                .exec(db)
                .await?;
            n += 1;
        }
    }
    Ok(n)
}

/// Deletes the kept responses (idempotency records) of the workspace whose body mentions
/// any of `terms` (the contact's id and email): a replay must not bring the data back.
pub async fn forget_responses(db: &impl ConnectionTrait, ws: WorkspaceId, terms: &[String]) -> Result<u64, StoreError> {
    let body = match db.get_database_backend() {
        DatabaseBackend::Postgres => Expr::cust("lower(convert_from(response_body, 'UTF8'))"),
        _ => Expr::cust("lower(CAST(response_body AS TEXT))"),
    };
    let mut any = sea_orm::Condition::any();
    for t in terms.iter().filter(|t| !t.is_empty()) {
        any = any.add(Expr::expr(body.clone()).like(contains_pattern(t)));
    }
    Ok(ik::Entity::delete_many()
        .filter(ik::Column::WorkspaceId.eq(ws.uuid()))
        .filter(ik::Column::ResponseBody.is_not_null())
        .filter(any)
        .exec(db)
        .await?
        .rows_affected)
}
