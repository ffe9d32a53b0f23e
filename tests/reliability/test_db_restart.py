"""PostgreSQL stopped and started again under load: the API answers 503 while it is down
(never a 2xx for a write it did not keep), the server and the worker reconnect by
themselves, and every acknowledged task runs and succeeds once.

The stop is either a clean one ("fast") or a crash ("immediate": no final flush, recovery
on start). A crash may undo claims made just before it (claims do not wait for the flush,
docs/postgres.md): those tasks are queued again, and the reports of the runs that were
undone must be refused, so that no task succeeds twice."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from functools import partial

import httpx
import psycopg
import pytest

from rota.backends import backend_from_url
from rota.backends.postgres.url import PgUrl
from rota.config import Settings
from rota.core.errors import Conflict
from rota.core.states import TaskState
from rota.service import Completion, Service, TaskSpec
from tests.reliability.conftest import (
    Rig,
    Row,
    Supervisor,
    check_history,
    sized,
    summary,
    wait_until,
)
from tests.reliability.load import SubmitLoad


def _counts(counter: Counter[str]) -> str:
    return ", ".join(f"{what} x{n}" for what, n in counter.most_common())


def _at_least(load: SubmitLoad, n: int) -> bool:
    return len(load.acked()) >= n


pytestmark = [pytest.mark.reliability, pytest.mark.slow]

CYCLES = sized(5, 1)
DOWN = 3.0  # seconds the database stays stopped
PROMPT = 2.0  # seconds within which the API must answer while the database is down
CLUSTER = ["15", "main"]


def _pg(action: str, *options: str) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        ["pg_ctlcluster", *options, *CLUSTER, action],
        capture_output=True,
        timeout=120,
        check=False,
    )


def _ensure_running() -> None:
    if _pg("status").returncode != 0:
        done = _pg("start")
        if done.returncode != 0:  # outside systemd, pg_ctlcluster may redirect to it
            subprocess.run(
                ["pg_ctlcluster", "--skip-systemctl-redirect", *CLUSTER, "start"],
                capture_output=True,
                timeout=120,
                check=False,
            )


@pytest.fixture
def database_comes_back() -> Iterator[None]:
    """Whatever happens in the test, PostgreSQL is running again afterwards."""
    if shutil.which("pg_ctlcluster") is None:
        message = "pg_ctlcluster is needed to stop and start the local PostgreSQL"
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI=true and {message}", pytrace=False)
        pytest.skip(message)
    try:
        yield
    finally:
        _ensure_running()


class Prober:
    """Two threads: one GETs /health, one POSTs a task, each as soon as the previous
    answer came, with a short client timeout (PROMPT). Records (sent, path, status, seconds
    to answer); status 0: no answer within PROMPT."""

    def __init__(self, api_url: str) -> None:
        self.api_url = api_url
        self.seen: list[tuple[float, str, int, float]] = []
        self.acked: set[str] = set()
        self._stop = threading.Event()
        self._threads = [
            threading.Thread(target=self._run, args=(path,), daemon=True)
            for path in ("/health", "/tasks")
        ]
        for thread in self._threads:
            thread.start()

    def _run(self, path: str) -> None:
        n = 0
        with httpx.Client(base_url=self.api_url, timeout=PROMPT) as http:
            while not self._stop.wait(0.05):
                n += 1
                sent = time.time()
                try:
                    if path == "/tasks":
                        task_id = f"probe-{n}"
                        body = {"kind": "work", "id": task_id, "max_attempts": 50}
                        status = http.post(path, json=body).status_code
                        if 200 <= status < 300:
                            self.acked.add(task_id)
                    else:
                        status = http.get(path).status_code
                except httpx.TransportError:
                    status = 0
                self.seen.append((sent, path, status, time.time() - sent))

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=10)


@pytest.mark.parametrize("store", ["postgres"])
@pytest.mark.parametrize("mode", ["fast", "immediate"])
def test_database_restart_under_load(
    rig: Rig, figures: Callable[[Row], None], database_comes_back: None, mode: str
) -> None:
    def stop() -> None:
        done = _pg("stop", "--mode", mode)
        assert done.returncode == 0, done.stderr.decode()

    def start() -> None:
        done = _pg("start")
        assert done.returncode == 0, done.stderr.decode()

    restart_under_load(
        rig, figures, stop, start, f"database restart ({mode})", f"stop ({mode})", _ensure_running
    )


def restart_under_load(
    rig: Rig,
    figures: Callable[[Row], None],
    stop: Callable[[], None],
    start: Callable[[], None],
    scenario: str,
    how: str,
    ensure_running: Callable[[], None],
) -> None:
    """Stop and start the store ``CYCLES`` times under a submit load and a worker; every
    acknowledged task must succeed once, and the API must answer 503 while it is down."""
    rig.serve(wait=False)
    supervisor = Supervisor(rig, 1, "db-w", concurrency=4)
    rig.wait_healthy()
    load = SubmitLoad(rig.api_url, threads=2, batch=5, pause=0.02)
    probe = Prober(rig.api_url)
    windows: list[tuple[float, float]] = []  # (stop returned, start invoked): surely down
    submit_recovery: list[float] = []
    worker_recovery: list[float] = []
    load.start()
    try:
        for _ in range(CYCLES):
            target = len(load.acked()) + 50
            wait_until("submissions acknowledged", partial(_at_least, load, target), 60)
            stop()
            stopped = time.time()
            time.sleep(DOWN)
            started_at = time.time()
            windows.append((stopped, started_at))
            start()
            up = time.time()

            def submitted_again(up: float = up) -> bool:
                return any(a.sent >= up and 200 <= a.status < 300 for a in load.snapshot())

            wait_until("a submission succeeds again", submitted_again, 60)
            first = min(a.answered for a in load.snapshot() if a.sent >= up and a.status == 201)
            submit_recovery.append(first - up)

            def worked_again(up: float = up) -> bool:
                return any(e.kind == "succeeded" and e.at >= up for e in rig.store.events()[-2000:])

            wait_until("the worker completes a task again", worked_again, 60, poll=0.1)
            done = min(e.at for e in rig.store.events() if e.kind == "succeeded" and e.at >= up)
            worker_recovery.append(done - up)
    finally:
        load.stop()
        probe.stop()
        ensure_running()
    acked = load.acked() | probe.acked
    try:
        wait_until(
            "every acknowledged task succeeded",
            lambda: all(t.state == "succeeded" for i, t in rig.store.tasks().items() if i in acked),
            sized(300, 60),
            poll=0.2,
        )
    except AssertionError:
        pass  # counted below as lost
    finally:
        supervisor.stop(signal.SIGKILL)  # idle by now

    tasks = rig.store.tasks()
    history = check_history(rig.store, tasks)
    missing = sorted(acked - tasks.keys())
    not_run = sorted(i for i in acked & tasks.keys() if tasks[i].state != "succeeded")

    def while_down(at: float) -> bool:
        return any(a <= at <= b for a, b in windows)

    answers = load.snapshot()
    down_answers = Counter(
        str(a.status) if a.status else a.error for a in answers if while_down(a.sent)
    )
    # sent and answered while the database was down: a 2xx could not have been kept
    down_ok = [
        a
        for a in answers
        if while_down(a.sent) and while_down(a.answered) and 200 <= a.status < 300
    ]
    bad_status = Counter(a.status for a in answers if a.status not in (0, 201, 503))
    probes_down = [(path, s, took) for at, path, s, took in probe.seen if while_down(at)]

    def describe(sent: float, path: str, status: int, took: float) -> str:
        if not status:
            return f"{path}: no answer in {PROMPT:g} s"
        late = not while_down(sent + took)
        return f"{path}: {status}{' once the database was back' if late else ''}"

    probe_answers = Counter(describe(*p) for p in probe.seen if while_down(p[0]))
    slowest = max((took for _, s, took in probes_down if s), default=0.0)
    figures(
        Row(
            scenario,
            rig.store_kind,
            len(acked),
            f"{CYCLES} {how} / {DOWN:g} s / start",
            lost=len(missing) + len(not_run),
            succeeded_twice=len(history.succeeded_twice),
            illegal=len(history.illegal),
            timing=(
                f"recovery: submit {summary(submit_recovery)}, worker {summary(worker_recovery)}"
            ),
            notes=(
                f"probes sent while down: {_counts(probe_answers)} (slowest answer "
                f"{slowest:.2f} s); "
                f"load requests sent while down: {_counts(down_answers) or 'none'}; "
                f"all load answers: {_counts(load.statuses())}"
            ),
        )
    )
    assert missing == [], f"{len(missing)} acknowledged tasks missing, e.g. {missing[:10]}"
    assert not_run == [], f"{len(not_run)} acknowledged tasks never succeeded: {not_run[:10]}"
    assert down_ok == [], f"2xx answered while the database was down: {down_ok[:5]}"
    assert probes_down, "no probe was sent while the database was down"
    # A probe sent just before the restart may be answered once the database is back: a
    # 2xx then is right. Anything else sent while it was down must be a prompt 503.
    wrong = [
        (path, s, round(took, 2))
        for at, path, s, took in probe.seen
        if while_down(at) and s != 503 and not (200 <= s < 300 and not while_down(at + took))
    ]
    assert wrong == [] and 503 in {s for _, s, _ in probes_down}, (
        f"while the store was down the API must answer 503 within {PROMPT:g} s; requests "
        f"sent while it was down got: {[(p, s, round(t, 2)) for p, s, t in probes_down]} "
        "(path, status or 0 for no answer in time, seconds to answer)"
    )
    assert bad_status == Counter(), bad_status
    assert history.succeeded_twice == [], history.succeeded_twice[:10]
    assert history.illegal == [], history.illegal[:10]


async def _open(url: str) -> Service:
    service = Service(backend_from_url(url), Settings(lease_seconds=30))
    await service.open()
    return service


CRASH_TRIES = 5  # crashes to try for a claim the crash undoes


def _postmaster_pid(pg_url: str) -> int:
    with psycopg.connect(PgUrl.parse(pg_url).conninfo) as conn:
        row = conn.execute("SHOW data_directory").fetchone()
    assert row is not None
    with open(os.path.join(row[0], "postmaster.pid")) as pid_file:
        return int(pid_file.readline())


def _crash(postmaster: int) -> None:
    """An immediate shutdown (SIGQUIT, as ``pg_ctl stop -m immediate`` sends), at once:
    starting pg_ctlcluster, a Perl script, took longer than the WAL writer's 200 ms on a
    slow machine, so every crash came after the claim's flush. Waits until it is down."""
    os.kill(postmaster, signal.SIGQUIT)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            os.kill(postmaster, 0)
        except ProcessLookupError:
            return
        time.sleep(0.02)
    raise AssertionError("PostgreSQL did not stop within 60 s of SIGQUIT")


