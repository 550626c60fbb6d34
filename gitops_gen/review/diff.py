"""``gitops-gen diff``: what a change does to each tenant on each cluster, offline.

Both sides are read from git objects (or the work tree), never checked out over the user's work.
Only overlays whose inputs differ are rendered, through the same batched, cached renderer as
validate. Objects are matched by kind, namespace and name, with kustomize's generated hash suffixes
taken out of names, so a changed ConfigMap shows as a rename plus its data change, not as noise in
every object that refers to it. Secret values are never printed: a changed Secret names its keys.
"""

from __future__ import annotations

import contextlib
import dataclasses
import difflib
import functools
import hashlib
import hmac
import json
import re
import secrets
import tempfile
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import pygit2

from gitops_gen import __version__, checks, gitrepo, yamlio
from gitops_gen.atomic import write_atomic
from gitops_gen.errors import GitError, UserError
from gitops_gen.estate import layout
from gitops_gen.estate.load import Estate, load_estate
from gitops_gen.estate.model import Tenant, move_phase
from gitops_gen.generate.leftovers import left_in_cluster
from gitops_gen.generate.quantity import parse_quantity
from gitops_gen.render.kustomize import (
    OverlayRef,
    Progress,
    RenderCache,
    overlay_input_hash,
    overlay_input_hash_of,
    overlays_affected,
    render_overlays,
    shared_input_hash,
    shared_input_hash_of,
)
from gitops_gen.render.reach import Escape, Reacher
from gitops_gen.review.appset import inputs_confined
from gitops_gen.review.controllers import ControllerChange, diff_controllers
from gitops_gen.review.fleet import Aside
from gitops_gen.review.platform import (
    ClusterChange,
    RiskTuple,
    cluster_changes,
    estate_risks,
    platform_paths,
    platform_risks,
    read_platform,
)
from gitops_gen.review.sides import (
    CommitSide,
    Side,
    WorkTreeSide,
    docs_of,
    files_under,
    listing,
    materialize,
    side_yaml_files,
    tree_of,
)

Docs = list[dict[str, Any]]
#: kustomize appends a 10-character hash to generated ConfigMap and Secret names.
HASH_SUFFIX = re.compile(r"-[a-z0-9]{10}$")
GENERATED_KINDS = frozenset({"ConfigMap", "Secret"})
DATA_BEARING = frozenset({"Namespace", "PersistentVolumeClaim", "StatefulSet"})
PROTECTIONS = {"argocd.argoproj.io/sync-options": ("Prune=false", "Delete=false"),
               "kustomize.toolkit.fluxcd.io/prune": ("disabled",)}
SEVERITY_ORDER = {"high": 0, "medium": 1, "low": 2}


@dataclass(frozen=True)
class ObjectChange:
    tenant: str
    cluster: str
    kind: str
    name: str                       # name on HEAD (on BASE for removed objects)
    change: str                     # added | removed | changed
    diff: str = ""                  # unified diff of the YAML; never for Secrets
    renamed_from: str | None = None  # a generated name whose hash suffix changed
    secret_keys: tuple[str, ...] = ()  # keys of a Secret that were added, removed or changed

    def as_json(self) -> dict[str, object]:
        return {"tenant": self.tenant, "cluster": self.cluster, "kind": self.kind, "name": self.name,
                "change": self.change, "renamedFrom": self.renamed_from, "secretKeys": list(self.secret_keys),
                "diff": self.diff}


@dataclass(frozen=True)
class Risk:
    severity: str   # high | medium | low
    id: str
    tenant: str | None
    cluster: str | None
    message: str

    def as_json(self) -> dict[str, object]:
        return {"severity": self.severity, "id": self.id, "tenant": self.tenant, "cluster": self.cluster,
                "message": self.message}


@dataclass
class DiffResult:
    base: str
    head: str
    controllers: list[ControllerChange] = field(default_factory=list)
    objects: list[ObjectChange] = field(default_factory=list)
    risks: list[Risk] = field(default_factory=list)
    #: (tenant, cluster, added|removed|changed|not rendered): 'not rendered' when it reaches outside the repository
    overlays: list[tuple[str, str, str]] = field(default_factory=list)
    #: Controller objects in the files under clusters/ and argocd/ that are no tenant's (tenant ''; cluster
    #: the clusters/<cluster>/ of the file, else ''): ApplicationSets, AppProjects, bootstrap, Flux sources
    platform: list[ObjectChange] = field(default_factory=list)
    #: Clusters added, removed, or with settings changed
    clusters: list[ClusterChange] = field(default_factory=list)
    #: What grouping sets aside: each tenant's and cluster's own names and hosts
    aside: Aside = field(default_factory=Aside)
    compared: int = 0   # overlay renders compared, both sides (from the cache or built)
    built: int = 0      # of which built by kustomize now

    @property
    def empty(self) -> bool:
        return not (self.controllers or self.objects or self.risks or self.platform or self.clusters)

    def touched(self) -> dict[tuple[str, str], dict[str, int]]:
        """Counts of object changes per (tenant, cluster)."""
        out: dict[tuple[str, str], dict[str, int]] = {}
        for t, c, _ in self.overlays:
            out.setdefault((t, c), {"added": 0, "removed": 0, "changed": 0})
        for o in self.objects:
            out.setdefault((o.tenant, o.cluster), {"added": 0, "removed": 0, "changed": 0})[o.change] += 1
        return dict(sorted(out.items()))


# --------------------------------------------------------------------------- sides

def default_base(repo: pygit2.Repository) -> tuple[str, str]:
    """The merge base of HEAD with the default branch (origin's HEAD, else main, else master), and
    that branch's name."""
    if repo.head_is_unborn:
        raise GitError("the repository has no commit to compare with", "commit the estate first")
    head = repo.head.peel(pygit2.Commit).id
    candidates = []
    with contextlib.suppress(KeyError, pygit2.GitError):
        candidates.append(str(repo.references["refs/remotes/origin/HEAD"].resolve().name))
    candidates += ["refs/remotes/origin/main", "refs/heads/main", "refs/remotes/origin/master", "refs/heads/master"]
    for ref in candidates:
        if ref in repo.references:
            target = repo.references[ref].peel(pygit2.Commit).id
            base = repo.merge_base(head, target)
            if base is not None:
                return str(base), ref.removeprefix("refs/heads/").removeprefix("refs/remotes/")
    raise GitError("no default branch (main, master or origin/HEAD) to compare with",
                   "name the base: gitops-gen diff BASE [HEAD]")


