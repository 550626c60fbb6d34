"""The rule registry: every rule with its id, severity, title and fix, and the findings rules report.

A ``Finding`` names its rule, the tenant and cluster, the object and the file to look at, says
what is wrong and how to fix it. Rules are registered in ``RULES`` with an id, a severity and a
one-line fix hint; ``gitops-gen validate`` documents them (``--output json`` and SARIF carry them).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Severity = Literal["error", "warning"]


@dataclass(frozen=True)
class Rule:
    id: str
    severity: Severity
    title: str
    hint: str


@dataclass(frozen=True)
class Finding:
    rule: str
    severity: Severity
    message: str
    hint: str
    tenant: str | None = None
    cluster: str | None = None
    #: "Kind/name" of the object, or None for a finding about a file or the estate.
    obj: str | None = None
    #: Repository-relative file to look at (the overlay's kustomization.yaml for rendered objects).
    path: str | None = None

    def as_json(self) -> dict[str, object]:
        return {"rule": self.rule, "severity": self.severity, "tenant": self.tenant, "cluster": self.cluster,
                "object": self.obj, "path": self.path, "message": self.message, "hint": self.hint}

    @classmethod
    def from_json(cls, d: dict[str, object]) -> Finding:
        def opt(key: str) -> str | None:
            value = d.get(key)
            return None if value is None else str(value)

        return cls(rule=str(d["rule"]), severity="error" if d["severity"] == "error" else "warning",
                   message=str(d["message"]), hint=str(d["hint"]), tenant=opt("tenant"), cluster=opt("cluster"),
                   obj=opt("object"), path=opt("path"))


RULES: dict[str, Rule] = {}


def rule(id: str, severity: Severity, title: str, hint: str) -> Rule:
    """Register a rule; ids are unique and stable (other tools and SARIF consumers rely on them)."""
    if id in RULES:
        raise ValueError(f"rule {id} registered twice")
    RULES[id] = Rule(id, severity, title, hint)
    return RULES[id]


def finding(r: Rule, message: str, *, tenant: str | None = None, cluster: str | None = None,
            obj: str | None = None, path: str | None = None) -> Finding:
    return Finding(r.id, r.severity, message, r.hint, tenant, cluster, obj, path)
