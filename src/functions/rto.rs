//! The RTO budget: how long each stage of an automatic failover takes in the worst case, from
//! the moment the primary region fails. One place for the figures, shared by
//! `drpair_failover_orchestrator` (its `rto_budget` attribute and plan check),
//! `drpair_app_tier` (the target group's health check timing), `drpair_failover_dns` (the DNS
//! path) and the `rto_budget` / `rto_breakdown` provider functions. The emulator's modeled
//! durations (`scripts/emulator_ext`, docs/EMULATOR.md) use the same values, so the budget
//! shown at plan time is what the game day measures.
//!
//! Two paths run in parallel after the primary fails:
//!
//! - the **critical path** (the database and the capacity): the orchestrator's schedule sees
//!   `consecutive_failures` failed probes in a row (detection), confirms with live probes right
//!   before it acts (confirmation), calls `FailoverGlobalCluster` and, right after, scales the DR
//!   group; promotion and scale-up then run side by side:
//!   `detection + confirmation + max(promotion, scale_up)`;
//! - the **DNS path**: Route 53's health checkers mark the primary unhealthy
//!   (`request_interval × failure_threshold`) and resolvers drop the cached alias answer (TTL).
//!
//! Clients write in the DR region once both are done: `total = max(dns, critical path)`.

/// The orchestrator probes the primary once per scheduled invocation (`rate(1 minute)`).
pub const PROBE_PERIOD_SECONDS: i64 = 60;
/// Live probes of the primary's endpoint right before `FailoverGlobalCluster`...
pub const CONFIRM_PROBES: i64 = 3;
/// ...spaced this far apart.
pub const CONFIRM_SPACING_SECONDS: i64 = 5;
/// Aurora global database unplanned failover (`AllowDataLoss`) until the DR cluster is the
/// writer and `available`: typically a minute ("Recovering an Amazon Aurora global database
/// from an unplanned outage").
pub const FAILOVER_SECONDS: i64 = 60;
/// An EC2 instance launched by the Auto Scaling group until it is `InService`.
pub const BOOT_SECONDS: i64 = 60;
/// The target group's health check interval (AWS default 30; range 5-300)...
pub const TARGET_HEALTH_INTERVAL_SECONDS: i64 = 10;
/// ...consecutive successes before a target is healthy (AWS default 5; range 2-10)...
pub const TARGET_HEALTHY_THRESHOLD: i64 = 3;
/// ...and consecutive failures before it is unhealthy (AWS default 2; range 2-10).
pub const TARGET_UNHEALTHY_THRESHOLD: i64 = 3;
/// Route 53 gives alias records of load balancers a fixed 60 s TTL.
pub const ALIAS_TTL_SECONDS: i64 = 60;
/// drpair_failover_dns's default health check: fast checks (10 s)...
pub const DNS_REQUEST_INTERVAL_SECONDS: i64 = 10;
/// ...and 3 failures before a region is unhealthy.
pub const DNS_FAILURE_THRESHOLD: i64 = 3;
/// What drpair_failover_dns's own RTO check reserves for promoting the DR database. That
/// check does not see the orchestrator, so it keeps twice the typical failover time.
pub const PROMOTION_ALLOWANCE_SECONDS: i64 = 2 * FAILOVER_SECONDS;

/// The orchestrator confirms that replication stopped when the DR cluster has reported no
/// `AuroraGlobalDBReplicationLag` datapoint for this long (`STALL_SECONDS` of the Lambda's
/// `signals.py`; Aurora reports the lag once a minute).
pub const REPLICATION_STALL_SECONDS: i64 = 120;

/// Seconds until the orchestrator decides: its schedule has seen `consecutive_failures`
/// failed probes, and the DR region has seen replication stall (whichever comes last; the
/// orchestrator keeps probing within one invocation while the stall window closes).
pub fn detection_seconds(consecutive_failures: i64) -> i64 {
    (PROBE_PERIOD_SECONDS * consecutive_failures).max(REPLICATION_STALL_SECONDS)
}

