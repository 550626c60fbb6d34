"""Git work with pygit2: exact-path commits on named branches, never 'add all'."""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path

import pygit2

from gitops_gen import proc
from gitops_gen.errors import GitError

#: Statuses that mean "the work tree or index differs from HEAD" for a path.
_CHANGED = (
    pygit2.GIT_STATUS_INDEX_NEW | pygit2.GIT_STATUS_INDEX_MODIFIED | pygit2.GIT_STATUS_INDEX_DELETED
    | pygit2.GIT_STATUS_INDEX_RENAMED | pygit2.GIT_STATUS_INDEX_TYPECHANGE | pygit2.GIT_STATUS_WT_NEW
    | pygit2.GIT_STATUS_WT_MODIFIED | pygit2.GIT_STATUS_WT_DELETED | pygit2.GIT_STATUS_WT_TYPECHANGE
    | pygit2.GIT_STATUS_WT_RENAMED | pygit2.GIT_STATUS_CONFLICTED
)


def discover(start: Path) -> pygit2.Repository | None:
    """The repository around ``start``; a path that does not exist yet is looked up from its first existing
    parent (``init`` of a new directory inside a repository)."""
    while not start.exists() and start.parent != start:
        start = start.parent
    path = pygit2.discover_repository(str(start))
    return pygit2.Repository(path) if path else None


def open_repo(root: Path) -> pygit2.Repository:
    """The repository whose work tree holds ``root``; refuses a bare repository and no repository at all."""
    repo = discover(root)
    if repo is None:
        raise GitError(f"{root} is not inside a git repository",
                       "run 'gitops-gen init PATH' (it runs git init), or pass --repo PATH of an estate")
    if repo.is_bare or repo.workdir is None:
        raise GitError(f"{repo.path} is a bare repository: it has no work tree for an estate",
                       "clone it (git clone) and run gitops-gen in the clone, or pass --repo PATH of a clone")
    return repo


def common_dir(repo: pygit2.Repository) -> Path:
    """The git directory every work tree of the repository shares: ``.git`` itself, also for a linked work
    tree (``git worktree add``), whose own git directory is ``.git/worktrees/<name>/``. Branches, packed refs
    and gitops-gen's lock live there."""
    git_dir = Path(repo.path)
    pointer = git_dir / "commondir"
    try:
        return (git_dir / pointer.read_text().strip()).resolve()
    except OSError:
        return git_dir


def workdir(repo: pygit2.Repository) -> Path:
    assert repo.workdir is not None
    return Path(repo.workdir)


def prefix_in_repo(repo: pygit2.Repository, root: Path) -> str:
    """The estate root's path inside the repository ('' when it is the top)."""
    rel = root.resolve().relative_to(workdir(repo).resolve()).as_posix()
    return "" if rel == "." else rel + "/"


def dirty_paths(repo: pygit2.Repository, paths: Iterable[str]) -> list[str]:
    """Paths (repository-relative) with uncommitted changes, staged or not."""
    root = workdir(repo)
    index = repo.index
    index.read(False)  # as status_file does: pick up changes made on disk since it was loaded
    head = None if repo.head_is_unborn else repo.head.peel(pygit2.Commit).tree
    dirs: dict[str, pygit2.Tree | None] = {}
    dirty = []
    for p in paths:
        # status_file reads every directory on the path, on disk and in HEAD: milliseconds per path
        # among 10,000 tenants. A path in none of the work tree, the index and HEAD is clean.
        if not os.path.lexists(root / p) and p not in index and not _in_tree(head, p, dirs):
            continue
        try:
            flags = repo.status_file(p)
        except KeyError:  # neither in HEAD, the index nor the work tree
            continue
        if flags & _CHANGED and not flags & pygit2.GIT_STATUS_IGNORED:
            dirty.append(p)
    return dirty


def _in_tree(tree: pygit2.Tree | None, path: str, dirs: dict[str, pygit2.Tree | None]) -> bool:
    """Whether ``path`` is in ``tree``; ``dirs`` keeps the subtrees looked up so far (each is parsed once)."""
    parent, _, name = path.rpartition("/")
    sub = _subtree(tree, parent, dirs)
    return sub is not None and name in sub


