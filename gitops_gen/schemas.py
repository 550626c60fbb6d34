"""Schema validation: core kinds against the Kubernetes OpenAPI schemas (kubernetes-validate,
offline), custom kinds against the ``openAPIV3Schema`` of CRD files."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from gitops_gen import yamlio
from gitops_gen.errors import UserError

GroupVersionKind = tuple[str, str]  # (apiVersion, kind)


def load_crd_schemas(dirs: Iterable[Path]) -> dict[GroupVersionKind, dict[str, Any]]:
    """Every served version of every CRD in the YAML files of ``dirs`` (searched recursively)."""
    schemas: dict[GroupVersionKind, dict[str, Any]] = {}
    for d in dirs:
        if not d.is_dir():
            raise UserError(f"CRD directory {d} does not exist", "pass a directory holding CRD YAML files")
        for f in sorted([*d.rglob("*.yaml"), *d.rglob("*.yml")]):
            for doc in yamlio.load_all(f.read_bytes()):
                if not isinstance(doc, Mapping) or doc.get("kind") != "CustomResourceDefinition":
                    continue
                spec = doc["spec"]
                for version in spec.get("versions", []):
                    schema = (version.get("schema") or {}).get("openAPIV3Schema")
                    if version.get("served", True) and schema:
                        schemas[(f"{spec['group']}/{version['name']}", spec["names"]["kind"])] = schema
    return schemas


def custom_errors(obj: Mapping[str, Any], schema: Mapping[str, Any]) -> list[str]:
    import jsonschema

    validator = jsonschema.Draft7Validator(schema)
    return [f"{'.'.join(str(p) for p in e.absolute_path) or '(root)'}: {e.message}"
            for e in sorted(validator.iter_errors(obj), key=lambda e: list(map(str, e.absolute_path)))]


def core_errors(obj: Mapping[str, Any], kubernetes_version: str) -> list[str]:
    """Errors of a core-kind object against the Kubernetes schemas (strict: unknown fields are errors)."""
    import kubernetes_validate

    try:
        kubernetes_validate.validate(dict(obj), kubernetes_version, strict=True)
    except kubernetes_validate.ValidationError as exc:
        path = ".".join(str(p) for p in exc.path) or "(root)"
        return [f"{path}: {exc.message}"]
    return []