def load_side_estate(side: Side, root: Path, workdir: Path) -> tuple[Estate, Path]:
    """The side's estate (a commit's declarations read from its tree objects) and the directory its files
    can be rendered in."""
    if isinstance(side, WorkTreeSide):
        return load_estate(root), root
    assert isinstance(side, CommitSide)
    return load_estate(side, workdir), workdir


# --------------------------------------------------------------------------- object diff

def _key(doc: Mapping[str, Any]) -> tuple[str, str, str]:
    meta = doc.get("metadata") or {}
    name = str(meta.get("name"))
    if doc.get("kind") in GENERATED_KINDS:
        name = HASH_SUFFIX.sub("", name)
    return str(doc.get("kind")), str(meta.get("namespace") or ""), name


def _generated_names(docs: Iterable[Mapping[str, Any]]) -> dict[str, str]:
    return {str(d["metadata"]["name"]): HASH_SUFFIX.sub("", str(d["metadata"]["name"])) + "-<hash>"
            for d in docs if d.get("kind") in GENERATED_KINDS and HASH_SUFFIX.search(str(d["metadata"]["name"]))}


def _normalised(doc: Mapping[str, Any], names: Mapping[str, str]) -> str:
    text = yamlio.dump_fast(_sorted(doc))
    for name, generic in names.items():
        text = text.replace(name, generic)
    return text


def _fingerprint(doc: Mapping[str, Any], names: Mapping[str, str]) -> str:
    """Equal for two objects exactly when their normalised YAML is equal; json is written in C."""
    text = json.dumps(doc, sort_keys=True, separators=(",", ":"))
    for name, generic in names.items():
        text = text.replace(name, generic)
    return text


def _sorted(node: Any) -> Any:
    if isinstance(node, dict):
        return {k: _sorted(node[k]) for k in sorted(node)}
    if isinstance(node, list):
        return [_sorted(v) for v in node]
    return node


def _secret_keys(before: Mapping[str, Any], after: Mapping[str, Any]) -> tuple[str, ...]:
    keys: set[str] = set()
    for field_name in ("data", "stringData"):
        a, b = before.get(field_name) or {}, after.get(field_name) or {}
        keys |= {k for k in set(a) | set(b) if a.get(k) != b.get(k)}
    return tuple(sorted(keys))


#: Keys the masks of one run are made with: equal values get equal masks within a diff (a change shows),
#: and nothing links a mask to its value once the run is over.
_MASK_KEY = secrets.token_bytes(32)
_CONTAINER_LISTS = ("containers", "initContainers", "ephemeralContainers")


def _mask(value: Any) -> str:
    digest = hmac.new(_MASK_KEY, str(value).encode("utf-8", "replace"), hashlib.sha256).hexdigest()[:8]
    return f"*** (masked: looks like a secret; {digest})"


def _masked_env(node: Any) -> Any:
    """A copy of a pod template spec (or anything holding one) whose secret-looking env literals are masked;
    the same object when there is nothing to mask."""
    if isinstance(node, dict):
        out: dict[str, Any] | None = None
        for k, v in node.items():
            if k in _CONTAINER_LISTS and isinstance(v, list):
                new_v: Any = [_masked_container(c) for c in v]
                changed = any(a is not b for a, b in zip(new_v, v, strict=True))
            else:
                new_v = _masked_env(v)
                changed = new_v is not v
            if changed:
                out = dict(node) if out is None else out
                out[k] = new_v
        return node if out is None else out
    if isinstance(node, list):
        items = [_masked_env(v) for v in node]
        return node if all(a is b for a, b in zip(items, node, strict=True)) else items
    return node


def _masked_container(c: Any) -> Any:
    if not isinstance(c, dict) or not isinstance(c.get("env"), list):
        return c
    env = [dict(e, value=_mask(e["value"])) if isinstance(e, dict) and "value" in e
           and checks.literal_secret(str(e.get("name")), e["value"]) else e for e in c["env"]]
    return c if all(a is b for a, b in zip(env, c["env"], strict=True)) else {**c, "env": env}


def masked(doc: dict[str, Any]) -> dict[str, Any]:
    """The object as a review may show it: ConfigMap entries and env literals that look like secrets (what
    validate's SEC002 flags: passwords, keys, connection strings) masked as Secret values are."""
    if doc.get("kind") == "ConfigMap" and isinstance(doc.get("data"), dict):
        data = doc["data"]
        hidden = {k: _mask(v) for k, v in data.items() if checks.literal_secret(str(k), v)}
        return {**doc, "data": {**data, **hidden}} if hidden else doc
    spec = doc.get("spec")
    if isinstance(spec, dict):
        new_spec = _masked_env(spec)
        if new_spec is not spec:
            return {**doc, "spec": new_spec}
    return doc


def diff_objects(tenant: str, cluster: str, base: Docs, head: Docs) -> list[ObjectChange]:
    old = {_key(d): masked(d) for d in base}
    new = {_key(d): masked(d) for d in head}
    old_names, new_names = _generated_names(base), _generated_names(head)
    out: list[ObjectChange] = []
    for key in sorted(set(old) | set(new)):
        kind, _, _ = key
        a, b = old.get(key), new.get(key)
        if a is None and b is not None:
            out.append(ObjectChange(tenant, cluster, kind, b["metadata"]["name"], "added",
                                    "" if kind == "Secret" else _unified("", _normalised(b, {}), key),
                                    secret_keys=_secret_keys({}, b) if kind == "Secret" else ()))
        elif b is None and a is not None:
            out.append(ObjectChange(tenant, cluster, kind, a["metadata"]["name"], "removed",
                                    "" if kind == "Secret" else _unified(_normalised(a, {}), "", key),
                                    secret_keys=_secret_keys(a, {}) if kind == "Secret" else ()))
        elif a is not None and b is not None:
            renamed = a["metadata"]["name"] if a["metadata"]["name"] != b["metadata"]["name"] else None
            if kind == "Secret":
                keys = _secret_keys(a, b)
                if keys or renamed:
                    out.append(ObjectChange(tenant, cluster, kind, b["metadata"]["name"], "changed",
                                            renamed_from=renamed, secret_keys=keys))
                continue
            if not renamed and _fingerprint(a, old_names) == _fingerprint(b, new_names):
                continue  # the common case, found without writing YAML
            before, after = _normalised(a, old_names), _normalised(b, new_names)
            if before != after or renamed:
                out.append(ObjectChange(tenant, cluster, kind, b["metadata"]["name"], "changed",
                                        _unified(before, after, key), renamed_from=renamed))
    return out


