"""GitLab REST API v4: merge requests.

docs.gitlab.com/api/merge_requests: list ``GET /projects/:id/merge_requests?source_branch=..&state=opened``,
create ``POST /projects/:id/merge_requests`` (source_branch, target_branch, title, description, labels as a
comma-separated string; 409 when one is open for the source branch already), update
``PUT /projects/:id/merge_requests/:iid`` (add_labels keeps the labels people set). ``:id`` is the
project's URL-encoded path, ``group%2Fproject``.
"""

from __future__ import annotations

from typing import Any

from gitops_gen.errors import RemoteError
from gitops_gen.publish.forge.base import PullRequest, PullRequestSpec
from gitops_gen.publish.forge.http import Forge, JsonClient, Sleep, segment

FORGE = Forge("GitLab", "GITLAB_TOKEN", "a personal, group or project access token with the 'api' scope")


class GitLab:
    name = "gitlab"
    title = "GitLab"
    kind = "merge request"
    body_limit = 1_048_576

    def __init__(self, api_url: str, project: str, token: str, sleep: Sleep | None = None,
                 attempts: int | None = None) -> None:
        self.client = JsonClient(FORGE, api_url, {"PRIVATE-TOKEN": token}, token,
                                 sleep=sleep, attempts=attempts)
        self.path = f"/projects/{segment(project)}/merge_requests"

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


def _merge_request(data: Any) -> PullRequest:
    body = data.get("description")
    return PullRequest(int(data["iid"]), str(data["web_url"]), body if isinstance(body, str) else None)
