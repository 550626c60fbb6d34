"""What every forge offers gitops-gen: find the open pull request of a branch, create one, update one; list,
write, rewrite and delete the comments on one."""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from typing import Protocol

from gitops_gen.errors import RemoteError, UserError


@dataclass(frozen=True)
class PullRequestSpec:
    title: str
    body: str
    head: str                    # the branch with the change
    base: str                    # the branch it merges into
    labels: tuple[str, ...] = ()


@dataclass(frozen=True)
class PullRequest:
    number: int                  # GitHub's and Gitea's number, GitLab's iid
    url: str                     # the page reviewers open
    body: str | None = None      # its description as the forge holds it now


@dataclass(frozen=True)
class Comment:
    """A comment on a pull request (GitLab: a note on a merge request)."""

    id: int
    body: str
    url: str | None
    author: str | None           # GitHub's and Gitea's login, GitLab's user id (as text)
    author_is_bot: bool = False  # GitHub: user.type is "Bot" (a GitHub App, GitHub Actions' token)
    system: bool = False         # GitLab: a note the forge wrote itself ("added 1 commit")


#: A task-list item of a description: '- [ ] text' or '- [x] text'.
_TASK = re.compile(r"^(\s*[-*] )\[([ xX])\] (.*?)\s*$")


def keep_ticks(old: str | None, new: str) -> str:
    """``new`` with the task-list items that are ticked in ``old`` (by reviewers) ticked again: an
    update rewrites the description, not the review's progress."""
    if not old:
        return new
    ticked = {m[3] for line in old.splitlines() if (m := _TASK.match(line)) and m[2] in "xX"}
    if not ticked:
        return new
    out = []
    for line in new.splitlines(keepends=True):
        m = _TASK.match(line)
        if m and m[2] == " " and m[3] in ticked:
            line = line.replace("[ ]", "[x]", 1)
        out.append(line)
    return "".join(out)


class Provider(Protocol):
    name: str                    # github | gitlab | gitea
    title: str                   # GitHub | GitLab | Gitea
    body_limit: int              # longest description the forge takes, in characters
    kind: str                    # "pull request" or "merge request"

    def find_open(self, head: str) -> PullRequest | None:
        """The open pull request whose head is ``head`` in this repository, if any."""
        ...

    def create(self, spec: PullRequestSpec) -> PullRequest: ...

    def update(self, pr: PullRequest, spec: PullRequestSpec) -> PullRequest:
        """Set title, description and base; add the labels (labels people added stay)."""
        ...

    def already_exists(self, error: RemoteError) -> bool:
        """Whether ``create`` failed because an open pull request for the head exists already."""
        ...

    # Comments. ``comment_limit`` is the longest body the forge takes, in characters.
    comment_limit: int

    def whoami(self) -> str | None:
        """Who the token writes as, in ``Comment.author``'s terms; None when the forge does not say
        (a GitHub App's token: then only comments written by a bot can be ours)."""
        ...

    def comments(self, number: int) -> list[Comment]:
        """Every comment on pull request ``number``, oldest first, all pages read."""
        ...

    def create_comment(self, number: int, body: str) -> Comment: ...

    def update_comment(self, number: int, comment: Comment, body: str) -> Comment: ...

    def delete_comment(self, number: int, comment: Comment) -> None: ...


def owner_and_name(project: str, forge: str) -> tuple[str, str]:
    parts = project.split("/")
    if len(parts) != 2 or not all(parts):
        raise UserError(f"{project!r} is not an OWNER/REPOSITORY path, which {forge} repositories have",
                        "check the remote's URL (git remote -v), or set forge.provider in gitops-gen.yaml "
                        "if the repository is on another forge")
    return parts[0], parts[1]


def open_or_update(provider: Provider, spec: PullRequestSpec) -> tuple[PullRequest, str]:
    """Update the branch's open pull request, or create one: ('created' | 'updated'). A create that
    races with another one (the forge answers 'already exists') updates the one that won."""
    existing = provider.find_open(spec.head)
    if existing is not None:
        return provider.update(existing, replace(spec, body=keep_ticks(existing.body, spec.body))), "updated"
    try:
        return provider.create(spec), "created"
    except RemoteError as exc:
        if not provider.already_exists(exc):
            raise
        existing = provider.find_open(spec.head)
        if existing is None:
            raise
        return provider.update(existing, replace(spec, body=keep_ticks(existing.body, spec.body))), "updated"
