//! Likely duplicate contacts: live contacts sharing an email match key, a phone, or a
//! name within one company. Groups are read in key order, a page at a time.

use rapport_domain::WorkspaceId;
use rapport_domain::contact::Contact;
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect, QueryTrait};

use crate::entity::contact;
use crate::error::StoreError;

/// Most contacts listed in one group.
pub const GROUP_LIMIT: usize = 50;

/// Why contacts are suggested as duplicates.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Reason {
    /// The same `Email::match_key`.
    Email,
    /// The same stored (E.164) phone.
    Phone,
    /// The same `Contact::name_key` and company.
    NameCompany,
}

impl Reason {
    pub const ALL: [Reason; 3] = [Reason::Email, Reason::Phone, Reason::NameCompany];

    pub fn as_str(self) -> &'static str {
        match self {
            Reason::Email => "email",
            Reason::Phone => "phone",
            Reason::NameCompany => "name_company",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|r| r.as_str() == s)
    }

    fn columns(self) -> Vec<contact::Column> {
        match self {
            Reason::Email => vec![contact::Column::EmailMatch],
            Reason::Phone => vec![contact::Column::Phone],
            Reason::NameCompany => vec![contact::Column::NameMatch, contact::Column::CompanyId],
        }
    }
}

/// One group: the key its contacts share (one part, or name and company id) and the
/// contacts, oldest first.
#[derive(Clone, Debug)]
pub struct Group {
    pub reason: Reason,
    pub key: Vec<String>,
    pub contacts: Vec<Contact>,
}

fn live(ws: WorkspaceId, reason: Reason) -> sea_orm::Select<contact::Entity> {
    let mut q = contact::Entity::find()
        .filter(contact::Column::WorkspaceId.eq(ws.uuid()))
        .filter(contact::Column::ErasedAt.is_null());
    for c in reason.columns() {
        q = q.filter(c.is_not_null());
    }
    q
}

fn key_values(reason: Reason, key: &[String]) -> Option<Vec<Expr>> {
    match (reason, key) {
        (Reason::Email | Reason::Phone, [k]) => Some(vec![Expr::val(k.clone())]),
        (Reason::NameCompany, [name, company]) => {
            let company = uuid::Uuid::parse_str(company).ok()?;
            Some(vec![Expr::val(name.clone()), Expr::val(company)])
        }
        _ => None,
    }
}

/// Up to `limit` groups of `reason` whose key comes after `after`, in key order.
/// # Errors
/// `NotFound` for a key of the wrong shape (a forged cursor).
pub async fn groups(
    db: &impl ConnectionTrait,
    ws: WorkspaceId,
    reason: Reason,
    after: Option<&[String]>,
    limit: u64,
) -> Result<Vec<Group>, StoreError> {
    let cols = reason.columns();
    let mut q = live(ws, reason).select_only();
    for c in &cols {
        q = q.column(*c).group_by(*c).order_by_asc(*c);
    }
    if let Some(after) = after {
        let values = key_values(reason, after).ok_or(StoreError::NotFound)?;
        let tuple = Expr::tuple(cols.iter().map(|c| Expr::col(*c)));
        q = q.filter(tuple.gt(Expr::tuple(values)));
    }
    q = q.having(Expr::col(contact::Column::Id).count().gt(1)).limit(limit);
    let rows = db.query_all(&q.into_query()).await?;
    let mut keys = Vec::with_capacity(rows.len());
    for r in rows {
        let key = match reason {
            Reason::Email => vec![r.try_get::<String>("", "email_match")?],
            Reason::Phone => vec![r.try_get::<String>("", "phone")?],
            Reason::NameCompany => vec![
                r.try_get::<String>("", "name_match")?,
                r.try_get::<uuid::Uuid>("", "company_id")?.to_string(),
            ],
        };
        keys.push(key);
    }
    let mut out = Vec::with_capacity(keys.len());
    for key in keys {
        let mut q = live(ws, reason);
        match reason {
            Reason::Email => q = q.filter(contact::Column::EmailMatch.eq(key[0].clone())),
            Reason::Phone => q = q.filter(contact::Column::Phone.eq(key[0].clone())),
            Reason::NameCompany => {
                let company = uuid::Uuid::parse_str(&key[1]).map_err(|e| StoreError::corrupt(e.to_string()))?;
                q = q
                    .filter(contact::Column::NameMatch.eq(key[0].clone()))
                    .filter(contact::Column::CompanyId.eq(company));
            }
        }
        let contacts = q
            .order_by_asc(contact::Column::CreatedAt)
            .order_by_asc(contact::Column::Id)
            .limit(GROUP_LIMIT as u64)
            .all(db)
            .await?
            .into_iter()
            .map(Contact::try_from)
            .collect::<Result<Vec<_>, _>>()?;
        out.push(Group { reason, key, contacts });
    }
    Ok(out)
}
