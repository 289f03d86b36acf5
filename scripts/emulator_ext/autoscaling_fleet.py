"""Auto Scaling instance refreshes, which moto does not implement, and launch template versions
with user data, which moto stores unparsed (every later read of the version then fails).

- CreateLaunchTemplateVersion with LaunchTemplateData.UserData keeps the user data as moto's
  CreateLaunchTemplate does, so UpdateAutoScalingGroup and RunInstances can use the version.

- StartInstanceRefresh: an unknown group is ``ValidationError`` ("AutoScalingGroup name not
  found"); a refresh still ``Pending``, ``InProgress`` or ``Cancelling`` is
  ``InstanceRefreshInProgress``. Otherwise every instance of the group is replaced at once by
  new ones from the group's current launch template version (the emulator has no warm-up to
  wait for) and the refresh is ``Successful``, 100 percent complete. Returns InstanceRefreshId.
- CancelInstanceRefresh: cancels the active refresh (``Cancelled``) and returns its id; none
  active is ``ActiveInstanceRefreshNotFound``.
- DescribeInstanceRefreshes: the group's refreshes, newest first, optionally filtered by
  InstanceRefreshIds.
- ``POST /_drpair/instance-refreshes/{region}/{group}`` ``{"status": "InProgress"}`` sets the
  newest refresh's status (to test cancellation); ``GET`` lists them.

- CreateAutoScalingGroup, and UpdateAutoScalingGroup with a ``LaunchTemplate``, check the launch
  template version's instance profile as Auto Scaling does when it validates the template: while
  the profile (its creation, its role membership, or its role's creation) is still propagating
  through IAM (``iam_propagation.py``; IAM User Guide, "Changes that I make are not always
  immediately visible"), or when there is no such profile, the answer is ``ValidationError`` "You
  must use a valid fully-formed launch template. Value (NAME) for parameter iamInstanceProfile.name
  is invalid. Invalid IAM Instance Profile name" (AWS's answer, quoted by terraform-provider-aws's
  ``internal/service/autoscaling/group.go``, which retries CreateAutoScalingGroup on "Invalid IAM
  Instance Profile"). A profile given by ARN gets the same answer for ``iamInstanceProfile.arn``
  ("Invalid IAM Instance Profile ARN": the emulator's rendering of the same check). Refusals for
  propagation are recorded (``iam_propagation.refused``). Mixed-instances policies and launch
  configurations are not checked.
"""

import uuid

from . import iam_propagation
from .common import ControlError, control, moto_account

ACTIVE = ("Pending", "InProgress", "Cancelling")


def _errors():
    from moto.autoscaling.exceptions import AutoscalingClientError

    return AutoscalingClientError


def _backend(account_id, region):
    from moto.autoscaling.models import autoscaling_backends

    return autoscaling_backends[account_id][region]


def refreshes(backend, group_name):
    return backend.__dict__.setdefault("drpair_refreshes", {}).setdefault(group_name, [])


def _now():
    from moto.core.utils import utcnow

    return utcnow()


def replace_instances(backend, group):
    """Terminates the group's instances and launches as many from its current template."""
    old = [state.instance.id for state in group.instance_states]
    if old:
        backend.ec2_backend.terminate_instances(old)
    group.instance_states = []
    if group.desired_capacity:
        group.replace_autoscaling_group_instances(group.desired_capacity, group.get_propagated_tags())
    backend.update_attached_elbs(group.name)
    backend.update_attached_target_groups(group.name)


def _group(backend, name):
    group = backend.autoscaling_groups.get(name)
    if group is None:
        raise _errors()("ValidationError", f"AutoScalingGroup name not found - AutoScalingGroup '{name}' not found")
    return group


def _patch_responses():
    from moto.autoscaling.responses import AutoScalingResponse
    from moto.core.responses import ActionResult

    if getattr(AutoScalingResponse, "drpair_refresh", False):
        return
    AutoScalingResponse.drpair_refresh = True

    def start_instance_refresh(self):
        backend = self.autoscaling_backend
        name = self._get_param("AutoScalingGroupName")
        group = _group(backend, name)
        history = refreshes(backend, name)
        if any(r["Status"] in ACTIVE for r in history):
            raise _errors()("InstanceRefreshInProgress", "An Instance Refresh is already in progress and blocks the execution of this Instance Refresh.")
        refresh_id = str(uuid.uuid4())
        started = _now()
        replace_instances(backend, group)
        history.insert(0, {
            "InstanceRefreshId": refresh_id,
            "AutoScalingGroupName": name,
            "Status": "Successful",
            "StatusReason": "",
            "StartTime": started,
            "EndTime": _now(),
            "PercentageComplete": 100,
            "InstancesToUpdate": 0,
            "Preferences": self._get_param("Preferences") or {},
        })
        return ActionResult({"InstanceRefreshId": refresh_id})

    def cancel_instance_refresh(self):
        backend = self.autoscaling_backend
        name = self._get_param("AutoScalingGroupName")
        _group(backend, name)
        active = [r for r in refreshes(backend, name) if r["Status"] in ACTIVE]
        if not active:
            raise _errors()("ActiveInstanceRefreshNotFound", "No in progress or pending Instance Refresh found for Auto Scaling group " + name)
        active[0]["Status"] = "Cancelled"
        active[0]["EndTime"] = _now()
        return ActionResult({"InstanceRefreshId": active[0]["InstanceRefreshId"]})

    def describe_instance_refreshes(self):
        backend = self.autoscaling_backend
        name = self._get_param("AutoScalingGroupName")
        _group(backend, name)
        wanted = self._get_param("InstanceRefreshIds") or []
        found = [r for r in refreshes(backend, name) if not wanted or r["InstanceRefreshId"] in wanted]
        return ActionResult({"InstanceRefreshes": found})

    AutoScalingResponse.start_instance_refresh = start_instance_refresh
    AutoScalingResponse.cancel_instance_refresh = cancel_instance_refresh
    AutoScalingResponse.describe_instance_refreshes = describe_instance_refreshes


