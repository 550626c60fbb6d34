"""The one place that runs kustomize: overlays rendered in batches, cached by input hash.

A ``kubectl kustomize`` starts in about 35 ms here, and kustomize then spends about 0.6 ms on each
object, more the more objects a build holds (each one added is checked against those it holds), so
overlays of one cluster are built ten at a time through a throw-away kustomization whose resources are
the overlays, as many builds at a time as there are cores (DOMAIN.md section 5): ten is where a tenant
overlay costs kustomize least (callgrind instruction counts per overlay at 5, 10, 15, 20 overlays per
build: 235, 230, 242, 255 million). Its output is read by ``buildoutput.load_build``.
The output is split back per overlay by namespace: every overlay of a cluster lives in its own
tenant namespace. When a batch fails, or yields an object that cannot be attributed to exactly one
overlay, its overlays are built one by one, so the result is always what a single build of each
overlay gives, and a failing overlay is named.
"""

from __future__ import annotations

import bisect
import contextlib
import functools
import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gitops_gen import yamlio
from gitops_gen.atomic import write_atomic
from gitops_gen.errors import ToolError
from gitops_gen.estate import layout
from gitops_gen.proc import run
from gitops_gen.render.buildoutput import load_build

BATCH_SIZE = 10
#: Go's collector runs at 100 % heap growth by default; a build is short-lived and its heap small,
#: so collecting less often cuts a batch's CPU time by a quarter (measured on 20-overlay batches).
KUSTOMIZE_ENV = {"GOGC": "400"}
Progress = Callable[[int, int], None]


def kustomize_command() -> list[str]:
    """A standalone ``kustomize`` where one is on PATH, else kubectl's built-in one."""
    if shutil.which("kustomize"):
        return ["kustomize", "build"]
    if shutil.which("kubectl"):
        return ["kubectl", "kustomize"]
    raise ToolError("neither kustomize nor kubectl is on PATH",
                    "install kustomize (v5) or kubectl (1.27 or newer, which includes it)")


@functools.cache
def kustomize_version() -> str:
    """Identifies the renderer in cache keys: another kustomize may render differently."""
    cmd = kustomize_command()
    if cmd[0] == "kustomize":
        return "kustomize " + run(["kustomize", "version"]).strip()
    info = json.loads(run(["kubectl", "version", "--client", "-o", "json"]))
    return f"kubectl {info.get('kustomizeVersion', '?')}"


class BuildError(ToolError):
    """kustomize ran and refused an overlay (exit status not 0): the overlay is at fault, not the tool.
    ``detail`` is kustomize's own stderr."""

    def __init__(self, overlay_dir: str, detail: str) -> None:
        super().__init__(f"kustomize build of {overlay_dir} failed:\n{detail}",
                         f"fix the overlay; 'kubectl kustomize {overlay_dir}' reproduces the error")
        self.overlay_dir = overlay_dir
        self.detail = detail


def render_overlay(root: Path, overlay_dir: str) -> str:
    """``kustomize build`` of one overlay; the rendered multi-document YAML."""
    try:
        return run([*kustomize_command(), str(root / overlay_dir)], env=KUSTOMIZE_ENV)
    except ToolError as exc:
        if "failed (exit" not in exc.message:
            raise
        detail = exc.message.split("\n", 1)[1] if "\n" in exc.message else exc.message
        raise BuildError(overlay_dir, detail) from None


# --------------------------------------------------------------------------- input hashing

def _hash_tree(root: Path, rel: str, h: Any) -> None:
    base = root / rel
    if base.is_file():
        h.update(rel.encode() + b"\0" + base.read_bytes() + b"\0")
        return
    for dirpath, dirnames, filenames in os.walk(base):
        dirnames.sort()
        for f in sorted(filenames):
            p = os.path.join(dirpath, f)
            h.update(os.path.relpath(p, root).encode() + b"\0")
            with open(p, "rb") as fh:
                h.update(fh.read() + b"\0")


def walk_order(files: Sequence[str], directory: str) -> list[str]:
    """The paths among ``files`` (sorted) below ``directory`` in the order ``_hash_tree`` reads them from disk
    (``os.walk`` with sorted names): a directory's files, then each subdirectory's, in name order."""
    prefix = directory.strip("/") + "/"

    def order(items: list[str]) -> list[str]:
        out = sorted(p for p in items if "/" not in p)
        subdirs: dict[str, list[str]] = {}
        for p in items:
            if "/" in p:
                head, rest = p.split("/", 1)
                subdirs.setdefault(head, []).append(rest)
        for d in sorted(subdirs):
            out += [f"{d}/{p}" for p in order(subdirs[d])]
        return out

    start = bisect.bisect_left(files, prefix)
    end = bisect.bisect_left(files, prefix[:-1] + chr(ord("/") + 1), start)
    return [prefix + p for p in order([f[len(prefix):] for f in files[start:end]])]


