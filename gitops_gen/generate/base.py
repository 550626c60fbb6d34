"""The WorkflowGen Kustomize base and its components, derived from gitops-gen.yaml.

The base holds everything every tenant has; components hold the objects a variant adds (the
in-cluster database, the OIDC egress policy, the size tier's LimitRange, and the Namespace for Argo CD
placements). Overlays add only values: the values a placement gives the two WorkflowGen Deployments
(the Windows build's image tag and node selector, size, replicas, the secrets its auth mode and licence
read) are one JSON patch per Deployment in the overlay (``overlay.workload_patches``), because kustomize converts a
whole object to JSON and back for every patch it applies: one patch instead of four or five per
Deployment halves what a build costs (README, validate and diff). A change here is a change for every
tenant and shows as such in a diff.

Day-2 rule: nothing here may change later in a field the API server treats as immutable on an object
already applied. So the database StatefulSet has no volumeClaimTemplates (their size, labels and
annotations could never change): it mounts a PersistentVolumeClaim of its own, which can grow.
"""

from __future__ import annotations

from typing import Any

from gitops_gen import yamlio
from gitops_gen.estate import layout
from gitops_gen.estate.model import OIDC_AUTH_MODES, SIZE_TIERS, WINDOWS_BUILDS, EstateConfig, SizeTier
from gitops_gen.generate import header
from gitops_gen.generate.common import (
    APP_SECRET,
    APP_SECRET_KEYS,
    CONFIG_MAP,
    DATA_PVC,
    DATABASE,
    DATABASE_PVC,
    DATABASE_SECRET,
    DATABASE_SECRET_KEYS,
    LABEL_COMPONENT,
    LABEL_PART_OF,
    LICENSE_FILE,
    LICENSE_SECRET,
    PART_OF,
    PROTECT_ANNOTATIONS,
    WEB,
    WIN_SERVICES,
    component_labels,
    meta,
)
from gitops_gen.generate.quantity import parse_quantity

WFG_IMAGE = "advantys/workflowgen"
SECRETS_DIR = "C:\\secrets"
DB_SECRETS_DIR = "/mnt/secrets"
WORKFLOWGEN_PODS = {"key": LABEL_COMPONENT, "operator": "In", "values": ["web", "win-services"]}
#: Common taint on Windows node pools (Kubernetes "Windows containers" guide).
WINDOWS_TOLERATIONS = [{"key": "os", "operator": "Equal", "value": "windows", "effect": "NoSchedule"}]
#: SQL Server 2019 and later images run as mssql, uid 10001, and cannot write a root-owned volume
#: (microsoft/mssql-docker#615; the image's sample charts set fsGroup 10001).
MSSQL_UID = 10001
#: cert-manager's HTTP-01 solver: its pod label and port (cert-manager pkg/apis/acme/v1/types.go
#: SolverIdentificationLabelKey; pkg/issuer/acme/http/http.go acmeSolverListenPort).
ACME_SOLVER_LABEL = "acme.cert-manager.io/http01-solver"
ACME_SOLVER_PORT = 8089
ZONE_KEY = "topology.kubernetes.io/zone"
#: The image's start-up check of the database: 10 tries a second apart by default (docker-entrypoint.ps1,
#: WFGEN_DEPENDENCY_CHECK_RETRIES and _INTERVAL). A fresh in-cluster SQL Server takes longer than that to
#: accept logins: 60 tries 5 s apart give it five minutes before the pod restarts.
DEPENDENCY_CHECK = {"WFGEN_DEPENDENCY_CHECK_RETRIES": "60", "WFGEN_DEPENDENCY_CHECK_INTERVAL": "5000"}
#: Ready only when IIS serves WorkflowGen, not as soon as port 80 opens: the entrypoint checks the database,
#: rewrites web.config and copies the licence after IIS listens. /wfgen answers 401 when it is up, which an
#: httpGet probe counts as a failure, so the probe asks the way the image's own healthcheck.ps1 does.
READINESS_COMMAND = [
    "powershell", "-NoLogo", "-NoProfile", "-NonInteractive", "-Command",
    "try { Invoke-WebRequest -Uri http://localhost/wfgen -UseBasicParsing -TimeoutSec 10 | Out-Null; exit 1 } "
    "catch { if ($_.Exception.Response.StatusCode.value__ -eq 401) { exit 0 } else { exit 1 } }",
]


