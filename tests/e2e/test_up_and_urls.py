"""``rota up --port N`` points its hint at that port; ``rota worker --url`` takes one server
or several to fail over between, and refuses what is not an http(s) URL."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

from rota.client import Client
from tests.e2e.conftest import ROTA, Procs, free_port


def test_up_hint_uses_its_port(tmp_path: Path) -> None:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("ROTA_")}
    env["ROTA_DATABASE_URL"] = f"sqlite:///{tmp_path / 'up.db'}"
    env["COLUMNS"] = "200"
    command = [ROTA, "up", "--port", str(port), "--no-demo"]
    out = subprocess.PIPE
    with subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT, text=True) as up:
        try:
            assert up.stdout is not None
            deadline = time.monotonic() + 30
            hint = ""
            while time.monotonic() < deadline and "submit:" not in hint:
                hint = up.stdout.readline()
        finally:
            up.send_signal(signal.SIGINT)
            up.wait(timeout=30)
    assert f"rota submit echo --payload '{{\"hi\": 1}}' --url http://127.0.0.1:{port}" in hint


def test_worker_refuses_a_url_that_is_not_one(procs: Procs) -> None:
    done = subprocess.run(
        [ROTA, "worker", "--url", "http://127.0.0.1:1,localhost:8000"],
        env={**procs.env, "COLUMNS": "300"},  # typer draws a box around the message
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode == 2
    assert "'localhost:8000' is not an http(s) URL" in done.stderr


def test_worker_fails_over_to_the_next_server(procs: Procs) -> None:
    procs.serve()
    dead = f"http://127.0.0.1:{free_port()}"
    procs.spawn("worker", "--url", f"{dead},{procs.url}", log="worker.log")
    with Client(procs.url) as client:
        task = client.submit("echo", {"n": 1})
        assert client.wait_for(task.id, timeout=30).result == {"n": 1}
    text = (procs.tmp / "worker.log").read_text()
    assert f"rota server {dead} unreachable" in text and f"trying {procs.url}" in text
