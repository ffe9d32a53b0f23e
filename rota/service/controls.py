"""Operator controls: blocking intake (for everything, one queue or one tenant), pausing
dispatch of a queue, disabling a tenant's scheduling, and the queues' settings.

Controls live in the store (``control_*`` verbs), so every replica obeys them; a process
reads them at most once per ``REFRESH_SECONDS`` (and at once after its own change), so a
control set through another replica holds everywhere within that time. A blocked submit is
refused whole with :class:`~rota.core.errors.IntakeBlocked` (503, ``Retry-After``), saying
why and since when; nothing of it is stored. A paused queue keeps taking submits, and no
claim hands out its tasks until it is resumed (:meth:`Service.claim`). A disabled tenant
(KAT's disabled scheduler) is both: its submits are refused and no claim hands out its
waiting tasks, in any queue, until it is enabled again; the store skips them
(``ClaimRequest.skip_tenants``).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Literal

import orjson

from rota.core.errors import IntakeBlocked, ValidationError
from rota.core.models import Task
from rota.core.queues import QueueSettings
from rota.service.validation import check_name

if TYPE_CHECKING:
    from rota.backends import Backend

REFRESH_SECONDS = 1.0
MAX_REASON_CHARS = 500
Scope = Literal["all", "queue", "tenant"]


@dataclass(frozen=True, slots=True)
class Block:
    scope: Scope
    name: str | None
    reason: str
    since: str
    by: str

    @property
    def key(self) -> str:
        return block_key(self.scope, self.name)


def block_key(scope: Scope, name: str | None) -> str:
    return "intake" if scope == "all" else f"intake:{scope}:{name}"


@dataclass(frozen=True, slots=True)
class Pause:
    queue: str
    reason: str
    since: str
    by: str


_PAUSE = "pause:queue:"
_DISABLED = "disabled:tenant:"
_SETTINGS = "settings:queue:"


@dataclass(frozen=True, slots=True)
class Disabled:
    tenant: str
    reason: str
    since: str
    by: str


class Controls:
    def __init__(
        self, backend: Backend, wake: Callable[[Collection[str] | None], object] = lambda _: None
    ) -> None:
        self._backend = backend
        # wakes this process's waiting claims of the queues a change opens (None: all):
        # nothing else tells them that a claim would find something now
        self._wake = wake
        self._blocks: dict[str, Block] = {}
        self._pauses: dict[str, Pause] = {}
        self._disabled: dict[str, Disabled] = {}
        self._settings: dict[str, QueueSettings] = {}
        self._read_at = float("-inf")

    async def _refresh(self) -> None:
        if time.monotonic() - self._read_at > REFRESH_SECONDS:
            stored = await self._backend.control_list()
            self._blocks = {
                key: Block(**orjson.loads(value))
                for key, value in stored.items()
                if key == "intake" or key.startswith("intake:")
            }
            self._pauses = {
                key[len(_PAUSE) :]: Pause(**orjson.loads(value))
                for key, value in stored.items()
                if key.startswith(_PAUSE)
            }
            self._disabled = {
                key[len(_DISABLED) :]: Disabled(**orjson.loads(value))
                for key, value in stored.items()
                if key.startswith(_DISABLED)
            }
            self._settings = {
                key[len(_SETTINGS) :]: QueueSettings.from_json(orjson.loads(value))
                for key, value in stored.items()
                if key.startswith(_SETTINGS)
            }
            self._read_at = time.monotonic()

    def forget(self) -> None:
        """Read the store again at the next look (after a change made here, at once)."""
        self._read_at = float("-inf")

    async def blocks(self) -> dict[str, Block]:
        await self._refresh()
        return self._blocks

    async def pauses(self) -> dict[str, Pause]:
        """The paused queues, by name."""
        await self._refresh()
        return self._pauses

    async def pause(self, queue: str, *, reason: str, by: str, now: datetime) -> Pause:
        check_name(queue, "queue")
        _check_reason(reason)
        pause = Pause(queue, reason, now.isoformat(), by)
        value = orjson.dumps({"queue": queue, "reason": reason, "since": pause.since, "by": by})
        await self._backend.control_set(_PAUSE + queue, value.decode())
        self.forget()
        return pause

    async def unpause(self, queue: str) -> bool:
        """Resume a queue's dispatch; whether it was paused."""
        check_name(queue, "queue")
        existed = queue in await self.pauses()
        await self._backend.control_set(_PAUSE + queue, None)
        self.forget()
        self._wake((queue,))
        return existed

    @property
    def disabled_now(self) -> dict[str, Disabled]:
        """The disabled tenants as last read: right after :meth:`blocks` or :meth:`pauses`,
        which read the store when it is due, without a second look."""
        return self._disabled

    async def disabled(self) -> dict[str, Disabled]:
        """The tenants whose scheduling is disabled, by name."""
        await self._refresh()
        return self._disabled

    async def disable(self, tenant: str, *, reason: str, by: str, now: datetime) -> Disabled:
        check_name(tenant, "tenant")
        _check_reason(reason)
        made = Disabled(tenant, reason, now.isoformat(), by)
        value = orjson.dumps({"tenant": tenant, "reason": reason, "since": made.since, "by": by})
        await self._backend.control_set(_DISABLED + tenant, value.decode())
        self.forget()
        return made

    async def enable(self, tenant: str) -> bool:
        """Enable a tenant's scheduling again; whether it was disabled."""
        check_name(tenant, "tenant")
        existed = tenant in await self.disabled()
        await self._backend.control_set(_DISABLED + tenant, None)
        self.forget()
        self._wake(None)  # its tasks may wait in any queue
        return existed

    @property
    def settings_now(self) -> dict[str, QueueSettings]:
        """The queues' settings (those that have any) as last read, like
        :attr:`disabled_now`."""
        return self._settings

    async def queue_settings(self) -> dict[str, QueueSettings]:
        await self._refresh()
        return self._settings

    async def set_queue_settings(self, queue: str, settings: QueueSettings) -> None:
        check_name(queue, "queue")
        value = None if settings == QueueSettings() else orjson.dumps(settings.to_json()).decode()
        await self._backend.control_set(_SETTINGS + queue, value)
        self.forget()
        self._wake((queue,))  # a limit raised or lifted may let its claims take more

    async def check_intake(self, tasks: Iterable[Task]) -> None:
        blocks = await self.blocks()
        disabled = self._disabled
        if not blocks and not disabled:
            return
        for task in tasks:
            off = disabled.get(task.tenant) if task.tenant is not None else None
            if off is not None:
                raise IntakeBlocked(
                    f"scheduling for tenant {off.tenant!r} is disabled since {off.since} "
                    f"by {off.by}: {off.reason}"
                )
            keys = ["intake", f"intake:queue:{task.queue}"]
            if task.tenant is not None:
                keys.append(f"intake:tenant:{task.tenant}")
            for key in keys:
                block = blocks.get(key)
                if block is not None:
                    where = "" if block.scope == "all" else f" for {block.scope} {block.name!r}"
                    raise IntakeBlocked(
                        f"intake is blocked{where} since {block.since} by {block.by}: "
                        f"{block.reason}"
                    )

    async def block(
        self, scope: Scope, name: str | None, *, reason: str, by: str, now: datetime
    ) -> Block:
        if (scope == "all") != (name is None):
            raise ValidationError("give a queue or a tenant, or neither to block all intake")
        if name is not None:
            check_name(name, scope)
        _check_reason(reason)
        block = Block(scope, name, reason, now.isoformat(), by)
        value = orjson.dumps(
            {"scope": scope, "name": name, "reason": reason, "since": block.since, "by": by}
        )
        await self._backend.control_set(block.key, value.decode())
        self.forget()
        return block

    async def resume(self, scope: Scope, name: str | None) -> bool:
        """Lift a block; whether there was one."""
        if name is not None:
            check_name(name, scope)
        key = block_key(scope, name)
        existed = key in await self.blocks()
        await self._backend.control_set(key, None)
        self.forget()
        return existed


def _check_reason(reason: str) -> None:
    if not reason or len(reason) > MAX_REASON_CHARS:
        raise ValidationError(f"reason: say why, in 1..{MAX_REASON_CHARS} characters")
