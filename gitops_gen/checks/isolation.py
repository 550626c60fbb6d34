"""Isolation rules (ISO001-ISO011): default deny, who may reach the web, Windows Services and database
pods, no open or cross-tenant peers, nothing exposed outside the Ingress, quota, Pod Security, tokens."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Iterator
from typing import Any

from gitops_gen.checks.objects import (
    DATABASE_PORT,
    WEB_PORT,
    Overlay,
    Pod,
    as_list,
    as_map,
    egress_applies,
    ingress_applies,
    is_false,
    is_true,
    is_zero,
    labels_of,
    listed,
    meta_of,
    name_of,
    named_namespaces,
    of_kind,
    reaches_every_namespace,
    ref_of,
    selector_is_empty,
)
from gitops_gen.checks.registry import Finding, rule

ISO_DEFAULT_DENY = rule(
    "ISO001", "error", "Tenant namespace has no default deny for ingress and egress",
    "add a NetworkPolicy with 'podSelector: {}', 'policyTypes: [Ingress, Egress]' and no rules (the base's "
    "default-deny)")


ISO_WEB_INGRESS = rule(
    "ISO002", "error", "Web pods reachable other than from the ingress controller's namespace on TCP 80",
    "allow into web pods only 'from: [{namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: "
    "<ingress namespace>}}}]' with 'ports: [{protocol: TCP, port: 80}]'")


ISO_WIN_SERVICES_INGRESS = rule(
    "ISO003", "error", "Ingress allowed into the Windows Services pods",
    "remove the ingress rule: Windows Services pods accept no traffic at all")


ISO_DATABASE_INGRESS = rule(
    "ISO004", "error", "Database pods reachable other than from the tenant's WorkflowGen pods on TCP 1433",
    "allow into database pods only 'from: [{podSelector: <web and win-services pods>}]' with "
    "'ports: [{protocol: TCP, port: 1433}]'")


ISO_OPEN_PEER = rule(
    "ISO005", "error", "Allow rule open to every namespace or every address",
    "name the peer namespace with 'namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: <ns>}}'; "
    "never 'namespaceSelector: {}', a rule without peers, or an ingress ipBlock 0.0.0.0/0")


ISO_OTHER_NAMESPACE = rule(
    "ISO006", "error", "Object refers to another tenant's namespace",
    "keep every object, and every namespaceSelector, within the tenant's own namespace")


ISO_EXPOSED_SERVICE = rule(
    "ISO007", "error", "Service exposed outside the Ingress (LoadBalancer, NodePort or externalIPs)",
    "use a ClusterIP Service without externalIPs; publish only through the tenant's HTTPS Ingress")


ISO_HOST_ACCESS = rule(
    "ISO008", "error", "Pod uses the host's network, PID or IPC namespace, or a hostPort",
    "remove hostNetwork, hostPID, hostIPC and hostPort from the pod template")


ISO_QUOTA = rule(
    "ISO009", "error", "No ResourceQuota forbidding LoadBalancer and NodePort Services",
    "add a ResourceQuota with 'services.loadbalancers: \"0\"' and 'services.nodeports: \"0\"' (the size "
    "component's quota)")


ISO_POD_SECURITY = rule(
    "ISO010", "error", "Namespace Pod Security enforce level missing or weaker than baseline",
    "label the Namespace 'pod-security.kubernetes.io/enforce: baseline'")


ISO_SA_TOKEN = rule(
    "ISO011", "error", "Service account token mounted into pods",
    "set 'automountServiceAccountToken: false' on the ServiceAccount and on the pod template")


POD_SECURITY_LEVELS = frozenset({"baseline", "restricted"})


def _named_ports(pods: Iterable[Pod], name: str) -> set[int]:
    found: set[int] = set()
    for p in pods:
        for c in p.containers():
            for port in as_list(c.get("ports")):
                if as_map(port).get("name") == name and isinstance(as_map(port).get("containerPort"), int):
                    found.add(int(as_map(port)["containerPort"]))
    return found


def _port_problems(ports: list[Any], wanted: int, pods: list[Pod]) -> list[str]:
    """Why a rule's ports allow more than TCP ``wanted`` on ``pods``."""
    if not ports:
        return ["every port"]
    problems: list[str] = []
    for raw in ports:
        p = as_map(raw)
        protocol = str(p.get("protocol", "TCP"))
        port = p.get("port")
        end = p.get("endPort")
        if protocol != "TCP":
            problems.append(f"protocol {protocol}")
        if port is None:
            problems.append("every port")
        elif isinstance(port, str) and not port.isdigit():
            other = _named_ports(pods, port) - {wanted}
            if other:
                problems.append(f"port {port!r} ({listed(str(o) for o in other)})")
        elif str(port) != str(wanted):
            problems.append(f"port {port}")
        if end is not None and str(end) != str(port):
            problems.append(f"port range {port}-{end}")
    return problems