def _kustomization(**fields: Any) -> dict[str, Any]:
    return {"apiVersion": "kustomize.config.k8s.io/v1beta1", "kind": "Kustomization", **fields}


def _component(**fields: Any) -> dict[str, Any]:
    return {"apiVersion": "kustomize.config.k8s.io/v1alpha1", "kind": "Component", **fields}


POD_SECURITY_LABELS = {
    "pod-security.kubernetes.io/enforce": "baseline",
    "pod-security.kubernetes.io/audit": "baseline",
    "pod-security.kubernetes.io/warn": "baseline",
}


def namespace(name: str = "workflowgen", labels: dict[str, str] | None = None) -> dict[str, Any]:
    # In the base, kustomize's namespace transformer renames it to the tenant's namespace.
    return {"apiVersion": "v1", "kind": "Namespace",
            "metadata": meta(name, {**POD_SECURITY_LABELS, **(labels or {})}, PROTECT_ANNOTATIONS)}


def service_account(name: str, component: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": meta(name, component_labels(component)),
            "automountServiceAccountToken": False}


def secret_file_env(key: str) -> dict[str, str]:
    """X_FILE makes the image read X from the mounted Secret: no secret value in env or git."""
    return {"name": f"{key}_FILE", "value": f"{SECRETS_DIR}\\{key}"}


def _workflowgen_env(start_service: str, secret_keys: tuple[str, ...]) -> list[dict[str, Any]]:
    env: list[dict[str, Any]] = [{"name": "WFGEN_START_SERVICE", "value": start_service}]
    env += [secret_file_env(key) for key in secret_keys]
    return env


def _workflowgen_pod(config: EstateConfig, component: str, sa: str, start_service: str,
                     secret_keys: tuple[str, ...], probes: bool) -> dict[str, Any]:
    container: dict[str, Any] = {
        "name": "workflowgen",
        # A full OS-suffixed tag even here; the overlay's patch sets the cluster's build (windows_ops).
        "image": f"{WFG_IMAGE}:{config.image_tag('ltsc2019')}",
        "imagePullPolicy": "IfNotPresent",
        "env": _workflowgen_env(start_service, secret_keys),
        "envFrom": [{"configMapRef": {"name": CONFIG_MAP}}],
        "volumeMounts": [
            {"name": "data", "mountPath": "C:\\wfgen\\data"},
            {"name": "licenses", "mountPath": "C:\\wfgen\\licenses", "readOnly": True},
            {"name": "secrets", "mountPath": SECRETS_DIR, "readOnly": True},
        ],
    }
    spec: dict[str, Any] = {
        "serviceAccountName": sa,
        "automountServiceAccountToken": False,
        # Windows pods: no Linux-only security fields, no runAsUserName (IIS runs as IIS_IUSRS).
        "os": {"name": "windows"},
        "nodeSelector": {"kubernetes.io/os": "windows"},
        "tolerations": WINDOWS_TOLERATIONS,
        "terminationGracePeriodSeconds": 60,
        "containers": [container],
        "volumes": [
            {"name": "data", "persistentVolumeClaim": {"claimName": DATA_PVC}},
            {"name": "licenses", "secret": {"secretName": LICENSE_SECRET}},
            {"name": "secrets", "secret": {"secretName": APP_SECRET}},
        ],
    }
    if probes:
        container["ports"] = [{"name": "http", "containerPort": 80, "protocol": "TCP"}]
        tcp = {"tcpSocket": {"port": "http"}}
        # Start-up and liveness only need IIS to listen (a Windows image's first start takes minutes).
        container["startupProbe"] = {**tcp, "periodSeconds": 10, "failureThreshold": 60}
        container["readinessProbe"] = {"exec": {"command": READINESS_COMMAND}, "periodSeconds": 15,
                                       "timeoutSeconds": 15, "failureThreshold": 3}
        container["livenessProbe"] = {**tcp, "periodSeconds": 20, "failureThreshold": 3}
        # Web pods of a tenant spread over zones where there are several; one zone still schedules them.
        spec["topologySpreadConstraints"] = [{
            "maxSkew": 1, "topologyKey": ZONE_KEY, "whenUnsatisfiable": "ScheduleAnyway",
            "labelSelector": {"matchLabels": {LABEL_PART_OF: PART_OF, LABEL_COMPONENT: component}},
        }]
    return {"metadata": {"labels": component_labels(component)}, "spec": spec}


