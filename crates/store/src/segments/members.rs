//! Segment membership: the current members (`segment_members`) and the spans of past
//! membership (`segment_membership_history`), kept by two paths that agree: the
//! in-memory evaluator for contacts as they change, and [`refresh`] with the SQL
//! evaluator for a whole segment.

use chrono::{DateTime, Utc};
use rapport_domain::contact::Contact;
use rapport_domain::segment::Rule;
use rapport_domain::{ContactId, SegmentId, WorkspaceId};
use sea_orm::sea_query::{Alias, Expr, ExprTrait, OnConflict, Query};
use sea_orm::{ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
use uuid::Uuid;

use super::sql::Compiler;
use crate::entity::{contact, segment_member as sm, segment_membership as sh};
use crate::error::StoreError;
use crate::page::Page;

/// One span of a contact's membership in a segment; `exited_at` is `None` while it
/// lasts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Membership {
    pub segment_id: SegmentId,
    pub contact_id: ContactId,
    pub entered_at: DateTime<Utc>,
    pub exited_at: Option<DateTime<Utc>>,
}

/// What a full refresh changed.
#[derive(Clone, Debug, Default)]
pub struct Refreshed {
    pub entered: Vec<ContactId>,
    /// Contacts that left, with when they had entered.
    pub exited: Vec<(ContactId, DateTime<Utc>)>,
}

/// Rows per statement for id lists.
const CHUNK: usize = 500;

/// How many contacts of the workspace match `rule` at `now` (SQL evaluator).
pub async fn count_matching(
    db: &impl ConnectionTrait,
    ws: WorkspaceId,
    rule: &Rule,
    now: DateTime<Utc>,
) -> Result<u64, StoreError> {
    let compiler = Compiler::new(db.get_database_backend(), now);
    let mut q = Query::select();
    q.expr_as(Expr::cust("COUNT(*)"), Alias::new("n"))
        .from(Alias::new("contacts"));
    compiler.scope(&mut q, ws, rule);
    let row = db.query_one(&q).await?;
    let n: i64 = match row {
        Some(r) => r.try_get("", "n")?,
        None => 0,
    };
    Ok(u64::try_from(n).unwrap_or(0))
}

/// The ids of the contacts matching `rule` at `now`, in id order (SQL evaluator).
pub async fn matching_ids(
    db: &impl ConnectionTrait,
    ws: WorkspaceId,
    rule: &Rule,
    now: DateTime<Utc>,
) -> Result<Vec<ContactId>, StoreError> {
    let compiler = Compiler::new(db.get_database_backend(), now);
    let mut q = compiler.matching(ws, rule);
    q.order_by((Alias::new("contacts"), Alias::new("id")), sea_orm::Order::Asc);
    let rows = db.query_all(&q).await?;
    rows.iter()
        .map(|r| Ok(ContactId::from_uuid(r.try_get::<Uuid>("", "id")?)))
        .collect()
}

/// One page of the contacts matching `rule` at `now`, in id order after `after`.
pub async fn search(
    db: &impl ConnectionTrait,
    ws: WorkspaceId,
    rule: &Rule,
    now: DateTime<Utc>,
    after: Option<Uuid>,
    limit: u64,
) -> Result<Page<Contact>, StoreError> {
    let compiler = Compiler::new(db.get_database_backend(), now);
    let mut ids = compiler.matching(ws, rule);
    if let Some(a) = after {
        ids.and_where(Expr::col((Alias::new("contacts"), Alias::new("id"))).gt(a));
    }
    ids.order_by((Alias::new("contacts"), Alias::new("id")), sea_orm::Order::Asc)
        .limit(limit + 1);
    contacts_page(db, ws, ids, limit).await
}

/// The contacts whose ids `ids` selects (at most `limit + 1`, in id order), as a page.
async fn contacts_page(
    db: &impl ConnectionTrait,
    ws: WorkspaceId,
    ids: sea_orm::sea_query::SelectStatement,
    limit: u64,
) -> Result<Page<Contact>, StoreError> {
    let rows = contact::Entity::find()
        .filter(contact::Column::WorkspaceId.eq(ws.uuid()))
        .filter(contact::Column::Id.in_subquery(ids))
        .order_by_asc(contact::Column::Id)
        .all(db)
        .await?;
    let rows = rows.into_iter().map(Contact::try_from).collect::<Result<Vec<_>, _>>()?;
    Ok(Page::from_rows(rows, limit))
}

