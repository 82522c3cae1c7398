//! Orders, the purchase metrics kept from them, the per-workspace churn window, and the
//! workspace's revision of what segment rules depend on.

use sea_orm_migration::prelude::*;

use super::m0001_initial::{big, index, json, text, to_contact, to_workspace, ts, uuid};

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &'static str {
        "m0007_orders"
    }
}

#[derive(DeriveIden)]
enum Workspaces {
    Table,
    ChurnAfterDays,
    RulesRev,
}

#[derive(DeriveIden)]
enum Contacts {
    Table,
    WorkspaceId,
    Id,
}

#[derive(DeriveIden)]
enum Orders {
    Table,
    WorkspaceId,
    Id,
    ContactId,
    Source,
    ExternalId,
    Status,
    Currency,
    PlacedAt,
    Lines,
    Subtotal,
    DiscountCodes,
    DiscountTotal,
    Tax,
    Shipping,
    Total,
    RefundedTotal,
    Version,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum ContactMetrics {
    Table,
    WorkspaceId,
    ContactId,
    Currency,
    OrderCount,
    TotalSpent,
    FirstOrderAt,
    LastOrderAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    #[allow(clippy::too_many_lines)]
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(
            Table::alter()
                .table(Workspaces::Table)
                .add_column(
                    ColumnDef::new(Workspaces::ChurnAfterDays)
                        .integer()
                        .not_null()
                        .default(180),
                )
                .to_owned(),
        )
        .await?;
        // SQLite adds one column per ALTER TABLE.
        m.alter_table(
            Table::alter()
                .table(Workspaces::Table)
                .add_column(ColumnDef::new(Workspaces::RulesRev).big_integer().not_null().default(0))
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(Orders::Table)
                .col(uuid(Orders::WorkspaceId))
                .col(uuid(Orders::Id))
                .col(uuid(Orders::ContactId))
                .col(text(Orders::Source))
                .col(text(Orders::ExternalId))
                .col(text(Orders::Status))
                .col(text(Orders::Currency))
                .col(ts(Orders::PlacedAt))
                .col(json(Orders::Lines))
                .col(big(Orders::Subtotal))
                .col(json(Orders::DiscountCodes))
                .col(big(Orders::DiscountTotal))
                .col(big(Orders::Tax))
                .col(big(Orders::Shipping))
                .col(big(Orders::Total))
                .col(big(Orders::RefundedTotal))
                .col(big(Orders::Version))
                .col(ts(Orders::CreatedAt))
                .col(ts(Orders::UpdatedAt))
                .primary_key(Index::create().col(Orders::WorkspaceId).col(Orders::Id))
                .foreign_key(&mut to_workspace(Orders::Table))
                // Orders outlive nothing silently: a contact with orders is not deleted.
                .foreign_key(
                    ForeignKey::create()
                        .from(Orders::Table, (Orders::WorkspaceId, Orders::ContactId))
                        .to(Contacts::Table, (Contacts::WorkspaceId, Contacts::Id))
                        .on_delete(ForeignKeyAction::NoAction),
                )
                .to_owned(),
        )
        .await?;
        m.create_index(
            index(
                "orders_external_id",
                Orders::Table,
                &["workspace_id", "source", "external_id"],
            )
            .unique()
            .clone(),
        )
        .await?;
        m.create_index(
            index(
                "orders_contact",
                Orders::Table,
                &["workspace_id", "contact_id", "placed_at"],
            )
            .clone(),
        )
        .await?;
        m.create_index(index("orders_placed", Orders::Table, &["workspace_id", "placed_at", "id"]).clone())
            .await?;
        m.create_table(
            Table::create()
                .table(ContactMetrics::Table)
                .col(uuid(ContactMetrics::WorkspaceId))
                .col(uuid(ContactMetrics::ContactId))
                .col(text(ContactMetrics::Currency))
                .col(big(ContactMetrics::OrderCount))
                .col(big(ContactMetrics::TotalSpent))
                .col(ts(ContactMetrics::FirstOrderAt))
                .col(ts(ContactMetrics::LastOrderAt))
                .primary_key(
                    Index::create()
                        .col(ContactMetrics::WorkspaceId)
                        .col(ContactMetrics::ContactId)
                        .col(ContactMetrics::Currency),
                )
                .foreign_key(&mut to_contact(ContactMetrics::Table, ContactMetrics::ContactId))
                .to_owned(),
        )
        .await?;
        m.create_index(
            index(
                "contact_metrics_last_order",
                ContactMetrics::Table,
                &["workspace_id", "last_order_at"],
            )
            .clone(),
        )
        .await?;
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(Table::drop().table(ContactMetrics::Table).to_owned())
            .await?;
        m.drop_table(Table::drop().table(Orders::Table).to_owned()).await?;
        for column in [Workspaces::RulesRev, Workspaces::ChurnAfterDays] {
            m.alter_table(Table::alter().table(Workspaces::Table).drop_column(column).to_owned())
                .await?;
        }
        Ok(())
    }
}
