"""The controller level of a diff, computed offline: the Applications the ApplicationSets generate and the
Flux Kustomizations, on commits read from git objects and on the work tree."""

from __future__ import annotations

import shutil
from pathlib import Path

import pygit2
import pytest

from gitops_gen import gitrepo
from gitops_gen.checks.isolation import exact_match, greedy_match
from gitops_gen.commands.generate import generate as generate_estate
from gitops_gen.commands.tenants import add_tenant
from gitops_gen.errors import GitError, UserError
from gitops_gen.estate.model import HostRoute, Tenant
from gitops_gen.review import gotemplate
from gitops_gen.review.appset import (
    Application,
    ControllerChange,
    diff_controllers,
    expand_applicationsets,
    flux_kustomizations,
    generated_applications,
)
from gitops_gen.review.sides import CommitSide, WorkTreeSide, materialize
from tests.conftest import REPO_URL, make_estate, snapshot

APPSET = "clusters/eu-west-1/argocd/applicationset.yaml"


def repo_of(root: Path) -> pygit2.Repository:
    return pygit2.Repository(str(root))


def head_id(root: Path) -> str:
    return str(repo_of(root).head.target)


def commit(root: Path, paths: list[str], message: str, branch: str) -> str:
    """Commit the work tree's content of exactly ``paths`` (deleted ones included) on a new branch."""
    return gitrepo.commit_paths(repo_of(root), paths, message, branch)


def expected_app(tenant: str) -> Application:
    return Application(
        name=f"{tenant}-eu-west-1", project=tenant, repo_url=REPO_URL, target_revision="main",
        path=f"overlays/{tenant}/eu-west-1", destination_server="https://10.0.0.1:6443", destination_name=None,
        namespace=tenant, sync_options=("PruneLast=true", "ServerSideApply=true"), automated="prune+selfHeal",
        appset=APPSET, tenant=tenant, cluster="eu-west-1", applications_sync="create-update")


def write(root: Path, rel: str, text: str) -> None:
    (root / rel).parent.mkdir(parents=True, exist_ok=True)
    (root / rel).write_text(text)


# --------------------------------------------------------------------------- the estate gitops-gen writes

def test_fresh_estate_expands_to_the_expected_applications(estate: Path) -> None:
    for side in (CommitSide(repo_of(estate), "HEAD"), WorkTreeSide(estate)):
        expansion = expand_applicationsets(side)
        assert expansion.applications == {f"argocd/{t}-eu-west-1": expected_app(t) for t in ("acme", "globex")}, \
            side.label
        assert expansion.unexpanded == ()
        flux = flux_kustomizations(side)
        assert sorted(flux) == ["flux-system/gitops-gen-tenants", "flux-system/globex"]
        globex = flux["flux-system/globex"]
        assert (globex.path, globex.target_namespace, globex.prune, globex.service_account, globex.source,
                globex.tenant, globex.cluster) == ("./overlays/globex/us-east-1", "globex", True,
                                                   "kustomize-controller", "GitRepository/gitops-gen", "globex",
                                                   "us-east-1")
    assert CommitSide(repo_of(estate), "HEAD").files() == WorkTreeSide(estate).files()


def test_adding_a_tenant_adds_its_application_and_kustomization(estate: Path) -> None:
    base = head_id(estate)
    add_tenant(estate, Tenant("initech", ("eu-west-1", "us-east-1"),
                                      (HostRoute("initech.wfg.example.com", "eu-west-1"),)), branch="add-initech")
    repo = repo_of(estate)
    changes = diff_controllers(CommitSide(repo, base), CommitSide(repo, "add-initech"))
    assert [(c.kind, c.key, c.change, c.tenant, c.cluster) for c in changes] == [
        ("Application", "argocd/initech-eu-west-1", "added", "initech", "eu-west-1"),
        ("Kustomization", "flux-system/initech", "added", "initech", "us-east-1"),
    ]
    app, kustomization = (dict((f, new) for f, _old, new in c.fields) for c in changes)
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
    decl.write_text(decl.read_text().replace("  - cluster: eu-west-1\n", "  - cluster: eu-west-1\n"
                                                                         "  - cluster: us-east-1\n", 1))
    result = generate_estate(estate)
    commit(estate, [*result.plan.paths, "overlays/acme/tenant.yaml"], "Place acme on us-east-1", "acme-us")
    repo = repo_of(estate)
    changes = diff_controllers(CommitSide(repo, base), CommitSide(repo, "acme-us"))
    assert [(c.kind, c.key, c.change, c.tenant, c.cluster) for c in changes] == [
        ("Kustomization", "flux-system/acme", "added", "acme", "us-east-1")]
    assert ("path", "", "./overlays/acme/us-east-1") in changes[0].fields


