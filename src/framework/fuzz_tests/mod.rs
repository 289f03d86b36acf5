//! Property-based tests of the protocol's value decoders (issue 13,
//! "Malformed protocol input"). Random types and values must round-trip
//! through both encodings; random, mutated and hostile msgpack, JSON and type
//! descriptions must decode to a value or to a [`ValueError`] with a message
//! (and a path when the fault is inside the value), never panic, overflow
//! the stack or allocate what a length header merely claims.
//!
//! Case counts are kept small enough for the whole file to run in a few
//! seconds in a debug build; no regression files are written (failures print
//! the minimized input, which belongs in a plain unit test below).

mod hostile;
mod strategies;

use super::diag::{Diagnostics, Severity};
use super::path::{AttributePath, PathStep};
use super::provider::RawValue;
use super::typed::{to_typed, Val};
use super::types::{Number, Type};
use super::value::{
    decode_json, decode_msgpack, encode_json, encode_msgpack, typed_json_to_value, Value,
    ValueError, MAX_DEPTH,
};
use proptest::collection::vec;
use proptest::prelude::*;
use proptest::sample::Index;
use rmpv::Value as Mp;
use serde_json::{json, Value as Json};
use std::collections::BTreeMap;
use strategies::*;

// ---------------------------------------------------------------- checks

/// What must hold for any decode result: an error has a message; a decoded
/// value is well-formed (it re-encodes in both encodings where they can
/// represent it, and decodes back to itself), and the typed view of it
/// does not panic. The same bytes through the provider's `RawValue::decode`
/// yield one error diagnostic with a path, or none.
fn check_decoded(bytes: &[u8], ty: &Type, json: bool) -> Result<(), TestCaseError> {
    let result = if json {
        decode_json(bytes, ty)
    } else {
        decode_msgpack(bytes, ty)
    };
    match &result {
        Err(e) => prop_assert!(!e.message.trim().is_empty(), "empty message: {e:?}"),
        Ok(v) => {
            let again = encode_msgpack(v, ty).map_err(fail)?;
            prop_assert_eq!(&decode_msgpack(&again, ty).map_err(fail)?, v);
            if json {
                let again = encode_json(v, ty).map_err(fail)?;
                let back = decode_json(&again, ty).map_err(fail)?;
                prop_assert!(same_up_to_ulps(&back, v), "{:?} != {:?}", back, v);
            }
            if let Err(e) = to_typed::<Json>(v, ty) {
                prop_assert!(!e.message.is_empty());
            }
        }
    }
    let raw = if json {
        RawValue::Json(bytes.to_vec())
    } else {
        RawValue::Msgpack(bytes.to_vec())
    };
    let mut diags = Diagnostics::new();
    let got = raw.decode(ty, "test", &mut diags);
    match result {
        Ok(v) => {
            prop_assert!(diags.0.is_empty());
            prop_assert_eq!(got, v);
        }
        Err(e) => {
            prop_assert_eq!(diags.0.len(), 1);
            let d = &diags.0[0];
            prop_assert_eq!(d.severity, Severity::Error);
            prop_assert!(!d.summary.is_empty() && d.detail.contains(&e.message));
            prop_assert_eq!(d.path.as_ref(), Some(&e.path));
            prop_assert_eq!(got, Value::Null);
        }
    }
    Ok(())
}

fn mp_bytes(v: &Mp) -> Vec<u8> {
    let mut out = Vec::new();
    rmpv::encode::write_value(&mut out, v).expect("writing to a Vec");
    out
}

/// Object values with their null attributes left out (the encoders treat a
/// missing attribute as null).
fn drop_null_attrs(v: &Value) -> Value {
    match v {
        Value::Object(m) => Value::Object(
            m.iter()
                .filter(|(_, x)| !matches!(x, Value::Null))
                .map(|(k, x)| (k.clone(), drop_null_attrs(x)))
                .collect(),
        ),
        Value::List(xs) => Value::List(xs.iter().map(drop_null_attrs).collect()),
        Value::Set(xs) => Value::Set(xs.iter().map(drop_null_attrs).collect()),
        Value::Tuple(xs) => Value::Tuple(xs.iter().map(drop_null_attrs).collect()),
        Value::Map(m) => Value::Map(
            m.iter()
                .map(|(k, x)| (k.clone(), drop_null_attrs(x)))
                .collect(),
        ),
        Value::Dynamic(b) => Value::Dynamic(Box::new((b.0.clone(), drop_null_attrs(&b.1)))),
        other => other.clone(),
    }
}

