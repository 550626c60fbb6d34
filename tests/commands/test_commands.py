"""The commands end to end, through the CLI, on real estates in real git repositories."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pygit2
import pytest
import yaml
from typer.testing import CliRunner, Result

from gitops_gen.cli import app
from tests.conftest import REPO_URL, snapshot

runner = CliRunner(env={"COLUMNS": "200", "NO_COLOR": "1", "GITOPS_GEN_DEBUG": None})


def cli(root: Path, command: str, *args: str) -> Result:
    """``gitops-gen COMMAND --repo ROOT ARGS...`` in-process."""
    return runner.invoke(app, [command, "--repo", str(root), *args])


def git(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["git", *args], cwd=root, check=True, capture_output=True, text=True)


def repo_of(root: Path) -> pygit2.Repository:
    return pygit2.Repository(str(root))


def branches(root: Path) -> list[str]:
    return sorted(repo_of(root).branches.local)


def commit_count(root: Path) -> int:
    repo = repo_of(root)
    return len(list(repo.walk(repo.head.target)))


def changed_paths(repo: pygit2.Repository, commit: pygit2.Commit) -> dict[str, str]:
    """Path -> status letter (A, M, D) of a commit against its only parent."""
    (parent,) = commit.parents
    diff = repo.diff(parent, commit)
    return {d.new_file.path if d.status_char() != "D" else d.old_file.path: d.status_char() for d in diff.deltas}


def tree_paths(tree: pygit2.Tree, prefix: str = "") -> set[str]:
    out: set[str] = set()
    for entry in tree:
        if entry.type_str == "tree":
            out |= tree_paths(entry.peel(pygit2.Tree), f"{prefix}{entry.name}/")
        else:
            out.add(f"{prefix}{entry.name}")
    return out


#: Everything add-tenant may ever touch for tenant NAME.
def tenant_path_pattern(name: str) -> re.Pattern[str]:
    return re.compile(rf"^(overlays/{name}/.+|clusters/[a-z0-9-]+/tenants/{name}\.yaml|"
                      rf"clusters/[a-z0-9-]+/platform/{name}/.+|argocd/projects/{name}\.yaml)$")


NEWCO = ["add-tenant", "newco", "--cluster", "eu-west-1", "--cluster", "us-east-1",
         "--host", "newco.example.com", "--host", "newco-us.example.com=us-east-1"]
NEWCO_FILES = {
    "overlays/newco/tenant.yaml",
    "overlays/newco/eu-west-1/kustomization.yaml",
    "overlays/newco/eu-west-1/ingress.yaml",
    "overlays/newco/eu-west-1/external-secrets.yaml",
    "overlays/newco/eu-west-1/quota.yaml",
    "overlays/newco/eu-west-1/disruption-budget.yaml",
    "overlays/newco/us-east-1/kustomization.yaml",
    "overlays/newco/us-east-1/ingress.yaml",
    "overlays/newco/us-east-1/external-secrets.yaml",
    "overlays/newco/us-east-1/quota.yaml",
    "overlays/newco/us-east-1/disruption-budget.yaml",
    "clusters/eu-west-1/tenants/newco.yaml",   # Argo CD placement record
    "clusters/us-east-1/tenants/newco.yaml",   # Flux Kustomizations: the platform's and the tenant's
    "clusters/us-east-1/platform/newco/platform.yaml",  # Namespace, reconciler account and its RoleBinding
    "argocd/projects/newco.yaml",              # AppProject: newco has an Argo CD placement
}


# --------------------------------------------------------------------------- add-tenant: branch and commit

def test_add_tenant_commits_exactly_its_files_on_a_new_branch(estate: Path) -> None:
    repo = repo_of(estate)
    base, base_branch = repo.head.target, repo.head.shorthand
    branches_before = branches(estate)
    before = snapshot(estate)

    result = cli(estate, *NEWCO, "--output", "json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    planned = {c["path"] for c in report["changes"]}
    assert planned == NEWCO_FILES
    assert {c["action"] for c in report["changes"]} == {"create"}
    assert report["dryRun"] is False
    assert report["branch"] == "gitops-gen/add-tenant-newco"
    assert report["base"] == {"ref": "main", "commit": str(base)}
    assert report["checkedOut"] is False and report["alreadyDone"] is False

    repo = repo_of(estate)
    # The user's checkout is left as it is: same branch, same files, nothing staged.
    assert repo.head.shorthand == base_branch == "main"
    assert repo.head.target == base
    assert {k: v for k, v in snapshot(estate).items() if not k.startswith(".git/")} == \
        {k: v for k, v in before.items() if not k.startswith(".git/")}
    assert repo.status() == {}
    assert branches(estate) == sorted([*branches_before, "gitops-gen/add-tenant-newco"])
    commit = repo.branches.local["gitops-gen/add-tenant-newco"].peel(pygit2.Commit)
    assert str(commit.id) == report["commit"]
    assert [p.id for p in commit.parents] == [base]

    changed = changed_paths(repo, commit)
    assert set(changed) == planned
    assert set(changed.values()) == {"A"}
    pattern = tenant_path_pattern("newco")
    assert [p for p in changed if not pattern.match(p)] == []
    assert commit.message == ("Add tenant newco on eu-west-1, us-east-1\n\n"
                              "Hosts: newco.example.com -> eu-west-1, newco-us.example.com -> us-east-1")
    assert report["message"] == commit.message
    assert commit.author.name == "Test Engineer"
    # The branch is consistent as committed.
    git(estate, "switch", "-q", "gitops-gen/add-tenant-newco")
    check = cli(estate, "generate", "--check")
    assert check.exit_code == 0, check.output


def test_add_tenant_checkout_switches_to_the_branch(estate: Path) -> None:
    base = repo_of(estate).head.target
    result = cli(estate, *NEWCO, "--checkout", "--output", "json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["checkedOut"] is True
    repo = repo_of(estate)
    assert repo.head.shorthand == "gitops-gen/add-tenant-newco"
    commit = repo.head.peel(pygit2.Commit)
    assert [p.id for p in commit.parents] == [base]
    for path in NEWCO_FILES:  # what was committed is what is on disk, and in the index
        assert repo[commit.tree[path].id].peel(pygit2.Blob).data == (estate / path).read_bytes()
    assert repo.status() == {}
    assert git(estate, "status", "--porcelain").stdout == ""
    check = cli(estate, "generate", "--check")
    assert check.exit_code == 0, check.output


def test_add_tenant_table_output_names_files_commit_and_branch(estate: Path) -> None:
    base = str(repo_of(estate).head.target)
    result = cli(estate, *NEWCO)
    assert result.exit_code == 0, result.output
    commit = str(repo_of(estate).branches.local["gitops-gen/add-tenant-newco"].target)
    lines = result.stdout.splitlines()
    assert sorted(line.split()[1] for line in lines if line.startswith("  create ")) == sorted(NEWCO_FILES)
    assert "Created 15 files." in lines
    assert (f"Tenant newco added: committed {commit[:12]} on branch gitops-gen/add-tenant-newco, based on main "
            f"({base[:12]}).") in lines
    assert ("Your checkout is unchanged. To look at the change: git log -p main..gitops-gen/add-tenant-newco; "
            "to work on it: git switch gitops-gen/add-tenant-newco.") in lines


def test_add_tenant_on_a_single_flux_cluster_writes_no_appproject(estate: Path) -> None:
    result = cli(estate, "add-tenant", "fluxy", "--cluster", "us-east-1", "--output", "json")
    assert result.exit_code == 0, result.output
    repo = repo_of(estate)
    tip = repo.branches.local["gitops-gen/add-tenant-fluxy"].peel(pygit2.Commit)
    changed = changed_paths(repo, tip)
    assert set(changed) == {"overlays/fluxy/tenant.yaml", "overlays/fluxy/us-east-1/kustomization.yaml",
                            "overlays/fluxy/us-east-1/ingress.yaml",
                            "overlays/fluxy/us-east-1/external-secrets.yaml",
                            "overlays/fluxy/us-east-1/quota.yaml",
                            "overlays/fluxy/us-east-1/disruption-budget.yaml",
                            "clusters/us-east-1/tenants/fluxy.yaml",
                            "clusters/us-east-1/platform/fluxy/platform.yaml"}
    assert tip.message == "Add tenant fluxy on us-east-1"


def test_add_tenant_no_commit_leaves_files_uncommitted(estate: Path) -> None:
    repo = repo_of(estate)
    head, head_branch, branches_before = repo.head.target, repo.head.shorthand, branches(estate)
    result = cli(estate, *NEWCO, "--no-commit")
    assert result.exit_code == 0, result.output
    assert "Tenant newco added: files written, not committed." in result.stdout
    repo = repo_of(estate)
    assert repo.head.target == head
    assert repo.head.shorthand == head_branch
    assert branches(estate) == branches_before
    assert all((estate / p).is_file() for p in NEWCO_FILES)
    assert repo.status() == {p: pygit2.GIT_STATUS_WT_NEW for p in NEWCO_FILES}


def test_add_tenant_on_a_named_branch(estate: Path) -> None:
    result = cli(estate, *NEWCO, "--branch", "onboarding/newco")
    assert result.exit_code == 0, result.output
    repo = repo_of(estate)
    assert repo.head.shorthand == "main"
    assert "gitops-gen/add-tenant-newco" not in branches(estate)
    assert set(changed_paths(repo, repo.branches.local["onboarding/newco"].peel(pygit2.Commit))) == NEWCO_FILES
    assert "on branch onboarding/newco, based on main" in result.stdout
    assert repo.status() == {}


@pytest.mark.parametrize("branch", ["setup-acme", "gitops-gen/add-tenant-newco"])
def test_add_tenant_refuses_an_existing_branch_and_writes_nothing(estate: Path, branch: str) -> None:
    if branch not in branches(estate):
        git(estate, "branch", branch)  # e.g. left over from an earlier attempt
    before, branches_before, head = snapshot(estate), branches(estate), repo_of(estate).head.target
    args = [*NEWCO, "--branch", branch] if branch == "setup-acme" else NEWCO
    result = cli(estate, *args)
    assert result.exit_code == 2, result.output
    assert f"error: branch '{branch}' already exists and holds other changes" in result.stderr
    if branch.startswith("gitops-gen/"):  # one of ours, maybe left over: deleting it is offered
        assert (f"hint: if it is a leftover of an earlier attempt, delete it (git branch -D {branch}); otherwise "
                "choose another name with --branch") in result.stderr
    else:  # somebody's branch: never offered for deletion
        assert "hint: choose another name with --branch" in result.stderr and "git branch -D" not in result.stderr
    assert snapshot(estate) == before
    assert branches(estate) == branches_before
    assert repo_of(estate).head.target == head
    assert not (estate / "overlays/newco").exists()


def test_add_tenant_dry_run_writes_nothing_and_prints_the_plan(estate: Path) -> None:
    before, branches_before = snapshot(estate), branches(estate)
    result = cli(estate, *NEWCO, "--dry-run")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert sorted(line.split()[1] for line in lines if line.startswith("  create ")) == sorted(NEWCO_FILES)
    base = str(repo_of(estate).head.target)
    assert lines[-2:] == ["Would create 15 files.",
                          f"Dry run: nothing was written; the branch would be based on main ({base[:12]})."]
    assert snapshot(estate) == before
    assert branches(estate) == branches_before


def test_add_tenant_dry_run_json(estate: Path) -> None:
    before = snapshot(estate)
    result = cli(estate, *NEWCO, "--dry-run", "--output", "json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["dryRun"] is True
    assert report["commit"] is None
    assert sorted(report["changes"], key=lambda c: c["path"]) == [
        {"path": p, "action": "create"} for p in sorted(NEWCO_FILES)]
    assert snapshot(estate) == before


# --------------------------------------------------------------------------- staged work elsewhere

def test_staged_work_elsewhere_is_not_swept_into_the_commit(estate: Path) -> None:
    notes = estate / "notes.txt"
    notes.write_text("release notes\n")
    git(estate, "add", "notes.txt")
    git(estate, "commit", "-q", "-m", "Add notes")
    notes.write_text("release notes\n- onboarding newco\n")
    (estate / "docs").mkdir()
    (estate / "docs/runbook.md").write_text("# Runbook\n")
    repo = repo_of(estate)
    index = repo.index
    index.read()
    index.add("notes.txt")
    index.add("docs/runbook.md")
    index.write()
    staged = {"notes.txt": pygit2.GIT_STATUS_INDEX_MODIFIED, "docs/runbook.md": pygit2.GIT_STATUS_INDEX_NEW}
    assert repo.status() == staged

    result = cli(estate, *NEWCO, "--checkout")
    assert result.exit_code == 0, result.output
    repo = repo_of(estate)
    commit = repo.head.peel(pygit2.Commit)
    assert repo.head.shorthand == "gitops-gen/add-tenant-newco"
    assert set(changed_paths(repo, commit)) == NEWCO_FILES
    assert repo[commit.tree["notes.txt"].id].peel(pygit2.Blob).data == b"release notes\n"
    assert "docs" not in commit.tree
    assert repo.status() == staged  # still staged, and nothing else is pending
    assert git(estate, "diff", "--cached", "--name-only").stdout.split() == ["docs/runbook.md", "notes.txt"]


# --------------------------------------------------------------------------- parallel branches merge cleanly

def test_two_tenant_branches_from_one_base_merge_cleanly(estate: Path) -> None:
    base = repo_of(estate).head.shorthand
    one = cli(estate, "add-tenant", "one", "--cluster", "eu-west-1", "--host", "one.example.com", "--checkout")
    assert one.exit_code == 0, one.output
    assert (estate / "overlays/one").exists()
    # From the first tenant's branch: the second branch still starts from main, not from it.
    two = cli(estate, "add-tenant", "two", "--cluster", "eu-west-1", "--cluster", "us-east-1",
              "--host", "two.example.com=us-east-1")
    assert two.exit_code == 0, two.output
    assert repo_of(estate).head.shorthand == "gitops-gen/add-tenant-one"
    for name in ("one", "two"):
        diff = git(estate, "diff", "--name-only", f"{base}...gitops-gen/add-tenant-{name}").stdout.split()
        assert diff and all(tenant_path_pattern(name).match(p) for p in diff), diff

    git(estate, "checkout", "-q", "-b", "release", base)
    for branch in ("gitops-gen/add-tenant-one", "gitops-gen/add-tenant-two"):
        merged = subprocess.run(["git", "merge", "--no-edit", "--no-ff", branch], cwd=estate,
                                capture_output=True, text=True)
        assert merged.returncode == 0, merged.stdout + merged.stderr
    assert git(estate, "diff", "--name-only", "--diff-filter=U").stdout == ""
    assert git(estate, "status", "--porcelain").stdout == ""
    assert (estate / "argocd/projects/one.yaml").is_file()
    assert (estate / "clusters/us-east-1/tenants/two.yaml").is_file()

    check = cli(estate, "generate", "--check")
    assert check.exit_code == 0, check.output
    assert check.stdout == "All derived files are up to date.\n"
    listed = json.loads(cli(estate, "list", "--output", "json").stdout)
    by_cluster = {c["name"]: [t["tenant"] for t in c["tenants"]] for c in listed["clusters"]}
    assert by_cluster == {"eu-west-1": ["acme", "globex", "one", "two"], "us-east-1": ["globex", "two"]}


# --------------------------------------------------------------------------- generate

def test_generate_is_idempotent(estate: Path) -> None:
    before, head = snapshot(estate), repo_of(estate).head.target
    result = cli(estate, "generate")
    assert result.exit_code == 0, result.output
    assert result.stdout == "Nothing to change.\n"
    assert snapshot(estate) == before
    check = cli(estate, "generate", "--check")
    assert check.exit_code == 0, check.output
    assert check.stdout == "All derived files are up to date.\n"
    check_json = cli(estate, "generate", "--check", "--output", "json")
    assert check_json.exit_code == 0
    assert json.loads(check_json.stdout) == {"upToDate": True, "changes": []}
    assert snapshot(estate) == before
    assert repo_of(estate).head.target == head


def check_json(root: Path) -> tuple[int, list[dict[str, str]]]:
    result = cli(root, "generate", "--check", "--output", "json")
    data = json.loads(result.stdout)
    assert data["upToDate"] is (result.exit_code == 0)
    return result.exit_code, data["changes"]


def test_check_reports_a_hand_edited_derived_file_and_generate_restores_it(estate: Path) -> None:
    ingress = estate / "overlays/acme/eu-west-1/ingress.yaml"
    original = ingress.read_text()
    ingress.write_text(original + "# tweak\n")
    before = snapshot(estate)

    result = cli(estate, "generate", "--check")
    assert result.exit_code == 1
    assert re.search(r"^  hand-edited +overlays/acme/eu-west-1/ingress\.yaml$", result.stderr, re.M), result.stderr
    assert "hint: run 'gitops-gen generate'" in result.stderr
    assert check_json(estate) == (1, [{"path": "overlays/acme/eu-west-1/ingress.yaml", "action": "update",
                                       "reason": "hand-edited"}])
    assert snapshot(estate) == before  # --check writes nothing

    fixed = cli(estate, "generate")
    assert fixed.exit_code == 0, fixed.output
    assert ingress.read_text() == original
    assert repo_of(estate).status() == {}
    assert check_json(estate) == (0, [])


def test_check_reports_overlay_stale_after_a_declaration_edit(estate: Path) -> None:
    decl = estate / "overlays/acme/tenant.yaml"
    decl.write_text(decl.read_text().replace("webReplicas: 2", "webReplicas: 1"))
    kustomization = "overlays/acme/eu-west-1/kustomization.yaml"
    quota = "overlays/acme/eu-west-1/quota.yaml"  # derived from the pods at their peak: one web pod less
    budget = "overlays/acme/eu-west-1/disruption-budget.yaml"  # only for more than one web pod

    result = cli(estate, "generate", "--check")
    assert result.exit_code == 1
    assert re.search(rf"^  stale +{re.escape(kustomization)}$", result.stderr, re.M), result.stderr
    assert check_json(estate) == (1, [{"path": kustomization, "action": "update", "reason": "stale"},
                                      {"path": quota, "action": "update", "reason": "stale"},
                                      {"path": budget, "action": "delete", "reason": "orphaned"}])

    gen = cli(estate, "generate")
    assert gen.exit_code == 0, gen.output
    assert gen.stdout.splitlines()[:2] == [f"  update {kustomization} (stale)", f"  update {quota} (stale)"]
    assert repo_of(estate).status() == {"overlays/acme/tenant.yaml": pygit2.GIT_STATUS_WT_MODIFIED,
                                        kustomization: pygit2.GIT_STATUS_WT_MODIFIED,
                                        quota: pygit2.GIT_STATUS_WT_MODIFIED, budget: pygit2.GIT_STATUS_WT_DELETED}
    patches = {pt["target"]["name"]: yaml.safe_load(pt["patch"])
               for pt in yaml.safe_load((estate / kustomization).read_text())["patches"]}
    assert {"op": "replace", "path": "/spec/replicas", "value": 1} in patches["workflowgen-web"]
    assert yaml.safe_load((estate / quota).read_text())["spec"]["hard"]["pods"] == "6"
    assert check_json(estate) == (0, [])


ACME_OVERLAY = {"overlays/acme/eu-west-1/external-secrets.yaml", "overlays/acme/eu-west-1/ingress.yaml",
                "overlays/acme/eu-west-1/kustomization.yaml", "overlays/acme/eu-west-1/quota.yaml",
                "overlays/acme/eu-west-1/disruption-budget.yaml"}
ACME_ELSEWHERE = {"clusters/eu-west-1/tenants/acme.yaml", "argocd/projects/acme.yaml"}


@pytest.mark.parametrize("remove_dir", [True, False], ids=["tenant-dir-removed", "only-tenant-yaml-removed"])
def test_orphans_are_reported_and_removed(estate: Path, remove_dir: bool) -> None:
    if remove_dir:
        shutil.rmtree(estate / "overlays/acme")
        orphans = ACME_ELSEWHERE
    else:
        (estate / "overlays/acme/tenant.yaml").unlink()
        orphans = ACME_ELSEWHERE | ACME_OVERLAY

    result = cli(estate, "generate", "--check")
    assert result.exit_code == 1
    reported = re.findall(r"^  orphaned +(\S+)$", result.stderr, re.M)
    assert sorted(reported) == sorted(orphans)
    assert check_json(estate) == (1, [{"path": p, "action": "delete", "reason": "orphaned"}
                                      for p in sorted(orphans, key=_plan_order)])

    gen = cli(estate, "generate")
    assert gen.exit_code == 0, gen.output
    assert all(not (estate / p).exists() for p in orphans)
    assert not (estate / "overlays/acme").exists()  # emptied directories are pruned
    assert (estate / "clusters/eu-west-1/tenants/globex.yaml").is_file()
    assert (estate / "clusters/eu-west-1/tenants/README.md").is_file()
    assert check_json(estate) == (0, [])
    assert "acme" not in cli(estate, "list", "--output", "json").stdout


def _plan_order(path: str) -> tuple[int, str]:
    """Orphans are listed per derived root, in the order base, overlays, clusters, argocd."""
    return (["base", "overlays", "clusters", "argocd"].index(path.split("/")[0]), path)


def test_generate_never_deletes_a_file_it_did_not_write(estate: Path) -> None:
    legacy = estate / "clusters/eu-west-1/tenants/legacy.yaml"
    legacy.write_text("tenant: legacy\ncluster: eu-west-1\n")
    extra = estate / "overlays/acme/eu-west-1/extra.yaml"
    extra.write_text("# kept by hand\nkind: ConfigMap\n")
    (estate / "overlays/acme/tenant.yaml").unlink()  # acme's generated files are now orphans

    result = cli(estate, "generate", "--check")
    reported = re.findall(r"^  \S+ +(\S+)$", result.stderr, re.M)
    assert "clusters/eu-west-1/tenants/legacy.yaml" not in reported
    assert "overlays/acme/eu-west-1/extra.yaml" not in reported
    assert sorted(reported) == sorted(ACME_ELSEWHERE | ACME_OVERLAY)

    gen = cli(estate, "generate")
    assert gen.exit_code == 0, gen.output
    assert legacy.read_text() == "tenant: legacy\ncluster: eu-west-1\n"
    assert extra.read_text() == "# kept by hand\nkind: ConfigMap\n"
    assert not (estate / "overlays/acme/eu-west-1/ingress.yaml").exists()
    assert sorted(p.name for p in (estate / "overlays/acme").rglob("*") if p.is_file()) == ["extra.yaml"]


def test_generate_refuses_to_replace_a_file_it_did_not_write(estate: Path) -> None:
    project = estate / "argocd/projects/acme.yaml"
    project.write_text("# my own AppProject\nkind: AppProject\n")
    before = snapshot(estate)
    check = cli(estate, "generate", "--check")
    assert check.exit_code == 1
    assert re.search(r"^  unmanaged +argocd/projects/acme\.yaml$", check.stderr, re.M), check.stderr
    result = cli(estate, "generate")
    assert result.exit_code == 2
    assert "files gitops-gen did not write stand where it writes derived files" in result.stderr
    assert "argocd/projects/acme.yaml" in result.stderr
    assert "hint: move them away" in result.stderr
    assert snapshot(estate) == before


# --------------------------------------------------------------------------- list and route

def test_list_json(estate: Path) -> None:
    result = cli(estate, "list", "--output", "json")
    assert result.exit_code == 0, result.output

    def row(tenant: str, cluster: str, region: str, controller: str, domain: str,
            hosts: list[str], role: str = "primary") -> dict[str, object]:
        return {"tenant": tenant, "cluster": cluster, "region": region, "controller": controller,
                "namespace": tenant, "role": role, "state": "active", "phase": None,
                "regionalHost": f"{tenant}.{domain}",
                "globalHosts": hosts, "unservedHosts": []}

    eu = ("eu-west-1", "eu-west", "argocd", "eu.wfg.example.com")
    us = ("us-east-1", "us-east", "flux", "us.wfg.example.com")
    assert json.loads(result.stdout) == {"clusters": [
        {"name": "eu-west-1", "region": "eu-west", "controller": "argocd", "windowsBuild": "ltsc2022",
         "domain": "eu.wfg.example.com", "labels": {},
         "tenants": [row("acme", *eu, ["acme.wfg.example.com"]), row("globex", *eu, ["globex.wfg.example.com"])]},
        {"name": "us-east-1", "region": "us-east", "controller": "flux", "windowsBuild": "ltsc2019",
         "domain": "us.wfg.example.com", "labels": {}, "tenants": [row("globex", *us, [], "standby")]},
    ]}


def test_list_table(estate: Path) -> None:
    result = cli(estate, "list")
    assert result.exit_code == 0, result.output
    rows = [line.split() for line in result.stdout.splitlines()]
    assert rows[0] == ["cluster", "region", "controller", "tenant", "namespace", "role", "state", "phase",
                       "hosts"]
    assert rows[1:4] == [
        ["eu-west-1", "eu-west", "argocd", "acme", "acme", "primary", "active", "-", "acme.wfg.example.com,",
         "acme.eu.wfg.example.com"],
        ["eu-west-1", "eu-west", "argocd", "globex", "globex", "primary", "active", "-", "globex.wfg.example.com,",
         "globex.eu.wfg.example.com"],
        ["us-east-1", "us-east", "flux", "globex", "globex", "standby", "active", "-", "globex.us.wfg.example.com"],
    ]
    assert result.stdout.splitlines()[4] == "2 tenants, 3 placements on 2 clusters."


@pytest.mark.parametrize(("host", "expected"), [
    ("acme.wfg.example.com",
     {"host": "acme.wfg.example.com", "kind": "global", "tenant": "acme", "cluster": "eu-west-1",
      "region": "eu-west", "controller": "argocd", "namespace": "acme", "role": "primary", "state": "active",
      "phase": None, "regionalHost": "acme.eu.wfg.example.com", "globalHosts": ["acme.wfg.example.com"],
      "unservedHosts": [],
      "url": "https://acme.wfg.example.com/wfgen"}),
    ("globex.us.wfg.example.com",
     {"host": "globex.us.wfg.example.com", "kind": "regional", "tenant": "globex", "cluster": "us-east-1",
      "region": "us-east", "controller": "flux", "namespace": "globex", "role": "standby", "state": "active",
      "phase": None,
      "regionalHost": "globex.us.wfg.example.com", "globalHosts": [], "unservedHosts": [],
      "url": "https://globex.us.wfg.example.com/wfgen"}),
    # Hosts are normalised: case and a trailing dot do not matter.
    ("GLOBEX.wfg.example.com.",
     {"host": "globex.wfg.example.com", "kind": "global", "tenant": "globex", "cluster": "eu-west-1",
      "region": "eu-west", "controller": "argocd", "namespace": "globex", "role": "primary", "state": "active",
      "phase": None, "regionalHost": "globex.eu.wfg.example.com", "globalHosts": ["globex.wfg.example.com"],
      "unservedHosts": [],
      "url": "https://globex.wfg.example.com/wfgen"}),
])
def test_route_json(estate: Path, host: str, expected: dict[str, object]) -> None:
    result = cli(estate, "route", host, "--output", "json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == expected


def test_route_table_for_a_regional_host(estate: Path) -> None:
    result = cli(estate, "route", "globex.us.wfg.example.com")
    assert result.exit_code == 0, result.output
    assert [line.split(None, 1) for line in result.stdout.splitlines()] == [
        ["host", "globex.us.wfg.example.com (regional)"], ["tenant", "globex"], ["cluster", "us-east-1"],
        ["region", "us-east"], ["namespace", "globex"], ["controller", "flux"], ["role", "standby"],
        ["state", "active"], ["phase", "-"], ["url", "https://globex.us.wfg.example.com/wfgen"],
    ]


@pytest.mark.parametrize("host", [
    "nobody.wfg.example.com",
    "acme.us.wfg.example.com",  # a regional host of a cluster acme is not placed on
])
@pytest.mark.parametrize("output", ["table", "json"])
def test_route_unknown_host(estate: Path, host: str, output: str) -> None:
    result = cli(estate, "route", host, "--output", output)
    assert result.exit_code == 2
    message = f"no tenant serves host '{host}'"
    hint = "check the spelling; 'gitops-gen list' shows every tenant's hosts"
    if output == "json":  # the error object on stdout, nothing on stderr
        assert result.stderr == ""
        assert json.loads(result.stdout) == {"error": {"message": message, "hint": hint, "file": None, "line": None,
                                                       "field": "HOST"}}
        return
    assert result.stdout == ""
    assert result.stderr.splitlines() == [f"error: {message}", f"hint: {hint}"]


# --------------------------------------------------------------------------- init

def test_init_is_idempotent(tmp_path: Path) -> None:
    root = tmp_path / "new-estate"
    first = runner.invoke(app, ["init", str(root), "--repo-url", REPO_URL, "--output", "json"])
    assert first.exit_code == 0, first.output
    created = {c["path"] for c in json.loads(first.stdout)["changes"]}
    assert {"gitops-gen.yaml", ".github/workflows/gitops-gen.yaml", "base/kustomization.yaml"} <= created
    repo = repo_of(root)
    assert repo.head.shorthand == "main"
    assert commit_count(root) == 1
    assert tree_paths(repo.head.peel(pygit2.Commit).tree) == created
    assert {e.path for e in repo.index} == created
    assert repo.status() == {}
    before, head = snapshot(root), repo.head.target

    second = runner.invoke(app, ["init", str(root), "--repo-url", REPO_URL])
    assert second.exit_code == 0, second.output
    assert second.stdout == "Nothing to change.\n"
    assert snapshot(root) == before
    assert repo_of(root).head.target == head
    assert commit_count(root) == 1

    third = runner.invoke(app, ["init", str(root), "--repo-url", REPO_URL, "--output", "json"])
    assert json.loads(third.stdout)["changes"] == []
    assert snapshot(root) == before


def test_init_on_a_populated_estate_writes_nothing(estate: Path) -> None:
    before, head, count = snapshot(estate), repo_of(estate).head.target, commit_count(estate)
    result = runner.invoke(app, ["init", str(estate), "--repo-url", REPO_URL])
    assert result.exit_code == 0, result.output
    assert result.stdout == "Nothing to change.\n"
    assert snapshot(estate) == before
    assert repo_of(estate).head.target == head
    assert commit_count(estate) == count
