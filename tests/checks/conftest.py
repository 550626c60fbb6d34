"""Fixtures of the rule tests: the example estate and a freshly generated one, each rendered once."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pygit2
import pytest

from gitops_gen.estate.load import Estate, load_estate
from tests.checks.cases import ACME, GLOBEX, GLOBEX_US, Rendered
from tests.conftest import make_estate
from tests.tools import PROJECT_ROOT, overlays, render


@pytest.fixture(scope="session")
def fresh(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Estate, Rendered]:
    """The conftest estate (acme on eu-west-1, globex on both clusters), generated and rendered once."""
    home = tmp_path_factory.mktemp("rules-home")
    (home / ".gitconfig").write_text("[user]\n\tname = Test Engineer\n\temail = test@example.com\n")
    level: Any = pygit2.GIT_CONFIG_LEVEL_GLOBAL
    previous = pygit2.settings.search_path[level]
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("HOME", str(home))
        mp.setenv("GIT_CONFIG_NOSYSTEM", "1")
        for var in ("GIT_AUTHOR_NAME", "GIT_AUTHOR_EMAIL", "GIT_COMMITTER_NAME", "GIT_COMMITTER_EMAIL"):
            mp.delenv(var, raising=False)
        pygit2.settings.search_path[level] = str(home)
        try:
            root = make_estate(tmp_path_factory.mktemp("rules") / "estate")
        finally:
            pygit2.settings.search_path[level] = previous
    rendered = {o: render(root, o) for o in overlays(root)}
    assert set(rendered) == {ACME, GLOBEX, GLOBEX_US}
    return root, load_estate(root), rendered


@pytest.fixture(scope="session")
def example() -> tuple[Path, Estate, Rendered]:
    return PROJECT_ROOT, load_estate(PROJECT_ROOT), {o: render(PROJECT_ROOT, o) for o in overlays(PROJECT_ROOT)}


@pytest.fixture
def estate_copy(fresh: tuple[Path, Estate, Rendered], tmp_path: Path) -> Iterator[Path]:
    root = tmp_path / "estate"
    shutil.copytree(fresh[0], root, ignore=shutil.ignore_patterns(".git"))
    yield root
