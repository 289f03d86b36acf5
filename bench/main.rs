//! `drpair-bench`: measures the provider the way Terraform users feel it and prints a table and
//! one JSON line (it asserts nothing; docs/PERFORMANCE.md explains each figure).
//!
//! 1. spawn → handshake line of the provider binary with AutoMTLS (median, p90 of 25 runs);
//! 2. `examples/complete` through the real Terraform CLI against the emulator: init, apply,
//!    five no-change plans, destroy — the peak RSS of every provider process (each logs its
//!    `VmHWM` when it exits; one Terraform log per command attributes them to phases), the AWS
//!    calls of each phase (the emulator's counts and timed log, reset before each), the wall
//!    times, whether the plan is empty, and what destroy left behind;
//! 3. the apply again on a fresh emulator with 100 ms added to every call: its wall time against
//!    the chain floor computed from the emulator's timed call log (bench/chain.rs).
//!
//! `cargo run --release --bin drpair-bench [-- PROVIDER_BINARY]`; the default binary is the one
//! next to this executable, which `cargo run` builds first.

mod chain;
mod emulator;
mod handshake;
mod stack;

use emulator::{Call, Counts, Emulator, Kind};
use serde_json::{json, Value};
use stack::{ProcessMemory, Run, Stack};
use std::path::{Path, PathBuf};
use std::process::Command;

const HANDSHAKES: usize = 25;
const PLANS: usize = 5;
const LATENCY_MS: u64 = 100;
const TOP_KINDS: usize = 15;
const LARGEST_GAPS: usize = 5;
/// The API's name in `examples/complete` (zone_name's default), for its ACM certificates.
const API_DOMAIN: &str = "api.payments.example.com";

const INIT: &[&str] = &["init", "-input=false", "-no-color"];
const APPLY: &[&str] = &["apply", "-auto-approve", "-input=false", "-no-color"];
const PLAN: &[&str] = &["plan", "-input=false", "-no-color", "-detailed-exitcode"];
const DESTROY: &[&str] = &["destroy", "-auto-approve", "-input=false", "-no-color"];

/// One Terraform command with the calls it made.
struct Phase {
    run: Run,
    counts: Counts,
    log: Vec<Call>,
}

