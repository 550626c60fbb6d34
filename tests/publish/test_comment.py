"""``gitops-gen comment``: the diff as one sticky comment on a pull request, against the fake GitHub, GitLab
and Gitea servers (tests/forgeserver.py) and a real estate in a real git repository with real changes."""

from __future__ import annotations

import json
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner, Result

from gitops_gen.cli import app
from gitops_gen.commands.tenants import add_tenant
from gitops_gen.errors import UserError
from gitops_gen.estate.model import HostRoute, Tenant
from gitops_gen.publish import comment, forge
from gitops_gen.publish.forge import Comment, Provider, make_provider
from tests.forgeserver import FakeForge, fake_forge

TOKEN = "tok_Cm9w2Yx4Ks7Lp3Qd"  # what every fake forge accepts; must never be printed
PROVIDERS = ("github", "gitlab", "gitea")
ENV = {"github": "GITHUB_TOKEN", "gitlab": "GITLAB_TOKEN", "gitea": "GITEA_TOKEN"}
REMOTE = {"github": "https://github.com/platform/estate.git", "gitlab": "https://gitlab.com/platform/estate.git",
          "gitea": "https://codeberg.org/platform/estate.git"}
#: The write a forge takes to rewrite a comment.
EDIT = {"github": "PATCH", "gitlab": "PUT", "gitea": "PATCH"}
PR = 7
runner = CliRunner(env={"COLUMNS": "200", "NO_COLOR": "1", "GITOPS_GEN_DEBUG": None})


@pytest.fixture(autouse=True)
def _no_ci_no_tokens(monkeypatch: pytest.MonkeyPatch) -> None:
    """The test's own CI must not say which pull request this is, nor lend its token."""
    for name in (*ENV.values(), *comment.PR_ENV, "http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture(params=PROVIDERS)
def server(request: pytest.FixtureRequest) -> Iterator[FakeForge]:
    with fake_forge(request.param, TOKEN) as f:
        f.add_pull(PR)
        yield f


def _git(root: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(root), *args], check=True, capture_output=True, text=True).stdout.strip()


@pytest.fixture
def branches(estate: Path) -> Path:
    """main holds the estate; 'feature' adds tenant newco, 'feature-2' (a later push) adds initech as well."""
    add_tenant(estate, Tenant("newco", ("eu-west-1",), (HostRoute("newco.wfg.example.com", "eu-west-1"),)),
               branch="feature", base="main")
    add_tenant(estate, Tenant("initech", ("us-east-1",), (HostRoute("initech.wfg.example.com", "us-east-1"),)),
               branch="feature-2", base="feature")
    return estate


def on_forge(estate: Path, f: FakeForge, monkeypatch: pytest.MonkeyPatch, token: bool = True) -> None:
    """origin on the forge's usual host (which tells the forge), the token in its variable."""
    _git(estate, "remote", "add", "origin", REMOTE[f.kind])
    if token:
        monkeypatch.setenv(ENV[f.kind], TOKEN)


def cli(estate: Path, f: FakeForge, *args: str) -> Result:
    result = runner.invoke(app, ["comment", *args, "--api-url", f.api_url, "--repo", str(estate)])
    assert TOKEN not in result.output
    return result