#: maxSurge of the web rollout: quotas hold one web pod more than the replicas.
WEB_SURGE = 1


def web_deployment(config: EstateConfig) -> dict[str, Any]:
    labels = component_labels("web")
    return {
        "apiVersion": "apps/v1", "kind": "Deployment", "metadata": meta(WEB, labels),
        "spec": {
            "replicas": 2,
            "selector": {"matchLabels": {LABEL_PART_OF: PART_OF, LABEL_COMPONENT: "web"}},
            "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": WEB_SURGE, "maxUnavailable": 0}},
            "template": _workflowgen_pod(config, "web", WEB, "web_apps", APP_SECRET_KEYS, probes=True),
        },
    }


#: The Windows Services share no web session, so they need no machine keys.
_APP_KEYS_SERVICES = APP_SECRET_KEYS[:2]


def win_services_deployment(config: EstateConfig) -> dict[str, Any]:
    labels = component_labels("win-services")
    return {
        "apiVersion": "apps/v1", "kind": "Deployment", "metadata": meta(WIN_SERVICES, labels),
        "spec": {
            # The WorkflowGen Windows Services must run as exactly one instance.
            "replicas": 1,
            "selector": {"matchLabels": {LABEL_PART_OF: PART_OF, LABEL_COMPONENT: "win-services"}},
            "strategy": {"type": "Recreate"},
            "template": _workflowgen_pod(config, "win-services", WIN_SERVICES, "win_services", _APP_KEYS_SERVICES,
                                         probes=False),
        },
    }


def web_service() -> dict[str, Any]:
    return {
        "apiVersion": "v1", "kind": "Service", "metadata": meta(WEB, component_labels("web")),
        "spec": {
            "type": "ClusterIP",
            "selector": {LABEL_PART_OF: PART_OF, LABEL_COMPONENT: "web"},
            "ports": [{"name": "http", "port": 80, "targetPort": "http", "protocol": "TCP"}],
        },
    }


def data_pvc() -> dict[str, Any]:
    # Size and storage class are the overlay's: the cluster's ReadWriteMany class, the tenant's size.
    spec: dict[str, Any] = {"accessModes": ["ReadWriteMany"], "resources": {"requests": {"storage": "10Gi"}}}
    return {"apiVersion": "v1", "kind": "PersistentVolumeClaim",
            "metadata": meta(DATA_PVC, component_labels("data"), PROTECT_ANNOTATIONS), "spec": spec}


def network_policy(name: str, spec: dict[str, Any]) -> dict[str, Any]:
    return {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
            "metadata": meta(name, {LABEL_PART_OF: PART_OF}), "spec": spec}


def _ns_selector(namespace: str) -> dict[str, Any]:
    return {"matchLabels": {"kubernetes.io/metadata.name": namespace}}


