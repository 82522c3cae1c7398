//! Merging duplicate contacts: which values the survivor keeps. The survivor's value
//! wins a conflict, a value it lacks comes from the merged contacts in the order given,
//! and the caller may name, per field, the contact whose value wins.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

use super::Contact;
use crate::error::{DomainError, FieldError, pointer_token};
use crate::ids::ContactId;

/// Most contacts merged into one survivor in one request.
pub const MAX_MERGED: usize = 10;

/// A field whose winner the caller may name.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Field {
    Email,
    Phone,
    FirstName,
    LastName,
    Locale,
    Country,
    CompanyId,
    OwnerId,
    Attribute(String),
    ExternalId(String),
}

impl Field {
    /// `email`, …, `attributes.<key>`, `external_ids.<source>`.
    pub fn parse(key: &str) -> Option<Self> {
        let f = match key {
            "email" => Self::Email,
            "phone" => Self::Phone,
            "first_name" => Self::FirstName,
            "last_name" => Self::LastName,
            "locale" => Self::Locale,
            "country" => Self::Country,
            "company_id" => Self::CompanyId,
            "owner_id" => Self::OwnerId,
            _ => {
                if let Some(k) = key.strip_prefix("attributes.").filter(|k| !k.is_empty()) {
                    Self::Attribute(k.to_owned())
                } else if let Some(s) = key.strip_prefix("external_ids.").filter(|s| !s.is_empty()) {
                    Self::ExternalId(s.to_owned())
                } else {
                    return None;
                }
            }
        };
        Some(f)
    }
}

/// A checked merge request: who goes, and whose value wins where the caller said.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Plan {
    pub from: Vec<ContactId>,
    pub prefer: BTreeMap<Field, ContactId>,
}

impl Plan {
    /// Checks the shape of a request to merge `from` into `survivor` (that the contacts
    /// exist is for the caller to check).
    /// # Errors
    /// `Invalid` with every problem: `/from` `invalid_length`; `/from/{i}` `duplicate`
    /// (the survivor or a repeated id); `/prefer/{key}` `unknown_field` or `not_in_from`.
    pub fn new(
        survivor: ContactId,
        from: Vec<ContactId>,
        prefer: &BTreeMap<String, ContactId>,
    ) -> Result<Self, DomainError> {
        let mut errors = Vec::new();
        if from.is_empty() || from.len() > MAX_MERGED {
            errors.push(FieldError::new(
                "/from",
                "invalid_length",
                format!("merge 1 to {MAX_MERGED} contacts at a time; got {}", from.len()),
            ));
        }
        let mut seen = BTreeSet::from([survivor]);
        for (i, id) in from.iter().enumerate() {
            if !seen.insert(*id) {
                let why = if *id == survivor {
                    "a contact is not merged into itself"
                } else {
                    "this contact is already named"
                };
                errors.push(FieldError::new(format!("/from/{i}"), "duplicate", why));
            }
        }
        let mut fields = BTreeMap::new();
        for (key, id) in prefer {
            let at = format!("/prefer/{}", pointer_token(key));
            match Field::parse(key) {
                None => errors.push(FieldError::new(
                    at,
                    "unknown_field",
                    "one of email, phone, first_name, last_name, locale, country, company_id, owner_id, attributes.<key>, external_ids.<source>",
                )),
                Some(_) if !from.contains(id) => {
                    errors.push(FieldError::new(at, "not_in_from", "name one of the contacts in `from`"));
                }
                Some(f) => {
                    fields.insert(f, *id);
                }
            }
        }
        if errors.is_empty() {
            Ok(Self { from, prefer: fields })
        } else {
            Err(DomainError::Invalid(errors))
        }
    }
}

/// An external id that lost to another one of the same source.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Dropped {
    pub contact_id: ContactId,
    pub source: String,
    pub external_id: String,
}

/// The survivor as the merge leaves it (before lifecycle rules over the combined
/// orders), and the external ids no contact keeps.
#[derive(Clone, Debug)]
pub struct Merged {
    pub contact: Contact,
    pub dropped: Vec<Dropped>,
}

