"""The rule checks of ``gitops-gen validate``: pure functions over rendered objects and repository files.

Four entry points, each returning ``Finding``s (an empty list on a correct estate):

- ``check_overlay(ctx)``: one tenant overlay's rendered objects (isolation, HTTPS, routing of that
  placement, Windows and WorkflowGen facts, secrets, data protection);
- ``check_routing(estate, rendered)``: hosts across every rendered overlay;
- ``check_controllers(root, estate)``: the Argo CD and Flux objects under ``clusters/`` and ``argocd/``;
- ``check_repository_secrets(root, files)``: secret values written into repository YAML files.

Every rule is registered at import with its id, severity, title and a one-line fix; the facts each
rule enforces are in DOMAIN.md (WorkflowGen in containers, tenant isolation, Argo CD, Flux).
"""

from __future__ import annotations

import fnmatch
import ipaddress
import json
import os
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from gitops_gen import yamlio
from gitops_gen.checks import Finding, Rule, finding, rule
from gitops_gen.estate import layout
from gitops_gen.estate.load import Estate
from gitops_gen.estate.model import WINDOWS_BUILDS, Cluster, EstateConfig, Tenant

# --------------------------------------------------------------------------- the rules

ISO_DEFAULT_DENY = rule(
    "ISO001", "error", "Tenant namespace has no default deny for ingress and egress",
    "add a NetworkPolicy with 'podSelector: {}', 'policyTypes: [Ingress, Egress]' and no rules (the base's "
    "default-deny)")
ISO_WEB_INGRESS = rule(
    "ISO002", "error", "Web pods reachable other than from the ingress controller's namespace on TCP 80",
    "allow into web pods only 'from: [{namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: "
    "<ingress namespace>}}}]' with 'ports: [{protocol: TCP, port: 80}]'")
ISO_WIN_SERVICES_INGRESS = rule(
    "ISO003", "error", "Ingress allowed into the Windows Services pods",
    "remove the ingress rule: Windows Services pods accept no traffic at all")
ISO_DATABASE_INGRESS = rule(
    "ISO004", "error", "Database pods reachable other than from the tenant's WorkflowGen pods on TCP 1433",
    "allow into database pods only 'from: [{podSelector: <web and win-services pods>}]' with "
    "'ports: [{protocol: TCP, port: 1433}]'")
ISO_OPEN_PEER = rule(
    "ISO005", "error", "Allow rule open to every namespace or every address",
    "name the peer namespace with 'namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: <ns>}}'; "
    "never 'namespaceSelector: {}', a rule without peers, or an ingress ipBlock 0.0.0.0/0")
ISO_OTHER_NAMESPACE = rule(
    "ISO006", "error", "Object refers to another tenant's namespace",
    "keep every object, and every namespaceSelector, within the tenant's own namespace")
ISO_EXPOSED_SERVICE = rule(
    "ISO007", "error", "Service exposed outside the Ingress (LoadBalancer, NodePort or externalIPs)",
    "use a ClusterIP Service without externalIPs; publish only through the tenant's HTTPS Ingress")
ISO_HOST_ACCESS = rule(
    "ISO008", "error", "Pod uses the host's network, PID or IPC namespace, or a hostPort",
    "remove hostNetwork, hostPID, hostIPC and hostPort from the pod template")
ISO_QUOTA = rule(
    "ISO009", "error", "No ResourceQuota forbidding LoadBalancer and NodePort Services",
    "add a ResourceQuota with 'services.loadbalancers: \"0\"' and 'services.nodeports: \"0\"' (the size "
    "component's quota)")
ISO_POD_SECURITY = rule(
    "ISO010", "error", "Namespace Pod Security enforce level missing or weaker than baseline",
    "label the Namespace 'pod-security.kubernetes.io/enforce: baseline'")
ISO_SA_TOKEN = rule(
    "ISO011", "error", "Service account token mounted into pods",
    "set 'automountServiceAccountToken: false' on the ServiceAccount and on the pod template")
HTTPS_TLS = rule(
    "HTTPS001", "error", "Ingress host not covered by TLS",
    "list every rule host under 'spec.tls[].hosts' with a secretName")
HTTPS_ISSUER = rule(
    "HTTPS002", "error", "Ingress without a cert-manager issuer",
    "annotate the Ingress with 'cert-manager.io/cluster-issuer' (or 'cert-manager.io/issuer') naming the issuer")
HTTPS_REDIRECT = rule(
    "HTTPS003", "error", "Ingress does not redirect HTTP to HTTPS",
    "set every annotation of 'ingress.annotations' in gitops-gen.yaml on the Ingress, with that value")
HTTPS_CATCH_ALL = rule(
    "HTTPS004", "error", "Ingress rule without host, or a defaultBackend",
    "give every Ingress rule a host covered by TLS and remove spec.defaultBackend")
ROUTE_SHARED_HOST = rule(
    "ROUTE001", "error", "Host claimed by more than one tenant",
    "a host belongs to exactly one tenant: remove it from all tenant.yaml files but one")
ROUTE_GLOBAL_TWICE = rule(
    "ROUTE002", "error", "Host served by more than one placement of the same tenant",
    "a global host is served by exactly one placement: fix 'hosts[].placement' in tenant.yaml")
ROUTE_UNDECLARED = rule(
    "ROUTE003", "error", "Ingress host not declared for this placement",
    "serve only the tenant's global hosts declared for this placement and its regional host "
    "'<tenant>.<cluster domain>'")
ROUTE_FOREIGN_REGIONAL = rule(
    "ROUTE004", "error", "Ingress host in the cluster's regional domain that is not the tenant's regional host",
    "the only host of '<cluster domain>' a tenant may serve is '<tenant>.<cluster domain>'")
WIN_NOT_WINDOWS = rule(
    "WIN001", "error", "WorkflowGen pod not scheduled on Windows nodes",
    "set 'spec.os.name: windows' and 'nodeSelector: {kubernetes.io/os: windows}' on the pod template")
WIN_LINUX_FIELDS = rule(
    "WIN002", "error", "Linux-only security field (or runAsUserName) on a Windows pod",
    "remove the field: the API server rejects Linux-only fields on Windows pods, and WorkflowGen needs no "
    "runAsUserName")
WIN_BUILD = rule(
    "WIN003", "error", "WorkflowGen image or node selector does not match the cluster's Windows build",
    "use the tag '<version>-win-<cluster windowsBuild>' and nodeSelector node.kubernetes.io/windows-build of "
    "that build")
WIN_SERVICES_SINGLETON = rule(
    "WIN004", "error", "Windows Services not a single instance (replicas 1, strategy Recreate)",
    "set 'replicas: 1' and 'strategy: {type: Recreate}' on the Deployment running the Windows Services")
WIN_KEYS_FROM_SECRET = rule(
    "WIN005", "error", "WorkflowGen encryption or machine key not read from a Secret",
    "set '<NAME>_FILE' to a file of a mounted Secret volume (or use valueFrom.secretKeyRef); never a literal")
SEC_SECRET_IN_GIT = rule(
    "SEC001", "error", "Secret value written to git",
    "reference the secret instead (an ExternalSecret, or a pre-provisioned Secret) and remove the value from "
    "git history")
SEC_LITERAL = rule(
    "SEC002", "error", "Password, key or connection string as a literal in a ConfigMap or env",
    "move the value to a Secret and read it through '<NAME>_FILE' or valueFrom.secretKeyRef")
DATA_ARGO_PROTECT = rule(
    "DATA001", "error", "Data-bearing object not protected from Argo CD prune and deletion",
    "annotate it 'argocd.argoproj.io/sync-options: Prune=false,Delete=false'")
DATA_FLUX_PROTECT = rule(
    "DATA002", "error", "Data-bearing object not protected from Flux prune",
    "annotate it 'kustomize.toolkit.fluxcd.io/prune: disabled'")
