"""Adding a cluster adds files only: two add-cluster pull requests cut from main merge in either order."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
import yaml

from tests.commands.test_commands import cli, git


def argo(name: str) -> list[str]:
    return ["--controller", "argocd", "--server", f"https://{name}.k8s.example.com", "--region", name.rsplit("-", 1)[0],
            "--windows-build", "ltsc2022", "--domain", f"{name}.wfg.example.com",
            "--data-storage-class", "azurefile-csi"]
FLUX = ["--controller", "flux", "--region", "sa-east", "--windows-build", "ltsc2019",
        "--domain", "sa.wfg.example.com", "--data-storage-class", "efs-sc"]


@pytest.mark.parametrize("order", [("ap-south-1", "ap-east-1"), ("ap-east-1", "ap-south-1")])
def test_two_add_cluster_branches_from_main_merge_in_either_order(estate: Path, order: tuple[str, str]) -> None:
    base = "main"
    for name in ("ap-south-1", "ap-east-1"):
        made = cli(estate, "add-cluster", name, *argo(name))
        assert made.exit_code == 0, made.output
        changed = git(estate, "diff", "--name-status", f"{base}...gitops-gen/add-cluster-{name}").stdout.split("\n")
        statuses = {line.split("\t")[0] for line in changed if line}
        assert statuses == {"A"}, changed  # files added, none edited: nothing for another branch to conflict with
    flux = cli(estate, "add-cluster", "sa-east-1", *FLUX)
    assert flux.exit_code == 0, flux.output

    git(estate, "checkout", "-q", "-b", "release", base)
    for name in (*order, "sa-east-1"):
        merged = subprocess.run(["git", "merge", "--no-edit", "--no-ff", f"gitops-gen/add-cluster-{name}"],
                                cwd=estate, capture_output=True, text=True)
        assert merged.returncode == 0, merged.stdout + merged.stderr
    assert git(estate, "status", "--porcelain").stdout == ""
    check = cli(estate, "generate", "--check")
    assert check.exit_code == 0, check.output

    # The root Application reads argocd/ alone; each Argo CD cluster's file there applies its ApplicationSet.
    root = [d for d in yaml.safe_load_all((estate / "argocd/bootstrap.yaml").read_text()) if d["kind"] == "Application"]
    assert root[0]["spec"]["source"]["path"] == "argocd" and "sources" not in root[0]["spec"]
    for name in ("eu-west-1", "ap-south-1", "ap-east-1"):
        app = yaml.safe_load((estate / f"argocd/clusters/{name}.yaml").read_text())
        assert app["kind"] == "Application"
        assert app["spec"]["source"]["path"] == f"clusters/{name}/argocd"
        assert (estate / f"clusters/{name}/argocd/applicationset.yaml").is_file()
    assert not (estate / "argocd/clusters/sa-east-1.yaml").exists()  # a Flux cluster has no Argo CD file
