"""Gitea (and Forgejo) REST API v1: pull requests and labels.

gitea.com/api/swagger: list ``GET /repos/{owner}/{repo}/pulls?state=open`` (paged), create
``POST /repos/{owner}/{repo}/pulls`` (head, base, title, body, labels as label ids; 409 when one is open
for the same branches), update ``PATCH /repos/{owner}/{repo}/pulls/{index}``. Labels are ids: looked up
with ``GET /repos/{owner}/{repo}/labels``, missing ones created with ``POST /repos/{owner}/{repo}/labels``
(name, color), added to an existing pull request with ``POST /repos/{owner}/{repo}/issues/{index}/labels``.

Comments (a pull request is an issue): list ``GET /repos/{owner}/{repo}/issues/{index}/comments``, create
``POST`` there (``body``; 201), update ``PATCH /repos/{owner}/{repo}/issues/comments/{id}`` (200), delete
``DELETE`` there (204); a comment's writer is ``user.login``, the token's user ``GET /user``'s ``login``.
The listing takes no ``page``/``limit`` in Gitea and Forgejo today (routers/api/v1/repo/issue_comment.go,
ListIssueComments: every comment in one answer, the count in ``X-Total-Count``), while the API's other
listings page by them: both are read right, a page that brings no comment not seen yet ending the walk.
Gitea sets no limit on a comment's length (CreateIssueCommentOption: ``binding:"Required"`` only, a
LONGTEXT column), so GitHub's 65,536 characters is used: what is readable as one comment anyway.
"""

from __future__ import annotations

from typing import Any

from gitops_gen.errors import RemoteError
from gitops_gen.publish.forge.base import Comment, PullRequest, PullRequestSpec, owner_and_name
from gitops_gen.publish.forge.http import Forge, JsonClient, Sleep, segment

FORGE = Forge("Gitea", "GITEA_TOKEN", "a token with the write:repository and write:issue scopes")
PAGE = 50
MAX_PAGES = 40
#: Pages of comments read at most: 10,000 comments.
MAX_COMMENT_PAGES = 200
#: Colours of the labels gitops-gen creates: tenants green, clusters blue, anything else grey.
LABEL_COLOURS = {"tenant": "#0e8a16", "cluster": "#1d76db"}


class Gitea:
    name = "gitea"
    title = "Gitea"
    kind = "pull request"
    body_limit = 65_536
    comment_limit = 65_536

    def __init__(self, api_url: str, project: str, token: str, sleep: Sleep | None = None,
                 attempts: int | None = None) -> None:
        self.owner, self.repo = owner_and_name(project, self.title)
        self.client = JsonClient(FORGE, api_url, {"Authorization": f"token {token}"}, token,
                                 sleep=sleep, attempts=attempts)
        self.path = f"/repos/{segment(self.owner)}/{segment(self.repo)}"

    def _pages(self, path: str, query: dict[str, str]) -> list[Any]:
        items: list[Any] = []
        for page in range(1, MAX_PAGES + 1):
            batch = self.client.request("GET", path, query={**query, "page": str(page), "limit": str(PAGE)}) or []
            items += batch
            if len(batch) < PAGE:
                break
        return items

    def find_open(self, head: str) -> PullRequest | None:
        for pr in self._pages(f"{self.path}/pulls", {"state": "open"}):
            branch = pr.get("head") or {}
            repo = (branch.get("repo") or {}).get("full_name")
            if branch.get("ref") == head and repo in (None, f"{self.owner}/{self.repo}"):
                return _pull_request(pr)
        return None

    def _label_ids(self, names: tuple[str, ...]) -> list[int]:
        if not names:
            return []
        known = {str(label["name"]): int(label["id"]) for label in self._pages(f"{self.path}/labels", {})}
        for name in names:
            if name not in known:
                colour = LABEL_COLOURS.get(name.split("/", 1)[0], "#cccccc")
                created = self.client.request("POST", f"{self.path}/labels", {"name": name, "color": colour})
                known[name] = int(created["id"])
        return [known[n] for n in names]

    def create(self, spec: PullRequestSpec) -> PullRequest:
        return _pull_request(self.client.request("POST", f"{self.path}/pulls", {
            "head": spec.head, "base": spec.base, "title": spec.title, "body": spec.body,
            "labels": self._label_ids(spec.labels)}))

    def update(self, pr: PullRequest, spec: PullRequestSpec) -> PullRequest:
        updated = _pull_request(self.client.request("PATCH", f"{self.path}/pulls/{pr.number}", {
            "base": spec.base, "title": spec.title, "body": spec.body}))
        ids = self._label_ids(spec.labels)
        if ids:
            self.client.request("POST", f"{self.path}/issues/{pr.number}/labels", {"labels": ids})
        return updated

    def already_exists(self, error: RemoteError) -> bool:
        return error.status == 409 and "already exists" in error.message

    def whoami(self) -> str | None:
        return str(self.client.request("GET", "/user")["login"])

    def comments(self, number: int) -> list[Comment]:
        found: dict[int, Comment] = {}
        for page in range(1, MAX_COMMENT_PAGES + 1):
            batch, headers = self.client.request_with_headers(
                "GET", f"{self.path}/issues/{number}/comments", query={"page": str(page), "limit": str(PAGE)})
            new = [c for c in map(_comment, batch or []) if c.id not in found]
            found.update((c.id, c) for c in new)
            total = headers.get("x-total-count", "")
            if not new or len(batch or []) < PAGE or (total.isdigit() and len(found) >= int(total)):
                return list(found.values())
        raise RemoteError(f"Gitea API: pull request #{number} has more than {PAGE * MAX_COMMENT_PAGES:,} comments; "
                          "gitops-gen stops reading there rather than post its diff a second time",
                          "delete old comments on the pull request, or open a new one")

    def create_comment(self, number: int, body: str) -> Comment:
        return _comment(self.client.request("POST", f"{self.path}/issues/{number}/comments", {"body": body}))

    def update_comment(self, number: int, comment: Comment, body: str) -> Comment:
        return _comment(self.client.request("PATCH", f"{self.path}/issues/comments/{comment.id}", {"body": body}))

    def delete_comment(self, number: int, comment: Comment) -> None:
        self.client.request("DELETE", f"{self.path}/issues/comments/{comment.id}")


def _pull_request(data: Any) -> PullRequest:
    body = data.get("body")
    return PullRequest(int(data["number"]), str(data["html_url"]), body if isinstance(body, str) else None)


def _comment(data: Any) -> Comment:
    user = data.get("user") or {}
    body = data.get("body")
    return Comment(int(data["id"]), body if isinstance(body, str) else "", data.get("html_url"),
                   str(user["login"]) if user.get("login") is not None else None)
