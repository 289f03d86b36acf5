//! `drpair-bench`: measures and prints (it asserts nothing).
//!
//! 1. spawn → handshake line of the provider binary (median and p90 of 25 runs);
//! 2. the provider's peak RSS over a drpair_network lifecycle (init, apply, plan,
//!    destroy) through the real Terraform CLI against the emulator — each
//!    provider process logs its own peak (`VmHWM`) when it exits;
//! 3. wall time of a no-change `terraform plan` (median of 5).
//!
//! `cargo run --release --bin drpair-bench [-- PROVIDER_BINARY]`; the default
//! binary is the one next to this executable.

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Instant;

const COOKIE: &str = "d602bf8f470bc67ca7faa0386276bbdd4330efaf76d1a219cb4d6991ca9872b2";

fn main() {
    let provider = std::env::args()
        .nth(1)
        .map(PathBuf::from)
        .unwrap_or_else(|| sibling("terraform-provider-drpair"));
    assert!(
        provider.exists(),
        "no provider binary at {}",
        provider.display()
    );
    println!("provider binary: {}", provider.display());

    let samples = handshake_latencies(&provider, 25);
    println!(
        "spawn -> handshake line: median {:.2} ms, p90 {:.2} ms, min {:.2} ms (n={})",
        percentile(&samples, 0.5),
        percentile(&samples, 0.9),
        samples[0],
        samples.len()
    );

    let lifecycle = network_lifecycle(&provider);
    println!(
        "provider peak RSS over the network lifecycle: {:.1} MB (max of {} provider processes)",
        lifecycle.peak_rss_kb as f64 / 1024.0,
        lifecycle.processes
    );
    println!(
        "no-change terraform plan: median {:.2} s, min {:.2} s (n={})",
        percentile(&lifecycle.plans, 0.5),
        lifecycle.plans[0],
        lifecycle.plans.len()
    );
    println!(
        "network apply (create, both regions): {:.2} s; destroy: {:.2} s",
        lifecycle.apply_s, lifecycle.destroy_s
    );
}

fn sibling(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("current exe");
    exe.parent().expect("exe dir").join(name)
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    let idx = ((sorted.len() - 1) as f64 * p).round() as usize;
    sorted[idx]
}

fn client_cert_pem() -> String {
    let mut params = rcgen::CertificateParams::new(vec!["localhost".to_string()]).unwrap();
    params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P521_SHA512).unwrap();
    params.self_signed(&key).unwrap().pem()
}

/// Milliseconds from spawn to the handshake line, as Terraform experiences it
/// (AutoMTLS on: the provider generates its certificate first).
fn handshake_latencies(provider: &Path, runs: usize) -> Vec<f64> {
    let pem = client_cert_pem();
    let mut out = Vec::with_capacity(runs);
    for _ in 0..runs {
        let start = Instant::now();
        let mut child = Command::new(provider)
            .env("TF_PLUGIN_MAGIC_COOKIE", COOKIE)
            .env("PLUGIN_PROTOCOL_VERSIONS", "5,6")
            .env("PLUGIN_CLIENT_CERT", &pem)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn provider");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .expect("read handshake");
        out.push(start.elapsed().as_secs_f64() * 1000.0);
        assert!(
            line.starts_with("1|6|tcp|"),
            "unexpected handshake {line:?}"
        );
        let _ = child.kill();
        let _ = child.wait();
    }
    out.sort_by(f64::total_cmp);
    out
}

struct Lifecycle {
    peak_rss_kb: u64,
    processes: usize,
    plans: Vec<f64>,
    apply_s: f64,
    destroy_s: f64,
}

struct TempDir(PathBuf);

