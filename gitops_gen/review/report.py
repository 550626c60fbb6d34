"""Reports of a diff: a pull-request comment in markdown, JSON with documented fields, plain text."""

from __future__ import annotations

from typing import TYPE_CHECKING

from gitops_gen.review.fleet import (
    ControllerGroup,
    OverlayGroup,
    PlatformGroup,
    RiskGroup,
    controller_groups,
    object_line,
    overlay_groups,
    overlay_summary,
    platform_groups,
    risk_groups,
    who,
)

if TYPE_CHECKING:
    from gitops_gen.review.diff import DiffResult, Risk

#: Default size a markdown report is cut to: under GitHub's 65,536-character limit on a pull request body.
DEFAULT_MAX_BYTES = 60_000

SEVERITY_MARK = {"high": "HIGH", "medium": "MEDIUM", "low": "low"}


def json_summary(result: DiffResult) -> dict[str, int]:
    touched = result.touched()
    return {
        "overlays": len(touched),
        "tenants": len({t for t, _ in touched}),
        "added": sum(1 for o in result.objects if o.change == "added"),
        "changed": sum(1 for o in result.objects if o.change == "changed"),
        "removed": sum(1 for o in result.objects if o.change == "removed"),
        "risks": len(result.risks),
        "controllers": len(result.controllers),
        "platform": len(result.platform),
        "clusters": len(result.clusters),
    }


def as_json(result: DiffResult) -> dict[str, object]:
    return {
        "version": 1,
        "base": result.base,
        "head": result.head,
        "summary": json_summary(result),
        "rendering": {"compared": result.compared, "built": result.built},
        "risks": [r.as_json() for r in result.risks],
        "controllers": [{"kind": c.kind, "key": c.key, "change": c.change, "tenant": c.tenant, "cluster": c.cluster,
                         "fields": [{"field": f, "old": o, "new": n} for f, o, n in c.fields]}
                        for c in result.controllers],
        "overlays": [{"tenant": t, "cluster": c, "change": s} for t, c, s in result.overlays],
        "objects": [o.as_json() for o in result.objects],
        "clusters": [{"name": c.name, "change": c.change,
                      "fields": [{"field": f, "old": o, "new": n} for f, o, n in c.fields]} for c in result.clusters],
        "platform": [o.as_json() for o in result.platform],
        # The same change once: overlays whose changes differ only in their own names and hosts, with the
        # objects of the first of them; risks of one kind and one message (names set aside).
        "groups": [{"headline": g.headline, "change": g.state, "overlays": [list(x) for x in g.overlays],
                    "summary": overlay_summary(g.overlays), "shownFor": list(g.shown_for), "counts": g.counts,
                    "objects": [o.as_json() for o in g.objects]} for g in overlay_groups(result)],
        "riskGroups": [{"severity": g.severity, "id": g.id, "count": len(g.risks), "message": g.first.message,
                        "where": g.where()} for g in risk_groups(result)],
    }


def _where(r: Risk) -> str:
    return " / ".join(x for x in (r.tenant, r.cluster) if x)


def _risk_line(g: RiskGroup, markdown: bool) -> str:
    r = g.first
    where = _where(r)
    if len(g.risks) == 1:
        head = (f"**{SEVERITY_MARK[r.severity]}** `{r.id}`" if markdown else f"{SEVERITY_MARK[r.severity]:6} {r.id}")
        return f"{head}{f' {where}' if where else ''}: {r.message}"
    scope = overlay_summary([(x.tenant, x.cluster) for x in g.risks if x.tenant and x.cluster]) \
        if all(x.tenant and x.cluster for x in g.risks) else f"{len(g.risks):,}"
    head = (f"**{SEVERITY_MARK[r.severity]}** `{r.id}` ×{len(g.risks):,}" if markdown  # noqa: RUF001
            else f"{SEVERITY_MARK[r.severity]:6} {r.id} x{len(g.risks):,}")
    return (f"{head} in {scope}: {r.message} (said for {where}; the same for the others: {g.where()})"
            if " overlays (" in scope else f"{head}: {r.message} (said for {where}; also: {g.where()})")


