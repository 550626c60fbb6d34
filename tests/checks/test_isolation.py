"""The rule checks of gitops_gen.checks.rules: each rule fires on a fixture that breaks exactly that rule,
with the expected id and object, and stays silent on the example estate and on a freshly generated one.

Overlays are rendered once per module with real kustomize; every case deep-copies the rendered objects
(or copies the estate's files) and applies one mutation.
"""

from __future__ import annotations

import copy
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pygit2
import pytest

from gitops_gen import checks, yamlio
from gitops_gen.checks import RULES, Finding, Rule
from gitops_gen.checks import isolation as R
from gitops_gen.estate.load import Estate, load_estate
from tests.conftest import make_estate
from tests.tools import PROJECT_ROOT, overlays, render

Docs = list[dict[str, Any]]
Rendered = dict[str, Docs]

ACME = "overlays/acme/eu-west-1"  # Argo CD cluster, ltsc2022, in-cluster database, 2 web replicas
GLOBEX = "overlays/globex/eu-west-1"  # external database, OIDC auth, 3 web replicas
GLOBEX_US = "overlays/globex/us-east-1"  # Flux cluster, ltsc2019
APPSET = "clusters/eu-west-1/argocd/applicationset.yaml"
FLUX_GLOBEX = "clusters/us-east-1/tenants/globex.yaml"
ENC_KEY = "WFGEN_APP_SETTING_ApplicationSecurityPasswordSymmetricEncryptionKey"


# --------------------------------------------------------------------------- fixtures

@pytest.fixture(scope="module")
def fresh(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Estate, Rendered]:
    """The conftest estate (acme on eu-west-1, globex on both clusters), generated and rendered once."""
    home = tmp_path_factory.mktemp("rules-home")
    (home / ".gitconfig").write_text("[user]\n\tname = Test Engineer\n\temail = test@example.com\n")
    level: Any = pygit2.GIT_CONFIG_LEVEL_GLOBAL
    previous = pygit2.settings.search_path[level]
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("HOME", str(home))
        mp.setenv("GIT_CONFIG_NOSYSTEM", "1")
        for var in ("GIT_AUTHOR_NAME", "GIT_AUTHOR_EMAIL", "GIT_COMMITTER_NAME", "GIT_COMMITTER_EMAIL"):
            mp.delenv(var, raising=False)
        pygit2.settings.search_path[level] = str(home)
        try:
            root = make_estate(tmp_path_factory.mktemp("rules") / "estate")
        finally:
            pygit2.settings.search_path[level] = previous
    rendered = {o: render(root, o) for o in overlays(root)}
    assert set(rendered) == {ACME, GLOBEX, GLOBEX_US}
    return root, load_estate(root), rendered


@pytest.fixture(scope="module")
def example() -> tuple[Path, Estate, Rendered]:
    return PROJECT_ROOT, load_estate(PROJECT_ROOT), {o: render(PROJECT_ROOT, o) for o in overlays(PROJECT_ROOT)}


def yaml_files(root: Path) -> list[str]:
    return [f for f in R.repository_files(root) if f.endswith((".yaml", ".yml"))]


def all_findings(root: Path, estate: Estate, rendered: Rendered) -> list[Finding]:
    found: list[Finding] = []
    for overlay, docs in rendered.items():
        found += R.check_overlay(R.overlay_context(estate, overlay, docs))
    found += R.check_routing(estate, rendered)
    found += R.check_controllers(root, estate)
    found += R.check_repository_secrets(root, yaml_files(root))
    return found


def show(found: list[Finding]) -> str:
    return "\n".join(f"{f.rule} {f.obj}: {f.message}" for f in found)


# --------------------------------------------------------------------------- clean estates

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
    ctx = R.OverlayContext(config=estate.config, tenant=estate.tenants["acme"], cluster=estate.clusters["eu-west-1"],
                           overlay=ACME, docs=rendered[ACME], tenant_namespaces=frozenset({"acme", "globex"}))
    assert ctx == R.overlay_context(estate, ACME, rendered[ACME])
    assert R.check_overlay(ctx) == []


# --------------------------------------------------------------------------- mutation helpers

def one(docs: Docs, kind: str, name: str | None = None) -> dict[str, Any]:
    found = [d for d in docs if d["kind"] == kind and (name is None or d["metadata"]["name"] == name)]
    assert len(found) == 1, f"{kind}/{name}: {len(found)} found"
    return found[0]


