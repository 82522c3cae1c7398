//! The foundation schema: workspaces, API clients, contacts, companies, lifecycle
//! history, attribute definitions, the event outbox and idempotency records.

use sea_orm_migration::prelude::*;

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &'static str {
        "m0001_initial"
    }
}

#[derive(DeriveIden)]
enum Workspaces {
    Table,
    Id,
    Name,
    CreatedAt,
}

#[derive(DeriveIden)]
enum ApiClients {
    Table,
    WorkspaceId,
    Id,
    Name,
    SecretHash,
    Scopes,
    CreatedAt,
    RevokedAt,
}

#[derive(DeriveIden)]
enum Companies {
    Table,
    WorkspaceId,
    Id,
    Name,
    NameKey,
    Domain,
    Industry,
    Size,
    Attributes,
    Version,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum Contacts {
    Table,
    WorkspaceId,
    Id,
    Email,
    EmailKey,
    SearchText,
    Phone,
    FirstName,
    LastName,
    Locale,
    Country,
    CompanyId,
    ExternalIds,
    Tags,
    Attributes,
    LifecycleStage,
    HighestStage,
    StageEnteredAt,
    LeadScore,
    OwnerId,
    Version,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum ContactTags {
    Table,
    WorkspaceId,
    Tag,
    ContactId,
}

#[derive(DeriveIden)]
enum ContactExternalIds {
    Table,
    WorkspaceId,
    Source,
    ExternalId,
    ContactId,
}

#[derive(DeriveIden)]
enum LifecycleTransitions {
    Table,
    WorkspaceId,
    Id,
    ContactId,
    FromStage,
    ToStage,
    Direction,
    Cause,
    ActorType,
    ActorId,
    Reason,
    OccurredAt,
}

#[derive(DeriveIden)]
enum AttributeDefinitions {
    Table,
    WorkspaceId,
    Id,
    Entity,
    Key,
    Label,
    Description,
    Kind,
    Options,
    Version,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum Events {
    Table,
    WorkspaceId,
    Id,
    Type,
    OccurredAt,
    ActorType,
    ActorId,
    Data,
    DataVersion,
}

#[derive(DeriveIden)]
enum IdempotencyKeys {
    Table,
    WorkspaceId,
    Principal,
    Key,
    RequestHash,
    ResponseStatus,
    ResponseHeaders,
    ResponseBody,
    CreatedAt,
    ExpiresAt,
}

#[derive(DeriveIden)]
enum InstanceSecrets {
    Table,
    Name,
    Value,
    CreatedAt,
}

pub(super) fn uuid(c: impl IntoIden) -> ColumnDef {
    ColumnDef::new(c).uuid().not_null().to_owned()
}
pub(super) fn text(c: impl IntoIden) -> ColumnDef {
    ColumnDef::new(c).text().not_null().to_owned()
}
pub(super) fn text_null(c: impl IntoIden) -> ColumnDef {
    ColumnDef::new(c).text().null().to_owned()
}
pub(super) fn json(c: impl IntoIden) -> ColumnDef {
    ColumnDef::new(c).json_binary().not_null().to_owned()
}
pub(super) fn ts(c: impl IntoIden) -> ColumnDef {
    ColumnDef::new(c).timestamp_with_time_zone().not_null().to_owned()
}
pub(super) fn ts_null(c: impl IntoIden) -> ColumnDef {
    ColumnDef::new(c).timestamp_with_time_zone().null().to_owned()
}
pub(super) fn bool_col(c: impl IntoIden) -> ColumnDef {
    ColumnDef::new(c).boolean().not_null().to_owned()
}
pub(super) fn big(c: impl IntoIden) -> ColumnDef {
    ColumnDef::new(c).big_integer().not_null().to_owned()
}

/// The workspace foreign key every tenant table has.
pub(super) fn to_workspace(table: impl IntoIden) -> ForeignKeyCreateStatement {
    ForeignKey::create()
        .from_tbl(table)
        .from_col(Alias::new("workspace_id"))
        .to_tbl(Workspaces::Table)
        .to_col(Workspaces::Id)
        .on_delete(ForeignKeyAction::Cascade)
        .to_owned()
}

/// A foreign key `(workspace_id, contact_id)` → contacts, removed with the contact.
pub(super) fn to_contact(table: impl IntoIden, col: impl IntoIden) -> ForeignKeyCreateStatement {
    ForeignKey::create()
        .from(table, (Alias::new("workspace_id"), col))
        .to(Contacts::Table, (Contacts::WorkspaceId, Contacts::Id))
        .on_delete(ForeignKeyAction::Cascade)
        .to_owned()
}

pub(super) fn index(name: &str, table: impl IntoIden, cols: &[&str]) -> IndexCreateStatement {
    let mut i = Index::create();
    i.name(name).table(table);
    for c in cols {
        i.col(Alias::new(*c));
    }
    i
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    #[allow(clippy::too_many_lines)]
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(Workspaces::Table)
                .col(uuid(Workspaces::Id).primary_key())
                .col(text(Workspaces::Name))
                .col(ts(Workspaces::CreatedAt))
                .to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table(ApiClients::Table)
                .col(uuid(ApiClients::WorkspaceId))
                .col(uuid(ApiClients::Id))
                .col(text(ApiClients::Name))
                .col(text(ApiClients::SecretHash))
                .col(text(ApiClients::Scopes))
                .col(ts(ApiClients::CreatedAt))
                .col(ts_null(ApiClients::RevokedAt))
                .primary_key(Index::create().col(ApiClients::WorkspaceId).col(ApiClients::Id))
                .foreign_key(&mut to_workspace(ApiClients::Table))
                .to_owned(),
        )
        .await?;
        // Token requests name only the client id.
        m.create_index(index("api_clients_id", ApiClients::Table, &["id"]).unique().to_owned())
            .await?;

        m.create_table(
            Table::create()
                .table(Companies::Table)
                .col(uuid(Companies::WorkspaceId))
                .col(uuid(Companies::Id))
                .col(text(Companies::Name))
                .col(text(Companies::NameKey))
                .col(text_null(Companies::Domain))
                .col(text_null(Companies::Industry))
                .col(ColumnDef::new(Companies::Size).big_integer().null())
                .col(json(Companies::Attributes))
                .col(big(Companies::Version))
                .col(ts(Companies::CreatedAt))
                .col(ts(Companies::UpdatedAt))
                .primary_key(Index::create().col(Companies::WorkspaceId).col(Companies::Id))
                .foreign_key(&mut to_workspace(Companies::Table))
                .to_owned(),
        )
        .await?;
        m.create_index(
            index("companies_domain", Companies::Table, &["workspace_id", "domain"])
                .unique()
                .to_owned(),
        )
        .await?;
        m.create_index(index(
            "companies_updated",
            Companies::Table,
            &["workspace_id", "updated_at", "id"],
        ))
        .await?;

        m.create_table(
            Table::create()
                .table(Contacts::Table)
                .col(uuid(Contacts::WorkspaceId))
                .col(uuid(Contacts::Id))
                .col(text_null(Contacts::Email))
                .col(text_null(Contacts::EmailKey))
                .col(text(Contacts::SearchText))
                .col(text_null(Contacts::Phone))
                .col(text_null(Contacts::FirstName))
                .col(text_null(Contacts::LastName))
                .col(text_null(Contacts::Locale))
                .col(text_null(Contacts::Country))
                .col(ColumnDef::new(Contacts::CompanyId).uuid().null())
                .col(json(Contacts::ExternalIds))
                .col(json(Contacts::Tags))
                .col(json(Contacts::Attributes))
                .col(text(Contacts::LifecycleStage))
                .col(text(Contacts::HighestStage))
                .col(json(Contacts::StageEnteredAt))
                .col(big(Contacts::LeadScore))
                .col(text_null(Contacts::OwnerId))
                .col(big(Contacts::Version))
                .col(ts(Contacts::CreatedAt))
                .col(ts(Contacts::UpdatedAt))
                .primary_key(Index::create().col(Contacts::WorkspaceId).col(Contacts::Id))
                .foreign_key(&mut to_workspace(Contacts::Table))
                .foreign_key(
                    ForeignKey::create()
                        .from(Contacts::Table, (Contacts::WorkspaceId, Contacts::CompanyId))
                        .to(Companies::Table, (Companies::WorkspaceId, Companies::Id)),
                )
                .to_owned(),
        )
        .await?;
        m.create_index(
            index("contacts_email", Contacts::Table, &["workspace_id", "email_key"])
                .unique()
                .to_owned(),
        )
        .await?;
        m.create_index(index(
            "contacts_updated",
            Contacts::Table,
            &["workspace_id", "updated_at", "id"],
        ))
        .await?;
        m.create_index(index(
            "contacts_stage_updated",
            Contacts::Table,
            &["workspace_id", "lifecycle_stage", "updated_at", "id"],
        ))
        .await?;
        m.create_index(index(
            "contacts_company",
            Contacts::Table,
            &["workspace_id", "company_id", "id"],
        ))
        .await?;

        m.create_table(
            Table::create()
                .table(ContactTags::Table)
                .col(uuid(ContactTags::WorkspaceId))
                .col(text(ContactTags::Tag))
                .col(uuid(ContactTags::ContactId))
                .primary_key(
                    Index::create()
                        .col(ContactTags::WorkspaceId)
                        .col(ContactTags::Tag)
                        .col(ContactTags::ContactId),
                )
                .foreign_key(&mut to_contact(ContactTags::Table, ContactTags::ContactId))
                .to_owned(),
        )
        .await?;
        m.create_index(index(
            "contact_tags_contact",
            ContactTags::Table,
            &["workspace_id", "contact_id"],
        ))
        .await?;

        m.create_table(
            Table::create()
                .table(ContactExternalIds::Table)
                .col(uuid(ContactExternalIds::WorkspaceId))
                .col(text(ContactExternalIds::Source))
                .col(text(ContactExternalIds::ExternalId))
                .col(uuid(ContactExternalIds::ContactId))
                .primary_key(
                    Index::create()
                        .col(ContactExternalIds::WorkspaceId)
                        .col(ContactExternalIds::Source)
                        .col(ContactExternalIds::ExternalId),
                )
                .foreign_key(&mut to_contact(
                    ContactExternalIds::Table,
                    ContactExternalIds::ContactId,
                ))
                .to_owned(),
        )
        .await?;
        m.create_index(
            index(
                "contact_external_ids_contact",
                ContactExternalIds::Table,
                &["workspace_id", "contact_id", "source"],
            )
            .unique()
            .to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table(LifecycleTransitions::Table)
                .col(uuid(LifecycleTransitions::WorkspaceId))
                .col(uuid(LifecycleTransitions::Id))
                .col(uuid(LifecycleTransitions::ContactId))
                .col(text_null(LifecycleTransitions::FromStage))
                .col(text(LifecycleTransitions::ToStage))
                .col(text(LifecycleTransitions::Direction))
                .col(text(LifecycleTransitions::Cause))
                .col(text(LifecycleTransitions::ActorType))
                .col(text_null(LifecycleTransitions::ActorId))
                .col(text_null(LifecycleTransitions::Reason))
                .col(ts(LifecycleTransitions::OccurredAt))
                .primary_key(
                    Index::create()
                        .col(LifecycleTransitions::WorkspaceId)
                        .col(LifecycleTransitions::Id),
                )
                .foreign_key(&mut to_contact(
                    LifecycleTransitions::Table,
                    LifecycleTransitions::ContactId,
                ))
                .to_owned(),
        )
        .await?;
        m.create_index(index(
            "lifecycle_transitions_contact",
            LifecycleTransitions::Table,
            &["workspace_id", "contact_id", "id"],
        ))
        .await?;

        m.create_table(
            Table::create()
                .table(AttributeDefinitions::Table)
                .col(uuid(AttributeDefinitions::WorkspaceId))
                .col(uuid(AttributeDefinitions::Id))
                .col(text(AttributeDefinitions::Entity))
                .col(text(AttributeDefinitions::Key))
                .col(text(AttributeDefinitions::Label))
                .col(text_null(AttributeDefinitions::Description))
                .col(text(AttributeDefinitions::Kind))
                .col(json(AttributeDefinitions::Options))
                .col(big(AttributeDefinitions::Version))
                .col(ts(AttributeDefinitions::CreatedAt))
                .col(ts(AttributeDefinitions::UpdatedAt))
                .primary_key(
                    Index::create()
                        .col(AttributeDefinitions::WorkspaceId)
                        .col(AttributeDefinitions::Id),
                )
                .foreign_key(&mut to_workspace(AttributeDefinitions::Table))
                .to_owned(),
        )
        .await?;
        m.create_index(
            index(
                "attribute_definitions_key",
                AttributeDefinitions::Table,
                &["workspace_id", "entity", "key"],
            )
            .unique()
            .to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table(Events::Table)
                .col(uuid(Events::WorkspaceId))
                .col(uuid(Events::Id))
                .col(text(Events::Type))
                .col(ts(Events::OccurredAt))
                .col(text(Events::ActorType))
                .col(text_null(Events::ActorId))
                .col(json(Events::Data))
                .col(ColumnDef::new(Events::DataVersion).integer().not_null())
                .primary_key(Index::create().col(Events::WorkspaceId).col(Events::Id))
                .foreign_key(&mut to_workspace(Events::Table))
                .to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table(IdempotencyKeys::Table)
                .col(uuid(IdempotencyKeys::WorkspaceId))
                .col(text(IdempotencyKeys::Principal))
                .col(text(IdempotencyKeys::Key))
                .col(text(IdempotencyKeys::RequestHash))
                .col(ColumnDef::new(IdempotencyKeys::ResponseStatus).integer().null())
                .col(json(IdempotencyKeys::ResponseHeaders))
                .col(ColumnDef::new(IdempotencyKeys::ResponseBody).blob().null())
                .col(ts(IdempotencyKeys::CreatedAt))
                .col(ts(IdempotencyKeys::ExpiresAt))
                .primary_key(
                    Index::create()
                        .col(IdempotencyKeys::WorkspaceId)
                        .col(IdempotencyKeys::Principal)
                        .col(IdempotencyKeys::Key),
                )
                .foreign_key(&mut to_workspace(IdempotencyKeys::Table))
                .to_owned(),
        )
        .await?;
        m.create_index(index(
            "idempotency_keys_expiry",
            IdempotencyKeys::Table,
            &["expires_at"],
        ))
        .await?;

        m.create_table(
            Table::create()
                .table(InstanceSecrets::Table)
                .col(text(InstanceSecrets::Name).primary_key())
                .col(text(InstanceSecrets::Value))
                .col(ts(InstanceSecrets::CreatedAt))
                .to_owned(),
        )
        .await?;
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for t in [
            "instance_secrets",
            "idempotency_keys",
            "events",
            "attribute_definitions",
            "lifecycle_transitions",
            "contact_external_ids",
            "contact_tags",
            "contacts",
            "companies",
            "api_clients",
            "workspaces",
        ] {
            m.drop_table(Table::drop().table(Alias::new(t)).to_owned()).await?;
        }
        Ok(())
    }
}
