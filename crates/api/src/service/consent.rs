//! Consent use cases: purposes, recording decisions (with double opt-in), reading the
//! effective state and answering "may I contact them for this now?", one or in bulk.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Duration, Utc};
use rapport_domain::consent::{
    ConsentEvent, ConsentState, Decision, NewPurpose, Proof, Purpose, PurposePatch, RecordInput, Status, decide,
};
use rapport_domain::contact::Contact;
use rapport_domain::email::Email;
use rapport_domain::event::EventType;
use rapport_domain::scope::Scope;
use rapport_domain::{ConsentEventId, ContactId};
use rapport_store::consent::{self as store, Confirmation};
use rapport_store::page::Page;
use rapport_store::{Conn, Tx, contacts, outbox};

use crate::app::App;
use crate::auth::{Caller, secret};
use crate::dto::consent::{ConfirmationDto, ConsentEventDto, ConsentStateDto};
use crate::error::{ApiError, OrNotFound};
use crate::http::etag::Precondition;

/// Most contacts one bulk check answers for.
pub const MAX_CHECK: usize = 1000;

/// A recorded decision and what it left behind.
#[derive(Clone, Debug)]
pub struct Recorded {
    pub event: ConsentEvent,
    pub effective: ConsentState,
    pub confirmation: Option<ConfirmationDto>,
}

/// The workspace's purposes.
/// # Errors
/// 403 without `consent:read`.
pub async fn purposes(app: &App, who: &Caller, archived: bool) -> Result<Vec<Purpose>, ApiError> {
    who.require(Scope::ConsentRead)?;
    Ok(store::purposes(app.db.read(), who.workspace(), archived).await?)
}

/// One purpose.
/// # Errors
/// 403; 404.
pub async fn purpose(app: &App, who: &Caller, key: &str) -> Result<Purpose, ApiError> {
    who.require(Scope::ConsentRead)?;
    store::purpose(app.db.read(), who.workspace(), key)
        .await
        .or_not_found("consent purpose")
}

/// Creates a purpose.
/// # Errors
/// 403 without `consent:manage`; 422; 409 when the key is taken.
pub async fn create_purpose(app: &App, who: &Caller, input: NewPurpose) -> Result<Purpose, ApiError> {
    who.require(Scope::ConsentManage)?;
    let p = input.validate(rapport_store::now())?;
    let tx = app.db.begin().await?;
    store::insert_purpose(&tx, who.workspace(), &p).await?;
    purpose_event(&tx, who, EventType::ConsentPurposeCreated, None, &p).await?;
    super::commit(tx).await?;
    Ok(p)
}

/// Changes a purpose; `archived` archives or restores it.
/// # Errors
/// 403; 404; 412; 422.
pub async fn update_purpose(
    app: &App,
    who: &Caller,
    key: &str,
    patch: PurposePatch,
    precondition: Precondition,
) -> Result<Purpose, ApiError> {
    who.require(Scope::ConsentManage)?;
    let tx = app.db.begin().await?;
    let before = store::purpose(&tx, who.workspace(), key)
        .await
        .or_not_found("consent purpose")?;
    precondition.check(before.version)?;
    let Some(after) = before.apply(patch, rapport_store::now())? else {
        return Ok(before);
    };
    if after.channel != before.channel && store::purpose_in_use(&tx, who.workspace(), key).await? {
        return Err(ApiError::InUse(format!(
            "decisions were recorded for '{key}' through its {} channel; create another purpose for another channel",
            before.channel
        )));
    }
    store::update_purpose(&tx, who.workspace(), &before, &after).await?;
    purpose_event(&tx, who, EventType::ConsentPurposeUpdated, Some(&before), &after).await?;
    super::commit(tx).await?;
    Ok(after)
}