def drop(docs: Docs, kind: str, name: str) -> None:
    docs[:] = [d for d in docs if not (d["kind"] == kind and d["metadata"]["name"] == name)]


def pod(docs: Docs, name: str) -> dict[str, Any]:
    spec: dict[str, Any] = one(docs, "Deployment", name)["spec"]["template"]["spec"]
    return spec


def container(docs: Docs, name: str) -> dict[str, Any]:
    c: dict[str, Any] = pod(docs, name)["containers"][0]
    return c


def env(docs: Docs, name: str) -> list[dict[str, Any]]:
    e: list[dict[str, Any]] = container(docs, name)["env"]
    return e


def policy(docs: Docs, name: str) -> dict[str, Any]:
    spec: dict[str, Any] = one(docs, "NetworkPolicy", name)["spec"]
    return spec


def add_policy(docs: Docs, name: str, spec: dict[str, Any]) -> str:
    docs.append({"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
                 "metadata": {"name": name, "namespace": docs[0]["metadata"]["name"]}, "spec": spec})
    return f"NetworkPolicy/{name}"


def add_host(docs: Docs, host: str) -> str:
    ing = one(docs, "Ingress")
    ing["spec"]["rules"].append(copy.deepcopy(ing["spec"]["rules"][0]) | {"host": host})
    ing["spec"]["tls"][0]["hosts"].append(host)
    return "Ingress/workflowgen"


WEB, SERVICES, DB = "workflowgen-web", "workflowgen-win-services", "workflowgen-database"
WEB_POLICY = "web-from-ingress-controller"
INGRESS_NS = {"matchLabels": {"kubernetes.io/metadata.name": "ingress-nginx"}}


@dataclass(frozen=True)
class Case:
    rule: str
    name: str
    where: str
    #: Breaks the rule in place; returns the "Kind/name" the finding must name.
    mutate: Callable[[Any], str]

    @property
    def id(self) -> str:
        return f"{self.rule}-{self.name}"


def _set(target: dict[str, Any], key: str, value: Any, result: str) -> str:
    target[key] = value
    return result


def _pop(target: dict[str, Any], key: str, result: str) -> str:
    del target[key]
    return result


# --------------------------------------------------------------------------- per-overlay cases

def _no_default_deny(d: Docs) -> str:
    drop(d, "NetworkPolicy", "default-deny")
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


def _ingress_from_everywhere(d: Docs) -> str:
    # Selects no pod, so only the open peer is wrong.
    return add_policy(d, "monitoring-in", {
        "podSelector": {"matchLabels": {"app": "exporter"}}, "policyTypes": ["Ingress"],
        "ingress": [{"from": [{"ipBlock": {"cidr": "0.0.0.0/0"}}], "ports": [{"protocol": "TCP", "port": 9100}]}]})


def _secret(d: Docs) -> str:
    d.append({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "workflowgen-admin", "namespace": "acme"},
              "stringData": {"password": "correct horse battery staple"}})
    return "Secret/workflowgen-admin"


def _configmap_connection_string(d: Docs) -> str:
    cm = one(d, "ConfigMap")
    cm["data"]["WFGEN_DATABASE_CONNECTION_STRING"] = "Server=sql;Database=WFGEN;User ID=WFGEN_USER;Password=s3cret"
    return f"ConfigMap/{cm['metadata']['name']}"


def _key_from_configmap(d: Docs) -> str:
    e = env(d, SERVICES)
    e[:] = [x for x in e if x["name"] != f"{ENC_KEY}_FILE"]
    e.append({"name": ENC_KEY, "valueFrom": {"configMapKeyRef": {"name": "keys", "key": "enc"}}})
    return f"Deployment/{SERVICES}"


def _no_key(d: Docs) -> str:
    e = env(d, SERVICES)
    e[:] = [x for x in e if x["name"] != f"{ENC_KEY}_FILE"]
    return f"Deployment/{SERVICES}"


def _machine_key_outside_secret(d: Docs) -> str:
    for x in env(d, WEB):
        if x["name"] == "WFGEN_MACHINE_KEY_VALIDATION_KEY_FILE":
            x["value"] = "C:\\wfgen\\data\\validation.key"
    return f"Deployment/{WEB}"


