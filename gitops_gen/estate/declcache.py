"""Parsed tenant declarations kept between runs, by content, in ``.git/gitops-gen/declarations.pickle``.

At 10,000 tenants parsing every ``tenant.yaml`` (YAML, strictness checks, validation) costs seconds; the
files seldom change. An entry is keyed by a hash of the parser's own source, the file's path and its
exact bytes, so an edited file, a moved one or a new gitops-gen version is parsed again. Unpickling is
restricted to the declaration classes: a planted cache file cannot make gitops-gen run anything.
Nothing is cached for a file that fails to parse: its error is raised every time.
"""

from __future__ import annotations

import hashlib
import io
import pickle
from pathlib import Path
from typing import Any

from gitops_gen.atomic import write_atomic

FILE = "declarations.pickle"
#: Entries kept beyond those used by the last run (files seen on other branches, older versions).
_SPARE = 20_000
_ALLOWED = {("gitops_gen.estate.model", n) for n in ("Tenant", "Placement", "HostRoute", "DatabaseSpec", "OidcSettings",
                                                      "EgressRule", "TenantMove")}
_ALLOWED |= {("builtins", n) for n in ("tuple", "frozenset", "set", "dict", "list", "str", "int", "bool")}


class _Unpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        if (module, name) not in _ALLOWED:
            raise pickle.UnpicklingError(f"{module}.{name} is not a declaration class")
        return super().find_class(module, name)


def _fingerprint() -> bytes:
    here = Path(__file__).resolve().parent
    h = hashlib.sha256()
    for path in (here / "model.py", here / "load.py", here.parent / "yamlio.py"):
        h.update(path.read_bytes())
    return h.digest()


class DeclarationCache:
    def __init__(self, directory: Path) -> None:
        self.path = directory / FILE
        self.seed = _fingerprint()
        self.entries: dict[bytes, Any] = {}
        self.used: set[bytes] = set()
        self.added = False
        try:
            data = _Unpickler(io.BytesIO(self.path.read_bytes())).load()
        except (OSError, pickle.UnpicklingError, EOFError, AttributeError, ValueError, TypeError, IndexError):
            return
        if isinstance(data, dict) and data.get("seed") == self.seed and isinstance(data.get("entries"), dict):
            self.entries = data["entries"]

    def key(self, rel: str, text: str) -> bytes:
        return hashlib.sha256(self.seed + rel.encode() + b"\0" + text.encode("utf-8", "surrogatepass")).digest()

    def get(self, key: bytes) -> Any:
        hit = self.entries.get(key)
        if hit is not None:
            self.used.add(key)
        return hit

    def put(self, key: bytes, value: Any) -> None:
        self.entries[key] = value
        self.used.add(key)
        self.added = True

    def save(self) -> None:
        """Write the cache when this run parsed something new; best effort (a read-only .git is fine)."""
        if not self.added:
            return
        keep = {k: v for k, v in self.entries.items() if k in self.used}
        for k, v in self.entries.items():
            if len(keep) >= len(self.used) + _SPARE:
                break
            keep.setdefault(k, v)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            write_atomic(self.path, pickle.dumps({"seed": self.seed, "entries": keep},
                                                 protocol=pickle.HIGHEST_PROTOCOL))
        except OSError:
            return
        self.added = False


_active: DeclarationCache | None = None


def activate(directory: Path | None) -> None:
    """Use the cache in ``directory`` (a repository's ``.git/gitops-gen``) from now on; None: no cache."""
    global _active
    if directory is None:
        _active = None
    elif _active is None or _active.path.parent != directory:
        _active = DeclarationCache(directory)


def active() -> DeclarationCache | None:
    return _active
