"""Lifecycle rules (LIFE001-LIFE003): what a placement renders follows its role and state in tenant.yaml.

A placement that is not active serves no host; a draining or retired placement runs no workload, and a
standby no Windows Services (the vendor allows one instance of each Windows Service per database, so a
second placement on the tenant's external database must not run them); a retired placement keeps only its
Namespace, its data (claims, the database's StatefulSet at 0 replicas), its NetworkPolicies and its quota. Default
deny (ISO001) is checked on every placement, whatever its state."""

from __future__ import annotations

from collections.abc import Iterator

from gitops_gen.checks.objects import WINDOWS_SERVICES, Overlay, of_kind, ref_of, start_service
from gitops_gen.checks.registry import Finding, rule
from gitops_gen.checks.routing import ingress_hosts

LIFE_SERVES = rule(
    "LIFE001", "error", "Placement serves a host its role or state does not allow",
    "a draining or retired placement serves nothing and a standby only its regional host: run "
    "'gitops-gen generate' after editing tenant.yaml, and remove hand-made Ingresses")


LIFE_RUNS = rule(
    "LIFE002", "error", "Workload runs where the placement's role or state stops it",
    "a draining or retired placement runs nothing, and a standby or a primary whose windowsServices are "
    "held no Windows Services (one instance per database): set the workload's replicas to 0, or run "
    "'gitops-gen generate'")


LIFE_RETIRED_KEEPS = rule(
    "LIFE003", "error", "Retired placement keeps more than its Namespace, data, NetworkPolicies and quota",
    "a retired overlay keeps only what protects the data left in the cluster: run 'gitops-gen generate', or "
    "remove the object from the overlay")

#: What a retired placement's overlay may still hold: the data (the claims, and the database's StatefulSet,
#: protected from pruning and at 0 replicas: LIFE002), the namespace it lives in, and isolation.
RETIRED_KINDS = frozenset({"Namespace", "PersistentVolumeClaim", "StatefulSet", "NetworkPolicy", "ResourceQuota"})


def _check_serving(o: Overlay) -> Iterator[Finding]:
    # A standby's hosts are those of any placement without global hosts (tenant.yaml gives none to a
    # standby): ROUTE003 reports any other host it answers.
    placement = o.ctx.tenant.placement(o.ctx.cluster.name)
    if placement.serves:
        return
    for ing in of_kind(o.docs, "Ingress"):
        hosts = ingress_hosts(ing)
        yield o.ctx.finding(LIFE_SERVES, f"the placement is {placement.state} but the Ingress answers "
                            f"{', '.join(hosts) or 'requests'}: a {placement.state} placement serves nothing",
                            ref_of(ing))


def _check_running(o: Overlay) -> Iterator[Finding]:
    placement = o.ctx.tenant.placement(o.ctx.cluster.name)
    if placement.runs_windows_services:
        return
    for pod in o.pods:
        if pod.replicas == 0:
            continue
        runs = "runs on every node" if pod.replicas is None else f"has {pod.replicas} replicas"
        if placement.state != "active":
            yield o.ctx.finding(LIFE_RUNS, f"the placement is {placement.state} but {pod.ref} {runs}", pod.ref)
        elif {start_service(c) for c in pod.workflowgen_containers()} & WINDOWS_SERVICES:
            why = ("its Windows Services are held (windowsServices: held, until move-tenant --phase "
                   "start-services)" if placement.services_held else "the placement is a standby")
            yield o.ctx.finding(LIFE_RUNS, f"{why} but {pod.ref} runs the Windows Services ({runs}): only the "
                                "primary runs them, one instance per database", pod.ref)


def _check_retired(o: Overlay) -> Iterator[Finding]:
    if o.ctx.tenant.placement(o.ctx.cluster.name).state != "retired":
        return
    for d in o.docs:
        if str(d.get("kind")) not in RETIRED_KINDS:
            yield o.ctx.finding(LIFE_RETIRED_KEEPS, f"the placement is retired but its overlay still renders "
                                f"{ref_of(d)}", ref_of(d))


OVERLAY_CHECKS = (_check_serving, _check_running, _check_retired)
