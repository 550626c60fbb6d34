"""Which overlays a change of the repository's paths affects: what validate --changed-since and diff render."""

from __future__ import annotations

from gitops_gen.render.kustomize import overlays_affected


def test_overlays_affected_mapping() -> None:
    placements = [("a", "c1"), ("a", "c2"), ("b", "c1")]
    assert overlays_affected(["overlays/a/tenant.yaml"], placements) == {("a", "c1"), ("a", "c2")}
    assert overlays_affected(["overlays/b/c1/ingress.yaml"], placements) == {("b", "c1")}
    assert overlays_affected(["clusters/c1/cluster.yaml"], placements) == {("a", "c1"), ("b", "c1")}
    assert overlays_affected(["base/components/size-small/quota.yaml"], placements) == set(placements)
    assert overlays_affected(["gitops-gen.yaml"], placements) == set(placements)
    assert overlays_affected(["clusters/c1/tenants/a.yaml", "README.md"], placements) == set()
