#!/usr/bin/env python3
"""Benchmark: ``diff`` on an estate of 1,000 tenants on 3 clusters (3,000 overlays).

Issue requirement: on 1,000 tenants on 3 clusters

* ``gitops-gen diff`` of a one-tenant change finishes in under 3 s;
* ``gitops-gen diff`` of a change to ``base/`` (every overlay changes) is at least 10 times faster
  than rendering both sides one overlay at a time with ``kubectl kustomize``, measured in the same run.

The baseline is what a reviewer without gitops-gen would run: check out BASE, ``kubectl kustomize``
each overlay; check out HEAD, the same again (``kustomize build`` where a standalone kustomize is on
PATH, as gitops-gen picks it). Only the builds are timed. With ``--baseline-sample N`` (default 300)
N evenly spread overlays are built on each side and the total for 3,000 is extrapolated from their
mean (the report says so); ``--baseline-sample 0`` builds all of them.

Every diff is timed with nothing cached (``.git/gitops-gen`` deleted, as on a fresh CI runner).
The base change is also timed with BASE's renders cached (as after the estate's CI validated the
default branch), which is reported but not what the check uses.

Correctness, from the baseline's own builds: for every sampled overlay, the objects that differ
between its BASE and HEAD builds must be exactly the objects the diff reports as changed for it,
and every overlay of the estate must appear in the diff.

Run: ``python3 bench/diff.py [--tenants 1000] [--baseline-sample 300] [--json]``.
Exit status 1 when a PASS/FAIL check fails.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from importlib.metadata import version
from pathlib import Path
from typing import Any

from _estate import (
    CLUSTERS,
    Build,
    Floor,
    cli_command,
    cli_env,
    floor_json,
    floor_text,
    git,
    grow,
    init,
    kustomize_floor,
    log,
    one_per_tenant,
    table,
)
from validate import (
    CHANGED_TENANT,
    Docs,
    all_overlays,
    bulk_tenant,
    cache_dir_of,
    change_tenant,
    kustomize_build,
    object_key,
    sorted_objects,
    spread,
)

from gitops_gen import yamlio
from gitops_gen.commands.tenants import add_tenant
from gitops_gen.estate.model import HostRoute, Tenant
from gitops_gen.render.kustomize import (
    OverlayRef,
    RenderCache,
    kustomize_command,
    kustomize_version,
    overlay_input_hash,
    render_overlays,
    shared_input_hash,
)
from gitops_gen.review.diff import DiffResult, diff

TARGET_TENANTS = 1_000
ONE_TENANT_LIMIT_S = 3.0
BASE_MIN_RATIO = 10.0
DEFAULT_SAMPLE = 300
FLOOR_OVERLAYS = 100
#: The change to base/: the web pods' readiness probe, which every overlay renders.
BASE_FILE = "base/web.yaml"
BASE_EDIT = ("        readinessProbe:\n          tcpSocket:\n            port: http\n          periodSeconds: 10\n",
             "        readinessProbe:\n          tcpSocket:\n            port: http\n          periodSeconds: 15\n")


@dataclass
class Run:
    what: str
    seconds: float
    overlays: int
    objects: int
    rendered: int

    def as_json(self) -> dict[str, Any]:
        return {"seconds": self.seconds, "overlays": self.overlays, "objects": self.objects,
                "rendered": self.rendered}


@dataclass
class Baseline:
    overlays: int                         # overlays per side in the estate
    seconds: list[float] = field(default_factory=list)
    base: dict[str, Docs] = field(default_factory=dict)
    head: dict[str, Docs] = field(default_factory=dict)

    @property
    def built(self) -> int:
        return len(self.seconds)

    @property
    def extrapolated(self) -> bool:
        return self.built < 2 * self.overlays

    @property
    def total_s(self) -> float:
        """Both sides, all overlays: measured, or the mean per build times 2 x overlays."""
        return sum(self.seconds) if not self.extrapolated else sum(self.seconds) / self.built * 2 * self.overlays

    def as_json(self) -> dict[str, Any]:
        return {"command": " ".join(kustomize_command()) + " <overlay>", "overlaysPerSide": self.overlays,
                "built": self.built, "extrapolated": self.extrapolated, "measuredSeconds": sum(self.seconds),
                "totalSeconds": self.total_s, "perBuildSeconds": sum(self.seconds) / self.built}


def drop_caches(root: Path) -> None:
    shutil.rmtree(cache_dir_of(root), ignore_errors=True)


def baseline(root: Path, base: str, head: str, overlays: Sequence[str], sample: int) -> Baseline:
    """Check out each side with git (the reviewer's way) and build the chosen overlays one by one."""
    chosen = spread(overlays, sample) if sample else list(overlays)
    res = Baseline(len(overlays))
    for side, rev, into in (("BASE", base, res.base), ("HEAD", head, res.head)):
        git(root, "checkout", "-q", rev)
        started = time.perf_counter()
        step = max(1, len(chosen) // 10)
        for k, overlay in enumerate(chosen, 1):
            dt, text = kustomize_build(root, overlay)
            res.seconds.append(dt)
            into[overlay] = sorted_objects(list(yamlio.load_all(text)))
            if k % step == 0 or k == len(chosen):
                log(f"  baseline {side} {k:,}/{len(chosen):,}, {time.perf_counter() - started:.1f} s")
    git(root, "checkout", "-q", "main")
    return res


def run_diff(root: Path, what: str, base: str, head: str | None) -> tuple[Run, DiffResult]:
    t0 = time.perf_counter()
    result = diff(root, base, head)
    dt = time.perf_counter() - t0
    log(f"  {what}: {dt:.2f} s, {len(result.overlays):,} overlays, {result.built:,} built")
    return Run(what, dt, len(result.overlays), len(result.objects), result.built), result


def run_diff_cli(root: Path, what: str, base: str) -> tuple[Run, dict[str, Any]]:
    """``gitops-gen diff BASE --output json`` in a subprocess, timed as a user sees it."""
    cmd = [*cli_command(), "diff", base, "--repo", str(root), "--output", "json", "--exit-code"]
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, env=cli_env(), check=False)
    dt = time.perf_counter() - t0
    if proc.returncode != 1:
        raise RuntimeError(f"{' '.join(cmd)} exited {proc.returncode}, expected 1 (differences):\n"
                           f"{proc.stdout[-2000:]}{proc.stderr}")
    data: dict[str, Any] = json.loads(proc.stdout)
    log(f"  {what}: {dt:.2f} s")
    s = data["summary"]
    return Run(what, dt, s["overlays"], s["added"] + s["changed"] + s["removed"], data["rendering"]["built"]), data


def _identity(doc: dict[str, Any]) -> tuple[str, str]:
    kind, name = str(doc.get("kind")), str((doc.get("metadata") or {}).get("name"))
    return kind, name


def expected_changes(base: Docs, head: Docs) -> set[tuple[str, str]]:
    """(kind, name) of the objects that differ between two builds of one overlay, by plain comparison."""
    old = {object_key(d): d for d in base}
    new = {object_key(d): d for d in head}
    return {_identity(old.get(k) or new[k]) for k in set(old) | set(new) if old.get(k) != new.get(k)}


def check_against_baseline(result: DiffResult, bl: Baseline, overlays: Sequence[str]) -> list[str]:
    problems = []
    reported: dict[str, set[tuple[str, str]]] = {}
    for o in result.objects:
        reported.setdefault(f"overlays/{o.tenant}/{o.cluster}", set()).add((o.kind, o.name))
    listed = {f"overlays/{t}/{c}" for t, c, _ in result.overlays}
    if missing := sorted(set(overlays) - listed):
        problems.append(f"{len(missing)} overlays missing from the diff, e.g. {missing[:3]}")
    for overlay in bl.base:
        want = expected_changes(bl.base[overlay], bl.head[overlay])
        got = reported.get(overlay, set())
        if want != got:
            problems.append(f"{overlay}: builds differ in {sorted(want)}, diff reports {sorted(got)}")
    return problems


@dataclass
class Measured:
    build: Build
    one_tenant_cli: Run
    one_tenant: Run
    new_tenant_cli: Run
    base_cold: Run
    base_cached: Run
    baseline: Baseline
    floor: Floor
    problems: list[str]


def measure(root: Path, tenants: int, sample: int) -> Measured:
    overlays = all_overlays(tenants)
    kustomize_version()  # asked once, outside every timed step
    log(f"building {tenants:,} tenants on {len(CLUSTERS)} clusters ...")
    init(root)
    build = grow(root, 0, tenants, bulk_tenant)
    build = replace(build, tenants=tenants)
    base = git(root, "rev-parse", "HEAD").strip()

    log("one-tenant change ...")
    changed = min(CHANGED_TENANT, tenants - 1)
    t = bulk_tenant(changed)
    change_tenant(root, replace(t, web_replicas=t.web_replicas % 2 + 1))
    drop_caches(root)
    one_cli, data = run_diff_cli(root, "one tenant, CLI, nothing cached", base)
    if {o["tenant"] for o in data["overlays"]} != {t.name} or len(data["overlays"]) != len(CLUSTERS):
        raise RuntimeError(f"one-tenant diff lists {data['overlays']}")
    drop_caches(root)
    one, _ = run_diff(root, "one tenant, in-process, nothing cached", base, None)
    git(root, "checkout", "-q", "--", ".")

    log("a new tenant (what add-tenant --pr describes) ...")
    newcomer = Tenant("t-new", (CLUSTERS[0].name, CLUSTERS[2].name),
                      (HostRoute("t-new.tenants.example.net", CLUSTERS[0].name),))
    add_tenant(root, newcomer, commit=False)
    drop_caches(root)
    added_cli, data = run_diff_cli(root, "new tenant on 2 clusters, CLI, nothing cached", base)
    # An Application on the Argo CD cluster; the tenant's and its platform Kustomization on the Flux one.
    if len(data["overlays"]) != 2 or len(data["controllers"]) != 3:
        raise RuntimeError(f"new-tenant diff lists {data['overlays']} and {data['controllers']}")
    git(root, "checkout", "-q", "--", ".")
    git(root, "clean", "-fdq")

    log("change to base/ ...")
    path = root / BASE_FILE
    text = path.read_text()
    if BASE_EDIT[0] not in text:
        raise RuntimeError(f"{BASE_FILE} no longer holds the readiness probe this benchmark edits")
    path.write_text(text.replace(BASE_EDIT[0], BASE_EDIT[1], 1))
    git(root, "commit", "-qam", "Readiness probe every 15 s")
    head = git(root, "rev-parse", "HEAD").strip()
    drop_caches(root)
    base_cold, result = run_diff(root, "base/ change, nothing cached", base, head)
    # BASE's renders cached, as after the estate's CI validated the default branch.
    drop_caches(root)
    render_base_side(root, base, overlays)
    base_cached, _ = run_diff(root, "base/ change, BASE renders cached", base, head)

    log("baseline ...")
    bl = baseline(root, base, head, overlays, sample)
    problems = check_against_baseline(result, bl, overlays)
    floor = kustomize_floor(one_per_tenant(bl.head, FLOOR_OVERLAYS))
    return Measured(build, one_cli, one, added_cli, base_cold, base_cached, bl, floor, problems)


def render_base_side(root: Path, base: str, overlays: Sequence[str]) -> None:
    """Fill the render cache with BASE's overlays (check out BASE, render them as validate does)."""
    git(root, "checkout", "-q", base)
    shared = shared_input_hash(root)
    refs = []
    for path in overlays:
        _, tenant, cluster = path.split("/")
        refs.append(OverlayRef(path, tenant, cluster, tenant, overlay_input_hash(root, path, shared)))
    render_overlays(root, refs, RenderCache(cache_dir_of(root)))
    git(root, "checkout", "-q", "main")


def checks(m: Measured) -> list[dict[str, Any]]:
    ratio = m.baseline.total_s / m.base_cold.seconds
    return [
        {"check": f"diff of a one-tenant change, CLI, nothing cached < {ONE_TENANT_LIMIT_S:.0f} s",
         "value": f"{m.one_tenant_cli.seconds:.2f} s", "pass": m.one_tenant_cli.seconds < ONE_TENANT_LIMIT_S},
        {"check": f"diff of a new tenant on 2 clusters, CLI, nothing cached < {ONE_TENANT_LIMIT_S:.0f} s",
         "value": f"{m.new_tenant_cli.seconds:.2f} s", "pass": m.new_tenant_cli.seconds < ONE_TENANT_LIMIT_S},
        {"check": f"diff of a change to base/, nothing cached, >= {BASE_MIN_RATIO:.0f}x faster than rendering "
                  "both sides one overlay at a time", "value": f"{ratio:.1f}x", "pass": ratio >= BASE_MIN_RATIO},
        {"check": "the base/ diff reports exactly the objects that differ between the baseline's builds, "
                  "and every overlay", "value": f"{len(m.problems)} problems", "pass": not m.problems},
    ]


def report(meta: dict[str, Any], m: Measured, chk: list[dict[str, Any]]) -> str:
    bl = m.baseline
    lines = [f"gitops-gen diff benchmark: {meta['tenants']:,} tenants x {len(CLUSTERS)} clusters = "
             f"{meta['overlays']:,} overlays", f"{meta['platform']}; total run {meta['seconds']:.0f} s", ""]
    how = "all built" if not bl.extrapolated else \
        f"{bl.built // 2:,} evenly spread overlays built per side, total extrapolated from their mean"
    lines += [f"Baseline, same run: check out BASE, '{' '.join(kustomize_command())} <overlay>' for each overlay "
              f"one after another, then the same on HEAD ({how}):",
              table([[f"{2 * bl.overlays:,}", f"{bl.built:,}", f"{sum(bl.seconds):.1f}", f"{bl.total_s:.1f}",
                      f"{sum(bl.seconds) / bl.built * 1e3:.1f}"]],
                    ["builds", "built", "measured s", "total s", "ms/build"]), ""]
    rows = []
    for r in (m.one_tenant_cli, m.one_tenant, m.new_tenant_cli, m.base_cold, m.base_cached):
        rows.append([r.what, f"{r.seconds:.2f}", f"{r.overlays:,}", f"{r.objects:,}",
                     f"{r.rendered:,}", f"{bl.total_s / r.seconds:.1f}x" if r.overlays == bl.overlays else "-"])
    lines += ["diff (ratio = baseline total / run, for the runs that render every overlay):",
              table(rows, ["run", "seconds", "overlays", "objects changed", "kustomize builds", "ratio"]), ""]
    cpus = os.cpu_count() or 1
    per_build = sum(bl.seconds) / bl.built
    lines += [floor_text(m.floor, per_build, cpus, "diff"),
              f"A cold diff of a base/ change renders as many overlays as the baseline builds (both sides), so the "
              f"same bound holds; with BASE's renders cached it renders HEAD's alone, bound by twice that: "
              f"{2 * m.floor.best_ratio(per_build, cpus):.1f}x.", ""]
    for p in m.problems[:10]:
        lines.append(f"  problem: {p}")
    for c in chk:
        lines.append(f"{'PASS' if c['pass'] else 'FAIL'}: {c['check']}: {c['value']}")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--tenants", type=int, default=TARGET_TENANTS)
    ap.add_argument("--baseline-sample", type=int, default=DEFAULT_SAMPLE,
                    help="overlays built per side for the baseline (0: all)")
    ap.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = ap.parse_args(argv)
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="gitops-gen-bench-diff-") as tmp:
        m = measure(Path(tmp) / "estate", args.tenants, args.baseline_sample)
    chk = checks(m)
    meta = {"tenants": args.tenants, "overlays": args.tenants * len(CLUSTERS), "seconds": time.perf_counter() - t0,
            "platform": f"python {platform.python_version()}, pygit2 {version('pygit2')}, "
                        f"{' '.join(kustomize_command())} {kustomize_version()}"}
    if args.json:
        print(json.dumps({"meta": meta, "baseline": m.baseline.as_json(),
                          "runs": {r.what: r.as_json() for r in (m.one_tenant_cli, m.one_tenant, m.new_tenant_cli,
                                                                 m.base_cold,
                                                                 m.base_cached)},
                          "kustomizeFloor": floor_json(m.floor, sum(m.baseline.seconds) / m.baseline.built,
                                                       os.cpu_count() or 1),
                          "problems": m.problems, "checks": chk}, indent=2))
    else:
        print(report(meta, m, chk))
    return 0 if all(c["pass"] for c in chk) else 1


if __name__ == "__main__":
    sys.exit(main())
