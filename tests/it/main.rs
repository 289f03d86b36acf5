//! The one integration-test binary (every test binary links the whole AWS
//! SDK, so there is exactly one).

mod app_tier_acc;
mod backup_plan_acc;
mod bad_input_acc;
mod chaos_acc;
mod complete_acc;
mod emulator_cloudwatch;
mod failover_acc;
mod failover_dns_acc;
mod functions_acc;
mod gameday_acc;
mod global_database_acc;
mod harness;
mod metric_stream_acc;
mod monitoring_acc;
mod network_acc;
mod network_aws;
mod orchestrator_acc;
mod protocol;
mod remote_state_acc;
mod session_table_acc;
mod versions_acc;
