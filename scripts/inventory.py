#!/usr/bin/env python3
"""What exists in an AWS account, kind by kind, in the regions given: the fault campaign's
measure of "nothing duplicated, nothing missing, nothing untagged" (docs/RELIABILITY.md).

    scripts/inventory.py --endpoint http://127.0.0.1:4566 [--regions us-east-1,us-east-2]

prints one JSON object: {"objects": [{"kind", "region", "id", "key", "tags"}...]}, where

- ``kind`` is ``service:type`` (``ec2:vpc``, ``rds:db-cluster``, ``iam:role`` ...), covering every
  kind of object drpair creates;
- ``key`` is what identifies the object across two runs of the same configuration (its name, or
  its ``Name`` tag, or for objects without a name the names of what it belongs to), so that two
  inventories can be compared object by object although AWS gives new ids each run;
- ``tags`` is the object's tags, or null for kinds that cannot be tagged.

Only the AWS APIs are used (read-only), so the same script lists a real account. Objects AWS keeps
on purpose after a delete are left out: KMS keys pending deletion, secrets scheduled for
deletion, VPC peering connections and NAT gateways in a deleted/failed state, deleted
instances. Recovery points and snapshots are listed under their own kinds (``backup:recovery-point``,
``rds:cluster-snapshot``) for the caller to judge: their number follows the modeled clock.
"""

import argparse
import json
import re
import sys

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

