//! The framework layer: values, schemas, diagnostics and the typed resource
//! traits. It knows nothing about gRPC or AWS: the protocol layer converts wire
//! types into these, and resources only ever see their own serde models.

pub mod action;
pub mod diag;
pub mod function;
pub mod path;
pub mod plan;
pub mod provider;
pub mod resource;
pub mod schema;
pub mod typed;
pub mod types;
pub mod value;

pub use diag::{Diagnostic, Diagnostics, Severity};
pub use path::AttributePath;
pub use schema::{Attribute, Block, NestedBlock, Nesting, Schema};
pub use typed::Val;
pub use types::Type;
pub use value::Value;

#[cfg(test)]
mod fuzz_tests;