def _unified(before: str, after: str, key: tuple[str, str, str]) -> str:
    label = f"{key[0]}/{key[2]}"
    lines = difflib.unified_diff(before.splitlines(keepends=True), after.splitlines(keepends=True),
                                 fromfile=f"base/{label}" if before else "/dev/null",
                                 tofile=f"head/{label}" if after else "/dev/null", n=3)
    return "".join(lines)


# --------------------------------------------------------------------------- risks

def _protected(doc: Mapping[str, Any]) -> bool:
    annotations = (doc.get("metadata") or {}).get("annotations") or {}
    return all(all(v in str(annotations.get(k, "")) for v in values) for k, values in PROTECTIONS.items())


def _image_version(docs: Iterable[Mapping[str, Any]]) -> tuple[int, ...] | None:
    for d in docs:
        if d.get("kind") != "Deployment":
            continue
        for c in d["spec"]["template"]["spec"].get("containers", []):
            m = re.match(r"^advantys/workflowgen:(\d+)\.(\d+)\.(\d+)", str(c.get("image", "")))
            if m:
                return tuple(int(x) for x in m.groups())
    return None


#: Spec fields of a StatefulSet an update may change; the API server refuses any other (kubernetes
#: pkg/apis/apps/validation ValidateStatefulSetUpdate).
STATEFULSET_MUTABLE = frozenset({"replicas", "ordinals", "template", "updateStrategy", "revisionHistoryLimit",
                                 "persistentVolumeClaimRetentionPolicy", "minReadySeconds"})
#: Immutable spec fields of other kinds (ValidateDeploymentUpdate / ValidateDaemonSetUpdate /
#: ValidateReplicaSetUpdate: selector; ValidateJobUpdate: selector and template; ValidatePersistentVolumeClaimUpdate;
#: ValidateServiceUpdate: clusterIP(s); a Service's type change is listed by the issue as one to avoid too).
IMMUTABLE_FIELDS: dict[str, tuple[str, ...]] = {
    "Deployment": ("selector",), "DaemonSet": ("selector",), "ReplicaSet": ("selector",),
    "Job": ("selector", "template", "completionMode"),
    "PersistentVolumeClaim": ("storageClassName", "accessModes", "volumeName", "volumeMode", "dataSource",
                              "dataSourceRef"),
    "Service": ("type", "clusterIP", "clusterIPs"),
}


def _quantity(value: Any) -> Decimal | None:
    try:
        return parse_quantity(str(value))
    except ValueError:
        return None


def _requested(spec: Mapping[str, Any]) -> Decimal | None:
    resources = spec.get("resources")
    requests = resources.get("requests") if isinstance(resources, Mapping) else None
    return _quantity(requests.get("storage")) if isinstance(requests, Mapping) else None


def immutable_changes(before: Mapping[str, Any], after: Mapping[str, Any]) -> list[str]:
    """The fields the API server refuses to change between two versions of one applied object."""
    kind = before.get("kind")
    old, new = before.get("spec") or {}, after.get("spec") or {}
    if not isinstance(old, Mapping) or not isinstance(new, Mapping):
        return []
    fields: list[str] = []
    if kind == "StatefulSet":
        fields = sorted(f"spec.{k}" for k in set(old) | set(new)
                        if k not in STATEFULSET_MUTABLE and _sorted(old.get(k)) != _sorted(new.get(k)))
    elif kind in IMMUTABLE_FIELDS:
        for k in IMMUTABLE_FIELDS[kind]:
            if kind == "Service" and k != "type" and not (old.get(k) and new.get(k)):
                continue  # an address the API server allocates stays as it is when git leaves it out
            if _sorted(old.get(k)) != _sorted(new.get(k)):
                fields.append(f"spec.{k}")
    if kind == "PersistentVolumeClaim":
        was, now = _requested(old), _requested(new)
        if was is not None and now is not None and now < was:
            fields.append("spec.resources.requests.storage (smaller)")
    if kind in ("ConfigMap", "Secret") and before.get("immutable") is True:
        fields += [k for k in ("data", "binaryData", "stringData") if _sorted(before.get(k)) != _sorted(after.get(k))]
    return fields


