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

use super::diag::{Diagnostics, Severity};
use super::path::{AttributePath, PathStep};
use super::provider::RawValue;
use super::typed::{to_typed, Val};
use super::types::{Number, Type};
use super::value::{
    decode_json, decode_msgpack, encode_json, encode_msgpack, typed_json_to_value, Value,
    ValueError, MAX_DEPTH,
};
use proptest::collection::{btree_map, vec};
use proptest::prelude::*;
use proptest::sample::{select, Index};
use rmpv::Value as Mp;
use serde_json::{json, Value as Json};
use std::collections::BTreeMap;

fn config(cases: u32) -> ProptestConfig {
    ProptestConfig {
        cases,
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

fn fail(e: ValueError) -> TestCaseError {
    TestCaseError::fail(format!("unexpected error: {e}"))
}

// ---------------------------------------------------------------- strategies

/// Attribute names: mostly identifiers, sometimes any short string.
fn attr_name() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => "[a-z_][a-z0-9_]{0,5}",
        1 => vec(any::<char>(), 0..4).prop_map(String::from_iter),
    ]
}

fn primitive_type() -> impl Strategy<Value = Type> {
    select(vec![Type::String, Type::Number, Type::Bool, Type::Dynamic])
}

/// Random types nested at most `depth` collection levels deep.
fn type_strategy(depth: u32) -> BoxedStrategy<Type> {
    primitive_type()
        .prop_recursive(depth, 24, 4, |inner| {
            prop_oneof![
                inner.clone().prop_map(Type::list),
                inner.clone().prop_map(Type::set),
                inner.clone().prop_map(Type::map),
                vec(inner.clone(), 0..4).prop_map(Type::Tuple),
                btree_map(attr_name(), inner, 0..4).prop_map(Type::Object),
            ]
        })
        .boxed()
}

/// Decimal texts, including the awkward ones: long digit runs around the
/// 767-digit f64 limit and exponents at the edge of i64.
fn decimal_text() -> impl Strategy<Value = String> {
    prop_oneof![
        6 => "[+-]?[0-9]{1,25}(\\.[0-9]{0,25})?([eE][+-]?[0-9]{1,3})?",
        2 => edge_exponent_text(),
        1 => "[+-]?0\\.0{0,30}[1-9]{1,3}",
        1 => "[1-9][0-9]{760,770}",
    ]
}

/// Mantissas with leading zeros and exponents at the ends of i64, where the
/// decimal exponent arithmetic can overflow.
fn edge_exponent_text() -> impl Strategy<Value = String> {
    let exponent = prop_oneof![
        (0..4i64).prop_map(|d| i64::MIN + d),
        (0..4i64).prop_map(|d| i64::MAX - d),
    ];
    ("[+-]?(0|[1-9]?)\\.0{0,2}[1-9]{1,3}", exponent).prop_map(|(m, e)| format!("{m}e{e}"))
}

fn number(json: bool) -> BoxedStrategy<Number> {
    use prop::num::f64::{NEGATIVE, NORMAL, POSITIVE, SUBNORMAL, ZERO};
    let finite = POSITIVE | NEGATIVE | NORMAL | SUBNORMAL | ZERO;
    let finite = prop_oneof![
        any::<i64>().prop_map(Number::Int),
        finite.prop_map(Number::Float),
        decimal_text()
            .prop_filter("a number", |t| Number::parse(t).is_some())
            .prop_map(Number::Big),
    ];
    if json {
        return finite
            .prop_filter("read back exactly by serde_json", json_text_is_exact)
            .boxed();
    }
    let infinite = select(vec![f64::INFINITY, f64::NEG_INFINITY]).prop_map(Number::Float);
    prop_oneof![12 => finite, 1 => infinite].boxed()
}

/// Whether `decode_json` reads the number back as written. Without serde_json's
/// `float_roundtrip` feature (now enabled in Cargo.toml) about a fifth of random
/// floats' shortest texts came back an ulp or two off (`6e-106` as
/// 5.999999999999999e-106; `1.5e-30` too); this keeps the generators honest
/// should the feature go.
fn json_text_is_exact(n: &Number) -> bool {
    let Ok(bytes) = encode_json(&Value::Number(n.clone()), &Type::Number) else {
        return false;
    };
    let text = String::from_utf8_lossy(&bytes);
    text.starts_with('"') || serde_json::from_str::<f64>(&text).ok() == text.parse().ok()
}

