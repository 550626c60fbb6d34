"""The one write path. Every writing command goes through it: one at a time, crash-safe, refused before
anything is written when the repository is not in a state to take it.

A committing command (``commit_change``):

1. checks the repository (not bare, no unfinished merge, rebase, cherry-pick, revert or bisect, no git
   lock file left on what it touches, a valid branch name, an author identity);
2. takes the repository lock (``write/lock.py``) and finishes any change a killed gitops-gen left;
3. starts from the estate's default branch: ``origin/<repo.revision>`` when it exists, else the local
   ``<repo.revision>``, whatever is checked out (``--base REF`` names another start);
4. reads the declarations from that commit's tree, and compares the files the command derives with that
   tree (never with the work tree);
5. builds the commit in memory from that tree and the new blobs, and creates the branch with one atomic
   reference update; a rerun finds the branch holding exactly this change and succeeds;
6. only then touches the work tree, and only with ``--checkout``: the switch to the branch is journaled
   (``write/worktree.py``). By default the user's checkout is left as it is.

A command that writes the work tree only (``generate``, ``--no-commit``) compares with the work tree and
applies the journaled change there (``write_work_tree``).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pygit2

from gitops_gen import gitrepo
from gitops_gen.errors import GitError, UserError
from gitops_gen.estate import layout
from gitops_gen.estate.load import load_config
from gitops_gen.estate.model import EstateConfig
from gitops_gen.estate.source import DirectorySource, Source, refuse_symlinks
from gitops_gen.write import worktree
from gitops_gen.write.lock import estate_lock
from gitops_gen.write.plan import Change, Plan, plan_against, plan_files, refuse_immutable
from gitops_gen.write.tree import TreeSource


@dataclass
class ChangeResult:
    """What a writing command did (or, with dry_run, would do)."""

    plan: Plan
    dry_run: bool = False
    commit: str | None = None
    branch: str | None = None
    message: str | None = None
    extra: dict[str, object] = field(default_factory=dict)
    #: What the branch starts from: the ref as given or found ('origin/main') and its commit.
    base: str | None = None
    base_commit: str | None = None
    #: The branch existed already and held exactly this change: nothing was written.
    already: bool = False
    checked_out: bool = False
    #: Notes for the user, e.g. a change a killed gitops-gen left, finished now.
    notes: list[str] = field(default_factory=list)

    def as_json(self) -> dict[str, object]:
        return {"dryRun": self.dry_run, "changes": self.plan.as_json(), "commit": self.commit,
                "branch": self.branch, "message": self.message,
                "base": None if self.base is None else {"ref": self.base, "commit": self.base_commit},
                "alreadyDone": self.already, "checkedOut": self.checked_out, "notes": self.notes, **self.extra}


@dataclass(frozen=True)
class EstateRepo:
    """The repository around an estate root."""

    repo: pygit2.Repository
    root: Path
    #: The estate's directory inside the repository ('' at its top, else ending in '/').
    prefix: str

    @property
    def cache_dir(self) -> Path:
        """Lock and caches, shared by every work tree of the repository (linked ones included)."""
        return gitrepo.common_dir(self.repo) / "gitops-gen"

    @property
    def workdir(self) -> Path:
        return gitrepo.workdir(self.repo)


def open_estate_repo(root: Path) -> EstateRepo:
    repo = gitrepo.open_repo(root)
    return EstateRepo(repo, root, gitrepo.prefix_in_repo(repo, root))


@dataclass(frozen=True)
class Draft:
    """What a command derives from the declarations of its base: files to write, files to remove, the
    commit message."""

    desired: dict[str, str]
    message: str
    removed: tuple[str, ...] = ()
    #: Said to the user whatever happens (e.g. a branch whose hosts could not be checked).
    notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class BranchTarget:
    branch: str
    #: --base REF: what the branch starts from instead of the default branch.
    base: str | None = None
    checkout: bool = False


def refuse_unmanaged(plan: Plan, command: str) -> None:
    """Commands may overwrite derived files that were hand-edited (generate's job); never
    delete or replace files gitops-gen did not write."""
    unmanaged = [c.path for c in plan.changes if c.reason == "unmanaged"]
    if unmanaged:
        raise UserError("files gitops-gen did not write stand where it writes derived files:\n    "
                        + "\n    ".join(unmanaged),
                        f"move them away, or delete them if they are leftovers, then run {command} again")


def refuse_dirty(er: EstateRepo, paths: list[str]) -> None:
    dirty = gitrepo.dirty_paths(er.repo, [er.prefix + p for p in paths])
    if dirty:
        shown = "\n    ".join(dirty[:20]) + ("\n    ..." if len(dirty) > 20 else "")
        raise GitError(f"uncommitted changes in files this command would write:\n    {shown}",
                       "commit or stash them first (git stash), then run the command again")


def _work_tree_config(root: Path) -> EstateConfig | None:
    """The work tree's gitops-gen.yaml, to find the default branch; None when the checkout has none (an
    unrelated branch). A file that is there but wrong is an error, never a silent guess."""
    if not (root / layout.CONFIG_FILE).is_file():
        return None
    return load_config(root)


def _remote_name(root: Path) -> str:
    config = _work_tree_config(root)
    return (config.forge.remote if config is not None else None) or "origin"


def default_branch(root: Path) -> str:
    """``repo.revision`` of the work tree's gitops-gen.yaml: the branch Argo CD and Flux follow."""
    config = _work_tree_config(root)
    return config.revision if config is not None else "main"


