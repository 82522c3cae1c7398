//! Typed identifiers. Every id is a UUIDv7 (time-ordered), so inserts append to
//! indexes and ids sort by creation time.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(Uuid);

        impl $name {
            /// A new time-ordered id.
            pub fn new() -> Self {
                Self(Uuid::now_v7())
            }

            /// Wraps an existing UUID (read from storage or a request path).
            pub const fn from_uuid(id: Uuid) -> Self {
                Self(id)
            }

            /// The underlying UUID.
            pub const fn uuid(self) -> Uuid {
                self.0
            }
        }

        impl Default for $name {
            fn default() -> Self {
                Self::new()
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }

        impl FromStr for $name {
            type Err = uuid::Error;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Uuid::parse_str(s).map(Self)
            }
        }

        impl From<Uuid> for $name {
            fn from(id: Uuid) -> Self {
                Self(id)
            }
        }

        impl From<$name> for Uuid {
            fn from(id: $name) -> Uuid {
                id.0
            }
        }
    };
}

id_type!(
    /// A workspace: the tenant every other record belongs to.
    WorkspaceId
);
id_type!(
    /// A contact (a person the business knows).
    ContactId
);
id_type!(
    /// A company (account) contacts can belong to.
    CompanyId
);
id_type!(
    /// An API client (OAuth2 client-credentials identity).
    ApiClientId
);
id_type!(
    /// A custom attribute definition.
    AttributeDefinitionId
);
id_type!(
    /// An event in the outbox.
    EventId
);
id_type!(
    /// A recorded lifecycle stage transition.
    TransitionId
);
id_type!(
    /// One decision in the consent ledger.
    ConsentEventId
);
id_type!(
    /// A data-subject erasure request.
    ErasureId
);
id_type!(
    /// A webhook endpoint.
    WebhookId
);
id_type!(
    /// One event's delivery to one webhook endpoint.
    DeliveryId
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_created_later_sort_later() {
        let a = ContactId::new();
        let b = ContactId::new();
        assert!(a < b);
    }

    #[test]
    fn an_id_round_trips_through_its_text_form() {
        let a = CompanyId::new();
        assert_eq!(a.to_string().parse::<CompanyId>().unwrap(), a);
    }
}
id_type!(
    /// A segment: a rule-defined audience or an explicit list of contacts.
    SegmentId
);
id_type!(
    /// An order from a shop or an ERP.
    OrderId
);
id_type!(
    /// A bulk import job.
    ImportId
);
