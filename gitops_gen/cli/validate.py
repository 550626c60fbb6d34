"""``gitops-gen validate``: render overlays and check them; ``validate merge`` and ``validate plan`` for CI."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, NoReturn, TypeVar

import typer
from rich.markup import escape
from rich.table import Table

from gitops_gen.cli.options import RepoOpt
from gitops_gen.cli.output import RenderProgress, err, error_json, out, print_error, print_json
from gitops_gen.errors import GitopsGenError
from gitops_gen.render.schemas import DEFAULT_KUBERNETES_VERSION

if TYPE_CHECKING:
    from gitops_gen.checks import Finding
    from gitops_gen.commands.validate import Shard, ValidateResult

T = TypeVar("T")

app = typer.Typer(name="validate", add_completion=False, no_args_is_help=False)


class ValidateOutput(StrEnum):
    table = "table"
    json = "json"
    sarif = "sarif"
    codequality = "codequality"


class PlanOutput(StrEnum):
    matrix = "matrix"
    json = "json"


def _plural(n: int, noun: str) -> str:
    return f"{n:,} {noun}{'' if n == 1 else 's'}"


def _print_findings(result: ValidateResult) -> None:
    groups: dict[tuple[str, str], list[Finding]] = {}
    for f in result.findings:
        groups.setdefault((f.tenant or "", f.cluster or ""), []).append(f)
    for (tenant, cluster), items in groups.items():
        title = " / ".join(x for x in (tenant and f"tenant {tenant}", cluster and f"cluster {cluster}") if x)
        table = Table(title=title or "estate", title_justify="left", box=None, pad_edge=False, expand=False)
        for col in ("", "rule", "object", "message", "fix"):
            table.add_column(col, overflow="fold")
        for f in items:
            mark = "[red]error[/]" if f.severity == "error" else "[yellow]warning[/]"
            table.add_row(mark, f.rule, f.obj or f.path or "", escape(f.message), escape(f.hint))
        out.print(table)
        out.print()
    unchanged = len(result.overlays) - result.checked
    where = result.selection
    if result.shard is not None:
        where += f", shard {result.shard} of {_plural(result.selected, 'overlay')}"
    if result.merged:
        where += f", merged from {_plural(result.merged, 'shard')}"
    summary = (f"{_plural(len(result.overlays), 'overlay')} ({where}): {result.checked:,} checked "
               f"({result.rendered:,} rendered by kustomize), {unchanged:,} unchanged since the last run; "
               f"{_plural(result.errors, 'error')}, {_plural(result.warnings, 'warning')}.")
    out.print(summary, highlight=False)


def _estate_dir(repo: Path | None) -> str:
    """The estate's folder inside its git repository, '' at the top (SARIF and Code Quality paths)."""
    from gitops_gen import gitrepo
    from gitops_gen.commands.common import resolve_root

    root = resolve_root(repo)
    git = gitrepo.discover(root)
    return gitrepo.prefix_in_repo(git, root) if git is not None else ""


def _report(result: ValidateResult, output: ValidateOutput, estate_dir: str) -> None:
    for failure in result.failures:
        err.print(f"[bold red]error:[/] {escape(failure)}", markup=True, highlight=False)
    if output is ValidateOutput.json:
        print_json(result.as_json(estate_dir))
    elif output is ValidateOutput.sarif:
        from gitops_gen.checks.sarif import to_sarif

        print_json(to_sarif(result.findings, estate_dir, result.failures))
    elif output is ValidateOutput.codequality:
        from gitops_gen.checks.sarif import to_code_quality

        print_json(to_code_quality(result.findings, estate_dir))
    else:
        _print_findings(result)


def _run(fn: Callable[[], T], output: ValidateOutput | PlanOutput, shard: Shard | None = None) -> T:
    """The core's result; when it cannot run, the error in the output's own form on stdout (a JSON
    ``{"error": ...}`` object, a SARIF log whose invocation failed, an empty Code Quality report, so a
    CI step that uploads the file never gets an empty one), the message on stderr, its exit code."""
    try:
        return fn()
    except GitopsGenError as exc:
        if os.environ.get("GITOPS_GEN_DEBUG"):
            raise
        _fail(exc, output, shard)


def _fail(exc: GitopsGenError, output: ValidateOutput | PlanOutput, shard: Shard | None) -> NoReturn:
    if output in (ValidateOutput.json, PlanOutput.json):
        data = error_json(exc)
        if shard is not None:
            data["shard"] = shard.as_json()
        print_json(data)
    else:
        print_error(exc)
        if output is ValidateOutput.sarif:
            from gitops_gen.checks.sarif import to_sarif
            from gitops_gen.redact import redact

            message = redact(exc.message) + (f" (hint: {redact(exc.hint)})" if exc.hint else "")
            print_json(to_sarif([], "", [message]))
        elif output is ValidateOutput.codequality:
            print_json([])
    raise typer.Exit(exc.exit_code)


def _shard_of(text: str | None) -> Shard | None:
    """The shard, for the error report too; None when not given (or not valid: the core says so)."""
    if text is None:
        return None
    from gitops_gen.commands.validate import Shard

    try:
        return Shard.parse(text)
    except GitopsGenError:
        return None


