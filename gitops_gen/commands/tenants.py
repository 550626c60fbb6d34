"""``gitops-gen add-tenant``: a tenant's declaration, overlays and controller objects."""

from __future__ import annotations

from pathlib import Path

from gitops_gen import yamlio
from gitops_gen.commands.common import cache_dir, declaration_header
from gitops_gen.errors import UserError
from gitops_gen.estate import layout
from gitops_gen.estate.hostindex import host_owners, read_tenant_hosts
from gitops_gen.estate.load import check_config_clusters, check_tenant_against, load_clusters, load_config
from gitops_gen.estate.model import Tenant, check_tenant_name, tenant_declaration
from gitops_gen.generate.files import tenant_files
from gitops_gen.write.plan import plan_files
from gitops_gen.write.writer import ChangeResult, apply_and_commit


def add_tenant(root: Path, tenant: Tenant, dry_run: bool = False, commit: bool = True,
               branch: str | None = None) -> ChangeResult:
    """Write the tenant's declaration and derived files; no file shared with other tenants changes."""
    check_tenant_name(tenant.name)
    config = load_config(root)
    clusters = load_clusters(root)
    check_config_clusters(config, clusters)
    if (root / layout.tenant_dir(tenant.name)).exists():
        raise UserError(f"tenant {tenant.name!r} already exists ({layout.tenant_file(tenant.name)})",
                        "choose another name, or edit that file and run 'gitops-gen generate'")
    text = yamlio.dump_declaration(tenant_declaration(tenant))
    from gitops_gen.estate.model import parse_tenant

    tenant = parse_tenant(layout.tenant_file(tenant.name), text, expected_name=tenant.name)
    others = read_tenant_hosts(root, cache_dir(root))
    check_tenant_against(tenant, clusters, host_owners(others))
    desired = {layout.tenant_file(tenant.name): declaration_header("tenant") + text}
    desired.update(tenant_files(config, clusters, tenant))
    plan = plan_files(root, desired)
    branch = branch or f"gitops-gen/add-tenant-{tenant.name}"
    message = f"Add tenant {tenant.name} on {', '.join(tenant.placements)}"
    if tenant.hosts:
        message += "\n\nHosts: " + ", ".join(f"{h.host} -> {h.placement}" for h in tenant.hosts)
    return apply_and_commit(root, plan, message, branch, commit, dry_run)
