"""The forges' JSON APIs over urllib: retries with backoff for 5xx and connection errors only, every
failure status mapped to what failed and what to do, tokens masked in every message.

The token stays with its host: a redirect to another scheme, host or port is never followed (urllib's
own handler would send every header, Authorization and PRIVATE-TOKEN included, to wherever a forge or a
man in the middle points), and plain http is refused except on loopback, where tests and local forges
run."""

from __future__ import annotations

import http.client
import ipaddress
import json
import re
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from gitops_gen import __version__
from gitops_gen.errors import RemoteError, UserError
from gitops_gen.redact import redact

Sleep = Callable[[float], None]
#: Attempts per request (the first plus retries) and the first pause; pauses double each time.
DEFAULT_ATTEMPTS = 4
DEFAULT_BACKOFF = 1.0
#: Longest Retry-After honoured; a longer one is the forge saying "not now", not "in a moment".
MAX_RETRY_AFTER = 30.0
#: Characters of a forge's error message kept in ours.
DETAIL_LIMIT = 400


@dataclass(frozen=True)
class Forge:
    """What error messages say about the forge an API client talks to."""

    title: str          # GitHub, GitLab, Gitea
    token_env: str      # GITHUB_TOKEN...
    token_scopes: str   # what the token needs, in the forge's words


def origin(url: str) -> tuple[str, str, int | None]:
    """(scheme, host, port) of a URL, the port made explicit: what a token is bound to."""
    parts = urllib.parse.urlsplit(url)
    scheme = parts.scheme.lower()
    try:
        port = parts.port
    except ValueError:
        port = None
    return scheme, (parts.hostname or "").lower(), port or {"https": 443, "http": 80}.get(scheme)


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def refuse_insecure(url: str, what: str) -> None:
    """An API URL must be https://, or http:// on a loopback address."""
    scheme, host, _ = origin(url)
    if scheme == "https" or (scheme == "http" and is_loopback(host)):
        return
    raise UserError(f"{what} {redact(url)!r} is not an https:// URL: the token would cross the network in clear",
                    "use the API's https:// address (http:// is accepted only on a loopback address, 127.0.0.1 or "
                    "localhost)")


class CrossOriginRedirect(Exception):
    def __init__(self, source: str, target: str) -> None:
        super().__init__(f"{source} -> {target}")
        self.source = source
        self.target = target


class _SameOriginRedirects(urllib.request.HTTPRedirectHandler):
    """Follows a redirect only within the request's origin; keeps the method and body on 307 and 308."""

    def redirect_request(self, req: urllib.request.Request, fp: Any, code: int, msg: str, headers: Any,
                         newurl: str) -> urllib.request.Request | None:
        target = urllib.parse.urljoin(req.full_url, newurl)
        if origin(target) != origin(req.full_url):
            raise CrossOriginRedirect(req.full_url, target)
        if code in (307, 308):
            return urllib.request.Request(target, data=req.data, headers=dict(req.header_items()),
                                          method=req.get_method())
        return super().redirect_request(req, fp, code, msg, headers, target)


