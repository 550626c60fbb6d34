"""Data-safety rules (DATA001-DATA007): protection of data-bearing objects, and the controller objects."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from gitops_gen import checks
from gitops_gen.checks import RULES
from gitops_gen.checks.data import exact_match, greedy_match
from gitops_gen.estate.load import Estate
from tests.checks.cases import (
    ACME,
    APPSET,
    DB,
    FLUX_GLOBEX,
    GLOBEX_US,
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


def _vct_unprotected(d: Docs) -> str:
    del one(d, "StatefulSet")["spec"]["volumeClaimTemplates"][0]["metadata"]["annotations"][
        "argocd.argoproj.io/sync-options"]
    return f"StatefulSet/{DB}"


DATA_CASES = [
    Case("DATA001", "namespace-prune-only", ACME, lambda d: set_to(
        one(d, "Namespace")["metadata"]["annotations"], "argocd.argoproj.io/sync-options", "Prune=false",
        "Namespace/acme")),
    Case("DATA001", "volume-claim-template", ACME, _vct_unprotected),
    Case("DATA002", "pvc-prunable", GLOBEX_US, lambda d: pop_from(
        one(d, "PersistentVolumeClaim")["metadata"]["annotations"], "kustomize.toolkit.fluxcd.io/prune",
        "PersistentVolumeClaim/workflowgen-data")),
    Case("DATA002", "database-prunable", ACME, lambda d: set_to(
        one(d, "StatefulSet")["metadata"]["annotations"], "kustomize.toolkit.fluxcd.io/prune", "Disabled",
        f"StatefulSet/{DB}")),
]


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
    edit_yaml(root, FLUX_GLOBEX, lambda d: d["spec"].update(path="./overlays/globex/us-east-2"))
    return "Kustomization/globex"


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
        assert f.path in (APPSET, FLUX_GLOBEX) and f.severity == RULES[case.rule].severity
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