/// The confirming probes right before the failover: the first one at once, then one every
/// `CONFIRM_SPACING_SECONDS`.
pub const fn confirmation_seconds() -> i64 {
    (CONFIRM_PROBES - 1) * CONFIRM_SPACING_SECONDS
}

/// A new target is healthy after this long in service (interval × healthy threshold).
pub const fn target_health_seconds() -> i64 {
    TARGET_HEALTH_INTERVAL_SECONDS * TARGET_HEALTHY_THRESHOLD
}

/// Boot, then target health: new DR capacity takes traffic after this.
pub const fn scale_up_seconds() -> i64 {
    BOOT_SECONDS + target_health_seconds()
}

/// Route 53 detection (interval × threshold) + the alias TTL: until clients resolve the DR
/// load balancer.
pub fn dns_failover_seconds(request_interval: i64, failure_threshold: i64) -> i64 {
    request_interval * failure_threshold + ALIAS_TTL_SECONDS
}

/// The DNS path with drpair_failover_dns's default health check (10 s × 3 + 60 s = 90 s).
pub const DEFAULT_DNS_FAILOVER_SECONDS: i64 =
    DNS_REQUEST_INTERVAL_SECONDS * DNS_FAILURE_THRESHOLD + ALIAS_TTL_SECONDS;

/// Detection (interval × threshold) + DNS TTL + promotion: the DNS-only figure of the
/// `rto_budget` function and of drpair_failover_dns.
pub fn rto_budget_seconds(
    request_interval: i64,
    failure_threshold: i64,
    ttl: i64,
    promotion: i64,
) -> i64 {
    request_interval * failure_threshold + ttl + promotion
}

/// The worst-case time of each stage of an automatic failover, in seconds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RtoBudget {
    pub detection_seconds: i64,
    pub confirmation_seconds: i64,
    pub promotion_seconds: i64,
    pub scale_up_seconds: i64,
    pub dns_seconds: i64,
    pub total_seconds: i64,
}

impl RtoBudget {
    /// The budget of an orchestrator judging the primary down after `consecutive_failures`
    /// probes, behind a DNS failover that takes `dns_seconds`.
    pub fn new(consecutive_failures: i64, dns_seconds: i64) -> Self {
        let mut b = RtoBudget {
            detection_seconds: detection_seconds(consecutive_failures),
            confirmation_seconds: confirmation_seconds(),
            promotion_seconds: FAILOVER_SECONDS,
            scale_up_seconds: scale_up_seconds(),
            dns_seconds,
            total_seconds: 0,
        };
        b.total_seconds = b.critical_path_seconds().max(dns_seconds);
        b
    }

    /// Detection + confirmation + the slower of promotion and scale-up (they run in parallel).
    pub fn critical_path_seconds(&self) -> i64 {
        self.detection_seconds
            + self.confirmation_seconds
            + self.promotion_seconds.max(self.scale_up_seconds)
    }

    /// The largest `consecutive_failures` (at least 1) whose budget fits `target`, if any.
    pub fn max_consecutive_failures(target: i64, dns_seconds: i64) -> Option<i64> {
        (1..=10)
            .rev()
            .find(|n| RtoBudget::new(*n, dns_seconds).total_seconds <= target)
    }

