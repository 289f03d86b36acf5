//! The inventory a campaign compares: every object drpair makes in both regions, read by
//! `scripts/inventory.py` through AWS list/describe calls only, with a comparable key per object
//! (generated ids in names replaced by place) and its tags.

use crate::harness::{repo_root, Emulator};
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet};
use std::process::Command;

/// Kinds whose number follows the modeled clock, not the configuration (listed, not compared).
const VOLATILE: [&str; 2] = ["backup:recovery-point", "rds:cluster-snapshot"];

#[derive(Clone, Debug)]
pub(super) struct Object {
    kind: String,
    region: String,
    id: String,
    key: Option<String>,
    tags: Option<BTreeMap<String, String>>,
}

impl Object {
    fn identity(&self) -> (String, String, String) {
        (
            self.kind.clone(),
            self.region.clone(),
            self.key.clone().unwrap_or_else(|| "(no name)".into()),
        )
    }
}

pub(super) fn inventory(emulator: &Emulator) -> Vec<Object> {
    let out = Command::new(repo_root().join(".venv/bin/python"))
        .arg(repo_root().join("scripts/inventory.py"))
        .args(["--endpoint", &emulator.endpoint])
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .output()
        .expect("running scripts/inventory.py");
    assert!(
        out.status.success(),
        "scripts/inventory.py failed: {}\n{}",
        String::from_utf8_lossy(&out.stderr),
        emulator.log()
    );
    let parsed: Value = serde_json::from_slice(&out.stdout).expect("the inventory's JSON");
    let text = |v: &Value| v.as_str().map(str::to_string);
    parsed["objects"]
        .as_array()
        .expect("objects")
        .iter()
        .map(|o| Object {
            kind: text(&o["kind"]).unwrap_or_default(),
            region: text(&o["region"]).unwrap_or_default(),
            id: text(&o["id"]).unwrap_or_default(),
            key: text(&o["key"]),
            tags: o["tags"].as_object().map(|t| {
                t.iter()
                    .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_string()))
                    .collect()
            }),
        })
        .collect()
}

/// How many objects of each identity (kind, region, name), volatile kinds left out.
pub(super) fn census(objects: &[Object]) -> BTreeMap<(String, String, String), usize> {
    let mut counts = BTreeMap::new();
    for o in objects
        .iter()
        .filter(|o| !VOLATILE.contains(&o.kind.as_str()))
    {
        *counts.entry(o.identity()).or_insert(0) += 1;
    }
    counts
}

/// Differences between two inventories: what is duplicated and what is missing.
pub(super) fn differences(expected: &[Object], got: &[Object]) -> (Vec<String>, Vec<String>) {
    let (want, have) = (census(expected), census(got));
    let (mut extra, mut missing) = (Vec::new(), Vec::new());
    for key in want.keys().chain(have.keys()).collect::<BTreeSet<_>>() {
        let (w, h) = (
            want.get(key).copied().unwrap_or(0),
            have.get(key).copied().unwrap_or(0),
        );
        let what = format!("{} {} {}", key.0, key.1, key.2);
        if h > w {
            extra.push(format!("{what}: {h} (expected {w})"));
        } else if h < w {
            missing.push(format!("{what}: {h} (expected {w})"));
        }
    }
    (extra, missing)
}

/// Objects made since `baseline` that lack the `Environment` or `DR-Role` tag. AWS creates a
/// VPC's main route table and default security group itself; they are not drpair's objects.
pub(super) fn untagged(baseline: &[Object], got: &[Object]) -> Vec<String> {
    let old: BTreeSet<&str> = baseline.iter().map(|o| o.id.as_str()).collect();
    got.iter()
        .filter(|o| !old.contains(o.id.as_str()))
        .filter(|o| {
            let key = o.key.as_deref().unwrap_or_default();
            let made_by_aws = (o.kind == "ec2:route-table" && key.ends_with("/main"))
                || (o.kind == "ec2:security-group" && key.ends_with("/default"));
            !made_by_aws
        })
        .filter_map(|o| {
            let tags = o.tags.as_ref()?;
            let lacking: Vec<&str> = ["Environment", "DR-Role"]
                .into_iter()
                .filter(|t| !tags.contains_key(*t))
                .collect();
            (!lacking.is_empty()).then(|| {
                format!(
                    "{} {} {} ({}) lacks {}",
                    o.kind,
                    o.region,
                    o.key.as_deref().unwrap_or("-"),
                    o.id,
                    lacking.join(", ")
                )
            })
        })
        .collect()
}

/// The campaign's measure sees what it must: an object made twice, one missing, one untagged.
#[test]
fn the_inventory_sees_duplicates_missing_and_untagged_objects() {
    let emulator = Emulator::start();
    let baseline = inventory(&emulator);
    let tags = |env: bool| {
        let mut t = vec![json!({ "Key": "Name", "Value": "payments-primary" })];
        if env {
            t.push(json!({ "Key": "Environment", "Value": "test" }));
            t.push(json!({ "Key": "DR-Role", "Value": "primary" }));
        }
        json!([{ "ResourceType": "vpc", "Tags": t }])
    };
    let vpc = |env: bool| {
        emulator.aws_ok(
            "ec2",
            "us-east-1",
            "CreateVpc",
            &json!({ "CidrBlock": "10.10.0.0/16", "TagSpecifications": tags(env) }),
        )
    };
    vpc(true);
    let one = inventory(&emulator);
    let (extra, missing) = differences(&baseline, &one);
    assert!(
        extra
            .iter()
            .any(|e| e.contains("ec2:vpc us-east-1 payments-primary: 1 (expected 0)"))
            && missing.is_empty(),
        "{extra:?} {missing:?}"
    );
    assert_eq!(untagged(&baseline, &one), Vec::<String>::new());
    vpc(false);
    let two = inventory(&emulator);
    let (extra, missing) = differences(&one, &two);
    assert!(
        extra
            .iter()
            .any(|e| e.contains("ec2:vpc us-east-1 payments-primary: 2 (expected 1)")),
        "{extra:?}"
    );
    assert!(missing.is_empty());
    let (_, missing) = differences(&two, &one);
    assert!(
        missing
            .iter()
            .any(|m| m.contains("payments-primary: 1 (expected 2)")),
        "{missing:?}"
    );
    let lacking = untagged(&baseline, &two);
    assert_eq!(lacking.len(), 1, "{lacking:?}");
    assert!(
        lacking[0].contains("lacks Environment, DR-Role"),
        "{lacking:?}"
    );
}
