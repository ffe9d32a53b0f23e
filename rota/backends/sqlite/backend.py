"""SQLite backend: WAL, ``BEGIN IMMEDIATE`` writes, ``synchronous=FULL`` commits.

All work runs on one dedicated thread per backend, and each verb runs as one function
inside one transaction there, so no coroutine can interleave inside a transaction.
Several processes may share the file: ``BEGIN IMMEDIATE`` takes the write lock before
the claim reads, so two claimers can never pick the same row. After a commit that makes
tasks claimable (an insert of ready tasks, a retry, sweep or release back to the queue, a
requeue, a move to the queue, a promotion) the writer wakes the other processes' long-polls with a
datagram (:mod:`rota.backends.sqlite.wakeups`), as PostgreSQL's NOTIFY does.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar

import orjson

from rota.backends.base import Capabilities, insert_then_claim
from rota.backends.filters import filter_clauses
from rota.backends.sqlite import migrations
from rota.backends.sqlite.decode import (
    COLUMNS,
    dump,
    opt_time,
    to_schedule,
    to_task,
    to_token,
    us_or_none,
)
from rota.backends.sqlite.inserts import Inserts
from rota.backends.sqlite.queries import Q, add_events
from rota.backends.sqlite.wakeups import Wakeups
from rota.core.admission import Admission
from rota.core.auth import TokenRecord
from rota.core.clock import from_us, to_us
from rota.core.dedup import Unique
from rota.core.errors import StoreError
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
from rota.core.ordering import claim_key
from rota.core.states import TaskState
from rota.core.wakeups import Queues

log = logging.getLogger("rota.sqlite")
T = TypeVar("T")
#: candidates a claim bound by global limits reads at most before it gives up
LIMITED_SCAN_MAX = 10_000
_SKIP_TENANTS = "AND (tenant IS NULL OR tenant NOT IN (SELECT value FROM json_each(:skip)))"
_NO_NEEDS = "AND requires IS NULL"
_NEEDS_MET = (
    "AND (requires IS NULL OR NOT EXISTS (SELECT 1 FROM json_each(requires)"
    " WHERE value NOT IN (SELECT value FROM json_each(:caps))))"
)


def _claim_sql(name: str, request: ClaimRequest) -> str:
    """A claim with its tenant and capability filters written in (see claim_any in
    queries.sql), and the walk over its queues (claim_queues)."""
    text = Q[name].replace("TENANT_OPEN", _SKIP_TENANTS if request.skip_tenants else "")
    if request.queues is not None and len(request.queues) == 1:
        text = text.replace("READY_INDEX", "tasks_ready_by_queue")
        text = text.replace("QUEUE_MATCH", "queue = :queue")
    else:
        text = text.replace("READY_INDEX", "tasks_ready")
        text = text.replace("QUEUE_MATCH", "queue IN (SELECT value FROM json_each(:queues))")
    return text.replace("CAN_RUN", _NEEDS_MET if request.capabilities else _NO_NEEDS)


def path_from_url(url: str) -> str:
    """``sqlite:///rel/path.db``, ``sqlite:////abs/path.db`` or ``sqlite://:memory:``."""
    if not url.startswith("sqlite://"):
        raise ValueError(f"not a sqlite URL: {url!r}")
    rest = url[len("sqlite://") :]
    if rest in (":memory:", "/:memory:"):
        return ":memory:"
    return rest[1:] if rest.startswith("/") else rest


#: until ``listen_inserts`` binds its socket, other processes' inserts are heard by polling
_POLLING = Capabilities(shared=True, push_wakeups=False)
_PUSHED = Capabilities(shared=True, push_wakeups=True)


def _in_memory(path: str) -> bool:
    return path in ("", ":memory:")


