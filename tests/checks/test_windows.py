"""Windows and WorkflowGen rules (WIN001-WIN013): each fires on an overlay broken in exactly that way."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest

from gitops_gen import checks
from gitops_gen.estate.load import Estate
from tests.checks.cases import (
    ACME,
    DB,
    ENC_KEY,
    GLOBEX,
    GLOBEX_US,
    SERVICES,
    WEB,
    Case,
    Docs,
    Rendered,
    assert_overlay_rule_fires,
    container,
    drop,
    env,
    one,
    pod,
    pop_from,
    set_to,
)


def _key_from_configmap(d: Docs) -> str:
    e = env(d, SERVICES)
    e[:] = [x for x in e if x["name"] != f"{ENC_KEY}_FILE"]
    e.append({"name": ENC_KEY, "valueFrom": {"configMapKeyRef": {"name": "keys", "key": "enc"}}})
    return f"Deployment/{SERVICES}"


def _machine_key_outside_secret(d: Docs) -> str:
    for x in env(d, WEB):
        if x["name"] == "WFGEN_MACHINE_KEY_VALIDATION_KEY_FILE":
            x["value"] = "C:\\wfgen\\data\\validation.key"
    return f"Deployment/{WEB}"


CLIENT_ID = "WFGEN_APP_SETTING_ApplicationSecurityAuthClientId"
SERIAL = "WFGEN_APP_SETTING_ApplicationSerialNumber"


def _config(d: Docs) -> dict[str, Any]:
    data: dict[str, Any] = one(d, "ConfigMap")["data"]
    return data


def _without_env(d: Docs, deployment: str, name: str) -> str:
    e = env(d, deployment)
    assert any(x["name"] == name for x in e), name
    e[:] = [x for x in e if x["name"] != name]
    return f"Deployment/{deployment}"


def _no_client_id(d: Docs) -> str:
    del _config(d)[CLIENT_ID]
    return f"Deployment/{WEB}"


def _short_dependency_check(d: Docs) -> str:
    env(d, WEB).append({"name": "WFGEN_DEPENDENCY_CHECK_RETRIES", "value": "10"})
    return f"Deployment/{WEB}"


def _readiness(d: Docs, probe: dict[str, Any]) -> str:
    container(d, WEB)["readinessProbe"] = probe
    return f"Deployment/{WEB}"


def _no_key(d: Docs) -> str:
    e = env(d, SERVICES)
    e[:] = [x for x in e if x["name"] != f"{ENC_KEY}_FILE"]
    return f"Deployment/{SERVICES}"


WINDOWS_CASES = [
    Case("WIN001", "linux-node-selector", ACME, lambda d: set_to(
        pod(d, WEB)["nodeSelector"], "kubernetes.io/os", "linux", f"Deployment/{WEB}")),
    Case("WIN001", "no-os-name", GLOBEX_US, lambda d: pop_from(pod(d, SERVICES), "os", f"Deployment/{SERVICES}")),
    Case("WIN002", "run-as-user", ACME, lambda d: set_to(
        container(d, WEB), "securityContext", {"runAsUser": 1000}, f"Deployment/{WEB}")),
    Case("WIN002", "run-as-user-name", GLOBEX, lambda d: set_to(
        pod(d, SERVICES), "securityContext", {"windowsOptions": {"runAsUserName": "ContainerUser"}},
        f"Deployment/{SERVICES}")),
    Case("WIN003", "ltsc2019-tag-on-ltsc2022", ACME, lambda d: set_to(
        container(d, WEB), "image", "advantys/workflowgen:10.3.1-win-ltsc2019", f"Deployment/{WEB}")),
    Case("WIN003", "tag-without-os-suffix", GLOBEX_US, lambda d: set_to(
        container(d, SERVICES), "image", "advantys/workflowgen:10.3.1", f"Deployment/{SERVICES}")),
    Case("WIN003", "windows-build-selector", ACME, lambda d: set_to(
        pod(d, WEB)["nodeSelector"], "node.kubernetes.io/windows-build", "10.0.17763", f"Deployment/{WEB}")),
    Case("WIN004", "services-replicas", ACME, lambda d: set_to(
        one(d, "Deployment", SERVICES)["spec"], "replicas", 2, f"Deployment/{SERVICES}")),
    Case("WIN004", "services-rolling-update", GLOBEX, lambda d: set_to(
        one(d, "Deployment", SERVICES)["spec"], "strategy", {"type": "RollingUpdate"}, f"Deployment/{SERVICES}")),
    Case("WIN005", "encryption-key-missing", ACME, _no_key),
    Case("WIN005", "encryption-key-from-configmap", GLOBEX_US, _key_from_configmap),
    Case("WIN005", "machine-key-outside-secret", GLOBEX, _machine_key_outside_secret),
    Case("WIN006", "oidc-client-id-missing", GLOBEX, _no_client_id),
    Case("WIN006", "oidc-client-secret-missing", GLOBEX_US, lambda d: _without_env(
        d, WEB, "WFGEN_APP_SETTING_ApplicationSecurityAuthClientSecret_FILE")),
    Case("WIN007", "serial-number-missing", ACME, lambda d: _without_env(d, SERVICES, f"{SERIAL}_FILE")),
    Case("WIN007", "serial-number-literal", GLOBEX, lambda d: (
        _without_env(d, WEB, f"{SERIAL}_FILE"), env(d, WEB).append({"name": SERIAL, "value": "WFG-1234"}),
        f"Deployment/{WEB}")[2]),
    Case("WIN008", "tcp-readiness", ACME, lambda d: _readiness(d, {"tcpSocket": {"port": "http"}})),
    Case("WIN008", "no-readiness", GLOBEX, lambda d: pop_from(
        container(d, WEB), "readinessProbe", f"Deployment/{WEB}")),
    Case("WIN008", "readiness-timeout-default", GLOBEX_US, lambda d: pop_from(
        container(d, WEB)["readinessProbe"], "timeoutSeconds", f"Deployment/{WEB}")),
    Case("WIN009", "database-without-fs-group", ACME, lambda d: pop_from(
        one(d, "StatefulSet")["spec"]["template"]["spec"]["securityContext"], "fsGroup", f"StatefulSet/{DB}")),
    Case("WIN009", "database-fs-group-root", ACME, lambda d: set_to(
        one(d, "StatefulSet")["spec"]["template"]["spec"]["securityContext"], "fsGroup", 0, f"StatefulSet/{DB}")),
    Case("WIN010", "no-disruption-budget", GLOBEX, lambda d: (
        drop(d, "PodDisruptionBudget", WEB), f"Deployment/{WEB}")[1]),
    Case("WIN010", "budget-blocks-every-drain", ACME, lambda d: set_to(
        one(d, "PodDisruptionBudget")["spec"], "maxUnavailable", 0, f"PodDisruptionBudget/{WEB}")),
    Case("WIN011", "no-zone-spread", GLOBEX_US, lambda d: pop_from(
        pod(d, WEB), "topologySpreadConstraints", f"Deployment/{WEB}")),
    Case("WIN012", "dependency-check-gives-up-early", ACME, _short_dependency_check),
    Case("WIN013", "body-size-default", ACME, lambda d: pop_from(
        one(d, "Ingress")["metadata"]["annotations"], "nginx.ingress.kubernetes.io/proxy-body-size",
        "Ingress/workflowgen")),
    Case("WIN013", "body-size-too-small", GLOBEX, lambda d: set_to(
        one(d, "Ingress")["metadata"]["annotations"], "nginx.ingress.kubernetes.io/proxy-body-size", "8m",
        "Ingress/workflowgen")),
]


@pytest.mark.parametrize("case", WINDOWS_CASES, ids=lambda c: c.id)
def test_windows_rule_fires(case: Case, fresh: tuple[Path, Estate, Rendered]) -> None:
    assert_overlay_rule_fires(case, fresh)


def test_machine_keys_only_needed_with_several_web_replicas(fresh: tuple[Path, Estate, Rendered]) -> None:
    _, estate, rendered = fresh
    docs = copy.deepcopy(rendered[ACME])
    web_env = env(docs, WEB)
    web_env[:] = [x for x in web_env if not x["name"].startswith("WFGEN_MACHINE_KEY")]
    one(docs, "Deployment", WEB)["spec"]["replicas"] = 1
    assert checks.check_overlay(checks.overlay_context(estate, ACME, docs)) == []
    one(docs, "Deployment", WEB)["spec"]["replicas"] = 2
    found = checks.check_overlay(checks.overlay_context(estate, ACME, docs))
    assert {(f.rule, f.obj) for f in found} == {("WIN005", f"Deployment/{WEB}")}
