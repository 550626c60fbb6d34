"""gitops-gen validate end to end: real kustomize, real git, the caches, the outputs."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path
from typing import Any

import pygit2
import pytest
from typer.testing import CliRunner

from gitops_gen import yamlio
from gitops_gen.checks.drift import clean_kustomize_error
from gitops_gen.cli import app
from gitops_gen.commands.generate import generate as generate_estate
from gitops_gen.commands.tenants import add_tenant
from gitops_gen.commands.validate import ValidateRequest, resolve_cache_dir, validate
from gitops_gen.estate import layout
from gitops_gen.estate.model import HostRoute, Tenant
from gitops_gen.render.kustomize import (
    OverlayRef,
    RenderCache,
    overlay_input_hash,
    render_overlay,
    render_overlays,
    shared_input_hash,
)
from tests.conftest import land_on_main
from tests.tools import PROJECT_ROOT, crd_dir, require_kustomize


def cli(*args: str) -> Any:
    return CliRunner().invoke(app, list(args), catch_exceptions=False)


@pytest.fixture
def crds() -> Path:
    return crd_dir()


def _commit_all(root: Path, message: str) -> None:
    repo = pygit2.Repository(str(root))
    repo.index.add_all()
    repo.index.write()
    tree = repo.index.write_tree()
    sig = repo.default_signature
    repo.create_commit("HEAD", sig, sig, message, tree, [repo.head.target])


@pytest.fixture
def wide_estate(estate: Path) -> Path:
    """The fixture estate plus six tenants on eu-west-1, so batches hold several overlays."""
    for i in range(6):
        add_tenant(estate, Tenant(f"t{i}", ("eu-west-1", "us-east-1"), (HostRoute(f"t{i}.example.com", "eu-west-1"),),
                                  size=("small", "medium", "large")[i % 3]), branch=f"b{i}", base="HEAD", checkout=True)
    return land_on_main(estate)


def test_example_estate_is_clean(crds: Path, tmp_path: Path) -> None:
    require_kustomize()
    result = cli("validate", "--repo", str(PROJECT_ROOT), "--crd-dir", str(crds), "--output", "json")
    data = json.loads(result.stdout)
    assert data["findings"] == [] and result.exit_code == 0
    assert data["summary"]["overlays"] == 4


def test_fresh_estate_is_clean_and_second_run_uses_the_cache(wide_estate: Path, crds: Path) -> None:
    require_kustomize()
    first = validate(wide_estate, ValidateRequest(crd_dirs=(crds,)))
    assert [f.as_json() for f in first.findings] == []
    assert first.checked == first.rendered == len(first.overlays) == 15
    second = validate(wide_estate, ValidateRequest(crd_dirs=(crds,)))
    assert second.checked == 0 and second.rendered == 0 and second.findings == []
    # A change to one overlay's inputs re-checks that overlay only.
    tenant = wide_estate / layout.tenant_file("t3")
    tenant.write_text(tenant.read_text().replace("webReplicas: 2", "webReplicas: 1"))
    generate_estate(wide_estate)
    third = validate(wide_estate, ValidateRequest(crd_dirs=(crds,)))
    assert third.checked == 2 and third.rendered == 2 and third.findings == []


def test_batched_rendering_equals_one_by_one(wide_estate: Path, tmp_path: Path) -> None:
    require_kustomize()
    shared = shared_input_hash(wide_estate)
    refs = [OverlayRef(layout.overlay_dir(t, c), t, c, t, overlay_input_hash(wide_estate, layout.overlay_dir(t, c),
                                                                               shared))
            for t in ("acme", "globex", *(f"t{i}" for i in range(6)))
            for c in ("eu-west-1", "us-east-1") if (wide_estate / layout.overlay_dir(t, c)).is_dir()]
    batched = render_overlays(wide_estate, refs, RenderCache(None), jobs=2, batch_size=5)
    assert len(batched) == len(refs) == 15
    for ref in refs:
        single = list(yamlio.load_all(render_overlay(wide_estate, ref.path)))
        together = batched[ref.path]
        key = lambda d: (d["kind"], d["metadata"]["name"])  # noqa: E731
        assert sorted(together, key=key) == sorted(single, key=key), ref.path


def test_unattributable_object_falls_back_to_single_builds(wide_estate: Path) -> None:
    """An overlay that adds a cluster-scoped object still renders exactly as on its own."""
    require_kustomize()
    d = wide_estate / layout.overlay_dir("t1", "eu-west-1")
    (d / "extra.yaml").write_text("apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\n"
                                  "metadata:\n  name: t1-extra\nrules: []\n")
    k = d / "kustomization.yaml"
    k.write_text(k.read_text().replace("- ingress.yaml\n", "- ingress.yaml\n- extra.yaml\n"))
    shared = shared_input_hash(wide_estate)
    refs = [OverlayRef(layout.overlay_dir(t, "eu-west-1"), t, "eu-west-1", t,
                       overlay_input_hash(wide_estate, layout.overlay_dir(t, "eu-west-1"), shared))
            for t in ("t0", "t1", "t2")]
    batched = render_overlays(wide_estate, refs, RenderCache(None), batch_size=3)
    kinds = [doc["kind"] for doc in batched[layout.overlay_dir("t1", "eu-west-1")]]
    assert "ClusterRole" in kinds
    assert "ClusterRole" not in [doc["kind"] for doc in batched[layout.overlay_dir("t0", "eu-west-1")]]


def test_an_overlay_that_no_longer_builds_is_drift_and_the_run_goes_on(estate: Path, crds: Path) -> None:
    """A hand edit that breaks the build is DRIFT001 in every output, kubectl's log noise stripped; the
    other overlays are still checked (acme and globex on eu-west-1 share a batch, which falls back to single
    builds)."""
    require_kustomize()
    k = estate / layout.overlay_dir("acme", "eu-west-1") / "kustomization.yaml"
    k.write_text(k.read_text().replace("- ingress.yaml\n", "- ingress.yaml\n- missing-file.yaml\n"))
    result = cli("validate", "--repo", str(estate), "--crd-dir", str(crds), "--output", "json")
    assert result.exit_code == 1
    data = json.loads(result.stdout)
    assert data["summary"]["overlays"] == data["summary"]["checked"] == 3
    (broken,) = [f for f in data["findings"] if "does not build" in f["message"]]
    assert (broken["rule"], broken["severity"], broken["tenant"], broken["cluster"], broken["path"]) == (
        "DRIFT001", "error", "acme", "eu-west-1", "overlays/acme/eu-west-1/kustomization.yaml")
    message = broken["message"]
    assert message.startswith("overlays/acme/eu-west-1 does not build: accumulating resources")
    assert "overlays/acme/eu-west-1/missing-file.yaml" in message and str(estate) not in message
    assert not re.search(r"[IWEF]\d{4} \d\d:\d\d|run\.go|command failed|error: ", message), message
    assert [f["rule"] for f in data["findings"] if f["tenant"] == "globex"] == []
    sarif = cli("validate", "--repo", str(estate), "--crd-dir", str(crds), "--output", "sarif")
    assert sarif.exit_code == 1
    (run,) = json.loads(sarif.stdout)["runs"]
    assert run["invocations"] == [{"executionSuccessful": True, "toolExecutionNotifications": []}]
    assert any(r["ruleId"] == "DRIFT001" and "does not build" in r["message"]["text"] for r in run["results"])
    table = cli("validate", "--repo", str(estate))
    assert table.exit_code == 1 and "does not build" in table.stdout and "missing-file.yaml" in table.stdout


@pytest.mark.parametrize(("noise", "message"), [
    ('E1202 02:26:21.418269   15159 run.go:72] "command failed" err="accumulating resources: \\"x\\" missing"',
     'accumulating resources: "x" missing'),
    ("error: error: accumulating resources: x\nerror: accumulating resources: x", "accumulating resources: x"),
    ("Error: trouble in /r/overlays/a/b/kustomization.yaml", "trouble in overlays/a/b/kustomization.yaml"),
])
def test_kustomize_log_noise_is_stripped(noise: str, message: str) -> None:
    assert clean_kustomize_error(noise, Path("/r")) == message


def test_when_validate_cannot_run_every_output_says_so(estate: Path, monkeypatch: pytest.MonkeyPatch,
                                                       tmp_path: Path) -> None:
    """No kustomize: the table's error, a JSON error object and a SARIF log whose invocation failed, exit 2."""
    monkeypatch.setenv("PATH", str(tmp_path))
    table = cli("validate", "--repo", str(estate))
    assert table.exit_code == 2 and "kustomize" in table.output
    as_json = cli("validate", "--repo", str(estate), "--output", "json", "--shard", "2/3")
    assert as_json.exit_code == 2
    data = json.loads(as_json.stdout)
    assert set(data["error"]) == {"message", "hint", "file", "line", "field"}
    assert "kustomize" in data["error"]["message"]
    assert data["shard"] == {"index": 2, "count": 3}
    sarif = cli("validate", "--repo", str(estate), "--output", "sarif")
    assert sarif.exit_code == 2
    log = json.loads(sarif.stdout)
    assert log["version"] == "2.1.0" and log["runs"][0]["results"] == []
    (invocation,) = log["runs"][0]["invocations"]
    assert invocation["executionSuccessful"] is False
    (note,) = invocation["toolExecutionNotifications"]
    assert note["level"] == "error" and "kustomize" in note["message"]["text"]
    not_a_repo = cli("validate", "--repo", str(tmp_path), "--output", "json")
    assert not_a_repo.exit_code == 2 and json.loads(not_a_repo.stdout)["error"]["message"]


