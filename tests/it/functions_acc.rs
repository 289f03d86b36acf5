//! Provider functions through the real CLI (they run on an unconfigured
//! provider process), and the docs check: the checked-in docs/ must be what
//! the schemas generate.

use crate::harness::{provider_block, repo_root, Emulator, Workspace};

#[test]
fn functions_through_the_cli() {
    let emulator = Emulator::start();
    let ws = Workspace::new(&emulator);
    ws.write_config(&format!(
        r#"{}
output "budget" {{ value = provider::drpair::rto_budget(10, 3, 60, 120) }}
output "name"   {{ value = provider::drpair::dr_name("primary-db-cluster", "dev") }}
output "breakdown" {{ value = provider::drpair::rto_breakdown(2, 90) }}
"#,
        provider_block(&emulator.endpoint, "")
    ));
    ws.init();
    ws.apply();
    let out = ws.tf(&["output", "-json"]);
    let outputs: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(outputs["budget"]["value"], 210);
    assert_eq!(outputs["name"]["value"], "primary-db-cluster-v2-dev");
    assert_eq!(
        outputs["breakdown"]["value"],
        serde_json::json!({
            "detection_seconds": 120,
            "confirmation_seconds": 10,
            "promotion_seconds": 60,
            "scale_up_seconds": 90,
            "dns_seconds": 90,
            "total_seconds": 220,
        })
    );

    ws.write_config(&format!(
        r#"{}
output "budget" {{ value = provider::drpair::rto_budget(10, 0, 60, 120) }}
"#,
        provider_block(&emulator.endpoint, "")
    ));
    let (code, out) = ws.plan_exit_code();
    assert_eq!(code, 1, "{out}");
    let text = out
        .combined()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    assert!(
        text.contains("failure_threshold must be at least 1, got 0"),
        "{out}"
    );
}

#[test]
fn checked_in_docs_match_the_schemas() {
    let root = repo_root();
    let pages = drpair::docs::render(&drpair::provider_server(), &root.join("examples"));
    let problems = drpair::docs::check(&pages, &root.join("docs"));
    assert!(
        problems.is_empty(),
        "docs/ differs from the schemas:\n{}\nregenerate with `cargo run --bin terraform-provider-drpair -- docs`",
        problems.join("\n")
    );
    for (path, text) in &pages {
        if path.starts_with("resources")
            || path.starts_with("data-sources")
            || path.starts_with("actions")
            || path.starts_with("functions")
        {
            assert!(
                text.contains("## Example Usage"),
                "{} has no example",
                path.display()
            );
        }
    }
}
