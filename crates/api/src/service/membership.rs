//! Keeping segment membership current: on every contact change, in the writing
//! transaction, the in-memory evaluator decides who enters and leaves each dynamic
//! segment; a full refresh reconciles a segment with the SQL evaluator.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Arc, Mutex, OnceLock};

use chrono::{DateTime, Utc};
use rapport_domain::attributes::AttributeEntity;
use rapport_domain::event::{Event, EventType};
use rapport_domain::order::{OrderContent, PurchaseMetrics};
use rapport_domain::segment::{Registry, Rule, Segment, SegmentKind, Subject};
use rapport_domain::{CompanyId, ContactId, SegmentId, WorkspaceId};
use rapport_store::segments::{self, members};
use rapport_store::{Conn, StoreError, attributes, companies, consent, contacts, metrics, orders, outbox, workspaces};
use serde_json::json;

use crate::auth::Caller;

/// The workspace's rule fields: built-in ones, declared attributes, consent purposes
/// (archived ones included, since their decisions still stand) and the currencies its
/// orders use.
pub(crate) async fn registry(db: &impl Conn, ws: WorkspaceId) -> Result<Registry, StoreError> {
    let contact = attributes::schema(db, ws, AttributeEntity::Contact).await?;
    let company = attributes::schema(db, ws, AttributeEntity::Company).await?;
    let purposes = consent::purposes(db, ws, true).await?;
    let currencies = metrics::currencies(db, ws).await?;
    Ok(Registry::new(contact, company, purposes.into_iter().map(|p| (p.key, p.channel))).with_currencies(currencies))
}

/// Parsed rules of one workspace, with the rules revision they were parsed at.
struct Parsed {
    rev: i64,
    dynamic: Arc<Vec<(Segment, Rule)>>,
}

/// Rules parsed per workspace, reused while the workspace's rules revision
/// (`workspaces::rules_rev`, bumped in the transaction of every segment, attribute
/// definition and purpose change) stays the same: a contact write then reads one number
/// instead of every segment, attribute definition and purpose, and parses nothing.
fn parsed() -> &'static Mutex<HashMap<WorkspaceId, Parsed>> {
    static PARSED: OnceLock<Mutex<HashMap<WorkspaceId, Parsed>>> = OnceLock::new();
    PARSED.get_or_init(Mutex::default)
}

/// The dynamic segments of a workspace with their parsed rules. A stored rule that no
/// longer parses (a field it names was removed behind its back) is skipped with a
/// warning rather than failing every contact write.
pub(crate) async fn dynamic(db: &impl Conn, ws: WorkspaceId) -> Result<Arc<Vec<(Segment, Rule)>>, StoreError> {
    let rev = workspaces::rules_rev(db, ws).await?;
    if let Some(p) = parsed().lock().ok().as_ref().and_then(|m| m.get(&ws))
        && p.rev == rev
    {
        return Ok(p.dynamic.clone());
    }
    let all = segments::all_of_kind(db, ws, SegmentKind::Dynamic).await?;
    let dynamic: Arc<Vec<(Segment, Rule)>> = if all.is_empty() {
        Arc::default()
    } else {
        let registry = registry(db, ws).await?;
        Arc::new(
            all.into_iter()
                .filter_map(|s| {
                    let raw = s.rules.as_ref()?;
                    match Rule::parse_stored(raw, &registry) {
                        Ok(r) => Some((s, r)),
                        Err(e) => {
                            tracing::warn!(segment = %s.id, error = %e, "segment rule no longer parses; membership not kept");
                            None
                        }
                    }
                })
                .collect(),
        )
    };
    if let Ok(mut m) = parsed().lock() {
        // A newer revision parsed by a concurrent writer stays.
        if m.get(&ws).is_none_or(|p| p.rev <= rev) {
            m.insert(
                ws,
                Parsed {
                    rev,
                    dynamic: dynamic.clone(),
                },
            );
        }
    }
    Ok(dynamic)
}

/// The `segment.entered` / `segment.exited` event of one membership change.
pub(crate) fn event(
    who: &Caller,
    kind: EventType,
    segment: &Segment,
    contact: ContactId,
    entered_at: DateTime<Utc>,
    exited_at: Option<DateTime<Utc>>,
) -> Event {
    let at = exited_at.unwrap_or(entered_at);
    let object = json!({
        "segment": { "id": segment.id.uuid(), "name": segment.name, "kind": segment.kind.as_str() },
        "contact_id": contact.uuid(),
        "entered_at": entered_at,
        "exited_at": exited_at,
    });
    Event::new(
        kind,
        who.workspace(),
        who.actor().clone(),
        at,
        json!({ "object": object }),
    )
}

