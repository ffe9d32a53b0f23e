"""KAT's schedulers as rota queues: which exist, their settings, enable and disable.

A scheduler ``<type>-<org>`` is the rota queue of that name, tenant ``<org>``. mula's three
flags live in the queue's ``on_conflict`` (so rota's ``PATCH /api/v1/queues/{name}``
changes them too), its ``maxsize`` in the queue's ``max_size`` (0: none). Disabled means
the queue's intake is blocked with :data:`DISABLED` as its reason; disabling also cancels
the queue's waiting tasks, as mula's docstring promises.
"""

from __future__ import annotations

import functools
from datetime import datetime
from typing import Any

from rota.core.models import TaskFilter
from rota.core.queues import QueueSettings
from rota.core.states import WAITING_STATES
from rota.service import Service
from rota.service.controls import block_key
from rota.service.scope import Scope

from .items import Scheduler, timestamp

DISABLED = "Scheduler is disabled"
#: mula's defaults: pq_maxsize 1000, allow_priority_updates only
DEFAULT_MAXSIZE = 1000
DEFAULT_RULE = "update_priority"
Flags = tuple[bool, bool, bool]  # allow_replace, allow_updates, allow_priority_updates
FLAG_NAMES = ("allow_replace", "allow_updates", "allow_priority_updates")
#: the flags rota shows for a queue's on_conflict (rules KAT has no flags for: the nearest)
FLAGS_OF: dict[str, Flags] = {
    "replace": (True, False, False),
    "update": (False, True, True),
    "update_priority": (False, False, True),
    "reject": (False, False, False),
    "existing": (False, False, False),
    "update_payload": (False, True, False),
    "raise_priority": (False, False, True),
}


def rule_of(flags: Flags) -> str:
    replace, updates, priority = flags
    if replace:
        return "replace"
    if updates:
        return "update"
    return "update_priority" if priority else "reject"


@functools.lru_cache(maxsize=8)
def _parse(configured: str) -> dict[str, Scheduler]:
    ids = [s.strip() for s in configured.split(",") if s.strip()]
    return {i: Scheduler.parse(i) for i in ids}


def configured(service: Service) -> dict[str, Scheduler]:
    return _parse(service.settings.kat_schedulers)


def visible(scope: Scope) -> dict[str, Scheduler]:
    """The schedulers this caller sees: a tenant-bound token its organisation's only."""
    every = configured(scope.service)
    if scope.tenant is None:
        return every
    return {i: s for i, s in every.items() if s.org == scope.tenant}


async def startup(service: Service) -> None:
    """Give each scheduler's queue mula's defaults, once: a queue that has settings keeps
    them (an operator's change survives restarts)."""
    stored = await service.controls.queue_settings()
    for scheduler_id in configured(service):
        if scheduler_id not in stored:
            changes = {"max_size": DEFAULT_MAXSIZE, "on_conflict": DEFAULT_RULE}
            await service.queues.update(scheduler_id, changes, actor="kat")


async def waiting_counts(scope: Scope) -> dict[str, int]:
    counts: dict[str, int] = {}
    for row in await scope.counts():
        if row.state in WAITING_STATES:
            counts[row.queue] = counts.get(row.queue, 0) + row.count
    return counts


def flags(settings: QueueSettings) -> Flags:
    return FLAGS_OF.get(settings.on_conflict, (False, False, False))


async def enabled(service: Service, scheduler_id: str) -> bool:
    return block_key("queue", scheduler_id) not in await service.controls.blocks()


async def last_activity(scope: Scope, scheduler_id: str) -> datetime | None:
    """When its newest task was pushed or started (mula kept this in memory)."""
    newest, _ = await scope.list_tasks(TaskFilter(queue=scheduler_id), limit=1)
    if not newest:
        return None
    task = newest[0]
    return max(task.created_at, task.started_at or task.created_at)


async def scheduler_json(
    scope: Scope, scheduler: Scheduler, sizes: dict[str, int] | None = None
) -> dict[str, Any]:
    service = scope.service
    settings = await service.queues.get(scheduler.id)
    sizes = await waiting_counts(scope) if sizes is None else sizes
    replace, updates, priority = flags(settings)
    return {
        "id": scheduler.id,
        "enabled": await enabled(service, scheduler.id),
        "priority_queue": {
            "id": scheduler.id,
            "item_type": scheduler.kind,
            "maxsize": settings.max_size or 0,
            "qsize": sizes.get(scheduler.id, 0),
            "allow_replace": replace,
            "allow_updates": updates,
            "allow_priority_updates": priority,
        },
        "last_activity": timestamp(await last_activity(scope, scheduler.id)),
    }


async def set_enabled(scope: Scope, scheduler: Scheduler, on: bool) -> None:
    service = scope.service
    if on:
        resumed = await service.controls.resume("queue", scheduler.id)
        await scope.audit("kat.scheduler.enable", scheduler.id, resumed=resumed)
        return
    await service.controls.block(
        "queue", scheduler.id, reason=DISABLED, by=scope.actor, now=service.clock.now()
    )
    await scope.audit("kat.scheduler.disable", scheduler.id)
    page = 1000
    while len(await scope.cancel_waiting(TaskFilter(queue=scheduler.id), limit=page)) == page:
        pass
