"""Routing by capabilities on every store: a worker claims only the tasks whose
``requires`` its capabilities cover (one without any claims only tasks that require
nothing), in contract order among those; waiting tasks that no live worker can run are
counted per queue, and stop being counted when such a worker registers."""

from __future__ import annotations

import pytest

from rota.backends import Backend
from rota.core.clock import ManualClock
from rota.core.errors import ValidationError
from rota.service import Service, TaskSpec
from tests.api.conftest import make_settings
from tests.contract.helpers import T0


def service_at(backend: Backend) -> Service:
    return Service(backend, make_settings(), clock=ManualClock(T0))


async def test_a_worker_claims_only_what_it_can_run(backend: Backend) -> None:
    service = service_at(backend)
    await service.enqueue(TaskSpec("scan", id="gpu-high", priority=90, requires=["gpu"]))
    await service.enqueue(TaskSpec("scan", id="both", priority=80, requires=["gpu", "net"]))
    await service.enqueue(TaskSpec("scan", id="plain", priority=10))
    await service.enqueue(TaskSpec("scan", id="net", priority=50, requires=["net"]))
    plain = await service.claim("cpu", limit=10)
    assert [t.id for t in plain] == ["plain"]  # the higher ones need what it lacks
    gpu = await service.claim("gpu-box", limit=10, capabilities=["gpu"])
    assert [t.id for t in gpu] == ["gpu-high"]
    rest = await service.claim("big", limit=10, capabilities=["net", "gpu", "disk"])
    assert [t.id for t in rest] == ["both", "net"]
    stored = await service.get("both")
    assert stored.requires == ("gpu", "net")


async def test_one_queue_and_several_queues_route_alike(backend: Backend) -> None:
    service = service_at(backend)
    for queue in ("a", "b"):
        await service.enqueue(TaskSpec("scan", queue=queue, priority=90, requires=["gpu"]))
        await service.enqueue(TaskSpec("scan", queue=queue, priority=10, id=f"plain-{queue}"))
    one = await service.claim("w", queues=["a"], limit=5)
    several = await service.claim("w", queues=["a", "b"], limit=5)
    assert [t.id for t in one] == ["plain-a"]
    assert [t.id for t in several] == ["plain-b"]


async def test_tasks_no_live_worker_can_run_are_counted(backend: Backend) -> None:
    service = service_at(backend)
    await service.enqueue_many([TaskSpec("scan", queue="scans", requires=["gpu"])] * 3)
    await service.enqueue(TaskSpec("scan", queue="scans", requires=["net"], delay=60))
    await service.enqueue(TaskSpec("scan", queue="other"))
    assert await service.unroutable() == {"scans": 4}
    await service.register_worker(
        "gpu-1", name="gpu-1", host="h", queues=["scans"], capabilities=["gpu"],
        concurrency=1, version="t",
    )  # fmt: skip
    assert await service.unroutable() == {"scans": 1}  # the net one still has none
    (task,) = await service.claim("gpu-1", queues=["scans"], capabilities=["gpu"])
    await service.complete(task.id, task.lease_token)
    assert await service.unroutable() == {"scans": 1}


async def test_bad_capabilities_are_refused(backend: Backend) -> None:
    service = service_at(backend)
    with pytest.raises(ValidationError, match="capability"):
        await service.enqueue(TaskSpec("scan", requires=["no spaces"]))
    with pytest.raises(ValidationError, match="at most"):
        await service.enqueue(TaskSpec("scan", requires=[f"c{n}" for n in range(40)]))
    with pytest.raises(ValidationError, match="capability"):
        await service.claim("w", capabilities=["-bad"])
