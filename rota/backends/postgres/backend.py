"""PostgreSQL backend: many API replicas and many workers on one database.

Claims take ``FOR UPDATE SKIP LOCKED`` batches through a partial index that is exactly the
ordering contract, so concurrent claimers never wait on each other and never share a row.
Every verb is one statement where it can be (CTEs carry the event rows along), so a claim
or a batch of finishes is one round trip; a batch insert is one streamed ``COPY``. A
success stores no event rows: the task row holds them (see the ``rota_history`` view).
Inserts ``NOTIFY`` once per batch (adding ``'s'`` when a task was scheduled for later);
``listen_inserts`` turns those into wake-ups for long-polling claimers in every replica,
which promote due tasks before they claim only after an ``'s'``.
The maintenance leader is whoever holds a session advisory lock.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
from collections.abc import AsyncIterator, Callable, Iterable, Iterator, Sequence
from dataclasses import asdict, fields
from datetime import datetime
from typing import Any

import orjson
import psycopg
from psycopg import errors as pg_errors
from psycopg.types.json import set_json_dumps, set_json_loads
from psycopg_pool import AsyncConnectionPool, PoolTimeout

from rota.backends.base import Capabilities
from rota.backends.postgres import migrate
from rota.backends.postgres.claims import Claims
from rota.backends.postgres.copyrows import RowWriter
from rota.backends.postgres.decode import PLACE, REQUIRES, SEQ, TEXT, state_of, to_task
from rota.backends.postgres.listing import list_query
from rota.backends.postgres.queries import Q
from rota.backends.postgres.url import PgUrl
from rota.core import dedup, fairness, limits
from rota.core.auth import Role, TokenRecord
from rota.core.dedup import Unique
from rota.core.errors import DuplicateTask, SchemaMismatch, StoreError, ValidationError
from rota.core.fairness import Share
from rota.core.models import (
    BLOCKED_AT,
    AuditEntry,
    ClaimRequest,
    Event,
    Finish,
    Inserted,
    Job,
    Position,
    QueueCount,
    ScheduleRecord,
    Task,
    TaskFilter,
    WorkerInfo,
)
from rota.core.states import WAITING_STATES, TaskState

log = logging.getLogger("rota.postgres")
COPY_FROM = 50  # batches this large go in by COPY
COPY_CHUNK = 100  # rows per write: the server gets them as they are made
SEQ_BLOCK = 1000  # seqs one nextval reserves (the sequence's INCREMENT, migration 0004)
assert limits.MAX_BATCH <= SEQ_BLOCK, "a batch must fit in one block of seqs"


def _any_scheduled(items: Iterable[Task] | Iterable[Finish]) -> bool:
    # A set of the states, not any(t.state == TaskState.SCHEDULED ...): looking an Enum
    # member up costs 150 ns, a quarter of a millisecond per batch of 1,000.
    return TaskState.SCHEDULED in set(map(state_of, items))


def _with_seq(task: Task, seq: int) -> Task:
    """``task.evolve(seq=seq)``, and its seq as its place unless fairness gave it one;
    several times faster (it runs once per inserted row)."""
    place = task.place
    if place < 0:
        place = float(seq)
    return tuple.__new__(
        Task, (*task[:SEQ], seq, *task[SEQ + 1 : PLACE], place, task[REQUIRES])
    )  # (trace sits before place: it is kept)


def _job_row(job: Job) -> tuple[Any, ...]:
    return (job.id, job.name, job.tenant, job.created_at, _json(job.needs) if job.needs else None)


def _array(values: tuple[str, ...]) -> str | None:
    """A text[] element of an array of arrays, as the array literal (unnest keeps it whole)."""
    return "{" + ",".join(values) + "}" if values else None


def _json(value: Any) -> str | None:
    return None if value is None else orjson.dumps(value).decode()


def _finish_item(f: Finish) -> dict[str, Any]:
    """One finish as JSON; keys left out read as NULL (a plain success is three keys)."""
    item: dict[str, Any] = {
        "id": f.task_id,
        "token": f.lease_token,
        "state": TEXT[f.state],
        "event": f.event,
    }
    if f.result is not None:
        item["result"] = f.result
    if f.error is not None:
        item["error"] = f.error
    if f.run_at is not None:
        item["run_at"] = f.run_at
    if f.expired_before is not None:
        item["expired_before"] = f.expired_before
    if f.attempt is not None:
        item["attempt"] = f.attempt
    if f.worker_id is not None:
        item["worker"] = f.worker_id
    if f.finished_at is not None:
        item["finished_at"] = f.finished_at
    if f.actor is not None:
        item["actor"] = f.actor
    return item


class PostgresBackend:
    capabilities = Capabilities(shared=True, push_wakeups=True)

    @classmethod
    def from_url(cls, url: str) -> PostgresBackend:
        return cls(url)

    def __init__(
        self, url: str | PgUrl, *, pool_size: int = 10, acquire_timeout: float = 1.0
    ) -> None:
        self.url = url if isinstance(url, PgUrl) else PgUrl.parse(url)
        # Inserts are announced on it by the table's trigger (rota_wake_claimers), which
        # names the channel the same way.
        self.channel = f"rota_{self.url.schema}"
        # While the database is down a request waits this long for a connection, then the
        # API answers 503: promptly, instead of holding the caller until it comes back.
        self._acquire_timeout = acquire_timeout
        self._pool = AsyncConnectionPool(
            self.url.conninfo,
            min_size=1,
            max_size=pool_size,
            kwargs={"autocommit": True},
            configure=self._configure,
            open=False,
        )
        self._listeners: list[Callable[[], None]] = []
        self._listen_task: asyncio.Task[None] | None = None
        # the claim verb, and what claims remember (promote_at, wakes, whether LISTENing)
        self._claims = Claims(self._conn, durable=self.url.durable_claims)
        self._leader: psycopg.AsyncConnection[Any] | None = None

    async def _configure(self, conn: psycopg.AsyncConnection[Any]) -> None:
        set_json_loads(orjson.loads, conn)
        set_json_dumps(orjson.dumps, conn)
        # One round trip (statements without parameters go as one simple query).
        # enable_bitmapscan: right after a large insert the statistics still say "few ready
        # rows", and the planner would bitmap-scan and sort the whole ready set on every
        # claim instead of walking the ordered claim index; rota's queries never need one.
        # jit: rota's statements are short; a plan whose estimate crosses jit_above_cost (a
        # listing's per-priority scans) spent ~13 ms compiling to run in 1.
        # random_page_cost: a claim's statement is prepared and its generic plan kept for
        # the connection's life. Made while the table was empty (a worker waiting for work),
        # at the default 4 that plan found the picked rows again by reading the whole table
        # instead of by ctid, and a burst that came later drained at half speed until
        # autovacuum's ANALYZE threw the plan away (100,000 tasks after 30 s idle: 6,774-
        # 13,500 /s; at 1.1, 19,270-20,224). 1.1 is the usual value where the data is in
        # memory or on SSD, as a queue's hot rows are; the dashboard's listings got no
        # slower (by kind, by tenant: 60 ms to 20 ms on 300,000 tasks).
        await conn.execute(
            f"SET search_path TO \"{self.url.schema}\"; SET TIME ZONE 'UTC'; "
            "SET enable_bitmapscan = off; SET jit = off; SET random_page_cost = 1.1"
        )

    @contextlib.asynccontextmanager
    async def _conn(self) -> AsyncIterator[psycopg.AsyncConnection[Any]]:
        """A pooled connection; driver errors leave here as rota's errors."""
        try:
            async with self._pool.connection(timeout=self._acquire_timeout) as conn:
                yield conn
        except pg_errors.UniqueViolation:
            raise
        except (psycopg.Error, PoolTimeout, OSError) as exc:
            raise StoreError(f"PostgreSQL: {exc}") from exc

    async def open(self) -> None:
        try:
            await self._pool.open(wait=True, timeout=10)
        except (psycopg.Error, PoolTimeout, OSError) as exc:
            raise StoreError(f"PostgreSQL at {self.url.conninfo}: {exc}") from exc
        await self._check_schema()

    async def _check_schema(self) -> None:
        async with self._conn() as conn:
            try:
                row = await (await conn.execute(Q["schema_version"])).fetchone()
            except pg_errors.UndefinedTable:
                row = None
        found = None if row is None else row[0]
        head = migrate.HEAD
        if found == head:
            return
        await self.close()
        if found is None or found in migrate.known_revisions():
            raise SchemaMismatch(
                f"schema {self.url.schema!r} is at {found or 'nothing'}, this rota needs {head}: "
                "run `rota db upgrade` (with the same ROTA_DATABASE_URL)"
            )
        raise SchemaMismatch(
            f"schema {self.url.schema!r} is at {found}, newer than this rota knows ({head}): "
            "upgrade rota"
        )

    async def close(self) -> None:
        if self._listen_task is not None:
            self._listen_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._listen_task
            self._listen_task = None
        await self.leader_resign()
        await self._pool.close()

    # -- wake-ups and leadership -------------------------------------------------------

    async def listen_inserts(self, callback: Callable[[], None]) -> None:
        self._listeners.append(callback)
        if self._listen_task is None:
            self._listen_task = asyncio.create_task(self._listen())

    async def _listen(self) -> None:
        delay = 0.1
        while True:
            try:
                conn = await psycopg.AsyncConnection.connect(self.url.conninfo, autocommit=True)
                async with conn:
                    await conn.execute(f"LISTEN {self.channel}")
                    delay = 0.1
                    self._claims.listening = True
                    self._wake()  # anything inserted while we were not listening
                    async for note in conn.notifies():
                        # '' announces ready tasks: claim, no need to promote first. 's'
                        # (migration 0020): a task was scheduled, maybe sooner than the
                        # next promotion this process planned.
                        self._wake(scheduled=note.payload != "")
            except (psycopg.Error, OSError) as exc:
                self._claims.listening = False
                log.warning("LISTEN connection lost (%s); reconnecting in %.1fs", exc, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)
            finally:
                self._claims.listening = False

    def _wake(self, *, scheduled: bool = True) -> None:
        if scheduled:
            self._forget_promote_at()
        for callback in self._listeners:
            callback()

    def _forget_promote_at(self) -> None:
        self._claims.forget_promote_at()

    async def store_version(self) -> int | None:
        return None  # LISTEN/NOTIFY pushes

    async def leader_attempt_elect(self, *, hold: float) -> bool:
        """Hold (or take) the session advisory lock; True while this process is leader."""
        if self._leader is not None:
            try:
                await self._leader.execute("SELECT 1")
                return True
            except (psycopg.Error, OSError):
                await self.leader_resign()
        try:
            conn = await psycopg.AsyncConnection.connect(self.url.conninfo, autocommit=True)
        except (psycopg.Error, OSError):
            return False
        row = await (await conn.execute(Q["try_lead"], [self.channel])).fetchone()
        if row is not None and row[0]:
            self._leader = conn
            return True
        await conn.close()
        return False

    async def leader_resign(self) -> None:
        if self._leader is not None:
            with contextlib.suppress(psycopg.Error, OSError):
                await self._leader.close()
            self._leader = None

    # -- tasks -------------------------------------------------------------------------

    async def task_insert_many(
        self,
        tasks: Iterable[Task],
        job: Job | None = None,
        uniques: Sequence[Unique | None] | None = None,
        shares: Sequence[Share | None] | None = None,
    ) -> list[Inserted]:
        """One statement for a few tasks; text ``COPY`` for a batch, streamed as the tasks
        are drawn, so PostgreSQL stores the first rows while later ones are still checked.
        Tasks with unique keys go in one transaction that holds their keys' locks; tasks
        of fair queues in one that holds their queues' fairness locks (_insert_fair)."""
        if uniques and any(u is not None for u in uniques):
            batch = list(tasks)
            try:
                return await self._insert_unique(batch, job, uniques, shares)
            except pg_errors.UniqueViolation as exc:
                raise await self._duplicate(batch, job, exc) from exc
        if shares and any(s is not None for s in shares):
            batch = list(tasks)
            try:
                placed = await self._insert_fair(batch, job, shares)
            except pg_errors.UniqueViolation as exc:
                raise await self._duplicate(batch, job, exc) from exc
            if _any_scheduled(placed):
                self._forget_promote_at()
            return [Inserted(t) for t in placed]
        rest = iter(tasks)
        head = list(itertools.islice(rest, COPY_FROM))
        if not head:
            return []  # no statement: an insert of no rows would still fire the wake-up
        drawn: list[Task] = []  # what the COPY has drawn, to name a duplicate
        try:
            if job is None and len(head) == 1:
                stored = [await self._insert_one(head[0])]
            elif job is None and len(head) < COPY_FROM:
                stored = await self._insert_statement(head)
            else:
                stored = await self._insert_copy(itertools.chain(head, rest), job, drawn)
        except pg_errors.UniqueViolation as exc:
            raise await self._duplicate(drawn or head, job, exc) from exc
        if _any_scheduled(stored):
            self._forget_promote_at()  # the NOTIFY tells the other replicas
        return [Inserted(t) for t in stored]

    async def _insert_unique(
        self,
        tasks: list[Task],
        job: Job | None,
        uniques: Sequence[Unique | None],
        shares: Sequence[Share | None] | None,
    ) -> list[Inserted]:
        """Lock the batch's keys (sorted: no two submitters wait on each other), read their
        holders, plan (rota.core.dedup), give the tasks that go in their fair places, then
        apply it, all in one transaction."""
        keys = sorted({u.key for u in uniques if u is not None})
        now = tasks[0].created_at
        async with self._conn() as conn, conn.transaction():
            for key in keys:
                await conn.execute(Q["unique_lock"], (key,))
            rows = await (await conn.execute(Q["get_uniques"], (keys,))).fetchall()
            stored = {
                r[0]: dedup.Held(None if r[4] is None else to_task(r[4:]), r[2], r[3]) for r in rows
            }
            steps = dedup.plan(tasks, uniques, stored, now)
            passes = None
            if shares:  # the tasks answered with a holder take no place
                going = [s if st.holder is None or st.action == "replace" else None
                         for s, st in zip(shares, steps, strict=True)]  # fmt: skip
                async with conn.pipeline():
                    tasks, passes = await self._fair_read(conn, tasks, going)
            if job is not None:
                await conn.execute(Q["insert_job"], _job_row(job))
            out = []
            for task, step, unique in zip(tasks, steps, uniques, strict=True):
                holder = step.holder
                if holder is not None and step.action != "replace":
                    out.append(Inserted(await self._keep(conn, step, holder, task), True))
                    continue
                if holder is not None and holder.state in WAITING_STATES:
                    replaced = f"replaced by {task.id}"
                    await self._change_on(conn, "cancel", holder.id, holder.state, now, None,
                                          kind="canceled", message=replaced)  # fmt: skip
                row = await (await conn.execute(Q["insert_one"], self._one(task))).fetchone()
                assert row is not None
                if unique is not None:
                    args = (unique.key, task.id, unique.while_running, unique.until)
                    await conn.execute(Q["put_unique"], args)
                out.append(Inserted(_with_seq(task, row[0])))
            if passes is not None:
                await conn.execute(Q["fair_put"], passes)
        if _any_scheduled(r.task for r in out):
            self._forget_promote_at()
        return out

    async def _keep(
        self, conn: psycopg.AsyncConnection[Any], step: dedup.Step, holder: Task, task: Task
    ) -> Task:
        """The holder an insert answers with, changed as its step says (or as it now is,
        when a worker took it meanwhile)."""
        now, changed = task.created_at, None
        if step.action == "update_payload":
            payload = orjson.dumps(task.payload).decode()
            changed = await self._change_on(conn, "set_payload", holder.id, holder.state,
                                            now, None, kind="payload_updated",
                                            payload=payload)  # fmt: skip
        elif step.action == "raise_priority" and task.priority > holder.priority:
            changed = await self._change_on(conn, "set_priority", holder.id, holder.state, now,
                                            None, kind="priority_changed", to_tail=False,
                                            priority=task.priority, place=None,
                                            message=f"priority {task.priority}")  # fmt: skip
        elif step.change is not None:
            changed = await self._update(conn, step.change, holder, now)
        else:
            return holder
        if changed is None:
            row = await (await conn.execute(Q["get_task"], (holder.id,))).fetchone()
            return holder if row is None else to_task(row)
        return changed

    async def _update(
        self, conn: psycopg.AsyncConnection[Any], change: dedup.Change, holder: Task, now: datetime
    ) -> Task | None:
        """A waiting holder takes what an update rule changes (None: it left the state the
        insert read; not possible while the key's lock is held, but checked as the others)."""
        changed: Task | None = holder
        if change.payload is not None:
            payload = orjson.dumps(change.payload).decode()
            changed = await self._change_on(conn, "set_payload", holder.id, holder.state, now,
                                            None, kind="payload_updated",
                                            payload=payload)  # fmt: skip
        if changed is not None and (change.priority is not None or change.place is not None):
            priority = holder.priority if change.priority is None else change.priority
            changed = await self._change_on(conn, "set_priority", holder.id, holder.state, now,
                                            None, kind="priority_changed", to_tail=False,
                                            priority=priority, place=change.place,
                                            message=change.message(holder))  # fmt: skip
        return changed

    async def _insert_fair(
        self, tasks: list[Task], job: Job | None, shares: Sequence[Share | None]
    ) -> list[Task]:
        """Fair places given inside the insert. A task, or a small batch, is one statement
        (insert_one_fair, insert_tasks_fair): the SQL function rota_fair_places takes the
        queues' fairness locks, reads and moves the passes and gives the places before the
        rows go in, and the locks hold until the statement commits. A batch with a job, or
        one for COPY, takes two round trips and one commit: BEGIN, the fairness locks and
        reads in one pipeline sync; the rows, the new passes and COMMIT in the next. BEGIN
        and COMMIT are plain statements there: psycopg's transaction block costs a third of
        a millisecond more in a pipeline. Should anything fail (a taken id: with the last
        sync), the pool's connection block rolls the transaction back."""
        if job is None and len(tasks) == 1:
            share = shares[0]
            assert share is not None
            params = self._one(tasks[0])
            params["key"], params["stride"] = share
            async with self._conn() as conn:
                row = await (await conn.execute(Q["insert_one_fair"], params)).fetchone()
            assert row is not None
            return [_with_seq(tasks[0]._replace(place=row[1]), row[0])]
        if job is None and len(tasks) < COPY_FROM:
            params = self._many(tasks)
            params["keys"] = [None if s is None else s.key for s in shares]
            params["strides"] = [None if s is None else s.stride for s in shares]
            async with self._conn() as conn:
                rows = await (await conn.execute(Q["insert_tasks_fair"], params)).fetchall()
            stored = {r[0]: r[1:] for r in rows}
            out = []
            for t in tasks:
                seq, place = stored[t.id]
                out.append(_with_seq(t._replace(place=place), seq))
            return out
        async with self._conn() as conn:
            async with conn.pipeline():
                await conn.execute("BEGIN")
                tasks, passes = await self._fair_read(conn, tasks, shares)
            if job is not None:
                await conn.execute(Q["insert_job"], _job_row(job))
            stored_rows = await self._copy(conn, iter(tasks), [])
            async with conn.pipeline():
                await conn.execute(Q["fair_put"], passes)
                await conn.execute("COMMIT")
            return stored_rows

    async def _fair_read(
        self,
        conn: psycopg.AsyncConnection[Any],
        tasks: list[Task],
        shares: Sequence[Share | None],
    ) -> tuple[list[Task], tuple[list[str], list[str], list[float]]]:
        """Inside the caller's transaction and pipeline: lock each fair queue's counters
        (until the transaction ends), read its keys' passes and its ready head's place (one
        sync for every queue), and give the tasks with a share their places
        (rota.core.fairness.places). The tasks, and fair_put's parameters."""
        groups = fairness.by_queue([t.queue for t in tasks], shares)
        reads = []
        for queue, members in groups:
            # the lock on its own, first: the read's snapshot then sees what the last
            # holder committed
            await conn.execute(Q["fair_lock"], (queue,))
            keys = sorted({share.key for _, share in members} | {fairness.CLOCK})
            reads.append((keys, await conn.execute(Q["fair_read"], {"queue": queue, "keys": keys})))
        placed = list(tasks)
        put: tuple[list[str], list[str], list[float]] = ([], [], [])
        for (queue, members), (keys, cur) in zip(groups, reads, strict=True):
            counters: dict[str, float] = {}
            head = None
            for key, value in await cur.fetchall():
                if key is None:
                    head = value
                else:
                    counters[key] = value
            given = fairness.places(counters, head, [share for _, share in members])
            for (i, _), place in zip(members, given, strict=True):
                placed[i] = placed[i]._replace(place=place)
            put[0].extend([queue] * len(keys))
            put[1].extend(keys)
            put[2].extend(counters[k] for k in keys)
        return placed, put

    async def _insert_one(self, task: Task) -> Task:
        async with self._conn() as conn:
            row = await (await conn.execute(Q["insert_one"], self._one(task))).fetchone()
        assert row is not None
        return _with_seq(task, row[0])

    @staticmethod
    def _one(task: Task) -> dict[str, Any]:
        """insert_one's parameters."""
        return {
            "id": task.id,
            "queue": task.queue,
            "kind": task.kind,
            "payload": orjson.dumps(task.payload).decode(),
            "priority": task.priority,
            "state": task.state.value,
            "max_attempts": task.max_attempts,
            "timeout": task.timeout,
            "tenant": task.tenant,
            "job_id": task.job_id,
            "run_at": task.run_at,
            "created_at": task.created_at,
            "retry": _json(task.retry),
            "expires_at": task.expires_at,
            "place": None if task.place < 0 else task.place,
            "requires": list(task.requires) or None,
            "trace": task.trace,
        }

    async def _insert_statement(self, tasks: Sequence[Task]) -> list[Task]:
        async with self._conn() as conn:
            rows = await (await conn.execute(Q["insert_tasks"], self._many(tasks))).fetchall()
        seqs = dict(rows)
        return [_with_seq(t, seqs[t.id]) for t in tasks]

    @staticmethod
    def _many(tasks: Sequence[Task]) -> dict[str, Any]:
        """insert_tasks' parameters."""
        return {
            "ids": [t.id for t in tasks],
            "queues": [t.queue for t in tasks],
            "kinds": [t.kind for t in tasks],
            "payloads": [orjson.dumps(t.payload).decode() for t in tasks],
            "priorities": [t.priority for t in tasks],
            "states": [t.state.value for t in tasks],
            "max_attempts": [t.max_attempts for t in tasks],
            "timeouts": [t.timeout for t in tasks],
            "tenants": [t.tenant for t in tasks],
            "job_ids": [t.job_id for t in tasks],
            "run_ats": [t.run_at for t in tasks],
            "created_ats": [t.created_at for t in tasks],
            "retries": [_json(t.retry) for t in tasks],
            "expires": [t.expires_at for t in tasks],
            "places": [None if t.place < 0 else t.place for t in tasks],
            "requires": [_array(t.requires) for t in tasks],
            "traces": [t.trace for t in tasks],
        }

    async def _insert_copy(
        self, tasks: Iterator[Task], job: Job | None, drawn: list[Task]
    ) -> list[Task]:
        """Rows go in by text COPY, numbered from one block of seqs drawn beforehand. The COPY
        is its own transaction (and sends its wake-up by the table's trigger); only a job's
        row needs one around both."""
        async with self._conn() as conn:
            if job is None:
                return await self._copy(conn, tasks, drawn)
            async with conn.transaction():
                await conn.execute(Q["insert_job"], _job_row(job))
                return await self._copy(conn, tasks, drawn)

    async def _copy(
        self, conn: psycopg.AsyncConnection[Any], tasks: Iterator[Task], drawn: list[Task]
    ) -> list[Task]:
        row = await (await conn.execute(Q["seq_block"])).fetchone()
        assert row is not None
        first = row[0]
        rows = RowWriter()
        async with conn.cursor().copy(Q["copy_tasks"]) as copy:
            lines: list[str] = []
            # Each task gets its seq as it is drawn: the caller's copy is made at once, so
            # the seq-less one dies young (fewer live objects, less garbage collection:
            # about 6% of a batch).
            for seq, t in zip(range(first, first + SEQ_BLOCK), tasks, strict=False):
                t = _with_seq(t, seq)
                drawn.append(t)
                lines.append(rows.line(t, seq))
                if len(lines) == COPY_CHUNK:
                    await copy.write("".join(lines))
                    lines.clear()
            await copy.write("".join(lines))
            if next(tasks, None) is not None:
                raise ValidationError(f"at most {limits.MAX_BATCH} tasks per insert")
        return drawn

    async def _duplicate(
        self, tasks: Sequence[Task], job: Job | None, exc: pg_errors.UniqueViolation
    ) -> DuplicateTask:
        if job is not None and exc.diag.constraint_name == "rota_jobs_pkey":
            return DuplicateTask(f"job id {job.id!r} already exists")
        async with self._conn() as conn:
            cur = await conn.execute(Q["existing_ids"], [[t.id for t in tasks]])
            taken = [r[0] for r in await cur.fetchall()]
        seen: set[str] = set()
        for t in tasks:  # or the batch itself names an id twice
            if t.id in seen:
                taken.append(t.id)
            seen.add(t.id)
        return DuplicateTask(f"task id {taken[0] if taken else '?'!r} already exists")

    async def task_get(self, task_id: str) -> Task | None:
        async with self._conn() as conn:
            row = await (await conn.execute(Q["get_task"], [task_id])).fetchone()
        return None if row is None else to_task(row)

    async def task_list_canceling(self, leases: Sequence[tuple[str, int]]) -> list[tuple[str, int]]:
        ids = [task_id for task_id, _ in leases]
        async with self._conn() as conn:
            rows = await (await conn.execute(Q["list_canceling"], {"ids": ids})).fetchall()
        flagged = {(r[0], r[1]) for r in rows}
        return [lease for lease in leases if lease in flagged]

    async def task_list(
        self, filter: TaskFilter, *, after_seq: int | None, limit: int
    ) -> list[Task]:
        sql, params = list_query(filter, after_seq, limit)
        async with self._conn() as conn:
            rows = await (await conn.execute(sql, params)).fetchall()
        return [to_task(r) for r in rows]

    async def task_claim_many(self, request: ClaimRequest) -> list[Task]:
        return await self._claims.claim_many(request)

    async def task_heartbeat(
        self,
        task_id: str,
        lease_token: int,
        *,
        now: datetime,
        lease_expires_at: datetime,
        progress: Any = None,
    ) -> Task | None:
        params = {
            "lease": lease_expires_at,
            "progress": _json(progress),
            "id": task_id,
            "token": lease_token,
        }
        async with self._conn() as conn:
            row = await (await conn.execute(Q["heartbeat"], params)).fetchone()
        return None if row is None else to_task(row)

    async def task_finish_many(self, finishes: Sequence[Finish], *, now: datetime) -> list[bool]:
        if not finishes:
            return []
        batch = orjson.dumps([_finish_item(f) for f in finishes]).decode()
        params = {"batch": batch, "now": now, "channel": self.channel}
        async with self._conn() as conn:
            rows = await (await conn.execute(Q["finish_many"], params)).fetchall()
        if _any_scheduled(finishes):
            self._forget_promote_at()  # the statement's NOTIFY tells the other replicas
        applied = {r[0] for r in rows}
        out = []
        for f in finishes:  # a task named twice in one batch applies once
            out.append(f.task_id in applied)
            applied.discard(f.task_id)
        return out

    async def _change(
        self, name: str, task_id: str, before: TaskState, now: datetime, actor: str, **extra: Any
    ) -> Task | None:
        """One guarded single-row change and its event, in one statement (CHANGE_LOGGED)."""
        async with self._conn() as conn:
            return await self._change_on(conn, name, task_id, before, now, actor, **extra)

    @staticmethod
    async def _change_on(
        conn: psycopg.AsyncConnection[Any],
        name: str,
        task_id: str,
        before: TaskState,
        now: datetime,
        actor: str | None,
        **extra: Any,
    ) -> Task | None:
        params = {"id": task_id, "before": before.value, "now": now, "actor": actor,
                  "message": None, **extra}  # fmt: skip
        row = await (await conn.execute(Q[name], params)).fetchone()
        return None if row is None else to_task(row)

    async def task_cancel(
        self, task_id: str, *, expect: TaskState, now: datetime, actor: str
    ) -> Task | None:
        return await self._change("cancel", task_id, expect, now, actor, kind="canceled")

    async def task_cancel_request(
        self, task_id: str, lease_token: int, *, now: datetime, actor: str
    ) -> Task | None:
        return await self._change(
            "cancel_request",
            task_id,
            TaskState.RUNNING,
            now,
            actor,
            kind="cancel_requested",
            token=lease_token,
        )

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
        return await self._change(
            "set_priority",
            task_id,
            expect,
            now,
            actor,
            kind="priority_changed",
            message=f"priority {priority}",
            priority=priority,
            to_tail=to_tail,
            place=None,
        )

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
        moved = await self._change(
            "move", task_id, expect, now, actor, kind="moved",
            message=f"run at {run_at.isoformat()}", run_at=run_at, state=TEXT[state],
        )  # fmt: skip
        if moved is not None:
            self._forget_promote_at()  # it may be due sooner than claims think
        return moved

    async def task_requeue(
        self, task_id: str, *, expect: TaskState, now: datetime, actor: str
    ) -> Task | None:
        return await self._change("requeue", task_id, expect, now, actor, kind="requeued")

    async def task_promote_due(self, *, now: datetime, limit: int) -> int:
        async with self._conn() as conn:
            cur = await conn.execute(Q["promote_due_limited"], {"now": now, "limit": limit})
            row = await cur.fetchone()
        moved = 0 if row is None else int(row[0])
        if moved:
            self._forget_promote_at()
        return moved

    async def task_expire_waiting(self, *, now: datetime, limit: int, error: str) -> int:
        params = {"now": now, "limit": limit, "error": error}
        async with self._conn() as conn:
            cur = await conn.execute(Q["expire_waiting"], params)
            row = await cur.fetchone()
        return 0 if row is None else int(row[0])

    async def task_delete_many(self, task_ids: Sequence[str]) -> int:
        async with self._conn() as conn:
            row = await (await conn.execute(Q["delete_tasks"], {"ids": list(task_ids)})).fetchone()
        return 0 if row is None else int(row[0])

    async def task_list_final(self, *, state: TaskState, after_seq: int, limit: int) -> list[Task]:
        args = (TEXT[state], after_seq, limit)
        async with self._conn() as conn:
            rows = await (await conn.execute(Q["list_final"], args)).fetchall()
        return [to_task(r) for r in rows]

    async def task_list_lapsed(self, *, now: datetime, limit: int) -> list[Task]:
        async with self._conn() as conn:
            rows = await (await conn.execute(Q["list_lapsed"], (now, limit))).fetchall()
        return [to_task(r) for r in rows]

    async def task_list_timed(self, *, limit: int) -> list[Task]:
        async with self._conn() as conn:
            rows = await (await conn.execute(Q["list_timed"], (limit,))).fetchall()
        return [to_task(r) for r in rows]

    async def task_position(self, task_id: str) -> Position | None:
        async with self._conn() as conn:
            row = await (await conn.execute(Q["position"], [task_id])).fetchone()
        return None if row is None else Position(in_priority=row[0], in_queue=row[1])

    async def task_count_by_queue(self, tenant: str | None = None) -> list[QueueCount]:
        async with self._conn() as conn:
            rows = await (await conn.execute(Q["count"], {"tenant": tenant})).fetchall()
        return [QueueCount(q, TaskState(s), p, n) for q, s, p, n in rows]

    async def task_count_active(self) -> list[QueueCount]:
        async with self._conn() as conn:
            rows = await (await conn.execute(Q["count_active"])).fetchall()
        return [QueueCount(q, TaskState(s), p, n) for q, s, p, n in rows]

    async def task_list_blocked(self, *, limit: int) -> list[Task]:
        async with self._conn() as conn:
            rows = await (await conn.execute(Q["list_blocked"], (BLOCKED_AT, limit))).fetchall()
        return [to_task(r) for r in rows]

    async def task_count_requiring(self) -> list[tuple[str, tuple[str, ...], int]]:
        async with self._conn() as conn:
            rows = await (await conn.execute(Q["count_requiring"])).fetchall()
        return [(q, tuple(r), n) for q, r, n in rows]

    async def task_count_waiting(self, queue: str) -> int:
        async with self._conn() as conn:
            row = await (await conn.execute(Q["count_waiting"], (queue,))).fetchone()
        return 0 if row is None else int(row[0])

    async def task_age(self, queue: str, *, cap: int, ready_before: datetime) -> int:
        params = {"queue": queue, "cap": cap, "before": ready_before}
        async with self._conn() as conn:
            return (await conn.execute(Q["age"], params)).rowcount

    async def task_next_run_at(self) -> datetime | None:
        async with self._conn() as conn:
            row = await (await conn.execute(Q["next_run_at"])).fetchone()
        due = None if row is None else row[0]
        claims = self._claims
        if due is not None and claims.promote_at is not None and due < claims.promote_at:
            # Due sooner than claims thought (a change no NOTIFY announced): a claimer
            # napping until then must find it promoted, not skip the promotion again.
            claims.promote_at = due
            claims.wakes += 1  # and a claim in flight must not put the later time back
        return due

    # -- events and jobs ---------------------------------------------------------------

    async def event_list(self, task_id: str) -> list[Event]:
        async with self._conn() as conn:
            rows = await (await conn.execute(Q["list_events"], {"id": task_id})).fetchall()
        return [
            Event(
                task_id=r[0],
                at=r[1],
                kind=r[2],
                from_state=None if r[3] is None else TaskState(r[3]),
                to_state=None if r[4] is None else TaskState(r[4]),
                worker_id=r[5],
                message=r[6],
                seq=r[7],
                actor=r[8],
            )
            for r in rows
        ]

    async def job_get(self, job_id: str) -> Job | None:
        async with self._conn() as conn:
            row = await (await conn.execute(Q["get_job"], [job_id])).fetchone()
        if row is None:
            return None
        needs = {k: tuple(v) for k, v in (row[4] or {}).items()}
        return Job(row[0], row[1], row[2], row[3], needs)

    async def job_count(self, job_id: str) -> dict[TaskState, int]:
        async with self._conn() as conn:
            rows = await (await conn.execute(Q["count_job"], [job_id])).fetchall()
        return {TaskState(s): n for s, n in rows}

    # -- workers -----------------------------------------------------------------------

    async def worker_upsert(self, worker: WorkerInfo) -> None:
        args = (
            worker.id,
            worker.name,
            worker.host,
            None if worker.queues is None else _json(list(worker.queues)),
            _json(list(worker.capabilities)),
            worker.concurrency,
            worker.version,
            worker.started_at,
            worker.last_seen_at,
        )
        async with self._conn() as conn:
            await conn.execute(Q["upsert_worker"], args)

    async def worker_touch(self, worker_ids: Sequence[str], *, now: datetime) -> None:
        async with self._conn() as conn:
            await conn.execute(Q["touch_workers"], (now, list(worker_ids)))

    async def worker_list(self) -> list[WorkerInfo]:
        async with self._conn() as conn:
            rows = await (await conn.execute(Q["list_workers"])).fetchall()
        return [
            WorkerInfo(
                id=r[0],
                name=r[1],
                host=r[2],
                queues=None if r[3] is None else tuple(r[3]),
                capabilities=tuple(r[4]),
                concurrency=r[5],
                version=r[6],
                started_at=r[7],
                last_seen_at=r[8],
            )
            for r in rows
        ]

    async def worker_delete_silent(self, *, before: datetime) -> int:
        async with self._conn() as conn:
            cur = await conn.execute(Q["delete_silent_workers"], (before,))
        return cur.rowcount

    # -- tokens ----------------------------------------------------------------------------

    async def token_insert(self, token: TokenRecord) -> bool:
        args = (token.name, token.digest, token.role.value, token.tenant, token.created_at,
                token.expires_at)  # fmt: skip
        async with self._conn() as conn:
            cur = await conn.execute(Q["insert_token"], args)
        return cur.rowcount == 1

    async def token_get(self, digest: str) -> TokenRecord | None:
        async with self._conn() as conn:
            row = await (await conn.execute(Q["get_token"], (digest,))).fetchone()
        return None if row is None else _token(row)

    async def token_list(self) -> list[TokenRecord]:
        async with self._conn() as conn:
            rows = await (await conn.execute(Q["list_tokens"])).fetchall()
        return [_token(r) for r in rows]

    async def token_revoke(self, name: str, *, now: datetime) -> bool:
        async with self._conn() as conn:
            cur = await conn.execute(Q["revoke_token"], (now, name))
        return cur.rowcount == 1

    async def token_touch(self, name: str, *, now: datetime) -> None:
        async with self._conn() as conn:
            await conn.execute(Q["touch_token"], (now, name))

    # -- controls --------------------------------------------------------------------------

    async def control_list(self) -> dict[str, str]:
        async with self._conn() as conn:
            rows = await (await conn.execute(Q["list_controls"])).fetchall()
        return {key: value for key, value in rows}

    async def control_set(self, key: str, value: str | None) -> None:
        async with self._conn() as conn:
            if value is None:
                await conn.execute(Q["delete_control"], (key,))
            else:
                await conn.execute(Q["upsert_control"], (key, value))

    # -- audit -----------------------------------------------------------------------------

    async def audit_append(self, entry: AuditEntry) -> None:
        row = (entry.at, entry.actor, entry.action, entry.target, entry.reason, entry.detail)
        async with self._conn() as conn:
            await conn.execute(Q["insert_audit"], row)

    async def audit_list(
        self, *, limit: int, before: int | None, action: str | None, actor: str | None
    ) -> list[AuditEntry]:
        params = {"limit": limit, "before": before, "action": action, "actor": actor}
        async with self._conn() as conn:
            rows = await (await conn.execute(Q["list_audit"], params)).fetchall()
        return [AuditEntry(*row) for row in rows]

    # -- schedules -------------------------------------------------------------------------

    async def schedule_insert(self, schedule: ScheduleRecord) -> bool:
        args = [getattr(schedule, f.name) for f in fields(ScheduleRecord)]
        async with self._conn() as conn:
            cur = await conn.execute(Q["insert_schedule"], args)
        return cur.rowcount == 1

    async def schedule_update(self, schedule: ScheduleRecord, *, expect_version: int) -> bool:
        params = {**asdict(schedule), "expect": expect_version}
        async with self._conn() as conn:
            cur = await conn.execute(Q["update_schedule"], params)
        return cur.rowcount == 1

    async def schedule_get(self, schedule_id: str) -> ScheduleRecord | None:
        async with self._conn() as conn:
            row = await (await conn.execute(Q["get_schedule"], (schedule_id,))).fetchone()
        return None if row is None else ScheduleRecord(*row)

    async def schedule_list(self) -> list[ScheduleRecord]:
        async with self._conn() as conn:
            rows = await (await conn.execute(Q["list_schedules"])).fetchall()
        return [ScheduleRecord(*row) for row in rows]

    async def schedule_list_due(self, *, now: datetime, limit: int) -> list[ScheduleRecord]:
        async with self._conn() as conn:
            rows = await (await conn.execute(Q["due_schedules"], (now, limit))).fetchall()
        return [ScheduleRecord(*row) for row in rows]

    async def schedule_delete(self, schedule_id: str) -> bool:
        async with self._conn() as conn:
            cur = await conn.execute(Q["delete_schedule"], (schedule_id,))
        return cur.rowcount == 1


def _token(row: Any) -> TokenRecord:
    name, digest, role, tenant, *times = row
    return TokenRecord(name, digest, Role(role), tenant, *times)