def _subtree(tree: pygit2.Tree | None, directory: str, dirs: dict[str, pygit2.Tree | None]) -> pygit2.Tree | None:
    if not directory or tree is None:
        return tree
    if directory not in dirs:
        above, _, name = directory.rpartition("/")
        parent = _subtree(tree, above, dirs)
        entry = parent[name] if parent is not None and name in parent else None
        dirs[directory] = entry if isinstance(entry, pygit2.Tree) else None
    return dirs[directory]


def current_branch(repo: pygit2.Repository) -> str | None:
    if repo.head_is_detached:
        return None
    return str(repo.references["HEAD"].target).removeprefix("refs/heads/")


_IDENTITY_HINT = ("set one: git config --global user.name 'Your Name' && "
                  "git config --global user.email you@example.com")


def signature(repo: pygit2.Repository) -> pygit2.Signature:
    try:
        return repo.default_signature
    except (KeyError, pygit2.GitError):
        raise GitError("git has no author identity for the commit", _IDENTITY_HINT) from None


def check_identity(start: Path) -> None:
    """Refuse before anything is written when a commit would have no author: read the configuration the
    repository around ``start`` would see, or, where there is none yet, the global and system files."""
    repo = discover(start)
    if repo is not None:
        signature(repo)
        return
    name = email = None
    for opener in (pygit2.Config.get_global_config, pygit2.Config.get_xdg_config, pygit2.Config.get_system_config):
        try:
            config = opener()
        except (OSError, KeyError, pygit2.GitError):
            continue
        name = name or _config_value(config, "user.name")
        email = email or _config_value(config, "user.email")
    if not (name and email):
        raise GitError("git has no author identity for the commit", _IDENTITY_HINT)


def _config_value(config: pygit2.Config, key: str) -> str | None:
    try:
        return str(config[key]) if key in config else None
    except (KeyError, pygit2.GitError):
        return None


#: Repository states in which a new branch would carry an unfinished operation, and how to end each.
_STATES = {
    "MERGE": ("a merge", "git merge --continue, or git merge --abort"),
    "REVERT": ("a revert", "git revert --continue, or git revert --abort"),
    "REVERT_SEQUENCE": ("a revert", "git revert --continue, or git revert --abort"),
    "CHERRYPICK": ("a cherry-pick", "git cherry-pick --continue, or git cherry-pick --abort"),
    "CHERRYPICK_SEQUENCE": ("a cherry-pick", "git cherry-pick --continue, or git cherry-pick --abort"),
    "BISECT": ("a bisect", "git bisect reset"),
    "REBASE": ("a rebase", "git rebase --continue, or git rebase --abort"),
    "REBASE_INTERACTIVE": ("a rebase", "git rebase --continue, or git rebase --abort"),
    "REBASE_MERGE": ("a rebase", "git rebase --continue, or git rebase --abort"),
    "APPLY_MAILBOX": ("git am", "git am --continue, or git am --abort"),
    "APPLY_MAILBOX_OR_REBASE": ("a rebase or git am", "git rebase --abort, or git am --abort"),
}


def refuse_unfinished_operation(repo: pygit2.Repository) -> None:
    state = pygit2.enums.RepositoryState(repo.state())
    if state is not pygit2.enums.RepositoryState.NONE:
        what, finish = _STATES.get(state.name, (state.name.lower(), "finish or abort it"))
        raise GitError(f"the repository is in the middle of {what}",
                       f"finish it first ({finish}), then run the command again")


def refuse_git_locks(repo: pygit2.Repository, refs: list[str]) -> None:
    """Refuse when a git lock file is left on what a command would touch: a crashed git leaves them, and
    git (and libgit2) would fail half-way on them."""
    git_dir, shared = Path(repo.path), common_dir(repo)
    # The index and HEAD are the work tree's own; branches and packed refs the repository's.
    candidates = [git_dir / "index.lock", git_dir / "HEAD.lock", shared / "packed-refs.lock",
                  *(shared / f"{r}.lock" for r in refs)]
    found = [c for c in candidates if c.exists()]
    if found:
        shown = " ".join(str(c) for c in found)
        raise GitError(f"git lock file{'s' if len(found) > 1 else ''} left in the repository: {shown}",
                       f"a git command is running or crashed; when none runs (ps, or wait for it), remove "
                       f"{'them' if len(found) > 1 else 'it'}: rm -f {shown}")