fn main() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let provider = std::env::args()
        .nth(1)
        .map(PathBuf::from)
        .unwrap_or_else(|| built_provider(&root));
    assert!(
        provider.exists(),
        "no provider binary at {}",
        provider.display()
    );
    let machine = machine();
    println!("provider binary: {}", provider.display());
    println!(
        "machine: {} cores, {}, Linux {}",
        machine["cores"],
        machine["cpu"].as_str().unwrap_or("?"),
        machine["kernel"].as_str().unwrap_or("?")
    );

    let handshake_ms = summary(&handshake::latencies(&provider, HANDSHAKES));
    println!(
        "\nspawn -> handshake line (AutoMTLS), n={HANDSHAKES}: median {:.2} ms, p90 {:.2} ms, min {:.2} ms",
        handshake_ms.median, handshake_ms.p90, handshake_ms.min
    );

    run(
        Command::new(root.join("scripts/bootstrap")),
        "scripts/bootstrap",
    );
    let mut stack = Stack::new(&root, &provider);

    // The stack's lifecycle, without added latency; calls counted and logged per command.
    let emulator = Emulator::start(&root);
    point_at(&stack, &emulator);
    let before = emulator.inventory();
    let init = stack.tf("init", INIT, &[0]);
    let mut phase = |name: &str, args: &[&str], ok: &[i32]| {
        emulator.reset_calls();
        let run = stack.tf(name, args, ok);
        Phase {
            run,
            counts: emulator.counts(),
            log: emulator.call_log(),
        }
    };
    let apply = phase("apply", APPLY, &[0]);
    let plans: Vec<Phase> = (0..PLANS).map(|_| phase("plan", PLAN, &[0, 2])).collect();
    let destroy = phase("destroy", DESTROY, &[0]);
    let after = emulator.inventory();
    let leftovers: Vec<&String> = after.iter().filter(|o| !before.contains(o)).collect();
    drop(emulator);

    // The apply again, on a fresh emulator, with latency added to every call.
    let emulator = Emulator::start(&root);
    point_at(&stack, &emulator);
    emulator.set_latency(LATENCY_MS);
    emulator.reset_calls();
    let slow_apply = stack.tf("apply-latency", APPLY, &[0]);
    let log = emulator.call_log();
    // A no-change plan with the same latency: its refresh's own chain (how sequential the
    // reads are), then the stack goes, so nothing outlives the emulator's state.
    emulator.reset_calls();
    let slow_plan = stack.tf("plan-latency", PLAN, &[0, 2]);
    let plan_log = emulator.call_log();
    emulator.set_latency(0);
    stack.tf("destroy-latency", DESTROY, &[0]);
    drop(emulator);

    let rss_json = print_memory(&init, &apply, &plans, &destroy, &slow_apply);

    // Calls.
    let plan = plans.last().expect("at least one plan");
    let plan_totals: Vec<u64> = plans.iter().map(|p| p.counts.total).collect();
    let plan_stable = plan_totals.windows(2).all(|w| w[0] == w[1]);
    println!("\nAWS calls per phase (the emulator's counts, reset before each)");
    println!("  {:<22} {:>6} {:>6}", "phase", "calls", "kinds");
    for (name, p) in [
        ("apply", &apply),
        ("plan, no change", plan),
        ("destroy", &destroy),
    ] {
        println!(
            "  {name:<22} {:>6} {:>6}",
            p.counts.total,
            p.counts.kinds.len()
        );
    }
    println!(
        "  calls of each no-change plan: {plan_totals:?} ({})",
        if plan_stable {
            "the same each time"
        } else {
            "NOT the same each time"
        }
    );
    if !plan_stable {
        print_plan_differences(&plans);
    }
    print_kinds("apply", &apply.counts, TOP_KINDS);
    print_kinds("no-change plan", &plan.counts, usize::MAX);
    print_kinds("destroy", &destroy.counts, TOP_KINDS);

    println!(
        "\n  identical requests sent more than once in one command (method, path, query, body)"
    );
    let mut repeats_json = serde_json::Map::new();
    for (name, p) in [("apply", &apply), ("plan", plan), ("destroy", &destroy)] {
        let repeats = emulator::repeats(&p.log);
        let extra: usize = repeats.iter().map(|(_, n)| n - 1).sum();
        println!(
            "  {name:<8} {extra:>4} extra calls for {:>3} requests{}",
            repeats.len(),
            if name == "plan" {
                " (objects read more than once in one refresh)"
            } else {
                " (waiters polling included)"
            }
        );
        repeats_json.insert(
            name.into(),
            json!({ "requests": repeats.len(), "extra_calls": extra }),
        );
    }
    for (name, p, limit) in [
        ("no-change plan", plan, usize::MAX),
        ("apply", &apply, TOP_KINDS),
        ("destroy", &destroy, TOP_KINDS),
    ] {
        let repeats = emulator::repeats(&p.log);
        if !repeats.is_empty() {
            println!(
                "  the {name}'s repeated requests ({} of {}, the most repeated first):",
                repeats.len().min(limit),
                repeats.len()
            );
            print_kind_table("times", &repeats[..repeats.len().min(limit)]);
        }
    }

    println!("\n  calls answered with an error (4xx, 5xx or no answer: probes of find-then-create, retries)");
    let mut errors_json = serde_json::Map::new();
    for (name, p) in [("apply", &apply), ("plan", plan), ("destroy", &destroy)] {
        let errors = emulator::errors(&p.log);
        let total: usize = errors.iter().map(|(_, n)| n).sum();
        println!("  the {name}'s: {total}");
        print_kind_table("calls", &errors[..errors.len().min(TOP_KINDS)]);
        errors_json.insert(name.into(), json!(total));
    }

    // Wall times and the plan's verdict.
    let plan_s = summary(&plans.iter().map(|p| p.run.wall_s).collect::<Vec<_>>());
    let exit_codes: Vec<i32> = plans.iter().map(|p| p.run.exit_code).collect();
    println!("\nwall time (Terraform command, start to exit)");
    println!("  init                     {:>7.2} s", init.wall_s);
    println!("  apply                    {:>7.2} s", apply.run.wall_s);
    println!(
        "  plan, no change (n={PLANS})    median {:.2} s, min {:.2} s, max {:.2} s",
        plan_s.median, plan_s.min, plan_s.max
    );
    println!("  destroy                  {:>7.2} s", destroy.run.wall_s);
    let verdict = plan_verdict(&plans);
    println!("  plan -detailed-exitcode: {exit_codes:?} ({verdict})");
    if let Some(diff) = plans.iter().find(|p| p.run.exit_code == 2) {
        println!("  FINDING: the plan right after apply is not empty; the first one said:");
        for line in diff.run.stdout.lines().filter(|l| !is_progress(l)) {
            println!("    | {line}");
        }
    }

    // Apply against the chain floor.
    let chain = chain::longest(&log);
    let links = chain.links(&log);
    let timing = chain.timing(&log, LARGEST_GAPS);
    let floor_s = chain.calls.len() as f64 * LATENCY_MS as f64 / 1000.0;
    let serial_s = log.len() as f64 * LATENCY_MS as f64 / 1000.0;
    let ratio = slow_apply.wall_s / floor_s;
    let after_s = slow_apply.wall_s - timing.last_end_s;
    println!("\napply with {LATENCY_MS} ms added to every call (fresh emulator)");
    println!(
        "  wall                          {:>7.2} s",
        slow_apply.wall_s
    );
    println!("  calls (timed log)             {:>7}", log.len());
    println!("  serial sum (calls x {LATENCY_MS} ms)   {serial_s:>7.2} s");
    println!(
        "  chain floor                   {floor_s:>7.2} s  ({} calls, each started after the previous one ended, x {LATENCY_MS} ms)",
        chain.calls.len()
    );
    println!("  wall / chain floor            {ratio:>7.2}    (goal <= 1.2)");
    println!(
        "  chain links: {}: {} same kind (polling, paging, repeats), {} across regions, {} across services in a region, {} between operations of one service",
        links.total,
        links.same_kind,
        links.cross_region,
        links.cross_service,
        links.total - links.same_kind - links.cross_region - links.cross_service
    );
    println!(
        "  along the chain: {:.2} s before its first call, {:.2} s in its calls, {:.2} s between them, {after_s:.2} s after its last",
        timing.before_s, timing.in_calls_s, timing.between_s
    );
    println!("  the longest gaps between two chain calls:");
    for (ms, before, after) in &timing.largest_gaps {
        println!(
            "    {ms:>7.0} ms  after {}, before {}",
            label(&log[*before].kind),
            label(&log[*after].kind)
        );
    }
    println!("  the chain, runs of one kind collapsed:");
    for (i, step) in chain.runs(&log).iter().enumerate() {
        println!("    {:>3}. {step}", i + 1);
    }

    let plan_chain = chain::longest(&plan_log);
    let plan_floor_s = plan_chain.calls.len() as f64 * LATENCY_MS as f64 / 1000.0;
    let plan_timing = plan_chain.timing(&plan_log, LARGEST_GAPS);
    println!("\nno-change plan with {LATENCY_MS} ms added to every call");
    println!(
        "  wall {:.2} s for {} calls; chain {} calls ({plan_floor_s:.2} s); {:.2} s before its first call, {:.2} s in its calls, {:.2} s between them",
        slow_plan.wall_s,
        plan_log.len(),
        plan_chain.calls.len(),
        plan_timing.before_s,
        plan_timing.in_calls_s,
        plan_timing.between_s
    );
    println!("  the chain, runs of one kind collapsed:");
    for (i, step) in plan_chain.runs(&plan_log).iter().enumerate() {
        println!("    {:>3}. {step}", i + 1);
    }

    if leftovers.is_empty() {
        println!("\nafter destroy: nothing left behind (scripts/inventory.py, both regions)");
    } else {
        println!(
            "\nFINDING: destroy left {} object(s) behind:",
            leftovers.len()
        );
        for object in &leftovers {
            println!("  {object}");
        }
    }

    // Goals (issue 16).
    let rss_max = rss_json["max"].as_f64();
    let plan_calls = plan.counts.total;
    println!("\ngoals");
    let goals = [
        (
            "handshake median <= 5 ms",
            format!("{:.2} ms", handshake_ms.median),
            handshake_ms.median <= 5.0,
        ),
        (
            "provider peak RSS <= 20 MB",
            rss_max.map_or("-".into(), |m| format!("{m:.1} MB")),
            rss_max.is_some_and(|m| m <= 20.0),
        ),
        (
            "no-change plan <= 80 calls",
            plan_calls.to_string(),
            plan_calls <= 80,
        ),
        (
            "no-change plan <= 1.5 s",
            format!("{:.2} s", plan_s.median),
            plan_s.median <= 1.5,
        ),
        (
            "apply <= 1.2 x chain floor",
            format!("{ratio:.2} x"),
            ratio <= 1.2,
        ),
    ];
    for (goal, now, met) in &goals {
        println!(
            "  {goal:<30} {now:>10}  {}",
            if *met { "met" } else { "not met" }
        );
    }

    let calls_json = |c: &Counts| json!({ "total": c.total, "kinds": c.kinds.len() });
    let line = json!({
        "provider": provider.display().to_string(),
        "machine": machine,
        "handshake_ms": handshake_ms.json(),
        "peak_rss_mb": rss_json,
        "calls": {
            "apply": calls_json(&apply.counts),
            "plan": calls_json(&plan.counts),
            "destroy": calls_json(&destroy.counts),
        },
        "repeated_requests": repeats_json,
        "error_answers": errors_json,
        "plan": {
            "wall_s": plan_s.json(),
            "calls": plan_totals,
            "calls_stable": plan_stable,
            "exit_codes": exit_codes,
            "verdict": verdict,
        },
        "wall_s": { "init": init.wall_s, "apply": apply.run.wall_s, "destroy": destroy.run.wall_s },
        "latency_apply": {
            "added_ms": LATENCY_MS,
            "wall_s": slow_apply.wall_s,
            "calls": log.len(),
            "serial_s": serial_s,
            "chain": chain.calls.len(),
            "floor_s": floor_s,
            "ratio": ratio,
            "chain_timing_s": {
                "before": timing.before_s,
                "in_calls": timing.in_calls_s,
                "between": timing.between_s,
                "after": after_s,
            },
            "links": {
                "total": links.total,
                "same_kind": links.same_kind,
                "cross_region": links.cross_region,
                "cross_service": links.cross_service,
            },
        },
        "latency_plan": {
            "added_ms": LATENCY_MS,
            "wall_s": slow_plan.wall_s,
            "calls": plan_log.len(),
            "chain": plan_chain.calls.len(),
            "floor_s": plan_floor_s,
        },
        "leftovers": leftovers,
    });
    println!("\n{line}");
}

