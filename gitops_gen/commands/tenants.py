"""``gitops-gen add-tenant``: a tenant's declaration, overlays and controller objects."""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

import pygit2

from gitops_gen import yamlio
from gitops_gen.commands.common import FlagOf, cache_dir, declaration_header, flag_error
from gitops_gen.errors import GitopsGenError, UserError
from gitops_gen.estate import layout
from gitops_gen.estate.hostindex import TenantHosts, host_owners, read_tenant_hosts
from gitops_gen.estate.load import (
    check_config_clusters,
    check_tenant_against,
    check_tenant_settings,
    load_clusters,
    load_config,
)
from gitops_gen.estate.model import (
    AUTH_MODES,
    SIZE_TIERS,
    EstateConfig,
    Placement,
    Tenant,
    check_tenant_name,
    parse_tenant,
    tenant_declaration,
)
from gitops_gen.estate.source import Source
from gitops_gen.generate.files import tenant_files
from gitops_gen.generate.overlay import application_url
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
    """A tenant built from flags, whose unset fields take their defaults from the base's gitops-gen.yaml
    (what the CLI passes). Errors about its declaration name the flag that set the field at fault."""

    name: str
    build: Callable[[EstateConfig], Tenant]
    #: The flags given on the command line (``--size``...): without one, its value is a default.
    given: frozenset[str] = field(default_factory=frozenset)


_TIER_LIMITS = ", ".join(f"{name} {tier.max_web_replicas}" for name, tier in SIZE_TIERS.items())
#: Which add-tenant flag sets each field of tenant.yaml.
TENANT_FLAGS = (
    FlagOf(r"name", "NAME"),
    FlagOf(r"placements(\[\d+\](\.cluster)?)?", "--cluster", about="unknown cluster "),
    FlagOf(r"hosts(\[\d+\](\.\w+)?)?", "--host", about="host "),
    FlagOf(r"webReplicas", "--web-replicas", f"web pods per placement go from 1 to the size tier's limit "
           f"({_TIER_LIMITS}): lower --web-replicas or choose a larger --size",
           "defaults.webReplicas in gitops-gen.yaml"),
    FlagOf(r"size", "--size", f"choose --size from {', '.join(SIZE_TIERS)}", "defaults.size in gitops-gen.yaml"),
    FlagOf(r"auth", "--auth", f"choose --auth from {', '.join(AUTH_MODES)}", "defaults.auth in gitops-gen.yaml"),
    FlagOf(r"oidc\.clientId", "--oidc-client-id"),
    FlagOf(r"oidc\.metadataUrl", "--oidc-metadata-url", "give the provider's discovery document URL, e.g. "
           "--oidc-metadata-url https://login.microsoftonline.com/<tenant id>/v2.0/.well-known/openid-configuration"),
    FlagOf(r"oidc\.audience", "--oidc-audience"),
    FlagOf(r"oidc(\..*)?", "--oidc-client-id"),
    FlagOf(r"license(\..*)?", "--trial-license"),
    FlagOf(r"database\.cidrs(\[\d+\])?", "--database-cidr",
           "give the external SQL Server's own address block, e.g. --database-cidr 10.20.0.4/32"),
    FlagOf(r"database\.port", "--database-port", "give --database-port from 1 to 65535"),
    FlagOf(r"database(\.mode)?", "--database", "choose --database in-cluster or --database external",
           "defaults.database in gitops-gen.yaml"),
    FlagOf(r"secrets\.remoteKey", "--secret-key"),
)


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
    given = tenant.given if isinstance(tenant, TenantRequest) else None
    if commit:
        target = BranchTarget(branch or default_branch_name(tenant.name), base, checkout)

        def draft(source: Source, er: EstateRepo, base_commit: pygit2.Commit) -> Draft:
            config = load_config(source)
            t = _tenant_of(tenant, config)
            others = tenant_hosts_at(er.repo, base_commit.tree, er.prefix, er.cache_dir,
                                     wanted={h.host for h in t.hosts})
            desired, message, t = _tenant_draft(source, config, t, others, given)
            notes = _refuse_claimed(er, base_commit, t, {target.branch}, given)
            return Draft(desired, message, notes=tuple(notes))

        return commit_change(root, "add-tenant", target, draft, dry_run=dry_run)

    def files(source: Source) -> dict[str, str]:
        config = load_config(source)
        t = _tenant_of(tenant, config)
        desired, _, t = _tenant_draft(source, config, t, read_tenant_hosts(root, cache_dir(root)), given)
        er = open_estate_repo(root)
        if not er.repo.head_is_unborn:
            _refuse_claimed(er, er.repo.head.peel(pygit2.Commit), t, set(), given)
        return desired

    return write_work_tree(root, "add-tenant", files, dry_run=dry_run, check_dirty=True)


