//! Pagination envelope.

use serde::Serialize;
use utoipa::ToSchema;

/// Where a page ends.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct PageInfo {
    /// Pass as `after` to read the next page; absent on the last page.
    pub next_cursor: Option<String>,
    pub has_more: bool,
}

/// Defines a `{ data: [...], page: {...} }` list type for one item type.
#[macro_export]
macro_rules! list_type {
    ($name:ident, $item:ty) => {
        /// A page of results.
        #[derive(Debug, serde::Serialize, utoipa::ToSchema)]
        pub struct $name {
            pub data: Vec<$item>,
            pub page: $crate::dto::PageInfo,
        }
    };
}
