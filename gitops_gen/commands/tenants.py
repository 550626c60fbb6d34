"""``gitops-gen add-tenant``: a tenant's declaration, overlays and controller objects."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

import pygit2

from gitops_gen import yamlio
from gitops_gen.commands.common import cache_dir, declaration_header
from gitops_gen.errors import UserError
from gitops_gen.estate import layout
from gitops_gen.estate.hostindex import TenantHosts, host_owners, read_tenant_hosts
from gitops_gen.estate.load import (
    check_config_clusters,
    check_tenant_against,
    check_tenant_settings,
    load_clusters,
    load_config,
)
from gitops_gen.estate.model import EstateConfig, Tenant, check_tenant_name, parse_tenant, tenant_declaration
from gitops_gen.estate.source import Source
from gitops_gen.generate.files import tenant_files
from gitops_gen.write.hosts import claims_on_branches, tenant_hosts_at
from gitops_gen.write.transaction import (
    BranchTarget,
    ChangeResult,
    Draft,
    EstateRepo,
    commit_change,
    open_estate_repo,
    write_work_tree,
)


@dataclass(frozen=True)
class TenantRequest:
    """A tenant whose unset fields take their defaults from the base's gitops-gen.yaml (what the CLI passes)."""

    name: str
    build: Callable[[EstateConfig], Tenant]


TenantArg = Tenant | TenantRequest


def _tenant_of(tenant: TenantArg, config: EstateConfig) -> Tenant:
    return tenant if isinstance(tenant, Tenant) else tenant.build(config)


def default_branch_name(tenant: str) -> str:
    return f"gitops-gen/add-tenant-{tenant}"


def add_tenant(root: Path, tenant: TenantArg, dry_run: bool = False, commit: bool = True,
               branch: str | None = None, base: str | None = None, checkout: bool = False) -> ChangeResult:
    """Write the tenant's declaration and derived files; no file shared with other tenants changes.

    ``tenant`` may be a ``TenantRequest``: the CLI fills the flags it was not given from their defaults in
    the base's gitops-gen.yaml. Committed (the default) on a new branch off the
    default branch; with ``commit=False`` written into the work tree only.
    """
    check_tenant_name(tenant.name)
    if commit:
        target = BranchTarget(branch or default_branch_name(tenant.name), base, checkout)

        def draft(source: Source, er: EstateRepo, base_commit: pygit2.Commit) -> Draft:
            config = load_config(source)
            t = _tenant_of(tenant, config)
            others = tenant_hosts_at(er.repo, base_commit.tree, er.prefix, er.cache_dir,
                                     wanted={h.host for h in t.hosts})
            desired, message, t = _tenant_draft(source, config, t, others)
            notes = _refuse_claimed(er, base_commit, t, {target.branch})
            return Draft(desired, message, notes=tuple(notes))

        return commit_change(root, "add-tenant", target, draft, dry_run=dry_run)

    def files(source: Source) -> dict[str, str]:
        config = load_config(source)
        t = _tenant_of(tenant, config)
        desired, _, t = _tenant_draft(source, config, t, read_tenant_hosts(root, cache_dir(root)))
        er = open_estate_repo(root)
        if not er.repo.head_is_unborn:
            _refuse_claimed(er, er.repo.head.peel(pygit2.Commit), t, set())
        return desired

    return write_work_tree(root, "add-tenant", files, dry_run=dry_run, check_dirty=True)


def _refuse_claimed(er: EstateRepo, base: pygit2.Commit, tenant: Tenant, skip: set[str]) -> list[str]:
    """Refuse a host another gitops-gen/* branch claims (its pull request may merge first); return notes."""
    claims, notes = claims_on_branches(er.repo, base, er.prefix, skip)
    for claim in claims:
        if claim.host in {h.host for h in tenant.hosts}:
            raise UserError(f"host {claim.host!r} is claimed by tenant {claim.tenant!r} on branch "
                            f"{claim.branch}, whose pull request may merge first",
                            "every host is served by exactly one tenant; choose another host, or wait "
                            f"until {claim.branch} is merged or deleted")
    return notes


def _tenant_draft(source: Source, config: EstateConfig, tenant: Tenant,
                  others: Mapping[str, TenantHosts]) -> tuple[dict[str, str], str, Tenant]:
    check_tenant_name(tenant.name)
    clusters = load_clusters(source)
    check_config_clusters(config, clusters)
    if source.read(layout.tenant_file(tenant.name)) is not None or source.subdirs(layout.tenant_dir(tenant.name)):
        raise UserError(f"tenant {tenant.name!r} already exists in {source.label} ({layout.tenant_file(tenant.name)})",
                        "choose another name, or edit that file and run 'gitops-gen generate'")
    text = yamlio.dump_declaration(tenant_declaration(tenant))
    # Validate the declaration exactly as it will be read back.
    tenant = parse_tenant(layout.tenant_file(tenant.name), text, expected_name=tenant.name)
    check_tenant_against(tenant, clusters, host_owners(dict(others)), where=source.label)
    check_tenant_settings(tenant, config)
    desired = {layout.tenant_file(tenant.name): declaration_header("tenant") + text}
    desired.update(tenant_files(config, clusters, tenant))
    message = f"Add tenant {tenant.name} on {', '.join(tenant.placements)}"
    if tenant.hosts:
        message += "\n\nHosts: " + ", ".join(f"{h.host} -> {h.placement}" for h in tenant.hosts)
    return desired, message, tenant
