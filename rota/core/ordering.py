"""The ordering contract: highest priority first, then enqueue order, then lowest id.

Backends implement it in their own index (SQL ``ORDER BY priority DESC, seq, id``, Redis
scores); this key is the reference the memory backend and the tests use.
"""

from __future__ import annotations

from rota.core.models import Task


def claim_key(task: Task) -> tuple[int, int, str]:
    return (-task.priority, task.seq, task.id)


def in_claim_order(tasks: list[Task]) -> list[Task]:
    return sorted(tasks, key=claim_key)
