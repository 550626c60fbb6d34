"""The renderer: which overlays a change affects (what validate --changed-since and diff render), and batched
renders equal to single builds."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from gitops_gen import yamlio
from gitops_gen.render.kustomize import OverlayRef, RenderCache, overlays_affected, render_overlay, render_overlays
from tests.tools import PROJECT_ROOT, TESTDATA, overlays, require_kustomize


def test_overlays_affected_mapping() -> None:
    placements = [("a", "c1"), ("a", "c2"), ("b", "c1")]
    assert overlays_affected(["overlays/a/tenant.yaml"], placements) == {("a", "c1"), ("a", "c2")}
    assert overlays_affected(["overlays/b/c1/ingress.yaml"], placements) == {("b", "c1")}
    assert overlays_affected(["clusters/c1/cluster.yaml"], placements) == {("a", "c1"), ("b", "c1")}
    assert overlays_affected(["base/components/size-small/quota.yaml"], placements) == set(placements)
    assert overlays_affected(["gitops-gen.yaml"], placements) == set(placements)
    assert overlays_affected(["clusters/c1/tenants/a.yaml", "README.md"], placements) == set()


def _batched(root: Path) -> dict[str, list[dict[str, Any]]]:
    names = overlays(root)
    refs = [OverlayRef(o, o.split("/")[1], o.split("/")[2], o.split("/")[1], o) for o in names]
    rendered = render_overlays(root, refs, RenderCache(None), jobs=2)
    assert set(rendered) == set(names)
    return rendered


@pytest.mark.parametrize("which", ["example", "fresh"])
def test_batched_render_equals_single_builds_and_the_golden_file(which: str, estate: Path) -> None:
    """validate's renderer (batches per cluster, the fast output reader) gives every overlay exactly the
    objects, in the order, that a single 'kubectl kustomize' of it gives, and globex on eu-west-1 of a fresh
    estate its golden file: the overlays' structure may change for speed, never what they render to."""
    require_kustomize()
    root = PROJECT_ROOT if which == "example" else estate
    rendered = _batched(root)
    for overlay, docs in rendered.items():
        assert docs == list(yamlio.load_all(render_overlay(root, overlay))), overlay
    if which == "fresh":
        golden = (TESTDATA / "golden" / "globex-eu-west-1.yaml").read_text()
        assert yamlio.dump_docs(rendered["overlays/globex/eu-west-1"]) == golden
