"""Printing results: tables and text on the console, JSON on stdout, errors on stderr."""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, TypeVar

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeElapsedColumn

from gitops_gen.cli.options import Output
from gitops_gen.errors import GitopsGenError
from gitops_gen.redact import redact

if TYPE_CHECKING:
    from gitops_gen.write.writer import ChangeResult

# Off a terminal (pipes, CI logs) rich would wrap tables at 80 columns; keep rows on one line.
out = Console(highlight=False, soft_wrap=True, width=None if sys.stdout.isatty() else 240)
err = Console(stderr=True, highlight=False, soft_wrap=True)
T = TypeVar("T")


def print_error(exc: GitopsGenError) -> None:
    # Masked again here: no message may carry a token from the environment or a URL's credentials.
    err.print(f"[bold red]error:[/] {escape(redact(exc.message))}", markup=True, highlight=False)
    if exc.hint:
        err.print(f"[yellow]hint:[/] {escape(redact(exc.hint))}", markup=True, highlight=False)


@contextmanager
def errors(debug: bool = False) -> Iterator[None]:
    try:
        yield
    except GitopsGenError as exc:
        if os.environ.get("GITOPS_GEN_DEBUG"):
            raise
        print_error(exc)
        raise typer.Exit(exc.exit_code) from None


def run_core(fn: Callable[[], T]) -> T:
    with errors():
        return fn()
    raise AssertionError("unreachable")  # pragma: no cover


def print_json(data: object) -> None:
    sys.stdout.write(json.dumps(data, indent=2, sort_keys=False) + "\n")


def print_change(result: ChangeResult, output: Output, done: str) -> None:
    if output is Output.json:
        print_json(result.as_json())
        return
    plan = result.plan
    if plan.empty:
        out.print("Nothing to change.")
        return
    verb = "Would" if result.dry_run else "Did"
    style = {"create": "green", "update": "yellow", "delete": "red"}
    for c in plan.changes:
        reason = f" ({c.reason})" if c.reason else ""
        out.print(f"  [{style[c.action]}]{c.action:6}[/] {c.path}{reason}", markup=True, highlight=False)
    counts = {a: sum(1 for c in plan.changes if c.action == a) for a in ("create", "update", "delete")}
    summary = ", ".join(f"{n} {a}" for a, n in counts.items() if n)
    out.print(f"{verb} {summary}.")
    if result.dry_run:
        out.print("Dry run: nothing was written.")
    elif result.commit:
        where = f" on branch {result.branch}" if result.branch else ""
        out.print(f"{done}: committed {result.commit[:12]}{where}.")
    else:
        out.print(f"{done}: files written, not committed.")


class RenderProgress:
    """A progress bar on a terminal, shown only once rendering takes more than a moment."""

    def __init__(self) -> None:
        self.start = time.monotonic()
        self.bar: Progress | None = None
        self.task: TaskID | None = None

    def __call__(self, done: int, total: int) -> None:
        if self.bar is None:
            if done >= total or not err.is_terminal or time.monotonic() - self.start < 0.5:
                return
            self.bar = Progress(TextColumn("rendering overlays"), BarColumn(), MofNCompleteColumn(),
                                TimeElapsedColumn(), console=err, transient=True)
            self.bar.start()
            self.task = self.bar.add_task("render", total=total)
        assert self.task is not None
        self.bar.update(self.task, completed=done, total=total)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.stop()
