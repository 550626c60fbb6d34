"""``python -m gitops_gen``: the same as the ``gitops-gen`` command."""

from gitops_gen.cli import main

main()