def _no_quota(d: Docs) -> str:
    drop(d, "ResourceQuota", "workflowgen")
    return "Namespace/acme"


def _literal_password(d: Docs) -> str:
    env(d, WEB).append({"name": "WFGEN_ADMIN_PASSWORD", "value": "hunter2"})
    return f"Deployment/{WEB}"


def _vct_unprotected(d: Docs) -> str:
    del one(d, "StatefulSet")["spec"]["volumeClaimTemplates"][0]["metadata"]["annotations"][
        "argocd.argoproj.io/sync-options"]
    return f"StatefulSet/{DB}"


OVERLAY_CASES = [
    Case("ISO001", "default-deny-removed", ACME, _no_default_deny),
    Case("ISO001", "default-deny-ingress-only", ACME,
         lambda d: _set(policy(d, "default-deny"), "policyTypes", ["Ingress"], "Namespace/acme")),
    Case("ISO002", "web-on-443", ACME, lambda d: _set(
        policy(d, WEB_POLICY)["ingress"][0], "ports", [{"protocol": "TCP", "port": 443}],
        f"NetworkPolicy/{WEB_POLICY}")),
    Case("ISO002", "web-any-port", GLOBEX, lambda d: _pop(
        policy(d, WEB_POLICY)["ingress"][0], "ports", f"NetworkPolicy/{WEB_POLICY}")),
    Case("ISO002", "web-from-other-namespace", ACME, lambda d: _set(
        policy(d, WEB_POLICY)["ingress"][0]["from"][0], "namespaceSelector",
        {"matchLabels": {"kubernetes.io/metadata.name": "monitoring"}}, f"NetworkPolicy/{WEB_POLICY}")),
    Case("ISO002", "web-from-namespace-pods", ACME, _web_from_namespace_pods),
    Case("ISO003", "win-services-ingress", ACME, _win_services_ingress),
    Case("ISO004", "database-port", ACME, lambda d: _set(
        policy(d, "database-from-workflowgen")["ingress"][0], "ports", [{"protocol": "TCP", "port": 1434}],
        "NetworkPolicy/database-from-workflowgen")),
    Case("ISO004", "database-peer-with-namespace", ACME, lambda d: _set(
        policy(d, "database-from-workflowgen")["ingress"][0]["from"][0], "namespaceSelector",
        {"matchLabels": {"kubernetes.io/metadata.name": "acme"}}, "NetworkPolicy/database-from-workflowgen")),
    Case("ISO004", "database-from-all-workflowgen-parts", ACME, lambda d: _set(
        policy(d, "database-from-workflowgen")["ingress"][0]["from"][0], "podSelector",
        {"matchLabels": {"app.kubernetes.io/part-of": "workflowgen"}}, "NetworkPolicy/database-from-workflowgen")),
    Case("ISO005", "empty-namespace-selector", ACME, lambda d: _set(
        policy(d, "allow-dns-egress")["egress"][0]["to"][0], "namespaceSelector", {},
        "NetworkPolicy/allow-dns-egress")),
    Case("ISO005", "egress-without-peers", ACME, lambda d: _pop(
        policy(d, "workflowgen-to-database")["egress"][0], "to", "NetworkPolicy/workflowgen-to-database")),
    Case("ISO005", "ingress-from-every-address", ACME, _ingress_from_everywhere),
    Case("ISO006", "object-in-other-tenant-namespace", ACME, lambda d: _set(
        one(d, "Service", WEB)["metadata"], "namespace", "globex", f"Service/{WEB}")),
    Case("ISO006", "selector-names-other-tenant", GLOBEX, lambda d: _set(
        policy(d, "allow-dns-egress")["egress"][0]["to"][0], "namespaceSelector",
        {"matchLabels": {"kubernetes.io/metadata.name": "acme"}}, "NetworkPolicy/allow-dns-egress")),
    Case("ISO006", "namespace-not-the-tenant", ACME, lambda d: _set(
        one(d, "Namespace")["metadata"], "name", "acme-2", "Namespace/acme-2")),
    Case("ISO007", "load-balancer", ACME, lambda d: _set(
        one(d, "Service", WEB)["spec"], "type", "LoadBalancer", f"Service/{WEB}")),
    Case("ISO007", "external-ips", GLOBEX_US, lambda d: _set(
        one(d, "Service", WEB)["spec"], "externalIPs", ["203.0.113.7"], f"Service/{WEB}")),
    Case("ISO008", "host-network", ACME, lambda d: _set(pod(d, WEB), "hostNetwork", True, f"Deployment/{WEB}")),
    Case("ISO008", "host-port", GLOBEX, lambda d: _set(
        container(d, WEB)["ports"][0], "hostPort", 8080, f"Deployment/{WEB}")),
    Case("ISO009", "quota-removed", ACME, _no_quota),
    Case("ISO009", "node-ports-allowed", GLOBEX, lambda d: _set(
        one(d, "ResourceQuota")["spec"]["hard"], "services.nodeports", "2", "Namespace/globex")),
    Case("ISO010", "privileged", ACME, lambda d: _set(
        one(d, "Namespace")["metadata"]["labels"], "pod-security.kubernetes.io/enforce", "privileged",
        "Namespace/acme")),
    Case("ISO010", "enforce-missing", GLOBEX_US, lambda d: _pop(
        one(d, "Namespace")["metadata"]["labels"], "pod-security.kubernetes.io/enforce", "Namespace/globex")),
    Case("ISO011", "service-account-automounts", ACME, lambda d: _set(
        one(d, "ServiceAccount", WEB), "automountServiceAccountToken", True, f"ServiceAccount/{WEB}")),
    Case("ISO011", "pod-on-default-account", ACME, lambda d: (
        pod(d, WEB).pop("automountServiceAccountToken"), _pop(pod(d, WEB), "serviceAccountName",
                                                              f"Deployment/{WEB}"))[1]),
    Case("ISO011", "pod-overrides-account", GLOBEX, lambda d: _set(
        pod(d, SERVICES), "automountServiceAccountToken", True, f"Deployment/{SERVICES}")),
    Case("HTTPS001", "tls-misses-a-host", ACME, lambda d: _set(
        one(d, "Ingress")["spec"]["tls"][0], "hosts", ["acme.wfg.example.com"], "Ingress/workflowgen")),
    Case("HTTPS001", "no-tls", GLOBEX_US, lambda d: _pop(one(d, "Ingress")["spec"], "tls", "Ingress/workflowgen")),
    Case("HTTPS002", "no-issuer", ACME, lambda d: _pop(
        one(d, "Ingress")["metadata"]["annotations"], "cert-manager.io/cluster-issuer", "Ingress/workflowgen")),
    Case("HTTPS003", "redirect-off", ACME, lambda d: _set(
        one(d, "Ingress")["metadata"]["annotations"], "nginx.ingress.kubernetes.io/force-ssl-redirect", "false",
        "Ingress/workflowgen")),
    Case("HTTPS004", "rule-without-host", GLOBEX, lambda d: _pop(
        one(d, "Ingress")["spec"]["rules"][-1], "host", "Ingress/workflowgen")),
    Case("HTTPS004", "default-backend", ACME, lambda d: _set(
        one(d, "Ingress")["spec"], "defaultBackend", {"service": {"name": WEB, "port": {"name": "http"}}},
        "Ingress/workflowgen")),
    Case("ROUTE003", "undeclared-host", ACME, lambda d: add_host(d, "acme.example.org")),
    Case("ROUTE003", "global-host-of-other-placement", GLOBEX_US, lambda d: add_host(d, "globex.wfg.example.com")),
    Case("ROUTE004", "other-tenants-regional-host", ACME, lambda d: add_host(d, "initech.eu.wfg.example.com")),
    Case("WIN001", "linux-node-selector", ACME, lambda d: _set(
        pod(d, WEB)["nodeSelector"], "kubernetes.io/os", "linux", f"Deployment/{WEB}")),
    Case("WIN001", "no-os-name", GLOBEX_US, lambda d: _pop(pod(d, SERVICES), "os", f"Deployment/{SERVICES}")),
    Case("WIN002", "run-as-user", ACME, lambda d: _set(
        container(d, WEB), "securityContext", {"runAsUser": 1000}, f"Deployment/{WEB}")),
    Case("WIN002", "run-as-user-name", GLOBEX, lambda d: _set(
        pod(d, SERVICES), "securityContext", {"windowsOptions": {"runAsUserName": "ContainerUser"}},
        f"Deployment/{SERVICES}")),
    Case("WIN003", "ltsc2019-tag-on-ltsc2022", ACME, lambda d: _set(
        container(d, WEB), "image", "advantys/workflowgen:10.3.1-win-ltsc2019", f"Deployment/{WEB}")),
    Case("WIN003", "tag-without-os-suffix", GLOBEX_US, lambda d: _set(
        container(d, SERVICES), "image", "advantys/workflowgen:10.3.1", f"Deployment/{SERVICES}")),
    Case("WIN003", "windows-build-selector", ACME, lambda d: _set(
        pod(d, WEB)["nodeSelector"], "node.kubernetes.io/windows-build", "10.0.17763", f"Deployment/{WEB}")),
    Case("WIN004", "services-replicas", ACME, lambda d: _set(
        one(d, "Deployment", SERVICES)["spec"], "replicas", 2, f"Deployment/{SERVICES}")),
    Case("WIN004", "services-rolling-update", GLOBEX, lambda d: _set(
        one(d, "Deployment", SERVICES)["spec"], "strategy", {"type": "RollingUpdate"}, f"Deployment/{SERVICES}")),
    Case("WIN005", "encryption-key-missing", ACME, _no_key),
    Case("WIN005", "encryption-key-from-configmap", GLOBEX_US, _key_from_configmap),
    Case("WIN005", "machine-key-outside-secret", GLOBEX, _machine_key_outside_secret),
    Case("SEC001", "rendered-secret", ACME, _secret),
    Case("SEC002", "literal-password-env", ACME, _literal_password),
    Case("SEC002", "connection-string-in-configmap", GLOBEX, _configmap_connection_string),
    Case("DATA001", "namespace-prune-only", ACME, lambda d: _set(
        one(d, "Namespace")["metadata"]["annotations"], "argocd.argoproj.io/sync-options", "Prune=false",
        "Namespace/acme")),
    Case("DATA001", "volume-claim-template", ACME, _vct_unprotected),
    Case("DATA002", "pvc-prunable", GLOBEX_US, lambda d: _pop(
        one(d, "PersistentVolumeClaim")["metadata"]["annotations"], "kustomize.toolkit.fluxcd.io/prune",
        "PersistentVolumeClaim/workflowgen-data")),
    Case("DATA002", "database-prunable", ACME, lambda d: _set(
        one(d, "StatefulSet")["metadata"]["annotations"], "kustomize.toolkit.fluxcd.io/prune", "Disabled",
        f"StatefulSet/{DB}")),
]


