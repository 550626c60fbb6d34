"""The two sides of a diff: a commit's tree, read from git objects, or the work tree on disk.

A side answers two questions with estate-relative paths: what is in a file (``read``) and which files
there are (``files``). Reading a commit never checks anything out: blobs come straight from the object
database, so the user's work tree, index and HEAD are never touched. ``materialize`` copies chosen
files of a side into a scratch directory (for kustomize to build), refusing a destination inside the
user's work tree.
"""

from __future__ import annotations

import bisect
import copy
import functools
import os
import posixpath
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any, Protocol

import pygit2
import yaml

from gitops_gen import yamlio
from gitops_gen.errors import GitError
from gitops_gen.estate import layout
from gitops_gen.render.reach import DiskTree, Kind, ListedTree, Tree

#: Git file modes of the entries a side does not present as files.
_MODE_LINK = 0o120000
_MODE_SUBMODULE = 0o160000
_MAX_LINK_HOPS = 8


class Side(Protocol):
    """One side of a diff: a commit's tree, or the work tree."""

    label: str

    def read(self, path: str) -> bytes | None:
        """The content of the estate-relative file ``path``; None when there is no such file."""
        ...

    def files(self) -> list[str]:
        """Every file, estate-relative, sorted, nothing under a ``.git`` directory."""
        ...


def _clean(path: str) -> str | None:
    """``path`` as a plain estate-relative path, or None when it is empty, absolute or leaves the estate."""
    if not path or path.startswith("/") or "\\" in path:
        return None
    parts = [p for p in path.split("/") if p not in ("", ".")]
    if not parts or any(p == ".." or p == ".git" for p in parts):
        return None
    return "/".join(parts)


