"""What ``kustomize build`` prints, read back into objects about four times faster than PyYAML.

kustomize writes every object through ``sigs.k8s.io/yaml`` ``JSONToYAML`` (api/resource ``AsYAML``),
that is go-yaml v2's emitter fed with JSON values: block mappings with sorted keys, sequences at
their key's indentation, scalars plain, single- or double-quoted, or literal blocks, long ones folded
at 80 columns, no anchors, tags, comments or flow collections but ``{}`` and ``[]``. Parsing that with
the C loader still builds every object through PyYAML's Python constructor, about 5 ms of a tenant
overlay's 20 ms (README, validate and diff). ``parse_build`` reads exactly that subset line by line and
resolves plain scalars with PyYAML's own resolver and constructor, so it yields what
``yamlio.load_all`` yields; anything outside the subset raises ``Unsupported`` and ``load_build`` falls
back to ``yamlio.load_all``.
"""

from __future__ import annotations

from typing import Any

from yaml.constructor import SafeConstructor
from yaml.nodes import ScalarNode
from yaml.resolver import Resolver

from gitops_gen import yamlio

_STR_TAG = "tag:yaml.org,2002:str"
_SCALAR_TAGS = {_STR_TAG, "tag:yaml.org,2002:null", "tag:yaml.org,2002:bool", "tag:yaml.org,2002:int",
                "tag:yaml.org,2002:float", "tag:yaml.org,2002:timestamp"}
#: What starts a value that is not a plain scalar, or not one of this subset (anchors, aliases, tags,
#: flow collections, folded blocks, directives, complex keys).
_NOT_PLAIN = frozenset("'\"|>&*![{%@`?#,")
_ESCAPES = {"0": "\0", "a": "\a", "b": "\b", "t": "\t", "\t": "\t", "n": "\n", "v": "\v", "f": "\f",
            "r": "\r", "e": "\x1b", " ": " ", '"': '"', "/": "/", "\\": "\\", "N": "\x85", "_": "\xa0",
            "L": "\u2028", "P": "\u2029"}
_HEX = {"x": 2, "u": 4, "U": 8}


class Unsupported(ValueError):
    """The text uses YAML outside what kustomize prints: read it with the full parser."""


_resolver = Resolver()
_constructor = SafeConstructor()
_plain: dict[str, Any] = {}
#: "key: value" lines read before, with their key and value (most lines repeat from overlay to overlay).
_lines: dict[str, tuple[Any, Any]] = {}
_IMMUTABLE = (str, int, float, bool, type(None))


def _resolve_plain(text: str) -> Any:
    """A plain scalar as PyYAML's SafeLoader constructs it (YAML 1.1: ``yes`` is True, ``0x1F`` is 31)."""
    try:
        return _plain[text]
    except KeyError:
        pass
    tag = _resolver.resolve(ScalarNode, text, (True, False))  # type: ignore[no-untyped-call]
    if tag not in _SCALAR_TAGS:
        raise Unsupported(f"plain scalar {text!r} resolves to {tag}")
    value = text if tag == _STR_TAG else _constructor.construct_object(ScalarNode(tag, text))
    if len(_plain) > 200_000:
        _plain.clear()
    _plain[text] = value
    return value


def _double_quoted(body: str) -> str:
    if "\\" not in body:
        return body
    out: list[str] = []
    i, n = 0, len(body)
    while i < n:
        c = body[i]
        if c != "\\":
            out.append(c)
            i += 1
            continue
        if i + 1 >= n:
            raise Unsupported("escaped line break in a double-quoted scalar")
        e = body[i + 1]
        if e in _ESCAPES:
            out.append(_ESCAPES[e])
            i += 2
        elif e in _HEX:
            digits = body[i + 2:i + 2 + _HEX[e]]
            if len(digits) != _HEX[e]:
                raise Unsupported("short escape in a double-quoted scalar")
            out.append(chr(int(digits, 16)))
            i += 2 + _HEX[e]
        else:
            raise Unsupported(f"unknown escape \\{e}")
    return "".join(out)


