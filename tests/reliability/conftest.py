"""The fault-injection suite: real ``rota serve`` / ``rota worker`` processes, real signals.

``ROTA_RELIABILITY=1`` (``make reliability``) runs every scenario at full size and writes the
figures to ``docs/reliability.md``; otherwise each runs in a short form inside ``make test``
and the figures are only printed. Every test is parametrised over the stores (SQLite file,
PostgreSQL schema) and appends one row of figures to :data:`ROWS`; the terminal summary
prints them as a table.

Timings are short on purpose (lease 1.5 s, sweep every 0.25 s, no retry backoff, heartbeat
every 0.5 s), so that a lost lease is noticed within two seconds.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import platform
import random
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, TypeVar

import httpx
import orjson
import psycopg
import pytest

from rota.backends import backend_from_url
from rota.backends.postgres.url import PgUrl
from rota.core.clock import to_us
from rota.core.models import TaskFilter
from rota.core.states import TRANSITIONS, TaskState
from tests.conftest import drop_pg_schema, drop_redis_store, new_pg_schema, new_redis_store

ROOT = Path(__file__).resolve().parents[2]
ROTA = str(Path(sys.executable).parent / "rota")
FULL = os.environ.get("ROTA_RELIABILITY") == "1"
STORES = ["sqlite", "postgres", "redis"]
DOC = ROOT / "docs" / "reliability.md"

LEASE = 1.5  # ROTA_LEASE_SECONDS
SWEEP = 0.25  # ROTA_SWEEP_INTERVAL
HEARTBEAT = 0.5  # rota worker --heartbeat-interval
POLL = 0.1  # ROTA_POLL_INTERVAL: long-poll re-check on a shared store
SLACK = 1.0  # process start, claim wait and scheduling noise on a loaded 2-core machine
RERUN_BOUND = LEASE + SWEEP + SLACK
READY = 1.5  # seconds after its start a worker process surely runs (imports done)

#: Events that record an action on a task without changing its state.
NON_TRANSITIONS = {"cancel_requested", "priority_changed"}


T = TypeVar("T")


def sized(full: T, short: T) -> T:
    """``full`` under ``ROTA_RELIABILITY=1``, else ``short``."""
    return full if FULL else short


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def wait_until(what: str, done: Callable[[], object], timeout: float, poll: float = 0.05) -> float:
    """Poll ``done()`` until true; return the seconds it took; fail after ``timeout``."""
    start = time.monotonic()
    while not done():
        if time.monotonic() - start > timeout:
            raise AssertionError(f"{what}: not within {timeout:.0f} s")
        time.sleep(poll)
    return time.monotonic() - start


# -- reading the store directly ---------------------------------------------------------


def pg_connect(url: str) -> psycopg.Connection[tuple[Any, ...]]:
    """An autocommit connection whose search path is the schema of rota's ``url``."""
    parsed = PgUrl.parse(url)
    return psycopg.connect(
        parsed.conninfo, autocommit=True, options=f"-c search_path={parsed.schema}"
    )


@dataclass(frozen=True, slots=True)
class Ev:
    task_id: str
    seq: int
    at: float  # seconds since the epoch
    kind: str
    from_state: str | None
    to_state: str | None
    worker_id: str | None
    message: str | None


@dataclass(frozen=True, slots=True)
class TaskRow:
    id: str
    state: str
    attempt: int
    max_attempts: int
    worker_id: str | None
    lease_token: int
    enqueued_state: str
    result: Any


