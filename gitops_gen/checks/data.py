"""Data-safety rules (DATA001-DATA011): Argo CD and Flux protection on data-bearing objects, storage a
pod can actually mount, and the controller objects under clusters/ and argocd/ (ApplicationSet safety,
generators that match files, Flux paths that exist, a Flux parent that never prunes its tenants)."""

from __future__ import annotations

import fnmatch
import json
import os
import posixpath
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import PurePosixPath
from typing import Any

from gitops_gen.checks.objects import (
    ARGO_SYNC_OPTIONS,
    FLUX_PRUNE,
    LABEL_COMPONENT,
    Overlay,
    annotations_of,
    as_list,
    as_map,
    cluster_of,
    is_true,
    labels_of,
    meta_of,
    name_of,
    norm_url,
    ref_of,
)
from gitops_gen.checks.registry import Finding, Rule, finding, rule
from gitops_gen.estate.load import Estate

DATA_ARGO_PROTECT = rule(
    "DATA001", "error", "Data-bearing object not protected from Argo CD prune and deletion",
    "annotate it 'argocd.argoproj.io/sync-options: Prune=false,Delete=false'")


DATA_FLUX_PROTECT = rule(
    "DATA002", "error", "Data-bearing object not protected from Flux prune",
    "annotate it 'kustomize.toolkit.fluxcd.io/prune: disabled'")


DATA_PRESERVE = rule(
    "DATA003", "error", "ApplicationSet deletes resources with its Applications",
    "set 'spec.syncPolicy.preserveResourcesOnDeletion: true'")


DATA_GO_TEMPLATE = rule(
    "DATA004", "error", "ApplicationSet without strict Go templates",
    "set 'goTemplate: true' and 'goTemplateOptions: [\"missingkey=error\"]'")


DATA_EMPTY_GENERATOR = rule(
    "DATA005", "error", "ApplicationSet git generator matches nothing in the repository",
    "fix the generator's path pattern so that it matches the intended files or directories")


DATA_FLUX_PATH = rule(
    "DATA006", "error", "Flux Kustomization path is not a directory of the repository",
    "point spec.path at an existing directory (e.g. ./overlays/<tenant>/<cluster>)")


DATA_GLOB_AMBIGUOUS = rule(
    "DATA007", "warning", "ApplicationSet git files pattern matches differently under greedy and exact globbing",
    "choose a pattern that means the same whether '*' crosses '/' or not (e.g. a directory without "
    "subdirectories)")


DATA_RWX_CLASS = rule(
    "DATA008", "error", "ReadWriteMany volume claim without a storage class",
    "set storage.dataClass in the cluster's cluster.yaml (or in gitops-gen.yaml) to a class that provisions "
    "ReadWriteMany volumes: azurefile-csi (AKS), efs-sc (EKS, EFS CSI driver), filestore (GKE Filestore CSI), "
    "nfs-csi or cephfs; a cluster's default class is usually a block disk, ReadWriteOnce only")


DATA_FLUX_PARENT = rule(
    "DATA009", "error", "Flux Kustomization that applies other Kustomizations prunes them when deleted",
    "set 'spec.deletionPolicy: Orphan' on it: with the default MirrorPrune, deleting or renaming it deletes "
    "every tenant Kustomization it applied, and each of them then prunes its tenant")


DATA_APPSET_TEMPLATE = rule(
    "DATA010", "error", "ApplicationSet project, destination or source computed from generator parameters",
    "keep spec.template's project, destination and source constants, or exactly the expressions gitops-gen "
    "writes ('{{ trimSuffix \".yaml\" .path.filename }}'), and use no templatePatch: run 'gitops-gen generate'")


DATA_CLAIM_TEMPLATE = rule(
    "DATA011", "error", "StatefulSet volume claim template without apiVersion and kind",
    "give every volumeClaimTemplates entry 'apiVersion: v1' and 'kind: PersistentVolumeClaim': under Argo CD's "
    "ServerSideApply a template without them shows the StatefulSet out of sync forever (argo-cd#11143); better, "
    "render the claim as its own PersistentVolumeClaim, as gitops-gen does")


#: The one expression gitops-gen writes into an ApplicationSet: the tenant name, from its placement file's name.
TENANT_EXPRESSION = '{{ trimSuffix ".yaml" .path.filename }}'

