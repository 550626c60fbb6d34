"""remove-tenant end to end, through the CLI, on a real estate in a real git repository: globex on an
Argo CD cluster (eu-west-1, its primary) and a Flux cluster (us-east-1, its standby on the same external
database). Each phase is a branch off main, "merged" by fast-forwarding main; at each one the overlays are
rendered with real kustomize and the estate is validated with the upstream CRDs."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
from pathlib import Path

import pygit2
import pytest
import yaml
from typer.testing import CliRunner, Result

from gitops_gen.cli import app
from gitops_gen.commands.lifecycle import remove_tenant
from gitops_gen.commands.validate import ValidateRequest, validate
from gitops_gen.errors import UserError
from tests.tools import crd_dir, render

runner = CliRunner(env={"COLUMNS": "200", "NO_COLOR": "1", "GITOPS_GEN_DEBUG": None})
OVERLAYS = ("overlays/globex/eu-west-1", "overlays/globex/us-east-1")


def cli(root: Path, *args: str) -> Result:
    return runner.invoke(app, [args[0], "--repo", str(root), *args[1:]])


def git(root: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=root, check=True, capture_output=True, text=True).stdout


def merge(root: Path, branch: str) -> None:
    """The pull request merged: main fast-forwards to the branch."""
    git(root, "merge", "-q", "--ff-only", branch)


def branches(root: Path) -> set[str]:
    return set(pygit2.Repository(str(root)).branches.local)


def declared(root: Path, tenant: str = "globex") -> dict[str, object]:
    data: dict[str, object] = yaml.safe_load((root / f"overlays/{tenant}/tenant.yaml").read_text())
    return data


def states(root: Path) -> dict[str, str]:
    placements = declared(root)["placements"]
    assert isinstance(placements, list)
    return {p["cluster"]: p.get("state", "active") for p in placements}


def clean(root: Path) -> None:
    result = validate(root, ValidateRequest(crd_dirs=[crd_dir()]))
    assert not [f for f in result.findings if f.severity == "error"], [
        (f.rule, f.path, f.message) for f in result.findings if f.severity == "error"]
    assert cli(root, "generate", "--check").exit_code == 0


def kinds(root: Path, overlay: str) -> dict[str, list[dict[str, object]]]:
    out: dict[str, list[dict[str, object]]] = {}
    for d in render(root, overlay):
        out.setdefault(str(d["kind"]), []).append(d)
    return out


def risks(root: Path, branch: str) -> dict[str, list[tuple[str, str]]]:
    """diff main BRANCH: each risk id with its (cluster, message)."""
    result = cli(root, "diff", "main", branch, "--output", "json")
    assert result.exit_code == 0, result.output
    out: dict[str, list[tuple[str, str]]] = {}
    for r in json.loads(result.stdout)["risks"]:
        out.setdefault(r["id"], []).append((r["cluster"], r["message"]))
    return out


def refused(result: Result, *words: str) -> None:
    assert result.exit_code == 2, result.output
    for w in words:
        assert w in result.output, result.output


def test_the_full_remove_sequence(estate: Path) -> None:
    before = branches(estate)
    # Out of order: nothing is written, and the message names the phase to run first.
    refused(cli(estate, "remove-tenant", "globex", "--phase", "retire"), "needs it draining", "--phase drain")
    refused(cli(estate, "remove-tenant", "globex", "--phase", "purge"), "needs it retired", "--phase drain")
    refused(cli(estate, "remove-tenant", "globex", "--phase", "drain", "--cluster", "ap-south-1"), "--cluster")
    refused(cli(estate, "remove-tenant", "nobody", "--phase", "drain"), "does not exist")
    assert branches(estate) == before
    claims = {c: {d["metadata"]["name"]: d for d in kinds(estate, o)["PersistentVolumeClaim"]}
              for c, o in zip(("eu", "us"), OVERLAYS, strict=True)}

    # 1. drain: no Ingress, every workload at 0; claims, secrets and NetworkPolicies kept.
    dry = cli(estate, "remove-tenant", "globex", "--phase", "drain", "--dry-run", "--output", "json")
    assert dry.exit_code == 0, dry.output
    assert json.loads(dry.stdout)["dryRun"] and branches(estate) == before
    result = cli(estate, "remove-tenant", "globex", "--phase", "drain")
    assert result.exit_code == 0, result.output
    branch = "gitops-gen/remove-tenant-globex-drain"
    message = git(estate, "log", "-1", "--format=%B", branch)
    assert message.startswith("Drain tenant globex on eu-west-1, us-east-1")
    assert "globex.wfg.example.com" in message and "0 replicas" in message
    drained = risks(estate, branch)["placement-drained"]
    assert sorted(c for c, _ in drained) == ["eu-west-1", "us-east-1"]
    assert any("globex.wfg.example.com, globex.eu.wfg.example.com no longer served" in m for _, m in drained)
    merge(estate, branch)
    assert states(estate) == {"eu-west-1": "draining", "us-east-1": "draining"}
    for c, overlay in zip(("eu", "us"), OVERLAYS, strict=True):
        objs = kinds(estate, overlay)
        assert "Ingress" not in objs and "PodDisruptionBudget" not in objs
        assert {d["metadata"]["name"]: d["spec"]["replicas"] for k in ("Deployment", "StatefulSet")
                for d in objs.get(k, [])} == {"workflowgen-web": 0, "workflowgen-win-services": 0}
        assert {d["metadata"]["name"]: d for d in objs["PersistentVolumeClaim"]} == claims[c]
        assert "default-deny" in {d["metadata"]["name"] for d in objs["NetworkPolicy"]}
        assert "ExternalSecret" in objs
    clean(estate)
    # A rerun once merged is a no-op that says so.
    again = cli(estate, "remove-tenant", "globex", "--phase", "drain")
    assert again.exit_code == 0 and "Nothing to change" in again.stdout and "the drain phase is done" in again.output
    listed = cli(estate, "list", "--output", "json")
    rows = [t for c in json.loads(listed.stdout)["clusters"] for t in c["tenants"] if t["tenant"] == "globex"]
    assert {(r["cluster"], r["state"]) for r in rows} == {("eu-west-1", "draining"), ("us-east-1", "draining")}
    refused(cli(estate, "route", "globex.wfg.example.com"), "draining", "serves nothing")

    # 2. retire: refused within the retention period; --now needs --reason, which the commit records.
    refused(cli(estate, "remove-tenant", "globex", "--phase", "retire"), "0 of its 7 days of retention",
            "--now --reason")
    refused(cli(estate, "remove-tenant", "globex", "--phase", "retire", "--now"), "--reason")
    refused(cli(estate, "remove-tenant", "globex", "--phase", "purge"), "needs it retired", "--phase retire")
    result = cli(estate, "remove-tenant", "globex", "--phase", "retire", "--now", "--reason", "contract ended (T-42)")
    assert result.exit_code == 0, result.output
    branch = "gitops-gen/remove-tenant-globex-retire"
    assert "Retention period cut short (--now): contract ended (T-42)" in git(estate, "log", "-1", "--format=%B",
                                                                             branch)
    assert sorted(c for c, _ in risks(estate, branch)["placement-retired"]) == ["eu-west-1", "us-east-1"]
    merge(estate, branch)
    for c, overlay in zip(("eu", "us"), OVERLAYS, strict=True):
        objs = kinds(estate, overlay)
        assert set(objs) <= {"Namespace", "PersistentVolumeClaim", "NetworkPolicy", "ResourceQuota"}, set(objs)
        # globex's database is external: no StatefulSet (acme's is kept at 0 replicas: tests/checks)
        assert {d["metadata"]["name"]: d for d in objs["PersistentVolumeClaim"]} == claims[c]
        assert "default-deny" in {d["metadata"]["name"] for d in objs["NetworkPolicy"]}
    assert "Namespace" in kinds(estate, OVERLAYS[0])  # Argo CD: the overlay holds it (Flux: platform/)
    clean(estate)

    # 3. purge: the tenant leaves git; the output lists what stays in each cluster and how to delete it.
    result = cli(estate, "remove-tenant", "globex", "--phase", "purge", "--output", "json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)["removeTenant"]
    eu, us = report["leftInCluster"]["eu-west-1"], report["leftInCluster"]["us-east-1"]
    assert "PersistentVolumeClaim globex/workflowgen-data" in eu and "Namespace globex" in us
    assert any(x.startswith("Argo CD Application argocd/globex-eu-west-1") for x in eu)
    assert not any("Application" in x for x in us)
    assert any("secret store key workflowgen/globex/us-east-1" in x for x in us)
    steps = report["manualSteps"]["eu-west-1"]
    assert steps[0].startswith("the external database") and "kubectl --context eu-west-1 delete namespace globex" \
        in steps
    message = git(estate, "log", "-1", "--format=%B", "gitops-gen/remove-tenant-globex-purge")
    assert "Left in cluster eu-west-1" in message and "kubectl --context us-east-1 -n globex delete pvc" in message
    left = dict(risks(estate, "gitops-gen/remove-tenant-globex-purge")["data-left-in-cluster"])
    assert "Argo CD Application argocd/globex-eu-west-1" in left["eu-west-1"] and "delete pvc" in left["us-east-1"]
    merge(estate, "gitops-gen/remove-tenant-globex-purge")
    assert not (estate / "overlays/globex").exists()
    assert not (estate / "argocd/projects/globex.yaml").exists()
    assert not (estate / "clusters/us-east-1/tenants/globex.yaml").exists()
    assert not (estate / "clusters/us-east-1/platform/globex").exists()
    clean(estate)
    again = cli(estate, "remove-tenant", "globex", "--phase", "purge")
    assert again.exit_code == 0 and "purged already" in again.output


def test_one_placement_leaves_and_the_other_stays(estate: Path) -> None:
    for phase in ("drain", "retire", "purge"):
        extra = ("--now", "--reason", "moved to eu only") if phase == "retire" else ()
        result = cli(estate, "remove-tenant", "globex", "--cluster", "us-east-1", "--phase", phase, *extra)
        assert result.exit_code == 0, result.output
        merge(estate, f"gitops-gen/remove-tenant-globex-{phase}-us-east-1")
        if phase != "purge":
            assert states(estate) == {"eu-west-1": "active", "us-east-1": {"drain": "draining",
                                                                          "retire": "retired"}[phase]}
            assert "Ingress" in kinds(estate, OVERLAYS[0])  # the primary keeps serving
        clean(estate)
    again = cli(estate, "remove-tenant", "globex", "--cluster", "us-east-1", "--phase", "purge")
    assert again.exit_code == 0 and "purged already" in again.output
    data = declared(estate)
    assert [p["cluster"] for p in data["placements"]] == ["eu-west-1"]  # type: ignore[attr-defined]
    assert not (estate / OVERLAYS[1]).exists() and (estate / OVERLAYS[0] / "ingress.yaml").is_file()
    assert not (estate / "clusters/us-east-1/tenants/globex.yaml").exists()


def test_retire_waits_for_the_retention_period(estate: Path) -> None:
    cli(estate, "remove-tenant", "acme", "--phase", "drain")
    merge(estate, "gitops-gen/remove-tenant-acme-drain")
    drained = dt.datetime.fromtimestamp(pygit2.Repository(str(estate)).head.peel(pygit2.Commit).commit_time, dt.UTC)
    with pytest.raises(UserError, match="6 of its 7 days of retention have passed") as refusal:
        remove_tenant(estate, "acme", "retire", today=drained + dt.timedelta(days=6, hours=23))
    assert f"wait until {drained + dt.timedelta(days=7):%Y-%m-%d %H:%M} UTC" in str(refusal.value.hint)
    # Later commits on main do not restart the clock: the drain is where the placement became draining.
    (estate / "README-ops.md").write_text("on-call notes\n")
    git(estate, "add", "README-ops.md")
    git(estate, "commit", "-q", "-m", "Unrelated change")
    result = remove_tenant(estate, "acme", "retire", today=drained + dt.timedelta(days=7, minutes=1))
    assert result.commit is not None and result.branch == "gitops-gen/remove-tenant-acme-retire"
    assert result.extra["removeTenant"]["drainedAt"] == {  # type: ignore[index]
        "eu-west-1": drained.strftime("%Y-%m-%dT%H:%M:%SZ")}
    # lifecycle.retentionDays is read from gitops-gen.yaml.
    config = estate / "gitops-gen.yaml"
    config.write_text(config.read_text() + "lifecycle:\n  retentionDays: 30\n")
    git(estate, "commit", "-q", "-am", "Keep drained data 30 days")
    with pytest.raises(UserError, match="8 of its 30 days"):
        remove_tenant(estate, "acme", "retire", today=drained + dt.timedelta(days=8), branch="retire-later")
    config.write_text(config.read_text().replace("retentionDays: 30", "retentionDays: -1"))
    git(estate, "commit", "-q", "-am", "A bad value")
    refused(cli(estate, "remove-tenant", "acme", "--phase", "retire"), "lifecycle.retentionDays")


def test_a_placement_removed_by_hand_is_a_risk(estate: Path) -> None:
    decl = estate / "overlays/globex/tenant.yaml"
    data = yaml.safe_load(decl.read_text())
    data["placements"] = data["placements"][:1]
    decl.write_text(yaml.safe_dump(data, sort_keys=False))
    assert cli(estate, "generate").exit_code == 0
    git(estate, "switch", "-q", "-c", "by-hand")
    git(estate, "commit", "-q", "-am", "Drop us-east-1 by hand")
    git(estate, "add", "-A")
    git(estate, "commit", "-q", "--allow-empty", "-m", "Generated files")
    found = risks(estate, "by-hand")
    assert [c for c, _ in found["removed-without-phases"]] == ["us-east-1"]
    assert "--phase drain, retire and purge" in found["removed-without-phases"][0][1]


def test_a_placement_rule_in_tenant_yaml_names_the_field(estate: Path) -> None:
    decl = estate / "overlays/globex/tenant.yaml"
    text = decl.read_text()
    # Both placements primary on one external database: both would run the Windows Services.
    decl.write_text(text.replace("    role: standby\n", ""))
    refused(cli(estate, "validate"), "2 active primaries", "role: standby")
    decl.write_text(text.replace("    role: standby\n", "    role: stand-by\n"))
    refused(cli(estate, "list"), "placements[1].role", "primary, standby")
    decl.write_text(text.replace("    role: standby\n", "    state: gone\n    role: standby\n"))
    refused(cli(estate, "list"), "placements[1].state", "active, draining, retired")
