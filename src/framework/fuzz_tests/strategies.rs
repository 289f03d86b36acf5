//! Generators of the property tests: types, values of a type, numbers, byte
//! mutations, arbitrary msgpack/JSON trees and type descriptions.

use crate::framework::types::{Number, Type};
use crate::framework::value::{encode_json, Value, ValueError};
use proptest::collection::{btree_map, vec};
use proptest::prelude::*;
use proptest::sample::{select, Index};
use rmpv::Value as Mp;
use serde_json::{json, Value as Json};
use std::collections::BTreeMap;

pub(super) fn config(cases: u32) -> ProptestConfig {
    ProptestConfig {
        cases,
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

pub(super) fn fail(e: ValueError) -> TestCaseError {
    TestCaseError::fail(format!("unexpected error: {e}"))
}

// ---------------------------------------------------------------- strategies

/// Attribute names: mostly identifiers, sometimes any short string.
pub(super) fn attr_name() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => "[a-z_][a-z0-9_]{0,5}",
        1 => vec(any::<char>(), 0..4).prop_map(String::from_iter),
    ]
}

pub(super) fn primitive_type() -> impl Strategy<Value = Type> {
    select(vec![Type::String, Type::Number, Type::Bool, Type::Dynamic])
}

/// Random types nested at most `depth` collection levels deep.
pub(super) fn type_strategy(depth: u32) -> BoxedStrategy<Type> {
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
pub(super) fn decimal_text() -> impl Strategy<Value = String> {
    prop_oneof![
        6 => "[+-]?[0-9]{1,25}(\\.[0-9]{0,25})?([eE][+-]?[0-9]{1,3})?",
        2 => edge_exponent_text(),
        1 => "[+-]?0\\.0{0,30}[1-9]{1,3}",
        1 => "[1-9][0-9]{760,770}",
    ]
}

/// Mantissas with leading zeros and exponents at the ends of i64, where the
/// decimal exponent arithmetic can overflow.
pub(super) fn edge_exponent_text() -> impl Strategy<Value = String> {
    let exponent = prop_oneof![
        (0..4i64).prop_map(|d| i64::MIN + d),
        (0..4i64).prop_map(|d| i64::MAX - d),
    ];
    ("[+-]?(0|[1-9]?)\\.0{0,2}[1-9]{1,3}", exponent).prop_map(|(m, e)| format!("{m}e{e}"))
}

pub(super) fn number(json: bool) -> BoxedStrategy<Number> {
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
pub(super) fn json_text_is_exact(n: &Number) -> bool {
    let Ok(bytes) = encode_json(&Value::Number(n.clone()), &Type::Number) else {
        return false;
    };
    let text = String::from_utf8_lossy(&bytes);
    text.starts_with('"') || serde_json::from_str::<f64>(&text).ok() == text.parse().ok()
}

/// Equality of values that went through serde_json's float parsing: numbers
/// equal as f64 bit patterns when their representations differ (see
/// [`json_text_is_exact`]).
pub(super) fn same_up_to_ulps(a: &Value, b: &Value) -> bool {
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
pub(super) struct Gen {
    /// Unknown values (msgpack only).
    unknown: bool,
    /// JSON: no ±Inf, and only numbers serde_json reads back exactly.
    json: bool,
    /// How many `Dynamic` slots may nest inside each other with collection
    /// types; deeper ones get a primitive type.
    dynamic_depth: u8,
}

pub(super) const MSGPACK: Gen = Gen {
    unknown: true,
    json: false,
    dynamic_depth: 2,
};

pub(super) const JSON: Gen = Gen {
    unknown: false,
    json: true,
    dynamic_depth: 2,
};

/// Values of type `ty`, including null (and unknown when `g` allows).
pub(super) fn value_of(ty: &Type, g: Gen) -> BoxedStrategy<Value> {
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
pub(super) fn known_of(ty: &Type, g: Gen) -> BoxedStrategy<Value> {
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

pub(super) fn typed_value(g: Gen) -> impl Strategy<Value = (Type, Value)> {
    type_strategy(3).prop_flat_map(move |t| (Just(t.clone()), value_of(&t, g)))
}

/// One edit of an encoding.
#[derive(Clone, Debug)]
pub(super) enum Mutation {
    Flip(Index, u8),
    Set(Index, u8),
    Insert(Index, u8),
    Remove(Index),
    Truncate(Index),
    /// Copies a slice of the input to another place (repeats headers).
    Duplicate(Index, Index, Index),
}

impl Mutation {
    pub(super) fn apply(&self, b: &mut Vec<u8>) {
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
pub(super) fn mp_byte() -> impl Strategy<Value = u8> + Clone {
    prop_oneof![
        any::<u8>(),
        select(vec![
            0x00, 0x7f, 0x80, 0x81, 0x8f, 0x90, 0x91, 0x9f, 0xa0, 0xa1, 0xbf, 0xc0, 0xc1, 0xc2,
            0xc3, 0xc4, 0xc5, 0xc6, 0xc7, 0xc8, 0xc9, 0xca, 0xcb, 0xcf, 0xd3, 0xd4, 0xd8, 0xd9,
            0xda, 0xdb, 0xdc, 0xdd, 0xde, 0xdf, 0xe0, 0xff,
        ]),
    ]
}

pub(super) fn json_byte() -> impl Strategy<Value = u8> + Clone {
    prop_oneof![
        any::<u8>(),
        select(b"[]{}\",:0123456789-+.eE \\nulltruefalse\x00\xff".to_vec()),
    ]
}

pub(super) fn mutation(byte: impl Strategy<Value = u8> + Clone) -> impl Strategy<Value = Mutation> {
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
pub(super) fn arb_mp() -> impl Strategy<Value = Mp> {
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
pub(super) fn arb_json() -> impl Strategy<Value = Json> {
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
pub(super) fn type_json() -> impl Strategy<Value = Json> {
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
