//! Provider functions (`provider::drpair::NAME(...)`): pure, deterministic,
//! called on an unconfigured provider process.

use super::types::Type;
use super::value::Value;

#[derive(Clone, Debug)]
pub struct Parameter {
    pub name: String,
    pub ty: Type,
    pub description: String,
    pub allow_null: bool,
    pub allow_unknown: bool,
}

impl Parameter {
    pub fn new(name: &str, ty: Type, description: &str) -> Self {
        Self {
            name: name.to_string(),
            ty,
            description: description.to_string(),
            allow_null: false,
            allow_unknown: false,
        }
    }
}

#[derive(Clone, Debug)]
pub struct Signature {
    pub summary: String,
    pub description: String,
    pub parameters: Vec<Parameter>,
    pub variadic: Option<Parameter>,
    pub returns: Type,
}

/// A function error, optionally blaming one argument (0-based).
#[derive(Clone, Debug, PartialEq)]
pub struct FunctionError {
    pub text: String,
    pub argument: Option<i64>,
}

impl FunctionError {
    pub fn argument(index: usize, text: impl Into<String>) -> Self {
        Self {
            text: text.into(),
            argument: Some(index as i64),
        }
    }
}

pub trait Function: Send + Sync {
    fn name(&self) -> &'static str;
    fn signature(&self) -> Signature;
    /// Arguments arrive decoded with their parameter types; variadic ones are
    /// flattened, one value each.
    fn call(&self, args: &[Value]) -> Result<Value, FunctionError>;
}
