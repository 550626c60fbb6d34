"""One tenant's overlay on one cluster: the base, the components it picks, and its values."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from gitops_gen import yamlio
from gitops_gen.estate import layout
from gitops_gen.estate.model import SIZE_TIERS, Cluster, EgressRule, EstateConfig, Tenant
from gitops_gen.generate import header
from gitops_gen.generate.base import (
    DATABASE_COMPONENT,
    DATABASE_LIMITS,
    DATABASE_REQUESTS,
    NAMESPACE_COMPONENT,
    OIDC_COMPONENT,
    WEB_SURGE,
    WORKFLOWGEN_PODS,
    env_ops,
    network_policy,
    oidc_needed,
    secret_file_env,
    size_component,
    size_ops,
    windows_ops,
)
from gitops_gen.generate.common import (
    APP_SECRET,
    APP_SECRET_KEYS,
    CLIENT_SECRET_KEY,
    CONFIG_MAP,
    DATA_PVC,
    DATABASE,
    DATABASE_PVC,
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
    SERIAL_NUMBER_KEY,
    TLS_SECRET,
    WEB,
    WIN_SERVICES,
    meta,
)
from gitops_gen.generate.quantity import cpu, memory, parse_quantity

UP = "../../.."
#: Resources cert-manager gives its HTTP-01 solver pod (internal/apis/config/controller/v1alpha1/defaults.go).
SOLVER_REQUESTS = {"cpu": "10m", "memory": "64Mi"}
SOLVER_LIMITS = {"cpu": "100m", "memory": "64Mi"}


def placement_hosts(tenant: Tenant, cluster: Cluster) -> list[str]:
    """Hosts the placement's Ingress answers: the global hosts it serves, then its regional host."""
    return [*tenant.global_hosts_of(cluster.name), cluster.regional_host(tenant.name)]


def application_url(tenant: Tenant, cluster: Cluster) -> str:
    """The placement's ApplicationUrl: the one tenant.yaml records, else (a file written before it was
    recorded) the first host declared on the placement, whatever its state, so draining it changes nothing."""
    recorded = tenant.placement(cluster.name).application_url
    if recorded is not None:
        return recorded
    declared = [h.host for h in tenant.hosts if h.placement == cluster.name]
    return f"https://{[*declared, cluster.regional_host(tenant.name)][0]}/wfgen"


#: Kinds a retired placement's overlay drops ('$patch: delete'), so the controller prunes them: every kind
#: the base and the overlay render but the Namespace, the PersistentVolumeClaims, the database's
#: StatefulSet (protected from pruning like the claims, kept at 0 replicas), the NetworkPolicies and the
#: ResourceQuota (which keeps LoadBalancer and NodePort Services out of the namespace). validate's
#: LIFE003 checks the rendered result holds nothing else.
RETIRED_DROPS = ("Deployment", "Service", "ServiceAccount", "ConfigMap", "Secret", "ExternalSecret",
                 "SecretStore", "LimitRange", "PodDisruptionBudget", "Ingress")


def _replicas_patch(kind: str, name: str) -> dict[str, Any]:
    # 'add' sets the field whether or not the base has one (RFC 6902: add replaces an existing member).
    return {"target": {"kind": kind, "name": name},
            "patch": yamlio.dump([{"op": "add", "path": "/spec/replicas", "value": 0}])}


def _delete_patch(kind: str) -> dict[str, Any]:
    # A strategic-merge patch whose '$patch: delete' removes every object its target selects; the name
    # in the patch is not used when a target is given (kustomize api/filters/patchstrategicmerge).
    return {"target": {"kind": kind},
            "patch": yamlio.dump({"$patch": "delete", "apiVersion": "v1", "kind": kind,
                                  "metadata": {"name": "retired"}})}


def ingress(config: EstateConfig, tenant: Tenant, cluster: Cluster) -> dict[str, Any]:
    hosts = placement_hosts(tenant, cluster)
    annotations = {
        ("cert-manager.io/cluster-issuer" if config.issuer_kind == "ClusterIssuer" else "cert-manager.io/issuer"):
            config.issuer,
        **config.ingress_annotations,
        # ExternalDNS publishes exactly the hosts this placement serves.
        "external-dns.alpha.kubernetes.io/hostname": ",".join(hosts),
    }
    body_size = tenant.body_size or config.body_size
    if body_size:
        # Attachments: ingress-nginx answers 413 above its default of 1m (its config.go bodySize).
        annotations[config.body_size_annotation] = body_size
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


