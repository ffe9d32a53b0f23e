"""The other process of the SQLite wake-up tests, kept free of pytest so that a spawned
child imports little: it opens its own service on the shared file and either enqueues when
told (writing when each commit returned) or listens until it is killed."""

from __future__ import annotations

import asyncio
import sys
import time
from multiprocessing.synchronize import Event
from pathlib import Path

from rota.backends.sqlite import SQLiteBackend
from rota.config import Settings
from rota.service import Service, TaskSpec


async def _enqueue(path: str, rounds: int, ready: Event, go: Event, out: str) -> None:
    service = Service(SQLiteBackend(path), Settings(poll_interval=5.0))
    await service.open()
    try:
        committed: list[float] = []
        ready.set()
        for n in range(rounds):
            if not await asyncio.to_thread(go.wait, 30):
                raise TimeoutError("never told to enqueue")
            go.clear()
            await service.enqueue(TaskSpec("work", payload={"n": n}))
            committed.append(time.monotonic())
        await asyncio.to_thread(Path(out).write_text, "".join(f"{t!r}\n" for t in committed))
    finally:
        await service.close()


def enqueue_when_told(path: str, rounds: int, ready: Event, go: Event, out: str) -> None:
    """Enqueue one task each time ``go`` is set; write when each commit returned."""
    asyncio.run(_enqueue(path, rounds, ready, go, out))


async def _listen(path: str) -> None:
    service = Service(SQLiteBackend(path), Settings(poll_interval=5.0))
    await service.open()
    await service.listen()
    print("listening" if service.backend.capabilities.push_wakeups else "polling", flush=True)
    await asyncio.sleep(3600)  # until killed: its socket file stays behind


if __name__ == "__main__":  # python -m tests.sqlite.peer PATH: listen until killed
    asyncio.run(_listen(sys.argv[1]))