def _controller_line(g: ControllerGroup, arrow: str) -> tuple[str, str, str, str]:
    c = g.first
    details = "; ".join(f"{f}: {o or '-'} {arrow} {n or '-'}" for f, o, n in c.fields)
    if len(g.changes) == 1:
        return c.kind, c.key, c.change, details
    return (f"{c.kind} ×{len(g.changes):,}", f"{c.key} and {len(g.changes) - 1:,} more ({g.where()})",  # noqa: RUF001
            c.change, f"{details} (shown for {c.key})")


def _group_title(g: OverlayGroup) -> str:
    if len(g.overlays) == 1:
        t, c = g.shown_for
        return f"{t} on {c}: {g.headline}"
    return f"{g.headline} in {overlay_summary(g.overlays)}"


def _group_body(g: OverlayGroup, diffs: bool = True) -> str:
    lines: list[str] = []
    if len(g.overlays) > 1:
        t, c = g.shown_for
        lines += [f"Overlays: {who(g.overlays)}.", "",
                  f"Shown for {t} on {c}; the others differ only in their own names and hosts.", ""]
    counts = g.counts
    lines.append(f"overlay {g.state}; {counts['added']} added, {counts['changed']} changed, "
                 f"{counts['removed']} removed")
    lines += [f"- {object_line(o)}" for o in g.objects]
    text = "".join(o.diff for o in g.objects if o.diff)
    if diffs and text:
        lines += ["", "```diff", text.rstrip("\n"), "```"]
    return "\n".join(lines)


def _platform_title(g: PlatformGroup) -> str:
    o = g.first
    what = f"{o.change} {o.kind}/{o.name}"
    return what if len(g.objects) == 1 else f"{what} and {len(g.objects) - 1:,} more the same"


def _platform_body(g: PlatformGroup, diffs: bool = True) -> str:
    lines = [f"- {object_line(o)}" for o in g.objects[:20]]
    if len(g.objects) > 20:
        lines.append(f"- and {len(g.objects) - 20:,} more")
    if diffs and g.first.diff:
        lines += ["", "```diff", g.first.diff.rstrip("\n"), "```"]
    return "\n".join(lines)


def _cell(value: str) -> str:
    return value.replace("|", "\\|").replace("\n", " ")


