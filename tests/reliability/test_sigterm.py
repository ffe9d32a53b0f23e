"""SIGTERM under load: a worker that is asked to stop lets its running tasks finish within
the grace period and releases the rest at once: right after it exits, nothing is left
``running`` on it (nothing waits for the sweeper)."""

from __future__ import annotations

import asyncio
import signal
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

import pytest

from rota.core.models import Task, WorkerInfo
from rota.core.states import TaskState
from rota.service import Completion, Failure
from rota.worker import Worker, WorkerOptions
from tests.reliability.conftest import (
    STORES,
    Rig,
    Row,
    Supervisor,
    check_history,
    rng,
    sized,
    summary,
    wait_until,
)
from tests.reliability.handlers import registry

pytestmark = [pytest.mark.reliability, pytest.mark.slow]

TASKS = sized(2_000, 36)
TERMS = sized(30, 3)
WORKERS = 3
CONCURRENCY = 4
GRACE = sized(1.0, 0.5)
# ms of the tasks that outlast the grace period. In the short form they run at least 0.5 s
# past it: with 600-900 ms a victim's long task had often run long enough to finish in
# the 0.5 s grace, and a run could end with nothing released (2 of ~10 runs failed).
LONG = sized((1_100, 1_600), (1_000, 1_400))
LONG_SHARE = 0.15
MAX_ATTEMPTS = 50  # a release counts as an attempt; only lost work is a failure here


def _is_long(body: dict[str, Any]) -> bool:
    ms: int = body["payload"]["ms"]
    return ms >= LONG[0]


@pytest.mark.parametrize("store", STORES)
def test_sigterm_leaves_nothing_running(rig: Rig, figures: Callable[[Row], None]) -> None:
    rig.serve(wait=False)
    supervisor = Supervisor(rig, WORKERS, "term-w", concurrency=CONCURRENCY, grace=GRACE)
    rig.wait_healthy()
    random = rng(2_000)
    bodies = [
        {
            "kind": "work",
            "payload": {
                "ms": random.randint(*LONG)
                if random.random() < LONG_SHARE
                else random.randint(50, 300)
            },
            "max_attempts": MAX_ATTEMPTS,
        }
        for _ in range(TASKS)
    ]
    ids = rig.submit(bodies)
    long_ids = {i for i, b in zip(ids, bodies, strict=True) if _is_long(b)}
    step = TASKS / (TERMS + 1)
    terms: list[tuple[str, float]] = []
    exits: list[float] = []
    codes: list[int | None] = []
    stranded: list[str] = []
    stranded_tasks = 0  # still running on a worker right after it exited
    deadline = time.monotonic() + sized(1_800, 90)
    try:
        for n in range(1, TERMS + 1):
            while rig.store.states()["succeeded"] < n * step:
                assert time.monotonic() < deadline, f"stuck before SIGTERM {n}"
                time.sleep(0.02)
            picking = time.monotonic()
            # Preferably a worker running a task that outlasts the grace period beside one
            # that does not (both outcomes at once), then one with a long task, then any busy
            # one: with three SIGTERMs (the short form) chance alone left none finishing in
            # grace in 1 of 22 runs here (tasks finished in grace: 0-8, now 5-7).
            while True:
                running = rig.store.running()
                busy = {w for _, w in running}
                holding_long = {w for t, w in running if t in long_ids}
                holding_both = {w for t, w in running if t not in long_ids} & holding_long
                ready = [s for s in supervisor.live() if supervisor.ready(s)]
                victims = [s for s in ready if s.worker_id in holding_both]
                if not victims and time.monotonic() - picking > 1:
                    victims = [s for s in ready if s.worker_id in holding_long]
                if not victims and time.monotonic() - picking > 2:
                    victims = [s for s in ready if s.worker_id in busy]
                if victims:
                    break
                if rig.store.states()["succeeded"] >= len(ids):  # the work ran out: add some
                    more = bodies[: CONCURRENCY * WORKERS]
                    added = rig.submit(more)
                    ids += added
                    long_ids.update(i for i, b in zip(added, more, strict=True) if _is_long(b))
                assert time.monotonic() < deadline, "no worker runs anything"
                time.sleep(0.01)
            victim = random.choice(victims)
            at = supervisor.send(victim, signal.SIGTERM)
            codes.append(victim.proc.wait(GRACE + 30))
            exits.append(time.time() - at)
            terms.append((victim.worker_id, at))
            left = rig.store.running_by_worker()[victim.worker_id]
            if left:
                stranded_tasks += left
                stranded.append(f"{victim.worker_id}: {left} tasks still running after exit")
        wait_until(
            "every task succeeded",
            lambda: rig.store.states()["succeeded"] == len(ids),
            max(0.0, deadline - time.monotonic()),
            poll=0.1,
        )
    except AssertionError as exc:
        raise AssertionError(f"{exc}\nstates {rig.store.states()}\n{rig.logs()}") from exc
    finally:
        final_codes = supervisor.stop(signal.SIGTERM)
    still_running = sum(rig.store.running_by_worker().values())

    tasks = rig.store.tasks()
    history = check_history(rig.store, tasks)
    lost = [i for i in ids if tasks[i].state != "succeeded"]
    termed = dict(terms)
    released = finished = 0
    for events in history.events.values():
        for e in events:
            if e.worker_id in termed and e.at >= termed[e.worker_id]:
                if e.kind == "retry" and "released" in (e.message or ""):
                    released += 1
                elif e.kind == "succeeded":
                    finished += 1
    swept = sum(
        1
        for events in history.events.values()
        for e in events
        if e.worker_id in termed and "lease expired" in (e.message or "")
    )
    exit_codes = sorted({str(c) for c in codes + final_codes})
    figures(
        Row(
            "worker SIGTERM",
            rig.store_kind,
            TASKS,
            f"{len(terms)} SIGTERM (grace {GRACE:g} s)",
            lost=len(lost),
            succeeded_twice=len(history.succeeded_twice),
            illegal=len(history.illegal),
            stranded=stranded_tasks + still_running,
            timing=f"exit after SIGTERM {summary(exits)}",
            notes=(
                f"after SIGTERM: {finished} tasks finished in grace, {released} released, "
                f"{swept} left to the sweeper; exit codes {', '.join(exit_codes)}"
            ),
        )
    )
    assert stranded == [], stranded
    assert still_running == 0
    assert swept == 0, f"{swept} tasks of SIGTERMed workers waited for the lease to expire"
    assert codes == [0] * TERMS, codes
    assert all(c == 0 for c in final_codes), final_codes
    assert released > 0 and finished > 0, (released, finished)
    assert lost == [], f"{len(lost)} tasks lost, e.g. {[tasks[i] for i in lost[:5]]}"
    assert history.succeeded_twice == [], history.succeeded_twice[:10]
    assert history.illegal == [], history.illegal[:10]


