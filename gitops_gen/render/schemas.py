"""Schema validation: core kinds against the Kubernetes OpenAPI schemas shipped by
kubernetes-validate (offline), custom kinds against the ``openAPIV3Schema`` of CRD files.

Validators are built once per kind: building one costs milliseconds, using it a fraction of one.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import yaml

from gitops_gen import yamlio
from gitops_gen.errors import UserError

GroupVersionKind = tuple[str, str]  # (apiVersion, kind)
#: Kubernetes version of the core schemas unless --kubernetes-version says otherwise.
DEFAULT_KUBERNETES_VERSION = "1.31"

#: gitops-gen's own partial schema of the ExternalSecret fields it writes (external-secrets.io/v1),
#: used only when no CRD for the kind is given; unknown fields elsewhere in the object are allowed.
EXTERNAL_SECRET_V1: dict[str, Any] = {
    "type": "object",
    "required": ["apiVersion", "kind", "metadata", "spec"],
    "properties": {
        "spec": {
            "type": "object",
            "required": ["secretStoreRef"],
            "properties": {
                "refreshInterval": {"type": "string"},
                "secretStoreRef": {"type": "object", "required": ["name"], "properties": {
                    "name": {"type": "string"},
                    "kind": {"type": "string", "enum": ["SecretStore", "ClusterSecretStore"]}}},
                "target": {"type": "object", "properties": {
                    "name": {"type": "string"},
                    "creationPolicy": {"type": "string", "enum": ["Owner", "Orphan", "Merge", "None"]},
                    "deletionPolicy": {"type": "string", "enum": ["Delete", "Merge", "Retain"]}}},
                "data": {"type": "array", "items": {
                    "type": "object", "required": ["secretKey", "remoteRef"],
                    "properties": {"secretKey": {"type": "string"},
                                   "remoteRef": {"type": "object", "required": ["key"],
                                                 "properties": {"key": {"type": "string"},
                                                                "property": {"type": "string"}}}}}},
            },
        },
    },
}
BUILTIN_SCHEMAS: dict[GroupVersionKind, dict[str, Any]] = {
    ("external-secrets.io/v1", "ExternalSecret"): EXTERNAL_SECRET_V1,
}


def load_crd_schemas(dirs: Iterable[Path]) -> dict[GroupVersionKind, dict[str, Any]]:
    """Every served version of every CRD in the YAML files of ``dirs`` (searched recursively)."""
    schemas: dict[GroupVersionKind, dict[str, Any]] = {}
    for d in dirs:
        if not d.is_dir():
            raise UserError(f"CRD directory {d} does not exist",
                            "pass a directory holding CRD YAML files (--crd-dir, or 'crds' in gitops-gen.yaml)")
        for f in sorted([*d.rglob("*.yaml"), *d.rglob("*.yml")]):
            schemas.update(_crd_file_schemas(f))
    return schemas


def _crd_file_schemas(f: Path) -> dict[GroupVersionKind, dict[str, Any]]:
    """The served versions' schemas of the CRDs in one file; a file that is not YAML, or a CRD without the
    fields a CRD has (spec.group, spec.names.kind, spec.versions[].name), is a UserError naming it."""
    hint = ("put only CustomResourceDefinition YAML files there, as the project publishes them (e.g. "
            "'kubectl get crd NAME -o yaml'), or take the file out of the folder")
    try:
        docs = list(yamlio.load_all(f.read_bytes()))
    except (yaml.YAMLError, OSError, UnicodeDecodeError) as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1})" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise UserError(f"CRD file {f}{where} is not valid YAML: {problem}", hint) from None
    out: dict[GroupVersionKind, dict[str, Any]] = {}
    for i, doc in enumerate(docs):
        if not isinstance(doc, Mapping) or doc.get("kind") != "CustomResourceDefinition":
            continue
        spec = doc.get("spec")
        name = (doc.get("metadata") or {}).get("name") if isinstance(doc.get("metadata"), Mapping) else None
        what = f"CRD file {f}: document {i + 1} ({name or 'no name'})"
        if not isinstance(spec, Mapping):
            raise UserError(f"{what} has no spec", hint)
        group, names, versions = spec.get("group"), spec.get("names"), spec.get("versions")
        kind = names.get("kind") if isinstance(names, Mapping) else None
        if not isinstance(group, str) or not isinstance(kind, str) or not isinstance(versions, list):
            checks = (("spec.group", isinstance(group, str)), ("spec.names.kind", isinstance(kind, str)),
                      ("spec.versions", isinstance(versions, list)))
            missing = [n for n, ok in checks if not ok]
            raise UserError(f"{what} lacks {', '.join(missing)}", hint)
        for version in versions:
            if not isinstance(version, Mapping) or not isinstance(version.get("name"), str):
                raise UserError(f"{what}: an entry of spec.versions has no name", hint)
            schema_holder = version.get("schema")
            schema = schema_holder.get("openAPIV3Schema") if isinstance(schema_holder, Mapping) else None
            if version.get("served", True) and isinstance(schema, Mapping):
                out[(f"{group}/{version['name']}", kind)] = dict(schema)
    return out


def _format(errors: Iterable[Any]) -> list[str]:
    out = []
    for e in sorted(errors, key=lambda e: [str(p) for p in e.absolute_path]):
        path = ".".join(str(p) for p in e.absolute_path) or "(root)"
        out.append(f"{path}: {e.message}")
    return out


def custom_errors(obj: Mapping[str, Any], schema: Mapping[str, Any]) -> list[str]:
    import jsonschema

    return _format(jsonschema.Draft7Validator(schema).iter_errors(obj))


def core_errors(obj: Mapping[str, Any], kubernetes_version: str) -> list[str]:
    """Errors of one core-kind object (strict: unknown fields are errors)."""
    return SchemaValidator(kubernetes_version, []).errors(obj)[1]


def _enum_keys(schema: Any) -> frozenset[str]:
    keys: set[str] = set()
    stack: list[Any] = [schema]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            for name, prop in (node.get("properties") or {}).items():
                if isinstance(prop, dict) and ("enum" in prop or "enum" in (prop.get("items") or {})):
                    keys.add(name)
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)
    return frozenset(keys)


class SchemaValidator:
    """Validates objects of any kind; tells core, custom and unknown kinds apart."""

    def __init__(self, kubernetes_version: str, crd_dirs: Iterable[Path]) -> None:
        import kubernetes_validate.utils as kv

        self._kv = kv
        wanted = kubernetes_version.removeprefix("v")
        if not re.match(r"^\d+\.\d+(\.\d+)?$", wanted):
            raise UserError(f"--kubernetes-version {kubernetes_version!r} is not a version like 1.31",
                            "give MAJOR.MINOR, e.g. --kubernetes-version 1.31")
        versions = [v for v in kv.all_versions() if kv.major_minor(v) <= kv.major_minor(wanted)]
        if not versions:
            raise UserError(f"no Kubernetes schemas for version {kubernetes_version}",
                            f"kubernetes-validate has {', '.join(kv.all_versions())}")
        self.version = versions[-1]
        self._crd_dirs = list(crd_dirs)
        for d in self._crd_dirs:
            if not d.is_dir():
                raise UserError(f"CRD directory {d} does not exist",
                                "pass a directory holding CRD YAML files (--crd-dir, or 'crds' in gitops-gen.yaml)")
        self._custom: dict[GroupVersionKind, dict[str, Any]] | None = None
        self._validators: dict[GroupVersionKind, Any] = {}
        self._definitions: Any = None
        self._enum_keys: frozenset[str] | None = None
        #: Verdicts by (kind, shape): a tenant's objects mostly share their shape with every other's.
        self._verdicts: dict[tuple[GroupVersionKind, str], bool] = {}

    @property
    def custom(self) -> dict[GroupVersionKind, dict[str, Any]]:
        """Custom kinds' schemas, parsed on first use: CRD files are large, and a run that finds
        everything in its caches never needs them."""
        if self._custom is None:
            self._custom = {**BUILTIN_SCHEMAS, **load_crd_schemas(self._crd_dirs)}
        return self._custom

    def fingerprint(self) -> str:
        """Changes whenever a validation result could: the Kubernetes version or any CRD file."""
        h = hashlib.sha256(self.version.encode())
        h.update(json.dumps(sorted((f"{a} {k}", s) for (a, k), s in BUILTIN_SCHEMAS.items()), sort_keys=True).encode())
        for d in self._crd_dirs:
            for f in sorted([*d.rglob("*.yaml"), *d.rglob("*.yml")]):
                h.update(str(f.relative_to(d)).encode() + b"\0" + hashlib.sha256(f.read_bytes()).digest())
        return h.hexdigest()

    def _core_validator(self, api_version: str, kind: str) -> Any:
        import jsonschema
        from referencing import Registry, Resource

        schema_dir = f"v{self.version}-local-strict"
        group_version = re.sub(r"^([^./]*)(?:\.[^/]*)?/", r"\1-", api_version)
        try:
            schema = self._kv.schema_contents(
                f"kubernetes-json-schema/{schema_dir}/{kind.lower()}-{group_version}.json", self.version)
        except FileNotFoundError:
            return None
        if self._definitions is None:
            self._definitions = Resource.from_contents(self._kv.schema_contents(
                f"kubernetes-json-schema/{schema_dir}/_definitions.json", self.version))
        self._enum_keys_of(schema)
        registry = self._definitions @ (Resource.from_contents(schema) @ Registry())
        return jsonschema.validators.Draft202012Validator(schema, registry=registry)

    def _validator(self, gvk: GroupVersionKind) -> Any:
        if gvk not in self._validators:
            import jsonschema

            if gvk in self.custom:
                self._validators[gvk] = ("custom", jsonschema.Draft7Validator(self.custom[gvk]))
            else:
                core = self._core_validator(*gvk) if "." not in gvk[0].split("/")[0] or \
                    gvk[0].split("/")[0].endswith(".k8s.io") else None
                self._validators[gvk] = ("core", core) if core is not None else ("missing", None)
        return self._validators[gvk]

    def _shape(self, obj: Any, key: str = "") -> Any:
        """``obj`` with every string that no core schema constrains beyond its type replaced by "".

        The core schemas check strings only by type, except for properties with an ``enum`` (kept
        verbatim); pattern, length and uniqueness appear only in the CRD meta-schema, which is never
        shaped. Two objects of one shape therefore get the same verdict from the schema.
        """
        if isinstance(obj, str):
            return obj if key in self._enum_keys_of() else ""
        if isinstance(obj, dict):
            return {k: self._shape(v, k) for k, v in obj.items()}
        if isinstance(obj, list):
            return [self._shape(v, key) for v in obj]
        return obj

    def _enum_keys_of(self, schema: Any = None) -> frozenset[str]:
        """Property names that carry an ``enum`` in the definitions (or in ``schema``, added)."""
        if self._enum_keys is None:
            self._enum_keys = _enum_keys(self._kv.schema_contents(
                f"kubernetes-json-schema/v{self.version}-local-strict/_definitions.json", self.version))
        if schema is not None:
            self._enum_keys |= _enum_keys(schema)
        return self._enum_keys

    def errors(self, obj: Mapping[str, Any]) -> tuple[str, list[str]]:
        """("core" | "custom" | "missing", error messages) for one object."""
        gvk = (str(obj.get("apiVersion")), str(obj.get("kind")))
        what, validator = self._validator(gvk)
        if validator is None:
            return what, []
        if what != "core" or gvk[1] == "CustomResourceDefinition":
            return what, _format(validator.iter_errors(dict(obj)))
        shape = (gvk, json.dumps(self._shape(obj), sort_keys=True, separators=(",", ":")))
        if self._verdicts.get(shape) is True:
            return what, []
        errors = _format(validator.iter_errors(dict(obj)))  # messages name this object's own values
        self._verdicts[shape] = not errors
        return what, errors
