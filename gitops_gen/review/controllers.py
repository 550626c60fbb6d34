"""The controller level of a diff: the Argo CD Applications (expanded offline from the ApplicationSets) and
the Flux Kustomizations each side declares, added, removed or changed, field by field."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from gitops_gen.generate.common import LABEL_CLUSTER, LABEL_TENANT
from gitops_gen.review.appset import generated_applications
from gitops_gen.review.fluxobjects import flux_kustomizations
from gitops_gen.review.sides import Side


@dataclass(frozen=True)
class ControllerChange:
    kind: str  #: 'Application' or 'Kustomization'
    key: str  #: '<namespace>/<name>'
    change: str  #: 'added', 'removed' or 'changed'
    tenant: str | None
    cluster: str | None
    #: (field, old, new): the fields that differ for 'changed'; for 'added' (old '') and 'removed' (new '')
    #: every field with a value other than empty or its default
    fields: tuple[tuple[str, str, str], ...]


#: (shown name, attribute) of the fields a change reports, in order.
_APP_FIELDS = (
    ("project", "project"), ("source.repoURL", "repo_url"), ("source.targetRevision", "target_revision"),
    ("source.path", "path"), ("destination.server", "destination_server"), ("destination.name", "destination_name"),
    ("destination.namespace", "namespace"), ("syncPolicy.automated", "automated"),
    ("syncPolicy.syncOptions", "sync_options"), ("applicationSet", "appset"),
    ("applicationsSync", "applications_sync"), (f"labels.{LABEL_TENANT}", "tenant"),
    (f"labels.{LABEL_CLUSTER}", "cluster"),
)
_FLUX_FIELDS = (
    ("path", "path"), ("targetNamespace", "target_namespace"), ("prune", "prune"),
    ("serviceAccountName", "service_account"), ("sourceRef", "source"), ("interval", "interval"),
    ("suspend", "suspend"), ("file", "file"), (f"labels.{LABEL_TENANT}", "tenant"),
    (f"labels.{LABEL_CLUSTER}", "cluster"),
)


def _shown(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, tuple):
        return ", ".join(str(v) for v in value)
    return str(value)


def _changes(kind: str, old: Mapping[str, Any], new: Mapping[str, Any],
             names: tuple[tuple[str, str], ...]) -> Iterator[ControllerChange]:
    for key in old.keys() | new.keys():
        before, after = old.get(key), new.get(key)
        if before is None or after is None:
            obj: Any = after if after is not None else before
            defaults = {f.name: f.default for f in dataclasses.fields(obj)}
            shown = [(name, _shown(getattr(obj, attr))) for name, attr in names
                     if getattr(obj, attr) != defaults[attr]]
            shown = [(n, v) for n, v in shown if v]
            fields = tuple((n, "", v) if after is not None else (n, v, "") for n, v in shown)
            yield ControllerChange(kind, key, "added" if after is not None else "removed", obj.tenant, obj.cluster,
                                   fields)
            continue
        diff = tuple((name, _shown(getattr(before, attr)), _shown(getattr(after, attr))) for name, attr in names
                     if getattr(before, attr) != getattr(after, attr))
        if diff:
            yield ControllerChange(kind, key, "changed", after.tenant or before.tenant, after.cluster or before.cluster,
                                   diff)


def diff_controllers(base: Side, head: Side) -> list[ControllerChange]:
    """Applications (generated offline) and Flux Kustomizations added, removed or changed from ``base`` to
    ``head``, sorted by tenant, cluster, kind and key. Each side reads its own gitops-gen.yaml."""
    changes = [*_changes("Application", generated_applications(base), generated_applications(head), _APP_FIELDS),
               *_changes("Kustomization", flux_kustomizations(base), flux_kustomizations(head), _FLUX_FIELDS)]
    return sorted(changes, key=lambda c: (c.tenant or "", c.cluster or "", c.kind, c.key))
