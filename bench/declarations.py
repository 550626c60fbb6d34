#!/usr/bin/env python3
"""Benchmark: reading a tenant.yaml grows linearly with its hosts, and a hostile file costs nothing.

Issue requirement (renders that cannot be turned against the estate): the duplicate-host check is linear
(20,000 hosts took 13 s when each host was compared with every one before it), and a 700-byte alias bomb
is refused at once instead of hanging every command. Measured in one run, as ratios:

- ``hosts 2N / N``: parsing a tenant.yaml of 2N hosts over one of N hosts (the baseline). Linear work
  gives about 2; the old quadratic check gave about 4.
- ``alias bomb / plain``: refusing the alias bomb over parsing a plain tenant.yaml of the same size.

Medians over ``--repeat`` interleaved runs. Run: ``python3 bench/declarations.py [--hosts 10000]
[--repeat 5] [--json]``. Exit status 1 when a ratio is over its limit (3 for the hosts, 20 for the bomb).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from gitops_gen.errors import DeclarationError
from gitops_gen.estate.model import parse_tenant

HEAD = ("apiVersion: gitops-gen.io/v1alpha1\nkind: Tenant\nname: big\nplacements:\n  - cluster: eu-west-1\n"
        "hosts:\n  - host: big.example.org\n    placement: eu-west-1\n")
HOSTS_LIMIT, BOMB_LIMIT = 3.0, 20.0


def tenant(hosts: int) -> str:
    return HEAD + "".join(f"  - host: h{i}.example.org\n    placement: eu-west-1\n" for i in range(hosts))


def bomb() -> str:
    return HEAD + "".join(f"x{i}: &x{i} [{', '.join([f'*x{i - 1}'] * 10 if i else ['lol'] * 10)}]\n"
                          for i in range(9))


def timed(text: str) -> float:
    start = time.perf_counter()
    with contextlib.suppress(DeclarationError):
        parse_tenant("overlays/big/tenant.yaml", text, "big")
    return time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hosts", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    small, large, hostile = tenant(args.hosts), tenant(2 * args.hosts), bomb()
    plain = HEAD + "# " + "x" * (len(hostile) - len(HEAD) - 3) + "\n"
    runs: dict[str, list[float]] = {"n": [], "2n": [], "bomb": [], "plain": []}
    for _ in range(args.repeat):
        runs["n"].append(timed(small))
        runs["2n"].append(timed(large))
        runs["bomb"].append(timed(hostile))
        runs["plain"].append(timed(plain))
    median = {k: statistics.median(v) for k, v in runs.items()}
    ratios = {"hosts 2N / N": median["2n"] / median["n"], "alias bomb / plain": median["bomb"] / median["plain"]}
    ok = ratios["hosts 2N / N"] <= HOSTS_LIMIT and ratios["alias bomb / plain"] <= BOMB_LIMIT
    if args.json:
        print(json.dumps({"hosts": args.hosts, "repeat": args.repeat, "ratios": ratios, "ok": ok}))
    else:
        print(f"tenant.yaml with {args.hosts} and {2 * args.hosts} hosts, alias bomb of {len(hostile)} bytes, "
              f"medians of {args.repeat} runs")
        print(f"  hosts 2N / N        {ratios['hosts 2N / N']:.2f}   (linear: about 2; limit {HOSTS_LIMIT})")
        print(f"  alias bomb / plain  {ratios['alias bomb / plain']:.2f}   (refused at once; limit {BOMB_LIMIT})")
        print("  ok" if ok else "  FAILED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
