//! drpair: a Terraform provider whose resources are whole pieces of a
//! two-region AWS disaster-recovery stack.
//!
//! Layers, data flowing one way: [`protocol`] (tfplugin6 over gRPC/mTLS) →
//! [`framework`] (values, schemas, typed resources) → [`resources`] → [`aws`].

pub mod aws;
pub mod docs;
pub mod framework;
pub mod functions;
pub mod protocol;
pub mod provider;
pub mod resources;

use std::sync::Arc;

/// The provider server with every resource registered.
pub fn provider_server() -> Arc<framework::provider::ProviderServer> {
    Arc::new(framework::provider::ProviderServer::new(provider::DrPair))
}
