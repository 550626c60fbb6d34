"""The sides of a diff: commits read from git objects (the work tree never touched), and the work tree."""

from __future__ import annotations

from pathlib import Path

import pygit2
import pytest

from gitops_gen.commands.tenants import add_tenant
from gitops_gen.errors import GitError
from gitops_gen.estate.model import Tenant
from gitops_gen.review.appset import generated_applications
from gitops_gen.review.controllers import diff_controllers
from gitops_gen.review.sides import CommitSide, WorkTreeSide, materialize
from tests.conftest import make_estate, snapshot
from tests.review.helpers import APPSET, repo_of, write


def test_commit_side_never_touches_the_work_tree(estate: Path, tmp_path: Path) -> None:
    add_tenant(estate, Tenant("initech", ("us-east-1",)), branch="add-initech")
    # A dirty work tree: a modified file and an untracked one.
    write(estate, APPSET, (estate / APPSET).read_text() + "# edited\n")
    write(estate, "notes.txt", "untracked\n")
    before = snapshot(estate)
    repo = repo_of(estate)
    base, head = CommitSide(repo, "setup-globex"), CommitSide(repo, "add-initech")
    assert head.label.startswith("add-initech (") and len(head.label) == len("add-initech (1234567)")
    assert "overlays/initech/us-east-1/kustomization.yaml" in head.files()
    assert base.read("overlays/initech/tenant.yaml") is None
    assert head.read(APPSET) == repo.revparse_single(f"add-initech:{APPSET}").peel(pygit2.Blob).data
    assert head.read("notes.txt") is None and head.read("../outside") is None and head.read(".git/HEAD") is None
    changes = diff_controllers(base, head)
    assert [(c.key, c.change) for c in changes] == [("flux-system/initech", "added"),
                                                    ("flux-system/initech-platform", "added")]
    out = tmp_path / "materialized"
    materialize(head, ["overlays/initech/", "base/", "gitops-gen.yaml", "no/such/file"], out)
    assert (out / "overlays/initech/us-east-1/kustomization.yaml").read_bytes() == \
        head.read("overlays/initech/us-east-1/kustomization.yaml")
    assert (out / "base").is_dir() and (out / "gitops-gen.yaml").is_file() and not (out / "overlays/acme").exists()
    with pytest.raises(ValueError, match="inside the work tree"):
        materialize(head, ["gitops-gen.yaml"], estate / "scratch")
    assert snapshot(estate) == before


def test_commit_side_errors_and_prefix(tmp_path: Path) -> None:
    top = tmp_path / "repo"
    pygit2.init_repository(str(top), initial_head="main")
    estate = make_estate(top / "estate")
    repo = repo_of(top)
    with pytest.raises(GitError, match="'no-such-branch' names no commit"):
        CommitSide(repo, "no-such-branch")
    side = CommitSide(repo, "HEAD", prefix="estate")
    assert side.files() == WorkTreeSide(estate).files()
    assert sorted(generated_applications(side)) == ["argocd/acme-eu-west-1", "argocd/globex-eu-west-1"]
    # The first commit predates the estate's clusters: an empty controller level, not an error.
    first = list(repo.walk(repo.head.target))[-1]
    assert generated_applications(CommitSide(repo, str(first.id), prefix="estate")) == {}
    assert CommitSide(repo, "HEAD", prefix="nowhere").files() == []
