"""Pushing with pygit2 to a real git server on loopback (git http-backend, token over HTTP Basic)."""

from __future__ import annotations

import base64
import json
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pygit2
import pytest
from pygit2.enums import CredentialType
from typer.testing import CliRunner, Result

from gitops_gen.cli import app
from gitops_gen.commands.tenants import add_tenant
from gitops_gen.errors import RemoteError, UserError
from gitops_gen.estate.model import Tenant
from gitops_gen.publish.push import Callbacks, PushCredentials, default_credentials, push_branch
from tests.conftest import snapshot
from tests.gitserver import GitServer, git_server

TOKEN = "tok_Hb3n9Qw2Ze5Ty8Uc"
runner = CliRunner(env={"COLUMNS": "200", "NO_COLOR": "1", "GITOPS_GEN_DEBUG": None})


@pytest.fixture(autouse=True)
def _no_tokens(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("GITHUB_TOKEN", "GITLAB_TOKEN", "GITEA_TOKEN", "SSH_AUTH_SOCK", "http_proxy", "https_proxy",
                 "HTTP_PROXY", "HTTPS_PROXY"):
        monkeypatch.delenv(name, raising=False)


def git(root: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(root), *args], check=True, capture_output=True, text=True).stdout.strip()


@pytest.fixture
def server(tmp_path: Path) -> Iterator[GitServer]:
    with git_server(tmp_path / "server", TOKEN) as s:
        yield s


@pytest.fixture
def pushed_estate(estate: Path, server: GitServer) -> Path:
    """The estate on main, main already on the server (pushed on the file system), origin pointing at it."""
    bare = server.bare("platform/estate.git")
    git(estate, "checkout", "-q", "-B", "main")
    git(estate, "push", "-q", str(bare), "main")
    git(estate, "remote", "add", "origin", server.url("platform/estate.git"))
    return estate


def remote_refs(server: GitServer) -> dict[str, str]:
    out = git(server.root / "platform/estate.git", "show-ref")
    return {ref: sha for sha, ref in (line.split() for line in out.splitlines())}


def new_branch(estate: Path, name: str = "newco") -> tuple[str, str]:
    """A commit on a new branch, as add-tenant makes it: (branch, commit)."""
    result = add_tenant(estate, Tenant(name, ("eu-west-1",)))
    assert result.branch is not None and result.commit is not None
    return result.branch, result.commit


def creds(provider: str = "github", token: str | None = TOKEN) -> PushCredentials:
    env = {"github": "GITHUB_TOKEN", "gitlab": "GITLAB_TOKEN", "gitea": "GITEA_TOKEN"}[provider]
    return default_credentials(provider, token, env, home=Path("/nonexistent"))


def basic_users(server: GitServer) -> set[tuple[str, str]]:
    out = set()
    for r in server.requests:
        header = r.headers.get("Authorization", "")
        if header.startswith("Basic "):
            user, _, password = base64.b64decode(header[6:]).decode().partition(":")
            out.add((user, "<token>" if password == TOKEN else password))
    return out


def no_token_in(root: Path, *texts: str) -> None:
    for text in texts:
        assert TOKEN not in text
    for path in snapshot(root):
        if path.endswith("/"):
            continue
        assert TOKEN.encode() not in (root / path).read_bytes(), f"the token was written to {path}"


# --------------------------------------------------------------------------- pushing

@pytest.mark.parametrize(("provider", "user"), [("github", "x-access-token"), ("gitlab", "oauth2"),
                                                ("gitea", "oauth2")])
