//! HTTP plumbing shared by every REST endpoint: request ids, body and query parsing
//! with precise errors, cursors, ETags, idempotency and metrics.

pub mod cors;
pub mod cursor;
pub mod etag;
pub mod idempotency;
pub mod json;
pub mod metrics;
pub mod query;
pub mod request_id;
