"""Windows and WorkflowGen rules (WIN001-WIN013): Windows scheduling, no Linux-only security fields, the
image's Windows build, Windows Services as one instance, keys from Secrets, what an OIDC auth mode and a
licence need, readiness that means WorkflowGen answers, a start that waits for its database, the database
volume's owner, availability through disruptions and zones, and a request body limit for attachments."""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Any

from gitops_gen.checks.objects import (
    WEB_SERVICES,
    WINDOWS_SERVICES,
    Overlay,
    Pod,
    annotations_of,
    as_list,
    as_map,
    env_of,
    image_repo_tag,
    listed,
    of_kind,
    ref_of,
    selects,
    start_service,
)
from gitops_gen.checks.registry import Finding, rule
from gitops_gen.estate.model import OIDC_AUTH_MODES, WINDOWS_BUILDS

WIN_NOT_WINDOWS = rule(
    "WIN001", "error", "WorkflowGen pod not scheduled on Windows nodes",
    "set 'spec.os.name: windows' and 'nodeSelector: {kubernetes.io/os: windows}' on the pod template")


WIN_LINUX_FIELDS = rule(
    "WIN002", "error", "Linux-only security field (or runAsUserName) on a Windows pod",
    "remove the field: the API server rejects Linux-only fields on Windows pods, and WorkflowGen needs no "
    "runAsUserName")


WIN_BUILD = rule(
    "WIN003", "error", "WorkflowGen image or node selector does not match the cluster's Windows build",
    "use the tag '<version>-win-<cluster windowsBuild>' and nodeSelector node.kubernetes.io/windows-build of "
    "that build")


WIN_SERVICES_SINGLETON = rule(
    "WIN004", "error", "Windows Services not a single instance (replicas 1, strategy Recreate)",
    "set 'replicas: 1' and 'strategy: {type: Recreate}' on the Deployment running the Windows Services")


WIN_KEYS_FROM_SECRET = rule(
    "WIN005", "error", "WorkflowGen encryption or machine key not read from a Secret",
    "set '<NAME>_FILE' to a file of a mounted Secret volume (or use valueFrom.secretKeyRef); never a literal")


WIN_OIDC = rule(
    "WIN006", "error", "OpenID Connect auth mode without its settings",
    "set oidc.clientId and oidc.metadataUrl in the tenant's tenant.yaml and run 'gitops-gen generate'; the "
    "client secret comes from the tenant's Secret through WFGEN_APP_SETTING_ApplicationSecurityAuthClientSecret_FILE")


WIN_SERIAL = rule(
    "WIN007", "error", "WorkflowGen licence serial number not read from the tenant's Secret",
    "read WFGEN_APP_SETTING_ApplicationSerialNumber through '_FILE' from the tenant's Secret, or declare "
    "'license: {trial: true}' in tenant.yaml for a trial licence")


WIN_READINESS = rule(
    "WIN008", "error", "Web readiness probe that passes before WorkflowGen answers",
    "probe /wfgen the way the image's healthcheck.ps1 does (401 means up) with timeoutSeconds of at least 10: "
    "a tcpSocket probe passes as soon as IIS listens, before the entrypoint has configured WorkflowGen")


WIN_DB_OWNER = rule(
    "WIN009", "error", "SQL Server pod cannot write its volume",
    "set 'securityContext.fsGroup: 10001' on the database pod: SQL Server 2019 and later run as mssql (uid "
    "10001) and fail on a root-owned volume")


WIN_PDB = rule(
    "WIN010", "error", "Web pods without a PodDisruptionBudget",
    "add a PodDisruptionBudget selecting the web pods with maxUnavailable: 1 (or minAvailable below the replicas): "
    "a node drain may otherwise take every web pod at once")


WIN_ZONES = rule(
    "WIN011", "error", "Web pods not spread across zones",
    "add a topologySpreadConstraint on topology.kubernetes.io/zone to the web pod template")


WIN_DEPENDENCY_CHECK = rule(
    "WIN012", "error", "WorkflowGen start gives up on its database too early",
    "set WFGEN_DEPENDENCY_CHECK_RETRIES and WFGEN_DEPENDENCY_CHECK_INTERVAL (ms) so that they wait at least "
    "2 minutes (gitops-gen writes 60 x 5000): the image's default, 10 x 1 s, crash-loops against a fresh database")


