//! Contacts and lifecycle in GraphQL.

use std::collections::BTreeMap;

use async_graphql::connection::{Connection, Edge, EmptyFields};
use async_graphql::dataloader::DataLoader;
use async_graphql::{Context, Enum, ID, InputObject, Json, MaybeUndefined, Object, SimpleObject};
use chrono::{DateTime, Utc};
use rapport_domain::contact::{Contact, ContactInput};
use rapport_domain::lifecycle::{Stage, Transition};
use rapport_domain::patch::Patch;
use rapport_domain::{CompanyId, ContactId};
use rapport_store::contacts::ContactFilter;
use rapport_store::page::{Order, Sort};
use serde_json::{Map, Value};

use super::companies::CompanyNode;
use super::loaders::CompanyLoader;
use super::{Gql, patch, state, uuid};
use crate::dto::contacts::{ItemStatus, LifecycleStage};
use crate::error::ApiError;
use crate::http::{cursor, etag::Precondition};
use crate::service::{self, Outcome};

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
        let loader = ctx.data::<DataLoader<CompanyLoader>>()?;
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
        let after = after
            .as_deref()
            .map(|c| cursor::decode(c, "lifecycle", Order::default()).map(|a| a.id))
            .transpose()
            .gql()?;
        let page = service::lifecycle::history(app, who, self.0.id, after, limit)
            .await
            .gql()?;
        let mut conn = Connection::new(after.is_some(), page.has_more);
        for t in page.items {
            let c = cursor::encode("lifecycle", Order::default(), None, t.id.uuid());
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
    let mut conn = Connection::new(after.is_some(), page.has_more);
    for c in page.items {
        let cur = cursor::encode("contacts", order, Some(c.updated_at), c.id.uuid());
        conn.edges.push(Edge::new(cur, ContactNode(c)));
    }
    Ok(conn)
}

/// Contact fields to write: absent fields stay, `null` clears.
#[derive(InputObject, Default)]
pub struct ContactInputGql {
    pub email: MaybeUndefined<String>,
    pub phone: MaybeUndefined<String>,
    pub first_name: MaybeUndefined<String>,
    pub last_name: MaybeUndefined<String>,
    pub locale: MaybeUndefined<String>,
    pub country: MaybeUndefined<String>,
    pub company_id: MaybeUndefined<ID>,
    /// Merged by source; `null` for a source removes it.
    pub external_ids: Option<Json<BTreeMap<String, Option<String>>>>,
    /// Replaces the whole tag set.
    pub tags: MaybeUndefined<Vec<String>>,
    /// Merged by key; `null` for a key removes it.
    pub attributes: Option<Json<Map<String, Value>>>,
    pub lifecycle_stage: MaybeUndefined<LifecycleStage>,
    pub lead_score: MaybeUndefined<i64>,
    pub owner_id: MaybeUndefined<String>,
}

impl TryFrom<ContactInputGql> for ContactInput {
    type Error = ApiError;

    fn try_from(i: ContactInputGql) -> Result<Self, ApiError> {
        let company_id = match patch(i.company_id) {
            Patch::Set(id) => {
                Patch::Set(CompanyId::from_uuid(uuid(&id).ok_or_else(|| {
                    ApiError::invalid("/company_id", "invalid_format", "is not an id")
                })?))
            }
            Patch::Clear => Patch::Clear,
            Patch::Absent => Patch::Absent,
        };
        Ok(ContactInput {
            email: patch(i.email),
            phone: patch(i.phone),
            first_name: patch(i.first_name),
            last_name: patch(i.last_name),
            locale: patch(i.locale),
            country: patch(i.country),
            company_id,
            external_ids: i.external_ids.map(|j| j.0),
            tags: patch(i.tags),
            attributes: i.attributes.map(|j| j.0),
            lifecycle_stage: patch(i.lifecycle_stage).map(Stage::from),
            lead_score: patch(i.lead_score),
            owner_id: patch(i.owner_id),
        })
    }
}