def test_cache_dir_inside_the_repository_only(estate: Path, crds: Path, tmp_path: Path) -> None:
    require_kustomize()
    cache = estate / ".gitops-gen-cache"
    first = validate(estate, ValidateRequest(crd_dirs=(crds,)), cache_dir=resolve_cache_dir(estate, cache))
    assert first.rendered == 3 and first.findings == []
    assert list((cache / "render").glob("*/*.json")) and (cache / "validate-cache.json").is_file()
    again = cli("validate", "--repo", str(estate), "--crd-dir", str(crds), "--cache-dir", str(cache), "-o", "json")
    assert again.exit_code == 0 and json.loads(again.stdout)["summary"]["checked"] == 0
    # The cache is no estate file: generate --check stays clean, and git ignores it (init wrote .gitignore).
    assert cli("generate", "--check", "--repo", str(estate)).exit_code == 0
    assert not any(p.startswith(".gitops-gen-cache") for p in pygit2.Repository(str(estate)).status())
    for bad, words in ((tmp_path / "elsewhere", "outside the repository"),
                       (estate / "overlays" / "c", "lies in overlays/"), (estate, "repository's root"),
                       (estate / "gitops-gen.yaml", "is a file")):
        result = cli("validate", "--repo", str(estate), "--cache-dir", str(bad), "--output", "json")
        assert result.exit_code == 2, bad
        error = json.loads(result.stdout)["error"]
        assert error["field"] == "--cache-dir" and words in error["message"], error
    assert not (tmp_path / "elsewhere").exists() and not (estate / "overlays" / "c").exists()


