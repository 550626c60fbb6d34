"""Review: ``gitops-gen diff``."""

from __future__ import annotations

import sys
from enum import StrEnum
from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape

from gitops_gen.cli.options import RepoOpt
from gitops_gen.cli.output import RenderProgress, out, print_json, run_core
from gitops_gen.errors import UserError
from gitops_gen.review.report import DEFAULT_MAX_BYTES

if TYPE_CHECKING:
    from gitops_gen.review.diff import DiffResult



class DiffOutput(StrEnum):
    text = "text"
    markdown = "markdown"
    json = "json"


_DIFF_STYLES = {"title": "bold", "add": "green", "remove": "red", "risk-high": "bold red",
                "risk-medium": "yellow", "risk-low": "", "": ""}


def diff(
    base: Annotated[str | None, typer.Argument(
        help="Base revision (default: the merge base with the default branch).", show_default=False)] = None,
    head: Annotated[str | None, typer.Argument(help="Head revision (default: the work tree).", show_default=False)]
        = None,
    tenant: Annotated[list[str] | None, typer.Option(help="Only this tenant (repeatable).")] = None,
    cluster: Annotated[list[str] | None, typer.Option(help="Only this cluster (repeatable).")] = None,
    output: Annotated[DiffOutput, typer.Option("--output", "-o", help="Output format.")] = DiffOutput.text,
    max_bytes: Annotated[int, typer.Option(help="Cut the markdown report to this size (with --split: each part).")]
        = DEFAULT_MAX_BYTES,
    split: Annotated[bool, typer.Option(
        "--split", help="With --output markdown: past --max-bytes, print the report as parts that each stand alone "
        "('part 2/5': title, counts and risks first), separated by a line '<!-- gitops-gen diff part I/N -->'.")]
        = False,
    exit_code: Annotated[bool, typer.Option("--exit-code", help="Exit 1 when there are differences, like "
                                            "'flux diff'.")] = False,
    repo: RepoOpt = None,
) -> None:
    """What a change does to each tenant on each cluster: Applications, Kustomizations, objects, risks.

    Offline: both sides are read from git objects (or the work tree) and only changed overlays are rendered.
    """
    from gitops_gen.commands.common import resolve_root
    from gitops_gen.review import diff as diff_mod
    from gitops_gen.review import report as diffreport

    progress = RenderProgress()

    def run() -> DiffResult:
        if split and output is not DiffOutput.markdown:
            raise UserError(f"--split splits the markdown report, and --output is {output.value}",
                            "add --output markdown, or drop --split", field="--split")
        if max_bytes < 2_000:
            raise UserError(f"--max-bytes {max_bytes} leaves no room for a report", "give at least 2000",
                            field="--max-bytes")
        try:
            return diff_mod.diff(resolve_root(repo), base, head, tuple(tenant or ()), tuple(cluster or ()),
                                 progress=progress)
        finally:
            progress.close()

    result = run_core(run, json_errors=output is DiffOutput.json)
    if output is DiffOutput.json:
        print_json(diffreport.as_json(result))
    elif output is DiffOutput.markdown and split:
        parts = diffreport.as_markdown_parts(result, max_bytes)
        for i, part in enumerate(parts, 1):
            if len(parts) > 1:
                sys.stdout.write(("" if i == 1 else "\n") + f"<!-- gitops-gen diff part {i}/{len(parts)} -->\n")
            sys.stdout.write(part)
    elif output is DiffOutput.markdown:
        sys.stdout.write(diffreport.as_markdown(result, max_bytes))
    else:
        for line, style in diffreport.as_text(result):
            out.print(escape(line), style=_DIFF_STYLES.get(style, ""), highlight=False)
    raise typer.Exit(1 if exit_code and not result.empty else 0)
