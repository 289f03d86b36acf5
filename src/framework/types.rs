//! Value types, as go-cty knows them, with their JSON type-constraint form
//! (what schemas carry in `Attribute.type` and dynamic values carry on the
//! wire): `"string"`, `["list","string"]`, `["object",{"a":"number"}]`.

use super::path::AttributePath;
use super::value::ValueError;
use serde_json::{json, Value as Json};
use std::collections::BTreeMap;
use std::fmt;

/// Nesting deeper than this is refused rather than risking the stack.
const MAX_TYPE_DEPTH: usize = 64;

#[derive(Clone, Debug, PartialEq)]
pub enum Type {
    String,
    Number,
    Bool,
    /// Any type: values carry their concrete type with them.
    Dynamic,
    List(Box<Type>),
    Set(Box<Type>),
    Map(Box<Type>),
    Tuple(Vec<Type>),
    Object(BTreeMap<String, Type>),
}

impl Type {
    pub fn list(t: Type) -> Type {
        Type::List(Box::new(t))
    }

    pub fn set(t: Type) -> Type {
        Type::Set(Box::new(t))
    }

    pub fn map(t: Type) -> Type {
        Type::Map(Box::new(t))
    }

    pub fn tuple(elems: impl IntoIterator<Item = Type>) -> Type {
        Type::Tuple(elems.into_iter().collect())
    }

    pub fn object<'a>(attrs: impl IntoIterator<Item = (&'a str, Type)>) -> Type {
        Type::Object(attrs.into_iter().map(|(k, t)| (k.to_string(), t)).collect())
    }

    pub fn is_primitive(&self) -> bool {
        matches!(self, Type::String | Type::Number | Type::Bool)
    }

    /// The element type of a list, set or map.
    pub fn element_type(&self) -> Option<&Type> {
        match self {
            Type::List(t) | Type::Set(t) | Type::Map(t) => Some(t),
            _ => None,
        }
    }

    /// The type of an object attribute.
    pub fn attribute_type(&self, name: &str) -> Option<&Type> {
        match self {
            Type::Object(attrs) => attrs.get(name),
            _ => None,
        }
    }

    /// The cty JSON type constraint.
    pub fn to_json(&self) -> Json {
        match self {
            Type::String => json!("string"),
            Type::Number => json!("number"),
            Type::Bool => json!("bool"),
            Type::Dynamic => json!("dynamic"),
            Type::List(t) => json!(["list", t.to_json()]),
            Type::Set(t) => json!(["set", t.to_json()]),
            Type::Map(t) => json!(["map", t.to_json()]),
            Type::Tuple(ts) => json!(["tuple", ts.iter().map(Type::to_json).collect::<Vec<_>>()]),
            Type::Object(attrs) => {
                let fields: serde_json::Map<String, Json> = attrs
                    .iter()
                    .map(|(k, t)| (k.clone(), t.to_json()))
                    .collect();
                json!(["object", fields])
            }
        }
    }

    /// The compact JSON bytes of [`Type::to_json`], as schemas send them.
    pub fn to_json_bytes(&self) -> Vec<u8> {
        self.to_json().to_string().into_bytes()
    }

    /// Parses a cty JSON type constraint. An object's optional third element
    /// (the names of optional attributes) is accepted and checked, then
    /// dropped: it only matters for type conversion, which this crate does
    /// not do.
    pub fn from_json(v: &Json) -> Result<Type, ValueError> {
        parse_type(v, 0)
    }

    /// Parses JSON type bytes (as found in dynamic values).
    pub fn from_json_bytes(bytes: &[u8]) -> Result<Type, ValueError> {
        let v: Json = serde_json::from_slice(bytes)
            .map_err(|e| type_error(format!("invalid type JSON: {e}")))?;
        Type::from_json(&v)
    }
}

fn type_error(message: String) -> ValueError {
    ValueError {
        path: AttributePath::root(),
        message,
    }
}

fn parse_type(v: &Json, depth: usize) -> Result<Type, ValueError> {
    if depth > MAX_TYPE_DEPTH {
        return Err(type_error("type is nested too deeply".into()));
    }
    let elem = |t: &Json| parse_type(t, depth + 1).map(Box::new);
    match v {
        Json::String(name) => match name.as_str() {
            "string" => Ok(Type::String),
            "number" => Ok(Type::Number),
            "bool" => Ok(Type::Bool),
            "dynamic" => Ok(Type::Dynamic),
            other => Err(type_error(format!("unsupported type {other:?}"))),
        },
        Json::Array(parts) => {
            let kind = parts.first().and_then(Json::as_str).unwrap_or_default();
            match (kind, &parts[..]) {
                ("list", [_, t]) => Ok(Type::List(elem(t)?)),
                ("set", [_, t]) => Ok(Type::Set(elem(t)?)),
                ("map", [_, t]) => Ok(Type::Map(elem(t)?)),
                ("tuple", [_, Json::Array(ts)]) => ts
                    .iter()
                    .map(|t| parse_type(t, depth + 1))
                    .collect::<Result<_, _>>()
                    .map(Type::Tuple),
                ("object", [_, Json::Object(attrs), rest @ ..]) if rest.len() <= 1 => {
                    if let Some(optional) = rest.first() {
                        check_optional(optional, attrs)?;
                    }
                    attrs
                        .iter()
                        .map(|(k, t)| Ok((k.clone(), parse_type(t, depth + 1)?)))
                        .collect::<Result<_, _>>()
                        .map(Type::Object)
                }
                _ => Err(type_error(format!("invalid type constraint {v}"))),
            }
        }
        _ => Err(type_error(format!("invalid type constraint {v}"))),
    }
}

