"""``gitops-gen add-cluster``: declare a cluster and write what its controller reconciles."""

from __future__ import annotations

from pathlib import Path

from gitops_gen import yamlio
from gitops_gen.commands.common import cache_dir, declaration_header
from gitops_gen.errors import UserError
from gitops_gen.estate import layout
from gitops_gen.estate.hostindex import read_tenant_hosts
from gitops_gen.estate.load import check_config_clusters, load_clusters, load_config, regional_owner
from gitops_gen.estate.model import Cluster, check_cluster_name, cluster_declaration
from gitops_gen.generate.files import cluster_files, shared_files
from gitops_gen.write.plan import plan_files
from gitops_gen.write.writer import ChangeResult, apply_and_commit


def add_cluster(root: Path, cluster: Cluster, dry_run: bool = False, commit: bool = True,
                branch: str | None = None) -> ChangeResult:
    check_cluster_name(cluster.name)
    config = load_config(root)
    clusters = load_clusters(root)
    if cluster.name in clusters or (root / layout.cluster_dir(cluster.name)).exists():
        raise UserError(f"cluster {cluster.name!r} already exists ({layout.cluster_file(cluster.name)})",
                        "choose another name, or edit that file and run 'gitops-gen generate'")
    # Validate the declaration exactly as it will be read back.
    text = yamlio.dump_declaration(cluster_declaration(cluster))
    from gitops_gen.estate.model import parse_cluster

    cluster = parse_cluster(layout.cluster_file(cluster.name), text, expected_name=cluster.name)
    all_clusters = {**clusters, cluster.name: cluster}
    check_config_clusters(config, all_clusters)
    for t in read_tenant_hosts(root, cache_dir(root)).values():
        for h in t.hosts:
            if regional_owner(h, {cluster.name: cluster}):
                raise UserError(f"domain {cluster.domain!r} contains host {h!r} of tenant {t.name!r}",
                                "regional hosts '<tenant>.<domain>' would collide with it; choose another domain")
    desired = {layout.cluster_file(cluster.name): declaration_header("cluster") + text}
    desired.update(cluster_files(config, cluster))
    desired.update(shared_files(config, all_clusters))
    plan = plan_files(root, desired)
    branch = branch or f"gitops-gen/add-cluster-{cluster.name}"
    message = (f"Add cluster {cluster.name} ({cluster.controller}, region {cluster.region}, "
               f"Windows {cluster.windows_build})")
    return apply_and_commit(root, plan, message, branch, commit, dry_run)
