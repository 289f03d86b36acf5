"""Aurora global databases, completed on moto's RDS backend (global clusters live in us-east-1's).

- CreateGlobalCluster: keeps Tags and DatabaseName; an existing identifier is
  ``GlobalClusterAlreadyExistsFault``; a source cluster already in a global cluster is
  ``InvalidDBClusterStateFault``. CreateDBCluster naming an unknown GlobalClusterIdentifier is
  ``GlobalClusterNotFoundFault``.
- DescribeGlobalClusters honours GlobalClusterIdentifier (unknown: ``GlobalClusterNotFoundFault``).
  Members follow the GlobalClusterMember shape: the writer lists the secondaries as Readers,
  secondaries carry GlobalWriteForwardingStatus and SynchronizationStatus ``connected``.
- FailoverGlobalCluster (AllowDataLoss: a failover; Switchover or neither: a switchover; both:
  ``InvalidParameterCombination``) and SwitchoverGlobalCluster promote TargetDbClusterIdentifier
  (an ARN, or an identifier in the request's region): the target becomes the writer, the old
  primary a secondary. The response shows Status ``failing-over``/``switching-over`` and a
  FailoverState; the next Describe shows ``available`` and no FailoverState. Errors: unknown
  global cluster ``GlobalClusterNotFoundFault``; unknown target ``DBClusterNotFoundFault``; a target
  that is not a member, or already the primary, ``InvalidParameterValue``; a global cluster not
  ``available`` ``InvalidGlobalClusterStateFault``; a switchover while any member is not
  ``available``, or a failover to a target that is not, ``InvalidDBClusterStateFault``.
- RemoveFromGlobalCluster works for a member in either region; the cluster becomes standalone
  (no GlobalClusterIdentifier; Status ``promoting`` once, then ``available``). Removing the primary
  while secondaries remain is ``InvalidGlobalClusterStateFault``; a cluster that is not a member is
  ``InvalidParameterValue`` ("... is not found in global cluster ...").
- DeleteDBCluster of a member updates the membership; deleting the primary while other members
  remain is ``InvalidGlobalClusterStateFault`` (AWS's message).
- ModifyGlobalCluster: DeletionProtection, NewGlobalClusterIdentifier, EngineVersion.
  DeleteGlobalCluster: unknown ``GlobalClusterNotFoundFault``, protected
  ``InvalidParameterCombination``, with members ``InvalidGlobalClusterStateFault``.
- Tags on global clusters (ListTagsForResource/AddTagsToResource/RemoveTagsFromResource on
  ``arn:aws:rds::ACCOUNT:global-cluster:ID``).
- ResetDBClusterParameterGroup (moto lacks it): ResetAllParameters, or the named Parameters, go
  back to the engine defaults (custom values are dropped); unknown group ``DBParameterGroupNotFound``.
- Control ``POST /_drpair/rds-clusters/{region}/{DBClusterIdentifier}`` ``{"status": "..."}`` sets
  a cluster's Status (e.g. ``inaccessible`` to make it unavailable, ``available`` to heal it).
"""

import copy

from .common import ControlError, control, moto_account

GLOBAL_REGION = "us-east-1"


def _errors():
    from moto.rds.exceptions import RDSClientError

    return RDSClientError


def fault(code, message):
    return _errors()(code, message)


def backends(account_id):
    from moto.rds.models import rds_backends

    return rds_backends[account_id]


def find_global(account_id, identifier):
    registry = backends(account_id)[GLOBAL_REGION].global_clusters
    if identifier and identifier.startswith("arn:"):
        identifier = identifier.rsplit(":", 1)[-1]
    if not identifier or identifier not in registry:
        raise fault("GlobalClusterNotFoundFault", f"Global cluster {identifier} not found.")
    return registry[identifier]


def find_cluster(account_id, region, identifier):
    """A DB cluster by ARN (any region) or identifier (the request's region)."""
    if identifier and identifier.startswith("arn:"):
        parts = identifier.split(":")
        if len(parts) == 7 and parts[5] == "cluster":
            region, identifier = parts[3], parts[6]
    clusters = backends(account_id)[region].clusters if identifier else {}
    if not identifier or identifier not in clusters:
        raise fault("DBClusterNotFoundFault", f"DBCluster {identifier} not found.")
    return clusters[identifier]


def primary(global_cluster):
    return next((m for m in global_cluster.members if m.is_writer), None)


