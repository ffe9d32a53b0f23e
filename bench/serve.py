"""A real `rota serve` for a benchmark: a free port, ready when its health answers."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

ROTA = str(Path(sys.executable).parent / "rota")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@contextmanager
def rota_process(database_url: str) -> Iterator[tuple[str, int]]:
    """The server's URL and pid (for /proc readings); stopped with SIGTERM at the end."""
    port = free_port()
    env = {**os.environ, "ROTA_DATABASE_URL": database_url}
    proc = subprocess.Popen(
        [ROTA, "serve", "--port", str(port), "--log-level", "warning"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(400):
            try:
                if httpx.get(f"{url}/api/v1/health", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.05)
        yield url, proc.pid
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(20)
