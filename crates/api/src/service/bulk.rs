//! Batch upserts in bulk: every contact an item could refer to is read in a few
//! statements, the items are applied in order in memory (so item 7 sees what item 3
//! did, exactly as one-by-one processing would), and the results are written in a few
//! multi-row statements. If the database still refuses a write (a concurrent writer
//! took an email in the meantime), the caller falls back to item-by-item savepoints.

use std::collections::{HashMap, HashSet};

use rapport_domain::contact::{Applied, Contact, ContactChanges};
use rapport_domain::lifecycle::{Authority, Cause};
use rapport_domain::patch::Patch;
use rapport_domain::{CompanyId, ContactId};
use rapport_store::{StoreError, Tx, aliases, companies, contacts};

use super::Outcome;
use super::effects::Effects;
use super::upserts::{ItemResult, keep_held_external_ids, keep_stored_email};
use crate::auth::Caller;
use crate::error::ApiError;

/// A contact as stored when the batch began, and as the batch has left it so far.
struct Slot {
    stored: Option<Contact>,
    current: Contact,
}

/// Everything the batch can refer to, indexed by its natural keys.
#[derive(Default)]
struct Known {
    slots: HashMap<ContactId, Slot>,
    /// Contacts in the order the batch first changed them: writes follow it, so a key
    /// one contact gives up is released before another takes it.
    touched: Vec<ContactId>,
    by_email: HashMap<String, ContactId>,
    by_external: HashMap<(String, String), ContactId>,
    /// External ids merges dropped, to the survivors they resolve to when no contact
    /// holds them (`rapport_store::aliases`).
    by_alias: HashMap<(String, String), ContactId>,
    companies: HashSet<CompanyId>,
}

impl Known {
    fn index(&mut self, c: &Contact) {
        if let Some(e) = &c.email {
            self.by_email.insert(e.key(), c.id);
        }
        for (s, i) in &c.external_ids {
            self.by_external.insert((s.clone(), i.clone()), c.id);
        }
    }

    fn unindex(&mut self, c: &Contact) {
        if let Some(e) = &c.email {
            self.by_email.remove(&e.key());
        }
        for (s, i) in &c.external_ids {
            self.by_external.remove(&(s.clone(), i.clone()));
        }
    }

    /// The contact an item refers to: the holder of any of its external ids, then the
    /// survivor any of them is an alias of, then by email.
    fn resolve(&self, changes: &ContactChanges) -> Option<ContactId> {
        if let Patch::Set(ids) = &changes.external_ids {
            let pairs = || {
                ids.iter()
                    .filter_map(|(s, i)| i.as_ref().map(|i| (s.clone(), i.clone())))
            };
            let held = pairs().find_map(|p| self.by_external.get(&p).copied());
            if let Some(id) = held.or_else(|| pairs().find_map(|p| self.by_alias.get(&p).copied())) {
                return Some(id);
            }
        }
        match &changes.email {
            Patch::Set(e) => self.by_email.get(&e.key()).copied(),
            _ => None,
        }
    }

    /// Refuses `c` when another contact holds its email or one of its external ids.
    fn check_unique(&self, c: &Contact) -> Result<(), ApiError> {
        let taken = |field, holder: Option<&ContactId>| match holder {
            Some(h) if *h != c.id => Err(ApiError::from(StoreError::Conflict {
                field,
                existing: Some(h.uuid()),
            })),
            _ => Ok(()),
        };
        if let Some(e) = &c.email {
            taken("email", self.by_email.get(&e.key()))?;
        }
        for (s, i) in &c.external_ids {
            taken("external_ids", self.by_external.get(&(s.clone(), i.clone())))?;
        }
        Ok(())
    }

    /// Records the new state of a contact.
    fn put(&mut self, before: Option<&Contact>, after: Contact) {
        if let Some(b) = before {
            self.unindex(b);
        }
        self.index(&after);
        if !self.touched.contains(&after.id) {
            self.touched.push(after.id);
        }
        match self.slots.get_mut(&after.id) {
            Some(slot) => slot.current = after,
            None => {
                self.slots.insert(
                    after.id,
                    Slot {
                        stored: None,
                        current: after,
                    },
                );
            }
        }
    }
}

