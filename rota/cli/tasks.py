"""Tasks from the terminal: list, show, cancel, retry, re-prioritise, the dead letter, and
the workers that run them; every one a call of the HTTP API."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.console import Console

from rota.cli import render
from rota.cli.output import DEFAULT_URL, Format, OutputOption, Token, Url, emit
from rota.client import Client

task_app = typer.Typer()  # registered flat on ``rota`` (rota.cli.main)
dead_letter_app = typer.Typer(
    help="Tasks that failed for good: list, retry, discard.", no_args_is_help=True
)
console = Console()
IdArg = Annotated[str, typer.Argument(help="the task's id")]
Queue = Annotated[str | None, typer.Option(help="only this queue")]
Kind = Annotated[str | None, typer.Option(help="only this kind")]
Tenant = Annotated[str | None, typer.Option(help="only this tenant")]
Job = Annotated[str | None, typer.Option("--job", help="only this job's tasks")]


@task_app.command("tasks")
def list_tasks(
    queue: Queue = None,
    state: Annotated[str | None, typer.Option(help="queued, running, failed, ...")] = None,
    kind: Kind = None,
    tenant: Tenant = None,
    job: Job = None,
    limit: Annotated[int, typer.Option(min=1, max=1000)] = 50,
    cursor: Annotated[int | None, typer.Option(help="the next page, as printed")] = None,
    output: OutputOption = Format.TABLE,
    url: Url = DEFAULT_URL,
    token: Token = None,
) -> None:
    """List tasks, newest first, a page at a time."""
    with Client(url, token=token) as client:
        page = client.list(queue=queue, state=state, kind=kind, tenant=tenant, job_id=job,
                           cursor=cursor, limit=limit)  # fmt: skip
    data = {"tasks": page.tasks, "next_cursor": page.next_cursor}
    emit(output, data, lambda: render.tasks_table(page.tasks, console.width))
    if output is Format.TABLE and page.next_cursor is not None:
        console.print(f"more: --cursor {page.next_cursor}")


@task_app.command("task")
def show_task(
    task_id: IdArg, output: OutputOption = Format.TABLE, url: Url = DEFAULT_URL, token: Token = None
) -> None:
    """One task in detail, with its history."""
    with Client(url, token=token) as client:
        task = client.get(task_id)
        position = client.position(task_id)
        events = client.events(task_id)
    data = {"task": task, "position": position, "events": events}
    if output is Format.JSON:
        emit(output, data, str)
        return
    console.print(render.task_table(task, position))
    console.print(render.events_table(events))


def _changed(verb: str, task: Any) -> None:
    console.print(f"{verb} {task.id}: {task.state.value}, priority {task.priority}")


@task_app.command("cancel")
def cancel(task_id: IdArg, url: Url = DEFAULT_URL, token: Token = None) -> None:
    """Cancel a task: a waiting one at once, a running one when its worker hears of it."""
    with Client(url, token=token) as client:
        _changed("canceled" if (t := client.cancel(task_id)).state.value == "canceled"
                 else "cancel requested for", t)  # fmt: skip


@task_app.command("retry")
def retry(task_id: IdArg, url: Url = DEFAULT_URL, token: Token = None) -> None:
    """Queue a failed or canceled task again, its attempts reset (operators)."""
    with Client(url, token=token) as client:
        _changed("requeued", client.retry(task_id))


@task_app.command("priority")
def priority(
    task_id: IdArg,
    value: Annotated[str, typer.Argument(help="0..100 or high/mid/low")],
    to_tail: Annotated[bool, typer.Option(help="behind the tasks already at it")] = False,
    url: Url = DEFAULT_URL,
    token: Token = None,
) -> None:
    """Change a waiting task's priority (operators)."""
    level: int | str = int(value) if value.lstrip("-").isdigit() else value
    with Client(url, token=token) as client:
        _changed("moved", client.set_priority(task_id, level, to_tail=to_tail))


@task_app.command("workers")
def workers(
    output: OutputOption = Format.TABLE, url: Url = DEFAULT_URL, token: Token = None
) -> None:
    """Live workers: their queues, capabilities, running tasks and last contact."""
    with Client(url, token=token) as client:
        found = client.workers()
    emit(output, {"workers": found}, lambda: render.workers_table(found) if found else "no workers")


def _filters(queue: str | None, kind: str | None, tenant: str | None,
             job: str | None) -> dict[str, Any]:  # fmt: skip
    given = {"queue": queue, "kind": kind, "tenant": tenant, "job_id": job}
    return {k: v for k, v in given.items() if v is not None}


@dead_letter_app.command("list")
def dead_list(
    queue: Queue = None,
    kind: Kind = None,
    tenant: Tenant = None,
    job: Job = None,
    limit: Annotated[int, typer.Option(min=1, max=1000)] = 50,
    cursor: Annotated[int | None, typer.Option(help="the next page, as printed")] = None,
    output: OutputOption = Format.TABLE,
    url: Url = DEFAULT_URL,
    token: Token = None,
) -> None:
    """Failed tasks, newest first."""
    list_tasks(queue=queue, state="failed", kind=kind, tenant=tenant, job=job, limit=limit,
               cursor=cursor, output=output, url=url, token=token)  # fmt: skip


def _confirm(yes: bool, what: str) -> None:
    if not yes and not typer.confirm(f"{what}?"):
        raise typer.Abort()


@dead_letter_app.command("retry")
def dead_retry(
    queue: Queue = None,
    kind: Kind = None,
    tenant: Tenant = None,
    job: Job = None,
    limit: Annotated[int, typer.Option(min=1, max=10_000)] = 1000,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="do not ask")] = False,
    url: Url = DEFAULT_URL,
    token: Token = None,
) -> None:
    """Queue the matching failed tasks again, attempts reset (operators)."""
    filters = _filters(queue, kind, tenant, job)
    _confirm(yes, f"retry up to {limit} failed task(s) matching {filters or 'anything'}")
    with Client(url, token=token) as client:
        ids = client.retry_failed(**filters, limit=limit)
    console.print(f"retried {len(ids)} task(s)")


@dead_letter_app.command("discard")
def dead_discard(
    queue: Queue = None,
    kind: Kind = None,
    tenant: Tenant = None,
    job: Job = None,
    limit: Annotated[int, typer.Option(min=1, max=10_000)] = 1000,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="do not ask")] = False,
    url: Url = DEFAULT_URL,
    token: Token = None,
) -> None:
    """Delete the matching failed tasks and their history, for good (operators)."""
    filters = _filters(queue, kind, tenant, job)
    _confirm(yes, f"delete up to {limit} failed task(s) matching {filters or 'anything'}")
    with Client(url, token=token) as client:
        count = client.discard_failed(**filters, limit=limit)
    console.print(f"discarded {count} task(s)")
