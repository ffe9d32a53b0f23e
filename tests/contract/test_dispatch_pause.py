"""A paused queue keeps taking submits and hands out none of its tasks, on every store:
whether a worker claims every queue or names the paused one; other queues go on; a resume
(through another replica too) hands them out again."""

from __future__ import annotations

from rota.backends import Backend, backend_from_url
from rota.core.clock import ManualClock
from rota.service import Service, TaskSpec
from tests.api.conftest import make_settings
from tests.contract.conftest import Store
from tests.contract.helpers import T0


async def test_a_paused_queue_is_not_dispatched(backend: Backend, store: Store) -> None:
    service = Service(backend, make_settings(), clock=ManualClock(T0))
    await service.controls.pause("media", reason="codec bug", by="token:ops", now=T0)
    for queue, priority in (("media", 90), ("mail", 10), ("media", 90)):
        await service.enqueue(TaskSpec("work", queue=queue, priority=priority))

    # the highest-priority tasks are media's, yet a claim of every queue skips them
    claimed = await service.claim("w1", limit=10)
    assert [t.queue for t in claimed] == ["mail"]
    assert await service.claim("w1", queues=["media"], limit=10) == []
    assert await service.claim("w1", queues=["media", "mail"], limit=10) == []

    # another replica on the same store resumes it; this one obeys at its next read
    if store.kind.shared:
        other_backend = backend_from_url(store.url)
        await other_backend.open()
        try:
            await resume_twice(Service(other_backend, make_settings()))
        finally:
            await other_backend.close()
    else:
        await resume_twice(service)
    service.controls.forget()  # what the next read, within a second, does
    resumed = await service.claim("w1", limit=10)
    assert sorted(t.queue for t in resumed) == ["media", "media"]


async def resume_twice(service: Service) -> None:
    assert await service.controls.unpause("media")
    assert not await service.controls.unpause("media")  # already resumed
