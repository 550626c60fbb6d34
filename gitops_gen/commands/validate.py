"""``gitops-gen validate``: render the selected overlays and check what would actually be applied.

Per overlay, the findings are cached under a key of everything they depend on (the overlay's
inputs, the base, its declarations, the estate's tenants, the schemas and the rules), so a second
run renders and checks nothing that did not change. Routing across overlays, the controller
objects, repository files and drift are checked on every run; they are cheap.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gitops_gen import __version__, checks, gitrepo
from gitops_gen.checks import RULES, Finding, finding
from gitops_gen.checks.cache import FindingsCache, file_bytes
from gitops_gen.checks.drift import drift_findings
from gitops_gen.checks.objects import ref_of
from gitops_gen.checks.schema import SCHEMA_MISSING, controller_findings, schema_findings
from gitops_gen.checks.secrets import SEC_OUTSIDE
from gitops_gen.errors import GitError, UserError
from gitops_gen.estate import layout
from gitops_gen.estate.load import Estate, load_estate
from gitops_gen.render.kustomize import (
    OverlayRef,
    Progress,
    RenderCache,
    overlay_input_hash,
    overlays_affected,
    render_overlays,
    shared_input_hash,
)
from gitops_gen.render.reach import DiskTree, Reacher
from gitops_gen.render.schemas import DEFAULT_KUBERNETES_VERSION, SchemaValidator


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


# --------------------------------------------------------------------------- the findings cache

def _rules_fingerprint() -> str:
    """Changes when the rules could judge differently: the package version and the rule sources."""
    h = hashlib.sha256(__version__.encode())
    for module in [*sorted(Path(checks.__file__).parent.glob("*.py")), Path(__file__)]:
        h.update(module.read_bytes())
    return h.hexdigest()


# --------------------------------------------------------------------------- checks

def _repository_yaml_files(root: Path) -> list[str]:
    files: list[str] = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = [d for d in dirnames if not d.startswith(".") or d == ".github"]
        for f in filenames:
            if f.endswith((".yaml", ".yml")):
                files.append(os.path.relpath(os.path.join(dirpath, f), root).replace(os.sep, "/"))
    return sorted(files)


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
    config_bytes = file_bytes(root, layout.CONFIG_FILE)
    context = hashlib.sha256(b"\0".join([
        shared.encode(), validator.fingerprint().encode(), _rules_fingerprint().encode(), config_bytes,
        ",".join(sorted(estate.tenants)).encode(),
    ])).hexdigest()
    cluster_bytes = {c: file_bytes(root, layout.cluster_file(c)) for c in estate.clusters}
    tenant_namespaces = frozenset(t.namespace for t in estate.tenants.values())

    refs: list[OverlayRef] = []
    keys: dict[str, str] = {}
    outside: list[Finding] = []
    reacher = Reacher(DiskTree(root))
    for tenant, cluster in placements:
        path = layout.overlay_dir(tenant, cluster)
        if not (root / path / "kustomization.yaml").is_file():
            continue  # never generated or deleted by hand: DRIFT001 reports its files as missing
        # Read every kustomization the overlay reaches first: one that reaches outside the repository
        # (a URL, a path or link leading out) is never built.
        reach = reacher.reach(path)
        if reach.escapes:
            outside += [finding(SEC_OUTSIDE, f"{e.describe()}; the overlay is not built", tenant=tenant,
                                cluster=cluster, path=e.file) for e in reach.escapes]
            continue
        render_key = overlay_input_hash(root, path, shared, reach.files)
        refs.append(OverlayRef(path, tenant, cluster, estate.tenants[tenant].namespace, render_key))
        keys[path] = hashlib.sha256(b"\0".join([
            context.encode(), render_key.encode(), file_bytes(root, layout.tenant_file(tenant)),
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
            found = schema_findings(validator, docs, ref.tenant, ref.cluster, kustomization)
            found += checks.check_overlay(checks.OverlayContext(
                config=estate.config, tenant=estate.tenants[ref.tenant], cluster=estate.clusters[ref.cluster],
                overlay=ref.path, docs=docs, tenant_namespaces=tenant_namespaces))
            entry = {"key": keys[ref.path], "findings": [f.as_json() for f in found],
                     "ingresses": [d for d in docs if d.get("kind") == "Ingress"],
                     "secret_keys": [[store, key, ref_of(es)] for es, key, store in checks.remote_reads(docs)
                                     if key is not None]}
            entries[ref.path] = entry
            findings_cache.put(ref.path, entry)

        render_overlays(root, todo, render_cache, jobs=request.jobs, progress=progress, on_rendered=check)
    elif progress:
        progress(len(refs), len(refs))

    findings: list[Finding] = [*absent, *outside]
    for ref in refs:
        findings.extend(Finding.from_json(f) for f in entries[ref.path]["findings"])
    findings += checks.check_routing(estate, {p: e["ingresses"] for p, e in entries.items()})
    findings += checks.check_secret_keys(estate, {p: e.get("secret_keys", []) for p, e in entries.items()})
    findings += controller_findings(root, validator, findings_cache, context)
    findings_cache.save()
    findings += checks.check_controllers(root, estate)
    findings += checks.check_repository_secrets(root, _repository_yaml_files(root))
    filtered = bool(request.tenants or request.clusters or request.changed_since)
    findings += drift_findings(root, estate, sorted({t for t, _ in placements}) if filtered else None,
                                cache_dir)
    order = {"error": 0, "warning": 1}
    findings.sort(key=lambda f: (f.tenant or "", f.cluster or "", order[f.severity], f.rule, f.obj or "",
                                 f.message))
    return ValidateResult(findings, [r.path for r in refs], checked=len(todo), rendered=rendered_count,
                          selection=selection)


def rules_catalog() -> list[dict[str, str]]:
    return [{"id": r.id, "severity": r.severity, "title": r.title, "hint": r.hint}
            for r in sorted(RULES.values(), key=lambda r: r.id)]
