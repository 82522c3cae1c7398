//! Keyset pagination: a page is read after a position (sort value, id), never by
//! offset, so pages stay stable while records are added and deep pages stay cheap.

use chrono::{DateTime, Utc};
use uuid::Uuid;

/// A position in an ordered list: the last item's sort value (when the order is not by
/// id alone) and its id.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct After {
    pub at: Option<DateTime<Utc>>,
    pub id: Uuid,
}

/// One page of results.
#[derive(Clone, Debug)]
pub struct Page<T> {
    pub items: Vec<T>,
    /// Whether more items follow the last one.
    pub has_more: bool,
}

impl<T> Page<T> {
    /// Builds a page from up to `limit + 1` rows: the extra row only says more exist.
    pub fn from_rows(mut rows: Vec<T>, limit: u64) -> Self {
        let limit = usize::try_from(limit).unwrap_or(usize::MAX);
        let has_more = rows.len() > limit;
        rows.truncate(limit);
        Self { items: rows, has_more }
    }

    pub fn map<U>(self, f: impl FnMut(T) -> U) -> Page<U> {
        Page {
            items: self.items.into_iter().map(f).collect(),
            has_more: self.has_more,
        }
    }
}

/// Which field a list is ordered by; ties are broken by id.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Sort {
    /// Creation order (ids are time-ordered UUIDv7).
    #[default]
    Created,
    /// Last update.
    Updated,
}

/// Ordering of a list.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Order {
    pub by: Sort,
    pub descending: bool,
}

/// Orders `q` by `order` and skips everything up to `after` (ties broken by id).
pub(crate) fn keyset<E: sea_orm::EntityTrait>(
    mut q: sea_orm::Select<E>,
    id: E::Column,
    updated_at: E::Column,
    order: Order,
    after: Option<&After>,
) -> sea_orm::Select<E> {
    use sea_orm::{ColumnTrait, Condition, QueryFilter, QueryOrder};
    let dir = if order.descending {
        sea_orm::Order::Desc
    } else {
        sea_orm::Order::Asc
    };
    let past = |col: E::Column, v: sea_orm::Value| if order.descending { col.lt(v) } else { col.gt(v) };
    match order.by {
        Sort::Created => {
            if let Some(a) = after {
                q = q.filter(past(id, a.id.into()));
            }
            q.order_by(id, dir)
        }
        Sort::Updated => {
            if let Some(After { at: Some(t), id: last }) = after {
                q = q.filter(
                    Condition::any()
                        .add(past(updated_at, (*t).into()))
                        .add(Condition::all().add(updated_at.eq(*t)).add(past(id, (*last).into()))),
                );
            }
            q.order_by(updated_at, dir.clone()).order_by(id, dir)
        }
    }
}

/// A LIKE pattern matching `text` anywhere, case-folded, with wildcards escaped (`\`).
pub(crate) fn contains_pattern(text: &str) -> sea_orm::sea_query::LikeExpr {
    let mut p = String::from("%");
    for ch in text.to_lowercase().chars() {
        if matches!(ch, '%' | '_' | '\\') {
            p.push('\\');
        }
        p.push(ch);
    }
    p.push('%');
    sea_orm::sea_query::LikeExpr::new(p).escape('\\')
}
