"""validate at CI scale: --shard K/N, validate merge, validate plan, on real estates with real kustomize."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pygit2
import pytest
from typer.testing import CliRunner

from gitops_gen.cli import app
from gitops_gen.commands.tenants import add_tenant
from gitops_gen.commands.validate import CROSS_SHARD_RULES, Shard, assign_shards
from gitops_gen.errors import UserError
from gitops_gen.estate import layout
from gitops_gen.estate.model import HostRoute, Tenant
from tests.conftest import land_on_main
from tests.tools import crd_dir, require_kustomize


def cli(*args: str) -> Any:
    return CliRunner().invoke(app, list(args), catch_exceptions=False)


def report(root: Path, *args: str) -> tuple[int, dict[str, Any]]:
    result = cli("validate", "--repo", str(root), "--crd-dir", str(crd_dir()), "--output", "json", *args)
    return result.exit_code, json.loads(result.stdout)


@pytest.fixture
def wide_estate(estate: Path) -> Path:
    """The fixture estate plus six tenants on both clusters: 15 overlays of 8 tenants."""
    for i in range(6):
        add_tenant(estate, Tenant(f"t{i}", ("eu-west-1", "us-east-1"), (HostRoute(f"t{i}.example.com", "eu-west-1"),)),
                   branch=f"b{i}", base="HEAD", checkout=True)
    return land_on_main(estate)


def _edit(root: Path, rel: str, old: str, new: str) -> None:
    path = root / rel
    text = path.read_text()
    assert old in text, (rel, old)
    path.write_text(text.replace(old, new))


def test_shard_values_are_checked_and_named() -> None:
    assert Shard.parse("2/4") == Shard(2, 4) and str(Shard.parse(" 1/1 ")) == "1/1"
    for bad in ("0/4", "5/4", "a/b", "3", "2/", "-1/2", "1/0"):
        with pytest.raises(UserError) as e:
            Shard.parse(bad)
        assert e.value.field == "--shard" and "K/N" in e.value.message and repr(bad) in e.value.message


def test_bad_shard_on_the_command_line_is_exit_2_and_json(estate: Path) -> None:
    result = cli("validate", "--repo", str(estate), "--shard", "5/4", "--output", "json")
    assert result.exit_code == 2
    error = json.loads(result.stdout)["error"]
    assert error["field"] == "--shard" and "'5/4'" in error["message"] and "1 <= K <= N" in error["message"]
    table = cli("validate", "--repo", str(estate), "--shard", "x")
    assert table.exit_code == 2 and "--shard 'x'" in table.output


def test_assignment_is_stable_balanced_and_keeps_a_tenant_together() -> None:
    weights = {f"tenant-{i}": 1 + i % 3 for i in range(100)}
    first = assign_shards(weights, 7)
    # The same selection in another order gives the same shards (no dict order, no hash() seed in it).
    assert assign_shards(dict(reversed(list(weights.items()))), 7) == first
    loads = [sum(w for t, w in weights.items() if first[t] == k) for k in range(1, 8)]
    assert max(loads) - min(loads) <= max(weights.values()), loads
    assert set(first.values()) == set(range(1, 8))
    # More shards than tenants: the extra shards are empty, every tenant has one.
    assert sorted(assign_shards({"a": 3, "b": 1}, 4).values()) == [1, 2]


def test_shards_merge_into_exactly_the_full_run(wide_estate: Path) -> None:
    """Hand edits that each shard and only the merge can see: a host and a remote key shared across
    shards, a build failure, orphaned files of a tenant and of the estate, a secret in a repository file."""
    require_kustomize()
    weights = {"acme": 1, "globex": 2, **{f"t{i}": 2 for i in range(6)}}
    owner = assign_shards(weights, 3)
    x = next(f"t{i}" for i in range(6))
    y = next(f"t{i}" for i in range(6) if owner[f"t{i}"] != owner[x])
    z = next(f"t{i}" for i in range(6) if f"t{i}" not in (x, y))
    _edit(wide_estate, f"overlays/{x}/eu-west-1/ingress.yaml", f"{x}.example.com", f"{y}.example.com")
    _edit(wide_estate, f"overlays/{x}/us-east-1/external-secrets.yaml", f"workflowgen/{x}/us-east-1",
          f"workflowgen/{y}/us-east-1")
    _edit(wide_estate, f"overlays/{z}/us-east-1/kustomization.yaml", "- ingress.yaml\n",
          "- ingress.yaml\n- missing-file.yaml\n")
    header = (wide_estate / f"overlays/{z}/eu-west-1/quota.yaml").read_text().splitlines()[0]
    (wide_estate / f"overlays/{z}/ap-south-1").mkdir()
    (wide_estate / f"overlays/{z}/ap-south-1/quota.yaml").write_text(header + "\nkind: ResourceQuota\n")
    (wide_estate / "clusters/eu-west-1/tenants/ghost.yaml").write_text(header + "\n{}\n")
    (wide_estate / "notes.yaml").write_text("apiVersion: v1\nkind: Secret\nmetadata: {name: x}\n"
                                            "stringData: {password: hunter2}\n")

    code, full = report(wide_estate)
    assert code == 1
    rules = {f["rule"] for f in full["findings"]}
    assert rules >= CROSS_SHARD_RULES and rules >= {"DRIFT001", "SEC001"}
    assert any(f["rule"] == "DRIFT001" and "does not build" in f["message"] for f in full["findings"])
    assert any(f["path"] == f"overlays/{z}/ap-south-1/quota.yaml" and "orphaned" in f["message"]
               for f in full["findings"])

    shards: list[dict[str, Any]] = []
    files = []
    for k in (1, 2, 3):
        # Each shard renders cold, as on its own CI runner.
        code_k, data = report(wide_estate, "--shard", f"{k}/3", "--cache-dir", str(wide_estate / f".cache-{k}"))
        assert code_k in (0, 1) and data["shard"] == {"index": k, "count": 3}
        assert data["summary"]["rendered"] == data["summary"]["checked"] == len(data["overlays"])
        shards.append(data)
        path = wide_estate.parent / f"shard-{k}.json"
        path.write_text(json.dumps(data))
        files.append(str(path))

    overlays = [o for s in shards for o in s["overlays"]]
    assert sorted(overlays) == sorted(full["overlays"]) and len(overlays) == len(set(overlays)) == 15
    for s in shards:  # a tenant's placements are in one shard
        tenants = {o.split("/")[1] for o in s["overlays"]}
        assert all(o.split("/")[1] not in tenants for t in shards if t is not s for o in t["overlays"])

    def key(f: dict[str, Any]) -> str:
        return json.dumps(f, sort_keys=True)

    # As multisets: a finding reported by two shards would be there once too often.
    union = [f for s in shards for f in s["findings"] if f["rule"] not in CROSS_SHARD_RULES]
    assert sorted(map(key, union)) == sorted(key(f) for f in full["findings"] if f["rule"] not in CROSS_SHARD_RULES)
    estate_level = [f for f in full["findings"] if f["tenant"] is None]
    assert estate_level and all(key(f) in map(key, shards[0]["findings"]) for f in estate_level)

    merged = cli("validate", "merge", *files, "--output", "json")
    assert merged.exit_code == 1
    data = json.loads(merged.stdout)
    assert data["findings"] == full["findings"] and data["overlays"] == full["overlays"]
    assert data["summary"] == full["summary"]
    table = cli("validate", "merge", *files)
    assert table.exit_code == 1 and "merged from 3 shards" in table.stdout and "ROUTE001" in table.stdout
    sarif = json.loads(cli("validate", "merge", *files, "--output", "sarif").stdout)
    (run,) = sarif["runs"]
    assert run["invocations"][0]["executionSuccessful"] is True
    assert sorted(r["ruleId"] for r in run["results"]) == sorted(f["rule"] for f in full["findings"])
    quality = json.loads(cli("validate", "merge", *files, "--output", "codequality").stdout)
    # One fingerprint per distinct finding (SEC004 reports a key once per entry reading it).
    assert len(quality) == len(full["findings"])
    assert len({q["fingerprint"] for q in quality}) == len({key(f) for f in full["findings"]})
    assert {q["severity"] for q in quality} <= {"critical", "minor"}

    # Refused, naming the file: a shard twice, a shard missing, another run's shard, files that are no report.
    twice = cli("validate", "merge", files[0], files[0], files[1], files[2])
    assert twice.exit_code == 2 and files[0] in twice.output and "both shard 1/3" in twice.output
    missing = cli("validate", "merge", files[0], files[2])
    assert missing.exit_code == 2 and "shard 2/3 is missing" in missing.output
    _, other = report(wide_estate, "--shard", "2/3", "--tenant", "acme")  # warm: the full run's cache
    other_file = wide_estate.parent / "other.json"
    other_file.write_text(json.dumps(other))
    selection = cli("validate", "merge", files[0], str(other_file), files[2], "--output", "json")
    assert selection.exit_code == 2 and "another selection" in json.loads(selection.stdout)["error"]["message"]
    _, half = report(wide_estate, "--shard", "1/2")
    half_file = wide_estate.parent / "half.json"
    half_file.write_text(json.dumps(half))
    counts = cli("validate", "merge", files[0], str(half_file))
    assert counts.exit_code == 2 and str(half_file) in counts.output
    for content, words in (("not json", "not JSON"), ('{"findings": []}', "not a validate JSON report"),
                           (json.dumps(full), "not sharded")):
        bogus = wide_estate.parent / "bogus.json"
        bogus.write_text(content)
        result = cli("validate", "merge", str(bogus))
        assert result.exit_code == 2 and str(bogus) in result.output and words in result.output, result.output
    sarif_refusal = cli("validate", "merge", str(bogus), "--output", "sarif")
    assert sarif_refusal.exit_code == 2
    assert json.loads(sarif_refusal.stdout)["runs"][0]["invocations"][0]["executionSuccessful"] is False

    # A shard that could not run: the others' report, and exit 2.
    failed = wide_estate.parent / "failed.json"
    failed.write_text(json.dumps({"error": {"message": "kustomize missing", "hint": None, "file": None,
                                            "line": None, "field": None}, "shard": {"index": 2, "count": 3}}))
    partial = cli("validate", "merge", files[0], str(failed), files[2], "--output", "sarif")
    assert partial.exit_code == 2
    invocation = json.loads(partial.stdout)["runs"][0]["invocations"][0]
    assert invocation["executionSuccessful"] is False
    assert "kustomize missing" in invocation["toolExecutionNotifications"][0]["message"]["text"]


def test_plan_grows_with_the_affected_overlays(wide_estate: Path) -> None:
    def plan(*args: str) -> tuple[dict[str, Any], str]:
        result = CliRunner().invoke(app, ["validate", "plan", "--repo", str(wide_estate), *args],
                                    catch_exceptions=False)
        assert result.exit_code == 0, result.output
        return json.loads(result.stdout), result.stderr

    matrix, note = plan()
    assert matrix == {"include": [{"shard": "1/1"}]} and "15 overlays" in note
    assert plan("--per-shard", "4")[0]["include"] == [{"shard": f"{k}/4"} for k in range(1, 5)]
    assert len(plan("--per-shard", "1", "--max-jobs", "3")[0]["include"]) == 3
    head = str(pygit2.Repository(str(wide_estate)).head.target)
    nothing, note = plan("--changed-since", head)
    assert nothing == {"include": [{"shard": "1/1"}]} and "0 overlays" in note
    _edit(wide_estate, layout.tenant_file("t2"), "webReplicas: 2", "webReplicas: 1")
    detail = json.loads(CliRunner().invoke(app, ["validate", "plan", "--repo", str(wide_estate), "--changed-since",
                                                 head, "--per-shard", "1", "--output", "json"]).stdout)
    assert detail["overlays"] == 2 and detail["shards"] == 2
    # The one shard of an empty selection has nothing to do, and succeeds.
    code, empty = report(wide_estate, "--changed-since", "HEAD", "--tenant", "acme", "--shard", "1/1")
    assert code == 0 and empty["overlays"] == [] and empty["findings"] == []
    for flag in ("--max-jobs", "--per-shard"):
        bad = CliRunner().invoke(app, ["validate", "plan", "--repo", str(wide_estate), flag, "0"])
        assert bad.exit_code == 2 and flag in bad.output
