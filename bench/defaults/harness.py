"""The defaults benchmark's phases, the same for every system, and the probe they read.

A ``System`` is one row of the table: a store made fresh for each phase, a producer in this
process (its own Python API), and the worker commands that make its two worker processes.
The phases only enqueue, start and stop processes, and read the workers' stamps, so every
system is measured by the same code.
"""

from __future__ import annotations

import contextlib
import os
import queue
import random
import signal
import socket
import threading
import time
from collections.abc import Callable
from typing import ClassVar

from bench.defaults_apps import PORT_ENV
from bench.peers import redis_common as rc
from bench.peers.redis_common import LATENCY_PAUSE, p50_p99

#: how often a drain asks whether every task is done (the same for every system)
DONE_POLL = 0.01
#: warm-up: bursts of this many tasks until every worker process has run one, then singles
WARM_BURST = 20
WARM_SINGLES = 5
WARM_TIMEOUT = 60.0
#: the longest wait for one handler start before the phase fails
STAMP_TIMEOUT = 120.0
#: a drain fails when no handler has started for this long and the tasks are not done
DRAIN_STALL = 60.0
Figures = dict[str, float]


class Probe:
    """The workers' stamps, ``(perf_counter, pid)``, received on a UDP port by a thread.

    The thread keeps the socket's buffer empty during a drain (10,000 datagrams in a
    second or two), so no stamp is dropped for want of a reader.
    """

    def __init__(self) -> None:
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        with contextlib.suppress(OSError):
            self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
        self._sock.bind(("127.0.0.1", 0))
        self._sock.settimeout(0.2)
        self.port: int = self._sock.getsockname()[1]
        self._stamps: queue.SimpleQueue[tuple[float, int]] = queue.SimpleQueue()
        #: stamps received so far (only this object's thread writes it)
        self.received = 0
        self._closed = threading.Event()
        self._thread = threading.Thread(target=self._receive, name="probe", daemon=True)
        self._thread.start()
        os.environ[PORT_ENV] = str(self.port)  # inherited by every worker started after

    def _receive(self) -> None:
        while not self._closed.is_set():
            try:
                data = self._sock.recv(128)
            except TimeoutError:
                continue
            except OSError:
                return
            at, pid = data.split()
            self._stamps.put((float(at), int(pid)))
            self.received += 1

    def clear(self) -> None:
        """Forget stamps left by an earlier phase."""
        with contextlib.suppress(queue.Empty):
            while True:
                self._stamps.get_nowait()

    def next(self, check: Callable[[], None], timeout: float = STAMP_TIMEOUT) -> tuple[float, int]:
        """The next stamp; ``check()`` (are the workers alive?) runs about once a second."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                return self._stamps.get(timeout=1.0)
            except queue.Empty:
                check()
                if time.monotonic() > deadline:
                    raise TimeoutError(f"no handler started within {timeout:.0f} s") from None

    def close(self) -> None:
        self._closed.set()
        self._thread.join(2)
        self._sock.close()


class System:
    """One row: ``fresh()`` gives a new, empty store with the producer open; the rest act
    on it. ``enqueue_one`` answers ``perf_counter()`` taken just before the enqueue call."""

    name: str = ""
    store: str = ""
    #: the worker processes ``commands()`` makes, each of which runs tasks
    processes: ClassVar[int] = 2
    #: a worker that polls every so many seconds: latency samples are spread over it
    poll_period: ClassVar[float] = 0.0

    def fresh(self) -> contextlib.AbstractContextManager[None]:
        raise NotImplementedError

    def commands(self) -> list[list[str]]:
        """The worker commands for two worker processes; the first alone is one worker."""
        raise NotImplementedError

    def enqueue_one(self) -> float:
        raise NotImplementedError

    def enqueue_singles(self, n: int) -> float:
        """Seconds ``n`` one-by-one enqueue calls take (the loop runs in the producer's own
        form: a coroutine for an async API)."""
        start = time.perf_counter()
        for _ in range(n):
            self.enqueue_one()
        return time.perf_counter() - start

    def enqueue_bulk(self, n: int) -> None:
        raise NotImplementedError

    def settle(self) -> None:
        """After the drain's fill: what a store that has been running a while has done."""

    def all_done(self, n: int) -> bool:
        raise NotImplementedError


def one_by_one(system: System, n: int) -> float:
    """Tasks/s of ``n`` single enqueue calls into a fresh store, no worker running."""
    with system.fresh():
        return n / system.enqueue_singles(n)


