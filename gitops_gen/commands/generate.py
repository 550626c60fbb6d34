"""``gitops-gen generate``: every derived file from the declarations."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from gitops_gen.commands import checked
from gitops_gen.estate import layout
from gitops_gen.estate.load import load_estate
from gitops_gen.estate.source import Source
from gitops_gen.generate.files import estate_files
from gitops_gen.write.plan import Plan
from gitops_gen.write.transaction import ChangeResult, write_work_tree

#: ``progress(done, total)``: the tenants whose files are generated so far, of how many.
Progress = Callable[[int, int], None]


def generate(root: Path, dry_run: bool = False, check: bool = False, progress: Progress | None = None) -> ChangeResult:
    """Regenerate every derived file from the declarations in the work tree; remove derived files whose
    source is gone, and temporary files an interrupted gitops-gen left. ``check`` writes no derived file.
    ``progress`` is called once the declarations are read and after each tenant's files."""

    def files(source: Source) -> dict[str, str]:
        estate = load_estate(source, root)
        if progress is not None:
            progress(0, len(estate.tenants))
        return estate_files(estate, progress)

    if check and not dry_run and checked.already_checked(root):
        return ChangeResult(Plan(), dry_run=True)
    before = checked.snapshot(root) if check and not dry_run else None
    result = write_work_tree(root, "generate", files, orphans_under=layout.DERIVED_ROOTS, dry_run=dry_run,
                             check=check)
    if check and not dry_run and result.plan.empty and not result.plan.leftovers:
        checked.remember(root, before)
    return result
