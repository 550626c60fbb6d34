#!/usr/bin/env python3
"""Benchmark: start-up of ``gitops-gen --version`` against ``python -c "import typer"``.

Issue requirement (package layout): a command imports only what it uses, so the CLI's start-up costs at
most 5 times that of importing typer itself. Both are measured in the same run, interleaved, as fresh
interpreters: the console script the way a user runs it, and ``python -c`` importing the CLI (what the
console script does, without the launcher). ``python -c pass`` is printed for scale. Medians over
``--repeat`` runs of each; the ratio is the median of ``--version`` over the median of ``import typer``.

Run: ``python3 bench/startup.py [--repeat 21] [--json]``. Exit status 1 when the check fails.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time

LIMIT = 5.0


#: As a normal install runs: with byte-code caches (some machines set PYTHONDONTWRITEBYTECODE, which would
#: make every import of the package compile its source while typer's installed files have their caches).
ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}


def timed(args: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(args, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=ENV)
    return time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=21)
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    opts = parser.parse_args()
    py = sys.executable
    commands = {
        "python -c pass": [py, "-c", "pass"],
        "python -c 'import typer'": [py, "-c", "import typer"],
        "gitops-gen --version (python -c)": [py, "-c", "import sys; from gitops_gen.cli import main; "
                                             "sys.argv = ['gitops-gen', '--version']; main()"],
    }
    script = shutil.which("gitops-gen")
    if script is not None:
        commands["gitops-gen --version (console script)"] = [script, "--version"]
    samples: dict[str, list[float]] = {name: [] for name in commands}
    for args in commands.values():  # warm the file cache and write the byte-code of every module once
        timed(args)
    for _ in range(opts.repeat):
        for name, args in commands.items():  # interleaved: a busy moment costs every command alike
            samples[name].append(timed(args))
    medians = {name: statistics.median(s) for name, s in samples.items()}
    baseline = medians["python -c 'import typer'"]
    ratios = {name: m / baseline for name, m in medians.items()}
    worst = max(ratios[n] for n in commands if n.startswith("gitops-gen"))
    passed = worst <= LIMIT
    if opts.json:
        print(json.dumps({"repeat": opts.repeat, "medians_ms": {n: round(m * 1000, 1) for n, m in medians.items()},
                          "ratios": {n: round(r, 2) for n, r in ratios.items()}, "limit": LIMIT, "pass": passed},
                         indent=2))
    else:
        print(f"Start-up, fresh interpreters, {opts.repeat} interleaved runs each (python {sys.version.split()[0]}):")
        width = max(len(n) for n in commands)
        print(f"  {'command':<{width}}  median ms  min ms  / import typer")
        for name in commands:
            print(f"  {name:<{width}}  {medians[name] * 1000:9.1f}  {min(samples[name]) * 1000:6.1f}  "
                  f"{ratios[name]:12.2f}x")
        print(f"{'PASS' if passed else 'FAIL'}: gitops-gen --version costs at most {LIMIT:.0f}x 'import typer': "
              f"{worst:.2f}x")
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
