"""Local stand-ins for the GitHub, GitLab and Gitea APIs, on loopback.

Each implements the documented endpoints gitops-gen uses, checks the request shapes (method, path,
headers, JSON fields) and answers with the documented status codes and bodies:

- GitHub REST (docs.github.com/rest/pulls/pulls, /rest/issues/labels): ``Authorization: Bearer``,
  ``Accept: application/vnd.github+json``, ``X-GitHub-Api-Version: 2022-11-28``, a User-Agent;
  list ``GET /repos/{o}/{r}/pulls?head=o:branch&state=open``, create ``POST .../pulls`` (201; 422
  "A pull request already exists for o:branch." and 422 for an unknown base or head), update
  ``PATCH .../pulls/{n}``, labels ``POST .../issues/{n}/labels``.
- GitLab v4 (docs.gitlab.com/api/merge_requests): ``PRIVATE-TOKEN``; ``:id`` the URL-encoded path;
  ``GET .../merge_requests?source_branch=..&state=opened``, ``POST`` (201; 409 "Another open merge
  request already exists for this source branch"), ``PUT .../merge_requests/:iid``; labels a
  comma-separated string.
- Gitea v1 (gitea swagger): ``Authorization: token``; ``GET/POST /repos/{o}/{r}/labels``,
  ``GET /repos/{o}/{r}/pulls?state=open`` (paged), ``POST .../pulls`` (201, labels as ids; 409
  "pull request already exists for these targets"), ``PATCH .../pulls/{index}`` (201),
  ``POST .../issues/{index}/labels``.

Comments on pull requests, with the token's user from ``GET /user``:

- GitHub (docs.github.com/rest/issues/comments, /rest/users/users): ``GET /user`` (``login``; 403
  "Resource not accessible by integration" for an installation token, ``app_token``), list
  ``GET .../issues/{n}/comments`` (``per_page`` at most 100, default 30, ``page``; a ``Link`` header with
  ``rel="next"`` and ``rel="last"`` while there are more, none on the last page), ``POST`` there (201;
  422 past 65,536 characters), ``PATCH``/``DELETE .../issues/comments/{id}`` (200/204). A comment's writer
  is ``user`` (``login``, ``type`` "User" or "Bot").
- GitLab (docs.gitlab.com/api/notes, /api/rest/#pagination): ``GET /user`` (``id``), ``GET
  .../merge_requests/:iid`` (its ``web_url``), list ``GET .../merge_requests/:iid/notes`` (``sort``
  desc by default, ``order_by``, ``per_page`` at most 100, default 20, ``page``; ``X-Next-Page`` empty on
  the last page, ``X-Total``...), ``POST`` (201; 1,000,000 characters at most), ``PUT``/``DELETE
  .../notes/:id`` (200/204; a system note cannot be edited). A note's writer is ``author.id``;
  ``system`` notes are GitLab's own.
- Gitea (routers/api/v1/repo/issue_comment.go): ``GET /user`` (``login``), list ``GET
  .../issues/{index}/comments``, which takes no page or limit and answers every comment with
  ``X-Total-Count`` (``gitea_pages_comments`` makes it page by ``page``/``limit`` as Gitea's other
  listings do), ``POST`` (201), ``PATCH``/``DELETE .../issues/comments/{id}`` (200/204).

A request whose shape is wrong is answered 400 and recorded in ``problems``; tests assert none.
``fail()`` queues answers (any status and body) for matching requests, ahead of the normal ones.
"""

from __future__ import annotations

import json
import re
import subprocess
import threading
import urllib.parse
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

Answer = tuple[int, Any]  # status and a JSON body (None: empty; bytes: sent as they are)
GITHUB_DOCS = "https://docs.github.com/rest/pulls/pulls"


@dataclass
class Call:
    method: str
    path: str                     # raw, still percent-encoded
    query: dict[str, str]
    headers: dict[str, str]
    body: Any


@dataclass
class Fault:
    method: str
    path: re.Pattern[str]
    status: int
    body: Any
    times: int
    headers: dict[str, str]


