//! Duplicate suggestions and merges (match keys on contacts, the redirects merged ids
//! answer with) and bulk imports (jobs and their per-row errors).

use rapport_domain::contact::Contact;
use rapport_domain::email::Email;
use sea_orm::ConnectionTrait;
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm_migration::prelude::*;

use super::m0001_initial::{big, bool_col, index, json, text, text_null, to_workspace, ts, ts_null, uuid};

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &'static str {
        "m0008_merges_imports"
    }
}

#[derive(DeriveIden)]
enum Contacts {
    Table,
    WorkspaceId,
    Id,
    Email,
    FirstName,
    LastName,
    EmailMatch,
    NameMatch,
}

#[derive(DeriveIden)]
enum ContactMerges {
    Table,
    WorkspaceId,
    ContactId,
    MergedInto,
    MergedAt,
}

#[derive(DeriveIden)]
enum Imports {
    Table,
    WorkspaceId,
    Id,
    Kind,
    Format,
    Status,
    Options,
    Caller,
    FileBytes,
    RowsRead,
    RowsCreated,
    RowsUpdated,
    RowsUnchanged,
    RowsFailed,
    Error,
    CancelRequested,
    CreatedAt,
    StartedAt,
    FinishedAt,
    HeartbeatAt,
}

#[derive(DeriveIden)]
enum ImportErrors {
    Table,
    WorkspaceId,
    ImportId,
    Seq,
    Row,
    Pointer,
    Code,
    Message,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    #[allow(clippy::too_many_lines)]
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for col in [Contacts::EmailMatch, Contacts::NameMatch] {
            m.alter_table(
                Table::alter()
                    .table(Contacts::Table)
                    .add_column(text_null(col))
                    .to_owned(),
            )
            .await?;
        }
        backfill_match_keys(m).await?;
        m.create_index(
            index(
                "contacts_email_match",
                Contacts::Table,
                &["workspace_id", "email_match"],
            )
            .clone(),
        )
        .await?;
        m.create_index(index("contacts_phone", Contacts::Table, &["workspace_id", "phone"]).clone())
            .await?;
        m.create_index(
            index(
                "contacts_name_match",
                Contacts::Table,
                &["workspace_id", "name_match", "company_id"],
            )
            .clone(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table(ContactMerges::Table)
                .col(uuid(ContactMerges::WorkspaceId))
                .col(uuid(ContactMerges::ContactId))
                .col(uuid(ContactMerges::MergedInto))
                .col(ts(ContactMerges::MergedAt))
                .primary_key(
                    Index::create()
                        .col(ContactMerges::WorkspaceId)
                        .col(ContactMerges::ContactId),
                )
                .foreign_key(&mut to_workspace(ContactMerges::Table))
                // The redirects go with the survivor.
                .foreign_key(
                    &mut ForeignKey::create()
                        .from(
                            ContactMerges::Table,
                            (ContactMerges::WorkspaceId, ContactMerges::MergedInto),
                        )
                        .to(Contacts::Table, (Contacts::WorkspaceId, Contacts::Id))
                        .on_delete(ForeignKeyAction::Cascade)
                        .to_owned(),
                )
                .to_owned(),
        )
        .await?;
        m.create_index(
            index(
                "contact_merges_into",
                ContactMerges::Table,
                &["workspace_id", "merged_into"],
            )
            .clone(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table(Imports::Table)
                .col(uuid(Imports::WorkspaceId))
                .col(uuid(Imports::Id))
                .col(text(Imports::Kind))
                .col(text(Imports::Format))
                .col(text(Imports::Status))
                .col(json(Imports::Options))
                .col(json(Imports::Caller))
                .col(ColumnDef::new(Imports::FileBytes).big_integer().null())
                .col(big(Imports::RowsRead))
                .col(big(Imports::RowsCreated))
                .col(big(Imports::RowsUpdated))
                .col(big(Imports::RowsUnchanged))
                .col(big(Imports::RowsFailed))
                .col(ColumnDef::new(Imports::Error).json_binary().null())
                .col(bool_col(Imports::CancelRequested))
                .col(ts(Imports::CreatedAt))
                .col(ts_null(Imports::StartedAt))
                .col(ts_null(Imports::FinishedAt))
                .col(ts_null(Imports::HeartbeatAt))
                .primary_key(Index::create().col(Imports::WorkspaceId).col(Imports::Id))
                .foreign_key(&mut to_workspace(Imports::Table))
                .to_owned(),
        )
        .await?;
        m.create_index(index("imports_status", Imports::Table, &["status", "heartbeat_at"]).clone())
            .await?;
        m.create_table(
            Table::create()
                .table(ImportErrors::Table)
                .col(uuid(ImportErrors::WorkspaceId))
                .col(uuid(ImportErrors::ImportId))
                .col(big(ImportErrors::Seq))
                .col(big(ImportErrors::Row))
                .col(text(ImportErrors::Pointer))
                .col(text(ImportErrors::Code))
                .col(text(ImportErrors::Message))
                .primary_key(
                    Index::create()
                        .col(ImportErrors::WorkspaceId)
                        .col(ImportErrors::ImportId)
                        .col(ImportErrors::Seq),
                )
                .foreign_key(
                    &mut ForeignKey::create()
                        .from(ImportErrors::Table, (ImportErrors::WorkspaceId, ImportErrors::ImportId))
                        .to(Imports::Table, (Imports::WorkspaceId, Imports::Id))
                        .on_delete(ForeignKeyAction::Cascade)
                        .to_owned(),
                )
                .to_owned(),
        )
        .await?;
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(Table::drop().table(ImportErrors::Table).to_owned())
            .await?;
        m.drop_table(Table::drop().table(Imports::Table).to_owned()).await?;
        m.drop_table(Table::drop().table(ContactMerges::Table).to_owned())
            .await?;
        for i in ["contacts_email_match", "contacts_phone", "contacts_name_match"] {
            m.drop_index(Index::drop().name(i).table(Contacts::Table).to_owned())
                .await?;
        }
        for col in [Contacts::EmailMatch, Contacts::NameMatch] {
            m.alter_table(Table::alter().table(Contacts::Table).drop_column(col).to_owned())
                .await?;
        }
        Ok(())
    }
}

/// Computes the match keys of the contacts that exist (the store keeps them from then
/// on), a page of 1000 at a time.
async fn backfill_match_keys(m: &SchemaManager<'_>) -> Result<(), DbErr> {
    let db = m.get_connection();
    let mut after: Option<(uuid::Uuid, uuid::Uuid)> = None;
    loop {
        let mut q = Query::select();
        q.columns([
            Contacts::WorkspaceId,
            Contacts::Id,
            Contacts::Email,
            Contacts::FirstName,
            Contacts::LastName,
        ])
        .from(Contacts::Table)
        .order_by(Contacts::WorkspaceId, Order::Asc)
        .order_by(Contacts::Id, Order::Asc)
        .limit(1000);
        if let Some((ws, id)) = after {
            q.and_where(
                Expr::tuple([Expr::col(Contacts::WorkspaceId), Expr::col(Contacts::Id)])
                    .gt(Expr::tuple([Expr::val(ws), Expr::val(id)])),
            );
        }
        let rows = db.query_all(&q).await?;
        let Some(last) = rows.last() else {
            return Ok(());
        };
        after = Some((last.try_get("", "workspace_id")?, last.try_get("", "id")?));
        for row in rows {
            let email: Option<String> = row.try_get("", "email")?;
            let first: Option<String> = row.try_get("", "first_name")?;
            let last: Option<String> = row.try_get("", "last_name")?;
            let email_match = email.map(|e| Email::from_trusted(e).match_key());
            let name_match = Contact::name_key_of(first.as_deref(), last.as_deref());
            if email_match.is_none() && name_match.is_none() {
                continue;
            }
            let ws: uuid::Uuid = row.try_get("", "workspace_id")?;
            let id: uuid::Uuid = row.try_get("", "id")?;
            let mut u = Query::update();
            u.table(Contacts::Table)
                .values([
                    (Contacts::EmailMatch, email_match.into()),
                    (Contacts::NameMatch, name_match.into()),
                ])
                .and_where(Expr::col(Contacts::WorkspaceId).eq(ws))
                .and_where(Expr::col(Contacts::Id).eq(id));
            db.execute(&u).await?;
        }
    }
}
