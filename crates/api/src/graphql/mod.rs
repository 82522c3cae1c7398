//! GraphQL at `/graphql` (POST; GraphiQL on GET). Resolvers call the same use cases as
//! REST; errors carry the same `code` in `extensions`.

mod cache;
mod companies;
mod consent;
mod contact_mutations;
mod contacts;
mod events;
mod imports;
mod loaders;
mod merge;
mod orders;
mod segments;
mod subscription;
mod webhooks;

use actix_web::{HttpRequest, HttpResponse, web};
use async_graphql::dataloader::{DataLoader, HashMapCache};
use async_graphql::http::GraphiQLSource;
use async_graphql::{ErrorExtensions, MergedObject, Schema};

use crate::app::App;
use crate::auth::{self, Caller};
use crate::error::ApiError;
use crate::http::json::Json;

pub use cache::ParsedQueries;

/// Every query.
#[derive(MergedObject, Default)]
pub struct Query(
    contacts::ContactQuery,
    companies::CompanyQuery,
    consent::ConsentQuery,
    events::EventQuery,
    webhooks::WebhookQuery,
    segments::SegmentQuery,
    orders::OrderQuery,
    merge::MergeQuery,
    imports::ImportQuery,
);

/// Every mutation.
#[derive(MergedObject, Default)]
pub struct Mutation(
    contact_mutations::ContactMutation,
    companies::CompanyMutation,
    consent::ConsentMutation,
    webhooks::WebhookMutation,
    segments::SegmentMutation,
    orders::OrderMutation,
    merge::MergeMutation,
);

/// The schema type.
pub type RapportSchema = Schema<Query, Mutation, subscription::SubscriptionRoot>;

/// Builds the schema with depth and complexity limits.
pub fn schema(max_depth: usize, max_complexity: usize) -> RapportSchema {
    Schema::build(Query::default(), Mutation::default(), subscription::SubscriptionRoot)
        .limit_depth(max_depth)
        .limit_complexity(max_complexity)
        .finish()
}

/// The SDL, as written to `schema/schema.graphql`.
pub fn sdl() -> String {
    schema(usize::MAX, usize::MAX).sdl()
}

/// Converts use-case errors into GraphQL errors with `extensions.code`.
pub(crate) trait Gql<T> {
    fn gql(self) -> async_graphql::Result<T>;
}

impl<T> Gql<T> for Result<T, ApiError> {
    fn gql(self) -> async_graphql::Result<T> {
        self.map_err(|e| e.extend())
    }
}

/// A look-up's answer: `null` for a record the caller cannot see, as GraphQL clients
/// expect, and errors for everything else.
pub(crate) fn found<T>(r: Result<T, ApiError>) -> async_graphql::Result<Option<T>> {
    match r {
        Ok(v) => Ok(Some(v)),
        Err(ApiError::NotFound(_)) => Ok(None),
        Err(e) => Err(e).gql(),
    }
}

/// The state a resolver needs.
pub(crate) fn state<'a>(ctx: &async_graphql::Context<'a>) -> async_graphql::Result<(&'a App, &'a Caller)> {
    let app = ctx.data::<web::Data<App>>()?;
    let who = ctx.data::<Caller>()?;
    Ok((app.get_ref(), who))
}

/// A GraphQL input field as a merge-patch field: undefined stays, null clears.
pub(crate) fn patch<T>(v: async_graphql::MaybeUndefined<T>) -> rapport_domain::patch::Patch<T> {
    use async_graphql::MaybeUndefined;
    use rapport_domain::patch::Patch;
    match v {
        MaybeUndefined::Undefined => Patch::Absent,
        MaybeUndefined::Null => Patch::Clear,
        MaybeUndefined::Value(v) => Patch::Set(v),
    }
}

/// Parses a GraphQL `ID` as a UUID.
pub(crate) fn uuid(id: &async_graphql::ID) -> Option<uuid::Uuid> {
    id.parse().ok()
}

/// A GraphQL-over-HTTP request body. Unknown members are refused like everywhere else
/// (a misspelt `varibles` would otherwise run the query with no variables).
#[derive(Debug, serde::Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct GraphqlBody {
    query: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    operation_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    variables: Option<serde_json::Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    extensions: Option<serde_json::Map<String, serde_json::Value>>,
}

impl GraphqlBody {
    /// The library's request, built from the checked body.
    fn into_request(self) -> Result<async_graphql::Request, ApiError> {
        let value = serde_json::to_value(&self).map_err(|e| ApiError::Internal(e.to_string()))?;
        crate::http::json::from_value(value)
    }
}

/// `POST /graphql`: runs a query for an authenticated caller.
pub async fn post(
    app: web::Data<App>,
    schema: web::Data<RapportSchema>,
    parsed: web::Data<ParsedQueries>,
    req: HttpRequest,
    body: Json<GraphqlBody>,
) -> Result<HttpResponse, ApiError> {
    let who = auth::authenticate(&app, &req).await?;
    let loader: loaders::Companies = DataLoader::with_cache(
        loaders::CompanyLoader {
            app: app.clone(),
            who: who.clone(),
        },
        tokio::spawn,
        HashMapCache::default(),
    )
    // Pages prefetch their companies in one statement; a single contact's company need
    // not wait the default millisecond for others to join its batch.
    .delay(std::time::Duration::ZERO);
    let consents: loaders::ConsentStates = DataLoader::with_cache(
        loaders::ConsentLoader {
            app: app.clone(),
            who: who.clone(),
        },
        tokio::spawn,
        HashMapCache::default(),
    )
    .delay(std::time::Duration::ZERO);
    let metrics: loaders::Metrics = DataLoader::with_cache(
        loaders::MetricsLoader {
            app: app.clone(),
            who: who.clone(),
        },
        tokio::spawn,
        HashMapCache::default(),
    );
    let mut request = body.into_inner().into_request()?;
    parsed.prepare(&mut request);
    let request = request
        .data(app.clone())
        .data(who)
        .data(loader)
        .data(consents)
        .data(metrics);
    let response = schema.execute(request).await;
    Ok(HttpResponse::Ok().json(response))
}

/// `GET /graphql`: a WebSocket for subscriptions when the request asks to upgrade,
/// else the GraphiQL explorer.
pub async fn get(
    app: web::Data<App>,
    schema: web::Data<RapportSchema>,
    req: HttpRequest,
    body: web::Payload,
) -> actix_web::Result<HttpResponse> {
    let upgrade = req
        .headers()
        .get(actix_web::http::header::UPGRADE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("websocket"));
    if upgrade {
        return subscription::connect(app, schema, req, body).await;
    }
    Ok(HttpResponse::Ok().content_type("text/html; charset=utf-8").body(
        GraphiQLSource::build()
            .endpoint("/graphql")
            .subscription_endpoint("/graphql")
            .finish(),
    ))
}
