"""The package passes mypy --strict, ruff and its import-layer contracts: part of the test command, so CI
enforces them."""

from __future__ import annotations

import subprocess
import sys

from tests.tools import PROJECT_ROOT


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", *args], cwd=PROJECT_ROOT, capture_output=True, text=True,
                          timeout=600, check=False)


def test_mypy_strict() -> None:
    result = _run("mypy", "--strict", "gitops_gen")
    assert result.returncode == 0, result.stdout + result.stderr


def test_ruff() -> None:
    result = _run("ruff", "check", "gitops_gen", "tests", "bench")
    assert result.returncode == 0, result.stdout + result.stderr


def test_import_layers() -> None:
    """The import-linter contracts in pyproject.toml: layers, pure declarations and generators, independence."""
    result = subprocess.run([sys.executable, "-c", "import sys; from importlinter.cli import lint_imports; "
                             "sys.exit(lint_imports(no_cache=True))"],
                            cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=600, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout, result.stdout
