"""``gitops-gen add-tenant`` (and the tenant lifecycle commands to come)."""

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
from gitops_gen.estate.model import AUTH_MODES, SIZE_TIERS, HostRoute, check_host

if TYPE_CHECKING:
    from gitops_gen.write.transaction import ChangeResult


class DatabaseOpt(StrEnum):
    in_cluster = "in-cluster"
    external = "external"


def _host_routes(hosts: list[str], clusters: list[str]) -> tuple[HostRoute, ...]:
    routes = []
    for h in hosts:
        host, sep, placement = h.partition("=")
        if sep and not placement:
            raise UserError(f"--host {h!r} names no cluster after '='", "write HOST or HOST=CLUSTER")
        check_host(host.lower(), "--host")
        routes.append(HostRoute(host.lower(), placement or clusters[0]))
    return tuple(routes)


def add_tenant(
    name: Annotated[str, typer.Argument(help="Tenant name; also its namespace (DNS label, at most 40 characters).")],
    cluster: Annotated[list[str], typer.Option(help="Cluster to place the tenant on (repeatable).")],
    host: Annotated[list[str] | None, typer.Option(
        help="Global host HOST or HOST=CLUSTER (repeatable); served by that placement, by default the first.")]
        = None,
    web_replicas: Annotated[int | None, typer.Option(help="Web pods per placement (default: from gitops-gen.yaml).")]
        = None,
    size: Annotated[str | None, typer.Option(help=f"Size tier: {', '.join(SIZE_TIERS)}.")] = None,
    auth: Annotated[str | None, typer.Option(help=f"WFGEN_AUTH_MODE: {', '.join(AUTH_MODES)}.")] = None,
    database: Annotated[DatabaseOpt | None, typer.Option(help="In-cluster SQL Server or an external one.")] = None,
    database_cidr: Annotated[list[str] | None, typer.Option(
        help="External database address block (repeatable); egress is allowed only there.")] = None,
    database_port: Annotated[int, typer.Option(help="External database port.")] = 1433,
    oidc_client_id: Annotated[str | None, typer.Option(
        help="OIDC client (application) ID; required by the OIDC auth modes.")] = None,
    oidc_metadata_url: Annotated[str | None, typer.Option(
        help="OIDC discovery document URL (.well-known/openid-configuration); required by the OIDC auth modes.")]
        = None,
    oidc_audience: Annotated[str | None, typer.Option(help="OIDC audience of the GraphQL API, if any.")] = None,
    trial_license: Annotated[bool, typer.Option(
        "--trial-license", help="Trial licence: no ApplicationSerialNumber is read from the tenant's Secret.")]
        = False,
    secret_key: Annotated[str | None, typer.Option(
        help="Key of the tenant's secrets in the external store, below <keyPrefix>/<tenant> (default: that "
             "prefix); each placement reads <key>/<cluster>.")] = None,
    branch: Annotated[str | None, typer.Option(help="Branch to commit on (default: gitops-gen/add-tenant-NAME).")]
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
    """Add a tenant: its declaration, overlays and controller objects, committed on a new branch."""
    publish = publish_request(push, pr, base, remote, api_url, dry_run, no_commit, checkout, branch)

    def run() -> ChangeResult:
        from gitops_gen.commands.common import resolve_root
        from gitops_gen.commands.tenants import TenantRequest
        from gitops_gen.commands.tenants import add_tenant as add
        from gitops_gen.estate.model import DatabaseSpec, EstateConfig, OidcSettings, Tenant

        root = resolve_root(repo)
        check_target(root, publish)
        routes = _host_routes(host or [], cluster)
        oidc = None
        if oidc_client_id or oidc_metadata_url or oidc_audience:
            if not (oidc_client_id and oidc_metadata_url):
                raise UserError("an OIDC auth mode needs both --oidc-client-id and --oidc-metadata-url",
                                "give both (the metadata URL ends in /.well-known/openid-configuration)")
            oidc = OidcSettings(oidc_client_id, oidc_metadata_url, oidc_audience)
        if database_cidr and database is not None and database is not DatabaseOpt.external:
            raise UserError("--database-cidr is for an external database", "add --database external")

        def build(config: EstateConfig) -> Tenant:
            defaults = config.defaults
            db_mode = database.value if database else defaults.database
            if database_cidr and db_mode != "external":
                raise UserError("--database-cidr is for an external database", "add --database external")
            return Tenant(
                name=name, placements=tuple(cluster), hosts=routes,
                web_replicas=web_replicas if web_replicas is not None else defaults.web_replicas,
                size=size or defaults.size, auth=auth or defaults.auth,
                database=DatabaseSpec(db_mode, tuple(database_cidr or ()), database_port),
                secret_key=secret_key, oidc=oidc, trial_license=trial_license,
            )

        return add(root, TenantRequest(name, build), dry_run=dry_run, commit=not no_commit, branch=branch,
                   base=base, checkout=checkout)

    change_then_publish(run, repo, publish, output, f"Tenant {name} added")
