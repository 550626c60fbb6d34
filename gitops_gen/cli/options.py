"""Options and choices several commands share; typer only."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer


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
