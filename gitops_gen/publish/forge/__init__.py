"""Pull requests on GitHub, GitLab and Gitea: which forge hosts a remote, its API, its token.

The forge is ``forge.provider`` in gitops-gen.yaml, else recognised from the remote's host; the API
base URL is ``--api-url``, else ``forge.apiUrl``, else the forge's usual one on that host. Tokens come
only from the environment (``GITHUB_TOKEN``, ``GITLAB_TOKEN``, ``GITEA_TOKEN``).
"""

from __future__ import annotations

import re
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass

from gitops_gen.errors import UserError
from gitops_gen.estate.model import FORGE_PROVIDERS
from gitops_gen.publish.forge.base import Comment, Provider, PullRequest, PullRequestSpec, keep_ticks, open_or_update
from gitops_gen.publish.forge.gitea import Gitea
from gitops_gen.publish.forge.github import GitHub
from gitops_gen.publish.forge.gitlab import GitLab
from gitops_gen.publish.forge.http import Sleep, refuse_insecure
from gitops_gen.redact import TOKEN_ENV, redact

__all__ = ["FORGE_PROVIDERS", "TOKEN_ENV", "Comment", "Provider", "PullRequest", "PullRequestSpec",
           "RemoteLocation", "api_url_for", "body_limit", "comment_limit", "detect_provider", "keep_ticks",
           "make_provider", "open_or_update", "parse_remote_url", "token_for"]

TITLES = {"github": "GitHub", "gitlab": "GitLab", "gitea": "Gitea"}
#: ``[user@]host:path`` — git's scp-like syntax for SSH.
_SCP_LIKE = re.compile(r"^(?:[^@/]+@)?(?P<host>[^:/\s]+):(?P<path>(?!/).+)$")


@dataclass(frozen=True)
class RemoteLocation:
    """Where a remote points, without its credentials."""

    scheme: str          # https, http, ssh, file
    host: str
    port: int | None
    project: str         # 'owner/repo', 'group/subgroup/project': the path without '.git'
    shown: str           # the URL with credentials masked, for messages


def parse_remote_url(url: str) -> RemoteLocation:
    shown = redact(url)
    if "://" in url:
        parts = urllib.parse.urlsplit(url)
        scheme = parts.scheme.lower()
        host = parts.hostname or ""
        try:
            port = parts.port
        except ValueError:
            port = None
        path = parts.path
    elif (m := _SCP_LIKE.match(url)) and not url.startswith((".", "/")):
        scheme, host, port, path = "ssh", m["host"], None, m["path"]
    else:
        scheme, host, port, path = "file", "", None, url
    project = path.strip("/").removesuffix(".git").strip("/")
    return RemoteLocation(scheme, host.lower(), port, project, shown)


def detect_provider(location: RemoteLocation, configured: str | None) -> str:
    """``forge.provider`` when set, else the forge the remote's host name gives away."""
    if configured:
        return configured
    host = location.host
    if host == "github.com" or host.endswith(".github.com") or host.startswith("github."):
        return "github"
    if host == "gitlab.com" or "gitlab" in host.split("."):
        return "gitlab"
    if host in ("codeberg.org", "gitea.com") or "gitea" in host.split(".") or "forgejo" in host.split("."):
        return "gitea"
    raise UserError(f"cannot tell which forge hosts the remote {location.shown}",
                    "set forge.provider (github, gitlab or gitea) in gitops-gen.yaml, and forge.apiUrl when the "
                    "API is not at the forge's usual place on that host")


def api_url_for(provider: str, location: RemoteLocation, override: str | None) -> str:
    """The API base URL: the override, else the forge's usual one on the remote's host."""
    if override:
        if not re.match(r"^https?://[^\s/@?#]+(/[^\s?#]*)?$", override):
            raise UserError(f"--api-url {redact(override)!r} is not an http(s) URL without credentials or query",
                            "give the API's base URL, e.g. https://api.github.com or https://HOST/api/v4; tokens "
                            "come from the environment only")
        refuse_insecure(override, "--api-url")
        return override.rstrip("/")
    if location.scheme == "file" or not location.host:
        raise UserError(f"the remote {location.shown} is not on a forge's host",
                        "give the forge's API with --api-url or forge.apiUrl in gitops-gen.yaml")
    scheme = "http" if location.scheme == "http" else "https"
    port = f":{location.port}" if location.port and location.scheme in ("http", "https") else ""
    if provider == "github":
        url = "https://api.github.com" if location.host == "github.com" else f"{scheme}://{location.host}{port}/api/v3"
        refuse_insecure(url, f"the API URL derived from the remote {location.shown}")
        return url
    suffix = {"gitlab": "/api/v4", "gitea": "/api/v1"}[provider]
    url = f"{scheme}://{location.host}{port}{suffix}"
    refuse_insecure(url, f"the API URL derived from the remote {location.shown}")
    return url


def token_for(provider: str, environ: Mapping[str, str]) -> str | None:
    return environ.get(TOKEN_ENV[provider]) or None


_CLASSES: dict[str, type[GitHub] | type[GitLab] | type[Gitea]] = {"github": GitHub, "gitlab": GitLab, "gitea": Gitea}


def body_limit(provider: str) -> int:
    """Longest description the forge takes, in characters."""
    return _CLASSES[provider].body_limit


def comment_limit(provider: str) -> int:
    """Longest comment the forge takes, in characters."""
    return _CLASSES[provider].comment_limit


def make_provider(provider: str, api_url: str, project: str, token: str, sleep: Sleep | None = None,
                  attempts: int | None = None) -> Provider:
    return _CLASSES[provider](api_url, project, token, sleep=sleep, attempts=attempts)
