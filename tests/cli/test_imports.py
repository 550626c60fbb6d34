"""A command imports only what it uses: --version and add-tenant never load the diff, the rules or the schema
validators (each costs start-up time on every run). Checked in a fresh interpreter, as the console script runs."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.tools import PROJECT_ROOT

#: Loaded only by the commands that review, check or publish.
HEAVY = ("gitops_gen.review.diff", "gitops_gen.review.appset", "gitops_gen.review.sides", "gitops_gen.checks",
         "gitops_gen.publish.pullrequest", "gitops_gen.publish.push", "gitops_gen.render.kustomize",
         "gitops_gen.commands.validate", "kubernetes_validate", "jsonschema")

_PROBE = """
import json, sys
from typer.main import get_command
from gitops_gen.cli import app
try:
    get_command(app).main(sys.argv[1:], prog_name="gitops-gen", standalone_mode=False)
finally:
    sys.stdout.flush()
    sys.stderr.write("\\nMODULES " + json.dumps(sorted(sys.modules)) + "\\n")
"""


def loaded_by(*args: str) -> tuple[set[str], subprocess.CompletedProcess[str]]:
    result = subprocess.run([sys.executable, "-c", _PROBE, *args], cwd=PROJECT_ROOT, capture_output=True,
                            text=True, timeout=120, check=False)
    line = next(x for x in result.stderr.splitlines() if x.startswith("MODULES "))
    return set(json.loads(line.removeprefix("MODULES "))), result


def heavy(modules: set[str]) -> list[str]:
    return sorted(m for m in modules if m.startswith(HEAVY))


def test_version_loads_no_core() -> None:
    modules, result = loaded_by("--version")
    assert result.returncode == 0 and "gitops-gen 0.1.0" in result.stdout, result.stderr
    assert heavy(modules) == []
    assert not any(m.startswith(("pygit2", "gitops_gen.commands", "ruamel")) for m in modules)


def test_add_tenant_loads_neither_diff_nor_rules(bare_estate: Path) -> None:
    modules, result = loaded_by("add-tenant", "initech", "--cluster", "eu-west-1", "--repo", str(bare_estate))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Tenant initech added: committed" in result.stdout
    assert "gitops_gen.commands.tenants" in modules and "pygit2" in modules  # the probe ran the real command
    assert heavy(modules) == []


def test_help_of_validate_loads_nothing_of_it() -> None:
    modules, result = loaded_by("validate", "--help")
    assert result.returncode == 0 and "--changed-since" in result.stdout
    assert heavy(modules) == []


def test_the_probe_sees_what_a_command_loads(bare_estate: Path) -> None:
    modules, result = loaded_by("validate", "--repo", str(bare_estate), "--output", "json")
    assert json.loads(result.stdout)["summary"]["overlays"] == 0, result.stderr
    assert {"gitops_gen.checks", "gitops_gen.commands.validate", "gitops_gen.render.kustomize"} <= modules


_EXIT_PROBE = """
import atexit, sys
atexit.register(lambda: sys.stderr.write("EXIT FUNCTIONS RAN\\n"))
from gitops_gen.cli import main
main()
"""


def test_the_console_entry_exits_with_the_commands_code_its_output_whole(tmp_path: Path) -> None:
    # main() leaves without freeing the heap (os._exit): the exit code, the output written to a file or a
    # pipe and the exit functions must all be those of a normal exit.
    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-c", _EXIT_PROBE, *args], cwd=tmp_path, capture_output=True,
                              text=True, timeout=120, check=False)

    ok = run("--version")
    assert ok.returncode == 0 and ok.stdout.startswith("gitops-gen ") and "EXIT FUNCTIONS RAN" in ok.stderr
    bad = run("list", "--repo", str(tmp_path / "absent"))
    assert bad.returncode == 2 and "--repo" in bad.stderr and "EXIT FUNCTIONS RAN" in bad.stderr
    usage = run("list", "--no-such-flag")
    assert usage.returncode == 2 and "--no-such-flag" in usage.stderr
    # A long answer, to a file: every byte is there.
    with (tmp_path / "help.txt").open("w") as out:
        code = subprocess.run([sys.executable, "-c", _EXIT_PROBE, "add-tenant", "--help"], cwd=tmp_path,
                              stdout=out, stderr=subprocess.PIPE, timeout=120, check=False).returncode
    text = (tmp_path / "help.txt").read_text()
    assert code == 0 and text.rstrip().endswith("╯") and "--web-replicas" in text


def test_a_profiler_still_gets_its_report(tmp_path: Path) -> None:
    # Under a profiler (or coverage, or a debugger) the exit is a normal one: the report is written.
    out = tmp_path / "run.prof"
    result = subprocess.run([sys.executable, "-m", "cProfile", "-o", str(out), "-m", "gitops_gen", "--version"],
                            cwd=tmp_path, capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0 and result.stdout.startswith("gitops-gen ")
    assert out.is_file() and out.stat().st_size > 0
