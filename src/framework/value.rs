//! Dynamic values and their wire encodings (PROTOCOL.md §3): go-cty's
//! msgpack form, which Terraform always sends, and the JSON form found in
//! stored state. Decoding is type-guided and never panics on bad input.

use super::path::{AttributePath, PathStep};
use super::typed::is_unknown_sentinel;
pub use super::types::Number;
use super::types::Type;
use rmpv::Value as Mp;
use serde_json::Value as Json;
use std::collections::BTreeMap;
use std::fmt;

/// Values nested deeper than this are refused (on decode and encode). Decoding
/// refuses earlier, at the parsers' own limits: rmpv counts two levels per
/// msgpack container (127 nested containers), serde_json stops at 128.
pub const MAX_DEPTH: usize = 256;

/// Decoding fills in missing object attributes with null, at most one per
/// input byte plus this many in all. Without a bound a short input could
/// repeat a wide object type's `{}` (a 16 KB dynamic `list(object)` of 1 000
/// attributes and 2 000 empty elements took 280 MB, found by fuzz_tests), so
/// the decoded value grew with the square of the input. Terraform's msgpack
/// always holds every attribute; stored JSON misses at most new ones.
const FILL_ALLOWANCE: usize = 1 << 16;

#[derive(Clone, Debug, Default, PartialEq)]
pub enum Value {
    #[default]
    Null,
    Unknown,
    Bool(bool),
    Number(Number),
    String(String),
    List(Vec<Value>),
    /// Elements in the order received; nothing is deduplicated.
    Set(Vec<Value>),
    Map(BTreeMap<String, Value>),
    Tuple(Vec<Value>),
    /// Decoded objects hold every attribute of their type (missing = Null).
    Object(BTreeMap<String, Value>),
    /// A value in a `Dynamic`-typed slot, with its concrete type.
    Dynamic(Box<(Type, Value)>),
}

/// A value that does not fit its type or its encoding, and where.
#[derive(Clone, Debug, PartialEq)]
pub struct ValueError {
    pub path: AttributePath,
    pub message: String,
}

impl ValueError {
    pub fn new(path: AttributePath, message: impl Into<String>) -> Self {
        Self {
            path,
            message: message.into(),
        }
    }

    pub fn at_root(message: impl Into<String>) -> Self {
        Self::new(AttributePath::root(), message)
    }
}

impl fmt::Display for ValueError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.path.is_empty() {
            f.write_str(&self.message)
        } else {
            write!(f, "{}: {}", self.path, self.message)
        }
    }
}

impl std::error::Error for ValueError {}

// ---------------------------------------------------------------- values

impl Value {
    /// The value itself, or the value a `Dynamic` holds.
    pub fn inner(&self) -> &Value {
        let mut v = self;
        while let Value::Dynamic(b) = v {
            v = &b.1;
        }
        v
    }

    pub fn is_null(&self) -> bool {
        matches!(self.inner(), Value::Null)
    }

    pub fn is_unknown(&self) -> bool {
        matches!(self.inner(), Value::Unknown)
    }

    /// No unknown value anywhere inside.
    pub fn is_wholly_known(&self) -> bool {
        match self.inner() {
            Value::Unknown => false,
            Value::List(xs) | Value::Set(xs) | Value::Tuple(xs) => {
                xs.iter().all(Value::is_wholly_known)
            }
            Value::Map(m) | Value::Object(m) => m.values().all(Value::is_wholly_known),
            _ => true,
        }
    }

    pub fn get_attr(&self, name: &str) -> Option<&Value> {
        match self.inner() {
            Value::Object(m) => m.get(name),
            _ => None,
        }
    }

    fn get_step(&self, step: &PathStep) -> Option<&Value> {
        match (self.inner(), step) {
            (Value::Object(m), PathStep::Attr(n)) => m.get(n),
            (Value::Map(m), PathStep::Key(k)) => m.get(k),
            (Value::List(xs) | Value::Set(xs) | Value::Tuple(xs), PathStep::Index(i)) => {
                usize::try_from(*i).ok().and_then(|i| xs.get(i))
            }
            _ => None,
        }
    }

    pub fn get_path(&self, p: &AttributePath) -> Option<&Value> {
        p.0.iter().try_fold(self, |v, step| v.get_step(step))
    }

    pub fn as_str(&self) -> Option<&str> {
        match self.inner() {
            Value::String(s) => Some(s),
            _ => None,
        }
    }

    pub fn as_bool(&self) -> Option<bool> {
        match self.inner() {
            Value::Bool(b) => Some(*b),
            _ => None,
        }
    }

    pub fn as_number(&self) -> Option<&Number> {
        match self.inner() {
            Value::Number(n) => Some(n),
            _ => None,
        }
    }

    pub fn as_i64(&self) -> Option<i64> {
        self.as_number()?.as_i64()
    }

    /// An object value from `(name, value)` pairs.
    pub fn object<'a>(attrs: impl IntoIterator<Item = (&'a str, Value)>) -> Value {
        Value::Object(attrs.into_iter().map(|(k, v)| (k.to_string(), v)).collect())
    }

    /// What kind of value this is, for error messages.
    pub fn kind(&self) -> &'static str {
        match self {
            Value::Null => "null",
            Value::Unknown => "unknown",
            Value::Bool(_) => "bool",
            Value::Number(_) => "number",
            Value::String(_) => "string",
            Value::List(_) => "list",
            Value::Set(_) => "set",
            Value::Map(_) => "map",
            Value::Tuple(_) => "tuple",
            Value::Object(_) => "object",
            Value::Dynamic(_) => "dynamic value",
        }
    }

    /// The type this value most plausibly has (used when a plain value lands
    /// in a `Dynamic` slot); `Dynamic` for null and unknown.
    pub fn infer_type(&self) -> Type {
        fn common<'a>(vs: impl IntoIterator<Item = &'a Value>) -> Type {
            vs.into_iter()
                .map(Value::infer_type)
                .find(|t| *t != Type::Dynamic)
                .unwrap_or(Type::Dynamic)
        }
        match self {
            Value::Null | Value::Unknown => Type::Dynamic,
            Value::Bool(_) => Type::Bool,
            Value::Number(_) => Type::Number,
            Value::String(_) => Type::String,
            Value::List(xs) => Type::list(common(xs)),
            Value::Set(xs) => Type::set(common(xs)),
            Value::Map(m) => Type::map(common(m.values())),
            Value::Tuple(xs) => Type::Tuple(xs.iter().map(Value::infer_type).collect()),
            Value::Object(m) => {
                Type::Object(m.iter().map(|(k, v)| (k.clone(), v.infer_type())).collect())
            }
            Value::Dynamic(b) => b.0.clone(),
        }
    }
}

