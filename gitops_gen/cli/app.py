"""The typer application: the command groups wired in the order ``--help`` lists them.

Each command module imports the core it calls inside the command, so ``gitops-gen --version`` or
``add-tenant`` never loads the diff, the rules or the schema validators."""

from __future__ import annotations

import atexit
import gc
import os
import sys
import threading
from collections.abc import Sequence
from typing import Annotated, Any

import typer
from typer.core import TyperGroup

from gitops_gen import __version__
from gitops_gen.cli import clusters, estate, publish, review, tenants, validate
from gitops_gen.cli.options import plain_help
from gitops_gen.cli.output import out, usage_errors, wants_json


class GitopsGenGroup(TyperGroup):
    """The command group: every command's --help shows values as click does (options.plain_help), and a
    usage error (an unknown choice, a missing option, no such command) on a command line with
    ``--output json`` is the JSON error object on stdout, exit 2, like every other error of that command.

    Usage errors are raised while click parses, before any command runs: the group's own parse is in
    ``make_context``, a command's parse (and its run) in the group's ``invoke``."""

    json_errors = False

    def main(self, args: Sequence[str] | None = None, prog_name: str | None = None,
             complete_var: str | None = None, standalone_mode: bool = True, windows_expand_args: bool = True,
             **extra: Any) -> Any:
        self.json_errors = wants_json(list(sys.argv[1:] if args is None else args))
        return super().main(args, prog_name, complete_var, standalone_mode, windows_expand_args, **extra)

    def make_context(self, info_name: str | None, args: list[str], parent: Any = None, **extra: Any) -> Any:
        with usage_errors(self.json_errors):
            return super().make_context(info_name, args, parent, **extra)

    def invoke(self, ctx: Any) -> Any:
        with usage_errors(self.json_errors):
            return super().invoke(ctx)

    def get_params(self, ctx: Any) -> Any:
        params = super().get_params(ctx)
        plain_help(params)
        return params

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        command = super().get_command(ctx, cmd_name)
        if command is not None:
            _plain_help_all(command, ctx)
        return command


def _plain_help_all(command: Any, ctx: Any) -> None:
    """A command's parameters, its --help included, and those of its subcommands (``validate merge``)."""
    plain_help(command.get_params(ctx))
    for sub in getattr(command, "commands", {}).values():
        _plain_help_all(sub, ctx)


app = typer.Typer(
    name="gitops-gen",
    cls=GitopsGenGroup,
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
app.command("update-tenant")(tenants.update_tenant)
app.command("remove-tenant")(tenants.remove_tenant)
app.command("move-tenant")(tenants.move_tenant)
app.command("pr")(publish.pr_)
app.command("comment")(publish.comment)
app.command()(estate.generate)
app.command("list")(estate.list_)
app.command()(estate.route)
app.add_typer(validate.app, name="validate")  # a group: validate, validate merge, validate plan
app.command()(review.diff)


def main() -> None:
    # A run allocates hundreds of thousands of small objects (paths, parsed YAML), and the cyclic
    # collector's default thresholds traverse all of them again and again: at 10,000 tenants that is
    # a tenth of 'validate --changed-since'. What is loaded by now is kept out of its way (gc.freeze),
    # and it runs a hundred times less often; reference counting still frees almost everything at once.
    gc.freeze()
    gc.set_threshold(70_000, 50, 1000)
    try:
        app(prog_name="gitops-gen")
    except SystemExit as done:
        _leave(done.code)
    _leave(0)


def _leave(code: object) -> None:
    """Exit with ``code`` as SystemExit would, but without the interpreter freeing its heap object by
    object first: at 10,000 tenants that is 0.2 to 0.4 s after the answer is out. Output is flushed and
    the exit functions run (atexit), as on a normal exit. Where that cannot be done safely (a thread still
    running, output that does not flush, a profiler, coverage or a debugger that writes its report at exit),
    it is a normal exit."""
    if threading.active_count() > 1 or sys.getprofile() is not None or sys.gettrace() is not None:
        raise SystemExit(code)
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except (OSError, ValueError):
        raise SystemExit(code) from None
    if code is None:
        status = 0
    elif isinstance(code, int):
        status = code
    else:  # as SystemExit does with a message: print it, exit 1
        print(code, file=sys.stderr)
        sys.stderr.flush()
        status = 1
    atexit._run_exitfuncs()
    os._exit(status & 0xFF)
