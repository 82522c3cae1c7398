use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "orders")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub workspace_id: Uuid,
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub contact_id: Uuid,
    pub source: String,
    pub external_id: String,
    pub status: String,
    pub currency: String,
    pub placed_at: DateTimeUtc,
    #[sea_orm(column_type = "JsonBinary")]
    pub lines: Json,
    pub subtotal: i64,
    #[sea_orm(column_type = "JsonBinary")]
    pub discount_codes: Json,
    pub discount_total: i64,
    pub tax: i64,
    pub shipping: i64,
    pub total: i64,
    pub refunded_total: i64,
    pub version: i64,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