def check_branch_name(branch: str, flag: str = "--branch") -> str:
    if (not pygit2.reference_is_valid_name(f"refs/heads/{branch}") or branch.startswith("-") or branch == "HEAD"
            or branch.startswith("refs/")):
        raise GitError(f"{flag} {branch!r} is not a valid git branch name",
                       "git refuses names with '..', spaces, '~', '^', ':', '?', '*', '[', a trailing '.lock' "
                       "or '/', control characters, and the name HEAD; e.g. gitops-gen/add-tenant-acme")
    return branch


def refuse_ref_clash(repo: pygit2.Repository, branch: str) -> None:
    """A branch 'a' and a branch 'a/b' cannot both exist (refs are files and directories)."""
    for name in repo.branches.local:
        if branch.startswith(name + "/") or name.startswith(branch + "/"):
            raise GitError(f"branch {branch!r} cannot be created while branch {name!r} exists (git keeps "
                           "branches as files, so one cannot sit inside the other)",
                           f"choose another name with --branch, or rename {name!r} (git branch -m)")


def resolve_commit(repo: pygit2.Repository, rev: str) -> pygit2.Commit:
    try:
        return repo.revparse_single(rev).peel(pygit2.Commit)
    except (KeyError, ValueError, TypeError, pygit2.GitError):
        raise GitError(f"{rev!r} names no commit in this repository",
                       "give a branch, tag or commit, e.g. main, origin/main or a commit id") from None


def diff_trees(old: pygit2.Tree | None, new: pygit2.Tree) -> pygit2.Diff:
    """The changes from ``old`` (None: the empty tree) to ``new``."""
    return new.diff_to_tree(old, swap=True) if old is not None else new.diff_to_tree(swap=True)


def tree_with(repo: pygit2.Repository, tree: pygit2.Tree | None, changes: Mapping[str, bytes | None]) -> pygit2.Oid:
    """A new tree: ``tree`` with each repository-relative path set to its blob content, or removed when
    None. An existing file keeps its mode (an executable stays executable); a new one is 100644."""
    here: dict[str, bytes | None] = {}
    below: dict[str, dict[str, bytes | None]] = {}
    for path, content in changes.items():
        head, sep, rest = path.partition("/")
        if sep:
            below.setdefault(head, {})[rest] = content
        else:
            here[head] = content
    builder = repo.TreeBuilder(tree) if tree is not None else repo.TreeBuilder()
    for name, content in here.items():
        existing = tree[name] if tree is not None and name in tree else None
        if existing is not None and existing.type_str == "tree" and content is not None:
            raise GitError(f"a directory {name!r} stands where gitops-gen writes a file",
                           "move that directory away on the base branch, then run the command again")
        if content is None:
            if existing is not None:
                builder.remove(name)
        else:
            mode = existing.filemode if existing is not None and existing.filemode in (
                pygit2.GIT_FILEMODE_BLOB, pygit2.GIT_FILEMODE_BLOB_EXECUTABLE) else pygit2.GIT_FILEMODE_BLOB
            builder.insert(name, repo.create_blob(content), mode)
    for name, sub in below.items():
        existing = tree[name] if tree is not None and name in tree else None
        if existing is not None and existing.type_str != "tree":
            raise GitError(f"a file {name!r} stands where gitops-gen writes a directory",
                           "move that file away on the base branch, then run the command again")
        sub_tree = repo[existing.id].peel(pygit2.Tree) if existing is not None and existing.type_str == "tree" else None
        oid = tree_with(repo, sub_tree, sub)
        if len(repo[oid].peel(pygit2.Tree)) == 0:
            if existing is not None:
                builder.remove(name)
        else:
            builder.insert(name, oid, pygit2.GIT_FILEMODE_TREE)
    return builder.write()


