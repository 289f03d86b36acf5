//! The bridge between dynamic values and plain serde models: resources
//! declare structs with `Val<T>` for attributes that may be null or unknown
//! (`Option<T>` for ones that may only be null, plain `T` for ones that are
//! always set) and never see a [`Value`].

use super::path::PathStep;
use super::types::Type;
use super::value::{typed_json_to_value, Number, Value, ValueError};
use serde::de::{self, DeserializeOwned, DeserializeSeed, IntoDeserializer, Visitor};
use serde::ser::SerializeMap;
use serde::{forward_to_deserialize_any, Deserialize, Deserializer, Serialize, Serializer};
use serde_json::Value as Json;
use std::collections::BTreeMap;
use std::fmt;
use std::marker::PhantomData;

/// The JSON stand-in for an unknown value: `{"\u0000drpair_unknown": true}`.
const UNKNOWN_KEY: &str = "\u{0}drpair_unknown";
/// The newtype name `Val<T>` asks for, so our deserializer can tell it
/// null, unknown and known apart.
const VAL_MARKER: &str = "\u{0}drpair::Val";

pub(crate) fn is_unknown_sentinel(j: &Json) -> bool {
    matches!(j, Json::Object(m) if m.len() == 1 && m.get(UNKNOWN_KEY) == Some(&Json::Bool(true)))
}

fn unknown_sentinel() -> Json {
    let mut m = serde_json::Map::new();
    m.insert(UNKNOWN_KEY.to_string(), Json::Bool(true));
    Json::Object(m)
}

/// A tri-state attribute value for typed models.
#[derive(Clone, Debug, PartialEq, Default)]
pub enum Val<T> {
    #[default]
    Null,
    Unknown,
    Known(T),
}

impl<T> Val<T> {
    pub fn known(&self) -> Option<&T> {
        match self {
            Val::Known(t) => Some(t),
            _ => None,
        }
    }

    pub fn into_known(self) -> Option<T> {
        match self {
            Val::Known(t) => Some(t),
            _ => None,
        }
    }

    /// `Known` for Some, `Null` for None.
    pub fn from_option(o: Option<T>) -> Self {
        o.map_or(Val::Null, Val::Known)
    }

    pub fn is_null(&self) -> bool {
        matches!(self, Val::Null)
    }

    pub fn is_unknown(&self) -> bool {
        matches!(self, Val::Unknown)
    }

    pub fn is_known(&self) -> bool {
        matches!(self, Val::Known(_))
    }

    pub fn as_ref(&self) -> Val<&T> {
        match self {
            Val::Null => Val::Null,
            Val::Unknown => Val::Unknown,
            Val::Known(t) => Val::Known(t),
        }
    }

    pub fn map<U>(self, f: impl FnOnce(T) -> U) -> Val<U> {
        match self {
            Val::Null => Val::Null,
            Val::Unknown => Val::Unknown,
            Val::Known(t) => Val::Known(f(t)),
        }
    }

    /// The known value, or `default` when null or unknown.
    pub fn unwrap_or(self, default: T) -> T {
        self.into_known().unwrap_or(default)
    }

    /// `self` when known, else `other`.
    pub fn or(self, other: Val<T>) -> Val<T> {
        if self.is_known() {
            self
        } else {
            other
        }
    }
}

impl<T: Default> Val<T> {
    pub fn unwrap_or_default(self) -> T {
        self.into_known().unwrap_or_default()
    }
}

impl<T> From<T> for Val<T> {
    fn from(t: T) -> Self {
        Val::Known(t)
    }
}

impl<T: Serialize> Serialize for Val<T> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Val::Null => s.serialize_none(),
            Val::Unknown => {
                let mut m = s.serialize_map(Some(1))?;
                m.serialize_entry(UNKNOWN_KEY, &true)?;
                m.end()
            }
            Val::Known(t) => t.serialize(s),
        }
    }
}

impl<'de, T: DeserializeOwned> Deserialize<'de> for Val<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_newtype_struct(VAL_MARKER, ValVisitor(PhantomData))
    }
}

