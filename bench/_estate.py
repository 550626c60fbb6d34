"""Shared parts of the benchmarks: the bench estate (init + 3 clusters), its bulk build, timing,
the CLI runner and the table printer.

The benchmarks are run as scripts (``python3 bench/<name>.py``), so this folder is first on
``sys.path`` and they import this module as ``_estate``.
"""

from __future__ import annotations

import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pygit2

from gitops_gen import gitrepo, yamlio
from gitops_gen.commands.clusters import add_cluster
from gitops_gen.commands.common import declaration_header
from gitops_gen.commands.generate import generate as generate_estate
from gitops_gen.commands.init import init_estate
from gitops_gen.estate import layout
from gitops_gen.estate.load import load_clusters, load_config
from gitops_gen.estate.model import Cluster, Tenant, tenant_declaration
from gitops_gen.generate.files import tenant_files

REPO_URL = "https://git.example.com/platform/bench-estate.git"
BRANCH = "main"
CLUSTERS = (
    Cluster(name="eu-west-1", region="eu-west", controller="argocd", windows_build="ltsc2022",
            domain="eu.wfg.example.com", argocd_server="https://10.0.0.1:6443",
            data_storage_class="azurefile-csi", database_storage_class="managed-csi"),
    Cluster(name="ap-south-1", region="ap-south", controller="argocd", windows_build="ltsc2019",
            domain="ap.wfg.example.com", argocd_name="ap-south-1",
            data_storage_class="azurefile-csi", database_storage_class="managed-csi"),
    Cluster(name="us-east-1", region="us-east", controller="flux", windows_build="ltsc2019",
            domain="us.wfg.example.com", data_storage_class="efs-sc", database_storage_class="gp3"),
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
    init_estate(root, REPO_URL, revision=BRANCH)
    for c in CLUSTERS:
        add_cluster(root, c, branch=f"setup-{c.name}", base="HEAD", checkout=True)
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
    return declaration_header("tenant") + yamlio.dump_declaration(tenant_declaration(tenant))


def commit_files(root: Path, files: dict[str, str], message: str) -> None:
    """Commit ``files`` (written to the work tree already) onto HEAD's branch, from a tree built in memory,
    and stage exactly them: the bulk build's stand-in for thousands of add-tenant runs."""
    repo = gitrepo.open_repo(root)
    parent = repo.head.peel(pygit2.Commit)
    tree = gitrepo.tree_with(repo, parent.tree, {p: text.encode("utf-8") for p, text in files.items()})
    sig = repo.default_signature
    repo.create_commit("HEAD", sig, sig, message, tree, [parent.id])
    index = repo.index
    index.read(False)
    for p in files:
        index.add(p)
    index.write()


def grow(root: Path, start: int, stop: int, make: Callable[[int], Tenant]) -> Build:
    """Write tenants ``make(start)..make(stop-1)`` with the package's pure generators and commit them at once."""
    config = load_config(root)
    clusters = load_clusters(root)
    head = declaration_header("tenant")
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
    commit_files(root, files, f"Bulk-add tenants {start}..{stop - 1}")
    t3 = time.perf_counter()
    # Let git refresh its index once (as a first 'git status' would), then insist on a clean tree.
    if git(root, "status", "--porcelain"):
        raise RuntimeError("the bulk-built estate is not clean after its commit")
    return Build(stop, stop - start, len(files), t1 - t0, t2 - t1, t3 - t2)


def check_bulk_equals_generate(root: Path) -> None:
    """The bulk-built files are exactly what gitops-gen generates (cheap at the smallest size)."""
    plan = generate_estate(root, dry_run=True).plan
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
    """As a normal install runs: with byte-code caches. Some machines set PYTHONDONTWRITEBYTECODE, which
    makes every run compile the package from source again (0.3 s here); an installed wheel has them."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    return {**env, "NO_COLOR": "1", "COLUMNS": "200"}


def run_cli(args: Sequence[str]) -> float:
    t0 = time.perf_counter()
    proc = subprocess.run([*cli_command(), *args], capture_output=True, text=True, env=cli_env(), check=False)
    dt = time.perf_counter() - t0
    if proc.returncode != 0:
        raise RuntimeError(f"gitops-gen {' '.join(args)} failed ({proc.returncode}):\n{proc.stdout}{proc.stderr}")
    return dt


# --------------------------------------------------------------------------- kustomize's own floor

@dataclass
class Floor:
    """The least CPU kustomize needs per overlay when it has nothing to do but read and write the
    overlay's objects: builds of already-rendered objects, several overlays at a time."""

    overlays: int               # overlays per build at the cheapest batch size
    objects: int                # objects in that build
    cpu_per_overlay_s: float    # user + system CPU per overlay, start-up included (best of the runs)
    by_size: dict[int, float]   # overlays per build -> CPU per overlay

    def best_ratio(self, baseline_per_overlay_s: float, cpus: int) -> float:
        """The highest speed-up over one build per overlay, one after another, that any kustomize-based
        renderer can reach on ``cpus`` cores: every core busy, kustomize doing no more than this."""
        return baseline_per_overlay_s / (self.cpu_per_overlay_s / cpus)


def _build_cpu(directory: str, repeat: int) -> tuple[float, float]:
    """Best (CPU seconds of user + system, wall seconds) of ``repeat`` builds of a directory."""
    from gitops_gen.render.kustomize import KUSTOMIZE_ENV, kustomize_command

    env = {**os.environ, **KUSTOMIZE_ENV}  # the renderer's own setting, the cheapest known
    best: tuple[float, float] | None = None
    for _ in range(repeat):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        t0 = time.perf_counter()
        subprocess.run([*kustomize_command(), directory], check=True, capture_output=True, env=env)
        wall = time.perf_counter() - t0
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
        if best is None or cpu < best[0]:
            best = (cpu, wall)
    assert best is not None
    return best


def batch_build_cpu(root: Path, overlays: Sequence[str], repeat: int = 3) -> tuple[float, str]:
    """Best CPU seconds (user + system) of ``repeat`` builds of ``overlays`` in one kustomize build, through a
    kustomization listing them as the renderer builds a batch; and the build's output."""
    from gitops_gen.render.kustomize import KUSTOMIZE_ENV, kustomize_command

    env = {**os.environ, **KUSTOMIZE_ENV}
    with tempfile.TemporaryDirectory(prefix="gitops-gen-batch-") as tmp:
        resources = "".join(f"- {os.path.relpath(root / o, tmp)}\n" for o in overlays)
        Path(tmp, "kustomization.yaml").write_text("resources:\n" + resources, encoding="utf-8")
        best, out = None, ""
        for _ in range(repeat):
            before = resource.getrusage(resource.RUSAGE_CHILDREN)
            proc = subprocess.run([*kustomize_command(), tmp], check=True, capture_output=True, text=True, env=env)
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
            if best is None or cpu < best:
                best, out = cpu, proc.stdout
    assert best is not None
    return best, out


def kustomize_floor(per_overlay: Sequence[Sequence[dict[str, Any]]], sizes: Sequence[int] = (1, 5, 10, 20, 40),
                    repeat: int = 3) -> Floor:
    """Builds of already-rendered objects of ``n`` overlays at a time (a flat file, a kustomization
    listing it, no transformer, generator or patch) for each ``n`` in ``sizes``. Every rendered object
    passes through kustomize at least once, and kustomize's cost per object grows with the objects in a
    build (it checks each new object against those it holds), while each build pays a start-up: the
    cheapest CPU per overlay over these sizes is a floor under any batching."""
    by_size: dict[int, float] = {}
    objects: dict[int, int] = {}
    with tempfile.TemporaryDirectory(prefix="gitops-gen-floor-") as tmp:
        for n in sizes:
            if n > len(per_overlay):
                break
            docs = [d for overlay in per_overlay[:n] for d in overlay]
            d = Path(tmp, str(n))
            d.mkdir()
            (d / "objects.yaml").write_text(yamlio.dump_docs(docs), encoding="utf-8")
            (d / "kustomization.yaml").write_text("resources:\n- objects.yaml\n", encoding="utf-8")
            by_size[n] = _build_cpu(str(d), repeat)[0] / n
            objects[n] = len(docs)
    best = min(by_size, key=lambda n: by_size[n])
    return Floor(best, objects[best], by_size[best], by_size)


def one_per_tenant(docs_by_overlay: dict[str, list[dict[str, Any]]], n: int) -> list[list[dict[str, Any]]]:
    """The objects of up to ``n`` overlays of distinct tenants (overlays/<tenant>/<cluster>): one flat
    build cannot hold two placements of a tenant, whose objects share namespace and names."""
    seen: set[str] = set()
    out = []
    for overlay, docs in docs_by_overlay.items():
        tenant = overlay.split("/")[1]
        if tenant not in seen:
            seen.add(tenant)
            out.append(docs)
        if len(out) == n:
            break
    return out


def floor_text(floor: Floor, baseline_per_overlay_s: float, cpus: int, what: str) -> str:
    sizes = ", ".join(f"{n}: {cpu * 1e3:.1f}" for n, cpu in floor.by_size.items())
    return (f"kustomize's floor, same run: builds of already-rendered objects (flat file, no transformer) cost "
            f"at least {floor.cpu_per_overlay_s * 1e3:.1f} ms CPU per overlay (at {floor.overlays} overlays, "
            f"{floor.objects:,} objects per build; ms CPU per overlay by overlays per build: {sizes}), against "
            f"{baseline_per_overlay_s * 1e3:.1f} ms wall per baseline build: no kustomize-based {what} can beat "
            f"the baseline by more than {floor.best_ratio(baseline_per_overlay_s, cpus):.1f}x on {cpus} cores.")


def floor_json(floor: Floor, baseline_per_overlay_s: float, cpus: int) -> dict[str, Any]:
    return {"overlaysPerBuild": floor.overlays, "objectsPerBuild": floor.objects,
            "cpuSecondsPerOverlay": floor.cpu_per_overlay_s,
            "cpuSecondsPerOverlayBySize": {str(n): v for n, v in floor.by_size.items()},
            "bestRatio": floor.best_ratio(baseline_per_overlay_s, cpus)}


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
