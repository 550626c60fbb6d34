"""A fleet change reads like one change: a 50-tenant version change, grouped; controller objects and
estate-wide settings reviewed; reports that fit and split."""

from __future__ import annotations

import dataclasses
import json
import re
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from gitops_gen import yamlio
from gitops_gen.cli import app
from gitops_gen.commands.common import declaration_header
from gitops_gen.commands.generate import generate as generate_estate
from gitops_gen.estate import layout
from gitops_gen.estate.model import HostRoute, Tenant, tenant_declaration
from gitops_gen.review.diff import DiffResult, ObjectChange
from gitops_gen.review.fleet import Aside, compact_names
from gitops_gen.review.report import as_json, as_markdown, as_markdown_parts, as_text
from tests.conftest import make_estate
from tests.review.test_diff import commit_all, diff, golden, head
from tests.tools import require_kustomize

runner = CliRunner(env={"COLUMNS": "200", "NO_COLOR": "1", "GITOPS_GEN_DEBUG": None})


@pytest.fixture(autouse=True)
def _kustomize() -> None:
    require_kustomize()


@pytest.fixture(scope="module")
def fleet(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str, str, DiffResult]:
    """50 tenants on eu-west-1 (t00..t49) on WorkflowGen 9.6.1, then the estate's version 9.6.1 → 10.3.1
    (the two versions published for ltsc2022)."""
    root = make_estate(tmp_path_factory.mktemp("fleet") / "estate", tenants=False)
    config = root / layout.CONFIG_FILE
    config.write_text(config.read_text().replace("version: 10.3.1", "version: 9.6.1", 1))
    header = declaration_header("tenant")
    for i in range(50):
        t = Tenant(f"t{i:02d}", ("eu-west-1",), (HostRoute(f"t{i:02d}.wfg.example.com", "eu-west-1"),))
        path = root / layout.tenant_file(t.name)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(header + yamlio.dump_declaration(tenant_declaration(t)))
    generate_estate(root)
    base = commit_all(root, "50 tenants")
    config.write_text(config.read_text().replace("version: 9.6.1", "version: 10.3.1", 1))
    generate_estate(root)
    changed = commit_all(root, "WorkflowGen 10.3.1")
    return root, base, changed, diff(root, base, changed)


def test_version_change_on_50_tenants_is_one_group(fleet: tuple[Path, str, str, DiffResult]) -> None:
    _root, _base, _head, result = fleet
    assert len(result.overlays) == 50
    report = as_markdown(result)
    golden("diff-fleet-version.md", report)
    # The change itself, once, with every tenant listed compactly; every risk kind, each once.
    assert "advantys/workflowgen:9.6.1-win-ltsc2022 → advantys/workflowgen:10.3.1-win-ltsc2022" in report
    assert "in 50 overlays (50 tenants × 1 cluster)" in report  # noqa: RUF001
    assert "t00..t49 on eu-west-1" in report
    assert report.count("<details>") == 1
    kinds = {r.id for r in result.risks}
    assert "workload-restart" in kinds
    for kind in kinds:
        assert f"`{kind}`" in report
    risk_lines = [line for line in report.splitlines() if line.startswith("- **")]
    assert len(risk_lines) == len({(r.severity, r.id) for r in result.risks})
    # Windows Services use Recreate: the reviewer is told they go down.
    assert "the Windows Services are down meanwhile" in report

    text = "\n".join(line for line, _ in as_text(result))
    assert text.count("in 50 overlays") == 2  # one risk line, one section
    data = as_json(result)
    groups = data["groups"]
    assert isinstance(groups, list) and len(groups) == 1 and len(groups[0]["overlays"]) == 50
    assert data["riskGroups"] == [g for g in data["riskGroups"] if g["count"] == 50]  # type: ignore[index]


