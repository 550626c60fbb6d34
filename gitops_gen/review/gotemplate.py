"""A small, safe subset of Go's ``text/template`` with the Sprig functions Argo CD ApplicationSets use.

Argo CD renders ``goTemplate: true`` ApplicationSets with Go's ``text/template`` and the Sprig library
(argo-cd applicationset/utils/utils.go: ``template.New("").Funcs(sprigFuncMap).Parse(tmpl)``, options
from ``goTemplateOptions``). This module evaluates the same language offline, for the constructs and
functions listed below; anything else raises ``UnsupportedError`` rather than guessing.

Supported:
- actions ``{{ pipeline }}``, whitespace trimming ``{{-`` / ``-}}``, comments ``{{/* */}}``;
- ``.`` and field chains (``.a.b``), ``$`` and variables (``$x := ...``, ``$x = ...``), parenthesised
  pipelines with field chains, string (interpreted and raw), number, boolean and ``nil`` constants;
- pipelines ``.p | lower`` (the value is passed as the last argument);
- ``if`` / ``else if`` / ``else``, ``with`` / ``else with`` / ``else``, ``range`` (lists, maps in key
  order, integers; ``$i, $e :=``; ``else``; ``break``; ``continue``);
- Go built-ins ``index len not and or eq ne lt le gt ge print println printf`` (printf: ``%s %v %d
  %q %t %%`` without flags or widths);
- Sprig ``lower upper title trim trimAll trimPrefix trimSuffix replace contains hasPrefix hasSuffix
  nospace repeat trunc substr quote squote cat toString default empty coalesce ternary join splitList
  split list dict first last rest initial hasKey get b64enc sha256sum`` and Argo CD's ``normalize``;
- ``missingkey=error`` (a missing map key raises ``MissingKeyError``); otherwise a missing key prints
  ``<no value>``, as Go does.

Not supported: ``define``, ``template``, ``block``, methods, other Sprig functions (``toJson``,
``toYaml``, ``regex*``, ``slugify`` ...). Values follow Go's printing rules (``fmt``'s ``%v``): numbers
read from YAML or JSON are float64 in Argo CD, so ``1000000`` prints ``1e+06``.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any


class TemplateError(Exception):
    """The template cannot be parsed or executed (Argo CD fails the ApplicationSet the same way)."""


class MissingKeyError(TemplateError):
    """``missingkey=error`` and the template reads a key the parameters do not have."""

    def __init__(self, key: str) -> None:
        super().__init__(f'map has no entry for key "{key}"')
        self.key = key


class UnsupportedError(TemplateError):
    """Valid Go template syntax or a Sprig function this offline subset does not evaluate."""


class _NoValue:
    """Go's invalid reflect.Value: what a missing key evaluates to without missingkey=error."""

    _instance: _NoValue | None = None

    def __new__(cls) -> _NoValue:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "<no value>"


NO_VALUE = _NoValue()
_NOFINAL = object()
_SPACE = " \t\r\n"


# --------------------------------------------------------------------------- Go value printing

def go_float(value: float) -> str:
    """``fmt.Sprintf("%v", float64)``: Go's 'g' format with the shortest precision, exponent form when the
    decimal exponent is < -4 or >= 6 (1000000 prints 1e+06, 123456 prints 123456)."""
    if value != value:
        return "NaN"
    if value in (float("inf"), float("-inf")):
        return "+Inf" if value > 0 else "-Inf"
    if value == 0:
        return "-0" if str(value).startswith("-") else "0"
    sign, digits, exponent = Decimal(repr(value)).as_tuple()
    assert isinstance(exponent, int)
    ds = "".join(map(str, digits)).rstrip("0") or "0"
    exponent += len(digits) - len(ds)
    nd = len(ds)
    dp = nd + exponent  # position of the decimal point in ds
    exp = dp - 1
    neg = "-" if sign else ""
    if exp < -4 or exp >= 6:
        mant = ds[0] + ("." + ds[1:] if nd > 1 else "")
        return f"{neg}{mant}e{'-' if exp < 0 else '+'}{abs(exp):02d}"
    if dp <= 0:
        return f"{neg}0.{'0' * -dp}{ds}"
    if dp >= nd:
        return f"{neg}{ds}{'0' * (dp - nd)}"
    return f"{neg}{ds[:dp]}.{ds[dp:]}"


