"""Push a branch and open or update its pull request: the last step of every committing command.

Everything that can be checked without the network is checked first (``resolve_target``), so bad input
fails before a command writes anything. A failure after the commit loses nothing: the branch and its
commit stay, the error says what failed, and ``gitops-gen pr`` re-runs the remainder (pushing again
is a no-op; the open pull request of the branch is found and updated, never duplicated).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import pygit2

from gitops_gen import gitrepo
from gitops_gen.errors import GitError, GitopsGenError, UserError
from gitops_gen.estate import layout
from gitops_gen.estate.load import load_config
from gitops_gen.publish import forge
from gitops_gen.publish.forge.http import Sleep
from gitops_gen.publish.push import PushCredentials, default_credentials, push_branch
from gitops_gen.redact import TOKEN_ENV, redact
from gitops_gen.review import diff as diffmod
from gitops_gen.review.report import DEFAULT_MAX_BYTES, as_markdown

#: Labels per kind (tenant/, cluster/) at most: an estate-wide change is not labelled tenant by tenant.
MAX_LABELS = 10

CHECKLIST = """\
### Review checklist

- [ ] Only the tenants and clusters this change is meant for appear above
- [ ] No high risk above, or each one is intended and understood
- [ ] Hosts and regional domains are right (`gitops-gen route HOST`)
- [ ] CI passed: `gitops-gen generate --check` and `gitops-gen validate`
- [ ] After merge: Argo CD or Flux reports the tenants' Applications or Kustomizations synced and healthy
"""


@dataclass(frozen=True)
class PublishRequest:
    """``--push`` (push only) or ``--pr`` (push and open or update the pull request)."""

    pull_request: bool = True
    base: str | None = None         # default: repo.revision in gitops-gen.yaml
    remote: str | None = None       # default: forge.remote, else origin
    api_url: str | None = None      # default: forge.apiUrl, else the forge's usual API on the remote's host
    branch: str | None = None       # default: the current branch
    dry_run: bool = False
    max_bytes: int = DEFAULT_MAX_BYTES


@dataclass(frozen=True)
class Target:
    """Where the branch goes, resolved before anything is written."""

    remote: str
    remote_url: str                 # credentials masked
    project: str
    base: str
    provider: str | None            # None: push only, to a host no forge was recognised for
    api_url: str | None
    token_env: str | None
    token: str | None = field(default=None, repr=False)


@dataclass
class PublishResult:
    branch: str
    commit: str
    target: Target
    action: str                     # pushed | created | updated | would-push | would-open
    pushed: bool = False
    title: str | None = None
    body: str | None = None
    labels: tuple[str, ...] = ()
    number: int | None = None
    url: str | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def kind(self) -> str:
        return "merge request" if self.target.provider == "gitlab" else "pull request"

    def as_json(self) -> dict[str, object]:
        t = self.target
        return {"action": self.action, "branch": self.branch, "commit": self.commit, "pushed": self.pushed,
                "remote": t.remote, "remoteUrl": t.remote_url, "provider": t.provider, "apiUrl": t.api_url,
                "project": t.project, "base": t.base, "tokenEnv": t.token_env, "tokenSet": t.token is not None,
                "number": self.number, "url": self.url, "title": self.title, "labels": list(self.labels),
                "body": self.body, "notes": self.notes}


# --------------------------------------------------------------------------- before anything is written

def resolve_target(root: Path, request: PublishRequest, environ: Mapping[str, str] | None = None) -> Target:
    """The remote, forge, API and token of ``request``: UserError for anything missing or wrong."""
    env = os.environ if environ is None else environ
    config = load_config(root)
    repo = gitrepo.open_repo(root)
    remote_name = request.remote or config.forge.remote or "origin"
    try:
        remote = repo.remotes[remote_name]
    except (KeyError, ValueError, pygit2.GitError):
        names = ", ".join(r.name or "" for r in repo.remotes) or "none"
        raise UserError(f"the repository has no remote {remote_name!r} (remotes: {names})",
                        "add it (git remote add origin URL), or name another with --remote or forge.remote in "
                        f"{layout.CONFIG_FILE}") from None
    location = forge.parse_remote_url(remote.push_url or remote.url or "")
    base = request.base or config.revision
    provider: str | None
    try:
        provider = forge.detect_provider(location, config.forge.provider)
    except UserError:
        if request.pull_request:
            raise
        provider = None  # a plain push needs no forge: SSH keys, or a server that asks for nothing
    api_url = None
    if provider is not None and (request.pull_request or request.api_url):
        api_url = forge.api_url_for(provider, location, request.api_url or config.forge.api_url)
    token_env = TOKEN_ENV[provider] if provider is not None else None
    token = forge.token_for(provider, env) if provider is not None else None
    if request.pull_request and token is None and not request.dry_run:
        assert token_env is not None
        raise UserError(f"${token_env} is not set: opening a {forge.TITLES[provider or 'github']} pull request "
                        "needs a token", f"export {token_env}=<token> (gitops-gen reads tokens from the "
                        "environment only, never from a file or a flag)")
    return Target(remote_name, location.shown, location.project, base, provider, api_url, token_env, token)


# --------------------------------------------------------------------------- after the commit

def publish(root: Path, request: PublishRequest, target: Target | None = None,
            environ: Mapping[str, str] | None = None, sleep: Sleep | None = None,
            attempts: int | None = None) -> PublishResult:
    """Push the branch; with ``request.pull_request``, open its pull request or update the open one."""
    target = target or resolve_target(root, request, environ)
    repo = gitrepo.open_repo(root)
    branch = request.branch or gitrepo.current_branch(repo)
    if branch is None:
        raise GitError("HEAD is detached: there is no branch to push",
                       "check out the branch of the change (git switch NAME), or pass --branch NAME")
    ref = f"refs/heads/{branch}"
    if ref not in repo.references:
        raise UserError(f"there is no local branch {branch!r}", "check the name; 'git branch' lists them")
    head = repo.references[ref].peel(pygit2.Commit)
    commit = str(head.id)
    if request.pull_request and branch == target.base:
        raise UserError(f"{branch!r} is the base branch itself: a pull request needs a branch of its own",
                        "commit the change on a new branch (gitops-gen does, unless --branch says otherwise), or "
                        "name another base with --base")
    result = PublishResult(branch, commit, target, "would-open" if request.pull_request else "would-push")
    try:
        _publish(root, repo, head, target, request, result, sleep, attempts)
    except GitopsGenError as exc:
        if not request.dry_run:  # whatever failed, the commit is there: say so, and how to finish
            kept = _kept(branch, commit, target, request, result.pushed)
            exc.hint = f"{exc.hint.rstrip('.')}. {kept}" if exc.hint else kept
        raise
    return result


def _publish(root: Path, repo: pygit2.Repository, head: pygit2.Commit, target: Target, request: PublishRequest,
             result: PublishResult, sleep: Sleep | None, attempts: int | None) -> None:
    if request.pull_request:
        _describe(root, repo, head, target, request, result)
    if request.dry_run:
        return
    creds: PushCredentials = default_credentials(target.provider, target.token, target.token_env)
    push_branch(repo, target.remote, result.branch, creds)
    result.pushed = True
    result.action = "pushed"
    if not request.pull_request:
        return
    assert target.provider is not None and target.api_url is not None and target.token is not None
    provider = forge.make_provider(target.provider, target.api_url, target.project, target.token,
                                   sleep=sleep, attempts=attempts)
    spec = forge.PullRequestSpec(result.title or result.branch, _fit(result.body or "", provider.body_limit),
                                 result.branch, target.base, result.labels)
    pr, action = forge.open_or_update(provider, spec)
    result.number, result.url, result.action = pr.number, pr.url, action


def _kept(branch: str, commit: str, target: Target, request: PublishRequest, pushed: bool) -> str:
    if request.pull_request:
        again = "gitops-gen pr" + "".join(f" {flag} {value}" for flag, value in (
            ("--branch", branch), ("--base", request.base), ("--remote", request.remote),
            ("--api-url", request.api_url)) if value)
    else:
        again = f"git push {target.remote} {branch}"
    where = f"kept and pushed to {target.remote}" if pushed else "kept"
    return (f"Nothing is lost: the branch {branch} and its commit {commit[:12]} are {where}; after the fix, run "
            f"'{again}' to finish")



# --------------------------------------------------------------------------- title, description, labels

def _base_rev(repo: pygit2.Repository, target: Target) -> tuple[str, pygit2.Commit]:
    """The remote-tracking base branch (origin/main), else the local one."""
    for ref, name in ((f"refs/remotes/{target.remote}/{target.base}", f"{target.remote}/{target.base}"),
                      (f"refs/heads/{target.base}", target.base)):
        if ref in repo.references:
            return name, repo.references[ref].peel(pygit2.Commit)
    raise UserError(f"the base branch {target.base!r} exists neither as {target.remote}/{target.base} nor locally",
                    f"fetch it (git fetch {target.remote} {target.base}), or name the branch the pull request "
                    "should merge into with --base")


def _describe(root: Path, repo: pygit2.Repository, head: pygit2.Commit, target: Target, request: PublishRequest,
              result: PublishResult) -> None:
    base_name, base_commit = _base_rev(repo, target)
    merge_base = repo.merge_base(base_commit.id, head.id)
    if merge_base is None:
        raise UserError(f"{result.branch} and {base_name} have no commit in common",
                        "name the branch this one was made from with --base")
    commits = _commits_since(repo, head, merge_base)
    if not commits:
        raise UserError(f"{result.branch} has no commit that {base_name} lacks: there is nothing to review",
                        "commit the change first, or name the right base with --base")
    result.title = commits[-1].message.strip().splitlines()[0]  # the change that made the branch
    prefix = gitrepo.prefix_in_repo(repo, root)
    paths = _changed_paths(repo, merge_base, head.id, prefix)
    result.labels = labels_for(paths)
    # The description names the base as people know it when the branch starts at its tip.
    base_rev = base_name if merge_base == base_commit.id else str(merge_base)
    tail = [CHECKLIST]
    if len(commits) > 1:
        tail.append("### Commits\n\n" + "\n".join(f"- {c.message.strip().splitlines()[0]} ({str(c.id)[:7]})"
                                                  for c in reversed(commits)) + "\n")
    tail.append(f"<sub>Written by gitops-gen from `{result.branch}` ({result.commit[:12]}). Running "
                "`gitops-gen pr` on the branch again updates this description.</sub>\n")
    tail_text = "\n---\n\n" + "\n".join(tail)
    limit = forge.body_limit(target.provider or "github")
    budget = max(min(request.max_bytes, limit) - len(tail_text.encode()), 2_000)
    try:
        report = as_markdown(diffmod.diff(root, base_rev, result.branch), budget)
    except GitopsGenError as exc:  # the pull request is still worth opening; reviewers see why it has no diff
        note = f"gitops-gen diff failed: {redact(exc.message)}"
        result.notes.append(note)
        report = (f"## gitops-gen diff\n\n> **{note}**\n>\n> Run `gitops-gen diff {base_rev} {result.branch}` "
                  "locally to see what this change does.\n")
    result.body = report + tail_text


def _commits_since(repo: pygit2.Repository, head: pygit2.Commit, base: pygit2.Oid) -> list[pygit2.Commit]:
    """Commits on ``head`` that ``base`` lacks, newest first."""
    walker = repo.walk(head.id, pygit2.enums.SortMode.TOPOLOGICAL)
    walker.hide(base)
    return list(walker)


def _changed_paths(repo: pygit2.Repository, base: pygit2.Oid, head: pygit2.Oid, prefix: str) -> list[str]:
    before = repo[base].peel(pygit2.Commit).tree
    after = repo[head].peel(pygit2.Commit).tree
    paths = {p for d in before.diff_to_tree(after).deltas for p in (d.old_file.path, d.new_file.path)}
    return sorted(p.removeprefix(prefix) for p in paths if p.startswith(prefix))


def labels_for(paths: list[str]) -> tuple[str, ...]:
    """``tenant/<name>`` and ``cluster/<name>`` for the tenants and clusters whose files change."""
    tenants: set[str] = set()
    clusters: set[str] = set()
    for p in paths:
        parts = p.split("/")
        if parts[0] == layout.OVERLAYS_DIR and len(parts) >= 3:
            tenants.add(parts[1])
            if len(parts) >= 4:
                clusters.add(parts[2])
        elif parts[0] == layout.CLUSTERS_DIR and len(parts) >= 3:
            clusters.add(parts[1])
            if len(parts) == 4 and parts[2] == "tenants" and parts[3].endswith(".yaml"):
                tenants.add(parts[3].removesuffix(".yaml"))
        elif parts[0] == layout.ARGOCD_DIR and len(parts) == 3 and parts[1] == "projects":
            tenants.add(parts[2].removesuffix(".yaml"))
    labels = [f"tenant/{t}" for t in sorted(tenants)] if len(tenants) <= MAX_LABELS else []
    labels += [f"cluster/{c}" for c in sorted(clusters)] if len(clusters) <= MAX_LABELS else []
    return tuple(labels)


def _fit(body: str, limit: int) -> str:
    """The forge's limit is in characters; the report was already cut to bytes, this is the last guard."""
    if len(body) <= limit:
        return body
    note = "\n\n_(description cut to the forge's size limit; run `gitops-gen diff` for the whole report)_\n"
    return body[:limit - len(note)] + note
