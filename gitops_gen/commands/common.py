"""What every command's core shares: finding the estate, its settings, declaration headers."""

from __future__ import annotations

from pathlib import Path

from gitops_gen import gitrepo
from gitops_gen.errors import GitError, UserError
from gitops_gen.estate.load import load_config
from gitops_gen.estate.model import EstateConfig


def resolve_root(repo_opt: Path | None, cwd: Path | None = None) -> Path:
    """The estate root: --repo, or the work tree of the git repository around ``cwd``."""
    if repo_opt is not None:
        if not repo_opt.is_dir():
            raise UserError(f"--repo {repo_opt}: no such directory", "pass the path of an estate repository")
        return repo_opt.resolve()
    start = cwd or Path.cwd()
    repo = gitrepo.discover(start)
    if repo is None:
        raise UserError(f"{start} is not inside a git repository",
                        "run the command inside an estate, or pass --repo PATH")
    if repo.is_bare or repo.workdir is None:
        raise GitError(f"{repo.path} is a bare repository: it has no work tree for an estate",
                       "clone it (git clone) and run gitops-gen in the clone, or pass --repo PATH of a clone")
    return Path(repo.workdir).resolve()


def config_of(root: Path) -> EstateConfig:
    return load_config(root)


def declaration_header(kind: str) -> str:
    return (f"# {kind.capitalize()} declaration, edited by people and by gitops-gen. "
            f"After editing, run 'gitops-gen generate'.\n")


def cache_dir(root: Path) -> Path | None:
    repo = gitrepo.discover(root)
    return Path(repo.path) if repo is not None else None