/// Deletes a purpose no decision was ever recorded for.
/// # Errors
/// 403; 404; 412; 409 `in_use` when the ledger refers to it (archive it instead).
pub async fn delete_purpose(app: &App, who: &Caller, key: &str, precondition: Precondition) -> Result<(), ApiError> {
    who.require(Scope::ConsentManage)?;
    let tx = app.db.begin().await?;
    let p = store::purpose(&tx, who.workspace(), key)
        .await
        .or_not_found("consent purpose")?;
    precondition.check(p.version)?;
    if store::purpose_in_use(&tx, who.workspace(), key).await? {
        return Err(ApiError::InUse(format!(
            "decisions were recorded for the purpose '{key}'; the ledger keeps them, so archive it instead"
        )));
    }
    super::segments::check_field_unused(&tx, who, &format!("consent.{key}")).await?;
    store::delete_purpose(&tx, who.workspace(), key).await?;
    purpose_event(&tx, who, EventType::ConsentPurposeDeleted, None, &p).await?;
    super::commit(tx).await
}

/// Writes a `consent_purpose.*` event (updates carry the changed fields).
async fn purpose_event(
    tx: &Tx,
    who: &Caller,
    kind: EventType,
    before: Option<&Purpose>,
    p: &Purpose,
) -> Result<(), ApiError> {
    let object = super::object(&crate::dto::consent::PurposeDto::from(p));
    let changes = before
        .map(|b| rapport_domain::event::changes(&super::object(&crate::dto::consent::PurposeDto::from(b)), &object));
    let e = super::event(kind, who, rapport_store::now(), object, changes);
    outbox::push(tx, &[e]).await?;
    Ok(())
}

/// The purposes by key, for validating decisions.
pub(crate) async fn purpose_map(db: &impl Conn, who: &Caller) -> Result<HashMap<String, Purpose>, ApiError> {
    Ok(store::purposes(db, who.workspace(), true)
        .await?
        .into_iter()
        .map(|p| (p.key.clone(), p))
        .collect())
}

/// Validates decisions sent with a contact write, located under `/consents/{i}`. The
/// events get their contact when it is known ([`record_for`]).
/// # Errors
/// 403 without `consent:write`; 422 naming every bad field.
pub(crate) async fn prepare(
    db: &impl Conn,
    who: &Caller,
    inputs: Vec<RecordInput>,
    now: DateTime<Utc>,
) -> Result<Vec<ConsentEvent>, ApiError> {
    if inputs.is_empty() {
        return Ok(Vec::new());
    }
    who.require(Scope::ConsentWrite)?;
    validate_all(&purpose_map(db, who).await?, who, inputs, now)
}

/// [`prepare`] with the purposes already read.
/// # Errors
/// As [`prepare`].
pub(crate) fn validate_all(
    purposes: &HashMap<String, Purpose>,
    who: &Caller,
    inputs: Vec<RecordInput>,
    now: DateTime<Utc>,
) -> Result<Vec<ConsentEvent>, ApiError> {
    if inputs.is_empty() {
        return Ok(Vec::new());
    }
    who.require(Scope::ConsentWrite)?;
    let mut events = Vec::with_capacity(inputs.len());
    let mut errors = Vec::new();
    for (i, input) in inputs.into_iter().enumerate() {
        let p = purposes.get(&input.purpose);
        // The contact is set when it is known.
        match input.validate(p, ContactId::from_uuid(uuid::Uuid::nil()), who.actor().clone(), now) {
            Ok(e) => events.push(e),
            Err(e) => errors.push(e.under(&format!("/consents/{i}"))),
        }
    }
    match errors.into_iter().reduce(merge) {
        None => Ok(events),
        Some(e) => Err(e.into()),
    }
}

/// Two refusals as one: validation errors are combined; another refusal wins.
fn merge(a: rapport_domain::DomainError, b: rapport_domain::DomainError) -> rapport_domain::DomainError {
    use rapport_domain::DomainError::Invalid;
    match (a, b) {
        (Invalid(mut x), Invalid(y)) => {
            x.extend(y);
            Invalid(x)
        }
        (Invalid(_), other) | (other, _) => other,
    }
}

/// Records prepared decisions for `contact` in the caller's transaction; returns the
/// double opt-in tokens issued.
pub(crate) async fn record_for(
    tx: &Tx,
    app: &App,
    who: &Caller,
    contact: &Contact,
    events: Vec<ConsentEvent>,
) -> Result<Vec<ConfirmationDto>, ApiError> {
    if events.is_empty() {
        return Ok(Vec::new());
    }
    let mut issued = Vec::new();
    for mut e in events {
        e.contact_id = contact.id;
        if let Some(c) = write_event(tx, app, who, e).await?.confirmation {
            issued.push(c);
        }
    }
    // Once, after every decision: the contact's memberships follow all of them.
    super::membership::upkeep(tx, who, &[contact.id]).await?;
    Ok(issued)
}

