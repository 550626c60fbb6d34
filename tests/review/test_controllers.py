"""The controller level of a diff on the estate gitops-gen writes: Applications and Flux Kustomizations added,
removed or changed between commits read from git objects and the work tree."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

from gitops_gen.commands.generate import generate as generate_estate
from gitops_gen.commands.tenants import add_tenant
from gitops_gen.estate.model import HostRoute, Tenant
from gitops_gen.review.appset import expand_applicationsets
from gitops_gen.review.controllers import ControllerChange, diff_controllers
from gitops_gen.review.fluxobjects import flux_kustomizations
from gitops_gen.review.sides import CommitSide, WorkTreeSide
from tests.review.helpers import APPSET, commit, expected_app, head_id, repo_of


def test_fresh_estate_expands_to_the_expected_applications(estate: Path) -> None:
    for side in (CommitSide(repo_of(estate), "HEAD"), WorkTreeSide(estate)):
        expansion = expand_applicationsets(side)
        assert expansion.applications == {f"argocd/{t}-eu-west-1": expected_app(t) for t in ("acme", "globex")}, \
            side.label
        assert expansion.unexpanded == ()
        flux = flux_kustomizations(side)
        assert sorted(flux) == ["flux-system/gitops-gen-tenants", "flux-system/globex",
                                "flux-system/globex-platform"]
        globex = flux["flux-system/globex"]
        assert (globex.path, globex.target_namespace, globex.prune, globex.service_account, globex.source,
                globex.tenant, globex.cluster) == ("./overlays/globex/us-east-1", "globex", True,
                                                   "globex-reconciler", "GitRepository/gitops-gen", "globex",
                                                   "us-east-1")
        platform = flux["flux-system/globex-platform"]
        assert (platform.path, platform.service_account, platform.tenant) == (
            "./clusters/us-east-1/platform/globex", "kustomize-controller", "globex")
    assert CommitSide(repo_of(estate), "HEAD").files() == WorkTreeSide(estate).files()


def test_adding_a_tenant_adds_its_application_and_kustomization(estate: Path) -> None:
    base = head_id(estate)
    initech = Tenant("initech", ("eu-west-1", "us-east-1"), (HostRoute("initech.wfg.example.com", "eu-west-1"),))
    add_tenant(estate, initech, branch="add-initech")
    repo = repo_of(estate)
    changes = diff_controllers(CommitSide(repo, base), CommitSide(repo, "add-initech"))
    assert [(c.kind, c.key, c.change, c.tenant, c.cluster) for c in changes] == [
        ("Application", "argocd/initech-eu-west-1", "added", "initech", "eu-west-1"),
        ("Kustomization", "flux-system/initech", "added", "initech", "us-east-1"),
        ("Kustomization", "flux-system/initech-platform", "added", "initech", "us-east-1"),
    ]
    app, kustomization, _ = (dict((f, new) for f, _old, new in c.fields) for c in changes)
    assert all(old == "" for c in changes for _f, old, _new in c.fields)
    assert app["source.path"] == "overlays/initech/eu-west-1"
    assert app["destination.server"] == "https://10.0.0.1:6443"
    assert app["destination.namespace"] == app["project"] == "initech"
    assert kustomization["path"] == "./overlays/initech/us-east-1"
    assert kustomization["targetNamespace"] == "initech"
    # Nothing changes for the tenants already there.
    assert diff_controllers(CommitSide(repo, base), CommitSide(repo, base)) == []


def test_placing_a_tenant_on_a_second_cluster_adds_a_kustomization(estate: Path) -> None:
    base = head_id(estate)
    decl = estate / "overlays/acme/tenant.yaml"
    decl.write_text(re.sub(r"(  - cluster: eu-west-1\n(    .*\n)*)", r"\1  - cluster: us-east-1\n", decl.read_text(),
                           count=1))
    result = generate_estate(estate)
    commit(estate, [*result.plan.paths, "overlays/acme/tenant.yaml"], "Place acme on us-east-1", "acme-us")
    repo = repo_of(estate)
    changes = diff_controllers(CommitSide(repo, base), CommitSide(repo, "acme-us"))
    assert [(c.kind, c.key, c.change, c.tenant, c.cluster) for c in changes] == [
        ("Kustomization", "flux-system/acme", "added", "acme", "us-east-1"),
        ("Kustomization", "flux-system/acme-platform", "added", "acme", "us-east-1")]
    assert ("path", "", "./overlays/acme/us-east-1") in changes[0].fields


def test_removing_a_tenant_removes_its_application_and_kustomization(estate: Path) -> None:
    base = head_id(estate)
    removed = [p for p in WorkTreeSide(estate).files()
               if p.startswith(("overlays/globex/", "clusters/us-east-1/platform/globex/"))
               or p.endswith("/tenants/globex.yaml") or p == "argocd/projects/globex.yaml"]
    shutil.rmtree(estate / "overlays/globex")
    for p in removed:
        (estate / p).unlink(missing_ok=True)
    commit(estate, removed, "Remove tenant globex", "remove-globex")
    repo = repo_of(estate)
    changes = diff_controllers(CommitSide(repo, base), CommitSide(repo, "remove-globex"))
    assert [(c.kind, c.key, c.change, c.tenant, c.cluster) for c in changes] == [
        ("Application", "argocd/globex-eu-west-1", "removed", "globex", "eu-west-1"),
        ("Kustomization", "flux-system/globex", "removed", "globex", "us-east-1"),
        ("Kustomization", "flux-system/globex-platform", "removed", "globex", "us-east-1"),
    ]
    app = {f: (old, new) for f, old, new in changes[0].fields}
    assert app["source.path"] == ("overlays/globex/eu-west-1", "")
    # create-update: Argo CD keeps the Application; the change says so.
    assert app["applicationsSync"] == ("create-update", "")


def test_hand_edited_sync_options_change_every_application(estate: Path) -> None:
    base = head_id(estate)
    path = estate / APPSET
    path.write_text(path.read_text().replace("        - ServerSideApply=true\n",
                                             "        - ServerSideApply=true\n        - Replace=true\n"))
    repo = repo_of(estate)
    expected = [
        ControllerChange("Application", f"argocd/{t}-eu-west-1", "changed", t, "eu-west-1",
                         (("syncPolicy.syncOptions", "PruneLast=true, ServerSideApply=true",
                           "PruneLast=true, ServerSideApply=true, Replace=true"),))
        for t in ("acme", "globex")]
    # The work tree as the head side, then the same change committed.
    assert diff_controllers(CommitSide(repo, base), WorkTreeSide(estate)) == expected
    commit(estate, [APPSET], "More sync options", "sync-options")
    assert diff_controllers(CommitSide(repo, base), CommitSide(repo, "sync-options")) == expected