def test_findings_make_exit_1_and_name_rule_object_and_fix(estate: Path, crds: Path) -> None:
    require_kustomize()
    k = estate / layout.overlay_dir("acme", "eu-west-1") / "kustomization.yaml"
    k.write_text(k.read_text() + "- target:\n    kind: Deployment\n    name: workflowgen-win-services\n"
                 "  patch: |-\n    - op: replace\n      path: /spec/replicas\n      value: 2\n")
    result = cli("validate", "--repo", str(estate), "--crd-dir", str(crds), "--output", "json")
    assert result.exit_code == 1
    data = json.loads(result.stdout)
    rules = {(f["rule"], f["object"]) for f in data["findings"]}
    assert ("WIN004", "Deployment/workflowgen-win-services") in rules
    assert any(f["rule"] == "DRIFT001" and f["path"] == "overlays/acme/eu-west-1/kustomization.yaml"
               for f in data["findings"])
    assert all(f["hint"] for f in data["findings"])
    assert {r["id"] for r in data["rules"]} >= {"WIN004", "DRIFT001", "ISO001", "SCHEMA003"}
    table = cli("validate", "--repo", str(estate), "--crd-dir", str(crds))
    assert table.exit_code == 1
    assert "tenant acme / cluster eu-west-1" in table.stdout and "WIN004" in table.stdout


