//! Order use cases: upsert (one or a batch) by `(source, external_id)`, reads, and what
//! every order change sets off in its transaction: the customer's purchase metrics and
//! the lifecycle moves purchases cause.

use std::collections::BTreeMap;

use rapport_domain::contact::{Contact, ContactChanges};
use rapport_domain::event::EventType;
use rapport_domain::lifecycle::{self, Authority, Cause, Stage};
use rapport_domain::order::{CustomerRef, Order, OrderInput, PurchaseMetrics, ValidOrder};
use rapport_domain::patch::Patch;
use rapport_domain::scope::Scope;
use rapport_domain::{ContactId, OrderId};
use rapport_store::orders::{self, OrderFilter};
use rapport_store::page::{After, Page};
use rapport_store::{StoreError, Tx, contacts, metrics, workspaces};

use super::{Outcome, event, object};
use crate::app::App;
use crate::auth::Caller;
use crate::dto::orders::OrderDto;
use crate::error::{ApiError, OrNotFound};

/// Most orders one batch may carry.
pub const MAX_BATCH: usize = 1000;

/// The result of one order upsert.
pub type Upserted = Result<(Order, Outcome), ApiError>;

/// Creates or updates the order `(source, external_id)`. A new order's customer is
/// resolved by contact id, then by the contact's external id for the order's source,
/// then by email, else created; a re-sent order keeps its contact. Re-sending an order
/// unchanged writes nothing.
/// # Errors
/// 403 without `orders:write`; 422 for invalid input or an unknown `customer.contact_id`;
/// 410 when the customer was erased.
pub async fn upsert(app: &App, who: &Caller, input: OrderInput) -> Upserted {
    who.require(Scope::OrdersWrite)?;
    let valid = input.validate()?;
    // Two requests creating the same order (or customer) at once: the loser's unique
    // violation rolls its transaction back, and the retry finds the winner's row.
    let mut attempt = 0;
    loop {
        attempt += 1;
        let tx = app.db.begin().await?;
        match write(&tx, who, &valid).await {
            Ok(done) => match super::commit(tx).await {
                Ok(()) => return Ok(done),
                Err(ApiError::Stale | ApiError::Conflict { .. }) if attempt < 3 => {}
                Err(e) => return Err(e),
            },
            Err(ApiError::Stale | ApiError::Conflict { .. }) if attempt < 3 => {}
            Err(e) => return Err(e),
        }
    }
}

/// Upserts up to [`MAX_BATCH`] orders in one transaction, each in its own savepoint:
/// every item gets its own result, and valid items are committed even when others
/// fail. Error pointers are located under `/items/{i}`.
/// # Errors
/// 403; 422 for an empty batch or more than [`MAX_BATCH`] items.
pub async fn upsert_batch(
    app: &App,
    who: &Caller,
    items: Vec<Result<OrderInput, ApiError>>,
) -> Result<Vec<Upserted>, ApiError> {
    who.require(Scope::OrdersWrite)?;
    if items.is_empty() || items.len() > MAX_BATCH {
        return Err(ApiError::invalid(
            "/items",
            "invalid_length",
            format!("a batch has 1 to {MAX_BATCH} items; got {}", items.len()),
        ));
    }
    let _turn = app.batches.acquire().await.map_err(|_| ApiError::Unavailable)?;
    let valid: Vec<Result<ValidOrder, ApiError>> =
        items.into_iter().map(|i| i.and_then(|i| Ok(i.validate()?))).collect();
    let tx = app.db.begin().await?;
    let mut results = Vec::with_capacity(valid.len());
    for (i, v) in valid.into_iter().enumerate() {
        let under = |e: ApiError| super::upserts::under(e, &format!("/items/{i}"));
        let v = match v {
            Ok(v) => v,
            Err(e) => {
                results.push(Err(under(e)));
                continue;
            }
        };
        // As for a single upsert: a concurrent creation of the same order or customer is
        // found on the next attempt.
        let mut attempt = 0;
        loop {
            attempt += 1;
            let sp = rapport_store::savepoint(&tx).await?;
            match write(&sp, who, &v).await {
                Ok(done) => {
                    super::commit(sp).await?;
                    results.push(Ok(done));
                    break;
                }
                Err(e) => {
                    sp.rollback().await.map_err(StoreError::from)?;
                    if attempt < 3 && matches!(e, ApiError::Stale | ApiError::Conflict { .. }) {
                        continue;
                    }
                    results.push(Err(under(e)));
                    break;
                }
            }
        }
    }
    super::commit(tx).await?;
    Ok(results)
}

