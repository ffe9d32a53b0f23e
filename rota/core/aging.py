"""Aging: a waiting task's priority rises with the time it waits, so none waits forever.

Off by default; per queue, ``{"rate": r, "cap": c}`` (points per minute, a priority). A
leader service (:mod:`rota.service.queues`) takes one *step* every ``60 / r`` seconds:
every ready task of the queue that has waited a whole step (``run_at`` at least a step ago)
and stands below ``c`` gains one point. The priority is stored, so the claim index stays
one ordered lookup (DESIGN.md, "Policies are ordering keys") and the shown priority is the
effective one.

The bound, arithmetic: a task of priority ``p`` has priority at least
``min(c, p + floor(w / s) - 1)`` after waiting ``w`` seconds (``s = 60 / r``; the first step
may come up to one step late). Every waiting task rises the same way, so aging orders a
queue by priority plus waiting time: a task of ``p`` goes before every task of priority
``h <= c`` enqueued more than ``(h - p + 1) * s`` seconds after it. Against a continuous
flood of priority ``h`` that the workers keep up with, it therefore starts within
``(h - p + 1) * s`` seconds (:func:`wait_bound`) plus the service's look (a second); a flood
that outgrows the workers delays it by the backlog enqueued before that time, as it delays
the flood's own tasks.
"""

from __future__ import annotations

from rota.core.queues import Aging


def aged(priority: int, aging: Aging) -> int:
    """One step's priority for a task that waited it."""
    return priority + 1 if priority < aging.cap else priority


def wait_bound(priority: int, flood: int, aging: Aging) -> float | None:
    """Seconds after which a task of ``priority`` goes before every task of priority
    ``flood`` enqueued since; None when the cap stops it below the flood."""
    if flood > aging.cap:
        return None
    return max(flood - priority + 1, 0) * aging.step_seconds
