"""``gitops-gen update-tenant``: change a tenant's settings in one commit on its own branch off the
default branch, through the transaction: size, web replicas, auth mode and its settings, volume sizes
(grow only), egress, hosts (add, remove, move between placements), a new placement, a placement's
ApplicationUrl. tenant.yaml is edited in place (comments kept); every derived file follows.

What cannot be done safely in one step is refused, naming the field and the safe way: a volume that
would shrink (the API server never shrinks a claim), a host another tenant or an open branch claims, a
global host on a standby, removing a placement (that is ``remove-tenant --cluster``, in phases).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import pygit2

from gitops_gen import yamlio
from gitops_gen.commands.common import FlagOf, flag_error
from gitops_gen.commands.lifecycle import edited_declaration
from gitops_gen.commands.tenants import _refuse_claimed
from gitops_gen.errors import GitopsGenError, UserError
from gitops_gen.estate import layout
from gitops_gen.estate.hostindex import host_owners
from gitops_gen.estate.load import (
    check_tenant_against,
    check_tenant_settings,
    load_clusters,
    load_config,
    load_tenant,
)
from gitops_gen.estate.model import (
    OIDC_AUTH_MODES,
    EgressRule,
    HostRoute,
    OidcSettings,
    Placement,
    Tenant,
    parse_tenant,
    tenant_declaration,
)
from gitops_gen.estate.source import Source
from gitops_gen.generate.common import DATA_PVC, DATABASE_PVC
from gitops_gen.generate.files import tenant_files
from gitops_gen.generate.overlay import application_url, volume_sizes
from gitops_gen.generate.quantity import parse_quantity
from gitops_gen.write.hosts import tenant_hosts_at
from gitops_gen.write.transaction import BranchTarget, ChangeResult, Draft, EstateRepo, commit_change

#: Which update-tenant flag sets each field of tenant.yaml: an error about a field a flag given on the
#: command line set names that flag (errors about other fields name the file, which exists).
UPDATE_FLAGS = (
    FlagOf(r"placements\[\d+\]\.applicationUrl", "--application-url"),
    FlagOf(r"placements(\[\d+\](\.\w+)?)?", "--add-cluster", about="unknown cluster "),
    FlagOf(r"hosts(\[\d+\](\.\w+)?)?", "--add-host", about="host "),
    FlagOf(r"webReplicas", "--web-replicas", "web pods per placement go from 1 to the size tier's limit: lower "
           "--web-replicas or choose a larger --size"),
    FlagOf(r"size", "--size"),
    FlagOf(r"auth", "--auth"),
    FlagOf(r"oidc(\..*)?", "--oidc-client-id"),
    FlagOf(r"storage\.data", "--data-storage"),
    FlagOf(r"storage\.database", "--database-storage"),
    FlagOf(r"egress(\[\d+\](\.\w+)?)?", "--add-egress"),
)


@dataclass(frozen=True)
class TenantUpdate:
    """What to change; None or empty: leave it as it is."""

    size: str | None = None
    web_replicas: int | None = None
    auth: str | None = None
    oidc: OidcSettings | None = None
    trial_license: bool | None = None
    data_storage: str | None = None
    database_storage: str | None = None
    add_egress: tuple[EgressRule, ...] = ()
    remove_egress: tuple[str, ...] = ()
    add_hosts: tuple[HostRoute, ...] = ()
    remove_hosts: tuple[str, ...] = ()
    #: host -> cluster it moves to
    move_hosts: Mapping[str, str] = field(default_factory=dict)
    #: New placements: active primaries, or standbys on a tenant whose external database another
    #: placement runs the Windows Services against.
    add_clusters: tuple[str, ...] = ()
    remove_clusters: tuple[str, ...] = ()
    #: cluster -> URL
    application_urls: Mapping[str, str] = field(default_factory=dict)
    #: The flags given (for errors that name the flag).
    given: frozenset[str] = frozenset()

    @property
    def empty(self) -> bool:
        return not any((self.size, self.web_replicas is not None, self.auth, self.oidc,
                        self.trial_license is not None, self.data_storage, self.database_storage, self.add_egress,
                        self.remove_egress, self.add_hosts, self.remove_hosts, self.move_hosts, self.add_clusters,
                        self.remove_clusters, self.application_urls))


def default_branch_name(tenant: str) -> str:
    return f"gitops-gen/update-tenant-{tenant}"


def update_tenant(root: Path, name: str, update: TenantUpdate, *, dry_run: bool = False,
                  branch: str | None = None, checkout: bool = False) -> ChangeResult:
    if update.empty:
        raise UserError("update-tenant was given nothing to change",
                        "pass at least one setting, e.g. --size medium or --add-host portal.example.com; "
                        "'gitops-gen update-tenant --help' lists them", field="NAME")
    for c in update.remove_clusters:
        raise UserError(f"--remove-cluster {c}: a placement leaves in phases, each its own pull request",
                        f"run 'gitops-gen remove-tenant {name} --cluster {c} --phase drain', then retire and purge",
                        field="--remove-cluster")
    target = BranchTarget(branch or default_branch_name(name), None, checkout)
    summary: list[str] = []

    def draft(source: Source, er: EstateRepo, base: pygit2.Commit) -> Draft:
        config = load_config(source)
        clusters = load_clusters(source)
        if source.read(layout.tenant_file(name)) is None:
            raise UserError(f"tenant {name!r} does not exist in {source.label}", "'gitops-gen list' shows the "
                            "tenants; add it with 'gitops-gen add-tenant'", field="NAME")
        before = load_tenant(source, name)
        after, lines = _apply(before, update, clusters)
        summary[:] = lines
        if not lines:  # a rerun after the merge, or settings the tenant has already
            return Draft({}, "", notes=(f"{name} already has these settings on {source.label}",))
        rel = layout.tenant_file(name)
        text = _edited_text((source.read(rel) or b"").decode("utf-8"), before, after)
        wanted = {h.host for h in after.hosts} - {h.host for h in before.hosts}
        others = tenant_hosts_at(er.repo, base.tree, er.prefix, er.cache_dir, wanted=wanted) if wanted else {}
        try:
            checked = parse_tenant(rel, text, expected_name=name)
            check_tenant_against(checked, clusters, host_owners(dict(others)), where=source.label)
            check_tenant_settings(checked, config)
        except GitopsGenError as exc:
            mapped = flag_error(exc, rel, [f for f in UPDATE_FLAGS if f.flag in update.given], update.given)
            raise mapped from None
        _refuse_shrink(before, checked)
        notes = _refuse_claimed(er, base, replace(checked, hosts=tuple(h for h in checked.hosts if h.host in wanted)),
                                {target.branch}, update.given) if wanted else []
        desired = {rel: text, **tenant_files(config, clusters, checked)}
        removed = tuple(sorted(set(tenant_files(config, clusters, before)) - set(desired)))
        message = f"Update tenant {name}: " + "; ".join(lines) + "\n\n" + "\n".join(f"- {x}" for x in lines)
        return Draft(desired, message, removed=removed, notes=tuple(notes))

    result = commit_change(root, "update-tenant", target, draft, dry_run=dry_run)
    result.extra["updateTenant"] = {"tenant": name, "changes": summary}
    return result


def _apply(t: Tenant, u: TenantUpdate, clusters: Mapping[str, Any]) -> tuple[Tenant, list[str]]:
    """The tenant with the update applied, and a line per change for the commit message."""
    lines: list[str] = []
    out = t
    if u.size and u.size != t.size:
        lines.append(f"size {t.size} → {u.size}")
        out = replace(out, size=u.size)
    if u.web_replicas is not None and u.web_replicas != t.web_replicas:
        lines.append(f"web replicas {t.web_replicas} → {u.web_replicas}")
        out = replace(out, web_replicas=u.web_replicas)
    if u.auth and u.auth != t.auth:
        oidc = u.oidc if u.oidc is not None else t.oidc
        if u.auth in OIDC_AUTH_MODES and oidc is None:
            raise UserError(f"--auth {u.auth} signs users in with OpenID Connect and needs --oidc-client-id and "
                            "--oidc-metadata-url", "give the client (application) ID and the provider's discovery "
                            "document URL (.../.well-known/openid-configuration)", field="--oidc-client-id")
        lines.append(f"auth {t.auth} → {u.auth}")
        out = replace(out, auth=u.auth, oidc=oidc if u.auth in OIDC_AUTH_MODES else None)
    elif u.oidc is not None and u.oidc != t.oidc:
        lines.append("OpenID Connect settings")
        out = replace(out, oidc=u.oidc)
    if u.trial_license is not None and u.trial_license != t.trial_license:
        lines.append("trial licence" if u.trial_license else "licensed (serial number from the tenant's Secret)")
        out = replace(out, trial_license=u.trial_license)
    for what, value, current in (("data", u.data_storage, t.data_storage),
                                 ("database", u.database_storage, t.database_storage)):
        if value and value != current:
            lines.append(f"{what} volume {volume_sizes(t).get(_claim(what), current)} → {value}")
            out = replace(out, data_storage=value) if what == "data" else replace(out, database_storage=value)
    egress = [e for e in out.egress if e.cidr not in u.remove_egress]
    for cidr in u.remove_egress:
        if cidr not in {e.cidr for e in out.egress}:
            raise UserError(f"--remove-egress {cidr}: the tenant has no egress rule to {cidr}",
                            f"its rules: {', '.join(e.cidr for e in out.egress) or 'none'}", field="--remove-egress")
    for rule in u.add_egress:
        if rule not in egress:
            egress.append(rule)
    if tuple(egress) != out.egress:
        lines.append("egress " + ", ".join(f"{e.cidr}:{e.port}" for e in egress) if egress else "no egress rules")
        out = replace(out, egress=tuple(egress))
    placements = list(out.placements)
    details = list(out.details)
    for cluster in u.add_clusters:
        role = "standby" if t.database.mode == "external" else "primary"
        if cluster in placements:
            continue  # placed there already (a rerun after the merge): nothing to do
        if cluster not in clusters:
            raise UserError(f"--add-cluster {cluster}: no such cluster (known: {', '.join(sorted(clusters))})",
                            f"add it first with 'gitops-gen add-cluster {cluster} ...' and merge its branch",
                            field="--add-cluster")
        placements.append(cluster)
        details.append(Placement(cluster, role=role))
        lines.append(f"placed on {cluster} ({role})")
    hosts = list(out.hosts)
    for host in u.remove_hosts:
        if host not in {h.host for h in hosts}:
            raise UserError(f"--remove-host {host}: not one of the tenant's global hosts",
                            f"its hosts: {', '.join(h.host for h in hosts) or 'none'}", field="--remove-host")
        hosts = [h for h in hosts if h.host != host]
        lines.append(f"host {host} removed")
    for host, cluster in u.move_hosts.items():
        moving = next((h for h in hosts if h.host == host), None)
        if moving is None:
            raise UserError(f"--move-host {host}={cluster}: not one of the tenant's global hosts",
                            "add it with --add-host", field="--move-host")
        if cluster not in placements:
            raise UserError(f"--move-host {host}={cluster}: the tenant has no placement on {cluster}",
                            f"its placements: {', '.join(placements)}", field="--move-host")
        if moving.placement == cluster:
            continue  # there already
        hosts = [HostRoute(h.host, cluster) if h.host == host else h for h in hosts]
        lines.append(f"host {host} {moving.placement} → {cluster}")
    for route in u.add_hosts:
        placement = route.placement or placements[0]
        have = next((h for h in hosts if h.host == route.host), None)
        if have is not None and have.placement == placement:
            continue  # the tenant serves it there already (a rerun after the merge)
        if have is not None:
            raise UserError(f"--add-host {route.host}={placement}: the tenant serves it on {have.placement}",
                            f"move it with --move-host {route.host}={placement}", field="--add-host")
        if placement not in placements:
            raise UserError(f"--add-host {route.host}={placement}: the tenant has no placement on {placement}",
                            f"its placements: {', '.join(placements)}", field="--add-host")
        hosts.append(HostRoute(route.host, placement))
        lines.append(f"host {route.host} added on {placement}")
    out = replace(out, placements=tuple(placements), hosts=tuple(hosts), details=tuple(details))
    # ApplicationUrl: recorded for every placement (a file from before it was gets today's value, so
    # adding or reordering hosts never changes it); an explicit --application-url changes it.
    recorded = []
    for c in out.placements:
        p = out.placement(c)
        url = u.application_urls.get(c)
        if url is None and c in t.placements:
            url = p.application_url or application_url(t, clusters[c])
        elif url is None:
            url = application_url(out, clusters[c])
        if c in t.placements and url != (t.placement(c).application_url or application_url(t, clusters[c])):
            lines.append(f"ApplicationUrl on {c} → {url}")
        served = [*(h.host for h in out.hosts if h.placement == c), clusters[c].regional_host(out.name)]
        if c not in u.application_urls and p.serves and url.split("/")[2] not in served:
            raise UserError(f"the placement on {c} would no longer serve {url.split('/')[2]}, the host of its "
                            f"ApplicationUrl {url} (links in e-mails, OpenID Connect redirects)",
                            f"say where users go instead: add --application-url {c}=https://{served[0]}/wfgen "
                            "(and update the identity provider's redirect URI)", field="--application-url")
        recorded.append(replace(p, application_url=url))
    for c in u.application_urls:
        if c not in out.placements:
            raise UserError(f"--application-url {c}=...: the tenant has no placement on {c}",
                            f"its placements: {', '.join(out.placements)}", field="--application-url")
    out = replace(out, details=tuple(recorded))
    return out, lines


def _claim(what: str) -> str:
    return DATA_PVC if what == "data" else DATABASE_PVC


def _refuse_shrink(before: Tenant, after: Tenant) -> None:
    """A claim never shrinks (the API server refuses it): a smaller size, or a smaller size tier that lowers
    a volume with no size of its own, is refused before anything is planned."""
    old, new = volume_sizes(before), volume_sizes(after)
    for claim, size in new.items():
        if claim in old and parse_quantity(size) < parse_quantity(old[claim]):
            what = "database" if claim == _claim("database") else "data"
            raise UserError(f"the {what} volume would shrink from {old[claim]} to {size}: a claim never shrinks",
                            f"keep it at {old[claim]} or more (--{what}-storage {old[claim]}); moving data to a "
                            "smaller volume is a migration, not an update", field=f"--{what}-storage")


def _edited_text(text: str, before: Tenant, after: Tenant) -> str:
    """tenant.yaml with ``after``'s values, edited in place: a top-level field is rewritten only when it
    changes, so comments elsewhere stay; placements keep their entries (edited_declaration)."""
    old, new = tenant_declaration(before), tenant_declaration(after)
    doc = yamlio.load_declaration(text)
    if [p["cluster"] for p in old["placements"]] != [p["cluster"] for p in new["placements"]]:
        for p in new["placements"]:
            if p["cluster"] not in [q["cluster"] for q in doc["placements"]]:
                doc["placements"].append({"cluster": p["cluster"]})
    for key in new:
        if key in ("placements", "apiVersion", "kind", "name"):
            continue
        if new[key] != old.get(key) or key not in doc:
            doc[key] = new[key]
    for key in list(doc):
        if key not in new and key in old:
            del doc[key]
    return edited_declaration(yamlio.dump_declaration(doc), after)

