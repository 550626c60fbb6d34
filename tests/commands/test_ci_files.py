"""The CI files init writes: valid YAML with the expected jobs and steps, and their exact validate, plan and
merge command lines run (through bash, as the runners do) against a real estate with real kustomize."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pygit2
import pytest
from typer.testing import CliRunner

from gitops_gen import yamlio
from gitops_gen.cli import app
from gitops_gen.estate import layout
from gitops_gen.generate.scaffold import CI_CACHE_DIR, GITIGNORE, GITLAB_CI, ci_workflow, gitlab_ci
from tests.conftest import REPO_URL
from tests.tools import require_kustomize

EXPRESSION = re.compile(r"\$\{\{\s*(.+?)\s*\}\}")


def steps_of(job: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """A job's steps by id, name or action (``uses`` without its version)."""
    out = {}
    for step in job["steps"]:
        key = step.get("id") or step.get("name") or step.get("uses", "").split("@")[0] or step["run"]
        out[key] = step
    return out


def bin_dir(tmp_path: Path) -> Path:
    """A gitops-gen command on PATH running this checkout, as `pip install` gives the runner one."""
    d = tmp_path / "bin"
    d.mkdir()
    script = d / "gitops-gen"
    script.write_text(f'#!/bin/sh\nexec "{sys.executable}" -m gitops_gen "$@"\n')
    script.chmod(0o755)
    return d


def run_script(script: str, cwd: Path, env: Mapping[str, str]) -> subprocess.CompletedProcess[str]:
    # GitHub runs `run:` with bash -e -o pipefail; GitLab's script lines run in a shell that stops on error.
    return subprocess.run(["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", script], cwd=cwd,
                          env={**os.environ, **env}, capture_output=True, text=True, check=False, timeout=300)


def step_env(step: Mapping[str, Any], context: Mapping[str, str]) -> dict[str, str]:
    """A step's env with its ${{ }} expressions as GitHub evaluates them for ``context``; an expression this
    test does not know fails it, so the workflow never runs a value the test did not check."""
    def value(text: str) -> str:
        return EXPRESSION.sub(lambda m: context[m.group(1)], str(text))

    return {k: value(v) for k, v in step.get("env", {}).items()}


def test_init_writes_the_ci_files_on_request(tmp_path: Path) -> None:
    runner = CliRunner()
    plain = tmp_path / "plain"
    assert runner.invoke(app, ["init", str(plain), "--repo-url", REPO_URL]).exit_code == 0
    assert (plain / layout.CI_WORKFLOW).read_text() == ci_workflow()
    assert (plain / GITIGNORE).read_text().splitlines()[-1] == f"{CI_CACHE_DIR}/"
    assert not (plain / GITLAB_CI).exists()
    # On an estate made before: --gitlab-ci adds the file and commits it, nothing else changes.
    result = runner.invoke(app, ["init", str(plain), "--repo-url", REPO_URL, "--gitlab-ci", "--output", "json"])
    assert result.exit_code == 0, result.output
    assert [c["path"] for c in json.loads(result.stdout)["changes"]] == [GITLAB_CI]
    assert (plain / GITLAB_CI).read_text() == gitlab_ci()
    head = pygit2.Repository(str(plain)).head.peel(pygit2.Commit).tree
    assert {GITLAB_CI, GITIGNORE} <= {e.name for e in head}


