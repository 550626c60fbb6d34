"""What a placement purged from git leaves in its cluster, and how to delete it by hand after a backup.

gitops-gen never deletes data from git-driven automation: the Namespace, the claims and the database's
StatefulSet are protected from pruning (generate/common.py PROTECT_ANNOTATIONS), so purging a placement
leaves them, and ``remove-tenant --phase purge`` and ``diff`` list them with the steps."""

from __future__ import annotations

from gitops_gen.estate.model import Cluster, EstateConfig, Tenant
from gitops_gen.generate.common import DATA_PVC, DATABASE, DATABASE_PVC
from gitops_gen.generate.overlay import remote_key


def left_in_cluster(config: EstateConfig, tenant: Tenant, cluster: Cluster) -> tuple[list[str], list[str]]:
    """What a purged placement leaves in its cluster (protected from pruning), and the manual steps to
    delete it after a backup, in order."""
    ctx = f"--context {cluster.name}"
    ns = tenant.namespace
    claims = [DATA_PVC] + ([DATABASE_PVC] if tenant.database.mode == "in-cluster" else [])
    left = [f"Namespace {ns}"] + [f"PersistentVolumeClaim {ns}/{c}" for c in claims]
    if tenant.database.mode == "in-cluster":
        left.append(f"StatefulSet {ns}/{DATABASE} (0 replicas since the drain)")
    left.append(f"NetworkPolicies in {ns}" + (" (until the Application below is deleted)"
                                                 if cluster.controller == "argocd" else
                                                 " (until Flux prunes the tenant's Kustomization)"))
    if config.secrets_mode == "external-secrets":
        left.append(f"secret store key {remote_key(config, tenant, cluster)} ({config.secret_store_kind} "
                    f"{config.secret_store_name})")
    app = f"{tenant.name}-{cluster.name}"
    if cluster.controller == "argocd":
        left.append(f"Argo CD Application {config.argocd_namespace}/{app} (applicationsSync create-update "
                    "never deletes it; it now points at a path that no longer exists)")
    steps = []
    if tenant.database.mode == "in-cluster":
        steps.append(f"back up the database: restore-test a full backup of the WFGEN database from "
                     f"{ns}/{DATABASE_PVC} (SQL Server BACKUP DATABASE) before anything is deleted")
    else:
        steps.append("the external database is not in the cluster: back it up and drop it on its server if no "
                     "other placement of the tenant uses it")
    steps.append(f"back up C:\\wfgen\\data: the volume of {ns}/{DATA_PVC}")
    if tenant.database.mode == "in-cluster":
        steps.append(f"kubectl {ctx} -n {ns} delete statefulset {DATABASE}")
    steps.append(f"kubectl {ctx} -n {ns} delete pvc {' '.join(claims)}")
    if cluster.controller == "argocd":
        steps.append(f"kubectl {ctx} -n {config.argocd_namespace} delete application {app} (after the claims: "
                     "its finalizer deletes what it still manages)")
    steps.append(f"kubectl {ctx} delete namespace {ns}")
    if config.secrets_mode == "external-secrets":
        steps.append(f"delete the key {remote_key(config, tenant, cluster)} from the secret store")
    return left, steps
