"""Keep secrets out of every message: forge tokens from the environment and credentials in URLs."""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping

#: The only places gitops-gen reads forge tokens from (never a file, never a flag).
TOKEN_ENV: dict[str, str] = {"github": "GITHUB_TOKEN", "gitlab": "GITLAB_TOKEN", "gitea": "GITEA_TOKEN"}
MASK = "***"
#: ``scheme://user:password@host`` or ``scheme://token@host``: everything between '//' and '@'.
_URL_CREDENTIALS = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://)[^/@\s]+@")
#: Query parameters that carry tokens (GitLab's private_token, OAuth's access_token...).
_TOKEN_PARAMS = re.compile(r"(?i)\b((?:private_|access_)?token=)[^&\s]+")


def token_values(environ: Mapping[str, str] | None = None) -> list[str]:
    env = os.environ if environ is None else environ
    return [env[name] for name in TOKEN_ENV.values() if env.get(name)]


def redact(text: str, secrets: Iterable[str] = (), environ: Mapping[str, str] | None = None) -> str:
    """``text`` with every known token, URL credential and token parameter replaced by ``***``."""
    for secret in sorted({*secrets, *token_values(environ)}, key=len, reverse=True):
        if secret:
            text = text.replace(secret, MASK)
    text = _URL_CREDENTIALS.sub(rf"\1{MASK}@", text)
    return _TOKEN_PARAMS.sub(rf"\1{MASK}", text)
