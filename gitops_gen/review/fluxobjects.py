"""Flux's side of a diff: every ``kustomize.toolkit.fluxcd.io`` Kustomization in a side's YAML files under
``clusters/``, as the kustomize-controller of each cluster would read it."""

from __future__ import annotations

import posixpath
import re
from dataclasses import dataclass

from gitops_gen.checks.objects import as_map as _m
from gitops_gen.estate import layout
from gitops_gen.generate.common import LABEL_CLUSTER, LABEL_TENANT
from gitops_gen.review.sides import Side, cluster_of, docs_of, yaml_files


@dataclass(frozen=True)
class FluxKustomization:
    """A Flux ``kustomize.toolkit.fluxcd.io`` Kustomization."""

    name: str
    namespace: str  #: '' when the file gives none
    path: str
    target_namespace: str | None
    prune: bool
    service_account: str | None
    source: str  #: 'GitRepository/<name>', or 'GitRepository/<namespace>/<name>' for another namespace
    interval: str
    file: str
    tenant: str | None  #: label gitops-gen.io/tenant, else the name of a clusters/<c>/tenants/<t>.yaml file
    cluster: str | None  #: label gitops-gen.io/cluster, else the clusters/<cluster>/ of its file
    suspend: bool = False


_FLUX = re.compile(rb"kustomize\.toolkit\.fluxcd\.io")


def flux_kustomizations(side: Side) -> dict[str, FluxKustomization]:
    """The Flux Kustomizations in the side's YAML files under clusters/, keyed '<namespace>/<name>'
    (the first file in path order wins when two files declare the same one)."""
    files = side.files()
    out: dict[str, FluxKustomization] = {}
    for rel in yaml_files(files, layout.CLUSTERS_DIR):
        data = side.read(rel)
        if data is None or not _FLUX.search(data):
            continue
        for doc in docs_of(data):
            api = str(doc.get("apiVersion", ""))
            if doc.get("kind") != "Kustomization" or not api.startswith("kustomize.toolkit.fluxcd.io/"):
                continue
            meta, spec = _m(doc.get("metadata")), _m(doc.get("spec"))
            labels = _m(meta.get("labels"))
            name, namespace = str(meta.get("name") or ""), str(meta.get("namespace") or "")
            ref = _m(spec.get("sourceRef"))
            ref_ns = str(ref.get("namespace") or "")
            other_ns = f"{ref_ns}/" if ref_ns and ref_ns != namespace else ""
            source = f"{ref.get('kind', '')}/{other_ns}{ref.get('name', '')}"
            tenant = labels.get(LABEL_TENANT)
            parts = rel.split("/")
            if tenant is None and len(parts) == 4 and parts[2] == "tenants":
                tenant = posixpath.splitext(parts[3])[0]
            cluster = labels.get(LABEL_CLUSTER) or cluster_of(rel)
            key = f"{namespace}/{name}"
            if key in out:
                continue
            out[key] = FluxKustomization(
                name=name, namespace=namespace, path=str(spec.get("path") or ""),
                target_namespace=str(spec["targetNamespace"]) if spec.get("targetNamespace") else None,
                prune=spec.get("prune") is True,
                service_account=str(spec["serviceAccountName"]) if spec.get("serviceAccountName") else None,
                source=source, interval=str(spec.get("interval") or ""), file=rel,
                tenant=None if tenant is None else str(tenant), cluster=None if cluster is None else str(cluster),
                suspend=spec.get("suspend") is True)
    return dict(sorted(out.items()))