def _not_member(cluster, global_cluster):
    return fault(
        "InvalidParameterValue",
        f"The cluster {cluster.db_cluster_arn} is not found in global cluster {global_cluster.global_cluster_identifier}.",
    )


def promote(global_cluster, target, allow_data_loss):
    """Makes `target` the writer; returns the response snapshot (transitional state)."""
    if global_cluster.status != "available":
        raise fault(
            "InvalidGlobalClusterStateFault",
            f"Global cluster {global_cluster.global_cluster_identifier} is in {global_cluster.status} state.",
        )
    if target not in global_cluster.members:
        raise _not_member(target, global_cluster)
    old = primary(global_cluster)
    if target is old:
        raise fault(
            "InvalidParameterValue",
            f"The cluster {target.db_cluster_arn} is already the primary cluster of global cluster "
            f"{global_cluster.global_cluster_identifier}.",
        )
    checked = [target] if allow_data_loss else global_cluster.members
    for member in checked:
        state = member.status
        if state != "available":
            raise fault(
                "InvalidDBClusterStateFault",
                f"DB cluster {member.db_cluster_arn} is in {state} state but expected it to be available.",
            )
    if old is not None:
        old.is_writer = False
    target.is_writer = True
    global_cluster.members.remove(target)
    global_cluster.members.insert(0, target)
    snapshot = copy.copy(global_cluster)
    snapshot.status = "failing-over" if allow_data_loss else "switching-over"
    snapshot.failover_state = {
        "Status": snapshot.status,
        "FromDbClusterArn": old.db_cluster_arn if old is not None else None,
        "ToDbClusterArn": target.db_cluster_arn,
        "IsDataLossAllowed": bool(allow_data_loss),
    }
    return snapshot


def remove_member(global_cluster, cluster, deleting=False):
    others = [m for m in global_cluster.members if m is not cluster]
    if cluster not in global_cluster.members:
        raise _not_member(cluster, global_cluster)
    if cluster.is_writer and others:
        action = "delete" if deleting else "remove"
        raise fault(
            "InvalidGlobalClusterStateFault",
            f"Unable to {action} cluster that is a primary member of global cluster while there are other global cluster members",
        )
    global_cluster.members.remove(cluster)
    cluster.is_writer = False
    cluster.global_cluster_identifier = None


def _membership(global_cluster):
    readers = [m.db_cluster_arn for m in global_cluster.members if not m.is_writer]
    members = []
    for member in global_cluster.members:
        if member.is_writer:
            members.append({"DBClusterArn": member.db_cluster_arn, "Readers": readers, "IsWriter": True})
        else:
            members.append(
                {
                    "DBClusterArn": member.db_cluster_arn,
                    "Readers": [],
                    "IsWriter": False,
                    "GlobalWriteForwardingStatus": member.global_write_forwarding_status,
                    "SynchronizationStatus": "connected",
                }
            )
    return members


def _write_forwarding_status(cluster):
    """GlobalWriteForwardingStatus of a DB cluster: set for secondaries of a global cluster only."""
    if not getattr(cluster, "global_cluster_identifier", None) or getattr(cluster, "is_writer", False):
        return None
    requested = getattr(cluster, "enable_global_write_forwarding", None)
    if requested is None:
        requested = getattr(cluster, "_global_write_forwarding_requested", False)
    return "enabled" if requested else "disabled"