fn contact_id(id: &ID) -> Result<ContactId, ApiError> {
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
        match service::contacts::get(app, who, id).await {
            Ok(c) => Ok(Some(ContactNode(c))),
            Err(ApiError::NotFound(_)) => Ok(None),
            Err(e) => Err(e).gql(),
        }
    }

    /// A contact by email (case-insensitive); null when there is none.
    async fn contact_by_email(&self, ctx: &Context<'_>, email: String) -> async_graphql::Result<Option<ContactNode>> {
        let (app, who) = state(ctx)?;
        match service::contacts::get_by_email(app, who, &email).await {
            Ok(c) => Ok(Some(ContactNode(c))),
            Err(ApiError::NotFound(_)) => Ok(None),
            Err(e) => Err(e).gql(),
        }
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

/// What an upsert did.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Enum)]
pub enum UpsertOutcome {
    Created,
    Updated,
    Unchanged,
}

impl From<Outcome> for UpsertOutcome {
    fn from(o: Outcome) -> Self {
        match o {
            Outcome::Created => Self::Created,
            Outcome::Updated => Self::Updated,
            Outcome::Unchanged => Self::Unchanged,
        }
    }
}

/// The result of an upsert.
#[derive(SimpleObject)]
pub struct UpsertContactPayload {
    pub contact: ContactNode,
    pub outcome: UpsertOutcome,
}

/// An error of one batch item.
#[derive(SimpleObject)]
pub struct ItemError {
    pub code: String,
    pub message: String,
    /// JSON pointers of the invalid fields, with their codes.
    pub fields: Vec<FieldProblem>,
}

/// One invalid field.
#[derive(SimpleObject)]
pub struct FieldProblem {
    pub pointer: String,
    pub code: String,
    pub message: String,
}

/// The result of one batch item.
#[derive(SimpleObject)]
pub struct BatchItem {
    pub index: i32,
    pub status: ItemStatus,
    pub contact: Option<ContactNode>,
    pub error: Option<ItemError>,
}

#[derive(Default)]
pub struct ContactMutation;

#[Object]
impl ContactMutation {
    async fn create_contact(&self, ctx: &Context<'_>, input: ContactInputGql) -> async_graphql::Result<ContactNode> {
        let (app, who) = state(ctx)?;
        let input = ContactInput::try_from(input).gql()?;
        service::contacts::create(app, who, input).await.map(ContactNode).gql()
    }

    /// Applies a partial update; `ifVersion` makes it conditional on the current version.
    async fn update_contact(
        &self,
        ctx: &Context<'_>,
        id: ID,
        input: ContactInputGql,
        if_version: Option<i64>,
    ) -> async_graphql::Result<ContactNode> {
        let (app, who) = state(ctx)?;
        let id = contact_id(&id).gql()?;
        let input = ContactInput::try_from(input).gql()?;
        service::contacts::update(app, who, id, input, Precondition::from_version(if_version))
            .await
            .map(ContactNode)
            .gql()
    }

    /// Deletes a contact; answers its id.
    async fn delete_contact(&self, ctx: &Context<'_>, id: ID, if_version: Option<i64>) -> async_graphql::Result<ID> {
        let (app, who) = state(ctx)?;
        let cid = contact_id(&id).gql()?;
        service::contacts::delete(app, who, cid, Precondition::from_version(if_version))
            .await
            .gql()?;
        Ok(id)
    }

    async fn upsert_contact_by_email(
        &self,
        ctx: &Context<'_>,
        email: String,
        input: ContactInputGql,
    ) -> async_graphql::Result<UpsertContactPayload> {
        let (app, who) = state(ctx)?;
        let input = ContactInput::try_from(input).gql()?;
        let (c, o) = service::contacts::upsert_by_email(app, who, &email, input, Precondition::None)
            .await
            .gql()?;
        Ok(UpsertContactPayload {
            contact: ContactNode(c),
            outcome: o.into(),
        })
    }

    async fn upsert_contact_by_external_id(
        &self,
        ctx: &Context<'_>,
        source: String,
        external_id: String,
        input: ContactInputGql,
    ) -> async_graphql::Result<UpsertContactPayload> {
        let (app, who) = state(ctx)?;
        let input = ContactInput::try_from(input).gql()?;
        let (c, o) =
            service::contacts::upsert_by_external_id(app, who, &source, &external_id, input, Precondition::None)
                .await
                .gql()?;
        Ok(UpsertContactPayload {
            contact: ContactNode(c),
            outcome: o.into(),
        })
    }

    /// Upserts up to 1000 contacts; each item is matched by an external id, then email.
    async fn batch_upsert_contacts(
        &self,
        ctx: &Context<'_>,
        items: Vec<ContactInputGql>,
    ) -> async_graphql::Result<Vec<BatchItem>> {
        let (app, who) = state(ctx)?;
        service::contacts::check_batch_size(items.len()).gql()?;
        let inputs = items.into_iter().map(ContactInput::try_from).collect();
        let results = service::contacts::batch_upsert(app, who, inputs).await.gql()?;
        Ok(results
            .into_iter()
            .enumerate()
            .map(|(i, r)| {
                let index = i32::try_from(i).unwrap_or(i32::MAX);
                match r {
                    Ok((c, o)) => BatchItem {
                        index,
                        status: match o {
                            Outcome::Created => ItemStatus::Created,
                            Outcome::Updated => ItemStatus::Updated,
                            Outcome::Unchanged => ItemStatus::Unchanged,
                        },
                        contact: Some(ContactNode(c)),
                        error: None,
                    },
                    Err(e) => {
                        let p = e.problem();
                        BatchItem {
                            index,
                            status: ItemStatus::Failed,
                            contact: None,
                            error: Some(ItemError {
                                code: p.code.to_owned(),
                                message: p.detail,
                                fields: p
                                    .errors
                                    .into_iter()
                                    .map(|f| FieldProblem {
                                        pointer: f.pointer,
                                        code: f.code.to_owned(),
                                        message: f.message,
                                    })
                                    .collect(),
                            }),
                        }
                    }
                }
            })
            .collect())
    }

    /// Moves a contact to another stage (a backward move needs `lifecycle:override` and a reason).
    async fn change_lifecycle_stage(
        &self,
        ctx: &Context<'_>,
        id: ID,
        stage: LifecycleStage,
        reason: Option<String>,
        if_version: Option<i64>,
    ) -> async_graphql::Result<ContactNode> {
        let (app, who) = state(ctx)?;
        let id = contact_id(&id).gql()?;
        service::lifecycle::change_stage(
            app,
            who,
            id,
            stage.into(),
            reason.as_deref(),
            Precondition::from_version(if_version),
        )
        .await
        .map(ContactNode)
        .gql()
    }

    /// Adds and removes tags.
    async fn tag_contact(
        &self,
        ctx: &Context<'_>,
        id: ID,
        #[graphql(default)] add: Vec<String>,
        #[graphql(default)] remove: Vec<String>,
    ) -> async_graphql::Result<ContactNode> {
        let (app, who) = state(ctx)?;
        let id = contact_id(&id).gql()?;
        service::contacts::retag(app, who, id, &add, &remove, Precondition::None)
            .await
            .map(ContactNode)
            .gql()
    }
}