def test_github_workflow_has_the_jobs_and_steps() -> None:
    workflow = yamlio.load(ci_workflow())
    # YAML 1.1 loaders read the key `on` as true; GitHub's reads it as the string.
    triggers = workflow["on"] if "on" in workflow else workflow[True]
    assert set(triggers) == {"pull_request", "push"} and workflow["permissions"] == {"contents": "read"}
    jobs = workflow["jobs"]
    assert list(jobs) == ["generate", "plan", "validate", "report", "comment"]
    assert steps_of(jobs["generate"])["gitops-gen generate --check"]
    plan = jobs["plan"]
    assert plan["outputs"] == {"matrix": "${{ steps.plan.outputs.matrix }}"}
    assert "gitops-gen validate plan $since" in steps_of(plan)["plan"]["run"]
    validate = jobs["validate"]
    assert validate["needs"] == "plan" and validate["strategy"]["fail-fast"] is False
    assert validate["strategy"]["matrix"] == "${{ fromJSON(needs.plan.outputs.matrix) }}"
    steps = steps_of(validate)
    cache = steps["actions/cache"]
    assert cache["uses"] == "actions/cache@v4" and cache["with"]["path"] == CI_CACHE_DIR
    assert "${{ hashFiles('base/**', 'overlays/**', 'gitops-gen.yaml') }}" in cache["with"]["key"]
    assert cache["with"]["restore-keys"].splitlines() and all(cache["with"]["key"].startswith(k)
                                                         for k in cache["with"]["restore-keys"].splitlines())
    upload = steps["actions/upload-artifact"]
    assert upload["uses"] == "actions/upload-artifact@v4" and upload["if"] == "always()"
    assert "/" not in EXPRESSION.sub("0", upload["with"]["name"])  # artifact names may not hold '/'
    report = jobs["report"]
    assert report["needs"] == ["plan", "validate"] and report["permissions"]["security-events"] == "write"
    steps = steps_of(report)
    download = steps["actions/download-artifact"]
    assert download["uses"] == "actions/download-artifact@v4"
    assert download["with"] == {"pattern": "gitops-gen-shard-*", "path": "shards", "merge-multiple": True}
    assert steps["github/codeql-action/upload-sarif"]["with"]["sarif_file"] == "gitops-gen.sarif"
    comment = jobs["comment"]
    assert comment["if"] == "github.event_name == 'pull_request'"
    assert comment["permissions"] == {"contents": "read", "pull-requests": "write"}
    assert [s["run"] for s in comment["steps"] if "run" in s][-1] == \
        "gitops-gen comment --pr ${{ github.event.pull_request.number }}"
    assert all(re.fullmatch(r"[\w./-]+@v\d+", s["uses"]) for j in jobs.values() for s in j["steps"] if "uses" in s)


def test_gitlab_pipeline_has_the_jobs() -> None:
    pipeline = yamlio.load(gitlab_ci())
    assert pipeline["workflow"]["rules"][0] == {"if": '$CI_PIPELINE_SOURCE == "merge_request_event"'}
    validate = pipeline["validate"]
    assert 1 <= validate["parallel"] <= 200  # GitLab's limit
    assert '--shard "$CI_NODE_INDEX/$CI_NODE_TOTAL" --cache-dir .gitops-gen-cache' in validate["script"][0]
    assert validate["cache"]["key"]["files"] == ["gitops-gen.yaml", "base/kustomization.yaml"]
    assert validate["cache"]["paths"] == [f"{CI_CACHE_DIR}/"] and validate["artifacts"]["when"] == "always"
    report = pipeline["report"]
    assert report["needs"] == ["validate"] and report["when"] == "always"
    assert report["artifacts"]["reports"] == {"codequality": "gl-code-quality-report.json"}
    comment = pipeline["comment"]
    assert comment["script"] == ['gitops-gen comment --pr "$CI_MERGE_REQUEST_IID"']
    assert comment["rules"] == [{"if": '$CI_PIPELINE_SOURCE == "merge_request_event"'}]


