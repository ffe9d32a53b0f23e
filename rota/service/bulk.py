"""Operators' verbs over many tasks at once: retry or discard the dead letters, cancel or
re-prioritise the waiting tasks that match a filter, disable a tenant. Each applies the
single-task verb of :class:`~rota.service.Service` per task, so the rules live once."""

from __future__ import annotations

import contextlib
from dataclasses import replace
from typing import TYPE_CHECKING

from rota.core import limits
from rota.core.errors import IllegalTransition, NotFound, ValidationError
from rota.core.models import API, Task, TaskFilter
from rota.core.priority import PriorityInput, resolve_priority
from rota.core.states import TaskState as S
from rota.service.controls import Disabled
from rota.service.validation import check_filter

if TYPE_CHECKING:
    from rota.service.service import Service


class Bulk:
    def __init__(self, service: Service) -> None:
        self.service = service

    async def retry_failed(
        self, filter: TaskFilter, *, limit: int = 1000, actor: str = API
    ) -> list[str]:
        """Operator: requeue the dead-letter tasks matching ``filter``; their ids."""
        failed = await self._failed(filter, limit)
        return [t.id for t in failed if await self.service.requeue(t, actor) is not None]

    async def cancel_waiting(
        self, filter: TaskFilter, *, limit: int = 1000, actor: str = API
    ) -> list[str]:
        """Cancel the queued and scheduled tasks that match (the newest ``limit``); their
        ids. Each is canceled as :meth:`cancel` does it: one claimed meanwhile gets a
        cancel request, one that ended meanwhile is left alone."""
        done = []
        for task in await self._waiting(filter, limit):
            with contextlib.suppress(IllegalTransition, NotFound):
                await self.service.cancel(task.id, actor=actor)
                done.append(task.id)
        return done

    async def set_priority_waiting(
        self,
        filter: TaskFilter,
        priority: PriorityInput,
        *,
        to_tail: bool = False,
        limit: int = 1000,
        actor: str = API,
    ) -> list[str]:
        """Give the waiting tasks that match (the newest ``limit``) a new priority, oldest
        first, so that with ``to_tail`` they keep their order; their ids."""
        resolve_priority(priority)  # a bad priority fails before anything changes
        done = []
        for task in await self._waiting(filter, limit):
            with contextlib.suppress(IllegalTransition, NotFound):
                await self.service.set_priority(task.id, priority, to_tail=to_tail, actor=actor)
                done.append(task.id)
        return done

    async def disable_tenant(
        self, tenant: str, *, reason: str, cancel_waiting: bool = False, actor: str = API
    ) -> tuple[Disabled, int]:
        """Stop a tenant's scheduling (KAT's disabled scheduler): refuse its submits and
        leave its waiting tasks unclaimed, or with ``cancel_waiting`` cancel them all; the
        record and how many were canceled. Its running tasks run on."""
        made = await self.service.controls.disable(
            tenant, reason=reason, by=actor, now=self.service.clock.now()
        )
        canceled = 0
        if cancel_waiting:  # its intake is closed, so the pages run out
            while True:
                page = await self.cancel_waiting(
                    TaskFilter(tenant=tenant), limit=limits.MAX_LIST_LIMIT, actor=actor
                )
                canceled += len(page)
                if len(page) < limits.MAX_LIST_LIMIT:
                    break
        return made, canceled

    async def _waiting(self, filter: TaskFilter, limit: int) -> list[Task]:
        """The newest ``limit`` waiting tasks that match (as a listing's first page), in
        enqueue order: applied oldest first, moved tasks keep their order."""
        if not 1 <= limit <= limits.MAX_LIST_LIMIT:
            raise ValidationError(f"limit must be 1..{limits.MAX_LIST_LIMIT}")
        found: list[Task] = []
        for state in (S.QUEUED, S.SCHEDULED):
            page = check_filter(replace(filter, state=state))
            found += await self.service.backend.task_list(page, after_seq=None, limit=limit)
        newest = sorted(found, key=lambda t: t.seq, reverse=True)[:limit]
        return newest[::-1]

    async def discard_failed(self, filter: TaskFilter, *, limit: int = 1000) -> int:
        """Operator: delete the dead-letter tasks matching ``filter``, history and all."""
        ids = [t.id for t in await self._failed(filter, limit)]
        return await self.service.backend.task_delete_many(ids) if ids else 0

    async def _failed(self, filter: TaskFilter, limit: int) -> list[Task]:
        if not 1 <= limit <= limits.MAX_LIST_LIMIT:
            raise ValidationError(f"limit must be 1..{limits.MAX_LIST_LIMIT}")
        dead = replace(check_filter(filter), state=S.FAILED)
        return await self.service.backend.task_list(dead, after_seq=None, limit=limit)
