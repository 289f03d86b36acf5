//! Provider functions: `provider::drpair::rto_budget(...)`,
//! `provider::drpair::rto_breakdown(...)` and `provider::drpair::dr_name(...)`,
//! for users composing their own resources with drpair's rules. The RTO
//! figures live in [`rto`], shared with the resources that depend on them.

pub mod rto;

use crate::framework::function::{Function, FunctionError, Parameter, Signature};
use crate::framework::value::{Number, Value};
use crate::framework::Type;
use crate::framework::{AttributePath, Diagnostics};
use crate::provider::{validate_environment, DEFAULT_NAME_VERSION};
use std::sync::Arc;

pub use rto::{rto_budget_seconds, RtoBudget, ALIAS_TTL_SECONDS, PROMOTION_ALLOWANCE_SECONDS};

/// `{name}-{version}-{environment}`, the naming rule of database-related
/// objects (see MIGRATION.md).
pub fn dr_name(name: &str, version: &str, environment: &str) -> String {
    format!("{name}-{version}-{environment}")
}

pub fn functions() -> Vec<Arc<dyn Function>> {
    vec![
        Arc::new(RtoBudgetFn),
        Arc::new(RtoBreakdown),
        Arc::new(DrName),
    ]
}

struct RtoBudgetFn;

fn whole_number(args: &[Value], i: usize, name: &str, min: i64) -> Result<i64, FunctionError> {
    let n = args[i].as_i64().ok_or_else(|| {
        FunctionError::argument(
            i,
            format!("{name} must be a whole number of seconds or checks"),
        )
    })?;
    if n < min {
        return Err(FunctionError::argument(
            i,
            format!("{name} must be at least {min}, got {n}"),
        ));
    }
    Ok(n)
}

impl Function for RtoBudgetFn {
    fn name(&self) -> &'static str {
        "rto_budget"
    }

    fn signature(&self) -> Signature {
        Signature {
            summary: "Worst-case recovery time of a DNS failover".into(),
            description: "Returns `request_interval × failure_threshold + ttl_seconds + promotion_seconds`: the seconds from the primary failing until Route 53 has detected it, resolvers have dropped the cached answer, and the DR database accepts writes. Compare it with the RTO target (300 s for the payment system). This is the DNS path alone; `rto_breakdown` adds the failover orchestrator's stages (detection, confirmation, scale-up).".into(),
            parameters: vec![
                Parameter::new("request_interval", Type::Number, "Seconds between Route 53 health checks (10 or 30)."),
                Parameter::new("failure_threshold", Type::Number, "Consecutive failed checks before the endpoint is unhealthy (1-10)."),
                Parameter::new("ttl_seconds", Type::Number, "DNS TTL of the record (alias records: 60)."),
                Parameter::new("promotion_seconds", Type::Number, "Time to promote the DR database (drpair_failover_dns assumes 120; 0 gives the DNS path alone)."),
            ],
            variadic: None,
            returns: Type::Number,
        }
    }

    fn call(&self, args: &[Value]) -> Result<Value, FunctionError> {
        let interval = whole_number(args, 0, "request_interval", 1)?;
        if interval != 10 && interval != 30 {
            return Err(FunctionError::argument(
                0,
                format!("request_interval must be 10 or 30 (Route 53's intervals), got {interval}"),
            ));
        }
        let threshold = whole_number(args, 1, "failure_threshold", 1)?;
        if threshold > 10 {
            return Err(FunctionError::argument(
                1,
                format!("failure_threshold must be at most 10, got {threshold}"),
            ));
        }
        let ttl = whole_number(args, 2, "ttl_seconds", 0)?;
        let promotion = whole_number(args, 3, "promotion_seconds", 0)?;
        Ok(Value::Number(Number::Int(rto_budget_seconds(
            interval, threshold, ttl, promotion,
        ))))
    }
}

struct RtoBreakdown;

fn breakdown_type() -> Type {
    Type::Object(
        RtoBudget::new(1, 0)
            .fields()
            .iter()
            .map(|(name, _)| (name.to_string(), Type::Number))
            .collect(),
    )
}

