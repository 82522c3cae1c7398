//! External ids a merge dropped: the survivor kept its own id for that source, and the
//! merged contact's id goes on resolving to the survivor (upserts, orders, imports and
//! look-ups by external id), so the next sync from the other record does not bring the
//! duplicate back.

use sea_orm_migration::prelude::*;

use super::m0001_initial::{index, text, to_contact, ts, uuid};

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &'static str {
        "m0009_external_id_aliases"
    }
}

#[derive(DeriveIden)]
enum ContactExternalIdAliases {
    Table,
    WorkspaceId,
    Source,
    ExternalId,
    ContactId,
    CreatedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        use ContactExternalIdAliases as A;
        m.create_table(
            Table::create()
                .table(A::Table)
                .col(uuid(A::WorkspaceId))
                .col(text(A::Source))
                .col(text(A::ExternalId))
                .col(uuid(A::ContactId))
                .col(ts(A::CreatedAt))
                .primary_key(Index::create().col(A::WorkspaceId).col(A::Source).col(A::ExternalId))
                // They go with the contact (and are deleted by its erasure).
                .foreign_key(&mut to_contact(A::Table, A::ContactId))
                .to_owned(),
        )
        .await?;
        m.create_index(
            index(
                "contact_external_id_aliases_contact",
                A::Table,
                &["workspace_id", "contact_id"],
            )
            .clone(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(Table::drop().table(ContactExternalIdAliases::Table).to_owned())
            .await
    }
}