@pytest.mark.parametrize("case", OVERLAY_CASES, ids=lambda c: c.id)
def test_overlay_rule_fires(case: Case, fresh: tuple[Path, Estate, Rendered]) -> None:
    _, estate, rendered = fresh
    docs = copy.deepcopy(rendered[case.where])
    obj = case.mutate(docs)
    found = R.check_overlay(R.overlay_context(estate, case.where, docs))
    assert {f.rule for f in found} == {case.rule}, show(found)
    assert {f.obj for f in found} == {obj}, show(found)
    _, tenant, cluster = case.where.split("/")
    for f in found:
        assert (f.tenant, f.cluster, f.path) == (tenant, cluster, f"{case.where}/kustomization.yaml")
        assert (f.severity, f.hint) == (RULES[case.rule].severity, RULES[case.rule].hint)
        assert f.message


def test_literal_encryption_key_is_both_a_key_and_a_literal(fresh: tuple[Path, Estate, Rendered]) -> None:
    _, estate, rendered = fresh
    docs = copy.deepcopy(rendered[ACME])
    env(docs, WEB).append({"name": ENC_KEY, "value": "0123456789abcdef0123456789abcdef"})
    found = R.check_overlay(R.overlay_context(estate, ACME, docs))
    assert {(f.rule, f.obj) for f in found} == {("WIN005", f"Deployment/{WEB}"), ("SEC002", f"Deployment/{WEB}")}


