"""Contract for shared stores: another process's insert reaches ``listen_inserts`` at once
(NOTIFY on PostgreSQL, pub/sub on Redis, a datagram on SQLite), with no poll involved."""

from __future__ import annotations

import asyncio
import multiprocessing
import time
from pathlib import Path

import pytest

from rota.backends import backend_from_url
from tests.contract.conftest import Store
from tests.contract.inserter import insert_when_told

ROUNDS = 3


@pytest.mark.slow
async def test_an_insert_in_another_process_wakes_the_listener(
    shared_store: Store, tmp_path: Path
) -> None:
    heard: list[float] = []
    backend = backend_from_url(shared_store.url)
    await backend.open()
    ctx = multiprocessing.get_context("spawn")
    ready, go = ctx.Event(), ctx.Event()
    out = tmp_path / "inserted.txt"
    child = ctx.Process(
        target=insert_when_told, args=(shared_store.url, ROUNDS, ready, go, str(out))
    )
    try:
        await backend.listen_inserts(lambda: heard.append(time.monotonic()))
        assert backend.capabilities.push_wakeups
        child.start()
        assert await asyncio.to_thread(ready.wait, 60), "the other process did not start"
        woke: list[float] = []
        for _ in range(ROUNDS):
            mark = len(heard)  # (a store may wake once as its listener connects)
            go.set()
            deadline = time.monotonic() + 5.0
            while len(heard) == mark and time.monotonic() < deadline:  # noqa: ASYNC110
                await asyncio.sleep(0.005)
            assert len(heard) > mark, "the insert was never heard"
            woke.append(heard[mark])
        await asyncio.to_thread(child.join, 30)
        assert child.exitcode == 0
    finally:
        if child.is_alive():
            child.kill()
            child.join()
        await backend.close()
    inserted = [float(line) for line in (await asyncio.to_thread(out.read_text)).split()]
    delays = [w - i for w, i in zip(woke, inserted, strict=True)]
    assert max(delays) < 1.0, delays
