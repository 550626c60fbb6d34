"""The drift rule (DRIFT001): every derived file as 'gitops-gen generate' would write it."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
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


def drift_findings(root: Path, estate: Estate, tenants: Iterable[str] | None,
                    cache_dir: Path | None) -> list[Finding]:
    """Derived files that differ from what generate would write; all of them, or those of ``tenants``."""
    desired = shared_files(estate.config, estate.clusters)
    for cluster in estate.clusters.values():
        desired.update(cluster_files(estate.config, cluster))
    cache = DriftCache(cache_dir)
    context = hashlib.sha256(_generator_fingerprint().encode() + file_bytes(root, layout.CONFIG_FILE)
                             + b"".join(file_bytes(root, layout.cluster_file(c)) for c in sorted(estate.clusters)))
    expected: set[str] = set(desired)
    for name in (estate.tenants if tenants is None else tenants):
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
    plan = plan_files(root, desired, orphans_under=layout.DERIVED_ROOTS if tenants is None else (), keep=expected)
    out = []
    for change in plan.changes:
        what = {"create": "is missing", "delete": "is orphaned (its declaration is gone)"}.get(
            change.action, f"is {change.reason or 'stale'}")
        parts = change.path.split("/")
        tenant = parts[1] if parts[0] == layout.OVERLAYS_DIR and len(parts) > 2 else None
        out.append(finding(DRIFT, f"{change.path} {what}", tenant=tenant, path=change.path))
    return out
