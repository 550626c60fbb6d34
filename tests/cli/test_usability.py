"""Errors, help and output that fit the ecosystem, through the real CLI on real estates in real git repositories:
``--output json`` errors as one JSON object on stdout, errors about flags that name the flag and its allowed values,
``--help`` that lists choices and shows flags as flags, ``route`` of a URL, counts that read right, generate's
progress on a terminal only."""

from __future__ import annotations

import io
import json
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pygit2
import pytest
from rich.console import Console
from typer.main import get_command
from typer.testing import CliRunner, Result

from gitops_gen.cli import app, output
from gitops_gen.cli.estate import SecretsOpt
from gitops_gen.cli.output import RenderProgress, plan_summary, plural
from gitops_gen.cli.tenants import AuthOpt, DatabaseOpt, SizeOpt
from gitops_gen.commands.generate import generate
from gitops_gen.estate.model import AUTH_MODES, DATABASE_MODES, SECRETS_MODES, SIZE_TIERS
from gitops_gen.write.plan import Change, Plan
from gitops_gen.write.transaction import ChangeResult
from tests.conftest import REPO_URL, make_estate, snapshot

runner = CliRunner(env={"COLUMNS": "200", "NO_COLOR": "1", "GITOPS_GEN_DEBUG": None})
OIDC_URL = "https://login.microsoftonline.com/newco.example.com/v2.0/.well-known/openid-configuration"


def cli(root: Path, command: str, *args: str) -> Result:
    return runner.invoke(app, [command, "--repo", str(root), *args])