impl From<&str> for Value {
    fn from(s: &str) -> Self {
        Value::String(s.to_string())
    }
}

impl From<String> for Value {
    fn from(s: String) -> Self {
        Value::String(s)
    }
}

impl From<bool> for Value {
    fn from(b: bool) -> Self {
        Value::Bool(b)
    }
}

impl From<i64> for Value {
    fn from(i: i64) -> Self {
        Value::Number(Number::Int(i))
    }
}

impl From<f64> for Value {
    fn from(f: f64) -> Self {
        Value::Number(Number::from_f64(f))
    }
}

impl From<Number> for Value {
    fn from(n: Number) -> Self {
        Value::Number(n)
    }
}

// ---------------------------------------------------------------- walking

/// The state of a type-guided walk: where we are, how deep, which JSON
/// dialect (wire: dynamic as `{"type","value"}`; typed: plain values plus
/// the unknown sentinel of `typed.rs`).
#[derive(Default)]
struct Walk {
    path: Vec<PathStep>,
    depth: usize,
    typed_json: bool,
    /// How many more missing attributes decoding may fill in (see
    /// [`FILL_ALLOWANCE`]); None: no limit, for values the provider built.
    fills_left: Option<usize>,
}

type Res<T> = Result<T, ValueError>;

impl Walk {
    /// A walk decoding wire input of `len` bytes.
    fn decoding(len: usize) -> Self {
        Walk {
            fills_left: Some(len.saturating_add(FILL_ALLOWANCE)),
            ..Walk::default()
        }
    }

    fn err(&self, message: impl Into<String>) -> ValueError {
        ValueError::new(AttributePath(self.path.clone()), message)
    }

    fn mismatch(&self, ty: &Type, got: &str) -> ValueError {
        self.err(format!("expected {ty}, got {got}"))
    }

    /// Runs `f` one level deeper (and one path step further, if given). On
    /// error the walk is abandoned, so the path is left as it was.
    fn nest<T>(&mut self, step: Option<PathStep>, f: impl FnOnce(&mut Self) -> Res<T>) -> Res<T> {
        if self.depth >= MAX_DEPTH {
            return Err(self.err("value is nested too deeply"));
        }
        self.depth += 1;
        let pushed = step.is_some();
        self.path.extend(step);
        let out = f(self)?;
        if pushed {
            self.path.pop();
        }
        self.depth -= 1;
        Ok(out)
    }

    fn number_from_text(&self, s: &str) -> Res<Number> {
        Number::parse(s).ok_or_else(|| self.err(format!("invalid number {s:?}")))
    }

    /// The number in its wire form (see [`Number::normalized`]).
    fn canonical(&self, n: &Number) -> Res<Number> {
        n.normalized()
            .ok_or_else(|| self.err(format!("invalid number {n}")))
    }

    // ------------------------------------------------------------ msgpack

    fn read_mp(&mut self, v: &Mp, ty: &Type) -> Res<Value> {
        Ok(match (v, ty) {
            (Mp::Nil, _) => Value::Null,
            (Mp::Ext(..), _) => Value::Unknown,
            (_, Type::Dynamic) => {
                let Mp::Array(parts) = v else {
                    return Err(self.mismatch(ty, mp_kind(v)));
                };
                let (ty_bytes, inner) = match &parts[..] {
                    [Mp::Binary(b), inner] => (b.as_slice(), inner),
                    [Mp::String(s), inner] => (s.as_bytes(), inner),
                    _ => return Err(self.err("dynamic value must be [type, value]")),
                };
                let t = Type::from_json_bytes(ty_bytes)
                    .map_err(|e| self.err(format!("dynamic value: {}", e.message)))?;
                let val = self.nest(None, |w| w.read_mp(inner, &t))?;
                Value::Dynamic(Box::new((t, val)))
            }
            (Mp::String(s), Type::String) => match s.as_str() {
                Some(s) => Value::String(s.to_string()),
                None => return Err(self.err("string is not valid UTF-8")),
            },
            (Mp::Binary(b), Type::String) => match std::str::from_utf8(b) {
                Ok(s) => Value::String(s.to_string()),
                Err(_) => return Err(self.err("string is not valid UTF-8")),
            },
            (Mp::Boolean(b), Type::Bool) => Value::Bool(*b),
            (Mp::Integer(i), Type::Number) => Value::Number(match i.as_i64() {
                Some(i) => Number::Int(i),
                None => Number::Big(i.to_string()),
            }),
            (Mp::F32(f), Type::Number) => self.float(f64::from(*f))?,
            (Mp::F64(f), Type::Number) => self.float(*f)?,
            (Mp::String(s), Type::Number) => {
                let text = s
                    .as_str()
                    .ok_or_else(|| self.err("number is not valid UTF-8"))?;
                Value::Number(self.number_from_text(text)?)
            }
            (Mp::Array(items), Type::List(t) | Type::Set(t)) => {
                let mut out = Vec::with_capacity(items.len());
                for (i, item) in items.iter().enumerate() {
                    out.push(self.nest(Some(PathStep::Index(i as i64)), |w| w.read_mp(item, t))?);
                }
                if matches!(ty, Type::Set(_)) {
                    Value::Set(out)
                } else {
                    Value::List(out)
                }
            }
            (Mp::Array(items), Type::Tuple(ts)) => {
                if items.len() != ts.len() {
                    return Err(self.err(format!(
                        "tuple has {} elements, expected {}",
                        items.len(),
                        ts.len()
                    )));
                }
                let mut out = Vec::with_capacity(items.len());
                for (i, (item, t)) in items.iter().zip(ts).enumerate() {
                    out.push(self.nest(Some(PathStep::Index(i as i64)), |w| w.read_mp(item, t))?);
                }
                Value::Tuple(out)
            }
            (Mp::Map(entries), Type::Map(_) | Type::Object(_)) => {
                let mut out = BTreeMap::new();
                for (k, item) in entries {
                    let key = match k {
                        Mp::String(s) => s.as_str(),
                        Mp::Binary(b) => std::str::from_utf8(b).ok(),
                        _ => None,
                    };
                    let key = key.ok_or_else(|| self.err("map keys must be strings"))?;
                    let (step, t) = self.member(ty, key)?;
                    let val = self.nest(Some(step), |w| w.read_mp(item, t))?;
                    if out.insert(key.to_string(), val).is_some() {
                        return Err(self.err(format!("duplicate key {key:?}")));
                    }
                }
                self.fill_attrs(ty, out)?
            }
            _ => return Err(self.mismatch(ty, mp_kind(v))),
        })
    }

