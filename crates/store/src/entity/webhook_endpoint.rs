use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "webhook_endpoints")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub workspace_id: Uuid,
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub url: String,
    pub description: Option<String>,
    #[sea_orm(column_type = "JsonBinary")]
    pub event_types: Json,
    #[sea_orm(column_type = "JsonBinary", nullable)]
    pub fields: Option<Json>,
    pub skip_own: bool,
    pub owner_type: String,
    pub owner_id: Option<String>,
    pub enabled: bool,
    pub disabled_reason: Option<String>,
    pub secret: String,
    pub previous_secret: Option<String>,
    pub previous_until: Option<DateTimeUtc>,
    pub start_position: i64,
    pub version: i64,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
