//! Outgoing webhooks: endpoints, one delivery per event and endpoint, every attempt,
//! and the dispatcher's position in the event feed.

use sea_orm_migration::prelude::*;

use super::m0001_initial::{big, bool_col, index, json, text, text_null, to_workspace, ts, ts_null, uuid};

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &'static str {
        "m0004_webhooks"
    }
}

#[derive(DeriveIden)]
enum WebhookEndpoints {
    Table,
    WorkspaceId,
    Id,
    Url,
    Description,
    EventTypes,
    Fields,
    SkipOwn,
    OwnerType,
    OwnerId,
    Enabled,
    DisabledReason,
    Secret,
    PreviousSecret,
    PreviousUntil,
    StartPosition,
    Version,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum WebhookDeliveries {
    Table,
    WorkspaceId,
    Id,
    EndpointId,
    EventId,
    EventType,
    Status,
    Attempts,
    NextAttemptAt,
    ClaimedUntil,
    LastStatus,
    LastError,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum WebhookAttempts {
    Table,
    WorkspaceId,
    Id,
    DeliveryId,
    AttemptedAt,
    StatusCode,
    LatencyMs,
    ResponseBody,
    Error,
}

#[derive(DeriveIden)]
enum DispatchCursors {
    Table,
    Name,
    Position,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    #[allow(clippy::too_many_lines)]
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(WebhookEndpoints::Table)
                .col(uuid(WebhookEndpoints::WorkspaceId))
                .col(uuid(WebhookEndpoints::Id))
                .col(text(WebhookEndpoints::Url))
                .col(text_null(WebhookEndpoints::Description))
                .col(json(WebhookEndpoints::EventTypes))
                .col(ColumnDef::new(WebhookEndpoints::Fields).json_binary().null())
                .col(bool_col(WebhookEndpoints::SkipOwn))
                .col(text(WebhookEndpoints::OwnerType))
                .col(text_null(WebhookEndpoints::OwnerId))
                .col(bool_col(WebhookEndpoints::Enabled))
                .col(text_null(WebhookEndpoints::DisabledReason))
                .col(text(WebhookEndpoints::Secret))
                .col(text_null(WebhookEndpoints::PreviousSecret))
                .col(ts_null(WebhookEndpoints::PreviousUntil))
                .col(big(WebhookEndpoints::StartPosition))
                .col(big(WebhookEndpoints::Version))
                .col(ts(WebhookEndpoints::CreatedAt))
                .col(ts(WebhookEndpoints::UpdatedAt))
                .primary_key(
                    Index::create()
                        .col(WebhookEndpoints::WorkspaceId)
                        .col(WebhookEndpoints::Id),
                )
                .foreign_key(&mut to_workspace(WebhookEndpoints::Table))
                .to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table(WebhookDeliveries::Table)
                .col(uuid(WebhookDeliveries::WorkspaceId))
                .col(uuid(WebhookDeliveries::Id))
                .col(uuid(WebhookDeliveries::EndpointId))
                .col(uuid(WebhookDeliveries::EventId))
                .col(text(WebhookDeliveries::EventType))
                .col(text(WebhookDeliveries::Status))
                .col(ColumnDef::new(WebhookDeliveries::Attempts).integer().not_null())
                .col(ts_null(WebhookDeliveries::NextAttemptAt))
                .col(ts_null(WebhookDeliveries::ClaimedUntil))
                .col(ColumnDef::new(WebhookDeliveries::LastStatus).integer().null())
                .col(text_null(WebhookDeliveries::LastError))
                .col(ts(WebhookDeliveries::CreatedAt))
                .col(ts(WebhookDeliveries::UpdatedAt))
                .primary_key(
                    Index::create()
                        .col(WebhookDeliveries::WorkspaceId)
                        .col(WebhookDeliveries::Id),
                )
                .foreign_key(
                    ForeignKey::create()
                        .from(
                            WebhookDeliveries::Table,
                            (WebhookDeliveries::WorkspaceId, WebhookDeliveries::EndpointId),
                        )
                        .to(
                            WebhookEndpoints::Table,
                            (WebhookEndpoints::WorkspaceId, WebhookEndpoints::Id),
                        )
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .to_owned(),
        )
        .await?;
        m.create_index(
            index(
                "webhook_deliveries_event",
                WebhookDeliveries::Table,
                &["workspace_id", "endpoint_id", "event_id"],
            )
            .unique()
            .to_owned(),
        )
        .await?;
        // The workers' claim: due deliveries, oldest first.
        m.create_index(index(
            "webhook_deliveries_due",
            WebhookDeliveries::Table,
            &["status", "next_attempt_at"],
        ))
        .await?;
        m.create_index(index(
            "webhook_deliveries_endpoint",
            WebhookDeliveries::Table,
            &["workspace_id", "endpoint_id", "id"],
        ))
        .await?;

        m.create_table(
            Table::create()
                .table(WebhookAttempts::Table)
                .col(uuid(WebhookAttempts::WorkspaceId))
                .col(uuid(WebhookAttempts::Id))
                .col(uuid(WebhookAttempts::DeliveryId))
                .col(ts(WebhookAttempts::AttemptedAt))
                .col(ColumnDef::new(WebhookAttempts::StatusCode).integer().null())
                .col(big(WebhookAttempts::LatencyMs))
                .col(text_null(WebhookAttempts::ResponseBody))
                .col(text_null(WebhookAttempts::Error))
                .primary_key(
                    Index::create()
                        .col(WebhookAttempts::WorkspaceId)
                        .col(WebhookAttempts::Id),
                )
                .foreign_key(
                    ForeignKey::create()
                        .from(
                            WebhookAttempts::Table,
                            (WebhookAttempts::WorkspaceId, WebhookAttempts::DeliveryId),
                        )
                        .to(
                            WebhookDeliveries::Table,
                            (WebhookDeliveries::WorkspaceId, WebhookDeliveries::Id),
                        )
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .to_owned(),
        )
        .await?;
        m.create_index(index(
            "webhook_attempts_delivery",
            WebhookAttempts::Table,
            &["workspace_id", "delivery_id", "id"],
        ))
        .await?;

        m.create_table(
            Table::create()
                .table(DispatchCursors::Table)
                .col(text(DispatchCursors::Name).primary_key())
                .col(big(DispatchCursors::Position))
                .to_owned(),
        )
        .await?;
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for t in [
            "dispatch_cursors",
            "webhook_attempts",
            "webhook_deliveries",
            "webhook_endpoints",
        ] {
            m.drop_table(Table::drop().table(Alias::new(t)).to_owned()).await?;
        }
        Ok(())
    }
}
