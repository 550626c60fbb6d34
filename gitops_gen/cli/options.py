"""Options and choices several commands share; typer only."""

from __future__ import annotations

from collections.abc import Iterable
from enum import Enum, StrEnum
from pathlib import Path
from typing import Annotated, Any, get_args, get_origin

import typer
from typer.core import TyperArgument, TyperOption


class Output(StrEnum):
    table = "table"
    json = "json"


RepoOpt = Annotated[Path | None, typer.Option(
    "--repo", help="Estate repository (default: the git repository around the current directory).",
    show_default=False)]
OutputOpt = Annotated[Output, typer.Option("--output", "-o", help="Output format.")]
DryRunOpt = Annotated[bool, typer.Option(
    "--dry-run", help="Print the plan (files to create or change); write nothing.")]
NoCommitOpt = Annotated[bool, typer.Option(
    "--no-commit", help="Write the files into the work tree and leave them uncommitted; no branch.")]
CheckoutOpt = Annotated[bool, typer.Option(
    "--checkout", help="Switch the work tree to the new branch after the commit (default: your checkout is left "
    "as it is).")]
StartOpt = Annotated[str | None, typer.Option(
    "--base", help="What the new branch starts from, and with --pr the branch its pull request merges into "
    "(default: origin/<repo.revision>, else the local <repo.revision> branch, whatever is checked out).",
    show_default=False)]

PushOpt = Annotated[bool, typer.Option("--push", help="Push the branch to the remote after the commit.")]
PrOpt = Annotated[bool, typer.Option(
    "--pr", help="Push the branch and open a pull request (or update the branch's open one) whose description "
    "is the diff against the base; the token comes from GITHUB_TOKEN, GITLAB_TOKEN or GITEA_TOKEN.")]
BaseOpt = Annotated[str | None, typer.Option(
    "--base", help="Branch the pull request merges into (default: repo.revision in gitops-gen.yaml).",
    show_default=False)]
RemoteOpt = Annotated[str | None, typer.Option(
    "--remote", help="Remote to push to (default: forge.remote in gitops-gen.yaml, else origin).", show_default=False)]
ApiUrlOpt = Annotated[str | None, typer.Option(
    "--api-url", help="The forge's API base URL (default: forge.apiUrl in gitops-gen.yaml, else the forge's usual "
    "API on the remote's host).", show_default=False)]


# --------------------------------------------------------------------------- what --help shows for a value

#: Click's names for a value's type, which typer 0.29 replaced by Python's ('<str>', '<list[str]>').
_TYPE_NAMES: dict[Any, str] = {str: "TEXT", int: "INTEGER", float: "FLOAT", Path: "PATH"}


def value_metavar(param: TyperArgument | TyperOption) -> str:
    """What --help shows for a parameter's value, the way click does: nothing for a flag, ``[a|b|c]`` for a
    choice (click's Choice.get_metavar), else TEXT, INTEGER, PATH."""
    desc = param.type_descriptor
    if isinstance(param, TyperOption) and param.is_flag:
        return ""
    if desc.is_choice and desc.choices is not None:
        return "[" + "|".join(str(c.value if isinstance(c, Enum) else c) for c in desc.choices) + "]"
    annotation: Any = desc.annotation
    if get_origin(annotation) is list:  # repeatable: the help text says so
        (annotation,) = get_args(annotation)
    return _TYPE_NAMES.get(annotation, "TEXT")


class _PlainArgument(TyperArgument):
    """An argument whose type column shows click's name for it (TEXT, PATH) instead of '<str>'."""

    def display_type_rich(self, ctx: Any) -> str | None:
        return value_metavar(self)


def plain_help(params: Iterable[Any]) -> None:
    """Make --help show values as click does, for every command at once (cli/app.py calls it).

    typer 0.29's help (typer/rich_utils.py, _print_options_panel) shows ``param.display_type_rich()`` for
    every parameter, flags included, and ``_TyperParameter.display_type`` names the Python type:
    ``--dry-run <bool>``, ``--size <str>``, ``--cluster <list[str]>``. An option with a metavar shows the
    metavar instead (TyperOption.display_type_rich), so each option gets one unless it set its own: empty
    for a flag (as rich-click does, ewels/rich-click#100), ``[small|medium|large]`` for a choice. An
    argument's type column ignores its metavar, hence the subclass; its name is shown upper case, as click
    does (``{NAME}``). Idempotent."""
    for param in params:
        if isinstance(param, TyperOption):
            if param.metavar is None:
                param.metavar = value_metavar(param)
        elif isinstance(param, TyperArgument) and not isinstance(param, _PlainArgument):
            if param.metavar is None and param.name:
                param.metavar = param.name.upper()
            param.__class__ = _PlainArgument
