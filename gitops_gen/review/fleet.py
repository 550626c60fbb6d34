"""A fleet change read as one change: overlays, risks and controller changes that are the same once each
tenant's own names and hosts (and each cluster's name, region and domain) are set aside are grouped, shown
once, with their tenants listed compactly."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from gitops_gen.review.controllers import ControllerChange
    from gitops_gen.review.diff import DiffResult, ObjectChange, Risk

#: kustomize's hash suffix of a generated ConfigMap or Secret name
_HASHED = re.compile(r"-[a-z0-9]{10}\b")


@dataclass(frozen=True)
class Aside:
    """What is set aside when overlays are compared: per tenant (its name, namespace and hosts) and per
    cluster (its name, region and domain), each with the placeholder that replaces it."""

    tenants: Mapping[str, tuple[tuple[str, str], ...]] = field(default_factory=dict)
    clusters: Mapping[str, tuple[tuple[str, str], ...]] = field(default_factory=dict)

    def normalise(self, text: str, tenant: str | None, cluster: str | None) -> str:
        pairs = [*(self.tenants.get(tenant or "", ()) if tenant else ()),
                 *(self.clusters.get(cluster or "", ()) if cluster else ())]
        if tenant and not self.tenants.get(tenant):
            pairs.append((tenant, "<tenant>"))
        if cluster and not self.clusters.get(cluster):
            pairs.append((cluster, "<cluster>"))
        if not pairs:
            return text
        pattern, table = _compiled(tuple(pairs))
        return pattern.sub(lambda m: table[m.group(0)], text)


@lru_cache(maxsize=4096)
def _compiled(pairs: tuple[tuple[str, str], ...]) -> tuple[re.Pattern[str], dict[str, str]]:
    table: dict[str, str] = {}
    for value, placeholder in pairs:
        if value:
            table.setdefault(value, placeholder)
    # Longest first (a host holds the tenant's name); whole words only: a tenant 'a' leaves 'data' alone.
    alternatives = "|".join(re.escape(v) for v in sorted(table, key=len, reverse=True))
    return re.compile(rf"(?<![A-Za-z0-9])(?:{alternatives})(?![A-Za-z0-9])"), table


# --------------------------------------------------------------------------- compact names

_NUMBERED = re.compile(r"^(.*?)(\d+)$")


def compact_names(names: Iterable[str], limit: int = 12) -> str:
    """'t00000..t00299, acme, globex': runs of numbered names as ranges, at most ``limit`` items."""
    items: list[str] = []
    run: list[tuple[str, int, str]] = []

    def flush() -> None:
        if not run:
            return
        if len(run) >= 3:
            items.append(f"{run[0][2]}..{run[-1][2]}")
        else:
            items.extend(r[2] for r in run)
        run.clear()

    for name in sorted(set(names), key=_name_order):
        m = _NUMBERED.match(name)
        if m and run and m.group(1) == run[-1][0] and len(m.group(2)) == len(str(run[-1][2])[len(run[-1][0]):]) \
                and int(m.group(2)) == run[-1][1] + 1:
            run.append((m.group(1), int(m.group(2)), name))
            continue
        flush()
        if m:
            run.append((m.group(1), int(m.group(2)), name))
        else:
            items.append(name)
    flush()
    if len(items) > limit:
        return ", ".join(items[:limit]) + f" and {len(items) - limit:,} more"
    return ", ".join(items)


def _name_order(name: str) -> tuple[str, int, str]:
    m = _NUMBERED.match(name)
    return (m.group(1), int(m.group(2)), name) if m else (name, -1, name)


def overlay_summary(overlays: Sequence[tuple[str, str]]) -> str:
    """'900 overlays (300 tenants × 3 clusters)', '1 overlay (acme on eu-west-1)'."""  # noqa: RUF002
    tenants = sorted({t for t, _ in overlays})
    clusters = sorted({c for _, c in overlays})
    n = len(overlays)
    if n == 1:
        return f"1 overlay ({overlays[0][0]} on {overlays[0][1]})"
    noun_t = f"{len(tenants):,} tenant{'s' if len(tenants) != 1 else ''}"
    noun_c = f"{len(clusters):,} cluster{'s' if len(clusters) != 1 else ''}"
    if n == len(tenants) * len(clusters):
        return f"{n:,} overlays ({noun_t} × {noun_c})"  # noqa: RUF001
    return f"{n:,} overlays ({noun_t} on {noun_c})"


def who(overlays: Sequence[tuple[str, str]], limit: int = 12) -> str:
    """The overlays, compactly: 't00000..t00299 on eu-west-1, us-east-1; acme on eu-west-1'."""
    by_tenants: dict[tuple[str, ...], list[str]] = {}
    per_cluster: dict[str, list[str]] = {}
    for t, c in overlays:
        per_cluster.setdefault(c, []).append(t)
    for c, ts in sorted(per_cluster.items()):
        by_tenants.setdefault(tuple(sorted(ts)), []).append(c)
    return "; ".join(f"{compact_names(ts, limit)} on {', '.join(cs)}" for ts, cs in by_tenants.items())


# --------------------------------------------------------------------------- overlay groups

@dataclass
class OverlayGroup:
    overlays: list[tuple[str, str]]
    state: str
    counts: dict[str, int]
    objects: list[ObjectChange]  #: the first overlay's, as shown
    headline: str

    @property
    def shown_for(self) -> tuple[str, str]:
        return self.overlays[0]


def object_line(o: ObjectChange) -> str:
    extra = ""
    if o.renamed_from:
        extra += f" (renamed from {o.renamed_from})"
    if o.secret_keys:
        extra += f" (keys changed: {', '.join(o.secret_keys)}; values are never shown)"
    return f"{o.change} {o.kind}/{o.name}{extra}"


def _changed_values(diff: str) -> list[str]:
    """'image: a → b' for each line a diff replaces with one of the same key."""
    out: list[str] = []
    minus: list[str] = []
    plus: list[str] = []

    def pair() -> None:
        for a, b in zip(minus, plus, strict=False):
            ka, _, va = a.strip().removeprefix("- ").partition(":")
            kb, _, vb = b.strip().removeprefix("- ").partition(":")
            if ka == kb and va.strip() != vb.strip():
                line = f"{ka.strip()}: {va.strip() or '(empty)'} → {vb.strip() or '(empty)'}"
                if line not in out:
                    out.append(line)
        minus.clear()
        plus.clear()

    for line in diff.splitlines():
        if line.startswith(("---", "+++", "@@")):
            pair()
        elif line.startswith("-"):
            if plus:
                pair()
            minus.append(line[1:])
        elif line.startswith("+"):
            plus.append(line[1:])
        else:
            pair()
    pair()
    return out


def headline(objects: Sequence[ObjectChange], counts: Mapping[str, int], state: str) -> str:
    if state in ("added", "removed"):
        return f"overlay {state}: {counts['added'] if state == 'added' else counts['removed']} objects"
    values: list[str] = []
    for o in objects:
        for v in _changed_values(o.diff):
            if v not in values:
                values.append(v)
    renamed = [o for o in objects if o.renamed_from]
    if values:
        text = "; ".join(values[:3]) + (f" and {len(values) - 3} more changes" if len(values) > 3 else "")
    else:
        text = f"{counts['added']} added, {counts['changed']} changed, {counts['removed']} removed"
    if renamed and values:
        text += f" ({len(renamed)} generated name{'s' if len(renamed) != 1 else ''} renamed)"
    return text


def _hides_a_change(normalised: str) -> bool:
    """Whether setting names aside made a removed line equal an added one: the change is in those names."""
    removed = {line[1:] for line in normalised.splitlines() if line.startswith("-") and not line.startswith("---")}
    return any(line[1:] in removed for line in normalised.splitlines()
               if line.startswith("+") and not line.startswith("+++"))


def overlay_groups(result: DiffResult) -> list[OverlayGroup]:
    """Overlays whose changes are the same once their own names and hosts are set aside, grouped, in the
    order of their first overlay."""
    states = {(t, c): s for t, c, s in result.overlays}
    by_overlay: dict[tuple[str, str], list[ObjectChange]] = {}
    for o in result.objects:
        by_overlay.setdefault((o.tenant, o.cluster), []).append(o)
    groups: dict[str, OverlayGroup] = {}
    for (tenant, cluster), counts in result.touched().items():
        objects = by_overlay.get((tenant, cluster), [])
        state = states.get((tenant, cluster), "changed")
        text = "\n".join([state, *(_HASHED.sub("-<hash>", object_line(o)) for o in objects),
                          *(o.diff for o in objects)])
        key = result.aside.normalise(text, tenant, cluster)
        if _hides_a_change(key):
            key = f"{tenant}/{cluster}"  # its change is in the very strings set aside: shown on its own
        group = groups.get(key)
        if group is None:
            groups[key] = OverlayGroup([(tenant, cluster)], state, counts, objects,
                                       headline(objects, counts, state))
        else:
            group.overlays.append((tenant, cluster))
    return list(groups.values())


# --------------------------------------------------------------------------- risk groups

@dataclass
class RiskGroup:
    severity: str
    id: str
    risks: list[Risk]

    @property
    def first(self) -> Risk:
        return self.risks[0]

    def where(self, limit: int = 12) -> str:
        placed = [(r.tenant, r.cluster) for r in self.risks if r.tenant and r.cluster]
        tenants = sorted({r.tenant for r in self.risks if r.tenant and not r.cluster})
        clusters = sorted({r.cluster for r in self.risks if r.cluster and not r.tenant})
        parts = []
        if placed:
            parts.append(who([(t, c) for t, c in placed if t and c], limit))
        if tenants:
            parts.append(f"tenant{'s' if len(tenants) != 1 else ''} {compact_names(tenants, limit)}")
        if clusters:
            parts.append(f"cluster{'s' if len(clusters) != 1 else ''} {', '.join(clusters)}")
        return "; ".join(parts)


def risk_groups(result: DiffResult) -> list[RiskGroup]:
    """Risks of one kind whose messages are the same once the tenant's and cluster's own names are set
    aside, grouped; ordered as the risks are (severity first)."""
    groups: dict[tuple[str, str, str], RiskGroup] = {}
    for r in result.risks:
        key = (r.severity, r.id, result.aside.normalise(r.message, r.tenant, r.cluster))
        groups.setdefault(key, RiskGroup(r.severity, r.id, [])).risks.append(r)
    return list(groups.values())


# --------------------------------------------------------------------------- controller groups

@dataclass
class ControllerGroup:
    changes: list[ControllerChange]

    @property
    def first(self) -> ControllerChange:
        return self.changes[0]

    def where(self) -> str:
        placed = [(c.tenant, c.cluster) for c in self.changes if c.tenant and c.cluster]
        return who(placed) if placed else ", ".join(c.key for c in self.changes[:5])


def controller_groups(result: DiffResult) -> list[ControllerGroup]:
    groups: dict[str, ControllerGroup] = {}
    for c in result.controllers:
        text = "\n".join([c.kind, c.change, *(f"{f}\x00{o}\x00{n}" for f, o, n in c.fields), c.key])
        key = result.aside.normalise(text, c.tenant, c.cluster)
        groups.setdefault(key, ControllerGroup([])).changes.append(c)
    return list(groups.values())


# --------------------------------------------------------------------------- platform object groups

@dataclass
class PlatformGroup:
    objects: list[ObjectChange]

    @property
    def first(self) -> ObjectChange:
        return self.objects[0]


def platform_groups(result: DiffResult) -> list[PlatformGroup]:
    norm = result.aside.normalise
    groups: dict[str, PlatformGroup] = {}
    for o in result.platform:
        key = norm(f"{object_line(o)}\n{o.diff}", o.tenant or None, o.cluster or None)
        groups.setdefault(key, PlatformGroup([])).objects.append(o)
    return list(groups.values())
