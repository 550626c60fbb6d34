"""A commit's tree as the source of an estate's declarations: what a new branch starts from.

Blobs are read straight from the object database: the user's work tree, index and HEAD are never looked at.
"""

from __future__ import annotations

import pygit2

from gitops_gen.estate.source import symlink_error


class TreeSource:
    """The estate's files in ``tree`` (a commit's tree), below ``prefix`` (the estate's directory in the
    repository, '' at its top)."""

    def __init__(self, repo: pygit2.Repository, tree: pygit2.Tree, prefix: str, label: str) -> None:
        self.repo = repo
        self.tree = tree
        self.prefix = prefix
        self.label = label
        #: Trees looked up so far, by repository path: 'overlays' of 10,000 tenants is parsed once.
        self._trees: dict[str, pygit2.Tree] = {"": tree}

    def _tree(self, path: str) -> pygit2.Tree | None:
        """The tree at repository path ``path`` ('' for the root); refuses a symbolic link on the way."""
        if path in self._trees:
            return self._trees[path]
        parent_path, _, name = path.rpartition("/")
        parent = self._tree(parent_path)
        if parent is None or name not in parent:
            return None
        child = parent[name]
        if child.filemode == pygit2.GIT_FILEMODE_LINK:
            raise symlink_error(path[len(self.prefix):], self.label)
        if not isinstance(child, pygit2.Tree):
            return None
        self._trees[path] = child
        return child

    def entry(self, rel: str) -> pygit2.Object | None:
        """The tree entry at ``rel`` (a blob or a tree); refuses a symbolic link on the way."""
        path = "/".join(p for p in (self.prefix + rel).split("/") if p)
        if not path:
            return self.tree
        parent_path, _, name = path.rpartition("/")
        parent = self._tree(parent_path)
        if parent is None or name not in parent:
            return None
        child = parent[name]
        if child.filemode == pygit2.GIT_FILEMODE_LINK:
            raise symlink_error(path[len(self.prefix):], self.label)
        return child

    def read(self, rel: str) -> bytes | None:
        node = self.entry(rel)
        return bytes(self.repo[node.id].peel(pygit2.Blob).data) if isinstance(node, pygit2.Blob) else None

    def blob_id(self, rel: str) -> pygit2.Oid | None:
        node = self.entry(rel)
        return node.id if isinstance(node, pygit2.Blob) else None

    def subdirs(self, rel: str) -> list[str]:
        node = self.entry(rel)
        if not isinstance(node, pygit2.Tree):
            return []
        names: list[str] = []
        for child in node:
            assert child.name is not None
            if child.name.startswith("."):
                continue
            if child.filemode == pygit2.GIT_FILEMODE_LINK:
                raise symlink_error(f"{rel}/{child.name}", self.label)
            if child.filemode == pygit2.GIT_FILEMODE_TREE:
                names.append(child.name)
        return sorted(names)