WIN_BODY_SIZE = rule(
    "WIN013", "error", "Ingress request body limit below the declared body size",
    "set the ingress.bodySize annotation (gitops-gen.yaml ingress.bodySizeAnnotation) on the Ingress: the "
    "ingress-nginx default of 1m answers 413 to file attachments")


ENCRYPTION_KEY = "WFGEN_APP_SETTING_ApplicationSecurityPasswordSymmetricEncryptionKey"

#: What web.config needs for an OpenID Connect mode; the entrypoint writes any WFGEN_APP_SETTING_<key>
#: into web.config appSettings (advantys/workflowgen-docker docker-entrypoint.ps1, region Web.config).
OIDC_SETTINGS = ("WFGEN_APP_SETTING_ApplicationSecurityAuthClientId",
                 "WFGEN_APP_SETTING_ApplicationSecurityAuthMetadataUrl")
CLIENT_SECRET = "WFGEN_APP_SETTING_ApplicationSecurityAuthClientSecret"
SERIAL_NUMBER = "WFGEN_APP_SETTING_ApplicationSerialNumber"

#: The wait of the image's dependency check (docker-entrypoint.ps1: WFGEN_DEPENDENCY_CHECK_RETRIES, default
#: 10, times WFGEN_DEPENDENCY_CHECK_INTERVAL, default 1000 ms) below which a fresh database is not ready yet.
MIN_DEPENDENCY_WAIT_MS = 120_000
MIN_READINESS_TIMEOUT = 10
ZONE_KEY = "topology.kubernetes.io/zone"


MACHINE_KEYS = ("WFGEN_MACHINE_KEY_VALIDATION_KEY", "WFGEN_MACHINE_KEY_DECRYPTION_KEY")


#: Security context fields the API server rejects on Windows pods (Kubernetes "Windows in Kubernetes").
LINUX_ONLY_FIELDS = frozenset({
    "runAsUser", "runAsGroup", "runAsNonRoot", "seLinuxOptions", "seccompProfile", "capabilities",
    "readOnlyRootFilesystem", "privileged", "procMount", "fsGroup", "fsGroupChangePolicy", "supplementalGroups",
    "supplementalGroupsPolicy", "seLinuxChangePolicy", "sysctls", "appArmorProfile", "allowPrivilegeEscalation",
})


_WIN_TAG = re.compile(r"-win-(ltsc\d{4})$")


def _check_windows(o: Overlay) -> Iterator[Finding]:
    cluster = o.ctx.cluster
    build_number = WINDOWS_BUILDS.get(cluster.windows_build)
    for pod in o.pods:
        node_selector = as_map(pod.spec.get("nodeSelector"))
        if pod.is_workflowgen:
            missing = []
            if as_map(pod.spec.get("os")).get("name") != "windows":
                missing.append("spec.os.name: windows")
            if node_selector.get("kubernetes.io/os") != "windows":
                missing.append("nodeSelector kubernetes.io/os: windows")
            if missing:
                yield o.ctx.finding(WIN_NOT_WINDOWS, f"WorkflowGen pod lacks {' and '.join(missing)}", pod.ref)
        if pod.is_windows:
            fields = [f"securityContext.{k}" for k in as_map(pod.spec.get("securityContext")) if k in LINUX_ONLY_FIELDS]
            if "runAsUserName" in as_map(as_map(pod.spec.get("securityContext")).get("windowsOptions")):
                fields.append("securityContext.windowsOptions.runAsUserName")
            for c in pod.containers():
                sc = as_map(c.get("securityContext"))
                fields += [f"{c.get('name')}: securityContext.{k}" for k in sc if k in LINUX_ONLY_FIELDS]
                if "runAsUserName" in as_map(sc.get("windowsOptions")):
                    fields.append(f"{c.get('name')}: securityContext.windowsOptions.runAsUserName")
            if fields:
                yield o.ctx.finding(WIN_LINUX_FIELDS, f"Windows pod sets {', '.join(fields)}", pod.ref)
        if pod.is_workflowgen:
            for c in pod.workflowgen_containers():
                image = str(c.get("image"))
                _, tag = image_repo_tag(image)
                m = _WIN_TAG.search(tag or "")
                if m is None:
                    yield o.ctx.finding(WIN_BUILD, f"image {image!r} has no Windows OS suffix (-win-ltsc2019 or "
                                        "-win-ltsc2022); such tags are ltsc2019 builds", pod.ref)
                elif m.group(1) != cluster.windows_build:
                    yield o.ctx.finding(WIN_BUILD, f"image {image!r} is a {m.group(1)} build but cluster "
                                        f"{cluster.name} runs {cluster.windows_build}", pod.ref)
        build = node_selector.get("node.kubernetes.io/windows-build")
        if (pod.is_workflowgen or build is not None) and build_number is not None and str(build) != build_number:
            shown = "is missing" if build is None else f"is {build!r}"
            yield o.ctx.finding(WIN_BUILD, f"nodeSelector node.kubernetes.io/windows-build {shown}; cluster "
                                f"{cluster.name} runs {cluster.windows_build} ({build_number})", pod.ref)


