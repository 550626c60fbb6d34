"""Files ``gitops-gen init`` writes once; people own and edit them afterwards."""

from __future__ import annotations

from gitops_gen.estate import layout
from gitops_gen.estate.model import API_VERSION, EstateConfig


def config_text(config: EstateConfig) -> str:
    d = config.defaults
    secrets_store = f"    kind: {config.secret_store_kind}\n    name: {config.secret_store_name}\n"
    annotations = "".join(f'    {k}: "{v}"\n' for k, v in config.ingress_annotations.items())
    return f"""\
# gitops-gen estate configuration. Edit it, then run 'gitops-gen generate' to update derived files.
apiVersion: {API_VERSION}
kind: Estate
repo:
  # The URL Argo CD and Flux clone, and the branch they follow.
  url: {config.repo_url}
  revision: {config.revision}
workflowgen:
  # Each cluster gets the image tag <version>-win-<its Windows build>.
  version: {config.workflowgen_version}
  databaseImage: {config.database_image}
  databaseTag: {config.database_tag}
ingress:
  className: {config.ingress_class}
  # Web pods accept traffic only from this namespace.
  controllerNamespace: {config.ingress_namespace}
  # Must redirect HTTP to HTTPS for the ingress controller in use.
  annotations:
{annotations}  # Largest request body (file attachments); ingress-nginx's own default, 1m, answers 413 to most
  # uploads. Written into the annotation below on every Ingress; a tenant.yaml may set its own bodySize.
  bodySize: {config.body_size or '""'}
  bodySizeAnnotation: {config.body_size_annotation}
certManager:
  issuer: {config.issuer}
  issuerKind: {config.issuer_kind}
  # How the issuer proves the hosts: http01 or dns01. With http01, cert-manager runs its solver pod,
  # Service and Ingress in the tenant's namespace: gitops-gen admits the ingress controller to the solver
  # (TCP 8089) and leaves room for it in the quota, and the issuer must set
  #   solvers: [{{http01: {{ingress: {{ingressClassName: {config.ingress_class}, serviceType: ClusterIP}}}}}}]
  # because the default serviceType, NodePort, is forbidden by every tenant's quota (services.nodeports: 0).
  challenge: {config.challenge}
secrets:
  # external-secrets: ExternalSecrets read each placement's own key, <keyPrefix>/<tenant>/<cluster>, from the
  #   store below; pre-provisioned: the Secrets workflowgen-app, workflowgen-license and workflowgen-database
  #   exist in each tenant namespace already. Never put a secret value in git.
  mode: {config.secrets_mode}
  store:
{secrets_store}    # A ClusterSecretStore answers ExternalSecrets of every namespace. Recommended instead: one
    # SecretStore per tenant namespace, whose credentials reach only that tenant's keys. Set kind:
    # SecretStore and its spec here; '{{tenant}}', '{{cluster}}' and '{{namespace}}' are filled in, e.g.
    #   spec:
    #     provider:
    #       vault:
    #         server: https://vault.example.com
    #         path: workflowgen
    #         auth: {{kubernetes: {{mountPath: kubernetes-{{cluster}}, role: wfg-{{tenant}}}}}}
  keyPrefix: {config.secret_key_prefix}
storage:
  # ReadWriteMany class of the shared C:\\wfgen\\data volume, for clusters whose cluster.yaml sets none:
  # azurefile-csi (AKS), efs-sc (EKS, EFS CSI driver), filestore (GKE Filestore CSI), nfs-csi, cephfs.
  # Empty means the cluster's default class, usually a ReadWriteOnce disk on which WorkflowGen's pods stay
  # Pending: 'gitops-gen validate' reports that (DATA008). Volumes grow (a class with allowVolumeExpansion);
  # they never shrink, and a claim's class never changes once applied.
  dataClass: "{config.data_storage_class or ""}"
  # Class of the in-cluster database's volume (ReadWriteOnce), e.g. managed-csi, gp3, premium-rwo.
  databaseClass: "{config.database_storage_class or ""}"
# Destinations every tenant's WorkflowGen pods may reach besides DNS and its database, on top of each
# tenant.yaml's own egress list: mail relays, webhook receivers. Default-deny blocks everything else.
#   - cidr: 10.50.0.25/32
#     port: 587
#     description: SMTP relay
egress: []
argocd:
  namespace: {config.argocd_namespace}
flux:
  namespace: {config.flux_namespace}
  # Name of the Secret in that namespace holding the clone credentials of a private repository.
  gitSecretRef: "{config.flux_git_secret or ""}"
# Folders of CRD files (Argo CD, Flux, External Secrets...) that 'gitops-gen validate' checks
# custom kinds against, relative to this file; --crd-dir adds more.
crds: []
defaults:
  webReplicas: {d.web_replicas}
  size: {d.size}
  auth: {d.auth}
  database: {d.database}
# Pull requests ('gitops-gen add-tenant ... --pr', 'gitops-gen pr'): the forge is recognised from the
# remote's URL (github.com, gitlab.*, gitea.*); name it here for other hosts. Tokens are read from the
# environment only (GITHUB_TOKEN, GITLAB_TOKEN, GITEA_TOKEN), never from this file.
# forge:
#   provider: github                  # github, gitlab or gitea
#   apiUrl: https://api.github.com    # self-hosted: https://HOST/api/v3, /api/v4 (GitLab), /api/v1 (Gitea)
#   remote: origin
"""


