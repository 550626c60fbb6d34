"""gitops-gen diff on real repositories with real commits: the issue's scenarios."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pygit2
import pytest
import yaml
from typer.testing import CliRunner

from gitops_gen.cli import app
from gitops_gen.commands.generate import generate as generate_estate
from gitops_gen.commands.tenants import add_tenant
from gitops_gen.estate import layout
from gitops_gen.estate.model import HostRoute, Tenant
from gitops_gen.review import diff as diff_mod
from gitops_gen.review.diff import DiffResult
from gitops_gen.review.report import as_markdown
from tests.conftest import snapshot
from tests.tools import TESTDATA, render, require_kustomize

GOLDEN = TESTDATA / "golden"


def diff(root: Path, base: str | None = None, head: str | None = None, **kw: Any) -> DiffResult:
    """gitops-gen diff, checking in every scenario that the work tree, the index, HEAD and every ref
    are byte for byte as before (the render cache in .git/gitops-gen aside)."""
    before = snapshot(root)
    result = diff_mod.diff(root, base, head, **kw)
    assert snapshot(root) == before, "diff changed the work tree, the index or the repository"
    return result


def git(root: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(root), *args], check=True, capture_output=True, text=True).stdout.strip()


def head(root: Path) -> str:
    return str(pygit2.Repository(str(root)).head.target)


def commit_all(root: Path, message: str) -> str:
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", message)
    return head(root)


def risks(result: DiffResult) -> set[tuple[str, str | None, str | None]]:
    return {(r.id, r.tenant, r.cluster) for r in result.risks}


def controllers(result: DiffResult) -> set[tuple[str, str, str]]:
    return {(c.kind, c.key, c.change) for c in result.controllers}


def golden(name: str, text: str) -> None:
    """Commit ids differ from run to run (commit times): the golden file holds <commit> in their place."""
    path = GOLDEN / name
    text = re.sub(r"`[0-9a-f]{7}`|\(([0-9a-f]{7})\)", lambda m: "`<commit>`" if m.group(0)[0] == "`" else "(<commit>)",
                  text)
    if os.environ.get("GITOPS_GEN_UPDATE_GOLDEN"):
        path.write_text(text)
    assert text == path.read_text()


@pytest.fixture(autouse=True)
def _kustomize() -> None:
    require_kustomize()


def test_add_tenant(estate: Path) -> None:
    base = head(estate)
    add_tenant(estate, Tenant("newco", ("eu-west-1", "us-east-1"), (HostRoute("newco.wfg.example.com", "eu-west-1"),)),
               checkout=True)
    result = diff(estate, base, "HEAD")
    assert controllers(result) == {("Application", "argocd/newco-eu-west-1", "added"),
                                   ("Kustomization", "flux-system/newco", "added"),
                                   ("Kustomization", "flux-system/newco-platform", "added")}
    assert result.overlays == [("newco", "eu-west-1", "added"), ("newco", "us-east-1", "added")]
    assert {o.change for o in result.objects} == {"added"}
    added = {(o.cluster, o.kind, o.name) for o in result.objects}
    assert ("eu-west-1", "Namespace", "newco") in added and ("us-east-1", "Ingress", "workflowgen") in added
    assert not [r for r in result.risks if r.severity == "high"]
    golden("diff-add-tenant.md", as_markdown(result))


def test_remove_tenant(estate: Path) -> None:
    base = head(estate)
    shutil.rmtree(estate / layout.tenant_dir("acme"))
    generate_estate(estate)
    commit_all(estate, "Remove tenant acme")
    result = diff(estate, base, "HEAD")
    assert controllers(result) == {("Application", "argocd/acme-eu-west-1", "removed")}
    assert result.overlays == [("acme", "eu-west-1", "removed")]
    found = risks(result)
    assert ("tenant-leaves-cluster", "acme", "eu-west-1") in found
    # The data-bearing objects carry both controllers' protection: they stay in the cluster.
    assert {r.message.split(" ")[0] for r in result.risks if r.id == "data-orphaned"} == {
        "Namespace/acme", "PersistentVolumeClaim/workflowgen-data", "PersistentVolumeClaim/data-workflowgen-database-0"}
    assert "data-deleted" not in {r.id for r in result.risks}
    assert result.risks[0].severity == "high"
    golden("diff-remove-tenant.md", as_markdown(result))


def test_data_losing_its_protection_then_deleted(estate: Path) -> None:
    base = head(estate)
    edited = [f for f in (estate / "base").rglob("*.yaml") if "Prune=false,Delete=false" in f.read_text()]
    assert edited
    for f in edited:
        f.write_text(f.read_text().replace("Prune=false,Delete=false", "Prune=true"))
    unprotected = commit_all(estate, "Drop the data protection by hand")
    result = diff(estate, base, unprotected)
    assert ("data-unprotected", "acme", "eu-west-1") in risks(result)
    shutil.rmtree(estate / layout.tenant_dir("acme"))
    generate_estate(estate)
    gone = diff(estate, unprotected)
    assert {r.message.split(" ")[0] for r in gone.risks if r.id == "data-deleted"} == {
        "Namespace/acme", "PersistentVolumeClaim/workflowgen-data", "PersistentVolumeClaim/data-workflowgen-database-0"}
    assert all(r.severity == "high" for r in gone.risks if r.id == "data-deleted")


def test_place_tenant_on_a_second_cluster(estate: Path) -> None:
    base = head(estate)
    tenant = estate / layout.tenant_file("acme")
    text = tenant.read_text()  # after eu-west-1's entry (and its applicationUrl)
    tenant.write_text(re.sub(r"(  - cluster: eu-west-1\n(    .*\n)*)", r"\1  - cluster: us-east-1\n", text, count=1))
    generate_estate(estate)
    result = diff(estate, base)  # HEAD defaults to the work tree
    assert controllers(result) == {("Kustomization", "flux-system/acme", "added"),
                                   ("Kustomization", "flux-system/acme-platform", "added")}
    assert result.overlays == [("acme", "us-east-1", "added")]
    assert {(o.cluster, o.change) for o in result.objects} == {("us-east-1", "added")}
    assert ("us-east-1", "Namespace", "acme") in {(o.cluster, o.kind, o.name) for o in result.objects}
    assert not risks(result) - {("routing-change", "acme", "us-east-1")}


def test_move_a_global_host(estate: Path) -> None:
    base = head(estate)
    tenant = estate / layout.tenant_file("globex")
    # globex is on one external database: the host moves with the primary role (and the URL with the host).
    data = yaml.safe_load(tenant.read_text())
    data["placements"] = [
        {"cluster": "eu-west-1", "role": "standby", "applicationUrl": "https://globex.eu.wfg.example.com/wfgen"},
        {"cluster": "us-east-1", "applicationUrl": "https://globex.wfg.example.com/wfgen"}]
    data["hosts"][0]["placement"] = "us-east-1"
    tenant.write_text(yaml.safe_dump(data, sort_keys=False))
    generate_estate(estate)
    result = diff(estate, base)
    assert not result.controllers  # the same Applications and Kustomizations serve the tenant
    moves = [r for r in result.risks if r.id == "routing-change"]
    assert [(r.tenant, r.cluster, r.message) for r in moves] == [
        ("globex", "us-east-1", "globex.wfg.example.com moves from tenant globex on eu-west-1 (eu-west) "
                                "to tenant globex on us-east-1 (us-east); lower its DNS records' TTL a TTL period "
                                "ahead of the merge, so resolvers follow within a minute")]
    changed = {(o.cluster, o.kind) for o in result.objects}
    assert {("eu-west-1", "Ingress"), ("us-east-1", "Ingress"), ("eu-west-1", "ConfigMap")} <= changed
    ingress = next(o for o in result.objects if o.kind == "Ingress" and o.cluster == "us-east-1")
    assert "+  - host: globex.wfg.example.com" in ingress.diff


def test_version_bump_changes_every_overlay_and_a_downgrade_is_a_risk(estate: Path) -> None:
    add_tenant(estate, Tenant("hooli", ("eu-west-1",)), commit=False)  # in-cluster database, like acme
    base = commit_all(estate, "Add hooli")
    config = estate / layout.CONFIG_FILE
    config.write_text(config.read_text().replace("version: 10.3.1", "version: 9.6.1")
                      .replace("databaseTag: 10.3.1-ubuntu-18.04", "databaseTag: 9.6.1-ubuntu-18.04"))
    generate_estate(estate)
    down = commit_all(estate, "Go back to 9.6.1")
    result = diff(estate, base, down)
    assert not result.controllers
    assert {(t, c) for t, c, _ in result.overlays} == {("acme", "eu-west-1"), ("globex", "eu-west-1"),
                                                         ("globex", "us-east-1"), ("hooli", "eu-west-1")}
    assert {(r.id, r.tenant, r.cluster) for r in result.risks if r.id == "image-downgrade"} == {
        ("image-downgrade", "acme", "eu-west-1"), ("image-downgrade", "globex", "eu-west-1"),
        ("image-downgrade", "globex", "us-east-1"), ("image-downgrade", "hooli", "eu-west-1")}
    deployment = next(o for o in result.objects if o.kind == "Deployment" and o.name == "workflowgen-web"
                      and o.tenant == "acme")
    assert "-        image: advantys/workflowgen:10.3.1-win-ltsc2022" in deployment.diff
    assert "+        image: advantys/workflowgen:9.6.1-win-ltsc2022" in deployment.diff
    # acme and hooli on eu-west-1 change the same way: one section for both.
    report = as_markdown(result)
    assert "in 2 overlays (2 tenants × 1 cluster)</summary>" in report  # noqa: RUF001
    assert "Overlays: acme, hooli on eu-west-1." in report
    assert report.count("<details>") == 3
    up = diff(estate, down, base)
    assert len(up.overlays) == 4 and not [r for r in up.risks if r.id == "image-downgrade"]


def test_weakened_network_policy_is_a_rule_regression(estate: Path) -> None:
    base = head(estate)
    policies = estate / "base" / "network-policies.yaml"
    policies.write_text(policies.read_text().replace(
        "    - namespaceSelector:\n        matchLabels:\n          kubernetes.io/metadata.name: ingress-nginx\n",
        "    - namespaceSelector: {}\n", 1))  # the web pods' policy, the first of two admitting the controller
    result = diff(estate, base)
    assert not result.controllers
    regressions = {(r.tenant, r.cluster, r.message.split(" ")[0]) for r in result.risks if r.id == "rule-regression"}
    assert ("acme", "eu-west-1", "ISO002") in regressions and ("globex", "us-east-1", "ISO005") in regressions
    policy = next(o for o in result.objects if o.kind == "NetworkPolicy" and o.tenant == "acme")
    assert policy.name == "web-from-ingress-controller" and "-    - namespaceSelector:" in policy.diff


def test_windows_build_mismatch_and_scaled_windows_services(estate: Path) -> None:
    base = head(estate)
    k = estate / layout.overlay_dir("acme", "eu-west-1") / "kustomization.yaml"
    k.write_text(k.read_text().replace("-win-ltsc2022", "-win-ltsc2019")
                 + "- target:\n    kind: Deployment\n    name: workflowgen-win-services\n"
                   "  patch: \"- op: replace\\n  path: /spec/replicas\\n  value: 2\\n\"\n")
    result = diff(estate, base, tenants=["acme"])
    found = {(r.id, r.severity) for r in result.risks if r.tenant == "acme" and r.cluster == "eu-west-1"}
    assert {("windows-build-mismatch", "high"), ("win-services-replicas", "high")} <= found
    assert not [r for r in result.risks if r.id == "rule-regression" and r.message.startswith("WIN004")]
    web = next(o for o in result.objects if o.kind == "Deployment" and o.name == "workflowgen-web")
    assert "+        image: advantys/workflowgen:10.3.1-win-ltsc2019" in web.diff


def test_configmap_hash_change_is_a_rename_not_noise(estate: Path) -> None:
    base = head(estate)
    tenant = estate / layout.tenant_file("acme")
    tenant.write_text(tenant.read_text().replace("auth: application", "auth: basic"))
    generate_estate(estate)
    result = diff(estate, base)
    config_map = next(o for o in result.objects if o.kind == "ConfigMap")
    assert config_map.renamed_from and config_map.renamed_from != config_map.name
    assert "+  WFGEN_AUTH_MODE: basic" in config_map.diff
    # The Deployments differ only in the ConfigMap name they refer to: no change, no noise.
    assert not [o for o in result.objects if o.kind == "Deployment"]
    # ... though the rendered Deployment itself did change: it names the new ConfigMap.
    web = json.dumps(next(d for d in render(estate, layout.overlay_dir("acme", "eu-west-1"))
                          if d["kind"] == "Deployment" and d["metadata"]["name"] == "workflowgen-web"))  # type: ignore[index]
    assert config_map.name in web and str(config_map.renamed_from) not in web


def test_secret_values_are_never_printed(estate: Path) -> None:
    base = head(estate)
    overlay = estate / layout.overlay_dir("acme", "eu-west-1")
    (overlay / "secret.yaml").write_text("apiVersion: v1\nkind: Secret\nmetadata:\n  name: extra\n"
                                         "stringData:\n  token: s3cr3t-value-one\n")
    k = overlay / "kustomization.yaml"
    k.write_text(k.read_text().replace("- ingress.yaml\n", "- ingress.yaml\n- secret.yaml\n"))
    middle = commit_all(estate, "add a secret by hand")
    (overlay / "secret.yaml").write_text((overlay / "secret.yaml").read_text().replace("one", "two"))
    for result in (diff(estate, base, middle), diff(estate, middle)):
        secret = next(o for o in result.objects if o.kind == "Secret")
        assert "s3cr3t" not in json.dumps([o.as_json() for o in result.objects])
        assert "s3cr3t" not in as_markdown(result)
    assert secret.secret_keys == ("token",) and secret.change == "changed"


def test_cli_outputs_and_exit_code(estate: Path) -> None:
    base = head(estate)
    runner = CliRunner()
    same = runner.invoke(app, ["diff", base, "--repo", str(estate), "--exit-code"])
    assert same.exit_code == 0 and "No change" in same.stdout
    add_tenant(estate, Tenant("newco", ("eu-west-1",)), commit=False)
    text = runner.invoke(app, ["diff", base, "--repo", str(estate), "--exit-code"])
    assert text.exit_code == 1 and "newco on eu-west-1" in text.stdout
    data: dict[str, Any] = json.loads(runner.invoke(app, ["diff", base, "--repo", str(estate), "-o", "json"]).stdout)
    assert data["summary"]["overlays"] == 1 and data["summary"]["added"] > 10
    assert {"tenant", "cluster", "kind", "name", "change", "diff"} <= set(data["objects"][0])
    small = runner.invoke(app, ["diff", base, "--repo", str(estate), "-o", "markdown", "--max-bytes", "2000"])
    assert len(small.stdout.encode()) <= 2000 and "Cut to stay under 2,000 bytes" in small.stdout
    assert "### Risks" in small.stdout and "| newco on eu-west-1 | added |" in small.stdout
    bad = runner.invoke(app, ["diff", "no-such-ref", "--repo", str(estate)])
    assert bad.exit_code == 2 and "no-such-ref" in bad.output
    nobody = runner.invoke(app, ["diff", base, "--repo", str(estate), "--tenant", "nobody"])
    assert nobody.exit_code == 2 and "--tenant 'nobody'" in nobody.output
    other = runner.invoke(app, ["diff", base, "--repo", str(estate), "--cluster", "us-east-1", "--exit-code"])
    assert other.exit_code == 0 and "No change" in other.stdout  # newco is on eu-west-1 only


def test_default_base_is_the_merge_base_with_main(estate: Path) -> None:
    repo = pygit2.Repository(str(estate))
    main_tip = str(repo.references["refs/heads/main"].target)
    add_tenant(estate, Tenant("newco", ("eu-west-1",)), checkout=True)
    assert pygit2.Repository(str(estate)).head.shorthand == "gitops-gen/add-tenant-newco"
    result = diff(estate)
    assert result.base == f"merge base with main ({main_tip[:7]})"
    assert ("newco", "eu-west-1", "added") in result.overlays


def test_a_commit_is_keyed_like_its_work_tree(estate: Path) -> None:
    """Render keys computed from git objects equal those computed from the same files on disk, so a
    side validate (or an earlier diff) rendered is not rendered again."""
    from gitops_gen.render.kustomize import (
        overlay_input_hash,
        overlay_input_hash_of,
        shared_input_hash,
        shared_input_hash_of,
    )
    from gitops_gen.review.sides import CommitSide

    (estate / "base" / "components" / "extra").mkdir()
    (estate / "base" / "components" / "extra" / "a.yaml").write_text("a: 1\n")
    (estate / "base" / "zz.yaml").write_text("z: 1\n")  # a file after a subdirectory's name
    commit_all(estate, "nested files in base/")
    side = CommitSide(pygit2.Repository(str(estate)), "HEAD")
    files = side.files()
    shared = shared_input_hash_of(files, side.read)
    assert shared == shared_input_hash(estate)
    for overlay in ("overlays/acme/eu-west-1", "overlays/globex/us-east-1"):
        assert overlay_input_hash_of(files, side.read, overlay, shared) == overlay_input_hash(estate, overlay, shared)
    # Rendered once from the work tree, a diff of the commit against itself and a change builds nothing more.
    first = diff(estate, "HEAD~1")
    assert first.built > 0
    again = diff(estate, "HEAD~1", "HEAD")
    assert again.built == 0 and again.compared == first.compared


EXTRA_APPSET = """\
apiVersion: argoproj.io/v1alpha1
kind: ApplicationSet
metadata:
  name: every-overlay-folder
  namespace: argocd