def _scaled(result: DiffResult, tenants: int, clusters: list[str]) -> DiffResult:
    """The one-tenant pattern of a real diff copied to ``tenants`` times ``clusters`` overlays."""
    pattern = [o for o in result.objects if o.tenant == "t00"]
    risks = [r for r in result.risks if r.tenant == "t00"]
    scaled = DiffResult(result.base, result.head)
    aside: dict[str, tuple[tuple[str, str], ...]] = {}
    for i in range(tenants):
        name = f"t{i:05d}"
        aside[name] = ((name, "<tenant>"), (f"{name}.wfg.example.com", "<host>"),
                       (f"{name}.eu.wfg.example.com", "<host>"))
        for c in clusters:
            scaled.overlays.append((name, c, "changed"))
            scaled.objects += [dataclasses.replace(o, tenant=name, cluster=c, diff=re.sub(r"\bt00\b", name, o.diff))
                               for o in pattern]
            scaled.risks += [dataclasses.replace(r, tenant=name, cluster=c, message=re.sub(r"\bt00\b", name, r.message))
                             for r in risks]
    scaled.aside = Aside(aside, {c: ((c, "<cluster>"),) for c in clusters})
    return scaled


def test_version_change_at_300_tenants_on_3_clusters_fits_and_splits(
        fleet: tuple[Path, str, str, DiffResult]) -> None:
    big = _scaled(fleet[3], 300, ["eu-west-1", "us-east-1", "ap-south-1"])
    report = as_markdown(big)
    assert len(report.encode()) <= 60_000
    assert "in 900 overlays (300 tenants × 3 clusters)" in report  # noqa: RUF001
    assert "advantys/workflowgen:9.6.1-win-ltsc2022 → advantys/workflowgen:10.3.1-win-ltsc2022" in report
    assert "t00000..t00299 on ap-south-1, eu-west-1, us-east-1" in report
    for kind in {r.id for r in big.risks}:
        assert f"`{kind}`" in report
    assert "_Cut to stay under" not in report

    # Past the limit, parts that each stand alone: title with 'part i/n', counts and risks first. Forty
    # tenants also change on their own (a different replica count each): forty more groups.
    for i in range(40):
        name = f"t{i:05d}"
        big.objects.append(ObjectChange(name, "eu-west-1", "HorizontalPodAutoscaler", "web", "changed",
                                        "--- base/x\n+++ head/x\n@@ -1 +1 @@\n-  maxReplicas: 2\n"
                                        f"+  maxReplicas: {i + 3}\n"))
    parts = as_markdown_parts(big, 3_000)
    assert len(parts) > 1
    for i, part in enumerate(parts, 1):
        assert len(part.encode()) <= 3_000, (i, len(part.encode()))
        assert f"(part {i}/{len(parts)})" in part.splitlines()[0]
        assert "300 tenants, 900 overlays" in part and "### Risks" in part
    every = "".join(parts)
    assert every.count("<details>") == 41  # each group in exactly one part: the shared change and the 40 others
    assert "maxReplicas: 2 → 42" in every
    assert as_markdown_parts(big) == [as_markdown(big)]  # fits: one part, the whole report


def test_compact_names() -> None:
    assert compact_names(["t002", "t000", "t001", "acme", "t004"]) == "acme, t000..t002, t004"
    assert compact_names([f"x{i}" for i in range(30)] + ["b", "a"], limit=2) == "a, b and 2 more"


def test_a_new_cluster_is_described_and_its_controller_files_diffed(estate: Path) -> None:
    base = head(estate)
    made = runner.invoke(app, ["add-cluster", "ap-south-1", "--repo", str(estate), "--checkout",
                               "--controller", "argocd", "--server", "https://ap.k8s.example.com",
                               "--region", "ap-south", "--windows-build", "ltsc2022",
                               "--domain", "ap.wfg.example.com", "--data-storage-class", "azurefile-csi"])
    assert made.exit_code == 0, made.output
    result = diff(estate, base, "HEAD")
    assert not result.empty
    assert [(c.name, c.change) for c in result.clusters] == [("ap-south-1", "added")]
    assert ("windowsBuild", "", "ltsc2022") in result.clusters[0].fields
    shown = {(o.kind, o.name.split(" ")[0], o.change) for o in result.platform}
    assert {("ApplicationSet", "workflowgen-ap-south-1", "added"),
            ("Application", "gitops-gen.cluster.ap-south-1", "added")} <= shown, shown
    report = as_markdown(result)
    assert "No change to any" not in report and "ap-south-1 | added" in report
    out = runner.invoke(app, ["diff", base, "HEAD", "--repo", str(estate), "--output", "json"])
    assert out.exit_code == 0, out.output
    assert json.loads(out.stdout)["summary"]["clusters"] == 1


