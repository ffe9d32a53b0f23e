"""Global limits a claim obeys: a queue's running tasks, a tenant's running tasks in it, and
the rate its tasks start at, across every worker.

The store decides inside the claim (its transaction, with the queue's lock, or its script),
from what it holds: the running tasks it counts and a token bucket per rate-limited queue.
So no interleaving of claimers can over-admit (Hatchet #4778 admitted 3-4 runs with a limit
of 2). A task of a queue at a limit is stepped over and stays queued; tasks behind it that
fit still go, in the usual order.

The bucket holds at most ``max(1, rate)`` tokens and refills at ``rate`` per second; a start
takes one. So a queue starts at most ``rate * t + max(1, rate)`` tasks in any ``t`` seconds.
The memory, SQLite and PostgreSQL stores call :class:`Admission` as it is; the Redis claim
script does the same arithmetic.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True, slots=True)
class QueueLimit:
    queue: str
    #: running tasks of the queue, all workers together
    running_max: int | None = None
    #: running tasks of one tenant in the queue
    tenant_running_max: int | None = None
    #: tasks started per second
    rate: float | None = None


def burst(rate: float) -> float:
    return max(1.0, rate)


def refill(tokens: float, updated: datetime, now: datetime, rate: float) -> float:
    elapsed = max((now - updated).total_seconds(), 0.0)
    return min(burst(rate), tokens + rate * elapsed)


class Admission:
    """One claim's view of its limited queues: what runs and what the buckets hold, as read
    under the claim's lock; :meth:`admit` takes a task in or says no."""

    def __init__(
        self,
        limits: Mapping[str, QueueLimit],
        running: Mapping[str, int],
        tenant_running: Mapping[tuple[str, str], int],
        buckets: Mapping[str, tuple[float, datetime]],
        now: datetime,
    ) -> None:
        self.limits = limits
        self.running = dict(running)
        self.tenant_running = dict(tenant_running)
        # a claim's ``now`` is read before it waits for the queue's lock, so it may be older
        # than the bucket's last change: the bucket's time never goes back, or the next
        # claim would refill the same moment twice
        self.at = {q: max(buckets[q][1], now) if q in buckets else now for q in limits}
        self.tokens = {
            queue: (burst(limit.rate) if queue not in buckets
                    else refill(*buckets[queue], now, limit.rate))
            for queue, limit in limits.items() if limit.rate is not None
        }  # fmt: skip

    def admit(self, queue: str, tenant: str | None) -> bool:
        """Whether a task of ``queue`` and ``tenant`` may start now; if so, it is counted."""
        limit = self.limits.get(queue)
        if limit is None:
            return True
        if limit.running_max is not None and self.running.get(queue, 0) >= limit.running_max:
            return False
        per_tenant = limit.tenant_running_max
        held = 0 if tenant is None else self.tenant_running.get((queue, tenant), 0)
        if per_tenant is not None and tenant is not None and held >= per_tenant:
            return False
        if limit.rate is not None and self.tokens[queue] < 1.0:
            return False
        self.running[queue] = self.running.get(queue, 0) + 1
        if tenant is not None:
            self.tenant_running[(queue, tenant)] = self.tenant_running.get((queue, tenant), 0) + 1
        if limit.rate is not None:
            self.tokens[queue] -= 1.0
        return True

    def exhausted(self, queue: str) -> bool:
        """Whether no task of ``queue`` can start now, whatever its tenant (so a claim need
        not read further down it)."""
        limit = self.limits.get(queue)
        if limit is None:
            return False
        if limit.running_max is not None and self.running.get(queue, 0) >= limit.running_max:
            return True
        return limit.rate is not None and self.tokens[queue] < 1.0

    def buckets(self) -> dict[str, tuple[float, datetime]]:
        """The buckets to store after the claim."""
        return {queue: (tokens, self.at[queue]) for queue, tokens in self.tokens.items()}
