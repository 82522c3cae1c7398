//! Segments in GraphQL: definitions, members, preview, contact search and membership.

use async_graphql::connection::{Connection, Edge, EmptyFields};
use async_graphql::{Context, ID, InputObject, Json, MaybeUndefined, Object, SimpleObject};
use chrono::{DateTime, Utc};
use rapport_domain::contact::Contact;
use rapport_domain::segment::{SegmentChanges, SegmentInput, SegmentKind};
use rapport_domain::{ContactId, SegmentId};
use rapport_store::page::Page;
use serde_json::Value;

use super::contacts::{ContactNode, page_size};
use super::{Gql, found, patch, state, uuid};
use crate::error::ApiError;
use crate::http::{cursor, etag::Precondition};
use crate::service;
use crate::service::segments::Counted;

/// A segment: an audience defined by a rule (dynamic, or frozen as a snapshot) or by
/// explicit members (static).
pub struct SegmentNode(Counted);

#[Object(name = "Segment")]
impl SegmentNode {
    async fn id(&self) -> ID {
        ID(self.0.segment.id.to_string())
    }
    async fn name(&self) -> &str {
        &self.0.segment.name
    }
    async fn description(&self) -> Option<&str> {
        self.0.segment.description.as_deref()
    }
    /// `dynamic`, `snapshot` or `static`.
    async fn kind(&self) -> &str {
        self.0.segment.kind.as_str()
    }
    /// The rule (JSON, see `schema/segment-rules.schema.json`).
    async fn rules(&self) -> Option<Json<Value>> {
        self.0.segment.rules.clone().map(Json)
    }
    /// How many contacts are members now.
    async fn member_count(&self) -> u64 {
        self.0.members
    }
    async fn version(&self) -> i64 {
        self.0.segment.version
    }
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.segment.created_at
    }
    async fn updated_at(&self) -> DateTime<Utc> {
        self.0.segment.updated_at
    }
    async fn refreshed_at(&self) -> Option<DateTime<Utc>> {
        self.0.segment.refreshed_at
    }
    /// The current members, in id order.
    #[graphql(complexity = "first.unwrap_or(50).max(1) as usize * child_complexity")]
    async fn members(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
    ) -> async_graphql::Result<Connection<String, ContactNode, EmptyFields, EmptyFields>> {
        let (app, who) = state(ctx)?;
        let limit = page_size(first).gql()?;
        let after = cursor::decode_id(after.as_deref(), "segment-members").gql()?;
        let page = service::segments::members(app, who, self.0.segment.id, after, limit)
            .await
            .gql()?;
        Ok(connection(page, after.is_some(), "segment-members"))
    }
}

fn connection(
    page: Page<Contact>,
    has_previous: bool,
    list: &str,
) -> Connection<String, ContactNode, EmptyFields, EmptyFields> {
    let mut conn = Connection::new(has_previous, page.has_more);
    for c in page.items {
        conn.edges
            .push(Edge::new(cursor::encode_id(list, c.id.uuid()), ContactNode(c)));
    }
    conn
}

/// The segment a membership is of.
#[derive(SimpleObject)]
pub struct SegmentRefGql {
    pub id: ID,
    pub name: String,
    pub kind: String,
}

/// One span of a contact's membership in a segment.
#[derive(SimpleObject)]
#[graphql(name = "SegmentMembership")]
pub struct MembershipGql {
    pub segment: SegmentRefGql,
    pub entered_at: DateTime<Utc>,
    /// Null while the contact is a member.
    pub exited_at: Option<DateTime<Utc>>,
}

/// A contact's memberships (current first; past spans too when asked).
pub(crate) async fn of_contact(
    ctx: &Context<'_>,
    id: ContactId,
    include_past: bool,
) -> async_graphql::Result<Vec<MembershipGql>> {
    let (app, who) = state(ctx)?;
    let spans = service::segments::of_contact(app, who, id).await.gql()?;
    Ok(spans
        .into_iter()
        .filter(|(m, _)| include_past || m.exited_at.is_none())
        .map(|(m, s)| MembershipGql {
            segment: SegmentRefGql {
                id: ID(s.id.to_string()),
                name: s.name,
                kind: s.kind.as_str().to_owned(),
            },
            entered_at: m.entered_at,
            exited_at: m.exited_at,
        })
        .collect())
}

