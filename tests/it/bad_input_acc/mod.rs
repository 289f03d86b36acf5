//! Bad input (issue 13): invalid configurations of every resource, the data source, the action,
//! every provider function and the provider itself, through the real Terraform CLI against the
//! emulator. Each case is a whole `main.tf`; all of them run in one test, on one emulator and one
//! workspace (initialised once), and every failing case is reported at the end, with Terraform's
//! output.
//!
//! The case table ([`cases`]) has, per case: the subject (a resource, `data.…`, `action.…`,
//! `function …` or `provider`), a name, the HCL, the phase the error must come at, the expected
//! substring of the error (its summary or detail) and the attribute as the source line Terraform
//! quotes under that error must show it (`at`).
//!
//! Phases:
//! - **validate**: `terraform validate` fails. Every value is known and the check needs neither
//!   the provider's configuration nor AWS, so it must not wait for a plan.
//! - **plan**: `terraform validate` succeeds and `terraform plan` fails (`plan -invoke=…` for the
//!   action). The check needs the provider's configuration (its regions or environment) or a
//!   read of AWS, or a value the provider needs at plan is unknown.
//! - **apply**: a bad value comes from `terraform_data.x.output`, unknown until apply: `terraform
//!   validate` succeeds and `terraform apply` fails after `terraform_data.x` was created (the
//!   evidence that planning went through), before drpair creates anything.
//!
//! Every case must also show:
//! - **the attribute path**: an `Error:` block holding the expected substring quotes a source
//!   line (`  NN: …`) containing `at`; for Terraform's own errors about a missing argument the
//!   quoted line is the block header and the argument's name is in the expected detail;
//! - **no crash**: neither Terraform's output nor the new lines of its log (which carries the
//!   provider's stderr) contain "panic", "crash", "Plugin did not respond" or "plugin exited",
//!   except go-plugin's two lines of a clean shutdown, `[DEBUG] provider: plugin exited` and
//!   `[INFO]  provider: plugin process exited: …` without an `error=`;
//! - **nothing created**: the emulator's call counts (`/_drpair/calls`, reset before each case)
//!   hold only read-only operations. The rule: an operation is read-only when its name starts
//!   with one of [`READ_ONLY_PREFIXES`] (`Describe`, `List`, `Get`, `Head`, `Lookup`, `Search`,
//!   `Query`, `Scan`, `BatchGet`, `TestDNSAnswer`, `TestEventPattern`, `Simulate`); every other
//!   operation (`Create…`, `Put…`, `Update…`, `Tag…`, `AssumeRole`, …) counts as mutating.
//!
//! `DRPAIR_BAD_INPUT_ONLY=name1,name2` runs only the cases whose `subject/name` contains one of
//! the given strings (for working on a few cases).

use std::fs;
use std::time::Instant;

use serde_json::{json, Value};

use crate::harness::{provider_block, Emulator, TfOutput, Workspace};

mod cases;
use cases::{cases, unknown};

/// Operation name prefixes that never change anything in AWS (see the module doc).
const READ_ONLY_PREFIXES: &[&str] = &[
    "Describe",
    "List",
    "Get",
    "Head",
    "Lookup",
    "Search",
    "Query",
    "Scan",
    "BatchGet",
    "TestDNSAnswer",
    "TestEventPattern",
    "Simulate",
];

/// Every subject the table must cover.
const SUBJECTS: &[&str] = &[
    "provider",
    "drpair_network",
    "drpair_global_database",
    "drpair_session_table",
    "drpair_app_tier",
    "drpair_failover_dns",
    "drpair_metric_stream",
    "drpair_backup_plan",
    "drpair_monitoring",
    "drpair_failover_orchestrator",
    "data.drpair_replication_status",
    "action.drpair_failover",
    "function rto_budget",
    "function rto_breakdown",
    "function dr_name",
];