    fn float(&self, f: f64) -> Res<Value> {
        if f.is_nan() {
            return Err(self.err("NaN is not a valid number"));
        }
        Ok(Value::Number(Number::from_f64(f)))
    }

    /// The path step and type of a map element or object attribute.
    fn member<'t>(&self, ty: &'t Type, key: &str) -> Res<(PathStep, &'t Type)> {
        match ty {
            Type::Map(t) => Ok((PathStep::Key(key.to_string()), t)),
            Type::Object(attrs) => match attrs.get(key) {
                Some(t) => Ok((PathStep::Attr(key.to_string()), t)),
                None => Err(self.err(format!("unsupported attribute {key:?}"))),
            },
            _ => Err(self.err(format!("{ty} has no members"))),
        }
    }

    /// Builds the map or object value, adding missing object attributes as
    /// null.
    fn fill_attrs(&mut self, ty: &Type, mut out: BTreeMap<String, Value>) -> Res<Value> {
        match ty {
            Type::Object(attrs) => {
                let missing = attrs.len().saturating_sub(out.len());
                if let Some(left) = self.fills_left {
                    let left = left.checked_sub(missing).ok_or_else(|| {
                        self.err("too many missing attributes for the size of the input")
                    })?;
                    self.fills_left = Some(left);
                }
                for name in attrs.keys() {
                    out.entry(name.clone()).or_insert(Value::Null);
                }
                Ok(Value::Object(out))
            }
            _ => Ok(Value::Map(out)),
        }
    }

    /// The members to encode for a map or object value of type `ty`, in
    /// order (objects: every attribute of the type, missing ones null).
    fn members<'v>(
        &self,
        m: &'v BTreeMap<String, Value>,
        ty: &'v Type,
    ) -> Res<Vec<(&'v str, &'v Value)>> {
        const NULL: &Value = &Value::Null;
        let Type::Object(attrs) = ty else {
            return Ok(m.iter().map(|(k, v)| (k.as_str(), v)).collect());
        };
        if let Some(extra) = m.keys().find(|k| !attrs.contains_key(*k)) {
            return Err(self.err(format!("unsupported attribute {extra:?}")));
        }
        Ok(attrs
            .keys()
            .map(|k| (k.as_str(), m.get(k).unwrap_or(NULL)))
            .collect())
    }

    fn write_mp(&mut self, v: &Value, ty: &Type) -> Res<Mp> {
        Ok(match (v, ty) {
            (Value::Null, _) => Mp::Nil,
            (Value::Unknown, _) => Mp::Ext(0, vec![0]),
            (Value::Dynamic(b), Type::Dynamic) => {
                let (t, inner) = &**b;
                let val = self.nest(None, |w| w.write_mp(inner, t))?;
                Mp::Array(vec![Mp::Binary(t.to_json_bytes()), val])
            }
            (_, Type::Dynamic) => {
                let t = v.infer_type();
                let val = self.nest(None, |w| w.write_mp(v, &t))?;
                Mp::Array(vec![Mp::Binary(t.to_json_bytes()), val])
            }
            (Value::Dynamic(b), _) => self.nest(None, |w| w.write_mp(&b.1, ty))?,
            (Value::String(s), Type::String) => Mp::from(s.as_str()),
            (Value::Bool(b), Type::Bool) => Mp::Boolean(*b),
            (Value::Number(n), Type::Number) => match self.canonical(n)? {
                Number::Int(i) => Mp::from(i),
                Number::Float(f) if f.is_nan() => return Err(self.err("NaN is not a valid number")),
                Number::Float(f) => Mp::F64(f),
                Number::Big(s) => Mp::from(s),
            },
            (Value::List(xs) | Value::Set(xs) | Value::Tuple(xs), _) => {
                let types = self.element_types(ty, v, xs.len())?;
                let mut out = Vec::with_capacity(xs.len());
                for (i, (x, t)) in xs.iter().zip(types).enumerate() {
                    out.push(self.nest(Some(PathStep::Index(i as i64)), |w| w.write_mp(x, t))?);
                }
                Mp::Array(out)
            }
            (Value::Map(m) | Value::Object(m), Type::Map(_) | Type::Object(_)) => {
                let mut out = Vec::with_capacity(m.len());
                for (k, x) in self.members(m, ty)? {
                    let (step, t) = self.member(ty, k)?;
                    out.push((Mp::from(k), self.nest(Some(step), |w| w.write_mp(x, t))?));
                }
                Mp::Map(out)
            }
            _ => return Err(self.mismatch(ty, v.kind())),
        })
    }

    /// Element types for a list/set/tuple value of `len` elements.
    fn element_types<'t>(&self, ty: &'t Type, v: &Value, len: usize) -> Res<Vec<&'t Type>> {
        match ty {
            Type::List(t) | Type::Set(t) => Ok(vec![&**t; len]),
            Type::Tuple(ts) if ts.len() == len => Ok(ts.iter().collect()),
            Type::Tuple(ts) => {
                Err(self.err(format!("tuple has {len} elements, expected {}", ts.len())))
            }
            _ => Err(self.mismatch(ty, v.kind())),
        }
    }

    // ------------------------------------------------------------ JSON

    fn read_json(&mut self, j: &Json, ty: &Type) -> Res<Value> {
        if self.typed_json && is_unknown_sentinel(j) {
            return Ok(Value::Unknown);
        }
        Ok(match (j, ty) {
            (Json::Null, _) => Value::Null,
            (_, Type::Dynamic) if self.typed_json => {
                let t = implied_type(j, 0);
                let val = self.nest(None, |w| w.read_json(j, &t))?;
                Value::Dynamic(Box::new((t, val)))
            }
            (Json::Object(m), Type::Dynamic) if m.len() == 2 => {
                let (Some(t), Some(inner)) = (m.get("type"), m.get("value")) else {
                    return Err(self.err("dynamic value must be {\"type\":…,\"value\":…}"));
                };
                let t = Type::from_json(t)
                    .map_err(|e| self.err(format!("dynamic value: {}", e.message)))?;
                let val = self.nest(None, |w| w.read_json(inner, &t))?;
                Value::Dynamic(Box::new((t, val)))
            }
            (Json::String(s), Type::String) => Value::String(s.clone()),
            (Json::Number(n), Type::String) => Value::String(n.to_string()),
            (Json::Bool(b), Type::String) => Value::String(b.to_string()),
            (Json::Bool(b), Type::Bool) => Value::Bool(*b),
            (Json::String(s), Type::Bool) if s == "true" || s == "false" => {
                Value::Bool(s == "true")
            }
            (Json::Number(n), Type::Number) => Value::Number(if let Some(i) = n.as_i64() {
                Number::Int(i)
            } else if let Some(u) = n.as_u64() {
                Number::Big(u.to_string())
            } else {
                self.number_from_text(&n.to_string())?
            }),
            (Json::String(s), Type::Number) => Value::Number(self.number_from_text(s)?),
            (Json::Array(items), Type::List(_) | Type::Set(_) | Type::Tuple(_)) => {
                let types = self.element_types(ty, &Value::List(vec![]), items.len())?;
                let mut out = Vec::with_capacity(items.len());
                for (i, (item, t)) in items.iter().zip(types).enumerate() {
                    out.push(self.nest(Some(PathStep::Index(i as i64)), |w| w.read_json(item, t))?);
                }
                match ty {
                    Type::Set(_) => Value::Set(out),
                    Type::Tuple(_) => Value::Tuple(out),
                    _ => Value::List(out),
                }
            }
            (Json::Object(m), Type::Map(_) | Type::Object(_)) => {
                let mut out = BTreeMap::new();
                for (k, item) in m {
                    let (step, t) = self.member(ty, k)?;
                    out.insert(k.clone(), self.nest(Some(step), |w| w.read_json(item, t))?);
                }
                self.fill_attrs(ty, out)?
            }
            _ => return Err(self.mismatch(ty, json_kind(j))),
        })
    }

    fn write_json(&mut self, v: &Value, ty: &Type, out: &mut Vec<u8>) -> Res<()> {
        match (v, ty) {
            (Value::Null, _) => out.extend_from_slice(b"null"),
            (Value::Unknown, _) => {
                return Err(self.err("unknown values cannot be represented in JSON"))
            }
            (_, Type::Dynamic) => {
                let inferred;
                let (t, inner) = match v {
                    Value::Dynamic(b) => (&b.0, &b.1),
                    _ => {
                        inferred = v.infer_type();
                        (&inferred, v)
                    }
                };
                out.extend_from_slice(b"{\"type\":");
                out.extend_from_slice(&t.to_json_bytes());
                out.extend_from_slice(b",\"value\":");
                self.nest(None, |w| w.write_json(inner, t, out))?;
                out.push(b'}');
            }
            (Value::Dynamic(b), _) => self.nest(None, |w| w.write_json(&b.1, ty, out))?,
            (Value::String(s), Type::String) => self.json_string(s, out)?,
            (Value::Bool(b), Type::Bool) => {
                out.extend_from_slice(if *b { b"true" } else { b"false" })
            }
            (Value::Number(n), Type::Number) => {
                let text = match self.canonical(n)? {
                    Number::Int(i) => i.to_string(),
                    Number::Float(f) if f.is_finite() => serde_json::Number::from_f64(f)
                        .map(|n| n.to_string())
                        .unwrap_or_default(),
                    Number::Float(f) => {
                        return Err(self.err(format!("{f} cannot be represented in JSON")))
                    }
                    // serde_json (and so go-cty state readers built on f64)
                    // would round these; go-cty accepts numbers as strings.
                    Number::Big(s) if json_f64_safe(&s) => s,
                    Number::Big(s) => format!("\"{s}\""),
                };
                out.extend_from_slice(text.as_bytes());
            }
            (Value::List(xs) | Value::Set(xs) | Value::Tuple(xs), _) => {
                let types = self.element_types(ty, v, xs.len())?;
                out.push(b'[');
                for (i, (x, t)) in xs.iter().zip(types).enumerate() {
                    if i > 0 {
                        out.push(b',');
                    }
                    self.nest(Some(PathStep::Index(i as i64)), |w| w.write_json(x, t, out))?;
                }
                out.push(b']');
            }
            (Value::Map(m) | Value::Object(m), Type::Map(_) | Type::Object(_)) => {
                out.push(b'{');
                for (i, (k, x)) in self.members(m, ty)?.into_iter().enumerate() {
                    if i > 0 {
                        out.push(b',');
                    }
                    self.json_string(k, out)?;
                    out.push(b':');
                    let (step, t) = self.member(ty, k)?;
                    self.nest(Some(step), |w| w.write_json(x, t, out))?;
                }
                out.push(b'}');
            }
            _ => return Err(self.mismatch(ty, v.kind())),
        }
        Ok(())
    }

    fn json_string(&self, s: &str, out: &mut Vec<u8>) -> Res<()> {
        serde_json::to_writer(out, s).map_err(|e| self.err(e.to_string()))
    }
}

