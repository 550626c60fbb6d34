"""move-tenant end to end, through the CLI, on a real estate in a real git repository: acme (its own
in-cluster database) moves from the Argo CD cluster eu-west-1 to the Flux cluster us-east-1 and back; globex
(an external database, already a standby on us-east-1) moves its primary. Each phase is a branch off main,
"merged" by fast-forwarding main; at each one the overlays are rendered with real kustomize and the estate
is validated with the upstream CRDs."""

from __future__ import annotations

import json
from pathlib import Path

import yaml

from tests.commands.test_lifecycle import branches, clean, cli, git, merge, refused, risks
from tests.commands.test_lifecycle import kinds as render_kinds

EU, US = "eu-west-1", "us-east-1"
_rendered: dict[tuple[str, str, str], dict[str, list[dict[str, object]]]] = {}


def kinds(root: Path, overlay: str) -> dict[str, list[dict[str, object]]]:
    """The overlay rendered by kustomize, once per commit of main (the work tree is main's: each merge is a
    fast-forward of the checked-out branch)."""
    key = (str(root), overlay, git(root, "rev-parse", "HEAD").strip())
    if key not in _rendered:
        _rendered[key] = render_kinds(root, overlay)
    return _rendered[key]


def acme(root: Path) -> dict[str, object]:
    data: dict[str, object] = yaml.safe_load((root / "overlays/acme/tenant.yaml").read_text())
    return data


def running(root: Path, tenant: str = "acme") -> dict[str, dict[str, int]]:
    """Per placement on disk: the replicas of each workload, rendered by kustomize."""
    out = {}
    for overlay in sorted((root / "overlays" / tenant).glob("*/kustomization.yaml")):
        objs = kinds(root, f"overlays/{tenant}/{overlay.parent.name}")
        out[overlay.parent.name] = {str(d["metadata"]["name"]): int(d["spec"].get("replicas", 1))  # type: ignore
                                    for k in ("Deployment", "StatefulSet") for d in objs.get(k, [])}
    return out


def ingress_hosts(root: Path, cluster: str, tenant: str = "acme") -> list[str]:
    objs = kinds(root, f"overlays/{tenant}/{cluster}")
    return sorted(str(r["host"]) for i in objs.get("Ingress", []) for r in i["spec"]["rules"])  # type: ignore


def claims(root: Path, cluster: str) -> set[str]:
    return {str(d["metadata"]["name"]) for d in kinds(root, f"overlays/acme/{cluster}")["PersistentVolumeClaim"]}


def one_runs_windows_services(root: Path) -> None:
    """The vendor allows one instance of each Windows Service: at most one placement runs them."""
    runners = [c for c, r in running(root).items() if r.get("workflowgen-win-services", 0) > 0]
    assert len(runners) <= 1, runners


def run_phase(root: Path, branch: str, *args: str) -> str:
    """Runs move-tenant, checks what it committed, merges it; returns the commit message."""
    result = cli(root, "move-tenant", "acme", *args)
    assert result.exit_code == 0, result.output
    message = git(root, "log", "-1", "--format=%B", branch)
    merge(root, branch)
    one_runs_windows_services(root)
    clean(root)
    return message