/// Reconciles a segment's membership with `rule` at `now` in two statements: members
/// that no longer match leave (their span moves to the history), matching contacts
/// that are not members enter. The caller holds the segment's lock.
pub async fn refresh(
    db: &impl ConnectionTrait,
    ws: WorkspaceId,
    segment: SegmentId,
    rule: &Rule,
    now: DateTime<Utc>,
) -> Result<Refreshed, StoreError> {
    let compiler = Compiler::new(db.get_database_backend(), now);
    let members = Alias::new("segment_members");
    let member_col = |c: &str| Expr::col((Alias::new("segment_members"), Alias::new(c)));
    // Leaving: members with no matching contact.
    let mut still = compiler.matching(ws, rule);
    still.and_where(
        Expr::col((Alias::new("contacts"), Alias::new("id")))
            .equals((Alias::new("segment_members"), Alias::new("contact_id"))),
    );
    let mut gone = Query::delete();
    gone.from_table(members.clone())
        .and_where(member_col("workspace_id").eq(ws.uuid()))
        .and_where(member_col("segment_id").eq(segment.uuid()))
        .and_where(Expr::exists(still).not())
        .returning(Query::returning().columns([Alias::new("contact_id"), Alias::new("entered_at")]));
    let mut out = Refreshed::default();
    for r in db.query_all(&gone).await? {
        out.exited.push((
            ContactId::from_uuid(r.try_get::<Uuid>("", "contact_id")?),
            r.try_get::<DateTime<Utc>>("", "entered_at")?,
        ));
    }
    record_exits(db, ws, segment, &out.exited, now).await?;
    // Entering: matching contacts not yet members, read straight from `contacts` (no
    // self-join, so a plan made on stale statistics cannot turn quadratic).
    let mut is_member = Query::select();
    is_member
        .expr(Expr::val(1))
        .from(members.clone())
        .and_where(member_col("workspace_id").eq(ws.uuid()))
        .and_where(member_col("segment_id").eq(segment.uuid()))
        .and_where(member_col("contact_id").equals((Alias::new("contacts"), Alias::new("id"))));
    let mut select = Query::select();
    select
        .expr(Expr::val(ws.uuid()))
        .expr(Expr::val(segment.uuid()))
        .column((Alias::new("contacts"), Alias::new("id")))
        .expr(Expr::val(now))
        .from(Alias::new("contacts"));
    compiler.scope(&mut select, ws, rule);
    select.and_where(Expr::exists(is_member).not());
    let mut insert = Query::insert();
    insert
        .into_table(members)
        .columns([
            Alias::new("workspace_id"),
            Alias::new("segment_id"),
            Alias::new("contact_id"),
            Alias::new("entered_at"),
        ])
        .select_from(select)
        .map_err(|e| StoreError::corrupt(e.to_string()))?
        .on_conflict(OnConflict::new().do_nothing().to_owned())
        .returning(Query::returning().columns([Alias::new("contact_id")]));
    for r in db.query_all(&insert).await? {
        out.entered
            .push(ContactId::from_uuid(r.try_get::<Uuid>("", "contact_id")?));
    }
    Ok(out)
}

/// The current memberships of these contacts, in any segment.
pub async fn current_for(
    db: &impl ConnectionTrait,
    ws: WorkspaceId,
    contacts: &[ContactId],
) -> Result<Vec<Membership>, StoreError> {
    let mut out = Vec::new();
    for chunk in contacts.chunks(CHUNK) {
        let rows = sm::Entity::find()
            .filter(sm::Column::WorkspaceId.eq(ws.uuid()))
            .filter(sm::Column::ContactId.is_in(chunk.iter().map(|c| c.uuid())))
            .all(db)
            .await?;
        out.extend(rows.into_iter().map(|r| Membership {
            segment_id: SegmentId::from_uuid(r.segment_id),
            contact_id: ContactId::from_uuid(r.contact_id),
            entered_at: r.entered_at,
            exited_at: None,
        }));
    }
    Ok(out)
}

