"""Inserts on PostgreSQL: one statement for a few tasks, a streamed ``COPY`` for a batch,
and the two paths that hold locks while they place tasks: unique keys (rota.core.dedup's
plan, applied in the keys' transaction) and fair queues (places given inside the insert).
The backend's ``task_insert_many``; an insert's ``NOTIFY`` comes from the table's trigger.
"""

from __future__ import annotations

import itertools
from collections.abc import Awaitable, Callable, Iterable, Iterator, Sequence
from contextlib import AbstractAsyncContextManager
from datetime import datetime
from typing import Any

import orjson
import psycopg
from psycopg import errors as pg_errors

from rota.backends.postgres.claims import Claims
from rota.backends.postgres.copyrows import RowWriter
from rota.backends.postgres.decode import any_scheduled, json_text, to_task, with_seq
from rota.backends.postgres.queries import Q
from rota.core import dedup, fairness, limits
from rota.core.dedup import Unique
from rota.core.errors import DuplicateTask, ValidationError
from rota.core.fairness import Share
from rota.core.models import ClaimRequest, Inserted, Job, Task
from rota.core.states import WAITING_STATES

COPY_FROM = 50  # batches this large go in by COPY
COPY_CHUNK = 100  # rows per write: the server gets them as they are made
SEQ_BLOCK = 1000  # seqs one nextval reserves (the sequence's INCREMENT, migration 0004)
assert limits.MAX_BATCH <= SEQ_BLOCK, "a batch must fit in one block of seqs"

#: a guarded single-row change and its event on the caller's connection (the backend's
#: _change_on): name, task id, expected state, now, actor, and the statement's extras
ChangeOn = Callable[..., Awaitable[Task | None]]


def _job_row(job: Job) -> tuple[Any, ...]:
    return (
        job.id,
        job.name,
        job.tenant,
        job.created_at,
        json_text(job.needs) if job.needs else None,
    )


def _array(values: tuple[str, ...]) -> str | None:
    """A text[] element of an array of arrays, as the array literal (unnest keeps it whole)."""
    return "{" + ",".join(values) + "}" if values else None


class Inserts:
    """The insert verb of one backend."""

    def __init__(
        self,
        connect: Callable[[], AbstractAsyncContextManager[psycopg.AsyncConnection[Any]]],
        change_on: ChangeOn,
        forget_promote_at: Callable[[], None],
    ) -> None:
        self._conn = connect
        self._change_on = change_on
        self._forget_promote_at = forget_promote_at

    async def insert_many(
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
            if any_scheduled(placed):
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
        if any_scheduled(stored):
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
                out.append(Inserted(with_seq(task, row[0])))
            if passes is not None:
                await conn.execute(Q["fair_put"], passes)
        if any_scheduled(r.task for r in out):
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
            name, params = self.one(tasks[0], shares[0])
            async with self._conn() as conn:
                row = await (await conn.execute(Q[name], params)).fetchone()
            assert row is not None
            return [self.stored_one(tasks[0], shares[0], row)]
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
                out.append(with_seq(t._replace(place=place), seq))
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
        return self.stored_one(task, None, row)

    def one(self, task: Task, share: Share | None) -> tuple[str, dict[str, Any]]:
        """One task's insert as one named statement and its parameters: insert_one, or
        insert_one_fair for a task of a fair queue (its share). Its row: seq, place."""
        params = self._one(task)
        if share is None:
            return "insert_one", params
        params["key"], params["stride"] = share
        return "insert_one_fair", params

    @staticmethod
    def stored_one(task: Task, share: Share | None, row: tuple[Any, ...]) -> Task:
        """The task as :meth:`one` stored it, from its row (a fair place is the store's)."""
        return with_seq(task if share is None else task._replace(place=row[1]), row[0])

    async def insert_claim(
        self, task: Task, share: Share | None, claims: Claims, request: ClaimRequest
    ) -> tuple[Task, list[Task] | None]:
        """One task's insert with a claim behind it, in one round trip and one transaction
        (Claims.after_insert): the stored task, and what the claim took (None: the claim
        must ask again). A refused insert raises, and the claim behind it took nothing."""
        try:
            async with self._conn() as conn:
                cur, claimed = await claims.after_insert(conn, self.one(task, share), request)
                row = await cur.fetchone()
        except pg_errors.UniqueViolation as exc:
            raise await self._duplicate([task], None, exc) from exc
        assert row is not None
        stored = self.stored_one(task, share, row)
        if any_scheduled([stored]):
            self._forget_promote_at()
        return stored, claimed

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
            "retry": json_text(task.retry),
            "expires_at": task.expires_at,
            "place": None if task.place < 0 else task.place,
            "requires": list(task.requires) or None,
            "trace": task.trace,
        }

    async def _insert_statement(self, tasks: Sequence[Task]) -> list[Task]:
        async with self._conn() as conn:
            rows = await (await conn.execute(Q["insert_tasks"], self._many(tasks))).fetchall()
        seqs = dict(rows)
        return [with_seq(t, seqs[t.id]) for t in tasks]

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
            "retries": [json_text(t.retry) for t in tasks],
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
                t = with_seq(t, seq)
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
