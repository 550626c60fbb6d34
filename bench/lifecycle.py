#!/usr/bin/env python3
"""Benchmark: the tenant lifecycle commands through the CLI, cold, in an estate of 10,000 tenants on 3 clusters.

Issue requirement: each lifecycle command (update-tenant, remove-tenant's drain, retire and purge, move-tenant's
provision, cutover, start-services and finish steps), through
the CLI at 10,000 tenants on 3 clusters, finishes in under 1 s, cold: no cache of gitops-gen's in
``.git/gitops-gen`` (deleted before every run, as after a clone), the repository lock, the commit and the
branch included. Each phase's branch is then merged (main fast-forwards to it), as its pull request would
be, so the next phase starts from it.

Baselines, measured on the same repository in the same run: ``git status --porcelain`` and
``gitops-gen --version`` (interpreter and CLI start-up). The estate is built in bulk with the package's
own generators (bench/add_tenant.py's tenants) and repacked, as a clone's objects are packed.

Run: ``python3 bench/lifecycle.py [--tenants 10000] [--repeat 3] [--json]``. Exit status 1 when a check fails.
"""

from __future__ import annotations

import argparse
import json
import platform
import shutil
import statistics
import tempfile
import time
from pathlib import Path

from _estate import BRANCH, git, grow, init, log, run_cli, timed
from add_tenant import bulk_tenant

LIMIT_S = 1.0


def cold(root: Path, args: list[str]) -> float:
    shutil.rmtree(root / ".git" / "gitops-gen", ignore_errors=True)
    return run_cli([*args, "--repo", str(root)])


def merge(root: Path, branch: str) -> None:
    git(root, "merge", "-q", "--ff-only", branch)
    git(root, "branch", "-q", "-d", branch)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0] if __doc__ else None)
    ap.add_argument("--tenants", type=int, default=10_000)
    ap.add_argument("--repeat", type=int, default=3, help="tenants taken through the whole sequence")
    ap.add_argument("--json", action="store_true")
    opts = ap.parse_args()
    started = time.perf_counter()
    figures: dict[str, list[float]] = {}
    with tempfile.TemporaryDirectory(prefix="gitops-gen-bench-lifecycle-") as tmp:
        root = Path(tmp) / "estate"
        init(root)
        log(f"building {opts.tenants:,} tenants ...")
        for start in range(0, opts.tenants, 2000):
            grow(root, start, min(start + 2000, opts.tenants), bulk_tenant)
        git(root, "repack", "-a", "-d", "-q")
        git(root, "status", "--porcelain")  # the first refreshes the index's stat data
        figures["git status (baseline)"] = [timed(lambda: git(root, "status", "--porcelain"))
                                            for _ in range(opts.repeat)]
        figures["gitops-gen --version (baseline)"] = [run_cli(["--version"]) for _ in range(opts.repeat)]
        # Tenants with an in-cluster database on an Argo CD and a Flux cluster (bulk_tenant: i % 7 != 3;
        # placements by i % 6, 3 is eu-west-1 and us-east-1): both controllers' files in every phase.
        names = [f"t{i:05d}" for i in range(opts.tenants // 2, opts.tenants) if i % 7 != 3 and i % 6 == 3]
        for name in names[:opts.repeat]:
            log(f"  {name}")
            steps = [
                ("update-tenant --size --web-replicas", ["update-tenant", name, "--size", "medium",
                                                         "--web-replicas", "3"], f"gitops-gen/update-tenant-{name}"),
                ("update-tenant --add-host", ["update-tenant", name, "--add-host", f"portal.{name}.example.org"],
                 f"gitops-gen/update-tenant-{name}"),
                ("remove-tenant --phase drain", ["remove-tenant", name, "--phase", "drain"],
                 f"gitops-gen/remove-tenant-{name}-drain"),
                ("remove-tenant --phase retire --now", ["remove-tenant", name, "--phase", "retire", "--now",
                                                        "--reason", "benchmark"],
                 f"gitops-gen/remove-tenant-{name}-retire"),
                ("remove-tenant --phase purge", ["remove-tenant", name, "--phase", "purge"],
                 f"gitops-gen/remove-tenant-{name}-purge"),
            ]
            # A tenant with an in-cluster database on eu-west-1 only (i % 6 == 0) moves to us-east-1.
            mover = f"t{int(name[1:]) - 3:05d}"
            move = ["move-tenant", mover, "--to", "us-east-1", "--phase"]
            steps += [
                ("move-tenant --phase provision", [*move, "provision"], f"gitops-gen/move-tenant-{mover}-provision"),
                ("move-tenant --phase cutover", [*move, "cutover"], f"gitops-gen/move-tenant-{mover}-cutover"),
                ("move-tenant --phase start-services", [*move, "start-services"],
                 f"gitops-gen/move-tenant-{mover}-start-services"),
                ("move-tenant --phase finish (drain)", [*move, "finish"],
                 f"gitops-gen/move-tenant-{mover}-finish-drain"),
                ("move-tenant --phase finish --now (retire)", [*move, "finish", "--now", "--reason", "benchmark"],
                 f"gitops-gen/move-tenant-{mover}-finish-retire"),
                ("move-tenant --phase finish (purge)", [*move, "finish"],
                 f"gitops-gen/move-tenant-{mover}-finish-purge"),
            ]
            for label, args, branch in steps:
                figures.setdefault(label, []).append(cold(root, args))
                merge(root, branch)
            if git(root, "rev-parse", "--abbrev-ref", "HEAD").strip() != BRANCH or git(root, "status", "--porcelain"):
                raise RuntimeError("the checkout moved or is not clean")
    status = statistics.median(figures["git status (baseline)"])
    start_up = statistics.median(figures["gitops-gen --version (baseline)"])
    commands = [k for k in figures if "baseline" not in k]
    checks = [(f"{k} at {opts.tenants:,} tenants, CLI, cold (max of {len(figures[k])}) < {LIMIT_S:g} s",
               max(figures[k]) < LIMIT_S, max(figures[k])) for k in commands]
    total = time.perf_counter() - started
    if opts.json:
        print(json.dumps({"tenants": opts.tenants, "seconds": figures, "totalSeconds": total,
                          "checks": [{"check": c, "pass": p, "seconds": v} for c, p, v in checks]}, indent=2))
    else:
        print(f"gitops-gen lifecycle benchmark: {opts.tenants:,} tenants x 3 clusters; python "
              f"{platform.python_version()}; total run {total:.0f} s")
        print(f"Baselines, same repository, same run (median): git status {status:.2f} s, gitops-gen --version "
              f"{start_up:.2f} s")
        print()
        print(f"{'command (CLI, cold)':>40}  {'runs s':>20}  {'median':>6}  {'/git status':>11}  {'/--version':>10}")
        for k in commands:
            med = statistics.median(figures[k])
            print(f"{k:>40}  {', '.join(f'{t:.2f}' for t in figures[k]):>20}  {med:6.2f}  {med / status:11.2f}  "
                  f"{med / start_up:10.2f}")
        print()
        for check, ok, value in checks:
            print(f"{'PASS' if ok else 'FAIL'}: {check}: {value:.2f} s")
    return 0 if all(ok for _, ok, _ in checks) else 1


if __name__ == "__main__":
    raise SystemExit(main())
