//! `examples/complete` in a temporary Terraform working directory, run through the project's
//! Terraform CLI (`scripts/terraform`) with the provider under test installed from a filesystem
//! mirror. Each Terraform command writes its own log (`TF_LOG_PROVIDER=DEBUG`), so the provider
//! processes it started — each logs `provider exiting: peak_rss_kb=N rss_file_kb=N rss_anon_kb=N` — belong to its phase.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

/// Variables of the caller that would point Terraform or the AWS SDK somewhere else.
const REMOVED_ENV: &[&str] = &[
    "TF_LOG",
    "TF_LOG_CORE",
    "TF_CLI_CONFIG_FILE",
    "TF_PLUGIN_CACHE_DIR",
    "TF_DATA_DIR",
    "TF_WORKSPACE",
    "TF_CLI_ARGS",
    "TF_CLI_ARGS_init",
    "TF_CLI_ARGS_plan",
    "TF_CLI_ARGS_apply",
    "TF_CLI_ARGS_destroy",
    "TF_REATTACH_PROVIDERS",
    "AWS_PROFILE",
    "AWS_DEFAULT_PROFILE",
    "AWS_SESSION_TOKEN",
    "AWS_ROLE_ARN",
    "AWS_WEB_IDENTITY_TOKEN_FILE",
    "AWS_ENDPOINT_URL",
];

