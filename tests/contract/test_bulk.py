"""Operators change waiting tasks by filter, on every store: cancel and reprioritize the
queued and scheduled tasks that match (the newest, up to a limit); running and finished
tasks and other queues are left alone."""

from __future__ import annotations

from rota.backends import Backend
from rota.core.clock import ManualClock
from rota.core.models import TaskFilter
from rota.core.states import TaskState as S
from rota.service import Service, TaskSpec
from tests.api.conftest import make_settings
from tests.contract.helpers import T0


async def test_cancel_and_reprioritize_by_filter(backend: Backend) -> None:
    service = Service(backend, make_settings(), clock=ManualClock(T0))
    running = await service.enqueue(TaskSpec("k", queue="bulk"))
    (claimed,) = await service.claim("w", queues=["bulk"])
    assert claimed.id == running.id
    queued = [await service.enqueue(TaskSpec("k", queue="bulk", priority=10)) for _ in range(3)]
    later = await service.enqueue(TaskSpec("k", queue="bulk", delay=60))
    other = await service.enqueue(TaskSpec("k", queue="other"))

    changed = await service.bulk.set_priority_waiting(TaskFilter(queue="bulk"), 70, limit=2)
    assert changed == [queued[2].id, later.id]  # the newest two, applied oldest first
    priorities = [(await service.get(t.id)).priority for t in [*queued, later]]
    assert priorities == [10, 10, 70, 70]

    canceled = await service.bulk.cancel_waiting(TaskFilter(queue="bulk"))
    assert canceled == [*(t.id for t in queued), later.id]
    states = {t.id: (await service.get(t.id)).state for t in [*queued, later, running, other]}
    assert states == {**dict.fromkeys(canceled, S.CANCELED), running.id: S.RUNNING,
                      other.id: S.QUEUED}  # fmt: skip
    assert await service.bulk.cancel_waiting(TaskFilter(queue="bulk")) == []
