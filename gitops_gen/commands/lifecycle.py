"""``gitops-gen remove-tenant``: a tenant, or one of its placements, leaves in three phases, each one commit
on its own branch off the default branch, each refused until the one before is on the default branch.

1. ``drain``: the placement's state becomes ``draining``: no Ingress (its hosts and their DNS records go),
   every workload at 0 replicas; the data, the secrets and the NetworkPolicies stay.
2. ``retire``: ``retired``: the overlay keeps only the Namespace, the claims (and the in-cluster database's
   StatefulSet at 0 replicas), the NetworkPolicies and the quota, so the controller prunes the rest.
   Refused until ``lifecycle.retentionDays`` (gitops-gen.yaml, 7 by default) have passed since the drain
   reached the default branch, unless ``--now --reason``.
3. ``purge``: the placement (the tenant, with its last one) leaves git. The data stays in the cluster,
   protected from pruning; what is left there and how to delete it after a backup is listed.

Data is never deleted by git-driven automation: every claim carries Prune=false,Delete=false (Argo CD)
and kustomize.toolkit.fluxcd.io/prune: disabled (Flux) in every phase.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field, replace
from pathlib import Path

import pygit2

from gitops_gen import yamlio
from gitops_gen.errors import UserError
from gitops_gen.estate import layout
from gitops_gen.estate.load import check_tenant_against, load_clusters, load_config, load_tenant
from gitops_gen.estate.model import Cluster, EstateConfig, Placement, Tenant, move_phase, parse_tenant
from gitops_gen.estate.source import Source
from gitops_gen.generate.files import tenant_files
from gitops_gen.generate.leftovers import left_in_cluster
from gitops_gen.write.transaction import BranchTarget, ChangeResult, Draft, EstateRepo, commit_change

PHASES = ("drain", "retire", "purge")
#: The state each phase leaves a placement in; None: the placement is gone from git.
_AFTER = {"drain": "draining", "retire": "retired", "purge": None}
#: The state a placement must be in on the default branch before each phase.
_BEFORE = {"drain": "active", "retire": "draining", "purge": "retired"}
#: How far back the default branch's first-parent history is read for the commit that drained a placement.
HISTORY_LIMIT = 20_000


@dataclass
class Removal:
    """What a remove-tenant phase found on the default branch and does (for the output and JSON)."""

    tenant: str
    phase: str
    clusters: list[str] = field(default_factory=list)
    #: Placements already past this phase: a no-op for them.
    done: list[str] = field(default_factory=list)
    #: Per cluster: what stays in the cluster after purge, and the steps to delete it after a backup.
    left: dict[str, list[str]] = field(default_factory=dict)
    steps: dict[str, list[str]] = field(default_factory=dict)
    drained_at: dict[str, str] = field(default_factory=dict)

    def as_json(self) -> dict[str, object]:
        return {"tenant": self.tenant, "phase": self.phase, "clusters": self.clusters, "alreadyDone": self.done,
                "drainedAt": self.drained_at, "leftInCluster": self.left, "manualSteps": self.steps}


def default_branch_name(tenant: str, phase: str, cluster: str | None) -> str:
    return f"gitops-gen/remove-tenant-{tenant}-{phase}" + (f"-{cluster}" if cluster else "")


def remove_tenant(root: Path, name: str, phase: str, cluster: str | None = None, *, now: bool = False,
                  reason: str | None = None, dry_run: bool = False, branch: str | None = None,
                  checkout: bool = False, today: dt.datetime | None = None) -> ChangeResult:
    """One phase of removing tenant ``name`` (or its placement on ``cluster``), committed on a new branch
    off the default branch. ``today``: the time the retention period is measured to (tests pass it)."""
    if phase not in PHASES:
        raise UserError(f"--phase {phase!r} is not a phase", f"choose --phase from {', '.join(PHASES)}",
                        field="--phase")
    if reason is not None and not reason.strip():
        raise UserError("--reason is empty", "say why the retention period is cut short", field="--reason")
    if now and phase != "retire":
        raise UserError(f"--now is for --phase retire, not {phase}", "drop --now", field="--now")
    if now and reason is None:
        raise UserError("--now skips the retention period and needs --reason TEXT",
                        "say why, e.g. --reason 'contract ended, backup taken (ticket 1234)'; it is recorded in "
                        "the commit message", field="--reason")
    removal = Removal(name, phase)
    target = BranchTarget(branch or default_branch_name(name, phase, cluster), None, checkout)
    moment = today or dt.datetime.now(dt.UTC)

    def draft(source: Source, er: EstateRepo, base: pygit2.Commit) -> Draft:
        # Drafted again on an older base when the branch exists already: what a draft found starts over.
        removal.clusters, removal.done, removal.left, removal.steps, removal.drained_at = [], [], {}, {}, {}
        config = load_config(source)
        clusters = load_clusters(source)
        rel = layout.tenant_file(name)
        if source.read(rel) is None:
            if phase == "purge":
                removal.done = [cluster] if cluster else []
                return Draft({}, "", notes=(f"tenant {name!r} is not in {source.label}: it was purged already "
                                            "(or never added); nothing to do",))
            raise UserError(f"tenant {name!r} does not exist in {source.label} ({rel})",
                            "'gitops-gen list' shows the tenants", field="NAME")
        tenant = load_tenant(source, name)
        if phase == "purge" and cluster is not None and cluster not in tenant.placements:
            removal.done = [cluster]
            return Draft({}, "", notes=(f"{name} has no placement on {cluster} in {source.label}: it was purged "
                                        "already (or never placed there); nothing to do",))
        chosen = _chosen(tenant, cluster)
        _refuse_moving(tenant, cluster)
        removal.clusters = chosen
        notes: list[str] = []
        updated = tenant
        for c in chosen:
            state = tenant.placement(c).state
            wanted = _BEFORE[phase]
            after = _AFTER[phase]
            if state == after:
                removal.done.append(c)
                notes.append(f"{name} on {c} is {state} on {source.label} already: the {phase} phase is done")
                continue
            if state != wanted:
                raise UserError(_out_of_order(name, c, state, phase), _first_phase_hint(name, c, state, phase, cluster),
                                field="--phase")
            if phase == "retire":
                removal.drained_at[c] = check_retention(er, base, name, c, config, moment, now, reason)
            if after is not None:
                updated = with_state(updated, c, after)
        if updated is tenant and phase != "purge":
            return Draft({}, "", notes=tuple(notes))
        if phase == "purge":
            gone = [c for c in chosen if c not in removal.done]
            if not gone:
                return Draft({}, "", notes=tuple(notes))
            return purge_draft(source, config, clusters, tenant, gone, removal, notes)
        desired, removed = changed_files(source, config, clusters, tenant, updated)
        return Draft(desired, removal_message(removal, tenant, clusters, reason), removed=removed, notes=tuple(notes))

    result = commit_change(root, "remove-tenant", target, draft, dry_run=dry_run)
    result.extra["removeTenant"] = removal.as_json()
    return result


def _chosen(tenant: Tenant, cluster: str | None) -> list[str]:
    if cluster is None:
        return list(tenant.placements)
    if cluster not in tenant.placements:
        raise UserError(f"--cluster {cluster!r}: tenant {tenant.name!r} has no placement there (its placements: "
                        f"{', '.join(tenant.placements)})", "name one of them, or drop --cluster to remove every "
                        "placement", field="--cluster")
    return [cluster]


def _refuse_moving(tenant: Tenant, cluster: str | None) -> None:
    """One placement of a move in progress leaves through move-tenant until the target runs the Windows
    Services: before that, the source is the only primary, and the target is the provision to undo."""
    phase = move_phase(tenant)
    if cluster is None or tenant.move is None or cluster not in (tenant.move.source, tenant.move.target):
        return
    if phase in ("provision", "cutover", "abort"):
        m = tenant.move
        raise UserError(f"{tenant.name} is moving from {m.source} to {m.target} (phase {phase} merged): its "
                        f"placement on {cluster} leaves through move-tenant",
                        f"'gitops-gen move-tenant {tenant.name} --to {m.target} --abort' undoes the move before "
                        "cutover; after it, --phase start-services then --phase finish retire the old placement",
                        field="--cluster")
    if cluster == tenant.move.target:
        raise UserError(f"{tenant.name} has just moved to {cluster}: its placement there is the tenant's primary",
                        f"finish the move first ('gitops-gen move-tenant {tenant.name} --to {cluster} --phase "
                        "finish'), then remove it", field="--cluster")


def _out_of_order(name: str, cluster: str, state: str, phase: str) -> str:
    return (f"{name} on {cluster} is {state} on the default branch, and --phase {phase} needs it "
            f"{_BEFORE[phase]}")


def _first_phase_hint(name: str, cluster: str, state: str, phase: str, chosen: str | None) -> str:
    order = {"active": 0, "draining": 1, "retired": 2}
    on = f" --cluster {cluster}" if chosen else ""
    if order[state] < PHASES.index(phase):
        needed = PHASES[order[state]]
        return (f"run 'gitops-gen remove-tenant {name}{on} --phase {needed}' first and merge its pull request; "
                "each phase is refused until the one before is on the default branch")
    return f"{name} on {cluster} is past --phase {phase} already; the next phase is {PHASES[order[state]]}"


def with_state(tenant: Tenant, cluster: str, state: str) -> Tenant:
    return with_placement(tenant, replace(tenant.placement(cluster), state=state))


def with_placement(tenant: Tenant, placement: Placement) -> Tenant:
    """The tenant with ``placement`` in place of what it declared for that cluster."""
    details = [p for p in tenant.details if p.cluster != placement.cluster]
    details.append(placement)
    order = {c: i for i, c in enumerate(tenant.placements)}
    return replace(tenant, details=tuple(sorted(details, key=lambda p: order[p.cluster])))


def edited_declaration(text: str, tenant: Tenant) -> str:
    """tenant.yaml's text with each placement's role, state, applicationUrl and windowsServices, where each
    host is served and the move in progress, as ``tenant`` has them, edited in place: comments and the order
    and spelling of every other field are kept."""
    doc = yamlio.load_declaration(text)
    listed = {str(p["cluster"]) for p in doc["placements"]}
    missing = [c for c in tenant.placements if c not in listed]
    if missing:  # a new placement (move-tenant's provision); read back, so it is edited like the others
        doc["placements"].extend({"cluster": c} for c in missing)
        doc = yamlio.load_declaration(yamlio.dump_declaration(doc))
    first = str(doc["placements"][0]["cluster"])
    for h in doc.get("hosts") or []:  # where each host is served (move-tenant's cutover moves them)
        now = next((x.placement for x in tenant.hosts if x.host == h.get("host")), None)
        if now is not None and now != h.get("placement", first):
            h["placement"] = now
    for p in doc["placements"]:
        placement = tenant.placement(str(p["cluster"]))
        position = 1  # after 'cluster', in this order: role, state, applicationUrl, windowsServices
        for key, value, default in (("role", placement.role, "primary"), ("state", placement.state, "active"),
                                    ("applicationUrl", placement.application_url, None),
                                    ("windowsServices", "held" if placement.services_held else "running",
                                     "running")):
            if value == default:
                if key in p:
                    del p[key]
                continue
            if key in p:
                p[key] = value
            else:
                p.insert(min(position, len(p)), key, value)
            position = list(p).index(key) + 1
    if tenant.move is None:
        doc.pop("move", None)
    else:
        doc["move"] = {"from": tenant.move.source, "to": tenant.move.target}
    return yamlio.dump_declaration(doc)


def changed_files(source: Source, config: EstateConfig, clusters: dict[str, Cluster], before: Tenant,
           after: Tenant) -> tuple[dict[str, str], tuple[str, ...]]:
    """The tenant's new declaration and derived files, and the derived files it no longer has."""
    rel = layout.tenant_file(after.name)
    text = edited_declaration((source.read(rel) or b"").decode("utf-8"), after)
    checked = parse_tenant(rel, text, expected_name=after.name)  # exactly as it will be read back
    check_tenant_against(checked, clusters, {})
    desired = {rel: text, **tenant_files(config, clusters, checked)}
    removed = tuple(sorted(set(tenant_files(config, clusters, before)) - set(desired)))
    return desired, removed


