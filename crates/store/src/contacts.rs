//! Contacts repository.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};
use rapport_domain::contact::Contact;
use rapport_domain::email::Email;
use rapport_domain::lifecycle::{Stage, StageState};
use rapport_domain::{CompanyId, ContactId, WorkspaceId};
use sea_orm::sea_query::Query;
use sea_orm::{
    ActiveValue::{NotSet, Set},
    ColumnTrait, Condition, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
};
use serde_json::Value;

use crate::entity::{contact, contact_external_id as ext, contact_tag as tag};
use crate::error::StoreError;
use crate::page::{After, Order, Page, contains_pattern, insert_sized, keyset};

/// Filters for listing contacts; all given filters must match.
#[derive(Clone, Debug, Default)]
pub struct ContactFilter {
    pub stage: Option<Stage>,
    pub tag: Option<String>,
    /// Matches the case-insensitive email key.
    pub email: Option<String>,
    pub company_id: Option<CompanyId>,
    pub updated_since: Option<DateTime<Utc>>,
    /// Every word must appear in the first name, last name or email.
    pub q: Option<String>,
}

fn stage(s: &str) -> Result<Stage, StoreError> {
    Stage::parse(s).ok_or_else(|| StoreError::corrupt(format!("stage {s}")))
}

fn from_json<T: serde::de::DeserializeOwned>(v: Value, what: &str) -> Result<T, StoreError> {
    serde_json::from_value(v).map_err(|e| StoreError::corrupt(format!("{what}: {e}")))
}

fn to_json<T: serde::Serialize>(v: &T) -> Value {
    serde_json::to_value(v).unwrap_or(Value::Null)
}

impl TryFrom<contact::Model> for Contact {
    type Error = StoreError;

    fn try_from(m: contact::Model) -> Result<Self, StoreError> {
        Ok(Contact {
            id: ContactId::from_uuid(m.id),
            workspace_id: WorkspaceId::from_uuid(m.workspace_id),
            email: m.email.map(Email::from_trusted),
            phone: m.phone,
            first_name: m.first_name,
            last_name: m.last_name,
            locale: m.locale,
            country: m.country,
            company_id: m.company_id.map(CompanyId::from_uuid),
            external_ids: from_json(m.external_ids, "external_ids")?,
            tags: from_json(m.tags, "tags")?,
            attributes: from_json(m.attributes, "attributes")?,
            stage: StageState {
                stage: stage(&m.lifecycle_stage)?,
                highest: stage(&m.highest_stage)?,
                entered_at: from_json(m.stage_entered_at, "stage_entered_at")?,
            },
            lead_score: m.lead_score,
            owner_id: m.owner_id,
            version: m.version,
            created_at: m.created_at,
            updated_at: m.updated_at,
            erased_at: m.erased_at,
        })
    }
}

fn active(c: &Contact) -> contact::ActiveModel {
    contact::ActiveModel {
        workspace_id: Set(c.workspace_id.uuid()),
        id: Set(c.id.uuid()),
        email: Set(c.email.as_ref().map(|e| e.as_str().to_owned())),
        email_key: Set(c.email.as_ref().map(Email::key)),
        email_match: Set(c.email.as_ref().map(Email::match_key)),
        name_match: Set(c.name_key()),
        search_text: Set(search_text(c)),
        phone: Set(c.phone.clone()),
        first_name: Set(c.first_name.clone()),
        last_name: Set(c.last_name.clone()),
        locale: Set(c.locale.clone()),
        country: Set(c.country.clone()),
        company_id: Set(c.company_id.map(CompanyId::uuid)),
        external_ids: Set(to_json(&c.external_ids)),
        tags: Set(to_json(&c.tags)),
        attributes: Set(Value::Object(c.attributes.clone())),
        lifecycle_stage: Set(c.stage.stage.as_str().to_owned()),
        highest_stage: Set(c.stage.highest.as_str().to_owned()),
        stage_entered_at: Set(to_json(&c.stage.entered_at)),
        lead_score: Set(c.lead_score),
        owner_id: Set(c.owner_id.clone()),
        version: Set(c.version),
        created_at: Set(c.created_at),
        updated_at: Set(c.updated_at),
        erased_at: Set(c.erased_at),
    }
}

