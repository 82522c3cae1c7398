//! Orders in GraphQL: reads, upserts, a contact's orders and purchase metrics, and the
//! workspace's churn window.

use async_graphql::connection::{Connection, Edge, EmptyFields};
use async_graphql::{Context, ID, InputObject, Object, SimpleObject};
use chrono::{DateTime, Utc};
use rapport_domain::order::{Order, OrderStatus};
use rapport_domain::{ContactId, OrderId};
use rapport_store::orders::OrderFilter;
use rapport_store::page::Page;

use super::contact_mutations::UpsertOutcome;
use super::contacts::{ContactNode, page_size};
use super::{Gql, found, state, uuid};
use crate::dto::orders::{
    CustomerWrite, OrderDto, OrderLineDto, OrderLineWrite, OrderStatusDto, OrderWrite, PurchaseMetricsDto,
};
use crate::error::ApiError;
use crate::http::cursor;
use crate::rest::orders::{LIST, NEWEST};
use crate::service;

/// An order. Amounts are integers in the currency's minor unit.
pub struct OrderNode(pub Order);

#[Object(name = "Order")]
impl OrderNode {
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }
    async fn source(&self) -> &str {
        &self.0.source
    }
    async fn external_id(&self) -> &str {
        &self.0.external_id
    }
    async fn contact_id(&self) -> ID {
        ID(self.0.contact_id.to_string())
    }
    /// The customer.
    async fn contact(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<ContactNode>> {
        let (app, who) = state(ctx)?;
        found(
            service::contacts::get(app, who, self.0.contact_id)
                .await
                .map(ContactNode),
        )
    }
    async fn status(&self) -> OrderStatusDto {
        self.0.content.status.into()
    }
    /// ISO 4217.
    async fn currency(&self) -> &str {
        self.0.content.currency.code()
    }
    async fn placed_at(&self) -> DateTime<Utc> {
        self.0.content.placed_at
    }
    async fn lines(&self) -> Vec<OrderLineDto> {
        OrderDto::from(&self.0).lines
    }
    async fn subtotal(&self) -> i64 {
        self.0.content.subtotal
    }
    async fn discount_codes(&self) -> &[String] {
        &self.0.content.discount_codes
    }
    async fn discount_total(&self) -> i64 {
        self.0.content.discount_total
    }
    async fn tax(&self) -> i64 {
        self.0.content.tax
    }
    async fn shipping(&self) -> i64 {
        self.0.content.shipping
    }
    async fn total(&self) -> i64 {
        self.0.content.total
    }
    async fn refunded_total(&self) -> i64 {
        self.0.content.refunded_total
    }
    /// total − refundedTotal.
    async fn net_total(&self) -> i64 {
        self.0.content.net_total()
    }
    /// Whether the order is a purchase (not cancelled, not fully refunded).
    async fn counts_as_purchase(&self) -> bool {
        self.0.content.counts()
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
}

/// A page of orders as a Relay connection, newest first.
pub(crate) fn connection(
    page: Page<Order>,
    has_previous: bool,
) -> Connection<String, OrderNode, EmptyFields, EmptyFields> {
    let mut conn = Connection::new(has_previous, page.has_more);
    for o in page.items {
        let c = cursor::encode(LIST, NEWEST, Some(o.content.placed_at), o.id.uuid());
        conn.edges.push(Edge::new(c, OrderNode(o)));
    }
    conn
}

/// A contact's orders, newest first (for `Contact.orders`).
pub(crate) async fn of_contact(
    ctx: &Context<'_>,
    contact: ContactId,
    first: Option<i32>,
    after: Option<String>,
) -> async_graphql::Result<Connection<String, OrderNode, EmptyFields, EmptyFields>> {
    let (app, who) = state(ctx)?;
    let limit = page_size(first).gql()?;
    let after = after
        .as_deref()
        .map(|c| cursor::decode(c, LIST, NEWEST))
        .transpose()
        .gql()?;
    let page = service::orders::of_contact(app, who, contact, after.as_ref(), limit)
        .await
        .gql()?;
    Ok(connection(page, after.is_some()))
}

/// A contact's purchase metrics (for `Contact.metrics`), loaded for a whole page at once.
pub(crate) async fn metrics_of(ctx: &Context<'_>, contact: ContactId) -> async_graphql::Result<PurchaseMetricsDto> {
    let (_, who) = state(ctx)?;
    who.require(rapport_domain::scope::Scope::ContactsRead).gql()?;
    let loader = ctx.data::<super::loaders::Metrics>()?;
    let m = loader.load_one(contact).await?.unwrap_or_default();
    Ok(PurchaseMetricsDto::from(&m))
}

/// Who placed an order: `contactId`, `externalId` (the contact's id in the order's
/// source) or `email`, tried in that order; else a contact is created from these fields.
#[derive(InputObject)]
#[graphql(name = "OrderCustomerInput")]
pub struct CustomerGql {
    pub contact_id: Option<ID>,
    pub external_id: Option<String>,
    pub email: Option<String>,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub phone: Option<String>,
}

/// One order line.
#[derive(InputObject)]
#[graphql(name = "OrderLineInput")]
pub struct OrderLineGql {
    pub sku: Option<String>,
    pub name: String,
    pub quantity: i64,
    /// In minor units.
    pub unit_price: i64,
}

/// An order as a shop sends it (see `POST /v1/orders`).
#[derive(InputObject)]
#[graphql(name = "OrderInput")]
pub struct OrderGql {
    pub source: String,
    pub external_id: String,
    pub customer: CustomerGql,
    pub status: OrderStatusDto,
    /// ISO 4217.
    pub currency: String,
    pub placed_at: DateTime<Utc>,
    pub lines: Vec<OrderLineGql>,
    pub subtotal: Option<i64>,
    pub discount_codes: Option<Vec<String>>,
    pub discount_total: Option<i64>,
    pub tax: Option<i64>,
    pub shipping: Option<i64>,
    pub total: Option<i64>,
    pub refunded_total: Option<i64>,
}

impl TryFrom<OrderGql> for OrderWrite {
    type Error = ApiError;

    fn try_from(o: OrderGql) -> Result<Self, ApiError> {
        let contact_id = match o.customer.contact_id {
            None => None,
            Some(id) => Some(uuid(&id).ok_or_else(|| {
                ApiError::invalid(
                    "/customer/contact_id",
                    "not_found",
                    format!("no contact {}", id.as_str()),
                )
            })?),
        };
        Ok(Self {
            source: Some(o.source),
            external_id: Some(o.external_id),
            customer: Some(CustomerWrite {
                contact_id,
                external_id: o.customer.external_id,
                email: o.customer.email,
                first_name: o.customer.first_name,
                last_name: o.customer.last_name,
                phone: o.customer.phone,
            }),
            status: Some(OrderStatus::from(o.status).as_str().to_owned()),
            currency: Some(o.currency),
            placed_at: Some(o.placed_at),
            lines: Some(
                o.lines
                    .into_iter()
                    .map(|l| OrderLineWrite {
                        sku: l.sku,
                        name: Some(l.name),
                        quantity: Some(l.quantity),
                        unit_price: Some(l.unit_price),
                    })
                    .collect(),
            ),
            subtotal: o.subtotal,
            discount_codes: o.discount_codes,
            discount_total: o.discount_total,
            tax: o.tax,
            shipping: o.shipping,
            total: o.total,
            refunded_total: o.refunded_total,
        })
    }
}

/// The result of an order upsert.
#[derive(SimpleObject)]
pub struct UpsertOrderPayload {
    pub order: OrderNode,
    pub outcome: UpsertOutcome,
}

/// The caller's workspace and its settings.
#[derive(SimpleObject)]
#[graphql(name = "Workspace")]
pub struct WorkspaceGql {
    pub id: ID,
    pub name: String,
    /// Customers with no purchase for this many days move to `churned`.
    pub churn_after_days: u32,
    pub created_at: DateTime<Utc>,
}

impl From<rapport_store::workspaces::Workspace> for WorkspaceGql {
    fn from(w: rapport_store::workspaces::Workspace) -> Self {
        Self {
            id: ID(w.id.to_string()),
            name: w.name,
            churn_after_days: w.churn_after_days,
            created_at: w.created_at,
        }
    }
}

#[derive(Default)]
pub struct OrderQuery;

#[Object]
impl OrderQuery {
    /// One order; `null` when there is none with this id in the workspace.
    async fn order(&self, ctx: &Context<'_>, id: ID) -> async_graphql::Result<Option<OrderNode>> {
        let (app, who) = state(ctx)?;
        let Some(id) = uuid(&id) else { return Ok(None) };
        found(
            service::orders::get(app, who, OrderId::from_uuid(id))
                .await
                .map(OrderNode),
        )
    }

    /// The order a source knows by `externalId`.
    async fn order_by_external_id(
        &self,
        ctx: &Context<'_>,
        source: String,
        external_id: String,
    ) -> async_graphql::Result<Option<OrderNode>> {
        let (app, who) = state(ctx)?;
        found(
            service::orders::get_by_external_id(app, who, &source, &external_id)
                .await
                .map(OrderNode),
        )
    }

    /// Orders, newest first.
    #[graphql(complexity = "first.unwrap_or(50).max(1) as usize * child_complexity")]
    async fn orders(
        &self,
        ctx: &Context<'_>,
        contact_id: Option<ID>,
        status: Option<OrderStatusDto>,
        source: Option<String>,
        first: Option<i32>,
        after: Option<String>,
    ) -> async_graphql::Result<Connection<String, OrderNode, EmptyFields, EmptyFields>> {
        let (app, who) = state(ctx)?;
        let limit = page_size(first).gql()?;
        let after = after
            .as_deref()
            .map(|c| cursor::decode(c, LIST, NEWEST))
            .transpose()
            .gql()?;
        let contact_id = match contact_id {
            None => None,
            // No contact can have a malformed id: no orders.
            Some(id) => match uuid(&id) {
                Some(id) => Some(ContactId::from_uuid(id)),
                None => return Ok(Connection::new(false, false)),
            },
        };
        let filter = OrderFilter {
            contact_id,
            status: status.map(OrderStatus::from),
            source,
        };
        let page = service::orders::list(app, who, &filter, after.as_ref(), limit)
            .await
            .gql()?;
        Ok(connection(page, after.is_some()))
    }

    /// The caller's workspace and its settings.
    async fn workspace(&self, ctx: &Context<'_>) -> async_graphql::Result<WorkspaceGql> {
        let (app, who) = state(ctx)?;
        service::workspace::get(app, who).await.map(Into::into).gql()
    }
}

#[derive(Default)]
pub struct OrderMutation;

#[Object]
impl OrderMutation {
    /// Creates or updates the order `(source, externalId)`; re-sending it unchanged
    /// writes nothing (`outcome: UNCHANGED`).
    async fn upsert_order(&self, ctx: &Context<'_>, input: OrderGql) -> async_graphql::Result<UpsertOrderPayload> {
        let (app, who) = state(ctx)?;
        let input = OrderWrite::try_from(input).gql()?;
        let (order, outcome) = service::orders::upsert(app, who, input.into()).await.gql()?;
        Ok(UpsertOrderPayload {
            order: OrderNode(order),
            outcome: outcome.into(),
        })
    }

    /// Sets the workspace's churn window (1 to 3650 days; needs `admin`).
    async fn update_workspace(
        &self,
        ctx: &Context<'_>,
        churn_after_days: Option<i64>,
    ) -> async_graphql::Result<WorkspaceGql> {
        let (app, who) = state(ctx)?;
        service::workspace::update(app, who, churn_after_days)
            .await
            .map(Into::into)
            .gql()
    }
}
