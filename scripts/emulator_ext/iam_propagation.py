"""IAM's eventual consistency: a role or an instance profile that was just created or changed is
not yet usable by the service it is handed to.

AWS, IAM User Guide, "Troubleshooting IAM" > "Changes that I make are not always immediately
visible" (https://docs.aws.amazon.com/IAM/latest/UserGuide/troubleshoot_general.html#troubleshoot_general_eventual-consistency):
IAM "uses a distributed computing model called eventual consistency. Any change that you make
in IAM (or other AWS services) ... takes time to become visible from all possible endpoints";
"we recommend that you do not include such IAM changes in the critical, high-availability code
paths of your application", and that applications "verify that the changes have been propagated
before production workflows depend on them". Services that are handed a role too early answer
with their own errors, which clients retry (terraform-provider-aws quotes them in its retry
predicates: Lambda's "The role defined for the function cannot be assumed by Lambda.", Auto
Scaling's "Invalid IAM Instance Profile name").

This module only records and answers; each service's extension decides what to refuse, with that
service's own error. On the modeled clock (``clock.py``), with either timing, it records:

- a role's creation and trust-policy changes (CreateRole, UpdateAssumeRolePolicy): until they
  have propagated, no service can assume the role;
- changes of what a role may do (PutRolePolicy, DeleteRolePolicy, AttachRolePolicy,
  DetachRolePolicy, PutRolePermissionsBoundary): until they have propagated, a service that
  checks the role's permissions when it is handed the role may still see the old ones;
- an instance profile's creation and changes of its role (CreateInstanceProfile,
  AddRoleToInstanceProfile, RemoveRoleFromInstanceProfile).

Each change propagates for ``window()`` modeled seconds (``DEFAULT_WINDOW_SECONDS`` = 5; AWS
gives no figure). Deleting a role or a profile forgets it (a new one of the same name starts
over). The API for other extensions:

- ``propagating(ref, permissions=False, account_id=None) -> bool``: ``ref`` is a role ARN, a role
  name or an instance-profile ARN. True while the role's creation or trust policy (or, with
  ``permissions=True``, also its permission policies) has not propagated; for an instance profile,
  while the profile, its role membership or its role's creation or trust policy has not.
- ``profile_propagating(name_or_arn, account_id=None) -> bool``: the same for an instance profile
  named by its name.
- ``seconds_left(ref, permissions=False, account_id=None) -> float``: modeled seconds until it
  has propagated (0 when it has, or when the emulator has no record of it).
- ``refused(service, operation, ref, region)``: a service's extension records that it refused a
  request because of ``ref`` (listed by the control below and recorded on the event log as
  ``iam.propagation.refused``), so tests can see that a client's retries were exercised.

Control: ``GET /_drpair/iam-propagation`` answers ``{"seconds": 5.0, "refusals": [...],
"pending": [...]}`` (the refusals so far, newest last, at most 100; what is still propagating).
``POST /_drpair/iam-propagation`` ``{"seconds": N}`` sets the window (0 to 600; 0: changes are
visible at once); ``DELETE /_drpair/iam-propagation/refusals`` clears the refusals.
"""

import threading

from . import clock, timeline
from .common import ControlError, control, moto_account

DEFAULT_WINDOW_SECONDS = 5.0
MAX_WINDOW_SECONDS = 600.0
MAX_REFUSALS = 100

_lock = threading.Lock()
_state = {"window": DEFAULT_WINDOW_SECONDS}
# (account, kind, lower-case name) -> {"created": t, "trust": t, "permissions": t, "role_added": t}
_changes = {}
_refusals = []


def window():
    """How long (modeled seconds) a change takes to propagate."""
    with _lock:
        return _state["window"]


def _key(account_id, kind, name):
    return (account_id or moto_account(), kind, name.lower())


def _record(account_id, kind, name, what):
    with _lock:
        _changes.setdefault(_key(account_id, kind, name), {})[what] = clock.now()


def _forget(account_id, kind, name):
    with _lock:
        _changes.pop(_key(account_id, kind, name), None)


def _parse(ref):
    """(kind, name) of a role ARN, an instance-profile ARN or a role name."""
    ref = str(ref or "")
    if ref.startswith("arn:"):
        resource = ref.split(":", 5)[-1]
        kind, _, path_and_name = resource.partition("/")
        name = path_and_name.rsplit("/", 1)[-1]
        if kind == "role":
            return "role", name
        if kind == "instance-profile":
            return "instance-profile", name
        return None, None
    return "role", ref


def _latest(account_id, kind, name, aspects):
    with _lock:
        record = _changes.get(_key(account_id, kind, name)) or {}
        times = [record[a] for a in aspects if a in record]
    return max(times) if times else None


def _role_changed(account_id, name, permissions):
    aspects = ("created", "trust", "permissions") if permissions else ("created", "trust")
    return _latest(account_id, "role", name, aspects)


def _profile_changed(account_id, name):
    from moto.iam.models import iam_backends

    changed = [_latest(account_id, "instance-profile", name, ("created", "role_added", "role_removed"))]
    try:
        profile = iam_backends[account_id or moto_account()]["global"].get_instance_profile(name)
        changed += [_role_changed(account_id, role.name, False) for role in profile.roles]
    except Exception:  # no such profile: nothing to wait for (the service reports it missing)
        pass
    changed = [t for t in changed if t is not None]
    return max(changed) if changed else None


