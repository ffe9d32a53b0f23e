"""``rota up``: the server, workers and a visible demo in one process, until Ctrl-C."""

from __future__ import annotations

import asyncio
import random
from itertools import groupby

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

from rota.cli.runners import make_registry, stop_on_signals
from rota.cli.serving import make_server
from rota.client import AsyncClient, task_body
from rota.client._async import DEFAULT_URL
from rota.config import Settings, redacted
from rota.core.errors import RotaError
from rota.core.models import Task
from rota.core.priority import NAMED_PRIORITIES
from rota.worker import HttpSource, Worker, WorkerOptions

console = Console()
DEMO_PER_LEVEL = 20


async def run_up(settings: Settings, *, workers: int, concurrency: int, demo: bool) -> None:
    server = make_server(settings, own_signals=False)
    serving = asyncio.create_task(server.serve())
    while not server.started:
        if serving.done():
            raise RotaError(f"the server could not start on {settings.host}:{settings.port}")
        await asyncio.sleep(0.02)
    url = f"http://{settings.host}:{settings.port}"
    console.print(f"[bold]rota is up[/] on {url}, store {redacted(settings.database_url)}")

    stop = asyncio.Event()
    registry = make_registry([], allow_shell=False)
    options = WorkerOptions(concurrency=concurrency, claim_wait=1.0, grace=5.0)
    pool = [
        asyncio.create_task(
            Worker(
                HttpSource(AsyncClient(url)), registry, worker_id=f"up-{i}", options=options
            ).run(stop)
        )
        for i in range(workers)
    ]
    console.print(
        f"{workers} worker(s) x {concurrency} slots, handlers: {', '.join(registry.names())}"
    )
    if demo:
        async with AsyncClient(url) as client:
            await _demo(client)
    # The CLI's default server is ROTA_URL's default: name this one unless it is that.
    there = "" if url == DEFAULT_URL else f" --url {url}"
    console.print(
        f"API docs: [link]{url}/docs[/]   submit: rota submit echo --payload '{{\"hi\": 1}}'{there}"
    )
    console.print("Serving until Ctrl-C.")
    stop_on_signals(stop)
    await stop.wait()
    console.print("stopping: workers first, then the server")
    await asyncio.gather(*pool)
    server.should_exit = True
    await serving


async def _demo(client: AsyncClient) -> None:
    """Submit mixed priorities in one shuffled batch and show that high ones run first."""
    levels = ["high", "mid", "low"]
    bodies = [
        task_body("sleep", {"seconds": round(random.uniform(0.05, 0.15), 3)}, priority=level)
        for level in levels
        for _ in range(DEMO_PER_LEVEL)
    ]
    random.shuffle(bodies)
    job = await client.submit_job("demo", bodies)
    console.print(f"submitted demo job {job['id']}: {len(bodies)} sleep tasks, shuffled priorities")
    with Progress(
        TextColumn("{task.description:>5}"), BarColumn(), MofNCompleteColumn(), console=console
    ) as progress:
        bars = {lvl: progress.add_task(lvl, total=DEMO_PER_LEVEL) for lvl in levels}
        while True:
            tasks = (await client.list(job_id=job["id"], limit=1000)).tasks
            for lvl in levels:
                done = sum(
                    1 for t in tasks if t.priority == NAMED_PRIORITIES[lvl] and t.finished_at
                )
                progress.update(bars[lvl], completed=done)
            if all(t.finished_at for t in tasks):
                break
            await asyncio.sleep(0.1)
    console.print("execution order by start time: " + _runs(tasks))


def _runs(tasks: list[Task]) -> str:
    names = {v: k for k, v in NAMED_PRIORITIES.items()}
    started = sorted(tasks, key=lambda t: (t.started_at is None, t.started_at))
    return " -> ".join(
        f"{names.get(p, p)} x{len(list(group))}"
        for p, group in groupby(t.priority for t in started)
    )
