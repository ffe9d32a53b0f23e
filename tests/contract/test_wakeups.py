"""Contract for shared stores: another process's insert reaches ``listen_inserts`` at once
(NOTIFY on PostgreSQL, pub/sub on Redis, a datagram on SQLite), with no poll involved, and
the wake-up names the queues that got ready tasks (rota.core.wakeups), so a claimer of
other queues sleeps on."""

from __future__ import annotations

import asyncio
import multiprocessing
import time
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest

from rota.backends import Backend, backend_from_url
from rota.core.states import TaskState as S
from rota.core.wakeups import Queues
from tests.contract.conftest import Store
from tests.contract.helpers import T0, claim_one, finish, make_task
from tests.contract.inserter import insert_when_told

ROUNDS = 3


class Heard:
    """A ``listen_inserts`` callback: when each wake-up came, and the queues it named."""

    def __init__(self) -> None:
        self.at: list[float] = []
        self.queues: list[Queues] = []

    def __call__(self, queues: Queues) -> None:
        self.at.append(time.monotonic())
        self.queues.append(queues)

    async def concerning(self, mark: int, queue: str, within: float = 5.0) -> bool:
        """Whether a wake-up past ``mark`` that wakes claims of ``queue`` (names it, or
        names none) arrives within ``within`` seconds."""
        deadline = time.monotonic() + within
        while time.monotonic() < deadline:
            if any(q is None or queue in q for q in self.queues[mark:]):
                return True
            await asyncio.sleep(0.005)
        return False

    async def named(self, mark: int, within: float = 5.0) -> int | None:
        """The index of the first wake-up past ``mark`` that names queues, within
        ``within`` seconds; None when none came."""
        deadline = time.monotonic() + within
        while time.monotonic() < deadline:
            for i in range(mark, len(self.queues)):
                if self.queues[i] is not None:
                    return i
            await asyncio.sleep(0.005)
        return None


@pytest.mark.slow
async def test_an_insert_in_another_process_wakes_the_listener(
    shared_store: Store, tmp_path: Path
) -> None:
    heard = Heard()
    backend = backend_from_url(shared_store.url)
    await backend.open()
    ctx = multiprocessing.get_context("spawn")
    ready, go = ctx.Event(), ctx.Event()
    out = tmp_path / "inserted.txt"
    child = ctx.Process(
        target=insert_when_told, args=(shared_store.url, ROUNDS, ready, go, str(out))
    )
    try:
        await backend.listen_inserts(heard)
        assert backend.capabilities.push_wakeups
        child.start()
        assert await asyncio.to_thread(ready.wait, 60), "the other process did not start"
        woke: list[float] = []
        for n in range(ROUNDS):
            mark = len(heard.at)  # (a store may wake every claimer as its listener connects)
            go.set()
            found = await heard.named(mark)
            assert found is not None, "the insert was never heard"
            assert heard.queues[found] == {f"q{n}"}
            woke.append(heard.at[found])
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


@pytest.fixture
async def listening(shared_store: Store) -> AsyncIterator[tuple[Backend, Heard]]:
    """A second backend on the store (as another process would open it) that listens;
    yields the first, which writes, and what the listener hears."""
    writer, listener = backend_from_url(shared_store.url), backend_from_url(shared_store.url)
    await writer.open()
    await listener.open()
    heard = Heard()
    try:
        await listener.listen_inserts(heard)
        assert listener.capabilities.push_wakeups
        # PostgreSQL's listener returns before its LISTEN holds: it hears from then on
        for n in range(100):
            mark = len(heard.at)
            await writer.task_insert_many([make_task(f"ping{n}", queue="ping")])
            if await heard.named(mark, within=0.05) is not None:
                break
        else:
            raise AssertionError("the listener never heard an insert")
        yield writer, heard
    finally:
        await listener.close()
        await writer.close()


async def test_a_wake_up_names_only_the_queues_of_ready_tasks(
    listening: tuple[Backend, Heard],
) -> None:
    writer, heard = listening
    mark = len(heard.at)
    later = T0 + timedelta(hours=1)
    await writer.task_insert_many(
        [make_task("a1", queue="alpha"), make_task("b1", queue="beta"),
         make_task("a2", queue="alpha"), make_task("s1", queue="later", run_at=later)]
    )  # fmt: skip
    found = await heard.named(mark)
    assert found is not None, "the insert was never heard"
    assert heard.queues[found] == {"alpha", "beta"}
    # only a scheduled task: no claimer of its queue is sent to claim it now
    mark = len(heard.at)
    await writer.task_insert_many([make_task("s2", queue="later", run_at=later)])
    await writer.task_insert_many([make_task("g1", queue="gamma")])  # a marker after it
    found = await heard.named(mark)
    assert found is not None, "the marker's insert was never heard"
    assert heard.queues[found] == {"gamma"}
    assert all(q is None or "later" not in q for q in heard.queues[mark:])


async def test_a_task_back_in_its_queue_wakes_its_claimers(
    listening: tuple[Backend, Heard],
) -> None:
    """A retry without backoff, an operator's re-queue and a move to the queue make a task
    claimable as an insert does: another process's claims of its queue hear of it."""
    writer, heard = listening
    await writer.task_insert_many([make_task("r1", queue="back")])
    task = await claim_one(writer, queues=["back"])

    mark = len(heard.at)
    assert await finish(writer, task, S.QUEUED, error="try again", run_at=T0)  # no backoff
    assert await heard.concerning(mark, "back"), "the retry was never heard"

    task = await claim_one(writer, queues=["back"])
    assert await finish(writer, task, S.FAILED, error="gave up")
    mark = len(heard.at)
    assert await writer.task_requeue("r1", expect=S.FAILED, now=T0, actor="op") is not None
    assert await heard.concerning(mark, "back"), "the re-queue was never heard"

    later = T0 + timedelta(hours=1)
    await writer.task_insert_many([make_task("m1", queue="moved", run_at=later)])
    mark = len(heard.at)
    moved = await writer.task_move("m1", T0, state=S.QUEUED, expect=S.SCHEDULED, now=T0, actor="op")
    assert moved is not None
    assert await heard.concerning(mark, "moved"), "the move to the queue was never heard"
