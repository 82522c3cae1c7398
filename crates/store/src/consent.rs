//! The consent ledger: purposes, append-only events, the effective state per purpose
//! and contact point, and double opt-in confirmations.
//!
//! Events are only ever inserted; the one change they undergo is erasure's removal of
//! personal data ([`erase`]). The effective state is kept in `consent_states`, updated in
//! the transaction that records each event, so checks read one row per scope.

use chrono::{DateTime, Utc};
use rapport_domain::consent::{ConsentEvent, ConsentState, LegalBasis, OptInLevel, Proof, Purpose, Status};
use rapport_domain::event::{Actor, ActorKind};
use rapport_domain::{ConsentEventId, ContactId, WorkspaceId};
use sea_orm::sea_query::{InsertStatement, OnConflict};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect, QueryTrait,
};

use crate::entity::{consent_confirmation as cc, consent_event as ce, consent_purpose as cp, consent_state as cs};
use crate::error::StoreError;
use crate::page::Page;

fn parse<T>(v: Option<T>, what: &str, raw: &str) -> Result<T, StoreError> {
    v.ok_or_else(|| StoreError::corrupt(format!("{what} {raw}")))
}

// ---- purposes ----

impl TryFrom<cp::Model> for Purpose {
    type Error = StoreError;

    fn try_from(m: cp::Model) -> Result<Self, StoreError> {
        use rapport_domain::consent::Channel;
        Ok(Purpose {
            channel: parse(Channel::parse(&m.channel), "channel", &m.channel)?,
            default_legal_basis: parse(
                LegalBasis::parse(&m.default_legal_basis),
                "legal basis",
                &m.default_legal_basis,
            )?,
            key: m.key,
            name: m.name,
            description: m.description,
            double_opt_in: m.double_opt_in,
            archived_at: m.archived_at,
            version: m.version,
            created_at: m.created_at,
            updated_at: m.updated_at,
        })
    }
}

fn purpose_row(ws: WorkspaceId, p: &Purpose) -> cp::ActiveModel {
    cp::ActiveModel {
        workspace_id: Set(ws.uuid()),
        key: Set(p.key.clone()),
        name: Set(p.name.clone()),
        description: Set(p.description.clone()),
        channel: Set(p.channel.as_str().to_owned()),
        double_opt_in: Set(p.double_opt_in),
        default_legal_basis: Set(p.default_legal_basis.as_str().to_owned()),
        archived_at: Set(p.archived_at),
        version: Set(p.version),
        created_at: Set(p.created_at),
        updated_at: Set(p.updated_at),
    }
}

/// The statement inserting purposes.
fn insert_purposes(ws: WorkspaceId, purposes: &[Purpose]) -> InsertStatement {
    cp::Entity::insert_many(purposes.iter().map(|p| purpose_row(ws, p))).into_query()
}

/// Gives a new workspace the default purposes.
pub async fn create_defaults(db: &impl ConnectionTrait, ws: WorkspaceId, now: DateTime<Utc>) -> Result<(), StoreError> {
    db.execute(&insert_purposes(ws, &rapport_domain::consent::defaults(now)))
        .await?;
    Ok(())
}

/// The workspace's purposes by key; archived ones only when asked.
pub async fn purposes(db: &impl ConnectionTrait, ws: WorkspaceId, archived: bool) -> Result<Vec<Purpose>, StoreError> {
    let mut q = cp::Entity::find().filter(cp::Column::WorkspaceId.eq(ws.uuid()));
    if !archived {
        q = q.filter(cp::Column::ArchivedAt.is_null());
    }
    q.order_by_asc(cp::Column::Key)
        .all(db)
        .await?
        .into_iter()
        .map(Purpose::try_from)
        .collect()
}

/// One purpose, archived or not.
/// # Errors
/// `NotFound` when the workspace has none with this key.
pub async fn purpose(db: &impl ConnectionTrait, ws: WorkspaceId, key: &str) -> Result<Purpose, StoreError> {
    cp::Entity::find_by_id((ws.uuid(), key.to_owned()))
        .one(db)
        .await?
        .ok_or(StoreError::NotFound)?
        .try_into()
}

