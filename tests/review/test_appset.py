"""ApplicationSet expansion offline, as Argo CD documents its generators: git files and directories, list,
matrix and merge, greedy globbing, Go templates and fasttemplate, selectors."""

from __future__ import annotations

from pathlib import Path

import pytest

from gitops_gen.checks.data import exact_match, greedy_match
from gitops_gen.errors import UserError
from gitops_gen.review.appset import expand_applicationsets, generated_applications
from gitops_gen.review.controllers import diff_controllers
from gitops_gen.review.sides import CommitSide, WorkTreeSide
from tests.review.helpers import commit, head_id, repo_of, write


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