/// Equality of values that went through serde_json's float parsing: numbers
/// equal as f64 bit patterns when their representations differ (see
/// [`json_text_is_exact`]).
fn same_up_to_ulps(a: &Value, b: &Value) -> bool {
    let all = |xs: &[Value], ys: &[Value]| {
        xs.len() == ys.len() && xs.iter().zip(ys).all(|(x, y)| same_up_to_ulps(x, y))
    };
    let all_in = |m: &BTreeMap<String, Value>, n: &BTreeMap<String, Value>| {
        m.len() == n.len()
            && m.iter()
                .zip(n)
                .all(|((k, x), (l, y))| k == l && same_up_to_ulps(x, y))
    };
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => {
            let (f, g) = (x.as_f64(), y.as_f64());
            x == y
                || (f.is_finite()
                    && g.is_finite()
                    && f.is_sign_negative() == g.is_sign_negative()
                    && f.to_bits() == g.to_bits())
        }
        (Value::List(xs), Value::List(ys))
        | (Value::Set(xs), Value::Set(ys))
        | (Value::Tuple(xs), Value::Tuple(ys)) => all(xs, ys),
        (Value::Map(m), Value::Map(n)) | (Value::Object(m), Value::Object(n)) => all_in(m, n),
        (Value::Dynamic(p), Value::Dynamic(q)) => p.0 == q.0 && same_up_to_ulps(&p.1, &q.1),
        _ => a == b,
    }
}

/// What a generated value may contain.
#[derive(Clone, Copy, Debug)]
struct Gen {
    /// Unknown values (msgpack only).
    unknown: bool,
    /// JSON: no ±Inf, and only numbers serde_json reads back exactly.
    json: bool,
    /// How many `Dynamic` slots may nest inside each other with collection
    /// types; deeper ones get a primitive type.
    dynamic_depth: u8,
}

const MSGPACK: Gen = Gen {
    unknown: true,
    json: false,
    dynamic_depth: 2,
};

const JSON: Gen = Gen {
    unknown: false,
    json: true,
    dynamic_depth: 2,
};

/// Values of type `ty`, including null (and unknown when `g` allows).
fn value_of(ty: &Type, g: Gen) -> BoxedStrategy<Value> {
    let absent = if g.unknown {
        select(vec![Value::Null, Value::Unknown]).boxed()
    } else {
        Just(Value::Null).boxed()
    };
    prop_oneof![1 => absent, 8 => known_of(ty, g)].boxed()
}

/// Non-null values of type `ty` (their parts may be null or unknown).
/// Objects hold every attribute of their type, as decoded objects do; a
/// `Dynamic` slot holds a `Value::Dynamic` with a random concrete type.
fn known_of(ty: &Type, g: Gen) -> BoxedStrategy<Value> {
    let key = || vec(any::<char>(), 0..5).prop_map(String::from_iter);
    match ty {
        Type::String => any::<String>().prop_map(Value::String).boxed(),
        Type::Bool => any::<bool>().prop_map(Value::Bool).boxed(),
        Type::Number => number(g.json).prop_map(Value::Number).boxed(),
        Type::Dynamic => {
            let types = if g.dynamic_depth == 0 {
                primitive_type().boxed()
            } else {
                type_strategy(2)
            };
            let inner = Gen {
                dynamic_depth: g.dynamic_depth.saturating_sub(1),
                ..g
            };
            types
                .prop_flat_map(move |t| {
                    value_of(&t, inner).prop_map(move |v| Value::Dynamic(Box::new((t.clone(), v))))
                })
                .boxed()
        }
        Type::List(t) => vec(value_of(t, g), 0..4).prop_map(Value::List).boxed(),
        Type::Set(t) => vec(value_of(t, g), 0..4).prop_map(Value::Set).boxed(),
        Type::Map(t) => btree_map(key(), value_of(t, g), 0..4)
            .prop_map(Value::Map)
            .boxed(),
        Type::Tuple(ts) => ts
            .iter()
            .map(|t| value_of(t, g))
            .collect::<Vec<_>>()
            .prop_map(Value::Tuple)
            .boxed(),
        Type::Object(attrs) => attrs
            .iter()
            .map(|(k, t)| (Just(k.clone()), value_of(t, g)))
            .collect::<Vec<_>>()
            .prop_map(|kv| Value::Object(kv.into_iter().collect()))
            .boxed(),
    }
}