def _check_services_singleton(o: Overlay) -> Iterator[Finding]:
    for pod in o.pods:
        services = {start_service(c) for c in pod.workflowgen_containers()} & WINDOWS_SERVICES
        if not services:
            continue
        spec = as_map(pod.owner.get("spec"))
        if pod.replicas == 0 and not o.ctx.tenant.placement(o.ctx.cluster.name).runs_windows_services:
            continue  # stopped where the placement's role or state says so (LIFE002 checks the rest)
        problems = []
        if pod.replicas != 1:
            problems.append("runs on every node" if pod.replicas is None else f"has {pod.replicas} replicas")
        if pod.owner.get("kind") == "Deployment":
            strategy = as_map(spec.get("strategy")).get("type", "RollingUpdate")
            if strategy != "Recreate":
                problems.append(f"uses strategy {strategy} (two instances overlap during a rollout)")
        if problems:
            yield o.ctx.finding(WIN_SERVICES_SINGLETON,
                                f"WorkflowGen Windows Services (WFGEN_START_SERVICE={listed(services)}) must run as "
                                f"exactly one instance, but the workload {' and '.join(problems)}", pod.ref)


def _secret_mounts(pod: Pod, container: Mapping[str, Any]) -> list[str]:
    """Mount paths of Secret-backed volumes in a container, normalised for comparison."""
    secret_volumes: set[str] = set()
    for raw in as_list(pod.spec.get("volumes")):
        v = as_map(raw)
        sources = as_list(as_map(v.get("projected")).get("sources"))
        if ("secret" in v or (sources and all("secret" in as_map(s) for s in sources))
                or as_map(v.get("csi")).get("driver") == "secrets-store.csi.k8s.io"):
            secret_volumes.add(str(v.get("name")))
    return [_norm_path(str(as_map(m).get("mountPath"))) for m in as_list(container.get("volumeMounts"))
            if str(as_map(m).get("name")) in secret_volumes and as_map(m).get("mountPath")]


def _norm_path(path: str) -> str:
    return path.replace("\\", "/").rstrip("/").lower()


def _key_problem(name: str, env: Mapping[str, Mapping[str, Any]], mounts: list[str]) -> str | None:
    direct = env.get(name)
    if direct is not None and "value" in direct:
        return f"{name} is a literal value"
    if direct is not None:
        source = next(iter(as_map(direct.get("valueFrom"))), "nothing")
        # Set from anything but a Secret, it would compete with (or replace) a <NAME>_FILE.
        return None if source == "secretKeyRef" else f"{name} comes from {source}, not from a Secret"
    file_var = env.get(f"{name}_FILE")
    if file_var is None:
        return f"neither {name}_FILE nor {name} from a secretKeyRef is set"
    path = file_var.get("value")
    if not isinstance(path, str):
        return f"{name}_FILE is not a literal path into a mounted Secret"
    p = _norm_path(path)
    if not any(p == m or p.startswith(m + "/") for m in mounts):
        return f"{name}_FILE={path!r} is not inside a mounted Secret volume"
    return None


def _check_keys(o: Overlay) -> Iterator[Finding]:
    for pod in o.pods:
        for c in pod.workflowgen_containers():
            env = env_of(c)
            mounts = _secret_mounts(pod, c)
            names = [ENCRYPTION_KEY]
            if start_service(c) in WEB_SERVICES and (pod.replicas is None or pod.replicas > 1):
                names += MACHINE_KEYS
            problems = [p for p in (_key_problem(n, env, mounts) for n in names) if p]
            if problems:
                yield o.ctx.finding(WIN_KEYS_FROM_SECRET, f"container {c.get('name')}: {'; '.join(problems)}",
                                    pod.ref)