    /// `(name, seconds)` in the order of the attribute and the function's object.
    pub fn fields(&self) -> [(&'static str, i64); 6] {
        [
            ("detection_seconds", self.detection_seconds),
            ("confirmation_seconds", self.confirmation_seconds),
            ("promotion_seconds", self.promotion_seconds),
            ("scale_up_seconds", self.scale_up_seconds),
            ("dns_seconds", self.dns_seconds),
            ("total_seconds", self.total_seconds),
        ]
    }

    /// One line with the figures, e.g. for a diagnostic.
    pub fn explain(&self) -> String {
        format!(
            "detection {} s + confirmation {} s + max(promotion {} s, scale-up {} s) = {} s; DNS {} s; total = max = {} s",
            self.detection_seconds,
            self.confirmation_seconds,
            self.promotion_seconds,
            self.scale_up_seconds,
            self.critical_path_seconds(),
            self.dns_seconds,
            self.total_seconds
        )
    }
}

/// The meaning of each figure, for schema and function descriptions (Markdown).
pub fn breakdown_description() -> String {
    format!(
        "- `detection_seconds` = max({PROBE_PERIOD_SECONDS} s (the orchestrator's schedule) × `consecutive_failures`, {REPLICATION_STALL_SECONDS} s): failed probes in a row, and the DR cluster silent on replication lag for {REPLICATION_STALL_SECONDS} s (how the orchestrator confirms that replication stopped);\n\
         - `confirmation_seconds` = {} s: {CONFIRM_PROBES} live probes of the primary's endpoint {CONFIRM_SPACING_SECONDS} s apart, right before `FailoverGlobalCluster`;\n\
         - `promotion_seconds` = {FAILOVER_SECONDS} s: Aurora's unplanned global failover (`AllowDataLoss`) until the DR cluster is the writer and available (typical);\n\
         - `scale_up_seconds` = {} s: instance boot ({BOOT_SECONDS} s) + target health ({TARGET_HEALTH_INTERVAL_SECONDS} s interval × {TARGET_HEALTHY_THRESHOLD} healthy checks, drpair_app_tier's target groups); the DR group is scaled right after the failover call, in parallel with the promotion;\n\
         - `dns_seconds`: Route 53 detection (request_interval × failure_threshold) + the {ALIAS_TTL_SECONDS} s alias TTL, from `dns_failover_seconds` (drpair_failover_dns's `dns_failover_seconds`; default {DEFAULT_DNS_FAILOVER_SECONDS} s = {DNS_REQUEST_INTERVAL_SECONDS} s × {DNS_FAILURE_THRESHOLD} + {ALIAS_TTL_SECONDS} s);\n\
         - `total_seconds` = max(`dns_seconds`, `detection_seconds` + `confirmation_seconds` + max(`promotion_seconds`, `scale_up_seconds`)): the two paths run in parallel, and clients write in the DR region once both are done.",
        confirmation_seconds(),
        scale_up_seconds(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_budget() {
        let b = RtoBudget::new(2, DEFAULT_DNS_FAILOVER_SECONDS);
        assert_eq!(
            b,
            RtoBudget {
                detection_seconds: 120,
                confirmation_seconds: 10,
                promotion_seconds: 60,
                scale_up_seconds: 90,
                dns_seconds: 90,
                total_seconds: 220,
            }
        );
        assert_eq!(b.critical_path_seconds(), 220);
    }

    #[test]
    fn totals_take_the_slower_path() {
        let table = [
            // (consecutive_failures, dns, total)
            // One failed probe would do, but the stall of replication takes 120 s to show.
            (1, 90, 220),
            (3, 90, 280),
            (10, 90, 700),
            (1, 330, 330),
            (2, 330, 330),
        ];
        for (failures, dns, total) in table {
            assert_eq!(
                RtoBudget::new(failures, dns).total_seconds,
                total,
                "{failures} {dns}"
            );
        }
    }

    #[test]
    fn the_most_failures_that_fit() {
        assert_eq!(RtoBudget::max_consecutive_failures(300, 90), Some(3));
        assert_eq!(RtoBudget::max_consecutive_failures(220, 90), Some(2));
        assert_eq!(RtoBudget::max_consecutive_failures(150, 90), None);
        assert_eq!(RtoBudget::max_consecutive_failures(300, 400), None);
    }

    #[test]
    fn dns_path() {
        assert_eq!(dns_failover_seconds(10, 3), DEFAULT_DNS_FAILOVER_SECONDS);
        assert_eq!(dns_failover_seconds(30, 3), 150);
        // The old function with no promotion is the DNS path.
        assert_eq!(
            rto_budget_seconds(10, 3, ALIAS_TTL_SECONDS, 0),
            dns_failover_seconds(10, 3)
        );
    }

    #[test]
    fn explains_itself() {
        let text = RtoBudget::new(2, 90).explain();
        assert!(
            text.contains("max(promotion 60 s, scale-up 90 s) = 220 s"),
            "{text}"
        );
        assert!(breakdown_description().contains("`scale_up_seconds` = 90 s"));
    }
}