fn typed_value(g: Gen) -> impl Strategy<Value = (Type, Value)> {
    type_strategy(3).prop_flat_map(move |t| (Just(t.clone()), value_of(&t, g)))
}

/// One edit of an encoding.
#[derive(Clone, Debug)]
enum Mutation {
    Flip(Index, u8),
    Set(Index, u8),
    Insert(Index, u8),
    Remove(Index),
    Truncate(Index),
    /// Copies a slice of the input to another place (repeats headers).
    Duplicate(Index, Index, Index),
}

impl Mutation {
    fn apply(&self, b: &mut Vec<u8>) {
        let at = |i: &Index, len: usize| if len == 0 { 0 } else { i.index(len) };
        match self {
            Mutation::Flip(i, bit) if !b.is_empty() => {
                let i = at(i, b.len());
                b[i] ^= 1 << (bit % 8);
            }
            Mutation::Set(i, x) if !b.is_empty() => {
                let i = at(i, b.len());
                b[i] = *x;
            }
            Mutation::Insert(i, x) => {
                let i = at(i, b.len() + 1);
                b.insert(i, *x);
            }
            Mutation::Remove(i) if !b.is_empty() => {
                let i = at(i, b.len());
                b.remove(i);
            }
            Mutation::Truncate(i) => b.truncate(at(i, b.len() + 1)),
            Mutation::Duplicate(from, len, to) if !b.is_empty() => {
                let from = at(from, b.len());
                let end = from + at(len, (b.len() - from).min(16) + 1);
                let piece = b[from..end].to_vec();
                let to = at(to, b.len() + 1);
                b.splice(to..to, piece);
            }
            _ => {}
        }
    }
}

/// Msgpack markers that claim lengths or change structure, mixed with
/// arbitrary bytes.
fn mp_byte() -> impl Strategy<Value = u8> + Clone {
    prop_oneof![
        any::<u8>(),
        select(vec![
            0x00, 0x7f, 0x80, 0x81, 0x8f, 0x90, 0x91, 0x9f, 0xa0, 0xa1, 0xbf, 0xc0, 0xc1, 0xc2,
            0xc3, 0xc4, 0xc5, 0xc6, 0xc7, 0xc8, 0xc9, 0xca, 0xcb, 0xcf, 0xd3, 0xd4, 0xd8, 0xd9,
            0xda, 0xdb, 0xdc, 0xdd, 0xde, 0xdf, 0xe0, 0xff,
        ]),
    ]
}

fn json_byte() -> impl Strategy<Value = u8> + Clone {
    prop_oneof![
        any::<u8>(),
        select(b"[]{}\",:0123456789-+.eE \\nulltruefalse\x00\xff".to_vec()),
    ]
}

fn mutation(byte: impl Strategy<Value = u8> + Clone) -> impl Strategy<Value = Mutation> {
    prop_oneof![
        (any::<Index>(), any::<u8>()).prop_map(|(i, b)| Mutation::Flip(i, b)),
        (any::<Index>(), byte.clone()).prop_map(|(i, b)| Mutation::Set(i, b)),
        (any::<Index>(), byte).prop_map(|(i, b)| Mutation::Insert(i, b)),
        any::<Index>().prop_map(Mutation::Remove),
        any::<Index>().prop_map(Mutation::Truncate),
        (any::<Index>(), any::<Index>(), any::<Index>())
            .prop_map(|(a, b, c)| Mutation::Duplicate(a, b, c)),
    ]
}