DATA_PRESERVE = rule(
    "DATA003", "error", "ApplicationSet deletes resources with its Applications",
    "set 'spec.syncPolicy.preserveResourcesOnDeletion: true'")
DATA_GO_TEMPLATE = rule(
    "DATA004", "error", "ApplicationSet without strict Go templates",
    "set 'goTemplate: true' and 'goTemplateOptions: [\"missingkey=error\"]'")
DATA_EMPTY_GENERATOR = rule(
    "DATA005", "error", "ApplicationSet git generator matches nothing in the repository",
    "fix the generator's path pattern so that it matches the intended files or directories")
DATA_FLUX_PATH = rule(
    "DATA006", "error", "Flux Kustomization path is not a directory of the repository",
    "point spec.path at an existing directory (e.g. ./overlays/<tenant>/<cluster>)")
DATA_GLOB_AMBIGUOUS = rule(
    "DATA007", "warning", "ApplicationSet git files pattern matches differently under greedy and exact globbing",
    "choose a pattern that means the same whether '*' crosses '/' or not (e.g. a directory without "
    "subdirectories)")

#: Rule ids by entry point.
OVERLAY_RULES = ("ISO001", "ISO002", "ISO003", "ISO004", "ISO005", "ISO006", "ISO007", "ISO008", "ISO009",
                 "ISO010", "ISO011", "HTTPS001", "HTTPS002", "HTTPS003", "HTTPS004", "ROUTE003", "ROUTE004",
                 "WIN001", "WIN002", "WIN003", "WIN004", "WIN005", "SEC001", "SEC002", "DATA001", "DATA002")
ROUTING_RULES = ("ROUTE001", "ROUTE002")
CONTROLLER_RULES = ("DATA003", "DATA004", "DATA005", "DATA006", "DATA007")
REPOSITORY_RULES = ("SEC001",)

# --------------------------------------------------------------------------- domain constants

LABEL_COMPONENT = "app.kubernetes.io/component"
NAMESPACE_NAME_LABEL = "kubernetes.io/metadata.name"
WORKFLOWGEN_IMAGE = "advantys/workflowgen"
WEB_PORT = 80
DATABASE_PORT = 1433
ENCRYPTION_KEY = "WFGEN_APP_SETTING_ApplicationSecurityPasswordSymmetricEncryptionKey"
MACHINE_KEYS = ("WFGEN_MACHINE_KEY_VALIDATION_KEY", "WFGEN_MACHINE_KEY_DECRYPTION_KEY")
#: WFGEN_START_SERVICE values (the image's default is "all") that start the web applications or Windows services.
WEB_SERVICES = frozenset({"all", "web_apps"})
WINDOWS_SERVICES = frozenset({"all", "win_services", "engine", "dir_sync"})
#: Security context fields the API server rejects on Windows pods (Kubernetes "Windows in Kubernetes").
LINUX_ONLY_FIELDS = frozenset({
    "runAsUser", "runAsGroup", "runAsNonRoot", "seLinuxOptions", "seccompProfile", "capabilities",
    "readOnlyRootFilesystem", "privileged", "procMount", "fsGroup", "fsGroupChangePolicy", "supplementalGroups",
    "supplementalGroupsPolicy", "seLinuxChangePolicy", "sysctls", "appArmorProfile", "allowPrivilegeEscalation",
})
POD_SECURITY_LEVELS = frozenset({"baseline", "restricted"})
ARGO_SYNC_OPTIONS = "argocd.argoproj.io/sync-options"
FLUX_PRUNE = "kustomize.toolkit.fluxcd.io/prune"
ISSUER_ANNOTATIONS = ("cert-manager.io/cluster-issuer", "cert-manager.io/issuer")
EXTERNAL_DNS_HOSTNAME = "external-dns.alpha.kubernetes.io/hostname"
_SECRET_NAME = re.compile(r"PASSWORD|PASSWD|CONNECTION_STRING|SECRET|TOKEN|PRIVATE_KEY|ENCRYPT|MACHINE_KEY|API_KEY",
                          re.IGNORECASE)
_CONNECTION_SECRET = re.compile(r"password\s*=|pwd\s*=", re.IGNORECASE)
#: Values that are switches, not secrets (e.g. WFGEN_GEN_APP_SYM_ENCRYPT_KEY=N).
_FLAG_VALUES = frozenset({"", "y", "n", "yes", "no", "true", "false", "on", "off"})
_WIN_TAG = re.compile(r"-win-(ltsc\d{4})$")
_POD_TEMPLATE_KINDS = frozenset({"Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "ReplicationController",
                                 "Job"})


# --------------------------------------------------------------------------- small helpers

