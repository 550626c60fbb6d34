"""Declarations that could be turned against the estate are refused with the file, line and field: anchors
and aliases (an alias bomb), duplicate keys, template syntax in values that land in controller objects,
another tenant's secret keys; an OIDC auth mode without what it needs; line endings read the same by
every reader."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from gitops_gen.errors import DeclarationError
from gitops_gen.estate.hostindex import read_tenant_hosts
from gitops_gen.estate.model import parse_cluster, parse_config, parse_tenant, quick_hosts
from tests.cli.test_bad_input import assert_refused
from tests.tools import PROJECT_ROOT

TENANT = """apiVersion: gitops-gen.io/v1alpha1
kind: Tenant
name: acme
placements:
  - cluster: eu-west-1
hosts:
  - host: acme.wfg.example.com
    placement: eu-west-1
"""

#: 700 bytes that expand to 10^9 strings in anything that walks the loaded tree.
ALIAS_BOMB = TENANT + "".join(
    f"x{i}: &x{i} [{', '.join([f'*x{i - 1}'] * 10 if i else ['lol'] * 10)}]\n" for i in range(9))


def parse(text: str) -> None:
    parse_tenant("overlays/acme/tenant.yaml", text, "acme")


def test_the_alias_bomb_is_small() -> None:
    assert len(ALIAS_BOMB.encode()) < 1000


def test_anchors_and_aliases_are_refused_naming_the_line() -> None:
    with pytest.raises(DeclarationError) as exc:
        parse(ALIAS_BOMB)
    assert exc.value.line == 9 and "anchor '&x0'" in exc.value.message
    assert "anchors or aliases" in str(exc.value.hint)
    shared = TENANT.replace("hosts:\n", "hosts: &h\n") + "other: *h\n"
    with pytest.raises(DeclarationError) as alias:
        parse(shared)
    assert alias.value.line == 6 and "anchor '&h'" in alias.value.message
    # An '&' or '*' inside a value is just a character.
    parse(TENANT.replace("acme.wfg.example.com", "'acme.wfg.example.com'") + "# R&D * marketing\n")


@pytest.mark.parametrize("command", [["list"], ["generate", "--check"], ["validate"], ["route", "x.example.com"]])
def test_no_command_hangs_on_an_alias_bomb(estate: Path, command: list[str]) -> None:
    (estate / "overlays/acme/tenant.yaml").write_text(ALIAS_BOMB)
    done = subprocess.run([sys.executable, "-m", "gitops_gen", *command, "--repo", str(estate)],
                          capture_output=True, text=True, timeout=60, cwd=PROJECT_ROOT, check=False)
    assert done.returncode == 2, done.stdout + done.stderr
    assert "overlays/acme/tenant.yaml:9: uses the YAML anchor '&x0'" in done.stderr, done.stderr
    assert "Traceback" not in done.stderr


def test_duplicate_keys_are_refused_naming_both_lines() -> None:
    with pytest.raises(DeclarationError) as exc:
        parse(TENANT + "size: small\nwebReplicas: 2\nsize: large\n")
    assert exc.value.line == 11 and "has the key 'size' twice, on lines 9 and 11" in exc.value.message
    nested = TENANT.replace("    placement: eu-west-1\n", "    placement: eu-west-1\n    host: evil.example.com\n")
    with pytest.raises(DeclarationError) as inner:
        parse(nested)
    assert "has the key 'host' twice, on lines 7 and 9" in inner.value.message
    with pytest.raises(DeclarationError):
        parse_config("gitops-gen.yaml", (PROJECT_ROOT / "gitops-gen.yaml").read_text() + "repo: {url: x}\n")


def test_a_host_declared_twice_names_both_entries() -> None:
    hosts = "".join(f"  - host: h{i}.example.org\n    placement: eu-west-1\n" for i in range(2000))
    text = TENANT.replace("hosts:\n", "hosts:\n" + hosts) + "  - host: h5.example.org\n"
    with pytest.raises(DeclarationError) as exc:
        parse(text)
    assert "declares 'h5.example.org' twice (hosts[5] and hosts[2001], lines 17 and 4009)" in exc.value.message


def test_cr_only_line_endings_are_read_as_line_breaks_everywhere(estate: Path) -> None:
    """A tenant.yaml written with CR line endings: YAML reads its hosts, and so must the fast host scan
    that add-tenant's duplicate check runs over every tenant."""
    for ending in ("\r", "\r\n", "\u2028"):
        text = TENANT.replace("\n", ending).encode()
        assert quick_hosts(text) == ("acme", ["acme.wfg.example.com"], ["eu-west-1"]), repr(ending)
    path = estate / "overlays/acme/tenant.yaml"
    path.write_bytes(path.read_bytes().replace(b"\n", b"\r"))
    assert read_tenant_hosts(estate, None)["acme"].hosts == ("acme.wfg.example.com",)
    assert_refused(estate, ["add-tenant", "thief", "--cluster", "eu-west-1", "--host", "acme.wfg.example.com"],
                   ["host 'acme.wfg.example.com' is already claimed by tenant 'acme'"], "choose another host")


# --------------------------------------------------------------------------- template injection

CONFIG = (PROJECT_ROOT / "gitops-gen.yaml").read_text()
CLUSTER = """apiVersion: gitops-gen.io/v1alpha1
kind: Cluster
name: eu-west-1
region: eu-west
controller: argocd
windowsBuild: ltsc2022
domain: eu.wfg.example.com
argocd:
  server: https://10.0.0.1:6443
"""