/// Writes terraform.tfvars for this emulator, with an API certificate per region from its ACM.
fn point_at(stack: &Stack, emulator: &Emulator) {
    let primary = emulator.certificate("us-east-1", API_DOMAIN);
    let dr = emulator.certificate("us-east-2", API_DOMAIN);
    stack.write_tfvars(&emulator.endpoint(), (&primary, &dr));
}

/// Prints the peak RSS per phase, and of the process with the largest peak what was the
/// binary's own pages (file) and private memory (anon) when it exited; returns it as JSON (MB,
/// null where no provider ran).
fn print_memory(init: &Run, apply: &Phase, plans: &[Phase], destroy: &Phase, slow: &Run) -> Value {
    println!("\nprovider peak RSS (VmHWM each provider process logs when it exits)");
    println!(
        "  {:<22} {:>9} {:>8}   of that process at exit: file (code) / anon (private) MB",
        "phase", "processes", "max MB"
    );
    let phases: [(&str, &str, Vec<&Run>); 5] = [
        ("init", "init", vec![init]),
        ("apply", "apply", vec![&apply.run]),
        (
            "plan, no change (all)",
            "plan",
            plans.iter().map(|p| &p.run).collect(),
        ),
        ("destroy", "destroy", vec![&destroy.run]),
        ("apply +100 ms/call", "apply_latency", vec![slow]),
    ];
    let mut out = serde_json::Map::new();
    let mut all: Vec<ProcessMemory> = Vec::new();
    let line = |name: &str, procs: &[ProcessMemory]| -> Option<ProcessMemory> {
        let top = procs.iter().max_by_key(|m| m.peak_rss_kb).copied();
        match top {
            Some(m) => println!(
                "  {name:<22} {:>9} {:>8.1}   {:.1} / {:.1}",
                procs.len(),
                mb(m.peak_rss_kb),
                mb(m.rss_file_kb),
                mb(m.rss_anon_kb)
            ),
            None => println!("  {name:<22} {:>9} {:>8}", 0, "-"),
        }
        top
    };
    for (name, key, runs) in &phases {
        let procs: Vec<ProcessMemory> = runs.iter().flat_map(|r| r.memory.clone()).collect();
        let top = line(name, &procs);
        out.insert((*key).into(), json!(top.map(|m| mb(m.peak_rss_kb))));
        all.extend(procs);
    }
    let top = line("all", &all);
    out.insert("max".into(), json!(top.map(|m| mb(m.peak_rss_kb))));
    out.insert("max_file".into(), json!(top.map(|m| mb(m.rss_file_kb))));
    out.insert("max_anon".into(), json!(top.map(|m| mb(m.rss_anon_kb))));
    let anon = all.iter().map(|m| m.rss_anon_kb).max();
    out.insert("largest_anon".into(), json!(anon.map(mb)));
    if let Some(kb) = anon {
        println!(
            "  largest private memory (anon) at exit of any process: {:.1} MB",
            mb(kb)
        );
    }
    out.insert("processes".into(), json!(all.len()));
    Value::Object(out)
}

