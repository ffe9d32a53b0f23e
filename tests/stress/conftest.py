"""Fixtures of the stress suite: its size, and real rota processes on one shared store.

``ROTA_STRESS=1`` (``make stress``) runs every test at full size; otherwise each runs in a
shortened form that keeps ``make test`` fast. A test picks its numbers with :func:`sized`.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest

from rota.backends.postgres.url import PgUrl
from tests.conftest import drop_redis_store, new_redis_store

ROOT = Path(__file__).resolve().parents[2]
ROTA = str(Path(sys.executable).parent / "rota")
FULL = os.environ.get("ROTA_STRESS") == "1"


def sized(full: int, short: int) -> int:
    """``full`` under ``ROTA_STRESS=1``, else ``short``."""
    return full if FULL else short


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


DB = psycopg.Connection[tuple[Any, ...]]


def pg_connect(url: str) -> DB:
    """A plain autocommit connection whose search path is the schema of rota's ``url``."""
    parsed = PgUrl.parse(url)
    return psycopg.connect(
        parsed.conninfo, autocommit=True, options=f"-c search_path={parsed.schema}"
    )


def scalar(db: DB, sql: str, params: Sequence[Any] = ()) -> Any:
    """The first column of the first row of ``sql``."""
    row = db.execute(sql, params).fetchone()
    assert row is not None, sql
    return row[0]


@dataclass
class Replica:
    proc: subprocess.Popen[bytes]
    port: int
    log: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def health(self, timeout: float = 2.0) -> dict[str, object] | None:
        """The replica's /health answer, or None when it does not answer."""
        try:
            response = httpx.get(f"{self.url}/api/v1/health", timeout=timeout)
        except httpx.TransportError:
            return None
        if response.status_code != 200:
            return None
        body: dict[str, object] = response.json()
        return body


class Cluster:
    """``rota serve`` replicas and ``rota worker`` processes for one test; none outlives it."""

    def __init__(self, db_url: str, tmp: Path, env: dict[str, str]) -> None:
        self.db_url = db_url
        self.store = "postgres"
        self.exec_url = db_url  # where the stress handlers record their runs
        self.tmp = tmp
        self.children: list[subprocess.Popen[bytes]] = []
        base = {k: v for k, v in os.environ.items() if k not in ("ROTA_URL", "ROTA_TOKEN")}
        self.env = {
            **base,
            "ROTA_DATABASE_URL": db_url,
            "PYTHONPATH": str(ROOT),
            **env,
        }

    def _spawn(self, args: Sequence[str], log: Path) -> subprocess.Popen[bytes]:
        with open(log, "ab") as out:  # the child keeps its own copy of the fd
            proc = subprocess.Popen(
                [ROTA, *args], env=self.env, stdout=out, stderr=subprocess.STDOUT
            )
        self.children.append(proc)
        return proc

    def serve(self, count: int, timeout: float = 30.0) -> list[Replica]:
        """Start ``count`` replicas at once; return them when every one answers /health."""
        replicas = []
        for n in range(len(self.children), len(self.children) + count):
            port = free_port()
            log = self.tmp / f"serve-{n}.log"
            args = ["serve", "--port", str(port), "--log-level", "warning"]
            replicas.append(Replica(self._spawn(args, log), port, log))
        deadline = time.monotonic() + timeout
        waiting = list(replicas)
        while waiting:
            for replica in list(waiting):
                if replica.proc.poll() is not None:
                    raise RuntimeError(f"rota serve exited: {replica.log.read_text()}")
                if replica.health(timeout=1.0) is not None:
                    waiting.remove(replica)
            if time.monotonic() > deadline:
                raise RuntimeError(f"{len(waiting)} replicas not healthy in {timeout} s")
            time.sleep(0.05)
        return replicas

    def worker(self, urls: Sequence[str], *args: str, name: str) -> subprocess.Popen[bytes]:
        return self._spawn(
            ["worker", "--url", ",".join(urls), "--log-level", "warning", *args],
            self.tmp / f"{name}.log",
        )

    def logs(self, limit: int = 4000) -> str:
        """The tail of every child's log, for assertion messages."""
        parts = []
        for log in sorted(self.tmp.glob("*.log")):
            text = log.read_text(errors="replace")
            parts.append(f"--- {log.name}\n{text[-limit:]}")
        return "\n".join(parts)

    def stop_all(self) -> None:
        for proc in self.children:
            if proc.poll() is None:
                proc.send_signal(signal.SIGKILL)
        for proc in self.children:
            proc.wait(timeout=10)


LEASE_SECONDS = 3.0
SWEEP_INTERVAL = 0.5
POLL_INTERVAL = 0.2


@pytest.fixture(params=["postgres", "redis"])
def cluster(request: pytest.FixtureRequest, pg_url: str, tmp_path: Path) -> Iterator[Cluster]:
    """Processes on a fresh store (a PostgreSQL schema or a Redis namespace), short leases
    and a fast sweeper.

    The handlers of :mod:`tests.stress.handlers` record their runs in ``pg_url``'s schema,
    whichever store rota runs on: the record is the test's, not the store's.
    """
    store = request.param
    db_url = new_redis_store() if store == "redis" else pg_url
    made = Cluster(
        db_url,
        tmp_path,
        {
            "ROTA_LEASE_SECONDS": str(LEASE_SECONDS),
            "ROTA_SWEEP_INTERVAL": str(SWEEP_INTERVAL),
            "ROTA_POLL_INTERVAL": str(POLL_INTERVAL),
            "ROTA_STRESS_EXEC_URL": pg_url,
        },
    )
    made.store = store
    made.exec_url = pg_url
    try:
        yield made
    finally:
        made.stop_all()
        if store == "redis":
            drop_redis_store(db_url)