def _check_default_deny(o: Overlay) -> Iterator[Finding]:
    for policy in o.policies:
        spec = as_map(policy.get("spec"))
        if (o.in_namespace(policy) and selector_is_empty(spec.get("podSelector"))
                and {"Ingress", "Egress"} <= set(as_list(spec.get("policyTypes")))
                and not as_list(spec.get("ingress")) and not as_list(spec.get("egress"))):
            return
    ns = o.ctx.tenant.namespace
    yield o.ctx.finding(ISO_DEFAULT_DENY, f"no NetworkPolicy denies all ingress and egress in namespace {ns!r}",
                        f"Namespace/{ns}")


def _check_web_ingress(o: Overlay) -> Iterator[Finding]:
    ingress_ns = o.ctx.config.ingress_namespace
    web = [p for p in o.pods if p.component == "web"]
    for policy, i, r in o.ingress_rules("web"):
        problems: list[str] = []
        peers = as_list(r.get("from"))
        if not peers:
            problems.append("every source")
        for raw in peers:
            peer = as_map(raw)
            if "ipBlock" in peer:
                problems.append(f"ipBlock {as_map(peer['ipBlock']).get('cidr')}")
            elif "namespaceSelector" not in peer:
                problems.append("other pods of the namespace")
            else:
                names = named_namespaces(peer["namespaceSelector"])
                if names != {ingress_ns}:
                    shown = "any namespace" if names is None else listed(names) or "no namespace"
                    problems.append(f"namespace {shown}")
        problems += _port_problems(as_list(r.get("ports")), WEB_PORT, web)
        if problems:
            yield o.ctx.finding(
                ISO_WEB_INGRESS,
                f"ingress rule {i} admits into the web pods {', '.join(dict.fromkeys(problems))}; only the "
                f"ingress controller's namespace {ingress_ns!r} on TCP {WEB_PORT} may reach them", ref_of(policy))


def _check_win_services_ingress(o: Overlay) -> Iterator[Finding]:
    seen: set[str] = set()
    for policy, i, _ in o.ingress_rules("win-services"):
        if ref_of(policy) not in seen:
            seen.add(ref_of(policy))
            yield o.ctx.finding(ISO_WIN_SERVICES_INGRESS,
                                f"ingress rule {i} allows traffic into the Windows Services pods", ref_of(policy))


def _check_database_ingress(o: Overlay) -> Iterator[Finding]:
    database = [p for p in o.pods if p.component == "database"]
    for policy, i, r in o.ingress_rules("database"):
        problems: list[str] = []
        peers = as_list(r.get("from"))
        if not peers:
            problems.append("every source")
        for raw in peers:
            peer = as_map(raw)
            if set(peer) != {"podSelector"}:
                problems.append("a peer that is not a podSelector alone (" + listed(str(k) for k in peer) + ")")
                continue
            others = {p.component or "unlabelled" for p in o.selected(peer["podSelector"])} - {"web", "win-services"}
            if others:
                problems.append(f"pods other than the WorkflowGen pods ({listed(others)})")
        problems += _port_problems(as_list(r.get("ports")), DATABASE_PORT, database)
        if problems:
            yield o.ctx.finding(
                ISO_DATABASE_INGRESS,
                f"ingress rule {i} admits into the database pods {', '.join(dict.fromkeys(problems))}; only the "
                f"tenant's own WorkflowGen pods on TCP {DATABASE_PORT} may reach them", ref_of(policy))


