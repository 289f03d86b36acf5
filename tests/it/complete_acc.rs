//! `examples/complete` — the whole mission's stack — through `terraform test`
//! (its own `.tftest.hcl` assertions: apply, then a plan with nothing to
//! repair, then destroy) against the emulator, the secure way: with an ACM
//! certificate per region (requested from the emulator's ACM), so the load
//! balancers serve HTTPS and the Route 53 health checks probe HTTPS on 443,
//! which the emulator's checkers model (docs/EMULATOR.md, "Route 53 health
//! checks", "Load balancer endpoints").

use crate::harness::{repo_root, Emulator, Workspace};

#[test]
fn complete_example_passes_terraform_test() {
    let emulator = Emulator::start();
    let ws = Workspace::new(&emulator);
    let example = repo_root().join("examples/complete");
    for entry in std::fs::read_dir(&example).unwrap().flatten() {
        let path = entry.path();
        if path.extension().is_some_and(|e| e == "tf") {
            let name = path.file_name().unwrap().to_str().unwrap().to_string();
            ws.write_file(&name, &std::fs::read_to_string(&path).unwrap());
        }
    }
    std::fs::create_dir_all(ws.path().join("tests")).unwrap();
    ws.write_file(
        "tests/complete.tftest.hcl",
        &std::fs::read_to_string(example.join("tests/complete.tftest.hcl")).unwrap(),
    );
    ws.init();
    let certificate = |region: &str| {
        emulator.aws_ok(
            "acm",
            region,
            "RequestCertificate",
            &serde_json::json!({ "DomainName": "api.payments.example.com", "ValidationMethod": "DNS" }),
        )["CertificateArn"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    let certificates = format!(
        "certificate_arns={{ primary = \"{}\", dr = \"{}\" }}",
        certificate("us-east-1"),
        certificate("us-east-2")
    );
    // The certificates are the operator's, not drpair's: their calls are not the deployer's.
    emulator.control("DELETE", "/_drpair/calls", &serde_json::json!({}));
    let endpoint = format!("endpoint_url={}", emulator.endpoint);
    let out = ws.tf(&[
        "test",
        "-no-color",
        "-var",
        &endpoint,
        "-var",
        &certificates,
    ]);
    assert!(out.success(), "terraform test failed: {out}");
    assert!(out.stdout.contains("2 passed, 0 failed"), "{out}");
    let calls = emulator.control("GET", "/_drpair/calls", &serde_json::json!({}));
    deployer_policy::check(&calls);
}

/// `docs/guides/deployer-policy.md`, the least-privilege policy to run drpair, checked against
/// the calls this test made: every AWS operation the emulator answered during the whole stack's
/// apply, plan and destroy is allowed by the policy's actions, except the calls the deployed
/// failover functions make with their own roles (the actions of their role policies).
mod deployer_policy {
    use crate::harness::repo_root;
    use serde_json::Value;
    use std::collections::BTreeSet;

    /// The IAM service prefix of a boto3 client name.
    fn prefix(service: &str) -> &str {
        match service {
            "elbv2" => "elasticloadbalancing",
            "events" => "events",
            other => other,
        }
    }

    /// The IAM action an API operation needs, where the two names differ (S3's bucket
    /// configuration calls; "Actions, resources, and condition keys for Amazon S3").
    fn action(service: &str, operation: &str) -> Option<String> {
        let name = match (service, operation) {
            // No permission needed ("GetCallerIdentity": "No permissions are required").
            ("sts", "GetCallerIdentity") => return None,
            ("s3", "HeadBucket") => "ListBucket",
            ("s3", "ListObjectsV2") => "ListBucket",
            ("s3", "ListObjectVersions") => "ListBucketVersions",
            ("s3", "DeleteObjects") => "DeleteObject",
            ("s3", "PutBucketEncryption") => "PutEncryptionConfiguration",
            ("s3", "GetBucketEncryption") => "GetEncryptionConfiguration",
            ("s3", "PutPublicAccessBlock") => "PutBucketPublicAccessBlock",
            ("s3", "GetPublicAccessBlock") => "GetBucketPublicAccessBlock",
            ("s3", "PutBucketLifecycleConfiguration") => "PutLifecycleConfiguration",
            ("s3", "GetBucketLifecycleConfiguration") => "GetLifecycleConfiguration",
            ("s3", "GetBucketTagging") => "GetBucketTagging",
            ("s3", "PutBucketVersioning") => "PutBucketVersioning",
            ("s3", "GetBucketVersioning") => "GetBucketVersioning",
            (_, op) => op,
        };
        Some(format!("{}:{name}", prefix(service)))
    }

    /// `pattern` (IAM's `*` and `?` wildcards, case-insensitive as IAM compares actions)
    /// matches `action`.
    fn matches(pattern: &str, action: &str) -> bool {
        fn go(p: &[u8], a: &[u8]) -> bool {
            match (p.first(), a.first()) {
                (None, None) => true,
                (Some(b'*'), _) => go(&p[1..], a) || (!a.is_empty() && go(p, &a[1..])),
                (Some(b'?'), Some(_)) => go(&p[1..], &a[1..]),
                (Some(x), Some(y)) if x.eq_ignore_ascii_case(y) => go(&p[1..], &a[1..]),
                _ => false,
            }
        }
        go(pattern.as_bytes(), action.as_bytes())
    }

    fn actions_of(policy: &Value) -> Vec<String> {
        let mut out = Vec::new();
        for st in policy["Statement"].as_array().into_iter().flatten() {
            match &st["Action"] {
                Value::String(a) => out.push(a.clone()),
                Value::Array(list) => {
                    out.extend(list.iter().filter_map(|a| a.as_str().map(str::to_owned)))
                }
                _ => {}
            }
        }
        out
    }

    /// The JSON policy in the guide's first ```json block.
    fn deployer_policy() -> Value {
        let text =
            std::fs::read_to_string(repo_root().join("docs/guides/deployer-policy.md")).unwrap();
        let start = text.find("```json\n").expect("a ```json block") + "```json\n".len();
        let end = start + text[start..].find("```").unwrap();
        serde_json::from_str(&text[start..end]).expect("the deployer policy is JSON")
    }

    /// What the deployed functions call with their own roles: the orchestrator's and the
    /// notifier's role policies (src/resources/orchestrator/deploy/policy.rs) and what Lambda
    /// itself does for them.
    const FUNCTION_ACTIONS: &[&str] = &[
        "rds:DescribeGlobalClusters",
        "rds:FailoverGlobalCluster",
        "rds:DescribeDBClusters",
        "cloudwatch:GetMetricData",
        "autoscaling:DescribeAutoScalingGroups",
        "autoscaling:UpdateAutoScalingGroup",
        "dynamodb:GetItem",
        "dynamodb:PutItem",
        "dynamodb:DeleteItem",
        "sns:Publish",
        "logs:CreateLogStream",
        "logs:PutLogEvents",
    ];

    pub fn check(calls: &Value) {
        let policy = deployer_policy();
        let allowed = actions_of(&policy);
        assert!(
            !allowed.iter().any(|a| a == "*" || a.ends_with(":*")),
            "the deployer policy grants a whole service: {allowed:?}"
        );
        let mut missing = BTreeSet::new();
        let mut seen = BTreeSet::new();
        for call in calls["calls"].as_array().unwrap() {
            let (service, operation) = (
                call["service"].as_str().unwrap(),
                call["operation"].as_str().unwrap(),
            );
            let Some(action) = action(service, operation) else {
                continue;
            };
            seen.insert(action.clone());
            if !allowed.iter().any(|p| matches(p, &action))
                && !FUNCTION_ACTIONS.contains(&action.as_str())
            {
                missing.insert(action);
            }
        }
        assert!(
            missing.is_empty(),
            "docs/guides/deployer-policy.md does not allow {} action(s) drpair called: {missing:#?}\n(all actions called: {seen:#?})",
            missing.len()
        );
    }

    #[test]
    fn wildcards() {
        assert!(matches("ec2:Describe*", "ec2:DescribeVpcs"));
        assert!(matches("kms:*Key", "kms:CreateKey"));
        assert!(!matches("ec2:Describe*", "ec2:CreateVpc"));
        assert!(matches("iam:getrole", "iam:GetRole"));
    }
}
