"""The diff of a pull request as one comment on it, rewritten in place on every push: ``gitops-gen comment``.

Each comment starts with a hidden marker, ``<!-- gitops-gen:diff part=1/3 -->``, that finds it again. A
report longer than the forge takes in one comment is split into parts, one comment each; a later run
updates the parts that exist, creates the missing ones and deletes those no longer needed, and sends no
body that has not changed. A comment is ours only when it starts with the marker and its writer is the
token's user (where the forge cannot say who the token is, a GitHub App's token, a bot): another
person's comment is never touched, whatever it contains.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from gitops_gen import gitrepo
from gitops_gen.errors import GitopsGenError, UserError
from gitops_gen.publish import forge
from gitops_gen.publish.forge import Comment, Provider
from gitops_gen.publish.forge.http import Sleep
from gitops_gen.publish.pullrequest import PublishRequest, resolve_target
from gitops_gen.redact import redact
from gitops_gen.review import diff as diffmod
from gitops_gen.review import report

#: ``<!-- gitops-gen:diff part=2/3 -->`` at the very start of a comment: where we put it.
_MARKER = re.compile(r"\A<!-- gitops-gen:diff part=(\d{1,4})/(\d{1,4}) -->")
#: Room kept in every comment for its marker and the closing line.
FRAME_BYTES = 400
#: A part smaller than this holds little more than its headings.
MIN_BYTES = 2_000
#: Where CI systems say which pull request a job runs for. GitHub Actions (docs.github.com/actions/reference/
#: workflows-and-actions/variables): GITHUB_EVENT_PATH, the event's JSON with ``pull_request.number``, and
#: GITHUB_REF, ``refs/pull/<number>/merge``; Gitea and Forgejo Actions set the same ones (docs.gitea.com/usage/
#: actions/comparison: "designed to be compatible with GitHub Actions"; their ref is ``refs/pull/<n>/head``).
#: GitLab CI (docs.gitlab.com/ci/variables/predefined_variables): CI_MERGE_REQUEST_IID in merge request pipelines.
PR_ENV = ("CI_MERGE_REQUEST_IID", "GITHUB_EVENT_PATH", "GITHUB_REF")
_PULL_REF = re.compile(r"^refs/pull/(\d+)/(?:merge|head)$")


def marker(part: int, of: int) -> str:
    return f"<!-- gitops-gen:diff part={part}/{of} -->"


def part_of(comment: Comment) -> tuple[int, int] | None:
    """(part, of) from the comment's marker, or None when it has none."""
    m = _MARKER.match(comment.body.lstrip())
    return (int(m[1]), int(m[2])) if m else None


def is_ours(comment: Comment, me: str | None) -> bool:
    """Carries our marker, and was written by the token's user (``me``; None: by a bot)."""
    if comment.system or part_of(comment) is None:
        return False
    return comment.author == me if me is not None else comment.author_is_bot


# --------------------------------------------------------------------------- the plan: parts against comments

@dataclass(frozen=True)
class Step:
    action: str                  # create | update | unchanged | delete
    part: int
    of: int
    body: str | None = None      # what the comment will say (None for a delete)
    comment: Comment | None = None


def _same(a: str, b: str) -> bool:
    """Equal as a forge gives them back: line ends and trailing white space aside."""
    def norm(text: str) -> str:
        return "\n".join(line.rstrip() for line in text.replace("\r\n", "\n").split("\n")).strip()
    return norm(a) == norm(b)


def plan(bodies: Sequence[str], existing: Sequence[Comment], me: str | None) -> list[Step]:
    """Part i goes into our comment carrying part i (the oldest, if several do), else a new one; our
    other comments go. Writes come first, in part order, deletes last: a run stopped midway leaves one
    comment too many, never a part missing."""
    mine: dict[int, Comment] = {}
    extra: list[Comment] = []
    for c in existing:
        if not is_ours(c, me):
            continue
        found = part_of(c)
        assert found is not None
        if found[0] in mine or found[0] > len(bodies):
            extra.append(c)
        else:
            mine[found[0]] = c
    steps: list[Step] = []
    of = len(bodies)
    for i, body in enumerate(bodies, 1):
        current = mine.get(i)
        if current is None:
            steps.append(Step("create", i, of, body))
        else:
            steps.append(Step("unchanged" if _same(current.body, body) else "update", i, of, body, current))
    for gone in extra:
        found = part_of(gone)
        assert found is not None
        steps.append(Step("delete", found[0], found[1], None, gone))
    return steps