/// Arbitrary msgpack trees (not shaped by any type): every kind of node,
/// numbers as text, dynamic-looking `[type bytes, value]` pairs.
fn arb_mp() -> impl Strategy<Value = Mp> {
    let leaf = prop_oneof![
        Just(Mp::Nil),
        any::<bool>().prop_map(Mp::Boolean),
        any::<i64>().prop_map(Mp::from),
        any::<u64>().prop_map(Mp::from),
        any::<f32>().prop_map(Mp::F32),
        any::<f64>().prop_map(Mp::F64),
        any::<String>().prop_map(Mp::from),
        decimal_text().prop_map(Mp::from),
        vec(any::<u8>(), 0..6).prop_map(Mp::Binary),
        (any::<i8>(), vec(any::<u8>(), 0..4)).prop_map(|(t, d)| Mp::Ext(t, d)),
        type_strategy(2).prop_map(|t| Mp::Binary(t.to_json_bytes())),
    ];
    leaf.prop_recursive(4, 32, 4, |inner| {
        let key = prop_oneof![3 => attr_name().prop_map(Mp::from), 1 => inner.clone()];
        prop_oneof![
            vec(inner.clone(), 0..4).prop_map(Mp::Array),
            vec((key, inner.clone()), 0..4).prop_map(Mp::Map),
            (type_strategy(2), inner)
                .prop_map(|(t, v)| Mp::Array(vec![Mp::Binary(t.to_json_bytes()), v])),
        ]
    })
}

/// Arbitrary JSON, with the dynamic `{"type","value"}` shape and the typed
/// unknown sentinel mixed in.
fn arb_json() -> impl Strategy<Value = Json> {
    let leaf = prop_oneof![
        Just(Json::Null),
        any::<bool>().prop_map(Json::Bool),
        any::<i64>().prop_map(Json::from),
        any::<u64>().prop_map(Json::from),
        any::<f64>().prop_map(Json::from),
        any::<String>().prop_map(Json::String),
        decimal_text().prop_map(Json::String),
        select(vec!["true", "false", "1", ""]).prop_map(Json::from),
        Just(json!({"\u{0}drpair_unknown": true})),
    ];
    leaf.prop_recursive(4, 32, 4, |inner| {
        prop_oneof![
            vec(inner.clone(), 0..4).prop_map(Json::Array),
            btree_map(attr_name(), inner.clone(), 0..4)
                .prop_map(|m| Json::Object(m.into_iter().collect())),
            (type_strategy(2), inner).prop_map(|(t, v)| json!({"type": t.to_json(), "value": v})),
        ]
    })
}

/// JSON shaped like type descriptions, valid or nearly so.
fn type_json() -> impl Strategy<Value = Json> {
    fn kinds() -> impl Strategy<Value = &'static str> + Clone {
        select(vec![
            "string", "number", "bool", "dynamic", "list", "set", "map", "tuple", "object",
            "capsule", "", "String",
        ])
    }
    let leaf = prop_oneof![
        6 => kinds().prop_map(Json::from),
        1 => Just(Json::Null),
        1 => any::<i64>().prop_map(Json::from),
        1 => any::<bool>().prop_map(Json::Bool),
        1 => attr_name().prop_map(Json::String),
    ];
    leaf.prop_recursive(5, 48, 4, |inner| {
        let attrs = || {
            btree_map(attr_name(), inner.clone(), 0..4)
                .prop_map(|m| Json::Object(m.into_iter().collect()))
        };
        prop_oneof![
            (kinds(), inner.clone()).prop_map(|(k, t)| json!([k, t])),
            vec(inner.clone(), 0..4).prop_map(|ts| json!(["tuple", ts])),
            attrs().prop_map(|m| json!(["object", m])),
            (attrs(), vec(attr_name(), 0..3)).prop_map(|(m, o)| json!(["object", m, o])),
            vec(inner.clone(), 0..4).prop_map(Json::Array),
            btree_map(attr_name(), inner, 0..3).prop_map(|m| Json::Object(m.into_iter().collect())),
        ]
    })
}

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

// ---------------------------------------------------------------- hostile inputs

/// Runs `f` on a thread with a `kib` KiB stack: a decoder that recursed
/// without bound would overflow it (and abort the test binary).
///
/// The provider decodes on tokio workers, whose stacks are 2 MiB. Measured
/// in a debug build, refusing the deep msgpack inputs below takes about
/// 768 KiB (rmpv recurses ~128 levels with unoptimised frames of a few KiB
/// before its depth limit stops it), the deep JSON 384 KiB and the deep type
/// descriptions 256 KiB; 100 000 levels of unbounded recursion would need
/// hundreds of MiB.
fn on_small_stack<T: Send + 'static>(kib: usize, f: impl FnOnce() -> T + Send + 'static) -> T {
    std::thread::Builder::new()
        .stack_size(kib * 1024)
        .spawn(f)
        .expect("spawn")
        .join()
        .expect("the decoder panicked")
}