def network_policies(config: EstateConfig) -> list[dict[str, Any]]:
    policies = [
        network_policy("default-deny", {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}),
        network_policy("allow-dns-egress", {
            "podSelector": {},
            "policyTypes": ["Egress"],
            "egress": [{
                "to": [{"namespaceSelector": _ns_selector("kube-system"),
                        "podSelector": {"matchLabels": {"k8s-app": "kube-dns"}}}],
                "ports": [{"protocol": "UDP", "port": 53}, {"protocol": "TCP", "port": 53}],
            }],
        }),
        # Web pods answer only the ingress controller, never other pods of the cluster.
        network_policy("web-from-ingress-controller", {
            "podSelector": {"matchLabels": {LABEL_PART_OF: PART_OF, LABEL_COMPONENT: "web"}},
            "policyTypes": ["Ingress"],
            "ingress": [{
                "from": [{"namespaceSelector": _ns_selector(config.ingress_namespace)}],
                "ports": [{"protocol": "TCP", "port": 80}],
            }],
        }),
    ]
    if config.challenge == "http01":
        # cert-manager runs the HTTP-01 solver pod in the Certificate's namespace, the tenant's: the ingress
        # controller must reach it, or no certificate is ever issued behind default-deny.
        policies.append(network_policy("acme-http01-solver-from-ingress-controller", {
            "podSelector": {"matchLabels": {ACME_SOLVER_LABEL: "true"}},
            "policyTypes": ["Ingress"],
            "ingress": [{
                "from": [{"namespaceSelector": _ns_selector(config.ingress_namespace)}],
                "ports": [{"protocol": "TCP", "port": ACME_SOLVER_PORT}],
            }],
        }))
    return policies


def config_map_generator() -> list[dict[str, Any]]:
    return [{
        "name": CONFIG_MAP,
        "literals": [
            f"WFGEN_LICENSE_FILE_NAME={LICENSE_FILE}",
            # Never invent a new encryption key at start: the key comes from the tenant's Secret.
            "WFGEN_GEN_APP_SYM_ENCRYPT_KEY=N",
            *(f"{k}={v}" for k, v in DEPENDENCY_CHECK.items()),
        ],
    }]


def base_files(config: EstateConfig) -> dict[str, str]:
    src = header(layout.CONFIG_FILE)
    b = layout.BASE_DIR
    files: dict[str, str] = {
        f"{b}/kustomization.yaml": yamlio.dump(_kustomization(
            resources=["service-accounts.yaml", "web.yaml", "win-services.yaml", "data.yaml",
                       "network-policies.yaml"],
            configMapGenerator=config_map_generator(),
        ), src),
        f"{b}/service-accounts.yaml": yamlio.dump_docs(
            [service_account(WEB, "web"), service_account(WIN_SERVICES, "win-services")], src),
        f"{b}/web.yaml": yamlio.dump_docs([web_deployment(config), web_service()], src),
        f"{b}/win-services.yaml": yamlio.dump(win_services_deployment(config), src),
        f"{b}/data.yaml": yamlio.dump(data_pvc(), src),
        f"{b}/network-policies.yaml": yamlio.dump_docs(network_policies(config), src),
    }
    files.update(_namespace_component(src))
    files.update(_database_component(config, src))
    files.update(_oidc_component(src))
    for tier in SIZE_TIERS.values():
        files.update(_size_component(tier, src))
    return files


def component_path(name: str) -> str:
    return f"{layout.BASE_DIR}/components/{name}"


def size_component(size: str) -> str:
    return f"size-{size}"


NAMESPACE_COMPONENT = "namespace"
DATABASE_COMPONENT = "database-in-cluster"
OIDC_COMPONENT = "auth-oidc"


def _namespace_component(src: str) -> dict[str, str]:
    # Argo CD placements create their Namespace in the overlay (the AppProject allows that one
    # cluster-scoped kind); a Flux placement's comes from its platform Kustomization instead.
    d = component_path(NAMESPACE_COMPONENT)
    return {f"{d}/kustomization.yaml": yamlio.dump(_component(resources=["namespace.yaml"]), src),
            f"{d}/namespace.yaml": yamlio.dump(namespace(), src)}


