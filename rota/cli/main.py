"""The ``rota`` command. Every option reads the ``ROTA_*`` variable of the same name."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import sys
import threading
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from rota.cli import render
from rota.cli.output import Format, OutputOption, emit
from rota.cli.queues import queue_app
from rota.cli.runners import check_access, make_registry, quicken_thread_switches, run_worker
from rota.cli.schedules import schedule_app
from rota.cli.simulate import simulate
from rota.cli.tasks import dead_letter_app, task_app
from rota.cli.tokens import token_app
from rota.cli.top import top
from rota.client import Client
from rota.config import Settings, redacted
from rota.core.errors import RotaError
from rota.logs import setup_logging
from rota.worker import WorkerOptions

app = typer.Typer(
    help="rota: a priority-aware distributed task scheduler.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
console = Console()

DatabaseUrl = Annotated[
    str, typer.Option(envvar="ROTA_DATABASE_URL", help="sqlite:///path or memory://")
]
Url = Annotated[str, typer.Option(envvar="ROTA_URL", help="the rota server")]
WorkerUrl = Annotated[
    str,
    typer.Option(envvar="ROTA_URL", help="the rota server, or several (a,b) to fail over"),
]
Token = Annotated[str | None, typer.Option(envvar="ROTA_TOKEN", help="credential")]
Host = Annotated[str, typer.Option(envvar="ROTA_HOST")]
Port = Annotated[int, typer.Option(envvar="ROTA_PORT")]
LogFormatOpt = Annotated[
    str, typer.Option(envvar="ROTA_LOG_FORMAT", help="text, or json: one object per line")
]
DEFAULTS = Settings()
WORKER = WorkerOptions()  # the worker's defaults, written once (rota.worker.runtime)


def _logging(level: str, fmt: str = "text") -> None:
    if fmt not in ("text", "json"):
        raise typer.BadParameter(f"--log-format {fmt!r}: use text or json")
    setup_logging(level, "json" if fmt == "json" else "text")


def _server_urls(url: str) -> str:
    """``--url`` may list several replicas (a,b): the worker fails over to the next one
    when the current one cannot be reached. Each must be a whole http(s) URL."""
    urls = [u.strip() for u in url.split(",")]
    for one in urls:
        scheme, _, rest = one.partition("://")
        if scheme not in ("http", "https") or not rest.strip("/"):
            raise typer.BadParameter(
                f"--url {url!r}: {one!r} is not an http(s) URL; give one server, or several "
                "separated by commas (http://a:8000,http://b:8000) to fail over between them"
            )
    return ",".join(urls)


@app.command()
def serve(
    host: Host = DEFAULTS.host,
    port: Port = DEFAULTS.port,
    database_url: DatabaseUrl = DEFAULTS.database_url,
    insecure: Annotated[
        bool,
        typer.Option(envvar="ROTA_INSECURE", help="serve a non-loopback address with no token"),
    ] = False,
    compat: Annotated[
        list[str] | None, typer.Option(help="serve a foreign API too (repeatable): dms")
    ] = None,
    app_: Annotated[
        list[str] | None,
        typer.Option("--app", help="module:attr of a rota Registry whose rankers to load"),
    ] = None,
    log_level: str = "info",
    log_format: LogFormatOpt = "text",
) -> None:
    """Serve the HTTP API (and run the lease sweeper) on the store at --database-url."""
    _logging(log_level, log_format)
    settings = Settings.load(host=host, port=port, database_url=database_url, insecure=insecure)
    if compat:  # the flag wins over ROTA_COMPAT
        settings = settings.replace(compat=",".join(compat))
    warning = asyncio.run(check_access(settings))  # the store answers, its schema is current
    store = redacted(database_url)
    banner = f"rota serving on http://{host}:{port} (API docs at /docs), store {store}"
    if log_format == "json":  # every line an object, for the log shipper
        said = logging.getLogger("rota.serve")
        said.info(banner, extra={"rota": {"event": "serve.started", "url": f"{host}:{port}"}})
        if warning:
            said.warning(warning, extra={"rota": {"event": "serve.open_access"}})
    else:
        console.print(banner)
        if warning:
            console.print(f"[yellow]{warning}[/]")
    from rota.cli.serving import make_server  # FastAPI and uvicorn: only `serve` loads them

    quicken_thread_switches()

    make_server(settings, log_level=log_level, apps=app_ or [], own_logging=True).run()


@app.command()
def worker(
    url: WorkerUrl = DEFAULTS.url,
    token: Token = None,
    concurrency: Annotated[int, typer.Option(min=1, max=1000)] = WORKER.concurrency,
    queue: Annotated[list[str] | None, typer.Option(help="repeatable; default: all")] = None,
    capability: Annotated[
        list[str] | None,
        typer.Option(help="what this worker can run (repeatable): tasks that require it"),
    ] = None,
    app_: Annotated[
        list[str] | None, typer.Option("--app", help="module:attr of a rota Registry")
    ] = None,
    allow_shell: Annotated[bool, typer.Option(help="enable the `shell` handler")] = False,
    in_process: Annotated[
        bool, typer.Option(help="use the store directly instead of the HTTP API")
    ] = False,
    database_url: DatabaseUrl = DEFAULTS.database_url,
    worker_id: str | None = None,
    claim_wait: float = WORKER.claim_wait,
    heartbeat_interval: float = WORKER.heartbeat_interval,
    grace: Annotated[
        float, typer.Option(help="seconds running tasks get on SIGTERM")
    ] = WORKER.grace,
    cancel_grace: Annotated[
        float, typer.Option(help="seconds a canceled task may take to stop by itself")
    ] = WORKER.cancel_grace,
    cancel_check_interval: Annotated[
        float,
        typer.Option(min=0, help="seconds between cancel checks while tasks run (0: off)"),
    ] = WORKER.cancel_check_interval,
    summary_interval: Annotated[
        float, typer.Option(min=1, help="seconds between the log's summary lines")
    ] = WORKER.summary_interval,
    executor: Annotated[
        str, typer.Option(help="where sync handlers run: thread or process")
    ] = "thread",
    metrics_port: Annotated[
        int | None,
        typer.Option(min=0, max=65535, help="serve this worker's metrics on this port"),
    ] = None,
    metrics_host: Annotated[
        str, typer.Option(help="the address of --metrics-port (no token check: keep it private)")
    ] = "127.0.0.1",
    log_level: str = "info",
    log_format: LogFormatOpt = "text",
) -> None:
    """Claim and run tasks until SIGTERM or SIGINT."""
    _logging(log_level, log_format)
    if executor not in ("thread", "process"):
        raise typer.BadParameter("--executor must be thread or process")
    settings = Settings.load(url=_server_urls(url), token=token, database_url=database_url)
    registry = make_registry(app_ or [], allow_shell=allow_shell)
    options = WorkerOptions(
        concurrency=concurrency,
        queues=tuple(queue) if queue else None,
        capabilities=tuple(sorted(set(capability or ()))),
        claim_wait=claim_wait,
        heartbeat_interval=heartbeat_interval,
        grace=grace,
        cancel_grace=cancel_grace,
        cancel_check_interval=cancel_check_interval,
        summary_interval=summary_interval,
        executor="process" if executor == "process" else "thread",
        metrics_port=metrics_port,
        metrics_host=metrics_host,
    )
    logging.getLogger("rota.worker").debug("handlers: %s", ", ".join(registry.names()))
    asyncio.run(run_worker(settings, registry, options, in_process=in_process, worker_id=worker_id))
    abandoned = [
        t for t in threading.enumerate() if t.name.startswith("rota-task") and t.is_alive()
    ]
    if abandoned:  # sync handlers past the grace period: their tasks were released already
        logging.getLogger("rota.worker").warning("abandoning %d handler threads", len(abandoned))
        logging.shutdown()
        sys.stdout.flush()
        os._exit(0)


@app.command()
def submit(
    kind: str,
    payload: Annotated[str, typer.Option(help="a JSON object")] = "{}",
    priority: Annotated[str | None, typer.Option(help="0..100 or high/mid/low")] = None,
    queue: str | None = None,
    delay: float | None = None,
    task_id: Annotated[str | None, typer.Option("--id")] = None,
    url: Url = DEFAULTS.url,
    token: Token = None,
) -> None:
    """Submit one task and print its id."""
    try:
        body: Any = json.loads(payload)
    except json.JSONDecodeError as exc:
        raise typer.BadParameter(f"--payload is not JSON: {exc}") from exc
    with Client(url, token=token) as client:
        level = int(priority) if priority and priority.lstrip("-").isdigit() else priority
        task = client.submit(kind, body, priority=level, queue=queue, delay=delay, id=task_id)
    console.print(f"{task.id} {task.state.value} priority={task.priority} queue={task.queue}")


@app.command()
def queues(
    output: OutputOption = Format.TABLE, url: Url = DEFAULTS.url, token: Token = None
) -> None:
    """Queue sizes per state and priority."""
    with Client(url, token=token) as client:
        found = client.queues()
    emit(output, {"queues": found}, lambda: render.queues_table(found))


@app.command()
def up(
    host: Host = DEFAULTS.host,
    port: Port = DEFAULTS.port,
    database_url: DatabaseUrl = DEFAULTS.database_url,
    workers: Annotated[int, typer.Option(min=1, max=16)] = 1,
    concurrency: int = 2,
    demo: Annotated[bool, typer.Option(help="submit the demo batch")] = True,
    insecure: Annotated[
        bool,
        typer.Option(envvar="ROTA_INSECURE", help="serve a non-loopback address with no token"),
    ] = False,
) -> None:
    """Everything on one machine: server, workers and a demo batch, until Ctrl-C."""
    from rota.cli.up import run_up

    settings = Settings.load(host=host, port=port, database_url=database_url, insecure=insecure)
    warning = asyncio.run(check_access(settings))  # fails closed off loopback, as serve does
    if warning:
        console.print(f"[yellow]{warning}[/]")
    quicken_thread_switches()
    asyncio.run(run_up(settings, workers=workers, concurrency=concurrency, demo=demo))


app.registered_commands += task_app.registered_commands  # tasks, task, cancel, retry, ...
app.add_typer(dead_letter_app, name="dead-letter")
app.command("top")(top)
app.add_typer(token_app, name="token")
app.add_typer(schedule_app, name="schedule")
app.add_typer(queue_app, name="queue")
app.command("simulate")(simulate)
intake_app = typer.Typer(help="Block and resume submits (operators).", no_args_is_help=True)
app.add_typer(intake_app, name="intake")
Target = Annotated[str | None, typer.Option(help="one queue (default: all intake)")]
TenantOpt = Annotated[str | None, typer.Option(help="one tenant (default: all intake)")]


@intake_app.command("block")
def intake_block(
    reason: Annotated[str, typer.Option(help="shown to every refused submitter")],
    queue: Target = None,
    tenant: TenantOpt = None,
    url: Url = DEFAULTS.url,
    token: Token = None,
) -> None:
    """Refuse submits (503 with the reason) until `rota intake resume`."""
    with Client(url, token=token) as client:
        block = client.block_intake(reason, queue=queue, tenant=tenant)
    where = "all intake" if block["scope"] == "all" else f"{block['scope']} {block['name']}"
    console.print(f"blocked {where}: {block['reason']}")


@intake_app.command("resume")
def intake_resume(
    queue: Target = None, tenant: TenantOpt = None, url: Url = DEFAULTS.url, token: Token = None
) -> None:
    """Lift a block."""
    with Client(url, token=token) as client:
        resumed = client.resume_intake(queue=queue, tenant=tenant)
    console.print("resumed" if resumed else "there was no such block")


@intake_app.command("status")
def intake_status(
    output: OutputOption = Format.TABLE, url: Url = DEFAULTS.url, token: Token = None
) -> None:
    """The blocks in force."""
    with Client(url, token=token) as client:
        blocks = client.intake_blocks()
    if output is Format.JSON:
        return emit(output, {"blocks": blocks}, str)
    for b in blocks:
        where = "all intake" if b["scope"] == "all" else f"{b['scope']} {b['name']}"
        console.print(f"{where}: {b['reason']} (since {b['since']}, by {b['by']})")
    if not blocks:
        console.print("intake is open")


dispatch_app = typer.Typer(help="Pause and resume a queue's dispatch (operators).")
app.add_typer(dispatch_app, name="dispatch")
QueueArg = Annotated[str, typer.Option(help="the queue")]


@dispatch_app.command("pause")
def dispatch_pause(
    queue: QueueArg,
    reason: Annotated[str, typer.Option(help="why; kept with the pause")],
    url: Url = DEFAULTS.url,
    token: Token = None,
) -> None:
    """Hand out none of the queue's tasks (submits still go in) until resumed."""
    with Client(url, token=token) as client:
        client.pause_dispatch(queue, reason)
    console.print(f"paused {queue}: {reason}")


