"""Loading an estate from its declarations, and the rules that span files."""

from __future__ import annotations

import functools
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from gitops_gen.errors import DeclarationError, UserError
from gitops_gen.estate import layout
from gitops_gen.estate.model import (
    LTSC2022_VERSIONS,
    Cluster,
    EstateConfig,
    Tenant,
    parse_cluster,
    parse_config,
    parse_tenant,
)


@dataclass
class Estate:
    root: Path
    config: EstateConfig
    clusters: dict[str, Cluster] = field(default_factory=dict)
    tenants: dict[str, Tenant] = field(default_factory=dict)


def _read(root: Path, rel: str) -> str:
    try:
        return (root / rel).read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise DeclarationError(rel, "is not UTF-8 text", None, "save the file as UTF-8") from None


def load_config(root: Path) -> EstateConfig:
    path = root / layout.CONFIG_FILE
    if not path.is_file():
        raise UserError(
            f"{root} is not a gitops-gen estate: {layout.CONFIG_FILE} is missing",
            "run 'gitops-gen init PATH' to create one, or pass --repo PATH of an existing estate",
        )
    return parse_config(layout.CONFIG_FILE, _read(root, layout.CONFIG_FILE))


def _subdirs(path: Path) -> list[str]:
    try:
        return sorted(e.name for e in os.scandir(path) if e.is_dir() and not e.name.startswith("."))
    except FileNotFoundError:
        return []


def load_clusters(root: Path) -> dict[str, Cluster]:
    clusters: dict[str, Cluster] = {}
    for name in _subdirs(root / layout.CLUSTERS_DIR):
        rel = layout.cluster_file(name)
        if (root / rel).is_file():
            clusters[name] = parse_cluster(rel, _read(root, rel), expected_name=name)
    return clusters


def tenant_names(root: Path) -> list[str]:
    return [n for n in _subdirs(root / layout.OVERLAYS_DIR) if (root / layout.tenant_file(n)).is_file()]


def load_tenant(root: Path, name: str) -> Tenant:
    rel = layout.tenant_file(name)
    return _parse_tenant(rel, _read(root, rel), name)


@functools.lru_cache(maxsize=65_536)
def _parse_tenant(rel: str, text: str, name: str) -> Tenant:
    """Parsed once per content (a Tenant is immutable): a diff loads both sides' declarations, which
    are the same but for the change."""
    return parse_tenant(rel, text, expected_name=name)


def load_estate(root: Path) -> Estate:
    config = load_config(root)
    estate = Estate(root, config, load_clusters(root), {n: load_tenant(root, n) for n in tenant_names(root)})
    check_estate(estate)
    return estate


def check_config_clusters(config: EstateConfig, clusters: Mapping[str, Cluster]) -> None:
    for c in clusters.values():
        if c.windows_build == "ltsc2022" and config.workflowgen_version not in LTSC2022_VERSIONS:
            raise DeclarationError(
                layout.cluster_file(c.name),
                f"field 'windowsBuild' is ltsc2022 but WorkflowGen {config.workflowgen_version} has no ltsc2022 "
                f"image (only {', '.join(sorted(LTSC2022_VERSIONS))})",
                None, "use ltsc2019 nodes for this cluster, or set workflowgen.version in gitops-gen.yaml "
                      "to a version published for ltsc2022",
            )
    domains: dict[str, str] = {}
    for c in clusters.values():
        if c.domain in domains:
            raise DeclarationError(layout.cluster_file(c.name),
                                   f"field 'domain' {c.domain!r} is already the domain of cluster "
                                   f"{domains[c.domain]!r}", None,
                                   "each cluster needs its own DNS domain for regional hosts")
        domains[c.domain] = c.name


def regional_owner(host: str, clusters: Mapping[str, Cluster]) -> tuple[str, Cluster] | None:
    """If ``host`` has the form ``<label>.<cluster domain>``, the label and that cluster."""
    label, _, rest = host.partition(".")
    for c in clusters.values():
        if rest == c.domain:
            return label, c
    return None


def check_tenant_against(tenant: Tenant, clusters: Mapping[str, Cluster],
                         host_owners: Mapping[str, str]) -> None:
    """Placements name known clusters; hosts are free and not regional hosts of any cluster."""
    rel = layout.tenant_file(tenant.name)
    for c in tenant.placements:
        if c not in clusters:
            known = ", ".join(sorted(clusters)) or "none yet"
            raise UserError(f"{rel}: unknown cluster {c!r} (known clusters: {known})",
                            f"add it first with 'gitops-gen add-cluster {c} ...' or fix the name")
    for h in tenant.hosts:
        owner = host_owners.get(h.host)
        if owner is not None and owner != tenant.name:
            raise UserError(f"{rel}: host {h.host!r} is already claimed by tenant {owner!r}",
                            "every host is served by exactly one tenant; choose another host")
        regional = regional_owner(h.host, clusters)
        if regional is not None:
            raise UserError(
                f"{rel}: host {h.host!r} lies in cluster {regional[1].name!r}'s regional domain "
                f"{regional[1].domain!r}",
                "regional hosts '<tenant>.<cluster domain>' are given to every placement automatically; "
                "declare global hosts outside the clusters' domains",
            )


def check_estate(estate: Estate) -> None:
    check_config_clusters(estate.config, estate.clusters)
    owners: dict[str, str] = {}
    for t in estate.tenants.values():
        for h in t.hosts:
            if h.host in owners:
                raise UserError(f"{layout.tenant_file(t.name)}: host {h.host!r} is already claimed by tenant "
                                f"{owners[h.host]!r}", "every host is served by exactly one tenant; remove it "
                                "from one of the two tenant.yaml files")
            owners[h.host] = t.name
    for t in estate.tenants.values():
        check_tenant_against(t, estate.clusters, owners)
