//! The stacks a campaign runs on: the CI subset and `examples/complete`.

use crate::harness::{provider_block, repo_root};
use std::fs;

/// What a campaign runs on: a configuration, the same with every resource changed in place, and
/// the action the failover phase invokes, if any.
pub struct Stack {
    pub name: &'static str,
    /// Files of the configuration (name, contents), for an emulator endpoint and a tag value.
    pub files: fn(&str, &str) -> Vec<(String, String)>,
    pub action: Option<&'static str>,
}

/// `drpair_network` and `drpair_session_table`: the network and one data-tier resource.
pub fn ci_stack() -> Stack {
    fn files(endpoint: &str, cost_center: &str) -> Vec<(String, String)> {
        vec![(
            "main.tf".to_string(),
            format!(
                r#"{}
resource "drpair_network" "main" {{
  name    = "payments"
  primary = {{ cidr_block = "10.10.0.0/16" }}
  dr      = {{ cidr_block = "10.20.0.0/16" }}
}}

resource "drpair_session_table" "sessions" {{
  hash_key      = "session_id"
  ttl_attribute = "expires_at"
}}
"#,
                provider_block(
                    endpoint,
                    &format!("default_tags = {{ CostCenter = \"{cost_center}\" }}")
                )
            ),
        )]
    }
    Stack {
        name: "ci (drpair_network + drpair_session_table)",
        files,
        action: None,
    }
}

/// `examples/complete`, the whole mission's stack.
pub fn complete_stack() -> Stack {
    fn files(endpoint: &str, cost_center: &str) -> Vec<(String, String)> {
        let example = repo_root().join("examples/complete");
        let mut files = Vec::new();
        for entry in fs::read_dir(&example).expect("examples/complete").flatten() {
            let path = entry.path();
            if path.extension().is_some_and(|e| e == "tf") {
                let name = entry.file_name().to_string_lossy().into_owned();
                files.push((
                    name,
                    fs::read_to_string(&path).expect("reading an example file"),
                ));
            }
        }
        // allow_plain_http: the failover phase runs the orchestrator, whose direct probes of
        // the primary go through the emulator's proxy, plain HTTP only (CONNECT is 501;
        // docs/EMULATOR.md, "Load balancer endpoints"). complete_acc tests the HTTPS stack.
        files.push((
            "chaos.auto.tfvars".to_string(),
            format!(
                "endpoint_url = \"{endpoint}\"\ndefault_tags = {{ CostCenter = \"{cost_center}\" }}\nallow_plain_http = true\n"
            ),
        ));
        files
    }
    Stack {
        name: "examples/complete",
        files,
        action: Some("action.drpair_failover.drill"),
    }
}
