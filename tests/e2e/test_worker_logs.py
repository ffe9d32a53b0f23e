"""What a real ``rota worker`` prints with its default settings: a few lines for 10,000
tasks, one line for a failing task, and a stop line on SIGTERM; ``--log-format json``."""

from __future__ import annotations

import signal
import time

import orjson

from rota.client import Client, task_body
from rota.core.errors import RotaError
from tests.e2e.conftest import Procs

DRAIN = 10_000


def wait_for(client: Client, succeeded: int, failed: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        states = client.stats()["states"]
        if states.get("succeeded", 0) >= succeeded and states.get("failed", 0) >= failed:
            return
        time.sleep(0.2)
    raise AssertionError(f"not drained in {timeout} s: {client.stats()}")


def test_draining_10000_tasks_prints_a_few_lines_and_a_failure_one(procs: Procs) -> None:
    procs.serve()
    worker = procs.spawn("worker", log="worker.log")  # default settings, log level info
    with Client(procs.url) as client:
        for _ in range(DRAIN // 1000):
            client.submit_many([task_body("noop") for _ in range(1000)])
        bad = client.submit("no_such_kind", {"n": 1}, max_attempts=1)
        wait_for(client, DRAIN, 1, timeout=180)
    worker.send_signal(signal.SIGTERM)
    assert worker.wait(timeout=30) == 0
    lines = (procs.tmp / "worker.log").read_text().splitlines()
    text = "\n".join(lines)
    assert len(lines) <= 10, text
    assert "started" in lines[0], text
    assert "stopped (SIGTERM)" in lines[-1] and f"{DRAIN} done, 1 failed" in lines[-1], text
    (failure,) = [line for line in lines if bad.id in line]
    assert "no_such_kind" in failure and "attempt=1/1" in failure and "LookupError" in failure
    assert "HTTP Request" not in text


def test_serve_json_lines_are_all_objects(procs: Procs) -> None:
    server = procs.spawn("serve", "--port", str(procs.port), "--log-format", "json", log="s.log")
    with Client(procs.url) as client:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                client.stats()
                break
            except RotaError:
                time.sleep(0.05)
    server.send_signal(signal.SIGTERM)
    server.wait(timeout=30)  # uvicorn re-raises the signal it handled: -15
    records = [orjson.loads(line) for line in (procs.tmp / "s.log").read_text().splitlines()]
    assert records[0]["event"] == "serve.started"
    assert {"uvicorn.error", "rota.serve"} <= {r["logger"] for r in records}


def test_json_lines_for_log_shippers(procs: Procs) -> None:
    procs.serve()
    worker = procs.spawn("worker", "--log-format", "json", "--worker-id", "wj", log="wj.log")
    with Client(procs.url) as client:
        bad = client.submit("no_such_kind", {}, max_attempts=1)
        wait_for(client, 0, 1, timeout=30)
    worker.send_signal(signal.SIGINT)
    assert worker.wait(timeout=30) == 0
    records = [orjson.loads(line) for line in (procs.tmp / "wj.log").read_text().splitlines()]
    assert [r["event"] for r in records] == ["worker.started", "task.failed", "worker.stopped"]
    failed = records[1]
    assert (failed["task_id"], failed["kind"], failed["queue"]) == (
        bad.id,
        "no_such_kind",
        "default",
    )
    assert failed["level"] == "warning" and failed["attempt"] == 1
    assert records[2]["why"] == "SIGINT" and records[2]["failed"] == 1


def test_a_server_away_for_a_while_is_one_line_then_one_more(procs: Procs) -> None:
    worker = procs.spawn("worker", log="away.log")  # before its server
    time.sleep(3)  # four or five failed attempts
    procs.serve()
    with Client(procs.url) as client:
        task = client.submit("echo", {"n": 1})
        assert client.wait_for(task.id, timeout=30).result == {"n": 1}
    worker.send_signal(signal.SIGTERM)
    assert worker.wait(timeout=30) == 0
    lines = (procs.tmp / "away.log").read_text().splitlines()
    text = "\n".join(lines)
    assert len([line for line in lines if "registration failed (1 in a row" in line]) == 1, text
    assert sum("failed (" in line for line in lines) == 1, text
    assert any("claiming again after" in line for line in lines), text
    assert len(lines) == 4, text  # started, the failure, claiming again, stopped
