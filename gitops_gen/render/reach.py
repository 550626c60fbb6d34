"""What an overlay's build reads, found before kustomize runs.

``kustomize build`` follows every kustomization an overlay reaches: resources, bases and components
(directories or files), patch and generator files, CRD, configuration, OpenAPI and replacement files,
generator and transformer configs. Any of those may be a URL (kustomize fetches it: an HTTP request or
a ``git clone``), a path that leaves the repository (``../../../../etc``, an absolute path), or a
symbolic link to outside it. Helm charts are fetched from a chart repository, and a KRM function runs a
program. Each of these is an ``Escape``; an overlay with one is never built, so nothing from outside the
repository is fetched, read or shown. The kustomization fields read are those of kustomize's
``types.Kustomization`` (sigs.k8s.io/kustomize api/types/kustomization.go) and the path fields of its
builtin generator and transformer configs (api/types/*.go: PatchTransformer.path,
ReplacementTransformer.replacements[].path, generator files/envs/env).

Reading is lexical first, as kustomize does (Go's filepath.Join cleans '..' before any link is followed),
then physical: on disk, a path inside the repository whose real path is outside it escapes too.
"""

from __future__ import annotations

import bisect
import os
import posixpath
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Protocol

import yaml

from gitops_gen import yamlio

Kind = Literal["file", "dir", "outside"]

#: The names kustomize looks for in a directory (api/konfig/general.go RecognizedKustomizationFileNames).
KUSTOMIZATION_FILES = ("kustomization.yaml", "kustomization.yml", "Kustomization")

#: Looks like a remote reference kustomize would fetch: a URL, an scp-like git address, go-getter syntax,
#: or a host name as first path element (github.com/org/repo//dir?ref=v1).
_REMOTE = re.compile(r"^(?:[a-zA-Z][a-zA-Z0-9+.-]*://|[a-zA-Z][a-zA-Z0-9+.-]*::|git@|gh:|file:|"
                     r"[a-zA-Z0-9-]+(?:\.[a-zA-Z0-9-]+)*\.[a-zA-Z]{2,}(?::\d+)?/)")

#: A KRM function's annotations: kustomize runs an exec or container program for them.
_FUNCTION_ANNOTATIONS = ("config.kubernetes.io/function", "config.k8s.io/function")


@dataclass(frozen=True)
class Escape:
    """One reference of a kustomization that reaches outside the repository."""

    file: str       #: the repository-relative file holding the reference
    field: str      #: e.g. 'resources', 'patches[2].path', 'configMapGenerator[0].files'
    reference: str  #: as written
    why: str        #: 'is a URL', 'resolves outside the repository', ...

    def describe(self) -> str:
        return f"{self.file}: {self.field} {self.reference!r} {self.why}"


@dataclass(frozen=True)
class Reach:
    """Every repository file an overlay's build reads, and every reference that leaves the repository."""

    files: frozenset[str]
    escapes: tuple[Escape, ...]


class Tree(Protocol):
    """Files known by repository-relative paths (lexically clean, never '..' or absolute)."""

    def kind(self, rel: str) -> Kind | None:
        """'file' or 'dir' inside the repository (links followed), 'outside' when it resolves outside the
        repository, None when there is nothing there."""
        ...

    def read(self, rel: str) -> bytes | None:
        ...


