"""HTTPS rules (HTTPS001-HTTPS005): each fires on an overlay broken in exactly that way."""

from __future__ import annotations

from pathlib import Path

import pytest

from gitops_gen.estate.load import Estate
from tests.checks.cases import (
    ACME,
    GLOBEX,
    GLOBEX_US,
    WEB,
    Case,
    Rendered,
    assert_overlay_rule_fires,
    drop,
    one,
    policy,
    pop_from,
    set_to,
)

HTTPS_CASES = [
    Case("HTTPS001", "tls-misses-a-host", ACME, lambda d: set_to(
        one(d, "Ingress")["spec"]["tls"][0], "hosts", ["acme.wfg.example.com"], "Ingress/workflowgen")),
    Case("HTTPS001", "no-tls", GLOBEX_US, lambda d: pop_from(one(d, "Ingress")["spec"], "tls", "Ingress/workflowgen")),
    Case("HTTPS002", "no-issuer", ACME, lambda d: pop_from(
        one(d, "Ingress")["metadata"]["annotations"], "cert-manager.io/cluster-issuer", "Ingress/workflowgen")),
    Case("HTTPS003", "redirect-off", ACME, lambda d: set_to(
        one(d, "Ingress")["metadata"]["annotations"], "nginx.ingress.kubernetes.io/force-ssl-redirect", "false",
        "Ingress/workflowgen")),
    Case("HTTPS004", "rule-without-host", GLOBEX, lambda d: pop_from(
        one(d, "Ingress")["spec"]["rules"][-1], "host", "Ingress/workflowgen")),
    Case("HTTPS004", "default-backend", ACME, lambda d: set_to(
        one(d, "Ingress")["spec"], "defaultBackend", {"service": {"name": WEB, "port": {"name": "http"}}},
        "Ingress/workflowgen")),
    Case("HTTPS005", "solver-policy-removed", ACME, lambda d: (
        drop(d, "NetworkPolicy", SOLVER_POLICY), "Ingress/workflowgen")[1]),
    Case("HTTPS005", "solver-policy-wrong-port", GLOBEX, lambda d: set_to(
        policy(d, SOLVER_POLICY)["ingress"][0], "ports", [{"protocol": "TCP", "port": 80}], "Ingress/workflowgen")),
    Case("HTTPS005", "solver-policy-from-another-namespace", GLOBEX_US, lambda d: set_to(
        policy(d, SOLVER_POLICY)["ingress"][0]["from"][0], "namespaceSelector",
        {"matchLabels": {"kubernetes.io/metadata.name": "cert-manager"}}, "Ingress/workflowgen")),
]

SOLVER_POLICY = "acme-http01-solver-from-ingress-controller"


@pytest.mark.parametrize("case", HTTPS_CASES, ids=lambda c: c.id)
def test_https_rule_fires(case: Case, fresh: tuple[Path, Estate, Rendered]) -> None:
    assert_overlay_rule_fires(case, fresh)
