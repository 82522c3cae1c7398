//! Import status in GraphQL (files are uploaded over REST: `PUT /v1/imports/{id}/file`).

use async_graphql::connection::{Connection, Edge, EmptyFields};
use async_graphql::{Context, ID, Object};
use chrono::{DateTime, Utc};
use rapport_domain::ImportId;
use rapport_domain::import::Import;

use super::contacts::page_size;
use super::{Gql, found, state, uuid};
use crate::http::cursor;
use crate::service;

const LIST: &str = "imports";

/// A bulk import job.
pub struct ImportNode(Import);

#[Object(name = "Import")]
impl ImportNode {
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }
    /// `contacts`, `companies` or `orders`.
    async fn kind(&self) -> &str {
        self.0.spec.kind.as_str()
    }
    /// `ndjson` or `csv`.
    async fn format(&self) -> &str {
        self.0.spec.format.as_str()
    }
    /// `awaiting_file`, `queued`, `running`, `completed`, `failed` or `cancelled`.
    async fn status(&self) -> &str {
        self.0.status.as_str()
    }
    async fn file_bytes(&self) -> Option<i64> {
        self.0.file_bytes
    }
    /// Data rows read from the file.
    async fn rows_read(&self) -> i64 {
        self.0.counts.read
    }
    async fn rows_created(&self) -> i64 {
        self.0.counts.created
    }
    async fn rows_updated(&self) -> i64 {
        self.0.counts.updated
    }
    async fn rows_unchanged(&self) -> i64 {
        self.0.counts.unchanged
    }
    async fn rows_failed(&self) -> i64 {
        self.0.counts.failed
    }
    /// Why the job failed (a problem document), when it did.
    async fn error(&self) -> Option<async_graphql::Json<serde_json::Value>> {
        self.0.error.clone().map(async_graphql::Json)
    }
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
    async fn started_at(&self) -> Option<DateTime<Utc>> {
        self.0.started_at
    }
    async fn finished_at(&self) -> Option<DateTime<Utc>> {
        self.0.finished_at
    }
}

#[derive(Default)]
pub struct ImportQuery;

#[Object]
impl ImportQuery {
    /// One import; null when there is none.
    async fn import(&self, ctx: &Context<'_>, id: ID) -> async_graphql::Result<Option<ImportNode>> {
        let (app, who) = state(ctx)?;
        let Some(id) = uuid(&id) else { return Ok(None) };
        Ok(found(service::imports::get(app, who, ImportId::from_uuid(id)).await)?.map(ImportNode))
    }

    /// The workspace's imports, newest first.
    #[graphql(complexity = "first.unwrap_or(50).max(1) as usize * child_complexity")]
    async fn imports(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
    ) -> async_graphql::Result<Connection<String, ImportNode, EmptyFields, EmptyFields>> {
        let (app, who) = state(ctx)?;
        let limit = page_size(first).gql()?;
        let before = cursor::decode_id(after.as_deref(), LIST).gql()?;
        let page = service::imports::list(app, who, before, limit).await.gql()?;
        let mut c = Connection::new(before.is_some(), page.has_more);
        c.edges.extend(
            page.items
                .into_iter()
                .map(|i| Edge::new(cursor::encode_id(LIST, i.id.uuid()), ImportNode(i))),
        );
        Ok(c)
    }
}