/// The value with each float replaced by the number its JSON text denotes.
fn floats_as_written(v: &Value) -> Value {
    let each = |xs: &[Value]| xs.iter().map(floats_as_written).collect();
    let each_in = |m: &BTreeMap<String, Value>| {
        m.iter()
            .map(|(k, x)| (k.clone(), floats_as_written(x)))
            .collect()
    };
    match v {
        Value::Number(Number::Float(f)) => match Number::from_f64(*f) {
            Number::Float(f) => {
                let text =
                    serde_json::Number::from_f64(f).map_or_else(String::new, |n| n.to_string());
                Value::Number(Number::parse(&text).unwrap_or(Number::Float(f)))
            }
            int => Value::Number(int),
        },
        Value::List(xs) => Value::List(each(xs)),
        Value::Set(xs) => Value::Set(each(xs)),
        Value::Tuple(xs) => Value::Tuple(each(xs)),
        Value::Map(m) => Value::Map(each_in(m)),
        Value::Object(m) => Value::Object(each_in(m)),
        Value::Dynamic(b) => Value::Dynamic(Box::new((b.0.clone(), floats_as_written(&b.1)))),
        other => other.clone(),
    }
}

/// A node of an encoded value, in a type-guided pre-order walk.
trait Tree: Sized {
    fn is_null_or_unknown(&self) -> bool;
    /// The inner value and its type, when `self` is a dynamic wrapper.
    fn dynamic_parts(&mut self) -> Option<(Type, &mut Self)>;
    /// Children with their path steps (arrays: indexes; maps: keys).
    fn children(&mut self, attrs: bool) -> Vec<(PathStep, &mut Self)>;
    /// A node that does not fit `ty` (in this encoding's decoder).
    fn wrong_for(ty: &Type) -> Self;
}

impl Tree for Mp {
    fn is_null_or_unknown(&self) -> bool {
        matches!(self, Mp::Nil | Mp::Ext(..))
    }

    fn dynamic_parts(&mut self) -> Option<(Type, &mut Self)> {
        match self {
            Mp::Array(parts) => match &mut parts[..] {
                [Mp::Binary(t), inner] => Some((Type::from_json_bytes(t).ok()?, inner)),
                _ => None,
            },
            _ => None,
        }
    }

    fn children(&mut self, attrs: bool) -> Vec<(PathStep, &mut Self)> {
        match self {
            Mp::Array(xs) => xs
                .iter_mut()
                .enumerate()
                .map(|(i, x)| (PathStep::Index(i as i64), x))
                .collect(),
            Mp::Map(kvs) => kvs
                .iter_mut()
                .map(|(k, x)| {
                    let k = k.as_str().unwrap_or_default().to_string();
                    let step = if attrs {
                        PathStep::Attr(k)
                    } else {
                        PathStep::Key(k)
                    };
                    (step, x)
                })
                .collect(),
            _ => vec![],
        }
    }

    fn wrong_for(ty: &Type) -> Self {
        match ty {
            Type::Bool => Mp::from(1),
            _ => Mp::Boolean(true),
        }
    }
}

impl Tree for Json {
    fn is_null_or_unknown(&self) -> bool {
        self.is_null()
    }

    fn dynamic_parts(&mut self) -> Option<(Type, &mut Self)> {
        let Json::Object(m) = self else { return None };
        let t = Type::from_json(m.get("type")?).ok()?;
        Some((t, m.get_mut("value")?))
    }

