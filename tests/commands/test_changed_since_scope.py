"""validate --changed-since reads the files of the tenants a change touches and the estate's own, not every
other tenant's: what an unchanged tenant's files hold was there at the ref."""

from __future__ import annotations

from pathlib import Path

from gitops_gen.commands.validate import ValidateRequest, validate
from tests.commands.test_validate import _commit_all, crds  # noqa: F401  (fixture)

SECRET = """apiVersion: v1
kind: Secret
metadata:
  name: leaked
  namespace: {ns}
stringData:
  password: hunter2
"""


def _sec001(root: Path, crd: Path, since: str | None) -> set[str]:
    result = validate(root, ValidateRequest(changed_since=since, crd_dirs=(crd,)))
    return {f.path or "" for f in result.findings if f.rule == "SEC001"}


def test_changed_since_reports_what_the_change_touches(estate: Path, crds: Path) -> None:  # noqa: F811
    old = estate / "clusters/us-east-1/platform/globex/leaked.yaml"
    old.write_text(SECRET.format(ns="globex"))
    _commit_all(estate, "globex: a secret committed long ago")
    assert _sec001(estate, crds, None) == {"clusters/us-east-1/platform/globex/leaked.yaml"}

    # A change to acme alone: globex's files are as they were, and are not read again.
    tenant = estate / "overlays/acme/tenant.yaml"
    tenant.write_text(tenant.read_text().replace("webReplicas: 2", "webReplicas: 1"))
    _commit_all(estate, "acme: one replica")
    assert _sec001(estate, crds, "HEAD~1") == set()

    # A change to a file of the estate's own (what every tenant's files are checked with may have changed):
    # every file is read again.
    (estate / "argocd/projects/acme-notes.yaml").write_text(SECRET.format(ns="acme"))
    _commit_all(estate, "notes")
    assert _sec001(estate, crds, "HEAD~1") == {"argocd/projects/acme-notes.yaml",
                                                "clusters/us-east-1/platform/globex/leaked.yaml"}

    # The change adds a secret to a tenant's own folder: reported.
    new = estate / "clusters/us-east-1/platform/globex/leaked-too.yaml"
    new.write_text(SECRET.format(ns="globex"))
    _commit_all(estate, "globex: another secret")
    assert "clusters/us-east-1/platform/globex/leaked-too.yaml" in _sec001(estate, crds, "HEAD~1")
    # A full run still sees every one.
    assert _sec001(estate, crds, None) == {"clusters/us-east-1/platform/globex/leaked.yaml",
                                           "clusters/us-east-1/platform/globex/leaked-too.yaml",
                                           "argocd/projects/acme-notes.yaml"}
