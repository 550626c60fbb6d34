"""Where declarations are read from: a directory on disk, or (through ``write/``) a commit's tree.

A source answers with estate-relative paths. Declarations and the files derived from them are never
symbolic links: a link could make gitops-gen read or write outside the repository (``overlays/evil ->
/somewhere``), so a link on any path a command reads or writes is refused, naming it.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Protocol

from gitops_gen.errors import UserError


class Source(Protocol):
    """The files of an estate, estate-relative."""

    #: Shown in messages: 'the work tree', or a commit ('origin/main (abc1234)').
    label: str

    def read(self, rel: str) -> bytes | None:
        """The content of the file ``rel``; None when there is none."""
        ...

    def subdirs(self, rel: str) -> list[str]:
        """Names of the directories directly below ``rel``, sorted, none starting with '.'."""
        ...


def symlink_error(rel: str, where: str = "the work tree") -> UserError:
    return UserError(f"{rel} is a symbolic link in {where}",
                     "gitops-gen reads and writes only real files and directories inside the repository: "
                     "replace the link with the directory or file it stands for, or remove it")


def refuse_symlinks(root: Path, rel: str) -> None:
    """Raise if any component of ``root/rel`` (below ``root``) is a symbolic link; absent parts are fine."""
    current = root
    done: list[str] = []
    for part in rel.split("/"):
        if not part:
            continue
        current = current / part
        done.append(part)
        try:
            mode = os.lstat(current).st_mode
        except (FileNotFoundError, NotADirectoryError):
            return
        if stat.S_ISLNK(mode):
            raise symlink_error("/".join(done))


class DirectorySource:
    """The estate's files on disk under ``root``."""

    label = "the work tree"

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self._top = str(self.root)
        #: Directories (estate-relative) seen to be real directories, not links: an estate of 10,000 tenants
        #: reads 10,000 files under one 'overlays'.
        self._real_dirs: set[str] = set()

    def _check_dirs(self, rel: str) -> None:
        parent = rel.rpartition("/")[0]
        if not parent or parent in self._real_dirs:
            return
        done: list[str] = []
        for part in parent.split("/"):
            if not part:
                continue
            done.append(part)
            sub = "/".join(done)
            if sub in self._real_dirs:
                continue
            try:
                mode = os.lstat(os.path.join(self._top, sub)).st_mode
            except (FileNotFoundError, NotADirectoryError):
                return
            if stat.S_ISLNK(mode):
                raise symlink_error(sub)
            if stat.S_ISDIR(mode):
                self._real_dirs.add(sub)

    def read(self, rel: str) -> bytes | None:
        self._check_dirs(rel)
        if not hasattr(os, "O_NOFOLLOW"):
            refuse_symlinks(self.root, rel)  # no O_NOFOLLOW (Windows): check the file itself first
        try:
            # O_NOFOLLOW: a link as the file itself fails to open (ELOOP) instead of being followed.
            fd = os.open(os.path.join(self._top, rel), os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
        except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
            return None
        except OSError:
            refuse_symlinks(self.root, rel)  # names the link
            raise
        try:
            if stat.S_ISDIR(os.fstat(fd).st_mode):
                return None
            with os.fdopen(fd, "rb", closefd=False) as f:
                return f.read()
        finally:
            os.close(fd)

    def subdirs(self, rel: str) -> list[str]:
        refuse_symlinks(self.root, rel)
        names: list[str] = []
        try:
            entries = list(os.scandir(self.root / rel))
        except (FileNotFoundError, NotADirectoryError):
            return []
        for e in entries:
            if e.name.startswith("."):
                continue
            if e.is_symlink():
                raise symlink_error(f"{rel}/{e.name}")
            if e.is_dir(follow_symlinks=False):
                names.append(e.name)
        return sorted(names)


def as_source(where: Path | Source) -> Source:
    return DirectorySource(where) if isinstance(where, Path) else where
