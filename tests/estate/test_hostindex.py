"""The host index add-tenant reads: the fast scanner agrees with the YAML parser, the cache
follows edits, and an unreadable tenant.yaml is an error, never 'no hosts'."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pygit2
import pytest
from typer.testing import CliRunner

from gitops_gen import yamlio
from gitops_gen.cli import app
from gitops_gen.estate import layout
from gitops_gen.estate.hostindex import read_tenant_hosts
from gitops_gen.estate.model import DatabaseSpec, HostRoute, Tenant, _scan_plain, quick_hosts, tenant_declaration

VARIANTS = [
    Tenant("a", ("eu-west-1",)),
    Tenant("b", ("eu-west-1", "us-east-1"), (HostRoute("b.example.com", "us-east-1"),
                                              HostRoute("portal.b.example", "eu-west-1"))),
    Tenant("c", ("us-east-1",), (HostRoute("c.example.com", "us-east-1"),),
           database=DatabaseSpec("external", ("10.1.0.0/24", "10.2.0.4/32"), 1444), secret_key="vault/c"),
]


@pytest.mark.parametrize("tenant", VARIANTS, ids=lambda t: t.name)
def test_scanner_agrees_with_the_parser_on_what_gitops_gen_writes(tenant: Tenant) -> None:
    text = yamlio.dump_declaration(tenant_declaration(tenant)).encode()
    doc = yamlio.load(text)
    expected = (doc["name"], [h["host"] for h in doc["hosts"]], [p["cluster"] for p in doc["placements"]])
    assert _scan_plain(text) == expected
    assert quick_hosts(text) == expected


@pytest.mark.parametrize("text", [
    b"name: x\nhosts: [{host: a.example.com}]\nplacements: [{cluster: c}]\n",
    b"name: x\nhosts:\n  - host: 'a.example.com'\nplacements:\n  - cluster: c\n",
    b"name: x\nhosts:\n  - host: a.example.com # old: b.example.com\nplacements:\n  - cluster: c\n",
    b"name: x\nhosts:\n  - &h\n    host: a.example.com\nplacements:\n  - cluster: c\n",
    b"name: x\nhosts:\n\t- host: a.example.com\n",
])
def test_other_styles_fall_back_to_the_parser(text: bytes) -> None:
    assert _scan_plain(text) is None
    try:
        name, hosts, _ = quick_hosts(text)
    except ValueError:
        return  # tabs are not YAML: reported, never read as "no hosts"
    assert name == "x" and hosts == ["a.example.com"]


def test_cache_follows_edits(estate: Path) -> None:
    cache = estate / ".git"
    first = read_tenant_hosts(estate, cache)
    assert first["acme"].hosts == ("acme.wfg.example.com",)
    assert (cache / "gitops-gen" / "host-index.json").is_file()
    path = estate / layout.tenant_file("acme")
    path.write_text(path.read_text().replace("acme.wfg.example.com", "acme2.wfg.example.com"))
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 5_000_000_000))
    assert read_tenant_hosts(estate, cache)["acme"].hosts == ("acme2.wfg.example.com",)


def test_broken_neighbour_blocks_add_tenant(estate: Path) -> None:
    path = estate / layout.tenant_file("acme")
    path.write_text(path.read_text().replace("hosts:\n", "hosts: [\n"))
    args = ["add-tenant", "newco", "--cluster", "eu-west-1", "--host", "acme.wfg.example.com", "--repo", str(estate)]
    # Into the work tree, its broken file is read; committed, the broken file must be on the base branch.
    for extra in (["--no-commit"], []):
        if not extra:
            subprocess.run(["git", "commit", "-qam", "Break acme"], cwd=estate, check=True)
        result = CliRunner().invoke(app, [*args, *extra])
        assert result.exit_code == 2, result.output
        assert "overlays/acme/tenant.yaml" in result.output and "not valid YAML" in result.output
        assert not (estate / "overlays" / "newco").exists()
        assert "gitops-gen/add-tenant-newco" not in pygit2.Repository(str(estate)).branches.local