class CommitSide:
    """A commit's tree (``rev`` is anything ``git rev-parse`` understands), read from git objects.

    ``prefix`` is the estate's directory inside the repository ('' when the estate is the repository's
    top). A commit in which that directory does not exist is an empty side.
    """

    def __init__(self, repo: pygit2.Repository, rev: str, prefix: str = "") -> None:
        try:
            commit = repo.revparse_single(rev).peel(pygit2.Commit)
        except (KeyError, ValueError, TypeError, pygit2.GitError):
            raise GitError(f"{rev!r} names no commit in this repository",
                           "give a branch, tag or commit, e.g. main, origin/main or a commit id") from None
        self.repo = repo
        self.rev = rev
        self.commit = commit
        self.prefix = prefix.strip("/")
        short = str(commit.id)[:7]
        self.label = short if str(commit.id).startswith(rev.lower()) else f"{rev} ({short})"
        self._tree: pygit2.Tree | None = commit.tree
        if self.prefix:
            try:
                sub = commit.tree[self.prefix]
            except KeyError:
                sub = None
            self._tree = sub if isinstance(sub, pygit2.Tree) else None
        self._entries: dict[str, tuple[pygit2.Oid, int]] | None = None
        self._files: list[str] | None = None
        self._trees: dict[str, pygit2.Tree | None] = {}

    def _index(self) -> dict[str, tuple[pygit2.Oid, int]]:
        """Every blob of the tree: path -> (object id, file mode). Flattened once, in C (pygit2.Index)."""
        if self._entries is None:
            self._entries = {}
            if self._tree is not None:
                index = pygit2.Index()
                index.read_tree(self._tree)
                for entry in index:
                    if entry.mode != _MODE_SUBMODULE and ".git" not in entry.path.split("/"):
                        self._entries[entry.path] = (entry.id, int(entry.mode))
        return self._entries

    def _subtree(self, directory: str) -> pygit2.Tree | None:
        """The tree object of an estate-relative directory ('' for the estate's own), each parsed once: a
        directory of 10,000 tenants is a big object."""
        if directory in self._trees:
            return self._trees[directory]
        found: pygit2.Tree | None = None
        parent, _, name = directory.rpartition("/")
        above = self._tree if not directory else self._subtree(parent)
        if not directory:
            found = above
        elif above is not None:
            try:
                entry = above[name]
            except KeyError:
                entry = None
            if entry is not None and entry.filemode == pygit2.GIT_FILEMODE_TREE:
                obj = self.repo[entry.id]
                found = obj if isinstance(obj, pygit2.Tree) else None
        self._trees[directory] = found
        return found

    def _entry(self, clean: str) -> tuple[pygit2.Oid, int] | None:
        """(object id, mode) of a path, from the tree objects; no link followed."""
        if self._entries is not None:
            return self._entries.get(clean)
        directory, _, name = clean.rpartition("/")
        tree = self._subtree(directory)
        if tree is None:
            return None
        try:
            entry = tree[name]
        except KeyError:
            return None
        return entry.id, int(entry.filemode)

    def read(self, path: str) -> bytes | None:
        clean = _clean(path)
        for _ in range(_MAX_LINK_HOPS):
            if clean is None:
                return None
            found = self._entry(clean)
            if found is None:
                return None
            oid, mode = found
            if mode in (pygit2.GIT_FILEMODE_TREE, _MODE_SUBMODULE):
                return None
            data = bytes(self.repo[oid].peel(pygit2.Blob).data)
            if mode != _MODE_LINK:
                return data
            # A symbolic link: follow it inside the tree, as a checkout would.
            target = data.decode("utf-8", "replace")
            if target.startswith("/"):
                return None
            clean = _clean(posixpath.normpath(posixpath.join(posixpath.dirname(clean), target)))
        return None

    def subdirs(self, rel: str) -> list[str]:
        """Names of the directories directly below ``rel``, sorted, none starting with '.' (estate.Source)."""
        tree = self._subtree(rel.strip("/"))
        if tree is None:
            return []
        return sorted(str(e.name) for e in tree
                      if e.filemode == pygit2.GIT_FILEMODE_TREE and not str(e.name).startswith("."))

    def files_under(self, directory: str) -> list[str]:
        """The files below ``directory``, sorted, without listing the rest of the tree."""
        directory = directory.strip("/")
        if self._files is not None or not directory:
            return files_under(self.files(), directory)
        tree = self._subtree(directory)
        out: list[str] = []
        if tree is None:
            return out
        stack = [(directory, tree)]
        while stack:
            prefix, node = stack.pop()
            for e in node:
                path = f"{prefix}/{e.name}"
                if e.filemode == pygit2.GIT_FILEMODE_TREE:
                    if e.name != ".git":
                        sub = self.repo[e.id]
                        if isinstance(sub, pygit2.Tree):
                            stack.append((path, sub))
                elif e.filemode != _MODE_SUBMODULE and (e.filemode != _MODE_LINK or self.read(path) is not None):
                    out.append(path)
        return sorted(out)

    def tree_id(self, directory: str) -> str | None:
        """The object id of a directory's tree: equal ids, equal content below."""
        tree = self._subtree(directory.strip("/"))
        return None if tree is None else str(tree.id)

    def kind(self, rel: str) -> Kind | None:
        """render.reach's view, from the tree objects: a link that does not lead to a file of the tree is
        'outside' (as ``unresolved_links`` lists them)."""
        if not rel.strip("/"):
            return "dir"
        clean = _clean(rel)
        found = self._entry(clean) if clean is not None else None
        if found is None:
            return None
        mode = found[1]
        if mode == pygit2.GIT_FILEMODE_TREE:
            return "dir"
        if mode == _MODE_SUBMODULE:
            return None
        if mode == _MODE_LINK:
            return "file" if self.read(rel) is not None else "outside"
        return "file"

    def unresolved_links(self) -> list[str]:
        """Symbolic links of the tree that lead outside it, or nowhere."""
        return sorted(p for p, (_oid, mode) in self._index().items() if mode == _MODE_LINK and self.read(p) is None)

    def files(self) -> list[str]:
        if self._files is None:
            entries = self._index()
            # A link to a directory, outside the estate, or dangling is not a file.
            self._files = sorted(p for p, (_oid, mode) in entries.items()
                                 if mode != _MODE_LINK or self.read(p) is not None)
        return list(self._files)


class WorkTreeSide:
    """The files on disk under ``root`` (the estate's directory), nothing under a ``.git`` directory.

    Untracked files count, and so do files git ignores: the side is what is on disk.
    """

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self.label = "work tree"

    def read(self, path: str) -> bytes | None:
        clean = _clean(path)
        if clean is None:
            return None
        target = self.root / clean
        # A link is followed only while it stays inside the estate: a file that resolves outside (a
        # kubeconfig, a key) is never read, so never shown in a review.
        real, top = os.path.realpath(target), os.path.realpath(self.root)
        if real != top and not real.startswith(top + os.sep):
            return None
        try:
            return target.read_bytes() if target.is_file() else None
        except OSError:
            return None

    def files_under(self, directory: str) -> list[str]:
        """The files below ``directory``, sorted, without walking the rest of the work tree."""
        directory = directory.strip("/")
        clean = _clean(directory) if directory else ""
        if clean is None:
            return []
        top = self.root / clean
        if not top.is_dir() or top.is_symlink():
            return []
        out: list[str] = []
        for dirpath, dirnames, filenames in os.walk(top):
            dirnames[:] = [d for d in dirnames if d != ".git"]
            rel = Path(dirpath).relative_to(self.root).as_posix()
            prefix = "" if rel == "." else rel + "/"
            out += [prefix + f for f in filenames if f != ".git" and os.path.isfile(os.path.join(dirpath, f))]
        return sorted(out)

    def files(self) -> list[str]:
        out: list[str] = []
        for dirpath, dirnames, filenames in os.walk(self.root):
            dirnames[:] = [d for d in dirnames if d != ".git"]
            rel = Path(dirpath).relative_to(self.root).as_posix()
            prefix = "" if rel == "." else rel + "/"
            # A dangling link (or a link to a directory) is not a file, as in a commit.
            out += [prefix + f for f in filenames if f != ".git" and os.path.isfile(os.path.join(dirpath, f))]
        return sorted(out)