    fn children(&mut self, attrs: bool) -> Vec<(PathStep, &mut Self)> {
        match self {
            Json::Array(xs) => xs
                .iter_mut()
                .enumerate()
                .map(|(i, x)| (PathStep::Index(i as i64), x))
                .collect(),
            Json::Object(m) => m
                .iter_mut()
                .map(|(k, x)| {
                    let step = if attrs {
                        PathStep::Attr(k.clone())
                    } else {
                        PathStep::Key(k.clone())
                    };
                    (step, x)
                })
                .collect(),
            _ => vec![],
        }
    }

    /// The JSON decoder converts primitives leniently (a bool is a fine
    /// string), so only structure is wrong everywhere.
    fn wrong_for(ty: &Type) -> Self {
        match ty {
            Type::String | Type::Bool | Type::Number => json!([]),
            _ => json!(true),
        }
    }
}

/// Replaces the `target`-th known, non-null node (pre-order, not counting
/// dynamic wrappers) with one of the wrong kind; returns its path. With
/// `usize::MAX` it only counts the nodes, in `seen`.
fn corrupt<T: Tree>(
    node: &mut T,
    ty: &Type,
    target: usize,
    seen: &mut usize,
    path: &mut Vec<PathStep>,
) -> Option<AttributePath> {
    if node.is_null_or_unknown() {
        return None;
    }
    if let Type::Dynamic = ty {
        let (t, inner) = node.dynamic_parts()?;
        return corrupt(inner, &t, target, seen, path);
    }
    if *seen == target {
        *node = T::wrong_for(ty);
        return Some(AttributePath(path.clone()));
    }
    *seen += 1;
    let is_object = matches!(ty, Type::Object(_));
    for (i, (step, child)) in node.children(is_object).into_iter().enumerate() {
        let t = match (ty, &step) {
            (Type::List(t) | Type::Set(t) | Type::Map(t), _) => &**t,
            (Type::Tuple(ts), _) => &ts[i],
            (Type::Object(attrs), PathStep::Attr(k)) => &attrs[k],
            _ => continue,
        };
        path.push(step);
        let found = corrupt(child, t, target, seen, path);
        path.pop();
        if found.is_some() {
            return found;
        }
    }
    None
}

/// Corrupts one node of a valid encoding, chosen by `pick`, and checks that
/// decoding reports that node's path.
fn check_error_path<T: Tree>(
    mut tree: T,
    ty: &Type,
    pick: &Index,
    decode: impl Fn(&T) -> Result<Value, ValueError>,
) -> Result<(), TestCaseError> {
    let mut count = 0;
    corrupt(&mut tree, ty, usize::MAX, &mut count, &mut vec![]);
    if count == 0 {
        return Ok(());
    }
    let path = corrupt(&mut tree, ty, pick.index(count), &mut 0, &mut vec![])
        .expect("the node was counted");
    let err = decode(&tree).expect_err("a corrupted node must not decode");
    prop_assert_eq!(&err.path, &path, "{}", err);
    prop_assert!(err.message.contains("expected"), "{}", err);
    Ok(())
}

// ---------------------------------------------------------------- properties

