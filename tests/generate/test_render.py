"""Rendered output: every overlay builds with real kustomize, validates against the Kubernetes and
CRD schemas, and follows WorkflowGen's container facts and the isolation rules (DOMAIN.md)."""

from __future__ import annotations

import fnmatch
import os
from pathlib import Path
from typing import Any

import pytest

from gitops_gen import yamlio
from gitops_gen.estate import layout
from gitops_gen.estate.load import load_estate
from gitops_gen.estate.model import WINDOWS_BUILDS
from gitops_gen.generate.argocd import namespaced_kinds
from gitops_gen.render.schemas import core_errors, custom_errors, load_crd_schemas
from tests.tools import PROJECT_ROOT, TESTDATA, crd_dir, overlays, render

K8S_VERSION = "1.32.0"
GOLDEN = TESTDATA / "golden"
#: Fields the API server rejects on Windows pods (Kubernetes "Windows in Kubernetes" limitations).
LINUX_ONLY = {"runAsUser", "runAsGroup", "runAsNonRoot", "seLinuxOptions", "seccompProfile", "capabilities",
              "readOnlyRootFilesystem", "privileged", "procMount", "fsGroup", "fsGroupChangePolicy",
              "supplementalGroups", "sysctls", "appArmorProfile"}


@pytest.fixture(scope="module")
def example_rendered() -> dict[str, list[dict[str, Any]]]:
    return {o: render(PROJECT_ROOT, o) for o in overlays(PROJECT_ROOT)}


@pytest.fixture
def fresh_rendered(estate: Path) -> tuple[Path, dict[str, list[dict[str, Any]]]]:
    return estate, {o: render(estate, o) for o in overlays(estate)}