def test_the_ci_files_commands_run_against_a_real_estate(estate: Path, tmp_path: Path) -> None:
    """A pull request that hand-edits one overlay: the GitHub jobs (plan, each shard, the merges) and the
    GitLab ones (each parallel shard, the merges) find it and fail; a push plans every overlay."""
    require_kustomize()
    if not shutil.which("bash"):
        pytest.skip("bash is not on PATH")
    repo = pygit2.Repository(str(estate))
    main = repo.head.target
    repo.references.create("refs/remotes/origin/main", main)  # as actions/checkout with fetch-depth 0 leaves it
    ingress = estate / layout.overlay_dir("acme", "eu-west-1") / "ingress.yaml"
    ingress.write_text(ingress.read_text().replace("force-ssl-redirect: 'true'", "force-ssl-redirect: 'false'"))
    env = {"PATH": f"{bin_dir(tmp_path)}{os.pathsep}{os.environ['PATH']}", "NO_COLOR": "1", "COLUMNS": "200",
           "GITHUB_OUTPUT": str(tmp_path / "github-output")}

    jobs = yamlio.load(ci_workflow())["jobs"]
    assert run_script(steps_of(jobs["generate"])["gitops-gen generate --check"]["run"], estate, env).returncode == 1
    plan = steps_of(jobs["plan"])["plan"]
    context = {"github.base_ref": "main"}
    done = run_script(plan["run"], estate, {**env, **step_env(plan, context)})
    assert done.returncode == 0, done.stderr
    assert "1 overlay to validate (inputs changed since origin/main)" in done.stderr
    (line,) = (tmp_path / "github-output").read_text().splitlines()
    matrix = json.loads(line.removeprefix("matrix="))
    assert matrix == {"include": [{"shard": "1/1"}]}
    shard_step = steps_of(jobs["validate"])["Validate shard ${{ matrix.shard }}"]
    shards = tmp_path / "github"
    (shards / "shards").mkdir(parents=True)
    for index, entry in enumerate(matrix["include"]):
        ctx = {**context, "matrix.shard": entry["shard"], "strategy.job-index": str(index)}
        done = run_script(shard_step["run"], estate, {**env, **step_env(shard_step, ctx)})
        assert done.returncode == 0, done.stderr  # error findings are the merge's to report
        # download-artifact with merge-multiple puts every shard's file in shards/
        shutil.move(str(estate / f"shard-{index}.json"), shards / "shards")
    steps = steps_of(jobs["report"])
    done = run_script(steps["Findings for code scanning"]["run"], shards, env)
    assert done.returncode == 0, done.stderr
    sarif = json.loads((shards / "gitops-gen.sarif").read_text())
    assert sarif["version"] == "2.1.0" and "HTTPS003" in {r["ruleId"] for r in sarif["runs"][0]["results"]}
    findings = run_script(steps["Findings"]["run"], shards, env)
    assert findings.returncode == 1 and "HTTPS003" in findings.stdout and "tenant acme" in findings.stdout
    # A push to the default branch: no base ref, every overlay planned.
    (tmp_path / "github-output").unlink()
    done = run_script(plan["run"], estate, {**env, **step_env(plan, {"github.base_ref": ""})})
    assert done.returncode == 0 and "3 overlays to validate (all overlays)" in done.stderr

    pipeline = yamlio.load(gitlab_ci())
    total = pipeline["validate"]["parallel"]
    gitlab = tmp_path / "gitlab"
    gitlab.mkdir()
    for index in range(1, total + 1):
        node = {**env, "CI_NODE_INDEX": str(index), "CI_NODE_TOTAL": str(total),
                "CI_MERGE_REQUEST_DIFF_BASE_SHA": str(main)}
        for line in pipeline["validate"]["script"]:
            done = run_script(line, estate, node)
            assert done.returncode == 0, done.stderr
        # artifacts of the parallel jobs, downloaded by the report job (needs: [validate])
        shutil.move(str(estate / f"shard-{index}.json"), gitlab)
    *reports, last = pipeline["report"]["script"]
    for line in reports:
        assert run_script(line, gitlab, env).returncode == 0
    quality = json.loads((gitlab / "gl-code-quality-report.json").read_text())
    assert {(q["check_name"], q["location"]["path"]) for q in quality} >= {
        ("HTTPS003", "overlays/acme/eu-west-1/kustomization.yaml")}
    assert json.loads((gitlab / "gitops-gen.sarif").read_text())["runs"][0]["invocations"][0]["executionSuccessful"]
    merged = run_script(last, gitlab, env)
    assert merged.returncode == 1 and f"merged from {total} shards" in merged.stdout
