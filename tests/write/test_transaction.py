"""The one write path, end to end on real repositories: branches off the default branch, idempotent reruns,
one command at a time, refusals that write nothing, file modes, leftovers, hosts claimed on other branches."""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pygit2
import pytest
from typer.testing import CliRunner, Result

from gitops_gen.cli import app
from tests.conftest import REPO_URL, snapshot
from tests.tools import PROJECT_ROOT

runner = CliRunner(env={"COLUMNS": "200", "NO_COLOR": "1", "GITOPS_GEN_DEBUG": None})
NEWCO = ["add-tenant", "newco", "--cluster", "eu-west-1", "--cluster", "us-east-1", "--host", "newco.example.com"]
NEWCO_FILES = {
    "overlays/newco/tenant.yaml", "overlays/newco/eu-west-1/kustomization.yaml",
    "overlays/newco/eu-west-1/ingress.yaml", "overlays/newco/eu-west-1/external-secrets.yaml",
    "overlays/newco/eu-west-1/quota.yaml", "overlays/newco/eu-west-1/disruption-budget.yaml",
    "overlays/newco/us-east-1/kustomization.yaml", "overlays/newco/us-east-1/ingress.yaml",
    "overlays/newco/us-east-1/external-secrets.yaml", "overlays/newco/us-east-1/quota.yaml",
    "overlays/newco/us-east-1/disruption-budget.yaml", "clusters/eu-west-1/tenants/newco.yaml",
    "clusters/us-east-1/tenants/newco.yaml", "clusters/us-east-1/platform/newco/platform.yaml",
    "argocd/projects/newco.yaml",
}


def cli(root: Path, *argv: str) -> Result:
    return runner.invoke(app, [argv[0], "--repo", str(root), *argv[1:]])


def git(root: Path, *args: str, check: bool = True) -> str:
    return subprocess.run(["git", *args], cwd=root, check=check, capture_output=True, text=True).stdout


def gitops_gen(cwd: Path, *argv: str, env: dict[str, str] | None = None, umask: int | None = None,
               ) -> subprocess.CompletedProcess[str]:
    """The CLI in its own process, as a user runs it."""
    full = {**os.environ, "PYTHONPATH": str(PROJECT_ROOT), "COLUMNS": "200", **(env or {})}
    return subprocess.run([sys.executable, "-m", "gitops_gen", *argv], cwd=cwd, env=full, capture_output=True,
                          text=True, timeout=120, check=False,
                          preexec_fn=(lambda: os.umask(umask)) if umask is not None else None)


def branch_files(root: Path, branch: str, against: str = "main") -> set[str]:
    return set(git(root, "diff", "--name-only", f"{against}...{branch}").split())


def repo_state(root: Path) -> tuple[dict[str, str], list[str]]:
    """Files (the .git directory included, our cache excluded) and every ref with its target."""
    return snapshot(root), sorted(git(root, "for-each-ref", "--format=%(refname) %(objectname)").splitlines())


# --------------------------------------------------------------------------- branches off the default branch

def test_two_runs_in_a_row_from_any_branch_each_hold_one_change(estate: Path) -> None:
    git(estate, "switch", "-q", "-c", "my-feature")
    (estate / "notes.txt").write_text("work in progress\n")  # untracked, and stays so
    first = cli(estate, *NEWCO)
    assert first.exit_code == 0, first.output
    second = cli(estate, "add-tenant", "initech", "--cluster", "us-east-1")
    assert second.exit_code == 0, second.output
    assert branch_files(estate, "gitops-gen/add-tenant-newco") == NEWCO_FILES
    assert branch_files(estate, "gitops-gen/add-tenant-initech") == {
        "overlays/initech/tenant.yaml", "overlays/initech/us-east-1/kustomization.yaml",
        "overlays/initech/us-east-1/ingress.yaml", "overlays/initech/us-east-1/external-secrets.yaml",
        "overlays/initech/us-east-1/quota.yaml", "overlays/initech/us-east-1/disruption-budget.yaml",
        "clusters/us-east-1/tenants/initech.yaml", "clusters/us-east-1/platform/initech/platform.yaml"}
    repo = pygit2.Repository(str(estate))
    main = repo.branches.local["main"].target
    for b in ("gitops-gen/add-tenant-newco", "gitops-gen/add-tenant-initech"):
        assert [p.id for p in repo.branches.local[b].peel(pygit2.Commit).parents] == [main]
    assert repo.head.shorthand == "my-feature" and (estate / "notes.txt").read_text() == "work in progress\n"
    assert "based on main (" in first.stdout