class _Reader:
    """One document's lines, as (indent, content) pairs, read top-down."""

    def __init__(self, lines: list[str]) -> None:
        self.indent = [len(line) - len(line.lstrip(" ")) for line in lines]
        self.content = [line.lstrip(" ") for line in lines]
        self.i = 0
        self.n = len(lines)

    def node(self, indent: int) -> Any:
        """The block collection that starts at line ``i``, at ``indent``."""
        content = self.content[self.i]
        if content == "-" or content.startswith("- "):
            return self.sequence(indent)
        return self.mapping(indent)

    def _skip_blank(self) -> None:
        while self.i < self.n and not self.content[self.i]:
            self.i += 1

    def mapping(self, indent: int) -> dict[Any, Any]:
        out: dict[Any, Any] = {}
        ind, con, n, lines = self.indent, self.content, self.n, _lines
        i = self.i
        while i < n:
            content = con[i]
            if not content:
                i += 1
                continue
            at = ind[i]
            if at != indent:
                if at < indent:
                    break
                raise Unsupported(f"line {i + 1}: unexpected indentation")
            hit = lines.get(content)
            # A line read before, unless the next one continues its scalar.
            if hit is not None and (i + 1 == n or (con[i + 1] and ind[i + 1] <= indent)):
                out[hit[0]] = hit[1]
                i += 1
                continue
            self.i = i
            key, rest = self._key(content)
            if rest:
                value = out[key] = self.scalar(rest, indent)
                if self.i == i + 1 and type(value) in _IMMUTABLE:
                    if len(lines) > 200_000:
                        lines.clear()
                    lines[content] = (key, value)
                i = self.i
                continue
            i += 1
            while i < n and not con[i]:
                i += 1
            self.i = i
            if i < n and ind[i] == indent and (con[i] == "-" or con[i].startswith("- ")):
                out[key] = self.sequence(indent)
            elif i < n and ind[i] > indent:
                out[key] = self.node(ind[i])
            else:
                out[key] = None
            i = self.i
        self.i = i
        return out

    def _key(self, content: str) -> tuple[Any, str]:
        """A mapping line's key, and what follows ``: `` (empty when the value is on the next lines)."""
        first = content[0]
        if first == '"' or first == "'":
            end = self._quote_end(content, 0)
            key: Any = (_double_quoted(content[1:end]) if first == '"'
                        else content[1:end].replace("''", "'"))
            tail = content[end + 1:]
        elif (first in _NOT_PLAIN and first != "?") or (first in "-?:" and content[1:2] in ("", " ")):
            raise Unsupported(f"line {self.i + 1}: key {content[:20]!r}")
        else:
            colon = content.find(": ")
            if colon < 0:
                if not content.endswith(":"):
                    raise Unsupported(f"line {self.i + 1}: no key")
                colon = len(content) - 1
            plain = content[:colon]
            if " #" in plain or plain.endswith(" "):
                raise Unsupported(f"line {self.i + 1}: key {plain!r}")
            key = _resolve_plain(plain)
            tail = content[colon:]
        if tail == ":":
            return key, ""
        if not tail.startswith(": ") or len(tail) == 2:
            raise Unsupported(f"line {self.i + 1}: no value after the key")
        return key, tail[2:]

    def _quote_end(self, content: str, start: int) -> int:
        """Index of the quote closing the one at ``start`` on this line."""
        q = content[start]
        i = start + 1
        while True:
            j = content.find(q, i)
            if j < 0:
                raise Unsupported(f"line {self.i + 1}: quoted scalar continues on the next line")
            if q == "'":
                if content[j + 1:j + 2] == "'":
                    i = j + 2
                    continue
                return j
            backslashes = 0
            k = j - 1
            while k > start and content[k] == "\\":
                backslashes += 1
                k -= 1
            if backslashes % 2 == 0:
                return j
            i = j + 1

    def sequence(self, indent: int) -> list[Any]:
        out: list[Any] = []
        while True:
            self._skip_blank()
            if self.i >= self.n or self.indent[self.i] < indent:
                return out
            content = self.content[self.i]
            if self.indent[self.i] != indent or not (content == "-" or content.startswith("- ")):
                return out
            rest = content[2:].lstrip(" ")
            if not rest:
                self.i += 1
                self._skip_blank()
                if self.i < self.n and self.indent[self.i] > indent:
                    out.append(self.node(self.indent[self.i]))
                else:
                    out.append(None)
                continue
            inner = indent + len(content) - len(rest)
            if rest == "-" or rest.startswith("- ") or self._is_mapping_line(rest):
                # "- key: value" or "- - item": the rest of the line starts a collection one level in.
                self.indent[self.i], self.content[self.i] = inner, rest
                out.append(self.node(inner))
            else:
                out.append(self.scalar(rest, indent))

    @staticmethod
    def _is_mapping_line(rest: str) -> bool:
        first = rest[0]
        if first == '"' or first == "'":
            return False if rest[-1:] == first and ": " not in rest else _quoted_key_line(rest)
        if first in _NOT_PLAIN and first != "?":
            return False
        return ": " in rest or rest.endswith(":")

    def scalar(self, text: str, parent: int) -> Any:
        """A scalar starting at line ``i`` (``text``), with its continuation lines deeper than ``parent``."""
        first = text[0]
        if first == '"' or first == "'":
            end = self._quote_end(text, 0)
            if end != len(text) - 1:
                raise Unsupported(f"line {self.i + 1}: text after a quoted scalar")
            self.i += 1
            body = text[1:end]
            return _double_quoted(body) if first == '"' else body.replace("''", "'")
        if first == "|":
            return self.literal(text, parent)
        if text == "{}":
            self.i += 1
            return {}
        if text == "[]":
            self.i += 1
            return []
        if (first in _NOT_PLAIN and first != "?") or first == " " or text[-1] == " " or " #" in text \
                or ": " in text or text[-1] == ":" or (first in "-?:" and text[1:2] in ("", " ")):
            raise Unsupported(f"line {self.i + 1}: value {text[:20]!r}")
        self.i += 1
        parts = None
        while self.i < self.n and self.indent[self.i] > parent and self.content[self.i]:
            more = self.content[self.i]
            if " #" in more or ": " in more or more[-1] in ": ":
                raise Unsupported(f"line {self.i + 1}: continuation {more[:20]!r}")
            if parts is None:
                parts = [text]
            parts.append(more)
            self.i += 1
        if parts is not None:
            if self.i < self.n and not self.content[self.i]:
                raise Unsupported(f"line {self.i + 1}: blank line in a plain scalar")
            text = " ".join(parts)
        return _resolve_plain(text)

    def literal(self, header: str, parent: int) -> str:
        """A literal block scalar (``|``, ``|-``, ``|+``): its lines deeper than ``parent``, as written."""
        if header not in ("|", "|-", "|+"):
            raise Unsupported(f"line {self.i + 1}: block scalar header {header!r}")
        self.i += 1
        start = self.i
        while self.i < self.n and (not self.content[self.i] or self.indent[self.i] > parent):
            self.i += 1
        lines = list(range(start, self.i))
        body = [k for k in lines if self.content[k]]
        if not body:
            raise Unsupported("empty block scalar")
        width = self.indent[body[0]]
        if any(self.indent[k] < width for k in body) or any(self.indent[k] > width for k in lines[:lines.index(
                body[0])]):
            raise Unsupported("block scalar indentation")
        texts = [(" " * (self.indent[k] - width) + self.content[k]) if self.content[k] else "" for k in lines]
        # Trailing empty lines belong to the chomping; the emitter never writes lines of spaces.
        while texts and not texts[-1]:
            texts.pop()
        kept = len(lines) - len(texts)
        if header == "|+":
            # Empty lines after the text also belong to the next node; keep chomping to what is certain.
            if self.i < self.n:
                raise Unsupported("keep-chomped block scalar before more content")
            return "\n".join(texts) + "\n" * (1 + kept)
        text = "\n".join(texts)
        return text + "\n" if header == "|" else text


