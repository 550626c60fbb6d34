"""The checks as a whole: the example and a fresh estate are clean, and every rule has a case that breaks it."""

from __future__ import annotations

from pathlib import Path

from gitops_gen import checks
from gitops_gen.checks import RULES, Rule, drift, schema
from gitops_gen.estate.load import Estate
from tests.checks.cases import ACME, Rendered, all_findings, show
from tests.checks.test_data import CONTROLLER_CASES, DATA_CASES
from tests.checks.test_https import HTTPS_CASES
from tests.checks.test_isolation import ISOLATION_CASES
from tests.checks.test_lifecycle import LIFECYCLE_CASES
from tests.checks.test_routing import ROUTING_CASES, ROUTING_OVERLAY_CASES
from tests.checks.test_secrets import KEY_CASES, REPOSITORY_CASES, SECRETS_CASES
from tests.checks.test_windows import WINDOWS_CASES


def test_example_estate_is_clean(example: tuple[Path, Estate, Rendered]) -> None:
    root, estate, rendered = example
    assert len(rendered) == 4
    found = all_findings(root, estate, rendered)
    assert not found, show(found)


def test_fresh_estate_is_clean(fresh: tuple[Path, Estate, Rendered]) -> None:
    root, estate, rendered = fresh
    found = all_findings(root, estate, rendered)
    assert not found, show(found)


def test_context_built_directly_matches_the_helper(fresh: tuple[Path, Estate, Rendered]) -> None:
    _, estate, rendered = fresh
    ctx = checks.OverlayContext(config=estate.config, tenant=estate.tenants["acme"],
                                cluster=estate.clusters["eu-west-1"], overlay=ACME, docs=rendered[ACME],
                                tenant_namespaces=frozenset({"acme", "globex"}))
    assert ctx == checks.overlay_context(estate, ACME, rendered[ACME])
    assert checks.check_overlay(ctx) == []


ALL_CASES = (ISOLATION_CASES + HTTPS_CASES + ROUTING_OVERLAY_CASES + WINDOWS_CASES + SECRETS_CASES + DATA_CASES
             + ROUTING_CASES + KEY_CASES + CONTROLLER_CASES + REPOSITORY_CASES + LIFECYCLE_CASES)


def test_every_rule_has_a_breaking_case() -> None:
    # SCHEMA*, YAML001, DRIFT001: the validate pipeline emits them.
    pipeline = {v.id for family in (schema, drift) for v in vars(family).values() if isinstance(v, Rule)}
    assert {"SCHEMA001", "SCHEMA002", "SCHEMA003", "DRIFT001"} <= pipeline
    pipeline |= set(checks.PIPELINE_RULES)  # SEC005: tests/commands/test_validate_reach.py
    mine = set(RULES) - pipeline
    assert mine == {*checks.OVERLAY_RULES, *checks.ROUTING_RULES, *checks.CONTROLLER_RULES, *checks.REPOSITORY_RULES}
    assert mine == {c.rule for c in ALL_CASES}
    assert len({c.id for c in ALL_CASES}) == len(ALL_CASES)


def test_every_rule_documents_its_fix() -> None:
    for r in RULES.values():
        assert r.hint.strip() and "\n" not in r.hint, r.id
        assert r.title.strip(), r.id
    assert RULES["DATA007"].severity == "warning"
    assert all(RULES[i].severity == "error"
               for i in (*checks.OVERLAY_RULES, *checks.ROUTING_RULES, "DATA005", "DATA006"))
