"""Helpers for tests that need optional external parts (kustomize, the CRD files)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from gitops_gen import yamlio
from gitops_gen.render.kustomize import render_overlay

PROJECT_ROOT = Path(__file__).resolve().parent.parent
TESTDATA = PROJECT_ROOT / "tests" / "testdata"
CRD_ENV = "GITOPS_GEN_CRD_DIR"


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")


def missing(what: str) -> None:
    """Skip for a missing optional tool on a developer's machine; never in CI, where it is a failure."""
    if in_ci():
        pytest.fail(f"{what} (CI must provide it)")
    pytest.skip(what)


def require_kustomize() -> None:
    if not (shutil.which("kustomize") or shutil.which("kubectl")):
        missing("neither kustomize nor kubectl is on PATH: install one to run the rendering tests")


def crd_dir() -> Path:
    """The upstream Argo CD and Flux CRDs: $GITOPS_GEN_CRD_DIR, else ../shared/crds beside the project."""
    env = os.environ.get(CRD_ENV)
    path = Path(env) if env else PROJECT_ROOT.parent / "shared" / "crds"
    if not path.is_dir():
        missing(f"no CRD directory at {path}: set {CRD_ENV} to a folder with the Argo CD and Flux CRD files")
    return path


def render(root: Path, overlay: str) -> list[dict[str, object]]:
    require_kustomize()
    return list(yamlio.load_all(render_overlay(root, overlay)))


def overlays(root: Path) -> list[str]:
    return sorted(p.parent.relative_to(root).as_posix()
                  for p in (root / "overlays").glob("*/*/kustomization.yaml"))