def shared_input_hash_of(files: Sequence[str], read: Callable[[str], bytes | None]) -> str:
    """``shared_input_hash`` of a tree known by its file list and a reader (a commit read from git
    objects): the same key for the same content, so renders cached from a work tree serve it."""
    h = hashlib.sha256(kustomize_version().encode())
    _hash_files(h, walk_order(files, layout.BASE_DIR), read)
    return h.hexdigest()


def overlay_input_hash_of(files: Sequence[str], read: Callable[[str], bytes | None], overlay: str,
                          shared: str, extra: Iterable[str] = ()) -> str:
    h = hashlib.sha256(shared.encode())
    _hash_files(h, walk_order(files, overlay), read)
    _hash_files(h, outside_inputs(overlay, extra), read)
    return h.hexdigest()


def outside_inputs(overlay: str, reached: Iterable[str]) -> list[str]:
    """The files an overlay's build reads beyond the base and its own directory (sorted): they belong in
    its input hash too."""
    own = (layout.BASE_DIR + "/", overlay.rstrip("/") + "/")
    return sorted(p for p in reached if not p.startswith(own))


def _hash_files(h: Any, paths: Iterable[str], read: Callable[[str], bytes | None]) -> None:
    for p in paths:
        data = read(p)
        if data is not None:
            h.update(p.encode() + b"\0" + data + b"\0")


def shared_input_hash(root: Path) -> str:
    """Hash of everything every overlay builds on (the base and its components) and of the renderer."""
    h = hashlib.sha256(kustomize_version().encode())
    _hash_tree(root, layout.BASE_DIR, h)
    return h.hexdigest()


def overlay_input_hash(root: Path, overlay: str, shared: str, extra: Iterable[str] = ()) -> str:
    """Hash of what one overlay's build reads: ``shared``, its directory, and the files in ``extra`` (the
    overlay's reach) outside both."""
    h = hashlib.sha256(shared.encode())
    _hash_tree(root, overlay, h)
    for rel in outside_inputs(overlay, extra):
        _hash_tree(root, rel, h)
    return h.hexdigest()


# --------------------------------------------------------------------------- cache

Docs = list[dict[str, Any]]


class RenderCache:
    """Rendered objects by input hash, in the repository's git directory (never committed).

    Stored as JSON: reading it back is several times faster than parsing YAML.
    """

    def __init__(self, directory: Path | None) -> None:
        self.directory = directory / "render" if directory is not None else None

    def _file(self, key: str) -> Path:
        assert self.directory is not None
        return self.directory / key[:2] / f"{key}.json"

    def has(self, key: str) -> bool:
        return self.directory is not None and self._file(key).is_file()

    def get(self, key: str) -> Docs | None:
        if self.directory is None:
            return None
        try:
            docs = json.loads(self._file(key).read_bytes())
        except (FileNotFoundError, ValueError):
            return None
        return docs if isinstance(docs, list) else None

    def put(self, key: str, docs: Docs) -> None:
        if self.directory is not None:
            with contextlib.suppress(OSError):  # a cache that cannot be written only costs time
                write_atomic(self._file(key), json.dumps(docs, separators=(",", ":")))


# --------------------------------------------------------------------------- batching

@dataclass(frozen=True)
class OverlayRef:
    path: str        # overlays/<tenant>/<cluster>
    tenant: str
    cluster: str
    namespace: str
    key: str         # input hash


def _split(text: str, batch: Sequence[OverlayRef]) -> dict[str, Docs] | None:
    """Objects of a batch build per overlay, or None when one cannot be attributed to exactly one."""
    by_ns = {o.namespace: o.path for o in batch}
    if len(by_ns) != len(batch):
        return None
    out: dict[str, Docs] = {o.path: [] for o in batch}
    for doc in load_build(text):
        meta = doc.get("metadata") or {}
        ns = meta.get("name") if doc.get("kind") == "Namespace" and doc.get("apiVersion") == "v1" \
            else meta.get("namespace")
        if ns not in by_ns:
            return None
        out[by_ns[ns]].append(doc)
    return out


