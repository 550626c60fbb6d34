"""The command line: typer only. ``app`` is the typer application, ``main`` the console entry point."""

from gitops_gen.cli.app import app, main

__all__ = ["app", "main"]
