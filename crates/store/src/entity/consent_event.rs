use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "consent_events")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub workspace_id: Uuid,
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub contact_id: Uuid,
    pub purpose: String,
    pub status: String,
    pub legal_basis: String,
    pub opt_in_level: String,
    pub contact_point: Option<String>,
    pub source: String,
    pub captured_at: DateTimeUtc,
    pub recorded_at: DateTimeUtc,
    pub expires_at: Option<DateTimeUtc>,
    pub proof_ip: Option<String>,
    pub proof_user_agent: Option<String>,
    pub proof_policy_version: Option<String>,
    pub proof_text: Option<String>,
    pub proof_form: Option<String>,
    pub proof_page: Option<String>,
    pub actor_type: String,
    pub actor_id: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
