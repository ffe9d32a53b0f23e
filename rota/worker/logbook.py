"""What a worker tells its log: enough to know what happened, never a line per request.

One line per failure, retry, timeout and cancel (task id, kind, queue, attempt, reason);
successes only at DEBUG; a summary at a fixed interval, at INFO, and only when something
happened since the previous one; a start and a stop line with totals. A worker that drains
10,000 tasks without trouble prints its start line, a summary or two, and its stop line.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from rota.core.models import Task

log = logging.getLogger("rota.worker")
#: the longest reason a line carries (the server keeps the whole traceback)
REASON_CHARS = 300


@dataclass(slots=True)
class _Counts:
    done: int = 0
    failed: int = 0
    canceled: int = 0

    def __bool__(self) -> bool:
        return bool(self.done or self.failed or self.canceled)

    def text(self) -> str:
        canceled = f", {self.canceled} canceled" if self.canceled else ""
        return f"{self.done} done, {self.failed} failed{canceled}"


class Logbook:
    def __init__(self, worker_id: str, *, summary_interval: float = 30.0) -> None:
        self.worker_id = worker_id
        #: told of every run's end, with its outcome (rota.metrics.worker.OUTCOMES)
        self.on_end: Callable[[Task, str], None] | None = None
        self.summary_interval = summary_interval
        self.total = _Counts()
        self._window = _Counts()
        self._window_start = time.monotonic()
        self._started = time.monotonic()

    # -- one task ------------------------------------------------------------------------

    def _ended(self, task: Task, outcome: str) -> None:
        if self.on_end is not None:
            self.on_end(task, outcome)

    def succeeded(self, task: Task) -> None:
        self._ended(task, "succeeded")
        self.total.done += 1
        self._window.done += 1
        if log.isEnabledFor(logging.DEBUG):
            self._line(logging.DEBUG, "succeeded", task, None, "task.succeeded")

    def failed(self, task: Task, reason: str, *, retryable: bool = True) -> None:
        """A failure the server will retry while attempts remain (its policy decides)."""
        left = retryable and task.attempt < task.max_attempts
        self._failed(task, "failed" if left else "failed, no retry", reason, "task.failed")

    def timed_out(self, task: Task) -> None:
        reason = f"the run took longer than {task.timeout}s"
        self._failed(task, "timed out", reason, "task.timeout", "timed_out")

    def canceled(self, task: Task) -> None:
        self._ended(task, "canceled")
        self.total.canceled += 1
        self._window.canceled += 1
        reason = "a cancel was requested while it ran"
        self._line(logging.INFO, "canceled", task, reason, "task.canceled")

    def retry_later(self, task: Task, delay: float, reason: str) -> None:
        """Not a failure (the attempt is given back), but worth a line."""
        self._line(logging.INFO, f"retry in {delay:g}s", task, reason, "task.retry_later")

    def lost(self, task: Task) -> None:
        """Its heartbeat was refused: the lease expired and the task may run elsewhere."""
        self._ended(task, "lost")
        reason = "its heartbeat was refused; abandoning the run (another worker may have it)"
        self._line(logging.WARNING, "lost the lease", task, reason, "task.lease_lost")

    def released(self, task: Task, reason: str) -> None:
        self._ended(task, "released")
        self._line(logging.INFO, "released", task, reason, "task.released")

    def _failed(
        self, task: Task, what: str, reason: str, event: str, outcome: str = "failed"
    ) -> None:
        self._ended(task, outcome)
        self.total.failed += 1
        self._window.failed += 1
        self._line(logging.WARNING, what, task, reason, event)

    def _line(self, level: int, what: str, task: Task, reason: str | None, event: str) -> None:
        text = None if reason is None else one_line(reason)
        fields: dict[str, Any] = {
            "event": event,
            "task_id": task.id,
            "kind": task.kind,
            "queue": task.queue,
            "attempt": task.attempt,
            "max_attempts": task.max_attempts,
            "worker_id": self.worker_id,
        }
        if text is not None:
            fields["reason"] = text
        tail = "" if text is None else f": {text}"
        log.log(
            level,
            "task %s %s (kind=%s queue=%s attempt=%d/%d)%s",
            task.id, what, task.kind, task.queue, task.attempt, task.max_attempts, tail,
            extra={"rota": fields},
        )  # fmt: skip

    # -- the worker as a whole -----------------------------------------------------------

    def started(self, where: str, queues: tuple[str, ...] | None, concurrency: int) -> None:
        shown = ",".join(queues) if queues else "all"
        log.info(
            "worker %s started: %s, queues %s, concurrency %d",
            self.worker_id, where, shown, concurrency,
            extra={"rota": {"event": "worker.started", "worker_id": self.worker_id,
                            "url": where, "queues": None if queues is None else list(queues),
                            "concurrency": concurrency}},
        )  # fmt: skip

    def stopped(self, why: str, *, released: int) -> None:
        seconds = time.monotonic() - self._started
        log.info(
            "worker %s stopped (%s) after %.0fs: %s, %d released",
            self.worker_id, why, seconds, self.total.text(), released,
            extra={"rota": {"event": "worker.stopped", "worker_id": self.worker_id,
                            "why": why, "seconds": round(seconds, 1), "done": self.total.done,
                            "failed": self.total.failed, "canceled": self.total.canceled,
                            "released": released}},
        )  # fmt: skip

    def summarize(self) -> None:
        """The summary line, if anything ended since the previous one."""
        now = time.monotonic()
        window, seconds = self._window, max(now - self._window_start, 1e-9)
        self._window, self._window_start = _Counts(), now
        if not window:
            return
        rate = (window.done + window.failed + window.canceled) / seconds
        log.info(
            "last %.0fs: %s, %.1f/s (total %s)",
            seconds, window.text(), rate, self.total.text(),
            extra={"rota": {"event": "worker.summary", "worker_id": self.worker_id,
                            "seconds": round(seconds, 1), "done": window.done,
                            "failed": window.failed, "canceled": window.canceled,
                            "rate": round(rate, 1), "total_done": self.total.done,
                            "total_failed": self.total.failed,
                            "total_canceled": self.total.canceled}},
        )  # fmt: skip

    async def run(self) -> None:
        """Summarize every ``summary_interval`` seconds until cancelled."""
        self._window_start = time.monotonic()
        while True:
            await asyncio.sleep(self.summary_interval)
            self.summarize()


def one_line(text: str) -> str:
    """The last line of a traceback (the exception itself), or the text on one line."""
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    if len(lines) > 1 and lines[0].startswith("Traceback"):
        lines = lines[-1:]
    joined = " | ".join(lines)
    return joined if len(joined) <= REASON_CHARS else joined[: REASON_CHARS - 3] + "..."
