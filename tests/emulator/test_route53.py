"""Route 53: health status control, GetHealthCheckStatus, the HealthCheckStatus metric,
CLOUDWATCH_METRIC checks, TestDNSAnswer with failover records."""

import datetime

import pytest
from botocore.exceptions import ClientError

from conftest import error_code, http_status


def endpoint_check(route53, ref, **extra):
    config = {"Type": "HTTPS", "FullyQualifiedDomainName": "primary.example.com", "Port": 443, "ResourcePath": "/health"}
    config.update(extra)
    return route53.create_health_check(CallerReference=ref, HealthCheckConfig=config)["HealthCheck"]["Id"]


def set_health(emulator, check_id, healthy):
    return emulator.control("POST", f"/_drpair/health-checks/{check_id}", {"healthy": healthy}, expect=200)[1]


def statuses(route53, check_id):
    return {o["StatusReport"]["Status"].split(":")[0] for o in route53.get_health_check_status(HealthCheckId=check_id)["HealthCheckObservations"]}


def test_health_status_control_and_metric(emulator, unique):
    route53, cw = emulator.client("route53"), emulator.client("cloudwatch", "us-east-1")
    check = endpoint_check(route53, unique)
    observations = route53.get_health_check_status(HealthCheckId=check)["HealthCheckObservations"]
    assert len(observations) == 8 and {o["StatusReport"]["Status"].split(":")[0] for o in observations} == {"Success"}

    answer = set_health(emulator, check, False)
    assert {k: answer[k] for k in ("HealthCheckId", "Healthy", "Override")} == {"HealthCheckId": check, "Healthy": False, "Override": False}
    assert statuses(route53, check) == {"Failure"}

    def metric(stat):
        # The emulator's now is its modeled clock (other tests may have moved it forward).
        epoch = emulator.control("GET", "/_drpair/clock", expect=200)[1]["epoch"]
        now = datetime.datetime.fromtimestamp(epoch, datetime.timezone.utc)
        query = {
            "Id": "h",
            "MetricStat": {
                "Metric": {"Namespace": "AWS/Route53", "MetricName": "HealthCheckStatus", "Dimensions": [{"Name": "HealthCheckId", "Value": check}]},
                "Period": 60,
                "Stat": stat,
            },
        }
        result = cw.get_metric_data(StartTime=now - datetime.timedelta(minutes=5), EndTime=now + datetime.timedelta(minutes=1), MetricDataQueries=[query])
        return result["MetricDataResults"][0]["Values"]

    assert metric("Minimum")[0] == 0.0  # newest first
    set_health(emulator, check, True)
    assert statuses(route53, check) == {"Success"}
    assert metric("Minimum")[0] == 1.0
    # Elsewhere than us-east-1 there is no Route 53 metric.
    west = emulator.client("cloudwatch", "us-west-2")
    assert not [m for m in west.list_metrics(Namespace="AWS/Route53")["Metrics"]]
    listed = cw.list_metrics(Namespace="AWS/Route53", MetricName="HealthCheckStatus", Dimensions=[{"Name": "HealthCheckId", "Value": check}])
    assert len(listed["Metrics"]) == 1


def test_automatic_statuses(emulator, unique):
    route53 = emulator.client("route53")
    child_a, child_b = endpoint_check(route53, unique + "a"), endpoint_check(route53, unique + "b")
    calculated = route53.create_health_check(
        CallerReference=unique + "c", HealthCheckConfig={"Type": "CALCULATED", "ChildHealthChecks": [child_a, child_b], "HealthThreshold": 2}
    )["HealthCheck"]["Id"]
    inverted = endpoint_check(route53, unique + "i", Inverted=True)
    disabled = endpoint_check(route53, unique + "d", Disabled=True)
    assert statuses(route53, calculated) == {"Success"}
    assert statuses(route53, inverted) == {"Failure"}
    set_health(emulator, child_b, False)
    set_health(emulator, disabled, False)
    assert statuses(route53, calculated) == {"Failure"}
    assert statuses(route53, disabled) == {"Success"}  # a disabled check is healthy
    set_health(emulator, child_b, None)  # back to automatic
    assert statuses(route53, calculated) == {"Success"}


