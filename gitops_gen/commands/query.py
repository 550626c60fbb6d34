"""``gitops-gen list`` and ``route``: read-only answers from the declarations."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from gitops_gen.errors import UserError
from gitops_gen.estate.load import load_estate
from gitops_gen.estate.model import Cluster, check_host, lifecycle_phase
from gitops_gen.redact import redact


@dataclass(frozen=True)
class PlacementRow:
    tenant: str
    cluster: str
    region: str
    controller: str
    namespace: str
    regional_host: str
    #: The global hosts it serves (none unless it is active).
    global_hosts: tuple[str, ...]
    role: str = "primary"
    state: str = "active"
    #: Global hosts declared on it that it does not serve, being draining or retired.
    unserved: tuple[str, ...] = ()
    #: Where it is in move-tenant's or remove-tenant's phases (model.lifecycle_phase), else None.
    phase: str | None = None

    @property
    def serves(self) -> bool:
        return self.state == "active"

    @property
    def hosts(self) -> list[str]:
        """The hosts it answers on."""
        return [*self.global_hosts, self.regional_host] if self.serves else []

    def as_json(self) -> dict[str, object]:
        return {"tenant": self.tenant, "cluster": self.cluster, "region": self.region,
                "controller": self.controller, "namespace": self.namespace, "role": self.role, "state": self.state,
                "phase": self.phase, "regionalHost": self.regional_host, "globalHosts": list(self.global_hosts),
                "unservedHosts": list(self.unserved)}


def list_placements(root: Path) -> tuple[dict[str, Cluster], list[PlacementRow]]:
    estate = load_estate(root)
    rows = [
        PlacementRow(t.name, c, estate.clusters[c].region, estate.clusters[c].controller, t.namespace,
                     estate.clusters[c].regional_host(t.name), tuple(t.global_hosts_of(c)), t.placement(c).role,
                     t.placement(c).state,
                     () if t.placement(c).serves else tuple(h.host for h in t.hosts if h.placement == c),
                     lifecycle_phase(t, c) if t.details or t.move else None)
        for t in estate.tenants.values() for c in t.placements
    ]
    rows.sort(key=lambda r: (r.cluster, r.tenant))
    return estate.clusters, rows


@dataclass(frozen=True)
class Route:
    host: str
    kind: str  # "global" or "regional"
    row: PlacementRow

    def as_json(self) -> dict[str, object]:
        return {"host": self.host, "kind": self.kind, **self.row.as_json(),
                "url": f"https://{self.host}/wfgen"}


_PASS_A_HOST = "pass a host such as acme.wfg.example.com, or a URL such as https://acme.wfg.example.com/wfgen"


def host_of(value: str) -> str:
    """The host a user means: a host name, or the host of a URL (``https://Acme.example.com:443/wfgen``),
    lower case, without port, path, credentials or a trailing dot."""
    text = value.strip()
    if "://" in text or "/" in text or ":" in text or "@" in text:
        # urlsplit finds the host only after '//': a bare 'host:443/wfgen' is read as if it had a scheme.
        try:
            parts = urlsplit(text if "://" in text else "//" + text)
            _ = parts.port  # a port that is not a number raises ValueError
        except ValueError:
            parts = None
        if parts is None or not parts.hostname:
            raise UserError(f"{redact(text)!r} is neither a host name nor a URL", _PASS_A_HOST, field="HOST")
        text = parts.hostname  # lower case, no port, no user:password@
    host = text.lower().rstrip(".")
    try:
        check_host(host)
    except UserError:
        raise UserError(f"{redact(value.strip())!r} is not a host name", _PASS_A_HOST, field="HOST") from None
    return host


def route(root: Path, host: str) -> Route:
    """The placement that serves ``host``, which may be given as a URL."""
    name = host_of(host)
    _, rows = list_placements(root)
    idle = None
    for row in rows:
        if name in row.global_hosts:
            return Route(name, "global", row)
        if name == row.regional_host and row.serves:
            return Route(name, "regional", row)
        if name in row.unserved or name == row.regional_host:
            idle = row
    if idle is not None:
        raise UserError(f"host {name!r} belongs to tenant {idle.tenant!r} on {idle.cluster}, whose placement is "
                        f"{idle.state}: it serves nothing", f"'gitops-gen list' shows the placements that serve; "
                        f"remove-tenant {idle.tenant} --cluster {idle.cluster} takes it further", field="HOST")
    shown = repr(name) if name == host.strip().lower().rstrip(".") else f"{name!r} (from {redact(host.strip())!r})"
    raise UserError(f"no tenant serves host {shown}",
                    "check the spelling; 'gitops-gen list' shows every tenant's hosts", field="HOST")
