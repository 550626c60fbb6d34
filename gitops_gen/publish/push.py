"""Push a branch with pygit2: HTTPS with a token from the environment, SSH with the agent or a key.

Rejections are errors that say why and what to do: a non-fast-forward (checked by libgit2 before it
sends anything), a protected branch or a hook (reported by the server per reference), credentials the
server refused. Nothing local changes when a push fails.
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass, field
from pathlib import Path

import pygit2
from pygit2.enums import CredentialType

from gitops_gen.errors import RemoteError, UserError
from gitops_gen.redact import redact

#: User names forges expect beside a token over HTTPS (the token is the password).
HTTPS_USERS = {"github": "x-access-token", "gitlab": "oauth2", "gitea": "oauth2"}
SSH_KEY_FILES = ("id_ed25519", "id_ecdsa", "id_rsa")


@dataclass(frozen=True)
class PushResult:
    remote: str
    url: str          # credentials masked
    branch: str
    commit: str


@dataclass
class PushCredentials:
    """What the credentials callback may offer. ``token`` never leaves this object but as a password."""

    token: str | None = field(default=None, repr=False)
    token_env: str | None = None    # where the token comes from, for messages
    https_user: str = "x-access-token"
    ssh_keys: tuple[Path, ...] = ()
    use_agent: bool = True


def default_credentials(provider: str | None, token: str | None, token_env: str | None,
                        home: Path | None = None) -> PushCredentials:
    ssh_dir = (home or Path.home()) / ".ssh"
    keys = tuple(ssh_dir / name for name in SSH_KEY_FILES if (ssh_dir / name).is_file())
    return PushCredentials(token, token_env, HTTPS_USERS.get(provider or "", "x-access-token"), keys,
                           use_agent=bool(os.environ.get("SSH_AUTH_SOCK")))


class Callbacks(pygit2.RemoteCallbacks):
    """Offers each kind of credential once (libgit2 asks again when one is refused), records rejections."""

    def __init__(self, creds: PushCredentials, shown_url: str) -> None:
        super().__init__()
        self.creds = creds
        self.shown_url = shown_url
        self.rejected: dict[str, str] = {}
        self._token_offered = False
        self._ssh_tried: list[str] = []

    def credentials(self, url: str, username_from_url: str | None,
                    allowed_types: CredentialType) -> pygit2.UserPass | pygit2.Keypair | pygit2.Username:
        if allowed_types & CredentialType.USERPASS_PLAINTEXT:
            return self._https(username_from_url)
        if allowed_types & CredentialType.SSH_KEY:
            return self._ssh(username_from_url or "git")
        if allowed_types & CredentialType.USERNAME:
            return pygit2.Username(username_from_url or "git")
        raise RemoteError(f"{self.shown_url} asks for a kind of authentication gitops-gen does not offer",
                          "use an HTTPS remote with a token in the environment, or an SSH remote with a key")

    def _https(self, username: str | None) -> pygit2.UserPass:
        env = self.creds.token_env or "GITHUB_TOKEN, GITLAB_TOKEN or GITEA_TOKEN"
        if self.creds.token is None:
            raise RemoteError(f"{self.shown_url} asks for credentials and ${env} is not set",
                              f"export {env}=<a token that may push>; with a forge gitops-gen does not recognise "
                              "from the URL, set forge.provider in gitops-gen.yaml so it knows which token to use")
        if self._token_offered:
            raise RemoteError(f"{self.shown_url} refused the token in ${env}",
                              f"the token is wrong, expired, or may not push to this repository: export {env} "
                              "with a token that has write access")
        self._token_offered = True
        return pygit2.UserPass(username or self.creds.https_user, self.creds.token)

    def _ssh(self, username: str) -> pygit2.Keypair:
        if self.creds.use_agent and "agent" not in self._ssh_tried:
            self._ssh_tried.append("agent")
            return pygit2.KeypairFromAgent(username)
        for key in self.creds.ssh_keys:
            if str(key) not in self._ssh_tried:
                self._ssh_tried.append(str(key))
                public = key.with_name(key.name + ".pub")
                return pygit2.Keypair(username, str(public) if public.is_file() else None, str(key), "")
        tried = ", ".join(self._ssh_tried) or "no agent (SSH_AUTH_SOCK is not set) and no key in ~/.ssh"
        raise RemoteError(f"SSH authentication as {username!r} to {self.shown_url} failed (tried {tried})",
                          "load a key the server accepts into the agent (ssh-add), or use an HTTPS remote with a "
                          "token in the environment")

    def certificate_check(self, certificate: None, valid: bool, host: bytes) -> bool:
        # pygit2 accepts any SSH host key unless told otherwise; only what libgit2 verified passes.
        if not valid:
            name = host.decode(errors="replace") if isinstance(host, bytes) else str(host)
            raise RemoteError(f"the identity of {name} could not be verified (TLS certificate or SSH host key)",
                              f"for SSH, check and record the host key once (ssh -T git@{name}); for HTTPS, "
                              "fix the certificate or point SSL_CERT_FILE at the right CA bundle")
        return True

    def push_update_reference(self, refname: str, message: str | None) -> None:
        if message:
            self.rejected[refname] = message


def push_branch(repo: pygit2.Repository, remote_name: str, branch: str, creds: PushCredentials) -> PushResult:
    """Push ``refs/heads/<branch>`` to the same name on ``remote_name`` (never forced)."""
    try:
        remote = repo.remotes[remote_name]
    except (KeyError, ValueError, pygit2.GitError):
        raise UserError(f"the repository has no remote {remote_name!r}",
                        "add it (git remote add origin URL), or name another with --remote or forge.remote "
                        "in gitops-gen.yaml") from None
    ref = f"refs/heads/{branch}"
    if ref not in repo.references:
        raise UserError(f"there is no local branch {branch!r} to push", "commit on it first, or check the name")
    commit = str(repo.references[ref].peel(pygit2.Commit).id)
    shown = redact(remote.push_url or remote.url or remote_name, [creds.token or ""])
    callbacks = Callbacks(creds, shown)
    try:
        remote.push([f"{ref}:{ref}"], callbacks=callbacks, proxy=True)
    except RemoteError:
        raise
    except (pygit2.GitError, OSError, ValueError) as exc:
        raise _push_error(str(exc), shown, branch, remote_name, creds) from None
    if callbacks.rejected:
        why = "; ".join(f"{r.removeprefix('refs/heads/')}: {m}" for r, m in callbacks.rejected.items())
        raise RemoteError(f"{shown} rejected the push of {branch}: {redact(why, [creds.token or ''])}",
                          _rejection_hint(why, branch, remote_name))
    _track(repo, remote_name, branch)
    return PushResult(remote_name, shown, branch, commit)


def _track(repo: pygit2.Repository, remote: str, branch: str) -> None:
    """Set the pushed branch's upstream (git push -u), so 'git status' and 'git pull' know it. The
    push has updated the remote-tracking branch; where it has not, or an upstream is set, nothing changes."""
    local = repo.branches.local.get(branch)
    tracking = repo.branches.remote.get(f"{remote}/{branch}")
    if local is not None and tracking is not None and local.upstream is None:
        with contextlib.suppress(pygit2.GitError, ValueError):  # a convenience: the push itself succeeded
            local.upstream = tracking


def _rejection_hint(why: str, branch: str, remote: str) -> str:
    lowered = why.lower()
    if "fast-forward" in lowered or "fast forward" in lowered or "fetch first" in lowered:
        return _NON_FAST_FORWARD.format(branch=branch, remote=remote)
    return ("the branch is protected or a server hook refused it: commit on a branch of your own (--branch NAME) "
            "and open the pull request from there, or ask the repository's owners")


_NON_FAST_FORWARD = ("{remote}'s {branch} has commits yours lacks (pushed by someone else, or an earlier commit was "
                     "rewritten): look at them (git fetch {remote} {branch}; git log {branch}..{remote}/{branch}), "
                     "then rebase onto them, or commit on a new branch with --branch")


def _push_error(detail: str, shown: str, branch: str, remote: str, creds: PushCredentials) -> RemoteError:
    detail = redact(detail, [creds.token or ""])
    lowered = detail.lower()
    message = f"pushing {branch} to {shown} failed: {detail}"
    if "non-fastforwardable" in lowered or "not present locally" in lowered or "fast-forward" in lowered:
        return RemoteError(message, _NON_FAST_FORWARD.format(branch=branch, remote=remote))
    if any(s in lowered for s in ("failed to connect", "could not resolve", "connection refused", "timed out",
                                  "network is unreachable", "failed to resolve", "connection reset")):
        return RemoteError(message, "check the network, the remote's URL (git remote -v) and, behind a proxy, "
                                    "https_proxy")
    if "401" in lowered or "authentication" in lowered or "403" in lowered:
        env = creds.token_env or "the forge's token variable"
        return RemoteError(message, f"the server refused the credentials: check that {env} holds a token that may "
                                    "push here, or for SSH that the agent holds a key the server accepts")
    if "404" in lowered or "not found" in lowered:
        return RemoteError(message, "check the remote's URL (git remote -v): the server knows no such repository, "
                                    "or the credentials cannot see it")
    return RemoteError(message, "run the push by hand (git push) to see more")
