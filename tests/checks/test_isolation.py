"""Isolation rules (ISO001-ISO015) of one overlay: each fires on an overlay broken in exactly that way."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from gitops_gen.estate.load import Estate
from gitops_gen.estate.model import EgressRule
from tests.checks.cases import (
    ACME,
    GLOBEX,
    GLOBEX_US,
    INGRESS_NS,
    SERVICES,
    WEB,
    WEB_POLICY,
    Case,
    Docs,
    Rendered,
    add_policy,
    assert_overlay_rule_fires,
    container,
    drop,
    one,
    pod,
    policy,
    pop_from,
    set_to,
)


def _cluster_role_binding(d: Docs) -> str:
    d.append({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
              "metadata": {"name": "globex-admin"},
              "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "cluster-admin"},
              "subjects": [{"kind": "ServiceAccount", "name": "default", "namespace": "globex"}]})
    return "ClusterRoleBinding/globex-admin"


def _with_egress(estate: Estate, tenant: str, rule: EgressRule) -> Estate:
    """The estate with ``rule`` declared in the tenant's egress list (the overlay checked stays as rendered)."""
    tenants = dict(estate.tenants)
    tenants[tenant] = dataclasses.replace(tenants[tenant], egress=(rule,))
    return dataclasses.replace(estate, tenants=tenants)


def _mail_from_services_only(d: Docs) -> str:
    """The relay is allowed to the Windows Services pods only; the web pods (webhooks, mail) cannot reach it."""
    add_policy(d, "services-mail", {
        "podSelector": {"matchLabels": {"app.kubernetes.io/component": "win-services"}}, "policyTypes": ["Egress"],
        "egress": [{"to": [{"ipBlock": {"cidr": "10.50.0.25/32"}}], "ports": [{"protocol": "TCP", "port": 587}]}]})
    return f"Deployment/{WEB}"


def _ingress_from_everywhere(d: Docs) -> str:
    # Selects no pod, so only the open peer is wrong.
    return add_policy(d, "monitoring-in", {
        "podSelector": {"matchLabels": {"app": "exporter"}}, "policyTypes": ["Ingress"],
        "ingress": [{"from": [{"ipBlock": {"cidr": "0.0.0.0/0"}}], "ports": [{"protocol": "TCP", "port": 9100}]}]})


def _no_default_deny(d: Docs) -> str:
    drop(d, "NetworkPolicy", "default-deny")
    return "Namespace/acme"


def _no_quota(d: Docs) -> str:
    drop(d, "ResourceQuota", "workflowgen")
    return "Namespace/acme"


def _web_from_namespace_pods(d: Docs) -> str:
    return add_policy(d, "web-from-namespace", {
        "podSelector": {"matchExpressions": [{"key": "app.kubernetes.io/component", "operator": "In",
                                              "values": ["web"]}]},
        "policyTypes": ["Ingress"],
        "ingress": [{"from": [{"podSelector": {}}], "ports": [{"protocol": "TCP", "port": 80}]}]})


def _win_services_ingress(d: Docs) -> str:
    return add_policy(d, "win-services-in", {
        "podSelector": {"matchLabels": {"app.kubernetes.io/component": "win-services"}},
        "policyTypes": ["Ingress"],
        "ingress": [{"from": [{"namespaceSelector": INGRESS_NS}], "ports": [{"protocol": "TCP", "port": 80}]}]})