def test_machine_keys_only_needed_with_several_web_replicas(fresh: tuple[Path, Estate, Rendered]) -> None:
    _, estate, rendered = fresh
    docs = copy.deepcopy(rendered[ACME])
    web_env = env(docs, WEB)
    web_env[:] = [x for x in web_env if not x["name"].startswith("WFGEN_MACHINE_KEY")]
    one(docs, "Deployment", WEB)["spec"]["replicas"] = 1
    assert R.check_overlay(R.overlay_context(estate, ACME, docs)) == []
    one(docs, "Deployment", WEB)["spec"]["replicas"] = 2
    found = R.check_overlay(R.overlay_context(estate, ACME, docs))
    assert {(f.rule, f.obj) for f in found} == {("WIN005", f"Deployment/{WEB}")}


# --------------------------------------------------------------------------- routing across overlays

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
    found = R.check_routing(estate, mutated)
    assert {f.rule for f in found} == {case.rule}, show(found)
    assert {f.obj for f in found} == {obj}
    expected = {("acme", "eu-west-1"), ("globex", "us-east-1")} if case.rule == "ROUTE001" else \
        {("globex", "eu-west-1"), ("globex", "us-east-1")}
    assert {(f.tenant, f.cluster) for f in found} == expected
    # The lead's pipeline passes only the Ingresses of each overlay.
    ingresses = {o: [d for d in docs if d["kind"] == "Ingress"] for o, docs in mutated.items()}
    assert R.check_routing(estate, ingresses) == found