def remote_key(config: EstateConfig, tenant: Tenant, cluster: Cluster) -> str:
    """Each placement is its own instance, with its own secrets: '<keyPrefix>/<tenant>/<cluster>'."""
    base = tenant.secret_key or f"{config.secret_key_prefix}/{tenant.name}"
    return f"{base}/{cluster.name}"


def app_secret_keys(tenant: Tenant) -> tuple[str, ...]:
    keys: tuple[str, ...] = APP_SECRET_KEYS
    if oidc_needed(tenant.auth):
        keys += (CLIENT_SECRET_KEY,)
    if not tenant.trial_license:
        keys += (SERIAL_NUMBER_KEY,)
    return keys


def _store_ref(config: EstateConfig) -> dict[str, str]:
    return {"kind": config.secret_store_kind, "name": config.secret_store_name}


def _external_secret(config: EstateConfig, name: str, data: list[dict[str, Any]]) -> dict[str, Any]:
    target: dict[str, Any] = {"name": name, "creationPolicy": "Owner", "deletionPolicy": "Retain"}
    return {
        "apiVersion": "external-secrets.io/v1", "kind": "ExternalSecret",
        "metadata": meta(name, {LABEL_PART_OF: PART_OF}),
        "spec": {"refreshInterval": "1h", "secretStoreRef": _store_ref(config), "target": target, "data": data},
    }


def _filled(value: Any, names: dict[str, str]) -> Any:
    """The store spec with '{tenant}', '{cluster}' and '{namespace}' filled in, in every string."""
    if isinstance(value, str):
        for key, text in names.items():
            value = value.replace("{" + key + "}", text)
        return value
    if isinstance(value, dict):
        return {k: _filled(v, names) for k, v in value.items()}
    if isinstance(value, list):
        return [_filled(v, names) for v in value]
    return value


def secret_store(config: EstateConfig, tenant: Tenant, cluster: Cluster) -> dict[str, Any] | None:
    """A SecretStore of the tenant's own (its credentials reach only its keys), when the estate gives a spec;
    a ClusterSecretStore could be referenced from every namespace (External Secrets docs, ClusterSecretStore)."""
    if config.secret_store_kind != "SecretStore" or config.secret_store_spec is None:
        return None
    names = {"tenant": tenant.name, "cluster": cluster.name, "namespace": tenant.namespace}
    return {"apiVersion": "external-secrets.io/v1", "kind": "SecretStore",
            "metadata": meta(config.secret_store_name, {LABEL_PART_OF: PART_OF}),
            "spec": _filled(dict(config.secret_store_spec), names)}


def external_secrets(config: EstateConfig, tenant: Tenant, cluster: Cluster) -> list[dict[str, Any]]:
    """References to the placement's secrets in the external store; the values never touch git."""
    key = remote_key(config, tenant, cluster)

    def ref(secret_key: str, prop: str) -> dict[str, Any]:
        return {"secretKey": secret_key, "remoteRef": {"key": key, "property": prop}}

    docs: list[dict[str, Any]] = []
    store = secret_store(config, tenant, cluster)
    if store is not None:
        docs.append(store)
    docs += [
        _external_secret(config, APP_SECRET, [ref(k, k) for k in app_secret_keys(tenant)]),
        _external_secret(config, LICENSE_SECRET, [ref(LICENSE_FILE, "license")]),
    ]
    if tenant.database.mode == "in-cluster":
        docs.append(_external_secret(config, DATABASE_SECRET, [ref(k, k) for k in DATABASE_SECRET_KEYS]))
    return docs


def external_database_egress(tenant: Tenant) -> dict[str, Any]:
    return network_policy("workflowgen-to-external-database", {
        "podSelector": {"matchLabels": {LABEL_PART_OF: PART_OF}, "matchExpressions": [WORKFLOWGEN_PODS]},
        "policyTypes": ["Egress"],
        "egress": [{"to": [{"ipBlock": {"cidr": c}} for c in tenant.database.cidrs],
                    "ports": [{"protocol": "TCP", "port": tenant.database.port}]}],
    })


def egress_rules(config: EstateConfig, tenant: Tenant) -> list[EgressRule]:
    """The estate's allow list (e.g. the mail relay) and the tenant's own, each destination once."""
    return list(dict.fromkeys([*config.egress, *tenant.egress]))