const STACK_KIB: usize = 1536;

/// Inputs whose headers claim up to 4 GiB (or 4 Gi elements) with only a
/// few bytes behind them, and length-claiming markers nested a long way.
fn claimed_length_inputs() -> Vec<Vec<u8>> {
    let ff = [0xff; 4];
    let mut inputs = vec![];
    for marker in [0xdd, 0xdf, 0xdb, 0xc6] {
        // array32, map32, str32, bin32: 0xFFFFFFFF, then a little body.
        inputs.push([&[marker][..], &ff, &[0xc0, 0xa1, b'a', 0x00]].concat());
    }
    inputs.extend([
        vec![0xdc, 0xff, 0xff, 0xc0],                   // array16
        vec![0xde, 0xff, 0xff, 0xa1, b'a'],             // map16
        vec![0xda, 0xff, 0xff, b'a'],                   // str16
        vec![0xc5, 0xff, 0xff, b'a'],                   // bin16
        vec![0xd9, 0xff, b'a'],                         // str8
        vec![0xc9, 0xff, 0xff, 0xff, 0xff, 0x0c, 0x82], // ext32, type 12
        vec![0xc8, 0xff, 0xff, 0x00, 0x01],             // ext16
        vec![0xc7, 0xff, 0x0c],                         // ext8
        vec![0xd8, 0x00, 0x01],                         // fixext16, short
        vec![0x92, 0xc6, 0xff, 0xff, 0xff, 0xff, b'"'], // dynamic, bin32 type
        vec![0x92, 0xc4, 0x08, b'"', b's'],             // dynamic, short type
    ]);
    // Every level claims 4 Gi elements.
    inputs.push([0xdd, 0xff, 0xff, 0xff, 0xff].repeat(10_000));
    inputs.push([0xdf, 0xff, 0xff, 0xff, 0xff, 0xa1, b'a'].repeat(10_000));
    inputs
}

/// Nesting far beyond any limit, in every form that recurses.
fn deep_msgpack_inputs() -> Vec<Vec<u8>> {
    const N: usize = 100_000;
    let dynamic = [&[0x92, 0xc4, 0x09][..], b"\"dynamic\""].concat();
    vec![
        vec![0x91; N],
        [0x81, 0xa1, b'a'].repeat(N),
        [0xdc, 0x00, 0x01].repeat(N),
        dynamic.repeat(N),
        [0x91; 200].iter().copied().chain([0xc0]).collect(),
    ]
}

fn deep_types() -> Vec<Type> {
    let mut list = Type::Dynamic;
    for _ in 0..60 {
        list = Type::list(list);
    }
    vec![
        Type::String,
        Type::Dynamic,
        Type::list(Type::Dynamic),
        Type::map(Type::Dynamic),
        Type::object([("a", Type::Dynamic)]),
        list,
    ]
}

#[test]
fn claimed_lengths_fail_fast_without_allocating() {
    on_small_stack(STACK_KIB, || {
        for bytes in claimed_length_inputs() {
            for ty in deep_types() {
                let err = decode_msgpack(&bytes, &ty).expect_err("truncated input");
                assert!(err.message.starts_with("invalid msgpack"), "{err}");
            }
        }
    });
}

