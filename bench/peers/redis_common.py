"""Helpers shared by the Redis peer benchmarks: databases, worker processes, probes, timing.

Every system runs in a Redis database of its own on the server named by
``ROTA_BENCH_REDIS_URL`` (default ``redis://127.0.0.1:6379``): RQ 8, Celery 9, Dramatiq 10,
arq 11, Huey 12, SAQ 13, rota 14 (rota's tests use 15). Each phase empties its database
with FLUSHDB before and after, so no phase meets another's keys.

Workers are the peers' own worker commands, started as real processes in a process group
of their own (``start_new_session``) and always stopped: SIGTERM to the group, then SIGKILL
to whatever of the group is left, so no pool child outlives a phase.

Worker processes import the peer's module (RQ's work horse even imports it once per job),
so this module and the peer modules import nothing heavy: not ``common.py``, which imports
psycopg (80 ms a time). The few constants shared with ``common.py`` are repeated here.

Probes, run as the peers' tasks: ``stamp`` pushes ``time.monotonic()`` taken on its first
line onto ``bench:stamps``; ``record(level)`` pushes its priority level onto ``bench:order``.
``time.monotonic()`` is CLOCK_MONOTONIC, one clock for every process on the machine, so a
worker's stamp and the producer's clock compare directly.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import IO, Any

from redis import Redis

BASE_URL = os.environ.get("ROTA_BENCH_REDIS_URL", "redis://127.0.0.1:6379").rstrip("/")
ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
STAMPS = "bench:stamps"
ORDER = "bench:order"
#: Jobs per bulk call, and the pause between two latency samples (as in ``common.py``).
BATCH = 1_000
LATENCY_PAUSE = 0.02
#: Upper bound on one phase's wait; a stuck peer fails the run instead of hanging it.
PHASE_TIMEOUT = 900.0
#: Priority levels of the priority check: the rank is the level (higher runs first).
LOW, MID, HIGH = 0, 1, 2
LEVEL_NAMES = {LOW: "low", MID: "mid", HIGH: "high"}
Figures = tuple[float, float]


def url(db: int) -> str:
    return f"{BASE_URL}/{db}"


_clients: dict[tuple[int, int], Redis] = {}


def client(db: int) -> Redis:
    """One client per process and database (a forked work horse makes its own)."""
    key = (os.getpid(), db)
    if key not in _clients:
        _clients[key] = Redis.from_url(url(db))
    return _clients[key]


def stamp(db: int) -> None:
    now = time.monotonic()
    client(db).rpush(STAMPS, repr(now))


def record(db: int, level: int) -> None:
    client(db).rpush(ORDER, level)


@contextmanager
def fresh_db(db: int) -> Iterator[Redis]:
    """The peer's database, emptied before and after."""
    redis = Redis.from_url(url(db))
    redis.flushdb()
    try:
        yield redis
    finally:
        redis.flushdb()
        redis.close()


def command(name: str) -> str:
    """A console script of this virtualenv (``rq``, ``celery``, ...)."""
    return str(BIN / name)


class Workers:
    """Worker processes started by ``workers()``; their stderr goes to temporary files."""

    def __init__(self, commands: list[list[str]]) -> None:
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        self.logs: list[IO[bytes]] = []
        self.procs: list[subprocess.Popen[bytes]] = []
        for cmd in commands:
            log = tempfile.TemporaryFile()  # noqa: SIM115 - closed by stop()
            self.logs.append(log)
            self.procs.append(
                subprocess.Popen(
                    cmd,
                    cwd=ROOT,
                    env=env,
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=log,
                    start_new_session=True,
                )
            )

    def check(self) -> None:
        """Fail at once if a worker process has ended."""
        for proc, log in zip(self.procs, self.logs, strict=True):
            if proc.poll() is not None:
                raise RuntimeError(f"{proc.args!r} exited ({proc.returncode}):\n{_tail(log)}")

    def stop(self) -> None:
        for proc in self.procs:
            _signal_group(proc.pid, signal.SIGTERM)
        deadline = time.monotonic() + 20
        for proc in self.procs:
            with suppress(subprocess.TimeoutExpired):
                proc.wait(max(deadline - time.monotonic(), 0.1))
        for proc in self.procs:  # the group: pool children, work horses
            _signal_group(proc.pid, signal.SIGKILL)
            proc.wait()
        for log in self.logs:
            log.close()

    def wait_until(self, done: Callable[[], bool], what: str, interval: float = 0.005) -> None:
        deadline = time.monotonic() + PHASE_TIMEOUT
        checked = time.monotonic()
        while not done():
            now = time.monotonic()
            if now > deadline:
                raise TimeoutError(f"{what}: not done after {PHASE_TIMEOUT:.0f} s")
            if now - checked > 0.5:
                self.check()
                checked = now
            time.sleep(interval)

    def next_stamp(self, redis: Redis, timeout: float = 120.0) -> float:
        """The next stamp a worker pushed (blocking; fails if the workers die or stall)."""
        deadline = time.monotonic() + timeout
        while True:
            got = redis.blpop([STAMPS], timeout=1)
            if got is not None:
                return float(got[1])
            self.check()
            if time.monotonic() > deadline:
                raise TimeoutError(f"no task started within {timeout:.0f} s")


