"""``gitops-gen add-cluster``."""

from __future__ import annotations

from enum import StrEnum
from typing import TYPE_CHECKING, Annotated

import typer

from gitops_gen.cli.options import (
    ApiUrlOpt,
    CheckoutOpt,
    DryRunOpt,
    NoCommitOpt,
    Output,
    OutputOpt,
    PrOpt,
    PushOpt,
    RemoteOpt,
    RepoOpt,
    StartOpt,
)
from gitops_gen.cli.publish import change_then_publish, check_target, publish_request
from gitops_gen.errors import UserError

if TYPE_CHECKING:
    from gitops_gen.write.transaction import ChangeResult


class ControllerOpt(StrEnum):
    argocd = "argocd"
    flux = "flux"


class WindowsBuildOpt(StrEnum):
    ltsc2019 = "ltsc2019"
    ltsc2022 = "ltsc2022"


def _labels(pairs: list[str]) -> dict[str, str]:
    labels: dict[str, str] = {}
    for p in pairs:
        key, sep, value = p.partition("=")
        if not sep or not key:
            raise UserError(f"--label {p!r} is not KEY=VALUE", "write it like --label tier=gold", field="--label")
        if key in labels:
            raise UserError(f"--label {key!r} is given twice", "give each label key once", field="--label")
        labels[key] = value
    return labels


def add_cluster(
    name: Annotated[str, typer.Argument(help="Cluster name (DNS label, at most 22 characters).")],
    region: Annotated[str, typer.Option(help="Region the cluster runs in, e.g. eu-west.")],
    controller: Annotated[ControllerOpt, typer.Option(help="GitOps controller reconciling the cluster.")],
    windows_build: Annotated[WindowsBuildOpt, typer.Option(help="Windows Server build of its Windows nodes.")],
    domain: Annotated[str, typer.Option(help="DNS domain of regional hosts (<tenant>.<domain>).")],
    server: Annotated[str | None, typer.Option(help="Argo CD destination server URL (https://...).",
                                              metavar="URL")] = None,
    argocd_name: Annotated[str | None, typer.Option(help="Argo CD destination cluster name (instead of --server).")]
        = None,
    label: Annotated[list[str] | None, typer.Option(help="Cluster label KEY=VALUE (repeatable).",
                                                    metavar="KEY=VALUE")] = None,
    data_storage_class: Annotated[str | None, typer.Option(
        help="ReadWriteMany storage class of WorkflowGen's data volume on this cluster, e.g. azurefile-csi (AKS), "
             "efs-sc (EKS), filestore (GKE) (default: storage.dataClass of gitops-gen.yaml).", metavar="CLASS")]
        = None,
    database_storage_class: Annotated[str | None, typer.Option(
        help="Storage class of the in-cluster database's volume, e.g. managed-csi (AKS), gp3 (EKS), "
             "premium-rwo (GKE) (default: storage.databaseClass of gitops-gen.yaml, else the cluster's default).",
        metavar="CLASS")] = None,
    branch: Annotated[str | None, typer.Option(help="Branch to commit on (default: gitops-gen/add-cluster-NAME).")]
        = None,
    base: StartOpt = None,
    checkout: CheckoutOpt = False,
    repo: RepoOpt = None,
    dry_run: DryRunOpt = False,
    no_commit: NoCommitOpt = False,
    push: PushOpt = False,
    pr: PrOpt = False,
    remote: RemoteOpt = None,
    api_url: ApiUrlOpt = None,
    output: OutputOpt = Output.table,
) -> None:
    """Declare a cluster and write the objects its controller reconciles."""
    publish = publish_request(push, pr, base, remote, api_url, dry_run, no_commit, checkout, branch,
                              json_errors=output is Output.json)

    def run() -> ChangeResult:
        from gitops_gen.commands.clusters import add_cluster as add
        from gitops_gen.commands.common import resolve_root
        from gitops_gen.estate.model import Cluster

        root = resolve_root(repo)
        check_target(root, publish)
        cluster = Cluster(name=name, region=region, controller=controller.value,
                          windows_build=windows_build.value, domain=domain.lower(), argocd_server=server,
                          argocd_name=argocd_name, labels=_labels(label or []),
                          data_storage_class=data_storage_class, database_storage_class=database_storage_class)
        if controller is ControllerOpt.flux and (server or argocd_name):
            raise UserError("--server and --argocd-name are for Argo CD clusters",
                            "drop them, or use --controller argocd", field="--server" if server else "--argocd-name")
        if controller is ControllerOpt.argocd and not (server or argocd_name):
            raise UserError("an Argo CD cluster needs --server URL or --argocd-name NAME",
                            "give the destination as Argo CD knows it, e.g. --server https://10.0.0.1:6443",
                            field="--server")
        if server and argocd_name:
            raise UserError("--server and --argocd-name both name the Argo CD destination",
                            "give one of them", field="--argocd-name")
        return add(root, cluster, dry_run=dry_run, commit=not no_commit, branch=branch, base=base,
                   checkout=checkout, from_flags=True)

    change_then_publish(run, repo, publish, output, f"Cluster {name} added")
