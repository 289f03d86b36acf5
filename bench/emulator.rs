//! The project's AWS emulator (`scripts/emulator`) for the bench: started on a free port, its
//! `/_drpair/` controls (call counts, the timed call log, added latency) and a few boto3 calls
//! through the project's Python (certificates, `scripts/inventory.py`).

use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::time::{Duration, Instant};

/// (service, operation, region) of an AWS call, as the emulator names them.
pub type Kind = (String, String, String);

pub struct Emulator {
    root: PathBuf,
    port: u16,
    child: Child,
    /// Held open: the emulator runs with `--exit-on-stdin-eof`, so it goes with the bench.
    _stdin: Option<ChildStdin>,
}

/// The calls of one phase.
pub struct Counts {
    pub total: u64,
    /// Every kind with its count, the most called first.
    pub kinds: Vec<(Kind, u64)>,
}

/// One call of the timed call log (`GET /_drpair/calls/log`).
pub struct Call {
    pub kind: Kind,
    pub start_ms: f64,
    pub end_ms: f64,
    /// Digest of the request (method, path, query, body): equal for identical requests.
    pub request: String,
    /// The HTTP status of the answer (None: the connection was dropped).
    pub status: Option<u64>,
}

impl Emulator {
    pub fn start(root: &Path) -> Emulator {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .expect("a free port on 127.0.0.1");
        let script = root.join("scripts/emulator");
        let mut child = Command::new(&script)
            .args([
                "--port",
                &port.to_string(),
                "--quiet",
                "--exit-on-stdin-eof",
            ])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("starting {}: {e}", script.display()));
        let stdout = child.stdout.take().expect("the emulator's stdout is piped");
        let mut line = String::new();
        BufReader::new(stdout)
            .read_line(&mut line)
            .expect("reading the emulator's ready line");
        let emulator = Emulator {
            root: root.to_path_buf(),
            port,
            _stdin: child.stdin.take(),
            child,
        };
        // The ready line says the socket is bound; an answer says moto serves on it.
        let started = Instant::now();
        while let Err(e) = emulator.try_control("GET", "/_drpair/", &Value::Null) {
            assert!(
                started.elapsed() < Duration::from_secs(60),
                "the emulator on port {port} (ready line {line:?}) does not answer: {e}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        emulator
    }

    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// A `/_drpair/` control call; panics unless it answers 2xx with JSON.
    pub fn control(&self, method: &str, path: &str, body: &Value) -> Value {
        self.try_control(method, path, body)
            .unwrap_or_else(|e| panic!("{method} {path} on the emulator: {e}"))
    }

    fn try_control(&self, method: &str, path: &str, body: &Value) -> Result<Value, String> {
        let body = if body.is_null() {
            String::new()
        } else {
            body.to_string()
        };
        let mut stream = TcpStream::connect(("127.0.0.1", self.port)).map_err(|e| e.to_string())?;
        write!(
            stream,
            "{method} {path} HTTP/1.0\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        )
        .map_err(|e| e.to_string())?;
        let mut answer = String::new();
        stream
            .read_to_string(&mut answer)
            .map_err(|e| e.to_string())?;
        let (head, text) = answer
            .split_once("\r\n\r\n")
            .ok_or_else(|| format!("not an HTTP answer: {answer:?}"))?;
        let status: u16 = head
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| format!("no HTTP status in {head:?}"))?;
        if !(200..300).contains(&status) {
            return Err(format!("HTTP {status}: {text}"));
        }
        serde_json::from_str(text).map_err(|e| format!("{e} in {text:?}"))
    }

    /// Forgets the counts and the timed log (`DELETE /_drpair/calls`).
    pub fn reset_calls(&self) {
        self.control("DELETE", "/_drpair/calls", &Value::Null);
    }

    /// Every AWS call from now on waits `ms` more (0: none).
    pub fn set_latency(&self, ms: u64) {
        self.control("DELETE", "/_drpair/latency", &Value::Null);
        if ms > 0 {
            self.control("POST", "/_drpair/latency", &json!({ "ms": ms }));
        }
    }

    pub fn counts(&self) -> Counts {
        let answer = self.control("GET", "/_drpair/calls", &Value::Null);
        let mut kinds: Vec<(Kind, u64)> = answer["calls"]
            .as_array()
            .expect("GET /_drpair/calls answers {\"calls\": [...]}")
            .iter()
            .map(|row| (kind_of(row), row["count"].as_u64().unwrap_or(0)))
            .collect();
        kinds.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        Counts {
            total: kinds.iter().map(|(_, n)| n).sum(),
            kinds,
        }
    }

    /// The timed calls since the last reset that have ended, in arrival order.
    pub fn call_log(&self) -> Vec<Call> {
        let answer = self.control("GET", "/_drpair/calls/log", &Value::Null);
        let dropped = answer["dropped"].as_u64().unwrap_or(0);
        assert_eq!(
            dropped, 0,
            "the emulator's call log dropped {dropped} calls (limit {})",
            answer["limit"]
        );
        answer["calls"]
            .as_array()
            .expect("GET /_drpair/calls/log answers {\"calls\": [...]}")
            .iter()
            .filter_map(|row| {
                Some(Call {
                    kind: kind_of(row),
                    start_ms: row["start_ms"].as_f64()?,
                    end_ms: row["end_ms"].as_f64()?,
                    request: row["request"].as_str().unwrap_or_default().to_string(),
                    status: row["status"].as_u64(),
                })
            })
            .collect()
    }

    /// Requests an ACM certificate for `domain` in `region` (as the operator would before
    /// deploying; tests/it/complete_acc.rs does the same); returns its ARN.
    pub fn certificate(&self, region: &str, domain: &str) -> String {
        const REQUEST: &str = "import sys, boto3\n\
            endpoint, region, domain = sys.argv[1:4]\n\
            acm = boto3.client('acm', region_name=region, endpoint_url=endpoint)\n\
            print(acm.request_certificate(DomainName=domain, ValidationMethod='DNS')['CertificateArn'])\n";
        let endpoint = self.endpoint();
        self.python(&["-c", REQUEST, &endpoint, region, domain])
            .trim()
            .to_string()
    }

    /// What exists in both regions (`scripts/inventory.py`): "kind region id" per object.
    pub fn inventory(&self) -> Vec<String> {
        let script = self.root.join("scripts/inventory.py");
        let endpoint = self.endpoint();
        let out = self.python(&[
            script.to_str().expect("a UTF-8 path"),
            "--endpoint",
            &endpoint,
            "--regions",
            "us-east-1,us-east-2",
        ]);
        let parsed: Value = serde_json::from_str(&out)
            .unwrap_or_else(|e| panic!("scripts/inventory.py printed no JSON ({e}): {out}"));
        let mut objects: Vec<String> = parsed["objects"]
            .as_array()
            .expect("the inventory's objects")
            .iter()
            .map(|o| {
                let field = |k: &str| o[k].as_str().unwrap_or("-").to_string();
                format!("{} {} {}", field("kind"), field("region"), field("id"))
            })
            .collect();
        objects.sort();
        objects
    }

    fn python(&self, args: &[&str]) -> String {
        let python = self.root.join(".venv/bin/python");
        let out = Command::new(&python)
            .args(args)
            .env("AWS_ACCESS_KEY_ID", "testing")
            .env("AWS_SECRET_ACCESS_KEY", "testing")
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .env_remove("AWS_PROFILE")
            .output()
            .unwrap_or_else(|e| panic!("running {}: {e}", python.display()));
        assert!(
            out.status.success(),
            "{} {:?} failed ({}):\n{}",
            python.display(),
            args.first(),
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }
}

impl Drop for Emulator {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn kind_of(row: &Value) -> Kind {
    let field = |k: &str| row[k].as_str().unwrap_or("?").to_string();
    (field("service"), field("operation"), field("region"))
}

/// Requests sent more than once, with how many times, the most repeated first.
pub fn repeats(log: &[Call]) -> Vec<(Kind, usize)> {
    let mut seen: BTreeMap<(&Kind, &str), usize> = BTreeMap::new();
    for call in log {
        *seen.entry((&call.kind, &call.request)).or_default() += 1;
    }
    let mut out: Vec<(Kind, usize)> = seen
        .into_iter()
        .filter(|&(_, n)| n > 1)
        .map(|((kind, _), n)| (kind.clone(), n))
        .collect();
    out.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    out
}

/// Calls answered with an error (HTTP 4xx/5xx or no answer), per kind, the most first.
pub fn errors(log: &[Call]) -> Vec<(Kind, usize)> {
    let mut seen: BTreeMap<&Kind, usize> = BTreeMap::new();
    for call in log.iter().filter(|c| c.status.is_none_or(|s| s >= 400)) {
        *seen.entry(&call.kind).or_default() += 1;
    }
    let mut out: Vec<(Kind, usize)> = seen.into_iter().map(|(k, n)| (k.clone(), n)).collect();
    out.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    out
}

impl Counts {
    /// Calls per service, the most called first.
    pub fn by_service(&self) -> Vec<(String, u64)> {
        let mut services: BTreeMap<String, u64> = BTreeMap::new();
        for ((service, _, _), n) in &self.kinds {
            *services.entry(service.clone()).or_default() += n;
        }
        let mut out: Vec<_> = services.into_iter().collect();
        out.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        out
    }
}