def test_the_remote_tracking_branch_is_the_default_base(estate: Path) -> None:
    repo = pygit2.Repository(str(estate))
    older = repo.branches.local["main"].peel(pygit2.Commit).parents[0]  # before globex: origin lags behind
    repo.references.create("refs/remotes/origin/main", older.id)
    result = cli(estate, "add-tenant", "initech", "--cluster", "eu-west-1", "--output", "json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["base"] == {"ref": "origin/main", "commit": str(older.id)}
    tip = repo.branches.local["gitops-gen/add-tenant-initech"].peel(pygit2.Commit)
    assert [p.id for p in tip.parents] == [older.id]
    # --base overrides it.
    other = cli(estate, "add-tenant", "hooli", "--cluster", "eu-west-1", "--base", "main", "--output", "json")
    assert json.loads(other.stdout)["base"]["ref"] == "main"


def test_the_readme_walkthrough_branches_hold_only_their_files_and_merge_in_any_order(tmp_path: Path) -> None:
    done = gitops_gen(tmp_path, "init", "estate", "--repo-url", "https://git.example.com/platform/estate.git")
    assert done.returncode == 0, done.stderr
    root = tmp_path / "estate"
    steps = [
        ["add-cluster", "eu-west-1", "--region", "eu-west", "--controller", "argocd", "--windows-build",
         "ltsc2022", "--domain", "eu.wfg.example.com", "--server", "https://10.0.0.1:6443",
         "--data-storage-class", "azurefile-csi", "--database-storage-class", "managed-csi"],
        ["add-cluster", "us-east-1", "--region", "us-east", "--controller", "flux", "--windows-build", "ltsc2019",
         "--domain", "us.wfg.example.com", "--data-storage-class", "efs-sc", "--database-storage-class", "gp3"],
    ]
    for argv in steps:
        result = gitops_gen(root, *argv)
        assert result.returncode == 0, result.stdout + result.stderr
    clusters = {"gitops-gen/add-cluster-eu-west-1": "eu-west-1", "gitops-gen/add-cluster-us-east-1": "us-east-1"}
    for branch, name in clusters.items():
        files = branch_files(root, branch)
        assert any(f.startswith(f"clusters/{name}/") for f in files)
        assert not any(f.startswith("clusters/") and not f.startswith(f"clusters/{name}/") for f in files), files
    _merge_in_every_order(root, list(clusters))
    git(root, "merge", "-q", "--no-edit", *clusters)  # the pull requests are merged
    tenants = {
        "gitops-gen/add-tenant-acme": ["add-tenant", "acme", "--cluster", "eu-west-1", "--host",
                                       "acme.wfg.example.com"],
        "gitops-gen/add-tenant-globex": ["add-tenant", "globex", "--cluster", "eu-west-1", "--cluster",
                                         "us-east-1", "--host", "globex.wfg.example.com"],
    }
    for argv in tenants.values():
        result = gitops_gen(root, *argv)
        assert result.returncode == 0, result.stdout + result.stderr
    for branch in tenants:
        name = branch.rsplit("-", 1)[1]
        files = branch_files(root, branch)
        assert files and all(f.startswith((f"overlays/{name}/", f"clusters/us-east-1/platform/{name}/"))
                             or f.endswith(f"/{name}.yaml") for f in files), files
    _merge_in_every_order(root, list(tenants))
    git(root, "merge", "-q", "--no-edit", *tenants)
    assert gitops_gen(root, "generate", "--check").returncode == 0
    listed = json.loads(gitops_gen(root, "list", "--output", "json").stdout)
    assert {t["tenant"] for c in listed["clusters"] for t in c["tenants"]} == {"acme", "globex"}
    assert gitops_gen(root, "route", "globex.wfg.example.com").returncode == 0


def _merge_in_every_order(root: Path, branches: list[str]) -> None:
    for order in (branches, branches[::-1]):
        git(root, "switch", "-q", "-c", "trial", "main")
        for b in order:
            merged = subprocess.run(["git", "merge", "--no-edit", "--no-ff", b], cwd=root, capture_output=True,
                                    text=True, check=False)
            assert merged.returncode == 0, f"{order}: {merged.stdout}{merged.stderr}"
        git(root, "switch", "-q", "main")
        git(root, "branch", "-q", "-D", "trial")


# --------------------------------------------------------------------------- reruns

def test_a_rerun_after_an_interrupted_no_commit_run_commits_the_whole_tenant(estate: Path) -> None:
    assert cli(estate, "add-tenant", "newt", "--cluster", "eu-west-1", "--no-commit").exit_code == 0
    shutil.rmtree(estate / "overlays/newt")
    result = cli(estate, "add-tenant", "newt", "--cluster", "eu-west-1")
    assert result.exit_code == 0, result.output
    files = branch_files(estate, "gitops-gen/add-tenant-newt")
    assert "argocd/projects/newt.yaml" in files and "overlays/newt/tenant.yaml" in files
    assert len(files) == 8  # the declaration, five overlay files, the placement record, the AppProject


def test_a_rerun_finds_its_branch_done_even_when_the_base_moved_on(estate: Path) -> None:
    first = cli(estate, *NEWCO, "--output", "json")
    commit = json.loads(first.stdout)["commit"]
    (estate / "README.md").write_text("# estate\n")
    git(estate, "add", "README.md")
    git(estate, "commit", "-q", "-m", "Docs")
    before = repo_state(estate)
    again = cli(estate, *NEWCO)
    assert again.exit_code == 0, again.output
    assert f"Branch gitops-gen/add-tenant-newco already holds this change (commit {commit[:12]}" in again.stdout
    assert "starts from an older main" in again.output
    assert repo_state(estate) == before


# --------------------------------------------------------------------------- one at a time

@pytest.fixture
def held_lock(estate: Path) -> Iterator[int]:
    """The estate's lock, held by this test process as another gitops-gen would hold it."""
    lock = estate / ".git/gitops-gen/lock"
    lock.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(lock, os.O_RDWR | os.O_CREAT)
    fcntl.flock(fd, fcntl.LOCK_EX)
    os.ftruncate(fd, 0)
    os.write(fd, json.dumps({"pid": 4242, "command": "gitops-gen add-tenant acme"}).encode())
    try:
        yield fd
    finally:
        with contextlib.suppress(OSError):  # the test may have released it already
            os.close(fd)


def test_a_second_command_waits_then_names_the_first(estate: Path, held_lock: int) -> None:
    before = repo_state(estate)
    start = time.monotonic()
    result = gitops_gen(estate, *NEWCO, env={"GITOPS_GEN_LOCK_WAIT": "0.5"})
    assert result.returncode == 2
    assert time.monotonic() - start >= 0.5
    assert "error: another gitops-gen (pid 4242, `gitops-gen add-tenant acme`) is writing this estate" in result.stderr
    assert "Traceback" not in result.stderr
    assert repo_state(estate) == before


def test_commands_started_together_each_get_their_branch(estate: Path, held_lock: int) -> None:
    """Two add-tenant runs and a generate, all waiting on the lock, then run one after the other."""
    procs = [subprocess.Popen([sys.executable, "-m", "gitops_gen", *argv, "--repo", str(estate)],
                              env={**os.environ, "PYTHONPATH": str(PROJECT_ROOT), "GITOPS_GEN_LOCK_WAIT": "120"},
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for argv in (NEWCO, ["add-tenant", "initech", "--cluster", "us-east-1", "--no-commit"], ["generate"],
                          ["add-tenant", "hooli", "--cluster", "eu-west-1"])]
    time.sleep(0.5)
    os.close(held_lock)  # the first of them proceeds; the others wait their turn
    outputs = [p.communicate(timeout=120) for p in procs]
    for p, (out, err) in zip(procs, outputs, strict=True):
        assert p.returncode == 0, out + err
        assert "Traceback" not in err
    assert branch_files(estate, "gitops-gen/add-tenant-newco") == NEWCO_FILES
    assert {p.split("/")[1] for p in branch_files(estate, "gitops-gen/add-tenant-hooli")
            if p.startswith("overlays/")} == {"hooli"}
    # generate, whenever it ran, kept initech's files: its tenant.yaml was written with them.
    assert (estate / "overlays/initech/tenant.yaml").is_file()
    assert (estate / "clusters/us-east-1/tenants/initech.yaml").is_file()
    assert gitops_gen(estate, "generate", "--check").returncode == 0


# --------------------------------------------------------------------------- refusals write nothing

def _in_progress(root: Path, operation: str) -> None:
    """Leave the repository in the middle of ``operation``."""
    git(root, "switch", "-q", "-c", "side")
    notes = root / "notes.txt"
    notes.write_text("side\n")
    git(root, "add", "notes.txt")
    git(root, "commit", "-q", "-m", "side notes")
    git(root, "switch", "-q", "main")
    notes.write_text("main\n")
    git(root, "add", "notes.txt")
    git(root, "commit", "-q", "-m", "main notes")
    if operation == "merge":
        git(root, "merge", "side", check=False)
    elif operation == "rebase":
        git(root, "switch", "-q", "side")
        git(root, "rebase", "main", check=False)
    elif operation == "cherry-pick":
        git(root, "cherry-pick", "side", check=False)
    elif operation == "revert":
        notes.write_text("main, again\n")
        git(root, "commit", "-q", "-am", "more notes")
        git(root, "revert", "--no-edit", "HEAD~1", check=False)
    elif operation == "bisect":
        git(root, "bisect", "start")


@pytest.mark.parametrize(("operation", "finish"), [
    ("merge", "git merge --abort"), ("rebase", "git rebase --abort"), ("cherry-pick", "git cherry-pick --abort"),
    ("revert", "git revert --abort"), ("bisect", "git bisect reset")])
def test_an_unfinished_git_operation_is_refused(estate: Path, operation: str, finish: str) -> None:
    _in_progress(estate, operation)
    assert git(estate, "status").strip()
    before = repo_state(estate)
    result = cli(estate, *NEWCO)
    assert result.exit_code == 2, result.output
    assert "the repository is in the middle of a" in result.stderr and finish in result.stderr
    assert repo_state(estate) == before


@pytest.mark.parametrize("lock", ["index.lock", "HEAD.lock", "refs/heads/gitops-gen/add-tenant-newco.lock"])
def test_a_git_lock_file_is_refused_naming_it(estate: Path, lock: str) -> None:
    path = estate / ".git" / lock
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("")
    before = repo_state(estate)
    result = cli(estate, *NEWCO)
    assert result.exit_code == 2, result.output
    assert f"git lock file left in the repository: {path}" in result.stderr
    assert f"rm -f {path}" in result.stderr
    assert repo_state(estate) == before


@pytest.mark.parametrize(("argv", "message"), [
    ([*NEWCO, "--branch", "bad..name"], "--branch 'bad..name' is not a valid git branch name"),
    (["add-tenant", "nl\n", "--cluster", "eu-west-1"], "tenant name 'nl\\n' contains a control character"),
    (["add-tenant", "nl", "--cluster", "eu-west-1", "--host", "x.example.org\n"],
     "--host 'x.example.org\\n' contains a control character"),
    (["add-cluster", "ap-1", "--data-storage-class", "nfs-csi",
      "--region", "ap-south\n", "--controller", "flux", "--windows-build", "ltsc2019",
      "--domain", "ap.wfg.example.com"], "region name 'ap-south\\n' contains a control character"),
    (["add-cluster", "ap-1", "--data-storage-class", "nfs-csi",
      "--region", "ap-south", "--controller", "flux", "--windows-build", "ltsc2019",
      "--domain", "ap.wfg.example.com\n"], "domain 'ap.wfg.example.com\\n' contains a control character"),
    (["add-cluster", "ap-1", "--data-storage-class", "nfs-csi",
      "--region", "ap-south", "--controller", "flux", "--windows-build", "ltsc2019",
      "--domain", "ap.wfg.example.com", "--label", "tier=gold\n"], "contains a control character"),
])
def test_bad_names_are_refused_before_anything_is_written(estate: Path, argv: list[str], message: str) -> None:
    before = repo_state(estate)
    result = cli(estate, *argv)
    assert result.exit_code == 2, result.output
    assert message in result.stderr
    assert repo_state(estate) == before


@pytest.mark.parametrize(("edit", "message"), [
    (("overlays/acme/tenant.yaml", "host: acme.wfg.example.com", 'host: "acme.wfg.example.com\\n"'),
     "field 'hosts[0].host': host 'acme.wfg.example.com\\n' contains a control character"),
    (("clusters/us-east-1/cluster.yaml", "region: us-east", 'region: "us-east\\n"'),
     "field 'region': region name 'us-east\\n' contains a control character"),
])
def test_control_characters_in_a_declaration_are_refused(estate: Path, edit: tuple[str, str, str],
                                                          message: str) -> None:
    rel, old, new = edit
    path = estate / rel
    path.write_text(path.read_text().replace(old, new))
    before = repo_state(estate)
    result = cli(estate, "generate")
    assert result.exit_code == 2, result.output
    assert message in result.stderr
    assert repo_state(estate) == before


def test_symbolic_links_are_refused(estate: Path, tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    shutil.copytree(estate / "overlays/acme", outside / "evil")
    tenant = outside / "evil/tenant.yaml"
    tenant.write_text(tenant.read_text().replace("name: acme", "name: evil").replace("acme.wfg", "evil.wfg"))
    (estate / "overlays/evil").symlink_to(outside / "evil")
    outside_before = snapshot(outside)
    before = repo_state(estate)
    result = cli(estate, "generate")
    assert result.exit_code == 2 and "overlays/evil is a symbolic link in the work tree" in result.stderr
    assert snapshot(outside) == outside_before and repo_state(estate) == before
    (estate / "overlays/evil").unlink()
    (estate / "overlays/newt").symlink_to(tmp_path / "nowhere")  # dangling
    before = repo_state(estate)
    for extra in ([], ["--no-commit"]):
        result = cli(estate, "add-tenant", "newt", "--cluster", "eu-west-1", *extra)
        assert result.exit_code == 2, result.output
        assert "overlays/newt is a symbolic link" in result.stderr and "Traceback" not in result.output
        assert repo_state(estate) == before


def test_a_bare_repository_is_named(tmp_path: Path, estate: Path) -> None:
    bare = tmp_path / "bare.git"
    git(tmp_path, "clone", "-q", "--bare", str(estate), str(bare))
    result = gitops_gen(bare, *NEWCO)
    assert result.returncode == 2
    assert "is a bare repository" in result.stderr and "not inside a git repository" not in result.stderr


@pytest.fixture
def no_identity(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Neither a global, an XDG nor a system git configuration holds user.name and user.email."""
    home = tmp_path / "nobody"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / ".config"))
    levels = (pygit2.enums.ConfigLevel.GLOBAL, pygit2.enums.ConfigLevel.XDG, pygit2.enums.ConfigLevel.SYSTEM)
    saved = [pygit2.settings.search_path[level] for level in levels]
    for level in levels:
        pygit2.settings.search_path[level] = str(home)
    try:
        yield
    finally:
        for level, path in zip(levels, saved, strict=True):
            pygit2.settings.search_path[level] = path


def test_no_identity_is_refused_before_anything_is_written(estate: Path, tmp_path: Path, no_identity: None) -> None:
    before = repo_state(estate)
    result = cli(estate, *NEWCO)
    assert result.exit_code == 2 and "git has no author identity" in result.stderr
    assert repo_state(estate) == before
    fresh = tmp_path / "fresh"
    result = runner.invoke(app, ["init", str(fresh), "--repo-url", REPO_URL])
    assert result.exit_code == 2 and "git has no author identity" in result.stderr
    assert not fresh.exists(), "not even .git is written"


def test_init_without_a_commit_then_init_commits_the_scaffold(tmp_path: Path) -> None:
    root = tmp_path / "estate"
    assert runner.invoke(app, ["init", str(root), "--repo-url", REPO_URL, "--no-commit"]).exit_code == 0
    assert pygit2.Repository(str(root)).head_is_unborn
    again = runner.invoke(app, ["init", str(root), "--repo-url", REPO_URL])
    assert again.exit_code == 0, again.output
    repo = pygit2.Repository(str(root))
    assert not repo.head_is_unborn and "gitops-gen.yaml" in repo.head.peel(pygit2.Commit).tree
    assert git(root, "status", "--porcelain") == ""


# --------------------------------------------------------------------------- modes and leftovers

@pytest.mark.parametrize(("umask", "mode"), [(0o022, 0o644), (0o027, 0o640)])
def test_written_files_get_the_umask_mode_and_keep_an_existing_one(estate: Path, umask: int, mode: int) -> None:
    result = gitops_gen(estate, *NEWCO, "--no-commit", umask=umask)
    assert result.returncode == 0, result.stderr
    assert {stat.S_IMODE(os.stat(estate / p).st_mode) for p in NEWCO_FILES} == {mode}
    kustomization = estate / "overlays/acme/eu-west-1/kustomization.yaml"
    os.chmod(kustomization, 0o600)
    tenant = estate / "overlays/acme/tenant.yaml"
    tenant.write_text(tenant.read_text().replace("size: small", "size: medium"))
    assert gitops_gen(estate, "generate", umask=umask).returncode == 0
    assert "size-medium" in kustomization.read_text()
    assert stat.S_IMODE(os.stat(kustomization).st_mode) == 0o600


def test_generate_check_removes_our_leftovers_instead_of_calling_them_orphans(estate: Path) -> None:
    overlay = estate / "overlays/acme/eu-west-1"
    leftover = overlay / ".kustomization.yaml.5f3a9c1e.tmp"
    leftover.write_text((overlay / "kustomization.yaml").read_text())  # a killed write's temporary file
    result = cli(estate, "generate", "--check")
    assert result.exit_code == 0, result.output
    assert not leftover.exists()
    # Not ours, or ours in name but committed: left alone.
    mine = [overlay / ".notes.tmp", overlay / ".x.backup.tmp", estate / ".my-notes.backup.tmp",
            overlay / ".draft.review_2.tmp", overlay / ".ingress.yaml.0badc0de.tmp"]
    for path in mine:
        path.write_text("mine\n")
    git(estate, "add", "-f", str(overlay / ".ingress.yaml.0badc0de.tmp"), str(overlay / ".draft.review_2.tmp"))
    git(estate, "commit", "-qm", "Files that look temporary")
    assert cli(estate, "generate", "--check").exit_code == 0
    assert cli(estate, "generate").exit_code == 0
    assert all(path.exists() for path in mine)


# --------------------------------------------------------------------------- hosts on other branches

@pytest.mark.parametrize("where", ["local", "remote-tracking"])
def test_a_host_claimed_on_another_branch_is_refused(estate: Path, where: str) -> None:
    assert cli(estate, "add-tenant", "first", "--cluster", "eu-west-1", "--host", "shared.example.com").exit_code == 0
    branch = "gitops-gen/add-tenant-first"
    if where == "remote-tracking":
        repo = pygit2.Repository(str(estate))
        repo.references.create(f"refs/remotes/origin/{branch}", repo.branches.local[branch].target)
        repo.branches.local[branch].delete()
        branch = f"origin/{branch}"
    before = repo_state(estate)
    result = cli(estate, "add-tenant", "second", "--cluster", "us-east-1", "--host", "shared.example.com")
    assert result.exit_code == 2, result.output
    assert f"host 'shared.example.com' is claimed by tenant 'first' on branch {branch}" in result.stderr
    assert repo_state(estate) == before
    other = cli(estate, "add-tenant", "second", "--cluster", "us-east-1", "--host", "second.example.com")
    assert other.exit_code == 0, other.output


@pytest.mark.parametrize("spelled", [
    'host: "acme\\x2ewfg.example.com"',   # an escape: the bytes of the host are not in the file
    'host: "acme.wfg.\\\n      example.com"',  # an escaped line break joins the two halves
])
def test_a_host_spelled_with_escapes_on_the_base_is_still_found(estate: Path, spelled: str) -> None:
    path = estate / "overlays/acme/tenant.yaml"
    path.write_text(path.read_text().replace("host: acme.wfg.example.com", spelled))
    git(estate, "commit", "-qam", "Spell acme's host with an escape")
    result = cli(estate, "add-tenant", "copycat", "--cluster", "eu-west-1", "--host", "acme.wfg.example.com")
    assert result.exit_code == 2, result.output
    assert "host 'acme.wfg.example.com' is already claimed by tenant 'acme'" in result.stderr


def test_a_utf16_tenant_file_on_the_base_is_still_read(estate: Path) -> None:
    path = estate / "overlays/acme/tenant.yaml"
    path.write_bytes(path.read_text().encode("utf-16"))
    git(estate, "commit", "-qam", "acme's declaration in UTF-16")
    result = cli(estate, "add-tenant", "copycat", "--cluster", "eu-west-1", "--host", "acme.wfg.example.com")
    assert result.exit_code == 2, result.output
    assert "host 'acme.wfg.example.com' is already claimed by tenant 'acme'" in result.stderr


# --------------------------------------------------------------------------- the journal: stale, unsafe, stuck

FAULT_SITE = PROJECT_ROOT / "tests" / "write" / "faultsite"


def _killed_checkout(estate: Path) -> None:
    """add-tenant --checkout killed half-way through its journaled checkout."""
    env = {"PYTHONPATH": f"{FAULT_SITE}{os.pathsep}{PROJECT_ROOT}", "PYTHONDONTWRITEBYTECODE": "1"}
    count = estate.parent / "count.txt"
    copy = estate.parent / "probe"
    shutil.copytree(estate, copy, symlinks=True)
    done = gitops_gen(copy, *NEWCO, "--checkout", env={**env, "GITOPS_GEN_FAULT_COUNT": str(count)})
    assert done.returncode == 0, done.stderr
    calls = count.read_text().split()[1:]
    # Right before the third file write of the checkout: the journal is there, the work tree half changed.
    journal = calls.index("os.replace", calls.index("pygit2.create_reference")) + 1
    killed = gitops_gen(estate, *NEWCO, "--checkout", env={**env, "GITOPS_GEN_FAULT_AT": str(journal + 3)})
    assert killed.returncode < 0
    assert (estate / ".git/gitops-gen/journal.json").exists()


def test_a_journal_is_discarded_when_head_moved_since(estate: Path) -> None:
    _killed_checkout(estate)
    git(estate, "reset", "-q", "--hard")
    git(estate, "clean", "-qfd")
    git(estate, "switch", "-q", "-c", "feature")
    (estate / "mywork.txt").write_text("mine\n")
    git(estate, "add", "mywork.txt")
    git(estate, "commit", "-qm", "My work")
    result = cli(estate, "generate")
    assert result.exit_code == 0, result.output
    assert "HEAD has moved since: it was discarded" in result.stderr
    assert pygit2.Repository(str(estate)).head.shorthand == "feature"
    assert git(estate, "status", "--porcelain") == ""


def test_a_journal_is_finished_by_the_next_command(estate: Path) -> None:
    _killed_checkout(estate)
    result = cli(estate, "generate", "--check")
    assert result.exit_code == 0, result.output
    assert "finished what an interrupted `add-tenant" in result.stderr
    assert pygit2.Repository(str(estate)).head.shorthand == "gitops-gen/add-tenant-newco"
    assert git(estate, "status", "--porcelain") == ""


def test_a_journal_never_writes_through_a_link_placed_since(estate: Path, tmp_path: Path) -> None:
    _killed_checkout(estate)
    outside = tmp_path / "outside"
    outside.mkdir()
    shutil.rmtree(estate / "overlays/newco", ignore_errors=True)
    (estate / "overlays/newco").symlink_to(outside)
    result = cli(estate, "generate")
    assert result.exit_code == 2, result.output
    assert "cannot be finished" in result.stderr and "overlays/newco is a symbolic link" in result.stderr
    assert "rm " in result.stderr  # says how to give the change up
    assert list(outside.iterdir()) == []


def test_a_directory_where_a_file_goes_is_refused(estate: Path) -> None:
    (estate / "argocd/projects/newco.yaml").mkdir(parents=True)
    (estate / "argocd/projects/newco.yaml/keep.txt").write_text("keep\n")
    before = repo_state(estate)
    result = cli(estate, *NEWCO, "--no-commit")
    assert result.exit_code == 2 and "argocd/projects/newco.yaml is a directory" in result.stderr, result.output
    assert repo_state(estate) == before
    git(estate, "add", "argocd/projects/newco.yaml/keep.txt")
    git(estate, "commit", "-qm", "A directory in the way")
    before = repo_state(estate)
    result = cli(estate, *NEWCO)
    assert result.exit_code == 2 and "argocd/projects/newco.yaml is a directory in main" in result.stderr
    assert repo_state(estate) == before


def test_a_branch_in_the_way_of_the_name_is_refused(estate: Path) -> None:
    git(estate, "branch", "gitops-gen")
    before = repo_state(estate)
    result = cli(estate, *NEWCO)
    assert result.exit_code == 2, result.output
    assert "cannot be created while branch 'gitops-gen' exists" in result.stderr
    assert repo_state(estate) == before


def test_a_broken_file_on_another_branch_does_not_block_every_tenant(estate: Path) -> None:
    git(estate, "switch", "-q", "-c", "gitops-gen/add-tenant-broken")
    (estate / "overlays/broken").mkdir()
    (estate / "overlays/broken/tenant.yaml").write_text("name: broken\nhosts: [\n")
    git(estate, "add", "overlays/broken/tenant.yaml")
    git(estate, "commit", "-qm", "Broken")
    git(estate, "switch", "-q", "main")
    result = cli(estate, *NEWCO)
    assert result.exit_code == 0, result.output
    assert "branch gitops-gen/add-tenant-broken: overlays/broken/tenant.yaml cannot be read" in result.stderr


@pytest.mark.parametrize(("argv", "message"), [
    (["init", "n1", "--repo-url", REPO_URL, "--revision", "bad..name"], "--revision 'bad..name' is not a valid"),
    (["init", "n1", "--repo-url", REPO_URL, "--revision", "HEAD"], "--revision 'HEAD' is not a valid"),
    (["init", "n1", "--repo-url", REPO_URL, "--revision", "ma\nin"], "--revision 'ma\\nin' is not a valid"),
])
def test_init_refuses_a_bad_revision_before_writing(tmp_path: Path, argv: list[str], message: str) -> None:
    result = runner.invoke(app, [argv[0], str(tmp_path / argv[1]), *argv[2:]])
    assert result.exit_code == 2, result.output
    assert message in result.stderr
    assert not (tmp_path / "n1").exists()


def test_branch_head_and_branch_with_no_commit_are_refused(estate: Path) -> None:
    before = repo_state(estate)
    head = cli(estate, *NEWCO, "--branch", "HEAD")
    assert head.exit_code == 2 and "--branch 'HEAD' is not a valid git branch name" in head.stderr
    no_commit = cli(estate, *NEWCO, "--branch", "x", "--no-commit")
    assert no_commit.exit_code == 2 and "--no-commit makes no commit" in no_commit.stderr
    assert repo_state(estate) == before


def test_init_on_a_detached_head_writes_nothing(estate: Path) -> None:
    git(estate, "switch", "-q", "--detach")
    before = repo_state(estate)
    result = runner.invoke(app, ["init", str(estate / "sub"), "--repo-url", REPO_URL])
    assert result.exit_code == 2 and "HEAD is detached" in result.stderr
    assert repo_state(estate) == before


def test_linked_work_trees_share_the_lock(estate: Path, held_lock: int, tmp_path: Path) -> None:
    linked = tmp_path / "linked"
    git(estate, "worktree", "add", "-q", str(linked), "-b", "elsewhere")
    result = gitops_gen(linked, *NEWCO, env={"GITOPS_GEN_LOCK_WAIT": "0.3"})
    assert result.returncode == 2 and "another gitops-gen (pid 4242" in result.stderr, result.stderr
    os.close(held_lock)
    ref_lock = estate / ".git/refs/heads/gitops-gen/add-tenant-newco.lock"
    ref_lock.parent.mkdir(parents=True, exist_ok=True)
    ref_lock.write_text("")
    result = gitops_gen(linked, *NEWCO)
    assert result.returncode == 2 and f"git lock file left in the repository: {ref_lock}" in result.stderr
    ref_lock.unlink()
    result = gitops_gen(linked, *NEWCO)
    assert result.returncode == 0, result.stderr
    assert branch_files(estate, "gitops-gen/add-tenant-newco") == NEWCO_FILES


def test_generate_started_while_add_tenant_writes_waits_and_loses_nothing(estate: Path) -> None:
    """add-tenant --no-commit paused half-way through its files (holding the lock); generate started then."""
    env = {**os.environ, "PYTHONPATH": f"{FAULT_SITE}{os.pathsep}{PROJECT_ROOT}", "PYTHONDONTWRITEBYTECODE": "1",
           "GITOPS_GEN_LOCK_WAIT": "120"}
    count = estate.parent / "count.txt"
    probe = estate.parent / "probe"
    shutil.copytree(estate, probe, symlinks=True)
    assert gitops_gen(probe, *NEWCO, "--no-commit", env={"GITOPS_GEN_FAULT_COUNT": str(count),
                                                         "PYTHONPATH": env["PYTHONPATH"]}).returncode == 0
    calls = count.read_text().split()[1:]
    half = [i for i, c in enumerate(calls, 1) if c == "os.replace"][len(NEWCO_FILES) // 2]
    adding = subprocess.Popen([sys.executable, "-m", "gitops_gen", *NEWCO, "--no-commit", "--repo", str(estate)],
                              env={**env, "GITOPS_GEN_FAULT_PAUSE_AT": str(half), "GITOPS_GEN_FAULT_PAUSE_S": "2"},
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    time.sleep(1.0)  # add-tenant is now sleeping with half of its files written
    partial = {p for p in NEWCO_FILES if (estate / p).exists()}
    assert 0 < len(partial) < len(NEWCO_FILES), partial
    generating = subprocess.run([sys.executable, "-m", "gitops_gen", "generate", "--repo", str(estate)], env=env,
                                capture_output=True, text=True, timeout=120, check=False)
    out, err = adding.communicate(timeout=120)
    assert adding.returncode == 0, out + err
    assert generating.returncode == 0, generating.stdout + generating.stderr
    assert all((estate / p).is_file() for p in NEWCO_FILES), "generate deleted none of them"
    assert gitops_gen(estate, "generate", "--check").returncode == 0
