//! The protocol layer: generated tfplugin6 and go-plugin code, the go-plugin
//! handshake with AutoMTLS, the side services, and the thin mapping between
//! wire types and the framework's types. It knows nothing about AWS.

pub mod convert;
pub mod handshake;
pub mod logging;
pub mod plugin_services;
pub mod provider_service;
pub mod serve;
pub mod tls;

#[allow(clippy::all, clippy::pedantic, missing_docs)]
pub mod tfplugin6 {
    tonic::include_proto!("tfplugin6");
}

#[allow(clippy::all, clippy::pedantic, missing_docs)]
pub mod plugin {
    tonic::include_proto!("plugin");
}

pub use serve::{serve, ServeOptions, Transport};