def resolve_base(er: EstateRepo, base: str | None) -> tuple[str, pygit2.Commit]:
    """The ref (as shown to the user) and commit a new branch starts from."""
    repo = er.repo
    if base is not None:
        return base, gitrepo.resolve_commit(repo, base)
    revision = default_branch(er.root)
    remote = _remote_name(er.root)
    for ref, shown in ((f"refs/remotes/{remote}/{revision}", f"{remote}/{revision}"),
                       (f"refs/heads/{revision}", revision)):
        if ref in repo.references:
            return shown, repo.references[ref].peel(pygit2.Commit)
    raise GitError(f"there is no branch {revision!r} (repo.revision in gitops-gen.yaml) to start the new branch "
                   f"from, neither {remote}/{revision} nor a local one",
                   f"fetch it (git fetch {remote}), create it, or name the start with --base REF")


def preflight(er: EstateRepo, branch: str | None, need_identity: bool) -> None:
    """Every refusal that needs no lock, checked before anything is written."""
    if branch is not None:
        gitrepo.check_branch_name(branch)
        gitrepo.refuse_ref_clash(er.repo, branch)
    gitrepo.refuse_unfinished_operation(er.repo)
    gitrepo.refuse_git_locks(er.repo, [f"refs/heads/{branch}"] if branch else [])
    if need_identity:
        gitrepo.signature(er.repo)


def finish_interrupted(er: EstateRepo) -> list[str]:
    """Under the lock: complete a journaled change a killed gitops-gen left behind."""
    done = worktree.recover(er.repo)
    if done is None:
        return []
    command, outcome = done
    if outcome.discarded:
        return [f"an interrupted `{command}` left a journal, but HEAD has moved since: it was discarded, "
                "nothing was changed; run that command again if you still want its change"]
    written, deleted = len(outcome.written), len(outcome.deleted)
    note = (f"finished what an interrupted `{command}` left: {written} file{'' if written == 1 else 's'} "
            f"written, {deleted} removed")
    return [note, *kept_notes(outcome)]


def kept_notes(outcome: worktree.Outcome) -> list[str]:
    if not outcome.kept:
        return []
    return [f"changed by someone else meanwhile, so left as they are (check them): {', '.join(outcome.kept)}"]


def _tree_changes(er: EstateRepo, plan: Plan) -> dict[str, bytes | None]:
    return {er.prefix + c.path: (c.content.encode("utf-8") if c.content is not None else None)
            for c in plan.changes}


