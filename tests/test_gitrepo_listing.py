"""The work tree's files from git objects (tree_files + files_with_changes, with its kept listings) and the
changes since a ref found by the git command or in a forked child (changed_paths_soon): each equals what
a walk of the disk, or the one-process changed_paths, gives, on real repositories with committed, staged,
unstaged, untracked, ignored and deleted files."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pygit2
import pytest

from gitops_gen import gitrepo
from gitops_gen.checks.objects import repository_files
from gitops_gen.errors import GitError


def git(root: Path, *args: str) -> None:
    subprocess.run(["git", "-C", str(root), *args], check=True, capture_output=True)


def write(root: Path, rel: str, text: str = "x\n") -> None:
    (root / rel).parent.mkdir(parents=True, exist_ok=True)
    (root / rel).write_text(text)


@pytest.fixture
def repo_root(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    root.mkdir()
    git(root, "init", "-q", "-b", "main")
    for rel in ("top.yaml", "estate/a/one.yaml", "estate/a/two.yaml", "estate/b/c/three.yaml",
                "estate/.github/workflows/ci.yml", "estate/gone.yaml", "estate/edited.yaml", "other/x.yaml"):
        write(root, rel)
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "base")
    # After the ref: a commit, then staged, unstaged and untracked changes, and deletions of each kind.
    write(root, "estate/committed/new.yaml")
    (root / "estate/a/two.yaml").unlink()
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "second")
    write(root, "estate/staged.yaml")
    git(root, "add", "estate/staged.yaml")
    git(root, "rm", "-q", "estate/gone.yaml")
    write(root, "estate/edited.yaml", "changed\n")
    write(root, "estate/untracked/deep/file.yaml")
    (root / "estate/b/c/three.yaml").unlink()  # deleted on disk, not in the index
    return root


def test_listing_from_git_objects_equals_a_walk_of_the_work_tree(repo_root: Path) -> None:
    repo = gitrepo.open_repo(repo_root)
    for ref in ("HEAD", "HEAD~1"):
        changed = gitrepo.changed_paths(repo, ref)
        whole = gitrepo.files_with_changes(repo_root, gitrepo.tree_files(repo, ref), changed)
        assert whole == repository_files(repo_root)
        # The estate in a folder of the repository: paths relative to it.
        estate = repo_root / "estate"
        prefix = gitrepo.prefix_in_repo(repo, estate)
        mine = {p.removeprefix(prefix) for p in changed if p.startswith(prefix)}
        listed = gitrepo.files_with_changes(estate, gitrepo.tree_files(repo, ref, prefix), mine)
        assert listed == repository_files(estate)
        assert "untracked/deep/file.yaml" in listed and "b/c/three.yaml" not in listed
        assert ".github/workflows/ci.yml" in listed and "gone.yaml" not in listed and "a/two.yaml" not in listed


def test_a_folder_new_since_the_ref_and_a_submodule(repo_root: Path) -> None:
    repo = gitrepo.open_repo(repo_root)
    assert gitrepo.tree_files(repo, "HEAD~1", "estate/committed/") == []
    head = str(repo.head.target)
    git(repo_root, "update-index", "--add", "--cacheinfo", f"160000,{head},estate/vendored")
    git(repo_root, "commit", "-q", "-m", "a submodule")
    assert not any(p.startswith("estate/vendored") for p in gitrepo.tree_files(repo, "HEAD"))


@pytest.mark.skipif(not hasattr(os, "fork"), reason="no fork on this platform: changed_paths_soon runs in-process")
def test_changes_found_in_a_child_equal_those_found_here(repo_root: Path) -> None:
    repo = gitrepo.open_repo(repo_root)
    for ref in ("HEAD", "HEAD~1", "main"):
        soon = gitrepo.changed_paths_soon(repo_root, ref)
        assert soon() == gitrepo.changed_paths(repo, ref)
    assert "estate/untracked/deep/file.yaml" in gitrepo.changed_paths_soon(repo_root, "HEAD")()
    # The child is reaped once the answer is in: no process (not even a zombie) is left behind.
    if Path("/proc/self/stat").exists():
        assert _children() == []
    with pytest.raises(GitError, match="'nosuchref' names no commit"):
        gitrepo.changed_paths_soon(repo_root, "nosuchref")()


def _children() -> list[int]:
    """This process's children, read from /proc (a zombie is listed until it is reaped)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(fields[1]) == os.getpid():
            found.append(int(stat.parent.name))
    return found


def test_a_link_to_a_directory_is_listed_and_skipped_by_the_readers(repo_root: Path) -> None:
    os.symlink("a", repo_root / "estate/linked")
    repo = pygit2.Repository(str(repo_root))
    changed = gitrepo.changed_paths(repo, "HEAD")
    listed = gitrepo.files_with_changes(repo_root, gitrepo.tree_files(repo, "HEAD"), changed)
    # Untracked, a link to a directory is not a file on disk: left out, as a walk leaves it out.
    assert "estate/linked" not in listed
    assert listed == repository_files(repo_root)