def _m(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _l(value: Any) -> list[Any]:
    return list(value) if isinstance(value, (list, tuple)) else []


def _meta(doc: Mapping[str, Any]) -> Mapping[str, Any]:
    return _m(doc.get("metadata"))


def _name(doc: Mapping[str, Any]) -> str:
    return str(_meta(doc).get("name", "?"))


def _ref(doc: Mapping[str, Any]) -> str:
    return f"{doc.get('kind', '?')}/{_name(doc)}"


def _annotations(doc: Mapping[str, Any]) -> Mapping[str, Any]:
    return _m(_meta(doc).get("annotations"))


def _labels(doc: Mapping[str, Any]) -> Mapping[str, Any]:
    return _m(_meta(doc).get("labels"))


def _of_kind(docs: Iterable[Mapping[str, Any]], kind: str) -> list[Mapping[str, Any]]:
    return [d for d in docs if d.get("kind") == kind]


def _is_false(value: Any) -> bool:
    return value is False or (isinstance(value, str) and value.lower() == "false")


def _is_true(value: Any) -> bool:
    return value is True or (isinstance(value, str) and value.lower() == "true")


def _is_zero(value: Any) -> bool:
    if isinstance(value, bool):
        return False
    if isinstance(value, (int, float)):
        return value == 0
    return isinstance(value, str) and value.strip() in ("0", "0.0")


def _plural(items: Iterable[str]) -> str:
    return ", ".join(sorted(set(items)))


# --------------------------------------------------------------------------- images and pods

def image_repo_tag(image: str) -> tuple[str, str | None]:
    """Repository (without docker.io/library prefixes) and tag of an image reference; tag None when absent."""
    ref = image.split("@", 1)[0]
    slash = ref.rfind("/")
    colon = ref.rfind(":")
    tag: str | None = None
    if colon > slash:
        ref, tag = ref[:colon], ref[colon + 1:]
    for prefix in ("docker.io/", "index.docker.io/", "registry-1.docker.io/"):
        if ref.startswith(prefix):
            ref = ref[len(prefix):]
    ref = ref.removeprefix("library/")
    return ref, tag


def _is_workflowgen_image(image: Any) -> bool:
    if not isinstance(image, str):
        return False
    repo, _ = image_repo_tag(image)
    return repo == WORKFLOWGEN_IMAGE or repo.endswith("/" + WORKFLOWGEN_IMAGE)


@dataclass(frozen=True)
class Pod:
    """A pod template of a rendered workload (or a bare Pod)."""

    owner: Mapping[str, Any]
    labels: Mapping[str, Any]
    spec: Mapping[str, Any]
    #: Instances the workload runs; None for a DaemonSet (one per node).
    replicas: int | None

    @property
    def ref(self) -> str:
        return _ref(self.owner)

    @property
    def component(self) -> str | None:
        value = self.labels.get(LABEL_COMPONENT)
        return None if value is None else str(value)

    def containers(self) -> list[Mapping[str, Any]]:
        return [_m(c) for key in ("initContainers", "containers", "ephemeralContainers")
                for c in _l(self.spec.get(key))]

    def workflowgen_containers(self) -> list[Mapping[str, Any]]:
        return [c for c in self.containers() if _is_workflowgen_image(c.get("image"))]

    @property
    def is_workflowgen(self) -> bool:
        return bool(self.workflowgen_containers())

    @property
    def is_windows(self) -> bool:
        return (self.is_workflowgen or _m(self.spec.get("os")).get("name") == "windows"
                or _m(self.spec.get("nodeSelector")).get("kubernetes.io/os") == "windows")


def _replicas(value: Any, default: int = 1) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else default


def pods_of(docs: Iterable[Mapping[str, Any]]) -> list[Pod]:
    """Every pod template of the rendered workloads, and bare Pods."""
    pods: list[Pod] = []
    for d in docs:
        kind = d.get("kind")
        spec = _m(d.get("spec"))
        template: Mapping[str, Any] | None = None
        replicas: int | None = 1
        if kind in _POD_TEMPLATE_KINDS:
            template = _m(spec.get("template"))
            if kind == "Job":
                replicas = _replicas(spec.get("parallelism"))
            elif kind == "DaemonSet":
                replicas = None
            else:
                replicas = _replicas(spec.get("replicas"))
        elif kind == "CronJob":
            template = _m(_m(_m(spec.get("jobTemplate")).get("spec")).get("template"))
        elif kind == "Pod":
            template = d
        if template is not None:
            pods.append(Pod(d, _m(_m(template.get("metadata")).get("labels")), _m(template.get("spec")), replicas))
    return pods


def _env(container: Mapping[str, Any]) -> dict[str, Mapping[str, Any]]:
    return {str(_m(e).get("name")): _m(e) for e in _l(container.get("env")) if _m(e).get("name") is not None}


def start_service(container: Mapping[str, Any]) -> str:
    """WFGEN_START_SERVICE of a WorkflowGen container (the image's default is 'all')."""
    value = _env(container).get("WFGEN_START_SERVICE", {}).get("value")
    return str(value).strip().lower() if value is not None else "all"


# --------------------------------------------------------------------------- label selectors

def selects(selector: Any, labels: Mapping[str, Any]) -> bool:
    """Whether a Kubernetes label selector (matchLabels, matchExpressions) selects these labels.
    A missing or empty selector selects everything; an unknown operator selects nothing."""
    sel = _m(selector)
    for label, value in _m(sel.get("matchLabels")).items():
        if label not in labels or str(labels[label]) != str(value):
            return False
    for expr in _l(sel.get("matchExpressions")):
        e = _m(expr)
        key, op = str(e.get("key")), e.get("operator")
        values = {str(v) for v in _l(e.get("values"))}
        present = key in labels
        if op == "In":
            ok = present and str(labels[key]) in values
        elif op == "NotIn":
            ok = not present or str(labels[key]) not in values
        elif op == "Exists":
            ok = present
        elif op == "DoesNotExist":
            ok = not present
        else:
            ok = False
        if not ok:
            return False
    return True


def _selector_is_empty(selector: Any) -> bool:
    sel = _m(selector)
    return not _m(sel.get("matchLabels")) and not _l(sel.get("matchExpressions"))


def named_namespaces(selector: Any) -> set[str] | None:
    """The namespaces a namespaceSelector pins by name (kubernetes.io/metadata.name through matchLabels or
    an In expression); None when it does not restrict the name."""
    sel = _m(selector)
    names: set[str] | None = None
    label = _m(sel.get("matchLabels")).get(NAMESPACE_NAME_LABEL)
    if label is not None:
        names = {str(label)}
    for expr in _l(sel.get("matchExpressions")):
        e = _m(expr)
        if e.get("key") == NAMESPACE_NAME_LABEL and e.get("operator") == "In":
            values = {str(v) for v in _l(e.get("values"))}
            names = values if names is None else names & values
    return names


def _reaches_every_namespace(selector: Any) -> bool:
    """A namespaceSelector without any positive requirement: {} itself, or only NotIn/DoesNotExist terms
    (every namespace but a few), or Exists on the name label."""
    sel = _m(selector)
    if _m(sel.get("matchLabels")):
        return False
    for expr in _l(sel.get("matchExpressions")):
        e = _m(expr)
        op = e.get("operator")
        if op == "In" or (op == "Exists" and e.get("key") != NAMESPACE_NAME_LABEL):
            return False
    return True


# --------------------------------------------------------------------------- the overlay context

@dataclass(frozen=True)
class OverlayContext:
    config: EstateConfig
    tenant: Tenant
    cluster: Cluster
    #: "overlays/<tenant>/<cluster>"
    overlay: str
    #: The overlay's rendered objects.
    docs: Sequence[Mapping[str, Any]]
    #: Namespaces of all tenants of the estate (to detect references to other tenants).
    tenant_namespaces: frozenset[str]

    @property
    def path(self) -> str:
        return f"{self.overlay}/kustomization.yaml"

    def finding(self, r: Rule, message: str, obj: str | None) -> Finding:
        return finding(r, message, tenant=self.tenant.name, cluster=self.cluster.name,
                       obj=obj, path=self.path)


def overlay_context(estate: Estate, overlay: str, docs: Sequence[Mapping[str, Any]]) -> OverlayContext:
    """The context of ``overlays/<tenant>/<cluster>`` in a loaded estate (KeyError for an unknown one)."""
    _, tenant, cluster = overlay.split("/")[:3]
    return OverlayContext(estate.config, estate.tenants[tenant], estate.clusters[cluster], overlay, docs,
                          frozenset(t.namespace for t in estate.tenants.values()))


# --------------------------------------------------------------------------- isolation

def _ingress_applies(spec: Mapping[str, Any]) -> bool:
    types = spec.get("policyTypes")
    return types is None or "Ingress" in _l(types)


def _egress_applies(spec: Mapping[str, Any]) -> bool:
    types = spec.get("policyTypes")
    return bool(_l(spec.get("egress"))) if types is None else "Egress" in _l(types)


def _named_ports(pods: Iterable[Pod], name: str) -> set[int]:
    found: set[int] = set()
    for p in pods:
        for c in p.containers():
            for port in _l(c.get("ports")):
                if _m(port).get("name") == name and isinstance(_m(port).get("containerPort"), int):
                    found.add(int(_m(port)["containerPort"]))
    return found


def _port_problems(ports: list[Any], wanted: int, pods: list[Pod]) -> list[str]:
    """Why a rule's ports allow more than TCP ``wanted`` on ``pods``."""
    if not ports:
        return ["every port"]
    problems: list[str] = []
    for raw in ports:
        p = _m(raw)
        protocol = str(p.get("protocol", "TCP"))
        port = p.get("port")
        end = p.get("endPort")
        if protocol != "TCP":
            problems.append(f"protocol {protocol}")
        if port is None:
            problems.append("every port")
        elif isinstance(port, str) and not port.isdigit():
            other = _named_ports(pods, port) - {wanted}
            if other:
                problems.append(f"port {port!r} ({_plural(str(o) for o in other)})")
        elif str(port) != str(wanted):
            problems.append(f"port {port}")
        if end is not None and str(end) != str(port):
            problems.append(f"port range {port}-{end}")
    return problems


class _Overlay:
    """Precomputed views of one overlay's rendered objects."""

    def __init__(self, ctx: OverlayContext) -> None:
        self.ctx = ctx
        self.docs = [d for d in ctx.docs if isinstance(d, Mapping)]
        self.pods = pods_of(self.docs)
        self.policies = _of_kind(self.docs, "NetworkPolicy")

    def selected(self, selector: Any) -> list[Pod]:
        return [p for p in self.pods if selects(selector, p.labels)]

    def in_namespace(self, doc: Mapping[str, Any]) -> bool:
        ns = _meta(doc).get("namespace")
        return ns is None or ns == self.ctx.tenant.namespace

    def ingress_rules(self, component: str) -> Iterator[tuple[Mapping[str, Any], int, Mapping[str, Any]]]:
        """(policy, index, rule) of every ingress rule that applies to pods of ``component``."""
        for policy in self.policies:
            spec = _m(policy.get("spec"))
            if not _ingress_applies(spec):
                continue
            if not any(p.component == component for p in self.selected(spec.get("podSelector"))):
                continue
            for i, r in enumerate(_l(spec.get("ingress"))):
                yield policy, i, _m(r)


def _check_default_deny(o: _Overlay) -> Iterator[Finding]:
    for policy in o.policies:
        spec = _m(policy.get("spec"))
        if (o.in_namespace(policy) and _selector_is_empty(spec.get("podSelector"))
                and {"Ingress", "Egress"} <= set(_l(spec.get("policyTypes")))
                and not _l(spec.get("ingress")) and not _l(spec.get("egress"))):
            return
    ns = o.ctx.tenant.namespace
    yield o.ctx.finding(ISO_DEFAULT_DENY, f"no NetworkPolicy denies all ingress and egress in namespace {ns!r}",
                        f"Namespace/{ns}")


def _check_web_ingress(o: _Overlay) -> Iterator[Finding]:
    ingress_ns = o.ctx.config.ingress_namespace
    web = [p for p in o.pods if p.component == "web"]
    for policy, i, r in o.ingress_rules("web"):
        problems: list[str] = []
        peers = _l(r.get("from"))
        if not peers:
            problems.append("every source")
        for raw in peers:
            peer = _m(raw)
            if "ipBlock" in peer:
                problems.append(f"ipBlock {_m(peer['ipBlock']).get('cidr')}")
            elif "namespaceSelector" not in peer:
                problems.append("other pods of the namespace")
            else:
                names = named_namespaces(peer["namespaceSelector"])
                if names != {ingress_ns}:
                    shown = "any namespace" if names is None else _plural(names) or "no namespace"
                    problems.append(f"namespace {shown}")
        problems += _port_problems(_l(r.get("ports")), WEB_PORT, web)
        if problems:
            yield o.ctx.finding(
                ISO_WEB_INGRESS,
                f"ingress rule {i} admits into the web pods {', '.join(dict.fromkeys(problems))}; only the "
                f"ingress controller's namespace {ingress_ns!r} on TCP {WEB_PORT} may reach them", _ref(policy))


def _check_win_services_ingress(o: _Overlay) -> Iterator[Finding]:
    seen: set[str] = set()
    for policy, i, _ in o.ingress_rules("win-services"):
        if _ref(policy) not in seen:
            seen.add(_ref(policy))
            yield o.ctx.finding(ISO_WIN_SERVICES_INGRESS,
                                f"ingress rule {i} allows traffic into the Windows Services pods", _ref(policy))


def _check_database_ingress(o: _Overlay) -> Iterator[Finding]:
    database = [p for p in o.pods if p.component == "database"]
    for policy, i, r in o.ingress_rules("database"):
        problems: list[str] = []
        peers = _l(r.get("from"))
        if not peers:
            problems.append("every source")
        for raw in peers:
            peer = _m(raw)
            if set(peer) != {"podSelector"}:
                problems.append("a peer that is not a podSelector alone (" + _plural(str(k) for k in peer) + ")")
                continue
            others = {p.component or "unlabelled" for p in o.selected(peer["podSelector"])} - {"web", "win-services"}
            if others:
                problems.append(f"pods other than the WorkflowGen pods ({_plural(others)})")
        problems += _port_problems(_l(r.get("ports")), DATABASE_PORT, database)
        if problems:
            yield o.ctx.finding(
                ISO_DATABASE_INGRESS,
                f"ingress rule {i} admits into the database pods {', '.join(dict.fromkeys(problems))}; only the "
                f"tenant's own WorkflowGen pods on TCP {DATABASE_PORT} may reach them", _ref(policy))


def _check_open_peers(o: _Overlay) -> Iterator[Finding]:
    for policy in o.policies:
        spec = _m(policy.get("spec"))
        directions = []
        if _ingress_applies(spec):
            directions.append(("ingress", "from"))
        if _egress_applies(spec):
            directions.append(("egress", "to"))
        for direction, key in directions:
            for i, raw in enumerate(_l(spec.get(direction))):
                r = _m(raw)
                problems: list[str] = []
                peers = _l(r.get(key))
                if not peers:
                    problems.append(f"has no '{key}' peers, so it reaches every namespace")
                for peer in (_m(p) for p in peers):
                    if "namespaceSelector" in peer and _reaches_every_namespace(peer["namespaceSelector"]):
                        problems.append("has a namespaceSelector that selects every namespace"
                                        if _selector_is_empty(peer["namespaceSelector"]) else
                                        "has a namespaceSelector without a positive requirement (every "
                                        "namespace but a few)")
                    cidr = _m(peer.get("ipBlock")).get("cidr")
                    if direction == "ingress" and cidr is not None:
                        try:
                            if ipaddress.ip_network(str(cidr), strict=False).prefixlen == 0:
                                problems.append(f"admits ipBlock {cidr} (every address)")
                        except ValueError:
                            pass
                for problem in dict.fromkeys(problems):
                    yield o.ctx.finding(ISO_OPEN_PEER, f"{direction} rule {i} {problem}", _ref(policy))


def _check_other_namespaces(o: _Overlay) -> Iterator[Finding]:
    own = o.ctx.tenant.namespace
    others = o.ctx.tenant_namespaces - {own}
    for d in o.docs:
        ns = _meta(d).get("namespace")
        if d.get("kind") == "Namespace":
            if _name(d) != own:
                yield o.ctx.finding(ISO_OTHER_NAMESPACE,
                                    f"the overlay creates Namespace {_name(d)!r}; its only namespace is {own!r}",
                                    _ref(d))
        elif ns is not None and ns != own:
            yield o.ctx.finding(ISO_OTHER_NAMESPACE,
                                f"{_ref(d)} is in namespace {ns!r}, not the tenant's namespace {own!r}", _ref(d))
        if d.get("kind") in ("RoleBinding", "ClusterRoleBinding"):
            for s in (_m(x) for x in _l(d.get("subjects"))):
                if s.get("namespace") in others:
                    yield o.ctx.finding(ISO_OTHER_NAMESPACE,
                                        f"binds subject {s.get('kind')}/{s.get('name')} of tenant namespace "
                                        f"{s.get('namespace')!r}", _ref(d))
    for policy in o.policies:
        spec = _m(policy.get("spec"))
        for direction, key in (("ingress", "from"), ("egress", "to")):
            for r in (_m(x) for x in _l(spec.get(direction))):
                for peer in (_m(p) for p in _l(r.get(key))):
                    named = (named_namespaces(peer["namespaceSelector"]) or set()) & others \
                        if "namespaceSelector" in peer else set()
                    if named:
                        yield o.ctx.finding(ISO_OTHER_NAMESPACE,
                                            f"{direction} peer selects namespace of another tenant: {_plural(named)}",
                                            _ref(policy))


def _check_services(o: _Overlay) -> Iterator[Finding]:
    for svc in _of_kind(o.docs, "Service"):
        spec = _m(svc.get("spec"))
        kind = spec.get("type", "ClusterIP")
        if kind in ("LoadBalancer", "NodePort"):
            yield o.ctx.finding(ISO_EXPOSED_SERVICE, f"Service type {kind} exposes pods outside the Ingress",
                                _ref(svc))
        if _l(spec.get("externalIPs")):
            yield o.ctx.finding(ISO_EXPOSED_SERVICE, f"Service has externalIPs {_l(spec.get('externalIPs'))}",
                                _ref(svc))


def _check_host_access(o: _Overlay) -> Iterator[Finding]:
    for pod in o.pods:
        used = [f for f in ("hostNetwork", "hostPID", "hostIPC") if _is_true(pod.spec.get(f))]
        used += [f"hostPort {_m(p).get('hostPort')} ({c.get('name')})" for c in pod.containers()
                 for p in _l(c.get("ports")) if _m(p).get("hostPort") not in (None, 0)]
        if used:
            yield o.ctx.finding(ISO_HOST_ACCESS, f"pod template uses {', '.join(used)}", pod.ref)


def _check_quota(o: _Overlay) -> Iterator[Finding]:
    for quota in _of_kind(o.docs, "ResourceQuota"):
        spec = _m(quota.get("spec"))
        hard = _m(spec.get("hard"))
        if (o.in_namespace(quota) and not _l(spec.get("scopes")) and not spec.get("scopeSelector")
                and _is_zero(hard.get("services.loadbalancers")) and _is_zero(hard.get("services.nodeports"))):
            return
    ns = o.ctx.tenant.namespace
    yield o.ctx.finding(ISO_QUOTA, f"no ResourceQuota in namespace {ns!r} sets services.loadbalancers and "
                        "services.nodeports to 0", f"Namespace/{ns}")


def _check_pod_security(o: _Overlay) -> Iterator[Finding]:
    namespaces = _of_kind(o.docs, "Namespace")
    if not namespaces:
        ns = o.ctx.tenant.namespace
        yield o.ctx.finding(ISO_POD_SECURITY, f"the overlay has no Namespace {ns!r}, so nothing sets its Pod Security "
                            "level", f"Namespace/{ns}")
    for d in namespaces:
        level = _labels(d).get("pod-security.kubernetes.io/enforce")
        if level not in POD_SECURITY_LEVELS:
            shown = "is missing" if level is None else f"is {level!r}"
            yield o.ctx.finding(ISO_POD_SECURITY, f"label pod-security.kubernetes.io/enforce {shown}; tenant "
                                "namespaces enforce at least 'baseline'", _ref(d))


def _check_tokens(o: _Overlay) -> Iterator[Finding]:
    accounts = {_name(sa): sa for sa in _of_kind(o.docs, "ServiceAccount")}
    for sa in accounts.values():
        if not _is_false(sa.get("automountServiceAccountToken")):
            yield o.ctx.finding(ISO_SA_TOKEN, "ServiceAccount does not set automountServiceAccountToken: false",
                                _ref(sa))
    for pod in o.pods:
        name = str(pod.spec.get("serviceAccountName") or pod.spec.get("serviceAccount") or "default")
        own = pod.spec.get("automountServiceAccountToken")
        if own is not None:
            mounted = not _is_false(own)
        else:
            account = accounts.get(name)
            mounted = account is None or not _is_false(account.get("automountServiceAccountToken"))
        if mounted:
            why = ("the pod template sets automountServiceAccountToken: true" if own is not None else
                   f"neither the pod template nor its ServiceAccount {name!r} sets automountServiceAccountToken: "
                   "false")
            yield o.ctx.finding(ISO_SA_TOKEN, f"the service account token is mounted: {why}", pod.ref)


# --------------------------------------------------------------------------- HTTPS and routing

def _covered(host: str, tls_hosts: set[str]) -> bool:
    if host in tls_hosts:
        return True
    _, _, parent = host.partition(".")
    return f"*.{parent}" in tls_hosts


def ingress_hosts(ingress: Mapping[str, Any]) -> list[str]:
    """Every host an Ingress answers or publishes: rule hosts, TLS hosts, ExternalDNS hostnames."""
    spec = _m(ingress.get("spec"))
    hosts = [str(_m(r).get("host")) for r in _l(spec.get("rules")) if _m(r).get("host")]
    hosts += [str(h) for t in _l(spec.get("tls")) for h in _l(_m(t).get("hosts"))]
    dns = _annotations(ingress).get(EXTERNAL_DNS_HOSTNAME)
    if isinstance(dns, str):
        hosts += [h.strip() for h in dns.split(",") if h.strip()]
    return list(dict.fromkeys(hosts))


def _check_ingresses(o: _Overlay) -> Iterator[Finding]:
    ctx = o.ctx
    regional = ctx.cluster.regional_host(ctx.tenant.name)
    allowed = {*ctx.tenant.global_hosts_of(ctx.cluster.name), regional}
    for ing in _of_kind(o.docs, "Ingress"):
        spec = _m(ing.get("spec"))
        ann = _annotations(ing)
        rules = [_m(r) for r in _l(spec.get("rules"))]
        tls_hosts = {str(h) for t in _l(spec.get("tls")) for h in _l(_m(t).get("hosts"))}
        rule_hosts = [str(r["host"]) for r in rules if r.get("host")]
        if not _l(spec.get("tls")):
            yield ctx.finding(HTTPS_TLS, "Ingress has no tls section: its hosts are served without HTTPS", _ref(ing))
        else:
            uncovered = [h for h in rule_hosts if not _covered(h, tls_hosts)]
            if uncovered:
                yield ctx.finding(HTTPS_TLS, f"hosts not covered by spec.tls: {', '.join(uncovered)}", _ref(ing))
        if not any(ann.get(a) for a in ISSUER_ANNOTATIONS):
            yield ctx.finding(HTTPS_ISSUER, "Ingress has no cert-manager.io/cluster-issuer or cert-manager.io/issuer "
                              "annotation: no certificate is issued", _ref(ing))
        wrong = [f"{k}={ann.get(k)!r} (expected {v!r})" for k, v in ctx.config.ingress_annotations.items()
                 if str(ann.get(k)) != str(v)]
        if wrong:
            yield ctx.finding(HTTPS_REDIRECT, f"HTTP is not redirected to HTTPS: {', '.join(wrong)}", _ref(ing))
        if any(not r.get("host") for r in rules):
            yield ctx.finding(HTTPS_CATCH_ALL, "a rule has no host: it answers every host name, outside TLS",
                              _ref(ing))
        if spec.get("defaultBackend"):
            yield ctx.finding(HTTPS_CATCH_ALL, "spec.defaultBackend answers every unmatched host, outside TLS",
                              _ref(ing))
        suffix = "." + ctx.cluster.domain
        for host in ingress_hosts(ing):
            if host == regional or host in allowed:
                continue
            if host.endswith(suffix):
                yield ctx.finding(ROUTE_FOREIGN_REGIONAL,
                                  f"host {host!r} lies in cluster {ctx.cluster.name}'s regional domain "
                                  f"{ctx.cluster.domain!r} but is not this tenant's regional host {regional!r}",
                                  _ref(ing))
            else:
                yield ctx.finding(ROUTE_UNDECLARED,
                                  f"host {host!r} is neither a global host declared for placement "
                                  f"{ctx.cluster.name!r} in tenant.yaml nor the regional host {regional!r}",
                                  _ref(ing))


# --------------------------------------------------------------------------- Windows and WorkflowGen

def _check_windows(o: _Overlay) -> Iterator[Finding]:
    cluster = o.ctx.cluster
    build_number = WINDOWS_BUILDS.get(cluster.windows_build)
    for pod in o.pods:
        node_selector = _m(pod.spec.get("nodeSelector"))
        if pod.is_workflowgen:
            missing = []
            if _m(pod.spec.get("os")).get("name") != "windows":
                missing.append("spec.os.name: windows")
            if node_selector.get("kubernetes.io/os") != "windows":
                missing.append("nodeSelector kubernetes.io/os: windows")
            if missing:
                yield o.ctx.finding(WIN_NOT_WINDOWS, f"WorkflowGen pod lacks {' and '.join(missing)}", pod.ref)
        if pod.is_windows:
            fields = [f"securityContext.{k}" for k in _m(pod.spec.get("securityContext")) if k in LINUX_ONLY_FIELDS]
            if "runAsUserName" in _m(_m(pod.spec.get("securityContext")).get("windowsOptions")):
                fields.append("securityContext.windowsOptions.runAsUserName")
            for c in pod.containers():
                sc = _m(c.get("securityContext"))
                fields += [f"{c.get('name')}: securityContext.{k}" for k in sc if k in LINUX_ONLY_FIELDS]
                if "runAsUserName" in _m(sc.get("windowsOptions")):
                    fields.append(f"{c.get('name')}: securityContext.windowsOptions.runAsUserName")
            if fields:
                yield o.ctx.finding(WIN_LINUX_FIELDS, f"Windows pod sets {', '.join(fields)}", pod.ref)
        if pod.is_workflowgen:
            for c in pod.workflowgen_containers():
                image = str(c.get("image"))
                _, tag = image_repo_tag(image)
                m = _WIN_TAG.search(tag or "")
                if m is None:
                    yield o.ctx.finding(WIN_BUILD, f"image {image!r} has no Windows OS suffix (-win-ltsc2019 or "
                                        "-win-ltsc2022); such tags are ltsc2019 builds", pod.ref)
                elif m.group(1) != cluster.windows_build:
                    yield o.ctx.finding(WIN_BUILD, f"image {image!r} is a {m.group(1)} build but cluster "
                                        f"{cluster.name} runs {cluster.windows_build}", pod.ref)
        build = node_selector.get("node.kubernetes.io/windows-build")
        if (pod.is_workflowgen or build is not None) and build_number is not None and str(build) != build_number:
            shown = "is missing" if build is None else f"is {build!r}"
            yield o.ctx.finding(WIN_BUILD, f"nodeSelector node.kubernetes.io/windows-build {shown}; cluster "
                                f"{cluster.name} runs {cluster.windows_build} ({build_number})", pod.ref)


def _check_services_singleton(o: _Overlay) -> Iterator[Finding]:
    for pod in o.pods:
        services = {start_service(c) for c in pod.workflowgen_containers()} & WINDOWS_SERVICES
        if not services:
            continue
        spec = _m(pod.owner.get("spec"))
        problems = []
        if pod.replicas != 1:
            problems.append("runs on every node" if pod.replicas is None else f"has {pod.replicas} replicas")
        if pod.owner.get("kind") == "Deployment":
            strategy = _m(spec.get("strategy")).get("type", "RollingUpdate")
            if strategy != "Recreate":
                problems.append(f"uses strategy {strategy} (two instances overlap during a rollout)")
        if problems:
            yield o.ctx.finding(WIN_SERVICES_SINGLETON,
                                f"WorkflowGen Windows Services (WFGEN_START_SERVICE={_plural(services)}) must run as "
                                f"exactly one instance, but the workload {' and '.join(problems)}", pod.ref)


def _secret_mounts(pod: Pod, container: Mapping[str, Any]) -> list[str]:
    """Mount paths of Secret-backed volumes in a container, normalised for comparison."""
    secret_volumes: set[str] = set()
    for raw in _l(pod.spec.get("volumes")):
        v = _m(raw)
        sources = _l(_m(v.get("projected")).get("sources"))
        if ("secret" in v or (sources and all("secret" in _m(s) for s in sources))
                or _m(v.get("csi")).get("driver") == "secrets-store.csi.k8s.io"):
            secret_volumes.add(str(v.get("name")))
    return [_norm_path(str(_m(m).get("mountPath"))) for m in _l(container.get("volumeMounts"))
            if str(_m(m).get("name")) in secret_volumes and _m(m).get("mountPath")]


def _norm_path(path: str) -> str:
    return path.replace("\\", "/").rstrip("/").lower()


def _key_problem(name: str, env: Mapping[str, Mapping[str, Any]], mounts: list[str]) -> str | None:
    direct = env.get(name)
    if direct is not None and "value" in direct:
        return f"{name} is a literal value"
    if direct is not None:
        source = next(iter(_m(direct.get("valueFrom"))), "nothing")
        # Set from anything but a Secret, it would compete with (or replace) a <NAME>_FILE.
        return None if source == "secretKeyRef" else f"{name} comes from {source}, not from a Secret"
    file_var = env.get(f"{name}_FILE")
    if file_var is None:
        return f"neither {name}_FILE nor {name} from a secretKeyRef is set"
    path = file_var.get("value")
    if not isinstance(path, str):
        return f"{name}_FILE is not a literal path into a mounted Secret"
    p = _norm_path(path)
    if not any(p == m or p.startswith(m + "/") for m in mounts):
        return f"{name}_FILE={path!r} is not inside a mounted Secret volume"
    return None


def _check_keys(o: _Overlay) -> Iterator[Finding]:
    for pod in o.pods:
        for c in pod.workflowgen_containers():
            env = _env(c)
            mounts = _secret_mounts(pod, c)
            names = [ENCRYPTION_KEY]
            if start_service(c) in WEB_SERVICES and (pod.replicas is None or pod.replicas > 1):
                names += MACHINE_KEYS
            problems = [p for p in (_key_problem(n, env, mounts) for n in names) if p]
            if problems:
                yield o.ctx.finding(WIN_KEYS_FROM_SECRET, f"container {c.get('name')}: {'; '.join(problems)}",
                                    pod.ref)


# --------------------------------------------------------------------------- secrets

def _has_values(doc: Mapping[str, Any]) -> bool:
    return bool(_m(doc.get("data")) or _m(doc.get("stringData")))


def _check_rendered_secrets(o: _Overlay) -> Iterator[Finding]:
    for s in _of_kind(o.docs, "Secret"):
        if _has_values(s):
            keys = [*_m(s.get("data")), *_m(s.get("stringData"))]
            yield o.ctx.finding(SEC_SECRET_IN_GIT, f"rendered Secret carries values ({', '.join(map(str, keys))}): "
                                "they come from git", _ref(s))


def _literal_secret(name: str, value: Any) -> str | None:
    """Why ``name=value`` is a secret written as a literal, or None."""
    if value is None or isinstance(value, (Mapping, list)):
        return None
    text = str(value).strip()
    if _CONNECTION_SECRET.search(text):
        return f"{name} holds a connection string with a password"
    if name.upper().endswith("_FILE") or text.lower() in _FLAG_VALUES:
        return None
    if _SECRET_NAME.search(name):
        return f"{name} looks like a secret and has a literal value"
    return None


def _check_literals(o: _Overlay) -> Iterator[Finding]:
    for cm in _of_kind(o.docs, "ConfigMap"):
        problems = [p for k, v in _m(cm.get("data")).items() if (p := _literal_secret(str(k), v))]
        if problems:
            yield o.ctx.finding(SEC_LITERAL, "; ".join(problems), _ref(cm))
    for pod in o.pods:
        problems = [f"{c.get('name')}: {p}" for c in pod.containers() for e in _l(c.get("env"))
                    if "value" in _m(e) and (p := _literal_secret(str(_m(e).get("name")), _m(e).get("value")))]
        if problems:
            yield o.ctx.finding(SEC_LITERAL, f"literal env: {'; '.join(problems)}", pod.ref)


# --------------------------------------------------------------------------- data protection

def _argo_protected(annotations: Mapping[str, Any]) -> bool:
    options = {o.strip() for o in str(annotations.get(ARGO_SYNC_OPTIONS, "")).split(",")}
    return {"Prune=false", "Delete=false"} <= options


def _flux_protected(annotations: Mapping[str, Any]) -> bool:
    return annotations.get(FLUX_PRUNE) == "disabled"


def _data_bearing(o: _Overlay) -> Iterator[tuple[Mapping[str, Any], str, Mapping[str, Any]]]:
    """(object, what, annotations) of every data-bearing object and StatefulSet volume claim template."""
    for d in o.docs:
        kind = d.get("kind")
        if kind in ("Namespace", "PersistentVolumeClaim"):
            yield d, kind, _annotations(d)
        elif kind == "StatefulSet":
            spec = _m(d.get("spec"))
            templates = [_m(t) for t in _l(spec.get("volumeClaimTemplates"))]
            images = [str(_m(c).get("image", "")) for c in _l(_m(_m(spec.get("template")).get("spec"))
                                                               .get("containers"))]
            if templates or _labels(d).get(LABEL_COMPONENT) == "database" or any("sql" in i for i in images):
                yield d, "StatefulSet", _annotations(d)
            for t in templates:
                yield d, f"volumeClaimTemplate {_m(t.get('metadata')).get('name')!r}", \
                    _m(_m(t.get("metadata")).get("annotations"))


def _shown(value: Any) -> str:
    return "not set" if value is None else f"set to {value!r}"


def _check_data_protection(o: _Overlay) -> Iterator[Finding]:
    for d, what, ann in _data_bearing(o):
        if not _argo_protected(ann):
            yield o.ctx.finding(DATA_ARGO_PROTECT,
                                f"{what} lacks {ARGO_SYNC_OPTIONS}: Prune=false,Delete=false "
                                f"({_shown(ann.get(ARGO_SYNC_OPTIONS))}); deleting the Application deletes its data",
                                _ref(d))
        if not _flux_protected(ann):
            yield o.ctx.finding(DATA_FLUX_PROTECT,
                                f"{what} lacks {FLUX_PRUNE}: disabled ({_shown(ann.get(FLUX_PRUNE))}); "
                                "removing the Kustomization prunes its data", _ref(d))


_OVERLAY_CHECKS = (
    _check_default_deny, _check_web_ingress, _check_win_services_ingress, _check_database_ingress, _check_open_peers,
    _check_other_namespaces, _check_services, _check_host_access, _check_quota, _check_pod_security, _check_tokens,
    _check_ingresses, _check_windows, _check_services_singleton, _check_keys, _check_rendered_secrets,
    _check_literals, _check_data_protection,
)


def check_overlay(ctx: OverlayContext) -> list[Finding]:
    """Every per-overlay rule over one overlay's rendered objects."""
    o = _Overlay(ctx)
    return [f for check in _OVERLAY_CHECKS for f in check(o)]


# --------------------------------------------------------------------------- routing across overlays

def check_routing(estate: Estate, rendered: Mapping[str, Sequence[Mapping[str, Any]]]) -> list[Finding]:
    """Hosts across overlays (keys ``overlays/<tenant>/<cluster>``): one tenant per host (ROUTE001), one
    placement per host within a tenant (ROUTE002)."""
    claims: dict[str, list[tuple[str, str, str, str]]] = {}
    for overlay in sorted(rendered):
        parts = overlay.split("/")
        if len(parts) < 3:
            continue
        tenant, cluster = parts[1], parts[2]
        for ing in _of_kind((d for d in rendered[overlay] if isinstance(d, Mapping)), "Ingress"):
            for host in ingress_hosts(ing):
                entry = (tenant, cluster, overlay, _ref(ing))
                if entry not in claims.setdefault(host, []):
                    claims[host].append(entry)
    findings: list[Finding] = []
    for host, entries in sorted(claims.items()):
        tenants = sorted({t for t, _, _, _ in entries})
        placements: dict[str, list[str]] = {}
        for t, c, _, _ in entries:
            if c not in placements.setdefault(t, []):
                placements[t].append(c)
        for tenant, cluster, overlay, obj in entries:
            path = f"{overlay}/kustomization.yaml"
            if len(tenants) > 1:
                findings.append(finding(
                    ROUTE_SHARED_HOST, f"host {host!r} is served by tenants {', '.join(tenants)}", tenant=tenant,
                    cluster=cluster, obj=obj, path=path))
            if len(placements[tenant]) > 1:
                declared = estate.tenants.get(tenant)
                owner = [h.placement for h in declared.hosts if h.host == host] if declared else []
                note = f"; tenant.yaml gives it to placement {owner[0]}" if owner else ""
                findings.append(finding(
                    ROUTE_GLOBAL_TWICE, f"host {host!r} of tenant {tenant} is served by placements "
                    f"{', '.join(placements[tenant])}{note}", tenant=tenant, cluster=cluster, obj=obj, path=path))
    return findings


# --------------------------------------------------------------------------- repository files

def repository_files(root: Path) -> list[str]:
    """Repository-relative paths of every file of the work tree, outside any .git directory."""
    out: list[str] = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if d != ".git")
        rel = Path(dirpath).relative_to(root).as_posix()
        prefix = "" if rel == "." else rel + "/"
        out += [prefix + f for f in sorted(filenames)]
    return out