/// Appends one event, moves the effective state, issues a confirmation token for a
/// pending grant and writes `consent.updated`.
async fn write_event(tx: &Tx, app: &App, who: &Caller, event: ConsentEvent) -> Result<Recorded, ApiError> {
    let ws = who.workspace();
    let current = store::state(tx, ws, event.contact_id, &event.purpose, event.contact_point.as_deref()).await?;
    let at = event.recorded_at;
    let event = event.settled(current.as_ref(), at);
    let effective = store::record(tx, ws, &event).await?;
    // A pending grant that arrived late (an older capture) decides nothing: no token.
    let confirmation = if event.status == Status::PendingConfirmation && effective.event_id == event.id {
        Some(
            issue(
                tx,
                app,
                who,
                &ConsentState::from(&event),
                event.contact_id,
                event.recorded_at,
            )
            .await?,
        )
    } else {
        None
    };
    let data = serde_json::json!({
        "object": ConsentEventDto::from(&event),
        "effective": ConsentStateDto::new(&effective, event.recorded_at),
        "contact_id": event.contact_id.uuid(),
    });
    let e = rapport_domain::event::Event::new(
        EventType::ConsentUpdated,
        who.workspace(),
        who.actor().clone(),
        event.recorded_at,
        data,
    );
    outbox::push(tx, &[e]).await?;
    Ok(Recorded {
        event,
        effective,
        confirmation,
    })
}

/// Issues a confirmation token for a pending grant (its deciding state).
async fn issue(
    tx: &Tx,
    app: &App,
    who: &Caller,
    pending: &ConsentState,
    contact: ContactId,
    now: DateTime<Utc>,
) -> Result<ConfirmationDto, ApiError> {
    let token = secret::generate_with("rct_").map_err(|e| ApiError::Internal(e.to_string()))?;
    let expires_at = now + Duration::seconds(app.settings.consent_confirmation_seconds);
    let c = Confirmation {
        token_hash: secret::hash(&token),
        contact_id: contact,
        purpose: pending.purpose.clone(),
        contact_point: pending.contact_point.clone(),
        event_id: pending.event_id,
        created_at: now,
        expires_at,
        used_at: None,
    };
    store::insert_confirmation(tx, who.workspace(), &c).await?;
    Ok(ConfirmationDto {
        purpose: pending.purpose.clone(),
        token,
        expires_at,
    })
}

/// A new confirmation token for a grant still waiting for double opt-in ("resend the
/// confirmation email"); earlier tokens for it stay valid until they expire.
/// # Errors
/// 403 without `consent:write`; 404 for the contact or when nothing of the purpose (at
/// that contact point) waits for confirmation; 410 `contact_erased`; 422 for a bad
/// contact point.
pub async fn reissue(
    app: &App,
    who: &Caller,
    id: ContactId,
    purpose: &str,
    contact_point: Option<&str>,
) -> Result<ConfirmationDto, ApiError> {
    who.require(Scope::ConsentWrite)?;
    let tx = app.db.begin().await?;
    let contact = writable(&tx, who, id).await?;
    let p = store::purpose(&tx, who.workspace(), purpose)
        .await
        .or_not_found("consent purpose")?;
    if p.is_archived() {
        return Err(rapport_domain::DomainError::PurposeArchived(p.key).into());
    }
    let point = contact_point
        .map(|raw| rapport_domain::consent::contact_point(raw, p.channel))
        .transpose()?;
    let pending = store::states(&tx, who.workspace(), &[contact.id], Some(purpose))
        .await?
        .into_iter()
        .map(|(_, s)| s)
        .find(|s| s.contact_point == point && s.status == Status::PendingConfirmation)
        .ok_or(ApiError::NotFound("pending confirmation"))?;
    let c = issue(&tx, app, who, &pending, contact.id, rapport_store::now()).await?;
    super::commit(tx).await?;
    Ok(c)
}

/// A contact that may take new records.
async fn writable(tx: &Tx, who: &Caller, id: ContactId) -> Result<Contact, ApiError> {
    let c = contacts::get_for_update(tx, who.workspace(), id)
        .await
        .or_not_found("contact")?;
    if c.is_erased() {
        return Err(ApiError::erased());
    }
    Ok(c)
}

