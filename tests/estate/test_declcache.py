"""Parsed declarations kept between runs: the same answers as a fresh parse, an edit parsed again, a planted
cache file never run."""

from __future__ import annotations

import os
import pickle
from collections.abc import Iterator
from pathlib import Path

import pytest

from gitops_gen.errors import DeclarationError
from gitops_gen.estate import declcache, layout
from gitops_gen.estate.load import _parse_tenant, load_estate


@pytest.fixture
def cache_dir(estate: Path) -> Iterator[Path]:
    directory = estate / ".git" / "gitops-gen"
    _parse_tenant.cache_clear()  # other tests parsed the same declarations in this process
    declcache.activate(directory)
    yield directory
    declcache.activate(None)


def test_second_load_reads_the_cache_and_answers_the_same(estate: Path, cache_dir: Path) -> None:
    fresh = load_estate(estate)
    assert (cache_dir / declcache.FILE).is_file()
    _parse_tenant.cache_clear()
    declcache.activate(None)
    declcache.activate(cache_dir)  # a new run
    cache = declcache.active()
    assert cache is not None and len(cache.entries) == len(fresh.tenants)
    again = load_estate(estate)
    assert again.tenants == fresh.tenants
    assert cache.used and not cache.added  # every tenant from the cache, nothing new to write


def test_an_edited_declaration_is_parsed_again(estate: Path, cache_dir: Path) -> None:
    load_estate(estate)
    path = estate / layout.tenant_file("acme")
    path.write_text(path.read_text().replace("webReplicas: 2", "webReplicas: 1"))
    _parse_tenant.cache_clear()
    assert load_estate(estate).tenants["acme"].web_replicas == 1
    path.write_text(path.read_text() + "webReplicas: 1\n")  # a duplicate key: an error every time
    _parse_tenant.cache_clear()
    with pytest.raises(DeclarationError, match="twice"):
        load_estate(estate)


class _Boom:
    def __reduce__(self) -> tuple[object, tuple[str]]:
        return (os.system, ("touch planted",))


def test_a_planted_cache_file_is_never_run(estate: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    directory = estate / ".git" / "gitops-gen"
    directory.mkdir(parents=True, exist_ok=True)
    (directory / declcache.FILE).write_bytes(pickle.dumps({"seed": b"x", "entries": {b"k": _Boom()}}))
    monkeypatch.chdir(tmp_path)
    _parse_tenant.cache_clear()
    declcache.activate(None)
    declcache.activate(directory)
    try:
        cache = declcache.active()
        assert cache is not None and cache.entries == {}
        assert not (tmp_path / "planted").exists()
        assert load_estate(estate).tenants  # parsed afresh, and the cache rewritten
    finally:
        declcache.activate(None)