def seconds_left(ref, permissions=False, account_id=None):
    """Modeled seconds until the role or instance profile `ref` is usable (0 when it is)."""
    kind, name = _parse(ref)
    if kind == "role":
        changed = _role_changed(account_id, name, permissions)
    elif kind == "instance-profile":
        changed = _profile_changed(account_id, name)
    else:
        return 0.0
    if changed is None:
        return 0.0
    return max(0.0, changed + window() - clock.now())


def propagating(ref, permissions=False, account_id=None):
    """Whether the role or instance profile `ref` (ARN, or a role's name) is still propagating."""
    return seconds_left(ref, permissions, account_id) > 0


def profile_propagating(name_or_arn, account_id=None):
    """Whether the instance profile (its name or ARN) is still propagating."""
    ref = name_or_arn if str(name_or_arn).startswith("arn:") else f"arn:aws:iam::0:instance-profile/{name_or_arn}"
    return propagating(ref, account_id=account_id)


def refused(service, operation, ref, region):
    """Records that `service` refused `operation` because `ref` had not propagated yet."""
    entry = {"service": service, "operation": operation, "ref": ref, "region": region, "at": round(clock.now(), 3)}
    with _lock:
        _refusals.append(entry)
        del _refusals[:-MAX_REFUSALS]
    timeline.record("iam.propagation.refused", **{k: v for k, v in entry.items() if k != "at"})


# --- recording IAM's changes -----------------------------------------------------------------


def _after(method, record):
    """Wraps an IAMBackend method: `record(self, *args, **kwargs)` runs once it succeeded."""

    def wrapper(self, *args, **kwargs):
        result = method(self, *args, **kwargs)
        record(self, *args, **kwargs)
        return result

    wrapper.drpair_propagation = True
    return wrapper


def _arg(args, kwargs, index, name):
    return kwargs[name] if name in kwargs else args[index]


def _patch():
    from moto.iam.models import IAMBackend

    if getattr(IAMBackend.create_role, "drpair_propagation", False):
        return

    def role_change(what, index=0, name="role_name"):
        return lambda self, *a, **k: _record(self.account_id, "role", _arg(a, k, index, name), what)

    def profile_change(what):
        return lambda self, *a, **k: _record(self.account_id, "instance-profile", _arg(a, k, 0, "profile_name"), what)

    def created_profile(self, *args, **kwargs):
        name = _arg(args, kwargs, 0, "name")
        _record(self.account_id, "instance-profile", name, "created")
        role_names = kwargs.get("role_names", args[2] if len(args) > 2 else None)
        if role_names:
            _record(self.account_id, "instance-profile", name, "role_added")

    hooks = {
        "create_role": role_change("created"),
        "update_assume_role_policy": role_change("trust"),
        "put_role_policy": role_change("permissions"),
        "delete_role_policy": role_change("permissions"),
        "attach_role_policy": role_change("permissions", 1, "role_name"),
        "detach_role_policy": role_change("permissions", 1, "role_name"),
        "put_role_permissions_boundary": role_change("permissions"),
        "delete_role": lambda self, *a, **k: _forget(self.account_id, "role", _arg(a, k, 0, "role_name")),
        "create_instance_profile": created_profile,
        "add_role_to_instance_profile": profile_change("role_added"),
        "remove_role_from_instance_profile": profile_change("role_removed"),
        "delete_instance_profile": lambda self, *a, **k: _forget(self.account_id, "instance-profile", _arg(a, k, 0, "name")),
    }
    for method_name, hook in hooks.items():
        setattr(IAMBackend, method_name, _after(getattr(IAMBackend, method_name), hook))


# --- control ---------------------------------------------------------------------------------


def _pending():
    now = clock.now()
    span = window()
    with _lock:
        items = list(_changes.items())
    pending = []
    for (account, kind, name), record in items:
        latest = max(record.values())
        if latest + span > now:
            pending.append({"kind": kind, "name": name, "changes": sorted(record), "seconds_left": round(latest + span - now, 3)})
    return pending


def _view():
    with _lock:
        refusals = list(_refusals)
    return {"seconds": window(), "refusals": refusals, "pending": _pending()}


@control("GET", "/iam-propagation")
def get_settings(match, body, query):
    return 200, _view()


@control("POST", "/iam-propagation")
def set_settings(match, body, query):
    if not isinstance(body, dict) or set(body) != {"seconds"}:
        raise ControlError(400, 'body must be {"seconds": N}')
    seconds = body["seconds"]
    if isinstance(seconds, bool) or not isinstance(seconds, (int, float)) or not 0 <= seconds <= MAX_WINDOW_SECONDS:
        raise ControlError(400, f"'seconds' must be a number of modeled seconds from 0 to {MAX_WINDOW_SECONDS:.0f}")
    with _lock:
        _state["window"] = float(seconds)
    return 200, _view()


@control("DELETE", "/iam-propagation/refusals")
def clear_refusals(match, body, query):
    with _lock:
        _refusals.clear()
    return 200, _view()


def register(app):
    _patch()
    return app
