"""Inserts on SQLite: the backend's ``task_insert_many``, with group commit.

Inserts that arrive while one is being written share the next commit, each caller's
batch under a savepoint of its own, so one caller's bad batch fails only that caller.
Inside the transaction: unique keys (rota.core.dedup's plan, applied against the stored
holders) and fair places (rota.core.fairness, the keys' passes moved on), both under the
file's write lock that ``BEGIN IMMEDIATE`` took.
"""

from __future__ import annotations

import asyncio
import functools
import sqlite3
from collections.abc import Awaitable, Callable, Iterable, Sequence
from contextlib import AbstractContextManager
from datetime import datetime
from typing import Any

import orjson

from rota.backends.sqlite.decode import dump, opt_time, to_task
from rota.backends.sqlite.queries import Q, add_events
from rota.core import dedup, fairness
from rota.core.clock import to_us
from rota.core.dedup import DuplicateKey, Unique
from rota.core.errors import DuplicateTask, RotaError, StoreError, ValidationError
from rota.core.fairness import Share
from rota.core.models import Inserted, Job, Task
from rota.core.states import WAITING_STATES, TaskState

#: one caller's insert: its tasks, job, unique keys and fair shares
_Batch = tuple[
    list[Task], Job | None, Sequence[Unique | None] | None, Sequence[Share | None] | None
]