async def test_a_claim_a_crash_undid_is_fenced_off(pg_url: str, database_comes_back: None) -> None:
    """A claim does not wait for the flush, so a crash right after it usually undoes it (the
    WAL writer flushes every 200 ms). The task is then queued again; the next claim's token
    differs from the undone one, whose heartbeat and report are refused, and the task
    succeeds once, with the new run's result. A claim that the flush reached before the
    crash must survive it, with its own report taken; then the test crashes again."""
    survived = 0
    for n in range(CRASH_TRIES):
        service = await _open(pg_url)
        task = await service.enqueue(TaskSpec("work", id=f"crash-{n}"))
        postmaster = _postmaster_pid(pg_url)
        (lost,) = await service.claim("w-lost", limit=1)
        _crash(postmaster)
        start = _pg("start")
        assert start.returncode == 0, start.stderr.decode()
        await service.close()

        service = await _open(pg_url)
        try:
            after = await service.get(task.id)
            if after.state == TaskState.RUNNING:  # the flush came before the crash
                assert after.lease_token == lost.lease_token
                (kept,) = await service.report([Completion(task.id, lost.lease_token, "kept")])
                assert kept.error is None
                survived += 1
                continue
            assert (after.state, after.attempt) == (TaskState.QUEUED, 0)
            (again,) = await service.claim("w-new", limit=1)
            assert again.id == task.id and again.lease_token != lost.lease_token
            with pytest.raises(Conflict):
                await service.heartbeat(task.id, lost.lease_token)
            (old,) = await service.report([Completion(task.id, lost.lease_token, "lost")])
            assert isinstance(old.error, Conflict), old
            (new,) = await service.report([Completion(task.id, again.lease_token, "new")])
            assert new.error is None
            done = await service.get(task.id)
            assert (done.state, done.attempt, done.result) == (TaskState.SUCCEEDED, 1, "new")
            return
        finally:
            await service.close()
    pytest.fail(f"{survived} crashes in a row all came after the claim's flush: nothing undone")