fn by_ws(ws: WorkspaceId) -> sea_orm::Select<contact::Entity> {
    contact::Entity::find().filter(contact::Column::WorkspaceId.eq(ws.uuid()))
}

/// One contact of the workspace.
/// # Errors
/// `NotFound` when it does not exist in `ws`; `Merged` when it was merged into another.
pub async fn get(db: &impl ConnectionTrait, ws: WorkspaceId, id: ContactId) -> Result<Contact, StoreError> {
    match by_ws(ws).filter(contact::Column::Id.eq(id.uuid())).one(db).await? {
        Some(m) => m.try_into(),
        None => Err(crate::merges::missing(db, ws, id).await),
    }
}

/// One contact, locked for the rest of the transaction (PostgreSQL `FOR UPDATE`; on
/// SQLite the write transaction already excludes other writers).
/// # Errors
/// `NotFound` when it does not exist in `ws`; `Merged` when it was merged into another.
pub async fn get_for_update(db: &impl ConnectionTrait, ws: WorkspaceId, id: ContactId) -> Result<Contact, StoreError> {
    match by_ws(ws)
        .filter(contact::Column::Id.eq(id.uuid()))
        .lock_exclusive()
        .one(db)
        .await?
    {
        Some(m) => m.try_into(),
        None => Err(crate::merges::missing(db, ws, id).await),
    }
}

/// Several contacts by id (missing ids are skipped), in no particular order.
pub async fn get_many(
    db: &impl ConnectionTrait,
    ws: WorkspaceId,
    ids: &[ContactId],
) -> Result<Vec<Contact>, StoreError> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    by_ws(ws)
        .filter(contact::Column::Id.is_in(ids.iter().map(|i| i.uuid())))
        .all(db)
        .await?
        .into_iter()
        .map(Contact::try_from)
        .collect()
}

/// The contacts holding these email keys (lowercased addresses); unknown keys are
/// skipped.
pub async fn find_many_by_email_keys(
    db: &impl ConnectionTrait,
    ws: WorkspaceId,
    keys: &[String],
) -> Result<Vec<Contact>, StoreError> {
    let mut out = Vec::new();
    for chunk in keys.chunks(CHUNK) {
        let rows = by_ws(ws)
            .filter(contact::Column::EmailKey.is_in(chunk.iter().cloned()))
            .all(db)
            .await?;
        for r in rows {
            out.push(Contact::try_from(r)?);
        }
    }
    Ok(out)
}

/// The contact with this email (compared case-insensitively), if any.
pub async fn find_by_email(
    db: &impl ConnectionTrait,
    ws: WorkspaceId,
    email: &Email,
) -> Result<Option<Contact>, StoreError> {
    by_ws(ws)
        .filter(contact::Column::EmailKey.eq(email.key()))
        .lock_exclusive()
        .one(db)
        .await?
        .map(Contact::try_from)
        .transpose()
}

/// The id of the contact an external id resolves to, if any: the contact holding it,
/// else the survivor of a merge that dropped it (`aliases`).
pub async fn id_by_external_id(
    db: &impl ConnectionTrait,
    ws: WorkspaceId,
    source: &str,
    id: &str,
) -> Result<Option<ContactId>, StoreError> {
    if let Some(holder) = holder_of_external_id(db, ws, source, id).await? {
        return Ok(Some(holder));
    }
    let pair = [(source.to_owned(), id.to_owned())];
    Ok(crate::aliases::resolve(db, ws, &pair).await?.first().map(|(_, c)| *c))
}

