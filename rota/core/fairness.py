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
before everyone else's backlog and not behind it. The floor is read once per insert, before
any of its tasks: the keys of one batch all rise to the same floor, so a batch that mixes
keys is placed round robin as separate inserts would be.

A task of a queue without fairness has its ``seq`` (enqueue order) as its place, so the
order there is the contract's plain one. The service gives each task of a fair queue its
:class:`Share`; the store applies :func:`places` inside the insert's own transaction (or
script), to the tasks it really inserts, so a duplicate a unique key turns away moves no
pass. The Redis store's insert.lua mirrors :func:`places`, and so does the PostgreSQL
store's rota_fair_places (a PL/pgSQL function, migration 0021, that its insert of a task or
a small batch calls, so the insert is one statement): both run the rule where the store
holds the counters, and the contract tests keep them in step with this module. The
simulator calls :func:`advance` per task.
"""

from __future__ import annotations

from collections.abc import MutableMapping, Sequence
from typing import NamedTuple

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


class Share(NamedTuple):
    """What a new task of a fair queue asks of the store: a place, moving ``key``'s pass
    by ``stride`` (the same for every task of a key)."""

    key: str
    stride: float


def places(
    counters: MutableMapping[str, float], head: float | None, shares: Sequence[Share]
) -> list[float]:
    """The places of one queue's new tasks, in batch order, their keys' passes moved on in
    ``counters``: each key advances once, by its tasks' strides (keys in order of first
    appearance), from the floor as it stood before the insert; its n-th task of the batch
    takes ``base + stride * n``."""
    floor = head if head is not None else counters.get(CLOCK, 0.0)
    counts: dict[str, int] = {}
    strides: dict[str, float] = {}
    for key, step in shares:
        counts[key] = counts.get(key, 0) + 1
        strides.setdefault(key, step)
    bases = {key: advance(counters, key, strides[key] * n, floor) for key, n in counts.items()}
    taken: dict[str, int] = {}
    out = []
    for key, _ in shares:
        n = taken[key] = taken.get(key, 0) + 1
        out.append(bases[key] + strides[key] * n)
    return out


def by_queue(
    queues: Sequence[str], shares: Sequence[Share | None]
) -> list[tuple[str, list[tuple[int, Share]]]]:
    """The batch's tasks that have a share, as (index, share) per queue, queues sorted:
    the order the stores lock their counters in, so two inserters never wait in a cycle."""
    found: dict[str, list[tuple[int, Share]]] = {}
    for i, (queue, share) in enumerate(zip(queues, shares, strict=True)):
        if share is not None:
            found.setdefault(queue, []).append((i, share))
    return sorted(found.items())