def _refuse_clashes(er: EstateRepo, source: TreeSource, plan: Plan) -> None:
    """Refuse a symbolic link on a path the commit writes (in the base tree or the work tree), and a
    directory where it writes a file or a file where it needs a directory: the commit would silently replace
    what is committed there."""
    for c in plan.changes:
        if isinstance(source.entry(c.path), pygit2.Tree):  # entry() raises on a link
            raise UserError(f"{c.path} is a directory in {source.label} where gitops-gen writes a file",
                            "move it away on that branch, then run the command again")
        parts = c.path.split("/")
        for i in range(1, len(parts)):
            above = "/".join(parts[:i])
            if isinstance(source.entry(above), pygit2.Blob):
                raise UserError(f"{above} is a file in {source.label} where gitops-gen needs a directory "
                                f"(for {c.path})", "move it away on that branch, then run the command again")
        refuse_symlinks(er.workdir, er.prefix + c.path)


def commit_change(root: Path, command: str, target: BranchTarget,
                  draft: Callable[[Source, EstateRepo, pygit2.Commit], Draft], dry_run: bool = False) -> ChangeResult:
    """Derive a change from the base commit's declarations and commit it on a new branch (see module doc)."""
    er = open_estate_repo(root)
    preflight(er, target.branch, need_identity=not dry_run)
    base_label, base = resolve_base(er, target.base)
    if dry_run:
        return _commit_plan(er, command, target, draft, base_label, base, dry_run=True)
    with estate_lock(er.cache_dir):
        notes = finish_interrupted(er)
        result = _commit_plan(er, command, target, draft, base_label, base, dry_run=False)
        result.notes[:0] = notes
        return result


def _plan_on(er: EstateRepo, draft: Callable[[Source, EstateRepo, pygit2.Commit], Draft], commit: pygit2.Commit,
             label: str, command: str) -> tuple[TreeSource, Draft, Plan]:
    source = TreeSource(er.repo, commit.tree, er.prefix, label)
    d = draft(source, er, commit)
    plan = plan_against(source.read, d.desired)
    plan.changes += [Change(p, "delete", None, "removed") for p in d.removed if source.read(p) is not None]
    refuse_unmanaged(plan, command)
    refuse_immutable(plan, source.read)
    return source, d, plan


def _commit_plan(er: EstateRepo, command: str, target: BranchTarget,
                 draft: Callable[[Source, EstateRepo, pygit2.Commit], Draft], base_label: str,
                 base: pygit2.Commit, dry_run: bool) -> ChangeResult:
    repo = er.repo
    source, d, plan = _plan_on(er, draft, base, f"{base_label} ({str(base.id)[:7]})", command)
    _refuse_clashes(er, source, plan)
    result = ChangeResult(plan, dry_run=dry_run, branch=target.branch, message=d.message, base=base_label,
                          base_commit=str(base.id), notes=list(d.notes))
    if dry_run or plan.empty:
        return result
    ref = f"refs/heads/{target.branch}"
    changes = _tree_changes(er, plan)
    if target.checkout:
        _refuse_checkout_over_changes(er, base, changes, target.branch)
    if ref in repo.references:
        tip = repo.references[ref].peel(pygit2.Commit)
        on_base = _holds(tip, base.tree, changes)
        if on_base or _holds_on_older_base(er, draft, tip, command):
            result.already = True
            result.commit = str(tip.id)
            if not on_base and tip.parents:
                result.base_commit = str(tip.parents[0].id)
                result.notes.append(f"{target.branch} starts from an older {base_label} "
                                    f"({str(tip.parents[0].id)[:7]}); rebase it if it must include what came since")
            if target.checkout:
                _switch(er, command, ref, tip, result)
            return result
        if _holds_below(tip, base, changes):
            result.already = True
            result.commit = str(tip.id)
            result.notes.append(f"{target.branch} holds this change and later commits (a review's, perhaps); "
                                "nothing was written")
            if target.checkout:
                _switch(er, command, ref, tip, result)
            return result
        ours = target.branch.startswith("gitops-gen/")
        raise GitError(f"branch {target.branch!r} already exists and holds other changes "
                       f"(commit {str(tip.id)[:12]}: {tip.message.splitlines()[0] if tip.message else ''})",
                       (f"if it is a leftover of an earlier attempt, delete it (git branch -D {target.branch}); "
                        "otherwise choose another name with --branch") if ours else
                       "choose another name with --branch")
    tree = gitrepo.tree_with(repo, base.tree, changes)
    sig = gitrepo.signature(repo)
    oid = repo.create_commit(None, sig, sig, d.message, tree, [base.id])
    try:
        repo.references.create(ref, oid)
    except (ValueError, OSError, pygit2.AlreadyExistsError, pygit2.GitError) as exc:
        raise GitError(f"cannot create branch {target.branch!r}: {exc}",
                       "another program created it meanwhile; run the command again") from None
    result.commit = str(oid)
    if target.checkout:
        _switch(er, command, ref, repo[oid].peel(pygit2.Commit), result)
    return result


