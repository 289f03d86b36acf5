//! The AWS side of `drpair_global_database`: a KMS key, a DB subnet group, a security group and
//! a cluster parameter group in each region; the master password in Secrets Manager (replicated
//! to the DR region); the Aurora PostgreSQL global cluster with one cluster per region and its
//! instances.
//!
//! Every object has a deterministic name derived from the environment and `name_version`
//! ([`Names`]), and the ones without a name of their own (KMS keys) carry the owner tag, so an
//! interrupted create is adopted by the next [`ensure`], and [`destroy`] removes whatever exists.
//!
//! Layout: [`find`] (lookups, not-found mapped to `None`), [`wait`] (waiters on one deadline),
//! [`observe`] ([`read`] and drift), [`foundation`] (keys, subnet groups, security groups,
//! parameter groups), [`secret`] (the master password), [`clusters`] (global cluster, clusters,
//! instances), [`ensure`], [`tagging`] and [`destroy`].

mod clusters;
mod destroy;
mod ensure;
mod find;
mod foundation;
mod observe;
mod secret;
mod tagging;
mod wait;

use std::collections::BTreeMap;

use crate::aws::tags::{standard_tags, Tags};
use crate::aws::Role;

pub use clusters::version_covers;
pub use destroy::{destroy, DestroyOutcome};
pub use ensure::ensure;
pub use find::subnets_layout;
pub use observe::{find_database, read};
pub use secret::DEFAULT_RECOVERY_WINDOW_DAYS;
pub use tagging::update_tags;

/// The owner tag's prefix: the Terraform resource type.
pub const OWNER_KIND: &str = "drpair_global_database";
/// Aurora PostgreSQL, the only engine drpair builds global databases with.
pub const ENGINE: &str = "aurora-postgresql";
/// The cluster parameter group family of Aurora PostgreSQL 14.
pub const PARAMETER_FAMILY: &str = "aurora-postgresql14";
/// Aurora PostgreSQL's managed RPO parameter.
pub const RPO_PARAMETER: &str = "rds.global_db_rpo";
/// Aurora PostgreSQL's parameter that refuses connections without TLS when 1 ("Securing Aurora
/// PostgreSQL data with SSL/TLS": a dynamic parameter, default 0 for PostgreSQL 14).
pub const FORCE_SSL_PARAMETER: &str = "rds.force_ssl";
pub const POSTGRES_PORT: i32 = 5432;
/// The `DR-Role` tag of objects that span both regions (the global cluster, the secret).
pub const GLOBAL_ROLE: &str = "global";

/// The names of everything the database owns: `{name}-{name_version}-{environment}`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Names {
    pub environment: String,
    pub name_version: String,
}

impl Names {
    pub fn new(environment: &str, name_version: &str) -> Self {
        Self {
            environment: environment.to_owned(),
            name_version: name_version.to_owned(),
        }
    }

    fn versioned(&self, base: &str) -> String {
        format!("{base}-{}-{}", self.name_version, self.environment)
    }

    /// The global cluster's identifier, which is also the resource's id.
    pub fn global_cluster(&self) -> String {
        self.versioned("global-db-cluster")
    }

    pub fn secret(&self) -> String {
        self.versioned("db-password")
    }

    pub fn cluster(&self, role: Role) -> String {
        self.versioned(&format!("{}-db-cluster", role.tag_value()))
    }

    /// Instances are numbered from 1: `{cluster}-1` is created first and is the first writer.
    pub fn instance(&self, role: Role, n: u32) -> String {
        format!("{}-{n}", self.cluster(role))
    }

    /// The number of an instance named `{cluster}-{n}`, if it is one of ours.
    pub fn instance_number(&self, role: Role, instance_id: &str) -> Option<u32> {
        let n: u32 = instance_id
            .strip_prefix(&self.cluster(role))?
            .strip_prefix('-')?
            .parse()
            .ok()?;
        (n >= 1).then_some(n)
    }

    pub fn subnet_group(&self, role: Role) -> String {
        self.versioned(&format!("{}-db-subnet-group", role.tag_value()))
    }

    pub fn parameter_group(&self, role: Role) -> String {
        self.versioned(&format!("{}-db-cluster-params", role.tag_value()))
    }

