"""What a worker logs: a line per failure, timeout, cancel; successes at DEBUG only; a
summary when something happened; start and stop lines; JSON when asked."""

from __future__ import annotations

import asyncio
import logging
import time

import orjson
import pytest

from rota.core.states import TaskState as S
from rota.logs import JsonFormatter
from rota.service import Service, TaskSpec
from rota.worker import Registry, ServiceSource, TaskContext, Worker, WorkerOptions
from rota.worker.logbook import Logbook, one_line
from tests.contract.helpers import make_task
from tests.unit.test_worker_runtime import run_until, service  # noqa: F401 (a fixture)

registry = Registry()


@registry.task("ok")
async def ok() -> int:
    return 1


@registry.task("boom")
async def boom() -> None:
    raise ValueError("the disk is full\nsecond line")


@registry.task("slow")
async def slow() -> None:
    await asyncio.sleep(5)


@registry.task("slow_sync")
def slow_sync(seconds: float) -> None:
    time.sleep(seconds)


@registry.task("waits_for_cancel", pass_context=True)
async def waits_for_cancel(ctx: TaskContext) -> None:
    await asyncio.sleep(30)


def lines(caplog: pytest.LogCaptureFixture, level: int = logging.INFO) -> list[str]:
    return [
        r.getMessage() for r in caplog.records if r.name == "rota.worker" and r.levelno >= level
    ]


async def test_failures_name_the_task_and_successes_stay_quiet(
    service: Service,  # noqa: F811
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG, logger="rota.worker")
    good = [(await service.enqueue(TaskSpec("ok", {}))).id for _ in range(20)]
    bad = (await service.enqueue(TaskSpec("boom", {}, queue="mail", max_attempts=1))).id
    timed = (await service.enqueue(TaskSpec("slow", {}, timeout=0.05, max_attempts=2))).id
    await run_until(service, [*good, bad], registry)
    await run_until(service, [timed], registry)  # its retry runs too, and fails for good
    said = lines(caplog)
    assert any(s.startswith("worker ") and " started: " in s for s in said)
    (failure,) = [s for s in said if bad in s]
    assert failure == (
        f"task {bad} failed, no retry (kind=boom queue=mail attempt=1/1): "
        "ValueError: the disk is full | second line"
    )
    timeouts = [s for s in said if timed in s]
    assert [s.split(" (")[0] for s in timeouts] == [
        f"task {timed} timed out",
        f"task {timed} timed out",
    ]
    assert not any(g in s for s in said for g in good)  # no INFO line per success
    debug = [r.getMessage() for r in caplog.records if r.levelno == logging.DEBUG]
    assert sum(1 for s in debug if "succeeded" in s) == 20
    assert any(" stopped (stop requested)" in s for s in said)


async def test_a_cancel_is_one_line_and_not_a_failure(
    service: Service,  # noqa: F811
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="rota.worker")
    task_id = (await service.enqueue(TaskSpec("waits_for_cancel", {}))).id
    worker = Worker(
        ServiceSource(service),
        registry,
        options=WorkerOptions(claim_wait=0.05, cancel_check_interval=0.05, cancel_grace=0.1),
    )
    stop = asyncio.Event()
    running = asyncio.create_task(worker.run(stop))
    while (await service.get(task_id)).state != S.RUNNING:  # noqa: ASYNC110
        await asyncio.sleep(0.01)
    await service.cancel(task_id)
    while (await service.get(task_id)).state != S.CANCELED:  # noqa: ASYNC110
        await asyncio.sleep(0.01)
    stop.set()
    await running
    said = lines(caplog)
    assert [s.split(" (")[0] for s in said if task_id in s] == [f"task {task_id} canceled"]
    assert worker.book.total.failed == 0 and worker.book.total.canceled == 1


def test_the_summary_only_when_something_happened(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="rota.worker")
    book = Logbook("w")
    book.summarize()
    assert lines(caplog) == []
    book.succeeded(make_task("a"))
    book.failed(make_task("b"), "boom")
    book.summarize()
    book.summarize()
    (line,) = [s for s in lines(caplog) if s.startswith("last ")]  # the second: nothing new
    assert "1 done, 1 failed" in line


def test_json_lines_carry_the_task_fields(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="rota.worker")
    Logbook("w").failed(make_task("t1"), "Traceback (most recent call last):\n  x\nKeyError: 'k'")
    (record,) = caplog.records
    line = orjson.loads(JsonFormatter().format(record))
    assert line["level"] == "warning" and line["event"] == "task.failed"
    assert (line["task_id"], line["reason"], line["worker_id"]) == ("t1", "KeyError: 'k'", "w")
    assert {"kind", "queue", "attempt", "max_attempts", "time", "message"} <= set(line)


def test_one_line_is_bounded() -> None:
    assert len(one_line("x" * 5000)) == 300
