"""The one write path: apply a plan to the work tree (atomic writes, only what changed), then commit
exactly its paths on a named branch."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from pathlib import Path

import pygit2

from gitops_gen import gitrepo
from gitops_gen.atomic import write_atomic
from gitops_gen.errors import GitError, UserError
from gitops_gen.write.plan import Plan


@dataclass
class ChangeResult:
    """What a writing command did (or, with dry_run, would do)."""

    plan: Plan
    dry_run: bool = False
    commit: str | None = None
    branch: str | None = None
    message: str | None = None
    extra: dict[str, object] = field(default_factory=dict)

    def as_json(self) -> dict[str, object]:
        return {"dryRun": self.dry_run, "changes": self.plan.as_json(), "commit": self.commit,
                "branch": self.branch, "message": self.message, **self.extra}


def apply_plan(root: Path, plan: Plan) -> None:
    for change in plan.changes:
        target = root / change.path
        if change.action == "delete":
            with contextlib.suppress(FileNotFoundError):
                target.unlink()
            _prune_empty_dirs(root, target.parent)
        else:
            assert change.content is not None
            write_atomic(target, change.content)


def _prune_empty_dirs(root: Path, directory: Path) -> None:
    root = root.resolve()
    d = directory.resolve()
    while d != root and root in d.parents:
        try:
            d.rmdir()
        except OSError:
            return
        d = d.parent


def to_repo_paths(repo: pygit2.Repository, root: Path, paths: list[str]) -> list[str]:
    prefix = gitrepo.prefix_in_repo(repo, root)
    return [prefix + p for p in paths]


def refuse_dirty(repo: pygit2.Repository, root: Path, plan: Plan) -> None:
    dirty = gitrepo.dirty_paths(repo, to_repo_paths(repo, root, plan.paths))
    if dirty:
        shown = "\n    ".join(dirty[:20]) + ("\n    ..." if len(dirty) > 20 else "")
        raise GitError(f"uncommitted changes in files this command would write:\n    {shown}",
                       "commit or stash them first (git stash), then run the command again")


def apply_and_commit(root: Path, plan: Plan, message: str, branch: str | None, commit: bool,
                      dry_run: bool) -> ChangeResult:
    result = ChangeResult(plan, dry_run=dry_run, branch=branch if commit else None, message=message)
    if dry_run or plan.empty:
        return result
    repo = gitrepo.open_repo(root) if commit else gitrepo.discover(root)
    if repo is not None:
        refuse_dirty(repo, root, plan)
    refuse_unmanaged(plan, "the command")
    if commit:
        assert repo is not None
        if repo.head_is_unborn:
            raise GitError("the repository has no commit yet to branch from",
                           "commit the estate first (gitops-gen init commits it for you)")
        if branch is not None and f"refs/heads/{branch}" in repo.references:
            raise GitError(f"branch {branch!r} already exists",
                           f"delete it (git branch -D {branch}) or choose another name with --branch")
        gitrepo.signature(repo)  # fail before writing when git has no identity
    apply_plan(root, plan)
    if commit:
        assert repo is not None
        result.commit = gitrepo.commit_paths(repo, to_repo_paths(repo, root, plan.paths), message, branch)
    return result


def refuse_unmanaged(plan: Plan, command: str) -> None:
    """Commands may overwrite derived files that were hand-edited (generate's job); never
    delete or replace files gitops-gen did not write."""
    unmanaged = [c.path for c in plan.changes if c.reason == "unmanaged"]
    if unmanaged:
        raise UserError("files gitops-gen did not write stand where it writes derived files:\n    "
                        + "\n    ".join(unmanaged),
                        f"move them away, or delete them if they are leftovers, then run {command} again")
