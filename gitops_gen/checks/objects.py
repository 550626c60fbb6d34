"""Shared views of rendered objects for the rule families: pods and their WorkflowGen containers,
label selectors, the overlay a rule looks at, and the domain constants the rules check against."""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gitops_gen import yamlio
from gitops_gen.checks.registry import Finding, Rule, finding
from gitops_gen.estate import layout
from gitops_gen.estate.load import Estate
from gitops_gen.estate.model import Cluster, EstateConfig, Tenant

LABEL_COMPONENT = "app.kubernetes.io/component"


NAMESPACE_NAME_LABEL = "kubernetes.io/metadata.name"


WORKFLOWGEN_IMAGE = "advantys/workflowgen"


WEB_PORT = 80


DATABASE_PORT = 1433


#: WFGEN_START_SERVICE values (the image's default is "all") that start the web applications or Windows services.
WEB_SERVICES = frozenset({"all", "web_apps"})


WINDOWS_SERVICES = frozenset({"all", "win_services", "engine", "dir_sync"})


ARGO_SYNC_OPTIONS = "argocd.argoproj.io/sync-options"


FLUX_PRUNE = "kustomize.toolkit.fluxcd.io/prune"


POD_TEMPLATE_KINDS = frozenset({"Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "ReplicationController",
                                 "Job"})