@pytest.mark.parametrize(("old", "new", "field"), [
    ("revision: main", "revision: '{{ .revision }}'", "repo.revision"),
    ("url: https://git.example.com/platform/wfg-estate.git", "url: https://git.example.com/${REPO}.git", "repo.url"),
    ("  namespace: argocd", "  namespace: '{{ .path.basename }}'", "argocd.namespace"),
    ("  namespace: flux-system", "  namespace: flux-${CLUSTER}", "flux.namespace"),
    ('  gitSecretRef: ""', "  gitSecretRef: '}}'", "flux.gitSecretRef"),
])
def test_template_syntax_in_estate_settings_is_refused(old: str, new: str, field: str) -> None:
    assert old in CONFIG
    with pytest.raises(DeclarationError) as exc:
        parse_config("gitops-gen.yaml", CONFIG.replace(old, new, 1))
    assert f"field '{field}'" in exc.value.message and exc.value.line is not None


@pytest.mark.parametrize(("old", "new", "field"), [
    ("  server: https://10.0.0.1:6443", "  server: 'https://{{ .cluster }}.evil.example.com'", "argocd.server"),
    ("  server: https://10.0.0.1:6443", "  name: '{{ .name }}'", "argocd.name"),
])
def test_template_syntax_in_a_cluster_is_refused(old: str, new: str, field: str) -> None:
    with pytest.raises(DeclarationError) as exc:
        parse_cluster("clusters/eu-west-1/cluster.yaml", CLUSTER.replace(old, new), "eu-west-1")
    assert f"field '{field}'" in exc.value.message and "{{" in exc.value.message + str(exc.value.hint)


# --------------------------------------------------------------------------- OIDC, licence, secrets

def test_an_oidc_mode_needs_client_id_and_metadata_url() -> None:
    with pytest.raises(DeclarationError) as exc:
        parse(TENANT + "auth: okta\n")
    assert "field 'oidc.clientId' is missing" in exc.value.message
    with pytest.raises(DeclarationError) as url:
        parse(TENANT + "auth: okta\noidc:\n  clientId: 0oa1\n  metadataUrl: http://idp.example.com/x\n")
    assert "field 'oidc.metadataUrl'" in url.value.message and "https://" in url.value.message
    with pytest.raises(DeclarationError) as secret:
        parse(TENANT + "auth: okta\noidc:\n  clientId: 0oa1\n  clientSecret: hunter2\n")
    assert "field 'oidc.clientSecret' is a secret" in secret.value.message and "hunter2" not in str(secret.value)
    with pytest.raises(DeclarationError) as session:
        parse(TENANT + "auth: okta\noidc:\n  clientId: a\n  metadataUrl: https://idp.example.com/m\n"
              "  checkSessionUrl: https://idp.example.com/s\n")
    assert "only for auth azure-v1" in session.value.message
    with pytest.raises(DeclarationError) as unused:
        parse(TENANT + "oidc:\n  clientId: a\n  metadataUrl: https://idp.example.com/m\n")
    assert "uses no OpenID Connect provider" in unused.value.message


def test_add_tenant_refuses_an_oidc_mode_without_its_settings(estate: Path) -> None:
    assert_refused(estate, ["add-tenant", "newco", "--cluster", "eu-west-1", "--auth", "okta"],
                   ["--auth okta", "needs --oidc-client-id and --oidc-metadata-url"],
                   "/.well-known/openid-configuration")
    assert_refused(estate, ["add-tenant", "newco", "--cluster", "eu-west-1", "--auth", "okta",
                            "--oidc-client-id", "0oa1"],
                   ["needs both --oidc-client-id and --oidc-metadata-url"], "/.well-known/openid-configuration")


def test_add_tenant_with_oidc_settings_writes_them(estate: Path) -> None:
    from tests.commands.test_commands import cli

    result = cli(estate, "add-tenant", "newco", "--cluster", "eu-west-1", "--auth", "okta", "--oidc-client-id",
                 "0oa1newco", "--oidc-metadata-url", "https://newco.okta.com/.well-known/openid-configuration",
                 "--trial-license", "--checkout")
    assert result.exit_code == 0, result.output
    tenant = parse_tenant("overlays/newco/tenant.yaml", (estate / "overlays/newco/tenant.yaml").read_text())
    assert tenant.oidc is not None and tenant.oidc.client_id == "0oa1newco" and tenant.trial_license
    overlay = (estate / "overlays/newco/eu-west-1/kustomization.yaml").read_text()
    assert "WFGEN_APP_SETTING_ApplicationSecurityAuthClientId=0oa1newco" in overlay
    assert "base/components/auth-oidc" in overlay and "license-serial" not in overlay


def test_a_remote_key_outside_the_tenants_prefix_is_refused(estate: Path) -> None:
    path = estate / "overlays/globex/tenant.yaml"
    path.write_text(path.read_text() + "secrets:\n  remoteKey: workflowgen/acme\n")
    assert_refused(estate, ["generate"], ["overlays/globex/tenant.yaml", "'secrets.remoteKey' is "
                                          "'workflowgen/acme', outside the tenant's own prefix 'workflowgen/globex'"],
                   "a tenant never reads another tenant's secrets")
    path.write_text(path.read_text().replace("remoteKey: workflowgen/acme", "remoteKey: workflowgen/globexx"))
    assert_refused(estate, ["generate"], ["outside the tenant's own prefix"], "workflowgen/globex/")
    assert_refused(estate, ["add-tenant", "thief", "--cluster", "eu-west-1", "--secret-key", "workflowgen/acme"],
                   ["--secret-key is 'workflowgen/acme'"], "never reads another tenant's secrets")


def test_add_cluster_needs_a_read_write_many_class(estate: Path) -> None:
    assert_refused(estate, ["add-cluster", "ap-1", "--region", "ap-south", "--controller", "flux",
                            "--windows-build", "ltsc2019", "--domain", "ap.wfg.example.com"],
                   ["cluster 'ap-1' has no ReadWriteMany storage class"], "--data-storage-class")
