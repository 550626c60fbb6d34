"""The drift rule (DRIFT001): every derived file as 'gitops-gen generate' would write it, and every
overlay still builds (a hand edit that breaks the build is drift too)."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Collection, Iterable
from pathlib import Path

from gitops_gen import __version__
from gitops_gen.checks.cache import KeyedCache, file_bytes
from gitops_gen.checks.registry import Finding, finding, rule
from gitops_gen.estate import layout
from gitops_gen.estate.load import Estate
from gitops_gen.generate.files import cluster_files, shared_files, tenant_files
from gitops_gen.write.plan import plan_files

DRIFT = rule("DRIFT001", "error", "Derived file differs from what 'gitops-gen generate' writes",
             "run 'gitops-gen generate' and commit the result; change declarations, not derived files")


def _generator_fingerprint() -> str:
    """Changes when generate could write something else for the same declarations."""
    from gitops_gen import generate
    from gitops_gen.estate import model

    h = hashlib.sha256(__version__.encode())
    for source in [*sorted(Path(generate.__file__).parent.glob("*.py")), Path(model.__file__)]:
        h.update(source.read_bytes())
    return h.hexdigest()


class DriftCache(KeyedCache):
    """Per tenant, the digests of the files generate would write, under a key of its declarations:
    a tenant whose declarations did not change is checked by hashing its files, not regenerating them."""

    FILE = "drift-cache.json"


def _digest_on_disk(root: Path, rel: str) -> str | None:
    try:
        return hashlib.sha256((root / rel).read_bytes()).hexdigest()
    except (FileNotFoundError, NotADirectoryError):
        return None


def tenant_of_path(rel: str, tenants: Collection[str]) -> str | None:
    """The declared tenant a derived file belongs to (its overlay, AppProject, placement file or Flux
    platform folder), or None for a file of the estate as a whole."""
    parts = rel.split("/")
    name: str | None = None
    if parts[0] == layout.OVERLAYS_DIR and len(parts) > 2:
        name = parts[1]
    elif parts[0] == layout.ARGOCD_DIR and len(parts) == 3 and parts[1] == "projects":
        name = parts[2].removesuffix(".yaml")
    elif parts[0] == layout.CLUSTERS_DIR and len(parts) == 4 and parts[2] == "tenants":
        name = parts[3].removesuffix(".yaml")
    elif parts[0] == layout.CLUSTERS_DIR and len(parts) > 4 and parts[2] == "platform":
        name = parts[3]
    return name if name is not None and name in tenants else None


def drift_findings(root: Path, estate: Estate, tenants: Iterable[str] | None,
                   cache_dir: Path | None, *, estate_files: bool = True, orphans: bool | None = None) -> list[Finding]:
    """Derived files that differ from what generate would write; all of them, or those of ``tenants``.

    A validate shard passes its own tenants: ``estate_files`` says whether it also checks the files of the
    estate as a whole (shared and per-cluster ones), ``orphans`` whether it looks for orphaned files (by
    default only when every tenant is checked); orphans then are those of its tenants, plus, with
    ``estate_files``, those of no declared tenant. So N shards together find exactly what one run finds."""
    scan_orphans = tenants is None if orphans is None else orphans
    desired: dict[str, str] = {}
    if estate_files:
        desired.update(shared_files(estate.config, estate.clusters))
        for cluster in estate.clusters.values():
            desired.update(cluster_files(estate.config, cluster))
    cache = DriftCache(cache_dir)
    context = hashlib.sha256(_generator_fingerprint().encode() + file_bytes(root, layout.CONFIG_FILE)
                             + b"".join(file_bytes(root, layout.cluster_file(c)) for c in sorted(estate.clusters)))
    expected: set[str] = set(desired)
    names = list(estate.tenants if tenants is None else tenants)
    for name in names:
        key = hashlib.sha256(context.digest() + file_bytes(root, layout.tenant_file(name))).hexdigest()
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
    orphans_of = None
    if scan_orphans and tenants is not None:
        mine, declared = set(names), estate.tenants.keys()

        def orphans_of(rel: str) -> bool:
            owner = tenant_of_path(rel, declared)
            return owner in mine if owner is not None else estate_files

    plan = plan_files(root, desired, orphans_under=layout.DERIVED_ROOTS if scan_orphans else (), keep=expected,
                      orphans_of=orphans_of)
    out = []
    for change in plan.changes:
        what = {"create": "is missing", "delete": "is orphaned (its declaration is gone)"}.get(
            change.action, f"is {change.reason or 'stale'}")
        parts = change.path.split("/")
        tenant = parts[1] if parts[0] == layout.OVERLAYS_DIR and len(parts) > 2 else None
        out.append(finding(DRIFT, f"{change.path} {what}", tenant=tenant, path=change.path))
    return out


# kubectl logs through klog: 'E1201 12:00:00.000000   1234 run.go:72] ' before each line, klog's header
# "Lmmdd hh:mm:ss.uuuuuu threadid file:line] msg..." (kubernetes/klog, klog.go); kubectl 1.32 then writes
# the error as klog's structured pair, '"command failed" err="<Go-quoted message>"', older ones 'error: ...'.
_KLOG_HEADER = re.compile(r"^[IWEF]\d{4} \d\d:\d\d:\d\d\.\d+\s+\d+ [^\s\]]+:\d+\] ")
_STRUCTURED = re.compile(r'^"command failed" err=(".*")$')
_ERROR_PREFIX = re.compile(r"^(?:error|Error): ")


def clean_kustomize_error(text: str, root: Path | None = None) -> str:
    """kustomize's message without kubectl's log noise: klog headers, the structured ``"command failed"
    err="..."`` wrapper, repeated ``error:`` prefixes; paths inside ``root`` made repository-relative."""
    lines = []
    for raw in text.strip().splitlines():
        line = _KLOG_HEADER.sub("", raw.strip())
        quoted = _STRUCTURED.match(line)
        if quoted:
            try:
                line = str(json.loads(quoted.group(1)))
            except ValueError:
                line = quoted.group(1)[1:-1]
        while _ERROR_PREFIX.match(line):
            line = _ERROR_PREFIX.sub("", line, count=1)
        if line and line not in lines:
            lines.append(line)
    message = "; ".join(lines)
    if root is not None:
        message = message.replace(str(root.resolve()) + "/", "").replace(str(root) + "/", "")
    return message or "kustomize failed without a message"


def build_failure(root: Path, overlay: str, tenant: str, cluster: str, detail: str) -> Finding:
    """DRIFT001 for an overlay kustomize refuses: a generated overlay always builds, so one that does not
    was changed by hand (or the base it uses was)."""
    return finding(DRIFT, f"{overlay} does not build: {clean_kustomize_error(detail, root)}", tenant=tenant,
                   cluster=cluster, path=f"{overlay}/kustomization.yaml")