class JsonClient:
    """One forge API: ``request`` returns the decoded JSON of a 2xx answer or raises RemoteError."""

    def __init__(self, forge: Forge, base_url: str, headers: Mapping[str, str], token: str,
                 sleep: Sleep | None = None, attempts: int | None = None, backoff: float | None = None,
                 timeout: float = 30.0) -> None:
        refuse_insecure(base_url, f"the {forge.title} API URL")
        self.forge = forge
        self.base_url = base_url.rstrip("/")
        self._opener = urllib.request.build_opener(_SameOriginRedirects())
        self.headers = {"User-Agent": f"gitops-gen/{__version__}", "Accept": "application/json", **headers}
        self._token = token
        self.sleep = sleep if sleep is not None else time.sleep
        self.attempts = max(1, attempts if attempts is not None else DEFAULT_ATTEMPTS)
        self.backoff = backoff if backoff is not None else DEFAULT_BACKOFF
        self.timeout = timeout

    def _mask(self, text: str) -> str:
        return redact(text, [self._token])

    def request(self, method: str, path: str, body: Mapping[str, Any] | None = None,
                query: Mapping[str, str] | None = None) -> Any:
        return self.request_with_headers(method, path, body, query)[0]

    def request_with_headers(self, method: str, path: str, body: Mapping[str, Any] | None = None,
                             query: Mapping[str, str] | None = None) -> tuple[Any, Mapping[str, str]]:
        """``request``, with the answer's headers (names in lower case): the forges page their listings
        through them (GitHub's ``Link``, GitLab's ``X-Next-Page``, Gitea's ``X-Total-Count``)."""
        url = self.base_url + path + (f"?{urllib.parse.urlencode(query)}" if query else "")
        where = f"{method} {self.base_url}{path}"
        data = json.dumps(body).encode() if body is not None else None
        headers = {**self.headers, **({"Content-Type": "application/json"} if data is not None else {})}
        delay = self.backoff
        for attempt in range(1, self.attempts + 1):
            request = urllib.request.Request(url, data=data, headers=headers, method=method)
            try:
                with self._opener.open(request, timeout=self.timeout) as response:
                    headers = {k.lower(): v for k, v in response.headers.items()}
                    return self._decode(response.read(), where), headers
            except CrossOriginRedirect as exc:
                raise RemoteError(
                    self._mask(f"{self.forge.title} API: {where}: redirected from {exc.source} to {exc.target}, "
                               "another scheme, host or port; gitops-gen never sends the token there"),
                    "if the API moved, give its new base URL with --api-url or forge.apiUrl in gitops-gen.yaml; "
                    "otherwise something between you and the forge rewrites answers") from None
            except urllib.error.HTTPError as exc:
                payload = exc.read()
                if exc.code < 500 or attempt == self.attempts:
                    raise self._status_error(exc.code, exc.reason, payload, where, attempt) from None
                retry_after = _retry_after(exc.headers.get("Retry-After") if exc.headers else None)
            except (OSError, http.client.HTTPException) as exc:  # URLError, refused, reset, timeout
                if attempt == self.attempts:
                    reason = getattr(exc, "reason", None) or exc
                    raise RemoteError(
                        self._mask(f"{self.forge.title} API: {where}: could not connect after {attempt} "
                                   f"attempt{'s' if attempt > 1 else ''}: {reason}"),
                        "check the network (and https_proxy when a proxy is needed) and that --api-url or "
                        "forge.apiUrl in gitops-gen.yaml is the API's base URL") from None
                retry_after = None
            self.sleep(retry_after if retry_after is not None else delay)
            delay *= 2
        raise AssertionError("unreachable")  # pragma: no cover

    def _decode(self, payload: bytes, where: str) -> Any:
        if not payload.strip():
            return None
        try:
            return json.loads(payload)
        except ValueError:
            raise RemoteError(
                self._mask(f"{self.forge.title} API: {where} answered with something that is not JSON: "
                           f"{payload[:120].decode('utf-8', 'replace')!r}"),
                "--api-url or forge.apiUrl must be the API's base URL (https://api.github.com, "
                "https://HOST/api/v3 for GitHub Enterprise, https://HOST/api/v4 for GitLab, "
                "https://HOST/api/v1 for Gitea)") from None

    def _status_error(self, status: int, reason: str, payload: bytes, where: str, attempt: int) -> RemoteError:
        detail = self._mask(error_detail(payload))
        said = f": {detail}" if detail and detail.lower() != str(reason).lower() else ""
        f = self.forge
        head = f"{f.title} API: {where} failed with {status} {reason}"
        hints = {
            401: (f"{f.title} refused the token in ${f.token_env}{said}",
                  f"the token is wrong, expired or revoked: create one ({f.token_scopes}) and export {f.token_env}"),
            403: (f"{f.title} did not allow it{said}",
                  f"the token in ${f.token_env} may lack a permission ({f.token_scopes}), the repository or branch "
                  "may be protected, or a rate limit was hit (then wait)"),
            404: (f"{f.title} does not know this repository or pull request{said}",
                  f"check the remote's URL (git remote -v), --api-url or forge.apiUrl, and that the token in "
                  f"${f.token_env} can see the repository (forges answer 404 to tokens without access)"),
            409: (f"{f.title} reports a conflict{said}",
                  "a pull request for the branch may be open already, or the branch changed on the remote "
                  "meanwhile; look at the repository's open pull requests"),
            422: (f"{f.title} refused the request{said}",
                  "check that the base branch exists on the remote and that the branch has commits the base "
                  "lacks (--base names the base)"),
        }
        if status in hints:
            what, hint = hints[status]
            return RemoteError(f"{head}: {what}", hint, status)
        if status >= 500:
            return RemoteError(f"{head}{said} ({attempt} attempts)",
                               f"{f.title} has trouble right now; wait a little", status)
        return RemoteError(f"{head}{said}", "read the forge's message above", status)


def error_detail(payload: bytes) -> str:
    """The forge's own words from an error body: GitHub's and Gitea's 'message' (and GitHub's
    'errors'), GitLab's 'message' or 'error' (a string, a list or a mapping of fields)."""
    text = payload.decode("utf-8", "replace").strip()
    try:
        data = json.loads(text)
    except ValueError:
        return _cut(" ".join(text.split()))
    if not isinstance(data, Mapping):
        return _cut(json.dumps(data))
    parts = [_flatten(data.get("message")), _flatten(data.get("error"))]
    for item in data.get("errors") or []:
        if isinstance(item, Mapping):
            parts.append(_flatten(item.get("message")) or
                         " ".join(f"{k}={item[k]}" for k in ("resource", "field", "code") if item.get(k)))
        else:
            parts.append(_flatten(item))
    return _cut("; ".join(p for p in parts if p))


def _flatten(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        return "; ".join(_flatten(v) for v in value)
    if isinstance(value, Mapping):
        return "; ".join(f"{k} {_flatten(v)}" for k, v in value.items())
    return str(value)


def _cut(text: str) -> str:
    return text if len(text) <= DETAIL_LIMIT else text[:DETAIL_LIMIT] + "..."


def _retry_after(value: str | None) -> float | None:
    try:
        seconds = float(value) if value is not None else None
    except ValueError:
        return None
    return min(max(seconds, 0.0), MAX_RETRY_AFTER) if seconds is not None else None


def segment(value: str) -> str:
    """One URL path segment, '/' included (GitLab's 'group%2Fproject')."""
    return urllib.parse.quote(value, safe="")


#: One link of an RFC 8288 ``Link`` header: ``<url>; rel="next"``.
_LINK = re.compile(r'<([^>]*)>\s*;[^,]*?\brel="?([^",;]+)"?')


def next_page(link: str | None) -> str | None:
    """The ``page`` of the ``rel="next"`` link of a ``Link`` header, if there is one. Only the page
    number is taken: the token is never sent to a URL the forge names (docs.github.com/rest/using-the-rest-api/
    using-pagination-in-the-rest-api: the header is omitted on the last page)."""
    for url, rels in _LINK.findall(link or ""):
        if "next" in rels.split():
            page = urllib.parse.parse_qs(urllib.parse.urlsplit(url).query).get("page")
            return page[0] if page else None
    return None
