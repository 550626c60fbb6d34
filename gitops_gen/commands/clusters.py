"""``gitops-gen add-cluster``: declare a cluster and write what its controller reconciles."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import pygit2

from gitops_gen import yamlio
from gitops_gen.commands.common import FlagOf, cache_dir, declaration_header, flag_error
from gitops_gen.errors import GitopsGenError, UserError
from gitops_gen.estate import layout
from gitops_gen.estate.hostindex import TenantHosts, read_tenant_hosts
from gitops_gen.estate.load import check_config_clusters, load_clusters, load_config, regional_owner
from gitops_gen.estate.model import Cluster, check_cluster_name, cluster_declaration, parse_cluster
from gitops_gen.estate.source import Source
from gitops_gen.generate.files import cluster_files, shared_files
from gitops_gen.write.hosts import tenant_hosts_at
from gitops_gen.write.transaction import (
    BranchTarget,
    ChangeResult,
    Draft,
    EstateRepo,
    commit_change,
    write_work_tree,
)

#: Which add-cluster flag sets each field of cluster.yaml.
CLUSTER_FLAGS = (
    FlagOf(r"name", "NAME"),
    FlagOf(r"region", "--region"),
    FlagOf(r"controller", "--controller"),
    FlagOf(r"windowsBuild", "--windows-build"),
    FlagOf(r"domain", "--domain"),
    FlagOf(r"argocd\.server", "--server"),
    FlagOf(r"argocd(\.name)?", "--argocd-name"),
    FlagOf(r"labels(\..*)?", "--label"),
    FlagOf(r"storage\.dataClass", "--data-storage-class"),
    FlagOf(r"storage\.databaseClass", "--database-storage-class"),
)


def add_cluster(root: Path, cluster: Cluster, dry_run: bool = False, commit: bool = True,
                branch: str | None = None, base: str | None = None, checkout: bool = False,
                from_flags: bool = False) -> ChangeResult:
    """Declare the cluster and write its controller's objects and the files shared by all clusters;
    committed on a new branch off the default branch, or with ``commit=False`` into the work tree.
    ``from_flags``: the cluster was built from add-cluster's flags, and errors about its declaration name
    the flag that set the field at fault, not a cluster.yaml that does not exist yet."""
    check_cluster_name(cluster.name)
    if commit:
        def draft(source: Source, er: EstateRepo, base_commit: pygit2.Commit) -> Draft:
            tenants = tenant_hosts_at(er.repo, base_commit.tree, er.prefix, er.cache_dir).values()
            desired, message = _cluster_draft(source, cluster, tenants, from_flags)
            return Draft(desired, message)

        target = BranchTarget(branch or f"gitops-gen/add-cluster-{cluster.name}", base, checkout)
        return commit_change(root, "add-cluster", target, draft, dry_run=dry_run)
    return write_work_tree(
        root, "add-cluster",
        lambda source: _cluster_draft(source, cluster, read_tenant_hosts(root, cache_dir(root)).values(),
                                      from_flags)[0],
        dry_run=dry_run, check_dirty=True)


def _cluster_draft(source: Source, cluster: Cluster, tenants: Iterable[TenantHosts],
                   from_flags: bool = False) -> tuple[dict[str, str], str]:
    config = load_config(source)
    clusters = load_clusters(source)
    if cluster.name in clusters or source.subdirs(layout.cluster_dir(cluster.name)) \
            or source.read(layout.cluster_file(cluster.name)) is not None:
        raise UserError(f"cluster {cluster.name!r} already exists in {source.label} "
                        f"({layout.cluster_file(cluster.name)})",
                        "choose another name, or edit that file and run 'gitops-gen generate'",
                        field="NAME" if from_flags else "name")
    # Validate the declaration exactly as it will be read back.
    text = yamlio.dump_declaration(cluster_declaration(cluster))
    rel = layout.cluster_file(cluster.name)
    try:
        cluster = parse_cluster(rel, text, expected_name=cluster.name)
        all_clusters = {**clusters, cluster.name: cluster}
        check_config_clusters(config, all_clusters)
    except GitopsGenError as exc:
        mapped = flag_error(exc, rel, CLUSTER_FLAGS) if from_flags else exc
        if mapped is exc:
            raise
        raise mapped from None
    if not (cluster.data_storage_class or config.data_storage_class):
        raise UserError(f"cluster {cluster.name!r} has no ReadWriteMany storage class for WorkflowGen's data "
                        "volume, and gitops-gen.yaml sets no storage.dataClass: the cluster's default class is "
                        "usually a block disk (ReadWriteOnce), on which every WorkflowGen pod stays Pending",
                        "give --data-storage-class, e.g. azurefile-csi (AKS), efs-sc (EKS, EFS CSI driver), "
                        "filestore (GKE Filestore CSI), nfs-csi or cephfs",
                        field="--data-storage-class" if from_flags else "storage.dataClass")
    for t in tenants:
        for h in t.hosts:
            if regional_owner(h, {cluster.name: cluster}):
                raise UserError(f"domain {cluster.domain!r} contains host {h!r} of tenant {t.name!r}",
                                "regional hosts '<tenant>.<domain>' would collide with it; choose another domain",
                                field="--domain" if from_flags else "domain")
    desired = {layout.cluster_file(cluster.name): declaration_header("cluster") + text}
    desired.update(cluster_files(config, cluster))
    desired.update(shared_files(config, all_clusters))
    message = (f"Add cluster {cluster.name} ({cluster.controller}, region {cluster.region}, "
               f"Windows {cluster.windows_build})")
    return desired, message