/// Adds memberships that do not exist yet; returns those added (a membership another
/// transaction added first is skipped, so its entry is reported once).
pub async fn enter(
    db: &impl ConnectionTrait,
    ws: WorkspaceId,
    rows: &[(SegmentId, ContactId)],
    at: DateTime<Utc>,
) -> Result<Vec<(SegmentId, ContactId)>, StoreError> {
    let mut added = Vec::new();
    for chunk in rows.chunks(CHUNK) {
        let mut q = Query::insert();
        q.into_table(Alias::new("segment_members")).columns([
            Alias::new("workspace_id"),
            Alias::new("segment_id"),
            Alias::new("contact_id"),
            Alias::new("entered_at"),
        ]);
        for (s, c) in chunk {
            q.values_panic([ws.uuid().into(), s.uuid().into(), c.uuid().into(), at.into()]);
        }
        q.on_conflict(OnConflict::new().do_nothing().to_owned())
            .returning(Query::returning().columns([Alias::new("segment_id"), Alias::new("contact_id")]));
        for r in db.query_all(&q).await? {
            added.push((
                SegmentId::from_uuid(r.try_get::<Uuid>("", "segment_id")?),
                ContactId::from_uuid(r.try_get::<Uuid>("", "contact_id")?),
            ));
        }
    }
    Ok(added)
}

/// Ends memberships: removes them from the current members and records their spans.
/// Returns the spans ended (a membership already ended elsewhere is skipped).
pub async fn exit(
    db: &impl ConnectionTrait,
    ws: WorkspaceId,
    rows: &[(SegmentId, ContactId)],
    at: DateTime<Utc>,
) -> Result<Vec<Membership>, StoreError> {
    let mut ended = Vec::new();
    // Two parameters per row.
    for chunk in rows.chunks(CHUNK) {
        let mut q = Query::delete();
        q.from_table(Alias::new("segment_members"))
            .and_where(Expr::col(Alias::new("workspace_id")).eq(ws.uuid()))
            .and_where(
                Expr::tuple([Expr::col(Alias::new("segment_id")), Expr::col(Alias::new("contact_id"))])
                    .in_tuples(chunk.iter().map(|(s, c)| (s.uuid(), c.uuid()))),
            )
            .returning(Query::returning().columns([
                Alias::new("segment_id"),
                Alias::new("contact_id"),
                Alias::new("entered_at"),
            ]));
        for r in db.query_all(&q).await? {
            ended.push(Membership {
                segment_id: SegmentId::from_uuid(r.try_get::<Uuid>("", "segment_id")?),
                contact_id: ContactId::from_uuid(r.try_get::<Uuid>("", "contact_id")?),
                entered_at: r.try_get("", "entered_at")?,
                exited_at: Some(at),
            });
        }
    }
    // In the order asked, whatever order the database returned them in.
    let order: std::collections::HashMap<(SegmentId, ContactId), usize> =
        rows.iter().enumerate().map(|(i, k)| (*k, i)).collect();
    ended.sort_by_key(|m| order.get(&(m.segment_id, m.contact_id)).copied());
    let history: Vec<sh::ActiveModel> = ended
        .iter()
        .map(|m| span(ws, m.segment_id, m.contact_id, m.entered_at, at))
        .collect();
    for chunk in history.chunks(CHUNK) {
        sh::Entity::insert_many(chunk.to_vec())
            .on_conflict(OnConflict::new().do_nothing().to_owned())
            .exec_without_returning(db)
            .await?;
    }
    Ok(ended)
}

fn span(
    ws: WorkspaceId,
    s: SegmentId,
    c: ContactId,
    entered_at: DateTime<Utc>,
    exited_at: DateTime<Utc>,
) -> sh::ActiveModel {
    sh::ActiveModel {
        workspace_id: Set(ws.uuid()),
        segment_id: Set(s.uuid()),
        contact_id: Set(c.uuid()),
        entered_at: Set(entered_at),
        exited_at: Set(exited_at),
    }
}

async fn record_exits(
    db: &impl ConnectionTrait,
    ws: WorkspaceId,
    segment: SegmentId,
    exited: &[(ContactId, DateTime<Utc>)],
    at: DateTime<Utc>,
) -> Result<(), StoreError> {
    for chunk in exited.chunks(CHUNK) {
        sh::Entity::insert_many(chunk.iter().map(|(c, e)| span(ws, segment, *c, *e, at)))
            .on_conflict(OnConflict::new().do_nothing().to_owned())
            .exec_without_returning(db)
            .await?;
    }
    Ok(())
}

