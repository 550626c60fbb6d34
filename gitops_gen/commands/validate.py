"""``gitops-gen validate``: render the selected overlays and check what would actually be applied.

Per overlay, the findings are cached under a key of everything they depend on (the overlay's
inputs, the base, its declarations, the estate's tenants, the schemas and the rules), so a second
run renders and checks nothing that did not change. Routing across overlays, the controller
objects, repository files and drift are checked on every run; they are cheap.

At CI scale a run is split into shards (``--shard K/N``): each takes a stable share of the selected
overlays, every placement of a tenant in the same shard; ``merge_reports`` puts their JSON reports back
together into exactly what one run finds, and ``plan_shards`` says how many shards a change needs.
"""

from __future__ import annotations

import hashlib
import heapq
import json
import math
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pygit2

from gitops_gen import __version__, checks, gitrepo
from gitops_gen.checks import RULES, Finding, finding
from gitops_gen.checks.cache import FindingsCache, file_bytes
from gitops_gen.checks.drift import build_failure, drift_findings, tenant_of_path
from gitops_gen.checks.objects import ref_of
from gitops_gen.checks.routing import ROUTE_SHARED_HOST, ingress_hosts
from gitops_gen.checks.schema import SCHEMA_MISSING, controller_findings, schema_findings
from gitops_gen.checks.secrets import SEC_OUTSIDE, SEC_SHARED_KEY
from gitops_gen.errors import GitError, UserError
from gitops_gen.estate import layout
from gitops_gen.estate.load import Estate, load_estate
from gitops_gen.estate.model import EstateConfig
from gitops_gen.render.kustomize import (
    BuildError,
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

SHARD_FORM = "K/N, two whole numbers with 1 <= K <= N (e.g. --shard 2/4: the second of four shards)"
#: A matrix generates at most 256 jobs per workflow run (docs.github.com, "Running variations of jobs in a
#: workflow"; "Actions limits"), on GitHub-hosted and self-hosted runners alike.
GITHUB_MATRIX_LIMIT = 256
#: GitLab's ``parallel:`` takes 1 to 200 jobs (docs.gitlab.com, CI/CD YAML syntax, ``parallel``).
GITLAB_PARALLEL_LIMIT = 200
PER_SHARD = 200
#: Findings that need every overlay's facts: ``merge_reports`` computes them again over all the shards'.
CROSS_SHARD_RULES = frozenset({ROUTE_SHARED_HOST.id, SEC_SHARED_KEY.id})
REPORT_VERSION = 1


@dataclass(frozen=True)
class Shard:
    index: int
    count: int

    @classmethod
    def parse(cls, text: str) -> Shard:
        index, _, count = text.strip().partition("/")
        try:
            shard = cls(int(index), int(count))
        except ValueError:
            shard = None
        if shard is None or not 1 <= shard.index <= shard.count:
            raise UserError(f"--shard {text!r} is not of the form {SHARD_FORM}",
                            "number the shards of a run 1/N to N/N; 'gitops-gen validate plan' prints them",
                            field="--shard")
        return shard

    def __str__(self) -> str:
        return f"{self.index}/{self.count}"

    def as_json(self) -> dict[str, int]:
        return {"index": self.index, "count": self.count}


@dataclass(frozen=True)
class ValidateRequest:
    tenants: tuple[str, ...] = ()
    clusters: tuple[str, ...] = ()
    changed_since: str | None = None
    crd_dirs: tuple[Path, ...] = ()
    kubernetes_version: str = DEFAULT_KUBERNETES_VERSION
    jobs: int | None = None
    shard: Shard | None = None


@dataclass
class ValidateResult:
    findings: list[Finding]
    overlays: list[str]
    checked: int = 0          # overlays whose findings were computed in this run
    rendered: int = 0         # overlays built by kustomize in this run
    selection: str = "all overlays"
    stats: dict[str, Any] = field(default_factory=dict)
    shard: Shard | None = None
    #: Overlays the selection holds before sharding, and a digest of them: the shards of one run share both.
    selected: int = 0
    selection_digest: str = ""
    #: Per overlay, what the checks across overlays need (hosts and remote keys), for merge_reports.
    facts: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: Why validation (or a shard of it) could not run, for a merged report.
    failures: list[str] = field(default_factory=list)
    #: Shards a merged report was made of.
    merged: int = 0

    @property
    def errors(self) -> int:
        return sum(1 for f in self.findings if f.severity == "error")

    @property
    def warnings(self) -> int:
        return sum(1 for f in self.findings if f.severity == "warning")

    @property
    def exit_code(self) -> int:
        return 2 if self.failures else 1 if self.errors else 0

    def as_json(self, estate_dir: str = "") -> dict[str, Any]:
        """The report ``--output json`` prints (the README documents it); a shard's also carries what
        ``validate merge`` needs: its place, the selection's digest, its overlays' facts, the estate's folder."""
        data: dict[str, Any] = {
            "version": REPORT_VERSION,
            "selection": self.selection,
            "summary": {"overlays": len(self.overlays), "checked": self.checked, "rendered": self.rendered,
                        "errors": self.errors, "warnings": self.warnings},
            "findings": [f.as_json() for f in self.findings],
            "rules": rules_catalog(),
            "overlays": self.overlays,
        }
        if self.shard is not None:
            data.update({"shard": self.shard.as_json(), "selected": self.selected,
                         "selectionDigest": self.selection_digest, "estateDir": estate_dir, "facts": self.facts})
        if self.merged:
            data["shards"] = {"count": self.merged, "failed": self.failures}
        return data


# --------------------------------------------------------------------------- selection

def _placements(estate: Estate) -> list[tuple[str, str]]:
    return sorted((t.name, c) for t in estate.tenants.values() for c in t.placements)


def select_overlays(root: Path, estate: Estate, request: ValidateRequest) -> tuple[list[tuple[str, str]], str]:
    """The (tenant, cluster) placements to validate, and a sentence saying why those."""
    chosen, why, _changed = _select(root, estate, request)
    return chosen, why


def _select(root: Path, estate: Estate, request: ValidateRequest,
            changes: Callable[[], set[str]] | None = None) -> tuple[list[tuple[str, str]], str, set[str] | None]:
    """``select_overlays``, and the estate-relative paths changed since --changed-since (None without it).
    ``changes``: those paths (repository-relative), when the caller has started looking for them."""
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
            paths = changes() if changes is not None else gitrepo.changed_paths(repo, request.changed_since)
        except GitError as e:
            raise GitError(f"--changed-since {e.message}", e.hint) from None
        changed: set[str] | None = {p.removeprefix(prefix) for p in paths if p.startswith(prefix)}
        affected = overlays_affected(changed or set(), chosen)
        chosen = [p for p in chosen if p in affected]
        reasons.append(f"inputs changed since {request.changed_since}")
    else:
        changed = None
    return chosen, (" and ".join(reasons) or "all overlays"), changed


def selection_digest(placements: Sequence[tuple[str, str]]) -> str:
    return hashlib.sha256("\n".join(f"{t}/{c}" for t, c in sorted(placements)).encode()).hexdigest()


def assign_shards(weights: Mapping[str, int], count: int) -> dict[str, int]:
    """Each tenant's shard (1 to ``count``), by its overlays' count in ``weights``.

    Tenants are taken in the order of the SHA-256 of their names (stable across machines and Python
    versions, unlike ``hash()``), each into the shard with the fewest overlays so far, the lowest index
    on a tie: every shard ends within one tenant's overlays of the others, and the same selection always
    gives the same shards. A tenant's placements stay together, so checks within a tenant see all of it."""
    loads = [(0, i) for i in range(1, count + 1)]
    out: dict[str, int] = {}
    for tenant in sorted(weights, key=lambda t: hashlib.sha256(t.encode()).digest()):
        load, index = heapq.heappop(loads)
        out[tenant] = index
        heapq.heappush(loads, (load + weights[tenant], index))
    return out


def resolve_cache_dir(root: Path, path: Path) -> Path:
    """``--cache-dir``: a folder inside the repository's work tree (gitops-gen writes nothing outside the
    repository), neither the estate's root nor inside a folder the estate's files live in."""
    repo = gitrepo.discover(root)
    top = Path(repo.workdir).resolve() if repo is not None and repo.workdir else root.resolve()
    target = path.resolve()
    hint = ("give a folder of its own inside the repository, e.g. --cache-dir .gitops-gen-cache, and list it in "
            ".gitignore")
    if target != top and top not in target.parents:
        raise UserError(f"--cache-dir {path}: {target} is outside the repository's work tree {top}: gitops-gen "
                        "never writes outside the repository", hint, field="--cache-dir")
    estate = root.resolve()
    if target in (top, estate):
        raise UserError(f"--cache-dir {path} is the repository's root: the cache would mix with the estate's files",
                        hint, field="--cache-dir")
    if estate in target.parents and target.relative_to(estate).parts[0] in layout.DERIVED_ROOTS:
        raise UserError(f"--cache-dir {path} lies in {target.relative_to(estate).parts[0]}/, which holds the "
                        "estate's files validate reads", hint, field="--cache-dir")
    if target.exists() and not target.is_dir():
        raise UserError(f"--cache-dir {path} is a file, not a folder", hint, field="--cache-dir")
    return target


# --------------------------------------------------------------------------- the findings cache

def _rules_fingerprint() -> str:
    """Changes when the rules could judge differently: the package version and the rule sources."""
    h = hashlib.sha256(__version__.encode())
    for module in [*sorted(Path(checks.__file__).parent.glob("*.py")), Path(__file__)]:
        h.update(module.read_bytes())
    return h.hexdigest()


# --------------------------------------------------------------------------- checks

def _tree_files(root: Path, ref: str, cache_dir: Path | None) -> list[str] | None:
    """The estate's files at ``ref``; None when ``ref`` names no commit (``_select`` says so)."""
    repo = gitrepo.open_repo(root)
    try:
        return gitrepo.tree_files(repo, ref, gitrepo.prefix_in_repo(repo, root), cache_dir)
    except (KeyError, ValueError, pygit2.GitError):
        return None


def _repository_yaml_files(files: list[str]) -> list[str]:
    """The YAML files of the repository's listing, outside hidden directories but those named .github."""
    return [f for f in files if f.endswith((".yaml", ".yml"))
            and (not checks.is_hidden(f) or all(not d.startswith(".") or d == ".github" for d in f.split("/")[:-1]))]


# --------------------------------------------------------------------------- the pipeline

def _facts(entry: Mapping[str, Any]) -> dict[str, Any]:
    """What the checks across overlays read of one overlay: its Ingresses' hosts and its remote keys."""
    return {"hosts": [[ref_of(i), ingress_hosts(i)] for i in entry.get("ingresses", [])],
            "secretKeys": entry.get("secret_keys", [])}


def validate(root: Path, request: ValidateRequest, progress: Progress | None = None,
             cache_dir: Path | None = None) -> ValidateResult:
    # What changed since --changed-since is looked for while the declarations load.
    changes = gitrepo.changed_paths_soon(root, request.changed_since) if request.changed_since else None
    estate = load_estate(root)
    if cache_dir is None:
        repo = gitrepo.discover(root)
        cache_dir = Path(repo.path) / "gitops-gen" if repo is not None else None
    ref_files = _tree_files(root, request.changed_since, cache_dir) if request.changed_since else None
    placements, selection, changed = _select(root, estate, request, changes)
    filtered = bool(request.tenants or request.clusters or request.changed_since)
    selected, digest = len(placements), selection_digest(placements)
    shard = request.shard
    # A shard checks its tenants' overlays and files; the estate's own files and objects are shard 1's.
    estate_level = shard is None or shard.index == 1
    selected_tenants = {t for t, _ in placements} if filtered else set(estate.tenants)
    mine: set[str] | None = None
    if shard is not None:
        weights = dict.fromkeys(selected_tenants, 0)
        for t, _ in placements:
            weights[t] += 1
        mine = {t for t, k in assign_shards(weights, shard.count).items() if k == shard.index}
        placements = [p for p in placements if p[0] in mine]
    scope: set[str] | None = mine
    owners: Collection[str] = selected_tenants
    if shard is None and changed is not None and not request.tenants and not request.clusters \
            and len(placements) < len(_placements(estate)) \
            and all(p.startswith(f"{layout.OVERLAYS_DIR}/") or tenant_of_path(p, estate.tenants) is not None
                    for p in changed):
        # --changed-since, when every changed file is a tenant's: the files of a tenant nothing changed for
        # are as they were at the ref, and nothing they are checked against (CRDs, controller objects,
        # settings) changed, so the repository-wide checks read and report the files of the tenants whose
        # overlays or own files changed, and the estate's own files, as a shard does. At 10,000 tenants
        # that spares reading 50,000 files of other tenants on every pull request.
        owners = set(estate.tenants)
        touched = {tenant_of_path(p, owners) for p in changed}
        scope = {t for t, _ in placements} | {t for t in touched if t is not None}
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

        def failed(ref: OverlayRef, exc: BuildError) -> None:
            # A hand edit that breaks the build is drift, reported like any finding; the run goes on. Same
            # inputs, same failure: it is cached like findings are.
            entry = {"key": keys[ref.path], "ingresses": [], "secret_keys": [],
                     "findings": [build_failure(root, ref.path, ref.tenant, ref.cluster, exc.detail).as_json()]}
            entries[ref.path] = entry
            findings_cache.put(ref.path, entry)

        render_overlays(root, todo, render_cache, jobs=request.jobs, progress=progress, on_rendered=check,
                        on_failed=failed)
    elif progress:
        progress(len(refs), len(refs))

    findings: list[Finding] = [*outside]
    for ref in refs:
        findings.extend(Finding.from_json(f) for f in entries[ref.path]["findings"])
    findings += checks.check_routing(estate, {p: e["ingresses"] for p, e in entries.items()})
    findings += checks.check_secret_keys(estate, {p: e.get("secret_keys", []) for p, e in entries.items()})
    # A shard reports on the files of its tenants (their controller files, Flux platform folders, AppProjects,
    # overlay files) and shard 1 on the others; a shard reads the estate's own controller documents too, which
    # its tenants' refer to.
    in_shard: Callable[[str], bool] | None = None
    readable: Callable[[str], bool] | None = None
    if scope is not None:
        shard_tenants = scope

        def in_shard(rel: str) -> bool:
            owner = tenant_of_path(rel, owners)
            return owner in shard_tenants if owner is not None else estate_level

        def readable(rel: str) -> bool:
            owner = tenant_of_path(rel, owners)
            return owner is None or owner in shard_tenants

    if estate_level:
        findings += absent
    # One listing for the repository-wide checks: with --changed-since, the ref's tree and the changes.
    files = checks.repository_files(root) if changed is None or ref_files is None \
        else gitrepo.files_with_changes(root, ref_files, changed)
    # The files whose documents are read: a shard's reports (in_shard) are a part of them.
    read_files = files if readable is None else [rel for rel in files if readable(rel)]
    findings += controller_findings(root, validator, findings_cache, context, include=in_shard, files=read_files)
    findings_cache.save()
    yaml_files = _repository_yaml_files(read_files)
    if in_shard is not None:
        yaml_files = [rel for rel in yaml_files if in_shard(rel)]
    findings += checks.check_controllers(root, estate, include=in_shard, files=files, read_files=read_files)
    findings += checks.check_repository_secrets(root, yaml_files)
    if mine is not None:
        findings += drift_findings(root, estate, sorted(mine), cache_dir, estate_files=estate_level,
                                   orphans=not filtered)
    else:
        findings += drift_findings(root, estate, sorted({t for t, _ in placements}) if filtered else None,
                                   cache_dir)
    _sort(findings)
    return ValidateResult(findings, [r.path for r in refs], checked=len(todo), rendered=rendered_count,
                          selection=selection, shard=shard, selected=selected, selection_digest=digest,
                          facts={r.path: _facts(entries[r.path]) for r in refs} if shard is not None else {})


def _sort(findings: list[Finding]) -> None:
    order = {"error": 0, "warning": 1}
    findings.sort(key=lambda f: (f.tenant or "", f.cluster or "", order[f.severity], f.rule, f.obj or "",
                                 f.path or "", f.message))


def rules_catalog() -> list[dict[str, str]]:
    return [{"id": r.id, "severity": r.severity, "title": r.title, "hint": r.hint}
            for r in sorted(RULES.values(), key=lambda r: r.id)]


# --------------------------------------------------------------------------- shards: merge and plan

#: check_routing reads the estate only for ROUTE002's note, which merge_reports keeps from the shards (a
#: tenant's placements are all in one shard): facts alone answer ROUTE001 and SEC003.
_FACTS_ONLY = Estate(Path("."), EstateConfig(repo_url=""))
_REPORT_HINT = "pass the files that 'gitops-gen validate --shard K/N --output json' wrote, one per shard"


@dataclass
class _ShardReport:
    path: Path
    shard: Shard
    data: dict[str, Any]
    findings: list[Finding]


def _refuse(path: Path, what: str, hint: str = _REPORT_HINT) -> UserError:
    return UserError(f"{path} {what}", hint, field=str(path))


def _shard_in(path: Path, value: Any) -> Shard:
    if not (isinstance(value, dict) and isinstance(value.get("index"), int) and isinstance(value.get("count"), int)
            and 1 <= value["index"] <= value["count"]):
        raise _refuse(path, f"has no valid shard ({value!r}): it is not a shard's validate report")
    return Shard(value["index"], value["count"])


def _read_report(path: Path) -> _ShardReport | tuple[Path, Shard | None, str]:
    """A shard's report, or (path, shard if known, message) for a shard that could not run."""
    try:
        data = json.loads(path.read_bytes())
    except FileNotFoundError:
        raise _refuse(path, "does not exist") from None
    except (OSError, ValueError) as exc:
        raise _refuse(path, f"is not a validate JSON report: it is not JSON ({exc})") from None
    if not isinstance(data, dict):
        raise _refuse(path, "is not a validate JSON report: it holds no JSON object")
    error = data.get("error")
    if isinstance(error, dict) and "message" in error:
        shard = _shard_in(path, data["shard"]) if "shard" in data else None
        hint = f" ({error['hint']})" if error.get("hint") else ""
        return path, shard, f"{path}: validate could not run: {error['message']}{hint}"
    if data.get("version") != REPORT_VERSION or not isinstance(data.get("findings"), list) \
            or not isinstance(data.get("summary"), dict) or not isinstance(data.get("overlays"), list):
        raise _refuse(path, "is not a validate JSON report of this gitops-gen (version, summary, findings and "
                      "overlays expected)")
    if "shard" not in data:
        raise _refuse(path, "is the report of a validate run that was not sharded",
                      "run each shard with --shard K/N --output json and merge those reports")
    shard = _shard_in(path, data["shard"])
    if not isinstance(data.get("facts"), dict) or not isinstance(data.get("selectionDigest"), str):
        raise _refuse(path, "lacks the facts and selection digest of a shard's report")
    try:
        findings = [Finding.from_json(f) for f in data["findings"]]
    except (KeyError, TypeError, AttributeError) as exc:
        raise _refuse(path, f"holds a finding that is not one ({exc})") from None
    return _ShardReport(path, shard, data, findings)


def merge_reports(paths: Sequence[Path]) -> ValidateResult:
    """The shards' JSON reports as the one report a run without shards gives: their findings, the checks
    across overlays (hosts, remote keys) again over every shard's facts, their counts; ``failures`` for
    the shards that could not run. Refused: a file that is no such report, shards of different runs
    (selection or count), a shard given twice or missing."""
    if not paths:
        raise UserError("no report to merge", _REPORT_HINT, field="FILE")
    reports: list[_ShardReport] = []
    failed: list[tuple[Path, Shard | None, str]] = []
    for path in paths:
        read = _read_report(path)
        if isinstance(read, _ShardReport):
            reports.append(read)
        else:
            failed.append(read)
    placed = [(r.path, r.shard) for r in reports] + [(p, s) for p, s, _ in failed if s is not None]
    if placed:
        first_path, first = placed[0]
        for path, shard in placed[1:]:
            if shard.count != first.count:
                raise _refuse(path, f"is shard {shard} of {shard.count} shards, {first_path} one of {first.count}",
                              "merge the shards of one run only")
        seen: dict[int, Path] = {}
        for path, shard in placed:
            if shard.index in seen:
                raise _refuse(path, f"and {seen[shard.index]} are both shard {shard}",
                              "pass each shard's report once")
            seen[shard.index] = path
        missing = [i for i in range(1, first.count + 1) if i not in seen]
        unplaced = sum(1 for _, s, _ in failed if s is None)
        if len(missing) > unplaced:
            shown = ", ".join(f"{i}/{first.count}" for i in missing)
            raise UserError(f"shard {shown} {'is' if len(missing) == 1 else 'are'} missing: "
                            f"{len(seen)} of {first.count} shards given", _REPORT_HINT, field="FILE")
    if reports:
        base = reports[0]
        for r in reports[1:]:
            if r.data["selectionDigest"] != base.data["selectionDigest"]:
                raise _refuse(r.path, f"validated another selection ({r.data.get('selection')}, "
                              f"{r.data.get('selected')} overlays) than {base.path} ({base.data.get('selection')}, "
                              f"{base.data.get('selected')} overlays)",
                              "merge the shards of one run: the same --tenant, --cluster and --changed-since, on "
                              "the same commit")
    findings: list[Finding] = []
    overlays: list[str] = []
    facts: dict[str, dict[str, Any]] = {}
    owner: dict[str, Path] = {}
    for r in reports:
        findings += [f for f in r.findings if f.rule not in CROSS_SHARD_RULES]
        for overlay, fact in r.data["facts"].items():
            if overlay in owner:
                raise _refuse(r.path, f"and {owner[overlay]} both validated {overlay}",
                              "merge the shards of one run only")
            owner[overlay] = r.path
            facts[overlay] = fact if isinstance(fact, dict) else {}
        overlays += [str(o) for o in r.data["overlays"]]
    ingresses = {o: [{"kind": str(obj).partition("/")[0], "metadata": {"name": str(obj).partition("/")[2]},
                      "spec": {"rules": [{"host": h} for h in hosts]}}
                     for obj, hosts in f.get("hosts", [])] for o, f in facts.items()}
    findings += [f for f in checks.check_routing(_FACTS_ONLY, ingresses) if f.rule in CROSS_SHARD_RULES]
    findings += checks.check_secret_keys(_FACTS_ONLY, {o: f.get("secretKeys", []) for o, f in facts.items()})
    _sort(findings)
    overlays.sort(key=lambda o: tuple(o.split("/")))
    summaries = [r.data["summary"] for r in reports]
    count = placed[0][1].count if placed else len(failed)
    return ValidateResult(
        findings, overlays, checked=sum(int(s.get("checked", 0)) for s in summaries),
        rendered=sum(int(s.get("rendered", 0)) for s in summaries),
        selection=str(reports[0].data.get("selection", "")) if reports else "unknown (no shard could run)",
        selected=int(reports[0].data.get("selected", len(overlays))) if reports else 0,
        failures=[message for _, _, message in failed], merged=count)


def estate_dir_of(paths: Sequence[Path]) -> str:
    """The estate's folder in the repository as the shards' reports give it ('' at the top)."""
    for path in paths:
        try:
            data = json.loads(path.read_bytes())
        except (OSError, ValueError):
            continue
        if isinstance(data, dict) and isinstance(data.get("estateDir"), str):
            return str(data["estateDir"])
    return ""


@dataclass(frozen=True)
class ShardPlan:
    overlays: int
    shards: int
    selection: str
    per_shard: int

    def matrix(self) -> dict[str, list[dict[str, str]]]:
        """GitHub Actions' ``strategy.matrix``: one job per shard, ``matrix.shard`` being ``K/N``."""
        return {"include": [{"shard": f"{k}/{self.shards}"} for k in range(1, self.shards + 1)]}


def plan_shards(root: Path, changed_since: str | None = None, max_jobs: int = GITHUB_MATRIX_LIMIT,
                per_shard: int = PER_SHARD, tenants: tuple[str, ...] = (),
                clusters: tuple[str, ...] = ()) -> ShardPlan:
    """How many shards the selected overlays need: one per ``per_shard`` overlays, at least one (a shard with
    nothing to do still reports, so the workflow's merge succeeds), at most ``max_jobs``."""
    if max_jobs < 1:
        raise UserError(f"--max-jobs {max_jobs}: give at least 1 (GitHub Actions runs at most "
                        f"{GITHUB_MATRIX_LIMIT} jobs per matrix, GitLab's parallel at most {GITLAB_PARALLEL_LIMIT})",
                        "e.g. --max-jobs 256", field="--max-jobs")
    if per_shard < 1:
        raise UserError(f"--per-shard {per_shard}: give at least 1 overlay per shard", "e.g. --per-shard 200",
                        field="--per-shard")
    estate = load_estate(root)
    placements, selection = select_overlays(
        root, estate, ValidateRequest(tenants=tenants, clusters=clusters, changed_since=changed_since))
    shards = max(1, min(max_jobs, math.ceil(len(placements) / per_shard)))
    return ShardPlan(len(placements), shards, selection, per_shard)
