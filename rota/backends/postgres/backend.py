"""PostgreSQL backend: many API replicas and many workers on one database.

Claims take ``FOR UPDATE SKIP LOCKED`` batches through a partial index that is exactly the
ordering contract, so concurrent claimers never wait on each other and never share a row.
Every verb is one statement where it can be (CTEs carry the event rows along), so a claim
or a batch of finishes is one round trip; a batch insert is one streamed ``COPY``. A
success stores no event rows: the task row holds them (see the ``rota_history`` view).
Inserts ``NOTIFY`` once per batch (adding ``'s'`` when a task was scheduled for later);
``listen_inserts`` turns those into wake-ups for long-polling claimers in every replica,
which promote due tasks before they claim only after an ``'s'``.
The maintenance leader is whoever holds a session advisory lock. The two verbs with most
to them live beside this module: inserts (inserts.py) and claims (claims.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from dataclasses import asdict, fields
from datetime import datetime
from typing import Any

import orjson
import psycopg
from psycopg import errors as pg_errors
from psycopg.types.json import set_json_dumps, set_json_loads
from psycopg_pool import AsyncConnectionPool, PoolTimeout

from rota.backends.base import Capabilities, insert_then_claim
from rota.backends.postgres import migrate
from rota.backends.postgres.claims import Claims
from rota.backends.postgres.decode import TEXT, any_scheduled, json_text, to_task
from rota.backends.postgres.inserts import Inserts
from rota.backends.postgres.listing import list_query
from rota.backends.postgres.queries import Q
from rota.backends.postgres.url import PgUrl
from rota.core import wakeups
from rota.core.auth import Role, TokenRecord
from rota.core.dedup import Unique
from rota.core.errors import SchemaMismatch, StoreError
from rota.core.fairness import Share
from rota.core.models import (
    BLOCKED_AT,
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
from rota.core.states import TaskState
from rota.core.wakeups import Queues

log = logging.getLogger("rota.postgres")


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
    capabilities = Capabilities(shared=True, push_wakeups=True, insert_claim=True)

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
        self._listeners: list[Callable[[Queues], object]] = []
        self._listen_task: asyncio.Task[None] | None = None
        # the claim verb, and what claims remember (promote_at, wakes, whether LISTENing)
        self._claims = Claims(self._conn, durable=self.url.durable_claims, channel=self.channel)
        self._inserts = Inserts(self._conn, self._change_on, self._forget_promote_at)
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

    async def listen_inserts(self, callback: Callable[[Queues], object]) -> None:
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
                        # 's' (migration 0020): a task was scheduled, maybe sooner than
                        # the next promotion this process planned: promote, then claim.
                        # Any other payload announces ready tasks, of the queues it names
                        # (migration 0024), or of any queue.
                        if note.payload == "s":
                            self._wake()
                        else:
                            self._wake(wakeups.queues(note.payload), scheduled=False)
            except (psycopg.Error, OSError) as exc:
                self._claims.listening = False
                log.warning("LISTEN connection lost (%s); reconnecting in %.1fs", exc, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)
            finally:
                self._claims.listening = False

    def _wake(self, queues: Queues = None, *, scheduled: bool = True) -> None:
        if scheduled:
            self._forget_promote_at()
        for callback in self._listeners:
            callback(queues)

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
        return await self._inserts.insert_many(tasks, job, uniques, shares)

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

    async def task_insert_claim(
        self,
        tasks: Iterable[Task],
        job: Job | None,
        uniques: Sequence[Unique | None] | None,
        shares: Sequence[Share | None] | None,
        request: ClaimRequest,
    ) -> InsertClaim:
        """One task with no job or unique key: its insert and the claim's first statement in
        one round trip and one transaction; anything more the claim needs after that, on
        its own. Otherwise the insert, then the claim."""
        batch = list(tasks)
        if job is not None or len(batch) != 1 or (uniques and uniques[0] is not None):
            return await insert_then_claim(self, batch, job, uniques, shares, request)
        share = shares[0] if shares else None
        stored, claimed = await self._inserts.insert_claim(batch[0], share, self._claims, request)
        if claimed is None:
            claimed = await self._claims.claim_many(request)
        return InsertClaim([Inserted(stored)], claimed)

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
            "progress": json_text(progress),
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
        if any_scheduled(finishes):
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
            channel=self.channel,
        )  # fmt: skip
        if moved is not None:
            self._forget_promote_at()  # it may be due sooner than claims think
        return moved

    async def task_requeue(
        self, task_id: str, *, expect: TaskState, now: datetime, actor: str
    ) -> Task | None:
        return await self._change(
            "requeue", task_id, expect, now, actor, kind="requeued", channel=self.channel
        )

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
            None if worker.queues is None else json_text(list(worker.queues)),
            json_text(list(worker.capabilities)),
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