#[test]
fn deep_nesting_is_refused_on_a_small_stack() {
    on_small_stack(STACK_KIB, || {
        for bytes in deep_msgpack_inputs() {
            for ty in deep_types() {
                let err = decode_msgpack(&bytes, &ty).expect_err("too deep");
                assert!(!err.message.is_empty());
            }
        }
        const N: usize = 100_000;
        let json = [
            "[".repeat(N),
            "{\"a\":".repeat(N),
            "{\"type\":\"dynamic\",\"value\":".repeat(N),
            format!("{}1{}", "[".repeat(N), "]".repeat(N)),
        ];
        for text in &json {
            for ty in deep_types() {
                let err = decode_json(text.as_bytes(), &ty).expect_err("too deep");
                assert!(err.message.contains("invalid JSON"), "{err}");
            }
        }
        let types = [
            format!("{}\"string\"{}", "[\"list\",".repeat(N), "]".repeat(N)),
            "[\"tuple\",[".repeat(N),
            "[\"object\",{\"a\":".repeat(N),
            // Within serde_json's limit, beyond the type parser's own.
            format!("{}\"string\"{}", "[\"map\",".repeat(100), "]".repeat(100)),
        ];
        for text in &types {
            let err = Type::from_json_bytes(text.as_bytes()).expect_err("too deep");
            assert!(!err.message.is_empty());
            let dynamic = mp_bytes(&Mp::Array(vec![Mp::Binary(text.clone().into()), Mp::Nil]));
            assert!(decode_msgpack(&dynamic, &Type::Dynamic).is_err());
        }
    });
}

/// Models' JSON is built in memory, with no parser limit: the walk itself
/// refuses it past MAX_DEPTH. (Not wire input, and a debug build needs about
/// 1.5 MiB of stack to walk MAX_DEPTH levels of it, hence the larger stack.)
#[test]
fn typed_json_deeper_than_max_depth_is_refused() {
    on_small_stack(4096, || {
        let (mut j, mut ty) = (json!("x"), Type::String);
        for _ in 0..MAX_DEPTH + 10 {
            j = json!([j]);
            ty = Type::list(ty);
        }
        for ty in [Type::Dynamic, ty] {
            let err = typed_json_to_value(&j, &ty).expect_err("too deep");
            assert!(err.message.contains("too deeply"), "{err}");
        }
    });
}

/// Values nested as deep as the decoders accept in practice round-trip.
/// (rmpv counts two depth units per msgpack level and serde_json stops at
/// 128 levels, so both decoders refuse well before MAX_DEPTH.)
#[test]
fn moderately_deep_values_round_trip() {
    on_small_stack(STACK_KIB, || {
        let (mut ty, mut v) = (Type::String, Value::from("x"));
        for depth in 1..=100 {
            ty = Type::list(ty);
            v = Value::List(vec![v]);
            if depth % 25 == 0 {
                let bytes = encode_msgpack(&v, &ty).unwrap();
                assert_eq!(decode_msgpack(&bytes, &ty).unwrap(), v, "{depth}");
                let bytes = encode_json(&v, &ty).unwrap();
                assert_eq!(decode_json(&bytes, &ty).unwrap(), v, "{depth}");
            }
        }
    });
}

/// The peak virtual memory of this process, in KiB (Linux only).
fn vm_peak_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmPeak:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

const ALLOC_CHILD: &str = "DRPAIR_FUZZ_ALLOC_CHILD";

/// Proves that no claimed length is allocated: runs the hostile inputs in a
/// fresh copy of this test binary (alone, so no other test moves the
/// numbers) and checks that its peak virtual memory, which any attempted
/// multi-GiB allocation would raise even if never touched, stays flat. A
/// counting global allocator would do the same but cannot live in the lib.
#[test]
fn claimed_lengths_do_not_raise_peak_memory() {
    if std::env::var_os(ALLOC_CHILD).is_some() {
        let before = vm_peak_kib().expect("VmPeak");
        for bytes in claimed_length_inputs() {
            for ty in deep_types() {
                let _ = decode_msgpack(&bytes, &ty);
            }
        }
        let after = vm_peak_kib().expect("VmPeak");
        // The measurement itself works: an untouched 2 GiB reservation
        // shows up (skipped if the system refuses it).
        let mut probe: Vec<u8> = Vec::new();
        let control = probe.try_reserve_exact(2 << 30).is_ok();
        let controlled = vm_peak_kib().expect("VmPeak");
        drop(probe);
        println!(
            "ALLOC_CHILD_RESULT {} {} {}",
            after - before,
            control,
            controlled - after
        );
        return;
    }
    if vm_peak_kib().is_none() {
        return; // not Linux
    }
    let name = module_path!().split_once("::").map_or("", |(_, rest)| rest);
    let out = std::process::Command::new(std::env::current_exe().expect("test binary"))
        .args(["--exact", "--nocapture", "--test-threads=1"])
        .arg(format!("{name}::claimed_lengths_do_not_raise_peak_memory"))
        .env(ALLOC_CHILD, "1")
        .output()
        .expect("run the child test");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let result = stdout
        .lines()
        .find_map(|l| l.split_once("ALLOC_CHILD_RESULT ").map(|(_, r)| r))
        .unwrap_or_else(|| panic!("the child did not report: {stdout}"));
    let fields: Vec<&str> = result.split(' ').collect();
    let grew_kib: u64 = fields[0].parse().expect("KiB");
    assert!(grew_kib < 256 * 1024, "peak memory grew by {grew_kib} KiB");
    if fields[1] == "true" {
        let control_kib: u64 = fields[2].parse().expect("KiB");
        assert!(control_kib >= 1 << 20, "VmPeak missed a 2 GiB reservation");
    }
}

