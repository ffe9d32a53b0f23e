"""SQLite rows to rota's values, and the column lists the queries select them by."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import orjson

from rota.core.auth import Role, TokenRecord
from rota.core.clock import from_us, to_us
from rota.core.models import ScheduleRecord, Task
from rota.core.states import TaskState

TOKEN_COLUMNS = "name, digest, role, tenant, created_at, expires_at, revoked_at, last_used_at"
COLUMNS = (
    "id, queue, kind, payload, priority, state, run_at, created_at, attempt, max_attempts, "
    "timeout, tenant, job_id, seq, started_at, finished_at, worker_id, lease_token, "
    "lease_expires_at, cancel_requested, result, error, retry, expires_at, progress, place, "
    "requires, trace"
)
SCHEDULE_COLUMNS = (
    "id, name, definition, enabled, next_run_at, last_run_at, last_task_id, version, "
    "created_at, updated_at"
)


def opt_time(value: int | None) -> datetime | None:
    return None if value is None else from_us(value)


def to_task(row: Sequence[Any]) -> Task:
    return Task(
        id=row[0],
        queue=row[1],
        kind=row[2],
        payload=orjson.loads(row[3]),
        priority=row[4],
        state=TaskState(row[5]),
        run_at=from_us(row[6]),
        created_at=from_us(row[7]),
        attempt=row[8],
        max_attempts=row[9],
        timeout=row[10],
        tenant=row[11],
        job_id=row[12],
        seq=row[13],
        started_at=opt_time(row[14]),
        finished_at=opt_time(row[15]),
        worker_id=row[16],
        lease_token=row[17],
        lease_expires_at=opt_time(row[18]),
        cancel_requested=bool(row[19]),
        result=None if row[20] is None else orjson.loads(row[20]),
        error=row[21],
        retry=None if row[22] is None else orjson.loads(row[22]),
        expires_at=opt_time(row[23]),
        progress=None if row[24] is None else orjson.loads(row[24]),
        place=float(row[25]),
        requires=() if row[26] is None else tuple(orjson.loads(row[26])),
        trace=row[27],
    )


def dump(value: Any) -> str | None:
    return None if value is None else orjson.dumps(value).decode()


def to_schedule(row: Sequence[Any]) -> ScheduleRecord:
    sid, name, definition, enabled, next_run, last_run, last_task, version, made, changed = row
    return ScheduleRecord(sid, name, definition, bool(enabled), opt_time(next_run),
                          opt_time(last_run), last_task, version, from_us(made),
                          from_us(changed))  # fmt: skip


def us_or_none(value: datetime | None) -> int | None:
    return None if value is None else to_us(value)


def to_token(row: Sequence[Any]) -> TokenRecord:
    name, digest, role, tenant, created, expires, revoked, used = row

    def at(us: int | None) -> datetime | None:
        return None if us is None else from_us(us)

    return TokenRecord(name, digest, Role(role), tenant, from_us(created), at(expires),
                       at(revoked), at(used))  # fmt: skip
