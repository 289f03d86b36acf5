"""The functions' configuration: environment variables set by the drpair provider."""

import os
from dataclasses import dataclass
from typing import Optional, Tuple

MODES = ("automatic", "notify_only")


class ConfigError(ValueError):
    """An environment variable is missing or malformed (the function was edited by hand)."""


@dataclass(frozen=True)
class Config:
    mode: str
    environment: str
    primary_region: str
    dr_region: str
    global_cluster: str
    dr_cluster: str
    health_check_id: str
    # The primary's endpoint as the health check probes it, probed directly from the DR region
    # when Route 53's API (whose control plane lives in us-east-1) does not answer.
    primary_endpoint_url: Optional[str]
    consecutive_failures: int
    alarm_name_prefix: str
    alarm_name_suffix: str
    dr_asg_name: str
    scale_min_size: Optional[int]
    scale_desired_capacity: Optional[int]
    topic_arns: Tuple[str, ...]
    state_table: str

    @property
    def notify_only(self):
        return self.mode == "notify_only"

    def watches_alarm(self, name):
        """Whether an alarm is one of the DR alarms this deployment watches."""
        return bool(name) and name.startswith(self.alarm_name_prefix) and name.endswith(self.alarm_name_suffix)

    @classmethod
    def from_env(cls, env=None):
        env = os.environ if env is None else env

        def required(key):
            value = env.get(key, "").strip()
            if not value:
                raise ConfigError(f"environment variable {key} is not set")
            return value

        def optional_int(key):
            value = env.get(key, "").strip()
            if not value:
                return None
            try:
                return int(value)
            except ValueError:
                raise ConfigError(f"environment variable {key} is {value!r}, not an integer") from None

        mode = env.get("MODE", "automatic").strip() or "automatic"
        if mode not in MODES:
            raise ConfigError(f"MODE is {mode!r}; expected one of {', '.join(MODES)}")
        failures = optional_int("CONSECUTIVE_FAILURES") or 2
        if failures < 1:
            raise ConfigError("CONSECUTIVE_FAILURES must be at least 1")
        topics = tuple(t.strip() for t in env.get("TOPIC_ARNS", "").split(",") if t.strip())
        return cls(
            mode=mode,
            environment=env.get("ENVIRONMENT", "").strip(),
            primary_region=required("PRIMARY_REGION"),
            dr_region=required("DR_REGION"),
            global_cluster=required("GLOBAL_CLUSTER_IDENTIFIER"),
            dr_cluster=required("DR_CLUSTER_IDENTIFIER"),
            health_check_id=required("HEALTH_CHECK_ID"),
            primary_endpoint_url=env.get("PRIMARY_ENDPOINT_URL", "").strip() or None,
            consecutive_failures=failures,
            alarm_name_prefix=env.get("ALARM_NAME_PREFIX", ""),
            alarm_name_suffix=env.get("ALARM_NAME_SUFFIX", ""),
            dr_asg_name=required("DR_ASG_NAME"),
            scale_min_size=optional_int("SCALE_MIN_SIZE"),
            scale_desired_capacity=optional_int("SCALE_DESIRED_CAPACITY"),
            topic_arns=topics,
            state_table=required("STATE_TABLE"),
        )
