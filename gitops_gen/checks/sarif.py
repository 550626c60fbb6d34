"""SARIF 2.1.0 for GitHub code scanning: one run, the rules in the driver, a result per finding; and GitLab's
Code Quality report (a subset of Code Climate's issue format) for merge requests."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from typing import Any

from gitops_gen import __version__
from gitops_gen.checks import RULES, Finding
from gitops_gen.estate import layout

SCHEMA_URI = "https://json.schemastore.org/sarif-2.1.0.json"
_LEVEL = {"error": "error", "warning": "warning"}


def to_sarif(findings: Iterable[Finding], path_prefix: str = "", failures: Sequence[str] = ()) -> dict[str, Any]:
    """``path_prefix`` is the estate's directory inside the repository ('' at the top). ``failures`` say why
    validation could not run (all of it, or a shard): the run's invocation is then not successful and
    carries them as tool execution notifications, so an upload still gets a valid file that says so
    (SARIF 2.1.0 sections 3.20.14 executionSuccessful, the one required property of an invocation, and
    3.20.21 toolExecutionNotifications, notifications of section 3.58 whose one required property is
    ``message``)."""
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
            "invocations": [{
                "executionSuccessful": not failures,
                "toolExecutionNotifications": [{"level": "error", "message": {"text": text}} for text in failures],
            }],
            "results": results,
        }],
    }


#: Code Quality severities are info, minor, major, critical and blocker (docs.gitlab.com, "Code Quality",
#: "Code Quality report format"); an error fails validate, so it ranks above a warning.
_CODE_QUALITY_SEVERITY = {"error": "critical", "warning": "minor"}


def to_code_quality(findings: Iterable[Finding], path_prefix: str = "") -> list[dict[str, Any]]:
    """GitLab's Code Quality report (``artifacts:reports:codequality``): per finding its description,
    check_name, a fingerprint unique to it, severity and location (path, lines.begin), as GitLab documents
    the format."""
    out = []
    for f in findings:
        where = " ".join(x for x in (f.tenant and f"tenant {f.tenant}", f.cluster and f"cluster {f.cluster}",
                                     f.obj) if x)
        fingerprint = hashlib.sha256("\0".join(
            [f.rule, f.tenant or "", f.cluster or "", f.obj or "", f.path or "", f.message]).encode()).hexdigest()
        out.append({
            "description": f"{f.rule}: {f.message}{f' ({where})' if where else ''}. Fix: {f.hint}",
            "check_name": f.rule,
            "fingerprint": fingerprint,
            "severity": _CODE_QUALITY_SEVERITY[f.severity],
            "location": {"path": path_prefix + (f.path or layout.CONFIG_FILE), "lines": {"begin": 1}},
        })
    return out