def drain(system: System, n: int, probe: Probe) -> float:
    """``n`` tasks enqueued in bulk (not timed), then the two workers started; tasks/s from
    the first handler's start until the system's own bookkeeping says all ``n`` are done."""
    with system.fresh():
        system.enqueue_bulk(n)
        system.settle()
        probe.clear()
        before = probe.received
        with rc.workers(*system.commands()) as running:
            first, _ = probe.next(running.check)
            _wait_done(system, n, probe, before, running.check)
            end = time.perf_counter()
    return n / (end - first)


def _wait_done(
    system: System, n: int, probe: Probe, before: int, check: Callable[[], None]
) -> None:
    """Poll ``all_done`` every ``DONE_POLL`` s; fail when the workers die, or when no
    handler has started for ``DRAIN_STALL`` s (a stuck system, or a done check that never
    holds) instead of waiting for ever."""
    seen, moved, checked = probe.received, time.monotonic(), time.monotonic()
    while not system.all_done(n):
        now = time.monotonic()
        if probe.received != seen:
            seen, moved = probe.received, now
        elif now - moved > DRAIN_STALL:
            raise TimeoutError(
                f"{system.name}: {seen - before} of {n} handlers started, none for "
                f"{DRAIN_STALL:.0f} s, and the tasks are not done"
            )
        if now - checked > 0.5:
            check()
            checked = now
        time.sleep(DONE_POLL)


def idle(system: System, samples: int, probe: Probe) -> tuple[Figures, int]:
    """Worker start, then idle latency, on one fresh store.

    Start: one task queued, one worker command spawned; seconds from just before the spawn
    to that task's handler start. Then the rest of the workers are started and warmed up
    (bursts until every worker process has run a task, then a few singles, all discarded),
    and ``samples`` tasks go one at a time, ``LATENCY_PAUSE`` apart: milliseconds from just
    before the enqueue call to the handler's start. Also answers how many worker processes
    ran a warm-up task (fewer than ``system.processes`` means one never took any)."""
    lat: list[float] = []
    jitter = random.Random(11)
    with system.fresh():
        first_cmd, *rest_cmds = system.commands()
        system.enqueue_one()
        probe.clear()
        spawned = time.perf_counter()
        with rc.workers(first_cmd) as first:
            started, _ = probe.next(first.check)
            with rc.workers(*rest_cmds) as rest:

                def check() -> None:
                    first.check()
                    rest.check()

                seen = _warm_up(system, probe, check)
                for _ in range(samples):
                    t0 = system.enqueue_one()
                    at, _ = probe.next(check)
                    lat.append((at - t0) * 1000)
                    time.sleep(LATENCY_PAUSE + jitter.uniform(0, system.poll_period))
    p50, p99 = p50_p99(lat)
    return {"start": started - spawned, "p50": p50, "p99": p99}, seen


def _warm_up(system: System, probe: Probe, check: Callable[[], None]) -> int:
    pids: set[int] = set()
    deadline = time.monotonic() + WARM_TIMEOUT
    while len(pids) < system.processes and time.monotonic() < deadline:
        for _ in range(WARM_BURST):
            system.enqueue_one()
        for _ in range(WARM_BURST):
            pids.add(probe.next(check)[1])
    for _ in range(WARM_SINGLES):
        system.enqueue_one()
        probe.next(check)
        time.sleep(LATENCY_PAUSE)
    return len(pids)


def reap_children(grace: float = 10.0) -> None:
    """Stop every child process of this one that is still running, with its group.

    The phases stop their processes as they leave, on any error; but a signal that lands
    inside a spawn (after the fork, before the ``Popen`` is returned) leaves a child that
    no ``with`` knows. This sweep, run last, finds those by their parent pid (Linux
    ``/proc``): SIGTERM, ``grace`` seconds, then SIGKILL. A worker has a session of its own
    (its pool's children go with it); ``rota serve`` is in this process's group, so it alone
    is signalled."""
    kids = _children()
    for sig in (signal.SIGTERM, signal.SIGKILL):
        for pid in kids:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                if os.getpgid(pid) == pid:
                    os.killpg(pid, sig)
                else:
                    os.kill(pid, sig)
        deadline = time.monotonic() + grace
        while kids and time.monotonic() < deadline:
            kids = [pid for pid in kids if not _reaped(pid)]
            time.sleep(0.05)


def _children() -> list[int]:
    me, found = os.getpid(), []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == me:  # state, then the parent's pid
            found.append(int(entry))
    return found


def _reaped(pid: int) -> bool:
    try:
        return os.waitpid(pid, os.WNOHANG)[0] == pid
    except ChildProcessError:
        return True