/// Merges `others` (in the plan's order) into `survivor`.
pub fn merge(survivor: &Contact, others: &[Contact], plan: &Plan, now: chrono::DateTime<chrono::Utc>) -> Merged {
    let all: Vec<&Contact> = std::iter::once(survivor).chain(others).collect();
    let preferred = |f: &Field| {
        plan.prefer
            .get(f)
            .and_then(|id| all.iter().find(|c| c.id == *id))
            .copied()
    };
    let pick = |f: Field, get: &dyn Fn(&Contact) -> Option<String>| -> Option<String> {
        match preferred(&f) {
            Some(c) => get(c),
            None => all.iter().find_map(|c| get(c)),
        }
    };
    let mut c = survivor.clone();
    c.email = match preferred(&Field::Email) {
        Some(p) => p.email.clone(),
        None => all.iter().find_map(|x| x.email.clone()),
    };
    c.phone = pick(Field::Phone, &|x| x.phone.clone());
    c.first_name = pick(Field::FirstName, &|x| x.first_name.clone());
    c.last_name = pick(Field::LastName, &|x| x.last_name.clone());
    c.locale = pick(Field::Locale, &|x| x.locale.clone());
    c.country = pick(Field::Country, &|x| x.country.clone());
    c.owner_id = pick(Field::OwnerId, &|x| x.owner_id.clone());
    c.company_id = match preferred(&Field::CompanyId) {
        Some(p) => p.company_id,
        None => all.iter().find_map(|x| x.company_id),
    };
    c.tags = all
        .iter()
        .flat_map(|x| x.tags.iter().cloned())
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    c.attributes = merge_attributes(&all, &plan.prefer);
    let dropped = merge_external_ids(&mut c, &all, &plan.prefer);
    for x in others {
        if let (Some(h), Some(r)) = (x.stage.highest.rank(), c.stage.highest.rank())
            && h > r
        {
            c.stage.highest = x.stage.highest;
        }
        for (stage, at) in &x.stage.entered_at {
            c.stage
                .entered_at
                .entry(*stage)
                .and_modify(|t| *t = (*t).min(*at))
                .or_insert(*at);
        }
    }
    c.version = survivor.version + 1;
    c.updated_at = now;
    Merged { contact: c, dropped }
}

/// Refuses a merged contact over the limits of any contact (tags, external ids).
/// # Errors
/// `Invalid` at `/from` with `too_many`.
pub fn check_limits(c: &Contact) -> Result<(), DomainError> {
    let mut errors = Vec::new();
    if c.tags.len() > crate::text::MAX_TAGS {
        errors.push(FieldError::new(
            "/from",
            "too_many",
            format!(
                "together these contacts have {} tags; a contact has at most {}",
                c.tags.len(),
                crate::text::MAX_TAGS
            ),
        ));
    }
    if c.external_ids.len() > super::MAX_EXTERNAL_IDS {
        errors.push(FieldError::new(
            "/from",
            "too_many",
            format!(
                "together these contacts have external ids of {} sources; a contact has at most {}",
                c.external_ids.len(),
                super::MAX_EXTERNAL_IDS
            ),
        ));
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(DomainError::Invalid(errors))
    }
}

fn merge_attributes(all: &[&Contact], prefer: &BTreeMap<Field, ContactId>) -> serde_json::Map<String, Value> {
    let keys: BTreeSet<&String> = all.iter().flat_map(|c| c.attributes.keys()).collect();
    let mut out = serde_json::Map::new();
    for k in keys {
        let value = match prefer.get(&Field::Attribute(k.clone())) {
            Some(id) => all.iter().find(|c| c.id == *id).and_then(|c| c.attributes.get(k)),
            None => all.iter().find_map(|c| c.attributes.get(k)),
        };
        if let Some(v) = value {
            out.insert(k.clone(), v.clone());
        }
    }
    out
}

/// Sets the survivor's external ids (one per source) and returns the ids that lost.
fn merge_external_ids(c: &mut Contact, all: &[&Contact], prefer: &BTreeMap<Field, ContactId>) -> Vec<Dropped> {
    let sources: BTreeSet<&String> = all.iter().flat_map(|x| x.external_ids.keys()).collect();
    let mut kept = BTreeMap::new();
    let mut dropped = Vec::new();
    for s in sources {
        let winner = match prefer.get(&Field::ExternalId(s.clone())) {
            Some(id) => Some(*id),
            None => all.iter().find(|x| x.external_ids.contains_key(s)).map(|x| x.id),
        };
        // An external id belongs to one contact, so every other holder's id differs.
        for x in all {
            let Some(ext) = x.external_ids.get(s) else { continue };
            if Some(x.id) == winner {
                kept.insert(s.clone(), ext.clone());
            } else {
                dropped.push(Dropped {
                    contact_id: x.id,
                    source: s.clone(),
                    external_id: ext.clone(),
                });
            }
        }
    }
    c.external_ids = kept;
    dropped
}

#[cfg(test)]
mod tests;