class BackendReader:
    """Reads a store through rota's own backend, on a private event loop: for stores with
    no SQL to read behind the API's back (Redis). A fresh backend per read, so a restarted
    server is reconnected to."""

    def __init__(self, url: str) -> None:
        self.url = url

    def _read(self, fn: Callable[[Any], Any]) -> Any:
        async def run() -> Any:
            backend = backend_from_url(self.url)
            await backend.open()
            try:
                return await fn(backend)
            finally:
                await backend.close()

        return asyncio.run(run())

    def tasks(self) -> list[Any]:
        async def read(backend: Any) -> list[Any]:
            out: list[Any] = []
            cursor = None
            while True:
                page = await backend.task_list(TaskFilter(), after_seq=cursor, limit=1000)
                out += page
                if len(page) < 1000:
                    return out
                cursor = page[-1].seq

        result: list[Any] = self._read(read)
        return result

    def events(self) -> list[Ev]:
        async def read(backend: Any) -> list[Ev]:
            out: list[Ev] = []
            cursor = None
            while True:
                page = await backend.task_list(TaskFilter(), after_seq=cursor, limit=1000)
                for task in page:
                    for e in await backend.event_list(task.id):
                        out.append(
                            Ev(
                                e.task_id,
                                e.seq,
                                to_us(e.at) / 1e6,
                                e.kind,
                                None if e.from_state is None else e.from_state.value,
                                None if e.to_state is None else e.to_state.value,
                                e.worker_id,
                                e.message,
                            )
                        )
                if len(page) < 1000:
                    return sorted(out, key=lambda e: (e.task_id, e.seq))
                cursor = page[-1].seq

        result: list[Ev] = self._read(read)
        return result


class Store:
    """Reads rota's tables behind the API's back (one cached connection, renewed after an
    error: the database may have been restarted under it); Redis through rota's backend."""

    def __init__(self, kind: str, url: str, sqlite_path: Path | None) -> None:
        self.kind = kind
        self.url = url
        self.sqlite_path = sqlite_path
        self._pg: psycopg.Connection[tuple[Any, ...]] | None = None
        self._lock = threading.Lock()
        self._reader = BackendReader(url) if kind == "redis" else None

    def _rows(self, sqlite_sql: str, pg_sql: str, params: Sequence[Any] = ()) -> list[Any]:
        if self.kind == "sqlite":
            assert self.sqlite_path is not None
            db = sqlite3.connect(f"file:{self.sqlite_path}?mode=ro", uri=True, timeout=30)
            try:
                return db.execute(sqlite_sql, params).fetchall()
            finally:
                db.close()
        with self._lock:
            for attempt in (1, 2):
                if self._pg is None or self._pg.closed:
                    self._pg = pg_connect(self.url)
                try:
                    return self._pg.execute(pg_sql, params).fetchall()
                except psycopg.OperationalError:
                    self._pg.close()
                    self._pg = None
                    if attempt == 2:
                        raise
        raise AssertionError("unreachable")

    def close(self) -> None:
        with self._lock:
            if self._pg is not None:
                self._pg.close()
                self._pg = None

    def events(self) -> list[Ev]:
        if self._reader is not None:
            return self._reader.events()  # with "enqueued", where check_history starts
        rows = self._rows(
            "SELECT task_id, seq, at / 1e6, kind, from_state, to_state, worker_id, message "
            "FROM events ORDER BY task_id, seq",
            "SELECT task_id, seq, extract(epoch FROM at)::float8, kind, from_state, to_state, "
            "worker_id, message FROM rota_history WHERE kind <> 'enqueued' ORDER BY task_id, seq",
        )
        return [Ev(*r) for r in rows]

    def tasks(self) -> dict[str, TaskRow]:
        if self._reader is not None:
            return {
                t.id: TaskRow(
                    t.id,
                    t.state.value,
                    t.attempt,
                    t.max_attempts,
                    t.worker_id,
                    t.lease_token,
                    "queued",  # the "enqueued" event says which (check_history)
                    t.result,
                )
                for t in self._reader.tasks()
            }
        rows = self._rows(
            "SELECT id, state, attempt, max_attempts, worker_id, lease_token, enqueued_state, "
            "result FROM tasks",
            "SELECT id, state, attempt, max_attempts, worker_id, lease_token, enqueued_state, "
            "result FROM rota_tasks",
        )
        out = {}
        for r in rows:
            sqlite_text = self.kind == "sqlite" and r[7] is not None
            result = orjson.loads(r[7]) if sqlite_text else r[7]
            out[r[0]] = TaskRow(r[0], r[1], r[2], r[3], r[4], r[5], r[6], result)
        return out

    def states(self) -> Counter[str]:
        if self._reader is not None:
            return Counter(t.state for t in self.tasks().values())
        rows = self._rows(
            "SELECT state, count(*) FROM tasks GROUP BY state",
            "SELECT state, count(*) FROM rota_tasks GROUP BY state",
        )
        return Counter({s: n for s, n in rows})

    def running(self) -> list[tuple[str, str]]:
        """(task id, worker id) of every running task."""
        if self._reader is not None:
            return [
                (t.id, t.worker_id or "") for t in self.tasks().values() if t.state == "running"
            ]
        return self._rows(
            "SELECT id, worker_id FROM tasks WHERE state = 'running'",
            "SELECT id, worker_id FROM rota_tasks WHERE state = 'running'",
        )

    def running_by_worker(self) -> Counter[str]:
        if self._reader is not None:
            return Counter(w for _, w in self.running())
        rows = self._rows(
            "SELECT worker_id, count(*) FROM tasks WHERE state = 'running' GROUP BY worker_id",
            "SELECT worker_id, count(*) FROM rota_tasks WHERE state = 'running' GROUP BY worker_id",
        )
        return Counter({w: n for w, n in rows})