/// Where the no-change plans' counts differ: per plan, the kinds whose count is not the first
/// plan's.
fn print_plan_differences(plans: &[Phase]) {
    let Some(first) = plans.first() else {
        return;
    };
    let count = |c: &Counts, kind: &Kind| {
        c.kinds
            .iter()
            .find(|(k, _)| k == kind)
            .map_or(0, |(_, n)| *n)
    };
    for (i, p) in plans.iter().enumerate().skip(1) {
        let mut kinds: Vec<&Kind> = first
            .counts
            .kinds
            .iter()
            .chain(p.counts.kinds.iter())
            .map(|(k, _)| k)
            .collect();
        kinds.sort();
        kinds.dedup();
        let differ: Vec<String> = kinds
            .into_iter()
            .filter_map(|k| {
                let (a, b) = (count(&first.counts, k), count(&p.counts, k));
                (a != b).then(|| format!("{} {a} -> {b}", label(k)))
            })
            .collect();
        if !differ.is_empty() {
            println!("    plan {} against plan 1: {}", i + 1, differ.join("; "));
        }
    }
}

fn print_kinds(name: &str, counts: &Counts, limit: usize) {
    let shown = counts.kinds.len().min(limit);
    println!(
        "\n  {name}: {} calls; {shown} of {} (service, operation, region) kinds, the most called first",
        counts.total,
        counts.kinds.len()
    );
    let services: Vec<String> = counts
        .by_service()
        .iter()
        .map(|(s, n)| format!("{s} {n}"))
        .collect();
    println!("  by service: {}", services.join(", "));
    print_kind_table("calls", &counts.kinds[..shown]);
}

