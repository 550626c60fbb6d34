"""Argo CD's side of a diff: the Applications each side's ApplicationSets generate, computed offline.

Every ApplicationSet in a YAML file under ``clusters/`` and ``argocd/`` is expanded the way the
ApplicationSet controller does it (argo-cd ``applicationset/generators`` and ``applicationset/utils``;
docs: operator-manual/applicationset Generators-Git, Generators-Git-File-Globbing, Generators-List,
Generators-Matrix, Generators-Merge, GoTemplate, Template):

- git ``files``: every file matched by the include patterns minus those matched by ``exclude: true``
  patterns, with Argo CD's default greedy globbing (``git ls-files``: ``*`` matches across ``/``), in
  path order. A file holding an object yields one parameter set, a list one per element, an empty file
  one empty set. goTemplate: the file's keys as they are, plus ``path`` = {path, basename, filename,
  basenameNormalized, filenameNormalized, segments}; otherwise the file's keys flattened (``a.b``,
  ``a.0``) and ``path``, ``path.basename``, ``path.filename``, ``path.basenameNormalized``,
  ``path.filenameNormalized``, ``path[n]``. ``pathParamPrefix`` and ``values`` are honoured.
- git ``directories``: every directory of the repository (none below a directory whose name starts
  with '.') matched with Go's ``path.Match`` by an include and by no ``exclude: true`` pattern; params
  ``path`` = {path, basename, basenameNormalized, segments} (``path[n]`` without goTemplate).
- ``list``: ``elements`` (string values only without goTemplate; ``values`` flattened to
  ``values.<k>``) and ``elementsYaml``.
- ``matrix`` of two children: for each parameter set of the first, the second child is interpolated with
  it (every string of the child is rendered with the first's parameters) and generated; the sets are
  combined (goTemplate: merged, the first child's values win; otherwise a key both children set to
  different values is an error). A matrix or merge may be nested once, as in Argo CD; child generators'
  own ``template`` is not processed (Generators-Matrix, Restrictions).
- ``merge``: the first child's sets, overridden by the sets of later children with equal ``mergeKeys``
  values; later sets with no match are dropped.
- ``selector`` (matchLabels, matchExpressions) filters a generator's sets on their flattened values;
  on children of a nested matrix or merge only with ``spec.applyNestedSelectors``.
- A generator's own ``template`` is merged over ``spec.template`` (its non-empty fields win).
- Templates: every string of the template (map keys too) is rendered, with Go's text/template subset in
  ``gitops_gen.gotemplate`` when ``goTemplate: true`` (``goTemplateOptions: [missingkey=error]``
  honoured), else with fasttemplate's ``{{ key }}`` substitution (unknown keys are left as they are).

What cannot be known offline is skipped and listed in ``ArgoExpansion.unexpanded``: generators other than
git, list, matrix and merge (clusters, scmProvider, pullRequest, clusterDecisionResource, plugin...), git
generators whose ``repoURL`` is not the estate's repository or whose ``revision`` is not the branch the
estate declares (``repo.revision`` in gitops-gen.yaml, or HEAD), and any matrix or merge containing one.
``templatePatch`` is not applied (noted in ``unexpanded``). Paths are estate-relative: the estate is
assumed to be at the repository's top, as the paths gitops-gen writes into ApplicationSets are.

What Argo CD refuses, this module refuses too, raising ``GenerationError`` (a ``UserError``) naming the
file and ApplicationSet: a missing key under ``missingkey=error``, a template that does not parse or
execute, a matched file that is not YAML, a matrix without two children, non-unique merge keys, two
Applications of the same name. Argo CD then generates nothing for that ApplicationSet and changes none
of its Applications.
"""

from __future__ import annotations

import bisect
import copy
import datetime
import json
import posixpath
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import yaml

from gitops_gen import yamlio
from gitops_gen.checks.data import exact_match, greedy_match
from gitops_gen.errors import UserError
from gitops_gen.estate import layout
from gitops_gen.generate.common import LABEL_CLUSTER, LABEL_TENANT
from gitops_gen.review import gotemplate
from gitops_gen.review.sides import Side, cluster_of, docs_of, first_doc_of, side_yaml_files, yaml_files

