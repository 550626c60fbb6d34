"""Atomic replacement of one file: the primitive under every file gitops-gen writes (the work tree,
through ``write/``, and its caches under ``.git/gitops-gen``).

The content goes to a temporary file beside the target, named ``.<name>.<random>.tmp``, which is then
renamed over it: a reader sees the old file or the new one, never half of one. A new file gets the mode
the umask gives any new file (0644 under umask 0022); an existing file keeps its mode. The temporary
file is removed on every error; one left by a killed process is recognised by ``is_temporary``.
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import stat
from pathlib import Path

#: Names of our temporary files: '.<name>.<8 hex digits>.tmp'.
_TEMPORARY = re.compile(r"\.(?P<name>.+)\.[0-9a-f]{8}\.tmp")


def temporary_of(name: str) -> str | None:
    """The file a temporary file of ours was for ('x.yaml' for '.x.yaml.1a2b3c4d.tmp'); None for other names.
    Callers remove one only beside a file gitops-gen writes, when it is not tracked by git."""
    m = _TEMPORARY.fullmatch(name)
    return None if m is None else m.group("name")


def is_temporary(name: str) -> bool:
    return temporary_of(name) is not None


def write_atomic(path: Path, content: str | bytes) -> None:
    data = content.encode("utf-8") if isinstance(content, str) else content
    if not path.parent.is_dir():
        path.parent.mkdir(parents=True, exist_ok=True)
    try:
        mode: int | None = stat.S_IMODE(os.stat(path).st_mode)
    except FileNotFoundError:
        mode = None
    tmp = path.parent / f".{path.name}.{secrets.token_hex(4)}.tmp"
    # 0o666 and the umask decide a new file's mode, as for any program; mkstemp would force 0600.
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o666)
    try:
        try:
            if mode is not None:
                os.fchmod(fd, mode)
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view):]
        finally:
            os.close(fd)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
