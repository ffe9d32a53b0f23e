"""Redis backend: every state change is one atomic Lua script; claims are range reads.

Layout and encoding are in :mod:`rota.backends.redis.keys`; the scripts, each with the keys
it touches in its header, are the ``.lua`` files beside this module. All keys of a store sit
under ``{NAME}:`` (``?prefix=NAME``, default ``rota``): one hash tag, one cluster slot.

Ordering. Ready tasks sit in sorted sets, one per queue and one over every queue, scored
``(100 - priority) * 2**45 + place``: priority first, then place in line (the seq, unless
the queue has fairness: common.lua), as one number. A double holds it exactly while
``seq < 2**45`` (:data:`SEQ_BOUND`, about 3.5e13 enqueues, re-queues and moves to the tail:
11 years at 100,000 a second); the scripts refuse to pass it (``StoreError``) rather than
mis-order. A claim over every queue reads the head of
the global set; a claim over some queues merges the heads of theirs. Either way it reads a
bounded range, skipping tasks past ``expires_at`` (left queued for the expiry service), and
promotes due scheduled tasks first, in the same script.

Round trips. Each verb is one call: a batch insert (up to 10,000 tasks, serialised with
orjson as one argument, payloads as already-encoded JSON text so their bytes are stored
unchanged), a claim, a batch of finishes. Inserts, re-queues and retries publish on
``{NAME}:wake``; :meth:`RedisBackend.listen_inserts` turns that into wake-ups, so a
long-polling claimer in any process hears of new work within milliseconds.

Failures. Every redis-py error becomes :class:`~rota.core.errors.StoreError`. Writes are
never retried by the client: a script whose reply was lost may have run, and running it
again could claim tasks nobody receives or report a duplicate for a task just inserted.
(redis-py's pool still replaces a connection the server closed before using it.)

Leadership. The maintenance leader holds ``{NAME}:leader`` (``SET NX PX``) for the ``hold``
the service gives (five ``sweep_interval``s: 5 s by default), renewed at each
``leader_attempt_elect``; its value carries a fencing number from ``INCR``
(:attr:`RedisBackend.leader_fence`). A dead leader's key lapses after that and another
replica takes over.

Reads that a replica may serve (listing, counts, positions, history, jobs, workers) go to
the reader endpoint when one is configured (``?reader=``, ``ROTA_REDIS_READER_URL`` or
``REDIS_READER_URL``); they may then lag the writer slightly.

Where this store differs from the memory backend: ties among equal ``run_at``
(promotion), ``lease_expires_at`` (lapsed leases) and ``started_at`` (timed runs) break by
id, not by seq; a claim promotes every due scheduled task (up to :data:`PROMOTE_MAX`), not
only those it hands out, expired ones included (the expiry service then cancels them from
``queued``); a claim that steps over :data:`SKIP_MAX` expired tasks stops there and may
return fewer than are ready; a history keeps its enqueue event and its last 1,000 others;
an inserted task is stored as enqueued (the fields a claim or a finish sets start empty).
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
import os
import socket
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import datetime
from typing import Any, cast

import orjson
from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.commands.core import AsyncScript
from redis.exceptions import NoScriptError, RedisError

from rota.backends.base import Capabilities
from rota.backends.redis.durability import warn_unless_durable
from rota.backends.redis.keys import (
    FIELDS,
    STATES,
    Keys,
    decode_event,
    decode_job,
    decode_schedule,
    decode_task,
    decode_token,
    decode_worker,
    encode_job,
    encode_schedule,
    encode_shares,
    encode_tasks,
    encode_uniques,
    encode_worker,
    enqueue_event,
    json_text,
)
from rota.backends.redis.scripts import Scripts
from rota.backends.redis.url import RedisUrl
from rota.core import dedup, wakeups
from rota.core.auth import TokenRecord
from rota.core.clock import from_us, to_us
from rota.core.dedup import Unique
from rota.core.errors import DuplicateTask, RotaError, StoreError, ValidationError
from rota.core.fairness import Share
from rota.core.models import (
    BLOCKED_AT,
    SYSTEM,
    AuditEntry,
    ClaimRequest,
    Event,
    Finish,
    InsertClaim,
    Inserted,
    Job,
    Position,
    QueueCount,
    ScheduleRecord,
    Task,
    TaskFilter,
    WorkerInfo,
)
from rota.core.states import ACTIVE_STATES, WAITING_STATES, TaskState
from rota.core.wakeups import Queues

log = logging.getLogger("rota.redis")

SEQ_BOUND = 2**45
PROMOTE_MAX = 1000  # due scheduled tasks one claim promotes at most
AGE_PAGE = 1000  # queued tasks one aging script looks at
SKIP_MAX = 10_000  # expired tasks one claim steps over at most before it gives up
LIST_BUDGET = 1000  # index entries one listing call reads at most (filters walk pages)
AUDIT_CAP = 10_000  # audit entries Redis keeps, the newest (docs/security.md)
_SEQ = Task._fields.index("seq")
_PLACE = Task._fields.index("place")
_new = tuple.__new__
_dumps = orjson.dumps


@contextlib.contextmanager
def _translated() -> Iterator[None]:
    """Every redis-py (or socket) error leaves the backend as StoreError."""
    try:
        yield
    except (RedisError, OSError) as exc:
        raise StoreError(f"Redis: {exc}") from exc


def _us(value: datetime | None) -> int | None:
    return None if value is None else to_us(value)


def _task_or_none(row: Sequence[Any] | None) -> Task | None:
    return None if row is None else decode_task(row)


def _insert_args(
    batch: list[Task],
    job: Job | None,
    uniques: Sequence[Unique | None] | None,
    shares: Sequence[Share | None] | None,
) -> list[Any]:
    """insert.lua's arguments."""
    keys: bytes | str = ""
    fair: bytes | str = ""
    now = 0
    if uniques and any(u is not None for u in uniques):
        keys, now = encode_uniques(uniques), to_us(batch[0].created_at)
    if shares and any(s is not None for s in shares):
        fair = encode_shares(shares)
    if job is None:
        return [encode_tasks(batch), "", "", keys, now, fair]
    return [encode_tasks(batch), job.id, encode_job(job), keys, now, fair]


