"""What the rule tests share: the estates' overlays, mutation helpers, and the case of one rule broken once.

Overlays are rendered once per test session with real kustomize (``fresh`` and ``example`` in conftest.py);
every case deep-copies the rendered objects (or copies the estate's files) and applies one mutation.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gitops_gen import checks, yamlio
from gitops_gen.checks import RULES, Finding
from gitops_gen.checks.objects import repository_files
from gitops_gen.estate.load import Estate

Docs = list[dict[str, Any]]
Rendered = dict[str, Docs]

ACME = "overlays/acme/eu-west-1"  # Argo CD cluster, ltsc2022, in-cluster database, 2 web replicas
GLOBEX = "overlays/globex/eu-west-1"  # external database, OIDC auth, 3 web replicas
GLOBEX_US = "overlays/globex/us-east-1"  # Flux cluster, ltsc2019
APPSET = "clusters/eu-west-1/argocd/applicationset.yaml"
FLUX_GLOBEX = "clusters/us-east-1/tenants/globex.yaml"
PLATFORM_GLOBEX = "clusters/us-east-1/platform/globex/platform.yaml"
FLUX_SYNC = "clusters/us-east-1/flux-system/gitops-gen-sync.yaml"
ENC_KEY = "WFGEN_APP_SETTING_ApplicationSecurityPasswordSymmetricEncryptionKey"


def yaml_files(root: Path) -> list[str]:
    return [f for f in repository_files(root) if f.endswith((".yaml", ".yml"))]


def all_findings(root: Path, estate: Estate, rendered: Rendered) -> list[Finding]:
    found: list[Finding] = []
    for overlay, docs in rendered.items():
        found += checks.check_overlay(checks.overlay_context(estate, overlay, docs))
    found += checks.check_routing(estate, rendered)
    found += checks.check_controllers(root, estate)
    found += checks.check_repository_secrets(root, yaml_files(root))
    return found


def show(found: list[Finding]) -> str:
    return "\n".join(f"{f.rule} {f.obj}: {f.message}" for f in found)


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
    #: Changes the declarations the overlay is checked against (e.g. declares an egress the overlay lacks).
    declare: Callable[[Estate], Estate] | None = None

    @property
    def id(self) -> str:
        return f"{self.rule}-{self.name}"


def set_to(target: dict[str, Any], key: str, value: Any, result: str) -> str:
    target[key] = value
    return result


def pop_from(target: dict[str, Any], key: str, result: str) -> str:
    del target[key]
    return result


def edit_yaml(root: Path, rel: str, edit: Callable[[dict[str, Any]], None], name: str | None = None) -> None:
    """Edit the file's one document, or the one named ``name`` among several."""
    docs = list(yamlio.load_all((root / rel).read_text()))
    chosen = [d for d in docs if name is None or d["metadata"]["name"] == name]
    assert len(chosen) == 1, f"{rel}: {len(chosen)} documents named {name}"
    edit(chosen[0])
    (root / rel).write_text(yamlio.dump_docs(docs))




def assert_overlay_rule_fires(case: Case, fresh: tuple[Path, Estate, Rendered]) -> None:
    """The case's mutation of its overlay makes exactly its rule fire, on exactly the object it names."""
    _, estate, rendered = fresh
    if case.declare is not None:
        estate = case.declare(estate)
    docs = copy.deepcopy(rendered[case.where])
    obj = case.mutate(docs)
    found = checks.check_overlay(checks.overlay_context(estate, case.where, docs))
    assert {f.rule for f in found} == {case.rule}, show(found)
    assert {f.obj for f in found} == {obj}, show(found)
    _, tenant, cluster = case.where.split("/")
    for f in found:
        assert (f.tenant, f.cluster, f.path) == (tenant, cluster, f"{case.where}/kustomization.yaml")
        assert (f.severity, f.hint) == (RULES[case.rule].severity, RULES[case.rule].hint)
        assert f.message