/// The type a plain JSON value implies (cty's `ImpliedType`): arrays are
/// tuples, objects are objects.
fn implied_type(j: &Json, depth: usize) -> Type {
    match j {
        _ if depth > MAX_DEPTH || is_unknown_sentinel(j) => Type::Dynamic,
        Json::Null => Type::Dynamic,
        Json::Bool(_) => Type::Bool,
        Json::Number(_) => Type::Number,
        Json::String(_) => Type::String,
        Json::Array(xs) => Type::Tuple(xs.iter().map(|x| implied_type(x, depth + 1)).collect()),
        Json::Object(m) => Type::Object(
            m.iter()
                .map(|(k, x)| (k.clone(), implied_type(x, depth + 1)))
                .collect(),
        ),
    }
}

/// Whether a decimal survives being read as an f64 and printed back.
fn json_f64_safe(text: &str) -> bool {
    let big = Number::Big(text.to_string());
    serde_json::Number::from_f64(big.as_f64())
        .and_then(|n| Number::parse(&n.to_string()))
        .is_some_and(|n| n.equals(&big))
}

fn mp_kind(v: &Mp) -> &'static str {
    match v {
        Mp::Nil => "null",
        Mp::Boolean(_) => "bool",
        Mp::Integer(_) | Mp::F32(_) | Mp::F64(_) => "number",
        Mp::String(_) => "string",
        Mp::Binary(_) => "binary",
        Mp::Array(_) => "array",
        Mp::Map(_) => "map",
        Mp::Ext(..) => "unknown",
    }
}

