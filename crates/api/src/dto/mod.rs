//! Request and response types of the public API, shared by REST, GraphQL and event
//! payloads (an event's `object` is the same representation a GET returns). Request
//! types are separate from domain records, so no field can be mass-assigned.

pub mod api_clients;
pub mod attributes;
pub mod companies;
pub mod connectors;
pub mod consent;
pub mod contacts;
pub mod events;
pub mod imports;
pub mod orders;
pub mod page;
pub mod segments;
pub mod webhooks;

pub use page::PageInfo;
