"""The apps the defaults benchmark's worker processes import: one ``probe`` task per system.

Every probe does one thing, ``stamp()``: a UDP datagram to the benchmark process on
127.0.0.1 carrying ``time.perf_counter()`` taken on the handler's first line and the pid.
``perf_counter`` is CLOCK_MONOTONIC on Linux, one clock for every process on the machine,
so the benchmark compares a worker's stamp with its own clock directly. A datagram costs
the handler a few microseconds and no round trip (a Redis RPUSH would cost a round trip,
and on PostgreSQL a connection), the same for every system.

Worker start-up time is measured, so these modules import nothing but the system itself.
"""

from __future__ import annotations

import os
import socket
import time

#: where ``stamp`` sends (set by the benchmark before it starts any worker)
PORT_ENV = "ROTA_BENCH_PROBE_PORT"
#: the PostgreSQL database of PgQueuer's and Procrastinate's workers (set by the benchmark)
PGQUEUER_DSN = "ROTA_BENCH_PGQUEUER_DSN"
PROCRASTINATE_DSN = "ROTA_BENCH_PROCRASTINATE_DSN"
REDIS_BASE = os.environ.get("ROTA_BENCH_REDIS_URL", "redis://127.0.0.1:6379").rstrip("/")
#: a Redis database per system, flushed before and after each phase (bench_redis uses
#: 8-14, rota's tests 15)
REDIS_DB = {"rota": 1, "dramatiq": 2, "huey": 3, "rq": 4, "celery": 5, "arq": 6, "saq": 7}

_sock: socket.socket | None = None
_owner = 0
_addr = ("127.0.0.1", 0)


def redis_url(system: str) -> str:
    return f"{REDIS_BASE}/{REDIS_DB[system]}"


def stamp() -> None:
    """Tell the benchmark this handler started (the socket is made once per process)."""
    global _sock, _owner, _addr
    now = time.perf_counter()
    pid = os.getpid()
    if _sock is None or _owner != pid:  # first call, or a forked child
        _sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        _owner, _addr = pid, ("127.0.0.1", int(os.environ[PORT_ENV]))
    _sock.sendto(f"{now!r} {pid}".encode(), _addr)