@app.callback(invoke_without_command=True)
def validate(
    ctx: typer.Context,
    tenant: Annotated[list[str] | None, typer.Option(help="Only this tenant's overlays (repeatable).")] = None,
    cluster: Annotated[list[str] | None, typer.Option(help="Only overlays on this cluster (repeatable).")] = None,
    changed_since: Annotated[str | None, typer.Option(
        help="Only overlays whose inputs differ from this git ref (a change to base/ selects all).")] = None,
    shard: Annotated[str | None, typer.Option(
        help="Only shard K of N of the selected overlays (K/N, 1 <= K <= N), a tenant's placements together; "
             "'validate merge' combines the shards' JSON reports.")] = None,
    cache_dir: Annotated[Path | None, typer.Option(
        help="Folder of the render and findings caches, inside the repository (default: .git/gitops-gen), "
             "e.g. .gitops-gen-cache for a CI cache.")] = None,
    crd_dir: Annotated[list[Path] | None, typer.Option(
        help="Folder of CRD files for custom kinds (repeatable; adds to 'crds' in gitops-gen.yaml).")] = None,
    kubernetes_version: Annotated[str, typer.Option(help="Kubernetes version of the core schemas.")] =
        DEFAULT_KUBERNETES_VERSION,
    jobs: Annotated[int | None, typer.Option(help="kustomize builds at a time (default: the number of cores).")]
        = None,
    repo: RepoOpt = None,
    output: Annotated[ValidateOutput, typer.Option("--output", "-o", help="Output format.")] = ValidateOutput.table,
) -> None:
    """Render overlays with kustomize and check isolation, HTTPS, routing, Windows, secrets, data safety.

    Exit 0 when clean, 1 when any finding is an error, 2 when validation could not run.
    """
    if ctx.invoked_subcommand is not None:
        return
    from gitops_gen.commands import validate as validate_mod
    from gitops_gen.commands.common import resolve_root

    progress = RenderProgress()

    def run() -> tuple[ValidateResult, str]:
        root = resolve_root(repo)
        request = validate_mod.ValidateRequest(
            tenants=tuple(tenant or ()), clusters=tuple(cluster or ()), changed_since=changed_since,
            crd_dirs=tuple(crd_dir or ()), kubernetes_version=kubernetes_version, jobs=jobs,
            shard=validate_mod.Shard.parse(shard) if shard is not None else None)
        where = validate_mod.resolve_cache_dir(root, cache_dir) if cache_dir is not None else None
        try:
            return validate_mod.validate(root, request, progress=progress, cache_dir=where), _estate_dir(repo)
        finally:
            progress.close()

    result, estate_dir = _run(run, output, _shard_of(shard))
    _report(result, output, estate_dir)
    raise typer.Exit(result.exit_code)


@app.command("merge")
def merge(
    files: Annotated[list[Path], typer.Argument(
        help="Every shard's report, as 'validate --shard K/N --output json' wrote it.", show_default=False)],
    output: Annotated[ValidateOutput, typer.Option("--output", "-o", help="Output format.")] = ValidateOutput.table,
) -> None:
    """Combine the JSON reports of a sharded validate into one report, as one run would give it.

    Exit 0 when clean, 1 when any finding is an error, 2 when a shard could not run or a file is refused.
    """
    from gitops_gen.commands.validate import estate_dir_of, merge_reports

    result = _run(lambda: merge_reports(files), output)
    _report(result, output, estate_dir_of(files))
    raise typer.Exit(result.exit_code)


@app.command("plan")
def plan(
    changed_since: Annotated[str | None, typer.Option(
        help="Count only overlays whose inputs differ from this git ref (a change to base/ selects all).")] = None,
    max_jobs: Annotated[int, typer.Option(
        help="Most shards to plan (GitHub Actions: 256 jobs per matrix; GitLab parallel: 200).")] = 256,
    per_shard: Annotated[int, typer.Option(help="Overlays one shard validates.")] = 200,
    tenant: Annotated[list[str] | None, typer.Option(help="Only this tenant's overlays (repeatable).")] = None,
    cluster: Annotated[list[str] | None, typer.Option(help="Only overlays on this cluster (repeatable).")] = None,
    repo: RepoOpt = None,
    output: Annotated[PlanOutput, typer.Option("--output", "-o", help="matrix: the one-line JSON of a GitHub "
                                               "Actions strategy.matrix; json: it with the counts.")] =
        PlanOutput.matrix,
) -> None:
    """Print the CI matrix of a sharded validate: one shard per --per-shard affected overlays, at least one.

    The matrix is {"include": [{"shard": "1/N"}, ...]} on one line, for $GITHUB_OUTPUT and fromJSON; the
    count of affected overlays goes to stderr.
    """
    import json

    from gitops_gen.commands.common import resolve_root
    from gitops_gen.commands.validate import plan_shards

    result = _run(lambda: plan_shards(resolve_root(repo), changed_since, max_jobs=max_jobs, per_shard=per_shard,
                                      tenants=tuple(tenant or ()), clusters=tuple(cluster or ())), output)
    if output is PlanOutput.json:
        print_json({"matrix": result.matrix(), "overlays": result.overlays, "shards": result.shards,
                    "perShard": result.per_shard, "selection": result.selection})
        return
    sys.stdout.write(json.dumps(result.matrix(), separators=(",", ":")) + "\n")
    err.print(f"{_plural(result.overlays, 'overlay')} to validate ({result.selection}): "
              f"{_plural(result.shards, 'shard')} of at most {result.per_shard:,}.", highlight=False)