def overlay_risks(tenant: str, cluster: str, base: Docs | None, head: Docs | None, estate_head: Estate | None,
                  estate_base: Estate | None) -> list[Risk]:
    risks: list[Risk] = []
    old = {_key(d): d for d in base or []}
    new = {_key(d): d for d in head or []}
    for key, doc in old.items():
        if key[0] not in DATA_BEARING or (key[0] == "StatefulSet" and not doc["spec"].get("volumeClaimTemplates")):
            continue
        if key not in new and _protected(doc):
            risks.append(Risk("medium", "data-orphaned", tenant, cluster,
                              f"{key[0]}/{key[2]} holding the tenant's data leaves git; its Prune=false,Delete=false "
                              "and prune: disabled protection keep it in the cluster: delete it by hand once the "
                              "data is no longer needed"))
        elif key not in new:
            risks.append(Risk("high", "data-deleted", tenant, cluster,
                              f"{key[0]}/{key[2]} holding the tenant's data is removed and unprotected: the "
                              "controller will delete it"))
        elif _protected(doc) and not _protected(new[key]):
            risks.append(Risk("high", "data-unprotected", tenant, cluster,
                              f"{key[0]}/{key[2]} loses its Prune=false,Delete=false or prune: disabled protection"))
    for key, doc in new.items():
        if key in old:
            changed = immutable_changes(old[key], doc)
            if changed:
                risks.append(Risk("high", "immutable-field", tenant, cluster,
                                  f"{key[0]}/{key[2]}: {', '.join(changed)} changes, and the API server refuses "
                                  "that on an object already applied: the sync fails on this tenant until the object "
                                  "is deleted and re-created (for a StatefulSet, 'kubectl delete --cascade=orphan' "
                                  "keeps its pods and volumes)"))
    if base and head:
        before, after = _image_version(base), _image_version(head)
        if before and after and after < before:
            old_v, new_v = ".".join(map(str, before)), ".".join(map(str, after))
            risks.append(Risk("medium", "image-downgrade", tenant, cluster,
                              f"WorkflowGen goes down from {old_v} to {new_v}"))
    if base and head:
        risks += restart_risks(tenant, cluster, base, head)
        risks += _url_and_class_risks(tenant, cluster, base, head)
    for d in head or []:
        if d.get("kind") == "Deployment" and d["metadata"]["name"] == "workflowgen-win-services" \
                and int(d["spec"].get("replicas", 1)) > 1:
            risks.append(Risk("high", "win-services-replicas", tenant, cluster,
                              f"Windows Services run {d['spec']['replicas']} replicas; WorkflowGen needs exactly one"))
    if head is not None and estate_head is not None and tenant in estate_head.tenants \
            and cluster in estate_head.clusters:
        fired_now = _rule_ids(estate_head, tenant, cluster, head)
        fired_before = _rule_ids(estate_base, tenant, cluster, base) if fired_now and base is not None \
            and estate_base is not None and tenant in estate_base.tenants and cluster in estate_base.clusters \
            else set()
        for rule_id, message in sorted(fired_now - fired_before):
            if rule_id == "WIN003":
                risks.append(Risk("high", "windows-build-mismatch", tenant, cluster,
                                  f"{message} (validate rule WIN003; the pods would not start on the "
                                  f"cluster's {estate_head.clusters[cluster].windows_build} nodes)"))
            elif rule_id == "WIN004" and any(r.id == "win-services-replicas" for r in risks):
                continue  # already said, more plainly
            else:
                risks.append(Risk("high", "rule-regression", tenant, cluster,
                                  f"{rule_id} passes on BASE and fails on HEAD: {message}"))
    return risks


WORKLOADS = ("Deployment", "StatefulSet", "DaemonSet")
APPLICATION_URL = "WFGEN_APP_SETTING_ApplicationUrl"


def restart_risks(tenant: str, cluster: str, base: Docs, head: Docs) -> list[Risk]:
    """Workloads whose pod template changes restart; a Recreate Deployment (the Windows Services) or a single
    database pod is down while its new pod starts."""
    old = {_key(d): d for d in base if d.get("kind") in WORKLOADS}
    new = {_key(d): d for d in head if d.get("kind") in WORKLOADS}
    old_names, new_names = _generated_names(base), _generated_names(head)
    rolling, down, causes = [], [], set()
    for key in sorted(old.keys() & new.keys()):
        a, b = old[key]["spec"].get("template"), new[key]["spec"].get("template")
        if json.dumps(a, sort_keys=True) == json.dumps(b, sort_keys=True):
            continue
        if _fingerprint(a or {}, old_names) == _fingerprint(b or {}, new_names):
            causes.add("a generated ConfigMap or Secret it reads changed (new hash-suffixed name)")
        else:
            causes.add("its pod template changed")
        spec = new[key]["spec"]
        name = f"{key[0]}/{key[2]}"
        strategy = str((spec.get("strategy") or {}).get("type") or "RollingUpdate")
        if key[0] == "Deployment" and strategy == "Recreate":
            down.append(f"{name} (Recreate: its pod is stopped before the new one starts"
                        + ("; the Windows Services are down meanwhile)" if "win-services" in key[2] else ")"))
        elif key[0] == "StatefulSet" and int(spec.get("replicas", 1)) <= 1:
            down.append(f"{name} (one pod: down while it restarts)")
        else:
            rolling.append(name)
    if not (rolling or down):
        return []
    parts = []
    if down:
        parts.append("downtime: " + "; ".join(down))
    if rolling:
        parts.append("rolling restart: " + ", ".join(rolling))
    return [Risk("medium" if down else "low", "workload-restart", tenant, cluster,
                 f"pods restart because {' and '.join(sorted(causes))}; " + "; ".join(parts))]


def _app_url(docs: Docs) -> str | None:
    for d in docs:
        if d.get("kind") == "ConfigMap" and isinstance(d.get("data"), dict) and APPLICATION_URL in d["data"]:
            return str(d["data"][APPLICATION_URL])
        if d.get("kind") in WORKLOADS:
            pod = ((d.get("spec") or {}).get("template") or {}).get("spec") or {}
            for c in pod.get("containers") or []:
                for e in c.get("env") or []:
                    if isinstance(e, dict) and e.get("name") == APPLICATION_URL and "value" in e:
                        return str(e["value"])
    return None


def _url_and_class_risks(tenant: str, cluster: str, base: Docs, head: Docs) -> list[Risk]:
    risks = []
    a, b = _app_url(base), _app_url(head)
    if a != b and a is not None:
        risks.append(Risk("medium", "application-url-changed", tenant, cluster,
                          f"ApplicationUrl {a} → {b or '(none)'}: the redirect URIs registered with the identity "
                          "provider, links in notification emails and bookmarks must follow"))
    old = {_key(d): d for d in base if d.get("kind") == "Ingress"}
    for key, doc in ((k, d) for d in head if d.get("kind") == "Ingress" for k in [_key(d)]):
        if key not in old:
            continue
        was = (old[key].get("spec") or {}).get("ingressClassName")
        now = (doc.get("spec") or {}).get("ingressClassName")
        if was != now:
            hosts = sorted({str(r.get("host")) for r in (doc.get("spec") or {}).get("rules") or [] if r.get("host")})
            risks.append(Risk("high", "ingress-class-changed", tenant, cluster,
                              f"Ingress/{key[2]}: ingressClassName {was} → {now}: {', '.join(hosts) or 'its hosts'} "
                              "move to another ingress controller, and stop answering until it serves them"))
    return risks


def _rule_ids(estate: Estate, tenant: str, cluster: str, docs: Docs) -> set[tuple[str, str]]:
    ctx = checks.OverlayContext(
        config=estate.config, tenant=estate.tenants[tenant], cluster=estate.clusters[cluster],
        overlay=layout.overlay_dir(tenant, cluster), docs=docs,
        tenant_namespaces=frozenset(t.namespace for t in estate.tenants.values()))
    return {(f.rule, f"{f.obj}: {f.message}" if f.obj else f.message) for f in checks.check_overlay(ctx)}


