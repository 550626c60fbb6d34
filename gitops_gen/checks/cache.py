"""Caches of checks under ``.git/gitops-gen``: entries by name, each valid only under the key it was made
with. Never committed; unreadable or of another version, a cache is empty and only costs time."""

from __future__ import annotations

import contextlib
import json
from pathlib import Path
from typing import Any

from gitops_gen.atomic import write_atomic

_CACHE_VERSION = 1


class KeyedCache:
    """Entries by name, each carrying the ``key`` it was made under, in one JSON file of the cache
    directory; a file of another version, unreadable or missing, is an empty cache."""

    FILE = ""

    def __init__(self, directory: Path | None) -> None:
        self.file = directory / self.FILE if directory is not None else None
        self.entries: dict[str, dict[str, Any]] = {}
        self.dirty = False
        if self.file is not None:
            try:
                raw = json.loads(self.file.read_text())
                if raw.get("version") == _CACHE_VERSION:
                    self.entries = raw["entries"]
            except (OSError, ValueError, KeyError, AttributeError):
                self.entries = {}

    def get(self, name: str, key: str) -> dict[str, Any] | None:
        entry = self.entries.get(name)
        return entry if entry is not None and entry.get("key") == key else None

    def put(self, name: str, entry: dict[str, Any]) -> None:
        self.entries[name] = entry
        self.dirty = True

    def save(self) -> None:
        if self.file is not None and self.dirty:
            with contextlib.suppress(OSError):  # a cache that cannot be written only costs time
                write_atomic(self.file, json.dumps({"version": _CACHE_VERSION, "entries": self.entries}))


class FindingsCache(KeyedCache):
    """Per overlay, its findings under a key of its rendered inputs and the rules."""

    FILE = "validate-cache.json"


def file_bytes(root: Path, rel: str) -> bytes:
    try:
        return (root / rel).read_bytes()
    except FileNotFoundError:
        return b""
