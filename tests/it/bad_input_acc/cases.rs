//! The table of bad inputs: one whole `main.tf` per case (see the module doc of `bad_input_acc`).

use super::*;

// ---------------------------------------------------------------- building the table

const TERRAFORM_BLOCK: &str = r#"terraform {
  required_providers {
    drpair = {
      source = "drpair/drpair"
    }
  }
}
"#;

/// `base` with each `(from, to)` replaced once; panics if `from` is not in `base` (a typo in
/// the table would otherwise test the valid configuration).
fn edit(base: &str, edits: &[(&str, &str)]) -> String {
    let mut text = base.to_string();
    for (from, to) in edits {
        assert!(
            text.contains(from),
            "the case table edits {from:?}, which is not in:\n{text}"
        );
        text = text.replacen(from, to, 1);
    }
    text
}

/// `base` with `lines` added before its last closing brace.
fn add(base: &str, lines: &str) -> String {
    let end = base.rfind('}').expect("a block");
    format!("{}{lines}\n{}", &base[..end], &base[end..])
}

/// The bad value's source: unknown until apply.
pub(super) fn unknown(input: &str) -> String {
    format!("resource \"terraform_data\" \"x\" {{\n  input = {input}\n}}\n\n")
}

struct Table {
    cases: Vec<Case>,
}

impl Table {
    /// A case with the usual provider block (environment "test", the emulator).
    fn add(
        &mut self,
        subject: &'static str,
        name: &'static str,
        phase: Phase,
        expect: &'static str,
        at: &'static str,
        body: &str,
    ) {
        let hcl = format!("{}\n{body}", provider_block("ENDPOINT", ""));
        self.cases.push(Case {
            subject,
            name,
            phase,
            hcl,
            expect,
            at,
        });
    }

    /// A case with its own provider block.
    #[allow(clippy::too_many_arguments)] // one column of the table each
    fn add_with_provider(
        &mut self,
        subject: &'static str,
        name: &'static str,
        phase: Phase,
        expect: &'static str,
        at: &'static str,
        provider: &str,
        body: &str,
    ) {
        let hcl = format!("{TERRAFORM_BLOCK}\n{provider}\n{body}");
        self.cases.push(Case {
            subject,
            name,
            phase,
            hcl,
            expect,
            at,
        });
    }
}

const SESSION_TABLE: &str = r#"resource "drpair_session_table" "sessions" {
  hash_key      = "session_id"
  ttl_attribute = "expires_at"
}
"#;

const NETWORK: &str = r#"resource "drpair_network" "main" {
  name = "payments"
  primary = {
    cidr_block = "10.10.0.0/16"
  }
  dr = {
    cidr_block = "10.20.0.0/16"
  }
}
"#;

const GLOBAL_DATABASE: &str = r#"resource "drpair_global_database" "main" {
  engine_version  = "14.9"
  database_name   = "payments"
  master_username = "payments_admin"
  instance_class  = "db.r6g.large"
  primary = {
    subnet_ids     = ["P_SUBNET_A", "P_SUBNET_B"]
    instance_count = 2
  }
  dr = {
    subnet_ids     = ["D_SUBNET_A", "D_SUBNET_B"]
    instance_count = 1
  }
}
"#;

const APP_TIER: &str = r#"resource "drpair_app_tier" "web" {
  name             = "payments-web"
  min_size         = 2
  max_size         = 6
  desired_capacity = 2
  allow_plain_http = true
  primary = {
    vpc_id             = "vpc-0a1b2c3d"
    public_subnet_ids  = ["subnet-0a000001", "subnet-0a000002"]
    private_subnet_ids = ["subnet-0a000003", "subnet-0a000004"]
  }
  dr = {
    vpc_id             = "vpc-0d1c2b3a"
    public_subnet_ids  = ["subnet-0d000001", "subnet-0d000002"]
    private_subnet_ids = ["subnet-0d000003", "subnet-0d000004"]
  }
}
"#;

const FAILOVER_DNS: &str = r#"resource "drpair_failover_dns" "api" {
  zone_name   = "payments.example.com"
  record_name = "api"
  primary = {
    alb_dns_name = "web-primary-123.us-east-1.elb.amazonaws.com"
    alb_zone_id  = "Z35SXDOTRQ7X7K"
  }
  dr = {
    alb_dns_name = "web-dr-456.us-east-2.elb.amazonaws.com"
    alb_zone_id  = "Z3AADJGX6KTTL2"
  }
}
"#;

const METRIC_STREAM: &str = r#"resource "drpair_metric_stream" "metrics" {
  namespaces    = ["AWS/RDS", "AWS/ApplicationELB"]
  output_format = "json"
}
"#;

const BACKUP_PLAN: &str = r#"resource "drpair_backup_plan" "db" {
  resource_arns = ["arn:aws:rds:us-east-1:123456789012:cluster:primary-db-cluster-v2-test"]
}
"#;

const MONITORING: &str = r#"resource "drpair_monitoring" "alerts" {
  email_addresses = ["oncall@example.com"]
}
"#;

const ORCHESTRATOR: &str = r#"resource "drpair_failover_orchestrator" "auto" {
  global_cluster_identifier = "global-db-cluster-v2-test"
  dr_cluster_identifier     = "dr-db-cluster-v2-test"
  primary_health_check_id   = "abcdef11-2222-3333-4444-555555fedcba"
  dr_asg_name               = "payments-web-test"
  topic_arns                = ["arn:aws:sns:us-east-1:123456789012:drpair-alerts-v2-test", "arn:aws:sns:us-east-2:123456789012:drpair-alerts-v2-test"]
}
"#;

const REPLICATION_STATUS: &str = r#"data "drpair_replication_status" "now" {
  global_cluster_identifier = "global-db-cluster-v2-test"
}
"#;

const FAILOVER_ACTION: &str = r#"action "drpair_failover" "go" {
  config {
    global_cluster_identifier = "global-db-cluster-v2-test"
    mode                      = "switchover"
  }
}
"#;

fn output(expr: &str) -> String {
    format!("output \"result\" {{\n  value = {expr}\n}}\n")
}

