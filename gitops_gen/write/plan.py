"""Desired files against what is there (a commit's tree or the work tree): the changes a command makes."""

from __future__ import annotations

import os
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from gitops_gen.atomic import temporary_of
from gitops_gen.errors import UserError
from gitops_gen.estate.layout import is_declaration
from gitops_gen.estate.source import refuse_symlinks
from gitops_gen.generate import is_generated, is_hand_edited
from gitops_gen.generate.overlay import volume_change_problems

Action = Literal["create", "update", "delete"]


@dataclass(frozen=True)
class Change:
    path: str
    action: Action
    content: str | None = None
    #: Why an existing file changes: "stale" (declarations changed), "hand-edited", "unmanaged"
    #: (a file gitops-gen did not write sits where it would write), or "declaration" (a command that
    #: edits a declaration: tenant.yaml, cluster.yaml, gitops-gen.yaml).
    reason: str = ""


@dataclass
class Plan:
    changes: list[Change] = field(default_factory=list)
    #: Temporary files of an interrupted gitops-gen found beside derived files (removed when applied).
    leftovers: list[str] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not self.changes

    @property
    def paths(self) -> list[str]:
        return [c.path for c in self.changes]

    def as_json(self) -> list[dict[str, str]]:
        return [{"path": c.path, "action": c.action, **({"reason": c.reason} if c.reason else {})}
                for c in self.changes]


def _decode(data: bytes | None) -> str | None:
    if data is None:
        return None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return ""


def plan_against(read: Callable[[str], bytes | None], desired: Mapping[str, str]) -> Plan:
    """Changes turning what ``read`` returns (None: no such file) into ``desired``."""
    plan = Plan()
    for rel in sorted(desired):
        current = _decode(read(rel))
        if current is None:
            plan.changes.append(Change(rel, "create", desired[rel]))
        elif current != desired[rel]:
            if is_declaration(rel):
                reason = "declaration"  # edited on purpose by a lifecycle command, in place
            elif not is_generated(current):
                reason = "unmanaged"
            elif is_hand_edited(current):
                reason = "hand-edited"
            else:
                reason = "stale"
            plan.changes.append(Change(rel, "update", desired[rel], reason))
    return plan


def refuse_immutable(plan: Plan, read: Callable[[str], bytes | None]) -> None:
    """Refuse a plan that would change, on objects a controller has already applied, a field the API
    server never lets change: a volume's size downwards or its storage class."""
    problems: list[str] = []
    for c in plan.changes:
        parts = c.path.split("/")
        if c.action != "update" or c.content is None or len(parts) != 4 or parts[0] != "overlays" \
                or parts[3] != "kustomization.yaml":
            continue
        before = _decode(read(c.path))
        if before:
            problems += volume_change_problems("/".join(parts[:3]), before, c.content)
    if problems:
        raise UserError("the change would alter volumes the cluster refuses to alter:\n    " + "\n    ".join(problems),
                        "nothing was written; change the declaration as the message says, then run the command "
                        "again")


def _read_file(root: Path, rel: str) -> bytes | None:
    refuse_symlinks(root, rel)
    try:
        return (root / rel).read_bytes()
    except (FileNotFoundError, NotADirectoryError):
        return None
    except IsADirectoryError:
        raise UserError(f"{rel} is a directory where gitops-gen writes a file",
                        "move it away (it is not one of gitops-gen's), then run the command again") from None


def plan_files(root: Path, desired: Mapping[str, str], orphans_under: Iterable[str] = (),
               keep: Collection[str] = (), orphans_of: Callable[[str], bool] | None = None) -> Plan:
    """Changes turning the work tree into ``desired``; derived files under ``orphans_under`` that
    neither ``desired`` nor ``keep`` contains are deleted (files gitops-gen did not write never are).
    Our own temporary files there, beside a file gitops-gen writes, are not orphans: they are listed as
    leftovers. ``orphans_of``, when given, limits the orphans looked at to the paths it accepts (a
    validate shard looks at its own tenants' files)."""
    plan = plan_against(lambda rel: _read_file(root, rel), desired)
    for top in orphans_under:
        for rel in sorted(_walk(root, top)):
            if orphans_of is not None and not orphans_of(rel):
                continue
            parent, _, name = rel.rpartition("/")
            of = temporary_of(name)
            if of is not None and f"{parent}/{of}" in desired:
                plan.leftovers.append(rel)
                continue
            if rel in desired or rel in keep:
                continue
            text = _decode(_read_file(root, rel))
            if text is not None and is_generated(text):
                plan.changes.append(Change(rel, "delete", None, "orphaned"))
    return plan


def _walk(root: Path, top: str) -> Iterable[str]:
    base = root / top
    refuse_symlinks(root, top)
    if not base.is_dir():
        return
    for dirpath, dirnames, filenames in os.walk(base):
        dirnames[:] = [d for d in dirnames if not d.startswith(".")]
        rel_dir = os.path.relpath(dirpath, root).replace(os.sep, "/")
        for d in dirnames:
            if os.path.islink(os.path.join(dirpath, d)):
                refuse_symlinks(root, f"{rel_dir}/{d}")
        for f in filenames:
            yield f"{rel_dir}/{f}"
