"""The core of every command: explicit arguments in, a result out. Never prints, never exits."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pygit2

from gitops_gen import gitrepo, yamlio
from gitops_gen.errors import GitError, UserError
from gitops_gen.estate import layout
from gitops_gen.estate.hostindex import host_owners, read_tenant_hosts
from gitops_gen.estate.load import (
    check_config_clusters,
    check_tenant_against,
    load_clusters,
    load_config,
    load_estate,
    regional_owner,
)
from gitops_gen.estate.model import (
    Cluster,
    EstateConfig,
    Tenant,
    check_cluster_name,
    check_tenant_name,
    cluster_declaration,
    parse_config,
    tenant_declaration,
)
from gitops_gen.generate.files import cluster_files, estate_files, shared_files, tenant_files
from gitops_gen.generate.scaffold import scaffold_files
from gitops_gen.write.plan import Plan, plan_files
from gitops_gen.write.writer import apply_plan


@dataclass
class ChangeResult:
    """What a writing command did (or, with dry_run, would do)."""

    plan: Plan
    dry_run: bool = False
    commit: str | None = None
    branch: str | None = None
    message: str | None = None
    extra: dict[str, object] = field(default_factory=dict)

    def as_json(self) -> dict[str, object]:
        return {"dryRun": self.dry_run, "changes": self.plan.as_json(), "commit": self.commit,
                "branch": self.branch, "message": self.message, **self.extra}


def resolve_root(repo_opt: Path | None, cwd: Path | None = None) -> Path:
    """The estate root: --repo, or the work tree of the git repository around ``cwd``."""
    if repo_opt is not None:
        if not repo_opt.is_dir():
            raise UserError(f"--repo {repo_opt}: no such directory", "pass the path of an estate repository")
        return repo_opt.resolve()
    start = cwd or Path.cwd()
    repo = gitrepo.discover(start)
    if repo is None or repo.workdir is None:
        raise UserError(f"{start} is not inside a git repository",
                        "run the command inside an estate, or pass --repo PATH")
    return Path(repo.workdir).resolve()


# --------------------------------------------------------------------------- writing, committing

def _to_repo_paths(repo: pygit2.Repository, root: Path, paths: list[str]) -> list[str]:
    prefix = gitrepo.prefix_in_repo(repo, root)
    return [prefix + p for p in paths]


def _refuse_dirty(repo: pygit2.Repository, root: Path, plan: Plan) -> None:
    dirty = gitrepo.dirty_paths(repo, _to_repo_paths(repo, root, plan.paths))
    if dirty:
        shown = "\n    ".join(dirty[:20]) + ("\n    ..." if len(dirty) > 20 else "")
        raise GitError(f"uncommitted changes in files this command would write:\n    {shown}",
                       "commit or stash them first (git stash), then run the command again")


def _apply_and_commit(root: Path, plan: Plan, message: str, branch: str | None, commit: bool,
                      dry_run: bool) -> ChangeResult:
    result = ChangeResult(plan, dry_run=dry_run, branch=branch if commit else None, message=message)
    if dry_run or plan.empty:
        return result
    repo = gitrepo.open_repo(root) if commit else gitrepo.discover(root)
    if repo is not None:
        _refuse_dirty(repo, root, plan)
    _refuse_unmanaged(plan, "the command")
    if commit:
        assert repo is not None
        if repo.head_is_unborn:
            raise GitError("the repository has no commit yet to branch from",
                           "commit the estate first (gitops-gen init commits it for you)")
        if branch is not None and f"refs/heads/{branch}" in repo.references:
            raise GitError(f"branch {branch!r} already exists",
                           f"delete it (git branch -D {branch}) or choose another name with --branch")
        gitrepo.signature(repo)  # fail before writing when git has no identity
    apply_plan(root, plan)
    if commit:
        assert repo is not None
        result.commit = gitrepo.commit_paths(repo, _to_repo_paths(repo, root, plan.paths), message, branch)
    return result


# --------------------------------------------------------------------------- init

def init_estate(path: Path, repo_url: str, revision: str = "main", workflowgen_version: str = "10.3.1",
                secrets_mode: str = "external-secrets", dry_run: bool = False,
                commit: bool = True) -> ChangeResult:
    """Scaffold an estate at ``path`` (git init if needed). Idempotent: existing files are kept."""
    config_path = path / layout.CONFIG_FILE
    if config_path.is_file():
        config = load_config(path)
    else:
        config = EstateConfig(repo_url=repo_url, revision=revision, workflowgen_version=workflowgen_version,
                              secrets_mode=secrets_mode)
        # Round-trip through the parser: the flags get the same validation as the file would.
        config = parse_config(layout.CONFIG_FILE, scaffold_files(config)[layout.CONFIG_FILE])
    desired = {p: t for p, t in scaffold_files(config).items() if not (path / p).exists()}
    desired.update(shared_files(config, load_clusters(path) if path.is_dir() else {}))
    plan = plan_files(path, desired)
    # init never overwrites a file somebody changed; 'generate' reports and fixes derived ones.
    plan.changes = [c for c in plan.changes if c.action == "create"]
    message = "Initialise gitops-gen estate"
    result = ChangeResult(plan, dry_run=dry_run, message=message)
    if dry_run:
        return result
    path.mkdir(parents=True, exist_ok=True)
    repo = gitrepo.discover(path)
    if repo is None:
        repo = pygit2.init_repository(str(path), initial_head=revision)
    if plan.empty:
        return result
    _refuse_dirty(repo, path, plan)
    apply_plan(path, plan)
    if commit:
        result.commit = gitrepo.commit_paths(repo, _to_repo_paths(repo, path, plan.paths), message, None)
        result.branch = gitrepo.current_branch(repo)
    return result


# --------------------------------------------------------------------------- add-cluster

def add_cluster(root: Path, cluster: Cluster, dry_run: bool = False, commit: bool = True,
                branch: str | None = None) -> ChangeResult:
    check_cluster_name(cluster.name)
    config = load_config(root)
    clusters = load_clusters(root)
    if cluster.name in clusters or (root / layout.cluster_dir(cluster.name)).exists():
        raise UserError(f"cluster {cluster.name!r} already exists ({layout.cluster_file(cluster.name)})",
                        "choose another name, or edit that file and run 'gitops-gen generate'")
    # Validate the declaration exactly as it will be read back.
    text = yamlio.dump_declaration(cluster_declaration(cluster))
    from gitops_gen.estate.model import parse_cluster

    cluster = parse_cluster(layout.cluster_file(cluster.name), text, expected_name=cluster.name)
    all_clusters = {**clusters, cluster.name: cluster}
    check_config_clusters(config, all_clusters)
    for t in read_tenant_hosts(root, _cache_dir(root)).values():
        for h in t.hosts:
            if regional_owner(h, {cluster.name: cluster}):
                raise UserError(f"domain {cluster.domain!r} contains host {h!r} of tenant {t.name!r}",
                                "regional hosts '<tenant>.<domain>' would collide with it; choose another domain")
    desired = {layout.cluster_file(cluster.name): declaration_header("cluster") + text}
    desired.update(cluster_files(config, cluster))
    desired.update(shared_files(config, all_clusters))
    plan = plan_files(root, desired)
    branch = branch or f"gitops-gen/add-cluster-{cluster.name}"
    message = (f"Add cluster {cluster.name} ({cluster.controller}, region {cluster.region}, "
               f"Windows {cluster.windows_build})")
    return _apply_and_commit(root, plan, message, branch, commit, dry_run)


def declaration_header(kind: str) -> str:
    return (f"# {kind.capitalize()} declaration, edited by people and by gitops-gen. "
            f"After editing, run 'gitops-gen generate'.\n")


def _cache_dir(root: Path) -> Path | None:
    repo = gitrepo.discover(root)
    return Path(repo.path) if repo is not None else None


# --------------------------------------------------------------------------- add-tenant

def add_tenant(root: Path, tenant: Tenant, dry_run: bool = False, commit: bool = True,
               branch: str | None = None) -> ChangeResult:
    """Write the tenant's declaration and derived files; no file shared with other tenants changes."""
    check_tenant_name(tenant.name)
    config = load_config(root)
    clusters = load_clusters(root)
    check_config_clusters(config, clusters)
    if (root / layout.tenant_dir(tenant.name)).exists():
        raise UserError(f"tenant {tenant.name!r} already exists ({layout.tenant_file(tenant.name)})",
                        "choose another name, or edit that file and run 'gitops-gen generate'")
    text = yamlio.dump_declaration(tenant_declaration(tenant))
    from gitops_gen.estate.model import parse_tenant

    tenant = parse_tenant(layout.tenant_file(tenant.name), text, expected_name=tenant.name)
    others = read_tenant_hosts(root, _cache_dir(root))
    check_tenant_against(tenant, clusters, host_owners(others))
    desired = {layout.tenant_file(tenant.name): declaration_header("tenant") + text}
    desired.update(tenant_files(config, clusters, tenant))
    plan = plan_files(root, desired)
    branch = branch or f"gitops-gen/add-tenant-{tenant.name}"
    message = f"Add tenant {tenant.name} on {', '.join(tenant.placements)}"
    if tenant.hosts:
        message += "\n\nHosts: " + ", ".join(f"{h.host} -> {h.placement}" for h in tenant.hosts)
    return _apply_and_commit(root, plan, message, branch, commit, dry_run)