def _signal_group(pgid: int, sig: signal.Signals) -> None:
    with suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


def _tail(log: IO[bytes], size: int = 3000) -> str:
    log.seek(0)
    return log.read()[-size:].decode(errors="replace")


@contextmanager
def workers(*commands: list[str]) -> Iterator[Workers]:
    running = Workers(list(commands))
    try:
        yield running
    finally:
        running.stop()


def timed_rate(n: int, body: Callable[[], Any]) -> float:
    start = time.perf_counter()
    body()
    return n / (time.perf_counter() - start)


def drain_rate(running: Workers, redis: Redis, n: int, done: Callable[[], bool]) -> float:
    """Tasks/s from the marker task's start (first in the queue) until ``done()`` holds."""
    first = running.next_stamp(redis)
    running.wait_until(done, f"drain of {n:,}")
    return n / (time.monotonic() - first)


def latency(
    running: Workers,
    redis: Redis,
    samples: int,
    enqueue: Callable[[], Any],
    poll_period: float = 0.0,
) -> Figures:
    """Enqueue one ``stamp`` task at a time to idle workers; handler start - enqueue call.

    The first sample waits for the workers to start and is discarded. Samples are
    ``LATENCY_PAUSE`` apart, plus, for a worker that polls every ``poll_period`` seconds, a
    random fraction of that period: else each sample would come at the same point of the
    worker's polling cycle, just after a poll, and wait for almost the whole next one."""
    lat: list[float] = []
    jitter = random.Random(11)
    for i in range(samples + 1):
        t0 = time.monotonic()
        enqueue()
        started = running.next_stamp(redis)
        if i:
            lat.append((started - t0) * 1000)
        time.sleep(LATENCY_PAUSE + jitter.uniform(0, poll_period))
    return p50_p99(lat)


def p50_p99(samples_ms: list[float]) -> Figures:
    """Median and 99th percentile, ranked as ``common.p50_p99`` ranks them."""
    ordered = sorted(samples_ms)
    n = len(ordered)
    mid = n // 2
    p50 = ordered[mid] if n % 2 else (ordered[mid - 1] + ordered[mid]) / 2
    return p50, ordered[max(int(n * 0.99) - 1, 0)]


def batches(n: int, size: int = BATCH) -> Iterator[int]:
    while n > 0:
        yield min(size, n)
        n -= size


def shuffled_levels(n: int, seed: int = 7) -> list[int]:
    """``n`` priority levels, a third each of low, mid and high, in a fixed shuffled order."""
    levels = [i % 3 for i in range(n)]
    random.Random(seed).shuffle(levels)
    return levels


def inversions(started: list[int]) -> int:
    """Tasks that started after a task of lower priority (see bench_redis's docstring)."""
    count, lowest = 0, HIGH + 1
    for level in started:
        if level > lowest:
            count += 1
        lowest = min(lowest, level)
    return count


def wait_order(running: Workers, redis: Redis, n: int) -> list[int]:
    """Levels in the order the single-slot worker started them, once all ``n`` have."""
    running.wait_until(lambda: redis.llen(ORDER) >= n, f"priority check of {n:,}", 0.02)
    return [int(level) for level in redis.lrange(ORDER, 0, -1)]


def results(
    single: float, batched: float, drain: float, lat: Figures, inverted: int
) -> dict[str, float]:
    return {
        "enqueue_single": single,
        "enqueue_batched": batched,
        "drain": drain,
        "latency_p50_ms": lat[0],
        "latency_p99_ms": lat[1],
        "inversions": float(inverted),
    }
