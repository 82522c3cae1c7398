//! Contacts and lifecycle in GraphQL.

use std::collections::BTreeMap;

use async_graphql::connection::{Connection, Edge, EmptyFields};
use async_graphql::{Context, Enum, ID, InputObject, Json, Object, SimpleObject};
use chrono::{DateTime, Utc};
use rapport_domain::contact::Contact;
use rapport_domain::lifecycle::{Stage, Transition};
use rapport_domain::{CompanyId, ContactId};
use rapport_store::contacts::ContactFilter;
use rapport_store::page::{Order, Sort};
use serde_json::{Map, Value};

use super::companies::CompanyNode;
use super::loaders::Companies;
use super::{Gql, found, state, uuid};
use crate::dto::contacts::LifecycleStage;
use crate::error::ApiError;
use crate::http::cursor;
use crate::service;

/// A contact.
pub struct ContactNode(pub Contact);

/// When a stage was first entered.
#[derive(SimpleObject)]
pub struct StageEntry {
    pub stage: LifecycleStage,
    pub at: DateTime<Utc>,
}

/// Who made a change.
#[derive(SimpleObject)]
pub struct Actor {
    /// `api_client`, `connector`, `user` or `system`.
    pub kind: String,
    pub id: Option<String>,
}

/// A recorded stage change.
pub struct TransitionNode(Transition);

#[Object(name = "LifecycleTransition")]
impl TransitionNode {
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }
    async fn from(&self) -> Option<LifecycleStage> {
        self.0.from.map(Into::into)
    }
    async fn to(&self) -> LifecycleStage {
        self.0.to.into()
    }
    /// `forward`, `exit`, `reactivation` or `backward`.
    async fn direction(&self) -> &str {
        self.0.direction.as_str()
    }
    /// `api`, `rule`, `order` or `import`.
    async fn cause(&self) -> &str {
        self.0.cause.as_str()
    }
    async fn actor(&self) -> Actor {
        Actor {
            kind: self.0.actor.kind.as_str().to_owned(),
            id: self.0.actor.id.clone(),
        }
    }
    async fn reason(&self) -> Option<&str> {
        self.0.reason.as_deref()
    }
    async fn at(&self) -> DateTime<Utc> {
        self.0.at
    }
}