/// Records a decision.
/// # Errors
/// 403 without `consent:write`; 404; 410 `contact_erased`; 422 (validation,
/// `purpose_archived`).
pub async fn record(app: &App, who: &Caller, id: ContactId, input: RecordInput) -> Result<Recorded, ApiError> {
    who.require(Scope::ConsentWrite)?;
    let now = rapport_store::now();
    let tx = app.db.begin().await?;
    let contact = writable(&tx, who, id).await?;
    let purpose = store::purpose(&tx, who.workspace(), &input.purpose).await;
    let purpose = match purpose {
        Ok(p) => Some(p),
        Err(rapport_store::StoreError::NotFound) => None,
        Err(e) => return Err(e.into()),
    };
    let event = input.validate(purpose.as_ref(), contact.id, who.actor().clone(), now)?;
    let recorded = write_event(&tx, app, who, event).await?;
    super::membership::upkeep(&tx, who, &[recorded.event.contact_id]).await?;
    super::commit(tx).await?;
    Ok(recorded)
}

/// Confirms a pending double opt-in grant: records a confirmed grant captured now.
/// # Errors
/// 403 without `consent:write`; 404 for an unknown token (or another workspace's);
/// 409 `confirmation_token_used` / `confirmation_superseded`; 410
/// `confirmation_token_expired`; 410 `contact_erased`.
pub async fn confirm(app: &App, who: &Caller, token: &str, proof: Proof) -> Result<Recorded, ApiError> {
    who.require(Scope::ConsentWrite)?;
    let proof = rapport_domain::consent::proof(proof).map_err(rapport_domain::DomainError::Invalid)?;
    let now = rapport_store::now();
    let hash = secret::hash(token.trim());
    let tx = app.db.begin().await?;
    // Lock in the order every writer does: the contact, then what hangs off it.
    let found = store::confirmation_for_update(&tx, who.workspace(), &hash)
        .await?
        .ok_or(ApiError::NotFound("confirmation token"))?;
    let contact = writable(&tx, who, found.contact_id).await?;
    let c = store::confirmation_for_update(&tx, who.workspace(), &hash)
        .await?
        .ok_or(ApiError::NotFound("confirmation token"))?;
    if c.used_at.is_some() {
        return Err(ApiError::Refused {
            code: "confirmation_token_used",
            detail: "this confirmation token was already used".into(),
        });
    }
    if c.expires_at <= now {
        return Err(ApiError::Gone {
            code: "confirmation_token_expired",
            detail: format!("this confirmation token expired at {}", c.expires_at.to_rfc3339()),
        });
    }
    let purpose = store::purpose(&tx, who.workspace(), &c.purpose).await?;
    if purpose.is_archived() {
        return Err(rapport_domain::DomainError::PurposeArchived(purpose.key).into());
    }
    let current = store::state(&tx, who.workspace(), contact.id, &c.purpose, c.contact_point.as_deref()).await?;
    let Some(current) = current.filter(|s| s.event_id == c.event_id) else {
        return Err(ApiError::Refused {
            code: "confirmation_superseded",
            detail: "a later decision about this purpose was recorded after the pending grant".into(),
        });
    };
    let pending = store::event(&tx, who.workspace(), c.event_id).await?;
    let event = ConsentEvent {
        id: ConsentEventId::new(),
        contact_id: contact.id,
        purpose: c.purpose.clone(),
        status: Status::Granted,
        legal_basis: pending.legal_basis,
        opt_in_level: rapport_domain::consent::OptInLevel::Confirmed,
        contact_point: c.contact_point.clone(),
        source: "double_opt_in".into(),
        // Never before the grant it confirms (its capture time may run ahead of this
        // server's clock by the allowed skew), so the confirmation always decides.
        captured_at: now.max(current.since),
        recorded_at: now,
        expires_at: pending.expires_at.filter(|e| *e > now),
        proof,
        actor: who.actor().clone(),
    };
    store::use_confirmation(&tx, who.workspace(), &hash, now).await?;
    let recorded = write_event(&tx, app, who, event).await?;
    super::membership::upkeep(&tx, who, &[recorded.event.contact_id]).await?;
    super::commit(tx).await?;
    Ok(recorded)
}