fn print_kind_table<N: std::fmt::Display>(what: &str, rows: &[(Kind, N)]) {
    if rows.is_empty() {
        return;
    }
    println!(
        "    {what:>5}  {:<16} {:<40} region",
        "service", "operation"
    );
    for ((service, operation, region), n) in rows {
        println!("    {n:>5}  {service:<16} {operation:<40} {region}");
    }
}

/// What the no-change plans said: "no changes" when every one did, else what the first one that
/// did not changes (resources, or only outputs).
fn plan_verdict(plans: &[Phase]) -> &'static str {
    match plans.iter().find(|p| p.run.exit_code != 0) {
        None => "no changes",
        Some(p) if p.run.stdout.contains("Plan: ") => "resource changes",
        Some(p) if p.run.stdout.contains("Changes to Outputs") => "output changes only",
        Some(_) => "changes",
    }
}

/// Terraform's progress lines, left out of a printed plan.
fn is_progress(line: &str) -> bool {
    ["Refreshing state...", "Reading...", "Read complete after"]
        .iter()
        .any(|p| line.contains(p))
}

fn label((service, operation, region): &Kind) -> String {
    format!("{service} {operation} {region}")
}

struct Summary {
    median: f64,
    p90: f64,
    min: f64,
    max: f64,
    n: usize,
}

