"""The one YAML module.

Generated files are dumped with PyYAML in a canonical form (same data, same bytes).
Bulk reads use LibYAML's C loader. Files people edit (declarations) are read and written
with ruamel.yaml round-trip so their comments and key order survive edits.
"""

from __future__ import annotations

import io
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any

import yaml

if TYPE_CHECKING:
    from ruamel.yaml import YAML

try:
    from yaml import CSafeDumper as _Dumper
    from yaml import CSafeLoader as _Loader
except ImportError:  # pragma: no cover - only without LibYAML
    from yaml import SafeDumper as _Dumper  # type: ignore[assignment]
    from yaml import SafeLoader as _Loader  # type: ignore[assignment]


class _PlainDumper(_Dumper):
    """Writes a value shared by several keys in full each time: manifests people read and kustomize
    patches never carry YAML anchors and aliases (``&id001``/``*id001``)."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


def dump_docs(docs: Iterable[Any], header: str = "") -> str:
    """Dump documents canonically, separated by ``---``, with an optional comment header."""
    parts = [
        yaml.dump(doc, Dumper=_PlainDumper, sort_keys=False, default_flow_style=False, width=4096, allow_unicode=True)
        for doc in docs
    ]
    return header + "---\n".join(parts)


def dump(doc: Any, header: str = "") -> str:
    return dump_docs([doc], header)


class _NotPlain(Exception):
    """A value ``dump_fast`` leaves to PyYAML (a multi-line or very long scalar, a long or non-string key)."""


_SCALARS: dict[tuple[type, Any], str] = {}


def _scalar(value: Any) -> str:
    """PyYAML's own rendering of one scalar, memoised: strings repeat across thousands of objects."""
    key = (type(value), value)
    text = _SCALARS.get(key)
    if text is None:
        text = yaml.dump(value, Dumper=_PlainDumper, width=4096, allow_unicode=True)
        text = text[:-5] if text.endswith("\n...\n") else text.rstrip("\n")
        if "\n" in text:
            raise _NotPlain
        if len(_SCALARS) > 200_000:
            _SCALARS.clear()
        _SCALARS[key] = text
    return text


def _key(value: Any) -> str:
    if not isinstance(value, str) or len(value) > 120:
        raise _NotPlain  # PyYAML writes such keys in the '? key' form
    return _scalar(value)


def _block(node: Any, pad: str, first: str, out: list[str]) -> None:
    """``node`` (a non-empty dict or list) at indentation ``pad``; its first line starts with ``first``
    (the parent sequence's '- ') instead of ``pad``."""
    lead = first
    if isinstance(node, dict):
        for k, v in node.items():
            head = f"{lead}{_key(k)}:"
            lead = pad
            if isinstance(v, dict) and v:
                out.append(head + "\n")
                _block(v, pad + "  ", pad + "  ", out)
            elif isinstance(v, list) and v:
                out.append(head + "\n")
                _block(v, pad, pad, out)  # PyYAML indents no sequence under a mapping key
            else:
                out.append(f"{head} {_value(v)}\n")
        return
    for item in node:
        if isinstance(item, (dict, list)) and item:
            _block(item, pad + "  ", lead + "- ", out)
        else:
            out.append(f"{lead}- {_value(item)}\n")
        lead = pad


def _value(v: Any) -> str:
    if isinstance(v, dict):
        return "{}"
    if isinstance(v, list):
        return "[]"
    return _scalar(v)


def dump_fast(doc: Any) -> str:
    """The text ``dump`` writes for JSON-like data (dicts, lists, scalars), several times faster: the
    structure is written here and each scalar is rendered by PyYAML once. Whatever it does not handle
    (a multi-line or very long scalar, an unusual key) goes to ``dump`` whole."""
    if isinstance(doc, (dict, list)) and doc:
        out: list[str] = []
        try:
            _block(doc, "", "", out)
            return "".join(out)
        except _NotPlain:
            pass
    return dump(doc)


def load(text: str | bytes) -> Any:
    return yaml.load(text, Loader=_Loader)


