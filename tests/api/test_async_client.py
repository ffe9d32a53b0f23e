"""rota.client.AsyncClient against the app over ASGI: methods, decoding and error mapping."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta

import httpx
import pytest

import rota
from rota.client import AsyncClient, task_body
from rota.core.models import Task
from rota.core.states import TaskState
from tests.api.conftest import Api


async def test_submit_get_and_decode(client: AsyncClient) -> None:
    task = await client.submit("echo", {"n": 1}, priority="high", queue="q", tenant="acme")
    assert isinstance(task, Task)
    assert task.kind == "echo"
    assert task.payload == {"n": 1}
    assert task.priority == 80
    assert task.queue == "q"
    assert task.tenant == "acme"
    assert task.state is TaskState.QUEUED
    assert task.created_at.tzinfo is not None
    same = await client.get(task.id)
    assert same.id == task.id
    assert same.created_at == task.created_at
    assert await client.position(task.id) == {"in_priority": 1, "in_queue": 1}


async def test_submit_options(client: AsyncClient) -> None:
    when = datetime.now(UTC).replace(microsecond=0) + timedelta(hours=1)
    at = await client.submit("k", run_at=when, id="mine", max_attempts=5, timeout=9.0)
    assert at.id == "mine"
    assert at.state is TaskState.SCHEDULED
    assert at.run_at == when
    assert at.max_attempts == 5
    assert at.timeout == 9.0
    assert await client.position("mine") is None
    delayed = await client.submit("k", delay=30)
    assert delayed.state is TaskState.SCHEDULED
    assert (await client.submit("k")).priority == 20


async def test_submit_many_and_list_pages(client: AsyncClient) -> None:
    tasks = await client.submit_many([task_body("b", {"i": i}, queue="bq") for i in range(7)])
    assert [t.payload["i"] for t in tasks] == list(range(7))
    seen: list[str] = []
    cursor: int | None = None
    while True:
        page = await client.list(queue="bq", limit=3, cursor=cursor)
        seen.extend(t.id for t in page.tasks)
        cursor = page.next_cursor
        if cursor is None:
            break
    assert sorted(seen) == sorted(t.id for t in tasks)
    assert len(seen) == 7
    assert (await client.list(queue="bq", state="running")).tasks == []


async def test_job_roundtrip(client: AsyncClient) -> None:
    job = await client.submit_job("j", [task_body("k"), task_body("k")], tenant="t1")
    assert job["state"] == "queued"
    claimed = await client.claim("w", max=2)
    for t in claimed:
        await client.complete(t.id, t.lease_token, result=t.id)
    summary = await client.get_job(job["id"])
    assert summary["state"] == "succeeded"
    assert summary["counts"] == {"succeeded": 2}
    listed = await client.list(job_id=job["id"])
    assert {t.result for t in listed.tasks} == {t.id for t in claimed}


async def test_worker_cycle(client: AsyncClient) -> None:
    low = await client.submit("k", priority="low")
    high = await client.submit("k", priority="high")
    claimed = await client.claim("w1", max=5)
    assert [t.id for t in claimed] == [high.id, low.id]
    assert all(t.lease_token >= 1 for t in claimed)
    beat = await client.heartbeat(high.id, claimed[0].lease_token)
    assert beat["cancel_requested"] is False
    done = await client.complete(high.id, claimed[0].lease_token, result={"ok": True})
    assert done.state is TaskState.SUCCEEDED
    assert done.result == {"ok": True}
    failed = await client.fail(low.id, claimed[1].lease_token, "nope", retryable=False)
    assert failed.state is TaskState.FAILED
    assert failed.error == "nope"
    retried = await client.retry(low.id)
    assert retried.state is TaskState.QUEUED
    (again,) = await client.claim("w2")
    results = await client.report(
        "w2", completions=[{"id": again.id, "lease_token": again.lease_token, "result": 3}]
    )
    assert results == [{"id": again.id, "status": 200}]
    assert (await client.get(low.id)).result == 3
    assert await client.claim("w3") == []
    events = await client.events(low.id)
    assert [e.kind for e in events] == [
        "enqueued",
        "claimed",
        "failed",
        "requeued",
        "claimed",
        "succeeded",
    ]
    assert all(e.task_id == low.id for e in events)


async def test_operator_calls(client: AsyncClient) -> None:
    a = await client.submit("k", id="a")
    await client.submit("k", id="b", priority=50)
    moved = await client.set_priority(a.id, "mid", to_tail=True)
    assert moved.priority == 50
    assert [t.id for t in await client.claim("w", max=2)] == ["b", "a"]
    c = await client.submit("k", id="c")
    assert (await client.cancel(c.id)).state is TaskState.CANCELED


async def test_meta_calls(client: AsyncClient) -> None:
    await client.submit("k", queue="qx")
    assert await client.health() == {"status": "ok", "leader": False}
    stats = await client.stats()
    assert stats["total"] == 1
    queues = await client.queues()
    assert [q["name"] for q in queues] == ["qx"]


async def test_claim_long_poll(client: AsyncClient) -> None:
    async def submit_later() -> Task:
        await asyncio.sleep(0.2)
        return await client.submit("k")

    started = time.monotonic()
    claimed, submitted = await asyncio.gather(client.claim("w", wait=2), submit_later())
    assert [t.id for t in claimed] == [submitted.id]
    assert time.monotonic() - started < 1.5


async def test_wait_for(client: AsyncClient) -> None:
    task = await client.submit("k")

    async def work() -> None:
        await asyncio.sleep(0.1)
        (claimed,) = await client.claim("w")
        await client.complete(claimed.id, claimed.lease_token, result="r")

    done, _ = await asyncio.gather(client.wait_for(task.id, timeout=10, poll=0.02), work())
    assert done.state is TaskState.SUCCEEDED
    assert done.result == "r"
    with pytest.raises(TimeoutError):
        await client.wait_for((await client.submit("k")).id, timeout=0.05, poll=0.01)


# -- error mapping -----------------------------------------------------------------------


async def test_not_found(client: AsyncClient) -> None:
    with pytest.raises(rota.NotFound, match="ghost"):
        await client.get("ghost")
    with pytest.raises(rota.NotFound):
        await client.cancel("ghost")
    with pytest.raises(rota.NotFound):
        await client.get_job("ghost")
    with pytest.raises(rota.NotFound):
        await client.complete("ghost", 1)


async def test_stale_lease(client: AsyncClient) -> None:
    task = await client.submit("k")
    (claimed,) = await client.claim("w")
    with pytest.raises(rota.StaleLease) as info:
        await client.complete(task.id, claimed.lease_token + 1)
    assert isinstance(info.value, rota.Conflict)
    with pytest.raises(rota.StaleLease):
        await client.heartbeat(task.id, claimed.lease_token + 1)
    with pytest.raises(rota.StaleLease):
        await client.fail(task.id, claimed.lease_token - 1, "x")
    assert (await client.get(task.id)).state is TaskState.RUNNING


async def test_duplicate_task(client: AsyncClient) -> None:
    await client.submit("k", id="dup")
    with pytest.raises(rota.DuplicateTask, match="dup"):
        await client.submit("k", id="dup")
    with pytest.raises(rota.DuplicateTask):
        await client.submit_many([task_body("k", id="fresh"), task_body("k", id="dup")])
    with pytest.raises(rota.NotFound):
        await client.get("fresh")


async def test_illegal_transition(client: AsyncClient) -> None:
    task = await client.submit("k")
    with pytest.raises(rota.IllegalTransition):
        await client.retry(task.id)


async def test_validation_error(client: AsyncClient) -> None:
    with pytest.raises(rota.ValidationError, match=r"0\.\.100"):
        await client.submit("k", priority=101)
    with pytest.raises(rota.ValidationError, match=r"0\.\.100"):
        await client.submit("k", priority="urgent")
    with pytest.raises(rota.ValidationError):
        await client.submit("has space")
    with pytest.raises(rota.ValidationError):
        await client.claim("w", max=0)
    with pytest.raises(rota.ValidationError):
        await client.list(state="dancing")


async def test_payload_too_large(client: AsyncClient) -> None:
    with pytest.raises(rota.PayloadTooLarge) as info:
        await client.submit("k", {"s": "x" * (300 * 1024)})
    assert isinstance(info.value, rota.ValidationError)


async def test_unmapped_error_is_server_error(api: Api) -> None:
    """A status with no rota class behind it (405 here) is a ServerError with its status."""
    async with AsyncClient("http://t", transport=httpx.ASGITransport(app=api.app)) as raw:
        with pytest.raises(rota.ServerError) as info:
            await raw._request("DELETE", "/tasks")
    assert info.value.status_code == 405
    assert info.value.message