def test_push_over_http_with_the_token_creates_the_remote_branch(pushed_estate: Path, server: GitServer,
                                                                 provider: str, user: str) -> None:
    branch, commit = new_branch(pushed_estate)
    repo = pygit2.Repository(str(pushed_estate))
    result = push_branch(repo, "origin", branch, creds(provider))
    assert (result.branch, result.commit, result.remote) == (branch, commit, "origin")
    assert remote_refs(server)[f"refs/heads/{branch}"] == commit
    upstream = repo.branches.local[branch].upstream  # as 'git push -u' leaves it
    assert upstream is not None and upstream.branch_name == f"origin/{branch}"
    assert basic_users(server) == {(user, "<token>")}, "the token travels as the Basic password, and only there"
    assert all(TOKEN not in r.path for r in server.requests)
    # Pushing again is a no-op: nothing to send, nothing rejected.
    push_branch(repo, "origin", branch, creds(provider))
    assert remote_refs(server)[f"refs/heads/{branch}"] == commit
    no_token_in(pushed_estate)


def test_a_refused_token_is_named_and_masked(pushed_estate: Path, server: GitServer) -> None:
    branch, commit = new_branch(pushed_estate)
    repo = pygit2.Repository(str(pushed_estate))
    with pytest.raises(RemoteError) as exc:
        push_branch(repo, "origin", branch, creds("gitea", token="tok_revoked_1234567"))
    assert exc.value.message == f"{server.url('platform/estate.git')} refused the token in $GITEA_TOKEN"
    assert "write access" in str(exc.value.hint) and "tok_revoked" not in str(exc.value)
    assert f"refs/heads/{branch}" not in remote_refs(server)
    assert str(repo.references[f"refs/heads/{branch}"].target) == commit, "the local branch is untouched"


def test_no_token_when_the_server_asks_for_one(pushed_estate: Path, server: GitServer) -> None:
    branch, _ = new_branch(pushed_estate)
    with pytest.raises(RemoteError) as exc:
        push_branch(pygit2.Repository(str(pushed_estate)), "origin", branch, creds("gitlab", token=None))
    assert "asks for credentials and $GITLAB_TOKEN is not set" in exc.value.message
    assert "export GITLAB_TOKEN=" in str(exc.value.hint)


@pytest.mark.parametrize("fetched", [False, True], ids=["remote-commit-unknown", "remote-commit-fetched"])
def test_a_non_fast_forward_push_is_refused_with_what_to_do(pushed_estate: Path, server: GitServer,
                                                            tmp_path: Path, fetched: bool) -> None:
    branch, commit = new_branch(pushed_estate)
    # Somebody else pushed another commit to the same branch name.
    other = tmp_path / "other"
    git(tmp_path, "clone", "-q", str(server.root / "platform/estate.git"), str(other))
    git(other, "checkout", "-q", "-b", branch)
    (other / "NOTES.md").write_text("theirs\n")
    git(other, "add", "NOTES.md")
    git(other, "-c", "user.name=Other", "-c", "user.email=o@example.com", "commit", "-q", "-m", "Theirs")
    git(other, "push", "-q", "origin", branch)
    theirs = remote_refs(server)[f"refs/heads/{branch}"]
    if fetched:
        git(pushed_estate, "-c", f"http.extraHeader=Authorization: Basic "
            f"{base64.b64encode(f'x:{TOKEN}'.encode()).decode()}", "fetch", "-q", "origin")
    with pytest.raises(RemoteError) as exc:
        push_branch(pygit2.Repository(str(pushed_estate)), "origin", branch, creds())
    assert exc.value.message.startswith(f"pushing {branch} to {server.url('platform/estate.git')} failed: ")
    assert f"origin's {branch} has commits yours lacks" in str(exc.value.hint)
    assert f"git log {branch}..origin/{branch}" in str(exc.value.hint)
    assert remote_refs(server)[f"refs/heads/{branch}"] == theirs, "the remote branch is untouched"
    assert str(pygit2.Repository(str(pushed_estate)).references[f"refs/heads/{branch}"].target) == commit


