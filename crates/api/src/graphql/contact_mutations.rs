//! Contact and lifecycle mutations.

use std::collections::BTreeMap;

use async_graphql::{Context, Enum, ID, InputObject, Json, MaybeUndefined, Object, SimpleObject};
use rapport_domain::CompanyId;
use rapport_domain::contact::ContactInput;
use rapport_domain::lifecycle::Stage;
use rapport_domain::patch::Patch;
use serde_json::{Map, Value};

use super::contacts::{ContactNode, contact_id};
use super::{Gql, patch, state, uuid};
use crate::dto::contacts::{ItemStatus, LifecycleStage};
use crate::error::ApiError;
use crate::http::etag::Precondition;
use crate::service::{self, Outcome};

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
    pub external_ids: MaybeUndefined<Json<BTreeMap<String, Option<String>>>>,
    /// Replaces the whole tag set.
    pub tags: MaybeUndefined<Vec<String>>,
    /// Merged by key; `null` for a key removes it.
    pub attributes: MaybeUndefined<Json<Map<String, Value>>>,
    pub lifecycle_stage: MaybeUndefined<LifecycleStage>,
    pub lead_score: MaybeUndefined<i64>,
    pub owner_id: MaybeUndefined<String>,
    /// Consent decisions to record with the write, in the same transaction.
    pub consents: Option<Vec<super::consent::RecordInputGql>>,
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
            external_ids: patch(i.external_ids).map(|j| j.0),
            tags: patch(i.tags),
            attributes: patch(i.attributes).map(|j| j.0),
            lifecycle_stage: patch(i.lifecycle_stage).map(Stage::from),
            lead_score: patch(i.lead_score),
            owner_id: patch(i.owner_id),
            consents: i.consents.unwrap_or_default().into_iter().map(Into::into).collect(),
        })
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
        let (c, o) = service::upserts::upsert_by_email(app, who, &email, input, Precondition::None)
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
            service::upserts::upsert_by_external_id(app, who, &source, &external_id, input, Precondition::None)
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
        service::upserts::check_batch_size(items.len()).gql()?;
        let inputs = items.into_iter().map(ContactInput::try_from).collect();
        let results = service::upserts::batch_upsert(app, who, inputs).await.gql()?;
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
