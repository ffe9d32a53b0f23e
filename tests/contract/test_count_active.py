"""Contract: the metrics' depth counts scheduled, queued and running tasks, nothing final."""

from __future__ import annotations

from rota.backends import Backend
from rota.core.models import QueueCount
from tests.contract.helpers import S, at, cancel, claim_one, finish, insert, make_task


async def test_count_active_leaves_finished_tasks_out(backend: Backend) -> None:
    assert await backend.task_count_active() == []
    await insert(
        backend,
        make_task("a", queue="q1", priority=20),
        make_task("b", queue="q1", priority=20),
        make_task("c", queue="q1", priority=80),
        make_task("d", queue="q2", priority=50),
        make_task("e", queue="q2", priority=20, run_at=at(60)),
        make_task("f", queue="q2", priority=50),
        make_task("g", queue="q3", priority=10),
    )
    assert (await claim_one(backend, queues=["q1"])).id == "c"
    done = await claim_one(backend, queues=["q2"])
    assert await finish(backend, done, S.SUCCEEDED)
    assert await cancel(backend, "g", now=at(1)) is not None

    counts = await backend.task_count_active()

    assert sorted(counts, key=order) == [
        QueueCount("q1", S.QUEUED, 20, 2),
        QueueCount("q1", S.RUNNING, 80, 1),
        QueueCount("q2", S.QUEUED, 50, 1),
        QueueCount("q2", S.SCHEDULED, 20, 1),
    ]
    assert all(isinstance(c.state, S) for c in counts)
    # the same figures as the full count, for the states it covers
    active = {S.QUEUED, S.SCHEDULED, S.RUNNING}
    full = [c for c in await backend.task_count_by_queue() if c.state in active]
    assert sorted(counts, key=order) == sorted(full, key=order)


def order(count: QueueCount) -> tuple[str, str, int]:
    return (count.queue, count.state.value, count.priority)
