"""Crash-safe changes to the work tree (and, with them, the index and HEAD).

A command that changes several files cannot change them all at once: the kernel renames one file at a
time. So the change is journaled first. The new contents go to the object database as blobs, then the
journal (``journal.json`` in the work tree's git directory) lists every path with the content it had (its
blob id, or none) and the content it gets, and where HEAD was; only then are the files written, each
atomically, then the index, then HEAD, and the journal is removed last.

If the process dies on the way, the next writing gitops-gen command finds the journal (under the lock) and
finishes the job: a file that already has its new content is left alone, one that still has its old content
is written, and one that has neither (somebody changed it since) is left as it is and named. If HEAD has
moved since the journal was written (the user switched branches or reset), the journal is stale: it is
discarded and nothing is touched. Our temporary files of the interrupted writes are removed.
"""

from __future__ import annotations

import contextlib
import json
import os
import stat
from dataclasses import dataclass, field
from pathlib import Path

import pygit2

from gitops_gen.atomic import temporary_of, write_atomic
from gitops_gen.errors import GitError, GitopsGenError
from gitops_gen.estate.source import refuse_symlinks

JOURNAL_FILE = "journal.json"
_VERSION = 2


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
    #: The journal was stale (HEAD moved since): nothing was done.
    discarded: bool = False


def blob_id_of(path: Path) -> str | None:
    """The git blob id of a file on disk; None when there is none (a directory counts as none)."""
    try:
        return str(pygit2.hashfile(str(path))) if path.is_file() and not path.is_symlink() else None
    except OSError:
        return None


def journal_path(repo: pygit2.Repository) -> Path:
    """Per work tree: a linked work tree (git worktree add) has a git directory of its own."""
    return Path(repo.path) / "gitops-gen" / JOURNAL_FILE


def _head(repo: pygit2.Repository) -> list[str | None]:
    """Where HEAD is: the branch it names (None when detached) and the commit (None when unborn)."""
    ref = repo.references.get("HEAD")
    name = str(ref.target) if ref is not None and isinstance(ref.target, str) else None
    target = None if repo.head_is_unborn else str(repo.head.target)
    return [name, target]


def apply(repo: pygit2.Repository, command: str, changes: list[FileChange], *,
          index: bool = False, head: str | None = None) -> Outcome:
    """Change the work tree as ``changes`` say (their new blobs must be in the object database), then the
    index entries of those paths (``index``), then HEAD (``head``: a branch's full ref name)."""
    workdir = Path(repo.workdir)
    for c in changes:
        refuse_symlinks(workdir, c.path)
    journal = {"version": _VERSION, "command": command, "index": index, "head": head, "from": _head(repo),
               "changes": [[c.path, c.old, c.new, c.executable] for c in changes]}
    path = journal_path(repo)
    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(path, json.dumps(journal))
    return _roll_forward(repo, journal)


def recover(repo: pygit2.Repository) -> tuple[str, Outcome] | None:
    """Finish a journaled change a killed gitops-gen left behind: (its command, what was done), or None."""
    path = journal_path(repo)
    try:
        journal = json.loads(path.read_text())
    except FileNotFoundError:
        return None
    except (OSError, ValueError):
        path.unlink()  # unreadable: it was never complete, so nothing was changed after it
        return None
    command = str(journal.get("command", "")) if isinstance(journal, dict) else ""
    if not isinstance(journal, dict) or journal.get("version") != _VERSION:
        path.unlink()
        return None
    if journal.get("from") != _head(repo):
        path.unlink()  # HEAD moved since: the user has gone on; finishing the old change would surprise them
        return command, Outcome(discarded=True)
    try:
        return command, _roll_forward(repo, journal)
    except (GitopsGenError, OSError, pygit2.GitError) as exc:
        detail = exc.message if isinstance(exc, GitopsGenError) else str(exc)
        raise GitError(f"an interrupted `{command}` left {path}, and it cannot be finished: {detail}",
                       f"fix that and run the command again; or, to give up that change, delete the journal "
                       f"(rm {path}) and check 'git status'") from None


def _roll_forward(repo: pygit2.Repository, journal: dict[str, object]) -> Outcome:
    workdir = Path(repo.workdir)
    changes = [FileChange(str(p), o, n, bool(x)) for p, o, n, x in journal["changes"]]  # type: ignore[attr-defined]
    for c in changes:  # a link placed since would make us write outside the repository
        refuse_symlinks(workdir, c.path)
    outcome = Outcome()
    for c in changes:
        target = workdir / c.path
        current = blob_id_of(target)
        if current == c.new:
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
    remove_leftovers(repo, [c.path for c in changes])
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
    journal_path(repo).unlink()
    return outcome


def remove_leftovers(repo: pygit2.Repository, paths: list[str]) -> None:
    """Remove our temporary files beside ``paths`` (repository-relative files gitops-gen writes): only
    '.<name>.<8 hex>.tmp' for one of those names, and never a file git tracks."""
    workdir = Path(repo.workdir)
    by_dir: dict[str, set[str]] = {}
    for p in paths:
        parent, _, name = p.rpartition("/")
        by_dir.setdefault(parent, set()).add(name)
    index = repo.index
    index.read(False)
    for parent, names in by_dir.items():
        directory = workdir / parent if parent else workdir
        try:
            entries = os.listdir(directory)
        except (FileNotFoundError, NotADirectoryError):
            continue
        for entry in entries:
            rel = f"{parent}/{entry}" if parent else entry
            if temporary_of(entry) in names and rel not in index:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(directory / entry)


def _prune_empty_dirs(root: Path, directory: Path) -> None:
    root = root.resolve()
    d = directory.resolve()
    while d != root and root in d.parents:
        try:
            d.rmdir()
        except OSError:
            return
        d = d.parent