def _routes(estate: Estate) -> dict[str, tuple[str, str]]:
    routes: dict[str, tuple[str, str]] = {}
    for t in estate.tenants.values():
        for h in t.hosts:
            routes[h.host] = (t.name, h.placement)
        for c in t.placements:
            if c in estate.clusters:
                routes[estate.clusters[c].regional_host(t.name)] = (t.name, c)
    return routes


def routing_risks(base: Estate, head: Estate) -> list[Risk]:
    old, new = _routes(base), _routes(head)

    def where(estate: Estate, route: tuple[str, str]) -> str:
        cluster = estate.clusters.get(route[1])
        return f"tenant {route[0]} on {route[1]}" + (f" ({cluster.region})" if cluster else "")

    risks = []
    for host in sorted(set(old) | set(new)):
        a, b = old.get(host), new.get(host)
        if a and b and a != b:
            risks.append(Risk("medium", "routing-change", b[0], b[1],
                              f"{host} moves from {where(base, a)} to {where(head, b)}; lower its DNS records' "
                              "TTL a TTL period ahead of the merge, so resolvers follow within a minute"))
        elif a and not b:
            risks.append(Risk("low", "host-removed", a[0], a[1], f"{host} is no longer served ({where(base, a)})"))
    return risks


def lifecycle_risks(base: Estate, head: Estate) -> list[Risk]:
    """The phase a change takes each placement to (remove-tenant's drain, retire and purge, a role that
    changes), and a placement removed from git without going through them."""
    risks = []
    for name in sorted(set(base.tenants) | set(head.tenants)):
        old, new = base.tenants.get(name), head.tenants.get(name)
        if old is new or (old is not None and new is not None and old.placements == new.placements
                          and old.details == new.details and old.move == new.move):
            continue  # the same placements, roles and states (10,000 tenants: most of them)
        for c in (old.placements if old else ()):
            was = old.placement(c) if old else None
            now = new.placement(c) if new is not None and c in new.placements else None
            if was is None:
                continue
            if now is None:
                cluster = base.clusters.get(c)
                # move-tenant --abort purges the standby it provisioned from draining: no retention period.
                aborted = (old is not None and old.move is not None and c == old.move.target
                           and was.state == "draining")
                if (was.state != "retired" and not aborted) or cluster is None or old is None:
                    risks.append(Risk("high", "removed-without-phases", name, c,
                                      f"the placement on {c} leaves git while it is {was.state}: run "
                                      f"'gitops-gen remove-tenant {name} --cluster {c}' with --phase drain, retire "
                                      "and purge, each merged before the next"))
                    continue
                left, steps = left_in_cluster(base.config, old, cluster)
                risks.append(Risk("high", "data-left-in-cluster", name, c,
                                  "phase purge: left in the cluster, protected from pruning: " + "; ".join(left)
                                  + ". To delete it after a backup: "
                                  + "; then ".join(f"{i}. {x}" for i, x in enumerate(steps, 1))))
                continue
            if (was.state, now.state) == ("active", "draining"):
                hosts = [h.host for h in old.hosts if h.placement == c] if old else []
                regional = head.clusters[c].regional_host(name) if c in head.clusters else f"{name}.<domain>"
                risks.append(Risk("high", "placement-drained", name, c,
                                  f"phase drain: {', '.join([*hosts, regional])} no longer served (Ingress and DNS "
                                  "records go); web, Windows Services and the database stop (0 replicas); data, "
                                  "secrets and NetworkPolicies are kept"))
            elif (was.state, now.state) == ("draining", "retired"):
                risks.append(Risk("medium", "placement-retired", name, c,
                                  "phase retire: the controller prunes the WorkflowGen Deployments, Services, "
                                  "ConfigMaps and ExternalSecrets; the Namespace, the claims, the database's "
                                  "StatefulSet, the NetworkPolicies and the quota stay"))
            elif was.state != now.state:
                risks.append(Risk("high", "placement-state", name, c,
                                  f"state {was.state} → {now.state}: "
                                  + ("the placement serves and runs again; check its data is current"
                                     if now.state == "active" else "a lifecycle phase skipped or undone")))
            if was.role != now.role and now.state == "active":
                starts = ("are held here (windowsServices: held) until move-tenant --phase start-services"
                          if now.services_held else "start here; they must have stopped on the former primary "
                          "first (one instance per database)")
                risks.append(Risk("high", "role-change", name, c, f"role {was.role} → {now.role}: the Windows "
                                  "Services " + (starts if now.role == "primary" else "stop here")))
            elif was.services_held and not now.services_held and now.runs_windows_services:
                risks.append(Risk("high", "windows-services-start", name, c,
                                  "the Windows Services start here (windowsServices: held is lifted): before "
                                  "merging, check they have stopped on every other placement of this database"))
        if old is not None and new is not None:
            risks += _move_risks(base, head, old, new)
    return risks


def _move_risks(base: Estate, head: Estate, old: Tenant, new: Tenant) -> list[Risk]:
    """The move-tenant phase a change merges, named, with what to do around it."""
    was, now = move_phase(old), move_phase(new)
    if was == now:
        return []
    m = new.move or old.move
    assert m is not None
    name, risks = new.name, []

    def region(c: str) -> str:
        cluster = head.clusters.get(c) or base.clusters.get(c)
        return f"{c} ({cluster.region})" if cluster else c
    if now == "provision":
        risks.append(Risk("medium", "move-provision", name, m.target,
                          f"move-tenant phase provision: a standby of {name} on {m.target}, moving from {m.source}; "
                          f"before the cutover, copy its secrets and data there "
                          + ("(the database is external and shared: no restore)" if new.database.mode == "external"
                             else "(restore the database backup and copy C:\\wfgen\\data)")))
    elif now == "cutover":
        hosts = [h.host for h in old.hosts if h.placement == m.source]
        risks.append(Risk("high", "move-cutover", name, m.target,
                          f"move-tenant phase cutover: routing moves from region {region(m.source)} to "
                          f"{region(m.target)}" + (f" for {', '.join(hosts)}" if hosts else "")
                          + "; lower the DNS records' TTL a TTL period ahead; the Windows Services stop on "
                          f"{m.source} and stay held on {m.target} until --phase start-services"
                          + ("; the database is per placement: restore the final backup of "
                             f"{m.source} on {m.target} right before merging" if new.database.mode == "in-cluster"
                             else "")))
    elif now == "start-services":
        risks.append(Risk("high", "move-start-services", name, m.target,
                          f"move-tenant phase start-services: the Windows Services start on {m.target}; merge only "
                          f"once they have stopped on {m.source} (the cutover synced there)"))
    elif now == "finish" or (now is None and was in ("finish", "start-services")):
        risks.append(Risk("medium", "move-finish", name, m.source,
                          f"move-tenant phase finish: {m.source}, the former primary, "
                          + ("leaves git; the move ends" if now is None else
                             f"goes {new.placement(m.source).state}")))
    elif now == "abort" or (now is None and was == "abort"):
        risks.append(Risk("medium", "move-abort", name, m.target,
                          f"move-tenant --abort: the standby on {m.target} "
                          + ("leaves git; the move is undone" if now is None else "drains")
                          + f"; {m.source} stays the primary"))
    return risks