fn json_kind(j: &Json) -> &'static str {
    match j {
        Json::Null => "null",
        Json::Bool(_) => "bool",
        Json::Number(_) => "number",
        Json::String(_) => "string",
        Json::Array(_) => "array",
        Json::Object(_) => "object",
    }
}

// ---------------------------------------------------------------- entry points

/// Decodes go-cty msgpack; empty bytes are null.
pub fn decode_msgpack(bytes: &[u8], ty: &Type) -> Result<Value, ValueError> {
    if bytes.is_empty() {
        return Ok(Value::Null);
    }
    let mut rd = bytes;
    let mp = rmpv::decode::read_value_with_max_depth(&mut rd, MAX_DEPTH)
        .map_err(|e| ValueError::at_root(format!("invalid msgpack: {e}")))?;
    if !rd.is_empty() {
        return Err(ValueError::at_root(format!(
            "invalid msgpack: {} trailing bytes",
            rd.len()
        )));
    }
    Walk::decoding(bytes.len()).read_mp(&mp, ty)
}

/// Encodes go-cty msgpack (unknown as `d4 00 00`).
pub fn encode_msgpack(v: &Value, ty: &Type) -> Result<Vec<u8>, ValueError> {
    let mp = Walk::default().write_mp(v, ty)?;
    let mut out = Vec::new();
    rmpv::encode::write_value(&mut out, &mp)
        .map_err(|e| ValueError::at_root(format!("msgpack encoding failed: {e}")))?;
    Ok(out)
}

/// Decodes go-cty JSON (pretty-printed is fine); empty input is null.
pub fn decode_json(bytes: &[u8], ty: &Type) -> Result<Value, ValueError> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(Value::Null);
    }
    let j: Json = serde_json::from_slice(bytes)
        .map_err(|e| ValueError::at_root(format!("invalid JSON: {e}")))?;
    Walk::decoding(bytes.len()).read_json(&j, ty)
}

/// Encodes go-cty JSON; unknown values are an error.
pub fn encode_json(v: &Value, ty: &Type) -> Result<Vec<u8>, ValueError> {
    let mut out = Vec::new();
    Walk::default().write_json(v, ty, &mut out)?;
    Ok(out)
}

