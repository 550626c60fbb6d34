"""The Go text/template subset ApplicationSets use, evaluated offline."""

from __future__ import annotations

import pytest

from gitops_gen.review import gotemplate


@pytest.mark.parametrize(("template", "expected"), [
    ('{{ trimSuffix ".yaml" .path.filename }}', "acme"),
    ('{{ trimPrefix "ac" .path.filename }}', "me.yaml"),
    ("{{ index .path.segments 1 }}", "eu-west-1"),
    ("{{ .path.filename | lower | upper }}", "ACME.YAML"),
    ('{{ replace "-" "_" (index .path.segments 1) }}', "eu_west_1"),
    ('{{ default "none" .size }}|{{ default "none" .name }}', "none|n"),
    ("a  {{- .name -}}  b", "anb"),
    ("{{/* a comment */}}{{ .n }} {{ .f }} {{ .big }}", "3 0.5 1.234567e+06"),
    ('{{ if eq .name "n" }}yes{{ else if .name }}maybe{{ else }}no{{ end }}', "yes"),
    ("{{ range $i, $s := .path.segments }}{{ if $i }}/{{ end }}{{ $s }}{{ end }}", "clusters/eu-west-1"),
    ("{{ with .missing }}x{{ else }}{{ .name }}{{ end }}", "n"),
    ('{{ $t := .path.filename | trimSuffix ".yaml" }}{{ $t }}-{{ len $t }}', "acme-4"),
    ('{{ printf "%s-%d" .name 7 }}', "n-7"),
    ('{{ normalize "Team_A.Blue" }}', "team-a.blue"),
    ("{{ .missing }}", "<no value>"),
])
def test_go_template_subset(template: str, expected: str) -> None:
    data = {"path": {"filename": "acme.yaml", "segments": ["clusters", "eu-west-1"]}, "name": "n", "n": 3.0,
            "f": 0.5, "big": 1234567.0, "size": ""}
    assert gotemplate.render(template, data) == expected


def test_go_template_errors() -> None:
    with pytest.raises(gotemplate.MissingKeyError, match='no entry for key "nope"'):
        gotemplate.render("{{ .nope }}", {}, "error")
    with pytest.raises(gotemplate.TemplateError, match="expected string"):
        gotemplate.render("{{ .nope | lower }}", {})
    with pytest.raises(gotemplate.UnsupportedError, match="toJson"):
        gotemplate.render("{{ toJson . }}", {})
    with pytest.raises(gotemplate.TemplateError, match="index out of range"):
        gotemplate.render("{{ index .l 5 }}", {"l": ["a"]})
    with pytest.raises(gotemplate.TemplateError):
        gotemplate.render("{{ if .x }}unclosed", {"x": True})
