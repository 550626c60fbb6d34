"""GitLab REST API v4: merge requests.

docs.gitlab.com/api/merge_requests: list ``GET /projects/:id/merge_requests?source_branch=..&state=opened``,
create ``POST /projects/:id/merge_requests`` (source_branch, target_branch, title, description, labels as a
comma-separated string; 409 when one is open for the source branch already), update
``PUT /projects/:id/merge_requests/:iid`` (add_labels keeps the labels people set). ``:id`` is the
project's URL-encoded path, ``group%2Fproject``.

docs.gitlab.com/api/notes (merge request notes): list ``GET /projects/:id/merge_requests/:iid/notes``
(``sort``, ``order_by``; pages of ``per_page`` at most 100, ``page``, the next one in the ``X-Next-Page``
header, empty on the last: docs.gitlab.com/api/rest/#pagination), create ``POST`` there (``body``, "Limited
to 1,000,000 characters"), update ``PUT .../notes/:note_id`` (``body``), delete ``DELETE .../notes/:note_id``
(204). A note's ``author.id`` says who wrote it and ``system`` marks the notes GitLab writes itself; the
token's user is ``GET /user``'s ``id``. Notes carry no web URL: it is the merge request's ``web_url`` and
``#note_<id>``.
"""

from __future__ import annotations

from typing import Any

from gitops_gen.errors import RemoteError
from gitops_gen.publish.forge.base import Comment, PullRequest, PullRequestSpec
from gitops_gen.publish.forge.http import Forge, JsonClient, Sleep, segment

FORGE = Forge("GitLab", "GITLAB_TOKEN", "a personal, group or project access token with the 'api' scope")
#: Notes per page (the most GitLab gives) and pages read at most: 10,000 notes.
NOTE_PAGE = 100
MAX_NOTE_PAGES = 100


class GitLab:
    name = "gitlab"
    title = "GitLab"
    kind = "merge request"
    body_limit = 1_048_576
    comment_limit = 1_000_000

    def __init__(self, api_url: str, project: str, token: str, sleep: Sleep | None = None,
                 attempts: int | None = None) -> None:
        self.client = JsonClient(FORGE, api_url, {"PRIVATE-TOKEN": token}, token,
                                 sleep=sleep, attempts=attempts)
        self.path = f"/projects/{segment(project)}/merge_requests"
        self._web_urls: dict[int, str] = {}

    def find_open(self, head: str) -> PullRequest | None:
        found = self.client.request("GET", self.path, query={"source_branch": head, "state": "opened"})
        for mr in found or []:
            if mr.get("source_branch") == head:
                return _merge_request(mr)
        return None

    def create(self, spec: PullRequestSpec) -> PullRequest:
        return _merge_request(self.client.request("POST", self.path, {
            "source_branch": spec.head, "target_branch": spec.base, "title": spec.title,
            "description": spec.body, "labels": ",".join(spec.labels)}))

    def update(self, pr: PullRequest, spec: PullRequestSpec) -> PullRequest:
        return _merge_request(self.client.request("PUT", f"{self.path}/{pr.number}", {
            "target_branch": spec.base, "title": spec.title, "description": spec.body,
            "add_labels": ",".join(spec.labels)}))

    def already_exists(self, error: RemoteError) -> bool:
        return error.status == 409 and "already exists" in error.message

    def whoami(self) -> str | None:
        return str(self.client.request("GET", "/user")["id"])

    def _web_url(self, number: int) -> str:
        if number not in self._web_urls:
            self._web_urls[number] = str(self.client.request("GET", f"{self.path}/{number}")["web_url"])
        return self._web_urls[number]

    def _note(self, number: int, data: Any) -> Comment:
        author = data.get("author") or {}
        body = data.get("body")
        return Comment(int(data["id"]), body if isinstance(body, str) else "",
                       f"{self._web_url(number)}#note_{data['id']}",
                       str(author["id"]) if author.get("id") is not None else None,
                       system=bool(data.get("system")))

    def comments(self, number: int) -> list[Comment]:
        found: list[Comment] = []
        page = "1"
        for _ in range(MAX_NOTE_PAGES):
            batch, headers = self.client.request_with_headers(
                "GET", f"{self.path}/{number}/notes",
                query={"sort": "asc", "order_by": "created_at", "per_page": str(NOTE_PAGE), "page": page})
            found += [self._note(number, n) for n in batch or []]
            page = (headers.get("x-next-page") or "").strip()
            if not page:
                return found
        raise RemoteError(f"GitLab API: merge request !{number} has more than {NOTE_PAGE * MAX_NOTE_PAGES:,} notes; "
                          "gitops-gen stops reading there rather than post its diff a second time",
                          "delete old notes on the merge request, or open a new one")

    def create_comment(self, number: int, body: str) -> Comment:
        return self._note(number, self.client.request("POST", f"{self.path}/{number}/notes", {"body": body}))

    def update_comment(self, number: int, comment: Comment, body: str) -> Comment:
        return self._note(number, self.client.request("PUT", f"{self.path}/{number}/notes/{comment.id}",
                                                      {"body": body}))

    def delete_comment(self, number: int, comment: Comment) -> None:
        self.client.request("DELETE", f"{self.path}/{number}/notes/{comment.id}")


def _merge_request(data: Any) -> PullRequest:
    body = data.get("description")
    return PullRequest(int(data["iid"]), str(data["web_url"]), body if isinstance(body, str) else None)