def _holds(tip: pygit2.Commit, base: pygit2.Tree, changes: dict[str, bytes | None]) -> bool:
    """Whether ``tip``'s tree is exactly ``base`` with ``changes``: found without writing an object, so a
    refusal leaves the repository as it was."""
    differ = {d.new_file.path if d.status_char() != "D" else d.old_file.path
              for d in gitrepo.diff_trees(base, tip.tree).deltas}
    if differ != set(changes):
        return False
    for path, data in changes.items():
        try:
            entry = tip.tree[path]
        except KeyError:
            entry = None
        if data is None:
            if entry is not None:
                return False
        elif entry is None or entry.id != pygit2.hash(data):
            return False
    return True


def _holds_below(tip: pygit2.Commit, base: pygit2.Commit, changes: dict[str, bytes | None]) -> bool:
    """Whether a commit between ``base`` and ``tip`` (first parents, at most 100) is exactly this change on
    ``base``: the branch was made by this command, then somebody added commits to it."""
    commit = tip
    for _ in range(100):
        if not commit.parents or commit.id == base.id:
            return False
        parent = commit.parents[0]
        if parent.id == base.id:
            return _holds(commit, base.tree, changes)
        commit = parent
    return False


def _holds_on_older_base(er: EstateRepo, draft: Callable[[Source, EstateRepo, pygit2.Commit], Draft],
                         tip: pygit2.Commit, command: str) -> bool:
    """Whether ``tip`` is this command's change on top of its parent (a base that has moved on since)."""
    if len(tip.parents) != 1:
        return False
    parent = tip.parents[0]
    try:
        _, _, plan = _plan_on(er, draft, parent, str(parent.id)[:7], command)
    except UserError:
        return False
    return not plan.empty and _holds(tip, parent.tree, _tree_changes(er, plan))


def _refuse_checkout_over_changes(er: EstateRepo, base: pygit2.Commit, changes: dict[str, bytes | None],
                                  branch: str) -> None:
    """Before anything is written: --checkout must not overwrite uncommitted changes. The files it would
    change are those that differ between HEAD and the base, and those the commit changes."""
    repo = er.repo
    paths = set(changes)
    if not repo.head_is_unborn:
        head = repo.head.peel(pygit2.Commit)
        if head.id != base.id:
            for d in gitrepo.diff_trees(head.tree, base.tree).deltas:
                paths.update((d.old_file.path, d.new_file.path))
    dirty = gitrepo.dirty_paths(repo, sorted(paths))
    if dirty:
        shown = ", ".join(dirty[:10]) + (" ..." if len(dirty) > 10 else "")
        raise GitError(f"--checkout would overwrite uncommitted changes in: {shown}",
                       f"commit or stash them first (git stash), or drop --checkout and git switch {branch} later")