@dispatch_app.command("resume")
def dispatch_resume(queue: QueueArg, url: Url = DEFAULTS.url, token: Token = None) -> None:
    """Hand out the queue's tasks again."""
    with Client(url, token=token) as client:
        resumed = client.resume_dispatch(queue)
    console.print(f"resumed {queue}" if resumed else f"{queue} was not paused")


@dispatch_app.command("status")
def dispatch_status(
    output: OutputOption = Format.TABLE, url: Url = DEFAULTS.url, token: Token = None
) -> None:
    """The paused queues."""
    with Client(url, token=token) as client:
        paused = client.paused_queues()
    if output is Format.JSON:
        return emit(output, {"paused": paused}, str)
    for p in paused:
        console.print(f"{p['queue']}: {p['reason']} (since {p['since']}, by {p['by']})")
    if not paused:
        console.print("every queue is dispatching")


tenant_app = typer.Typer(
    help="Disable and enable a tenant's scheduling (operators).", no_args_is_help=True
)
app.add_typer(tenant_app, name="tenant")
TenantArg = Annotated[str, typer.Argument(help="the tenant")]


@tenant_app.command("disable")
def tenant_disable(
    tenant: TenantArg,
    reason: Annotated[str, typer.Option(help="why; shown to the tenant's refused submitters")],
    cancel: Annotated[bool, typer.Option(help="also cancel its waiting tasks")] = False,
    url: Url = DEFAULTS.url,
    token: Token = None,
) -> None:
    """Refuse the tenant's submits and hand out none of its waiting tasks until enabled."""
    with Client(url, token=token) as client:
        made = client.disable_tenant(tenant, reason, cancel_waiting=cancel)
    canceled = f"; canceled {made['canceled']} waiting tasks" if cancel else ""
    console.print(f"disabled {tenant}: {reason}{canceled}")