def load_all(text: str | bytes) -> Iterator[Any]:
    return (d for d in yaml.load_all(text, Loader=_Loader) if d is not None)


class StrictYAMLError(ValueError):
    """A declaration uses what ``load_strict`` refuses; ``line`` (1-based) is where, ``other`` the first
    occurrence of a duplicated key."""

    def __init__(self, problem: str, line: int | None, other: int | None = None) -> None:
        super().__init__(problem)
        self.problem = problem
        self.line = line
        self.other = other


#: Line breaks YAML knows besides LF and CR (PyYAML reads NEL, LS and PS as line breaks too).
_UNICODE_BREAKS = ("\x85", "\u2028", "\u2029")


def normalize_line_breaks(text: str) -> str:
    """Every line break YAML recognises (CRLF, CR, NEL, LS, PS) as LF: line-based readers then see the
    lines the YAML parser sees."""
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    for brk in _UNICODE_BREAKS:
        if brk in text:
            text = text.replace(brk, "\n")
    return text


def _line(mark: Any) -> int | None:
    return int(mark.line) + 1 if mark is not None else None


def load_strict(text: str | bytes) -> Any:
    """Load one document of a declaration people write, refusing what they never need there and what turns
    a small file against its readers: anchors and aliases (an alias bomb expands exponentially in anything
    that walks the tree) and duplicate keys (YAML keeps the last one silently). Linear in the file's size;
    raises StrictYAMLError naming the line (and for a duplicate both lines), yaml.YAMLError for bad syntax."""
    amp, star = ("&", "*") if isinstance(text, str) else (b"&", b"*")
    if amp in text or star in text:  # type: ignore[operator]  # cheap filter: an anchor or alias needs one
        for event in yaml.parse(text, Loader=_Loader):
            if isinstance(event, yaml.AliasEvent):
                raise StrictYAMLError(f"uses the YAML alias '*{event.anchor}'", _line(event.start_mark))
            anchor = getattr(event, "anchor", None)
            if anchor:
                raise StrictYAMLError(f"uses the YAML anchor '&{anchor}'", _line(event.start_mark))
    loader = _Loader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        _refuse_duplicate_keys(node)
        return loader.construct_document(node)
    finally:
        loader.dispose()


def _refuse_duplicate_keys(root: yaml.Node) -> None:
    stack = [root]
    while stack:
        node = stack.pop()
        if isinstance(node, yaml.MappingNode):
            seen: dict[tuple[str, Any], int] = {}
            for key, value in node.value:
                if isinstance(key, yaml.ScalarNode):
                    ident = (key.tag, key.value)
                    line = _line(key.start_mark) or 0
                    if ident in seen:
                        raise StrictYAMLError(f"has the key {key.value!r} twice, on lines {seen[ident]} and {line}",
                                              line, seen[ident])
                    seen[ident] = line
                stack.append(value)
        elif isinstance(node, yaml.SequenceNode):
            stack.extend(node.value)


def _round_trip() -> YAML:
    # Imported here: ruamel.yaml costs tens of milliseconds, and most commands never edit a declaration.
    from ruamel.yaml import YAML

    rt = YAML(typ="rt")
    rt.preserve_quotes = True
    rt.indent(mapping=2, sequence=4, offset=2)
    rt.width = 4096
    return rt


def load_declaration(text: str) -> Any:
    """Round-trip load: the result keeps comments and records line numbers (``.lc``)."""
    return _round_trip().load(text)


def dump_declaration(doc: Any) -> str:
    out = io.StringIO()
    _round_trip().dump(doc, out)
    return out.getvalue()


def line_of(node: Any, key: str | int | None = None) -> int | None:
    """1-based line of ``node`` (or of ``node[key]``) in a round-trip loaded document."""
    lc = getattr(node, "lc", None)
    if lc is None:
        return None
    try:
        if key is None:
            return int(lc.line) + 1
        from ruamel.yaml.comments import CommentedMap

        if isinstance(node, CommentedMap):
            return int(lc.key(key)[0]) + 1
        return int(lc.item(key)[0]) + 1
    except (KeyError, IndexError, TypeError, AttributeError):
        return int(lc.line) + 1