def _drain_commit(er: EstateRepo, base: pygit2.Commit, tenant: str, cluster: str) -> pygit2.Commit:
    """The first-parent commit of the default branch from which the placement has been draining ever since
    (a merge, a squash or a fast-forward of the drain's pull request)."""
    path = er.prefix + layout.tenant_file(tenant)
    since = base
    last_blob: pygit2.Oid | None = None
    commit = base
    for _ in range(HISTORY_LIMIT):
        try:
            blob_id = commit.tree[path].id
        except KeyError:
            break
        if blob_id != last_blob:
            text = er.repo[blob_id].peel(pygit2.Blob).data.decode("utf-8", "replace")
            try:
                state = parse_tenant(path, text).placement(cluster).state
            except UserError:
                break
            if state != "draining":
                break
            last_blob = blob_id
        since = commit
        if not commit.parents:
            break
        commit = commit.parents[0]
    return since


def check_retention(er: EstateRepo, base: pygit2.Commit, tenant: str, cluster: str, config: EstateConfig,
                     moment: dt.datetime, now: bool, reason: str | None) -> str:
    drained = _drain_commit(er, base, tenant, cluster)
    at = dt.datetime.fromtimestamp(drained.commit_time, dt.UTC)
    allowed = at + dt.timedelta(days=config.retention_days)
    if moment < allowed and not now:
        raise UserError(f"{tenant} on {cluster} was drained on {at:%Y-%m-%d %H:%M} UTC (commit "
                        f"{str(drained.id)[:12]}): {(moment - at).days} of its {config.retention_days} days of "
                        "retention have passed",
                        f"wait until {allowed:%Y-%m-%d %H:%M} UTC (lifecycle.retentionDays in gitops-gen.yaml), or "
                        "pass --now --reason TEXT to retire it at once; the reason goes in the commit message",
                        field="--phase")
    return at.strftime("%Y-%m-%dT%H:%M:%SZ")