def egress_allow(rules: list[EgressRule]) -> dict[str, Any]:
    """Mail and webhooks: default-deny blocks every destination but DNS and the database."""
    return network_policy("workflowgen-egress-allow", {
        "podSelector": {"matchLabels": {LABEL_PART_OF: PART_OF}, "matchExpressions": [WORKFLOWGEN_PODS]},
        "policyTypes": ["Egress"],
        "egress": [{"to": [{"ipBlock": {"cidr": r.cidr}}], "ports": [{"protocol": r.protocol, "port": r.port}]}
                   for r in rules],
    })


def web_disruption_budget() -> dict[str, Any]:
    return {"apiVersion": "policy/v1", "kind": "PodDisruptionBudget",
            "metadata": meta(WEB, {LABEL_PART_OF: PART_OF, LABEL_COMPONENT: "web"}),
            "spec": {"maxUnavailable": 1,
                     "selector": {"matchLabels": {LABEL_PART_OF: PART_OF, LABEL_COMPONENT: "web"}}}}


Pod = tuple[str, dict[str, str], dict[str, str]]


def peak_pods(config: EstateConfig, tenant: Tenant) -> list[Pod]:
    """(what, requests, limits) of every pod the namespace holds at its peak: a web rollout's surge, the
    Windows Services (Recreate: never two), the database, cert-manager's HTTP-01 solver, and one spare
    web-sized pod (an upgrade Job, a debug pod)."""
    tier = SIZE_TIERS[tenant.size]
    web = ({"cpu": tier.web_cpu, "memory": tier.web_memory},
           {"cpu": tier.web_cpu_limit, "memory": tier.web_memory_limit})
    pods: list[Pod] = [("web", *web)] * (tenant.web_replicas + WEB_SURGE)
    pods += [("win-services", *web), ("spare", *web)]
    if tenant.database.mode == "in-cluster":
        pods.append(("database", DATABASE_REQUESTS, DATABASE_LIMITS))
    if config.challenge == "http01":
        pods.append(("acme-solver", SOLVER_REQUESTS, SOLVER_LIMITS))
    return pods


def volume_sizes(tenant: Tenant) -> dict[str, str]:
    """The PersistentVolumeClaims' requested sizes: the tenant's, else its size tier's."""
    tier = SIZE_TIERS[tenant.size]
    sizes = {DATA_PVC: tenant.data_storage or tier.data_storage}
    if tenant.database.mode == "in-cluster":
        sizes[DATABASE_PVC] = tenant.database_storage or tier.database_storage
    return sizes


def tenant_quota(config: EstateConfig, tenant: Tenant) -> dict[str, Any]:
    pods = peak_pods(config, tenant)

    def total(limits: bool, resource: str) -> Decimal:
        return sum((parse_quantity((p[2] if limits else p[1])[resource]) for p in pods), Decimal(0))

    storage = sum((parse_quantity(s) for s in volume_sizes(tenant).values()), Decimal(0))
    gi = Decimal(2) ** 30
    headroom = max(storage * Decimal("0.2"), 10 * gi)  # room to grow a volume before the quota follows
    hard = {
        "requests.cpu": cpu(total(False, "cpu")), "requests.memory": memory(total(False, "memory")),
        "limits.cpu": cpu(total(True, "cpu")), "limits.memory": memory(total(True, "memory")),
        "pods": str(len(pods)), "persistentvolumeclaims": "4",
        "requests.storage": memory(storage + headroom), "services": "5",
        # Public only through the Ingress: no LoadBalancer or NodePort Service.
        "services.loadbalancers": "0", "services.nodeports": "0",
    }
    return {"apiVersion": "v1", "kind": "ResourceQuota", "metadata": meta("workflowgen", {LABEL_PART_OF: PART_OF}),
            "spec": {"hard": hard}}


def data_class(config: EstateConfig, cluster: Cluster) -> str | None:
    """The cluster's ReadWriteMany class for C:\\wfgen\\data, else the estate's; None: the cluster's default."""
    return cluster.data_storage_class or config.data_storage_class


def database_class(config: EstateConfig, cluster: Cluster) -> str | None:
    return cluster.database_storage_class or config.database_storage_class


