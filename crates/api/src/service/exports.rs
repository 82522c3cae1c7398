//! Exports: every contact of a workspace (or of one segment), read a page at a time while
//! the response is written, so memory stays flat however many there are.

use actix_web::web;
use futures_util::Stream;
use rapport_domain::SegmentId;
use rapport_domain::contact::Contact;
use rapport_domain::scope::Scope;
use rapport_store::contacts::{self, ContactFilter};
use rapport_store::page::{After, Order, Page};
use rapport_store::segments::{self, members};
use uuid::Uuid;

use crate::app::App;
use crate::auth::Caller;
use crate::error::{ApiError, OrNotFound};

/// Contacts read per statement.
pub const EXPORT_PAGE: u64 = 500;

/// The live contacts of the caller's workspace, or the members of `segment`, in id order,
/// one page per item, each page read only when the previous one was consumed. Contacts
/// written while the export runs appear when their id lies ahead of the cursor.
/// # Errors
/// 403 without `contacts:read` (and `segments:read` for a segment); 404 for an unknown
/// segment. A database failure after the first page ends the stream with an error item.
pub async fn contact_pages(
    app: web::Data<App>,
    who: Caller,
    segment: Option<SegmentId>,
) -> Result<impl Stream<Item = Result<Vec<Contact>, ApiError>>, ApiError> {
    who.require(Scope::ContactsRead)?;
    if let Some(s) = segment {
        who.require(Scope::SegmentsRead)?;
        segments::get(app.db.read(), who.workspace(), s)
            .await
            .or_not_found("segment")?;
    }
    // `None`: finished; `Some(after)`: the next page starts after `after`.
    let start: Option<Option<Uuid>> = Some(None);
    Ok(futures_util::stream::unfold(start, move |state| {
        let app = app.clone();
        let ws = who.workspace();
        async move {
            let after = state?;
            let page: Result<Page<Contact>, ApiError> = match segment {
                Some(s) => members::page(app.db.read(), ws, s, after, EXPORT_PAGE)
                    .await
                    .map_err(Into::into),
                None => {
                    let after = after.map(|id| After { at: None, id });
                    contacts::list(
                        app.db.read(),
                        ws,
                        &ContactFilter::default(),
                        Order::default(),
                        after.as_ref(),
                        EXPORT_PAGE,
                    )
                    .await
                    .map_err(Into::into)
                }
            };
            Some(match page {
                Ok(p) => {
                    let next = if p.has_more {
                        p.items.last().map(|c| Some(c.id.uuid()))
                    } else {
                        None
                    };
                    (Ok(p.items), next)
                }
                Err(e) => (Err(e), None),
            })
        }
    }))
}
