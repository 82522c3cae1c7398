//! `/v1/orders`: upsert (one or a batch) and reads; a contact's orders and purchase
//! metrics; `/v1/workspace` (the churn window).

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, get, patch, post, web};
use rapport_domain::order::{Order, OrderStatus};
use rapport_domain::{ContactId, OrderId};
use rapport_store::orders::OrderFilter;
use rapport_store::page::{Order as ListOrder, Page, Sort};
use serde::Deserialize;
use utoipa::IntoParams;
use uuid::Uuid;

use super::{MergedContact, ReadErrors, WriteErrors, page_info, with_etag};
use crate::app::App;
use crate::auth::Caller;
use crate::dto::orders::{
    OrderBatch, OrderBatchItem, OrderBatchResult, OrderDto, OrderList, OrderStatusDto, OrderWrite, PurchaseMetricsDto,
    WorkspaceDto, WorkspacePatch,
};
use crate::error::ApiError;
use crate::http::cursor;
use crate::http::json::{BodyLimit, Json};
use crate::service::{self, Outcome};

/// The name of order lists in cursors.
pub(crate) const LIST: &str = "orders";
/// Newest `placed_at` first.
pub(crate) const NEWEST: ListOrder = ListOrder {
    by: Sort::Updated,
    descending: true,
};

/// Filters and paging for order lists.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct OrderQuery {
    /// Page size, 1 to 500 (default 50).
    pub limit: Option<u64>,
    /// `page.next_cursor` of the previous page.
    pub after: Option<String>,
    /// Only this contact's orders.
    pub contact_id: Option<Uuid>,
    /// Only orders in this status.
    pub status: Option<OrderStatusDto>,
    /// Only orders from this source.
    pub source: Option<String>,
}

/// Paging of a contact's orders.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct PageQuery {
    /// Page size, 1 to 500 (default 50).
    pub limit: Option<u64>,
    /// `page.next_cursor` of the previous page.
    pub after: Option<String>,
}

fn outcome_header(outcome: Outcome) -> (&'static str, &'static str) {
    (
        "rapport-outcome",
        match outcome {
            Outcome::Created => "created",
            Outcome::Updated => "updated",
            Outcome::Unchanged => "unchanged",
        },
    )
}

fn list_response(page: &Page<Order>) -> HttpResponse {
    HttpResponse::Ok().json(OrderList {
        data: page.items.iter().map(OrderDto::from).collect(),
        page: page_info(page, LIST, NEWEST, |o: &Order| (o.content.placed_at, o.id.uuid())),
    })
}

/// Creates or updates the order `(source, external_id)`. A new order's customer is
/// found by `customer.contact_id`, then by the contact's external id for the order's
/// source, then by email, else created (and moved along the lifecycle by the order).
/// Re-sending an order unchanged writes nothing and emits nothing. `Rapport-Outcome`
/// says `created`, `updated` or `unchanged`.
#[utoipa::path(post, path = "/v1/orders", tag = "orders", request_body = OrderWrite,
    params(("Idempotency-Key" = Option<String>, Header)),
    responses((status = 200, description = "Updated or unchanged", body = OrderDto, headers(("Rapport-Outcome" = String))),
        (status = 201, description = "Created", body = OrderDto, headers(("Rapport-Outcome" = String))), WriteErrors),
    security(("bearer" = ["orders:write"])))]
#[post("/v1/orders")]
pub async fn upsert(app: web::Data<App>, who: Caller, body: Json<OrderWrite>) -> Result<HttpResponse, ApiError> {
    let (o, outcome) = service::orders::upsert(&app, &who, body.into_inner().into()).await?;
    let mut res = match outcome {
        Outcome::Created => {
            let mut r = HttpResponse::Created();
            r.insert_header((actix_web::http::header::LOCATION, format!("/v1/orders/{}", o.id)));
            r
        }
        Outcome::Updated | Outcome::Unchanged => HttpResponse::Ok(),
    };
    Ok(res
        .insert_header(outcome_header(outcome))
        .insert_header((actix_web::http::header::ETAG, crate::http::etag::of(o.version)))
        .json(OrderDto::from(&o)))
}

/// Upserts 1 to 1000 orders; every item gets its own result (pointers under
/// `/items/{i}`), and valid items are committed even when others fail. With
/// `Prefer: return=minimal`, results carry ids and versions instead of whole orders.
#[utoipa::path(post, path = "/v1/orders/batch", tag = "orders", request_body = OrderBatch,
    params(("Idempotency-Key" = Option<String>, Header), ("Prefer" = Option<String>, Header, description = "return=minimal")),
    responses((status = 200, body = OrderBatchResult), WriteErrors), security(("bearer" = ["orders:write"])))]
pub async fn upsert_batch(
    app: web::Data<App>,
    who: Caller,
    req: HttpRequest,
    body: Json<OrderBatch>,
) -> Result<HttpResponse, ApiError> {
    let minimal = super::contacts::minimal(&req);
    let items = body
        .into_inner()
        .items
        .into_iter()
        .map(|v| crate::http::json::from_value::<OrderWrite>(v).map(Into::into))
        .collect();
    let results = service::orders::upsert_batch(&app, &who, items).await?;
    let mut tally = super::Tally::default();
    let results = results
        .into_iter()
        .enumerate()
        .map(|(index, r)| match r {
            Ok((o, outcome)) => OrderBatchItem {
                index,
                status: tally.record(Some(outcome)),
                id: Some(o.id.uuid()),
                version: Some(o.version),
                order: (!minimal).then(|| OrderDto::from(&o)),
                error: None,
            },
            Err(e) => OrderBatchItem {
                index,
                status: tally.record(None),
                id: None,
                version: None,
                order: None,
                error: Some(e.problem()),
            },
        })
        .collect();
    let out = OrderBatchResult {
        results,
        created: tally.created,
        updated: tally.updated,
        unchanged: tally.unchanged,
        failed: tally.failed,
    };
    Ok(super::batch_answer(minimal, &out))
}