/// Inserts a purpose.
/// # Errors
/// `Conflict` when the key is taken.
pub async fn insert_purpose(db: &impl ConnectionTrait, ws: WorkspaceId, p: &Purpose) -> Result<(), StoreError> {
    cp::Entity::insert(purpose_row(ws, p))
        .exec_without_returning(db)
        .await
        .map_err(|e| match StoreError::from(e) {
            StoreError::Conflict { existing, .. } => StoreError::Conflict { field: "key", existing },
            other => other,
        })?;
    crate::workspaces::bump_rules(db, ws).await
}

/// Writes `after` over `before`, provided nobody changed it in between.
/// # Errors
/// `Stale` when the stored version moved.
pub async fn update_purpose(
    db: &impl ConnectionTrait,
    ws: WorkspaceId,
    before: &Purpose,
    after: &Purpose,
) -> Result<(), StoreError> {
    let res = cp::Entity::update_many()
        .set(purpose_row(ws, after))
        .filter(cp::Column::WorkspaceId.eq(ws.uuid()))
        .filter(cp::Column::Key.eq(before.key.clone()))
        .filter(cp::Column::Version.eq(before.version))
        .exec(db)
        .await?;
    if res.rows_affected == 0 {
        return Err(StoreError::Stale);
    }
    crate::workspaces::bump_rules(db, ws).await
}

/// Whether any event records a decision about the purpose.
pub async fn purpose_in_use(db: &impl ConnectionTrait, ws: WorkspaceId, key: &str) -> Result<bool, StoreError> {
    Ok(ce::Entity::find()
        .select_only()
        .column(ce::Column::Id)
        .filter(ce::Column::WorkspaceId.eq(ws.uuid()))
        .filter(ce::Column::Purpose.eq(key))
        .limit(1)
        .into_tuple::<uuid::Uuid>()
        .one(db)
        .await?
        .is_some())
}

/// Deletes a purpose nothing refers to.
/// # Errors
/// `NotFound`; `Conflict` when records refer to it (the foreign key refuses).
pub async fn delete_purpose(db: &impl ConnectionTrait, ws: WorkspaceId, key: &str) -> Result<(), StoreError> {
    cc::Entity::delete_many()
        .filter(cc::Column::WorkspaceId.eq(ws.uuid()))
        .filter(cc::Column::Purpose.eq(key))
        .exec(db)
        .await?;
    let res = cp::Entity::delete_by_id((ws.uuid(), key.to_owned())).exec(db).await?;
    if res.rows_affected == 0 {
        return Err(StoreError::NotFound);
    }
    crate::workspaces::bump_rules(db, ws).await
}

// ---- the ledger ----

impl TryFrom<ce::Model> for ConsentEvent {
    type Error = StoreError;

    fn try_from(m: ce::Model) -> Result<Self, StoreError> {
        Ok(ConsentEvent {
            id: ConsentEventId::from_uuid(m.id),
            contact_id: ContactId::from_uuid(m.contact_id),
            status: parse(Status::parse(&m.status), "status", &m.status)?,
            legal_basis: parse(LegalBasis::parse(&m.legal_basis), "legal basis", &m.legal_basis)?,
            opt_in_level: parse(OptInLevel::parse(&m.opt_in_level), "opt-in level", &m.opt_in_level)?,
            actor: Actor {
                kind: parse(ActorKind::parse(&m.actor_type), "actor", &m.actor_type)?,
                id: m.actor_id,
            },
            purpose: m.purpose,
            contact_point: m.contact_point,
            source: m.source,
            captured_at: m.captured_at,
            recorded_at: m.recorded_at,
            expires_at: m.expires_at,
            proof: Proof {
                ip: m.proof_ip,
                user_agent: m.proof_user_agent,
                policy_version: m.proof_policy_version,
                text: m.proof_text,
                form: m.proof_form,
                page: m.proof_page,
            },
        })
    }
}