@dataclass
class FakeForge:
    kind: str                     # github | gitlab | gitea
    token: str
    project: str = "platform/estate"
    branches: set[str] = field(default_factory=lambda: {"main"})
    git_dir: Path | None = None   # a bare repository: a head branch must exist there (pushed first)
    port: int = 0
    calls: list[Call] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    faults: list[Fault] = field(default_factory=list)
    pulls: dict[int, dict[str, Any]] = field(default_factory=dict)
    labels: dict[str, int] = field(default_factory=dict)   # Gitea's repository labels: name -> id
    user: str = "gitops-bot"      # the token's user (GitHub's and Gitea's login, GitLab's username)
    app_token: bool = False       # GitHub: the token is an installation token (GitHub Actions' GITHUB_TOKEN)
    gitea_pages_comments: bool = False
    #: Comments and notes by id, oldest first, as the forge shows them (user/author included).
    comments: dict[int, dict[str, Any]] = field(default_factory=dict)
    user_ids: dict[str, int] = field(default_factory=dict)
    next_comment_id: int = 90_001
    lock: threading.Lock = field(default_factory=threading.Lock)
    serving: threading.Lock = field(default_factory=threading.Lock)
    last_headers: dict[str, str] = field(default_factory=dict)

    @property
    def prefix(self) -> str:
        return {"github": "", "gitlab": "/api/v4", "gitea": "/api/v1"}[self.kind]

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.port}{self.prefix}"

    def fail(self, method: str, path: str, status: int, body: Any = None, times: int = 1,
             headers: dict[str, str] | None = None) -> None:
        """Answer the next ``times`` requests of ``method`` whose path matches ``path`` with ``status``."""
        self.faults.append(Fault(method, re.compile(path), status, body, times, headers or {}))

    def open_pulls(self) -> list[dict[str, Any]]:
        return [p for p in self.pulls.values() if p["state"] in ("open", "opened")]

    def calls_to(self, method: str, suffix: str = "") -> list[Call]:
        return [c for c in self.calls if c.method == method and re.search(suffix + "$", c.path)]

    def writes(self) -> list[Call]:
        return [c for c in self.calls if c.method in ("POST", "PATCH", "PUT", "DELETE")]

    # ----------------------------------------------------------------------- comments, as tests set them up

    def add_pull(self, number: int, head: str = "feature") -> None:
        """An open pull request #number (GitLab: merge request !number) to comment on."""
        owner = self.project.split("/")[0]
        if self.kind == "gitlab":
            self.pulls[number] = {"id": 5000 + number, "iid": number, "project_id": 42, "state": "opened",
                                  "title": head, "description": "", "source_branch": head, "target_branch": "main",
                                  "labels": [], "web_url": f"https://gitlab.test/{self.project}/-/merge_requests/"
                                                           f"{number}"}
        else:
            site = "github.test" if self.kind == "github" else "gitea.test"
            page = "pull" if self.kind == "github" else "pulls"
            self.pulls[number] = {"id": 1000 + number, "number": number, "state": "open", "title": head, "body": "",
                                  "html_url": f"https://{site}/{self.project}/{page}/{number}",
                                  "head": {"ref": head, "label": f"{owner}:{head}",
                                           "repo": {"full_name": self.project}},
                                  "base": {"ref": "main", "label": f"{owner}:main",
                                           "repo": {"full_name": self.project}},
                                  "labels": []}

    def _user_id(self, login: str) -> int:
        return self.user_ids.setdefault(login, 77 if login == self.user else 500 + len(self.user_ids))

    def _writer(self) -> tuple[str, bool]:
        """Who a comment made with the token is written by: (login, is a bot)."""
        return ("github-actions[bot]", True) if self.app_token else (self.user, False)

    def add_comment(self, number: int, body: str, user: str | None = None, bot: bool = False,
                    system: bool = False) -> int:
        """A comment already on pull request ``number``, by ``user`` (default: the token's user)."""
        return int(self._store(number, body, user or self.user, bot, system)["id"])

    def comments_on(self, number: int) -> list[dict[str, Any]]:
        return [c for c in self.comments.values() if c["_pull"] == number]

    def _store(self, number: int, body: str, login: str, bot: bool = False, system: bool = False) -> dict[str, Any]:
        cid = self.next_comment_id
        self.next_comment_id += 1
        stamp = f"2026-12-01T10:{len(self.comments) // 60 % 60:02}:{len(self.comments) % 60:02}Z"
        owner, repo = self.project.split("/")[0], self.project.split("/")[-1]
        if self.kind == "github":
            comment: dict[str, Any] = {
                "id": cid, "node_id": f"IC_{cid}", "body": body, "created_at": stamp, "updated_at": stamp,
                "url": f"{self.api_url}/repos/{owner}/{repo}/issues/comments/{cid}",
                "html_url": f"https://github.test/{self.project}/pull/{number}#issuecomment-{cid}",
                "issue_url": f"{self.api_url}/repos/{owner}/{repo}/issues/{number}",
                "user": {"login": login, "id": self._user_id(login), "type": "Bot" if bot else "User"},
                "author_association": "MEMBER"}
        elif self.kind == "gitlab":
            comment = {
                "id": cid, "type": None, "body": body, "attachment": None, "created_at": stamp, "updated_at": stamp,
                "author": {"id": self._user_id(login), "username": login, "name": login, "state": "active"},
                "system": system, "noteable_id": 5000 + number, "noteable_type": "MergeRequest",
                "noteable_iid": number, "project_id": 42, "resolvable": False, "confidential": False,
                "internal": False}
        else:
            comment = {
                "id": cid, "body": body, "created_at": stamp, "updated_at": stamp, "assets": [],
                "html_url": f"https://gitea.test/{self.project}/pulls/{number}#issuecomment-{cid}",
                "pull_request_url": f"https://gitea.test/{self.project}/pulls/{number}", "issue_url": "",
                "user": {"id": self._user_id(login), "login": login, "full_name": login},
                "original_author": "", "original_author_id": 0}
        self.comments[cid] = {**comment, "_pull": number}
        return self.comments[cid]

    @staticmethod
    def _shown(comment: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in comment.items() if not k.startswith("_")}

    def _comment_write(self, method: str, path: str, comment: dict[str, Any] | None, body: Any, limit: int,
                       not_found: Answer, too_long: Answer) -> Answer:
        """PATCH/PUT (200) or DELETE (204) of one comment; the body's shape is checked."""
        if comment is None:
            return not_found
        if method == "DELETE":
            if body is not None:
                return self._bad(f"DELETE {path}: a body was sent")
            del self.comments[comment["id"]]
            return 204, None
        problem = self._fields(f"{method} {path}", body, {"body": str}, {})
        if problem:
            return self._bad(problem)
        if len(body["body"]) > limit:
            return too_long
        comment["body"] = body["body"]
        comment["updated_at"] = "2026-12-01T11:00:00Z"
        return 200, self._shown(comment)

    # ----------------------------------------------------------------------- dispatch

    def handle(self, method: str, raw: str, headers: dict[str, str], payload: bytes) -> Answer:
        """The status and body of the answer; a fault's headers are in ``last_headers``."""
        self.last_headers = {}
        path, _, query_text = raw.partition("?")
        query = dict(urllib.parse.parse_qsl(query_text))
        body: Any = None
        if payload:
            if headers.get("content-type", "").split(";")[0] != "application/json":
                self.problems.append(f"{method} {path}: body without Content-Type: application/json")
            try:
                body = json.loads(payload)
            except ValueError:
                return self._bad(f"{method} {path}: body is not JSON")
        with self.lock:
            self.calls.append(Call(method, path, query, headers, body))
            for fault in self.faults:
                if fault.times > 0 and fault.method == method and fault.path.search(path):
                    fault.times -= 1
                    self.last_headers = fault.headers
                    return fault.status, fault.body
            if not path.startswith(self.prefix + "/"):
                return 404, {"message": "Not Found"}
            handler: Callable[[str, str, dict[str, str], dict[str, str], Any], Answer] = getattr(self, f"_{self.kind}")
            return handler(method, path.removeprefix(self.prefix), query, headers, body)

    def _bad(self, problem: str) -> Answer:
        self.problems.append(problem)
        return 400, {"message": problem}

    def _fields(self, where: str, body: Any, required: dict[str, type], optional: dict[str, type]) -> str | None:
        if not isinstance(body, dict):
            return f"{where}: body must be a JSON object, got {body!r}"
        for key, typ in required.items():
            if not isinstance(body.get(key), typ):
                return f"{where}: field {key!r} must be {typ.__name__}, got {body.get(key)!r}"
        for key, value in body.items():
            if key not in required and key not in optional:
                return f"{where}: unknown field {key!r}"
            if key in optional and not isinstance(value, optional[key]):
                return f"{where}: field {key!r} must be {optional[key].__name__}, got {value!r}"
        return None

    def _pushed(self, branch: str) -> bool:
        if self.git_dir is None:
            return True
        found = subprocess.run(["git", "--git-dir", str(self.git_dir), "rev-parse", "--verify", "-q",
                                f"refs/heads/{branch}"], capture_output=True, check=False)
        return found.returncode == 0

    # ----------------------------------------------------------------------- GitHub

    def _github(self, method: str, path: str, query: dict[str, str], headers: dict[str, str], body: Any) -> Answer:
        if headers.get("authorization") != f"Bearer {self.token}":
            return 401, {"message": "Bad credentials", "documentation_url": "https://docs.github.com/rest",
                         "status": "401"}
        if headers.get("accept") != "application/vnd.github+json":
            return self._bad(f"{method} {path}: Accept is {headers.get('accept')!r}")
        if headers.get("x-github-api-version") != "2022-11-28":
            return self._bad(f"{method} {path}: X-GitHub-Api-Version is {headers.get('x-github-api-version')!r}")
        if not headers.get("user-agent"):
            return 403, {"message": "Request forbidden by administrative rules. Please make sure your request has "
                                    "a User-Agent header"}
        if path == "/user" and method == "GET":
            if self.app_token:
                return 403, {"message": "Resource not accessible by integration", "status": "403",
                             "documentation_url": "https://docs.github.com/rest/users/users#get-the-authenticated-user"}
            return 200, {"login": self.user, "id": self._user_id(self.user), "type": "User"}
        owner, repo = self.project.split("/")
        repo_path = f"/repos/{owner}/{repo}"
        if not path.startswith(repo_path + "/"):
            return 404, {"message": "Not Found", "documentation_url": GITHUB_DOCS, "status": "404"}
        rest = path.removeprefix(repo_path)
        if rest.startswith("/issues/") and "/comments" in rest:
            return self._github_comments(method, path, rest, query, body)
        if rest == "/pulls" and method == "GET":
            if query.get("state") != "open" or not query.get("head", "").startswith(f"{owner}:"):
                return self._bad(f"GET {path}: expected state=open&head={owner}:BRANCH, got {query}")
            ref = query["head"].split(":", 1)[1]
            return 200, [p for p in self.open_pulls() if p["head"]["ref"] == ref]
        if rest == "/pulls" and method == "POST":
            problem = self._fields(f"POST {path}", body, {"title": str, "head": str, "base": str},
                                   {"body": str, "draft": bool, "maintainer_can_modify": bool})
            if problem:
                return self._bad(problem)
            invalid = [f for f in ("base", "head") if not (body[f] in self.branches if f == "base"
                                                            else self._pushed(body[f]))]
            if invalid:
                return 422, {"message": "Validation Failed", "documentation_url": GITHUB_DOCS, "status": "422",
                             "errors": [{"resource": "PullRequest", "field": f, "code": "invalid"} for f in invalid]}
            if any(p["head"]["ref"] == body["head"] for p in self.open_pulls()):
                return 422, {"message": "Validation Failed", "documentation_url": GITHUB_DOCS, "status": "422",
                             "errors": [{"resource": "PullRequest", "code": "custom",
                                         "message": f"A pull request already exists for {owner}:{body['head']}."}]}
            number = len(self.pulls) + 1
            self.pulls[number] = {
                "id": 1000 + number, "number": number, "state": "open", "title": body["title"],
                "body": body.get("body"), "html_url": f"https://github.test/{owner}/{repo}/pull/{number}",
                "head": {"ref": body["head"], "label": f"{owner}:{body['head']}"},
                "base": {"ref": body["base"], "label": f"{owner}:{body['base']}"}, "labels": []}
            return 201, self.pulls[number]
        if m := re.fullmatch(r"/pulls/(\d+)", rest):
            pr = self.pulls.get(int(m[1]))
            if pr is None or method != "PATCH":
                return 404, {"message": "Not Found", "documentation_url": GITHUB_DOCS, "status": "404"}
            problem = self._fields(f"PATCH {path}", body, {}, {"title": str, "body": str, "base": str,
                                                               "state": str, "maintainer_can_modify": bool})
            if problem:
                return self._bad(problem)
            pr.update({k: v for k, v in body.items() if k in ("title", "body", "state")})
            if "base" in body:
                pr["base"] = {"ref": body["base"], "label": f"{owner}:{body['base']}"}
            return 200, pr
        if (m := re.fullmatch(r"/issues/(\d+)/labels", rest)) and method == "POST":
            pr = self.pulls.get(int(m[1]))
            if pr is None:
                return 404, {"message": "Not Found", "documentation_url": GITHUB_DOCS, "status": "404"}
            if not isinstance(body, dict) or not all(isinstance(x, str) for x in body.get("labels") or [None]):
                return self._bad(f"POST {path}: expected {{'labels': [names]}}, got {body!r}")
            for name in body["labels"]:
                if name not in [x["name"] for x in pr["labels"]]:
                    pr["labels"].append({"id": len(pr["labels"]) + 1, "name": name, "color": "ededed",
                                         "default": False})
            return 200, pr["labels"]
        return 404, {"message": "Not Found", "documentation_url": GITHUB_DOCS, "status": "404"}

    def _github_comments(self, method: str, path: str, rest: str, query: dict[str, str], body: Any) -> Answer:
        docs = "https://docs.github.com/rest/issues/comments"
        not_found: Answer = (404, {"message": "Not Found", "documentation_url": docs, "status": "404"})
        too_long: Answer = (422, {"message": "Validation Failed", "documentation_url": docs, "status": "422",
                                  "errors": [{"resource": "IssueComment", "code": "unprocessable", "field": "data",
                                              "message": "Body is too long (maximum is 65536 characters)"}]})
        if m := re.fullmatch(r"/issues/(\d+)/comments", rest):
            number = int(m[1])
            if number not in self.pulls:
                return not_found
            if method == "GET":
                per_page = min(int(query.get("per_page", "30")), 100)
                page = int(query.get("page", "1"))
                items = [self._shown(c) for c in self.comments_on(number)]
                last = max(1, -(-len(items) // per_page))
                link = f"{self.api_url}/repositories/1296269/issues/{number}/comments?per_page={per_page}&page="
                rels = [f'<{link}{page + 1}>; rel="next"', f'<{link}{last}>; rel="last"'] if page < last else []
                if page > 1:
                    rels = [f'<{link}{page - 1}>; rel="prev"', *rels, f'<{link}1>; rel="first"']
                if rels:
                    self.last_headers = {"Link": ", ".join(rels)}
                return 200, items[(page - 1) * per_page: page * per_page]
            if method == "POST":
                problem = self._fields(f"POST {path}", body, {"body": str}, {})
                if problem:
                    return self._bad(problem)
                if len(body["body"]) > 65_536:
                    return too_long
                login, bot = self._writer()
                return 201, self._shown(self._store(number, body["body"], login, bot))
            return not_found
        if (m := re.fullmatch(r"/issues/comments/(\d+)", rest)) and method in ("PATCH", "DELETE"):
            return self._comment_write(method, path, self.comments.get(int(m[1])), body, 65_536, not_found,
                                       too_long)
        return not_found

    # ----------------------------------------------------------------------- GitLab

    def _gitlab(self, method: str, path: str, query: dict[str, str], headers: dict[str, str], body: Any) -> Answer:
        if headers.get("private-token") != self.token and headers.get("authorization") != f"Bearer {self.token}":
            return 401, {"message": "401 Unauthorized"}
        if path == "/user" and method == "GET":
            return 200, {"id": self._user_id(self.user), "username": self.user, "name": self.user, "state": "active",
                         "bot": False}
        encoded = f"/projects/{urllib.parse.quote(self.project, safe='')}/merge_requests"
        if re.match(re.escape(encoded) + r"/\d+/notes(/|$)", path):
            return self._gitlab_notes(method, path, path.removeprefix(encoded), query, body)
        if not path.startswith(encoded):
            if self.project in urllib.parse.unquote(path) and self.project in path:
                self.problems.append(f"{method} {path}: the project path must be URL-encoded ({encoded})")
            return 404, {"message": "404 Project Not Found"}
        rest = path.removeprefix(encoded)
        if rest == "" and method == "GET":
            if query.get("state") != "opened" or not query.get("source_branch"):
                return self._bad(f"GET {path}: expected source_branch=..&state=opened, got {query}")
            return 200, [p for p in self.open_pulls() if p["source_branch"] == query["source_branch"]]
        if rest == "" and method == "POST":
            problem = self._fields(f"POST {path}", body, {"source_branch": str, "target_branch": str, "title": str},
                                   {"description": str, "labels": str, "remove_source_branch": bool})
            if problem:
                return self._bad(problem)
            if len(body.get("description") or "") > 1_048_576:
                return self._bad("description longer than 1,048,576 characters")
            for p in self.open_pulls():
                if p["source_branch"] == body["source_branch"]:
                    return 409, {"message": [f"Another open merge request already exists for this source branch: "
                                             f"!{p['iid']}"]}
            iid = len(self.pulls) + 1
            self.pulls[iid] = {
                "id": 5000 + iid, "iid": iid, "project_id": 42, "state": "opened", "title": body["title"],
                "description": body.get("description"), "source_branch": body["source_branch"],
                "target_branch": body["target_branch"],
                "labels": [x for x in (body.get("labels") or "").split(",") if x],
                "web_url": f"https://gitlab.test/{self.project}/-/merge_requests/{iid}"}
            return 201, self.pulls[iid]
        if m := re.fullmatch(r"/(\d+)", rest):
            mr = self.pulls.get(int(m[1]))
            if mr is not None and method == "GET":
                return 200, mr
            if mr is None or method != "PUT":
                return 404, {"message": "404 Not found"}
            problem = self._fields(f"PUT {path}", body, {}, {"title": str, "description": str, "target_branch": str,
                                                             "labels": str, "add_labels": str, "remove_labels": str,
                                                             "state_event": str})
            if problem:
                return self._bad(problem)
            mr.update({k: v for k, v in body.items() if k in ("title", "description", "target_branch")})
            if "labels" in body:
                mr["labels"] = [x for x in body["labels"].split(",") if x]
            for name in (body.get("add_labels") or "").split(","):
                if name and name not in mr["labels"]:
                    mr["labels"].append(name)
            return 200, mr
        return 404, {"message": "404 Not found"}

    def _gitlab_notes(self, method: str, path: str, rest: str, query: dict[str, str], body: Any) -> Answer:
        not_found: Answer = (404, {"message": "404 Not found"})
        too_long: Answer = (400, {"message": {"note": ["is too long (maximum is 1000000 characters)"]}})
        m = re.fullmatch(r"/(\d+)/notes(?:/(\d+))?", rest)
        if m is None or int(m[1]) not in self.pulls:
            return 404, {"message": "404 Merge Request Not Found"}
        number = int(m[1])
        if m[2] is None and method == "GET":
            if query.get("sort", "desc") not in ("asc", "desc") or \
                    query.get("order_by", "created_at") not in ("created_at", "updated_at"):
                return self._bad(f"GET {path}: sort must be asc|desc and order_by created_at|updated_at: {query}")
            per_page = min(int(query.get("per_page", "20")), 100)
            page = int(query.get("page", "1"))
            items = [self._shown(c) for c in self.comments_on(number)]
            if query.get("sort", "desc") == "desc":
                items.reverse()
            pages = max(1, -(-len(items) // per_page))
            self.last_headers = {"X-Page": str(page), "X-Per-Page": str(per_page), "X-Total": str(len(items)),
                                 "X-Total-Pages": str(pages), "X-Next-Page": str(page + 1) if page < pages else "",
                                 "X-Prev-Page": str(page - 1) if page > 1 else ""}
            return 200, items[(page - 1) * per_page: page * per_page]
        if m[2] is None and method == "POST":
            problem = self._fields(f"POST {path}", body, {"body": str},
                                   {"internal": bool, "created_at": str, "merge_request_diff_head_sha": str})
            if problem:
                return self._bad(problem)
            if len(body["body"]) > 1_000_000:
                return too_long
            return 201, self._shown(self._store(number, body["body"], self.user))
        if m[2] is not None and method in ("PUT", "DELETE"):
            note = self.comments.get(int(m[2]))
            if note is not None and (note["_pull"] != number or (note["system"] and method == "PUT")):
                return (403, {"message": "403 Forbidden"}) if note["_pull"] == number else not_found
            return self._comment_write(method, path, note, body, 1_000_000, not_found, too_long)
        return not_found

    # ----------------------------------------------------------------------- Gitea

    def _gitea(self, method: str, path: str, query: dict[str, str], headers: dict[str, str], body: Any) -> Answer:
        if headers.get("authorization") != f"token {self.token}":
            return 401, {"message": "user does not exist [uid: 0, name: ]", "url": "https://gitea.test/api/swagger"}
        if path == "/user" and method == "GET":
            return 200, {"id": self._user_id(self.user), "login": self.user, "full_name": self.user,
                         "email": f"{self.user}@example.com", "is_admin": False}
        repo_path = f"/repos/{self.project}"
        if not path.startswith(repo_path + "/"):
            return 404, {"message": "The target couldn't be found.", "url": "https://gitea.test/api/swagger",
                         "errors": []}
        rest = path.removeprefix(repo_path)
        if rest.startswith("/issues/") and "/comments" in rest:
            return self._gitea_comments(method, path, rest, query, body)
        if rest == "/labels" and method == "GET":
            items = [{"id": i, "name": n, "color": "0e8a16", "description": "", "exclusive": False}
                     for n, i in sorted(self.labels.items(), key=lambda x: x[1])]
            return 200, self._page(items, query)
        if rest == "/labels" and method == "POST":
            problem = self._fields(f"POST {path}", body, {"name": str, "color": str},
                                   {"description": str, "exclusive": bool})
            if problem:
                return self._bad(problem)
            if not re.fullmatch(r"#?[0-9a-fA-F]{6}", body["color"]):
                return 422, {"message": "Color: invalid color", "url": "https://gitea.test/api/swagger"}
            if body["name"] in self.labels:
                return 409, {"message": "label already exists", "url": "https://gitea.test/api/swagger"}
            self.labels[body["name"]] = 100 + len(self.labels)
            return 201, {"id": self.labels[body["name"]], "name": body["name"], "color": body["color"].lstrip("#")}
        if rest == "/pulls" and method == "GET":
            if query.get("state") != "open":
                return self._bad(f"GET {path}: expected state=open, got {query}")
            return 200, self._page(self.open_pulls(), query)
        if rest == "/pulls" and method == "POST":
            problem = self._fields(f"POST {path}", body, {"head": str, "base": str, "title": str},
                                   {"body": str, "labels": list, "assignees": list, "milestone": int})
            if problem:
                return self._bad(problem)
            ids = body.get("labels") or []
            if not all(isinstance(i, int) and i in self.labels.values() for i in ids):
                return 422, {"message": f"labels {ids!r} are not label ids of this repository",
                             "url": "https://gitea.test/api/swagger"}
            if body["base"] not in self.branches or not self._pushed(body["head"]):
                return 404, {"message": "The target couldn't be found.", "url": "https://gitea.test/api/swagger",
                             "errors": []}
            for p in self.open_pulls():
                if p["head"]["ref"] == body["head"] and p["base"]["ref"] == body["base"]:
                    return 409, {"message": f"pull request already exists for these targets [id: {p['id']}, "
                                            f"issue_id: {p['id']}, head_repo_id: 1, base_repo_id: 1, "
                                            f"head_branch: {body['head']}, base_branch: {body['base']}]",
                                 "url": "https://gitea.test/api/swagger"}
            number = len(self.pulls) + 1
            names = {i: n for n, i in self.labels.items()}
            self.pulls[number] = {
                "id": 300 + number, "number": number, "state": "open", "title": body["title"],
                "body": body.get("body"), "html_url": f"https://gitea.test/{self.project}/pulls/{number}",
                "head": {"ref": body["head"], "label": body["head"], "repo": {"full_name": self.project}},
                "base": {"ref": body["base"], "label": body["base"], "repo": {"full_name": self.project}},
                "labels": [{"id": i, "name": names[i]} for i in ids]}
            return 201, self.pulls[number]
        if (m := re.fullmatch(r"/pulls/(\d+)", rest)) and method == "PATCH":
            pr = self.pulls.get(int(m[1]))
            if pr is None:
                return 404, {"message": "The target couldn't be found.", "url": "https://gitea.test/api/swagger",
                             "errors": []}
            problem = self._fields(f"PATCH {path}", body, {}, {"title": str, "body": str, "base": str,
                                                               "state": str, "labels": list})
            if problem:
                return self._bad(problem)
            pr.update({k: v for k, v in body.items() if k in ("title", "body", "state")})
            if "base" in body:
                pr["base"] = {"ref": body["base"], "label": body["base"], "repo": {"full_name": self.project}}
            return 201, pr
        if (m := re.fullmatch(r"/issues/(\d+)/labels", rest)) and method == "POST":
            pr = self.pulls.get(int(m[1]))
            ids = body.get("labels") if isinstance(body, dict) else None
            if pr is None:
                return 404, {"message": "The target couldn't be found.", "url": "https://gitea.test/api/swagger"}
            if not isinstance(ids, list) or not all(isinstance(i, int) and i in self.labels.values() for i in ids):
                return self._bad(f"POST {path}: expected {{'labels': [ids]}}, got {body!r}")
            names = {i: n for n, i in self.labels.items()}
            for i in ids:
                if i not in [x["id"] for x in pr["labels"]]:
                    pr["labels"].append({"id": i, "name": names[i]})
            return 200, pr["labels"]
        return 404, {"message": "The target couldn't be found.", "url": "https://gitea.test/api/swagger", "errors": []}

    def _gitea_comments(self, method: str, path: str, rest: str, query: dict[str, str], body: Any) -> Answer:
        not_found: Answer = (404, {"message": "The target couldn't be found.", "url": "https://gitea.test/api/swagger",
                                   "errors": []})
        if m := re.fullmatch(r"/issues/(\d+)/comments", rest):
            number = int(m[1])
            if number not in self.pulls:
                return not_found
            if method == "GET":
                items = [self._shown(c) for c in self.comments_on(number)]
                self.last_headers = {"X-Total-Count": str(len(items))}
                return 200, self._page(items, query) if self.gitea_pages_comments else items
            if method == "POST":
                problem = self._fields(f"POST {path}", body, {"body": str}, {"updated_at": str})
                if problem:
                    return self._bad(problem)
                if not body["body"]:
                    return 422, {"message": "[Body]: Required", "url": "https://gitea.test/api/swagger"}
                return 201, self._shown(self._store(number, body["body"], self.user))
            return not_found
        if (m := re.fullmatch(r"/issues/comments/(\d+)", rest)) and method in ("PATCH", "DELETE"):
            return self._comment_write(method, path, self.comments.get(int(m[1])), body, 10**9, not_found,
                                       (413, None))
        return not_found

    def _page(self, items: list[Any], query: dict[str, str]) -> list[Any]:
        page, limit = int(query.get("page", "1")), int(query.get("limit", "30"))
        return items[(page - 1) * limit: page * limit]


def _handler(forge: FakeForge) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:
            pass

        def _serve(self) -> None:
            payload = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            headers = {k.lower(): v for k, v in self.headers.items()}  # header names are case-insensitive
            with forge.serving:  # one answer at a time: last_headers belongs to this request
                status, body = forge.handle(self.command, self.path, headers, payload)
                extra = forge.last_headers
            data = body if isinstance(body, bytes) else json.dumps(body).encode() if body is not None else b""
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            for name, value in extra.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = do_PATCH = do_PUT = do_DELETE = _serve

    return Handler


@contextmanager
def fake_forge(kind: str, token: str, **kwargs: Any) -> Iterator[FakeForge]:
    forge = FakeForge(kind, token, **kwargs)
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler(forge))
    forge.port = httpd.server_address[1]
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    try:
        yield forge
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)
