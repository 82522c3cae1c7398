use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "contacts")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub workspace_id: Uuid,
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub email: Option<String>,
    pub email_key: Option<String>,
    /// `Email::match_key`: where likely duplicates meet.
    pub email_match: Option<String>,
    /// `Contact::name_key`: with the company, where namesakes meet.
    pub name_match: Option<String>,
    /// First name, last name and email, case-folded, for search.
    pub search_text: String,
    pub phone: Option<String>,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub locale: Option<String>,
    pub country: Option<String>,
    pub company_id: Option<Uuid>,
    #[sea_orm(column_type = "JsonBinary")]
    pub external_ids: Json,
    #[sea_orm(column_type = "JsonBinary")]
    pub tags: Json,
    #[sea_orm(column_type = "JsonBinary")]
    pub attributes: Json,
    pub lifecycle_stage: String,
    pub highest_stage: String,
    #[sea_orm(column_type = "JsonBinary")]
    pub stage_entered_at: Json,
    pub lead_score: i64,
    pub owner_id: Option<String>,
    pub version: i64,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
    pub erased_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