def _dirs_of(files: Iterable[str], skip_hidden: bool) -> set[str]:
    dirs: set[str] = set()
    for f in files:
        parts = f.split("/")[:-1]
        for i in range(1, len(parts) + 1):
            if skip_hidden and parts[i - 1].startswith("."):
                break
            dirs.add("/".join(parts[:i]))
    return dirs


_GLOB_CHARS = re.compile(r"[*?\[]")


def greedy_match(pattern: str, path: str) -> bool:
    """Argo CD's default git files matching (``git ls-files -- <pattern>``): '*' also matches '/'; a
    pattern without wildcards matches the path itself or everything under it."""
    pattern = pattern.lstrip("/")
    if not _GLOB_CHARS.search(pattern):
        return path == pattern or path.startswith(pattern.rstrip("/") + "/")
    return fnmatch.fnmatchcase(path, pattern.replace("[^", "[!"))


def exact_match(pattern: str, path: str) -> bool:
    """Go's path.Match: '*' and '?' never match '/'."""
    pp, sp = pattern.lstrip("/").replace("[^", "[!").split("/"), path.split("/")
    return len(pp) == len(sp) and all(fnmatch.fnmatchcase(s, p) for s, p in zip(sp, pp, strict=True))


def _literal_prefix(pattern: str) -> str:
    m = _GLOB_CHARS.search(pattern)
    return pattern.lstrip("/") if m is None else pattern[:m.start()].lstrip("/")


