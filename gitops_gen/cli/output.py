"""Printing results: tables and text on the console, JSON on stdout, errors on stderr."""

from __future__ import annotations

import json
import os
import re
import sys
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, TypeVar

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeElapsedColumn

from gitops_gen.cli.options import Output
from gitops_gen.errors import DeclarationError, GitopsGenError
from gitops_gen.redact import redact

if TYPE_CHECKING:
    from typer._click.exceptions import ClickException

    from gitops_gen.write.transaction import ChangeResult

# Off a terminal (pipes, CI logs) rich would wrap tables at 80 columns; keep rows on one line.
out = Console(highlight=False, soft_wrap=True, width=None if sys.stdout.isatty() else 240)
err = Console(stderr=True, highlight=False, soft_wrap=True)
T = TypeVar("T")


def print_error(exc: GitopsGenError) -> None:
    # Masked again here: no message may carry a token from the environment or a URL's credentials.
    err.print(f"[bold red]error:[/] {escape(redact(exc.message))}", markup=True, highlight=False)
    if exc.hint:
        err.print(f"[yellow]hint:[/] {escape(redact(exc.hint))}", markup=True, highlight=False)


def error_json(exc: GitopsGenError) -> dict[str, object]:
    """The error as ``--output json`` prints it on stdout: ``{"error": {message, hint, file, line, field}}``."""
    return {"error": {"message": redact(exc.message), "hint": redact(exc.hint) if exc.hint else None,
                      "file": exc.file, "line": exc.line, "field": error_field(exc)}}


#: How estate/model.py words an error about a declaration field: "<file>:<line>: field 'database.cidrs' ...".
_FIELD_IN_MESSAGE = re.compile(r"^[^:]+(?::\d+)?: field '([^']+)'")


def error_field(exc: GitopsGenError) -> str | None:
    """The flag or declaration field at fault: the error's own, else the field a declaration error names."""
    if exc.field is not None or not isinstance(exc, DeclarationError):
        return exc.field
    m = _FIELD_IN_MESSAGE.match(exc.message)
    return m.group(1) if m else None


def usage_error_json(exc: ClickException) -> dict[str, object]:
    """A typer/click usage error (an unknown choice, a missing option, no such command) in the shape of
    ``error_json``; the field is the option (``--size``) or argument (``NAME``) at fault, when there is one."""
    from typer._click.exceptions import BadParameter, NoSuchOption, UsageError

    field: str | None = None
    if isinstance(exc, BadParameter) and exc.param is not None:  # MissingParameter is a BadParameter
        opts = [o for o in exc.param.opts if o.startswith("--")] or [exc.param.display_name_raw]
        field = max(opts, key=len)
    elif isinstance(exc, NoSuchOption):
        field = redact(exc.option_name)
    hint = None
    if isinstance(exc, UsageError) and exc.ctx is not None:
        what = "the commands" if hasattr(exc.ctx.command, "commands") else "the options and their allowed values"
        hint = f"'{exc.ctx.command_path} --help' lists {what}"
    return {"error": {"message": redact(exc.format_message()), "hint": hint, "file": None, "line": None,
                      "field": field}}


def wants_json(args: list[str]) -> bool:
    """Whether a command line asks for ``--output json`` (``-o json``, ``--output=json``, ``-ojson``), read
    before click parses it, so that a usage error can be printed the way the command would print it."""
    for i, arg in enumerate(args):
        if arg == "--":
            break
        if arg in ("--output", "-o"):
            if i + 1 < len(args) and args[i + 1] == "json":
                return True
        elif arg in ("--output=json", "-ojson", "-o=json"):
            return True
    return False


@contextmanager
def usage_errors(json_errors: bool) -> Iterator[None]:
    """Typer/click usage errors, raised before any command runs: their message is redacted (a flag's value
    may be a token), and with ``json_errors`` they become the JSON error object on stdout, exit 2."""
    from typer._click.exceptions import ClickException

    try:
        yield
    except ClickException as exc:
        # typer 0.29 passes on pydantic's wording of a bad choice: "Value error, 'x' is not one of ..."
        exc.message = redact(exc.message.removeprefix("Value error, "))
        if not json_errors:
            raise
        print_json(usage_error_json(exc))
        raise typer.Exit(exc.exit_code) from None


@contextmanager
def errors(json_errors: bool = False) -> Iterator[None]:
    try:
        yield
    except GitopsGenError as exc:
        if os.environ.get("GITOPS_GEN_DEBUG"):
            raise
        if json_errors:
            print_json(error_json(exc))
        else:
            print_error(exc)
        raise typer.Exit(exc.exit_code) from None


def run_core(fn: Callable[[], T], json_errors: bool = False) -> T:
    """Run a command's core; a GitopsGenError becomes its message on stderr (or, with ``json_errors``, a
    JSON object on stdout) and the error's exit code."""
    with errors(json_errors):
        return fn()
    raise AssertionError("unreachable")  # pragma: no cover


