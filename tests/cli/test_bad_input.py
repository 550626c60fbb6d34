"""Bad input is refused through the CLI: exit 2, a message naming the value and a hint, nothing written.

Every case runs on a real estate in a real git repository; the repository (``.git`` included)
must be byte-identical afterwards and no branch may have appeared.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pygit2
import pytest
from typer.testing import CliRunner, Result

from gitops_gen.cli import app
from tests.conftest import REPO_URL, snapshot

runner = CliRunner(env={"COLUMNS": "200", "NO_COLOR": "1", "GITOPS_GEN_DEBUG": None})


def cli(root: Path, command: str, *args: str) -> Result:
    """``gitops-gen COMMAND --repo ROOT ARGS...`` in-process."""
    return runner.invoke(app, [command, "--repo", str(root), *args])


def git(root: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=root, check=True, capture_output=True, text=True).stdout


def commit_all(root: Path, message: str) -> None:
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", message)


def branches(root: Path) -> list[str]:
    return sorted(pygit2.Repository(str(root)).branches.local)


def head_commit(root: Path) -> str:
    return str(pygit2.Repository(str(root)).head.target)


def assert_refused(root: Path, argv: list[str], expected: list[str], hint: str) -> Result:
    """Run the command and check the refusal: exit 2, message, hint, and an untouched repository."""
    before, branches_before, head_before = snapshot(root), branches(root), head_commit(root)
    result = cli(root, argv[0], *argv[1:])
    assert result.exit_code == 2, result.output
    assert isinstance(result.exception, SystemExit), result.exception  # no traceback
    err = result.stderr
    assert err.startswith("error: "), err
    for text in expected:
        assert text in err, f"{text!r} not in:\n{err}"
    hint_lines = [line for line in err.splitlines() if line.startswith("hint: ")]
    assert len(hint_lines) == 1, err
    assert hint in hint_lines[0], f"{hint!r} not in {hint_lines[0]!r}"
    assert result.stdout == ""
    assert snapshot(root) == before
    assert branches(root) == branches_before
    assert head_commit(root) == head_before
    return result


# --------------------------------------------------------------------------- tenant and cluster names

NOT_A_LABEL = "use lower-case letters, digits and '-'"
RESERVED_HINT = "must not collide with system namespaces"
PATH_HINT = "use only a-z, 0-9 and '-'"


BAD_TENANT_NAMES = [
    ("Acme", ["tenant name 'Acme' is not a DNS-1123 label"], NOT_A_LABEL),
    ("acme_1", ["tenant name 'acme_1' is not a DNS-1123 label"], NOT_A_LABEL),
    ("-acme", ["tenant name '-acme' is not a DNS-1123 label"], NOT_A_LABEL),
    ("acme-", ["tenant name 'acme-' is not a DNS-1123 label"], NOT_A_LABEL),
    ("1acme", ["tenant name '1acme' is not a DNS-1123 label"], NOT_A_LABEL),
    ("a" * 41, [f"tenant name '{'a' * 41}' is 41 characters, longer than 40"], "at most 40 characters"),
    ("default", ["tenant name 'default' is reserved"], RESERVED_HINT),
    ("kube-system", ["tenant name 'kube-system' is reserved"], RESERVED_HINT),
    ("kube-public", ["tenant name 'kube-public' is reserved"], RESERVED_HINT),
    ("kube-node-lease", ["tenant name 'kube-node-lease' is reserved"], RESERVED_HINT),
    ("argocd", ["tenant name 'argocd' is reserved"], RESERVED_HINT),
    ("flux-system", ["tenant name 'flux-system' is reserved"], RESERVED_HINT),
    ("cert-manager", ["tenant name 'cert-manager' is reserved"], RESERVED_HINT),
    ("kube-acme", ["tenant name 'kube-acme' is reserved"], RESERVED_HINT),
    ("a/b", ["tenant name 'a/b' contains a path separator or '..'"], PATH_HINT),
    ("..", ["tenant name '..' contains a path separator or '..'"], PATH_HINT),
    ("a..b", ["tenant name 'a..b' contains a path separator or '..'"], PATH_HINT),
    ("../evil", ["tenant name '../evil' contains a path separator or '..'"], PATH_HINT),
]


@pytest.mark.parametrize(("name", "expected", "hint"), BAD_TENANT_NAMES, ids=[c[0][:12] for c in BAD_TENANT_NAMES])
def test_add_tenant_refuses_bad_name(estate: Path, name: str, expected: list[str], hint: str) -> None:
    # '--' so that a name starting with '-' reaches the validation instead of the option parser.
    assert_refused(estate, ["add-tenant", "--cluster", "eu-west-1", "--", name], expected, hint)


CLUSTER_OPTS = ["--data-storage-class", "nfs-csi",
                "--region", "ap-south", "--controller", "flux", "--windows-build", "ltsc2019",
                "--domain", "ap.wfg.example.com"]


BAD_CLUSTER_NAMES = [
    ("c" * 23, [f"cluster name '{'c' * 23}' is 23 characters, longer than 22"], "at most 22 characters"),
    ("AP-1", ["cluster name 'AP-1' is not a DNS-1123 label"], NOT_A_LABEL),
    ("ap_1", ["cluster name 'ap_1' is not a DNS-1123 label"], NOT_A_LABEL),
    ("a/b", ["cluster name 'a/b' contains a path separator or '..'"], PATH_HINT),
    ("..", ["cluster name '..' contains a path separator or '..'"], PATH_HINT),
    ("a..b", ["cluster name 'a..b' contains a path separator or '..'"], PATH_HINT),
]


@pytest.mark.parametrize(("name", "expected", "hint"), BAD_CLUSTER_NAMES,
                         ids=[c[0][:12] for c in BAD_CLUSTER_NAMES])
def test_add_cluster_refuses_bad_name(estate: Path, name: str, expected: list[str], hint: str) -> None:
    assert_refused(estate, ["add-cluster", *CLUSTER_OPTS, "--", name], expected, hint)


def test_longest_names_are_accepted(bare_estate: Path) -> None:
    """The limits are exact: 40 characters for a tenant and 22 for a cluster pass."""
    cluster = "c" * 22
    result = cli(bare_estate, "add-cluster", cluster, *CLUSTER_OPTS, "--checkout")
    assert result.exit_code == 0, result.output
    tenant = "t" * 40
    result = cli(bare_estate, "add-tenant", tenant, "--cluster", cluster, "--base", "HEAD", "--checkout")
    assert result.exit_code == 0, result.output
    assert (bare_estate / f"overlays/{tenant}/{cluster}/kustomization.yaml").is_file()


# --------------------------------------------------------------------------- what already exists

def test_add_tenant_refuses_unknown_cluster(estate: Path) -> None:
    assert_refused(estate, ["add-tenant", "newco", "--cluster", "eu-west-1", "--cluster", "ap-south-1"],
                   ["unknown cluster 'ap-south-1'", "known clusters in main (", "): eu-west-1, us-east-1"],
                   "gitops-gen add-cluster ap-south-1")


def test_add_tenant_refuses_existing_tenant(estate: Path) -> None:
    assert_refused(estate, ["add-tenant", "acme", "--cluster", "us-east-1"],
                   ["tenant 'acme' already exists in main (", ") (overlays/acme/tenant.yaml)"], "choose another name")


def test_add_cluster_refuses_existing_cluster(estate: Path) -> None:
    opts = [o if o != "ap.wfg.example.com" else "other.wfg.example.com" for o in CLUSTER_OPTS]
    assert_refused(estate, ["add-cluster", "eu-west-1", *opts],
                   ["cluster 'eu-west-1' already exists in main (", ") (clusters/eu-west-1/cluster.yaml)"],
                   "choose another name")


def test_add_cluster_refuses_domain_holding_a_tenant_host(estate: Path) -> None:
    opts = [o if o != "ap.wfg.example.com" else "wfg.example.com" for o in CLUSTER_OPTS]
    assert_refused(estate, ["add-cluster", "ap-1", *opts],
                   ["domain 'wfg.example.com' contains host 'acme.wfg.example.com' of tenant 'acme'"],
                   "choose another domain")


# --------------------------------------------------------------------------- hosts

BARE_HOST = "without scheme, port or path"
DNS_HINT = "lower-case labels of letters, digits and '-'"


BAD_HOSTS = [
    ("http://x.example.com", ["host 'http://x.example.com' is not a bare DNS name"], BARE_HOST),
    ("x.example.com:443", ["host 'x.example.com:443' is not a bare DNS name"], BARE_HOST),
    ("x", ["host 'x' is not a valid DNS name"], DNS_HINT),
    # The CLI lower-cases hosts (DNS is case-insensitive); the empty label is what is wrong.
    ("UPPER..example.com", ["host 'upper..example.com' is not a valid DNS name"], DNS_HINT),
    ("*.example.com", ["host '*.example.com' is not a valid DNS name"], DNS_HINT),
    ("-x.example.com", ["host '-x.example.com' is not a valid DNS name"], DNS_HINT),
    ("acme.wfg.example.com", ["host 'acme.wfg.example.com' is already claimed by tenant 'acme'"],
     "every host is served by exactly one tenant"),
    # Hosts are compared case-insensitively: a differently spelt host is still taken.
    ("GLOBEX.wfg.example.com",
     ["host 'globex.wfg.example.com' is already claimed by tenant 'globex'"],
     "every host is served by exactly one tenant"),
    ("foo.eu.wfg.example.com",
     ["host 'foo.eu.wfg.example.com' lies in cluster 'eu-west-1''s regional domain 'eu.wfg.example.com'"],
     "declare global hosts outside the clusters' domains"),
    # Inside the regional domain of a cluster the tenant is not even placed on.
    ("foo.us.wfg.example.com",
     ["host 'foo.us.wfg.example.com' lies in cluster 'us-east-1''s regional domain 'us.wfg.example.com'"],
     "declare global hosts outside the clusters' domains"),
]


@pytest.mark.parametrize(("host", "expected", "hint"), BAD_HOSTS, ids=[c[0] for c in BAD_HOSTS])
def test_add_tenant_refuses_bad_host(estate: Path, host: str, expected: list[str], hint: str) -> None:
    assert_refused(estate, ["add-tenant", "newco", "--cluster", "eu-west-1", "--host", host], expected, hint)


def test_add_tenant_refuses_host_on_a_cluster_it_is_not_placed_on(estate: Path) -> None:
    assert_refused(estate, ["add-tenant", "newco", "--cluster", "eu-west-1", "--host", "newco.example.com=us-east-1"],
                   ["--host 'newco.example.com=us-east-1' names cluster 'us-east-1', which is not one of the "
                    "tenant's --cluster (eu-west-1)"],
                   "write --host HOST=CLUSTER with CLUSTER one of the --cluster values")


# --------------------------------------------------------------------------- malformed declarations

TENANT = "overlays/acme/tenant.yaml"
CLUSTER = "clusters/us-east-1/cluster.yaml"
CONFIG = "gitops-gen.yaml"
NEW_TENANT = ["add-tenant", "newco", "--cluster", "eu-west-1"]


MALFORMED = [
    # YAML syntax errors: the line is where the parser stopped, and the message quotes it.
    (TENANT, "size: small", "size: small: x", ["generate"],
     ["is not valid YAML", "mapping values are not allowed here", "'size: small: x'"],
     "fix the YAML syntax"),
    (TENANT, "size: small", "size: small: x", ["list"],
     ["is not valid YAML", "'size: small: x'"], "fix the YAML syntax"),
    (CLUSTER, "controller: flux", "controller: flux: cd", NEW_TENANT,
     ["is not valid YAML", "'controller: flux: cd'"], "fix the YAML syntax"),
    (CONFIG, "  version: 10.3.1", "  version: 10.3.1: x", ["list"],
     ["is not valid YAML", "'version: 10.3.1: x'"], "fix the YAML syntax"),
    # Wrong values.
    (TENANT, "size: small", "size: huge", ["generate"],
     ["field 'size' is 'huge'; it must be one of small, medium, large"], "set 'size' to one of"),
    (TENANT, "webReplicas: 2", "webReplicas: 3", ["generate", "--check"],
     ["field 'webReplicas' is 3, more than the 'small' size tier's quota allows (2)"], "choose a larger size"),
    (TENANT, "webReplicas: 2", "webReplicas: two", ["list"],
     ["field 'webReplicas' must be a number, got 'two'"], "write 'webReplicas' as a number"),
    (CLUSTER, "controller: flux", "controller: fluxcd", NEW_TENANT,
     ["field 'controller' is 'fluxcd'; it must be one of argocd, flux"], "set 'controller' to one of"),
    (CLUSTER, "domain: us.wfg.example.com", "domain: US_EAST", ["generate"],
     ["field 'domain': domain 'US_EAST' is not a valid DNS name"], DNS_HINT),
    (CONFIG, "  version: 10.3.1", "  version: latest", ["generate"],
     ["field 'workflowgen.version' is 'latest', not a version X.Y.Z"], "no 'latest'"),
    # Unknown fields.
    (TENANT, "size: small", "sise: small", ["generate"],
     ["field 'sise' is not a known field"], "known fields here: apiVersion, auth, bodySize, database, egress, hosts"),
    (CLUSTER, "controller: flux", "controller: flux\nzone: a", ["list"],
     ["field 'zone' is not a known field"], "known fields here: apiVersion, argocd, controller"),
    (CONFIG, "  version: 10.3.1", "  version: 10.3.1\n  replicas: 3", NEW_TENANT,
     ["field 'workflowgen.replicas' is not a known field"], "known fields here: databaseImage, databaseTag, version"),
]


MALFORMED_IDS = [f"{c[0].rsplit('/', 1)[-1]}:{c[2].splitlines()[-1].strip()}:{c[3][0]}" for c in MALFORMED]


@pytest.mark.parametrize(("rel", "old", "new", "argv", "expected", "hint"), MALFORMED, ids=MALFORMED_IDS)
def test_malformed_declaration_is_reported_with_file_line_and_field(
        estate: Path, rel: str, old: str, new: str, argv: list[str], expected: list[str], hint: str) -> None:
    path = estate / rel
    text = path.read_text()
    assert text.count(old) == 1
    broken = text.replace(old, new)
    path.write_text(broken)
    commit_all(estate, f"Break {rel}")  # a clean repository: only the declaration is wrong
    marker = new.split("\n")[-1].strip()
    line = 1 + next(i for i, src in enumerate(broken.splitlines()) if src.strip() == marker)
    assert_refused(estate, argv, [f"error: {rel}:{line}: ", *expected], hint)


def test_malformed_tenant_name_field_is_reported(estate: Path) -> None:
    path = estate / TENANT
    path.write_text(path.read_text().replace("name: acme", "name: globex"))
    commit_all(estate, "Rename in the wrong place")
    assert_refused(estate, ["generate"],
                   [f"{TENANT}:4: field 'name' is 'globex' but the file is in overlays/acme/"],
                   "set 'name: acme' or move the file")


# --------------------------------------------------------------------------- uncommitted work, unmanaged files

AP_1 = ["add-cluster", "ap-1", "--data-storage-class", "nfs-csi",
        "--region", "ap-south", "--controller", "argocd", "--windows-build", "ltsc2022",
        "--domain", "ap.wfg.example.com", "--server", "https://10.0.0.3:6443"]


def test_add_cluster_no_commit_refuses_when_a_file_it_rewrites_is_dirty(estate: Path) -> None:
    bootstrap = estate / "argocd/bootstrap.yaml"
    bootstrap.write_text(bootstrap.read_text() + "# a local experiment\n")  # modified, not committed
    result = assert_refused(
        estate, [*AP_1, "--no-commit"],
        ["uncommitted changes in files this command would write", "argocd/bootstrap.yaml"], "git stash")
    assert "clusters/ap-1" not in result.stderr  # only the dirty file is named
    assert not (estate / "clusters/ap-1").exists()
    assert bootstrap.read_text().endswith("# a local experiment\n")


def test_add_cluster_commits_from_the_base_and_leaves_a_dirty_file_alone(estate: Path) -> None:
    """The commit is made from the base commit's files, not from the work tree: a local experiment in a file
    of the estate is neither committed nor overwritten."""
    bootstrap = estate / "argocd/bootstrap.yaml"
    bootstrap.write_text(bootstrap.read_text() + "# a local experiment\n")
    result = cli(estate, *AP_1)
    assert result.exit_code == 0, result.output
    repo = pygit2.Repository(str(estate))
    tip = repo.branches.local["gitops-gen/add-cluster-ap-1"].peel(pygit2.Commit)
    committed = repo[tip.tree["argocd/bootstrap.yaml"].id].peel(pygit2.Blob).data.decode()
    assert "a local experiment" not in committed and "argocd/clusters/ap-1.yaml" in tip.tree
    assert bootstrap.read_text().endswith("# a local experiment\n")
    # add-cluster adds files only: the branch holds the same bootstrap.yaml, so --checkout keeps the experiment
    # as 'git switch' would.
    switched = cli(estate, "add-tenant", "apco", "--cluster", "ap-1", "--base", "gitops-gen/add-cluster-ap-1",
                   "--checkout")
    assert switched.exit_code == 0, switched.output
    assert pygit2.Repository(str(estate)).head.shorthand == "gitops-gen/add-tenant-apco"
    assert bootstrap.read_text().endswith("# a local experiment\n")


def test_add_tenant_no_commit_refuses_when_an_untracked_file_stands_where_it_writes(estate: Path) -> None:
    stray = estate / "clusters/eu-west-1/tenants/newco.yaml"
    stray.write_text("tenant: newco\n")  # untracked
    assert_refused(estate, [*NEW_TENANT, "--no-commit"],
                   ["uncommitted changes", "clusters/eu-west-1/tenants/newco.yaml"], "commit or stash them first")
    assert stray.read_text() == "tenant: newco\n"
    assert not (estate / "overlays/newco").exists()


def test_add_tenant_refuses_to_overwrite_a_committed_file_it_did_not_write(estate: Path) -> None:
    mine = estate / "argocd/projects/newco.yaml"
    mine.write_text("# hand-written AppProject\nkind: AppProject\n")
    commit_all(estate, "Hand-written project")
    assert_refused(estate, NEW_TENANT, ["files gitops-gen did not write", "argocd/projects/newco.yaml"],
                   "move them away")
    assert mine.read_text() == "# hand-written AppProject\nkind: AppProject\n"


# --------------------------------------------------------------------------- Windows build vs WorkflowGen version

def test_ltsc2022_cluster_refused_when_the_version_has_no_ltsc2022_image(tmp_path: Path) -> None:
    root = tmp_path / "old"
    init = runner.invoke(app, ["init", str(root), "--repo-url", REPO_URL, "--workflowgen-version", "10.2.0"])
    assert init.exit_code == 0, init.output
    opts = ["--region", "eu-west", "--controller", "flux", "--domain", "eu.wfg.example.com"]
    assert_refused(root, ["add-cluster", "eu-west-1", "--data-storage-class", "nfs-csi",
                          "--windows-build", "ltsc2022", *opts],
                   ["error: --windows-build is ltsc2022 but WorkflowGen 10.2.0 has no ltsc2022 image (only 10.3.1, "
                    "9.6.1)"],
                   "use ltsc2019 nodes for this cluster")
    # The same cluster on ltsc2019 nodes is fine: the refusal is about the image, nothing else.
    ok = cli(root, "add-cluster", "eu-west-1", "--data-storage-class", "nfs-csi", "--windows-build", "ltsc2019", *opts)
    assert ok.exit_code == 0, ok.output
    assert branches(root) == ["gitops-gen/add-cluster-eu-west-1", "main"]