/// Converts a plain JSON value (from a serde model) into a value of `ty`:
/// the unknown sentinel becomes `Unknown`, dynamic slots take the JSON's
/// implied type.
pub(crate) fn typed_json_to_value(j: &Json, ty: &Type) -> Result<Value, ValueError> {
    Walk {
        typed_json: true,
        ..Walk::default()
    }
    .read_json(j, ty)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn s(x: &str) -> Value {
        Value::from(x)
    }

    fn int(i: i64) -> Value {
        Value::from(i)
    }

    fn num(n: Number) -> Value {
        Value::Number(n)
    }

    fn big(t: &str) -> Value {
        Value::Number(Number::Big(t.to_string()))
    }

    fn dynamic(t: Type, v: Value) -> Value {
        Value::Dynamic(Box::new((t, v)))
    }

    fn mp(v: &Mp) -> Vec<u8> {
        let mut out = Vec::new();
        rmpv::encode::write_value(&mut out, v).unwrap();
        out
    }

    /// Msgpack written as JSON, for readable test inputs.
    fn jm(j: Json) -> Mp {
        match j {
            Json::Null => Mp::Nil,
            Json::Bool(b) => Mp::Boolean(b),
            Json::Number(n) => n
                .as_i64()
                .map_or_else(|| Mp::F64(n.as_f64().unwrap()), Mp::from),
            Json::String(s) => Mp::from(s),
            Json::Array(xs) => Mp::Array(xs.into_iter().map(jm).collect()),
            Json::Object(m) => Mp::Map(m.into_iter().map(|(k, v)| (Mp::from(k), jm(v))).collect()),
        }
    }

    fn everything_type() -> Type {
        Type::object([
            ("s", Type::String),
            ("n", Type::Number),
            ("b", Type::Bool),
            ("l", Type::list(Type::String)),
            ("set", Type::set(Type::Number)),
            ("m", Type::map(Type::Bool)),
            ("t", Type::tuple([Type::String, Type::Number])),
            (
                "o",
                Type::object([("x", Type::list(Type::object([("y", Type::String)])))]),
            ),
            ("d", Type::Dynamic),
        ])
    }

    fn everything() -> Value {
        let o = Value::object([("x", Value::List(vec![Value::object([("y", s("z"))])]))]);
        Value::object([
            ("s", s("héllo")),
            ("n", big("0.1")),
            ("b", Value::Bool(false)),
            ("l", Value::List(vec![s("a"), Value::Null, s("")])),
            ("set", Value::Set(vec![int(2), int(1), int(2)])),
            (
                "m",
                Value::Map([("k".to_string(), Value::Bool(true))].into()),
            ),
            ("t", Value::Tuple(vec![s("x"), num(Number::Float(0.5))])),
            ("o", o),
            (
                "d",
                dynamic(Type::list(Type::Number), Value::List(vec![int(7)])),
            ),
        ])
    }

    /// (value, type) pairs that survive both encodings.
    #[rustfmt::skip]
    fn known_cases() -> Vec<(Value, Type)> {
        vec![
            (Value::Null, Type::String),
            (s("héllo \"q\" \n"), Type::String),
            (s(""), Type::String),
            (Value::Bool(true), Type::Bool),
            (int(-5), Type::Number),
            (int(i64::MIN), Type::Number),
            (int(i64::MAX), Type::Number),
            (num(Number::Float(0.5)), Type::Number),
            (num(Number::Float(-1e20)), Type::Number),
            (big("0.1"), Type::Number),
            (big("18446744073709551615"), Type::Number),
            (big("1e400"), Type::Number),
            (big("-123456789012345678901234.5"), Type::Number),
            (Value::List(vec![s("a"), s("b")]), Type::list(Type::String)),
            (Value::List(vec![]), Type::list(Type::String)),
            (Value::Set(vec![int(1), int(1), int(0)]), Type::set(Type::Number)),
            (Value::Map(BTreeMap::new()), Type::map(Type::String)),
            (Value::Tuple(vec![]), Type::Tuple(vec![])),
            (Value::object([]), Type::object([])),
            (dynamic(Type::String, s("hi")), Type::Dynamic),
            (dynamic(Type::String, Value::Null), Type::Dynamic),
            (dynamic(everything_type(), everything()), Type::Dynamic),
            (everything(), everything_type()),
        ]
    }

    #[test]
    fn msgpack_round_trips() {
        let mut cases = known_cases();
        let partly = Value::object([("a", Value::Unknown), ("b", Value::Null)]);
        let partly_ty = Type::object([("a", Type::set(Type::String)), ("b", Type::Dynamic)]);
        cases.extend([
            (Value::Unknown, Type::String),
            (Value::Unknown, Type::Dynamic),
            (num(Number::Float(f64::INFINITY)), Type::Number),
            (num(Number::Float(f64::NEG_INFINITY)), Type::Number),
            (num(Number::Float(-1.25e300)), Type::Number),
            (num(Number::Float(1e-300)), Type::Number),
            (
                Value::List(vec![Value::Unknown, s("a")]),
                Type::list(Type::String),
            ),
            (partly, partly_ty),
        ]);
        for (v, ty) in cases {
            let bytes = encode_msgpack(&v, &ty).unwrap_or_else(|e| panic!("{v:?}: {e}"));
            assert_eq!(decode_msgpack(&bytes, &ty).unwrap(), v, "{ty}");
        }
    }

    #[test]
    fn json_round_trips() {
        for (v, ty) in known_cases() {
            let bytes = encode_json(&v, &ty).unwrap_or_else(|e| panic!("{v:?}: {e}"));
            let text = String::from_utf8_lossy(&bytes);
            assert_eq!(decode_json(&bytes, &ty).unwrap(), v, "{text}");
        }
        let json = encode_json(&everything(), &everything_type()).unwrap();
        let want = json!({
            "b": false, "d": {"type": ["list", "number"], "value": [7]},
            "l": ["a", null, ""], "m": {"k": true}, "n": 0.1,
            "o": {"x": [{"y": "z"}]}, "s": "héllo", "set": [2, 1, 2], "t": ["x", 0.5],
        });
        assert_eq!(serde_json::from_slice::<Json>(&json).unwrap(), want);
        let huge = encode_json(&big("-1.5e400"), &Type::Number).unwrap();
        assert_eq!(huge, b"\"-1.5e400\"");
    }

    #[test]
    #[rustfmt::skip]
    fn msgpack_golden_bytes() {
        let hi = b"\x92\xc4\x08\"string\"\xa2hi".to_vec();
        let obj_ty = Type::object([("a", Type::Number), ("b", Type::String)]);
        let cases: Vec<(Value, Type, Vec<u8>)> = vec![
            (Value::Unknown, Type::String, vec![0xd4, 0, 0]),
            (Value::Unknown, obj_ty.clone(), vec![0xd4, 0, 0]),
            (Value::Null, Type::list(Type::String), vec![0xc0]),
            (int(1), Type::Number, vec![0x01]),
            (num(Number::Float(1.0)), Type::Number, vec![0x01]),
            (big("+5"), Type::Number, vec![0x05]),
            (num(Number::Float(0.5)), Type::Number, mp(&Mp::F64(0.5))),
            (big("0.10"), Type::Number, b"\xa30.1".to_vec()),
            (dynamic(Type::String, s("hi")), Type::Dynamic, hi.clone()),
            (s("hi"), Type::Dynamic, hi),
            (Value::object([("a", int(1))]), obj_ty, b"\x82\xa1a\x01\xa1b\xc0".to_vec()),
        ];
        for (v, ty, want) in cases {
            assert_eq!(encode_msgpack(&v, &ty).unwrap(), want, "{v:?}");
        }
    }

    #[test]
    fn unknown_decodes_from_any_ext() {
        let refined = mp(&Mp::Map(vec![
            (Mp::from(1), Mp::Boolean(false)),
            (Mp::from(2), Mp::from("abc")),
        ]));
        let mut ext8 = vec![0xc7, 0x08, 0x0c];
        ext8.extend(&refined);
        let inputs = [
            vec![0xd4, 0x00, 0x00],
            mp(&Mp::Ext(12, refined.clone())),
            ext8,
            mp(&Mp::Ext(-1, vec![])),
            mp(&Mp::Ext(5, vec![1, 2, 3])),
        ];
        for bytes in inputs {
            for ty in [Type::String, Type::Number, Type::Dynamic, everything_type()] {
                let got = decode_msgpack(&bytes, &ty).unwrap();
                assert_eq!(got, Value::Unknown, "{bytes:x?}");
            }
        }
        assert_eq!(decode_msgpack(&[], &Type::String).unwrap(), Value::Null);
    }

    #[test]
    #[rustfmt::skip]
    fn msgpack_errors_name_the_path() {
        let ty = Type::object([
            ("flag", Type::Bool),
            ("l", Type::list(Type::Number)),
            ("m", Type::map(Type::String)),
            ("o", Type::object([("a", Type::String)])),
            ("t", Type::tuple([Type::String])),
            ("d", Type::Dynamic),
        ]);
        let with = |k: &str, v: Mp| mp(&Mp::Map(vec![(Mp::from(k), v)]));
        let j = |v: Json| mp(&jm(v));
        let deep: Vec<u8> = std::iter::repeat_n(0x91, 10_000).chain([0xc0]).collect();
        let valid = j(json!({"flag": true}));
        let truncated = valid[..valid.len() - 1].to_vec();
        let trailing = [&valid[..], &[0xc0]].concat();
        let bad_key = with("m", Mp::Map(vec![(Mp::from(1), Mp::Nil)]));
        let dup = mp(&Mp::Map(vec![(Mp::from("flag"), Mp::Nil), (Mp::from("flag"), Mp::Nil)]));
        let bad_utf8 = with("o", Mp::Map(vec![(Mp::from("a"), Mp::Binary(vec![0xff]))]));
        let bad_dyn = with("d", Mp::Array(vec![Mp::Binary(b"\"foo\"".to_vec()), Mp::Nil]));
        let cases: Vec<(Vec<u8>, &str, &str)> = vec![
            (j(json!({"flag": "yes"})), "flag", "expected bool, got string"),
            (j(json!({"l": [1, "x"]})), "l[1]", "invalid number \"x\""),
            (j(json!({"l": {}})), "l", "expected list of number, got map"),
            (j(json!({"m": {"k": []}})), "m[\"k\"]", "expected string, got array"),
            (j(json!({"o": [1]})), "o", "expected object, got array"),
            (j(json!({"o": {"zz": null}})), "o", "unsupported attribute \"zz\""),
            (j(json!({"zz": null})), "", "unsupported attribute \"zz\""),
            (j(json!({"t": ["a", "b"]})), "t", "tuple has 2 elements, expected 1"),
            (j(json!({"d": [1]})), "d", "[type, value]"),
            (j(json!({"d": true})), "d", "expected dynamic, got bool"),
            (j(json!({"d": ["\"number\"", "x"]})), "d", "invalid number"),
            (j(json!(1)), "", "expected object, got number"),
            (bad_key, "m", "keys must be strings"),
            (dup, "", "duplicate key"),
            (bad_utf8, "o.a", "UTF-8"),
            (bad_dyn, "d", "unsupported type"),
            (truncated, "", "invalid msgpack"),
            (trailing, "", "1 trailing bytes"),
            (deep, "", "invalid msgpack"),
        ];
        for (bytes, path, msg) in cases {
            let err = decode_msgpack(&bytes, &ty).unwrap_err();
            assert_eq!(err.path.to_string(), path, "{err}");
            assert!(err.message.contains(msg), "{err}");
        }
    }

    #[test]
    fn no_prefix_or_corruption_panics() {
        let ty = everything_type();
        let bytes = encode_msgpack(&everything(), &ty).unwrap();
        for end in 1..bytes.len() {
            assert!(decode_msgpack(&bytes[..end], &ty).is_err(), "prefix {end}");
        }
        for i in 0..bytes.len() {
            for x in [0x00, 0xc0, 0xc1, 0xff, 0xdd, 0xc7, 0x92] {
                let mut b = bytes.clone();
                b[i] = x;
                let _ = decode_msgpack(&b, &ty);
                let _ = decode_json(&b, &ty);
            }
        }
    }

    #[test]
    fn deep_values_are_refused_not_overflowed() {
        let (mut v, mut ty) = (s("x"), Type::String);
        for _ in 0..MAX_DEPTH + 10 {
            v = Value::List(vec![v]);
            ty = Type::list(ty);
        }
        let err = encode_msgpack(&v, &ty).unwrap_err();
        assert!(err.message.contains("too deeply"), "{err}");
        assert!(encode_json(&v, &ty).is_err());
        let json = "[".repeat(10_000);
        assert!(decode_json(json.as_bytes(), &Type::list(Type::String)).is_err());
    }

    #[test]
    #[rustfmt::skip]
    fn encode_errors_name_the_path() {
        let ty = everything_type();
        let with = |name: &str, v: Value| {
            let mut all = everything();
            if let Value::Object(m) = &mut all {
                m.insert(name.to_string(), v);
            }
            all
        };
        let deep_unknown = Value::object([("x", Value::List(vec![Value::object([("y", Value::Unknown)])]))]);
        let cases = [
            (with("b", s("yes")), "b", "expected bool, got string"),
            (with("l", Value::List(vec![int(1)])), "l[0]", "expected string, got number"),
            (with("t", Value::Tuple(vec![s("a")])), "t", "tuple has 1 elements, expected 2"),
            (with("m", Value::List(vec![])), "m", "expected map of bool, got list"),
            (with("zz", int(1)), "", "unsupported attribute \"zz\""),
            (with("n", num(Number::Float(f64::NAN))), "n", "NaN"),
            (with("n", big("ten")), "n", "invalid number ten"),
        ];
        for (v, path, msg) in cases {
            for err in [encode_msgpack(&v, &ty).unwrap_err(), encode_json(&v, &ty).unwrap_err()] {
                assert_eq!(err.path.to_string(), path, "{err}");
                assert!(err.message.contains(msg), "{err}");
            }
        }
        let err = encode_json(&with("o", deep_unknown), &ty).unwrap_err();
        assert_eq!(err.to_string(), "o.x[0].y: unknown values cannot be represented in JSON");
        let err = encode_json(&num(Number::Float(f64::INFINITY)), &Type::Number).unwrap_err();
        assert_eq!(err.message, "inf cannot be represented in JSON");
    }

    #[test]
    #[rustfmt::skip]
    fn json_decoding_details() {
        let ty = Type::object([("a", Type::Number), ("b", Type::String), ("c", Type::Bool)]);
        let pretty = b"{\n  \"a\": 1,\n  \"b\": \"x\"\n}\n";
        let want = Value::object([("a", int(1)), ("b", s("x")), ("c", Value::Null)]);
        assert_eq!(decode_json(pretty, &ty).unwrap(), want);
        // go-cty's JSON decoder converts primitives.
        let lenient = br#"{"a":"12","b":5,"c":"true"}"#;
        let want = Value::object([("a", int(12)), ("b", s("5")), ("c", Value::Bool(true))]);
        assert_eq!(decode_json(lenient, &ty).unwrap(), want);
        let numbers = [
            ("18446744073709551615", big("18446744073709551615")),
            ("0.1", big("0.1")),
            ("2.50", num(Number::Float(2.5))),
            ("-7", int(-7)),
            ("\"1e400\"", big("1e400")),
        ];
        for (text, want) in numbers {
            assert_eq!(decode_json(text.as_bytes(), &Type::Number).unwrap(), want, "{text}");
        }
        assert_eq!(decode_json(b" \n", &ty).unwrap(), Value::Null);
        let errors = [
            (&br#"{"a":1,"zz":2}"#[..], "", "unsupported attribute"),
            (br#"{"a":[1]}"#, "a", "expected number, got array"),
            (br#"{"a":"x"}"#, "a", "invalid number"),
            (br#"{"c":"yes"}"#, "c", "expected bool, got string"),
            (br#"{} x"#, "", "invalid JSON"),
            (br#"{"a":"#, "", "invalid JSON"),
        ];
        for (text, path, msg) in errors {
            let err = decode_json(text, &ty).unwrap_err();
            assert_eq!(err.path.to_string(), path, "{err}");
            assert!(err.message.contains(msg), "{err}");
        }
        let text = br#"{"type":["list","string"],"value":["a"]}"#;
        let want = dynamic(Type::list(Type::String), Value::List(vec![s("a")]));
        assert_eq!(decode_json(text, &Type::Dynamic).unwrap(), want);
        assert!(decode_json(br#"["a"]"#, &Type::Dynamic).is_err());
    }

    #[test]
    #[rustfmt::skip]
    fn value_helpers() {
        let v = everything();
        let at = |p: &str| v.get_path(&AttributePath::parse(p));
        assert!(v.is_wholly_known() && !v.is_null() && !v.is_unknown());
        assert_eq!(at("o.x[0].y").and_then(Value::as_str), Some("z"));
        assert_eq!(at("m[\"k\"]"), Some(&Value::Bool(true)));
        assert_eq!(at("d[0]").and_then(Value::as_i64), Some(7));
        assert_eq!((at("l[9]"), at("l[-1]"), at("m.k"), v.get_attr("nope")), (None, None, None, None));
        assert!(dynamic(Type::String, Value::Null).is_null());
        let partly = Value::Map([("k".into(), Value::List(vec![Value::Unknown]))].into());
        assert!(!partly.is_wholly_known() && !partly.is_unknown());
        assert_eq!(Value::List(vec![Value::Null, s("a")]).infer_type(), Type::list(Type::String));
        let tuple = Value::object([("a", Value::Tuple(vec![int(1)]))]);
        assert_eq!(tuple.infer_type(), Type::object([("a", Type::tuple([Type::Number]))]));
        assert_eq!(Value::from(2.0), int(2));
        assert_eq!(Value::from(true).as_bool(), Some(true));
        assert_eq!(ValueError::new(AttributePath::parse("a[0]"), "bad").to_string(), "a[0]: bad");
        assert_eq!(ValueError::at_root("bad").to_string(), "bad");
    }
}