    pub fn security_group(&self, role: Role) -> String {
        self.versioned(&format!("{}-db-sg", role.tag_value()))
    }

    pub fn key_alias(&self, role: Role) -> String {
        format!(
            "alias/{}",
            self.versioned(&format!("{}-db-key", role.tag_value()))
        )
    }

    /// The value of the owner tag.
    pub fn owner(&self) -> String {
        format!("{OWNER_KIND}/{}", self.global_cluster())
    }
}

/// Part names (the `drpair:part` tag).
pub mod part {
    pub const KMS_KEY: &str = "kms-key";
    pub const SECRET: &str = "master-secret";
    pub const SUBNET_GROUP: &str = "subnet-group";
    pub const SECURITY_GROUP: &str = "security-group";
    pub const PARAMETER_GROUP: &str = "cluster-parameter-group";
    pub const GLOBAL_CLUSTER: &str = "global-cluster";
    pub const CLUSTER: &str = "cluster";
    pub const INSTANCE: &str = "instance";
}

/// One region's inputs.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RegionSpec {
    pub subnet_ids: Vec<String>,
    pub instance_count: u32,
    /// Security groups of the region allowed in on PostgreSQL's port.
    pub client_security_group_ids: Vec<String>,
}

/// What the database should be.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DatabaseSpec {
    pub names: Names,
    pub engine_version: String,
    pub database_name: String,
    pub master_username: String,
    pub instance_class: String,
    pub primary: RegionSpec,
    pub dr: RegionSpec,
    pub rpo_target_seconds: i64,
    pub deletion_protection: bool,
    pub default_tags: Tags,
    pub user_tags: Tags,
}

impl DatabaseSpec {
    pub fn region(&self, role: Role) -> &RegionSpec {
        match role {
            Role::Primary => &self.primary,
            Role::Dr => &self.dr,
        }
    }

    /// The full tag set of one object. `dr_role` is `primary`, `dr` or `global`.
    pub fn tags(&self, dr_role: &str, part: &str, name: &str) -> Tags {
        standard_tags(
            &self.names.environment,
            dr_role,
            &self.names.owner(),
            part,
            Some(name),
            &self.default_tags,
            &self.user_tags,
        )
    }
}

/// A KMS key found under the region's alias (the shared helper's view of it: state, tags,
/// rotation, policy).
pub use crate::aws::kms::RegionKey as KeyInfo;

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SubnetGroupInfo {
    pub arn: String,
    pub vpc_id: String,
    pub subnet_ids: Vec<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ParameterGroupInfo {
    pub arn: String,
    /// `rds.global_db_rpo` when the group sets it.
    pub rpo_seconds: Option<i64>,
    /// `rds.force_ssl` is 1: the cluster accepts only TLS connections.
    pub force_ssl: bool,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SecurityGroupInfo {
    pub id: String,
    pub vpc_id: String,
    /// Every ingress rule, one source each.
    pub ingress: Vec<Ingress>,
}

impl SecurityGroupInfo {
    /// The security groups let in on PostgreSQL's port, sorted.
    pub fn client_groups(&self) -> Vec<String> {
        let mut groups: Vec<String> = self
            .ingress
            .iter()
            .filter(|r| r.is_postgres())
            .filter_map(|r| match &r.source {
                Source::Group(g) => Some(g.clone()),
                _ => None,
            })
            .collect();
        groups.sort();
        groups.dedup();
        groups
    }
}

/// One ingress rule of a security group with one source: the shape AuthorizeSecurityGroupIngress
/// and RevokeSecurityGroupIngress take.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Ingress {
    /// `tcp`, `udp`, `icmp`, `-1` (all), …
    pub protocol: String,
    pub from_port: i32,
    pub to_port: i32,
    pub source: Source,
}

#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Source {
    Cidr(String),
    Ipv6(String),
    Group(String),
    PrefixList(String),
}

impl Ingress {
    /// PostgreSQL (TCP 5432) from `source`: the only kind of rule drpair puts on the group.
    pub fn postgres(source: Source) -> Self {
        Self {
            protocol: "tcp".into(),
            from_port: POSTGRES_PORT,
            to_port: POSTGRES_PORT,
            source,
        }
    }