def workload_patches(config: EstateConfig, tenant: Tenant, cluster: Cluster) -> list[dict[str, Any]]:
    """One JSON patch per WorkflowGen Deployment holding every value the placement gives it: the cluster's
    Windows build (image tag, node selector), the secrets its auth mode and licence read, its size tier's
    resources and the web replicas. kustomize turns the whole object into JSON and back for each patch it
    applies (api/filters/patchjson6902), so one patch per Deployment costs a fifth of one per value."""
    windows = windows_ops(config, cluster.windows_build)
    web_env, services_env = [], []
    if oidc_needed(tenant.auth):
        # The client secret, like every secret, from the tenant's Secret through the _FILE variant.
        web_env.append(secret_file_env(CLIENT_SECRET_KEY))
    if not tenant.trial_license:
        # A licence other than a trial one needs web.config's ApplicationSerialNumber (WorkflowGen for Docker,
        # "File management"; the image sets any WFGEN_APP_SETTING_<key>, docker-entrypoint.ps1).
        web_env.append(secret_file_env(SERIAL_NUMBER_KEY))
        services_env.append(secret_file_env(SERIAL_NUMBER_KEY))
    resources = size_ops(SIZE_TIERS[tenant.size])
    web = [*windows, *env_ops(web_env), *resources,
           {"op": "replace", "path": "/spec/replicas", "value": tenant.web_replicas}]
    services = [*windows, *env_ops(services_env), *resources]
    return [{"target": {"kind": "Deployment", "name": name}, "patch": yamlio.dump(ops)}
            for name, ops in ((WEB, web), (WIN_SERVICES, services))]


def _pvc_patch(name: str, size: str, storage_class: str | None) -> dict[str, Any]:
    ops: list[dict[str, Any]] = [{"op": "replace", "path": "/spec/resources/requests/storage", "value": size}]
    if storage_class:
        ops.append({"op": "add", "path": "/spec/storageClassName", "value": storage_class})
    return {"target": {"kind": "PersistentVolumeClaim", "name": name}, "patch": yamlio.dump(ops)}


def pvc_settings(kustomization: str) -> dict[str, dict[str, str]]:
    """The requested size ('storage') and class ('storageClassName') that an overlay kustomization gitops-gen
    wrote gives each PersistentVolumeClaim (by name), read back from its patches."""
    try:
        doc = next(yamlio.load_all(kustomization), None)
    except Exception:  # a hand-broken file: nothing to compare against
        return {}
    out: dict[str, dict[str, str]] = {}
    patches = doc.get("patches") if isinstance(doc, dict) else None
    for p in patches if isinstance(patches, list) else []:
        target = p.get("target") if isinstance(p, dict) else None
        if not isinstance(target, dict) or target.get("kind") != "PersistentVolumeClaim":
            continue
        try:
            ops = yamlio.load(str(p.get("patch") or ""))
        except Exception:
            continue
        settings = out.setdefault(str(target.get("name")), {})
        for op in ops if isinstance(ops, list) else []:
            if isinstance(op, dict) and op.get("path") == "/spec/resources/requests/storage":
                settings["storage"] = str(op.get("value"))
            elif isinstance(op, dict) and op.get("path") == "/spec/storageClassName":
                settings["storageClassName"] = str(op.get("value"))
    return out


def volume_change_problems(overlay: str, before: str, after: str) -> list[str]:
    """Why replacing an overlay's kustomization ``before`` by ``after`` changes a PersistentVolumeClaim in a
    way the API server refuses on a claim already applied: a smaller request (a volume never shrinks), or
    another storage class (storageClassName is immutable). Kubernetes ValidatePersistentVolumeClaimUpdate."""
    problems = []
    old, new = pvc_settings(before), pvc_settings(after)
    tenant = overlay.split("/")[1] if overlay.count("/") >= 2 else overlay
    for name, was in old.items():
        now = new.get(name)
        if now is None:
            continue
        if "storage" in was and "storage" in now:
            try:
                shrinks = parse_quantity(now["storage"]) < parse_quantity(was["storage"])
            except ValueError:
                shrinks = False
            if shrinks:
                field = "storage.database" if name == DATABASE_PVC else "storage.data"
                problems.append(f"{overlay}: PersistentVolumeClaim {name} would shrink from {was['storage']} to "
                                f"{now['storage']}; a volume never shrinks (set {field}: {was['storage']} or more in "
                                f"{layout.tenant_file(tenant)} to keep it)")
        if "storageClassName" in was and was.get("storageClassName") != now.get("storageClassName"):
            problems.append(f"{overlay}: PersistentVolumeClaim {name} would move from storage class "
                            f"{was['storageClassName']!r} to {now.get('storageClassName', 'the default')!r}; a claim's "
                            "class is immutable (keep the class in the cluster's cluster.yaml storage settings; "
                            "moving data to another class is a migration, not an edit)")
    return problems