#: Fields of an ApplicationSet's template that decide where an Application deploys, and from what.
_APPSET_GUARDED = ("project", "destination.server", "destination.name", "destination.namespace",
                   "source.repoURL", "source.targetRevision", "source.path", "source.chart")

#: The access modes a volume shared by several pods (the web and Windows Services pods) needs.
_SHARED_MODES = frozenset({"ReadWriteMany"})


def _argo_protected(annotations: Mapping[str, Any]) -> bool:
    options = {o.strip() for o in str(annotations.get(ARGO_SYNC_OPTIONS, "")).split(",")}
    return {"Prune=false", "Delete=false"} <= options


def _flux_protected(annotations: Mapping[str, Any]) -> bool:
    return annotations.get(FLUX_PRUNE) == "disabled"


def _data_bearing(o: Overlay) -> Iterator[tuple[Mapping[str, Any], str, Mapping[str, Any]]]:
    """(object, what, annotations) of every data-bearing object and StatefulSet volume claim template."""
    for d in o.docs:
        kind = d.get("kind")
        if kind in ("Namespace", "PersistentVolumeClaim"):
            yield d, kind, annotations_of(d)
        elif kind == "StatefulSet":
            spec = as_map(d.get("spec"))
            templates = [as_map(t) for t in as_list(spec.get("volumeClaimTemplates"))]
            images = [str(as_map(c).get("image", "")) for c in as_list(as_map(as_map(spec.get("template")).get("spec"))
                                                               .get("containers"))]
            if templates or labels_of(d).get(LABEL_COMPONENT) == "database" or any("sql" in i for i in images):
                yield d, "StatefulSet", annotations_of(d)
            for t in templates:
                yield d, f"volumeClaimTemplate {as_map(t.get('metadata')).get('name')!r}", \
                    as_map(as_map(t.get("metadata")).get("annotations"))


def _shown(value: Any) -> str:
    return "not set" if value is None else f"set to {value!r}"


def _check_data_protection(o: Overlay) -> Iterator[Finding]:
    for d, what, ann in _data_bearing(o):
        if not _argo_protected(ann):
            yield o.ctx.finding(DATA_ARGO_PROTECT,
                                f"{what} lacks {ARGO_SYNC_OPTIONS}: Prune=false,Delete=false "
                                f"({_shown(ann.get(ARGO_SYNC_OPTIONS))}); deleting the Application deletes its data",
                                ref_of(d))
        if not _flux_protected(ann):
            yield o.ctx.finding(DATA_FLUX_PROTECT,
                                f"{what} lacks {FLUX_PRUNE}: disabled ({_shown(ann.get(FLUX_PRUNE))}); "
                                "removing the Kustomization prunes its data", ref_of(d))


def _check_shared_volume_class(o: Overlay) -> Iterator[Finding]:
    for d in o.docs:
        if d.get("kind") != "PersistentVolumeClaim":
            continue
        spec = as_map(d.get("spec"))
        modes = {str(m) for m in as_list(spec.get("accessModes"))}
        if not modes & _SHARED_MODES:
            continue
        cls = spec.get("storageClassName")
        if cls is None or str(cls) == "":
            shown = "no storageClassName" if cls is None else "storageClassName \"\""
            yield o.ctx.finding(DATA_RWX_CLASS, f"{ref_of(d)} asks for ReadWriteMany with {shown}, so cluster "
                                f"{o.ctx.cluster.name} provisions it from its default class (on AKS Azure Disk, on "
                                "EKS gp2/gp3, on GKE a persistent disk: ReadWriteOnce only) and every pod that "
                                "mounts it stays Pending", ref_of(d))


def _check_claim_templates(o: Overlay) -> Iterator[Finding]:
    if o.ctx.cluster.controller != "argocd":
        return
    for d in o.docs:
        if d.get("kind") != "StatefulSet":
            continue
        for t in (as_map(x) for x in as_list(as_map(d.get("spec")).get("volumeClaimTemplates"))):
            if t.get("apiVersion") != "v1" or t.get("kind") != "PersistentVolumeClaim":
                name = as_map(t.get("metadata")).get("name")
                yield o.ctx.finding(DATA_CLAIM_TEMPLATE, f"volumeClaimTemplate {name!r} lacks apiVersion: v1 and kind: "
                                    "PersistentVolumeClaim", ref_of(d))


def _dirs_of(files: Iterable[str]) -> set[str]:
    """Every directory that holds a file, at any depth."""
    dirs: set[str] = set()
    for f in files:
        parent = f.rpartition("/")[0]
        while parent and parent not in dirs:  # a directory seen before: its parents are known
            dirs.add(parent)
            parent = parent.rpartition("/")[0]
    return dirs