/// Writes one validated order in `tx`.
async fn write(tx: &Tx, who: &Caller, v: &ValidOrder) -> Upserted {
    let ws = who.workspace();
    let now = rapport_store::now();
    let found = orders::find_by_external_id(tx, ws, &v.source, &v.external_id, true).await?;
    match found {
        Some(before) => {
            let Some(after) = before.replaced(v.content.clone(), now) else {
                return Ok((before, Outcome::Unchanged));
            };
            orders::update(tx, &before, &after).await?;
            let old = object(&OrderDto::from(&before));
            let new = object(&OrderDto::from(&after));
            let changes = rapport_domain::event::changes(&old, &new);
            rapport_store::outbox::push(tx, &[event(EventType::OrderUpdated, who, now, new, Some(changes))]).await?;
            purchases_changed(tx, who, &after).await?;
            Ok((after, Outcome::Updated))
        }
        None => {
            let contact = customer(tx, who, &v.source, &v.customer).await?;
            let order = Order::create(
                ws,
                contact,
                v.source.clone(),
                v.external_id.clone(),
                v.content.clone(),
                now,
            );
            orders::insert(tx, &order).await?;
            rapport_store::outbox::push(
                tx,
                &[event(
                    EventType::OrderCreated,
                    who,
                    now,
                    object(&OrderDto::from(&order)),
                    None,
                )],
            )
            .await?;
            purchases_changed(tx, who, &order).await?;
            Ok((order, Outcome::Created))
        }
    }
}

/// The contact a new order belongs to: the one named by id, else the one with the
/// order source's external id, else the one with the email (given the external id when
/// it has none for that source), else a new contact.
async fn customer(tx: &Tx, who: &Caller, source: &str, c: &CustomerRef) -> Result<ContactId, ApiError> {
    let ws = who.workspace();
    if let Some(id) = c.contact_id {
        // An order naming a merged contact goes to the contact it was merged into.
        let found = match contacts::get(tx, ws, id).await {
            Err(StoreError::Merged(into)) => contacts::get(tx, ws, ContactId::from_uuid(into)).await,
            other => other,
        };
        let found = found.map_err(|e| match e {
            StoreError::NotFound => ApiError::invalid(
                "/customer/contact_id",
                "not_found",
                format!("no contact {id} in this workspace"),
            ),
            other => other.into(),
        })?;
        if found.is_erased() {
            return Err(ApiError::erased());
        }
        return Ok(found.id);
    }
    if let Some(ext) = &c.external_id
        && let Some(found) = contacts::find_by_external_id(tx, ws, source, ext).await?
    {
        if found.is_erased() {
            return Err(ApiError::erased());
        }
        return Ok(found.id);
    }
    if let Some(email) = &c.email
        && let Some(found) = contacts::find_by_email(tx, ws, email).await?
    {
        if let Some(ext) = &c.external_id
            && !found.external_ids.contains_key(source)
        {
            let before = super::contacts::locked(tx, who, found.id, crate::http::etag::Precondition::None).await?;
            // Another writer may have given it one for this source meanwhile: that one stays.
            if before.external_ids.contains_key(source) {
                return Ok(found.id);
            }
            let changes = ContactChanges {
                external_ids: Patch::Set(BTreeMap::from([(source.to_owned(), Some(ext.clone()))])),
                ..Default::default()
            };
            let applied = before.apply(changes, Authority::default(), rapport_store::now())?;
            super::contacts::write_change(tx, who, &before, applied, Cause::Order, None).await?;
        }
        return Ok(found.id);
    }
    let changes = ContactChanges {
        email: c.email.clone().map_or(Patch::Absent, Patch::Set),
        phone: c.phone.clone().map_or(Patch::Absent, Patch::Set),
        first_name: c.first_name.clone().map_or(Patch::Absent, Patch::Set),
        last_name: c.last_name.clone().map_or(Patch::Absent, Patch::Set),
        external_ids: c.external_id.as_ref().map_or(Patch::Absent, |ext| {
            Patch::Set(BTreeMap::from([(source.to_owned(), Some(ext.clone()))]))
        }),
        ..Default::default()
    };
    let contact = Contact::create(ContactId::new(), ws, changes, rapport_store::now())?;
    super::contacts::insert_new(tx, who, &contact, Cause::Order).await?;
    Ok(contact.id)
}

