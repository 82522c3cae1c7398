//! sea-orm entities: private to the store, mapped to domain types by the repositories.

pub mod api_client;
pub mod attribute_definition;
pub mod company;
pub mod connector;
pub mod consent_confirmation;
pub mod consent_event;
pub mod consent_purpose;
pub mod consent_state;
pub mod contact;
pub mod contact_erasure;
pub mod contact_external_id;
pub mod contact_metric;
pub mod contact_tag;
pub mod dispatch_cursor;
pub mod event;
pub mod idempotency_key;
pub mod instance_secret;
pub mod lifecycle_transition;
pub mod order;
pub mod segment;
pub mod segment_member;
pub mod segment_membership;
pub mod webhook_attempt;
pub mod webhook_delivery;
pub mod webhook_endpoint;
pub mod workspace;
