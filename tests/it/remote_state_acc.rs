//! `examples/remote-state` — the complete stack (`examples/complete` as a module) with its state
//! in S3 and S3-native locking (`use_lockfile`) — against the emulator's S3.
//!
//! The example's backend block is the one real AWS uses; the emulator's endpoint and the
//! `skip_*` flags come from a backend config file given to `terraform init -backend-config`, as
//! the example's README says. Two workspaces play two team members sharing one state: while the
//! first applies, the second is refused on the lock (`412 PreconditionFailed` on the `.tflock`
//! conditional write), then waits with `-lock-timeout` and finds nothing left to do. Afterwards
//! the state in S3 is whole (one lineage, serials consistent across its versions, every resource
//! once), nothing was created twice in the emulator, a plan is empty in both workspaces and the
//! lock object is gone.

use std::fs;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::thread;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::harness::{repo_root, Emulator, TfOutput, Workspace};

const BUCKET: &str = "drpair-tfstate";
/// The backend's region and key, as examples/remote-state/main.tf sets them.
const STATE_REGION: &str = "us-east-2";
const STATE_KEY: &str = "drpair/payments/terraform.tfstate";
/// Where the example sits in the workspace (`../complete` next to it).
const EXAMPLE_DIR: &str = "remote-state";
const BACKEND_FILE: &str = "emulator.s3.tfbackend";

fn lock_key() -> String {
    format!("{STATE_KEY}.tflock")
}

/// Copies examples/remote-state and the module it uses (examples/complete, without its tests)
/// into `work/remote-state` and `work/complete`.
fn copy_example(ws: &Workspace) {
    for (from, to) in [
        ("examples/remote-state", EXAMPLE_DIR),
        ("examples/complete", "complete"),
    ] {
        let dest = ws.path().join(to);
        fs::create_dir_all(&dest).unwrap();
        let mut copied = 0;
        for entry in fs::read_dir(repo_root().join(from)).unwrap().flatten() {
            let path = entry.path();
            if path.extension().is_some_and(|e| e == "tf") {
                fs::copy(&path, dest.join(path.file_name().unwrap())).unwrap();
                copied += 1;
            }
        }
        assert!(copied > 0, "no .tf files in {from}");
    }
}

/// `terraform -chdir=remote-state SUBCOMMAND -no-color ARGS`.
fn tf(ws: &Workspace, args: &[&str]) -> TfOutput {
    let chdir = format!("-chdir={EXAMPLE_DIR}");
    let mut argv = vec![chdir.as_str()];
    if let Some((subcommand, rest)) = args.split_first() {
        argv.push(subcommand);
        if !matches!(*subcommand, "state" | "output" | "show") {
            argv.push("-no-color");
        }
        argv.extend_from_slice(rest);
    }
    ws.tf(&argv)
}

fn tf_ok(ws: &Workspace, what: &str, args: &[&str]) -> TfOutput {
    let out = tf(ws, args);
    if !out.success() {
        ws.fail(what, &out);
    }
    out
}

/// A team member's working directory: the example, initialized with the S3 backend pointed at
/// the emulator.
fn member(emulator: &Emulator) -> Workspace {
    let ws = Workspace::new(emulator);
    copy_example(&ws);
    let backend = format!(
        r#"bucket                      = "{BUCKET}"
endpoints                   = {{ s3 = "{endpoint}" }}
use_path_style              = true
skip_credentials_validation = true
skip_requesting_account_id  = true
skip_metadata_api_check     = true
"#,
        endpoint = emulator.endpoint
    );
    ws.write_file(&format!("{EXAMPLE_DIR}/{BACKEND_FILE}"), &backend);
    // The app tier serves plain HTTP, said explicitly (without certificates the stack refuses
    // to plan): this test is about the shared state and its lock, not the API's protocol; the
    // HTTPS stack is complete_acc's.
    ws.write_file(
        &format!("{EXAMPLE_DIR}/plain-http.auto.tfvars"),
        "allow_plain_http = true\n",
    );
    let config = format!("-backend-config={BACKEND_FILE}");
    let out = tf_ok(
        &ws,
        "terraform init with the S3 backend",
        &["init", "-input=false", &config],
    );
    assert!(
        out.stdout
            .contains("Successfully configured the backend \"s3\""),
        "{out}"
    );
    ws
}

