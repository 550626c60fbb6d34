"""``gitops-gen add-cluster``: declare a cluster and write what its controller reconciles."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import pygit2

from gitops_gen import yamlio
from gitops_gen.commands.common import cache_dir, declaration_header
from gitops_gen.errors import UserError
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


def add_cluster(root: Path, cluster: Cluster, dry_run: bool = False, commit: bool = True,
                branch: str | None = None, base: str | None = None, checkout: bool = False) -> ChangeResult:
    """Declare the cluster and write its controller's objects and the files shared by all clusters;
    committed on a new branch off the default branch, or with ``commit=False`` into the work tree."""
    check_cluster_name(cluster.name)
    if commit:
        def draft(source: Source, er: EstateRepo, base_commit: pygit2.Commit) -> Draft:
            tenants = tenant_hosts_at(er.repo, base_commit.tree, er.prefix, er.cache_dir).values()
            desired, message = _cluster_draft(source, cluster, tenants)
            return Draft(desired, message)

        target = BranchTarget(branch or f"gitops-gen/add-cluster-{cluster.name}", base, checkout)
        return commit_change(root, "add-cluster", target, draft, dry_run=dry_run)
    return write_work_tree(
        root, "add-cluster",
        lambda source: _cluster_draft(source, cluster, read_tenant_hosts(root, cache_dir(root)).values())[0],
        dry_run=dry_run, check_dirty=True)


def _cluster_draft(source: Source, cluster: Cluster, tenants: Iterable[TenantHosts]) -> tuple[dict[str, str], str]:
    config = load_config(source)
    clusters = load_clusters(source)
    if cluster.name in clusters or source.subdirs(layout.cluster_dir(cluster.name)) \
            or source.read(layout.cluster_file(cluster.name)) is not None:
        raise UserError(f"cluster {cluster.name!r} already exists in {source.label} "
                        f"({layout.cluster_file(cluster.name)})",
                        "choose another name, or edit that file and run 'gitops-gen generate'")
    # Validate the declaration exactly as it will be read back.
    text = yamlio.dump_declaration(cluster_declaration(cluster))
    cluster = parse_cluster(layout.cluster_file(cluster.name), text, expected_name=cluster.name)
    all_clusters = {**clusters, cluster.name: cluster}
    check_config_clusters(config, all_clusters)
    if not (cluster.data_storage_class or config.data_storage_class):
        raise UserError(f"cluster {cluster.name!r} has no ReadWriteMany storage class for WorkflowGen's data "
                        "volume, and gitops-gen.yaml sets no storage.dataClass: the cluster's default class is "
                        "usually a block disk (ReadWriteOnce), on which every WorkflowGen pod stays Pending",
                        "give --data-storage-class, e.g. azurefile-csi (AKS), efs-sc (EKS, EFS CSI driver), "
                        "filestore (GKE Filestore CSI), nfs-csi or cephfs")
    for t in tenants:
        for h in t.hosts:
            if regional_owner(h, {cluster.name: cluster}):
                raise UserError(f"domain {cluster.domain!r} contains host {h!r} of tenant {t.name!r}",
                                "regional hosts '<tenant>.<domain>' would collide with it; choose another domain")
    desired = {layout.cluster_file(cluster.name): declaration_header("cluster") + text}
    desired.update(cluster_files(config, cluster))
    desired.update(shared_files(config, all_clusters))
    message = (f"Add cluster {cluster.name} ({cluster.controller}, region {cluster.region}, "
               f"Windows {cluster.windows_build})")
    return desired, message
