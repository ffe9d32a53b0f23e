"""The worker runtime: claim in batches, run with bounded concurrency, heartbeat, report.

One loop claims as many tasks as there are free slots (long-polling when idle), each task
runs in its own asyncio task, a heartbeat loop keeps leases alive, and a reporter sends
results in batches: whatever finished while the previous report was in flight goes in the
next one, so batching adds no waiting. On stop it claims no more, gives running tasks
``grace`` seconds, then cancels the rest and releases them back to the queue.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import os
import socket
import traceback
import uuid
from collections.abc import Awaitable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

import orjson

from rota import tracing
from rota.core import limits
from rota.core.errors import ClientError, Conflict, NotFound, ServerError, StoreError
from rota.core.models import Task, WorkerInfo
from rota.service import Completion, Failure
from rota.worker import aio
from rota.worker.cancels import CancelWatch
from rota.worker.logbook import Logbook
from rota.worker.processes import ChildError, run_in_process
from rota.worker.registry import Canceled, Handler, Registry, RetryLater, TaskContext
from rota.worker.sources import Source

log = logging.getLogger("rota.worker")
RETRYABLE_IO = (ClientError, StoreError)
LINGER = 0.002  # seconds a claim may wait for more free slots


def default_worker_id() -> str:
    return f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:6]}"


@dataclass(frozen=True, slots=True)
class WorkerOptions:
    #: tasks run at once, and so the most one claim fetches. Chosen by measurement
    #: (docs/workers.md, "Defaults"): in process, two workers drained no-op tasks about
    #: twice as fast at 64 as at 10, and no faster beyond; over HTTP, where each claim is a
    #: round trip through ``rota serve``, 128 drained 22-41% faster than 64. Threads for
    #: sync handlers start only as they are needed.
    concurrency: int = 128
    queues: tuple[str, ...] | None = None
    claim_wait: float = 2.0
    #: what this worker can run (``rota worker --capability``): tasks that require more are
    #: left to other workers
    capabilities: tuple[str, ...] = ()
    heartbeat_interval: float = 10.0
    grace: float = 30.0
    #: after a cancel request, how long a handler that takes the TaskContext may take to
    #: stop by itself (one that does not take it is stopped at once: it cannot be told)
    cancel_grace: float = 5.0
    #: how often a worker running tasks asks whether any was canceled (one read request;
    #: none while idle). 0: only heartbeats carry cancel requests (every heartbeat_interval)
    cancel_check_interval: float = 0.5
    #: seconds between the log's summary lines (printed only when something happened)
    summary_interval: float = 30.0
    #: where sync handlers run unless their registration says otherwise
    executor: Literal["thread", "process"] = "thread"
    #: serve this worker's own metrics (rota.metrics.worker) on this port; None: do not
    metrics_port: int | None = None
    metrics_host: str = "127.0.0.1"


@dataclass(slots=True)
class _Run:
    task: Task
    #: made only for handlers that take it (most do not, and a context costs an Event)
    context: TaskContext | None = None
    job: asyncio.Task[None] | None = None
    last_beat: float = 0.0  # the loop's clock
    started: float = 0.0
    why_stopped: str | None = None  # "release", "cancel" or "lost" when we cancel it


class Worker:
    def __init__(
        self,
        source: Source,
        registry: Registry,
        *,
        worker_id: str | None = None,
        options: WorkerOptions | None = None,
    ) -> None:
        self.source = source
        self.registry = registry
        self.id = worker_id or default_worker_id()
        self.name = f"{socket.gethostname()}-{os.getpid()}"
        self.options = options or WorkerOptions()
        # Keyed by the lease, not the task: a worker can be handed a task again while it
        # still runs an older attempt of it (the old lease expired, or a database crash
        # undid the claim). Both runs are tracked; the old one's heartbeat is refused and
        # stops it, and its report is refused.
        self._running: dict[tuple[str, int], _Run] = {}
        self._slot_free = asyncio.Event()
        self._done: list[Completion] = []
        self._failed: list[Failure] = []
        self._to_report = asyncio.Event()
        self._threads: ThreadPoolExecutor | None = None
        self._retired: list[ThreadPoolExecutor] = []
        self.processed = 0
        self._lingered = False
        self._abandoned = 0  # sync handlers cancelled while their thread ran on
        self.book = Logbook(self.id, summary_interval=self.options.summary_interval)
        #: what asked the worker to stop (signals' names), for its stop line; the last wins
        self.stop_reasons: list[str] = []
        self.released = 0
        #: the port its metrics are served on, once serving (WorkerOptions.metrics_port)
        self.metrics_port: int | None = None

    # -- the main loop ---------------------------------------------------------------------

    async def run(self, stop: asyncio.Event) -> None:
        self._threads = self._new_threads()
        where = getattr(self.source, "where", type(self.source).__name__)
        self.book.started(where, self.options.queues, self.options.concurrency)
        metrics_server = self._serve_metrics()
        reporter = asyncio.create_task(self._report_loop())
        beater = asyncio.create_task(self._heartbeat_loop())
        claimer = asyncio.create_task(self._claim_loop(stop))
        helpers = [asyncio.create_task(self.book.run())]
        if self.options.cancel_check_interval > 0:
            watch = CancelWatch(self.source, self.id, self.options.cancel_check_interval)
            helpers.append(asyncio.create_task(watch.run(self._watched, self._cancel_requested)))
        try:
            await aio.first(asyncio.shield(claimer), stop.wait())
            if claimer.done():
                claimer.result()  # the loop ends by itself only on an error: raise it
            # Stopping. The grace period starts now, not when a long-poll claim in flight
            # comes back (up to claim_wait later), and what that claim brings is handed
            # back. Reports wait until it is back: a released task reported earlier could
            # be handed straight back to that very claim.
            await aio.halt(reporter)  # a batch it was sending goes back in the buffer
            await self._drain()
            await claimer
        finally:
            for helper in helpers:
                await aio.halt(helper)
            await aio.halt(claimer)
            await aio.halt(beater)
            await aio.halt(reporter)
            await self._flush_all()  # everything that is left
            why = self.stop_reasons[-1] if self.stop_reasons else "stop requested"
            self.book.stopped(why, released=self.released)
            if metrics_server is not None:
                metrics_server.shutdown()
                metrics_server.server_close()
            # Idle threads end at once; only threads still running a released sync
            # handler are left behind (the CLI then exits without waiting for them).
            self._threads.shutdown(wait=self._abandoned == 0, cancel_futures=True)

    def info(self) -> WorkerInfo:
        """What the worker registers as; the server sets the times."""
        from rota import __version__

        epoch = datetime.fromtimestamp(0, UTC)
        return WorkerInfo(
            id=self.id,
            name=self.name,
            host=socket.gethostname(),
            queues=self.options.queues,
            capabilities=self.options.capabilities,
            concurrency=self.options.concurrency,
            version=__version__,
            started_at=epoch,
            last_seen_at=epoch,
        )

    def _serve_metrics(self) -> Any:
        """This worker's metrics server when --metrics-port asks for one (prometheus-client
        is imported only then: a worker loads what it uses)."""
        port = self.options.metrics_port
        if port is None:
            return None
        from rota.metrics.worker import WorkerMetrics

        metrics = WorkerMetrics(self.options.concurrency, lambda: len(self._running))
        self.book.on_end = metrics.ended
        server = metrics.serve(self.options.metrics_host, port)
        self.metrics_port = int(server.server_port)
        log.info("worker metrics at http://%s:%d/metrics", self.options.metrics_host,
                 self.metrics_port)  # fmt: skip
        return server

    async def _claim_loop(self, stop: asyncio.Event) -> None:
        failures = 0
        registered = False
        while not stop.is_set():
            if not registered:  # at start, and again after the server was unreachable
                try:
                    await self.source.register(self.info())
                    registered = True
                except RETRYABLE_IO as exc:
                    if isinstance(exc, ServerError) and exc.status_code < 500:
                        # A server that refuses registration still hands out work.
                        log.warning("not registered (%s); claiming all the same", exc)
                        registered = True
                        continue
                    failures += 1
                    delay = min(0.1 * 2**failures, 5.0)
                    _say_failing("registration", failures, exc, delay)
                    await aio.first(asyncio.sleep(delay), stop.wait())
                    continue
            self._slot_free.clear()
            free = self.options.concurrency - len(self._running)
            backlog = len(self._done) + len(self._failed)
            if self.source.carries_reports:
                backlog -= limits.MAX_BATCH  # this claim takes that many along
            if backlog >= limits.MAX_BATCH:
                # Backpressure: a whole report is waiting to be sent. Claiming on would let
                # unreported results pile up without bound when handlers outrun the store.
                free = 0
            if free <= 0:
                await aio.first(self._slot_free.wait(), stop.wait())
                continue
            if free < self.options.concurrency // 2 and not self._lingered:
                # Most slots are busy and will free soon: a moment's wait makes the next
                # claim a bigger batch (fewer round trips) at a cost of at most LINGER.
                self._lingered = True
                await aio.first(asyncio.sleep(LINGER), stop.wait())
                continue
            self._lingered = False
            # What finished since the last report rides along: one request, not two.
            done: list[Completion] = []
            failed: list[Failure] = []
            if self.source.carries_reports:
                done, failed = self._take_results()
            try:
                tasks = await self.source.claim(
                    self.id,
                    self.options.queues,
                    free,
                    self.options.claim_wait,
                    done,
                    failed,
                    self.options.capabilities,
                )
                if failures:
                    log.info("claiming again after %d failed attempts", failures)
                failures = 0
            except BaseException as exc:
                # Not sent, or not known to be: the reporter sends them (repeats are harmless).
                self._done[:0], self._failed[:0] = done, failed
                if done or failed:
                    self._to_report.set()
                if not isinstance(exc, RETRYABLE_IO):
                    raise
                registered = False
                failures += 1
                delay = min(0.1 * 2**failures, 5.0)
                _say_failing("claim", failures, exc, delay)
                await aio.first(asyncio.sleep(delay), stop.wait())
                continue
            if stop.is_set():  # answered after the stop: hand them straight back
                for task in tasks:
                    # Never started: give the attempt back and make it due at once, as a
                    # RetryLater(0) would (no backoff, no attempt spent).
                    self._failed.append(
                        Failure(
                            task.id,
                            task.lease_token,
                            "released: the worker stopped before the task started",
                            kind="released",
                            retry_after=0.0,
                        )
                    )
                self.released += len(tasks)
                self._to_report.set()
                break
            for task in tasks:
                self._start(task)

    async def _drain(self) -> None:
        """Let running tasks finish within ``grace``; cancel and release the rest."""
        jobs = [r.job for r in self._running.values() if r.job is not None]
        if not jobs:
            return
        log.info(
            "stopping: waiting up to %.0fs for %d running tasks", self.options.grace, len(jobs)
        )
        _, pending = await asyncio.wait(jobs, timeout=self.options.grace)
        for run in list(self._running.values()):
            if run.job in pending:
                run.why_stopped = "release"
                run.job.cancel()
        if pending:
            await asyncio.wait(pending)

    # -- running one task -----------------------------------------------------------------

    def _start(self, task: Task) -> None:
        now = asyncio.get_running_loop().time()
        run = _Run(task, last_beat=now, started=now)
        self._running[task.id, task.lease_token] = run
        handler = self.registry.get(task.kind)
        args: tuple[TaskContext, ...] = ()
        if handler is not None and handler.pass_context:
            run.context = TaskContext(task, self.id)
            run.context.reporter = functools.partial(self._report_progress, run)
            args = (run.context,)
        traced = task.trace is not None and tracing.recording()
        if (traced or handler is None or self._executor(handler) != "asyncio"
                or task.timeout is not None):  # fmt: skip
            call = self._call(run, args)
            run.job = asyncio.create_task(
                self._execute(run, _traced(task, call) if traced else call)
            )
            return
        # Eager start, as Python 3.12's eager tasks do: a handler that finishes without
        # waiting (most small async handlers) never costs an asyncio task.
        try:
            coro = handler.fn(*args, **task.payload)
            waiting_on = coro.send(None)
        except StopIteration as done:
            self._settle(run, result=done.value)
            return
        except Exception as exc:
            self._settle(run, error=exc)
            return
        run.job = asyncio.create_task(self._execute(run, aio.resume(coro, waiting_on)))

    async def _execute(self, run: _Run, call: Awaitable[Any]) -> None:
        try:
            result = await call
        except BaseException as exc:  # a handler's failure, a timeout or our own cancel
            self._settle(run, error=exc)
            return
        self._settle(run, result=result)

    def _settle(self, run: _Run, result: Any = None, error: BaseException | None = None) -> None:
        """Record how a run ended, and free its slot."""
        task = run.task
        book = self.book
        if error is None:
            if result is None or _is_json(result):
                self._done.append(Completion(task.id, task.lease_token, result))
                book.succeeded(task)
            else:
                self._fail(task, f"result is not JSON: {type(result).__name__}", retryable=False)
        elif isinstance(error, asyncio.CancelledError):
            if self._in_thread(task):
                self._abandoned += 1
                self._replace_threads()
            if run.why_stopped == "release":
                self.released += 1
                reason = "released: the worker stopped before the task finished"
                book.released(task, reason)
                self._fail(task, reason, note=False)
            elif run.why_stopped == "cancel":
                self._fail(task, "canceled while running", retryable=False, note=False)
                book.canceled(task)
            # "lost": the lease is gone, a report would be refused; say nothing.
        elif run.why_stopped == "cancel" or isinstance(error, Canceled):
            # The handler stopped (raising) after the cancel request: canceled, not failed.
            self._fail(task, f"canceled while running: {error}", retryable=False, note=False)
            book.canceled(task)
        elif isinstance(error, RetryLater):
            book.retry_later(task, error.delay, str(error))
            self._failed.append(
                Failure(
                    task.id,
                    task.lease_token,
                    str(error),
                    kind="RetryLater",
                    retry_after=error.delay,
                )
            )
        elif isinstance(error, TimeoutError):
            text = f"timeout: the run took longer than {task.timeout}s"
            self._fail(task, text, kind="timeout", note=False)
            book.timed_out(task)
            if self._in_thread(task):
                self._replace_threads()  # the stuck thread keeps running: give its slot back
        elif isinstance(error, ChildError):
            self._fail(task, str(error), kind=error.kind)
        else:
            said = f"{type(error).__name__}: {error}"  # the log's line; the server's traceback
            self._fail(task, _describe(error), kind=type(error).__name__, said=said)
        del self._running[task.id, task.lease_token]
        self.processed += 1
        self._slot_free.set()
        self._to_report.set()

    async def _call(self, run: _Run, args: tuple[TaskContext, ...]) -> Any:
        task = run.task
        handler = self.registry.get(task.kind)
        if handler is None:
            raise LookupError(
                f"no handler named {task.kind!r} on worker {self.id} "
                f"(it has: {', '.join(self.registry.names())})"
            )
        call: Awaitable[Any]
        executor = self._executor(handler)
        if executor == "asyncio":
            call = handler.fn(*args, **task.payload)
        elif executor == "process":
            call = run_in_process(handler.fn, task.payload)
        else:
            fn = functools.partial(handler.fn, *args, **task.payload)
            call = asyncio.get_running_loop().run_in_executor(self._threads, fn)
        if task.timeout is not None:
            return await asyncio.wait_for(call, task.timeout)
        return await call

    def _fail(
        self,
        task: Task,
        error: str,
        *,
        retryable: bool = True,
        kind: str | None = None,
        note: bool = True,
        said: str | None = None,
    ) -> None:
        if note:
            self.book.failed(task, said or error, retryable=retryable)
        # An exception's text may hold lone surrogates (a file name decoded with
        # surrogateescape): replaced here, as JSON cannot carry them to the server.
        text = error if error.isascii() else error.encode("utf-8", "replace").decode()
        self._failed.append(Failure(task.id, task.lease_token, text, retryable, kind))

    def _executor(self, handler: Handler) -> str:
        if handler.executor is not None:
            return handler.executor
        return "asyncio" if handler.is_async else self.options.executor

    def _in_thread(self, task: Task) -> bool:
        handler = self.registry.get(task.kind)
        return handler is not None and self._executor(handler) == "thread"

    def _replace_threads(self) -> None:
        """A thread that runs on past its task's end still holds a pool slot: start a new
        pool for what comes next and let the old one wind down on its own."""
        old, self._threads = self._threads, self._new_threads()
        if old is not None:
            old.shutdown(wait=False)
            self._retired.append(old)

    def _new_threads(self) -> ThreadPoolExecutor:
        return ThreadPoolExecutor(self.options.concurrency, thread_name_prefix="rota-task")

    # -- reporting and heartbeats ---------------------------------------------------------

    async def _report_loop(self) -> None:
        while True:
            await self._to_report.wait()
            self._to_report.clear()
            await self._flush()

    def _take_results(self) -> tuple[list[Completion], list[Failure]]:
        """Up to one report's worth (MAX_BATCH) of the results waiting to be sent."""
        room = limits.MAX_BATCH
        done, self._done = self._done[:room], self._done[room:]
        room -= len(done)
        failed, self._failed = self._failed[:room], self._failed[room:]
        if self._done or self._failed:
            self._to_report.set()  # the rest goes in the next report
        self._slot_free.set()  # the backlog shrank: a claim held back may go on
        return done, failed

    async def _flush(self) -> bool:
        if not self._done and not self._failed:
            return True
        done, failed = self._take_results()
        try:
            await self.source.report(self.id, done, failed)
            return True
        except asyncio.CancelledError:
            # Cancelled mid-send: keep the batch; a repeated report is answered idempotently.
            self._done[:0], self._failed[:0] = done, failed
            raise
        except RETRYABLE_IO as exc:
            log.warning("report failed (%s); will retry", exc)
            self._done[:0], self._failed[:0] = done, failed
            await asyncio.sleep(0.5)
            self._to_report.set()
            return False

    async def _flush_all(self) -> None:
        failures = 0
        while (self._done or self._failed) and failures < 20:
            if not await self._flush():
                failures += 1

    async def _heartbeat_loop(self) -> None:
        interval = self.options.heartbeat_interval
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(min(interval / 2, 1.0))
            due = [r for r in self._running.values() if loop.time() - r.last_beat >= interval]
            if due:
                await asyncio.gather(*(self._beat(r) for r in due))

    async def _beat(self, run: _Run) -> None:
        run.last_beat = asyncio.get_running_loop().time()
        try:
            cancel = await self.source.heartbeat(run.task.id, run.task.lease_token)
        except (Conflict, NotFound):
            self.book.lost(run.task)
            self._stop_run(run, "lost")
            return
        except RETRYABLE_IO as exc:
            log.warning("heartbeat of %s failed: %s", run.task.id, exc)
            return
        if cancel:
            self._cancel_requested(run)

    async def _report_progress(self, run: _Run, progress: Any) -> None:
        run.last_beat = asyncio.get_running_loop().time()
        try:
            cancel = await self.source.heartbeat(run.task.id, run.task.lease_token, progress)
        except (Conflict, NotFound):
            self._stop_run(run, "lost")
            return
        if cancel:
            self._cancel_requested(run)

    def _watched(self, min_age: float) -> list[tuple[str, int]]:
        """The leases whose cancel requests are worth asking about: runs at least
        ``min_age`` old (a worker draining short tasks asks nothing), not stopping yet."""
        now = asyncio.get_running_loop().time()
        return [
            key
            for key, run in self._running.items()
            if run.why_stopped is None and now - run.started >= min_age
        ]

    def _cancel_requested(self, key: tuple[str, int] | _Run) -> None:
        """Ask the handler to stop; stop it by force if it has not ended after the grace.

        A handler that does not take the TaskContext cannot be asked: it is stopped at once
        (an async one gets CancelledError, a process is killed, a thread is abandoned)."""
        run = self._running.get(key) if isinstance(key, tuple) else key
        if run is None or run.why_stopped is not None:
            return
        run.why_stopped = "cancel"
        if run.context is None:
            self._stop_run(run, "cancel")
            return
        run.context.cancel_requested.set()
        loop = asyncio.get_running_loop()
        loop.call_later(self.options.cancel_grace, self._stop_run, run, "cancel")

    @staticmethod
    def _stop_run(run: _Run, why: str) -> None:
        if run.job is not None and not run.job.done():
            run.why_stopped = why
            run.job.cancel()


async def _traced(task: Task, call: Awaitable[Any]) -> Any:
    """The run inside a ``rota.run`` span that continues the task's trace (rota.tracing),
    so the handler's own spans join the submitter's trace."""
    attributes = {"task.id": task.id, "kind": task.kind, "queue": task.queue,
                  "attempt": task.attempt}  # fmt: skip
    with tracing.span("rota.run", task.trace, **attributes):
        return await call


def _say_failing(what: str, failures: int, exc: BaseException, delay: float) -> None:
    """The first failure, then about one line a minute while the server stays away."""
    if failures == 1 or failures % 12 == 0:
        log.warning("%s failed (%d in a row: %s); retrying in %.1fs", what, failures, exc, delay)


def _is_json(value: Any) -> bool:
    try:
        orjson.dumps(value)
    except TypeError:
        return False
    return True


def _describe(exc: BaseException) -> str:
    return "".join(traceback.format_exception(exc)).strip()
