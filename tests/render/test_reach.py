"""Nothing from outside the repository is fetched, read or shown: every kustomization an overlay reaches is
read before kustomize runs, and an overlay that reaches a URL, a path or a link leading out is not built.
A loopback HTTP server stands where a remote resource would be and must receive no request."""

from __future__ import annotations

import json
import os
import subprocess
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import ClassVar

import pytest
from typer.testing import CliRunner

from gitops_gen.cli import app
from gitops_gen.commands.validate import ValidateRequest, validate
from gitops_gen.render.reach import DiskTree, ListedTree, Reacher
from tests.tools import require_kustomize

runner = CliRunner(env={"COLUMNS": "200", "NO_COLOR": "1", "GITOPS_GEN_DEBUG": None})
ACME = "overlays/acme/eu-west-1"
MARKER = "fetched-from-outside-7f3a"
CONFIG_MAP = f"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {MARKER}\ndata:\n  x: {MARKER}\n"


class Counter(BaseHTTPRequestHandler):
    requests: ClassVar[list[str]] = []

    def do_GET(self) -> None:
        Counter.requests.append(self.path)
        body = CONFIG_MAP.encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/yaml")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def loopback() -> Iterator[str]:
    Counter.requests = []
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Counter)
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)


def _add_resource(root: Path, overlay: str, line: str) -> None:
    k = root / overlay / "kustomization.yaml"
    text = k.read_text()
    assert "- ingress.yaml\n" in text
    k.write_text(text.replace("- ingress.yaml\n", f"- ingress.yaml\n- {line}\n", 1))


def _git(root: Path, *args: str) -> None:
    subprocess.run(["git", "-C", str(root), *args], check=True, capture_output=True)


def test_the_loopback_server_answers_when_asked(loopback: str) -> None:
    """The stand-in works: a request to it is seen (so the zero below means none was made)."""
    import urllib.request

    with urllib.request.urlopen(f"{loopback}/cm.yaml", timeout=5) as r:
        assert MARKER in r.read().decode()
    assert Counter.requests == ["/cm.yaml"]


def test_validate_never_fetches_a_url_in_an_overlay(estate: Path, loopback: str) -> None:
    require_kustomize()
    _add_resource(estate, ACME, f"{loopback}/cm.yaml")
    result = validate(estate, ValidateRequest())
    assert Counter.requests == [], "validate fetched the URL"
    outside = [f for f in result.findings if f.rule == "SEC005"]
    assert [(f.tenant, f.cluster, f.path) for f in outside] == [("acme", "eu-west-1", f"{ACME}/kustomization.yaml")]
    assert f"resources[2] '{loopback}/cm.yaml' is a remote reference" in outside[0].message
    assert ACME not in result.overlays, "the overlay is not built"
    assert "overlays/globex/eu-west-1" in result.overlays, "the others are"
    cli = runner.invoke(app, ["validate", "--repo", str(estate), "--output", "json"])
    assert cli.exit_code == 1 and MARKER not in cli.output and Counter.requests == []


@pytest.mark.parametrize("line", [
    "github.com/evil/estate//overlays/x?ref=main", "git::https://example.com/evil.git//x", "gh:evil/estate",
    "ssh://git@example.com/evil.git"])
def test_remote_bases_of_every_spelling_are_refused(estate: Path, line: str) -> None:
    _add_resource(estate, ACME, line)
    reach = Reacher(DiskTree(estate)).reach(ACME)
    assert [e.reference for e in reach.escapes] == [line]


def test_a_directory_outside_the_repository_is_never_rendered(estate: Path, tmp_path: Path) -> None:
    require_kustomize()
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    (outside / "kustomization.yaml").write_text("resources:\n- cm.yaml\n")
    (outside / "cm.yaml").write_text(CONFIG_MAP)
    _add_resource(estate, ACME, os.path.relpath(outside, estate / ACME))
    _add_resource(estate, "overlays/globex/eu-west-1", str(outside))
    (estate / "vendored").symlink_to(outside, target_is_directory=True)  # inside, until the link is followed
    _add_resource(estate, "overlays/globex/us-east-1", "../../../vendored")
    result = validate(estate, ValidateRequest())
    found = {(f.tenant, f.cluster): f.message for f in result.findings if f.rule == "SEC005"}
    assert "resolves outside the repository" in found[("acme", "eu-west-1")]
    assert "resolves outside the repository" in found[("globex", "eu-west-1")]
    assert "is a link that resolves outside the repository" in found[("globex", "us-east-1")]
    assert result.overlays == []


