"""``gitops-gen validate``: render the selected overlays and check what would actually be applied.

Per overlay, the findings are cached under a key of everything they depend on (the overlay's
inputs, the base, its declarations, the estate's tenants, the schemas and the rules), so a second
run renders and checks nothing that did not change. Routing across overlays, the controller
objects, repository files and drift are checked on every run; they are cheap.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gitops_gen import __version__, gitrepo, yamlio
from gitops_gen.atomic import write_atomic
from gitops_gen.checks import (
    DRIFT,
    RULES,
    SCHEMA_CORE,
    SCHEMA_CUSTOM,
    SCHEMA_MISSING,
    YAML_INVALID,
    Finding,
    finding,
)
from gitops_gen.checks import isolation as overlay_rules
from gitops_gen.errors import GitError, UserError
from gitops_gen.estate import layout
from gitops_gen.estate.load import Estate, load_estate
from gitops_gen.generate.files import cluster_files, shared_files, tenant_files
from gitops_gen.render.kustomize import (
    OverlayRef,
    Progress,
    RenderCache,
    overlay_input_hash,
    render_overlays,
    shared_input_hash,
)
from gitops_gen.render.schemas import DEFAULT_KUBERNETES_VERSION, SchemaValidator
from gitops_gen.write.plan import plan_files

_CACHE_VERSION = 1


@dataclass(frozen=True)
class ValidateRequest:
    tenants: tuple[str, ...] = ()
    clusters: tuple[str, ...] = ()
    changed_since: str | None = None
    crd_dirs: tuple[Path, ...] = ()
    kubernetes_version: str = DEFAULT_KUBERNETES_VERSION
    jobs: int | None = None


@dataclass
class ValidateResult:
    findings: list[Finding]
    overlays: list[str]
    checked: int = 0          # overlays whose findings were computed in this run
    rendered: int = 0         # overlays built by kustomize in this run
    selection: str = "all overlays"
    stats: dict[str, Any] = field(default_factory=dict)

    @property
    def errors(self) -> int:
        return sum(1 for f in self.findings if f.severity == "error")

    @property
    def warnings(self) -> int:
        return sum(1 for f in self.findings if f.severity == "warning")

    @property
    def exit_code(self) -> int:
        return 1 if self.errors else 0


# --------------------------------------------------------------------------- selection

def _placements(estate: Estate) -> list[tuple[str, str]]:
    return sorted((t.name, c) for t in estate.tenants.values() for c in t.placements)


def select_overlays(root: Path, estate: Estate, request: ValidateRequest) -> tuple[list[tuple[str, str]], str]:
    """The (tenant, cluster) placements to validate, and a sentence saying why those."""
    for t in request.tenants:
        if t not in estate.tenants:
            raise UserError(f"--tenant {t!r}: no such tenant", "'gitops-gen list' shows the tenants")
    for c in request.clusters:
        if c not in estate.clusters:
            raise UserError(f"--cluster {c!r}: no such cluster", "'gitops-gen list' shows the clusters")
    chosen = [(t, c) for t, c in _placements(estate)
              if (not request.tenants or t in request.tenants) and (not request.clusters or c in request.clusters)]
    reasons = []
    if request.tenants:
        reasons.append(f"tenants {', '.join(request.tenants)}")
    if request.clusters:
        reasons.append(f"clusters {', '.join(request.clusters)}")
    if request.changed_since is not None:
        repo = gitrepo.open_repo(root)
        prefix = gitrepo.prefix_in_repo(repo, root)
        try:
            paths = gitrepo.changed_paths(repo, request.changed_since)
        except GitError as e:
            raise GitError(f"--changed-since {e.message}", e.hint) from None
        changed = {p.removeprefix(prefix) for p in paths if p.startswith(prefix)}
        affected = overlays_affected(changed, chosen)
        chosen = [p for p in chosen if p in affected]
        reasons.append(f"inputs changed since {request.changed_since}")
    return chosen, (" and ".join(reasons) or "all overlays")


def overlays_affected(changed: Iterable[str], placements: Sequence[tuple[str, str]]) -> set[tuple[str, str]]:
    """Placements whose rendered output or checks can change with these paths."""
    affected: set[tuple[str, str]] = set()
    by_tenant: dict[str, list[tuple[str, str]]] = {}
    by_cluster: dict[str, list[tuple[str, str]]] = {}
    for p in placements:
        by_tenant.setdefault(p[0], []).append(p)
        by_cluster.setdefault(p[1], []).append(p)
    for path in changed:
        parts = path.split("/")
        if path == layout.CONFIG_FILE or parts[0] == layout.BASE_DIR:
            return set(placements)  # the base and the estate settings shape every overlay
        if parts[0] == layout.CLUSTERS_DIR and len(parts) == 3 and parts[2] == "cluster.yaml":
            affected.update(by_cluster.get(parts[1], []))
        elif parts[0] == layout.OVERLAYS_DIR and len(parts) >= 3:
            if parts[2] == "tenant.yaml":
                affected.update(by_tenant.get(parts[1], []))
            elif (parts[1], parts[2]) in set(by_tenant.get(parts[1], [])):
                affected.add((parts[1], parts[2]))
    return affected


# --------------------------------------------------------------------------- the findings cache

class _KeyedCache:
    """Entries by name, each carrying the ``key`` it was made under, in one JSON file of the cache
    directory; a file of another version, unreadable or missing, is an empty cache."""

    FILE = ""

    def __init__(self, directory: Path | None) -> None:
        self.file = directory / self.FILE if directory is not None else None
        self.entries: dict[str, dict[str, Any]] = {}
        self.dirty = False
        if self.file is not None:
            try:
                raw = json.loads(self.file.read_text())
                if raw.get("version") == _CACHE_VERSION:
                    self.entries = raw["entries"]
            except (OSError, ValueError, KeyError, AttributeError):
                self.entries = {}

    def get(self, name: str, key: str) -> dict[str, Any] | None:
        entry = self.entries.get(name)
        return entry if entry is not None and entry.get("key") == key else None

    def put(self, name: str, entry: dict[str, Any]) -> None:
        self.entries[name] = entry
        self.dirty = True

    def save(self) -> None:
        if self.file is not None and self.dirty:
            with contextlib.suppress(OSError):  # a cache that cannot be written only costs time
                write_atomic(self.file, json.dumps({"version": _CACHE_VERSION, "entries": self.entries}))


class FindingsCache(_KeyedCache):
    """Per overlay, its findings under a key of its rendered inputs and the rules."""

    FILE = "validate-cache.json"


def _rules_fingerprint() -> str:
    """Changes when the rules could judge differently: the package version and the rule sources."""
    h = hashlib.sha256(__version__.encode())
    for module in (overlay_rules.__file__, __file__):
        if module:
            h.update(Path(module).read_bytes())
    return h.hexdigest()


def _file_bytes(root: Path, rel: str) -> bytes:
    try:
        return (root / rel).read_bytes()
    except FileNotFoundError:
        return b""


# --------------------------------------------------------------------------- checks

def _object_name(doc: Mapping[str, Any]) -> str:
    return f"{doc.get('kind')}/{(doc.get('metadata') or {}).get('name')}"


def _schema_findings(validator: SchemaValidator, docs: Iterable[Mapping[str, Any]], tenant: str | None,
                     cluster: str | None, path: str) -> list[Finding]:
    out: list[Finding] = []
    missing: set[str] = set()
    for doc in docs:
        what, errors = validator.errors(doc)
        if what == "missing":
            gvk = f"{doc.get('apiVersion')} {doc.get('kind')}"
            if gvk not in missing:
                missing.add(gvk)
                out.append(finding(SCHEMA_MISSING, f"no schema for {gvk}: it is not checked", tenant=tenant,
                                   cluster=cluster, obj=_object_name(doc), path=path))
            continue
        rule = SCHEMA_CORE if what == "core" else SCHEMA_CUSTOM
        out.extend(finding(rule, e, tenant=tenant, cluster=cluster, obj=_object_name(doc), path=path)
                   for e in errors[:5])
    return out


def _controller_findings(root: Path, validator: SchemaValidator, cache: FindingsCache, context: str) -> list[Finding]:
    """Schema findings for the objects in the YAML files under clusters/ and argocd/, and a finding
    per unreadable file; a file whose bytes did not change since the last run is not parsed again."""
    out: list[Finding] = []
    for top in (layout.CLUSTERS_DIR, layout.ARGOCD_DIR):
        base = root / top
        if not base.is_dir():
            continue
        for dirpath, dirnames, filenames in os.walk(base):
            dirnames.sort()
            for f in sorted(filenames):
                if not f.endswith((".yaml", ".yml")) or f == "cluster.yaml":
                    continue
                rel = os.path.relpath(os.path.join(dirpath, f), root).replace(os.sep, "/")
                data = (root / rel).read_bytes()
                key = hashlib.sha256(context.encode() + data).hexdigest()
                hit = cache.get(f"file:{rel}", key)
                if hit is None:
                    found = _file_schema_findings(rel, data, validator)
                    hit = {"key": key, "findings": [x.as_json() for x in found]}
                    cache.put(f"file:{rel}", hit)
                out.extend(Finding.from_json(x) for x in hit["findings"])
    return out


def _file_schema_findings(rel: str, data: bytes, validator: SchemaValidator) -> list[Finding]:
    try:
        docs = [d for d in yamlio.load_all(data) if isinstance(d, dict) and "kind" in d and "apiVersion" in d]
    except Exception as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or type(exc).__name__
        return [finding(YAML_INVALID, f"{rel} is not valid YAML{where}: {problem}", path=rel)]
    cluster = rel.split("/")[1] if rel.startswith(f"{layout.CLUSTERS_DIR}/") else None
    return _schema_findings(validator, docs, None, cluster, rel)


def _repository_yaml_files(root: Path) -> list[str]:
    files: list[str] = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = [d for d in dirnames if not d.startswith(".") or d == ".github"]
        for f in filenames:
            if f.endswith((".yaml", ".yml")):
                files.append(os.path.relpath(os.path.join(dirpath, f), root).replace(os.sep, "/"))
    return sorted(files)


def _generator_fingerprint() -> str:
    """Changes when generate could write something else for the same declarations."""
    from gitops_gen import generate
    from gitops_gen.estate import model

    h = hashlib.sha256(__version__.encode())
    for source in [*sorted(Path(generate.__file__).parent.glob("*.py")), Path(model.__file__)]:
        h.update(source.read_bytes())
    return h.hexdigest()


class DriftCache(_KeyedCache):
    """Per tenant, the digests of the files generate would write, under a key of its declarations:
    a tenant whose declarations did not change is checked by hashing its files, not regenerating them."""

    FILE = "drift-cache.json"


def _digest_on_disk(root: Path, rel: str) -> str | None:
    try:
        return hashlib.sha256((root / rel).read_bytes()).hexdigest()
    except (FileNotFoundError, NotADirectoryError):
        return None


def _drift_findings(root: Path, estate: Estate, tenants: Iterable[str] | None,
                    cache_dir: Path | None) -> list[Finding]:
    """Derived files that differ from what generate would write; all of them, or those of ``tenants``."""
    desired = shared_files(estate.config, estate.clusters)
    for cluster in estate.clusters.values():
        desired.update(cluster_files(estate.config, cluster))
    cache = DriftCache(cache_dir)
    context = hashlib.sha256(_generator_fingerprint().encode() + _file_bytes(root, layout.CONFIG_FILE)
                             + b"".join(_file_bytes(root, layout.cluster_file(c)) for c in sorted(estate.clusters)))
    expected: set[str] = set(desired)
    for name in (estate.tenants if tenants is None else tenants):
        key = hashlib.sha256(context.digest() + _file_bytes(root, layout.tenant_file(name))).hexdigest()
        entry = cache.get(name, key)
        if entry is None:
            files = tenant_files(estate.config, estate.clusters, estate.tenants[name])
            entry = {"key": key, "files": {p: hashlib.sha256(t.encode()).hexdigest() for p, t in files.items()}}
            cache.put(name, entry)
        expected.update(entry["files"])
        if any(_digest_on_disk(root, p) != digest for p, digest in entry["files"].items()):
            desired.update(tenant_files(estate.config, estate.clusters, estate.tenants[name]))
    cache.save()
    # Files of unchanged tenants are expected, not orphans: generate would write them as they are.
    plan = plan_files(root, desired, orphans_under=layout.DERIVED_ROOTS if tenants is None else (), keep=expected)
    out = []
    for change in plan.changes:
        what = {"create": "is missing", "delete": "is orphaned (its declaration is gone)"}.get(
            change.action, f"is {change.reason or 'stale'}")
        parts = change.path.split("/")
        tenant = parts[1] if parts[0] == layout.OVERLAYS_DIR and len(parts) > 2 else None
        out.append(finding(DRIFT, f"{change.path} {what}", tenant=tenant, path=change.path))
    return out


# --------------------------------------------------------------------------- the pipeline

def validate(root: Path, request: ValidateRequest, progress: Progress | None = None,
             cache_dir: Path | None = None) -> ValidateResult:
    estate = load_estate(root)
    placements, selection = select_overlays(root, estate, request)
    if cache_dir is None:
        repo = gitrepo.discover(root)
        cache_dir = Path(repo.path) / "gitops-gen" if repo is not None else None
    # A folder listed in gitops-gen.yaml may be absent on a fresh clone: say so, check the rest.
    configured = [(d, root / d) for d in estate.config.crd_dirs]
    absent = [finding(SCHEMA_MISSING, f"CRD folder {d!r} listed under 'crds' does not exist: custom kinds are "
                      "not checked against it", path=layout.CONFIG_FILE) for d, p in configured if not p.is_dir()]
    crd_dirs = [*request.crd_dirs, *(p for _, p in configured if p.is_dir())]
    validator = SchemaValidator(request.kubernetes_version, crd_dirs)
    shared = shared_input_hash(root)
    config_bytes = _file_bytes(root, layout.CONFIG_FILE)
    context = hashlib.sha256(b"\0".join([
        shared.encode(), validator.fingerprint().encode(), _rules_fingerprint().encode(), config_bytes,
        ",".join(sorted(estate.tenants)).encode(),
    ])).hexdigest()
    cluster_bytes = {c: _file_bytes(root, layout.cluster_file(c)) for c in estate.clusters}
    tenant_namespaces = frozenset(t.namespace for t in estate.tenants.values())

    refs: list[OverlayRef] = []
    keys: dict[str, str] = {}
    for tenant, cluster in placements:
        path = layout.overlay_dir(tenant, cluster)
        if not (root / path / "kustomization.yaml").is_file():
            continue  # never generated or deleted by hand: DRIFT001 reports its files as missing
        render_key = overlay_input_hash(root, path, shared)
        refs.append(OverlayRef(path, tenant, cluster, estate.tenants[tenant].namespace, render_key))
        keys[path] = hashlib.sha256(b"\0".join([
            context.encode(), render_key.encode(), _file_bytes(root, layout.tenant_file(tenant)),
            cluster_bytes[cluster]])).hexdigest()

    findings_cache = FindingsCache(cache_dir)
    entries: dict[str, dict[str, Any]] = {}
    todo = []
    for ref in refs:
        hit = findings_cache.get(ref.path, keys[ref.path])
        if hit is not None:
            entries[ref.path] = hit
        else:
            todo.append(ref)
    rendered_count = 0
    if todo:
        render_cache = RenderCache(cache_dir)
        rendered_count = sum(1 for r in todo if not render_cache.has(r.key))

        def check(ref: OverlayRef, docs: list[dict[str, Any]]) -> None:
            kustomization = f"{ref.path}/kustomization.yaml"
            found = _schema_findings(validator, docs, ref.tenant, ref.cluster, kustomization)
            found += overlay_rules.check_overlay(overlay_rules.OverlayContext(
                config=estate.config, tenant=estate.tenants[ref.tenant], cluster=estate.clusters[ref.cluster],
                overlay=ref.path, docs=docs, tenant_namespaces=tenant_namespaces))
            entry = {"key": keys[ref.path], "findings": [f.as_json() for f in found],
                     "ingresses": [d for d in docs if d.get("kind") == "Ingress"]}
            entries[ref.path] = entry
            findings_cache.put(ref.path, entry)

        render_overlays(root, todo, render_cache, jobs=request.jobs, progress=progress, on_rendered=check)
    elif progress:
        progress(len(refs), len(refs))

    findings: list[Finding] = list(absent)
    for ref in refs:
        findings.extend(Finding.from_json(f) for f in entries[ref.path]["findings"])
    findings += overlay_rules.check_routing(estate, {p: e["ingresses"] for p, e in entries.items()})
    findings += _controller_findings(root, validator, findings_cache, context)
    findings_cache.save()
    findings += overlay_rules.check_controllers(root, estate)
    findings += overlay_rules.check_repository_secrets(root, _repository_yaml_files(root))
    filtered = bool(request.tenants or request.clusters or request.changed_since)
    findings += _drift_findings(root, estate, sorted({t for t, _ in placements}) if filtered else None,
                                cache_dir)
    order = {"error": 0, "warning": 1}
    findings.sort(key=lambda f: (f.tenant or "", f.cluster or "", order[f.severity], f.rule, f.obj or "",
                                 f.message))
    return ValidateResult(findings, [r.path for r in refs], checked=len(todo), rendered=rendered_count,
                          selection=selection)


def rules_catalog() -> list[dict[str, str]]:
    return [{"id": r.id, "severity": r.severity, "title": r.title, "hint": r.hint}
            for r in sorted(RULES.values(), key=lambda r: r.id)]
