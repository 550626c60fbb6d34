"""``gitops-gen generate``: every derived file from the declarations."""

from __future__ import annotations

from pathlib import Path

from gitops_gen.estate import layout
from gitops_gen.estate.load import load_estate
from gitops_gen.generate.files import estate_files
from gitops_gen.write.plan import plan_files
from gitops_gen.write.writer import ChangeResult, apply_plan, refuse_unmanaged


def generate(root: Path, dry_run: bool = False) -> ChangeResult:
    """Regenerate every derived file from the declarations; remove derived files whose source is gone."""
    estate = load_estate(root)
    plan = plan_files(root, estate_files(estate), orphans_under=layout.DERIVED_ROOTS)
    result = ChangeResult(plan, dry_run=dry_run)
    if not dry_run and not plan.empty:
        refuse_unmanaged(plan, "generate")
        apply_plan(root, plan)
    return result