# --------------------------------------------------------------------------- generate

def generate(root: Path, dry_run: bool = False) -> ChangeResult:
    """Regenerate every derived file from the declarations; remove derived files whose source is gone."""
    estate = load_estate(root)
    plan = plan_files(root, estate_files(estate), orphans_under=layout.DERIVED_ROOTS)
    result = ChangeResult(plan, dry_run=dry_run)
    if not dry_run and not plan.empty:
        _refuse_unmanaged(plan, "generate")
        apply_plan(root, plan)
    return result


def _refuse_unmanaged(plan: Plan, command: str) -> None:
    """Commands may overwrite derived files that were hand-edited (generate's job); never
    delete or replace files gitops-gen did not write."""
    unmanaged = [c.path for c in plan.changes if c.reason == "unmanaged"]
    if unmanaged:
        raise UserError("files gitops-gen did not write stand where it writes derived files:\n    "
                        + "\n    ".join(unmanaged),
                        f"move them away, or delete them if they are leftovers, then run {command} again")


# --------------------------------------------------------------------------- list, route

@dataclass(frozen=True)
class PlacementRow:
    tenant: str
    cluster: str
    region: str
    controller: str
    namespace: str
    regional_host: str
    global_hosts: tuple[str, ...]

    def as_json(self) -> dict[str, object]:
        return {"tenant": self.tenant, "cluster": self.cluster, "region": self.region,
                "controller": self.controller, "namespace": self.namespace,
                "regionalHost": self.regional_host, "globalHosts": list(self.global_hosts)}


