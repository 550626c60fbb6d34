"""Isolation rules (ISO001-ISO011): default deny, who may reach the web, Windows Services and database
pods, no open or cross-tenant peers, nothing exposed outside the Ingress, quota, Pod Security, tokens."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Iterator, Mapping
from decimal import Decimal
from typing import Any

from gitops_gen.checks.objects import (
    CLUSTER_SCOPED_KINDS,
    DATABASE_PORT,
    WEB_PORT,
    Overlay,
    Pod,
    as_list,
    as_map,
    cluster_of,
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
from gitops_gen.checks.registry import Finding, finding, rule
from gitops_gen.estate import layout
from gitops_gen.estate.model import EgressRule
from gitops_gen.generate.quantity import parse_quantity

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
ISO_FLUX_CLUSTER_SCOPED = rule(
    "ISO012", "error", "Flux tenant overlay renders a cluster-scoped object",
    "keep cluster-scoped objects (the Namespace included) out of a Flux placement's overlay: the platform "
    "Kustomization in clusters/<cluster>/platform/<tenant>/ creates the Namespace")
ISO_FLUX_ACCOUNT = rule(
    "ISO013", "error", "Flux tenant Kustomization runs as a cluster-wide account",
    "set spec.serviceAccountName to the tenant's own reconciler account (<tenant>-reconciler), whose RoleBinding "
    "grants the tenant's namespace only; never kustomize-controller, which is bound to cluster-admin")
ISO_EGRESS = rule(
    "ISO014", "error", "Declared egress is not allowed",
    "render the workflowgen-egress-allow NetworkPolicy ('gitops-gen generate'): default-deny blocks every "
    "destination in the tenant's and the estate's egress lists otherwise, mail included")
ISO_QUOTA_ROOM = rule(
    "ISO015", "error", "ResourceQuota too small for the pods at their peak",
    "derive the quota from the pods it must hold at a rollout's peak (web replicas plus the surge, Windows "
    "Services, the database, cert-manager's HTTP-01 solver): 'gitops-gen generate' writes it")


POD_SECURITY_LEVELS = frozenset({"baseline", "restricted"})
#: Accounts bound to cluster-admin by a Flux install (flux2 manifests/rbac/reconciler.yaml).
CLUSTER_WIDE_ACCOUNTS = frozenset({"kustomize-controller", "helm-controller", "default"})


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
    if not namespaces and o.ctx.cluster.controller != "flux":  # a Flux placement's is checked in clusters/
        ns = o.ctx.tenant.namespace
        yield o.ctx.finding(ISO_POD_SECURITY, f"the overlay has no Namespace {ns!r}, so nothing sets its Pod Security "
                            "level", f"Namespace/{ns}")
    for d in namespaces:
        level = labels_of(d).get("pod-security.kubernetes.io/enforce")
        if level not in POD_SECURITY_LEVELS:
            shown = "is missing" if level is None else f"is {level!r}"
            yield o.ctx.finding(ISO_POD_SECURITY, f"label pod-security.kubernetes.io/enforce {shown}; tenant "
                                "namespaces enforce at least 'baseline'", ref_of(d))


def _check_flux_cluster_scoped(o: Overlay) -> Iterator[Finding]:
    if o.ctx.cluster.controller != "flux":
        return
    for d in o.docs:
        if d.get("kind") in CLUSTER_SCOPED_KINDS:
            yield o.ctx.finding(ISO_FLUX_CLUSTER_SCOPED, f"{ref_of(d)} is cluster-scoped: the tenant's account cannot "
                                "create it, and nothing in a tenant overlay may reach beyond its namespace", ref_of(d))


def _covers(block: Mapping[str, Any], target: ipaddress.IPv4Network | ipaddress.IPv6Network) -> bool:
    try:
        net = ipaddress.ip_network(str(block.get("cidr")))
        excepts = [ipaddress.ip_network(str(e)) for e in as_list(block.get("except"))]
    except ValueError:
        return False
    if net.version != target.version:
        return False
    inside = target.subnet_of(net)  # type: ignore[arg-type]
    return inside and not any(e.version == target.version and target.overlaps(e) for e in excepts)


def _allows(policy: Mapping[str, Any], pods: list[Pod], rule_: EgressRule) -> bool:
    spec = as_map(policy.get("spec"))
    if not egress_applies(spec):
        return False
    target = ipaddress.ip_network(rule_.cidr)
    for r in as_list(spec.get("egress")):
        ports = as_list(as_map(r).get("ports"))
        port_ok = not ports or any(str(as_map(x).get("port")) == str(rule_.port)
                                   and str(as_map(x).get("protocol", "TCP")) == rule_.protocol for x in ports)
        peers = as_list(as_map(r).get("to"))
        for peer in peers:
            block = as_map(as_map(peer).get("ipBlock"))
            if port_ok and block and _covers(block, target):
                return True
    return False


def _check_egress(o: Overlay) -> Iterator[Finding]:
    rules = list(dict.fromkeys([*o.ctx.config.egress, *o.ctx.tenant.egress]))
    wfg = [p for p in o.pods if p.component in ("web", "win-services")]
    for r in rules:
        for pod in wfg:
            policies = [pol for pol in o.policies if pod in o.selected(as_map(pol.get("spec")).get("podSelector"))]
            if not any(_allows(pol, [pod], r) for pol in policies):
                what = f" ({r.description})" if r.description else ""
                yield o.ctx.finding(ISO_EGRESS, f"egress to {r.cidr} on {r.protocol} {r.port}{what} is declared but no "
                                    "NetworkPolicy allows it", pod.ref)


def _pod_resources(pod: Pod) -> dict[str, Decimal]:
    out = {"requests.cpu": Decimal(0), "requests.memory": Decimal(0), "limits.cpu": Decimal(0),
           "limits.memory": Decimal(0)}
    for c in as_list(pod.spec.get("containers")):
        res = as_map(as_map(c).get("resources"))
        for kind in ("requests", "limits"):
            for resource in ("cpu", "memory"):
                value = as_map(res.get(kind)).get(resource)
                try:
                    out[f"{kind}.{resource}"] += parse_quantity(str(value)) if value is not None else Decimal(0)
                except ValueError:
                    continue
    return out


def _surge(doc: Mapping[str, Any], replicas: int) -> int:
    strategy = as_map(as_map(doc.get("spec")).get("strategy"))
    if doc.get("kind") != "Deployment" or strategy.get("type", "RollingUpdate") != "RollingUpdate":
        return 0
    surge = as_map(strategy.get("rollingUpdate")).get("maxSurge", "25%")
    if isinstance(surge, int):
        return surge
    if isinstance(surge, str) and surge.endswith("%") and surge[:-1].isdigit():
        return -(-replicas * int(surge[:-1]) // 100)
    return 0


#: cert-manager's HTTP-01 solver pod resources, the defaults of --acme-http01-solver-resource-* (cert-manager
#: internal/apis/config/controller/v1alpha1/defaults.go: requests 10m CPU and 64Mi, limits 100m and 64Mi).
SOLVER_RESOURCES = {"requests": {"cpu": "10m", "memory": "64Mi"}, "limits": {"cpu": "100m", "memory": "64Mi"}}


def _solver_limit_range(o: Overlay) -> Iterator[Finding]:
    """A LimitRange whose min is above, or max below, the solver's resources rejects the solver pod."""
    for lr in of_kind(o.docs, "LimitRange"):
        for item in (as_map(x) for x in as_list(as_map(lr.get("spec")).get("limits"))):
            if item.get("type") not in ("Container", "Pod"):
                continue
            problems = []
            for resource in ("cpu", "memory"):
                low = as_map(item.get("min")).get(resource)
                high = as_map(item.get("max")).get(resource)
                try:
                    if low is not None and parse_quantity(str(low)) > parse_quantity(
                            SOLVER_RESOURCES["requests"][resource]):
                        problems.append(f"min {resource} {low}")
                    if high is not None and parse_quantity(str(high)) < parse_quantity(
                            SOLVER_RESOURCES["limits"][resource]):
                        problems.append(f"max {resource} {high}")
                except ValueError:
                    continue
            if problems:
                yield o.ctx.finding(ISO_QUOTA_ROOM, f"{item.get('type')} limits ({', '.join(problems)}) reject "
                                    "cert-manager's HTTP-01 solver pod (requests 10m/64Mi, limits 100m/64Mi)",
                                    ref_of(lr))