def _patch_models():
    from moto.rds.models import DBCluster, GlobalCluster, RDSBackend

    GlobalCluster.global_cluster_members = property(_membership)
    GlobalCluster.failover_state = None
    GlobalCluster.database_name = None
    DBCluster.global_write_forwarding_status = property(_write_forwarding_status)

    original_status = DBCluster.status

    def get_status(self):
        transient = self.__dict__.pop("drpair_transient_status", None)
        return transient or original_status.fget(self)

    DBCluster.status = property(get_status, original_status.fset)

    original_create = RDSBackend.create_db_cluster

    def create_db_cluster(self, kwargs):
        identifier = kwargs.get("global_cluster_identifier")
        if identifier:
            kwargs["global_cluster_identifier"] = find_global(self.account_id, identifier).global_cluster_identifier
        return original_create(self, kwargs)

    original_delete = RDSBackend.delete_db_cluster

    def delete_db_cluster(self, cluster_identifier, snapshot_name=None):
        cluster = self.clusters.get(cluster_identifier)
        if cluster is not None and cluster.global_cluster_identifier and not cluster.deletion_protection:
            registry = backends(self.account_id)[GLOBAL_REGION].global_clusters
            global_cluster = registry.get(cluster.global_cluster_identifier)
            if global_cluster is not None and cluster in global_cluster.members:
                remove_member(global_cluster, cluster, deleting=True)
            cluster.global_cluster_identifier = None
        return original_delete(self, cluster_identifier, snapshot_name)

    original_modify = RDSBackend.modify_db_cluster

    def modify_db_cluster(self, kwargs):
        if kwargs.get("db_cluster_identifier") not in self.clusters:
            raise fault("DBClusterNotFoundFault", f"DBCluster {kwargs.get('db_cluster_identifier')} not found.")
        return original_modify(self, kwargs)

    original_tagging = RDSBackend._get_resource_for_tagging

    def get_resource_for_tagging(self, arn):
        parts = arn.split(":")
        if len(parts) == 7 and parts[2] == "rds" and parts[5] == "global-cluster":
            return find_global(self.account_id, parts[6])
        return original_tagging(self, arn)

    RDSBackend.create_db_cluster = create_db_cluster
    RDSBackend.delete_db_cluster = delete_db_cluster
    RDSBackend.modify_db_cluster = modify_db_cluster
    RDSBackend._get_resource_for_tagging = get_resource_for_tagging


