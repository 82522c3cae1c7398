//! Duplicate contacts: suggestions, and merging several into one survivor in one
//! transaction. The survivor keeps every order, lifecycle transition, consent event,
//! pending confirmation, static list and segment history of the merged contacts; their
//! ids redirect to it from then on, and so do the external ids it could not keep (it
//! holds one per source): they become aliases of it (`rapport_store::aliases`).

use std::collections::{BTreeMap, BTreeSet};

use rapport_domain::contact::Contact;
use rapport_domain::contact::merge::{self, Dropped, Plan};
use rapport_domain::error::{DomainError, FieldError};
use rapport_domain::event::EventType;
use rapport_domain::lifecycle::{self, Cause, Stage};
use rapport_domain::scope::Scope;
use rapport_domain::segment::{Segment, SegmentKind};
use rapport_domain::{ContactId, SegmentId};
use rapport_store::duplicates::{self, Group, Reason};
use rapport_store::segments::{self, members};
use rapport_store::{Tx, aliases, consent, contacts, merges, metrics, outbox, workspaces};
use serde_json::json;

use super::{event, object};
use crate::app::App;
use crate::auth::Caller;
use crate::dto::contacts::{ContactDto, DroppedExternalId};
use crate::error::ApiError;
use crate::http::etag::Precondition;

/// What a merge did.
#[derive(Debug)]
pub struct Merge {
    pub contact: Contact,
    pub merged_ids: Vec<ContactId>,
    pub dropped: Vec<Dropped>,
}

/// Merges `from` into `id` (see the module documentation and `contact::merge` for
/// which values win).
/// # Errors
/// 403 without `contacts:write`; 404 (410 `contact_merged`) for the survivor; 410
/// `contact_erased`; 412; 422 for a bad request or a `from` id that is not a live
/// contact of the workspace.
pub async fn merge(
    app: &App,
    who: &Caller,
    id: ContactId,
    from: Vec<ContactId>,
    prefer: &BTreeMap<String, ContactId>,
    precondition: Precondition,
) -> Result<Merge, ApiError> {
    who.require(Scope::ContactsWrite)?;
    let plan = Plan::new(id, from, prefer)?;
    // A deadlock with a concurrent writer aborts the transaction: run it again.
    let mut attempt = 0;
    loop {
        attempt += 1;
        match merge_once(app, who, &plan, id, precondition).await {
            Err(ApiError::Stale) if attempt < 3 => {}
            done => return done,
        }
    }
}

async fn merge_once(
    app: &App,
    who: &Caller,
    plan: &Plan,
    id: ContactId,
    precondition: Precondition,
) -> Result<Merge, ApiError> {
    let tx = app.db.begin().await?;
    let ws = who.workspace();
    let (survivor, others) = lock_all(&tx, who, plan, id, precondition).await?;
    let now = rapport_store::now();
    let merged = merge::merge(&survivor, &others, plan, now);
    merge::check_limits(&merged.contact)?;
    // Memberships of the merged contacts end (subscribers hear it); static lists are
    // joined by the survivor below, dynamic ones decided for it.
    let held = members::current_for(&tx, ws, &plan.from).await?;
    for f in &plan.from {
        super::membership::leave_all(&tx, who, *f).await?;
    }
    merges::move_links(&tx, ws, &plan.from, id).await?;
    for f in &plan.from {
        contacts::delete(&tx, ws, *f).await?;
    }
    contacts::update(&tx, &survivor, &merged.contact).await?;
    consent::rebuild_states(&tx, ws, id).await?;
    merges::record(&tx, ws, &plan.from, id, now).await?;
    let dropped_pairs: Vec<(String, String)> = merged
        .dropped
        .iter()
        .map(|d| (d.source.clone(), d.external_id.clone()))
        .collect();
    aliases::record(&tx, ws, id, &dropped_pairs, now).await?;
    join_static_lists(&tx, who, id, &held, now).await?;
    let dropped: Vec<DroppedExternalId> = merged.dropped.iter().map(DroppedExternalId::from).collect();
    outbox::push(
        &tx,
        &[event(
            EventType::ContactMerged,
            who,
            now,
            object(&ContactDto::from(&merged.contact)),
            Some(json!({ "merged_ids": plan.from, "dropped_external_ids": dropped })),
        )],
    )
    .await?;
    purchases_merged(&tx, who, &merged.contact).await?;
    let contact = contacts::get(&tx, ws, id).await?;
    super::commit(tx).await?;
    Ok(Merge {
        contact,
        merged_ids: plan.from.clone(),
        dropped: merged.dropped,
    })
}