/// Found by `number_texts_parse_and_encode`: this exponent decoded, and
/// re-encoding it overflowed `exp - 1` (a panic in debug builds).
#[test]
fn exponent_at_the_end_of_i64_is_refused_not_overflowed() {
    for text in [".1e-9223372036854775808", "0.01e-9223372036854775807"] {
        assert_eq!(Number::parse(text), None, "{text}");
        let err = decode_msgpack(&mp_bytes(&Mp::from(text)), &Type::Number).unwrap_err();
        assert!(err.message.contains("invalid number"), "{err}");
        let v = Value::Number(Number::Big(text.to_string()));
        assert!(encode_msgpack(&v, &Type::Number).is_err());
    }
    // One step inside the range is still a (big) number.
    let n = Number::parse("1e-9223372036854775808").expect("a number");
    assert!(n.normalized().is_some_and(|c| c.equals(&n)));
}

/// A wide object type whose elements are all `{}`: each element is a byte
/// or two, each decoded element as many nulls as the type has attributes.
fn wide_object(attrs: usize) -> Type {
    Type::Object(
        (0..attrs)
            .map(|i| (format!("attribute_{i}"), Type::Bool))
            .collect(),
    )
}

/// Found by reasoning on `fill_attrs` and confirmed by measurement (16 KB
/// took 1.8 s and 280 MB; 1 MB would take terabytes): filling in missing
/// attributes grew the output with the square of the input. Now bounded by
/// the input's length, with an error at the element where it ran out.
#[test]
fn missing_attributes_cannot_multiply_the_input() {
    let elem = wide_object(4096);
    let list = Type::list(elem.clone());
    let empties = || Mp::Array(vec![Mp::Map(vec![]); 100_000]);
    let dynamic = Mp::Array(vec![Mp::Binary(list.to_json_bytes()), empties()]);
    let json = format!(
        "{{\"type\":{},\"value\":[{}{{}}]}}",
        String::from_utf8(list.to_json_bytes()).expect("UTF-8"),
        "{},".repeat(99_999)
    );
    let cases = [
        decode_msgpack(&mp_bytes(&dynamic), &Type::Dynamic),
        decode_json(json.as_bytes(), &Type::Dynamic),
        // A plain schema type: 300 KB of `{}` against 200 attributes.
        decode_msgpack(
            &mp_bytes(&Mp::Array(vec![Mp::Map(vec![]); 300_000])),
            &Type::list(wide_object(200)),
        ),
    ];
    for result in cases {
        let err = result.expect_err("too many nulls to fill in");
        assert!(err.message.contains("missing attributes"), "{err}");
        assert!(matches!(err.path.steps(), [PathStep::Index(_)]), "{err}");
    }
    // Ordinary omissions still decode: `{}` for every attribute of a wide
    // object, and a few thousand partial elements.
    let v = decode_json(b"{}", &elem).expect("one empty object");
    assert_eq!(v.get_attr("attribute_4095"), Some(&Value::Null));
    let partial = Mp::Array(vec![Mp::Map(vec![(Mp::from("a"), Mp::Nil)]); 5_000]);
    let ty = Type::list(Type::object([("a", Type::Bool), ("b", Type::Bool)]));
    assert!(decode_msgpack(&mp_bytes(&partial), &ty).is_ok());
}
