//! Connectors: shops and ERP systems that push signed batches of changes in.

use sea_orm_migration::prelude::*;

use super::m0001_initial::{big, bool_col, index, text, text_null, to_workspace, ts, ts_null, uuid};

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &'static str {
        "m0005_connectors"
    }
}

#[derive(DeriveIden)]
enum Connectors {
    Table,
    WorkspaceId,
    Id,
    Name,
    Secret,
    PreviousSecret,
    PreviousUntil,
    Enabled,
    Version,
    CreatedAt,
    UpdatedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(Connectors::Table)
                .col(uuid(Connectors::WorkspaceId))
                .col(uuid(Connectors::Id))
                .col(text(Connectors::Name))
                .col(text(Connectors::Secret))
                .col(text_null(Connectors::PreviousSecret))
                .col(ts_null(Connectors::PreviousUntil))
                .col(bool_col(Connectors::Enabled))
                .col(big(Connectors::Version))
                .col(ts(Connectors::CreatedAt))
                .col(ts(Connectors::UpdatedAt))
                .primary_key(Index::create().col(Connectors::WorkspaceId).col(Connectors::Id))
                .foreign_key(&mut to_workspace(Connectors::Table))
                .to_owned(),
        )
        .await?;
        m.create_index(
            index("connectors_name", Connectors::Table, &["workspace_id", "name"])
                .unique()
                .to_owned(),
        )
        .await?;
        // Ingestion names only the connector.
        m.create_index(index("connectors_id", Connectors::Table, &["id"]).unique().to_owned())
            .await?;
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(Table::drop().table(Connectors::Table).to_owned()).await
    }
}
