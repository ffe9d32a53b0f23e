"""Real ``rota serve`` and ``rota worker`` processes on a SQLite file."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[2]
ROTA = str(Path(sys.executable).parent / "rota")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


class Procs:
    """Starts rota processes for one test and makes sure none outlives it."""

    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.db = f"sqlite:///{tmp / 'rota.db'}"
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.record = tmp / "record.txt"
        self.children: list[subprocess.Popen[bytes]] = []
        self.env = {
            **os.environ,
            "ROTA_DATABASE_URL": self.db,
            "ROTA_URL": self.url,
            "ROTA_TEST_RECORD": str(self.record),
            "PYTHONPATH": str(ROOT),
        }

    def spawn(self, *args: str, log: str) -> subprocess.Popen[bytes]:
        with open(self.tmp / log, "ab") as out:  # the child keeps its own copy of the fd
            proc = subprocess.Popen(
                [ROTA, *args], env=self.env, stdout=out, stderr=subprocess.STDOUT
            )
        self.children.append(proc)
        return proc

    def serve(self) -> subprocess.Popen[bytes]:
        proc = self.spawn(
            "serve", "--port", str(self.port), "--log-level", "warning", log="serve.log"
        )
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise RuntimeError(f"rota serve exited: {(self.tmp / 'serve.log').read_text()}")
            try:
                if httpx.get(f"{self.url}/api/v1/health", timeout=1).status_code == 200:
                    return proc
            except httpx.TransportError:
                pass
            time.sleep(0.05)
        raise RuntimeError("rota serve did not become healthy in 20 s")

    def worker(self, *args: str) -> subprocess.Popen[bytes]:
        return self.spawn("worker", "--log-level", "warning", *args, log="worker.log")

    def cli(self, *args: str) -> str:
        done = subprocess.run([ROTA, *args], env=self.env, capture_output=True, timeout=60)
        assert done.returncode == 0, done.stderr.decode() + done.stdout.decode()
        return done.stdout.decode()

    def recorded(self) -> list[str]:
        if not self.record.exists():
            return []
        return [line.split()[0] for line in self.record.read_text().splitlines()]

    def wait_recorded(self, n: int, timeout: float = 60) -> list[str]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            lines = self.recorded()
            if len(lines) >= n:
                return lines
            time.sleep(0.05)
        raise AssertionError(f"only {len(self.recorded())} of {n} tasks ran in {timeout} s")

    def stop_all(self) -> None:
        for proc in self.children:
            if proc.poll() is None:
                proc.send_signal(signal.SIGKILL)
            proc.wait(timeout=10)


@pytest.fixture
def procs(tmp_path: Path) -> Iterator[Procs]:
    p = Procs(tmp_path)
    try:
        yield p
    finally:
        p.stop_all()