@dataclass
class History:
    """What the event log says, checked against the transition table of rota.core.states."""

    events: dict[str, list[Ev]]
    illegal: list[str] = field(default_factory=list)
    succeeded_twice: list[str] = field(default_factory=list)

    def of(self, task_id: str) -> list[Ev]:
        return self.events.get(task_id, [])

    def count(self, task_id: str, kind: str) -> int:
        return sum(1 for e in self.of(task_id) if e.kind == kind)


def check_history(store: Store, tasks: dict[str, TaskRow] | None = None) -> History:
    """Every state change must be an edge of TRANSITIONS, start where the previous one
    ended, and a task may reach ``succeeded`` at most once."""
    tasks = tasks if tasks is not None else store.tasks()
    by_task: dict[str, list[Ev]] = defaultdict(list)
    for e in store.events():
        by_task[e.task_id].append(e)
    history = History(dict(by_task))
    for task_id, task in tasks.items():
        state = task.enqueued_state
        for e in by_task.get(task_id, []):
            if e.kind in NON_TRANSITIONS and e.from_state == e.to_state:
                continue
            if e.kind == "enqueued" and e.from_state is None and e.to_state is not None:
                state = e.to_state
                continue
            if e.from_state is None or e.to_state is None:
                history.illegal.append(f"{task_id}: {e.kind} without states")
                continue
            edge_ok = TaskState(e.to_state) in TRANSITIONS[TaskState(e.from_state)]
            if not edge_ok or e.from_state != state:
                history.illegal.append(
                    f"{task_id}: {e.kind} {e.from_state}->{e.to_state} while {state}"
                )
            state = e.to_state
        if state != task.state:
            history.illegal.append(f"{task_id}: history ends {state}, row says {task.state}")
        if history.count(task_id, "succeeded") > 1:
            history.succeeded_twice.append(task_id)
    return history


# -- processes ---------------------------------------------------------------------------