def _check_quota_room(o: Overlay) -> Iterator[Finding]:
    need = {"requests.cpu": Decimal(0), "requests.memory": Decimal(0), "limits.cpu": Decimal(0),
            "limits.memory": Decimal(0), "pods": Decimal(0)}
    for pod in o.pods:
        count = (pod.replicas or 1) + _surge(pod.owner, pod.replicas or 1)
        need["pods"] += count
        for key, value in _pod_resources(pod).items():
            need[key] += value * count
    if o.ctx.config.challenge == "http01":  # cert-manager's solver pod, while a certificate is issued
        need["pods"] += 1
        for kind, amounts in SOLVER_RESOURCES.items():
            for resource, amount in amounts.items():
                need[f"{kind}.{resource}"] += parse_quantity(amount)
    if o.ctx.config.challenge == "http01":
        yield from _solver_limit_range(o)
    for quota in of_kind(o.docs, "ResourceQuota"):
        hard = as_map(as_map(quota.get("spec")).get("hard"))
        short = []
        for key, wanted in need.items():
            if key not in hard:
                continue
            try:
                have = parse_quantity(str(hard[key]))
            except ValueError:
                continue
            if have < wanted:
                short.append(f"{key} {hard[key]} < {wanted.normalize():f}")
        if short:
            yield o.ctx.finding(ISO_QUOTA_ROOM, f"at a rollout's peak the pods need more than the quota allows: "
                                f"{'; '.join(short)}", ref_of(quota))


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
    _check_flux_cluster_scoped,
    _check_egress,
    _check_quota_room,
)


