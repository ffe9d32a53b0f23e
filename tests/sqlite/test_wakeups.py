"""Wake-ups between processes on one SQLite file (rota.backends.sqlite.wakeups).

The poll interval is 5 s wherever a wake-up is measured, so only a datagram can explain a
claim that returns within milliseconds of another process's commit.
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest

from rota.backends.sqlite import SQLiteBackend
from rota.backends.sqlite.wakeups import wake_dir
from rota.config import Settings
from rota.core.models import ClaimRequest, make_finish
from rota.core.states import TaskState
from rota.core.wakeups import Queues
from rota.service import Service, TaskSpec
from tests.contract.helpers import LEASE, T0, at, make_task
from tests.sqlite.peer import enqueue_when_told

POLL = 5.0
ROUNDS = 5
ROOT = Path(__file__).resolve().parents[2]


class Heard:
    """A ``listen_inserts`` callback that counts the wake-ups it hears."""

    def __init__(self) -> None:
        self.count = 0

    def __call__(self, queues: Queues) -> None:
        self.count += 1

    async def since(self, mark: int, within: float) -> bool:
        """Whether a wake-up past ``mark`` (an earlier ``count``) arrives within ``within`` s."""
        deadline = time.monotonic() + within
        while self.count == mark and time.monotonic() < deadline:  # noqa: ASYNC110
            await asyncio.sleep(0.005)
        return self.count > mark


@pytest.fixture
async def pair(tmp_path: Path) -> AsyncIterator[tuple[SQLiteBackend, SQLiteBackend, Heard]]:
    """Two backends on one file; the first listens. Two backends in one process bind two
    sockets, exactly as two processes would."""
    here, there = SQLiteBackend(tmp_path / "t.db"), SQLiteBackend(tmp_path / "t.db")
    await here.open()
    await there.open()
    heard = Heard()
    await here.listen_inserts(heard)
    assert here.capabilities.push_wakeups
    try:
        yield here, there, heard
    finally:
        await here.close()
        await there.close()


# Filesystem steps are plain functions: the async tests call them, not pathlib directly.


def sockets(db: Path) -> list[str] | None:
    """The names in the database's wake-up directory; None when there is none."""
    directory = Path(wake_dir(str(db)))
    return sorted(p.name for p in directory.iterdir()) if directory.exists() else None


def make_wake_dir(db: Path, mode: int = 0o755) -> Path:
    directory = Path(wake_dir(str(db)))
    directory.mkdir()
    directory.chmod(mode)
    return directory


def ignores_permissions() -> bool:
    """Whether this process may write into a directory that is not writable (root, unless
    its CAP_DAC_OVERRIDE is dropped: ``setpriv --bounding-set -dac_override``)."""
    with tempfile.TemporaryDirectory() as tmp:
        locked = Path(tmp, "locked")
        locked.mkdir(mode=0o555)
        try:
            (locked / "probe").touch()
        except PermissionError:
            return False
        finally:
            locked.chmod(0o755)
        return True


