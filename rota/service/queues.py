"""Queue settings applied: defaults for a queue's tasks, its size limit, fair places at
enqueue, and aging (a leader service).

Settings are stored as controls (:class:`~rota.service.controls.Controls`), so every
replica applies the same ones within ``REFRESH_SECONDS`` of a change. A queue without
settings costs nothing here: the enqueue path looks at this module only for the queues of a
batch that have some.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from rota.core import dedup, fairness
from rota.core.admission import QueueLimit
from rota.core.dedup import Unique
from rota.core.errors import QueueFull, ValidationError
from rota.core.fairness import Share
from rota.core.models import Task
from rota.core.queues import BYPASS_PRIORITY, QueueSettings
from rota.service.validation import TaskSpec, check_name

if TYPE_CHECKING:
    from rota.service.service import Service


class Queues:
    def __init__(self, service: Service) -> None:
        self.service = service
        self._aged_at: dict[str, datetime] = {}  # queue -> the last aging step (this leader)

    async def get(self, queue: str) -> QueueSettings:
        check_name(queue, "queue")
        return (await self.service.controls.queue_settings()).get(queue, QueueSettings())

    async def update(self, queue: str, changes: dict[str, Any], *, actor: str) -> QueueSettings:
        """Change some settings (a null resets one to its default); the whole result is
        checked before anything is stored, and the change is audited."""
        current = (await self.get(queue)).to_json()
        defaults = QueueSettings().to_json()
        merged = {k: (defaults[k] if v is None else v) for k, v in changes.items()}
        made = QueueSettings.from_json(current | merged)
        await self.service.controls.set_queue_settings(queue, made)
        await self.service.audit.record(actor, "queue.settings", queue, **changes)
        return made

    # -- enqueue ------------------------------------------------------------------------

    @staticmethod
    def with_defaults(
        specs: Sequence[TaskSpec], settings: dict[str, QueueSettings]
    ) -> Sequence[TaskSpec]:
        """The specs with their queues' default attempts, retry policy and timeout where they
        name none."""
        if not any(
            s.max_attempts is not None or s.timeout is not None or s.retry is not None
            for s in settings.values()
        ):
            return specs
        out = []
        for spec in specs:
            queue = settings.get(spec.queue)
            if queue is not None:
                if spec.max_attempts is None and queue.max_attempts is not None:
                    spec = spec._replace(max_attempts=queue.max_attempts)
                if spec.timeout is None and queue.timeout is not None:
                    spec = spec._replace(timeout=queue.timeout)
                if spec.retry is None and queue.retry is not None:
                    spec = spec._replace(retry=queue.retry)
            out.append(spec)
        return out

    async def admit(self, tasks: list[Task], settings: dict[str, QueueSettings]) -> None:
        """Refuse a batch that would take a queue past its ``max_size`` (QueueFull, nothing
        stored)."""
        backend = self.service.backend
        counted: dict[str, int] = {}
        for task in tasks:
            queue = settings.get(task.queue)
            limited = queue is not None and queue.max_size is not None
            if limited and task.priority < BYPASS_PRIORITY:
                counted[task.queue] = counted.get(task.queue, 0) + 1
        for name, count in counted.items():
            limit = settings[name].max_size
            assert limit is not None
            if await backend.task_count_waiting(name) + count > limit:
                raise QueueFull(
                    f"queue {name!r} holds its max_size of {limit} waiting tasks: try later "
                    f"(priority {BYPASS_PRIORITY} is admitted past it)"
                )

    @staticmethod
    def shares(
        tasks: Sequence[Task], specs: Sequence[TaskSpec], settings: dict[str, QueueSettings]
    ) -> list[Share | None] | None:
        """What each task asks of the store for its fair place (None: its queue has no
        fairness); None when no task's queue has fairness. The store gives the places
        inside the insert (:func:`rota.core.fairness.places`). A ranked task of a fair
        queue is refused (ValidationError)."""
        if all(s.fairness == "off" for s in settings.values()):
            return None
        made: list[Share | None] = []
        strides: dict[tuple[str, str], float] = {}
        for task, spec in zip(tasks, specs, strict=True):
            queue = settings.get(task.queue)
            if queue is None or queue.fairness == "off":
                made.append(None)
                continue
            if spec.rank is not None:  # a fair place and a rank are the same column
                raise ValidationError(
                    f"queue {task.queue!r} shares by fairness; a rank is not allowed there"
                )
            key = fair_key(spec, task)
            step = strides.get((task.queue, key))
            if step is None:
                step = strides[task.queue, key] = fairness.stride(queue, key)
            made.append(Share(key, step))
        return made if any(s is not None for s in made) else None

    @staticmethod
    def uniques(
        tasks: Sequence[Task], specs: Sequence[TaskSpec], settings: dict[str, QueueSettings]
    ) -> list[Unique | None]:
        """What each task asks of the store about its unique key (None: it has none)."""
        made: list[Unique | None] = []
        for task, spec in zip(tasks, specs, strict=True):
            asked = spec.unique
            if asked is None:
                made.append(None)
                continue
            key = asked.key
            if key is None:
                key = dedup.content_key(task.kind, task.payload, task.tenant)
            elif len(key) > dedup.MAX_KEY_CHARS or not re.fullmatch(dedup.KEY_PATTERN, key):
                raise ValidationError(
                    f"unique_key must be 1..{dedup.MAX_KEY_CHARS} printable ASCII characters, "
                    "not starting with a space"
                )
            rule = asked.on_conflict or settings.get(task.queue, QueueSettings()).on_conflict
            if rule not in dedup.RULES:
                raise ValidationError(f"on_conflict must be one of {', '.join(dedup.RULES)}")
            window = asked.for_seconds
            if window is not None and not 0 < window <= dedup.MAX_UNIQUE_FOR:
                raise ValidationError(f"unique_for must be in (0, {dedup.MAX_UNIQUE_FOR}] seconds")
            until = None if window is None else task.created_at + timedelta(seconds=window)
            scoped = dedup.scoped(task.queue, task.tenant, key)
            made.append(Unique(scoped, rule, asked.while_running, until))
        return made

    def limits(self, queues: tuple[str, ...] | None) -> tuple[QueueLimit, ...]:
        """The global limits of the claimed queues (every queue: all that have some), as
        last read (a claim reads the controls first)."""
        found = []
        for queue, settings in self.service.controls.settings_now.items():
            if queues is None or queue in queues:
                limit = settings.limit(queue)
                if limit is not None:
                    found.append(limit)
        return tuple(found)

    # -- aging (a leader service) -------------------------------------------------------

    async def age(self) -> int:
        """One look: each aging queue whose step is due takes it; how many tasks rose."""
        now = self.service.clock.now()
        raised = 0
        for queue, settings in (await self.service.controls.queue_settings()).items():
            aging = settings.aging
            if aging is None:
                continue
            step = timedelta(seconds=aging.step_seconds)
            last = self._aged_at.get(queue)
            if last is not None and now - last < step:
                continue
            raised += await self.service.backend.task_age(
                queue, cap=aging.cap, ready_before=now - step
            )
            self._aged_at[queue] = now
        return raised


def fair_key(spec: TaskSpec, task: Task) -> str:
    """A task's fairness key: the one given on submit, else its tenant."""
    key = spec.fairness_key or task.tenant  # both checked names (build_task)
    return fairness.NO_KEY if key is None else key
