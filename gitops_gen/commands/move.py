"""``gitops-gen move-tenant``: a tenant moves from one cluster to another, one pull request per phase, each
refused until the one before is on the default branch. tenant.yaml records ``move: {from: C1, to: C2}``
while it moves; which phase is merged follows from the two placements (``model.move_phase``).

1. ``provision``: a standby placement on C2 (its regional host only, no Windows Services). The pull
   request lists the data steps: the secrets, the database backup to restore and ``C:\\wfgen\\data`` to
   copy (a shared external database needs no restore).
2. ``cutover``: the global hosts move to C2 and the roles swap (C2 primary, C1 standby) in one commit,
   with C2's Windows Services held at 0 replicas (``windowsServices: held``). Two clusters reconcile
   independently, so one commit cannot order "stop on C1" before "start on C2"; the start is its own
   commit:
3. ``start-services``: C2's Windows Services start, once they have stopped on C1. So at every commit of
   the default branch at most one placement runs them (the vendor allows one instance per database).
4. ``finish``: C1 goes through remove-tenant's drain, retire (after the retention period) and purge,
   one pull request each; the purge ends the move.

``--abort`` before the cutover undoes the provision: C2 drains, then leaves git (its data, a copy, stays
in the cluster, listed as after a purge). The retention period does not apply: that placement never ran the
Windows Services nor served a global host.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field, replace
from pathlib import Path

import pygit2

from gitops_gen.commands.lifecycle import (
    Removal,
    changed_files,
    check_retention,
    purge_draft,
    removal_message,
    with_placement,
    with_state,
)
from gitops_gen.errors import UserError
from gitops_gen.estate import layout
from gitops_gen.estate.load import load_clusters, load_config, load_tenant
from gitops_gen.estate.model import (
    MOVE_PHASES,
    Cluster,
    EstateConfig,
    Placement,
    Tenant,
    TenantMove,
    move_phase,
)
from gitops_gen.estate.source import Source
from gitops_gen.generate.common import APP_SECRET, DATA_PVC, DATABASE, DATABASE_PVC, WIN_SERVICES
from gitops_gen.generate.overlay import application_url, remote_key
from gitops_gen.write.transaction import BranchTarget, ChangeResult, Draft, EstateRepo, commit_change

#: Each phase's step number, for the messages ("phase 2/4").
_NUMBER = {p: i for i, p in enumerate(MOVE_PHASES, 1)}
#: finish's steps: remove-tenant's phases of the old placement, chosen by its state on the default branch.
_FINISH_STEP = {"active": "drain", "draining": "retire", "retired": "purge"}


@dataclass
class MoveReport:
    """What a move-tenant phase found on the default branch and does (for the output and JSON)."""

    tenant: str
    phase: str
    source: str | None = None
    target: str | None = None
    #: finish and abort: the remove-tenant step this run takes (drain, retire, purge).
    step: str | None = None
    #: What to do by hand around this pull request (data to copy, what to check before merging).
    manual: list[str] = field(default_factory=list)
    hosts: list[str] = field(default_factory=list)
    left: dict[str, list[str]] = field(default_factory=dict)
    steps: dict[str, list[str]] = field(default_factory=dict)
    next: str | None = None

    def as_json(self) -> dict[str, object]:
        return {"tenant": self.tenant, "phase": self.phase, "from": self.source, "to": self.target,
                "step": self.step, "manualSteps": self.manual, "hostsMoved": self.hosts,
                "leftInCluster": self.left, "purgeSteps": self.steps, "next": self.next}


def default_branch_name(tenant: str, phase: str, step: str | None = None) -> str:
    return f"gitops-gen/move-tenant-{tenant}-{phase}" + (f"-{step}" if step else "")


def move_tenant(root: Path, name: str, to: str, phase: str | None, *, source: str | None = None,
                abort: bool = False, now: bool = False, reason: str | None = None, dry_run: bool = False,
                branch: str | None = None, checkout: bool = False,
                today: dt.datetime | None = None) -> ChangeResult:
    """One phase of moving tenant ``name`` to cluster ``to`` (or, with ``abort``, one step of undoing its
    provision), committed on a new branch off the default branch."""
    if abort and phase is not None:
        raise UserError(f"--abort and --phase {phase} are two different changes", "pass one of them",
                        field="--abort")
    if not abort and phase not in MOVE_PHASES:
        raise UserError(f"--phase {phase!r} is not a phase of move-tenant" if phase else "--phase is missing",
                        f"choose --phase from {', '.join(MOVE_PHASES)}, or pass --abort", field="--phase")
    label = "abort" if abort else str(phase)
    if reason is not None and not reason.strip():
        raise UserError("--reason is empty", "say why the retention period is cut short", field="--reason")
    if now and label != "finish":
        raise UserError(f"--now is for --phase finish (its retire step), not {label}", "drop --now", field="--now")
    if now and reason is None:
        raise UserError("--now skips the retention period and needs --reason TEXT",
                        "say why, e.g. --reason 'moved, backup verified (ticket 1234)'; it is recorded in the "
                        "commit message", field="--reason")
    report = MoveReport(name, label)
    moment = today or dt.datetime.now(dt.UTC)
    expected: list[str | None] = [None]

    def draft(source_: Source, er: EstateRepo, base: pygit2.Commit) -> Draft:
        fresh = MoveReport(name, label)
        report.__dict__.update(fresh.__dict__)  # drafted again on an older base: what a draft found starts over
        d = _phase_draft(source_, er, base)
        if expected[0] is not None and report.step != expected[0]:
            raise UserError(f"the default branch changed while move-tenant ran (step {report.step}, not "
                            f"{expected[0]})", "run the command again")
        return d

    def _phase_draft(source_: Source, er: EstateRepo, base: pygit2.Commit) -> Draft:
        config, clusters = load_config(source_), load_clusters(source_)
        rel = layout.tenant_file(name)
        if source_.read(rel) is None:
            raise UserError(f"tenant {name!r} does not exist in {source_.label} ({rel})",
                            "'gitops-gen list' shows the tenants", field="NAME")
        tenant = load_tenant(source_, name)
        ctx = _Context(source_, er, base, config, clusters, tenant, report)
        if abort:
            return _abort(ctx, to)
        if phase == "provision":
            return _provision(ctx, to, source)
        moving = _moving(ctx, to, source, str(phase))
        if moving is None:
            return Draft({}, "", notes=(f"{name} is on {to} and no move is in progress on {source_.label}: "
                                        f"the {phase} phase is done (or the move is finished)",))
        if phase == "cutover":
            return _cutover(ctx, moving)
        if phase == "start-services":
            return _start_services(ctx, moving)
        return _finish(ctx, moving, now, reason, moment)

    if branch is None and label in ("finish", "abort"):
        # Their branch names carry the step (gitops-gen/move-tenant-NAME-finish-drain), which only the
        # default branch tells: a dry draft finds it, nothing written; the change is then made on that branch.
        probe = commit_change(root, "move-tenant", BranchTarget(default_branch_name(name, label), None, False),
                              draft, dry_run=True)
        expected[0] = report.step
        if dry_run:
            probe.branch = default_branch_name(name, label, report.step)
            probe.extra["moveTenant"] = report.as_json()
            return probe
    target = BranchTarget(branch or default_branch_name(name, label, expected[0]), None, checkout)
    result = commit_change(root, "move-tenant", target, draft, dry_run=dry_run)
    result.extra["moveTenant"] = report.as_json()
    return result


@dataclass
class _Context:
    source: Source
    er: EstateRepo
    base: pygit2.Commit
    config: EstateConfig
    clusters: dict[str, Cluster]
    tenant: Tenant
    report: MoveReport


def _placement_url(tenant: Tenant, cluster: Cluster, path: str) -> str:
    return f"https://{cluster.regional_host(tenant.name)}/{path}"


def _url_path(url: str) -> str:
    return url.split("/", 3)[3] if url.count("/") >= 3 else "wfgen"


def _provision(ctx: _Context, to: str, source: str | None) -> Draft:
    t, clusters, r = ctx.tenant, ctx.clusters, ctx.report
    phase = move_phase(t)
    if t.move is not None:
        if t.move.target == to and phase == "provision":
            r.source, r.target = t.move.source, to
            r.next = f"gitops-gen move-tenant {t.name} --to {to} --phase cutover"
            return Draft({}, "", notes=(f"{t.name} is provisioned on {to} already: the provision phase is done",))
        raise UserError(f"{t.name} is moving from {t.move.source} to {t.move.target} already (phase {phase} "
                        "merged)", _next_hint(t), field="--to")
    if to not in clusters:
        raise UserError(f"--to {to!r}: no such cluster (known: {', '.join(sorted(clusters))})",
                        f"add it first with 'gitops-gen add-cluster {to} ...' and merge its branch", field="--to")
    src = _source_of(t, source)
    if src == to:
        raise UserError(f"--to {to}: the tenant's primary is on {to} already", "name another cluster", field="--to")
    r.source, r.target = src, to
    have = t.placement(to) if to in t.placements else None
    if have is not None and (have.role, have.state) != ("standby", "active"):
        raise UserError(f"--to {to}: {t.name} is placed there already, as a {have.state} {have.role}",
                        "a move goes to a new placement or to an active standby; 'gitops-gen list --tenant "
                        f"{t.name}' shows its placements", field="--to")
    moved = replace(t, move=TenantMove(src, to))
    if have is None:
        url = _placement_url(t, clusters[to], _url_path(application_url(t, clusters[src])))
        moved = with_placement(replace(moved, placements=(*t.placements, to)),
                               Placement(to, role="standby", application_url=url))
    r.manual = _data_steps(ctx.config, t, clusters[src], clusters[to])
    r.next = f"gitops-gen move-tenant {t.name} --to {to} --phase cutover"
    title = f"Move tenant {t.name} to {to}: provision a standby"
    lines = [title, "", f"move-tenant phase provision (1/4), from {src} to {to}.", "",
             (f"{to} gets a standby placement: its regional host {clusters[to].regional_host(t.name)} only, "
              "no global host, no Windows Services." if have is None else
              f"{to} is a standby of {t.name} already: the move starts from it."),
             "", "Data steps, before --phase cutover:", *(f"{i}. {s}" for i, s in enumerate(r.manual, 1)),
             "", f"Next: {r.next}"]
    return _draft(ctx, moved, "\n".join(lines), notes=[f"before the cutover: {s}" for s in r.manual])


def _source_of(t: Tenant, given: str | None) -> str:
    """The placement the tenant moves from: --from, else its one active primary."""
    if given is not None:
        if given not in t.placements:
            raise UserError(f"--from {given!r}: tenant {t.name!r} has no placement there (its placements: "
                            f"{', '.join(t.placements)})", "name the cluster it moves from", field="--from")
        p = t.placement(given)
        if (p.role, p.state) != ("primary", "active") or p.services_held:
            raise UserError(f"--from {given}: the placement there is a {p.state} {p.role}, not the active primary "
                            "that runs the Windows Services", "a move starts from the tenant's active primary",
                            field="--from")
        return given
    primaries = [c for c in t.placements if t.placement(c).runs_windows_services]
    if len(primaries) != 1:
        raise UserError(f"{t.name} has {len(primaries)} active primaries ({', '.join(primaries) or 'none'}): "
                        "which one moves is not clear", "name it with --from CLUSTER", field="--from")
    return primaries[0]


def _data_steps(config: EstateConfig, t: Tenant, src: Cluster, dst: Cluster) -> list[str]:
    ns = t.namespace
    if config.secrets_mode == "external-secrets":
        secrets = (f"copy the secret store key {remote_key(config, t, src)} to {remote_key(config, t, dst)}, "
                   "the encryption key included: the data's passwords are encrypted with "
                   "ApplicationSecurityPasswordSymmetricEncryptionKey")
    else:
        secrets = (f"create the Secrets of {ns} on {dst.name} ({APP_SECRET} and the others) with {src.name}'s "
                   "values, the encryption key included: the data's passwords are encrypted with "
                   "ApplicationSecurityPasswordSymmetricEncryptionKey")
    steps = [secrets]
    if t.database.mode == "in-cluster":
        steps.append(f"back up the WFGEN database on {src.name} ({ns}/{DATABASE}, SQL Server BACKUP DATABASE) and "
                     f"restore it into {ns}/{DATABASE} on {dst.name}, whose volume is {ns}/{DATABASE_PVC}")
    else:
        steps.append(f"nothing for the database: both placements use the tenant's external database "
                     f"({', '.join(t.database.cidrs)})")
    steps.append(f"copy C:\\wfgen\\data (appdata, wfapps) from {ns}/{DATA_PVC} on {src.name} to {ns}/{DATA_PVC} "
                 f"on {dst.name}")
    return steps


def _next_hint(t: Tenant) -> str:
    assert t.move is not None
    m, phase = t.move, move_phase(t)
    following = {"provision": "--phase cutover (or --abort)", "cutover": "--phase start-services",
                 "start-services": "--phase finish", "finish": "--phase finish", "abort": "--abort"}[str(phase)]
    return (f"go on with 'gitops-gen move-tenant {t.name} --to {m.target} {following}', and merge each pull "
            "request before the next")


def _moving(ctx: _Context, to: str, source: str | None, phase: str) -> TenantMove | None:
    """The move in progress to ``to``; None when the tenant is not moving and ``to`` is its primary (the
    move is done: a rerun is a no-op). Refused when no move to ``to`` is in progress."""
    t = ctx.tenant
    if t.move is None:
        if to in t.placements and t.placement(to).role == "primary":
            ctx.report.target = to
            return None
        raise UserError(f"{t.name} is not moving to {to}: no move is in progress",
                        f"start one with 'gitops-gen move-tenant {t.name} --to {to} --phase provision'",
                        field="--phase")
    if t.move.target != to:
        raise UserError(f"--to {to}: {t.name} is moving from {t.move.source} to {t.move.target}",
                        f"pass --to {t.move.target}", field="--to")
    if source is not None and source != t.move.source:
        raise UserError(f"--from {source}: {t.name} is moving from {t.move.source}", f"pass --from {t.move.source} "
                        "or drop --from", field="--from")
    ctx.report.source, ctx.report.target = t.move.source, t.move.target
    done = move_phase(t)
    if done == "abort":
        raise UserError(f"the move of {t.name} to {to} is being aborted ({to} is draining)",
                        f"finish the abort: 'gitops-gen move-tenant {t.name} --to {to} --abort'", field="--phase")
    needed = MOVE_PHASES[MOVE_PHASES.index(phase) - 1]
    if _NUMBER[str(done)] < _NUMBER[needed]:
        raise UserError(f"{t.name}'s move to {to} has phase {done} merged, and --phase {phase} needs phase "
                        f"{needed} on the default branch",
                        f"run 'gitops-gen move-tenant {t.name} --to {to} --phase {MOVE_PHASES[_NUMBER[str(done)]]}' "
                        "first and merge its pull request", field="--phase")
    return t.move


def _cutover(ctx: _Context, m: TenantMove) -> Draft:
    t, clusters, r = ctx.tenant, ctx.clusters, ctx.report
    if move_phase(t) != "provision":
        return Draft({}, "", notes=(f"{t.name} is cut over to {m.target} already: the cutover phase is done",))
    src, dst = clusters[m.source], clusters[m.target]
    old_url = application_url(t, src)
    moving = [h.host for h in t.hosts if h.placement == m.source]
    hosts = tuple(replace(h, placement=m.target) if h.placement == m.source else h for h in t.hosts)
    # The new primary announces the old one's URL when its host moves with it; the old one, now a
    # standby, its regional host.
    url_host = old_url.split("/")[2]
    new_url = old_url if url_host in moving else _placement_url(t, dst, _url_path(old_url))
    out = replace(t, hosts=hosts)
    out = with_placement(out, replace(t.placement(m.source), role="standby",
                                      application_url=_placement_url(t, src, _url_path(old_url))))
    out = with_placement(out, replace(t.placement(m.target), role="primary", application_url=new_url,
                                      services_held=True))
    r.hosts = moving
    r.manual = [
        *(["lower the TTL of the DNS records of " + ", ".join(moving) + " (e.g. to 60 s) at least one TTL period "
           "before merging: resolvers then follow the move within a minute; raise it again after"] if moving else []),
        f"after the merge, {m.target} serves {', '.join([*moving, dst.regional_host(t.name)])} and {m.source} "
        f"only {src.regional_host(t.name)}; Windows Services run on neither until --phase start-services",
    ]
    if t.database.mode == "in-cluster":
        r.manual.insert(0, f"{m.target} has its own database: what {m.source} wrote since the backup restored "
                        f"there is not on {m.target}. In a maintenance window, right before merging, take the "
                        f"final backup of {m.source}'s database and C:\\wfgen\\data and restore them on {m.target}")
    r.next = f"gitops-gen move-tenant {t.name} --to {m.target} --phase start-services"
    lines = [f"Move tenant {t.name} to {m.target}: cut over", "",
             f"move-tenant phase cutover (2/4), from {m.source} ({src.region}) to {m.target} ({dst.region}).", "",
             (f"Global hosts moved from {m.source} to {m.target}: {', '.join(moving)}." if moving else
              "No global host to move."),
             f"Roles: {m.target} primary (Windows Services held at 0 until --phase start-services), "
             f"{m.source} standby (Windows Services stop).",
             f"ApplicationUrl: {m.target} {new_url}; {m.source} {_placement_url(t, src, _url_path(old_url))}.",
             "", "Around the merge:", *(f"- {s}" for s in r.manual), "", f"Next: {r.next}"]
    return _draft(ctx, out, "\n".join(lines), notes=list(r.manual))


def _start_services(ctx: _Context, m: TenantMove) -> Draft:
    t, clusters, r = ctx.tenant, ctx.clusters, ctx.report
    if move_phase(t) != "cutover":
        return Draft({}, "", notes=(f"{t.name}'s Windows Services run on {m.target} already: the start-services "
                                    "phase is done",))
    out = with_placement(t, replace(t.placement(m.target), services_held=False))
    ns = t.namespace
    r.manual = [f"before merging, check the Windows Services have stopped on {m.source}: 'kubectl --context "
                f"{m.source} -n {ns} get deployment {WIN_SERVICES}' shows 0/0, and 'kubectl --context {m.source} "
                f"-n {ns} get pods' lists no {WIN_SERVICES} pod (the cutover must be synced there)"]
    r.next = f"gitops-gen move-tenant {t.name} --to {m.target} --phase finish"
    lines = [f"Move tenant {t.name} to {m.target}: start the Windows Services", "",
             f"move-tenant phase start-services (3/4), from {m.source} to {m.target}.", "",
             f"The Windows Services start on {m.target}, the tenant's primary since the cutover; they stopped on "
             f"{m.source} with it. One instance per database at every commit.",
             "", *(f"- {s}" for s in r.manual), "", f"Next: {r.next} ({m.source} drains, retires, then leaves git)"]
    del clusters
    return _draft(ctx, out, "\n".join(lines), notes=list(r.manual))


def _finish(ctx: _Context, m: TenantMove, now: bool, reason: str | None, moment: dt.datetime) -> Draft:
    t, r = ctx.tenant, ctx.report
    step = _FINISH_STEP[t.placement(m.source).state]
    r.step = step
    if step != "retire" and now:
        raise UserError(f"--now is for finish's retire step; {m.source} is due for {step}", "drop --now",
                        field="--now")
    removal = Removal(t.name, step, [m.source])
    after = {"drain": "draining", "retire": "retired"}.get(step)
    if step == "retire":
        removal.drained_at[m.source] = check_retention(ctx.er, ctx.base, t.name, m.source, ctx.config, moment, now,
                                                       reason)
    title = f"Move tenant {t.name} to {m.target}: finish, {step} {m.source}"
    later = {"drain": "Next: the same command retires it after lifecycle.retentionDays, then purges it.",
             "retire": "Next: the same command purges it.", "purge": f"The move to {m.target} is finished."}[step]
    r.next = None if step == "purge" else f"gitops-gen move-tenant {t.name} --to {m.target} --phase finish"
    head = [title, "", f"move-tenant phase finish (4/4), step {step} of {m.source}.", ""]
    if step == "purge":
        d = purge_draft(ctx.source, ctx.config, ctx.clusters, t, [m.source], removal, [])
        r.left, r.steps = removal.left, removal.steps
        body = d.message.split("\n", 3)[3].lstrip("\n") if d.message.count("\n") >= 3 else d.message
        return replace(d, message="\n".join([*head, body, "", later]))
    assert after is not None
    out = with_state(t, m.source, after)
    body = removal_message(removal, t, ctx.clusters, reason).split("\n", 3)[3].lstrip("\n")
    return _draft(ctx, out, "\n".join([*head, body, "", later]), notes=[later])


def _abort(ctx: _Context, to: str) -> Draft:
    t, r = ctx.tenant, ctx.report
    r.target = to
    if t.move is None:
        if to not in t.placements:
            return Draft({}, "", notes=(f"{t.name} has no placement on {to} and no move in progress: the abort is "
                                        "done (or there was no move)",))
        raise UserError(f"{t.name} is not moving to {to}: there is no move to abort",
                        f"to remove its placement there, 'gitops-gen remove-tenant {t.name} --cluster {to} "
                        "--phase drain', then retire and purge", field="--abort")
    m = t.move
    if m.target != to:
        raise UserError(f"--to {to}: {t.name} is moving from {m.source} to {m.target}", f"pass --to {m.target}",
                        field="--to")
    r.source = m.source
    phase = move_phase(t)
    if phase in ("cutover", "start-services", "finish"):
        raise UserError(f"{t.name}'s move to {to} is cut over already (phase {phase} merged): --abort undoes only "
                        "the provision", f"go back by moving again: finish this move ('--phase finish'), then "
                        f"'gitops-gen move-tenant {t.name} --to {m.source} --phase provision'", field="--abort")
    if phase == "provision":
        r.step = "drain"
        out = with_state(t, to, "draining")
        r.next = f"gitops-gen move-tenant {t.name} --to {to} --abort"
        lines = [f"Abort moving tenant {t.name} to {to}: drain {to}", "",
                 f"move-tenant --abort, step 1/2: the standby on {to} stops serving "
                 f"{ctx.clusters[to].regional_host(t.name)} and every workload there goes to 0 replicas; its data, "
                 f"secrets and NetworkPolicies stay. {m.source} stays the primary, unchanged.", "",
                 f"Next: {r.next} (once merged: {to} leaves git; no retention period, it never was the primary)"]
        return _draft(ctx, out, "\n".join(lines), notes=[f"next: {r.next}"])
    r.step = "purge"
    removal = Removal(t.name, "purge", [to])
    d = purge_draft(ctx.source, ctx.config, ctx.clusters, t, [to], removal, [])
    r.left, r.steps = removal.left, removal.steps
    body = d.message.split("\n", 3)[3].lstrip("\n") if d.message.count("\n") >= 3 else d.message
    head = [f"Abort moving tenant {t.name} to {to}: {to} leaves git", "",
            f"move-tenant --abort, step 2/2: the move record and the placement on {to} leave tenant.yaml; "
            f"{m.source} stays the primary.", ""]
    return replace(d, message="\n".join([*head, body]))


def _draft(ctx: _Context, after: Tenant, message: str, notes: list[str]) -> Draft:
    desired, removed = changed_files(ctx.source, ctx.config, ctx.clusters, ctx.tenant, after)
    return Draft(desired, message, removed=removed, notes=tuple(notes))

