"""``gitops-gen init``: scaffold an estate and commit it."""

from __future__ import annotations

from pathlib import Path

import pygit2

from gitops_gen import gitrepo
from gitops_gen.estate import layout
from gitops_gen.estate.load import load_clusters, load_config
from gitops_gen.estate.model import EstateConfig, parse_config
from gitops_gen.generate.files import shared_files
from gitops_gen.generate.scaffold import scaffold_files
from gitops_gen.write.plan import plan_files
from gitops_gen.write.writer import ChangeResult, apply_plan, refuse_dirty, to_repo_paths


def init_estate(path: Path, repo_url: str, revision: str = "main", workflowgen_version: str = "10.3.1",
                secrets_mode: str = "external-secrets", dry_run: bool = False,
                commit: bool = True) -> ChangeResult:
    """Scaffold an estate at ``path`` (git init if needed). Idempotent: existing files are kept."""
    config_path = path / layout.CONFIG_FILE
    if config_path.is_file():
        config = load_config(path)
    else:
        config = EstateConfig(repo_url=repo_url, revision=revision, workflowgen_version=workflowgen_version,
                              secrets_mode=secrets_mode)
        # Round-trip through the parser: the flags get the same validation as the file would.
        config = parse_config(layout.CONFIG_FILE, scaffold_files(config)[layout.CONFIG_FILE])
    desired = {p: t for p, t in scaffold_files(config).items() if not (path / p).exists()}
    desired.update(shared_files(config, load_clusters(path) if path.is_dir() else {}))
    plan = plan_files(path, desired)
    # init never overwrites a file somebody changed; 'generate' reports and fixes derived ones.
    plan.changes = [c for c in plan.changes if c.action == "create"]
    message = "Initialise gitops-gen estate"
    result = ChangeResult(plan, dry_run=dry_run, message=message)
    if dry_run:
        return result
    path.mkdir(parents=True, exist_ok=True)
    repo = gitrepo.discover(path)
    if repo is None:
        repo = pygit2.init_repository(str(path), initial_head=revision)
    if plan.empty:
        return result
    refuse_dirty(repo, path, plan)
    apply_plan(path, plan)
    if commit:
        result.commit = gitrepo.commit_paths(repo, to_repo_paths(repo, path, plan.paths), message, None)
        result.branch = gitrepo.current_branch(repo)
    return result
