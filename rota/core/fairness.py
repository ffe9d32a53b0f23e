"""Fair share within a priority level: a task's place in line, given at enqueue.

Stride scheduling, as Temporal orders fair tasks: each fairness key (the tenant, or a key
given on submit) of a queue has a counter, its *pass*; each task of the key advances it by
the key's *stride* (1 for round robin; ``top weight / weight`` with weights, so the
heaviest key advances by 1 per task) and takes the advanced value as its ``place``. Claims
order by priority, then place, then enqueue order: one key's flood spreads out instead of
going first, and keys with weights 3:1 start tasks 3:1 while both have work.

A key that was idle does not bank credit: its pass first rises to the queue's *floor*, the
place of the task at the head of the queue (or, when none is ready, the queue's clock: the
highest pass any key reached). So a newcomer's first task lands next to the head, not
before everyone else's backlog and not behind it.

A task of a queue without fairness has its ``seq`` (enqueue order) as its place, so the
order there is the contract's plain one. The stores apply :func:`advance` atomically (a
transaction, a Lua script); the memory store and the simulator call it as it is here.
"""

from __future__ import annotations

from collections.abc import MutableMapping

from rota.core.queues import QueueSettings

#: the counter of a queue's clock, and the key of a task with neither tenant nor key (no
#: valid name is either: names start with a letter or a digit)
CLOCK = ""
NO_KEY = "-"


def stride(settings: QueueSettings, key: str) -> float:
    """How far one task moves its key's pass."""
    if settings.fairness != "weighted":
        return 1.0
    top = max(settings.weights.values(), default=1)
    return max(top, 1) / settings.weight(key)


def advance(
    counters: MutableMapping[str, float], key: str, amount: float, head: float | None
) -> float:
    """Move ``key``'s pass on by ``amount`` (its tasks' strides) from where it stands, or
    from the floor if it lags: the head's place when the queue has a ready task, else the
    clock. Returns the base: the key's tasks take places ``base + stride * i``, i = 1..n."""
    floor = head if head is not None else counters.get(CLOCK, 0.0)
    base = max(counters.get(key, 0.0), floor)
    counters[key] = base + amount
    counters[CLOCK] = max(counters.get(CLOCK, 0.0), base + amount)
    return base
