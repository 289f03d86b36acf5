"""The application tier on the modeled clock: Auto Scaling instances that take time to boot and
load balancer targets that take time to pass their health checks.

- Instances an Auto Scaling group launches (at creation, on scale-out, as replacements, by an
  instance refresh) are ``Pending`` for BOOT_SECONDS, then ``InService``, in
  DescribeAutoScalingGroups and DescribeAutoScalingInstances ("Amazon EC2 Auto Scaling instance
  lifecycle", https://docs.aws.amazon.com/autoscaling/ec2/userguide/ec2-auto-scaling-lifecycle.html:
  a launched instance "is put into the Pending state" and, once it "is fully configured and passes
  the Amazon EC2 health checks, it's attached to the Auto Scaling group, and it enters the
  InService state"). Pending instances count toward the desired capacity (no extra launches).
  Timeline: ``asg.instance.in_service`` (group, instance, region).
- Instances of a group attached to target groups are registered as targets when launched (moto
  already does so, and the emulator adds the replacements of instances terminated through EC2);
  instances that leave the group (scale-in, termination) are deregistered
  ("Elastic Load Balancing and Amazon EC2 Auto Scaling",
  https://docs.aws.amazon.com/autoscaling/ec2/userguide/autoscaling-load-balancer.html).
- DescribeTargetHealth of a registered target (https://docs.aws.amazon.com/elasticloadbalancing/latest/APIReference/API_TargetHealth.html):
  ``unused`` / ``Target.NotInUse`` while no load balancer uses its target group; ``initial`` /
  ``Elb.InitialHealthChecking`` until HealthCheckIntervalSeconds x HealthyThresholdCount after the
  latest of: its registration, its instance entering InService, the target group being used by a
  load balancer; then ``healthy``. Terminated instances drain (moto). ("Health checks for
  Application Load Balancer target groups",
  https://docs.aws.amazon.com/elasticloadbalancing/latest/application/target-group-health-checks.html:
  "The load balancer sends a health check request to each registered target every
  HealthCheckIntervalSeconds seconds"; "When the health checks exceed HealthyThresholdCount
  consecutive successes, the load balancer puts the target back in service". The current page also
  says a newly registered target "must pass one health check to be considered healthy": the
  emulator keeps the full threshold, the slower of the two.) Timeline: ``elbv2.target.healthy``
  (target group, target, region).

Durations apply with the clock's ``aws`` timing; with ``instant`` timing (the default) they are 0:
instances are InService and targets healthy as soon as they exist and are in use.
"""

import threading

from . import clock, timeline
from .common import moto_account

BOOT_SECONDS = 60

_lock = threading.Lock()


# --- Auto Scaling ----------------------------------------------------------------------------


def _patch_autoscaling():
    from moto.autoscaling.models import AutoScalingBackend, FakeAutoScalingGroup, InstanceState

    if getattr(InstanceState, "drpair_timing", False):
        return
    InstanceState.drpair_timing = True

    def get_lifecycle(self):
        state = self.__dict__.get("_drpair_lifecycle", "InService")
        due = self.__dict__.get("drpair_in_service_at")
        if state == "InService" and due is not None and clock.now() < due:
            return "Pending"
        return state

    def set_lifecycle(self, value):
        self.__dict__["_drpair_lifecycle"] = value

    InstanceState.lifecycle_state = property(get_lifecycle, set_lifecycle)

    def active_instances(self):
        # Pending instances are on their way to InService: they count toward the capacity.
        return [x for x in self.instance_states if x.__dict__.get("_drpair_lifecycle", "InService") == "InService"]

    FakeAutoScalingGroup.active_instances = active_instances

    original_replace = FakeAutoScalingGroup.replace_autoscaling_group_instances

    def replace_autoscaling_group_instances(self, count_needed, propagated_tags):
        before = {id(state) for state in self.instance_states}
        original_replace(self, count_needed, propagated_tags)
        launched = [state for state in self.instance_states if id(state) not in before]
        boot = clock.duration(BOOT_SECONDS)
        due = clock.now() + boot
        region = self.autoscaling_backend.region_name
        for state in launched:
            state.drpair_in_service_at = due
            state.instance.drpair_in_service_at = due
            _in_service_later(self.name, state.instance.id, region, due)

    FakeAutoScalingGroup.replace_autoscaling_group_instances = replace_autoscaling_group_instances

    original_update = AutoScalingBackend.update_attached_target_groups

    def update_attached_target_groups(self, group_name):
        original_update(self, group_name)
        group = self.autoscaling_groups.get(group_name)
        if group is None or not group.target_group_arns:
            return
        members = {state.instance.id for state in group.instance_states}
        for arn in group.target_group_arns:
            target_group = self.elbv2_backend.target_groups.get(arn)
            if target_group is None:
                continue
            gone = []
            for target_id in list(target_group.targets):
                instance = self.ec2_backend.get_instance_by_id(target_id) if target_id.startswith("i-") else None
                if instance is not None and getattr(instance, "autoscaling_group", None) is group and target_id not in members:
                    gone.append(target_id)
            if gone:
                target_group.deregister_terminated_instances(gone)

    AutoScalingBackend.update_attached_target_groups = update_attached_target_groups

    original_notify = AutoScalingBackend.notify_terminate_instances

    def notify_terminate_instances(self, instance_ids):
        # moto replaces instances terminated through EC2 but registers the replacements only
        # with classic load balancers.
        original_notify(self, instance_ids)
        for name, group in list(self.autoscaling_groups.items()):
            if group.target_group_arns:
                self.update_attached_target_groups(name)

    AutoScalingBackend.notify_terminate_instances = notify_terminate_instances