class Rig:
    """One store, one port for the server (kept across restarts), and every child process;
    none outlives the test."""

    def __init__(self, store: str, db_url: str, tmp: Path, sqlite_path: Path | None) -> None:
        self.store_kind = store
        self.db_url = db_url
        self.tmp = tmp
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.api_url = f"{self.url}/api/v1"
        self.record_path = tmp / "executions.jsonl"
        self.store = Store(store, db_url, sqlite_path)
        self.children: list[subprocess.Popen[bytes]] = []
        self.server: subprocess.Popen[bytes] | None = None
        self._lock = threading.Lock()
        base = {k: v for k, v in os.environ.items() if k not in ("ROTA_URL", "ROTA_TOKEN")}
        self.env = {
            **base,
            "ROTA_DATABASE_URL": db_url,
            "ROTA_LEASE_SECONDS": str(LEASE),
            "ROTA_SWEEP_INTERVAL": str(SWEEP),
            "ROTA_RETRY_BACKOFF": "0",
            "ROTA_POLL_INTERVAL": str(POLL),
            "ROTA_RELIABILITY_RECORD": str(self.record_path),
            "PYTHONPATH": str(ROOT),
        }

    def spawn(self, args: Sequence[str], log: str) -> subprocess.Popen[bytes]:
        with self._lock, open(self.tmp / log, "ab") as out:  # the child keeps its own fd
            proc = subprocess.Popen(
                [ROTA, *args], env=self.env, stdout=out, stderr=subprocess.STDOUT
            )
            self.children.append(proc)
        return proc

    def serve(self, *, wait: bool = True) -> subprocess.Popen[bytes]:
        """Start the server on the rig's port; with ``wait``, return once it is healthy."""
        proc = self.spawn(
            ["serve", "--port", str(self.port), "--log-level", "warning"], "serve.log"
        )
        self.server = proc
        if wait:
            self.wait_healthy()
        return proc

    def wait_healthy(self, timeout: float = 30.0) -> subprocess.Popen[bytes]:
        """Return the server once /health answers 200."""
        proc = self.server
        assert proc is not None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise RuntimeError(f"rota serve exited:\n{self.logs()}")
            try:
                if httpx.get(f"{self.api_url}/health", timeout=1).status_code == 200:
                    return proc
            except httpx.TransportError:
                pass
            time.sleep(0.05)
        raise RuntimeError(f"rota serve not healthy in {timeout} s:\n{self.logs()}")

    def worker(
        self,
        worker_id: str,
        *,
        concurrency: int = 4,
        grace: float = 5.0,
        url: str | None = None,
        extra: Sequence[str] = (),
    ) -> subprocess.Popen[bytes]:
        args = [
            "worker",
            "--url",
            url or self.url,
            "--app",
            "tests.reliability.handlers:registry",
            "--worker-id",
            worker_id,
            "--concurrency",
            str(concurrency),
            "--heartbeat-interval",
            str(HEARTBEAT),
            "--claim-wait",
            "0.5",
            "--grace",
            str(grace),
            "--log-level",
            "warning",
            *extra,
        ]
        return self.spawn(args, f"worker-{worker_id}.log")

    def http(self, timeout: float = 30.0) -> httpx.Client:
        return httpx.Client(base_url=self.api_url, timeout=timeout)

    def submit(self, bodies: Sequence[dict[str, Any]], batch: int = 500) -> list[str]:
        ids: list[str] = []
        with self.http(60) as http:
            for start in range(0, len(bodies), batch):
                response = http.post("/tasks/batch", json={"tasks": bodies[start : start + batch]})
                assert response.status_code == 201, response.text
                ids += [t["id"] for t in response.json()["tasks"]]
        return ids

    def records(self) -> list[dict[str, Any]]:
        if not self.record_path.exists():
            return []
        return [orjson.loads(line) for line in self.record_path.read_bytes().splitlines()]

    def logs(self, limit: int = 3000) -> str:
        parts = []
        for log in sorted(self.tmp.glob("*.log")):
            text = log.read_text(errors="replace")
            parts.append(f"--- {log.name}\n{text[-limit:]}")
        return "\n".join(parts)

    def stop_all(self) -> None:
        self.store.close()
        with self._lock:
            children = list(self.children)
        for proc in children:
            if proc.poll() is None:
                proc.send_signal(signal.SIGCONT)  # a stopped process cannot act on SIGKILL
                proc.send_signal(signal.SIGKILL)
        for proc in children:
            proc.wait(timeout=10)


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