struct ValVisitor<T>(PhantomData<T>);

impl<'de, T: DeserializeOwned> Visitor<'de> for ValVisitor<T> {
    type Value = Val<T>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a value, null or unknown")
    }

    fn visit_none<E: de::Error>(self) -> Result<Val<T>, E> {
        Ok(Val::Null)
    }

    fn visit_unit<E: de::Error>(self) -> Result<Val<T>, E> {
        Ok(Val::Null)
    }

    /// From our own deserializer: a known value, path tracking intact.
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Val<T>, D::Error> {
        T::deserialize(d).map(Val::Known)
    }

    /// From any other deserializer (e.g. serde_json): go through JSON.
    fn visit_newtype_struct<D: Deserializer<'de>>(self, d: D) -> Result<Val<T>, D::Error> {
        let j = Json::deserialize(d)?;
        if j.is_null() {
            Ok(Val::Null)
        } else if is_unknown_sentinel(&j) {
            Ok(Val::Unknown)
        } else {
            T::deserialize(j).map(Val::Known).map_err(de::Error::custom)
        }
    }
}

fn has_unknown_elements(v: &Value) -> bool {
    match v {
        Value::List(xs) | Value::Set(xs) | Value::Tuple(xs) => xs.iter().any(Value::is_unknown),
        Value::Map(m) => m.values().any(Value::is_unknown),
        _ => false,
    }
}

/// Decodes a value into a serde model. Errors name the attribute path.
pub fn to_typed<T: DeserializeOwned>(v: &Value, ty: &Type) -> Result<T, ValueError> {
    T::deserialize(De { v, ty: Some(ty) })
}

/// Encodes a serde model as a value of `ty` (`Val::Unknown` becomes unknown).
pub fn from_typed<T: Serialize>(t: &T, ty: &Type) -> Result<Value, ValueError> {
    let j = serde_json::to_value(t)
        .map_err(|e| ValueError::at_root(format!("cannot serialize the model: {e}")))?;
    typed_json_to_value(&j, ty)
}

// ---------------------------------------------------------------- deserializer

impl de::Error for ValueError {
    fn custom<M: fmt::Display>(msg: M) -> Self {
        ValueError::at_root(msg.to_string())
    }

    fn invalid_type(unexp: de::Unexpected<'_>, exp: &dyn de::Expected) -> Self {
        match unexp {
            de::Unexpected::Unit => {
                Self::custom(format_args!("invalid type: null, expected {exp}"))
            }
            _ => Self::custom(format_args!("invalid type: {unexp}, expected {exp}")),
        }
    }
}

/// Prefixes an error's path with the step it bubbled up through.
fn within(step: PathStep) -> impl FnOnce(ValueError) -> ValueError {
    move |mut e| {
        e.path.0.insert(0, step);
        e
    }
}

fn not_known() -> ValueError {
    ValueError::at_root("value is not yet known (the model needs Val<T> here)")
}

/// A deserializer over a value, with its type when one is known (used to
/// present every attribute of an object, missing ones as null).
struct De<'a> {
    v: &'a Value,
    ty: Option<&'a Type>,
}

const NULL: &Value = &Value::Null;

impl<'a> De<'a> {
    /// The value with any `Dynamic` wrapper removed, and its type.
    fn unwrap(self) -> Self {
        match self.v {
            Value::Dynamic(b) => De {
                v: &b.1,
                ty: Some(&b.0),
            }
            .unwrap(),
            _ => self,
        }
    }