def go_format(value: Any) -> str:
    """``fmt.Sprintf("%v", value)`` for the values YAML and JSON produce."""
    if value is None or value is NO_VALUE:
        return "<nil>"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return go_float(value)
    if isinstance(value, str):
        return value
    if isinstance(value, list | tuple):
        return "[" + " ".join(go_format(v) for v in value) + "]"
    if isinstance(value, Mapping):
        return "map[" + " ".join(f"{go_format(k)}:{go_format(value[k])}" for k in sorted(value, key=str)) + "]"
    return str(value)


def _printable(value: Any) -> str:
    return "<no value>" if value is None or value is NO_VALUE else go_format(value)


def go_type(value: Any) -> str:
    if value is None or value is NO_VALUE:
        return "<nil>"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int"
    if isinstance(value, float):
        return "float64"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list | tuple):
        return "[]interface {}"
    if isinstance(value, Mapping):
        return "map[string]interface {}"
    return type(value).__name__


def truth(value: Any) -> bool:
    """Go's template truth: false, 0, nil and empty strings, lists and maps are false."""
    if value is None or value is NO_VALUE:
        return False
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float):
        return value != 0
    if isinstance(value, str | list | tuple | Mapping):
        return len(value) > 0
    return True


def sanitize_name(name: str) -> str:
    """Argo CD's ``SanitizeName`` (the ``normalize`` function, ``basenameNormalized``): lower case,
    characters outside [-a-z0-9.] replaced by '-', at most 253 characters, '-' and '.' trimmed."""
    name = re.sub(r"[^-a-z0-9.]", "-", name.lower())[:253]
    return name.strip("-.")


# --------------------------------------------------------------------------- lexing

@dataclass(frozen=True)
class _Tok:
    kind: str  # str num bool nil ident field var dot punct declare assign
    value: Any
    space: bool  # whitespace before it


_NUMBER = re.compile(r"[+-]?(?:0[xX][0-9a-fA-F_]+|0[bB][01_]+|0[oO][0-7_]+|"
                     r"(?:\d[\d_]*(?:\.[\d_]*)?|\.\d[\d_]*)(?:[eE][+-]?\d+)?)")
_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_ESCAPES = {"a": "\a", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t", "v": "\v", "\\": "\\",
            '"': '"', "'": "'"}


def _unquote(src: str, start: int, quote: str) -> tuple[str, int]:
    """The Go string or char literal opening at ``start``; returns its value and the end position."""
    out: list[str] = []
    k = start + 1
    while True:
        if k >= len(src) or src[k] == "\n":
            raise TemplateError("unterminated quoted string")
        c = src[k]
        if c == quote:
            return "".join(out), k + 1
        if c != "\\":
            out.append(c)
            k += 1
            continue
        e = src[k + 1] if k + 1 < len(src) else ""
        if e in _ESCAPES:
            out.append(_ESCAPES[e])
            k += 2
        elif e in "xuU":
            width = {"x": 2, "u": 4, "U": 8}[e]
            digits = src[k + 2:k + 2 + width]
            if len(digits) != width or not all(d in "0123456789abcdefABCDEF" for d in digits):
                raise TemplateError("bad escape in quoted string")
            out.append(chr(int(digits, 16)))
            k += 2 + width
        elif e in "01234567":
            digits = src[k + 1:k + 4]
            out.append(chr(int(digits, 8)))
            k += 4
        else:
            raise TemplateError(f"unknown escape sequence \\{e}")


