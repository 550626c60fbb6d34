"""Checks over what would actually be applied: rendered overlays, the controller objects, repository files.

The rule families each live in their own module and register their rules at import: ``isolation``,
``https``, ``routing``, ``windows``, ``secrets``, ``data``, ``schema`` and ``drift``, over the shared views
of ``objects``. Importing this package imports every family, so ``RULES`` is the complete registry.
Four entry points, each returning ``Finding``s (an empty list on a correct estate):

- ``check_overlay(ctx)``: one tenant overlay's rendered objects (isolation, HTTPS, routing of that
  placement, Windows and WorkflowGen facts, secrets, data protection);
- ``check_routing(estate, rendered)``: hosts across every rendered overlay;
- ``check_controllers(root, estate)``: the Argo CD and Flux objects under ``clusters/`` and ``argocd/``;
- ``check_repository_secrets(root, files)``: secret values written into repository YAML files.

Every rule is registered with its id, severity, title and a one-line fix; the facts each rule
enforces are in DOMAIN.md (WorkflowGen in containers, tenant isolation, Argo CD, Flux).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from gitops_gen.checks import data, drift, https, isolation, lifecycle, routing, schema, secrets, windows
from gitops_gen.checks.objects import (
    Overlay,
    OverlayContext,
    controller_docs,
    is_hidden,
    overlay_context,
    repository_files,
)
from gitops_gen.checks.registry import RULES, Finding, Rule, Severity, finding, rule
from gitops_gen.checks.routing import check_routing
from gitops_gen.checks.secrets import check_repository_secrets, check_secret_keys, literal_secret, remote_reads
from gitops_gen.estate.load import Estate

__all__ = [
    "CONTROLLER_RULES", "OVERLAY_RULES", "PIPELINE_RULES", "REPOSITORY_RULES", "ROUTING_RULES", "RULES",
    "Finding", "OverlayContext", "Rule", "Severity", "check_controllers", "check_overlay", "check_repository_secrets",
    "check_routing", "check_secret_keys", "finding", "is_hidden", "literal_secret", "overlay_context", "remote_reads",
    "repository_files", "rule",
]

#: Rule ids by entry point.
OVERLAY_RULES = ("ISO001", "ISO002", "ISO003", "ISO004", "ISO005", "ISO006", "ISO007", "ISO008", "ISO009",
                 "ISO010", "ISO011", "ISO012", "ISO014", "ISO015", "HTTPS001", "HTTPS002", "HTTPS003", "HTTPS004",
                 "HTTPS005", "ROUTE003", "ROUTE004", "WIN001", "WIN002", "WIN003", "WIN004", "WIN005", "WIN006",
                 "WIN007", "WIN008", "WIN009", "WIN010", "WIN011", "WIN012", "WIN013", "SEC001", "SEC002",
                 "SEC004", "DATA001", "DATA002", "DATA008", "DATA011", "LIFE001", "LIFE002", "LIFE003")
#: Across overlays: hosts (check_routing), keys of the external secret store (check_secret_keys).
ROUTING_RULES = ("ROUTE001", "ROUTE002", "SEC003")
CONTROLLER_RULES = ("ISO010", "ISO013", "DATA002", "DATA003", "DATA004", "DATA005", "DATA006", "DATA007",
                    "DATA009", "DATA010")
REPOSITORY_RULES = ("SEC001",)
#: Emitted by the validate pipeline before anything is rendered (an overlay that reaches outside the repository).
PIPELINE_RULES = ("SEC005",)

#: The per-overlay checks of every family, in the order they run.
_OVERLAY_CHECKS = (*isolation.OVERLAY_CHECKS, *https.OVERLAY_CHECKS, *routing.OVERLAY_CHECKS,
                   *windows.OVERLAY_CHECKS, *secrets.OVERLAY_CHECKS, *data.OVERLAY_CHECKS,
                   *lifecycle.OVERLAY_CHECKS)
# Families whose rules are emitted by the validate pipeline itself, not by a check here.
_PIPELINE_FAMILIES = (schema, drift)


def check_controllers(root: Path, estate: Estate, include: Callable[[str], bool] | None = None,
                      read: Callable[[str], bool] | None = None, files: list[str] | None = None,
                      read_files: list[str] | None = None) -> list[Finding]:
    """The controller objects under clusters/ and argocd/: data safety of ApplicationSets and Flux
    Kustomizations, and the tenancy of Flux tenants (the account each runs as, its Namespace).

    A validate shard passes ``read``, the controller files whose documents it reads (its tenants' and the
    estate's own), and ``include``, the files whose findings it reports. ``files``: the repository's
    files, when the caller has listed them already (``repository_files``); ``read_files``: those of them
    ``read`` accepts, when the caller has chosen them already."""
    if files is None:
        files = repository_files(root)
    if read_files is None:
        read_files = files if read is None else [f for f in files if read(f)]
    docs = list(controller_docs(root, read_files))
    found = [*isolation.check_flux_tenancy(files, docs), *data.check_controller_docs(files, docs, estate)]
    return found if include is None else [f for f in found if include(f.path or "")]


def check_overlay(ctx: OverlayContext) -> list[Finding]:
    """Every per-overlay rule over one overlay's rendered objects."""
    o = Overlay(ctx)
    return [f for check in _OVERLAY_CHECKS for f in check(o)]
