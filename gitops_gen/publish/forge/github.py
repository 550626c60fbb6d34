"""GitHub (and GitHub Enterprise Server) REST API: pulls and issue labels.

docs.github.com/rest/pulls/pulls: list ``GET /repos/{owner}/{repo}/pulls?head=owner:branch&state=open``,
create ``POST /repos/{owner}/{repo}/pulls`` (title, head, base, body; 422 when one is open for the head
already), update ``PATCH /repos/{owner}/{repo}/pulls/{number}``. Labels are issue labels:
``POST /repos/{owner}/{repo}/issues/{number}/labels`` adds them (creating missing ones).
"""

from __future__ import annotations

from typing import Any

from gitops_gen.errors import RemoteError
from gitops_gen.publish.forge.base import PullRequest, PullRequestSpec, owner_and_name
from gitops_gen.publish.forge.http import Forge, JsonClient, Sleep, segment

API_VERSION = "2022-11-28"
FORGE = Forge("GitHub", "GITHUB_TOKEN", "a fine-grained token with Pull requests and Contents read and write, "
              "or a classic token with the 'repo' scope")


class GitHub:
    name = "github"
    title = "GitHub"
    kind = "pull request"
    body_limit = 65_536

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


def _pull_request(data: Any) -> PullRequest:
    body = data.get("body")
    return PullRequest(int(data["number"]), str(data["html_url"]), body if isinstance(body, str) else None)
