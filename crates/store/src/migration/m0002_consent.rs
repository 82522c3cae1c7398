//! Consent and data-subject rights: purposes, the append-only ledger, the effective
//! state per purpose and contact point, double opt-in confirmations, erasure requests,
//! and the contacts' tombstone marker. Existing workspaces get the default purposes.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::ConnectionTrait;

use super::m0001_initial::{bool_col, index, text, text_null, to_contact, to_workspace, ts, ts_null, uuid};

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &'static str {
        "m0002_consent"
    }
}

#[derive(DeriveIden)]
enum Contacts {
    Table,
    ErasedAt,
}

#[derive(DeriveIden)]
enum ConsentPurposes {
    Table,
    WorkspaceId,
    Key,
    Name,
    Description,
    Channel,
    DoubleOptIn,
    DefaultLegalBasis,
    ArchivedAt,
    Version,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum ConsentEvents {
    Table,
    WorkspaceId,
    Id,
    ContactId,
    Purpose,
    Status,
    LegalBasis,
    OptInLevel,
    ContactPoint,
    Source,
    CapturedAt,
    RecordedAt,
    ExpiresAt,
    ProofIp,
    ProofUserAgent,
    ProofPolicyVersion,
    ProofText,
    ProofForm,
    ProofPage,
    ActorType,
    ActorId,
}

#[derive(DeriveIden)]
enum ConsentStates {
    Table,
    WorkspaceId,
    ContactId,
    Purpose,
    ContactPoint,
    EventId,
    Status,
    LegalBasis,
    OptInLevel,
    Source,
    Since,
    ExpiresAt,
}

#[derive(DeriveIden)]
enum ConsentConfirmations {
    Table,
    WorkspaceId,
    TokenHash,
    ContactId,
    Purpose,
    ContactPoint,
    EventId,
    CreatedAt,
    ExpiresAt,
    UsedAt,
}

#[derive(DeriveIden)]
enum ContactErasures {
    Table,
    WorkspaceId,
    Id,
    ContactId,
    Reason,
    ActorType,
    ActorId,
    RequestedAt,
    ErasedAt,
}

/// A foreign key `(workspace_id, purpose)` → consent_purposes: a purpose with records
/// cannot be deleted.
fn to_purpose(table: impl IntoIden) -> ForeignKeyCreateStatement {
    ForeignKey::create()
        .from(table, (Alias::new("workspace_id"), Alias::new("purpose")))
        .to(
            ConsentPurposes::Table,
            (ConsentPurposes::WorkspaceId, ConsentPurposes::Key),
        )
        .on_delete(ForeignKeyAction::Restrict)
        .to_owned()
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    #[allow(clippy::too_many_lines)]
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(
            Table::alter()
                .table(Contacts::Table)
                .add_column(ts_null(Contacts::ErasedAt))
                .to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table(ConsentPurposes::Table)
                .col(uuid(ConsentPurposes::WorkspaceId))
                .col(text(ConsentPurposes::Key))
                .col(text(ConsentPurposes::Name))
                .col(text_null(ConsentPurposes::Description))
                .col(text(ConsentPurposes::Channel))
                .col(bool_col(ConsentPurposes::DoubleOptIn))
                .col(text(ConsentPurposes::DefaultLegalBasis))
                .col(ts_null(ConsentPurposes::ArchivedAt))
                .col(ColumnDef::new(ConsentPurposes::Version).big_integer().not_null())
                .col(ts(ConsentPurposes::CreatedAt))
                .col(ts(ConsentPurposes::UpdatedAt))
                .primary_key(
                    Index::create()
                        .col(ConsentPurposes::WorkspaceId)
                        .col(ConsentPurposes::Key),
                )
                .foreign_key(&mut to_workspace(ConsentPurposes::Table))
                .to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table(ConsentEvents::Table)
                .col(uuid(ConsentEvents::WorkspaceId))
                .col(uuid(ConsentEvents::Id))
                .col(uuid(ConsentEvents::ContactId))
                .col(text(ConsentEvents::Purpose))
                .col(text(ConsentEvents::Status))
                .col(text(ConsentEvents::LegalBasis))
                .col(text(ConsentEvents::OptInLevel))
                .col(text_null(ConsentEvents::ContactPoint))
                .col(text(ConsentEvents::Source))
                .col(ts(ConsentEvents::CapturedAt))
                .col(ts(ConsentEvents::RecordedAt))
                .col(ts_null(ConsentEvents::ExpiresAt))
                .col(text_null(ConsentEvents::ProofIp))
                .col(text_null(ConsentEvents::ProofUserAgent))
                .col(text_null(ConsentEvents::ProofPolicyVersion))
                .col(text_null(ConsentEvents::ProofText))
                .col(text_null(ConsentEvents::ProofForm))
                .col(text_null(ConsentEvents::ProofPage))
                .col(text(ConsentEvents::ActorType))
                .col(text_null(ConsentEvents::ActorId))
                .primary_key(Index::create().col(ConsentEvents::WorkspaceId).col(ConsentEvents::Id))
                .foreign_key(&mut to_contact(ConsentEvents::Table, ConsentEvents::ContactId))
                .foreign_key(&mut to_purpose(ConsentEvents::Table))
                .to_owned(),
        )
        .await?;
        m.create_index(index(
            "consent_events_contact",
            ConsentEvents::Table,
            &["workspace_id", "contact_id", "id"],
        ))
        .await?;
        m.create_index(index(
            "consent_events_purpose",
            ConsentEvents::Table,
            &["workspace_id", "purpose"],
        ))
        .await?;

        // The purpose-wide state has an empty contact point, so the key stays total.
        m.create_table(
            Table::create()
                .table(ConsentStates::Table)
                .col(uuid(ConsentStates::WorkspaceId))
                .col(uuid(ConsentStates::ContactId))
                .col(text(ConsentStates::Purpose))
                .col(text(ConsentStates::ContactPoint))
                .col(uuid(ConsentStates::EventId))
                .col(text(ConsentStates::Status))
                .col(text(ConsentStates::LegalBasis))
                .col(text(ConsentStates::OptInLevel))
                .col(text(ConsentStates::Source))
                .col(ts(ConsentStates::Since))
                .col(ts_null(ConsentStates::ExpiresAt))
                .primary_key(
                    Index::create()
                        .col(ConsentStates::WorkspaceId)
                        .col(ConsentStates::ContactId)
                        .col(ConsentStates::Purpose)
                        .col(ConsentStates::ContactPoint),
                )
                .foreign_key(&mut to_contact(ConsentStates::Table, ConsentStates::ContactId))
                .foreign_key(&mut to_purpose(ConsentStates::Table))
                .to_owned(),
        )
        .await?;
        // Audiences: "everyone who granted this purpose".
        m.create_index(index(
            "consent_states_purpose",
            ConsentStates::Table,
            &["workspace_id", "purpose", "status", "contact_id"],
        ))
        .await?;

        m.create_table(
            Table::create()
                .table(ConsentConfirmations::Table)
                .col(uuid(ConsentConfirmations::WorkspaceId))
                .col(text(ConsentConfirmations::TokenHash))
                .col(uuid(ConsentConfirmations::ContactId))
                .col(text(ConsentConfirmations::Purpose))
                .col(text(ConsentConfirmations::ContactPoint))
                .col(uuid(ConsentConfirmations::EventId))
                .col(ts(ConsentConfirmations::CreatedAt))
                .col(ts(ConsentConfirmations::ExpiresAt))
                .col(ts_null(ConsentConfirmations::UsedAt))
                .primary_key(
                    Index::create()
                        .col(ConsentConfirmations::WorkspaceId)
                        .col(ConsentConfirmations::TokenHash),
                )
                .foreign_key(&mut to_contact(
                    ConsentConfirmations::Table,
                    ConsentConfirmations::ContactId,
                ))
                .foreign_key(&mut to_purpose(ConsentConfirmations::Table))
                .to_owned(),
        )
        .await?;
        m.create_index(index(
            "consent_confirmations_contact",
            ConsentConfirmations::Table,
            &["workspace_id", "contact_id"],
        ))
        .await?;

        m.create_table(
            Table::create()
                .table(ContactErasures::Table)
                .col(uuid(ContactErasures::WorkspaceId))
                .col(uuid(ContactErasures::Id))
                .col(uuid(ContactErasures::ContactId))
                .col(text(ContactErasures::Reason))
                .col(text(ContactErasures::ActorType))
                .col(text_null(ContactErasures::ActorId))
                .col(ts(ContactErasures::RequestedAt))
                .col(ts(ContactErasures::ErasedAt))
                .primary_key(
                    Index::create()
                        .col(ContactErasures::WorkspaceId)
                        .col(ContactErasures::Id),
                )
                .foreign_key(&mut to_contact(ContactErasures::Table, ContactErasures::ContactId))
                .to_owned(),
        )
        .await?;
        m.create_index(
            index(
                "contact_erasures_contact",
                ContactErasures::Table,
                &["workspace_id", "contact_id"],
            )
            .unique()
            .to_owned(),
        )
        .await?;

        default_purposes_for_existing_workspaces(m).await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for t in [
            "contact_erasures",
            "consent_confirmations",
            "consent_states",
            "consent_events",
            "consent_purposes",
        ] {
            m.drop_table(Table::drop().table(Alias::new(t)).to_owned()).await?;
        }
        m.alter_table(
            Table::alter()
                .table(Contacts::Table)
                .drop_column(Contacts::ErasedAt)
                .to_owned(),
        )
        .await
    }
}

