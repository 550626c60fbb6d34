"""``gitops-gen init``: scaffold an estate and commit it on the current branch.

Refused before anything is written (``.git`` included) when a commit would have no author. The commit is
made first, from git objects, on the branch HEAD names (``--revision`` in a new repository); then the
files are written into the work tree and the index, journaled. A rerun after any failure finishes the
job: files an interrupted run wrote are committed, files it committed are written. Existing files are
never overwritten.
"""

from __future__ import annotations

from pathlib import Path

import pygit2

from gitops_gen import gitrepo
from gitops_gen.commands.common import FlagOf, flag_error
from gitops_gen.errors import GitError, GitopsGenError
from gitops_gen.estate import layout
from gitops_gen.estate.load import load_clusters, load_config
from gitops_gen.estate.model import EstateConfig, parse_config
from gitops_gen.generate.files import shared_files
from gitops_gen.generate.scaffold import GITIGNORE, GITLAB_CI, gitignore_text, gitlab_ci, scaffold_files
from gitops_gen.write import worktree
from gitops_gen.write.lock import estate_lock
from gitops_gen.write.plan import Plan, plan_files
from gitops_gen.write.transaction import ChangeResult, EstateRepo, finish_interrupted, kept_notes, preflight

MESSAGE = "Initialise gitops-gen estate"
#: The gitops-gen.yaml fields init's flags set.
INIT_FLAGS = (FlagOf(r"repo\.url", "--repo-url"), FlagOf(r"repo\.revision", "--revision"),
              FlagOf(r"workflowgen\.version", "--workflowgen-version"), FlagOf(r"secrets\.mode", "--secrets"))


def _desired(path: Path, repo_url: str, revision: str, workflowgen_version: str,
             secrets_mode: str, with_gitlab_ci: bool = False) -> dict[str, str]:
    if (path / layout.CONFIG_FILE).is_file():
        config = load_config(path)
    else:
        config = EstateConfig(repo_url=repo_url, revision=revision, workflowgen_version=workflowgen_version,
                              secrets_mode=secrets_mode)
        # Round-trip through the parser: the flags get the same validation as the file would, and an error
        # names the flag that set the field, not a gitops-gen.yaml that does not exist yet.
        try:
            config = parse_config(layout.CONFIG_FILE, scaffold_files(config)[layout.CONFIG_FILE])
        except GitopsGenError as exc:
            raise flag_error(exc, layout.CONFIG_FILE, INIT_FLAGS) from None
    desired = scaffold_files(config)
    # CI keeps validate's caches in the work tree (validate --cache-dir): never a change to commit.
    desired[GITIGNORE] = gitignore_text()
    if with_gitlab_ci:
        desired[GITLAB_CI] = gitlab_ci()
    desired.update(shared_files(config, load_clusters(path) if path.is_dir() else {}))
    return desired


def init_estate(path: Path, repo_url: str, revision: str = "main", workflowgen_version: str = "10.3.1",
                secrets_mode: str = "external-secrets", dry_run: bool = False,
                commit: bool = True, with_gitlab_ci: bool = False) -> ChangeResult:
    """Scaffold an estate at ``path`` (git init if needed). Idempotent: existing files are kept.
    ``with_gitlab_ci`` adds ``.gitlab-ci.yml``, the GitLab pipeline of the same checks as the GitHub workflow
    (also on an estate initialised before)."""
    gitrepo.check_branch_name(revision, "--revision")
    if commit and not dry_run:
        gitrepo.check_identity(path)  # before the first file, .git included
    repo = gitrepo.discover(path)
    if repo is not None and (repo.is_bare or repo.workdir is None):
        gitrepo.open_repo(path)  # raises: a bare repository has no work tree
    if repo is not None:
        er = EstateRepo(repo, path.resolve(), gitrepo.prefix_in_repo(repo, path))
        if commit and repo.head_is_detached:
            raise GitError("HEAD is detached: init commits the scaffold on the current branch",
                           "switch to a branch first (git switch -c main)")
        head_ref = None if repo.head_is_detached else repo.references["HEAD"].target
        preflight(er, None, need_identity=False)
        gitrepo.refuse_git_locks(repo, [str(head_ref)] if head_ref else [])
    desired = _desired(path, repo_url, revision, workflowgen_version, secrets_mode, with_gitlab_ci)
    result = ChangeResult(_created(path, desired), dry_run=dry_run, message=MESSAGE)
    if dry_run:
        return result
    path.mkdir(parents=True, exist_ok=True)
    if repo is None:
        repo = pygit2.init_repository(str(path), initial_head=revision)
    er = EstateRepo(repo, path.resolve(), gitrepo.prefix_in_repo(repo, path))
    with estate_lock(er.cache_dir):
        result.notes += finish_interrupted(er)
        plan = _created(path, desired)
        result.plan = plan
        if commit:
            _commit(er, desired, plan, result)
        elif not plan.empty:
            changes = [worktree.FileChange(er.prefix + c.path, None, str(repo.create_blob(str(c.content).encode())))
                       for c in plan.changes]
            result.notes += kept_notes(worktree.apply(repo, "init", changes))
    return result