# --------------------------------------------------------------------------- controller objects

def _edit_yaml(root: Path, rel: str, edit: Callable[[dict[str, Any]], None]) -> None:
    doc = yamlio.load((root / rel).read_text())
    edit(doc)
    (root / rel).write_text(yamlio.dump(doc))


def _appset(edit: Callable[[dict[str, Any]], None]) -> Callable[[Path], str]:
    def mutate(root: Path) -> str:
        _edit_yaml(root, APPSET, lambda d: edit(d["spec"]))
        return "ApplicationSet/workflowgen-eu-west-1"
    return mutate


def _git(spec: dict[str, Any]) -> dict[str, Any]:
    git: dict[str, Any] = spec["generators"][0]["git"]
    return git


def _flux_path_missing(root: Path) -> str:
    _edit_yaml(root, FLUX_GLOBEX, lambda d: d["spec"].update(path="./overlays/globex/us-east-2"))
    return "Kustomization/globex"


def _nested_tenant_file(root: Path) -> str:
    (root / "clusters/eu-west-1/tenants/archive").mkdir()
    (root / "clusters/eu-west-1/tenants/archive/initech.yaml").write_text("tenant: initech\n")
    return "ApplicationSet/workflowgen-eu-west-1"


CONTROLLER_CASES = [
    Case("DATA003", "resources-deleted-with-applications", "controllers",
         _appset(lambda s: s["syncPolicy"].pop("preserveResourcesOnDeletion"))),
    Case("DATA004", "missingkey-not-error", "controllers", _appset(lambda s: s.update(goTemplateOptions=[]))),
    Case("DATA004", "no-go-template", "controllers", _appset(lambda s: s.update(goTemplate=False))),
    Case("DATA005", "files-pattern-typo", "controllers",
         _appset(lambda s: _git(s)["files"][0].update(path="clusters/eu-west-1/tenant/*.yaml"))),
    Case("DATA005", "every-file-excluded", "controllers", _appset(lambda s: _git(s)["files"].append(
        {"path": "clusters/eu-west-1/tenants/*", "exclude": True}))),
    Case("DATA005", "directories-match-nothing", "controllers", _appset(lambda s: _git(s).update(
        files=None, directories=[{"path": "overlays/*/eu-west-9"}]))),
    Case("DATA006", "flux-path-missing", "controllers", _flux_path_missing),
    Case("DATA007", "greedy-glob-reaches-subdirectory", "controllers", _nested_tenant_file),
]


@pytest.fixture
def estate_copy(fresh: tuple[Path, Estate, Rendered], tmp_path: Path) -> Iterator[Path]:
    root = tmp_path / "estate"
    shutil.copytree(fresh[0], root, ignore=shutil.ignore_patterns(".git"))
    yield root