@pytest.fixture(scope="module")
def shared_estate(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """One estate for the refusals: each leaves it byte-identical (checked), so they need not build their own."""
    home = tmp_path_factory.mktemp("home")
    (home / ".gitconfig").write_text("[user]\n\tname = Test Engineer\n\temail = test@example.com\n")
    level = pygit2.enums.ConfigLevel.GLOBAL
    before = pygit2.settings.search_path[level]
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("HOME", str(home))
        mp.setenv("GIT_CONFIG_NOSYSTEM", "1")
        pygit2.settings.search_path[level] = str(home)
        try:
            root = make_estate(tmp_path_factory.mktemp("shared") / "estate")
        finally:
            pygit2.settings.search_path[level] = before
    yield root


def refused(root: Path, argv: list[str]) -> Result:
    """Run a command that must be refused: exit 2, no traceback, and the repository untouched."""
    before = snapshot(root)
    result = cli(root, *argv)
    assert result.exit_code == 2, result.output
    assert isinstance(result.exception, SystemExit), result.exception
    assert snapshot(root) == before
    return result


# --------------------------------------------------------------------------- errors about flags name the flag

NEWCO = ["add-tenant", "newco", "--cluster", "eu-west-1"]
AP_1 = ["add-cluster", "ap-1", "--region", "ap-south", "--controller", "flux", "--windows-build", "ltsc2019",
        "--domain", "ap.wfg.example.com", "--data-storage-class", "nfs-csi"]


def _with(argv: list[str], flag: str, value: str) -> list[str]:
    i = argv.index(flag)
    return [*argv[:i + 1], value, *argv[i + 2:]]


FLAG_ERRORS = [
    # Built from flags, validated as the declaration: the field is mapped back to its flag.
    ([*NEWCO, "--database", "external"],
     "error: an external database needs --database-cidr", "e.g. --database-cidr 10.20.0.4/32", "--database-cidr"),
    ([*NEWCO, "--database", "external", "--database-cidr", "10.0.0.0/33"],
     "error: --database-cidr is '10.0.0.0/33', not a CIDR block", "e.g. --database-cidr 10.20.0.4/32",
     "--database-cidr"),
    ([*NEWCO, "--database", "external", "--database-cidr", "0.0.0.0/0"],
     "error: --database-cidr opens egress to every address", "--database-cidr 10.20.0.4/32", "--database-cidr"),
    ([*NEWCO, "--database", "external", "--database-cidr", "10.0.0.4/32", "--database-port", "70000"],
     "error: --database-port is 70000, not a TCP port", "--database-port from 1 to 65535", "--database-port"),
    ([*NEWCO, "--database-port", "1500"],
     "error: --database-port is for an external database, and the database is in-cluster (defaults.database in "
     "gitops-gen.yaml)", "add --database external", "--database-port"),
    ([*NEWCO, "--web-replicas", "30"],
     "error: --web-replicas is 30; it must be between 1 and 20", "small 2, medium 4, large 8", "--web-replicas"),
    ([*NEWCO, "--web-replicas", "3"],
     "error: --web-replicas is 3, more than the 'small' size tier's quota allows (2)",
     "lower --web-replicas or choose a larger --size", "--web-replicas"),
    ([*NEWCO, "--auth", "okta"],
     "error: --auth okta signs users in with OpenID Connect and needs --oidc-client-id and --oidc-metadata-url",
     "--oidc-metadata-url https://", "--oidc-client-id"),
    ([*NEWCO, "--oidc-client-id", "abc", "--oidc-metadata-url", OIDC_URL],
     "error: --oidc-* flags are for the OpenID Connect auth modes, and --auth is application (defaults.auth in "
     "gitops-gen.yaml)", "add --auth with one of adfs, auth0", "--auth"),
    ([*NEWCO, "--auth", "okta", "--oidc-client-id", "abc", "--oidc-metadata-url", "http://idp.example.com/x"],
     "error: --oidc-metadata-url is 'http://idp.example.com/x', not an https:// URL",
     "e.g. --oidc-metadata-url https://", "--oidc-metadata-url"),
    ([*NEWCO, "--secret-key", "elsewhere/newco"],
     "error: --secret-key is 'elsewhere/newco', outside the tenant's own prefix 'workflowgen/newco'",
     "a tenant never reads another tenant's secrets", "--secret-key"),
    (_with(NEWCO, "--cluster", "Bad_1"),
     "error: --cluster: cluster name 'Bad_1' is not a DNS-1123 label", "use lower-case letters", "--cluster"),
    ([*NEWCO, "--cluster", "eu-west-1"], "error: --cluster 'eu-west-1' is given twice", "give each cluster once",
     "--cluster"),
    ([*NEWCO, "--cluster", "ap-south-1"], "error: --cluster: unknown cluster 'ap-south-1' (known clusters in main (",
     "gitops-gen add-cluster ap-south-1", "--cluster"),
    ([*NEWCO, "--host", "acme.wfg.example.com"],
     "error: --host: host 'acme.wfg.example.com' is already claimed by tenant 'acme'",
     "every host is served by exactly one tenant", "--host"),
    ([*NEWCO, "--host", "n.example.com", "--host", "N.example.com"], "error: --host 'n.example.com' is given twice",
     "give each host once", "--host"),
    (_with(AP_1, "--region", "AP_South"), "error: --region: region name 'AP_South' is not a DNS-1123 label",
     "use lower-case letters", "--region"),
    ([*_with(AP_1, "--controller", "argocd"), "--server", "http://10.0.0.3:6443"],
     "error: --server is 'http://10.0.0.3:6443', not an https:// URL", "e.g. https://10.0.0.1:6443", "--server"),
    ([*AP_1, "--label", "tier=gold silver"],
     "error: --label: label 'tier' has the value 'gold silver', which is not a Kubernetes label value",
     "up to 63 letters", "--label"),
    (_with(AP_1, "--domain", "eu.wfg.example.com"),
     "error: --domain 'eu.wfg.example.com' is already the domain of cluster 'eu-west-1'",
     "each cluster needs its own DNS domain", "--domain"),
    (_with(AP_1, "--data-storage-class", "Bad_Class"),
     "error: --data-storage-class: storage class name 'Bad_Class' is not a DNS-1123 label", "use lower-case letters",
     "--data-storage-class"),
]


@pytest.mark.parametrize(("argv", "message", "hint", "flag"), FLAG_ERRORS, ids=[m[7:40] for _, m, _, _ in FLAG_ERRORS])
def test_an_error_about_a_flag_names_the_flag_not_a_file_that_does_not_exist(
        shared_estate: Path, argv: list[str], message: str, hint: str, flag: str) -> None:
    result = refused(shared_estate, argv)
    lines = result.stderr.splitlines()
    assert lines[0].startswith(message), result.stderr
    assert len(lines) == 2 and lines[1].startswith("hint: ") and hint in lines[1], result.stderr
    assert "tenant.yaml" not in result.stderr and "cluster.yaml" not in result.stderr
    assert result.stdout == ""
    # The same refusal with --output json: the JSON error object on stdout names the flag as its field.
    data = json.loads(refused(shared_estate, [*argv, "--output", "json"]).stdout)
    assert data["error"]["message"] == lines[0].removeprefix("error: ")
    assert data["error"]["field"] == flag and data["error"]["file"] is None


def test_an_error_about_a_default_says_where_the_value_comes_from(tmp_path: Path) -> None:
    """Without --web-replicas, the value is defaults.webReplicas of gitops-gen.yaml: the error says so, and still
    tells which flags fix it."""
    root = make_estate(tmp_path / "estate", tenants=False)
    config = root / "gitops-gen.yaml"
    text = config.read_text()
    assert text.count("  webReplicas: 2\n") == 1
    config.write_text(text.replace("  webReplicas: 2\n", "  webReplicas: 3\n"))
    subprocess.run(["git", "commit", "-qam", "Three web pods by default"], cwd=root, check=True)
    result = refused(root, NEWCO)
    assert result.stderr.splitlines() == [
        "error: defaults.webReplicas in gitops-gen.yaml (no --web-replicas given) is 3, more than the 'small' size "
        "tier's quota allows (2)",
        "hint: web pods per placement go from 1 to the size tier's limit (small 2, medium 4, large 8): lower "
        "--web-replicas or choose a larger --size"]
    assert cli(root, *NEWCO, "--size", "medium", "--dry-run").exit_code == 0


@pytest.mark.parametrize(("flag", "value", "choices"), [
    ("--auth", "saml", AUTH_MODES), ("--size", "huge", tuple(SIZE_TIERS)), ("--database", "sqlite", DATABASE_MODES)])
def test_a_bad_choice_names_the_flag_and_its_allowed_values(shared_estate: Path, flag: str, value: str,
                                                            choices: tuple[str, ...]) -> None:
    result = refused(shared_estate, [*NEWCO, flag, value])
    text = " ".join(result.stderr.replace("│", " ").split())  # rich wraps the box
    assert f"Invalid value for '{flag}': '{value}' is not one of" in text, result.stderr
    assert all(f"'{c}'" in text for c in choices)
    assert "tenant.yaml" not in text and "Value error" not in text
    data = json.loads(refused(shared_estate, [*NEWCO, flag, value, "-o", "json"]).stdout)
    assert data["error"]["field"] == flag
    assert data["error"]["message"].startswith(f"Invalid value for '{flag}': '{value}' is not one of ")
    assert data["error"]["hint"] == "'gitops-gen add-tenant --help' lists the options and their allowed values"


def test_the_cli_choices_are_the_models() -> None:
    assert [m.value for m in SizeOpt] == list(SIZE_TIERS)
    assert [m.value for m in AuthOpt] == list(AUTH_MODES)
    assert [m.value for m in DatabaseOpt] == list(DATABASE_MODES)
    assert [m.value for m in SecretsOpt] == list(SECRETS_MODES)


# --------------------------------------------------------------------------- --output json: one error object

def test_usage_errors_with_output_json_are_the_error_object(shared_estate: Path) -> None:
    cases: list[tuple[list[str], str, str | None]] = [
        (["add-tenant", "newco", "--repo", str(shared_estate), "-o", "json"], "Missing option '--cluster'.",
         "--cluster"),
        (["list", "--repo", str(shared_estate), "--bogus", "--output=json"], "No such option: --bogus", "--bogus"),
        (["lst", "-ojson"], "No such command 'lst'. Did you mean 'list'?", None),
        (["add-tenant", "--cluster", "eu-west-1", "--output", "json"], "Missing argument 'NAME'.", "NAME"),
        (["add-tenant", "newco", "--cluster", "eu-west-1", "--web-replicas", "two", "-o", "json"],
         "Invalid value for '--web-replicas'", "--web-replicas"),
    ]
    for argv, message, field in cases:
        result = runner.invoke(app, argv)
        assert result.exit_code == 2, result.output
        assert result.stderr == ""
        error = json.loads(result.stdout)["error"]
        assert error["message"].startswith(message), error
        assert error["field"] == field and error["file"] is None and error["line"] is None
        assert error["hint"].endswith("--help' lists the commands" if field is None else
                                      "--help' lists the options and their allowed values")


def test_core_errors_with_output_json_are_the_error_object(shared_estate: Path, tmp_path: Path) -> None:
    # Before the core runs: the --push/--pr checks.
    data = json.loads(refused(shared_estate, [*NEWCO, "--pr", "--dry-run", "-o", "json"]).stdout)
    assert data == {"error": {"message": "--pr pushes the commit, and --dry-run makes none",
                              "hint": "drop one of them; '--dry-run' then 'gitops-gen pr --dry-run' shows what a "
                                      "pull request would say", "file": None, "line": None, "field": "--pr"}}
    # pr, list and generate: a directory that is no estate, a repository that is none.
    for argv in (["pr", "--repo", str(tmp_path / "nowhere")], ["list", "--repo", str(tmp_path / "nowhere")],
                 ["generate", "--repo", str(tmp_path / "nowhere")]):
        result = runner.invoke(app, [*argv, "--output", "json"])
        assert result.exit_code == 2 and result.stderr == "", result.output
        assert json.loads(result.stdout)["error"]["field"] == "--repo"
    # init: a bad flag value is refused before anything is written.
    result = runner.invoke(app, ["init", str(tmp_path / "new"), "--repo-url", "ftp://x", "-o", "json"])
    assert result.exit_code == 2 and result.stderr == "", result.output
    assert json.loads(result.stdout)["error"]["message"].endswith("'ftp://x', not a git URL")
    assert not (tmp_path / "new").exists()


def test_a_broken_declaration_in_json_names_file_line_and_field(tmp_path: Path) -> None:
    root = make_estate(tmp_path / "estate")
    path = root / "overlays/acme/tenant.yaml"
    lines = path.read_text().splitlines()
    line = next(i for i, text in enumerate(lines, 1) if text.startswith("size:"))
    path.write_text(path.read_text().replace("size: small", "size: huge"))
    for argv in (["generate", "--check"], ["list"], ["route", "acme.wfg.example.com"]):
        result = cli(root, *argv, "--output", "json")
        assert result.exit_code == 2 and result.stderr == "", result.output
        error = json.loads(result.stdout)["error"]
        assert (error["file"], error["line"], error["field"]) == ("overlays/acme/tenant.yaml", line, "size")
        assert "must be one of small, medium, large" in error["message"]


def test_no_secret_in_an_error(shared_estate: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A token given where a value goes, or a URL's password, is masked in text and in JSON."""
    token = "ghp_NotARealTokenButSecret123"
    monkeypatch.setenv("GITHUB_TOKEN", token)
    for extra in ([], ["-o", "json"]):
        usage = refused(shared_estate, [*NEWCO, "--size", token, *extra])
        assert token not in usage.output and "***" in usage.output
        url = cli(shared_estate, "route", "https://admin:hunter2@nobody.wfg.example.com/wfgen", *extra)
        assert url.exit_code == 2
        assert "hunter2" not in url.output and "nobody.wfg.example.com" in url.output


# --------------------------------------------------------------------------- --help

def _commands(command: Any, path: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    yield path
    for name, sub in getattr(command, "commands", {}).items():
        yield from _commands(sub, (*path, name))


def test_help_lists_every_choice_and_shows_flags_as_flags() -> None:
    """Every command, validate and diff included: no Python types ('<str>', '<list[str]>', '<bool>'), choices
    as click shows them, and a flag with nothing after it."""
    python_type = re.compile(r"<(str|int|bool|float|path|list\[[^>]*\])>")
    seen = set()
    for path in _commands(get_command(app)):
        result = runner.invoke(app, [*path, "--help"])
        assert result.exit_code == 0, result.output
        assert not python_type.search(result.stdout), (path, python_type.search(result.stdout))
        for line in result.stdout.splitlines():
            m = re.match(r"│\s+(?:\*\s+)?(--[a-z-]+)(?:\s+-\w)?\s{2,}(\S+)", line)
            if m:
                seen.add((" ".join(path), m.group(1), m.group(2)))
    flags = {(cmd, flag) for cmd, flag, after in seen if flag in ("--dry-run", "--check", "--trial-license",
                                                                  "--checkout", "--push", "--pr", "--help")}
    assert ("add-tenant", "--dry-run") in flags and ("generate", "--check") in flags
    for cmd, flag, after in seen:
        if (cmd, flag) in flags:
            # The help text, no type before it (or the flag's pair: update-tenant --trial-license/--no-...).
            assert after[:1].isupper() or after == f"--no-{flag[2:]}", (cmd, flag, after)
    shown = {(cmd, flag): after for cmd, flag, after in seen}
    assert shown["add-tenant", "--size"] == "[small|medium|large]"
    assert shown["add-tenant", "--auth"] == f"[{'|'.join(AUTH_MODES)}]"
    assert shown["add-tenant", "--database"] == "[in-cluster|external]"
    assert shown["add-tenant", "--host"] == "HOST[=CLUSTER]"
    assert shown["add-tenant", "--web-replicas"] == "INTEGER"
    assert shown["add-tenant", "--output"] == "[table|json]"
    assert shown["add-cluster", "--controller"] == "[argocd|flux]"
    assert shown["add-cluster", "--windows-build"] == "[ltsc2019|ltsc2022]"
    assert shown["init", "--secrets"] == "[external-secrets|pre-provisioned]"
    assert shown["validate", "--output"].startswith("[table|json|sarif")
    assert shown["validate", "--repo"] == "PATH"
    assert shown["diff", "--output"] == "[text|markdown|json]"
    assert shown["diff", "--exit-code"][:1].isupper()


# --------------------------------------------------------------------------- route takes a URL

def test_route_takes_a_url(shared_estate: Path) -> None:
    result = cli(shared_estate, "route", "https://GLOBEX.wfg.example.com:443/wfgen/?x=1", "--output", "json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert (data["host"], data["tenant"], data["cluster"]) == ("globex.wfg.example.com", "globex", "eu-west-1")
    bare = cli(shared_estate, "route", "acme.eu.wfg.example.com/wfgen")
    assert bare.exit_code == 0 and "tenant     acme" in bare.stdout, bare.output
    unknown = cli(shared_estate, "route", "https://nobody.wfg.example.com/wfgen")
    assert unknown.stderr.splitlines()[0] == ("error: no tenant serves host 'nobody.wfg.example.com' (from "
                                              "'https://nobody.wfg.example.com/wfgen')")
    for junk in ("https://", "https://acme.wfg.example.com:http/", "not a host"):
        result = cli(shared_estate, "route", junk)
        assert result.exit_code == 2
        assert result.stderr.splitlines()[1] == ("hint: pass a host such as acme.wfg.example.com, or a URL such as "
                                                 "https://acme.wfg.example.com/wfgen"), result.stderr


# --------------------------------------------------------------------------- counts

def test_counts_read_right(tmp_path: Path) -> None:
    root = tmp_path / "one"
    assert runner.invoke(app, ["init", str(root), "--repo-url", REPO_URL]).exit_code == 0
    added = cli(root, "add-cluster", "eu-west-1", "--region", "eu-west", "--controller", "flux", "--windows-build",
                "ltsc2019", "--domain", "eu.wfg.example.com", "--data-storage-class", "nfs-csi", "--no-commit")
    assert added.exit_code == 0, added.output
    assert cli(root, "list").stdout.splitlines()[-1] == "0 tenants, 0 placements on 1 cluster."
    added = cli(root, "add-tenant", "acme", "--cluster", "eu-west-1", "--no-commit")
    assert added.exit_code == 0, added.output
    assert cli(root, "list").stdout.splitlines()[-1] == "1 tenant, 1 placement on 1 cluster."


def _result(dry_run: bool, **counts: int) -> ChangeResult:
    changes = [Change(f"{action}-{i}", action) for action, n in counts.items() for i in range(n)]  # type: ignore[arg-type]
    return ChangeResult(Plan(changes), dry_run=dry_run)


def test_plan_summary_reads_right() -> None:
    assert plan_summary(_result(True, create=1)) == "Would create 1 file."
    assert plan_summary(_result(True, create=6, update=1)) == "Would create 6 files and update 1."
    assert plan_summary(_result(True, update=1, delete=2)) == "Would update 1 file and delete 2."
    assert plan_summary(_result(False, create=6, update=1, delete=1)) == "Created 6 files, updated 1 and deleted 1."
    assert plan_summary(_result(False, delete=1)) == "Deleted 1 file."
    assert (plural(1, "policy", "policies"), plural(1_024, "file")) == ("1 policy", "1,024 files")


# --------------------------------------------------------------------------- generate's progress

def test_generate_reports_progress_and_only_on_a_terminal(shared_estate: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[tuple[int, int]] = []
    # --dry-run regenerates every time (a --check may answer from the record of an earlier full check).
    result = generate(shared_estate, dry_run=True, progress=lambda done, total: calls.append((done, total)))
    assert result.plan.empty
    assert calls == [(0, 2), (1, 2), (2, 2)]  # acme and globex

    # Off a terminal (as here): the output is what it always was.
    plain = cli(shared_estate, "generate", "--check")
    assert (plain.exit_code, plain.stdout, plain.stderr) == (0, "All derived files are up to date.\n", "")

    # On a terminal, past the delay: a bar on stderr, gone once done.
    screen = io.StringIO()
    monkeypatch.setattr(output, "err", Console(file=screen, force_terminal=True, width=100))
    bar = RenderProgress("generating tenants' files", delay=0, then="comparing with the work tree")
    generate(shared_estate, dry_run=True, progress=bar)
    bar.close()
    assert "generating tenants' files" in screen.getvalue() or "comparing with the work tree" in screen.getvalue()
    assert "2/2" in screen.getvalue()


def test_init_flag_errors_name_the_flag(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from gitops_gen.cli import app

    runner = CliRunner(env={"COLUMNS": "200", "NO_COLOR": "1", "GITOPS_GEN_DEBUG": None})
    bad = runner.invoke(app, ["init", str(tmp_path / "e"), "--repo-url", "https://git.example.com/x.git",
                              "--workflowgen-version", "latest"])
    assert bad.exit_code == 2
    assert "--workflowgen-version is 'latest'" in bad.output and "gitops-gen.yaml" not in bad.output
    js = runner.invoke(app, ["init", str(tmp_path / "f"), "--repo-url", "https://git.example.com/{{x}}.git",
                             "-o", "json"])
    assert js.exit_code == 2 and json.loads(js.stdout)["error"]["field"] == "--repo-url"
    assert not (tmp_path / "e" / "gitops-gen.yaml").exists() and not (tmp_path / "f" / "gitops-gen.yaml").exists()
