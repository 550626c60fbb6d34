"""GitHub (and GitHub Enterprise Server) REST API: pulls, issue labels and issue comments.

docs.github.com/rest/pulls/pulls: list ``GET /repos/{owner}/{repo}/pulls?head=owner:branch&state=open``,
create ``POST /repos/{owner}/{repo}/pulls`` (title, head, base, body; 422 when one is open for the head
already), update ``PATCH /repos/{owner}/{repo}/pulls/{number}``. Labels are issue labels:
``POST /repos/{owner}/{repo}/issues/{number}/labels`` adds them (creating missing ones).

docs.github.com/rest/issues/comments (every pull request is an issue): list
``GET /repos/{owner}/{repo}/issues/{number}/comments`` (``per_page`` at most 100, ``page``; ordered by
ascending id; the next page is the ``Link`` header's ``rel="next"``, absent on the last page), create
``POST`` there (``body``; 201), update ``PATCH /repos/{owner}/{repo}/issues/comments/{comment_id}``, delete
``DELETE`` there (204). A body is at most 65,536 characters (the API answers 422 "Body is too long (maximum
is 65536 characters)"). The token's user is ``GET /user``'s ``login``
(docs.github.com/rest/users/users#get-the-authenticated-user), which a GitHub App's installation token,
GitHub Actions' GITHUB_TOKEN included, is refused with 403 "Resource not accessible by integration".
"""

from __future__ import annotations

from typing import Any

from gitops_gen.errors import RemoteError
from gitops_gen.publish.forge.base import Comment, PullRequest, PullRequestSpec, owner_and_name
from gitops_gen.publish.forge.http import Forge, JsonClient, Sleep, next_page, segment

API_VERSION = "2022-11-28"
FORGE = Forge("GitHub", "GITHUB_TOKEN", "a fine-grained token with Pull requests and Contents read and write, "
              "or a classic token with the 'repo' scope")
#: Comments per page (the most GitHub gives) and pages read at most: 10,000 comments.
COMMENT_PAGE = 100
MAX_COMMENT_PAGES = 100


class GitHub:
    name = "github"
    title = "GitHub"
    kind = "pull request"
    body_limit = 65_536
    comment_limit = 65_536

    def __init__(self, api_url: str, project: str, token: str, sleep: Sleep | None = None,
                 attempts: int | None = None) -> None:
        self.owner, self.repo = owner_and_name(project, self.title)
        headers = {"Authorization": f"Bearer {token}", "Accept": "application/vnd.github+json",
                   "X-GitHub-Api-Version": API_VERSION}
        self.client = JsonClient(FORGE, api_url, headers, token, sleep=sleep, attempts=attempts)
        self.path = f"/repos/{segment(self.owner)}/{segment(self.repo)}"

    def find_open(self, head: str) -> PullRequest | None:
        found = self.client.request("GET", f"{self.path}/pulls",
                                    query={"head": f"{self.owner}:{head}", "state": "open", "per_page": "100"})
        for pr in found or []:
            if (pr.get("head") or {}).get("ref") == head:
                return _pull_request(pr)
        return None

    def create(self, spec: PullRequestSpec) -> PullRequest:
        pr = _pull_request(self.client.request("POST", f"{self.path}/pulls", {
            "title": spec.title, "head": spec.head, "base": spec.base, "body": spec.body}))
        self._label(pr, spec)
        return pr

    def update(self, pr: PullRequest, spec: PullRequestSpec) -> PullRequest:
        updated = _pull_request(self.client.request("PATCH", f"{self.path}/pulls/{pr.number}", {
            "title": spec.title, "body": spec.body, "base": spec.base}))
        self._label(updated, spec)
        return updated

    def _label(self, pr: PullRequest, spec: PullRequestSpec) -> None:
        if spec.labels:
            self.client.request("POST", f"{self.path}/issues/{pr.number}/labels", {"labels": list(spec.labels)})

    def already_exists(self, error: RemoteError) -> bool:
        return error.status == 422 and "already exists" in error.message

    def whoami(self) -> str | None:
        try:
            return str(self.client.request("GET", "/user")["login"])
        except RemoteError as exc:
            if exc.status == 403 and "not accessible by integration" in exc.message:
                return None  # an installation token: it has no user of its own to look up
            raise

    def comments(self, number: int) -> list[Comment]:
        found: list[Comment] = []
        page = "1"
        for _ in range(MAX_COMMENT_PAGES):
            batch, headers = self.client.request_with_headers(
                "GET", f"{self.path}/issues/{number}/comments", query={"per_page": str(COMMENT_PAGE), "page": page})
            found += [_comment(c) for c in batch or []]
            following = next_page(headers.get("link"))
            if following is None:
                return found
            page = following
        raise RemoteError(f"GitHub API: pull request #{number} has more than {COMMENT_PAGE * MAX_COMMENT_PAGES:,} "
                          "comments; gitops-gen stops reading there rather than post its diff a second time",
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
                   str(user["login"]) if user.get("login") is not None else None, user.get("type") == "Bot")
