"""The named queries of queries.sql, loaded once (see :mod:`rota.backends.queries`).

``TASK_COLUMNS`` becomes the column list in the order of rota.core.models.Task
(``TASK_COLUMNS_T``: the same, of ``t``).
"""

from __future__ import annotations

from dataclasses import fields

from rota.backends.queries import load
from rota.core import limits, wakeups
from rota.core.models import ScheduleRecord, Task

COLUMNS = ", ".join(Task._fields)
_COLUMNS_T = ", ".join(f"t.{name}" for name in Task._fields)

TOKEN_COLUMNS = "name, digest, role, tenant, created_at, expires_at, revoked_at, last_used_at"
SCHEDULE_COLUMNS = ", ".join(f.name for f in fields(ScheduleRecord))
#: claims of one queue with global limits that may run side by side while far from them
#: (LIMIT_GATE in queries.sql); near them, one at a time
LIMIT_SLOTS = 4

Q = load(
    __package__,
    "queries.sql",
    {
        "TASK_COLUMNS_T": _COLUMNS_T,
        "TASK_COLUMNS": COLUMNS,
        "TOKEN_COLUMNS": TOKEN_COLUMNS,
        "SCHEDULE_COLUMNS": SCHEDULE_COLUMNS,
        "LIMIT_SLOTS": str(LIMIT_SLOTS),
        "MAX_CLAIM": str(limits.MAX_CLAIM),
        "WAKE_MAX_NAMED": str(wakeups.MAX_NAMED),
    },
)