# --------------------------------------------------------------------------- results


@dataclass(frozen=True)
class Application:
    """An Argo CD Application an ApplicationSet generates."""

    name: str
    project: str
    repo_url: str  #: of ``spec.source``; with ``spec.sources``, every source's, joined by ', '
    target_revision: str
    path: str  #: a Helm chart source without a path shows as 'chart <name>'
    destination_server: str | None
    destination_name: str | None
    namespace: str  #: the destination namespace
    sync_options: tuple[str, ...]
    automated: str  #: 'prune+selfHeal', 'prune', 'selfHeal', ..., 'automated' (neither), or 'manual'
    appset: str  #: the file of the ApplicationSet that generates it
    tenant: str | None  #: label gitops-gen.io/tenant
    cluster: str | None  #: label gitops-gen.io/cluster, else the clusters/<cluster>/ of the ApplicationSet's file
    #: the ApplicationSet's spec.syncPolicy.applicationsSync: with create-only or create-update (and the
    #: controller honours it: no controller-wide policy, or the override enabled), Argo CD does not delete an
    #: Application that is no longer generated
    applications_sync: str = "sync"


@dataclass(frozen=True)
class Unexpanded:
    """A generator (or template feature) whose effect cannot be computed offline; it is skipped."""

    file: str
    appset: str  #: '<namespace>/<name>'
    where: str  #: e.g. 'spec.generators[1]'
    reason: str


@dataclass(frozen=True)
class ArgoExpansion:
    applications: dict[str, Application]  #: keyed '<namespace>/<name>'
    unexpanded: tuple[Unexpanded, ...]


class GenerationError(UserError):
    """An ApplicationSet Argo CD would fail to generate (it then creates, changes and deletes nothing)."""

    def __init__(self, file: str, appset: str, message: str, hint: str | None = None, key: str | None = None) -> None:
        super().__init__(f"{file}: ApplicationSet {appset}: {message}",
                         hint or "Argo CD fails this ApplicationSet the same way: it generates no Application "
                                 "and leaves the existing ones as they are until this is fixed")
        self.file = file
        self.appset = appset
        self.key = key


class _Unknown(Exception):
    """A generator whose parameters cannot be known offline."""


# --------------------------------------------------------------------------- small helpers