/// Reads every contact and company the items name.
async fn prefetch(tx: &Tx, who: &Caller, items: &[Option<ContactChanges>]) -> Result<Known, StoreError> {
    let ws = who.workspace();
    let mut emails = Vec::new();
    let mut pairs = Vec::new();
    let mut company_ids = Vec::new();
    for c in items.iter().flatten() {
        if let Patch::Set(e) = &c.email {
            emails.push(e.key());
        }
        if let Patch::Set(ids) = &c.external_ids {
            pairs.extend(
                ids.iter()
                    .filter_map(|(s, i)| i.as_ref().map(|i| (s.clone(), i.clone()))),
            );
        }
        if let Patch::Set(id) = c.company_id {
            company_ids.push(id);
        }
    }
    // The contacts are found first, then locked together in id order, so concurrent
    // batches touching the same contacts queue behind each other instead of deadlocking.
    emails.sort_unstable();
    emails.dedup();
    pairs.sort_unstable();
    pairs.dedup();
    let mut ids: Vec<ContactId> = contacts::ids_by_email_keys(tx, ws, &emails).await?;
    let held = contacts::ids_by_external_ids(tx, ws, &pairs).await?;
    let held_pairs: HashSet<&(String, String)> = held.iter().map(|(p, _)| p).collect();
    let unheld: Vec<(String, String)> = pairs.iter().filter(|p| !held_pairs.contains(p)).cloned().collect();
    let aliased = aliases::resolve(tx, ws, &unheld).await?;
    ids.extend(held.iter().chain(&aliased).map(|(_, id)| *id));
    ids.sort_unstable();
    ids.dedup();
    let found = contacts::get_many_for_update(tx, ws, &ids).await?;
    let mut known = Known::default();
    for c in found {
        known.index(&c);
        known.slots.insert(
            c.id,
            Slot {
                stored: Some(c.clone()),
                current: c,
            },
        );
    }
    // An alias whose survivor was deleted since the look-up resolves nothing.
    for (pair, id) in aliased {
        if known.slots.contains_key(&id) {
            known.by_alias.insert(pair, id);
        }
    }
    known.companies = companies::existing(tx, ws, &company_ids).await?;
    Ok(known)
}

/// Applies one item in memory.
fn apply_one(
    known: &mut Known,
    who: &Caller,
    effects: &mut Effects,
    changes: ContactChanges,
    cause: Cause,
) -> ItemResult {
    if let Patch::Set(id) = changes.company_id
        && !known.companies.contains(&id)
    {
        return Err(ApiError::invalid(
            "/company_id",
            "not_found",
            format!("no company {id} in this workspace"),
        ));
    }
    let now = rapport_store::now();
    let found = known.resolve(&changes).map(|id| known.slots[&id].current.clone());
    let changes = keep_stored_email(found.as_ref(), changes);
    let changes = keep_held_external_ids(
        found.as_ref(),
        |s, i| known.by_alias.get(&(s.to_owned(), i.to_owned())).copied() == found.as_ref().map(|c| c.id),
        changes,
    );
    match found {
        Some(before) => {
            let Applied {
                contact: after,
                moved,
                changed,
            } = before.apply(changes, Authority::default(), now)?;
            if !changed {
                return Ok((after, Outcome::Unchanged));
            }
            known.check_unique(&after)?;
            effects.changed(who, &before, &after, moved, cause, None);
            known.put(Some(&before), after.clone());
            Ok((after, Outcome::Updated))
        }
        None => {
            let contact = Contact::create(ContactId::new(), who.workspace(), changes, now)?;
            known.check_unique(&contact)?;
            effects.created(who, &contact, cause);
            known.put(None, contact.clone());
            Ok((contact, Outcome::Created))
        }
    }
}

/// Runs a batch in bulk inside `tx`; items that failed validation are `None` and get
/// no result here. `Ok(None)` means the database refused the bulk write and the batch
/// must be retried item by item (in a new transaction).
pub(crate) async fn upsert(
    tx: &Tx,
    who: &Caller,
    items: &[Option<ContactChanges>],
    cause: Cause,
) -> Result<Option<Vec<Option<ItemResult>>>, StoreError> {
    let mut known = prefetch(tx, who, items).await?;
    let mut effects = Effects::default();
    let mut results = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        results.push(item.clone().map(|changes| {
            apply_one(&mut known, who, &mut effects, changes, cause)
                .map_err(|e| super::upserts::under(e, &format!("/items/{i}")))
        }));
    }
    let mut new = Vec::new();
    let mut changed = Vec::new();
    for slot in known.touched.iter().filter_map(|id| known.slots.get(id)) {
        match &slot.stored {
            None => new.push(slot.current.clone()),
            Some(stored) if *stored != slot.current => changed.push((stored, &slot.current)),
            Some(_) => {}
        }
    }
    // Updates first: a key a contact gives up is free before a new contact takes it.
    if let Err(e) = contacts::update_many(tx, &changed).await {
        return retry_or_fail(e);
    }
    if let Err(e) = contacts::insert_many(tx, &new).await {
        return retry_or_fail(e);
    }
    effects.write(tx, who).await?;
    Ok(Some(results))
}

/// A refused write means "do it item by item"; other errors (including deadlocks, which
/// the caller retries) go up.
fn retry_or_fail<T>(e: StoreError) -> Result<Option<T>, StoreError> {
    match e {
        StoreError::Conflict { .. } | StoreError::Stale => Ok(None),
        other => Err(other),
    }
}