@control("POST", r"/instance-refreshes/(?P<region>[^/]+)/(?P<group>[^/]+)")
def set_refresh_status(match, body, query):
    if not isinstance(body, dict) or body.get("status") not in ACTIVE + ("Successful", "Failed", "Cancelled"):
        raise ControlError(400, 'body must be {"status": "InProgress"} (or Pending, Cancelling, Successful, Failed, Cancelled)')
    history = _control_history(match)
    if not history:
        raise ControlError(404, f"no instance refresh of {match.group('group')} in {match.group('region')}")
    history[0]["Status"] = body["status"]
    return 200, {"InstanceRefreshes": history}


@control("GET", r"/instance-refreshes/(?P<region>[^/]+)/(?P<group>[^/]+)")
def get_refreshes(match, body, query):
    return 200, {"InstanceRefreshes": _control_history(match)}


def _control_history(match):
    backend = _backend(moto_account(), match.group("region"))
    if match.group("group") not in backend.autoscaling_groups:
        raise ControlError(404, f"no Auto Scaling group {match.group('group')} in {match.group('region')}")
    return refreshes(backend, match.group("group"))


def _patch_template_versions():
    from moto.core.types import Base64EncodedString
    from moto.ec2.models.launch_templates import LaunchTemplate
    from moto.ec2.utils import parse_user_data

    if getattr(LaunchTemplate, "drpair_user_data", False):
        return
    LaunchTemplate.drpair_user_data = True
    original = LaunchTemplate.create_version

    def create_version(self, data, description):
        user_data = data.get("UserData")
        if user_data is not None and not isinstance(user_data, Base64EncodedString):
            data = dict(data, UserData=parse_user_data(user_data))
        return original(self, data, description)

    LaunchTemplate.create_version = create_version


def _template_profile(backend, launch_template):
    """The instance profile ("Name" or "Arn", value) of the launch template version a request
    names; None when it names none (or no template Auto Scaling can resolve)."""
    spec = launch_template or {}
    template_id, name = spec.get("LaunchTemplateId"), spec.get("LaunchTemplateName")
    try:
        ec2 = backend.ec2_backend
        template = ec2.get_launch_template(template_id) if template_id else ec2.get_launch_template_by_name(name)
        version = template.get_version(spec.get("Version") or "$Default")
    except Exception:  # moto reports a missing template or version itself
        return None
    profile = (version.data or {}).get("IamInstanceProfile") or {}
    if profile.get("Arn"):
        return "Arn", profile["Arn"]
    if profile.get("Name"):
        return "Name", profile["Name"]
    return None


def _profile_exists(account_id, kind, value):
    from moto.iam.models import iam_backends

    iam = iam_backends[account_id]["global"]
    try:
        if kind == "Arn":
            iam.get_instance_profile_by_arn(value)
        else:
            iam.get_instance_profile(value)
        return True
    except Exception:
        return False


def _check_profile(backend, launch_template, operation):
    found = _template_profile(backend, launch_template)
    if found is None:
        return
    kind, value = found
    ref = value if kind == "Arn" else f"arn:aws:iam::{backend.account_id}:instance-profile/{value}"
    missing = not _profile_exists(backend.account_id, kind, value)
    if not missing and not iam_propagation.propagating(ref, account_id=backend.account_id):
        return
    if not missing:
        iam_propagation.refused("autoscaling", operation, ref, backend.region_name)
    what = "ARN" if kind == "Arn" else "name"
    raise _errors()(
        "ValidationError",
        f"You must use a valid fully-formed launch template. Value ({value}) for parameter iamInstanceProfile.{kind.lower()} is invalid. Invalid IAM Instance Profile {what}",
    )


def _patch_profile_checks():
    from moto.autoscaling.models import AutoScalingBackend

    if getattr(AutoScalingBackend, "drpair_profile_checks", False):
        return
    AutoScalingBackend.drpair_profile_checks = True
    create, update = AutoScalingBackend.create_auto_scaling_group, AutoScalingBackend.update_auto_scaling_group

    def create_auto_scaling_group(self, *args, **kwargs):
        _check_profile(self, kwargs.get("launch_template"), "CreateAutoScalingGroup")
        return create(self, *args, **kwargs)

    def update_auto_scaling_group(self, *args, **kwargs):
        if kwargs.get("launch_template"):
            _check_profile(self, kwargs["launch_template"], "UpdateAutoScalingGroup")
        return update(self, *args, **kwargs)

    AutoScalingBackend.create_auto_scaling_group = create_auto_scaling_group
    AutoScalingBackend.update_auto_scaling_group = update_auto_scaling_group


def register(app):
    _patch_responses()
    _patch_template_versions()
    _patch_profile_checks()
    return app