def _matching(patterns: list[str], excludes: list[str], candidates: list[str],
              match: Any) -> set[str]:
    found: set[str] = set()
    for pattern in patterns:
        prefix = _literal_prefix(pattern)
        found |= {c for c in candidates if c.startswith(prefix) and match(pattern, c)}
    for pattern in excludes:
        found -= {c for c in found if match(pattern, c)}
    return found


def _norm_url(url: Any) -> str:
    return str(url).strip().rstrip("/").removesuffix(".git").lower()


def _git_generators(generators: Any) -> Iterator[Mapping[str, Any]]:
    """Git generators, including those nested in matrix and merge generators."""
    for raw in _l(generators):
        g = _m(raw)
        if "git" in g:
            yield _m(g["git"])
        for combo in ("matrix", "merge"):
            if combo in g:
                yield from _git_generators(_m(g[combo]).get("generators"))


def _cluster_of(rel: str) -> str | None:
    parts = rel.split("/")
    return parts[1] if len(parts) > 2 and parts[0] == layout.CLUSTERS_DIR else None


def _controller_docs(root: Path, files: list[str]) -> Iterator[tuple[str, Mapping[str, Any]]]:
    wanted = (b"ApplicationSet", b"Kustomization", b"GitRepository")
    for rel in files:
        if not rel.startswith((layout.CLUSTERS_DIR + "/", layout.ARGOCD_DIR + "/")):
            continue
        if not rel.endswith((".yaml", ".yml")):
            continue
        try:
            data = (root / rel).read_bytes()
        except OSError:
            continue
        if not any(w in data for w in wanted):
            continue  # placement records and cluster declarations: nothing to check
        try:
            docs = list(yamlio.load_all(data))
        except Exception:  # not YAML: the schema stage reports it
            continue
        for doc in docs:
            if isinstance(doc, Mapping):
                yield rel, doc


