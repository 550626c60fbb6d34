"""The WorkflowGen Kustomize base and its components, derived from gitops-gen.yaml.

The base holds everything every tenant has; components hold the variants a tenant or its
cluster picks (Windows build, in-cluster database, OIDC egress, size tier). Overlays add only
values, so a change here is a change for every tenant and shows as such in a diff.
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

WFG_IMAGE = "advantys/workflowgen"
SECRETS_DIR = "C:\\secrets"
DB_SECRETS_DIR = "/mnt/secrets"
WORKFLOWGEN_PODS = {"key": LABEL_COMPONENT, "operator": "In", "values": ["web", "win-services"]}
#: Common taint on Windows node pools (Kubernetes "Windows containers" guide).
WINDOWS_TOLERATIONS = [{"key": "os", "operator": "Equal", "value": "windows", "effect": "NoSchedule"}]


def _kustomization(**fields: Any) -> dict[str, Any]:
    return {"apiVersion": "kustomize.config.k8s.io/v1beta1", "kind": "Kustomization", **fields}


def _component(**fields: Any) -> dict[str, Any]:
    return {"apiVersion": "kustomize.config.k8s.io/v1alpha1", "kind": "Component", **fields}


def namespace() -> dict[str, Any]:
    # kustomize's namespace transformer renames it to the tenant's namespace.
    return {
        "apiVersion": "v1", "kind": "Namespace",
        "metadata": meta("workflowgen", {
            "pod-security.kubernetes.io/enforce": "baseline",
            "pod-security.kubernetes.io/audit": "baseline",
            "pod-security.kubernetes.io/warn": "baseline",
        }, PROTECT_ANNOTATIONS),
    }


def service_account(name: str, component: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": meta(name, component_labels(component)),
            "automountServiceAccountToken": False}


def _workflowgen_env(start_service: str, secret_keys: tuple[str, ...]) -> list[dict[str, Any]]:
    env: list[dict[str, Any]] = [{"name": "WFGEN_START_SERVICE", "value": start_service}]
    # X_FILE makes the image read X from the mounted Secret: no secret value in env or git.
    env += [{"name": f"{key}_FILE", "value": f"{SECRETS_DIR}\\{key}"} for key in secret_keys]
    return env


def _workflowgen_pod(config: EstateConfig, component: str, sa: str, start_service: str,
                     secret_keys: tuple[str, ...], probes: bool) -> dict[str, Any]:
    container: dict[str, Any] = {
        "name": "workflowgen",
        # A full OS-suffixed tag even here; the cluster's windows-<build> component sets the real one.
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
    if probes:
        container["ports"] = [{"name": "http", "containerPort": 80, "protocol": "TCP"}]
        # /wfgen answers 401 when healthy, so an httpGet probe would fail: probe the socket.
        tcp = {"tcpSocket": {"port": "http"}}
        container["startupProbe"] = {**tcp, "periodSeconds": 10, "failureThreshold": 60}
        container["readinessProbe"] = {**tcp, "periodSeconds": 10, "failureThreshold": 3}
        container["livenessProbe"] = {**tcp, "periodSeconds": 20, "failureThreshold": 3}
    return {
        "metadata": {"labels": component_labels(component)},
        "spec": {
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
        },
    }


def web_deployment(config: EstateConfig) -> dict[str, Any]:
    labels = component_labels("web")
    return {
        "apiVersion": "apps/v1", "kind": "Deployment", "metadata": meta(WEB, labels),
        "spec": {
            "replicas": 2,
            "selector": {"matchLabels": {LABEL_PART_OF: PART_OF, LABEL_COMPONENT: "web"}},
            "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}},
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


def data_pvc(config: EstateConfig) -> dict[str, Any]:
    spec: dict[str, Any] = {"accessModes": ["ReadWriteMany"], "resources": {"requests": {"storage": "10Gi"}}}
    if config.data_storage_class:
        spec["storageClassName"] = config.data_storage_class
    return {"apiVersion": "v1", "kind": "PersistentVolumeClaim",
            "metadata": meta(DATA_PVC, component_labels("data"), PROTECT_ANNOTATIONS), "spec": spec}


def network_policy(name: str, spec: dict[str, Any]) -> dict[str, Any]:
    return {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
            "metadata": meta(name, {LABEL_PART_OF: PART_OF}), "spec": spec}


def _ns_selector(namespace: str) -> dict[str, Any]:
    return {"matchLabels": {"kubernetes.io/metadata.name": namespace}}


def network_policies(config: EstateConfig) -> list[dict[str, Any]]:
    return [
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


def config_map_generator() -> list[dict[str, Any]]:
    return [{
        "name": CONFIG_MAP,
        "literals": [
            f"WFGEN_LICENSE_FILE_NAME={LICENSE_FILE}",
            # Never invent a new encryption key at start: the key comes from the tenant's Secret.
            "WFGEN_GEN_APP_SYM_ENCRYPT_KEY=N",
        ],
    }]


def base_files(config: EstateConfig) -> dict[str, str]:
    src = header(layout.CONFIG_FILE)
    b = layout.BASE_DIR
    files: dict[str, str] = {
        f"{b}/kustomization.yaml": yamlio.dump(_kustomization(
            resources=["namespace.yaml", "service-accounts.yaml", "web.yaml", "win-services.yaml",
                       "data.yaml", "network-policies.yaml"],
            configMapGenerator=config_map_generator(),
        ), src),
        f"{b}/namespace.yaml": yamlio.dump(namespace(), src),
        f"{b}/service-accounts.yaml": yamlio.dump_docs(
            [service_account(WEB, "web"), service_account(WIN_SERVICES, "win-services")], src),
        f"{b}/web.yaml": yamlio.dump_docs([web_deployment(config), web_service()], src),
        f"{b}/win-services.yaml": yamlio.dump(win_services_deployment(config), src),
        f"{b}/data.yaml": yamlio.dump(data_pvc(config), src),
        f"{b}/network-policies.yaml": yamlio.dump_docs(network_policies(config), src),
    }
    for build in WINDOWS_BUILDS:
        files.update(_windows_component(config, build, src))
    files.update(_database_component(config, src))
    files.update(_oidc_component(src))
    for tier in SIZE_TIERS.values():
        files.update(_size_component(tier, src))
    return files


def component_path(name: str) -> str:
    return f"{layout.BASE_DIR}/components/{name}"


def windows_component(build: str) -> str:
    return f"windows-{build}"


def size_component(size: str) -> str:
    return f"size-{size}"


DATABASE_COMPONENT = "database-in-cluster"
OIDC_COMPONENT = "auth-oidc-egress"


def _windows_component(config: EstateConfig, build: str, src: str) -> dict[str, str]:
    d = component_path(windows_component(build))
    node_patch = [{"op": "add", "path": "/spec/template/spec/nodeSelector/node.kubernetes.io~1windows-build",
                   "value": WINDOWS_BUILDS[build]}]
    patches = [{"target": {"kind": "Deployment", "name": name}, "patch": yamlio.dump(node_patch)}
               for name in (WEB, WIN_SERVICES)]
    return {f"{d}/kustomization.yaml": yamlio.dump(_component(
        # The tag's Windows build must match the node's, so the cluster's build picks the tag.
        images=[{"name": WFG_IMAGE, "newTag": config.image_tag(build)}],
        patches=patches,
    ), src)}


def _database_component(config: EstateConfig, src: str) -> dict[str, str]:
    d = component_path(DATABASE_COMPONENT)
    labels = component_labels("database")
    sts_spec: dict[str, Any] = {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "20Gi"}}}
    if config.database_storage_class:
        sts_spec["storageClassName"] = config.database_storage_class
    sts = {
        "apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": meta(DATABASE, labels, PROTECT_ANNOTATIONS),
        "spec": {
            "serviceName": DATABASE,
            "replicas": 1,
            "selector": {"matchLabels": {LABEL_PART_OF: PART_OF, LABEL_COMPONENT: "database"}},
            "persistentVolumeClaimRetentionPolicy": {"whenDeleted": "Retain", "whenScaled": "Retain"},
            "template": {
                "metadata": {"labels": labels},
                "spec": {
                    "serviceAccountName": DATABASE,
                    "automountServiceAccountToken": False,
                    "nodeSelector": {"kubernetes.io/os": "linux"},
                    "securityContext": {"seccompProfile": {"type": "RuntimeDefault"}},
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
                        "resources": {"requests": {"cpu": "500m", "memory": "2Gi"},
                                      "limits": {"cpu": "2", "memory": "4Gi"}},
                        "volumeMounts": [{"name": "data", "mountPath": "/var/opt/mssql"},
                                         {"name": "secrets", "mountPath": DB_SECRETS_DIR, "readOnly": True}],
                    }],
                    "volumes": [{"name": "secrets", "secret": {"secretName": DATABASE_SECRET}}],
                },
            },
            "volumeClaimTemplates": [{
                "metadata": {"name": "data", "labels": labels, "annotations": dict(PROTECT_ANNOTATIONS)},
                "spec": sts_spec,
            }],
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
            [service_account(DATABASE, "database"), sts, svc, *policies], src),
    }


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
    d = component_path(size_component(tier.name))
    quota = {
        "apiVersion": "v1", "kind": "ResourceQuota", "metadata": meta("workflowgen", {LABEL_PART_OF: PART_OF}),
        "spec": {"hard": {**tier.quota, "services": "5",
                          # Public only through the Ingress: no LoadBalancer or NodePort Service.
                          "services.loadbalancers": "0", "services.nodeports": "0"}},
    }
    limit_range = {
        "apiVersion": "v1", "kind": "LimitRange", "metadata": meta("workflowgen", {LABEL_PART_OF: PART_OF}),
        "spec": {"limits": [{
            "type": "Container",
            "default": {"cpu": tier.web_cpu_limit, "memory": tier.web_memory_limit},
            "defaultRequest": {"cpu": tier.web_cpu, "memory": tier.web_memory},
            "max": {"cpu": tier.quota["limits.cpu"], "memory": tier.quota["limits.memory"]},
        }]},
    }
    resources = {"requests": {"cpu": tier.web_cpu, "memory": tier.web_memory},
                 "limits": {"cpu": tier.web_cpu_limit, "memory": tier.web_memory_limit}}
    res_patch = [{"op": "add", "path": "/spec/template/spec/containers/0/resources", "value": resources}]
    patches: list[dict[str, Any]] = [
        {"target": {"kind": "Deployment", "name": name}, "patch": yamlio.dump(res_patch)}
        for name in (WEB, WIN_SERVICES)
    ]
    patches.append({"target": {"kind": "PersistentVolumeClaim", "name": DATA_PVC},
                    "patch": yamlio.dump([{"op": "replace", "path": "/spec/resources/requests/storage",
                                           "value": tier.data_storage}])})
    # Matches nothing when the tenant's database is external.
    patches.append({"target": {"kind": "StatefulSet", "name": DATABASE},
                    "patch": yamlio.dump([{"op": "replace",
                                           "path": "/spec/volumeClaimTemplates/0/spec/resources/requests/storage",
                                           "value": tier.database_storage}])})
    return {
        f"{d}/kustomization.yaml": yamlio.dump(_component(resources=["quota.yaml"], patches=patches), src),
        f"{d}/quota.yaml": yamlio.dump_docs([quota, limit_range], src),
    }
