//! Schema migrations. Every table carries `workspace_id`; primary keys, unique
//! constraints and foreign keys start with it (DESIGN §2), so a row can never point
//! into another workspace and the schema can be distributed by workspace.

use sea_orm_migration::prelude::*;

mod m0001_initial;
mod m0002_consent;
mod m0003_event_positions;
mod m0004_webhooks;
mod m0005_connectors;
mod m0006_segments;
mod m0007_orders;
mod m0008_merges_imports;
mod m0009_external_id_aliases;

pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m0001_initial::Migration),
            Box::new(m0002_consent::Migration),
            Box::new(m0003_event_positions::Migration),
            Box::new(m0004_webhooks::Migration),
            Box::new(m0005_connectors::Migration),
            Box::new(m0006_segments::Migration),
            Box::new(m0007_orders::Migration),
            Box::new(m0008_merges_imports::Migration),
            Box::new(m0009_external_id_aliases::Migration),
        ]
    }

    fn migration_table_name() -> DynIden {
        Alias::new("rapport_migrations").into_iden()
    }
}
