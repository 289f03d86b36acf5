//! Logs as hclog JSON lines on stderr, which Terraform re-emits under TF_LOG
//! at the right level (PROTOCOL.md §2): `@level`, `@message`, `@module` and a
//! `@timestamp` with exactly six fractional digits.

use std::io::Write;
use std::time::{SystemTime, UNIX_EPOCH};
use tracing::field::{Field, Visit};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::layer::{Context, Layer};
use tracing_subscriber::prelude::*;

/// Installs the stderr logger. The level follows `TF_LOG_PROVIDER` or
/// `TF_LOG` (Terraform filters again on its side); the AWS SDK's own logs are
/// only passed at TRACE because they are very chatty.
pub fn init() {
    let level = std::env::var("TF_LOG_PROVIDER")
        .or_else(|_| std::env::var("TF_LOG"))
        .ok()
        .and_then(|v| parse_level(&v))
        .unwrap_or(Level::INFO);
    let _ = tracing_subscriber::registry()
        .with(HclogLayer { level })
        .try_init();
}

fn parse_level(v: &str) -> Option<Level> {
    match v.trim().to_ascii_lowercase().as_str() {
        "trace" | "json" => Some(Level::TRACE),
        "debug" => Some(Level::DEBUG),
        "info" => Some(Level::INFO),
        "warn" => Some(Level::WARN),
        "error" => Some(Level::ERROR),
        _ => None,
    }
}

pub struct HclogLayer {
    level: Level,
}

impl<S: Subscriber> Layer<S> for HclogLayer {
    fn enabled(&self, meta: &tracing::Metadata<'_>, _ctx: Context<'_, S>) -> bool {
        let ours = is_ours(meta.target());
        let limit = if ours || self.level == Level::TRACE {
            self.level
        } else {
            Level::WARN
        };
        *meta.level() <= limit
    }

    fn on_event(&self, event: &Event<'_>, _ctx: Context<'_, S>) {
        let line = format_event(event);
        let mut err = std::io::stderr().lock();
        let _ = writeln!(err, "{line}");
    }
}

fn format_event(event: &Event<'_>) -> String {
    let meta = event.metadata();
    let mut fields = JsonFields::default();
    event.record(&mut fields);
    let mut obj = serde_json::Map::new();
    obj.insert("@level".into(), level_name(meta.level()).into());
    obj.insert("@message".into(), fields.message.unwrap_or_default().into());
    obj.insert("@module".into(), module_name(meta.target()).into());
    obj.insert("@timestamp".into(), timestamp(SystemTime::now()).into());
    for (k, v) in fields.other {
        obj.insert(k, v);
    }
    serde_json::Value::Object(obj).to_string()
}

fn level_name(l: &Level) -> &'static str {
    match *l {
        Level::TRACE => "trace",
        Level::DEBUG => "debug",
        Level::INFO => "info",
        Level::WARN => "warn",
        Level::ERROR => "error",
    }
}

/// The library's modules and the provider binary's own.
fn is_ours(target: &str) -> bool {
    target.starts_with("drpair") || target.starts_with("terraform_provider_drpair")
}

fn module_name(target: &str) -> String {
    if is_ours(target) {
        "drpair".to_string()
    } else {
        target.split("::").next().unwrap_or(target).to_string()
    }
}

#[derive(Default)]
struct JsonFields {
    message: Option<String>,
    other: Vec<(String, serde_json::Value)>,
}

impl Visit for JsonFields {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.put(field, format!("{value:?}").into());
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        self.put(field, value.into());
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.put(field, value.into());
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        self.put(field, value.into());
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        self.put(field, value.into());
    }
}

impl JsonFields {
    fn put(&mut self, field: &Field, value: serde_json::Value) {
        if field.name() == "message" {
            self.message = Some(match value {
                serde_json::Value::String(s) => s,
                other => other.to_string(),
            });
        } else {
            self.other.push((field.name().to_string(), value));
        }
    }
}

/// RFC 3339 in UTC with microseconds: `2006-01-02T15:04:05.000000Z`.
pub fn timestamp(t: SystemTime) -> String {
    let d = t.duration_since(UNIX_EPOCH).unwrap_or_default();
    let secs = d.as_secs() as i64;
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    let (y, m, day) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{day:02}T{:02}:{:02}:{:02}.{:06}Z",
        rem / 3600,
        (rem % 3600) / 60,
        rem % 60,
        d.subsec_micros()
    )
}

/// Howard Hinnant's days-to-civil algorithm.
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn timestamps_have_six_fraction_digits() {
        let cases = [
            (0u64, 0u32, "1970-01-01T00:00:00.000000Z"),
            (951_782_400, 5_000, "2000-02-29T00:00:00.000005Z"),
            (1_795_503_607, 123_456_789, "2026-11-24T07:00:07.123456Z"),
        ];
        for (secs, nanos, want) in cases {
            let t = UNIX_EPOCH + Duration::new(secs, nanos);
            assert_eq!(timestamp(t), want);
        }
    }

    #[test]
    fn levels_parse_like_terraform() {
        assert_eq!(parse_level("TRACE"), Some(Level::TRACE));
        assert_eq!(parse_level("json"), Some(Level::TRACE));
        assert_eq!(parse_level("off"), None);
    }
}
