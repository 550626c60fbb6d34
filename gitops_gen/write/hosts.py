"""Which tenant claims which global host: on the commit a new branch starts from, and on the other
``gitops-gen/*`` branches (local and remote-tracking), whose pull requests may merge first.

At the base commit, each ``overlays/<tenant>/tenant.yaml`` is read from git objects. A cache in the git
directory keeps what was read, by the tree id of each tenant's directory (content-addressed: an edit
changes it) and of ``overlays/`` as a whole, so a repeat with nothing changed reads nothing. When only some
hosts matter (add-tenant asks about its own), a file whose bytes cannot spell them is not parsed (see
``_may_declare``). The cache is never committed and is rebuilt when unreadable.
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

_VERSION = 2
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


def _may_declare(data: bytes, needles: list[bytes]) -> bool:
    """Whether a tenant.yaml could declare one of ``needles`` (hosts, as bytes). A YAML string equal to a
    host spells its bytes, unless it is written with escapes (a backslash, in a double-quoted scalar) or
    the file is UTF-16 or UTF-32 (NUL bytes): such files, and those that spell a needle, are parsed."""
    return b"\\" in data or b"\x00" in data or any(n in data for n in needles)


def _load_cache(path: Path | None) -> dict[str, object]:
    if path is None:
        return {}
    try:
        raw = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return raw if isinstance(raw, dict) and raw.get("version") == _VERSION else {}


def tenant_hosts_at(repo: pygit2.Repository, tree: pygit2.Tree, prefix: str, cache_dir: Path | None,
                    wanted: set[str] | None = None) -> dict[str, TenantHosts]:
    """Every tenant's global hosts and placements in ``tree``, by tenant directory name. With ``wanted``,
    tenants whose files cannot declare any of those hosts may be left out (the caller only asks about them)."""
    try:
        overlays = tree[prefix + layout.OVERLAYS_DIR]
    except KeyError:
        return {}
    if not isinstance(overlays, pygit2.Tree):
        return {}
    cache_path = cache_dir / CACHE_FILE if cache_dir is not None else None
    cached = _load_cache(cache_path)
    entries: dict[str, list[object]] = cached.get("entries", {})  # type: ignore[assignment]
    if cached.get("overlays") == str(overlays.id) and cached.get("complete"):
        return {n: TenantHosts(str(e[1]), tuple(e[2]), tuple(e[3])) for n, e in entries.items()}  # type: ignore[arg-type]
    needles = None if wanted is None else [h.encode() for h in wanted]
    fresh: dict[str, list[object]] = {}
    complete = True
    changed = False
    for child in overlays:
        name = child.name
        if name is None or child.filemode != pygit2.GIT_FILEMODE_TREE:
            continue
        key = str(child.id)
        hit = entries.get(name)
        if hit is not None and hit[0] == key and hit[2] is not None:
            fresh[name] = hit
            continue
        # The tree's entries are its objects already: no lookup by id (10,000 tenants: 0.1 s less).
        sub = child if isinstance(child, pygit2.Tree) else repo[child.id].peel(pygit2.Tree)
        if "tenant.yaml" not in sub:
            continue
        entry = sub["tenant.yaml"]
        if not isinstance(entry, pygit2.Blob):
            raise DeclarationError(layout.tenant_file(name), "is not a file", None,
                                   "a tenant's declaration is a YAML file; fix the base branch")
        data = entry.data
        changed = True
        if needles is not None and not _may_declare(data, needles):
            complete = False  # not read: it holds none of the hosts asked about
            fresh[name] = [key, name, None, None]
            continue
        tname, hosts, placements = _hosts_of(layout.tenant_file(name), data)
        fresh[name] = [key, tname or name, hosts, placements]
    if cache_path is not None and (changed or len(fresh) != len(entries)):
        with contextlib.suppress(OSError):  # a cache that cannot be written only costs time
            write_atomic(cache_path, json.dumps({"version": _VERSION, "overlays": str(overlays.id),
                                                 "complete": complete, "entries": fresh}, separators=(",", ":")))
    return {n: TenantHosts(str(e[1]), tuple(e[2]), tuple(e[3]))  # type: ignore[arg-type]
            for n, e in fresh.items() if e[2] is not None}


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
                       skip: set[str]) -> tuple[list[BranchClaim], list[str]]:
    """Hosts that ``gitops-gen/*`` branches add to a tenant.yaml, against their merge base with ``base``, and
    notes on the branches whose files could not be read. Branches named in ``skip`` (the command's own, on a
    rerun) are left out."""
    claims: list[BranchClaim] = []
    notes: list[str] = []
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
            try:
                before: set[str] = set()
                if delta.status_char() == "M":
                    before = set(_hosts_of(path, bytes(repo[delta.old_file.id].peel(pygit2.Blob).data))[1])
                tname, hosts, _ = _hosts_of(path, bytes(repo[delta.new_file.id].peel(pygit2.Blob).data))
            except (DeclarationError, ValueError, pygit2.GitError) as exc:
                # Its own pull request's checks report it; it cannot block every other tenant's.
                notes.append(f"branch {shown}: {path} cannot be read ({exc}); the hosts it claims were not "
                             "checked")
                continue
            tenant = tname or path.split("/")[-2]
            claims += [BranchClaim(h, tenant, shown) for h in hosts if h not in before]
    return claims, notes
