"""The audit log: every operator action, as who did what to what, when and why.

Recorded after the action succeeded, by the part of the service that did it (scopes for
task actions, the admin routes for tokens and intake). Kept in the store (``audit_*``
verbs), so every replica's actions are in one log; Redis keeps the newest 10,000 entries,
the SQL stores keep every one. ``why`` is the caller's ``X-Rota-Reason`` header, or the
reason an action takes itself (an intake block's).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import orjson

from rota.core import limits
from rota.core.clock import Clock
from rota.core.errors import ValidationError
from rota.core.models import AuditEntry
from rota.service.validation import check_name

if TYPE_CHECKING:
    from rota.backends import Backend

MAX_REASON_CHARS = 500


def check_reason(reason: str | None) -> str | None:
    if reason is not None and not 1 <= len(reason) <= MAX_REASON_CHARS:
        raise ValidationError(f"a reason has 1..{MAX_REASON_CHARS} characters")
    return reason


class Audit:
    def __init__(self, backend: Backend, clock: Clock) -> None:
        self._backend = backend
        self._clock = clock

    async def record(
        self, actor: str, action: str, target: str | None = None, *, reason: str | None = None,
        **detail: Any,
    ) -> None:  # fmt: skip
        entry = AuditEntry(
            0, self._clock.now(), actor, action, target, check_reason(reason),
            orjson.dumps(detail).decode(),
        )  # fmt: skip
        await self._backend.audit_append(entry)

    async def entries(
        self,
        *,
        limit: int = 100,
        before: int | None = None,
        action: str | None = None,
        actor: str | None = None,
    ) -> list[AuditEntry]:
        """Newest first; page with ``before`` = the last entry's ``seq``."""
        if not 1 <= limit <= limits.MAX_LIST_LIMIT:
            raise ValidationError(f"limit must be 1..{limits.MAX_LIST_LIMIT}")
        for value, what in ((action, "action"), (actor, "actor")):
            if value is not None:
                check_name(value, what)
        return await self._backend.audit_list(
            limit=limit, before=before, action=action, actor=actor
        )