/// After an order of `order.contact_id` was created or changed: its metrics are
/// recomputed; when the order (as it is now) counts as a purchase, the lifecycle rules
/// may move the contact (first purchase → customer, second → repeat customer, a recent one
/// brings a churned customer back); its segment memberships are decided again either
/// way.
async fn purchases_changed(tx: &Tx, who: &Caller, order: &Order) -> Result<(), ApiError> {
    let ws = who.workspace();
    // Locked first: concurrent orders of one contact recompute one after the other, each
    // seeing the other's committed order.
    let contact = contacts::get_for_update(tx, ws, order.contact_id).await?;
    let m = metrics::recompute(tx, ws, &[contact.id]).await?;
    if contact.is_erased() {
        return Ok(());
    }
    let purchases = m.get(&contact.id).map_or(0, PurchaseMetrics::order_count);
    let recent = if contact.stage.stage == Stage::Churned {
        let days = workspaces::get(tx, ws).await?.churn_after_days;
        !lifecycle::has_churned(Stage::Customer, order.content.placed_at, days, rapport_store::now())
    } else {
        true
    };
    let moved = order
        .content
        .counts()
        .then(|| lifecycle::after_purchase(contact.stage.stage, purchases, recent))
        .flatten();
    match moved {
        // The move's write decides the contact's segment memberships again.
        Some((to, _)) => move_stage(tx, who, &contact, to, Cause::Order).await,
        // Rules reading metrics or orders may still answer differently now.
        None => Ok(super::membership::upkeep(tx, who, &[contact.id]).await?),
    }
}

/// Moves a locked contact to `to` as an automatic rule (`order` or `rule`).
pub(crate) async fn move_stage(
    tx: &Tx,
    who: &Caller,
    contact: &Contact,
    to: Stage,
    cause: Cause,
) -> Result<(), ApiError> {
    let changes = ContactChanges {
        stage: Some(to),
        ..Default::default()
    };
    let applied = contact.apply(changes, Authority::default(), rapport_store::now())?;
    super::contacts::write_change(tx, who, contact, applied, cause, None).await?;
    Ok(())
}

/// One order.
/// # Errors
/// 403 without `orders:read`; 404.
pub async fn get(app: &App, who: &Caller, id: OrderId) -> Result<Order, ApiError> {
    who.require(Scope::OrdersRead)?;
    orders::get(app.db.read(), who.workspace(), id)
        .await
        .or_not_found("order")
}

/// The order a source knows by `external_id`.
/// # Errors
/// 403 without `orders:read`; 404.
pub async fn get_by_external_id(app: &App, who: &Caller, source: &str, external_id: &str) -> Result<Order, ApiError> {
    who.require(Scope::OrdersRead)?;
    orders::find_by_external_id(app.db.read(), who.workspace(), source, external_id, false)
        .await?
        .ok_or(ApiError::NotFound("order"))
}

/// A page of orders, newest first.
/// # Errors
/// 403 without `orders:read`.
pub async fn list(
    app: &App,
    who: &Caller,
    filter: &OrderFilter,
    after: Option<&After>,
    limit: u64,
) -> Result<Page<Order>, ApiError> {
    who.require(Scope::OrdersRead)?;
    Ok(orders::list(app.db.read(), who.workspace(), filter, after, limit).await?)
}

