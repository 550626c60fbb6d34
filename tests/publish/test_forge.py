"""Pull requests on GitHub, GitLab and Gitea, against local servers that implement the documented
endpoints and check every request's shape; and the whole loop through the CLI with a real git server."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pygit2
import pytest
from typer.testing import CliRunner, Result

from gitops_gen.cli import app
from gitops_gen.errors import DeclarationError, RemoteError, ToolError, UserError
from gitops_gen.estate.load import load_config
from gitops_gen.publish import forge, pullrequest
from gitops_gen.publish.forge import PullRequestSpec, make_provider, open_or_update
from gitops_gen.publish.forge import http as forge_http
from gitops_gen.review import diff as diff_module
from tests.conftest import snapshot
from tests.forgeserver import FakeForge, fake_forge
from tests.gitserver import GitServer, git_server

TOKEN = "tok_Zq8v1Xr7Ls2Nw4Kd"  # what every fake forge and git server accepts; must never be printed
PROVIDERS = ("github", "gitlab", "gitea")
ENV = {"github": "GITHUB_TOKEN", "gitlab": "GITLAB_TOKEN", "gitea": "GITEA_TOKEN"}
runner = CliRunner(env={"COLUMNS": "200", "NO_COLOR": "1", "GITOPS_GEN_DEBUG": None})


@pytest.fixture(autouse=True)
def _no_proxy_no_tokens(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in (*ENV.values(), "http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY", "SSH_AUTH_SOCK"):
        monkeypatch.delenv(name, raising=False)


def spec(head: str = "gitops-gen/add-tenant-acme", labels: tuple[str, ...] = ("tenant/acme", "cluster/eu-west-1"),
         body: str = "the diff") -> PullRequestSpec:
    return PullRequestSpec("Add tenant acme on eu-west-1", body, head, "main", labels)


class Sleeps(list[float]):
    """An injected sleep: records the pauses instead of taking them."""

    def __call__(self, seconds: float) -> None:
        self.append(seconds)


@pytest.fixture(params=PROVIDERS)
def server(request: pytest.FixtureRequest) -> Iterator[FakeForge]:
    with fake_forge(request.param, TOKEN) as f:
        yield f


def provider_for(f: FakeForge, token: str = TOKEN, sleeps: Sleeps | None = None,
                 project: str | None = None) -> forge.Provider:
    return make_provider(f.kind, f.api_url, project or f.project, token,
                         sleep=sleeps if sleeps is not None else Sleeps())


# --------------------------------------------------------------------------- remotes, forges, API URLs

@pytest.mark.parametrize(("url", "configured", "provider", "api", "project"), [
    ("https://github.com/acme/estate.git", None, "github", "https://api.github.com", "acme/estate"),
    ("git@github.com:acme/estate.git", None, "github", "https://api.github.com", "acme/estate"),
    ("ssh://git@github.com/acme/estate", None, "github", "https://api.github.com", "acme/estate"),
    ("https://x-access-token:secret@github.com/acme/estate.git", None, "github", "https://api.github.com",
     "acme/estate"),
    ("https://github.example.com/acme/estate.git", None, "github", "https://github.example.com/api/v3",
     "acme/estate"),
    ("https://gitlab.com/platform/infra/estate.git", None, "gitlab", "https://gitlab.com/api/v4",
     "platform/infra/estate"),
    ("git@gitlab.example.com:platform/estate.git", None, "gitlab", "https://gitlab.example.com/api/v4",
     "platform/estate"),
    ("https://codeberg.org/acme/estate.git", None, "gitea", "https://codeberg.org/api/v1", "acme/estate"),
    ("http://127.0.0.1:3000/acme/estate.git", "gitea", "gitea", "http://127.0.0.1:3000/api/v1", "acme/estate"),
    ("https://git.example.com/platform/estate.git", "gitea", "gitea", "https://git.example.com/api/v1",
     "platform/estate"),
    ("ssh://git@git.example.com:2222/platform/estate.git", "gitlab", "gitlab", "https://git.example.com/api/v4",
     "platform/estate"),
])
def test_forge_api_and_project_from_the_remote_url(url: str, configured: str | None, provider: str, api: str,
                                                   project: str) -> None:
    location = forge.parse_remote_url(url)
    assert forge.detect_provider(location, configured) == provider
    assert forge.api_url_for(provider, location, None) == api
    assert location.project == project
    assert "secret" not in location.shown


def test_unknown_forge_is_a_clear_error() -> None:
    with pytest.raises(UserError) as exc:
        forge.detect_provider(forge.parse_remote_url("https://user:hunter22@git.example.com/p/e.git"), None)
    assert "cannot tell which forge hosts the remote https://***@git.example.com/p/e.git" in exc.value.message
    assert "forge.provider" in str(exc.value.hint) and "hunter22" not in str(exc.value)


def test_api_url_override_must_carry_no_credentials() -> None:
    location = forge.parse_remote_url("https://github.com/a/b.git")
    assert forge.api_url_for("github", location, "https://ghe.example.com/api/v3/") == "https://ghe.example.com/api/v3"
    with pytest.raises(UserError) as exc:
        forge.api_url_for("github", location, f"https://me:{TOKEN}@ghe.example.com/api/v3")
    assert TOKEN not in str(exc.value) and "--api-url" in exc.value.message


def _config(estate: Path, forge_yaml: str) -> None:
    path = estate / "gitops-gen.yaml"
    path.write_text(path.read_text() + forge_yaml)


def test_forge_section_of_gitops_gen_yaml(estate: Path) -> None:
    _config(estate, "forge:\n  provider: gitlab\n  apiUrl: https://gitlab.example.com/api/v4/\n  remote: upstream\n")
    config = load_config(estate).forge
    assert (config.provider, config.api_url, config.remote) == ("gitlab", "https://gitlab.example.com/api/v4",
                                                                "upstream")


def test_forge_section_accepts_api_url_as_the_issue_spells_it(estate: Path) -> None:
    _config(estate, "forge:\n  provider: gitea\n  api_url: https://gitea.example.com/api/v1\n")
    assert load_config(estate).forge.api_url == "https://gitea.example.com/api/v1"


@pytest.mark.parametrize(("section", "expected", "hint"), [
    ("forge:\n  provider: bitbucket\n", "field 'forge.provider' is 'bitbucket'; it must be one of github, gitlab, "
     "gitea", "set 'provider'"),
    ("forge:\n  apiUrl: https://me:tok_Zq8v1Xr7Ls2Nw4Kd@ghe.example.com/api/v3\n",
     "field 'forge.apiUrl' is 'https://***@ghe.example.com/api/v3', not an http(s) URL", "environment only"),
    ("forge:\n  apiUrl: https://gitlab.example.com/api/v4?private_token=abc\n", "field 'forge.apiUrl' is",
     "base URL"),
    ("forge:\n  token: tok_Zq8v1Xr7Ls2Nw4Kd\n", "field 'forge.token' holds a token, and gitops-gen never reads "
     "tokens from a file", "export GITHUB_TOKEN, GITLAB_TOKEN or GITEA_TOKEN"),
    ("forge:\n  project: a/b\n", "field 'forge.project' is not a known field",
     "known fields here: apiUrl, api_url, provider, remote"),
    ("forge:\n  remote: 'my remote'\n", "field 'forge.remote' is 'my remote', not a git remote name", "origin"),
])
def test_bad_forge_section_names_file_line_field_and_fix(estate: Path, section: str, expected: str,
                                                         hint: str) -> None:
    lines = len((estate / "gitops-gen.yaml").read_text().splitlines())
    _config(estate, section)
    with pytest.raises(DeclarationError) as exc:
        load_config(estate)
    assert exc.value.path == "gitops-gen.yaml" and exc.value.line == lines + 2
    assert expected in exc.value.message and hint in str(exc.value.hint)
    assert TOKEN not in str(exc.value)


# --------------------------------------------------------------------------- each forge: request shapes

def test_opens_a_pull_request_with_the_documented_request(server: FakeForge) -> None:
    provider = provider_for(server)
    pr, action = open_or_update(provider, spec())
    assert action == "created" and pr.number == 1
    assert not server.problems
    [created] = server.pulls.values()
    if server.kind == "github":
        [lookup] = server.calls_to("GET", "/pulls")
        assert lookup.path == "/repos/platform/estate/pulls"
        assert lookup.query == {"head": "platform:gitops-gen/add-tenant-acme", "state": "open", "per_page": "100"}
        [create] = server.calls_to("POST", "/pulls")
        assert create.body == {"title": "Add tenant acme on eu-west-1", "head": "gitops-gen/add-tenant-acme",
                               "base": "main", "body": "the diff"}
        assert create.headers["authorization"] == f"Bearer {TOKEN}"
        assert create.headers["accept"] == "application/vnd.github+json"
        assert create.headers["x-github-api-version"] == "2022-11-28"
        [labels] = server.calls_to("POST", "/issues/1/labels")
        assert labels.body == {"labels": ["tenant/acme", "cluster/eu-west-1"]}
        assert pr.url == "https://github.test/platform/estate/pull/1"
        assert [x["name"] for x in created["labels"]] == ["tenant/acme", "cluster/eu-west-1"]
    elif server.kind == "gitlab":
        [lookup] = server.calls_to("GET", "/merge_requests")
        assert lookup.path == "/api/v4/projects/platform%2Festate/merge_requests"
        assert lookup.query == {"source_branch": "gitops-gen/add-tenant-acme", "state": "opened"}
        [create] = server.calls_to("POST", "/merge_requests")
        assert create.body == {"source_branch": "gitops-gen/add-tenant-acme", "target_branch": "main",
                               "title": "Add tenant acme on eu-west-1", "description": "the diff",
                               "labels": "tenant/acme,cluster/eu-west-1"}
        assert create.headers["private-token"] == TOKEN
        assert pr.url == "https://gitlab.test/platform/estate/-/merge_requests/1"
        assert created["labels"] == ["tenant/acme", "cluster/eu-west-1"]
    else:
        assert [c.method + " " + c.path for c in server.calls] == [
            "GET /api/v1/repos/platform/estate/pulls", "GET /api/v1/repos/platform/estate/labels",
            "POST /api/v1/repos/platform/estate/labels", "POST /api/v1/repos/platform/estate/labels",
            "POST /api/v1/repos/platform/estate/pulls"]
        assert server.calls[0].query == {"state": "open", "page": "1", "limit": "50"}
        assert server.calls[2].body == {"name": "tenant/acme", "color": "#0e8a16"}
        assert server.calls[3].body == {"name": "cluster/eu-west-1", "color": "#1d76db"}
        create = server.calls[-1]
        assert create.body == {"head": "gitops-gen/add-tenant-acme", "base": "main",
                               "title": "Add tenant acme on eu-west-1", "body": "the diff", "labels": [100, 101]}
        assert create.headers["authorization"] == f"token {TOKEN}"
        assert pr.url == "https://gitea.test/platform/estate/pulls/1"
        assert [x["name"] for x in created["labels"]] == ["tenant/acme", "cluster/eu-west-1"]
    assert all(TOKEN not in c.path and TOKEN not in json.dumps(c.query) for c in server.calls)


def test_running_again_updates_the_open_pull_request(server: FakeForge) -> None:
    provider = provider_for(server)
    open_or_update(provider, spec(body="first"))
    pr, action = open_or_update(provider, spec(body="second", labels=("tenant/acme", "cluster/us-east-1")))
    assert (action, pr.number) == ("updated", 1)
    assert len(server.pulls) == 1 and not server.problems
    [only] = server.pulls.values()
    if server.kind == "github":
        [patch] = server.calls_to("PATCH", "/pulls/1")
        assert patch.body == {"title": "Add tenant acme on eu-west-1", "body": "second", "base": "main"}
        assert only["body"] == "second"
        assert [x["name"] for x in only["labels"]] == ["tenant/acme", "cluster/eu-west-1", "cluster/us-east-1"]
    elif server.kind == "gitlab":
        [put] = server.calls_to("PUT", "/merge_requests/1")
        assert put.body == {"target_branch": "main", "title": "Add tenant acme on eu-west-1", "description": "second",
                            "add_labels": "tenant/acme,cluster/us-east-1"}
        assert only["description"] == "second"
        assert only["labels"] == ["tenant/acme", "cluster/eu-west-1", "cluster/us-east-1"]
    else:
        [patch] = server.calls_to("PATCH", "/pulls/1")
        assert patch.body == {"base": "main", "title": "Add tenant acme on eu-west-1", "body": "second"}
        [add] = server.calls_to("POST", "/issues/1/labels")
        assert add.body == {"labels": [100, 102]}  # the existing label reused, the missing one created
        assert only["body"] == "second"
        assert [x["name"] for x in only["labels"]] == ["tenant/acme", "cluster/eu-west-1", "cluster/us-east-1"]


def test_an_update_keeps_the_boxes_reviewers_ticked(server: FakeForge) -> None:
    provider = provider_for(server)
    checklist = "## diff\n\n- [ ] Only the tenants meant\n- [ ] No high risk\n- [ ] CI passed\n"
    open_or_update(provider, spec(body=checklist))
    field = "description" if server.kind == "gitlab" else "body"
    # A reviewer ticks the second box on the forge.
    server.pulls[1][field] = checklist.replace("- [ ] No high risk", "- [x] No high risk")
    open_or_update(provider, spec(body=checklist.replace("## diff", "## diff, again")))
    assert server.pulls[1][field] == ("## diff, again\n\n- [ ] Only the tenants meant\n- [x] No high risk\n"
                                      "- [ ] CI passed\n")
    assert not server.problems


def test_keep_ticks() -> None:
    assert forge.keep_ticks(None, "- [ ] a\n") == "- [ ] a\n"
    assert forge.keep_ticks("- [X] a\n- [ ] b\n", "- [ ] a\n- [ ] b\n- [ ] c") == "- [x] a\n- [ ] b\n- [ ] c"
    assert forge.keep_ticks("* [x] gone\n", "- [ ] new\n") == "- [ ] new\n"


def test_a_create_that_races_with_another_updates_the_winner(server: FakeForge) -> None:
    provider = provider_for(server)
    open_or_update(provider, spec(body="theirs"))
    # The lookup misses the open pull request (it was opened meanwhile): the forge's "already exists"
    # answer to the create leads to the update, not to an error or a second pull request.
    lookup = {"github": "/pulls$", "gitlab": "/merge_requests$", "gitea": "/pulls$"}[server.kind]
    server.fail("GET", lookup, 200, [])
    pr, action = open_or_update(provider, spec(body="ours"))
    assert (action, pr.number, len(server.pulls)) == ("updated", 1, 1)
    [only] = server.pulls.values()
    assert only.get("body", only.get("description")) == "ours"
    assert not server.problems


def test_gitea_pages_through_labels_and_pull_requests() -> None:
    with fake_forge("gitea", TOKEN) as server:
        server.labels = {f"other/{i}": 1 + i for i in range(60)} | {"tenant/acme": 500}
        provider = provider_for(server)
        open_or_update(provider, spec(labels=("tenant/acme",)))
        pages = [c.query["page"] for c in server.calls_to("GET", "/labels")]
        assert pages == ["1", "2"]
        assert server.calls_to("POST", "/pulls")[0].body["labels"] == [500]
        assert not server.calls_to("POST", "/labels")


# --------------------------------------------------------------------------- faults

GITHUB_403 = {"message": "Resource not accessible by personal access token",
              "documentation_url": "https://docs.github.com/rest/pulls/pulls#create-a-pull-request", "status": "403"}
GITLAB_403 = {"message": "403 Forbidden"}
GITEA_403 = {"message": "user should have permission to write to the target branch", "url": "x"}
CONFLICT = {"github": {"message": "Conflict", "status": "409"}, "gitlab": {"message": ["Conflict"]},
            "gitea": {"message": "conflict", "url": "x"}}


@pytest.mark.parametrize("status", [401, 403, 404, 409, 422])
def test_client_errors_say_what_failed_and_are_not_retried(server: FakeForge, status: int) -> None:
    sleeps = Sleeps()
    token, project = TOKEN, server.project
    if status == 401:
        token = "tok_wrong_Pq0000000000"
    elif status == 404:
        project = "platform/elsewhere"
    elif status == 403:
        server.fail("POST", r"/(pulls|merge_requests)$", 403,
                    {"github": GITHUB_403, "gitlab": GITLAB_403, "gitea": GITEA_403}[server.kind])
    elif status == 409:
        server.fail("POST", r"/(pulls|merge_requests)$", 409, CONFLICT[server.kind])
    else:  # an unknown base: GitHub and GitLab answer 422, the fake Gitea too for this test
        server.fail("POST", r"/(pulls|merge_requests)$", 422, {
            "github": {"message": "Validation Failed", "errors": [{"resource": "PullRequest", "field": "base",
                                                                   "code": "invalid"}]},
            "gitlab": {"message": ["Target branch doesn't exist"]},
            "gitea": {"message": "Invalid PullRequest: There are no changes between the head and the base",
                      "url": "x"}}[server.kind])
    with pytest.raises(RemoteError) as exc:
        open_or_update(provider_for(server, token=token, sleeps=sleeps, project=project), spec())
    error = exc.value
    text = str(error)
    assert error.status == status and error.exit_code == 2
    assert f"failed with {status}" in error.message
    assert forge.TITLES[server.kind] + " API:" in error.message
    expected = {
        401: (f"refused the token in ${ENV[server.kind]}", "expired or revoked"),
        403: ("did not allow it", "permission"),
        404: ("does not know this repository", "remote's URL"),
        409: ("reports a conflict", "open already"),
        422: ("refused the request", "base branch exists"),
    }[status]
    assert expected[0] in error.message and expected[1] in str(error.hint)
    assert TOKEN not in text and token not in text
    assert sleeps == [], "4xx answers are never retried"
    assert not server.problems
    if status == 403 and server.kind == "github":
        assert "Resource not accessible by personal access token" in error.message
    if status == 422 and server.kind == "github":
        assert "resource=PullRequest field=base code=invalid" in error.message


@pytest.mark.parametrize("status", [500, 502, 503])
def test_server_errors_are_retried_with_backoff_then_reported(server: FakeForge, status: int) -> None:
    sleeps = Sleeps()
    server.fail("GET", ".", status, {"message": "upstream unavailable"}, times=10)
    with pytest.raises(RemoteError) as exc:
        open_or_update(provider_for(server, sleeps=sleeps), spec())
    assert sleeps == [1.0, 2.0, 4.0]
    assert len(server.calls) == 4 and not server.pulls
    assert f"failed with {status}" in exc.value.message and "(4 attempts)" in exc.value.message
    assert "upstream unavailable" in exc.value.message and "wait" in str(exc.value.hint)


def test_a_server_error_then_success_completes_with_one_pull_request(server: FakeForge) -> None:
    sleeps = Sleeps()
    create = r"/(pulls|merge_requests)$"
    server.fail("POST", create, 502, None, times=2)
    pr, action = open_or_update(provider_for(server, sleeps=sleeps), spec())
    assert (action, pr.number, len(server.pulls)) == ("created", 1, 1)
    assert sleeps == [1.0, 2.0]


def test_retry_after_is_honoured_up_to_a_limit() -> None:
    with fake_forge("github", TOKEN) as server:
        sleeps = Sleeps()
        server.fail("GET", "/pulls$", 503, None, headers={"Retry-After": "3"})
        server.fail("GET", "/pulls$", 502, None, headers={"Retry-After": "86400"})
        server.fail("GET", "/pulls$", 500, None, headers={"Retry-After": "Wed, 21 Oct 2015 07:28:00 GMT"})
        assert provider_for(server, sleeps=sleeps).find_open("x") is None
        assert sleeps == [3.0, forge_http.MAX_RETRY_AFTER, 4.0]  # a date is not honoured: the backoff is


def test_network_down_retries_then_says_what_to_check() -> None:
    with fake_forge("gitlab", TOKEN) as server:
        api = server.api_url
    sleeps = Sleeps()  # the server is gone: connections are refused
    provider = make_provider("gitlab", api, "platform/estate", TOKEN, sleep=sleeps)
    with pytest.raises(RemoteError) as exc:
        open_or_update(provider, spec())
    assert sleeps == [1.0, 2.0, 4.0]
    assert exc.value.status is None
    assert f"GitLab API: GET {api}/projects/platform%2Festate/merge_requests: could not connect after 4 attempts" \
        in exc.value.message
    assert "network" in str(exc.value.hint) and "forge.apiUrl" in str(exc.value.hint)


def test_an_answer_that_is_not_json_points_at_the_api_url() -> None:
    with fake_forge("gitea", TOKEN) as server:
        server.fail("GET", ".", 200, b"<!DOCTYPE html><html>Sign in</html>")
        with pytest.raises(RemoteError) as exc:
            provider_for(server).find_open("x")
    assert "answered with something that is not JSON: '<!DOCTYPE html>" in exc.value.message
    assert "https://HOST/api/v1 for Gitea" in str(exc.value.hint)


def test_a_token_echoed_by_the_forge_is_masked(server: FakeForge) -> None:
    server.fail("POST", r"/(pulls|merge_requests)$", 400, {"message": f"bad token {TOKEN} in header"})
    with pytest.raises(RemoteError) as exc:
        open_or_update(provider_for(server), spec())
    assert TOKEN not in str(exc.value) and "bad token *** in header" in exc.value.message


# --------------------------------------------------------------------------- the whole loop, through the CLI

@pytest.fixture
def remote_estate(estate: Path, tmp_path: Path) -> Iterator[tuple[Path, GitServer]]:
    """The estate on main, pushed to a real git server (token over HTTP Basic) as platform/estate.git,
    with origin/main tracking it."""
    with git_server(tmp_path / "server", TOKEN) as git:
        bare = git.bare("platform/estate.git")
        _git(estate, "checkout", "-q", "-B", "main")
        _git(estate, "push", "-q", str(bare), "main")
        _git(estate, "remote", "add", "origin", git.url("platform/estate.git"))
        _git(estate, "update-ref", "refs/remotes/origin/main", "main")
        _git(estate, "config", "gitops-gen-test.bare", str(bare))
        yield estate, git


def _git(root: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(root), *args], check=True, capture_output=True, text=True).stdout.strip()


def _configure(estate: Path, provider: str, api_url: str | None) -> None:
    """forge.provider (and forge.apiUrl) in gitops-gen.yaml, committed on main and pushed."""
    section = f"forge:\n  provider: {provider}\n" + (f"  apiUrl: {api_url}\n" if api_url else "")
    _config(estate, section)
    _git(estate, "commit", "-q", "-am", "Open pull requests on the test forge")
    bare = _git(estate, "config", "gitops-gen-test.bare")
    _git(estate, "push", "-q", bare, "main")
    _git(estate, "update-ref", "refs/remotes/origin/main", "main")


def cli(root: Path, *args: str) -> Result:
    return runner.invoke(app, [args[0], "--repo", str(root), *args[1:]])


def remote_refs(git: GitServer) -> dict[str, str]:
    out = _git(git.root / "platform/estate.git", "show-ref")
    return {ref: sha for sha, ref in (line.split() for line in out.splitlines())}


def no_token_anywhere(root: Path, *outputs: str) -> None:
    for text in outputs:
        assert TOKEN not in text
    for path, _ in snapshot(root).items():
        if path.endswith("/"):
            continue
        assert TOKEN.encode() not in (root / path).read_bytes(), f"the token was written to {path}"


ADD_NEWCO = ["add-tenant", "newco", "--cluster", "eu-west-1", "--host", "newco.wfg.example.com"]


@pytest.mark.parametrize("provider", PROVIDERS)
def test_add_tenant_pr_pushes_and_opens_a_reviewed_pull_request(remote_estate: tuple[Path, GitServer],
                                                                 provider: str,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    estate, git = remote_estate
    with fake_forge(provider, TOKEN, git_dir=git.root / "platform/estate.git") as server:
        _configure(estate, provider, server.api_url)
        monkeypatch.setenv(ENV[provider], TOKEN)
        result = cli(estate, *ADD_NEWCO, "--pr")
        assert result.exit_code == 0, result.output
        branch = "gitops-gen/add-tenant-newco"
        commit = str(pygit2.Repository(str(estate)).references[f"refs/heads/{branch}"].target)
        assert remote_refs(git)[f"refs/heads/{branch}"] == commit
        [pr] = server.pulls.values()
        assert pr["title"] == "Add tenant newco on eu-west-1"
        body = str(pr["description"] if provider == "gitlab" else pr["body"])
        assert body.startswith("## gitops-gen diff: `origin/main (")
        assert "| newco on eu-west-1 | added |" in body and "### Risks" in body
        assert "### Review checklist" in body and "- [ ] " in body
        labels = pr["labels"] if provider == "gitlab" else [x["name"] for x in pr["labels"]]
        assert labels == ["tenant/newco", "cluster/eu-west-1"]
        assert f"Pushed {branch} ({commit[:12]}) to origin" in result.output
        assert f"Opened {'merge' if provider == 'gitlab' else 'pull'} request #1 into main on" in result.output
        assert not server.problems
        no_token_anywhere(estate, result.output)

        # Running it again for that branch updates, never duplicates.
        again = cli(estate, "pr", "--branch", branch)
        assert again.exit_code == 0, again.output
        assert len(server.pulls) == 1 and "Updated" in again.output and "#1" in again.output
        assert not server.problems
        no_token_anywhere(estate, again.output)


def test_pr_json_and_dry_run(remote_estate: tuple[Path, GitServer], monkeypatch: pytest.MonkeyPatch) -> None:
    estate, git = remote_estate
    with fake_forge("github", TOKEN, git_dir=git.root / "platform/estate.git") as server:
        _configure(estate, "github", None)
        result = cli(estate, *ADD_NEWCO, "--no-commit")
        assert result.exit_code == 0
        _git(estate, "checkout", "-q", "-b", "newco")
        _git(estate, "add", "-A")
        _git(estate, "commit", "-q", "-m", "Add tenant newco\n\nBy hand.")
        dry = cli(estate, "pr", "--dry-run", "--api-url", server.api_url, "--output", "json")
        assert dry.exit_code == 0, dry.output
        data = json.loads(dry.output)
        assert data["action"] == "would-open" and data["pushed"] is False and data["tokenSet"] is False
        assert (data["provider"], data["apiUrl"], data["base"], data["branch"]) == (
            "github", server.api_url, "main", "newco")
        assert data["title"] == "Add tenant newco" and data["labels"] == ["tenant/newco", "cluster/eu-west-1"]
        assert "### Review checklist" in data["body"]
        assert server.calls == [] and "refs/heads/newco" not in remote_refs(git)

        monkeypatch.setenv("GITHUB_TOKEN", TOKEN)
        real = cli(estate, "pr", "--api-url", server.api_url, "--output", "json")
        assert real.exit_code == 0, real.output
        data = json.loads(real.output)
        assert (data["action"], data["number"], data["pushed"], data["tokenSet"]) == ("created", 1, True, True)
        assert data["url"] == "https://github.test/platform/estate/pull/1"
        no_token_anywhere(estate, real.output)


def test_pr_faults_lose_nothing_and_a_rerun_finishes(remote_estate: tuple[Path, GitServer],
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    estate, git = remote_estate
    monkeypatch.setattr(forge_http, "DEFAULT_BACKOFF", 0.0)
    with fake_forge("github", TOKEN, git_dir=git.root / "platform/estate.git") as server:
        _configure(estate, "github", server.api_url)
        monkeypatch.setenv("GITHUB_TOKEN", TOKEN)
        server.fail("POST", "/pulls$", 503, {"message": "Service Unavailable"}, times=4)
        result = cli(estate, *ADD_NEWCO, "--pr")
        assert result.exit_code == 2, result.output
        branch = "gitops-gen/add-tenant-newco"
        repo = pygit2.Repository(str(estate))
        commit = str(repo.references[f"refs/heads/{branch}"].target)
        assert repo.head.shorthand == "main", "the user's checkout is left as it is"
        assert remote_refs(git)[f"refs/heads/{branch}"] == commit, "pushed before the forge failed"
        assert f"Tenant newco added: committed {commit[:12]} on branch {branch}, based on origin/main" in result.output
        assert "GitHub API: POST" in result.output and "failed with 503" in result.output
        assert f"the branch {branch} and its commit {commit[:12]} are kept and pushed to origin" in result.output
        assert f"run 'gitops-gen pr --branch {branch}' to finish" in result.output
        assert not server.pulls

        # A wrong token next: 401, named, masked.
        monkeypatch.setenv("GITHUB_TOKEN", "tok_revoked_000000000")
        denied = cli(estate, "pr", "--branch", branch)
        assert denied.exit_code == 2
        assert "refused the token in $GITHUB_TOKEN" in denied.output and "tok_revoked" not in denied.output

        monkeypatch.setenv("GITHUB_TOKEN", TOKEN)
        again = cli(estate, "pr", "--branch", branch)
        assert again.exit_code == 0, again.output
        assert len(server.pulls) == 1 and "Opened pull request #1" in again.output
        no_token_anywhere(estate, result.output, denied.output, again.output)


def test_pr_with_the_push_failing_keeps_the_commit(remote_estate: tuple[Path, GitServer],
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    estate, git = remote_estate
    with fake_forge("gitea", TOKEN, git_dir=git.root / "platform/estate.git") as server:
        _configure(estate, "gitea", server.api_url)
        url = _git(estate, "remote", "get-url", "origin")
        monkeypatch.setenv("GITEA_TOKEN", TOKEN)
        _git(estate, "remote", "set-url", "origin", "http://127.0.0.1:9/platform/estate.git")  # nothing listens
        result = cli(estate, *ADD_NEWCO, "--pr", "--output", "json")
        assert result.exit_code == 2
        data = json.loads(result.stdout)
        assert data["commit"] and data["publish"]["error"].startswith("pushing gitops-gen/add-tenant-newco to "
                                                                      "http://127.0.0.1:9/platform/estate.git failed")
        assert "check the network" in result.output
        assert not server.calls and "refs/heads/gitops-gen/add-tenant-newco" not in remote_refs(git)

        _git(estate, "remote", "set-url", "origin", url)
        again = cli(estate, "pr", "--branch", "gitops-gen/add-tenant-newco")
        assert again.exit_code == 0, again.output
        assert remote_refs(git)["refs/heads/gitops-gen/add-tenant-newco"] == data["commit"]
        assert len(server.pulls) == 1


def test_pr_refuses_bad_combinations_before_writing(remote_estate: tuple[Path, GitServer],
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    estate, _git_server = remote_estate
    _configure(estate, "github", "http://127.0.0.1:9")
    before = snapshot(estate)
    for args, message in [
        (["--pr", "--no-commit"], "--pr pushes the commit, and --no-commit makes none"),
        (["--push", "--dry-run"], "--push pushes the commit, and --dry-run makes none"),
        (["--api-url", "https://api.github.com"], "--api-url is for pushing and pull requests"),
        (["--pr"], "$GITHUB_TOKEN is not set"),
        (["--pr", "--remote", "upstream"], "the repository has no remote 'upstream' (remotes: origin)"),
        (["--pr", "--api-url", f"https://u:{TOKEN}@ghe.example.com"], "is not an http(s) URL without credentials"),
    ]:
        if args == ["--pr", "--remote", "upstream"]:
            monkeypatch.setenv("GITHUB_TOKEN", TOKEN)
        result = cli(estate, *ADD_NEWCO, *args)
        assert result.exit_code == 2, (args, result.output)
        assert message in result.output, (args, result.output)
        assert TOKEN not in result.output
        assert snapshot(estate) == before, f"{args} wrote something"


def test_pr_on_the_base_branch_or_without_changes_is_refused(remote_estate: tuple[Path, GitServer],
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    estate, _ = remote_estate
    _configure(estate, "gitlab", "http://127.0.0.1:9/api/v4")
    monkeypatch.setenv("GITLAB_TOKEN", TOKEN)
    on_main = cli(estate, "pr")
    assert on_main.exit_code == 2 and "'main' is the base branch itself" in on_main.output
    _git(estate, "checkout", "-q", "-b", "empty")
    empty = cli(estate, "pr")
    assert empty.exit_code == 2 and "has no commit that origin/main lacks" in empty.output
    unknown = cli(estate, "pr", "--base", "release")
    assert unknown.exit_code == 2 and "the base branch 'release' exists neither as origin/release nor locally" \
        in unknown.output


def test_labels_from_the_changed_paths() -> None:
    assert pullrequest.labels_for([
        "overlays/acme/tenant.yaml", "overlays/acme/eu-west-1/kustomization.yaml",
        "clusters/us-east-1/tenants/globex.yaml", "argocd/projects/initech.yaml", "base/kustomization.yaml",
        "clusters/eu-west-1/argocd/applicationset.yaml"]) == (
        "tenant/acme", "tenant/globex", "tenant/initech", "cluster/eu-west-1", "cluster/us-east-1")
    many = [f"overlays/t{i:02}/tenant.yaml" for i in range(11)]
    assert pullrequest.labels_for(many) == ()


def test_a_diff_that_cannot_be_rendered_still_opens_the_pull_request(remote_estate: tuple[Path, GitServer],
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    estate, git = remote_estate

    def no_kustomize(*_args: object, **_kwargs: object) -> None:
        raise ToolError("kubectl is not installed or not on PATH", "install kubectl")

    monkeypatch.setattr(diff_module, "diff", no_kustomize)  # pullrequest calls it through the module
    with fake_forge("gitlab", TOKEN, git_dir=git.root / "platform/estate.git") as server:
        _configure(estate, "gitlab", server.api_url)
        monkeypatch.setenv("GITLAB_TOKEN", TOKEN)
        result = cli(estate, *ADD_NEWCO, "--pr")
        assert result.exit_code == 0, result.output
        [mr] = server.pulls.values()
        assert "> **gitops-gen diff failed: kubectl is not installed or not on PATH**" in mr["description"]
        assert "### Review checklist" in mr["description"]
        assert "warning: gitops-gen diff failed" in result.output


def test_the_description_is_cut_to_size(remote_estate: tuple[Path, GitServer], monkeypatch: pytest.MonkeyPatch) -> None:
    estate, git = remote_estate
    with fake_forge("github", TOKEN, git_dir=git.root / "platform/estate.git") as server:
        _configure(estate, "github", server.api_url)
        monkeypatch.setenv("GITHUB_TOKEN", TOKEN)
        assert cli(estate, *ADD_NEWCO, "--no-commit").exit_code == 0
        _git(estate, "checkout", "-q", "-b", "newco")
        _git(estate, "add", "-A")
        _git(estate, "commit", "-q", "-m", "Add tenant newco")
        result = cli(estate, "pr", "--max-bytes", "6000")
        assert result.exit_code == 0, result.output
        [pr] = server.pulls.values()
        assert len(pr["body"].encode()) <= 6000
        assert "Cut to stay under" in pr["body"] and pr["body"].rstrip().endswith("updates this description.</sub>")
    body = "x" * 70_000
    fitted = pullrequest._fit(body, 65_536)
    assert len(fitted) == 65_536 and "cut to the forge's size limit" in fitted


def test_a_missing_base_is_refused_before_the_commit(remote_estate: tuple[Path, GitServer],
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """--base names what the branch starts from, so a base that does not exist stops the command before it
    writes anything; a base that exists locally only stops the pull request after the commit, which is kept."""
    estate, _ = remote_estate
    _configure(estate, "github", "http://127.0.0.1:9")
    monkeypatch.setenv("GITHUB_TOKEN", TOKEN)
    before = snapshot(estate)
    result = cli(estate, *ADD_NEWCO, "--pr", "--base", "release")
    assert result.exit_code == 2
    assert "'release' names no commit in this repository" in result.output
    assert snapshot(estate) == before
    _git(estate, "branch", "release")
    _git(estate, "remote", "set-url", "origin", "http://127.0.0.1:9/platform/estate.git")  # nothing listens
    result = cli(estate, *ADD_NEWCO, "--pr", "--base", "release")
    assert result.exit_code == 2
    assert "run 'gitops-gen pr --branch gitops-gen/add-tenant-newco --base release' to finish" in result.output
    assert "refs/heads/gitops-gen/add-tenant-newco" in pygit2.Repository(str(estate)).references


# --------------------------------------------------------------------------- the token stays with its host

@pytest.mark.parametrize("url", ["http://gitea.lan:3000/acme/estate.git", "http://10.0.0.7/acme/estate.git"])
def test_an_api_url_in_clear_off_loopback_is_refused(url: str) -> None:
    location = forge.parse_remote_url(url)
    with pytest.raises(UserError) as exc:
        forge.api_url_for("gitea", location, None)
    assert "is not an https:// URL" in exc.value.message and exc.value.exit_code == 2
    with pytest.raises(UserError) as override:
        forge.api_url_for("gitea", forge.parse_remote_url("https://gitea.lan/a/b.git"), "http://gitea.lan/api/v1")
    assert "--api-url 'http://gitea.lan/api/v1' is not an https:// URL" in override.value.message
    with pytest.raises(UserError):
        make_provider("gitea", "http://gitea.lan/api/v1", "a/b", TOKEN)
    for loopback in ("http://127.0.0.1:3000/api/v1", "http://localhost:3000/api/v1", "http://[::1]:3000/api/v1"):
        make_provider("gitea", loopback, "a/b", TOKEN)


@pytest.mark.parametrize("status", [301, 302, 307, 308])
def test_a_redirect_to_another_origin_is_never_followed_with_the_token(server: FakeForge, status: int) -> None:
    with fake_forge(server.kind, TOKEN) as elsewhere:
        target = f"{elsewhere.api_url}/moved"
        server.fail("GET", ".", status, None, headers={"Location": target})
        with pytest.raises(RemoteError) as exc:
            open_or_update(provider_for(server), spec())
        assert elsewhere.calls == [], "the other host and port got a request"
    message = exc.value.message
    assert f"redirected from {server.api_url}" in message and f"to {target}" in message, message
    assert "never sends the token there" in message and "--api-url" in str(exc.value.hint)
    assert TOKEN not in str(exc.value)
    assert not server.pulls


def test_a_redirect_within_the_api_keeps_the_method_body_and_token(server: FakeForge) -> None:
    """A renamed repository answers 307 to the new path on the same host (GitHub's documented behaviour for
    non-GET requests): followed, with the same method, JSON body and credentials."""
    create = {"github": "/pulls", "gitlab": "/merge_requests", "gitea": "/pulls"}[server.kind]
    posts = [c for c in server.calls if c.method == "POST"]
    assert posts == []
    server.fail("POST", create + "$", 307, None, headers={"Location": "REPLACED"})
    # The fault answers with a Location to the very path requested: resolved by the fake below.
    fault = server.faults[-1]
    original = server.handle

    def handle(method: str, raw: str, headers: dict[str, str], payload: bytes) -> tuple[int, object]:
        if fault.times > 0 and method == "POST" and fault.path.search(raw.partition("?")[0]):
            fault.headers["Location"] = raw
        return original(method, raw, headers, payload)

    server.handle = handle  # type: ignore[method-assign]
    pr, _ = open_or_update(provider_for(server), spec())
    posts = [c for c in server.calls if c.method == "POST" and c.path.endswith(create)]
    assert len(posts) == 2 and posts[0].body == posts[1].body and posts[1].body["title"] == spec().title
    assert pr.number == 1 and len(server.open_pulls()) == 1
    assert not server.problems


def test_the_pull_request_description_masks_secret_looking_literals(remote_estate: tuple[Path, GitServer]) -> None:
    estate, _git_server = remote_estate
    _configure(estate, "gitea", None)
    k = estate / "overlays/acme/eu-west-1/kustomization.yaml"
    k.write_text(k.read_text().replace("  - WFGEN_AUTH_MODE=application\n", "  - WFGEN_AUTH_MODE=application\n"
                                       "  - WFGEN_ADMIN_PASSWORD=Sup3rS3cretValue\n"))
    _git(estate, "checkout", "-q", "-b", "literal")
    _git(estate, "commit", "-q", "-am", "A literal by hand")
    dry = cli(estate, "pr", "--dry-run", "--api-url", "https://forge.example.com/api/v1", "--output", "json")
    assert dry.exit_code == 0, dry.output
    body = json.loads(dry.output)["body"]
    assert "Sup3rS3cretValue" not in dry.output and "WFGEN_ADMIN_PASSWORD: '*** (masked" in body
