"""Three `rota serve` replicas on one PostgreSQL (or Redis), a schedule every second for 20
seconds, and the maintenance leader killed (SIGKILL) at second 10: exactly one task per
occurrence, none of them more than 2 s late. The replicas run at the default settings."""

from __future__ import annotations

import subprocess
import time
from datetime import datetime, timedelta

import httpx
import pytest

from tests.e2e.conftest import Procs, free_port

pytestmark = pytest.mark.slow
OCCURRENCES = 20


def healthy(url: str, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        assert proc.poll() is None, "rota serve exited"
        try:
            if httpx.get(f"{url}/api/v1/health", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.05)
    raise AssertionError(f"{url} did not become healthy")


def leader_of(replicas: dict[str, subprocess.Popen[bytes]]) -> str:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        for url, proc in replicas.items():
            if proc.poll() is None and httpx.get(f"{url}/api/v1/health").json()["leader"]:
                return url
        time.sleep(0.1)
    raise AssertionError("no replica became the leader")


@pytest.fixture(params=["postgres", "redis"])
def store_url(request: pytest.FixtureRequest) -> str:
    fixture = "pg_url" if request.param == "postgres" else "redis_store_url"
    url: str = request.getfixturevalue(fixture)
    return url


def test_one_task_per_occurrence_across_a_leader_kill(procs: Procs, store_url: str) -> None:
    procs.env["ROTA_DATABASE_URL"] = store_url
    replicas: dict[str, subprocess.Popen[bytes]] = {}
    for n in range(3):
        port = free_port()
        proc = procs.spawn("serve", "--port", str(port), "--log-level", "warning",
                           log=f"serve{n}.log")  # fmt: skip
        replicas[f"http://127.0.0.1:{port}"] = proc
    for url, proc in replicas.items():
        healthy(url, proc)
    first = next(iter(replicas))
    body = {"name": "tick", "interval": 1, "task": {"kind": "noop", "queue": "ticks"}}
    made = httpx.post(f"{first}/api/v1/schedules", json=body).json()
    start = datetime.fromisoformat(made["next_run_at"]) - timedelta(seconds=1)

    time.sleep(10)
    leader = leader_of(replicas)
    replicas[leader].kill()
    replicas[leader].wait()
    survivor = next(url for url in replicas if url != leader)
    end = start + timedelta(seconds=OCCURRENCES)
    time.sleep(max(0.0, (end - datetime.now(end.tzinfo)).total_seconds()) + 3)
    httpx.patch(f"{survivor}/api/v1/schedules/{made['id']}", json={"enabled": False})

    tasks = httpx.get(f"{survivor}/api/v1/tasks", params={"queue": "ticks", "limit": 1000})
    mine = [t for t in tasks.json()["tasks"]
            if datetime.fromisoformat(t["scheduled_for"]) <= end]  # fmt: skip
    times = sorted(datetime.fromisoformat(t["scheduled_for"]) for t in mine)
    assert times == [start + timedelta(seconds=n) for n in range(1, OCCURRENCES + 1)]
    late = {t["scheduled_for"]: (datetime.fromisoformat(t["created_at"])
                                 - datetime.fromisoformat(t["scheduled_for"])).total_seconds()
            for t in mine}  # fmt: skip
    assert max(late.values()) <= 2.0, late


def test_serve_loads_the_rankers_of_app(procs: Procs) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    app = "tests.unit.process_handlers:registry"
    proc = procs.spawn("serve", "--port", str(port), "--app", app, log="serve.log")
    healthy(url, proc)
    body = {"kind": "scan", "payload": {"items": [1, 2, 3]}, "ranker": {"name": "by_size"}}
    made = httpx.post(f"{url}/api/v1/tasks", json=body)
    assert made.status_code == 201, made.text
    assert made.json()["priority"] == 30
