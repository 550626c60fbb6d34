"""The estate as a whole: ``init``, ``generate``, ``list`` and ``route``."""

from __future__ import annotations

import sys
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape

from gitops_gen.cli.options import DryRunOpt, NoCommitOpt, Output, OutputOpt, RepoOpt
from gitops_gen.cli.output import RenderProgress, columns, err, out, plural, print_change, print_json, run_core

if TYPE_CHECKING:
    from gitops_gen.write.transaction import ChangeResult


class SecretsOpt(StrEnum):
    external_secrets = "external-secrets"
    pre_provisioned = "pre-provisioned"


def init(
    path: Annotated[Path, typer.Argument(help="Directory of the new estate (created if missing).")],
    repo_url: Annotated[str, typer.Option("--repo-url", help="URL Argo CD and Flux clone the estate from.")],
    revision: Annotated[str, typer.Option(help="Branch the controllers follow.")] = "main",
    workflowgen_version: Annotated[str, typer.Option(help="WorkflowGen version (X.Y.Z).")] = "10.3.1",
    secrets: Annotated[SecretsOpt, typer.Option(help="How Secrets reach tenant namespaces.")] =
        SecretsOpt.external_secrets,
    gitlab_ci: Annotated[bool, typer.Option(
        "--gitlab-ci", help="Also write .gitlab-ci.yml, the same checks for GitLab merge request pipelines (also on "
        "an existing estate).")] = False,
    dry_run: DryRunOpt = False,
    no_commit: NoCommitOpt = False,
    output: OutputOpt = Output.table,
) -> None:
    """Scaffold an estate: gitops-gen.yaml, the WorkflowGen base, a CI workflow. Safe to re-run."""
    from gitops_gen.commands.init import init_estate

    result = run_core(lambda: init_estate(path, repo_url, revision, workflowgen_version, secrets.value,
                                          dry_run=dry_run, commit=not no_commit, with_gitlab_ci=gitlab_ci),
                      json_errors=output is Output.json)
    print_change(result, output, f"Estate ready in {path}")


def generate(
    check: Annotated[bool, typer.Option("--check", help="Write nothing; exit 1 if any derived file is stale, "
                                        "orphaned or hand-edited.")] = False,
    repo: RepoOpt = None,
    dry_run: DryRunOpt = False,
    output: OutputOpt = Output.table,
) -> None:
    """Regenerate every derived file from the declarations and remove orphaned ones."""
    from gitops_gen.commands.common import resolve_root
    from gitops_gen.commands.generate import generate as generate_files

    # A bar on stderr once it takes more than half a second, on a terminal only: pipes and CI logs are unchanged.
    progress = RenderProgress("generating tenants' files", then="comparing with the work tree")

    def run() -> ChangeResult:
        try:
            return generate_files(resolve_root(repo), dry_run=dry_run, check=check, progress=progress)
        finally:
            progress.close()

    result = run_core(run, json_errors=output is Output.json)
    if check:
        for note in result.notes:
            err.print(f"[yellow]note:[/] {escape(note)}", markup=True, highlight=False)
        if output is Output.json:
            print_json({"upToDate": result.plan.empty, "changes": result.plan.as_json()})
        elif result.plan.empty:
            out.print("All derived files are up to date.")
        else:
            err.print("[bold red]Derived files are out of date:[/]", markup=True)
            for c in result.plan.changes:
                what = {"create": "missing", "delete": "orphaned"}.get(c.action, c.reason)
                err.print(f"  {what:12} {c.path}", highlight=False)
            err.print("[yellow]hint:[/] run 'gitops-gen generate' and commit the result; hand edits of derived "
                      "files are overwritten, so change the declarations instead", markup=True)
        raise typer.Exit(0 if result.plan.empty else 1)
    print_change(result, output, "Generated")


def list_(repo: RepoOpt = None, output: OutputOpt = Output.table) -> None:
    """Tenants by cluster, with regions, namespaces and hosts."""
    from gitops_gen.commands.common import resolve_root
    from gitops_gen.commands.query import list_placements

    clusters, rows = run_core(lambda: list_placements(resolve_root(repo)), json_errors=output is Output.json)
    if output is Output.json:
        print_json({
            "clusters": [
                {"name": c.name, "region": c.region, "controller": c.controller, "windowsBuild": c.windows_build,
                 "domain": c.domain, "labels": dict(c.labels),
                 "tenants": [r.as_json() for r in rows if r.cluster == c.name]}
                for c in sorted(clusters.values(), key=lambda c: c.name)
            ],
        })
        return
    sys.stdout.write(columns(("cluster", "region", "controller", "tenant", "namespace", "role", "state", "phase",
                              "hosts"),
                             ((r.cluster, r.region, r.controller, r.tenant, r.namespace, r.role, r.state,
                               r.phase or "-", ", ".join(r.hosts) or "-") for r in rows)) + "\n")
    out.print(f"{plural(len({r.tenant for r in rows}), 'tenant')}, {plural(len(rows), 'placement')} on "
              f"{plural(len(clusters), 'cluster')}.")


def route(
    host: Annotated[str, typer.Argument(
        help="Host name, e.g. acme.wfg.example.com, or a URL (https://acme.wfg.example.com/wfgen).")],
    repo: RepoOpt = None,
    output: OutputOpt = Output.table,
) -> None:
    """Which tenant, cluster, region and namespace serve a host."""
    from gitops_gen.commands.common import resolve_root
    from gitops_gen.commands.query import route as find_route

    r = run_core(lambda: find_route(resolve_root(repo), host), json_errors=output is Output.json)
    if output is Output.json:
        print_json(r.as_json())
        return
    for key, value in (("host", f"{r.host} ({r.kind})"), ("tenant", r.row.tenant), ("cluster", r.row.cluster),
                       ("region", r.row.region), ("namespace", r.row.namespace),
                       ("controller", r.row.controller), ("role", r.row.role), ("state", r.row.state),
                       ("phase", r.row.phase or "-"), ("url", f"https://{r.host}/wfgen")):
        out.print(f"{key:11}{value}", highlight=False)
