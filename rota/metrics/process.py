"""The figures one replica counts itself: what passed through *this* process.

Transitions (enqueued, claimed, succeeded, failed, retried, canceled, expired) and the
wait and run times are observed where the store verb runs, so each replica counts the
requests it handled: sum them over every replica (``sum by (queue) (rate(...))``) for the
deployment's totals. A store-wide total of each would need a counter written in every
claim and finish on every store; the gauges of :mod:`rota.metrics.store` carry what the
store already knows cheaply (the depth by state), and these carry the rates.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram

#: seconds: from a millisecond claim to hour-long waits and runs
BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600,
           1800, 3600)  # fmt: skip

PER_PROCESS = "Counted by the replica that handled it (per process: scrape every replica)."


class ProcessMetrics:
    """The counters and histograms of one app, on that app's own registry."""

    def __init__(self, registry: CollectorRegistry) -> None:
        def counter(name: str, what: str, labels: tuple[str, ...] = ("queue",)) -> Counter:
            return Counter(name, f"{what} {PER_PROCESS}", labels, registry=registry)

        self.enqueued = counter("rota_tasks_enqueued", "Tasks stored by a submit, by queue.")
        self.claimed = counter("rota_tasks_claimed", "Tasks leased to a worker, by queue.")
        self.succeeded = counter("rota_tasks_succeeded", "Runs that succeeded, by queue.")
        self.failed = counter(
            "rota_tasks_failed", "Tasks that ended failed (the dead letter), by queue."
        )
        self.retried = counter(
            "rota_tasks_retried",
            "Failed runs (a failure reported, a timeout or a lapsed lease) that will run "
            "again, by queue.",
        )
        self.canceled = counter(
            "rota_tasks_canceled", "Tasks canceled (waiting, or running on request), by queue."
        )
        self.expired = counter(
            "rota_tasks_expired",
            "Waiting tasks canceled by the leader at their expires_at, never run.",
            labels=(),
        )
        self.lapsed = counter(
            "rota_leases_lapsed",
            "Runs ended by the sweeper because their lease lapsed (the worker went silent), "
            "by queue.",
        )
        self.wait = Histogram(
            "rota_task_wait_seconds",
            "From a task being ready (its run_at) to its claim, by queue. " + PER_PROCESS,
            ("queue",),
            buckets=BUCKETS,
            registry=registry,
        )
        self.run = Histogram(
            "rota_task_run_seconds",
            "From a claim to its run's end, by queue; observed only when the replica that "
            "applied the end also handled the claim (or swept the task). " + PER_PROCESS,
            ("queue",),
            buckets=BUCKETS,
            registry=registry,
        )