def _check_open_peers(o: Overlay) -> Iterator[Finding]:
    for policy in o.policies:
        spec = as_map(policy.get("spec"))
        directions = []
        if ingress_applies(spec):
            directions.append(("ingress", "from"))
        if egress_applies(spec):
            directions.append(("egress", "to"))
        for direction, key in directions:
            for i, raw in enumerate(as_list(spec.get(direction))):
                r = as_map(raw)
                problems: list[str] = []
                peers = as_list(r.get(key))
                if not peers:
                    problems.append(f"has no '{key}' peers, so it reaches every namespace")
                for peer in (as_map(p) for p in peers):
                    if "namespaceSelector" in peer and reaches_every_namespace(peer["namespaceSelector"]):
                        problems.append("has a namespaceSelector that selects every namespace"
                                        if selector_is_empty(peer["namespaceSelector"]) else
                                        "has a namespaceSelector without a positive requirement (every "
                                        "namespace but a few)")
                    cidr = as_map(peer.get("ipBlock")).get("cidr")
                    if direction == "ingress" and cidr is not None:
                        try:
                            if ipaddress.ip_network(str(cidr), strict=False).prefixlen == 0:
                                problems.append(f"admits ipBlock {cidr} (every address)")
                        except ValueError:
                            pass
                for problem in dict.fromkeys(problems):
                    yield o.ctx.finding(ISO_OPEN_PEER, f"{direction} rule {i} {problem}", ref_of(policy))


def _check_other_namespaces(o: Overlay) -> Iterator[Finding]:
    own = o.ctx.tenant.namespace
    others = o.ctx.tenant_namespaces - {own}
    for d in o.docs:
        ns = meta_of(d).get("namespace")
        if d.get("kind") == "Namespace":
            if name_of(d) != own:
                yield o.ctx.finding(ISO_OTHER_NAMESPACE,
                                    f"the overlay creates Namespace {name_of(d)!r}; its only namespace is {own!r}",
                                    ref_of(d))
        elif ns is not None and ns != own:
            yield o.ctx.finding(ISO_OTHER_NAMESPACE,
                                f"{ref_of(d)} is in namespace {ns!r}, not the tenant's namespace {own!r}", ref_of(d))
        if d.get("kind") in ("RoleBinding", "ClusterRoleBinding"):
            for s in (as_map(x) for x in as_list(d.get("subjects"))):
                if s.get("namespace") in others:
                    yield o.ctx.finding(ISO_OTHER_NAMESPACE,
                                        f"binds subject {s.get('kind')}/{s.get('name')} of tenant namespace "
                                        f"{s.get('namespace')!r}", ref_of(d))
    for policy in o.policies:
        spec = as_map(policy.get("spec"))
        for direction, key in (("ingress", "from"), ("egress", "to")):
            for r in (as_map(x) for x in as_list(spec.get(direction))):
                for peer in (as_map(p) for p in as_list(r.get(key))):
                    named = (named_namespaces(peer["namespaceSelector"]) or set()) & others \
                        if "namespaceSelector" in peer else set()
                    if named:
                        yield o.ctx.finding(ISO_OTHER_NAMESPACE,
                                            f"{direction} peer selects namespace of another tenant: {listed(named)}",
                                            ref_of(policy))