fn event_row(ws: WorkspaceId, e: &ConsentEvent) -> ce::ActiveModel {
    ce::ActiveModel {
        workspace_id: Set(ws.uuid()),
        id: Set(e.id.uuid()),
        contact_id: Set(e.contact_id.uuid()),
        purpose: Set(e.purpose.clone()),
        status: Set(e.status.as_str().to_owned()),
        legal_basis: Set(e.legal_basis.as_str().to_owned()),
        opt_in_level: Set(e.opt_in_level.as_str().to_owned()),
        contact_point: Set(e.contact_point.clone()),
        source: Set(e.source.clone()),
        captured_at: Set(e.captured_at),
        recorded_at: Set(e.recorded_at),
        expires_at: Set(e.expires_at),
        proof_ip: Set(e.proof.ip.clone()),
        proof_user_agent: Set(e.proof.user_agent.clone()),
        proof_policy_version: Set(e.proof.policy_version.clone()),
        proof_text: Set(e.proof.text.clone()),
        proof_form: Set(e.proof.form.clone()),
        proof_page: Set(e.proof.page.clone()),
        actor_type: Set(e.actor.kind.as_str().to_owned()),
        actor_id: Set(e.actor.id.clone()),
    }
}

impl TryFrom<cs::Model> for ConsentState {
    type Error = StoreError;

    fn try_from(m: cs::Model) -> Result<Self, StoreError> {
        Ok(ConsentState {
            event_id: ConsentEventId::from_uuid(m.event_id),
            status: parse(Status::parse(&m.status), "status", &m.status)?,
            legal_basis: parse(LegalBasis::parse(&m.legal_basis), "legal basis", &m.legal_basis)?,
            opt_in_level: parse(OptInLevel::parse(&m.opt_in_level), "opt-in level", &m.opt_in_level)?,
            purpose: m.purpose,
            contact_point: Some(m.contact_point).filter(|p| !p.is_empty()),
            source: m.source,
            since: m.since,
            expires_at: m.expires_at,
        })
    }
}

fn state_row(ws: WorkspaceId, contact: ContactId, s: &ConsentState) -> cs::ActiveModel {
    cs::ActiveModel {
        workspace_id: Set(ws.uuid()),
        contact_id: Set(contact.uuid()),
        purpose: Set(s.purpose.clone()),
        contact_point: Set(s.contact_point.clone().unwrap_or_default()),
        event_id: Set(s.event_id.uuid()),
        status: Set(s.status.as_str().to_owned()),
        legal_basis: Set(s.legal_basis.as_str().to_owned()),
        opt_in_level: Set(s.opt_in_level.as_str().to_owned()),
        source: Set(s.source.clone()),
        since: Set(s.since),
        expires_at: Set(s.expires_at),
    }
}

/// The current state of one purpose and contact point of a contact.
pub async fn state(
    db: &impl ConnectionTrait,
    ws: WorkspaceId,
    contact: ContactId,
    purpose: &str,
    point: Option<&str>,
) -> Result<Option<ConsentState>, StoreError> {
    cs::Entity::find_by_id((
        ws.uuid(),
        contact.uuid(),
        purpose.to_owned(),
        point.unwrap_or_default().to_owned(),
    ))
    .one(db)
    .await?
    .map(ConsentState::try_from)
    .transpose()
}

/// Appends an event and moves the effective state when the event decides it. The
/// caller holds the contact's lock, so two events for one contact never race here.
/// Returns the effective state of the event's purpose and contact point afterwards.
pub async fn record(db: &impl ConnectionTrait, ws: WorkspaceId, e: &ConsentEvent) -> Result<ConsentState, StoreError> {
    ce::Entity::insert(event_row(ws, e)).exec_without_returning(db).await?;
    let current = state(db, ws, e.contact_id, &e.purpose, e.contact_point.as_deref()).await?;
    match ConsentState::after(current.as_ref(), e) {
        Some(next) => {
            cs::Entity::insert(state_row(ws, e.contact_id, &next))
                .on_conflict(
                    OnConflict::columns([
                        cs::Column::WorkspaceId,
                        cs::Column::ContactId,
                        cs::Column::Purpose,
                        cs::Column::ContactPoint,
                    ])
                    .update_columns([
                        cs::Column::EventId,
                        cs::Column::Status,
                        cs::Column::LegalBasis,
                        cs::Column::OptInLevel,
                        cs::Column::Source,
                        cs::Column::Since,
                        cs::Column::ExpiresAt,
                    ])
                    .to_owned(),
                )
                .exec_without_returning(db)
                .await?;
            Ok(next)
        }
        None => current.ok_or_else(|| StoreError::corrupt("consent state vanished")),
    }
}

