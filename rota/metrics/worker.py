"""A worker's own metrics (``rota worker --metrics-port``): what this process ran.

The server's ``/metrics`` counts per replica and reads depths from the store; a worker adds
what only it knows: its tasks by kind and outcome, and how many of its slots are busy. It
serves them on its own port with prometheus-client's small HTTP server, on loopback
unless ``--metrics-host`` says otherwise (the port has no token check: keep it off a
public address). Imported only when the port is asked for.
"""

from __future__ import annotations

from collections.abc import Callable
from wsgiref.simple_server import WSGIServer

from prometheus_client import CollectorRegistry, Counter, Gauge, start_http_server

from rota.core.models import Task

#: the outcomes a worker records (rota.worker.logbook names each)
OUTCOMES = ("succeeded", "failed", "timed_out", "canceled", "lost", "released")


class WorkerMetrics:
    def __init__(self, slots: int, busy: Callable[[], int]) -> None:
        self.registry = CollectorRegistry()
        self.tasks = Counter(
            "rota_worker_runs",
            "Runs this worker ended, by kind and outcome (succeeded, failed, timed_out, "
            "canceled, lost: its lease was gone, released: handed back on stop).",
            ("kind", "outcome"),
            registry=self.registry,
        )
        Gauge("rota_worker_concurrency", "Tasks this worker runs at once (--concurrency).",
              registry=self.registry).set(slots)  # fmt: skip
        busy_gauge = Gauge("rota_worker_running", "Tasks this worker is running now.",
                           registry=self.registry)  # fmt: skip
        busy_gauge.set_function(lambda: float(busy()))

    def ended(self, task: Task, outcome: str) -> None:
        self.tasks.labels(task.kind, outcome).inc()

    def serve(self, host: str, port: int) -> WSGIServer:
        """Start serving in a thread (``port`` 0 picks a free one); the server, to stop."""
        server, _ = start_http_server(port, addr=host, registry=self.registry)
        return server