impl Function for RtoBreakdown {
    fn name(&self) -> &'static str {
        "rto_breakdown"
    }

    fn signature(&self) -> Signature {
        Signature {
            summary: "Worst-case recovery time of an automatic failover, stage by stage".into(),
            description: format!("Returns the stages of a failover by drpair_failover_orchestrator, as its `rto_budget` attribute shows them (seconds):\n\n{}\n\nE.g. `rto_breakdown(2, 90).total_seconds` is 220. Compare `total_seconds` with the RTO target (300 s for the payment system).", rto::breakdown_description()),
            parameters: vec![
                Parameter::new("consecutive_failures", Type::Number, "Failed probes in a row before the orchestrator acts (1-10; drpair_failover_orchestrator's `consecutive_failures`, default 2)."),
                Parameter::new("dns_failover_seconds", Type::Number, "Route 53 detection + alias TTL (drpair_failover_dns's `dns_failover_seconds`; 90 with 10 s checks × 3 failures)."),
            ],
            variadic: None,
            returns: breakdown_type(),
        }
    }

    fn call(&self, args: &[Value]) -> Result<Value, FunctionError> {
        let failures = whole_number(args, 0, "consecutive_failures", 1)?;
        if failures > 10 {
            return Err(FunctionError::argument(
                0,
                format!("consecutive_failures must be at most 10, got {failures}"),
            ));
        }
        let dns = whole_number(args, 1, "dns_failover_seconds", 0)?;
        Ok(Value::Object(
            RtoBudget::new(failures, dns)
                .fields()
                .iter()
                .map(|(name, n)| (name.to_string(), Value::Number(Number::Int(*n))))
                .collect(),
        ))
    }
}

struct DrName;

impl Function for DrName {
    fn name(&self) -> &'static str {
        "dr_name"
    }

    fn signature(&self) -> Signature {
        Signature {
            summary: "The v2 name of a database-related object".into(),
            description: "Returns `{name}-v2-{environment}`, e.g. `dr_name(\"primary-db-cluster\", \"dev\")` is `primary-db-cluster-v2-dev`: the naming scheme drpair uses for database-related objects so that a v2 stack can run beside a v1 one (see MIGRATION.md).".into(),
            parameters: vec![
                Parameter::new("name", Type::String, "Base name, e.g. `primary-db-cluster`."),
                Parameter::new("environment", Type::String, "Environment, e.g. `dev`, as the provider's `environment` takes it: 1-20 lowercase letters, digits or single hyphens, starting with a letter."),
            ],
            variadic: None,
            returns: Type::String,
        }
    }

    fn call(&self, args: &[Value]) -> Result<Value, FunctionError> {
        let text = |i: usize, what: &str| {
            args[i].as_str().filter(|s| !s.is_empty()).ok_or_else(|| {
                FunctionError::argument(i, format!("{what} must be a non-empty string"))
            })
        };
        let name = text(0, "name")?;
        let environment = text(1, "environment")?;
        let mut diags = Diagnostics::new();
        validate_environment(environment, &AttributePath::root(), &mut diags);
        if let Some(problem) = diags.iter().next() {
            return Err(FunctionError::argument(1, problem.detail.clone()));
        }
        Ok(Value::String(dr_name(
            name,
            DEFAULT_NAME_VERSION,
            environment,
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn n(v: i64) -> Value {
        Value::Number(Number::Int(v))
    }

    #[test]
    fn rto_budget_table() {
        let cases = [
            ((10, 3, 60, 120), Ok(210)),
            ((30, 10, 60, 120), Ok(480)),
            ((10, 0, 60, 120), Err(1)),
            ((10, 3, -1, 120), Err(2)),
            ((15, 3, 60, 120), Err(0)),
            ((10, 11, 60, 120), Err(1)),
        ];
        for ((i, t, ttl, p), want) in cases {
            let got = RtoBudgetFn.call(&[n(i), n(t), n(ttl), n(p)]);
            match want {
                Ok(v) => assert_eq!(got, Ok(n(v))),
                Err(arg) => assert_eq!(got.unwrap_err().argument, Some(arg)),
            }
        }
    }

    #[test]
    fn rto_breakdown_is_the_orchestrators_budget() {
        let got = RtoBreakdown.call(&[n(2), n(90)]).unwrap();
        assert_eq!(got.get_attr("total_seconds"), Some(&n(220)));
        assert_eq!(got.get_attr("scale_up_seconds"), Some(&n(90)));
        assert_eq!(got.get_attr("detection_seconds"), Some(&n(120)));
        assert_eq!(
            RtoBreakdown.call(&[n(0), n(90)]).unwrap_err().argument,
            Some(0)
        );
        assert_eq!(
            RtoBreakdown.call(&[n(11), n(90)]).unwrap_err().argument,
            Some(0)
        );
        assert_eq!(
            RtoBreakdown.call(&[n(2), n(-1)]).unwrap_err().argument,
            Some(1)
        );
        let Type::Object(fields) = breakdown_type() else {
            panic!("not an object")
        };
        assert_eq!(fields.len(), 6);
    }

    #[test]
    fn dr_name_follows_the_v2_rule() {
        let got = DrName.call(&[
            Value::String("primary-db-cluster".into()),
            Value::String("dev".into()),
        ]);
        assert_eq!(got, Ok(Value::String("primary-db-cluster-v2-dev".into())));
        assert!(DrName
            .call(&[Value::String(String::new()), Value::String("dev".into())])
            .is_err());
        let bad_environment = DrName
            .call(&[
                Value::String("primary-db-cluster".into()),
                Value::String("Prod!".into()),
            ])
            .unwrap_err();
        assert_eq!(bad_environment.argument, Some(1));
    }
}
