"""Crash-safe changes to the work tree (and, with them, the index and HEAD).

A command that changes several files cannot change them all at once: the kernel renames one file at a
time. So the change is journaled first. The new contents go to the object database as blobs, then
``.git/gitops-gen/journal.json`` lists every path with the content it had (its blob id, or none) and the
content it gets; only then are the files written, each atomically, then the index, then HEAD, and the
journal is removed last. If the process dies on the way, the next writing gitops-gen command finds the
journal (under the repository lock) and finishes the job: a file that already has its new content is left
alone, one that still has its old content is written, and one that has neither (somebody changed it since)
is left as it is and named. Temporary files of the interrupted writes are removed.
"""

from __future__ import annotations

import contextlib
import json
import os
import stat
from dataclasses import dataclass, field
from pathlib import Path

import pygit2

from gitops_gen.atomic import is_temporary, write_atomic
from gitops_gen.estate.source import refuse_symlinks

JOURNAL_FILE = "journal.json"
_VERSION = 1


@dataclass(frozen=True)
class FileChange:
    """One work-tree file, repository-relative: the blob it holds before (None: absent) and after (None:
    deleted)."""

    path: str
    old: str | None
    new: str | None
    executable: bool = False


@dataclass
class Outcome:
    written: list[str] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)
    #: Files changed by somebody else since the journal was written: left as they are.
    kept: list[str] = field(default_factory=list)


def blob_id_of(path: Path) -> str | None:
    """The git blob id of a file on disk; None when there is none (a directory counts as none)."""
    try:
        return str(pygit2.hashfile(str(path))) if path.is_file() else None
    except OSError:
        return None


def _journal_path(cache_dir: Path) -> Path:
    return cache_dir / JOURNAL_FILE


def pending(cache_dir: Path) -> bool:
    return _journal_path(cache_dir).exists()


def apply(repo: pygit2.Repository, cache_dir: Path, command: str, changes: list[FileChange], *,
          index: bool = False, head: str | None = None) -> Outcome:
    """Change the work tree as ``changes`` say (their new blobs must be in the object database), then the
    index entries of those paths (``index``), then HEAD (``head``: a branch's full ref name)."""
    workdir = Path(repo.workdir)
    for c in changes:
        refuse_symlinks(workdir, c.path)
    journal = {"version": _VERSION, "command": command, "index": index, "head": head,
               "changes": [[c.path, c.old, c.new, c.executable] for c in changes]}
    cache_dir.mkdir(parents=True, exist_ok=True)
    write_atomic(_journal_path(cache_dir), json.dumps(journal))
    return _roll_forward(repo, cache_dir, journal)


def recover(repo: pygit2.Repository, cache_dir: Path) -> tuple[str, Outcome] | None:
    """Finish a journaled change a killed gitops-gen left behind: (its command, what was done), or None."""
    path = _journal_path(cache_dir)
    try:
        journal = json.loads(path.read_text())
    except FileNotFoundError:
        return None
    except (OSError, ValueError):
        path.unlink()  # unreadable: it was never complete, so nothing was changed after it
        return None
    if journal.get("version") != _VERSION:
        path.unlink()
        return None
    return str(journal.get("command", "")), _roll_forward(repo, cache_dir, journal)


def _roll_forward(repo: pygit2.Repository, cache_dir: Path, journal: dict[str, object]) -> Outcome:
    workdir = Path(repo.workdir)
    changes = [FileChange(str(p), o, n, bool(x)) for p, o, n, x in journal["changes"]]  # type: ignore[attr-defined]
    outcome = Outcome()
    applied: list[FileChange] = []
    dirs: set[Path] = set()
    for c in changes:
        target = workdir / c.path
        dirs.add(target.parent)
        current = blob_id_of(target)
        if current == c.new:
            applied.append(c)
            continue
        if current != c.old:
            outcome.kept.append(c.path)
            continue
        if c.new is None:
            with contextlib.suppress(FileNotFoundError):
                target.unlink()
            outcome.deleted.append(c.path)
        else:
            write_atomic(target, bytes(repo[pygit2.Oid(hex=c.new)].peel(pygit2.Blob).data))
            if c.executable:
                mode = stat.S_IMODE(os.stat(target).st_mode)
                os.chmod(target, mode | (mode & 0o444) >> 2)
            outcome.written.append(c.path)
        applied.append(c)
    for d in dirs:
        _remove_leftovers(d)
    for c in changes:
        if c.new is None:
            _prune_empty_dirs(workdir, (workdir / c.path).parent)
    if journal.get("index"):
        idx = repo.index
        idx.read(False)
        for c in changes:
            if c.new is None:
                if c.path in idx:
                    idx.remove(c.path)
            elif c.path in outcome.kept:
                # The commit holds the new content; the user's file stays as they changed it.
                mode = pygit2.enums.FileMode.BLOB_EXECUTABLE if c.executable else pygit2.enums.FileMode.BLOB
                idx.add(pygit2.IndexEntry(c.path, pygit2.Oid(hex=c.new), mode))
            else:
                idx.add(c.path)  # from the file just written: the entry carries its stat data
        idx.write()
    head = journal.get("head")
    if isinstance(head, str):
        repo.set_head(head)
    _journal_path(cache_dir).unlink()
    return outcome


def _remove_leftovers(directory: Path) -> None:
    try:
        names = os.listdir(directory)
    except (FileNotFoundError, NotADirectoryError):
        return
    for name in names:
        if is_temporary(name):
            with contextlib.suppress(FileNotFoundError):
                os.unlink(directory / name)


def _prune_empty_dirs(root: Path, directory: Path) -> None:
    root = root.resolve()
    d = directory.resolve()
    while d != root and root in d.parents:
        try:
            d.rmdir()
        except OSError:
            return
        d = d.parent


def remove_leftovers(root: Path, paths: list[str]) -> None:
    """Remove our temporary files left at ``paths`` (estate-relative, under ``root``) by a killed process."""
    for rel in paths:
        name = rel.rsplit("/", 1)[-1]
        if is_temporary(name):
            with contextlib.suppress(FileNotFoundError):
                os.unlink(root / rel)