def _refuse_claimed(er: EstateRepo, base: pygit2.Commit, tenant: Tenant, skip: set[str],
                    given: Collection[str] | None = None) -> list[str]:
    """Refuse a host another gitops-gen/* branch claims (its pull request may merge first); return notes."""
    claims, notes = claims_on_branches(er.repo, base, er.prefix, skip)
    for claim in claims:
        if claim.host in {h.host for h in tenant.hosts}:
            raise UserError(f"{'--host: ' if given is not None else ''}host {claim.host!r} is claimed by tenant "
                            f"{claim.tenant!r} on branch {claim.branch}, whose pull request may merge first",
                            "every host is served by exactly one tenant; choose another host, or wait "
                            f"until {claim.branch} is merged or deleted",
                            field="--host" if given is not None else "hosts")
    return notes


def with_default_roles(tenant: Tenant) -> Tenant:
    """Placements on one external database: one primary, the others standbys, since each instance of
    the Windows Services must be the only one on its database. The primary is the placement that serves
    the global hosts (the first placement when none or several do). Roles already given are kept."""
    if tenant.database.mode != "external" or len(tenant.placements) < 2 or tenant.details:
        return tenant
    serving = list(dict.fromkeys(h.placement for h in tenant.hosts))
    primary = serving[0] if len(serving) == 1 else tenant.placements[0]
    return replace(tenant, details=tuple(Placement(c, role="standby") for c in tenant.placements if c != primary))


def _tenant_draft(source: Source, config: EstateConfig, tenant: Tenant, others: Mapping[str, TenantHosts],
                  given: Collection[str] | None = None) -> tuple[dict[str, str], str, Tenant]:
    """The tenant's files. ``given``: the tenant was built from these flags (None: by a caller of the API),
    and errors about its declaration name the flag that set the field at fault."""
    check_tenant_name(tenant.name)
    clusters = load_clusters(source)
    check_config_clusters(config, clusters)
    rel = layout.tenant_file(tenant.name)
    if source.read(rel) is not None or source.subdirs(layout.tenant_dir(tenant.name)):
        raise UserError(f"tenant {tenant.name!r} already exists in {source.label} ({rel})",
                        "choose another name, or edit that file and run 'gitops-gen generate'",
                        field="NAME" if given is not None else "name")
    tenant = with_default_roles(tenant)
    # ApplicationUrl is recorded (links in e-mails, OpenID Connect redirects): adding or reordering hosts
    # later never changes it; only an explicit update does.
    tenant = replace(tenant, details=tuple(
        replace(tenant.placement(c), application_url=tenant.placement(c).application_url
                or application_url(tenant, clusters[c]))
        if c in clusters else tenant.placement(c) for c in tenant.placements))
    text = yamlio.dump_declaration(tenant_declaration(tenant))
    try:
        # Validate the declaration exactly as it will be read back.
        tenant = parse_tenant(rel, text, expected_name=tenant.name)
        check_tenant_against(tenant, clusters, host_owners(dict(others)), where=source.label)
        check_tenant_settings(tenant, config)
    except GitopsGenError as exc:
        mapped = exc if given is None else flag_error(exc, rel, TENANT_FLAGS, given)
        if mapped is exc:
            raise
        raise mapped from None
    desired = {layout.tenant_file(tenant.name): declaration_header("tenant") + text}
    desired.update(tenant_files(config, clusters, tenant))
    message = f"Add tenant {tenant.name} on {', '.join(tenant.placements)}"
    if tenant.hosts:
        message += "\n\nHosts: " + ", ".join(f"{h.host} -> {h.placement}" for h in tenant.hosts)
    return desired, message, tenant
