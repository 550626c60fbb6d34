"""Shared parts of the benchmarks: the bench estate (init + 3 clusters), its bulk build, timing,
the CLI runner and the table printer.

The benchmarks are run as scripts (``python3 bench/<name>.py``), so this folder is first on
``sys.path`` and they import this module as ``_estate``.
"""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pygit2

from gitops_gen import actions, gitrepo, layout, yamlio
from gitops_gen.estate import load_clusters, load_config
from gitops_gen.generate.files import tenant_files
from gitops_gen.model import Cluster, Tenant, tenant_declaration

REPO_URL = "https://git.example.com/platform/bench-estate.git"
BRANCH = "main"
CLUSTERS = (
    Cluster(name="eu-west-1", region="eu-west", controller="argocd", windows_build="ltsc2022",
            domain="eu.wfg.example.com", argocd_server="https://10.0.0.1:6443"),
    Cluster(name="ap-south-1", region="ap-south", controller="argocd", windows_build="ltsc2019",
            domain="ap.wfg.example.com", argocd_name="ap-south-1"),
    Cluster(name="us-east-1", region="us-east", controller="flux", windows_build="ltsc2019",
            domain="us.wfg.example.com"),
)


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def git(root: Path, *args: str) -> str:
    proc = subprocess.run(["git", "-C", str(root), *args], capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"git {' '.join(args)} failed: {proc.stderr.strip()}")
    return proc.stdout


def timed(fn: Callable[[], object]) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def stats(values: Sequence[float]) -> dict[str, Any]:
    return {"median": statistics.median(values), "max": max(values), "min": min(values), "runs": list(values)}


# --------------------------------------------------------------------------- building the estate

def init(root: Path) -> None:
    """init + 3 clusters, committed; HEAD on ``main``, no other branch."""
    repo = pygit2.init_repository(str(root), initial_head=BRANCH)
    # A local identity: the benchmark never depends on (or changes) the machine's git config.
    repo.config["user.name"] = "Bench Engineer"
    repo.config["user.email"] = "bench@example.com"
    actions.init_estate(root, REPO_URL, revision=BRANCH)
    for c in CLUSTERS:
        actions.add_cluster(root, c, branch=f"setup-{c.name}")
    repo = gitrepo.open_repo(root)
    head = repo.head.peel(pygit2.Commit)
    repo.references[f"refs/heads/{BRANCH}"].set_target(head.id)
    repo.set_head(f"refs/heads/{BRANCH}")
    for c in CLUSTERS:
        repo.branches.delete(f"setup-{c.name}")


@dataclass
class Build:
    tenants: int
    added: int
    files: int
    generate_s: float
    write_s: float
    commit_s: float

    @property
    def total_s(self) -> float:
        return self.generate_s + self.write_s + self.commit_s

    def as_json(self) -> dict[str, float]:
        return {"added": self.added, "files": self.files, "generateSeconds": self.generate_s,
                "writeSeconds": self.write_s, "commitSeconds": self.commit_s, "totalSeconds": self.total_s}


def tenant_yaml(tenant: Tenant) -> str:
    """A tenant's declaration file, exactly as add-tenant writes it."""
    return actions.declaration_header("tenant") + yamlio.dump_declaration(tenant_declaration(tenant))


def grow(root: Path, start: int, stop: int, make: Callable[[int], Tenant]) -> Build:
    """Write tenants ``make(start)..make(stop-1)`` with the package's pure generators and commit them at once."""
    config = load_config(root)
    clusters = load_clusters(root)
    head = actions.declaration_header("tenant")
    t0 = time.perf_counter()
    files: dict[str, str] = {}
    for i in range(start, stop):
        t = make(i)
        files[layout.tenant_file(t.name)] = head + yamlio.dump_declaration(tenant_declaration(t))
        files.update(tenant_files(config, clusters, t))
    t1 = time.perf_counter()
    made: set[Path] = set()
    for rel, text in files.items():
        path = root / rel
        if path.parent not in made:
            path.parent.mkdir(parents=True, exist_ok=True)
            made.add(path.parent)
        with open(path, "w", encoding="utf-8", newline="\n") as f:
            f.write(text)
    t2 = time.perf_counter()
    repo = gitrepo.open_repo(root)
    gitrepo.commit_paths(repo, files, f"Bulk-add tenants {start}..{stop - 1}", None)
    t3 = time.perf_counter()
    # Let git refresh its index once (as a first 'git status' would), then insist on a clean tree.
    if git(root, "status", "--porcelain"):
        raise RuntimeError("the bulk-built estate is not clean after its commit")
    return Build(stop, stop - start, len(files), t1 - t0, t2 - t1, t3 - t2)


def check_bulk_equals_generate(root: Path) -> None:
    """The bulk-built files are exactly what gitops-gen generates (cheap at the smallest size)."""
    plan = actions.generate(root, dry_run=True).plan
    if not plan.empty:
        raise RuntimeError(f"bulk build differs from 'gitops-gen generate': {plan.paths[:5]}")


# --------------------------------------------------------------------------- the CLI

def cli_command() -> list[str]:
    beside = Path(sys.executable).with_name("gitops-gen")
    found = str(beside) if beside.is_file() else shutil.which("gitops-gen")
    if found:
        return [found]
    return [sys.executable, "-c", "from gitops_gen.cli import main; main()"]


def cli_env() -> dict[str, str]:
    return {**os.environ, "NO_COLOR": "1", "COLUMNS": "200"}


def run_cli(args: Sequence[str]) -> float:
    t0 = time.perf_counter()
    proc = subprocess.run([*cli_command(), *args], capture_output=True, text=True, env=cli_env(), check=False)
    dt = time.perf_counter() - t0
    if proc.returncode != 0:
        raise RuntimeError(f"gitops-gen {' '.join(args)} failed ({proc.returncode}):\n{proc.stdout}{proc.stderr}")
    return dt


def drop_host_cache(root: Path) -> None:
    shutil.rmtree(root / ".git" / "gitops-gen", ignore_errors=True)


# --------------------------------------------------------------------------- reporting

def ms(s: float | None) -> str:
    return "-" if s is None else f"{s * 1e3:.1f}"


def us(s: float | None) -> str:
    return "-" if s is None else f"{s * 1e6:.2f}"


def table(rows: list[list[str]], head: list[str]) -> str:
    widths = [max(len(str(x)) for x in col) for col in zip(head, *rows, strict=True)]

    def line(cells: list[str]) -> str:
        return "  ".join(c.rjust(w) for c, w in zip(cells, widths, strict=True))

    return "\n".join(["  " + line(head), "  " + line(["-" * w for w in widths])] + ["  " + line(r) for r in rows])