/// The default purposes, as this migration gives them (frozen here: later changes to
/// the defaults of new workspaces must not change what this migration did).
const DEFAULTS: [(&str, &str, &str, &str, bool); 6] = [
    (
        "email_marketing",
        "Email marketing",
        "Newsletters and offers by email.",
        "email",
        true,
    ),
    (
        "sms_marketing",
        "SMS marketing",
        "Offers and reminders by text message.",
        "sms",
        true,
    ),
    (
        "phone_marketing",
        "Phone marketing",
        "Sales and offer calls.",
        "phone",
        false,
    ),
    (
        "personalization",
        "Personalization",
        "Tailoring content and recommendations to the person.",
        "any",
        false,
    ),
    (
        "analytics",
        "Analytics",
        "Measuring how the person uses the shop and its messages.",
        "any",
        false,
    ),
    (
        "third_party_sharing",
        "Third-party sharing",
        "Sharing the person's data with partners.",
        "any",
        false,
    ),
];

async fn default_purposes_for_existing_workspaces(m: &SchemaManager<'_>) -> Result<(), DbErr> {
    let db = m.get_connection();
    let select = Query::select()
        .column(Alias::new("id"))
        .from(Alias::new("workspaces"))
        .to_owned();
    let rows = db.query_all(&select).await?;
    let now = chrono::Utc::now();
    for row in rows {
        let ws: sea_orm_migration::sea_orm::prelude::Uuid = row.try_get("", "id")?;
        let mut insert = Query::insert();
        insert.into_table(ConsentPurposes::Table).columns([
            ConsentPurposes::WorkspaceId,
            ConsentPurposes::Key,
            ConsentPurposes::Name,
            ConsentPurposes::Description,
            ConsentPurposes::Channel,
            ConsentPurposes::DoubleOptIn,
            ConsentPurposes::DefaultLegalBasis,
            ConsentPurposes::Version,
            ConsentPurposes::CreatedAt,
            ConsentPurposes::UpdatedAt,
        ]);
        for (key, name, description, channel, double_opt_in) in DEFAULTS {
            insert
                .values([
                    ws.into(),
                    key.into(),
                    name.into(),
                    description.into(),
                    channel.into(),
                    double_opt_in.into(),
                    "consent".into(),
                    1i64.into(),
                    now.into(),
                    now.into(),
                ])
                .map_err(|e| DbErr::Custom(e.to_string()))?;
        }
        db.execute(&insert).await?;
    }
    Ok(())
}
