"""The platform level of a diff: every controller object in the files under ``clusters/`` and ``argocd/``
(ApplicationSets, AppProjects, the bootstrap Applications, Flux GitRepositories and parent Kustomizations),
object by object, the risks of their changes, and the risks of estate- and cluster-wide settings.

A tenant's own files there are left to other parts: its Flux platform objects (``clusters/<c>/platform/<t>/``)
are shown as the tenant's objects, and its placement files (``clusters/<c>/tenants/<t>.yaml``) as the
Applications and Kustomizations they make.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from gitops_gen.estate import layout
from gitops_gen.estate.load import Estate
from gitops_gen.estate.model import Cluster, EstateConfig
from gitops_gen.review.sides import Side, docs_of

#: (severity, id, tenant, cluster, message): the shape of diff.Risk, built there.
RiskTuple = tuple[str, str, str | None, str | None, str]
Differ = Callable[[str, str, list[dict[str, Any]], list[dict[str, Any]]], list[Any]]


@dataclass(frozen=True)
class PlatformFile:
    path: str
    before: tuple[Mapping[str, Any], ...]
    after: tuple[Mapping[str, Any], ...]


def platform_paths(changed: Iterable[str]) -> list[str]:
    """The changed controller files whose objects the platform level shows."""
    out = []
    for p in changed:
        if not p.startswith((f"{layout.CLUSTERS_DIR}/", f"{layout.ARGOCD_DIR}/")):
            continue
        if not p.endswith((".yaml", ".yml", ".json")):
            continue
        parts = p.split("/")
        if parts[0] == layout.CLUSTERS_DIR and len(parts) >= 3 and parts[2] in ("platform", "tenants"):
            continue
        if parts[0] == layout.CLUSTERS_DIR and len(parts) == 3 and parts[2] == "cluster.yaml":
            continue  # a declaration: its effects are shown, and its settings in the cluster summary
        out.append(p)
    return sorted(out)


def _objects(data: bytes | None) -> tuple[Mapping[str, Any], ...]:
    if data is None:
        return ()
    return tuple(d for d in docs_of(data) if d.get("kind") and d.get("apiVersion"))


def read_platform(base: Side, head: Side, paths: Sequence[str]) -> list[PlatformFile]:
    return [PlatformFile(p, _objects(base.read(p)), _objects(head.read(p))) for p in paths]


def _m(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _l(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _name(doc: Mapping[str, Any]) -> str:
    return str(_m(doc.get("metadata")).get("name") or "")


def _key(doc: Mapping[str, Any]) -> tuple[str, str, str]:
    meta = _m(doc.get("metadata"))
    return str(doc.get("kind")), str(meta.get("namespace") or ""), str(meta.get("name") or "")


def _entries(value: Any) -> set[str]:
    """A list field as comparable strings (dicts as their sorted key=value pairs)."""
    out = set()
    for item in _l(value):
        if isinstance(item, Mapping):
            out.add(", ".join(f"{k}={item[k]}" for k in sorted(item)))
        else:
            out.add(str(item))
    return out


_PROJECT_LISTS = (("destinations", "destinations"), ("sourceRepos", "source repositories"),
                  ("clusterResourceWhitelist", "cluster-scoped kinds"),
                  ("namespaceResourceWhitelist", "namespaced kinds"), ("sourceNamespaces", "source namespaces"))
_PROJECT_DENY = (("clusterResourceBlacklist", "cluster-scoped kinds denied"),
                 ("namespaceResourceBlacklist", "namespaced kinds denied"))


def _project_risks(path: str, before: Mapping[str, Any], after: Mapping[str, Any]) -> list[RiskTuple]:
    old, new = _m(before.get("spec")), _m(after.get("spec"))
    tenant = str(_m(_m(after.get("metadata")).get("labels")).get("gitops-gen.io/tenant") or "") or None
    widened = []
    for field_name, what in _PROJECT_LISTS:
        added = sorted(_entries(new.get(field_name)) - _entries(old.get(field_name)))
        if added:
            shown = "; ".join(added[:5]) + (f" and {len(added) - 5} more" if len(added) > 5 else "")
            widened.append((field_name, f"{what} added: {shown}"))
    for field_name, what in _PROJECT_DENY:
        removed = sorted(_entries(old.get(field_name)) - _entries(new.get(field_name)))
        if removed:
            widened.append((field_name, f"{what} no longer: {'; '.join(removed[:5])}"))
    # An AppProject without a namespaced allow list allows every namespaced kind (Argo CD projects docs).
    every_kind = bool(_entries(old.get("namespaceResourceWhitelist"))) and not _entries(
        new.get("namespaceResourceWhitelist"))
    if every_kind:
        widened.append(("namespaceResourceWhitelist", "namespaced kinds: every kind (its allow list is gone)"))
    risks: list[RiskTuple] = []
    if not before:  # a new project: only what no tenant project of gitops-gen allows is a risk
        beyond_namespace = bool(_entries(new.get("clusterResourceWhitelist")) - {"group=, kind=Namespace"})
        widened = [(f, w) for f, w in widened
                   if "*" in w or (f == "clusterResourceWhitelist" and beyond_namespace)]
    if widened:
        wide = every_kind or any(f == "clusterResourceWhitelist" for f, _ in widened) or any(
            "*" in e for f, _ in widened if f in ("destinations", "sourceRepos")
            for e in _entries(new.get(f)) - _entries(old.get(f)))
        risks.append(("high" if wide else "medium", "project-widened", tenant, None,
                      f"AppProject {_name(after)} ({path}) {'is new and allows' if not before else 'allows more'}: "
                      + "; ".join(w for _, w in widened)))
    return risks


_SAFE_SYNC = ("create-only", "create-update", "create-delete")


def _appset_risks(path: str, cluster: str | None, before: Mapping[str, Any],
                  after: Mapping[str, Any] | None) -> list[RiskTuple]:
    old = _m(_m(before.get("spec")).get("syncPolicy"))
    new = _m(_m(after.get("spec")).get("syncPolicy")) if after is not None else {}
    name = _name(before)
    risks: list[RiskTuple] = []
    if after is None:
        # Deleting an ApplicationSet deletes the Applications it owns, and their resources unless
        # preserveResourcesOnDeletion (Argo CD docs, operator-manual/applicationset/Application-Deletion).
        kept = old.get("preserveResourcesOnDeletion") is True
        risks.append(("high", "appset-removed", None, cluster,
                      f"ApplicationSet {name} ({path}) is removed: once it is deleted from the hub, Argo CD deletes "
                      "every Application it generated" + ("" if kept else ", and with them the tenants' objects "
                                                          "(syncPolicy.preserveResourcesOnDeletion is not set)")))
        return risks
    was, now = old.get("preserveResourcesOnDeletion") is True, new.get("preserveResourcesOnDeletion") is True
    if was != now:
        risks.append(("high" if was else "low", "appset-safety", None, cluster,
                      f"ApplicationSet {name}: syncPolicy.preserveResourcesOnDeletion {str(was).lower()} → "
                      f"{str(now).lower()}" + (": deleting the ApplicationSet or one of its Applications now "
                                                "deletes the tenants' objects too" if was else "")))
    a, b = old.get("applicationsSync"), new.get("applicationsSync")
    if a != b:
        weaker = str(b or "sync") not in ("create-only", "create-update") and str(a or "sync") in _SAFE_SYNC
        risks.append(("high" if weaker else "medium", "appset-safety", None, cluster,
                      f"ApplicationSet {name}: syncPolicy.applicationsSync {a or '(unset: sync)'} → "
                      f"{b or '(unset: sync)'}" + (": Argo CD may now delete Applications that are no longer "
                                                   "generated, and with them the tenants' objects" if weaker else "")))
    return risks


def _flux_risks(path: str, cluster: str | None, before: Mapping[str, Any],
                after: Mapping[str, Any] | None) -> list[RiskTuple]:
    kind, name = str(before.get("kind")), _name(before)
    old = _m(before.get("spec"))
    new = _m(after.get("spec")) if after is not None else {}
    risks: list[RiskTuple] = []
    if kind == "Kustomization":
        if after is None:
            policy = str(old.get("deletionPolicy") or "MirrorPrune")
            risks.append(("high" if policy != "Orphan" else "medium", "flux-parent", None, cluster,
                          f"Flux Kustomization {name} ({path}) is removed (deletionPolicy {policy})"
                          + (": Flux deletes what it applied, every tenant Kustomization included" if policy
                             != "Orphan" else ": what it applied stays, no longer reconciled")))
            return risks
        for field_name, default in (("prune", False), ("deletionPolicy", "MirrorPrune")):
            a, b = old.get(field_name, default), new.get(field_name, default)
            if a != b:
                danger = (field_name == "deletionPolicy" and a == "Orphan") or (field_name == "prune" and b is True)
                risks.append(("high" if danger else "medium", "flux-parent", None, cluster,
                              f"Flux Kustomization {name}: spec.{field_name} {a} → {b}"))
    elif kind == "GitRepository" and after is not None:
        for field_name in ("url", "ref"):
            if old.get(field_name) != new.get(field_name):
                risks.append(("medium", "flux-source", None, cluster,
                              f"Flux GitRepository {name}: spec.{field_name} changes: what every Kustomization "
                              f"reading it applies comes from {new.get(field_name)}"))
    return risks


def platform_risks(files: Sequence[PlatformFile]) -> list[RiskTuple]:
    risks: list[RiskTuple] = []
    for f in files:
        cluster = f.path.split("/")[1] if f.path.startswith(f"{layout.CLUSTERS_DIR}/") else None
        if f.path == layout.ARGOCD_BOOTSTRAP and f.before != f.after and f.before:
            risks.append(("medium", "bootstrap-changed", None, None,
                          f"{f.path} changes: the root Application and the gitops-gen AppProject manage every "
                          "AppProject and ApplicationSet on the hub"))
        if f.path.startswith(f"{layout.ARGOCD_DIR}/clusters/") and f.before and not f.after:
            risks.append(("medium", "bootstrap-changed", None, f.path.rsplit("/", 1)[-1].rsplit(".", 1)[0],
                          f"{f.path} is removed: its cluster's ApplicationSet is no longer applied (it stays, "
                          "no longer reconciled: the root Application does not prune)"))
        old = {_key(d): d for d in f.before}
        new = {_key(d): d for d in f.after}
        for key in new.keys() - old.keys():  # objects the change adds are assessed against nothing
            doc = new[key]
            api = str(doc.get("apiVersion", ""))
            if key[0] == "AppProject" and api.startswith("argoproj.io/"):
                risks += _project_risks(f.path, {}, doc)
            elif key[0] == "ApplicationSet" and api.startswith("argoproj.io/"):
                policy = _m(_m(doc.get("spec")).get("syncPolicy"))
                if policy.get("preserveResourcesOnDeletion") is not True or \
                        str(policy.get("applicationsSync") or "sync") not in ("create-only", "create-update"):
                    risks.append(("medium", "appset-safety", None, cluster,
                                  f"new ApplicationSet {key[2]} ({f.path}) lets Argo CD delete what it generates: "
                                  f"preserveResourcesOnDeletion {policy.get('preserveResourcesOnDeletion') is True}, "
                                  f"applicationsSync {policy.get('applicationsSync') or '(unset: sync)'}"))
            elif key[0] == "Kustomization" and api.startswith("kustomize.toolkit.fluxcd.io/") \
                    and "/flux-system/" in f.path and _m(doc.get("spec")).get("deletionPolicy") != "Orphan":
                risks.append(("medium", "flux-parent", None, cluster,
                              f"new Flux Kustomization {key[2]} ({f.path}) has deletionPolicy "
                              f"{_m(doc.get('spec')).get('deletionPolicy') or 'MirrorPrune (default)'}: deleting it "
                              "deletes what it applied"))
        for key, doc in old.items():
            api = str(doc.get("apiVersion", ""))
            after = new.get(key)
            if key[0] == "AppProject" and api.startswith("argoproj.io/") and after is not None:
                risks += _project_risks(f.path, doc, after)
            elif key[0] == "ApplicationSet" and api.startswith("argoproj.io/"):
                risks += _appset_risks(f.path, cluster, doc, after)
            elif api.startswith(("kustomize.toolkit.fluxcd.io/", "source.toolkit.fluxcd.io/")):
                risks += _flux_risks(f.path, cluster, doc, after)
    return risks


# --------------------------------------------------------------------------- clusters and estate settings

def _effective(config: EstateConfig, cluster: Cluster, attr: str) -> str:
    value = getattr(cluster, attr) or getattr(config, attr)
    return str(value) if value else "(the cluster's default)"


@dataclass(frozen=True)
class ClusterChange:
    name: str
    change: str  #: added | removed | changed
    fields: tuple[tuple[str, str, str], ...]  #: (field, old, new); for added: old ''


_CLUSTER_FIELDS = (("controller", "controller"), ("region", "region"), ("windowsBuild", "windows_build"),
                   ("domain", "domain"), ("argocd.server", "argocd_server"), ("argocd.name", "argocd_name"))


def _cluster_fields(config: EstateConfig, c: Cluster) -> dict[str, str]:
    out = {name: str(getattr(c, attr) or "") for name, attr in _CLUSTER_FIELDS}
    out["storage.dataClass"] = _effective(config, c, "data_storage_class")
    out["storage.databaseClass"] = _effective(config, c, "database_storage_class")
    return {k: v for k, v in out.items() if v}


def cluster_changes(base: Estate, head: Estate) -> list[ClusterChange]:
    out = []
    for name in sorted(set(base.clusters) | set(head.clusters)):
        a, b = base.clusters.get(name), head.clusters.get(name)
        if a is None and b is not None:
            out.append(ClusterChange(name, "added",
                                     tuple((k, "", v) for k, v in _cluster_fields(head.config, b).items())))
        elif b is None and a is not None:
            out.append(ClusterChange(name, "removed",
                                     tuple((k, v, "") for k, v in _cluster_fields(base.config, a).items())))
        elif a is not None and b is not None:
            old, new = _cluster_fields(base.config, a), _cluster_fields(head.config, b)
            fields = tuple((k, old.get(k, ""), new.get(k, "")) for k in sorted(old.keys() | new.keys())
                           if old.get(k) != new.get(k))
            if fields:
                out.append(ClusterChange(name, "changed", fields))
    return out


def _placed(estate: Estate, cluster: str) -> int:
    return sum(1 for t in estate.tenants.values() if cluster in t.placements)


def estate_risks(base: Estate, head: Estate) -> list[RiskTuple]:
    """Risks of a change to a setting every tenant of a cluster, or of the estate, depends on."""
    risks: list[RiskTuple] = []
    for name in sorted(set(base.clusters) & set(head.clusters)):
        a, b = base.clusters[name], head.clusters[name]
        n = _placed(head, name)
        if a.windows_build != b.windows_build:
            risks.append(("high", "windows-build-changed", None, name,
                          f"cluster {name}'s Windows build {a.windows_build} → {b.windows_build}: every tenant's "
                          f"image and node selector (node.kubernetes.io/windows-build) change at once on {n} "
                          f"placement{'s' if n != 1 else ''}; the pods stay Pending until {b.windows_build} nodes "
                          "are in the cluster, and all of them restart"))
        for attr, what in (("data_storage_class", "data volume"), ("database_storage_class", "database volume")):
            old, new = _effective(base.config, a, attr), _effective(head.config, b, attr)
            if old != new:
                risks.append(("high", "storage-class-changed", None, name,
                              f"cluster {name}'s {what} storage class {old} → {new}: a claim's class is immutable, "
                              f"so the {n} existing placement{'s' if n != 1 else ''} fail to sync until their "
                              "claims are migrated; only new placements get the new class"))
    if not head.tenants:
        return risks
    total = sum(len(t.placements) for t in head.tenants.values())
    every = f"every tenant ({total} placement{'s' if total != 1 else ''})"
    a_cfg, b_cfg = base.config, head.config
    if a_cfg.ingress_class != b_cfg.ingress_class:
        risks.append(("high", "ingress-class-changed", None, None,
                      f"ingress class {a_cfg.ingress_class} → {b_cfg.ingress_class}: {every} moves to another "
                      "ingress controller at once; hosts stop answering until that controller serves them and "
                      "DNS points at it"))
    if a_cfg.ingress_namespace != b_cfg.ingress_namespace:
        risks.append(("high", "ingress-namespace-changed", None, None,
                      f"ingress controller namespace {a_cfg.ingress_namespace} → {b_cfg.ingress_namespace}: "
                      f"{every}'s NetworkPolicies now admit traffic only from {b_cfg.ingress_namespace}; if the "
                      "controller does not run there, every tenant is unreachable"))
    if (a_cfg.issuer, a_cfg.issuer_kind) != (b_cfg.issuer, b_cfg.issuer_kind):
        risks.append(("medium", "issuer-changed", None, None,
                      f"certificate issuer {a_cfg.issuer_kind}/{a_cfg.issuer} → {b_cfg.issuer_kind}/{b_cfg.issuer}: "
                      f"{every}'s certificates are re-issued; a missing or rate-limited issuer leaves hosts "
                      "without a valid certificate"))
    for attr, what in (("data_storage_class", "data volume"), ("database_storage_class", "database volume")):
        old, new = getattr(a_cfg, attr), getattr(b_cfg, attr)
        if old != new:
            affected = [c for c in head.clusters.values() if getattr(c, attr) is None]
            if affected:
                risks.append(("high", "storage-class-changed", None, None,
                              f"the estate's {what} storage class {old or '(default)'} → {new or '(default)'} on "
                              f"{', '.join(c.name for c in affected)}: a claim's class is immutable, so existing "
                              "placements fail to sync until their claims are migrated"))
    return risks