#: The GitLab CI file 'gitops-gen init --gitlab-ci' writes.
GITLAB_CI = ".gitlab-ci.yml"
#: The folder CI keeps validate's caches in between runs (validate --cache-dir); it must be in .gitignore.
CI_CACHE_DIR = ".gitops-gen-cache"
GITIGNORE = ".gitignore"


def gitignore_text() -> str:
    return f"""\
# validate's render and findings caches when kept in the work tree ('validate --cache-dir', as CI does)
{CI_CACHE_DIR}/
"""


# GitHub Actions syntax used below, as GitHub documents it: a job's `outputs` from a step's $GITHUB_OUTPUT
# and `strategy.matrix: ${{ fromJSON(needs.<job>.outputs.<output>) }}` ("Running variations of jobs in a
# workflow": a matrix from a previous job's output, at most 256 jobs per matrix); `strategy.job-index` (the
# matrix job's 0-based index, "Contexts reference"); `github.base_ref`, set only on pull_request events;
# actions/cache@v4 `path`, `key`, `restore-keys` with `hashFiles(...)`; actions/upload-artifact@v4, whose
# artifact names must be unique in a run and may not contain '/' (so not matrix.shard's 'K/N');
# actions/download-artifact@v4 `pattern` and `merge-multiple` (its action.yml); `permissions` per job
# (security-events: write for github/codeql-action/upload-sarif, pull-requests: write for the comment).
def ci_workflow(install: str = 'pip install "$GITOPS_GEN_PIP_SPEC"') -> str:
    setup = f"""\
      - uses: actions/setup-python@v5
        with:
          python-version: "3.12"
      # Point the repository variable GITOPS_GEN_PIP_SPEC at your index or a git URL of gitops-gen.
      - run: {install}"""
    shard_key = "gitops-gen-${{ strategy.job-index }}-${{ strategy.job-total }}-"
    content = "${{ hashFiles('base/**', 'overlays/**', 'gitops-gen.yaml') }}"
    checkout = """\
      - uses: actions/checkout@v4
        with:
          fetch-depth: 0  # --changed-since compares with the base branch's commit"""
    return f"""\
# Written by 'gitops-gen init'; yours to adapt. Fails the pull request when a derived file is
# stale, orphaned or hand-edited, or when what would be applied breaks an isolation, HTTPS,
# routing, Windows, secrets or data-safety rule; findings also appear in code scanning, and the
# pull request gets the diff as a comment. Pull requests validate only the overlays they change,
# pushes to the default branch all of them, in as many shards as 'gitops-gen validate plan' asks
# for (one per 200 overlays, at most 256: GitHub's limit of jobs per matrix).
name: gitops-gen
on:
  pull_request:
  push:
    branches: [main]
permissions:
  contents: read
env:
  GITOPS_GEN_PIP_SPEC: ${{{{ vars.GITOPS_GEN_PIP_SPEC || 'gitops-gen==0.1.0' }}}}
jobs:
  generate:
    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout@v4
{setup}
      - run: gitops-gen generate --check
  plan:
    runs-on: ubuntu-latest
    outputs:
      matrix: ${{{{ steps.plan.outputs.matrix }}}}
    steps:
{checkout}
{setup}
      - id: plan
        env:
          BASE: ${{{{ github.base_ref }}}}  # empty on a push: validate everything
        run: |
          since=""
          if [ -n "$BASE" ]; then since="--changed-since origin/$BASE"; fi
          echo "matrix=$(gitops-gen validate plan $since)" >> "$GITHUB_OUTPUT"
  validate:
    needs: plan
    runs-on: ubuntu-latest  # has kubectl, whose built-in kustomize validate uses
    strategy:
      fail-fast: false
      matrix: ${{{{ fromJSON(needs.plan.outputs.matrix) }}}}
    steps:
{checkout}
{setup}
      # Renders are cached by their inputs' content: a stale cache costs renders, never a wrong finding.
      - uses: actions/cache@v4
        with:
          path: {CI_CACHE_DIR}
          key: {shard_key}{content}
          restore-keys: |
            {shard_key}
            gitops-gen-
      - name: Validate shard ${{{{ matrix.shard }}}}
        env:
          BASE: ${{{{ github.base_ref }}}}
          SHARD: ${{{{ matrix.shard }}}}
          INDEX: ${{{{ strategy.job-index }}}}
        # Exit 1 (error findings) is the merge's to report; exit 2 (could not run) fails here too.
        run: |
          since=""
          if [ -n "$BASE" ]; then since="--changed-since origin/$BASE"; fi
          gitops-gen validate $since --shard "$SHARD" --cache-dir {CI_CACHE_DIR} --output json \\
            > "shard-$INDEX.json" || test $? -eq 1
      - uses: actions/upload-artifact@v4
        if: always()
        with:
          name: gitops-gen-shard-${{{{ strategy.job-index }}}}
          path: shard-*.json
  report:
    needs: [plan, validate]
    if: always() && needs.plan.result == 'success'
    runs-on: ubuntu-latest
    permissions:
      contents: read
      security-events: write
    steps:
      - uses: actions/checkout@v4
{setup}
      - uses: actions/download-artifact@v4
        with:
          pattern: gitops-gen-shard-*
          path: shards
          merge-multiple: true
      - name: Findings for code scanning
        run: gitops-gen validate merge shards/*.json --output sarif > gitops-gen.sarif || test $? -le 2
      - uses: github/codeql-action/upload-sarif@v3
        if: always()
        with:
          sarif_file: gitops-gen.sarif
      - name: Findings
        run: gitops-gen validate merge shards/*.json
  comment:
    if: github.event_name == 'pull_request'
    runs-on: ubuntu-latest
    permissions:
      contents: read
      pull-requests: write
    steps:
{checkout}
{setup}
      - env:
          GITHUB_TOKEN: ${{{{ secrets.GITHUB_TOKEN }}}}
        run: gitops-gen comment --pr ${{{{ github.event.pull_request.number }}}}
"""