def windows_ops(config: EstateConfig, build: str) -> list[dict[str, Any]]:
    """Patch operations that put a Deployment's pods on the cluster's Windows build: the tag's Windows
    build must match the node's."""
    return [{"op": "replace", "path": "/spec/template/spec/containers/0/image",
             "value": f"{WFG_IMAGE}:{config.image_tag(build)}"},
            {"op": "add", "path": "/spec/template/spec/nodeSelector/node.kubernetes.io~1windows-build",
             "value": WINDOWS_BUILDS[build]}]


#: Resources of the database container, counted by the quota.
DATABASE_REQUESTS = {"cpu": "500m", "memory": "2Gi"}
DATABASE_LIMITS = {"cpu": "2", "memory": "4Gi"}


def database_pvc() -> dict[str, Any]:
    # The name a volumeClaimTemplate 'data' of StatefulSet workflowgen-database would give its claim: an
    # estate made by an earlier gitops-gen keeps its database volume.
    return {"apiVersion": "v1", "kind": "PersistentVolumeClaim",
            "metadata": meta(DATABASE_PVC, component_labels("database"), PROTECT_ANNOTATIONS),
            "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "20Gi"}}}}


def _database_component(config: EstateConfig, src: str) -> dict[str, str]:
    d = component_path(DATABASE_COMPONENT)
    labels = component_labels("database")
    sts = {
        "apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": meta(DATABASE, labels, PROTECT_ANNOTATIONS),
        "spec": {
            "serviceName": DATABASE,
            "replicas": 1,
            "selector": {"matchLabels": {LABEL_PART_OF: PART_OF, LABEL_COMPONENT: "database"}},
            "template": {
                "metadata": {"labels": labels},
                "spec": {
                    "serviceAccountName": DATABASE,
                    "automountServiceAccountToken": False,
                    "nodeSelector": {"kubernetes.io/os": "linux"},
                    # Pod Security baseline allows fsGroup; mssql can then write its volume.
                    "securityContext": {"seccompProfile": {"type": "RuntimeDefault"}, "fsGroup": MSSQL_UID,
                                        "fsGroupChangePolicy": "OnRootMismatch"},
                    "terminationGracePeriodSeconds": 60,
                    "containers": [{
                        "name": "database",
                        "image": f"{config.database_image}:{config.database_tag}",
                        "imagePullPolicy": "IfNotPresent",
                        "env": [{"name": "ACCEPT_EULA", "value": "Y"}] + [
                            {"name": f"{k}_FILE", "value": f"{DB_SECRETS_DIR}/{k}"} for k in DATABASE_SECRET_KEYS
                        ],
                        "ports": [{"name": "sql", "containerPort": 1433, "protocol": "TCP"}],
                        "readinessProbe": {"tcpSocket": {"port": "sql"}, "periodSeconds": 10},
                        "livenessProbe": {"tcpSocket": {"port": "sql"}, "periodSeconds": 20,
                                          "initialDelaySeconds": 60},
                        "securityContext": {"allowPrivilegeEscalation": False},
                        "resources": {"requests": dict(DATABASE_REQUESTS), "limits": dict(DATABASE_LIMITS)},
                        "volumeMounts": [{"name": "data", "mountPath": "/var/opt/mssql"},
                                         {"name": "secrets", "mountPath": DB_SECRETS_DIR, "readOnly": True}],
                    }],
                    "volumes": [{"name": "data", "persistentVolumeClaim": {"claimName": DATABASE_PVC}},
                                {"name": "secrets", "secret": {"secretName": DATABASE_SECRET}}],
                },
            },
        },
    }
    svc = {
        "apiVersion": "v1", "kind": "Service", "metadata": meta(DATABASE, labels),
        "spec": {"clusterIP": "None", "selector": {LABEL_PART_OF: PART_OF, LABEL_COMPONENT: "database"},
                 "ports": [{"name": "sql", "port": 1433, "targetPort": "sql", "protocol": "TCP"}]},
    }
    db_pods = {"matchLabels": {LABEL_PART_OF: PART_OF, LABEL_COMPONENT: "database"}}
    wfg_pods = {"matchLabels": {LABEL_PART_OF: PART_OF}, "matchExpressions": [WORKFLOWGEN_PODS]}
    policies = [
        network_policy("database-from-workflowgen", {
            "podSelector": db_pods, "policyTypes": ["Ingress"],
            "ingress": [{"from": [{"podSelector": wfg_pods}], "ports": [{"protocol": "TCP", "port": 1433}]}],
        }),
        network_policy("workflowgen-to-database", {
            "podSelector": wfg_pods, "policyTypes": ["Egress"],
            "egress": [{"to": [{"podSelector": db_pods}], "ports": [{"protocol": "TCP", "port": 1433}]}],
        }),
    ]
    return {
        f"{d}/kustomization.yaml": yamlio.dump(_component(resources=["database.yaml"]), src),
        f"{d}/database.yaml": yamlio.dump_docs(
            [service_account(DATABASE, "database"), database_pvc(), sts, svc, *policies], src),
    }


def env_ops(env: list[dict[str, str]]) -> list[dict[str, Any]]:
    return [{"op": "add", "path": "/spec/template/spec/containers/0/env/-", "value": e} for e in env]


def _oidc_component(src: str) -> dict[str, str]:
    d = component_path(OIDC_COMPONENT)
    policy = network_policy("web-to-identity-provider", {
        "podSelector": {"matchLabels": {LABEL_PART_OF: PART_OF, LABEL_COMPONENT: "web"}},
        "policyTypes": ["Egress"],
        # The identity provider is on the internet: HTTPS only, never the cluster's private ranges.
        "egress": [{
            "to": [{"ipBlock": {"cidr": "0.0.0.0/0", "except": ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16",
                                                                "169.254.0.0/16", "100.64.0.0/10"]}}],
            "ports": [{"protocol": "TCP", "port": 443}],
        }],
    })
    return {
        f"{d}/kustomization.yaml": yamlio.dump(_component(resources=["network-policy.yaml"]), src),
        f"{d}/network-policy.yaml": yamlio.dump(policy, src),
    }


