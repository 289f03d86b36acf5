"""The functions' configuration: environment variables set by the drpair provider.

Read by both functions:

- ``MODE`` (``automatic`` | ``notify_only``, default automatic), ``ENVIRONMENT`` (a label),
- ``PRIMARY_REGION``, ``DR_REGION``, ``GLOBAL_CLUSTER_IDENTIFIER``, ``DR_CLUSTER_IDENTIFIER``,
  ``DR_ASG_NAME``, ``STATE_TABLE`` (required),
- ``TOPIC_ARNS`` (comma-separated), ``ALARM_NAME_PREFIX``, ``ALARM_NAME_SUFFIX`` (which alarms the
  notifier speaks for),
- ``PRIMARY_ENDPOINT_URL``: the primary's endpoint (what the failover DNS's health check probes),
  GET directly from the DR region. The orchestrator cannot decide without it (required there),
- ``PRIMARY_ENDPOINT_TLS_NAME`` (optional, for an ``https://`` URL): the name the endpoint's
  certificate must be valid for, also sent as SNI. Default: the URL's host. Set it when the URL
  names the load balancer (``…elb.amazonaws.com``) or an IP address while the certificate names
  the service (``api.payments.example.com``),
- ``PRIMARY_ENDPOINT_TLS_VERIFY`` (``true`` | ``false``, default true): whether the probe verifies
  an ``https://`` endpoint's certificate, against the system's trust store (the Lambda runtime's
  CA bundle; OpenSSL's ``SSL_CERT_FILE``/``SSL_CERT_DIR`` replace it). An answer whose certificate
  does not verify is not the primary answering: the probe fails. ``false`` is an explicit opt-out
  for a certificate that cannot verify (self-signed, say): then anything that answers at the URL's
  address, whoever it is, counts as the primary being up and holds the failover back,
- ``CONSECUTIVE_FAILURES`` (default 2): counted failed probes in a row that start a confirmation,
- ``LAG_THRESHOLD_MS`` (default 1000): replication lag (ms) that counts as stalled when it lasts
  ``STALL_SECONDS``,
- ``SCALE_MIN_SIZE``, ``SCALE_DESIRED_CAPACITY`` (optional): the DR group's capacity after a
  failover (the primary's capacity; never scaled down).
"""

import ipaddress
import os
import re
from dataclasses import dataclass
from typing import Optional, Tuple

MODES = ("automatic", "notify_only")
DEFAULT_CONSECUTIVE_FAILURES = 2
DEFAULT_LAG_THRESHOLD_MS = 1000


class ConfigError(ValueError):
    """An environment variable is missing or malformed (the function was edited by hand)."""


# A DNS name (letters, digits, hyphens, dots) or an IPv4/IPv6 address.
_TLS_NAME = re.compile(r"^(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)*[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$")


@dataclass(frozen=True)
class EndpointTls:
    """How the probe checks an https:// endpoint: the certificate is verified (unless `verify` is
    off, explicitly) for `server_name`, which is also the SNI; None is the URL's host."""

    server_name: Optional[str] = None
    verify: bool = True


@dataclass(frozen=True)
class Config:
    mode: str
    environment: str
    primary_region: str
    dr_region: str
    global_cluster: str
    dr_cluster: str
    # The primary's endpoint, probed directly from the DR region (a data plane: no Route 53 API,
    # whose control plane lives in us-east-1, and nothing anyone else can write).
    primary_endpoint_url: Optional[str]
    consecutive_failures: int
    lag_threshold_ms: float
    alarm_name_prefix: str
    alarm_name_suffix: str
    dr_asg_name: str
    scale_min_size: Optional[int]
    scale_desired_capacity: Optional[int]
    topic_arns: Tuple[str, ...]
    state_table: str
    endpoint_tls: EndpointTls = EndpointTls()

    @property
    def notify_only(self):
        return self.mode == "notify_only"

    def watches_alarm(self, name):
        """Whether an alarm is one of the DR alarms this deployment watches."""
        return bool(name) and name.startswith(self.alarm_name_prefix) and name.endswith(self.alarm_name_suffix)

    def require_endpoint(self):
        if not self.primary_endpoint_url:
            raise ConfigError(
                "environment variable PRIMARY_ENDPOINT_URL is not set: the orchestrator decides from direct "
                "probes of the primary's endpoint (an HTTP or HTTPS health check's URL)"
            )
        return self.primary_endpoint_url

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
        failures = optional_int("CONSECUTIVE_FAILURES")
        failures = DEFAULT_CONSECUTIVE_FAILURES if failures is None else failures
        if failures < 1:
            raise ConfigError("CONSECUTIVE_FAILURES must be at least 1")
        threshold = env.get("LAG_THRESHOLD_MS", "").strip()
        try:
            threshold = float(threshold) if threshold else float(DEFAULT_LAG_THRESHOLD_MS)
        except ValueError:
            raise ConfigError(f"environment variable LAG_THRESHOLD_MS is {threshold!r}, not a number of milliseconds") from None
        if not 0 <= threshold < float("inf"):
            raise ConfigError("LAG_THRESHOLD_MS must be a number of milliseconds, at least 0")
        url = env.get("PRIMARY_ENDPOINT_URL", "").strip() or None
        if url is not None and not url.lower().startswith(("http://", "https://")):
            raise ConfigError(f"PRIMARY_ENDPOINT_URL is {url!r}; expected an http:// or https:// URL")
        topics = tuple(t.strip() for t in env.get("TOPIC_ARNS", "").split(",") if t.strip())
        tls_name = env.get("PRIMARY_ENDPOINT_TLS_NAME", "").strip().rstrip(".").lower() or None
        if tls_name is not None and not _valid_tls_name(tls_name):
            raise ConfigError(f"PRIMARY_ENDPOINT_TLS_NAME is {tls_name!r}; expected a DNS name or an IP address")
        verify = env.get("PRIMARY_ENDPOINT_TLS_VERIFY", "").strip().lower() or "true"
        if verify not in ("true", "false"):
            raise ConfigError(f"PRIMARY_ENDPOINT_TLS_VERIFY is {verify!r}; expected true or false")
        return cls(
            mode=mode,
            environment=env.get("ENVIRONMENT", "").strip(),
            primary_region=required("PRIMARY_REGION"),
            dr_region=required("DR_REGION"),
            global_cluster=required("GLOBAL_CLUSTER_IDENTIFIER"),
            dr_cluster=required("DR_CLUSTER_IDENTIFIER"),
            primary_endpoint_url=url,
            consecutive_failures=failures,
            lag_threshold_ms=threshold,
            alarm_name_prefix=env.get("ALARM_NAME_PREFIX", ""),
            alarm_name_suffix=env.get("ALARM_NAME_SUFFIX", ""),
            dr_asg_name=required("DR_ASG_NAME"),
            scale_min_size=optional_int("SCALE_MIN_SIZE"),
            scale_desired_capacity=optional_int("SCALE_DESIRED_CAPACITY"),
            topic_arns=topics,
            state_table=required("STATE_TABLE"),
            endpoint_tls=EndpointTls(tls_name, verify == "true"),
        )


def _valid_tls_name(name):
    try:
        ipaddress.ip_address(name)
        return True
    except ValueError:
        return len(name) <= 253 and bool(_TLS_NAME.match(name))
