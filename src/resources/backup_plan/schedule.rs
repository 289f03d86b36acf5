//! The syntax of schedule expressions, checked at plan time: AWS cron expressions
//! (`cron(minutes hours day-of-month month day-of-week year)`) and rate expressions
//! (`rate(N unit)`). AWS Backup takes cron only, at most once an hour; a well-formed rate
//! expression is refused with the cron expression to use instead.

/// Checks a backup schedule; Err says what is wrong and how to write it.
pub fn validate_backup_schedule(expr: &str) -> Result<(), String> {
    let expr = expr.trim();
    if let Some(body) = inner(expr, "rate") {
        let (n, unit) = parse_rate(body)?;
        let instead = match (n, unit) {
            (1, Unit::Hours) => "cron(0 * * * ? *)".to_owned(),
            (n, Unit::Hours) if 24 % n == 0 => format!("cron(0 */{n} * * ? *)"),
            (1, Unit::Days) => "cron(0 5 * * ? *)".to_owned(),
            (7, Unit::Days) => "cron(0 5 ? * SUN *)".to_owned(),
            (_, Unit::Minutes) => {
                return Err(format!(
                    "{expr} is a valid rate expression, but AWS Backup takes cron expressions only, and runs a rule at most once an hour; use e.g. cron(0 * * * ? *) for hourly backups"
                ))
            }
            _ => "a cron expression such as cron(0 5 * * ? *) (daily at 05:00 UTC)".to_owned(),
        };
        return Err(format!(
            "{expr} is a valid rate expression, but AWS Backup takes cron expressions only; use {instead}"
        ));
    }
    let Some(body) = inner(expr, "cron") else {
        return Err(format!(
            "{expr:?} is not a schedule expression; write cron(minutes hours day-of-month month day-of-week year), e.g. cron(0 5 * * ? *) for daily at 05:00 UTC"
        ));
    };
    let fields = parse_cron(body)?;
    let minutes = fields[0];
    if minutes.parse::<u8>().is_err() {
        return Err(format!(
            "{expr}: the minutes field is {minutes:?}; AWS Backup runs a rule at most once an hour, so it must be a single minute (0-59), e.g. cron(0 * * * ? *)"
        ));
    }
    Ok(())
}

fn inner<'a>(expr: &'a str, name: &str) -> Option<&'a str> {
    expr.strip_prefix(name)?
        .trim_start()
        .strip_prefix('(')?
        .strip_suffix(')')
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Unit {
    Minutes,
    Hours,
    Days,
}

/// `N unit`: a positive integer, and `minute`/`hour`/`day` (singular for 1, plural otherwise).
fn parse_rate(body: &str) -> Result<(u32, Unit), String> {
    let parts: Vec<&str> = body.split_whitespace().collect();
    let [n, unit] = parts.as_slice() else {
        return Err(format!(
            "rate({body}) must be rate(N unit), e.g. rate(1 hour) or rate(12 hours)"
        ));
    };
    let n: u32 = n
        .parse()
        .ok()
        .filter(|n| *n > 0)
        .ok_or_else(|| format!("rate({body}): {n:?} is not a positive whole number"))?;
    let (singular, unit) = match *unit {
        "minute" => (true, Unit::Minutes),
        "minutes" => (false, Unit::Minutes),
        "hour" => (true, Unit::Hours),
        "hours" => (false, Unit::Hours),
        "day" => (true, Unit::Days),
        "days" => (false, Unit::Days),
        other => {
            return Err(format!(
                "rate({body}): the unit {other:?} must be minute(s), hour(s) or day(s)"
            ))
        }
    };
    if singular != (n == 1) {
        return Err(format!(
            "rate({body}): use the singular unit for 1 and the plural otherwise"
        ));
    }
    Ok((n, unit))
}

const MONTHS: [&str; 12] = [
    "JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC",
];
const DAYS: [&str; 7] = ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"];

struct Field {
    name: &'static str,
    min: u32,
    max: u32,
    names: &'static [&'static str],
    /// Extra tokens allowed: `?`, `L`, `W`, `#`.
    question: bool,
    last: bool,
    weekday: bool,
    nth: bool,
}

const FIELDS: [Field; 6] = [
    Field {
        name: "minutes",
        min: 0,
        max: 59,
        names: &[],
        question: false,
        last: false,
        weekday: false,
        nth: false,
    },
    Field {
        name: "hours",
        min: 0,
        max: 23,
        names: &[],
        question: false,
        last: false,
        weekday: false,
        nth: false,
    },
    Field {
        name: "day-of-month",
        min: 1,
        max: 31,
        names: &[],
        question: true,
        last: true,
        weekday: true,
        nth: false,
    },
    Field {
        name: "month",
        min: 1,
        max: 12,
        names: &MONTHS,
        question: false,
        last: false,
        weekday: false,
        nth: false,
    },
    Field {
        name: "day-of-week",
        min: 1,
        max: 7,
        names: &DAYS,
        question: true,
        last: true,
        weekday: false,
        nth: true,
    },
    Field {
        name: "year",
        min: 1970,
        max: 2199,
        names: &[],
        question: false,
        last: false,
        weekday: false,
        nth: false,
    },
];