def tree_files(repo: pygit2.Repository, ref: str, prefix: str = "", cache_dir: Path | None = None) -> list[str]:
    """The files of ``ref``'s tree under ``prefix``, relative to it, read from its tree objects (0.1 s
    at 200,000 files, a third of a walk of the work tree). Submodules have no files here.

    With ``cache_dir``, the listing is kept there under the tree's id (a tree never changes; 0.05 s to read
    back at 200,000 files, against 0.3 s to walk 50,000 tree objects), the last few trees asked for."""
    tree: pygit2.Tree | None = repo.revparse_single(ref).peel(pygit2.Tree)
    if prefix and tree is not None:
        try:
            tree = repo[tree[prefix.rstrip("/")].id].peel(pygit2.Tree)
        except (KeyError, ValueError, pygit2.GitError):
            tree = None  # the estate's folder is new since ref
    if tree is None:
        return []
    kept = cache_dir / "tree-files" / str(tree.id) if cache_dir is not None else None
    if kept is not None:
        try:
            text = kept.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            text = ""
        if text == ".\n":
            return []
        if text.endswith("\n.\n"):  # written whole: the last line is a dot
            return text[:-3].split("\n")
    out: list[str] = []

    def walk(t: pygit2.Tree, base: str) -> None:
        # Iterating a tree yields its entries as objects: a Tree, a Blob, or a submodule's Commit.
        for e in t:
            if isinstance(e, pygit2.Tree):
                walk(e, f"{base}{e.name}/")
            elif isinstance(e, pygit2.Blob):
                out.append(f"{base}{e.name}")

    walk(tree, "")
    if kept is not None and not any("\n" in f for f in out):  # one name per line
        _keep_listing(kept, out)
    return out


#: How many trees' listings ``tree_files`` keeps: the base of a pull request and a few others.
KEPT_LISTINGS = 4