def controller_risks(changes: Sequence[ControllerChange]) -> list[Risk]:
    return [Risk("high", "tenant-leaves-cluster", c.tenant, c.cluster,
                 f"{c.kind} {c.key} is removed: the tenant is no longer reconciled on {c.cluster or 'its cluster'}")
            for c in changes if c.change == "removed"]


# --------------------------------------------------------------------------- the whole diff

def _changed_paths(repo: pygit2.Repository, prefix: str, base: CommitSide, head: Side) -> set[str]:
    if isinstance(head, WorkTreeSide):
        paths = gitrepo.changed_paths(repo, base.rev)
    else:
        assert isinstance(head, CommitSide)
        diff = base.commit.tree.diff_to_tree(head.commit.tree)
        paths = {p for d in diff.deltas for p in (d.old_file.path, d.new_file.path)}
    return {p.removeprefix(prefix) for p in paths if p.startswith(prefix)}


def diff(root: Path, base_rev: str | None = None, head_rev: str | None = None, tenants: Sequence[str] = (),
         clusters: Sequence[str] = (), progress: Progress | None = None) -> DiffResult:
    repo = gitrepo.open_repo(root)
    prefix = gitrepo.prefix_in_repo(repo, root)
    if base_rev is None:
        merge_base, branch = default_base(repo)
        base_side = CommitSide(repo, merge_base, prefix)
        base_side.label = f"merge base with {branch} ({merge_base[:7]})"
    else:
        base_side = CommitSide(repo, base_rev, prefix)
    head_side: Side = WorkTreeSide(root) if head_rev is None else CommitSide(repo, head_rev, prefix)
    cache = RenderCache(Path(repo.path) / "gitops-gen")
    with tempfile.TemporaryDirectory(prefix="gitops-gen-diff-") as tmp:
        base_estate, base_root = load_side_estate(base_side, root, Path(tmp) / "base")
        head_estate, head_root = load_side_estate(head_side, root, Path(tmp) / "head")
        for t in tenants:
            if t not in base_estate.tenants and t not in head_estate.tenants:
                raise UserError(f"--tenant {t!r}: no such tenant on either side", "'gitops-gen list' shows them")
        for c in clusters:
            if c not in base_estate.clusters and c not in head_estate.clusters:
                raise UserError(f"--cluster {c!r}: no such cluster on either side", "'gitops-gen list' shows them")
        old_p = {(t.name, c) for t in base_estate.tenants.values() for c in t.placements}
        new_p = {(t.name, c) for t in head_estate.tenants.values() for c in t.placements}
        changed = _changed_paths(repo, prefix, base_side, head_side)
        base_reacher, head_reacher = Reacher(tree_of(base_side)), Reacher(tree_of(head_side))
        affected = overlays_affected(changed, sorted(old_p | new_p)) | (old_p ^ new_p)
        affected |= _reaching(changed, base_reacher, old_p) | _reaching(changed, head_reacher, new_p)
        affected = {(t, c) for t, c in affected
                    if (not tenants or t in tenants) and (not clusters or c in clusters)}
        result = DiffResult(base_side.label, head_side.label)
        base_docs, base_built, base_out = _render_side(base_side, base_root, sorted(affected & old_p), cache,
                                                       progress, base_reacher)
        head_docs, head_built, head_out = _render_side(head_side, head_root, sorted(affected & new_p), cache,
                                                       progress, head_reacher)
        result.compared = len(base_docs) + len(head_docs)
        result.built = base_built + head_built
        for t, c in sorted(affected):
            path = layout.overlay_dir(t, c)
            escapes = [*head_out.get(path, ()), *(e for e in base_out.get(path, ()) if e not in head_out.get(path, ()))]
            if escapes:
                # Never built, never shown: what lies outside the repository stays out of the review.
                side = "HEAD" if path in head_out else "BASE"
                result.risks.append(Risk("high", "outside-reference", t, c, f"{path} is not rendered: on {side} "
                                         + "; ".join(e.describe() for e in escapes[:5])
                                         + (f" (and {len(escapes) - 5} more)" if len(escapes) > 5 else "")))
                result.overlays.append((t, c, "not rendered"))
                continue
            before, after = base_docs.get(path), head_docs.get(path)
            if before is None and after is None:
                continue
            state = "added" if before is None else "removed" if after is None else "changed"
            objects = diff_objects(t, c, before or [], after or [])
            if objects or state != "changed":
                result.overlays.append((t, c, state))
            result.objects += objects
            result.risks += overlay_risks(t, c, before, after, head_estate, base_estate)
        # A Flux placement's Namespace, reconciler account and RoleBinding come from its platform files:
        # shown as the tenant's objects too, plain YAML that Flux applies as it is.
        platform = [(t, c) for t, c in _platform_changes(changed)
                    if (not tenants or t in tenants) and (not clusters or c in clusters)]
        for t, c in platform:
            before_p, after_p = _platform_docs(base_side, t, c), _platform_docs(head_side, t, c)
            objects = diff_objects(t, c, before_p, after_p)
            if objects and not any((t, c) == (x, y) for x, y, _ in result.overlays):
                result.overlays.append((t, c, "added" if not before_p else "removed" if not after_p else "changed"))
            result.objects += objects
            result.risks += overlay_risks(t, c, before_p or None, after_p or None, None, None)
        result.objects.sort(key=lambda o: (o.tenant, o.cluster, o.kind, o.name))
        controller_paths = [p for p in changed if p == layout.CONFIG_FILE
                            or p.startswith((f"{layout.CLUSTERS_DIR}/", f"{layout.ARGOCD_DIR}/"))]
        # Nothing the controllers read changed (the usual edit of a tenant): no expansion of every
        # placement file on both sides.
        memo = _Memo(Path(repo.path) / "gitops-gen")
        # Nothing under clusters/ or argocd/ changed: both sides have the same files there, so the base's
        # (a commit, its answer kept by tree id) stands for a work tree head too.
        same = not controller_paths and memo.of(base_side, "inputs_confined", inputs_confined)
        controllers = [] if same else diff_controllers(*_controller_sides(base_side, head_side, changed, memo))
        result.controllers = [x for x in controllers if (not tenants or x.tenant in tenants)
                              and (not clusters or x.cluster in clusters)]
        result.risks += controller_risks(result.controllers)
        files = read_platform(base_side, head_side, platform_paths(changed))
        for f in files:
            cluster = f.path.split("/")[1] if f.path.startswith(f"{layout.CLUSTERS_DIR}/") else ""
            if clusters and cluster not in clusters:
                continue
            owner = f.path.rsplit("/", 1)[-1].rsplit(".", 1)[0] if f.path.startswith(
                f"{layout.ARGOCD_DIR}/projects/") else ""
            if tenants and owner not in tenants:
                continue
            result.platform += [dataclasses.replace(o, name=f"{o.name} ({f.path})") for o in diff_objects(
                owner, cluster, [dict(d) for d in f.before], [dict(d) for d in f.after])]
        wide = [*platform_risks(files), *estate_risks(base_estate, head_estate)]
        result.risks += [_risk(r) for r in wide
                         if (not tenants or r[2] is None or r[2] in tenants)
                         and (not clusters or r[3] is None or r[3] in clusters)]
        result.clusters = [c for c in cluster_changes(base_estate, head_estate) if not clusters or c.name in clusters]
        result.risks += [r for r in [*routing_risks(base_estate, head_estate),
                                     *lifecycle_risks(base_estate, head_estate)]
                         if (not tenants or r.tenant in tenants) and (not clusters or r.cluster in clusters)]
        result.aside = _aside(base_estate, head_estate)
    result.risks.sort(key=lambda r: (SEVERITY_ORDER[r.severity], r.tenant or "", r.cluster or "", r.id, r.message))
    return result