/// The six fields of a cron body, each checked.
fn parse_cron(body: &str) -> Result<Vec<&str>, String> {
    let fields: Vec<&str> = body.split_whitespace().collect();
    if fields.len() != 6 {
        return Err(format!(
            "cron({body}) has {} fields; AWS cron expressions have 6: minutes hours day-of-month month day-of-week year, e.g. cron(0 5 * * ? *)",
            fields.len()
        ));
    }
    for (value, field) in fields.iter().zip(FIELDS.iter()) {
        check_field(value, field).map_err(|why| format!("cron({body}): {}: {why}", field.name))?;
    }
    let (dom, dow) = (fields[2], fields[4]);
    if (dom == "?") == (dow == "?") {
        return Err(format!(
            "cron({body}): exactly one of day-of-month ({dom}) and day-of-week ({dow}) must be '?'"
        ));
    }
    Ok(fields)
}

fn check_field(value: &str, f: &Field) -> Result<(), String> {
    if value == "?" {
        return if f.question {
            Ok(())
        } else {
            Err("'?' is only allowed in day-of-month and day-of-week".into())
        };
    }
    for item in value.split(',') {
        check_item(item, f)?;
    }
    Ok(())
}

fn number(token: &str, f: &Field) -> Result<u32, String> {
    let n = match token.parse::<u32>() {
        Ok(n) => n,
        Err(_) => match f.names.iter().position(|n| n.eq_ignore_ascii_case(token)) {
            Some(i) => i as u32 + 1,
            None => return Err(format!("{token:?} is not a value")),
        },
    };
    if (f.min..=f.max).contains(&n) {
        Ok(n)
    } else {
        Err(format!("{n} is outside {}-{}", f.min, f.max))
    }
}

fn check_item(item: &str, f: &Field) -> Result<(), String> {
    if item.is_empty() {
        return Err("empty list item".into());
    }
    if f.last
        && (item == "L"
            || (f.name == "day-of-week"
                && item.ends_with('L')
                && number(&item[..item.len() - 1], f).is_ok()))
    {
        return Ok(());
    }
    if f.weekday
        && (item == "LW" || (item.ends_with('W') && number(&item[..item.len() - 1], f).is_ok()))
    {
        return Ok(());
    }
    if f.nth {
        if let Some((day, nth)) = item.split_once('#') {
            number(day, f)?;
            return match nth.parse::<u32>() {
                Ok(1..=5) => Ok(()),
                _ => Err(format!("{item:?}: the week after '#' must be 1-5")),
            };
        }
    }
    let (range, step) = match item.split_once('/') {
        Some((r, s)) => (r, Some(s)),
        None => (item, None),
    };
    if let Some(step) = step {
        match step.parse::<u32>() {
            Ok(s) if s >= 1 => {}
            _ => {
                return Err(format!(
                    "{item:?}: the increment after '/' must be a positive number"
                ))
            }
        }
    }
    if range == "*" {
        return Ok(());
    }
    match range.split_once('-') {
        Some((a, b)) => {
            number(a, f)?;
            number(b, f)?;
        }
        None => {
            number(range, f)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepted_schedules() {
        for expr in [
            "cron(0 5 ? * * *)",
            "cron(0 * * * ? *)",
            "cron(15 */4 * * ? *)",
            "cron(0 12 * * ? *)",
            "cron(30 2 ? * MON-FRI *)",
            "cron(0 3 L * ? *)",
            "cron(0 3 ? * 6#3 *)",
            "cron(0 0 1,15 JAN,JUL ? 2030-2040)",
            " cron(0 5 ? * SUN *) ",
        ] {
            assert_eq!(validate_backup_schedule(expr), Ok(()), "{expr}");
        }
    }

    #[test]
    fn refused_schedules_say_why() {
        for (expr, why) in [
            ("cron(0 5 * * *)", "has 5 fields"),
            ("cron(0 24 * * ? *)", "hours: 24 is outside 0-23"),
            ("cron(0 5 * * * *)", "exactly one of day-of-month"),
            ("cron(0 5 ? * ? *)", "exactly one of day-of-month"),
            ("cron(*/5 * * * ? *)", "at most once an hour"),
            ("cron(0,30 * * * ? *)", "at most once an hour"),
            ("cron(0 5 ? FOO * *)", "month"),
            ("cron(0 5 ? * 8 *)", "day-of-week: 8 is outside 1-7"),
            ("cron(0 5 ? * 2#6 *)", "1-5"),
            ("cron(0 5 * * ? 1960)", "year"),
            ("cron(0 ? * * ? *)", "'?' is only allowed"),
            ("0 5 * * ? *", "not a schedule expression"),
            ("rate(1 hour)", "use cron(0 * * * ? *)"),
            ("rate(12 hours)", "use cron(0 */12 * * ? *)"),
            ("rate(1 day)", "use cron(0 5 * * ? *)"),
            ("rate(5 minutes)", "at most once an hour"),
            ("rate(1 hours)", "singular"),
            ("rate(0 hours)", "positive"),
            ("rate(2 weeks)", "minute(s), hour(s) or day(s)"),
        ] {
            let err = validate_backup_schedule(expr).expect_err(expr);
            assert!(err.contains(why), "{expr}: {err}");
        }
    }
}
