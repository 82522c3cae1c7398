//! Data-subject rights: export everything held about a person, and erase it.

use rapport_domain::ContactId;
use rapport_domain::ErasureId;
use rapport_domain::attributes::{AttributeEntity, AttributeSchema, AttributeType};
use rapport_domain::contact::Contact;
use rapport_domain::event::EventType;
use rapport_domain::privacy::{self, Erasure};
use rapport_domain::scope::Scope;
use rapport_store::{aliases, attributes, companies, consent, contacts, erasures, lifecycle, merges, outbox};
use serde_json::json;

use crate::app::App;
use crate::auth::Caller;
use crate::dto::companies::CompanyDto;
use crate::dto::consent::{
    ConsentEventDto, ConsentStateDto, ContactExport, ErasureDto, ExportConsent, ExternalIdAlias,
};
use crate::dto::contacts::{ContactDto, TransitionDto};
use crate::error::{ApiError, OrNotFound};

/// Everything held about a contact, as one document.
/// # Errors
/// 403 without `contacts:read` and `consent:read`; 404.
pub async fn export(app: &App, who: &Caller, id: ContactId) -> Result<ContactExport, ApiError> {
    who.require(Scope::ContactsRead)?;
    who.require(Scope::ConsentRead)?;
    let db = app.db.read();
    let ws = who.workspace();
    let contact = contacts::get(db, ws, id).await.or_not_found("contact")?;
    let company = match contact.company_id {
        Some(c) => match companies::get(db, ws, c).await {
            Ok(company) => Some(company),
            Err(rapport_store::StoreError::NotFound) => None,
            Err(e) => return Err(e.into()),
        },
        None => None,
    };
    let lifecycle = all_pages(|after| lifecycle::list(db, ws, id, after, 500), |t| t.id.uuid()).await?;
    let events = all_pages(|after| consent::events(db, ws, id, None, after, 500), |e| e.id.uuid()).await?;
    let states = consent::states(db, ws, &[id], None).await?;
    let erasure = erasures::of_contact(db, ws, id).await?;
    let mut orders = rapport_store::orders::of_contacts(db, ws, &[id]).await?;
    orders.sort_by_key(|o| std::cmp::Reverse((o.content.placed_at, o.id)));
    let metrics = rapport_store::metrics::get_many(db, ws, &[id])
        .await?
        .remove(&id)
        .unwrap_or_default();
    let aliases = aliases::of_contact(db, ws, id).await?;
    let now = rapport_store::now();
    Ok(ContactExport {
        format: "rapport.contact-export",
        // 2: orders and purchase metrics.
        format_version: 2,
        exported_at: now,
        contact: ContactDto::from(&contact),
        company: company.as_ref().map(CompanyDto::from),
        lifecycle: lifecycle.iter().map(TransitionDto::from).collect(),
        consent: ExportConsent {
            states: states.iter().map(|(_, s)| ConsentStateDto::new(s, now)).collect(),
            events: events.iter().map(ConsentEventDto::from).collect(),
        },
        erasure: erasure.as_ref().map(ErasureDto::from),
        orders: orders.iter().map(crate::dto::orders::OrderDto::from).collect(),
        metrics: crate::dto::orders::PurchaseMetricsDto::from(&metrics),
        external_id_aliases: aliases
            .into_iter()
            .map(|(source, external_id)| ExternalIdAlias { source, external_id })
            .collect(),
    })
}

/// Reads every page of a keyset-paginated list.
async fn all_pages<T, F, Fut>(mut page: F, id: impl Fn(&T) -> uuid::Uuid) -> Result<Vec<T>, ApiError>
where
    F: FnMut(Option<uuid::Uuid>) -> Fut,
    Fut: std::future::Future<Output = Result<rapport_store::page::Page<T>, rapport_store::StoreError>>,
{
    let mut out = Vec::new();
    let mut after = None;
    loop {
        let p = page(after).await?;
        after = p.items.last().map(&id);
        out.extend(p.items);
        if !p.has_more {
            return Ok(out);
        }
    }
}

