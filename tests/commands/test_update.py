"""update-tenant end to end, through the CLI, on a real estate in a real git repository (acme on the Argo
CD cluster, globex on both with one external database): each change is a branch off main, merged by
fast-forward, rendered with real kustomize and validated; each refusal writes nothing and names the flag."""

from __future__ import annotations

import json
from pathlib import Path

import pygit2
import yaml

from tests.commands.test_lifecycle import branches, clean, cli, git, kinds, merge, refused, risks

ACME_EU = "overlays/acme/eu-west-1"


def one(root: Path, overlay: str, kind: str, name: str | None = None) -> dict[str, object]:
    found = [d for d in kinds(root, overlay).get(kind, []) if name is None or d["metadata"]["name"] == name]  # type: ignore[index]
    assert len(found) == 1, (kind, name, len(found))
    return found[0]


def hosts(root: Path, overlay: str) -> list[str]:
    spec = one(root, overlay, "Ingress")["spec"]
    return [r["host"] for r in spec["rules"]]  # type: ignore[index]


def config(root: Path, overlay: str) -> dict[str, str]:
    data = one(root, overlay, "ConfigMap")["data"]
    assert isinstance(data, dict)
    return data


def update(root: Path, *args: str) -> None:
    result = cli(root, "update-tenant", *args)
    assert result.exit_code == 0, result.output
    merge(root, "gitops-gen/update-tenant-" + args[0])
    git(root, "branch", "-q", "-d", "gitops-gen/update-tenant-" + args[0])


def test_resize_grow_storage_and_a_rerun_is_a_no_op(estate: Path) -> None:
    update(estate, "acme", "--size", "medium", "--web-replicas", "3", "--data-storage", "80Gi")
    assert one(estate, ACME_EU, "Deployment", "workflowgen-web")["spec"]["replicas"] == 3  # type: ignore[index]
    assert one(estate, ACME_EU, "PersistentVolumeClaim", "workflowgen-data")["spec"]["resources"] == {  # type: ignore[index]
        "requests": {"storage": "80Gi"}}
    message = git(estate, "log", "-1", "--format=%B", "main")
    assert message.startswith("Update tenant acme: size small → medium; web replicas 2 → 3; data volume")
    clean(estate)
    again = cli(estate, "update-tenant", "acme", "--size", "medium", "--web-replicas", "3")
    assert again.exit_code == 0 and "Nothing to change" in again.stdout and "already has these settings" in \
        again.output
    # A volume never shrinks: neither by its own size nor by a smaller tier; nothing is written.
    before = branches(estate)
    refused(cli(estate, "update-tenant", "acme", "--data-storage", "20Gi"), "would shrink from 80Gi to 20Gi",
            "--data-storage 80Gi")
    refused(cli(estate, "update-tenant", "globex", "--size", "small", "--web-replicas", "2"), "would shrink")
    refused(cli(estate, "update-tenant", "acme", "--web-replicas", "9"), "--web-replicas", "size tier")
    refused(cli(estate, "update-tenant", "acme", "--auth", "okta"), "--oidc-client-id")
    refused(cli(estate, "update-tenant", "acme"), "nothing to change")
    refused(cli(estate, "update-tenant", "acme", "--remove-cluster", "eu-west-1"), "remove-tenant acme --cluster "
            "eu-west-1 --phase drain")
    assert branches(estate) == before


def test_hosts_add_move_remove_and_the_application_url(estate: Path) -> None:
    url = "WFGEN_APP_SETTING_ApplicationUrl"
    assert config(estate, ACME_EU)[url] == "https://acme.wfg.example.com/wfgen"
    # Added first or last, a host never changes the URL users were given.
    update(estate, "acme", "--add-host", "portal.acme.example.com")
    assert "portal.acme.example.com" in hosts(estate, ACME_EU)
    again = cli(estate, "update-tenant", "acme", "--add-host", "portal.acme.example.com")
    assert again.exit_code == 0 and "Nothing to change" in again.stdout
    assert config(estate, ACME_EU)[url] == "https://acme.wfg.example.com/wfgen"
    clean(estate)
    # Taken by another tenant (or on another open branch): refused.
    refused(cli(estate, "update-tenant", "acme", "--add-host", "globex.wfg.example.com"), "--add-host",
            "claimed by tenant 'globex'")
    assert cli(estate, "update-tenant", "globex", "--add-host", "shared.example.com").exit_code == 0
    refused(cli(estate, "update-tenant", "acme", "--add-host", "shared.example.com"),
            "on branch gitops-gen/update-tenant-globex")
    # An explicit URL change is the only one, and diff flags it.
    result = cli(estate, "update-tenant", "acme", "--application-url",
                 "eu-west-1=https://portal.acme.example.com/wfgen")
    assert result.exit_code == 0, result.output
    flagged = risks(estate, "gitops-gen/update-tenant-acme")["application-url-changed"]
    assert "https://acme.wfg.example.com/wfgen → https://portal.acme.example.com/wfgen" in flagged[0][1]
    merge(estate, "gitops-gen/update-tenant-acme")
    git(estate, "branch", "-q", "-d", "gitops-gen/update-tenant-acme")
    refused(cli(estate, "update-tenant", "acme", "--remove-host", "portal.acme.example.com"),
            "--application-url eu-west-1=https://acme.wfg.example.com/wfgen")
    update(estate, "acme", "--remove-host", "portal.acme.example.com", "--application-url",
           "eu-west-1=https://acme.wfg.example.com/wfgen")
    assert "portal.acme.example.com" not in hosts(estate, ACME_EU)
    clean(estate)
    # globex's second placement is a standby on its external database: no global host there.
    refused(cli(estate, "update-tenant", "globex", "--move-host", "globex.wfg.example.com=us-east-1",
                "--application-url", "eu-west-1=https://globex.eu.wfg.example.com/wfgen"), "standby")


def test_add_a_placement(estate: Path) -> None:
    update(estate, "acme", "--add-cluster", "us-east-1")
    placements = yaml.safe_load((estate / "overlays/acme/tenant.yaml").read_text())["placements"]
    assert placements == [{"cluster": "eu-west-1", "applicationUrl": "https://acme.wfg.example.com/wfgen"},
                          {"cluster": "us-east-1", "applicationUrl": "https://acme.us.wfg.example.com/wfgen"}]
    assert hosts(estate, "overlays/acme/us-east-1") == ["acme.us.wfg.example.com"]
    assert (estate / "clusters/us-east-1/tenants/acme.yaml").is_file()
    repo = pygit2.Repository(str(estate))
    assert repo.head.shorthand == "main"
    clean(estate)
    listed = json.loads(cli(estate, "list", "--output", "json").stdout)
    assert {(c["name"], t["role"]) for c in listed["clusters"] for t in c["tenants"] if t["tenant"] == "acme"} == {
        ("eu-west-1", "primary"), ("us-east-1", "primary")}
    refused(cli(estate, "update-tenant", "acme", "--add-cluster", "ap-south-1"), "--add-cluster",
            "add-cluster ap-south-1")
