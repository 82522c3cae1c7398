//! A commit-ordered position for every event. Ids are assigned when a transaction
//! writes an event, so a slow transaction can commit an older id after a newer one has
//! been read; a reader paging by id would skip it. Positions are assigned after commit,
//! by one sequencer at a time, in the order events become visible, so a reader paging by
//! position sees every event exactly once.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::ConnectionTrait;

use super::m0001_initial::index;

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &'static str {
        "m0003_event_positions"
    }
}

#[derive(DeriveIden)]
enum Events {
    Table,
    Position,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(
            Table::alter()
                .table(Events::Table)
                .add_column(ColumnDef::new(Events::Position).big_integer().null())
                .to_owned(),
        )
        .await?;
        m.create_index(
            index("events_position", Events::Table, &["position"])
                .unique()
                .to_owned(),
        )
        .await?;
        m.create_index(index(
            "events_workspace_position",
            Events::Table,
            &["workspace_id", "position"],
        ))
        .await?;
        m.create_index(index("events_occurred", Events::Table, &["occurred_at"]))
            .await?;
        // The sequencer's work list: small, as events are sequenced within moments.
        m.get_connection()
            .execute_unprepared("CREATE INDEX events_unsequenced ON events (id) WHERE position IS NULL")
            .await?;
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for i in [
            "events_unsequenced",
            "events_occurred",
            "events_workspace_position",
            "events_position",
        ] {
            m.drop_index(Index::drop().name(i).table(Events::Table).to_owned())
                .await?;
        }
        m.alter_table(
            Table::alter()
                .table(Events::Table)
                .drop_column(Events::Position)
                .to_owned(),
        )
        .await
    }
}
