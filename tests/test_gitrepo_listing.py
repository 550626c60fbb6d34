"""The work tree's files from git objects (tree_files + files_with_changes) and the changes since a ref
found in a forked child (changed_paths_soon): each equals what a walk of the disk, or the one-process
changed_paths, gives, on real repositories with committed, staged, unstaged, untracked and deleted files."""

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