/// The id of the contact holding an external id itself, if any.
async fn holder_of_external_id(
    db: &impl ConnectionTrait,
    ws: WorkspaceId,
    source: &str,
    id: &str,
) -> Result<Option<ContactId>, StoreError> {
    Ok(ext::Entity::find_by_id((ws.uuid(), source.to_owned(), id.to_owned()))
        .one(db)
        .await?
        .map(|m| ContactId::from_uuid(m.contact_id)))
}

/// The contact the first of `pairs` that a contact holds belongs to, else the contact
/// the first of them that is an alias resolves to (a holder always wins over an alias,
/// whichever pair names it); locked.
pub async fn find_by_external_ids(
    db: &impl ConnectionTrait,
    ws: WorkspaceId,
    pairs: &[(String, String)],
) -> Result<Option<Contact>, StoreError> {
    let mut found = None;
    for (source, id) in pairs {
        found = holder_of_external_id(db, ws, source, id).await?;
        if found.is_some() {
            break;
        }
    }
    if found.is_none() {
        let aliased = crate::aliases::resolve(db, ws, pairs).await?;
        found = pairs
            .iter()
            .find_map(|p| aliased.iter().find(|(a, _)| a == p).map(|(_, c)| *c));
    }
    match found {
        Some(cid) => get_for_update(db, ws, cid).await.map(Some),
        None => Ok(None),
    }
}

/// The contact an external id resolves to (as [`id_by_external_id`]), locked.
pub async fn find_by_external_id(
    db: &impl ConnectionTrait,
    ws: WorkspaceId,
    source: &str,
    id: &str,
) -> Result<Option<Contact>, StoreError> {
    match id_by_external_id(db, ws, source, id).await? {
        Some(cid) => get_for_update(db, ws, cid).await.map(Some),
        None => Ok(None),
    }
}

/// Refuses values another contact already holds: the email and each external id.
async fn check_unique(db: &impl ConnectionTrait, c: &Contact, before: Option<&Contact>) -> Result<(), StoreError> {
    let email_changed = before.is_none_or(|b| b.email.as_ref().map(Email::key) != c.email.as_ref().map(Email::key));
    if email_changed && let Some(email) = &c.email {
        let holder = by_ws(c.workspace_id)
            .filter(contact::Column::EmailKey.eq(email.key()))
            .filter(contact::Column::Id.ne(c.id.uuid()))
            .one(db)
            .await?;
        if let Some(h) = holder {
            return Err(StoreError::Conflict {
                field: "email",
                existing: Some(h.id),
            });
        }
    }
    for (source, id) in &c.external_ids {
        if before.is_some_and(|b| b.external_ids.get(source) == Some(id)) {
            continue;
        }
        if let Some(holder) = holder_of_external_id(db, c.workspace_id, source, id).await?
            && holder != c.id
        {
            return Err(StoreError::Conflict {
                field: "external_ids",
                existing: Some(holder.uuid()),
            });
        }
    }
    Ok(())
}

/// Writes the tag and external-id index rows that changed between `before` and `after`.
async fn sync_index_rows(
    db: &impl ConnectionTrait,
    before: Option<&Contact>,
    after: &Contact,
) -> Result<(), StoreError> {
    let ws = after.workspace_id.uuid();
    let cid = after.id.uuid();
    let old_tags: BTreeSet<&String> = before.map(|b| b.tags.iter().collect()).unwrap_or_default();
    let new_tags: BTreeSet<&String> = after.tags.iter().collect();
    let gone: Vec<String> = old_tags.difference(&new_tags).map(|t| (*t).clone()).collect();
    if !gone.is_empty() {
        tag::Entity::delete_many()
            .filter(tag::Column::WorkspaceId.eq(ws))
            .filter(tag::Column::ContactId.eq(cid))
            .filter(tag::Column::Tag.is_in(gone))
            .exec(db)
            .await?;
    }
    let added: Vec<tag::ActiveModel> = new_tags
        .difference(&old_tags)
        .map(|t| tag::ActiveModel {
            workspace_id: Set(ws),
            tag: Set((*t).clone()),
            contact_id: Set(cid),
        })
        .collect();
    if !added.is_empty() {
        tag::Entity::insert_many(added).exec_without_returning(db).await?;
    }

    let empty = BTreeMap::new();
    let old_ids = before.map_or(&empty, |b| &b.external_ids);
    for (source, id) in old_ids {
        if after.external_ids.get(source) != Some(id) {
            ext::Entity::delete_by_id((ws, source.clone(), id.clone()))
                .exec(db)
                .await?;
        }
    }
    let given: Vec<(String, String)> = after
        .external_ids
        .iter()
        .filter(|(s, i)| old_ids.get(*s) != Some(*i))
        .map(|(s, i)| (s.clone(), i.clone()))
        .collect();
    if !given.is_empty() {
        ext::Entity::insert_many(given.iter().map(|(s, i)| ext::ActiveModel {
            workspace_id: Set(ws),
            source: Set(s.clone()),
            external_id: Set(i.clone()),
            contact_id: Set(cid),
        }))
        .exec_without_returning(db)
        .await?;
        crate::aliases::release(db, after.workspace_id, &given).await?;
    }
    Ok(())
}