    fn elem_ty(&self, i: usize) -> Option<&'a Type> {
        match self.ty? {
            Type::List(t) | Type::Set(t) => Some(t),
            Type::Tuple(ts) => ts.get(i),
            _ => None,
        }
    }

    /// The entries of a map or object, with their path steps and types.
    fn entries(&self, m: &'a BTreeMap<String, Value>) -> Vec<(&'a str, PathStep, De<'a>)> {
        let step = |k: &str| match self.v {
            Value::Object(_) => PathStep::Attr(k.to_string()),
            _ => PathStep::Key(k.to_string()),
        };
        match (self.v, self.ty) {
            (Value::Object(_), Some(Type::Object(attrs))) => {
                let typed = attrs.iter().map(|(k, t)| {
                    let v = m.get(k).unwrap_or(NULL);
                    (k.as_str(), step(k), De { v, ty: Some(t) })
                });
                let extra = m.iter().filter(|(k, _)| !attrs.contains_key(*k));
                typed
                    .chain(extra.map(|(k, v)| (k.as_str(), step(k), De { v, ty: None })))
                    .collect()
            }
            _ => {
                let ty = self.ty.and_then(Type::element_type);
                m.iter()
                    .map(|(k, v)| (k.as_str(), step(k), De { v, ty }))
                    .collect()
            }
        }
    }
}

impl<'de, 'a> Deserializer<'de> for De<'a> {
    type Error = ValueError;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ValueError> {
        let d = self.unwrap();
        match d.v {
            Value::Null => visitor.visit_unit(),
            Value::Unknown => Err(not_known()),
            Value::Bool(b) => visitor.visit_bool(*b),
            Value::Number(Number::Int(i)) => visitor.visit_i64(*i),
            Value::Number(Number::Float(f)) => visitor.visit_f64(*f),
            Value::Number(n @ Number::Big(s)) => match s.trim().parse::<u64>() {
                Ok(u) => visitor.visit_u64(u),
                Err(_) if n.as_f64().is_finite() => visitor.visit_f64(n.as_f64()),
                Err(_) => Err(ValueError::at_root(format!("number {s} is out of range"))),
            },
            Value::String(s) => visitor.visit_str(s),
            Value::List(xs) | Value::Set(xs) | Value::Tuple(xs) => {
                let items = xs.iter().enumerate().map(|(i, v)| {
                    let ty = d.elem_ty(i);
                    (PathStep::Index(i as i64), De { v, ty })
                });
                let mut seq = Seq(items.collect::<Vec<_>>().into_iter());
                let out = visitor.visit_seq(&mut seq)?;
                match seq.0.len() {
                    0 => Ok(out),
                    _ => Err(de::Error::invalid_length(xs.len(), &"fewer elements")),
                }
            }
            Value::Map(m) | Value::Object(m) => {
                let mut access = Entries {
                    iter: d.entries(m).into_iter(),
                    pending: None,
                };
                visitor.visit_map(&mut access)
            }
            Value::Dynamic(b) => De {
                v: &b.1,
                ty: Some(&b.0),
            }
            .deserialize_any(visitor),
        }
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ValueError> {
        match self.v.inner() {
            Value::Null => visitor.visit_none(),
            Value::Unknown => Err(not_known()),
            _ => visitor.visit_some(self),
        }
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        visitor: V,
    ) -> Result<V::Value, ValueError> {
        if name != VAL_MARKER {
            return visitor.visit_newtype_struct(self);
        }
        match self.v.inner() {
            Value::Null => visitor.visit_none(),
            // A collection with unknown elements (`[aws_x.a.id, "b"]` at plan
            // time) is not yet known as a whole to a typed model.
            v if v.is_unknown() || has_unknown_elements(v) => visitor
                .visit_newtype_struct(unknown_sentinel())
                .map_err(|e| ValueError::at_root(e.to_string())),
            _ => visitor.visit_some(self),
        }
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, ValueError> {
        match self.v.inner() {
            Value::String(s) => visitor.visit_enum(s.as_str().into_deserializer()),
            _ => self.deserialize_any(visitor),
        }
    }

    fn deserialize_ignored_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ValueError> {
        visitor.visit_unit()
    }

    forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
        bytes byte_buf unit unit_struct seq tuple tuple_struct map struct identifier
    }
}

struct Seq<'a>(std::vec::IntoIter<(PathStep, De<'a>)>);

impl<'de, 'a> de::SeqAccess<'de> for Seq<'a> {
    type Error = ValueError;