def test_cloudwatch_metric_checks(emulator, unique):
    route53, cw = emulator.client("route53"), emulator.client("cloudwatch", "us-east-2")
    cw.put_metric_alarm(
        AlarmName=unique, Namespace="AWS/RDS", MetricName="AuroraGlobalDBReplicationLag", Statistic="Maximum",
        Period=60, EvaluationPeriods=3, Threshold=30000.0, ComparisonOperator="GreaterThanThreshold",
        Dimensions=[{"Name": "DBClusterIdentifier", "Value": "ledger"}],
    )
    created = route53.create_health_check(
        CallerReference=unique,
        HealthCheckConfig={"Type": "CLOUDWATCH_METRIC", "AlarmIdentifier": {"Region": "us-east-2", "Name": unique}, "InsufficientDataHealthStatus": "Unhealthy"},
    )["HealthCheck"]
    config = created["HealthCheckConfig"]
    assert config["AlarmIdentifier"] == {"Region": "us-east-2", "Name": unique}
    assert config["InsufficientDataHealthStatus"] == "Unhealthy"
    assert "IPAddress" not in config and "Port" not in config
    alarm_config = created["CloudWatchAlarmConfiguration"]
    assert alarm_config["MetricName"] == "AuroraGlobalDBReplicationLag" and alarm_config["EvaluationPeriods"] == 3
    assert alarm_config["Dimensions"] == [{"Name": "DBClusterIdentifier", "Value": "ledger"}]
    check = created["Id"]
    assert route53.get_health_check(HealthCheckId=check)["HealthCheck"]["HealthCheckConfig"]["AlarmIdentifier"]["Name"] == unique

    assert statuses(route53, check) == {"Failure"}  # INSUFFICIENT_DATA -> Unhealthy
    cw.set_alarm_state(AlarmName=unique, StateValue="OK", StateReason="lag fine")
    assert statuses(route53, check) == {"Success"}
    cw.set_alarm_state(AlarmName=unique, StateValue="ALARM", StateReason="lag high")
    assert statuses(route53, check) == {"Failure"}

    route53.update_health_check(HealthCheckId=check, InsufficientDataHealthStatus="LastKnownStatus")
    cw.set_alarm_state(AlarmName=unique, StateValue="INSUFFICIENT_DATA", StateReason="no data")
    assert statuses(route53, check) == {"Failure"}  # the last known status
    updated = route53.get_health_check(HealthCheckId=check)["HealthCheck"]
    assert updated["HealthCheckConfig"]["InsufficientDataHealthStatus"] == "LastKnownStatus"
    assert updated["HealthCheckVersion"] == 2


def record(name, value, **extra):
    rrs = {"Name": name, "Type": "A", "TTL": 60, "ResourceRecords": [{"Value": value}]}
    rrs.update(extra)
    return {"Action": "CREATE", "ResourceRecordSet": rrs}


def test_test_dns_answer_follows_failover(emulator, unique):
    route53 = emulator.client("route53")
    zone = route53.create_hosted_zone(Name=f"{unique}.example.com", CallerReference=unique)["HostedZone"]["Id"]
    primary_check, secondary_check = endpoint_check(route53, unique + "p"), endpoint_check(route53, unique + "s")
    name = f"app.{unique}.example.com"
    route53.change_resource_record_sets(
        HostedZoneId=zone,
        ChangeBatch={
            "Changes": [
                record(name, "10.10.0.10", SetIdentifier="primary", Failover="PRIMARY", HealthCheckId=primary_check),
                record(name, "10.20.0.10", SetIdentifier="secondary", Failover="SECONDARY", HealthCheckId=secondary_check),
                record(f"www.{unique}.example.com", "192.0.2.1"),
                record(f"w.{unique}.example.com", "192.0.2.10", SetIdentifier="a", Weight=10),
                record(f"w.{unique}.example.com", "192.0.2.20", SetIdentifier="b", Weight=90),
            ]
        },
    )

    def answer(record_name, record_type="A"):
        result = route53.test_dns_answer(HostedZoneId=zone, RecordName=record_name, RecordType=record_type)
        return result["ResponseCode"], result["RecordData"]

    assert answer(name) == ("NOERROR", ["10.10.0.10"])
    set_health(emulator, primary_check, False)
    assert answer(name) == ("NOERROR", ["10.20.0.10"])
    set_health(emulator, secondary_check, False)
    assert answer(name) == ("NOERROR", ["10.10.0.10"])  # both unhealthy: the primary
    set_health(emulator, primary_check, True)
    assert answer(name) == ("NOERROR", ["10.10.0.10"])

    assert answer(f"www.{unique}.example.com.") == ("NOERROR", ["192.0.2.1"])
    assert answer(f"www.{unique}.example.com", "AAAA") == ("NOERROR", [])
    assert answer(f"nothing.{unique}.example.com") == ("NXDOMAIN", [])
    assert answer(f"w.{unique}.example.com") == ("NOERROR", ["192.0.2.20"])
    result = route53.test_dns_answer(HostedZoneId=zone, RecordName=name, RecordType="A")
    assert result["Protocol"] == "UDP" and result["Nameserver"] and result["RecordType"] == "A"

    with pytest.raises(ClientError) as raised:
        route53.test_dns_answer(HostedZoneId="ZNOSUCHZONE", RecordName=name, RecordType="A")
    assert error_code(raised) == "NoSuchHostedZone" and http_status(raised) == 404
    response = emulator.signed("GET", "/2013-04-01/testdnsanswer", "route53", query=f"hostedzoneid={zone.split('/')[-1]}")
    assert response.status_code == 400 and b"<Code>InvalidInput</Code>" in response.content


def test_health_check_errors(emulator):
    route53 = emulator.client("route53")
    with pytest.raises(ClientError) as raised:
        route53.delete_health_check(HealthCheckId="no-such-check")
    assert error_code(raised) == "NoSuchHealthCheck"
    assert emulator.control("POST", "/_drpair/health-checks/no-such-check", {"healthy": False})[0] == 404
    check = endpoint_check(route53, "errors-check")
    assert emulator.control("POST", f"/_drpair/health-checks/{check}", {"healthy": "no"})[0] == 400
    assert emulator.control("GET", f"/_drpair/health-checks/{check}", expect=200)[1]["Healthy"] is True