def _by_kind(docs: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [d for d in docs if d["kind"] == kind]


def _one(docs: list[dict[str, Any]], kind: str, name: str) -> dict[str, Any]:
    found = [d for d in docs if d["kind"] == kind and d["metadata"]["name"] == name]
    assert len(found) == 1, f"expected one {kind}/{name}, found {len(found)}"
    return found[0]


def test_example_estate_has_the_promised_shape() -> None:
    estate = load_estate(PROJECT_ROOT)
    controllers = {c.controller for c in estate.clusters.values()}
    regions = {c.region for c in estate.clusters.values()}
    assert controllers == {"argocd", "flux"} and len(regions) >= 2
    assert len(estate.tenants) >= 3
    assert any(len(t.placements) == 2 for t in estate.tenants.values())


def _namespace_of(root: Path, overlay: str, docs: list[dict[str, Any]]) -> dict[str, Any]:
    """The tenant's Namespace: in an Argo CD placement's overlay; for a Flux placement in the platform files
    under clusters/<cluster>/platform/<tenant>/ (a Flux tenant overlay renders nothing cluster-scoped)."""
    _, tenant, cluster = overlay.split("/")
    if load_estate(root).clusters[cluster].controller == "flux":
        assert not _by_kind(docs, "Namespace"), f"{overlay}: a Flux tenant overlay renders no Namespace"
        platform = list(yamlio.load_all((root / layout.tenant_platform_dir(cluster, tenant) / "platform.yaml")
                                        .read_text()))
        return _one(platform, "Namespace", tenant)
    return _one(docs, "Namespace", tenant)


def test_every_example_overlay_builds(example_rendered: dict[str, list[dict[str, Any]]]) -> None:
    assert len(example_rendered) == 4
    for overlay, docs in example_rendered.items():
        assert _namespace_of(PROJECT_ROOT, overlay, docs), overlay


def _check_core_schemas(rendered: dict[str, list[dict[str, Any]]]) -> None:
    checked = 0
    for overlay, docs in rendered.items():
        for d in docs:
            if d["apiVersion"].startswith("external-secrets.io/"):
                continue  # not a core kind; its shape is asserted in test_secrets_are_references_only
            errors = core_errors(d, K8S_VERSION)
            assert not errors, f"{overlay} {d['kind']}/{d['metadata']['name']}: {errors}"
            checked += 1
    assert checked > 40


def test_example_core_kinds_validate(example_rendered: dict[str, list[dict[str, Any]]]) -> None:
    _check_core_schemas(example_rendered)


def test_fresh_estate_builds_and_validates(fresh_rendered: tuple[Path, dict[str, list[dict[str, Any]]]]) -> None:
    _, rendered = fresh_rendered
    assert set(rendered) == {"overlays/acme/eu-west-1", "overlays/globex/eu-west-1", "overlays/globex/us-east-1"}
    _check_core_schemas(rendered)


def _controller_objects(root: Path) -> list[tuple[str, dict[str, Any]]]:
    objs = []
    for pattern in ("argocd/**/*.yaml", "clusters/*/argocd/*.yaml", "clusters/*/flux-system/*.yaml",
                    "clusters/*/tenants/*.yaml", "clusters/*/platform/*/*.yaml"):
        for f in sorted(root.glob(pattern)):
            for doc in yamlio.load_all(f.read_bytes()):
                if "kind" in doc:
                    objs.append((f.relative_to(root).as_posix(), doc))
    return objs


@pytest.mark.parametrize("which", ["example", "fresh"])
def test_controller_objects_validate_against_crds(which: str, estate: Path) -> None:
    root = PROJECT_ROOT if which == "example" else estate
    schemas = load_crd_schemas([crd_dir()])
    objs = _controller_objects(root)
    kinds = {o["kind"] for _, o in objs}
    assert kinds == {"AppProject", "Application", "ApplicationSet", "GitRepository", "Kustomization",
                     "Namespace", "ServiceAccount", "RoleBinding"}
    for path, obj in objs:
        if "." not in obj["apiVersion"].split("/")[0] or obj["apiVersion"].startswith("rbac.authorization.k8s.io/"):
            assert not core_errors(obj, K8S_VERSION), f"{path}: {core_errors(obj, K8S_VERSION)}"
            continue
        schema = schemas[(obj["apiVersion"], obj["kind"])]
        assert not custom_errors(obj, schema), f"{path}: {custom_errors(obj, schema)}"


def test_crd_validation_catches_a_broken_object() -> None:
    schemas = load_crd_schemas([crd_dir()])
    bad = {"apiVersion": "kustomize.toolkit.fluxcd.io/v1", "kind": "Kustomization",
           "metadata": {"name": "x"}, "spec": {"path": "./x", "prune": "yes"}}
    errors = custom_errors(bad, schemas[("kustomize.toolkit.fluxcd.io/v1", "Kustomization")])
    assert any("interval" in e for e in errors) and any("sourceRef" in e for e in errors)
    assert any("prune" in e for e in errors)


def test_golden_tenant_output(estate: Path) -> None:
    """Pins one tenant's rendered output; GITOPS_GEN_UPDATE_GOLDEN=1 rewrites it after a reviewed change."""
    # Re-dumped canonically so kustomize's own formatting across versions does not matter.
    rendered = yamlio.dump_docs(render(estate, "overlays/globex/eu-west-1"))
    golden = GOLDEN / "globex-eu-west-1.yaml"
    if os.environ.get("GITOPS_GEN_UPDATE_GOLDEN"):
        golden.write_text(rendered)
    assert rendered == golden.read_text()


def test_argocd_golden_files(estate: Path) -> None:
    for rel, name in ((layout.applicationset_file("eu-west-1"), "applicationset-eu-west-1.yaml"),
                      (layout.appproject_file("globex"), "appproject-globex.yaml"),
                      (layout.cluster_tenant_file("us-east-1", "globex"), "flux-kustomization-globex.yaml")):
        text = (estate / rel).read_text()
        if os.environ.get("GITOPS_GEN_UPDATE_GOLDEN"):
            (GOLDEN / name).write_text(text)
        assert text == (GOLDEN / name).read_text(), rel


# --------------------------------------------------------------------------- domain rules on rendered objects

def _all(rendered: dict[str, list[dict[str, Any]]]) -> list[tuple[str, dict[str, Any]]]:
    return [(o, d) for o, docs in rendered.items() for d in docs]


def _pod_specs(docs: list[dict[str, Any]]) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    return [(d, d["spec"]["template"]["spec"]) for d in docs if d["kind"] in ("Deployment", "StatefulSet")]


def _walk_keys(node: Any) -> set[str]:
    if isinstance(node, dict):
        return set(node) | {k for v in node.values() for k in _walk_keys(v)}
    if isinstance(node, list):
        return {k for v in node for k in _walk_keys(v)}
    return set()


@pytest.mark.parametrize("which", ["example", "fresh"])
def test_windows_workloads(which: str, example_rendered: dict[str, Any],
                           fresh_rendered: tuple[Path, dict[str, Any]]) -> None:
    root, rendered = (PROJECT_ROOT, example_rendered) if which == "example" else fresh_rendered
    estate = load_estate(root)
    for overlay, docs in rendered.items():
        cluster = estate.clusters[overlay.split("/")[2]]
        version = estate.config.workflowgen_version
        for obj, pod in _pod_specs(docs):
            image = pod["containers"][0]["image"]
            if obj["metadata"]["name"] == "workflowgen-database":
                assert pod["nodeSelector"] == {"kubernetes.io/os": "linux"}
                # SQL Server 2019+ runs as mssql (uid 10001): the volume must be writable by that group.
                assert pod["securityContext"]["fsGroup"] == 10001
                assert "volumeClaimTemplates" not in obj["spec"], "a claim template can never change"
                claim = pod["volumes"][0]["persistentVolumeClaim"]["claimName"]
                assert _one(docs, "PersistentVolumeClaim", claim)["spec"]["storageClassName"] == (
                    cluster.database_storage_class or estate.config.database_storage_class)
                continue
            assert image == f"advantys/workflowgen:{version}-win-{cluster.windows_build}", overlay
            assert pod["os"] == {"name": "windows"}
            assert pod["nodeSelector"] == {"kubernetes.io/os": "windows",
                                           "node.kubernetes.io/windows-build": WINDOWS_BUILDS[cluster.windows_build]}
            assert not _walk_keys(pod.get("securityContext", {})) & LINUX_ONLY
            for c in pod["containers"]:
                assert not _walk_keys(c.get("securityContext", {})) & (LINUX_ONLY | {"runAsUserName"})
                assert c.get("resources", {}).get("limits"), "every container has limits"
            assert pod["automountServiceAccountToken"] is False
            env = {e["name"]: e for e in pod["containers"][0]["env"]}
            assert "WFGEN_DATABASE_CONNECTION_STRING_FILE" in env
            assert "WFGEN_APP_SETTING_ApplicationSecurityPasswordSymmetricEncryptionKey_FILE" in env
            assert all("value" not in e or e["name"].endswith("_FILE") or e["name"] == "WFGEN_START_SERVICE"
                       for e in env.values()), "no literal secret values in env"
        web = _one(docs, "Deployment", "workflowgen-web")
        web_c = web["spec"]["template"]["spec"]["containers"][0]
        assert {e["name"]: e.get("value") for e in web_c["env"]}["WFGEN_START_SERVICE"] == "web_apps"
        for probe in ("startupProbe", "livenessProbe"):
            assert web_c[probe]["tcpSocket"] == {"port": "http"}
        # Ready only when /wfgen answers (401 counts, as in the image's healthcheck.ps1): an httpGet would
        # see 401 as a failure, a tcpSocket passes before the entrypoint has configured WorkflowGen.
        readiness = web_c["readinessProbe"]
        assert "tcpSocket" not in readiness and readiness["timeoutSeconds"] >= 10
        command = readiness["exec"]["command"][-1]
        assert "http://localhost/wfgen" in command and "401" in command
        config = _by_kind(docs, "ConfigMap")[0]["data"]
        assert int(config["WFGEN_DEPENDENCY_CHECK_RETRIES"]) * int(config["WFGEN_DEPENDENCY_CHECK_INTERVAL"]) >= 120_000
        tenant = estate.tenants[overlay.split("/")[1]]
        if not tenant.trial_license:
            assert "WFGEN_APP_SETTING_ApplicationSerialNumber_FILE" in {e["name"] for e in web_c["env"]}
        if tenant.oidc is not None:
            assert config["WFGEN_APP_SETTING_ApplicationSecurityAuthClientId"] == tenant.oidc.client_id
            assert config["WFGEN_APP_SETTING_ApplicationSecurityAuthMetadataUrl"] == tenant.oidc.metadata_url
            assert "WFGEN_APP_SETTING_ApplicationSecurityAuthClientSecret_FILE" in {e["name"] for e in web_c["env"]}
        spread = web["spec"]["template"]["spec"]["topologySpreadConstraints"]
        assert spread[0]["topologyKey"] == "topology.kubernetes.io/zone"
        if web["spec"]["replicas"] > 1:
            assert _one(docs, "PodDisruptionBudget", "workflowgen-web")["spec"]["maxUnavailable"] == 1
        assert "WFGEN_MACHINE_KEY_VALIDATION_KEY_FILE" in {e["name"] for e in web_c["env"]}
        svc = _one(docs, "Deployment", "workflowgen-win-services")
        # One instance per database: a standby (globex's second placement, on its external database) runs none.
        runs = estate.tenants[overlay.split("/")[1]].placement(cluster.name).runs_windows_services
        assert svc["spec"]["replicas"] == (1 if runs else 0) and svc["spec"]["strategy"] == {"type": "Recreate"}
        svc_env = {e["name"]: e.get("value") for e in svc["spec"]["template"]["spec"]["containers"][0]["env"]}
        assert svc_env["WFGEN_START_SERVICE"] == "win_services"
        mounts = {m["mountPath"]: m for m in web_c["volumeMounts"]}
        assert mounts["C:\\wfgen\\licenses"]["readOnly"] is True
        pvc = _one(docs, "PersistentVolumeClaim", "workflowgen-data")
        assert pvc["spec"]["accessModes"] == ["ReadWriteMany"]
        assert pvc["spec"]["storageClassName"] == (cluster.data_storage_class or estate.config.data_storage_class)


@pytest.mark.parametrize("which", ["example", "fresh"])
def test_isolation(which: str, example_rendered: dict[str, Any], fresh_rendered: tuple[Path, dict[str, Any]]) -> None:
    root, rendered = (PROJECT_ROOT, example_rendered) if which == "example" else fresh_rendered
    estate = load_estate(root)
    for overlay, docs in rendered.items():
        tenant = estate.tenants[overlay.split("/")[1]]
        ns = _namespace_of(root, overlay, docs)
        assert ns["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "baseline"
        for d in docs:
            if d["kind"] != "Namespace":
                assert d["metadata"]["namespace"] == tenant.namespace, f"{overlay}: {d['kind']} leaves the namespace"
            assert d["kind"] not in ("Secret", "Role", "RoleBinding", "ClusterRole", "ClusterRoleBinding")
            if d["kind"] == "Service":
                assert d["spec"].get("type", "ClusterIP") == "ClusterIP" and "externalIPs" not in d["spec"]
        for _, pod in _pod_specs(docs):
            assert not pod.get("hostNetwork") and all("hostPort" not in p for c in pod["containers"]
                                                       for p in c.get("ports", []))
        for sa in _by_kind(docs, "ServiceAccount"):
            assert sa["automountServiceAccountToken"] is False
        quota = _by_kind(docs, "ResourceQuota")[0]["spec"]["hard"]
        assert quota["services.loadbalancers"] == "0" and quota["services.nodeports"] == "0"
        assert _by_kind(docs, "LimitRange")
        policies = {p["metadata"]["name"]: p["spec"] for p in _by_kind(docs, "NetworkPolicy")}
        assert policies["default-deny"] == {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}
        web_in = policies["web-from-ingress-controller"]["ingress"]
        assert web_in == [{"from": [{"namespaceSelector": {"matchLabels": {
            "kubernetes.io/metadata.name": estate.config.ingress_namespace}}}],
            "ports": [{"protocol": "TCP", "port": 80}]}]
        for name, spec in policies.items():
            for rule in spec.get("ingress", []) + spec.get("egress", []):
                for peer in rule.get("from", []) + rule.get("to", []):
                    assert peer.get("namespaceSelector") != {}, f"{overlay} {name}: empty namespaceSelector"
                    if "namespaceSelector" in peer:
                        target = peer["namespaceSelector"]["matchLabels"]["kubernetes.io/metadata.name"]
                        assert target not in estate.tenants, f"{overlay} {name} reaches tenant {target}"
            # No policy lets anything into the Windows Services pods.
            selector = spec["podSelector"].get("matchLabels", {})
            if "Ingress" in spec["policyTypes"] and spec.get("ingress"):
                assert selector.get("app.kubernetes.io/component") in ("web", "database") or selector == {
                    "acme.cert-manager.io/http01-solver": "true"}, name
        # cert-manager's HTTP-01 solver pod, in this namespace, is reachable by the ingress controller on 8089.
        solver = policies["acme-http01-solver-from-ingress-controller"]["ingress"]
        assert solver == [{"from": [{"namespaceSelector": {"matchLabels": {
            "kubernetes.io/metadata.name": estate.config.ingress_namespace}}}],
            "ports": [{"protocol": "TCP", "port": 8089}]}]
        declared = [*estate.config.egress, *tenant.egress]
        if declared:
            allowed = policies["workflowgen-egress-allow"]["egress"]
            assert [(r["to"][0]["ipBlock"]["cidr"], r["ports"][0]["port"]) for r in allowed] == [
                (e.cidr, e.port) for e in declared]
        if tenant.database.mode == "in-cluster":
            db_in = policies["database-from-workflowgen"]["ingress"][0]
            assert db_in["ports"] == [{"protocol": "TCP", "port": 1433}]
            assert list(db_in["from"][0]) == ["podSelector"], "database only from the tenant's own pods"
        else:
            egress = policies["workflowgen-to-external-database"]["egress"][0]
            assert [t["ipBlock"]["cidr"] for t in egress["to"]] == list(tenant.database.cidrs)
            assert not _by_kind(docs, "StatefulSet")


@pytest.mark.parametrize("which", ["example", "fresh"])
def test_https_routing_and_data_protection(which: str, example_rendered: dict[str, Any],
                                           fresh_rendered: tuple[Path, dict[str, Any]]) -> None:
    root, rendered = (PROJECT_ROOT, example_rendered) if which == "example" else fresh_rendered
    estate = load_estate(root)
    protect = {"argocd.argoproj.io/sync-options": "Prune=false,Delete=false",
               "kustomize.toolkit.fluxcd.io/prune": "disabled"}
    for overlay, docs in rendered.items():
        _, tenant_name, cluster_name = overlay.split("/")
        tenant, cluster = estate.tenants[tenant_name], estate.clusters[cluster_name]
        (ingress,) = _by_kind(docs, "Ingress")
        hosts = [r["host"] for r in ingress["spec"]["rules"]]
        assert hosts == [*tenant.global_hosts_of(cluster_name), f"{tenant_name}.{cluster.domain}"]
        assert ingress["spec"]["tls"][0]["hosts"] == hosts
        ann = ingress["metadata"]["annotations"]
        assert ann[f"cert-manager.io/{'cluster-issuer' if estate.config.issuer_kind == 'ClusterIssuer' else 'issuer'}"]
        assert ann["nginx.ingress.kubernetes.io/force-ssl-redirect"] == "true"
        assert ann["external-dns.alpha.kubernetes.io/hostname"] == ",".join(hosts)
        (config_map,) = _by_kind(docs, "ConfigMap")
        assert config_map["data"]["WFGEN_APP_SETTING_ApplicationUrl"] == f"https://{hosts[0]}/wfgen"
        assert ann["nginx.ingress.kubernetes.io/proxy-body-size"] == (tenant.body_size or estate.config.body_size)
        data_bearing = [_namespace_of(root, overlay, docs), *_by_kind(docs, "PersistentVolumeClaim"),
                        *_by_kind(docs, "StatefulSet")]
        assert len(data_bearing) == (4 if tenant.database.mode == "in-cluster" else 2)
        for obj in data_bearing:
            assert obj["metadata"]["annotations"].items() >= protect.items(), f"{overlay} {obj['kind']}"


def test_secrets_are_references_only(fresh_rendered: tuple[Path, dict[str, Any]]) -> None:
    _, rendered = fresh_rendered
    for overlay, docs in rendered.items():
        _, tenant, cluster = overlay.split("/")
        secrets = {s["metadata"]["name"]: s for s in _by_kind(docs, "ExternalSecret")}
        assert {"workflowgen-app", "workflowgen-license"} <= set(secrets)
        for s in secrets.values():
            assert s["apiVersion"] == "external-secrets.io/v1"
            assert s["spec"]["secretStoreRef"] == {"kind": "ClusterSecretStore", "name": "workflowgen"}
            # Every placement its own key: two instances never share an encryption key or a licence.
            assert {d["remoteRef"]["key"] for d in s["spec"]["data"]} == {f"workflowgen/{tenant}/{cluster}"}
        keys = {d["secretKey"] for d in secrets["workflowgen-app"]["spec"]["data"]}
        assert "WFGEN_APP_SETTING_ApplicationSecurityPasswordSymmetricEncryptionKey" in keys


def test_appproject_allows_exactly_what_the_overlay_renders(
        fresh_rendered: tuple[Path, dict[str, Any]]) -> None:
    root, rendered = fresh_rendered
    estate = load_estate(root)
    for overlay, docs in rendered.items():
        tenant = estate.tenants[overlay.split("/")[1]]
        namespaced = {(d["apiVersion"].rpartition("/")[0], d["kind"]) for d in docs if d["kind"] != "Namespace"}
        assert namespaced == set(namespaced_kinds(estate.config, tenant)), overlay
    project = yamlio.load((root / layout.appproject_file("globex")).read_text())
    assert project["spec"]["destinations"] == [
        {"server": "https://10.0.0.1:6443", "namespace": "globex"}], "only the Argo CD placement"
    assert project["spec"]["clusterResourceWhitelist"] == [{"group": "", "kind": "Namespace"}]
    assert project["spec"]["sourceRepos"] == [estate.config.repo_url]


def _argocd_glob(pattern: str, path: str) -> bool:
    """Argo CD's default (greedy) git files matching: '*' also matches '/'."""
    return fnmatch.fnmatchcase(path, pattern)


def test_applicationset_generates_one_application_per_placement(estate: Path) -> None:
    appset = yamlio.load((estate / layout.applicationset_file("eu-west-1")).read_text())
    spec = appset["spec"]
    assert spec["goTemplate"] is True and spec["goTemplateOptions"] == ["missingkey=error"]
    assert spec["syncPolicy"]["preserveResourcesOnDeletion"] is True
    pattern = spec["generators"][0]["git"]["files"][0]["path"]
    files = sorted(p.relative_to(estate).as_posix() for p in estate.rglob("*") if p.is_file()
                   and ".git/" not in p.relative_to(estate).as_posix() + "/")
    greedy = [f for f in files if _argocd_glob(pattern, f)]
    exact = [f for f in files if _argocd_glob(pattern, f) and f.count("/") == pattern.count("/")]
    assert greedy == exact == ["clusters/eu-west-1/tenants/acme.yaml", "clusters/eu-west-1/tenants/globex.yaml"]
    template = spec["template"]
    for f in greedy:
        tenant = Path(f).name.removesuffix(".yaml")

        def expand(s: str, tenant: str = tenant) -> str:
            return s.replace('{{ trimSuffix ".yaml" .path.filename }}', tenant)

        assert expand(template["spec"]["project"]) == tenant
        assert expand(template["spec"]["destination"]["namespace"]) == tenant
        assert template["spec"]["destination"]["server"] == "https://10.0.0.1:6443"
        assert (estate / expand(template["spec"]["source"]["path"]) / "kustomization.yaml").is_file()
        assert expand(template["metadata"]["name"]) == f"{tenant}-eu-west-1"


def test_flux_kustomizations_point_at_overlays(estate: Path) -> None:
    platform, ks = yamlio.load_all((estate / layout.cluster_tenant_file("us-east-1", "globex")).read_text())
    assert (estate / ks["spec"]["path"] / "kustomization.yaml").is_file()
    assert ks["spec"]["targetNamespace"] == "globex" and ks["spec"]["prune"] is True and ks["spec"]["wait"] is True
    assert "namespace" not in ks["spec"]["sourceRef"], "no cross-namespace source reference"
    # As 'flux create tenant' does: the overlay runs as the tenant's own account, bound in its namespace only.
    assert ks["spec"]["serviceAccountName"] == "globex-reconciler"
    assert ks["spec"]["dependsOn"] == [{"name": "globex-platform"}]
    assert platform["metadata"]["name"] == "globex-platform"
    assert platform["spec"]["path"] == "./clusters/us-east-1/platform/globex"
    objects = list(yamlio.load_all((estate / "clusters/us-east-1/platform/globex/platform.yaml").read_text()))
    account = _one(objects, "ServiceAccount", "globex-reconciler")
    binding = _one(objects, "RoleBinding", "globex-reconciler")
    assert binding["metadata"]["namespace"] == "globex"
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": "globex-reconciler",
                                    "namespace": account["metadata"]["namespace"]}]
    assert account["metadata"]["namespace"] == ks["metadata"]["namespace"], "impersonated in the Kustomization's"
    sync = list(yamlio.load_all((estate / layout.flux_sync_file("us-east-1")).read_text()))
    assert sync[1]["spec"]["path"] == "./clusters/us-east-1/tenants"
    # Deleting or renaming the parent never deletes the tenant Kustomizations (and with them the tenants).
    assert sync[1]["spec"]["deletionPolicy"] == "Orphan"
    assert sync[0]["metadata"]["namespace"] == sync[1]["metadata"]["namespace"] == ks["metadata"]["namespace"]


def test_private_repository_credentials_for_flux(bare_estate: Path) -> None:
    config = bare_estate / layout.CONFIG_FILE
    config.write_text(config.read_text().replace('gitSecretRef: ""', "gitSecretRef: estate-deploy-key"))
    from gitops_gen.commands.generate import generate

    generate(bare_estate)
    source = next(yamlio.load_all((bare_estate / layout.flux_sync_file("us-east-1")).read_text()))
    assert source["spec"]["secretRef"] == {"name": "estate-deploy-key"}
    schema = load_crd_schemas([crd_dir()])[("source.toolkit.fluxcd.io/v1", "GitRepository")]
    assert not custom_errors(source, schema)


def test_generated_files_carry_no_yaml_anchors(estate: Path) -> None:
    """Values shared in the generators (a probe's tcpSocket, an Ingress backend) are written out in
    full: a reviewer reading base/web.yaml or an Ingress must not have to resolve &id001/*id001."""
    for root in (PROJECT_ROOT, estate):
        files = [p for d in layout.DERIVED_ROOTS for p in (root / d).rglob("*.yaml")]
        assert len(files) > 20
        offenders = [str(p.relative_to(root)) for p in files if "&id0" in p.read_text() or "*id0" in p.read_text()]
        assert not offenders
