"""Secret rules (SEC001-SEC004): no Secret value in git, no password, connection string or key as a literal,
every placement reads its own keys of the external store and no other tenant's."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from gitops_gen import yamlio
from gitops_gen.checks.objects import Overlay, as_list, as_map, name_of, of_kind, ref_of
from gitops_gen.checks.registry import Finding, finding, rule
from gitops_gen.estate import layout
from gitops_gen.estate.load import Estate, remote_key_base

SEC_SECRET_IN_GIT = rule(
    "SEC001", "error", "Secret value written to git",
    "reference the secret instead (an ExternalSecret, or a pre-provisioned Secret) and remove the value from "
    "git history")


SEC_LITERAL = rule(
    "SEC002", "error", "Password, key or connection string as a literal in a ConfigMap or env",
    "move the value to a Secret and read it through '<NAME>_FILE' or valueFrom.secretKeyRef")


SEC_SHARED_KEY = rule(
    "SEC003", "error", "Two placements read the same key of the external secret store",
    "give every placement its own key, '<keyPrefix>/<tenant>/<cluster>' ('gitops-gen generate' writes them): "
    "two instances sharing a key share one encryption key, one licence and one connection string")


SEC_FOREIGN_KEY = rule(
    "SEC004", "error", "ExternalSecret reads outside the placement's own keys",
    "read only '<keyPrefix>/<tenant>/<cluster>' (or below a secrets.remoteKey inside the tenant's prefix), by "
    "name: never another tenant's key, and no dataFrom.find, which searches the whole store")


SEC_OUTSIDE = rule(
    "SEC005", "error", "Overlay build reaches outside the repository",
    "reference only files and directories of the repository by relative path: no URL, no remote base, no "
    "Helm chart, no KRM function, no path or link leading outside; the overlay is not built until then")


_SECRET_NAME = re.compile(r"PASSWORD|PASSWD|CONNECTION_STRING|SECRET|TOKEN|PRIVATE_KEY|ENCRYPT|MACHINE_KEY|API_KEY",
                          re.IGNORECASE)


_CONNECTION_SECRET = re.compile(r"password\s*=|pwd\s*=", re.IGNORECASE)


#: Values that are switches, not secrets (e.g. WFGEN_GEN_APP_SYM_ENCRYPT_KEY=N).
_FLAG_VALUES = frozenset({"", "y", "n", "yes", "no", "true", "false", "on", "off"})


def _has_values(doc: Mapping[str, Any]) -> bool:
    return bool(as_map(doc.get("data")) or as_map(doc.get("stringData")))


def _check_rendered_secrets(o: Overlay) -> Iterator[Finding]:
    for s in of_kind(o.docs, "Secret"):
        if _has_values(s):
            keys = [*as_map(s.get("data")), *as_map(s.get("stringData"))]
            yield o.ctx.finding(SEC_SECRET_IN_GIT, f"rendered Secret carries values ({', '.join(map(str, keys))}): "
                                "they come from git", ref_of(s))


def literal_secret(name: str, value: Any) -> str | None:
    """Why ``name=value`` (a ConfigMap entry or an env literal) is a secret written as a literal, or None."""
    return _literal_secret(name, value)


def _literal_secret(name: str, value: Any) -> str | None:
    """Why ``name=value`` is a secret written as a literal, or None."""
    if value is None or isinstance(value, (Mapping, list)):
        return None
    text = str(value).strip()
    if _CONNECTION_SECRET.search(text):
        return f"{name} holds a connection string with a password"
    if name.upper().endswith("_FILE") or text.lower() in _FLAG_VALUES:
        return None
    if _SECRET_NAME.search(name):
        return f"{name} looks like a secret and has a literal value"
    return None


def _check_literals(o: Overlay) -> Iterator[Finding]:
    for cm in of_kind(o.docs, "ConfigMap"):
        problems = [p for k, v in as_map(cm.get("data")).items() if (p := _literal_secret(str(k), v))]
        if problems:
            yield o.ctx.finding(SEC_LITERAL, "; ".join(problems), ref_of(cm))
    for pod in o.pods:
        problems = [f"{c.get('name')}: {p}" for c in pod.containers() for e in as_list(c.get("env"))
                    if "value" in as_map(e)
                    and (p := _literal_secret(str(as_map(e).get("name")), as_map(e).get("value")))]
        if problems:
            yield o.ctx.finding(SEC_LITERAL, f"literal env: {'; '.join(problems)}", pod.ref)


def remote_reads(docs: Iterable[Mapping[str, Any]]) -> Iterator[tuple[Mapping[str, Any], str | None, str]]:
    """(ExternalSecret, key or None for a search, store) of every read of the external store in ``docs``;
    the store is 'Kind/name', with the spec of a SecretStore rendered alongside (two namespaced stores of
    the same spec are one backend)."""
    stores = {name_of(d): d for d in docs if d.get("kind") == "SecretStore"}
    for es in (d for d in docs if d.get("kind") == "ExternalSecret"):
        spec = as_map(es.get("spec"))
        ref = as_map(spec.get("secretStoreRef"))
        kind, name = str(ref.get("kind") or "SecretStore"), str(ref.get("name") or "")
        store = f"{kind}/{name}"
        if kind == "SecretStore" and name in stores:
            store += " " + json.dumps(stores[name].get("spec"), sort_keys=True, default=str)
        for item in (as_map(x) for x in as_list(spec.get("data"))):
            key = as_map(item.get("remoteRef")).get("key")
            if key is not None:
                yield es, str(key), store
        for item in (as_map(x) for x in as_list(spec.get("dataFrom"))):
            if "find" in item:
                yield es, None, store
            key = as_map(item.get("extract")).get("key")
            if key is not None:
                yield es, str(key), store


def _check_own_keys(o: Overlay) -> Iterator[Finding]:
    own = f"{remote_key_base(o.ctx.config, o.ctx.tenant)}/{o.ctx.cluster.name}"
    for es, key, _ in remote_reads(o.docs):
        if key is None:
            yield o.ctx.finding(SEC_FOREIGN_KEY, "dataFrom.find searches the store by name or tag: it reads other "
                                f"tenants' secrets as soon as one matches; read keys below {own!r} by name",
                                ref_of(es))
        elif key != own and not key.startswith(own + "/"):
            yield o.ctx.finding(SEC_FOREIGN_KEY, f"reads remote key {key!r}, outside this placement's own {own!r}",
                                ref_of(es))


def check_secret_keys(estate: Estate, reads: Mapping[str, Sequence[Sequence[str]]]) -> list[Finding]:
    """Remote keys across overlays (keys ``overlays/<tenant>/<cluster>``, values [store, key, object]
    triples): no two placements read the same key of the same store (SEC003)."""
    readers: dict[tuple[str, str], list[tuple[str, str]]] = {}
    for overlay in sorted(reads):
        for store, key, obj in reads[overlay]:
            entry = (overlay, obj)
            if not any(o == overlay for o, _ in readers.setdefault((store, key), [])):
                readers[(store, key)].append(entry)
    findings: list[Finding] = []
    for (store, key), entries in sorted(readers.items()):
        if len(entries) < 2:
            continue
        names = [o.removeprefix(layout.OVERLAYS_DIR + "/") for o, _ in entries]
        for overlay, obj in entries:
            _, tenant, cluster = overlay.split("/")[:3]
            others = [n for n in names if n != overlay.removeprefix(layout.OVERLAYS_DIR + "/")]
            findings.append(finding(SEC_SHARED_KEY, f"remote key {key!r} of {store.split(' ')[0]} is also read by "
                                    f"{', '.join(others)}", tenant=tenant, cluster=cluster, obj=obj,
                                    path=f"{overlay}/kustomization.yaml"))
    return findings


def _owner_of(rel: str) -> tuple[str | None, str | None]:
    parts = rel.split("/")
    if parts[0] == layout.OVERLAYS_DIR and len(parts) > 2:
        return parts[1], (parts[2] if len(parts) > 3 else None)
    if parts[0] == layout.CLUSTERS_DIR and len(parts) > 2:
        return None, parts[1]
    return None, None


#: Cheap pre-filter: a document of kind Secret (not ExternalSecret, SecretStore) or a secretGenerator.
_MAY_HOLD_SECRETS = re.compile(rb"\bkind[\"']?\s*:\s*[\"']?Secret\b(?![-.])|secretGenerator")


def check_repository_secrets(root: Path, files: Iterable[str]) -> list[Finding]:
    """SEC001 over repository YAML files: a Secret with data or stringData, or a kustomize secretGenerator
    with literals, files or envs, writes a secret value into git."""
    findings: list[Finding] = []
    for rel in files:
        try:
            data = (root / rel).read_bytes()
        except OSError:
            continue
        if not _MAY_HOLD_SECRETS.search(data):
            continue  # e.g. ExternalSecrets: references, and most of the estate's files
        try:
            docs = list(yamlio.load_all(data))
        except Exception:  # not YAML: the schema stage reports it
            continue
        tenant, cluster = _owner_of(rel)
        objects = [d for d in docs if isinstance(d, Mapping)]
        objects += [as_map(i) for d in objects if d.get("kind") == "List" for i in as_list(d.get("items"))]
        for d in objects:
            if d.get("kind") == "Secret" and _has_values(d):
                keys = [*as_map(d.get("data")), *as_map(d.get("stringData"))]
                findings.append(finding(
                    SEC_SECRET_IN_GIT, f"Secret carries values in git ({', '.join(map(str, keys))})",
                    tenant=tenant, cluster=cluster, obj=ref_of(d), path=rel))
            for gen in (as_map(g) for g in as_list(d.get("secretGenerator"))):
                sources = [k for k in ("literals", "files", "envs") if as_list(gen.get(k))]
                if sources:
                    findings.append(finding(
                        SEC_SECRET_IN_GIT, f"secretGenerator {gen.get('name')!r} takes values from git "
                        f"({', '.join(sources)})", tenant=tenant, cluster=cluster, obj=f"Secret/{gen.get('name')}",
                        path=rel))
    return findings


#: This family's checks of one overlay's rendered objects, run by ``checks.check_overlay``.
OVERLAY_CHECKS = (
    _check_rendered_secrets, _check_literals, _check_own_keys,
)
