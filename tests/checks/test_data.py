"""Data-safety rules (DATA001-DATA011), and the controller-level isolation rules (ISO010, ISO013): protection of
data-bearing objects, storage a pod can mount, and the controller objects."""

from __future__ import annotations

import copy
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from gitops_gen import checks
from gitops_gen.checks import RULES
from gitops_gen.checks.data import _matcher, _matching, exact_match, greedy_match
from gitops_gen.estate.load import Estate
from tests.checks.cases import (
    ACME,
    APPSET,
    DB,
    FLUX_GLOBEX,
    FLUX_SYNC,
    GLOBEX_US,
    PLATFORM_GLOBEX,
    Case,
    Docs,
    Rendered,
    assert_overlay_rule_fires,
    edit_yaml,
    one,
    pop_from,
    set_to,
    show,
)

DB_PVC = "data-workflowgen-database-0"


def _claim_template(d: Docs, with_kind: bool) -> str:
    template: dict[str, Any] = {
        "metadata": {"name": "scratch", "annotations": {"argocd.argoproj.io/sync-options": "Prune=false,Delete=false",
                                                        "kustomize.toolkit.fluxcd.io/prune": "disabled"}},
        "spec": {"accessModes": ["ReadWriteOnce"], "storageClassName": "managed-csi",
                 "resources": {"requests": {"storage": "1Gi"}}}}
    if with_kind:
        template = {"apiVersion": "v1", "kind": "PersistentVolumeClaim", **template}
    one(d, "StatefulSet")["spec"]["volumeClaimTemplates"] = [template]
    return f"StatefulSet/{DB}"


DATA_CASES = [
    Case("DATA001", "namespace-prune-only", ACME, lambda d: set_to(
        one(d, "Namespace")["metadata"]["annotations"], "argocd.argoproj.io/sync-options", "Prune=false",
        "Namespace/acme")),
    Case("DATA001", "database-volume-deletable", ACME, lambda d: set_to(
        one(d, "PersistentVolumeClaim", DB_PVC)["metadata"]["annotations"], "argocd.argoproj.io/sync-options",
        "Prune=false", f"PersistentVolumeClaim/{DB_PVC}")),
    Case("DATA002", "pvc-prunable", GLOBEX_US, lambda d: pop_from(
        one(d, "PersistentVolumeClaim")["metadata"]["annotations"], "kustomize.toolkit.fluxcd.io/prune",
        "PersistentVolumeClaim/workflowgen-data")),
    Case("DATA002", "database-prunable", ACME, lambda d: set_to(
        one(d, "StatefulSet")["metadata"]["annotations"], "kustomize.toolkit.fluxcd.io/prune", "Disabled",
        f"StatefulSet/{DB}")),
    Case("DATA008", "data-volume-on-the-default-class", ACME, lambda d: pop_from(
        one(d, "PersistentVolumeClaim", "workflowgen-data")["spec"], "storageClassName",
        "PersistentVolumeClaim/workflowgen-data")),
    Case("DATA008", "data-volume-class-empty", GLOBEX_US, lambda d: set_to(
        one(d, "PersistentVolumeClaim", "workflowgen-data")["spec"], "storageClassName", "",
        "PersistentVolumeClaim/workflowgen-data")),
    Case("DATA011", "claim-template-without-kind", ACME, lambda d: _claim_template(d, with_kind=False)),
]


def test_a_claim_template_with_its_kind_passes(fresh: tuple[Path, Estate, Rendered]) -> None:
    _, estate, rendered = fresh
    docs = copy.deepcopy(rendered[ACME])
    _claim_template(docs, with_kind=True)
    assert checks.check_overlay(checks.overlay_context(estate, ACME, docs)) == []


@pytest.mark.parametrize("case", DATA_CASES, ids=lambda c: c.id)
def test_data_rule_fires(case: Case, fresh: tuple[Path, Estate, Rendered]) -> None:
    assert_overlay_rule_fires(case, fresh)