/// The case table: `t.add(subject, name, phase, expected error substring, attribute as quoted,
/// main.tf after the provider block)`; one line per case, hence no rustfmt.
#[rustfmt::skip]
pub(super) fn cases() -> Vec<Case> {
    use Phase::{Apply, Plan, PlanInvoke, Validate};
    let mut t = Table { cases: Vec::new() };
    let provider = |body: &str| format!("provider \"drpair\" {{\n{body}\n}}\n");

    // ---- provider configuration
    let p = "provider";
    let st = SESSION_TABLE;
    t.add_with_provider(p, "environment_malformed", Validate, "Invalid environment name", r#"environment  = "Prod_1""#,
        &provider("  environment  = \"Prod_1\"\n  endpoint_url = \"ENDPOINT\""), st);
    t.add_with_provider(p, "environment_too_long", Validate, "Invalid environment name", r#"environment  = "abcdefghijklmnopqrstu""#,
        &provider("  environment  = \"abcdefghijklmnopqrstu\"\n  endpoint_url = \"ENDPOINT\""), st);
    t.add_with_provider(p, "environment_missing", Validate, r#"The argument "environment" is required"#, r#"provider "drpair" {"#,
        &provider("  endpoint_url = \"ENDPOINT\""), st);
    t.add_with_provider(p, "environment_wrong_type", Validate, r#"Inappropriate value for attribute "environment": string required"#, r#"environment  = ["dev"]"#,
        &provider("  environment  = [\"dev\"]\n  endpoint_url = \"ENDPOINT\""), st);
    t.add_with_provider(p, "primary_region_malformed", Validate, "Invalid AWS region", r#"primary_region = "useast1""#,
        &provider("  environment  = \"test\"\n  endpoint_url = \"ENDPOINT\"\n  primary_region = \"useast1\""), st);
    t.add_with_provider(p, "dr_region_same_as_primary", Validate, "DR region must differ from the primary region", r#"dr_region    = "us-east-1""#,
        &provider("  environment  = \"test\"\n  endpoint_url = \"ENDPOINT\"\n  dr_region    = \"us-east-1\""), st);
    t.add_with_provider(p, "name_version_malformed", Validate, "Invalid name version", r#"name_version = "2""#,
        &provider("  environment  = \"test\"\n  endpoint_url = \"ENDPOINT\"\n  name_version = \"2\""), st);
    t.add_with_provider(p, "default_tags_reserved_key", Validate, "Reserved tag key", r#"default_tags = { Environment = "prod" }"#,
        &provider("  environment  = \"test\"\n  endpoint_url = \"ENDPOINT\"\n  default_tags = { Environment = \"prod\" }"), st);
    t.add_with_provider(p, "default_tags_wrong_type", Validate, r#"Inappropriate value for attribute "default_tags": map of string required"#, r#"default_tags = ["CostCenter"]"#,
        &provider("  environment  = \"test\"\n  endpoint_url = \"ENDPOINT\"\n  default_tags = [\"CostCenter\"]"), st);
    t.add_with_provider(p, "endpoint_url_without_scheme", Validate, "Invalid endpoint URL", r#"endpoint_url = "127.0.0.1:4566""#,
        &provider("  environment  = \"test\"\n  endpoint_url = \"127.0.0.1:4566\""), st);
    t.add_with_provider(p, "endpoint_url_plain_http_off_loopback", Validate, "Invalid endpoint URL", r#"endpoint_url = "http://10.0.0.5:4566""#,
        &provider("  environment  = \"test\"\n  endpoint_url = \"http://10.0.0.5:4566\""), st);
    t.add_with_provider(p, "assume_role_arn_malformed", Validate, "Invalid role ARN", r#"assume_role_arn = "not-an-arn""#,
        &provider("  environment  = \"test\"\n  endpoint_url = \"ENDPOINT\"\n  assume_role_arn = \"not-an-arn\""), st);
    t.add_with_provider(p, "assume_role_arn_not_a_role", Validate, "Invalid role ARN", r#"assume_role_arn = "arn:aws:iam::123456789012:user/deployer""#,
        &provider("  environment  = \"test\"\n  endpoint_url = \"ENDPOINT\"\n  assume_role_arn = \"arn:aws:iam::123456789012:user/deployer\""), st);
    t.add_with_provider(p, "environment_unknown", Plan, "Environment not known", "environment  = terraform_data.x.output",
        &provider("  environment  = terraform_data.x.output\n  endpoint_url = \"ENDPOINT\""),
        &(unknown("\"test\"") + st));
    t.add_with_provider(p, "primary_region_unknown", Plan, "primary_region not known", "primary_region = terraform_data.x.output",
        &provider("  environment  = \"test\"\n  endpoint_url = \"ENDPOINT\"\n  primary_region = terraform_data.x.output"),
        &(unknown("\"us-east-2\"") + st));

    // ---- drpair_network
    let s = "drpair_network";
    t.add(s, "cidr_malformed", Validate, "Invalid CIDR block", r#"cidr_block = "10.10.0/16""#,
        &edit(NETWORK, &[(r#"cidr_block = "10.10.0.0/16""#, r#"cidr_block = "10.10.0/16""#)]));
    t.add(s, "cidr_host_bits", Validate, "has host bits set", r#"cidr_block = "10.20.1.0/16""#,
        &edit(NETWORK, &[(r#"cidr_block = "10.20.0.0/16""#, r#"cidr_block = "10.20.1.0/16""#)]));
    t.add(s, "cidr_overlapping", Validate, "Overlapping CIDR blocks", r#"cidr_block = "10.10.128.0/17""#,
        &edit(NETWORK, &[(r#"cidr_block = "10.20.0.0/16""#, r#"cidr_block = "10.10.128.0/17""#)]));
    t.add(s, "cidr_too_small_for_the_zones", Validate, "CIDR block cannot hold the subnets", r#"cidr_block = "10.10.0.0/28""#,
        &edit(NETWORK, &[(r#"cidr_block = "10.10.0.0/16""#, r#"cidr_block = "10.10.0.0/28""#)]));
    t.add(s, "cidr_larger_than_a_vpc", Validate, "an AWS VPC needs a prefix from /16 to /28", r#"cidr_block = "10.0.0.0/8""#,
        &edit(NETWORK, &[(r#"cidr_block = "10.10.0.0/16""#, r#"cidr_block = "10.0.0.0/8""#)]));
    t.add(s, "az_count_out_of_range", Validate, "Invalid availability zone count", "az_count = 7",
        &add(NETWORK, "  az_count = 7"));
    t.add(s, "az_count_wrong_type", Validate, r#"Inappropriate value for attribute "az_count": a number is required"#, r#"az_count = "three""#,
        &add(NETWORK, "  az_count = \"three\""));
    t.add(s, "name_malformed", Validate, "Invalid name", r#"name = "Payments_Net""#,
        &edit(NETWORK, &[(r#"name = "payments""#, r#"name = "Payments_Net""#)]));
    t.add(s, "dr_missing", Validate, r#"The argument "dr" is required"#, r#"resource "drpair_network" "main" {"#,
        &edit(NETWORK, &[("  dr = {\n    cidr_block = \"10.20.0.0/16\"\n  }\n", "")]));
    t.add(s, "cidr_block_missing", Validate, r#"attribute "cidr_block" is required"#, "primary = {}",
        &edit(NETWORK, &[("primary = {\n    cidr_block = \"10.10.0.0/16\"\n  }", "primary = {}")]));
    t.add(s, "timeouts_malformed", Validate, "Invalid timeout", r#"timeouts = { create = "30 minutes" }"#,
        &add(NETWORK, "  timeouts = { create = \"30 minutes\" }"));
    t.add(s, "tags_reserved_key", Validate, "Reserved tag key", r#"tags = { Environment = "prod" }"#,
        &add(NETWORK, "  tags = { Environment = \"prod\" }"));
    t.add(s, "cidr_unknown_until_apply", Apply, "Invalid CIDR block", "cidr_block = terraform_data.x.output",
        &(unknown("\"10.10.0.0/33\"") + &edit(NETWORK, &[(r#"cidr_block = "10.10.0.0/16""#, "cidr_block = terraform_data.x.output")])));
    t.add(s, "overlap_unknown_until_apply", Apply, "Overlapping CIDR blocks", "cidr_block = terraform_data.x.output",
        &(unknown("\"10.10.0.0/16\"") + &edit(NETWORK, &[(r#"cidr_block = "10.20.0.0/16""#, "cidr_block = terraform_data.x.output")])));

    // ---- drpair_global_database
    let s = "drpair_global_database";
    let gdb = GLOBAL_DATABASE;
    t.add(s, "engine_version_15", Validate, "Unsupported engine version", r#"engine_version  = "15.4""#,
        &edit(gdb, &[(r#"engine_version  = "14.9""#, r#"engine_version  = "15.4""#)]));
    t.add(s, "instance_class_burstable", Validate, "Invalid instance class", r#"instance_class  = "db.t4g.medium""#,
        &edit(gdb, &[(r#"instance_class  = "db.r6g.large""#, r#"instance_class  = "db.t4g.medium""#)]));
    t.add(s, "instance_class_malformed", Validate, "it must look like db.<family>.<size>", r#"instance_class  = "r6g.large""#,
        &edit(gdb, &[(r#"instance_class  = "db.r6g.large""#, r#"instance_class  = "r6g.large""#)]));
    t.add(s, "master_username_reserved", Validate, "Invalid master username", r#"master_username = "rdsadmin""#,
        &edit(gdb, &[(r#"master_username = "payments_admin""#, r#"master_username = "rdsadmin""#)]));
    t.add(s, "database_name_with_hyphen", Validate, "Invalid database name", r#"database_name   = "payments-db""#,
        &edit(gdb, &[(r#"database_name   = "payments""#, r#"database_name   = "payments-db""#)]));
    t.add(s, "rpo_target_below_20", Validate, "RPO target out of range", "rpo_target_seconds = 10",
        &add(gdb, "  rpo_target_seconds = 10"));
    t.add(s, "instance_count_zero", Validate, "Invalid instance count", "instance_count = 0",
        &edit(gdb, &[("instance_count = 2", "instance_count = 0")]));
    t.add(s, "instance_count_17", Validate, "Invalid instance count", "instance_count = 17",
        &edit(gdb, &[("instance_count = 1", "instance_count = 17")]));
    t.add(s, "one_subnet", Validate, "Not enough subnets", r#"subnet_ids     = ["D_SUBNET_A"]"#,
        &edit(gdb, &[(r#"subnet_ids     = ["D_SUBNET_A", "D_SUBNET_B"]"#, r#"subnet_ids     = ["D_SUBNET_A"]"#)]));
    t.add(s, "subnet_id_malformed", Validate, "Invalid subnet id", r#"subnet_ids     = ["P_SUBNET_A", "sn-123"]"#,
        &edit(gdb, &[(r#"subnet_ids     = ["P_SUBNET_A", "P_SUBNET_B"]"#, r#"subnet_ids     = ["P_SUBNET_A", "sn-123"]"#)]));
    t.add(s, "deletion_protection_wrong_type", Validate, r#"Inappropriate value for attribute "deletion_protection": a bool is required"#, r#"deletion_protection = "maybe""#,
        &add(gdb, "  deletion_protection = \"maybe\""));
    t.add(s, "tags_reserved_key", Validate, "Reserved tag key", r#"tags = { "DR-Role" = "primary" }"#,
        &add(gdb, "  tags = { \"DR-Role\" = \"primary\" }"));
    t.add(s, "timeouts_malformed", Validate, "Invalid timeout", r#"timeouts = { delete = "forever" }"#,
        &add(gdb, "  timeouts = { delete = \"forever\" }"));
    t.add(s, "subnets_not_found", Plan, "Subnets not found", r#"subnet_ids     = ["subnet-0000aaaa", "subnet-0000bbbb"]"#,
        &edit(gdb, &[(r#"subnet_ids     = ["P_SUBNET_A", "P_SUBNET_B"]"#, r#"subnet_ids     = ["subnet-0000aaaa", "subnet-0000bbbb"]"#)]));
    t.add(s, "subnets_in_one_zone", Plan, "Subnets in one availability zone", r#"subnet_ids     = ["P_SUBNET_A", "P_SUBNET_A2"]"#,
        &edit(gdb, &[(r#"subnet_ids     = ["P_SUBNET_A", "P_SUBNET_B"]"#, r#"subnet_ids     = ["P_SUBNET_A", "P_SUBNET_A2"]"#)]));
    t.add(s, "subnets_in_two_vpcs", Plan, "Subnets in several VPCs", r#"subnet_ids     = ["P_SUBNET_A", "OTHER_VPC_SUBNET"]"#,
        &edit(gdb, &[(r#"subnet_ids     = ["P_SUBNET_A", "P_SUBNET_B"]"#, r#"subnet_ids     = ["P_SUBNET_A", "OTHER_VPC_SUBNET"]"#)]));
    t.add(s, "instance_class_unknown_until_apply", Apply, "Invalid instance class", "instance_class  = terraform_data.x.output",
        &(unknown("\"db.t4g.medium\"") + &edit(gdb, &[(r#"instance_class  = "db.r6g.large""#, "instance_class  = terraform_data.x.output")])));

    // ---- drpair_session_table
    let s = "drpair_session_table";
    t.add(s, "hash_key_with_space", Validate, "Invalid attribute name", r#"hash_key      = "session id""#,
        &edit(st, &[(r#"hash_key      = "session_id""#, r#"hash_key      = "session id""#)]));
    t.add(s, "hash_key_type_unknown_letter", Validate, "Invalid key attribute type", r#"hash_key_type = "X""#,
        &add(st, "  hash_key_type = \"X\""));
    t.add(s, "range_key_repeats_hash_key", Validate, "Sort key repeats the partition key", r#"range_key     = "session_id""#,
        &add(st, "  range_key     = \"session_id\""));
    t.add(s, "range_key_type_without_range_key", Validate, "Sort key type without a sort key", r#"range_key_type = "N""#,
        &add(st, "  range_key_type = \"N\""));
    t.add(s, "tags_aws_prefix", Validate, "Reserved tag key", r#"tags = { "aws:cloudformation:stack-name" = "x" }"#,
        &add(st, "  tags = { \"aws:cloudformation:stack-name\" = \"x\" }"));
    t.add(s, "hash_key_missing", Validate, r#"The argument "hash_key" is required"#, r#"resource "drpair_session_table" "sessions" {"#,
        &edit(st, &[("  hash_key      = \"session_id\"\n", "")]));
    t.add(s, "ttl_attribute_empty", Validate, "Invalid attribute name", r#"ttl_attribute = """#,
        &edit(st, &[(r#"ttl_attribute = "expires_at""#, r#"ttl_attribute = """#)]));
    t.add(s, "point_in_time_recovery_wrong_type", Validate, r#"Inappropriate value for attribute "point_in_time_recovery": a bool is required"#, r#"point_in_time_recovery = "yes please""#,
        &add(st, "  point_in_time_recovery = \"yes please\""));
    t.add(s, "hash_key_unknown_until_apply", Apply, "Invalid attribute name", "hash_key      = terraform_data.x.output",
        &(unknown("\"session id\"") + &edit(st, &[(r#"hash_key      = "session_id""#, "hash_key      = terraform_data.x.output")])));

    // ---- drpair_app_tier
    let s = "drpair_app_tier";
    let app = APP_TIER;
    // The tier with certificates instead of the opt-out from HTTPS (the cases add them).
    let https = &edit(app, &[("  allow_plain_http = true\n", "")]);
    let certificates = [
        (r#"vpc_id             = "vpc-0a1b2c3d""#, "vpc_id             = \"vpc-0a1b2c3d\"\n    certificate_arn    = \"arn:aws:acm:us-east-1:123456789012:certificate/0a0a0a0a-1111-2222-3333-444444444444\""),
        (r#"vpc_id             = "vpc-0d1c2b3a""#, "vpc_id             = \"vpc-0d1c2b3a\"\n    certificate_arn    = \"arn:aws:acm:us-east-2:123456789012:certificate/0d0d0d0d-1111-2222-3333-444444444444\""),
    ];
    // Issue 14: a payment API is HTTPS unless the configuration opts out by name.
    t.add(s, "plain_http_without_opt_out", Validate, "primary.certificate_arn and dr.certificate_arn", "primary = {",
        https);
    t.add(s, "plain_http_opt_out_false", Validate, "HTTPS certificate required", "primary = {",
        &edit(app, &[("allow_plain_http = true", "allow_plain_http = false")]));
    t.add(s, "certificates_and_plain_http_opt_out", Validate, "Conflicting HTTPS settings", "allow_plain_http = true",
        &edit(app, &certificates));
    t.add(s, "plain_http_opt_out_unknown_until_apply", Apply, "allow_plain_http = true opts out of HTTPS, but certificate_arn is set", "allow_plain_http = terraform_data.x.output",
        &(unknown("true") + &edit(app, &[("allow_plain_http = true", "allow_plain_http = terraform_data.x.output")]).replace(certificates[0].0, certificates[0].1).replace(certificates[1].0, certificates[1].1)));
    t.add(s, "min_size_above_max_size", Validate, "Invalid group sizes", "max_size         = 6",
        &edit(app, &[("min_size         = 2", "min_size         = 8")]));
    t.add(s, "desired_capacity_above_max_size", Validate, "Desired capacity out of range", "desired_capacity = 7",
        &edit(app, &[("desired_capacity = 2", "desired_capacity = 7")]));
    t.add(s, "dr_desired_capacity_above_desired", Validate, "DR capacity above the primary's", "dr_desired_capacity = 3",
        &add(app, "  dr_desired_capacity = 3"));
    t.add(s, "instance_type_malformed", Validate, "Invalid instance type", r#"instance_type    = "t3""#,
        &add(app, "  instance_type    = \"t3\""));
    t.add(s, "app_port_out_of_range", Validate, "Invalid app_port", "app_port         = 70000",
        &add(app, "  app_port         = 70000"));
    t.add(s, "root_volume_too_small", Validate, "Invalid root_volume_size", "root_volume_size = 4",
        &add(app, "  root_volume_size = 4"));
    t.add(s, "health_check_path_relative", Validate, "Invalid health check path", r#"health_check_path = "health""#,
        &add(app, "  health_check_path = \"health\""));
    t.add(s, "user_data_too_long", Validate, "User data too long", r#"user_data = format("%17000s", "x")"#,
        &add(app, "  user_data = format(\"%17000s\", \"x\")"));
    t.add(s, "vpc_id_malformed", Validate, "Invalid VPC id", r#"vpc_id             = "vpc0d1c2b3a""#,
        &edit(app, &[(r#"vpc_id             = "vpc-0d1c2b3a""#, r#"vpc_id             = "vpc0d1c2b3a""#)]));
    t.add(s, "one_public_subnet", Validate, "Too few subnets", r#"public_subnet_ids  = ["subnet-0d000001"]"#,
        &edit(app, &[(r#"public_subnet_ids  = ["subnet-0d000001", "subnet-0d000002"]"#, r#"public_subnet_ids  = ["subnet-0d000001"]"#)]));
    t.add(s, "image_id_in_one_region", Validate, "image_id set in one region only", "dr = {",
        &edit(app, &[(r#"vpc_id             = "vpc-0a1b2c3d""#, "vpc_id             = \"vpc-0a1b2c3d\"\n    image_id           = \"ami-0123456789abcdef0\"")]));
    t.add(s, "certificate_arn_malformed", Validate, "Invalid certificate ARN", r#"certificate_arn    = "arn:aws:iam::123456789012:server-certificate/web""#,
        &edit(https, &[
            (r#"vpc_id             = "vpc-0a1b2c3d""#, "vpc_id             = \"vpc-0a1b2c3d\"\n    certificate_arn    = \"arn:aws:iam::123456789012:server-certificate/web\""),
            (r#"vpc_id             = "vpc-0d1c2b3a""#, "vpc_id             = \"vpc-0d1c2b3a\"\n    certificate_arn    = \"arn:aws:acm:us-east-2:123456789012:certificate/0d0d0d0d-1111-2222-3333-444444444444\""),
        ]));
    // Issue 14 item 4: access logs to a bucket of each region.
    let buckets = |primary: &str, dr: &str| {
        edit(app, &[
            (r#"vpc_id             = "vpc-0a1b2c3d""#, &*format!("vpc_id             = \"vpc-0a1b2c3d\"\n    access_logs_bucket = \"{primary}\"")),
            (r#"vpc_id             = "vpc-0d1c2b3a""#, &*format!("vpc_id             = \"vpc-0d1c2b3a\"\n    access_logs_bucket = \"{dr}\"")),
        ])
    };
    t.add(s, "access_logs_bucket_is_a_url", Validate, "Invalid S3 bucket name", r#"access_logs_bucket = "s3://payments-alb-logs-use2""#,
        &buckets("payments-alb-logs-use1", "s3://payments-alb-logs-use2"));
    t.add(s, "access_logs_bucket_uppercase", Validate, "Invalid S3 bucket name", r#"access_logs_bucket = "Payments-ALB-Logs""#,
        &buckets("Payments-ALB-Logs", "payments-alb-logs-use2"));
    t.add(s, "access_logs_bucket_in_one_region", Validate, "access_logs_bucket set in one region only", "dr = {",
        &edit(app, &[(r#"vpc_id             = "vpc-0a1b2c3d""#, "vpc_id             = \"vpc-0a1b2c3d\"\n    access_logs_bucket = \"payments-alb-logs-use1\"")]));
    t.add(s, "access_logs_prefix_with_awslogs", Validate, "Invalid access log prefix", r#"access_logs_prefix = "alb/AWSLogs""#,
        &add(&buckets("payments-alb-logs-use1", "payments-alb-logs-use2"), "  access_logs_prefix = \"alb/AWSLogs\""));
    t.add(s, "access_logs_prefix_leading_slash", Validate, "Invalid access log prefix", r#"access_logs_prefix = "/alb""#,
        &add(&buckets("payments-alb-logs-use1", "payments-alb-logs-use2"), "  access_logs_prefix = \"/alb\""));
    t.add(s, "access_logs_prefix_without_buckets", Validate, "Access log prefix without buckets", r#"access_logs_prefix = "alb""#,
        &add(app, "  access_logs_prefix = \"alb\""));
    t.add(s, "tags_reserved_key", Validate, "Reserved tag key", r#"tags = { Name = "web" }"#,
        &add(app, "  tags = { Name = \"web\" }"));
    t.add(s, "name_too_long_with_environment", Plan, "Name too long", r#"name             = "payments-web-frontend-tier-a""#,
        &edit(app, &[(r#"name             = "payments-web""#, r#"name             = "payments-web-frontend-tier-a""#)]));
    t.add(s, "certificate_in_the_wrong_region", Plan, "Certificate in the wrong region", r#"certificate_arn    = "arn:aws:acm:us-east-2:123456789012:certificate/0a0a0a0a-1111-2222-3333-444444444444""#,
        &edit(https, &[
            (r#"vpc_id             = "vpc-0a1b2c3d""#, "vpc_id             = \"vpc-0a1b2c3d\"\n    certificate_arn    = \"arn:aws:acm:us-east-2:123456789012:certificate/0a0a0a0a-1111-2222-3333-444444444444\""),
            (r#"vpc_id             = "vpc-0d1c2b3a""#, "vpc_id             = \"vpc-0d1c2b3a\"\n    certificate_arn    = \"arn:aws:acm:us-east-2:123456789012:certificate/0d0d0d0d-1111-2222-3333-444444444444\""),
        ]));
    t.add(s, "desired_capacity_unknown_until_apply", Apply, "Desired capacity out of range", "desired_capacity = terraform_data.x.output",
        &(unknown("9") + &edit(app, &[("desired_capacity = 2", "desired_capacity = terraform_data.x.output")])));

    // ---- drpair_failover_dns
    let s = "drpair_failover_dns";
    let dns = FAILOVER_DNS;
    let health_check = |body: &str| add(dns, &format!("  health_check = {{\n{body}\n  }}"));
    t.add(s, "no_zone", Validate, "No hosted zone", r#"resource "drpair_failover_dns" "api" {"#,
        &edit(dns, &[("  zone_name   = \"payments.example.com\"\n", "")]));
    t.add(s, "zone_name_malformed", Validate, "Invalid DNS name", r#"zone_name   = "payments..example.com""#,
        &edit(dns, &[(r#"zone_name   = "payments.example.com""#, r#"zone_name   = "payments..example.com""#)]));
    t.add(s, "record_name_with_space", Validate, "Invalid DNS name", r#"record_name = "api endpoint""#,
        &edit(dns, &[(r#"record_name = "api""#, r#"record_name = "api endpoint""#)]));
    t.add(s, "alb_dns_name_is_a_url", Validate, "Invalid load balancer DNS name", r#"alb_dns_name = "https://web-dr-456.us-east-2.elb.amazonaws.com/""#,
        &edit(dns, &[(r#"alb_dns_name = "web-dr-456.us-east-2.elb.amazonaws.com""#, r#"alb_dns_name = "https://web-dr-456.us-east-2.elb.amazonaws.com/""#)]));
    t.add(s, "alb_zone_id_empty", Validate, "Empty zone id", r#"alb_zone_id  = """#,
        &edit(dns, &[(r#"alb_zone_id  = "Z35SXDOTRQ7X7K""#, r#"alb_zone_id  = """#)]));
    t.add(s, "request_interval_15", Validate, "Invalid request interval", "request_interval = 15",
        &health_check("    request_interval = 15"));
    t.add(s, "failure_threshold_zero", Validate, "Invalid failure threshold", "failure_threshold = 0",
        &health_check("    failure_threshold = 0"));
    t.add(s, "protocol_tcp", Validate, "Invalid protocol", r#"protocol = "TCP""#,
        &health_check("    protocol = \"TCP\""));
    t.add(s, "https_on_port_80", Validate, "HTTPS on port 80", "port     = 80",
        &health_check("    protocol = \"HTTPS\"\n    port     = 80"));
    t.add(s, "rto_target_exceeded", Validate, "Health check timing exceeds the RTO target", "failure_threshold = 10",
        &health_check("    request_interval  = 30\n    failure_threshold = 10"));
    t.add(s, "rto_target_zero", Validate, "Invalid RTO target", "rto_target_seconds = 0",
        &add(dns, "  rto_target_seconds = 0"));
    t.add(s, "health_check_wrong_type", Validate, r#"Inappropriate value for attribute "health_check": object required"#, r#"health_check = "fast""#,
        &add(dns, "  health_check = \"fast\""));
    t.add(s, "zone_id_not_found", Plan, "No such hosted zone", r#"zone_id     = "Z0000000NOSUCHZONE""#,
        &edit(dns, &[(r#"zone_name   = "payments.example.com""#, r#"zone_id     = "Z0000000NOSUCHZONE""#)]));
    t.add(s, "request_interval_unknown_until_apply", Apply, "Invalid request interval", "request_interval = terraform_data.x.output",
        &(unknown("15") + &health_check("    request_interval = terraform_data.x.output")));

    // ---- drpair_metric_stream
    let s = "drpair_metric_stream";
    let ms = METRIC_STREAM;
    t.add(s, "namespaces_empty", Validate, "No namespaces to stream", "namespaces    = []",
        &edit(ms, &[(r#"namespaces    = ["AWS/RDS", "AWS/ApplicationELB"]"#, "namespaces    = []")]));
    t.add(s, "namespace_with_leading_space", Validate, "Invalid namespace", r#"namespaces    = ["AWS/RDS", " AWS/ApplicationELB"]"#,
        &edit(ms, &[(r#"namespaces    = ["AWS/RDS", "AWS/ApplicationELB"]"#, r#"namespaces    = ["AWS/RDS", " AWS/ApplicationELB"]"#)]));
    t.add(s, "namespaces_wrong_type", Validate, r#"Inappropriate value for attribute "namespaces": set of string required"#, r#"namespaces    = "AWS/RDS""#,
        &edit(ms, &[(r#"namespaces    = ["AWS/RDS", "AWS/ApplicationELB"]"#, r#"namespaces    = "AWS/RDS""#)]));
    t.add(s, "output_format_csv", Validate, "Invalid output format", r#"output_format = "csv""#,
        &edit(ms, &[(r#"output_format = "json""#, r#"output_format = "csv""#)]));
    t.add(s, "retention_days_zero", Validate, "Invalid retention", "retention_days = 0",
        &add(ms, "  retention_days = 0"));
    t.add(s, "name_prefix_malformed", Validate, "Invalid name prefix", r#"name_prefix   = "Metrics_""#,
        &add(ms, "  name_prefix   = \"Metrics_\""));
    t.add_with_provider(s, "name_prefix_too_long_with_environment", Plan, "Name prefix too long", r#"name_prefix   = "abcdefghijklmnopqrstuvwx""#,
        &provider("  environment  = \"abcdefghijklmnopqrst\"\n  endpoint_url = \"ENDPOINT\""),
        &add(ms, "  name_prefix   = \"abcdefghijklmnopqrstuvwx\""));
    t.add(s, "output_format_unknown_until_apply", Apply, "Invalid output format", "output_format = terraform_data.x.output",
        &(unknown("\"csv\"") + &edit(ms, &[(r#"output_format = "json""#, "output_format = terraform_data.x.output")])));

    // ---- drpair_backup_plan
    let s = "drpair_backup_plan";
    let bp = BACKUP_PLAN;
    let arns = r#"resource_arns = ["arn:aws:rds:us-east-1:123456789012:cluster:primary-db-cluster-v2-test"]"#;
    t.add(s, "cron_with_four_fields", Validate, "Invalid schedule expression", r#"schedule = "cron(0 5 * *)""#,
        &add(bp, "  schedule = \"cron(0 5 * *)\""));
    t.add(s, "cron_month_13", Validate, "Invalid schedule expression", r#"schedule = "cron(0 5 ? 13 * *)""#,
        &add(bp, "  schedule = \"cron(0 5 ? 13 * *)\""));
    t.add(s, "cron_every_5_minutes", Validate, "the minutes field", r#"schedule = "cron(*/5 * * * ? *)""#,
        &add(bp, "  schedule = \"cron(*/5 * * * ? *)\""));
    t.add(s, "rate_expression", Validate, "AWS Backup takes cron expressions only", r#"schedule = "rate(1 hour)""#,
        &add(bp, "  schedule = \"rate(1 hour)\""));
    t.add(s, "resource_arn_malformed", Validate, "Invalid resource ARN", r#"resource_arns = ["primary-db-cluster-v2-test"]"#,
        &edit(bp, &[(arns, r#"resource_arns = ["primary-db-cluster-v2-test"]"#)]));
    t.add(s, "resource_arns_empty", Validate, "No resources to back up", "resource_arns = []",
        &edit(bp, &[(arns, "resource_arns = []")]));
    t.add(s, "dr_resource_arns_empty", Validate, "No DR resources to back up", "dr_resource_arns = []",
        &add(bp, "  dr_resource_arns = []"));
    t.add(s, "retention_days_zero", Validate, "Invalid retention", "retention_days = 0",
        &add(bp, "  retention_days = 0"));
    t.add(s, "copy_retention_days_negative", Validate, "Invalid retention", "copy_retention_days = -1",
        &add(bp, "  copy_retention_days = -1"));
    t.add(s, "continuous_backup_retention_90", Validate, "Retention too long for continuous backup", "retention_days    = 90",
        &add(bp, "  continuous_backup = true\n  retention_days    = 90"));
    t.add(s, "resource_outside_the_primary_region", Plan, "Resource outside the primary region", r#"resource_arns = ["arn:aws:rds:us-east-2:123456789012:cluster:dr-db-cluster-v2-test"]"#,
        &edit(bp, &[(arns, r#"resource_arns = ["arn:aws:rds:us-east-2:123456789012:cluster:dr-db-cluster-v2-test"]"#)]));
    t.add(s, "schedule_unknown_until_apply", Apply, "Invalid schedule expression", "schedule = terraform_data.x.output",
        &(unknown("\"cron(0 5 * *)\"") + &add(bp, "  schedule = terraform_data.x.output")));

    // ---- drpair_monitoring
    let s = "drpair_monitoring";
    let mon = MONITORING;
    let emails = r#"email_addresses = ["oncall@example.com"]"#;
    t.add(s, "email_malformed", Validate, "Invalid email address", r#"email_addresses = ["oncall-at-example.com"]"#,
        &edit(mon, &[(emails, r#"email_addresses = ["oncall-at-example.com"]"#)]));
    t.add(s, "email_with_space", Validate, "Invalid email address", r#"email_addresses = ["on call@example.com"]"#,
        &edit(mon, &[(emails, r#"email_addresses = ["on call@example.com"]"#)]));
    t.add(s, "subscription_sms_not_e164", Validate, "Invalid subscription", r#"subscriptions = [{ protocol = "sms", endpoint = "555-0100" }]"#,
        &add(mon, "  subscriptions = [{ protocol = \"sms\", endpoint = \"555-0100\" }]"));
    t.add(s, "subscription_email_protocol", Validate, "put email addresses in email_addresses", r#"subscriptions = [{ protocol = "email", endpoint = "ops@example.com" }]"#,
        &add(mon, "  subscriptions = [{ protocol = \"email\", endpoint = \"ops@example.com\" }]"));
    t.add(s, "subscription_plain_http", Validate, "plain-HTTP subscriptions are not accepted", r#"subscriptions = [{ protocol = "http", endpoint = "http://hooks.example.com/alerts" }]"#,
        &add(mon, "  subscriptions = [{ protocol = \"http\", endpoint = \"http://hooks.example.com/alerts\" }]"));
    t.add(s, "subscription_endpoint_missing", Validate, r#"attribute "endpoint" is required"#, r#"subscriptions = [{ protocol = "https" }]"#,
        &add(mon, "  subscriptions = [{ protocol = \"https\" }]"));
    t.add(s, "global_cluster_identifier_double_hyphen", Validate, "Invalid cluster identifier", r#"global_cluster_identifier = "global--db""#,
        &add(mon, "  global_cluster_identifier = \"global--db\""));
    t.add(s, "replication_lag_threshold_zero", Validate, "Invalid replication_lag_threshold_ms", "replication_lag_threshold_ms = 0",
        &add(mon, "  replication_lag_threshold_ms = 0"));
    t.add(s, "health_check_id_malformed", Validate, "Invalid health check id", r#"health_check_ids = ["not a check"]"#,
        &add(mon, "  health_check_ids = [\"not a check\"]"));
    t.add(s, "session_table_name_too_short", Validate, "Invalid table name", r#"session_table_name = "ab""#,
        &add(mon, "  session_table_name = \"ab\""));
    t.add(s, "name_prefix_uppercase", Validate, "Invalid name prefix", r#"name_prefix = "Alerts""#,
        &add(mon, "  name_prefix = \"Alerts\""));
    t.add(s, "tags_reserved_key", Validate, "Reserved tag key", r#"tags = { "drpair:owner" = "me" }"#,
        &add(mon, "  tags = { \"drpair:owner\" = \"me\" }"));
    t.add_with_provider(s, "health_checks_without_us_east_1", Plan, "Health-check alarms need us-east-1", r#"health_check_ids = ["abcdef11-2222-3333-4444-555555fedcba"]"#,
        &provider("  environment    = \"test\"\n  endpoint_url   = \"ENDPOINT\"\n  primary_region = \"us-west-2\"\n  dr_region      = \"us-west-1\""),
        &add(mon, "  health_check_ids = [\"abcdef11-2222-3333-4444-555555fedcba\"]"));
    t.add(s, "email_unknown_until_apply", Apply, "Invalid email address", "email_addresses = [terraform_data.x.output]",
        &(unknown("\"oncall-at-example.com\"") + &edit(mon, &[(emails, "email_addresses = [terraform_data.x.output]")])));

    // ---- drpair_failover_orchestrator
    let s = "drpair_failover_orchestrator";
    let orc = ORCHESTRATOR;
    let topics = r#"topic_arns                = ["arn:aws:sns:us-east-1:123456789012:drpair-alerts-v2-test", "arn:aws:sns:us-east-2:123456789012:drpair-alerts-v2-test"]"#;
    let topics_line = format!("  {topics}\n");
    t.add(s, "mode_sometimes", Validate, "Invalid mode", r#"mode = "sometimes""#,
        &add(orc, "  mode = \"sometimes\""));
    t.add(s, "consecutive_failures_11", Validate, "Invalid number of failed probes", "consecutive_failures = 11",
        &add(orc, "  consecutive_failures = 11"));
    t.add(s, "log_retention_10_days", Validate, "Invalid log retention", "log_retention_days = 10",
        &add(orc, "  log_retention_days = 10"));
    t.add(s, "topic_arn_is_a_queue", Validate, "Invalid topic ARN", r#""arn:aws:sqs:us-east-2:123456789012:alerts""#,
        &edit(orc, &[(topics, r#"topic_arns                = ["arn:aws:sqs:us-east-2:123456789012:alerts"]"#)]));
    t.add(s, "topic_arn_listed_twice", Validate, "Duplicate topic", r#""arn:aws:sns:us-east-2:123456789012:alerts","#,
        &edit(orc, &[(topics, "topic_arns = [\n    \"arn:aws:sns:us-east-2:123456789012:alerts\",\n    \"arn:aws:sns:us-east-2:123456789012:alerts\",\n  ]")]));
    t.add(s, "topic_arns_empty", Validate, "No topics", "topic_arns                = []",
        &edit(orc, &[(topics, "topic_arns                = []")]));
    t.add(s, "topic_arns_missing", Validate, r#"The argument "topic_arns" is required"#, r#"resource "drpair_failover_orchestrator" "auto" {"#,
        &edit(orc, &[(topics_line.as_str(), "")]));
    t.add(s, "dr_cluster_identifier_underscores", Validate, "Invalid DR cluster identifier", r#"dr_cluster_identifier     = "dr_db_cluster""#,
        &edit(orc, &[(r#"dr_cluster_identifier     = "dr-db-cluster-v2-test""#, r#"dr_cluster_identifier     = "dr_db_cluster""#)]));
    t.add(s, "health_check_id_malformed", Validate, "Invalid health check id", r#"primary_health_check_id   = "not a check""#,
        &edit(orc, &[(r#"primary_health_check_id   = "abcdef11-2222-3333-4444-555555fedcba""#, r#"primary_health_check_id   = "not a check""#)]));
    t.add(s, "scale_to_desired_below_min", Validate, "Desired capacity below the minimum", "scale_to = { min_size = 4, desired_capacity = 2 }",
        &add(orc, "  scale_to = { min_size = 4, desired_capacity = 2 }"));
    t.add(s, "dns_failover_seconds_negative", Validate, "Invalid DNS failover time", "dns_failover_seconds = -5",
        &add(orc, "  dns_failover_seconds = -5"));
    t.add(s, "alarm_name_prefix_wildcard", Validate, "Invalid alarm name prefix", r#"alarm_name_prefix = "drpair-*""#,
        &add(orc, "  alarm_name_prefix = \"drpair-*\""));
    t.add(s, "rto_target_below_the_budget", Validate, "Failover timing exceeds the RTO target", "rto_target_seconds = 200",
        &add(orc, "  rto_target_seconds = 200"));
    t.add(s, "consecutive_failures_over_the_default_rto", Validate, "lower consecutive_failures to 3", r#"resource "drpair_failover_orchestrator" "auto" {"#,
        &add(orc, "  consecutive_failures = 5"));
    t.add(s, "mode_unknown_until_apply", Apply, "Invalid mode", "mode = terraform_data.x.output",
        &(unknown("\"sometimes\"") + &add(orc, "  mode = terraform_data.x.output")));

    // ---- data.drpair_replication_status
    let s = "data.drpair_replication_status";
    let rs = REPLICATION_STATUS;
    let id = r#"global_cluster_identifier = "global-db-cluster-v2-test""#;
    t.add(s, "three_health_checks", Validate, "Too many health checks", r#"health_check_ids = ["a", "b", "c"]"#,
        &add(rs, "  health_check_ids = [\"a\", \"b\", \"c\"]"));
    t.add(s, "health_check_ids_wrong_type", Validate, r#"Inappropriate value for attribute "health_check_ids": list of string required"#, r#"health_check_ids = "abc""#,
        &add(rs, "  health_check_ids = \"abc\""));
    t.add(s, "global_cluster_identifier_missing", Validate, r#"The argument "global_cluster_identifier" is required"#, r#"data "drpair_replication_status" "now" {"#,
        &edit(rs, &[("  global_cluster_identifier = \"global-db-cluster-v2-test\"\n", "")]));
    t.add(s, "global_cluster_identifier_malformed", Validate, "Invalid global cluster identifier", r#"global_cluster_identifier = "Global DB!""#,
        &edit(rs, &[(id, r#"global_cluster_identifier = "Global DB!""#)]));
    t.add(s, "global_cluster_not_found", Plan, "Global database not found", id, rs);
    t.add(s, "global_cluster_not_found_unknown_until_apply", Apply, "Global database not found", "global_cluster_identifier = terraform_data.x.output",
        &(unknown("\"global-db-cluster-v2-nosuch\"") + &edit(rs, &[(id, "global_cluster_identifier = terraform_data.x.output")])));

    // ---- action.drpair_failover
    let s = "action.drpair_failover";
    let act = FAILOVER_ACTION;
    let mode = r#"mode                      = "switchover""#;
    let mode_line = format!("    {mode}\n");
    t.add(s, "mode_teleport", Validate, "Unknown failover mode", r#"mode                      = "teleport""#,
        &edit(act, &[(mode, r#"mode                      = "teleport""#)]));
    t.add(s, "failover_without_allow_data_loss", Validate, "Failover needs allow_data_loss = true", "config {",
        &edit(act, &[(mode, r#"mode                      = "failover""#)]));
    t.add(s, "failover_with_allow_data_loss_false", Validate, "Failover needs allow_data_loss = true", "allow_data_loss           = false",
        &edit(act, &[(mode, "mode                      = \"failover\"\n    allow_data_loss           = false")]));
    t.add(s, "allow_data_loss_wrong_type", Validate, r#"Inappropriate value for attribute "allow_data_loss": a bool is required"#, r#"allow_data_loss           = "sure""#,
        &edit(act, &[(mode, "mode                      = \"failover\"\n    allow_data_loss           = \"sure\"")]));
    t.add(s, "timeout_malformed", Validate, "Invalid timeout", r#"timeout                   = "15 minutes""#,
        &edit(act, &[(mode, "mode                      = \"switchover\"\n    timeout                   = \"15 minutes\"")]));
    t.add(s, "max_replication_lag_negative", Validate, "Invalid lag limit", "max_replication_lag_ms    = -1",
        &edit(act, &[(mode, "mode                      = \"switchover\"\n    max_replication_lag_ms    = -1")]));
    t.add(s, "mode_missing", Validate, r#"The argument "mode" is required"#, "config {",
        &edit(act, &[(mode_line.as_str(), "")]));
    t.add(s, "global_cluster_identifier_malformed", Validate, "Invalid global cluster identifier", r#"global_cluster_identifier = "Global DB!""#,
        &edit(act, &[(id, r#"global_cluster_identifier = "Global DB!""#)]));
    t.add(s, "global_cluster_not_found", PlanInvoke("go"), "Global database not found", id, act);
    t.add(s, "mode_unknown_until_apply", Apply, "Unknown failover mode", "actions = [action.drpair_failover.go]",
        &(unknown("\"teleport\"")
            + "resource \"terraform_data\" \"trigger\" {\n  input = \"go\"\n  lifecycle {\n    action_trigger {\n      events  = [after_create]\n      actions = [action.drpair_failover.go]\n    }\n  }\n}\n\n"
            + &edit(act, &[(mode, "mode                      = terraform_data.x.output")])));

    // ---- provider functions
    let s = "function rto_budget";
    t.add(s, "failure_threshold_zero", Validate, r#"Invalid value for "failure_threshold" parameter: failure_threshold must be at least 1"#, "rto_budget(10, 0, 60, 120)",
        &output("provider::drpair::rto_budget(10, 0, 60, 120)"));
    t.add(s, "failure_threshold_11", Validate, r#"Invalid value for "failure_threshold" parameter"#, "rto_budget(10, 11, 60, 120)",
        &output("provider::drpair::rto_budget(10, 11, 60, 120)"));
    t.add(s, "request_interval_15", Validate, r#"Invalid value for "request_interval" parameter"#, "rto_budget(15, 3, 60, 120)",
        &output("provider::drpair::rto_budget(15, 3, 60, 120)"));
    t.add(s, "request_interval_fractional", Validate, r#"Invalid value for "request_interval" parameter: request_interval must be a whole number"#, "rto_budget(10.5, 3, 60, 120)",
        &output("provider::drpair::rto_budget(10.5, 3, 60, 120)"));
    t.add(s, "request_interval_string", Validate, r#"Invalid value for "request_interval" parameter: a number is required"#, r#"rto_budget("ten", 3, 60, 120)"#,
        &output("provider::drpair::rto_budget(\"ten\", 3, 60, 120)"));
    t.add(s, "ttl_negative", Validate, r#"Invalid value for "ttl_seconds" parameter"#, "rto_budget(10, 3, -1, 120)",
        &output("provider::drpair::rto_budget(10, 3, -1, 120)"));
    t.add(s, "promotion_missing", Validate, "Not enough function arguments", "rto_budget(10, 3, 60)",
        &output("provider::drpair::rto_budget(10, 3, 60)"));
    t.add(s, "request_interval_unknown_until_apply", Apply, r#"Invalid value for "request_interval" parameter"#, "rto_budget(terraform_data.x.output, 3, 60, 120)",
        &(unknown("0") + &output("provider::drpair::rto_budget(terraform_data.x.output, 3, 60, 120)")));

    let s = "function rto_breakdown";
    t.add(s, "consecutive_failures_11", Validate, r#"Invalid value for "consecutive_failures" parameter: consecutive_failures must be at most 10"#, "rto_breakdown(11, 90)",
        &output("provider::drpair::rto_breakdown(11, 90)"));
    t.add(s, "consecutive_failures_zero", Validate, r#"Invalid value for "consecutive_failures" parameter"#, "rto_breakdown(0, 90)",
        &output("provider::drpair::rto_breakdown(0, 90)"));
    t.add(s, "dns_failover_seconds_negative", Validate, r#"Invalid value for "dns_failover_seconds" parameter"#, "rto_breakdown(2, -90)",
        &output("provider::drpair::rto_breakdown(2, -90)"));
    t.add(s, "consecutive_failures_null", Validate, r#"Invalid value for "consecutive_failures" parameter"#, "rto_breakdown(null, 90)",
        &output("provider::drpair::rto_breakdown(null, 90)"));
    t.add(s, "too_many_arguments", Validate, "Too many function arguments", "rto_breakdown(2, 90, 60)",
        &output("provider::drpair::rto_breakdown(2, 90, 60)"));

    let s = "function dr_name";
    t.add(s, "name_empty", Validate, r#"Invalid value for "name" parameter: name must be a non-empty string"#, r#"dr_name("", "dev")"#,
        &output("provider::drpair::dr_name(\"\", \"dev\")"));
    t.add(s, "environment_malformed", Validate, r#"Invalid value for "environment" parameter"#, r#"dr_name("primary-db-cluster", "Prod!")"#,
        &output("provider::drpair::dr_name(\"primary-db-cluster\", \"Prod!\")"));
    t.add(s, "name_wrong_type", Validate, r#"Invalid value for "name" parameter: string required"#, r#"dr_name(["primary"], "dev")"#,
        &output("provider::drpair::dr_name([\"primary\"], \"dev\")"));
    t.add(s, "environment_null", Validate, r#"Invalid value for "environment" parameter"#, r#"dr_name("primary-db-cluster", null)"#,
        &output("provider::drpair::dr_name(\"primary-db-cluster\", null)"));
    t.add(s, "name_unknown_until_apply_into_a_resource", Apply, r#"Invalid value for "name" parameter"#, r#"hash_key = provider::drpair::dr_name(terraform_data.x.output, "dev")"#,
        &(unknown("\"\"") + "resource \"drpair_session_table\" \"sessions\" {\n  hash_key = provider::drpair::dr_name(terraform_data.x.output, \"dev\")\n}\n"));

    t.cases
}
