"""Indico's scheduler client, over rota's :class:`~rota.client.Client`.

Indico's ``Client`` enqueues one-shot tasks (a start time) and periodic tasks (an rrule
frequency with its keywords), dequeues them, moves a task's time and restarts a failed one,
and reports counts under its own state names. Here a one-shot task is a rota task with a
``run_at``, and a periodic task is a rota schedule with an RFC 5545 rule: the same calls,
with rota's guarantees (one task per occurrence, across replicas). A task's work is a
handler named ``kind`` on a rota worker, as everywhere in rota::

    from datetime import datetime
from zoneinfo import ZoneInfo, timedelta
    from dateutil import rrule
    from rota.client.indico import Client, OneShotTask, PeriodicTask

    c = Client("http://127.0.0.1:8000")
    st = OneShotTask(datetime.now(UTC) + timedelta(seconds=1), kind="echo")
    c.enqueue(st)                                  # True
    pt = PeriodicTask(rrule.MINUTELY, bysecond=(40,), kind="echo")
    c.enqueue(pt)                                  # True
    c.dequeue(pt)
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, cast
from zoneinfo import ZoneInfo

from dateutil.rrule import rrule

from rota.client._sync import Client as RotaClient
from rota.core.ids import new_id
from rota.core.models import Task

#: rota's states under Indico's names (TASK_STATUS_*)
STATUS = {
    "scheduled": "spooled",
    "queued": "queued",
    "running": "running",
    "succeeded": "finished",
    "failed": "failed",
    "canceled": "terminated",
}


class OneShotTask:
    """Run ``kind`` once, at ``start``. ``id`` is set by :meth:`Client.enqueue`."""

    def __init__(
        self,
        start: datetime,
        *,
        kind: str,
        payload: dict[str, Any] | None = None,
        queue: str = "default",
        priority: int | str | None = None,
    ) -> None:
        self.start, self.kind, self.payload = start, kind, payload or {}
        self.queue, self.priority = queue, priority
        self.id: str | None = None


class PeriodicTask:
    """Run ``kind`` at each time of ``rrule(frequency, **keywords)`` (dateutil's constants:
    ``rrule.MINUTELY``, ``rrule.DAILY``, ...), read in ``timezone``. ``id`` is the
    schedule's, set by :meth:`Client.enqueue`."""

    def __init__(
        self,
        frequency: int,
        *,
        kind: str,
        payload: dict[str, Any] | None = None,
        queue: str = "default",
        priority: int | str | None = None,
        timezone: str = "UTC",
        **keywords: Any,
    ) -> None:
        local_now = datetime.now(ZoneInfo(timezone))  # the rule is read in this zone
        keywords.setdefault("dtstart", local_now.replace(microsecond=0, tzinfo=None))
        self.rule = str(rrule(cast(Any, frequency), **keywords))
        self.kind, self.payload, self.queue, self.priority = kind, payload or {}, queue, priority
        self.timezone = timezone
        self.id: str | None = None


class Client:
    """Indico's client calls; ``client`` or ``url`` and ``token`` reach the rota server."""

    def __init__(
        self, url: str | None = None, *, token: str | None = None, client: RotaClient | None = None
    ) -> None:
        self.rota = client if client is not None else RotaClient(url, token=token)

    def enqueue(self, task: OneShotTask | PeriodicTask) -> bool:
        template: dict[str, Any] = {"kind": task.kind, "payload": task.payload, "queue": task.queue}
        if task.priority is not None:
            template["priority"] = task.priority
        if isinstance(task, OneShotTask):
            made = self.rota.submit(
                task.kind, task.payload, queue=task.queue, priority=task.priority,
                run_at=task.start,
            )  # fmt: skip
            task.id = made.id
        else:
            schedule = self.rota.create_schedule(
                f"{task.kind}-{new_id()}", template, rrule=task.rule, timezone=task.timezone
            )
            task.id = schedule["id"]
        return True

    def dequeue(self, task: OneShotTask | PeriodicTask) -> None:
        """A one-shot task is canceled; a periodic one makes no more tasks."""
        if task.id is None:
            raise ValueError("the task was never enqueued")
        if isinstance(task, OneShotTask):
            self.rota.cancel(task.id)
        else:
            self.rota.delete_schedule(task.id)

    def get_status(self) -> dict[str, int]:
        """How many tasks are in each of Indico's states."""
        states = self.rota.stats()["states"]
        return {name: int(states.get(state, 0)) for state, name in STATUS.items()}

    def get_task(self, task_id: str) -> Task:
        return self.rota.get(task_id)

    def move_task(self, task: OneShotTask | str, new_time: datetime) -> Task:
        task_id = task if isinstance(task, str) else task.id
        if task_id is None:
            raise ValueError("the task was never enqueued")
        return self.rota.move(task_id, run_at=new_time)

    def start_failed_task(self, task: OneShotTask | str) -> Task:
        """Run a failed (or terminated) task again, from its first attempt (an operator's
        token: it is an operator action in rota)."""
        task_id = task if isinstance(task, str) else task.id
        if task_id is None:
            raise ValueError("the task was never enqueued")
        return self.rota.retry(task_id)

    def close(self) -> None:
        self.rota.close()