def test_removing_a_tenant_removes_its_application_and_kustomization(estate: Path) -> None:
    base = head_id(estate)
    removed = [p for p in WorkTreeSide(estate).files()
               if p.startswith("overlays/globex/") or p.endswith("/tenants/globex.yaml")
               or p == "argocd/projects/globex.yaml"]
    shutil.rmtree(estate / "overlays/globex")
    for p in removed:
        (estate / p).unlink(missing_ok=True)
    commit(estate, removed, "Remove tenant globex", "remove-globex")
    repo = repo_of(estate)
    changes = diff_controllers(CommitSide(repo, base), CommitSide(repo, "remove-globex"))
    assert [(c.kind, c.key, c.change, c.tenant, c.cluster) for c in changes] == [
        ("Application", "argocd/globex-eu-west-1", "removed", "globex", "eu-west-1"),
        ("Kustomization", "flux-system/globex", "removed", "globex", "us-east-1"),
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


# --------------------------------------------------------------------------- Argo CD's generators

def test_greedy_globbing_matches_a_file_in_a_subdirectory(estate: Path) -> None:
    """Argo CD's default globbing is greedy (Generators-Git-File-Globbing): 'tenants/*.yaml' matches
    'tenants/sub/x.yaml' too, which Go's path.Match would not."""
    pattern, sub = "clusters/eu-west-1/tenants/*.yaml", "clusters/eu-west-1/tenants/sub/x.yaml"
    assert greedy_match(pattern, sub) and not exact_match(pattern, sub)
    base = head_id(estate)
    write(estate, sub, "tenant: x\n")
    commit(estate, [sub], "A placement in a subdirectory", "sub")
    repo = repo_of(estate)
    for side in (CommitSide(repo, "sub"), WorkTreeSide(estate)):
        app = generated_applications(side)["argocd/x-eu-west-1"]
        assert (app.project, app.path, app.namespace, app.tenant) == ("x", "overlays/x/eu-west-1", "x", "x")
    changes = diff_controllers(CommitSide(repo, base), CommitSide(repo, "sub"))
    assert [(c.key, c.change) for c in changes] == [("argocd/x-eu-west-1", "added")]
    # A file named like a tenant in a subdirectory generates a second Application of the same name:
    # Argo CD then refuses the whole ApplicationSet.
    write(estate, "clusters/eu-west-1/tenants/sub/acme.yaml", "tenant: acme\n")
    with pytest.raises(UserError, match=r"applicationset\.yaml: ApplicationSet argocd/workflowgen-eu-west-1: "
                                        r"contains applications with duplicate name: acme-eu-west-1"):
        generated_applications(WorkTreeSide(estate))


LIST_AND_MATRIX = """\
apiVersion: argoproj.io/v1alpha1
kind: ApplicationSet
metadata: {name: teams, namespace: argocd}
spec:
  goTemplate: true
  goTemplateOptions: ["missingkey=error"]
  generators:
  - list:
      elements:
      - {team: red, replicas: 1000000}
      - {team: blue, replicas: 3}
  - matrix:
      generators:
      - git:
          repoURL: https://git.example.com/platform/estate.git/
          revision: main
          directories:
          - path: overlays/*
          - path: overlays/globex
            exclude: true
      - list:
          elements: [{env: dev}, {env: prod}]
  - matrix:
      generators:
      - git:
          repoURL: https://git.example.com/platform/estate
          revision: main
          pathParamPrefix: placement
          files: [{path: "clusters/eu-*/tenants/*.yaml"}]
      - list:
          elements:
          - {where: '{{ .cluster }}/{{ trimSuffix ".yaml" .placement.path.filename }}'}
  - merge:
      mergeKeys: [team]
      generators:
      - list: {elements: [{team: green, size: s}, {team: pink, size: s}]}
      - list: {elements: [{team: green, size: xl}, {team: grey, size: xl}]}
  - clusters: {}
  - git:
      repoURL: https://git.example.com/other/repo.git
      revision: main
      files: [{path: "*.yaml"}]
  template:
    metadata:
      name: 'x-{{ .team | default "none" }}'
    spec:
      project: default
      source:
        repoURL: https://git.example.com/platform/estate.git
        targetRevision: main
        path: 'apps/{{ .replicas }}'
      destination: {name: in-cluster, namespace: teams}
"""


def test_list_matrix_and_merge_generators_expand_as_argo_cd_documents(estate: Path) -> None:
    text = LIST_AND_MATRIX
    # Generator-level templates: the matrix entries name their Applications themselves.
    text = text.replace("  - matrix:\n      generators:\n      - git:\n          repoURL: https://git.example.com/"
                        "platform/estate.git/",
                        "  - matrix:\n      template:\n        metadata: {name: '{{ .path.basename }}-{{ .env }}'}\n"
                        "        spec: {source: {path: '{{ .path.path }}'}}\n"
                        "      generators:\n      - git:\n          repoURL: https://git.example.com/"
                        "platform/estate.git/")
    text = text.replace("  - matrix:\n      generators:\n      - git:\n          repoURL: https://git.example.com/"
                        "platform/estate\n",
                        "  - matrix:\n      template:\n        metadata: {name: 'm-{{ .tenant }}-{{ .cluster }}'}\n"
                        "        spec: {source: {path: '{{ .where }}'}}\n"
                        "      generators:\n      - git:\n          repoURL: https://git.example.com/"
                        "platform/estate\n")
    text = text.replace("  - merge:\n",
                        "  - merge:\n      template:\n        spec: {source: {path: 'size/{{ .size }}'}}\n")
    write(estate, "argocd/teams.yaml", text)
    expansion = expand_applicationsets(WorkTreeSide(estate))
    teams = {k: v for k, v in expansion.applications.items() if v.appset == "argocd/teams.yaml"}
    assert {k: v.path for k, v in teams.items()} == {
        # list: numbers are float64 as in Argo CD, printed by Go's %v
        "argocd/x-red": "apps/1e+06",
        "argocd/x-blue": "apps/3",
        # matrix of git directories (excluding one) and a list; the generator's template wins
        "argocd/acme-dev": "overlays/acme",
        "argocd/acme-prod": "overlays/acme",
        # matrix whose second child reads the first's parameters (pathParamPrefix keeps them apart)
        "argocd/m-acme-eu-west-1": "eu-west-1/acme",
        "argocd/m-globex-eu-west-1": "eu-west-1/globex",
        # merge: the base's sets, overridden by matching ones; 'grey' matches no base set
        "argocd/x-green": "size/xl",
        "argocd/x-pink": "size/s",
    }
    app = teams["argocd/acme-dev"]
    assert (app.project, app.destination_name, app.destination_server, app.namespace, app.automated) == \
        ("default", "in-cluster", None, "teams", "manual")
    # The clusters generator and the other repository's git generator are skipped, and say why.
    assert [(u.appset, u.where) for u in expansion.unexpanded] == [
        ("argocd/teams", "spec.generators[4]"), ("argocd/teams", "spec.generators[5]")]
    assert "clusters generator" in expansion.unexpanded[0].reason
    assert "https://git.example.com/other/repo.git" in expansion.unexpanded[1].reason


def test_fasttemplate_applicationset(estate: Path) -> None:
    write(estate, "argocd/legacy.yaml", """\
apiVersion: argoproj.io/v1alpha1
kind: ApplicationSet
metadata: {name: legacy, namespace: argocd}
spec:
  generators:
  - git:
      repoURL: https://git.example.com/platform/estate.git
      revision: HEAD
      directories: [{path: "overlays/*/eu-west-1"}]
      values: {cluster: "{{path.basename}}"}
  - list:
      elements: [{name: one, values: {where: here}}]
  template:
    metadata: {name: 'legacy-{{path[1]}}{{name}}'}
    spec:
      project: '{{ unknown }}'
      source: {repoURL: x, targetRevision: main, path: '{{path}}{{values.where}}/{{values.cluster}}'}
      destination: {server: https://kubernetes.default.svc, namespace: '{{path.basenameNormalized}}'}
      syncPolicy: {automated: {prune: true}, syncOptions: [CreateNamespace=true]}
""")
    apps = {k: v for k, v in generated_applications(WorkTreeSide(estate)).items() if v.appset == "argocd/legacy.yaml"}
    assert {k: (v.path, v.namespace, v.project) for k, v in apps.items()} == {
        "argocd/legacy-acme{{name}}": ("overlays/acme/eu-west-1{{values.where}}/eu-west-1", "eu-west-1",
                                       "{{ unknown }}"),
        "argocd/legacy-globex{{name}}": ("overlays/globex/eu-west-1{{values.where}}/eu-west-1", "eu-west-1",
                                         "{{ unknown }}"),
        "argocd/legacy-{{path[1]}}one": ("{{path}}here/{{values.cluster}}", "{{path.basenameNormalized}}",
                                         "{{ unknown }}"),
    }
    assert {v.automated for v in apps.values()} == {"prune"}


def test_missing_key_with_missingkey_error_names_the_file_and_the_key(estate: Path) -> None:
    appset = """\
apiVersion: argoproj.io/v1alpha1
kind: ApplicationSet
metadata: {name: broken, namespace: argocd}
spec:
  goTemplate: true
  goTemplateOptions: ["missingkey=error"]
  generators:
  - git:
      repoURL: https://git.example.com/platform/estate.git
      revision: main
      files: [{path: "clusters/eu-west-1/tenants/*.yaml"}]
  template:
    metadata: {name: '{{ .tenant }}-{{ .tenantName }}'}
    spec: {project: default, destination: {name: in-cluster, namespace: x}}
"""
    write(estate, "clusters/eu-west-1/argocd/broken.yaml", appset)
    with pytest.raises(UserError) as info:
        generated_applications(WorkTreeSide(estate))
    message = str(info.value)
    assert "clusters/eu-west-1/argocd/broken.yaml" in message and "argocd/broken" in message
    assert "'tenantName'" in message and "missingkey=error" in message
    assert getattr(info.value, "key", None) == "tenantName"
    # Without missingkey=error, Go prints '<no value>' and Argo CD goes on.
    write(estate, "clusters/eu-west-1/argocd/broken.yaml", appset.replace('  goTemplateOptions: ["missingkey=error"]\n',
                                                                           ""))
    names = sorted(a.name for a in generated_applications(WorkTreeSide(estate)).values())
    assert names == ["acme-<no value>", "acme-eu-west-1", "globex-<no value>", "globex-eu-west-1"]


# --------------------------------------------------------------------------- the Go template subset

@pytest.mark.parametrize(("template", "expected"), [
    ('{{ trimSuffix ".yaml" .path.filename }}', "acme"),
    ('{{ trimPrefix "ac" .path.filename }}', "me.yaml"),
    ("{{ index .path.segments 1 }}", "eu-west-1"),
    ("{{ .path.filename | lower | upper }}", "ACME.YAML"),
    ('{{ replace "-" "_" (index .path.segments 1) }}', "eu_west_1"),
    ('{{ default "none" .size }}|{{ default "none" .name }}', "none|n"),
    ("a  {{- .name -}}  b", "anb"),
    ("{{/* a comment */}}{{ .n }} {{ .f }} {{ .big }}", "3 0.5 1.234567e+06"),
    ('{{ if eq .name "n" }}yes{{ else if .name }}maybe{{ else }}no{{ end }}', "yes"),
    ("{{ range $i, $s := .path.segments }}{{ if $i }}/{{ end }}{{ $s }}{{ end }}", "clusters/eu-west-1"),
    ("{{ with .missing }}x{{ else }}{{ .name }}{{ end }}", "n"),
    ('{{ $t := .path.filename | trimSuffix ".yaml" }}{{ $t }}-{{ len $t }}', "acme-4"),
    ('{{ printf "%s-%d" .name 7 }}', "n-7"),
    ('{{ normalize "Team_A.Blue" }}', "team-a.blue"),
    ("{{ .missing }}", "<no value>"),
])
def test_go_template_subset(template: str, expected: str) -> None:
    data = {"path": {"filename": "acme.yaml", "segments": ["clusters", "eu-west-1"]}, "name": "n", "n": 3.0,
            "f": 0.5, "big": 1234567.0, "size": ""}
    assert gotemplate.render(template, data) == expected


def test_go_template_errors() -> None:
    with pytest.raises(gotemplate.MissingKeyError, match='no entry for key "nope"'):
        gotemplate.render("{{ .nope }}", {}, "error")
    with pytest.raises(gotemplate.TemplateError, match="expected string"):
        gotemplate.render("{{ .nope | lower }}", {})
    with pytest.raises(gotemplate.UnsupportedError, match="toJson"):
        gotemplate.render("{{ toJson . }}", {})
    with pytest.raises(gotemplate.TemplateError, match="index out of range"):
        gotemplate.render("{{ index .l 5 }}", {"l": ["a"]})
    with pytest.raises(gotemplate.TemplateError):
        gotemplate.render("{{ if .x }}unclosed", {"x": True})


# --------------------------------------------------------------------------- the sides

def test_commit_side_never_touches_the_work_tree(estate: Path, tmp_path: Path) -> None:
    add_tenant(estate, Tenant("initech", ("us-east-1",)), branch="add-initech")
    # A dirty work tree: a modified file and an untracked one.
    write(estate, APPSET, (estate / APPSET).read_text() + "# edited\n")
    write(estate, "notes.txt", "untracked\n")
    before = snapshot(estate)
    repo = repo_of(estate)
    base, head = CommitSide(repo, "setup-globex"), CommitSide(repo, "add-initech")
    assert head.label.startswith("add-initech (") and len(head.label) == len("add-initech (1234567)")
    assert "overlays/initech/us-east-1/kustomization.yaml" in head.files()
    assert base.read("overlays/initech/tenant.yaml") is None
    assert head.read(APPSET) == repo.revparse_single(f"add-initech:{APPSET}").peel(pygit2.Blob).data
    assert head.read("notes.txt") is None and head.read("../outside") is None and head.read(".git/HEAD") is None
    changes = diff_controllers(base, head)
    assert [(c.key, c.change) for c in changes] == [("flux-system/initech", "added")]
    out = tmp_path / "materialized"
    materialize(head, ["overlays/initech/", "base/", "gitops-gen.yaml", "no/such/file"], out)
    assert (out / "overlays/initech/us-east-1/kustomization.yaml").read_bytes() == \
        head.read("overlays/initech/us-east-1/kustomization.yaml")
    assert (out / "base").is_dir() and (out / "gitops-gen.yaml").is_file() and not (out / "overlays/acme").exists()
    with pytest.raises(ValueError, match="inside the work tree"):
        materialize(head, ["gitops-gen.yaml"], estate / "scratch")
    assert snapshot(estate) == before


def test_commit_side_errors_and_prefix(tmp_path: Path) -> None:
    top = tmp_path / "repo"
    pygit2.init_repository(str(top), initial_head="main")
    estate = make_estate(top / "estate")
    repo = repo_of(top)
    with pytest.raises(GitError, match="'no-such-branch' names no commit"):
        CommitSide(repo, "no-such-branch")
    side = CommitSide(repo, "HEAD", prefix="estate")
    assert side.files() == WorkTreeSide(estate).files()
    assert sorted(generated_applications(side)) == ["argocd/acme-eu-west-1", "argocd/globex-eu-west-1"]
    # The first commit predates the estate's clusters: an empty controller level, not an error.
    first = list(repo.walk(repo.head.target))[-1]
    assert generated_applications(CommitSide(repo, str(first.id), prefix="estate")) == {}
    assert CommitSide(repo, "HEAD", prefix="nowhere").files() == []


def test_selectors_and_matrix_conflicts(estate: Path) -> None:
    write(estate, "argocd/selected.yaml", """\
apiVersion: argoproj.io/v1alpha1
kind: ApplicationSet
metadata: {name: selected, namespace: argocd}
spec:
  goTemplate: true
  generators:
  - list:
      elements:
      - {name: a, env: prod, tier: {level: "1"}}
      - {name: b, env: dev, tier: {level: "1"}}
      - {name: c, env: prod, tier: {level: "2"}}
    selector:
      matchLabels: {env: prod}
      matchExpressions: [{key: tier.level, operator: NotIn, values: ["2"]}]
  template:
    metadata: {name: 'sel-{{ .name }}'}
    spec: {project: default, destination: {name: in-cluster, namespace: x}}
""")
    apps = generated_applications(WorkTreeSide(estate))
    assert [k for k in apps if k.startswith("argocd/sel-")] == ["argocd/sel-a"]
    # Without goTemplate, two git generators in a matrix both set 'path': Argo CD fails (Generators-Matrix,
    # "Two Git Generators Using pathParamPrefix").
    write(estate, "argocd/selected.yaml", """\
apiVersion: argoproj.io/v1alpha1
kind: ApplicationSet
metadata: {name: clash, namespace: argocd}
spec:
  generators:
  - matrix:
      generators:
      - git: {repoURL: "https://git.example.com/platform/estate.git", revision: main,
              directories: [{path: "overlays/*"}]}
      - git: {repoURL: "https://git.example.com/platform/estate.git", revision: main,
              directories: [{path: "clusters/*"}]}
  template:
    metadata: {name: 'clash-{{path.basename}}'}
    spec: {project: default, destination: {name: in-cluster, namespace: x}}
""")
    with pytest.raises(UserError, match=r"argocd/selected\.yaml: ApplicationSet argocd/clash: .*duplicate key path"):
        generated_applications(WorkTreeSide(estate))
