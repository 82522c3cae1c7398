//! Duplicate suggestions and merges in GraphQL (same service as REST).

use std::collections::BTreeMap;

use async_graphql::connection::{Connection, Edge, EmptyFields};
use async_graphql::{Context, ID, Object, SimpleObject};
use rapport_domain::ContactId;
use rapport_store::duplicates::Group;

use super::contacts::{ContactNode, contact_id, page_size};
use super::{Gql, state};
use crate::dto::contacts::DroppedExternalId;
use crate::http::etag::Precondition;
use crate::rest::merge::{cursor_after, position, reason};
use crate::service;

/// Contacts that are probably one person.
pub struct DuplicateGroupNode(Group);

#[Object(name = "DuplicateGroup")]
impl DuplicateGroupNode {
    /// `email`, `phone` or `name_company`.
    async fn reason(&self) -> &str {
        self.0.reason.as_str()
    }
    /// What the contacts share: the email match key, the phone, or `name|company id`.
    async fn key(&self) -> String {
        self.0.key.join("|")
    }
    /// 2 to 50 contacts, oldest first.
    async fn contacts(&self) -> Vec<ContactNode> {
        self.0.contacts.iter().cloned().map(ContactNode).collect()
    }
}

/// What a merge did.
#[derive(SimpleObject)]
#[graphql(name = "MergeResult")]
pub struct MergeResultGql {
    /// The survivor after the merge.
    contact: ContactNode,
    merged_ids: Vec<ID>,
    dropped_external_ids: Vec<DroppedExternalId>,
}

#[derive(Default)]
pub struct MergeQuery;

#[Object]
impl MergeQuery {
    /// Likely duplicates (as `GET /v1/contacts/duplicates`): by `reason` (`email`,
    /// `phone`, `name_company`) or all three in that order.
    #[graphql(
        complexity = "first.unwrap_or(50).max(1) as usize * rapport_store::duplicates::GROUP_LIMIT * child_complexity"
    )]
    async fn contact_duplicates(
        &self,
        ctx: &Context<'_>,
        reason: Option<String>,
        first: Option<i32>,
        after: Option<String>,
    ) -> async_graphql::Result<Connection<String, DuplicateGroupNode, EmptyFields, EmptyFields>> {
        let (app, who) = state(ctx)?;
        let only = reason.as_deref().map(self::reason).transpose().gql()?;
        let limit = page_size(first).gql()?;
        let from = position(after.as_deref()).gql()?;
        let had_cursor = from.is_some();
        let (groups, more) = service::merge::duplicates(app, who, only, from, limit).await.gql()?;
        let mut c = Connection::new(had_cursor, more);
        c.edges.extend(
            groups
                .into_iter()
                .map(|g| Edge::new(cursor_after(&g), DuplicateGroupNode(g))),
        );
        Ok(c)
    }
}

#[derive(Default)]
pub struct MergeMutation;

#[Object]
impl MergeMutation {
    /// Merges `from` into the contact `id` (as `POST /v1/contacts/{id}/merge`); `prefer`
    /// maps a field (`email`, `attributes.tier`, `external_ids.shop` …) to the contact
    /// whose value wins.
    async fn merge_contacts(
        &self,
        ctx: &Context<'_>,
        id: ID,
        from: Vec<ID>,
        prefer: Option<async_graphql::Json<BTreeMap<String, ID>>>,
        if_version: Option<i64>,
    ) -> async_graphql::Result<MergeResultGql> {
        let (app, who) = state(ctx)?;
        let id = contact_id(&id).gql()?;
        let from: Vec<ContactId> = from.iter().map(contact_id).collect::<Result<_, _>>().gql()?;
        let prefer: BTreeMap<String, ContactId> = prefer
            .map(|p| p.0)
            .unwrap_or_default()
            .iter()
            .map(|(k, v)| contact_id(v).map(|v| (k.clone(), v)))
            .collect::<Result<_, _>>()
            .gql()?;
        let done = service::merge::merge(app, who, id, from, &prefer, Precondition::from_version(if_version))
            .await
            .gql()?;
        Ok(MergeResultGql {
            merged_ids: done.merged_ids.iter().map(|m| ID(m.to_string())).collect(),
            dropped_external_ids: done.dropped.iter().map(DroppedExternalId::from).collect(),
            contact: ContactNode(done.contact),
        })
    }
}