def _inserted(batch: list[Task], reply: list[Any]) -> list[Inserted]:
    """The stored tasks from insert.lua's answer, or its refusal raised."""
    tag, *value = reply
    if tag == "task":
        raise DuplicateTask(f"task id {value[0]!r} already exists")
    if tag == "job":
        raise DuplicateTask(f"job id {value[0]!r} already exists")
    if tag == "twice":
        raise ValidationError(f"the batch names unique key {dedup.shown(value[0])!r} twice")
    if tag == "unique":
        which = f"task {value[1]!r}" if value[1] else "a task within its window"
        raise dedup.DuplicateKey(f"unique key {dedup.shown(value[0])!r} is held by {which}")
    if tag == "same":
        key, holder, rule = value
        raise dedup.DuplicateKey(
            f"unique key {dedup.shown(key)!r} is held by task {holder!r}, unchanged: "
            f"{dedup.UNCHANGED[rule]}"
        )
    seq, answered, given = int(value[0]), value[1], value[2]
    holders = {int(answered[i]) - 1: decode_task(answered[i + 1])
               for i in range(0, len(answered), 2)}  # fmt: skip
    places = {int(given[i]) - 1: float(given[i + 1]) for i in range(0, len(given), 2)}
    out = []
    for i, t in enumerate(batch):
        if i in holders:
            out.append(_new(Inserted, (holders[i], True)))
            continue
        place = places.get(i, t.place)
        if place < 0:
            place = float(seq)
        stored = _new(Task, (*t[:_SEQ], seq, *t[_SEQ + 1 : _PLACE], place,
                             *t[_PLACE + 1 :]))  # fmt: skip
        out.append(_new(Inserted, (stored, False)))
        seq += 1
    return out


def _raised(reply: Any) -> Any:
    """A pipelined command's answer, or its error raised as the backend's own."""
    if isinstance(reply, Exception):
        with _translated():
            raise reply
    return reply