def test_every_kind_of_reference_is_followed(estate: Path, tmp_path: Path) -> None:
    """Patches, generator files, components, CRDs, transformer configs and the paths inside them."""
    secret = tmp_path / "secret.env"
    secret.write_text("PASSWORD=x\n")
    rel = os.path.relpath(secret, estate / ACME)
    k = estate / ACME / "kustomization.yaml"
    base = k.read_text()
    cases = {
        f"patches:\n- path: {rel}\n": "patches[0].path",
        f"configMapGenerator:\n- name: x\n  files:\n  - key={rel}\n": "configMapGenerator[0].files[0]",
        f"secretGenerator:\n- name: x\n  envs:\n  - {rel}\n": "secretGenerator[0].envs[0]",
        f"crds:\n- {rel}\n": "crds[0]",
        "components:\n- https://example.com/c\n": "components[0]",
        f"transformers:\n- |-\n  apiVersion: builtin\n  kind: PatchTransformer\n  metadata:\n    name: p\n"
        f"  path: {rel}\n": "transformers[0].path",
        "generators:\n- |-\n  apiVersion: fn\n  kind: Gen\n  metadata:\n    name: g\n    annotations:\n"
        "      config.kubernetes.io/function: 'exec: {path: /bin/sh}'\n": "generators[0]",
        "helmCharts:\n- name: evil\n  repo: https://charts.example.com\n": "helmCharts",
    }
    for extra, where in cases.items():
        fields = {line.split(":")[0] for line in extra.splitlines() if line and not line.startswith((" ", "-"))}
        kept = "\n".join(line for line in base.splitlines() if line.split(":")[0] not in fields) + "\n"
        k.write_text(kept + extra)
        escapes = Reacher(DiskTree(estate)).reach(ACME).escapes
        assert [e.field for e in escapes] == [where], (extra, escapes)
    k.write_text(base)
    assert Reacher(DiskTree(estate)).reach(ACME).escapes == ()


def test_a_commit_is_read_from_its_files_and_links() -> None:
    tree = ListedTree(["o/kustomization.yaml", "base/kustomization.yaml", "base/a.yaml"],
                      {"o/kustomization.yaml": b"resources:\n- ../base\n- ../out\n",
                       "base/kustomization.yaml": b"resources:\n- a.yaml\n", "base/a.yaml": b"{}"}.get,
                      outside=["out"])
    reach = Reacher(tree).reach("o")
    assert reach.files == {"o/kustomization.yaml", "base/kustomization.yaml", "base/a.yaml"}
    assert [(e.reference, e.why) for e in reach.escapes] == [("../out", "is a link that resolves outside the "
                                                                          "repository")]


def test_diff_and_the_pull_request_description_never_show_outside_content(estate: Path, loopback: str,
                                                                         tmp_path: Path) -> None:
    require_kustomize()
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    (outside / "kustomization.yaml").write_text("resources:\n- cm.yaml\n")
    (outside / "cm.yaml").write_text(CONFIG_MAP)
    _git(estate, "checkout", "-q", "-b", "evil")
    _add_resource(estate, ACME, f"{loopback}/cm.yaml")
    _add_resource(estate, "overlays/globex/eu-west-1", os.path.relpath(outside, estate / "overlays/globex/eu-west-1"))
    _git(estate, "commit", "-q", "-am", "innocent")
    for output in ("markdown", "json", "text"):
        result = runner.invoke(app, ["diff", "--repo", str(estate), "main", "evil", "--output", output])
        assert result.exit_code in (0, 1), result.output
        assert MARKER not in result.output, output
        assert "outside-reference" in result.output, output
    data = json.loads(runner.invoke(app, ["diff", "--repo", str(estate), "main", "evil", "--output", "json"]).output)
    risks = {(r["tenant"], r["cluster"]) for r in data["risks"] if r["id"] == "outside-reference"}
    assert risks == {("acme", "eu-west-1"), ("globex", "eu-west-1")}
    assert not [o for o in data["objects"] if o["tenant"] in ("acme", "globex") and o["cluster"] == "eu-west-1"]
    assert Counter.requests == []