def run_json(estate: Path, f: FakeForge, *args: str) -> dict[str, Any]:
    result = cli(estate, f, *args, "--output", "json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert isinstance(data, dict)
    return data


def writes(f: FakeForge, since: int = 0) -> list[tuple[str, str]]:
    return [(c.method, c.path) for c in f.calls[since:] if c.method in ("POST", "PATCH", "PUT", "DELETE")]


def comment_path(f: FakeForge, comment_id: int | None = None) -> str:
    """Where the forge keeps pull request #PR's comments (or one of them)."""
    if f.kind == "gitlab":
        base = f"{f.prefix}/projects/platform%2Festate/merge_requests/{PR}/notes"
        return base if comment_id is None else f"{base}/{comment_id}"
    repo = f"{f.prefix}/repos/platform/estate/issues"
    return f"{repo}/{PR}/comments" if comment_id is None else f"{repo}/comments/{comment_id}"


def provider_for(f: FakeForge) -> Provider:
    return make_provider(f.kind, f.api_url, f.project, TOKEN, sleep=lambda _s: None)


# --------------------------------------------------------------------------- create, update, unchanged

def test_the_comment_is_created_then_updated_in_place_then_left_alone(
        branches: Path, server: FakeForge, monkeypatch: pytest.MonkeyPatch) -> None:
    on_forge(branches, server, monkeypatch)
    first = run_json(branches, server, "main", "feature", "--pr", str(PR))
    [part] = first["parts"]
    assert (part["part"], part["of"], part["action"], first["deleted"], first["pull_request"]) == (
        1, 1, "create", [], PR)
    assert writes(server) == [("POST", comment_path(server))]
    [posted] = server.comments_on(PR)
    assert posted["id"] == part["id"] and posted["body"].startswith("<!-- gitops-gen:diff part=1/1 -->\n")
    first_body = str(posted["body"])
    assert "newco" in first_body and "initech" not in first_body
    assert part["bytes"] == len(posted["body"].encode())
    expected_url = {"github": f"https://github.test/platform/estate/pull/{PR}#issuecomment-{posted['id']}",
                    "gitlab": f"https://gitlab.test/platform/estate/-/merge_requests/{PR}#note_{posted['id']}",
                    "gitea": f"https://gitea.test/platform/estate/pulls/{PR}#issuecomment-{posted['id']}"}
    assert part["url"] == expected_url[server.kind]

    # A push: the diff changes, the same comment is rewritten.
    mark = len(server.calls)
    second = run_json(branches, server, "main", "feature-2", "--pr", str(PR))
    [part2] = second["parts"]
    assert (part2["action"], part2["id"]) == ("update", part["id"])
    assert writes(server, mark) == [(EDIT[server.kind], comment_path(server, part["id"]))]
    [rewritten] = server.comments_on(PR)
    assert "initech" in rewritten["body"] and rewritten["body"] != first_body

    # The same diff again: nothing is sent.
    mark = len(server.calls)
    third = run_json(branches, server, "main", "feature-2", "--pr", str(PR))
    assert [p["action"] for p in third["parts"]] == ["unchanged"]
    assert third["parts"][0]["id"] == part["id"]
    assert writes(server, mark) == []
    assert server.calls[mark:], "the comments were read"
    assert not server.problems


def test_the_table_output_says_what_was_done(branches: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with fake_forge("gitlab", TOKEN) as server:
        server.add_pull(PR)
        on_forge(branches, server, monkeypatch)
        result = cli(branches, server, "main", "feature", "--pr", str(PR))
        assert result.exit_code == 0, result.output
        [note] = server.comments_on(PR)
        assert f"Commented on merge request !{PR} on GitLab ({server.api_url}, platform/estate): 1 part." \
            in result.output
        assert re.search(rf"created\s+part 1/1\s+[\d,]+ bytes\s+comment {note['id']}", result.output)


# --------------------------------------------------------------------------- parts: split, shrink

def test_parts_each_carry_their_marker_and_the_unneeded_ones_are_deleted(server: FakeForge) -> None:
    provider = provider_for(server)
    three = comment.frame([f"## gitops-gen diff\n\nsection {i} " + "x" * 3_000 for i in (1, 2, 3)], 4_000)
    parts, deleted = comment.sync(provider, PR, three)
    assert [(p.part, p.of, p.action) for p in parts] == [(1, 3, "create"), (2, 3, "create"), (3, 3, "create")]
    assert deleted == []
    posted = server.comments_on(PR)
    assert [c["id"] for c in posted] == [p.id for p in parts]
    for i, c in enumerate(posted, 1):
        assert c["body"].startswith(f"<!-- gitops-gen:diff part={i}/3 -->\n")
        assert f"part {i}/3" in c["body"] and f"section {i} " in c["body"]
        assert len(c["body"].encode()) <= 4_000

    # A smaller diff: one part. The first comment is rewritten, the other two deleted, in that order.
    mark = len(server.calls)
    parts, deleted = comment.sync(provider, PR, comment.frame(["## gitops-gen diff\n\nsmall now"], 4_000))
    assert [(p.part, p.of, p.action, p.id) for p in parts] == [(1, 1, "update", posted[0]["id"])]
    assert deleted == [posted[1]["id"], posted[2]["id"]]
    assert writes(server, mark) == [(EDIT[server.kind], comment_path(server, posted[0]["id"])),
                                    ("DELETE", comment_path(server, posted[1]["id"])),
                                    ("DELETE", comment_path(server, posted[2]["id"]))]
    [left] = server.comments_on(PR)
    assert left["body"].startswith("<!-- gitops-gen:diff part=1/1 -->") and "small now" in left["body"]

    # Growing again creates the missing parts after the existing one.
    parts, deleted = comment.sync(provider, PR, comment.frame(["## a", "## b"], 4_000))
    assert [(p.action, p.part) for p in parts] == [("update", 1), ("create", 2)] and deleted == []
    assert not server.problems


def test_a_small_max_bytes_splits_and_a_smaller_diff_deletes_parts(branches: Path,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    with fake_forge("github", TOKEN) as server:
        server.add_pull(PR)
        on_forge(branches, server, monkeypatch)
        data = run_json(branches, server, "main", "feature-2", "--pr", str(PR), "--max-bytes", "6000")
        posted = server.comments_on(PR)
        of = len(posted)
        assert data["max_bytes"] == 6000 and of == len(data["parts"]) and of >= 2
        assert [(p["part"], p["of"], p["action"]) for p in data["parts"]] == [(i, of, "create")
                                                                             for i in range(1, of + 1)]
        for i, c in enumerate(posted, 1):
            assert len(c["body"].encode()) <= 6000
            assert c["body"].startswith(f"<!-- gitops-gen:diff part={i}/{of} -->\n") and f"part {i}/{of}" in c["body"]
        ids = [c["id"] for c in posted]

        # The next push fits in one comment: the first is rewritten, the others deleted.
        mark = len(server.calls)
        data = run_json(branches, server, "main", "feature", "--pr", str(PR))
        assert [(p["part"], p["of"], p["action"], p["id"]) for p in data["parts"]] == [(1, 1, "update", ids[0])]
        assert data["deleted"] == ids[1:]
        assert writes(server, mark) == [("PATCH", comment_path(server, ids[0])),
                                        *[("DELETE", comment_path(server, i)) for i in ids[1:]]]
        assert [c["id"] for c in server.comments_on(PR)] == ids[:1]
        assert not server.problems


def test_max_bytes_is_clamped_to_the_forges_limit(branches: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with fake_forge("gitea", TOKEN) as server:
        server.add_pull(PR)
        on_forge(branches, server, monkeypatch)
        data = run_json(branches, server, "main", "feature", "--pr", str(PR), "--max-bytes", "5000000")
        assert data["max_bytes"] == 65_536
        assert any("--max-bytes 5,000,000 is more than Gitea takes in a comment" in str(n)
                   for n in data["notes"])
    assert [forge.comment_limit(k) for k in PROVIDERS] == [65_536, 1_000_000, 65_536]


# --------------------------------------------------------------------------- only our own comments

def test_another_users_comment_with_the_marker_is_left_alone(branches: Path, server: FakeForge,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    theirs = server.add_comment(PR, "<!-- gitops-gen:diff part=1/1 -->\ncopied from the bot", user="mallory")
    stale_theirs = server.add_comment(PR, "<!-- gitops-gen:diff part=2/2 -->\nalso theirs", user="mallory")
    stale_ours = server.add_comment(PR, "<!-- gitops-gen:diff part=2/2 -->\nour old second part")
    quoted = server.add_comment(PR, "> see below\n<!-- gitops-gen:diff part=1/1 -->\nnot at the start")
    system = server.add_comment(PR, "<!-- gitops-gen:diff part=1/1 -->\nGitLab's own", user=server.user,
                                system=True) if server.kind == "gitlab" else None
    on_forge(branches, server, monkeypatch)
    data = run_json(branches, server, "main", "feature", "--pr", str(PR))
    [part] = data["parts"]
    assert part["action"] == "create" and part["id"] not in (theirs, stale_theirs, quoted, system)
    assert data["deleted"] == [stale_ours]
    assert writes(server) == [("POST", comment_path(server)), ("DELETE", comment_path(server, stale_ours))]
    kept = {c["id"]: c["body"] for c in server.comments_on(PR)}
    assert kept[theirs] == "<!-- gitops-gen:diff part=1/1 -->\ncopied from the bot"
    assert stale_theirs in kept and quoted in kept and stale_ours not in kept
    assert system is None or kept[system].endswith("GitLab's own")
    assert not server.problems


def test_a_github_app_token_claims_only_comments_a_bot_wrote(monkeypatch: pytest.MonkeyPatch) -> None:
    """GitHub Actions' GITHUB_TOKEN cannot look itself up (GET /user: 403): a bot's marked comment is ours,
    a person's never."""
    with fake_forge("github", TOKEN, app_token=True) as server:
        server.add_pull(PR)
        human = server.add_comment(PR, "<!-- gitops-gen:diff part=1/1 -->\na person", user="octocat")
        bot = server.add_comment(PR, "<!-- gitops-gen:diff part=1/1 -->\nold", user="github-actions[bot]", bot=True)
        parts, deleted = comment.sync(provider_for(server), PR, comment.frame(["## new"], 65_536))
        assert [(p.action, p.id) for p in parts] == [("update", bot)] and deleted == []
        assert [c for c in server.calls if c.path == "/user"], "the token's user was asked for"
        assert writes(server) == [("PATCH", comment_path(server, bot))]
        assert server.comments[human]["body"].endswith("a person")
        # And a comment it creates is written by the bot, so the next run finds it.
        server.comments.pop(bot)
        comment.sync(provider_for(server), PR, comment.frame(["## new"], 65_536))
        parts, _ = comment.sync(provider_for(server), PR, comment.frame(["## new"], 65_536))
        assert [p.action for p in parts] == ["unchanged"]


# --------------------------------------------------------------------------- pagination

def test_our_comment_on_page_three_is_found(server: FakeForge) -> None:
    for i in range(220):
        server.add_comment(PR, f"review comment {i}", user="reviewer")
    ours = server.add_comment(PR, "<!-- gitops-gen:diff part=1/1 -->\nthe old diff")
    for i in range(29):
        server.add_comment(PR, f"later comment {i}", user="reviewer")
    parts, deleted = comment.sync(provider_for(server), PR, comment.frame(["## the new diff"], 65_536))
    assert [(p.action, p.id) for p in parts] == [("update", ours)] and deleted == []
    assert writes(server) == [(EDIT[server.kind], comment_path(server, ours))]
    listings = [c for c in server.calls if c.method == "GET" and c.path == comment_path(server)]
    if server.kind == "gitea":  # Gitea's per-issue listing answers every comment at once
        assert len(listings) == 1
    else:
        size = "per_page"
        assert [(c.query["page"], c.query[size]) for c in listings] == [("1", "100"), ("2", "100"), ("3", "100")]
    if server.kind == "gitlab":
        assert all(c.query["sort"] == "asc" for c in listings)
    assert not server.problems


def test_gitea_pages_by_page_and_limit_where_it_does() -> None:
    with fake_forge("gitea", TOKEN, gitea_pages_comments=True) as server:
        server.add_pull(PR)
        for i in range(180):
            server.add_comment(PR, f"comment {i}", user="reviewer")
        ours = server.add_comment(PR, "<!-- gitops-gen:diff part=1/1 -->\nold")
        for i in range(69):
            server.add_comment(PR, f"comment {i}", user="reviewer")
        parts, _ = comment.sync(provider_for(server), PR, comment.frame(["## new"], 65_536))
        assert [(p.action, p.id) for p in parts] == [("update", ours)]
        listings = [c for c in server.calls if c.method == "GET" and c.path == comment_path(server)]
        assert [c.query["page"] for c in listings] == ["1", "2", "3", "4", "5"]
        assert {c.query["limit"] for c in listings} == {"50"}


# --------------------------------------------------------------------------- --dry-run

def test_dry_run_reads_but_writes_nothing(branches: Path, server: FakeForge, monkeypatch: pytest.MonkeyPatch) -> None:
    ours = server.add_comment(PR, "<!-- gitops-gen:diff part=1/2 -->\nold first part")
    extra = server.add_comment(PR, "<!-- gitops-gen:diff part=2/2 -->\nold second part")
    on_forge(branches, server, monkeypatch)
    data = run_json(branches, server, "main", "feature", "--pr", str(PR), "--dry-run")
    assert data["dry_run"] is True and data["read_existing"] is True
    assert [(p["part"], p["action"], p["id"]) for p in data["parts"]] == [(1, "update", ours)]
    assert data["deleted"] == [extra]
    assert server.calls and writes(server) == []
    assert [c["body"] for c in server.comments_on(PR)] == ["<!-- gitops-gen:diff part=1/2 -->\nold first part",
                                                            "<!-- gitops-gen:diff part=2/2 -->\nold second part"]
    table = cli(branches, server, "main", "feature", "--pr", str(PR), "--dry-run")
    assert table.exit_code == 0, table.output
    assert re.search(rf"update\s+part 1/1\s+[\d,]+ bytes\s+comment {ours}", table.output)
    assert f"delete    comment {extra}" in table.output and writes(server) == []


def test_dry_run_without_a_token_calls_nothing(branches: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with fake_forge("github", TOKEN) as server:
        on_forge(branches, server, monkeypatch, token=False)
        result = cli(branches, server, "main", "feature", "--pr", str(PR), "--dry-run")
        assert result.exit_code == 0, result.output
        assert server.calls == []
        assert "Would comment on pull request #7 on GitHub" in result.output
        assert "$GITHUB_TOKEN is NOT set" in result.output and "create    part 1/1" in result.output
        refused = cli(branches, server, "main", "feature", "--pr", str(PR))
        assert refused.exit_code == 2 and "$GITHUB_TOKEN is not set" in refused.output
        assert "--dry-run" in refused.output and server.calls == []


# --------------------------------------------------------------------------- the pull request's number

def test_the_pull_request_number_comes_from_the_ci(tmp_path: Path) -> None:
    event = tmp_path / "event.json"
    event.write_text(json.dumps({"action": "synchronize", "number": 12, "pull_request": {"number": 12}}))
    assert comment.pull_request_number(None, {"GITHUB_EVENT_PATH": str(event)}) == 12
    assert comment.pull_request_number(None, {"GITHUB_REF": "refs/pull/13/merge"}) == 13
    assert comment.pull_request_number(None, {"GITHUB_REF": "refs/pull/14/head"}) == 14  # Gitea, Forgejo
    assert comment.pull_request_number(None, {"CI_MERGE_REQUEST_IID": "15"}) == 15
    assert comment.pull_request_number(3, {"CI_MERGE_REQUEST_IID": "15"}) == 3
    push = tmp_path / "push.json"
    push.write_text(json.dumps({"ref": "refs/heads/main"}))
    assert comment.pull_request_number(None, {"GITHUB_EVENT_PATH": str(push), "GITHUB_REF": "refs/pull/9/merge"}) == 9
    for environ in ({}, {"GITHUB_EVENT_PATH": str(push), "GITHUB_REF": "refs/heads/main"},
                    {"GITHUB_EVENT_PATH": str(tmp_path / "missing.json")}):
        with pytest.raises(UserError) as exc:
            comment.pull_request_number(None, environ)
        assert exc.value.field == "--pr" and "--pr" in exc.value.message and "CI_MERGE_REQUEST_IID" in exc.value.message
    with pytest.raises(UserError) as bad:
        comment.pull_request_number(None, {"CI_MERGE_REQUEST_IID": "abc"})
    assert "$CI_MERGE_REQUEST_IID is 'abc'" in bad.value.message


def test_the_cli_takes_the_number_from_the_ci(branches: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with fake_forge("gitlab", TOKEN) as server:
        server.add_pull(PR)
        on_forge(branches, server, monkeypatch)
        monkeypatch.setenv("CI_MERGE_REQUEST_IID", str(PR))
        assert run_json(branches, server, "main", "feature")["pull_request"] == PR
        assert len(server.comments_on(PR)) == 1


# --------------------------------------------------------------------------- bad input, forge errors

def test_bad_input_is_exit_2_naming_the_flag_and_calls_nothing(branches: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with fake_forge("github", TOKEN) as server:
        server.add_pull(PR)
        on_forge(branches, server, monkeypatch)
        for args, message, field in [
            (["main", "feature"], "no pull request to comment on: --pr is not given", "--pr"),
            (["main", "feature", "--pr", "0"], "--pr 0 is not a pull request number", "--pr"),
            (["main", "feature", "--pr", "7", "--max-bytes", "100"], "--max-bytes 100 leaves no room", "--max-bytes"),
            (["main", "nope", "--pr", "7"], "'nope' names no commit in this repository", None),
            (["main", "feature", "--pr", "7", "--remote", "upstream"], "the repository has no remote 'upstream'", None),
        ]:
            result = cli(branches, server, *args, "--output", "json")
            assert result.exit_code == 2, (args, result.output)
            error = json.loads(result.stdout)["error"]
            assert message in error["message"], (args, error)
            assert field is None or error["field"] == field
            text = cli(branches, server, *args)
            assert text.exit_code == 2 and message in text.output
        assert server.calls == []


def test_a_forge_error_names_the_call_and_exits_2(branches: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with fake_forge("gitea", TOKEN) as server:
        server.add_pull(PR)
        on_forge(branches, server, monkeypatch)
        server.fail("POST", "/comments$", 403, {"message": "user should have permission to write", "url": "x"})
        result = cli(branches, server, "main", "feature", "--pr", str(PR))
        assert result.exit_code == 2
        assert f"Gitea API: POST {server.api_url}/repos/platform/estate/issues/{PR}/comments failed with 403" \
            in result.output
        assert "$GITEA_TOKEN" in result.output
        missing = cli(branches, server, "main", "feature", "--pr", "99", "--output", "json")
        assert missing.exit_code == 2
        assert "failed with 404" in json.loads(missing.stdout)["error"]["message"]
        assert server.comments_on(PR) == []


def test_a_diff_that_fails_is_said_in_the_comment(branches: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A stale diff must not stay up: when HEAD's estate cannot be read, the comment says why, and the
    command still fails."""
    _git(branches, "checkout", "-q", "feature")
    tenant = branches / "overlays/newco/tenant.yaml"
    tenant.write_text(tenant.read_text() + "size: gigantic\n")
    _git(branches, "commit", "-q", "-am", "A bad size by hand")
    _git(branches, "checkout", "-q", "main")
    with fake_forge("github", TOKEN) as server:
        server.add_pull(PR)
        old = server.add_comment(PR, "<!-- gitops-gen:diff part=1/1 -->\nthe diff of the last push")
        on_forge(branches, server, monkeypatch)
        result = cli(branches, server, "main", "feature", "--pr", str(PR))
        assert result.exit_code == 2
        assert "overlays/newco/tenant.yaml" in result.output
        [only] = server.comments_on(PR)
        assert only["id"] == old and "gitops-gen diff failed: " in only["body"]
        assert "overlays/newco/tenant.yaml" in only["body"] and "the last push" not in only["body"]


def test_unchanged_ignores_how_the_forge_stores_line_ends() -> None:
    body = comment.frame(["## diff\n\n| a | b |\n"], 65_536)[0]
    mine = Comment(1, body.replace("\n", "\r\n").rstrip() + "  \n", None, "me")
    [step] = comment.plan([body], [mine], "me")
    assert step.action == "unchanged"
    [step] = comment.plan([body + "more\n"], [mine], "me")
    assert step.action == "update"
