"""generate --check after nothing changed answers from the record of a full check; any change takes the
full check again."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from gitops_gen.commands import checked
from gitops_gen.commands import generate as generate_mod
from gitops_gen.commands.generate import generate
from gitops_gen.estate import layout


def _regeneration_counter(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    calls: list[int] = []
    real = generate_mod.estate_files

    def counting(*args: object, **kwargs: object) -> dict[str, str]:
        calls.append(1)
        return real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(generate_mod, "estate_files", counting)
    return calls


def test_a_clean_checked_commit_is_not_regenerated(estate: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls = _regeneration_counter(monkeypatch)
    assert generate(estate, check=True).plan.empty
    assert len(calls) == 1
    record = json.loads((estate / ".git/gitops-gen" / checked.FILE).read_text())
    assert len(next(iter(record.values()))) == 1
    assert generate(estate, check=True).plan.empty
    assert len(calls) == 1  # answered from the record


@pytest.mark.parametrize("edit", ["hand-edit", "untracked", "declaration", "staged"])
def test_any_change_takes_the_full_check(estate: Path, monkeypatch: pytest.MonkeyPatch, edit: str) -> None:
    assert generate(estate, check=True).plan.empty
    calls = _regeneration_counter(monkeypatch)
    overlay = estate / layout.overlay_dir("acme", "eu-west-1")
    if edit == "hand-edit":
        (overlay / "kustomization.yaml").write_text((overlay / "kustomization.yaml").read_text() + "# edited\n")
    elif edit == "untracked":
        (overlay / "stray.yaml").write_text((overlay / "kustomization.yaml").read_text())
    elif edit == "declaration":
        tenant = estate / layout.tenant_file("acme")
        tenant.write_text(tenant.read_text().replace("webReplicas: 2", "webReplicas: 1"))
    else:
        import subprocess

        (overlay / "kustomization.yaml").write_text((overlay / "kustomization.yaml").read_text() + "# edited\n")
        subprocess.run(["git", "-C", str(estate), "add", "-A"], check=True)
    result = generate(estate, check=True)
    assert len(calls) == 1
    assert not result.plan.empty


def test_another_gitops_gen_does_not_trust_the_record(estate: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert generate(estate, check=True).plan.empty
    path = estate / ".git/gitops-gen" / checked.FILE
    record = json.loads(path.read_text())
    path.write_text(json.dumps({"another-version": next(iter(record.values()))}))
    calls = _regeneration_counter(monkeypatch)
    assert generate(estate, check=True).plan.empty
    assert len(calls) == 1


def test_an_ignored_cache_folder_does_not_stop_the_record(estate: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (estate / ".gitignore").write_text(".gitops-gen-cache/\n")
    import subprocess

    subprocess.run(["git", "-C", str(estate), "add", ".gitignore"], check=True)
    subprocess.run(["git", "-C", str(estate), "commit", "-q", "-m", "ignore the CI cache"], check=True)
    (estate / ".gitops-gen-cache").mkdir()
    (estate / ".gitops-gen-cache" / "x.json").write_text("{}")
    assert generate(estate, check=True).plan.empty
    calls = _regeneration_counter(monkeypatch)
    assert generate(estate, check=True).plan.empty
    assert not calls