fn check_optional(
    optional: &Json,
    attrs: &serde_json::Map<String, Json>,
) -> Result<(), ValueError> {
    let names = optional
        .as_array()
        .ok_or_else(|| type_error("optional attributes must be a list of names".into()))?;
    for name in names {
        match name.as_str() {
            Some(n) if attrs.contains_key(n) => {}
            _ => return Err(type_error(format!("invalid optional attribute {name}"))),
        }
    }
    Ok(())
}

/// A short human name, for error messages: `string`, `list of string`.
impl fmt::Display for Type {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Type::String => f.write_str("string"),
            Type::Number => f.write_str("number"),
            Type::Bool => f.write_str("bool"),
            Type::Dynamic => f.write_str("dynamic"),
            Type::List(t) => write!(f, "list of {t}"),
            Type::Set(t) => write!(f, "set of {t}"),
            Type::Map(t) => write!(f, "map of {t}"),
            Type::Tuple(_) => f.write_str("tuple"),
            Type::Object(_) => f.write_str("object"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample_types() -> Vec<(Type, &'static str)> {
        vec![
            (Type::String, r#""string""#),
            (Type::Number, r#""number""#),
            (Type::Bool, r#""bool""#),
            (Type::Dynamic, r#""dynamic""#),
            (Type::list(Type::String), r#"["list","string"]"#),
            (Type::set(Type::Number), r#"["set","number"]"#),
            (Type::map(Type::Bool), r#"["map","bool"]"#),
            (
                Type::tuple([Type::String, Type::list(Type::Dynamic)]),
                r#"["tuple",["string",["list","dynamic"]]]"#,
            ),
            (Type::Tuple(vec![]), r#"["tuple",[]]"#),
            (
                Type::object([
                    ("b", Type::Number),
                    ("a", Type::set(Type::object([("x", Type::String)]))),
                ]),
                r#"["object",{"a":["set",["object",{"x":"string"}]],"b":"number"}]"#,
            ),
            (Type::object([]), r#"["object",{}]"#),
        ]
    }

    #[test]
    fn json_round_trips() {
        for (ty, text) in sample_types() {
            assert_eq!(String::from_utf8(ty.to_json_bytes()).unwrap(), text);
            assert_eq!(
                Type::from_json_bytes(text.as_bytes()).unwrap(),
                ty,
                "{text}"
            );
            assert_eq!(Type::from_json(&ty.to_json()).unwrap(), ty);
        }
    }

    #[test]
    fn accepts_optional_attributes_and_whitespace() {
        let text = r#"[ "object", {"a": "string", "b": "number"}, ["b"] ]"#;
        let want = Type::object([("a", Type::String), ("b", Type::Number)]);
        assert_eq!(Type::from_json_bytes(text.as_bytes()).unwrap(), want);
    }

    #[test]
    fn rejects_invalid_constraints() {
        let bad = [
            r#""str""#,
            r#"["list"]"#,
            r#"["list","string","extra"]"#,
            r#"["tuple","string"]"#,
            r#"["object",["a"]]"#,
            r#"["object",{"a":"string"},["zzz"]]"#,
            r#"["object",{"a":"string"},"a"]"#,
            r#"["object",{"a":"string"},[],[]]"#,
            r#"["capsule","x"]"#,
            r#"42"#,
            r#"null"#,
            r#"["list","#,
            "",
        ];
        for text in bad {
            assert!(Type::from_json_bytes(text.as_bytes()).is_err(), "{text}");
        }
    }

    #[test]
    fn deep_nesting_is_an_error() {
        let mut v = json!("string");
        for _ in 0..200 {
            v = json!(["list", v]);
        }
        let err = Type::from_json(&v).unwrap_err();
        assert!(err.message.contains("too deeply"), "{err}");
    }

    #[test]
    fn helpers_and_display() {
        let obj = Type::object([("tags", Type::map(Type::String))]);
        assert_eq!(obj.attribute_type("tags"), Some(&Type::map(Type::String)));
        assert_eq!(obj.attribute_type("nope"), None);
        assert_eq!(Type::list(Type::Bool).element_type(), Some(&Type::Bool));
        assert!(Type::Number.is_primitive() && !Type::Dynamic.is_primitive());
        assert_eq!(
            Type::set(Type::list(Type::String)).to_string(),
            "set of list of string"
        );
        assert_eq!(obj.to_string(), "object");
    }
}
