"""Routing rules (ROUTE001-ROUTE004): per overlay, and across the rendered estate."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest

from gitops_gen import checks
from gitops_gen.estate.load import Estate
from tests.checks.cases import (
    ACME,
    GLOBEX_US,
    Case,
    Rendered,
    add_host,
    assert_overlay_rule_fires,
    show,
)

ROUTING_OVERLAY_CASES = [
    Case("ROUTE003", "undeclared-host", ACME, lambda d: add_host(d, "acme.example.org")),
    Case("ROUTE003", "global-host-of-other-placement", GLOBEX_US, lambda d: add_host(d, "globex.wfg.example.com")),
    Case("ROUTE004", "other-tenants-regional-host", ACME, lambda d: add_host(d, "initech.eu.wfg.example.com")),
]


@pytest.mark.parametrize("case", ROUTING_OVERLAY_CASES, ids=lambda c: c.id)
def test_routing_overlay_rule_fires(case: Case, fresh: tuple[Path, Estate, Rendered]) -> None:
    assert_overlay_rule_fires(case, fresh)


def _host_of_other_tenant(r: Rendered) -> str:
    return add_host(r[GLOBEX_US], "acme.wfg.example.com")


def _global_host_twice(r: Rendered) -> str:
    return add_host(r[GLOBEX_US], "globex.wfg.example.com")


ROUTING_CASES = [
    Case("ROUTE001", "host-of-other-tenant", "rendered", _host_of_other_tenant),
    Case("ROUTE002", "global-host-on-two-placements", "rendered", _global_host_twice),
]


@pytest.mark.parametrize("case", ROUTING_CASES, ids=lambda c: c.id)
def test_routing_rule_fires(case: Case, fresh: tuple[Path, Estate, Rendered]) -> None:
    _, estate, rendered = fresh
    mutated = copy.deepcopy(rendered)
    obj = case.mutate(mutated)
    found = checks.check_routing(estate, mutated)
    assert {f.rule for f in found} == {case.rule}, show(found)
    assert {f.obj for f in found} == {obj}
    expected = {("acme", "eu-west-1"), ("globex", "us-east-1")} if case.rule == "ROUTE001" else \
        {("globex", "eu-west-1"), ("globex", "us-east-1")}
    assert {(f.tenant, f.cluster) for f in found} == expected
    # The lead's pipeline passes only the Ingresses of each overlay.
    ingresses = {o: [d for d in docs if d["kind"] == "Ingress"] for o, docs in mutated.items()}
    assert checks.check_routing(estate, ingresses) == found