const MIN_CASES: usize = 50;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    Validate,
    Plan,
    /// `terraform plan -invoke=action.drpair_failover.NAME`.
    PlanInvoke(&'static str),
    Apply,
}

impl Phase {
    fn label(self) -> String {
        match self {
            Phase::Validate => "validate".into(),
            Phase::Plan => "plan".into(),
            Phase::PlanInvoke(name) => format!("plan -invoke=action.drpair_failover.{name}"),
            Phase::Apply => "apply".into(),
        }
    }
}

struct Case {
    subject: &'static str,
    name: &'static str,
    phase: Phase,
    /// The whole main.tf (placeholders not yet replaced).
    hcl: String,
    /// A substring of the error's summary or detail (compared on single spaces).
    expect: &'static str,
    /// What the source line Terraform quotes under that error contains.
    at: &'static str,
}

/// AWS objects made before the cases (subnets for drpair_global_database's plan-time checks),
/// and the endpoint: each replaces its placeholder in a case's HCL and `at`.
struct Fixture {
    endpoint: String,
    /// (placeholder, value)
    values: Vec<(&'static str, String)>,
}

impl Fixture {
    fn fill(&self, text: &str) -> String {
        let mut text = text.replace("ENDPOINT", &self.endpoint);
        for (placeholder, value) in &self.values {
            text = text.replace(placeholder, value);
        }
        text
    }
}

fn create_subnets(emulator: &Emulator) -> Fixture {
    let vpc = |region: &str, cidr: &str| -> String {
        let out = emulator.aws_ok("ec2", region, "CreateVpc", &json!({ "CidrBlock": cidr }));
        out["Vpc"]["VpcId"].as_str().unwrap_or_default().to_string()
    };
    let subnet = |region: &str, vpc_id: &str, cidr: &str, az: &str| -> String {
        let out = emulator.aws_ok(
            "ec2",
            region,
            "CreateSubnet",
            &json!({ "VpcId": vpc_id, "CidrBlock": cidr, "AvailabilityZone": az }),
        );
        out["Subnet"]["SubnetId"]
            .as_str()
            .unwrap_or_default()
            .to_string()
    };
    let primary = vpc("us-east-1", "10.60.0.0/16");
    let other = vpc("us-east-1", "10.61.0.0/16");
    let dr = vpc("us-east-2", "10.70.0.0/16");
    Fixture {
        endpoint: emulator.endpoint.clone(),
        values: vec![
            // Longest placeholders first: P_SUBNET_A is a prefix of P_SUBNET_A2.
            (
                "P_SUBNET_A2",
                subnet("us-east-1", &primary, "10.60.3.0/24", "us-east-1a"),
            ),
            (
                "P_SUBNET_A",
                subnet("us-east-1", &primary, "10.60.1.0/24", "us-east-1a"),
            ),
            (
                "P_SUBNET_B",
                subnet("us-east-1", &primary, "10.60.2.0/24", "us-east-1b"),
            ),
            (
                "OTHER_VPC_SUBNET",
                subnet("us-east-1", &other, "10.61.1.0/24", "us-east-1b"),
            ),
            (
                "D_SUBNET_A",
                subnet("us-east-2", &dr, "10.70.1.0/24", "us-east-2a"),
            ),
            (
                "D_SUBNET_B",
                subnet("us-east-2", &dr, "10.70.2.0/24", "us-east-2b"),
            ),
        ],
    }
}

// ---------------------------------------------------------------- running a case

/// Terraform wraps diagnostics at 80 columns; compare on single spaces.
fn flat(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The `Error:` blocks of Terraform's (`-no-color`) output: each from its `Error:` line to the
/// next `Error:` or `Warning:` line.
fn error_blocks(output: &str) -> Vec<String> {
    let mut blocks = Vec::new();
    let mut current: Option<String> = None;
    for line in output.lines() {
        let starts = |p: &str| line.trim_start_matches(['│', ' ']).starts_with(p);
        if starts("Error:") || starts("Warning:") {
            if let Some(block) = current.take() {
                blocks.push(block);
            }
            if starts("Error:") {
                current = Some(String::new());
            }
        }
        if let Some(block) = current.as_mut() {
            block.push_str(line);
            block.push('\n');
        }
    }
    blocks.extend(current);
    blocks
}

/// The source lines Terraform quotes in a diagnostic: `  NN: text`.
fn quoted_lines(block: &str) -> Vec<&str> {
    block
        .lines()
        .filter_map(|line| {
            let (number, text) = line.trim_start().split_once(": ")?;
            (!number.is_empty() && number.chars().all(|c| c.is_ascii_digit())).then_some(text)
        })
        .collect()
}

/// Why `text` (Terraform's output or log) shows a crash, if it does.
fn crash_signs(text: &str) -> Vec<String> {
    text.lines()
        .filter(|line| {
            let lower = line.to_ascii_lowercase();
            let clean_exit = line.trim_end().ends_with("[DEBUG] provider: plugin exited")
                || (line.contains("[INFO]  provider: plugin process exited:")
                    && !line.contains("error="));
            lower.contains("panic")
                || lower.contains("crash")
                || lower.contains("plugin did not respond")
                || (lower.contains("plugin exited") && !clean_exit)
                || (lower.contains("plugin process exited") && !clean_exit)
        })
        .map(str::to_string)
        .collect()
}

/// The mutating operations among the emulator's call counts.
fn mutating_calls(calls: &Value) -> Vec<String> {
    calls["calls"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|c| {
            let op = c["operation"].as_str().unwrap_or_default();
            !READ_ONLY_PREFIXES.iter().any(|p| op.starts_with(p))
        })
        .map(|c| {
            format!(
                "{} {} in {} ×{}",
                c["service"].as_str().unwrap_or_default(),
                c["operation"].as_str().unwrap_or_default(),
                c["region"].as_str().unwrap_or_default(),
                c["count"]
            )
        })
        .collect()
}

struct Outcome {
    problems: Vec<String>,
    outputs: Vec<TfOutput>,
}

fn run_case(ws: &Workspace, emulator: &Emulator, fixture: &Fixture, case: &Case) -> Outcome {
    let hcl = fixture.fill(&case.hcl);
    let at = fixture.fill(case.at);
    ws.write_config(&hcl);
    let mut problems = Vec::new();
    let mut outputs = Vec::new();
    if let Err(e) = emulator.try_control("DELETE", "/_drpair/calls", &json!({})) {
        problems.push(format!("resetting the call counts: {e}"));
    }
    let log_before = ws.terraform_log(usize::MAX).lines().count();

    let validate = ws.tf(&["validate"]);
    let validated = validate.success();
    outputs.push(validate);
    let failing = match case.phase {
        Phase::Validate => {
            if validated {
                problems.push("terraform validate succeeded; it must fail".into());
            }
            outputs.last()
        }
        phase => {
            if !validated {
                problems.push(format!(
                    "terraform validate failed; the case says the error comes at {} (if validate can decide it, say so in the table)",
                    phase.label()
                ));
                None
            } else {
                let args: Vec<String> = match phase {
                    Phase::Plan => vec!["plan".into(), "-input=false".into()],
                    Phase::PlanInvoke(action) => vec![
                        "plan".into(),
                        "-input=false".into(),
                        format!("-invoke=action.drpair_failover.{action}"),
                    ],
                    _ => vec![
                        "apply".into(),
                        "-auto-approve".into(),
                        "-input=false".into(),
                    ],
                };
                let args: Vec<&str> = args.iter().map(String::as_str).collect();
                let out = ws.tf(&args);
                if out.success() {
                    problems.push(format!("terraform {} succeeded; it must fail", args[0]));
                } else if out.code != 1 {
                    problems.push(format!("terraform {} exited {}, not 1", args[0], out.code));
                }
                if phase == Phase::Apply
                    && !out
                        .combined()
                        .contains("terraform_data.x: Creation complete")
                {
                    problems.push(
                        "the apply failed before terraform_data.x was created: the error came at plan, not at apply".into(),
                    );
                }
                outputs.push(out);
                outputs.last()
            }
        }
    };

    if let Some(out) = failing {
        let text = out.combined();
        let blocks = error_blocks(&text);
        let expected: Vec<&String> = blocks
            .iter()
            .filter(|b| flat(b).contains(&flat(case.expect)))
            .collect();
        if expected.is_empty() {
            problems.push(format!("no error says {:?}", case.expect));
        } else if !expected
            .iter()
            .any(|b| quoted_lines(b).iter().any(|line| line.contains(&at)))
        {
            problems.push(format!(
                "the error saying {:?} does not quote a source line with {at:?} (it quotes {:?})",
                case.expect,
                expected
                    .iter()
                    .flat_map(|b| quoted_lines(b))
                    .collect::<Vec<_>>()
            ));
        }
    }

    let log = ws.terraform_log(usize::MAX);
    let new_log: Vec<&str> = log.lines().skip(log_before).collect();
    let mut crashes = Vec::new();
    for out in &outputs {
        crashes.extend(crash_signs(&out.combined()));
    }
    crashes.extend(crash_signs(&new_log.join("\n")));
    if !crashes.is_empty() {
        problems.push(format!("signs of a crash:\n  {}", crashes.join("\n  ")));
    }

    match emulator.try_control("GET", "/_drpair/calls", &json!({})) {
        Ok(calls) => {
            let mutating = mutating_calls(&calls);
            if !mutating.is_empty() {
                problems.push(format!(
                    "mutating AWS calls were made: {}",
                    mutating.join(", ")
                ));
            }
        }
        Err(e) => problems.push(format!("reading the call counts: {e}")),
    }

    // The next case starts without the terraform_data an apply case created.
    for name in ["terraform.tfstate", "terraform.tfstate.backup"] {
        let path = ws.path().join(name);
        if path.exists() {
            if let Err(e) = fs::remove_file(&path) {
                problems.push(format!("removing {}: {e}", path.display()));
            }
        }
    }
    Outcome { problems, outputs }
}

#[test]
fn bad_input_is_refused_early_naming_the_attribute() {
    let all = cases();
    let only: Vec<String> = std::env::var("DRPAIR_BAD_INPUT_ONLY")
        .unwrap_or_default()
        .split(',')
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect();

    // The table itself: enough cases, every subject, no name twice.
    assert!(
        all.len() >= MIN_CASES,
        "only {} cases; the issue asks for at least {MIN_CASES}",
        all.len()
    );
    for subject in SUBJECTS {
        assert!(
            all.iter().any(|c| c.subject == *subject),
            "no case for {subject}"
        );
    }
    let mut ids: Vec<String> = all
        .iter()
        .map(|c| format!("{}/{}", c.subject, c.name))
        .collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), all.len(), "two cases share a name");

