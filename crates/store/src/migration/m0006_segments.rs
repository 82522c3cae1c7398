//! Segments and their materialised membership, current and past.

use sea_orm_migration::prelude::*;

use super::m0001_initial::{big, index, text, text_null, to_contact, to_workspace, ts, ts_null, uuid};

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &'static str {
        "m0006_segments"
    }
}

#[derive(DeriveIden)]
enum Segments {
    Table,
    WorkspaceId,
    Id,
    Name,
    Description,
    Kind,
    Rules,
    Version,
    CreatedAt,
    UpdatedAt,
    RefreshedAt,
}

#[derive(DeriveIden)]
enum SegmentMembers {
    Table,
    WorkspaceId,
    SegmentId,
    ContactId,
    EnteredAt,
}

#[derive(DeriveIden)]
enum SegmentMembershipHistory {
    Table,
    WorkspaceId,
    SegmentId,
    ContactId,
    EnteredAt,
    ExitedAt,
}

fn to_segment(table: impl IntoIden) -> ForeignKeyCreateStatement {
    ForeignKey::create()
        .from(table, (Alias::new("workspace_id"), Alias::new("segment_id")))
        .to(Segments::Table, (Segments::WorkspaceId, Segments::Id))
        .on_delete(ForeignKeyAction::Cascade)
        .to_owned()
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(Segments::Table)
                .col(uuid(Segments::WorkspaceId))
                .col(uuid(Segments::Id))
                .col(text(Segments::Name))
                .col(text_null(Segments::Description))
                .col(text(Segments::Kind))
                .col(ColumnDef::new(Segments::Rules).json_binary().null())
                .col(big(Segments::Version))
                .col(ts(Segments::CreatedAt))
                .col(ts(Segments::UpdatedAt))
                .col(ts_null(Segments::RefreshedAt))
                .primary_key(Index::create().col(Segments::WorkspaceId).col(Segments::Id))
                .foreign_key(&mut to_workspace(Segments::Table))
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(SegmentMembers::Table)
                .col(uuid(SegmentMembers::WorkspaceId))
                .col(uuid(SegmentMembers::SegmentId))
                .col(uuid(SegmentMembers::ContactId))
                .col(ts(SegmentMembers::EnteredAt))
                .primary_key(
                    Index::create()
                        .col(SegmentMembers::WorkspaceId)
                        .col(SegmentMembers::SegmentId)
                        .col(SegmentMembers::ContactId),
                )
                .foreign_key(&mut to_segment(SegmentMembers::Table))
                .foreign_key(&mut to_contact(SegmentMembers::Table, SegmentMembers::ContactId))
                .to_owned(),
        )
        .await?;
        m.create_index(
            index(
                "segment_members_contact",
                SegmentMembers::Table,
                &["workspace_id", "contact_id"],
            )
            .clone(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(SegmentMembershipHistory::Table)
                .col(uuid(SegmentMembershipHistory::WorkspaceId))
                .col(uuid(SegmentMembershipHistory::SegmentId))
                .col(uuid(SegmentMembershipHistory::ContactId))
                .col(ts(SegmentMembershipHistory::EnteredAt))
                .col(ts(SegmentMembershipHistory::ExitedAt))
                .primary_key(
                    Index::create()
                        .col(SegmentMembershipHistory::WorkspaceId)
                        .col(SegmentMembershipHistory::SegmentId)
                        .col(SegmentMembershipHistory::ContactId)
                        .col(SegmentMembershipHistory::EnteredAt),
                )
                .foreign_key(&mut to_segment(SegmentMembershipHistory::Table))
                .foreign_key(&mut to_contact(
                    SegmentMembershipHistory::Table,
                    SegmentMembershipHistory::ContactId,
                ))
                .to_owned(),
        )
        .await?;
        m.create_index(
            index(
                "segment_membership_history_contact",
                SegmentMembershipHistory::Table,
                &["workspace_id", "contact_id"],
            )
            .clone(),
        )
        .await?;
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(Table::drop().table(SegmentMembershipHistory::Table).to_owned())
            .await?;
        m.drop_table(Table::drop().table(SegmentMembers::Table).to_owned())
            .await?;
        m.drop_table(Table::drop().table(Segments::Table).to_owned()).await
    }
}
