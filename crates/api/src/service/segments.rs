//! Segment use cases: definitions, members, preview, contact search and refresh.

use std::collections::{BTreeMap, BTreeSet};

use rapport_domain::contact::Contact;
use rapport_domain::event::Actor;
use rapport_domain::scope::{Scope, ScopeSet};
use rapport_domain::segment::{FieldInfo, MAX_MEMBER_CHANGE, Rule, Segment, SegmentChanges, SegmentInput, SegmentKind};
use rapport_domain::{ContactId, DomainError, FieldError, SegmentId};
use rapport_store::page::Page;
use rapport_store::segments::{self, Membership, Refreshed, members};
use uuid::Uuid;

use super::membership::{self, registry};
use crate::app::App;
use crate::auth::Caller;
use crate::error::{ApiError, OrNotFound};
use crate::http::etag::Precondition;

/// A segment with its current member count.
#[derive(Clone, Debug)]
pub struct Counted {
    pub segment: Segment,
    pub members: u64,
}

/// The fields rules may test in the caller's workspace.
/// # Errors
/// 403 without `segments:read`.
pub async fn fields(app: &App, who: &Caller) -> Result<Vec<FieldInfo>, ApiError> {
    who.require(Scope::SegmentsRead)?;
    Ok(registry(app.db.read(), who.workspace()).await?.fields())
}

/// Parses a rule sent in a request body under `/rules`.
async fn parse(app: &App, who: &Caller, raw: &serde_json::Value) -> Result<Rule, ApiError> {
    let registry = registry(app.db.read(), who.workspace()).await?;
    Rule::parse(raw, &registry).map_err(|e| ApiError::Domain(e.under("/rules")))
}

/// Creates a segment. A dynamic or snapshot segment is filled at once with the contacts
/// matching its rule (without entry events: that is where it starts).
/// # Errors
/// 403 without `segments:write`; 422 with pointers into the rule.
pub async fn create(app: &App, who: &Caller, input: SegmentInput) -> Result<Counted, ApiError> {
    who.require(Scope::SegmentsWrite)?;
    let now = rapport_store::now();
    let registry = registry(app.db.read(), who.workspace()).await?;
    let (segment, rule) = input.validate(SegmentId::new(), who.workspace(), &registry, now)?;
    let tx = app.db.begin().await?;
    segments::insert(&tx, &segment).await?;
    let mut count = 0;
    if let Some(rule) = &rule {
        count = membership::refresh(&tx, who, &segment, rule, true).await?.entered.len() as u64;
    }
    super::commit(tx).await?;
    let segment = segments::get(app.db.read(), who.workspace(), segment.id).await?;
    Ok(Counted {
        segment,
        members: count,
    })
}

/// One segment with its member count.
/// # Errors
/// 403 without `segments:read`; 404.
pub async fn get(app: &App, who: &Caller, id: SegmentId) -> Result<Counted, ApiError> {
    who.require(Scope::SegmentsRead)?;
    counted(app, who, id).await
}

/// A segment with its member count, read back after a write (the writer may hold
/// `segments:write` alone).
pub(crate) async fn counted(app: &App, who: &Caller, id: SegmentId) -> Result<Counted, ApiError> {
    let segment = segments::get(app.db.read(), who.workspace(), id)
        .await
        .or_not_found("segment")?;
    let members = members::count(app.db.read(), who.workspace(), id).await?;
    Ok(Counted { segment, members })
}

/// A page of segments with their member counts.
/// # Errors
/// 403 without `segments:read`.
pub async fn list(
    app: &App,
    who: &Caller,
    kind: Option<SegmentKind>,
    after: Option<Uuid>,
    limit: u64,
) -> Result<Page<Counted>, ApiError> {
    who.require(Scope::SegmentsRead)?;
    let page = segments::list(app.db.read(), who.workspace(), kind, after, limit).await?;
    let ids: Vec<SegmentId> = page.items.iter().map(|s| s.id).collect();
    let counts: BTreeMap<SegmentId, u64> = members::counts(app.db.read(), who.workspace(), &ids)
        .await?
        .into_iter()
        .collect();
    Ok(page.map(|segment| Counted {
        members: counts.get(&segment.id).copied().unwrap_or(0),
        segment,
    }))
}