def purge_draft(source: Source, config: EstateConfig, clusters: dict[str, Cluster], tenant: Tenant,
                 gone: list[str], removal: Removal, notes: list[str]) -> Draft:
    for c in gone:
        removal.left[c], removal.steps[c] = left_in_cluster(config, tenant, clusters[c])
    remaining = [c for c in tenant.placements if c not in gone]
    before = set(tenant_files(config, clusters, tenant))
    rel = layout.tenant_file(tenant.name)
    if not remaining:
        desired: dict[str, str] = {}
        removed = tuple(sorted(before | {rel}))
        released = [h.host for h in tenant.hosts]
    else:
        released = [h.host for h in tenant.hosts if h.placement in gone]
        doc = yamlio.load_declaration((source.read(rel) or b"").decode("utf-8"))
        # Deleted in place (from the end), so the comments of what stays are kept.
        for i in reversed(range(len(doc["placements"]))):
            if doc["placements"][i]["cluster"] in gone:
                del doc["placements"][i]
        hosts = doc.get("hosts") or []
        for i in reversed(range(len(hosts))):
            if hosts[i].get("placement", tenant.placements[0]) in gone:
                del hosts[i]
        if tenant.move is not None and {tenant.move.source, tenant.move.target} & set(gone):
            del doc["move"]  # the move ends with either of its placements: finished, or aborted
        text = yamlio.dump_declaration(doc)
        checked = parse_tenant(rel, text, expected_name=tenant.name)
        desired = {rel: text, **tenant_files(config, clusters, checked)}
        removed = tuple(sorted(before - set(desired)))
    if released:
        notes.append(f"hosts released (no longer claimed by {tenant.name}): {', '.join(released)}")
    for c in gone:
        notes.append(f"left in cluster {c}, protected from pruning: " + "; ".join(removal.left[c]))
        notes.append(f"to delete it on {c} after a backup: " + "; then ".join(removal.steps[c]))
    return Draft(desired, removal_message(removal, tenant, clusters, None), removed=removed, notes=tuple(notes))


