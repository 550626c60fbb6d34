"""``gitops-gen list`` and ``route``: read-only answers from the declarations."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from gitops_gen.errors import UserError
from gitops_gen.estate.load import load_estate
from gitops_gen.estate.model import Cluster


@dataclass(frozen=True)
class PlacementRow:
    tenant: str
    cluster: str
    region: str
    controller: str
    namespace: str
    regional_host: str
    global_hosts: tuple[str, ...]

    def as_json(self) -> dict[str, object]:
        return {"tenant": self.tenant, "cluster": self.cluster, "region": self.region,
                "controller": self.controller, "namespace": self.namespace,
                "regionalHost": self.regional_host, "globalHosts": list(self.global_hosts)}


def list_placements(root: Path) -> tuple[dict[str, Cluster], list[PlacementRow]]:
    estate = load_estate(root)
    rows = [
        PlacementRow(t.name, c, estate.clusters[c].region, estate.clusters[c].controller, t.namespace,
                     estate.clusters[c].regional_host(t.name), tuple(t.global_hosts_of(c)))
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


def route(root: Path, host: str) -> Route:
    host = host.strip().lower().rstrip(".")
    _, rows = list_placements(root)
    for row in rows:
        if host in row.global_hosts:
            return Route(host, "global", row)
        if host == row.regional_host:
            return Route(host, "regional", row)
    raise UserError(f"no tenant serves host {host!r}",
                    "check the spelling; 'gitops-gen list' shows every tenant's hosts")
