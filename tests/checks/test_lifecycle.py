"""LIFE001-003: what a placement renders follows its role and state. Each rule broken once on a real render
(the fresh estate's overlays, rendered once with kustomize), with the placement's state declared as the
case needs: the rule fires alone, on the object it names. And the overlays generate writes for each state
are clean under every rule."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import pytest

from gitops_gen import checks
from gitops_gen.estate.load import Estate
from gitops_gen.generate.overlay import overlay_files
from tests.checks.cases import ACME, GLOBEX_US, SERVICES, WEB, Case, Docs, Rendered, assert_overlay_rule_fires, one
from tests.tools import render


def placed(tenant: str, cluster: str, **fields: str | bool) -> Callable[[Estate], Estate]:
    def declare(estate: Estate) -> Estate:
        t = estate.tenants[tenant]
        details = (*(p for p in t.details if p.cluster != cluster), replace(t.placement(cluster), **fields))
        return replace(estate, tenants={**estate.tenants, tenant: replace(t, details=details)})
    return declare


def _stopped(docs: Docs) -> None:
    for d in docs:
        if d["kind"] in ("Deployment", "StatefulSet"):
            d["spec"]["replicas"] = 0


def _draining_with_ingress(docs: Docs) -> str:
    _stopped(docs)
    return "Ingress/workflowgen"


def _draining_web_runs(docs: Docs) -> str:
    _stopped(docs)
    docs[:] = [d for d in docs if d["kind"] != "Ingress"]
    one(docs, "Deployment", WEB)["spec"]["replicas"] = 1
    return f"Deployment/{WEB}"


def _standby_runs_services(docs: Docs) -> str:
    one(docs, "Deployment", SERVICES)["spec"]["replicas"] = 1
    return f"Deployment/{SERVICES}"


def _retired_keeps_service(docs: Docs) -> str:
    docs[:] = [d for d in docs if d["kind"] in ("Namespace", "PersistentVolumeClaim", "NetworkPolicy",
                                                "ResourceQuota") or (d["kind"], d["metadata"]["name"]) ==
               ("Service", WEB)]
    return f"Service/{WEB}"


LIFECYCLE_CASES = [
    Case("LIFE001", "draining-with-ingress", ACME, _draining_with_ingress, placed("acme", "eu-west-1",
                                                                               state="draining")),
    Case("LIFE002", "draining-web-runs", ACME, _draining_web_runs, placed("acme", "eu-west-1", state="draining")),
    # globex is on one external database: us-east-1 is its standby (add-tenant made it one).
    Case("LIFE002", "standby-runs-windows-services", GLOBEX_US, _standby_runs_services),
    # move-tenant's cutover: the new primary's Windows Services wait until they have stopped on the old one.
    Case("LIFE002", "held-primary-runs-windows-services", ACME, _standby_runs_services,
         placed("acme", "eu-west-1", services_held=True)),
    Case("LIFE003", "retired-keeps-a-service", ACME, _retired_keeps_service, placed("acme", "eu-west-1",
                                                                                 state="retired")),
]


@pytest.mark.parametrize("case", LIFECYCLE_CASES, ids=lambda c: c.id)
def test_lifecycle_rule_fires(case: Case, fresh: tuple[Path, Estate, Rendered]) -> None:
    assert_overlay_rule_fires(case, fresh)


@pytest.mark.parametrize(("tenant", "cluster", "fields"), [
    ("acme", "eu-west-1", {"state": "draining"}), ("acme", "eu-west-1", {"state": "retired"}),
    ("globex", "us-east-1", {"state": "draining"}), ("globex", "us-east-1", {"state": "retired"}),
    ("globex", "eu-west-1", {"state": "draining"}),
])
def test_what_generate_writes_for_each_state_is_clean(fresh: tuple[Path, Estate, Rendered], tmp_path: Path,
                                                       tenant: str, cluster: str, fields: dict[str, str]) -> None:
    root, estate, rendered = fresh
    estate = placed(tenant, cluster, **fields)(estate)
    work = tmp_path / "estate"
    work.mkdir()
    for top in ("base", "overlays"):
        for f in (root / top).rglob("*"):
            if f.is_file():
                (work / f.relative_to(root)).parent.mkdir(parents=True, exist_ok=True)
                (work / f.relative_to(root)).write_bytes(f.read_bytes())
    t = estate.tenants[tenant]
    for rel, text in overlay_files(estate.config, t, estate.clusters[cluster]).items():
        (work / rel).write_text(text)
    overlay = f"overlays/{tenant}/{cluster}"
    docs = render(work, overlay)
    assert checks.check_overlay(checks.overlay_context(estate, overlay, docs)) == []
    kinds = {d["kind"] for d in docs}
    claims = {d["metadata"]["name"] for d in docs if d["kind"] == "PersistentVolumeClaim"}
    before = {d["metadata"]["name"] for d in rendered[overlay] if d["kind"] == "PersistentVolumeClaim"}
    assert claims == before, "every state keeps every claim"
    for d in docs:
        if d["kind"] == "PersistentVolumeClaim":  # unchanged: size and class are checked against the live claim
            assert d == one(rendered[overlay], "PersistentVolumeClaim", d["metadata"]["name"])
    assert "Ingress" not in kinds
    assert {"NetworkPolicy"} <= kinds and "default-deny" in {d["metadata"]["name"] for d in docs
                                                              if d["kind"] == "NetworkPolicy"}
    if fields["state"] == "retired":
        assert kinds <= {"Namespace", "PersistentVolumeClaim", "StatefulSet", "NetworkPolicy", "ResourceQuota"}
    if fields["state"] == "draining" or "StatefulSet" in kinds:
        replicas = {d["metadata"]["name"]: d["spec"].get("replicas") for d in docs
                    if d["kind"] in ("Deployment", "StatefulSet")}
        assert replicas and set(replicas.values()) == {0}, replicas
