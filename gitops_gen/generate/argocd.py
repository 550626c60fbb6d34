"""Argo CD objects: a hub Argo CD reconciles every Argo CD cluster of the estate.

- ``argocd/bootstrap.yaml``: the admin AppProject and the root Application (applied once by hand).
- ``argocd/projects/<tenant>.yaml``: one AppProject per tenant.
- ``clusters/<cluster>/argocd/applicationset.yaml``: one ApplicationSet per cluster.
- ``clusters/<cluster>/tenants/<tenant>.yaml``: the placement records its git files generator reads.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from gitops_gen import yamlio
from gitops_gen.estate import layout
from gitops_gen.estate.model import Cluster, EstateConfig, Tenant
from gitops_gen.generate import header
from gitops_gen.generate.common import (
    EXTERNAL_SECRETS_KINDS,
    IN_CLUSTER_DATABASE_KINDS,
    LABEL_CLUSTER,
    LABEL_MANAGED_BY,
    LABEL_REGION,
    LABEL_TENANT,
    OVERLAY_CLUSTER_KINDS,
    OVERLAY_NAMESPACED_KINDS,
    PDB_KINDS,
    SECRET_STORE_KINDS,
)

ADMIN_PROJECT = "gitops-gen"
IN_CLUSTER = "https://kubernetes.default.svc"
#: The tenant's name, from the placement file's name: project and destination never come from file content.
TENANT_FROM_PATH = '{{ trimSuffix ".yaml" .path.filename }}'


def _destination(cluster: Cluster, namespace: str) -> dict[str, str]:
    dest = {"server": cluster.argocd_server} if cluster.argocd_server else {"name": str(cluster.argocd_name)}
    dest["namespace"] = namespace
    return dest


def applicationset(config: EstateConfig, cluster: Cluster) -> dict[str, Any]:
    tenants_glob = f"{layout.cluster_tenants_dir(cluster.name)}/*.yaml"
    return {
        "apiVersion": "argoproj.io/v1alpha1", "kind": "ApplicationSet",
        "metadata": {"name": f"workflowgen-{cluster.name}", "namespace": config.argocd_namespace,
                     "labels": {LABEL_CLUSTER: cluster.name, LABEL_MANAGED_BY: "gitops-gen"}},
        "spec": {
            "goTemplate": True,
            "goTemplateOptions": ["missingkey=error"],
            "generators": [{"git": {
                "repoURL": config.repo_url, "revision": config.revision,
                # The tenants directory holds no subdirectory, so greedy and exact globbing match the same files.
                "files": [{"path": tenants_glob}],
            }}],
            "syncPolicy": {
                # Deleting a tenant's Application is deliberate: an empty generator result must delete nothing.
                "applicationsSync": "create-update",
                "preserveResourcesOnDeletion": True,
            },
            "template": {
                "metadata": {
                    "name": f"{TENANT_FROM_PATH}-{cluster.name}",
                    "labels": {LABEL_TENANT: TENANT_FROM_PATH, LABEL_CLUSTER: cluster.name,
                               LABEL_REGION: cluster.region},
                },
                "spec": {
                    "project": TENANT_FROM_PATH,
                    "source": {
                        "repoURL": config.repo_url, "targetRevision": config.revision,
                        "path": f"{layout.OVERLAYS_DIR}/{TENANT_FROM_PATH}/{cluster.name}",
                    },
                    "destination": _destination(cluster, TENANT_FROM_PATH),
                    "syncPolicy": {
                        "automated": {"prune": True, "selfHeal": True},
                        "syncOptions": ["PruneLast=true", "ServerSideApply=true"],
                        "retry": {"limit": 5, "backoff": {"duration": "30s", "factor": 2, "maxDuration": "10m"}},
                    },
                },
            },
        },
    }


def placement_record(tenant: Tenant, cluster: Cluster) -> dict[str, Any]:
    return {"tenant": tenant.name, "cluster": cluster.name, "region": cluster.region,
            "path": layout.overlay_dir(tenant.name, cluster.name)}


def namespaced_kinds(config: EstateConfig, tenant: Tenant) -> list[tuple[str, str]]:
    """Exactly the namespaced kinds the tenant's overlays may render: nothing else may be synced. The
    PodDisruptionBudget is always allowed: it comes and goes with webReplicas, and a project that lagged
    behind the overlay (the AppProject and the tenant's Application sync separately) would fail the sync."""
    kinds = list(OVERLAY_NAMESPACED_KINDS)
    if tenant.database.mode == "in-cluster":
        kinds += IN_CLUSTER_DATABASE_KINDS
    if config.secrets_mode == "external-secrets":
        kinds += EXTERNAL_SECRETS_KINDS
        if config.secret_store_kind == "SecretStore" and config.secret_store_spec is not None:
            kinds += SECRET_STORE_KINDS
    kinds += PDB_KINDS
    return sorted(kinds)


def appproject(config: EstateConfig, tenant: Tenant, clusters: Iterable[Cluster]) -> dict[str, Any]:
    return {
        "apiVersion": "argoproj.io/v1alpha1", "kind": "AppProject",
        "metadata": {"name": tenant.name, "namespace": config.argocd_namespace,
                     "labels": {LABEL_TENANT: tenant.name, LABEL_MANAGED_BY: "gitops-gen"},
                     # Keeps the project while Applications still reference it.
                     "finalizers": ["resources-finalizer.argocd.argoproj.io"]},
        "spec": {
            "description": f"WorkflowGen tenant {tenant.name}",
            "sourceRepos": [config.repo_url],
            "destinations": [_destination(c, tenant.namespace) for c in clusters],
            "clusterResourceWhitelist": [{"group": g, "kind": k} for g, k in OVERLAY_CLUSTER_KINDS],
            "namespaceResourceWhitelist": [{"group": g, "kind": k} for g, k in namespaced_kinds(config, tenant)],
            "orphanedResources": {"warn": True},
        },
    }


def bootstrap(config: EstateConfig) -> list[dict[str, Any]]:
    project = {
        "apiVersion": "argoproj.io/v1alpha1", "kind": "AppProject",
        "metadata": {"name": ADMIN_PROJECT, "namespace": config.argocd_namespace},
        "spec": {
            "description": "Platform objects written by gitops-gen: tenant AppProjects and ApplicationSets",
            "sourceRepos": [config.repo_url],
            "destinations": [{"server": IN_CLUSTER, "namespace": config.argocd_namespace}],
            "namespaceResourceWhitelist": [{"group": "argoproj.io", "kind": k}
                                           for k in ("AppProject", "ApplicationSet", "Application")],
        },
    }
    # One source, the argocd/ folder: each Argo CD cluster adds its own file under argocd/clusters/
    # (an Application of the cluster's ApplicationSet), so adding a cluster never edits this file and two
    # add-cluster branches merge in any order.
    root = {
        "apiVersion": "argoproj.io/v1alpha1", "kind": "Application",
        "metadata": {"name": ADMIN_PROJECT, "namespace": config.argocd_namespace},
        "spec": {
            "project": ADMIN_PROJECT,
            "source": {"repoURL": config.repo_url, "targetRevision": config.revision,
                       "path": layout.ARGOCD_DIR, "directory": {"recurse": True}},
            "destination": {"server": IN_CLUSTER, "namespace": config.argocd_namespace},
            # Removing an AppProject or ApplicationSet from git must not cascade to tenants: no prune.
            "syncPolicy": {"automated": {"prune": False, "selfHeal": True}},
        },
    }
    return [project, root]


#: Argo CD honours a per-ApplicationSet applicationsSync unless a controller-wide policy is set: then only with
#: the override enabled (argo-cd applicationset/utils/policy.go, and --enable-policy-override, whose default is
#: "no --policy given", in cmd/argocd-applicationset-controller/commands/applicationset_controller.go).
POLICY_NOTE = (
    "# applicationsSync below is honoured as long as argocd-cmd-params-cm sets no controller-wide\n"
    "# applicationsetcontroller.policy; if it does, also set applicationsetcontroller.enable.policy.override:\n"
    "# \"true\" there, or the controller's policy applies to every ApplicationSet on the hub instead.\n"
)


def cluster_application_name(cluster: str) -> str:
    """'gitops-gen.cluster.<cluster>': a tenant's Applications are '<tenant>-<cluster>', and neither name
    holds a dot, so none can take it (an Application's name is a DNS subdomain: dots are allowed)."""
    return f"{ADMIN_PROJECT}.cluster.{cluster}"


def cluster_application(config: EstateConfig, cluster: Cluster) -> dict[str, Any]:
    """The Application that applies one cluster's ApplicationSet, in the root Application's folder."""
    return {
        "apiVersion": "argoproj.io/v1alpha1", "kind": "Application",
        "metadata": {"name": cluster_application_name(cluster.name), "namespace": config.argocd_namespace,
                     "labels": {LABEL_CLUSTER: cluster.name, LABEL_MANAGED_BY: "gitops-gen"}},
        "spec": {
            "project": ADMIN_PROJECT,
            "source": {"repoURL": config.repo_url, "targetRevision": config.revision,
                       "path": f"{layout.cluster_dir(cluster.name)}/argocd"},
            "destination": {"server": IN_CLUSTER, "namespace": config.argocd_namespace},
            # Deleting the cluster's file must not delete its ApplicationSet (and with it every tenant there).
            "syncPolicy": {"automated": {"prune": False, "selfHeal": True}},
        },
    }


def cluster_files(config: EstateConfig, cluster: Cluster) -> dict[str, str]:
    src = header(layout.cluster_file(cluster.name))
    return {
        layout.applicationset_file(cluster.name): yamlio.dump(applicationset(config, cluster), src + POLICY_NOTE),
        layout.cluster_application_file(cluster.name): yamlio.dump(
            cluster_application(config, cluster),
            src + f"# Applied by the root Application in {layout.ARGOCD_BOOTSTRAP}: the cluster's ApplicationSet.\n"),
    }


def bootstrap_file(config: EstateConfig) -> dict[str, str]:
    src = header(layout.CONFIG_FILE)
    intro = ("# Apply once on the Argo CD hub: kubectl apply -n argocd -f argocd/bootstrap.yaml\n"
             "# It then manages itself, the tenants' AppProjects and, through argocd/clusters/, every\n"
             "# cluster's ApplicationSet.\n")
    return {layout.ARGOCD_BOOTSTRAP: yamlio.dump_docs(bootstrap(config), src + intro)}


def tenant_files(config: EstateConfig, tenant: Tenant, clusters: list[Cluster]) -> dict[str, str]:
    """Placement records and the AppProject, for the tenant's Argo CD placements (``clusters``)."""
    if not clusters:
        return {}
    src = header(layout.tenant_file(tenant.name))
    files = {
        layout.cluster_tenant_file(c.name, tenant.name): yamlio.dump(
            placement_record(tenant, c),
            src + f"# Read by the ApplicationSet in {layout.applicationset_file(c.name)}.\n")
        for c in clusters
    }
    files[layout.appproject_file(tenant.name)] = yamlio.dump(appproject(config, tenant, clusters), src)
    return files