/// A field rules may test.
#[derive(SimpleObject)]
pub struct SegmentField {
    pub name: String,
    /// `text`, `choice`, `number`, `boolean`, `date`, `timestamp` or `tags`.
    pub kind: String,
    pub operators: Vec<String>,
    pub options: Vec<String>,
}

/// How many contacts a rule selects now, and the first of them.
#[derive(SimpleObject)]
pub struct SegmentPreview {
    pub count: u64,
    pub contacts: Vec<ContactNode>,
}

/// What a member change or a refresh did.
#[derive(SimpleObject)]
pub struct MembershipChange {
    pub entered: u64,
    pub exited: u64,
    pub member_count: u64,
}

/// A new segment.
#[derive(InputObject)]
pub struct NewSegmentGql {
    pub name: String,
    pub description: Option<String>,
    /// `dynamic` (default), `snapshot` or `static`.
    pub kind: Option<String>,
    pub rules: Option<Json<Value>>,
}

/// Changes to a segment: absent fields stay, a null description clears.
#[derive(InputObject, Default)]
pub struct SegmentPatchGql {
    pub name: Option<String>,
    pub description: MaybeUndefined<String>,
    pub rules: Option<Json<Value>>,
}

fn segment_id(id: &ID) -> Result<SegmentId, ApiError> {
    uuid(id).map(SegmentId::from_uuid).ok_or(ApiError::NotFound("segment"))
}

fn contact_ids(ids: &[ID]) -> Vec<uuid::Uuid> {
    // An id that is not a UUID names no contact: the nil UUID is refused as unknown.
    ids.iter().map(|i| uuid(i).unwrap_or_default()).collect()
}

#[derive(Default)]
pub struct SegmentQuery;

#[Object]
impl SegmentQuery {
    /// A segment by id; null when there is none in the workspace.
    async fn segment(&self, ctx: &Context<'_>, id: ID) -> async_graphql::Result<Option<SegmentNode>> {
        let (app, who) = state(ctx)?;
        let Ok(id) = segment_id(&id) else { return Ok(None) };
        Ok(found(service::segments::get(app, who, id).await)?.map(SegmentNode))
    }

    /// Segments in creation order, optionally of one kind.
    #[graphql(complexity = "first.unwrap_or(50).max(1) as usize * child_complexity")]
    async fn segments(
        &self,
        ctx: &Context<'_>,
        kind: Option<String>,
        first: Option<i32>,
        after: Option<String>,
    ) -> async_graphql::Result<Connection<String, SegmentNode, EmptyFields, EmptyFields>> {
        let (app, who) = state(ctx)?;
        let kind = kind
            .as_deref()
            .map(|k| {
                SegmentKind::parse(k).ok_or_else(|| {
                    ApiError::bad_request("invalid_query", format!("kind: one of {}", SegmentKind::names()))
                })
            })
            .transpose()
            .gql()?;
        let limit = page_size(first).gql()?;
        let after = cursor::decode_id(after.as_deref(), "segments").gql()?;
        let page = service::segments::list(app, who, kind, after, limit).await.gql()?;
        let mut conn = Connection::new(after.is_some(), page.has_more);
        for c in page.items {
            let cur = cursor::encode_id("segments", c.segment.id.uuid());
            conn.edges.push(Edge::new(cur, SegmentNode(c)));
        }
        Ok(conn)
    }

