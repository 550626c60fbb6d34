"""Applies a plan to the work tree: atomic writes, only what changed."""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path

from gitops_gen.write.plan import Plan


def write_atomic(path: Path, content: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as f:
            f.write(content)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def apply_plan(root: Path, plan: Plan) -> None:
    for change in plan.changes:
        target = root / change.path
        if change.action == "delete":
            with contextlib.suppress(FileNotFoundError):
                target.unlink()
            _prune_empty_dirs(root, target.parent)
        else:
            assert change.content is not None
            write_atomic(target, change.content)


def _prune_empty_dirs(root: Path, directory: Path) -> None:
    root = root.resolve()
    d = directory.resolve()
    while d != root and root in d.parents:
        try:
            d.rmdir()
        except OSError:
            return
        d = d.parent