impl Summary {
    fn json(&self) -> Value {
        json!({ "median": self.median, "p90": self.p90, "min": self.min, "max": self.max, "n": self.n })
    }
}

fn summary(samples: &[f64]) -> Summary {
    assert!(!samples.is_empty(), "no samples");
    let mut sorted = samples.to_vec();
    sorted.sort_by(f64::total_cmp);
    let at = |p: f64| sorted[((sorted.len() - 1) as f64 * p).round() as usize];
    Summary {
        median: at(0.5),
        p90: at(0.9),
        min: sorted[0],
        max: sorted[sorted.len() - 1],
        n: sorted.len(),
    }
}

fn mb(kb: u64) -> f64 {
    kb as f64 / 1024.0
}

fn machine() -> Value {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|text| {
            text.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, model)| model.trim().to_string())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .map(|s| s.trim().to_string())
        .unwrap_or_else(|_| "unknown".into());
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    json!({ "cores": cores, "cpu": cpu, "kernel": kernel })
}

/// The provider binary next to this executable, built first (with this executable's profile)
/// when the bench runs under `cargo run`, so that it is never a stale one.
fn built_provider(root: &Path) -> PathBuf {
    let exe = std::env::current_exe().expect("the bench's own path");
    let dir = exe.parent().expect("the bench's directory");
    if let Some(cargo) = std::env::var_os("CARGO") {
        let profile = match dir.file_name().and_then(|n| n.to_str()) {
            Some("debug") | None => "dev",
            Some(other) => other,
        };
        eprintln!("drpair-bench: cargo build --bin terraform-provider-drpair --profile {profile}");
        let status = Command::new(cargo)
            .args(["build", "--bin", "terraform-provider-drpair"])
            .args(["--profile", profile])
            .current_dir(root)
            .status()
            .unwrap_or_else(|e| panic!("running cargo build: {e}"));
        assert!(status.success(), "building the provider failed ({status})");
    }
    dir.join("terraform-provider-drpair")
}

fn run(mut command: Command, what: &str) {
    let out = command.output().unwrap_or_else(|e| panic!("{what}: {e}"));
    assert!(
        out.status.success(),
        "{what} failed ({}):\n{}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}