ISOLATION_CASES = [
    Case("ISO001", "default-deny-removed", ACME, _no_default_deny),
    Case("ISO001", "default-deny-ingress-only", ACME,
         lambda d: set_to(policy(d, "default-deny"), "policyTypes", ["Ingress"], "Namespace/acme")),
    Case("ISO002", "web-on-443", ACME, lambda d: set_to(
        policy(d, WEB_POLICY)["ingress"][0], "ports", [{"protocol": "TCP", "port": 443}],
        f"NetworkPolicy/{WEB_POLICY}")),
    Case("ISO002", "web-any-port", GLOBEX, lambda d: pop_from(
        policy(d, WEB_POLICY)["ingress"][0], "ports", f"NetworkPolicy/{WEB_POLICY}")),
    Case("ISO002", "web-from-other-namespace", ACME, lambda d: set_to(
        policy(d, WEB_POLICY)["ingress"][0]["from"][0], "namespaceSelector",
        {"matchLabels": {"kubernetes.io/metadata.name": "monitoring"}}, f"NetworkPolicy/{WEB_POLICY}")),
    Case("ISO002", "web-from-namespace-pods", ACME, _web_from_namespace_pods),
    Case("ISO003", "win-services-ingress", ACME, _win_services_ingress),
    Case("ISO004", "database-port", ACME, lambda d: set_to(
        policy(d, "database-from-workflowgen")["ingress"][0], "ports", [{"protocol": "TCP", "port": 1434}],
        "NetworkPolicy/database-from-workflowgen")),
    Case("ISO004", "database-peer-with-namespace", ACME, lambda d: set_to(
        policy(d, "database-from-workflowgen")["ingress"][0]["from"][0], "namespaceSelector",
        {"matchLabels": {"kubernetes.io/metadata.name": "acme"}}, "NetworkPolicy/database-from-workflowgen")),
    Case("ISO004", "database-from-all-workflowgen-parts", ACME, lambda d: set_to(
        policy(d, "database-from-workflowgen")["ingress"][0]["from"][0], "podSelector",
        {"matchLabels": {"app.kubernetes.io/part-of": "workflowgen"}}, "NetworkPolicy/database-from-workflowgen")),
    Case("ISO005", "empty-namespace-selector", ACME, lambda d: set_to(
        policy(d, "allow-dns-egress")["egress"][0]["to"][0], "namespaceSelector", {},
        "NetworkPolicy/allow-dns-egress")),
    Case("ISO005", "egress-without-peers", ACME, lambda d: pop_from(
        policy(d, "workflowgen-to-database")["egress"][0], "to", "NetworkPolicy/workflowgen-to-database")),
    Case("ISO005", "ingress-from-every-address", ACME, _ingress_from_everywhere),
    Case("ISO006", "object-in-other-tenant-namespace", ACME, lambda d: set_to(
        one(d, "Service", WEB)["metadata"], "namespace", "globex", f"Service/{WEB}")),
    Case("ISO006", "selector-names-other-tenant", GLOBEX, lambda d: set_to(
        policy(d, "allow-dns-egress")["egress"][0]["to"][0], "namespaceSelector",
        {"matchLabels": {"kubernetes.io/metadata.name": "acme"}}, "NetworkPolicy/allow-dns-egress")),
    Case("ISO006", "namespace-not-the-tenant", ACME, lambda d: set_to(
        one(d, "Namespace")["metadata"], "name", "acme-2", "Namespace/acme-2")),
    Case("ISO007", "load-balancer", ACME, lambda d: set_to(
        one(d, "Service", WEB)["spec"], "type", "LoadBalancer", f"Service/{WEB}")),
    Case("ISO007", "external-ips", GLOBEX_US, lambda d: set_to(
        one(d, "Service", WEB)["spec"], "externalIPs", ["203.0.113.7"], f"Service/{WEB}")),
    Case("ISO008", "host-network", ACME, lambda d: set_to(pod(d, WEB), "hostNetwork", True, f"Deployment/{WEB}")),
    Case("ISO008", "host-port", GLOBEX, lambda d: set_to(
        container(d, WEB)["ports"][0], "hostPort", 8080, f"Deployment/{WEB}")),
    Case("ISO009", "quota-removed", ACME, _no_quota),
    Case("ISO009", "node-ports-allowed", GLOBEX, lambda d: set_to(
        one(d, "ResourceQuota")["spec"]["hard"], "services.nodeports", "2", "Namespace/globex")),
    Case("ISO010", "privileged", ACME, lambda d: set_to(
        one(d, "Namespace")["metadata"]["labels"], "pod-security.kubernetes.io/enforce", "privileged",
        "Namespace/acme")),
    Case("ISO010", "enforce-missing", GLOBEX, lambda d: pop_from(
        one(d, "Namespace")["metadata"]["labels"], "pod-security.kubernetes.io/enforce", "Namespace/globex")),
    Case("ISO010", "argo-overlay-without-namespace", ACME, lambda d: (
        drop(d, "Namespace", "acme"), "Namespace/acme")[1]),
    Case("ISO011", "service-account-automounts", ACME, lambda d: set_to(
        one(d, "ServiceAccount", WEB), "automountServiceAccountToken", True, f"ServiceAccount/{WEB}")),
    Case("ISO011", "pod-on-default-account", ACME, lambda d: (
        pod(d, WEB).pop("automountServiceAccountToken"), pop_from(pod(d, WEB), "serviceAccountName",
                                                              f"Deployment/{WEB}"))[1]),
    Case("ISO011", "pod-overrides-account", GLOBEX, lambda d: set_to(
        pod(d, SERVICES), "automountServiceAccountToken", True, f"Deployment/{SERVICES}")),
    Case("ISO012", "flux-overlay-binds-a-cluster-role", GLOBEX_US, _cluster_role_binding),
    Case("ISO012", "flux-overlay-creates-its-namespace", GLOBEX_US, lambda d: (d.append(
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "globex", "labels": {
            "pod-security.kubernetes.io/enforce": "baseline"}, "annotations": {
            "argocd.argoproj.io/sync-options": "Prune=false,Delete=false",
            "kustomize.toolkit.fluxcd.io/prune": "disabled"}}}), "Namespace/globex")[1]),
    Case("ISO014", "smtp-relay-allowed-to-one-pod-only", GLOBEX, _mail_from_services_only,
         declare=lambda e: _with_egress(e, "globex", EgressRule("10.50.0.25/32", 587, "TCP", "SMTP relay"))),
    Case("ISO015", "quota-full-at-the-surge", ACME, lambda d: set_to(
        one(d, "ResourceQuota")["spec"]["hard"], "pods", "5", "ResourceQuota/workflowgen")),
    Case("ISO015", "quota-memory-short", GLOBEX, lambda d: set_to(
        one(d, "ResourceQuota")["spec"]["hard"], "limits.memory", "8Gi", "ResourceQuota/workflowgen")),
    Case("ISO015", "limit-range-rejects-the-solver", ACME, lambda d: set_to(
        one(d, "LimitRange")["spec"]["limits"][0], "min", {"cpu": "100m", "memory": "128Mi"},
        "LimitRange/workflowgen")),
]


@pytest.mark.parametrize("case", ISOLATION_CASES, ids=lambda c: c.id)
def test_isolation_rule_fires(case: Case, fresh: tuple[Path, Estate, Rendered]) -> None:
    assert_overlay_rule_fires(case, fresh)