/// A page of a contact's orders, newest first.
/// # Errors
/// 403 without `orders:read`; 404 for an unknown contact.
pub async fn of_contact(
    app: &App,
    who: &Caller,
    contact: ContactId,
    after: Option<&After>,
    limit: u64,
) -> Result<Page<Order>, ApiError> {
    who.require(Scope::OrdersRead)?;
    contacts::get(app.db.read(), who.workspace(), contact)
        .await
        .or_not_found("contact")?;
    let filter = OrderFilter {
        contact_id: Some(contact),
        ..Default::default()
    };
    Ok(orders::list(app.db.read(), who.workspace(), &filter, after, limit).await?)
}

/// A contact's purchase metrics.
/// # Errors
/// 403 without `contacts:read`; 404 for an unknown contact.
pub async fn metrics_of(app: &App, who: &Caller, contact: ContactId) -> Result<PurchaseMetrics, ApiError> {
    who.require(Scope::ContactsRead)?;
    contacts::get(app.db.read(), who.workspace(), contact)
        .await
        .or_not_found("contact")?;
    Ok(metrics_of_many(app, who, &[contact])
        .await?
        .remove(&contact)
        .unwrap_or_default())
}

/// The purchase metrics of several contacts (for `include=metrics` and GraphQL).
/// # Errors
/// When the database fails.
pub async fn metrics_of_many(
    app: &App,
    who: &Caller,
    contacts: &[ContactId],
) -> Result<std::collections::HashMap<ContactId, PurchaseMetrics>, ApiError> {
    Ok(metrics::get_many(app.db.read(), who.workspace(), contacts).await?)
}

/// Moves the customers of every workspace who bought nothing for the workspace's churn
/// window to `churned` (cause `rule`). Each contact is decided again under its lock, so
/// an order arriving meanwhile keeps it. Returns how many moved.
pub async fn churn(app: &App) -> u64 {
    let all = match workspaces::all(app.db.read()).await {
        Ok(all) => all,
        Err(e) => {
            tracing::warn!(error = %e, "churn check: listing workspaces failed");
            return 0;
        }
    };
    let mut moved = 0;
    for ws in all {
        let who = Caller::new(
            ws.id,
            rapport_domain::scope::ScopeSet::default(),
            rapport_domain::event::Actor::system(),
        );
        match churn_workspace(app, &who, ws.churn_after_days).await {
            Ok(n) => moved += n,
            Err(e) => tracing::warn!(workspace = %ws.id, error = %e, "churn check failed"),
        }
    }
    if moved > 0 {
        tracing::info!(moved, "customers moved to churned");
    }
    moved
}

async fn churn_workspace(app: &App, who: &Caller, days: u32) -> Result<u64, ApiError> {
    let ws = who.workspace();
    let mut moved = 0;
    let mut after = None;
    loop {
        let cutoff = rapport_store::now() - chrono::TimeDelta::days(i64::from(days));
        let lapsed = metrics::lapsed_customers(app.db.read(), ws, cutoff, after, 200).await?;
        let Some(last) = lapsed.last().copied() else {
            return Ok(moved);
        };
        after = Some(last);
        for id in lapsed {
            // One transaction each: a contact that fails is logged and skipped, not
            // retried first on every run.
            match churn_one(app, who, id, days).await {
                Ok(true) => moved += 1,
                Ok(false) => {}
                Err(e) => tracing::warn!(contact = %id, error = %e, "churn check of a contact failed"),
            }
        }
    }
}

/// Moves one lapsed customer to `churned`, deciding again under its lock (an order may
/// have arrived since it was listed). Whether it moved.
async fn churn_one(app: &App, who: &Caller, id: ContactId, days: u32) -> Result<bool, ApiError> {
    let ws = who.workspace();
    let tx = app.db.begin().await?;
    let contact = contacts::get_for_update(&tx, ws, id).await?;
    let last = metrics::get_many(&tx, ws, &[id])
        .await?
        .get(&id)
        .and_then(PurchaseMetrics::last_order_at);
    let lapsed = last.is_some_and(|last| lifecycle::has_churned(contact.stage.stage, last, days, rapport_store::now()));
    if !lapsed || contact.is_erased() {
        return Ok(false);
    }
    move_stage(&tx, who, &contact, Stage::Churned, Cause::Rule).await?;
    super::commit(tx).await?;
    Ok(true)
}