class RedisBackend:
    capabilities = Capabilities(shared=True, push_wakeups=True, insert_claim=True)

    @classmethod
    def from_url(cls, url: str) -> RedisBackend:
        parsed = RedisUrl.parse(url)
        return cls(parsed.writer, prefix=parsed.prefix, reader_url=parsed.reader)

    def __init__(
        self,
        url: str = "redis://127.0.0.1:6379/0",
        *,
        prefix: str = "rota",
        reader_url: str | None = None,
    ) -> None:
        self.url = url
        self._k = Keys(prefix)
        self._writer: Redis = Redis.from_url(
            url, decode_responses=True, retry=Retry(NoBackoff(), 0)
        )
        self._reader: Redis = (
            self._writer
            if reader_url is None
            else Redis.from_url(reader_url, decode_responses=True)
        )
        self._s = Scripts(self._writer)
        self._holder = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self._lease: str | None = None
        self._listeners: list[Callable[[Queues], object]] = []
        self._listen_task: asyncio.Task[None] | None = None

    async def _run(
        self, script: AsyncScript, keys: Sequence[str], args: Iterable[Any], reader: bool = False
    ) -> Any:
        with _translated():
            return await script(keys=keys, args=args, client=self._reader if reader else None)

    async def open(self) -> None:
        with _translated():
            await self._writer.ping()
            if self._reader is not self._writer:
                await self._reader.ping()
        await warn_unless_durable(self._writer, self._where())

    def _where(self) -> str:
        kw = self._writer.connection_pool.connection_kwargs
        return f"{kw.get('host', '?')}:{kw.get('port', '?')}/{kw.get('db', 0)}"

    async def close(self) -> None:
        if self._listen_task is not None:
            self._listen_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._listen_task
            self._listen_task = None
        with contextlib.suppress(StoreError):
            await self.leader_resign()
        with _translated():
            await self._writer.aclose()
            if self._reader is not self._writer:
                await self._reader.aclose()

    # -- wake-ups and leadership -------------------------------------------------------

    async def listen_inserts(self, callback: Callable[[Queues], object]) -> None:
        """Subscribe (once per backend) to ``{NAME}:wake``; returns once subscribed."""
        self._listeners.append(callback)
        if self._listen_task is None:
            subscribed = asyncio.Event()
            self._listen_task = asyncio.create_task(self._listen(subscribed))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(subscribed.wait(), 5.0)

    async def _listen(self, subscribed: asyncio.Event) -> None:
        delay = 0.1
        while True:
            pubsub = self._writer.pubsub()
            try:
                await pubsub.subscribe(self._k.channel)
                async for message in pubsub.listen():
                    kind = message["type"]
                    if kind == "message":
                        data = message["data"]
                        text = data.decode() if isinstance(data, bytes) else str(data)
                        self._wake(wakeups.queues(text))
                    elif kind == "subscribe":
                        subscribed.set()
                        delay = 0.1
                        self._wake()  # whatever was published while we were away
            except Exception as exc:  # keep listening whatever went wrong; cancel ends it
                log.warning("Redis wake-ups lost (%s); subscribing again in %.1fs", exc, delay)
            finally:
                with contextlib.suppress(RedisError, OSError):
                    await cast(Any, pubsub).aclose()  # untyped in some redis-py versions
            await asyncio.sleep(delay)
            delay = min(delay * 2, 5.0)

    def _wake(self, queues: Queues = None) -> None:
        for callback in self._listeners:
            try:
                callback(queues)
            except Exception:
                log.exception("a wake-up callback failed")

    async def store_version(self) -> int | None:
        return None  # pub/sub pushes

    async def leader_attempt_elect(self, *, hold: float) -> bool:
        keys = [self._k.leader, self._k.fence]
        args = [self._lease or "", self._holder, max(int(hold * 1000), 1)]
        self._lease = await self._run(self._s.leader, keys, args)
        return self._lease is not None

    @property
    def leader_fence(self) -> int | None:
        """The fencing number of the lease this process holds (None when not leader)."""
        return None if self._lease is None else int(self._lease.partition(":")[0])

    async def leader_resign(self) -> None:
        held, self._lease = self._lease, None
        if held is not None:
            await self._run(self._s.resign, [self._k.leader], [held])

    # -- tasks -------------------------------------------------------------------------

    async def task_insert_many(
        self,
        tasks: Iterable[Task],
        job: Job | None = None,
        uniques: Sequence[Unique | None] | None = None,
        shares: Sequence[Share | None] | None = None,
    ) -> list[Inserted]:
        batch = list(tasks)  # drawing validates: an error here sends nothing
        if not batch and job is None:
            return []
        reply = await self._run(
            self._s.insert, self._k.standard, _insert_args(batch, job, uniques, shares)
        )
        return _inserted(batch, reply)

    async def task_insert_claim(
        self,
        tasks: Iterable[Task],
        job: Job | None,
        uniques: Sequence[Unique | None] | None,
        shares: Sequence[Share | None] | None,
        request: ClaimRequest,
    ) -> InsertClaim:
        """The scripts in one pipeline, one round trip: the claim runs right after the
        insert, whether or not the insert was refused; the insert's wake-up waits for the
        claim and goes out only for a task the claim left queued (wake_unclaimed.lua). A
        script the server lacks (after a restart or SCRIPT FLUSH) did not run; it then runs
        on its own, which loads it (an insert run so, after the claim, wakes as always)."""
        batch = list(tasks)
        args = _insert_args(batch, job, uniques, shares)
        claim_keys, claim_args = self._claim_call(request)
        wake_keys, ids = [self._k.prefix], [t.id for t in batch]
        with _translated():
            pipe = self._writer.pipeline(transaction=False)
            for script, keys, values in (
                (self._s.insert, self._k.standard, [*args, "quiet"]),
                (self._s.claim, claim_keys, claim_args),
                (self._s.wake_unclaimed, wake_keys, ids),
            ):
                pipe.execute_command("EVALSHA", script.sha, len(keys), *keys, *values)
            insert_reply, claim_reply, wake_reply = await pipe.execute(raise_on_error=False)
        if isinstance(insert_reply, NoScriptError):
            insert_reply = await self._run(self._s.insert, self._k.standard, args)
        if isinstance(claim_reply, NoScriptError):
            claim_reply = await self._run(self._s.claim, claim_keys, claim_args)
        if isinstance(wake_reply, NoScriptError):
            await self._run(self._s.wake_unclaimed, wake_keys, ids)
        try:
            claimed = [decode_task(r) for r in _raised(claim_reply)]
        except StoreError as exc:  # the insert's answer still stands: a claim may fail alone
            log.warning("a claim sent behind an insert failed: %s", exc)
            claimed = []
        try:
            inserted = _inserted(batch, _raised(insert_reply))
        except RotaError as exc:
            return InsertClaim([], claimed, exc)
        return InsertClaim(inserted, claimed)

    async def task_get(self, task_id: str) -> Task | None:
        with _translated():
            row = await _awaited(self._writer.hmget(self._k.task(task_id), list(FIELDS)))
        return None if row[0] is None else decode_task(row)

    async def task_list_canceling(self, leases: Sequence[tuple[str, int]]) -> list[tuple[str, int]]:
        if not leases:
            return []
        with _translated():
            async with self._writer.pipeline(transaction=False) as pipe:
                for task_id, _ in leases:
                    pipe.hmget(self._k.task(task_id), ["s", "lt", "cr"])
                rows = await pipe.execute()
        return [
            lease
            for lease, (state, token, flag) in zip(leases, rows, strict=True)
            if state == "running" and flag is not None and int(token or 0) == lease[1]
        ]

    async def task_list(
        self, filter: TaskFilter, *, after_seq: int | None, limit: int
    ) -> list[Task]:
        if limit <= 0:
            return []
        if filter.job_id is not None:  # a job's tasks: a batch, the narrowest index
            index = self._k.job_tasks(filter.job_id)
        elif filter.state is not None:
            index = self._k.state(filter.state)
        else:
            index = self._k.key("all")
        wanted = [
            "" if value is None else f"={value}"
            for value in (filter.queue, filter.state, filter.kind, filter.tenant, filter.job_id)
        ]
        bound = "+inf" if after_seq is None else f"({after_seq}"
        rows: list[Any] = []
        while True:
            args = [bound, limit - len(rows), LIST_BUDGET, *wanted]
            cursor, *page = await self._run(self._s.list, [self._k.prefix, index], args, True)
            rows += page
            if len(rows) >= limit or not cursor:
                return [decode_task(r) for r in rows]
            bound = cursor

    async def task_claim_many(self, request: ClaimRequest) -> list[Task]:
        if request.limit <= 0 or request.queues == ():
            return []
        rows = await self._run(self._s.claim, *self._claim_call(request))
        return [decode_task(r) for r in rows]

    def _claim_call(self, request: ClaimRequest) -> tuple[list[str], tuple[Any, ...]]:
        """claim.lua's keys and arguments for ``request``."""
        if request.queues is None:
            sources = [self._k.key("ready")]
        else:
            sources = [self._k.queue(q) for q in dict.fromkeys(request.queues)]
        args = (
            to_us(request.now), to_us(request.lease_expires_at), request.worker_id,
            request.limit, request.actor, PROMOTE_MAX, SYSTEM, SKIP_MAX,
            request.salt, _dumps(request.capabilities),
            _dumps([(x.queue, x.running_max, x.tenant_running_max, x.rate)
                    for x in request.limits]),
            _dumps(request.task_ids), *request.skip_tenants,
        )  # fmt: skip
        return [*self._k.standard, *sources], args

    async def task_heartbeat(
        self,
        task_id: str,
        lease_token: int,
        *,
        now: datetime,
        lease_expires_at: datetime,
        progress: Any = None,
    ) -> Task | None:
        kept = "" if progress is None else json_text(progress)
        args = (task_id, lease_token, to_us(lease_expires_at), kept)
        return _task_or_none(await self._run(self._s.heartbeat, self._k.standard, args))

    async def task_finish_many(self, finishes: Sequence[Finish], *, now: datetime) -> list[bool]:
        if not finishes:
            return []
        items = _dumps(
            [
                (f.task_id, f.lease_token, f.state, json_text(f.result), f.error, _us(f.run_at),
                 _us(f.expired_before), f.attempt, f.event, _us(f.finished_at), f.worker_id,
                 f.actor)
                for f in finishes
            ]
        )  # fmt: skip
        applied = await self._run(self._s.finish, self._k.standard, (items, to_us(now)))
        return [bool(a) for a in applied]

    async def task_cancel(
        self, task_id: str, *, expect: TaskState, now: datetime, actor: str
    ) -> Task | None:
        args = (task_id, expect.value, to_us(now), actor)
        return _task_or_none(await self._run(self._s.cancel, self._k.standard, args))

    async def task_cancel_request(
        self, task_id: str, lease_token: int, *, now: datetime, actor: str
    ) -> Task | None:
        args = (task_id, lease_token, to_us(now), actor)
        return _task_or_none(await self._run(self._s.cancel_request, self._k.standard, args))

    async def task_set_priority(
        self,
        task_id: str,
        priority: int,
        *,
        expect: TaskState,
        to_tail: bool,
        now: datetime,
        actor: str,
    ) -> Task | None:
        args = (task_id, priority, expect.value, "1" if to_tail else "0", to_us(now), actor)
        return _task_or_none(await self._run(self._s.set_priority, self._k.standard, args))

    async def task_move(
        self,
        task_id: str,
        run_at: datetime,
        *,
        state: TaskState,
        expect: TaskState,
        now: datetime,
        actor: str,
    ) -> Task | None:
        args = (task_id, to_us(run_at), state.value, expect.value, to_us(now), actor,
                f"run at {run_at.isoformat()}")  # fmt: skip
        return _task_or_none(await self._run(self._s.move, self._k.standard, args))

    async def task_requeue(
        self, task_id: str, *, expect: TaskState, now: datetime, actor: str
    ) -> Task | None:
        args = (task_id, expect.value, to_us(now), actor)
        return _task_or_none(await self._run(self._s.requeue, self._k.standard, args))

    async def task_promote_due(self, *, now: datetime, limit: int) -> int:
        if limit <= 0:
            return 0
        args = (to_us(now), limit, SYSTEM)
        return int(await self._run(self._s.promote, self._k.standard, args))

    async def task_expire_waiting(self, *, now: datetime, limit: int, error: str) -> int:
        if limit <= 0:
            return 0
        args = (to_us(now), limit, error, SYSTEM)
        return int(await self._run(self._s.expire, self._k.standard, args))

    async def task_delete_many(self, task_ids: Sequence[str]) -> int:
        if not task_ids:
            return 0
        return int(await self._run(self._s.delete, self._k.standard, task_ids))

    async def _rows(self, index: str, low: str, high: str, limit: int) -> list[Task]:
        if limit <= 0:
            return []
        keys = [self._k.prefix, self._k.key(index)]
        rows = await self._run(self._s.rows, keys, (low, high, limit))
        return [decode_task(r) for r in rows]

    async def task_list_final(self, *, state: TaskState, after_seq: int, limit: int) -> list[Task]:
        return await self._rows(f"st:{state.value}", f"({after_seq}", "+inf", limit)

    async def task_list_lapsed(self, *, now: datetime, limit: int) -> list[Task]:
        return await self._rows("leases", "-inf", f"({to_us(now)}", limit)

    async def task_list_timed(self, *, limit: int) -> list[Task]:
        return await self._rows("timed", "-inf", "+inf", limit)

    async def task_position(self, task_id: str) -> Position | None:
        found = await self._run(self._s.position, [self._k.prefix], [task_id], True)
        return None if found is None else Position(int(found[0]), int(found[1]))

    async def task_list_blocked(self, *, limit: int) -> list[Task]:
        # BLOCKED_AT's microseconds are past a double's exact range; the scheduled zset holds
        # it rounded, and every other run_at is far below it
        return await self._rows("sched", str(to_us(BLOCKED_AT) - 10**12), "+inf", limit)

    async def task_count_requiring(self) -> list[tuple[str, tuple[str, ...], int]]:
        with _translated():
            raw = await _awaited(self._reader.hgetall(self._k.key("needs")))
        found = []
        for field, n in cast(dict[str, str], raw).items():
            queue, _, needs = field.rpartition("|")
            found.append((queue, tuple(orjson.loads(needs)), int(n)))
        return sorted(found)

    async def task_count_waiting(self, queue: str) -> int:
        return sum(
            c.count
            for c in await self.task_count_by_queue()
            if c.queue == queue and c.state in WAITING_STATES
        )

    async def task_age(self, queue: str, *, cap: int, ready_before: datetime) -> int:
        raised, start = 0, "-inf"
        while True:  # a page at a time: one script never holds Redis long
            args = (queue, cap, to_us(ready_before), start, AGE_PAGE)
            done, seen, last = await self._run(self._s.age, self._k.standard, args)
            raised += int(done)
            if int(seen) < AGE_PAGE:
                return raised
            start = "(" + str(last)

    async def task_count_by_queue(self, tenant: str | None = None) -> list[QueueCount]:
        key = self._k.key("counts") if tenant is None else self._k.tenant_counts(tenant)
        with _translated():
            raw = await _awaited(self._reader.hgetall(key))
        counts = []
        for field, n in cast(dict[str, str], raw).items():
            state, priority, queue = field.split("|", 2)
            counts.append(QueueCount(queue, STATES[state], int(priority), int(n)))
        counts.sort(key=lambda c: (c.queue, c.state, c.priority))
        return counts

    async def task_count_active(self) -> list[QueueCount]:
        """The same counters hash (one field per state, priority and queue), filtered."""
        return [c for c in await self.task_count_by_queue() if c.state in ACTIVE_STATES]

    async def task_next_run_at(self) -> datetime | None:
        with _translated():
            head = await self._writer.zrange(self._k.key("sched"), 0, 0, withscores=True)
        return from_us(int(head[0][1])) if head else None

    # -- events and jobs ---------------------------------------------------------------

    async def event_list(self, task_id: str) -> list[Event]:
        with _translated():
            async with self._reader.pipeline(transaction=True) as pipe:
                pipe.hmget(self._k.task(task_id), ["ca", "es"])
                pipe.lrange(self._k.history(task_id), 0, -1)
                (created, es), entries = await pipe.execute()
        if created is None:
            return []
        return [enqueue_event(task_id, created, es), *(decode_event(task_id, e) for e in entries)]

    async def job_get(self, job_id: str) -> Job | None:
        with _translated():
            record = await _awaited(self._reader.hget(self._k.key("jobs"), job_id))
        return None if record is None else decode_job(job_id, record)

    async def job_count(self, job_id: str) -> dict[TaskState, int]:
        with _translated():
            raw = await _awaited(self._reader.hgetall(self._k.job_counts(job_id)))
        return {STATES[state]: int(n) for state, n in cast(dict[str, str], raw).items()}

    # -- workers -----------------------------------------------------------------------

    async def worker_upsert(self, worker: WorkerInfo) -> None:
        with _translated():
            async with self._writer.pipeline(transaction=True) as pipe:
                pipe.hset(self._k.workers, worker.id, encode_worker(worker).decode())
                pipe.zadd(self._k.wseen, {worker.id: to_us(worker.last_seen_at)})
                await pipe.execute()

    async def worker_touch(self, worker_ids: Sequence[str], *, now: datetime) -> None:
        if not worker_ids:
            return
        seen = to_us(now)
        with _translated():  # XX: only workers already registered
            await self._writer.zadd(self._k.wseen, dict.fromkeys(worker_ids, seen), xx=True)

    async def worker_list(self) -> list[WorkerInfo]:
        with _translated():
            async with self._reader.pipeline(transaction=True) as pipe:
                pipe.hgetall(self._k.workers)
                pipe.zrange(self._k.wseen, 0, -1, withscores=True)
                records, seen = await pipe.execute()
        last_seen = {worker_id: int(score) for worker_id, score in seen}
        workers = [
            decode_worker(worker_id, record, last_seen[worker_id])
            for worker_id, record in records.items()
            if worker_id in last_seen
        ]
        workers.sort(key=lambda w: (w.started_at, w.id))
        return workers

    async def worker_delete_silent(self, *, before: datetime) -> int:
        keys = [self._k.workers, self._k.wseen]
        return int(await self._run(self._s.reap_workers, keys, [to_us(before)]))

    # -- tokens ----------------------------------------------------------------------------

    async def token_insert(self, token: TokenRecord) -> bool:
        keys = [self._k.prefix, self._k.key("tokdig")]
        expires = "" if token.expires_at is None else to_us(token.expires_at)
        args = (token.name, token.digest, token.role.value, token.tenant or "",
                to_us(token.created_at), expires)  # fmt: skip
        return bool(await self._run(self._s.token_insert, keys, args))

    async def token_get(self, digest: str) -> TokenRecord | None:
        with _translated():
            name = await _awaited(self._reader.hget(self._k.key("tokdig"), digest))
            if name is None:
                return None
            fields = await _awaited(self._reader.hgetall(self._k.key("tok:" + name)))
        return decode_token(fields) if fields else None

    async def token_list(self) -> list[TokenRecord]:
        with _translated():
            names = await _awaited(self._reader.hvals(self._k.key("tokdig")))
            async with self._reader.pipeline(transaction=False) as pipe:
                for name in names:
                    pipe.hgetall(self._k.key("tok:" + name))
                rows = await pipe.execute()
        tokens = [decode_token(fields) for fields in rows if fields]
        return sorted(tokens, key=lambda t: (t.created_at, t.name))

    async def token_revoke(self, name: str, *, now: datetime) -> bool:
        args = (name, "revoked_at", to_us(now), "1")
        return bool(await self._run(self._s.token_set, [self._k.prefix], args))

    async def token_touch(self, name: str, *, now: datetime) -> None:
        await self._run(
            self._s.token_set, [self._k.prefix], (name, "last_used_at", to_us(now), "0")
        )

    # -- controls --------------------------------------------------------------------------

    async def control_list(self) -> dict[str, str]:
        with _translated():
            found: dict[str, str] = await _awaited(self._reader.hgetall(self._k.key("controls")))
        return found

    async def control_set(self, key: str, value: str | None) -> None:
        with _translated():
            if value is None:
                await _awaited(self._writer.hdel(self._k.key("controls"), key))
            else:
                await _awaited(self._writer.hset(self._k.key("controls"), key, value))

    # -- audit -----------------------------------------------------------------------------

    async def audit_append(self, entry: AuditEntry) -> None:
        fields = [to_us(entry.at), entry.actor, entry.action, entry.target, entry.reason,
                  entry.detail]  # fmt: skip
        keys = [self._k.key("audit"), self._k.key("auditseq")]
        await self._run(self._s.audit_append, keys, [orjson.dumps(fields), AUDIT_CAP])

    async def audit_list(
        self, *, limit: int, before: int | None, action: str | None, actor: str | None
    ) -> list[AuditEntry]:
        """The log is capped (:data:`AUDIT_CAP`), so it is read whole and filtered here."""
        with _translated():
            raw = await _awaited(self._reader.lrange(self._k.key("audit"), 0, AUDIT_CAP - 1))
        found: list[AuditEntry] = []
        for item in raw:
            seq_text, _, body = item.partition("\t")
            seq = int(seq_text)
            if before is not None and seq >= before:
                continue
            at, who, what, target, reason, detail = orjson.loads(body)
            if (action is None or what == action) and (actor is None or who == actor):
                found.append(AuditEntry(seq, from_us(at), who, what, target, reason, detail))
                if len(found) == limit:
                    break
        return found

    # -- schedules -------------------------------------------------------------------------

    def _schedule_keys(self) -> list[str]:
        return [self._k.key("schedules"), self._k.key("sdue"), self._k.key("snames")]

    async def _schedule_put(self, schedule: ScheduleRecord, expect: int | None) -> bool:
        s = schedule
        due = "" if not s.enabled or s.next_run_at is None else to_us(s.next_run_at)
        args = (s.id, s.name, encode_schedule(s), "" if expect is None else expect, due)
        return bool(await self._run(self._s.schedule_put, self._schedule_keys(), args))

    async def schedule_insert(self, schedule: ScheduleRecord) -> bool:
        return await self._schedule_put(schedule, None)

    async def schedule_update(self, schedule: ScheduleRecord, *, expect_version: int) -> bool:
        return await self._schedule_put(schedule, expect_version)

    async def schedule_get(self, schedule_id: str) -> ScheduleRecord | None:
        with _translated():
            raw = await _awaited(self._writer.hget(self._k.key("schedules"), schedule_id))
        return None if raw is None else decode_schedule(raw)

    async def schedule_list(self) -> list[ScheduleRecord]:
        with _translated():
            raw = await _awaited(self._writer.hvals(self._k.key("schedules")))
        return sorted((decode_schedule(r) for r in raw), key=lambda s: s.name)

    async def schedule_list_due(self, *, now: datetime, limit: int) -> list[ScheduleRecord]:
        with _translated():
            ids = await self._writer.zrangebyscore(
                self._k.key("sdue"), "-inf", to_us(now), start=0, num=limit
            )
            if not ids:
                return []
            raw = await _awaited(self._writer.hmget(self._k.key("schedules"), cast(list[str], ids)))
        return [decode_schedule(r) for r in raw if r is not None]

    async def schedule_delete(self, schedule_id: str) -> bool:
        keys, args = self._schedule_keys(), (schedule_id,)
        return bool(await self._run(self._s.schedule_delete, keys, args))


async def _awaited(result: Any) -> Any:
    """redis-py types a command as sync-or-async (differently across its versions); on the
    asyncio client it is always awaitable."""
    assert inspect.isawaitable(result)
    return await result
