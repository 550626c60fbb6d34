"""What every command's core shares: finding the estate, its settings, declaration headers."""

from __future__ import annotations

import re
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from pathlib import Path

from gitops_gen import gitrepo
from gitops_gen.errors import GitError, GitopsGenError, UserError
from gitops_gen.estate import declcache
from gitops_gen.estate.load import load_config
from gitops_gen.estate.model import EstateConfig


def resolve_root(repo_opt: Path | None, cwd: Path | None = None) -> Path:
    """The estate root: --repo, or the work tree of the git repository around ``cwd``."""
    if repo_opt is not None:
        if not repo_opt.is_dir():
            raise UserError(f"--repo {repo_opt}: no such directory", "pass the path of an estate repository",
                            field="--repo")
        root = repo_opt.resolve()
        found = gitrepo.discover(root)
        declcache.activate(Path(found.path) / "gitops-gen" if found is not None and not found.is_bare else None)
        return root
    start = cwd or Path.cwd()
    repo = gitrepo.discover(start)
    if repo is None:
        raise UserError(f"{start} is not inside a git repository",
                        "run the command inside an estate, or pass --repo PATH", field="--repo")
    if repo.is_bare or repo.workdir is None:
        raise GitError(f"{repo.path} is a bare repository: it has no work tree for an estate",
                       "clone it (git clone) and run gitops-gen in the clone, or pass --repo PATH of a clone")
    # Parsed declarations are kept in the repository's git directory between runs (estate/declcache.py).
    declcache.activate(Path(repo.path) / "gitops-gen")
    return Path(repo.workdir).resolve()


def config_of(root: Path) -> EstateConfig:
    return load_config(root)


def declaration_header(kind: str) -> str:
    return (f"# {kind.capitalize()} declaration, edited by people and by gitops-gen. "
            f"After editing, run 'gitops-gen generate'.\n")


def cache_dir(root: Path) -> Path | None:
    repo = gitrepo.discover(root)
    return Path(repo.path) if repo is not None else None


# ---------------------------------------------------------------------- errors about declarations built from flags

@dataclass(frozen=True)
class FlagOf:
    """The flag that sets a declaration field, so that an error about a declaration built from flags names
    the flag, not a file that does not exist yet."""

    #: The dotted field (``database.cidrs[0]``), a regular expression matched in full.
    field: str
    flag: str
    #: The hint to give instead of the declaration's (which speaks of YAML fields).
    hint: str | None = None
    #: Where the value comes from when the flag is not given, e.g. 'defaults.size in gitops-gen.yaml'.
    default: str | None = None
    #: For an error that names no field ('unknown cluster ...'): a regular expression matched at its start.
    about: str | None = None


#: '<file>:<line>: field 'x.y' <rest>' (estate/model.py, estate/load.py) or '<file>: <message>'.
_LOCATED = re.compile(r"(?P<file>[^:\s]+)(?::\d+)?: (?:field '(?P<field>[^']+)'(?P<rest>.*)|(?P<plain>.*))", re.S)


def flag_error(exc: GitopsGenError, rel: str, flags: Sequence[FlagOf], given: Collection[str] = ()) -> GitopsGenError:
    """``exc`` about the declaration ``rel`` a command builds from its flags, reworded about the flag that set
    the field at fault (``--database-cidr``, not ``overlays/foo/tenant.yaml:12: field 'database.cidrs'``);
    any other error as it is. ``given``: the flags on the command line (else the value was a default)."""
    m = _LOCATED.fullmatch(exc.message)
    if m is None or m["file"] != rel:
        return exc
    field = m["field"]
    for f in flags:
        if field is not None and re.fullmatch(f.field, field):
            rest = m["rest"]
            break
        if field is None and f.about is not None and re.match(f.about, m["plain"]):
            rest = ": " + m["plain"]
            break
    else:
        return exc
    # Without the flag, the value is the default: say where it comes from.
    subject = f"{f.default} (no {f.flag} given)" if f.default is not None and f.flag not in given else f.flag
    message = f"{subject}{rest}" if rest.startswith(":") else f"{subject} {rest.lstrip()}"
    return UserError(message, f.hint or exc.hint, field=f.flag)