def _keep_listing(path: Path, files: list[str]) -> None:
    """Write a listing (a temporary file renamed into place), and drop all but the newest few. A cache:
    a failure to write it costs only the time to walk the tree again."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        tmp.write_text("".join(f"{f}\n" for f in files) + ".\n", encoding="utf-8")
        os.replace(tmp, path)
        listings = sorted((p for p in path.parent.iterdir() if not p.name.startswith(".")),
                          key=lambda p: p.stat().st_mtime, reverse=True)
        for old in listings[KEPT_LISTINGS:]:
            old.unlink(missing_ok=True)
    except OSError:
        pass


def files_with_changes(top: Path, files: Iterable[str], changed: Iterable[str]) -> list[str]:
    """The files of the work tree at ``top``, sorted: ``files``, those of a commit's tree
    (``tree_files``), plus or minus ``changed``, the paths that ``changed_paths`` found changed since
    that commit (all relative to ``top``). Only the changed paths are looked up on disk. This lists
    what a walk of the work tree lists, but for ignored files and with a link to a directory listed."""
    look = set(changed)
    gone = {rel for rel in look if not (top / rel).is_file()}
    listed = files if isinstance(files, list) else list(files)
    known = set(listed)
    # The listing is in git's order, which is nearly sorted: sorting it again costs little, unlike
    # sorting a set of 200,000 paths.
    out = [rel for rel in listed if rel not in gone] if gone else list(listed)
    out += sorted(look - gone - known)
    out.sort()
    return out


def changed_paths_soon(root: Path, ref: str) -> Callable[[], set[str]]:
    """``changed_paths`` of the repository around ``root``, begun now; the function returned finishes
    it, and raises what it raises.

    Where the git command is installed, it answers, in three processes started now (``_changed_paths_by_git``:
    1.0 s at 200,000 files where libgit2 takes 1.7 s). Otherwise the index is compared with the work tree,
    a stat of every file, in a forked child on another core while the caller goes on (a thread would
    contend for Python's lock), and ``ref`` with the index when the result is asked for. Where there is
    no fork, or the child fails, all of it is done then, in this process."""
    def here() -> set[str]:
        return changed_paths(open_repo(root), ref)

    by_git = _changed_paths_by_git(root, ref, here)
    if by_git is not None:
        return by_git
    if not hasattr(os, "fork"):
        return here
    read_end, write_end = os.pipe()
    try:
        pid = os.fork()
    except OSError:
        os.close(read_end)
        os.close(write_end)
        return here
    if pid == 0:  # the child: answer through the pipe, then leave without running the parent's exit code
        code = 0
        try:
            os.close(read_end)
            index = open_repo(root).index
            index.read(False)
            with os.fdopen(write_end, "w", encoding="utf-8") as out:
                json.dump(sorted(_unstaged(index)), out)
        except BaseException:  # whatever happens here, the parent computes it itself
            code = 1
        finally:
            os._exit(code)
    os.close(write_end)

    def result() -> set[str]:
        repo = open_repo(root)
        index = repo.index
        index.read(False)
        try:
            staged = _staged_since(repo, index, ref)
            with os.fdopen(read_end, encoding="utf-8") as f:
                text = f.read()
        finally:
            _, status = os.waitpid(pid, 0)
        try:
            unstaged = json.loads(text) if status == 0 else None
        except ValueError:
            unstaged = None
        if not isinstance(unstaged, list):
            return staged | _unstaged(index)
        return staged | {str(p) for p in unstaged}

    return result


def _changed_paths_by_git(root: Path, ref: str, fallback: Callable[[], set[str]]) -> Callable[[], set[str]] | None:
    """``changed_paths`` from the git command: ``diff-index --cached`` (ref to index), ``diff-files``
    (index to work tree) and ``ls-files --others --exclude-standard`` (untracked, not ignored), the same
    three comparisons, started now and run side by side. git reads the index faster than libgit2 and
    checks the work tree in several threads (core.preloadIndex), and it uses the user's core.fsmonitor
    where one is set up. None where git is not installed or ``ref`` names no commit (``fallback`` says
    so); ``fallback`` also answers if a git process fails.

    They only read: GIT_OPTIONAL_LOCKS=0 keeps git from taking the index's lock to refresh it ("Git will
    complete any requested operation without performing any optional sub-operations that require taking
    a lock", git(1), ENVIRONMENT). The repository is named by --git-dir and --work-tree, as pygit2 found
    it, and no GIT_* variable of the caller's environment applies, so both ways see the same repository."""
    exe = shutil.which("git")
    if exe is None:
        return None
    try:
        repo = open_repo(root)
        commit = repo.revparse_single(ref).peel(pygit2.Commit)
    except (KeyError, ValueError, pygit2.GitError, GitError):
        return None
    if repo.workdir is None:
        return None
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    env.update(GIT_OPTIONAL_LOCKS="0", LC_ALL="C")
    base = [exe, f"--git-dir={repo.path}", f"--work-tree={repo.workdir}"]
    commands = [["diff-index", "--cached", "--name-only", "-z", "--no-renames", str(commit.id), "--"],
                ["diff-files", "--name-only", "-z", "--no-renames"],
                ["ls-files", "--others", "--exclude-standard", "-z"]]
    started = [proc.start([*base, *command], Path(repo.workdir), env) for command in commands]
    procs = [p for p in started if p is not None]
    if len(procs) < len(commands):
        for p in procs:
            p.stop()
        return None

    def result() -> set[str]:
        outs = [p.output() for p in procs]  # each reads its own pipe to the end: none waits on another
        if any(out is None for out in outs):
            return fallback()
        return {os.fsdecode(path) for out in outs if out is not None for path in out.split(b"\0") if path}

    return result


def changed_paths(repo: pygit2.Repository, ref: str) -> set[str]:
    """Repository-relative paths that may differ between ``ref`` and the work tree (committed,
    staged, unstaged and untracked changes alike), read from git objects.

    Found as ref→index plus index→work tree, so the index's stat cache spares hashing every
    file: diffing ref's tree straight to the work tree hashes all of them (1.2 s on 14,600 files
    in bench/validate.py, 0.08 s this way). A file staged and then changed back counts as
    changed, which costs a needless render at worst, never a missed one."""
    index = repo.index
    index.read(False)
    return _staged_since(repo, index, ref) | _unstaged(index)


def _staged_since(repo: pygit2.Repository, index: pygit2.Index, ref: str) -> set[str]:
    """Paths that differ between ``ref``'s tree and the index."""
    try:
        commit = repo.revparse_single(ref).peel(pygit2.Commit)
    except (KeyError, ValueError, pygit2.GitError):
        raise GitError(f"{ref!r} names no commit in this repository",
                       "give a branch, tag or commit, e.g. origin/main") from None
    return _paths(commit.tree.diff_to_index(index))


def _unstaged(index: pygit2.Index) -> set[str]:
    """Paths that differ between the index and the work tree, untracked files included."""
    flags = pygit2.enums.DiffOption.INCLUDE_UNTRACKED | pygit2.enums.DiffOption.RECURSE_UNTRACKED_DIRS
    return _paths(index.diff_to_workdir(flags=flags))


def _paths(diff: pygit2.Diff) -> set[str]:
    paths: set[str] = set()
    for delta in diff.deltas:
        paths.add(delta.old_file.path)
        paths.add(delta.new_file.path)
    return paths