@pytest.fixture
def rig(store: str, tmp_path: Path) -> Iterator[Rig]:
    """A rig on a fresh store: a SQLite file in tmp_path, or a fresh PostgreSQL schema.

    While it lives, SIGTERM interrupts the test like Ctrl-C does, so that the rig still
    kills its processes instead of leaving them behind."""
    if store == "sqlite":
        url = f"sqlite:///{tmp_path / 'rota.db'}"
    else:
        url = new_redis_store() if store == "redis" else new_pg_schema()
    made = Rig(store, url, tmp_path, tmp_path / "rota.db" if store == "sqlite" else None)
    previous = signal.signal(signal.SIGTERM, _interrupt)
    try:
        yield made
    finally:
        made.stop_all()
        signal.signal(signal.SIGTERM, previous)
        if store == "postgres":
            drop_pg_schema(url)
        elif store == "redis":
            drop_redis_store(url)


@dataclass
class Slot:
    name: str
    worker_id: str
    proc: subprocess.Popen[bytes]
    started: float
    generation: int = 0
    stopping: bool = False  # sent SIGKILL or SIGTERM: no longer counts as live


class Supervisor:
    """Keeps ``count`` workers alive: a worker that dies is replaced by a fresh process
    under a new worker id, as a process manager would do. Deaths are recorded."""

    def __init__(self, rig: Rig, count: int, prefix: str, **worker_options: Any) -> None:
        self.rig = rig
        self.prefix = prefix
        self.options = worker_options
        self.slots = [self._start(f"{prefix}{n}", 0) for n in range(count)]
        self.deaths: list[tuple[str, int | None, float]] = []  # worker id, exit code, when
        self.restarts = 0
        self._lock = threading.RLock()
        self._stop = threading.Event()
        self._paused = False
        self._thread = threading.Thread(target=self._watch, name="supervisor", daemon=True)
        self._thread.start()

    def _start(self, name: str, generation: int) -> Slot:
        worker_id = f"{name}-g{generation}"
        proc = self.rig.worker(worker_id, **self.options)
        return Slot(name, worker_id, proc, time.monotonic(), generation)

    def _watch(self) -> None:
        while not self._stop.wait(0.02):
            with self._lock:
                if self._paused:
                    continue
                for i, slot in enumerate(self.slots):
                    code = slot.proc.poll()
                    if code is None:
                        continue
                    self.deaths.append((slot.worker_id, code, time.time()))
                    self.slots[i] = self._start(slot.name, slot.generation + 1)
                    self.restarts += 1

    def live(self) -> list[Slot]:
        with self._lock:
            return [s for s in self.slots if not s.stopping and s.proc.poll() is None]

    def send(self, slot: Slot, sig: signal.Signals) -> float:
        """Send ``sig``; return the wall-clock time just before it was sent."""
        with self._lock:
            at = time.time()
            slot.proc.send_signal(sig)
            if sig in (signal.SIGKILL, signal.SIGTERM):
                slot.stopping = True
            return at

    def stop(self, sig: signal.Signals = signal.SIGTERM, timeout: float = 60.0) -> list[int | None]:
        """No more restarts; stop every worker with ``sig`` and return their exit codes."""
        with self._lock:
            self._paused = True
            slots = list(self.slots)
        self._stop.set()
        self._thread.join(timeout=5)
        if sig == signal.SIGTERM:  # a worker still importing has no handler for it yet
            youngest = max(slot.started for slot in slots)
            time.sleep(max(0.0, youngest + READY - time.monotonic()))
        for slot in slots:
            if slot.proc.poll() is None:
                slot.proc.send_signal(sig)
        return [slot.proc.wait(timeout=timeout) for slot in slots]

    @staticmethod
    def ready(slot: Slot) -> bool:
        """Started long enough ago to have its signal handlers and to claim."""
        return time.monotonic() - slot.started >= READY


@dataclass(frozen=True, slots=True)
class Exchange:
    at: float  # when the request arrived
    method: str
    path: str
    request: Any
    status: int  # 0: the server could not be reached
    response: Any