/// The batch route, with its larger body limit.
pub fn batch_scope(limit: usize) -> actix_web::Resource {
    web::resource("/v1/orders/batch")
        .app_data(BodyLimit(limit))
        .route(web::post().to(upsert_batch))
}

/// One order.
#[utoipa::path(get, path = "/v1/orders/{id}", tag = "orders", params(("id" = Uuid, Path)),
    responses((status = 200, body = OrderDto, headers(("ETag" = String))), ReadErrors), security(("bearer" = ["orders:read"])))]
#[get("/v1/orders/{id}")]
pub async fn get(app: web::Data<App>, who: Caller, id: web::Path<Uuid>) -> Result<HttpResponse, ApiError> {
    let o = service::orders::get(&app, &who, OrderId::from_uuid(*id)).await?;
    Ok(with_etag(StatusCode::OK, o.version, &OrderDto::from(&o)))
}

/// The order a source knows by this id.
#[utoipa::path(get, path = "/v1/orders/by-external-id/{source}/{external_id}", tag = "orders",
    params(("source" = String, Path), ("external_id" = String, Path)),
    responses((status = 200, body = OrderDto, headers(("ETag" = String))), ReadErrors), security(("bearer" = ["orders:read"])))]
#[get("/v1/orders/by-external-id/{source}/{external_id}")]
pub async fn get_by_external_id(
    app: web::Data<App>,
    who: Caller,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (source, id) = path.into_inner();
    let o = service::orders::get_by_external_id(&app, &who, &source, &id).await?;
    Ok(with_etag(StatusCode::OK, o.version, &OrderDto::from(&o)))
}

/// Orders, newest `placed_at` first.
#[utoipa::path(get, path = "/v1/orders", tag = "orders", params(OrderQuery),
    responses((status = 200, body = OrderList), ReadErrors), security(("bearer" = ["orders:read"])))]
#[get("/v1/orders")]
pub async fn list(app: web::Data<App>, who: Caller, query: web::Query<OrderQuery>) -> Result<HttpResponse, ApiError> {
    let after = query
        .after
        .as_deref()
        .map(|c| cursor::decode(c, LIST, NEWEST))
        .transpose()?;
    let limit = service::page_size(query.limit)?;
    let filter = OrderFilter {
        contact_id: query.contact_id.map(ContactId::from_uuid),
        status: query.status.map(OrderStatus::from),
        source: query.source.clone(),
    };
    let page = service::orders::list(&app, &who, &filter, after.as_ref(), limit).await?;
    Ok(list_response(&page))
}

/// A contact's orders, newest first.
#[utoipa::path(get, path = "/v1/contacts/{id}/orders", tag = "orders", params(("id" = Uuid, Path), PageQuery),
    responses((status = 200, body = OrderList), ReadErrors, MergedContact), security(("bearer" = ["orders:read"])))]
#[get("/v1/contacts/{id}/orders")]
pub async fn of_contact(
    app: web::Data<App>,
    who: Caller,
    id: web::Path<Uuid>,
    query: web::Query<PageQuery>,
) -> Result<HttpResponse, ApiError> {
    let after = query
        .after
        .as_deref()
        .map(|c| cursor::decode(c, LIST, NEWEST))
        .transpose()?;
    let limit = service::page_size(query.limit)?;
    let page = service::orders::of_contact(&app, &who, ContactId::from_uuid(*id), after.as_ref(), limit).await?;
    Ok(list_response(&page))
}

/// A contact's purchase metrics: orders that count as purchases, net of refunds, per
/// currency.
#[utoipa::path(get, path = "/v1/contacts/{id}/metrics", tag = "orders", params(("id" = Uuid, Path)),
    responses((status = 200, body = PurchaseMetricsDto), ReadErrors, MergedContact), security(("bearer" = ["contacts:read"])))]
#[get("/v1/contacts/{id}/metrics")]
pub async fn metrics(app: web::Data<App>, who: Caller, id: web::Path<Uuid>) -> Result<HttpResponse, ApiError> {
    let m = service::orders::metrics_of(&app, &who, ContactId::from_uuid(*id)).await?;
    Ok(HttpResponse::Ok().json(PurchaseMetricsDto::from(&m)))
}

/// The caller's workspace and its settings.
#[utoipa::path(get, path = "/v1/workspace", tag = "workspace",
    responses((status = 200, body = WorkspaceDto), ReadErrors), security(("bearer" = [])))]
#[get("/v1/workspace")]
pub async fn workspace(app: web::Data<App>, who: Caller) -> Result<HttpResponse, ApiError> {
    let w = service::workspace::get(&app, &who).await?;
    Ok(HttpResponse::Ok().json(WorkspaceDto::from(&w)))
}

/// Changes the workspace's settings: `churn_after_days` (1 to 3650), the days without a
/// purchase after which a customer moves to `churned`.
#[utoipa::path(patch, path = "/v1/workspace", tag = "workspace", request_body = WorkspacePatch,
    responses((status = 200, body = WorkspaceDto), WriteErrors), security(("bearer" = ["admin"])))]
#[patch("/v1/workspace")]
pub async fn update_workspace(
    app: web::Data<App>,
    who: Caller,
    body: Json<WorkspacePatch>,
) -> Result<HttpResponse, ApiError> {
    let w = service::workspace::update(&app, &who, body.into_inner().churn_after_days).await?;
    Ok(HttpResponse::Ok().json(WorkspaceDto::from(&w)))
}
