"""The load balancers' endpoints as clients on the internet see them (a stub: app-tier timing
owns this module and completes it).

``probe(host, port, path, scheme)`` answers what an HTTP GET of the endpoint gets: a status code,
or None when nothing answers (the load balancer's region is down, or no such endpoint).
"""

from dataclasses import dataclass
from typing import Optional

from . import outage
from .common import moto_account


@dataclass(frozen=True)
class Probe:
    status: Optional[int]
    reason: str

    @property
    def ok(self):
        return self.status is not None and 200 <= self.status < 400


def find_load_balancer(host):
    """(region, load balancer) whose DNS name is `host`, or (None, None)."""
    from moto.elbv2.models import elbv2_backends

    wanted = (host or "").rstrip(".").lower()
    for region, backend in elbv2_backends[moto_account()].items():
        for lb in backend.load_balancers.values():
            if (lb.dns_name or "").lower() == wanted:
                return region, lb
    return None, None


def probe(host, port=80, path="/", scheme="http"):
    region, lb = find_load_balancer(host)
    if lb is None:
        return Probe(None, f"{host} does not resolve")
    if outage.is_down(region):
        return Probe(None, f"{host} ({region}) does not answer: the region is down")
    return Probe(200, f"{host} ({region}) answered 200")


def register(app):
    return app