def _aside(*estates: Estate) -> Aside:
    """Each tenant's own strings with a placeholder per role: its name, its global hosts by position (the
    hosts of both sides, so a host that changes shows as <host:0> → <host:1>), its regional hosts."""
    clusters: dict[str, tuple[tuple[str, str], ...]] = {}
    names: dict[str, list[str]] = {}
    regional: dict[str, list[str]] = {}
    for estate in estates:
        for c in estate.clusters.values():
            clusters.setdefault(c.name, ((c.name, "<cluster>"), (c.region, "<region>"), (c.domain, "<domain>")))
        for t in estate.tenants.values():
            hosts = names.setdefault(t.name, [])
            hosts += [h.host for h in t.hosts if h.host not in hosts]
            own = regional.setdefault(t.name, [])
            own += [r for c in t.placements if c in estate.clusters
                    for r in [estate.clusters[c].regional_host(t.name)] if r not in own]
    tenants = {name: ((name, "<tenant>"), *((h, f"<host:{i}>") for i, h in enumerate(hosts)),
                      *((r, "<regional-host>") for r in regional[name]))
               for name, hosts in names.items()}
    return Aside(tenants, clusters)


def _risk(r: RiskTuple) -> Risk:
    return Risk(*r)


class _ClusterSubset:
    """A side seen without the files of clusters nothing changed in: their Applications and Kustomizations
    are the same on both sides, so neither side needs to expand them."""

    def __init__(self, side: Side, keep: frozenset[str]) -> None:
        self.side = side
        self.label = side.label
        self.keep = keep
        self._files: list[str] | None = None

    def read(self, path: str) -> bytes | None:
        return self.side.read(path)

    def files(self) -> list[str]:
        # What the controllers read: gitops-gen.yaml, argocd/ and the kept clusters' folders (every
        # ApplicationSet reads its own cluster's folder alone, or the subset is not used).
        if self._files is None:
            kept = [layout.CONFIG_FILE] if self.side.read(layout.CONFIG_FILE) is not None else []
            kept += listing(self.side, layout.ARGOCD_DIR)
            for c in sorted(self.keep):
                kept += listing(self.side, f"{layout.CLUSTERS_DIR}/{c}")
            self._files = sorted(kept)
        return list(self._files)

    def files_under(self, directory: str) -> list[str]:
        return files_under(self.files(), directory)


def _own_cluster_only(side: Side) -> bool:
    """Whether every ApplicationSet under clusters/<c>/ reads files of clusters/<c>/ alone (as gitops-gen
    writes them), and none lies elsewhere: then the Applications of a cluster depend on its folder alone."""
    from gitops_gen.review.appset import mentions_applicationset, reads_only_under

    # Placement files (clusters/<c>/tenants/) are records and Flux Kustomizations: not read here.
    for rel in side_yaml_files(side, layout.CLUSTERS_DIR, layout.ARGOCD_DIR):
        parts = rel.split("/")
        if parts[0] == layout.CLUSTERS_DIR and len(parts) > 3 and parts[2] == "tenants":
            continue
        data = side.read(rel)
        if data is None or not mentions_applicationset(data):
            continue
        cluster = parts[1] if parts[0] == layout.CLUSTERS_DIR and len(parts) > 2 else None
        for doc in docs_of(data):
            if doc.get("kind") != "ApplicationSet":
                continue
            if cluster is None or not reads_only_under(doc, f"{layout.CLUSTERS_DIR}/{cluster}"):
                return False
    return True