def list_placements(root: Path) -> tuple[dict[str, Cluster], list[PlacementRow]]:
    estate = load_estate(root)
    rows = [
        PlacementRow(t.name, c, estate.clusters[c].region, estate.clusters[c].controller, t.namespace,
                     estate.clusters[c].regional_host(t.name), tuple(t.global_hosts_of(c)))
        for t in estate.tenants.values() for c in t.placements
    ]
    rows.sort(key=lambda r: (r.cluster, r.tenant))
    return estate.clusters, rows


@dataclass(frozen=True)
class Route:
    host: str
    kind: str  # "global" or "regional"
    row: PlacementRow

    def as_json(self) -> dict[str, object]:
        return {"host": self.host, "kind": self.kind, **self.row.as_json(),
                "url": f"https://{self.host}/wfgen"}


def route(root: Path, host: str) -> Route:
    host = host.strip().lower().rstrip(".")
    _, rows = list_placements(root)
    for row in rows:
        if host in row.global_hosts:
            return Route(host, "global", row)
        if host == row.regional_host:
            return Route(host, "regional", row)
    raise UserError(f"no tenant serves host {host!r}",
                    "check the spelling; 'gitops-gen list' shows every tenant's hosts")


def config_of(root: Path) -> EstateConfig:
    return load_config(root)