def oidc_needed(auth: str) -> bool:
    return auth in OIDC_AUTH_MODES


def _size_component(tier: SizeTier, src: str) -> dict[str, str]:
    # The quota depends on the tenant's replicas, so each overlay writes its own (overlay.tenant_quota); the
    # container resources are the overlay's patch (size_ops).
    d = component_path(size_component(tier.name))
    limit_range = {
        "apiVersion": "v1", "kind": "LimitRange", "metadata": meta("workflowgen", {LABEL_PART_OF: PART_OF}),
        "spec": {"limits": [{
            "type": "Container",
            "default": {"cpu": tier.web_cpu_limit, "memory": tier.web_memory_limit},
            "defaultRequest": {"cpu": tier.web_cpu, "memory": tier.web_memory},
            "max": {"cpu": _max_quantity(tier.web_cpu_limit, DATABASE_LIMITS["cpu"]),
                    "memory": _max_quantity(tier.web_memory_limit, DATABASE_LIMITS["memory"])},
        }]},
    }
    return {
        f"{d}/kustomization.yaml": yamlio.dump(_component(resources=["limit-range.yaml"]), src),
        f"{d}/limit-range.yaml": yamlio.dump(limit_range, src),
    }


def size_ops(tier: SizeTier) -> list[dict[str, Any]]:
    """The tier's container resources, the same for web and Windows Services pods."""
    resources = {"requests": {"cpu": tier.web_cpu, "memory": tier.web_memory},
                 "limits": {"cpu": tier.web_cpu_limit, "memory": tier.web_memory_limit}}
    return [{"op": "add", "path": "/spec/template/spec/containers/0/resources", "value": resources}]


def _max_quantity(a: str, b: str) -> str:
    return a if parse_quantity(a) >= parse_quantity(b) else b
