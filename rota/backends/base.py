"""The Backend protocol: storage primitives named entity + verb.

Backends are primitives. The service owns validation, defaults, retry policy and the
choice of the next state; a backend applies what it is told *atomically*, with guards
(expected state, live lease token) evaluated inside the same transaction as the write.

Every verb that changes a task's state also appends one :class:`~rota.core.models.Event`
per changed task in that same transaction, so history can never disagree with state.

Times are passed in by the caller (the service's clock), never read by the backend, so
tests control time and every backend sees the same clock.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from typing import Any, Protocol

from rota.core.models import (
    Event,
    Finish,
    Job,
    Position,
    QueueCount,
    Task,
    TaskFilter,
)
from rota.core.states import TaskState


class Backend(Protocol):
    #: True when several processes may share the store (SQLite file, PostgreSQL, Redis).
    shared: bool

    async def open(self) -> None: ...

    async def close(self) -> None: ...

    # -- wake-ups and leadership ---------------------------------------------------------

    async def listen_inserts(self, callback: Callable[[], None]) -> None:
        """Call ``callback`` when another process inserts tasks (no-op where not supported)."""
        ...

    async def leader_attempt_elect(self) -> bool:
        """Become or stay the one maintenance leader; False while another process is."""
        ...

    async def leader_resign(self) -> None: ...

    # -- tasks ---------------------------------------------------------------------------

    async def task_insert_many(self, tasks: Iterable[Task], job: Job | None = None) -> list[Task]:
        """Insert all or nothing (with ``job`` when given); return them with ``seq`` set.

        ``tasks`` may be lazy: the service validates each task as it is drawn, so a backend
        can send the first rows while later ones are still being checked. If drawing raises,
        the error propagates and nothing is inserted. Raises DuplicateTask if any id exists,
        and then inserts none.
        """
        ...

    async def task_get(self, task_id: str) -> Task | None: ...

    async def task_list(
        self, filter: TaskFilter, *, after_seq: int | None, limit: int
    ) -> list[Task]:
        """Newest first (``seq`` descending); ``after_seq`` is the cursor of the last page."""
        ...

    async def task_claim_many(
        self,
        *,
        queues: Sequence[str] | None,
        worker_id: str,
        limit: int,
        now: datetime,
        lease_expires_at: datetime,
        timeout_grace: float = 0.0,
    ) -> list[Task]:
        """Lease up to ``limit`` ready tasks in contract order; never one task to two callers.

        Ready means ``queued``, or ``scheduled`` with ``run_at <= now`` (promoted on the
        way), and not past ``expires_at``. Each claimed task gets ``attempt + 1`` and a new,
        larger ``lease_token``; a task with a ``timeout`` gets a lease no longer than
        ``timeout + timeout_grace`` from its start, and no heartbeat extends it past that.
        """
        ...

    async def task_heartbeat(
        self,
        task_id: str,
        lease_token: int,
        *,
        now: datetime,
        lease_expires_at: datetime,
        progress: Any = None,
        timeout_grace: float = 0.0,
    ) -> Task | None:
        """Extend a live lease (and store ``progress`` if given); ``None`` when the token is
        not live, and then nothing changes."""
        ...

    async def task_finish_many(self, finishes: Sequence[Finish], *, now: datetime) -> list[bool]:
        """Apply each finish only if its task is running under that token; say which applied."""
        ...

    async def task_cancel(self, task_id: str, *, now: datetime) -> Task | None:
        """Cancel a waiting task, or flag a running one; ``None`` if it is neither."""
        ...

    async def task_set_priority(
        self, task_id: str, priority: int, *, to_tail: bool, now: datetime
    ) -> Task | None:
        """Re-rank a waiting task; ``to_tail`` gives it a fresh ``seq``. ``None`` if not waiting."""
        ...

    async def task_requeue(self, task_id: str, *, now: datetime) -> Task | None:
        """Operator retry: a failed or canceled task back to queued with attempts reset."""
        ...

    async def task_expire_waiting(self, *, now: datetime, limit: int) -> int:
        """Cancel waiting tasks past ``expires_at`` (event ``expired``); how many."""
        ...

    async def task_delete_many(self, task_ids: Sequence[str]) -> int:
        """Remove tasks and their history for good (dead-letter discard); how many."""
        ...

    async def task_list_expired(self, *, now: datetime, limit: int) -> list[Task]:
        """Running tasks whose lease ended before ``now`` (the sweeper's input)."""
        ...

    async def task_position(self, task_id: str) -> Position | None: ...

    async def task_count(self) -> list[QueueCount]: ...

    async def task_next_run_at(self) -> datetime | None:
        """Earliest ``run_at`` among scheduled tasks: lets claimers sleep exactly that long."""
        ...

    # -- events and jobs -----------------------------------------------------------------

    async def event_list(self, task_id: str) -> list[Event]: ...

    async def job_get(self, job_id: str) -> Job | None: ...

    async def job_count(self, job_id: str) -> dict[TaskState, int]: ...
