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