def print_json(data: object) -> None:
    sys.stdout.write(json.dumps(data, indent=2, sort_keys=False) + "\n")


def columns(header: Sequence[str], rows: Iterable[Sequence[str]]) -> str:
    """Rows as aligned plain-text columns (as ``kubectl get`` prints them), two spaces apart, no trailing
    blanks. Written directly: a rich Table takes 16 s for the 30,000 rows of 10,000 tenants on 3 clusters."""
    table = [list(header), *(list(r) for r in rows)]
    widths = [max(len(r[i]) for r in table) for i in range(len(header))]
    return "\n".join("  ".join(cell.ljust(w) for cell, w in zip(r, widths, strict=True)).rstrip() for r in table)


def plural(n: int, noun: str, many: str | None = None) -> str:
    """'1 tenant', '2 tenants', '1,024 files'; ``many`` for nouns not made plural by an 's' ('1 policy',
    '3 policies')."""
    return f"{n:,} {noun if n == 1 else many or noun + 's'}"


_count = plural


def plan_summary(result: ChangeResult) -> str:
    """'Would create 6 files and update 1.' (dry run) or 'Created 6 files and updated 1.'"""
    counts = [(a, sum(1 for c in result.plan.changes if c.action == a)) for a in ("create", "update", "delete")]
    parts = [(a, n) for a, n in counts if n]
    past = {"create": "created", "update": "updated", "delete": "deleted"}
    words = []
    for i, (action, n) in enumerate(parts):
        amount = plural(n, "file") if i == 0 else f"{n:,}"
        if result.dry_run:
            words.append(f"{'Would ' if i == 0 else ''}{action} {amount}")
        else:
            words.append(f"{past[action].capitalize() if i == 0 else past[action]} {amount}")
    joined = words[0] if len(words) == 1 else ", ".join(words[:-1]) + " and " + words[-1]
    return joined + "."


def print_change(result: ChangeResult, output: Output, done: str) -> None:
    if output is Output.json:
        print_json(result.as_json())
        return
    for note in result.notes:
        err.print(f"[yellow]note:[/] {escape(note)}", markup=True, highlight=False)
    plan = result.plan
    based = (f"based on {result.base} ({(result.base_commit or '')[:12]})" if result.base else "")
    if result.already:
        out.print(f"Branch {result.branch} already holds this change (commit {(result.commit or '')[:12]}, "
                  f"{based}): nothing to do.", highlight=False)
        _print_checkout(result)
        return
    if plan.empty:
        out.print("Nothing to change.")
        return
    style = {"create": "green", "update": "yellow", "delete": "red"}
    for c in plan.changes:
        reason = f" ({c.reason})" if c.reason else ""
        out.print(f"  [{style[c.action]}]{c.action:6}[/] {c.path}{reason}", markup=True, highlight=False)
    out.print(plan_summary(result), highlight=False)
    if result.dry_run:
        out.print(f"Dry run: nothing was written{'; the branch would be ' + based if based else ''}.",
                  highlight=False)
    elif result.commit:
        where = f" on branch {result.branch}" if result.branch else ""
        out.print(f"{done}: committed {result.commit[:12]}{where}{', ' + based if based else ''}.", highlight=False)
        _print_checkout(result)
    else:
        out.print(f"{done}: files written, not committed.")


def _print_checkout(result: ChangeResult) -> None:
    if result.branch is None or result.base is None:
        return
    if result.checked_out:
        out.print(f"Switched to branch {result.branch}.", highlight=False)
    else:
        out.print(f"Your checkout is unchanged. To look at the change: git log -p {result.base}..{result.branch}; "
                  f"to work on it: git switch {result.branch}.", highlight=False)


class RenderProgress:
    """A progress bar on a terminal (stderr), shown only once the work takes more than ``delay`` seconds;
    off a terminal it prints nothing. ``then`` labels the bar once every item is done, when work remains
    (generate compares the files with the work tree after the last tenant)."""

    def __init__(self, label: str = "rendering overlays", delay: float = 0.5, then: str | None = None) -> None:
        self.start = time.monotonic()
        self.label = label
        self.then = then
        self.delay = delay
        self.bar: Progress | None = None
        self.task: TaskID | None = None

    def __call__(self, done: int, total: int) -> None:
        if self.bar is None:
            if done >= total or not err.is_terminal or time.monotonic() - self.start < self.delay:
                return
            self.bar = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                                TimeElapsedColumn(), console=err, transient=True)
            self.bar.start()
            self.task = self.bar.add_task(escape(self.label), total=total)
        assert self.task is not None
        label = self.then if self.then is not None and done >= total else self.label
        self.bar.update(self.task, completed=done, total=total, description=escape(label))

    def close(self) -> None:
        if self.bar is not None:
            self.bar.stop()