def _appset(edit: Callable[[dict[str, Any]], None]) -> Callable[[Path], str]:
    def mutate(root: Path) -> str:
        edit_yaml(root, APPSET, lambda d: edit(d["spec"]))
        return "ApplicationSet/workflowgen-eu-west-1"
    return mutate


def _git(spec: dict[str, Any]) -> dict[str, Any]:
    git: dict[str, Any] = spec["generators"][0]["git"]
    return git


def _flux_path_missing(root: Path) -> str:
    edit_yaml(root, FLUX_GLOBEX, lambda d: d["spec"].update(path="./clusters/us-east-1/platform/globex-2"),
              "globex-platform")
    return "Kustomization/globex-platform"


def _flux_edit(rel: str, name: str, edit: Callable[[dict[str, Any]], None], obj: str) -> Callable[[Path], str]:
    def mutate(root: Path) -> str:
        edit_yaml(root, rel, edit, name)
        return obj
    return mutate


def _template(edit: Callable[[dict[str, Any]], None]) -> Callable[[Path], str]:
    return _appset(lambda s: edit(s["template"]["spec"]))


def _nested_tenant_file(root: Path) -> str:
    (root / "clusters/eu-west-1/tenants/archive").mkdir()
    (root / "clusters/eu-west-1/tenants/archive/initech.yaml").write_text("tenant: initech\n")
    return "ApplicationSet/workflowgen-eu-west-1"


CONTROLLER_CASES = [
    Case("DATA003", "resources-deleted-with-applications", "controllers",
         _appset(lambda s: s["syncPolicy"].pop("preserveResourcesOnDeletion"))),
    Case("DATA004", "missingkey-not-error", "controllers", _appset(lambda s: s.update(goTemplateOptions=[]))),
    Case("DATA004", "no-go-template", "controllers", _appset(lambda s: s.update(goTemplate=False))),
    Case("DATA005", "files-pattern-typo", "controllers",
         _appset(lambda s: _git(s)["files"][0].update(path="clusters/eu-west-1/tenant/*.yaml"))),
    Case("DATA005", "every-file-excluded", "controllers", _appset(lambda s: _git(s)["files"].append(
        {"path": "clusters/eu-west-1/tenants/*", "exclude": True}))),
    Case("DATA005", "directories-match-nothing", "controllers", _appset(lambda s: _git(s).update(
        files=None, directories=[{"path": "overlays/*/eu-west-9"}]))),
    Case("DATA006", "flux-path-missing", "controllers", _flux_path_missing),
    Case("DATA007", "greedy-glob-reaches-subdirectory", "controllers", _nested_tenant_file),
    Case("DATA009", "flux-parent-prunes-tenants", "controllers", _flux_edit(
        FLUX_SYNC, "gitops-gen-tenants", lambda d: d["spec"].pop("deletionPolicy"),
        "Kustomization/gitops-gen-tenants")),
    Case("DATA009", "flux-parent-mirror-prune", "controllers", _flux_edit(
        FLUX_SYNC, "gitops-gen-tenants", lambda d: d["spec"].update(deletionPolicy="MirrorPrune"),
        "Kustomization/gitops-gen-tenants")),
    Case("DATA010", "destination-from-file-content", "controllers", _template(
        lambda t: t["destination"].update(server="https://{{ .cluster }}.evil.example.com"))),
    Case("DATA010", "project-from-path", "controllers", _template(lambda t: t.update(project="{{ .path.basename }}"))),
    Case("DATA010", "revision-from-parameter", "controllers", _template(
        lambda t: t["source"].update(targetRevision="{{ .revision }}"))),
    Case("DATA010", "template-patch", "controllers", _appset(
        lambda s: s.update(templatePatch="spec:\n  project: '{{ .project }}'\n"))),
    Case("DATA002", "platform-namespace-prunable", "controllers", _flux_edit(
        PLATFORM_GLOBEX, "globex", lambda d: d["metadata"]["annotations"].pop("kustomize.toolkit.fluxcd.io/prune"),
        "Namespace/globex")),
    Case("ISO010", "platform-namespace-enforce-missing", "controllers", _flux_edit(
        PLATFORM_GLOBEX, "globex", lambda d: d["metadata"]["labels"].pop("pod-security.kubernetes.io/enforce"),
        "Namespace/globex")),
    Case("ISO013", "tenant-runs-as-kustomize-controller", "controllers", _flux_edit(
        FLUX_GLOBEX, "globex", lambda d: d["spec"].update(serviceAccountName="kustomize-controller"),
        "Kustomization/globex")),
    Case("ISO013", "tenant-runs-as-the-default-account", "controllers", _flux_edit(
        FLUX_GLOBEX, "globex", lambda d: d["spec"].pop("serviceAccountName"), "Kustomization/globex")),
]