def settings_of(o: Overlay, container: Mapping[str, Any]) -> dict[str, Mapping[str, Any]]:
    """The container's environment as the kubelet builds it: envFrom ConfigMaps first, env over them
    (each as an env entry: {'value': ...} or {'valueFrom': ...})."""
    maps = {str(as_map(cm.get("metadata")).get("name")): as_map(cm.get("data")) for cm in of_kind(o.docs, "ConfigMap")}
    out: dict[str, Mapping[str, Any]] = {}
    for src in as_list(container.get("envFrom")):
        ref = as_map(as_map(src).get("configMapRef"))
        prefix = str(as_map(src).get("prefix") or "")
        for k, v in maps.get(str(ref.get("name")), {}).items():
            out[f"{prefix}{k}"] = {"value": v}
    out.update(env_of(container))
    return out


def _web_containers(o: Overlay) -> Iterator[tuple[Pod, Mapping[str, Any]]]:
    for pod in o.pods:
        for c in pod.workflowgen_containers():
            if start_service(c) in WEB_SERVICES:
                yield pod, c


def _check_oidc(o: Overlay) -> Iterator[Finding]:
    auth = o.ctx.tenant.auth
    if auth not in OIDC_AUTH_MODES:
        return
    for pod, c in _web_containers(o):
        env = settings_of(o, c)
        problems = [f"{n} is not set" for n in OIDC_SETTINGS if not str(env.get(n, {}).get("value") or "").strip()]
        secret = _key_problem(CLIENT_SECRET, env, _secret_mounts(pod, c))
        if secret:
            problems.append(secret)
        if problems:
            yield o.ctx.finding(WIN_OIDC, f"auth {auth} signs users in with OpenID Connect, but in container "
                                f"{c.get('name')} {'; '.join(problems)}: WFGEN_AUTH_MODE only swaps IIS modules, "
                                "and nobody can log in", pod.ref)


def _check_serial(o: Overlay) -> Iterator[Finding]:
    if o.ctx.tenant.trial_license:
        return
    for pod in o.pods:
        for c in pod.workflowgen_containers():
            problem = _key_problem(SERIAL_NUMBER, settings_of(o, c), _secret_mounts(pod, c))
            if problem:
                yield o.ctx.finding(WIN_SERIAL, f"container {c.get('name')}: {problem}; the tenant declares no trial "
                                    "licence, so WorkflowGen runs unlicensed", pod.ref)


def _int(value: Any, default: int) -> int:
    try:
        return int(str(value).strip())
    except ValueError:
        return default


def _check_readiness(o: Overlay) -> Iterator[Finding]:
    for pod, c in _web_containers(o):
        probe = as_map(c.get("readinessProbe"))
        if not probe:
            problem = "has no readinessProbe: a pod counts as ready while the entrypoint still configures it"
        elif "tcpSocket" in probe:
            problem = "has a tcpSocket readinessProbe, which passes once IIS listens, before /wfgen answers"
        elif _int(probe.get("timeoutSeconds", 1), 1) < MIN_READINESS_TIMEOUT:
            problem = (f"has a readinessProbe with timeoutSeconds {probe.get('timeoutSeconds', 1)}, below "
                       f"{MIN_READINESS_TIMEOUT}: /wfgen answers slowly while IIS warms up")
        else:
            continue
        yield o.ctx.finding(WIN_READINESS, f"container {c.get('name')} {problem}", pod.ref)


def _check_dependency_check(o: Overlay) -> Iterator[Finding]:
    for pod in o.pods:
        for c in pod.workflowgen_containers():
            env = settings_of(o, c)
            enabled = str(env.get("WFGEN_DEPENDENCY_CHECK_ENABLED", {}).get("value", "Y")).strip().upper()
            if enabled == "N":
                continue
            retries = _int(env.get("WFGEN_DEPENDENCY_CHECK_RETRIES", {}).get("value", 10), 10)
            interval = _int(env.get("WFGEN_DEPENDENCY_CHECK_INTERVAL", {}).get("value", 1000), 1000)
            if retries * interval < MIN_DEPENDENCY_WAIT_MS:
                yield o.ctx.finding(WIN_DEPENDENCY_CHECK, f"container {c.get('name')} waits {retries} x {interval} ms "
                                    f"for its database, less than {MIN_DEPENDENCY_WAIT_MS // 1000} s", pod.ref)