def _check_applicationset(rel: str, appset: Mapping[str, Any], repo_url: str, files: list[str],
                          argo_dirs: list[str]) -> Iterator[Finding]:
    spec = _m(appset.get("spec"))
    obj = _ref(appset)
    cluster = _cluster_of(rel)

    def make(r: Rule, message: str) -> Finding:
        return finding(r, message, cluster=cluster, obj=obj, path=rel)

    if not _is_true(_m(spec.get("syncPolicy")).get("preserveResourcesOnDeletion")):
        yield make(DATA_PRESERVE, "spec.syncPolicy.preserveResourcesOnDeletion is not true: deleting a generated "
                   "Application (e.g. after an empty generator result) deletes the tenant's resources")
    options = [str(x) for x in _l(spec.get("goTemplateOptions"))]
    if not _is_true(spec.get("goTemplate")) or "missingkey=error" not in options:
        yield make(DATA_GO_TEMPLATE, f"goTemplate is {json.dumps(spec.get('goTemplate'))} and goTemplateOptions "
                   f"{json.dumps(options)}: a "
                   "missing parameter must fail the generation, not render an empty value")
    for git in _git_generators(spec.get("generators")):
        if _norm_url(git.get("repoURL")) != repo_url:
            continue  # another repository: its files are not here
        items = [_m(x) for x in _l(git.get("files"))]
        if items:
            # git reads a pathspec relative to the repository root: './x' is 'x'.
            inc = [str(x.get("path", "")).removeprefix("./") for x in items if not _is_true(x.get("exclude"))]
            exc = [str(x.get("path", "")).removeprefix("./") for x in items if _is_true(x.get("exclude"))]
            greedy = _matching(inc, exc, files, greedy_match)
            shown = ", ".join(repr(p) for p in inc) + (f" (excluding {', '.join(map(repr, exc))})" if exc else "")
            if not greedy:
                yield make(DATA_EMPTY_GENERATOR, f"git files generator {shown} matches no file: a generator "
                           "that yields nothing makes Argo CD delete every Application it generated")
            exact = _matching(inc, exc, files, exact_match)
            if greedy != exact:
                only_greedy, only_exact = sorted(greedy - exact), sorted(exact - greedy)
                detail = []
                if only_greedy:
                    detail.append(f"only greedy globbing matches {', '.join(only_greedy[:3])}")
                if only_exact:
                    detail.append(f"only exact globbing matches {', '.join(only_exact[:3])}")
                yield make(DATA_GLOB_AMBIGUOUS, f"git files generator {shown}: {'; '.join(detail)}")
            continue
        dirs = [_m(x) for x in _l(git.get("directories"))]
        if dirs:
            inc = [str(x.get("path", "")) for x in dirs if not _is_true(x.get("exclude"))]
            exc = [str(x.get("path", "")) for x in dirs if _is_true(x.get("exclude"))]
            # The directories generator matches every directory with Go's path.Match (argo-cd git.go filterApps).
            if not _matching(inc, exc, argo_dirs, exact_match):
                yield make(DATA_EMPTY_GENERATOR, f"git directories generator {', '.join(repr(p) for p in inc)} "
                           "matches no directory: a generator that yields nothing makes Argo CD delete every "
                           "Application it generated")