def _build_batch(root: Path, batch: Sequence[OverlayRef], workdir: Path,
                 failed: dict[str, BuildError] | None = None) -> dict[str, Docs]:
    """Rendered objects per overlay: one kustomize build for the whole batch when it can be split.
    With ``failed``, an overlay kustomize refuses is recorded there (and left out) instead of raised."""
    if len(batch) > 1:
        d = Path(tempfile.mkdtemp(dir=workdir))
        resources = [os.path.relpath(root / o.path, d) for o in batch]
        (d / "kustomization.yaml").write_text(yamlio.dump(
            {"apiVersion": "kustomize.config.k8s.io/v1beta1", "kind": "Kustomization", "resources": resources}))
        try:
            text = run([*kustomize_command(), str(d)], env=KUSTOMIZE_ENV)
        except ToolError as exc:
            if "failed (exit" not in exc.message:
                raise
            text = None
        if text is not None:
            split = _split(text, batch)
            if split is not None:
                return split
    # One by one: exact, and names the overlay that fails.
    if failed is None:
        return {o.path: load_build(render_overlay(root, o.path)) for o in batch}
    out: dict[str, Docs] = {}
    for o in batch:
        try:
            out[o.path] = load_build(render_overlay(root, o.path))
        except BuildError as exc:
            failed[o.path] = exc
    return out


def render_overlays(root: Path, overlays: Sequence[OverlayRef], cache: RenderCache, jobs: int | None = None,
                    batch_size: int = BATCH_SIZE, progress: Progress | None = None,
                    on_rendered: Callable[[OverlayRef, Docs], None] | None = None,
                    on_failed: Callable[[OverlayRef, BuildError], None] | None = None) -> dict[str, Docs]:
    """The rendered objects of every overlay; cached ones are not built again.

    ``on_rendered`` is called in this thread for each overlay as soon as its batch is built, so
    checks run while kustomize builds the next batches. Without ``on_failed`` an overlay kustomize
    refuses raises BuildError; with it, that overlay is reported there (in this thread), left out of
    the result, and the others are built.
    """
    result: dict[str, Docs] = {}
    todo: list[OverlayRef] = []
    for o in overlays:
        hit = cache.get(o.key)
        if hit is not None:
            result[o.path] = hit
            if on_rendered:
                on_rendered(o, hit)
        else:
            todo.append(o)
    total, done = len(overlays), len(result)
    if progress:
        progress(done, total)
    if not todo:
        return result
    by_cluster: dict[str, list[OverlayRef]] = {}
    for o in todo:
        by_cluster.setdefault(o.cluster, []).append(o)
    batches = [group[i:i + batch_size] for group in by_cluster.values() for i in range(0, len(group), batch_size)]
    jobs = jobs or os.cpu_count() or 2
    with tempfile.TemporaryDirectory(prefix="gitops-gen-render-") as tmp, \
            ThreadPoolExecutor(max_workers=jobs) as pool:
        failures: dict[int, dict[str, BuildError]] = {i: {} for i in range(len(batches))}
        futures = {pool.submit(_build_batch, root, b, Path(tmp), failures[i] if on_failed else None): (i, b)
                   for i, b in enumerate(batches)}
        for fut in as_completed(futures):
            (index, batch), built = futures[fut], fut.result()
            for o in batch:
                if o.path in failures[index]:
                    assert on_failed is not None
                    on_failed(o, failures[index][o.path])
                    continue
                result[o.path] = built[o.path]
                cache.put(o.key, built[o.path])
                if on_rendered:
                    on_rendered(o, built[o.path])
            done += len(batch)
            if progress:
                progress(done, total)
    return result


def overlays_affected(changed: Iterable[str], placements: Sequence[tuple[str, str]]) -> set[tuple[str, str]]:
    """Placements whose rendered output or checks can change with these paths."""
    affected: set[tuple[str, str]] = set()
    by_tenant: dict[str, list[tuple[str, str]]] = {}
    by_cluster: dict[str, list[tuple[str, str]]] = {}
    for p in placements:
        by_tenant.setdefault(p[0], []).append(p)
        by_cluster.setdefault(p[1], []).append(p)
    for path in changed:
        parts = path.split("/")
        if path == layout.CONFIG_FILE or parts[0] == layout.BASE_DIR:
            return set(placements)  # the base and the estate settings shape every overlay
        if parts[0] == layout.CLUSTERS_DIR and len(parts) == 3 and parts[2] == "cluster.yaml":
            affected.update(by_cluster.get(parts[1], []))
        elif parts[0] == layout.OVERLAYS_DIR and len(parts) >= 3:
            if parts[2] == "tenant.yaml":
                affected.update(by_tenant.get(parts[1], []))
            elif (parts[1], parts[2]) in set(by_tenant.get(parts[1], [])):
                affected.add((parts[1], parts[2]))
    return affected