/// Computes a contact's effective states again from its whole ledger (after events of
/// other contacts were moved to it by a merge): per purpose and contact point, the
/// event captured last (ties: the later arrival), as [`record`] decides one at a time.
pub async fn rebuild_states(db: &impl ConnectionTrait, ws: WorkspaceId, contact: ContactId) -> Result<(), StoreError> {
    let events = ce::Entity::find()
        .filter(ce::Column::WorkspaceId.eq(ws.uuid()))
        .filter(ce::Column::ContactId.eq(contact.uuid()))
        .order_by_asc(ce::Column::Id)
        .all(db)
        .await?;
    let events = events
        .into_iter()
        .map(ConsentEvent::try_from)
        .collect::<Result<Vec<_>, _>>()?;
    let states = rapport_domain::consent::effective(&events);
    cs::Entity::delete_many()
        .filter(cs::Column::WorkspaceId.eq(ws.uuid()))
        .filter(cs::Column::ContactId.eq(contact.uuid()))
        .exec(db)
        .await?;
    if !states.is_empty() {
        cs::Entity::insert_many(states.iter().map(|s| state_row(ws, contact, s)))
            .exec_without_returning(db)
            .await?;
    }
    Ok(())
}

/// The effective states of several contacts (all purposes, or one), by contact.
pub async fn states(
    db: &impl ConnectionTrait,
    ws: WorkspaceId,
    contacts: &[ContactId],
    purpose: Option<&str>,
) -> Result<Vec<(ContactId, ConsentState)>, StoreError> {
    let mut out = Vec::new();
    for chunk in contacts.chunks(500) {
        let mut q = cs::Entity::find()
            .filter(cs::Column::WorkspaceId.eq(ws.uuid()))
            .filter(cs::Column::ContactId.is_in(chunk.iter().map(|c| c.uuid())));
        if let Some(p) = purpose {
            q = q.filter(cs::Column::Purpose.eq(p));
        }
        let rows = q
            .order_by_asc(cs::Column::ContactId)
            .order_by_asc(cs::Column::Purpose)
            .order_by_asc(cs::Column::ContactPoint)
            .all(db)
            .await?;
        for r in rows {
            let contact = ContactId::from_uuid(r.contact_id);
            out.push((contact, ConsentState::try_from(r)?));
        }
    }
    Ok(out)
}

/// A contact's events in arrival order, optionally of one purpose, after `after`.
pub async fn events(
    db: &impl ConnectionTrait,
    ws: WorkspaceId,
    contact: ContactId,
    purpose: Option<&str>,
    after: Option<uuid::Uuid>,
    limit: u64,
) -> Result<Page<ConsentEvent>, StoreError> {
    let mut q = ce::Entity::find()
        .filter(ce::Column::WorkspaceId.eq(ws.uuid()))
        .filter(ce::Column::ContactId.eq(contact.uuid()));
    if let Some(p) = purpose {
        q = q.filter(ce::Column::Purpose.eq(p));
    }
    if let Some(a) = after {
        q = q.filter(ce::Column::Id.gt(a));
    }
    let rows = q
        .order_by_asc(ce::Column::Id)
        .limit(limit + 1)
        .all(db)
        .await?
        .into_iter()
        .map(ConsentEvent::try_from)
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Page::from_rows(rows, limit))
}

/// One event of the workspace.
/// # Errors
/// `NotFound`.
pub async fn event(db: &impl ConnectionTrait, ws: WorkspaceId, id: ConsentEventId) -> Result<ConsentEvent, StoreError> {
    ce::Entity::find_by_id((ws.uuid(), id.uuid()))
        .one(db)
        .await?
        .ok_or(StoreError::NotFound)?
        .try_into()
}

// ---- double opt-in ----

/// A confirmation waiting for the person.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Confirmation {
    pub token_hash: String,
    pub contact_id: ContactId,
    pub purpose: String,
    pub contact_point: Option<String>,
    /// The `pending_confirmation` event the token confirms.
    pub event_id: ConsentEventId,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub used_at: Option<DateTime<Utc>>,
}