def test_custom_kind_without_schema_is_a_warning(estate: Path, crds: Path) -> None:
    require_kustomize()
    d = estate / layout.overlay_dir("acme", "eu-west-1")
    (d / "certificate.yaml").write_text(
        "apiVersion: cert-manager.io/v1\nkind: Certificate\nmetadata:\n  name: extra\n"
        "spec:\n  secretName: extra\n  dnsNames: [acme.wfg.example.com]\n  issuerRef: {name: x}\n")
    k = d / "kustomization.yaml"
    k.write_text(k.read_text().replace("- ingress.yaml\n", "- ingress.yaml\n- certificate.yaml\n"))
    result = validate(estate, ValidateRequest(tenants=("acme",), crd_dirs=(crds,)))
    missing = [f for f in result.findings if f.rule == "SCHEMA003"]
    assert [(f.severity, f.obj) for f in missing] == [("warning", "Certificate/extra")]


def test_schema_errors_are_found(estate: Path, crds: Path) -> None:
    require_kustomize()
    k = estate / layout.overlay_dir("acme", "eu-west-1") / "kustomization.yaml"
    k.write_text(k.read_text() + "- target:\n    kind: Service\n    name: workflowgen-web\n"
                 "  patch: |-\n    - op: add\n      path: /spec/portz\n      value: 1\n")
    result = validate(estate, ValidateRequest(tenants=("acme",), crd_dirs=(crds,)))
    schema = [f for f in result.findings if f.rule == "SCHEMA001"]
    assert schema and schema[0].obj == "Service/workflowgen-web" and "portz" in schema[0].message
    # A broken controller object is checked against its CRD.
    ks = estate / layout.cluster_tenant_file("us-east-1", "globex")
    ks.write_text(ks.read_text().replace("  prune: true\n", "  prune: sometimes\n"))
    result = validate(estate, ValidateRequest(tenants=("acme",), crd_dirs=(crds,)))
    assert any(f.rule == "SCHEMA002" and f.path == "clusters/us-east-1/tenants/globex.yaml" and "prune" in f.message
               for f in result.findings)


def test_changed_since_selects_affected_overlays(wide_estate: Path, crds: Path) -> None:
    require_kustomize()
    head = str(pygit2.Repository(str(wide_estate)).head.target)
    none = validate(wide_estate, ValidateRequest(changed_since=head, crd_dirs=(crds,)))
    assert none.overlays == [] and none.findings == []
    tenant = wide_estate / layout.tenant_file("t2")
    # A size down would shrink t2's volumes, which generate refuses: grow its data volume instead.
    tenant.write_text(tenant.read_text().replace("size: large", "size: large\nstorage:\n  data: 300Gi"))
    generate_estate(wide_estate)
    one = validate(wide_estate, ValidateRequest(changed_since=head, crd_dirs=(crds,)))
    assert one.overlays == ["overlays/t2/eu-west-1", "overlays/t2/us-east-1"] and one.findings == []
    _commit_all(wide_estate, "resize t2")
    base = wide_estate / "base" / "web.yaml"
    base.write_text(base.read_text() + "\n")
    everything = validate(wide_estate, ValidateRequest(changed_since="HEAD", crd_dirs=(crds,)))
    assert len(everything.overlays) == 15
    bad = cli("validate", "--repo", str(wide_estate), "--changed-since", "no-such-ref")
    assert bad.exit_code == 2 and "no-such-ref" in bad.output


def test_sarif_carries_what_code_scanning_requires(estate: Path, crds: Path) -> None:
    require_kustomize()
    k = estate / layout.overlay_dir("acme", "eu-west-1") / "ingress.yaml"
    k.write_text(k.read_text().replace("  tls:\n", "  tlz:\n"))
    result = cli("validate", "--repo", str(estate), "--crd-dir", str(crds), "--output", "sarif")
    assert result.exit_code == 1
    sarif = json.loads(result.stdout)
    assert sarif["version"] == "2.1.0" and sarif["$schema"].endswith("sarif-2.1.0.json")
    (run,) = sarif["runs"]
    driver = run["tool"]["driver"]
    assert driver["name"] == "gitops-gen" and driver["version"]
    rule_ids = [r["id"] for r in driver["rules"]]
    assert all(r["shortDescription"]["text"] and r["help"]["text"] for r in driver["rules"])
    assert run["results"]
    for res in run["results"]:
        assert res["ruleId"] in rule_ids and rule_ids[res["ruleIndex"]] == res["ruleId"]
        assert res["level"] in ("error", "warning") and res["message"]["text"]
        loc = res["locations"][0]["physicalLocation"]
        assert (estate / loc["artifactLocation"]["uri"]).exists() and loc["region"]["startLine"] >= 1
    assert any(r["ruleId"] == "SCHEMA001" for r in run["results"])