_GLOB_CHARS = re.compile(r"[*?\[]")


def greedy_match(pattern: str, path: str) -> bool:
    """Argo CD's default git files matching (``git ls-files -- <pattern>``): '*' also matches '/'; a
    pattern without wildcards matches the path itself or everything under it."""
    pattern = pattern.lstrip("/")
    if not _GLOB_CHARS.search(pattern):
        return path == pattern or path.startswith(pattern.rstrip("/") + "/")
    return fnmatch.fnmatchcase(path, pattern.replace("[^", "[!"))


def exact_match(pattern: str, path: str) -> bool:
    """Go's path.Match: '*' and '?' never match '/'."""
    pp, sp = pattern.lstrip("/").replace("[^", "[!").split("/"), path.split("/")
    return len(pp) == len(sp) and all(fnmatch.fnmatchcase(s, p) for s, p in zip(sp, pp, strict=True))


def _literal_prefix(pattern: str) -> str:
    m = _GLOB_CHARS.search(pattern)
    return pattern.lstrip("/") if m is None else pattern[:m.start()].lstrip("/")


def _matcher(pattern: str, match: Callable[[str, str], bool]) -> Callable[[str], bool]:
    """``match`` with ``pattern`` compiled once: the same answers (fnmatchcase is a match of
    fnmatch.translate's expression), without translating it again for each of 10,000 paths."""
    if match is greedy_match:
        pat = pattern.lstrip("/")
        if _GLOB_CHARS.search(pat):
            whole = re.compile(fnmatch.translate(pat.replace("[^", "[!"))).match
            return lambda path: whole(path) is not None
    elif match is exact_match:
        segments = [re.compile(fnmatch.translate(p)).match
                    for p in pattern.lstrip("/").replace("[^", "[!").split("/")]
        slashes = len(segments) - 1

        def exact(path: str) -> bool:
            return path.count("/") == slashes and all(
                m(s) is not None for m, s in zip(segments, path.split("/"), strict=True))
        return exact
    return lambda path: match(pattern, path)


def _matching(patterns: list[str], excludes: list[str], candidates: list[str],
              match: Callable[[str, str], bool]) -> set[str]:
    found: set[str] = set()
    for pattern in patterns:
        prefix, matches = _literal_prefix(pattern), _matcher(pattern, match)
        found |= {c for c in candidates if c.startswith(prefix) and matches(c)}
    for pattern in excludes:
        matches = _matcher(pattern, match)
        found -= {c for c in found if matches(c)}
    return found


def _git_generators(generators: Any) -> Iterator[Mapping[str, Any]]:
    """Git generators, including those nested in matrix and merge generators."""
    for raw in as_list(generators):
        g = as_map(raw)
        if "git" in g:
            yield as_map(g["git"])
        for combo in ("matrix", "merge"):
            if combo in g:
                yield from _git_generators(as_map(g[combo]).get("generators"))