@tenant_app.command("enable")
def tenant_enable(tenant: TenantArg, url: Url = DEFAULTS.url, token: Token = None) -> None:
    """Take the tenant's submits and hand out its tasks again."""
    with Client(url, token=token) as client:
        enabled = client.enable_tenant(tenant)
    console.print(f"enabled {tenant}" if enabled else f"{tenant} was not disabled")


@tenant_app.command("status")
def tenant_status(
    output: OutputOption = Format.TABLE, url: Url = DEFAULTS.url, token: Token = None
) -> None:
    """The tenants whose scheduling is disabled."""
    with Client(url, token=token) as client:
        disabled = client.disabled_tenants()
    if output is Format.JSON:
        return emit(output, {"disabled": disabled}, str)
    for d in disabled:
        console.print(f"{d['tenant']}: {d['reason']} (since {d['since']}, by {d['by']})")
    if not disabled:
        console.print("every tenant is scheduling")


bulk_app = typer.Typer(help="Change waiting tasks by filter (operators).", no_args_is_help=True)
app.add_typer(bulk_app, name="bulk")
QueueOpt = Annotated[str | None, typer.Option(help="only this queue")]
KindOpt = Annotated[str | None, typer.Option(help="only this kind")]
TenantOnly = Annotated[str | None, typer.Option(help="only this tenant")]
LimitOpt = Annotated[int, typer.Option(help="at most this many, the newest")]