class Inserts:
    """The insert verb of one backend: ``run`` calls a function on the backend's database
    thread, ``db`` is its connection there, ``write`` a write transaction on it, and
    ``announce`` tells other processes that tasks became claimable."""

    def __init__(
        self,
        run: Callable[..., Awaitable[Any]],
        db: Callable[[], sqlite3.Connection],
        write: Callable[[], AbstractContextManager[sqlite3.Connection]],
        announce: Callable[[Iterable[str] | None], None],
    ) -> None:
        self._run = run
        self._db = db
        self._write = write
        self._announce = announce
        self._pending: list[tuple[_Batch, asyncio.Future[list[Inserted]]]] = []
        self._lock = asyncio.Lock()
        self._writers: set[asyncio.Task[None]] = set()

    async def insert_many(
        self,
        tasks: Iterable[Task],
        job: Job | None = None,
        uniques: Sequence[Unique | None] | None = None,
        shares: Sequence[Share | None] | None = None,
    ) -> list[Inserted]:
        """Group commit: inserts that arrive while one is being written share the next commit.

        Each caller still gets its answer only after the commit that holds its rows, and a
        duplicate id, or a value the driver cannot bind, fails only its own batch (a
        savepoint per batch): one caller's bad input never fails another caller's insert.
        """
        done: asyncio.Future[list[Inserted]] = asyncio.get_running_loop().create_future()
        self._pending.append(((list(tasks), job, uniques or None, shares), done))
        if len(self._pending) == 1:
            writer = asyncio.get_running_loop().create_task(self._write_pending_inserts())
            self._writers.add(writer)
            writer.add_done_callback(self._writers.discard)
        return await done

    async def _write_pending_inserts(self) -> None:
        async with self._lock:
            batches, self._pending = self._pending, []
            if not batches:
                return
            try:
                results = await self._run(self._insert_batches, [b for b, _ in batches])
            except Exception as exc:  # the store failed: every waiting caller hears it
                for _, done in batches:
                    if not done.done():
                        done.set_exception(exc)
                return
            for (_, done), result in zip(batches, results, strict=True):
                if done.done():
                    continue
                if isinstance(result, BaseException):
                    done.set_exception(result)
                else:
                    done.set_result(result)

    def _insert_batches(self, batches: list[_Batch]) -> list[list[Inserted] | RotaError]:
        with self._write() as db:
            results: list[list[Inserted] | RotaError] = []
            for tasks, job, uniques, shares in batches:
                db.execute("SAVEPOINT batch")
                try:
                    if uniques:
                        results.append(self._insert_unique(tasks, job, uniques, shares))
                    else:
                        if shares:
                            tasks = self._placed(tasks, shares)
                        results.append(self._insert_many(tasks, job))
                except (DuplicateKey, ValidationError) as exc:  # a rejected key: nothing stored
                    db.execute("ROLLBACK TO batch")
                    results.append(exc)
                except sqlite3.IntegrityError:
                    db.execute("ROLLBACK TO batch")
                    results.append(self._duplicate(tasks, job))
                except (ValueError, TypeError, OverflowError, sqlite3.InterfaceError,
                        sqlite3.ProgrammingError) as exc:  # fmt: skip
                    # a value this batch carries that SQLite cannot bind (the service's
                    # checks should have caught it): this batch alone is refused
                    db.execute("ROLLBACK TO batch")
                    results.append(ValidationError(f"the store cannot hold this task: {exc}"))
                db.execute("RELEASE batch")
        ready = {q for r in results if isinstance(r, list) for q in _ready_queues(r)}
        if ready:
            self._announce(ready)
        return results

    def _insert_many(self, tasks: list[Task], job: Job | None) -> list[Inserted]:
        """Insert one batch inside the caller's transaction."""
        db = self._db()
        if job is not None:
            needs = orjson.dumps(job.needs).decode() if job.needs else None
            db.execute(
                Q["insert_job"], (job.id, job.name, job.tenant, to_us(job.created_at), needs)
            )
        first = db.execute(Q["max_seq"]).fetchone()[0] + 1
        stored = [
            t.evolve(seq=first + i, place=float(first + i) if t.place < 0 else t.place)
            for i, t in enumerate(tasks)
        ]
        us = functools.lru_cache(maxsize=64)(to_us)  # a batch shares a few timestamps
        db.executemany(
            Q["insert_task"],
            [
                (
                    t.seq,
                    t.id,
                    t.queue,
                    t.kind,
                    orjson.dumps(t.payload).decode(),
                    t.priority,
                    t.state.value,
                    t.state.value,
                    t.attempt,
                    t.max_attempts,
                    t.timeout,
                    t.tenant,
                    t.job_id,
                    us(t.run_at),
                    us(t.created_at),
                    dump(t.retry),
                    None if t.expires_at is None else us(t.expires_at),
                    t.place,
                    dump(list(t.requires)) if t.requires else None,
                    t.trace,
                )
                for t in stored
            ],
        )
        return [Inserted(t) for t in stored]

    def _insert_unique(
        self,
        tasks: list[Task],
        job: Job | None,
        uniques: Sequence[Unique | None],
        shares: Sequence[Share | None] | None,
    ) -> list[Inserted]:
        """A batch whose tasks hold unique keys (rota.core.dedup), inside the caller's
        transaction: the stored holders are read, the plan made, then applied; the tasks
        that go in take their fair places."""
        db = self._db()
        keys = orjson.dumps([u.key for u in uniques if u is not None]).decode()
        stored = {
            row[0]: dedup.Held(None if row[4] is None else to_task(row[4:]), bool(row[2]),
                               opt_time(row[3]))
            for row in db.execute(Q["get_uniques"], (keys,))
        }  # fmt: skip
        now = tasks[0].created_at
        steps = dedup.plan(tasks, uniques, stored, now)
        going = [step.holder is None or step.action == "replace" for step in steps]
        fresh = [t for t, go in zip(tasks, going, strict=True) if go]
        if shares:
            fresh = self._placed(fresh, [s for s, go in zip(shares, going, strict=True) if go])
        made = iter(self._insert_many(fresh, job))
        out = []
        for task, step, unique in zip(tasks, steps, uniques, strict=True):
            holder = step.holder
            if holder is not None and step.action != "replace":
                out.append(Inserted(self._keep(step, holder, task), existing=True))
                continue
            inserted = next(made)
            if holder is not None and holder.state in WAITING_STATES:
                self._changed(Q["cancel"], (to_us(now), holder.id, holder.state.value),
                              "canceled", holder, now, f"replaced by {task.id}")  # fmt: skip
            if unique is not None:
                until = None if unique.until is None else to_us(unique.until)
                db.execute(Q["put_unique"], (unique.key, task.id, unique.while_running, until))
            out.append(inserted)
        return out

    def _placed(self, tasks: list[Task], shares: Sequence[Share | None]) -> list[Task]:
        """The tasks, those with a share at their fair places (rota.core.fairness), their
        keys' passes moved on, inside the caller's transaction (which holds the file's
        write lock)."""
        db = self._db()
        placed = list(tasks)
        for queue, members in fairness.by_queue([t.queue for t in tasks], shares):
            found = db.execute(Q["fair_head"], (queue,)).fetchone()
            keys = sorted({share.key for _, share in members} | {fairness.CLOCK})
            rows = db.execute(Q["fair_passes"], (queue, orjson.dumps(keys).decode()))
            counters = dict(rows.fetchall())
            head = None if found is None else found[0]
            given = fairness.places(counters, head, [share for _, share in members])
            for (i, _), place in zip(members, given, strict=True):
                placed[i] = placed[i]._replace(place=place)
            db.executemany(Q["fair_put"], [(queue, key, counters[key]) for key in keys])
        return placed

    def _keep(self, step: dedup.Step, holder: Task, task: Task) -> Task:
        """The holder an insert answers with, changed as its step says."""
        now = task.created_at
        if step.action == "update_payload":
            payload = orjson.dumps(task.payload).decode()
            return self._changed(Q["set_payload"], (payload, holder.id, holder.state.value),
                                 "payload_updated", holder, now, None)  # fmt: skip
        if step.action == "raise_priority" and task.priority > holder.priority:
            raise_args = (task.priority, None, None, holder.id, holder.state.value)
            message = f"priority {task.priority}"
            return self._changed(Q["set_priority"], raise_args, "priority_changed", holder, now,
                                 message)  # fmt: skip
        change = step.change
        if change is not None:
            if change.payload is not None:
                payload = orjson.dumps(change.payload).decode()
                holder = self._changed(Q["set_payload"], (payload, holder.id, holder.state.value),
                                       "payload_updated", holder, now, None)  # fmt: skip
            if change.priority is not None or change.place is not None:
                priority = holder.priority if change.priority is None else change.priority
                args = (priority, None, change.place, holder.id, holder.state.value)
                holder = self._changed(Q["set_priority"], args, "priority_changed", holder, now,
                                       change.message(holder))  # fmt: skip
        return holder

    def _changed(
        self, query: str, args: tuple[Any, ...], kind: str, before: Task, now: datetime,
        message: str | None,
    ) -> Task:  # fmt: skip
        """A guarded change of a task the caller's transaction read, and its event."""
        row = self._db().execute(query, args).fetchone()
        if row is None:  # not possible inside the transaction that read it
            raise StoreError(f"task {before.id!r} changed during the insert")
        task = to_task(row)
        event = (task.id, to_us(now), kind, before.state.value, task.state.value, task.worker_id)
        add_events(self._db(), [(*event, message, None)])
        return task

    def _duplicate(self, tasks: list[Task], job: Job | None) -> DuplicateTask:
        """Name the id that broke a batch (called after its rows were rolled back)."""
        ids = orjson.dumps([t.id for t in tasks]).decode()
        taken = [r[0] for r in self._db().execute(Q["existing_ids"], (ids,))]
        if not taken:  # or the batch names one id twice
            seen: set[str] = set()
            for t in tasks:
                if t.id in seen:
                    taken.append(t.id)
                    break
                seen.add(t.id)
        what = f"task id {taken[0]!r}" if taken else f"job id {job.id if job else ''!r}"
        return DuplicateTask(f"{what} already exists")


def _ready_queues(inserted: list[Inserted]) -> set[str]:
    """The queues of the tasks an insert stored that a claim can take now (not those only
    scheduled)."""
    return {i.task.queue for i in inserted if not i.existing and i.task.state is TaskState.QUEUED}