/// Stores a confirmation.
pub async fn insert_confirmation(
    db: &impl ConnectionTrait,
    ws: WorkspaceId,
    c: &Confirmation,
) -> Result<(), StoreError> {
    cc::Entity::insert(cc::ActiveModel {
        workspace_id: Set(ws.uuid()),
        token_hash: Set(c.token_hash.clone()),
        contact_id: Set(c.contact_id.uuid()),
        purpose: Set(c.purpose.clone()),
        contact_point: Set(c.contact_point.clone().unwrap_or_default()),
        event_id: Set(c.event_id.uuid()),
        created_at: Set(c.created_at),
        expires_at: Set(c.expires_at),
        used_at: Set(c.used_at),
    })
    .exec_without_returning(db)
    .await?;
    Ok(())
}

/// The confirmation with this token hash, locked for the rest of the transaction.
pub async fn confirmation_for_update(
    db: &impl ConnectionTrait,
    ws: WorkspaceId,
    token_hash: &str,
) -> Result<Option<Confirmation>, StoreError> {
    Ok(cc::Entity::find_by_id((ws.uuid(), token_hash.to_owned()))
        .lock_exclusive()
        .one(db)
        .await?
        .map(|m| Confirmation {
            token_hash: m.token_hash,
            contact_id: ContactId::from_uuid(m.contact_id),
            purpose: m.purpose,
            contact_point: Some(m.contact_point).filter(|p| !p.is_empty()),
            event_id: ConsentEventId::from_uuid(m.event_id),
            created_at: m.created_at,
            expires_at: m.expires_at,
            used_at: m.used_at,
        }))
}

/// Marks a confirmation used.
pub async fn use_confirmation(
    db: &impl ConnectionTrait,
    ws: WorkspaceId,
    token_hash: &str,
    at: DateTime<Utc>,
) -> Result<(), StoreError> {
    cc::Entity::update_many()
        .col_expr(cc::Column::UsedAt, sea_orm::sea_query::Expr::value(at))
        .filter(cc::Column::WorkspaceId.eq(ws.uuid()))
        .filter(cc::Column::TokenHash.eq(token_hash))
        .exec(db)
        .await?;
    Ok(())
}

// ---- erasure ----

/// Removes the personal data from a contact's ledger: contact points and the proof's ip
/// and user agent go, and so do the wording, form and page wherever `personal` finds
/// the person in them (a confirmation page's URL may carry the address); the decisions,
/// their times, legal bases and policy versions stay as the record of lawful processing.
/// Contact-point states and pending confirmations go.
pub async fn erase(
    db: &impl ConnectionTrait,
    ws: WorkspaceId,
    contact: ContactId,
    personal: impl Fn(&str) -> bool,
) -> Result<(), StoreError> {
    use sea_orm::sea_query::Expr;
    let null = || Expr::value(Option::<String>::None);
    let rows = ce::Entity::find()
        .filter(ce::Column::WorkspaceId.eq(ws.uuid()))
        .filter(ce::Column::ContactId.eq(contact.uuid()))
        .all(db)
        .await?;
    for r in rows {
        let keep = |v: &Option<String>| v.clone().filter(|t| !personal(t));
        ce::Entity::update_many()
            .col_expr(ce::Column::ContactPoint, null())
            .col_expr(ce::Column::ProofIp, null())
            .col_expr(ce::Column::ProofUserAgent, null())
            .col_expr(ce::Column::ProofText, Expr::value(keep(&r.proof_text)))
            .col_expr(ce::Column::ProofForm, Expr::value(keep(&r.proof_form)))
            .col_expr(ce::Column::ProofPage, Expr::value(keep(&r.proof_page)))
            .filter(ce::Column::WorkspaceId.eq(ws.uuid()))
            .filter(ce::Column::Id.eq(r.id))
            .exec(db)
            .await?;
    }
    cs::Entity::delete_many()
        .filter(cs::Column::WorkspaceId.eq(ws.uuid()))
        .filter(cs::Column::ContactId.eq(contact.uuid()))
        .filter(cs::Column::ContactPoint.ne(""))
        .exec(db)
        .await?;
    cc::Entity::delete_many()
        .filter(cc::Column::WorkspaceId.eq(ws.uuid()))
        .filter(cc::Column::ContactId.eq(contact.uuid()))
        .exec(db)
        .await?;
    Ok(())
}
