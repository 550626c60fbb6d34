"""The one subprocess runner: argument lists, no shell, a timeout, stderr kept in the error."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path

from gitops_gen.errors import ToolError


def run(args: Sequence[str], cwd: Path | None = None, timeout: float = 300,
        env: Mapping[str, str] | None = None) -> str:
    """Run a command; its stdout, or ToolError naming it with its stderr. ``env`` adds variables."""
    full_env = {**os.environ, **env} if env else None
    try:
        proc = subprocess.run(list(args), cwd=cwd, capture_output=True, text=True, timeout=timeout, check=False,
                              env=full_env)
    except FileNotFoundError:
        raise ToolError(f"{args[0]} is not installed or not on PATH",
                        f"install {args[0]} and run the command again") from None
    except subprocess.TimeoutExpired:
        raise ToolError(f"{' '.join(args)} did not finish in {timeout:.0f} s", "look for a hung process") from None
    if proc.returncode != 0:
        raise ToolError(f"{' '.join(args)} failed (exit {proc.returncode}):\n{proc.stderr.strip()}")
    return proc.stdout


class Started:
    """A command started in the background, its output read when asked for (``output``)."""

    def __init__(self, args: Sequence[str], cwd: Path | None, env: Mapping[str, str]) -> None:
        self.args = list(args)
        self._proc = subprocess.Popen(self.args, cwd=cwd, env=dict(env), stdin=subprocess.DEVNULL,
                                      stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)

    def output(self, timeout: float = 300) -> bytes | None:
        """Its stdout once it ends; None if it failed or did not end in ``timeout`` seconds (then killed).
        The process is reaped either way."""
        try:
            out, _ = self._proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.stop()
            return None
        return out if self._proc.returncode == 0 else None

    def stop(self) -> None:
        if self._proc.poll() is None:
            self._proc.kill()
        self._proc.communicate()


def start(args: Sequence[str], cwd: Path | None, env: Mapping[str, str]) -> Started | None:
    """Start a command whose answer is wanted later, with exactly ``env``; None if it cannot start."""
    try:
        return Started(args, cwd, env)
    except OSError:
        return None
