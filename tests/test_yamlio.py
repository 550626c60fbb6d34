"""yamlio.dump_fast writes exactly what yamlio.dump writes."""

from __future__ import annotations

from typing import Any

import pytest

from gitops_gen import yamlio
from tests.tools import PROJECT_ROOT, overlays, render

EDGE_CASES: list[Any] = [
    {"a": "yes", "b": "", "c": "123", "d": "a: b", "e": "- x", "f": " lead", "g": "#hash", "h": "ünïcode",
     "i": None, "j": True, "k": 1.5, "l": 7, "m": "null", "n": "~", "o": "0o17", "p": "1e3", "q": "*alias",
     "r": "C:\\wfgen\\data", "s": "'quoted'", "t": '"dq"', "u": "tab\there", "v": "x" * 200},
    {"on": 1, "y": [], "z": {}, "nested": [[1, 2], [], [{}], [{"a": [{"b": [[]]}]}]]},
    [{"k": "v", "l": [1, {"m": None}]}, "s", [["deep"]]],
    {"multi": "line one\nline two\n"},            # left to PyYAML whole
    {"key with: colon": 1, "": "empty key", "k" * 130: "long key"},
    {1: "int key"},
    [],
    {},
    "scalar",
]


@pytest.mark.parametrize("doc", EDGE_CASES)
def test_edge_cases(doc: Any) -> None:
    assert yamlio.dump_fast(doc) == yamlio.dump(doc)


def test_every_rendered_object_of_the_example_estate() -> None:
    docs = [d for o in overlays(PROJECT_ROOT) for d in render(PROJECT_ROOT, o)]
    assert len(docs) > 60
    for doc in docs:
        assert yamlio.dump_fast(doc) == yamlio.dump(doc)