/// Checks that the contact is in the caller's workspace.
async fn visible(app: &App, who: &Caller, id: ContactId) -> Result<Contact, ApiError> {
    contacts::get(app.db.read(), who.workspace(), id)
        .await
        .or_not_found("contact")
}

/// A contact's effective states, by purpose then contact point.
/// # Errors
/// 403 without `consent:read`; 404.
pub async fn states(app: &App, who: &Caller, id: ContactId) -> Result<Vec<ConsentState>, ApiError> {
    who.require(Scope::ConsentRead)?;
    visible(app, who, id).await?;
    Ok(store::states(app.db.read(), who.workspace(), &[id], None)
        .await?
        .into_iter()
        .map(|(_, s)| s)
        .collect())
}

/// The effective states of contacts the caller has already read (GraphQL pages), in
/// one statement; the workspace filter still applies.
/// # Errors
/// 403 without `consent:read`.
pub async fn states_of(
    app: &App,
    who: &Caller,
    ids: &[ContactId],
) -> Result<HashMap<ContactId, Vec<ConsentState>>, ApiError> {
    who.require(Scope::ConsentRead)?;
    let mut out: HashMap<ContactId, Vec<ConsentState>> = HashMap::new();
    for (c, s) in store::states(app.db.read(), who.workspace(), ids, None).await? {
        out.entry(c).or_default().push(s);
    }
    Ok(out)
}

/// A contact's events in arrival order.
/// # Errors
/// 403; 404.
pub async fn history(
    app: &App,
    who: &Caller,
    id: ContactId,
    purpose: Option<&str>,
    after: Option<uuid::Uuid>,
    limit: u64,
) -> Result<Page<ConsentEvent>, ApiError> {
    who.require(Scope::ConsentRead)?;
    visible(app, who, id).await?;
    Ok(store::events(app.db.read(), who.workspace(), id, purpose, after, limit).await?)
}

/// The contact point a check applies to when none is named: the contact's email for
/// email purposes, its phone for SMS and phone purposes.
fn default_point(purpose: &Purpose, c: &Contact) -> Option<String> {
    rapport_domain::segment::default_point(purpose.channel, c)
}

/// May the contact be contacted for `purpose` now (at `contact_point`, else at its
/// current address for the purpose's channel)?
/// # Errors
/// 403 without `consent:read`; 404 for the contact or the purpose; 422 for a bad
/// contact point.
pub async fn decision(
    app: &App,
    who: &Caller,
    id: ContactId,
    purpose: &str,
    contact_point: Option<&str>,
) -> Result<Decision, ApiError> {
    who.require(Scope::ConsentRead)?;
    let contact = visible(app, who, id).await?;
    let p = store::purpose(app.db.read(), who.workspace(), purpose)
        .await
        .or_not_found("consent purpose")?;
    let point = match contact_point {
        Some(raw) => Some(rapport_domain::consent::contact_point(raw, p.channel)?),
        None => default_point(&p, &contact),
    };
    // An erased person's remaining records prove past processing; they allow nothing.
    let states: Vec<ConsentState> = if contact.is_erased() {
        Vec::new()
    } else {
        store::states(app.db.read(), who.workspace(), &[id], Some(purpose))
            .await?
            .into_iter()
            .map(|(_, s)| s)
            .collect()
    };
    Ok(decide(purpose, &states, point.as_deref(), rapport_store::now()))
}

/// Whom a bulk check is about.
#[derive(Clone, Debug)]
pub enum Targets {
    Ids(Vec<ContactId>),
    Emails(Vec<String>),
}

/// How a bulk check names one contact: by id or by email.
type Key = (Option<ContactId>, Option<String>);

/// One answer of a bulk check.
#[derive(Clone, Debug)]
pub struct Checked {
    pub contact_id: Option<ContactId>,
    pub email: Option<String>,
    pub found: bool,
    pub decision: Decision,
}

