//! Attribute paths: where in a value something is, rendered the way Terraform
//! renders them (`primary.cidr_block`, `subnets[0]`, `tags["Name"]`).

use std::fmt;

/// One step of an [`AttributePath`].
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum PathStep {
    /// An object attribute (or nested block) by name.
    Attr(String),
    /// A map element by key.
    Key(String),
    /// A list, tuple or set element by position.
    Index(i64),
}

/// A path from the root of a value to one of its parts; empty is the root.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct AttributePath(pub Vec<PathStep>);

impl AttributePath {
    pub fn root() -> Self {
        Self::default()
    }

    /// This path extended by one step.
    pub fn step(&self, step: PathStep) -> Self {
        let mut steps = self.0.clone();
        steps.push(step);
        Self(steps)
    }

    pub fn attr(&self, name: &str) -> Self {
        self.step(PathStep::Attr(name.to_string()))
    }

    pub fn key(&self, k: &str) -> Self {
        self.step(PathStep::Key(k.to_string()))
    }

    pub fn index(&self, i: i64) -> Self {
        self.step(PathStep::Index(i))
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn steps(&self) -> &[PathStep] {
        &self.0
    }

    /// Whether `self` is `other` or lies inside it.
    pub fn starts_with(&self, other: &AttributePath) -> bool {
        self.0.starts_with(&other.0)
    }

    /// Parses the rendered form back: `primary.cidr_block`, `a[0]`,
    /// `m["k"]`. Lenient: a bracketed step that is neither an integer nor a
    /// quoted string becomes a key with its raw text, and stray separators
    /// are skipped.
    pub fn parse(s: &str) -> Self {
        let mut steps = Vec::new();
        let mut rest = s;
        while let Some(c) = rest.chars().next() {
            match c {
                '.' => rest = &rest[1..],
                '[' => {
                    let (step, tail) = parse_bracket(&rest[1..]);
                    steps.push(step);
                    rest = tail;
                }
                _ => {
                    let end = rest.find(['.', '[']).unwrap_or(rest.len());
                    steps.push(PathStep::Attr(rest[..end].to_string()));
                    rest = &rest[end..];
                }
            }
        }
        Self(steps)
    }
}

/// Parses what follows a `[`: a quoted key or an index, up to and including
/// the closing `]`.
fn parse_bracket(s: &str) -> (PathStep, &str) {
    if let Some(body) = s.strip_prefix('"') {
        // Find the closing quote, honouring backslash escapes.
        let mut escaped = false;
        for (i, c) in s.char_indices().skip(1) {
            match c {
                '\\' if !escaped => escaped = true,
                '"' if !escaped => {
                    let quoted = &s[..=i];
                    let key = serde_json::from_str::<String>(quoted)
                        .unwrap_or_else(|_| quoted[1..quoted.len() - 1].to_string());
                    let tail = &s[i + 1..];
                    return (PathStep::Key(key), tail.strip_prefix(']').unwrap_or(tail));
                }
                _ => escaped = false,
            }
        }
        return (PathStep::Key(body.to_string()), "");
    }
    let end = s.find(']').unwrap_or(s.len());
    let raw = s[..end].trim();
    let step = raw
        .parse::<i64>()
        .map(PathStep::Index)
        .unwrap_or_else(|_| PathStep::Key(raw.to_string()));
    (step, s.get(end + 1..).unwrap_or(""))
}

impl fmt::Display for PathStep {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PathStep::Attr(name) => write!(f, ".{name}"),
            PathStep::Key(k) => {
                let quoted = serde_json::to_string(k).map_err(|_| fmt::Error)?;
                write!(f, "[{quoted}]")
            }
            PathStep::Index(i) => write!(f, "[{i}]"),
        }
    }
}

impl fmt::Display for AttributePath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, step) in self.0.iter().enumerate() {
            match step {
                PathStep::Attr(name) if i == 0 => f.write_str(name)?,
                _ => write!(f, "{step}")?,
            }
        }
        Ok(())
    }
}

impl From<Vec<PathStep>> for AttributePath {
    fn from(steps: Vec<PathStep>) -> Self {
        Self(steps)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builds_and_renders() {
        let cases = [
            (AttributePath::root(), ""),
            (AttributePath::root().attr("id"), "id"),
            (
                AttributePath::root().attr("primary").attr("cidr_block"),
                "primary.cidr_block",
            ),
            (AttributePath::root().attr("subnets").index(0), "subnets[0]"),
            (
                AttributePath::root().attr("tags").key("Name"),
                r#"tags["Name"]"#,
            ),
            (
                AttributePath::root()
                    .attr("m")
                    .key("a\"b")
                    .attr("x")
                    .index(-1),
                r#"m["a\"b"].x[-1]"#,
            ),
            (AttributePath::root().index(2).attr("a"), "[2].a"),
        ];
        for (path, text) in cases {
            assert_eq!(path.to_string(), text);
            assert_eq!(AttributePath::parse(text), path, "parse {text}");
        }
    }

    #[test]
    fn parse_is_lenient() {
        let cases = [
            ("a[x]", AttributePath::root().attr("a").key("x")),
            (
                "a[\"unterminated",
                AttributePath::root().attr("a").key("unterminated"),
            ),
            ("a..b", AttributePath::root().attr("a").attr("b")),
            ("a[3", AttributePath::root().attr("a").index(3)),
            (
                "m[\"k.[]\"].v",
                AttributePath::root().attr("m").key("k.[]").attr("v"),
            ),
        ];
        for (text, want) in cases {
            assert_eq!(AttributePath::parse(text), want, "parse {text}");
        }
    }

    #[test]
    fn helpers() {
        let p = AttributePath::root().attr("a").index(1);
        assert!(!p.is_empty());
        assert!(AttributePath::root().is_empty());
        assert_eq!(p.len(), 2);
        assert!(p.starts_with(&AttributePath::root().attr("a")));
        assert!(!p.starts_with(&AttributePath::root().attr("b")));
        assert_eq!(p.steps()[1], PathStep::Index(1));
    }
}
