"""Jobs whose tasks depend on each other, on every store: a task starts only when every task
it waits for succeeded; one below a failure or a cancel is canceled, and so is the branch
below it; a cycle or an unknown name is refused and stores nothing; canceling a job cancels
its unfinished tasks; the job's state is derived. The leader's look (``release``) is called
directly, as the maintenance service calls it."""

from __future__ import annotations

import pytest

from rota.backends import Backend
from rota.core.clock import ManualClock
from rota.core.errors import ValidationError
from rota.core.models import BLOCKED_AT, TaskFilter
from rota.core.states import TaskState as S
from rota.service import Service, TaskSpec
from tests.api.conftest import make_settings
from tests.contract.helpers import T0

DIAMOND = [("a", []), ("b", ["a"]), ("c", ["a"]), ("d", ["b", "c"])]


def service_at(backend: Backend) -> Service:
    return Service(backend, make_settings(), clock=ManualClock(T0))


async def diamond(service: Service) -> dict[str, str]:
    specs = [TaskSpec("step", queue="dag", payload={"n": name}, max_attempts=1)
             for name, _ in DIAMOND]  # fmt: skip
    job, tasks = await service.submit_job("diamond", specs, links=DIAMOND)
    assert job.needs[tasks[3].id] == (tasks[1].id, tasks[2].id)
    return {name: t.id for (name, _), t in zip(DIAMOND, tasks, strict=True)}


async def states(service: Service, ids: dict[str, str]) -> dict[str, S]:
    return {name: (await service.get(i)).state for name, i in ids.items()}


async def run(service: Service, *names: str, ok: bool = True) -> list[str]:
    claimed = await service.claim("w", queues=["dag"], limit=10)
    for task in claimed:
        if ok:
            await service.complete(task.id, task.lease_token)
        else:
            await service.fail(task.id, task.lease_token, "boom", retryable=False)
    return sorted(t.payload["n"] for t in claimed)


async def test_a_task_starts_when_all_it_waits_for_succeeded(backend: Backend) -> None:
    service = service_at(backend)
    ids = await diamond(service)
    assert (await service.get(ids["d"])).run_at == BLOCKED_AT
    assert await run(service) == ["a"]  # b, c and d wait
    assert await service.jobs.release() == 2
    assert await run(service) == ["b", "c"]
    assert await service.jobs.release() == 1
    assert await run(service) == ["d"]
    summary = await service.job((await service.get(ids["a"])).job_id or "")
    assert summary.state == "succeeded"


async def test_a_failure_cancels_the_branch_below_it(backend: Backend) -> None:
    service = service_at(backend)
    ids = await diamond(service)
    assert await run(service, ok=False) == ["a"]  # a fails for good
    assert await service.jobs.release() == 2  # b and c canceled
    assert await service.jobs.release() == 1  # then d
    got = await states(service, ids)
    assert got == {"a": S.FAILED, "b": S.CANCELED, "c": S.CANCELED, "d": S.CANCELED}
    assert await service.claim("w", queues=["dag"], limit=10) == []


async def test_cycles_and_unknown_names_are_refused_whole(backend: Backend) -> None:
    service = service_at(backend)
    spec = TaskSpec("step", queue="dag")
    with pytest.raises(ValidationError, match="cycle"):
        await service.submit_job("c", [spec, spec], links=[("x", ["y"]), ("y", ["x"])])
    with pytest.raises(ValidationError, match="no task of the job"):
        await service.submit_job("u", [spec], links=[("x", ["nope"])])
    with pytest.raises(ValidationError, match="cycle"):
        await service.submit_job("s", [spec], links=[("x", ["x"])])
    found, _ = await service.list_tasks(TaskFilter(queue="dag"), limit=10)
    assert found == []


async def test_canceling_a_job_cancels_its_unfinished_tasks(backend: Backend) -> None:
    service = service_at(backend)
    ids = await diamond(service)
    (a,) = await service.claim("w", queues=["dag"], limit=10)
    job_id = a.job_id
    assert job_id is not None
    reached = await service.jobs.cancel(job_id, actor="token:ops")
    assert sorted(reached) == sorted(ids.values())
    got = await states(service, ids)
    assert got["a"] == S.RUNNING and (await service.get(ids["a"])).cancel_requested
    assert {got[n] for n in "bcd"} == {S.CANCELED}
