"""Shared fixtures: real estates in real git repositories under tmp_path."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from pathlib import Path

import pygit2
import pytest

from gitops_gen.commands.clusters import add_cluster
from gitops_gen.commands.init import init_estate
from gitops_gen.commands.tenants import add_tenant
from gitops_gen.estate.model import Cluster, DatabaseSpec, HostRoute, OidcSettings, Tenant

REPO_URL = "https://git.example.com/platform/estate.git"
PROJECT_ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(autouse=True)
def _git_identity(monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory) -> None:
    """Commits need an identity; never depend on the machine's git config."""
    home = tmp_path_factory.mktemp("home")
    (home / ".gitconfig").write_text("[user]\n\tname = Test Engineer\n\temail = test@example.com\n")
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    for var in ("GIT_AUTHOR_NAME", "GIT_AUTHOR_EMAIL", "GIT_COMMITTER_NAME", "GIT_COMMITTER_EMAIL"):
        monkeypatch.delenv(var, raising=False)
    pygit2.settings.search_path[pygit2.enums.ConfigLevel.GLOBAL] = str(home)


EU = Cluster(name="eu-west-1", region="eu-west", controller="argocd", windows_build="ltsc2022",
             domain="eu.wfg.example.com", argocd_server="https://10.0.0.1:6443",
             data_storage_class="azurefile-csi", database_storage_class="managed-csi")
US = Cluster(name="us-east-1", region="us-east", controller="flux", windows_build="ltsc2019",
             domain="us.wfg.example.com", data_storage_class="efs-sc", database_storage_class="gp3")


GLOBEX_OIDC = OidcSettings("6f1d2c3b-0000-4000-8000-00000000abcd",
                           "https://login.microsoftonline.com/globex.example.com/v2.0/.well-known/openid-configuration")


def make_estate(path: Path, tenants: bool = True) -> Path:
    """The issue's example: two clusters (Argo CD and Flux), acme on one, globex on both. Each step is a
    branch stacked on the one before (--base HEAD --checkout), so the last one holds the whole estate."""
    init_estate(path, REPO_URL)
    add_cluster(path, EU, branch="setup-eu", base="HEAD", checkout=True)
    add_cluster(path, US, branch="setup-us", base="HEAD", checkout=True)
    if tenants:
        add_tenant(path, Tenant("acme", ("eu-west-1",), (HostRoute("acme.wfg.example.com", "eu-west-1"),)),
                   branch="setup-acme", base="HEAD", checkout=True)
        add_tenant(path, Tenant("globex", ("eu-west-1", "us-east-1"),
                                (HostRoute("globex.wfg.example.com", "eu-west-1"),),
                                database=DatabaseSpec("external", ("10.20.0.0/24",), 1433),
                                auth="ms-identity-v2", size="medium", web_replicas=3, oidc=GLOBEX_OIDC),
                   branch="setup-globex", base="HEAD", checkout=True)
    return land_on_main(path)


def land_on_main(path: Path) -> Path:
    """As if every pull request so far were merged: main moves to HEAD's commit and is checked out."""
    repo = pygit2.Repository(str(path))
    head = repo.head.target
    repo.references.create("refs/heads/main", head, force=True)
    repo.set_head("refs/heads/main")
    return path


@pytest.fixture
def estate(tmp_path: Path) -> Path:
    return make_estate(tmp_path / "estate")


@pytest.fixture
def bare_estate(tmp_path: Path) -> Path:
    """Initialised with both clusters, no tenant yet."""
    return make_estate(tmp_path / "estate", tenants=False)


def snapshot(root: Path) -> dict[str, str]:
    """Every file and directory under root (the .git directory included) with a hash of its bytes, or the
    target of a link. gitops-gen's caches are left out: they are not repository state (its journal is)."""
    out: dict[str, str] = {}
    for dirpath, dirs, files in os.walk(root):
        for d in dirs:
            rel = (Path(dirpath) / d).relative_to(root).as_posix()
            if rel != ".git/gitops-gen" and not rel.startswith(".git/gitops-gen/"):
                out[rel + "/"] = "dir"
        for f in files:
            p = Path(dirpath) / f
            rel = p.relative_to(root).as_posix()
            if rel.startswith(".git/gitops-gen/") and rel != ".git/gitops-gen/journal.json":
                continue
            out[rel] = f"-> {os.readlink(p)}" if p.is_symlink() else hashlib.sha256(p.read_bytes()).hexdigest()
    return out


@pytest.fixture
def cli_env() -> Iterator[dict[str, str]]:
    yield {**os.environ, "COLUMNS": "200", "NO_COLOR": "1"}
