"""Prometheus metrics of one API app: ``GET /metrics`` (docs/metrics.md).

Each app owns a :class:`~prometheus_client.CollectorRegistry` (no global registry: two apps
in one process, as tests make, never mix their figures). On it sit the store's gauges,
read at scrape time and the same on every replica (:mod:`rota.metrics.store`), and this
process's counters and histograms (:mod:`rota.metrics.process`), fed by the service's
store seen through :class:`~rota.metrics.observed.ObservedBackend`.
"""

from __future__ import annotations

from typing import cast

from prometheus_client import CollectorRegistry, generate_latest

from rota.backends.base import Backend
from rota.metrics.observed import ObservedBackend
from rota.metrics.process import ProcessMetrics
from rota.metrics.store import StoreCollector, read_store
from rota.service import Service

__all__ = ["CONTENT_TYPE", "Metrics"]

#: the classic text format every Prometheus reads (rota's names need none of 1.0.0's escaping)
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


class Metrics:
    def __init__(self, service: Service) -> None:
        """Start counting what ``service`` does: its store verbs go through an observer
        from now on (the service's other parts keep the store itself: none of them
        changes a task's state)."""
        self.service = service
        self.registry = CollectorRegistry(auto_describe=True)
        self.process = ProcessMetrics(self.registry)
        self._store = StoreCollector()
        self.registry.register(self._store)
        service.backend = cast(Backend, ObservedBackend(service.backend, self.process))

    async def scrape(self) -> bytes:
        """The text format: the store read now, then rendered with no ``await`` between,
        so a concurrent scrape cannot swap the snapshot half-way."""
        snapshot = await read_store(self.service)
        self._store.snapshot = snapshot
        return generate_latest(self.registry)