def _switch(er: EstateRepo, command: str, ref: str, commit: pygit2.Commit, result: ChangeResult) -> None:
    """Check out ``commit``'s branch as ``git switch`` would: only the files that differ between HEAD and
    it change, and the user's changes to other files stay; refused when one of those files has changes."""
    repo = er.repo
    if not repo.head_is_unborn and repo.head.name == ref:
        result.checked_out = True
        return
    old_tree = None if repo.head_is_unborn else repo.head.peel(pygit2.Commit).tree
    changes: list[worktree.FileChange] = []
    for delta in gitrepo.diff_trees(old_tree, commit.tree).deltas:
        old = None if delta.status_char() == "A" else str(delta.old_file.id)
        new = None if delta.status_char() == "D" else str(delta.new_file.id)
        path = delta.new_file.path if new is not None else delta.old_file.path
        executable = delta.new_file.mode == pygit2.GIT_FILEMODE_BLOB_EXECUTABLE
        changes.append(worktree.FileChange(path, old, new, executable))
    dirty = gitrepo.dirty_paths(repo, [c.path for c in changes])
    if dirty:
        shown = ", ".join(dirty[:10]) + (" ..." if len(dirty) > 10 else "")
        raise GitError(f"the branch {result.branch} is committed ({str(commit.id)[:12]}), but --checkout would "
                       f"overwrite uncommitted changes in: {shown}",
                       f"commit or stash them, then git switch {result.branch}")
    outcome = worktree.apply(repo, command, changes, index=True, head=ref)
    result.notes += kept_notes(outcome)
    result.checked_out = True


def write_work_tree(root: Path, command: str, desired: Callable[[Source], dict[str, str]],
                    orphans_under: tuple[str, ...] = (), dry_run: bool = False, check_dirty: bool = False,
                    check: bool = False) -> ChangeResult:
    """Derive files from the work tree's declarations and write them there (``generate``, ``--no-commit``):
    journaled, under the lock; derived files under ``orphans_under`` that nothing derives are removed.

    ``dry_run`` writes nothing at all. ``check`` (generate --check) writes no derived file either, but
    under the lock it finishes a change a killed gitops-gen left and removes our temporary files there."""
    er = open_estate_repo(root)
    if dry_run and not check:
        return _work_tree_plan(er, command, desired, orphans_under, dry_run, check_dirty)
    with estate_lock(er.cache_dir):
        notes = finish_interrupted(er)
        result = _work_tree_plan(er, command, desired, orphans_under, dry_run or check, check_dirty)
        result.notes[:0] = notes
        index = er.repo.index
        index.read(False)
        for rel in result.plan.leftovers:  # a temporary file of ours beside a derived file, never a tracked one
            if er.prefix + rel not in index:
                with contextlib.suppress(FileNotFoundError):
                    (root / rel).unlink()
        if result.plan.empty or dry_run or check:
            return result
        repo = er.repo
        changes: list[worktree.FileChange] = []
        for c in result.plan.changes:
            path = er.prefix + c.path
            new = None if c.content is None else str(repo.create_blob(c.content.encode("utf-8")))
            changes.append(worktree.FileChange(path, worktree.blob_id_of(er.workdir / path), new))
        result.notes += kept_notes(worktree.apply(repo, command, changes))
        return result


def _work_tree_plan(er: EstateRepo, command: str, desired: Callable[[Source], dict[str, str]],
                    orphans_under: tuple[str, ...], dry_run: bool, check_dirty: bool) -> ChangeResult:
    files = desired(DirectorySource(er.root))
    plan = plan_files(er.root, files, orphans_under=orphans_under)
    refuse_immutable(plan, DirectorySource(er.root).read)
    result = ChangeResult(plan, dry_run=dry_run)
    if plan.empty or dry_run:
        return result
    if check_dirty:
        refuse_dirty(er, plan.paths)
    refuse_unmanaged(plan, command)
    return result