def _flux_path(value: Any) -> str | None:
    """The repository-relative directory of a Flux Kustomization path; None when it leaves the repository."""
    raw = str(value or "./").strip().replace("\\", "/")
    norm = os.path.normpath(raw.lstrip("/")) if raw.lstrip("/") else "."
    if norm == ".." or norm.startswith("../"):
        return None
    return "" if norm == "." else PurePosixPath(norm).as_posix()


def check_controllers(root: Path, estate: Estate) -> list[Finding]:
    """The Argo CD ApplicationSets and Flux Kustomizations under clusters/ and argocd/ (DATA003-DATA007)."""
    files = repository_files(root)
    repo_url = _norm_url(estate.config.repo_url)
    argo_dirs = sorted(_dirs_of(files, skip_hidden=True))
    all_dirs = _dirs_of(files, skip_hidden=False) | {""}
    docs = list(_controller_docs(root, files))
    sources = {(str(_meta(d).get("namespace", "")), _name(d)): _norm_url(_m(d.get("spec")).get("url"))
               for _, d in docs if d.get("kind") == "GitRepository"}
    findings: list[Finding] = []
    for rel, doc in docs:
        api = str(doc.get("apiVersion", ""))
        if doc.get("kind") == "ApplicationSet" and api.startswith("argoproj.io/"):
            findings += _check_applicationset(rel, doc, repo_url, files, argo_dirs)
        elif doc.get("kind") == "Kustomization" and api.startswith("kustomize.toolkit.fluxcd.io/"):
            spec = _m(doc.get("spec"))
            source = _m(spec.get("sourceRef"))
            if source.get("kind", "GitRepository") != "GitRepository":
                continue
            key = (str(source.get("namespace") or _meta(doc).get("namespace", "")), str(source.get("name")))
            if key in sources and sources[key] != repo_url:
                continue  # reconciles another repository
            path = _flux_path(spec.get("path"))
            if path is None or path not in all_dirs:
                parts = rel.split("/")
                tenant = _labels(doc).get("gitops-gen.io/tenant")
                if tenant is None and len(parts) == 4 and parts[2] == "tenants":
                    tenant = parts[3].rsplit(".", 1)[0]
                findings.append(finding(
                    DATA_FLUX_PATH, f"spec.path {spec.get('path')!r} is not a directory of the repository: "
                    "the Kustomization fails and the tenant is no longer reconciled",
                    tenant=None if tenant is None else str(tenant), cluster=_cluster_of(rel), obj=_ref(doc),
                    path=rel))
    return findings