/// Renames, re-describes or (dynamic segments) re-defines a segment. A new rule is
/// applied at once: contacts it no longer admits leave, new ones enter, with events.
/// # Errors
/// 403; 404; 412; 422 (also for a rule on a snapshot or static segment).
pub async fn update(
    app: &App,
    who: &Caller,
    id: SegmentId,
    changes: SegmentChanges,
    precondition: Precondition,
) -> Result<Counted, ApiError> {
    who.require(Scope::SegmentsWrite)?;
    let registry = registry(app.db.read(), who.workspace()).await?;
    let tx = app.db.begin().await?;
    let before = segments::get_for_update(&tx, who.workspace(), id)
        .await
        .or_not_found("segment")?;
    precondition.check(before.version)?;
    let Some((after, rule)) = before.apply(changes, &registry, rapport_store::now())? else {
        drop(tx);
        return counted(app, who, id).await;
    };
    segments::update(&tx, &after, before.version).await?;
    if let Some(rule) = &rule {
        membership::refresh(&tx, who, &after, rule, false).await?;
    }
    super::commit(tx).await?;
    counted(app, who, id).await
}

/// Deletes a segment with its membership and history.
/// # Errors
/// 403; 404; 412.
pub async fn delete(app: &App, who: &Caller, id: SegmentId, precondition: Precondition) -> Result<(), ApiError> {
    who.require(Scope::SegmentsWrite)?;
    let tx = app.db.begin().await?;
    let before = segments::get_for_update(&tx, who.workspace(), id)
        .await
        .or_not_found("segment")?;
    precondition.check(before.version)?;
    segments::delete(&tx, who.workspace(), id).await?;
    super::commit(tx).await
}

/// A page of a segment's current members.
/// # Errors
/// 403 without `segments:read` and `contacts:read`; 404.
pub async fn members(
    app: &App,
    who: &Caller,
    id: SegmentId,
    after: Option<Uuid>,
    limit: u64,
) -> Result<Page<Contact>, ApiError> {
    who.require(Scope::SegmentsRead)?;
    who.require(Scope::ContactsRead)?;
    segments::get(app.db.read(), who.workspace(), id)
        .await
        .or_not_found("segment")?;
    Ok(members::page(app.db.read(), who.workspace(), id, after, limit).await?)
}

/// What a rule would select now, without saving anything: the count and a first page.
/// # Errors
/// 403 without `segments:read` and `contacts:read`; 422 with pointers.
pub async fn preview(
    app: &App,
    who: &Caller,
    raw: &serde_json::Value,
    limit: u64,
) -> Result<(u64, Page<Contact>), ApiError> {
    who.require(Scope::SegmentsRead)?;
    who.require(Scope::ContactsRead)?;
    let rule = parse(app, who, raw).await?;
    let now = rapport_store::now();
    let count = members::count_matching(app.db.read(), who.workspace(), &rule, now).await?;
    let page = members::search(app.db.read(), who.workspace(), &rule, now, None, limit).await?;
    Ok((count, page))
}

/// A page of the contacts matching a rule, in id order.
/// # Errors
/// 403 without `contacts:read`; 422 with pointers.
pub async fn search(
    app: &App,
    who: &Caller,
    raw: &serde_json::Value,
    after: Option<Uuid>,
    limit: u64,
) -> Result<Page<Contact>, ApiError> {
    who.require(Scope::ContactsRead)?;
    let rule = parse(app, who, raw).await?;
    Ok(members::search(
        app.db.read(),
        who.workspace(),
        &rule,
        rapport_store::now(),
        after,
        limit,
    )
    .await?)
}

