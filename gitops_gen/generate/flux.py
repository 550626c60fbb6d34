"""Flux objects: each Flux cluster reconciles its own directory under ``clusters/<cluster>/``.

- ``clusters/<cluster>/flux-system/gitops-gen-sync.yaml``: the GitRepository and the Kustomization that
  reconciles ``clusters/<cluster>/tenants`` (point ``flux bootstrap --path`` at this directory). Its
  ``deletionPolicy: Orphan``: deleting or renaming it must not delete every tenant's Kustomization.
- ``clusters/<cluster>/tenants/<tenant>.yaml``: per tenant, two Kustomizations (as ``flux create tenant``
  sets a tenant up): ``<tenant>-platform`` applies ``clusters/<cluster>/platform/<tenant>/`` as Flux's own
  account (the Namespace, the tenant's reconciler ServiceAccount and its RoleBinding in the namespace);
  ``<tenant>`` applies the overlay as that ServiceAccount, whose rights end at the tenant's namespace, and
  ``dependsOn`` the platform one.

kustomize-controller's own account is bound to cluster-admin (flux2 manifests/rbac/reconciler.yaml), and
``targetNamespace`` does not confine cluster-scoped objects: an overlay applied as that account could create
a ClusterRoleBinding. The tenant's account cannot. Adding a tenant still adds files only.
"""

from __future__ import annotations

from typing import Any

from gitops_gen import yamlio
from gitops_gen.estate import layout
from gitops_gen.estate.model import Cluster, EstateConfig, Tenant
from gitops_gen.generate import header
from gitops_gen.generate.base import namespace
from gitops_gen.generate.common import LABEL_CLUSTER, LABEL_MANAGED_BY, LABEL_REGION, LABEL_TENANT

SOURCE_NAME = "gitops-gen"
#: Flux's own controller account; set explicitly so the --default-service-account lockdown holds.
SERVICE_ACCOUNT = "kustomize-controller"
FLUX_TENANT_LABEL = "toolkit.fluxcd.io/tenant"


def reconciler(tenant: str) -> str:
    """The tenant's ServiceAccount in the Flux namespace; `flux create tenant` names its RoleBinding so."""
    return f"{tenant}-reconciler"


def platform_kustomization_name(tenant: str) -> str:
    return f"{tenant}-platform"


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
            # Deleting or renaming this parent must leave the tenants' Kustomizations (and so their data) alone:
            # MirrorPrune, the default, would delete them all, and each would then prune its tenant.
            "deletionPolicy": "Orphan",
        },
    }


def _labels(tenant: Tenant, cluster: Cluster) -> dict[str, str]:
    return {LABEL_TENANT: tenant.name, LABEL_CLUSTER: cluster.name, LABEL_REGION: cluster.region,
            FLUX_TENANT_LABEL: tenant.name}


def platform_kustomization(config: EstateConfig, tenant: Tenant, cluster: Cluster) -> dict[str, Any]:
    return {
        "apiVersion": "kustomize.toolkit.fluxcd.io/v1", "kind": "Kustomization",
        "metadata": {"name": platform_kustomization_name(tenant.name), "namespace": config.flux_namespace,
                     "labels": _labels(tenant, cluster)},
        "spec": {
            "interval": "10m",
            "path": f"./{layout.tenant_platform_dir(cluster.name, tenant.name)}",
            "prune": True,
            "wait": True,
            "timeout": "5m",
            "serviceAccountName": SERVICE_ACCOUNT,
            "sourceRef": {"kind": "GitRepository", "name": SOURCE_NAME},
        },
    }


def tenant_kustomization(config: EstateConfig, tenant: Tenant, cluster: Cluster) -> dict[str, Any]:
    return {
        "apiVersion": "kustomize.toolkit.fluxcd.io/v1", "kind": "Kustomization",
        "metadata": {"name": tenant.name, "namespace": config.flux_namespace, "labels": _labels(tenant, cluster)},
        "spec": {
            "interval": "10m",
            "retryInterval": "2m",
            # Windows images are large: the first pull on a node takes minutes.
            "timeout": "15m",
            "path": f"./{layout.overlay_dir(tenant.name, cluster.name)}",
            "prune": True,
            "wait": True,
            "targetNamespace": tenant.namespace,
            # The tenant's own account: its RoleBinding grants it the tenant's namespace and nothing else.
            "serviceAccountName": reconciler(tenant.name),
            "sourceRef": {"kind": "GitRepository", "name": SOURCE_NAME},
            "dependsOn": [{"name": platform_kustomization_name(tenant.name)}],
            # Objects annotated kustomize.toolkit.fluxcd.io/prune: disabled (data) survive deletion.
            "deletionPolicy": "MirrorPrune",
        },
    }


def platform_objects(config: EstateConfig, tenant: Tenant, cluster: Cluster) -> list[dict[str, Any]]:
    """What `flux create tenant` makes, per tenant: its Namespace, and an account that may act only there."""
    labels = {**_labels(tenant, cluster), LABEL_MANAGED_BY: "gitops-gen"}
    account = {"apiVersion": "v1", "kind": "ServiceAccount",
               "metadata": {"name": reconciler(tenant.name), "namespace": config.flux_namespace, "labels": labels}}
    binding = {
        "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
        "metadata": {"name": reconciler(tenant.name), "namespace": tenant.namespace, "labels": labels},
        # cluster-admin through a RoleBinding: every right, within this namespace only (flux create tenant's
        # default --cluster-role); the overlay's quota and LimitRange need more than the 'admin' role.
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "cluster-admin"},
        "subjects": [{"kind": "ServiceAccount", "name": reconciler(tenant.name),
                      "namespace": config.flux_namespace}],
    }
    return [namespace(tenant.namespace, labels), account, binding]


def cluster_files(config: EstateConfig, cluster: Cluster) -> dict[str, str]:
    src = header(layout.cluster_file(cluster.name))
    intro = (f"# Entry point of cluster {cluster.name}: "
             f"flux bootstrap ... --path={layout.cluster_dir(cluster.name)}/flux-system\n")
    return {layout.flux_sync_file(cluster.name): yamlio.dump_docs(
        [git_repository(config), tenants_kustomization(config, cluster)], src + intro)}


def tenant_files(config: EstateConfig, tenant: Tenant, clusters: list[Cluster]) -> dict[str, str]:
    src = header(layout.tenant_file(tenant.name))
    files: dict[str, str] = {}
    for c in clusters:
        files[layout.cluster_tenant_file(c.name, tenant.name)] = yamlio.dump_docs(
            [platform_kustomization(config, tenant, c), tenant_kustomization(config, tenant, c)], src)
        files[f"{layout.tenant_platform_dir(c.name, tenant.name)}/platform.yaml"] = yamlio.dump_docs(
            platform_objects(config, tenant, c), src)
    return files
