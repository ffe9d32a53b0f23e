"""End to end: real server and worker processes, a real SQLite file."""

from __future__ import annotations

import random
import signal
import threading
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from tests.e2e.conftest import Procs

pytestmark = pytest.mark.slow


def test_one_worker_runs_300_tasks_in_contract_order(procs: Procs) -> None:
    procs.serve()
    rng = random.Random(7)
    priorities = [rng.choice([0, 20, 20, 50, 50, 80, 100, rng.randint(0, 100)]) for _ in range(300)]
    ids: list[str] = []
    with httpx.Client(base_url=f"{procs.url}/api/v1") as http:
        for start in range(0, 300, 50):  # batches keep submission order as enqueue order
            body = {
                "tasks": [{"kind": "record", "priority": p} for p in priorities[start : start + 50]]
            }
            response = http.post("/tasks/batch", json=body)
            assert response.status_code == 201, response.text
            ids += [t["id"] for t in response.json()["tasks"]]
    expected = [ids[i] for i in sorted(range(300), key=lambda i: (-priorities[i], i))]

    procs.worker("--concurrency", "1", "--app", "tests.e2e.recorder:registry")
    ran = procs.wait_recorded(300)

    assert ran == expected
    with httpx.Client(base_url=f"{procs.url}/api/v1") as http:
        stats = http.get("/stats").json()
        for _ in range(100):  # its claims are seen (at most one write a second)
            (worker,) = http.get("/workers").json()["workers"]  # registered at its start
            if worker["last_seen_at"] > worker["started_at"]:
                break
            threading.Event().wait(0.05)
    assert stats["states"] == {"succeeded": 300}
    assert (worker["concurrency"], worker["queues"], worker["running"]) == (1, None, [])
    assert worker["last_seen_at"] > worker["started_at"]


def test_server_sigkill_loses_no_acknowledged_submission(procs: Procs) -> None:
    server = procs.serve()
    acked: list[str] = []
    lock = threading.Lock()
    enough = threading.Event()

    def submit_until_enough(worker: int) -> None:
        with httpx.Client(base_url=f"{procs.url}/api/v1", timeout=10) as http:
            n = 0
            while not enough.is_set():
                n += 1
                body = {"kind": "noop", "id": f"w{worker}-{n}", "priority": n % 101}
                try:
                    response = http.post("/tasks", json=body)
                except httpx.TransportError:
                    return  # the server died under us: this one was never acknowledged
                if response.status_code == 201:
                    with lock:
                        acked.append(response.json()["id"])
                        if len(acked) >= 1000:
                            enough.set()

    with ThreadPoolExecutor(4) as pool:
        futures = [pool.submit(submit_until_enough, w) for w in range(4)]
        assert enough.wait(60), f"only {len(acked)} submissions acknowledged"
        server.send_signal(signal.SIGKILL)  # while the other threads are still submitting
        server.wait(10)
        for f in futures:
            f.result()

    procs.serve()
    stored: set[str] = set()
    with httpx.Client(base_url=f"{procs.url}/api/v1") as http:
        cursor = None
        while True:
            params = {"limit": 1000, **({"cursor": cursor} if cursor else {})}
            page = http.get("/tasks", params=params).json()
            stored.update(t["id"] for t in page["tasks"])
            cursor = page["next_cursor"]
            if cursor is None:
                break
    assert len(acked) >= 1000
    assert set(acked) <= stored


def test_sigterm_lets_running_tasks_finish(procs: Procs) -> None:
    procs.serve()
    with httpx.Client(base_url=f"{procs.url}/api/v1") as http:
        ids = [
            http.post("/tasks", json={"kind": "record", "payload": {"sleep": 1.0}}).json()["id"]
            for _ in range(3)
        ]
        worker = procs.worker("--concurrency", "3", "--app", "tests.e2e.recorder:registry")
        procs.wait_recorded(3)  # all three are running now
        worker.send_signal(signal.SIGTERM)
        assert worker.wait(20) == 0
        states = [http.get(f"/tasks/{i}").json()["state"] for i in ids]
    assert states == ["succeeded"] * 3


def test_sigterm_past_grace_releases_tasks_to_the_queue(procs: Procs) -> None:
    procs.serve()
    with httpx.Client(base_url=f"{procs.url}/api/v1") as http:
        ids = [
            http.post("/tasks", json={"kind": "record", "payload": {"sleep": 30}}).json()["id"]
            for _ in range(2)
        ]
        worker = procs.worker(
            "--concurrency", "2", "--grace", "0.5", "--app", "tests.e2e.recorder:registry"
        )
        procs.wait_recorded(2)
        worker.send_signal(signal.SIGTERM)
        assert worker.wait(20) == 0
        tasks = [http.get(f"/tasks/{i}").json() for i in ids]
    assert {t["state"] for t in tasks} <= {"queued", "scheduled"}
    assert all("released" in t["error"] for t in tasks)


def test_in_process_worker_shares_the_database(procs: Procs) -> None:
    procs.serve()
    with httpx.Client(base_url=f"{procs.url}/api/v1") as http:
        task = http.post("/tasks", json={"kind": "echo", "payload": {"x": 1}}).json()
        procs.worker("--in-process", "--concurrency", "2")
        for _ in range(200):
            got = http.get(f"/tasks/{task['id']}").json()
            if got["state"] == "succeeded":
                break
            threading.Event().wait(0.05)
    assert got["state"] == "succeeded"
    assert got["result"] == {"x": 1}


def test_shell_handler_only_with_allow_shell(procs: Procs) -> None:
    procs.serve()
    with httpx.Client(base_url=f"{procs.url}/api/v1") as http:
        refused = http.post(
            "/tasks", json={"kind": "shell", "payload": {"cmd": "echo hi"}, "max_attempts": 1}
        ).json()
        plain = procs.worker("--concurrency", "1")
        final = _wait_final(http, refused["id"])
        assert final["state"] == "failed"
        assert "no handler named 'shell'" in final["error"]
        plain.send_signal(signal.SIGTERM)
        plain.wait(20)

        allowed = http.post("/tasks", json={"kind": "shell", "payload": {"cmd": "echo hi"}}).json()
        procs.worker("--concurrency", "1", "--allow-shell")
        final = _wait_final(http, allowed["id"])
    assert final["state"] == "succeeded"
    assert final["result"]["stdout"] == "hi\n"


def test_cli_commands(procs: Procs) -> None:
    procs.serve()
    out = procs.cli("submit", "echo", "--payload", '{"a": 1}', "--priority", "high")
    task_id = out.split()[0]
    assert "queued" in out and "priority=80" in out
    assert task_id in procs.cli("tasks", "--state", "queued")
    detail = procs.cli("task", task_id)
    assert "enqueued" in detail and "echo" in detail
    assert "default" in procs.cli("queues")


def _wait_final(http: httpx.Client, task_id: str) -> dict[str, object]:
    for _ in range(400):
        task: dict[str, object] = http.get(f"/tasks/{task_id}").json()
        if task["state"] in ("succeeded", "failed", "canceled"):
            return task
        threading.Event().wait(0.05)
    raise AssertionError(f"task {task_id} never finished")