@functools.lru_cache(maxsize=1)
def _code_fingerprint() -> str:
    """Of the code the controller facts come from: another gitops-gen answers afresh."""
    here = Path(__file__).resolve().parent
    h = hashlib.sha256(__version__.encode())
    for name in ("appset.py", "diff.py", "sides.py", "gotemplate.py"):
        h.update((here / name).read_bytes())
    return h.hexdigest()[:16]


class _Memo:
    """Answers about a commit's controller files, kept by the tree ids of clusters/ and argocd/ (in
    .git/gitops-gen/controller-facts.json): each costs a read of every file there."""

    def __init__(self, directory: Path) -> None:
        self.path = directory / "controller-facts.json"
        self.data: dict[str, bool] | None = None

    def of(self, side: Side, name: str, fn: Callable[[Side], bool]) -> bool:
        if not isinstance(side, CommitSide):
            return fn(side)
        key = f"{_code_fingerprint()}:{name}:{side.tree_id(layout.CLUSTERS_DIR)}:{side.tree_id(layout.ARGOCD_DIR)}"
        if self.data is None:
            try:
                loaded = json.loads(self.path.read_bytes())
            except (OSError, ValueError):
                loaded = {}
            self.data = loaded if isinstance(loaded, dict) else {}
        if isinstance(self.data.get(key), bool):
            return self.data[key]
        value = fn(side)
        kept = dict(list(self.data.items())[-255:])
        kept[key] = value
        self.data = kept
        with contextlib.suppress(OSError):
            write_atomic(self.path, json.dumps(kept))
        return value


def _controller_sides(base: Side, head: Side, changed: set[str], memo: _Memo) -> tuple[Side, Side]:
    """Both sides, reduced to the clusters whose files changed when nothing else the controllers read did."""
    if layout.CONFIG_FILE in changed:
        return base, head
    touched = {p.split("/")[1] for p in changed if p.startswith(f"{layout.CLUSTERS_DIR}/") and p.count("/") >= 2}
    if any(p.startswith(f"{layout.ARGOCD_DIR}/") and not p.startswith(
            (f"{layout.ARGOCD_DIR}/projects/", f"{layout.ARGOCD_DIR}/clusters/")) for p in changed):
        return base, head
    if not (memo.of(base, "own_cluster_only", _own_cluster_only)
            and memo.of(head, "own_cluster_only", _own_cluster_only)):
        return base, head
    keep = frozenset(touched)
    return _ClusterSubset(base, keep), _ClusterSubset(head, keep)


def _platform_changes(changed: Iterable[str]) -> list[tuple[str, str]]:
    """(tenant, cluster) of every Flux placement whose platform files (clusters/<c>/platform/<t>/) changed."""
    out = set()
    for p in changed:
        parts = p.split("/")
        if len(parts) >= 5 and parts[0] == layout.CLUSTERS_DIR and parts[2] == "platform":
            out.add((parts[3], parts[1]))
    return sorted(out)


def _platform_docs(side: Side, tenant: str, cluster: str) -> Docs:
    docs: Docs = []
    for rel in listing(side, layout.tenant_platform_dir(cluster, tenant)):
        if rel.endswith((".yaml", ".yml")):
            data = side.read(rel)
            docs += [dict(d) for d in docs_of(data)] if data is not None else []
    return docs


#: Top-level paths whose changes ``overlays_affected`` maps to overlays by layout alone.
_LAID_OUT = (layout.BASE_DIR + "/", layout.OVERLAYS_DIR + "/", layout.CLUSTERS_DIR + "/", layout.ARGOCD_DIR + "/")


def _reaching(changed: Iterable[str], reacher: Reacher, placements: Iterable[tuple[str, str]]) -> set[tuple[str, str]]:
    """Placements whose build reads a changed file that lies outside the estate's own layout (a shared
    patch an overlay was pointed at by hand); read only when such a file changed."""
    loose = {p for p in changed if not p.startswith(_LAID_OUT) and p != layout.CONFIG_FILE}
    if not loose:
        return set()
    return {(t, c) for t, c in placements if loose & reacher.reach(layout.overlay_dir(t, c)).files}


Escapes = dict[str, tuple[Escape, ...]]


def _render_side(side: Side, side_root: Path, placements: Sequence[tuple[str, str]], cache: RenderCache,
                 progress: Progress | None, reacher: Reacher) -> tuple[dict[str, Docs], int, Escapes]:
    """Rendered objects of these overlays on one side, how many kustomize had to build, and the overlays
    not built because they reach outside the repository (with what they reach).

    A commit's overlays are keyed from its git objects; only those not in the render cache are written
    out (with every file they read) for kustomize to build."""
    if not placements:
        return {}, 0, {}
    present = [(t, c) for t, c in placements if side.read(f"{layout.overlay_dir(t, c)}/kustomization.yaml")]
    escapes: Escapes = {}
    reached: dict[str, frozenset[str]] = {}
    for t, c in present:
        path = layout.overlay_dir(t, c)
        reach = reacher.reach(path)
        if reach.escapes:
            escapes[path] = reach.escapes
        else:
            reached[path] = reach.files
    present = [(t, c) for t, c in present if layout.overlay_dir(t, c) in reached]
    if isinstance(side, WorkTreeSide):
        shared = shared_input_hash(side_root)
        refs = [OverlayRef(p, t, c, t, overlay_input_hash(side_root, p, shared, reached[p]))
                for t, c in present for p in [layout.overlay_dir(t, c)]]
    else:
        # Listed directory by directory: a one-tenant diff never lists the whole commit.
        shared = shared_input_hash_of(listing(side, layout.BASE_DIR), side.read)
        refs = [OverlayRef(p, t, c, t, overlay_input_hash_of(listing(side, p), side.read, p, shared, reached[p]))
                for t, c in present for p in [layout.overlay_dir(t, c)]]
    docs: dict[str, Docs] = {}
    missing: list[OverlayRef] = []
    for r in refs:
        hit = cache.get(r.key)
        if hit is None:
            missing.append(r)
        else:
            docs[r.path] = hit
    if missing and not isinstance(side, WorkTreeSide):
        needed = {f for r in missing for f in reached[r.path]}
        materialize(side, [f"{layout.BASE_DIR}/", *(f"{r.path}/" for r in missing), *sorted(needed)], side_root)
    docs.update(render_overlays(side_root, missing, cache, progress=progress))
    return docs, len(missing), escapes