def as_map(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def as_list(value: Any) -> list[Any]:
    return list(value) if isinstance(value, (list, tuple)) else []


def meta_of(doc: Mapping[str, Any]) -> Mapping[str, Any]:
    return as_map(doc.get("metadata"))


def name_of(doc: Mapping[str, Any]) -> str:
    return str(meta_of(doc).get("name", "?"))


def ref_of(doc: Mapping[str, Any]) -> str:
    return f"{doc.get('kind', '?')}/{name_of(doc)}"


def annotations_of(doc: Mapping[str, Any]) -> Mapping[str, Any]:
    return as_map(meta_of(doc).get("annotations"))


def labels_of(doc: Mapping[str, Any]) -> Mapping[str, Any]:
    return as_map(meta_of(doc).get("labels"))


def of_kind(docs: Iterable[Mapping[str, Any]], kind: str) -> list[Mapping[str, Any]]:
    return [d for d in docs if d.get("kind") == kind]


def is_false(value: Any) -> bool:
    return value is False or (isinstance(value, str) and value.lower() == "false")


def is_true(value: Any) -> bool:
    return value is True or (isinstance(value, str) and value.lower() == "true")


def is_zero(value: Any) -> bool:
    if isinstance(value, bool):
        return False
    if isinstance(value, (int, float)):
        return value == 0
    return isinstance(value, str) and value.strip() in ("0", "0.0")


def listed(items: Iterable[str]) -> str:
    return ", ".join(sorted(set(items)))


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


def is_workflowgen_image(image: Any) -> bool:
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
        return ref_of(self.owner)

    @property
    def component(self) -> str | None:
        value = self.labels.get(LABEL_COMPONENT)
        return None if value is None else str(value)

    def containers(self) -> list[Mapping[str, Any]]:
        return [as_map(c) for key in ("initContainers", "containers", "ephemeralContainers")
                for c in as_list(self.spec.get(key))]

    def workflowgen_containers(self) -> list[Mapping[str, Any]]:
        return [c for c in self.containers() if is_workflowgen_image(c.get("image"))]

    @property
    def is_workflowgen(self) -> bool:
        return bool(self.workflowgen_containers())

    @property
    def is_windows(self) -> bool:
        return (self.is_workflowgen or as_map(self.spec.get("os")).get("name") == "windows"
                or as_map(self.spec.get("nodeSelector")).get("kubernetes.io/os") == "windows")


def replicas_of(value: Any, default: int = 1) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else default


def pods_of(docs: Iterable[Mapping[str, Any]]) -> list[Pod]:
    """Every pod template of the rendered workloads, and bare Pods."""
    pods: list[Pod] = []
    for d in docs:
        kind = d.get("kind")
        spec = as_map(d.get("spec"))
        template: Mapping[str, Any] | None = None
        replicas: int | None = 1
        if kind in POD_TEMPLATE_KINDS:
            template = as_map(spec.get("template"))
            if kind == "Job":
                replicas = replicas_of(spec.get("parallelism"))
            elif kind == "DaemonSet":
                replicas = None
            else:
                replicas = replicas_of(spec.get("replicas"))
        elif kind == "CronJob":
            template = as_map(as_map(as_map(spec.get("jobTemplate")).get("spec")).get("template"))
        elif kind == "Pod":
            template = d
        if template is not None:
            labels = as_map(as_map(template.get("metadata")).get("labels"))
            pods.append(Pod(d, labels, as_map(template.get("spec")), replicas))
    return pods


def env_of(container: Mapping[str, Any]) -> dict[str, Mapping[str, Any]]:
    return {str(as_map(e).get("name")): as_map(e) for e in as_list(container.get("env"))
            if as_map(e).get("name") is not None}


def start_service(container: Mapping[str, Any]) -> str:
    """WFGEN_START_SERVICE of a WorkflowGen container (the image's default is 'all')."""
    value = env_of(container).get("WFGEN_START_SERVICE", {}).get("value")
    return str(value).strip().lower() if value is not None else "all"


def selects(selector: Any, labels: Mapping[str, Any]) -> bool:
    """Whether a Kubernetes label selector (matchLabels, matchExpressions) selects these labels.
    A missing or empty selector selects everything; an unknown operator selects nothing."""
    sel = as_map(selector)
    for label, value in as_map(sel.get("matchLabels")).items():
        if label not in labels or str(labels[label]) != str(value):
            return False
    for expr in as_list(sel.get("matchExpressions")):
        e = as_map(expr)
        key, op = str(e.get("key")), e.get("operator")
        values = {str(v) for v in as_list(e.get("values"))}
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


def selector_is_empty(selector: Any) -> bool:
    sel = as_map(selector)
    return not as_map(sel.get("matchLabels")) and not as_list(sel.get("matchExpressions"))


def named_namespaces(selector: Any) -> set[str] | None:
    """The namespaces a namespaceSelector pins by name (kubernetes.io/metadata.name through matchLabels or
    an In expression); None when it does not restrict the name."""
    sel = as_map(selector)
    names: set[str] | None = None
    label = as_map(sel.get("matchLabels")).get(NAMESPACE_NAME_LABEL)
    if label is not None:
        names = {str(label)}
    for expr in as_list(sel.get("matchExpressions")):
        e = as_map(expr)
        if e.get("key") == NAMESPACE_NAME_LABEL and e.get("operator") == "In":
            values = {str(v) for v in as_list(e.get("values"))}
            names = values if names is None else names & values
    return names


def reaches_every_namespace(selector: Any) -> bool:
    """A namespaceSelector without any positive requirement: {} itself, or only NotIn/DoesNotExist terms
    (every namespace but a few), or Exists on the name label."""
    sel = as_map(selector)
    if as_map(sel.get("matchLabels")):
        return False
    for expr in as_list(sel.get("matchExpressions")):
        e = as_map(expr)
        op = e.get("operator")
        if op == "In" or (op == "Exists" and e.get("key") != NAMESPACE_NAME_LABEL):
            return False
    return True


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


def ingress_applies(spec: Mapping[str, Any]) -> bool:
    types = spec.get("policyTypes")
    return types is None or "Ingress" in as_list(types)


def egress_applies(spec: Mapping[str, Any]) -> bool:
    types = spec.get("policyTypes")
    return bool(as_list(spec.get("egress"))) if types is None else "Egress" in as_list(types)


class Overlay:
    """Precomputed views of one overlay's rendered objects."""

    def __init__(self, ctx: OverlayContext) -> None:
        self.ctx = ctx
        self.docs = [d for d in ctx.docs if isinstance(d, Mapping)]
        self.pods = pods_of(self.docs)
        self.policies = of_kind(self.docs, "NetworkPolicy")

    def selected(self, selector: Any) -> list[Pod]:
        return [p for p in self.pods if selects(selector, p.labels)]

    def in_namespace(self, doc: Mapping[str, Any]) -> bool:
        ns = meta_of(doc).get("namespace")
        return ns is None or ns == self.ctx.tenant.namespace

    def ingress_rules(self, component: str) -> Iterator[tuple[Mapping[str, Any], int, Mapping[str, Any]]]:
        """(policy, index, rule) of every ingress rule that applies to pods of ``component``."""
        for policy in self.policies:
            spec = as_map(policy.get("spec"))
            if not ingress_applies(spec):
                continue
            if not any(p.component == component for p in self.selected(spec.get("podSelector"))):
                continue
            for i, r in enumerate(as_list(spec.get("ingress"))):
                yield policy, i, as_map(r)


def norm_url(url: Any) -> str:
    return str(url).strip().rstrip("/").removesuffix(".git").lower()


def cluster_of(rel: str) -> str | None:
    parts = rel.split("/")
    return parts[1] if len(parts) > 2 and parts[0] == layout.CLUSTERS_DIR else None


def repository_files(root: Path) -> list[str]:
    """Repository-relative paths of every file of the work tree, outside any .git directory, sorted.

    One scandir walk building the strings as it goes: at 200,000 files, os.walk with relative paths
    made from Path objects costs three times as much."""
    out: list[str] = []

    def walk(top: str, prefix: str) -> None:
        with os.scandir(top) as it:
            for e in it:
                if e.is_dir():  # as os.walk: a link to a directory is neither followed nor listed
                    if e.name != ".git" and not e.is_symlink():
                        walk(e.path, prefix + e.name + "/")
                else:
                    out.append(prefix + e.name)

    walk(os.fspath(root), "")
    return sorted(out)


def is_hidden(rel: str) -> bool:
    """Whether a repository path lies in a directory whose name starts with a dot."""
    parent = rel.rpartition("/")[0]
    return parent.startswith(".") or "/." in parent


def controller_docs(root: Path, files: list[str]) -> Iterator[tuple[str, Mapping[str, Any]]]:
    wanted = (b"ApplicationSet", b"Kustomization", b"GitRepository", b"Namespace")
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
            continue  # placement records: nothing to check
        try:
            docs = list(yamlio.load_all(data))
        except Exception:  # not YAML: the schema stage reports it
            continue
        for doc in docs:
            if isinstance(doc, Mapping):
                yield rel, doc


#: Kinds that live outside any namespace (what a namespaced account may never create).
CLUSTER_SCOPED_KINDS = frozenset({
    "Namespace", "ClusterRole", "ClusterRoleBinding", "CustomResourceDefinition", "PersistentVolume",
    "StorageClass", "PriorityClass", "IngressClass", "RuntimeClass", "ValidatingWebhookConfiguration",
    "MutatingWebhookConfiguration", "ValidatingAdmissionPolicy", "ValidatingAdmissionPolicyBinding",
    "APIService", "CSIDriver", "VolumeAttachment", "ClusterIssuer", "ClusterSecretStore",
    "ClusterExternalSecret", "GatewayClass", "Node",
})
