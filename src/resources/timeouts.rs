//! The `timeouts` attribute every long-running resource takes: one deadline
//! per operation, shared by every AWS call and waiter in both regions.

use crate::aws::Deadline;
use crate::framework::schema::{Attribute, Nesting};
use crate::framework::{AttributePath, Diagnostics, Val};
use serde::{Deserialize, Serialize};
use std::time::Duration;

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Timeouts {
    pub create: Val<String>,
    pub update: Val<String>,
    pub delete: Val<String>,
}

pub fn attribute(defaults: &str) -> Attribute {
    Attribute::nested(
        "timeouts",
        Nesting::Single,
        vec![
            Attribute::string("create").optional().description("How long a create may take, e.g. `45m`."),
            Attribute::string("update").optional().description("How long an update may take."),
            Attribute::string("delete").optional().description("How long a destroy may take."),
        ],
    )
    .optional()
    .description(format!(
        "Deadlines for long operations, as Go-style durations (`90s`, `30m`, `1h30m`). Defaults: {defaults}."
    ))
}

/// Parses `1h30m`, `45m`, `90s`.
pub fn parse_duration(s: &str) -> Option<Duration> {
    let mut total = 0u64;
    let mut digits = String::new();
    for c in s.trim().chars() {
        if c.is_ascii_digit() {
            digits.push(c);
            continue;
        }
        let n: u64 = digits.parse().ok()?;
        digits.clear();
        total += n * match c {
            'h' => 3600,
            'm' => 60,
            's' => 1,
            _ => return None,
        };
    }
    (digits.is_empty() && total > 0).then(|| Duration::from_secs(total))
}

pub fn validate(t: &Val<Timeouts>, path: &AttributePath, diags: &mut Diagnostics) {
    let Val::Known(t) = t else { return };
    for (name, v) in [
        ("create", &t.create),
        ("update", &t.update),
        ("delete", &t.delete),
    ] {
        if let Val::Known(s) = v {
            if parse_duration(s).is_none() {
                diags.error_at(
                    path.attr(name),
                    "Invalid timeout",
                    format!("{s:?} is not a duration such as \"30m\", \"1h30m\" or \"90s\"."),
                );
            }
        }
    }
}

#[derive(Clone, Copy)]
pub enum Operation {
    Create,
    Update,
    Delete,
}

/// The deadline of one operation: the configured timeout or the default.
pub fn deadline(t: &Val<Timeouts>, op: Operation, default: Duration) -> Deadline {
    let configured = t.known().and_then(|t| match op {
        Operation::Create => t.create.known(),
        Operation::Update => t.update.known(),
        Operation::Delete => t.delete.known(),
    });
    Deadline::after(
        configured
            .and_then(|s| parse_duration(s))
            .unwrap_or(default),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        let cases = [
            ("90s", Some(90)),
            ("30m", Some(1800)),
            ("1h30m", Some(5400)),
            ("2h", Some(7200)),
            ("", None),
            ("10", None),
            ("5x", None),
            ("0s", None),
        ];
        for (input, want) in cases {
            assert_eq!(parse_duration(input).map(|d| d.as_secs()), want, "{input}");
        }
    }
}