    /// The fields rules may test in this workspace.
    async fn segment_fields(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<SegmentField>> {
        let (app, who) = state(ctx)?;
        Ok(service::segments::fields(app, who)
            .await
            .gql()?
            .into_iter()
            .map(|f| SegmentField {
                name: f.name,
                kind: f.kind.to_owned(),
                operators: f.operators.into_iter().map(str::to_owned).collect(),
                options: f.options,
            })
            .collect())
    }

    /// What a rule selects now (count and first contacts); nothing is saved.
    async fn segment_preview(
        &self,
        ctx: &Context<'_>,
        rules: Json<Value>,
        first: Option<i32>,
    ) -> async_graphql::Result<SegmentPreview> {
        let (app, who) = state(ctx)?;
        let limit = page_size(first).gql()?;
        let (count, page) = service::segments::preview(app, who, &rules.0, limit).await.gql()?;
        Ok(SegmentPreview {
            count,
            contacts: page.items.into_iter().map(ContactNode).collect(),
        })
    }

    /// Contacts matching a rule, in id order.
    #[graphql(complexity = "first.unwrap_or(50).max(1) as usize * child_complexity")]
    async fn search_contacts(
        &self,
        ctx: &Context<'_>,
        rules: Json<Value>,
        first: Option<i32>,
        after: Option<String>,
    ) -> async_graphql::Result<Connection<String, ContactNode, EmptyFields, EmptyFields>> {
        let (app, who) = state(ctx)?;
        let limit = page_size(first).gql()?;
        let after = cursor::decode_id(after.as_deref(), "contact-search").gql()?;
        let page = service::segments::search(app, who, &rules.0, after, limit)
            .await
            .gql()?;
        Ok(connection(page, after.is_some(), "contact-search"))
    }
}

#[derive(Default)]
pub struct SegmentMutation;

#[Object]
impl SegmentMutation {
    async fn create_segment(&self, ctx: &Context<'_>, input: NewSegmentGql) -> async_graphql::Result<SegmentNode> {
        let (app, who) = state(ctx)?;
        let input = SegmentInput {
            name: input.name,
            description: input.description,
            kind: input.kind,
            rules: input.rules.map(|j| j.0),
        };
        service::segments::create(app, who, input).await.map(SegmentNode).gql()
    }

    async fn update_segment(
        &self,
        ctx: &Context<'_>,
        id: ID,
        input: SegmentPatchGql,
        if_version: Option<i64>,
    ) -> async_graphql::Result<SegmentNode> {
        let (app, who) = state(ctx)?;
        let id = segment_id(&id).gql()?;
        let changes = SegmentChanges {
            name: input.name,
            description: patch(input.description),
            rules: input.rules.map(|j| j.0),
        };
        service::segments::update(app, who, id, changes, Precondition::from_version(if_version))
            .await
            .map(SegmentNode)
            .gql()
    }

    /// Deletes a segment; answers its id.
    async fn delete_segment(&self, ctx: &Context<'_>, id: ID, if_version: Option<i64>) -> async_graphql::Result<ID> {
        let (app, who) = state(ctx)?;
        let sid = segment_id(&id).gql()?;
        service::segments::delete(app, who, sid, Precondition::from_version(if_version))
            .await
            .gql()?;
        Ok(id)
    }

    /// Adds up to 1000 contacts to a static segment.
    async fn add_segment_members(
        &self,
        ctx: &Context<'_>,
        id: ID,
        contact_ids: Vec<ID>,
    ) -> async_graphql::Result<MembershipChange> {
        let (app, who) = state(ctx)?;
        let sid = segment_id(&id).gql()?;
        let n = service::segments::add_members(app, who, sid, &self::contact_ids(&contact_ids))
            .await
            .gql()?;
        change(ctx, sid, n, 0).await
    }

    /// Removes up to 1000 contacts from a static segment.
    async fn remove_segment_members(
        &self,
        ctx: &Context<'_>,
        id: ID,
        contact_ids: Vec<ID>,
    ) -> async_graphql::Result<MembershipChange> {
        let (app, who) = state(ctx)?;
        let sid = segment_id(&id).gql()?;
        let n = service::segments::remove_members(app, who, sid, &self::contact_ids(&contact_ids))
            .await
            .gql()?;
        change(ctx, sid, 0, n).await
    }

    /// Reconciles a dynamic segment with its rule now.
    async fn refresh_segment(&self, ctx: &Context<'_>, id: ID) -> async_graphql::Result<MembershipChange> {
        let (app, who) = state(ctx)?;
        let sid = segment_id(&id).gql()?;
        let done = service::segments::refresh(app, who, sid).await.gql()?;
        change(ctx, sid, done.entered.len() as u64, done.exited.len() as u64).await
    }
}

async fn change(
    ctx: &Context<'_>,
    id: SegmentId,
    entered: u64,
    exited: u64,
) -> async_graphql::Result<MembershipChange> {
    let (app, who) = state(ctx)?;
    let c = service::segments::counted(app, who, id).await.gql()?;
    Ok(MembershipChange {
        entered,
        exited,
        member_count: c.members,
    })
}