#[Object(name = "Contact")]
impl ContactNode {
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }
    async fn email(&self) -> Option<&str> {
        self.0.email.as_ref().map(rapport_domain::email::Email::as_str)
    }
    async fn phone(&self) -> Option<&str> {
        self.0.phone.as_deref()
    }
    async fn first_name(&self) -> Option<&str> {
        self.0.first_name.as_deref()
    }
    async fn last_name(&self) -> Option<&str> {
        self.0.last_name.as_deref()
    }
    /// First and last name together.
    async fn full_name(&self) -> Option<String> {
        self.0.full_name()
    }
    async fn locale(&self) -> Option<&str> {
        self.0.locale.as_deref()
    }
    async fn country(&self) -> Option<&str> {
        self.0.country.as_deref()
    }
    async fn company_id(&self) -> Option<ID> {
        self.0.company_id.map(|c| ID(c.to_string()))
    }
    /// The contact's company, loaded in one batch for a whole page of contacts.
    async fn company(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<CompanyNode>> {
        let Some(id) = self.0.company_id else { return Ok(None) };
        let loader = ctx.data::<Companies>()?;
        Ok(loader.load_one(id).await?.map(CompanyNode))
    }
    /// Ids in other systems, by source.
    async fn external_ids(&self) -> Json<BTreeMap<String, String>> {
        Json(self.0.external_ids.clone())
    }
    async fn tags(&self) -> &[String] {
        &self.0.tags
    }
    /// Custom attributes.
    async fn attributes(&self) -> Json<Map<String, Value>> {
        Json(self.0.attributes.clone())
    }
    async fn lifecycle_stage(&self) -> LifecycleStage {
        self.0.stage.stage.into()
    }
    /// The furthest main-path stage ever reached.
    async fn highest_stage(&self) -> LifecycleStage {
        self.0.stage.highest.into()
    }
    /// When each stage was first entered.
    async fn stage_entered_at(&self) -> Vec<StageEntry> {
        self.0
            .stage
            .entered_at
            .iter()
            .map(|(s, at)| StageEntry {
                stage: (*s).into(),
                at: *at,
            })
            .collect()
    }
    async fn lead_score(&self) -> i64 {
        self.0.lead_score
    }
    async fn owner_id(&self) -> Option<&str> {
        self.0.owner_id.as_deref()
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
    /// Set when the person's data was erased: the contact is a tombstone.
    async fn erased_at(&self) -> Option<DateTime<Utc>> {
        self.0.erased_at
    }
    /// The effective consent state per purpose and contact point (needs `consent:read`).
    async fn consents(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<super::consent::StateGql>> {
        super::consent::contact_states(ctx, &self.0).await
    }
    /// May this person be contacted for `purpose` now (at `contactPoint`, else at the
    /// contact's address for the purpose's channel)?
    async fn consent(
        &self,
        ctx: &Context<'_>,
        purpose: String,
        contact_point: Option<String>,
    ) -> async_graphql::Result<super::consent::DecisionGql> {
        super::consent::contact_decision(ctx, &self.0, &purpose, contact_point.as_deref()).await
    }
    /// Recorded consent decisions in arrival order.
    #[graphql(complexity = "first.unwrap_or(50).max(1) as usize * child_complexity")]
    async fn consent_history(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        purpose: Option<String>,
    ) -> async_graphql::Result<Connection<String, super::consent::EventGql, EmptyFields, EmptyFields>> {
        super::consent::contact_history(ctx, &self.0, first, after, purpose).await
    }
    /// The segments the contact is in (with `includePast`, also the spans of past
    /// membership).
    async fn segments(
        &self,
        ctx: &Context<'_>,
        #[graphql(default)] include_past: bool,
    ) -> async_graphql::Result<Vec<super::segments::MembershipGql>> {
        super::segments::of_contact(ctx, self.0.id, include_past).await
    }
    /// The contact's orders, newest first (needs `orders:read`).
    #[graphql(complexity = "first.unwrap_or(50).max(1) as usize * child_complexity")]
    async fn orders(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
    ) -> async_graphql::Result<Connection<String, super::orders::OrderNode, EmptyFields, EmptyFields>> {
        super::orders::of_contact(ctx, self.0.id, first, after).await
    }
    /// What the contact's purchases add up to, per currency.
    async fn metrics(&self, ctx: &Context<'_>) -> async_graphql::Result<crate::dto::orders::PurchaseMetricsDto> {
        super::orders::metrics_of(ctx, self.0.id).await
    }
    /// Stage transitions, oldest first.
    #[graphql(complexity = "first.unwrap_or(50).max(1) as usize * child_complexity")]
    async fn lifecycle_history(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
    ) -> async_graphql::Result<Connection<String, TransitionNode, EmptyFields, EmptyFields>> {
        let (app, who) = state(ctx)?;
        let limit = page_size(first).gql()?;
        let after = cursor::decode_id(after.as_deref(), "lifecycle").gql()?;
        let page = service::lifecycle::history(app, who, self.0.id, after, limit)
            .await
            .gql()?;
        let mut conn = Connection::new(after.is_some(), page.has_more);
        for t in page.items {
            let c = cursor::encode_id("lifecycle", t.id.uuid());
            conn.edges.push(Edge::new(c, TransitionNode(t)));
        }
        Ok(conn)
    }
}

/// Converts a GraphQL page size.
pub(crate) fn page_size(first: Option<i32>) -> Result<u64, ApiError> {
    service::page_size(first.map(|f| u64::try_from(f).unwrap_or(0)))
}

/// Ordering of contact lists.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Enum, Default)]
pub enum ContactSort {
    #[default]
    CreatedAt,
    CreatedAtDesc,
    UpdatedAt,
    UpdatedAtDesc,
}

impl From<ContactSort> for Order {
    fn from(s: ContactSort) -> Self {
        match s {
            ContactSort::CreatedAt => Order {
                by: Sort::Created,
                descending: false,
            },
            ContactSort::CreatedAtDesc => Order {
                by: Sort::Created,
                descending: true,
            },
            ContactSort::UpdatedAt => Order {
                by: Sort::Updated,
                descending: false,
            },
            ContactSort::UpdatedAtDesc => Order {
                by: Sort::Updated,
                descending: true,
            },
        }
    }
}

/// Filters for contact lists; all given filters must match.
#[derive(InputObject, Default)]
pub struct ContactFilterInput {
    pub stage: Option<LifecycleStage>,
    pub tag: Option<String>,
    pub email: Option<String>,
    pub company_id: Option<ID>,
    pub updated_since: Option<DateTime<Utc>>,
    /// Every word must appear in the first name, last name or email.
    pub q: Option<String>,
}

impl ContactFilterInput {
    fn into_filter(self) -> Result<ContactFilter, ApiError> {
        let company_id = match self.company_id {
            None => None,
            Some(id) => {
                Some(CompanyId::from_uuid(uuid(&id).ok_or_else(|| {
                    ApiError::bad_request("invalid_query", "companyId is not an id")
                })?))
            }
        };
        Ok(ContactFilter {
            stage: self.stage.map(Stage::from),
            tag: self.tag.map(|t| t.trim().to_lowercase()),
            email: self.email.map(|e| e.trim().to_lowercase()),
            company_id,
            updated_since: self.updated_since,
            q: self.q.filter(|q| !q.trim().is_empty()),
        })
    }
}

/// A page of contacts as a Relay connection.
pub(crate) async fn contact_connection(
    ctx: &Context<'_>,
    filter: ContactFilter,
    sort: ContactSort,
    first: Option<i32>,
    after: Option<String>,
) -> async_graphql::Result<Connection<String, ContactNode, EmptyFields, EmptyFields>> {
    let (app, who) = state(ctx)?;
    let order: Order = sort.into();
    let limit = page_size(first).gql()?;
    let after = after
        .as_deref()
        .map(|c| cursor::decode(c, "contacts", order))
        .transpose()
        .gql()?;
    let page = service::contacts::list(app, who, &filter, order, after.as_ref(), limit)
        .await
        .gql()?;
    prefetch_relations(ctx, &page.items).await?;
    let mut conn = Connection::new(after.is_some(), page.has_more);
    for c in page.items {
        let cur = cursor::encode("contacts", order, Some(c.updated_at), c.id.uuid());
        conn.edges.push(Edge::new(cur, ContactNode(c)));
    }
    Ok(conn)
}

/// Loads the companies, and the consent states, of a whole page in one statement each
/// when the query asks for them; each node then reads them from the loaders' caches.
async fn prefetch_relations(ctx: &Context<'_>, contacts: &[Contact]) -> async_graphql::Result<()> {
    let look = ctx.look_ahead();
    let wanted =
        look.field("edges").field("node").field("company").exists() || look.field("nodes").field("company").exists();
    let ids: Vec<CompanyId> = contacts.iter().filter_map(|c| c.company_id).collect();
    if wanted && !ids.is_empty() {
        ctx.data::<Companies>()?.load_many(ids).await?;
    }
    let consents =
        look.field("edges").field("node").field("consents").exists() || look.field("nodes").field("consents").exists();
    if consents && !contacts.is_empty() {
        let loader = ctx.data::<super::loaders::ConsentStates>()?;
        loader.load_many(contacts.iter().map(|c| c.id)).await?;
    }
    Ok(())
}

pub(crate) fn contact_id(id: &ID) -> Result<ContactId, ApiError> {
    uuid(id).map(ContactId::from_uuid).ok_or(ApiError::NotFound("contact"))
}

#[derive(Default)]
pub struct ContactQuery;

#[Object]
impl ContactQuery {
    /// A contact by id; null when there is none in the workspace.
    async fn contact(&self, ctx: &Context<'_>, id: ID) -> async_graphql::Result<Option<ContactNode>> {
        let (app, who) = state(ctx)?;
        let Ok(id) = contact_id(&id) else { return Ok(None) };
        Ok(found(service::contacts::get(app, who, id).await)?.map(ContactNode))
    }

    /// A contact by email (case-insensitive); null when there is none.
    async fn contact_by_email(&self, ctx: &Context<'_>, email: String) -> async_graphql::Result<Option<ContactNode>> {
        let (app, who) = state(ctx)?;
        Ok(found(service::contacts::get_by_email(app, who, &email).await)?.map(ContactNode))
    }

    /// Contacts, filtered, as a Relay connection.
    #[graphql(complexity = "first.unwrap_or(50).max(1) as usize * child_complexity")]
    async fn contacts(
        &self,
        ctx: &Context<'_>,
        filter: Option<ContactFilterInput>,
        #[graphql(default)] sort: ContactSort,
        first: Option<i32>,
        after: Option<String>,
    ) -> async_graphql::Result<Connection<String, ContactNode, EmptyFields, EmptyFields>> {
        let filter = filter.unwrap_or_default().into_filter().gql()?;
        contact_connection(ctx, filter, sort, first, after).await
    }
}
