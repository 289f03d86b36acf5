//! `terraform-provider-drpair`: started by Terraform as a go-plugin, or by a
//! developer with `--debug`.

use drpair::protocol::{logging, serve};
use std::process::ExitCode;

const USAGE: &str = "terraform-provider-drpair: the drpair Terraform provider.

Terraform starts this binary itself. Options for people:
  --debug     serve without Terraform and print the TF_REATTACH_PROVIDERS value to use
  docs [--check] [DOCS_DIR] [EXAMPLES_DIR]
              generate the registry docs from the schemas (default docs/ and examples/),
              or with --check report where the checked-in docs differ
  --version   print the version
  --help      print this text";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("--version") => {
            println!("terraform-provider-drpair {}", env!("CARGO_PKG_VERSION"));
            return ExitCode::SUCCESS;
        }
        Some("--help" | "-h") => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Some("docs") => return docs_command(&args[1..]),
        Some("--debug") | None => {}
        Some(other) => {
            eprintln!("unknown argument {other:?}\n\n{USAGE}");
            return ExitCode::from(2);
        }
    }
    let debug = args.first().is_some_and(|a| a == "--debug");
    logging::init();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("starting the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let server = drpair::provider_server();
    let result = runtime.block_on(async {
        if debug {
            serve::run_debug(server, drpair::provider::SOURCE_ADDRESS).await
        } else {
            serve::run_plugin(server).await
        }
    });
    // Background tasks (idle connections, SDK pools) must not delay the exit
    // Terraform is waiting for.
    runtime.shutdown_background();
    if let Some(mem) = Memory::read() {
        tracing::debug!(
            peak_rss_kb = mem.peak_rss_kb,
            rss_file_kb = mem.rss_file_kb,
            rss_anon_kb = mem.rss_anon_kb,
            "provider exiting"
        );
    }
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("{e}");
            ExitCode::FAILURE
        }
    }
}

/// The process's memory, for the benchmark (docs/PERFORMANCE.md, "Memory").
struct Memory {
    /// The peak resident set (`VmHWM`).
    peak_rss_kb: u64,
    /// Resident pages of files now, nearly all the binary's own code and read-only data: shared
    /// with every other provider process and reclaimable (`RssFile`).
    rss_file_kb: u64,
    /// Resident private memory now: heap, stacks (`RssAnon`).
    rss_anon_kb: u64,
}

impl Memory {
    fn read() -> Option<Self> {
        let status = std::fs::read_to_string("/proc/self/status").ok()?;
        let field = |name: &str| -> Option<u64> {
            let line = status.lines().find(|l| l.starts_with(name))?;
            line.split_whitespace().nth(1)?.parse().ok()
        };
        Some(Self {
            peak_rss_kb: field("VmHWM:")?,
            rss_file_kb: field("RssFile:")?,
            rss_anon_kb: field("RssAnon:")?,
        })
    }
}

fn docs_command(args: &[String]) -> ExitCode {
    let check = args.iter().any(|a| a == "--check");
    let mut dirs = args.iter().filter(|a| !a.starts_with("--"));
    let docs = dirs.next().map_or("docs", String::as_str);
    let examples = dirs.next().map_or("examples", String::as_str);
    let pages = drpair::docs::render(&drpair::provider_server(), std::path::Path::new(examples));
    if check {
        let problems = drpair::docs::check(&pages, std::path::Path::new(docs));
        for p in &problems {
            eprintln!("{p}");
        }
        if problems.is_empty() {
            return ExitCode::SUCCESS;
        }
        eprintln!("run `cargo run --bin terraform-provider-drpair -- docs` to regenerate");
        return ExitCode::FAILURE;
    }
    match drpair::docs::write(&pages, std::path::Path::new(docs)) {
        Ok(()) => {
            println!("wrote {} pages to {docs}/", pages.len());
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("writing docs to {docs}: {e}");
            ExitCode::FAILURE
        }
    }
}
