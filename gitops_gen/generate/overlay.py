"""One tenant's overlay on one cluster: the base, the components it picks, and its values."""

from __future__ import annotations

from typing import Any

from gitops_gen import yamlio
from gitops_gen.estate import layout
from gitops_gen.estate.model import Cluster, EstateConfig, Tenant
from gitops_gen.generate import header
from gitops_gen.generate.base import (
    DATABASE_COMPONENT,
    OIDC_COMPONENT,
    network_policy,
    oidc_needed,
    size_component,
    windows_component,
)
from gitops_gen.generate.common import (
    APP_SECRET,
    APP_SECRET_KEYS,
    CONFIG_MAP,
    DATABASE_SECRET,
    DATABASE_SECRET_KEYS,
    INGRESS,
    LABEL_CLUSTER,
    LABEL_COMPONENT,
    LABEL_MANAGED_BY,
    LABEL_PART_OF,
    LABEL_REGION,
    LABEL_TENANT,
    LICENSE_FILE,
    LICENSE_SECRET,
    PART_OF,
    TLS_SECRET,
    WEB,
    meta,
)

UP = "../../.."


def placement_hosts(tenant: Tenant, cluster: Cluster) -> list[str]:
    """Hosts the placement's Ingress answers: the global hosts it serves, then its regional host."""
    return [*tenant.global_hosts_of(cluster.name), cluster.regional_host(tenant.name)]


def application_url(tenant: Tenant, cluster: Cluster) -> str:
    return f"https://{placement_hosts(tenant, cluster)[0]}/wfgen"


def ingress(config: EstateConfig, tenant: Tenant, cluster: Cluster) -> dict[str, Any]:
    hosts = placement_hosts(tenant, cluster)
    annotations = {
        ("cert-manager.io/cluster-issuer" if config.issuer_kind == "ClusterIssuer" else "cert-manager.io/issuer"):
            config.issuer,
        **config.ingress_annotations,
        # ExternalDNS publishes exactly the hosts this placement serves.
        "external-dns.alpha.kubernetes.io/hostname": ",".join(hosts),
    }
    backend = {"service": {"name": WEB, "port": {"name": "http"}}}
    return {
        "apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
        "metadata": meta(INGRESS, {LABEL_PART_OF: PART_OF, LABEL_COMPONENT: "web"}, annotations),
        "spec": {
            "ingressClassName": config.ingress_class,
            "tls": [{"hosts": hosts, "secretName": TLS_SECRET}],
            "rules": [{"host": h, "http": {"paths": [{"path": "/", "pathType": "Prefix", "backend": backend}]}}
                      for h in hosts],
        },
    }


def remote_key(config: EstateConfig, tenant: Tenant) -> str:
    return tenant.secret_key or f"{config.secret_key_prefix}/{tenant.name}"


def _external_secret(config: EstateConfig, name: str, key: str, data: list[dict[str, Any]],
                     template: dict[str, Any] | None = None) -> dict[str, Any]:
    target: dict[str, Any] = {"name": name, "creationPolicy": "Owner", "deletionPolicy": "Retain"}
    if template:
        target["template"] = template
    return {
        "apiVersion": "external-secrets.io/v1", "kind": "ExternalSecret",
        "metadata": meta(name, {LABEL_PART_OF: PART_OF}),
        "spec": {
            "refreshInterval": "1h",
            "secretStoreRef": {"kind": config.secret_store_kind, "name": config.secret_store_name},
            "target": target,
            "data": data,
        },
    }


def external_secrets(config: EstateConfig, tenant: Tenant) -> list[dict[str, Any]]:
    """References to the tenant's secrets in the external store; the values never touch git."""
    key = remote_key(config, tenant)

    def ref(secret_key: str, prop: str) -> dict[str, Any]:
        return {"secretKey": secret_key, "remoteRef": {"key": key, "property": prop}}

    docs = [
        _external_secret(config, APP_SECRET, key, [ref(k, k) for k in APP_SECRET_KEYS]),
        _external_secret(config, LICENSE_SECRET, key, [ref(LICENSE_FILE, "license")]),
    ]
    if tenant.database.mode == "in-cluster":
        docs.append(_external_secret(config, DATABASE_SECRET, key, [ref(k, k) for k in DATABASE_SECRET_KEYS]))
    return docs


def external_database_egress(tenant: Tenant) -> dict[str, Any]:
    return network_policy("workflowgen-to-external-database", {
        "podSelector": {"matchLabels": {LABEL_PART_OF: PART_OF},
                        "matchExpressions": [{"key": LABEL_COMPONENT, "operator": "In",
                                              "values": ["web", "win-services"]}]},
        "policyTypes": ["Egress"],
        "egress": [{"to": [{"ipBlock": {"cidr": c}} for c in tenant.database.cidrs],
                    "ports": [{"protocol": "TCP", "port": tenant.database.port}]}],
    })


def overlay_files(config: EstateConfig, tenant: Tenant, cluster: Cluster) -> dict[str, str]:
    d = layout.overlay_dir(tenant.name, cluster.name)
    src = header(layout.tenant_file(tenant.name))
    resources = [f"{UP}/base", "ingress.yaml"]
    files = {f"{d}/ingress.yaml": yamlio.dump(ingress(config, tenant, cluster), src)}
    if config.secrets_mode == "external-secrets":
        resources.append("external-secrets.yaml")
        files[f"{d}/external-secrets.yaml"] = yamlio.dump_docs(external_secrets(config, tenant), src)
    if tenant.database.mode == "external":
        resources.append("database-egress.yaml")
        files[f"{d}/database-egress.yaml"] = yamlio.dump(external_database_egress(tenant), src)
    components = [f"{UP}/base/components/{windows_component(cluster.windows_build)}"]
    if tenant.database.mode == "in-cluster":
        components.append(f"{UP}/base/components/{DATABASE_COMPONENT}")
    if oidc_needed(tenant.auth):
        components.append(f"{UP}/base/components/{OIDC_COMPONENT}")
    components.append(f"{UP}/base/components/{size_component(tenant.size)}")
    replicas = [{"op": "replace", "path": "/spec/replicas", "value": tenant.web_replicas}]
    kustomization = {
        "apiVersion": "kustomize.config.k8s.io/v1beta1", "kind": "Kustomization",
        "namespace": tenant.namespace,
        "resources": resources,
        "components": components,
        "labels": [{
            "pairs": {LABEL_TENANT: tenant.name, LABEL_CLUSTER: cluster.name, LABEL_REGION: cluster.region,
                      LABEL_MANAGED_BY: "gitops-gen"},
            "includeTemplates": True,
        }],
        "configMapGenerator": [{
            "name": CONFIG_MAP, "behavior": "merge",
            "literals": [f"WFGEN_APP_SETTING_ApplicationUrl={application_url(tenant, cluster)}",
                         f"WFGEN_AUTH_MODE={tenant.auth}"],
        }],
        "patches": [{"target": {"kind": "Deployment", "name": WEB}, "patch": yamlio.dump(replicas)}],
    }
    files[f"{d}/kustomization.yaml"] = yamlio.dump(kustomization, src)
    return files
