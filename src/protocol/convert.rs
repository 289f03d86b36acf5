//! One mapper per wire type: framework → tfplugin6 and back. Nothing else.

use super::tfplugin6 as pb;
use crate::framework::function::{FunctionError, Signature};
use crate::framework::path::{AttributePath, PathStep};
use crate::framework::provider::RawValue;
use crate::framework::schema::{AttrKind, Attribute, Block, NestedBlock, Nesting, Schema};
use crate::framework::{Diagnostic, Diagnostics, Severity};

// min_items/max_items of nested attribute objects are deprecated and ignored
// by Terraform, but prost still makes us name them.
#[allow(deprecated)]
pub fn schema(s: &Schema) -> pb::Schema {
    pb::Schema {
        version: s.version,
        block: Some(block(&s.block)),
    }
}

fn block(b: &Block) -> pb::schema::Block {
    pb::schema::Block {
        version: 0,
        attributes: b.attributes.iter().map(attribute).collect(),
        block_types: b.blocks.iter().map(nested_block).collect(),
        description: b.description.clone(),
        description_kind: pb::StringKind::Markdown as i32,
        deprecated: b.deprecated,
        deprecation_message: String::new(),
    }
}

#[allow(deprecated)]
fn attribute(a: &Attribute) -> pb::schema::Attribute {
    let (ty, nested_type) = match &a.kind {
        AttrKind::Plain(t) => (t.to_json_bytes(), None),
        AttrKind::Nested {
            nesting,
            attributes,
        } => (
            Vec::new(),
            Some(pb::schema::Object {
                attributes: attributes.iter().map(attribute).collect(),
                nesting: object_nesting(*nesting) as i32,
                min_items: 0,
                max_items: 0,
            }),
        ),
    };
    pb::schema::Attribute {
        name: a.name.clone(),
        r#type: ty,
        nested_type,
        description: a.description.clone(),
        required: a.required,
        optional: a.optional,
        computed: a.computed,
        sensitive: a.sensitive,
        description_kind: pb::StringKind::Markdown as i32,
        deprecated: a.deprecated,
        write_only: false,
        deprecation_message: String::new(),
    }
}

fn object_nesting(n: Nesting) -> pb::schema::object::NestingMode {
    use pb::schema::object::NestingMode as M;
    match n {
        Nesting::Single | Nesting::Group => M::Single,
        Nesting::List => M::List,
        Nesting::Set => M::Set,
        Nesting::Map => M::Map,
    }
}

fn nested_block(b: &NestedBlock) -> pb::schema::NestedBlock {
    use pb::schema::nested_block::NestingMode as M;
    let nesting = match b.nesting {
        Nesting::Single => M::Single,
        Nesting::Group => M::Group,
        Nesting::List => M::List,
        Nesting::Set => M::Set,
        Nesting::Map => M::Map,
    };
    pb::schema::NestedBlock {
        type_name: b.type_name.clone(),
        block: Some(block(&b.block)),
        nesting: nesting as i32,
        min_items: b.min_items,
        max_items: b.max_items,
    }
}

pub fn function(sig: &Signature) -> pb::Function {
    let param = |p: &crate::framework::function::Parameter| pb::function::Parameter {
        name: p.name.clone(),
        r#type: p.ty.to_json_bytes(),
        allow_null_value: p.allow_null,
        allow_unknown_values: p.allow_unknown,
        description: p.description.clone(),
        description_kind: pb::StringKind::Markdown as i32,
    };
    pb::Function {
        parameters: sig.parameters.iter().map(param).collect(),
        variadic_parameter: sig.variadic.as_ref().map(param),
        r#return: Some(pb::function::Return {
            r#type: sig.returns.to_json_bytes(),
        }),
        summary: sig.summary.clone(),
        description: sig.description.clone(),
        description_kind: pb::StringKind::Markdown as i32,
        deprecation_message: String::new(),
    }
}

pub fn function_error(e: FunctionError) -> pb::FunctionError {
    pb::FunctionError {
        text: e.text,
        function_argument: e.argument,
    }
}

pub fn diagnostics(d: &Diagnostics) -> Vec<pb::Diagnostic> {
    d.iter().map(diagnostic).collect()
}

fn diagnostic(d: &Diagnostic) -> pb::Diagnostic {
    let severity = match d.severity {
        Severity::Error => pb::diagnostic::Severity::Error,
        Severity::Warning => pb::diagnostic::Severity::Warning,
    };
    pb::Diagnostic {
        severity: severity as i32,
        summary: d.summary.clone(),
        detail: d.detail.clone(),
        attribute: d.path.as_ref().filter(|p| !p.is_empty()).map(path),
    }
}

pub fn path(p: &AttributePath) -> pb::AttributePath {
    use pb::attribute_path::step::Selector;
    pb::AttributePath {
        steps: p
            .0
            .iter()
            .map(|s| pb::attribute_path::Step {
                selector: Some(match s {
                    PathStep::Attr(n) => Selector::AttributeName(n.clone()),
                    PathStep::Key(k) => Selector::ElementKeyString(k.clone()),
                    PathStep::Index(i) => Selector::ElementKeyInt(*i),
                }),
            })
            .collect(),
    }
}

/// Msgpack when Terraform sent it, JSON otherwise; absent means null.
pub fn raw_value(v: Option<&pb::DynamicValue>) -> RawValue {
    match v {
        Some(d) if !d.msgpack.is_empty() => RawValue::Msgpack(d.msgpack.clone()),
        Some(d) if !d.json.is_empty() => RawValue::Json(d.json.clone()),
        _ => RawValue::Msgpack(Vec::new()),
    }
}

pub fn dynamic_value(v: RawValue) -> pb::DynamicValue {
    match v {
        RawValue::Msgpack(msgpack) => pb::DynamicValue {
            msgpack,
            json: Vec::new(),
        },
        RawValue::Json(json) => pb::DynamicValue {
            msgpack: Vec::new(),
            json,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::framework::Type;

    #[test]
    fn nested_attributes_use_nested_type_not_type() {
        let s = Schema::new(
            1,
            Block::default()
                .attr(Attribute::string("id").computed())
                .attr(Attribute::nested(
                    "primary",
                    Nesting::Single,
                    vec![Attribute::string("cidr_block").required()],
                )),
        );
        let out = schema(&s);
        let block = out.block.unwrap();
        assert_eq!(out.version, 1);
        let id = &block.attributes[0];
        assert_eq!(id.r#type, Type::String.to_json_bytes());
        assert!(id.nested_type.is_none());
        let primary = &block.attributes[1];
        assert!(primary.r#type.is_empty());
        assert_eq!(primary.nested_type.as_ref().unwrap().attributes.len(), 1);
    }

    #[test]
    fn diagnostic_paths_map_every_step() {
        let mut d = Diagnostics::new();
        d.error_at(
            AttributePath::root()
                .attr("primary")
                .attr("tags")
                .key("k")
                .index(2),
            "bad",
            "detail",
        );
        let out = diagnostics(&d);
        assert_eq!(out[0].severity, pb::diagnostic::Severity::Error as i32);
        assert_eq!(out[0].attribute.as_ref().unwrap().steps.len(), 4);
    }

    #[test]
    fn absent_dynamic_value_is_null_msgpack() {
        assert_eq!(raw_value(None), RawValue::Msgpack(Vec::new()));
        let json = pb::DynamicValue {
            msgpack: vec![],
            json: b"{}".to_vec(),
        };
        assert_eq!(raw_value(Some(&json)), RawValue::Json(b"{}".to_vec()));
    }
}
