"""Loading an estate from its declarations, and the rules that span files.

Every loader reads through a ``Source``: the work tree (a ``Path`` is read as one) or a commit's tree.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from gitops_gen.errors import DeclarationError, UserError
from gitops_gen.estate import declcache, layout
from gitops_gen.estate.model import (
    LTSC2022_VERSIONS,
    Cluster,
    EstateConfig,
    Tenant,
    parse_cluster,
    parse_config,
    parse_tenant,
)
from gitops_gen.estate.source import Source, as_source


@dataclass
class Estate:
    root: Path
    config: EstateConfig
    clusters: dict[str, Cluster] = field(default_factory=dict)
    tenants: dict[str, Tenant] = field(default_factory=dict)


def _text(rel: str, data: bytes) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise DeclarationError(rel, "is not UTF-8 text", None, "save the file as UTF-8") from None


def _read(source: Source, rel: str) -> str | None:
    data = source.read(rel)
    return None if data is None else _text(rel, data)


def load_config(where: Path | Source) -> EstateConfig:
    source = as_source(where)
    text = _read(source, layout.CONFIG_FILE)
    if text is None:
        shown = where if isinstance(where, Path) else source.label
        raise UserError(
            f"{shown} is not a gitops-gen estate: {layout.CONFIG_FILE} is missing",
            "run 'gitops-gen init PATH' to create one, or pass --repo PATH of an existing estate",
        )
    return parse_config(layout.CONFIG_FILE, text)


def load_clusters(where: Path | Source) -> dict[str, Cluster]:
    source = as_source(where)
    clusters: dict[str, Cluster] = {}
    for name in source.subdirs(layout.CLUSTERS_DIR):
        rel = layout.cluster_file(name)
        text = _read(source, rel)
        if text is not None:
            clusters[name] = parse_cluster(rel, text, expected_name=name)
    return clusters


def tenant_names(where: Path | Source) -> list[str]:
    source = as_source(where)
    return [n for n in source.subdirs(layout.OVERLAYS_DIR) if source.read(layout.tenant_file(n)) is not None]


def load_tenant(where: Path | Source, name: str) -> Tenant:
    rel = layout.tenant_file(name)
    text = _read(as_source(where), rel)
    if text is None:
        raise UserError(f"{rel} is missing", f"there is no tenant {name!r}; 'gitops-gen list' shows the tenants")
    return _parse_tenant(rel, text, name)


@functools.lru_cache(maxsize=65_536)
def _parse_tenant(rel: str, text: str, name: str) -> Tenant:
    """Parsed once per content (a Tenant is immutable): a diff loads both sides' declarations, which
    are the same but for the change; and, with a repository's cache active, once per content across runs."""
    cache = declcache.active()
    if cache is None:
        return parse_tenant(rel, text, expected_name=name)
    key = cache.key(f"{rel}\0{name}", text)
    hit = cache.get(key)
    if isinstance(hit, Tenant):
        return hit
    tenant = parse_tenant(rel, text, expected_name=name)
    cache.put(key, tenant)
    return tenant


def load_estate(where: Path | Source, root: Path | None = None) -> Estate:
    """The whole estate; ``root`` is the directory it is rendered in (``where`` when that is a path)."""
    source = as_source(where)
    config = load_config(where)
    tenants: dict[str, Tenant] = {}
    for name in source.subdirs(layout.OVERLAYS_DIR):
        rel = layout.tenant_file(name)
        text = _read(source, rel)
        if text is not None:
            tenants[name] = _parse_tenant(rel, text, name)
    estate = Estate(root if root is not None else where if isinstance(where, Path) else Path("."), config,
                    load_clusters(source), tenants)
    check_estate(estate)
    cache = declcache.active()
    if cache is not None:
        cache.save()
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
                         host_owners: Mapping[str, str], where: str | None = None) -> None:
    """Placements name known clusters; hosts are free and not regional hosts of any cluster. ``where``
    names the commit the clusters were read from, for the messages."""
    rel = layout.tenant_file(tenant.name)
    for c in tenant.placements:
        if c not in clusters:
            known = ", ".join(sorted(clusters)) or "none yet"
            on = f" in {where}" if where else ""
            raise UserError(f"{rel}: unknown cluster {c!r} (known clusters{on}: {known})",
                            f"add it first with 'gitops-gen add-cluster {c} ...' and merge its branch, or fix the "
                            f"name (--base gitops-gen/add-cluster-{c} stacks this change on an unmerged one)")
    for placement in tenant.details:  # only a placement that declares something may record a URL
        c, url = placement.cluster, placement.application_url
        if url is None or not placement.serves or c not in clusters:
            continue
        i = tenant.placements.index(c)
        served = [*(h.host for h in tenant.hosts if h.placement == c), clusters[c].regional_host(tenant.name)]
        if url.split("/")[2] not in served:
            raise UserError(f"{rel}: field 'placements[{i}].applicationUrl' is {url!r}, on a host the placement on "
                            f"{c} does not serve ({', '.join(served)})",
                            f"give a URL on one of them, e.g. https://{served[0]}/wfgen: links in e-mails and "
                            "OpenID Connect redirects use it", field=f"placements[{i}].applicationUrl")
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


def remote_key_base(config: EstateConfig, tenant: Tenant) -> str:
    """Where the tenant's secrets live in the external store; each placement reads '<base>/<cluster>'."""
    return tenant.secret_key or f"{config.secret_key_prefix}/{tenant.name}"


def check_tenant_settings(tenant: Tenant, config: EstateConfig) -> None:
    """What a tenant may declare given the estate settings: its secrets only under its own prefix."""
    own = f"{config.secret_key_prefix}/{tenant.name}"
    key = tenant.secret_key
    if key is not None and key != own and not key.startswith(own + "/"):
        raise DeclarationError(layout.tenant_file(tenant.name),
                               f"field 'secrets.remoteKey' is {key!r}, outside the tenant's own prefix {own!r}",
                               None, f"remove it (each placement reads {own}/<cluster>), or keep it below {own}/: "
                               "a tenant never reads another tenant's secrets")


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
        check_tenant_settings(t, estate.config)
