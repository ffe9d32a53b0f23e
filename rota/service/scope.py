"""What one caller may see and touch: the service as seen through a principal.

A principal bound to a tenant sees only that tenant's tasks and jobs, everywhere: a task
of another tenant reads as missing (404, so ids of others' tasks leak nothing), a list is
narrowed to the tenant, and a submit is stamped with it (naming another tenant is 403).
Changes are recorded with the principal's name as their actor. The HTTP routes and the
compatibility routers call the service through a scope; in-process callers, trusted, call
the service itself.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from rota.core.auth import OPERATOR_KINDS, Principal, Role
from rota.core.errors import Forbidden, NotFound, ValidationError
from rota.core.models import (
    Event,
    Inserted,
    Job,
    JobSummary,
    Position,
    QueueCount,
    Task,
    TaskFilter,
    WorkerInfo,
)
from rota.core.priority import PriorityInput, resolve_priority
from rota.service.controls import Disabled
from rota.service.jobs import Links
from rota.service.schedules import OCCURRENCE_PREFIX
from rota.service.service import Service
from rota.service.validation import TaskSpec


@dataclass(frozen=True, slots=True)
class Scope:
    service: Service
    principal: Principal
    #: why, for the audit log (the caller's ``X-Rota-Reason``)
    reason: str | None = None

    @property
    def tenant(self) -> str | None:
        return self.principal.tenant

    @property
    def actor(self) -> str:
        return self.principal.actor

    def _stamp(self, spec: TaskSpec) -> TaskSpec:
        if spec.id is not None and spec.id.startswith(OCCURRENCE_PREFIX):
            raise ValidationError(
                f"task ids starting with {OCCURRENCE_PREFIX!r} are schedules' occurrences"
            )
        if spec.kind in OPERATOR_KINDS and not self.principal.has(Role.OPERATOR):
            raise Forbidden(
                f"kind {spec.kind!r} runs commands on a worker's host: only an operator token "
                "may submit it"
            )
        ceiling = self.principal.max_priority
        if ceiling is not None and resolve_priority(spec.priority) > ceiling:
            raise Forbidden(f"without a token a task's priority may be {ceiling} (low) at most")
        if self.tenant is None or spec.tenant == self.tenant:
            return spec
        if spec.tenant is None:
            return spec._replace(tenant=self.tenant)
        raise Forbidden(f"this token submits for tenant {self.tenant!r} only")

    async def enqueue(self, spec: TaskSpec) -> Task:
        return await self.service.enqueue(self._stamp(spec))

    async def enqueue_many(self, specs: Sequence[TaskSpec]) -> list[Task]:
        return await self.service.enqueue_many([self._stamp(s) for s in specs])

    async def insert_many(self, specs: Sequence[TaskSpec]) -> list[Inserted]:
        """As :meth:`enqueue_many`, telling which items an equal task answered (dedup)."""
        return await self.service.insert_many([self._stamp(s) for s in specs])

    async def submit_job(
        self, name: str, specs: Sequence[TaskSpec], tenant: str | None, links: Links | None = None
    ) -> tuple[Job, list[Task]]:
        if self.tenant is not None and tenant not in (None, self.tenant):
            raise Forbidden(f"this token submits for tenant {self.tenant!r} only")
        stamped = [self._stamp(s) for s in specs]
        return await self.service.submit_job(
            name, stamped, tenant if tenant is not None else self.tenant, links
        )

    async def cancel_job(self, job_id: str) -> list[str]:
        await self.job(job_id)  # another tenant's job reads as missing
        done = await self.service.jobs.cancel(job_id, actor=self.actor)
        await self.audit("job.cancel", job_id, canceled=len(done))
        return done

    async def get(self, task_id: str) -> Task:
        task = await self.service.get(task_id)
        if self.tenant is not None and task.tenant != self.tenant:
            raise NotFound(f"no task with id {task_id!r}")
        return task

    async def position(self, task_id: str) -> Position | None:
        await self.get(task_id)
        return await self.service.position(task_id)

    async def events(self, task_id: str) -> list[Event]:
        await self.get(task_id)
        return await self.service.events(task_id)

    async def list_tasks(
        self, filter: TaskFilter, *, cursor: int | None = None, limit: int = 100
    ) -> tuple[list[Task], int | None]:
        if self.tenant is not None:
            if filter.tenant not in (None, self.tenant):
                raise Forbidden(f"this token lists tenant {self.tenant!r} only")
            filter = replace(filter, tenant=self.tenant)
        return await self.service.list_tasks(filter, cursor=cursor, limit=limit)

    async def job(self, job_id: str) -> JobSummary:
        summary = await self.service.job(job_id)
        if self.tenant is not None and summary.job.tenant != self.tenant:
            raise NotFound(f"no job with id {job_id!r}")
        return summary

    async def counts(self) -> list[QueueCount]:
        return await self.service.counts(self.tenant)

    async def workers(self) -> list[tuple[WorkerInfo, list[Task]]]:
        """The live workers; a caller bound to a tenant sees only its tenant's tasks on
        them (the workers are shared, the tasks are not)."""
        found = await self.service.workers()
        if self.tenant is None:
            return found
        return [(w, [t for t in running if t.tenant == self.tenant]) for w, running in found]

    async def audit(self, action: str, target: str | None = None, **detail: Any) -> None:
        await self.service.audit.record(self.actor, action, target, reason=self.reason, **detail)

    async def cancel(self, task_id: str) -> Task:
        await self.get(task_id)
        task = await self.service.cancel(task_id, actor=self.actor)
        await self.audit("task.cancel", task_id, state=task.state.value)
        return task

    async def set_priority(self, task_id: str, priority: PriorityInput, *, to_tail: bool) -> Task:
        await self.get(task_id)
        task = await self.service.set_priority(task_id, priority, to_tail=to_tail, actor=self.actor)
        await self.audit("task.priority", task_id, priority=task.priority, to_tail=to_tail)
        return task

    async def move(self, task_id: str, *, run_at: datetime | None, delay: float | None) -> Task:
        await self.get(task_id)
        task = await self.service.move(task_id, run_at=run_at, delay=delay, actor=self.actor)
        await self.audit("task.move", task_id, run_at=task.run_at.isoformat())
        return task

    async def retry(self, task_id: str) -> Task:
        await self.get(task_id)
        task = await self.service.retry(task_id, actor=self.actor)
        await self.audit("task.retry", task_id)
        return task

    async def retry_failed(self, filter: TaskFilter, *, limit: int) -> list[str]:
        narrowed = self._narrow(filter)
        ids = await self.service.bulk.retry_failed(narrowed, limit=limit, actor=self.actor)
        await self.audit("dead_letter.retry", None, filter=_filter_json(narrowed), count=len(ids))
        return ids

    async def cancel_waiting(self, filter: TaskFilter, *, limit: int) -> list[str]:
        narrowed = self._narrow(filter)
        ids = await self.service.bulk.cancel_waiting(narrowed, limit=limit, actor=self.actor)
        await self.audit("tasks.cancel", None, filter=_filter_json(narrowed), count=len(ids))
        return ids

    async def set_priority_waiting(
        self, filter: TaskFilter, priority: PriorityInput, *, to_tail: bool, limit: int
    ) -> list[str]:
        narrowed = self._narrow(filter)
        ids = await self.service.bulk.set_priority_waiting(
            narrowed, priority, to_tail=to_tail, limit=limit, actor=self.actor
        )
        await self.audit("tasks.priority", None, filter=_filter_json(narrowed),
                         priority=resolve_priority(priority), count=len(ids))  # fmt: skip
        return ids

    async def discard_failed(self, filter: TaskFilter, *, limit: int) -> int:
        narrowed = self._narrow(filter)
        count = await self.service.bulk.discard_failed(narrowed, limit=limit)
        await self.audit("dead_letter.discard", None, filter=_filter_json(narrowed), count=count)
        return count

    async def disable_tenant(
        self, tenant: str, *, reason: str, cancel_waiting: bool
    ) -> tuple[Disabled, int]:
        """The record, and how many waiting tasks were canceled."""
        self._reach(tenant)
        made, canceled = await self.service.bulk.disable_tenant(
            tenant, reason=reason, cancel_waiting=cancel_waiting, actor=self.actor
        )
        await self.service.audit.record(
            self.actor, "tenant.disable", tenant, reason=reason,
            cancel_waiting=cancel_waiting, canceled=canceled,
        )  # fmt: skip
        return made, canceled

    async def enable_tenant(self, tenant: str) -> bool:
        self._reach(tenant)
        enabled = await self.service.controls.enable(tenant)
        await self.audit("tenant.enable", tenant, enabled=enabled)
        return enabled

    def _reach(self, tenant: str) -> None:
        if self.tenant is not None and tenant != self.tenant:
            raise Forbidden(f"this token reaches tenant {self.tenant!r} only")

    def _narrow(self, filter: TaskFilter) -> TaskFilter:
        if self.tenant is None:
            return filter
        if filter.tenant not in (None, self.tenant):
            raise Forbidden(f"this token reaches tenant {self.tenant!r} only")
        return replace(filter, tenant=self.tenant)


def _filter_json(filter: TaskFilter) -> dict[str, str]:
    fields = {"queue": filter.queue, "kind": filter.kind, "tenant": filter.tenant,
              "job_id": filter.job_id}  # fmt: skip
    return {key: value for key, value in fields.items() if value is not None}
