"""Flux objects: each Flux cluster reconciles its own directory under ``clusters/<cluster>/``.

- ``clusters/<cluster>/flux-system/gitops-gen-sync.yaml``: the GitRepository and the Kustomization
  that reconciles ``clusters/<cluster>/tenants`` (point ``flux bootstrap --path`` at this directory).
- ``clusters/<cluster>/tenants/<tenant>.yaml``: one Kustomization per tenant on the cluster.
"""

from __future__ import annotations

from typing import Any

from gitops_gen import yamlio
from gitops_gen.estate import layout
from gitops_gen.estate.model import Cluster, EstateConfig, Tenant
from gitops_gen.generate import header
from gitops_gen.generate.common import LABEL_CLUSTER, LABEL_MANAGED_BY, LABEL_REGION, LABEL_TENANT

SOURCE_NAME = "gitops-gen"
#: Flux's own controller account; set explicitly so the --default-service-account lockdown holds.
SERVICE_ACCOUNT = "kustomize-controller"


def git_repository(config: EstateConfig) -> dict[str, Any]:
    spec: dict[str, Any] = {"interval": "1m", "url": config.repo_url, "ref": {"branch": config.revision}}
    if config.flux_git_secret:
        spec["secretRef"] = {"name": config.flux_git_secret}
    return {
        "apiVersion": "source.toolkit.fluxcd.io/v1", "kind": "GitRepository",
        "metadata": {"name": SOURCE_NAME, "namespace": config.flux_namespace},
        "spec": spec,
    }


def tenants_kustomization(config: EstateConfig, cluster: Cluster) -> dict[str, Any]:
    return {
        "apiVersion": "kustomize.toolkit.fluxcd.io/v1", "kind": "Kustomization",
        "metadata": {"name": "gitops-gen-tenants", "namespace": config.flux_namespace,
                     "labels": {LABEL_CLUSTER: cluster.name, LABEL_MANAGED_BY: "gitops-gen"}},
        "spec": {
            "interval": "10m",
            "path": f"./{layout.cluster_tenants_dir(cluster.name)}",
            "prune": True,
            "serviceAccountName": SERVICE_ACCOUNT,
            "sourceRef": {"kind": "GitRepository", "name": SOURCE_NAME},
        },
    }


def tenant_kustomization(config: EstateConfig, tenant: Tenant, cluster: Cluster) -> dict[str, Any]:
    return {
        "apiVersion": "kustomize.toolkit.fluxcd.io/v1", "kind": "Kustomization",
        "metadata": {
            "name": tenant.name, "namespace": config.flux_namespace,
            "labels": {LABEL_TENANT: tenant.name, LABEL_CLUSTER: cluster.name, LABEL_REGION: cluster.region,
                       "toolkit.fluxcd.io/tenant": tenant.name},
        },
        "spec": {
            "interval": "10m",
            "retryInterval": "2m",
            # Windows images are large: the first pull on a node takes minutes.
            "timeout": "15m",
            "path": f"./{layout.overlay_dir(tenant.name, cluster.name)}",
            "prune": True,
            "wait": True,
            "targetNamespace": tenant.namespace,
            "serviceAccountName": SERVICE_ACCOUNT,
            "sourceRef": {"kind": "GitRepository", "name": SOURCE_NAME},
            # Objects annotated kustomize.toolkit.fluxcd.io/prune: disabled (data) survive deletion.
            "deletionPolicy": "MirrorPrune",
        },
    }


def cluster_files(config: EstateConfig, cluster: Cluster) -> dict[str, str]:
    src = header(layout.cluster_file(cluster.name))
    intro = (f"# Entry point of cluster {cluster.name}: "
             f"flux bootstrap ... --path={layout.cluster_dir(cluster.name)}/flux-system\n")
    return {layout.flux_sync_file(cluster.name): yamlio.dump_docs(
        [git_repository(config), tenants_kustomization(config, cluster)], src + intro)}


def tenant_files(config: EstateConfig, tenant: Tenant, clusters: list[Cluster]) -> dict[str, str]:
    src = header(layout.tenant_file(tenant.name))
    return {layout.cluster_tenant_file(c.name, tenant.name): yamlio.dump(tenant_kustomization(config, tenant, c), src)
            for c in clusters}