def _lex_action(src: str, k: int) -> tuple[list[_Tok], int, bool]:
    """Tokens of the action starting at ``k`` (after ``{{`` and a trim marker); returns the position after
    ``}}`` and whether it ends with a right trim marker."""
    toks: list[_Tok] = []
    space = True
    n = len(src)
    while True:
        if k >= n:
            raise TemplateError("unclosed action")
        c = src[k]
        if c in _SPACE and src.startswith("-}}", k + 1):
            return toks, k + 4, True
        if src.startswith("}}", k):
            return toks, k + 2, False
        if c in _SPACE:
            k += 1
            space = True
            continue
        if c == '"':
            text, k = _unquote(src, k, '"')
            toks.append(_Tok("str", text, space))
        elif c == "`":
            end = src.find("`", k + 1)
            if end < 0:
                raise TemplateError("unterminated raw quoted string")
            toks.append(_Tok("str", src[k + 1:end], space))
            k = end + 1
        elif c == "'":
            text, k = _unquote(src, k, "'")
            if len(text) != 1:
                raise TemplateError("malformed character constant")
            toks.append(_Tok("num", ord(text), space))
        elif c in "()|,":
            toks.append(_Tok("punct", c, space))
            k += 1
        elif c == ":" and src.startswith(":=", k):
            toks.append(_Tok("declare", ":=", space))
            k += 2
        elif c == "=":
            toks.append(_Tok("assign", "=", space))
            k += 1
        elif c == "$":
            m = _IDENT.match(src, k + 1)
            name = "$" + (m.group() if m else "")
            toks.append(_Tok("var", name, space))
            k += len(name)
        elif c == "." and k + 1 < n and (src[k + 1].isalpha() or src[k + 1] == "_"):
            m = _IDENT.match(src, k + 1)
            assert m is not None
            toks.append(_Tok("field", m.group(), space))
            k = m.end()
        elif c.isdigit() or (c in "+-." and k + 1 < n and src[k + 1].isdigit()):
            m = _NUMBER.match(src, k)
            if m is None or (m.end() < n and (src[m.end()].isalnum() or src[m.end()] == "_")):
                raise TemplateError(f"bad number syntax: {src[k:k + 10]!r}")
            text = m.group().replace("_", "")
            is_float = not text.lstrip("+-").lower().startswith("0x") and any(ch in text for ch in ".eE")
            if is_float:
                number: int | float = float(text)
            elif re.fullmatch(r"[+-]?0\d+", text):
                number = int(text, 8)  # Go: a leading 0 means octal
            else:
                number = int(text, 0)
            toks.append(_Tok("num", number, space))
            k = m.end()
        elif c == ".":
            toks.append(_Tok("dot", ".", space))
            k += 1
        elif c.isalpha() or c == "_":
            m = _IDENT.match(src, k)
            assert m is not None
            word = m.group()
            if word in ("true", "false"):
                toks.append(_Tok("bool", word == "true", space))
            elif word == "nil":
                toks.append(_Tok("nil", None, space))
            else:
                toks.append(_Tok("ident", word, space))
            k = m.end()
        else:
            raise TemplateError(f"unexpected {c!r} in action")
        space = False


# --------------------------------------------------------------------------- parse tree

@dataclass
class _Const:
    value: Any


@dataclass
class _Dot:
    pass


@dataclass
class _Field:
    names: list[str]


@dataclass
class _Var:
    name: str
    names: list[str] = field(default_factory=list)


@dataclass
class _Ident:
    name: str


@dataclass
class _Chain:
    node: Any  # a _Pipe
    names: list[str]


@dataclass
class _Pipe:
    decl: list[str]
    assign: bool
    cmds: list[list[Any]]


@dataclass
class _Text:
    text: str


@dataclass
class _Action:
    pipe: _Pipe


@dataclass
class _Control:
    kind: str  # if with range
    pipe: _Pipe
    body: list[Any] = field(default_factory=list)
    else_body: list[Any] | None = None


@dataclass
class _Jump:
    kind: str  # break continue


class _Parser:
    def __init__(self, toks: list[_Tok], declared: set[str]) -> None:
        self.toks = toks
        self.i = 0
        self.declared = declared

    def peek(self) -> _Tok | None:
        return self.toks[self.i] if self.i < len(self.toks) else None

    def next(self) -> _Tok:
        tok = self.peek()
        if tok is None:
            raise TemplateError("unexpected end of action")
        self.i += 1
        return tok

    def pipeline(self, allow_two: bool = False) -> _Pipe:
        decl: list[str] = []
        assign = False
        tok = self.peek()
        if tok is not None and tok.kind == "var":
            save = self.i
            self.i += 1
            after = self.peek()
            if after is not None and after.kind in ("declare", "assign"):
                self.i += 1
                decl, assign = [tok.value], after.kind == "assign"
            elif after is not None and after.kind == "punct" and after.value == "," and allow_two:
                self.i += 1
                second = self.next()
                op = self.next()
                if second.kind != "var" or op.kind not in ("declare", "assign"):
                    raise TemplateError("range can only initialize variables")
                decl, assign = [tok.value, second.value], op.kind == "assign"
            else:
                self.i = save
        for name in decl:
            if assign and name not in self.declared:
                raise TemplateError(f"undefined variable: {name}")
            self.declared.add(name)
        cmds = [self.command()]
        while (tok := self.peek()) is not None and tok.kind == "punct" and tok.value == "|":
            self.i += 1
            cmds.append(self.command())
        return _Pipe(decl, assign, cmds)

    def command(self) -> list[Any]:
        args: list[Any] = []
        while (tok := self.peek()) is not None and not (tok.kind == "punct" and tok.value in "|)"):
            args.append(self.operand())
        if not args:
            raise TemplateError("missing value for command")
        return args

    def operand(self) -> Any:
        term = self.term()
        names: list[str] = []
        while (tok := self.peek()) is not None and tok.kind == "field" and not tok.space:
            names.append(self.next().value)
        if not names:
            return term
        if isinstance(term, _Field):
            return _Field(term.names + names)
        if isinstance(term, _Var):
            return _Var(term.name, term.names + names)
        if isinstance(term, _Chain):
            return _Chain(term.node, term.names + names)
        raise TemplateError("unexpected . after term")

    def term(self) -> Any:
        tok = self.next()
        if tok.kind in ("str", "num", "bool", "nil"):
            return _Const(tok.value)
        if tok.kind == "dot":
            return _Dot()
        if tok.kind == "field":
            return _Field([tok.value])
        if tok.kind == "var":
            if tok.value not in self.declared:
                raise TemplateError(f"undefined variable: {tok.value}")
            return _Var(tok.value)
        if tok.kind == "ident":
            if tok.value in ("if", "else", "end", "range", "with", "define", "template", "block", "break",
                             "continue"):
                raise TemplateError(f"unexpected {tok.value} in operand")
            return _Ident(tok.value)
        if tok.kind == "punct" and tok.value == "(":
            pipe = self.pipeline()
            close = self.next()
            if close.kind != "punct" or close.value != ")":
                raise TemplateError("unclosed left paren")
            return _Chain(pipe, [])
        raise TemplateError(f"unexpected {tok.value!r} in operand")