def move(root: Path, src: str, dst: str) -> None:
    """The whole move of acme from src to dst, phase by phase, checking each."""
    data_claims = claims(root, src)
    # Out of order: nothing is written, and the message names the phase to run first.
    before = branches(root)
    refused(cli(root, "move-tenant", "acme", "--to", dst, "--phase", "cutover"), "no move is in progress",
            "--phase provision")
    refused(cli(root, "move-tenant", "acme", "--to", src, "--phase", "provision"), "primary is on")
    assert branches(root) == before

    # 1. provision: a standby on dst, its regional host only, no Windows Services; the data steps listed.
    b = "gitops-gen/move-tenant-acme-provision"
    message = run_phase(root, b, "--to", dst, "--phase", "provision")
    assert message.startswith(f"Move tenant acme to {dst}: provision a standby")
    assert "restore it into acme/workflowgen-database" in message and "copy C:\\wfgen\\data" in message
    assert f"copy the secret store key workflowgen/acme/{src} to workflowgen/acme/{dst}" in message
    assert acme(root)["move"] == {"from": src, "to": dst}
    assert ingress_hosts(root, dst) == [f"acme.{dst[:2]}.wfg.example.com"]
    assert running(root)[dst] == {"workflowgen-web": 2, "workflowgen-win-services": 0, "workflowgen-database": 1}
    assert running(root)[src]["workflowgen-win-services"] == 1
    rows = {r["cluster"]: r for c in json.loads(cli(root, "list", "--output", "json").stdout)["clusters"]
            for r in c["tenants"] if r["tenant"] == "acme"}
    assert (rows[dst]["role"], rows[dst]["phase"]) == ("standby", f"moving from {src} (provision)")
    assert rows[src]["phase"] == f"moving to {dst} (provision)"
    again = cli(root, "move-tenant", "acme", "--to", dst, "--phase", "provision")
    assert again.exit_code == 0 and "provision phase is done" in again.output and "Nothing to change" in again.stdout
    refused(cli(root, "move-tenant", "acme", "--to", dst, "--phase", "start-services"), "phase provision merged",
            "--phase cutover")
    refused(cli(root, "move-tenant", "acme", "--to", dst, "--phase", "finish"), "--phase cutover")
    refused(cli(root, "remove-tenant", "acme", "--cluster", src, "--phase", "drain"), "leaves through move-tenant",
            "--abort")

    # 2. cutover: the global host and the roles move in one commit; Windows Services held on dst.
    b = "gitops-gen/move-tenant-acme-cutover"
    assert cli(root, "move-tenant", "acme", "--to", dst, "--phase", "cutover").exit_code == 0
    found = risks(root, b)
    cut = found["move-cutover"][0][1]
    assert f"routing moves from region {src}" in cut and "lower the DNS records' TTL" in cut
    assert "restore the final backup" in cut
    assert {c for c, _ in found["role-change"]} == {src, dst}
    assert any("held here" in m for _, m in found["role-change"])
    message = run_phase(root, b, "--to", dst, "--phase", "cutover")
    assert "Global hosts moved from" in message and "acme.wfg.example.com" in message
    assert ingress_hosts(root, dst) == sorted(["acme.wfg.example.com", f"acme.{dst[:2]}.wfg.example.com"])
    assert ingress_hosts(root, src) == [f"acme.{src[:2]}.wfg.example.com"]
    assert {c: r["workflowgen-win-services"] for c, r in running(root).items()} == {src: 0, dst: 0}
    placements = {p["cluster"]: p for p in acme(root)["placements"]}  # type: ignore[attr-defined]
    assert placements[dst]["windowsServices"] == "held" and placements[src]["role"] == "standby"
    assert placements[dst]["applicationUrl"] == "https://acme.wfg.example.com/wfgen"
    routed = json.loads(cli(root, "route", "acme.wfg.example.com", "--output", "json").stdout)
    assert (routed["cluster"], routed["phase"]) == (dst, f"moving from {src} (cutover)")
    refused(cli(root, "move-tenant", "acme", "--to", dst, "--abort"), "cut over already", "--phase finish")

    # 3. start-services: dst runs the Windows Services, src has stopped them.
    b = "gitops-gen/move-tenant-acme-start-services"
    assert cli(root, "move-tenant", "acme", "--to", dst, "--phase", "start-services").exit_code == 0
    assert {r for r in risks(root, b)} >= {"move-start-services", "windows-services-start"}
    message = run_phase(root, b, "--to", dst, "--phase", "start-services")
    assert f"check the Windows Services have stopped on {src}" in message
    assert {c: r["workflowgen-win-services"] for c, r in running(root).items()} == {src: 0, dst: 1}
    again = cli(root, "move-tenant", "acme", "--to", dst, "--phase", "start-services")
    assert again.exit_code == 0 and "start-services phase is done" in again.output

    # 4. finish: src drains, retires (--now, the reason recorded) and leaves git, one pull request each.
    message = run_phase(root, "gitops-gen/move-tenant-acme-finish-drain", "--to", dst, "--phase", "finish")
    assert f"step drain of {src}" in message
    assert ingress_hosts(root, src) == [] and set(running(root)[src].values()) == {0}
    assert claims(root, src) == data_claims
    refused(cli(root, "move-tenant", "acme", "--to", dst, "--phase", "finish"), "days of retention")
    message = run_phase(root, "gitops-gen/move-tenant-acme-finish-retire", "--to", dst, "--phase", "finish",
                        "--now", "--reason", "moved, backup verified (T-7)")
    assert "Retention period cut short (--now): moved, backup verified (T-7)" in message
    assert set(kinds(root, f"overlays/acme/{src}")) <= {"Namespace", "PersistentVolumeClaim", "StatefulSet",
                                                        "NetworkPolicy", "ResourceQuota"}
    assert claims(root, src) == data_claims
    b = "gitops-gen/move-tenant-acme-finish-purge"
    result = cli(root, "move-tenant", "acme", "--to", dst, "--phase", "finish", "--output", "json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)["moveTenant"]
    assert report["step"] == "purge" and report["next"] is None
    assert "PersistentVolumeClaim acme/workflowgen-data" in report["leftInCluster"][src]
    assert (f"Argo CD Application argocd/acme-{src}" in " ".join(report["leftInCluster"][src])) == (src == EU)
    assert "move-finish" in risks(root, b) and "data-left-in-cluster" in risks(root, b)
    message = run_phase(root, b, "--to", dst, "--phase", "finish")
    assert "The move to" in message and "Left in cluster" in message
    assert "move" not in acme(root) and [p["cluster"] for p in acme(root)["placements"]] == [dst]  # type: ignore
    assert not (root / f"overlays/acme/{src}").exists()
    again = cli(root, "move-tenant", "acme", "--to", dst, "--phase", "finish")
    assert again.exit_code == 0 and "no move is in progress" in again.output
    for b in [x for x in branches(root) if x.startswith("gitops-gen/move-tenant-")]:
        git(root, "branch", "-D", b)  # merged: a forge deletes them with the pull request


def test_the_full_move_sequence_argo_cd_to_flux_and_back(estate: Path) -> None:
    move(estate, EU, US)
    assert ingress_hosts(estate, US) == ["acme.us.wfg.example.com", "acme.wfg.example.com"]
    move(estate, US, EU)
    assert ingress_hosts(estate, EU) == ["acme.eu.wfg.example.com", "acme.wfg.example.com"]
    assert (estate / "clusters/eu-west-1/tenants/acme.yaml").is_file()
    assert not (estate / "clusters/us-east-1/tenants/acme.yaml").exists()


def test_abort_undoes_the_provision(estate: Path) -> None:
    refused(cli(estate, "move-tenant", "globex", "--to", US, "--abort"), "no move to abort", "remove-tenant")
    run_phase(estate, "gitops-gen/move-tenant-acme-provision", "--to", US, "--phase", "provision")
    # Step 1: the standby drains (no Ingress, nothing runs), its data and isolation kept.
    b = "gitops-gen/move-tenant-acme-abort-drain"
    assert cli(estate, "move-tenant", "acme", "--to", US, "--abort").exit_code == 0
    assert "move-abort" in risks(estate, b) and "placement-drained" in risks(estate, b)
    run_phase(estate, b, "--to", US, "--abort")
    assert ingress_hosts(estate, US) == [] and set(running(estate)[US].values()) == {0}
    assert "default-deny" in {d["metadata"]["name"] for d in kinds(estate, "overlays/acme/us-east-1")["NetworkPolicy"]}
    assert running(estate)[EU]["workflowgen-win-services"] == 1 and "acme.wfg.example.com" in ingress_hosts(estate, EU)
    refused(cli(estate, "move-tenant", "acme", "--to", US, "--phase", "cutover"), "being aborted", "--abort")
    # Step 2: it leaves git; what it leaves in the cluster is listed.
    result = cli(estate, "move-tenant", "acme", "--to", US, "--abort", "--output", "json")
    assert result.exit_code == 0, result.output
    assert "Namespace acme" in json.loads(result.stdout)["moveTenant"]["leftInCluster"][US]
    found = risks(estate, "gitops-gen/move-tenant-acme-abort-purge")
    assert "removed-without-phases" not in found and [c for c, _ in found["data-left-in-cluster"]] == [US]
    assert "move-abort" in found
    message = git(estate, "log", "-1", "--format=%B", "gitops-gen/move-tenant-acme-abort-purge")
    assert "step 2/2" in message and "kubectl --context us-east-1 -n acme delete pvc" in message
    merge(estate, "gitops-gen/move-tenant-acme-abort-purge")
    clean(estate)
    assert "move" not in acme(estate) and not (estate / "overlays/acme/us-east-1").exists()
    assert not (estate / "clusters/us-east-1/tenants/acme.yaml").exists()
    again = cli(estate, "move-tenant", "acme", "--to", US, "--abort")
    assert again.exit_code == 0 and "the abort is done" in again.output


def test_a_shared_external_database_needs_no_restore(estate: Path) -> None:
    # globex's us-east-1 placement is a standby on its external database already: provision records the move.
    result = cli(estate, "move-tenant", "globex", "--to", US, "--phase", "provision", "--dry-run", "--output", "json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert [c["path"] for c in report["changes"]] == ["overlays/globex/tenant.yaml"]
    assert report["moveTenant"]["manualSteps"][1].startswith("nothing for the database")
    assert "gitops-gen/move-tenant-globex-provision" not in branches(estate)
    assert cli(estate, "move-tenant", "globex", "--to", US, "--phase", "provision").exit_code == 0
    merge(estate, "gitops-gen/move-tenant-globex-provision")
    assert cli(estate, "move-tenant", "globex", "--to", US, "--phase", "cutover").exit_code == 0
    cut = risks(estate, "gitops-gen/move-tenant-globex-cutover")["move-cutover"][0][1]
    assert "globex.wfg.example.com" in cut and "restore" not in cut
    merge(estate, "gitops-gen/move-tenant-globex-cutover")
    clean(estate)
    assert ingress_hosts(estate, US, "globex") == ["globex.us.wfg.example.com", "globex.wfg.example.com"]
    assert running(estate, "globex")[US]["workflowgen-win-services"] == 0  # held until start-services


def test_refusals_name_the_flag(estate: Path) -> None:
    before = branches(estate)
    refused(cli(estate, "move-tenant", "acme", "--to", US), "--phase is missing", "provision, cutover")
    refused(cli(estate, "move-tenant", "acme", "--to", US, "--phase", "cutover", "--abort"), "--abort")
    refused(cli(estate, "move-tenant", "acme", "--to", "ap-south-1", "--phase", "provision"), "--to", "add-cluster")
    refused(cli(estate, "move-tenant", "acme", "--to", US, "--phase", "provision", "--from", US), "--from")
    refused(cli(estate, "move-tenant", "acme", "--to", US, "--phase", "finish", "--now"), "--reason")
    refused(cli(estate, "move-tenant", "acme", "--to", US, "--phase", "provision", "--now", "--reason", "x"),
            "--now is for --phase finish")
    refused(cli(estate, "move-tenant", "nobody", "--to", US, "--phase", "provision"), "does not exist")
    assert branches(estate) == before
    # A hand-edited move record is validated like every field.
    decl = estate / "overlays/acme/tenant.yaml"
    decl.write_text(decl.read_text() + "move:\n  from: eu-west-1\n  to: us-east-1\n")
    refused(cli(estate, "list"), "move.to", "not one of this tenant's placements")
    decl.write_text(decl.read_text().replace("move:\n  from: eu-west-1\n  to: us-east-1\n", "").replace(
        "  - cluster: eu-west-1\n", "  - cluster: eu-west-1\n    role: standby\n    windowsServices: held\n"))
    refused(cli(estate, "list"), "placements[0].windowsServices", "active primary")
