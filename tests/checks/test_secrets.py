"""Secret rules (SEC001-SEC004): in rendered overlays, across overlays, and in the repository's files."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest

from gitops_gen import checks
from gitops_gen.estate.load import Estate
from tests.checks.cases import (
    ACME,
    ENC_KEY,
    GLOBEX,
    GLOBEX_US,
    WEB,
    Case,
    Docs,
    Rendered,
    assert_overlay_rule_fires,
    edit_yaml,
    env,
    one,
    show,
    yaml_files,
)


def _configmap_connection_string(d: Docs) -> str:
    cm = one(d, "ConfigMap")
    cm["data"]["WFGEN_DATABASE_CONNECTION_STRING"] = "Server=sql;Database=WFGEN;User ID=WFGEN_USER;Password=s3cret"
    return f"ConfigMap/{cm['metadata']['name']}"


def _literal_password(d: Docs) -> str:
    env(d, WEB).append({"name": "WFGEN_ADMIN_PASSWORD", "value": "hunter2"})
    return f"Deployment/{WEB}"


def _secret(d: Docs) -> str:
    d.append({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "workflowgen-admin", "namespace": "acme"},
              "stringData": {"password": "correct horse battery staple"}})
    return "Secret/workflowgen-admin"


def _read_key(d: Docs, key: str, name: str = "workflowgen-app") -> str:
    for item in one(d, "ExternalSecret", name)["spec"]["data"]:
        item["remoteRef"]["key"] = key
    return f"ExternalSecret/{name}"


def _search_store(d: Docs) -> str:
    one(d, "ExternalSecret", "workflowgen-license")["spec"]["dataFrom"] = [
        {"find": {"name": {"regexp": "^workflowgen/.*"}}}]
    return "ExternalSecret/workflowgen-license"


SECRETS_CASES = [
    Case("SEC001", "rendered-secret", ACME, _secret),
    Case("SEC002", "literal-password-env", ACME, _literal_password),
    Case("SEC002", "connection-string-in-configmap", GLOBEX, _configmap_connection_string),
    Case("SEC004", "reads-another-tenants-key", GLOBEX, lambda d: _read_key(d, "workflowgen/acme/eu-west-1")),
    Case("SEC004", "reads-the-tenant-prefix-of-another-placement", GLOBEX_US,
         lambda d: _read_key(d, "workflowgen/globex/eu-west-1")),
    Case("SEC004", "searches-the-store", ACME, _search_store),
]


def _reads(rendered: Rendered) -> dict[str, list[list[str]]]:
    """What validate keeps of each overlay for SEC003: (store, key, object) of every read by name."""
    return {o: [[store, key, ref] for es, key, store in checks.remote_reads(docs) if key is not None
                for ref in [f"{es['kind']}/{es['metadata']['name']}"]] for o, docs in rendered.items()}


def _shared_by_placements(r: Rendered) -> str:
    """Both placements of globex read the same key (the pre-#11 layout: one key per tenant)."""
    for overlay in (GLOBEX, GLOBEX_US):
        _read_key(r[overlay], "workflowgen/globex")
    return "ExternalSecret/workflowgen-app"


KEY_CASES = [
    Case("SEC003", "placements-share-a-key", "rendered", _shared_by_placements),
]


@pytest.mark.parametrize("case", KEY_CASES, ids=lambda c: c.id)
def test_shared_key_rule_fires(case: Case, fresh: tuple[Path, Estate, Rendered]) -> None:
    _, estate, rendered = fresh
    assert checks.check_secret_keys(estate, _reads(rendered)) == []
    mutated = copy.deepcopy(rendered)
    obj = case.mutate(mutated)
    found = checks.check_secret_keys(estate, _reads(mutated))
    assert {(f.rule, f.obj, f.tenant, f.cluster) for f in found} == {
        (case.rule, obj, "globex", "eu-west-1"), (case.rule, obj, "globex", "us-east-1")}, show(found)
    assert all("workflowgen/globex" in f.message for f in found)


def test_two_tenants_on_one_key_are_named_in_each_finding(fresh: tuple[Path, Estate, Rendered]) -> None:
    _, estate, rendered = fresh
    mutated = copy.deepcopy(rendered)
    _read_key(mutated[GLOBEX], "workflowgen/acme/eu-west-1")
    found = checks.check_secret_keys(estate, _reads(mutated))
    assert sorted((f.tenant, f.message) for f in found) == [
        ("acme", "remote key 'workflowgen/acme/eu-west-1' of ClusterSecretStore/workflowgen is also read by "
                 "globex/eu-west-1"),
        ("globex", "remote key 'workflowgen/acme/eu-west-1' of ClusterSecretStore/workflowgen is also read by "
                   "acme/eu-west-1")]


@pytest.mark.parametrize("case", SECRETS_CASES, ids=lambda c: c.id)
def test_secrets_rule_fires(case: Case, fresh: tuple[Path, Estate, Rendered]) -> None:
    assert_overlay_rule_fires(case, fresh)


def test_literal_encryption_key_is_both_a_key_and_a_literal(fresh: tuple[Path, Estate, Rendered]) -> None:
    _, estate, rendered = fresh
    docs = copy.deepcopy(rendered[ACME])
    env(docs, WEB).append({"name": ENC_KEY, "value": "0123456789abcdef0123456789abcdef"})
    found = checks.check_overlay(checks.overlay_context(estate, ACME, docs))
    assert {(f.rule, f.obj) for f in found} == {("WIN005", f"Deployment/{WEB}"), ("SEC002", f"Deployment/{WEB}")}


def _secret_manifest(root: Path) -> str:
    (root / ACME / "secret.yaml").write_text(
        "apiVersion: v1\nkind: Secret\nmetadata:\n  name: workflowgen-app\ntype: Opaque\n"
        "data:\n  WFGEN_MACHINE_KEY_VALIDATION_KEY: c2VjcmV0\n")
    return "Secret/workflowgen-app"


def _secret_generator(root: Path) -> str:
    edit_yaml(root, f"{ACME}/kustomization.yaml", lambda d: d.update(secretGenerator=[
        {"name": "workflowgen-license", "files": ["WorkflowGen.lic"]}]))
    return "Secret/workflowgen-license"


REPOSITORY_CASES = [
    Case("SEC001", "secret-manifest-in-git", "repository", _secret_manifest),
    Case("SEC001", "secret-generator-in-git", "repository", _secret_generator),
]


@pytest.mark.parametrize("case", REPOSITORY_CASES, ids=lambda c: c.id)
def test_repository_secret_rule_fires(case: Case, estate_copy: Path) -> None:
    assert checks.check_repository_secrets(estate_copy, yaml_files(estate_copy)) == []
    obj = case.mutate(estate_copy)
    found = checks.check_repository_secrets(estate_copy, yaml_files(estate_copy))
    assert [(f.rule, f.obj, f.tenant, f.cluster) for f in found] == [(case.rule, obj, "acme", "eu-west-1")]
    assert found[0].path is not None and found[0].path.startswith(ACME)