class RecordingProxy:
    """An HTTP proxy in front of the server that records every request and its answer,
    so that a test can see exactly what one worker sent and what it was told."""

    def __init__(self, target: str) -> None:
        self.target = target
        self.exchanges: list[Exchange] = []
        self._lock = threading.Lock()
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                return None

            def _forward(self) -> None:
                arrived = time.time()
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                status, data, ctype = 0, b"", "application/json"
                try:
                    with httpx.Client(timeout=60) as http:
                        answer = http.request(
                            self.command,
                            f"{proxy.target}{self.path}",
                            content=body,
                            headers={"Content-Type": "application/json"},
                        )
                    status, data = answer.status_code, answer.content
                    ctype = answer.headers.get("content-type", ctype)
                except httpx.TransportError as exc:
                    status, data = 502, orjson.dumps({"error": "ProxyError", "message": str(exc)})
                proxy._record(
                    arrived, self.command, self.path, body, 0 if status == 502 else status, data
                )
                self.send_response(status)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                if data:
                    self.wfile.write(data)

            do_GET = _forward
            do_POST = _forward
            do_PUT = _forward

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def _record(
        self, at: float, method: str, path: str, body: bytes, status: int, data: bytes
    ) -> None:
        def parse(raw: bytes) -> Any:
            try:
                return orjson.loads(raw) if raw else None
            except orjson.JSONDecodeError:
                return raw.decode(errors="replace")

        exchange = Exchange(at, method, path, parse(body), status, parse(data))
        with self._lock:
            self.exchanges.append(exchange)

    def since(self, at: float) -> list[Exchange]:
        with self._lock:
            return [e for e in self.exchanges if e.at >= at]

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


# -- the figures -------------------------------------------------------------------------


@dataclass
class Row:
    scenario: str
    store: str
    tasks: int
    faults: str
    lost: int | None = None
    succeeded_twice: int | None = None
    zombie_accepted: int | None = None
    illegal: int | None = None
    stranded: int | None = None
    timing: str = ""
    notes: str = ""
    nodeid: str = ""


ROWS: list[Row] = []
OUTCOMES: dict[str, str] = {}
FAILURES: dict[str, str] = {}  # node id: the first line of its assertion error

SCENARIOS: list[tuple[str, str]] = [
    (
        "worker SIGKILL",
        "Three workers (concurrency 4) run tasks that sleep 100-400 ms in a thread (50-200 "
        "ms in the short form). Each time another 1/(kills+2) of the tasks has succeeded, "
        "one worker that holds running tasks is SIGKILLed, provided another worker is up "
        "and working, and a supervisor starts a fresh process under a new worker id (if "
        "the work runs out before the kills are done, 20 more tasks are submitted). Lost = "
        "tasks not `succeeded` at the end; succeeded >1 = tasks with more than one "
        "`succeeded` event (handler runs repeated after a kill are counted apart, from the "
        "handlers' own log); the re-run delay runs from the kill to the next `claimed` "
        "event of each task the kill stranded (those the sweeper took back with `lease "
        "expired`).",
    ),
    (
        "worker SIGSTOP (zombie)",
        "A worker, talking through a recording HTTP proxy, claims two tasks whose first "
        "attempt runs 3 leases (2.5 in the short form) and ignores cancellation; it is "
        "SIGSTOPped, a second worker starts, and once that one has claimed both tasks the "
        "first gets SIGCONT. Zombie "
        "writes accepted = heartbeats, completions and failures for the superseded lease "
        "(also inside reports) that got a 2xx or a 200 item, among what the zombie sent and "
        "the same stale writes replayed by the test; the final result must be the second "
        "worker's.",
    ),
    (
        "server SIGKILL",
        "Three threads submit single tasks and batches of 10 (5 in the short form) with "
        "their own ids while a worker runs them; the server is SIGKILLed and restarted on "
        "the same port once per cycle. Lost = tasks that got a 2xx but are missing from the "
        "store or never succeeded; the timing is restart to a healthy /health.",
    ),
    (
        "database restart",
        "PostgreSQL only: `pg_ctlcluster 15 main stop` (fast: a clean stop; immediate: a "
        "crash, recovered on start), 3 s down, `start`, while two "
        "threads submit, a worker runs tasks, and two probes GET /health and POST a task "
        "with a 2 s client timeout. Every request sent while the database is down must get "
        "a 503 within those 2 s; any 2xx must be for a task that is in the store afterwards; "
        "recovery = from `start` returning to the next 2xx submission / the next task the "
        "worker completes.",
    ),
    (
        "Redis restart (appendfsync always)",
        "Redis only, on a redis-server the test starts with appendonly yes, appendfsync "
        "always and maxmemory-policy noeviction: SIGKILLed (a crash), 3 s down, started "
        "again on the same port and data directory (it replays its append-only file), under "
        "the same load and probes as the database restart, with the same checks.",
    ),
    (
        "duplicate reports",
        "The test drives the HTTP API as a worker that repeats and reorders its reports "
        "(complete twice, complete after fail, heartbeat after complete, fail after "
        "complete, stale and wrong tokens, repeated items in one report, 39 requests a "
        "round); every answer must equal a fixed table (idempotent 200, 409, or 404 for an "
        "unknown task) in every round.",
    ),
    (
        "poison task",
        "A handler SIGKILLs its own worker every time (max_attempts = 3); the supervisor "
        "restarts workers. The task must end `failed` (by the sweeper: lease expired) with "
        "attempt = 3 and exactly three `claimed` events, get no claim afterwards (no loop), "
        "and a healthy task submitted next must still run.",
    ),
    (
        "worker SIGTERM",
        "Three workers (concurrency 4, grace 1 s) run tasks of 50-300 ms and 15% of "
        "1.1-1.6 s (short form: grace 0.5 s, 0.6-0.9 s); a worker holding running tasks "
        "(preferably one that outlasts the grace period) gets SIGTERM and must exit 0; right "
        "after it exits, no task may still be `running` on it (stranded) and none may be "
        "left for the sweeper: each finished in the grace period or was released to the "
        "queue. At the end every worker gets SIGTERM and nothing is running.",
    ),
]


