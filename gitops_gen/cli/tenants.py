"""``gitops-gen add-tenant``, ``update-tenant``, ``remove-tenant`` and ``move-tenant``."""

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
from gitops_gen.estate.model import OIDC_AUTH_MODES, EgressRule, HostRoute, OidcSettings, check_host

if TYPE_CHECKING:
    from gitops_gen.write.transaction import ChangeResult


# The choices of estate/model.py (SIZE_TIERS, AUTH_MODES, DATABASE_MODES), as click choices so that --help
# lists them and click refuses any other value naming the flag; tests/cli/test_usability.py keeps them equal.
class SizeOpt(StrEnum):
    small = "small"
    medium = "medium"
    large = "large"


class AuthOpt(StrEnum):
    application = "application"
    adfs = "adfs"
    auth0 = "auth0"
    azure_v1 = "azure-v1"
    basic = "basic"
    gardian = "gardian"
    ms_identity_v2 = "ms-identity-v2"
    okta = "okta"
    windows = "windows"


class DatabaseOpt(StrEnum):
    in_cluster = "in-cluster"
    external = "external"


def _host_routes(hosts: list[str], clusters: list[str]) -> tuple[HostRoute, ...]:
    routes: list[HostRoute] = []
    for h in hosts:
        host, sep, placement = h.partition("=")
        if sep and not placement:
            raise UserError(f"--host {h!r} names no cluster after '='", "write --host HOST or --host HOST=CLUSTER",
                            field="--host")
        host = host.lower()
        try:
            check_host(host, "--host")
        except UserError as exc:
            exc.field = "--host"
            raise
        if placement and placement not in clusters:
            raise UserError(f"--host {h!r} names cluster {placement!r}, which is not one of the tenant's --cluster "
                            f"({', '.join(clusters)})", "write --host HOST=CLUSTER with CLUSTER one of the --cluster "
                            "values, or --host HOST for the first one", field="--host")
        if any(r.host == host for r in routes):
            raise UserError(f"--host {host!r} is given twice", "give each host once: one placement serves it",
                            field="--host")
        routes.append(HostRoute(host, placement or clusters[0]))
    return tuple(routes)


def _oidc_settings(client_id: str | None, metadata_url: str | None, audience: str | None) -> OidcSettings | None:
    """The --oidc-* flags of add-tenant and update-tenant: none, or a client ID and a metadata URL."""
    if not (client_id or metadata_url or audience):
        return None
    if not (client_id and metadata_url):
        raise UserError("an OIDC auth mode needs both --oidc-client-id and --oidc-metadata-url",
                        "give both (the metadata URL ends in /.well-known/openid-configuration)",
                        field="--oidc-metadata-url" if client_id else "--oidc-client-id")
    return OidcSettings(client_id, metadata_url, audience)


def _clusters(clusters: list[str]) -> None:
    for i, c in enumerate(clusters):
        if c in clusters[:i]:
            raise UserError(f"--cluster {c!r} is given twice", "give each cluster once", field="--cluster")


