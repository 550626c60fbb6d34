"""What the controller-level tests share: commits on branches of a real repository, the expected Application."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pygit2

from gitops_gen.review.appset import Application
from tests.conftest import REPO_URL

APPSET = "clusters/eu-west-1/argocd/applicationset.yaml"


def repo_of(root: Path) -> pygit2.Repository:
    return pygit2.Repository(str(root))


def head_id(root: Path) -> str:
    return str(repo_of(root).head.target)


def commit(root: Path, paths: list[str], message: str, branch: str) -> str:
    """With git itself: a new branch at HEAD, checked out, and a commit of the work tree's content of exactly
    ``paths`` (deleted ones included)."""
    def git(*args: str) -> None:
        subprocess.run(["git", *args], cwd=root, check=True, capture_output=True, text=True)

    git("switch", "-q", "-c", branch)
    git("add", "-A", "--", *paths)
    git("commit", "-q", "-m", message, "--", *paths)
    return head_id(root)


def expected_app(tenant: str) -> Application:
    return Application(
        name=f"{tenant}-eu-west-1", project=tenant, repo_url=REPO_URL, target_revision="main",
        path=f"overlays/{tenant}/eu-west-1", destination_server="https://10.0.0.1:6443", destination_name=None,
        namespace=tenant, sync_options=("PruneLast=true", "ServerSideApply=true"), automated="prune+selfHeal",
        appset=APPSET, tenant=tenant, cluster="eu-west-1", applications_sync="create-update")


def write(root: Path, rel: str, text: str) -> None:
    (root / rel).parent.mkdir(parents=True, exist_ok=True)
    (root / rel).write_text(text)
