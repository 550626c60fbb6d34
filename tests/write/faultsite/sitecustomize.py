"""Fault injection for the write path, loaded by any Python started with this folder on PYTHONPATH.

With GITOPS_GEN_FAULT_AT=N the process kills itself with SIGKILL right before its Nth call of a write-side
primitive: a file created, written, truncated, chmod-ed, renamed or removed, a directory made or removed, a
pygit2 object, reference, index, HEAD or checkout write, or a lock taken. With GITOPS_GEN_FAULT_PAUSE_AT=N it
sleeps GITOPS_GEN_FAULT_PAUSE_S seconds there instead, so a test can start another command while this one is
half-way. With GITOPS_GEN_FAULT_COUNT=FILE it counts the calls and writes the count (and, one per line, which
primitive each was) to FILE at exit.
"""

from __future__ import annotations

import atexit
import builtins
import fcntl
import functools
import io
import os
import signal
import sys
import time
from typing import Any

_AT = int(os.environ.get("GITOPS_GEN_FAULT_AT", "0") or 0)
_PAUSE_AT = int(os.environ.get("GITOPS_GEN_FAULT_PAUSE_AT", "0") or 0)
_PAUSE_S = float(os.environ.get("GITOPS_GEN_FAULT_PAUSE_S", "1") or 1)
_COUNT_FILE = os.environ.get("GITOPS_GEN_FAULT_COUNT")
_calls: list[str] = []


def _hit(name: str) -> None:
    _calls.append(name)
    if _AT and len(_calls) == _AT:
        sys.stdout.flush()
        sys.stderr.flush()
        os.kill(os.getpid(), signal.SIGKILL)
    if _PAUSE_AT and len(_calls) == _PAUSE_AT:
        time.sleep(_PAUSE_S)


def _wrap(owner: Any, attr: str, name: str, when: Any = None) -> None:
    original = getattr(owner, attr)

    @functools.wraps(original)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if when is None or when(*args, **kwargs):
            _hit(name)
        return original(*args, **kwargs)

    setattr(owner, attr, wrapper)


def _writes_os_open(path: Any, flags: int, *args: Any, **kwargs: Any) -> bool:
    return bool(flags & (os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND))


def _writes_open(file: Any, mode: str = "r", *args: Any, **kwargs: Any) -> bool:
    return isinstance(mode, str) and any(c in mode for c in "wax+")


def _install() -> None:
    for attr in ("write", "pwrite", "ftruncate", "fchmod", "chmod", "replace", "rename", "unlink", "remove",
                 "rmdir", "mkdir"):
        _wrap(os, attr, f"os.{attr}")
    _wrap(os, "open", "os.open", _writes_os_open)
    _wrap(builtins, "open", "open", _writes_open)
    io.open = builtins.open
    _wrap(fcntl, "flock", "flock")

    import pygit2

    for attr in ("create_blob", "create_blob_fromworkdir", "create_blob_fromdisk", "create_commit",
                 "create_reference", "create_reference_direct", "create_reference_symbolic", "create_branch",
                 "set_head", "checkout", "checkout_tree", "checkout_head", "checkout_index", "state_cleanup"):
        if hasattr(pygit2.Repository, attr):
            _wrap(pygit2.Repository, attr, f"pygit2.{attr}")
    for attr in ("write", "add", "remove", "add_all", "read_tree", "write_tree"):
        _wrap(pygit2.Index, attr, f"pygit2.Index.{attr}")
    _wrap(pygit2, "init_repository", "pygit2.init_repository")

    original_builder = pygit2.Repository.TreeBuilder

    class _CountedBuilder:
        def __init__(self, inner: Any) -> None:
            self._inner = inner

        def write(self) -> Any:
            _hit("pygit2.TreeBuilder.write")
            return self._inner.write()

        def __getattr__(self, name: str) -> Any:
            return getattr(self._inner, name)

        def __len__(self) -> int:
            return len(self._inner)

    def tree_builder(self: Any, *args: Any) -> Any:
        return _CountedBuilder(original_builder(self, *args))

    pygit2.Repository.TreeBuilder = tree_builder  # type: ignore[method-assign, assignment]


if _AT or _PAUSE_AT or _COUNT_FILE:
    _install()
    if _COUNT_FILE:
        path = _COUNT_FILE

        @atexit.register
        def _report() -> None:
            with io.FileIO(path, "w") as f:  # FileIO: not a counted primitive
                f.write("\n".join([str(len(_calls)), *_calls]).encode() + b"\n")