/// Erases a person's data in one transaction: the contact becomes a tombstone (same id,
/// `erased_at`), the ledger loses contact points and proof ip / user agent, transition
/// reasons (free text) go, the external ids merges left it as aliases go, stored events
/// about the contact and about the contacts merged into it are redacted (those ids
/// included), kept responses naming any of them are forgotten, the erasure is recorded
/// and `contact.erased` written.
/// Erasing an erased contact answers the first erasure and changes nothing.
/// # Errors
/// 403 without `privacy:erase`; 404; 422 for a missing reason.
pub async fn erase(app: &App, who: &Caller, id: ContactId, reason: &str) -> Result<Erasure, ApiError> {
    who.require(Scope::PrivacyErase)?;
    let ws = who.workspace();
    let tx = app.db.begin().await?;
    let before = contacts::get_for_update(&tx, ws, id).await.or_not_found("contact")?;
    if let Some(done) = erasures::of_contact(&tx, ws, id).await? {
        return Ok(done);
    }
    let reason = privacy::reason(reason)?;
    let schema = attributes::schema(&tx, ws, AttributeEntity::Contact).await?;
    let now = rapport_store::now();
    let after = before.erased(&schema, now);
    contacts::update(&tx, &before, &after).await?;
    let (mut values, fragments) = personal_values(&before, &schema);
    // The external ids merges dropped from it identify the person too.
    values.extend(aliases::of_contact(&tx, ws, id).await?.into_iter().map(|(_, i)| i));
    aliases::forget(&tx, ws, id).await?;
    let personal = |text: &str| {
        let t = text.to_lowercase();
        fragments.iter().any(|f| t.contains(&f.to_lowercase()))
            || values.iter().any(|v| v.len() >= 3 && t.contains(&v.to_lowercase()))
    };
    consent::erase(&tx, ws, id, personal).await?;
    lifecycle::erase_reasons(&tx, ws, id).await?;
    // The contacts merged into this one were the same person: the events about them
    // (their creation, changes, an earlier merge) are redacted too.
    let merged = merges::merged_into(&tx, ws, id).await?;
    for about in std::iter::once(id).chain(merged.iter().copied()) {
        erasures::redact_events(&tx, ws, about, |d| privacy::redact(d, &values, &fragments)).await?;
    }
    let mut terms: Vec<String> = std::iter::once(id).chain(merged).map(|m| m.to_string()).collect();
    terms.extend(before.email.as_ref().map(rapport_domain::email::Email::key));
    erasures::forget_responses(&tx, ws, &terms).await?;
    let erasure = Erasure {
        id: ErasureId::new(),
        contact_id: id,
        reason,
        actor: who.actor().clone(),
        requested_at: now,
        erased_at: now,
    };
    erasures::insert(&tx, ws, &erasure).await?;
    super::membership::leave_all(&tx, who, id).await?;
    let e = super::event(
        EventType::ContactErased,
        who,
        now,
        json!({ "id": id.uuid(), "erased_at": now }),
        Some(json!({ "erasure": ErasureDto::from(&erasure) })),
    );
    outbox::push(&tx, &[e]).await?;
    super::commit(tx).await?;
    Ok(erasure)
}

/// The person's values to look for in stored payloads: exact values (names, external
/// ids, the attributes erasure removes) and fragments that may sit inside longer text
/// (email, phone).
fn personal_values(c: &Contact, schema: &AttributeSchema) -> (Vec<String>, Vec<String>) {
    let mut values: Vec<String> = [&c.first_name, &c.last_name, &c.phone]
        .into_iter()
        .flatten()
        .cloned()
        .collect();
    values.extend(c.full_name());
    values.extend(c.external_ids.values().cloned());
    let kept = |k: &str| {
        schema.get(k).is_some_and(|d| {
            matches!(
                d.kind,
                AttributeType::Number | AttributeType::Boolean | AttributeType::Enum
            )
        })
    };
    values.extend(
        c.attributes
            .iter()
            .filter(|(k, _)| !kept(k))
            .filter_map(|(_, v)| v.as_str().map(str::to_owned)),
    );
    let mut fragments: Vec<String> = c.email.iter().map(|e| e.as_str().to_owned()).collect();
    fragments.extend(c.phone.iter().map(|p| p.trim_start_matches('+').to_owned()));
    (values, fragments)
}