/// Reconciles a dynamic segment with its rule now; returns who entered and left.
/// # Errors
/// 403; 404; 409 `segment_not_dynamic` for snapshot and static segments.
pub async fn refresh(app: &App, who: &Caller, id: SegmentId) -> Result<Refreshed, ApiError> {
    who.require(Scope::SegmentsWrite)?;
    let registry = registry(app.db.read(), who.workspace()).await?;
    let tx = app.db.begin().await?;
    let segment = segments::get_for_update(&tx, who.workspace(), id)
        .await
        .or_not_found("segment")?;
    let (SegmentKind::Dynamic, Some(raw)) = (segment.kind, &segment.rules) else {
        return Err(ApiError::Refused {
            code: "segment_not_dynamic",
            detail: format!(
                "a {} segment is not refreshed: its members do not follow a rule",
                segment.kind
            ),
        });
    };
    let rule = Rule::parse_stored(raw, &registry)?;
    let done = membership::refresh(&tx, who, &segment, &rule, false).await?;
    super::commit(tx).await?;
    Ok(done)
}

/// Reconciles every dynamic segment whose rule depends on the clock (`within_last`,
/// consent, whose grants expire), each in its own transaction under its lock, as the
/// system actor. Failures are logged; the next round tries again.
pub async fn refresh_time_relative(app: &App) {
    let all = match segments::all_dynamic(app.db.read()).await {
        Ok(all) => all,
        Err(e) => {
            tracing::warn!(error = %e, "segment refresh: listing segments failed");
            return;
        }
    };
    for s in all {
        let who = Caller::new(s.workspace_id, ScopeSet::default(), Actor::system());
        let result = async {
            let registry = registry(app.db.read(), s.workspace_id).await?;
            let tx = app.db.begin().await?;
            // The rule is read under the lock: one changed since the listing is the one applied.
            let locked = segments::get_for_update(&tx, s.workspace_id, s.id).await?;
            let (SegmentKind::Dynamic, Some(raw)) = (locked.kind, &locked.rules) else {
                return Ok(None);
            };
            let rule = Rule::parse_stored(raw, &registry)?;
            if !rule.is_time_relative() {
                return Ok(None);
            }
            let done = membership::refresh(&tx, &who, &locked, &rule, false).await?;
            super::commit(tx).await?;
            Ok::<_, ApiError>(Some(done))
        }
        .await;
        match result {
            Ok(Some(done)) if !done.entered.is_empty() || !done.exited.is_empty() => tracing::info!(
                segment = %s.id, entered = done.entered.len(), exited = done.exited.len(), "segment refreshed"
            ),
            Ok(_) => {}
            Err(e) => tracing::warn!(segment = %s.id, error = %e, "segment refresh failed"),
        }
    }
}

/// Whether members of this segment may be set by hand.
fn require_static(segment: &Segment) -> Result<(), ApiError> {
    if segment.kind == SegmentKind::Static {
        Ok(())
    } else {
        Err(ApiError::Refused {
            code: "segment_not_static",
            detail: format!(
                "a {} segment's members follow its rule; only static segments take members",
                segment.kind
            ),
        })
    }
}

/// Checks a list of 1 to 1000 contact ids: every id must be a live contact of the
/// caller's workspace (another workspace's id is unknown here).
async fn contact_ids(tx: &rapport_store::Tx, who: &Caller, ids: &[Uuid]) -> Result<Vec<ContactId>, ApiError> {
    if ids.is_empty() || ids.len() > MAX_MEMBER_CHANGE {
        return Err(DomainError::field(
            "/contact_ids",
            "invalid_length",
            format!("give 1 to {MAX_MEMBER_CHANGE} contact ids"),
        )
        .into());
    }
    let wanted: Vec<ContactId> = ids.iter().map(|i| ContactId::from_uuid(*i)).collect();
    let live: BTreeSet<ContactId> = members::live_contacts(tx, who.workspace(), &wanted)
        .await?
        .into_iter()
        .collect();
    let missing: Vec<FieldError> = wanted
        .iter()
        .enumerate()
        .filter(|(_, id)| !live.contains(id))
        .map(|(i, id)| {
            FieldError::new(
                format!("/contact_ids/{i}"),
                "not_found",
                format!("no contact {id} in this workspace"),
            )
        })
        .collect();
    if missing.is_empty() {
        Ok(wanted)
    } else {
        Err(DomainError::Invalid(missing).into())
    }
}

