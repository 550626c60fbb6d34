"""``generate --check`` without regenerating: a commit whose derived files a full check found up to date,
with the same gitops-gen, stays up to date as long as the work tree holds exactly that commit.

At 10,000 tenants regenerating every derived file to compare costs a minute (YAML for 200,000 files); a
check after nothing changed is then one ``git status`` (C, stat-based) and a lookup. The record
(``.git/gitops-gen/checked.json``) holds the tree ids of the estate directory that a full check passed, per
fingerprint of the generators' and parsers' source; it is written only after a full check found nothing
to change in a clean work tree. Anything else (a modified, untracked or ignored file in the estate, a
journal of an interrupted change, another gitops-gen) takes the full check.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
from pathlib import Path

import pygit2
import yaml

from gitops_gen import __version__, gitrepo
from gitops_gen.atomic import write_atomic
from gitops_gen.write import worktree

FILE = "checked.json"
_KEEP = 64


def _fingerprint() -> str:
    package = Path(__file__).resolve().parent.parent
    h = hashlib.sha256(f"{__version__}\0{yaml.__version__}".encode())
    for folder in ("estate", "generate"):
        for path in sorted((package / folder).glob("*.py")):
            h.update(path.name.encode() + b"\0" + path.read_bytes())
    for name in ("yamlio.py", "write/plan.py", "write/transaction.py", "commands/generate.py"):
        h.update((package / name).read_bytes())
    return h.hexdigest()


def _state(root: Path) -> tuple[pygit2.Repository, Path, str] | None:
    """The repository, its record file and the estate directory's tree id at HEAD; None when HEAD has none."""
    repo = gitrepo.discover(root)
    if repo is None or repo.is_bare or repo.head_is_unborn:
        return None
    prefix = gitrepo.prefix_in_repo(repo, root).strip("/")
    tree = repo.head.peel(pygit2.Commit).tree
    if prefix:
        try:
            sub = tree[prefix]
        except KeyError:
            return None
        if not isinstance(sub, pygit2.Tree):
            return None
        tree = sub
    return repo, Path(repo.path) / "gitops-gen" / FILE, str(tree.id)


def _clean(root: Path) -> bool:
    """Whether ``git status`` sees nothing at all in the estate directory: no modified, staged, untracked or
    ignored file (an ignored derived file would be an orphan to remove)."""
    proc = subprocess.run(["git", "-C", str(root), "status", "--porcelain", "-z", "--untracked-files=all",
                           "--ignored=matching", "--", "."], capture_output=True, check=False)
    if proc.returncode != 0:
        return False
    for entry in proc.stdout.split(b"\0"):
        if not entry:
            continue
        code, path = entry[:2], entry[3:].decode("utf-8", "replace")
        # Ignored files in dot-directories (a CI cache, an editor's folder): generate never looks there.
        if code == b"!!" and any(part.startswith(".") for part in path.split("/")):
            continue
        return False
    return True


def _read(path: Path) -> dict[str, list[str]]:
    try:
        data = json.loads(path.read_bytes())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def already_checked(root: Path) -> bool:
    state = _state(root)
    if state is None:
        return False
    repo, record, tree = state
    if worktree.journal_path(repo).exists():
        return False  # an interrupted change to finish first: the full path does it
    if tree not in _read(record).get(_fingerprint(), []):
        return False
    return _clean(root)


def snapshot(root: Path) -> str | None:
    """HEAD's estate tree id when the work tree holds exactly it (taken before a full check)."""
    state = _state(root)
    return state[2] if state is not None and _clean(root) else None


def remember(root: Path, before: str | None) -> None:
    """After a full check found nothing to change: record HEAD's estate tree, if the work tree held exactly
    that tree before the check (``before``, from ``snapshot``) and still does (no switch meanwhile)."""
    state = _state(root)
    if before is None or state is None or state[2] != before or not _clean(root):
        return
    _repo, record, tree = state
    data = _read(record)
    key = _fingerprint()
    trees = [*[t for t in data.get(key, []) if t != tree][-(_KEEP - 1):], tree]
    try:
        write_atomic(record, json.dumps({key: trees}))  # older fingerprints dropped
    except OSError:
        return