def start_listener(db: Path) -> subprocess.Popen[str]:
    """Another process that listens on ``db`` until it is killed."""
    return subprocess.Popen(
        [sys.executable, "-m", "tests.sqlite.peer", str(db)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )


@pytest.mark.slow
async def test_an_insert_in_another_process_wakes_a_waiting_claim_at_once(tmp_path: Path) -> None:
    db = tmp_path / "t.db"
    service = Service(SQLiteBackend(db), Settings(poll_interval=POLL))
    await service.open()
    ctx = multiprocessing.get_context("spawn")
    ready, go = ctx.Event(), ctx.Event()
    out = tmp_path / "committed.txt"
    child = ctx.Process(target=enqueue_when_told, args=(str(db), ROUNDS, ready, go, str(out)))
    child.start()
    try:
        assert await asyncio.to_thread(ready.wait, 60), "the other process did not start"
        returned: list[float] = []
        for n in range(ROUNDS):
            claim = asyncio.create_task(service.claim("w", wait=3 * POLL))
            while service.waiting.count == 0:  # noqa: ASYNC110 - it found nothing, sleeps
                await asyncio.sleep(0.01)
            assert service.backend.capabilities.push_wakeups  # its first wait listened
            await asyncio.sleep(0.05)
            go.set()
            tasks = await asyncio.wait_for(claim, 2 * POLL)
            returned.append(time.monotonic())
            assert [t.payload for t in tasks] == [{"n": n}]
        await asyncio.to_thread(child.join, 30)
        assert child.exitcode == 0
    finally:
        if child.is_alive():
            child.kill()
            child.join()
        await service.close()
    committed = [float(line) for line in (await asyncio.to_thread(out.read_text)).split()]
    delays = [r - c for r, c in zip(returned, committed, strict=True)]
    # a poll would take up to POLL seconds; the datagram takes about a claim's commit
    assert max(delays) < 1.0, delays
    assert statistics.median(delays) < 0.1, delays


async def test_the_writes_that_make_tasks_claimable_wake_the_other_process(
    pair: tuple[SQLiteBackend, SQLiteBackend, Heard],
) -> None:
    _, there, heard = pair

    async def wakes() -> bool:
        return await heard.since(mark, within=2.0)

    async def stays_quiet() -> bool:
        return not await heard.since(mark, within=0.2)

    # a scheduled insert: nothing to claim yet
    mark = heard.count
    await there.task_insert_many([make_task("later", run_at=at(60))])
    assert await stays_quiet()

    # a ready insert
    mark = heard.count
    await there.task_insert_many([make_task("now")])
    assert await wakes()

    # a claim wakes nobody; a retry back to the queue does
    request = ClaimRequest("w", 1, T0, T0 + LEASE)
    mark = heard.count
    [task] = await there.task_claim_many(request)
    assert await stays_quiet()
    retry = make_finish(task.id, task.lease_token, TaskState.QUEUED, now=T0, error="again")
    assert await there.task_finish_many([retry], now=T0) == [True]
    assert await wakes()

    # a task a stopping worker released: scheduled for now, the next claim promotes it
    [task] = await there.task_claim_many(request)
    release = make_finish(task.id, task.lease_token, TaskState.SCHEDULED, now=T0, run_at=T0)
    mark = heard.count
    assert await there.task_finish_many([release], now=T0) == [True]
    assert await wakes()

    # a finish that ends the task wakes nobody
    [task] = await there.task_claim_many(request)
    mark = heard.count
    done = make_finish(task.id, task.lease_token, TaskState.SUCCEEDED, now=T0)
    assert await there.task_finish_many([done], now=T0) == [True]
    assert await stays_quiet()

    # an operator's retry of the finished task
    mark = heard.count
    requeued = await there.task_requeue("now", expect=TaskState.SUCCEEDED, now=T0, actor="op")
    assert requeued is not None
    assert await wakes()

    # a move to the queue (a job's dependent released), and the promotion of due tasks
    mark = heard.count
    moved = await there.task_move(
        "later", T0, state=TaskState.QUEUED, expect=TaskState.SCHEDULED, now=T0, actor="system"
    )
    assert moved is not None
    assert await wakes()
    await there.task_insert_many([make_task("soon", run_at=at(1))])
    mark = heard.count
    assert await there.task_promote_due(now=T0 + timedelta(seconds=2), limit=10) == 1
    assert await wakes()

    # a retry after a backoff: nothing to claim until then
    [task] = await there.task_claim_many(request)
    backoff = make_finish(task.id, task.lease_token, TaskState.SCHEDULED, now=T0, run_at=at(30))
    mark = heard.count
    assert await there.task_finish_many([backoff], now=T0) == [True]
    assert await stays_quiet()


async def test_a_backend_does_not_wake_itself(
    pair: tuple[SQLiteBackend, SQLiteBackend, Heard],
) -> None:
    here, _, heard = pair
    await here.task_insert_many([make_task("mine")])
    # the service that inserted wakes its own claims itself
    assert not await heard.since(0, within=0.2)


async def test_close_removes_the_socket_and_the_empty_directory(tmp_path: Path) -> None:
    db = tmp_path / "t.db"
    first, second = SQLiteBackend(db), SQLiteBackend(db)
    for backend in (first, second):
        await backend.open()
        await backend.listen_inserts(lambda _: None)
    assert len(sockets(db) or ()) == 2
    await first.close()
    assert len(sockets(db) or ()) == 1
    assert not first.capabilities.push_wakeups
    await second.close()
    assert sockets(db) is None


@pytest.mark.slow
async def test_a_killed_listener_leaves_a_socket_that_the_next_insert_removes(
    tmp_path: Path,
) -> None:
    db = tmp_path / "t.db"
    peer = start_listener(db)
    try:
        assert peer.stdout is not None
        assert (await asyncio.to_thread(peer.stdout.readline)).strip() == "listening"
    finally:
        peer.kill()  # SIGKILL: no chance to clean up
        peer.wait()
        if peer.stdout is not None:
            peer.stdout.close()
    [stale] = sockets(db) or ()
    assert stale.startswith(f"{peer.pid}-")

    service = Service(SQLiteBackend(db), Settings(poll_interval=POLL))
    other = SQLiteBackend(db)
    await service.open()
    await other.open()
    try:
        heard = Heard()
        await other.listen_inserts(heard)
        task = await service.enqueue(TaskSpec("work"))
        assert await heard.since(0, within=2.0)  # the live listener still hears it
        live = sockets(db) or ()
        assert stale not in live
        assert len(live) == 1  # the other backend's (the service only enqueued: no socket)
        assert (await service.backend.task_get(task.id)) == task
    finally:
        await service.close()
        await other.close()


async def test_files_in_the_directory_that_are_not_listeners(tmp_path: Path) -> None:
    """A dead socket named like a listener is removed; anything else is left alone."""
    db = tmp_path / "t.db"
    directory = make_wake_dir(db)
    with open(directory / "notes.txt", "w") as notes:  # noqa: ASYNC230 - setting up
        notes.write("mine")
    dead = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    dead.bind(str(directory / "1-0123abcd"))
    dead.close()  # bound, then closed without unlinking: a refused send
    assert sockets(db) == ["1-0123abcd", "notes.txt"]
    backend = SQLiteBackend(db)
    await backend.open()
    try:
        await backend.task_insert_many([make_task("t")])
        assert sockets(db) == ["notes.txt"]
    finally:
        await backend.close()


async def test_where_no_socket_can_be_bound_claims_poll_and_inserts_work(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    db = tmp_path / "t.db"
    with open(wake_dir(str(db)), "w") as blocker:  # noqa: ASYNC230 - in the way of the directory
        blocker.write("in the way")
    settings = Settings(poll_interval=0.05)
    here, there = Service(SQLiteBackend(db), settings), Service(SQLiteBackend(db), settings)
    with caplog.at_level(logging.WARNING, logger="rota.sqlite"):
        await here.open()
        await there.open()
        await here.listen()
        await there.listen()
    try:
        assert not here.backend.capabilities.push_wakeups
        assert not there.backend.capabilities.push_wakeups
        warnings = [r for r in caplog.records if "poll" in r.getMessage()]
        assert len(warnings) == 1, warnings  # one warning, however many backends
        claim = asyncio.create_task(here.claim("w", wait=5.0))
        await asyncio.sleep(0.1)
        task = await there.enqueue(TaskSpec("work"))
        assert [t.id for t in await asyncio.wait_for(claim, 2.0)] == [task.id]  # the poll
    finally:
        await here.close()
        await there.close()


@pytest.mark.skipif(ignores_permissions(), reason="this user writes anywhere (root)")
async def test_an_unwritable_directory_falls_back_to_polling(tmp_path: Path) -> None:
    db = tmp_path / "t.db"
    make_wake_dir(db, 0o555)
    backend = SQLiteBackend(db)
    try:
        await backend.open()
        await backend.listen_inserts(lambda _: None)
        assert not backend.capabilities.push_wakeups
        assert len(await backend.task_insert_many([make_task("t")])) == 1
        assert sockets(db) == []
    finally:
        await backend.close()


async def test_an_in_memory_store_neither_listens_nor_announces(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    backend = SQLiteBackend.from_url("sqlite://:memory:")
    await backend.open()
    try:
        await backend.listen_inserts(lambda _: None)
        assert not backend.capabilities.push_wakeups
        await backend.task_insert_many([make_task("t")])
        assert sockets(tmp_path / ":memory:") is None
    finally:
        await backend.close()


async def test_a_process_that_only_enqueues_is_not_woken_by_inserts(tmp_path: Path) -> None:
    # No socket until its first claim that may wait: other processes' inserts do not
    # signal a producer (a web app enqueuing) for nothing.
    db = tmp_path / "t.db"
    service = Service(SQLiteBackend(db), Settings(poll_interval=POLL))
    await service.open()
    try:
        await service.enqueue(TaskSpec("work"))
        assert not service.backend.capabilities.push_wakeups
        assert not sockets(db)
        await service.claim("w", wait=0.01)  # takes the task, listening from now on
        assert service.backend.capabilities.push_wakeups
        assert len(sockets(db) or ()) == 1
    finally:
        await service.close()