@dataclass
class _Frame:
    node: _Control
    outer: list[Any]
    chained: bool


def _parse(src: str) -> list[Any]:
    root: list[Any] = []
    current = root
    stack: list[_Frame] = []
    declared = {"$"}
    pos, n = 0, len(src)
    while pos <= n:
        i = src.find("{{", pos)
        text = src[pos:] if i < 0 else src[pos:i]
        j = i + 2
        trim_left = i >= 0 and src.startswith("-", j) and j + 1 < n and src[j + 1] in _SPACE
        if trim_left:
            text = text.rstrip(_SPACE)
            j += 2
        if text:
            current.append(_Text(text))
        if i < 0:
            break
        if src.startswith("/*", j):
            end = src.find("*/", j + 2)
            if end < 0:
                raise TemplateError("unclosed comment")
            k = end + 2
            if k < n and src[k] in _SPACE and src.startswith("-}}", k + 1):
                pos = k + 4
                while pos < n and src[pos] in _SPACE:
                    pos += 1
            elif src.startswith("}}", k):
                pos = k + 2
            else:
                raise TemplateError("comment ends before closing delimiter")
            continue
        toks, pos, trim_right = _lex_action(src, j)
        if trim_right:
            while pos < n and src[pos] in _SPACE:
                pos += 1
        if not toks:
            raise TemplateError("missing value for command")
        head = toks[0]
        word = head.value if head.kind == "ident" else None
        if word in ("if", "with", "range"):
            parser = _Parser(toks[1:], declared)
            node = _Control(str(word), parser.pipeline(allow_two=word == "range"))
            if parser.peek() is not None:
                raise TemplateError(f"unexpected {parser.peek()!r} in {word}")
            current.append(node)
            stack.append(_Frame(node, current, chained=False))
            current = node.body
        elif word == "else":
            if not stack or stack[-1].node.else_body is not None:
                raise TemplateError("unexpected {{else}}")
            frame = stack[-1]
            frame.node.else_body = []
            current = frame.node.else_body
            if len(toks) > 1 and toks[1].kind == "ident" and toks[1].value in ("if", "with"):
                parser = _Parser(toks[2:], declared)
                node = _Control(str(toks[1].value), parser.pipeline())
                if parser.peek() is not None:
                    raise TemplateError(f"unexpected {parser.peek()!r} in else")
                current.append(node)
                stack.append(_Frame(node, current, chained=True))
                current = node.body
            elif len(toks) > 1:
                raise TemplateError("unexpected tokens after else")
        elif word == "end":
            if not stack or len(toks) > 1:
                raise TemplateError("unexpected {{end}}")
            frame = stack.pop()
            while frame.chained:
                frame = stack.pop()
            current = frame.outer
        elif word in ("break", "continue"):
            if not any(f.node.kind == "range" for f in stack) or len(toks) > 1:
                raise TemplateError(f"{{{{{word}}}}} outside {{{{range}}}}")
            current.append(_Jump(str(word)))
        elif word in ("define", "template", "block"):
            raise UnsupportedError(f"{{{{{word}}}}} is not supported")
        else:
            parser = _Parser(toks, declared)
            pipe = parser.pipeline()
            if parser.peek() is not None:
                raise TemplateError(f"unexpected {parser.peek().value!r} in operand")  # type: ignore[union-attr]
            current.append(_Action(pipe))
    if stack:
        raise TemplateError("unexpected EOF: an {{if}}, {{with}} or {{range}} has no {{end}}")
    return root


