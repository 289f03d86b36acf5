//! Value types, as go-cty knows them, with their JSON type-constraint form
//! (what schemas carry in `Attribute.type` and dynamic values carry on the
//! wire): `"string"`, `["list","string"]`, `["object",{"a":"number"}]`; and
//! [`Number`], the representation of the `number` type (re-exported by
//! `value`).

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

// ---------------------------------------------------------------- numbers

/// A number. Decoding picks the most specific variant: `Int` when the value
/// is an integer in i64 range, `Float` when it is exactly an f64, else `Big`.
/// Equality is numeric: `Int(1) == Float(1.0) == Big("1")`.
#[derive(Clone, Debug)]
pub enum Number {
    Int(i64),
    Float(f64),
    /// Exact decimal text, for values that fit neither (`"0.1"`, `"1e400"`).
    Big(String),
}

/// A normalised decimal: `0.<digits> × 10^exp`, digits without leading or
/// trailing zeros (empty for zero).
#[derive(Debug, PartialEq)]
struct Decimal {
    neg: bool,
    digits: String,
    exp: i64,
}

/// Parses `[+-]digits[.digits][e[+-]digits]` (either digit run may be empty,
/// not both).
fn parse_decimal(s: &str) -> Option<Decimal> {
    let (neg, rest) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    let int_len = rest.bytes().take_while(u8::is_ascii_digit).count();
    let mut pos = int_len;
    let mut frac = "";
    if rest[pos..].starts_with('.') {
        let n = rest[pos + 1..]
            .bytes()
            .take_while(u8::is_ascii_digit)
            .count();
        frac = &rest[pos + 1..pos + 1 + n];
        pos += 1 + n;
    }
    if int_len + frac.len() == 0 {
        return None;
    }
    let mut e: i64 = 0;
    if matches!(rest.as_bytes().get(pos), Some(b'e' | b'E')) {
        e = rest[pos + 1..].parse().ok()?;
    } else if pos != rest.len() {
        return None;
    }
    let all = format!("{}{frac}", &rest[..int_len]);
    let trimmed = all.trim_start_matches('0');
    let lead = all.len() - trimmed.len();
    let digits = trimmed.trim_end_matches('0').to_string();
    if digits.is_empty() {
        return Some(Decimal {
            neg: false,
            digits,
            exp: 0,
        });
    }
    // `to_text` writes `exp - 1`: refuse the one exponent where that
    // overflows (found by fuzz_tests: ".1e-9223372036854775808" decoded, then
    // re-encoding panicked in debug builds and wrapped to e+… in release).
    let exp = (int_len as i64 - lead as i64)
        .checked_add(e)
        .filter(|&x| x != i64::MIN)?;
    Some(Decimal { neg, digits, exp })
}

/// The exact decimal value of a finite f64 (at most 767 significant digits).
fn f64_decimal(f: f64) -> Option<Decimal> {
    f.is_finite()
        .then(|| parse_decimal(&format!("{f:.800e}")))
        .flatten()
}

impl Decimal {
    /// Canonical text, valid both as JSON and for go-cty's number parser.
    fn to_text(&self) -> String {
        let (n, e) = (self.digits.len() as i64, self.exp);
        let d = &self.digits;
        let body = if d.is_empty() {
            "0".to_string()
        } else if e <= 0 && e > -20 {
            format!("0.{}{d}", "0".repeat(e.unsigned_abs() as usize))
        } else if e > 0 && e < n {
            format!("{}.{}", &d[..e as usize], &d[e as usize..])
        } else if e >= n && e <= 40 {
            format!("{d}{}", "0".repeat((e - n) as usize))
        } else {
            let tail = if n > 1 {
                format!(".{}", &d[1..])
            } else {
                String::new()
            };
            format!("{}{tail}e{}", &d[..1], e - 1)
        };
        if self.neg {
            format!("-{body}")
        } else {
            body
        }
    }
}

impl Number {
    /// `Int` when `f` is an integer in i64 range, else `Float`.
    pub fn from_f64(f: f64) -> Number {
        const LIMIT: f64 = 9_223_372_036_854_775_808.0; // 2^63
        if f.fract() == 0.0 && (-LIMIT..LIMIT).contains(&f) {
            Number::Int(f as i64)
        } else {
            Number::Float(f)
        }
    }