pub struct Stack {
    root: PathBuf,
    dir: PathBuf,
    work: PathBuf,
    env: Vec<(&'static str, OsString)>,
    runs: usize,
}

/// One Terraform command.
pub struct Run {
    pub wall_s: f64,
    pub exit_code: i32,
    pub stdout: String,
    /// The memory of each provider process the command started.
    pub memory: Vec<ProcessMemory>,
}

/// What a provider process logs about its memory when it exits (kB).
#[derive(Clone, Copy)]
pub struct ProcessMemory {
    /// Peak resident set (`VmHWM`).
    pub peak_rss_kb: u64,
    /// Resident file pages at exit (`RssFile`): the binary's own code and read-only data.
    pub rss_file_kb: u64,
    /// Resident private memory at exit (`RssAnon`): heap, stacks.
    pub rss_anon_kb: u64,
}

impl Stack {
    /// A working directory with `examples/complete`'s configuration and the provider binary.
    pub fn new(root: &Path, provider: &Path) -> Stack {
        let dir = std::env::temp_dir().join(format!("drpair-bench-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let work = dir.join("work");
        std::fs::create_dir_all(&work)
            .unwrap_or_else(|e| panic!("creating {}: {e}", work.display()));
        std::fs::create_dir_all(dir.join("logs")).expect("creating the logs directory");

        let example = root.join("examples/complete");
        let entries = std::fs::read_dir(&example)
            .unwrap_or_else(|e| panic!("reading {}: {e}", example.display()));
        for entry in entries.flatten() {
            let path = entry.path();
            if path.extension().is_some_and(|e| e == "tf") {
                std::fs::copy(&path, work.join(entry.file_name()))
                    .unwrap_or_else(|e| panic!("copying {}: {e}", path.display()));
            }
        }

        let version = env!("CARGO_PKG_VERSION");
        let mirror = dir.join("mirror");
        let installed = mirror
            .join("registry.terraform.io/drpair/drpair")
            .join(version)
            .join(platform());
        std::fs::create_dir_all(&installed).expect("creating the provider mirror");
        std::fs::copy(
            provider,
            installed.join(format!("terraform-provider-drpair_v{version}")),
        )
        .unwrap_or_else(|e| panic!("copying {}: {e}", provider.display()));
        let rc = dir.join("terraformrc");
        std::fs::write(
            &rc,
            format!(
                "provider_installation {{\n  filesystem_mirror {{\n    path    = \"{}\"\n    include = [\"registry.terraform.io/drpair/drpair\"]\n  }}\n  direct {{\n    exclude = [\"registry.terraform.io/drpair/drpair\"]\n  }}\n}}\n",
                mirror.display()
            ),
        )
        .expect("writing the CLI configuration");

        let env = vec![
            ("TF_CLI_CONFIG_FILE", rc.into_os_string()),
            ("CHECKPOINT_DISABLE", "1".into()),
            ("TF_IN_AUTOMATION", "1".into()),
            ("TF_INPUT", "0".into()),
            ("TF_LOG_PROVIDER", "DEBUG".into()),
            ("AWS_ACCESS_KEY_ID", "testing".into()),
            ("AWS_SECRET_ACCESS_KEY", "testing".into()),
            ("AWS_EC2_METADATA_DISABLED", "true".into()),
            // No shared config or credentials of the machine's user: files that do not exist.
            (
                "AWS_CONFIG_FILE",
                dir.join("no-aws-config").into_os_string(),
            ),
            (
                "AWS_SHARED_CREDENTIALS_FILE",
                dir.join("no-aws-credentials").into_os_string(),
            ),
        ];
        Stack {
            root: root.to_path_buf(),
            dir,
            work,
            env,
            runs: 0,
        }
    }

    /// Points the configuration at an emulator, with the API's certificate in each region.
    pub fn write_tfvars(&self, endpoint: &str, certificates: (&str, &str)) {
        let (primary, dr) = certificates;
        let tfvars = format!(
            "endpoint_url     = \"{endpoint}\"\ncertificate_arns = {{ primary = \"{primary}\", dr = \"{dr}\" }}\n"
        );
        std::fs::write(self.work.join("terraform.tfvars"), tfvars)
            .expect("writing terraform.tfvars");
    }

    /// Runs `terraform ARGS`; panics (with its output) unless it exits with one of `ok_codes`.
    pub fn tf(&mut self, phase: &str, args: &[&str], ok_codes: &[i32]) -> Run {
        self.runs += 1;
        let log = self
            .dir
            .join("logs")
            .join(format!("{:02}-{phase}.log", self.runs));
        let mut command = Command::new(self.root.join("scripts/terraform"));
        command.args(args).current_dir(&self.work);
        for name in REMOVED_ENV {
            command.env_remove(name);
        }
        command.envs(self.env.iter().map(|(k, v)| (k, v)));
        command.env("TF_LOG_PATH", &log);
        let start = Instant::now();
        let out = command
            .output()
            .unwrap_or_else(|e| panic!("running terraform {}: {e}", args.join(" ")));
        let wall_s = start.elapsed().as_secs_f64();
        let exit_code = out.status.code().unwrap_or(-1);
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        assert!(
            ok_codes.contains(&exit_code),
            "terraform {} exited {exit_code} (log: {}):\n{stdout}\n{}",
            args.join(" "),
            log.display(),
            String::from_utf8_lossy(&out.stderr)
        );
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        Run {
            wall_s,
            exit_code,
            stdout,
            memory: process_memory(&text),
        }
    }
}

impl Drop for Stack {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!(
                "drpair-bench: kept {} (Terraform logs under logs/)",
                self.dir.display()
            );
        } else {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

/// The memory figures of every "provider exiting" line of a Terraform log.
fn process_memory(log: &str) -> Vec<ProcessMemory> {
    let field = |line: &str, name: &str| -> Option<u64> {
        let at = line.find(name)? + name.len();
        line[at..]
            .split(|c: char| !c.is_ascii_digit())
            .next()?
            .parse()
            .ok()
    };
    log.lines()
        .filter(|l| l.contains("provider exiting"))
        .filter_map(|l| {
            Some(ProcessMemory {
                peak_rss_kb: field(l, "peak_rss_kb=")?,
                // Absent from providers built before they were logged.
                rss_file_kb: field(l, "rss_file_kb=").unwrap_or(0),
                rss_anon_kb: field(l, "rss_anon_kb=").unwrap_or(0),
            })
        })
        .collect()
}

fn platform() -> String {
    let arch = match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        "x86" => "386",
        other => other,
    };
    format!("{}_{arch}", std::env::consts::OS)
}
