"""The typer layer: options -> one core call -> console output. No logic lives here."""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from enum import StrEnum
from pathlib import Path
from typing import Annotated, TypeVar

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeElapsedColumn
from rich.table import Table

from gitops_gen import __version__, gitrepo
from gitops_gen.checks import Finding
from gitops_gen.checks.sarif import to_sarif
from gitops_gen.commands import common as actions
from gitops_gen.commands import validate as validate_mod
from gitops_gen.errors import GitopsGenError, UserError
from gitops_gen.estate.model import (
    AUTH_MODES,
    SIZE_TIERS,
    Cluster,
    DatabaseSpec,
    HostRoute,
    Tenant,
)
from gitops_gen.publish import pullrequest
from gitops_gen.redact import redact
from gitops_gen.review import diff as diff_mod
from gitops_gen.review import report as diffreport

app = typer.Typer(
    name="gitops-gen",
    help="Keep a multi-tenant WorkflowGen estate on Kubernetes declared in git, for Argo CD and Flux.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
# Off a terminal (pipes, CI logs) rich would wrap tables at 80 columns; keep rows on one line.
out = Console(highlight=False, soft_wrap=True, width=None if sys.stdout.isatty() else 240)
err = Console(stderr=True, highlight=False, soft_wrap=True)
T = TypeVar("T")


class Output(StrEnum):
    table = "table"
    json = "json"


class ControllerOpt(StrEnum):
    argocd = "argocd"
    flux = "flux"


class WindowsBuildOpt(StrEnum):
    ltsc2019 = "ltsc2019"
    ltsc2022 = "ltsc2022"


class DatabaseOpt(StrEnum):
    in_cluster = "in-cluster"
    external = "external"


class SecretsOpt(StrEnum):
    external_secrets = "external-secrets"
    pre_provisioned = "pre-provisioned"


RepoOpt = Annotated[Path | None, typer.Option(
    "--repo", help="Estate repository (default: the git repository around the current directory).",
    show_default=False)]
OutputOpt = Annotated[Output, typer.Option("--output", "-o", help="Output format.")]
DryRunOpt = Annotated[bool, typer.Option(
    "--dry-run", help="Print the plan (files to create or change); write nothing.")]
NoCommitOpt = Annotated[bool, typer.Option("--no-commit", help="Write the files but leave them uncommitted.")]
PushOpt = Annotated[bool, typer.Option("--push", help="Push the branch to the remote after the commit.")]
PrOpt = Annotated[bool, typer.Option(
    "--pr", help="Push the branch and open a pull request (or update the branch's open one) whose description "
    "is the diff against the base; the token comes from GITHUB_TOKEN, GITLAB_TOKEN or GITEA_TOKEN.")]
BaseOpt = Annotated[str | None, typer.Option(
    "--base", help="Branch the pull request merges into (default: repo.revision in gitops-gen.yaml).",
    show_default=False)]
RemoteOpt = Annotated[str | None, typer.Option(
    "--remote", help="Remote to push to (default: forge.remote in gitops-gen.yaml, else origin).", show_default=False)]
ApiUrlOpt = Annotated[str | None, typer.Option(
    "--api-url", help="The forge's API base URL (default: forge.apiUrl in gitops-gen.yaml, else the forge's usual "
    "API on the remote's host).", show_default=False)]


def _print_error(exc: GitopsGenError) -> None:
    # Masked again here: no message may carry a token from the environment or a URL's credentials.
    err.print(f"[bold red]error:[/] {escape(redact(exc.message))}", markup=True, highlight=False)
    if exc.hint:
        err.print(f"[yellow]hint:[/] {escape(redact(exc.hint))}", markup=True, highlight=False)


@contextmanager
def _errors(debug: bool = False) -> Iterator[None]:
    try:
        yield
    except GitopsGenError as exc:
        if os.environ.get("GITOPS_GEN_DEBUG"):
            raise
        _print_error(exc)
        raise typer.Exit(exc.exit_code) from None


def _run(fn: Callable[[], T]) -> T:
    with _errors():
        return fn()
    raise AssertionError("unreachable")  # pragma: no cover


def _print_json(data: object) -> None:
    sys.stdout.write(json.dumps(data, indent=2, sort_keys=False) + "\n")


def _print_change(result: actions.ChangeResult, output: Output, done: str) -> None:
    if output is Output.json:
        _print_json(result.as_json())
        return
    plan = result.plan
    if plan.empty:
        out.print("Nothing to change.")
        return
    verb = "Would" if result.dry_run else "Did"
    style = {"create": "green", "update": "yellow", "delete": "red"}
    for c in plan.changes:
        reason = f" ({c.reason})" if c.reason else ""
        out.print(f"  [{style[c.action]}]{c.action:6}[/] {c.path}{reason}", markup=True, highlight=False)
    counts = {a: sum(1 for c in plan.changes if c.action == a) for a in ("create", "update", "delete")}
    summary = ", ".join(f"{n} {a}" for a, n in counts.items() if n)
    out.print(f"{verb} {summary}.")
    if result.dry_run:
        out.print("Dry run: nothing was written.")
    elif result.commit:
        where = f" on branch {result.branch}" if result.branch else ""
        out.print(f"{done}: committed {result.commit[:12]}{where}.")
    else:
        out.print(f"{done}: files written, not committed.")


@app.callback(invoke_without_command=True)
def _main(version: Annotated[bool, typer.Option("--version", help="Print the version and exit.")] = False) -> None:
    if version:
        out.print(f"gitops-gen {__version__}")
        raise typer.Exit(0)


@app.command()
def init(
    path: Annotated[Path, typer.Argument(help="Directory of the new estate (created if missing).")],
    repo_url: Annotated[str, typer.Option("--repo-url", help="URL Argo CD and Flux clone the estate from.")],
    revision: Annotated[str, typer.Option(help="Branch the controllers follow.")] = "main",
    workflowgen_version: Annotated[str, typer.Option(help="WorkflowGen version (X.Y.Z).")] = "10.3.1",
    secrets: Annotated[SecretsOpt, typer.Option(help="How Secrets reach tenant namespaces.")] =
        SecretsOpt.external_secrets,
    dry_run: DryRunOpt = False,
    no_commit: NoCommitOpt = False,
    output: OutputOpt = Output.table,
) -> None:
    """Scaffold an estate: gitops-gen.yaml, the WorkflowGen base, a CI workflow. Safe to re-run."""
    result = _run(lambda: actions.init_estate(path, repo_url, revision, workflowgen_version, secrets.value,
                                              dry_run=dry_run, commit=not no_commit))
    _print_change(result, output, f"Estate ready in {path}")


def _labels(pairs: list[str]) -> dict[str, str]:
    labels: dict[str, str] = {}
    for p in pairs:
        key, sep, value = p.partition("=")
        if not sep or not key:
            raise UserError(f"--label {p!r} is not KEY=VALUE", "write it like --label tier=gold")
        labels[key] = value
    return labels


@app.command("add-cluster")
def add_cluster(
    name: Annotated[str, typer.Argument(help="Cluster name (DNS label, at most 22 characters).")],
    region: Annotated[str, typer.Option(help="Region the cluster runs in, e.g. eu-west.")],
    controller: Annotated[ControllerOpt, typer.Option(help="GitOps controller reconciling the cluster.")],
    windows_build: Annotated[WindowsBuildOpt, typer.Option(help="Windows Server build of its Windows nodes.")],
    domain: Annotated[str, typer.Option(help="DNS domain of regional hosts (<tenant>.<domain>).")],
    server: Annotated[str | None, typer.Option(help="Argo CD destination server URL.")] = None,
    argocd_name: Annotated[str | None, typer.Option(help="Argo CD destination cluster name (instead of --server).")]
        = None,
    label: Annotated[list[str] | None, typer.Option(help="Cluster label KEY=VALUE (repeatable).")] = None,
    branch: Annotated[str | None, typer.Option(help="Branch to commit on (default: gitops-gen/add-cluster-NAME).")]
        = None,
    repo: RepoOpt = None,
    dry_run: DryRunOpt = False,
    no_commit: NoCommitOpt = False,
    push: PushOpt = False,
    pr: PrOpt = False,
    base: BaseOpt = None,
    remote: RemoteOpt = None,
    api_url: ApiUrlOpt = None,
    output: OutputOpt = Output.table,
) -> None:
    """Declare a cluster and write the objects its controller reconciles."""
    publish = _publish_request(push, pr, base, remote, api_url, dry_run, no_commit)

    def run() -> actions.ChangeResult:
        root = actions.resolve_root(repo)
        _check_target(root, publish)
        cluster = Cluster(name=name, region=region, controller=controller.value,
                          windows_build=windows_build.value, domain=domain.lower(), argocd_server=server,
                          argocd_name=argocd_name, labels=_labels(label or []))
        if controller is ControllerOpt.flux and (server or argocd_name):
            raise UserError("--server and --argocd-name are for Argo CD clusters",
                            "drop them, or use --controller argocd")
        if controller is ControllerOpt.argocd and not (server or argocd_name):
            raise UserError("an Argo CD cluster needs --server URL or --argocd-name NAME",
                            "give the destination as Argo CD knows it, e.g. --server https://10.0.0.1:6443")
        return actions.add_cluster(root, cluster, dry_run=dry_run, commit=not no_commit, branch=branch)

    _change_then_publish(run, repo, publish, output, f"Cluster {name} added")


def _host_routes(hosts: list[str], clusters: list[str]) -> tuple[HostRoute, ...]:
    routes = []
    for h in hosts:
        host, sep, placement = h.partition("=")
        if sep and not placement:
            raise UserError(f"--host {h!r} names no cluster after '='", "write HOST or HOST=CLUSTER")
        routes.append(HostRoute(host.strip().lower(), placement or clusters[0]))
    return tuple(routes)


@app.command("add-tenant")
def add_tenant(
    name: Annotated[str, typer.Argument(help="Tenant name; also its namespace (DNS label, at most 40 characters).")],
    cluster: Annotated[list[str], typer.Option(help="Cluster to place the tenant on (repeatable).")],
    host: Annotated[list[str] | None, typer.Option(
        help="Global host HOST or HOST=CLUSTER (repeatable); served by that placement, by default the first.")]
        = None,
    web_replicas: Annotated[int | None, typer.Option(help="Web pods per placement (default: from gitops-gen.yaml).")]
        = None,
    size: Annotated[str | None, typer.Option(help=f"Size tier: {', '.join(SIZE_TIERS)}.")] = None,
    auth: Annotated[str | None, typer.Option(help=f"WFGEN_AUTH_MODE: {', '.join(AUTH_MODES)}.")] = None,
    database: Annotated[DatabaseOpt | None, typer.Option(help="In-cluster SQL Server or an external one.")] = None,
    database_cidr: Annotated[list[str] | None, typer.Option(
        help="External database address block (repeatable); egress is allowed only there.")] = None,
    database_port: Annotated[int, typer.Option(help="External database port.")] = 1433,
    secret_key: Annotated[str | None, typer.Option(
        help="Key of the tenant's secrets in the external store (default: <keyPrefix>/<tenant>).")] = None,
    branch: Annotated[str | None, typer.Option(help="Branch to commit on (default: gitops-gen/add-tenant-NAME).")]
        = None,
    repo: RepoOpt = None,
    dry_run: DryRunOpt = False,
    no_commit: NoCommitOpt = False,
    push: PushOpt = False,
    pr: PrOpt = False,
    base: BaseOpt = None,
    remote: RemoteOpt = None,
    api_url: ApiUrlOpt = None,
    output: OutputOpt = Output.table,
) -> None:
    """Add a tenant: its declaration, overlays and controller objects, committed on a new branch."""
    publish = _publish_request(push, pr, base, remote, api_url, dry_run, no_commit)

    def run() -> actions.ChangeResult:
        root = actions.resolve_root(repo)
        _check_target(root, publish)
        defaults = actions.config_of(root).defaults
        db_mode = database.value if database else defaults.database
        if database_cidr and db_mode != "external":
            raise UserError("--database-cidr is for an external database", "add --database external")
        tenant = Tenant(
            name=name, placements=tuple(cluster), hosts=_host_routes(host or [], cluster),
            web_replicas=web_replicas if web_replicas is not None else defaults.web_replicas,
            size=size or defaults.size, auth=auth or defaults.auth,
            database=DatabaseSpec(db_mode, tuple(database_cidr or ()), database_port),
            secret_key=secret_key,
        )
        return actions.add_tenant(root, tenant, dry_run=dry_run, commit=not no_commit, branch=branch)

    _change_then_publish(run, repo, publish, output, f"Tenant {name} added")


# --------------------------------------------------------------------------- push and pull requests

def _publish_request(push: bool, pr: bool, base: str | None, remote: str | None, api_url: str | None,
                     dry_run: bool, no_commit: bool) -> pullrequest.PublishRequest | None:
    """--push / --pr of a committing command; bad combinations fail before anything is written."""
    def check() -> pullrequest.PublishRequest | None:
        flag = "--pr" if pr else "--push"
        if (pr or push) and (dry_run or no_commit):
            raise UserError(f"{flag} pushes the commit, and {'--dry-run' if dry_run else '--no-commit'} makes none",
                            f"drop one of them; '{'--dry-run' if dry_run else '--no-commit'}' then "
                            "'gitops-gen pr --dry-run' shows what a pull request would say")
        if not (pr or push):
            for name, value in (("--base", base), ("--remote", remote), ("--api-url", api_url)):
                if value is not None:
                    raise UserError(f"{name} is for pushing and pull requests", "add --pr (or --push), or drop it")
            return None
        if api_url is not None and not pr:
            raise UserError("--api-url is for pull requests", "use --pr instead of --push, or drop --api-url")
        return pullrequest.PublishRequest(pull_request=pr, base=base, remote=remote, api_url=api_url)

    return _run(check)


def _check_target(root: Path, publish: pullrequest.PublishRequest | None) -> None:
    if publish is not None:
        pullrequest.resolve_target(root, publish)


def _change_then_publish(run: Callable[[], actions.ChangeResult], repo: Path | None,
                         publish: pullrequest.PublishRequest | None, output: Output, done: str) -> None:
    """The command's change, then (once committed) the push and pull request. A failure of the second
    step keeps the commit: its report is printed, then the error, and the exit code is the error's."""
    result = _run(run)
    if publish is None or result.commit is None:
        _print_change(result, output, done)
        return
    request = pullrequest.PublishRequest(publish.pull_request, publish.base, publish.remote, publish.api_url,
                                         branch=result.branch)
    try:
        published = pullrequest.publish(actions.resolve_root(repo), request)
    except GitopsGenError as exc:
        if os.environ.get("GITOPS_GEN_DEBUG"):
            raise
        result.extra["publish"] = {"error": redact(exc.message)}
        _print_change(result, output, done)
        _print_error(exc)
        raise typer.Exit(exc.exit_code) from None
    result.extra["publish"] = published.as_json()
    _print_change(result, output, done)
    if output is Output.table:
        _print_published(published)


def _print_published(result: pullrequest.PublishResult) -> None:
    t = result.target
    kind = result.kind
    forge_name = {"github": "GitHub", "gitlab": "GitLab", "gitea": "Gitea"}.get(t.provider or "", "the forge")
    if result.action.startswith("would"):
        out.print(f"Would push {result.branch} ({result.commit[:12]}) to {t.remote} ({t.remote_url}).", highlight=False)
        if result.action == "would-open":
            token = f"${t.token_env} is set" if t.token is not None else f"${t.token_env} is NOT set"
            out.print(f"Would open a {kind} into {t.base} on {forge_name} ({t.api_url}, {t.project}), or update the "
                      f"branch's open one; {token}.", highlight=False)
    else:
        out.print(f"Pushed {result.branch} ({result.commit[:12]}) to {t.remote} ({t.remote_url}).", highlight=False)
        if result.action in ("created", "updated"):
            verb = "Opened" if result.action == "created" else "Updated"
            out.print(f"{verb} {kind} #{result.number} into {t.base} on {forge_name}: {result.url}", highlight=False)
    if result.title is not None:
        out.print(f"  title        {result.title}", highlight=False)
        out.print(f"  labels       {', '.join(result.labels) or '-'}", highlight=False)
        out.print(f"  description  {len((result.body or '').encode()):,} bytes: gitops-gen diff against {t.base} "
                  "and a review checklist", highlight=False)
    for note in result.notes:
        err.print(f"[yellow]warning:[/] {escape(note)}", markup=True, highlight=False)


@app.command("pr")
def pr_(
    base: BaseOpt = None,
    branch: Annotated[str | None, typer.Option(help="Branch to push (default: the current branch).",
                                               show_default=False)] = None,
    remote: RemoteOpt = None,
    api_url: ApiUrlOpt = None,
    max_bytes: Annotated[int, typer.Option(help="Cut the diff in the description to this size.")] =
        pullrequest.DEFAULT_MAX_BYTES,
    repo: RepoOpt = None,
    dry_run: Annotated[bool, typer.Option(
        "--dry-run", help="Print the title, labels and description; push nothing, call no API.")] = False,
    output: OutputOpt = Output.table,
) -> None:
    """Push the current branch and open its pull request, or update the open one (GitHub, GitLab, Gitea).

    The description is 'gitops-gen diff --output markdown' against the base plus a review checklist. Safe to
    re-run: after a failure it finishes the job; on a branch with an open pull request it updates it.
    """
    request = pullrequest.PublishRequest(pull_request=True, base=base, remote=remote, api_url=api_url,
                                         branch=branch, dry_run=dry_run, max_bytes=max_bytes)
    result = _run(lambda: pullrequest.publish(actions.resolve_root(repo), request))
    if output is Output.json:
        _print_json(result.as_json())
    else:
        _print_published(result)
        if dry_run and result.body is not None:
            out.print()
            out.print(escape(result.body), highlight=False)


@app.command()
def generate(
    check: Annotated[bool, typer.Option("--check", help="Write nothing; exit 1 if any derived file is stale, "
                                        "orphaned or hand-edited.")] = False,
    repo: RepoOpt = None,
    dry_run: DryRunOpt = False,
    output: OutputOpt = Output.table,
) -> None:
    """Regenerate every derived file from the declarations and remove orphaned ones."""
    result = _run(lambda: actions.generate(actions.resolve_root(repo), dry_run=dry_run or check))
    if check:
        if output is Output.json:
            _print_json({"upToDate": result.plan.empty, "changes": result.plan.as_json()})
        elif result.plan.empty:
            out.print("All derived files are up to date.")
        else:
            err.print("[bold red]Derived files are out of date:[/]", markup=True)
            for c in result.plan.changes:
                what = {"create": "missing", "delete": "orphaned"}.get(c.action, c.reason)
                err.print(f"  {what:12} {c.path}", highlight=False)
            err.print("[yellow]hint:[/] run 'gitops-gen generate' and commit the result; hand edits of derived "
                      "files are overwritten, so change the declarations instead", markup=True)
        raise typer.Exit(0 if result.plan.empty else 1)
    _print_change(result, output, "Generated")


@app.command("list")
def list_(repo: RepoOpt = None, output: OutputOpt = Output.table) -> None:
    """Tenants by cluster, with regions, namespaces and hosts."""
    clusters, rows = _run(lambda: actions.list_placements(actions.resolve_root(repo)))
    if output is Output.json:
        _print_json({
            "clusters": [
                {"name": c.name, "region": c.region, "controller": c.controller, "windowsBuild": c.windows_build,
                 "domain": c.domain, "labels": dict(c.labels),
                 "tenants": [r.as_json() for r in rows if r.cluster == c.name]}
                for c in sorted(clusters.values(), key=lambda c: c.name)
            ],
        })
        return
    table = Table("cluster", "region", "controller", "tenant", "namespace", "hosts", box=None, pad_edge=False)
    for r in rows:
        table.add_row(r.cluster, r.region, r.controller, r.tenant, r.namespace,
                      ", ".join([*r.global_hosts, r.regional_host]))
    out.print(table)
    out.print(f"{len({r.tenant for r in rows})} tenants, {len(rows)} placements on {len(clusters)} clusters.")


@app.command()
def route(
    host: Annotated[str, typer.Argument(help="Host name, e.g. acme.wfg.example.com.")],
    repo: RepoOpt = None,
    output: OutputOpt = Output.table,
) -> None:
    """Which tenant, cluster, region and namespace serve a host."""
    r = _run(lambda: actions.route(actions.resolve_root(repo), host))
    if output is Output.json:
        _print_json(r.as_json())
        return
    for key, value in (("host", f"{r.host} ({r.kind})"), ("tenant", r.row.tenant), ("cluster", r.row.cluster),
                       ("region", r.row.region), ("namespace", r.row.namespace),
                       ("controller", r.row.controller), ("url", f"https://{r.host}/wfgen")):
        out.print(f"{key:11}{value}", highlight=False)


class ValidateOutput(StrEnum):
    table = "table"
    json = "json"
    sarif = "sarif"


class _RenderProgress:
    """A progress bar on a terminal, shown only once rendering takes more than a moment."""

    def __init__(self) -> None:
        self.start = time.monotonic()
        self.bar: Progress | None = None
        self.task: TaskID | None = None

    def __call__(self, done: int, total: int) -> None:
        if self.bar is None:
            if done >= total or not err.is_terminal or time.monotonic() - self.start < 0.5:
                return
            self.bar = Progress(TextColumn("rendering overlays"), BarColumn(), MofNCompleteColumn(),
                                TimeElapsedColumn(), console=err, transient=True)
            self.bar.start()
            self.task = self.bar.add_task("render", total=total)
        assert self.task is not None
        self.bar.update(self.task, completed=done, total=total)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.stop()


def _print_findings(result: validate_mod.ValidateResult) -> None:
    groups: dict[tuple[str, str], list[Finding]] = {}
    for f in result.findings:
        groups.setdefault((f.tenant or "", f.cluster or ""), []).append(f)
    for (tenant, cluster), items in groups.items():
        title = " / ".join(x for x in (tenant and f"tenant {tenant}", cluster and f"cluster {cluster}") if x)
        table = Table(title=title or "estate", title_justify="left", box=None, pad_edge=False, expand=False)
        for col in ("", "rule", "object", "message", "fix"):
            table.add_column(col, overflow="fold")
        for f in items:
            mark = "[red]error[/]" if f.severity == "error" else "[yellow]warning[/]"
            table.add_row(mark, f.rule, f.obj or f.path or "", escape(f.message), escape(f.hint))
        out.print(table)
        out.print()
    unchanged = len(result.overlays) - result.checked
    summary = (f"{len(result.overlays)} overlays ({result.selection}): {result.checked} checked "
               f"({result.rendered} rendered by kustomize), {unchanged} unchanged since the last run; "
               f"{result.errors} errors, {result.warnings} warnings.")
    out.print(summary, highlight=False)


@app.command()
def validate(
    tenant: Annotated[list[str] | None, typer.Option(help="Only this tenant's overlays (repeatable).")] = None,
    cluster: Annotated[list[str] | None, typer.Option(help="Only overlays on this cluster (repeatable).")] = None,
    changed_since: Annotated[str | None, typer.Option(
        help="Only overlays whose inputs differ from this git ref (a change to base/ selects all).")] = None,
    crd_dir: Annotated[list[Path] | None, typer.Option(
        help="Folder of CRD files for custom kinds (repeatable; adds to 'crds' in gitops-gen.yaml).")] = None,
    kubernetes_version: Annotated[str, typer.Option(help="Kubernetes version of the core schemas.")] =
        validate_mod.DEFAULT_KUBERNETES_VERSION,
    jobs: Annotated[int | None, typer.Option(help="kustomize builds at a time (default: the number of cores).")]
        = None,
    repo: RepoOpt = None,
    output: Annotated[ValidateOutput, typer.Option("--output", "-o", help="Output format.")] = ValidateOutput.table,
) -> None:
    """Render overlays with kustomize and check isolation, HTTPS, routing, Windows, secrets, data safety.

    Exit 0 when clean, 1 when any finding is an error, 2 when validation could not run.
    """
    progress = _RenderProgress()

    def run() -> validate_mod.ValidateResult:
        root = actions.resolve_root(repo)
        request = validate_mod.ValidateRequest(
            tenants=tuple(tenant or ()), clusters=tuple(cluster or ()), changed_since=changed_since,
            crd_dirs=tuple(crd_dir or ()), kubernetes_version=kubernetes_version, jobs=jobs)
        try:
            return validate_mod.validate(root, request, progress=progress)
        finally:
            progress.close()

    result = _run(run)
    if output is ValidateOutput.json:
        _print_json({
            "version": 1,
            "selection": result.selection,
            "summary": {"overlays": len(result.overlays), "checked": result.checked, "rendered": result.rendered,
                        "errors": result.errors, "warnings": result.warnings},
            "findings": [f.as_json() for f in result.findings],
            "rules": validate_mod.rules_catalog(),
        })
    elif output is ValidateOutput.sarif:
        root = actions.resolve_root(repo)
        git = gitrepo.discover(root)
        _print_json(to_sarif(result.findings, gitrepo.prefix_in_repo(git, root) if git is not None else ""))
    else:
        _print_findings(result)
    raise typer.Exit(result.exit_code)


class DiffOutput(StrEnum):
    text = "text"
    markdown = "markdown"
    json = "json"


_DIFF_STYLES = {"title": "bold", "add": "green", "remove": "red", "risk-high": "bold red",
                "risk-medium": "yellow", "risk-low": "", "": ""}


@app.command()
def diff(
    base: Annotated[str | None, typer.Argument(
        help="Base revision (default: the merge base with the default branch).", show_default=False)] = None,
    head: Annotated[str | None, typer.Argument(help="Head revision (default: the work tree).", show_default=False)]
        = None,
    tenant: Annotated[list[str] | None, typer.Option(help="Only this tenant (repeatable).")] = None,
    cluster: Annotated[list[str] | None, typer.Option(help="Only this cluster (repeatable).")] = None,
    output: Annotated[DiffOutput, typer.Option("--output", "-o", help="Output format.")] = DiffOutput.text,
    max_bytes: Annotated[int, typer.Option(help="Cut the markdown report to this size.")] = 60_000,
    exit_code: Annotated[bool, typer.Option("--exit-code", help="Exit 1 when there are differences, like "
                                            "'flux diff'.")] = False,
    repo: RepoOpt = None,
) -> None:
    """What a change does to each tenant on each cluster: Applications, Kustomizations, objects, risks.

    Offline: both sides are read from git objects (or the work tree) and only changed overlays are rendered.
    """
    progress = _RenderProgress()

    def run() -> diff_mod.DiffResult:
        try:
            return diff_mod.diff(actions.resolve_root(repo), base, head, tuple(tenant or ()), tuple(cluster or ()),
                                 progress=progress)
        finally:
            progress.close()

    result = _run(run)
    if output is DiffOutput.json:
        _print_json(diffreport.as_json(result))
    elif output is DiffOutput.markdown:
        sys.stdout.write(diffreport.as_markdown(result, max_bytes))
    else:
        for line, style in diffreport.as_text(result):
            out.print(escape(line), style=_DIFF_STYLES.get(style, ""), highlight=False)
    raise typer.Exit(1 if exit_code and not result.empty else 0)


def main() -> None:
    app()
