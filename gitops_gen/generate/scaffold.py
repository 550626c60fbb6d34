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
{annotations}certManager:
  issuer: {config.issuer}
  issuerKind: {config.issuer_kind}
secrets:
  # external-secrets: one ExternalSecret per secret and tenant, read from the store below under
  #   <keyPrefix>/<tenant>; pre-provisioned: the Secrets workflowgen-app, workflowgen-license and
  #   workflowgen-database exist in each tenant namespace already. Never put a secret value in git.
  mode: {config.secrets_mode}
  store:
{secrets_store}  keyPrefix: {config.secret_key_prefix}
storage:
  # ReadWriteMany class for the shared C:\\wfgen\\data volume (e.g. azurefile-csi); empty: the default class.
  dataClass: "{config.data_storage_class or ""}"
  databaseClass: "{config.database_storage_class or ""}"
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


def ci_workflow(install: str = "pip install \"${{ vars.GITOPS_GEN_PIP_SPEC || 'gitops-gen==0.1.0' }}\"") -> str:
    return f"""\
# Written by 'gitops-gen init'; yours to adapt. Fails the pull request when a derived file is
# stale, orphaned or hand-edited, or when what would be applied breaks an isolation, HTTPS,
# routing, Windows, secrets or data-safety rule; findings also appear in code scanning.
name: gitops-gen
on:
  pull_request:
  push:
    branches: [main]
permissions:
  contents: read
  security-events: write
jobs:
  check:
    runs-on: ubuntu-latest  # has kubectl, whose built-in kustomize validate uses
    steps:
      - uses: actions/checkout@v4
        with:
          fetch-depth: 0
      - uses: actions/setup-python@v5
        with:
          python-version: "3.12"
      # Point the repository variable GITOPS_GEN_PIP_SPEC at your index or a git URL of gitops-gen.
      - run: {install}
      - run: gitops-gen generate --check
      - run: gitops-gen validate
      - name: Findings for code scanning
        if: always()
        run: gitops-gen validate --output sarif > gitops-gen.sarif || test $? -eq 1
      - uses: github/codeql-action/upload-sarif@v3
        if: always()
        with:
          sarif_file: gitops-gen.sarif
"""


def scaffold_files(config: EstateConfig) -> dict[str, str]:
    return {layout.CONFIG_FILE: config_text(config), layout.CI_WORKFLOW: ci_workflow()}