def _check_services(o: Overlay) -> Iterator[Finding]:
    for svc in of_kind(o.docs, "Service"):
        spec = as_map(svc.get("spec"))
        kind = spec.get("type", "ClusterIP")
        if kind in ("LoadBalancer", "NodePort"):
            yield o.ctx.finding(ISO_EXPOSED_SERVICE, f"Service type {kind} exposes pods outside the Ingress",
                                ref_of(svc))
        if as_list(spec.get("externalIPs")):
            yield o.ctx.finding(ISO_EXPOSED_SERVICE, f"Service has externalIPs {as_list(spec.get('externalIPs'))}",
                                ref_of(svc))


def _check_host_access(o: Overlay) -> Iterator[Finding]:
    for pod in o.pods:
        used = [f for f in ("hostNetwork", "hostPID", "hostIPC") if is_true(pod.spec.get(f))]
        used += [f"hostPort {as_map(p).get('hostPort')} ({c.get('name')})" for c in pod.containers()
                 for p in as_list(c.get("ports")) if as_map(p).get("hostPort") not in (None, 0)]
        if used:
            yield o.ctx.finding(ISO_HOST_ACCESS, f"pod template uses {', '.join(used)}", pod.ref)


def _check_quota(o: Overlay) -> Iterator[Finding]:
    for quota in of_kind(o.docs, "ResourceQuota"):
        spec = as_map(quota.get("spec"))
        hard = as_map(spec.get("hard"))
        if (o.in_namespace(quota) and not as_list(spec.get("scopes")) and not spec.get("scopeSelector")
                and is_zero(hard.get("services.loadbalancers")) and is_zero(hard.get("services.nodeports"))):
            return
    ns = o.ctx.tenant.namespace
    yield o.ctx.finding(ISO_QUOTA, f"no ResourceQuota in namespace {ns!r} sets services.loadbalancers and "
                        "services.nodeports to 0", f"Namespace/{ns}")


def _check_pod_security(o: Overlay) -> Iterator[Finding]:
    namespaces = of_kind(o.docs, "Namespace")
    if not namespaces:
        ns = o.ctx.tenant.namespace
        yield o.ctx.finding(ISO_POD_SECURITY, f"the overlay has no Namespace {ns!r}, so nothing sets its Pod Security "
                            "level", f"Namespace/{ns}")
    for d in namespaces:
        level = labels_of(d).get("pod-security.kubernetes.io/enforce")
        if level not in POD_SECURITY_LEVELS:
            shown = "is missing" if level is None else f"is {level!r}"
            yield o.ctx.finding(ISO_POD_SECURITY, f"label pod-security.kubernetes.io/enforce {shown}; tenant "
                                "namespaces enforce at least 'baseline'", ref_of(d))


def _check_tokens(o: Overlay) -> Iterator[Finding]:
    accounts = {name_of(sa): sa for sa in of_kind(o.docs, "ServiceAccount")}
    for sa in accounts.values():
        if not is_false(sa.get("automountServiceAccountToken")):
            yield o.ctx.finding(ISO_SA_TOKEN, "ServiceAccount does not set automountServiceAccountToken: false",
                                ref_of(sa))
    for pod in o.pods:
        name = str(pod.spec.get("serviceAccountName") or pod.spec.get("serviceAccount") or "default")
        own = pod.spec.get("automountServiceAccountToken")
        if own is not None:
            mounted = not is_false(own)
        else:
            account = accounts.get(name)
            mounted = account is None or not is_false(account.get("automountServiceAccountToken"))
        if mounted:
            why = ("the pod template sets automountServiceAccountToken: true" if own is not None else
                   f"neither the pod template nor its ServiceAccount {name!r} sets automountServiceAccountToken: "
                   "false")
            yield o.ctx.finding(ISO_SA_TOKEN, f"the service account token is mounted: {why}", pod.ref)


#: This family's checks of one overlay's rendered objects, run by ``checks.check_overlay``.
OVERLAY_CHECKS = (
    _check_default_deny, _check_web_ingress, _check_win_services_ingress, _check_database_ingress,
    _check_open_peers, _check_other_namespaces, _check_services, _check_host_access, _check_quota, _check_pod_security,
    _check_tokens,
)