def _in_service_later(group, instance_id, region, due):
    def record():
        timeline.record("asg.instance.in_service", group=group, instance=instance_id, region=region)

    if due <= clock.now():
        record()
    else:
        clock.at(due, record, f"asg-in-service-{instance_id}")


# --- target health ---------------------------------------------------------------------------


def _elbv2(region):
    from moto.elbv2.models import elbv2_backends

    return elbv2_backends[moto_account()][region]


def in_use(target_group, backend=None):
    """Whether a load balancer uses the target group (a listener or rule forwards to it)."""
    arns = getattr(target_group, "load_balancer_arns", None) or []
    if backend is None:
        return bool(arns)
    return any(arn in backend.load_balancers for arn in arns)


def healthy_at(target_group, target_id, ec2_backend):
    """Modeled epoch at which a registered target passes its health checks (None: unknown)."""
    registered = target_group.__dict__.get("drpair_registered", {}).get(target_id)
    if registered is None:
        return None
    start = max(registered, target_group.__dict__.get("drpair_in_use_since") or registered)
    if target_id.startswith("i-"):
        instance = ec2_backend.get_instance_by_id(target_id)
        due = getattr(instance, "drpair_in_service_at", None) if instance is not None else None
        if due is not None:
            start = max(start, due)
    interval = int(target_group.health_check_interval_seconds or 30)
    threshold = int(target_group.healthy_threshold_count or 5)
    return start + clock.duration(interval * threshold)


def _patch_elbv2():
    from moto.elbv2.models import ELBv2Backend, FakeHealthStatus, FakeTargetGroup

    if getattr(FakeTargetGroup, "drpair_timing", False):
        return
    FakeTargetGroup.drpair_timing = True

    original_register = FakeTargetGroup.register

    def register(self, targets):
        new = [t["Id"] for t in targets if t["Id"] not in self.targets]
        original_register(self, targets)
        now = clock.now()
        stamps = self.__dict__.setdefault("drpair_registered", {})
        for target_id in new:
            stamps[target_id] = now
            _healthy_later(self, target_id)

    FakeTargetGroup.register = register

    original_deregister = FakeTargetGroup.deregister

    def deregister(self, targets):
        original_deregister(self, targets)
        _forget_targets(self, [target["Id"] for target in targets])

    FakeTargetGroup.deregister = deregister

    original_drain = FakeTargetGroup.deregister_terminated_instances

    def deregister_terminated_instances(self, instance_ids):
        original_drain(self, instance_ids)
        _forget_targets(self, instance_ids)

    FakeTargetGroup.deregister_terminated_instances = deregister_terminated_instances

    original_health = FakeTargetGroup.health_for

    def health_for(self, target, ec2_backend):
        status = original_health(self, target, ec2_backend)
        if status.status != "healthy":
            return status
        if not in_use(self, _elbv2(self.arn.split(":")[3])):
            return FakeHealthStatus(
                status.instance_id, status.port, status.health_check_port, "unused", "Target.NotInUse",
                "Target group is not configured to receive traffic from the load balancer",
            )
        due = healthy_at(self, target["Id"], ec2_backend)
        if due is not None and clock.now() < due:
            return FakeHealthStatus(
                status.instance_id, status.port, status.health_check_port, "initial", "Elb.InitialHealthChecking",
                "Initial health checks in progress",
            )
        return status

    FakeTargetGroup.health_for = health_for

    def stamp_in_use(backend):
        now = clock.now()
        for target_group in backend.target_groups.values():
            if in_use(target_group) and target_group.__dict__.get("drpair_in_use_since") is None:
                target_group.drpair_in_use_since = now
                for target_id in list(target_group.__dict__.get("drpair_registered", {})):
                    _healthy_later(target_group, target_id)

    for name in ("create_listener", "create_rule", "modify_listener", "modify_rule"):
        original = getattr(ELBv2Backend, name)

        def wrapper(self, *args, __original=original, **kwargs):
            result = __original(self, *args, **kwargs)
            stamp_in_use(self)
            return result

        setattr(ELBv2Backend, name, wrapper)


def _forget_targets(target_group, target_ids):
    with _lock:
        for target_id in target_ids:
            target_group.__dict__.get("drpair_registered", {}).pop(target_id, None)
            target_group.__dict__.get("drpair_healthy_recorded", set()).discard(target_id)


def _healthy_later(target_group, target_id):
    """Records ``elbv2.target.healthy`` when the target passes its health checks."""
    region = target_group.arn.split(":")[3]

    def check():
        from moto.ec2.models import ec2_backends

        if target_id not in target_group.targets or not in_use(target_group):
            return  # deregistered, or not in use yet (stamp_in_use schedules it again)
        due = healthy_at(target_group, target_id, ec2_backends[moto_account()][region])
        if due is None:
            return
        if clock.now() < due:
            clock.at(due, check, f"elbv2-target-healthy-{target_id}")
            return
        with _lock:
            seen = target_group.__dict__.setdefault("drpair_healthy_recorded", set())
            if target_id in seen:
                return
            seen.add(target_id)
        timeline.record("elbv2.target.healthy", target_group=target_group.name, target=target_id, region=region)

    from moto.ec2.models import ec2_backends

    if not in_use(target_group):
        return
    due = healthy_at(target_group, target_id, ec2_backends[moto_account()][region])
    if due is None or due <= clock.now():
        check()
    else:
        clock.at(due, check, f"elbv2-target-healthy-{target_id}")


def register(app):
    _patch_autoscaling()
    _patch_elbv2()
    return app