@pytest.fixture
def figures(request: pytest.FixtureRequest) -> Callable[[Row], None]:
    """Append a row of figures for this test (call it before asserting)."""

    def add(row: Row) -> None:
        row.nodeid = request.node.nodeid
        ROWS.append(row)

    return add


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if "tests/reliability/" not in report.nodeid:
        return
    if report.when == "call" or (report.when == "setup" and report.outcome != "passed"):
        OUTCOMES[report.nodeid] = report.outcome
        if report.failed:
            lines = [ln[1:].strip() for ln in report.longreprtext.splitlines() if ln[:1] == "E"]
            FAILURES[report.nodeid] = (lines[0] if lines else "see the test output")[:600]
    elif report.when == "teardown" and report.outcome == "failed":
        OUTCOMES[report.nodeid] = "failed"


def _cell(value: int | None) -> str:
    return "—" if value is None else str(value)


def table(rows: Iterable[Row]) -> list[str]:
    head = [
        "scenario",
        "store",
        "tasks",
        "faults injected",
        "lost",
        "succeeded >1",
        "zombie writes accepted",
        "illegal transitions",
        "stranded running",
        "timing",
        "result",
        "notes",
    ]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in rows:
        cells = [
            r.scenario,
            r.store,
            str(r.tasks),
            r.faults,
            _cell(r.lost),
            _cell(r.succeeded_twice),
            _cell(r.zombie_accepted),
            _cell(r.illegal),
            _cell(r.stranded),
            r.timing or "—",
            OUTCOMES.get(r.nodeid, "?"),
            r.notes or "—",
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def _postgres_version() -> str:
    from tests.conftest import postgres_url

    url = postgres_url()
    if url is None:
        return "not available"
    import psycopg

    with psycopg.connect(url) as conn:
        row = conn.execute("SHOW server_version").fetchone()
    return "?" if row is None else str(row[0])


def _redis_version() -> str:
    from tests.conftest import redis_url

    url = redis_url()
    if url is None:
        return "not available"
    import redis

    client = redis.Redis.from_url(url)
    try:
        return str(client.info("server").get("redis_version", "?"))
    finally:
        client.close()


def _revision() -> str:
    """The commit the figures were measured at, and whether rota/ had local changes."""
    try:
        head = (
            subprocess.run(
                ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, check=True
            )
            .stdout.decode()
            .strip()
        )
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "rota"], cwd=ROOT, capture_output=True, check=True
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return f"commit {head}{' with local changes in rota/' if dirty else ''}"


