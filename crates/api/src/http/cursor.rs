//! Opaque pagination cursors. A cursor is base64url JSON naming the list order it was
//! made for and the last item's position, so a cursor from one ordering cannot be used
//! with another by mistake.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use rapport_store::page::{After, Order, Sort};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::error::ApiError;

#[derive(Serialize, Deserialize)]
struct Raw {
    /// The list this cursor belongs to (`contacts`, `companies` …).
    l: String,
    /// Order: `c` created, `u` updated; `-` prefix for descending.
    o: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    t: Option<DateTime<Utc>>,
    i: Uuid,
}

fn order_code(o: Order) -> String {
    let by = match o.by {
        Sort::Created => "c",
        Sort::Updated => "u",
    };
    if o.descending { format!("-{by}") } else { by.to_owned() }
}

/// Encodes the position after `id` (with sort value `at`) in `list` ordered by `order`.
pub fn encode(list: &str, order: Order, at: Option<DateTime<Utc>>, id: Uuid) -> String {
    let raw = Raw {
        l: list.to_owned(),
        o: order_code(order),
        t: at,
        i: id,
    };
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(&raw).unwrap_or_default())
}

/// Decodes a cursor for `list` in `order`.
/// # Errors
/// 400 `invalid_cursor` when it is not a cursor, or one for another list or order.
pub fn decode(cursor: &str, list: &str, order: Order) -> Result<After, ApiError> {
    let bad = |why: &str| {
        ApiError::bad_request(
            "invalid_cursor",
            format!(
                "the cursor is not valid here: {why}; use page.next_cursor from a previous response with the same sort"
            ),
        )
    };
    let bytes = URL_SAFE_NO_PAD.decode(cursor.trim()).map_err(|_| bad("not a cursor"))?;
    let raw: Raw = serde_json::from_slice(&bytes).map_err(|_| bad("not a cursor"))?;
    if raw.l != list {
        return Err(bad("it belongs to another list"));
    }
    if raw.o != order_code(order) {
        return Err(bad("it was made for another sort order"));
    }
    if order.by == Sort::Updated && raw.t.is_none() {
        return Err(bad("it lacks its position"));
    }
    Ok(After { at: raw.t, id: raw.i })
}

/// The id after which a list in id order (a history) continues.
/// # Errors
/// 400 `invalid_cursor` for a cursor of another list.
pub fn decode_id(after: Option<&str>, list: &str) -> Result<Option<Uuid>, ApiError> {
    after
        .map(|c| decode(c, list, Order::default()).map(|a| a.id))
        .transpose()
}

/// The cursor after `id` in a list in id order.
pub fn encode_id(list: &str, id: Uuid) -> String {
    encode(list, Order::default(), None, id)
}

#[derive(Serialize, Deserialize)]
struct KeyRaw {
    l: String,
    k: Vec<String>,
}

/// The cursor after a position made of text keys (for lists ordered by something other
/// than time and id).
pub fn encode_key(list: &str, key: Vec<String>) -> String {
    let raw = KeyRaw {
        l: list.to_owned(),
        k: key,
    };
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(&raw).unwrap_or_default())
}

/// Decodes a cursor of [`encode_key`] for `list`.
/// # Errors
/// 400 `invalid_cursor` when it is not a cursor of `list`.
pub fn decode_key(cursor: &str, list: &str) -> Result<Vec<String>, ApiError> {
    let raw: Option<KeyRaw> = URL_SAFE_NO_PAD
        .decode(cursor.trim())
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok());
    match raw {
        Some(raw) if raw.l == list => Ok(raw.k),
        _ => Err(ApiError::bad_request(
            "invalid_cursor",
            "the cursor is not valid here; use page.next_cursor from a previous response of this list",
        )),
    }
}

/// Parses a `sort` parameter: `created_at`, `-created_at`, `updated_at`, `-updated_at`.
/// # Errors
/// 400 `invalid_query` for anything else.
pub fn parse_sort(sort: Option<&str>) -> Result<Order, ApiError> {
    let Some(s) = sort else {
        return Ok(Order::default());
    };
    let (descending, field) = match s.strip_prefix('-') {
        Some(f) => (true, f),
        None => (false, s),
    };
    let by = match field {
        "created_at" => Sort::Created,
        "updated_at" => Sort::Updated,
        _ => {
            return Err(ApiError::bad_request(
                "invalid_query",
                format!("sort must be one of created_at, -created_at, updated_at, -updated_at; got '{s}'"),
            ));
        }
    };
    Ok(Order { by, descending })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cursor_round_trips_for_its_own_list_and_order() {
        let o = Order {
            by: Sort::Updated,
            descending: true,
        };
        let t = Utc::now();
        let id = Uuid::now_v7();
        let c = encode("contacts", o, Some(t), id);
        assert_eq!(decode(&c, "contacts", o).unwrap(), After { at: Some(t), id });
        assert_eq!(decode(&c, "companies", o).unwrap_err().code(), "invalid_cursor");
        assert_eq!(
            decode(&c, "contacts", Order::default()).unwrap_err().code(),
            "invalid_cursor"
        );
        assert_eq!(decode("garbage!", "contacts", o).unwrap_err().code(), "invalid_cursor");
    }
}