    fn next_element_seed<S: DeserializeSeed<'de>>(
        &mut self,
        seed: S,
    ) -> Result<Option<S::Value>, ValueError> {
        match self.0.next() {
            None => Ok(None),
            Some((step, d)) => seed.deserialize(d).map(Some).map_err(within(step)),
        }
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.0.len())
    }
}

struct Entries<'a> {
    iter: std::vec::IntoIter<(&'a str, PathStep, De<'a>)>,
    pending: Option<(PathStep, De<'a>)>,
}

impl<'de, 'a> de::MapAccess<'de> for Entries<'a> {
    type Error = ValueError;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, ValueError> {
        let Some((key, step, d)) = self.iter.next() else {
            return Ok(None);
        };
        self.pending = Some((step, d));
        seed.deserialize(key.into_deserializer()).map(Some)
    }

    fn next_value_seed<S: DeserializeSeed<'de>>(
        &mut self,
        seed: S,
    ) -> Result<S::Value, ValueError> {
        let (step, d) = self
            .pending
            .take()
            .ok_or_else(|| ValueError::at_root("map value requested before its key"))?;
        seed.deserialize(d).map_err(within(step))
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.iter.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::{Deserialize, Serialize};

    #[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
    struct Side {
        cidr: String,
        vpc_id: Val<String>,
        zones: Val<Vec<String>>,
    }

    #[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
    #[serde(rename_all = "lowercase")]
    enum Mode {
        Active,
        Passive,
    }

    #[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
    struct Model {
        id: Val<String>,
        name: String,
        tags: Val<BTreeMap<String, String>>,
        count: Option<i64>,
        ratio: Val<f64>,
        big: Option<u64>,
        enabled: bool,
        mode: Mode,
        primary: Side,
        replicas: Vec<Side>,
        extra: Val<Json>,
    }

    fn side_ty() -> Type {
        Type::object([
            ("cidr", Type::String),
            ("vpc_id", Type::String),
            ("zones", Type::list(Type::String)),
        ])
    }

    fn model_ty() -> Type {
        Type::object([
            ("id", Type::String),
            ("name", Type::String),
            ("tags", Type::map(Type::String)),
            ("count", Type::Number),
            ("ratio", Type::Number),
            ("big", Type::Number),
            ("enabled", Type::Bool),
            ("mode", Type::String),
            ("primary", side_ty()),
            ("replicas", Type::list(side_ty())),
            ("extra", Type::Dynamic),
        ])
    }

    fn s(x: &str) -> Value {
        Value::from(x)
    }

    fn side(cidr: &str, vpc: Value, zones: Value) -> Value {
        Value::object([("cidr", s(cidr)), ("vpc_id", vpc), ("zones", zones)])
    }

    fn model_value() -> Value {
        Value::object([
            ("id", Value::Unknown),
            ("name", s("dr")),
            ("tags", Value::Map([("Name".to_string(), s("x"))].into())),
            ("count", Value::Null),
            ("ratio", Value::Number(Number::Big("0.1".into()))),
            ("big", Value::Number(Number::Big(u64::MAX.to_string()))),
            ("enabled", Value::Bool(true)),
            ("mode", s("passive")),
            (
                "primary",
                side("10.0.0.0/16", s("vpc-1"), Value::List(vec![s("a")])),
            ),
            (
                "replicas",
                Value::List(vec![
                    side("10.1.0.0/16", Value::Unknown, Value::Unknown),
                    side("10.2.0.0/16", Value::Null, Value::List(vec![])),
                ]),
            ),
            (
                "extra",
                Value::Dynamic(Box::new((
                    Type::object([("k", Type::tuple([Type::Number, Type::String]))]),
                    Value::object([("k", Value::Tuple(vec![Value::from(1), s("two")]))]),
                ))),
            ),
        ])
    }

    #[test]
    fn typed_round_trip() {
        let v = model_value();
        let m: Model = to_typed(&v, &model_ty()).unwrap();
        assert_eq!(m.id, Val::Unknown);
        assert_eq!(m.name, "dr");
        assert_eq!(m.count, None);
        assert_eq!(m.ratio, Val::Known(0.1));
        assert_eq!(m.big, Some(u64::MAX));
        assert_eq!(m.mode, Mode::Passive);
        assert_eq!(m.primary.zones.known().map(Vec::len), Some(1));
        assert_eq!(m.replicas[0].vpc_id, Val::Unknown);
        assert_eq!(m.replicas[1].vpc_id, Val::Null);
        assert_eq!(m.extra.known(), Some(&serde_json::json!({"k": [1, "two"]})));
        let back = from_typed(&m, &model_ty()).unwrap();
        assert_eq!(back, v);
        // And once more through the wire encoding.
        let bytes = crate::framework::value::encode_msgpack(&back, &model_ty()).unwrap();
        let again: Model = to_typed(
            &crate::framework::value::decode_msgpack(&bytes, &model_ty()).unwrap(),
            &model_ty(),
        )
        .unwrap();
        assert_eq!(again, m);
    }

    #[test]
    fn typed_values_from_a_model() {
        let m = Model {
            id: "x".to_string().into(),
            name: "n".into(),
            tags: Val::Null,
            count: Some(3),
            ratio: Val::Known(2.0),
            big: None,
            enabled: false,
            mode: Mode::Active,
            primary: Side {
                cidr: "c".into(),
                vpc_id: Val::Unknown,
                zones: Val::Known(vec![]),
            },
            replicas: vec![],
            extra: Val::Null,
        };
        let v = from_typed(&m, &model_ty()).unwrap();
        assert_eq!(v.get_attr("count").and_then(Value::as_i64), Some(3));
        assert_eq!(v.get_attr("ratio"), Some(&Value::from(2)));
        assert_eq!(v.get_attr("mode"), Some(&s("active")));
        assert_eq!(
            v.get_path(&"primary.vpc_id".parse_path()),
            Some(&Value::Unknown)
        );
        assert_eq!(v.get_attr("replicas"), Some(&Value::List(vec![])));
        assert_eq!(to_typed::<Model>(&v, &model_ty()).unwrap(), m);
    }

    trait ParsePath {
        fn parse_path(&self) -> crate::framework::path::AttributePath;
    }

    impl ParsePath for str {
        fn parse_path(&self) -> crate::framework::path::AttributePath {
            crate::framework::path::AttributePath::parse(self)
        }
    }

    fn with(path: &str, replacement: Value) -> Value {
        fn set(v: &mut Value, steps: &[PathStep], r: Value) {
            match (v, steps) {
                (v, []) => *v = r,
                (Value::Object(m), [PathStep::Attr(a), rest @ ..]) => {
                    set(m.get_mut(a).unwrap(), rest, r)
                }
                (Value::Map(m), [PathStep::Key(k), rest @ ..]) => {
                    set(m.get_mut(k).unwrap(), rest, r)
                }
                (Value::List(xs), [PathStep::Index(i), rest @ ..]) => {
                    set(&mut xs[*i as usize], rest, r)
                }
                (v, _) => panic!("bad path for {v:?}"),
            }
        }
        let mut v = model_value();
        set(&mut v, &path.parse_path().0, replacement);
        v
    }

    #[test]
    fn to_typed_errors_name_the_path() {
        let cases = [
            ("name", Value::Null, "invalid type: null, expected a string"),
            ("name", Value::Unknown, "not yet known"),
            ("count", Value::Unknown, "not yet known"),
            (
                "enabled",
                s("yes"),
                "invalid type: string \"yes\", expected a boolean",
            ),
            ("primary.cidr", Value::from(5), "expected a string"),
            ("primary", Value::Null, "expected struct Side"),
            ("primary", Value::Unknown, "not yet known"),
            ("replicas[1].cidr", Value::Unknown, "not yet known"),
            (
                "replicas[0].zones",
                Value::List(vec![s("a"), Value::Null]),
                "null",
            ),
            ("tags[\"Name\"]", Value::from(1), "expected a string"),
            ("mode", s("standby"), "unknown variant `standby`"),
            (
                "count",
                Value::Number(Number::Big("1e400".into())),
                "out of range",
            ),
        ];
        for (path, replacement, msg) in cases {
            let err = to_typed::<Model>(&with(path, replacement), &model_ty()).unwrap_err();
            let want_path = if path == "replicas[0].zones" {
                "replicas[0].zones[1]"
            } else {
                path
            };
            assert_eq!(err.path.to_string(), want_path, "{err}");
            assert!(err.message.contains(msg), "{path}: {err}");
        }
    }

    #[test]
    fn from_typed_errors_name_the_path() {
        #[derive(Serialize)]
        struct Wrong {
            name: Vec<String>,
        }
        let err = from_typed(&Wrong { name: vec![] }, &model_ty()).unwrap_err();
        assert_eq!(err.path.to_string(), "name");
        assert!(err.message.contains("expected string, got array"), "{err}");

        #[derive(Serialize)]
        struct Extra {
            name: String,
            surprise: bool,
        }
        let err = from_typed(
            &Extra {
                name: "a".into(),
                surprise: true,
            },
            &model_ty(),
        )
        .unwrap_err();
        assert!(
            err.message.contains("unsupported attribute \"surprise\""),
            "{err}"
        );

        #[derive(Serialize)]
        struct Inner {
            primary: BTreeMap<String, Vec<Vec<u8>>>,
        }
        let inner = Inner {
            primary: [("zones".to_string(), vec![vec![1]])].into(),
        };
        let err = from_typed(&inner, &model_ty()).unwrap_err();
        assert_eq!(err.path.to_string(), "primary.zones[0]", "{err}");
    }

    #[test]
    fn val_serde_with_plain_json() {
        let cases: [(&str, Val<i64>); 3] = [
            ("null", Val::Null),
            ("5", Val::Known(5)),
            ("{\"\\u0000drpair_unknown\":true}", Val::Unknown),
        ];
        for (text, want) in cases {
            assert_eq!(
                serde_json::from_str::<Val<i64>>(text).unwrap(),
                want,
                "{text}"
            );
            assert_eq!(serde_json::to_string(&want).unwrap(), text);
        }
        assert!(serde_json::from_str::<Val<i64>>("\"x\"").is_err());
        let nested: Val<Vec<Val<String>>> =
            serde_json::from_str("[\"a\", null, {\"\\u0000drpair_unknown\":true}]").unwrap();
        assert_eq!(
            nested,
            Val::Known(vec![Val::Known("a".into()), Val::Null, Val::Unknown])
        );
    }

    #[test]
    fn val_helpers() {
        let k: Val<i32> = 3.into();
        assert!(k.is_known() && !k.is_null() && !k.is_unknown());
        assert_eq!(k.as_ref().map(|x| x * 2), Val::Known(6));
        assert_eq!(k.clone().unwrap_or(0), 3);
        assert_eq!(Val::<i32>::Unknown.unwrap_or(0), 0);
        assert_eq!(Val::<i32>::Null.unwrap_or_default(), 0);
        assert_eq!(Val::<i32>::Unknown.or(k.clone()), k);
        assert_eq!(Val::from_option(None::<i32>), Val::Null);
        assert_eq!(Val::from_option(Some(1)).into_known(), Some(1));
        assert_eq!(Val::<i32>::default(), Val::Null);
    }

    #[test]
    fn decimals_survive_a_typed_round_trip() {
        for text in ["0.1", "2.5", "1e-7", "123456.789"] {
            let v = Value::Number(Number::parse(text).unwrap());
            let f: f64 = to_typed(&v, &Type::Number).unwrap();
            assert_eq!(from_typed(&f, &Type::Number).unwrap(), v, "{text}");
        }
        let arr: Vec<Option<i64>> = to_typed(
            &Value::Tuple(vec![Value::from(1), Value::Null]),
            &Type::tuple([Type::Number, Type::Number]),
        )
        .unwrap();
        assert_eq!(arr, vec![Some(1), None]);
        let err = to_typed::<(i64,)>(
            &Value::List(vec![Value::from(1), Value::from(2)]),
            &Type::list(Type::Number),
        )
        .unwrap_err();
        assert!(err.message.contains("invalid length"), "{err}");
    }
}
