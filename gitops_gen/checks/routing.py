"""Routing rules (ROUTE001-ROUTE004): one tenant and one placement per host across the rendered estate,
and every host an Ingress answers declared in tenant.yaml or the placement's regional host."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from gitops_gen.checks.objects import Overlay, annotations_of, as_list, as_map, of_kind, ref_of
from gitops_gen.checks.registry import Finding, finding, rule
from gitops_gen.estate.load import Estate

ROUTE_SHARED_HOST = rule(
    "ROUTE001", "error", "Host claimed by more than one tenant",
    "a host belongs to exactly one tenant: remove it from all tenant.yaml files but one")


ROUTE_GLOBAL_TWICE = rule(
    "ROUTE002", "error", "Host served by more than one placement of the same tenant",
    "a global host is served by exactly one placement: fix 'hosts[].placement' in tenant.yaml")


ROUTE_UNDECLARED = rule(
    "ROUTE003", "error", "Ingress host not declared for this placement",
    "serve only the tenant's global hosts declared for this placement and its regional host "
    "'<tenant>.<cluster domain>'")


ROUTE_FOREIGN_REGIONAL = rule(
    "ROUTE004", "error", "Ingress host in the cluster's regional domain that is not the tenant's regional host",
    "the only host of '<cluster domain>' a tenant may serve is '<tenant>.<cluster domain>'")


EXTERNAL_DNS_HOSTNAME = "external-dns.alpha.kubernetes.io/hostname"


def ingress_hosts(ingress: Mapping[str, Any]) -> list[str]:
    """Every host an Ingress answers or publishes: rule hosts, TLS hosts, ExternalDNS hostnames."""
    spec = as_map(ingress.get("spec"))
    hosts = [str(as_map(r).get("host")) for r in as_list(spec.get("rules")) if as_map(r).get("host")]
    hosts += [str(h) for t in as_list(spec.get("tls")) for h in as_list(as_map(t).get("hosts"))]
    dns = annotations_of(ingress).get(EXTERNAL_DNS_HOSTNAME)
    if isinstance(dns, str):
        hosts += [h.strip() for h in dns.split(",") if h.strip()]
    return list(dict.fromkeys(hosts))


def _check_hosts(o: Overlay) -> Iterator[Finding]:
    ctx = o.ctx
    if not ctx.tenant.placement(ctx.cluster.name).serves:
        return  # it serves no host at all: LIFE001 reports any Ingress
    regional = ctx.cluster.regional_host(ctx.tenant.name)
    allowed = {*ctx.tenant.global_hosts_of(ctx.cluster.name), regional}
    for ing in of_kind(o.docs, "Ingress"):
        suffix = "." + ctx.cluster.domain
        for host in ingress_hosts(ing):
            if host == regional or host in allowed:
                continue
            if host.endswith(suffix):
                yield ctx.finding(ROUTE_FOREIGN_REGIONAL,
                                  f"host {host!r} lies in cluster {ctx.cluster.name}'s regional domain "
                                  f"{ctx.cluster.domain!r} but is not this tenant's regional host {regional!r}",
                                  ref_of(ing))
            else:
                yield ctx.finding(ROUTE_UNDECLARED,
                                  f"host {host!r} is neither a global host declared for placement "
                                  f"{ctx.cluster.name!r} in tenant.yaml nor the regional host {regional!r}",
                                  ref_of(ing))


def check_routing(estate: Estate, rendered: Mapping[str, Sequence[Mapping[str, Any]]]) -> list[Finding]:
    """Hosts across overlays (keys ``overlays/<tenant>/<cluster>``): one tenant per host (ROUTE001), one
    placement per host within a tenant (ROUTE002)."""
    claims: dict[str, list[tuple[str, str, str, str]]] = {}
    for overlay in sorted(rendered):
        parts = overlay.split("/")
        if len(parts) < 3:
            continue
        tenant, cluster = parts[1], parts[2]
        for ing in of_kind((d for d in rendered[overlay] if isinstance(d, Mapping)), "Ingress"):
            for host in ingress_hosts(ing):
                entry = (tenant, cluster, overlay, ref_of(ing))
                if entry not in claims.setdefault(host, []):
                    claims[host].append(entry)
    findings: list[Finding] = []
    for host, entries in sorted(claims.items()):
        tenants = sorted({t for t, _, _, _ in entries})
        placements: dict[str, list[str]] = {}
        for t, c, _, _ in entries:
            if c not in placements.setdefault(t, []):
                placements[t].append(c)
        for tenant, cluster, overlay, obj in entries:
            path = f"{overlay}/kustomization.yaml"
            if len(tenants) > 1:
                findings.append(finding(
                    ROUTE_SHARED_HOST, f"host {host!r} is served by tenants {', '.join(tenants)}", tenant=tenant,
                    cluster=cluster, obj=obj, path=path))
            if len(placements[tenant]) > 1:
                declared = estate.tenants.get(tenant)
                owner = [h.placement for h in declared.hosts if h.host == host] if declared else []
                note = f"; tenant.yaml gives it to placement {owner[0]}" if owner else ""
                findings.append(finding(
                    ROUTE_GLOBAL_TWICE, f"host {host!r} of tenant {tenant} is served by placements "
                    f"{', '.join(placements[tenant])}{note}", tenant=tenant, cluster=cluster, obj=obj, path=path))
    return findings


#: This family's checks of one overlay's rendered objects, run by ``checks.check_overlay``.
OVERLAY_CHECKS = (
    _check_hosts,
)