@dataclass
class PartResult:
    part: int
    of: int
    action: str                  # create | update | unchanged
    bytes: int
    id: int | None = None
    url: str | None = None

    def as_json(self) -> dict[str, object]:
        return {"part": self.part, "of": self.of, "action": self.action, "id": self.id, "url": self.url,
                "bytes": self.bytes}


def apply(provider: Provider | None, number: int, steps: Sequence[Step],
          dry_run: bool = False) -> tuple[list[PartResult], list[int]]:
    """Carry out ``steps`` (only describe them with ``dry_run`` or without a provider)."""
    parts: list[PartResult] = []
    deleted: list[int] = []
    for step in steps:
        if step.action == "delete":
            assert step.comment is not None
            if not dry_run and provider is not None:
                provider.delete_comment(number, step.comment)
            deleted.append(step.comment.id)
            continue
        assert step.body is not None
        done = step.comment
        if not dry_run and provider is not None:
            if step.action == "create":
                done = provider.create_comment(number, step.body)
            elif step.action == "update":
                assert step.comment is not None
                done = provider.update_comment(number, step.comment, step.body)
        parts.append(PartResult(step.part, step.of, step.action, len(step.body.encode()),
                                done.id if done else None, done.url if done else None))
    return parts, deleted


def sync(provider: Provider, number: int, bodies: Sequence[str],
         dry_run: bool = False) -> tuple[list[PartResult], list[int]]:
    """Read the pull request's comments and bring ours in line with ``bodies``; ``dry_run`` reads only."""
    me = provider.whoami()
    return apply(provider, number, plan(bodies, provider.comments(number), me), dry_run)


# --------------------------------------------------------------------------- bodies

def frame(parts: Sequence[str], max_bytes: int) -> list[str]:
    """Each part behind its marker, with a closing line saying which part it is; at most ``max_bytes``
    bytes each (a longer part is cut, saying so)."""
    of = len(parts)
    bodies = []
    for i, text in enumerate(parts, 1):
        which = f"gitops-gen diff, part {i}/{of}" if of > 1 else "gitops-gen diff"
        tail = (f"\n<sub>{which}. Posted by `gitops-gen comment` and rewritten in place on every push.</sub>\n")
        head = marker(i, of) + "\n"
        room = max_bytes - len(head.encode()) - len(tail.encode())
        body = text.rstrip("\n") + "\n"
        if len(body.encode()) > room:
            note = "\n_(cut to the forge's size limit; run `gitops-gen diff` for the whole report)_\n"
            body = body.encode()[:max(room - len(note.encode()), 0)].decode("utf-8", "ignore") + note
        bodies.append(head + body + tail)
    return bodies


def failure_notice(exc: GitopsGenError, base: str | None, head: str | None) -> str:
    """What the comment says when the diff cannot be made: a stale diff must not stay up."""
    args = " ".join(x for x in (base, head) if x)
    hint = f">\n> {redact(exc.hint)}\n" if exc.hint else ""
    return (f"## gitops-gen diff\n\n> **gitops-gen diff failed: {redact(exc.message)}**\n{hint}>\n"
            f"> Run `gitops-gen diff{' ' + args if args else ''}` locally to see what this change does.\n")


# --------------------------------------------------------------------------- the pull request's number

def pull_request_number(flag: int | None, environ: Mapping[str, str]) -> int:
    """``--pr``, else what the CI says (GitLab CI, then GitHub, Gitea and Forgejo Actions)."""
    if flag is not None:
        if flag < 1:
            raise UserError(f"--pr {flag} is not a pull request number", "give the number shown on the forge, "
                            "e.g. --pr 42 (GitLab: the merge request's !IID)", field="--pr")
        return flag
    iid = environ.get("CI_MERGE_REQUEST_IID", "").strip()
    if iid:
        if not iid.isdigit() or int(iid) < 1:
            raise UserError(f"$CI_MERGE_REQUEST_IID is {iid!r}, not a merge request number",
                            "run the job in a merge request pipeline, or pass --pr NUMBER", field="--pr")
        return int(iid)
    event_path = environ.get("GITHUB_EVENT_PATH", "").strip()
    if event_path:
        try:
            event = json.loads(Path(event_path).read_text(encoding="utf-8"))
            number = event["pull_request"]["number"]
        except (OSError, ValueError, KeyError, TypeError):
            number = None  # not a pull request event (push, schedule...): GITHUB_REF may still say
        if isinstance(number, int) and not isinstance(number, bool) and number > 0:
            return number
    if m := _PULL_REF.match(environ.get("GITHUB_REF", "").strip()):
        return int(m[1])
    raise UserError("no pull request to comment on: --pr is not given and the CI says none "
                    f"(looked at {', '.join('$' + v for v in PR_ENV)})",
                    "pass --pr NUMBER, or run the job on pull request events (GitHub, Gitea and Forgejo Actions: "
                    "'on: pull_request'; GitLab CI: a merge request pipeline)", field="--pr")


