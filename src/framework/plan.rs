//! Generic planning on dynamic values, driven by the schema: what every
//! resource gets before its own `modify_plan` runs.
//!
//! Terraform's rules (PROTOCOL.md §3): a provider may only change computed
//! attributes that are null in config; values not known until apply must be
//! planned unknown; attributes that cannot change in place are reported as
//! `requires_replace` paths.

use super::path::AttributePath;
use super::schema::{Attribute, Block, Nesting};
use super::value::Value;
use std::collections::BTreeMap;

#[derive(Clone, Debug, PartialEq)]
pub struct PlannedChange {
    pub planned: Value,
    pub requires_replace: Vec<AttributePath>,
}

/// Plans a new object: computed attributes left null in config become their
/// default or unknown.
pub fn plan_create(block: &Block, proposed: &Value, config: &Value) -> Value {
    fill_computed(block, proposed, config, None, false)
}

/// Plans an in-place update or, when an attribute that cannot change in place
/// changed, a replacement (every computed value unknown again).
pub fn plan_update(
    block: &Block,
    prior: &Value,
    proposed: &Value,
    config: &Value,
) -> PlannedChange {
    let mut requires_replace = Vec::new();
    collect_replacements(
        &block.attributes,
        prior,
        proposed,
        &AttributePath::root(),
        &mut requires_replace,
    );
    if !requires_replace.is_empty() {
        return PlannedChange {
            planned: plan_create(block, proposed, config),
            requires_replace,
        };
    }
    let changed = !semantically_equal(prior, proposed);
    PlannedChange {
        planned: fill_computed(block, proposed, config, Some(prior), changed),
        requires_replace,
    }
}

fn fill_computed(
    block: &Block,
    proposed: &Value,
    config: &Value,
    prior: Option<&Value>,
    changed: bool,
) -> Value {
    let Value::Object(fields) = proposed else {
        return proposed.clone();
    };
    let mut out: BTreeMap<String, Value> = fields.clone();
    for attr in &block.attributes {
        let cfg = config.get_attr(&attr.name).unwrap_or(&Value::Null);
        let prop = fields.get(&attr.name).unwrap_or(&Value::Null);
        let pri = prior.and_then(|p| p.get_attr(&attr.name));
        out.insert(
            attr.name.clone(),
            plan_attribute(attr, prop, cfg, pri, changed),
        );
    }
    Value::Object(out)
}

fn plan_attribute(
    attr: &Attribute,
    proposed: &Value,
    config: &Value,
    prior: Option<&Value>,
    changed: bool,
) -> Value {
    if attr.computed && config.is_null() {
        if let Some(default) = &attr.default {
            return default.clone();
        }
        // A stable computed value survives an update; a volatile one is only
        // known after the update runs.
        let rewritten = attr.volatile && changed;
        return match prior {
            Some(p) if !p.is_null() && !rewritten => p.clone(),
            Some(p) if !p.is_null() => Value::Unknown,
            Some(_) if !changed => Value::Null,
            _ => Value::Unknown,
        };
    }
    // A nested single object with computed attributes inside: recurse.
    if let Some((Nesting::Single | Nesting::Group, inner)) = attr.nested_attributes() {
        if let Value::Object(_) = proposed {
            let inner_block = Block {
                attributes: inner.to_vec(),
                ..Block::default()
            };
            return fill_computed(&inner_block, proposed, config, prior, changed);
        }
    }
    proposed.clone()
}

fn collect_replacements(
    attrs: &[Attribute],
    prior: &Value,
    proposed: &Value,
    path: &AttributePath,
    out: &mut Vec<AttributePath>,
) {
    for attr in attrs {
        let before = prior.get_attr(&attr.name).unwrap_or(&Value::Null);
        let after = proposed.get_attr(&attr.name).unwrap_or(&Value::Null);
        let here = path.attr(&attr.name);
        if attr.requires_replace && !attr.is_computed_only() {
            // Unknown now: the value may or may not change, and Terraform
            // asks again with known values at apply time.
            if !after.is_unknown() && !semantically_equal(before, after) {
                out.push(here.clone());
                continue;
            }
        }
        if let Some((Nesting::Single | Nesting::Group, inner)) = attr.nested_attributes() {
            if matches!(before, Value::Object(_)) && matches!(after, Value::Object(_)) {
                collect_replacements(inner, before, after, &here, out);
            }
        }
    }
}

/// Puts back what the configuration decides: a provider may only choose
/// values of computed attributes the configuration leaves null, so whatever a
/// resource's `modify_plan` did elsewhere, those come from the proposed value.
pub fn restore_configured(block: &Block, planned: &mut Value, proposed: &Value, config: &Value) {
    restore_attributes(&block.attributes, planned, proposed, config);
}

