"""Jobs whose tasks depend on each other (a DAG), and canceling a job.

A job's task may name others of the job it waits for (``depends_on``: their names in the
job, or their ids). Such a task is stored ``scheduled`` at :data:`BLOCKED_AT`, past any time
a submit may name, so no promotion starts it; the job keeps the graph (``Job.needs``). A
leader service (:meth:`Jobs.release`) looks at the blocked tasks a few times a second:

- every task it waits for succeeded: it becomes ``queued`` (event ``moved``);
- one of them failed or was canceled: it is canceled too, and so, a look later, are the
  tasks that wait for it (the whole branch below a failure).

Correctness needs no hook in the finish paths (a report, a lease sweep, an expiry or an
operator all end tasks): each look reads the graph and the states as they are, and a
release is a guarded change (expected state), so two leaders for a moment do no harm. A
job's state and counts are derived from its tasks (:class:`~rota.core.models.JobSummary`).
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from graphlib import CycleError, TopologicalSorter
from typing import TYPE_CHECKING

from rota.core import limits
from rota.core.errors import IllegalTransition, NotFound, ValidationError
from rota.core.ids import new_id
from rota.core.models import BLOCKED_AT, SYSTEM, Task, TaskFilter
from rota.core.states import FINAL_STATES, TaskState
from rota.service.validation import TaskSpec, check_name

if TYPE_CHECKING:
    from rota.service.service import Service

#: blocked tasks one look reads at most
BATCH = 1000
#: one task's dependencies at most
MAX_DEPENDENCIES = 100


#: per task of a job: its name in the job (or None) and what it depends on
Links = Sequence[tuple[str | None, Sequence[str]]]


class Jobs:
    def __init__(self, service: Service) -> None:
        self.service = service

    @staticmethod
    def plan(
        specs: Sequence[TaskSpec], links: Links
    ) -> tuple[list[TaskSpec], dict[str, tuple[str, ...]]]:
        """The specs with their ids fixed, and the graph (task id -> ids it waits for).
        Refuses unknown names, a task waiting for itself, and cycles (ValidationError:
        422), before anything is stored."""
        if len(links) != len(specs):
            raise ValidationError("one link per task")
        specs = [s if s.id is not None else s._replace(id=new_id()) for s in specs]
        by_ref: dict[str, str] = {}
        for spec, (name, _) in zip(specs, links, strict=True):
            assert spec.id is not None
            by_ref[spec.id] = spec.id
            if name is not None:
                check_name(name, "task name")
                if name in by_ref:
                    raise ValidationError(f"the job names task {name!r} twice")
                by_ref[name] = spec.id
        needs: dict[str, tuple[str, ...]] = {}
        for spec, (_, refs) in zip(specs, links, strict=True):
            if not refs:
                continue
            if len(refs) > MAX_DEPENDENCIES:
                raise ValidationError(f"depends_on: at most {MAX_DEPENDENCIES} tasks")
            unknown = [r for r in refs if r not in by_ref]
            if unknown:
                raise ValidationError(f"depends_on names no task of the job: {unknown[:5]}")
            if spec.run_at is not None or spec.delay is not None:
                raise ValidationError("a task with depends_on runs when they are done: no "
                                      "run_at or delay")  # fmt: skip
            assert spec.id is not None
            needs[spec.id] = tuple(dict.fromkeys(by_ref[r] for r in refs))
        try:
            TopologicalSorter(needs).prepare()
        except CycleError as exc:
            raise ValidationError(f"depends_on makes a cycle: {list(exc.args[1])[:10]}") from None
        return specs, needs

    @staticmethod
    def block(tasks: Sequence[Task], needs: dict[str, tuple[str, ...]]) -> list[Task]:
        """The tasks, those that wait for others stored blocked."""
        return [
            t._replace(state=TaskState.SCHEDULED, run_at=BLOCKED_AT) if t.id in needs else t
            for t in tasks
        ]

    async def release(self) -> int:
        """One look at the blocked tasks: release those whose dependencies all succeeded,
        cancel those one of whose dependencies failed or was canceled; how many moved."""
        service, backend = self.service, self.service.backend
        blocked = await backend.task_list_blocked(limit=BATCH)
        by_job: dict[str, list[Task]] = {}
        for task in blocked:
            if task.job_id is not None:
                by_job.setdefault(task.job_id, []).append(task)
        moved = 0
        now = service.clock.now()
        for job_id, waiting in by_job.items():
            job = await backend.job_get(job_id)
            states = await self._states(job_id)
            for task in waiting:
                deps = () if job is None else job.needs.get(task.id, ())
                got = [states.get(d) for d in deps]
                if all(s == TaskState.SUCCEEDED for s in got):
                    done = await backend.task_move(
                        task.id, now, state=TaskState.QUEUED, expect=TaskState.SCHEDULED,
                        now=now, actor=SYSTEM,
                    )  # fmt: skip
                elif any(s in (TaskState.FAILED, TaskState.CANCELED) for s in got):
                    done = await backend.task_cancel(
                        task.id, expect=TaskState.SCHEDULED, now=now, actor=SYSTEM
                    )
                else:
                    continue
                moved += done is not None
        if moved:
            service.notifier.notify()
        return moved

    async def _states(self, job_id: str) -> dict[str, TaskState]:
        found = await self.service.backend.task_list(
            TaskFilter(job_id=job_id), after_seq=None, limit=limits.MAX_BATCH
        )
        return {t.id: t.state for t in found}

    async def cancel(self, job_id: str, *, actor: str) -> list[str]:
        """Cancel every unfinished task of the job (a running one gets a cancel request);
        the ids of those it reached."""
        service = self.service
        await service.job(job_id)  # NotFound for no such job
        found = await service.backend.task_list(
            TaskFilter(job_id=job_id), after_seq=None, limit=limits.MAX_BATCH
        )
        done = []
        for task in found:
            if task.state in FINAL_STATES:
                continue
            with contextlib.suppress(IllegalTransition, NotFound):
                await service.cancel(task.id, actor=actor)
                done.append(task.id)
        return done