def test_crd_dir_that_does_not_exist(estate: Path, tmp_path: Path) -> None:
    result = cli("validate", "--repo", str(estate), "--crd-dir", str(tmp_path / "nope"))
    assert result.exit_code == 2 and "nope" in result.output


@pytest.mark.parametrize(("content", "expected"), [
    ("apiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\nspec: [unclosed\n",
     "is not valid YAML"),
    ("apiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\nmetadata:\n  name: x.example.com\n",
     "document 1 (x.example.com) has no spec"),
    ("apiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\nmetadata:\n  name: y\nspec:\n"
     "  group: example.com\n", "lacks spec.names.kind, spec.versions"),
])
def test_a_broken_crd_file_is_named_with_exit_2(estate: Path, tmp_path: Path, content: str, expected: str) -> None:
    crds = estate / "crds"
    crds.mkdir()
    (crds / "broken.yaml").write_text(content)
    config = estate / "gitops-gen.yaml"
    config.write_text(config.read_text().replace("crds: []", "crds:\n  - crds"))
    result = cli("validate", "--repo", str(estate))
    assert result.exit_code == 2, result.output
    assert isinstance(result.exception, SystemExit) and "Traceback" not in result.output
    assert f"CRD file {crds / 'broken.yaml'}" in result.output and expected in result.output, result.output
    assert "CustomResourceDefinition" in result.output  # the hint: what belongs in the folder


def test_caches_never_hide_a_change(estate: Path, crds: Path) -> None:
    """Warm caches (findings, drift, controller files) still see hand edits and removed tenants."""
    require_kustomize()
    request = ValidateRequest(crd_dirs=(crds,))
    assert validate(estate, request).findings == []
    assert validate(estate, request).checked == 0
    ingress = estate / layout.overlay_dir("acme", "eu-west-1") / "ingress.yaml"
    ingress.write_text(ingress.read_text().replace("force-ssl-redirect: 'true'", "force-ssl-redirect: 'false'"))
    found = {(f.rule, f.path or "") for f in validate(estate, request).findings}
    assert ("HTTPS003", "overlays/acme/eu-west-1/kustomization.yaml") in found
    assert ("DRIFT001", "overlays/acme/eu-west-1/ingress.yaml") in found
    generate_estate(estate)
    assert validate(estate, request).findings == []
    project = estate / layout.appproject_file("globex")
    project.write_text(project.read_text().replace("warn: true", "warn: sometimes"))
    found = {(f.rule, f.path or "") for f in validate(estate, request).findings}
    assert {("SCHEMA002", "argocd/projects/globex.yaml"), ("DRIFT001", "argocd/projects/globex.yaml")} <= found
    generate_estate(estate)
    shutil.rmtree(estate / layout.tenant_dir("acme"))
    messages = {f.message for f in validate(estate, request).findings if f.rule == "DRIFT001"}
    assert {"clusters/eu-west-1/tenants/acme.yaml is orphaned (its declaration is gone)",
            "argocd/projects/acme.yaml is orphaned (its declaration is gone)"} <= messages


def test_missing_overlay_is_drift_not_a_crash(estate: Path, crds: Path) -> None:
    require_kustomize()
    shutil.rmtree(estate / layout.overlay_dir("globex", "us-east-1"))
    result = validate(estate, ValidateRequest(crd_dirs=(crds,)))
    assert "overlays/globex/us-east-1" not in result.overlays
    assert {(f.rule, f.message) for f in result.findings if f.rule == "DRIFT001"} == {
        ("DRIFT001", f"overlays/globex/us-east-1/{name} is missing")
        for name in ("database-egress.yaml", "disruption-budget.yaml", "external-secrets.yaml", "ingress.yaml",
                     "kustomization.yaml", "quota.yaml")}
    assert {f.rule for f in result.findings} == {"DRIFT001", "DATA006"}, "the Flux Kustomization points at nothing"
