"""The typer application: the command groups wired in the order ``--help`` lists them.

Each command module imports the core it calls inside the command, so ``gitops-gen --version`` or
``add-tenant`` never loads the diff, the rules or the schema validators."""

from __future__ import annotations

from typing import Annotated

import typer

from gitops_gen import __version__
from gitops_gen.cli import clusters, estate, publish, review, tenants, validate
from gitops_gen.cli.output import out

app = typer.Typer(
    name="gitops-gen",
    help="Keep a multi-tenant WorkflowGen estate on Kubernetes declared in git, for Argo CD and Flux.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


@app.callback(invoke_without_command=True)
def _main(version: Annotated[bool, typer.Option("--version", help="Print the version and exit.")] = False) -> None:
    if version:
        out.print(f"gitops-gen {__version__}")
        raise typer.Exit(0)


app.command()(estate.init)
app.command("add-cluster")(clusters.add_cluster)
app.command("add-tenant")(tenants.add_tenant)
app.command("pr")(publish.pr_)
app.command("comment")(publish.comment)
app.command()(estate.generate)
app.command("list")(estate.list_)
app.command()(estate.route)
app.command()(validate.validate)
app.command()(review.diff)


def main() -> None:
    app(prog_name="gitops-gen")