def test_a_protected_branch_rejected_by_the_server_is_reported(pushed_estate: Path, server: GitServer) -> None:
    hook = server.root / "platform/estate.git/hooks/pre-receive"
    hook.write_text("#!/bin/sh\nwhile read old new ref; do\n  case \"$ref\" in refs/heads/release*)\n"
                    "    echo \"GL-HOOK-ERR: $ref is a protected branch\" >&2; exit 1;;\n  esac\ndone\n")
    hook.chmod(0o755)
    git(pushed_estate, "branch", "release-1")
    with pytest.raises(RemoteError) as exc:
        push_branch(pygit2.Repository(str(pushed_estate)), "origin", "release-1", creds())
    assert exc.value.message == (f"{server.url('platform/estate.git')} rejected the push of release-1: "
                                 "release-1: pre-receive hook declined")
    assert "protected" in str(exc.value.hint) and "--branch" in str(exc.value.hint)
    assert "refs/heads/release-1" not in remote_refs(server)


def test_a_push_the_server_never_confirms_is_an_error(pushed_estate: Path, server: GitServer) -> None:
    branch, _ = new_branch(pushed_estate)
    server.drop_pushes = True
    with pytest.raises(RemoteError) as exc:
        push_branch(pygit2.Repository(str(pushed_estate)), "origin", branch, creds())
    assert exc.value.message.startswith(f"pushing {branch} to {server.url('platform/estate.git')} failed: ")
    assert f"refs/heads/{branch}" not in remote_refs(server)


def test_network_down_masks_credentials_in_the_remote_url(pushed_estate: Path) -> None:
    branch, _ = new_branch(pushed_estate)
    git(pushed_estate, "remote", "set-url", "origin", f"http://deploy:{TOKEN}@127.0.0.1:9/platform/estate.git")
    with pytest.raises(RemoteError) as exc:
        push_branch(pygit2.Repository(str(pushed_estate)), "origin", branch, creds(token=TOKEN))
    assert exc.value.message.startswith(f"pushing {branch} to http://***@127.0.0.1:9/platform/estate.git failed: ")
    assert "check the network" in str(exc.value.hint)
    assert TOKEN not in str(exc.value)


def test_an_unknown_remote_or_branch_is_bad_input(pushed_estate: Path) -> None:
    repo = pygit2.Repository(str(pushed_estate))
    with pytest.raises(UserError, match="the repository has no remote 'upstream'"):
        push_branch(repo, "upstream", "main", creds())
    with pytest.raises(UserError, match="there is no local branch 'nope' to push"):
        push_branch(repo, "origin", "nope", creds())


# --------------------------------------------------------------------------- credentials offered

def test_ssh_tries_the_agent_then_each_key_then_says_what_to_do(tmp_path: Path) -> None:
    ssh = tmp_path / ".ssh"
    ssh.mkdir()
    for name in ("id_ed25519", "id_rsa"):
        (ssh / name).write_text("private\n")
    (ssh / "id_ed25519.pub").write_text("ssh-ed25519 AAAA test\n")
    found = default_credentials(None, None, None, home=tmp_path)
    assert found.ssh_keys == (ssh / "id_ed25519", ssh / "id_rsa")
    found.use_agent = True
    callbacks = Callbacks(found, "ssh://git@git.example.com/platform/estate.git")
    offered = [callbacks.credentials("ssh://git.example.com/p/e.git", "git", CredentialType.SSH_KEY)
               for _ in range(3)]
    assert [type(c).__name__ for c in offered] == ["KeypairFromAgent", "Keypair", "Keypair"]
    assert [c.credential_tuple for c in offered[1:]] == [
        ("git", str(ssh / "id_ed25519.pub"), str(ssh / "id_ed25519"), ""), ("git", None, str(ssh / "id_rsa"), "")]
    with pytest.raises(RemoteError) as exc:
        callbacks.credentials("ssh://git.example.com/p/e.git", "git", CredentialType.SSH_KEY)
    assert "SSH authentication as 'git'" in exc.value.message and "ssh-add" in str(exc.value.hint)
    assert isinstance(callbacks.credentials("ssh://h/p", None, CredentialType.USERNAME), pygit2.Username)