class _Budget:
    """Lines up to a byte limit; what does not fit is counted, never half-written."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.used = 0
        self.lines: list[str] = []
        self.cut: dict[str, int] = {}

    def fits(self, text: str) -> bool:
        return self.used + len(text.encode()) + 1 <= self.limit

    def add(self, text: str, part: str = "") -> bool:
        if not self.fits(text):
            if part:
                self.cut[part] = self.cut.get(part, 0) + 1
            return False
        self.lines.append(text)
        self.used += len(text.encode()) + 1
        return True


def _summary_line(result: DiffResult) -> str:
    summary = json_summary(result)
    kinds = len({r.id for r in result.risks})
    risks = _n(summary["risks"], "risk") + (f" of {_n(kinds, 'kind')}" if summary["risks"] > 1 else "")
    return (f"{_n(summary['tenants'], 'tenant')}, {_n(summary['overlays'], 'overlay')}: "
            f"{_n(summary['added'], 'object')} added, {summary['changed']:,} changed, {summary['removed']:,} removed; "
            f"{risks}; {_n(summary['controllers'], 'Application or Kustomization', 'Applications or Kustomizations')}"
            f" added, removed or changed; {_n(len(result.platform), 'controller object')} and "
            f"{_n(len(result.clusters), 'cluster')} changed.")


def _head_blocks(result: DiffResult, out: _Budget, compact_risks: bool = False) -> None:
    """Summary, risks, clusters, controllers, platform objects and the table of groups."""
    out.add(_summary_line(result))
    out.add("")
    out.add("### Risks")
    out.add("")
    groups = risk_groups(result)
    for g in groups:
        line = f"- {_risk_line(g, True)}"
        if compact_risks and len(line) > 400:
            line = line[:397] + "..."
        out.add(line, "risks")
    if not result.risks:
        out.add("None found.")
    out.add("")
    if result.clusters:
        out.add("### Clusters")
        out.add("")
        out.add("| cluster | change | settings |")
        out.add("| --- | --- | --- |")
        for c in result.clusters:
            details = "; ".join(f"{f}: {o or '-'} → {n or '-'}" if c.change == "changed" else f"{f}: {n or o}"
                                for f, o, n in c.fields)
            out.add(f"| {c.name} | {c.change} | {_cell(details)} |", "cluster rows")
        out.add("")
    if result.controllers:
        out.add("### Argo CD Applications and Flux Kustomizations")
        out.add("")
        out.add("| kind | name | change | details |")
        out.add("| --- | --- | --- | --- |")
        for cg in controller_groups(result):
            kind, key, change, details = _controller_line(cg, "→")
            out.add(f"| {kind} | {_cell(key)} | {change} | {_cell(details)} |", "controller rows")
        out.add("")


def _platform_blocks(result: DiffResult) -> list[str]:
    blocks = []
    for g in platform_groups(result):
        blocks.append(f"<details><summary>{_html(_platform_title(g))}</summary>\n\n{_platform_body(g)}\n\n"
                      "</details>\n")
    return blocks


def _overlay_table(groups: list[OverlayGroup], out: _Budget) -> None:
    out.add("### Tenants and clusters")
    out.add("")
    out.add("| overlays | overlay | added | changed | removed |")
    out.add("| --- | --- | ---: | ---: | ---: |")
    table_limit = out.used + out.limit // 4  # the risks and the changes themselves must not be crowded out
    for i, g in enumerate(groups):
        label = f"{g.shown_for[0]} on {g.shown_for[1]}" if len(g.overlays) == 1 else \
            f"{overlay_summary(g.overlays)}: {who(g.overlays, 6)}"
        row = f"| {_cell(label)} | {g.state} | {g.counts['added']} | {g.counts['changed']} | {g.counts['removed']} |"
        if out.used + len(row) > table_limit:
            out.add(f"| _and {len(groups) - i:,} more groups_ | | | | |")
            out.cut["table rows"] = len(groups) - i
            break
        out.add(row, "table rows")
    out.add("")


def _section_blocks(groups: list[OverlayGroup]) -> list[tuple[str, str]]:
    """(whole block, block without its diff) per group of overlays."""
    out = []
    for g in groups:
        title = _html(_group_title(g))
        out.append((f"<details><summary>{title}</summary>\n\n{_group_body(g)}\n\n</details>\n",
                    f"<details><summary>{title}</summary>\n\n{_group_body(g, diffs=False)}\n\n"
                    "_(diff cut for size)_\n\n</details>\n"))
    return out


def as_markdown(result: DiffResult, max_bytes: int = DEFAULT_MAX_BYTES) -> str:
    """A pull-request comment: summary, risks (grouped by kind), clusters, controller changes, controller
    objects, then one ``<details>`` per group of overlays whose changes are the same; at most ``max_bytes``
    bytes, with a closing note of what was cut."""
    title = f"## gitops-gen diff: `{result.base}` → `{result.head}`"
    if result.empty:
        return f"{title}\n\nNo change to any tenant, cluster or controller object.\n"
    reserve = 600  # for the closing note
    out = _Budget(max(max_bytes - reserve, 0))
    out.add(title)
    out.add("")
    _head_blocks(result, out)
    groups = overlay_groups(result)
    platform = _platform_blocks(result)
    if platform:
        out.add("### Controller objects")
        out.add("")
        for block in platform:
            out.add(block, "controller objects")
    if groups:
        _overlay_table(groups, out)
        out.add("### Objects")
        out.add("")
        for whole, listing in _section_blocks(groups):
            if out.add(whole):
                continue
            if out.add(listing, "sections"):
                out.cut["diffs"] = out.cut.get("diffs", 0) + 1
    text = "\n".join(out.lines) + "\n"
    if out.cut:
        what = ", ".join(f"{n:,} {part}" for part, n in out.cut.items())
        text += (f"\n_Cut to stay under {max_bytes:,} bytes: {what} left out. "
                 "Run `gitops-gen diff --split` for every part, or `gitops-gen diff` locally for the whole "
                 "report._\n")
    return text


def as_markdown_parts(result: DiffResult, max_bytes: int = DEFAULT_MAX_BYTES) -> list[str]:
    """The report as parts of at most ``max_bytes`` bytes each, each standing alone: every part opens with
    the title ("part 2/5"), the counts and the risks; the groups of overlays are spread over the parts.
    One part, the same as ``as_markdown``, when everything fits."""
    whole = as_markdown(result, max_bytes)
    if "_Cut to stay under" not in whole:
        return [whole]
    title = f"## gitops-gen diff: `{result.base}` → `{result.head}`"

    def head(label: str) -> _Budget:
        # The head of a part takes at most half of it, so that every part has room for its share.
        out = _Budget(max(max_bytes // 2, 0))
        out.add(f"{title} ({label})")
        out.add("")
        _head_blocks(result, out, compact_risks=True)
        if out.cut:
            what = ", ".join(f"{n:,} {part}" for part, n in out.cut.items())
            out.lines.append(f"_({what} left out of this part's summary.)_")
        return out

    sample = head("part 00/00")
    room = max_bytes - sample.used - 200
    blocks: list[str] = [*_platform_blocks(result)]
    for whole_block, listing in _section_blocks(overlay_groups(result)):
        blocks.append(whole_block if len(whole_block.encode()) <= room else listing)
    packed: list[list[str]] = [[]]
    used = 0
    for block in blocks:
        size = len(block.encode()) + 1
        if size > room:
            cut = block.encode()[:max(room - 60, 0)].decode("utf-8", "ignore")
            fence = "\n```" if cut.count("```") % 2 else ""  # never leave a code block open
            block = cut + fence + "\n\n_(cut for size)_\n\n</details>\n"
            size = len(block.encode()) + 1
        if packed[-1] and used + size > room:
            packed.append([])
            used = 0
        packed[-1].append(block)
        used += size
    parts = []
    for i, chunk in enumerate(packed, 1):
        out = head(f"part {i}/{len(packed)}")
        lines = [*out.lines, "### Changes" + (f" (part {i} of {len(packed)})" if len(packed) > 1 else ""), "", *chunk]
        parts.append("\n".join(lines) + "\n")
    return parts


def _n(count: int, noun: str, plural: str | None = None) -> str:
    return f"{count:,} {noun if count == 1 else plural or noun + 's'}"


def _html(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def as_text(result: DiffResult) -> list[tuple[str, str]]:
    """Lines with a style name ("" plain, "add", "remove", "risk-high", ...), for the console to colour."""
    lines: list[tuple[str, str]] = [(f"gitops-gen diff {result.base} -> {result.head}", "title")]
    if result.empty:
        lines.append(("No change to any tenant, cluster or controller object.", ""))
        return lines
    lines.append((_summary_line(result), ""))
    if result.risks:
        lines.append(("Risks:", "title"))
        for g in risk_groups(result):
            lines.append((f"  {_risk_line(g, False)}", f"risk-{g.severity}"))
    if result.clusters:
        lines.append(("Clusters:", "title"))
        for c in result.clusters:
            details = "; ".join(f"{f}: {o or '-'} -> {n or '-'}" if c.change == "changed" else f"{f}: {n or o}"
                                for f, o, n in c.fields)
            style = {"added": "add", "removed": "remove"}.get(c.change, "")
            lines.append((f"  {c.change:8} {c.name} ({details})", style))
    if result.controllers:
        lines.append(("Applications and Kustomizations:", "title"))
        for cg in controller_groups(result):
            kind, key, change, details = _controller_line(cg, "->")
            lines.append((f"  {change:8} {kind} {key}" + (f" ({details})" if details else ""),
                          {"added": "add", "removed": "remove"}.get(change, "")))
    sections = [(_platform_title(g), _platform_body(g)) for g in platform_groups(result)]
    if sections:
        lines.append(("Controller objects:", "title"))
    sections += [(_group_title(g), _group_body(g)) for g in overlay_groups(result)]
    for title, body in sections:
        lines.append((title, "title"))
        for line in body.splitlines():
            if line.startswith("```"):
                continue
            style = "add" if line.startswith("+") and not line.startswith("+++") else \
                "remove" if line.startswith("-") and not line.startswith("---") and not line.startswith("- ") else ""
            lines.append((f"  {line}", style))
    return lines
