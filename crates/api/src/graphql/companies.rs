//! Companies in GraphQL.

use async_graphql::connection::{Connection, Edge, EmptyFields};
use async_graphql::{Context, ID, InputObject, Json, MaybeUndefined, Object};
use chrono::{DateTime, Utc};
use rapport_domain::CompanyId;
use rapport_domain::company::{Company, CompanyInput};
use rapport_store::companies::CompanyFilter;
use rapport_store::contacts::ContactFilter;
use rapport_store::page::Order;
use serde_json::{Map, Value};

use super::contacts::{ContactNode, ContactSort, contact_connection, page_size};
use super::{Gql, found, patch, state, uuid};
use crate::error::ApiError;
use crate::http::{cursor, etag::Precondition};
use crate::service;

/// A company (account).
pub struct CompanyNode(pub Company);

#[Object(name = "Company")]
impl CompanyNode {
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }
    async fn name(&self) -> &str {
        &self.0.name
    }
    async fn domain(&self) -> Option<&str> {
        self.0.domain.as_deref()
    }
    async fn industry(&self) -> Option<&str> {
        self.0.industry.as_deref()
    }
    /// Headcount.
    async fn size(&self) -> Option<i64> {
        self.0.size
    }
    async fn attributes(&self) -> Json<Map<String, Value>> {
        Json(self.0.attributes.clone())
    }
    async fn version(&self) -> i64 {
        self.0.version
    }
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
    async fn updated_at(&self) -> DateTime<Utc> {
        self.0.updated_at
    }
    /// The company's contacts.
    #[graphql(complexity = "first.unwrap_or(50).max(1) as usize * child_complexity")]
    async fn contacts(
        &self,
        ctx: &Context<'_>,
        #[graphql(default)] sort: ContactSort,
        first: Option<i32>,
        after: Option<String>,
    ) -> async_graphql::Result<Connection<String, ContactNode, EmptyFields, EmptyFields>> {
        let filter = ContactFilter {
            company_id: Some(self.0.id),
            ..Default::default()
        };
        contact_connection(ctx, filter, sort, first, after).await
    }
}

/// Filters for company lists.
#[derive(InputObject, Default)]
pub struct CompanyFilterInput {
    pub domain: Option<String>,
    /// Name contains this text.
    pub q: Option<String>,
    pub updated_since: Option<DateTime<Utc>>,
}

/// Company fields to write: absent fields stay, `null` clears.
#[derive(InputObject, Default)]
pub struct CompanyInputGql {
    pub name: MaybeUndefined<String>,
    pub domain: MaybeUndefined<String>,
    pub industry: MaybeUndefined<String>,
    pub size: MaybeUndefined<i64>,
    pub attributes: MaybeUndefined<Json<Map<String, Value>>>,
}

impl From<CompanyInputGql> for CompanyInput {
    fn from(i: CompanyInputGql) -> Self {
        CompanyInput {
            name: patch(i.name),
            domain: patch(i.domain),
            industry: patch(i.industry),
            size: patch(i.size),
            attributes: patch(i.attributes).map(|j| j.0),
        }
    }
}

fn company_id(id: &ID) -> Result<CompanyId, ApiError> {
    uuid(id).map(CompanyId::from_uuid).ok_or(ApiError::NotFound("company"))
}

#[derive(Default)]
pub struct CompanyQuery;

#[Object]
impl CompanyQuery {
    /// A company by id; null when there is none in the workspace.
    async fn company(&self, ctx: &Context<'_>, id: ID) -> async_graphql::Result<Option<CompanyNode>> {
        let (app, who) = state(ctx)?;
        let Ok(id) = company_id(&id) else { return Ok(None) };
        Ok(found(service::companies::get(app, who, id).await)?.map(CompanyNode))
    }

    /// Companies as a Relay connection, in creation order.
    #[graphql(complexity = "first.unwrap_or(50).max(1) as usize * child_complexity")]
    async fn companies(
        &self,
        ctx: &Context<'_>,
        filter: Option<CompanyFilterInput>,
        first: Option<i32>,
        after: Option<String>,
    ) -> async_graphql::Result<Connection<String, CompanyNode, EmptyFields, EmptyFields>> {
        let (app, who) = state(ctx)?;
        let f = filter.unwrap_or_default();
        let filter = CompanyFilter {
            domain: f.domain,
            q: f.q.filter(|q| !q.trim().is_empty()),
            updated_since: f.updated_since,
        };
        let order = Order::default();
        let limit = page_size(first).gql()?;
        let after = after
            .as_deref()
            .map(|c| cursor::decode(c, "companies", order))
            .transpose()
            .gql()?;
        let page = service::companies::list(app, who, &filter, order, after.as_ref(), limit)
            .await
            .gql()?;
        let mut conn = Connection::new(after.is_some(), page.has_more);
        for c in page.items {
            let cur = cursor::encode("companies", order, Some(c.updated_at), c.id.uuid());
            conn.edges.push(Edge::new(cur, CompanyNode(c)));
        }
        Ok(conn)
    }
}

#[derive(Default)]
pub struct CompanyMutation;

#[Object]
impl CompanyMutation {
    async fn create_company(&self, ctx: &Context<'_>, input: CompanyInputGql) -> async_graphql::Result<CompanyNode> {
        let (app, who) = state(ctx)?;
        service::companies::create(app, who, input.into())
            .await
            .map(CompanyNode)
            .gql()
    }

    async fn update_company(
        &self,
        ctx: &Context<'_>,
        id: ID,
        input: CompanyInputGql,
        if_version: Option<i64>,
    ) -> async_graphql::Result<CompanyNode> {
        let (app, who) = state(ctx)?;
        let id = company_id(&id).gql()?;
        service::companies::update(app, who, id, input.into(), Precondition::from_version(if_version))
            .await
            .map(CompanyNode)
            .gql()
    }

    /// Deletes a company (its contacts are unlinked); answers its id.
    async fn delete_company(&self, ctx: &Context<'_>, id: ID, if_version: Option<i64>) -> async_graphql::Result<ID> {
        let (app, who) = state(ctx)?;
        let cid = company_id(&id).gql()?;
        service::companies::delete(app, who, cid, Precondition::from_version(if_version))
            .await
            .gql()?;
        Ok(id)
    }
}
