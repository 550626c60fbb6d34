"""Reports of a diff: a pull-request comment in markdown, JSON with documented fields, plain text."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from gitops_gen.review.diff import DiffResult, ObjectChange

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
    }


def _object_line(o: ObjectChange) -> str:
    extra = ""
    if o.renamed_from:
        extra += f" (renamed from {o.renamed_from})"
    if o.secret_keys:
        extra += f" (keys changed: {', '.join(o.secret_keys)}; values are never shown)"
    return f"{o.change} {o.kind}/{o.name}{extra}"


def _sections(result: DiffResult) -> list[tuple[list[tuple[str, str]], str, str]]:
    """Per tenant and cluster, in order: (overlays, title, body). Overlays whose changes are the same
    (a change to base/ makes thousands of identical ones) share one section."""
    states = {(t, c): s for t, c, s in result.overlays}
    grouped: dict[str, tuple[list[tuple[str, str]], str]] = {}
    by_overlay: dict[tuple[str, str], list[ObjectChange]] = {}
    for o in result.objects:
        by_overlay.setdefault((o.tenant, o.cluster), []).append(o)
    for (tenant, cluster), counts in result.touched().items():
        objects = by_overlay.get((tenant, cluster), [])
        state = states.get((tenant, cluster), "changed")
        summary = (f"overlay {state}; {counts['added']} added, {counts['changed']} changed, "
                   f"{counts['removed']} removed")
        body = [f"- {_object_line(o)}" for o in objects]
        diffs = "".join(o.diff for o in objects if o.diff)
        if diffs:
            body += ["", "```diff", diffs.rstrip("\n"), "```"]
        text = "\n".join(body)
        # Only changes without the tenant's own name in them can be the same for several overlays.
        key = f"{summary}\n{text}" if state == "changed" and tenant not in text else f"{tenant}/{cluster}"
        grouped.setdefault(key, ([], f"{summary}\x00{text}"))[0].append((tenant, cluster))
    sections = []
    for overlays, packed in grouped.values():
        summary, text = packed.split("\x00", 1)
        names = [f"{t} on {c}" for t, c in overlays]
        who = ", ".join(names[:5]) + (f" and {len(names) - 5} more" if len(names) > 5 else "")
        title = f"{who}: {summary}" + (f" (the same change in {len(names)} overlays)" if len(names) > 1 else "")
        sections.append((overlays, title, text))
    return sections


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


def as_markdown(result: DiffResult, max_bytes: int = DEFAULT_MAX_BYTES) -> str:
    """A pull-request comment: summary table, risks, controller changes, then per-tenant ``<details>``;
    at most ``max_bytes`` bytes, with a closing note of what was cut."""
    title = f"## gitops-gen diff: `{result.base}` → `{result.head}`"
    if result.empty:
        return f"{title}\n\nNo change to any tenant, cluster or controller object.\n"
    reserve = 600  # for the closing note
    out = _Budget(max(max_bytes - reserve, 0))
    out.add(title)
    out.add("")
    touched = result.touched()
    states = {(t, c): s for t, c, s in result.overlays}
    summary = json_summary(result)
    out.add(f"{_n(summary['tenants'], 'tenant')}, {_n(summary['overlays'], 'overlay')}: "
            f"{_n(summary['added'], 'object')} added, {summary['changed']:,} changed, {summary['removed']:,} removed; "
            f"{_n(summary['risks'], 'risk')}; {summary['controllers']:,} Applications or Kustomizations "
            "added, removed or changed.")
    out.add("")
    out.add("### Tenants and clusters")
    out.add("")
    out.add("| tenant | cluster | overlay | added | changed | removed |")
    out.add("| --- | --- | --- | ---: | ---: | ---: |")
    table_limit = out.used + out.limit // 3  # the risks must not be crowded out by a long table
    rows = list(touched.items())
    for i, ((tenant, cluster), counts) in enumerate(rows):
        row = (f"| {tenant} | {cluster} | {states.get((tenant, cluster), 'changed')} | {counts['added']} | "
               f"{counts['changed']} | {counts['removed']} |")
        if out.used + len(row) > table_limit:
            out.add(f"| _and {len(rows) - i:,} more_ | | | | | |")
            out.cut["table rows"] = len(rows) - i
            break
        out.add(row, "table rows")
    out.add("")
    out.add("### Risks")
    out.add("")
    for r in result.risks:
        where = " / ".join(x for x in (r.tenant, r.cluster) if x)
        out.add(f"- **{SEVERITY_MARK[r.severity]}** `{r.id}`{f' {where}' if where else ''}: {r.message}", "risks")
    if not result.risks:
        out.add("None found.")
    out.add("")
    if result.controllers:
        out.add("### Argo CD Applications and Flux Kustomizations")
        out.add("")
        out.add("| kind | name | change | details |")
        out.add("| --- | --- | --- | --- |")
        for c in result.controllers:
            details = "; ".join(f"{f}: {o or '-'} → {n or '-'}" for f, o, n in c.fields)
            out.add(f"| {c.kind} | {_cell(c.key)} | {c.change} | {_cell(details)} |", "controller rows")
        out.add("")
    out.add("### Objects")
    out.add("")
    for _, section_title, body in _sections(result):
        block = f"<details><summary>{_html(section_title)}</summary>\n\n{body}\n\n</details>\n"
        if out.add(block):
            continue
        # Too big whole: keep the list of objects, drop the diff.
        listing = body.split("\n\n```diff", 1)[0]
        if not out.add(f"<details><summary>{_html(section_title)}</summary>\n\n{listing}\n\n"
                       "_(diff cut for size)_\n\n</details>\n", "sections"):
            continue
        out.cut["diffs"] = out.cut.get("diffs", 0) + 1
    text = "\n".join(out.lines) + "\n"
    if out.cut:
        what = ", ".join(f"{n:,} {part}" for part, n in out.cut.items())
        text += (f"\n_Cut to stay under {max_bytes:,} bytes: {what} left out. "
                 "Run `gitops-gen diff` locally for the whole report._\n")
    return text


def _n(count: int, noun: str) -> str:
    return f"{count:,} {noun}{'' if count == 1 else 's'}"


def _html(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def as_text(result: DiffResult) -> list[tuple[str, str]]:
    """Lines with a style name ("" plain, "add", "remove", "risk-high", ...), for the console to colour."""
    lines: list[tuple[str, str]] = [(f"gitops-gen diff {result.base} -> {result.head}", "title")]
    if result.empty:
        lines.append(("No change to any tenant, cluster or controller object.", ""))
        return lines
    if result.risks:
        lines.append(("Risks:", "title"))
        for r in result.risks:
            where = " / ".join(x for x in (r.tenant, r.cluster) if x)
            lines.append((f"  {SEVERITY_MARK[r.severity]:6} {r.id} {where}: {r.message}", f"risk-{r.severity}"))
    if result.controllers:
        lines.append(("Applications and Kustomizations:", "title"))
        for c in result.controllers:
            details = "; ".join(f"{f}: {o or '-'} -> {n or '-'}" for f, o, n in c.fields)
            lines.append((f"  {c.change:8} {c.kind} {c.key}" + (f" ({details})" if details else ""),
                          {"added": "add", "removed": "remove"}.get(c.change, "")))
    for _, title, body in _sections(result):
        lines.append((title, "title"))
        for line in body.splitlines():
            if line.startswith("```"):
                continue
            style = "add" if line.startswith("+") and not line.startswith("+++") else \
                "remove" if line.startswith("-") and not line.startswith("---") and not line.startswith("- ") else ""
            lines.append((f"  {line}", style))
    return lines


def as_markdown_parts(result: DiffResult, max_bytes: int = DEFAULT_MAX_BYTES) -> list[str]:
    """The report as self-contained parts of at most ``max_bytes`` bytes each ("part 2/5"), risks and counts
    first in every part."""
    return [as_markdown(result, max_bytes)]