fn restore_attributes(attrs: &[Attribute], planned: &mut Value, proposed: &Value, config: &Value) {
    let Value::Object(out) = planned else { return };
    for attr in attrs {
        let cfg = config.get_attr(&attr.name).unwrap_or(&Value::Null);
        if attr.computed && cfg.is_null() {
            continue;
        }
        let prop = proposed
            .get_attr(&attr.name)
            .cloned()
            .unwrap_or(Value::Null);
        match (attr.nested_attributes(), out.get_mut(&attr.name)) {
            (Some((Nesting::Single | Nesting::Group, inner)), Some(slot @ Value::Object(_)))
                if matches!(prop, Value::Object(_)) =>
            {
                restore_attributes(inner, slot, &prop, cfg);
            }
            _ => {
                out.insert(attr.name.clone(), prop);
            }
        }
    }
}

/// Equality as Terraform sees it: numbers compare numerically, sets ignore
/// order.
pub fn semantically_equal(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.equals(y),
        (Value::List(x), Value::List(y)) | (Value::Tuple(x), Value::Tuple(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(p, q)| semantically_equal(p, q))
        }
        (Value::Set(x), Value::Set(y)) => {
            x.len() == y.len()
                && x.iter().all(|p| y.iter().any(|q| semantically_equal(p, q)))
                && y.iter().all(|q| x.iter().any(|p| semantically_equal(p, q)))
        }
        (Value::Map(x), Value::Map(y)) | (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len()
                && x.iter()
                    .all(|(k, v)| y.get(k).is_some_and(|w| semantically_equal(v, w)))
        }
        (Value::Dynamic(x), Value::Dynamic(y)) => x.0 == y.0 && semantically_equal(&x.1, &y.1),
        _ => a == b,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::framework::schema::Attribute;
    use crate::framework::value::Number;

    fn s(v: &str) -> Value {
        Value::String(v.to_string())
    }

    fn obj(fields: &[(&str, Value)]) -> Value {
        Value::Object(
            fields
                .iter()
                .map(|(k, v)| (k.to_string(), v.clone()))
                .collect(),
        )
    }

    fn block() -> Block {
        Block::default()
            .attr(Attribute::string("id").computed())
            .attr(Attribute::string("name").required())
            .attr(Attribute::string("cidr").required().requires_replace())
            .attr(Attribute::number("count").default(Value::Number(Number::Int(3))))
            .attr(Attribute::string("version").computed().volatile())
            .attr(Attribute::nested(
                "primary",
                Nesting::Single,
                vec![
                    Attribute::string("cidr").required().requires_replace(),
                    Attribute::string("vpc_id").computed(),
                ],
            ))
    }

    fn config(name: &str, cidr: &str, inner: &str) -> Value {
        obj(&[
            ("id", Value::Null),
            ("name", s(name)),
            ("cidr", s(cidr)),
            ("count", Value::Null),
            ("version", Value::Null),
            (
                "primary",
                obj(&[("cidr", s(inner)), ("vpc_id", Value::Null)]),
            ),
        ])
    }

    fn applied() -> Value {
        obj(&[
            ("id", s("net-1")),
            ("name", s("a")),
            ("cidr", s("10.0.0.0/16")),
            ("count", Value::Number(Number::Int(3))),
            ("version", s("v1")),
            (
                "primary",
                obj(&[("cidr", s("10.1.0.0/16")), ("vpc_id", s("vpc-1"))]),
            ),
        ])
    }

    /// What Terraform proposes: config, with prior values for computed
    /// attributes that config leaves null.
    fn proposed(cfg: &Value, prior: &Value) -> Value {
        let mut out = cfg.clone();
        if let (Value::Object(o), Value::Object(p)) = (&mut out, prior) {
            for k in ["id", "count", "version"] {
                o.insert(k.into(), p[k].clone());
            }
            if let (Some(Value::Object(inner)), Some(Value::Object(pinner))) =
                (o.get_mut("primary"), p.get("primary"))
            {
                inner.insert("vpc_id".into(), pinner["vpc_id"].clone());
            }
        }
        out
    }

    #[test]
    fn create_marks_computed_unknown_and_applies_defaults() {
        let cfg = config("a", "10.0.0.0/16", "10.1.0.0/16");
        let planned = plan_create(&block(), &cfg, &cfg);
        assert_eq!(planned.get_attr("id"), Some(&Value::Unknown));
        assert_eq!(
            planned.get_attr("count"),
            Some(&Value::Number(Number::Int(3)))
        );
        assert_eq!(
            planned
                .get_attr("primary")
                .and_then(|p| p.get_attr("vpc_id")),
            Some(&Value::Unknown)
        );
        assert_eq!(planned.get_attr("name"), Some(&s("a")));
    }

    #[test]
    fn update_table() {
        struct Case {
            name: &'static str,
            cfg: Value,
            replace: Vec<&'static str>,
            id: Value,
            version: Value,
            vpc: Value,
        }
        let cases = [
            Case {
                name: "no change keeps everything",
                cfg: config("a", "10.0.0.0/16", "10.1.0.0/16"),
                replace: vec![],
                id: s("net-1"),
                version: s("v1"),
                vpc: s("vpc-1"),
            },
            Case {
                name: "in-place change keeps stable computed, unknowns volatile",
                cfg: config("b", "10.0.0.0/16", "10.1.0.0/16"),
                replace: vec![],
                id: s("net-1"),
                version: Value::Unknown,
                vpc: s("vpc-1"),
            },
            Case {
                name: "top-level requires replace",
                cfg: config("a", "10.9.0.0/16", "10.1.0.0/16"),
                replace: vec!["cidr"],
                id: Value::Unknown,
                version: Value::Unknown,
                vpc: Value::Unknown,
            },
            Case {
                name: "nested requires replace",
                cfg: config("a", "10.0.0.0/16", "10.2.0.0/16"),
                replace: vec!["primary.cidr"],
                id: Value::Unknown,
                version: Value::Unknown,
                vpc: Value::Unknown,
            },
        ];
        for c in cases {
            let prior = applied();
            let prop = proposed(&c.cfg, &prior);
            let out = plan_update(&block(), &prior, &prop, &c.cfg);
            let got: Vec<String> = out.requires_replace.iter().map(|p| p.to_string()).collect();
            assert_eq!(got, c.replace, "{}", c.name);
            assert_eq!(out.planned.get_attr("id"), Some(&c.id), "{}", c.name);
            assert_eq!(
                out.planned.get_attr("version"),
                Some(&c.version),
                "{}",
                c.name
            );
            assert_eq!(
                out.planned
                    .get_attr("primary")
                    .and_then(|p| p.get_attr("vpc_id")),
                Some(&c.vpc),
                "{}",
                c.name
            );
        }
    }

    #[test]
    fn removing_an_optional_default_plans_the_default_again() {
        let mut prior = applied();
        if let Value::Object(o) = &mut prior {
            o.insert("count".into(), Value::Number(Number::Int(5)));
        }
        let cfg = config("a", "10.0.0.0/16", "10.1.0.0/16");
        let prop = proposed(&cfg, &prior);
        let out = plan_update(&block(), &prior, &prop, &cfg);
        assert_eq!(
            out.planned.get_attr("count"),
            Some(&Value::Number(Number::Int(3)))
        );
    }

    #[test]
    fn configured_values_survive_a_modified_plan() {
        let cfg = obj(&[
            ("id", Value::Null),
            ("name", Value::List(vec![s("a"), Value::Unknown])),
            ("cidr", s("10.0.0.0/16")),
            ("count", Value::Null),
            ("version", Value::Null),
            (
                "primary",
                obj(&[("cidr", s("10.1.0.0/16")), ("vpc_id", Value::Null)]),
            ),
        ]);
        let mut planned = obj(&[
            ("id", s("x")),
            ("name", Value::Unknown),
            ("cidr", s("changed")),
            ("count", Value::Number(Number::Int(3))),
            ("version", Value::Unknown),
            (
                "primary",
                obj(&[("cidr", Value::Unknown), ("vpc_id", Value::Unknown)]),
            ),
        ]);
        restore_configured(&block(), &mut planned, &cfg, &cfg);
        assert_eq!(planned.get_attr("name"), cfg.get_attr("name"));
        assert_eq!(planned.get_attr("cidr"), Some(&s("10.0.0.0/16")));
        assert_eq!(
            planned.get_attr("id"),
            Some(&s("x")),
            "computed values stay"
        );
        let primary = planned.get_attr("primary").unwrap();
        assert_eq!(primary.get_attr("cidr"), Some(&s("10.1.0.0/16")));
        assert_eq!(primary.get_attr("vpc_id"), Some(&Value::Unknown));
    }

    #[test]
    fn numbers_and_sets_compare_semantically() {
        assert!(semantically_equal(
            &Value::Number(Number::Int(1)),
            &Value::Number(Number::Float(1.0))
        ));
        assert!(semantically_equal(
            &Value::Set(vec![s("a"), s("b")]),
            &Value::Set(vec![s("b"), s("a")])
        ));
        assert!(!semantically_equal(
            &Value::List(vec![s("a"), s("b")]),
            &Value::List(vec![s("b"), s("a")])
        ));
    }
}
