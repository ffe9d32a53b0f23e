"""The figures every replica of one store reports alike: read from the store at scrape time.

Nothing here is counted in the process: each scrape asks the store, through the service,
for its active tasks by queue, state and priority (``task_count_active``, which reads the
active states' indexes or counters, never the finished tasks kept for retention) and for
the workers heard from lately. Two replicas of one store therefore answer the same numbers,
and a replica that just started knows them at once.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from prometheus_client.core import GaugeMetricFamily
from prometheus_client.metrics_core import Metric

from rota.core.models import QueueCount
from rota.core.states import ACTIVE_STATES
from rota.service import Service


@dataclass(frozen=True, slots=True)
class StoreSnapshot:
    """What one scrape read from the store."""

    active: list[QueueCount] = field(default_factory=list)
    workers_alive: int = 0
    worker_slots: int = 0
    paused_queues: frozenset[str] = frozenset()


async def read_store(service: Service) -> StoreSnapshot:
    """A few reads, each bounded by the backlog, the live workers or the pauses in force."""
    active = await service.active_counts()
    workers = await service.workers()
    paused = await service.controls.pauses()
    return StoreSnapshot(
        active=active,
        workers_alive=len(workers),
        worker_slots=sum(info.concurrency for info, _ in workers),
        paused_queues=frozenset(paused),
    )


class StoreCollector:
    """A prometheus-client collector over the snapshot the scrape has just read.

    ``collect`` is synchronous (the client library calls it while rendering); the route
    awaits :func:`read_store`, hands the snapshot over and renders with no ``await`` in
    between, so concurrent scrapes never see each other's snapshot half-way.
    """

    def __init__(self) -> None:
        self.snapshot = StoreSnapshot()

    def collect(self) -> Iterator[Metric]:
        snap = self.snapshot
        depth = GaugeMetricFamily(
            "rota_queue_depth",
            "Tasks not finished, by queue, state (scheduled, queued, running) and priority; "
            "read from the store at scrape time, the same on every replica.",
            labels=["queue", "state", "priority"],
        )
        for row in snap.active:
            depth.add_metric([row.queue, row.state.value, str(row.priority)], row.count)
        yield depth
        queues = GaugeMetricFamily(
            "rota_queue_paused",
            "1 for a queue whose dispatch is paused, else 0, for every queue with active "
            "tasks or a pause; read from the store at scrape time.",
            labels=["queue"],
        )
        for name in sorted(_queue_names(snap.active) | snap.paused_queues):
            queues.add_metric([name], 1.0 if name in snap.paused_queues else 0.0)
        yield queues
        yield GaugeMetricFamily(
            "rota_workers_alive",
            "Workers heard from within ROTA_WORKER_SILENCE; read from the store at scrape "
            "time, the same on every replica.",
            value=snap.workers_alive,
        )
        yield GaugeMetricFamily(
            "rota_worker_slots",
            "The summed concurrency of the workers alive (tasks they can run at once); "
            "read from the store at scrape time.",
            value=snap.worker_slots,
        )

    def describe(self) -> Iterable[Metric]:
        """The families without reading anything (registering must not touch the store)."""
        return list(StoreCollector().collect())


def _queue_names(rows: list[QueueCount]) -> set[str]:
    return {row.queue for row in rows if row.state in ACTIVE_STATES}