GLOBAL_HOME = "us-east-1"  # IAM, Route 53 and S3's bucket list are answered there
# Ids AWS generates (UUIDs, ec2 ids) inside names, e.g. an alarm named after a health check: the
# key keeps their place, not their value, so that two runs compare.
GENERATED = [
    (re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"), "<uuid>"),
    (re.compile(r"\b(vpc|subnet|sg|igw|nat|rtb|eipalloc|pcx|lt|i|vpce|eni)-[0-9a-f]{8,17}\b"), r"\1-<id>"),
]


def stable(key):
    if key is None:
        return None
    for pattern, replacement in GENERATED:
        key = pattern.sub(replacement, key)
    return key


def tags_of(pairs, key="Key", value="Value"):
    return {t[key]: t[value] for t in pairs or []}


def name_tag(tags):
    return (tags or {}).get("Name")


class Inventory:
    def __init__(self, endpoint, regions):
        self.endpoint = endpoint
        self.regions = regions
        self.objects = []
        self._clients = {}

    def client(self, service, region):
        key = (service, region)
        if key not in self._clients:
            self._clients[key] = boto3.client(
                service,
                region_name=region,
                endpoint_url=self.endpoint,
                config=Config(retries={"total_max_attempts": 5, "mode": "standard"}),
            )
        return self._clients[key]

    def add(self, kind, region, ident, key=None, tags=None):
        self.objects.append({"kind": kind, "region": region, "id": ident, "key": stable(key), "tags": tags})

    def pages(self, service, region, operation, result, **params):
        client = self.client(service, region)
        if client.can_paginate(operation):
            for page in client.get_paginator(operation).paginate(**params):
                yield from page.get(result, [])
        else:
            yield from getattr(client, operation)(**params).get(result, [])

    # --- per service ---------------------------------------------------------------------------

    def ec2(self, region):
        vpc_names = {}
        for vpc in self.pages("ec2", region, "describe_vpcs", "Vpcs"):
            tags = tags_of(vpc.get("Tags"))
            vpc_names[vpc["VpcId"]] = "default" if vpc.get("IsDefault") else name_tag(tags)
            self.add("ec2:vpc", region, vpc["VpcId"], vpc_names[vpc["VpcId"]], tags)
        for subnet in self.pages("ec2", region, "describe_subnets", "Subnets"):
            tags = tags_of(subnet.get("Tags"))
            key = name_tag(tags) or f"{vpc_names.get(subnet['VpcId'])}/{subnet['CidrBlock']}"
            self.add("ec2:subnet", region, subnet["SubnetId"], key, tags)
        for igw in self.pages("ec2", region, "describe_internet_gateways", "InternetGateways"):
            tags = tags_of(igw.get("Tags"))
            vpcs = sorted(str(vpc_names.get(a["VpcId"])) for a in igw.get("Attachments", []))
            self.add("ec2:internet-gateway", region, igw["InternetGatewayId"], name_tag(tags) or "+".join(vpcs), tags)
        for nat in self.pages("ec2", region, "describe_nat_gateways", "NatGateways"):
            if nat.get("State") in ("deleted", "deleting", "failed"):
                continue
            tags = tags_of(nat.get("Tags"))
            self.add("ec2:nat-gateway", region, nat["NatGatewayId"], name_tag(tags), tags)
        for address in self.client("ec2", region).describe_addresses().get("Addresses", []):
            tags = tags_of(address.get("Tags"))
            self.add("ec2:elastic-ip", region, address.get("AllocationId"), name_tag(tags), tags)
        for table in self.pages("ec2", region, "describe_route_tables", "RouteTables"):
            tags = tags_of(table.get("Tags"))
            main = any(a.get("Main") for a in table.get("Associations", []))
            key = name_tag(tags) or f"{vpc_names.get(table['VpcId'])}/{'main' if main else 'table'}"
            self.add("ec2:route-table", region, table["RouteTableId"], key, tags)
        for group in self.pages("ec2", region, "describe_security_groups", "SecurityGroups"):
            tags = tags_of(group.get("Tags"))
            self.add("ec2:security-group", region, group["GroupId"], f"{vpc_names.get(group.get('VpcId'))}/{group['GroupName']}", tags)
        for peering in self.pages("ec2", region, "describe_vpc_peering_connections", "VpcPeeringConnections"):
            if peering.get("Status", {}).get("Code") in ("deleted", "rejected", "failed", "expired", "deleting"):
                continue
            # A cross-region peering is listed in both regions: once per region is what AWS shows.
            tags = tags_of(peering.get("Tags"))
            self.add("ec2:vpc-peering-connection", region, peering["VpcPeeringConnectionId"], name_tag(tags), tags)
        for template in self.pages("ec2", region, "describe_launch_templates", "LaunchTemplates"):
            self.add("ec2:launch-template", region, template["LaunchTemplateId"], template["LaunchTemplateName"], tags_of(template.get("Tags")))
        for reservation in self.pages("ec2", region, "describe_instances", "Reservations"):
            for instance in reservation.get("Instances", []):
                if instance.get("State", {}).get("Name") in ("terminated", "shutting-down"):
                    continue
                tags = tags_of(instance.get("Tags"))
                self.add("ec2:instance", region, instance["InstanceId"], tags.get("aws:autoscaling:groupName") or name_tag(tags), tags)

    def rds(self, region):
        for cluster in self.pages("rds", region, "describe_global_clusters", "GlobalClusters"):
            tags = tags_of(cluster.get("TagList")) if "TagList" in cluster else None
            self.add("rds:global-cluster", region, cluster["GlobalClusterIdentifier"], cluster["GlobalClusterIdentifier"], tags)
        for cluster in self.pages("rds", region, "describe_db_clusters", "DBClusters"):
            self.add("rds:db-cluster", region, cluster["DBClusterArn"], cluster["DBClusterIdentifier"], tags_of(cluster.get("TagList")))
        for instance in self.pages("rds", region, "describe_db_instances", "DBInstances"):
            self.add("rds:db-instance", region, instance["DBInstanceArn"], instance["DBInstanceIdentifier"], tags_of(instance.get("TagList")))
        rds = self.client("rds", region)
        for group in self.pages("rds", region, "describe_db_subnet_groups", "DBSubnetGroups"):
            tags = tags_of(rds.list_tags_for_resource(ResourceName=group["DBSubnetGroupArn"]).get("TagList"))
            self.add("rds:db-subnet-group", region, group["DBSubnetGroupArn"], group["DBSubnetGroupName"], tags)
        for group in self.pages("rds", region, "describe_db_cluster_parameter_groups", "DBClusterParameterGroups"):
            if group["DBClusterParameterGroupName"].startswith("default."):
                continue
            tags = tags_of(rds.list_tags_for_resource(ResourceName=group["DBClusterParameterGroupArn"]).get("TagList"))
            self.add("rds:db-cluster-parameter-group", region, group["DBClusterParameterGroupArn"], group["DBClusterParameterGroupName"], tags)
        for snapshot in self.pages("rds", region, "describe_db_cluster_snapshots", "DBClusterSnapshots", SnapshotType="manual"):
            self.add("rds:cluster-snapshot", region, snapshot["DBClusterSnapshotArn"], snapshot["DBClusterSnapshotIdentifier"], tags_of(snapshot.get("TagList")))

    def secrets(self, region):
        for secret in self.pages("secretsmanager", region, "list_secrets", "SecretList"):
            if secret.get("DeletedDate"):
                continue
            self.add("secretsmanager:secret", region, secret["ARN"], secret["Name"], tags_of(secret.get("Tags")))

    def kms(self, region):
        kms = self.client("kms", region)
        aliases = {}
        for alias in self.pages("kms", region, "list_aliases", "Aliases"):
            aliases.setdefault(alias.get("TargetKeyId"), []).append(alias["AliasName"])
            if not alias["AliasName"].startswith("alias/aws/"):
                self.add("kms:alias", region, alias["AliasArn"], alias["AliasName"])
        for key in self.pages("kms", region, "list_keys", "Keys"):
            meta = kms.describe_key(KeyId=key["KeyId"])["KeyMetadata"]
            if meta.get("KeyState") in ("PendingDeletion", "PendingReplicaDeletion"):
                continue
            # AWS managed keys (aws/ebs, aws/dynamodb ...), which services make on first use: moto
            # answers KeyManager CUSTOMER for them, their alias tells.
            if meta.get("KeyManager") == "AWS" or any(a.startswith("alias/aws/") for a in aliases.get(key["KeyId"], [])):
                continue
            tags = tags_of(kms.list_resource_tags(KeyId=key["KeyId"]).get("Tags"), "TagKey", "TagValue")
            name = "+".join(sorted(aliases.get(key["KeyId"], []))) or f"({meta.get('Description') or 'no alias, no description'})"
            self.add("kms:key", region, meta["Arn"], name, tags)

    def dynamodb(self, region):
        dynamodb = self.client("dynamodb", region)
        for name in self.pages("dynamodb", region, "list_tables", "TableNames"):
            arn = dynamodb.describe_table(TableName=name)["Table"]["TableArn"]
            tags = tags_of(dynamodb.list_tags_of_resource(ResourceArn=arn).get("Tags"))
            self.add("dynamodb:table", region, arn, name, tags)

    def autoscaling(self, region):
        for group in self.pages("autoscaling", region, "describe_auto_scaling_groups", "AutoScalingGroups"):
            self.add("autoscaling:group", region, group["AutoScalingGroupARN"], group["AutoScalingGroupName"], tags_of(group.get("Tags")))

    def elbv2(self, region):
        elbv2 = self.client("elbv2", region)

        def tags(arn):
            found = elbv2.describe_tags(ResourceArns=[arn])["TagDescriptions"]
            return tags_of(found[0]["Tags"]) if found else {}

        for lb in self.pages("elbv2", region, "describe_load_balancers", "LoadBalancers"):
            self.add("elbv2:load-balancer", region, lb["LoadBalancerArn"], lb["LoadBalancerName"], tags(lb["LoadBalancerArn"]))
            for listener in self.pages("elbv2", region, "describe_listeners", "Listeners", LoadBalancerArn=lb["LoadBalancerArn"]):
                self.add("elbv2:listener", region, listener["ListenerArn"], f"{lb['LoadBalancerName']}:{listener['Port']}", tags(listener["ListenerArn"]))
        for group in self.pages("elbv2", region, "describe_target_groups", "TargetGroups"):
            self.add("elbv2:target-group", region, group["TargetGroupArn"], group["TargetGroupName"], tags(group["TargetGroupArn"]))

    def cloudwatch(self, region):
        cloudwatch = self.client("cloudwatch", region)
        for alarm in self.pages("cloudwatch", region, "describe_alarms", "MetricAlarms"):
            tags = tags_of(cloudwatch.list_tags_for_resource(ResourceARN=alarm["AlarmArn"]).get("Tags"))
            self.add("cloudwatch:alarm", region, alarm["AlarmArn"], alarm["AlarmName"], tags)
        for stream in self.pages("cloudwatch", region, "list_metric_streams", "Entries"):
            tags = tags_of(cloudwatch.list_tags_for_resource(ResourceARN=stream["Arn"]).get("Tags"))
            self.add("cloudwatch:metric-stream", region, stream["Arn"], stream["Name"], tags)

    def firehose(self, region):
        firehose = self.client("firehose", region)
        for name in firehose.list_delivery_streams().get("DeliveryStreamNames", []):
            tags = tags_of(firehose.list_tags_for_delivery_stream(DeliveryStreamName=name).get("Tags"))
            self.add("firehose:delivery-stream", region, name, name, tags)

    def backup(self, region):
        backup = self.client("backup", region)
        for vault in self.pages("backup", region, "list_backup_vaults", "BackupVaultList"):
            name = vault["BackupVaultName"]
            if name in ("Default", "aws/efs/automatic-backup-vault"):
                continue
            self.add("backup:vault", region, vault["BackupVaultArn"], name, backup.list_tags(ResourceArn=vault["BackupVaultArn"]).get("Tags", {}))
            for point in self.pages("backup", region, "list_recovery_points_by_backup_vault", "RecoveryPoints", BackupVaultName=name):
                self.add("backup:recovery-point", region, point["RecoveryPointArn"], f"{name}/{point.get('ResourceArn')}")
        for plan in self.pages("backup", region, "list_backup_plans", "BackupPlansList"):
            self.add("backup:plan", region, plan["BackupPlanArn"], plan["BackupPlanName"], backup.list_tags(ResourceArn=plan["BackupPlanArn"]).get("Tags", {}))
            for selection in self.pages("backup", region, "list_backup_selections", "BackupSelectionsList", BackupPlanId=plan["BackupPlanId"]):
                self.add("backup:selection", region, selection["SelectionId"], f"{plan['BackupPlanName']}/{selection['SelectionName']}")

    def lambda_(self, region):
        client = self.client("lambda", region)
        for function in self.pages("lambda", region, "list_functions", "Functions"):
            tags = client.list_tags(Resource=function["FunctionArn"]).get("Tags", {})
            self.add("lambda:function", region, function["FunctionArn"], function["FunctionName"], tags)
            try:
                policy = json.loads(client.get_policy(FunctionName=function["FunctionName"])["Policy"])
            except ClientError as error:
                if error.response["Error"]["Code"] != "ResourceNotFoundException":
                    raise
                continue
            for statement in policy.get("Statement", []):
                self.add("lambda:permission", region, f"{function['FunctionArn']}/{statement.get('Sid')}", f"{function['FunctionName']}/{statement.get('Sid')}")

    def events(self, region):
        events = self.client("events", region)
        for rule in self.pages("events", region, "list_rules", "Rules"):
            tags = tags_of(events.list_tags_for_resource(ResourceARN=rule["Arn"]).get("Tags"))
            self.add("events:rule", region, rule["Arn"], rule["Name"], tags)
            for target in self.pages("events", region, "list_targets_by_rule", "Targets", Rule=rule["Name"]):
                self.add("events:target", region, f"{rule['Arn']}/{target['Id']}", f"{rule['Name']}/{target['Id']}")

    def sns(self, region):
        sns = self.client("sns", region)
        for topic in self.pages("sns", region, "list_topics", "Topics"):
            tags = tags_of(sns.list_tags_for_resource(ResourceArn=topic["TopicArn"]).get("Tags"))
            self.add("sns:topic", region, topic["TopicArn"], topic["TopicArn"].rsplit(":", 1)[-1], tags)
        for subscription in self.pages("sns", region, "list_subscriptions", "Subscriptions"):
            topic = subscription["TopicArn"].rsplit(":", 1)[-1]
            self.add("sns:subscription", region, subscription["SubscriptionArn"], f"{topic}/{subscription['Protocol']}:{subscription['Endpoint']}")

    def logs(self, region):
        logs = self.client("logs", region)
        for group in self.pages("logs", region, "describe_log_groups", "logGroups"):
            tags = logs.list_tags_log_group(logGroupName=group["logGroupName"]).get("tags", {})
            self.add("logs:log-group", region, group["arn"], group["logGroupName"], tags)

    def route53(self):
        route53 = self.client("route53", GLOBAL_HOME)
        for zone in self.pages("route53", GLOBAL_HOME, "list_hosted_zones", "HostedZones"):
            zone_id = zone["Id"].rsplit("/", 1)[-1]
            tags = tags_of(route53.list_tags_for_resource(ResourceType="hostedzone", ResourceId=zone_id)["ResourceTagSet"].get("Tags"))
            self.add("route53:hosted-zone", "global", zone_id, zone["Name"], tags)
            for record in self.pages("route53", GLOBAL_HOME, "list_resource_record_sets", "ResourceRecordSets", HostedZoneId=zone_id):
                if record["Type"] in ("NS", "SOA") and record["Name"] == zone["Name"]:
                    continue
                self.add("route53:record", "global", f"{zone_id}/{record['Name']}/{record['Type']}/{record.get('SetIdentifier', '')}", f"{record['Name']}/{record['Type']}/{record.get('SetIdentifier', '')}")
        for check in self.pages("route53", GLOBAL_HOME, "list_health_checks", "HealthChecks"):
            tags = tags_of(route53.list_tags_for_resource(ResourceType="healthcheck", ResourceId=check["Id"])["ResourceTagSet"].get("Tags"))
            self.add("route53:health-check", "global", check["Id"], name_tag(tags), tags)

    def iam(self):
        iam = self.client("iam", GLOBAL_HOME)
        for role in self.pages("iam", GLOBAL_HOME, "list_roles", "Roles"):
            if role["Path"].startswith("/aws-service-role/"):
                continue
            name = role["RoleName"]
            tags = tags_of(iam.list_role_tags(RoleName=name).get("Tags"))
            self.add("iam:role", "global", role["Arn"], name, tags)
            for policy in self.pages("iam", GLOBAL_HOME, "list_role_policies", "PolicyNames", RoleName=name):
                self.add("iam:role-policy", "global", f"{name}/{policy}", f"{name}/{policy}")
            for policy in self.pages("iam", GLOBAL_HOME, "list_attached_role_policies", "AttachedPolicies", RoleName=name):
                self.add("iam:role-policy-attachment", "global", f"{name}/{policy['PolicyArn']}", f"{name}/{policy['PolicyName']}")
        for policy in self.pages("iam", GLOBAL_HOME, "list_policies", "Policies", Scope="Local"):
            tags = tags_of(iam.list_policy_tags(PolicyArn=policy["Arn"]).get("Tags"))
            self.add("iam:policy", "global", policy["Arn"], policy["PolicyName"], tags)
        for profile in self.pages("iam", GLOBAL_HOME, "list_instance_profiles", "InstanceProfiles"):
            # GetInstanceProfile answers the tags (listing operations leave them out).
            tags = tags_of(iam.get_instance_profile(InstanceProfileName=profile["InstanceProfileName"])["InstanceProfile"].get("Tags"))
            self.add("iam:instance-profile", "global", profile["Arn"], profile["InstanceProfileName"], tags)

    def s3(self):
        s3 = self.client("s3", GLOBAL_HOME)
        for bucket in s3.list_buckets().get("Buckets", []):
            name = bucket["Name"]
            region = s3.get_bucket_location(Bucket=name).get("LocationConstraint") or "us-east-1"
            try:
                tags = tags_of(s3.get_bucket_tagging(Bucket=name).get("TagSet"))
            except ClientError as error:
                if error.response["Error"]["Code"] != "NoSuchTagSet":
                    raise
                tags = {}
            self.add("s3:bucket", region, name, name, tags)

    def collect(self):
        for region in self.regions:
            for part in (self.ec2, self.rds, self.secrets, self.kms, self.dynamodb, self.autoscaling, self.elbv2, self.cloudwatch, self.firehose, self.backup, self.lambda_, self.events, self.sns, self.logs):
                part(region)
        self.route53()
        self.iam()
        self.s3()
        return self.objects


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--endpoint", help="the emulator (or an AWS endpoint override); default: AWS")
    parser.add_argument("--regions", default="us-east-1,us-east-2")
    args = parser.parse_args(argv)
    objects = Inventory(args.endpoint, [r for r in args.regions.split(",") if r]).collect()
    json.dump({"objects": objects}, sys.stdout, sort_keys=True)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