def _owner_of(rel: str) -> tuple[str | None, str | None]:
    parts = rel.split("/")
    if parts[0] == layout.OVERLAYS_DIR and len(parts) > 2:
        return parts[1], (parts[2] if len(parts) > 3 else None)
    if parts[0] == layout.CLUSTERS_DIR and len(parts) > 2:
        return None, parts[1]
    return None, None


#: Cheap pre-filter: a document of kind Secret (not ExternalSecret, SecretStore) or a secretGenerator.
_MAY_HOLD_SECRETS = re.compile(rb"\bkind[\"']?\s*:\s*[\"']?Secret\b(?![-.])|secretGenerator")


def check_repository_secrets(root: Path, files: Iterable[str]) -> list[Finding]:
    """SEC001 over repository YAML files: a Secret with data or stringData, or a kustomize secretGenerator
    with literals, files or envs, writes a secret value into git."""
    findings: list[Finding] = []
    for rel in files:
        try:
            data = (root / rel).read_bytes()
        except OSError:
            continue
        if not _MAY_HOLD_SECRETS.search(data):
            continue  # e.g. ExternalSecrets: references, and most of the estate's files
        try:
            docs = list(yamlio.load_all(data))
        except Exception:  # not YAML: the schema stage reports it
            continue
        tenant, cluster = _owner_of(rel)
        objects = [d for d in docs if isinstance(d, Mapping)]
        objects += [_m(i) for d in objects if d.get("kind") == "List" for i in _l(d.get("items"))]
        for d in objects:
            if d.get("kind") == "Secret" and _has_values(d):
                keys = [*_m(d.get("data")), *_m(d.get("stringData"))]
                findings.append(finding(
                    SEC_SECRET_IN_GIT, f"Secret carries values in git ({', '.join(map(str, keys))})",
                    tenant=tenant, cluster=cluster, obj=_ref(d), path=rel))
            for gen in (_m(g) for g in _l(d.get("secretGenerator"))):
                sources = [k for k in ("literals", "files", "envs") if _l(gen.get(k))]
                if sources:
                    findings.append(finding(
                        SEC_SECRET_IN_GIT, f"secretGenerator {gen.get('name')!r} takes values from git "
                        f"({', '.join(sources)})", tenant=tenant, cluster=cluster, obj=f"Secret/{gen.get('name')}",
                        path=rel))
    return findings
