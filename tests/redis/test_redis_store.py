"""What only the Redis store promises: one cluster slot, scripts that survive a flush, exact
scores near the seq bound, pub/sub wake-ups between processes, leadership, the reader
endpoint and the durability warning. The contract suite covers the rest."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import shutil
import socket
import subprocess
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest
import redis
from redis.crc import key_slot

from rota.backends.redis import RedisBackend
from rota.backends.redis.backend import SEQ_BOUND
from rota.backends.redis.url import RedisUrl
from rota.core.errors import StoreError, ValidationError
from rota.core.models import ClaimRequest, Job, TaskFilter, WorkerInfo
from tests.conftest import redis_parts
from tests.contract.helpers import (
    LEASE,
    T0,
    S,
    at,
    cancel,
    claim,
    claim_one,
    drain,
    finish,
    insert,
    make_task,
    requeue,
    set_priority,
)


@pytest.fixture
async def backend(redis_store_url: str) -> AsyncIterator[RedisBackend]:
    opened = RedisBackend.from_url(redis_store_url)
    await opened.open()
    try:
        yield opened
    finally:
        await opened.close()


def sync_client(url: str) -> redis.Redis:
    return redis.Redis.from_url(redis_parts(url)[0])


async def test_every_key_of_a_full_run_is_in_the_namespace_slot(
    backend: RedisBackend, redis_store_url: str
) -> None:
    await backend.task_insert_many(
        [make_task(f"j{i}", queue="jobs", job_id="job-1") for i in range(3)],
        Job("job-1", "batch", T0),
    )
    await insert(
        backend,
        make_task("a", queue="q.1:x", priority=90, timeout=5),
        make_task("b", queue="q 2", priority=10),
        make_task("s", run_at=at(10)),
        make_task("e")._replace(expires_at=at(1)),
        make_task("gone"),
    )
    woke = asyncio.Event()
    await backend.listen_inserts(lambda _: woke.set())
    a = await claim_one(backend, queues=["q.1:x"])
    (j0,) = await claim(backend, queues=["jobs", "q 2"])
    assert await backend.task_heartbeat("a", a.lease_token, now=at(1), lease_expires_at=at(60))
    assert await finish(backend, a, S.QUEUED, error="again")
    assert await finish(backend, j0, S.SUCCEEDED, result={"ok": True})
    assert await cancel(backend, "b") is not None
    assert await set_priority(backend, "j1", 70, to_tail=True) is not None
    assert await requeue(backend, "b") is not None
    assert await backend.task_promote_due(now=at(20), limit=10) == 1
    assert await backend.task_expire_waiting(now=at(20), limit=10, error="late") == 1
    assert await cancel(backend, "gone") is not None  # only finished tasks are deleted
    assert await backend.task_delete_many(["gone"]) == 1
    assert await backend.task_list_lapsed(now=at(100), limit=10) == []
    assert await backend.task_list_timed(limit=10) == []
    assert await backend.task_position("j1") is not None
    assert await backend.task_count_by_queue()
    assert await backend.event_list("a")
    assert await backend.job_count("job-1")
    worker = WorkerInfo("w1", "w", "h", None, (), 1, "1", T0, T0)
    await backend.worker_upsert(worker)
    await backend.worker_touch(["w1"], now=at(5))
    assert await backend.worker_delete_silent(before=at(1)) == 0
    assert await backend.leader_attempt_elect(hold=5)
    assert await backend.leader_attempt_elect(hold=5)  # renewal
    assert await claim_one(backend)  # one task left running

    prefix = redis_parts(redis_store_url)[1]
    slot = key_slot(("{" + prefix + "}:").encode())
    client = sync_client(redis_store_url)
    try:
        keys = [k.decode() for k in client.scan_iter(match=f"*{prefix}*", count=1000)]
    finally:
        client.close()
    assert keys
    assert [k for k in keys if not k.startswith("{" + prefix + "}:")] == []
    assert {k: key_slot(k.encode()) for k in keys} == dict.fromkeys(keys, slot)
    kinds = {k.split(":", 2)[1] for k in keys}
    assert kinds >= {"t", "h", "rq", "jn", "jt", "st", "all", "ready", "seq", "eseq"}
    assert kinds >= {"counts", "jobs", "leases", "workers", "wseen", "leader", "fence"}


async def test_scripts_are_loaded_again_after_a_script_flush(
    backend: RedisBackend, redis_store_url: str
) -> None:
    await insert(backend, make_task("a"), make_task("b"))
    client = sync_client(redis_store_url)
    try:
        client.script_flush()
    finally:
        client.close()

    task = await claim_one(backend)
    assert await finish(backend, task, S.SUCCEEDED)
    assert [t.id for t in await backend.task_list(TaskFilter(), after_seq=None, limit=5)] == [
        "b",
        "a",
    ]
    assert await backend.leader_attempt_elect(hold=5)


async def test_seqs_near_the_documented_bound_still_order_exactly(
    backend: RedisBackend, redis_store_url: str
) -> None:
    prefix = redis_parts(redis_store_url)[1]
    client = sync_client(redis_store_url)
    start = SEQ_BOUND - 40
    try:
        client.set("{" + prefix + "}:seq", start)
        priorities = [0, 100, 50, 50, 0, 100, 1, 99, 50, 0]
        stored = await insert(
            backend, *(make_task(f"p{i}", priority=p) for i, p in enumerate(priorities))
        )
        assert [t.seq for t in stored] == list(range(start + 1, start + 11))
        for task in stored:  # the score is the exact integer
            score = client.zscore("{" + prefix + "}:ready", task.id)
            assert score is not None
            assert int(score) == (100 - task.priority) * 2**45 + task.seq
        expected = sorted(stored, key=lambda t: (-t.priority, t.seq))
        assert await drain(backend) == [t.id for t in expected]

        # past the bound the store refuses, and inserts nothing
        with pytest.raises(StoreError, match="exhausted"):
            await insert(backend, *(make_task(f"x{i}") for i in range(40)))
        assert await backend.task_get("x0") is None
        assert [t.id for t in await insert(backend, make_task("last"))] == ["last"]
        assert int(client.get("{" + prefix + "}:seq") or 0) == SEQ_BOUND - 29
    finally:
        client.close()


async def test_an_insert_wakes_another_instance_within_a_second(redis_store_url: str) -> None:
    producer = RedisBackend.from_url(redis_store_url)
    listener = RedisBackend.from_url(redis_store_url)
    await producer.open()
    await listener.open()
    try:
        woke = asyncio.Event()
        await listener.listen_inserts(lambda _: woke.set())
        await asyncio.sleep(0.05)
        woke.clear()  # the wake-up a fresh subscription gives itself

        started = time.perf_counter()
        await insert(producer, make_task("ping"))
        await asyncio.wait_for(woke.wait(), 1.0)
        assert time.perf_counter() - started < 1.0

        woke.clear()  # a retry that queues the task again wakes claimers too
        task = await claim_one(producer)
        assert await finish(producer, task, S.QUEUED, error="again")
        await asyncio.wait_for(woke.wait(), 1.0)
    finally:
        await listener.close()
        await producer.close()


async def test_an_insert_the_claim_behind_took_wakes_nobody(
    backend: RedisBackend, redis_store_url: str
) -> None:
    """wake_unclaimed.lua: the wake-up of an insert with a claim behind it goes out only
    for a task the claim left queued."""
    client = sync_client(redis_store_url)
    subscriber = client.pubsub(ignore_subscribe_messages=True)
    subscriber.subscribe(backend._k.channel)

    def wakes() -> int:
        """The wake-ups published so far (each arrives well within 0.3 s)."""
        count = 0
        while subscriber.get_message(timeout=0.3) is not None:
            count += 1
        return count

    try:
        wakes()  # past the subscription's own answer
        taken = ClaimRequest("w1", 1, T0, T0 + LEASE, None)
        done = await backend.task_insert_claim([make_task("a")], None, None, None, taken)
        await insert(backend, make_task("marker"))

        assert [t.id for t in done.claimed] == ["a"]
        assert wakes() == 1  # the marker's alone

        elsewhere = ClaimRequest("w1", 1, T0, T0 + LEASE, ("other",))
        done = await backend.task_insert_claim([make_task("b")], None, None, None, elsewhere)

        assert done.claimed == []
        assert wakes() == 1  # b waits: announced
    finally:
        subscriber.close()
        client.close()


async def test_a_retry_names_its_queue_and_one_for_later_wakes_every_claimer(
    backend: RedisBackend, redis_store_url: str
) -> None:
    """finish.lua: a task back in its queue at once wakes its queue's claimers; one that
    waits for a later time wakes every claimer ('1'), as a promotion does."""
    client = sync_client(redis_store_url)
    subscriber = client.pubsub(ignore_subscribe_messages=True)
    subscriber.subscribe(backend._k.channel)

    def published() -> list[bytes]:
        got = []
        while (message := subscriber.get_message(timeout=0.3)) is not None:
            got.append(message["data"])
        return got

    try:
        published()  # past the subscription's own answer
        await insert(backend, make_task("r", queue="back"))
        assert published() == [b"q back"]
        task = await claim_one(backend, queues=["back"])
        assert await finish(backend, task, S.QUEUED, error="again", run_at=T0)
        assert published() == [b"q back"]
        task = await claim_one(backend, queues=["back"])
        assert await finish(backend, task, S.SCHEDULED, error="later", run_at=at(60))
        assert published() == [b"1"]
    finally:
        subscriber.close()
        client.close()


async def test_one_leader_at_a_time_with_growing_fences(redis_store_url: str) -> None:
    first = RedisBackend.from_url(redis_store_url)
    server, prefix = redis_parts(redis_store_url)
    second = RedisBackend(server, prefix=prefix)
    await first.open()
    await second.open()
    try:
        assert await second.leader_attempt_elect(hold=0.2)
        fence = second.leader_fence
        assert fence is not None
        assert not await first.leader_attempt_elect(hold=5)
        await asyncio.sleep(0.3)  # the second stops renewing: its lease lapses
        assert await first.leader_attempt_elect(hold=5)
        taken = first.leader_fence
        assert taken is not None and taken > fence
        assert not await second.leader_attempt_elect(hold=5)
        await first.leader_resign()
        assert first.leader_fence is None
        assert await second.leader_attempt_elect(hold=5)
        assert (second.leader_fence or 0) > taken
    finally:
        await first.close()
        await second.close()


async def test_replica_reads_go_to_the_reader(redis_store_url: str) -> None:
    """A reader on another database number sees none of the writer's tasks: listing,
    counting and history go there; task_get reads the writer."""
    server, prefix = redis_parts(redis_store_url)
    parts = urlsplit(server)
    other_db = 14 if parts.path.strip("/") != "14" else 13
    other = urlunsplit(parts._replace(path=f"/{other_db}"))
    split = RedisBackend(server, prefix=prefix, reader_url=other)
    await split.open()
    try:
        await insert(split, make_task("a"))
        assert await split.task_get("a") is not None
        assert await split.task_list(TaskFilter(), after_seq=None, limit=10) == []
        assert await split.task_count_by_queue() == []
        assert await split.event_list("a") == []
        assert await split.task_position("a") is None
    finally:
        await split.close()


def test_url_parameters_and_environment() -> None:
    parsed = RedisUrl.parse("redis://h:1/2?prefix=app&reader=redis%3A%2F%2Fr%3A1%2F2", env={})
    assert parsed == RedisUrl("redis://h:1/2", "redis://r:1/2", "app")
    assert RedisUrl.parse("rediss://h/0?ssl_cert_reqs=none", env={}) == RedisUrl(
        "rediss://h/0?ssl_cert_reqs=none", None, "rota"
    )
    env = {"REDIS_READER_URL": "redis://dms-r/0", "REDIS_WRITER_URL": "redis://dms-w/0"}
    assert RedisUrl.parse("redis://", env=env) == RedisUrl(
        "redis://dms-w/0", "redis://dms-r/0", "rota"
    )
    assert RedisUrl.parse("redis://h/1", env=env).writer == "redis://h/1"
    env["ROTA_REDIS_READER_URL"] = "redis://rota-r/0"
    assert RedisUrl.parse("redis://h/1", env=env).reader == "redis://rota-r/0"
    for bad in ("redis://h/0?prefix=a{b}", "redis://h/0?prefix=", "http://h/0"):
        with pytest.raises(ValidationError):
            RedisUrl.parse(bad, env={})


# -- the durability warning, against servers of our own -----------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextlib.contextmanager
def redis_server(directory: Path, *options: str, port: int | None = None) -> Iterator[str]:
    binary = shutil.which("redis-server")
    if binary is None:
        if os.environ.get("CI") == "true":
            pytest.fail("CI=true and redis-server is not installed", pytrace=False)
        pytest.skip("redis-server is not installed")
    directory.mkdir(parents=True, exist_ok=True)
    port = port or _free_port()
    args = [binary, "--port", str(port), "--bind", "127.0.0.1", "--dir", str(directory)]
    proc = subprocess.Popen([*args, *options], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"redis://127.0.0.1:{port}/0"
    try:
        client = redis.Redis.from_url(url, socket_connect_timeout=0.2)
        deadline = time.monotonic() + 10
        while True:
            try:
                client.ping()
                break
            except redis.ConnectionError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise
                time.sleep(0.02)
        client.close()
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


async def _warnings_on_open(url: str, caplog: pytest.LogCaptureFixture) -> list[str]:
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="rota.redis"):
        backend = RedisBackend.from_url(url)
        await backend.open()
        await backend.close()
    return [r.getMessage() for r in caplog.records if r.name == "rota.redis"]


async def test_a_store_that_can_lose_tasks_is_named_in_one_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with redis_server(tmp_path / "loose", "--save", "", "--appendonly", "no") as url:
        (line,) = await _warnings_on_open(url, caplog)
        assert await _warnings_on_open(url, caplog) == []  # once per server and process
    assert "appendonly=no" in line and "127.0.0.1" in line

    durable = ("--appendonly", "yes", "--appendfsync", "always")
    with redis_server(tmp_path / "durable", *durable, "--maxmemory-policy", "noeviction") as url:
        assert await _warnings_on_open(url, caplog) == []

    with redis_server(tmp_path / "evicting", *durable, "--maxmemory-policy", "allkeys-lru") as url:
        (line,) = await _warnings_on_open(url, caplog)
    assert "maxmemory-policy=allkeys-lru" in line


async def test_a_restarted_server_is_used_again_without_errors(tmp_path: Path) -> None:
    """The pool replaces connections the server closed, and the wake-up subscription comes
    back: nothing but the restart itself is seen by the caller."""
    port = _free_port()
    with redis_server(tmp_path / "first", "--save", "", port=port) as url:
        backend = RedisBackend.from_url(url)
        await backend.open()
        woke = asyncio.Event()
        await backend.listen_inserts(lambda _: woke.set())
        await insert(backend, make_task("before"))
    try:
        await asyncio.sleep(0.05)  # the loop sees the connections close
        with redis_server(tmp_path / "second", "--save", "", port=port):
            await asyncio.sleep(0.05)
            assert await backend.task_get("before") is None  # nothing was persisted
            assert [t.id for t in await insert(backend, make_task("after"))] == ["after"]
            deadline = time.monotonic() + 5
            while True:  # resubscribed after a short back-off: an insert wakes it again
                woke.clear()
                await insert(backend, make_task(f"ping-{time.monotonic()}"))
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(woke.wait(), 0.2)
                if woke.is_set() or time.monotonic() > deadline:
                    break
            assert woke.is_set()
    finally:
        await backend.close()