@pytest.mark.parametrize("case", CONTROLLER_CASES, ids=lambda c: c.id)
def test_controller_rule_fires(case: Case, fresh: tuple[Path, Estate, Rendered], estate_copy: Path) -> None:
    estate = fresh[1]
    assert checks.check_controllers(estate_copy, estate) == []
    obj = case.mutate(estate_copy)
    found = checks.check_controllers(estate_copy, estate)
    assert {f.rule for f in found} == {case.rule}, show(found)
    assert {f.obj for f in found} == {obj}
    for f in found:
        assert f.path in (APPSET, FLUX_GLOBEX, FLUX_SYNC, PLATFORM_GLOBEX) and f.severity == RULES[case.rule].severity
        assert f.cluster == f.path.split("/")[1]
    if case.rule == "DATA005":
        assert all("delete every Application" in f.message for f in found)


def test_generators_of_other_repositories_are_not_evaluated(fresh: tuple[Path, Estate, Rendered],
                                                            estate_copy: Path) -> None:
    _appset(lambda s: _git(s).update(repoURL="https://git.example.com/other.git",
                                     files=[{"path": "nowhere/*.yaml"}]))(estate_copy)
    assert checks.check_controllers(estate_copy, fresh[1]) == []


def test_globbing() -> None:
    assert greedy_match("clusters/a/tenants/*.yaml", "clusters/a/tenants/x/y.yaml")
    assert not exact_match("clusters/a/tenants/*.yaml", "clusters/a/tenants/x/y.yaml")
    assert exact_match("clusters/a/tenants/*.yaml", "clusters/a/tenants/y.yaml")
    assert greedy_match("clusters/a/tenants", "clusters/a/tenants/y.yaml"), "a plain pathspec names a directory"
    assert not greedy_match("clusters/a/tenants/*.yaml", "clusters/a/tenants/README.md")


def test_compiled_patterns_answer_as_the_matchers_do() -> None:
    # _matching compiles each pattern once; every answer must be the plain matcher's.
    patterns = ["clusters/a/tenants/*.yaml", "/clusters/a/tenants/*.yaml", "clusters/*/tenants/[^x]*.yaml",
                "clusters/a/tenants", "clusters/a/tenants/", "overlays/*/a", "overlays/?/a/*", "*",
                "clusters/a/tenants/[a-c]?.yaml", "overlays/**/kustomization.yaml"]
    paths = ["clusters/a/tenants/y.yaml", "clusters/a/tenants/x/y.yaml", "clusters/a/tenants/xy.yaml",
             "clusters/b/tenants/ab.yaml", "clusters/a/tenants/README.md", "clusters/a/tenantsx/y.yaml",
             "overlays/t/a", "overlays/t/a/k.yaml", "overlays/tt/a", "overlays/t/u/a/kustomization.yaml",
             "top.yaml", "clusters/a/tenants/b1.yaml"]
    for match in (greedy_match, exact_match):
        for pattern in patterns:
            compiled = _matcher(pattern, match)
            assert [compiled(p) for p in paths] == [match(pattern, p) for p in paths], (match.__name__, pattern)
            assert _matching([pattern], [], paths, match) == {p for p in paths if match(pattern, p)}
    assert _matching(["clusters/*/tenants/*.yaml"], ["clusters/b/tenants/*"], paths, exact_match) == {
        "clusters/a/tenants/y.yaml", "clusters/a/tenants/xy.yaml", "clusters/a/tenants/b1.yaml"}