def _m(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _l(value: Any) -> list[Any]:
    return list(value) if isinstance(value, list | tuple) else []


def _norm_url(url: Any) -> str:
    return str(url or "").strip().rstrip("/").removesuffix(".git").lower()


def _key(value: Any) -> str:
    if isinstance(value, str):
        return value
    return gotemplate.go_format(_jsonish(value))


def _jsonish(value: Any) -> Any:
    """YAML data as Argo CD sees it (sigs.k8s.io/yaml goes through JSON): string keys, float64 numbers."""
    if value is None or isinstance(value, bool | str | float):
        return value
    if isinstance(value, int):
        return float(value)
    if isinstance(value, Mapping):
        return {_key(k): _jsonish(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonish(v) for v in value]
    if isinstance(value, datetime.date):
        return value.isoformat()
    return str(value)


def _go_empty(value: Any) -> bool:
    return not gotemplate.truth(value)


def _flatten(value: Mapping[str, Any]) -> dict[str, str]:
    """jeremywohl/flatten DotStyle with ``%v`` values: what generators' string params and selectors see."""
    out: dict[str, str] = {}

    def walk(prefix: str, node: Any) -> None:
        items = node.items() if isinstance(node, Mapping) else enumerate(node)
        for k, v in items:
            key = f"{prefix}.{k}" if prefix else str(k)
            if isinstance(v, Mapping | list | tuple):
                walk(key, v)
            else:
                out[key] = gotemplate.go_format(v)

    walk("", value)
    return out


def _fill(dst: Any, src: Any) -> Any:
    """mergo.Merge(dst, src) without override: ``dst``'s non-empty values win, maps merge deeply."""
    if isinstance(dst, Mapping) and isinstance(src, Mapping):
        out = dict(dst)
        for k, v in src.items():
            out[k] = _fill(dst[k], v) if k in dst else copy.deepcopy(v)
        return out
    return copy.deepcopy(src) if _go_empty(dst) else dst


def _override(dst: dict[str, Any], src: Mapping[str, Any]) -> None:
    """mergo.Merge(dst, src, WithOverride) on parameter maps: ``src`` wins, nested maps merge."""
    for k, v in src.items():
        if isinstance(v, Mapping) and isinstance(dst.get(k), dict):
            _override(dst[k], v)
        else:
            dst[k] = copy.deepcopy(v)


_TEMPLATED = re.compile(r"\{\{.*\}\}")


def _fasttemplate(source: str, params: Mapping[str, Any]) -> str:
    """Argo CD's non-goTemplate rendering (valyala/fasttemplate with '{{' '}}', tags trimmed): a tag naming
    a string parameter is replaced, any other tag is left as it is."""
    if not _TEMPLATED.search(source):
        return source
    out: list[str] = []
    pos = 0
    while True:
        i = source.find("{{", pos)
        if i < 0:
            out.append(source[pos:])
            return "".join(out)
        j = source.find("}}", i + 2)
        if j < 0:
            raise gotemplate.TemplateError('cannot find end tag "}}"')
        out.append(source[pos:i])
        tag = source[i + 2:j]
        value = params.get(tag.strip())
        out.append(value if tag.strip() and isinstance(value, str) else "{{" + tag + "}}")
        pos = j + 2


def _selects(selector: Mapping[str, Any], labels: Mapping[str, str]) -> bool:
    for k, v in _m(selector.get("matchLabels")).items():
        if labels.get(str(k)) != _key(v):
            return False
    for expr in _l(selector.get("matchExpressions")):
        expr = _m(expr)
        key, op = str(expr.get("key")), str(expr.get("operator"))
        values = [_key(v) for v in _l(expr.get("values"))]
        has = key in labels
        if op == "In":
            ok = has and labels[key] in values
        elif op == "NotIn":
            ok = not has or labels[key] not in values
        elif op == "Exists":
            ok = has
        elif op == "DoesNotExist":
            ok = not has
        else:
            raise ValueError(f"selector operator {op!r} is not In, NotIn, Exists or DoesNotExist")
        if not ok:
            return False
    return True


# --------------------------------------------------------------------------- one side


class _SideContext:
    """What the expansion of one side needs: its files, their content (read once), the estate settings."""

    def __init__(self, side: Side, repo_url: str | None) -> None:
        self.side = side
        self.files = side.files()
        self._content: dict[str, bytes | None] = {}
        self._dirs: list[str] | None = None
        config = self._config()
        repo = _m(config.get("repo"))
        self.repo_url = repo_url if repo_url is not None else (str(repo["url"]) if repo.get("url") else None)
        self.revision = str(repo["revision"]) if repo.get("revision") else None
        self.argocd_namespace = str(_m(config.get("argocd")).get("namespace") or "argocd")

    def _config(self) -> Mapping[str, Any]:
        raw = self.read(layout.CONFIG_FILE)
        if raw is None:
            return {}
        try:
            return _m(yamlio.load(raw))
        except yaml.YAMLError:
            return {}

    def read(self, rel: str) -> bytes | None:
        if rel not in self._content:
            self._content[rel] = self.side.read(rel)
        return self._content[rel]

    def reads(self, url: Any) -> bool:
        return self.repo_url is not None and _norm_url(url) == _norm_url(self.repo_url)

    def follows(self, revision: str) -> bool:
        if self.revision is None:
            return True
        return revision in ("", "HEAD", self.revision, f"refs/heads/{self.revision}")

    def matching_files(self, patterns: list[str], excludes: list[str]) -> list[str]:
        found: set[str] = set()
        for pattern in patterns:
            found |= self._glob_files(pattern)
        for pattern in excludes:
            found -= self._glob_files(pattern)
        return sorted(found)

    def _glob_files(self, pattern: str) -> set[str]:
        # git reads a pathspec relative to the repository root: './x' is 'x'.
        pattern = pattern.removeprefix("./").lstrip("/")
        m = re.search(r"[*?\[]", pattern)
        literal = pattern if m is None else pattern[:m.start()]
        out: set[str] = set()
        i = bisect.bisect_left(self.files, literal)
        while i < len(self.files) and self.files[i].startswith(literal):
            if greedy_match(pattern, self.files[i]):
                out.add(self.files[i])
            i += 1
        return out

    def directories(self) -> list[str]:
        """Every directory of the side, none at or below a directory whose name starts with '.'."""
        if self._dirs is None:
            dirs: set[str] = set()
            for f in self.files:
                parts = f.split("/")[:-1]
                for i in range(1, len(parts) + 1):
                    if parts[i - 1].startswith("."):
                        break
                    dirs.add("/".join(parts[:i]))
            self._dirs = sorted(dirs)
        return self._dirs


# --------------------------------------------------------------------------- one ApplicationSet

_GENERATOR_KINDS = ("list", "clusters", "git", "scmProvider", "clusterDecisionResource", "pullRequest",
                    "matrix", "merge", "plugin")


class _Expander:
    def __init__(self, ctx: _SideContext, rel: str, doc: Mapping[str, Any]) -> None:
        self.ctx = ctx
        self.rel = rel
        meta = _m(doc.get("metadata"))
        self.namespace = str(meta.get("namespace") or ctx.argocd_namespace)
        self.name = f"{self.namespace}/{meta.get('name', '')}"
        spec = _m(doc.get("spec"))
        self.spec = spec
        self.go = spec.get("goTemplate") is True
        self.missingkey = "default"
        for option in _l(spec.get("goTemplateOptions")):
            if str(option).startswith("missingkey="):
                self.missingkey = str(option).split("=", 1)[1]
        self.nested_selectors = spec.get("applyNestedSelectors") is True
        self.applications_sync = str(_m(spec.get("syncPolicy")).get("applicationsSync") or "sync")
        self.unexpanded: list[Unexpanded] = []

    def fail(self, message: str, key: str | None = None) -> GenerationError:
        return GenerationError(self.rel, self.name, message, key=key)

    # ------------------------------------------------------------ templates

    def render_string(self, source: str, params: Mapping[str, Any], where: str) -> str:
        try:
            if self.go:
                return gotemplate.render(source, params, self.missingkey)
            return _fasttemplate(source, params)
        except gotemplate.MissingKeyError as exc:
            raise GenerationError(
                self.rel, self.name,
                f"{where}: template {source!r} reads the key {exc.key!r}, which the generator's parameters do not "
                "have (goTemplateOptions missingkey=error)",
                hint="use a parameter the generator provides (see the ApplicationSet generator docs), or guard it "
                     "with 'hasKey'", key=exc.key) from None
        except gotemplate.TemplateError as exc:
            raise self.fail(f"{where}: template {source!r}: {exc}") from None

    def render_value(self, value: Any, params: Mapping[str, Any], where: str) -> Any:
        if isinstance(value, str):
            return self.render_string(value, params, where)
        if isinstance(value, Mapping):
            return {self.render_string(str(k), params, where): self.render_value(v, params, f"{where}.{k}")
                    for k, v in value.items() if v is not None}
        if isinstance(value, list | tuple):
            return [self.render_value(v, params, f"{where}[{i}]") for i, v in enumerate(value)]
        return value

    # ------------------------------------------------------------ generators

    def generate(self, entry: Any, where: str, depth: int,
                 interp: Mapping[str, Any] | None) -> list[tuple[str, list[dict[str, Any]]]]:
        """(kind, parameter sets) for each generator of the entry; raises _Unknown for what cannot be known."""
        entry = _m(entry)
        results: list[tuple[str, list[dict[str, Any]]]] = []
        for kind, raw in entry.items():
            if kind == "selector" or raw is None:
                continue
            if kind not in ("git", "list", "matrix", "merge"):
                reason = (f"a {kind} generator reads the live Argo CD or an external service"
                          if kind in _GENERATOR_KINDS else f"unknown generator {kind!r}")
                raise _Unknown(f"{where}.{kind}: {reason}")
            if not isinstance(raw, Mapping):
                raise self.fail(f"{where}.{kind} is not a mapping")
            if kind in ("matrix", "merge") and depth >= 2:
                raise self.fail(f"{where}.{kind}: combination generators (matrix, merge) can only be nested once")
            gen: Mapping[str, Any] = raw
            if interp:
                gen = _m(self.render_value(gen, interp, f"{where}.{kind}"))
            here = f"{where}.{kind}"
            if kind == "git":
                params = self.git(gen, here)
            elif kind == "list":
                params = self.list_params(gen, here)
            elif kind == "matrix":
                params = self.matrix(gen, here, depth)
            else:
                params = self.merge(gen, here, depth)
            selector = entry.get("selector")
            if selector is not None and (depth <= 1 or self.nested_selectors):
                try:
                    params = [p for p in params if _selects(_m(selector), _flatten(p))]
                except ValueError as exc:
                    raise self.fail(f"{where}.selector: {exc}") from None
            results.append((kind, params))
        return results

    def child(self, entry: Any, where: str, depth: int, interp: Mapping[str, Any] | None) -> list[dict[str, Any]]:
        results = self.generate(entry, where, depth, interp)
        if not results:
            raise self.fail(f"{where}: child generator generated no parameters (it names no generator)")
        if len(results) > 1:
            raise self.fail(f"{where}: found more than one generator in a child of a matrix or merge")
        return results[0][1]

    def git(self, gen: Mapping[str, Any], where: str) -> list[dict[str, Any]]:
        url = gen.get("repoURL")
        if not self.ctx.reads(url):
            known = self.ctx.repo_url or "unknown: no repo.url in gitops-gen.yaml"
            raise _Unknown(f"{where}: repoURL {url!r} is not the estate's repository ({known})")
        revision = str(gen.get("revision") or "")
        if not self.ctx.follows(revision):
            raise _Unknown(f"{where}: revision {revision!r} is not the branch the estate declares "
                           f"({self.ctx.revision}): its files are not this side's")
        prefix = str(gen.get("pathParamPrefix") or "")
        values = {str(k): "" if v is None else str(v) for k, v in _m(gen.get("values")).items()}
        directories = [_m(x) for x in _l(gen.get("directories"))]
        files = [_m(x) for x in _l(gen.get("files"))]
        out: list[dict[str, Any]] = []
        if directories:
            include = [str(d.get("path", "")) for d in directories if d.get("exclude") is not True]
            exclude = [str(d.get("path", "")) for d in directories if d.get("exclude") is True]
            for d in self.ctx.directories():
                if any(exact_match(p, d) for p in include) and not any(exact_match(p, d) for p in exclude):
                    out.append(self.with_values(self.dir_params(d, prefix), values, where))
            return out
        if files:
            include = [str(f.get("path", "")) for f in files if f.get("exclude") is not True]
            exclude = [str(f.get("path", "")) for f in files if f.get("exclude") is True]
            for rel in self.ctx.matching_files(include, exclude):
                out += [self.with_values(p, values, where) for p in self.file_params(rel, prefix, where)]
            return out
        raise self.fail(f"{where}: the git generator lists neither files nor directories")

    def path_params(self, directory: str, filename: str | None, prefix: str) -> dict[str, Any]:
        base = posixpath.basename(directory) or directory
        params: dict[str, Any] = {}
        if self.go:
            path: dict[str, Any] = {"path": directory, "basename": base,
                                    "basenameNormalized": gotemplate.sanitize_name(base)}
            if filename is not None:
                path["filename"] = filename
                path["filenameNormalized"] = gotemplate.sanitize_name(filename)
            path["segments"] = directory.split("/")
            params[prefix or "path"] = {"path": path} if prefix else path
            return params
        name = f"{prefix}.path" if prefix else "path"
        params[name] = directory
        params[f"{name}.basename"] = base
        params[f"{name}.basenameNormalized"] = gotemplate.sanitize_name(base)
        if filename is not None:
            params[f"{name}.filename"] = filename
            params[f"{name}.filenameNormalized"] = gotemplate.sanitize_name(filename)
        for i, segment in enumerate(directory.split("/")):
            if segment:
                params[f"{name}[{i}]"] = segment
        return params

    def dir_params(self, directory: str, prefix: str) -> dict[str, Any]:
        return self.path_params(directory, None, prefix)

    def file_params(self, rel: str, prefix: str, where: str) -> list[dict[str, Any]]:
        raw = self.ctx.read(rel)
        try:
            doc = first_doc_of(raw if raw is not None else b"")
        except yaml.YAMLError as exc:
            raise self.fail(f"{where}: unable to process file '{rel}': not YAML or JSON ({exc})".replace("\n", " ")) \
                from None
        data = _jsonish(doc)
        if data is None:
            objects: list[Any] = [{}]
        elif isinstance(data, dict):
            objects = [data]
        elif isinstance(data, list) and all(isinstance(x, dict) for x in data):
            objects = data
        else:
            raise self.fail(f"{where}: unable to process file '{rel}': it holds neither an object nor a list of "
                            "objects")
        directory = posixpath.dirname(rel) or "."
        filename = posixpath.basename(rel)
        out: list[dict[str, Any]] = []
        for obj in objects:
            params: dict[str, Any] = dict(obj) if self.go else dict(_flatten(obj))
            params.update(self.path_params(directory, filename, prefix))
            out.append(params)
        return out

    def with_values(self, params: dict[str, Any], values: Mapping[str, str], where: str) -> dict[str, Any]:
        rendered = {k: self.render_string(v, params, f"{where}.values.{k}") for k, v in values.items()}
        if rendered:
            if self.go:
                params["values"] = rendered
            else:
                params.update({f"values.{k}": v for k, v in rendered.items()})
        return params

    def list_params(self, gen: Mapping[str, Any], where: str) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        for i, raw in enumerate(_l(gen.get("elements"))):
            element = _jsonish(raw)
            if not isinstance(element, dict):
                raise self.fail(f"{where}.elements[{i}] is not an object")
            if self.go:
                out.append(element)
                continue
            params: dict[str, Any] = {}
            for k, v in element.items():
                if k == "values":
                    if not isinstance(v, dict) or not all(isinstance(x, str) for x in v.values()):
                        raise self.fail(f"{where}.elements[{i}].values: error parsing values map (string values "
                                        "only without goTemplate)")
                    params.update({f"values.{vk}": vv for vk, vv in v.items()})
                elif isinstance(v, str):
                    params[k] = v
                else:
                    raise self.fail(f"{where}.elements[{i}].{k}: error parsing value as string (without goTemplate "
                                    "list elements hold strings only)")
            out.append(params)
        elements_yaml = gen.get("elementsYaml")
        if elements_yaml:
            try:
                parsed = _jsonish(yamlio.load(str(elements_yaml)))
            except yaml.YAMLError as exc:
                raise self.fail(f"{where}.elementsYaml: {exc}".replace("\n", " ")) from None
            if parsed is not None and not (isinstance(parsed, list) and all(isinstance(x, dict) for x in parsed)):
                raise self.fail(f"{where}.elementsYaml is not a list of objects")
            out += parsed or []
        return out

    def matrix(self, gen: Mapping[str, Any], where: str, depth: int) -> list[dict[str, Any]]:
        children = _l(gen.get("generators"))
        if len(children) != 2:
            raise self.fail(f"{where}: found {'less' if len(children) < 2 else 'more'} than two generators, "
                            "Matrix support only two")
        out: list[dict[str, Any]] = []
        for first in self.child(children[0], f"{where}.generators[0]", depth + 1, None):
            for second in self.child(children[1], f"{where}.generators[1]", depth + 1, first or None):
                if self.go:
                    merged: dict[str, Any] = {}
                    _override(merged, second)
                    _override(merged, first)
                    out.append(merged)
                    continue
                a = {k: gotemplate.go_format(v) for k, v in first.items()}
                b = {k: gotemplate.go_format(v) for k, v in second.items()}
                for k, v in b.items():
                    if k in a and a[k] != v:
                        raise self.fail(f"{where}: found duplicate key {k} with different value, a: {a[k]} ,b: {v}",)
                out.append({**a, **b})
        return out

    def merge(self, gen: Mapping[str, Any], where: str, depth: int) -> list[dict[str, Any]]:
        children = _l(gen.get("generators"))
        if len(children) < 2:
            raise self.fail(f"{where}: found less than two generators, Merge requires two or more")
        keys = sorted({str(k) for k in _l(gen.get("mergeKeys"))})
        if not keys:
            raise self.fail(f"{where}: no merge keys were specified, Merge requires at least one")
        sets = [copy.deepcopy(self.child(c, f"{where}.generators[{i}]", depth + 1, None))
                for i, c in enumerate(children)]
        base = self.by_merge_key(keys, sets[0], where)
        for other in sets[1:]:
            overrides = self.by_merge_key(keys, other, where)
            for key, params in base.items():
                if key not in overrides:
                    continue
                if self.go:
                    _override(params, overrides[key])
                else:
                    base[key] = {**{k: gotemplate.go_format(v) for k, v in params.items()},
                                 **{k: gotemplate.go_format(v) for k, v in overrides[key].items()}}
        return list(base.values())

    def by_merge_key(self, keys: list[str], sets: list[dict[str, Any]], where: str) -> dict[str, dict[str, Any]]:
        out: dict[str, dict[str, Any]] = {}
        for params in sets:
            key = json.dumps({k: params.get(k) for k in keys}, sort_keys=True, default=str)
            if key in out:
                raise self.fail(f"{where}: the parameters from a generator were not unique by the given mergeKeys, "
                                f"Merge requires all param sets to be unique. Duplicate key was {key}")
            out[key] = params
        return out

    # ------------------------------------------------------------ Applications

    def expand(self) -> list[Application]:
        template = _m(self.spec.get("template"))
        if self.spec.get("templatePatch"):
            self.unexpanded.append(Unexpanded(self.rel, self.name, "spec.templatePatch",
                                              "templatePatch is not applied offline: the fields it patches may "
                                              "differ from what Argo CD generates"))
        apps: list[Application] = []
        for i, entry in enumerate(_l(self.spec.get("generators"))):
            where = f"spec.generators[{i}]"
            try:
                results = self.generate(entry, where, 0, None)
            except _Unknown as exc:
                self.unexpanded.append(Unexpanded(self.rel, self.name, where, str(exc)))
                continue
            if not results:
                raise self.fail(f"{where}: contains no recognised generator")
            for kind, param_sets in results:
                merged = _fill(_m(_m(_m(entry).get(kind)).get("template")), template)
                for params in param_sets:
                    apps.append(self.application(merged, params))
        seen: set[str] = set()
        for app in apps:
            if app.name in seen:
                raise self.fail(f"contains applications with duplicate name: {app.name}")
            seen.add(app.name)
        return apps

    def application(self, template: Mapping[str, Any], params: Mapping[str, Any]) -> Application:
        doc = _m(self.render_value(template, params, "spec.template")) if params else template
        meta, spec = _m(doc.get("metadata")), _m(doc.get("spec"))
        name = str(meta.get("name") or "")
        if not name:
            raise self.fail("a generated Application has no metadata.name")
        labels = _m(meta.get("labels"))
        sources = [_m(s) for s in _l(spec.get("sources"))] or [_m(spec.get("source"))]

        def joined(field: str) -> str:
            return ", ".join(str(s.get(field) or "") for s in sources)

        paths = ", ".join(str(s.get("path") or (f"chart {s['chart']}" if s.get("chart") else "")) for s in sources)
        destination = _m(spec.get("destination"))
        sync = _m(spec.get("syncPolicy"))
        automated = sync.get("automated")
        if not isinstance(automated, Mapping) or automated.get("enabled") is False:
            mode = "manual"
        else:
            on = [k for k in ("prune", "selfHeal", "allowEmpty") if automated.get(k) in (True, "true")]
            mode = "+".join(on) or "automated"
        tenant, cluster = labels.get(LABEL_TENANT), labels.get(LABEL_CLUSTER) or cluster_of(self.rel)
        return Application(
            name=name,
            project=str(spec.get("project") or "default"),
            repo_url=joined("repoURL"),
            target_revision=joined("targetRevision"),
            path=paths,
            destination_server=str(destination["server"]) if destination.get("server") else None,
            destination_name=str(destination["name"]) if destination.get("name") else None,
            namespace=str(destination.get("namespace") or ""),
            sync_options=tuple(str(o) for o in _l(sync.get("syncOptions"))),
            automated=mode,
            appset=self.rel,
            tenant=None if tenant is None else str(tenant),
            cluster=None if cluster is None else str(cluster),
            applications_sync=self.applications_sync,
        )


# --------------------------------------------------------------------------- public API

_APPSET = re.compile(rb"""kind["']?\s*:\s*["']?ApplicationSet\b""")


def expand_applicationsets(side: Side, repo_url: str | None = None) -> ArgoExpansion:
    """The Applications every ApplicationSet under clusters/ and argocd/ generates, and what was skipped.

    ``repo_url``: the estate's repository (git generators reading another one cannot be expanded); None
    reads ``repo.url`` from the side's gitops-gen.yaml. Raises ``GenerationError`` where Argo CD would fail.
    """
    ctx = _SideContext(side, repo_url)
    apps: dict[str, Application] = {}
    owners: dict[str, str] = {}
    unexpanded: list[Unexpanded] = []
    for rel in yaml_files(ctx.files, layout.CLUSTERS_DIR, layout.ARGOCD_DIR):
        data = ctx.read(rel)
        if data is None or not _APPSET.search(data):
            continue
        for doc in docs_of(data):
            if doc.get("kind") != "ApplicationSet" or not str(doc.get("apiVersion", "")).startswith("argoproj.io/"):
                continue
            expander = _Expander(ctx, rel, doc)
            for app in expander.expand():
                key = f"{expander.namespace}/{app.name}"
                if key in apps:
                    raise GenerationError(rel, expander.name,
                                          f"generates Application {key}, which ApplicationSet {owners[key]} generates "
                                          "too: Argo CD lets only one ApplicationSet own an Application",
                                          hint="rename one of them (the template's metadata.name)")
                apps[key] = app
                owners[key] = f"{expander.name} ({rel})"
            unexpanded += expander.unexpanded
    return ArgoExpansion(dict(sorted(apps.items())), tuple(unexpanded))


_GLOB_CHARS = re.compile(r"[*?\[{]")


def _reads_within(generator: Mapping[str, Any], roots: tuple[str, ...]) -> bool:
    """Whether a generator reads nothing but files below ``roots`` (a list reads none)."""
    kinds = [k for k in generator if k in _GENERATOR_KINDS]
    if len(kinds) != 1:
        return False
    kind, spec = kinds[0], _m(generator[kinds[0]])
    if kind == "list":
        return True
    if kind in ("matrix", "merge"):
        return all(isinstance(g, Mapping) and _reads_within(g, roots) for g in _l(spec.get("generators")))
    if kind != "git" or spec.get("directories"):
        return False
    for f in _l(spec.get("files")):
        path = str(_m(f).get("path") or "").removeprefix("./")
        fixed = _GLOB_CHARS.split(path, 1)[0]
        if "{{" in path or not any(fixed.startswith(root + "/") for root in roots):
            return False
    return True


def reads_only_under(appset: Mapping[str, Any], root: str) -> bool:
    """Whether an ApplicationSet's generators read nothing but files below ``root``."""
    generators = _l(_m(appset.get("spec")).get("generators"))
    return all(isinstance(g, Mapping) and _reads_within(g, (root,)) for g in generators)


def mentions_applicationset(data: bytes) -> bool:
    return _APPSET.search(data) is not None


def inputs_confined(side: Side) -> bool:
    """Whether the side's controller objects are a function of its files under clusters/ and argocd/ and
    of gitops-gen.yaml alone: true when every ApplicationSet's generators read files only there (as
    those gitops-gen writes do). Then a change touching none of those leaves every Application and Flux
    Kustomization as it was."""
    roots = (layout.CLUSTERS_DIR, layout.ARGOCD_DIR)
    for rel in side_yaml_files(side, *roots):
        data = side.read(rel)
        if data is None or not _APPSET.search(data):
            continue
        for doc in docs_of(data):
            if doc.get("kind") == "ApplicationSet" and not all(
                    isinstance(g, Mapping) and _reads_within(g, roots)
                    for g in _l(_m(doc.get("spec")).get("generators"))):
                return False
    return True


def generated_applications(side: Side, repo_url: str | None = None) -> dict[str, Application]:
    """The Applications the side's ApplicationSets generate, keyed '<namespace>/<name>' (see module doc)."""
    return expand_applicationsets(side, repo_url).applications