def test_unverified_hosts_are_refused() -> None:
    callbacks = Callbacks(PushCredentials(), "ssh://git@git.example.com/p/e.git")
    assert callbacks.certificate_check(None, True, b"git.example.com") is True
    with pytest.raises(RemoteError) as exc:
        callbacks.certificate_check(None, False, b"git.example.com")
    assert "git.example.com could not be verified" in exc.value.message and "ssh -T" in str(exc.value.hint)


def test_the_token_never_shows_in_the_credentials_repr() -> None:
    assert TOKEN not in repr(creds())


# --------------------------------------------------------------------------- --push through the CLI

def cli(root: Path, *args: str) -> Result:
    return runner.invoke(app, [args[0], "--repo", str(root), *args[1:]])


def test_add_tenant_push_without_a_forge(estate: Path, tmp_path: Path) -> None:
    """A server that asks for nothing needs no forge, no token and no forge section."""
    with git_server(tmp_path / "open-server", None) as open_server:
        bare = open_server.bare("platform/estate.git")
        git(estate, "checkout", "-q", "-B", "main")
        git(estate, "push", "-q", str(bare), "main")
        git(estate, "remote", "add", "origin", open_server.url("platform/estate.git"))
        result = cli(estate, "add-tenant", "newco", "--cluster", "eu-west-1", "--push")
        assert result.exit_code == 0, result.output
        commit = str(pygit2.Repository(str(estate)).references["refs/heads/gitops-gen/add-tenant-newco"].target)
        assert remote_refs(open_server)["refs/heads/gitops-gen/add-tenant-newco"] == commit
        assert f"Pushed gitops-gen/add-tenant-newco ({commit[:12]}) to origin" in result.output
        assert "pull request" not in result.output


def test_add_cluster_push_with_the_configured_forge_token(pushed_estate: Path, server: GitServer,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    config = pushed_estate / "gitops-gen.yaml"
    config.write_text(config.read_text() + "forge:\n  provider: gitea\n")
    git(pushed_estate, "commit", "-q", "-am", "forge")
    monkeypatch.setenv("GITEA_TOKEN", TOKEN)
    result = cli(pushed_estate, "add-cluster", "ap-south-1", "--data-storage-class", "nfs-csi",
                 "--region", "ap-south", "--controller", "flux",
                 "--windows-build", "ltsc2022", "--domain", "ap.wfg.example.com", "--push", "--output", "json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["publish"]["action"] == "pushed" and data["publish"]["pushed"] is True
    assert data["publish"]["tokenEnv"] == "GITEA_TOKEN" and data["publish"]["number"] is None
    assert remote_refs(server)["refs/heads/gitops-gen/add-cluster-ap-south-1"] == data["commit"]
    assert basic_users(server) == {("oauth2", "<token>")}
    no_token_in(pushed_estate, result.output)


def test_add_tenant_push_refused_keeps_the_commit(pushed_estate: Path, server: GitServer,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    config = pushed_estate / "gitops-gen.yaml"
    config.write_text(config.read_text() + "forge:\n  provider: github\n")
    git(pushed_estate, "commit", "-q", "-am", "forge")
    monkeypatch.setenv("GITHUB_TOKEN", "tok_expired_99999999")
    result = cli(pushed_estate, "add-tenant", "newco", "--cluster", "eu-west-1", "--push")
    assert result.exit_code == 2
    repo = pygit2.Repository(str(pushed_estate))
    commit = str(repo.references["refs/heads/gitops-gen/add-tenant-newco"].target)
    assert f"committed {commit[:12]} on branch gitops-gen/add-tenant-newco" in result.output
    assert "refused the token in $GITHUB_TOKEN" in result.output
    assert "run 'git push origin gitops-gen/add-tenant-newco' to finish" in result.output
    assert "tok_expired" not in result.output
    assert "refs/heads/gitops-gen/add-tenant-newco" not in remote_refs(server)