spec:
  goTemplate: true
  goTemplateOptions: ["missingkey=error"]
  generators:
  - git:
      repoURL: https://git.example.com/platform/estate.git
      revision: main
      directories:
      - path: overlays/*
  syncPolicy:
    preserveResourcesOnDeletion: true
  template:
    metadata:
      name: 'folder-{{ .path.basename }}'
    spec:
      project: default
      source:
        repoURL: https://git.example.com/platform/estate.git
        targetRevision: main
        path: '{{ .path.path }}'
      destination:
        server: https://kubernetes.default.svc
        namespace: '{{ .path.basename }}'
"""


def test_controllers_are_expanded_whenever_a_generator_reads_the_changed_files(estate: Path) -> None:
    """A tenant edit touches nothing the estate's own ApplicationSets read, so their expansion is
    skipped; a hand-written ApplicationSet reading folders under overlays/ makes it needed again."""
    from gitops_gen.review.appset import inputs_confined
    from gitops_gen.review.sides import WorkTreeSide

    assert inputs_confined(WorkTreeSide(estate))
    (estate / "clusters" / "eu-west-1" / "argocd" / "every-overlay-folder.yaml").write_text(EXTRA_APPSET)
    base = commit_all(estate, "An ApplicationSet per overlay folder")
    assert not inputs_confined(WorkTreeSide(estate))
    (estate / "overlays" / "zeta").mkdir()
    (estate / "overlays" / "zeta" / "notes.md").write_text("reserved for a customer\n")
    result = diff(estate, base)
    assert controllers(result) == {("Application", "argocd/folder-zeta", "added")}


# --------------------------------------------------------------------------- fields the API server never changes

DATABASE = "base/components/database-in-cluster/database.yaml"


def _immutable(result: DiffResult) -> dict[tuple[str | None, str | None], list[str]]:
    out: dict[tuple[str | None, str | None], list[str]] = {}
    for r in result.risks:
        if r.id == "immutable-field":
            assert r.severity == "high"
            out.setdefault((r.tenant, r.cluster), []).append(r.message.split(" changes,")[0])
    return out


def test_a_claim_template_of_an_applied_statefulset_is_an_immutable_field(estate: Path) -> None:
    """An estate from before: the database's claim in volumeClaimTemplates, sized by the tier. Moving to the
    separate claim (or resizing the template) changes a field the API server refuses to update."""
    path = estate / DATABASE
    text = path.read_text()
    template = ("  volumeClaimTemplates:\n  - apiVersion: v1\n    kind: PersistentVolumeClaim\n    metadata:\n"
                "      name: data\n    spec:\n      accessModes:\n      - ReadWriteOnce\n      resources:\n"
                "        requests:\n          storage: 20Gi\n")
    assert "  serviceName: workflowgen-database\n" in text
    path.write_text(text.replace("  serviceName: workflowgen-database\n",
                                 "  serviceName: workflowgen-database\n" + template))
    old = commit_all(estate, "the old layout, by hand")
    generate_estate(estate)
    new = commit_all(estate, "generate")
    found = _immutable(diff(estate, old, new))
    assert found == {("acme", "eu-west-1"): ["StatefulSet/workflowgen-database: spec.volumeClaimTemplates"]}
    # Growing the template's request is just as refused.
    path.write_text(path.read_text().replace("  serviceName: workflowgen-database\n",
                                             "  serviceName: workflowgen-database\n"
                                             + template.replace("20Gi", "50Gi")))
    assert _immutable(diff(estate, new)) == {
        ("acme", "eu-west-1"): ["StatefulSet/workflowgen-database: spec.volumeClaimTemplates"]}


@pytest.mark.parametrize(("file", "old", "new", "expected"), [
    ("base/web.yaml", "  selector:\n    matchLabels:\n      app.kubernetes.io/part-of: workflowgen\n",
     "  selector:\n    matchLabels:\n      app.kubernetes.io/part-of: wfg\n",
     "Deployment/workflowgen-web: spec.selector"),
    ("base/web.yaml", "  type: ClusterIP\n", "  type: NodePort\n", "Service/workflowgen-web: spec.type"),
    (DATABASE, "  serviceName: workflowgen-database\n", "  serviceName: database\n",
     "StatefulSet/workflowgen-database: spec.serviceName"),
    ("base/data.yaml", "  - ReadWriteMany\n", "  - ReadWriteOnce\n",
     "PersistentVolumeClaim/workflowgen-data: spec.accessModes"),
])
def test_immutable_fields_changed_by_hand_are_a_risk(estate: Path, file: str, old: str, new: str,
                                                     expected: str) -> None:
    base = head(estate)
    path = estate / file
    assert old in path.read_text(), old
    path.write_text(path.read_text().replace(old, new, 1))
    found = _immutable(diff(estate, base))
    assert found and all(messages == [expected] for messages in found.values()), found


def test_a_smaller_or_reclassed_claim_is_a_risk_and_a_larger_one_is_not(estate: Path) -> None:
    base = head(estate)
    k = estate / layout.overlay_dir("acme", "eu-west-1") / "kustomization.yaml"
    text = k.read_text()
    k.write_text(text.replace("value: 10Gi", "value: 50Gi"))
    assert _immutable(diff(estate, base)) == {}
    k.write_text(text.replace("value: 10Gi", "value: 5Gi").replace("value: azurefile-csi", "value: nfs-csi"))
    assert _immutable(diff(estate, base)) == {("acme", "eu-west-1"): [
        "PersistentVolumeClaim/workflowgen-data: spec.storageClassName, spec.resources.requests.storage (smaller)"]}


# --------------------------------------------------------------------------- secret-looking literals

def test_secret_looking_literals_are_masked_in_every_format(estate: Path) -> None:
    """What validate's SEC002 flags (a password in a connection string, a literal token) is never printed."""
    base = head(estate)
    k = estate / layout.overlay_dir("acme", "eu-west-1") / "kustomization.yaml"
    k.write_text(k.read_text().replace(
        "  - WFGEN_AUTH_MODE=application\n",
        "  - WFGEN_AUTH_MODE=application\n"
        "  - WFGEN_DATABASE_CONNECTION_STRING=Server=sql;User ID=wfg;Password=Hunter2x9\n")
        + "- target:\n    kind: Deployment\n    name: workflowgen-web\n  patch: |-\n    - op: add\n"
          "      path: /spec/template/spec/containers/0/env/-\n      value: {name: SMTP_PASSWORD, value: Tr0ub4dor3}\n")
    middle = commit_all(estate, "literals by hand")
    k.write_text(k.read_text().replace("Tr0ub4dor3", "C0rrectHorse"))
    runner = CliRunner()
    for args in (["diff", base, middle], ["diff", middle], ["diff", base]):
        for output in ("text", "markdown", "json"):
            shown = runner.invoke(app, [*args, "--repo", str(estate), "-o", output]).stdout
            for secret in ("Hunter2x9", "Tr0ub4dor3", "C0rrectHorse"):
                assert secret not in shown, (args, output, secret)
            assert "*** (masked: looks like a secret;" in shown, (args, output)
    # A change of a masked value still shows as a change.
    changed = diff(estate, middle)
    web = next(o for o in changed.objects if o.kind == "Deployment" and o.name == "workflowgen-web")
    assert web.change == "changed", web
    assert re.search(r"^-\s+value: '\*\*\* \(masked", web.diff, re.M) and re.search(
        r"^\+\s+value: '\*\*\* \(masked", web.diff, re.M), web.diff