def check_flux_tenancy(files: list[str], docs: list[tuple[str, Mapping[str, Any]]]) -> list[Finding]:
    """Controller files: a Flux Kustomization that applies a tenant overlay runs as the tenant's own account
    (ISO013), and every tenant namespace a Flux cluster's platform files create sets its Pod Security level
    (ISO010)."""
    found: list[Finding] = []
    namespaces = {(cluster_of(rel), name_of(d)): (rel, d) for rel, d in docs if d.get("kind") == "Namespace"}
    for rel, doc in docs:
        if doc.get("kind") != "Kustomization" or not str(doc.get("apiVersion", "")).startswith(
                "kustomize.toolkit.fluxcd.io/"):
            continue
        spec = as_map(doc.get("spec"))
        path = str(spec.get("path") or "").removeprefix("./").strip("/")
        parts = path.split("/")
        if len(parts) != 3 or parts[0] != layout.OVERLAYS_DIR:
            continue
        tenant, cluster = parts[1], cluster_of(rel)
        account = spec.get("serviceAccountName")
        if not account or account in CLUSTER_WIDE_ACCOUNTS:
            shown = "none (the controller's default account)" if not account else repr(account)
            found.append(finding(ISO_FLUX_ACCOUNT, f"the Kustomization applying {path} runs as {shown}, which may "
                                 "change anything in the cluster", tenant=tenant, cluster=cluster, obj=ref_of(doc),
                                 path=rel))
        ns = str(spec.get("targetNamespace") or tenant)
        if (cluster, ns) not in namespaces:
            found.append(finding(ISO_POD_SECURITY, f"nothing under clusters/{cluster}/ creates Namespace {ns!r} with "
                                 "its Pod Security level", tenant=tenant, cluster=cluster, obj=f"Namespace/{ns}",
                                 path=rel))
    for (cluster, ns), (rel, d) in namespaces.items():
        level = labels_of(d).get("pod-security.kubernetes.io/enforce")
        if level not in POD_SECURITY_LEVELS:
            shown = "is missing" if level is None else f"is {level!r}"
            found.append(finding(ISO_POD_SECURITY, f"label pod-security.kubernetes.io/enforce {shown}; tenant "
                                 "namespaces enforce at least 'baseline'", tenant=ns, cluster=cluster,
                                 obj=ref_of(d), path=rel))
    return found