def _filters(queue: str | None, kind: str | None, tenant: str | None, limit: int) -> dict[str, Any]:
    given = {"queue": queue, "kind": kind, "tenant": tenant}
    return {"limit": limit, **{key: value for key, value in given.items() if value is not None}}


@bulk_app.command("cancel")
def bulk_cancel(
    queue: QueueOpt = None, kind: KindOpt = None, tenant: TenantOnly = None,
    limit: LimitOpt = 1000, url: Url = DEFAULTS.url, token: Token = None,
) -> None:  # fmt: skip
    """Cancel the queued and scheduled tasks that match."""
    with Client(url, token=token) as client:
        ids = client.cancel_where(**_filters(queue, kind, tenant, limit))
    console.print(f"canceled {len(ids)} task(s)")


@bulk_app.command("priority")
def bulk_priority(
    priority: Annotated[str, typer.Argument(help="0..100, or low / mid / high")],
    queue: QueueOpt = None, kind: KindOpt = None, tenant: TenantOnly = None,
    to_tail: Annotated[bool, typer.Option(help="to the tail of the new level")] = False,
    limit: LimitOpt = 1000, url: Url = DEFAULTS.url, token: Token = None,
) -> None:  # fmt: skip
    """Give the queued and scheduled tasks that match a new priority."""
    level: int | str = int(priority) if priority.isdigit() else priority
    with Client(url, token=token) as client:
        ids = client.set_priority_where(
            level, to_tail=to_tail, **_filters(queue, kind, tenant, limit)
        )
    console.print(f"changed {len(ids)} task(s)")


