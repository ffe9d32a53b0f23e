"""``rota top``: a live view of the queues, how fast they move, and the workers.

Each frame reads the queues and workers over the HTTP API (viewer role). Rates are the
change in finished tasks (succeeded, failed, canceled) between two frames, so the first
frame has none; a retention sweep that deletes finished tasks between frames reads as
zero, never as a negative rate.
"""

from __future__ import annotations

import time
from typing import Annotated, Any

import typer
from rich.console import Console, Group
from rich.live import Live
from rich.table import Table

from rota.cli import render
from rota.cli.output import DEFAULT_URL, Token, Url
from rota.client import Client

FINISHED = ("succeeded", "failed", "canceled")
SHOWN = ("queued", "scheduled", "running", "succeeded", "failed", "canceled")


def _finished(states: dict[str, int]) -> int:
    return sum(states.get(s, 0) for s in FINISHED)


def frame(
    queues: list[dict[str, Any]],
    workers: list[dict[str, Any]],
    before: dict[str, int] | None,
    seconds: float,
) -> Group:
    """One screen: a row per queue (its states and finished tasks a second), then the
    workers."""
    table = Table("queue", *SHOWN, "done/s", title="queues", pad_edge=False)
    for q in queues:
        done = _finished(q["states"])
        rate = (
            "" if before is None else f"{max(done - before.get(q['name'], done), 0) / seconds:.1f}"
        )
        table.add_row(q["name"], *(str(q["states"].get(s, 0)) for s in SHOWN), rate)
    running = sum(len(w.get("running") or []) for w in workers)
    title = f"{len(workers)} worker(s), {running} task(s) running"
    return Group(table, render.workers_table(workers) if workers else "no workers", title)


def top(
    interval: Annotated[float, typer.Option(min=0.2, help="seconds between frames")] = 2.0,
    once: Annotated[bool, typer.Option(help="print one frame and exit")] = False,
    url: Url = DEFAULT_URL,
    token: Token = None,
) -> None:
    """A live view of queues, rates and workers, until Ctrl-C."""
    console = Console()
    before: dict[str, int] | None = None
    with Client(url, token=token) as client:
        if once:
            console.print(frame(client.queues(), client.workers(), None, interval))
            return
        with Live(console=console, auto_refresh=False, screen=False) as live:
            try:
                while True:
                    queues = client.queues()
                    live.update(frame(queues, client.workers(), before, interval), refresh=True)
                    before = {q["name"]: _finished(q["states"]) for q in queues}
                    time.sleep(interval)
            except KeyboardInterrupt:
                pass