#: Shards of the GitLab pipeline: GitLab's `parallel:` is fixed when the pipeline is created, 1 to 200 jobs.
GITLAB_SHARDS = 4


# GitLab CI syntax used below, as GitLab documents it (docs.gitlab.com, CI/CD YAML syntax and predefined
# variables): `workflow:rules` with $CI_PIPELINE_SOURCE == "merge_request_event"; `parallel: N` (1 to 200)
# giving each job $CI_NODE_INDEX (1-based) and $CI_NODE_TOTAL; `needs:` on a parallel job waiting for all
# of its jobs; `cache:key:files` (one or two files, the key from their content) with `cache:key:prefix`;
# `artifacts:reports:codequality` (a Code Quality report shown on the merge request); merge request
# pipelines' $CI_MERGE_REQUEST_IID and $CI_MERGE_REQUEST_DIFF_BASE_SHA (the merge request's base commit).
def gitlab_ci(install: str = 'pip install "$GITOPS_GEN_PIP_SPEC"',
              shards: int = GITLAB_SHARDS) -> str:
    return f"""\
# Written by 'gitops-gen init --gitlab-ci'; yours to adapt. The same checks as the GitHub workflow, for
# merge request pipelines and the default branch: generate --check, validate in {shards} shards (only
# the overlays a merge request changes; everything on the default branch), their reports merged into
# one (the merge request's Code Quality widget, a SARIF file, the exit code), and the diff as a comment.
#
# GitLab fixes `parallel:` when it creates the pipeline, so the shard count is set here (1 to 200, GitLab's
# limit), not planned per change as on GitHub; an idle shard costs a job's start-up only. Raise it when a
# change to base/ touches many overlays: about one shard per 200 overlays.
#
# Project CI/CD variables override the defaults below: GITOPS_GEN_IMAGE, an image with Python 3.11+ and
# kubectl (1.27 or newer) or kustomize 5 (python:3.12 has neither: validate needs one); GITOPS_GEN_PIP_SPEC,
# gitops-gen from your index or a git URL; and set GITLAB_TOKEN (masked), a token with the api scope that
# may comment on merge requests.
workflow:
  rules:
    - if: $CI_PIPELINE_SOURCE == "merge_request_event"
    - if: $CI_COMMIT_BRANCH == $CI_DEFAULT_BRANCH
stages: [check, validate, report]
variables:
  GIT_DEPTH: 0  # a full clone: --changed-since reads the merge request's base commit
  GITOPS_GEN_IMAGE: python:3.12
  GITOPS_GEN_PIP_SPEC: gitops-gen==0.1.0
default:
  image: $GITOPS_GEN_IMAGE
  before_script:
    - {install}
generate:
  stage: check
  script:
    - gitops-gen generate --check
validate:
  stage: validate
  parallel: {shards}
  cache:
    key:
      prefix: gitops-gen-$CI_NODE_INDEX-of-$CI_NODE_TOTAL
      files: [gitops-gen.yaml, base/kustomization.yaml]
    paths: [{CI_CACHE_DIR}/]
  script:
    # Exit 1 (error findings) is the merge's to report; exit 2 (could not run) fails here too.
    - |
      since=""
      if [ -n "$CI_MERGE_REQUEST_DIFF_BASE_SHA" ]; then since="--changed-since $CI_MERGE_REQUEST_DIFF_BASE_SHA"; fi
      gitops-gen validate $since --shard "$CI_NODE_INDEX/$CI_NODE_TOTAL" --cache-dir {CI_CACHE_DIR} --output json \\
        > "shard-$CI_NODE_INDEX.json" || test $? -eq 1
  artifacts:
    when: always
    paths: [shard-*.json]
report:
  stage: report
  needs: [validate]
  when: always
  script:
    - gitops-gen validate merge shard-*.json --output codequality > gl-code-quality-report.json || test $? -le 2
    - gitops-gen validate merge shard-*.json --output sarif > gitops-gen.sarif || test $? -le 2
    - gitops-gen validate merge shard-*.json
  artifacts:
    when: always
    paths: [gl-code-quality-report.json, gitops-gen.sarif]
    reports:
      codequality: gl-code-quality-report.json
comment:
  stage: report
  needs: []
  rules:
    - if: $CI_PIPELINE_SOURCE == "merge_request_event"
  script:
    - gitops-gen comment --pr "$CI_MERGE_REQUEST_IID"
"""


def scaffold_files(config: EstateConfig) -> dict[str, str]:
    return {layout.CONFIG_FILE: config_text(config), layout.CI_WORKFLOW: ci_workflow()}