proptest! {
    #![proptest_config(config(256))]

    /// encode_msgpack then decode_msgpack gives the value back (sets keep
    /// their order and duplicates; numbers compare numerically).
    #[test]
    fn msgpack_round_trips((ty, v) in typed_value(MSGPACK)) {
        let bytes = encode_msgpack(&v, &ty).map_err(fail)?;
        prop_assert_eq!(decode_msgpack(&bytes, &ty).map_err(fail)?, v.clone());
        // A missing attribute is a null one.
        prop_assert_eq!(encode_msgpack(&drop_null_attrs(&v), &ty).map_err(fail)?, bytes);
    }

    /// The same for JSON, for values it can hold (no unknowns, no ±Inf).
    /// JSON carries decimal text: a float comes back as the decimal it was
    /// written as, its shortest representation (`Float(0.1)` as `Big("0.1")`).
    #[test]
    fn json_round_trips((ty, v) in typed_value(JSON)) {
        let bytes = encode_json(&v, &ty).map_err(fail)?;
        prop_assert_eq!(decode_json(&bytes, &ty).map_err(fail)?, floats_as_written(&v));
        prop_assert_eq!(encode_json(&drop_null_attrs(&v), &ty).map_err(fail)?, bytes);
    }

    /// Unknown anywhere is a JSON encoding error that names where.
    #[test]
    fn json_refuses_unknowns((ty, v) in typed_value(MSGPACK)) {
        if !v.is_wholly_known() {
            let err = encode_json(&v, &ty).expect_err("unknown in JSON");
            prop_assert!(!err.message.is_empty());
            prop_assert!(v.get_path(&err.path).is_some(), "{}", err);
        }
    }

    /// Edited msgpack, decoded with its own type and with another one.
    #[test]
    fn mutated_msgpack_is_ok_or_an_error(
        (ty, v) in typed_value(MSGPACK),
        edits in vec(mutation(mp_byte()), 1..5),
        other in type_strategy(3),
    ) {
        let mut bytes = encode_msgpack(&v, &ty).map_err(fail)?;
        for m in &edits {
            m.apply(&mut bytes);
        }
        check_decoded(&bytes, &ty, false)?;
        check_decoded(&bytes, &other, false)?;
    }

    /// Edited JSON, decoded with its own type and with another one.
    #[test]
    fn mutated_json_is_ok_or_an_error(
        (ty, v) in typed_value(JSON),
        edits in vec(mutation(json_byte()), 1..5),
        other in type_strategy(3),
    ) {
        let mut bytes = encode_json(&v, &ty).map_err(fail)?;
        for m in &edits {
            m.apply(&mut bytes);
        }
        check_decoded(&bytes, &ty, true)?;
        check_decoded(&bytes, &other, true)?;
    }

    /// Arbitrary bytes as msgpack and as JSON.
    #[test]
    fn random_bytes_are_ok_or_an_error(
        bytes in vec(any::<u8>(), 0..48),
        ty in type_strategy(3),
    ) {
        check_decoded(&bytes, &ty, false)?;
        check_decoded(&bytes, &ty, true)?;
    }

    /// Well-formed msgpack and JSON of arbitrary shape against random types:
    /// reaches the type-guided walk far more often than random bytes.
    #[test]
    fn arbitrary_trees_are_ok_or_an_error(
        mp in arb_mp(),
        j in arb_json(),
        ty in type_strategy(3),
    ) {
        check_decoded(&mp_bytes(&mp), &ty, false)?;
        check_decoded(&serde_json::to_vec(&j).expect("JSON"), &ty, true)?;
        // Models' JSON (unknown sentinel, implied dynamic types).
        match typed_json_to_value(&j, &ty) {
            Ok(v) => {
                let bytes = encode_msgpack(&v, &ty).map_err(fail)?;
                prop_assert_eq!(decode_msgpack(&bytes, &ty).map_err(fail)?, v);
            }
            Err(e) => prop_assert!(!e.message.is_empty()),
        }
    }

    /// One wrong node inside a valid value: the error names its path.
    #[test]
    fn errors_inside_a_value_name_its_path(
        (ty, v) in typed_value(MSGPACK),
        (jty, jv) in typed_value(JSON),
        pick in any::<Index>(),
    ) {
        let bytes = encode_msgpack(&v, &ty).map_err(fail)?;
        let tree = rmpv::decode::read_value(&mut &bytes[..]).expect("valid msgpack");
        check_error_path(tree, &ty, &pick, |t| decode_msgpack(&mp_bytes(t), &ty))?;
        let bytes = encode_json(&jv, &jty).map_err(fail)?;
        let tree: Json = serde_json::from_slice(&bytes).expect("valid JSON");
        check_error_path(tree, &jty, &pick, |t| {
            decode_json(&serde_json::to_vec(t).expect("JSON"), &jty)
        })?;
    }

    /// A typed model over decoded values: Ok or an error, never a panic.
    #[test]
    fn typed_models_over_random_values(
        mp in arb_mp(),
        edits in vec(mutation(mp_byte()), 0..3),
    ) {
        #[derive(serde::Deserialize, Debug)]
        #[allow(dead_code)]
        struct Model {
            name: Val<String>,
            count: Option<i64>,
            tags: Val<BTreeMap<String, String>>,
            items: Vec<Item>,
        }
        #[derive(serde::Deserialize, Debug)]
        #[allow(dead_code)]
        struct Item {
            on: Val<bool>,
            size: Val<f64>,
        }
        let ty = Type::object([
            ("name", Type::String),
            ("count", Type::Number),
            ("tags", Type::map(Type::String)),
            ("items", Type::list(Type::object([("on", Type::Bool), ("size", Type::Number)]))),
        ]);
        let mut bytes = mp_bytes(&Mp::Map(vec![(Mp::from("items"), mp)]));
        for m in &edits {
            m.apply(&mut bytes);
        }
        if let Ok(v) = decode_msgpack(&bytes, &ty) {
            if let Err(e) = to_typed::<Model>(&v, &ty) {
                prop_assert!(!e.message.is_empty());
            }
        }
    }

    /// Type descriptions: valid ones survive to_json/from_json; random and
    /// mutated ones are a type or an error at the root with a message.
    #[test]
    fn type_descriptions_parse_or_fail(
        ty in type_strategy(4),
        j in type_json(),
        edits in vec(mutation(json_byte()), 0..4),
    ) {
        let bytes = ty.to_json_bytes();
        prop_assert_eq!(Type::from_json_bytes(&bytes).map_err(fail)?, ty.clone());
        prop_assert_eq!(Type::from_json(&ty.to_json()).map_err(fail)?, ty.clone());
        let mut edited = serde_json::to_vec(&j).expect("JSON");
        for m in &edits {
            m.apply(&mut edited);
        }
        for input in [serde_json::to_vec(&j).expect("JSON"), edited] {
            match Type::from_json_bytes(&input) {
                Ok(t) => {
                    let again = Type::from_json_bytes(&t.to_json_bytes()).map_err(fail)?;
                    prop_assert_eq!(again, t);
                }
                Err(e) => {
                    prop_assert!(!e.message.is_empty());
                    prop_assert!(e.path.is_empty());
                }
            }
        }
    }

    /// Number texts: parsed ones normalise to an equal number that msgpack
    /// carries exactly (JSON up to serde_json's float parsing); others are
    /// refused, never a panic.
    #[test]
    fn number_texts_parse_and_encode(
        text in prop_oneof![
            4 => decimal_text(),
            1 => "[-+0-9.eE ]{0,12}",
            1 => any::<String>(),
        ],
    ) {
        let Some(n) = Number::parse(&text) else {
            let err = decode_msgpack(&mp_bytes(&Mp::from(text.as_str())), &Type::Number);
            prop_assert!(err.is_err());
            return Ok(());
        };
        let canon = n.normalized();
        prop_assert!(canon.as_ref().is_some_and(|c| c.equals(&n)), "{:?} {:?}", n, canon);
        let v = Value::Number(n);
        let bytes = encode_msgpack(&v, &Type::Number).map_err(fail)?;
        prop_assert_eq!(decode_msgpack(&bytes, &Type::Number).map_err(fail)?, v.clone());
        let bytes = encode_json(&v, &Type::Number).map_err(fail)?;
        let back = decode_json(&bytes, &Type::Number).map_err(fail)?;
        prop_assert!(same_up_to_ulps(&back, &v), "{:?} != {:?}", back, v);
    }

    /// Attribute paths: any text parses; rendered paths parse back.
    #[test]
    fn attribute_paths_parse(
        text in any::<String>(),
        steps in vec(prop_oneof![
            "[a-z_][a-z0-9_]{0,5}".prop_map(PathStep::Attr),
            any::<String>().prop_map(PathStep::Key),
            any::<i64>().prop_map(PathStep::Index),
        ], 0..5),
    ) {
        let _ = AttributePath::parse(&text);
        let path = AttributePath(steps);
        prop_assert_eq!(AttributePath::parse(&path.to_string()), path);
    }
}
