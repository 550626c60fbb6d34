"""What one tenant's instance holds, rendered with real kustomize from declarations edited the way people
edit them: the HTTP-01 solver's policy and room, quotas derived from the pods at their peak, a per-tenant
SecretStore, egress allow lists, volumes that grow but never shrink, storage classes per cluster, the
request body size, the licence serial number."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from gitops_gen import yamlio
from gitops_gen.commands.generate import generate
from gitops_gen.estate.load import load_estate
from gitops_gen.generate.argocd import namespaced_kinds
from tests.cli.test_bad_input import assert_refused, commit_all
from tests.tools import render

ACME, GLOBEX, GLOBEX_US = "overlays/acme/eu-west-1", "overlays/globex/eu-west-1", "overlays/globex/us-east-1"


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, old
    path.write_text(text.replace(old, new, 1))


def _one(docs: list[dict[str, Any]], kind: str, name: str | None = None) -> dict[str, Any]:
    found = [d for d in docs if d["kind"] == kind and (name is None or d["metadata"]["name"] == name)]
    assert len(found) == 1, f"{kind}/{name}: {len(found)}"
    return found[0]


def _names(docs: list[dict[str, Any]], kind: str) -> set[str]:
    return {d["metadata"]["name"] for d in docs if d["kind"] == kind}


def test_quota_holds_the_pods_at_their_peak(estate: Path) -> None:
    """acme: 2 web pods + 1 surging, Windows Services, one spare web-sized pod (an upgrade Job), the database,
    the HTTP-01 solver: 7 pods. The requests add up what each of them asks for."""
    docs = render(estate, ACME)
    hard = _one(docs, "ResourceQuota")["spec"]["hard"]
    assert hard["pods"] == "7"
    # 5 WorkflowGen pods (3 web, Windows Services, the spare) x 500m, the database's 500m, the solver's 10m.
    assert hard["requests.cpu"] == "3010m"
    pods = [d for d in docs if d["kind"] in ("Deployment", "StatefulSet")]
    assert {p["metadata"]["name"] for p in pods} == {"workflowgen-web", "workflowgen-win-services",
                                                      "workflowgen-database"}
    globex = _one(render(estate, GLOBEX), "ResourceQuota")["spec"]["hard"]
    assert globex["pods"] == "7", "3 web + 1 surge + Windows Services + spare + solver, no database"


def test_dns01_renders_no_solver_policy_and_no_room_for_it(estate: Path) -> None:
    before = _one(render(estate, ACME), "ResourceQuota")["spec"]["hard"]
    _edit(estate / "gitops-gen.yaml", "  challenge: http01\n", "  challenge: dns01\n")
    generate(estate)
    docs = render(estate, ACME)
    assert "acme-http01-solver-from-ingress-controller" not in _names(docs, "NetworkPolicy")
    assert int(_one(docs, "ResourceQuota")["spec"]["hard"]["pods"]) == int(before["pods"]) - 1


def test_a_per_tenant_secret_store_from_the_estate_template(estate: Path) -> None:
    _edit(estate / "gitops-gen.yaml", "    kind: ClusterSecretStore\n    name: workflowgen\n",
          "    kind: SecretStore\n    name: workflowgen\n    spec:\n      provider:\n        vault:\n"
          "          server: https://vault.example.com\n          path: wfg\n          auth:\n"
          "            kubernetes:\n              mountPath: kubernetes-{cluster}\n              role: wfg-{tenant}\n"
          "              serviceAccountRef: {name: default, namespace: '{namespace}'}\n")
    generate(estate)
    for overlay, cluster in ((GLOBEX, "eu-west-1"), (GLOBEX_US, "us-east-1")):
        docs = render(estate, overlay)
        store = _one(docs, "SecretStore", "workflowgen")
        assert store["metadata"]["namespace"] == "globex"
        auth = store["spec"]["provider"]["vault"]["auth"]["kubernetes"]
        assert (auth["mountPath"], auth["role"]) == (f"kubernetes-{cluster}", "wfg-globex")
        assert auth["serviceAccountRef"] == {"name": "default", "namespace": "globex"}
        for es in (d for d in docs if d["kind"] == "ExternalSecret"):
            assert es["spec"]["secretStoreRef"] == {"kind": "SecretStore", "name": "workflowgen"}
    estate_ = load_estate(estate)
    assert ("external-secrets.io", "SecretStore") in namespaced_kinds(estate_.config, estate_.tenants["globex"])


def test_egress_lists_of_the_estate_and_the_tenant(estate: Path) -> None:
    config = estate / "gitops-gen.yaml"
    config.write_text(config.read_text().replace("egress: []", "egress:\n  - cidr: 10.50.0.25/32\n    port: 587\n"
                                                 "    description: SMTP relay"))
    tenant = estate / "overlays/globex/tenant.yaml"
    tenant.write_text(tenant.read_text() + "egress:\n  - cidr: 203.0.113.10/32\n    port: 443\n"
                      "    description: webhooks\n")
    generate(estate)
    globex = _one(render(estate, GLOBEX), "NetworkPolicy", "workflowgen-egress-allow")["spec"]
    assert [(r["to"][0]["ipBlock"]["cidr"], r["ports"][0]["port"]) for r in globex["egress"]] == [
        ("10.50.0.25/32", 587), ("203.0.113.10/32", 443)]
    assert globex["podSelector"]["matchExpressions"][0]["values"] == ["web", "win-services"]
    acme = _one(render(estate, ACME), "NetworkPolicy", "workflowgen-egress-allow")["spec"]
    assert [r["to"][0]["ipBlock"]["cidr"] for r in acme["egress"]] == ["10.50.0.25/32"]


def test_storage_classes_per_cluster_fall_back_to_the_estate(estate: Path) -> None:
    docs = render(estate, ACME)
    assert _one(docs, "PersistentVolumeClaim", "workflowgen-data")["spec"]["storageClassName"] == "azurefile-csi"
    database = _one(docs, "PersistentVolumeClaim", "data-workflowgen-database-0")["spec"]
    assert database["storageClassName"] == "managed-csi" and database["accessModes"] == ["ReadWriteOnce"]
    assert _one(render(estate, GLOBEX_US), "PersistentVolumeClaim", "workflowgen-data")["spec"][
        "storageClassName"] == "efs-sc"


def test_volumes_grow_and_a_shrink_is_refused(estate: Path) -> None:
    tenant = estate / "overlays/acme/tenant.yaml"
    tenant.write_text(tenant.read_text() + "storage:\n  data: 80Gi\n")
    generate(estate)
    docs = render(estate, ACME)
    assert _one(docs, "PersistentVolumeClaim", "workflowgen-data")["spec"]["resources"]["requests"]["storage"] == "80Gi"
    assert _one(docs, "ResourceQuota")["spec"]["hard"]["requests.storage"] == "120Gi", "80 + 20 Gi, + 20 %"
    commit_all(estate, "grow acme's data volume")
    tenant.write_text(tenant.read_text().replace("data: 80Gi", "data: 40Gi"))
    assert_refused(estate, ["generate"], [
        "overlays/acme/eu-west-1: PersistentVolumeClaim workflowgen-data would shrink from 80Gi to 40Gi",
        "set storage.data: 80Gi or more in overlays/acme/tenant.yaml"], "nothing was written")
    tenant.write_text(tenant.read_text().replace("data: 40Gi", "data: 80Gi").replace("size: small", "size: medium"))
    generate(estate)  # a larger tier keeps the declared size


def test_a_storage_class_change_is_refused(estate: Path) -> None:
    cluster = estate / "clusters/eu-west-1/cluster.yaml"
    _edit(cluster, "dataClass: azurefile-csi", "dataClass: azurefile-premium")
    assert_refused(estate, ["generate"], [
        "PersistentVolumeClaim workflowgen-data would move from storage class 'azurefile-csi' to "
        "'azurefile-premium'"], "nothing was written")


def test_request_body_size_of_the_estate_and_the_tenant(estate: Path) -> None:
    ingress = _one(render(estate, ACME), "Ingress")
    assert ingress["metadata"]["annotations"]["nginx.ingress.kubernetes.io/proxy-body-size"] == "50m"
    tenant = estate / "overlays/acme/tenant.yaml"
    tenant.write_text(tenant.read_text() + "bodySize: 200m\n")
    generate(estate)
    ingress = _one(render(estate, ACME), "Ingress")
    assert ingress["metadata"]["annotations"]["nginx.ingress.kubernetes.io/proxy-body-size"] == "200m"


def test_the_serial_number_unless_a_trial_licence(estate: Path) -> None:
    def serial_env(docs: list[dict[str, Any]]) -> set[str]:
        return {d["metadata"]["name"] for d in docs if d["kind"] == "Deployment"
                for e in d["spec"]["template"]["spec"]["containers"][0]["env"]
                if e["name"] == "WFGEN_APP_SETTING_ApplicationSerialNumber_FILE"}

    docs = render(estate, ACME)
    assert serial_env(docs) == {"workflowgen-web", "workflowgen-win-services"}
    keys = {d["secretKey"] for d in _one(docs, "ExternalSecret", "workflowgen-app")["spec"]["data"]}
    assert "WFGEN_APP_SETTING_ApplicationSerialNumber" in keys
    tenant = estate / "overlays/acme/tenant.yaml"
    tenant.write_text(tenant.read_text() + "license:\n  trial: true\n")
    generate(estate)
    docs = render(estate, ACME)
    assert serial_env(docs) == set()
    keys = {d["secretKey"] for d in _one(docs, "ExternalSecret", "workflowgen-app")["spec"]["data"]}
    assert "WFGEN_APP_SETTING_ApplicationSerialNumber" not in keys


def test_the_flux_parent_orphans_its_tenants(estate: Path) -> None:
    sync = list(yamlio.load_all((estate / "clusters/us-east-1/flux-system/gitops-gen-sync.yaml").read_text()))
    assert sync[1]["metadata"]["name"] == "gitops-gen-tenants" and sync[1]["spec"]["deletionPolicy"] == "Orphan"
