#!/usr/bin/env python3
"""What kustomize does for a batch of tenant overlays beyond its floor, in instructions (valgrind callgrind).

CPU times on a machine other jobs share swing by half from one build to the next; the instructions a build
executes do not (within about 1 %, with Go's collector off). This builds one batch of ten overlays of a
bulk-built estate as validate's renderer builds it, the same objects flat (kustomize's floor: nothing to do
but read and write them), and the batch with one of the overlays' mechanisms taken out (its objects then
differ: a measure of what that mechanism costs, not a renderer). Needs valgrind.

Run: ``python3 bench/kustomize_work.py [--overlays 10]``; prints instructions per overlay (millions).
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from _estate import CLUSTERS, grow, init, log, table
from validate import bulk_tenant

from gitops_gen import yamlio
from gitops_gen.render.buildoutput import load_build
from gitops_gen.render.kustomize import kustomize_command

Kustomization = dict[str, Any]


def real_binary() -> list[str]:
    """The command that does the work: gcloud's kubectl is a dispatcher that starts the versioned binary."""
    cmd = kustomize_command()
    if cmd[0] == "kubectl":
        path = Path(shutil.which("kubectl") or "kubectl").resolve()
        versioned = sorted(path.parent.glob("kubectl.1.*"))
        out = subprocess.run(["kubectl", "version", "--client", "-o", "json"], capture_output=True, text=True).stdout
        minor = re.search(r'"minor":\s*"(\d+)', out)
        match = [v for v in versioned if minor and v.name == f"kubectl.1.{minor.group(1)}"]
        if match:
            return [str(match[0]), "kustomize"]
    return cmd


def instructions(directory: Path) -> int:
    env = {**os.environ, "GOGC": "off", "GODEBUG": "asyncpreemptoff=1"}  # no collector, no preemption signals
    proc = subprocess.run(["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null", *real_binary(),
                           str(directory)], capture_output=True, text=True, env=env, check=False)
    found = re.search(r"Collected : (\d+)", proc.stderr)
    if proc.returncode or not found:
        raise RuntimeError(f"callgrind failed on {directory}:\n{proc.stderr[-2000:]}")
    return int(found.group(1))


def edit(root: Path, change: Callable[[Kustomization, str], None]) -> None:
    """Apply ``change`` to every kustomization under ``root`` (its kind: overlay, component or base)."""
    for path in root.rglob("kustomization.yaml"):
        rel = path.relative_to(root).as_posix()
        kind = "overlay" if rel.startswith("overlays/") else "component" if "/components/" in rel else "base"
        doc = yamlio.load(path.read_text())
        change(doc, kind)
        if set(doc) <= {"apiVersion", "kind"}:
            doc["commonAnnotations"] = {}  # kustomize refuses an empty kustomization
        path.write_text(yamlio.dump(doc))


def drop(*keys: str, kind: str | None = None) -> Callable[[Kustomization, str], None]:
    def change(doc: Kustomization, k: str) -> None:
        if kind is None or k == kind:
            for key in keys:
                doc.pop(key, None)
    return change


def drop_patches_of(target_kind: str) -> Callable[[Kustomization, str], None]:
    def change(doc: Kustomization, _: str) -> None:
        if "patches" in doc:
            doc["patches"] = [p for p in doc["patches"] if p["target"]["kind"] != target_kind]
    return change


VARIANTS: dict[str, Callable[[Kustomization, str], None]] = {
    "without the labels transformer": drop("labels"),
    "without the Deployment patches": drop_patches_of("Deployment"),
    "without the PersistentVolumeClaim patches": drop_patches_of("PersistentVolumeClaim"),
    "without any patch": drop("patches"),
    "without the ConfigMap generators": drop("configMapGenerator"),
    "without components (and their objects)": drop("components", kind="overlay"),
}


def batch_dir(root: Path, overlays: list[str]) -> Path:
    d = root / "batch"
    d.mkdir(exist_ok=True)
    resources = "".join(f"- ../{o}\n" for o in overlays)
    (d / "kustomization.yaml").write_text("resources:\n" + resources, encoding="utf-8")
    return d


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0] if __doc__ else None)
    ap.add_argument("--overlays", type=int, default=10, help="overlays in the batch (default 10, the renderer's)")
    opts = ap.parse_args()
    if not shutil.which("valgrind"):
        log("valgrind is not on PATH")
        return 2
    cluster = CLUSTERS[0].name
    overlays = [f"overlays/t{i:05d}/{cluster}" for i in range(opts.overlays)]
    rows = []
    with tempfile.TemporaryDirectory(prefix="gitops-gen-work-") as tmp:
        estate = Path(tmp) / "estate"
        init(estate)
        grow(estate, 0, opts.overlays, bulk_tenant)
        real = instructions(batch_dir(estate, overlays))
        docs = load_build(subprocess.run([*kustomize_command(), str(estate / "batch")], capture_output=True,
                                         text=True, check=True).stdout)
        flat = Path(tmp) / "flat"
        flat.mkdir()
        (flat / "objects.yaml").write_text(yamlio.dump_docs(docs), encoding="utf-8")
        (flat / "kustomization.yaml").write_text("resources:\n- objects.yaml\n", encoding="utf-8")
        floor = instructions(flat)
        rows.append(["the same objects flat (the floor)", floor, None])
        rows.append(["the batch as the renderer builds it", real, None])
        for name, change in VARIANTS.items():
            copy = Path(tmp) / "variant"
            shutil.rmtree(copy, ignore_errors=True)
            shutil.copytree(estate / "base", copy / "base")
            for o in overlays:
                shutil.copytree(estate / o, copy / o)
            edit(copy, change)
            log(f"  {name} ...")
            rows.append([name, instructions(batch_dir(copy, overlays)), real])
    n = opts.overlays
    print(f"kustomize's work for {n} overlays of {cluster} in one build ({len(docs)} objects), "
          f"{' '.join(real_binary())}, in millions of instructions per overlay (callgrind, GOGC=off):")
    print(table([[what, f"{i / n / 1e6:.1f}", f"{i / floor:.2f}x",
                  "-" if base is None else f"{(base - i) / n / 1e6:.1f} ({(base - i) / floor:.2f} of the floor)"]
                 for what, i, base in rows],
                ["build", "M instr/overlay", "/ floor", "saved by taking it out"]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