def removal_message(removal: Removal, tenant: Tenant, clusters: dict[str, Cluster], reason: str | None) -> str:
    gone = [c for c in removal.clusters if c not in removal.done]
    on = ", ".join(gone)
    title = {"drain": f"Drain tenant {tenant.name} on {on}", "retire": f"Retire tenant {tenant.name} on {on}",
             "purge": f"Purge tenant {tenant.name} from {on}"}[removal.phase]
    lines = [title, "", f"remove-tenant phase {removal.phase} ({PHASES.index(removal.phase) + 1}/3)."]
    if removal.phase == "drain":
        hosts = [h for c in gone for h in [*tenant.global_hosts_of(c), clusters[c].regional_host(tenant.name)]]
        lines += ["", "No longer served: " + ", ".join(hosts) + " (Ingress and DNS records removed).",
                  "Web, Windows Services and database scaled to 0 replicas; data, secrets and NetworkPolicies kept.",
                  "Next: --phase retire, after lifecycle.retentionDays."]
    elif removal.phase == "retire":
        lines += ["", "Pruned by the controller: the WorkflowGen Deployments, Services, ServiceAccounts, "
                  "ConfigMaps, ExternalSecrets and the LimitRange.",
                  "Kept: the Namespace, the PersistentVolumeClaims (and the database's StatefulSet at 0 "
                  "replicas), the NetworkPolicies and the quota.",
                  *(f"Drained on {c} at {removal.drained_at[c]}." for c in gone if c in removal.drained_at)]
        if reason is not None:
            lines += ["", f"Retention period cut short (--now): {reason.strip()}"]
    else:
        for c in gone:
            lines += ["", f"Left in cluster {c}, protected from pruning:",
                      *(f"- {x}" for x in removal.left[c]), "", f"To delete it on {c}, after a backup:",
                      *(f"{i}. {s}" for i, s in enumerate(removal.steps[c], 1))]
    return "\n".join(lines)