class _SlowServer:
    """A source 50 ms away: one long task to claim, and reports that take 50 ms to land."""

    carries_reports = False

    def __init__(self) -> None:
        self.given = False
        self.landed: list[tuple[list[Completion], list[Failure]]] = []

    async def claim(
        self,
        worker_id: str,
        queues: Sequence[str] | None,
        limit: int,
        wait: float,
        completions: Sequence[Completion] = (),
        failures: Sequence[Failure] = (),
        capabilities: Sequence[str] = (),
    ) -> list[Task]:
        if completions or failures:
            await self.report(worker_id, completions, failures)
        if self.given:
            await asyncio.sleep(wait)
            return []
        self.given = True
        now = datetime.now(UTC)
        return [
            Task(
                id="slow-1",
                queue="default",
                kind="work",
                payload={"ms": 1_000},
                priority=20,
                state=TaskState.RUNNING,
                run_at=now,
                created_at=now,
                attempt=1,
                max_attempts=3,
                lease_token=1,
            )
        ]

    async def heartbeat(self, task_id: str, lease_token: int, progress: Any = None) -> bool:
        return False

    async def register(self, worker: WorkerInfo) -> None:
        await asyncio.sleep(0.05)

    async def report(
        self, worker_id: str, completions: Sequence[Completion], failures: Sequence[Failure]
    ) -> None:
        await asyncio.sleep(0.05)
        self.landed.append((list(completions), list(failures)))

    async def close(self) -> None:
        return None


async def test_a_release_is_not_lost_when_the_last_report_is_slow() -> None:
    """The same property without processes: a worker stopped past its grace period must
    deliver its "released" report even when that report takes a while to land."""
    server = _SlowServer()
    worker = Worker(
        server,
        registry,
        worker_id="slow-w",
        options=WorkerOptions(concurrency=1, claim_wait=0.1, grace=0.2),
    )
    stop = asyncio.Event()
    running = asyncio.create_task(worker.run(stop))
    await asyncio.sleep(0.3)  # the task runs
    stop.set()  # what SIGTERM does
    await running
    released = [f for _, failures in server.landed for f in failures if f.task_id == "slow-1"]
    assert released, f"the release never reached the server; reports that did: {server.landed}"


class _PollingServer(_SlowServer):
    """Hands out one long task, then long-polls; a claim sent after the stop is answered
    late with one more task."""

    def __init__(self) -> None:
        super().__init__()
        self.stop: asyncio.Event | None = None

    async def claim(
        self,
        worker_id: str,
        queues: Sequence[str] | None,
        limit: int,
        wait: float,
        completions: Sequence[Completion] = (),
        failures: Sequence[Failure] = (),
        capabilities: Sequence[str] = (),
    ) -> list[Task]:
        if not self.given:
            return await super().claim(worker_id, queues, limit, wait)
        await asyncio.sleep(wait)  # the long poll; the stop arrives meanwhile
        (late,) = await _SlowServer().claim(worker_id, queues, limit, 0)
        return [late._replace(id="late-1")]


async def test_the_grace_period_starts_at_the_stop_not_after_a_long_poll() -> None:
    server = _PollingServer()
    worker = Worker(
        server,
        registry,
        worker_id="poll-w",
        options=WorkerOptions(concurrency=2, claim_wait=1.5, grace=0.2),
    )
    stop = asyncio.Event()
    running = asyncio.create_task(worker.run(stop))
    await asyncio.sleep(0.3)  # slow-1 runs; the second claim is long-polling
    stop.set()
    stopped_at = time.monotonic()
    await asyncio.sleep(0.45)
    assert worker.processed == 1, "slow-1 was not released within the grace period"
    await running
    ended = time.monotonic() - stopped_at
    failures = {f.task_id: f for _, fs in server.landed for f in fs}
    assert "finished" in failures["slow-1"].error  # released at the end of the grace period
    assert "started" in failures["late-1"].error  # answered after the stop: handed back,
    assert failures["late-1"].retry_after == 0.0  # due at once, its attempt given back
    assert worker.processed == 1  # late-1 never ran
    assert ended < 1.5