def _check_applicationset(rel: str, appset: Mapping[str, Any], repo_url: str, files: list[str],
                          argo_dirs: list[str]) -> Iterator[Finding]:
    spec = as_map(appset.get("spec"))
    obj = ref_of(appset)
    cluster = cluster_of(rel)

    def make(r: Rule, message: str) -> Finding:
        return finding(r, message, cluster=cluster, obj=obj, path=rel)

    if not is_true(as_map(spec.get("syncPolicy")).get("preserveResourcesOnDeletion")):
        yield make(DATA_PRESERVE, "spec.syncPolicy.preserveResourcesOnDeletion is not true: deleting a generated "
                   "Application (e.g. after an empty generator result) deletes the tenant's resources")
    options = [str(x) for x in as_list(spec.get("goTemplateOptions"))]
    if not is_true(spec.get("goTemplate")) or "missingkey=error" not in options:
        yield make(DATA_GO_TEMPLATE, f"goTemplate is {json.dumps(spec.get('goTemplate'))} and goTemplateOptions "
                   f"{json.dumps(options)}: a "
                   "missing parameter must fail the generation, not render an empty value")
    for git in _git_generators(spec.get("generators")):
        if norm_url(git.get("repoURL")) != repo_url:
            continue  # another repository: its files are not here
        items = [as_map(x) for x in as_list(git.get("files"))]
        if items:
            # git reads a pathspec relative to the repository root: './x' is 'x'.
            inc = [str(x.get("path", "")).removeprefix("./") for x in items if not is_true(x.get("exclude"))]
            exc = [str(x.get("path", "")).removeprefix("./") for x in items if is_true(x.get("exclude"))]
            greedy = _matching(inc, exc, files, greedy_match)
            shown = ", ".join(repr(p) for p in inc) + (f" (excluding {', '.join(map(repr, exc))})" if exc else "")
            if not greedy:
                yield make(DATA_EMPTY_GENERATOR, f"git files generator {shown} matches no file: a generator "
                           "that yields nothing makes Argo CD delete every Application it generated")
            exact = _matching(inc, exc, files, exact_match)
            if greedy != exact:
                only_greedy, only_exact = sorted(greedy - exact), sorted(exact - greedy)
                detail = []
                if only_greedy:
                    detail.append(f"only greedy globbing matches {', '.join(only_greedy[:3])}")
                if only_exact:
                    detail.append(f"only exact globbing matches {', '.join(only_exact[:3])}")
                yield make(DATA_GLOB_AMBIGUOUS, f"git files generator {shown}: {'; '.join(detail)}")
            continue
        dirs = [as_map(x) for x in as_list(git.get("directories"))]
        if dirs:
            inc = [str(x.get("path", "")) for x in dirs if not is_true(x.get("exclude"))]
            exc = [str(x.get("path", "")) for x in dirs if is_true(x.get("exclude"))]
            # The directories generator matches every directory with Go's path.Match (argo-cd git.go filterApps).
            if not _matching(inc, exc, argo_dirs, exact_match):
                yield make(DATA_EMPTY_GENERATOR, f"git directories generator {', '.join(repr(p) for p in inc)} "
                           "matches no directory: a generator that yields nothing makes Argo CD delete every "
                           "Application it generated")


def _flux_path(value: Any) -> str | None:
    """The repository-relative directory of a Flux Kustomization path; None when it leaves the repository."""
    raw = str(value or "./").strip().replace("\\", "/")
    norm = os.path.normpath(raw.lstrip("/")) if raw.lstrip("/") else "."
    if norm == ".." or norm.startswith("../"):
        return None
    return "" if norm == "." else PurePosixPath(norm).as_posix()


def _guarded_fields(template: Mapping[str, Any]) -> Iterator[tuple[str, Any]]:
    spec = as_map(template.get("spec"))
    for dotted in _APPSET_GUARDED:
        head, _, tail = dotted.partition(".")
        value = spec.get(head) if not tail else as_map(spec.get(head)).get(tail)
        if value is not None:
            yield dotted, value
    for i, src in enumerate(as_list(spec.get("sources"))):
        for key in ("repoURL", "targetRevision", "path", "chart"):
            value = as_map(src).get(key)
            if value is not None:
                yield f"sources[{i}].{key}", value


def _computed(value: Any) -> bool:
    """Whether a template value holds a Go template expression other than gitops-gen's own."""
    text = str(value).replace(TENANT_EXPRESSION, "")
    return "{{" in text or "}}" in text


def _check_appset_template(rel: str, appset: Mapping[str, Any]) -> Iterator[Finding]:
    spec = as_map(appset.get("spec"))
    obj, cluster = ref_of(appset), cluster_of(rel)
    if spec.get("templatePatch"):
        yield finding(DATA_APPSET_TEMPLATE, "spec.templatePatch may rewrite any field of the generated "
                      "Applications, their project and destination included, from generator parameters",
                      cluster=cluster, obj=obj, path=rel)
    for dotted, value in _guarded_fields(as_map(spec.get("template"))):
        if _computed(value):
            yield finding(DATA_APPSET_TEMPLATE, f"spec.template.spec.{dotted} is {str(value)!r}: where the "
                          "Applications deploy, and from what, then comes from the generated files' content",
                          cluster=cluster, obj=obj, path=rel)


def _is_flux_kustomization(doc: Mapping[str, Any]) -> bool:
    return doc.get("kind") == "Kustomization" and str(doc.get("apiVersion", "")).startswith(
        "kustomize.toolkit.fluxcd.io/")