def _check_database_owner(o: Overlay) -> Iterator[Finding]:
    for pod in o.pods:
        sql = [c for c in pod.containers() if "sql" in image_repo_tag(str(c.get("image", "")))[0].lower()]
        if pod.component != "database" and not sql:
            continue
        if pod.is_windows:
            continue
        group = as_map(pod.spec.get("securityContext")).get("fsGroup")
        if _int(group, -1) != 10001:
            shown = "is not set" if group is None else f"is {group}"
            yield o.ctx.finding(WIN_DB_OWNER, f"securityContext.fsGroup {shown}: mssql (uid 10001) cannot write a "
                                "root-owned volume and SQL Server does not start", pod.ref)


def _budgets_for(o: Overlay, pod: Pod) -> list[Mapping[str, Any]]:
    return [b for b in of_kind(o.docs, "PodDisruptionBudget")
            if o.in_namespace(b) and selects(as_map(b.get("spec")).get("selector"), pod.labels)]


def _check_availability(o: Overlay) -> Iterator[Finding]:
    for pod in o.pods:
        if pod.component != "web" or pod.owner.get("kind") != "Deployment" or (pod.replicas or 0) < 2:
            continue
        budgets = _budgets_for(o, pod)
        if not budgets:
            yield o.ctx.finding(WIN_PDB, f"{pod.replicas} web replicas and no PodDisruptionBudget selects them: a node "
                                "drain may evict all of them at once", pod.ref)
        for b in budgets:
            spec = as_map(b.get("spec"))
            lowest = spec.get("minAvailable")
            if isinstance(lowest, int) and lowest >= (pod.replicas or 0):
                yield o.ctx.finding(WIN_PDB, f"{ref_of(b)} keeps minAvailable {lowest} of {pod.replicas} replicas: no "
                                    "node can ever be drained", ref_of(b))
            if spec.get("maxUnavailable") in (0, "0", "0%"):
                yield o.ctx.finding(WIN_PDB, f"{ref_of(b)} sets maxUnavailable 0: no node can ever be drained",
                                    ref_of(b))
        spread = [as_map(t) for t in as_list(pod.spec.get("topologySpreadConstraints"))]
        if not any(t.get("topologyKey") == ZONE_KEY and selects(t.get("labelSelector"), pod.labels) for t in spread):
            yield o.ctx.finding(WIN_ZONES, f"{pod.replicas} web replicas with no topology spread on {ZONE_KEY}: one "
                                "zone's outage may take all of them", pod.ref)


_NGINX_SIZE = re.compile(r"(\d+)([kKmMgG]?)")


def _nginx_size(text: str) -> int | None:
    """Bytes of an nginx size ('50m', '1g', '512k', '0' for no limit); None when it is not one."""
    m = _NGINX_SIZE.fullmatch(text.strip())
    if m is None:
        return None
    return int(m.group(1)) * {"": 1, "k": 1024, "m": 1024 ** 2, "g": 1024 ** 3}[m.group(2).lower()]


def _check_body_size(o: Overlay) -> Iterator[Finding]:
    wanted = o.ctx.tenant.body_size or o.ctx.config.body_size
    if not wanted:
        return
    key = o.ctx.config.body_size_annotation
    for ing in of_kind(o.docs, "Ingress"):
        have = annotations_of(ing).get(key)
        have_bytes = None if have is None else _nginx_size(str(have))
        short = have_bytes is None or (have_bytes != 0 and have_bytes < (_nginx_size(wanted) or 0))
        if short:
            shown = "is not set (the ingress-nginx default is 1m)" if have is None else f"is {have!r}"
            yield o.ctx.finding(WIN_BODY_SIZE, f"annotation {key} {shown}, below the declared body size {wanted}: "
                                "larger uploads get 413", ref_of(ing))


#: This family's checks of one overlay's rendered objects, run by ``checks.check_overlay``.
OVERLAY_CHECKS = (
    _check_windows, _check_services_singleton, _check_keys, _check_oidc, _check_serial, _check_readiness,
    _check_dependency_check, _check_database_owner, _check_availability, _check_body_size,
)
