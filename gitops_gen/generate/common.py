"""Names, labels and annotations shared by the base, the overlays and the checks."""

from __future__ import annotations

from typing import Any

PART_OF = "workflowgen"
LABEL_COMPONENT = "app.kubernetes.io/component"
LABEL_PART_OF = "app.kubernetes.io/part-of"
LABEL_NAME = "app.kubernetes.io/name"
LABEL_MANAGED_BY = "app.kubernetes.io/managed-by"
LABEL_TENANT = "gitops-gen.io/tenant"
LABEL_CLUSTER = "gitops-gen.io/cluster"
LABEL_REGION = "gitops-gen.io/region"

WEB = "workflowgen-web"
WIN_SERVICES = "workflowgen-win-services"
DATABASE = "workflowgen-database"
CONFIG_MAP = "workflowgen-config"
DATA_PVC = "workflowgen-data"
#: The database's volume: the name a volumeClaimTemplate 'data' of the StatefulSet would give its claim.
DATABASE_PVC = "data-workflowgen-database-0"
INGRESS = "workflowgen"
TLS_SECRET = "workflowgen-tls"
#: Secrets the pods mount; supplied by External Secrets or pre-provisioned, never written to git.
APP_SECRET = "workflowgen-app"
LICENSE_SECRET = "workflowgen-license"
DATABASE_SECRET = "workflowgen-database"
LICENSE_FILE = "WorkflowGen.lic"

APP_SECRET_KEYS = (
    "WFGEN_DATABASE_CONNECTION_STRING",
    "WFGEN_APP_SETTING_ApplicationSecurityPasswordSymmetricEncryptionKey",
    "WFGEN_MACHINE_KEY_VALIDATION_KEY",
    "WFGEN_MACHINE_KEY_DECRYPTION_KEY",
)
#: Keys of the app Secret read only by some tenants: an OpenID Connect client secret, a licence serial number.
CLIENT_SECRET_KEY = "WFGEN_APP_SETTING_ApplicationSecurityAuthClientSecret"
SERIAL_NUMBER_KEY = "WFGEN_APP_SETTING_ApplicationSerialNumber"
DATABASE_SECRET_KEYS = (
    "SA_PASSWORD",
    "WFGEN_DATABASE_USER_USERNAME",
    "WFGEN_DATABASE_USER_PASSWORD",
    "WFGEN_ADMIN_PASSWORD",
)

#: Protect data from both controllers' pruning and from deletion with the Application.
PROTECT_ANNOTATIONS = {
    "argocd.argoproj.io/sync-options": "Prune=false,Delete=false",
    "kustomize.toolkit.fluxcd.io/prune": "disabled",
}

#: Kinds every tenant overlay renders, as (API group, kind); the AppProject allow lists come from these.
OVERLAY_NAMESPACED_KINDS: tuple[tuple[str, str], ...] = (
    ("", "ConfigMap"), ("", "LimitRange"), ("", "PersistentVolumeClaim"), ("", "ResourceQuota"),
    ("", "Service"), ("", "ServiceAccount"), ("apps", "Deployment"),
    ("networking.k8s.io", "Ingress"), ("networking.k8s.io", "NetworkPolicy"),
)
#: Only for tenants with several web replicas.
PDB_KINDS: tuple[tuple[str, str], ...] = (("policy", "PodDisruptionBudget"),)
#: Only with a per-tenant SecretStore (secrets.store.kind: SecretStore with a spec).
SECRET_STORE_KINDS: tuple[tuple[str, str], ...] = (("external-secrets.io", "SecretStore"),)
OVERLAY_CLUSTER_KINDS: tuple[tuple[str, str], ...] = (("", "Namespace"),)
IN_CLUSTER_DATABASE_KINDS: tuple[tuple[str, str], ...] = (("apps", "StatefulSet"),)
EXTERNAL_SECRETS_KINDS: tuple[tuple[str, str], ...] = (("external-secrets.io", "ExternalSecret"),)


def component_labels(component: str) -> dict[str, str]:
    return {LABEL_NAME: "workflowgen", LABEL_COMPONENT: component, LABEL_PART_OF: PART_OF}


def meta(name: str, labels: dict[str, str] | None = None,
         annotations: dict[str, str] | None = None) -> dict[str, Any]:
    m: dict[str, Any] = {"name": name}
    if labels:
        m["labels"] = dict(labels)
    if annotations:
        m["annotations"] = dict(annotations)
    return m