class SQLiteBackend:
    capabilities = _POLLING

    @classmethod
    def from_url(cls, url: str) -> SQLiteBackend:
        return cls(path_from_url(url))

    def __init__(self, path: str | Path, *, synchronous: str = "FULL") -> None:
        self.path = str(path)
        self._synchronous = synchronous
        self._executor: ThreadPoolExecutor | None = None
        self._conn: sqlite3.Connection | None = None
        self._inserts = Inserts(self._run, lambda: self._db, self._write, self._announce)
        # no other process can open an in-memory database: nobody to wake, nobody to hear
        self._wakeups = None if _in_memory(self.path) else Wakeups(self.path)
        self._listeners: list[Callable[[Queues], object]] = []

    # -- plumbing ----------------------------------------------------------------------

    async def _run(self, fn: Callable[..., T], *args: Any) -> T:
        if self._executor is None:
            raise StoreError("the SQLite backend is not open")
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, self._guarded, fn, args)

    @staticmethod
    def _guarded(fn: Callable[..., T], args: tuple[Any, ...]) -> T:
        try:
            return fn(*args)
        except sqlite3.Error as exc:  # translate at the boundary
            raise StoreError(f"SQLite: {exc}") from exc

    @property
    def _db(self) -> sqlite3.Connection:
        assert self._conn is not None
        return self._conn

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        db = self._db
        db.execute("BEGIN IMMEDIATE")
        try:
            yield db
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")

    def _connect(self) -> None:
        if not _in_memory(self.path):
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        db = sqlite3.connect(self.path, timeout=30.0, isolation_level=None, check_same_thread=False)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute(f"PRAGMA synchronous={self._synchronous}")
        db.execute("PRAGMA foreign_keys=ON")
        try:
            migrations.migrate(db, self.path)
        except BaseException:
            db.close()
            raise
        self._conn = db

    async def open(self) -> None:
        if self._executor is None:
            self._executor = ThreadPoolExecutor(1, thread_name_prefix="rota-sqlite")
            await self._run(self._connect)

    async def close(self) -> None:
        if self._executor is not None:
            if self._conn is not None:
                await self._run(self._db.close)
                self._conn = None
            self._executor.shutdown(wait=True)
            self._executor = None
        if self._wakeups is not None:  # after the thread that announces has stopped
            self._wakeups.close()
            self.capabilities = _POLLING

    # -- wake-ups and leadership: every process may sweep (finishes are guarded) ------

    async def listen_inserts(self, callback: Callable[[Queues], object]) -> None:
        """Hear other processes' new work through this process's socket; where none can be
        bound, claims keep polling ``data_version`` (``push_wakeups`` stays False)."""
        self._listeners.append(callback)
        if self._wakeups is not None and await self._wakeups.listen(self._wake):
            self.capabilities = _PUSHED

    def _wake(self, queues: Queues) -> None:
        for callback in self._listeners:
            try:
                callback(queues)
            except Exception:  # raised into the datagram endpoint, it would close it
                log.exception("a wake-up callback failed")

    def _announce(self, queues: Iterable[str] | None = None) -> None:
        """Tell other processes that tasks became claimable in ``queues`` (None: in any);
        called after the commit."""
        if self._wakeups is not None:
            self._wakeups.announce(queues)

    async def store_version(self) -> int | None:
        # changes when another connection (another process) commits; this one's do not.
        # Read even where wake-ups are pushed: a writer that cannot reach the sockets (or
        # an older rota) still commits, and the poll is the safety net for it.
        return int(await self._run(lambda: self._db.execute("PRAGMA data_version").fetchone()[0]))

    async def leader_attempt_elect(self, *, hold: float) -> bool:
        return True

    async def leader_resign(self) -> None:
        return None

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
        return await self._run(self._get, task_id)

    def _get(self, task_id: str) -> Task | None:
        row = self._db.execute(Q["get_task"], (task_id,)).fetchone()
        return None if row is None else to_task(row)

    async def task_list_canceling(self, leases: Sequence[tuple[str, int]]) -> list[tuple[str, int]]:
        return await self._run(self._list_canceling, leases)

    def _list_canceling(self, leases: Sequence[tuple[str, int]]) -> list[tuple[str, int]]:
        ids = orjson.dumps([task_id for task_id, _ in leases]).decode()
        flagged = set(self._db.execute(Q["list_canceling"], (ids,)).fetchall())
        return [lease for lease in leases if lease in flagged]

    async def task_list(
        self, filter: TaskFilter, *, after_seq: int | None, limit: int
    ) -> list[Task]:
        clauses, args = filter_clauses(filter, after_seq, "?")
        where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
        sql = f"SELECT {COLUMNS} FROM tasks {where} ORDER BY seq DESC LIMIT {int(limit)}"

        def run() -> list[Task]:
            return [to_task(r) for r in self._db.execute(sql, args)]

        return await self._run(run)

    async def task_insert_claim(
        self,
        tasks: Iterable[Task],
        job: Job | None,
        uniques: Sequence[Unique | None] | None,
        shares: Sequence[Share | None] | None,
        request: ClaimRequest,
    ) -> InsertClaim:
        return await insert_then_claim(self, tasks, job, uniques, shares, request)

    async def task_claim_many(self, request: ClaimRequest) -> list[Task]:
        return await self._run(self._claim, request)

    def _claim(self, request: ClaimRequest) -> list[Task]:
        now_us = to_us(request.now)
        params: dict[str, Any] = {
            "lease": to_us(request.lease_expires_at),
            "worker": request.worker_id,
            "now": now_us,
            "limit": request.limit,
            "salt": request.salt,
        }
        if request.skip_tenants:
            params["skip"] = orjson.dumps(request.skip_tenants).decode()
        if request.capabilities:
            params["caps"] = orjson.dumps(request.capabilities).decode()
        actor = request.actor
        with self._write() as db:
            promoted = db.execute(Q["promote_due"], (now_us,)).fetchall()
            events: list[tuple[Any, ...]] = [
                (r[0], now_us, "promoted", "scheduled", "queued", None, None, SYSTEM)
                for r in promoted
            ]
            if request.queues is not None:
                params["queues"] = orjson.dumps(request.queues).decode()
                params["queue"] = request.queues[0] if request.queues else None
            if request.task_ids:
                given = {"ids": orjson.dumps(request.task_ids).decode(), "queues": None}
                query = _claim_sql("claim_given", request)
                rows = db.execute(query, {**given, **params}).fetchall()
            elif request.limits:
                rows = self._claim_limited(db, request, params)
            elif request.queues is None:
                rows = db.execute(_claim_sql("claim_any", request), params).fetchall()
            else:
                rows = db.execute(_claim_sql("claim_queues", request), params).fetchall()
            tasks = sorted((to_task(r) for r in rows), key=claim_key)
            worker = request.worker_id
            events += [
                (t.id, now_us, "claimed", "queued", "running", worker, None, actor) for t in tasks
            ]
            add_events(db, events)
        return tasks

    def _claim_limited(
        self, db: sqlite3.Connection, request: ClaimRequest, params: dict[str, Any]
    ) -> list[Any]:
        """A claim that some queue's global limits bound, inside the claim's transaction:
        its candidates in order, a window at a time, as rota.core.admission admits them."""
        limited = {limit.queue: limit for limit in request.limits}
        names = orjson.dumps(sorted(limited)).decode()
        running: dict[str, int] = {}
        tenants: dict[tuple[str, str], int] = {}
        for queue, tenant, n in db.execute(Q["running_by_queue"], (names,)):
            running[queue] = running.get(queue, 0) + n
            if tenant is not None:
                tenants[(queue, tenant)] = n
        buckets = {
            queue: (tokens, from_us(at))
            for queue, tokens, at in db.execute(Q["get_buckets"], (names,))
        }
        admission = Admission(limited, running, tenants, buckets, request.now)
        pick = _claim_sql("pick_any" if request.queues is None else "pick_queues", request)
        window, read, chosen = request.limit + 32, 0, list[int]()
        after: dict[str, Any] = {"p": None, "pl": None, "s": None}
        full: set[str] = set()
        while len(chosen) < request.limit and read < LIMITED_SCAN_MAX:
            known = {"window": window, "full": orjson.dumps(sorted(full)).decode()}
            page = db.execute(pick, {**params, **known, **after}).fetchall()
            for seq, queue, tenant, _, _ in page:
                if len(chosen) < request.limit and admission.admit(queue, tenant):
                    chosen.append(seq)
            if len(page) < window:
                break
            read += window
            seq, _, _, priority, place = page[-1]
            after = {"p": priority, "pl": place, "s": seq}
            # a queue at its limit or out of tokens is left out of the next windows
            full |= {queue for _, queue, _, _, _ in page if admission.exhausted(queue)}
        kept = admission.buckets().items()
        db.executemany(Q["put_bucket"], [(q, t, to_us(at)) for q, (t, at) in kept])
        seqs = orjson.dumps(chosen).decode()
        return db.execute(Q["claim_seqs"], {**params, "seqs": seqs}).fetchall()

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
            "lease": to_us(lease_expires_at),
            "progress": dump(progress),
            "id": task_id,
            "token": lease_token,
        }

        def run() -> Task | None:
            with self._write() as db:
                row = db.execute(Q["heartbeat"], params).fetchone()
            return None if row is None else to_task(row)

        return await self._run(run)

    async def task_finish_many(self, finishes: Sequence[Finish], *, now: datetime) -> list[bool]:
        return await self._run(self._finish_many, list(finishes), to_us(now))

    def _finish_many(self, finishes: list[Finish], now_us: int) -> list[bool]:
        applied, events = [], []
        with self._write() as db:
            for f in finishes:
                expiry = None if f.expired_before is None else to_us(f.expired_before)
                row = db.execute(
                    Q["finish"],
                    (
                        f.state.value,
                        dump(f.result),
                        f.error,
                        None if f.run_at is None else to_us(f.run_at),
                        None if f.finished_at is None else to_us(f.finished_at),
                        f.attempt,
                        f.task_id,
                        f.lease_token,
                        expiry,
                        expiry,
                        f.worker_id,
                        f.worker_id,
                    ),
                ).fetchone()
                applied.append(row is not None)
                if row is not None:
                    events.append(
                        (
                            f.task_id,
                            now_us,
                            f.event,
                            "running",
                            f.state.value,
                            row[0],
                            f.error,
                            f.actor,
                        )
                    )
            add_events(db, events)
        # a retry, a lapsed lease swept back, a task a stopping worker released (scheduled
        # for now: the next claim promotes it) is claimable again at once
        if any(ok and _due(f, now_us) for f, ok in zip(finishes, applied, strict=True)):
            self._announce()
        return applied

    def _change(
        self,
        query: str,
        args: tuple[Any, ...],
        kind: str,
        before: str,
        now: datetime,
        actor: str,
        message: str | None = None,
    ) -> Task | None:
        """One guarded single-row update plus its event, in its own write transaction."""
        with self._write() as db:
            row = db.execute(query, args).fetchone()
            if row is None:
                return None
            task = to_task(row)
            event = (task.id, to_us(now), kind, before, task.state.value, task.worker_id)
            add_events(db, [(*event, message, actor)])
        return task

    async def task_cancel(
        self, task_id: str, *, expect: TaskState, now: datetime, actor: str
    ) -> Task | None:
        args = (to_us(now), task_id, expect.value)
        return await self._run(
            self._change, Q["cancel"], args, "canceled", expect.value, now, actor
        )

    async def task_cancel_request(
        self, task_id: str, lease_token: int, *, now: datetime, actor: str
    ) -> Task | None:
        args = (task_id, lease_token)
        return await self._run(
            self._change, Q["cancel_request"], args, "cancel_requested", "running", now, actor
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
        def run() -> Task | None:
            tail = self._db.execute(Q["max_seq"]).fetchone()[0] + 1 if to_tail else None
            args = (priority, tail, tail, task_id, expect.value)
            kind, message = "priority_changed", f"priority {priority}"
            return self._change(Q["set_priority"], args, kind, expect.value, now, actor, message)

        return await self._run(run)

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
        args = (to_us(run_at), state.value, task_id, expect.value)
        message = f"run at {run_at.isoformat()}"

        def run() -> Task | None:
            task = self._change(Q["move"], args, "moved", expect.value, now, actor, message)
            if task is not None and task.state is TaskState.QUEUED:  # a job's released task
                self._announce((task.queue,))
            return task

        return await self._run(run)

    async def task_requeue(
        self, task_id: str, *, expect: TaskState, now: datetime, actor: str
    ) -> Task | None:
        def run() -> Task | None:
            tail = self._db.execute(Q["max_seq"]).fetchone()[0] + 1
            args = (to_us(now), tail, tail, task_id, expect.value)
            task = self._change(Q["requeue"], args, "requeued", expect.value, now, actor)
            if task is not None:
                self._announce((task.queue,))
            return task

        return await self._run(run)

    async def task_promote_due(self, *, now: datetime, limit: int) -> int:
        now_us = to_us(now)

        def run() -> int:
            with self._write() as db:
                rows = db.execute(Q["promote_due_limited"], (now_us, limit)).fetchall()
                add_events(
                    db,
                    [
                        (r[0], now_us, "promoted", "scheduled", "queued", None, None, SYSTEM)
                        for r in rows
                    ],
                )
            if rows:
                self._announce()
            return len(rows)

        return await self._run(run)

    async def task_expire_waiting(self, *, now: datetime, limit: int, error: str) -> int:
        now_us = to_us(now)

        def run() -> int:
            with self._write() as db:
                rows = db.execute(Q["list_expiring"], (now_us, limit)).fetchall()
                for task_id, _ in rows:
                    db.execute(Q["cancel_expired"], (now_us, error, task_id))
                add_events(
                    db,
                    [
                        (task_id, now_us, "expired", state, "canceled", None, error, SYSTEM)
                        for task_id, state in rows
                    ],
                )
            return len(rows)

        return await self._run(run)

    async def task_delete_many(self, task_ids: Sequence[str]) -> int:
        ids = orjson.dumps(list(task_ids)).decode()

        def run() -> int:
            with self._write() as db:
                gone = [r[0] for r in db.execute(Q["delete_tasks"], (ids,)).fetchall()]
                db.execute(Q["delete_events"], (orjson.dumps(gone).decode(),))
            return len(gone)

        return await self._run(run)

    async def task_list_final(self, *, state: TaskState, after_seq: int, limit: int) -> list[Task]:
        args = (state.value, after_seq, limit)
        rows = await self._run(lambda: self._db.execute(Q["list_final"], args).fetchall())
        return [to_task(r) for r in rows]

    async def task_list_lapsed(self, *, now: datetime, limit: int) -> list[Task]:
        def run() -> list[Task]:
            return [to_task(r) for r in self._db.execute(Q["list_lapsed"], (to_us(now), limit))]

        return await self._run(run)

    async def task_list_timed(self, *, limit: int) -> list[Task]:
        def run() -> list[Task]:
            return [to_task(r) for r in self._db.execute(Q["list_timed"], (limit,))]

        return await self._run(run)

    async def task_position(self, task_id: str) -> Position | None:
        def run() -> Position | None:
            row = self._db.execute(Q["position"], (task_id,)).fetchone()
            return None if row is None else Position(in_priority=row[0], in_queue=row[1])

        return await self._run(run)

    async def task_count_by_queue(self, tenant: str | None = None) -> list[QueueCount]:
        def run() -> list[QueueCount]:
            rows = self._db.execute(Q["count"], {"tenant": tenant})
            return [QueueCount(q, TaskState(s), p, n) for q, s, p, n in rows]

        return await self._run(run)

    async def task_count_active(self) -> list[QueueCount]:
        def run() -> list[QueueCount]:
            rows = self._db.execute(Q["count_active"])
            return [QueueCount(q, TaskState(s), p, n) for q, s, p, n in rows]

        return await self._run(run)

    async def task_list_blocked(self, *, limit: int) -> list[Task]:
        def run() -> list[Task]:
            rows = self._db.execute(Q["list_blocked"], (to_us(BLOCKED_AT), limit))
            return [to_task(r) for r in rows]

        return await self._run(run)

    async def task_count_requiring(self) -> list[tuple[str, tuple[str, ...], int]]:
        def run() -> list[tuple[str, tuple[str, ...], int]]:
            rows = self._db.execute(Q["count_requiring"]).fetchall()
            return [(q, tuple(orjson.loads(r)), n) for q, r, n in rows]

        return await self._run(run)

    async def task_count_waiting(self, queue: str) -> int:
        def run() -> int:
            return int(self._db.execute(Q["count_waiting"], {"queue": queue}).fetchone()[0])

        return await self._run(run)

    async def task_age(self, queue: str, *, cap: int, ready_before: datetime) -> int:
        def run() -> int:
            with self._write() as db:
                return db.execute(Q["age"], (queue, cap, to_us(ready_before))).rowcount

        return await self._run(run)

    async def task_next_run_at(self) -> datetime | None:
        def run() -> datetime | None:
            value = self._db.execute(Q["next_run_at"]).fetchone()[0]
            return opt_time(value)

        return await self._run(run)

    # -- events and jobs ---------------------------------------------------------------

    async def event_list(self, task_id: str) -> list[Event]:
        def run() -> list[Event]:
            return [
                Event(
                    task_id=r[0],
                    at=from_us(r[1]),
                    kind=r[2],
                    from_state=None if r[3] is None else TaskState(r[3]),
                    to_state=None if r[4] is None else TaskState(r[4]),
                    worker_id=r[5],
                    message=r[6],
                    seq=r[7],
                    actor=r[8],
                )
                for r in self._db.execute(Q["list_events"], {"id": task_id})
            ]

        return await self._run(run)

    async def job_get(self, job_id: str) -> Job | None:
        def run() -> Job | None:
            row = self._db.execute(Q["get_job"], (job_id,)).fetchone()
            if row is None:
                return None
            needs = {} if row[4] is None else {k: tuple(v) for k, v in orjson.loads(row[4]).items()}
            return Job(row[0], row[1], from_us(row[2]), row[3], needs)

        return await self._run(run)

    async def job_count(self, job_id: str) -> dict[TaskState, int]:
        def run() -> dict[TaskState, int]:
            return {TaskState(s): n for s, n in self._db.execute(Q["count_job"], (job_id,))}

        return await self._run(run)

    # -- workers -----------------------------------------------------------------------

    async def worker_upsert(self, worker: WorkerInfo) -> None:
        args = (
            worker.id,
            worker.name,
            worker.host,
            None if worker.queues is None else orjson.dumps(worker.queues).decode(),
            orjson.dumps(worker.capabilities).decode(),
            worker.concurrency,
            worker.version,
            to_us(worker.started_at),
            to_us(worker.last_seen_at),
        )

        def run() -> None:
            with self._write() as db:
                db.execute(Q["upsert_worker"], args)

        await self._run(run)

    async def worker_touch(self, worker_ids: Sequence[str], *, now: datetime) -> None:
        args = (to_us(now), orjson.dumps(list(worker_ids)).decode())

        def run() -> None:
            with self._write() as db:
                db.execute(Q["touch_workers"], args)

        await self._run(run)

    async def worker_list(self) -> list[WorkerInfo]:
        def run() -> list[WorkerInfo]:
            return [
                WorkerInfo(
                    id=r[0],
                    name=r[1],
                    host=r[2],
                    queues=None if r[3] is None else tuple(orjson.loads(r[3])),
                    capabilities=tuple(orjson.loads(r[4])),
                    concurrency=r[5],
                    version=r[6],
                    started_at=from_us(r[7]),
                    last_seen_at=from_us(r[8]),
                )
                for r in self._db.execute(Q["list_workers"])
            ]

        return await self._run(run)

    async def worker_delete_silent(self, *, before: datetime) -> int:
        def run() -> int:
            with self._write() as db:
                return int(db.execute(Q["delete_silent_workers"], (to_us(before),)).rowcount)

        return await self._run(run)

    # -- tokens ----------------------------------------------------------------------------

    async def token_insert(self, token: TokenRecord) -> bool:
        args = (token.name, token.digest, token.role.value, token.tenant,
                to_us(token.created_at), us_or_none(token.expires_at))  # fmt: skip

        def run() -> bool:
            with self._write() as db:
                return int(db.execute(Q["insert_token"], args).rowcount) == 1

        return await self._run(run)

    async def token_get(self, digest: str) -> TokenRecord | None:
        row = await self._run(lambda: self._db.execute(Q["get_token"], (digest,)).fetchone())
        return None if row is None else to_token(row)

    async def token_list(self) -> list[TokenRecord]:
        rows = await self._run(lambda: self._db.execute(Q["list_tokens"]).fetchall())
        return [to_token(r) for r in rows]

    async def token_revoke(self, name: str, *, now: datetime) -> bool:
        def run() -> bool:
            with self._write() as db:
                return int(db.execute(Q["revoke_token"], (to_us(now), name)).rowcount) == 1

        return await self._run(run)

    async def token_touch(self, name: str, *, now: datetime) -> None:
        def run() -> None:
            with self._write() as db:
                db.execute(Q["touch_token"], (to_us(now), name))

        await self._run(run)

    # -- controls --------------------------------------------------------------------------

    async def control_list(self) -> dict[str, str]:
        rows = await self._run(lambda: self._db.execute(Q["list_controls"]).fetchall())
        return {key: value for key, value in rows}

    async def control_set(self, key: str, value: str | None) -> None:
        def run() -> None:
            with self._write() as db:
                if value is None:
                    db.execute(Q["delete_control"], (key,))
                else:
                    db.execute(Q["upsert_control"], (key, value))

        await self._run(run)

    # -- audit -----------------------------------------------------------------------------

    async def audit_append(self, entry: AuditEntry) -> None:
        row = (to_us(entry.at), entry.actor, entry.action, entry.target, entry.reason,
               entry.detail)  # fmt: skip

        def run() -> None:
            with self._write() as db:
                db.execute(Q["insert_audit"], row)

        await self._run(run)

    async def audit_list(
        self, *, limit: int, before: int | None, action: str | None, actor: str | None
    ) -> list[AuditEntry]:
        params = {"limit": limit, "before": before, "action": action, "actor": actor}
        rows = await self._run(lambda: self._db.execute(Q["list_audit"], params).fetchall())
        return [AuditEntry(r[0], from_us(r[1]), *r[2:]) for r in rows]

    # -- schedules -------------------------------------------------------------------------

    async def schedule_insert(self, schedule: ScheduleRecord) -> bool:
        s = schedule
        row = (s.id, s.name, s.definition, int(s.enabled), us_or_none(s.next_run_at),
               us_or_none(s.last_run_at), s.last_task_id, s.version, to_us(s.created_at),
               to_us(s.updated_at))  # fmt: skip

        def run() -> bool:
            with self._write() as db:
                return db.execute(Q["insert_schedule"], row).rowcount == 1

        return await self._run(run)

    async def schedule_update(self, schedule: ScheduleRecord, *, expect_version: int) -> bool:
        s = schedule
        row = (s.name, s.definition, int(s.enabled), us_or_none(s.next_run_at),
               us_or_none(s.last_run_at), s.last_task_id, s.version, to_us(s.updated_at),
               s.id, expect_version)  # fmt: skip

        def run() -> bool:
            with self._write() as db:
                return db.execute(Q["update_schedule"], row).rowcount == 1

        return await self._run(run)

    async def schedule_get(self, schedule_id: str) -> ScheduleRecord | None:
        def run() -> ScheduleRecord | None:
            row = self._db.execute(Q["get_schedule"], (schedule_id,)).fetchone()
            return None if row is None else to_schedule(row)

        return await self._run(run)

    async def schedule_list(self) -> list[ScheduleRecord]:
        rows = await self._run(lambda: self._db.execute(Q["list_schedules"]).fetchall())
        return [to_schedule(r) for r in rows]

    async def schedule_list_due(self, *, now: datetime, limit: int) -> list[ScheduleRecord]:
        args = (to_us(now), limit)
        rows = await self._run(lambda: self._db.execute(Q["due_schedules"], args).fetchall())
        return [to_schedule(r) for r in rows]

    async def schedule_delete(self, schedule_id: str) -> bool:
        def run() -> bool:
            with self._write() as db:
                return db.execute(Q["delete_schedule"], (schedule_id,)).rowcount == 1

        return await self._run(run)


def _due(finish: Finish, now_us: int) -> bool:
    """Whether a finish puts its task back where a claim can take it now."""
    if finish.state is TaskState.QUEUED:
        return True
    return (finish.state is TaskState.SCHEDULED and finish.run_at is not None
            and to_us(finish.run_at) <= now_us)  # fmt: skip