def tree_of(side: Side) -> Tree:
    """The side as render.reach reads it: a commit by its files and links, the work tree on disk."""
    if isinstance(side, WorkTreeSide):
        return DiskTree(side.root)
    if isinstance(side, CommitSide):
        return side  # looked up in its tree objects: a one-tenant diff never lists 200,000 files
    return ListedTree(side.files(), side.read)


def listing(side: Side, directory: str) -> list[str]:
    """The side's files below ``directory``: from that directory alone where the side can (a commit's tree,
    the work tree), else from the full list."""
    lister = getattr(side, "files_under", None)
    if callable(lister):
        found: list[str] = lister(directory)
        return found
    return files_under(side.files(), directory)


def files_under(files: list[str], directory: str) -> list[str]:
    """The files of the sorted list ``files`` below ``directory`` ('' or '/' for all of them)."""
    directory = directory.strip("/")
    if not directory:
        return list(files)
    prefix = directory + "/"
    start = bisect.bisect_left(files, prefix)
    end = bisect.bisect_left(files, prefix[:-1] + chr(ord("/") + 1))
    return files[start:end]


def _inside(path: Path, root: Path) -> bool:
    try:
        path.relative_to(root)
    except ValueError:
        return False
    return True


def _work_tree_of(side: Side) -> Path | None:
    if isinstance(side, WorkTreeSide):
        return side.root.resolve()
    if isinstance(side, CommitSide) and side.repo.workdir:
        return Path(side.repo.workdir).resolve()
    return None


def materialize(side: Side, paths: Iterable[str], dest: Path) -> None:
    """Write the files ``paths`` of ``side`` (estate-relative; a path ending in '/' means every file below
    that directory, '/' every file) into ``dest``, keeping their relative paths, for kustomize to build.

    A named file the side does not have is skipped. ``dest`` may not lie in the user's work tree (its
    ``.git`` directory excepted): materializing never touches it.
    """
    dest = Path(dest)
    work_tree = _work_tree_of(side)
    resolved = dest.resolve()
    if work_tree is not None and _inside(resolved, work_tree) and not _inside(resolved, work_tree / ".git"):
        raise ValueError(f"refusing to materialize {side.label} into {dest}: it is inside the work tree {work_tree}")
    wanted: list[str] = []
    for raw in paths:
        if raw.endswith("/"):
            wanted += listing(side, raw)
            continue
        clean = _clean(raw)
        if clean is None:
            raise ValueError(f"not an estate-relative file path: {raw!r}")
        wanted.append(clean)
    for rel in sorted(set(wanted)):
        data = side.read(rel)
        if data is None:
            continue
        target = dest / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)


# --------------------------------------------------------------------------- YAML documents of a side

def cluster_of(rel: str) -> str | None:
    parts = rel.split("/")
    return parts[1] if len(parts) > 2 and parts[0] == layout.CLUSTERS_DIR else None


def side_yaml_files(side: Side, *roots: str) -> Iterator[str]:
    """``yaml_files`` of a side, listing only ``roots``."""
    for root in roots:
        yield from yaml_files(listing(side, root), root)


def yaml_files(files: list[str], *roots: str) -> Iterator[str]:
    for root in roots:
        prefix = root + "/"
        i = bisect.bisect_left(files, prefix)
        while i < len(files) and files[i].startswith(prefix):
            if files[i].endswith((".yaml", ".yml", ".json")):
                yield files[i]
            i += 1


@functools.lru_cache(maxsize=65_536)
def _parsed(data: bytes) -> tuple[Any, ...] | None:
    """The documents of a file, parsed once per content: both sides of a diff share most files. None when
    it is not YAML. Callers get deep copies (``docs_of``, ``first_doc_of``), never these objects."""
    try:
        return tuple(yamlio.load_all(data))
    except yaml.YAMLError:
        return None


def docs_of(data: bytes) -> list[Mapping[str, Any]]:
    docs = _parsed(data)
    # not YAML: validate reports it; neither controller applies anything from it
    return [copy.deepcopy(d) for d in docs or () if isinstance(d, Mapping)]


def first_doc_of(data: bytes) -> Any:
    """The first document of a file (None for an empty one); yaml.YAMLError when it is not YAML."""
    docs = _parsed(data)
    if docs is None:
        return next(yamlio.load_all(data), None)  # raises the parser's own error
    return copy.deepcopy(docs[0]) if docs else None