    /// Parses decimal text into the most specific variant; None when the
    /// text is not a decimal number.
    pub fn parse(text: &str) -> Option<Number> {
        let text = text.trim();
        let d = parse_decimal(text)?;
        let n = d.digits.len() as i64;
        if d.digits.is_empty() {
            return Some(Number::Int(0));
        }
        if d.exp >= n && d.exp <= 19 {
            let sign = if d.neg { "-" } else { "" };
            let zeros = "0".repeat((d.exp - n) as usize);
            if let Ok(i) = format!("{sign}{}{zeros}", d.digits).parse::<i64>() {
                return Some(Number::Int(i));
            }
        }
        if n <= 767 {
            if let Ok(f) = text.parse::<f64>() {
                if f64_decimal(f).as_ref() == Some(&d) {
                    return Some(Number::from_f64(f));
                }
            }
        }
        Some(Number::Big(text.to_string()))
    }

    /// The most specific variant for this value, with `Big` text in
    /// canonical form (valid JSON, parseable by go-cty); None for invalid
    /// `Big` text.
    pub fn normalized(&self) -> Option<Number> {
        match self {
            Number::Float(f) if f.is_finite() => Some(Number::from_f64(*f)),
            Number::Int(_) | Number::Float(_) => Some(self.clone()),
            Number::Big(s) => match Number::parse(s)? {
                Number::Big(_) => Some(Number::Big(parse_decimal(s.trim())?.to_text())),
                other => Some(other),
            },
        }
    }

    /// The nearest f64 (±inf for huge `Big` values, NaN for invalid text).
    pub fn as_f64(&self) -> f64 {
        match self {
            Number::Int(i) => *i as f64,
            Number::Float(f) => *f,
            Number::Big(s) => s.trim().parse().unwrap_or(f64::NAN),
        }
    }

    /// The value as an i64 when it is exactly one.
    pub fn as_i64(&self) -> Option<i64> {
        let n = match self {
            Number::Int(i) => return Some(*i),
            Number::Float(f) => Number::from_f64(*f),
            Number::Big(s) => Number::parse(s)?,
        };
        match n {
            Number::Int(i) => Some(i),
            _ => None,
        }
    }

    fn decimal(&self) -> Option<Decimal> {
        match self {
            Number::Int(i) => parse_decimal(&i.to_string()),
            Number::Float(f) => f64_decimal(*f),
            Number::Big(s) => parse_decimal(s.trim()),
        }
    }

    /// Numeric equality across variants.
    pub fn equals(&self, o: &Number) -> bool {
        match (self, o) {
            (Number::Int(a), Number::Int(b)) => a == b,
            (Number::Float(a), Number::Float(b)) => a == b,
            (Number::Big(a), Number::Big(b)) if a == b => true,
            _ => matches!((self.decimal(), o.decimal()), (Some(a), Some(b)) if a == b),
        }
    }
}

impl PartialEq for Number {
    fn eq(&self, other: &Self) -> bool {
        self.equals(other)
    }
}

impl fmt::Display for Number {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Number::Int(i) => write!(f, "{i}"),
            Number::Float(x) => write!(f, "{x:?}"),
            Number::Big(s) => f.write_str(s),
        }
    }
}