def _patch_responses():
    from moto.core.responses import ActionResult
    from moto.rds.responses import RDSResponse

    def describe_global_clusters(self):
        identifier = self.params.get("GlobalClusterIdentifier")
        if identifier:
            clusters = [find_global(self.current_account, identifier)]
        else:
            clusters = list(self.global_backend.global_clusters.values())
        return ActionResult({"GlobalClusters": clusters})

    def create_global_cluster(self):
        params = self.params
        identifier = params.get("GlobalClusterIdentifier")
        if identifier in self.global_backend.global_clusters:
            raise fault("GlobalClusterAlreadyExistsFault", f"Global cluster {identifier} already exists.")
        source = None
        if params.get("SourceDBClusterIdentifier"):
            source = find_cluster(self.current_account, self.region, params["SourceDBClusterIdentifier"])
            if source.global_cluster_identifier:
                raise fault(
                    "InvalidDBClusterStateFault",
                    f"Cluster {source.db_cluster_arn} is already a member of global cluster {source.global_cluster_identifier}.",
                )
        if source is not None and params.get("Engine"):
            raise fault(
                "InvalidParameterCombination",
                "When creating global cluster from existing db cluster, value for engineName should not be specified "
                "since it will be inherited from source cluster",
            )
        cluster = self.global_backend.create_global_cluster(
            global_cluster_identifier=identifier,
            source_db_cluster_identifier=None,
            engine=source.engine if source is not None else params.get("Engine"),
            engine_version=source.engine_version if source is not None else params.get("EngineVersion"),
            storage_encrypted=source.storage_encrypted if source is not None else params.get("StorageEncrypted"),
            deletion_protection=params.get("DeletionProtection"),
        )
        cluster.tags = params.get("Tags") or []
        cluster.database_name = source.database_name if source is not None else params.get("DatabaseName")
        if source is not None:
            cluster.members.append(source)
            source.global_cluster_identifier = cluster.global_cluster_identifier
            source.is_writer = True
        return ActionResult({"GlobalCluster": cluster})

    def delete_global_cluster(self):
        cluster = find_global(self.current_account, self.params.get("GlobalClusterIdentifier"))
        if cluster.deletion_protection:
            raise fault(
                "InvalidParameterCombination",
                "Cannot delete protected Global Cluster, please disable deletion protection and try again.",
            )
        if cluster.members:
            raise fault("InvalidGlobalClusterStateFault", f"Global Cluster {cluster.global_cluster_arn} is not empty")
        self.global_backend.global_clusters.pop(cluster.global_cluster_identifier)
        return ActionResult({"GlobalCluster": cluster})

    def modify_global_cluster(self):
        params = self.params
        cluster = find_global(self.current_account, params.get("GlobalClusterIdentifier"))
        if params.get("DeletionProtection") is not None:
            cluster.deletion_protection = bool(params["DeletionProtection"])
        if params.get("EngineVersion"):
            cluster.engine_version = params["EngineVersion"]
            for member in cluster.members:
                member.engine_version = params["EngineVersion"]
        new_id = params.get("NewGlobalClusterIdentifier")
        if new_id and new_id.lower() != cluster.global_cluster_identifier:
            registry = self.global_backend.global_clusters
            if new_id in registry:
                raise fault("GlobalClusterAlreadyExistsFault", f"Global cluster {new_id} already exists.")
            registry.pop(cluster.global_cluster_identifier)
            cluster.global_cluster_identifier = new_id
            registry[cluster.global_cluster_identifier] = cluster
            for member in cluster.members:
                member.global_cluster_identifier = cluster.global_cluster_identifier
        return ActionResult({"GlobalCluster": cluster})

    def remove_from_global_cluster(self):
        global_cluster = find_global(self.current_account, self.params.get("GlobalClusterIdentifier"))
        cluster = find_cluster(self.current_account, self.region, self.params.get("DbClusterIdentifier"))
        remove_member(global_cluster, cluster)
        cluster.drpair_transient_status = "promoting"
        return ActionResult({"GlobalCluster": global_cluster})

    def failover_global_cluster(self):
        params = self.params
        global_cluster = find_global(self.current_account, params.get("GlobalClusterIdentifier"))
        allow_data_loss, switchover = bool(params.get("AllowDataLoss")), bool(params.get("Switchover"))
        if allow_data_loss and switchover:
            raise fault("InvalidParameterCombination", "AllowDataLoss and Switchover cannot both be specified.")
        target = find_cluster(self.current_account, self.region, params.get("TargetDbClusterIdentifier"))
        return ActionResult({"GlobalCluster": promote(global_cluster, target, allow_data_loss)})

    def switchover_global_cluster(self):
        params = self.params
        global_cluster = find_global(self.current_account, params.get("GlobalClusterIdentifier"))
        target = find_cluster(self.current_account, self.region, params.get("TargetDbClusterIdentifier"))
        return ActionResult({"GlobalCluster": promote(global_cluster, target, False)})

    def reset_db_cluster_parameter_group(self):
        from moto.rds.exceptions import DBClusterParameterGroupNotFoundError

        name = self.params.get("DBClusterParameterGroupName")
        group = self.backend.db_cluster_parameter_groups.get(name)
        if group is None:
            raise DBClusterParameterGroupNotFoundError(name)
        names = [p.get("ParameterName") for p in self.params.get("Parameters") or []]
        if self.params.get("ResetAllParameters"):
            if names:
                raise fault("InvalidParameterCombination", "Parameters cannot be specified with ResetAllParameters.")
            group.parameters.clear()
        elif not names:
            raise fault("InvalidParameterCombination", "Specify ResetAllParameters or a list of Parameters.")
        for parameter in names:
            group.parameters.pop(parameter, None)
        return ActionResult({"DBClusterParameterGroupName": group.name})

    for handler in (
        reset_db_cluster_parameter_group,
        describe_global_clusters,
        create_global_cluster,
        delete_global_cluster,
        modify_global_cluster,
        remove_from_global_cluster,
        failover_global_cluster,
        switchover_global_cluster,
    ):
        setattr(RDSResponse, handler.__name__, handler)


@control("POST", r"/rds-clusters/(?P<region>[a-z0-9-]+)/(?P<cluster>[^/]+)")
def set_cluster_status(match, body, query):
    status = body.get("status") if isinstance(body, dict) else None
    if not isinstance(status, str) or not status:
        raise ControlError(400, "body must be a JSON object with a string 'status' (e.g. \"inaccessible\", \"available\")")
    cluster = _control_cluster(match)
    cluster.status = status
    return 200, {"DBClusterIdentifier": cluster.db_cluster_identifier, "Status": status}


@control("GET", r"/rds-clusters/(?P<region>[a-z0-9-]+)/(?P<cluster>[^/]+)")
def get_cluster_status(match, body, query):
    cluster = _control_cluster(match)
    return 200, {"DBClusterIdentifier": cluster.db_cluster_identifier, "Status": cluster._status}


def _control_cluster(match):
    clusters = backends(moto_account())[match.group("region")].clusters
    identifier = match.group("cluster")
    if identifier not in clusters:
        raise ControlError(404, f"no DB cluster {identifier} in {match.group('region')}")
    return clusters[identifier]


def register(app):
    _patch_models()
    _patch_responses()
    return app