/// Inserts a new contact.
/// # Errors
/// `Conflict` naming the holder when its email or an external id is taken.
pub async fn insert(db: &impl ConnectionTrait, c: &Contact) -> Result<(), StoreError> {
    check_unique(db, c, None).await?;
    contact::Entity::insert(active(c)).exec_without_returning(db).await?;
    sync_index_rows(db, None, c).await
}

/// Writes `after` over `before` (same contact), provided nobody changed it in between.
/// # Errors
/// `Stale` when the stored version is no longer `before.version`; `Conflict` as for
/// [`insert`].
pub async fn update(db: &impl ConnectionTrait, before: &Contact, after: &Contact) -> Result<(), StoreError> {
    check_unique(db, after, Some(before)).await?;
    let mut am = active(after);
    am.workspace_id = NotSet;
    am.id = NotSet;
    am.created_at = NotSet;
    let res = contact::Entity::update_many()
        .set(am)
        .filter(contact::Column::WorkspaceId.eq(after.workspace_id.uuid()))
        .filter(contact::Column::Id.eq(after.id.uuid()))
        .filter(contact::Column::Version.eq(before.version))
        .exec(db)
        .await?;
    if res.rows_affected == 0 {
        return Err(StoreError::Stale);
    }
    sync_index_rows(db, Some(before), after).await
}

/// Deletes a contact with its tags, external ids and lifecycle history.
/// # Errors
/// `NotFound` when it does not exist in `ws`.
pub async fn delete(db: &impl ConnectionTrait, ws: WorkspaceId, id: ContactId) -> Result<(), StoreError> {
    let res = contact::Entity::delete_many()
        .filter(contact::Column::WorkspaceId.eq(ws.uuid()))
        .filter(contact::Column::Id.eq(id.uuid()))
        .exec(db)
        .await?;
    if res.rows_affected == 0 {
        Err(StoreError::NotFound)
    } else {
        Ok(())
    }
}

/// The contacts linked to a company, locked for update (used when the company goes).
pub async fn linked_to_company(
    db: &impl ConnectionTrait,
    ws: WorkspaceId,
    company: CompanyId,
) -> Result<Vec<Contact>, StoreError> {
    by_ws(ws)
        .filter(contact::Column::CompanyId.eq(company.uuid()))
        .lock_exclusive()
        .all(db)
        .await?
        .into_iter()
        .map(Contact::try_from)
        .collect()
}

/// Separates the parts of `search_text`; a search word never contains it, so no match
/// spans two parts.
const SEP: char = '\u{1f}';

/// The case-folded text a contact is searched by. Folding happens here, with Unicode
/// rules, because SQLite's `lower()` only folds ASCII.
fn search_text(c: &Contact) -> String {
    let parts = [
        c.first_name.as_deref(),
        c.last_name.as_deref(),
        c.email.as_ref().map(Email::as_str),
    ];
    parts
        .iter()
        .flatten()
        .map(|p| p.to_lowercase())
        .collect::<Vec<_>>()
        .join(&SEP.to_string())
}

