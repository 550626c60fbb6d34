"""Which tenant claims which global host: on the commit a new branch starts from, and on the other
``gitops-gen/*`` branches (local and remote-tracking), whose pull requests may merge first.

At the base commit, every ``overlays/<tenant>/tenant.yaml`` is read from git objects. A cache in the git
directory, keyed by each tenant directory's tree id (content-addressed: a changed file changes it), keeps a
repeat read to one lookup per tenant. The cache is never committed and is rebuilt when unreadable.
"""

from __future__ import annotations

import contextlib
import json
from dataclasses import dataclass
from pathlib import Path

import pygit2

from gitops_gen import gitrepo
from gitops_gen.atomic import write_atomic
from gitops_gen.errors import DeclarationError
from gitops_gen.estate import layout
from gitops_gen.estate.hostindex import TenantHosts
from gitops_gen.estate.model import quick_hosts

_VERSION = 1
CACHE_FILE = "host-index-tree.json"
#: Branches whose pull requests gitops-gen opened: a host one of them claims is taken.
BRANCH_PREFIX = "gitops-gen/"


def _hosts_of(rel: str, data: bytes) -> tuple[str | None, list[str], list[str]]:
    try:
        return quick_hosts(data)
    except ValueError as exc:
        # A tenant whose file cannot be read could hold any host: refuse to guess.
        raise DeclarationError(rel, f"is not valid YAML ({exc})", None,
                               "fix it first; 'gitops-gen generate --check' shows where") from None


def tenant_hosts_at(repo: pygit2.Repository, tree: pygit2.Tree, prefix: str,
                    cache_dir: Path | None) -> dict[str, TenantHosts]:
    """Every tenant's global hosts and placements in ``tree``, by tenant directory name."""
    try:
        overlays = tree[prefix + layout.OVERLAYS_DIR]
    except KeyError:
        return {}
    if not isinstance(overlays, pygit2.Tree):
        return {}
    cache_path = cache_dir / CACHE_FILE if cache_dir is not None else None
    cached: dict[str, list[object]] = {}
    if cache_path is not None:
        try:
            raw = json.loads(cache_path.read_text())
            if raw.get("version") == _VERSION:
                cached = raw["entries"]
        except (OSError, ValueError, KeyError, AttributeError):
            cached = {}
    entries: dict[str, list[object]] = {}
    out: dict[str, TenantHosts] = {}
    changed = False
    for child in overlays:
        name = child.name
        if name is None or child.filemode != pygit2.GIT_FILEMODE_TREE:
            continue
        key = str(child.id)
        hit = cached.get(name)
        if hit is not None and hit[0] == key:
            entry = hit
        else:
            sub = repo[child.id].peel(pygit2.Tree)
            if "tenant.yaml" not in sub:
                continue
            blob = repo[sub["tenant.yaml"].id].peel(pygit2.Blob)
            tname, hosts, placements = _hosts_of(layout.tenant_file(name), bytes(blob.data))
            entry = [key, tname or name, hosts, placements]
            changed = True
        entries[name] = entry
        out[name] = TenantHosts(str(entry[1]), tuple(entry[2]), tuple(entry[3]))  # type: ignore[arg-type]
    if cache_path is not None and (changed or len(entries) != len(cached)):
        with contextlib.suppress(OSError):  # a cache that cannot be written only costs time
            write_atomic(cache_path, json.dumps({"version": _VERSION, "entries": entries}))
    return out


@dataclass(frozen=True)
class BranchClaim:
    host: str
    tenant: str
    branch: str  #: 'gitops-gen/add-tenant-x' or 'origin/gitops-gen/add-tenant-x'


def _gitops_gen_branches(repo: pygit2.Repository) -> list[tuple[str, pygit2.Oid]]:
    out: list[tuple[str, pygit2.Oid]] = []
    for name in repo.references:
        if name.startswith("refs/heads/" + BRANCH_PREFIX):
            shown = name.removeprefix("refs/heads/")
        elif name.startswith("refs/remotes/") and f"/{BRANCH_PREFIX}" in name:
            remote_branch = name.removeprefix("refs/remotes/")
            if not remote_branch.split("/", 1)[1].startswith(BRANCH_PREFIX):
                continue
            shown = remote_branch
        else:
            continue
        try:
            out.append((shown, repo.references[name].peel(pygit2.Commit).id))
        except (KeyError, ValueError, pygit2.GitError):
            continue
    return sorted(out)


def claims_on_branches(repo: pygit2.Repository, base: pygit2.Commit, prefix: str,
                       skip: set[str]) -> list[BranchClaim]:
    """Hosts that ``gitops-gen/*`` branches add to a tenant.yaml, against their merge base with ``base``.
    Branches named in ``skip`` (the command's own, on a rerun) are left out."""
    claims: list[BranchClaim] = []
    wanted = prefix + layout.OVERLAYS_DIR + "/"
    for shown, tip in _gitops_gen_branches(repo):
        local = shown.split("/", 1)[1] if not shown.startswith(BRANCH_PREFIX) else shown
        if shown in skip or local in skip or tip == base.id:
            continue
        merge_base = repo.merge_base(tip, base.id)
        old_tree = repo[merge_base].peel(pygit2.Commit).tree if merge_base is not None else None
        new_tree = repo[tip].peel(pygit2.Commit).tree
        for delta in gitrepo.diff_trees(old_tree, new_tree).deltas:
            path = delta.new_file.path
            if not (path.startswith(wanted) and path.endswith("/tenant.yaml")
                    and path.count("/") == 2 + prefix.count("/")):
                continue
            if delta.status_char() not in ("A", "M"):
                continue
            before: set[str] = set()
            if delta.status_char() == "M":
                before = set(_hosts_of(path, bytes(repo[delta.old_file.id].peel(pygit2.Blob).data))[1])
            tname, hosts, _ = _hosts_of(path, bytes(repo[delta.new_file.id].peel(pygit2.Blob).data))
            tenant = tname or path.split("/")[-2]
            claims += [BranchClaim(h, tenant, shown) for h in hosts if h not in before]
    return claims