/// Answers for up to [`MAX_CHECK`] contacts in a few statements, in request order.
/// Unknown contacts (and other workspaces') are `found: false` and not allowed.
/// # Errors
/// 403 without `consent:read`; 404 for an unknown purpose; 422 for an empty or
/// oversized list.
pub async fn check(app: &App, who: &Caller, purpose: &str, targets: Targets) -> Result<Vec<Checked>, ApiError> {
    who.require(Scope::ConsentRead)?;
    let (len, pointer) = match &targets {
        Targets::Ids(v) => (v.len(), "/contact_ids"),
        Targets::Emails(v) => (v.len(), "/emails"),
    };
    if !(1..=MAX_CHECK).contains(&len) {
        return Err(ApiError::invalid(
            pointer,
            "invalid_length",
            format!("must list 1 to {MAX_CHECK} items; got {len}"),
        ));
    }
    let db = app.db.read();
    let p = store::purpose(db, who.workspace(), purpose)
        .await
        .or_not_found("consent purpose")?;
    let (keys, found): (Vec<Key>, Vec<Contact>) = match targets {
        Targets::Ids(ids) => {
            let found = contacts::get_many(db, who.workspace(), &ids).await?;
            (ids.into_iter().map(|i| (Some(i), None)).collect(), found)
        }
        Targets::Emails(emails) => {
            let parsed: Vec<Option<String>> = emails
                .iter()
                .map(|e| Email::parse(e, "").ok().map(|e| e.key()))
                .collect();
            let wanted: Vec<String> = parsed.iter().flatten().cloned().collect();
            let found = contacts::find_many_by_email_keys(db, who.workspace(), &wanted).await?;
            (emails.into_iter().map(|e| (None, Some(e))).collect(), found)
        }
    };
    let ids: Vec<ContactId> = found.iter().map(|c| c.id).collect();
    let mut states: HashMap<ContactId, Vec<ConsentState>> = HashMap::new();
    for (c, s) in store::states(db, who.workspace(), &ids, Some(purpose)).await? {
        states.entry(c).or_default().push(s);
    }
    let by_id: HashMap<ContactId, &Contact> = found.iter().map(|c| (c.id, c)).collect();
    let by_email: HashMap<String, &Contact> = found
        .iter()
        .filter_map(|c| c.email.as_ref().map(|e| (e.key(), c)))
        .collect();
    let now = rapport_store::now();
    Ok(keys
        .into_iter()
        .map(|(id, email)| {
            let contact = match (&id, &email) {
                (Some(i), _) => by_id.get(i).copied(),
                (None, Some(e)) => Email::parse(e, "").ok().and_then(|e| by_email.get(&e.key()).copied()),
                (None, None) => None,
            };
            let decision = match contact.filter(|c| !c.is_erased()) {
                Some(c) => decide(
                    purpose,
                    states.get(&c.id).map_or(&[][..], Vec::as_slice),
                    default_point(&p, c).as_deref(),
                    now,
                ),
                None => decide(purpose, &[], None, now),
            };
            Checked {
                contact_id: contact.map(|c| c.id).or(id),
                email,
                found: contact.is_some(),
                decision,
            }
        })
        .collect())
}

/// The answer per purpose for each contact (purposes with records only), for contact
/// representations that include consent.
/// # Errors
/// 403 without `consent:read`.
pub async fn summaries(
    app: &App,
    who: &Caller,
    contacts: &[Contact],
) -> Result<HashMap<ContactId, BTreeMap<String, Decision>>, ApiError> {
    who.require(Scope::ConsentRead)?;
    let ids: Vec<ContactId> = contacts.iter().map(|c| c.id).collect();
    let mut states: HashMap<ContactId, Vec<ConsentState>> = HashMap::new();
    for (c, s) in store::states(app.db.read(), who.workspace(), &ids, None).await? {
        states.entry(c).or_default().push(s);
    }
    let purposes = purpose_map(app.db.read(), who).await?;
    let now = rapport_store::now();
    let mut out = HashMap::new();
    for c in contacts {
        let mut map = BTreeMap::new();
        if let Some(ss) = states.get(&c.id) {
            for s in ss {
                if map.contains_key(&s.purpose) {
                    continue;
                }
                let point = purposes.get(&s.purpose).and_then(|p| default_point(p, c));
                map.insert(s.purpose.clone(), decide(&s.purpose, ss, point.as_deref(), now));
            }
        }
        out.insert(c.id, map);
    }
    Ok(out)
}