fn search(q: &str) -> Condition {
    let mut all = Condition::all();
    for word in q.split_whitespace().take(8) {
        all = all.add(contact::Column::SearchText.like(contains_pattern(word)));
    }
    all
}

/// One page of contacts matching `filter`, in `order`, after `after`.
pub async fn list(
    db: &impl ConnectionTrait,
    ws: WorkspaceId,
    filter: &ContactFilter,
    order: Order,
    after: Option<&After>,
    limit: u64,
) -> Result<Page<Contact>, StoreError> {
    use contact::Column as C;
    // Tombstones of erased people are kept for their aggregates, not listed.
    let mut q = by_ws(ws).filter(C::ErasedAt.is_null());
    if let Some(s) = filter.stage {
        q = q.filter(C::LifecycleStage.eq(s.as_str()));
    }
    if let Some(t) = &filter.tag {
        q = q.filter(
            C::Id.in_subquery(
                Query::select()
                    .column(tag::Column::ContactId)
                    .from(tag::Entity)
                    .and_where(tag::Column::WorkspaceId.eq(ws.uuid()))
                    .and_where(tag::Column::Tag.eq(t.clone()))
                    .to_owned(),
            ),
        );
    }
    if let Some(e) = &filter.email {
        q = q.filter(C::EmailKey.eq(e.to_lowercase()));
    }
    if let Some(c) = filter.company_id {
        q = q.filter(C::CompanyId.eq(c.uuid()));
    }
    if let Some(t) = filter.updated_since {
        q = q.filter(C::UpdatedAt.gte(t));
    }
    if let Some(text) = &filter.q {
        q = q.filter(search(text));
    }
    q = keyset(q, C::Id, C::UpdatedAt, order, after);
    let rows = q.limit(limit + 1).all(db).await?;
    let rows = rows.into_iter().map(Contact::try_from).collect::<Result<Vec<_>, _>>()?;
    Ok(Page::from_rows(rows, limit))
}

/// Rows per look-up statement (`IN` lists): well under both databases' parameter limits.
const CHUNK: usize = 500;

/// An estimate of a contact row's encoded size, for [`sized_chunks`].
fn encoded_size(c: &Contact) -> usize {
    let text = |s: &Option<String>| s.as_ref().map_or(0, String::len);
    let json = c
        .attributes
        .iter()
        .map(|(k, v)| k.len() + v.to_string().len() + 4)
        .sum::<usize>()
        + c.tags.iter().map(|t| t.len() + 3).sum::<usize>() * 2
        + c.external_ids.iter().map(|(s, i)| s.len() + i.len() + 6).sum::<usize>();
    c.email.as_ref().map_or(0, |e| e.as_str().len()) * 4
        + text(&c.phone)
        + text(&c.first_name) * 3
        + text(&c.last_name) * 3
        + text(&c.locale)
        + text(&c.country)
        + text(&c.owner_id)
        + json
        + 400
}

/// Inserts many new contacts with their tag and external-id rows in multi-row
/// statements. Uniqueness was checked by the caller; a violation still fails the
/// statement (and the caller's transaction) rather than corrupting anything.
/// # Errors
/// `Conflict` on a unique violation, `Db` otherwise.
pub async fn insert_many(db: &impl ConnectionTrait, new: &[Contact]) -> Result<(), StoreError> {
    insert_sized(db, new, encoded_size, active).await?;
    let all: Vec<&Contact> = new.iter().collect();
    insert_index_rows(db, &all).await
}