def _created(path: Path, desired: dict[str, str]) -> Plan:
    """The files init writes: those missing. It never overwrites a file somebody changed; 'generate'
    reports and fixes derived ones."""
    plan = plan_files(path, desired)
    plan.changes = [c for c in plan.changes if c.action == "create"]
    return plan


def _commit(er: EstateRepo, desired: dict[str, str], plan: Plan, result: ChangeResult) -> None:
    repo = er.repo
    ref = str(repo.references["HEAD"].target)
    parent = None if repo.head_is_unborn else repo.head.peel(pygit2.Commit)
    head_tree = parent.tree if parent is not None else None
    created = {c.path for c in plan.changes}
    changes: dict[str, bytes] = {}
    for rel, text in desired.items():
        data = text.encode("utf-8")
        repo_path = er.prefix + rel
        in_head = _blob(head_tree, repo_path)
        if in_head is not None and bytes(repo[in_head].peel(pygit2.Blob).data) == data:
            continue
        # What this run creates, and what an interrupted run created but did not commit (the same bytes).
        if rel in created or (in_head is None and worktree.blob_id_of(er.workdir / repo_path)
                              == str(pygit2.hash(data))):
            changes[repo_path] = data
    result.branch = ref.removeprefix("refs/heads/")
    if changes:
        sig = gitrepo.signature(repo)
        tree = gitrepo.tree_with(repo, head_tree, dict(changes))
        oid = repo.create_commit(None, sig, sig, MESSAGE, tree, [parent.id] if parent is not None else [])
        current = None if repo.head_is_unborn else repo.head.target
        if current != (parent.id if parent is not None else None):
            raise GitError(f"{ref} moved while init ran", "run gitops-gen init again")
        repo.references.create(ref, oid, force=True)
        result.commit = str(oid)
    # The work tree and the index follow the commit: the files missing from the work tree are written, and
    # every file committed now gets its index entry (an interrupted run may have written it, never staged it).
    entries: dict[str, worktree.FileChange] = {}
    for c in plan.changes:
        data = str(c.content).encode("utf-8")
        # The commit wrote the blob already, unless HEAD held this content before.
        blob = str(pygit2.hash(data)) if er.prefix + c.path in changes else str(repo.create_blob(data))
        entries[er.prefix + c.path] = worktree.FileChange(er.prefix + c.path, None, blob)
    for repo_path, data in changes.items():
        if repo_path not in entries:
            blob = str(pygit2.hash(data))
            entries[repo_path] = worktree.FileChange(repo_path, blob, blob)
    if entries:
        result.notes += kept_notes(worktree.apply(repo, "init", list(entries.values()), index=True))


def _blob(tree: pygit2.Tree | None, path: str) -> pygit2.Oid | None:
    if tree is None:
        return None
    try:
        entry = tree[path]
    except KeyError:
        return None
    return entry.id if isinstance(entry, pygit2.Blob) else None