    pub fn is_postgres(&self) -> bool {
        self.protocol == "tcp" && self.from_port == POSTGRES_PORT && self.to_port == POSTGRES_PORT
    }
}

impl std::fmt::Display for Ingress {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let source = match &self.source {
            Source::Cidr(c) | Source::Ipv6(c) => c.clone(),
            Source::Group(g) => format!("security group {g}"),
            Source::PrefixList(p) => format!("prefix list {p}"),
        };
        if self.is_postgres() {
            write!(f, "PostgreSQL from {source}")
        } else if self.protocol == "-1" {
            write!(f, "all traffic from {source}")
        } else if self.from_port == self.to_port {
            write!(f, "{} {} from {source}", self.protocol, self.from_port)
        } else {
            write!(
                f,
                "{} {}-{} from {source}",
                self.protocol, self.from_port, self.to_port
            )
        }
    }
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ClusterInfo {
    pub id: String,
    pub arn: String,
    pub status: String,
    pub endpoint: String,
    pub reader_endpoint: String,
    /// The global cluster it belongs to, per the cluster itself.
    pub global_cluster_id: Option<String>,
    pub storage_encrypted: bool,
    pub kms_key_id: String,
    pub deletion_protection: bool,
    pub engine_version: String,
    /// PendingModifiedValues: an engine version AWS has yet to apply.
    pub pending_engine_version: Option<String>,
    /// PendingModifiedValues: a master password AWS has yet to apply.
    pub pending_master_password: bool,
    pub database_name: Option<String>,
    pub master_username: Option<String>,
    pub parameter_group: String,
    pub subnet_group: String,
    pub security_group_ids: Vec<String>,
    /// Instance identifiers the cluster reports as its writer.
    pub writer_instances: Vec<String>,
    pub tags: Tags,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct InstanceInfo {
    pub id: String,
    pub arn: String,
    pub class: String,
    pub status: String,
    /// `n` of `{cluster}-{n}`; None for instances added outside drpair.
    pub number: Option<u32>,
}

impl InstanceInfo {
    pub fn is_deleting(&self) -> bool {
        self.status == "deleting"
    }
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct GlobalMember {
    pub cluster_arn: String,
    pub is_writer: bool,
    /// A secondary's `SynchronizationStatus`: `connected`, or `pending-resync` while Aurora
    /// rebuilds it (e.g. the old primary after a failover, once its region is back).
    pub synchronization_status: Option<String>,
}

/// The `SynchronizationStatus` of a secondary that replicates from the writer.
pub const SYNCHRONIZED: &str = "connected";

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct GlobalInfo {
    pub id: String,
    pub arn: String,
    pub status: String,
    pub engine_version: String,
    pub database_name: Option<String>,
    pub deletion_protection: bool,
    pub storage_encrypted: bool,
    pub members: Vec<GlobalMember>,
    /// The global database's writer endpoint (`GlobalCluster.Endpoint`): it always points at the
    /// current writer, through switchovers and failovers.
    pub endpoint: Option<String>,
}

impl GlobalInfo {
    pub fn is_member(&self, cluster_arn: &str) -> bool {
        self.members.iter().any(|m| m.cluster_arn == cluster_arn)
    }

    pub fn writer(&self) -> Option<&GlobalMember> {
        self.members.iter().find(|m| m.is_writer)
    }

    /// Why `rds.global_db_rpo` must stay off the writer's parameter group now; None while a
    /// secondary is synchronized. Aurora PostgreSQL "blocks transaction commits if there is no
    /// secondary DB cluster that has an RPO lag time less than the RPO time" ("Managing RPOs
    /// for Aurora PostgreSQL–based global databases"), and a secondary that is not
    /// synchronized (or none at all, as after a failover while the old primary's region is
    /// down) never gets there: with the RPO set, the only writer would stop committing.
    pub fn rpo_blocker(&self) -> Option<String> {
        let secondaries: Vec<&GlobalMember> =
            self.members.iter().filter(|m| !m.is_writer).collect();
        if secondaries
            .iter()
            .any(|m| m.synchronization_status.as_deref() == Some(SYNCHRONIZED))
        {
            return None;
        }
        if secondaries.is_empty() {
            return Some(format!("global cluster {} has no secondary", self.id));
        }
        let states: Vec<String> = secondaries
            .iter()
            .map(|m| {
                format!(
                    "{} {}",
                    m.cluster_arn.rsplit(':').next().unwrap_or_default(),
                    m.synchronization_status
                        .as_deref()
                        .unwrap_or("not reported")
                )
            })
            .collect();
        Some(format!(
            "no secondary of global cluster {} is synchronized ({})",
            self.id,
            states.join(", ")
        ))
    }
}

/// `rds.global_db_rpo` per side after an apply: the target on the writer's group while a
/// secondary is synchronized, otherwise on no group; never on a secondary's group, so that a
/// secondary promoted by a failover does not start out pausing its commits.
pub fn wanted_rpo(role: Role, writer_role: Role, blocked: bool, target: i64) -> Option<i64> {
    (role == writer_role && !blocked).then_some(target)
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SecretInfo {
    pub arn: String,
    pub kms_key_id: String,
    /// Regions holding a replica, with the replica's status (`InSync`, `Failed`, …).
    pub replicas: BTreeMap<String, String>,
    /// Regions holding a replica, with the KMS key the replica is encrypted with.
    pub replica_keys: BTreeMap<String, String>,
    /// Scheduled for deletion (recoverable until then).
    pub deleted: bool,
    pub tags: Tags,
}

/// What exists in one region.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RegionObserved {
    pub region: String,
    pub key: Option<KeyInfo>,
    pub subnet_group: Option<SubnetGroupInfo>,
    pub parameter_group: Option<ParameterGroupInfo>,
    pub security_group: Option<SecurityGroupInfo>,
    /// The CIDR blocks of the DB subnet group's subnets: what the other region lets in.
    pub subnet_cidrs: Vec<String>,
    pub cluster: Option<ClusterInfo>,
    /// The cluster's instances that are not being deleted.
    pub instances: Vec<InstanceInfo>,
}

impl RegionObserved {
    pub fn is_empty(&self) -> bool {
        self.key.is_none()
            && self.subnet_group.is_none()
            && self.parameter_group.is_none()
            && self.security_group.is_none()
            && self.cluster.is_none()
            && self.instances.is_empty()
    }
}

/// What exists in both regions.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Observed {
    pub global: Option<GlobalInfo>,
    pub secret: Option<SecretInfo>,
    pub primary: RegionObserved,
    pub dr: RegionObserved,
    /// The region whose cluster is the global cluster's writer.
    pub writer_region: Option<String>,
    /// Differences from a complete database that the next apply repairs, e.g.
    /// `us-east-2: Aurora cluster dr-db-cluster-v2-dev is missing`.
    pub drift: Vec<String>,
}

impl Observed {
    pub fn region(&self, role: Role) -> &RegionObserved {
        match role {
            Role::Primary => &self.primary,
            Role::Dr => &self.dr,
        }
    }

    /// Nothing of the database itself is left: no global cluster and no cluster.
    pub fn database_gone(&self) -> bool {
        self.global.is_none() && self.primary.cluster.is_none() && self.dr.cluster.is_none()
    }

    /// Nothing destroy removes is left; a secret scheduled for deletion (its recovery window,
    /// `secret_recovery_window_days`) counts as removed.
    pub fn is_empty(&self) -> bool {
        self.global.is_none()
            && self.secret.as_ref().is_none_or(|s| s.deleted)
            && self.primary.is_empty()
            && self.dr.is_empty()
    }
}

/// The region of an RDS ARN (`arn:aws:rds:us-east-2:123456789012:cluster:x`).
pub fn arn_region(arn: &str) -> Option<&str> {
    arn.split(':').nth(3).filter(|r| !r.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names() -> Names {
        Names::new("dev", "v2")
    }

    #[test]
    fn names_follow_the_contract() {
        let n = names();
        assert_eq!(n.global_cluster(), "global-db-cluster-v2-dev");
        assert_eq!(n.secret(), "db-password-v2-dev");
        assert_eq!(n.cluster(Role::Primary), "primary-db-cluster-v2-dev");
        assert_eq!(n.cluster(Role::Dr), "dr-db-cluster-v2-dev");
        assert_eq!(n.instance(Role::Dr, 2), "dr-db-cluster-v2-dev-2");
        assert_eq!(n.key_alias(Role::Dr), "alias/dr-db-key-v2-dev");
        assert_eq!(n.owner(), "drpair_global_database/global-db-cluster-v2-dev");
    }

    #[test]
    fn instance_numbers() {
        let n = names();
        for (id, want) in [
            ("primary-db-cluster-v2-dev-1", Some(1)),
            ("primary-db-cluster-v2-dev-12", Some(12)),
            ("primary-db-cluster-v2-dev-0", None),
            ("primary-db-cluster-v2-dev-x", None),
            ("primary-db-cluster-v2-dev", None),
            ("other-1", None),
        ] {
            assert_eq!(n.instance_number(Role::Primary, id), want, "{id}");
        }
    }

    fn global(members: &[(&str, bool, Option<&str>)]) -> GlobalInfo {
        GlobalInfo {
            id: "global-db-cluster-v2-dev".into(),
            members: members
                .iter()
                .map(|(id, is_writer, sync)| GlobalMember {
                    cluster_arn: format!("arn:aws:rds:us-east-1:1:cluster:{id}"),
                    is_writer: *is_writer,
                    synchronization_status: sync.map(str::to_owned),
                })
                .collect(),
            ..GlobalInfo::default()
        }
    }

    #[test]
    fn the_managed_rpo_needs_a_synchronized_secondary() {
        let steady = global(&[("p", true, None), ("d", false, Some("connected"))]);
        assert_eq!(steady.rpo_blocker(), None);
        let failed_over = global(&[("p", false, Some("pending-resync")), ("d", true, None)]);
        assert_eq!(
            failed_over.rpo_blocker().as_deref(),
            Some("no secondary of global cluster global-db-cluster-v2-dev is synchronized (p pending-resync)")
        );
        let alone = global(&[("d", true, None)]);
        assert!(alone.rpo_blocker().unwrap().contains("has no secondary"));
        let unreported = global(&[("p", true, None), ("d", false, None)]);
        assert!(unreported.rpo_blocker().unwrap().contains("d not reported"));
    }

    #[test]
    fn the_managed_rpo_goes_on_the_writer_only_and_only_when_safe() {
        let table = [
            // (role, writer, blocked, wanted)
            (Role::Primary, Role::Primary, false, Some(60)),
            (Role::Dr, Role::Primary, false, None),
            (Role::Dr, Role::Dr, false, Some(60)),
            (Role::Primary, Role::Dr, false, None),
            // After a failover, before a secondary is back in sync: on no group at all.
            (Role::Dr, Role::Dr, true, None),
            (Role::Primary, Role::Dr, true, None),
        ];
        for (role, writer, blocked, wanted) in table {
            assert_eq!(
                wanted_rpo(role, writer, blocked, 60),
                wanted,
                "{role:?} {writer:?} {blocked}"
            );
        }
    }

    #[test]
    fn arn_regions() {
        assert_eq!(
            arn_region("arn:aws:rds:us-east-2:123456789012:cluster:x"),
            Some("us-east-2")
        );
        assert_eq!(arn_region("arn:aws:rds::1:global-cluster:g"), None);
        assert_eq!(arn_region("nope"), None);
    }

    #[test]
    fn spec_tags() {
        let spec = DatabaseSpec {
            names: names(),
            engine_version: "14.9".into(),
            database_name: "payments".into(),
            master_username: "admin_user".into(),
            instance_class: "db.r6g.large".into(),
            primary: RegionSpec::default(),
            dr: RegionSpec::default(),
            rpo_target_seconds: 60,
            deletion_protection: true,
            default_tags: [("CostCenter".to_string(), "payments".to_string())].into(),
            user_tags: Tags::new(),
        };
        let tags = spec.tags("dr", part::CLUSTER, "dr-db-cluster-v2-dev");
        assert_eq!(tags["DR-Role"], "dr");
        assert_eq!(tags["Environment"], "dev");
        assert_eq!(tags["CostCenter"], "payments");
        assert_eq!(
            tags["drpair:owner"],
            "drpair_global_database/global-db-cluster-v2-dev"
        );
        assert_eq!(tags["drpair:part"], "cluster");
    }
}
