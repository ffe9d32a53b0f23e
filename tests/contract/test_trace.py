"""The trace context a task carries (rota.tracing) on every store: kept by the insert (one
task, a batch, and a batch large enough for PostgreSQL's COPY), returned by reads and by
the claim, and absent when none was given."""

from __future__ import annotations

from rota.backends import Backend
from rota.service import Service, TaskSpec
from tests.api.conftest import make_settings

PARENT = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"


async def test_a_tasks_trace_is_kept_from_insert_to_claim(backend: Backend) -> None:
    service = Service(backend, make_settings())
    one = await service.enqueue(TaskSpec("work", queue="traced", trace=PARENT))
    batch = await service.enqueue_many(
        [TaskSpec("work", queue="traced", trace=PARENT if n % 2 else None) for n in range(120)]
    )
    assert one.trace == PARENT and (await service.get(one.id)).trace == PARENT
    claimed = {t.id: t for t in await service.claim("w", queues=["traced"], limit=200)}
    assert len(claimed) == 121
    assert claimed[one.id].trace == PARENT
    for n, task in enumerate(batch):
        assert claimed[task.id].trace == (PARENT if n % 2 else None)
