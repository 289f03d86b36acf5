//! The registry: every resource, data source and action drpair offers.

pub mod app_tier;
pub mod backup_plan;
pub mod failover;
pub mod failover_dns;
pub mod global_database;
pub mod metric_stream;
pub mod monitoring;
pub mod network;
pub mod orchestrator;
pub mod replication_status;
pub mod session_table;
pub mod timeouts;

use crate::framework::action::DynAction;
use crate::framework::resource::{DynDataSource, DynResource};
use std::sync::Arc;

pub fn resources() -> Vec<Arc<dyn DynResource>> {
    vec![
        Arc::new(app_tier::AppTier),
        Arc::new(backup_plan::BackupPlan),
        Arc::new(failover_dns::FailoverDns),
        Arc::new(global_database::GlobalDatabase),
        Arc::new(metric_stream::MetricStream),
        Arc::new(monitoring::Monitoring),
        Arc::new(network::Network),
        Arc::new(orchestrator::FailoverOrchestrator),
        Arc::new(session_table::SessionTable),
    ]
}

pub fn data_sources() -> Vec<Arc<dyn DynDataSource>> {
    vec![Arc::new(replication_status::ReplicationStatus)]
}

pub fn actions() -> Vec<Arc<dyn DynAction>> {
    vec![Arc::new(failover::Failover)]
}