def _edit_yaml(path: Path, edit: object) -> None:
    docs = list(yaml.safe_load_all(path.read_text()))
    for d in docs:
        edit(d)  # type: ignore[operator]
    path.write_text(yaml.safe_dump_all(docs, sort_keys=False))


def test_controller_object_risks(estate: Path) -> None:
    base = head(estate)
    appset = estate / "clusters/eu-west-1/argocd/applicationset.yaml"

    def weaken(d: dict) -> None:  # type: ignore[type-arg]
        d["spec"]["syncPolicy"].pop("preserveResourcesOnDeletion", None)
        d["spec"]["syncPolicy"]["applicationsSync"] = "sync"

    _edit_yaml(appset, weaken)
    _edit_yaml(estate / "argocd/projects/globex.yaml",
               lambda d: d["spec"]["destinations"].append({"server": "*", "namespace": "*"}))
    flux = estate / "clusters/us-east-1/flux-system/gitops-gen-sync.yaml"
    _edit_yaml(flux, lambda d: d["spec"].update(deletionPolicy="MirrorPrune") if d["kind"] == "Kustomization"
               else None)
    _edit_yaml(estate / "argocd/bootstrap.yaml",
               lambda d: d["spec"]["syncPolicy"]["automated"].update(prune=True) if d["kind"] == "Application"
               else None)
    changed = commit_all(estate, "Hand edits of controller objects")
    result = diff(estate, base, changed)
    found = {(r.id, r.severity) for r in result.risks}
    assert ("appset-safety", "high") in found, found
    assert ("project-widened", "high") in found
    assert ("flux-parent", "high") in found
    assert ("bootstrap-changed", "medium") in found
    widened = next(r for r in result.risks if r.id == "project-widened")
    assert widened.tenant == "globex" and "namespace=*, server=*" in widened.message
    kinds = {o.kind for o in result.platform}
    assert {"ApplicationSet", "AppProject", "Kustomization", "Application"} <= kinds


def test_estate_wide_settings_raise_risks(estate: Path) -> None:
    base = head(estate)
    cluster = estate / "clusters/eu-west-1/cluster.yaml"
    cluster.write_text(cluster.read_text().replace("ltsc2022", "ltsc2019"))
    config = estate / layout.CONFIG_FILE
    text = config.read_text()
    assert "className: nginx" in text
    config.write_text(text.replace("className: nginx", "className: traefik"))
    generate_estate(estate)
    changed = commit_all(estate, "Cluster-wide changes")
    result = diff(estate, base, changed, tenants=("acme",))
    found = {r.id for r in result.risks}
    assert {"windows-build-changed", "ingress-class-changed", "workload-restart"} <= found, found
    build = next(r for r in result.risks if r.id == "windows-build-changed")
    assert "ltsc2022 → ltsc2019" in build.message and build.cluster == "eu-west-1"
    moved = [r for r in result.risks if r.id == "ingress-class-changed" and r.tenant == "acme"]
    assert moved and "acme.wfg.example.com" in moved[0].message