def _quoted_key_line(rest: str) -> bool:
    q = rest[0]
    i = 1
    while True:
        j = rest.find(q, i)
        if j < 0:
            return False
        if q == "'" and rest[j + 1:j + 2] == "'":
            i = j + 2
            continue
        if q == '"':
            k, bs = j - 1, 0
            while k > 0 and rest[k] == "\\":
                bs += 1
                k -= 1
            if bs % 2:
                i = j + 1
                continue
        tail = rest[j + 1:]
        return tail == ":" or tail.startswith(": ")


def parse_build(text: str) -> list[Any]:
    """The objects of ``kustomize build`` output; raises ``Unsupported`` for YAML outside its subset."""
    if "\r" in text or "\t" in text or "\x85" in text or "\u2028" in text or "\u2029" in text or "\ufeff" in text:
        raise Unsupported("line breaks or tabs kustomize does not write")
    if text and not text.endswith("\n"):
        raise Unsupported("no line break at the end")  # every line below is read as ending in one
    docs: list[Any] = []
    for chunk in text.split("\n---\n") if not text.startswith("---\n") else text[4:].split("\n---\n"):
        lines = chunk.split("\n")
        if any(line.startswith(("---", "...")) for line in lines):
            raise Unsupported("document marker inside a document")
        reader = _Reader(lines)
        reader._skip_blank()
        if reader.i >= reader.n:
            continue
        if reader.indent[reader.i] != 0:
            raise Unsupported("document does not start at column 0")
        doc = reader.node(0)
        reader._skip_blank()
        if reader.i < reader.n:
            raise Unsupported(f"line {reader.i + 1}: content after the document")
        if doc is not None:
            docs.append(doc)
    return docs


def load_build(text: str) -> list[Any]:
    """The objects of ``kustomize build`` output, as ``yamlio.load_all`` reads them."""
    try:
        return parse_build(text)
    except Unsupported:
        return list(yamlio.load_all(text))

