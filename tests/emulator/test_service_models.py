"""The errors the emulator answers where it is stricter than moto (issue 12's refusals) are the
ones AWS's service models (botocore's, which boto3 and the AWS SDKs are generated from) declare
for the operation, so a client's retry predicate written against the emulator matches AWS.

Some refusals use a query protocol's common errors instead (``InvalidParameterValue``,
``InvalidParameterCombination`` for RDS; ``ValidationError`` for Auto Scaling): the models do not
list those per operation; AWS documents them once per service ("Common Errors" in the RDS and
Auto Scaling API references), and they are checked here as absent from the operation's own list
so that an SDK does not parse them as a modeled exception of another name."""

import pytest

from conftest import service_model

# (service, operation, error code the emulator answers, the extension that answers it)
DECLARED = [
    ("firehose", "CreateDeliveryStream", "InvalidArgumentException", "firehose_delivery.py: role not assumable (yet)"),
    ("firehose", "UpdateDestination", "InvalidArgumentException", "firehose_delivery.py: role not assumable (yet)"),
    ("firehose", "PutRecordBatch", "InvalidKMSResourceException", "firehose_delivery.py: stream key unusable"),
    ("backup", "CreateBackupSelection", "InvalidParameterValueException", "backup_selections.py: role not assumable (yet)"),
    ("lambda", "CreateFunction", "InvalidParameterValueException", "lambda_iam.py: role not assumable (yet)"),
    ("lambda", "UpdateFunctionConfiguration", "InvalidParameterValueException", "lambda_iam.py: role not assumable (yet)"),
    ("rds", "ModifyDBCluster", "InvalidDBClusterStateFault", "rds_modifications.py: a modification under way"),
    ("rds", "ModifyDBInstance", "InvalidDBInstanceState", "rds_modifications.py: a modification under way"),
    ("rds", "ModifyDBCluster", "InvalidGlobalClusterStateFault", "rds_modifications.py: another member upgrading"),
    ("rds", "DeleteGlobalCluster", "InvalidGlobalClusterStateFault", "rds_global.py: 'is not empty' after the last member left"),
]

# Common errors of query-protocol services (not listed per operation in the models).
COMMON = [
    ("rds", "CreateDBInstance", "InvalidParameterCombination", "rds_global.py: burstable class in a global cluster"),
    ("rds", "ModifyDBCluster", "InvalidParameterValue", "rds_modifications.py: primary upgraded ahead of its secondaries"),
    ("rds", "CreateDBCluster", "InvalidParameterValue", "rds_modifications.py: joining at another engine version"),
    ("autoscaling", "CreateAutoScalingGroup", "ValidationError", "autoscaling_fleet.py: instance profile not propagated"),
]


def declared(service, operation):
    model = service_model(service).operation_model(operation)
    return {shape.metadata.get("error", {}).get("code", shape.name) for shape in model.error_shapes} | {
        shape.name for shape in model.error_shapes
    }


@pytest.mark.parametrize("service,operation,code,where", DECLARED, ids=[f"{s}.{o}.{c}" for s, o, c, _ in DECLARED])
def test_the_model_declares_the_error(service, operation, code, where):
    assert code in declared(service, operation), f"{where}: {code} is not an error of {service} {operation}"


@pytest.mark.parametrize("service,operation,code,where", COMMON, ids=[f"{s}.{o}.{c}" for s, o, c, _ in COMMON])
def test_common_errors_are_not_modeled_per_operation(service, operation, code, where):
    assert service_model(service).metadata["protocol"] == "query", where
    assert code not in declared(service, operation), f"{where}: {code} is modeled; answer it as the model says"
