//! Batched loading: a page of contacts resolves all its companies in one query.

use std::collections::HashMap;

use actix_web::web;
use async_graphql::ErrorExtensions;
use async_graphql::dataloader::Loader;
use rapport_domain::CompanyId;
use rapport_domain::company::Company;

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
