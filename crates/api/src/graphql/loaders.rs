//! Batched loading: a page of contacts resolves all its companies, and all its consent
//! states, in one query each.

use std::collections::HashMap;

use actix_web::web;
use async_graphql::ErrorExtensions;
use async_graphql::dataloader::Loader;
use rapport_domain::company::Company;
use rapport_domain::consent::ConsentState;
use rapport_domain::{CompanyId, ContactId};

use crate::app::App;
use crate::auth::Caller;

/// The per-request company loader, with a cache so a page's prefetched companies are
/// reused by each contact.
pub type Companies = async_graphql::dataloader::DataLoader<CompanyLoader, async_graphql::dataloader::HashMapCache>;

/// Loads companies of the caller's workspace by id.
pub struct CompanyLoader {
    pub app: web::Data<App>,
    pub who: Caller,
}

impl Loader<CompanyId> for CompanyLoader {
    type Value = Company;
    type Error = async_graphql::Error;

    async fn load(&self, keys: &[CompanyId]) -> Result<HashMap<CompanyId, Company>, Self::Error> {
        let companies = crate::service::companies::get_many(&self.app, &self.who, keys)
            .await
            .map_err(|e| e.extend())?;
        Ok(companies.into_iter().map(|c| (c.id, c)).collect())
    }
}

/// The per-request loader of contacts' consent states.
pub type ConsentStates = async_graphql::dataloader::DataLoader<ConsentLoader, async_graphql::dataloader::HashMapCache>;

/// Loads the effective consent states of contacts of the caller's workspace.
pub struct ConsentLoader {
    pub app: web::Data<App>,
    pub who: Caller,
}

impl Loader<ContactId> for ConsentLoader {
    type Value = Vec<ConsentState>;
    type Error = async_graphql::Error;

    async fn load(&self, keys: &[ContactId]) -> Result<HashMap<ContactId, Vec<ConsentState>>, Self::Error> {
        let mut states = crate::service::consent::states_of(&self.app, &self.who, keys)
            .await
            .map_err(|e| e.extend())?;
        // Contacts without records answer an empty list rather than "not loaded".
        for k in keys {
            states.entry(*k).or_default();
        }
        Ok(states)
    }
}

/// The per-request loader of contacts' purchase metrics.
pub type Metrics = async_graphql::dataloader::DataLoader<MetricsLoader, async_graphql::dataloader::HashMapCache>;

/// Loads the purchase metrics of contacts of the caller's workspace.
pub struct MetricsLoader {
    pub app: web::Data<App>,
    pub who: Caller,
}

impl Loader<ContactId> for MetricsLoader {
    type Value = rapport_domain::order::PurchaseMetrics;
    type Error = async_graphql::Error;

    async fn load(&self, keys: &[ContactId]) -> Result<HashMap<ContactId, Self::Value>, Self::Error> {
        crate::service::orders::metrics_of_many(&self.app, &self.who, keys)
            .await
            .map_err(|e| e.extend())
    }
}
