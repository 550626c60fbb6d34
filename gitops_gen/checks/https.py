"""HTTPS rules (HTTPS001-HTTPS005): TLS for every host, a cert-manager issuer, HTTP redirected, no catch-all,
and an HTTP-01 solver the ingress controller can reach."""

from __future__ import annotations

from collections.abc import Iterator

from gitops_gen.checks.objects import (
    Overlay,
    annotations_of,
    as_list,
    as_map,
    ingress_applies,
    named_namespaces,
    of_kind,
    ref_of,
    selects,
)
from gitops_gen.checks.registry import Finding, rule

HTTPS_TLS = rule(
    "HTTPS001", "error", "Ingress host not covered by TLS",
    "list every rule host under 'spec.tls[].hosts' with a secretName")


HTTPS_ISSUER = rule(
    "HTTPS002", "error", "Ingress without a cert-manager issuer",
    "annotate the Ingress with 'cert-manager.io/cluster-issuer' (or 'cert-manager.io/issuer') naming the issuer")


HTTPS_REDIRECT = rule(
    "HTTPS003", "error", "Ingress does not redirect HTTP to HTTPS",
    "set every annotation of 'ingress.annotations' in gitops-gen.yaml on the Ingress, with that value")


HTTPS_CATCH_ALL = rule(
    "HTTPS004", "error", "Ingress rule without host, or a defaultBackend",
    "give every Ingress rule a host covered by TLS and remove spec.defaultBackend")


HTTPS_SOLVER = rule(
    "HTTPS005", "error", "cert-manager's HTTP-01 solver cannot be reached behind default-deny",
    "render the acme-http01-solver-from-ingress-controller NetworkPolicy ('gitops-gen generate'): it admits the "
    "ingress controller's namespace to pods labelled acme.cert-manager.io/http01-solver on TCP 8089; or set "
    "certManager.challenge: dns01 in gitops-gen.yaml if the issuer solves DNS-01")


ISSUER_ANNOTATIONS = ("cert-manager.io/cluster-issuer", "cert-manager.io/issuer")

#: The labels and port of the pod cert-manager's HTTP-01 solver runs in the Certificate's namespace
#: (cert-manager pkg/apis/acme/v1/types.go SolverIdentificationLabelKey; pkg/issuer/acme/http/http.go
#: acmeSolverListenPort = 8089).
SOLVER_LABELS = {"acme.cert-manager.io/http01-solver": "true"}
SOLVER_PORT = 8089


def _covered(host: str, tls_hosts: set[str]) -> bool:
    if host in tls_hosts:
        return True
    _, _, parent = host.partition(".")
    return f"*.{parent}" in tls_hosts


def _check_tls(o: Overlay) -> Iterator[Finding]:
    ctx = o.ctx
    for ing in of_kind(o.docs, "Ingress"):
        spec = as_map(ing.get("spec"))
        ann = annotations_of(ing)
        rules = [as_map(r) for r in as_list(spec.get("rules"))]
        tls_hosts = {str(h) for t in as_list(spec.get("tls")) for h in as_list(as_map(t).get("hosts"))}
        rule_hosts = [str(r["host"]) for r in rules if r.get("host")]
        if not as_list(spec.get("tls")):
            yield ctx.finding(HTTPS_TLS, "Ingress has no tls section: its hosts are served without HTTPS", ref_of(ing))
        else:
            uncovered = [h for h in rule_hosts if not _covered(h, tls_hosts)]
            if uncovered:
                yield ctx.finding(HTTPS_TLS, f"hosts not covered by spec.tls: {', '.join(uncovered)}", ref_of(ing))
        if not any(ann.get(a) for a in ISSUER_ANNOTATIONS):
            yield ctx.finding(HTTPS_ISSUER, "Ingress has no cert-manager.io/cluster-issuer or cert-manager.io/issuer "
                              "annotation: no certificate is issued", ref_of(ing))
        wrong = [f"{k}={ann.get(k)!r} (expected {v!r})" for k, v in ctx.config.ingress_annotations.items()
                 if str(ann.get(k)) != str(v)]
        if wrong:
            yield ctx.finding(HTTPS_REDIRECT, f"HTTP is not redirected to HTTPS: {', '.join(wrong)}", ref_of(ing))
        if any(not r.get("host") for r in rules):
            yield ctx.finding(HTTPS_CATCH_ALL, "a rule has no host: it answers every host name, outside TLS",
                              ref_of(ing))
        if spec.get("defaultBackend"):
            yield ctx.finding(HTTPS_CATCH_ALL, "spec.defaultBackend answers every unmatched host, outside TLS",
                              ref_of(ing))


def _admits_solver(o: Overlay, policy: object) -> bool:
    spec = as_map(as_map(policy).get("spec"))
    if not ingress_applies(spec) or not selects(spec.get("podSelector"), SOLVER_LABELS):
        return False
    ingress_ns = o.ctx.config.ingress_namespace
    for r in (as_map(x) for x in as_list(spec.get("ingress"))):
        ports = [as_map(p) for p in as_list(r.get("ports"))]
        if ports and not any(str(p.get("port")) == str(SOLVER_PORT) and p.get("protocol", "TCP") == "TCP"
                             for p in ports):
            continue
        peers = [as_map(p) for p in as_list(r.get("from"))]
        if not peers:
            return True
        for peer in peers:
            names = named_namespaces(peer.get("namespaceSelector")) if "namespaceSelector" in peer else set()
            if (names is None or ingress_ns in names) and "ipBlock" not in peer:
                return True
    return False


def _check_solver(o: Overlay) -> Iterator[Finding]:
    if o.ctx.config.challenge != "http01":
        return
    issued = [ing for ing in of_kind(o.docs, "Ingress") if any(annotations_of(ing).get(a) for a in ISSUER_ANNOTATIONS)]
    if not issued:
        return
    if not any(o.in_namespace(p) and _admits_solver(o, p) for p in o.policies):
        ns = o.ctx.tenant.namespace
        yield o.ctx.finding(HTTPS_SOLVER, f"certificates are issued by HTTP-01 in namespace {ns!r}, but no "
                            f"NetworkPolicy admits the ingress controller's namespace "
                            f"{o.ctx.config.ingress_namespace!r} to the solver pods on TCP {SOLVER_PORT}: the "
                            "challenge never completes and no certificate is issued", ref_of(issued[0]))


#: This family's checks of one overlay's rendered objects, run by ``checks.check_overlay``.
OVERLAY_CHECKS = (
    _check_tls,
    _check_solver,
)