class DiskTree:
    """A directory on disk; a path whose real path (links followed) is outside the root is 'outside'."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self._real = os.path.realpath(self.root)

    def kind(self, rel: str) -> Kind | None:
        path = os.path.join(self.root, rel) if rel else str(self.root)
        real = os.path.realpath(path)
        if real != self._real and not real.startswith(self._real + os.sep):
            return "outside" if os.path.lexists(path) else None
        if os.path.isdir(real):
            return "dir"
        if os.path.isfile(real):
            return "file"
        return None

    def read(self, rel: str) -> bytes | None:
        if self.kind(rel) != "file":
            return None
        try:
            return (self.root / rel).read_bytes()
        except OSError:
            return None


class ListedTree:
    """A tree known by its sorted file list and a reader (a commit read from git objects, whose links are
    followed inside the tree by the reader): a directory is a prefix of some file."""

    def __init__(self, files: Sequence[str], read: Any, outside: Iterable[str] = ()) -> None:
        self.files = sorted(files)
        self._set = set(self.files)
        self._read = read
        self._outside = set(outside)

    def kind(self, rel: str) -> Kind | None:
        if rel in self._set:
            return "file"
        if rel in self._outside:
            return "outside"
        prefix = rel + "/" if rel else ""
        i = bisect.bisect_left(self.files, prefix)
        if i < len(self.files) and self.files[i].startswith(prefix):
            return "dir"
        return None

    def read(self, rel: str) -> bytes | None:
        data: bytes | None = self._read(rel) if rel in self._set else None
        return data


def _join(directory: str, ref: str) -> str | None:
    """``ref`` relative to ``directory``, lexically cleaned; None when it leaves the repository."""
    if ref.startswith("/") or ref.startswith("\\") or re.match(r"^[A-Za-z]:[\\/]", ref):
        return None
    joined = posixpath.normpath(posixpath.join(directory, ref.replace("\\", "/")))
    if joined == ".":
        return ""
    if joined == ".." or joined.startswith("../") or joined.startswith("/"):
        return None
    return joined


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _as_map(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _is_inline(ref: str) -> bool:
    """A patch, generator or transformer entry written inline (a YAML object) instead of a file name."""
    return "\n" in ref or ref.lstrip().startswith(("{", "apiVersion:", "kind:"))


def _generator_files(gen: Mapping[str, Any], where: str) -> Iterator[tuple[str, str]]:
    """(field, path) of the files a ConfigMap or Secret generator reads."""
    for i, item in enumerate(_as_list(gen.get("files"))):
        text = str(item)
        # 'key=path' names the key; the path is after the first '='.
        yield f"{where}.files[{i}]", text.split("=", 1)[1] if "=" in text else text
    for i, item in enumerate(_as_list(gen.get("envs"))):
        yield f"{where}.envs[{i}]", str(item)
    if gen.get("env"):
        yield f"{where}.env", str(gen["env"])


@dataclass
class _Dir:
    files: set[str] = field(default_factory=set)
    escapes: list[Escape] = field(default_factory=list)
    children: list[str] = field(default_factory=list)


class Reacher:
    """Finds what overlays read; kustomization directories shared by many overlays (the base, its
    components) are read once per ``Reacher``."""

    def __init__(self, tree: Tree) -> None:
        self.tree = tree
        self._dirs: dict[str, _Dir] = {}

    def reach(self, directory: str) -> Reach:
        """What building the kustomization in ``directory`` (repository-relative) reads."""
        files: set[str] = set()
        escapes: list[Escape] = []
        seen: set[str] = set()
        stack = [directory]
        while stack:
            d = stack.pop()
            if d in seen:
                continue
            seen.add(d)
            node = self._dir(d)
            files |= node.files
            escapes += node.escapes
            stack += node.children
        unique = tuple(dict.fromkeys(escapes))
        return Reach(frozenset(files), unique)

    # -- one kustomization directory

    def _dir(self, directory: str) -> _Dir:
        hit = self._dirs.get(directory)
        if hit is not None:
            return hit
        node = _Dir()
        self._dirs[directory] = node
        name = next((n for n in KUSTOMIZATION_FILES
                     if self.tree.kind(posixpath.join(directory, n) if directory else n) is not None), None)
        if name is None:
            return node  # kustomize fails on it and says so; nothing is read
        rel = posixpath.join(directory, name) if directory else name
        if self.tree.kind(rel) == "outside":
            node.escapes.append(Escape(rel, "kustomization", name, "is a link that resolves outside the repository"))
            return node
        node.files.add(rel)
        data = self.tree.read(rel)
        try:
            doc = next(yamlio.load_all(data), None) if data is not None else None
        except yaml.YAMLError:
            return node  # kustomize fails on it and says so
        if isinstance(doc, Mapping):
            self._fields(node, directory, rel, doc)
        return node

    def _ref(self, node: _Dir, directory: str, rel: str, where: str, ref: Any, *,
             may_be_dir: bool, may_be_inline: bool = False) -> None:
        text = str(ref).strip() if ref is not None else ""
        if not text or (may_be_inline and _is_inline(text)):
            if may_be_inline and text:
                self._configs(node, directory, rel, where, text.encode())
            return
        if _REMOTE.match(text) and self.tree.kind(_join(directory, text) or "\0") is None:
            node.escapes.append(Escape(rel, where, text, "is a remote reference: kustomize would fetch it"))
            return
        target = _join(directory, text)
        if target is None:
            node.escapes.append(Escape(rel, where, text, "resolves outside the repository"))
            return
        kind = self.tree.kind(target)
        if kind == "outside":
            node.escapes.append(Escape(rel, where, text, "is a link that resolves outside the repository"))
        elif kind == "dir" and may_be_dir:
            node.children.append(target)
        elif kind == "file":
            node.files.add(target)
            if may_be_inline:  # a generator or transformer config file: its own paths are read too
                data = self.tree.read(target)
                if data is not None:
                    self._configs(node, directory, rel, where, data)
        # Nothing there and not a remote reference: kustomize fails on it and names it; nothing is fetched.

    def _fields(self, node: _Dir, d: str, rel: str, k: Mapping[str, Any]) -> None:
        for key in ("resources", "bases", "components"):
            for i, ref in enumerate(_as_list(k.get(key))):
                self._ref(node, d, rel, f"{key}[{i}]", ref, may_be_dir=True)
        for i, ref in enumerate(_as_list(k.get("patchesStrategicMerge"))):
            if not _is_inline(str(ref)):  # an inline patch reads nothing
                self._ref(node, d, rel, f"patchesStrategicMerge[{i}]", ref, may_be_dir=False)
        for key in ("patches", "patchesJson6902", "replacements"):
            for i, item in enumerate(_as_list(k.get(key))):
                if _as_map(item).get("path") is not None:
                    self._ref(node, d, rel, f"{key}[{i}].path", _as_map(item)["path"], may_be_dir=False)
        for key in ("configMapGenerator", "secretGenerator"):
            for i, gen in enumerate(_as_list(k.get(key))):
                for where, path in _generator_files(_as_map(gen), f"{key}[{i}]"):
                    self._ref(node, d, rel, where, path, may_be_dir=False)
        for key in ("crds", "configurations"):
            for i, ref in enumerate(_as_list(k.get(key))):
                self._ref(node, d, rel, f"{key}[{i}]", ref, may_be_dir=False)
        if _as_map(k.get("openapi")).get("path"):
            self._ref(node, d, rel, "openapi.path", _as_map(k.get("openapi"))["path"], may_be_dir=False)
        for key in ("generators", "transformers", "validators"):
            for i, ref in enumerate(_as_list(k.get(key))):
                self._ref(node, d, rel, f"{key}[{i}]", ref, may_be_dir=True, may_be_inline=True)
        for key in ("helmCharts", "helmChartInflationGenerator"):
            if _as_list(k.get(key)):
                node.escapes.append(Escape(rel, key, str(_as_map(_as_list(k[key])[0]).get("name", "")),
                                           "is a Helm chart: kustomize would fetch it from a chart repository"))
        if _as_map(k.get("helmGlobals")).get("chartHome"):
            self._ref(node, d, rel, "helmGlobals.chartHome", _as_map(k["helmGlobals"])["chartHome"], may_be_dir=True)

    def _configs(self, node: _Dir, d: str, rel: str, where: str, data: bytes) -> None:
        """The paths inside generator and transformer configs (builtin plugins read them relative to the
        kustomization's directory), and the configs that would run a program."""
        try:
            docs = [x for x in yamlio.load_all(data) if isinstance(x, Mapping)]
        except yaml.YAMLError:
            return  # kustomize fails on it and says so
        for doc in docs:
            annotations = _as_map(_as_map(doc.get("metadata")).get("annotations"))
            if any(a in annotations for a in _FUNCTION_ANNOTATIONS):
                node.escapes.append(Escape(rel, where, str(doc.get("kind", "")), "is a KRM function: kustomize would "
                                           "run a program for it"))
            kind = str(doc.get("kind", ""))
            if kind == "HelmChartInflationGenerator":
                node.escapes.append(Escape(rel, where, str(doc.get("name", kind)), "is a Helm chart: kustomize would "
                                           "fetch it from a chart repository"))
            if doc.get("path") is not None:
                self._ref(node, d, rel, f"{where}.path", doc["path"], may_be_dir=False)
            for i, item in enumerate(_as_list(doc.get("replacements"))):
                if _as_map(item).get("path") is not None:
                    self._ref(node, d, rel, f"{where}.replacements[{i}].path", _as_map(item)["path"],
                              may_be_dir=False)
            for sub, path in _generator_files(doc, where):
                self._ref(node, d, rel, sub, path, may_be_dir=False)
