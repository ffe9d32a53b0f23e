"""``rota schedule add|list|pause|resume|delete``: schedules, through the HTTP API."""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from rota.cli.output import Format, OutputOption, emit
from rota.client import Client
from rota.config import Settings

schedule_app = typer.Typer(help="Tasks made at the times a rule names.", no_args_is_help=True)
console = Console()
Url = Annotated[str, typer.Option(envvar="ROTA_URL", help="the rota server")]
Token = Annotated[str | None, typer.Option(envvar="ROTA_TOKEN", help="credential")]
IdArg = Annotated[str, typer.Argument(help="the schedule's id")]
DEFAULT_URL = Settings().url


@schedule_app.command("add")
def add(
    name: Annotated[str, typer.Argument(help="a unique name")],
    kind: Annotated[str, typer.Option(help="the task's handler")],
    cron: Annotated[str | None, typer.Option(help="five fields, or six (leading seconds)")] = None,
    rrule: Annotated[str | None, typer.Option(help="an RFC 5545 rule")] = None,
    interval: Annotated[float | None, typer.Option(help="every this many seconds")] = None,
    at: Annotated[str | None, typer.Option(help="once, at this ISO 8601 time")] = None,
    timezone: Annotated[str, typer.Option(help="an IANA zone")] = "UTC",
    queue: Annotated[str, typer.Option(help="the task's queue")] = "default",
    payload: Annotated[str, typer.Option(help="the task's payload, a JSON object")] = "{}",
    priority: Annotated[str | None, typer.Option(help="0..100 or high/mid/low")] = None,
    catch_up: Annotated[str, typer.Option(help="skip, once or all")] = "skip",
    overlap: Annotated[str, typer.Option(help="allow, skip or replace")] = "allow",
    deadline: Annotated[float | None, typer.Option(help="seconds it may start late")] = None,
    url: Url = DEFAULT_URL,
    token: Token = None,
) -> None:
    """Make a task from a template at each time the rule names."""
    task: dict[str, Any] = {"kind": kind, "queue": queue, "payload": json.loads(payload)}
    if priority is not None:
        task["priority"] = int(priority) if priority.isdigit() else priority
    rules = {"cron": cron, "rrule": rrule, "interval": interval, "at": at}
    given = {k: v for k, v in rules.items() if v is not None}
    with Client(url, token=token) as client:
        made = client.create_schedule(name, task, timezone=timezone, catch_up=catch_up,
                                      overlap=overlap, deadline=deadline, **given)  # fmt: skip
    console.print(f"schedule {made['id']} ({name}): next run {made['next_run_at']}")


@schedule_app.command("list")
def list_(output: OutputOption = Format.TABLE, url: Url = DEFAULT_URL, token: Token = None) -> None:
    """Every schedule with its rule, next and last run."""
    with Client(url, token=token) as client:
        found = client.schedules()
    if output is Format.JSON:
        return emit(output, {"schedules": found}, str)
    table = Table("id", "name", "rule", "zone", "next run", "last run", "enabled")
    for s in found:
        rule = next(f"{k} {s[k]}" for k in ("cron", "rrule", "interval", "at") if s[k])
        table.add_row(s["id"], s["name"], rule, s["timezone"], s["next_run_at"] or "-",
                      s["last_run_at"] or "-", "yes" if s["enabled"] else "no")  # fmt: skip
    console.print(table if found else "no schedules")


def _switch(schedule_id: str, url: str, token: str | None, done: str, **change: bool) -> None:
    with Client(url, token=token) as client:
        changed = client.update_schedule(schedule_id, **change)
    upcoming = changed["next_run_at"] if changed["enabled"] else None
    console.print(f"{done} {schedule_id}" + (f": next run {upcoming}" if upcoming else ""))


@schedule_app.command("pause")
def pause(schedule_id: IdArg, url: Url = DEFAULT_URL, token: Token = None) -> None:
    """Make no tasks until resumed; then the missed ones follow its catch-up policy."""
    _switch(schedule_id, url, token, "paused", paused=True)


@schedule_app.command("resume")
def resume(schedule_id: IdArg, url: Url = DEFAULT_URL, token: Token = None) -> None:
    """Make tasks again; the occurrences missed while paused follow the catch-up policy."""
    _switch(schedule_id, url, token, "resumed", paused=False)


@schedule_app.command("disable")
def disable(schedule_id: IdArg, url: Url = DEFAULT_URL, token: Token = None) -> None:
    """Make no tasks; enabling it again counts from then (nothing is caught up)."""
    _switch(schedule_id, url, token, "disabled", enabled=False)


@schedule_app.command("enable")
def enable(schedule_id: IdArg, url: Url = DEFAULT_URL, token: Token = None) -> None:
    """Make tasks again, from the next time after now."""
    _switch(schedule_id, url, token, "enabled", enabled=True)


@schedule_app.command("show")
def show(
    schedule_id: IdArg, output: OutputOption = Format.TABLE, url: Url = DEFAULT_URL,
    token: Token = None,
) -> None:  # fmt: skip
    """One schedule: its rule, template, policies, next and last run."""
    with Client(url, token=token) as client:
        found = client.schedule(schedule_id)
    table = Table(title=f"schedule {found['id']}", show_header=False)
    for key, value in found.items():
        table.add_row(key, "-" if value in (None, {}, "") else str(value))
    emit(output, found, lambda: table)


@schedule_app.command("delete")
def delete(schedule_id: IdArg, url: Url = DEFAULT_URL, token: Token = None) -> None:
    with Client(url, token=token) as client:
        client.delete_schedule(schedule_id)
    console.print(f"deleted {schedule_id}")