def test_a_new_first_host_keeps_the_application_url_and_an_explicit_change_is_flagged(estate: Path) -> None:
    base = head(estate)
    tenant = estate / layout.tenant_file("acme")
    data = yaml.safe_load(tenant.read_text())
    assert data["hosts"][0]["host"] == "acme.wfg.example.com"
    # add-tenant recorded the URL: a host put first changes nothing users were given.
    assert data["placements"][0]["applicationUrl"] == "https://acme.wfg.example.com/wfgen"
    data["hosts"].insert(0, {"host": "portal.acme.example.com", "placement": "eu-west-1"})
    tenant.write_text(yaml.safe_dump(data, sort_keys=False))
    generate_estate(estate)
    changed = commit_all(estate, "A new first host")
    result = diff(estate, base, changed)
    assert not [r for r in result.risks if r.id == "application-url-changed"]
    assert "ConfigMap" not in {o.kind for o in result.objects}
    # Only an explicit change of applicationUrl changes it, and diff says so.
    data["placements"][0]["applicationUrl"] = "https://portal.acme.example.com/wfgen"
    tenant.write_text(yaml.safe_dump(data, sort_keys=False))
    generate_estate(estate)
    moved = commit_all(estate, "Users go to the portal host")
    result = diff(estate, changed, moved)
    url = [r for r in result.risks if r.id == "application-url-changed"]
    assert url and "https://acme.wfg.example.com/wfgen → https://portal.acme.example.com/wfgen" in url[0].message
    assert any(r.id == "workload-restart" and "ConfigMap" in r.message for r in result.risks)


def test_diff_split_through_the_cli(fleet: tuple[Path, str, str, DiffResult]) -> None:
    root, base, changed, _ = fleet
    # Six tenants are resized, each its own way: more groups, past 4,000 bytes.
    for i, (size, replicas) in enumerate([("small", 1), ("medium", 2), ("medium", 3), ("large", 2), ("large", 4),
                                          ("large", 5)]):
        path = root / layout.tenant_file(f"t{i:02d}")
        data = yaml.safe_load(path.read_text())
        data["size"], data["webReplicas"] = size, replicas
        path.write_text(yaml.safe_dump(data, sort_keys=False))
    generate_estate(root)
    changed = commit_all(root, "Six tenants resized")
    out = runner.invoke(app, ["diff", base, changed, "--repo", str(root), "-o", "markdown", "--split",
                              "--max-bytes", "4000"])
    assert out.exit_code == 0, out.output
    parts = re.split(r"<!-- gitops-gen diff part \d+/\d+ -->\n", out.stdout)[1:]
    assert len(parts) >= 2
    for i, part in enumerate(parts, 1):
        assert len(part.rstrip("\n").encode()) <= 4000
        assert "### Risks" in part and "`workload-restart`" in part
        assert part.startswith("## gitops-gen diff") and f"(part {i}/{len(parts)})" in part.splitlines()[0]
    refused = runner.invoke(app, ["diff", base, changed, "--repo", str(root), "-o", "json", "--split"])
    assert refused.exit_code == 2
    error = json.loads(refused.stdout)["error"]
    assert error["field"] == "--split" and "--output markdown" in error["hint"]


def test_a_link_to_a_file_outside_is_never_shown(estate: Path, tmp_path: Path) -> None:
    base = head(estate)
    outside = tmp_path / "kubeconfig"
    outside.write_text("apiVersion: v1\nkind: Config\nusers:\n- name: admin\n  user:\n    token: s3cr3t-token\n")
    (estate / "clusters/eu-west-1/argocd/extra.yaml").symlink_to(outside)
    result = diff(estate, base)  # HEAD: the work tree
    assert "s3cr3t-token" not in json.dumps(as_json(result)) and "s3cr3t-token" not in as_markdown(result)


def test_a_new_wide_appproject_is_a_risk(estate: Path) -> None:
    base = head(estate)
    (estate / "argocd/projects/evil.yaml").write_text(
        "apiVersion: argoproj.io/v1alpha1\nkind: AppProject\nmetadata:\n  name: evil\n  namespace: argocd\n"
        "spec:\n  sourceRepos: ['*']\n  destinations:\n  - server: '*'\n    namespace: '*'\n"
        "  clusterResourceWhitelist:\n  - group: '*'\n    kind: '*'\n")
    changed = commit_all(estate, "A project that allows everything")
    widened = [r for r in diff(estate, base, changed).risks if r.id == "project-widened"]
    assert widened and widened[0].severity == "high" and "is new and allows" in widened[0].message
