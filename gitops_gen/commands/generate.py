"""``gitops-gen generate``: every derived file from the declarations."""

from __future__ import annotations

from pathlib import Path

from gitops_gen.estate import layout
from gitops_gen.estate.load import load_estate
from gitops_gen.estate.source import Source
from gitops_gen.generate.files import estate_files
from gitops_gen.write.transaction import ChangeResult, write_work_tree


def generate(root: Path, dry_run: bool = False, check: bool = False) -> ChangeResult:
    """Regenerate every derived file from the declarations in the work tree; remove derived files whose
    source is gone, and temporary files an interrupted gitops-gen left. ``check`` writes no derived file."""

    def files(source: Source) -> dict[str, str]:
        return estate_files(load_estate(source, root))

    return write_work_tree(root, "generate", files, orphans_under=layout.DERIVED_ROOTS, dry_run=dry_run, check=check)