    let emulator = Emulator::start();
    let fixture = create_subnets(&emulator);
    let ws = Workspace::new(&emulator);
    ws.write_config(&format!(
        "{}\n{}",
        provider_block(&emulator.endpoint, ""),
        unknown("\"init\"")
    ));
    ws.init();

    let started = Instant::now();
    let mut failures = Vec::new();
    let mut ran = 0;
    for case in &all {
        let id = format!("{}/{}", case.subject, case.name);
        if !only.is_empty() && !only.iter().any(|o| id.contains(o.as_str())) {
            continue;
        }
        ran += 1;
        let case_started = Instant::now();
        let outcome = run_case(&ws, &emulator, &fixture, case);
        let verdict = if outcome.problems.is_empty() {
            "ok  "
        } else {
            "FAIL"
        };
        eprintln!(
            "{verdict} {:<10} {id} ({:.1?})",
            case.phase.label().split(' ').next().unwrap_or_default(),
            case_started.elapsed()
        );
        if !outcome.problems.is_empty() {
            let outputs: Vec<String> = outcome.outputs.iter().map(|o| o.to_string()).collect();
            failures.push(format!(
                "=== {id} (phase {}, expecting {:?} at {:?})\n- {}\n--- main.tf ---\n{}\n{}",
                case.phase.label(),
                case.expect,
                fixture.fill(case.at),
                outcome.problems.join("\n- "),
                fixture.fill(&case.hcl),
                outputs.join("\n")
            ));
        }
    }

