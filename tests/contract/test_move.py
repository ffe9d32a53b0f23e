"""Moving a waiting task's run time (Indico's move_task), on every store: later keeps it
scheduled and unclaimable, a past time makes it ready now, it keeps its place among equal
priorities, the move is in its history, and a task no longer waiting is refused."""

from __future__ import annotations

from datetime import timedelta

import pytest

from rota.backends import Backend
from rota.core.clock import ManualClock
from rota.core.errors import IllegalTransition, ValidationError
from rota.core.states import TaskState as S
from rota.service import Service, TaskSpec
from tests.api.conftest import make_settings
from tests.contract.helpers import T0


async def test_move_a_waiting_task(backend: Backend) -> None:
    clock = ManualClock(T0)
    service = Service(backend, make_settings(), clock=clock)
    first = await service.enqueue(TaskSpec("k", queue="q"))
    later = await service.enqueue(TaskSpec("k", queue="q", delay=60))
    last = await service.enqueue(TaskSpec("k", queue="q"))

    moved = await service.move(first.id, delay=30)
    assert (moved.state, moved.run_at) == (S.SCHEDULED, T0 + timedelta(seconds=30))
    claimed = await service.claim("w", queues=["q"], limit=10)
    assert [t.id for t in claimed] == [last.id]  # the moved one waits for its time

    back = await service.move(later.id, run_at=T0 - timedelta(hours=1))  # the past: now
    assert (back.state, back.run_at) == (S.QUEUED, T0)
    clock.advance(30)
    ready = await service.claim("w", queues=["q"], limit=10)
    assert [t.id for t in ready] == [first.id, later.id]  # enqueue order among equals
    kinds = [e.kind for e in await service.events(first.id)]
    assert kinds[:2] == ["enqueued", "moved"]

    with pytest.raises(IllegalTransition):
        await service.move(first.id, delay=5)  # running now
    waiting = await service.enqueue(TaskSpec("k", queue="q", delay=60))
    with pytest.raises(ValidationError):
        await service.move(waiting.id)  # neither run_at nor delay
