"""Windows and WorkflowGen rules (WIN001-WIN005): Windows scheduling, no Linux-only security fields, the
image's Windows build, Windows Services as one instance, keys from Secrets."""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Any

from gitops_gen.checks.objects import (
    WEB_SERVICES,
    WINDOWS_SERVICES,
    Overlay,
    Pod,
    as_list,
    as_map,
    env_of,
    image_repo_tag,
    listed,
    start_service,
)
from gitops_gen.checks.registry import Finding, rule
from gitops_gen.estate.model import WINDOWS_BUILDS

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


ENCRYPTION_KEY = "WFGEN_APP_SETTING_ApplicationSecurityPasswordSymmetricEncryptionKey"


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


#: This family's checks of one overlay's rendered objects, run by ``checks.check_overlay``.
OVERLAY_CHECKS = (
    _check_windows, _check_services_singleton, _check_keys,
)
