"""Key names, the task hash's fields, and turning stored values into domain objects.

Every key lives under ``{NAME}:``: one hash tag, so a whole namespace sits in one Redis
Cluster slot. The layout (``<id>`` parts are built inside the Lua scripts, see common.lua):

==========================  ============================================================
``{NAME}:seq``              enqueue seq counter (``INCRBY`` batch size)
``{NAME}:eseq``             event seq counter
``{NAME}:t:<id>``           task hash (fields: :data:`FIELDS`)
``{NAME}:h:<id>``           task history after the enqueue: a list of JSON events, the
                            last 1,000 kept (the enqueue event is the hash's ``es``)
``{NAME}:all``              zset: every task by seq (listing)
``{NAME}:st:<state>``       zset: the tasks of one state by seq (listing by state)
``{NAME}:ready``            zset: queued tasks of every queue by ready score
``{NAME}:rq:<queue>``       zset: queued tasks of one queue by ready score
``{NAME}:sched``            zset: scheduled tasks by run_at
``{NAME}:leases``           zset: running tasks by lease_expires_at
``{NAME}:timed``            zset: running tasks that have a timeout, by started_at
``{NAME}:expiring``         zset: waiting tasks that have an expires_at, by it
``{NAME}:counts``           hash: task count by ``state|priority|queue``
``{NAME}:jobs``             hash: job record (JSON) by job id
``{NAME}:jn:<job>``         hash: a job's task count by state
``{NAME}:tn:<tenant>``      hash: a tenant's task count by ``state|priority|queue``
``{NAME}:jt:<job>``         zset: a job's tasks by seq (listing by job)
``{NAME}:workers``          hash: worker record (JSON) by worker id
``{NAME}:wseen``            zset: worker ids by last_seen_at
``{NAME}:tok:<name>``       hash: a stored API token (its digest, never the secret)
``{NAME}:tokdig``           hash: token name by digest
``{NAME}:controls``         hash: operator controls (intake blocks), JSON by key
``{NAME}:schedules``        hash: schedule record (JSON) by schedule id
``{NAME}:sdue``             zset: ids of enabled schedules that fire again, by next_run_at
``{NAME}:snames``           hash: schedule id by name
``{NAME}:audit``            list: the audit log, newest first, ``<seq>\t<json>``, capped
``{NAME}:auditseq``         the audit log's counter
``{NAME}:leader``           string: the maintenance lease ``<fence>:<holder>``, with a TTL
``{NAME}:fence``            leadership fencing counter
``{NAME}:wake``             pub/sub channel (not a key): inserts and re-queues
==========================  ============================================================

Times are integer microseconds since the epoch (:func:`rota.core.clock.to_us`).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import orjson

from rota.core.auth import Role, TokenRecord
from rota.core.clock import from_us, to_us
from rota.core.dedup import Unique
from rota.core.fairness import Share
from rota.core.models import Event, Job, ScheduleRecord, Task, WorkerInfo
from rota.core.states import TaskState

#: The task hash's field names, in :class:`~rota.core.models.Task` field order. The Lua
#: scripts receive this list (common.lua, ``TASK_FIELDS``) and return rows in this order.
FIELDS: tuple[str, ...] = (
    "id", "q", "k", "p", "pr", "s", "ra", "ca", "a", "ma", "to", "tn", "j", "sq", "sa",
    "fa", "w", "lt", "le", "cr", "r", "e", "rt", "x", "pg", "tr", "pl", "cap",
)  # fmt: skip
assert len(FIELDS) == len(Task._fields)

#: The standard KEYS of every script that changes tasks (lib.lua), after the prefix.
STANDARD = (
    "seq", "eseq", "all", "ready", "sched", "leases", "timed", "expiring", "counts", "jobs",
    "st:scheduled", "st:queued", "st:running", "st:succeeded", "st:failed", "st:canceled",
)  # fmt: skip


class Keys:
    """The key names of one namespace."""

    __slots__ = ("channel", "fence", "leader", "prefix", "standard", "workers", "wseen")

    def __init__(self, name: str) -> None:
        self.prefix = "{" + name + "}:"
        p = self.prefix
        #: KEYS[1..17] of the scripts that change tasks
        self.standard: list[str] = [p, *(p + k for k in STANDARD)]
        self.workers = p + "workers"
        self.wseen = p + "wseen"
        self.leader = p + "leader"
        self.fence = p + "fence"
        self.channel = p + "wake"

    def key(self, name: str) -> str:
        return self.prefix + name

    def task(self, task_id: str) -> str:
        return self.prefix + "t:" + task_id

    def history(self, task_id: str) -> str:
        return self.prefix + "h:" + task_id

    def queue(self, queue: str) -> str:
        return self.prefix + "rq:" + queue

    def state(self, state: TaskState) -> str:
        return self.prefix + "st:" + state.value

    def job_tasks(self, job_id: str) -> str:
        return self.prefix + "jt:" + job_id

    def tenant_counts(self, tenant: str) -> str:
        return self.prefix + "tn:" + tenant

    def job_counts(self, job_id: str) -> str:
        return self.prefix + "jn:" + job_id


# -- decoding ---------------------------------------------------------------------------

STATES = {state.value: state for state in TaskState}  # a dict lookup beats TaskState()
_new = tuple.__new__
_loads = orjson.loads


#: stored time -> datetime: the rows of one claim or listing mostly share their times
_TIMES: dict[Any, datetime] = {}


def _at(value: Any) -> datetime:
    at = _TIMES.get(value)
    if at is None:
        if len(_TIMES) >= 4096:
            _TIMES.clear()
        at = _TIMES[value] = from_us(int(value))
    return at


def _time(value: Any) -> datetime | None:
    return None if value is None else _at(value)


def decode_task(r: Sequence[Any]) -> Task:
    """A task from its field array (HMGET or a script's row); None where a field is absent."""
    return _new(
        Task,
        (r[0], r[1], r[2], _loads(r[3]), int(r[4]), STATES[r[5]], _at(r[6]), _at(r[7]),
         int(r[8] or 0), int(r[9]), None if r[10] is None else float(r[10]), r[11], r[12],
         int(r[13]), _time(r[14]), _time(r[15]), r[16], int(r[17] or 0), _time(r[18]),
         r[19] is not None, None if r[20] is None else _loads(r[20]), r[21],
         None if r[22] is None else _loads(r[22]), _time(r[23]),
         None if r[24] is None else _loads(r[24]), r[25],
         float(r[13] if r[26] is None else r[26]),
         () if r[27] is None else tuple(_loads(r[27]))),
    )  # fmt: skip


def decode_event(task_id: str, entry: str) -> Event:
    """One history entry: ``[seq, at, kind, from, to, worker_id, message, actor]``."""
    seq, at, kind, source, target, worker, message, actor = _loads(entry)
    return Event(
        task_id,
        from_us(int(at)),
        kind,
        None if source is False else STATES[source],
        STATES[target],
        None if worker is False else worker,
        None if message is False else message,
        int(seq),
        None if actor is False else actor,
    )


def enqueue_event(task_id: str, created_at: str, es: str) -> Event:
    """The first event of every history, kept in the task hash (``es``: seq and state)."""
    seq, _, state = es.partition(":")
    return Event(task_id, from_us(int(created_at)), "enqueued", None, STATES[state], seq=int(seq))


# -- encoding ---------------------------------------------------------------------------

_dumps = orjson.dumps


def json_text(value: Any) -> str | None:
    """JSON as text to embed, as a string, in a script's JSON argument (None stays None)."""
    return None if value is None else _dumps(value).decode()


def encode_tasks(tasks: Sequence[Task]) -> bytes:
    """insert.lua's ARGV[1]: one array per task (see the script's header)."""
    last_time: datetime | None = None
    last_us = ""

    # Times go as decimal text: cjson reads a JSON number as a double, exact only below
    # 2^53 microseconds (year 2255), and a run_at may be as late as year 9999.
    def us(value: datetime) -> str:  # a batch's tasks mostly share their times
        nonlocal last_time, last_us
        if value is not last_time:
            last_time, last_us = value, str(to_us(value))
        return last_us

    return _dumps(
        [
            (
                t.id, t.queue, t.kind, _dumps(t.payload).decode(), t.priority, t.state,
                us(t.run_at), us(t.created_at), t.max_attempts,
                None if t.timeout is None else repr(float(t.timeout)), t.tenant, t.job_id,
                None if t.retry is None else _dumps(t.retry).decode(),
                None if t.expires_at is None else str(to_us(t.expires_at)),
                None if t.place < 0 else repr(float(t.place)),
                _dumps(t.requires).decode() if t.requires else None,
                t.trace,
            )
            for t in tasks
        ]
    )  # fmt: skip


def encode_uniques(uniques: Sequence[Unique | None]) -> bytes:
    """insert.lua's ARGV[4]: one entry per task (see the script's header)."""
    return _dumps(
        [
            None if u is None else (u.key, u.rule, int(u.while_running),
                                    None if u.until is None else to_us(u.until))
            for u in uniques
        ]
    )  # fmt: skip


def encode_shares(shares: Sequence[Share | None]) -> bytes:
    """insert.lua's ARGV[6]: one entry per task (see the script's header); the stride as
    ``repr`` text, which Lua reads back to the same double."""
    return _dumps([None if s is None else (s.key, repr(float(s.stride))) for s in shares])


def encode_job(job: Job) -> bytes:
    return _dumps([job.name, to_us(job.created_at), job.tenant, job.needs or None])


def decode_job(job_id: str, text: str) -> Job:
    name, created, tenant, *rest = _loads(text)  # jobs stored before dependencies: three
    needs = {k: tuple(v) for k, v in (rest[0] or {}).items()} if rest else {}
    return Job(job_id, name, from_us(created), tenant, needs)


def encode_worker(w: WorkerInfo) -> bytes:
    """The worker's record; ``last_seen_at`` lives in the ``wseen`` zset only."""
    return _dumps(
        [w.name, w.host, w.queues, w.capabilities, w.concurrency, w.version, to_us(w.started_at)]
    )


def decode_worker(worker_id: str, text: str, last_seen_us: int) -> WorkerInfo:
    name, host, queues, capabilities, concurrency, version, started = _loads(text)
    return WorkerInfo(
        id=worker_id,
        name=name,
        host=host,
        queues=None if queues is None else tuple(queues),
        capabilities=tuple(capabilities),
        concurrency=concurrency,
        version=version,
        started_at=from_us(started),
        last_seen_at=from_us(last_seen_us),
    )


def decode_token(fields: dict[str, str]) -> TokenRecord:
    def at(name: str) -> datetime | None:
        value = fields.get(name)
        return None if value is None else from_us(int(value))

    return TokenRecord(
        name=fields["name"],
        digest=fields["digest"],
        role=Role(fields["role"]),
        tenant=fields.get("tenant"),
        created_at=from_us(int(fields["created_at"])),
        expires_at=at("expires_at"),
        revoked_at=at("revoked_at"),
        last_used_at=at("last_used_at"),
    )


def encode_schedule(s: ScheduleRecord) -> str:
    """A schedule as the JSON object schedule_put.lua reads (its name and version)."""
    return orjson.dumps(
        {
            "id": s.id,
            "name": s.name,
            "definition": s.definition,
            "enabled": s.enabled,
            "next_run_at": _opt_us(s.next_run_at),
            "last_run_at": _opt_us(s.last_run_at),
            "last_task_id": s.last_task_id,
            "version": s.version,
            "created_at": to_us(s.created_at),
            "updated_at": to_us(s.updated_at),
        }
    ).decode()


def decode_schedule(text: str | bytes) -> ScheduleRecord:
    d = orjson.loads(text)
    return ScheduleRecord(
        d["id"], d["name"], d["definition"], d["enabled"], _opt_time(d["next_run_at"]),
        _opt_time(d["last_run_at"]), d["last_task_id"], d["version"],
        from_us(d["created_at"]), from_us(d["updated_at"]),
    )  # fmt: skip


def _opt_us(value: datetime | None) -> int | None:
    return None if value is None else to_us(value)


def _opt_time(value: int | None) -> datetime | None:
    return None if value is None else from_us(value)
