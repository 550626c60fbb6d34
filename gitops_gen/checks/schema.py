"""Schema rules (SCHEMA001-SCHEMA003, YAML001): every object against the Kubernetes or CRD schema of its
kind, and every controller file readable as YAML."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from gitops_gen import yamlio
from gitops_gen.checks.cache import FindingsCache
from gitops_gen.checks.objects import repository_files
from gitops_gen.checks.registry import Finding, finding, rule
from gitops_gen.estate import layout
from gitops_gen.render.schemas import SchemaValidator

SCHEMA_CORE = rule("SCHEMA001", "error", "Object does not match the Kubernetes schema",
                   "fix the field named in the message; kubectl would reject the object")
SCHEMA_CUSTOM = rule("SCHEMA002", "error", "Custom resource does not match its CRD schema",
                     "fix the field named in the message; the API server would reject the object")
SCHEMA_MISSING = rule("SCHEMA003", "warning", "No schema for a custom kind",
                      "pass its CRD file with --crd-dir or list the folder under 'crds' in gitops-gen.yaml")
YAML_INVALID = rule("YAML001", "error", "File is not valid YAML",
                    "fix the YAML syntax at the line named; the controller cannot read the file either")


def _object_name(doc: Mapping[str, Any]) -> str:
    return f"{doc.get('kind')}/{(doc.get('metadata') or {}).get('name')}"


def schema_findings(validator: SchemaValidator, docs: Iterable[Mapping[str, Any]], tenant: str | None,
                     cluster: str | None, path: str) -> list[Finding]:
    out: list[Finding] = []
    missing: set[str] = set()
    for doc in docs:
        what, errors = validator.errors(doc)
        if what == "missing":
            gvk = f"{doc.get('apiVersion')} {doc.get('kind')}"
            if gvk not in missing:
                missing.add(gvk)
                out.append(finding(SCHEMA_MISSING, f"no schema for {gvk}: it is not checked", tenant=tenant,
                                   cluster=cluster, obj=_object_name(doc), path=path))
            continue
        rule = SCHEMA_CORE if what == "core" else SCHEMA_CUSTOM
        out.extend(finding(rule, e, tenant=tenant, cluster=cluster, obj=_object_name(doc), path=path)
                   for e in errors[:5])
    return out


def controller_findings(root: Path, validator: SchemaValidator, cache: FindingsCache, context: str,
                        include: Callable[[str], bool] | None = None,
                        files: Sequence[str] | None = None) -> list[Finding]:
    """Schema findings for the objects in the YAML files under clusters/ and argocd/, and a finding
    per unreadable file; a file whose bytes did not change since the last run is not parsed again.
    ``include``, when given, limits them to the files it accepts (a validate shard's). ``files``: the
    repository's files (``repository_files``), when the caller has listed them already."""
    if files is None:
        files = repository_files(root)
    tops = (f"{layout.CLUSTERS_DIR}/", f"{layout.ARGOCD_DIR}/")
    out: list[Finding] = []
    for rel in files:
        if not rel.startswith(tops) or not rel.endswith((".yaml", ".yml")) or rel.endswith("/cluster.yaml"):
            continue
        if include is not None and not include(rel):
            continue
        try:
            data = (root / rel).read_bytes()
        except OSError:
            continue  # a link to a directory, or a file gone since it was listed
        key = hashlib.sha256(context.encode() + data).hexdigest()
        hit = cache.get(f"file:{rel}", key)
        if hit is None:
            found = _file_schema_findings(rel, data, validator)
            hit = {"key": key, "findings": [x.as_json() for x in found]}
            cache.put(f"file:{rel}", hit)
        out.extend(Finding.from_json(x) for x in hit["findings"])
    return out


def _file_schema_findings(rel: str, data: bytes, validator: SchemaValidator) -> list[Finding]:
    try:
        docs = [d for d in yamlio.load_all(data) if isinstance(d, dict) and "kind" in d and "apiVersion" in d]
    except Exception as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or type(exc).__name__
        return [finding(YAML_INVALID, f"{rel} is not valid YAML{where}: {problem}", path=rel)]
    cluster = rel.split("/")[1] if rel.startswith(f"{layout.CLUSTERS_DIR}/") else None
    return schema_findings(validator, docs, None, cluster, rel)
