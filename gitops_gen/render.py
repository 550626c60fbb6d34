"""The one place that runs kustomize."""

from __future__ import annotations

import shutil
from pathlib import Path

from gitops_gen.errors import ToolError
from gitops_gen.proc import run


def kustomize_command() -> list[str]:
    """A standalone ``kustomize`` where one is on PATH, else kubectl's built-in one."""
    if shutil.which("kustomize"):
        return ["kustomize", "build"]
    if shutil.which("kubectl"):
        return ["kubectl", "kustomize"]
    raise ToolError("neither kustomize nor kubectl is on PATH",
                    "install kustomize (v5) or kubectl (1.27 or newer, which includes it)")


def render_overlay(root: Path, overlay_dir: str) -> str:
    """``kustomize build`` of one overlay; the rendered multi-document YAML."""
    return run([*kustomize_command(), str(root / overlay_dir)])