    let mut per_subject = String::new();
    for subject in SUBJECTS {
        let of = |phase: fn(Phase) -> bool| {
            all.iter()
                .filter(|c| c.subject == *subject && phase(c.phase))
                .count()
        };
        per_subject.push_str(&format!(
            "  {subject:<32} {:>3} (validate {}, plan {}, apply {})\n",
            of(|_| true),
            of(|p| p == Phase::Validate),
            of(|p| matches!(p, Phase::Plan | Phase::PlanInvoke(_))),
            of(|p| p == Phase::Apply),
        ));
    }
    eprintln!(
        "{ran} of {} bad-input cases run in {:.1?}:\n{per_subject}",
        all.len(),
        started.elapsed()
    );
    if !failures.is_empty() {
        panic!(
            "{} of {ran} bad-input cases failed:\n{}\n\n{}",
            failures.len(),
            failures
                .iter()
                .map(|f| f.lines().next().unwrap_or_default())
                .collect::<Vec<_>>()
                .join("\n"),
            failures.join("\n\n")
        );
    }
}

/// The checks' own rules, on canned text (no Terraform, no emulator).
#[test]
fn bad_input_checks_follow_their_rules() {
    let calls = json!({"calls": [
        {"service": "rds", "operation": "DescribeGlobalClusters", "region": "us-east-2", "count": 1},
        {"service": "route53", "operation": "TestDNSAnswer", "region": "us-east-1", "count": 1},
        {"service": "dynamodb", "operation": "CreateTable", "region": "us-east-1", "count": 1},
        {"service": "sts", "operation": "AssumeRole", "region": "us-east-1", "count": 2},
    ], "total": 5});
    assert_eq!(
        mutating_calls(&calls),
        vec![
            "dynamodb CreateTable in us-east-1 ×1",
            "sts AssumeRole in us-east-1 ×2"
        ]
    );

    let clean = "2026-12-05T08:32:50.237Z [INFO]  provider: plugin process exited: plugin=x id=1\n\
                 2026-12-05T08:32:50.238Z [DEBUG] provider: plugin exited\n";
    assert!(crash_signs(clean).is_empty());
    for crashed in [
        "thread 'tokio-runtime-worker' panicked at src/x.rs:1:1",
        "[ERROR] provider: plugin process exited: plugin=x id=1 error=\"exit status 101\"",
        "Error: Plugin did not respond",
        "The plugin.(*GRPCProvider).PlanResourceChange call crashed",
    ] {
        assert_eq!(crash_signs(crashed).len(), 1, "{crashed}");
    }

    let output = "Error: Invalid CIDR block\n\n  with drpair_network.main,\n  on main.tf line 13, in resource \"drpair_network\" \"main\":\n  13:     cidr_block = \"10.10.0/16\"\n\n\"10.10.0/16\" is not a valid IPv4 CIDR block\n\nWarning: Something\n\n   8:   other = 1\n\nError: Second\n";
    let blocks = error_blocks(output);
    assert_eq!(blocks.len(), 2, "{blocks:?}");
    assert_eq!(
        quoted_lines(&blocks[0]),
        vec!["    cidr_block = \"10.10.0/16\""]
    );
    assert!(quoted_lines(&blocks[1]).is_empty());
}