/// Writes many changed contacts, each `after` over its `before`, in multi-row
/// statements: the caller holds their locks and checked uniqueness in memory (the
/// database's unique indexes still refuse a violation). Tag and external-id rows of the
/// contacts whose tags or ids changed are rewritten.
/// # Errors
/// `Stale` when a stored version is not older than the one written; `Conflict` on a
/// unique violation; `Db` otherwise.
pub async fn update_many(db: &impl ConnectionTrait, pairs: &[(&Contact, &Contact)]) -> Result<(), StoreError> {
    use sea_orm::sea_query::{Alias, Expr, ExprTrait, OnConflict};
    let afters: Vec<&Contact> = pairs.iter().map(|(_, a)| *a).collect();
    for chunk in crate::page::sized_chunks(&afters, crate::page::STATEMENT_BUDGET, |c| encoded_size(c)) {
        // An upsert on the primary key updates every row of the chunk in one statement;
        // the version guard makes a row changed since it was read count as not written.
        let mut conflict = OnConflict::columns([contact::Column::WorkspaceId, contact::Column::Id]);
        conflict.update_columns([
            contact::Column::Email,
            contact::Column::EmailKey,
            contact::Column::EmailMatch,
            contact::Column::NameMatch,
            contact::Column::SearchText,
            contact::Column::Phone,
            contact::Column::FirstName,
            contact::Column::LastName,
            contact::Column::Locale,
            contact::Column::Country,
            contact::Column::CompanyId,
            contact::Column::ExternalIds,
            contact::Column::Tags,
            contact::Column::Attributes,
            contact::Column::LifecycleStage,
            contact::Column::HighestStage,
            contact::Column::StageEnteredAt,
            contact::Column::LeadScore,
            contact::Column::OwnerId,
            contact::Column::Version,
            contact::Column::UpdatedAt,
            contact::Column::ErasedAt,
        ]);
        // A contact several items of a batch changed is several versions ahead: the guard
        // only refuses to go back (the caller holds the rows' locks).
        conflict.action_and_where(
            Expr::col((contact::Entity, contact::Column::Version))
                .lt(Expr::col((Alias::new("excluded"), contact::Column::Version))),
        );
        let written = contact::Entity::insert_many(chunk.iter().map(|c| {
            let mut am = active(c);
            // The row exists: its creation time stays (the insert half never runs).
            am.created_at = Set(c.created_at);
            am
        }))
        .on_conflict(conflict)
        .exec_without_returning(db)
        .await?;
        if written != chunk.len() as u64 {
            return Err(StoreError::Stale);
        }
    }
    let tags_changed: Vec<&Contact> = pairs
        .iter()
        .filter(|(b, a)| b.tags != a.tags)
        .map(|(_, a)| *a)
        .collect();
    let ids_changed: Vec<&Contact> = pairs
        .iter()
        .filter(|(b, a)| b.external_ids != a.external_ids)
        .map(|(_, a)| *a)
        .collect();
    for chunk in tags_changed.chunks(CHUNK) {
        let (ws, ids) = ids_of(chunk);
        tag::Entity::delete_many()
            .filter(tag::Column::WorkspaceId.eq(ws))
            .filter(tag::Column::ContactId.is_in(ids))
            .exec(db)
            .await?;
    }
    for chunk in ids_changed.chunks(CHUNK) {
        let (ws, ids) = ids_of(chunk);
        ext::Entity::delete_many()
            .filter(ext::Column::WorkspaceId.eq(ws))
            .filter(ext::Column::ContactId.is_in(ids))
            .exec(db)
            .await?;
    }
    insert_tag_rows(db, &tags_changed).await?;
    insert_external_id_rows(db, &ids_changed).await
}

fn ids_of(contacts: &[&Contact]) -> (uuid::Uuid, Vec<uuid::Uuid>) {
    let ws = contacts.first().map(|c| c.workspace_id.uuid()).unwrap_or_default();
    (ws, contacts.iter().map(|c| c.id.uuid()).collect())
}

async fn insert_index_rows(db: &impl ConnectionTrait, contacts: &[&Contact]) -> Result<(), StoreError> {
    insert_tag_rows(db, contacts).await?;
    insert_external_id_rows(db, contacts).await
}

