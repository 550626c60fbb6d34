"""One writing command at a time per repository.

The lock is an ``flock`` on ``.git/gitops-gen/lock``: the kernel releases it when the process ends, however
it ends (kill -9 included), so a crash never leaves it behind. The holder writes its pid and command line
into the file, so that a second command can say who it waits for.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import os
import sys
import time
from collections.abc import Iterator
from pathlib import Path

from gitops_gen.atomic import is_temporary
from gitops_gen.errors import GitError
from gitops_gen.redact import redact

LOCK_FILE = "lock"
#: How long a second command waits for the first one. GITOPS_GEN_LOCK_WAIT (seconds) overrides it.
DEFAULT_WAIT_S = 5.0


def _wait_s() -> float:
    try:
        return max(0.0, float(os.environ.get("GITOPS_GEN_LOCK_WAIT", DEFAULT_WAIT_S)))
    except ValueError:
        return DEFAULT_WAIT_S


def _holder(fd: int) -> str:
    try:
        raw = os.pread(fd, 4096, 0)
        info = json.loads(raw.decode("utf-8", "replace") or "{}")
        return f"pid {int(info['pid'])}, `{info['command']}`"
    except (OSError, ValueError, KeyError, TypeError):
        return "pid unknown"


@contextlib.contextmanager
def estate_lock(cache_dir: Path, command: str | None = None) -> Iterator[None]:
    """Hold the repository's write lock; wait up to a few seconds for another gitops-gen to finish."""
    cache_dir.mkdir(parents=True, exist_ok=True)
    path = cache_dir / LOCK_FILE
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o666)
    try:
        deadline = time.monotonic() + _wait_s()
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except OSError as exc:
                if exc.errno not in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                    raise
                if time.monotonic() >= deadline:
                    raise GitError(f"another gitops-gen ({_holder(fd)}) is writing this estate",
                                   "wait for it to finish and run the command again; it releases the lock "
                                   "when it ends, even when it is killed") from None
                time.sleep(0.05)
        # Under the lock, a temporary file of ours in the cache directory is a leftover of a killed run.
        for name in os.listdir(cache_dir):
            if is_temporary(name):
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(cache_dir / name)
        shown = redact(command or " ".join(["gitops-gen", *sys.argv[1:]]))
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps({"pid": os.getpid(), "command": shown}).encode(), 0)
        yield
    finally:
        os.close(fd)  # closing the descriptor releases the flock