impl TempDir {
    fn new() -> Self {
        let p = std::env::temp_dir().join(format!("drpair-bench-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).expect("temp dir");
        Self(p)
    }

    fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

struct Emulator(Child);

impl Drop for Emulator {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn network_lifecycle(provider: &Path) -> Lifecycle {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    run(Command::new(root.join("scripts/bootstrap")), "bootstrap");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port");
    let mut child = Command::new(root.join("scripts/emulator"))
        .args(["--port", &port.to_string(), "--quiet"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start emulator");
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .expect("emulator ready line");
    let _emulator = Emulator(child);

    let work = TempDir::new();
    let mirror = work
        .path()
        .join("mirror/registry.terraform.io/drpair/drpair/0.1.0/linux_amd64");
    std::fs::create_dir_all(&mirror).unwrap();
    std::fs::copy(provider, mirror.join("terraform-provider-drpair_v0.1.0")).unwrap();
    let rc = work.path().join("terraformrc");
    std::fs::write(
        &rc,
        format!(
            "provider_installation {{\n  filesystem_mirror {{\n    path = \"{}\"\n    include = [\"registry.terraform.io/drpair/drpair\"]\n  }}\n  direct {{ exclude = [\"registry.terraform.io/drpair/drpair\"] }}\n}}\n",
            work.path().join("mirror").display()
        ),
    )
    .unwrap();
    let dir = work.path().join("work");
    std::fs::create_dir_all(&dir).unwrap();
    let mut main = std::fs::File::create(dir.join("main.tf")).unwrap();
    write!(
        main,
        r#"terraform {{
  required_providers {{
    drpair = {{ source = "drpair/drpair" }}
  }}
}}
provider "drpair" {{
  environment  = "bench"
  endpoint_url = "http://127.0.0.1:{port}"
}}
resource "drpair_network" "main" {{
  name    = "payments"
  primary = {{ cidr_block = "10.10.0.0/16" }}
  dr      = {{ cidr_block = "10.20.0.0/16" }}
}}
"#
    )
    .unwrap();
    let log = work.path().join("terraform.log");
    let tf = |args: &[&str]| {
        let mut c = Command::new(root.join("scripts/terraform"));
        c.args(args)
            .current_dir(&dir)
            .env("TF_CLI_CONFIG_FILE", &rc)
            .env("CHECKPOINT_DISABLE", "1")
            .env("TF_IN_AUTOMATION", "1")
            .env("TF_LOG_PROVIDER", "DEBUG")
            .env("TF_LOG_PATH", &log)
            .env("AWS_ACCESS_KEY_ID", "bench")
            .env("AWS_SECRET_ACCESS_KEY", "bench")
            .env("AWS_EC2_METADATA_DISABLED", "true");
        let start = Instant::now();
        run(c, &args.join(" "));
        start.elapsed().as_secs_f64()
    };
    tf(&["init", "-input=false"]);
    let apply_s = tf(&["apply", "-auto-approve", "-input=false"]);
    let mut plans: Vec<f64> = (0..5)
        .map(|_| tf(&["plan", "-input=false", "-detailed-exitcode"]))
        .collect();
    plans.sort_by(f64::total_cmp);
    let destroy_s = tf(&["destroy", "-auto-approve", "-input=false"]);

    let text = std::fs::read_to_string(&log).unwrap_or_default();
    let peaks: Vec<u64> = text
        .lines()
        .filter(|l| l.contains("provider exiting"))
        .filter_map(|l| {
            let at = l.find("peak_rss_kb=")? + "peak_rss_kb=".len();
            l[at..]
                .split(|c: char| !c.is_ascii_digit())
                .next()?
                .parse()
                .ok()
        })
        .collect();
    Lifecycle {
        peak_rss_kb: peaks.iter().copied().max().unwrap_or(0),
        processes: peaks.len(),
        plans,
        apply_s,
        destroy_s,
    }
}

fn run(mut c: Command, what: &str) {
    let out = c.output().unwrap_or_else(|e| panic!("{what}: {e}"));
    // plan -detailed-exitcode: 0 = no changes; anything else is worth seeing.
    if !out.status.success() {
        panic!(
            "{what} failed ({}):\n{}\n{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}
