"""Kill -9 at every write: the real CLI in a subprocess dies with SIGKILL right before its Nth write-side
primitive (tests/write/faultsite/sitecustomize.py), for every N up to an uninterrupted run's count, for
add-tenant on two clusters, add-cluster, generate and init. After each kill: git fsck is clean, no lock of
ours is held, the branch is absent or holds the complete change, the work tree and index are as before or
fully updated (or an interrupted journaled change is pending, which the next command finishes), and the same
command run again succeeds with the tree of an uninterrupted run.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import shutil
import signal
import subprocess
import sys
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pygit2
import pytest

from gitops_gen.atomic import is_temporary
from tests.conftest import REPO_URL, make_estate
from tests.tools import PROJECT_ROOT

FAULT_SITE = PROJECT_ROOT / "tests" / "write" / "faultsite"


def cli_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GITOPS_GEN_FAULT")}
    # No byte-code writes: they would be counted as writes and differ from run to run.
    env.update(PYTHONPATH=f"{FAULT_SITE}{os.pathsep}{PROJECT_ROOT}", PYTHONDONTWRITEBYTECODE="1", **extra)
    return env


def run_cli(cwd: Path, argv: list[str], **extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "gitops_gen", *argv], cwd=cwd, env=cli_env(**extra),
                          capture_output=True, text=True, timeout=120, check=False)


@dataclass(frozen=True)
class State:
    files: dict[str, tuple[str, int]]  #: work tree: path -> (sha256, mode)
    index: tuple[str, ...]             #: 'git ls-files -s' lines
    branch: str | None                 #: the tree id of the command's branch, None when there is none
    head: str = ""                     #: what HEAD names ('ref: refs/heads/main', or a commit id)
    refs: tuple[str, ...] = ()         #: every other ref and its target, the command's branch left out


def work_tree(root: Path) -> dict[str, tuple[str, int]]:
    out: dict[str, tuple[str, int]] = {}
    if not root.exists():
        return out
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = [d for d in dirnames if d != ".git"]
        for f in filenames:
            p = Path(dirpath) / f
            out[p.relative_to(root).as_posix()] = (hashlib.sha256(p.read_bytes()).hexdigest(),
                                                   os.stat(p).st_mode & 0o777)
    return out


def state(root: Path, branch: str | None) -> State:
    index: tuple[str, ...] = ()
    tree = None
    if (root / ".git").is_dir():
        index = tuple(subprocess.run(["git", "ls-files", "-s"], cwd=root, capture_output=True, text=True,
                                     check=True).stdout.splitlines())
        repo = pygit2.Repository(str(root))
        ref = f"refs/heads/{branch}" if branch else None
        if ref and ref in repo.references:
            tree = str(repo.references[ref].peel(pygit2.Commit).tree.id)
        head = (root / ".git/HEAD").read_text().strip()
        refs = tuple(line for line in subprocess.run(["git", "for-each-ref", "--format=%(refname) %(objectname)"],
                                                     cwd=root, capture_output=True, text=True, check=True)
                     .stdout.splitlines() if not ref or not line.startswith(ref + " "))
        return State(work_tree(root), index, tree, head, refs)
    return State(work_tree(root), index, tree)


def problems_after_kill(root: Path, before: State, final: State, branch: str | None,
                        journaled: bool) -> tuple[list[str], str]:
    """What is wrong right after the kill, and which state it left: 'before', 'done', 'pending' (a journaled
    change to finish), with '+branch' when the branch exists."""
    found: list[str] = []
    git_dir = root / ".git"
    if git_dir.is_dir():
        fsck = subprocess.run(["git", "fsck", "--no-progress", "--no-dangling"], cwd=root, capture_output=True,
                              text=True, check=False)
        if fsck.returncode != 0 or fsck.stdout.strip() or "error" in fsck.stderr:
            found.append(f"git fsck: {fsck.returncode} {fsck.stdout} {fsck.stderr}")
        lock = git_dir / "gitops-gen" / "lock"
        if lock.exists():
            fd = os.open(lock, os.O_RDWR)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                found.append("our lock is still held")
            finally:
                os.close(fd)
    now = state(root, branch)
    if now.branch not in (None, final.branch):
        found.append(f"the branch holds tree {now.branch}, not the complete change {final.branch}")
    if now.refs not in (before.refs, final.refs):
        found.append(f"other refs changed: {sorted(set(now.refs) ^ set(before.refs))}")
    if now.head not in (before.head, final.head):
        found.append(f"HEAD is {now.head!r}, neither as before ({before.head!r}) nor after ({final.head!r})")
    pending = (git_dir / "gitops-gen" / "journal.json").exists()
    as_before_or_done = (now.files, now.index) in ((before.files, before.index), (final.files, final.index))
    if not as_before_or_done and not (journaled and pending):
        changed = sorted(set(now.files.items()) ^ set(before.files.items()))[:5]
        found.append(f"work tree or index half changed and nothing pending: {changed}")
    left = "before" if (now.files, now.index) == (before.files, before.index) else \
        "done" if (now.files, now.index) == (final.files, final.index) else "pending"
    return found, left + ("+branch" if now.branch is not None else "")


@dataclass(frozen=True)
class Scenario:
    name: str
    argv: list[str]
    branch: str | None
    #: Whether the command changes the work tree (journaled) rather than only git objects and refs.
    journaled: bool
    #: Prepares the starting state in an empty directory; returns the directory the command runs in.
    setup: Callable[[Path], Path]


def _estate(path: Path) -> Path:
    return make_estate(path / "estate")


def _estate_with_edits(path: Path) -> Path:
    root = _estate(path)
    acme = root / "overlays/acme/tenant.yaml"
    acme.write_text(acme.read_text().replace("size: small", "size: medium"))
    (root / "overlays/globex/tenant.yaml").unlink()  # its derived files become orphans
    return root


def _empty(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    return path


SCENARIOS = [
    Scenario("add-tenant", ["add-tenant", "newco", "--cluster", "eu-west-1", "--cluster", "us-east-1",
                            "--host", "newco.example.com"], "gitops-gen/add-tenant-newco", False, _estate),
    Scenario("add-tenant --checkout", ["add-tenant", "newco", "--cluster", "eu-west-1", "--host", "newco.example.com",
                                       "--checkout"], "gitops-gen/add-tenant-newco", True, _estate),
    Scenario("add-cluster", ["add-cluster", "ap-south-1", "--data-storage-class", "nfs-csi",
                             "--region", "ap-south", "--controller", "argocd",
                             "--windows-build", "ltsc2022", "--domain", "ap.wfg.example.com",
                             "--server", "https://10.0.0.3:6443"], "gitops-gen/add-cluster-ap-south-1", False,
             _estate),
    Scenario("generate", ["generate"], None, True, _estate_with_edits),
    Scenario("init", ["init", "estate", "--repo-url", REPO_URL], "main", True, _empty),
]


def _trial(template: Path, work: Path, scenario: Scenario, n: int, before: State,
           final: State) -> tuple[list[str], str]:
    shutil.copytree(template, work, symlinks=True)
    cwd = work
    root = work / "estate" if scenario.name == "init" else work
    killed = run_cli(cwd, scenario.argv, GITOPS_GEN_FAULT_AT=str(n))
    if killed.returncode != -signal.SIGKILL:
        return [f"N={n}: not killed (exit {killed.returncode}): {killed.stderr[-400:]}"], "not killed"
    after_kill, left = problems_after_kill(root, before, final, scenario.branch, scenario.journaled)
    found = [f"N={n}: {p}" for p in after_kill]
    again = run_cli(cwd, scenario.argv)
    if again.returncode != 0 or "Traceback" in again.stderr:
        found.append(f"N={n}: the rerun failed (exit {again.returncode}): {again.stdout[-300:]} {again.stderr[-600:]}")
        return found, left
    after = state(root, scenario.branch)
    if after != final:
        diff = sorted(set(after.files.items()) ^ set(final.files.items()))[:5]
        found.append(f"N={n}: after the rerun the state differs from an uninterrupted run: branch "
                     f"{after.branch} vs {final.branch}, index equal {after.index == final.index}, files {diff}")
    if (root / ".git/gitops-gen/journal.json").exists():
        found.append(f"N={n}: a journal is left after the rerun")
    leftovers = [p for p in after.files if is_temporary(p.rsplit("/", 1)[-1])]
    if leftovers:
        found.append(f"N={n}: temporary files left: {leftovers}")
    shutil.rmtree(work, ignore_errors=True)
    return found, left


@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda s: s.name)
def test_kill_at_every_write_loses_nothing(scenario: Scenario, tmp_path: Path) -> None:
    template_dir = tmp_path / "template"
    cwd = scenario.setup(template_dir)
    template = cwd
    root = (template / "estate") if scenario.name == "init" else template
    before = state(root, scenario.branch)

    reference = tmp_path / "reference"
    shutil.copytree(template, reference, symlinks=True)
    count_file = tmp_path / "count.txt"
    done = run_cli(reference, scenario.argv, GITOPS_GEN_FAULT_COUNT=str(count_file))
    assert done.returncode == 0, done.stdout + done.stderr
    calls = int(count_file.read_text().split()[0])
    final = state((reference / "estate") if scenario.name == "init" else reference, scenario.branch)
    assert final != before
    if scenario.branch is not None:
        assert final.branch is not None
    assert calls > 10, count_file.read_text()

    with ThreadPoolExecutor(max_workers=2) as pool:
        results = list(pool.map(lambda n: _trial(template, tmp_path / f"trial-{n}", scenario, n, before, final),
                                range(1, calls + 1)))
    problems = [p for r, _ in results for p in r]
    assert not problems, "\n".join(problems[:20])
    # The kills fell on both sides of every step: nothing done yet, the branch made, the work tree half done.
    left = {state for _, state in results}
    assert "before" in left
    if scenario.journaled:
        assert {"pending", "pending+branch"} & left, left
    else:
        assert left == {"before"}, left  # the work tree and index untouched, whenever the kill came
    if scenario.name.endswith("--checkout"):
        assert "before+branch" in left, left  # committed, then killed before the checkout began