def oidc_literals(tenant: Tenant) -> list[str]:
    """The web.config settings of an OpenID Connect auth mode (WFGEN_APP_SETTING_<key>, which the image writes
    into web.config: docker-entrypoint.ps1); the client secret comes from the Secret, through its _FILE."""
    o = tenant.oidc
    if o is None:
        return []
    pairs = [("ApplicationSecurityAuthProvider", tenant.auth), ("ApplicationSecurityAuthClientId", o.client_id),
             ("ApplicationSecurityAuthMetadataUrl", o.metadata_url), ("ApplicationSecurityAuthAudience", o.audience),
             ("ApplicationSecurityAuthUsernameClaim", o.username_claim),
             ("ApplicationSecurityAuthAppIdClaim", o.app_id_claim),
             ("ApplicationSecurityAuthCheckSessionUrl", o.check_session_url)]
    return [f"WFGEN_APP_SETTING_{k}={v}" for k, v in pairs if v is not None]


def overlay_files(config: EstateConfig, tenant: Tenant, cluster: Cluster) -> dict[str, str]:
    """The placement's overlay. By its state: active, everything; draining, no Ingress and every workload at
    0 replicas, with data, secrets and NetworkPolicies kept; retired, only the Namespace, the data and the
    NetworkPolicies. A standby runs no Windows Services."""
    d = layout.overlay_dir(tenant.name, cluster.name)
    src = header(layout.tenant_file(tenant.name))
    placement = tenant.placement(cluster.name)
    retired = placement.state == "retired"
    resources = [f"{UP}/base"]
    files: dict[str, str] = {}
    if placement.serves:
        resources.append("ingress.yaml")
        files[f"{d}/ingress.yaml"] = yamlio.dump(ingress(config, tenant, cluster), src)
    resources.append("quota.yaml")
    files[f"{d}/quota.yaml"] = yamlio.dump(tenant_quota(config, tenant), src)
    if tenant.web_replicas > 1 and placement.serves:
        resources.append("disruption-budget.yaml")
        files[f"{d}/disruption-budget.yaml"] = yamlio.dump(web_disruption_budget(), src)
    rules = egress_rules(config, tenant)
    if rules:
        resources.append("egress.yaml")
        files[f"{d}/egress.yaml"] = yamlio.dump(egress_allow(rules), src)
    if config.secrets_mode == "external-secrets" and not retired:
        resources.append("external-secrets.yaml")
        files[f"{d}/external-secrets.yaml"] = yamlio.dump_docs(external_secrets(config, tenant, cluster), src)
    if tenant.database.mode == "external":
        resources.append("database-egress.yaml")
        files[f"{d}/database-egress.yaml"] = yamlio.dump(external_database_egress(tenant), src)
    components = []
    if cluster.controller == "argocd":
        components.append(f"{UP}/base/components/{NAMESPACE_COMPONENT}")
    if tenant.database.mode == "in-cluster":
        components.append(f"{UP}/base/components/{DATABASE_COMPONENT}")
    if oidc_needed(tenant.auth):
        components.append(f"{UP}/base/components/{OIDC_COMPONENT}")
    components.append(f"{UP}/base/components/{size_component(tenant.size)}")
    sizes = volume_sizes(tenant)
    patches = [] if retired else workload_patches(config, tenant, cluster)
    # The claims keep their size and class in every state: both are checked against the live claim.
    patches.append(_pvc_patch(DATA_PVC, sizes[DATA_PVC], data_class(config, cluster)))
    if DATABASE_PVC in sizes:
        patches.append(_pvc_patch(DATABASE_PVC, sizes[DATABASE_PVC], database_class(config, cluster)))
    if retired:
        patches += [_delete_patch(kind) for kind in RETIRED_DROPS]
    elif placement.state == "draining":
        patches += [_replicas_patch("Deployment", WEB), _replicas_patch("Deployment", WIN_SERVICES)]
    if not placement.serves and tenant.database.mode == "in-cluster":
        patches.append(_replicas_patch("StatefulSet", DATABASE))
    if placement.serves and not placement.runs_windows_services:  # an active standby: web only
        patches.append(_replicas_patch("Deployment", WIN_SERVICES))
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
                         f"WFGEN_AUTH_MODE={tenant.auth}", *oidc_literals(tenant)],
        }],
        "patches": patches,
    }
    files[f"{d}/kustomization.yaml"] = yamlio.dump(kustomization, src)
    return files