/// Re-decides the dynamic memberships of `ids` after they changed, in the caller's
/// transaction: the in-memory evaluator reads each contact as written, with its company
/// and consent states; entries and exits are written with their events.
pub(crate) async fn upkeep(tx: &impl Conn, who: &Caller, ids: &[ContactId]) -> Result<(), StoreError> {
    if ids.is_empty() {
        return Ok(());
    }
    let ws = who.workspace();
    let dynamic = dynamic(tx, ws).await?;
    if dynamic.is_empty() {
        return Ok(());
    }
    let now = rapport_store::now();
    let people = contacts::get_many(tx, ws, ids).await?;
    let company_ids: Vec<CompanyId> = if dynamic.iter().any(|(_, r)| r.reads_company()) {
        people
            .iter()
            .filter_map(|c| c.company_id)
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect()
    } else {
        Vec::new()
    };
    let companies: HashMap<CompanyId, _> = companies::get_many(tx, ws, &company_ids)
        .await?
        .into_iter()
        .map(|c| (c.id, c))
        .collect();
    let mut states: HashMap<ContactId, Vec<_>> = HashMap::new();
    if dynamic.iter().any(|(_, r)| r.reads_consent()) {
        for (c, s) in consent::states(tx, ws, ids, None).await? {
            states.entry(c).or_default().push(s);
        }
    }
    let kept = if dynamic.iter().any(|(_, r)| r.reads_commerce()) {
        metrics::get_many(tx, ws, ids).await?
    } else {
        HashMap::new()
    };
    let mut bought: HashMap<ContactId, Vec<OrderContent>> = HashMap::new();
    if dynamic.iter().any(|(_, r)| r.reads_orders()) {
        for o in orders::of_contacts(tx, ws, ids).await? {
            bought.entry(o.contact_id).or_default().push(o.content);
        }
    }
    let none = PurchaseMetrics::default();
    let current: BTreeSet<(SegmentId, ContactId)> = members::current_for(tx, ws, ids)
        .await?
        .into_iter()
        .map(|m| (m.segment_id, m.contact_id))
        .collect();
    let mut enter = Vec::new();
    let mut leave = Vec::new();
    for c in &people {
        let subject = Subject {
            contact: c,
            company: c.company_id.and_then(|id| companies.get(&id)),
            consent: states.get(&c.id).map_or(&[], Vec::as_slice),
            metrics: kept.get(&c.id).unwrap_or(&none),
            orders: bought.get(&c.id).map_or(&[], Vec::as_slice),
        };
        for (s, rule) in dynamic.iter() {
            let member = current.contains(&(s.id, c.id));
            match (rule.matches(&subject, now), member) {
                (true, false) => enter.push((s.id, c.id)),
                (false, true) => leave.push((s.id, c.id)),
                _ => {}
            }
        }
    }
    let by_id: BTreeMap<SegmentId, &Segment> = dynamic.iter().map(|(s, _)| (s.id, s)).collect();
    apply(tx, who, &by_id, &enter, &leave, now).await
}

/// Re-decides the memberships of a company's contacts after the company changed, when
/// any dynamic segment reads company fields.
pub(crate) async fn upkeep_company(tx: &impl Conn, who: &Caller, id: CompanyId) -> Result<(), StoreError> {
    let reads_company = dynamic(tx, who.workspace())
        .await?
        .iter()
        .any(|(_, r)| r.reads_company());
    if !reads_company {
        return Ok(());
    }
    // Locked, so a concurrent write to one of them waits and then decides with the
    // company as changed here.
    let linked: Vec<ContactId> = contacts::linked_to_company(tx, who.workspace(), id)
        .await?
        .into_iter()
        .filter(|c| !c.is_erased())
        .map(|c| c.id)
        .collect();
    for chunk in linked.chunks(500) {
        upkeep(tx, who, chunk).await?;
    }
    Ok(())
}

/// Writes entries and exits with their events.
pub(crate) async fn apply(
    tx: &impl Conn,
    who: &Caller,
    segments: &BTreeMap<SegmentId, &Segment>,
    enter: &[(SegmentId, ContactId)],
    leave: &[(SegmentId, ContactId)],
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    let ws = who.workspace();
    let mut events = Vec::new();
    for m in members::exit(tx, ws, leave, now).await? {
        if let Some(s) = segments.get(&m.segment_id) {
            events.push(event(
                who,
                EventType::SegmentExited,
                s,
                m.contact_id,
                m.entered_at,
                m.exited_at,
            ));
        }
    }
    for (s, c) in members::enter(tx, ws, enter, now).await? {
        if let Some(s) = segments.get(&s) {
            events.push(event(who, EventType::SegmentEntered, s, c, now, None));
        }
    }
    outbox::push(tx, &events).await
}

/// Ends every membership of a contact (all kinds of segment): an erased person belongs
/// to no audience.
pub(crate) async fn leave_all(tx: &impl Conn, who: &Caller, id: ContactId) -> Result<(), StoreError> {
    let ws = who.workspace();
    let current = members::current_for(tx, ws, &[id]).await?;
    if current.is_empty() {
        return Ok(());
    }
    let ids: Vec<SegmentId> = current.iter().map(|m| m.segment_id).collect();
    let all = segments::get_many(tx, ws, &ids).await?;
    let by_id: BTreeMap<SegmentId, &Segment> = all.iter().map(|s| (s.id, s)).collect();
    let leave: Vec<_> = current.iter().map(|m| (m.segment_id, m.contact_id)).collect();
    apply(tx, who, &by_id, &[], &leave, rapport_store::now()).await
}

/// Reconciles one segment with its rule (SQL evaluator) in the caller's transaction,
/// which holds the segment's lock; writes the events unless `quiet` (a new segment's
/// first members are where it starts, not entries).
pub(crate) async fn refresh(
    tx: &impl Conn,
    who: &Caller,
    segment: &Segment,
    rule: &Rule,
    quiet: bool,
) -> Result<members::Refreshed, StoreError> {
    let ws = who.workspace();
    let now = rapport_store::now();
    let done = members::refresh(tx, ws, segment.id, rule, now).await?;
    segments::mark_refreshed(tx, ws, segment.id, now).await?;
    if !quiet {
        let mut events: Vec<Event> = done
            .exited
            .iter()
            .map(|(c, entered)| event(who, EventType::SegmentExited, segment, *c, *entered, Some(now)))
            .collect();
        events.extend(
            done.entered
                .iter()
                .map(|c| event(who, EventType::SegmentEntered, segment, *c, now, None)),
        );
        outbox::push(tx, &events).await?;
    }
    Ok(done)
}
