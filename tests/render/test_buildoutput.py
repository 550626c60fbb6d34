"""The fast reader of ``kustomize build`` output yields what PyYAML yields, on what real kustomize prints."""

from __future__ import annotations

import os
import random
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from gitops_gen import yamlio
from gitops_gen.render.buildoutput import Unsupported, load_build, parse_build
from gitops_gen.render.kustomize import KUSTOMIZE_ENV, kustomize_command, render_overlay
from tests.tools import PROJECT_ROOT, overlays, require_kustomize

#: Strings whose YAML form is anything but plain: YAML 1.1 booleans, numbers, dates and nulls written as
#: strings, indicators, quotes, comments, leading and trailing spaces, line breaks, escapes, unicode.
TRICKY = [
    "", " ", "yes", "No", "ON", "off", "y", "n", "true", "False", "null", "~", "NULL", "0", "07", "0777", "0x1F",
    "0b101", "1_000", "1e3", "1e+06", "1.5", ".5", "-1", "+1", "1:20", "1:20.5", ".inf", "-.Inf", ".nan",
    "2001-12-14", "2001-12-14t21:59:43.10-05:00", "- x", "-x", "-", "--", "---", "...", "? x", "?x",
    ": x", ":x", "::1", "x: y", "x:y", "x #y", "x#y", "#x", "*x", "&x", "!x", "%x", "@x", "`x", "|x", ">x",
    "'x'", '"x"', "it's", 'say "hi"', "[x]", "{x}", "x, y", "a\\b", "tab\there", "line\nbreak", "two\n\nbreaks",
    "trailing\n", "trailing\n\n", "\nleading", "  indented\nlines", "x ", " x", "é", "日本語", "😀", "\x07bell",
    "\x00nul", "\u2028ls", "\x85nel", "a" * 200, ("word " * 40).strip(), ("key: value " * 12).strip(),
    "try { Invoke-WebRequest -Uri http://localhost/wfgen -UseBasicParsing -TimeoutSec 10 | Out-Null; exit 1 } "
    "catch { if ($_.Exception.Response.StatusCode.value__ -eq 401) { exit 0 } else { exit 1 } }",
    ("'quoted' words " * 10).strip(), ("é " * 60).strip(), ("\t " * 50).strip(), "C:\\wfgen\\data",
]


def _build(tmp: Path, docs: list[dict[str, Any]]) -> str:
    require_kustomize()
    (tmp / "objects.yaml").write_text(yamlio.dump_docs(docs), encoding="utf-8")
    (tmp / "kustomization.yaml").write_text("namespace: t1\nresources:\n- objects.yaml\n", encoding="utf-8")
    proc = subprocess.run([*kustomize_command(), str(tmp)], capture_output=True, text=True, check=True,
                          env={**os.environ, **KUSTOMIZE_ENV})
    return proc.stdout


def _config_map(name: str, data: dict[str, Any], annotations: dict[str, str] | None = None) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name, "labels": {"app": name}}
    if annotations:
        meta["annotations"] = annotations
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta, "data": data}


def test_tricky_strings_read_as_pyyaml_reads_them(tmp_path: Path) -> None:
    docs = [_config_map("values", {f"k{i:03d}": s for i, s in enumerate(TRICKY)}),
            # Keys Go's YAML reads as numbers, or with a line break, make kustomize fail: not in its output.
            _config_map("keys", {s: "v" for s in TRICKY if s and "\n" not in s and "\x85" not in s
                                 and s not in ("1e3", "1e+06")}),
            _config_map("annotations", {"a": "b"}, {f"example.com/a{i:03d}": s for i, s in enumerate(TRICKY)})]
    text = _build(tmp_path, docs)
    want = list(yamlio.load_all(text))
    assert load_build(text) == want
    by_name = {d["metadata"]["name"]: d for d in want}
    assert by_name["values"]["data"]["k002"] == "yes" and by_name["values"]["data"]["k064"] == "tab\there"
    assert by_name["annotations"]["metadata"]["annotations"]["example.com/a000"] == ""


def test_random_strings_and_structures(tmp_path: Path) -> None:
    """Random strings from YAML's special characters, in keys, values, lists, nested maps and numbers: each
    document the fast reader takes is what PyYAML reads, and it takes most of them."""
    rng = random.Random(20261202)
    alphabet = [*"ab xyz019:-#'\"\\{}[],&*!|>%@`?~.\n\t", "é", "\x01", "  ", ": ", " #", "- "]

    def word(chars: list[str] = alphabet) -> str:
        return "".join(rng.choice(chars) for _ in range(rng.randint(0, 12)))

    def key() -> str:
        return word([*"abcxyz019-_./:?~", "é"]) + "k"

    docs = []
    for i in range(40):
        spec: dict[str, Any] = {
            "values": {key(): word() for _ in range(6)},
            "list": [word() for _ in range(4)] + [rng.randint(-10**12, 10**12), rng.random(), True, None, [], {}],
            "nested": [{"name": word(), "items": [[word(), 3], {key(): {}}]} for _ in range(2)],
        }
        if i % 4 == 0:
            spec["long"] = " ".join(word() for _ in range(30))
        docs.append({"apiVersion": "example.com/v1", "kind": "Thing", "metadata": {"name": f"thing-{i}"},
                     "spec": spec})
    text = _build(tmp_path, docs)
    assert load_build(text) == list(yamlio.load_all(text))
    fast = 0
    for part in text.split("\n---\n"):
        chunk = part if part.endswith("\n") else part + "\n"  # the line break before the next "---"
        try:
            got = parse_build(chunk)
        except Unsupported:
            continue
        assert got == list(yamlio.load_all(chunk)), chunk
        fast += 1
    assert fast >= 20


def test_a_rendered_overlay_needs_no_fallback(tmp_path: Path) -> None:
    """What gitops-gen's overlays render to is inside the subset: the fast path is the one taken."""
    for overlay in overlays(PROJECT_ROOT):
        text = render_overlay(PROJECT_ROOT, overlay)
        assert parse_build(text) == list(yamlio.load_all(text)), overlay


def test_output_pyyaml_cannot_read_fails_as_before(tmp_path: Path) -> None:
    """kustomize prints the strings '<<' and '=' plain, which PyYAML reads as a merge key and the value tag:
    the fast reader declines them, so reading fails with PyYAML's own error, as it did before."""
    text = _build(tmp_path, [_config_map("merge", {"a": "<<", "b": "="})])
    with pytest.raises(Unsupported):
        parse_build(text)
    with pytest.raises(yaml.constructor.ConstructorError):
        load_build(text)


@pytest.mark.parametrize("text", [
    "a: &x 1\nb: *x\n",          # anchors and aliases
    "a: !!str 1\n",              # tags
    "a: [1, 2]\n",               # flow collections
    "a: >\n  folded\n",          # folded blocks
    "a: 1 # comment\n",          # comments
    "? complex\n: key\n",        # complex keys
    "a: |2\n   indented\n",      # indentation indicators
    "a: x\tb\n",                 # tabs
    "a: 'open\n  quote'\n",      # quoted scalars over several lines
])
def test_yaml_outside_the_subset_falls_back(text: str) -> None:
    with pytest.raises(Unsupported):
        parse_build(text)
    assert load_build(text) == list(yamlio.load_all(text))