/// Locks the survivor and the contacts to merge together in id order (as batch upserts
/// lock theirs, so the two queue instead of deadlocking); the survivor checked against
/// the precondition, the others in the plan's order.
async fn lock_all(
    tx: &Tx,
    who: &Caller,
    plan: &Plan,
    id: ContactId,
    precondition: Precondition,
) -> Result<(Contact, Vec<Contact>), ApiError> {
    let mut ids = plan.from.clone();
    ids.push(id);
    let mut found = contacts::get_many_for_update(tx, who.workspace(), &ids).await?;
    let Some(at) = found.iter().position(|c| c.id == id) else {
        // Not there: the look-up answers why (404, or 410 for a merged contact).
        return Err(super::contacts::locked(tx, who, id, precondition)
            .await
            .err()
            .unwrap_or(ApiError::NotFound("contact")));
    };
    let survivor = found.swap_remove(at);
    if survivor.is_erased() {
        return Err(ApiError::erased());
    }
    precondition.check(survivor.version)?;
    Ok((survivor, in_plan_order(plan, found)?))
}

/// The contacts to merge in the plan's order.
fn in_plan_order(plan: &Plan, mut found: Vec<Contact>) -> Result<Vec<Contact>, ApiError> {
    let mut ordered = Vec::with_capacity(plan.from.len());
    let mut errors = Vec::new();
    for (i, f) in plan.from.iter().enumerate() {
        match found.iter().position(|c| c.id == *f) {
            Some(p) => ordered.push(found.swap_remove(p)),
            None => errors.push(FieldError::new(
                format!("/from/{i}"),
                "not_found",
                format!("no live contact {f} in this workspace"),
            )),
        }
    }
    if !errors.is_empty() {
        return Err(DomainError::Invalid(errors).into());
    }
    if ordered.iter().any(Contact::is_erased) {
        return Err(ApiError::erased());
    }
    Ok(ordered)
}

/// The survivor joins every static list a merged contact was in.
async fn join_static_lists(
    tx: &Tx,
    who: &Caller,
    id: ContactId,
    held: &[members::Membership],
    now: chrono::DateTime<chrono::Utc>,
) -> Result<(), ApiError> {
    let ids: Vec<SegmentId> = held
        .iter()
        .map(|m| m.segment_id)
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    if ids.is_empty() {
        return Ok(());
    }
    let all = segments::get_many(tx, who.workspace(), &ids).await?;
    let lists: BTreeMap<SegmentId, &Segment> = all
        .iter()
        .filter(|s| s.kind == SegmentKind::Static)
        .map(|s| (s.id, s))
        .collect();
    let enter: Vec<(SegmentId, ContactId)> = lists.keys().map(|s| (*s, id)).collect();
    super::membership::apply(tx, who, &lists, &enter, &[], now).await?;
    Ok(())
}

/// Purchase metrics over the combined orders, and the lifecycle rules they imply (two
/// contacts with one order each make a repeat customer); memberships decided again.
async fn purchases_merged(tx: &Tx, who: &Caller, contact: &Contact) -> Result<(), ApiError> {
    let ws = who.workspace();
    let m = metrics::recompute(tx, ws, &[contact.id]).await?;
    let m = m.get(&contact.id);
    let purchases = m.map_or(0, rapport_domain::order::PurchaseMetrics::order_count);
    let last = m.and_then(rapport_domain::order::PurchaseMetrics::last_order_at);
    let moved = match last {
        Some(last) if purchases > 0 => {
            let recent = if contact.stage.stage == Stage::Churned {
                let days = workspaces::get(tx, ws).await?.churn_after_days;
                !lifecycle::has_churned(Stage::Customer, last, days, rapport_store::now())
            } else {
                true
            };
            lifecycle::after_purchase(contact.stage.stage, purchases, recent)
        }
        _ => None,
    };
    match moved {
        Some((to, _)) => super::orders::move_stage(tx, who, contact, to, Cause::Order).await,
        None => Ok(super::membership::upkeep(tx, who, &[contact.id]).await?),
    }
}

/// A page of duplicate groups, of one reason or all, after a position.
/// # Errors
/// 403 without `contacts:read`; 400 `invalid_cursor` for a forged position.
pub async fn duplicates(
    app: &App,
    who: &Caller,
    only: Option<Reason>,
    after: Option<(Reason, Vec<String>)>,
    limit: u64,
) -> Result<(Vec<Group>, bool), ApiError> {
    who.require(Scope::ContactsRead)?;
    let ws = who.workspace();
    let mut out = Vec::new();
    for reason in Reason::ALL {
        if only.is_some_and(|o| o != reason) || after.as_ref().is_some_and(|(r, _)| *r > reason) {
            continue;
        }
        let from = after.as_ref().filter(|(r, _)| *r == reason).map(|(_, k)| k.as_slice());
        let want = limit + 1 - out.len() as u64;
        let found = duplicates::groups(app.db.read(), ws, reason, from, want)
            .await
            .map_err(|e| match e {
                rapport_store::StoreError::NotFound => {
                    ApiError::bad_request("invalid_cursor", "the cursor does not belong to this list")
                }
                other => other.into(),
            })?;
        out.extend(found);
        if out.len() as u64 > limit {
            break;
        }
    }
    let more = out.len() as u64 > limit;
    out.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
    Ok((out, more))
}
