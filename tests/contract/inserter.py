"""The body of the inserting OS process in the wake-up contract test.

Kept free of pytest so that a spawned child imports little. It opens its own backend on
the shared store, says it is ready, then inserts one ready task each time it is told to
(round n's into queue ``q<n>``) and writes when each insert returned
(``time.monotonic``, which every process shares).
"""

from __future__ import annotations

import asyncio
import time
from multiprocessing.synchronize import Event
from pathlib import Path

from rota.backends import backend_from_url
from tests.contract.helpers import make_task


async def _insert(url: str, rounds: int, ready: Event, go: Event, out: str) -> None:
    backend = backend_from_url(url)
    await backend.open()
    try:
        ready.set()
        committed: list[float] = []
        for n in range(rounds):
            if not await asyncio.to_thread(go.wait, 30):
                raise TimeoutError("never told to insert")
            go.clear()
            await backend.task_insert_many([make_task(f"t{n}", queue=f"q{n}")])
            committed.append(time.monotonic())
        await asyncio.to_thread(Path(out).write_text, "".join(f"{t!r}\n" for t in committed))
    finally:
        await backend.close()


def insert_when_told(url: str, rounds: int, ready: Event, go: Event, out: str) -> None:
    asyncio.run(_insert(url, rounds, ready, go, out))