def _check_flux_parents(docs: list[tuple[str, Mapping[str, Any]]]) -> Iterator[Finding]:
    """A Flux Kustomization whose path holds other Flux Kustomizations must orphan them when it is deleted."""
    children: dict[str, list[str]] = {}
    for rel, doc in docs:
        if _is_flux_kustomization(doc):
            children.setdefault(posixpath.dirname(rel), []).append(ref_of(doc))
    for rel, doc in docs:
        if not _is_flux_kustomization(doc):
            continue
        spec = as_map(doc.get("spec"))
        path = _flux_path(spec.get("path"))
        if path is None:
            continue
        applied = [c for d, refs in children.items() if d == path or d.startswith(path + "/") or path == ""
                   for c in refs]
        if applied and spec.get("deletionPolicy") != "Orphan":
            shown = "not set (MirrorPrune)" if spec.get("deletionPolicy") is None else \
                repr(spec.get("deletionPolicy"))
            yield finding(DATA_FLUX_PARENT, f"it applies {len(applied)} Flux Kustomization(s) from {path or '.'} "
                          f"and its deletionPolicy is {shown}: deleting or renaming it deletes them, and each "
                          "one then prunes what it applied", cluster=cluster_of(rel), obj=ref_of(doc), path=rel)


def _check_platform_namespaces(docs: list[tuple[str, Mapping[str, Any]]]) -> Iterator[Finding]:
    """Tenant Namespaces that Flux clusters' platform files create hold every tenant object: protect them."""
    for rel, doc in docs:
        if doc.get("kind") != "Namespace":
            continue
        ann = annotations_of(doc)
        tenant, cluster = name_of(doc), cluster_of(rel)
        if not _flux_protected(ann):
            yield finding(DATA_FLUX_PROTECT, f"Namespace lacks {FLUX_PRUNE}: disabled "
                          f"({_shown(ann.get(FLUX_PRUNE))}); removing its Kustomization deletes the namespace "
                          "and the tenant's data with it", tenant=tenant, cluster=cluster, obj=ref_of(doc), path=rel)


def check_controller_docs(files: list[str], docs: list[tuple[str, Mapping[str, Any]]],
                          estate: Estate) -> list[Finding]:
    """The Argo CD ApplicationSets, Flux Kustomizations and platform Namespaces under clusters/ and argocd/
    (DATA002-DATA010); ``files`` are the repository's, ``docs`` its controller documents."""
    repo_url = norm_url(estate.config.repo_url)
    all_dirs = _dirs_of(files)
    # Argo CD's git generators leave out hidden directories (and all below them).
    argo_dirs = sorted(d for d in all_dirs if not d.startswith(".") and "/." not in d)
    all_dirs.add("")
    findings: list[Finding] = [*_check_flux_parents(docs), *_check_platform_namespaces(docs)]
    sources = {(str(meta_of(d).get("namespace", "")), name_of(d)): norm_url(as_map(d.get("spec")).get("url"))
               for _, d in docs if d.get("kind") == "GitRepository"}
    for rel, doc in docs:
        api = str(doc.get("apiVersion", ""))
        if doc.get("kind") == "ApplicationSet" and api.startswith("argoproj.io/"):
            findings += _check_applicationset(rel, doc, repo_url, files, argo_dirs)
            findings += _check_appset_template(rel, doc)
        elif doc.get("kind") == "Kustomization" and api.startswith("kustomize.toolkit.fluxcd.io/"):
            spec = as_map(doc.get("spec"))
            source = as_map(spec.get("sourceRef"))
            if source.get("kind", "GitRepository") != "GitRepository":
                continue
            key = (str(source.get("namespace") or meta_of(doc).get("namespace", "")), str(source.get("name")))
            if key in sources and sources[key] != repo_url:
                continue  # reconciles another repository
            path = _flux_path(spec.get("path"))
            if path is None or path not in all_dirs:
                parts = rel.split("/")
                tenant = labels_of(doc).get("gitops-gen.io/tenant")
                if tenant is None and len(parts) == 4 and parts[2] == "tenants":
                    tenant = parts[3].rsplit(".", 1)[0]
                findings.append(finding(
                    DATA_FLUX_PATH, f"spec.path {spec.get('path')!r} is not a directory of the repository: "
                    "the Kustomization fails and the tenant is no longer reconciled",
                    tenant=None if tenant is None else str(tenant), cluster=cluster_of(rel), obj=ref_of(doc),
                    path=rel))
    return findings


#: This family's checks of one overlay's rendered objects, run by ``checks.check_overlay``.
OVERLAY_CHECKS = (
    _check_data_protection,
    _check_shared_volume_class,
    _check_claim_templates,
)