/// How many contacts are members of a segment now.
pub async fn count(db: &impl ConnectionTrait, ws: WorkspaceId, segment: SegmentId) -> Result<u64, StoreError> {
    use sea_orm::PaginatorTrait;
    Ok(sm::Entity::find()
        .filter(sm::Column::WorkspaceId.eq(ws.uuid()))
        .filter(sm::Column::SegmentId.eq(segment.uuid()))
        .count(db)
        .await?)
}

/// Member counts of several segments.
pub async fn counts(
    db: &impl ConnectionTrait,
    ws: WorkspaceId,
    segments: &[SegmentId],
) -> Result<Vec<(SegmentId, u64)>, StoreError> {
    if segments.is_empty() {
        return Ok(Vec::new());
    }
    let mut q = Query::select();
    q.column(Alias::new("segment_id"))
        .expr_as(Expr::cust("COUNT(*)"), Alias::new("n"))
        .from(Alias::new("segment_members"))
        .and_where(Expr::col(Alias::new("workspace_id")).eq(ws.uuid()))
        .and_where(Expr::col(Alias::new("segment_id")).is_in(segments.iter().map(|s| s.uuid())))
        .group_by_col(Alias::new("segment_id"));
    let mut out = Vec::new();
    for r in db.query_all(&q).await? {
        let n: i64 = r.try_get("", "n")?;
        out.push((
            SegmentId::from_uuid(r.try_get::<Uuid>("", "segment_id")?),
            u64::try_from(n).unwrap_or(0),
        ));
    }
    Ok(out)
}

/// One page of a segment's current members (contacts), in id order after `after`.
pub async fn page(
    db: &impl ConnectionTrait,
    ws: WorkspaceId,
    segment: SegmentId,
    after: Option<Uuid>,
    limit: u64,
) -> Result<Page<Contact>, StoreError> {
    let mut ids = Query::select();
    ids.column(sm::Column::ContactId)
        .from(sm::Entity)
        .and_where(sm::Column::WorkspaceId.eq(ws.uuid()))
        .and_where(sm::Column::SegmentId.eq(segment.uuid()));
    if let Some(a) = after {
        ids.and_where(sm::Column::ContactId.gt(a));
    }
    ids.order_by(sm::Column::ContactId, sea_orm::Order::Asc)
        .limit(limit + 1);
    contacts_page(db, ws, ids, limit).await
}

/// A contact's memberships: current ones first, then past spans, newest first.
pub async fn of_contact(
    db: &impl ConnectionTrait,
    ws: WorkspaceId,
    contact: ContactId,
) -> Result<Vec<Membership>, StoreError> {
    let mut out = current_for(db, ws, &[contact]).await?;
    out.sort_by_key(|m| std::cmp::Reverse(m.entered_at));
    let past = sh::Entity::find()
        .filter(sh::Column::WorkspaceId.eq(ws.uuid()))
        .filter(sh::Column::ContactId.eq(contact.uuid()))
        .order_by_desc(sh::Column::ExitedAt)
        .limit(1000)
        .all(db)
        .await?;
    out.extend(past.into_iter().map(|r| Membership {
        segment_id: SegmentId::from_uuid(r.segment_id),
        contact_id: ContactId::from_uuid(r.contact_id),
        entered_at: r.entered_at,
        exited_at: Some(r.exited_at),
    }));
    Ok(out)
}

/// Which of `ids` are live (not erased) contacts of the workspace.
pub async fn live_contacts(
    db: &impl ConnectionTrait,
    ws: WorkspaceId,
    ids: &[ContactId],
) -> Result<Vec<ContactId>, StoreError> {
    let mut out = Vec::new();
    for chunk in ids.chunks(CHUNK) {
        let rows: Vec<Uuid> = contact::Entity::find()
            .select_only()
            .column(contact::Column::Id)
            .filter(contact::Column::WorkspaceId.eq(ws.uuid()))
            .filter(contact::Column::ErasedAt.is_null())
            .filter(contact::Column::Id.is_in(chunk.iter().map(|c| c.uuid())))
            .into_tuple()
            .all(db)
            .await?;
        out.extend(rows.into_iter().map(ContactId::from_uuid));
    }
    Ok(out)
}