REVISION = _revision() if FULL else ""  # taken when the run starts


def _failures(rows: list[Row]) -> list[str]:
    """A section naming each failed scenario and what its assertion saw."""
    failed = [r for r in rows if OUTCOMES.get(r.nodeid) == "failed"]
    if not failed:
        return []
    lines = [
        "## Failures",
        "",
        "A failed row is a property rota does not have yet; the test stays as it is until "
        "rota is fixed. What the assertion saw:",
        "",
    ]
    for r in failed:
        lines.append(f"- **{r.scenario}** ({r.store}): {FAILURES.get(r.nodeid, '?')}")
    return [*lines, ""]


def write_doc(rows: list[Row]) -> None:
    now = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    cpu = "?"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    lines = [
        "# rota: reliability figures",
        "",
        "Written by `make reliability` (`ROTA_RELIABILITY=1 pytest -m reliability`), the "
        "fault-injection suite in `tests/reliability/`. `make test` runs the same tests in a "
        "short form on every store and only prints its table. Every figure below was "
        "measured by that run; rerun it rather than trust an old number.",
        "",
        f"- date: {now}; code: {REVISION}",
        f"- machine: {platform.machine()}, {os.cpu_count()} cores ({cpu}), "
        f"{platform.system()} {platform.release()}",
        f"- Python {platform.python_version()}, SQLite {sqlite3.sqlite_version}, "
        f"PostgreSQL {_postgres_version()}, Redis {_redis_version()}",
        f"- settings: ROTA_LEASE_SECONDS={LEASE:g}, ROTA_SWEEP_INTERVAL={SWEEP:g}, "
        f"ROTA_RETRY_BACKOFF=0, ROTA_POLL_INTERVAL={POLL:g}, worker --heartbeat-interval "
        f"{HEARTBEAT:g}; re-run bound = lease + sweep + {SLACK:g} s slack = {RERUN_BOUND:g} s",
        "- processes: one `rota serve` process and `rota worker --app "
        "tests.reliability.handlers:registry` processes over HTTP, all on this machine; "
        "SQLite is a file in WAL mode, PostgreSQL a fresh schema per test, Redis a fresh "
        "key prefix per test on the local server (which keeps nothing on disk), except for "
        "the Redis restart, which starts a redis-server of its own with appendonly yes and "
        "appendfsync always",
        "",
        "## Figures",
        "",
        *table(rows),
        "",
        "`—`: not what this scenario measures. Every scenario also checks the whole event "
        "log: each state change is an edge of the transition table and starts where the "
        "previous one ended (illegal transitions), and no task succeeded twice.",
        "",
        *_failures(rows),
        "## How each scenario is measured",
        "",
        *[f"- **{name}**: {how}" for name, how in SCENARIOS],
        "",
    ]
    DOC.write_text("\n".join(lines))


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if not ROWS:
        return
    order = {name: i for i, (name, _) in enumerate(SCENARIOS)}
    rows = sorted(ROWS, key=lambda r: (order.get(r.scenario, 99), r.store))
    terminalreporter.section(f"reliability figures ({'full' if FULL else 'short'} form)")
    for line in table(rows):
        terminalreporter.write_line(line)
    if FULL:
        write_doc(rows)
        terminalreporter.write_line(f"written to {DOC.relative_to(ROOT)}")


def summary(values: Sequence[float]) -> str:
    if not values:
        return "n/a"
    return f"p50 {statistics.median(values):.2f} s / max {max(values):.2f} s"


def rng(seed: int) -> random.Random:
    return random.Random(seed)
