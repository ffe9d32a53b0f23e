"""The ordering contract: highest priority first, then place in line, then enqueue order,
then lowest id.

A task's place is its ``seq`` unless its queue shares its priority levels fairly between
keys (:mod:`rota.core.fairness`), so without fairness the order is priority, then enqueue
order. Backends implement it in their own index (SQL ``ORDER BY priority DESC, place,
seq``, Redis scores); this key is the reference the memory backend, the simulator and the
tests use.
"""

from __future__ import annotations

from rota.core.models import Task


def claim_key(task: Task) -> tuple[int, float, int, str]:
    return (-task.priority, task.place, task.seq, task.id)


def in_claim_order(tasks: list[Task]) -> list[Task]:
    return sorted(tasks, key=claim_key)