/// Adds contacts to a static segment (those already in it stay as they are); returns
/// how many were added. All or nothing: one unknown id refuses the call.
/// # Errors
/// 403; 404; 409 `segment_not_static`; 422 naming unknown ids.
pub async fn add_members(app: &App, who: &Caller, id: SegmentId, ids: &[Uuid]) -> Result<u64, ApiError> {
    change_members(app, who, id, ids, true).await
}

/// Removes contacts from a static segment; returns how many were members.
/// # Errors
/// As [`add_members`].
pub async fn remove_members(app: &App, who: &Caller, id: SegmentId, ids: &[Uuid]) -> Result<u64, ApiError> {
    change_members(app, who, id, ids, false).await
}

async fn change_members(app: &App, who: &Caller, id: SegmentId, ids: &[Uuid], add: bool) -> Result<u64, ApiError> {
    who.require(Scope::SegmentsWrite)?;
    let tx = app.db.begin().await?;
    let segment = segments::get_for_update(&tx, who.workspace(), id)
        .await
        .or_not_found("segment")?;
    require_static(&segment)?;
    let contacts = contact_ids(&tx, who, ids).await?;
    let rows: Vec<(SegmentId, ContactId)> = contacts.iter().map(|c| (id, *c)).collect();
    let by_id = BTreeMap::from([(id, &segment)]);
    let before = members::count(&tx, who.workspace(), id).await?;
    let (enter, leave) = if add { (rows, Vec::new()) } else { (Vec::new(), rows) };
    membership::apply(&tx, who, &by_id, &enter, &leave, rapport_store::now()).await?;
    let after = members::count(&tx, who.workspace(), id).await?;
    super::commit(tx).await?;
    Ok(after.abs_diff(before))
}

/// A contact's segment memberships, current and past, with the segments they are of.
/// # Errors
/// 403 without `segments:read`; 404 for the contact.
pub async fn of_contact(app: &App, who: &Caller, id: ContactId) -> Result<Vec<(Membership, Segment)>, ApiError> {
    who.require(Scope::SegmentsRead)?;
    rapport_store::contacts::get(app.db.read(), who.workspace(), id)
        .await
        .or_not_found("contact")?;
    let spans = members::of_contact(app.db.read(), who.workspace(), id).await?;
    let ids: Vec<SegmentId> = spans
        .iter()
        .map(|m| m.segment_id)
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let all: BTreeMap<SegmentId, Segment> = segments::get_many(app.db.read(), who.workspace(), &ids)
        .await?
        .into_iter()
        .map(|s| (s.id, s))
        .collect();
    Ok(spans
        .into_iter()
        .filter_map(|m| all.get(&m.segment_id).cloned().map(|s| (m, s)))
        .collect())
}

/// Refuses removing a field (an attribute definition or a consent purpose) that a
/// segment's rule names.
/// # Errors
/// 409 `in_use` naming the segments.
pub(crate) async fn check_field_unused(
    db: &impl rapport_store::Conn,
    who: &Caller,
    field: &str,
) -> Result<(), ApiError> {
    let using = segments::naming_field(db, who.workspace(), field).await?;
    if using.is_empty() {
        return Ok(());
    }
    let names: Vec<String> = using.iter().map(|s| format!("'{}'", s.name)).collect();
    Err(ApiError::InUse(format!(
        "`{field}` is used by the rules of segment(s) {}; change those rules first",
        names.join(", ")
    )))
}