# --------------------------------------------------------------------------- functions

def _index(item: Any, *indexes: Any) -> Any:
    for idx in indexes:
        if item is None or item is NO_VALUE:
            raise TemplateError("index of untyped nil")
        if isinstance(item, Mapping):
            if not isinstance(idx, str):
                raise TemplateError(f"value has type {go_type(idx)}; should be string")
            item = item.get(idx)
        elif isinstance(item, list | tuple | str):
            if not isinstance(idx, int) or isinstance(idx, bool):
                raise TemplateError(f"cannot index slice/array with type {go_type(idx)}")
            if not 0 <= idx < len(item):
                raise TemplateError(f"index out of range: {idx}")
            item = ord(item[idx]) if isinstance(item, str) else item[idx]
        else:
            raise TemplateError(f"can't index item of type {go_type(item)}")
    return item


def _len(item: Any) -> int:
    if isinstance(item, str | list | tuple | Mapping):
        return len(item)
    raise TemplateError(f"len of type {go_type(item)}")


def _num(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    return float(value) if isinstance(value, int | float) else None


def _eq(a: Any, *others: Any) -> bool:
    if not others:
        raise TemplateError("missing argument for comparison")
    for b in others:
        na, nb = _num(a), _num(b)
        if na is not None and nb is not None:
            if na == nb:
                return True
        elif isinstance(a, list | dict) or isinstance(b, list | dict):
            raise TemplateError("non-comparable types")
        elif (a is NO_VALUE and b is None) or (a is None and b is NO_VALUE) or a == b:
            return True
    return False


def _order(a: Any, b: Any) -> int:
    na, nb = _num(a), _num(b)
    if na is not None and nb is not None:
        return (na > nb) - (na < nb)
    if isinstance(a, str) and isinstance(b, str):
        return (a > b) - (a < b)
    raise TemplateError(f"incompatible types for comparison: {go_type(a)} and {go_type(b)}")


def _sprint(*args: Any) -> str:
    out = ""
    for i, a in enumerate(args):
        if i and not isinstance(a, str) and not isinstance(args[i - 1], str):
            out += " "
        out += go_format(a)
    return out


_VERB = re.compile(r"%(.)")


def _printf(fmt: str, *args: Any) -> str:
    out: list[str] = []
    queue = list(args)
    pos = 0
    for m in _VERB.finditer(fmt):
        if m.start() < pos:
            continue
        out.append(fmt[pos:m.start()])
        pos = m.end()
        verb = m.group(1)
        if verb == "%":
            out.append("%")
            continue
        if verb not in "svdqt":
            raise UnsupportedError(f"printf verb %{verb} (only %s %v %d %q %t without flags or widths)")
        if not queue:
            out.append(f"%!{verb}(MISSING)")
            continue
        arg = queue.pop(0)
        ok = {"s": isinstance(arg, str | list | tuple | Mapping), "v": True,
              "d": isinstance(arg, int) and not isinstance(arg, bool), "q": isinstance(arg, str),
              "t": isinstance(arg, bool)}[verb]
        if not ok:
            out.append(f"%!{verb}({go_type(arg)}={go_format(arg)})")
        elif verb == "q":
            out.append(json.dumps(arg, ensure_ascii=False))
        else:
            out.append(go_format(arg))
    out.append(fmt[pos:])
    if queue:
        out.append("%!(EXTRA " + ", ".join(f"{go_type(a)}={go_format(a)}" for a in queue) + ")")
    return "".join(out)


def _title(s: str) -> str:
    out, prev_sep = [], True
    for c in s:
        out.append(c.upper() if prev_sep else c)
        prev_sep = not (c.isalnum() or c == "_")
    return "".join(out)


def _strval(v: Any) -> str:
    return v if isinstance(v, str) else go_format(v)


def _strslice(v: Any) -> list[str]:
    if isinstance(v, list | tuple):
        return [_strval(x) for x in v if x is not None]
    if v is None or v is NO_VALUE:
        return []
    return [_strval(v)]


def _empty(v: Any) -> bool:
    return not truth(v)


def _default(d: Any, *given: Any) -> Any:
    return d if not given or _empty(given[0]) else given[0]


def _trunc(c: int, s: str) -> str:
    if c < 0 and len(s) + c > 0:
        return s[len(s) + c:]
    if c >= 0 and len(s) > c:
        return s[:c]
    return s


def _substr(start: int, end: int, s: str) -> str:
    if start < 0:
        return s[:end]
    if end < 0 or end > len(s):
        return s[start:]
    return s[start:end]


def _split_list(sep: str, orig: str) -> list[str]:
    return list(orig) if sep == "" else orig.split(sep)


def _list_of(v: Any, fn: str) -> list[Any]:
    if isinstance(v, list | tuple):
        return list(v)
    raise TemplateError(f"Cannot find {fn} on type {go_type(v)}")


def _dict(*pairs: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for i in range(0, len(pairs), 2):
        out[_strval(pairs[i])] = pairs[i + 1] if i + 1 < len(pairs) else ""
    return out


def _quote(*args: Any) -> str:
    return " ".join(json.dumps(_strval(a), ensure_ascii=False) for a in args if a is not None)


def _map_arg(d: Any) -> Mapping[str, Any]:
    if not isinstance(d, Mapping):
        raise TemplateError(f"wrong type for value; expected map[string]interface {{}}; got {go_type(d)}")
    return d


#: name -> (parameter kinds: s string, i int, b bool, a any; a leading '*' makes it variadic, last only), impl
_FUNCS: dict[str, tuple[tuple[str, ...], Callable[..., Any]]] = {
    "index": (("a", "*a"), _index),
    "len": (("a",), _len),
    "not": (("a",), lambda a: not truth(a)),
    "eq": (("a", "*a"), _eq),
    "ne": (("a", "a"), lambda a, b: not _eq(a, b)),
    "lt": (("a", "a"), lambda a, b: _order(a, b) < 0),
    "le": (("a", "a"), lambda a, b: _order(a, b) <= 0),
    "gt": (("a", "a"), lambda a, b: _order(a, b) > 0),
    "ge": (("a", "a"), lambda a, b: _order(a, b) >= 0),
    "print": (("*a",), _sprint),
    "println": (("*a",), lambda *a: " ".join(go_format(x) for x in a) + "\n"),
    "printf": (("s", "*a"), _printf),
    "lower": (("s",), str.lower),
    "upper": (("s",), str.upper),
    "title": (("s",), _title),
    "trim": (("s",), lambda s: s.strip()),
    "trimAll": (("s", "s"), lambda cut, s: s.strip(cut)),
    "trimPrefix": (("s", "s"), lambda prefix, s: s.removeprefix(prefix)),
    "trimSuffix": (("s", "s"), lambda suffix, s: s.removesuffix(suffix)),
    "replace": (("s", "s", "s"), lambda old, new, src: src.replace(old, new)),
    "contains": (("s", "s"), lambda sub, s: sub in s),
    "hasPrefix": (("s", "s"), lambda prefix, s: s.startswith(prefix)),
    "hasSuffix": (("s", "s"), lambda suffix, s: s.endswith(suffix)),
    "nospace": (("s",), lambda s: re.sub(r"\s", "", s)),
    "repeat": (("i", "s"), lambda count, s: s * max(count, 0)),
    "trunc": (("i", "s"), _trunc),
    "substr": (("i", "i", "s"), _substr),
    "quote": (("*a",), _quote),
    "squote": (("*a",), lambda *a: " ".join(f"'{_strval(x)}'" for x in a if x is not None)),
    "cat": (("*a",), lambda *a: " ".join(go_format(x) for x in a if x is not None)),
    "toString": (("a",), _strval),
    "default": (("a", "*a"), _default),
    "empty": (("a",), _empty),
    "coalesce": (("*a",), lambda *a: next((x for x in a if not _empty(x)), None)),
    "ternary": (("a", "a", "b"), lambda vt, vf, cond: vt if cond else vf),
    "join": (("s", "a"), lambda sep, v: sep.join(_strslice(v))),
    "splitList": (("s", "s"), _split_list),
    "split": (("s", "s"), lambda sep, s: {f"_{i}": p for i, p in enumerate(_split_list(sep, s))}),
    "list": (("*a",), lambda *a: list(a)),
    "dict": (("*a",), _dict),
    "first": (("a",), lambda v: (_list_of(v, "first") or [None])[0]),
    "last": (("a",), lambda v: (_list_of(v, "last") or [None])[-1]),
    "rest": (("a",), lambda v: _list_of(v, "rest")[1:]),
    "initial": (("a",), lambda v: _list_of(v, "initial")[:-1]),
    "hasKey": (("a", "s"), lambda d, k: k in _map_arg(d)),
    "get": (("a", "s"), lambda d, k: _map_arg(d).get(k, "")),
    "b64enc": (("s",), lambda s: base64.b64encode(s.encode()).decode()),
    "sha256sum": (("s",), lambda s: hashlib.sha256(s.encode()).hexdigest()),
    "normalize": (("s",), sanitize_name),
}


def _convert(kind: str, value: Any) -> Any:
    if kind == "a":
        return None if value is NO_VALUE else value
    if kind == "s":
        if isinstance(value, str):
            return value
        if value is None or value is NO_VALUE:
            raise TemplateError("invalid value; expected string")
        raise TemplateError(f"wrong type for value; expected string; got {go_type(value)}")
    if kind == "i":
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        raise TemplateError(f"wrong type for value; expected int; got {go_type(value)}")
    if isinstance(value, bool):
        return value
    raise TemplateError(f"wrong type for value; expected bool; got {go_type(value)}")


# --------------------------------------------------------------------------- execution

class _Jumped(Exception):
    def __init__(self, kind: str) -> None:
        super().__init__(kind)
        self.kind = kind


class _Exec:
    def __init__(self, data: Any, missingkey: str) -> None:
        self.error_on_missing = missingkey == "error"
        self.vars: list[tuple[str, Any]] = [("$", data)]
        self.out: list[str] = []

    def lookup(self, name: str) -> Any:
        for var, value in reversed(self.vars):
            if var == name:
                return value
        raise TemplateError(f"undefined variable: {name}")

    def assign(self, name: str, value: Any) -> None:
        for i in range(len(self.vars) - 1, -1, -1):
            if self.vars[i][0] == name:
                self.vars[i] = (name, value)
                return
        raise TemplateError(f"undefined variable: {name}")

    def walk(self, nodes: list[Any], dot: Any) -> None:
        for node in nodes:
            if isinstance(node, _Text):
                self.out.append(node.text)
            elif isinstance(node, _Action):
                value = self.pipe(dot, node.pipe)
                if not node.pipe.decl:
                    self.out.append(_printable(value))
            elif isinstance(node, _Control):
                mark = len(self.vars)
                try:
                    if node.kind == "range":
                        self.range(node, dot)
                    else:
                        value = self.pipe(dot, node.pipe)
                        if truth(value):
                            self.walk(node.body, value if node.kind == "with" else dot)
                        elif node.else_body is not None:
                            self.walk(node.else_body, dot)
                finally:
                    del self.vars[mark:]
            elif isinstance(node, _Jump):
                raise _Jumped(node.kind)

    def range(self, node: _Control, dot: Any) -> None:
        pipe = _Pipe([], False, node.pipe.cmds)
        value = self.pipe(dot, pipe)
        if isinstance(value, Mapping):
            items: list[tuple[Any, Any]] = [(k, value[k]) for k in sorted(value, key=str)]
        elif isinstance(value, list | tuple):
            items = list(enumerate(value))
        elif isinstance(value, int) and not isinstance(value, bool):
            items = [(i, i) for i in range(value)]
        elif value is None or value is NO_VALUE:
            items = []
        else:
            raise TemplateError(f"range can't iterate over {go_format(value)}")
        if not items:
            if node.else_body is not None:
                self.walk(node.else_body, dot)
            return
        decl = node.pipe.decl
        for key, elem in items:
            mark = len(self.vars)
            if len(decl) == 1:
                self.set_var(decl[0], elem, node.pipe.assign)
            elif len(decl) == 2:
                self.set_var(decl[0], key, node.pipe.assign)
                self.set_var(decl[1], elem, node.pipe.assign)
            try:
                self.walk(node.body, elem)
            except _Jumped as jump:
                if jump.kind == "break":
                    break
            finally:
                if not node.pipe.assign:
                    del self.vars[mark:]

    def set_var(self, name: str, value: Any, assign: bool) -> None:
        if assign:
            self.assign(name, value)
        else:
            self.vars.append((name, value))

    def pipe(self, dot: Any, pipe: _Pipe) -> Any:
        value: Any = _NOFINAL
        for cmd in pipe.cmds:
            value = self.command(dot, cmd, value)
        for name in pipe.decl:
            self.set_var(name, value, pipe.assign)
        return value

    def command(self, dot: Any, cmd: list[Any], final: Any) -> Any:
        first = cmd[0]
        if isinstance(first, _Ident):
            return self.call(first.name, cmd[1:], final, dot)
        if len(cmd) > 1 or final is not _NOFINAL:
            raise TemplateError(f"can't give argument to non-function {self.describe(first)}")
        return self.arg(dot, first)

    def describe(self, node: Any) -> str:
        if isinstance(node, _Field):
            return "." + ".".join(node.names)
        if isinstance(node, _Var):
            return node.name + "".join("." + n for n in node.names)
        if isinstance(node, _Const):
            return go_format(node.value)
        return type(node).__name__.strip("_").lower()

    def arg(self, dot: Any, node: Any) -> Any:
        if isinstance(node, _Const):
            return node.value
        if isinstance(node, _Dot):
            return dot
        if isinstance(node, _Field):
            return self.fields(dot, node.names)
        if isinstance(node, _Var):
            return self.fields(self.lookup(node.name), node.names)
        if isinstance(node, _Chain):
            return self.fields(self.pipe(dot, node.node), node.names)
        if isinstance(node, _Ident):
            return self.call(node.name, [], _NOFINAL, dot)
        raise TemplateError(f"can't evaluate {node!r}")

    def fields(self, value: Any, names: list[str]) -> Any:
        for name in names:
            if value is NO_VALUE:
                if self.error_on_missing:
                    raise TemplateError(f'nil data; no entry for key "{name}"')
                return NO_VALUE
            if value is None:
                raise TemplateError(f"nil pointer evaluating interface {{}}.{name}")
            if not isinstance(value, Mapping):
                raise TemplateError(f"can't evaluate field {name} in type {go_type(value)}")
            if name in value:
                value = value[name]
            elif self.error_on_missing:
                raise MissingKeyError(name)
            else:
                value = NO_VALUE
        return value

    def call(self, name: str, arg_nodes: list[Any], final: Any, dot: Any) -> Any:
        if name in ("and", "or"):
            nodes = list(arg_nodes)
            if not nodes and final is _NOFINAL:
                raise TemplateError(f"wrong number of args for {name}: want at least 1 got 0")
            value: Any = None
            count = len(nodes) + (final is not _NOFINAL)
            for i in range(count):
                value = self.arg(dot, nodes[i]) if i < len(nodes) else final
                if truth(value) != (name == "and"):
                    return value
            return value
        if name not in _FUNCS:
            raise UnsupportedError(f'function "{name}" is not defined, or not supported by gitops-gen\'s '
                                   "offline expansion")
        kinds, impl = _FUNCS[name]
        args = [self.arg(dot, n) for n in arg_nodes]
        if final is not _NOFINAL:
            args.append(final)
        variadic = kinds[-1].startswith("*") if kinds else False
        fixed = kinds[:-1] if variadic else kinds
        if (len(args) < len(fixed)) if variadic else (len(args) != len(fixed)):
            want = f"at least {len(fixed)}" if variadic else str(len(fixed))
            raise TemplateError(f"wrong number of args for {name}: want {want} got {len(args)}")
        converted = [_convert(fixed[i] if i < len(fixed) else kinds[-1][1:], a) for i, a in enumerate(args)]
        try:
            return impl(*converted)
        except TemplateError:
            raise
        except (TypeError, ValueError, IndexError, KeyError) as exc:
            raise TemplateError(f"error calling {name}: {exc}") from None


@dataclass(frozen=True)
class Template:
    source: str
    nodes: tuple[Any, ...]

    def execute(self, data: Any, missingkey: str = "default") -> str:
        """Render with ``data`` as dot; ``missingkey`` is Go's option: 'error', or 'default'/'zero'/'invalid'."""
        run = _Exec(data, missingkey)
        try:
            run.walk(list(self.nodes), data)
        except _Jumped:  # pragma: no cover - the parser only accepts break/continue inside range
            raise TemplateError("break or continue outside range") from None
        return "".join(run.out)


@functools.lru_cache(maxsize=4096)
def parse(source: str) -> Template:
    """Parse a Go template (cached: an ApplicationSet renders the same strings for every parameter set)."""
    return Template(source, tuple(_parse(source)))


def render(source: str, data: Any, missingkey: str = "default") -> str:
    if "{{" not in source:
        return source
    return parse(source).execute(data, missingkey)