# --------------------------------------------------------------------------- the command's core

@dataclass(frozen=True)
class CommentRequest:
    base: str | None = None          # default: the merge base with the default branch
    head: str | None = None          # default: the work tree
    number: int | None = None        # --pr; default: from the CI's environment
    remote: str | None = None
    api_url: str | None = None
    max_bytes: int | None = None     # default and ceiling: the forge's limit on a comment
    dry_run: bool = False


@dataclass
class CommentResult:
    number: int
    provider: str
    api_url: str
    project: str
    token_env: str
    token_set: bool
    max_bytes: int
    dry_run: bool
    parts: list[PartResult] = field(default_factory=list)
    deleted: list[int] = field(default_factory=list)
    read_existing: bool = False      # whether the comments on the forge were read (no token: not)
    notes: list[str] = field(default_factory=list)
    #: The diff failed: its notice was posted instead, and the command exits with this error.
    error: GitopsGenError | None = None

    @property
    def kind(self) -> str:
        return "merge request" if self.provider == "gitlab" else "pull request"

    def as_json(self) -> dict[str, object]:
        return {"pull_request": self.number, "parts": [p.as_json() for p in self.parts], "deleted": self.deleted,
                "dry_run": self.dry_run, "provider": self.provider, "api_url": self.api_url,
                "project": self.project, "token_env": self.token_env, "token_set": self.token_set,
                "max_bytes": self.max_bytes, "read_existing": self.read_existing, "notes": self.notes}


def post_diff(root: Path, request: CommentRequest, environ: Mapping[str, str] | None = None,
              sleep: Sleep | None = None, attempts: int | None = None) -> CommentResult:
    """Everything checkable offline first (the number, the size, the forge and token, the revisions), then
    the diff, then the comments."""
    env = os.environ if environ is None else environ
    number = pull_request_number(request.number, env)
    if request.max_bytes is not None and request.max_bytes < MIN_BYTES:
        raise UserError(f"--max-bytes {request.max_bytes:,} leaves no room for a report",
                        f"give at least {MIN_BYTES:,}, or leave it out for the forge's own limit", field="--max-bytes")
    target = resolve_target(root, PublishRequest(pull_request=True, remote=request.remote, api_url=request.api_url,
                                                 dry_run=True), env)
    assert target.provider is not None and target.api_url is not None and target.token_env is not None
    title = forge.TITLES[target.provider]
    if target.token is None and not request.dry_run:
        raise UserError(f"${target.token_env} is not set: commenting on a {title} "
                        f"{'merge' if target.provider == 'gitlab' else 'pull'} request needs a token",
                        f"export {target.token_env}=<token> (gitops-gen reads tokens from the environment only, "
                        "never from a file or a flag); --dry-run shows what would be posted without one")
    limit = forge.comment_limit(target.provider)
    max_bytes = min(request.max_bytes or limit, limit)
    result = CommentResult(number, target.provider, target.api_url, target.project, target.token_env,
                           target.token is not None, max_bytes, request.dry_run)
    if request.max_bytes is not None and request.max_bytes > limit:
        result.notes.append(f"--max-bytes {request.max_bytes:,} is more than {title} takes in a comment "
                            f"({limit:,} characters): {limit:,} bytes used")
    repo = gitrepo.open_repo(root)
    for rev in (request.base, request.head):
        if rev is not None:
            gitrepo.resolve_commit(repo, rev)
    if request.base is None:
        diffmod.default_base(repo)
    try:
        parts = report.as_markdown_parts(diffmod.diff(root, request.base, request.head), max_bytes - FRAME_BYTES)
    except GitopsGenError as exc:
        result.error = exc
        result.notes.append(f"gitops-gen diff failed: {redact(exc.message)}; the comment says so")
        parts = [failure_notice(exc, request.base, request.head)]
    bodies = frame(parts, max_bytes)
    if target.token is None:
        result.notes.append(f"${target.token_env} is not set: the comments on the {result.kind} were not read, "
                            "so every part is shown as new")
        result.parts, result.deleted = apply(None, number, plan(bodies, [], None), dry_run=True)
        return result
    provider = forge.make_provider(target.provider, target.api_url, target.project, target.token,
                                   sleep=sleep, attempts=attempts)
    result.parts, result.deleted = sync(provider, number, bodies, request.dry_run)
    result.read_existing = True
    return result