def add_tenant(
    name: Annotated[str, typer.Argument(help="Tenant name; also its namespace (DNS label, at most 40 characters).")],
    cluster: Annotated[list[str], typer.Option(help="Cluster to place the tenant on (repeatable).",
                                               metavar="CLUSTER")],
    host: Annotated[list[str] | None, typer.Option(
        help="Global host HOST or HOST=CLUSTER (repeatable); served by that placement, by default the first.",
        metavar="HOST[=CLUSTER]")] = None,
    web_replicas: Annotated[int | None, typer.Option(help="Web pods per placement (default: from gitops-gen.yaml).")]
        = None,
    size: Annotated[SizeOpt | None, typer.Option(
        help="Size tier: container resources and volume sizes (default: from gitops-gen.yaml).")] = None,
    auth: Annotated[AuthOpt | None, typer.Option(
        help="WFGEN_AUTH_MODE; the OpenID Connect modes (adfs, auth0, azure-v1, gardian, ms-identity-v2, okta) "
             "need --oidc-client-id and --oidc-metadata-url (default: from gitops-gen.yaml).")] = None,
    database: Annotated[DatabaseOpt | None, typer.Option(
        help="In-cluster SQL Server or an external one (default: from gitops-gen.yaml).")] = None,
    database_cidr: Annotated[list[str] | None, typer.Option(
        help="External database address block (repeatable); egress is allowed only there.", metavar="CIDR")]
        = None,
    database_port: Annotated[int | None, typer.Option(help="External database port (default: 1433).",
                                                      metavar="PORT")] = None,
    oidc_client_id: Annotated[str | None, typer.Option(
        help="OIDC client (application) ID; required by the OIDC auth modes.")] = None,
    oidc_metadata_url: Annotated[str | None, typer.Option(
        help="OIDC discovery document URL (.well-known/openid-configuration); required by the OIDC auth modes.",
        metavar="URL")] = None,
    oidc_audience: Annotated[str | None, typer.Option(help="OIDC audience of the GraphQL API, if any.")] = None,
    trial_license: Annotated[bool, typer.Option(
        "--trial-license", help="Trial licence: no ApplicationSerialNumber is read from the tenant's Secret.")]
        = False,
    secret_key: Annotated[str | None, typer.Option(
        help="Key of the tenant's secrets in the external store, below <keyPrefix>/<tenant> (default: that "
             "prefix); each placement reads <key>/<cluster>.", metavar="KEY")] = None,
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
    json_errors = output is Output.json
    publish = publish_request(push, pr, base, remote, api_url, dry_run, no_commit, checkout, branch,
                              json_errors=json_errors)
    given = frozenset(flag for flag, value in (
        ("--web-replicas", web_replicas), ("--size", size), ("--auth", auth), ("--database", database),
        ("--database-cidr", database_cidr), ("--database-port", database_port), ("--secret-key", secret_key),
        ("--oidc-client-id", oidc_client_id), ("--oidc-metadata-url", oidc_metadata_url),
        ("--oidc-audience", oidc_audience)) if value is not None)

    def run() -> ChangeResult:
        from gitops_gen.commands.common import resolve_root
        from gitops_gen.commands.tenants import TenantRequest
        from gitops_gen.commands.tenants import add_tenant as add
        from gitops_gen.estate.model import DatabaseSpec, EstateConfig, Tenant

        root = resolve_root(repo)
        check_target(root, publish)
        _clusters(cluster)
        routes = _host_routes(host or [], cluster)
        oidc = _oidc_settings(oidc_client_id, oidc_metadata_url, oidc_audience)
        if database_cidr and database is not None and database is not DatabaseOpt.external:
            raise UserError("--database-cidr is for an external database", "add --database external",
                            field="--database-cidr")

        def build(config: EstateConfig) -> Tenant:
            defaults = config.defaults
            db_mode = database.value if database else defaults.database
            from_config = "" if database else " (defaults.database in gitops-gen.yaml)"
            if db_mode != "external":
                for flag, value in (("--database-cidr", database_cidr), ("--database-port", database_port)):
                    if value:
                        raise UserError(f"{flag} is for an external database, and the database is "
                                        f"{db_mode}{from_config}", "add --database external, or drop it",
                                        field=flag)
            elif not database_cidr:
                raise UserError(f"an external database{from_config} needs --database-cidr: its NetworkPolicy "
                                "allows egress only there", "give the external SQL Server's address block, e.g. "
                                "--database-cidr 10.20.0.4/32 (repeatable)", field="--database-cidr")
            auth_mode = auth.value if auth else defaults.auth
            auth_from = "" if auth else " (defaults.auth in gitops-gen.yaml)"
            if auth_mode in OIDC_AUTH_MODES and oidc is None:
                raise UserError(f"--auth {auth_mode}{auth_from} signs users in with OpenID Connect and needs "
                                "--oidc-client-id and --oidc-metadata-url", "give the client (application) ID "
                                "and the provider's discovery document, e.g. --oidc-metadata-url "
                                "https://login.microsoftonline.com/<tenant id>/v2.0/.well-known/openid-configuration",
                                field="--oidc-client-id")
            if auth_mode not in OIDC_AUTH_MODES and oidc is not None:
                raise UserError(f"--oidc-* flags are for the OpenID Connect auth modes, and --auth is "
                                f"{auth_mode}{auth_from}", f"add --auth with one of "
                                f"{', '.join(sorted(OIDC_AUTH_MODES))}, or drop the --oidc-* flags",
                                field="--auth")
            return Tenant(
                name=name, placements=tuple(cluster), hosts=routes,
                web_replicas=web_replicas if web_replicas is not None else defaults.web_replicas,
                size=size.value if size else defaults.size, auth=auth_mode,
                database=DatabaseSpec(db_mode, tuple(database_cidr or ()),
                                      database_port if database_port is not None else 1433),
                secret_key=secret_key, oidc=oidc, trial_license=trial_license,
            )

        return add(root, TenantRequest(name, build, given), dry_run=dry_run, commit=not no_commit, branch=branch,
                   base=base, checkout=checkout)

    change_then_publish(run, repo, publish, output, f"Tenant {name} added")


class PhaseOpt(StrEnum):
    """The phases of commands/lifecycle.py PHASES, in order."""

    drain = "drain"
    retire = "retire"
    purge = "purge"


def remove_tenant(
    name: Annotated[str, typer.Argument(help="The tenant to remove.")],
    phase: Annotated[PhaseOpt, typer.Option(
        help="drain: stop serving and scale every workload to 0, data and isolation kept; retire: keep only the "
             "Namespace, data, NetworkPolicies and quota (after lifecycle.retentionDays); purge: the tenant "
             "leaves git, its data stays in the cluster and the steps to delete it are listed. Each is refused "
             "until the one before is on the default branch.")],
    cluster: Annotated[str | None, typer.Option(
        help="Remove only the placement on this cluster (default: every placement).", metavar="CLUSTER")] = None,
    now: Annotated[bool, typer.Option("--now", help="Retire without waiting for the retention period (needs "
                                                     "--reason).")] = False,
    reason: Annotated[str | None, typer.Option(help="Why --now cuts the retention period short; recorded in the "
                                                    "commit message.", metavar="TEXT")] = None,
    branch: Annotated[str | None, typer.Option(
        help="Branch to commit on (default: gitops-gen/remove-tenant-NAME-PHASE[-CLUSTER]).")] = None,
    checkout: CheckoutOpt = False,
    repo: RepoOpt = None,
    dry_run: DryRunOpt = False,
    push: PushOpt = False,
    pr: PrOpt = False,
    remote: RemoteOpt = None,
    api_url: ApiUrlOpt = None,
    output: OutputOpt = Output.table,
) -> None:
    """Remove a tenant, or one placement, in three phases: drain, retire, purge; each its own pull request."""
    json_errors = output is Output.json
    publish = publish_request(push, pr, None, remote, api_url, dry_run, False, checkout, branch,
                              json_errors=json_errors)

    def run() -> ChangeResult:
        from gitops_gen.commands.common import resolve_root
        from gitops_gen.commands.lifecycle import remove_tenant as remove

        root = resolve_root(repo)
        check_target(root, publish)
        return remove(root, name, phase.value, cluster, now=now, reason=reason, dry_run=dry_run, branch=branch,
                      checkout=checkout)

    done = {"drain": "Drained", "retire": "Retired", "purge": "Purged"}[phase.value]
    change_then_publish(run, repo, publish, output, f"{done} tenant {name}")


class MovePhaseOpt(StrEnum):
    """The phases of commands/move.py, in order (estate/model.py MOVE_PHASES)."""

    provision = "provision"
    cutover = "cutover"
    start_services = "start-services"
    finish = "finish"


def move_tenant(
    name: Annotated[str, typer.Argument(help="The tenant to move.")],
    to: Annotated[str, typer.Option("--to", help="The cluster it moves to.", metavar="CLUSTER")],
    phase: Annotated[MovePhaseOpt | None, typer.Option(
        help="provision: a standby on --to, and the data steps to take; cutover: the global hosts move to --to "
             "and the roles swap, its Windows Services held; start-services: they start on --to, once stopped "
             "on the old primary; finish: the old placement drains, retires (after lifecycle.retentionDays) and "
             "leaves git, one pull request per run. Each is refused until the one before is on the default "
             "branch.")] = None,
    from_: Annotated[str | None, typer.Option(
        "--from", help="The cluster it moves from (default: its one active primary; later phases check it "
                       "against the move).",
        metavar="CLUSTER")] = None,
    abort: Annotated[bool, typer.Option(
        "--abort", help="Undo the provision, before the cutover: the standby on --to drains, then leaves git "
                        "(run it twice, merging in between).")] = False,
    now: Annotated[bool, typer.Option("--now", help="finish: retire without waiting for the retention period "
                                                     "(needs --reason).")] = False,
    reason: Annotated[str | None, typer.Option(help="Why --now cuts the retention period short; recorded in the "
                                                    "commit message.", metavar="TEXT")] = None,
    branch: Annotated[str | None, typer.Option(
        help="Branch to commit on (default: gitops-gen/move-tenant-NAME-PHASE, with the step for finish and "
             "--abort).")] = None,
    checkout: CheckoutOpt = False,
    repo: RepoOpt = None,
    dry_run: DryRunOpt = False,
    push: PushOpt = False,
    pr: PrOpt = False,
    remote: RemoteOpt = None,
    api_url: ApiUrlOpt = None,
    output: OutputOpt = Output.table,
) -> None:
    """Move a tenant to another cluster in phases: provision, cutover, start-services, finish (or --abort);
    each its own pull request."""
    json_errors = output is Output.json
    publish = publish_request(push, pr, None, remote, api_url, dry_run, False, checkout, branch,
                              json_errors=json_errors)

    def run() -> ChangeResult:
        from gitops_gen.commands.common import resolve_root
        from gitops_gen.commands.move import move_tenant as move

        root = resolve_root(repo)
        check_target(root, publish)
        return move(root, name, to, phase.value if phase else None, source=from_, abort=abort, now=now,
                    reason=reason, dry_run=dry_run, branch=branch, checkout=checkout)

    done = "Aborted moving" if abort else f"Move ({phase.value if phase else '?'}) of"
    change_then_publish(run, repo, publish, output, f"{done} tenant {name} to {to}")


def _egress_rule(value: str) -> EgressRule:
    cidr, sep, rest = value.rpartition(":")
    port, _, protocol = rest.partition("/")
    if not sep or not port.isdigit():
        raise UserError(f"--add-egress {value!r} is not CIDR:PORT[/PROTOCOL]",
                        "write it like --add-egress 10.50.0.25/32:587 or --add-egress 10.50.0.0/24:514/UDP",
                        field="--add-egress")
    return EgressRule(cidr, int(port), (protocol or "TCP").upper())


def _pairs(values: list[str] | None, flag: str, what: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for v in values or []:
        key, sep, value = v.partition("=")
        if not sep or not key or not value:
            raise UserError(f"{flag} {v!r} is not {what}", f"write it as {flag} {what}", field=flag)
        out[key] = value
    return out


def update_tenant(
    name: Annotated[str, typer.Argument(help="The tenant to change.")],
    size: Annotated[SizeOpt | None, typer.Option(help="Size tier (a tier whose volumes are smaller than the "
                                                      "tenant's is refused: a volume never shrinks).")] = None,
    web_replicas: Annotated[int | None, typer.Option(help="Web pods per placement.")] = None,
    auth: Annotated[AuthOpt | None, typer.Option(help="WFGEN_AUTH_MODE; the OpenID Connect modes need "
                                                      "--oidc-client-id and --oidc-metadata-url.")] = None,
    oidc_client_id: Annotated[str | None, typer.Option(help="OIDC client (application) ID.")] = None,
    oidc_metadata_url: Annotated[str | None, typer.Option(help="OIDC discovery document URL.", metavar="URL")]
        = None,
    oidc_audience: Annotated[str | None, typer.Option(help="OIDC audience of the GraphQL API.")] = None,
    trial_license: Annotated[bool | None, typer.Option(
        "--trial-license/--no-trial-license", help="Trial licence, or a licence with its serial number from the "
                                                   "tenant's Secret.", show_default=False)] = None,
    data_storage: Annotated[str | None, typer.Option(help="Size of the C:\\wfgen\\data volume, e.g. 80Gi (grow "
                                                          "only).", metavar="SIZE")] = None,
    database_storage: Annotated[str | None, typer.Option(help="Size of the in-cluster database's volume, e.g. "
                                                              "200Gi (grow only).", metavar="SIZE")] = None,
    add_egress: Annotated[list[str] | None, typer.Option(
        help="Allow egress to CIDR:PORT (TCP), or CIDR:PORT/UDP (repeatable).", metavar="CIDR:PORT")] = None,
    remove_egress: Annotated[list[str] | None, typer.Option(help="Remove the egress rule to CIDR (repeatable).",
                                                            metavar="CIDR")] = None,
    add_host: Annotated[list[str] | None, typer.Option(
        help="Add a global host HOST or HOST=CLUSTER (repeatable); by default on the first placement.",
        metavar="HOST[=CLUSTER]")] = None,
    remove_host: Annotated[list[str] | None, typer.Option(help="Stop serving a global host (repeatable).",
                                                          metavar="HOST")] = None,
    move_host: Annotated[list[str] | None, typer.Option(
        help="Serve a global host from another placement (repeatable); the target must be a primary.",
        metavar="HOST=CLUSTER")] = None,
    add_cluster: Annotated[list[str] | None, typer.Option(
        help="Place the tenant on another cluster (repeatable); a standby when its database is external.",
        metavar="CLUSTER")] = None,
    remove_cluster: Annotated[list[str] | None, typer.Option(
        help="Refused: a placement leaves in phases (remove-tenant NAME --cluster C --phase drain|retire|purge).",
        metavar="CLUSTER")] = None,
    application_url: Annotated[list[str] | None, typer.Option(
        help="Set a placement's ApplicationUrl (links in e-mails, OIDC redirects), on a host it serves "
             "(repeatable).", metavar="CLUSTER=URL")] = None,
    branch: Annotated[str | None, typer.Option(
        help="Branch to commit on (default: gitops-gen/update-tenant-NAME).")] = None,
    checkout: CheckoutOpt = False,
    repo: RepoOpt = None,
    dry_run: DryRunOpt = False,
    push: PushOpt = False,
    pr: PrOpt = False,
    remote: RemoteOpt = None,
    api_url: ApiUrlOpt = None,
    output: OutputOpt = Output.table,
) -> None:
    """Change a tenant's settings, hosts or placements: one commit on a new branch off the default branch."""
    json_errors = output is Output.json
    publish = publish_request(push, pr, None, remote, api_url, dry_run, False, checkout, branch,
                              json_errors=json_errors)
    given = frozenset(flag for flag, value in (
        ("--size", size), ("--web-replicas", web_replicas), ("--auth", auth), ("--oidc-client-id", oidc_client_id),
        ("--oidc-metadata-url", oidc_metadata_url), ("--data-storage", data_storage),
        ("--database-storage", database_storage), ("--add-egress", add_egress), ("--add-host", add_host),
        ("--move-host", move_host), ("--add-cluster", add_cluster), ("--application-url", application_url))
        if value)

    def run() -> ChangeResult:
        from gitops_gen.commands.common import resolve_root
        from gitops_gen.commands.update import TenantUpdate
        from gitops_gen.commands.update import update_tenant as update

        root = resolve_root(repo)
        check_target(root, publish)
        oidc = _oidc_settings(oidc_client_id, oidc_metadata_url, oidc_audience)
        routes = []
        for h in add_host or []:
            host, _, placement = h.partition("=")
            try:
                check_host(host.lower(), "--add-host")
            except UserError as exc:
                exc.field = "--add-host"
                raise
            routes.append(HostRoute(host.lower(), placement))
        change = TenantUpdate(
            size=size.value if size else None, web_replicas=web_replicas, auth=auth.value if auth else None,
            oidc=oidc, trial_license=trial_license, data_storage=data_storage, database_storage=database_storage,
            add_egress=tuple(_egress_rule(e) for e in add_egress or []), remove_egress=tuple(remove_egress or ()),
            add_hosts=tuple(routes), remove_hosts=tuple(h.lower() for h in remove_host or ()),
            move_hosts={k.lower(): v for k, v in _pairs(move_host, "--move-host", "HOST=CLUSTER").items()},
            add_clusters=tuple(add_cluster or ()), remove_clusters=tuple(remove_cluster or ()),
            application_urls=_pairs(application_url, "--application-url", "CLUSTER=URL"), given=given)
        return update(root, name, change, dry_run=dry_run, branch=branch, checkout=checkout)

    change_then_publish(run, repo, publish, output, f"Tenant {name} updated")
