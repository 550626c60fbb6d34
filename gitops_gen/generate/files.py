"""Every derived file of an estate, or of one tenant or cluster in it."""

from __future__ import annotations

from collections.abc import Callable, Mapping

from gitops_gen.estate import layout
from gitops_gen.estate.load import Estate
from gitops_gen.estate.model import Cluster, EstateConfig, Tenant
from gitops_gen.generate import argocd, flux, header, seal
from gitops_gen.generate.base import base_files
from gitops_gen.generate.overlay import overlay_files


def _sealed(files: Mapping[str, str]) -> dict[str, str]:
    return {path: seal(text) for path, text in files.items()}


def tenant_files(config: EstateConfig, clusters: Mapping[str, Cluster], tenant: Tenant) -> dict[str, str]:
    """The tenant's overlays and its controller objects; no file shared with another tenant."""
    placed = [clusters[c] for c in tenant.placements]
    files: dict[str, str] = {}
    for cluster in placed:
        files.update(overlay_files(config, tenant, cluster))
    files.update(argocd.tenant_files(config, tenant, [c for c in placed if c.controller == "argocd"]))
    files.update(flux.tenant_files(config, tenant, [c for c in placed if c.controller == "flux"]))
    return _sealed(files)


def cluster_files(config: EstateConfig, cluster: Cluster) -> dict[str, str]:
    readme = (
        header(layout.cluster_file(cluster.name))
        + f"\nOne file per tenant placed on cluster {cluster.name}: "
        + ("placement records read by the ApplicationSet in ../argocd/."
           if cluster.controller == "argocd" else "Flux Kustomizations reconciled by ../flux-system/.")
        + "\nThis file keeps the directory in git while no tenant is placed here.\n"
    )
    files = {f"{layout.cluster_tenants_dir(cluster.name)}/README.md": readme}
    if cluster.controller == "argocd":
        files.update(argocd.cluster_files(config, cluster))
    else:
        files.update(flux.cluster_files(config, cluster))
    return _sealed(files)


def shared_files(config: EstateConfig, clusters: Mapping[str, Cluster]) -> dict[str, str]:
    """Files every tenant depends on: the base, and the Argo CD bootstrap when there is an Argo CD cluster."""
    files = dict(base_files(config))
    if any(c.controller == "argocd" for c in clusters.values()):
        files.update(argocd.bootstrap_file(config))
    return _sealed(files)


def estate_files(estate: Estate, progress: Callable[[int, int], None] | None = None) -> dict[str, str]:
    """``progress(done, total)`` is called after each tenant's files."""
    files = shared_files(estate.config, estate.clusters)
    for cluster in estate.clusters.values():
        files.update(cluster_files(estate.config, cluster))
    for done, tenant in enumerate(estate.tenants.values(), 1):
        files.update(tenant_files(estate.config, estate.clusters, tenant))
        if progress is not None:
            progress(done, len(estate.tenants))
    return files
