"""``gitops-gen validate``: render overlays and check them."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape
from rich.table import Table

from gitops_gen.cli.options import RepoOpt
from gitops_gen.cli.output import RenderProgress, out, print_json, run_core
from gitops_gen.render.schemas import DEFAULT_KUBERNETES_VERSION

if TYPE_CHECKING:
    from gitops_gen.checks import Finding
    from gitops_gen.commands.validate import ValidateResult


class ValidateOutput(StrEnum):
    table = "table"
    json = "json"
    sarif = "sarif"


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
    summary = (f"{len(result.overlays)} overlays ({result.selection}): {result.checked} checked "
               f"({result.rendered} rendered by kustomize), {unchanged} unchanged since the last run; "
               f"{result.errors} errors, {result.warnings} warnings.")
    out.print(summary, highlight=False)


def validate(
    tenant: Annotated[list[str] | None, typer.Option(help="Only this tenant's overlays (repeatable).")] = None,
    cluster: Annotated[list[str] | None, typer.Option(help="Only overlays on this cluster (repeatable).")] = None,
    changed_since: Annotated[str | None, typer.Option(
        help="Only overlays whose inputs differ from this git ref (a change to base/ selects all).")] = None,
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
    from gitops_gen.commands import validate as validate_mod
    from gitops_gen.commands.common import resolve_root

    progress = RenderProgress()

    def run() -> ValidateResult:
        root = resolve_root(repo)
        request = validate_mod.ValidateRequest(
            tenants=tuple(tenant or ()), clusters=tuple(cluster or ()), changed_since=changed_since,
            crd_dirs=tuple(crd_dir or ()), kubernetes_version=kubernetes_version, jobs=jobs)
        try:
            return validate_mod.validate(root, request, progress=progress)
        finally:
            progress.close()

    result = run_core(run)
    if output is ValidateOutput.json:
        print_json({
            "version": 1,
            "selection": result.selection,
            "summary": {"overlays": len(result.overlays), "checked": result.checked, "rendered": result.rendered,
                        "errors": result.errors, "warnings": result.warnings},
            "findings": [f.as_json() for f in result.findings],
            "rules": validate_mod.rules_catalog(),
        })
    elif output is ValidateOutput.sarif:
        from gitops_gen import gitrepo
        from gitops_gen.checks.sarif import to_sarif

        root = resolve_root(repo)
        git = gitrepo.discover(root)
        print_json(to_sarif(result.findings, gitrepo.prefix_in_repo(git, root) if git is not None else ""))
    else:
        _print_findings(result)
    raise typer.Exit(result.exit_code)