def _no_fallback() -> set[str]:
    raise AssertionError("git answered: the fallback must not run")


def test_changes_found_by_git_equal_those_found_by_libgit2(repo_root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write(repo_root, ".gitignore", "*.log\n")
    write(repo_root, "estate/ignored/build.log")
    write(repo_root, "estate/name with spaces and ü.yaml")
    repo = gitrepo.open_repo(repo_root)
    for ref in ("HEAD", "HEAD~1", "main"):
        by_git = gitrepo._changed_paths_by_git(repo_root, ref, _no_fallback)
        assert by_git is not None, "git is installed here: the git command answers"
        expected = gitrepo.changed_paths(repo, ref)
        assert by_git() == expected
    assert "estate/name with spaces and ü.yaml" in expected and "estate/ignored/build.log" not in expected
    assert "estate/b/c/three.yaml" in expected and "estate/untracked/deep/file.yaml" in expected
    # From a subfolder of the work tree, and with GIT_DIR set elsewhere by the caller: the same repository.
    monkeypatch.setenv("GIT_DIR", str(repo_root / "nowhere"))
    by_git = gitrepo._changed_paths_by_git(repo_root / "estate", "HEAD", _no_fallback)
    assert by_git is not None and by_git() == gitrepo.changed_paths(repo, "HEAD")
    if Path("/proc/self/stat").exists():
        assert _children() == []


def test_without_git_or_when_git_fails_libgit2_answers(repo_root: Path, tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    repo = gitrepo.open_repo(repo_root)
    expected = gitrepo.changed_paths(repo, "HEAD~1")
    empty = tmp_path / "empty-bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    assert gitrepo._changed_paths_by_git(repo_root, "HEAD~1", _no_fallback) is None
    assert gitrepo.changed_paths_soon(repo_root, "HEAD~1")() == expected
    # A git that fails (a real process exiting 1): the answer comes from libgit2, all three are reaped.
    failing = tmp_path / "failing-bin"
    failing.mkdir()
    (failing / "git").write_text("#!/bin/sh\necho 'fatal: broken' >&2\nexit 1\n")
    (failing / "git").chmod(0o755)
    monkeypatch.setenv("PATH", str(failing))
    calls: list[int] = []

    def fallback() -> set[str]:
        calls.append(1)
        return gitrepo.changed_paths(repo, "HEAD~1")

    by_git = gitrepo._changed_paths_by_git(repo_root, "HEAD~1", fallback)
    assert by_git is not None and by_git() == expected and calls == [1]
    assert gitrepo.changed_paths_soon(repo_root, "HEAD~1")() == expected
    if Path("/proc/self/stat").exists():
        assert _children() == []
    # A ref that names no commit is left to libgit2, whose error names it.
    with pytest.raises(GitError, match="'nosuchref' names no commit"):
        gitrepo.changed_paths_soon(repo_root, "nosuchref")()


def test_listings_are_kept_per_tree_and_only_the_newest_few(repo_root: Path, tmp_path: Path) -> None:
    repo = gitrepo.open_repo(repo_root)
    cache = tmp_path / "cache"
    for ref, prefix in (("HEAD", ""), ("HEAD~1", ""), ("HEAD", "estate/")):
        walked = gitrepo.tree_files(repo, ref, prefix)
        assert gitrepo.tree_files(repo, ref, prefix, cache) == walked  # walked, then kept
        tree = repo.revparse_single(ref).peel(pygit2.Tree)
        tree_id = tree[prefix.rstrip("/")].id if prefix else tree.id
        assert (cache / "tree-files" / str(tree_id)).is_file()
        assert gitrepo.tree_files(repo, ref, prefix, cache) == walked  # read back
    # A listing cut short (a crash while writing, a full disk) is not trusted: the tree is walked again.
    kept = cache / "tree-files" / str(repo.revparse_single("HEAD").peel(pygit2.Tree).id)
    kept.write_text("top.yaml\n")
    assert gitrepo.tree_files(repo, "HEAD", "", cache) == gitrepo.tree_files(repo, "HEAD")
    assert kept.read_text().endswith("\n.\n")
    # An empty listing reads back as one; past KEPT_LISTINGS, the oldest go.
    empty = cache / "tree-files" / str(repo.revparse_single("HEAD").peel(pygit2.Tree).id)
    gitrepo._keep_listing(empty, [])
    assert gitrepo.tree_files(repo, "HEAD", "", cache) == []
    for i in range(gitrepo.KEPT_LISTINGS + 2):
        write(repo_root, f"more/{i}.yaml")
        git(repo_root, "add", "-A")
        git(repo_root, "commit", "-q", "-m", f"more {i}")
        gitrepo.tree_files(repo, "HEAD", "", cache)
    assert len(list((cache / "tree-files").iterdir())) == gitrepo.KEPT_LISTINGS
