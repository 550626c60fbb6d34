"""``gitops-gen pr``, and the --push/--pr step of the committing commands."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape

from gitops_gen.cli.options import ApiUrlOpt, BaseOpt, Output, OutputOpt, RemoteOpt, RepoOpt
from gitops_gen.cli.output import err, error_json, out, plural, print_change, print_error, print_json, run_core
from gitops_gen.errors import GitopsGenError, UserError
from gitops_gen.redact import redact
from gitops_gen.review.report import DEFAULT_MAX_BYTES

if TYPE_CHECKING:
    from gitops_gen.publish.comment import CommentResult
    from gitops_gen.publish.pullrequest import PublishRequest, PublishResult
    from gitops_gen.write.transaction import ChangeResult



def publish_request(push: bool, pr: bool, base: str | None, remote: str | None, api_url: str | None,
                    dry_run: bool, no_commit: bool, checkout: bool = False,
                    branch: str | None = None, json_errors: bool = False) -> PublishRequest | None:
    """--push / --pr (and --base, --checkout) of a committing command; bad combinations fail before anything
    is written (with ``json_errors``, as the JSON error object on stdout)."""
    def check() -> PublishRequest | None:
        without = "--dry-run" if dry_run else "--no-commit"
        if (dry_run or no_commit) and checkout:
            raise UserError(f"--checkout switches to the new branch, and {without} makes none", "drop one of them",
                            field="--checkout")
        if no_commit and branch is not None:
            raise UserError("--branch names the branch to commit on, and --no-commit makes no commit",
                            "drop one of them; --no-commit writes into the work tree as it is", field="--branch")
        if no_commit and base is not None:
            raise UserError("--base names what the new branch starts from, and --no-commit makes no branch",
                            "drop one of them; --no-commit writes into the work tree as it is", field="--base")
        flag = "--pr" if pr else "--push"
        if (pr or push) and (dry_run or no_commit):
            raise UserError(f"{flag} pushes the commit, and {without} makes none",
                            f"drop one of them; '{without}' then 'gitops-gen pr --dry-run' shows what a pull "
                            "request would say", field=flag)
        if not (pr or push):
            for name, value in (("--remote", remote), ("--api-url", api_url)):
                if value is not None:
                    raise UserError(f"{name} is for pushing and pull requests", "add --pr (or --push), or drop it",
                                    field=name)
            return None
        if api_url is not None and not pr:
            raise UserError("--api-url is for pull requests", "use --pr instead of --push, or drop --api-url",
                            field="--api-url")
        from gitops_gen.publish.pullrequest import PublishRequest

        # The pull request merges into the branch the change starts from: 'origin/main' means main.
        into = base.split("/", 1)[1] if base is not None and base.startswith(f"{remote or 'origin'}/") else base
        return PublishRequest(pull_request=pr, base=into, remote=remote, api_url=api_url)

    return run_core(check, json_errors=json_errors)


def check_target(root: Path, publish: PublishRequest | None) -> None:
    if publish is not None:
        from gitops_gen.publish import pullrequest

        pullrequest.resolve_target(root, publish)


def change_then_publish(run: Callable[[], ChangeResult], repo: Path | None,
                        publish: PublishRequest | None, output: Output, done: str) -> None:
    """The command's change, then (once committed) the push and pull request. A failure of the second
    step keeps the commit: its report is printed, then the error, and the exit code is the error's. With
    ``--output json`` the report and the error are one JSON object on stdout (its ``error`` key)."""
    result = run_core(run, json_errors=output is Output.json)
    if publish is None or result.commit is None:
        print_change(result, output, done)
        return
    from gitops_gen.commands.common import resolve_root
    from gitops_gen.publish import pullrequest

    request = pullrequest.PublishRequest(publish.pull_request, publish.base, publish.remote, publish.api_url,
                                         branch=result.branch)
    try:
        published = pullrequest.publish(resolve_root(repo), request)
    except GitopsGenError as exc:
        if os.environ.get("GITOPS_GEN_DEBUG"):
            raise
        result.extra["publish"] = {"error": redact(exc.message)}
        if output is Output.json:
            print_json({**result.as_json(), **error_json(exc)})
        else:
            print_change(result, output, done)
            print_error(exc)
        raise typer.Exit(exc.exit_code) from None
    result.extra["publish"] = published.as_json()
    print_change(result, output, done)
    if output is Output.table:
        print_published(published)


def print_published(result: PublishResult) -> None:
    t = result.target
    kind = result.kind
    forge_name = {"github": "GitHub", "gitlab": "GitLab", "gitea": "Gitea"}.get(t.provider or "", "the forge")
    if result.action.startswith("would"):
        out.print(f"Would push {result.branch} ({result.commit[:12]}) to {t.remote} ({t.remote_url}).", highlight=False)
        if result.action == "would-open":
            token = f"${t.token_env} is set" if t.token is not None else f"${t.token_env} is NOT set"
            out.print(f"Would open a {kind} into {t.base} on {forge_name} ({t.api_url}, {t.project}), or update the "
                      f"branch's open one; {token}.", highlight=False)
    else:
        out.print(f"Pushed {result.branch} ({result.commit[:12]}) to {t.remote} ({t.remote_url}).", highlight=False)
        if result.action in ("created", "updated"):
            verb = "Opened" if result.action == "created" else "Updated"
            out.print(f"{verb} {kind} #{result.number} into {t.base} on {forge_name}: {result.url}", highlight=False)
    if result.title is not None:
        out.print(f"  title        {result.title}", highlight=False)
        out.print(f"  labels       {', '.join(result.labels) or '-'}", highlight=False)
        out.print(f"  description  {len((result.body or '').encode()):,} bytes: gitops-gen diff against {t.base} "
                  "and a review checklist", highlight=False)
    for note in result.notes:
        err.print(f"[yellow]warning:[/] {escape(note)}", markup=True, highlight=False)


def pr_(
    base: BaseOpt = None,
    branch: Annotated[str | None, typer.Option(help="Branch to push (default: the current branch).",
                                               show_default=False)] = None,
    remote: RemoteOpt = None,
    api_url: ApiUrlOpt = None,
    max_bytes: Annotated[int, typer.Option(help="Cut the diff in the description to this size.")] =
        DEFAULT_MAX_BYTES,
    repo: RepoOpt = None,
    dry_run: Annotated[bool, typer.Option(
        "--dry-run", help="Print the title, labels and description; push nothing, call no API.")] = False,
    output: OutputOpt = Output.table,
) -> None:
    """Push the current branch and open its pull request, or update the open one (GitHub, GitLab, Gitea).

    The description is 'gitops-gen diff --output markdown' against the base plus a review checklist. Safe to
    re-run: after a failure it finishes the job; on a branch with an open pull request it updates it.
    """
    from gitops_gen.commands.common import resolve_root
    from gitops_gen.publish import pullrequest

    request = pullrequest.PublishRequest(pull_request=True, base=base, remote=remote, api_url=api_url,
                                         branch=branch, dry_run=dry_run, max_bytes=max_bytes)
    result = run_core(lambda: pullrequest.publish(resolve_root(repo), request), json_errors=output is Output.json)
    if output is Output.json:
        print_json(result.as_json())
    else:
        print_published(result)
        if dry_run and result.body is not None:
            out.print()
            out.print(escape(result.body), highlight=False)


def print_commented(result: CommentResult) -> None:
    title = {"github": "GitHub", "gitlab": "GitLab", "gitea": "Gitea"}[result.provider]
    sign = "!" if result.provider == "gitlab" else "#"
    parts = plural(len(result.parts), "part")
    where = f"{result.kind} {sign}{result.number} on {title} ({result.api_url}, {result.project})"
    if result.dry_run:
        out.print(f"Would comment on {where}: {parts} of at most {result.max_bytes:,} bytes; "
                  f"${result.token_env} is {'set' if result.token_set else 'NOT set'}.", highlight=False)
    else:
        out.print(f"Commented on {where}: {parts}.", highlight=False)
    done = {"create": "created", "update": "updated", "unchanged": "unchanged"}
    for p in result.parts:
        verb = p.action if result.dry_run else done[p.action]
        ident = f"  comment {p.id}" if p.id is not None else ""
        link = f"  {p.url}" if p.url and not result.dry_run else ""
        out.print(f"  {verb:9} part {p.part}/{p.of}  {p.bytes:,} bytes{ident}{link}", highlight=False)
    for comment_id in result.deleted:
        out.print(f"  {'delete' if result.dry_run else 'deleted':9} comment {comment_id} (a part no longer needed)",
                  highlight=False)
    for note in result.notes:
        err.print(f"[yellow]note:[/] {escape(note)}", markup=True, highlight=False)


def comment(
    base: Annotated[str | None, typer.Argument(
        help="Base revision (default: the merge base with the default branch).", show_default=False)] = None,
    head: Annotated[str | None, typer.Argument(help="Head revision (default: the work tree).", show_default=False)]
        = None,
    pr: Annotated[int | None, typer.Option(
        "--pr", help="The pull request's number (GitLab: the merge request's IID; default: from the CI, "
        "$GITHUB_EVENT_PATH or $GITHUB_REF on GitHub, Gitea and Forgejo Actions, $CI_MERGE_REQUEST_IID on GitLab "
        "CI).", show_default=False)] = None,
    remote: Annotated[str | None, typer.Option(
        "--remote", help="Remote whose forge hosts the pull request (default: forge.remote in gitops-gen.yaml, "
        "else origin).", show_default=False)] = None,
    api_url: ApiUrlOpt = None,
    max_bytes: Annotated[int | None, typer.Option(
        "--max-bytes", help="Largest comment; a longer report is split into several (default, and at most: the "
        "forge's limit, 65,536 on GitHub and Gitea, 1,000,000 on GitLab).", show_default=False)] = None,
    dry_run: Annotated[bool, typer.Option(
        "--dry-run", help="Print which parts would be created, updated or deleted; write nothing (the comments "
        "are read when a token is set).")] = False,
    output: OutputOpt = Output.table,
    repo: RepoOpt = None,
) -> None:
    """Post the diff as one comment on the pull request, and rewrite it in place on every push.

    A hidden marker finds the comment again; past the forge's size limit the report is split into parts, one
    comment each, and parts no longer needed are deleted. Only comments written by the token's user are touched.
    """
    from gitops_gen.commands.common import resolve_root
    from gitops_gen.publish import comment as comment_mod

    request = comment_mod.CommentRequest(base=base, head=head, number=pr, remote=remote, api_url=api_url,
                                         max_bytes=max_bytes, dry_run=dry_run)
    json_errors = output is Output.json
    result = run_core(lambda: comment_mod.post_diff(resolve_root(repo), request), json_errors=json_errors)
    if output is Output.json:
        data = result.as_json()
        if result.error is not None:
            data = {**data, **error_json(result.error)}
        print_json(data)
    else:
        print_commented(result)
        if result.error is not None:
            print_error(result.error)
    if result.error is not None:
        raise typer.Exit(result.error.exit_code)
