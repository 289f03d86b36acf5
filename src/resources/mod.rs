//! The registry: every resource and data source drpair offers.

pub mod network;
pub mod timeouts;

use crate::framework::resource::{DynDataSource, DynResource};
use std::sync::Arc;

pub fn resources() -> Vec<Arc<dyn DynResource>> {
    vec![Arc::new(network::Network)]
}

pub fn data_sources() -> Vec<Arc<dyn DynDataSource>> {
    vec![]
}