/// A control call to the emulator (`/_drpair/...`) with a JSON body; returns the answer's body.
fn control(emulator: &Emulator, method: &str, path: &str, body: &Value) -> String {
    let body = body.to_string();
    let mut stream = TcpStream::connect(("127.0.0.1", emulator.port)).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    write!(
        stream,
        "{method} {path} HTTP/1.0\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    let status = answer.split_whitespace().nth(1).unwrap_or_default();
    assert!(status.starts_with('2'), "{method} {path}: {answer}");
    answer
        .split("\r\n\r\n")
        .nth(1)
        .unwrap_or_default()
        .to_string()
}

fn s3(
    emulator: &Emulator,
    operation: &str,
    params: Value,
) -> Result<Value, crate::harness::AwsError> {
    emulator.aws("s3", STATE_REGION, operation, &params)
}

/// The lock object's content (Terraform's LockInfo), if the lock is held.
fn lock_info(emulator: &Emulator) -> Option<Value> {
    let object = s3(
        emulator,
        "GetObject",
        json!({"Bucket": BUCKET, "Key": lock_key()}),
    )
    .ok()?;
    let body = object["Body"].as_str().unwrap_or_default();
    Some(
        serde_json::from_str(body)
            .unwrap_or_else(|e| panic!("the lock object is not JSON ({e}): {body}")),
    )
}

fn parse_state(text: &str, whence: &str) -> Value {
    let state: Value = serde_json::from_str(text)
        .unwrap_or_else(|e| panic!("{whence} is not JSON ({e}):\n{text}"));
    assert_eq!(state["version"], 4, "{whence}: {state:#}");
    assert!(
        state["serial"].as_u64().is_some(),
        "{whence} has no serial: {state:#}"
    );
    assert!(
        state["lineage"].as_str().is_some_and(|l| !l.is_empty()),
        "{whence}: {state:#}"
    );
    state
}

/// `module.dr.drpair_x.name` of every managed resource of a state file.
fn managed_addresses(state: &Value) -> Vec<String> {
    state["resources"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["mode"] == "managed")
        .map(|r| {
            let instances = r["instances"].as_array().map_or(0, Vec::len);
            assert_eq!(instances, 1, "one instance per resource: {r:#}");
            format!(
                "{}.{}.{}",
                r["module"].as_str().unwrap_or("(root)"),
                r["type"].as_str().unwrap(),
                r["name"].as_str().unwrap()
            )
        })
        .collect()
}

/// Fails (with its output) if the apply running in `handle` is already over.
fn still_applying(
    handle: &mut Option<thread::ScopedJoinHandle<'_, (TfOutput, Instant)>>,
    ws: &Workspace,
    what: &str,
) {
    if handle.as_ref().is_some_and(|h| h.is_finished()) {
        let (out, _) = handle.take().unwrap().join().unwrap();
        ws.fail(what, &out);
    }
}

#[test]
fn remote_state_example_validates_and_keeps_a_real_aws_backend() {
    let emulator = Emulator::start();
    let ws = Workspace::new(&emulator);
    copy_example(&ws);
    tf_ok(
        &ws,
        "terraform init -backend=false",
        &["init", "-input=false", "-backend=false"],
    );
    tf_ok(&ws, "terraform validate", &["validate"]);

    // The emulator's settings are given at init, never written into the example.
    let main_tf = fs::read_to_string(repo_root().join("examples/remote-state/main.tf")).unwrap();
    let code: String = main_tf
        .lines()
        .map(|l| l.split('#').next().unwrap_or_default())
        .collect::<Vec<_>>()
        .join("\n");
    assert!(code.contains("backend \"s3\""), "{main_tf}");
    assert!(code.contains("use_lockfile = true"), "{main_tf}");
    assert!(code.contains("source = \"../complete\""), "{main_tf}");
    for emulator_only in [
        "endpoints",
        "use_path_style",
        "skip_",
        "127.0.0.1",
        "dynamodb_table",
    ] {
        assert!(
            !code.contains(emulator_only),
            "examples/remote-state/main.tf must stay real-AWS-shaped; it sets {emulator_only}"
        );
    }
    assert!(
        repo_root()
            .join("examples/remote-state/README.md")
            .is_file(),
        "examples/remote-state documents itself"
    );
}

#[test]
fn remote_state_concurrent_applies_share_one_s3_lock() {
    let emulator = Emulator::start();
    // The state bucket, versioned as the README (and Terraform's documentation) recommend.
    s3(
        &emulator,
        "CreateBucket",
        json!({"Bucket": BUCKET, "CreateBucketConfiguration": {"LocationConstraint": STATE_REGION}}),
    )
    .unwrap();
    s3(
        &emulator,
        "PutBucketVersioning",
        json!({"Bucket": BUCKET, "VersioningConfiguration": {"Status": "Enabled"}}),
    )
    .unwrap();

    let alice = member(&emulator);
    let bob = member(&emulator);
    let endpoint_var = format!("endpoint_url={}", emulator.endpoint);
    let apply = [
        "apply",
        "-auto-approve",
        "-input=false",
        "-var",
        endpoint_var.as_str(),
    ];

    // Alice's apply holds the lock for a while whatever the machine's speed: the Lambda
    // functions (the stack's last resource) take 5 s more each to create.
    control(
        &emulator,
        "POST",
        "/_drpair/latency",
        &json!({"ms": 5000, "service": "lambda", "operation": "CreateFunction"}),
    );

    let started = Instant::now();
    thread::scope(|scope| {
        let mut alice_apply = Some(scope.spawn(|| {
            let out = tf(&alice, &apply);
            (out, Instant::now())
        }));

        // Wait until Alice holds the lock.
        let held = loop {
            if let Some(info) = lock_info(&emulator) {
                break info;
            }
            still_applying(
                &mut alice_apply,
                &alice,
                "Alice's apply (before its lock was seen)",
            );
            if started.elapsed() > Duration::from_secs(120) {
                panic!(
                    "the lock object {BUCKET}/{} never appeared while Alice applied\nemulator:\n{}",
                    lock_key(),
                    emulator.log()
                );
            }
            thread::sleep(Duration::from_millis(200));
        };
        let held_id = held["ID"].as_str().unwrap().to_string();
        assert_eq!(held["Operation"], "OperationTypeApply", "{held:#}");
        assert_eq!(held["Path"], format!("{BUCKET}/{STATE_KEY}"), "{held:#}");
        eprintln!(
            "remote_state: Alice holds lock {held_id} after {:.1?}",
            started.elapsed()
        );

        // Bob, without -lock-timeout: refused at once, told who holds the lock.
        let refused_at = Instant::now();
        let refused = tf(&bob, &apply);
        still_applying(
            &mut alice_apply,
            &alice,
            "Alice's apply ended before Bob's first try was over (the lock was not contended)",
        );
        assert!(
            !refused.success(),
            "Bob's apply must fail on the lock: {refused}"
        );
        let text = refused.combined();
        for expected in [
            "Error acquiring the state lock",
            "StatusCode: 412",
            "PreconditionFailed",
            held_id.as_str(),
            "OperationTypeApply",
        ] {
            assert!(
                text.contains(expected),
                "Bob's refusal lacks {expected:?}: {refused}"
            );
        }
        assert!(!text.contains("Apply complete"), "{refused}");
        eprintln!(
            "remote_state: Bob refused on the lock in {:.1?}",
            refused_at.elapsed()
        );
        // The refused writer left Alice's lock alone.
        let still = lock_info(&emulator).expect("Alice's lock object vanished after Bob's refusal");
        assert_eq!(still["ID"], held_id, "{still:#}");

        // Bob again, waiting for the lock: he starts while Alice still applies, gets the lock
        // when she releases it and finds her work done.
        still_applying(
            &mut alice_apply,
            &alice,
            "Alice's apply ended before Bob's waiting apply started (nothing to wait for)",
        );
        let waiting_started = Instant::now();
        let waited = tf(&bob, &[&apply[..], &["-lock-timeout=5m"]].concat());
        let waiting_ended = Instant::now();

        let (alice_out, alice_ended) = alice_apply.take().unwrap().join().unwrap();
        if !alice_out.success() {
            alice.fail("Alice's apply", &alice_out);
        }
        assert!(alice_out.stdout.contains("Apply complete!"), "{alice_out}");
        if !waited.success() {
            bob.fail("Bob's apply with -lock-timeout", &waited);
        }
        assert!(
            waiting_started < alice_ended && alice_ended <= waiting_ended,
            "Bob's waiting apply must span the end of Alice's"
        );
        assert!(
            waited.stdout.contains("Resources: 0 added, 0 changed, 0 destroyed"),
            "Bob's apply after the lock must find Alice's resources, not create them again: {waited}"
        );
        eprintln!(
            "remote_state: Alice's apply took {:.1?}; Bob waited {:.1?} and finished {:.1?} after her",
            alice_ended - started,
            alice_ended - waiting_started,
            waiting_ended - alice_ended
        );
    });
    control(&emulator, "DELETE", "/_drpair/latency", &json!({}));

    // The lock is gone: HeadObject answers 404 (a delete marker in the versioned bucket).
    let head = s3(
        &emulator,
        "HeadObject",
        json!({"Bucket": BUCKET, "Key": lock_key()}),
    );
    assert!(head.is_err(), "the lock object is still there: {head:?}");
    let listed = s3(&emulator, "ListObjectsV2", json!({"Bucket": BUCKET})).unwrap();
    let keys: Vec<&str> = listed["Contents"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["Key"].as_str().unwrap())
        .collect();
    assert_eq!(keys, [STATE_KEY], "only the state is left in the bucket");

    // The state in S3 is whole: JSON, every resource once, one lineage over all its versions,
    // each version a new serial and the current one the highest.
    let current = s3(
        &emulator,
        "GetObject",
        json!({"Bucket": BUCKET, "Key": STATE_KEY}),
    )
    .unwrap();
    let state = parse_state(current["Body"].as_str().unwrap(), "the state in S3");
    let serial = state["serial"].as_u64().unwrap();
    let lineage = state["lineage"].as_str().unwrap().to_string();
    let mut addresses = managed_addresses(&state);
    let count = addresses.len();
    addresses.sort();
    addresses.dedup();
    assert_eq!(
        addresses.len(),
        count,
        "a resource is twice in the state: {state:#}"
    );
    for expected in [
        "module.dr.drpair_network.main",
        "module.dr.drpair_global_database.main",
        "module.dr.drpair_failover_orchestrator.auto",
    ] {
        assert!(
            addresses.iter().any(|a| a == expected),
            "{expected} missing from the state: {addresses:?}"
        );
    }
    let versions = s3(
        &emulator,
        "ListObjectVersions",
        json!({"Bucket": BUCKET, "Prefix": STATE_KEY}),
    )
    .unwrap();
    let mut serials = Vec::new();
    for version in versions["Versions"].as_array().unwrap() {
        if version["Key"] != STATE_KEY {
            continue;
        }
        let id = version["VersionId"].as_str().unwrap();
        let old = s3(
            &emulator,
            "GetObject",
            json!({"Bucket": BUCKET, "Key": STATE_KEY, "VersionId": id}),
        )
        .unwrap();
        let old = parse_state(
            old["Body"].as_str().unwrap(),
            &format!("state version {id}"),
        );
        assert_eq!(
            old["lineage"],
            lineage.as_str(),
            "a state version of another lineage"
        );
        let old_serial = old["serial"].as_u64().unwrap();
        if version["IsLatest"] == true {
            assert_eq!(old_serial, serial);
        } else {
            assert!(
                old_serial < serial,
                "an older state version has serial {old_serial} >= {serial}"
            );
        }
        serials.push(old_serial);
    }
    let written = serials.len();
    serials.sort_unstable();
    serials.dedup();
    assert_eq!(
        serials.len(),
        written,
        "two state versions share a serial: {versions:#}"
    );
    eprintln!("remote_state: state serial {serial}, {written} version(s) in S3, {count} resources");

    // Both members see that state.
    for (who, ws) in [("Alice", &alice), ("Bob", &bob)] {
        let pulled = tf_ok(ws, "terraform state pull", &["state", "pull"]);
        let pulled = parse_state(&pulled.stdout, &format!("{who}'s terraform state pull"));
        assert_eq!(pulled["serial"], serial, "{who}");
        assert_eq!(pulled["lineage"], lineage.as_str(), "{who}");
    }

    // Nothing was created twice in the emulator.
    for region in ["us-east-1", "us-east-2"] {
        let vpcs = emulator.aws_ok(
            "ec2",
            region,
            "DescribeVpcs",
            &json!({"Filters": [{"Name": "tag:drpair:owner", "Values": ["drpair_network/payments-dev"]}]}),
        );
        assert_eq!(
            vpcs["Vpcs"].as_array().unwrap().len(),
            1,
            "VPCs in {region}: {vpcs:#}"
        );
    }
    let peerings = emulator.aws_ok(
        "ec2",
        "us-east-1",
        "DescribeVpcPeeringConnections",
        &json!({}),
    );
    assert_eq!(
        peerings["VpcPeeringConnections"].as_array().unwrap().len(),
        1,
        "{peerings:#}"
    );
    let zones = emulator.aws_ok("route53", "us-east-1", "ListHostedZones", &json!({}));
    let zones: Vec<&Value> = zones["HostedZones"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|z| z["Name"] == "payments.example.com.")
        .collect();
    assert_eq!(zones.len(), 1, "hosted zones: {zones:?}");
    let checks = emulator.aws_ok("route53", "us-east-1", "ListHealthChecks", &json!({}));
    assert_eq!(
        checks["HealthChecks"].as_array().unwrap().len(),
        2,
        "{checks:#}"
    );
    let functions = emulator.aws_ok("lambda", "us-east-2", "ListFunctions", &json!({}));
    assert_eq!(
        functions["Functions"].as_array().unwrap().len(),
        2,
        "{functions:#}"
    );

    // A final plan has nothing to do, from either working directory.
    for (who, ws) in [("Alice", &alice), ("Bob", &bob)] {
        let out = tf(
            ws,
            &[
                "plan",
                "-detailed-exitcode",
                "-input=false",
                "-var",
                &endpoint_var,
            ],
        );
        if out.code != 0 {
            ws.fail(&format!("{who}'s final plan (expected no changes)"), &out);
        }
    }
    // Plans take the lock too, and give it back.
    assert!(
        lock_info(&emulator).is_none(),
        "a plan left the lock behind"
    );
    eprintln!("remote_state: done in {:.1?}", started.elapsed());
}