@app.command("audit")
def audit(
    action: Annotated[str | None, typer.Option(help="e.g. intake.block, task.cancel")] = None,
    actor: Annotated[str | None, typer.Option(help="e.g. token:ops")] = None,
    limit: Annotated[int, typer.Option(help="newest entries to show")] = 50,
    output: OutputOption = Format.TABLE,
    url: Url = DEFAULTS.url,
    token: Token = None,
) -> None:
    """Operator actions, newest first: who did what to what, when and why."""
    with Client(url, token=token) as client:
        entries = client.audit(action=action, actor=actor, limit=limit)
    table = Table("at", "actor", "action", "target", "reason", "detail")
    for e in entries:
        table.add_row(e["at"][:19], e["actor"], e["action"], e["target"] or "",
                      e["reason"] or "", json.dumps(e["detail"]))  # fmt: skip
    emit(output, {"entries": entries}, lambda: table)


db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
app.add_typer(db_app, name="db")


@db_app.command("upgrade")
def db_upgrade(database_url: DatabaseUrl = DEFAULTS.database_url) -> None:
    """Apply every pending migration (PostgreSQL; SQLite creates its schema on first use)."""
    if not database_url.startswith(("postgresql:", "postgres:")):
        console.print(f"{database_url}: nothing to do, SQLite's schema is created on first use")
        return
    from rota.backends.postgres.migrate import head_revision, upgrade
    from rota.backends.postgres.url import PgUrl

    url = PgUrl.parse(database_url)
    upgrade(url)
    console.print(f"schema {url.schema!r} is at revision {head_revision()}")


def main() -> None:
    try:
        app()
    except RotaError as exc:
        Console(stderr=True, soft_wrap=True).print(f"[red]error:[/] {exc}")  # one line
        raise SystemExit(1) from None