async fn insert_tag_rows(db: &impl ConnectionTrait, contacts: &[&Contact]) -> Result<(), StoreError> {
    let tags: Vec<(&Contact, &String)> = contacts
        .iter()
        .flat_map(|c| c.tags.iter().map(move |t| (*c, t)))
        .collect();
    insert_sized(
        db,
        &tags,
        |(_, t)| 100 + t.len(),
        |(c, t)| tag::ActiveModel {
            workspace_id: Set(c.workspace_id.uuid()),
            tag: Set((*t).clone()),
            contact_id: Set(c.id.uuid()),
        },
    )
    .await?;
    Ok(())
}

async fn insert_external_id_rows(db: &impl ConnectionTrait, contacts: &[&Contact]) -> Result<(), StoreError> {
    let ids: Vec<(&Contact, &String, &String)> = contacts
        .iter()
        .flat_map(|c| c.external_ids.iter().map(move |(s, i)| (*c, s, i)))
        .collect();
    insert_sized(
        db,
        &ids,
        |(_, s, i)| 100 + s.len() + i.len(),
        |(c, s, i)| ext::ActiveModel {
            workspace_id: Set(c.workspace_id.uuid()),
            source: Set((*s).clone()),
            external_id: Set((*i).clone()),
            contact_id: Set(c.id.uuid()),
        },
    )
    .await?;
    let mut given: BTreeMap<WorkspaceId, Vec<(String, String)>> = BTreeMap::new();
    for (c, s, i) in &ids {
        given
            .entry(c.workspace_id)
            .or_default()
            .push(((*s).clone(), (*i).clone()));
    }
    for (ws, pairs) in given {
        crate::aliases::release(db, ws, &pairs).await?;
    }
    Ok(())
}

/// The ids of the contacts holding any of these email keys (not locked).
pub async fn ids_by_email_keys(
    db: &impl ConnectionTrait,
    ws: WorkspaceId,
    keys: &[String],
) -> Result<Vec<ContactId>, StoreError> {
    let mut out = Vec::new();
    for chunk in keys.chunks(CHUNK) {
        let ids: Vec<uuid::Uuid> = by_ws(ws)
            .select_only()
            .column(contact::Column::Id)
            .filter(contact::Column::EmailKey.is_in(chunk.iter().cloned()))
            .into_tuple()
            .all(db)
            .await?;
        out.extend(ids.into_iter().map(ContactId::from_uuid));
    }
    Ok(out)
}

/// Which contacts hold these `(source, external id)` pairs (aliases are
/// `aliases::resolve`'s). The pairs are looked up per source, so each statement is a
/// range of the `(workspace, source, external id)` primary key (a filter on the external
/// id alone would read every row of the workspace).
pub async fn ids_by_external_ids(
    db: &impl ConnectionTrait,
    ws: WorkspaceId,
    pairs: &[(String, String)],
) -> Result<Vec<((String, String), ContactId)>, StoreError> {
    let mut out = Vec::new();
    for (source, ids) in crate::aliases::by_source(pairs) {
        for chunk in ids.chunks(CHUNK) {
            let rows = ext::Entity::find()
                .filter(ext::Column::WorkspaceId.eq(ws.uuid()))
                .filter(ext::Column::Source.eq(source))
                .filter(ext::Column::ExternalId.is_in(chunk.iter().copied()))
                .all(db)
                .await?;
            out.extend(
                rows.into_iter()
                    .map(|r| ((r.source, r.external_id), ContactId::from_uuid(r.contact_id))),
            );
        }
    }
    Ok(out)
}

/// Several contacts by id, locked for update in one statement and in id order: two
/// transactions locking overlapping sets then wait for each other instead of
/// deadlocking.
pub async fn get_many_for_update(
    db: &impl ConnectionTrait,
    ws: WorkspaceId,
    ids: &[ContactId],
) -> Result<Vec<Contact>, StoreError> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    by_ws(ws)
        .filter(contact::Column::Id.is_in(ids.iter().map(|i| i.uuid())))
        .order_by_asc(contact::Column::Id)
        .lock_exclusive()
        .all(db)
        .await?
        .into_iter()
        .map(Contact::try_from)
        .collect()
}
