"""SARIF 2.1.0 for GitHub code scanning: one run, the rules in the driver, a result per finding."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from typing import Any

from gitops_gen import __version__
from gitops_gen.checks import RULES, Finding
from gitops_gen.estate import layout

SCHEMA_URI = "https://json.schemastore.org/sarif-2.1.0.json"
_LEVEL = {"error": "error", "warning": "warning"}


def to_sarif(findings: Iterable[Finding], path_prefix: str = "") -> dict[str, Any]:
    """``path_prefix`` is the estate's directory inside the repository ('' at the top)."""
    rules = sorted(RULES.values(), key=lambda r: r.id)
    index = {r.id: i for i, r in enumerate(rules)}
    results = []
    for f in findings:
        where = " ".join(x for x in (f.tenant and f"tenant {f.tenant}", f.cluster and f"cluster {f.cluster}",
                                     f.obj) if x)
        text = f"{f.message} ({where})" if where else f.message
        fingerprint = hashlib.sha256("\0".join(
            [f.rule, f.tenant or "", f.cluster or "", f.obj or "", f.message]).encode()).hexdigest()
        results.append({
            "ruleId": f.rule,
            "ruleIndex": index[f.rule],
            "level": _LEVEL[f.severity],
            "message": {"text": f"{text}. Fix: {f.hint}"},
            "locations": [{"physicalLocation": {
                "artifactLocation": {"uri": path_prefix + (f.path or layout.CONFIG_FILE), "uriBaseId": "%SRCROOT%"},
                "region": {"startLine": 1},
            }}],
            "partialFingerprints": {"gitopsGen/v1": fingerprint},
            "properties": {k: v for k, v in (("tenant", f.tenant), ("cluster", f.cluster), ("object", f.obj))
                           if v},
        })
    return {
        "$schema": SCHEMA_URI,
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {
                "name": "gitops-gen",
                "version": __version__,
                "rules": [{
                    "id": r.id,
                    "name": r.title.replace(" ", ""),
                    "shortDescription": {"text": r.title},
                    "help": {"text": r.hint},
                    "defaultConfiguration": {"level": _LEVEL[r.severity]},
                } for r in rules],
            }},
            "originalUriBaseIds": {"%SRCROOT%": {"description": {"text": "The estate repository's root"}}},
            "results": results,
        }],
    }