@pytest.mark.parametrize("case", CONTROLLER_CASES, ids=lambda c: c.id)
def test_controller_rule_fires(case: Case, fresh: tuple[Path, Estate, Rendered], estate_copy: Path) -> None:
    estate = fresh[1]
    assert R.check_controllers(estate_copy, estate) == []
    obj = case.mutate(estate_copy)
    found = R.check_controllers(estate_copy, estate)
    assert {f.rule for f in found} == {case.rule}, show(found)
    assert {f.obj for f in found} == {obj}
    for f in found:
        assert f.path in (APPSET, FLUX_GLOBEX) and f.severity == RULES[case.rule].severity
        assert f.cluster == f.path.split("/")[1]
    if case.rule == "DATA005":
        assert all("delete every Application" in f.message for f in found)


def test_generators_of_other_repositories_are_not_evaluated(fresh: tuple[Path, Estate, Rendered],
                                                            estate_copy: Path) -> None:
    _appset(lambda s: _git(s).update(repoURL="https://git.example.com/other.git",
                                     files=[{"path": "nowhere/*.yaml"}]))(estate_copy)
    assert R.check_controllers(estate_copy, fresh[1]) == []


def test_globbing() -> None:
    assert R.greedy_match("clusters/a/tenants/*.yaml", "clusters/a/tenants/x/y.yaml")
    assert not R.exact_match("clusters/a/tenants/*.yaml", "clusters/a/tenants/x/y.yaml")
    assert R.exact_match("clusters/a/tenants/*.yaml", "clusters/a/tenants/y.yaml")
    assert R.greedy_match("clusters/a/tenants", "clusters/a/tenants/y.yaml"), "a plain pathspec names a directory"
    assert not R.greedy_match("clusters/a/tenants/*.yaml", "clusters/a/tenants/README.md")


# --------------------------------------------------------------------------- secrets in repository files

def _secret_manifest(root: Path) -> str:
    (root / ACME / "secret.yaml").write_text(
        "apiVersion: v1\nkind: Secret\nmetadata:\n  name: workflowgen-app\ntype: Opaque\n"
        "data:\n  WFGEN_MACHINE_KEY_VALIDATION_KEY: c2VjcmV0\n")
    return "Secret/workflowgen-app"


def _secret_generator(root: Path) -> str:
    _edit_yaml(root, f"{ACME}/kustomization.yaml", lambda d: d.update(secretGenerator=[
        {"name": "workflowgen-license", "files": ["WorkflowGen.lic"]}]))
    return "Secret/workflowgen-license"


REPOSITORY_CASES = [
    Case("SEC001", "secret-manifest-in-git", "repository", _secret_manifest),
    Case("SEC001", "secret-generator-in-git", "repository", _secret_generator),
]


@pytest.mark.parametrize("case", REPOSITORY_CASES, ids=lambda c: c.id)
def test_repository_secret_rule_fires(case: Case, estate_copy: Path) -> None:
    assert R.check_repository_secrets(estate_copy, yaml_files(estate_copy)) == []
    obj = case.mutate(estate_copy)
    found = R.check_repository_secrets(estate_copy, yaml_files(estate_copy))
    assert [(f.rule, f.obj, f.tenant, f.cluster) for f in found] == [(case.rule, obj, "acme", "eu-west-1")]
    assert found[0].path is not None and found[0].path.startswith(ACME)


# --------------------------------------------------------------------------- the registry

ALL_CASES = OVERLAY_CASES + ROUTING_CASES + CONTROLLER_CASES + REPOSITORY_CASES


def test_every_rule_has_a_breaking_case() -> None:
    pipeline = {v.id for v in vars(checks).values() if isinstance(v, Rule)}  # SCHEMA*, DRIFT001: the pipeline's
    assert {"SCHEMA001", "SCHEMA002", "SCHEMA003", "DRIFT001"} <= pipeline
    mine = set(RULES) - pipeline
    assert mine == {*R.OVERLAY_RULES, *R.ROUTING_RULES, *R.CONTROLLER_RULES, *R.REPOSITORY_RULES}
    assert mine == {c.rule for c in ALL_CASES}
    assert len({c.id for c in ALL_CASES}) == len(ALL_CASES)


def test_every_rule_documents_its_fix() -> None:
    for r in RULES.values():
        assert r.hint.strip() and "\n" not in r.hint, r.id
        assert r.title.strip(), r.id
    assert RULES["DATA007"].severity == "warning"
    assert all(RULES[i].severity == "error" for i in (*R.OVERLAY_RULES, *R.ROUTING_RULES, "DATA005", "DATA006"))
