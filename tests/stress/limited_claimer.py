"""The body of one claiming OS process in the limits stress test: a rota Service on the
shared store (so it reads the queues' limits from it, as a server does), claiming from the
limited queues for a fixed time, holding each task a little, then completing it. It writes
one line per task: its queue, when its claim returned and when its completion was sent
(wall clock): an interval inside the one the store had it running."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from threading import Barrier

from rota.backends import backend_from_url
from rota.config import Settings
from rota.service import Service
from rota.service.service import Completion

QUEUES = ["lim", "rate"]


async def _claim_for(url: str, worker: str, seconds: float, start: Barrier) -> list[str]:
    service = Service(backend_from_url(url), Settings(database_url=url))
    await service.open()
    lines = []
    try:
        start.wait(timeout=120)
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            tasks = await service.claim(worker, queues=QUEUES, limit=4)
            claimed = time.time()
            if not tasks:
                await asyncio.sleep(0.02)
                continue
            await asyncio.sleep(0.02)  # the run: long enough for claims to overlap it
            sent = time.time()
            await service.report([Completion(t.id, t.lease_token) for t in tasks], [])
            lines += [f"{t.queue} {claimed!r} {sent!r}" for t in tasks]
    finally:
        await service.close()
    return lines


def run_limited_claimer(url: str, worker: str, seconds: float, out: str, start: Barrier) -> None:
    lines = asyncio.run(_claim_for(url, worker, seconds, start))
    Path(out).write_text("".join(f"{line}\n" for line in lines))