// ---------------------------------------------------------------- display

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
    use crate::framework::value::{decode_msgpack, encode_json, encode_msgpack, Value};

    fn big(t: &str) -> Number {
        Number::Big(t.to_string())
    }

    fn mp(v: &rmpv::Value) -> Vec<u8> {
        let mut out = Vec::new();
        rmpv::encode::write_value(&mut out, v).unwrap();
        out
    }

    #[test]
    fn numbers_decode_to_the_most_specific_variant() {
        use rmpv::Value as Mp;
        let two_63 = Number::Float(9_223_372_036_854_775_808.0);
        let ok: Vec<(Mp, Number)> = vec![
            (Mp::from(u64::MAX), big("18446744073709551615")),
            (Mp::from(i64::MIN), Number::Int(i64::MIN)),
            (Mp::F32(1.5), Number::Float(1.5)),
            (Mp::F64(2.0), Number::Int(2)),
            (Mp::F64(9.3e18), Number::Float(9.3e18)),
            (Mp::F64(f64::INFINITY), Number::Float(f64::INFINITY)),
            (Mp::from("1e400"), big("1e400")),
            (Mp::from("0.1"), big("0.1")),
            (Mp::from("0.5"), Number::Float(0.5)),
            (Mp::from("42"), Number::Int(42)),
            (Mp::from(" 1e3 "), Number::Int(1000)),
            (Mp::from("-0"), Number::Int(0)),
            (Mp::from("123.000"), Number::Int(123)),
            (Mp::from("9223372036854775808"), two_63),
            (Mp::from("9223372036854775809"), big("9223372036854775809")),
            (Mp::from("1e20"), Number::Float(1e20)),
        ];
        for (input, want) in ok {
            let got = decode_msgpack(&mp(&input), &Type::Number).unwrap();
            let Value::Number(n) = got else {
                panic!("{got:?}")
            };
            // The variant matters too, not just the numeric value.
            assert_eq!(format!("{n:?}"), format!("{want:?}"), "{input:?}");
        }
        for bad in ["abc", "", "1e", "0x10", "inf", "NaN", "1..2", "--1", "1e5x"] {
            let err = decode_msgpack(&mp(&Mp::from(bad)), &Type::Number).unwrap_err();
            assert!(err.message.contains("invalid number"), "{bad}: {err}");
        }
        assert!(decode_msgpack(&mp(&Mp::F64(f64::NAN)), &Type::Number).is_err());
    }

    #[test]
    fn number_equality_and_conversions() {
        let one = [
            Number::Int(1),
            Number::Float(1.0),
            big("1"),
            big("1.000"),
            big("1e0"),
            big("0.01e2"),
        ];
        for a in &one {
            for b in &one {
                assert!(a.equals(b) && a == b, "{a:?} {b:?}");
            }
        }
        let exact_tenth = big("0.1000000000000000055511151231257827021181583404541015625");
        let cases = [
            (big("0.1"), Number::Float(0.1), false),
            (exact_tenth, Number::Float(0.1), true),
            (
                Number::Int((1 << 53) + 1),
                Number::Float((1u64 << 53) as f64),
                false,
            ),
            (Number::Float(f64::NAN), Number::Float(f64::NAN), false),
            (
                Number::Float(f64::INFINITY),
                Number::Float(f64::INFINITY),
                true,
            ),
            (big("1e400"), Number::Float(f64::INFINITY), false),
            (big("-0"), Number::Int(0), true),
            (big("junk"), big("junk"), true),
            (big("junk"), Number::Int(0), false),
        ];
        for (a, b, want) in cases {
            assert_eq!(a.equals(&b), want, "{a:?} {b:?}");
        }
        assert_eq!(Number::Float(3.0).as_i64(), Some(3));
        assert_eq!(Number::Float(3.5).as_i64(), None);
        assert_eq!(big("1e400").as_i64(), None);
        assert_eq!(big("1e400").as_f64(), f64::INFINITY);
        assert_eq!(big("12e1").as_i64(), Some(120));
        assert_eq!(Number::Int(7).as_f64(), 7.0);
        assert_eq!(Number::parse("1e-30").unwrap().to_string(), "1e-30");
        assert_eq!(Number::Float(0.25).to_string(), "0.25");
    }

    #[test]
    #[rustfmt::skip]
    fn big_numbers_encode_canonically() {
        // (input, canonical text, whether JSON must quote it to stay exact)
        let cases = [
            ("0.10", "0.1", false),
            ("1e400", "1e400", true),
            ("-000123456789012345678901234567890", "-123456789012345678901234567890", true),
            ("1.5e-30", "1.5e-30", false),
            (".000001", "0.000001", false),
            ("123456789012345678901234.5", "123456789012345678901234.5", true),
            ("+1234567890123456789012345678901234567890e10", "1.23456789012345678901234567890123456789e49", true),
        ];
        for (input, want, quoted) in cases {
            let v = Value::Number(big(input));
            let packed = encode_msgpack(&v, &Type::Number).unwrap();
            assert_eq!(packed, mp(&rmpv::Value::from(want)), "{input}");
            let json = if quoted { format!("\"{want}\"") } else { want.to_string() };
            assert_eq!(encode_json(&v, &Type::Number).unwrap(), json.as_bytes(), "{input}");
        }
        assert_eq!(big("+2.50").normalized(), Some(Number::Float(2.5)));
        assert_eq!(big("nope").normalized(), None);
        assert!(encode_msgpack(&Value::Number(big("nope")), &Type::Number).is_err());
        let nan = Value::Number(Number::Float(f64::NAN));
        assert!(encode_msgpack(&nan, &Type::Number).is_err());
    }

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
