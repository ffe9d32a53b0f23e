"""Redis killed and started again under load, on a server of the test's own with
``appendonly yes`` and ``appendfsync always`` (the setting docs/redis.md recommends): the
API answers 503 while Redis is down, the server and the worker reconnect by themselves, and
every acknowledged task is still there afterwards and succeeds once.

The kill is a SIGKILL (a crash: no final save); Redis replays its append-only file on start.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import redis

from tests.reliability.conftest import Rig, Row, free_port
from tests.reliability.test_db_restart import restart_under_load

pytestmark = [pytest.mark.reliability, pytest.mark.slow]


class OwnRedis:
    """A ``redis-server`` on a free port of 127.0.0.1, its data in a temporary directory."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        binary = shutil.which("redis-server")
        assert binary is not None
        args = [
            binary,
            "--bind", "127.0.0.1",
            "--port", str(self.port),
            "--dir", str(self.directory),
            "--save", "",
            "--appendonly", "yes",
            "--appendfsync", "always",
            "--maxmemory-policy", "noeviction",
        ]  # fmt: skip
        with open(self.directory / "redis.log", "ab") as log:
            self.proc = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT)
        client = redis.Redis(port=self.port, socket_connect_timeout=0.5)
        deadline = time.monotonic() + 20
        while True:
            try:
                if client.ping():
                    break
            except redis.exceptions.RedisError:
                pass  # loading the append-only file, or not listening yet
            assert time.monotonic() < deadline, "redis-server did not come up"
            time.sleep(0.02)
        client.close()

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)

    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def ensure_running(self) -> None:
        if not self.running():
            self.start()


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[OwnRedis]:
    if shutil.which("redis-server") is None:
        message = "redis-server is needed to restart a Redis of the test's own"
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI=true and {message}", pytrace=False)
        pytest.skip(message)
    data = tmp_path / "redis"
    data.mkdir()
    server = OwnRedis(data)
    server.start()
    try:
        yield server
    finally:
        if server.running():
            server.kill()


def test_redis_restart_under_load(
    own_redis: OwnRedis, tmp_path: Path, figures: Callable[[Row], None]
) -> None:
    work = tmp_path / "rig"
    work.mkdir()
    rig = Rig("redis", f"{own_redis.url}?prefix=restart", work, None)
    try:
        restart_under_load(
            rig,
            figures,
            own_redis.kill,
            own_redis.start,
            "Redis restart (appendfsync always)",
            "SIGKILL",
            own_redis.ensure_running,
        )
    except AssertionError as exc:
        raise AssertionError(f"{exc}\n{rig.logs()}") from exc
    finally:
        rig.stop_all()
